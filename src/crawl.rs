//! `hoptrace crawl`: fetches only the transfers *sent by* the labelled seeds, then
//! by the addresses they paid, hop by hop, instead of whole blocks. This is how an
//! investigator follows funds on a chain too large to fetch.
//!
//! Per address and hop, over the block range (from the seed's `since` block on):
//! - ERC-20: `eth_getLogs` with topics `[Transfer, from]`, in spans the provider
//!   accepts (the same adaptive span as `fetch`);
//! - native and internal: `trace_filter` with `fromAddress` finds the
//!   transactions where the address sent value at any depth; each is then read
//!   whole with `trace_transaction`, so that an internal transfer's index is its
//!   position in the full trace, the same identity `fetch` gives it. A node
//!   without `trace_filter` (plain geth) cannot answer "what did this address
//!   send" for ETH at all; the crawl says so once and follows ERC-20 only.
//!
//! Labelled services (exchanges, bridges, DEXs, DeFi) are stored but not expanded,
//! as in `trace`. An address with more than `--max-traces` matching traces is
//! treated the same way (a hub). Crawled transfers are stored like fetched ones
//! (same identities), but no block range is marked done: a crawl sees a few
//! addresses, not whole blocks.
//!
//! Cost per address: ⌈range / span⌉ `eth_getLogs` + 1 `trace_filter` + one
//! `trace_transaction` per transaction found + one header per block found.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use alloy::rpc::types::trace::filter::TraceFilter;
use alloy::rpc::types::trace::parity::LocalizedTransactionTrace;
use alloy::rpc::types::{BlockNumberOrTag, Filter};
use alloy_primitives::{Address, B256};

use crate::fetch::{self, FetchError, LogSpan, Node, NodeArgs, RetryPolicy, RpcError, decode};
use crate::labels::Role;
use crate::store::Store;
use crate::transfer::{MAX_BLOCK, Transfer, lower_hex};

/// `hoptrace crawl` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct CrawlArgs {
    /// The node and the blocks.
    #[command(flatten)]
    pub node: NodeArgs,
    /// How many hops out from the seeds.
    #[arg(long)]
    pub hops: u32,
    /// An address with more matching traces than this is a hub: stored as far as
    /// read, not expanded.
    #[arg(long, default_value_t = 5000)]
    pub max_traces: u64,
    /// Blocks per `eth_getLogs` request at first (it shrinks when refused).
    #[arg(long, default_value_t = 100_000)]
    pub log_span: u32,
    /// No summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What a crawl did, per hop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlSummary {
    /// Addresses crawled at each hop (index 0: the seeds).
    pub addresses: Vec<usize>,
    /// Transfers found.
    pub transfers: u64,
    /// Transfers new to the store.
    pub inserted: u64,
    /// Whether native and internal transfers were followed (`trace_filter`).
    pub traces: bool,
    /// Addresses not expanded because they matched too many traces.
    pub hubs: Vec<Address>,
}

/// The transfers sent by `address` in `[first, last]`.
async fn sent_by(
    rpc: &fetch::Rpc,
    address: Address,
    first: u32,
    last: u32,
    traces: bool,
    max_traces: u64,
    log_span: u32,
) -> Result<(Vec<Transfer>, bool), FetchError> {
    let span = LogSpan::new(log_span);
    let base = Filter::new()
        .event_signature(decode::TRANSFER_TOPIC)
        .topic1(address.into_word());
    let logs = fetch::fetch_logs(rpc, &span, first, last, &base).await?;
    let mut out = decode::erc20(&logs, &HashMap::new())?;
    let mut hub = false;
    if traces {
        let filter = TraceFilter {
            from_block: Some(u64::from(first)),
            to_block: Some(u64::from(last)),
            from_address: vec![address],
            count: Some(max_traces + 1),
            ..TraceFilter::default()
        };
        let found: Vec<LocalizedTransactionTrace> = rpc
            .call("trace_filter", (filter,), Some(u64::from(first)))
            .await?;
        hub = found.len() as u64 > max_traces;
        let mut txs: Vec<(u64, B256)> = found
            .iter()
            .filter_map(|t| Some((t.block_number?, t.transaction_hash?)))
            .collect();
        txs.sort();
        txs.dedup();
        let params: Vec<(B256,)> = txs.iter().map(|(_, h)| (*h,)).collect();
        let whole: Vec<Vec<LocalizedTransactionTrace>> = rpc
            .batch("trace_transaction", &params, Some(u64::from(first)))
            .await?;
        for ((block, _), traces) in txs.iter().zip(whole) {
            out.extend(decode::parity_native(&traces, *block, None)?);
            out.extend(decode::parity_internal(&traces, *block, None)?);
        }
    }
    out.retain(|t| t.from == address);
    // Timestamps from the headers of the blocks found.
    let mut blocks: Vec<u64> = out.iter().map(|t| u64::from(t.block)).collect();
    blocks.sort_unstable();
    blocks.dedup();
    let params: Vec<(BlockNumberOrTag, bool)> = blocks
        .iter()
        .map(|b| (BlockNumberOrTag::Number(*b), false))
        .collect();
    let headers: Vec<Option<alloy::network::AnyRpcBlock>> = rpc
        .batch("eth_getBlockByNumber", &params, Some(u64::from(first)))
        .await?;
    let times: HashMap<u64, i64> = headers
        .iter()
        .flatten()
        .filter_map(|h| Some((h.header.number, i64::try_from(h.header.timestamp).ok()?)))
        .collect();
    for t in &mut out {
        t.timestamp = times.get(&u64::from(t.block)).copied();
    }
    Ok((out, hub))
}

