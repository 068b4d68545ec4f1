//! The `hoptrace` command line. Arguments are parsed here, resolved once into
//! settings, and handed to the library; this is the only place that talks to the
//! terminal. Errors print as `hoptrace: error: ...` and exit with status 1 (usage
//! errors exit 2, from clap).

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::Address;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use hoptrace::analysis::{self, Analysis, setup};
use hoptrace::bench::{self, Synthetic};
use hoptrace::exposure::Step;
use hoptrace::graph::{AddressIndex, Direction, Graph};
use hoptrace::import::read_wallets;
use hoptrace::labels::Category;
use hoptrace::labels::diff::{self, Change};
use hoptrace::labels::formats::{self, LabelFormat, ReadOptions};
use hoptrace::policy::Policy;
use hoptrace::report::{self, Evidence, Format, PathTransfer};
use hoptrace::store::{Store, StoreError};
use hoptrace::transfer::parse_address;

/// How close is a wallet to known bad money? Time-respecting hops from labelled
/// seeds, with the evidence path.
#[derive(Parser, Debug)]
#[command(name = "hoptrace", version, about)]
struct Cli {
    /// The SQLite database.
    #[arg(
        long,
        global = true,
        env = "HOPTRACE_DB",
        default_value = "hoptrace.db"
    )]
    db: PathBuf,

    /// Say more on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Take the haircut's large arrays of state from the kernel's huge page pool
    /// (`vm.nr_hugepages`) when it has room; otherwise, or without this, from
    /// ordinary memory. Same results either way (README, "Huge page pool").
    #[arg(long, global = true, env = "HOPTRACE_HUGE_POOL", value_parser = clap::builder::BoolishValueParser::new())]
    huge_pool: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import transfers or labels into the store.
    #[command(subcommand)]
    Import(ImportCommand),
    /// List every address reached from the seeds within N hops.
    Trace(TraceArgs),
    /// Check addresses: hops, seed, evidence and risk level.
    Check(CheckArgs),
    /// Score a CSV list of wallets (an `address` column; other columns are kept).
    Score(ScoreArgs),
    /// Import the bundled Ronin/Lazarus fixtures into a temporary database and score
    /// the bundled wallet list. Needs no network.
    Demo,
    /// Show what the store holds.
    Stats,
    /// Label lists: counts in the store, and what changed between two versions.
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// Run the synthetic benchmark (see README).
    Bench(BenchArgs),
    /// The screening policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Explain score changes between two `check --format json` reports: for each
    /// address whose score changed, whether labels, transfers or the policy changed.
    Diff {
        /// The older report.
        old: PathBuf,
        /// The newer report.
        new: PathBuf,
    },
    /// Fetch native, internal and ERC-20 transfers from an EVM JSON-RPC node
    /// (resumable: a re-run continues where the last one stopped).
    Fetch(hoptrace::fetch::FetchArgs),
    /// Write the store's contents out.
    #[command(subcommand)]
    Export(hoptrace::export::ExportCommand),
    /// Follow the labelled seeds' outgoing transfers hop by hop from a node,
    /// fetching only those addresses' transfers.
    Crawl(hoptrace::crawl::CrawlArgs),
    /// The screening server: an HTTP API answering `check` from memory (see
    /// README, "Screening server").
    Serve(hoptrace::serve::ServeArgs),
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Print the default policy (canonical TOML) and its hash.
    Show {
        /// Show this policy file (canonicalised) instead of the defaults.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Transfer CSVs: hoptrace's own, ethereum-etl, or Etherscan exports.
    Transfers {
        /// Files to import; each is one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Label files: hoptrace CSV, OFAC SDN.XML / sdn.csv / JSON, address lists,
    /// GraphSense TagPacks, Etherscan label sets, tutela (detected; see README).
    Labels {
        /// Files to import; each is one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The list name (for CSV: rows without a `source`; default: the format's
        /// own, e.g. `ofac-sdn`, else the file's name).
        #[arg(long)]
        list: Option<String>,
        /// The list's version or date (default: what the file says, e.g. the SDN
        /// publish date).
        #[arg(long)]
        version: Option<String>,
        /// The format (default: detected from the name and content).
        #[arg(long, value_enum)]
        format: Option<LabelFormat>,
        /// The category of every address of an address list (which carries none).
        #[arg(long)]
        category: Option<Category>,
        /// Tainted from this block on, for every label without its own since_block.
        #[arg(long)]
        since_block: Option<u32>,
        /// Tainted from this date (YYYY-MM-DD, or an RFC 3339 time) on, for every
        /// label without its own since_block or since_date; it becomes a block
        /// through the stored block timestamps when hops are computed.
        #[arg(long, value_parser = parse_since_date)]
        since_date: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum LabelsCommand {
    /// Labels in the store, counted by list, version and category.
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// What changed between two label files of the same list: added, removed,
    /// recategorised, changed details. Reads the files; the store is not used.
    Diff {
        /// The older file.
        old: PathBuf,
        /// The newer file.
        new: PathBuf,
        /// The input format of both files (default: detected per file).
        #[arg(long, value_enum)]
        input_format: Option<LabelFormat>,
        /// The category of address lists (which carry none).
        #[arg(long)]
        category: Option<Category>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug, Clone)]
struct SearchArgs {
    /// Stop after this many hops (default: the policy's max_hops, 6 by default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1000))]
    max_hops: Option<u32>,
    /// The screening policy, a TOML file (see `hoptrace policy show`).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Skip the haircut (one pass over every stored transfer): no shares, and
    /// scores take every reached address as fully tainted (the poison view).
    #[arg(long)]
    no_haircut: bool,
    /// Ignore block order and since-blocks: plain BFS hops, as most tools give
    /// (over-reports; for comparison).
    #[arg(long)]
    ignore_time: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DirectionArg {
    Downstream,
    Upstream,
    Both,
}

impl DirectionArg {
    fn directions(self) -> Vec<Direction> {
        match self {
            DirectionArg::Downstream => vec![Direction::Downstream],
            DirectionArg::Upstream => vec![Direction::Upstream],
            DirectionArg::Both => vec![Direction::Downstream, Direction::Upstream],
        }
    }
}

#[derive(Args, Debug)]
struct TraceArgs {
    /// Follow funds received from seeds (downstream), sent to seeds (upstream), or both.
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    direction: DirectionArg,
    #[command(flatten)]
    search: SearchArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Addresses to check (0x + 40 hex).
    #[arg(required = true)]
    addresses: Vec<String>,
    #[command(flatten)]
    search: SearchArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    format: CheckFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScoreFormat {
    Csv,
    Table,
}

#[derive(Args, Debug)]
struct ScoreArgs {
    /// The wallet list: a CSV with an `address` column.
    wallets: PathBuf,
    #[command(flatten)]
    search: SearchArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Csv)]
    format: ScoreFormat,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Transfers in the synthetic graph.
    #[arg(long, default_value_t = 50_000_000)]
    transfers: usize,
    /// Addresses in the synthetic graph.
    #[arg(long, default_value_t = 5_000_000)]
    addresses: usize,
    /// Seeds.
    #[arg(long, default_value_t = 1000)]
    seeds: usize,
    /// Hop limit for the searches.
    #[arg(long, default_value_t = 100)]
    max_hops: u32,
    /// Rows for the CSV import measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    import_rows: usize,
    /// Random seed of the generator.
    #[arg(long, default_value_t = 42)]
    rng_seed: u64,
    /// Assets of the haircut's transfers: 2 is 90 % and 10 %; more follow Zipf's
    /// law (asset a in proportion to 1/(a+1)).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    assets: u32,
    /// Also run petgraph's BFS on the same graph (checked equal, timed).
    #[arg(long)]
    peers: bool,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a graph of this many transfers (and a tenth as many addresses) with
    /// hoptrace's untimed hops to DIR for the Python peers (`bench/peers.py`).
    #[arg(long, value_name = "DIR")]
    export_peers: Option<PathBuf>,
    /// Size of the exported peer graph.
    #[arg(long, default_value_t = 1_000_000)]
    peer_transfers: usize,
    /// Wallets scored by `score` on the imported store (0 skips it; needs
    /// --import-rows).
    #[arg(long, default_value_t = 1_000_000)]
    score_wallets: usize,
    /// Run only the haircut step on the synthetic graph (no import, no searches).
    #[arg(long)]
    haircut_only: bool,
    /// Passes of the haircut in the same process (with --haircut-only): the
    /// first one makes its memory fresh, the later ones reuse what the process
    /// has just freed (figures `haircut_s` and `haircut_later_s`, the fastest
    /// later pass).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100), requires = "haircut_only")]
    haircut_passes: u32,
    /// Write the synthetic graph's snapshot to FILE and stop (for --from-snapshot).
    #[arg(long, value_name = "FILE")]
    write_snapshot: Option<PathBuf>,
    /// Load the graph from a snapshot written by --write-snapshot (mapped when it
    /// is larger than half the memory allowed, e.g. under a memory-limited control
    /// group) and time the searches on it; no generation, import or haircut.
    #[arg(long, value_name = "FILE", conflicts_with = "write_snapshot")]
    from_snapshot: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        // Colour for people; none in log files and pipes (or with NO_COLOR set).
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .init();
    hoptrace::pool::use_huge_pool(cli.huge_pool);
    match run(cli) {
        Ok(()) => {}
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                std::process::exit(0);
            }
            eprintln!("hoptrace: error: {}", error_text(&e));
            std::process::exit(1);
        }
    }
}

/// An error and its causes, `: `-separated; a cause that the message before it
/// already ends with (an error that quotes its source) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Import(ImportCommand::Transfers { files }) => {
            let mut store = Store::open(&cli.db)?;
            import_transfers(&mut store, &files)
        }
        Command::Import(ImportCommand::Labels {
            files,
            list,
            version,
            format,
            category,
            since_block,
            since_date,
        }) => {
            let mut store = Store::open(&cli.db)?;
            let options = ReadOptions {
                list,
                version,
                category,
                since_block,
                since_date,
            };
            import_labels(&mut store, &files, &options, format)
        }
        Command::Trace(args) => trace(&cli.db, args),
        Command::Check(args) => check(&cli.db, args),
        Command::Score(args) => score(&cli.db, args),
        Command::Demo => demo(),
        Command::Stats => stats(&cli.db),
        Command::Labels(LabelsCommand::Stats { format }) => label_stats(&cli.db, format),
        Command::Labels(LabelsCommand::Diff {
            old,
            new,
            input_format,
            category,
            format,
        }) => label_diff(&old, &new, input_format, category, format),
        Command::Bench(args) => run_bench(args),
        Command::Policy(PolicyCommand::Show { file }) => policy_show(file.as_deref()),
        Command::Diff { old, new } => score_diff(&old, &new),
        Command::Fetch(args) => Ok(hoptrace::fetch::run_cli(&cli.db, &args)?),
        Command::Export(command) => Ok(hoptrace::export::run_cli(&cli.db, &command)?),
        Command::Crawl(args) => Ok(hoptrace::crawl::run_cli(&cli.db, &args)?),
        Command::Serve(args) => Ok(hoptrace::serve::run(&cli.db, args)?),
    }
}

