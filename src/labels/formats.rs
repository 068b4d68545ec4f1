//! Readers for the label formats the field uses, each turning one file into
//! [`Label`] values with their provenance (list, version, original tag, entity,
//! uid, program).
//!
//! Every reader is a pure function of the file's text, so it can be tested without a
//! database; `import labels` stores what one file gives in one transaction. Entries
//! that are not for an EVM chain (Bitcoin, Tron, ... addresses) are *skipped and
//! counted* by reason, never dropped silently; a value that claims to be an EVM
//! address and is not is an *error* naming the file and the line or field.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use alloy_primitives::Address;

use super::{Category, Label, taxonomy};
use crate::import::{ImportError, line_in};
use crate::transfer::parse_address;

/// Errors from reading a label file.
#[derive(Debug, thiserror::Error)]
pub enum LabelFileError {
    /// A CSV problem (hoptrace CSV, tutela, `sdn.csv`), with line and column.
    #[error(transparent)]
    Csv(#[from] ImportError),
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed JSON, XML or YAML.
    #[error("{path}:{line}: malformed {syntax}: {problem}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the parser gives none).
        line: u64,
        /// JSON, XML or YAML.
        syntax: &'static str,
        /// What the parser said.
        problem: String,
    },
    /// One entry is bad.
    #[error("{path}:{at}: field `{field}`: {problem}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// Where: a line number, or the entry's key or index.
        at: String,
        /// The field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The file's shape is not the format it was read as.
    #[error("{path}: {detail}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing or unexpected.
        detail: String,
    },
}

/// The label file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFormat {
    /// hoptrace CSV: `address,category[,name,source,since_block,version,tag,uid,program,since_date]`.
    Csv,
    /// OFAC SDN addresses as JSON keyed by address (thomasgregg/crypto-sanctions-list).
    OfacJson,
    /// OFAC's own `SDN.XML`.
    SdnXml,
    /// OFAC's own `SDN_ADVANCED.XML` (`<Sanctions>`, the advanced schema).
    SdnAdvancedXml,
    /// OFAC's own `sdn.csv` (addresses in the remarks column).
    SdnCsv,
    /// One address per line (`.txt`), a JSON array of addresses, or a CSV with an
    /// `address` column and no `category` (needs `--category`).
    AddressList,
    /// GraphSense TagPack YAML.
    Tagpack,
    /// Etherscan label set: JSON `{address: {name, labels[]}}` (brianleect/etherscan-labels).
    EtherscanJson,
    /// tutela `known_addresses.csv`.
    Tutela,
    /// Etherscan label CSV: a per-label scrape (`,Address,Name Tag,...`; the label
    /// is the file's name, e.g. `binance.csv`) or a table with a `family` column
    /// holding the label (`etherscan_tags.csv`).
    EtherscanCsv,
}

impl LabelFormat {
    /// The name stored with the source and shown in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFormat::Csv => "hoptrace-labels-csv",
            LabelFormat::OfacJson => "ofac-json",
            LabelFormat::SdnXml => "ofac-sdn-xml",
            LabelFormat::SdnAdvancedXml => "ofac-sdn-advanced-xml",
            LabelFormat::SdnCsv => "ofac-sdn-csv",
            LabelFormat::AddressList => "address-list",
            LabelFormat::Tagpack => "graphsense-tagpack",
            LabelFormat::EtherscanJson => "etherscan-labels-json",
            LabelFormat::Tutela => "tutela-known-addresses",
            LabelFormat::EtherscanCsv => "etherscan-labels-csv",
        }
    }
}

/// What the caller says about a file (from `--list`, `--version`, `--category`).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The list name; else the format's own default (see [`default_list`]).
    pub list: Option<String>,
    /// The list's version or date; else what the file says, else empty.
    pub version: Option<String>,
    /// The category of an address list (which carries none).
    pub category: Option<Category>,
    /// A `since_block` for every label that has none.
    pub since_block: Option<u32>,
    /// A `since_date` (canonical, see [`super::parse_date`]) for every label that
    /// has neither a date nor a block.
    pub since_date: Option<String>,
}

/// The labels of one file and what was left out.
#[derive(Debug, Clone, Default)]
pub struct LabelRead {
    /// The labels, one per (address, category) for the list and version.
    pub labels: Vec<Label>,
    /// The list name used.
    pub list: String,
    /// The version used (empty when unknown).
    pub version: String,
    /// Entries skipped, counted by reason (`non-EVM currency XBT`, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Original tags that mapped onto no category (stored as `other`), with counts.
    pub unmapped: BTreeMap<String, u64>,
}

impl LabelRead {
    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    /// Adds a label, mapping `None` to `other` and counting its tag as unmapped.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        address: Address,
        category: Option<Category>,
        tag: Option<String>,
        name: Option<String>,
        uid: Option<String>,
        program: Option<String>,
    ) {
        let category = category.unwrap_or_else(|| {
            let key = tag.clone().unwrap_or_else(|| "(no tag)".into());
            *self.unmapped.entry(key).or_default() += 1;
            Category::Other
        });
        self.labels.push(Label {
            address,
            category,
            name,
            list: self.list.clone(),
            version: self.version.clone(),
            tag,
            uid,
            program,
            ..Label::default()
        });
    }
}

