//! The store: one SQLite file (WAL) that is the source of truth for transfers,
//! labels and where each came from. The graph is rebuilt from it and is disposable.
//!
//! Shape: addresses are interned once (`addresses.id`, dense from 1, so the graph's
//! node id is `id - 1`); a transfer row holds ids, its block, and its amount as a
//! 32-byte big-endian blob (so SQL can compare amounts with `memcmp` order).
//!
//! A transfer's identity is `(tx_hash, kind, idx)`. A transaction hash belongs to
//! exactly one block, so the table is keyed (and clustered, `WITHOUT ROWID`) on
//! `(block, tx_hash, kind, idx)`: the same identity, in an order that chain data
//! arrives in. Imports then append to the right edge of one B-tree instead of
//! scattering into a hash-ordered index, and evidence lookups ("the transfer from A
//! to B in block N") are a short range scan of one block. Every import is
//! idempotent: a row whose key exists is ignored. Each file is imported in one transaction: a bad row rolls the
//! whole file back.

use rustc_hash::FxHashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::import::{ImportError, TransferReader};
use crate::labels::{Category, Label};
use crate::transfer::{Asset, Kind, Transfer, parse_asset};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or set up.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A file to import was bad; nothing from it was stored.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A query failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database holds something hoptrace cannot read back.
    #[error("database is inconsistent: {0}")]
    Corrupt(String),
}

/// What one import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The file.
    pub path: PathBuf,
    /// The detected format.
    pub format: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows that were new to the store.
    pub inserted: u64,
    /// Rows skipped because they record a failed transaction.
    pub skipped_failed: u64,
    /// Rows skipped because they create a contract whose address the file lacks.
    pub skipped_no_receiver: u64,
    /// True when the same file content had been imported before: nothing was read.
    pub already_imported: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    -- What else shaped the import (for labels: the default list name).
    options TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL,
    rows INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    UNIQUE(kind, sha256, options)
);
CREATE TABLE IF NOT EXISTS addresses(id INTEGER PRIMARY KEY, address BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS assets(id INTEGER PRIMARY KEY, asset TEXT NOT NULL UNIQUE);
-- The ids refer to addresses, assets and sources; they are not declared as foreign
-- keys because checking four parents per row would halve the import rate, and the
-- importer only writes ids it has just interned in the same transaction.
CREATE TABLE IF NOT EXISTS transfers(
    block INTEGER NOT NULL,
    tx_hash BLOB NOT NULL,
    kind INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    timestamp INTEGER,
    from_id INTEGER NOT NULL,
    to_id INTEGER NOT NULL,
    asset_id INTEGER NOT NULL,
    amount BLOB NOT NULL,
    source_id INTEGER NOT NULL,
    PRIMARY KEY(block, tx_hash, kind, idx)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS transfers_identity ON transfers(tx_hash, kind, idx);
CREATE TABLE IF NOT EXISTS labels(
    id INTEGER PRIMARY KEY,
    address_id INTEGER NOT NULL REFERENCES addresses(id),
    category TEXT NOT NULL,
    name TEXT,
    list TEXT NOT NULL,
    since_block INTEGER,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    -- Provenance (schema version 2): the list's date or version, the source's own
    -- tag, the entity's uid and program (OFAC), and the date the label holds from.
    version TEXT NOT NULL DEFAULT '',
    tag TEXT,
    uid TEXT,
    program TEXT,
    since_date TEXT,
    UNIQUE(address_id, category, list, version)
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '2');
";

/// Brings a schema-version-1 `labels` table (no provenance columns, unique on
/// `(address, category, list)`) to version 2. SQLite cannot change a UNIQUE
/// constraint in place, so the table is rebuilt, in one transaction.
const MIGRATE_LABELS_V2: &str = "
BEGIN IMMEDIATE;
CREATE TABLE labels_v2(
    id INTEGER PRIMARY KEY,
    address_id INTEGER NOT NULL REFERENCES addresses(id),
    category TEXT NOT NULL,
    name TEXT,
    list TEXT NOT NULL,
    since_block INTEGER,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    version TEXT NOT NULL DEFAULT '',
    tag TEXT,
    uid TEXT,
    program TEXT,
    since_date TEXT,
    UNIQUE(address_id, category, list, version)
);
INSERT INTO labels_v2(id, address_id, category, name, list, since_block, source_id)
    SELECT id, address_id, category, name, list, since_block, source_id FROM labels;
DROP TABLE labels;
ALTER TABLE labels_v2 RENAME TO labels;
INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '2');
COMMIT;
";

const ZERO_AMOUNT: [u8; 32] = [0u8; 32];

/// [`Store::find_transfer`]'s query: `?1` sender id, `?2` block, `?3` receiver id,
/// `?4` [`ZERO_AMOUNT`].
const FIND_TRANSFER: &str = "SELECT t.tx_hash, t.kind, t.idx, t.timestamp, s.asset, t.amount
     FROM transfers t JOIN assets s ON s.id = t.asset_id
     WHERE t.block = ?2 AND t.from_id = ?1 AND t.to_id = ?3 AND t.amount <> ?4
     ORDER BY t.tx_hash, t.kind, t.idx LIMIT 1";

/// Transfers handed from the parser thread to the inserting one, with progress.
struct Batch {
    transfers: Vec<Transfer>,
    bytes: u64,
    total_bytes: u64,
    rows: u64,
}

const BATCH: usize = 4096;

/// Reads the whole file into batches; stops early if the receiver goes away.
fn parse_batches(
    mut reader: TransferReader,
    sender: std::sync::mpsc::SyncSender<Batch>,
) -> Result<TransferReader, ImportError> {
    let mut transfers = Vec::with_capacity(BATCH);
    loop {
        let next = reader.next_transfer()?;
        let done = next.is_none();
        if let Some(t) = next {
            transfers.push(t);
        }
        if transfers.len() == BATCH || (done && !transfers.is_empty()) {
            let (bytes, total_bytes) = reader.progress();
            let batch = Batch {
                transfers: std::mem::replace(&mut transfers, Vec::with_capacity(BATCH)),
                bytes,
                total_bytes,
                rows: reader.rows(),
            };
            if sender.send(batch).is_err() {
                break;
            }
        }
        if done {
            break;
        }
    }
    Ok(reader)
}

/// Transfers inserted by one multi-row statement.
const GROUP: usize = 32;
// Only the last batch of a file can leave part of a group.
const _: () = assert!(BATCH.is_multiple_of(GROUP));

/// `INSERT OR IGNORE` of `rows` transfers; parameter `rows * 9 + 1` is the source.
fn insert_sql(rows: usize) -> String {
    let source = rows * 9 + 1;
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=9).map(|c| format!("?{}", r * 9 + c)).collect();
            format!("({}, ?{source})", p.join(", "))
        })
        .collect();
    format!(
        "INSERT OR IGNORE INTO transfers
         (tx_hash, kind, idx, block, timestamp, from_id, to_id, asset_id, amount, source_id)
         VALUES {}",
        values.join(", ")
    )
}