fn parse_since_date(s: &str) -> Result<String, String> {
    hoptrace::labels::parse_date(s).map_err(|e| e.0)
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn import_transfers(store: &mut Store, files: &[PathBuf]) -> Result<()> {
    for path in files {
        let bar = progress_bar(0);
        bar.set_message(path.display().to_string());
        let t = Instant::now();
        let summary = store.import_transfers(path, |done, total, _rows| {
            bar.set_length(total);
            bar.set_position(done);
        });
        bar.finish_and_clear();
        let summary = summary?;
        if summary.already_imported {
            eprintln!(
                "{}: already imported ({} rows, {}); nothing changed",
                path.display(),
                summary.rows,
                summary.format
            );
            continue;
        }
        let secs = t.elapsed().as_secs_f64();
        let creations = if summary.skipped_no_receiver > 0 {
            format!(
                ", {} contract creations without the new address skipped",
                summary.skipped_no_receiver
            )
        } else {
            String::new()
        };
        eprintln!(
            "{}: {} rows as {}, {} new transfers, {} failed-transaction rows skipped{} ({:.0} rows/s)",
            path.display(),
            summary.rows,
            summary.format,
            summary.inserted,
            summary.skipped_failed,
            creations,
            summary.rows as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn import_labels(
    store: &mut Store,
    files: &[PathBuf],
    options: &ReadOptions,
    format: Option<LabelFormat>,
) -> Result<()> {
    for path in files {
        let format = match format {
            Some(f) => f,
            None => formats::detect(path)?,
        };
        let read = formats::read(path, format, options)?;
        // The source's identity: the same file under another list or version is
        // another source.
        let mut identity = match &options.list {
            Some(l) => l.clone(),
            None if format == LabelFormat::Csv => read.list.clone(),
            None => String::new(),
        };
        if let Some(v) = &options.version {
            identity = format!("{identity};version={v}");
        }
        if let Some(b) = options.since_block {
            identity = format!("{identity};since_block={b}");
        }
        if let Some(d) = &options.since_date {
            identity = format!("{identity};since_date={d}");
        }
        let summary = store.import_labels(path, format.as_str(), &identity, &read.labels)?;
        if summary.already_imported {
            eprintln!("{}: already imported; nothing changed", path.display());
            continue;
        }
        if format == LabelFormat::Csv {
            eprintln!(
                "{}: {} labels, {} new or changed",
                path.display(),
                summary.rows,
                summary.inserted
            );
        } else {
            let version = if read.version.is_empty() {
                "no version".to_string()
            } else {
                format!("version {}", read.version)
            };
            eprintln!(
                "{}: {} labels as {} (list {}, {}), {} new or changed",
                path.display(),
                summary.rows,
                format.as_str(),
                read.list,
                version,
                summary.inserted
            );
        }
        if !read.skipped.is_empty() {
            let n: u64 = read.skipped.values().sum();
            eprintln!(
                "{}: {n} entries skipped: {}",
                path.display(),
                formats::summary(&read.skipped)
            );
        }
        if !read.unmapped.is_empty() {
            let n: u64 = read.unmapped.values().sum();
            let mut shown = read.unmapped.clone();
            let total_tags = shown.len();
            if total_tags > 20 {
                let mut v: Vec<(String, u64)> = shown.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(20);
                shown = v.into_iter().collect();
            }
            eprintln!(
                "{}: {n} tags ({total_tags} distinct) map to no category and are stored as `other`: {}{}",
                path.display(),
                formats::summary(&shown),
                if total_tags > 20 { ", ..." } else { "" }
            );
        }
    }
    Ok(())
}

/// Opens an existing store (a missing file is an error, not a new empty database).
fn open_existing(db: &Path) -> Result<Store> {
    if !db.exists() {
        bail!(
            "database {} does not exist: import transfers first (hoptrace --db {} import transfers FILE)",
            db.display(),
            db.display()
        );
    }
    Ok(Store::open(db)?)
}

fn analyse(store: &Store, search: SearchArgs, directions: &[Direction]) -> Result<Analysis> {
    let options = setup::Options {
        policy: search.policy,
        max_hops: search.max_hops,
        no_haircut: search.no_haircut,
        ignore_time: search.ignore_time,
    };
    Ok(setup::analyse(
        store,
        &options,
        directions,
        |kind, message| eprintln!("hoptrace: {}: {message}", kind.as_str()),
    )?)
}

/// Resolves an evidence step (graph nodes) to the stored transfer it stands for,
/// rendered for a report.
fn lookup<'a>(
    store: &'a Store,
    graph: &'a Graph,
) -> impl FnMut(Step) -> Result<Arc<PathTransfer>> + 'a {
    let mut lookup = setup::lookup(store, graph);
    move |s: Step| Ok(Arc::new(PathTransfer::from(&lookup(s)?)))
}

/// Writes through `write` to `output` (atomically: a temporary file renamed into
/// place) or to stdout.
fn emit(output: Option<&Path>, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            {
                let mut w = io::BufWriter::new(tmp.as_file_mut());
                write(&mut w)?;
                w.flush()?;
            }
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(())
        }
        None => {
            let stdout = io::stdout();
            let mut w = io::BufWriter::new(stdout.lock());
            write(&mut w)?;
            w.flush()?;
            Ok(())
        }
    }
}

