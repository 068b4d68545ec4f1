//! Reading transfer and label files: CSV in the formats people already have.
//!
//! A file's format is detected from its header; columns are found by name and
//! extra columns are ignored. Each row becomes a typed [`Transfer`] or [`Label`], or
//! an [`ImportError`] that names the file, the line, the column and what is wrong.
//! The readers are iterators, so a file of any size streams into one database
//! transaction (see `store`), and nothing is stored when any row is bad.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, address};
use rustc_hash::FxHashMap;

use crate::labels::{Category, Label};
use crate::transfer::{
    Asset, FieldError, Kind, Transfer, parse_address, parse_amount, parse_asset, parse_block,
    parse_decimal_units, parse_index, parse_timestamp, parse_tx_hash,
};

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file has no header.
    #[error("{path}: the file is empty: expected a CSV header line")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header and nothing else.
    #[error("{path}: has a header but no data rows")]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// The header does not match a known format.
    #[error("{path}:1: {detail}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        detail: String,
    },
    /// One field of one row is bad.
    #[error("{path}:{line}: column `{column}`: {problem}")]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column's name as written in the header.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// The CSV itself is malformed (wrong number of fields, bad quoting).
    #[error("{path}:{line}: malformed CSV: {problem}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What the CSV parser said.
        problem: String,
    },
}

/// The transfer file formats hoptrace reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferFormat {
    /// hoptrace's own CSV (`block,tx_hash,from,to,amount[,asset,timestamp,index,kind]`).
    Canonical,
    /// ethereum-etl `export_blocks_and_transactions` `transactions.csv`.
    EtlTransactions,
    /// ethereum-etl `export_token_transfers` `token_transfers.csv`.
    EtlTokenTransfers,
    /// Etherscan "Transactions" CSV export.
    EtherscanNormal,
    /// Etherscan "Internal Transactions" CSV export.
    EtherscanInternal,
    /// Etherscan "Token Transfers (ERC-20)" CSV export.
    EtherscanToken,
}

impl TransferFormat {
    /// The name recorded in the store's `sources` table.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferFormat::Canonical => "hoptrace-csv",
            TransferFormat::EtlTransactions => "ethereum-etl-transactions",
            TransferFormat::EtlTokenTransfers => "ethereum-etl-token-transfers",
            TransferFormat::EtherscanNormal => "etherscan-transactions",
            TransferFormat::EtherscanInternal => "etherscan-internal",
            TransferFormat::EtherscanToken => "etherscan-tokens",
        }
    }
}

impl fmt::Display for TransferFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token decimals for Etherscan token exports, which give amounts in whole tokens
/// without saying how many decimals the token has. Tokens not listed here are taken
/// to have 18, the ERC-20 default.
const KNOWN_DECIMALS: [(Address, u8); 5] = [
    (address!("dac17f958d2ee523a2206206994597c13d831ec7"), 6), // USDT
    (address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"), 6), // USDC
    (address!("2260fac5e5542a773aa44fbcfedf7c193bc2c599"), 8), // WBTC
    (address!("6b175474e89094c44da98b954eedeac495271d0f"), 18), // DAI
    (address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"), 18), // WETH
];

fn token_decimals(token: &Address) -> u8 {
    KNOWN_DECIMALS
        .iter()
        .find(|(a, _)| a == token)
        .map(|(_, d)| *d)
        .unwrap_or(18)
}

/// Lowercase, without spaces, quotes or a byte-order mark: the form headers are
/// matched in.
fn normalize(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The columns of one header, by normalized name.
struct Header {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
}

impl Header {
    fn new(raw: &csv::ByteRecord, path: &Path) -> Result<Header, ImportError> {
        let mut names = Vec::with_capacity(raw.len());
        let mut by_name = HashMap::new();
        for (i, field) in raw.iter().enumerate() {
            let name = std::str::from_utf8(field).map_err(|_| ImportError::Header {
                path: path.to_path_buf(),
                detail: format!("column {} of the header is not valid UTF-8", i + 1),
            })?;
            let name = name.trim_start_matches('\u{feff}').trim().to_string();
            by_name.entry(normalize(&name)).or_insert(i);
            names.push(name);
        }
        Ok(Header { names, by_name })
    }

    fn find(&self, candidates: &[&str]) -> Option<usize> {
        candidates
            .iter()
            .find_map(|c| self.by_name.get(*c).copied())
    }

    fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.by_name.contains_key(*n))
    }
}

/// Opens a CSV file for reading rows as bytes; checks that it has a header.
fn open_csv(path: &Path) -> Result<(csv::Reader<BufReader<File>>, Header), ImportError> {
    let file = File::open(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let raw = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .clone();
    if raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
        return Err(ImportError::Empty {
            path: path.to_path_buf(),
        });
    }
    let header = Header::new(&raw, path)?;
    Ok((reader, header))
}

fn csv_error(path: &Path, e: &csv::Error) -> ImportError {
    match e.kind() {
        csv::ErrorKind::Io(io) => ImportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        _ => ImportError::Csv {
            path: path.to_path_buf(),
            line: e.position().map(|p| line_at(path, p.byte())).unwrap_or(0),
            problem: e.to_string(),
        },
    }
}

/// The 1-based line number of the record that starts at byte `byte` of `path`.
///
/// The csv crate's own line count is off by one after CRLF line endings and after
/// blank lines, so errors count the newlines themselves; this runs only when an
/// error is reported. A record's start may be reported at the line break before it:
/// line breaks at `byte` are skipped first.
fn line_at(path: &Path, byte: u64) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut prefix = Vec::new();
    if file.take(byte + 4096).read_to_end(&mut prefix).is_err() {
        return 0;
    }
    line_in(&prefix, byte)
}

