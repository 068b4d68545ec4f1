//! `hoptrace fetch`: fills the store with the native, internal and ERC-20
//! transfers of a block range, read from any EVM JSON-RPC node.
//!
//! Shape: the range is cut into *units* of a few blocks ([`plan`]), each unit
//! knowing which kinds it still needs (a re-run skips what the `fetched` table
//! says is done). Units are fetched concurrently, each with a handful of JSON-RPC
//! arrays (blocks, receipts, traces, logs; see [`rpc`]), decoded by the pure
//! functions of [`decode`], and handed to one writer thread that stores a unit's
//! transfers and marks its block ranges done in ONE SQLite transaction. A
//! `kill -9` therefore loses at most the units in flight, and a re-run fetches
//! exactly those again; identities `(tx_hash, kind, index)` make a repeat harmless
//! anyway. Blocks closer to the head than `--confirmations` are never stored.
//!
//! Cost: per unit of `b` blocks, one JSON-RPC array of `b` calls for the block
//! headers, one for traces (`trace_block`, whose top-level frames also give the
//! native transfers) and ⌈b / span⌉ `eth_getLogs`, where the span shrinks by half
//! when a provider refuses a result as too large and doubles back after a run of
//! successes. Without `trace_block` (geth), native transfers come from full
//! blocks and `eth_getBlockReceipts` (or one `eth_getTransactionReceipt` per
//! value-carrying transaction where that is missing), internal ones from
//! `debug_traceBlockByNumber` with `callTracer`.

pub mod decode;
pub mod rpc;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::network::{AnyRpcBlock, AnyTransactionReceipt};
use alloy::rpc::types::trace::parity::LocalizedTransactionTrace;
use alloy::rpc::types::{BlockNumberOrTag, Filter, Log};
use alloy_primitives::{B256, U64};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use url::Url;

pub use decode::DecodeError;
pub use rpc::{RetryPolicy, Rpc, RpcError};

use crate::store::{Store, StoreError};
use crate::transfer::{Kind, MAX_BLOCK, Transfer};

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// `--from-block` is after `--to-block`.
    #[error("--from-block {from} is after --to-block {to}: nothing to fetch")]
    InvertedRange {
        /// First block asked for.
        from: u64,
        /// Last block asked for.
        to: u64,
    },
    /// A block number above what the store can hold.
    #[error("block {0} is above the largest supported block {MAX_BLOCK}")]
    BlockTooHigh(u64),
    /// The URL is not an http(s) URL.
    #[error("--rpc {url:?} is not an http(s) URL: {detail}")]
    BadUrl {
        /// What was given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The first request to the node failed.
    #[error("cannot reach the node at {url}")]
    Unreachable {
        /// The node's URL, credentials removed.
        url: String,
        /// The failure.
        #[source]
        source: RpcError,
    },
    /// The node is on another chain than the store's.
    #[error(
        "the node at {url} is on chain {node}, but the store holds chain {stored}: refusing to mix chains (use another --db)"
    )]
    WrongChain {
        /// The node's URL, credentials removed.
        url: String,
        /// The node's chain id.
        node: u64,
        /// The store's chain id.
        stored: u64,
    },
    /// The node lacks a block it should have.
    #[error("the node at {url} has no block {block} (its head is past it): pruned or out of sync?")]
    MissingBlock {
        /// The node's URL, credentials removed.
        url: String,
        /// The block.
        block: u64,
    },
    /// A request failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// An answer could not be turned into transfers.
    #[error("cannot decode the node's answer: {0}")]
    Decode(#[from] DecodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// Which kinds of transfer to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    /// Top-level transaction values.
    pub native: bool,
    /// Value-carrying calls inside transactions (traces).
    pub internal: bool,
    /// ERC-20 `Transfer` logs.
    pub erc20: bool,
}

impl Kinds {
    /// All three.
    pub const ALL: Kinds = Kinds {
        native: true,
        internal: true,
        erc20: true,
    };
    const NONE: Kinds = Kinds {
        native: false,
        internal: false,
        erc20: false,
    };