/// Crawls from the store's seeds.
pub async fn crawl(args: &CrawlArgs, store: &mut Store) -> Result<CrawlSummary, FetchError> {
    let node = &args.node;
    let url = fetch::parse_url(&node.rpc)?;
    node.check_range()?;
    let Node { rpc, head, .. } = fetch::connect(
        &url,
        node.concurrency.max(1),
        node.rps,
        RetryPolicy::default(),
        store,
    )
    .await?;
    let mut summary = CrawlSummary::default();
    let Some(last) = fetch::last_block(head, node.confirmations, node.from_block, node.to_block)
    else {
        return Ok(summary);
    };
    if last > u64::from(MAX_BLOCK) {
        return Err(FetchError::BlockTooHigh(last));
    }
    let (first, last) = (node.from_block as u32, last as u32);

    let labels = store.labels()?;
    let services: HashSet<Address> = labels
        .iter()
        .filter(|l| l.category.role() == Role::Service)
        .map(|l| l.address)
        .collect();
    // Each seed from its `since` block on (the earliest when labelled twice).
    let mut frontier: BTreeMap<Address, u32> = BTreeMap::new();
    for l in labels.iter().filter(|l| l.category.role() == Role::Seed) {
        let since = l.since_block.unwrap_or(0).max(first);
        let e = frontier.entry(l.address).or_insert(since);
        *e = (*e).min(since);
    }
    // trace_filter on a block with no traces answers [] when offered.
    let probe = TraceFilter {
        from_block: Some(u64::from(first)),
        to_block: Some(u64::from(first)),
        from_address: vec![Address::ZERO],
        ..TraceFilter::default()
    };
    summary.traces = match rpc
        .call::<_, serde_json::Value>("trace_filter", (probe,), Some(u64::from(first)))
        .await
    {
        Ok(_) => true,
        Err(RpcError::Unsupported { .. }) => {
            tracing::info!(target: "crawl", "the node at {} has no trace_filter: native and internal transfers cannot be followed from an address; following ERC-20 only", rpc.url());
            false
        }
        Err(e) => return Err(e.into()),
    };
    let source = store.add_fetch_source(
        rpc.url(),
        &format!("crawl hops={} blocks={first}-{last}", args.hops),
    )?;
    let mut seen: HashSet<Address> = frontier.keys().copied().collect();
    for hop in 0..=args.hops {
        summary.addresses.push(frontier.len());
        if hop == args.hops || frontier.is_empty() {
            break;
        }
        let mut next: BTreeMap<Address, u32> = BTreeMap::new();
        // A few addresses at once; each call is itself bounded by the semaphore.
        let mut running = tokio::task::JoinSet::new();
        let mut queue = frontier.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>();
        queue.reverse();
        loop {
            while running.len() < node.concurrency.max(1) {
                let Some((address, from)) = queue.pop() else {
                    break;
                };
                let rpc = rpc.clone();
                let (traces, max, span) = (summary.traces, args.max_traces, args.log_span);
                running.spawn(async move {
                    let r = sent_by(&rpc, address, from, last, traces, max, span).await;
                    (address, r)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (address, result) =
                joined.map_err(|e| FetchError::Client(format!("a crawl task failed: {e}")))?;
            let (transfers, hub) = result?;
            summary.transfers += transfers.len() as u64;
            summary.inserted += store.insert_fetched(source, &transfers, &[])?;
            if hub {
                summary.hubs.push(address);
                continue;
            }
            for t in &transfers {
                if t.amount.is_zero() || services.contains(&t.to) {
                    continue;
                }
                if !seen.contains(&t.to) {
                    let e = next.entry(t.to).or_insert(t.block);
                    *e = (*e).min(t.block);
                }
            }
        }
        seen.extend(next.keys().copied());
        frontier = next;
    }
    Ok(summary)
}

/// `hoptrace crawl` on the database at `db`.
pub fn run_cli(db: &Path, args: &CrawlArgs) -> Result<(), FetchError> {
    let mut store = Store::open(db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(FetchError::Runtime)?;
    let summary = runtime.block_on(crawl(args, &mut store));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let s = summary?;
    if !s.traces {
        eprintln!(
            "hoptrace: warning: the node offers no trace_filter: only ERC-20 transfers were followed"
        );
    }
    if !args.quiet {
        let per_hop: Vec<String> = s.addresses.iter().map(usize::to_string).collect();
        eprintln!(
            "crawled {} hops: addresses per hop {}; {} transfers ({} new){}",
            args.hops,
            per_hop.join(", "),
            s.transfers,
            s.inserted,
            if s.hubs.is_empty() {
                String::new()
            } else {
                let hubs: Vec<String> = s.hubs.iter().map(lower_hex).collect();
                format!("; not expanded (too many traces): {}", hubs.join(", "))
            }
        );
    }
    Ok(())
}