/// The 1-based line number of the record that starts at byte `byte` of `text` (see
/// [`line_at`]: line breaks at `byte` are skipped first).
pub(crate) fn line_in(text: &[u8], byte: u64) -> u64 {
    let mut at = (byte as usize).min(text.len());
    while at < text.len() && (text[at] == b'\n' || text[at] == b'\r') {
        at += 1;
    }
    1 + text[..at].iter().filter(|&&b| b == b'\n').count() as u64
}

/// One row being read: gives typed fields or errors that name the place.
struct Row<'a> {
    record: &'a csv::ByteRecord,
    header: &'a Header,
    path: &'a Path,
    /// Byte offset of the record, for the line number of an error.
    byte: u64,
}

impl Row<'_> {
    fn error(&self, col: usize, problem: impl Into<String>) -> ImportError {
        ImportError::Field {
            path: self.path.to_path_buf(),
            line: line_at(self.path, self.byte),
            column: self.header.names[col].clone(),
            problem: problem.into(),
        }
    }

    fn text(&self, col: usize) -> Result<&str, ImportError> {
        let raw = self.record.get(col).unwrap_or(b"");
        std::str::from_utf8(raw).map_err(|_| self.error(col, "is not valid UTF-8"))
    }

    fn parse<T>(
        &self,
        col: usize,
        f: impl Fn(&str) -> Result<T, FieldError>,
    ) -> Result<T, ImportError> {
        let text = self.text(col)?;
        f(text).map_err(|e| self.error(col, e.0))
    }

    /// `None` when the column is absent or the cell is empty.
    fn optional<T>(
        &self,
        col: Option<usize>,
        f: impl Fn(&str) -> Result<T, FieldError>,
    ) -> Result<Option<T>, ImportError> {
        match col {
            Some(c) if !self.text(c)?.trim().is_empty() => self.parse(c, f).map(Some),
            _ => Ok(None),
        }
    }
}

/// How a format's columns map onto a transfer.
struct Layout {
    format: TransferFormat,
    block: usize,
    tx_hash: usize,
    from: usize,
    to: usize,
    /// Where the receiver is when `to` is empty (contract creation).
    created: Option<usize>,
    amount: usize,
    /// A second amount column (Etherscan's `Value_OUT`), used when the first is 0.
    amount_alt: Option<usize>,
    asset: Option<usize>,
    timestamp: Option<usize>,
    index: Option<usize>,
    kind: Option<usize>,
    /// A column whose non-empty, non-success value marks a failed transaction.
    status: Option<usize>,
    error_code: Option<usize>,
}

const CANONICAL_REQUIRED: [&str; 5] = ["block", "tx_hash", "from", "to", "amount"];