fn trace(db: &Path, args: TraceArgs) -> Result<()> {
    let store = open_existing(db)?;
    let a = analyse(&store, args.search, &args.direction.directions())?;
    let mut evidence = Evidence::new(lookup(&store, &a.graph));
    emit(args.output.as_deref(), |w| {
        let findings = report::findings(&a, &mut evidence);
        report::write_findings(findings, args.format, &a.policy, w)
    })
}

fn parse_addresses(texts: &[String]) -> Result<Vec<Address>> {
    texts
        .iter()
        .map(|t| parse_address(t).map_err(|e| anyhow::anyhow!("invalid address: {e}")))
        .collect()
}

fn check(db: &Path, args: CheckArgs) -> Result<()> {
    let addresses = parse_addresses(&args.addresses)?;
    let store = open_existing(db)?;
    let a = analyse(
        &store,
        args.search,
        &[Direction::Downstream, Direction::Upstream],
    )?;
    let mut evidence = Evidence::new(lookup(&store, &a.graph));
    let provenance = Arc::new(report::provenance(&a));
    let results = addresses
        .iter()
        .map(|addr| report::check(&a, &provenance, addr, a.node(addr), &mut evidence))
        .collect::<Result<Vec<_>>>()?;
    emit(None, |w| {
        match args.format {
            CheckFormat::Json => {
                serde_json::to_writer_pretty(&mut *w, &results)?;
                writeln!(w)?;
            }
            CheckFormat::Table => report::write_check_table(&results, w)?,
        }
        Ok(())
    })
}