/// The interned ids of one transfer.
struct RowIds {
    from: i64,
    to: i64,
    asset: i64,
}

/// Binds a transfer to parameters `at + 1 ..= at + 9` of an insert.
fn bind_transfer(
    stmt: &mut rusqlite::CachedStatement<'_>,
    at: usize,
    t: &Transfer,
    ids: &RowIds,
) -> rusqlite::Result<()> {
    let amount: [u8; 32] = t.amount.to_be_bytes();
    stmt.raw_bind_parameter(at + 1, t.tx_hash.as_slice())?;
    stmt.raw_bind_parameter(at + 2, t.kind.code())?;
    stmt.raw_bind_parameter(at + 3, t.index)?;
    stmt.raw_bind_parameter(at + 4, t.block)?;
    stmt.raw_bind_parameter(at + 5, t.timestamp)?;
    stmt.raw_bind_parameter(at + 6, ids.from)?;
    stmt.raw_bind_parameter(at + 7, ids.to)?;
    stmt.raw_bind_parameter(at + 8, ids.asset)?;
    stmt.raw_bind_parameter(at + 9, &amount[..])
}

/// Where a time falls among the stored blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAtTime {
    /// No stored transfer has a timestamp.
    NoTimestamps,
    /// The time is after the last stored block with a timestamp.
    AfterLast {
        /// That block.
        block: u32,
        /// Its timestamp.
        timestamp: i64,
    },
    /// The first stored block at or after the time.
    Found {
        /// The block.
        block: u32,
        /// Its timestamp.
        timestamp: i64,
        /// The stored block before it, if any: when it is `block - 1` the answer is
        /// exact; otherwise the chain's first block at or after the time lies in
        /// `(previous, block]`.
        previous: Option<(u32, i64)>,
    },
}

/// One line of `labels stats`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabelCount {
    /// The list.
    pub list: String,
    /// Its version (empty when unknown).
    pub version: String,
    /// The category.
    pub category: String,
    /// Labels.
    pub labels: u64,
    /// Distinct addresses.
    pub addresses: u64,
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
}

/// One state of the store for every read while it is held: see
/// [`Store::read_snapshot`]. Dropping it ends the read transaction (rolled back:
/// nothing was written).
#[must_use = "the snapshot ends when the guard is dropped"]
pub struct ReadSnapshot<'a> {
    _tx: Option<rusqlite::Transaction<'a>>,
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Interns addresses and assets into ids within one transaction.
struct Interner {
    addresses: FxHashMap<Address, i64>,
    assets: FxHashMap<Asset, i64>,
}

impl Interner {
    fn new() -> Self {
        Interner {
            addresses: FxHashMap::default(),
            assets: FxHashMap::default(),
        }
    }

    /// The ids of `t`'s addresses and asset, interned.
    fn ids(&mut self, tx: &Transaction<'_>, t: &Transfer) -> rusqlite::Result<RowIds> {
        Ok(RowIds {
            from: self.address(tx, &t.from)?,
            to: self.address(tx, &t.to)?,
            asset: self.asset(tx, &t.asset)?,
        })
    }

    fn address(&mut self, tx: &Transaction<'_>, a: &Address) -> rusqlite::Result<i64> {
        if let Some(id) = self.addresses.get(a) {
            return Ok(*id);
        }
        let id = intern_address(tx, a)?;
        self.addresses.insert(*a, id);
        Ok(id)
    }

    fn asset(&mut self, tx: &Transaction<'_>, a: &Asset) -> rusqlite::Result<i64> {
        if let Some(id) = self.assets.get(a) {
            return Ok(*id);
        }
        let text = a.to_string();
        let mut select = tx.prepare_cached("SELECT id FROM assets WHERE asset = ?1")?;
        let id = match select.query_row([&text], |r| r.get(0)).optional()? {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO assets(asset) VALUES (?1)")?
                    .execute([&text])?;
                tx.last_insert_rowid()
            }
        };
        self.assets.insert(*a, id);
        Ok(id)
    }
}