    /// The kinds, in store order.
    pub fn list(self) -> Vec<Kind> {
        let mut v = Vec::new();
        if self.native {
            v.push(Kind::Native);
        }
        if self.internal {
            v.push(Kind::Internal);
        }
        if self.erc20 {
            v.push(Kind::Erc20);
        }
        v
    }

    fn with(mut self, kind: Kind) -> Kinds {
        match kind {
            Kind::Native => self.native = true,
            Kind::Internal => self.internal = true,
            Kind::Erc20 => self.erc20 = true,
        }
        self
    }

    fn is_empty(self) -> bool {
        self == Kinds::NONE
    }
}

impl FromStr for Kinds {
    type Err = String;
    fn from_str(s: &str) -> Result<Kinds, String> {
        let mut kinds = Kinds::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            kinds = kinds.with(part.parse::<Kind>().map_err(|e| e.0)?);
        }
        if kinds.is_empty() {
            return Err("no kind given: expected native, internal and/or erc20".into());
        }
        Ok(kinds)
    }
}

impl fmt::Display for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list().into_iter().map(Kind::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// The last block of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToBlock {
    /// The node's head minus the confirmations.
    Latest,
    /// This block (still capped by the confirmations).
    Number(u64),
}

impl FromStr for ToBlock {
    type Err = String;
    fn from_str(s: &str) -> Result<ToBlock, String> {
        if s.trim().eq_ignore_ascii_case("latest") {
            return Ok(ToBlock::Latest);
        }
        crate::transfer::parse_block(s)
            .map(|b| ToBlock::Number(u64::from(b)))
            .map_err(|e| format!("{}, or `latest`", e.0))
    }
}

/// Which trace method gives internal transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InternalSource {
    /// `trace_block` if the node offers it, else `debug_traceBlockByNumber`.
    Auto,
    /// `trace_block` (erigon, reth, nethermind, anvil).
    TraceBlock,
    /// `debug_traceBlockByNumber` with `callTracer` (geth).
    DebugTrace,
}

/// Everything a fetch needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The node.
    pub url: Url,
    /// First block.
    pub from_block: u64,
    /// Last block.
    pub to_block: ToBlock,
    /// Kinds to fetch.
    pub kinds: Kinds,
    /// Blocks this close to the head are not stored.
    pub confirmations: u64,
    /// HTTP requests in flight at most.
    pub concurrency: usize,
    /// JSON-RPC calls per second at most.
    pub rps: Option<f64>,
    /// Blocks per unit of work.
    pub blocks_per_request: u32,
    /// Trace method for internal transfers.
    pub internal_source: InternalSource,
    /// Retry budget.
    pub retry: RetryPolicy,
}

/// `hoptrace fetch` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct FetchArgs {
    /// The node and the blocks.
    #[command(flatten)]
    pub node: NodeArgs,
    /// Kinds of transfer, comma-separated.
    #[arg(long, default_value = "native,internal,erc20")]
    pub kinds: Kinds,
    /// Blocks per batch of requests.
    #[arg(long, default_value_t = 10, help_heading = "Tuning")]
    pub blocks_per_request: u32,
    /// Where internal transfers come from.
    #[arg(long, value_enum, default_value_t = InternalSource::Auto, help_heading = "Tuning")]
    pub internal_source: InternalSource,
    /// Attempts per request before a transient failure is reported.
    #[arg(long, default_value_t = 10, help_heading = "Tuning")]
    pub retries: u32,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The node and the block range, as `fetch` and `crawl` take them.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node's JSON-RPC HTTP URL.
    #[arg(long, env = "ETH_RPC_URL")]
    pub rpc: String,
    /// First block.
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Last block, or `latest` (the head minus --confirmations).
    #[arg(long, default_value = "latest")]
    pub to_block: ToBlock,
    /// Blocks closer than this to the head are not stored (reorgs).
    #[arg(long, default_value_t = 12)]
    pub confirmations: u64,
    /// HTTP requests in flight at most.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// JSON-RPC calls per second at most (default: no limit).
    #[arg(long)]
    pub rps: Option<f64>,
}