/// The list name a format gives its labels when `--list` is not given.
pub fn default_list(format: LabelFormat, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match format {
        LabelFormat::OfacJson
        | LabelFormat::SdnXml
        | LabelFormat::SdnAdvancedXml
        | LabelFormat::SdnCsv => "ofac-sdn".into(),
        LabelFormat::Tagpack => format!("graphsense-{stem}"),
        LabelFormat::EtherscanJson | LabelFormat::EtherscanCsv => "etherscan-labels".into(),
        LabelFormat::Tutela => "tutela-known-addresses".into(),
        LabelFormat::Csv | LabelFormat::AddressList => stem,
    }
}

/// Opens a label CSV held in memory and reads its header.
fn csv_with_header<'a>(
    path: &Path,
    text: &'a str,
) -> Result<(csv::Reader<&'a [u8]>, csv::StringRecord), LabelFileError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Csv {
            path: path.to_path_buf(),
            line: 1,
            problem: e.to_string(),
        })?
        .clone();
    Ok((reader, headers))
}

/// The position of the column named `name` (any case, spaces around ignored).
fn column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

/// Where a record of a label CSV starts; shown as its line number, counted from its
/// byte offset in the file only when shown (the csv crate's own count is off after
/// CRLF endings and blank lines).
#[derive(Clone, Copy)]
struct CsvLine<'a> {
    text: &'a [u8],
    byte: u64,
}

impl std::fmt::Display for CsvLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", line_in(self.text, self.byte))
    }
}

/// A record of a label CSV with where it starts.
fn csv_record<'a>(
    path: &Path,
    text: &'a str,
    record: csv::Result<csv::StringRecord>,
) -> Result<(csv::StringRecord, CsvLine<'a>), LabelFileError> {
    let record = record.map_err(|e| ImportError::Csv {
        path: path.to_path_buf(),
        line: e
            .position()
            .map(|p| line_in(text.as_bytes(), p.byte()))
            .unwrap_or(0),
        problem: e.to_string(),
    })?;
    let line = CsvLine {
        text: text.as_bytes(),
        byte: record.position().map(|p| p.byte()).unwrap_or(0),
    };
    Ok((record, line))
}