fn detect(header: &Header, path: &Path) -> Result<Layout, ImportError> {
    let h = header;
    let col = |names: &[&str]| h.find(names);
    let req = |names: &[&str]| h.find(names).expect("checked by has_all");
    let mut layout = if h.has_all(&CANONICAL_REQUIRED) {
        Layout {
            format: TransferFormat::Canonical,
            block: req(&["block"]),
            tx_hash: req(&["tx_hash"]),
            from: req(&["from"]),
            to: req(&["to"]),
            created: None,
            amount: req(&["amount"]),
            amount_alt: None,
            asset: col(&["asset"]),
            timestamp: col(&["timestamp"]),
            index: col(&["index"]),
            kind: col(&["kind"]),
            status: None,
            error_code: None,
        }
    } else if h.has_all(&[
        "hash",
        "block_number",
        "from_address",
        "to_address",
        "value",
    ]) {
        Layout {
            format: TransferFormat::EtlTransactions,
            block: req(&["block_number"]),
            tx_hash: req(&["hash"]),
            from: req(&["from_address"]),
            to: req(&["to_address"]),
            created: col(&["receipt_contract_address"]),
            amount: req(&["value"]),
            amount_alt: None,
            asset: None,
            timestamp: col(&["block_timestamp"]),
            index: None,
            kind: None,
            status: col(&["receipt_status"]),
            error_code: None,
        }
    } else if h.has_all(&[
        "token_address",
        "from_address",
        "to_address",
        "value",
        "transaction_hash",
        "log_index",
        "block_number",
    ]) {
        Layout {
            format: TransferFormat::EtlTokenTransfers,
            block: req(&["block_number"]),
            tx_hash: req(&["transaction_hash"]),
            from: req(&["from_address"]),
            to: req(&["to_address"]),
            created: None,
            amount: req(&["value"]),
            amount_alt: None,
            asset: col(&["token_address"]),
            timestamp: col(&["block_timestamp"]),
            index: col(&["log_index"]),
            kind: None,
            status: None,
            error_code: None,
        }
    } else if let (Some(tx), Some(block), Some(from)) = (
        col(&["txhash", "transactionhash"]),
        col(&["blockno", "blocknumber"]),
        col(&["from"]),
    ) {
        let to = col(&["to", "txto"]);
        let token_amount = col(&["tokenvalue", "quantity", "value"]);
        let (format, amount, amount_alt) = if h.by_name.contains_key("parenttxfrom") {
            (
                TransferFormat::EtherscanInternal,
                col(&["value_in(eth)"]),
                col(&["value_out(eth)"]),
            )
        } else if h.by_name.contains_key("value_in(eth)") {
            (
                TransferFormat::EtherscanNormal,
                col(&["value_in(eth)"]),
                col(&["value_out(eth)"]),
            )
        } else {
            (TransferFormat::EtherscanToken, token_amount, None)
        };
        let (Some(to), Some(amount)) = (to, amount) else {
            return Err(ImportError::Header {
                path: path.to_path_buf(),
                detail: "looks like an Etherscan export but lacks its `To` or value column".into(),
            });
        };
        let contract = col(&["contractaddress"]);
        Layout {
            format,
            block,
            tx_hash: tx,
            from,
            to,
            created: if format == TransferFormat::EtherscanToken {
                None
            } else {
                contract
            },
            amount,
            amount_alt,
            asset: if format == TransferFormat::EtherscanToken {
                contract
            } else {
                None
            },
            timestamp: col(&["unixtimestamp"]),
            index: None,
            kind: None,
            status: col(&["status"]),
            error_code: col(&["errcode"]),
        }
    } else {
        let missing: Vec<&str> = CANONICAL_REQUIRED
            .iter()
            .copied()
            .filter(|c| !h.by_name.contains_key(*c))
            .collect();
        return Err(ImportError::Header {
            path: path.to_path_buf(),
            detail: format!(
                "missing required column(s) {}: a transfer CSV needs block,tx_hash,from,to,amount \
                 (or must be an ethereum-etl or Etherscan export)",
                missing.join(", ")
            ),
        });
    };
    if layout.format == TransferFormat::EtherscanToken && layout.asset.is_none() {
        return Err(ImportError::Header {
            path: path.to_path_buf(),
            detail: "Etherscan token export without a ContractAddress column".into(),
        });
    }
    if layout.format == TransferFormat::EtlTokenTransfers {
        layout.kind = None;
    }
    Ok(layout)
}

impl Layout {
    fn default_kind(&self) -> Kind {
        match self.format {
            TransferFormat::Canonical
            | TransferFormat::EtlTransactions
            | TransferFormat::EtherscanNormal => Kind::Native,
            TransferFormat::EtherscanInternal => Kind::Internal,
            TransferFormat::EtlTokenTransfers | TransferFormat::EtherscanToken => Kind::Erc20,
        }
    }

    /// A failed transaction moves nothing: such rows are skipped (and counted).
    fn failed(&self, row: &Row<'_>) -> Result<bool, ImportError> {
        if let Some(c) = self.status {
            let s = row.text(c)?.trim().to_ascii_lowercase();
            let failed = match self.format {
                // receipt_status: 1 success, 0 failure.
                TransferFormat::EtlTransactions => s == "0",
                // isError: 0 success, 1 error.
                TransferFormat::EtherscanInternal => s == "1" || s.contains("error"),
                // "" for success, "Error(0)" and the like for failure.
                _ => s.contains("error") || s.contains("fail"),
            };
            if failed {
                return Ok(true);
            }
        }
        if let Some(c) = self.error_code
            && !row.text(c)?.trim().is_empty()
        {
            return Ok(true);
        }
        Ok(false)
    }

