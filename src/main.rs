//! The `hoptrace` command line. Arguments are parsed here, resolved once into
//! settings, and handed to the library; this is the only place that talks to the
//! terminal. Errors print as `hoptrace: error: ...` and exit with status 1 (usage
//! errors exit 2, from clap).

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use alloy_primitives::Address;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use hoptrace::analysis::{self, Analysis, DEFAULT_MAX_HOPS, RiskLevel};
use hoptrace::bench::{self, Synthetic};
use hoptrace::exposure::Step;
use hoptrace::graph::{Direction, Graph};
use hoptrace::import::{read_labels, read_wallets};
use hoptrace::report::{self, Evidence, Format};
use hoptrace::store::{Store, StoreError};
use hoptrace::transfer::{Transfer, parse_address};

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
    /// Run the synthetic benchmark (see README).
    Bench(BenchArgs),
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Transfer CSVs: hoptrace's own, ethereum-etl, or Etherscan exports.
    Transfers {
        /// Files to import; each is one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Label CSVs: address,category[,name,source,since_block].
    Labels {
        /// Files to import; each is one transaction.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The list name for rows without a `source` (default: the file's name).
        #[arg(long)]
        list: Option<String>,
    },
}

#[derive(Args, Debug, Clone, Copy)]
struct SearchArgs {
    /// Stop after this many hops.
    #[arg(long, default_value_t = DEFAULT_MAX_HOPS, value_parser = clap::value_parser!(u32).range(0..=1000))]
    max_hops: u32,
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
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .init();
    match run(cli) {
        Ok(()) => {}
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                std::process::exit(0);
            }
            eprintln!("hoptrace: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Import(ImportCommand::Transfers { files }) => {
            let mut store = Store::open(&cli.db)?;
            import_transfers(&mut store, &files)
        }
        Command::Import(ImportCommand::Labels { files, list }) => {
            let mut store = Store::open(&cli.db)?;
            import_labels(&mut store, &files, list.as_deref())
        }
        Command::Trace(args) => trace(&cli.db, args),
        Command::Check(args) => check(&cli.db, args),
        Command::Score(args) => score(&cli.db, args),
        Command::Demo => demo(),
        Command::Stats => stats(&cli.db),
        Command::Bench(args) => run_bench(args),
    }
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

