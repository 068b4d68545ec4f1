//! Exposure by hops: time-respecting multi-source BFS from the seeds.
//!
//! Semantics (see DESIGN.md). A *path* is a sequence of transfers whose block
//! numbers never decrease in the direction money flows. Downstream, a path starts
//! at a seed with a transfer whose block is >= the seed's `since`; upstream, a path
//! ends at a seed with a transfer whose block is >= the seed's `since`. An address's
//! hop count is the length of the shortest such path; a seed has hop 0. Addresses
//! that are not *expandable* (services that are not seeds) can end a path but not
//! continue it.
//!
//! Algorithm: level-synchronous relaxation of *earliest arrival*, written over the
//! graph's adjacency keys (see `graph`), in which both directions read "an edge is
//! usable after arriving at key `a` iff its key is >= `a`". Level k holds, per
//! node, the best key reachable with <= k hops; level k+1 relaxes the edges of the
//! nodes that improved at level k. A node that improves from key `old` to `new`
//! only scans its edges with keys in `[new, old)`, found by walking down from where
//! its previous window began: edges at or after `old` were
//! relaxed when it arrived at `old`, and relaxing them again cannot improve anyone.
//! So every edge is scanned at most once per direction (seeds' root windows aside),
//! and the cost is O(E + V log V) time, O(V) memory on top of the graph.
//!
//! Evidence: every improvement appends a record `(node, key, predecessor record)`.
//! Records are never changed, so the record that first reached a node is the end of
//! a valid path with exactly `hops` transfers, even if its predecessors improve later.

pub mod fifo;
pub mod haircut;
mod untimed;

pub use fifo::{FifoExposure, FifoResult, FifoTotals, fifo};
pub use haircut::{Exposure, Flow, Haircut, HaircutResult, haircut};
pub use untimed::untimed_hops;

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::graph::{Adjacency, Direction, Graph, huge_vec, key_of, node_of};
use crate::table::{Table, TableReader, TableWriter};
use crate::transfer::MAX_BLOCK;

const NONE: u32 = u32::MAX;
/// The key of "not reached": above every real key.
const UNREACHED: u32 = u32::MAX;

/// Most threads a search uses.
const MAX_THREADS: usize = 8;
/// Frontiers smaller than this are relaxed on the calling thread.
const PARALLEL_FRONTIER: usize = 1024;
/// Candidate edges gathered before relaxing them.
const GATHER: usize = 1 << 14;
/// How many candidates ahead the relaxation prefetches.
const PREFETCH: usize = 64;

/// Hints the CPU to load the cache line holding `slot`.
#[inline]
pub(crate) fn prefetch<T>(slot: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: prefetching is a hint with no effect on memory; the pointer comes
        // from a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

/// `state[v]` packs v's best key (high half) with the record it was reached from in
/// the current level (low half; NONE when v has not improved in this level), so
/// that relaxing an edge reads one word.
#[inline]
fn pack_state(key: u32, rec: u32) -> u64 {
    (u64::from(key) << 32) | u64::from(rec)
}

#[inline]
fn unpack_state(s: u64) -> (u32, u32) {
    ((s >> 32) as u32, s as u32)
}

/// What the numbering of one level's improvements shares.
struct Numbering<'a> {
    state: &'a [AtomicU64],
    expandable: &'a [bool],
    seed_records: usize,
    level: u32,
}

/// One chunk of the node range: records its improved nodes, in node order, into
/// its slice of the records, and lists those that continue into the next frontier.
struct NumberJob<'a> {
    bits: &'a mut [u64],
    records: &'a mut [Record],
    first: &'a mut [u32],
    node_base: u32,
    rec_base: u32,
    out: &'a mut Vec<(u32, u32, u32, u32)>,
}