fn read_text(path: &Path) -> Result<String, LabelFileError> {
    let bytes = std::fs::read(path).map_err(|source| LabelFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| LabelFileError::Syntax {
        path: path.to_path_buf(),
        line: 0,
        syntax: "UTF-8",
        problem: format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

/// Detects a file's format from its name and first bytes.
pub fn detect(path: &Path) -> Result<LabelFormat, LabelFileError> {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let shape = |detail: String| LabelFileError::Shape {
        path: path.to_path_buf(),
        detail,
    };
    let head = {
        use std::io::Read;
        let mut buf = vec![0u8; 4096];
        let mut f = std::fs::File::open(path).map_err(|source| LabelFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let n = f.read(&mut buf).map_err(|source| LabelFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        buf.truncate(n);
        String::from_utf8_lossy(&buf).into_owned()
    };
    let first_line = head
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches('\u{feff}');
    match ext {
        "yaml" | "yml" => Ok(LabelFormat::Tagpack),
        "txt" => Ok(LabelFormat::AddressList),
        "xml" => {
            if head.contains("<sdnList") {
                Ok(LabelFormat::SdnXml)
            } else if head.contains("<Sanctions") {
                Ok(LabelFormat::SdnAdvancedXml)
            } else {
                Err(shape(
                    "XML without an <sdnList> (SDN.XML) or <Sanctions> (SDN_ADVANCED.XML) root"
                        .into(),
                ))
            }
        }
        "json" => {
            let t = head.trim_start();
            if t.starts_with('[') {
                Ok(LabelFormat::AddressList)
            } else if head.contains("\"metadata\"") || head.contains("\"sdnListDate\"") {
                Ok(LabelFormat::OfacJson)
            } else if head.contains("\"labels\"") {
                Ok(LabelFormat::EtherscanJson)
            } else {
                Err(shape(
                    "JSON that is neither an OFAC address list (metadata, addresses), an \
                     Etherscan label set ({address: {name, labels}}) nor an address array; \
                     give --format"
                        .into(),
                ))
            }
        }
        "csv" => {
            let cols: Vec<String> = first_line
                .split(',')
                .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
                .collect();
            let has = |c: &str| cols.iter().any(|x| x == c);
            if has("address") && has("category") {
                Ok(LabelFormat::Csv)
            } else if has("address") && has("entity") && has("legitimacy") {
                Ok(LabelFormat::Tutela)
            } else if has("address") && (has("name tag") || has("family")) {
                Ok(LabelFormat::EtherscanCsv)
            } else if has("address") {
                Ok(LabelFormat::AddressList)
            } else if name == "sdn.csv"
                || cols.len() == 12 && cols[0].chars().all(|c| c.is_ascii_digit())
            {
                Ok(LabelFormat::SdnCsv)
            } else {
                Err(shape(format!(
                    "cannot tell the label format from the header {first_line:?}; give --format"
                )))
            }
        }
        _ => Err(shape(format!(
            "cannot tell the label format from the file name {name:?}; give --format"
        ))),
    }
}

/// Reads one label file in `format`.
pub fn read(
    path: &Path,
    format: LabelFormat,
    options: &ReadOptions,
) -> Result<LabelRead, LabelFileError> {
    let mut out = LabelRead {
        list: options
            .list
            .clone()
            .unwrap_or_else(|| default_list(format, path)),
        version: options.version.clone().unwrap_or_default(),
        ..LabelRead::default()
    };
    match format {
        LabelFormat::Csv => {
            let mut labels = crate::import::read_labels(path, &out.list)?;
            if let Some(v) = &options.version {
                for l in &mut labels {
                    if l.version.is_empty() {
                        l.version = v.clone();
                    }
                }
            }
            out.labels = labels;
        }
        LabelFormat::OfacJson => read_ofac_json(path, &read_text(path)?, options, &mut out)?,
        LabelFormat::SdnXml => read_sdn_xml(path, &read_text(path)?, options, &mut out)?,
        LabelFormat::SdnAdvancedXml => {
            read_sdn_advanced_xml(path, &read_text(path)?, options, &mut out)?
        }
        LabelFormat::SdnCsv => read_sdn_csv(path, &mut out)?,
        LabelFormat::AddressList => read_address_list(path, options, &mut out)?,
        LabelFormat::Tagpack => read_tagpack(path, &read_text(path)?, options, &mut out)?,
        LabelFormat::EtherscanJson => read_etherscan_json(path, &read_text(path)?, &mut out)?,
        LabelFormat::Tutela => read_tutela(path, &mut out)?,
        LabelFormat::EtherscanCsv => read_etherscan_csv(path, &mut out)?,
    }
    for l in &mut out.labels {
        if l.since_block.is_none() {
            l.since_block = options.since_block;
        }
        if l.since_block.is_none() && l.since_date.is_none() {
            l.since_date = options.since_date.clone();
        }
    }
    if out.labels.is_empty() {
        return Err(LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: format!(
                "no EVM label in the file{}",
                if out.skipped.is_empty() {
                    String::new()
                } else {
                    format!(" (skipped: {})", summary(&out.skipped))
                }
            ),
        });
    }
    Ok(out)
}

/// `reason (count), ...`, largest first.
pub fn summary(counts: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `0x` + 40 hex digits, any case (checksums are checked by [`parse_address`]).
fn looks_evm(s: &str) -> bool {
    let t = s.trim();
    t.len() == 42
        && (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Currencies whose addresses are always EVM addresses: a value of one of these that
/// is not `0x` + 40 hex is an error. Tokens that live on several chains (USDT,
/// USDC) are taken when their address is an EVM one and skipped otherwise.
const EVM_ONLY: [&str; 11] = [
    "ETH", "ETC", "ARB", "BSC", "BEP20", "MATIC", "POL", "OP", "BASE", "AVAXC", "FTM",
];
const MULTI_CHAIN: [&str; 6] = ["USDT", "USDC", "DAI", "BUSD", "AVAX", "BNB"];

/// What to do with an address of `currency`.
enum Take {
    Yes(Address),
    Skip(String),
}

fn take(currency: &str, value: &str) -> Result<Take, String> {
    let c = currency.trim().to_ascii_uppercase();
    let evm_only = EVM_ONLY.contains(&c.as_str());
    if looks_evm(value) && (evm_only || MULTI_CHAIN.contains(&c.as_str())) {
        return parse_address(&value.trim().to_ascii_lowercase())
            .map(Take::Yes)
            .map_err(|e| e.0);
    }
    if evm_only {
        return Err(format!(
            "{value:?} is not an EVM address (0x + 40 hex digits) but its currency is {c}"
        ));
    }
    Ok(Take::Skip(format!("non-EVM currency {c}")))
}

/// OFAC's `"Digital Currency Address - ETH"` → `ETH`.
fn ofac_currency(id_type: &str) -> Option<&str> {
    id_type
        .trim()
        .strip_prefix("Digital Currency Address - ")
        .map(str::trim)
}

fn join_distinct(values: impl IntoIterator<Item = String>) -> Option<String> {
    let set: BTreeSet<String> = values
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join("; "))
}

/// One SDN entry's digital-currency address, before merging per address.
#[derive(Debug, Clone)]
struct SdnAddress {
    address: Address,
    id_type: String,
    entity: String,
    uid: String,
    program: String,
}

/// Merges SDN addresses into one `sanctioned` label per address (an address can be
/// listed under several currencies or entities; their tags, uids, entities and
/// programs are joined with `; `).
fn push_sdn(out: &mut LabelRead, entries: Vec<SdnAddress>) {
    let mut by_address: BTreeMap<Address, Vec<SdnAddress>> = BTreeMap::new();
    for e in entries {
        by_address.entry(e.address).or_default().push(e);
    }
    for (address, es) in by_address {
        out.push(
            address,
            Some(Category::Sanctioned),
            join_distinct(es.iter().map(|e| e.id_type.clone())),
            join_distinct(es.iter().map(|e| e.entity.clone())),
            join_distinct(es.iter().map(|e| e.uid.clone())),
            join_distinct(es.iter().map(|e| e.program.clone())),
        );
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> LabelFileError {
    LabelFileError::Syntax {
        path: path.to_path_buf(),
        line: e.line() as u64,
        syntax: "JSON",
        problem: e.to_string(),
    }
}

fn read_ofac_json(
    path: &Path,
    text: &str,
    options: &ReadOptions,
    out: &mut LabelRead,
) -> Result<(), LabelFileError> {
    use serde_json::Value;
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    let shape = |detail: &str| LabelFileError::Shape {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    if options.version.is_none()
        && let Some(date) = doc.pointer("/metadata/sdnListDate").and_then(Value::as_str)
    {
        out.version = super::parse_date(date).map_err(|e| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: "metadata".into(),
            field: "sdnListDate".into(),
            problem: e.0,
        })?;
    }
    let addresses = doc
        .get("addresses")
        .and_then(Value::as_object)
        .ok_or_else(|| shape("no `addresses` object"))?;
    let mut entries = Vec::new();
    for (key, value) in addresses {
        let at = format!("addresses[{key:?}]");
        let entry = |field: &str, problem: String| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: at.clone(),
            field: field.into(),
            problem,
        };
        let list = value
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| entry("entries", "missing or not a list".into()))?;
        for e in list {
            let s = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            let id_type = match s("type") {
                t if t.is_empty() => value
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                t => t,
            };
            let Some(currency) = ofac_currency(&id_type) else {
                out.skip(format!("not a digital currency address: {id_type:?}"));
                continue;
            };
            match take(currency, key).map_err(|p| entry("type", p))? {
                Take::Skip(reason) => out.skip(reason),
                Take::Yes(address) => entries.push(SdnAddress {
                    address,
                    id_type: id_type.clone(),
                    entity: s("entity"),
                    uid: s("uid"),
                    program: s("program"),
                }),
            }
        }
    }
    push_sdn(out, entries);
    Ok(())
}

/// The 1-based line of byte `pos` in `text`.
fn line_at(text: &str, pos: usize) -> u64 {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

/// OFAC `SDN.XML`: `<sdnList><publshInformation><Publish_Date>` and per
/// `<sdnEntry>`: `uid`, `lastName` (and `firstName`), `programList/program`, and
/// `idList/id` with `idType` "Digital Currency Address - XXX" and `idNumber`.
fn read_sdn_xml(
    path: &Path,
    text: &str,
    options: &ReadOptions,
    out: &mut LabelRead,
) -> Result<(), LabelFileError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let syntax = |pos: u64, problem: String| LabelFileError::Syntax {
        path: path.to_path_buf(),
        line: line_at(text, pos as usize),
        syntax: "XML",
        problem,
    };
    #[derive(Default)]
    struct Entry {
        uid: String,
        first: String,
        last: String,
        programs: Vec<String>,
        ids: Vec<(String, String, u64)>,
    }
    let mut stack: Vec<String> = Vec::new();
    let mut entry: Option<Entry> = None;
    let mut id: (String, String) = Default::default();
    let mut publish_date: Option<(String, u64)> = None;
    let mut entries = Vec::new();
    let mut saw_root = false;
    let mut text_buf = String::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| syntax(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_string();
                if name == "sdnList" {
                    saw_root = true;
                }
                if name == "sdnEntry" {
                    entry = Some(Entry::default());
                }
                if name == "id" {
                    id = Default::default();
                }
                text_buf.clear();
                stack.push(name);
            }
            Event::End(e) => {
                let name = e.local_name().into_inner().to_string();
                if stack.last() != Some(&name) {
                    return Err(syntax(pos, format!("unexpected </{name}>")));
                }
                stack.pop();
                let value = std::mem::take(&mut text_buf).trim().to_string();
                let parent = stack.last().map(String::as_str);
                match (name.as_str(), entry.as_mut()) {
                    ("Publish_Date", _) => publish_date = Some((value, pos)),
                    ("uid", Some(en)) if parent == Some("sdnEntry") => en.uid = value,
                    ("lastName", Some(en)) if parent == Some("sdnEntry") => en.last = value,
                    ("firstName", Some(en)) if parent == Some("sdnEntry") => en.first = value,
                    ("program", Some(en)) => en.programs.push(value),
                    ("idType", Some(_)) => id.0 = value,
                    ("idNumber", Some(_)) => id.1 = value,
                    _ => {}
                }
                if name == "id"
                    && let Some(en) = entry.as_mut()
                {
                    en.ids
                        .push((std::mem::take(&mut id.0), std::mem::take(&mut id.1), pos));
                }
                if name == "sdnEntry"
                    && let Some(en) = entry.take()
                {
                    let entity = [en.first.trim(), en.last.trim()]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    for (id_type, number, at) in en.ids {
                        let Some(currency) = ofac_currency(&id_type) else {
                            continue;
                        };
                        let taken =
                            take(currency, &number).map_err(|problem| LabelFileError::Entry {
                                path: path.to_path_buf(),
                                at: line_at(text, at as usize).to_string(),
                                field: "idNumber".into(),
                                problem,
                            })?;
                        match taken {
                            Take::Skip(reason) => out.skip(reason),
                            Take::Yes(address) => entries.push(SdnAddress {
                                address,
                                id_type: id_type.trim().to_string(),
                                entity: entity.clone(),
                                uid: en.uid.trim().to_string(),
                                program: en.programs.join(", "),
                            }),
                        }
                    }
                }
            }
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::CData(t) => text_buf.push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match &*r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        _ => None,
                    },
                    Err(_) => None,
                };
                match resolved {
                    Some(c) => text_buf.push(c),
                    None => {
                        return Err(syntax(pos, format!("unknown entity &{};", &*r)));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: "no <sdnList> element: not an OFAC SDN.XML".into(),
        });
    }
    if !stack.is_empty() {
        return Err(syntax(
            text.len() as u64,
            format!("the file ends inside <{}>", stack.join("><")),
        ));
    }
    if options.version.is_none()
        && let Some((date, pos)) = publish_date
    {
        out.version = super::parse_date(&date).map_err(|e| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: line_at(text, pos as usize).to_string(),
            field: "Publish_Date".into(),
            problem: e.0,
        })?;
    }
    push_sdn(out, entries);
    Ok(())
}

/// The value of attribute `name` (local name) of a start tag.
fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().into_inner() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// OFAC `SDN_ADVANCED.XML`: `<Sanctions>` with `<DateOfIssue>` (the version),
/// `ReferenceValueSets` (`FeatureType ID` → "Digital Currency Address - XXX",
/// `SanctionsType ID` → "Program"), `DistinctParty FixedRef` (the SDN uid) →
/// `Profile ID` with the primary `Alias`'s `NamePartValue`s (the entity) and
/// `Feature FeatureTypeID` → `FeatureVersion/VersionDetail` (the address), and
/// `SanctionsEntry ProfileID` → `SanctionsMeasure SanctionsTypeID` with a
/// `Comment` (the program).
fn read_sdn_advanced_xml(
    path: &Path,
    text: &str,
    options: &ReadOptions,
    out: &mut LabelRead,
) -> Result<(), LabelFileError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let syntax = |pos: u64, problem: String| LabelFileError::Syntax {
        path: path.to_path_buf(),
        line: line_at(text, pos as usize),
        syntax: "XML",
        problem,
    };
    #[derive(Default)]
    struct Party {
        uid: String,
        names: Vec<String>,
        /// (feature type id, address text, byte position)
        features: Vec<(String, String, u64)>,
    }
    let mut stack: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut feature_types: BTreeMap<String, String> = BTreeMap::new();
    let mut sanctions_types: BTreeMap<String, String> = BTreeMap::new();
    let mut current_id = String::new();
    let mut parties: BTreeMap<String, Party> = BTreeMap::new(); // by profile id
    let mut party_uid = String::new();
    let mut profile = String::new();
    let mut primary_alias = false;
    let mut name_parts: Vec<String> = Vec::new();
    let mut feature_type = String::new();
    let mut entry_profile = String::new();
    let mut measure_type = String::new();
    let mut programs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut date: [String; 3] = Default::default();
    let mut saw_root = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| syntax(reader.error_position(), e.to_string()))?;
        let (start, is_start) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = e.local_name().into_inner().to_string();
            match name.as_str() {
                "Sanctions" => saw_root = true,
                "FeatureType" | "SanctionsType" => current_id = attr(e, "ID").unwrap_or_default(),
                "DistinctParty" => party_uid = attr(e, "FixedRef").unwrap_or_default(),
                "Profile" => {
                    profile = attr(e, "ID").unwrap_or_default();
                    parties.entry(profile.clone()).or_default().uid = party_uid.clone();
                }
                "Alias" => {
                    primary_alias = attr(e, "Primary").as_deref() == Some("true");
                    name_parts.clear();
                }
                "Feature" => feature_type = attr(e, "FeatureTypeID").unwrap_or_default(),
                "SanctionsEntry" => entry_profile = attr(e, "ProfileID").unwrap_or_default(),
                "SanctionsMeasure" => measure_type = attr(e, "SanctionsTypeID").unwrap_or_default(),
                _ => {}
            }
            text_buf.clear();
            // An empty element has no end tag: it is not pushed.
            if is_start {
                stack.push(name);
            }
            continue;
        }
        match event {
            Event::End(e) => {
                let name = e.local_name().into_inner().to_string();
                if stack.last() != Some(&name) {
                    return Err(syntax(pos, format!("unexpected </{name}>")));
                }
                stack.pop();
                let value = std::mem::take(&mut text_buf).trim().to_string();
                let parent = stack.last().map(String::as_str);
                match name.as_str() {
                    "FeatureType" => {
                        feature_types.insert(current_id.clone(), value);
                    }
                    "SanctionsType" => {
                        sanctions_types.insert(current_id.clone(), value);
                    }
                    "Year" if parent == Some("DateOfIssue") => date[0] = value,
                    "Month" if parent == Some("DateOfIssue") => date[1] = value,
                    "Day" if parent == Some("DateOfIssue") => date[2] = value,
                    "NamePartValue" if primary_alias => name_parts.push(value),
                    "Alias" if primary_alias && !name_parts.is_empty() => {
                        if let Some(p) = parties.get_mut(&profile)
                            && p.names.is_empty()
                        {
                            p.names.push(name_parts.join(" "));
                        }
                        primary_alias = false;
                    }
                    "VersionDetail" if stack.iter().any(|s| s == "Feature") => {
                        if let Some(p) = parties.get_mut(&profile) {
                            p.features.push((feature_type.clone(), value, pos));
                        }
                    }
                    "Comment" if parent == Some("SanctionsMeasure") => {
                        programs
                            .entry(entry_profile.clone())
                            .or_default()
                            .insert(format!("{measure_type}\u{0}{value}"));
                    }
                    _ => {}
                }
            }
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text_buf.push(c),
                _ => match &*r {
                    "amp" => text_buf.push('&'),
                    "lt" => text_buf.push('<'),
                    "gt" => text_buf.push('>'),
                    "apos" => text_buf.push('\''),
                    "quot" => text_buf.push('"'),
                    other => return Err(syntax(pos, format!("unknown entity &{other};"))),
                },
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: "no <Sanctions> element: not an OFAC SDN_ADVANCED.XML".into(),
        });
    }
    if !stack.is_empty() {
        return Err(syntax(
            text.len() as u64,
            format!("the file ends inside <{}>", stack.join("><")),
        ));
    }
    if options.version.is_none() && date.iter().all(|d| !d.is_empty()) {
        let d = format!("{}-{:0>2}-{:0>2}", date[0], date[1], date[2]);
        out.version = super::parse_date(&d).map_err(|e| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: "DateOfIssue".into(),
            field: "Year/Month/Day".into(),
            problem: e.0,
        })?;
    }
    let program_type: BTreeSet<&String> = sanctions_types
        .iter()
        .filter(|(_, v)| v.as_str() == "Program")
        .map(|(k, _)| k)
        .collect();
    let mut entries = Vec::new();
    for (profile_id, party) in &parties {
        let program = programs
            .get(profile_id)
            .map(|set| {
                set.iter()
                    .filter_map(|tv| tv.split_once('\u{0}'))
                    .filter(|(t, _)| program_type.contains(&t.to_string()))
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        for (type_id, value, at) in &party.features {
            let Some(id_type) = feature_types.get(type_id) else {
                return Err(LabelFileError::Entry {
                    path: path.to_path_buf(),
                    at: line_at(text, *at as usize).to_string(),
                    field: "FeatureTypeID".into(),
                    problem: format!("feature type {type_id:?} is not in ReferenceValueSets"),
                });
            };
            let Some(currency) = ofac_currency(id_type) else {
                continue;
            };
            let taken = take(currency, value).map_err(|problem| LabelFileError::Entry {
                path: path.to_path_buf(),
                at: line_at(text, *at as usize).to_string(),
                field: "VersionDetail".into(),
                problem,
            })?;
            match taken {
                Take::Skip(reason) => out.skip(reason),
                Take::Yes(address) => entries.push(SdnAddress {
                    address,
                    id_type: id_type.clone(),
                    entity: party.names.first().cloned().unwrap_or_default(),
                    uid: party.uid.clone(),
                    program: program.clone(),
                }),
            }
        }
    }
    push_sdn(out, entries);
    Ok(())
}

/// OFAC `sdn.csv`: no header; `ent_num, SDN_Name, SDN_Type, Program, Title,
/// Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks`, where
/// `-0-` is empty and the remarks hold `Digital Currency Address - ETH 0x...;`.
/// The file has no date: give `--version`.
fn read_sdn_csv(path: &Path, out: &mut LabelRead) -> Result<(), LabelFileError> {
    let text = read_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut entries = Vec::new();
    for record in reader.records() {
        let (record, line) = csv_record(path, &text, record)?;
        if record.len() < 12 {
            if record
                .iter()
                .all(|f| f.trim().is_empty() || f.trim() == "\u{1a}")
            {
                continue; // OFAC ends the file with a SUB (0x1A) line
            }
            return Err(LabelFileError::Entry {
                path: path.to_path_buf(),
                at: line.to_string(),
                field: "Remarks".into(),
                problem: format!("expected 12 fields, found {}", record.len()),
            });
        }
        let clean = |s: &str| {
            let t = s.trim();
            if t == "-0-" {
                String::new()
            } else {
                t.to_string()
            }
        };
        let remarks = clean(&record[11]);
        for part in remarks.split(';') {
            let part = part.trim();
            let Some(rest) = part.strip_prefix("Digital Currency Address - ") else {
                continue;
            };
            let (currency, value) = rest.split_once(' ').unwrap_or((rest, ""));
            // The last remark ends the sentence with a full stop.
            let value = value.trim().trim_end_matches('.');
            let taken = take(currency, value).map_err(|problem| LabelFileError::Entry {
                path: path.to_path_buf(),
                at: line.to_string(),
                field: "Remarks".into(),
                problem,
            })?;
            match taken {
                Take::Skip(reason) => out.skip(reason),
                Take::Yes(address) => entries.push(SdnAddress {
                    address,
                    id_type: format!("Digital Currency Address - {}", currency.trim()),
                    entity: clean(&record[1]),
                    uid: clean(&record[0]),
                    program: clean(&record[3])
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .replace("] [", ", "),
                }),
            }
        }
    }
    push_sdn(out, entries);
    Ok(())
}

/// An address list: `.txt` (one per line, `#` comments), a JSON array of strings,
/// or a CSV with an `address` column (and optional `name`). Every address takes the
/// `--category`; every entry must be an EVM address.
fn read_address_list(
    path: &Path,
    options: &ReadOptions,
    out: &mut LabelRead,
) -> Result<(), LabelFileError> {
    let category = options.category.ok_or_else(|| LabelFileError::Shape {
        path: path.to_path_buf(),
        detail: "an address list carries no category: give --category (e.g. sanctioned)".into(),
    })?;
    let text = read_text(path)?;
    let entry = |at: String, field: &str, problem: String| LabelFileError::Entry {
        path: path.to_path_buf(),
        at,
        field: field.into(),
        problem,
    };
    let mut seen = BTreeSet::new();
    let mut add = |out: &mut LabelRead, address: Address, name: Option<String>| {
        if seen.insert(address) {
            out.push(address, Some(category), None, name, None, None);
        } else {
            out.skip("duplicate address");
        }
    };
    if text.trim_start().starts_with('[') {
        let values: Vec<String> = serde_json::from_str(&text).map_err(|e| json_error(path, &e))?;
        for (i, v) in values.iter().enumerate() {
            let a = parse_address(v.trim()).map_err(|e| entry(format!("[{i}]"), "address", e.0))?;
            add(out, a, None);
        }
        return Ok(());
    }
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let (mut reader, headers) = csv_with_header(path, &text)?;
        let col = |n: &str| column(&headers, n);
        let Some(address) = col("address") else {
            return Err(LabelFileError::Shape {
                path: path.to_path_buf(),
                detail: "no `address` column".into(),
            });
        };
        let name = col("name");
        for record in reader.records() {
            let (record, line) = csv_record(path, &text, record)?;
            let a = parse_address(record.get(address).unwrap_or("").trim())
                .map_err(|e| entry(line.to_string(), "address", e.0))?;
            let n = name
                .and_then(|c| record.get(c))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            add(out, a, n);
        }
        return Ok(());
    }
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let a = parse_address(line).map_err(|e| entry((i + 1).to_string(), "address", e.0))?;
        add(out, a, None);
    }
    Ok(())
}