fn score(db: &Path, args: ScoreArgs) -> Result<()> {
    let (header, rows) = read_wallets(&args.wallets).map_err(StoreError::from)?;
    let store = open_existing(db)?;
    let a = analyse(
        &store,
        args.search,
        &[Direction::Downstream, Direction::Upstream],
    )?;
    let hash = a.policy.hash();
    let data_block = a.data_block.map(|b| b.to_string()).unwrap_or_default();
    let index = AddressIndex::new(&a.graph);
    let scored: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(mut fields, address)| {
            let node = index.node(&a.graph, &address);
            fields.extend(report::score_columns(&a, node, &hash, &data_block));
            fields
        })
        .collect();
    let mut header = header;
    let given = header.len();
    header.extend(report::SCORE_COLUMNS.map(String::from));
    if a.policy.fifo {
        header.extend(report::SCORE_FIFO_COLUMNS.map(String::from));
    }
    emit(args.output.as_deref(), |w| {
        match args.format {
            ScoreFormat::Csv => {
                let mut out = csv::Writer::from_writer(w);
                out.write_record(&header)?;
                for row in &scored {
                    out.write_record(row)?;
                }
                out.flush()?;
            }
            ScoreFormat::Table => {
                // For people: the hop columns only; the score and exposure columns
                // are in the CSV and in `check`.
                let shown = given + 4;
                let header: Vec<&str> = header[..shown].iter().map(String::as_str).collect();
                let rows: Vec<Vec<String>> = scored
                    .iter()
                    .map(|r| {
                        let mut r = r[..shown].to_vec();
                        if let Some(last) = r.last_mut()
                            && last.is_empty()
                        {
                            *last = "none".into();
                        }
                        r
                    })
                    .collect();
                report::write_table(w, &header, &rows)?;
            }
        }
        Ok(())
    })
}