impl NumberJob<'_> {
    fn run(self, shared: &Numbering<'_>) {
        let mut i = 0usize;
        for (word, slot) in self.bits.iter_mut().enumerate() {
            let mut bits = std::mem::take(slot);
            while bits != 0 {
                let local = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let v = self.node_base + local as u32;
                let vi = v as usize;
                let (new, pred) = unpack_state(shared.state[vi].load(Ordering::Relaxed));
                shared.state[vi].store(pack_state(new, NONE), Ordering::Relaxed);
                let rec = self.rec_base + i as u32;
                self.records[i] = Record {
                    node: v,
                    key: new,
                    pred,
                    level: shared.level,
                };
                i += 1;
                if self.first[local] == NONE {
                    self.first[local] = rec;
                }
                // Seeds' records are the first ones.
                let is_seed = (self.first[local] as usize) < shared.seed_records;
                if shared.expandable[vi] || is_seed {
                    self.out.push((v, new, UNREACHED, rec));
                }
            }
        }
    }
}

/// What the workers of one level share: read-only but for the atomics.
struct Level<'a> {
    adj: &'a Adjacency,
    frontier: &'a [(u32, u32, u32, u32)],
    state: &'a [AtomicU64],
    scan_end: &'a [AtomicU32],
}

/// One thread's share of a level: it takes every `stride`-th frontier item,
/// gathers their windows' edges and relaxes them.
#[derive(Default)]
struct Worker {
    pending: Vec<(u64, u32)>,
    touched: Vec<u32>,
    relaxed: u64,
}

impl Worker {
    fn run(&mut self, ctx: &Level<'_>, offset: usize, stride: usize) {
        let items = ctx.frontier.iter().skip(offset).step_by(stride);
        let mut ahead_items = ctx.frontier.iter().skip(offset).step_by(stride).skip(4);
        for &(u, lo, hi, from_rec) in items {
            if let Some(&(ahead, _, _, _)) = ahead_items.next() {
                ctx.adj
                    .prefetch(ahead, ctx.scan_end[ahead as usize].load(Ordering::Relaxed));
            }
            let entries = ctx.adj.entries(u);
            if hi == UNREACHED {
                // Edges in [lo, old) lie just below where the last window began.
                let end = match ctx.scan_end[u as usize].load(Ordering::Relaxed) {
                    NONE => entries.len(),
                    e => e as usize,
                };
                let mut j = end;
                while j > 0 && key_of(entries[j - 1]) >= lo {
                    j -= 1;
                    self.pending.push((entries[j], from_rec));
                }
                ctx.scan_end[u as usize].store(j as u32, Ordering::Relaxed);
            } else {
                let start = entries.partition_point(|&e| key_of(e) < lo);
                for &e in &entries[start..] {
                    if key_of(e) >= hi {
                        break;
                    }
                    self.pending.push((e, from_rec));
                }
            }
            if self.pending.len() >= GATHER {
                self.relax(ctx.state);
            }
        }
        self.relax(ctx.state);
    }

    /// Relaxes the gathered `(entry, from_record)` candidates: a target whose key
    /// improves takes the candidate, and is noted in `touched` by the one thread
    /// that first improves it in this level. The state is lowered with an atomic
    /// minimum over `(key, record)`, so the result does not depend on the order in
    /// which threads get there: the smallest key wins, and among equal keys the
    /// smallest record, which is what a sequential scan in frontier order keeps.
    fn relax(&mut self, state: &[AtomicU64]) {
        for (i, &(e, from_rec)) in self.pending.iter().enumerate() {
            if let Some(&(ahead, _)) = self.pending.get(i + PREFETCH) {
                prefetch(&state[node_of(ahead) as usize]);
            }
            let slot = &state[node_of(e) as usize];
            let candidate = pack_state(key_of(e), from_rec);
            let current = slot.load(Ordering::Relaxed);
            let (best, rec) = unpack_state(current);
            // Untouched in this level: only a strictly earlier key improves. Touched:
            // the smaller (key, record) wins, so equal keys from two threads settle
            // the same way in any order.
            let better = if rec == NONE {
                key_of(e) < best
            } else {
                candidate < current
            };
            if better {
                let before = slot.fetch_min(candidate, Ordering::Relaxed);
                let (before_key, before_rec) = unpack_state(before);
                if before_rec == NONE && key_of(e) < before_key {
                    self.touched.push(node_of(e));
                }
            }
        }
        self.relaxed += self.pending.len() as u64;
        self.pending.clear();
    }
}