/// GraphSense TagPack: pack-level fields are defaults for every tag; a tag's own
/// `currency`, `abuse`, `category`, `label` override them. `abuse` decides the
/// category when it maps, else `category`; the tag kept is `abuse=...` or
/// `category=...` as written.
fn read_tagpack(
    path: &Path,
    text: &str,
    options: &ReadOptions,
    out: &mut LabelRead,
) -> Result<(), LabelFileError> {
    use serde_yaml_ng::Value;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| LabelFileError::Syntax {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line() as u64).unwrap_or(0),
        syntax: "YAML",
        problem: e.to_string(),
    })?;
    let text_of = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let pack = |k: &str| text_of(doc.get(k));
    let tags = doc
        .get("tags")
        .and_then(Value::as_sequence)
        .ok_or_else(|| LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: "no `tags:` list: not a GraphSense TagPack".into(),
        })?;
    if options.version.is_none()
        && let Some(lastmod) = pack("lastmod")
    {
        out.version = lastmod;
    }
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("tags[{i}]");
        let entry = |field: &str, problem: String| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: at.clone(),
            field: field.into(),
            problem,
        };
        let field = |k: &str| text_of(tag.get(k)).or_else(|| pack(k));
        let address = match tag.get("address") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(entry(
                    "address",
                    format!("not a string: {other:?} (quote 0x addresses in YAML)"),
                ));
            }
            None => return Err(entry("address", "missing".into())),
        };
        let Some(currency) = field("currency") else {
            return Err(entry(
                "currency",
                "missing (neither on the tag nor the pack)".into(),
            ));
        };
        let address = match take(&currency, &address).map_err(|p| entry("address", p))? {
            Take::Skip(reason) => {
                out.skip(reason);
                continue;
            }
            Take::Yes(a) => a,
        };
        let abuse = field("abuse");
        let category = field("category");
        let (mapped, tag_text) = match (&abuse, &category) {
            (Some(a), _) if taxonomy::graphsense_abuse(a).is_some() => {
                (taxonomy::graphsense_abuse(a), format!("abuse={a}"))
            }
            (_, Some(c)) if taxonomy::graphsense_category(c).is_some() => {
                (taxonomy::graphsense_category(c), format!("category={c}"))
            }
            (Some(a), _) => (None, format!("abuse={a}")),
            (None, Some(c)) => (None, format!("category={c}")),
            (None, None) => (None, "(no abuse or category)".into()),
        };
        out.push(address, mapped, Some(tag_text), field("label"), None, None);
    }
    Ok(())
}