const DEMO_TRANSFERS: &str = include_str!("../fixtures/ronin/transfers.csv");
const DEMO_LABELS: &str = include_str!("../fixtures/ronin/labels.csv");
const DEMO_WALLETS: &str = include_str!("../fixtures/ronin/wallets.csv");

fn demo() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let p = dir.path().join(name);
        std::fs::write(&p, text)?;
        Ok(p)
    };
    let transfers = write("ronin-tornado-withdrawals.csv", DEMO_TRANSFERS)?;
    let labels = write("ofac-and-tornado-labels.csv", DEMO_LABELS)?;
    let wallets = write("ronin-wallets.csv", DEMO_WALLETS)?;
    let db = dir.path().join("demo.db");
    let mut store = Store::open(&db)?;
    import_transfers(&mut store, &[transfers])?;
    import_labels(&mut store, &[labels], &ReadOptions::default(), None)?;
    drop(store);
    emit(None, |w| {
        writeln!(
            w,
            "Ronin bridge theft (Lazarus), March 2022: 1,732 Tornado Cash 100 ETH withdrawals \
             to the\nexploiter's withdrawal wallets, with the OFAC SDN list of 2025-02-26 as \
             seeds.\n"
        )?;
        Ok(())
    })?;
    score(
        &db,
        ScoreArgs {
            wallets,
            search: SearchArgs {
                max_hops: None,
                policy: None,
                no_haircut: false,
                ignore_time: false,
            },
            format: ScoreFormat::Table,
            output: None,
        },
    )
}