/// A seed as a start of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The seed's node.
    pub node: u32,
    /// Its funds are tainted from this block on.
    pub since: u32,
}

/// One improvement of one node's arrival.
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Record {
    node: u32,
    /// Key of the edge that arrived (unused for roots).
    key: u32,
    /// The record this one was reached from, `NONE` for a seed.
    pred: u32,
    /// Hop level of the record.
    level: u32,
}

/// One transfer on an evidence path, in money-flow order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Sender node.
    pub from: u32,
    /// Receiver node.
    pub to: u32,
    /// Block of the transfer.
    pub block: u32,
}

/// The result of one search: who is reached, in how many hops, from which seed,
/// and by which path.
#[derive(Debug, Clone)]
pub struct Reach {
    direction: Direction,
    store: Store,
}

/// How a search keeps its records.
#[derive(Debug, Clone)]
enum Store {
    /// A log of improvements (the temporal search): a node may improve several
    /// times, and `first[node]` is the record that first reached it (`NONE` if
    /// never).
    Log {
        records: Table<Record>,
        first: Table<u32>,
    },
    /// One record per node, numbered by node (the untimed search, where a node is
    /// reached once): `link[v]` packs the predecessor node (high half, `NONE` for
    /// a seed) with the key of the edge that reached `v` (low half), and
    /// `level[v]` is v's hop count plus one, 0 if unreached.
    Tree {
        link: Table<u64>,
        level: Table<u32>,
        reached: usize,
    },
}

impl Reach {
    /// An untimed search's result; see [`Store::Tree`].
    fn tree(direction: Direction, link: Vec<u64>, level: Vec<u32>, reached: usize) -> Reach {
        Reach {
            direction,
            store: Store::Tree {
                link: link.into(),
                level: level.into(),
                reached,
            },
        }
    }

    /// The record that first reached `node`, if any.
    #[inline]
    fn first(&self, node: u32) -> Option<u32> {
        match &self.store {
            Store::Log { first, .. } => first.get(node as usize).copied().filter(|&r| r != NONE),
            Store::Tree { level, .. } => {
                level.get(node as usize).filter(|&&l| l != 0).map(|_| node)
            }
        }
    }

    /// Record `r`.
    #[inline]
    fn record(&self, r: u32) -> Record {
        match &self.store {
            Store::Log { records, .. } => records[r as usize],
            Store::Tree { link, level, .. } => {
                let l = link[r as usize];
                Record {
                    node: r,
                    key: l as u32,
                    pred: (l >> 32) as u32,
                    level: level[r as usize].wrapping_sub(1),
                }
            }
        }
    }

    /// The direction searched.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The hop count of `node`, if reached.
    pub fn hops(&self, node: u32) -> Option<u32> {
        self.first(node).map(|r| self.record(r).level)
    }

    /// The seed at the start (downstream) or end (upstream) of `node`'s path.
    pub fn seed(&self, node: u32) -> Option<u32> {
        let mut rec = self.record(self.first(node)?);
        while let Some(pred) = self.pred(&rec) {
            rec = pred;
        }
        Some(rec.node)
    }

    /// The record `rec` was reached from; `None` for a seed. Every step goes one
    /// level down, so a walk ends after at most `rec.level` steps even in a damaged
    /// results file (a step that does not is not taken).
    #[inline]
    fn pred(&self, rec: &Record) -> Option<Record> {
        if rec.pred == NONE {
            return None;
        }
        let pred = self.record(rec.pred);
        let one_down = pred.level.checked_add(1) == Some(rec.level);
        debug_assert!(one_down, "a path goes one level down per step");
        one_down.then_some(pred)
    }

    /// How many nodes were reached (seeds included).
    pub fn reached_count(&self) -> usize {
        match &self.store {
            Store::Log { first, .. } => first.iter().filter(|&&r| r != NONE).count(),
            Store::Tree { reached, .. } => *reached,
        }
    }