impl NodeArgs {
    /// Refuses a range whose last block is before its first.
    pub fn check_range(&self) -> Result<(), FetchError> {
        match self.to_block {
            ToBlock::Number(to) if to < self.from_block => Err(FetchError::InvertedRange {
                from: self.from_block,
                to,
            }),
            _ => Ok(()),
        }
    }
}

/// The last block to read from a node whose head is `head`: `to_block`, but none
/// of the `confirmations` newest blocks (reorgs); `None` when that leaves nothing
/// from `from_block` on.
pub fn last_block(
    head: u64,
    confirmations: u64,
    from_block: u64,
    to_block: ToBlock,
) -> Option<u64> {
    let safe = head.checked_sub(confirmations)?;
    let last = match to_block {
        ToBlock::Latest => safe,
        ToBlock::Number(n) => n.min(safe),
    };
    (last >= from_block).then_some(last)
}

/// Parses and checks a node URL.
pub fn parse_url(s: &str) -> Result<Url, FetchError> {
    let bad = |detail: String| FetchError::BadUrl {
        url: s.to_string(),
        detail,
    };
    let url = Url::parse(s.trim()).map_err(|e| bad(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(format!(
            "scheme {:?} (only http and https are supported)",
            url.scheme()
        )));
    }
    Ok(url)
}

impl FetchArgs {
    /// Resolves the arguments into settings; checks the range.
    pub fn settings(&self) -> Result<Settings, FetchError> {
        let node = &self.node;
        node.check_range()?;
        if node.from_block > u64::from(MAX_BLOCK) {
            return Err(FetchError::BlockTooHigh(node.from_block));
        }
        Ok(Settings {
            url: parse_url(&node.rpc)?,
            from_block: node.from_block,
            to_block: node.to_block,
            kinds: self.kinds,
            confirmations: node.confirmations,
            concurrency: node.concurrency.max(1),
            rps: node.rps,
            blocks_per_request: self.blocks_per_request.max(1),
            internal_source: self.internal_source,
            retry: RetryPolicy {
                attempts: self.retries.max(1),
                ..RetryPolicy::default()
            },
        })
    }
}

/// A piece of work: a block range and the kinds it still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// First block.
    pub first: u32,
    /// Last block (inclusive).
    pub last: u32,
    /// Kinds to fetch for these blocks.
    pub kinds: Kinds,
}

/// Cuts `[first, last]` into units of at most `size` blocks, each with the kinds
/// that `done` (per kind, sorted inclusive ranges) does not already cover.
/// O(ranges + blocks / size).
pub fn plan(
    first: u32,
    last: u32,
    kinds: Kinds,
    done: &HashMap<Kind, Vec<(u32, u32)>>,
    size: u32,
) -> Vec<Unit> {
    let size = size.max(1);
    // Every edge of every done range inside the span, plus the span's own.
    let mut cuts: Vec<u64> = vec![u64::from(first), u64::from(last) + 1];
    for kind in kinds.list() {
        for &(a, b) in done.get(&kind).map(Vec::as_slice).unwrap_or(&[]) {
            for edge in [u64::from(a), u64::from(b) + 1] {
                if edge > u64::from(first) && edge <= u64::from(last) {
                    cuts.push(edge);
                }
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let covered = |kind: Kind, block: u32| {
        done.get(&kind)
            .is_some_and(|r| r.iter().any(|&(a, b)| a <= block && block <= b))
    };
    let mut units = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0] as u32, (w[1] - 1) as u32);
        let mut need = Kinds::NONE;
        for kind in kinds.list() {
            if !covered(kind, a) {
                need = need.with(kind);
            }
        }
        if need.is_empty() {
            continue;
        }
        let mut start = a;
        loop {
            let end = start.saturating_add(size - 1).min(b);
            units.push(Unit {
                first: start,
                last: end,
                kinds: need,
            });
            if end == b {
                break;
            }
            start = end + 1;
        }
    }
    units
}

/// How internal transfers are read from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Traces {
    Parity,
    Geth,
}

/// What a unit needs from the node, decided once per fetch.
#[derive(Debug)]
struct Methods {
    traces: Option<Traces>,
    block_receipts: bool,
}