    /// Parses a row. The index is left for the caller when the format has none.
    fn parse(&self, row: &Row<'_>) -> Result<Parsed, ImportError> {
        if self.failed(row)? {
            return Ok(Parsed::Failed);
        }
        let no_receiver = row.text(self.to)?.trim().is_empty()
            && self
                .created
                .map(|c| row.text(c).map(|t| t.trim().is_empty()))
                .transpose()?
                .unwrap_or(true);
        if no_receiver && self.format != TransferFormat::Canonical {
            return Ok(Parsed::NoReceiver);
        }
        let block = row.parse(self.block, parse_block)?;
        let tx_hash = row.parse(self.tx_hash, parse_tx_hash)?;
        let from = row.parse(self.from, parse_address)?;
        let to = match (row.text(self.to)?.trim().is_empty(), self.created) {
            (true, Some(created)) if !row.text(created)?.trim().is_empty() => {
                row.parse(created, parse_address)?
            }
            _ => row.parse(self.to, parse_address)?,
        };
        let asset = match self.asset {
            Some(c) => row.parse(c, parse_asset)?,
            None => Asset::Eth,
        };
        let amount = match self.format {
            TransferFormat::Canonical
            | TransferFormat::EtlTransactions
            | TransferFormat::EtlTokenTransfers => row.parse(self.amount, parse_amount)?,
            TransferFormat::EtherscanNormal | TransferFormat::EtherscanInternal => {
                let first = row.parse(self.amount, |s| parse_decimal_units(s, 18))?;
                match self.amount_alt {
                    Some(alt) if first.is_zero() => {
                        row.parse(alt, |s| parse_decimal_units(s, 18))?
                    }
                    _ => first,
                }
            }
            TransferFormat::EtherscanToken => {
                let decimals = match asset {
                    Asset::Token(t) => token_decimals(&t),
                    Asset::Eth => 18,
                };
                row.parse(self.amount, |s| parse_decimal_units(s, decimals))?
            }
        };
        let timestamp = row.optional(self.timestamp, parse_timestamp)?;
        let kind = row
            .optional(self.kind, |s| s.parse::<Kind>())?
            .unwrap_or_else(|| match (self.format, asset) {
                (TransferFormat::Canonical, Asset::Token(_)) => Kind::Erc20,
                _ => self.default_kind(),
            });
        let index = row.optional(self.index, parse_index)?;
        let transfer = Transfer {
            block,
            timestamp,
            tx_hash,
            kind,
            index: index.unwrap_or(0),
            from,
            to,
            asset,
            amount,
        };
        Ok(Parsed::Transfer(transfer, index.is_some()))
    }
}

/// What one row gave.
enum Parsed {
    /// A transfer, and whether the row gave its index.
    Transfer(Transfer, bool),
    /// A failed transaction: it moved nothing.
    Failed,
    /// A contract creation whose new address the export does not give.
    NoReceiver,
}

/// Reads the transfers of one file, row by row.
pub struct TransferReader {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    header: Header,
    layout: Layout,
    record: csv::ByteRecord,
    /// Next index per `(tx_hash, kind)` for rows without an index column.
    /// Memory: about 48 bytes per distinct transaction of the file.
    next_index: FxHashMap<(B256, Kind), u32>,
    rows: u64,
    skipped_failed: u64,
    skipped_no_receiver: u64,
    total_bytes: u64,
}

impl TransferReader {
    /// Opens `path` and detects its format from the header.
    pub fn open(path: &Path) -> Result<TransferReader, ImportError> {
        let total_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let (reader, header) = open_csv(path)?;
        let layout = detect(&header, path)?;
        Ok(TransferReader {
            path: path.to_path_buf(),
            reader,
            header,
            layout,
            record: csv::ByteRecord::new(),
            next_index: FxHashMap::default(),
            rows: 0,
            skipped_failed: 0,
            skipped_no_receiver: 0,
            total_bytes,
        })
    }

    /// The detected format.
    pub fn format(&self) -> TransferFormat {
        self.layout.format
    }

    /// Data rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows skipped because they record a failed transaction.
    pub fn skipped_failed(&self) -> u64 {
        self.skipped_failed
    }