    /// Every reached node with its hop count, sorted by (hops, node).
    pub fn reached(&self) -> Vec<(u32, u32)> {
        let nodes = match &self.store {
            Store::Log { first, .. } => first.len(),
            Store::Tree { level, .. } => level.len(),
        };
        let mut out: Vec<(u32, u32)> = (0..nodes as u32)
            .filter_map(|n| self.hops(n).map(|h| (h, n)))
            .collect();
        out.sort_unstable();
        out.into_iter().map(|(h, n)| (n, h)).collect()
    }

    /// The evidence path of `node`, in money-flow order: from the seed (downstream)
    /// or to the seed (upstream). Its length is the hop count; empty for a seed or
    /// an unreached node.
    pub fn path(&self, node: u32) -> Vec<Step> {
        let mut steps = Vec::new();
        let Some(start) = self.first(node) else {
            return steps;
        };
        let mut rec = self.record(start);
        while let Some(pred) = self.pred(&rec) {
            let block = self.direction.block(rec.key);
            steps.push(match self.direction {
                Direction::Downstream => Step {
                    from: pred.node,
                    to: rec.node,
                    block,
                },
                Direction::Upstream => Step {
                    from: rec.node,
                    to: pred.node,
                    block,
                },
            });
            rec = pred;
        }
        if self.direction == Direction::Downstream {
            steps.reverse();
        }
        steps
    }

    /// Writes the result to a results file (see `analysis::results`).
    pub(crate) fn write_to<W: Write>(&self, w: &mut TableWriter<W>) -> io::Result<()> {
        w.u64(self.direction as u64)?;
        match &self.store {
            Store::Log { records, first } => {
                w.u64(0)?;
                w.table(records)?;
                w.table(first)
            }
            Store::Tree {
                link,
                level,
                reached,
            } => {
                w.u64(1)?;
                w.u64(*reached as u64)?;
                w.table(link)?;
                w.table(level)
            }
        }
    }

    /// Reads a result that [`Reach::write_to`] wrote for a graph of `nodes` nodes,
    /// mapped in place. Checked: the direction, the kind, and that the arrays fit
    /// together and the graph; records are not read in full (a damaged one is
    /// caught by bounds checks, never read wrongly).
    pub(crate) fn read_from(r: &mut TableReader<'_>, nodes: usize) -> io::Result<Reach> {
        let direction = match r.u64()? {
            d if d == Direction::Downstream as u64 => Direction::Downstream,
            d if d == Direction::Upstream as u64 => Direction::Upstream,
            _ => return Err(r.invalid("unknown direction")),
        };
        let store = match r.u64()? {
            0 => {
                let records: Table<Record> = r.table()?;
                let first: Table<u32> = r.table()?;
                if first.len() != nodes {
                    return Err(r.invalid("search result for another graph"));
                }
                Store::Log { records, first }
            }
            1 => {
                let reached = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
                let link: Table<u64> = r.table()?;
                let level: Table<u32> = r.table()?;
                if link.len() != nodes || level.len() != nodes || reached > nodes {
                    return Err(r.invalid("search result for another graph"));
                }
                Store::Tree {
                    link,
                    level,
                    reached,
                }
            }
            _ => return Err(r.invalid("unknown kind of search result")),
        };
        Ok(Reach { direction, store })
    }

    /// Records kept (improvements made; reached nodes for an untimed search), for
    /// statistics.
    pub fn record_count(&self) -> usize {
        match &self.store {
            Store::Log { records, .. } => records.len(),
            Store::Tree { reached, .. } => *reached,
        }
    }
}

/// Time-respecting hops from `starts` in `direction`, up to `max_hops`.
/// `expandable[node]` says whether paths may continue through a node; seeds always
/// continue. Starts naming the same node are merged (smallest `since`).
pub fn hops(
    graph: &Graph,
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
) -> Reach {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS);
    hops_with_threads(graph, direction, starts, expandable, max_hops, threads)
}