fn stats(db: &Path) -> Result<()> {
    let store = open_existing(db)?;
    let snapshot = store.read_snapshot()?;
    let (transfers, addresses, labels, sources) = store.counts()?;
    let latest = store.max_block()?;
    drop(snapshot);
    // Through `emit`, so that `stats | head` ends quietly instead of panicking.
    emit(None, |w| {
        writeln!(w, "database      {}", db.display())?;
        writeln!(w, "transfers     {transfers}")?;
        writeln!(w, "addresses     {addresses}")?;
        writeln!(w, "labels        {labels}")?;
        writeln!(w, "sources       {sources}")?;
        if let Some(b) = latest {
            writeln!(w, "latest block  {b}")?;
        }
        Ok(())
    })
}

fn label_stats(db: &Path, format: ListFormat) -> Result<()> {
    let store = open_existing(db)?;
    let counts = store.label_stats()?;
    emit(None, |w| {
        match format {
            ListFormat::Json => {
                serde_json::to_writer_pretty(&mut *w, &counts)?;
                writeln!(w)?;
            }
            ListFormat::Csv => {
                let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(w);
                out.write_record(["list", "version", "category", "labels", "addresses"])?;
                for c in &counts {
                    out.serialize(c)?;
                }
                out.flush()?;
            }
            ListFormat::Table => {
                let rows: Vec<Vec<String>> = counts
                    .iter()
                    .map(|c| {
                        vec![
                            c.list.clone(),
                            c.version.clone(),
                            c.category.clone(),
                            c.labels.to_string(),
                            c.addresses.to_string(),
                        ]
                    })
                    .collect();
                report::write_table(
                    w,
                    &["list", "version", "category", "labels", "addresses"],
                    &rows,
                )?;
            }
        }
        Ok(())
    })
}

fn label_diff(
    old: &Path,
    new: &Path,
    input_format: Option<LabelFormat>,
    category: Option<Category>,
    format: ListFormat,
) -> Result<()> {
    let options = ReadOptions {
        category,
        ..ReadOptions::default()
    };
    let read = |path: &Path| -> Result<formats::LabelRead> {
        let f = match input_format {
            Some(f) => f,
            None => formats::detect(path)?,
        };
        Ok(formats::read(path, f, &options)?)
    };
    let (a, b) = (read(old)?, read(new)?);
    // The list(s) and version(s) the labels carry (a CSV names its own).
    let names = |r: &formats::LabelRead| {
        let set = |f: &dyn Fn(&hoptrace::labels::Label) -> &str| {
            r.labels
                .iter()
                .map(f)
                .filter(|s| !s.is_empty())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        };
        (set(&|l| l.list.as_str()), set(&|l| l.version.as_str()))
    };
    let describe = |r: &formats::LabelRead, path: &Path| {
        let addresses: std::collections::BTreeSet<_> = r.labels.iter().map(|l| l.address).collect();
        let (list, version) = names(r);
        format!(
            "{} (list {}, version {}, {} addresses)",
            path.display(),
            list,
            if version.is_empty() {
                "unknown"
            } else {
                &version
            },
            addresses.len()
        )
    };
    let (list_a, list_b) = (names(&a).0, names(&b).0);
    if list_a != list_b {
        eprintln!(
            "hoptrace: warning: the files are of different lists ({list_a} and {list_b}): the diff compares them anyway"
        );
    }
    let rows = diff::diff(&a.labels, &b.labels);
    let mut counts: std::collections::BTreeMap<Change, u64> = Default::default();
    let mut removed_by_entity: std::collections::BTreeMap<String, u64> = Default::default();
    for r in &rows {
        *counts.entry(r.change).or_default() += 1;
        if r.change == Change::Removed {
            *removed_by_entity.entry(r.entity.clone()).or_default() += 1;
        }
    }
    let n = |c| counts.get(&c).copied().unwrap_or(0);
    eprintln!("old: {}", describe(&a, old));
    eprintln!("new: {}", describe(&b, new));
    eprintln!(
        "{} added, {} removed, {} recategorised, {} changed",
        n(Change::Added),
        n(Change::Removed),
        n(Change::Recategorised),
        n(Change::Changed)
    );
    if !removed_by_entity.is_empty() {
        eprintln!(
            "removed by entity: {}",
            formats::summary(&removed_by_entity)
        );
    }
    emit(None, |w| {
        match format {
            ListFormat::Json => {
                serde_json::to_writer_pretty(&mut *w, &rows)?;
                writeln!(w)?;
            }
            ListFormat::Csv => {
                let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(w);
                out.write_record([
                    "change",
                    "address",
                    "old_category",
                    "new_category",
                    "entity",
                    "detail",
                ])?;
                for r in &rows {
                    out.serialize(r)?;
                }
                out.flush()?;
            }
            ListFormat::Table => {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.change.as_str().to_string(),
                            r.address.clone(),
                            r.old_category.clone(),
                            r.new_category.clone(),
                            r.entity.clone(),
                            r.detail.clone(),
                        ]
                    })
                    .collect();
                report::write_table(
                    w,
                    &["change", "address", "old", "new", "entity", "detail"],
                    &table,
                )?;
            }
        }
        Ok(())
    })
}