/// Etherscan label set: `{ "0x...": {"name": "...", "labels": ["..."]} }`; one
/// label per (address, mapped category); unmapped slugs are kept as `other`.
fn read_etherscan_json(path: &Path, text: &str, out: &mut LabelRead) -> Result<(), LabelFileError> {
    use serde_json::Value;
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    let map = doc.as_object().ok_or_else(|| LabelFileError::Shape {
        path: path.to_path_buf(),
        detail: "not a JSON object keyed by address".into(),
    })?;
    for (key, value) in map {
        let at = format!("[{key:?}]");
        let address = parse_address(key.trim()).map_err(|e| LabelFileError::Entry {
            path: path.to_path_buf(),
            at: at.clone(),
            field: "address".into(),
            problem: e.0,
        })?;
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let labels = value
            .get("labels")
            .and_then(Value::as_array)
            .ok_or_else(|| LabelFileError::Entry {
                path: path.to_path_buf(),
                at: at.clone(),
                field: "labels".into(),
                problem: "missing or not a list".into(),
            })?;
        // One label per category; the tags that gave it are joined.
        let mut by_category: BTreeMap<Option<Category>, Vec<String>> = BTreeMap::new();
        for l in labels.iter().filter_map(Value::as_str) {
            by_category
                .entry(taxonomy::etherscan_label(l))
                .or_default()
                .push(l.to_string());
        }
        for (category, tags) in by_category {
            match category {
                Some(_) => out.push(
                    address,
                    category,
                    Some(tags.join(";")),
                    name.clone(),
                    None,
                    None,
                ),
                None => {
                    for t in &tags {
                        *out.unmapped.entry(t.clone()).or_default() += 1;
                    }
                    out.labels.push(Label {
                        address,
                        category: Category::Other,
                        name: name.clone(),
                        list: out.list.clone(),
                        version: out.version.clone(),
                        tag: Some(tags.join(";")),
                        ..Label::default()
                    });
                }
            }
        }
    }
    Ok(())
}