/// The `eth_getLogs` block span, adapted to what the provider accepts.
#[derive(Debug)]
pub(crate) struct LogSpan {
    span: AtomicU32,
    max: u32,
    streak: AtomicU32,
}

impl LogSpan {
    /// Starts at `max` blocks.
    pub(crate) fn new(max: u32) -> LogSpan {
        LogSpan {
            span: AtomicU32::new(max.max(1)),
            max: max.max(1),
            streak: AtomicU32::new(0),
        }
    }
    fn get(&self) -> u32 {
        self.span.load(Ordering::Relaxed).max(1)
    }
    fn refused(&self, tried: u32) {
        self.span.store((tried / 2).max(1), Ordering::Relaxed);
        self.streak.store(0, Ordering::Relaxed);
    }
    fn succeeded(&self) {
        if self.streak.fetch_add(1, Ordering::Relaxed) + 1 >= 4 {
            self.streak.store(0, Ordering::Relaxed);
            let s = self.get();
            self.span
                .store(s.saturating_mul(2).min(self.max), Ordering::Relaxed);
        }
    }
}

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The chain id.
    pub chain_id: u64,
    /// The node's head when the fetch started.
    pub head: u64,
    /// First block of the range.
    pub first: u64,
    /// Last block of the range (after the confirmations cap); `None` when the
    /// range lies entirely within the confirmations.
    pub last: Option<u64>,
    /// Blocks fetched now (not already done).
    pub blocks: u64,
    /// Transfers decoded.
    pub transfers: u64,
    /// Transfers new to the store.
    pub inserted: u64,
    /// The kinds fetched.
    pub kinds: Kinds,
    /// Where internal transfers came from, or why there were none.
    pub internal: String,
}