fn run_bench(args: BenchArgs) -> Result<()> {
    let params = Synthetic {
        transfers: args.transfers,
        addresses: args.addresses,
        seeds: args.seeds,
        rng_seed: args.rng_seed,
        assets: args.assets,
    };
    if args.addresses == 0 || args.transfers == 0 {
        bail!("--transfers and --addresses must be positive");
    }
    let mut out = io::stdout();
    let mut figures = bench::Figures::default();
    if args.haircut_only {
        bench::run_haircut(params, args.haircut_passes, &mut figures, &mut out)?;
        return emit_figures(args.json.as_deref(), &figures);
    }
    if let Some(path) = &args.write_snapshot {
        bench::write_synthetic_snapshot(params, path, &mut out)?;
        return Ok(());
    }
    if let Some(path) = &args.from_snapshot {
        bench::run_from_snapshot(params, path, args.max_hops, &mut figures, &mut out)?;
        return emit_figures(args.json.as_deref(), &figures);
    }
    if args.import_rows > 0 {
        let dir = tempfile::tempdir()?;
        let csv = dir.path().join("bench.csv");
        let import_params = Synthetic {
            transfers: args.import_rows,
            addresses: (args.import_rows / 10).max(1),
            ..params
        };
        bench::write_csv(import_params, &csv)?;
        let t = Instant::now();
        let mut reader = hoptrace::import::TransferReader::open(&csv)?;
        while reader.next_transfer()?.is_some() {}
        let secs = t.elapsed().as_secs_f64();
        figures.set("csv_parse_rows_per_s", reader.rows() as f64 / secs);
        writeln!(
            out,
            "CSV parse only: {} rows in {:.2} s = {:.0} rows/s",
            reader.rows(),
            secs,
            reader.rows() as f64 / secs
        )?;
        let mut store = Store::open(&dir.path().join("bench.db"))?;
        let t = Instant::now();
        let summary = store.import_transfers(&csv, |_, _, _| {})?;
        let secs = t.elapsed().as_secs_f64();
        figures.set("csv_import_transfers_per_s", summary.rows as f64 / secs);
        writeln!(
            out,
            "CSV import: {} rows in {:.2} s = {:.0} transfers/s",
            summary.rows,
            secs,
            summary.rows as f64 / secs
        )?;
        figures.peak("import", args.import_rows, &mut out)?;
        let t = Instant::now();
        let (graph, _) = analysis::load(&store)?;
        figures.set("graph_load_sqlite_s", t.elapsed().as_secs_f64());
        writeln!(
            out,
            "graph load from SQLite (and snapshot written): {} edges in {:.2} s",
            graph.edge_count(),
            t.elapsed().as_secs_f64()
        )?;
        figures.peak("graph_load_sqlite", args.import_rows, &mut out)?;
        drop(graph);
        let t = Instant::now();
        let (graph, _) = analysis::load(&store)?;
        figures.set("graph_load_snapshot_s", t.elapsed().as_secs_f64());
        writeln!(
            out,
            "graph load from snapshot: {} edges in {:.2} s",
            graph.edge_count(),
            t.elapsed().as_secs_f64()
        )?;
        figures.peak("graph_load_snapshot", args.import_rows, &mut out)?;
        drop(graph);
        drop(store);
        if args.score_wallets > 0 {
            bench_score(
                dir.path(),
                import_params,
                args.score_wallets,
                &mut figures,
                &mut out,
            )?;
        }
    }
    if let Some(dir) = &args.export_peers {
        let peer_params = Synthetic {
            transfers: args.peer_transfers,
            addresses: (args.peer_transfers / 10).max(1),
            ..params
        };
        bench::export_for_peers(peer_params, args.max_hops, dir, &mut figures)?;
        writeln!(out, "peer graph written to {}", dir.display())?;
    }
    bench::run_graph(params, args.max_hops, args.peers, &mut figures, &mut out)?;
    emit_figures(args.json.as_deref(), &figures)
}