fn import_labels(store: &mut Store, files: &[PathBuf], list: Option<&str>) -> Result<()> {
    for path in files {
        let default_list = list.map(str::to_string).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let labels = read_labels(path, &default_list).map_err(StoreError::from)?;
        let summary = store.import_labels(path, "hoptrace-labels-csv", &default_list, &labels)?;
        if summary.already_imported {
            eprintln!("{}: already imported; nothing changed", path.display());
        } else {
            eprintln!(
                "{}: {} labels, {} new or changed",
                path.display(),
                summary.rows,
                summary.inserted
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

fn analyse(store: &Store, max_hops: u32, directions: &[Direction]) -> Result<Analysis> {
    let t = Instant::now();
    let (graph, labels) = analysis::load(store)?;
    tracing::info!(
        nodes = graph.node_count(),
        edges = graph.edge_count(),
        elapsed = ?t.elapsed(),
        "graph loaded"
    );
    let t = Instant::now();
    let a = Analysis::new(graph, labels, max_hops, directions);
    tracing::info!(seeds = a.seeds.len(), elapsed = ?t.elapsed(), "hops computed");
    if a.seeds.is_empty() {
        eprintln!(
            "hoptrace: warning: the store has no seed labels: nothing can be reached (import labels first)"
        );
    }
    Ok(a)
}

/// Resolves an evidence step (graph nodes) to the stored transfer it stands for.
fn lookup<'a>(store: &'a Store, graph: &'a Graph) -> impl FnMut(Step) -> Result<Transfer> + 'a {
    move |s: Step| {
        let (from, to) = (graph.external_id(s.from), graph.external_id(s.to));
        store.find_transfer(from, to, s.block)?.with_context(|| {
            format!(
                "evidence transfer {} -> {} in block {} is missing from the store",
                graph.address(s.from),
                graph.address(s.to),
                s.block
            )
        })
    }
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
    let a = analyse(&store, args.search.max_hops, &args.direction.directions())?;
    let mut evidence = Evidence::new(lookup(&store, &a.graph));
    let findings = report::all_findings(&a, &mut evidence)?;
    emit(args.output.as_deref(), |w| {
        Ok(report::write_findings(&findings, args.format, w)?)
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
        args.search.max_hops,
        &[Direction::Downstream, Direction::Upstream],
    )?;
    let mut evidence = Evidence::new(lookup(&store, &a.graph));
    let results = addresses
        .iter()
        .map(|addr| report::check(&a, addr, &mut evidence))
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

const SCORE_COLUMNS: [&str; 4] = [
    "downstream_hops",
    "upstream_hops",
    "seed_category",
    "risk_level",
];

fn score(db: &Path, args: ScoreArgs) -> Result<()> {
    let (header, rows) = read_wallets(&args.wallets).map_err(StoreError::from)?;
    let store = open_existing(db)?;
    let a = analyse(
        &store,
        args.search.max_hops,
        &[Direction::Downstream, Direction::Upstream],
    )?;
    let scored: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(mut fields, address)| {
            let node = a.node(&address);
            let hop = |d| {
                node.and_then(|n| a.hops(d, n))
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            };
            let nearest = node.and_then(|n| a.nearest(n));
            fields.push(hop(Direction::Downstream));
            fields.push(hop(Direction::Upstream));
            fields.push(nearest.map(|(_, _, c)| c.to_string()).unwrap_or_default());
            let level = RiskLevel::from_hops(nearest.map(|(_, h, _)| h));
            fields.push(if level == RiskLevel::None {
                String::new()
            } else {
                level.as_str().to_string()
            });
            fields
        })
        .collect();
    let mut header = header;
    header.extend(SCORE_COLUMNS.iter().map(|s| s.to_string()));
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
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let rows: Vec<Vec<String>> = scored
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
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
    import_labels(&mut store, &[labels], None)?;
    drop(store);
    println!(
        "Ronin bridge theft (Lazarus), March 2022: 1,732 Tornado Cash 100 ETH withdrawals to the"
    );
    println!("exploiter's withdrawal wallets, with the OFAC SDN list of 2025-02-26 as seeds.");
    println!();
    score(
        &db,
        ScoreArgs {
            wallets,
            search: SearchArgs {
                max_hops: DEFAULT_MAX_HOPS,
            },
            format: ScoreFormat::Table,
            output: None,
        },
    )
}

fn stats(db: &Path) -> Result<()> {
    let store = open_existing(db)?;
    let (transfers, addresses, labels, sources) = store.counts()?;
    println!("database      {}", db.display());
    println!("transfers     {transfers}");
    println!("addresses     {addresses}");
    println!("labels        {labels}");
    println!("sources       {sources}");
    if let Some(b) = store.max_block()? {
        println!("latest block  {b}");
    }
    Ok(())
}

fn run_bench(args: BenchArgs) -> Result<()> {
    let params = Synthetic {
        transfers: args.transfers,
        addresses: args.addresses,
        seeds: args.seeds,
        rng_seed: args.rng_seed,
    };
    if args.addresses == 0 || args.transfers == 0 {
        bail!("--transfers and --addresses must be positive");
    }
    let mut out = io::stdout();
    let mut figures = bench::Figures::default();
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
        let t = Instant::now();
        let (graph, _) = analysis::load(&store)?;
        figures.set("graph_load_sqlite_s", t.elapsed().as_secs_f64());
        writeln!(
            out,
            "graph load from SQLite (and snapshot written): {} edges in {:.2} s",
            graph.edge_count(),
            t.elapsed().as_secs_f64()
        )?;
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
    if let Some(path) = &args.json {
        emit(Some(path), |w| {
            serde_json::to_writer_pretty(&mut *w, &figures)?;
            writeln!(w)?;
            Ok(())
        })?;
    }
    Ok(())
}
