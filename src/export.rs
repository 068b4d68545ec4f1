//! `hoptrace export transfers`: the store's transfers in hoptrace's canonical CSV
//! (`block,timestamp,tx_hash,kind,index,from,to,asset,amount`), the format
//! `import transfers` reads, so that export then import rebuilds the same
//! transfers with the same identities. Rows come in the store's key order
//! (block, tx hash, kind, index), so two stores with the same transfers export
//! byte-identical files, which is how the tests compare fetches.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::{Store, StoreError};
use crate::transfer::{Transfer, lower_hex};

/// The header of the canonical CSV.
pub const HEADER: [&str; 9] = [
    "block",
    "timestamp",
    "tx_hash",
    "kind",
    "index",
    "from",
    "to",
    "asset",
    "amount",
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database file does not exist.
    #[error("no database at {0}: fetch or import transfers first")]
    NoDatabase(PathBuf),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error("cannot write {target}")]
    Write {
        /// The file, or standard output.
        target: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The canonical CSV.
    Csv,
}

/// `hoptrace export` subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ExportCommand {
    /// Every stored transfer, in the CSV that `import transfers` reads back.
    Transfers {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// One CSV record of a transfer.
pub fn record(t: &Transfer) -> [String; 9] {
    [
        t.block.to_string(),
        t.timestamp.map(|s| s.to_string()).unwrap_or_default(),
        format!("{}", t.tx_hash),
        t.kind.as_str().to_string(),
        t.index.to_string(),
        lower_hex(&t.from),
        lower_hex(&t.to),
        t.asset.to_string(),
        t.amount.to_string(),
    ]
}

/// Writes every transfer of `store` to `out` as canonical CSV; returns the count.
pub fn write_transfers(store: &Store, out: impl Write, target: &str) -> Result<u64, ExportError> {
    let io = |source: std::io::Error| ExportError::Write {
        target: target.to_string(),
        source,
    };
    let csv_io = |e: csv::Error| io(crate::report::csv_io(e));
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER).map_err(csv_io)?;
    let mut failed: Option<ExportError> = None;
    let n = store.for_each_stored_transfer(|t| {
        if let Err(e) = w.write_record(record(t)) {
            failed = Some(csv_io(e));
            return Err(StoreError::Corrupt("export stopped".into()));
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let n = n?;
    w.flush().map_err(io)?;
    Ok(n)
}

/// `hoptrace export ...` on the database at `db`.
pub fn run_cli(db: &Path, command: &ExportCommand) -> Result<(), ExportError> {
    let ExportCommand::Transfers { format, output } = command;
    let ExportFormat::Csv = format;
    if !db.exists() {
        return Err(ExportError::NoDatabase(db.to_path_buf()));
    }
    let store = Store::open(db)?;
    let n = match output {
        Some(path) => {
            let target = path.display().to_string();
            let file = std::fs::File::create(path).map_err(|source| ExportError::Write {
                target: target.clone(),
                source,
            })?;
            let n = write_transfers(&store, std::io::BufWriter::new(file), &target)?;
            eprintln!("{n} transfers written to {target}");
            n
        }
        None => {
            let stdout = std::io::stdout();
            write_transfers(&store, stdout.lock(), "standard output")?
        }
    };
    tracing::info!(target: "export", transfers = n, "exported");
    Ok(())
}