fn intern_address(tx: &Connection, a: &Address) -> rusqlite::Result<i64> {
    let mut select = tx.prepare_cached("SELECT id FROM addresses WHERE address = ?1")?;
    if let Some(id) = select.query_row([a.as_slice()], |r| r.get(0)).optional()? {
        return Ok(id);
    }
    tx.prepare_cached("INSERT INTO addresses(address) VALUES (?1)")?
        .execute([a.as_slice()])?;
    Ok(tx.last_insert_rowid())
}

fn address_from_blob(blob: &[u8]) -> Result<Address, StoreError> {
    if blob.len() != 20 {
        return Err(StoreError::Corrupt(format!(
            "address blob of {} bytes",
            blob.len()
        )));
    }
    Ok(Address::from_slice(blob))
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open)?;
        // Larger pages make the append-mostly transfer B-tree shallower; this only
        // takes effect when the file is new.
        conn.pragma_update(None, "page_size", 16384).map_err(open)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open)?;
        conn.pragma_update(None, "cache_size", -262_144)
            .map_err(open)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(open)?;
        // Plans that never depend on the values bound: otherwise SQLite marks a
        // parameter compared with a column (`from_id = ?`) as one whose new value
        // may change the plan, and rusqlite clears a cached statement's bindings
        // when it is put back, so such a statement was prepared again on every
        // use (a fifth of a whole-graph `trace`, in the SQL parser).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(open)?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        let has_version: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('labels') WHERE name = 'version'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(open)?
            > 0;
        if !has_version {
            conn.execute_batch(MIGRATE_LABELS_V2).map_err(open)?;
        }
        Ok(Store { conn })
    }

    /// Looks up an already imported source by content digest.
    fn source_by_digest(
        &self,
        kind: &str,
        sha256: &str,
        options: &str,
    ) -> Result<Option<(String, u64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT format, rows FROM sources WHERE kind = ?1 AND sha256 = ?2 AND options = ?3",
                params![kind, sha256, options],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()?)
    }

    /// Imports one transfer file in one transaction. `progress` is called now and
    /// then with (bytes read, file size, rows read).
    pub fn import_transfers(
        &mut self,
        path: &Path,
        mut progress: impl FnMut(u64, u64, u64),
    ) -> Result<ImportSummary, StoreError> {
        let digest = crate::import::file_digest(path)?;
        let reader = TransferReader::open(path)?;
        if let Some((format, rows)) = self.source_by_digest("transfers", &digest, "")? {
            return Ok(ImportSummary {
                path: path.to_path_buf(),
                format,
                rows,
                inserted: 0,
                skipped_failed: 0,
                skipped_no_receiver: 0,
                already_imported: true,
            });
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO sources(kind, path, format, sha256, imported_at, rows, inserted)
             VALUES ('transfers', ?1, ?2, ?3, ?4, 0, 0)",
            params![
                path.display().to_string(),
                reader.format().as_str(),
                digest,
                now_rfc3339()
            ],
        )?;
        let source_id = tx.last_insert_rowid();
        let mut interner = Interner::new();
        let mut inserted = 0u64;
        // Parsing runs on its own thread and hands over batches, so that CSV
        // decoding and SQLite insertion use both cores.
        let (sender, batches) = std::sync::mpsc::sync_channel::<Batch>(8);
        // On an insert error the receiver is dropped as the insert returns, which
        // stops the parser.
        let (insert_result, parsed) = crate::join(
            || -> Result<(), StoreError> {
                // Rows go in groups of GROUP per statement, which spends the
                // statement's fixed cost once per group; the rest of a file goes
                // one by one. The source id is one shared parameter.
                let mut group = tx.prepare_cached(&insert_sql(GROUP))?;
                let mut single = tx.prepare_cached(&insert_sql(1))?;
                group.raw_bind_parameter(GROUP * 9 + 1, source_id)?;
                single.raw_bind_parameter(10, source_id)?;
                let mut filled = 0usize;
                for batch in batches {
                    for t in &batch.transfers {
                        let row = interner.ids(&tx, t)?;
                        bind_transfer(&mut group, filled * 9, t, &row)?;
                        filled += 1;
                        if filled == GROUP {
                            inserted += group.raw_execute()? as u64;
                            filled = 0;
                        }
                    }
                    if filled > 0 && batch.transfers.len() < BATCH {
                        // The last batch: insert what is left of the group singly.
                        let rest = &batch.transfers[batch.transfers.len() - filled..];
                        for t in rest {
                            let row = interner.ids(&tx, t)?;
                            bind_transfer(&mut single, 0, t, &row)?;
                            inserted += single.raw_execute()? as u64;
                        }
                        filled = 0;
                    }
                    progress(batch.bytes, batch.total_bytes, batch.rows);
                }
                Ok(())
            },
            move || parse_batches(reader, sender),
        );
        let reader = parsed?;
        insert_result?;
        tx.execute(
            "UPDATE sources SET rows = ?1, inserted = ?2 WHERE id = ?3",
            params![reader.rows() as i64, inserted as i64, source_id],
        )?;
        tx.commit()?;
        Ok(ImportSummary {
            path: path.to_path_buf(),
            format: reader.format().as_str().to_string(),
            rows: reader.rows(),
            inserted,
            skipped_failed: reader.skipped_failed(),
            skipped_no_receiver: reader.skipped_no_receiver(),
            already_imported: false,
        })
    }

    /// Imports labels read from one file, in one transaction. A label already present
    /// (same address, category and list) is updated in place, so re-importing the
    /// same list changes nothing.
    ///
    /// `list` is the list name given for rows without one: the same file imported
    /// under another list name is a different source.
    pub fn import_labels(
        &mut self,
        path: &Path,
        format: &str,
        list: &str,
        labels: &[Label],
    ) -> Result<ImportSummary, StoreError> {
        let digest = crate::import::file_digest(path)?;
        let options = format!("list={list}");
        if let Some((format, rows)) = self.source_by_digest("labels", &digest, &options)? {
            return Ok(ImportSummary {
                path: path.to_path_buf(),
                format,
                rows,
                inserted: 0,
                skipped_failed: 0,
                skipped_no_receiver: 0,
                already_imported: true,
            });
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO sources(kind, path, format, sha256, options, imported_at, rows, inserted)
             VALUES ('labels', ?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![
                path.display().to_string(),
                format,
                digest,
                options,
                now_rfc3339(),
                labels.len() as i64
            ],
        )?;
        let source_id = tx.last_insert_rowid();
        let mut interner = Interner::new();
        let mut inserted = 0u64;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO labels(address_id, category, name, list, since_block, source_id,
                                    version, tag, uid, program, since_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(address_id, category, list, version) DO UPDATE SET
                    name = excluded.name, since_block = excluded.since_block,
                    tag = excluded.tag, uid = excluded.uid, program = excluded.program,
                    since_date = excluded.since_date
                 WHERE labels.name IS NOT excluded.name
                    OR labels.since_block IS NOT excluded.since_block
                    OR labels.tag IS NOT excluded.tag
                    OR labels.uid IS NOT excluded.uid
                    OR labels.program IS NOT excluded.program
                    OR labels.since_date IS NOT excluded.since_date",
            )?;
            for label in labels {
                let address = interner.address(&tx, &label.address)?;
                inserted += upsert.execute(params![
                    address,
                    label.category.as_str(),
                    label.name,
                    label.list,
                    label.since_block,
                    source_id,
                    label.version,
                    label.tag,
                    label.uid,
                    label.program,
                    label.since_date
                ])? as u64;
            }
        }
        tx.execute(
            "UPDATE sources SET inserted = ?1 WHERE id = ?2",
            params![inserted as i64, source_id],
        )?;
        tx.commit()?;
        Ok(ImportSummary {
            path: path.to_path_buf(),
            format: format.to_string(),
            rows: labels.len() as u64,
            inserted,
            skipped_failed: 0,
            skipped_no_receiver: 0,
            already_imported: false,
        })
    }

    /// Every interned address, indexed by node id (`id - 1`).
    pub fn addresses(&self) -> Result<Vec<Address>, StoreError> {
        let max: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM addresses", [], |r| {
                    r.get(0)
                })?;
        let mut out = vec![Address::ZERO; max as usize];
        let mut stmt = self.conn.prepare("SELECT id, address FROM addresses")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            out[(id - 1) as usize] = address_from_blob(&blob)?;
        }
        Ok(out)
    }

    /// Calls `edge(from, to, block)` for every transfer that moves value (amount > 0),
    /// with node ids. Returns how many edges it gave.
    pub fn for_each_edge(&self, mut edge: impl FnMut(u32, u32, u32)) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT from_id, to_id, block FROM transfers WHERE amount <> ?1")?;
        let mut rows = stmt.query([&ZERO_AMOUNT[..]])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let from: i64 = row.get(0)?;
            let to: i64 = row.get(1)?;
            let block: i64 = row.get(2)?;
            edge((from - 1) as u32, (to - 1) as u32, block as u32);
            n += 1;
        }
        Ok(n)
    }

    /// Streams every value-moving transfer in chain order (block, then tx hash,
    /// kind and index: the table's key order, so no sort) as `(block, from, to,
    /// asset, amount)`; `from`/`to` are indices into [`Store::addresses`] and `asset`
    /// an index into [`Store::assets`]. Returns how many were streamed: all of
    /// them, or those up to the one for which `transfer` said to stop.
    pub fn for_each_transfer(
        &self,
        mut transfer: impl FnMut(u32, u32, u32, u32, U256) -> ControlFlow<()>,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT block, from_id, to_id, asset_id, amount FROM transfers
             WHERE amount <> ?1 ORDER BY block, tx_hash, kind, idx",
        )?;
        let mut rows = stmt.query([&ZERO_AMOUNT[..]])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let block: i64 = row.get(0)?;
            let from: i64 = row.get(1)?;
            let to: i64 = row.get(2)?;
            let asset: i64 = row.get(3)?;
            let amount = row
                .get_ref(4)?
                .as_blob()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if amount.len() != 32 {
                return Err(StoreError::Corrupt("bad amount blob".into()));
            }
            let go = transfer(
                block as u32,
                (from - 1) as u32,
                (to - 1) as u32,
                (asset - 1) as u32,
                U256::from_be_slice(amount),
            );
            n += 1;
            if go.is_break() {
                break;
            }
        }
        Ok(n)
    }

    /// Every asset, by id (index i is asset id i + 1).
    pub fn assets(&self) -> Result<Vec<Asset>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, asset FROM assets ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let text: String = row.get(1)?;
            if id != out.len() as i64 + 1 {
                return Err(StoreError::Corrupt(format!("asset ids not dense at {id}")));
            }
            out.push(parse_asset(&text).map_err(|e| StoreError::Corrupt(e.0))?);
        }
        Ok(out)
    }

    /// Every label.
    pub fn labels(&self) -> Result<Vec<Label>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.address, l.category, l.name, l.list, l.since_block,
                    l.version, l.tag, l.uid, l.program, l.since_date
             FROM labels l CROSS JOIN addresses a ON a.id = l.address_id
             ORDER BY a.address, l.category, l.list, l.version",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(0)?;
            let category: String = row.get(1)?;
            out.push(Label {
                address: address_from_blob(&blob)?,
                category: category
                    .parse::<Category>()
                    .map_err(|e| StoreError::Corrupt(e.0))?,
                name: row.get(2)?,
                list: row.get(3)?,
                since_block: row.get::<_, Option<i64>>(4)?.map(|b| b as u32),
                version: row.get(5)?,
                tag: row.get(6)?,
                uid: row.get(7)?,
                program: row.get(8)?,
                since_date: row.get(9)?,
            });
        }
        Ok(out)
    }

    /// The transfer that an evidence hop stands for: the first (by tx hash, kind,
    /// index) value-moving transfer from `from` to `to` in `block`. Run once per
    /// hop of every path reported, with a statement prepared once (see the
    /// query planner setting in [`Store::open`]).
    pub fn find_transfer(
        &self,
        from: u32,
        to: u32,
        block: u32,
    ) -> Result<Option<Transfer>, StoreError> {
        let mut stmt = self.conn.prepare_cached(FIND_TRANSFER)?;
        let from_id = i64::from(from) + 1;
        let to_id = i64::from(to) + 1;
        let row = stmt
            .query_row(params![from_id, block, to_id, &ZERO_AMOUNT[..]], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                ))
            })
            .optional()?;
        let Some((hash, kind, idx, timestamp, asset, amount)) = row else {
            return Ok(None);
        };
        let addresses: (Vec<u8>, Vec<u8>) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT address FROM addresses WHERE id = ?1),
                        (SELECT address FROM addresses WHERE id = ?2)",
            )?
            .query_row(params![from_id, to_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if hash.len() != 32 || amount.len() != 32 {
            return Err(StoreError::Corrupt("bad tx hash or amount blob".into()));
        }
        Ok(Some(Transfer {
            block,
            timestamp,
            tx_hash: B256::from_slice(&hash),
            kind: Kind::from_code(kind)
                .ok_or_else(|| StoreError::Corrupt(format!("kind {kind}")))?,
            index: idx as u32,
            from: address_from_blob(&addresses.0)?,
            to: address_from_blob(&addresses.1)?,
            asset: parse_asset(&asset).map_err(|e| StoreError::Corrupt(e.0))?,
            amount: U256::from_be_slice(&amount),
        }))
    }

    /// The first stored block whose timestamp is at or after `time` (unix seconds),
    /// by binary search over the block-clustered table (block timestamps grow
    /// with the block number): O(log blocks) index seeks.
    pub fn block_at_or_after(&self, time: i64) -> Result<BlockAtTime, StoreError> {
        let mut first = self.conn.prepare_cached(
            "SELECT block, timestamp FROM transfers
             WHERE block >= ?1 AND timestamp IS NOT NULL ORDER BY block LIMIT 1",
        )?;
        let mut at_or_after = |b: i64| -> Result<Option<(u32, i64)>, StoreError> {
            Ok(first
                .query_row([b], |r| {
                    Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)?))
                })
                .optional()?)
        };
        let Some((mut lo, _)) = at_or_after(0)? else {
            return Ok(BlockAtTime::NoTimestamps);
        };
        let (mut hi, last_time): (u32, i64) = self.conn.query_row(
            "SELECT block, timestamp FROM transfers
             WHERE timestamp IS NOT NULL ORDER BY block DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?)),
        )?;
        if last_time < time {
            return Ok(BlockAtTime::AfterLast {
                block: hi,
                timestamp: last_time,
            });
        }
        // R(x) = "the first stored block at or after x has a timestamp >= time" is
        // false then true as x grows; find the smallest x where it holds.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match at_or_after(i64::from(mid))? {
                Some((_, t)) if t >= time => hi = mid,
                _ => lo = mid + 1,
            }
        }
        let (block, timestamp) = at_or_after(i64::from(lo))?
            .ok_or_else(|| StoreError::Corrupt("block timestamps changed during search".into()))?;
        let previous: Option<(u32, i64)> = self
            .conn
            .query_row(
                "SELECT block, timestamp FROM transfers
                 WHERE block < ?1 AND timestamp IS NOT NULL ORDER BY block DESC LIMIT 1",
                [block],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?)),
            )
            .optional()?;
        Ok(BlockAtTime::Found {
            block,
            timestamp,
            previous,
        })
    }

    /// Labels counted by list, version and category: (list, version, category,
    /// labels, distinct addresses), sorted.
    pub fn label_stats(&self) -> Result<Vec<LabelCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT list, version, category, COUNT(*), COUNT(DISTINCT address_id)
             FROM labels GROUP BY list, version, category ORDER BY list, version, category",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(LabelCount {
                list: r.get(0)?,
                version: r.get(1)?,
                category: r.get(2)?,
                labels: r.get::<_, i64>(3)? as u64,
                addresses: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Limits this connection's page cache to `mib` MiB (256 MiB when opened, for
    /// imports); pages beyond it are freed. A server's many short look-ups need
    /// little: the operating system caches the file as well.
    pub fn limit_cache(&self, mib: u32) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "cache_size", -(i64::from(mib) * 1024))?;
        Ok(())
    }

    /// Row counts: (transfers, addresses, labels, sources). Read without scanning
    /// the large tables (counting 50 M transfers takes seconds): rows are never
    /// deleted, every stored transfer is counted in its source's `inserted` in the
    /// transaction that stores it, and address ids are a table's row ids, given
    /// in order from 1.
    pub fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COALESCE(SUM(inserted), 0) FROM sources WHERE kind = 'transfers'),
                    (SELECT COALESCE(MAX(id), 0) FROM addresses),
                    (SELECT COUNT(*) FROM labels), (SELECT COUNT(*) FROM sources)",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            },
        )?)
    }

    /// The highest block stored, if any.
    pub fn max_block(&self) -> Result<Option<u32>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(block) FROM transfers", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .map(|b| b as u32))
    }

    /// The database file, if the store is a file.
    pub fn path(&self) -> Option<PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// A value that changes whenever the graph built from the store would: every
    /// transfer import that stores anything adds a source, a fetch counts each
    /// batch it stores in its source's `inserted`, and every new address takes the
    /// next id.
    pub fn graph_fingerprint(&self) -> Result<String, StoreError> {
        // A fetch adds one source and then transfers batch by batch, counting them
        // in its `inserted`: the sum changes with every batch.
        let (source, inserted, address): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM sources WHERE kind = 'transfers'),
                    (SELECT COALESCE(SUM(inserted), 0) FROM sources WHERE kind = 'transfers'),
                    (SELECT COALESCE(MAX(id), 0) FROM addresses)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(format!(
            "transfer-source {source}, inserted {inserted}, address {address}"
        ))
    }

    /// Makes every read through this store see one state of it, the one of the
    /// first read, until the returned guard is dropped, whatever other processes
    /// commit meanwhile (a read transaction: the WAL keeps the pages it sees, and
    /// writers are not held up, though no checkpoint gets past it, so the WAL grows
    /// while it is held; were the file not in WAL mode, writers would wait for it
    /// up to the busy timeout). Building an analysis reads the store many times
    /// (labels, fingerprint, addresses, edges, assets, transfers); a fetch or an
    /// import committing between two of those reads would give a graph and
    /// transfers that disagree. Inside such a guard (a transaction already open),
    /// another one does nothing. Nothing may be written through the store while it
    /// is held.
    pub fn read_snapshot(&self) -> Result<ReadSnapshot<'_>, StoreError> {
        let tx = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        Ok(ReadSnapshot { _tx: tx })
    }

    // ---- fetching from a node: chain id, checkpoints, batch inserts ----

    /// Tables for fetching, created when a fetch first opens the store:
    /// `fetched(kind, first, last)` holds the block ranges (inclusive) whose
    /// transfers of that kind are all stored; adjacent ranges are merged.
    const FETCH_SCHEMA: &'static str = "
        CREATE TABLE IF NOT EXISTS fetched(
            kind INTEGER NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY(kind, first)
        ) WITHOUT ROWID;";

    /// Prepares the store for a fetch from a node on chain `chain_id`: the first
    /// fetch records the chain id; a later one from another chain is refused
    /// (returns the stored id).
    pub fn begin_fetch(&mut self, chain_id: u64) -> Result<Result<(), u64>, StoreError> {
        self.conn.execute_batch(Self::FETCH_SCHEMA)?;
        let tx = self.conn.transaction()?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'chain_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match stored {
            Some(s) => {
                let id: u64 = s
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("chain id {s:?}")))?;
                if id != chain_id {
                    return Ok(Err(id));
                }
            }
            None => {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES ('chain_id', ?1)",
                    [chain_id.to_string()],
                )?;
            }
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    /// The chain id recorded by the first fetch, if any.
    pub fn chain_id(&self) -> Result<Option<u64>, StoreError> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'chain_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        stored
            .map(|s| {
                s.parse()
                    .map_err(|_| StoreError::Corrupt(format!("chain id {s:?}")))
            })
            .transpose()
    }

    /// The block ranges (inclusive, sorted) whose `kind` transfers are all stored.
    pub fn fetched_ranges(&self, kind: Kind) -> Result<Vec<(u32, u32)>, StoreError> {
        self.conn.execute_batch(Self::FETCH_SCHEMA)?;
        let mut stmt = self
            .conn
            .prepare("SELECT first, last FROM fetched WHERE kind = ?1 ORDER BY first")?;
        let rows = stmt.query_map([kind.code()], |r| {
            Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a source for one fetch run (`what` says node and range) and returns
    /// its id, for [`Store::insert_fetched`].
    pub fn add_fetch_source(&mut self, node: &str, what: &str) -> Result<i64, StoreError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.conn.execute(
            "INSERT INTO sources(kind, path, format, sha256, options, imported_at, rows, inserted)
             VALUES ('transfers', ?1, 'json-rpc', ?2, ?3, ?4, 0, 0)",
            params![
                node,
                format!("fetch-{nanos}-{}", std::process::id()),
                what,
                now_rfc3339()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Stores fetched transfers and records the block ranges they complete, in ONE
    /// transaction: after a crash either both are in the store or neither is, so
    /// a resumed fetch neither misses nor repeats a range. Transfers already stored
    /// (same identity) are ignored. Returns how many were new.
    pub fn insert_fetched(
        &mut self,
        source_id: i64,
        transfers: &[Transfer],
        done: &[(Kind, u32, u32)],
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut interner = Interner::new();
        let mut inserted = 0u64;
        {
            let mut single = tx.prepare_cached(&insert_sql(1))?;
            single.raw_bind_parameter(10, source_id)?;
            for t in transfers {
                let row = interner.ids(&tx, t)?;
                bind_transfer(&mut single, 0, t, &row)?;
                inserted += single.raw_execute()? as u64;
            }
            for &(kind, first, last) in done {
                // Merge with the ranges this one overlaps or touches.
                let (lo, hi): (i64, i64) = tx.query_row(
                    "SELECT MIN(MIN(first), ?2), MAX(MAX(last), ?3) FROM fetched
                     WHERE kind = ?1 AND first <= ?3 + 1 AND last + 1 >= ?2",
                    params![kind.code(), first, last],
                    |r| {
                        Ok((
                            r.get::<_, Option<i64>>(0)?.unwrap_or(i64::from(first)),
                            r.get::<_, Option<i64>>(1)?.unwrap_or(i64::from(last)),
                        ))
                    },
                )?;
                tx.execute(
                    "DELETE FROM fetched WHERE kind = ?1 AND first <= ?3 + 1 AND last + 1 >= ?2",
                    params![kind.code(), first, last],
                )?;
                tx.execute(
                    "INSERT INTO fetched(kind, first, last) VALUES (?1, ?2, ?3)",
                    params![kind.code(), lo, hi],
                )?;
            }
        }
        tx.execute(
            "UPDATE sources SET rows = rows + ?1, inserted = inserted + ?2 WHERE id = ?3",
            params![transfers.len() as i64, inserted as i64, source_id],
        )?;
        tx.commit()?;
        Ok(inserted)
    }

    /// Streams every stored transfer, zero amounts included, in the table's key
    /// order (block, tx hash, kind, index), for `export`.
    pub fn for_each_stored_transfer(
        &self,
        mut each: impl FnMut(&Transfer) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let addresses = self.addresses()?;
        let assets = self.assets()?;
        let mut stmt = self.conn.prepare(
            "SELECT block, tx_hash, kind, idx, timestamp, from_id, to_id, asset_id, amount
             FROM transfers ORDER BY block, tx_hash, kind, idx",
        )?;
        let mut rows = stmt.query([])?;
        let mut n = 0;
        let address = |id: i64| {
            addresses
                .get((id - 1) as usize)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("address id {id}")))
        };
        while let Some(row) = rows.next()? {
            let hash: Vec<u8> = row.get(1)?;
            let amount: Vec<u8> = row.get(8)?;
            if hash.len() != 32 || amount.len() != 32 {
                return Err(StoreError::Corrupt("bad tx hash or amount blob".into()));
            }
            let kind: i64 = row.get(2)?;
            let asset: i64 = row.get(7)?;
            let t = Transfer {
                block: row.get::<_, i64>(0)? as u32,
                timestamp: row.get(4)?,
                tx_hash: B256::from_slice(&hash),
                kind: Kind::from_code(kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("kind {kind}")))?,
                index: row.get::<_, i64>(3)? as u32,
                from: address(row.get(5)?)?,
                to: address(row.get(6)?)?,
                asset: *assets
                    .get((asset - 1) as usize)
                    .ok_or_else(|| StoreError::Corrupt(format!("asset id {asset}")))?,
                amount: U256::from_be_slice(&amount),
            };
            each(&t)?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before provenance (schema version 1) opens, keeps its
    /// labels, and takes labels of two versions of the same list.
    #[test]
    fn migrates_schema_version_1_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE addresses(id INTEGER PRIMARY KEY, address BLOB NOT NULL UNIQUE);
                 CREATE TABLE labels(
                    id INTEGER PRIMARY KEY,
                    address_id INTEGER NOT NULL REFERENCES addresses(id),
                    category TEXT NOT NULL, name TEXT, list TEXT NOT NULL,
                    since_block INTEGER,
                    source_id INTEGER NOT NULL REFERENCES sources(id),
                    UNIQUE(address_id, category, list));
                 CREATE TABLE sources(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
                    path TEXT NOT NULL, format TEXT NOT NULL, sha256 TEXT NOT NULL,
                    options TEXT NOT NULL DEFAULT '', imported_at TEXT NOT NULL,
                    rows INTEGER NOT NULL, inserted INTEGER NOT NULL,
                    UNIQUE(kind, sha256, options));
                 INSERT INTO sources VALUES (1, 'labels', 'old.csv', 'csv', 'x', '', 'now', 1, 1);
                 INSERT INTO meta VALUES ('schema_version', '1');
                 INSERT INTO addresses VALUES (1, zeroblob(20));
                 INSERT INTO labels VALUES (1, 1, 'sanctioned', 'Old', 'ofac', 7, 1);",
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let labels = store.labels().unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].name.as_deref(), Some("Old"));
        assert_eq!(labels[0].since_block, Some(7));
        assert_eq!(labels[0].version, "");
        let version: String = store
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, "2");
        let file = dir.path().join("l.csv");
        std::fs::write(&file, "x").unwrap();
        let new = Label {
            address: Address::ZERO,
            category: Category::Sanctioned,
            list: "ofac".into(),
            version: "2026-08-20".into(),
            uid: Some("27307".into()),
            ..Label::default()
        };
        store.import_labels(&file, "test", "ofac", &[new]).unwrap();
        let labels = store.labels().unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[1].uid.as_deref(), Some("27307"));
        // Opening again does not migrate twice.
        drop(store);
        assert_eq!(Store::open(&path).unwrap().labels().unwrap().len(), 2);
    }

    /// The counts read without scanning equal the rows counted, after imports
    /// that overlap (duplicates are not stored again) and a file imported twice.
    #[test]
    fn counts_are_the_rows_stored() {
        let dir = tempfile::tempdir().unwrap();
        let row = |block: u32, n: u8, from: u8, to: u8| {
            format!(
                "{block},0x{},0x{},0x{},ETH,{}\n",
                format!("{n:02x}").repeat(32),
                format!("{from:02x}").repeat(20),
                format!("{to:02x}").repeat(20),
                u32::from(n) + 1
            )
        };
        let head = "block,tx_hash,from,to,asset,amount\n";
        let first = dir.path().join("a.csv");
        let second = dir.path().join("b.csv");
        std::fs::write(
            &first,
            format!("{head}{}{}", row(1, 1, 1, 2), row(2, 2, 2, 3)),
        )
        .unwrap();
        // One row again (not stored twice), one new row with a new address.
        std::fs::write(
            &second,
            format!("{head}{}{}", row(2, 2, 2, 3), row(3, 3, 3, 4)),
        )
        .unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        for file in [&first, &second, &first] {
            store.import_transfers(file, |_, _, _| {}).unwrap();
        }
        let counted: (i64, i64, i64, i64) = store
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM transfers), (SELECT COUNT(*) FROM addresses),
                        (SELECT COUNT(*) FROM labels), (SELECT COUNT(*) FROM sources)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(counted, (3, 4, 0, 2));
        assert_eq!(store.counts().unwrap(), (3, 4, 0, 2));
    }

    /// Evidence lookups find each hop's transfer, and their statement is prepared
    /// once, not again on each use as SQLite did while a plan could depend on the
    /// values bound (see [`Store::open`]).
    #[test]
    fn evidence_lookups_are_prepared_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.csv");
        let address = |n: u8| format!("0x{}", format!("{n:02x}").repeat(20));
        let mut csv = String::from("block,tx_hash,from,to,asset,amount\n");
        for n in 1..=3u8 {
            csv += &format!(
                "{},0x{},{},{},ETH,{}\n",
                10 * u32::from(n),
                format!("{n:02x}").repeat(32),
                address(n),
                address(n + 1),
                100 + u32::from(n)
            );
        }
        std::fs::write(&file, csv).unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        store.import_transfers(&file, |_, _, _| {}).unwrap();
        // Address ids follow first appearance: 0x01.. is 0, 0x02.. is 1, ...
        for n in 1..=3u32 {
            let found = store.find_transfer(n - 1, n, 10 * n).unwrap().unwrap();
            assert_eq!((found.block, found.amount), (10 * n, U256::from(100 + n)));
            assert_eq!(found.from, Address::repeat_byte(n as u8));
        }
        assert!(store.find_transfer(0, 1, 20).unwrap().is_none());
        let stmt = store.conn.prepare_cached(FIND_TRANSFER).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 4);
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    /// Transfers stream in chain order (block, then tx hash, kind, index) whatever
    /// the file's order, zero amounts left out, with dense asset ids.
    #[test]
    fn transfers_stream_in_chain_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.csv");
        let a = "0x00000000000000000000000000000000000000aa";
        let b = "0x00000000000000000000000000000000000000bb";
        let usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7";
        let tx = |n: u8| format!("0x{}", format!("{n:02x}").repeat(32));
        std::fs::write(
            &file,
            format!(
                "block,tx_hash,from,to,asset,amount\n\
                 7,{},{a},{b},ETH,3\n\
                 5,{},{b},{a},{usdt},2\n\
                 5,{},{a},{b},ETH,1\n\
                 6,{},{a},{b},ETH,0\n",
                tx(1),
                tx(9),
                tx(2),
                tx(3)
            ),
        )
        .unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        store.import_transfers(&file, |_, _, _| {}).unwrap();
        let addresses = store.addresses().unwrap();
        let assets = store.assets().unwrap();
        let mut got = Vec::new();
        let n = store
            .for_each_transfer(|block, from, to, asset, amount| {
                got.push((
                    block,
                    crate::transfer::lower_hex(&addresses[from as usize]),
                    crate::transfer::lower_hex(&addresses[to as usize]),
                    assets[asset as usize].to_string(),
                    amount.to::<u64>(),
                ));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n, 3);
        let row = |block, from: &str, to: &str, asset: &str, amount| {
            (
                block,
                from.to_string(),
                to.to_string(),
                asset.to_string(),
                amount,
            )
        };
        assert_eq!(
            got,
            [
                row(5, a, b, "ETH", 1),
                row(5, b, a, usdt, 2),
                row(7, a, b, "ETH", 3),
            ]
        );
        // Told to stop at the second transfer, it streams no more.
        let mut blocks = Vec::new();
        let n = store
            .for_each_transfer(|block, _, _, _, _| {
                blocks.push(block);
                if blocks.len() == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!((n, blocks), (2, vec![5, 5]));
    }
}