async fn probe(rpc: &Rpc, method: &'static str, block: u64) -> Result<bool, RpcError> {
    let tag = BlockNumberOrTag::Number(block);
    let r: Result<serde_json::Value, RpcError> = match method {
        "debug_traceBlockByNumber" => {
            rpc.call(
                method,
                (tag, serde_json::json!({"tracer": "callTracer"})),
                Some(block),
            )
            .await
        }
        _ => rpc.call(method, (tag,), Some(block)).await,
    };
    match r {
        Ok(_) => Ok(true),
        Err(RpcError::Unsupported { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A node the store agrees with.
pub(crate) struct Node {
    pub(crate) rpc: Rpc,
    pub(crate) chain_id: u64,
    pub(crate) head: u64,
}

/// Connects to the node, refuses a chain other than the store's (recording the
/// chain id on first use), and reads the head.
pub(crate) async fn connect(
    url: &Url,
    concurrency: usize,
    rps: Option<f64>,
    retry: RetryPolicy,
    store: &mut Store,
) -> Result<Node, FetchError> {
    let rpc =
        Rpc::new(url, concurrency, rps, retry).map_err(|e| FetchError::Client(e.to_string()))?;
    // The first contact fails fast: an unreachable node is a setup mistake.
    let first_contact = rpc.with_policy(RetryPolicy {
        attempts: retry.attempts.min(3),
        ..retry
    });
    let unreachable = |source| FetchError::Unreachable {
        url: rpc.url().to_string(),
        source,
    };
    let chain_id: U64 = first_contact
        .call("eth_chainId", (), None)
        .await
        .map_err(unreachable)?;
    let chain_id = chain_id.to::<u64>();
    if let Err(stored) = store.begin_fetch(chain_id)? {
        return Err(FetchError::WrongChain {
            url: rpc.url().to_string(),
            node: chain_id,
            stored,
        });
    }
    let head: U64 = rpc.call("eth_blockNumber", (), None).await?;
    Ok(Node {
        rpc,
        chain_id,
        head: head.to::<u64>(),
    })
}

/// Connects, checks the chain, resolves the range and the methods, and runs the
/// fetch; `bar` shows progress (hidden when quiet).
pub async fn fetch(
    settings: &Settings,
    mut store: Store,
    bar: ProgressBar,
) -> Result<Summary, FetchError> {
    let Node {
        rpc,
        chain_id,
        head,
    } = connect(
        &settings.url,
        settings.concurrency,
        settings.rps,
        settings.retry,
        &mut store,
    )
    .await?;
    let last = last_block(
        head,
        settings.confirmations,
        settings.from_block,
        settings.to_block,
    );
    let mut summary = Summary {
        chain_id,
        head,
        first: settings.from_block,
        last,
        blocks: 0,
        transfers: 0,
        inserted: 0,
        kinds: settings.kinds,
        internal: String::new(),
    };
    let Some(last) = last else {
        return Ok(summary);
    };
    if last > u64::from(MAX_BLOCK) {
        return Err(FetchError::BlockTooHigh(last));
    }
    let first = settings.from_block;
    let mut kinds = settings.kinds;
    let traces = if kinds.internal {
        let trace_block = match settings.internal_source {
            InternalSource::DebugTrace => false,
            _ => probe(&rpc, "trace_block", first).await?,
        };
        if trace_block {
            summary.internal = "trace_block".into();
            Some(Traces::Parity)
        } else if settings.internal_source != InternalSource::TraceBlock
            && probe(&rpc, "debug_traceBlockByNumber", first).await?
        {
            summary.internal = "debug_traceBlockByNumber (callTracer)".into();
            Some(Traces::Geth)
        } else {
            summary.internal = format!(
                "none: the node at {} offers neither trace_block nor debug_traceBlockByNumber, \
                 so internal transfers were not fetched",
                rpc.url()
            );
            tracing::info!(target: "fetch", "{}", summary.internal);
            kinds.internal = false;
            summary.kinds = kinds;
            None
        }
    } else {
        None
    };
    let block_receipts = kinds.native && probe(&rpc, "eth_getBlockReceipts", first).await?;
    let methods = Arc::new(Methods {
        traces,
        block_receipts,
    });
    let mut done = HashMap::new();
    for kind in kinds.list() {
        done.insert(kind, store.fetched_ranges(kind)?);
    }
    let units = plan(
        first as u32,
        last as u32,
        kinds,
        &done,
        settings.blocks_per_request,
    );
    let total: u64 = units.iter().map(|u| u64::from(u.last - u.first) + 1).sum();
    summary.blocks = total;
    if units.is_empty() {
        return Ok(summary);
    }
    let source = store.add_fetch_source(
        rpc.url(),
        &format!("chain={chain_id} blocks={first}-{last} kinds={kinds}"),
    )?;
    bar.set_length(total);
    let span = Arc::new(LogSpan::new(settings.blocks_per_request));

    // The writer: one thread, one transaction per unit.
    let (send, mut receive) = tokio::sync::mpsc::channel::<(Unit, Vec<Transfer>)>(16);
    let stored = Arc::new(AtomicU64::new(0));
    let writer_bar = bar.clone();
    let writer_stored = stored.clone();
    let started = Instant::now();
    let writer = std::thread::spawn(move || -> Result<u64, StoreError> {
        let mut inserted = 0;
        while let Some((unit, transfers)) = receive.blocking_recv() {
            let done: Vec<(Kind, u32, u32)> = unit
                .kinds
                .list()
                .into_iter()
                .map(|k| (k, unit.first, unit.last))
                .collect();
            inserted += store.insert_fetched(source, &transfers, &done)?;
            let n = writer_stored.fetch_add(transfers.len() as u64, Ordering::Relaxed)
                + transfers.len() as u64;
            writer_bar.inc(u64::from(unit.last - unit.first) + 1);
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            writer_bar.set_message(format!("{n} transfers, {:.0} transfers/s", n as f64 / secs));
            tracing::info!(target: "fetch", first = unit.first, last = unit.last, transfers = transfers.len(), "stored");
        }
        Ok(inserted)
    });

    // Units in flight: enough to keep `concurrency` requests busy.
    let mut pending = units.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let window = settings.concurrency.max(1) * 2;
    let mut failure: Option<FetchError> = None;
    loop {
        while running.len() < window {
            let Some(unit) = pending.next() else { break };
            let (rpc, methods, span) = (rpc.clone(), methods.clone(), span.clone());
            running.spawn(async move {
                let r = fetch_unit(&rpc, &methods, &span, unit).await;
                (unit, r)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((unit, Ok(transfers))) => {
                if send.send((unit, transfers)).await.is_err() {
                    // The writer stopped: its error is reported below.
                    break;
                }
            }
            Ok((_, Err(e))) => {
                failure = Some(e);
                break;
            }
            Err(e) => {
                failure = Some(FetchError::Client(format!("a fetch task failed: {e}")));
                break;
            }
        }
    }
    running.abort_all();
    drop(send);
    let written = writer
        .join()
        .unwrap_or_else(|_| Err(StoreError::Corrupt("the writer thread panicked".into())));
    if let Some(e) = failure {
        return Err(e);
    }
    summary.inserted = written?;
    summary.transfers = stored.load(Ordering::Relaxed);
    Ok(summary)
}

/// The transfers of one unit.
async fn fetch_unit(
    rpc: &Rpc,
    methods: &Methods,
    span: &LogSpan,
    unit: Unit,
) -> Result<Vec<Transfer>, FetchError> {
    let first = Some(u64::from(unit.first));
    let numbers: Vec<u64> = (unit.first..=unit.last).map(u64::from).collect();
    // When the unit reads `trace_block` anyway, its top-level frames give the
    // native transfers too (value, sender, receiver or created contract, and an
    // error exactly when the transaction failed), which spares the full blocks
    // and receipts: on anvil, 0.02 s against 0.55 s for a 700-transaction block.
    let parity = unit.kinds.internal && methods.traces == Some(Traces::Parity);
    let native_from_traces = unit.kinds.native && parity;
    let full = unit.kinds.native && !native_from_traces;
    let block_params: Vec<(BlockNumberOrTag, bool)> = numbers
        .iter()
        .map(|n| (BlockNumberOrTag::Number(*n), full))
        .collect();
    let tags: Vec<(BlockNumberOrTag,)> = numbers
        .iter()
        .map(|n| (BlockNumberOrTag::Number(*n),))
        .collect();
    let blocks_f = async {
        Ok::<_, FetchError>(
            rpc.batch::<_, Option<AnyRpcBlock>>("eth_getBlockByNumber", &block_params, first)
                .await?,
        )
    };
    let receipts_f = async {
        if full && methods.block_receipts {
            Ok(Some(
                rpc.batch::<_, Option<Vec<AnyTransactionReceipt>>>(
                    "eth_getBlockReceipts",
                    &tags,
                    first,
                )
                .await?,
            ))
        } else {
            Ok(None)
        }
    };
    let parity_f = async {
        if parity {
            Ok(Some(
                rpc.batch::<_, Vec<LocalizedTransactionTrace>>("trace_block", &tags, first)
                    .await?,
            ))
        } else {
            Ok(None)
        }
    };
    let geth_f = async {
        if unit.kinds.internal && methods.traces == Some(Traces::Geth) {
            let params: Vec<(BlockNumberOrTag, serde_json::Value)> = numbers
                .iter()
                .map(|n| {
                    (
                        BlockNumberOrTag::Number(*n),
                        serde_json::json!({"tracer": "callTracer"}),
                    )
                })
                .collect();
            Ok(Some(
                rpc.batch::<_, Vec<serde_json::Value>>("debug_traceBlockByNumber", &params, first)
                    .await?,
            ))
        } else {
            Ok(None)
        }
    };
    let logs_f = async {
        if unit.kinds.erc20 {
            let base = Filter::new().event_signature(decode::TRANSFER_TOPIC);
            fetch_logs(rpc, span, unit.first, unit.last, &base)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let (blocks, receipts, parity_traces, geth, logs) =
        tokio::try_join!(blocks_f, receipts_f, parity_f, geth_f, logs_f)?;

    let mut blocks_by_number = Vec::with_capacity(blocks.len());
    for (n, b) in numbers.iter().zip(blocks) {
        let b = b.ok_or_else(|| FetchError::MissingBlock {
            url: rpc.url().to_string(),
            block: *n,
        })?;
        blocks_by_number.push(b);
    }
    let timestamps: HashMap<u64, i64> = blocks_by_number
        .iter()
        .filter_map(|b| Some((b.header.number, i64::try_from(b.header.timestamp).ok()?)))
        .collect();
    let mut out = Vec::new();
    if full {
        let receipts = match receipts {
            Some(r) => r,
            None => receipts_one_by_one(rpc, &blocks_by_number).await?,
        };
        for (b, r) in blocks_by_number.iter().zip(receipts) {
            let r = r.ok_or_else(|| FetchError::MissingBlock {
                url: rpc.url().to_string(),
                block: b.header.number,
            })?;
            out.extend(decode::native(b, &r)?);
        }
    }
    if let Some(traces) = parity_traces {
        for (n, t) in numbers.iter().zip(traces) {
            let time = timestamps.get(n).copied();
            if native_from_traces {
                out.extend(decode::parity_native(&t, *n, time)?);
            }
            out.extend(decode::parity_internal(&t, *n, time)?);
        }
    }
    if let Some(traces) = geth {
        for (b, t) in blocks_by_number.iter().zip(traces) {
            let hashes: Vec<B256> = b.transactions.hashes().collect();
            let n = b.header.number;
            out.extend(decode::geth_internal(
                &t,
                &hashes,
                n,
                timestamps.get(&n).copied(),
            )?);
        }
    }
    if let Some(logs) = logs {
        out.extend(decode::erc20(&logs, &timestamps)?);
    }
    Ok(out)
}

/// Receipts through `eth_getTransactionReceipt`, for nodes without
/// `eth_getBlockReceipts`; only value-carrying transactions need one.
async fn receipts_one_by_one(
    rpc: &Rpc,
    blocks: &[AnyRpcBlock],
) -> Result<Vec<Option<Vec<AnyTransactionReceipt>>>, FetchError> {
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let hashes: Vec<(B256,)> = decode::value_transactions(b)
            .into_iter()
            .map(|h| (h,))
            .collect();
        let receipts = rpc
            .batch::<_, Option<AnyTransactionReceipt>>(
                "eth_getTransactionReceipt",
                &hashes,
                Some(b.header.number),
            )
            .await?;
        out.push(Some(receipts.into_iter().flatten().collect()));
    }
    Ok(out)
}

/// `eth_getLogs` with the `base` filter over `[first, last]`, in spans the
/// provider accepts.
pub(crate) async fn fetch_logs(
    rpc: &Rpc,
    span: &LogSpan,
    first: u32,
    last: u32,
    base: &Filter,
) -> Result<Vec<Log>, FetchError> {
    let mut out = Vec::new();
    let mut start = first;
    loop {
        let width = span.get();
        let end = start.saturating_add(width - 1).min(last);
        let filter = base
            .clone()
            .from_block(u64::from(start))
            .to_block(u64::from(end));
        match rpc
            .call::<_, Vec<Log>>("eth_getLogs", (filter,), Some(u64::from(start)))
            .await
        {
            Ok(logs) => {
                out.extend(logs);
                span.succeeded();
                if end == last {
                    return Ok(out);
                }
                start = end + 1;
            }
            Err(RpcError::TooLarge { message, .. }) if end > start => {
                tracing::info!(target: "fetch", start, end, %message, "eth_getLogs range refused; halving it");
                span.refused(end - start + 1);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `hoptrace fetch`: runs a fetch into the database at `db` and reports on stderr.
pub fn run_cli(db: &Path, args: &FetchArgs) -> Result<(), FetchError> {
    let settings = args.settings()?;
    let store = Store::open(db)?;
    let bar = if args.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("blocks [{bar:30}] {pos}/{len} {per_sec} eta {eta} | {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(FetchError::Runtime)?;
    let started = Instant::now();
    let summary = runtime.block_on(fetch(&settings, store, bar.clone()));
    bar.finish_and_clear();
    runtime.shutdown_timeout(Duration::from_secs(1));
    let s = summary?;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        match s.last {
            None => eprintln!(
                "chain {}: nothing to fetch: the node's head is {} and blocks within {} confirmations of it are not stored, so --from-block {} is too recent",
                s.chain_id, s.head, settings.confirmations, s.first
            ),
            Some(last) if s.blocks == 0 => eprintln!(
                "chain {}, blocks {}..={}: already fetched ({}); nothing to do",
                s.chain_id, s.first, last, s.kinds
            ),
            Some(last) => eprintln!(
                "chain {}, blocks {}..={} (head {}): {} blocks fetched, {} transfers ({} new) of {} in {:.1} s ({:.0} transfers/s)",
                s.chain_id,
                s.first,
                last,
                s.head,
                s.blocks,
                s.transfers,
                s.inserted,
                s.kinds,
                secs,
                s.transfers as f64 / secs
            ),
        }
        if settings.kinds.internal && !s.internal.is_empty() {
            eprintln!("internal transfers: {}", s.internal);
        }
    } else if !s.kinds.internal && settings.kinds.internal && !s.internal.is_empty() {
        eprintln!("hoptrace: warning: {}", s.internal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!(
            "native,erc20".parse::<Kinds>().unwrap().to_string(),
            "native,erc20"
        );
        assert_eq!(
            "internal".parse::<Kinds>().unwrap().list(),
            vec![Kind::Internal]
        );
        assert!("native,nft".parse::<Kinds>().is_err());
        assert!("".parse::<Kinds>().is_err());
    }

    #[test]
    fn plan_skips_done_ranges_per_kind() {
        let mut done = HashMap::new();
        done.insert(Kind::Native, vec![(0, 9), (20, 24)]);
        done.insert(Kind::Erc20, vec![(0, 14)]);
        let kinds = "native,erc20".parse::<Kinds>().unwrap();
        let units = plan(0, 29, kinds, &done, 4);
        let shown: Vec<(u32, u32, String)> = units
            .iter()
            .map(|u| (u.first, u.last, u.kinds.to_string()))
            .collect();
        let row = |a, b, k: &str| (a, b, k.to_string());
        assert_eq!(
            shown,
            vec![
                row(10, 13, "native"),
                row(14, 14, "native"),
                row(15, 18, "native,erc20"),
                row(19, 19, "native,erc20"),
                row(20, 23, "erc20"),
                row(24, 24, "erc20"),
                row(25, 28, "native,erc20"),
                row(29, 29, "native,erc20"),
            ]
        );
        // Everything done: nothing to do.
        done.insert(Kind::Native, vec![(0, 29)]);
        done.insert(Kind::Erc20, vec![(0, 40)]);
        assert!(plan(0, 29, kinds, &done, 4).is_empty());
    }

    #[test]
    fn log_span_halves_and_grows_back() {
        let s = LogSpan {
            span: AtomicU32::new(16),
            max: 16,
            streak: AtomicU32::new(0),
        };
        s.refused(16);
        assert_eq!(s.get(), 8);
        s.refused(8);
        assert_eq!(s.get(), 4);
        for _ in 0..4 {
            s.succeeded();
        }
        assert_eq!(s.get(), 8);
        for _ in 0..8 {
            s.succeeded();
        }
        assert_eq!(s.get(), 16);
        s.refused(1);
        assert_eq!(s.get(), 1);
    }

    #[test]
    fn range_checks() {
        let args = FetchArgs {
            node: NodeArgs {
                rpc: "http://127.0.0.1:1".into(),
                from_block: 10,
                to_block: ToBlock::Number(5),
                confirmations: 0,
                concurrency: 1,
                rps: None,
            },
            kinds: Kinds::ALL,
            blocks_per_request: 1,
            internal_source: InternalSource::Auto,
            retries: 1,
            quiet: true,
        };
        assert!(matches!(
            args.settings(),
            Err(FetchError::InvertedRange { from: 10, to: 5 })
        ));
        let args = FetchArgs {
            node: NodeArgs {
                to_block: ToBlock::Latest,
                rpc: "ftp://x".into(),
                ..args.node.clone()
            },
            ..args
        };
        assert!(matches!(args.settings(), Err(FetchError::BadUrl { .. })));
    }
}