    /// Rows skipped because they create a contract whose address the file lacks.
    pub fn skipped_no_receiver(&self) -> u64 {
        self.skipped_no_receiver
    }

    /// Bytes read so far and the file's size, for progress.
    pub fn progress(&self) -> (u64, u64) {
        (self.reader.position().byte(), self.total_bytes)
    }

    /// The next transfer, `Ok(None)` at the end of the file.
    pub fn next_transfer(&mut self) -> Result<Option<Transfer>, ImportError> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, &e))?;
            if !more {
                if self.rows == 0 {
                    return Err(ImportError::NoRows {
                        path: self.path.clone(),
                    });
                }
                return Ok(None);
            }
            self.rows += 1;
            let byte = self.record.position().map(|p| p.byte()).unwrap_or(0);
            let row = Row {
                record: &self.record,
                header: &self.header,
                path: &self.path,
                byte,
            };
            match self.layout.parse(&row)? {
                Parsed::Failed => self.skipped_failed += 1,
                Parsed::NoReceiver => self.skipped_no_receiver += 1,
                Parsed::Transfer(mut transfer, has_index) => {
                    if !has_index {
                        let next = self
                            .next_index
                            .entry((transfer.tx_hash, transfer.kind))
                            .or_insert(0);
                        transfer.index = *next;
                        *next += 1;
                    }
                    return Ok(Some(transfer));
                }
            }
        }
    }
}

/// Reads every label of a label CSV (`address,category[,name,source,since_block]`).
/// The `source` column names the list; when absent, `default_list` is used.
pub fn read_labels(path: &Path, default_list: &str) -> Result<Vec<Label>, ImportError> {
    let (mut reader, header) = open_csv(path)?;
    let (Some(address), Some(category)) = (header.find(&["address"]), header.find(&["category"]))
    else {
        let missing: Vec<&str> = ["address", "category"]
            .into_iter()
            .filter(|c| !header.by_name.contains_key(*c))
            .collect();
        return Err(ImportError::Header {
            path: path.to_path_buf(),
            detail: format!(
                "missing required column(s) {}: a label CSV needs address,category",
                missing.join(", ")
            ),
        });
    };
    let name = header.find(&["name"]);
    let source = header.find(&["source", "list"]);
    let since = header.find(&["since_block"]);
    let version = header.find(&["version", "list_version"]);
    let tag = header.find(&["tag"]);
    let uid = header.find(&["uid"]);
    let program = header.find(&["program"]);
    let since_date = header.find(&["since_date"]);
    let mut labels = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let row = Row {
            record: &record,
            header: &header,
            path,
            byte: record.position().map(|p| p.byte()).unwrap_or(0),
        };
        let text = |c: Option<usize>| -> Result<Option<String>, ImportError> {
            row.optional(c, |s| Ok(s.trim().to_string()))
        };
        labels.push(Label {
            address: row.parse(address, parse_address)?,
            category: row.parse(category, |s| s.parse::<Category>())?,
            name: text(name)?,
            list: text(source)?.unwrap_or_else(|| default_list.to_string()),
            since_block: row.optional(since, parse_block)?,
            version: text(version)?.unwrap_or_default(),
            tag: text(tag)?,
            uid: text(uid)?,
            program: text(program)?,
            since_date: row.optional(since_date, crate::labels::parse_date)?,
        });
    }
    if labels.is_empty() {
        return Err(ImportError::NoRows {
            path: path.to_path_buf(),
        });
    }
    Ok(labels)
}

/// A wallet list: its header, and per row its fields and parsed address.
pub type Wallets = (Vec<String>, Vec<(Vec<String>, Address)>);

/// Reads the `address` column of a wallet list for `score`, keeping every row's
/// other fields.
pub fn read_wallets(path: &Path) -> Result<Wallets, ImportError> {
    let (mut reader, header) = open_csv(path)?;
    let Some(address) = header.find(&["address"]) else {
        return Err(ImportError::Header {
            path: path.to_path_buf(),
            detail: "missing required column address".into(),
        });
    };
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let row = Row {
            record: &record,
            header: &header,
            path,
            byte: record.position().map(|p| p.byte()).unwrap_or(0),
        };
        let fields = (0..record.len())
            .map(|c| row.text(c).map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        let parsed = row.parse(address, parse_address)?;
        rows.push((fields, parsed));
    }
    Ok((header.names.clone(), rows))
}

/// Reads a whole file and returns its SHA-256, hex: the identity of a source, so
/// that importing the same file twice is recognised.
pub fn file_digest(path: &Path) -> Result<String, ImportError> {
    use sha2::{Digest, Sha256};
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