/// [`hops`] on a given number of threads (at least one). The result does not
/// depend on the number: tests check that.
pub fn hops_with_threads(
    graph: &Graph,
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
    threads: usize,
) -> Reach {
    let n = graph.node_count();
    let adj = graph.adjacency(direction);
    let mut records: Vec<Record> = Vec::new();
    let mut first = huge_vec(n, |_| NONE);
    let mut arrival = vec![UNREACHED; n];

    let mut starts: Vec<Start> = starts.to_vec();
    starts.sort_unstable_by_key(|s| (s.node, s.since));
    starts.dedup_by_key(|s| s.node);

    // Level 0: the seeds. Each scans its root window of keys [lo, hi).
    // Frontier items are `(node, lo, hi)`: scan the node's edges with keys in
    // [lo, hi). `hi == UNREACHED` means "below the last window", found without a
    // search from `scan_end`, the position where the node's previous window began.
    let mut frontier: Vec<(u32, u32, u32, u32)> = Vec::with_capacity(starts.len());
    for s in &starts {
        let rec = records.len() as u32;
        records.push(Record {
            node: s.node,
            key: direction.key(s.since),
            pred: NONE,
            level: 0,
        });
        first[s.node as usize] = rec;
        let window = match direction {
            Direction::Downstream => {
                // Arriving at `since` is the same as the root window [since, inf).
                arrival[s.node as usize] = s.since;
                (s.since, UNREACHED)
            }
            // block >= since  <=>  key <= MAX_BLOCK - since. This window is a
            // prefix of the node's edges; later windows may scan it again.
            Direction::Upstream => (0, MAX_BLOCK - s.since + 1),
        };
        frontier.push((s.node, window.0, window.1, rec));
    }

    // `state[v]` holds v's best key, lowered as soon as a candidate is found, with
    // the record it came from in the current level. `current` (the record to
    // extend from) changes only between levels, which keeps the relaxation
    // level-synchronous.
    //
    // Each level first gathers the candidate edges of the frontier's windows into
    // a buffer (sequential reads), then relaxes them in order while prefetching
    // `state` of targets a few edges ahead: the random reads of `state` are what a
    // search on a large graph waits for.
    let seed_records = records.len();
    let state: Vec<AtomicU64> = huge_vec(n, |i| AtomicU64::new(pack_state(arrival[i], NONE)));
    drop(arrival);
    let scan_end: Vec<AtomicU32> = huge_vec(n, |_| AtomicU32::new(NONE));
    let mut workers: Vec<Worker> = (0..threads.max(1)).map(|_| Worker::default()).collect();
    let mut touched_bits: Vec<u64> = vec![0; n.div_ceil(64)];
    let mut level = 0;
    let mut relaxed = 0u64;
    while !frontier.is_empty() && level < max_hops {
        level += 1;
        let ctx = Level {
            adj,
            frontier: &frontier,
            state: &state,
            scan_end: &scan_end,
        };
        if frontier.len() >= PARALLEL_FRONTIER && workers.len() > 1 {
            let stride = workers.len();
            std::thread::scope(|scope| {
                for (t, w) in workers.iter_mut().enumerate() {
                    let ctx = &ctx;
                    scope.spawn(move || w.run(ctx, t, stride));
                }
            });
        } else {
            workers[0].run(&ctx, 0, 1);
        }
        // Number the improvements in node order, whatever order the threads found
        // them in: a bitset of touched nodes, read in ascending order.
        for w in &mut workers {
            relaxed += w.relaxed;
            w.relaxed = 0;
            for &v in &w.touched {
                touched_bits[v as usize / 64] |= 1u64 << (v % 64);
            }
            w.touched.clear();
        }
        frontier.clear();
        // Records are numbered in node order: each chunk of the node range takes
        // the numbers after those of the chunks before it, so chunks can be
        // written in parallel.
        let chunk_words = touched_bits.len().div_ceil(workers.len()).max(1);
        let counts: Vec<usize> = touched_bits
            .chunks(chunk_words)
            .map(|c| c.iter().map(|w| w.count_ones() as usize).sum())
            .collect();
        let total: usize = counts.iter().sum();
        let base = records.len();
        records.resize(base + total, Record::default());
        let mut outs: Vec<Vec<(u32, u32, u32, u32)>> = vec![Vec::new(); counts.len()];
        {
            let mut rec_rest = &mut records[base..];
            let mut first_rest = &mut first[..];
            let mut jobs = Vec::with_capacity(counts.len());
            let mut next_rec = base;
            for ((chunk, bits), out) in counts
                .iter()
                .zip(touched_bits.chunks_mut(chunk_words))
                .zip(outs.iter_mut())
            {
                let (recs, rest) = rec_rest.split_at_mut(*chunk);
                rec_rest = rest;
                let nodes = (bits.len() * 64).min(first_rest.len());
                let (firsts, rest) = first_rest.split_at_mut(nodes);
                first_rest = rest;
                let node_base = (n - first_rest.len() - nodes) as u32;
                jobs.push(NumberJob {
                    bits,
                    records: recs,
                    first: firsts,
                    node_base,
                    rec_base: next_rec as u32,
                    out,
                });
                next_rec += chunk;
            }
            let shared = Numbering {
                state: &state,
                expandable,
                seed_records,
                level,
            };
            if total >= PARALLEL_FRONTIER && jobs.len() > 1 {
                std::thread::scope(|scope| {
                    for job in jobs {
                        let shared = &shared;
                        scope.spawn(move || job.run(shared));
                    }
                });
            } else {
                for job in jobs {
                    job.run(&shared);
                }
            }
        }
        for out in outs {
            frontier.extend(out);
        }
    }
    tracing::debug!(
        target: "exposure::hops",
        direction = direction.as_str(),
        levels = level,
        records = records.len(),
        edges_relaxed = relaxed,
        "search done"
    );
    Reach {
        direction,
        store: Store::Log {
            records: records.into(),
            first: first.into(),
        },
    }
}