/// Etherscan label CSV: `Address` and `Name Tag` with the label slug taken from the
/// file's name (brianleect's `accounts/binance.csv`), or `address,name,family` with
/// the slug in `family` (Raphtory's `etherscan_tags.csv`).
fn read_etherscan_csv(path: &Path, out: &mut LabelRead) -> Result<(), LabelFileError> {
    let text = read_text(path)?;
    let (mut reader, headers) = csv_with_header(path, &text)?;
    let col = |n: &str| column(&headers, n);
    let Some(address) = col("address") else {
        return Err(LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: "no `address` column".into(),
        });
    };
    let name = col("name tag").or_else(|| col("name"));
    let family = col("family");
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for record in reader.records() {
        let (record, line) = csv_record(path, &text, record)?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let a = parse_address(&get(Some(address)).to_ascii_lowercase()).map_err(|e| {
            LabelFileError::Entry {
                path: path.to_path_buf(),
                at: line.to_string(),
                field: "address".into(),
                problem: e.0,
            }
        })?;
        let slug = match family {
            Some(_) => get(family).to_string(),
            None => stem.clone(),
        };
        let n = get(name);
        out.push(
            a,
            taxonomy::etherscan_label(&slug),
            Some(slug),
            (!n.is_empty()).then(|| n.to_string()),
            None,
            None,
        );
    }
    Ok(())
}