/// Times `hoptrace score` of `wallets` wallets on the store in `dir` (its seeds
/// imported as labels first), as a child process: the command a batch job runs,
/// from start to CSV written, with its peak resident memory.
fn bench_score(
    dir: &Path,
    params: bench::Synthetic,
    wallets: usize,
    figures: &mut bench::Figures,
    out: &mut dyn Write,
) -> Result<()> {
    let exe = std::env::current_exe()?;
    let db = dir.join("bench.db");
    let labels = dir.join("labels.csv");
    let list = dir.join("wallets.csv");
    bench::write_labels_csv(params, &labels)?;
    bench::write_wallets_csv(params, wallets, &list)?;
    let run = |args: &[&std::ffi::OsStr]| -> Result<()> {
        let status = std::process::Command::new(&exe)
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("bench: `hoptrace {:?}` failed: {status}", args);
        }
        Ok(())
    };
    run(&["import".as_ref(), "labels".as_ref(), labels.as_os_str()])?;
    let scored = dir.join("scored.csv");
    // The first run computes and writes the caches (graph snapshot, haircut input,
    // results); the second reads them.
    for (run_name, figure) in [("first run", "score_first_s"), ("cached", "score_s")] {
        let t = Instant::now();
        run(&[
            "score".as_ref(),
            list.as_os_str(),
            "-o".as_ref(),
            scored.as_os_str(),
        ])?;
        let secs = t.elapsed().as_secs_f64();
        figures.set(figure, secs);
        writeln!(
            out,
            "score ({run_name}): {wallets} wallets on the {}-transfer store in {secs:.2} s",
            params.transfers
        )?;
    }
    // `check` of one wallet, answered from the results the score runs cached.
    let wallet = std::fs::read_to_string(&list)?
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let t = Instant::now();
    run(&[
        "check".as_ref(),
        wallet.as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ])?;
    let secs = t.elapsed().as_secs_f64();
    figures.set("check_cached_s", secs);
    writeln!(
        out,
        "check of one wallet, from the cached results: {secs:.2} s"
    )?;
    let peak = bench::children_peak_bytes();
    figures.set("score_wallets", wallets as f64);
    figures.set("score_peak_rss_mib", (peak >> 20) as f64);
    writeln!(out, "  peak RSS of score: {} MiB", peak >> 20)?;
    Ok(())
}

/// Writes the benchmark figures as JSON to `path`, if given.
fn emit_figures(path: Option<&Path>, figures: &bench::Figures) -> Result<()> {
    if let Some(path) = path {
        emit(Some(path), |w| {
            serde_json::to_writer_pretty(&mut *w, figures)?;
            writeln!(w)?;
            Ok(())
        })?;
    }
    Ok(())
}

fn policy_show(file: Option<&Path>) -> Result<()> {
    let policy = match file {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    let mut out = io::stdout().lock();
    if file.is_none() {
        writeln!(
            out,
            "# hoptrace default policy (see README, \"Policy\"); pass your own with --policy FILE"
        )?;
        write!(out, "{}", hoptrace::policy::FIELD_DOCS)?;
    }
    writeln!(out, "# sha256 {}", policy.hash())?;
    write!(out, "{}", policy.canonical())?;
    Ok(())
}

fn score_diff(old: &Path, new: &Path) -> Result<()> {
    let read = |p: &Path| -> Result<Vec<hoptrace::report::Rescreen>> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a `hoptrace check --format json` report",
                p.display()
            )
        })
    };
    let changes = hoptrace::report::explain(&read(old)?, &read(new)?);
    let mut out = io::stdout().lock();
    if changes.is_empty() {
        writeln!(out, "no score changed")?;
    }
    for c in &changes {
        writeln!(
            out,
            "{}  {} ({}) -> {} ({})  because: {}",
            c.address,
            c.old_score,
            c.old_level,
            c.new_score,
            c.new_level,
            c.reasons.join("; ")
        )?;
    }
    Ok(())
}