/// The obvious reference: Bellman-Ford over hop levels on (node -> best block),
/// written directly in blocks over an edge list, with no keys, windows or CSR.
/// O(levels x E). Used by tests to check [`hops`].
pub fn reference_hops(
    nodes: usize,
    edges: &[(u32, u32, u32)],
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
) -> Vec<Option<u32>> {
    let mut since: Vec<Option<u32>> = vec![None; nodes];
    for s in starts {
        let e = &mut since[s.node as usize];
        *e = Some(e.map_or(s.since, |x: u32| x.min(s.since)));
    }
    let mut hops: Vec<Option<u32>> = since.iter().map(|s| s.map(|_| 0)).collect();
    // best[v]: downstream the earliest block at which taint is at v; upstream the
    // latest block by which v's funds must leave to reach a seed in time.
    let mut best: Vec<Option<u32>> = vec![None; nodes];
    for level in 1..=max_hops {
        let mut next = best.clone();
        for &(from, to, block) in edges {
            let (u, v) = match direction {
                Direction::Downstream => (from as usize, to as usize),
                Direction::Upstream => (to as usize, from as usize),
            };
            let is_seed = since[u].is_some();
            if !is_seed && !expandable[u] {
                continue;
            }
            let via_root = since[u].is_some_and(|s| block >= s);
            let via_path = match (direction, best[u]) {
                (Direction::Downstream, Some(a)) => block >= a,
                (Direction::Upstream, Some(l)) => block <= l,
                (_, None) => false,
            };
            if !(via_root || via_path) {
                continue;
            }
            let better = match (direction, next[v]) {
                (_, None) => true,
                (Direction::Downstream, Some(a)) => block < a,
                (Direction::Upstream, Some(l)) => block > l,
            };
            if better {
                next[v] = Some(block);
            }
            if hops[v].is_none() {
                hops[v] = Some(level);
            }
        }
        if direction == Direction::Downstream {
            for (v, s) in since.iter().enumerate() {
                if let Some(s) = s {
                    next[v] = Some(next[v].map_or(*s, |a| a.min(*s)));
                }
            }
        }
        best = next;
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    /// A search result read back in the test's own (external) node ids.
    struct Found {
        graph: Graph,
        reach: Reach,
    }

    impl Found {
        fn path(&self, v: u32) -> Vec<Step> {
            let ext = |n: u32| self.graph.external_id(n);
            let node = self
                .graph
                .node(&Address::with_last_byte(v as u8 + 1))
                .unwrap();
            self.reach
                .path(node)
                .into_iter()
                .map(|s| Step {
                    from: ext(s.from),
                    to: ext(s.to),
                    block: s.block,
                })
                .collect()
        }

        fn seed(&self, v: u32) -> Option<u32> {
            let node = self
                .graph
                .node(&Address::with_last_byte(v as u8 + 1))
                .unwrap();
            self.reach.seed(node).map(|s| self.graph.external_id(s))
        }
    }

    /// Builds a graph over `n` nodes; runs both the engine and the reference; checks
    /// they agree and returns the engine's hops, in external ids.
    fn run(
        n: usize,
        edges: &[(u32, u32, u32)],
        direction: Direction,
        starts: &[Start],
        services: &[u32],
        max_hops: u32,
    ) -> (Vec<Option<u32>>, Found) {
        let addrs: Vec<Address> = (0..n)
            .map(|i| Address::with_last_byte(i as u8 + 1))
            .collect();
        let graph = Graph::from_edges(addrs.clone(), edges);
        let internal = |v: u32| graph.node(&addrs[v as usize]).unwrap();
        let mut expandable = vec![true; n];
        for &s in services {
            expandable[internal(s) as usize] = false;
        }
        let inner_starts: Vec<Start> = starts
            .iter()
            .map(|s| Start {
                node: internal(s.node),
                since: s.since,
            })
            .collect();
        let reach = hops(&graph, direction, &inner_starts, &expandable, max_hops);
        let got: Vec<Option<u32>> = (0..n as u32).map(|v| reach.hops(internal(v))).collect();
        let mut ext_expandable = vec![true; n];
        for &s in services {
            ext_expandable[s as usize] = false;
        }
        let want = reference_hops(n, edges, direction, starts, &ext_expandable, max_hops);
        assert_eq!(got, want, "engine and reference disagree");
        (got, Found { graph, reach })
    }

    const DOWN: Direction = Direction::Downstream;
    const UP: Direction = Direction::Upstream;

    fn seed(node: u32) -> Start {
        Start { node, since: 0 }
    }

    #[test]
    fn transfer_before_taint_does_not_propagate() {
        // S->A at block 10, A->B at block 5: B is not downstream of S.
        let (h, _) = run(3, &[(0, 1, 10), (1, 2, 5)], DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), None]);
        // Upstream of seed B(2): A sent at 5, S sent to A at 10 > 5: S is not upstream.
        let (h, _) = run(3, &[(0, 1, 10), (1, 2, 5)], UP, &[seed(2)], &[], 10);
        assert_eq!(h, vec![None, Some(1), Some(0)]);
    }

    #[test]
    fn chain_within_one_block_propagates() {
        let edges = [(0, 1, 7), (1, 2, 7), (2, 3, 7)];
        let (h, reach) = run(4, &edges, DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), Some(2), Some(3)]);
        let path = reach.path(3);
        assert_eq!(
            path,
            vec![
                Step {
                    from: 0,
                    to: 1,
                    block: 7
                },
                Step {
                    from: 1,
                    to: 2,
                    block: 7
                },
                Step {
                    from: 2,
                    to: 3,
                    block: 7
                }
            ]
        );
        let (h, reach) = run(4, &edges, UP, &[seed(3)], &[], 10);
        assert_eq!(h, vec![Some(3), Some(2), Some(1), Some(0)]);
        assert_eq!(
            reach.path(0)[0],
            Step {
                from: 0,
                to: 1,
                block: 7
            }
        );
        assert_eq!(
            reach.path(0)[2],
            Step {
                from: 2,
                to: 3,
                block: 7
            }
        );
    }

    #[test]
    fn longer_earlier_path_beats_shorter_later_one_for_what_follows() {
        // S->A at 50 (1 hop, late). S->X at 1, X->A at 2 (2 hops, early).
        // A->B at 10: only the early, longer path carries taint to B.
        let edges = [(0, 1, 50), (0, 2, 1), (2, 1, 2), (1, 3, 10)];
        let (h, reach) = run(4, &edges, DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), Some(1), Some(3)]);
        // A still reports hop 1 with its one-transfer path...
        assert_eq!(
            reach.path(1),
            vec![Step {
                from: 0,
                to: 1,
                block: 50
            }]
        );
        // ...and B's path goes the long, early way.
        assert_eq!(
            reach.path(3),
            vec![
                Step {
                    from: 0,
                    to: 2,
                    block: 1
                },
                Step {
                    from: 2,
                    to: 1,
                    block: 2
                },
                Step {
                    from: 1,
                    to: 3,
                    block: 10
                }
            ]
        );
    }

    #[test]
    fn services_are_reached_but_not_expanded() {
        // S -> exchange(1) -> C. The exchange is reached, C is not.
        let edges = [(0, 1, 1), (1, 2, 2)];
        let (h, _) = run(3, &edges, DOWN, &[seed(0)], &[1], 10);
        assert_eq!(h, vec![Some(0), Some(1), None]);
        let (h, _) = run(3, &edges, UP, &[seed(2)], &[1], 10);
        assert_eq!(h, vec![None, Some(1), Some(0)]);
        // A service that is itself a seed is expanded.
        let (h, _) = run(3, &edges, DOWN, &[seed(1)], &[1], 10);
        assert_eq!(h, vec![None, Some(0), Some(1)]);
    }

    #[test]
    fn since_block_is_respected_in_both_directions() {
        // Seed S (since 100). S->A at 50 does not count, S->B at 150 does.
        let edges = [(0, 1, 50), (0, 2, 150), (1, 3, 200)];
        let (h, _) = run(
            4,
            &edges,
            DOWN,
            &[Start {
                node: 0,
                since: 100,
            }],
            &[],
            10,
        );
        assert_eq!(h, vec![Some(0), None, Some(1), None]);
        // Upstream of seed T (since 100): X->T at 50 does not count, Y->T at 150 does,
        // and Z->Y at 120 (before 150) makes Z 2 hops upstream.
        let edges = [(1, 0, 50), (2, 0, 150), (3, 2, 120), (4, 1, 10)];
        let (h, _) = run(
            5,
            &edges,
            UP,
            &[Start {
                node: 0,
                since: 100,
            }],
            &[],
            10,
        );
        assert_eq!(h, vec![Some(0), None, Some(1), Some(2), None]);
    }

    #[test]
    fn self_loops_change_nothing() {
        let edges = [(0, 0, 1), (0, 1, 2), (1, 1, 3), (1, 2, 4)];
        let (h, _) = run(3, &edges, DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), Some(2)]);
        let (h, _) = run(3, &edges, UP, &[seed(2)], &[], 10);
        assert_eq!(h, vec![Some(2), Some(1), Some(0)]);
    }

    #[test]
    fn parallel_edges_each_count() {
        // Two transfers A->B, at 5 and at 20; B->C at 10. The one at 5 carries taint
        // on to C; the one at 20 alone would not.
        let edges = [(0, 1, 20), (0, 1, 5), (1, 2, 10)];
        let (h, reach) = run(3, &edges, DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), Some(2)]);
        assert_eq!(reach.path(2)[0].block, 5);
        let (h, _) = run(3, &[(0, 1, 20), (1, 2, 10)], DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), None]);
    }

    #[test]
    fn max_hops_stops_the_search() {
        let edges = [(0, 1, 1), (1, 2, 2), (2, 3, 3)];
        let (h, _) = run(4, &edges, DOWN, &[seed(0)], &[], 2);
        assert_eq!(h, vec![Some(0), Some(1), Some(2), None]);
    }

    #[test]
    fn seed_tainted_earlier_through_another_seed() {
        // S1 (since 100) receives from S2 at 10; S1->A at 20 then counts via S2.
        let edges = [(1, 0, 10), (0, 2, 20)];
        let starts = [
            Start {
                node: 0,
                since: 100,
            },
            seed(1),
        ];
        let (h, reach) = run(3, &edges, DOWN, &starts, &[], 10);
        assert_eq!(h, vec![Some(0), Some(0), Some(2)]);
        assert_eq!(reach.seed(2), Some(1));
    }
}