/// tutela `known_addresses.csv`: `address,name,account_type,entity,legitimacy,tags`.
fn read_tutela(path: &Path, out: &mut LabelRead) -> Result<(), LabelFileError> {
    let text = read_text(path)?;
    let (mut reader, headers) = csv_with_header(path, &text)?;
    let col = |n: &str| column(&headers, n);
    let (Some(address), Some(entity), Some(legitimacy)) =
        (col("address"), col("entity"), col("legitimacy"))
    else {
        return Err(LabelFileError::Shape {
            path: path.to_path_buf(),
            detail: "a tutela file needs address, entity and legitimacy columns".into(),
        });
    };
    let (name, tags) = (col("name"), col("tags"));
    for record in reader.records() {
        let (record, line) = csv_record(path, &text, record)?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        // The file repeats its header inside the data (`contractaddress,...`): a row
        // whose address is not an address is skipped and reported with its line.
        let a = match parse_address(get(Some(address))) {
            Ok(a) => a,
            Err(e) => {
                out.skip(format!("line {line}: column `address`: {}", e.0));
                continue;
            }
        };
        let (e, t, l) = (get(Some(entity)), get(tags), get(Some(legitimacy)));
        let category = taxonomy::tutela(e, t, l);
        let tag = if !e.is_empty() {
            format!("entity={e}")
        } else {
            format!("tags={t};legitimacy={l}")
        };
        let n = get(name);
        out.push(
            a,
            category,
            Some(tag),
            (!n.is_empty()).then(|| n.to_string()),
            None,
            None,
        );
    }
    Ok(())
}
