//! Exposure by value: the haircut rule, side by side with the hop (poison) view.
//!
//! Semantics (DESIGN.md, "Exposure share"). Transfers are processed once, in chain
//! order (block, then transaction hash, kind and index: the store's key order).
//! Per asset, every address holds a *balance* and the tainted *fraction* of it (and,
//! for attribution, the fractions owed to the [`TOP_SEEDS`] largest seeds in it).
//! A transfer of `amount` from `s` to `r`:
//!
//! - if `s` is a seed and the block is at or after its `since`, all of `amount` is
//!   tainted by `s`;
//! - else if `s` is not expandable (a service that is not a seed, as in the hop
//!   search), nothing it sends is tainted: it co-mingles funds and is reached but not
//!   expanded;
//! - else the part of `amount` covered by `s`'s known balance, `known = min(amount,
//!   balance)`, carries `s`'s fractions; the rest (`amount - known`) is funds of
//!   unknown origin, which count as **clean** (missing history never taints, and a
//!   balance never goes negative).
//!
//! `s`'s balance drops by `known` and keeps its fractions (a proportional haircut
//! leaves the mix unchanged); `r`'s balance grows by `amount` and its fractions
//! become the amount-weighted mean of its old mix and the incoming one. Each
//! address accumulates, per asset, everything it received and the tainted part of
//! it: its *share* is tainted / received, in [0, 1].
//!
//! Attribution is bounded: each holding and each exposure names at most
//! [`TOP_SEEDS`] seeds (the largest parts as stored; ties to the smaller seed id).
//! When a mix holds more, the smallest parts are dropped from the names but never
//! from the totals: the tainted fraction and the tainted amount received are
//! tracked exactly (to `f64`) on their own, and the unnamed rest is reported as
//! "other seeds".
//! Without the bound, mixes on a 50 M-transfer graph grow to hundreds of seeds and
//! the pass takes hours.
//!
//! Precision: balances and amounts received are exact integers in the asset's
//! smallest unit (wei), held as `u128`: amounts above 2^128 - 1 (about 3.4e20 ETH;
//! seen only in spam tokens) are clamped to it before they reach the haircut (a
//! [`Flow`] carries a `u128`), and sums saturate there. Fractions
//! and tainted amounts are `f64`; the weight `amount / (balance + amount)` is
//! computed from the two integers converted to `f64` (relative error below 2^-51
//! each), so a share carries a relative error of about 1e-15 per mixing step it
//! went through; shares and fractions are clamped to [0, 1] after every step, so
//! rounding can never push them out of range. Tainted amounts are reported rounded
//! to whole units. The named seeds' parts are kept as `f32` fractions of the tainted
//! amount (so that a holding and its attribution fit one cache line): a single
//! seed's part is exactly the whole, and otherwise a part is good to about 1e-7 of
//! the tainted amount.
//!
//! Engine. Assets never mix, so every asset is run on its own. The most frequent
//! asset (judged from a sample of the flows; which assets are run how changes how
//! the work is shared, never the result: [`Plan`]) is read straight from the
//! flows, with address ids as its local numbers; the others are split out by that
//! pass as it goes (which keeps chain order within each) and run a slice at a time
//! by the dense asset's inflows thread whenever no chunk waits ([`Others`]).
//! The next most frequent one, if it has about one transfer for every two
//! addresses or more, keeps address ids as its local numbers too; the addresses of
//! the rest get dense local numbers, and their results are then indexed by
//! address. All
//! that the pass touches for one address is two 64-byte lines, its holding
//! (balance, fraction, `since`, flags and named seeds) and its inflow (received,
//! tainted, named seeds). The pass prefetches the lines of the flows a few places
//! ahead, since on a large graph memory latency is a large part of the cost. The
//! dense asset's pass is shared by two threads: the calling thread keeps the
//! holdings (the senders' spends and the receivers' mixes, which must go in chain
//! order) and hands each tainted transfer's tainted amount and named seeds, in
//! chunks and in chain order, to a second thread that keeps the inflows (one line
//! per transfer: it reads the receiver and the amount received from the flows
//! itself and, if tainted, makes the mix). Mixing named seeds is
//! a fixed network of compare-exchanges on 64-bit keys, without data-dependent
//! branches (`Top::mix`; in AVX-512 or AVX2 where the processor has it, `simd`,
//! and then the whole pass is compiled for it so that the mixes can be inlined):
//! with many seeds it is the common case. A mix into nothing (a first tainted
//! receipt, or one into a clean holding: about 3 in 10 in the benchmark) is
//! skipped, since it would give what came in. The pass otherwise branches only where the branch is
//! predictable (`spend`). The obvious engine, `U256` balances and `f64` parts in
//! a hash map per (address, asset), is [`reference::reference_haircut`]; a
//! property test checks that both agree. The state of the dense asset and of the
//! one run by address id comes from the kernel's huge page pool when the process
//! is asked to use it and the pool has room ([`crate::pool`]; the same results):
//! on a VM whose host takes freed memory back, that state is made about ten times
//! faster, and the pass reads it in 2 MiB pages.
//!
//! Cost: O(transfers x TOP_SEEDS) time; memory a bit per flow for the marks of
//! taint carried, 32 bytes per flow of the other assets for the split (4 for the
//! one numbered by address id; up to twice that while its lists grow), 128 bytes
//! per (address, asset) pair while running and 64 after (per address, for the
//! two assets numbered by address id), and about 3.5 MiB of chunks under way
//! between the two threads of the dense asset.

pub mod reference;
#[cfg(target_arch = "x86_64")]
mod simd;

use alloy_primitives::U256;
use fixedbitset::FixedBitSet;

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use crate::exposure::{Start, prefetch};
use crate::graph::{advise_hot, fill_resident};
use crate::pool::Lines;
use crate::table::{Table, TableReader, TableWriter};

/// One transfer as the haircut sees it. `from`, `to` and `asset` are dense ids
/// chosen by the caller (the graph's nodes and the store's asset ids). Plain data,
/// so that the flows cache can be mapped in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Flow {
    /// Block number.
    pub block: u32,
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// Asset id.
    pub asset: u32,
    /// Amount in the asset's smallest unit, clamped to `u128` (about 3.4e20 ETH;
    /// see the precision notes above).
    pub amount: u128,
}

/// `x` as the nearest `f64`, with a fast path for values below 2^128 (all real
/// amounts).
#[inline]
fn to_f64(x: U256) -> f64 {
    let limbs = x.as_limbs();
    if limbs[2] == 0 && limbs[3] == 0 {
        ((u128::from(limbs[1]) << 64) | u128::from(limbs[0])) as f64
    } else {
        f64::from(x)
    }
}

/// `x` as an `f64` to a relative error below 2^-51 (within about one unit in the
/// last place), without the library call that `x as f64` makes for values of 2^64 and
/// more (sums of balances often are): below 2^64 it is `x as f64` exactly.
#[inline]
fn f64_of(x: u128) -> f64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    let (high, low) = ((x >> 64) as u64, x as u64);
    if high == 0 {
        low as f64
    } else {
        high as f64 * TWO_64 + low as f64
    }
}

/// How many seeds each holding and each exposure attributes by name.
pub const TOP_SEEDS: usize = 4;

/// Not a seed (above every block: `transfer::MAX_BLOCK` is `u32::MAX - 1`).
pub(super) const NOT_SEED: u32 = u32::MAX;
/// An empty slot of a [`Top`].
const NO_SEED: u32 = u32::MAX;

/// How a [`Top`] stores its parts: `f64` in the reference engine, `f32` in the
/// fast one (where a holding and its attribution share one cache line).
trait Part: Copy + Default + PartialEq + std::fmt::Debug {
    fn get(self) -> f64;
    fn put(x: f64) -> Self;
}

impl Part for f64 {
    fn get(self) -> f64 {
        self
    }
    fn put(x: f64) -> f64 {
        x
    }
}

impl Part for f32 {
    fn get(self) -> f64 {
        f64::from(self)
    }
    fn put(x: f64) -> f32 {
        x as f32
    }
}

/// The largest per-seed parts of a quantity, at most [`TOP_SEEDS`], largest first
/// (ties: the smaller seed first; empty slots, [`NO_SEED`], at the end). What does
/// not fit is not lost: the exact total is kept beside it, and the difference is
/// reported as "other seeds".
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Top<P: Part> {
    seeds: [u32; TOP_SEEDS],
    parts: [P; TOP_SEEDS],
}

impl<P: Part> Default for Top<P> {
    fn default() -> Top<P> {
        Top {
            seeds: [NO_SEED; TOP_SEEDS],
            parts: [P::default(); TOP_SEEDS],
        }
    }
}

impl<P: Part> Top<P> {
    fn one(seed: u32, value: f64) -> Top<P> {
        let mut t = Top::default();
        t.seeds[0] = seed;
        t.parts[0] = P::put(value);
        t
    }

    fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.seeds
            .iter()
            .zip(&self.parts)
            .take_while(|(s, _)| **s != NO_SEED)
            .map(|(&s, &v)| (s, v.get()))
    }
}

impl Top<f32> {
    /// `self * wa + other * wb`, seed by seed, keeping the largest positive parts
    /// as stored (`f32`; ties to the smaller seed id), in that order. When more
    /// than [`TOP_SEEDS`] seeds result, the smallest parts are dropped. The
    /// obvious version, a merge, is [`reference::merge`]; a test checks that both
    /// agree.
    ///
    /// Without branches on the data: mixes of different seeds are the common case
    /// on a large graph, and a merge that drops parts one at a time mispredicts at
    /// nearly every step. Instead each of the (at most `2 x TOP_SEEDS`) candidates
    /// becomes one 64-bit key, its stored part's bits above its inverted seed, so
    /// that a larger key is a larger part, then a smaller seed (0: no candidate),
    /// and small sorting networks pick the largest: 15 compare-exchanges.
    ///
    /// Mixed into nothing (`wa` 0 and `wb` 1: a first tainted receipt, or one
    /// into a clean holding), a `Top` made by the engine (a mix, one seed or
    /// none: positive parts largest first, empty slots as `default` has them)
    /// comes out as it went in, so the pass skips those mixes (a test checks it).
    ///
    /// This version runs on any processor. Where the processor has AVX-512 or
    /// AVX2, the passes are compiled with the mix of `simd` for it instead
    /// ([`with_mix`]), which gives the same bits.
    fn mix(&self, wa: f64, other: &Top<f32>, wb: f64) -> Top<f32> {
        /// The key of a candidate; 0 unless its part is positive once stored.
        #[inline(always)]
        fn key(seed: u32, part: f64) -> u64 {
            let stored = part as f32;
            let key = (u64::from(stored.to_bits()) << 32) | u64::from(!seed);
            if stored > 0.0 { key } else { 0 }
        }
        // This side's seeds (plus the other side's part of the same seed), then the
        // other side's seeds that this side does not name. Empty slots have a part
        // of 0, so they never become candidates, whatever they match.
        let mut a = [0u64; TOP_SEEDS];
        let mut b = [0u64; TOP_SEEDS];
        let mut matched = [false; TOP_SEEDS];
        for (i, key_a) in a.iter_mut().enumerate() {
            let seed = self.seeds[i];
            let mut theirs = 0.0;
            for (j, matched) in matched.iter_mut().enumerate() {
                let same = other.seeds[j] == seed;
                *matched |= same;
                theirs += if same {
                    f64::from(other.parts[j]) * wb
                } else {
                    0.0
                };
            }
            *key_a = key(seed, f64::from(self.parts[i]) * wa + theirs);
        }
        for (j, key_b) in b.iter_mut().enumerate() {
            let part = f64::from(other.parts[j]) * wb;
            *key_b = key(other.seeds[j], if matched[j] { 0.0 } else { part });
        }
        // Both halves sorted, largest first; the larger of `a[i]` and `b[3 - i]` are
        // then the 4 largest of all (a bitonic split), and two stages sort them,
        // largest first, with no candidate (0) last.
        sort4_descending(&mut a);
        sort4_descending(&mut b);
        let mut best: [u64; TOP_SEEDS] = std::array::from_fn(|i| a[i].max(b[TOP_SEEDS - 1 - i]));
        for (i, j) in [(0, 2), (1, 3), (0, 1), (2, 3)] {
            let (x, y) = (best[i], best[j]);
            best[i] = x.max(y);
            best[j] = x.min(y);
        }
        Top {
            seeds: best.map(|k| !(k as u32)),
            parts: best.map(|k| f32::from_bits((k >> 32) as u32)),
        }
    }
}

const _: () = assert!(TOP_SEEDS == 4, "Top::mix sorts with 4-element networks");

/// Sorts 4 keys, largest first (an optimal 5-comparator network).
#[inline(always)]
fn sort4_descending(v: &mut [u64; 4]) {
    for (i, j) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (x, y) = (v[i], v[j]);
        v[i] = x.max(y);
        v[j] = x.min(y);
    }
}

/// What one address received of one asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    /// The asset id.
    pub asset: u32,
    /// Everything received, exact.
    pub received: U256,
    /// The tainted part of it, over all seeds.
    pub tainted_total: f64,
    /// The tainted part of it from the seeds that contributed most (at most
    /// [`TOP_SEEDS`]), sorted by seed; the rest of `tainted_total` came from others.
    pub by_seed: Vec<(u32, f64)>,
}

impl Exposure {
    /// The tainted amount received, over all seeds, in [0, received].
    pub fn tainted(&self) -> f64 {
        self.tainted_total.min(f64::from(self.received)).max(0.0)
    }

    /// The tainted share of what was received, in [0, 1]; 0 when nothing was.
    pub fn share(&self) -> f64 {
        let received = f64::from(self.received);
        if received <= 0.0 {
            return 0.0;
        }
        (self.tainted() / received).clamp(0.0, 1.0)
    }

    /// The tainted amount from seeds beyond the ones named in `by_seed`.
    pub fn other_seeds(&self) -> f64 {
        let named = self.by_seed.iter().fold(0.0f64, |acc, &(_, t)| acc + t);
        (self.tainted() - named).max(0.0)
    }

    /// The seeds that contributed, most tainted value first (ties by seed id),
    /// at most `k` of them.
    pub fn top_seeds(&self, k: usize) -> Vec<(u32, f64)> {
        let mut seeds: Vec<(u32, f64)> = self
            .by_seed
            .iter()
            .copied()
            .filter(|&(_, t)| t > 0.0)
            .collect();
        seeds.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        seeds.truncate(k);
        seeds
    }
}

/// One flow of one asset, between local address numbers.
#[derive(Debug, Clone, Copy)]
struct Leg {
    from: u32,
    to: u32,
    block: u32,
    /// Its position in the caller's flows.
    flow: u32,
    amount: u128,
}

impl Leg {
    /// Flow number `i`, `f`, in the address ids it names.
    fn of(i: usize, f: &Flow) -> Leg {
        Leg {
            from: f.from,
            to: f.to,
            block: f.block,
            flow: i as u32,
            amount: f.amount,
        }
    }
}

/// What one address holds of one asset, with its attribution: one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Holding {
    balance: u128,
    /// Tainted fraction of the balance.
    taint: f64,
    /// Block from which it is a seed, or [`NOT_SEED`].
    since: u32,
    /// It passes taint on.
    expandable: bool,
    seeds: Top<f32>,
}

/// What one address received of one asset, with its attribution: one cache line.
/// Plain data (no implicit padding), so that results files can map it in place.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Inflow {
    total: u128,
    tainted: f64,
    seeds: Top<f32>,
    _unused: u64,
}

// SAFETY: `Top<f32>` is `repr(C)`: `[u32; TOP_SEEDS]` then `[f32; TOP_SEEDS]`, both
// 4-byte aligned, so it has no padding (asserted below), and every bit pattern of
// its fields is a valid value.
unsafe impl bytemuck::Zeroable for Top<f32> {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for Top<f32> {}
// SAFETY: `Inflow` is `repr(C)` and its fields (`u128`, `f64`, `Top<f32>`, `u64`)
// fill its 64 bytes exactly (asserted below): no padding; every bit pattern of
// each field is valid.
unsafe impl bytemuck::Zeroable for Inflow {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for Inflow {}
const _: () = assert!(std::mem::size_of::<Top<f32>>() == 8 * TOP_SEEDS);
const _: () = assert!(std::mem::size_of::<Inflow>() == 16 + 8 + 8 * TOP_SEEDS + 8);
const _: () = assert!(std::mem::size_of::<Inflow>() == 64);

/// The haircut of one asset: its addresses' results by local number.
#[derive(Debug, Default)]
struct AssetRun {
    asset: u32,
    /// Local number -> global address id (the asset's receivers, in order of
    /// first appearance); empty for the assets run by address id, whose local
    /// numbers are the address ids.
    nodes: Table<u32>,
    inflows: Table<Inflow>,
}

impl AssetRun {
    fn exposure(&self, local: usize) -> Option<Exposure> {
        let inflow = self.inflows.get(local)?;
        (inflow.total != 0).then(|| Exposure {
            asset: self.asset,
            received: U256::from(inflow.total),
            tainted_total: inflow.tainted,
            by_seed: by_seed(
                inflow
                    .seeds
                    .iter()
                    .map(|(seed, part)| (seed, part * inflow.tainted)),
            ),
        })
    }
}

/// Named seeds' parts in seed order, as [`Exposure::by_seed`] gives them.
fn by_seed(parts: impl Iterator<Item = (u32, f64)>) -> Vec<(u32, f64)> {
    let mut parts: Vec<(u32, f64)> = parts.collect();
    parts.sort_unstable_by_key(|&(seed, _)| seed);
    parts
}

/// Where a haircut's time goes, logged at debug level (`hoptrace -vv`, target
/// `exposure::haircut`) as each phase ends: the wall time since the haircut
/// started and the CPU time of the thread that ran the phase (so that each thread
/// of a pass on two threads tells its own). The clocks are read only when the
/// level is on, but for the threads' waits, which are always added up (a few
/// thousand clock reads a pass).
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    /// The pass it times, if any.
    pass: &'static str,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            start: Instant::now(),
            pass: "all assets",
        }
    }

    /// The same clock, for the phases of `pass`.
    fn of(self, pass: &'static str) -> Clock {
        Clock { pass, ..self }
    }

    fn mark(self, phase: &str) {
        tracing::debug!(
            target: "exposure::haircut",
            pass = self.pass,
            phase,
            wall = ?self.start.elapsed(),
            thread_cpu = ?thread_cpu(),
            "haircut phase done"
        );
    }
}

/// The CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct it is given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    if ok {
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}

/// The haircut computation. Feed it transfers in chain order with
/// [`Haircut::push`] (or give them all to [`Haircut::run`]) and read the result.
pub struct Haircut<'a> {
    /// `since` per address; [`NOT_SEED`] for an address that is not a seed.
    since: Vec<u32>,
    expandable: &'a [bool],
    flows: Vec<Flow>,
}

impl<'a> Haircut<'a> {
    /// A haircut over `node_count` addresses with `seeds` (their `node` ids in the
    /// caller's numbering) and `expandable` per address (false for services that
    /// are not seeds; a seed always passes its taint on).
    pub fn new(node_count: usize, seeds: &[Start], expandable: &'a [bool]) -> Haircut<'a> {
        Haircut {
            since: seed_since(node_count, seeds),
            expandable,
            flows: Vec::new(),
        }
    }

    /// Adds one transfer; transfers must come in chain order.
    pub fn push(&mut self, flow: Flow) {
        self.flows.push(flow);
    }

    /// Runs the haircut over the pushed flows.
    pub fn finish(mut self) -> HaircutResult {
        let flows = std::mem::take(&mut self.flows);
        self.run(&flows)
    }

    /// Runs the haircut over `flows` (in chain order; any pushed flows are ignored).
    pub fn run(&self, flows: &[Flow]) -> HaircutResult {
        self.run_with(flows, plan(flows, self.since.len()))
    }

    /// [`Haircut::run`] with the assets run as `plan` says.
    fn run_with(&self, flows: &[Flow], plan: Plan) -> HaircutResult {
        debug_assert!(plan.dense.is_none() || plan.dense != plan.by_id);
        let n = self.since.len();
        let clock = Clock::start();
        let mut carried = FixedBitSet::with_capacity(flows.len());
        // The other assets are taken up in slices by the dense asset's inflows
        // thread, whenever no chunk waits (see `Others`), and what is left of them
        // runs here when the dense pass is done (`Others::finish`).
        let mut others = Others::new(self, flows, plan, clock);
        if plan.by_id.is_some() {
            clock.mark("state of the asset run by address id made");
        }
        let dense = plan
            .dense
            .map(|a| self.run_dense(a, flows, &mut carried, &mut others));
        clock.mark("dense asset done");
        others.finish();
        clock.mark("other assets done");
        let (second, runs, marks) = (others.second_run, others.runs, others.marks);
        for f in marks {
            carried.insert(f as usize);
        }
        let entries: usize = runs.iter().map(|run| run.nodes.len()).sum();
        let (offsets, index) = index_by_address(n, &runs, entries >= SHARED_INDEX);
        let mut by_id: Vec<AssetRun> = dense.into_iter().chain(second).collect();
        by_id.sort_by_key(|run| run.asset);
        clock.mark("index by address made");
        HaircutResult {
            by_id,
            others: runs,
            offsets: offsets.into(),
            index: index.into(),
            carried,
        }
    }

    fn holding(&self, node: u32) -> Holding {
        Holding {
            balance: 0,
            taint: 0.0,
            since: self.since[node as usize],
            expandable: self.expandable[node as usize],
            seeds: Top::default(),
        }
    }

    /// The dense asset, read from `flows`: local numbers are the address ids. Its
    /// state is made by two threads (from [`SHARED_STATE`] bytes an array:
    /// [`state_pair`]), then two threads share the pass (see [`two_threads`]):
    /// this one keeps the holdings (2 lines a leg), and a second one keeps the
    /// inflows (the third line), marks
    /// the flows that carried taint, splits the other assets' flows out to
    /// `others` and, whenever no chunk waits, takes up a slice of their work.
    fn run_dense(
        &self,
        asset: u32,
        flows: &[Flow],
        carried: &mut FixedBitSet,
        others: &mut Others<'_, '_>,
    ) -> AssetRun {
        let n = self.since.len();
        let leg = |i: usize| {
            if let Some(ahead) = flows.get(i + FLOWS_AHEAD) {
                prefetch(ahead);
            }
            let f = &flows[i];
            (f.asset == asset && f.amount != 0).then_some(Leg::of(i, f))
        };
        let clock = others.clock.of("dense asset");
        let (holdings, inflows) = state_pair(
            n,
            flows.len(),
            |v| self.holding(v as u32),
            |_| Inflow::default(),
        );
        clock.mark("state made");
        let (_, inflows) = two_threads(
            clock,
            flows.len(),
            leg,
            holdings,
            inflows,
            |f| carried.insert(f as usize),
            others,
        );
        AssetRun {
            asset,
            nodes: Table::default(),
            inflows: inflows.into(),
        }
    }

    /// Any other asset, its flows `numbers` of `flows`: its receivers are
    /// numbered in order of first appearance, then the senders that never
    /// receive it, and its legs are made in those local numbers. Only receivers
    /// get inflows (the results: a sender that never receives has no exposure,
    /// and in the six-asset benchmark a third of the addresses of each numbered
    /// asset are such senders). Adds the flows that carried taint to `carried`.
    /// Logs at debug level how long its numbering, its state and its pass took.
    fn run_sparse(
        &self,
        asset: u32,
        flows: &[Flow],
        numbers: &[u32],
        work: &mut Workspace,
        carried: &mut Vec<u32>,
    ) -> AssetRun {
        let n = self.since.len();
        let start = Instant::now();
        let Workspace {
            local,
            legs,
            holdings,
        } = work;
        if local.is_empty() {
            *local = vec![u32::MAX; n];
        }
        /// `v`'s local number, given the next one if it has none yet.
        fn number(local: &mut [u32], nodes: &mut Vec<u32>, v: u32) -> u32 {
            let slot = &mut local[v as usize];
            if *slot == u32::MAX {
                *slot = nodes.len() as u32;
                nodes.push(v);
            }
            *slot
        }
        let mut nodes: Vec<u32> = Vec::new();
        for i in 0..numbers.len() {
            if let Some(&next) = numbers.get(i + AHEAD) {
                prefetch(&local[flows[next as usize].to as usize]);
            }
            number(local, &mut nodes, listed_leg(flows, numbers, i).to);
        }
        let receivers = nodes.len();
        if legs.capacity() < numbers.len() {
            *legs = Lines::with_capacity(numbers.len(), |_| ());
        }
        for (i, slot) in legs.cleared()[..numbers.len()].iter_mut().enumerate() {
            if let Some(&next) = numbers.get(i + AHEAD) {
                let next = &flows[next as usize];
                prefetch(&local[next.from as usize]);
                prefetch(&local[next.to as usize]);
            }
            let mut leg = listed_leg(flows, numbers, i);
            leg.from = number(local, &mut nodes, leg.from);
            leg.to = local[leg.to as usize];
            slot.write(leg);
        }
        // SAFETY: the capacity holds them (the slicing above panics otherwise), and
        // the loop has just written all of them.
        unsafe { legs.set_len(numbers.len()) };
        for &v in &nodes {
            local[v as usize] = u32::MAX;
        }
        let numbered = start.elapsed();
        let holding = |i: usize| self.holding(nodes[i]);
        if holdings.capacity() >= nodes.len() {
            refill(holdings, nodes.len(), holding);
        } else {
            *holdings = state_vec(nodes.len(), legs.len(), holding);
        }
        let mut inflows = state_vec(receivers, legs.len(), |_| Inflow::default());
        let made = start.elapsed();
        one_thread(
            legs.len(),
            |i| Some(legs[i]),
            holdings,
            &mut inflows,
            |local| nodes[local as usize],
            carried,
        );
        tracing::debug!(
            target: "exposure::haircut",
            asset,
            legs = legs.len(),
            addresses = nodes.len(),
            receivers,
            numbering = ?numbered,
            state = ?(made - numbered),
            pass = ?(start.elapsed() - made),
            thread_cpu = ?thread_cpu(),
            "numbered asset run"
        );
        nodes.truncate(receivers);
        AssetRun {
            asset,
            nodes: nodes.into(),
            inflows: inflows.into(),
        }
    }
}

/// The pass over `count` legs, `leg(i)`, on this thread alone, holdings and
/// inflows (see [`spend`]; `node` gives a local number's address id). Adds the
/// flows that carried taint to `carried`.
fn one_thread(
    count: usize,
    leg: impl Fn(usize) -> Option<Leg>,
    holdings: &mut [Holding],
    inflows: &mut [Inflow],
    node: impl Fn(u32) -> u32,
    carried: &mut Vec<u32>,
) {
    spend(
        count,
        leg,
        holdings,
        node,
        &mut Inflows {
            inflows,
            carried: |f| carried.push(f),
        },
    );
}

/// The pass over `count` legs, `leg(i)` (see [`spend`]), shared by two threads:
/// this one keeps the `holdings` (2 lines a leg), and hands the [`Taint`] of every
/// tainted leg, in chain order, to a second one. That one keeps the `inflows`
/// (the third line: it reads each leg's receiver and amount itself and, for a
/// tainted leg, makes the second mix),
/// calls `carried` with the flow number of every leg that carried taint, and gives
/// `aside` every position that holds no leg, and its idle time (see [`Aside`]).
/// Returns both states.
fn two_threads<L: Fn(usize) -> Option<Leg> + Sync>(
    clock: Clock,
    count: usize,
    leg: L,
    mut holdings: Lines<Holding>,
    mut inflows: Lines<Inflow>,
    carried: impl FnMut(u32) + Send,
    aside: &mut (impl Aside + Send),
) -> (Lines<Holding>, Lines<Inflow>) {
    /// Messages under way before the holdings wait for the inflows.
    const QUEUE: usize = 16;
    let (full, full_rx) = std::sync::mpsc::sync_channel::<Chunk>(QUEUE);
    let (empty_tx, empty) = std::sync::mpsc::channel::<Chunk>();
    let leg = &leg;
    crate::join(
        move || {
            let mut chunks = Chunks::new(&full, &empty);
            spend(count, leg, &mut holdings, |v| v, &mut chunks);
            chunks.send(count);
            tracing::debug!(
                target: "exposure::haircut",
                waited = ?chunks.waited,
                pass = clock.pass,
                "the holdings' thread waited for the inflows' one to take chunks"
            );
            clock.mark("holdings' pass");
            holdings
        },
        move || {
            let idle = with_mix(Drain {
                count,
                leg,
                full: full_rx,
                empty: empty_tx,
                aside,
                inflows: &mut inflows,
                carried,
                idle: Idle::default(),
            });
            tracing::debug!(
                target: "exposure::haircut",
                waited = ?idle.waited,
                aside = ?idle.aside,
                pass = clock.pass,
                "the inflows' thread waited for chunks, and worked aside while none waited"
            );
            clock.mark("inflows' pass");
            inflows
        },
    )
}

/// What the inflows' side of a pass on two threads does besides the inflows.
trait Aside {
    /// Position `at` of the pass holds no leg of its asset.
    fn other(&mut self, at: usize);
    /// No chunk waits: one slice of other work; false when there is none now.
    fn idle(&mut self) -> bool;
}

/// Nothing aside: a pass whose every position is a leg.
struct Nothing;

impl Aside for Nothing {
    fn other(&mut self, _: usize) {}
    fn idle(&mut self) -> bool {
        false
    }
}

/// The assets other than the dense one, as work done in slices of about a
/// millisecond ([`Others::step`]) by the dense asset's inflows thread whenever no
/// chunk waits ([`Aside`]), so that the thread of the holdings, which sets the
/// pace, has a core to itself. (On a third thread, the scheduler shared two cores
/// among three threads, and the holdings waited 0.2-0.4 s of a 2.3 s benchmark
/// pass for the inflows.) The dense pass splits them out as it goes (its
/// positions that hold no leg, [`Aside::other`]); without a dense asset, `step`
/// splits them. The asset of the plan's `by_id` is run as far as it is split;
/// the rest are numbered and run once the split is done, one asset at a time, or
/// on two threads when the plan says so ([`Others::run_rest`]).
struct Others<'h, 'a> {
    haircut: &'h Haircut<'a>,
    clock: Clock,
    flows: &'h [Flow],
    plan: Plan,
    /// Flows split so far (those before it).
    split: usize,
    /// The flow numbers split out of each asset but the dense one and `by_id`, by
    /// asset: 4 bytes a leg while the dense pass runs (as `second_flows`; whole
    /// legs, 240 MB for a benchmark with 15 % of its transfers in such assets, were
    /// fresh memory that kept the inflows thread, and so the dense pass, 1.3-1.5 s
    /// longer). Their legs are made when their asset runs.
    by_asset: Vec<Vec<u32>>,
    /// The flow numbers of the `by_id` asset's legs split so far: 4 bytes a leg
    /// rather than a [`Leg`]'s 32, since its pass reads the flows themselves
    /// (whole legs, 160 MB for the benchmark's 5 M, were fresh memory faulted in
    /// by the inflows thread while the dense pass ran).
    second_flows: Vec<u32>,
    /// The `by_id` asset's pass under way.
    second: Option<SecondRun>,
    /// Its result, once done.
    second_run: Option<AssetRun>,
    /// The next asset to number and run.
    next_asset: usize,
    /// What this thread's runs of the other assets reuse.
    work: Workspace,
    runs: Vec<AssetRun>,
    /// Flows that carried taint.
    marks: Vec<u32>,
}

/// The pass of the asset run by address id in [`Others`]: its legs (as far as
/// they are split) are run a slice at a time, over state made before the dense
/// pass started (see [`Others::new`]).
struct SecondRun {
    asset: u32,
    holdings: Lines<Holding>,
    inflows: Lines<Inflow>,
    /// Legs run so far.
    done: usize,
}

impl SecondRun {
    /// Runs its legs from `done` to `end` on this thread: `legs` are flow numbers
    /// of `flows`. Adds the flows that carried taint to `carried`.
    fn run_to(&mut self, flows: &[Flow], legs: &[u32], end: usize, carried: &mut Vec<u32>) {
        let start = self.done;
        one_thread(
            end - start,
            |i| Some(listed_leg(flows, legs, start + i)),
            &mut self.holdings,
            &mut self.inflows,
            |v| v,
            carried,
        );
        self.done = end;
    }

    /// Its result once all its legs are run; none if it had none.
    fn result(self) -> Option<AssetRun> {
        (self.done > 0).then(|| AssetRun {
            asset: self.asset,
            nodes: Table::default(),
            inflows: self.inflows.into(),
        })
    }
}

/// Legs ahead of the one a pass works on whose state lines it prefetches.
const AHEAD: usize = 16;

/// Flows ahead of the one a dense pass reads that it prefetches: 8 KiB, two
/// pages, since the processor's own prefetch of a stream stops at a page's end.
const FLOWS_AHEAD: usize = 256;

/// Flows split or legs run in one [`Others::step`], and lines of state made at a
/// time by [`state_vec`] and [`state_pair`] (1 MiB of 64-byte lines).
const SLICE: usize = 1 << 14;

/// Bytes in an array of state from which [`state_pair`] makes it on two threads
/// (8 MiB: 131,072 addresses).
const SHARED_STATE: usize = 8 << 20;

impl<'h, 'a> Others<'h, 'a> {
    /// The other assets of `flows`. The state of the plan's `by_id` asset is made
    /// now, by this thread and a second one (from [`SHARED_STATE`] bytes an
    /// array: [`state_pair`]), while nothing else runs. Made a slice at a time by
    /// the dense asset's inflows thread while the dense pass ran, its 640 MB took
    /// that thread 0.6-1.0 s on the project VM (fresh memory is slow there), and
    /// the dense pass waited for it; made here, it takes about 0.11-0.21 s when
    /// the memory is still backed by the host.
    fn new(
        haircut: &'h Haircut<'a>,
        flows: &'h [Flow],
        plan: Plan,
        clock: Clock,
    ) -> Others<'h, 'a> {
        let n = haircut.since.len();
        let second = plan.by_id.map(|asset| {
            let (holdings, inflows) = state_pair(
                n,
                plan.by_id_legs,
                |v| haircut.holding(v as u32),
                |_| Inflow::default(),
            );
            SecondRun {
                asset,
                holdings,
                inflows,
                done: 0,
            }
        });
        Others {
            haircut,
            clock,
            flows,
            plan,
            split: 0,
            by_asset: Vec::new(),
            second_flows: Vec::with_capacity(plan.by_id_legs + plan.by_id_legs / 8),
            second,
            second_run: None,
            next_asset: 0,
            work: Workspace::default(),
            runs: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Does all the work left, on this thread, but for the rest of the `by_id`
    /// asset's pass, which shares two threads as the dense asset's does (when the
    /// dense pass ends, a tenth of a second of it may be left), or, when the plan
    /// shares out the assets left, runs beside them ([`Others::run_rest`]).
    fn finish(&mut self) {
        if self.plan.dense.is_some() {
            // The dense pass has split them all.
            self.split = self.flows.len();
        }
        loop {
            let (flows, legs) = (self.flows, &self.second_flows);
            if self.plan.shared_rest && self.split == flows.len() {
                self.run_rest();
            } else if self.split == flows.len()
                && let Some(run) = &mut self.second
                && run.done < legs.len()
            {
                let start = run.done;
                let holdings = std::mem::take(&mut run.holdings);
                let inflows = std::mem::take(&mut run.inflows);
                let marks = &mut self.marks;
                (run.holdings, run.inflows) = two_threads(
                    self.clock.of("rest of the asset run by address id"),
                    legs.len() - start,
                    |i| Some(listed_leg(flows, legs, start + i)),
                    holdings,
                    inflows,
                    |f| marks.push(f),
                    &mut Nothing,
                );
                run.done = legs.len();
            }
            if !self.step() {
                return;
            }
        }
    }

    /// Runs the assets not yet run (the split done), each whole, and the rest of
    /// the `by_id` asset's pass, on this thread and a second one: they are
    /// independent, so each thread takes the largest task left until none is.
    /// Only the order of `runs`, by asset, is kept.
    fn run_rest(&mut self) {
        let mut tasks: Vec<Task> = (self.next_asset..self.by_asset.len())
            .map(|a| Task::Asset(a as u32, std::mem::take(&mut self.by_asset[a])))
            .filter(|task| task.legs() > 0)
            .collect();
        self.next_asset = self.by_asset.len();
        if let Some(run) = self.second.take() {
            tasks.push(Task::Second(run, std::mem::take(&mut self.second_flows)));
        }
        tasks.sort_by_key(|task| std::cmp::Reverse(task.legs()));
        let queue = std::sync::Mutex::new(tasks.into_iter());
        let (haircut, flows) = (self.haircut, self.flows);
        let run = |work: &mut Workspace| {
            let (mut runs, mut marks, mut second) = (Vec::new(), Vec::new(), None);
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                match next {
                    None => return (runs, marks, second),
                    Some(Task::Asset(asset, numbers)) => {
                        runs.push(haircut.run_sparse(asset, flows, &numbers, work, &mut marks));
                    }
                    Some(Task::Second(mut run, legs)) => {
                        run.run_to(flows, &legs, legs.len(), &mut marks);
                        second = run.result();
                    }
                }
            }
        };
        let work = &mut self.work;
        let (mine, theirs) = crate::join(|| run(work), || run(&mut Workspace::default()));
        for (runs, marks, second) in [mine, theirs] {
            self.runs.extend(runs);
            self.marks.extend(marks);
            self.second_run = self.second_run.take().or(second);
        }
        self.runs.sort_by_key(|run| run.asset);
    }

    /// Does one slice of the work; false when there is none now (none at all once
    /// the split is done).
    fn step(&mut self) -> bool {
        let all = self.flows.len();
        if self.plan.dense.is_none() && self.split < all {
            let end = (self.split + SLICE).min(all);
            self.split_out(self.split..end);
            self.split = end;
            return true;
        }
        let (flows, legs) = (self.flows, &self.second_flows);
        if let Some(run) = &mut self.second {
            if run.done < legs.len() {
                let end = (run.done + SLICE).min(legs.len());
                run.run_to(flows, legs, end, &mut self.marks);
                return true;
            }
            if self.split < all {
                return false;
            }
            self.second_flows = Vec::new();
            self.second_run = self.second.take().and_then(SecondRun::result);
            return true;
        }
        if self.split < all {
            return false;
        }
        while self.next_asset < self.by_asset.len() {
            let a = self.next_asset;
            self.next_asset += 1;
            let numbers = std::mem::take(&mut self.by_asset[a]);
            if numbers.is_empty() {
                continue;
            }
            let run = self.haircut.run_sparse(
                a as u32,
                self.flows,
                &numbers,
                &mut self.work,
                &mut self.marks,
            );
            self.runs.push(run);
            return true;
        }
        false
    }

    /// Splits `flows[range]` by asset (keeping chain order within each): the
    /// `by_id` asset's flow numbers onto `second_flows`, those of the others onto
    /// `by_asset`; zero amounts and the dense asset's flows are dropped.
    fn split_out(&mut self, range: std::ops::Range<usize>) {
        for i in range {
            let f = &self.flows[i];
            if f.amount == 0 || Some(f.asset) == self.plan.dense {
                continue;
            }
            if Some(f.asset) == self.plan.by_id {
                self.second_flows.push(i as u32);
                continue;
            }
            let a = f.asset as usize;
            if a >= self.by_asset.len() {
                self.by_asset.resize_with(a + 1, Vec::new);
            }
            self.by_asset[a].push(i as u32);
        }
    }
}

/// A piece of [`Others::run_rest`]'s work.
enum Task {
    /// An asset to number and run: its flow numbers.
    Asset(u32, Vec<u32>),
    /// The rest of the `by_id` asset's pass, with all its flow numbers.
    Second(SecondRun, Vec<u32>),
}

impl Task {
    /// Legs to run.
    fn legs(&self) -> usize {
        match self {
            Task::Asset(_, flows) => flows.len(),
            Task::Second(run, flows) => flows.len() - run.done,
        }
    }
}

/// What runs of the assets numbered at first sight ([`Haircut::run_sparse`]) on
/// one thread reuse from one asset to the next, so that each asset after the
/// first makes fresh memory only for its results.
#[derive(Default)]
struct Workspace {
    /// Local number by address id, all `u32::MAX` between runs; made when first
    /// needed.
    local: Vec<u32>,
    /// The asset's legs, in local numbers.
    legs: Lines<Leg>,
    holdings: Lines<Holding>,
}

/// Flows ahead of the one a pass over listed flow numbers reads ([`listed_leg`])
/// that it prefetches: the pass reads each leg [`AHEAD`] places ahead to
/// prefetch its addresses' lines, and that read should hit.
const LISTED_AHEAD: usize = 2 * AHEAD;

/// The leg at position `i` of a pass over the flows numbered `legs` (in chain
/// order and far apart, each in a line of its own), prefetching the flow
/// [`LISTED_AHEAD`] places on.
fn listed_leg(flows: &[Flow], legs: &[u32], i: usize) -> Leg {
    if let Some(&ahead) = legs.get(i + LISTED_AHEAD) {
        prefetch(&flows[ahead as usize]);
    }
    let f = legs[i] as usize;
    Leg::of(f, &flows[f])
}

impl Aside for Others<'_, '_> {
    /// Splits flow `at` out, if it is not the dense asset's (the dense pass's
    /// positions are flow numbers).
    fn other(&mut self, at: usize) {
        self.split_out(at..at + 1);
    }

    fn idle(&mut self) -> bool {
        self.step()
    }
}

/// `n` lines of per-address state for a pass over `legs` transfers. When the pass
/// comes back to each line several times, random reads dominate, and the first
/// [`HOT_STATE`] bytes of lines (the busiest addresses, since nodes are numbered by
/// decreasing degree) go in huge pages, which spare their TLB misses (see
/// [`advise_hot`]); the rest stay in ordinary pages, which the first touch makes
/// resident far faster. On the project VM the host backs memory on first touch, at
/// about 0.36 GB/s in huge pages against 2.5 GB/s in 4 KiB ones, so huge pages
/// for all 640 MB of the benchmark's dense state cost about 1.8 s of CPU in a
/// process's first pass, more than their TLB misses ever did. A pass that visits
/// each line less often (the asset of a tenth of the benchmark's transfers, 1.7
/// transfers per address) is in ordinary pages, as it ran in half the time so.
/// The lines are made a slice at a time, each written while its freshly resident
/// pages are still in the cache. From [`crate::pool::POOL_MIN`] bytes, they come
/// from the huge page pool instead when the process uses it and it has room (see
/// [`state_pair`]).
fn state_vec<T: Copy>(n: usize, legs: usize, f: impl Fn(usize) -> T) -> Lines<T> {
    let mut v = Lines::with_capacity(n, |v| advise_state(v, legs));
    refill(&mut v, n, f);
    v
}

/// Makes `v` hold `n` lines `f(i)` in place of what it held; its capacity holds
/// them.
fn refill<T: Copy>(v: &mut Lines<T>, n: usize, f: impl Fn(usize) -> T) {
    make_stretches(whole(&mut v.cleared()[..n]), &f);
    // SAFETY: the capacity holds `n` values (the slicing above panics otherwise),
    // and all `n` slots have just been written.
    unsafe { v.set_len(n) };
}

/// All of `slots` as one stretch.
fn whole<T>(slots: &mut [MaybeUninit<T>]) -> Stretches<'_, T> {
    vec![(0, slots)]
}

/// Advises the memory of `v` (`n` lines of state, not yet made, for a pass over
/// `legs` transfers) as [`state_vec`] says.
fn advise_state<T>(v: &mut Vec<T>, legs: usize) {
    if legs >= 4 * v.capacity() {
        advise_hot(v, HOT_STATE / std::mem::size_of::<T>().max(1));
    }
}

/// Two arrays of `n` lines of state, `a(i)` and `b(i)`, for a pass over `legs`
/// transfers: from the huge page pool when the process uses it and it has room
/// ([`crate::pool`]: their memory is then made far faster, and the pass's random
/// reads spare most TLB misses), else advised as [`state_vec`] says. They are made
/// by this thread and a second one at once, each taking every other stretch of
/// [`SHARE`] lines of both, so that each makes about half of each array's huge
/// pages and half of the rest (a stretch need not start on a huge page's boundary:
/// whichever thread first touches a huge page that two stretches share makes it).
/// Made one array a thread, the two took very different times, since fresh memory
/// costs about ten times more once the memory the host still backs is used up
/// (docs/haircut-log.md, "Sixteenth session"), and the thread that had made its
/// array first then waited for the other. An array of less than [`SHARED_STATE`]
/// bytes is made on this thread alone: a second thread would cost more than it
/// saves.
fn state_pair<A: Send + Copy, B: Send + Copy>(
    n: usize,
    legs: usize,
    a: impl Fn(usize) -> A + Sync,
    b: impl Fn(usize) -> B + Sync,
) -> (Lines<A>, Lines<B>) {
    let mut va = Lines::with_capacity(n, |v| advise_state(v, legs));
    let mut vb = Lines::with_capacity(n, |v| advise_state(v, legs));
    let (a_slots, b_slots) = (&mut va.cleared()[..n], &mut vb.cleared()[..n]);
    if n * std::mem::size_of::<A>().max(std::mem::size_of::<B>()) < SHARED_STATE {
        make_stretches(whole(a_slots), &a);
        make_stretches(whole(b_slots), &b);
    } else {
        let [a_mine, a_theirs] = deal(a_slots);
        let [b_mine, b_theirs] = deal(b_slots);
        crate::join(
            || {
                make_stretches(a_mine, &a);
                make_stretches(b_mine, &b);
            },
            || {
                make_stretches(a_theirs, &a);
                make_stretches(b_theirs, &b);
            },
        );
    }
    // SAFETY: both capacities hold `n` values (the slicing above panics
    // otherwise), and all `n` slots of each have been written, by this thread or
    // by the two, the stretches covering `0..n` between them.
    unsafe {
        va.set_len(n);
        vb.set_len(n);
    }
    (va, vb)
}

/// Lines of state in each stretch that [`state_pair`] hands to one of its two
/// threads (4 MiB of 64-byte lines: the size of two huge pages, four slices).
const SHARE: usize = 4 * SLICE;

/// Stretches of an array's slots to be written, each with the index of its first.
type Stretches<'a, T> = Vec<(usize, &'a mut [MaybeUninit<T>])>;

/// `slots` cut into stretches of [`SHARE`], dealt in turn to two hands.
fn deal<T>(slots: &mut [MaybeUninit<T>]) -> [Stretches<'_, T>; 2] {
    let mut hands = [Vec::new(), Vec::new()];
    for (k, stretch) in slots.chunks_mut(SHARE).enumerate() {
        hands[k % 2].push((k * SHARE, stretch));
    }
    hands
}

/// Writes `f(i)` into slot `i` of each stretch, a slice of lines at a time, each
/// made resident just before it is written.
fn make_stretches<T>(stretches: Stretches<'_, T>, f: &impl Fn(usize) -> T) {
    for (first, stretch) in stretches {
        for (i, slice) in stretch.chunks_mut(SLICE).enumerate() {
            fill_resident(slice, first + i * SLICE, f);
        }
    }
}

/// Bytes of each array of dense state kept in huge pages (see [`state_vec`]):
/// 128 MiB, the 2,097,152 busiest addresses' lines, which take about 75 % of the
/// benchmark's reads (32 MiB took 47 %). On the project VM in the fifteenth
/// session (480 MiB L3), 128 MiB gave first benchmark passes of 2.20-2.87 s against
/// 2.49-3.18 s for 32 MiB, faster in each of 12 pairs run alternately: the pass
/// spares more TLB misses than making 192 MB more of huge pages costs. All of it
/// in huge pages (320 MB an array) made the pass shorter still, but its state took
/// 0.34-1.04 s to make against 0.28-0.49 s for 32 MiB, and first passes took
/// 2.46-3.31 s; 256 MiB, 2.58-2.94 s. That is with the page cache full, as on a
/// machine in use (its store in memory). Right after the page cache is emptied,
/// 32 MiB was the faster, by about 0.1 s (1.96-2.09 s against 2.13-2.18 s in 6
/// pairs): there the pass itself was faster in ordinary pages.
const HOT_STATE: usize = 128 << 20;

/// How the assets are shared out. Which assets these are changes how the work is
/// shared, never the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// The asset whose pass reads `flows` directly, on two threads, with address
    /// ids as its local numbers.
    dense: Option<u32>,
    /// An asset split out that also runs with address ids as its local numbers
    /// (no numbering and no index), in [`Others`].
    by_id: Option<u32>,
    /// About how many flows `by_id` has (how its state is advised: [`state_vec`]).
    by_id_legs: usize,
    /// The other assets, and what is left of `by_id`'s pass, run on two threads
    /// once the split is done ([`Others::run_rest`]), rather than one after the
    /// other: when there are two or more other assets, with [`SHARED_REST`] legs
    /// or more in all.
    shared_rest: bool,
}

/// Legs of the assets other than the dense one and `by_id` from which they share
/// two threads (about 5 ms of work: more than a thread and its numbering array
/// cost).
const SHARED_REST: usize = 1 << 16;

/// The plan for `flows` over `n` addresses, judged from a sample of at most about
/// 64 Ki flows of a positive amount: the most frequent asset is the dense one
/// (ties to the smaller id); the next one runs by address id if it has about one
/// transfer for every two addresses or more (then most addresses take part, and
/// numbering them would cost more than it saves: at most 128 bytes an address
/// while it runs, 64 after).
fn plan(flows: &[Flow], n: usize) -> Plan {
    let stride = (flows.len() >> 16).max(1);
    let counts = counts_by_asset(flows.iter().step_by(stride).filter(|f| f.amount != 0));
    let mut ranked: Vec<u32> = (0..counts.len() as u32)
        .filter(|&a| counts[a as usize] > 0)
        .collect();
    ranked.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
    let by_id = ranked
        .get(1)
        .copied()
        .filter(|&a| 2 * counts[a as usize] * stride >= n);
    let rest = ranked.iter().skip(1).filter(|&&a| Some(a) != by_id);
    let shared_rest = rest.clone().count() >= 2
        && rest.map(|&a| counts[a as usize] * stride).sum::<usize>() >= SHARED_REST;
    Plan {
        dense: ranked.first().copied(),
        by_id,
        by_id_legs: by_id.map_or(0, |a| counts[a as usize] * stride),
        shared_rest,
    }
}

/// Per address, the block from which it is a seed (the earliest of its starts), or
/// [`NOT_SEED`].
pub(super) fn seed_since(node_count: usize, seeds: &[Start]) -> Vec<u32> {
    let mut since = vec![NOT_SEED; node_count];
    for s in seeds {
        let slot = &mut since[s.node as usize];
        *slot = (*slot).min(s.since);
    }
    since
}

/// How many of `flows` each asset has, by asset id (up to the largest present).
pub(super) fn counts_by_asset<'a>(flows: impl Iterator<Item = &'a Flow>) -> Vec<usize> {
    let mut counts: Vec<usize> = Vec::new();
    for f in flows {
        let a = f.asset as usize;
        if a >= counts.len() {
            counts.resize(a + 1, 0);
        }
        counts[a] += 1;
    }
    counts
}

/// Where each address's entries in the runs of the other assets are: offsets per
/// address (`n + 1`) into a list of (run, local number), runs in asset order;
/// both empty when there are no runs. If `shared`, the addresses of the upper
/// half are indexed by a second thread (each thread reads all the runs and writes
/// only its own addresses' counts and entries).
fn index_by_address(n: usize, runs: &[AssetRun], shared: bool) -> (Vec<u64>, Vec<[u32; 2]>) {
    if runs.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let half = if shared { n / 2 } else { n };
    // Each address's count goes two places on, so that after the sums
    // `offsets[v + 1]` is where v's entries start; it then serves as v's cursor,
    // and ends where they end, which is where v + 1's start.
    let mut offsets = vec![0u64; n + 2];
    {
        let (low, high) = offsets[2..].split_at_mut(half);
        halves(
            shared,
            || count_entries(runs, 0, low),
            || count_entries(runs, half, high),
        );
    }
    for i in 2..n + 2 {
        offsets[i] += offsets[i - 1];
    }
    let mut index = vec![[0u32; 2]; offsets[n + 1] as usize];
    {
        let split = offsets[half + 1] as usize;
        let (low, high) = index.split_at_mut(split);
        let (cursors_low, cursors_high) = offsets[1..n + 1].split_at_mut(half);
        halves(
            shared,
            || fill_entries(runs, 0, cursors_low, low, 0),
            || fill_entries(runs, half, cursors_high, high, split),
        );
    }
    offsets.truncate(n + 1);
    (offsets, index)
}

/// Entries from which [`index_by_address`] shares two threads (a few
/// milliseconds of work).
const SHARED_INDEX: usize = 1 << 18;

/// Runs `low`, and `high` beside it on a second thread if `shared` (otherwise
/// the upper half is empty and `high` has nothing to do).
fn halves(shared: bool, low: impl FnOnce() + Send, high: impl FnOnce() + Send) {
    if shared {
        crate::join(low, high);
    } else {
        low();
    }
}

/// Adds to `counts[v - first]` the entries of each address `v` from `first` on
/// that `counts` covers.
fn count_entries(runs: &[AssetRun], first: usize, counts: &mut [u64]) {
    for run in runs {
        for &v in &run.nodes {
            if let Some(count) = (v as usize)
                .checked_sub(first)
                .and_then(|i| counts.get_mut(i))
            {
                *count += 1;
            }
        }
    }
}

/// Writes the entries of each address `v` from `first` on that `cursors` covers
/// at `cursors[v - first]` (a position in the whole index, of which `index`
/// starts at `start`), moving the cursor on.
fn fill_entries(
    runs: &[AssetRun],
    first: usize,
    cursors: &mut [u64],
    index: &mut [[u32; 2]],
    start: usize,
) {
    for (k, run) in runs.iter().enumerate() {
        for (local, &v) in run.nodes.iter().enumerate() {
            if let Some(cursor) = (v as usize)
                .checked_sub(first)
                .and_then(|i| cursors.get_mut(i))
            {
                index[*cursor as usize - start] = [k as u32, local as u32];
                *cursor += 1;
            }
        }
    }
}

/// What one leg brings its receiver: the sender's side of the pass, the input of
/// the receiver's inflow.
#[derive(Debug, Clone, Copy)]
struct Carry {
    /// The receiver (local number).
    to: u32,
    /// The flow number.
    flow: u32,
    amount: u128,
    /// The tainted part of `amount`; 0 when the leg carried no taint.
    tainted: f64,
    /// Its named seeds, as fractions of `tainted`.
    seeds: Top<f32>,
}

/// What a tainted leg brings its receiver, as a pass on two threads hands it from
/// the holdings to the inflows: the inflows' side reads the receiver and the
/// amount from the leg itself, so an untainted leg needs no message at all.
#[derive(Debug, Clone, Copy, Default)]
struct Taint {
    /// The leg's position in the pass.
    at: u32,
    /// As in [`Carry`]: the tainted part of the amount, and its named seeds.
    tainted: f64,
    seeds: Top<f32>,
}

/// The tainted legs among a stretch of a pass's positions: those before `upto`
/// and from the previous chunk's `upto` on, in order, are `taints[..len]`
/// (`taints` always holds [`CHUNK`] values, so that the pass writes the next one
/// before it knows whether to keep it).
struct Chunk {
    taints: Vec<Taint>,
    len: usize,
    upto: usize,
}

/// Where [`spend`] sends what each leg brings its receiver.
trait Sink {
    /// A leg a few places ahead goes to `to`: time to prefetch.
    fn ahead(&mut self, to: u32);
    /// The [`Carry`] of the leg at position `at`, in chain order; `mix` is
    /// [`Top::mix`] (as the pass was compiled).
    fn take(
        &mut self,
        at: usize,
        carry: Carry,
        mix: &impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
    );
}

/// The inflows of one thread's pass; `carried` is called with the flow number of
/// every leg that carried taint.
struct Inflows<'a, F: FnMut(u32)> {
    inflows: &'a mut [Inflow],
    carried: F,
}

impl<F: FnMut(u32)> Sink for Inflows<'_, F> {
    fn ahead(&mut self, to: u32) {
        prefetch(&self.inflows[to as usize]);
    }

    #[inline]
    fn take(
        &mut self,
        _: usize,
        c: Carry,
        mix: &impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
    ) {
        let got = &mut self.inflows[c.to as usize];
        got.total = got.total.saturating_add(c.amount);
        if c.tainted > 0.0 {
            receive(got, c.tainted, &c.seeds, mix);
            (self.carried)(c.flow);
        }
    }
}

/// The inflows' side of a pass on two threads (see [`two_threads`]): the legs at
/// positions `0..count`, `leg(i)`, as far as each [`Chunk`] from `full` says the
/// holdings' side has gone, with that chunk's taints; each chunk done goes back
/// through `empty`.
struct Drain<'a, L, A, F> {
    count: usize,
    leg: &'a L,
    full: std::sync::mpsc::Receiver<Chunk>,
    empty: std::sync::mpsc::Sender<Chunk>,
    aside: &'a mut A,
    inflows: &'a mut [Inflow],
    carried: F,
    idle: Idle,
}

/// How the inflows' side of a pass spent the time it had no chunk to work on.
#[derive(Debug, Default, Clone, Copy)]
struct Idle {
    /// Waiting for one.
    waited: Duration,
    /// Working aside ([`Aside::idle`]).
    aside: Duration,
}

impl<L, A: Aside, F> Drain<'_, L, A, F> {
    /// The next chunk; while none waits, `aside` works a slice at a time, until it
    /// has nothing to do, and only then does this wait. `None` once the holdings'
    /// side is done.
    fn next(&mut self) -> Option<Chunk> {
        use std::sync::mpsc::TryRecvError;
        loop {
            match self.full.try_recv() {
                Ok(chunk) => return Some(chunk),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    let t = Instant::now();
                    let busy = self.aside.idle();
                    self.idle.aside += t.elapsed();
                    if !busy {
                        let t = Instant::now();
                        let chunk = self.full.recv().ok();
                        self.idle.waited += t.elapsed();
                        return chunk;
                    }
                }
            }
        }
    }
}

/// A [`Drain`] run is work with seed mixes ([`with_mix`]); it says how the
/// inflows' side spent its idle time.
impl<L, A, F> Mixing for Drain<'_, L, A, F>
where
    L: Fn(usize) -> Option<Leg>,
    A: Aside,
    F: FnMut(u32),
{
    type Output = Idle;

    #[inline(always)]
    fn run(self, mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>) -> Idle {
        drain_with(self, mix)
    }
}

/// A [`Drain`]'s run, with `mix` for [`Top::mix`]: every position up to each
/// chunk's `upto` in turn; a leg's amount goes to its receiver's total and, if the
/// chunk has a taint at its position, that goes to the receiver's tainted part; a
/// position without a leg goes to `aside`.
#[inline(always)]
fn drain_with<L, A, F>(
    mut d: Drain<'_, L, A, F>,
    mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
) -> Idle
where
    L: Fn(usize) -> Option<Leg>,
    A: Aside,
    F: FnMut(u32),
{
    let mut at = 0;
    while let Some(chunk) = d.next() {
        let mut taints = chunk.taints[..chunk.len].iter().peekable();
        while at < chunk.upto {
            if at + AHEAD < d.count
                && let Some(next) = (d.leg)(at + AHEAD)
            {
                prefetch(&d.inflows[next.to as usize]);
            }
            match (d.leg)(at) {
                Some(leg) => {
                    let got = &mut d.inflows[leg.to as usize];
                    got.total = got.total.saturating_add(leg.amount);
                    if let Some(t) = taints.next_if(|t| t.at as usize == at) {
                        receive(got, t.tainted, &t.seeds, &mix);
                        (d.carried)(leg.flow);
                    }
                }
                None => d.aside.other(at),
            }
            at += 1;
        }
        debug_assert!(taints.next().is_none(), "every taint is at a leg");
        // The holdings' side may be done and gone: then nobody reuses it.
        let _ = d.empty.send(chunk);
    }
    d.idle
}

/// The haircut pass over one asset's legs, `leg(i)` for `i` in `0..count` (local
/// numbers, chain order; `None` for a position that is not one), as far as the
/// holdings go: the sender's balance and mix, then the receiver's. `node` gives a
/// local number's address id (seeds are named by it); `sink` gets every leg's
/// [`Carry`], in chain order.
///
/// Written to branch only where the branch is predictable (a seed sending, a mix
/// to make, or to skip as a mix into nothing): whether a sender still holds
/// anything and whether a leg carries taint change from leg to leg at random, and
/// a mispredicted branch here costs more than the arithmetic it would skip. So a holding's named seeds are only
/// meaningful while its taint is positive: an emptied or clean holding keeps stale
/// seeds with a taint of 0, and every mix weighs them by 0, which drops them.
fn spend(
    count: usize,
    leg: impl Fn(usize) -> Option<Leg>,
    holdings: &mut [Holding],
    node: impl Fn(u32) -> u32,
    sink: &mut impl Sink,
) {
    with_mix(Spend {
        count,
        leg,
        holdings,
        node,
        sink,
    });
}

/// The arguments of [`spend`], as work with seed mixes ([`with_mix`]).
struct Spend<'a, L, N, S> {
    count: usize,
    leg: L,
    holdings: &'a mut [Holding],
    node: N,
    sink: &'a mut S,
}

impl<L, N, S> Mixing for Spend<'_, L, N, S>
where
    L: Fn(usize) -> Option<Leg>,
    N: Fn(u32) -> u32,
    S: Sink,
{
    type Output = ();

    #[inline(always)]
    fn run(self, mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>) {
        spend_with(self, mix);
    }
}

/// Work whose seed mixes ([`Top::mix`]) are compiled for the processor's vector
/// extensions ([`with_mix`]): the mixes are then inlined, and named seeds move
/// between the state, the carries and the mixes as whole registers.
trait Mixing {
    type Output;
    /// Does the work with `mix` for [`Top::mix`]. Inlined into each of
    /// [`with_mix`]'s versions, so that it is compiled for its extensions.
    fn run(self, mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>) -> Self::Output;
}

/// Runs `work` compiled for AVX-512 or AVX2 where the processor has them
/// (checked at run time), else as it is.
fn with_mix<W: Mixing>(work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::avx512_available() {
            // SAFETY: the processor has AVX-512F and AVX-512VL (just checked).
            return unsafe { with_mix_avx512(work) };
        }
        if simd::available() {
            // SAFETY: the processor has AVX2 (just checked).
            return unsafe { with_mix_avx2(work) };
        }
    }
    work.run(Top::mix)
}

/// [`with_mix`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn with_mix_avx512<W: Mixing>(work: W) -> W::Output {
    // SAFETY: this function is compiled for AVX-512F and AVX-512VL, and runs only
    // where the processor has them.
    work.run(|a: &Top<f32>, wa, b: &Top<f32>, wb| unsafe { simd::mix512(a, wa, b, wb) })
}

/// [`with_mix`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn with_mix_avx2<W: Mixing>(work: W) -> W::Output {
    // SAFETY: this function is compiled for AVX2, and runs only where the
    // processor has it.
    work.run(|a: &Top<f32>, wa, b: &Top<f32>, wb| unsafe { simd::mix(a, wa, b, wb) })
}

/// The body of [`spend`], with `mix` for [`Top::mix`].
#[inline(always)]
fn spend_with<L, N, S>(
    work: Spend<'_, L, N, S>,
    mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
) where
    L: Fn(usize) -> Option<Leg>,
    N: Fn(u32) -> u32,
    S: Sink,
{
    let Spend {
        count,
        leg,
        holdings,
        node,
        sink,
    } = work;
    for i in 0..count {
        if i + AHEAD < count
            && let Some(next) = leg(i + AHEAD)
        {
            prefetch(&holdings[next.from as usize]);
            prefetch(&holdings[next.to as usize]);
            sink.ahead(next.to);
        }
        let Some(leg) = leg(i) else {
            continue;
        };
        let amount = leg.amount;
        let amount_f = f64_of(amount);
        let (s, r) = (leg.from as usize, leg.to as usize);
        let sender = &mut holdings[s];
        let known = amount.min(sender.balance);
        // Attribution here is relative: the parts of a holding or an inflow are
        // fractions of its tainted amount, so they survive a proportional spend
        // unchanged and one seed's part is exactly 1. What is not covered by the
        // known balance is clean; a service passes nothing on.
        let covered = (f64_of(known) / amount_f).clamp(0.0, 1.0);
        let passed = (sender.taint * covered).clamp(0.0, 1.0);
        let passed = if sender.expandable { passed } else { 0.0 };
        let seed_now = sender.since != NOT_SEED && leg.block >= sender.since;
        if seed_now {
            // From its `since` on, a seed sends its own taint only, so its named
            // seeds become itself: what it held before is never passed on again
            // (blocks only grow), and every carry copies the sender's seeds whole.
            sender.seeds = Top::one(node(leg.from), 1.0);
        }
        let taint = if seed_now { 1.0 } else { passed };
        let seeds = sender.seeds;
        sender.balance -= known;
        sender.taint = if sender.balance == 0 {
            0.0
        } else {
            sender.taint
        };
        sink.take(
            i,
            Carry {
                to: leg.to,
                flow: leg.flow,
                amount,
                tainted: taint * amount_f,
                seeds,
            },
            &mix,
        );
        let receiver = &mut holdings[r];
        let total = receiver.balance.saturating_add(amount);
        let weight = (amount_f / f64_of(total)).clamp(0.0, 1.0);
        let kept = receiver.taint * (1.0 - weight);
        let added = taint * weight;
        let sum = kept + added;
        receiver.taint = sum.clamp(0.0, 1.0);
        if added > 0.0 {
            receiver.seeds = if kept == 0.0 {
                // What the mix would give (see `Top::mix`).
                seeds
            } else {
                mix(&receiver.seeds, kept / sum, &seeds, added / sum)
            };
        }
        receiver.balance = total;
    }
}

/// The taints of a pass on two threads, sent in [`Chunk`]s to the thread that
/// keeps the inflows (and the chunks it is done with come back).
struct Chunks<'a> {
    chunk: Chunk,
    /// The position from which the chunk goes even if it is not full, so that
    /// the inflows' side never falls far behind over legs without taint.
    due: usize,
    full: &'a std::sync::mpsc::SyncSender<Chunk>,
    empty: &'a std::sync::mpsc::Receiver<Chunk>,
    /// Time spent waiting for the inflows' side to take a chunk.
    waited: Duration,
}

/// Taints per chunk (48 bytes each: a chunk stays in the cache).
const CHUNK: usize = 4096;

/// Positions at most per chunk.
const SPAN: usize = 4 * CHUNK;

impl<'a> Chunks<'a> {
    fn new(
        full: &'a std::sync::mpsc::SyncSender<Chunk>,
        empty: &'a std::sync::mpsc::Receiver<Chunk>,
    ) -> Chunks<'a> {
        Chunks {
            chunk: Chunks::fresh(),
            due: SPAN,
            full,
            empty,
            waited: Duration::ZERO,
        }
    }

    fn fresh() -> Chunk {
        Chunk {
            taints: vec![Taint::default(); CHUNK],
            len: 0,
            upto: 0,
        }
    }

    /// Sends the chunk as covering the positions before `upto`, and starts on an
    /// empty one.
    fn send(&mut self, upto: usize) {
        let mut next = self.empty.try_recv().unwrap_or_else(|_| Chunks::fresh());
        next.len = 0;
        let mut chunk = std::mem::replace(&mut self.chunk, next);
        chunk.upto = upto;
        self.due = upto + SPAN;
        // A send fails only if the inflows' side panicked: its join passes that on.
        if let Err(std::sync::mpsc::TrySendError::Full(chunk)) = self.full.try_send(chunk) {
            let t = Instant::now();
            let _ = self.full.send(chunk);
            self.waited += t.elapsed();
        }
    }
}

impl Sink for Chunks<'_> {
    fn ahead(&mut self, _: u32) {}

    #[inline]
    fn take(
        &mut self,
        at: usize,
        c: Carry,
        _: &impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
    ) {
        // Written whatever the leg carried, and kept by moving the count: whether
        // a leg carries taint changes at random from one to the next.
        self.chunk.taints[self.chunk.len] = Taint {
            at: at as u32,
            tainted: c.tainted,
            seeds: c.seeds,
        };
        self.chunk.len += usize::from(c.tainted > 0.0);
        if self.chunk.len == CHUNK || at >= self.due {
            self.send(at + 1);
        }
    }
}

/// Adds `tainted`, named `seeds`, to the tainted part and named seeds of an
/// inflow (not to its total).
#[inline]
fn receive(
    got: &mut Inflow,
    tainted: f64,
    seeds: &Top<f32>,
    mix: &impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>,
) {
    let before = got.tainted;
    got.tainted += tainted;
    got.seeds = if before == 0.0 {
        // What the mix would give (see `Top::mix`).
        *seeds
    } else {
        mix(
            &got.seeds,
            before / got.tainted,
            seeds,
            tainted / got.tainted,
        )
    };
}

/// The result of a haircut: what every address received, per asset.
#[derive(Debug, Default)]
pub struct HaircutResult {
    /// The runs numbered by address id (the dense asset's and the plan's
    /// `by_id`), in asset order.
    by_id: Vec<AssetRun>,
    others: Vec<AssetRun>,
    /// Per address, where its entries in `index` start (`n + 1` offsets).
    offsets: Table<u64>,
    /// [run in `others`, local number], grouped by address, runs in asset order.
    index: Table<[u32; 2]>,
    /// Per flow given, whether it carried taint (one bit each, so that the pass
    /// faults in 6 MB rather than 50 over 50 M flows); empty when read from a file.
    carried: FixedBitSet,
}

impl HaircutResult {
    /// The exposures of `node`, one per asset it received, sorted by asset.
    pub fn exposures(&self, node: u32) -> Vec<Exposure> {
        let mut out = Vec::new();
        out.extend(self.by_id.iter().filter_map(|d| d.exposure(node as usize)));
        let v = node as usize;
        if v + 1 < self.offsets.len() {
            let range = self.offsets[v] as usize..self.offsets[v + 1] as usize;
            for &[k, local] in &self.index[range] {
                out.extend(self.others[k as usize].exposure(local as usize));
            }
        }
        out.sort_by_key(|e| e.asset);
        out
    }

    /// The exposure of `node` in `asset`, if it received any.
    pub fn exposure(&self, node: u32, asset: u32) -> Option<Exposure> {
        self.exposures(node).into_iter().find(|e| e.asset == asset)
    }

    /// The address's worst exposure: the largest share over its assets (amounts of
    /// different assets are not comparable without prices, so they are never
    /// added; ties to the smaller asset id). `None` when it received nothing.
    pub fn worst(&self, node: u32) -> Option<Exposure> {
        self.exposures(node)
            .into_iter()
            .max_by(|a, b| a.share().total_cmp(&b.share()).then(b.asset.cmp(&a.asset)))
    }

    /// The share of `node` (see [`HaircutResult::worst`]); 0 when it received nothing.
    pub fn share(&self, node: u32) -> f64 {
        self.worst(node).map_or(0.0, |e| e.share())
    }

    /// Every address that received something, sorted.
    pub fn nodes(&self) -> Vec<u32> {
        let mut nodes: Vec<u32> = Vec::new();
        for d in &self.by_id {
            nodes.extend((0..d.inflows.len() as u32).filter(|&v| d.inflows[v as usize].total != 0));
        }
        for run in &self.others {
            nodes.extend(
                run.nodes
                    .iter()
                    .zip(&run.inflows)
                    .filter(|(_, r)| r.total != 0)
                    .map(|(&v, _)| v),
            );
        }
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// Whether flow number `i` (in the order given) carried taint.
    pub fn carried_taint(&self, i: usize) -> bool {
        self.carried.contains(i)
    }

    /// Writes the result, all but `carried`, to a results file (see
    /// `analysis::results`).
    pub(crate) fn write_to<W: Write>(&self, w: &mut TableWriter<W>) -> io::Result<()> {
        let runs: Vec<&AssetRun> = self.by_id.iter().chain(&self.others).collect();
        w.u64(self.by_id.len() as u64)?;
        w.u64(runs.len() as u64)?;
        for run in runs {
            w.u64(u64::from(run.asset))?;
            w.table(&run.nodes)?;
            w.table(&run.inflows)?;
        }
        w.table(&self.offsets)?;
        w.table(&self.index)
    }

    /// Reads what [`HaircutResult::write_to`] wrote for `nodes` addresses, mapped
    /// in place; `carried_taint` is false for every flow. Checked: the arrays fit
    /// together and the addresses; the index is not read in full (a damaged entry
    /// is caught by bounds checks, never read wrongly).
    pub(crate) fn read_from(r: &mut TableReader<'_>, nodes: usize) -> io::Result<HaircutResult> {
        let by_id_count = r.u64()?;
        let count = r.u64()?;
        if by_id_count > count {
            return Err(r.invalid("more runs by address id than runs"));
        }
        let mut runs = Vec::new();
        for k in 0..count {
            let asset = u32::try_from(r.u64()?).map_err(|_| r.invalid("asset id out of range"))?;
            let run = AssetRun {
                asset,
                nodes: r.table()?,
                inflows: r.table()?,
            };
            // The runs numbered by address id (first) have no node list and at most
            // one inflow per address; every other run names one node per inflow.
            let fits = if k < by_id_count {
                run.nodes.is_empty() && run.inflows.len() <= nodes
            } else {
                run.nodes.len() == run.inflows.len()
            };
            if !fits {
                return Err(r.invalid("asset run whose arrays differ in length"));
            }
            runs.push(run);
        }
        let offsets: Table<u64> = r.table()?;
        let index: Table<[u32; 2]> = r.table()?;
        let others = runs.split_off(by_id_count as usize);
        let fits = (offsets.is_empty() || offsets.len() == nodes + 1)
            && offsets.last().copied().unwrap_or(0) == index.len() as u64;
        if !fits {
            return Err(r.invalid("haircut result for another graph"));
        }
        Ok(HaircutResult {
            by_id: runs,
            others,
            offsets,
            index,
            carried: FixedBitSet::new(),
        })
    }
}

/// Runs a haircut over `flows` (in chain order) in one call.
pub fn haircut(
    node_count: usize,
    seeds: &[Start],
    expandable: &[bool],
    flows: impl IntoIterator<Item = Flow>,
) -> HaircutResult {
    let flows: Vec<Flow> = flows.into_iter().collect();
    Haircut::new(node_count, seeds, expandable).run(&flows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETH: u32 = 0;
    const USDT: u32 = 1;

    fn eth(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18))
    }

    fn flow(block: u32, from: u32, to: u32, asset: u32, amount: U256) -> Flow {
        Flow {
            block,
            from,
            to,
            asset,
            amount: amount.to(),
        }
    }

    fn run(nodes: usize, seeds: &[(u32, u32)], flows: &[Flow]) -> HaircutResult {
        let starts: Vec<Start> = seeds
            .iter()
            .map(|&(node, since)| Start { node, since })
            .collect();
        let expandable = vec![true; nodes];
        haircut(nodes, &starts, &expandable, flows.iter().copied())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    fn random_top(rng: &mut fastrand::Rng) -> Top<f32> {
        // Eight seed ids, some with the top bit set (the vector version compares
        // keys as signed integers).
        const IDS: [u32; 8] = [
            0,
            1,
            2,
            7,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0001,
            0xffff_fffe,
        ];
        let mut seeds: Vec<u32> = (0..rng.usize(0..=TOP_SEEDS))
            .map(|_| IDS[rng.usize(0..8)])
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        let mut t = Top::default();
        for (k, &s) in seeds.iter().enumerate() {
            t.seeds[k] = s;
            // Few distinct values, so that ties and exact zeros happen.
            t.parts[k] = [0.0, 0.25, 0.5, 1.0, 1e-45, rng.f32()][rng.usize(0..6)];
        }
        t
    }

    /// The index of the other assets' entries by address is the same made on two
    /// threads as on one, and lists each address's entries in run order.
    #[test]
    fn the_index_by_address_is_the_same_on_two_threads() {
        let mut rng = fastrand::Rng::with_seed(5);
        for n in [1, 2, 7, 1000] {
            let runs: Vec<AssetRun> = (0..3)
                .map(|asset| {
                    let mut nodes: Vec<u32> = (0..n as u32).filter(|_| rng.bool()).collect();
                    rng.shuffle(&mut nodes);
                    AssetRun {
                        asset,
                        nodes: nodes.into(),
                        inflows: Table::default(),
                    }
                })
                .collect();
            let one = index_by_address(n, &runs, false);
            assert_eq!(index_by_address(n, &runs, true), one, "{n} addresses");
            let (offsets, index) = one;
            for v in 0..n {
                let entries = &index[offsets[v] as usize..offsets[v + 1] as usize];
                let want: Vec<[u32; 2]> = (0..runs.len())
                    .filter_map(|k| {
                        let local = runs[k].nodes.iter().position(|&u| u as usize == v)?;
                        Some([k as u32, local as u32])
                    })
                    .collect();
                assert_eq!(entries, want, "address {v} of {n}");
            }
        }
    }

    /// The plan: the most frequent asset is dense, the next runs by address id
    /// when it has a transfer for every two addresses, and the rest share two
    /// threads only when there are two or more of them with enough legs.
    #[test]
    fn the_plan_follows_the_flows() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut flows = |count: u32, assets: &[u32]| -> Vec<Flow> {
            (0..count)
                .map(|i| flow(i, 0, 1, assets[rng.usize(..assets.len())], U256::from(1)))
                .collect()
        };
        // 60 %, 20 %, 10 %, 10 %: the rest is 200,000 legs, or 30,000.
        let four = [0, 0, 0, 0, 0, 0, 1, 1, 2, 3];
        let p = plan(&flows(1_000_000, &four), 1000);
        assert_eq!((p.dense, p.by_id, p.shared_rest), (Some(0), Some(1), true));
        assert!((180_000..220_000).contains(&p.by_id_legs), "{p:?}");
        let p = plan(&flows(150_000, &four), 1000);
        assert_eq!((p.dense, p.by_id, p.shared_rest), (Some(0), Some(1), false));
        // One asset left over: nothing to share.
        let p = plan(&flows(1_000_000, &[0, 0, 0, 1, 1, 2]), 1000);
        assert_eq!((p.dense, p.by_id, p.shared_rest), (Some(0), Some(1), false));
        // Too few transfers of the second asset to number by address id (fewer
        // than one for every two addresses): it is left to the rest.
        let p = plan(&flows(1_000_000, &four), 10_000_000);
        assert_eq!((p.dense, p.by_id, p.shared_rest), (Some(0), None, true));
    }

    #[test]
    fn how_the_assets_are_shared_out_never_changes_the_result() {
        let mut rng = fastrand::Rng::with_seed(7);
        let nodes = 40;
        let flows: Vec<Flow> = (0..3000)
            .map(|i| {
                let amount = if rng.u8(0..20) == 0 {
                    0
                } else {
                    rng.u64(1..1_000_000)
                };
                flow(
                    i / 3,
                    rng.u32(0..nodes),
                    rng.u32(0..nodes),
                    rng.u32(0..3),
                    U256::from(amount),
                )
            })
            .collect();
        let starts = [
            Start { node: 1, since: 0 },
            Start {
                node: 2,
                since: 300,
            },
        ];
        // The flows name 40 addresses; with 140,000 in all, the `by_id` asset's
        // state is large enough to be made on two threads (`SHARED_STATE`).
        assert!(140_000 * std::mem::size_of::<Inflow>() >= SHARED_STATE);
        for count in [nodes, 140_000] {
            let expandable: Vec<bool> = (0..count).map(|v| v % 11 != 5).collect();
            let h = Haircut::new(count as usize, &starts, &expandable);
            let plan = |dense, by_id| Plan {
                dense,
                by_id,
                by_id_legs: 0,
                shared_rest: false,
            };
            let shared = |dense, by_id| Plan {
                shared_rest: true,
                ..plan(dense, by_id)
            };
            let want = h.run_with(&flows, plan(None, None));
            let carried: Vec<bool> = (0..flows.len()).map(|i| want.carried_taint(i)).collect();
            assert!(carried.iter().any(|&c| c), "the case carries taint");
            let plans = [
                plan(Some(0), None),
                plan(Some(1), Some(0)),
                plan(Some(2), Some(1)),
                plan(None, Some(2)),
                plan(Some(9), Some(0)),
                plan(Some(0), Some(9)),
                // The assets left after the split on two threads: all three, two,
                // and one.
                shared(None, None),
                shared(Some(0), None),
                shared(Some(1), Some(0)),
            ];
            for plan in plans {
                let got = h.run_with(&flows, plan);
                assert_eq!(got.nodes(), want.nodes(), "{plan:?}, {count} addresses");
                for v in 0..nodes {
                    assert_eq!(got.exposures(v), want.exposures(v), "{plan:?}, node {v}");
                }
                let got_carried: Vec<bool> =
                    (0..flows.len()).map(|i| got.carried_taint(i)).collect();
                assert_eq!(got_carried, carried, "{plan:?}");
                // And as a results file gives them back.
                let mut w = TableWriter::new(Vec::new(), 64);
                got.write_to(&mut w).unwrap();
                let (_dir, map) = crate::table::tests::map_of(&w.into_inner());
                let mut r = TableReader::new(&map, 0, 64, "test file");
                let read = HaircutResult::read_from(&mut r, count as usize).unwrap();
                assert_eq!(read.nodes(), want.nodes(), "{plan:?}, read back");
                for v in 0..nodes {
                    assert_eq!(
                        read.exposures(v),
                        want.exposures(v),
                        "{plan:?}, read back, node {v}"
                    );
                }
            }
            // With the huge page pool asked for: at 140,000 addresses the state
            // of the dense asset and of the one by address id comes from it
            // (arrays of `POOL_MIN` bytes or more) where the machine has a pool
            // with room, and from the heap otherwise; the same results.
            let (pooled, made) =
                crate::pool::with_pool(|| h.run_with(&flows, plan(Some(0), Some(1))));
            if count == 140_000 && crate::pool::pool_required() {
                assert_eq!(made, 4, "the dense asset's and asset 1's state in the pool");
            }
            assert_eq!(pooled.nodes(), want.nodes(), "pool");
            for v in 0..nodes {
                assert_eq!(pooled.exposures(v), want.exposures(v), "pool, node {v}");
            }
            let pooled_carried: Vec<bool> =
                (0..flows.len()).map(|i| pooled.carried_taint(i)).collect();
            assert_eq!(pooled_carried, carried, "pool");
        }
        // A file of more runs numbered by address id than runs is refused.
        let mut w = TableWriter::new(Vec::new(), 64);
        w.u64(3).unwrap();
        w.u64(2).unwrap();
        let (_dir, map) = crate::table::tests::map_of(&w.into_inner());
        let mut r = TableReader::new(&map, 0, 64, "test file");
        let e = HaircutResult::read_from(&mut r, nodes as usize).unwrap_err();
        assert!(e.to_string().contains("more runs by address id"), "{e}");
    }

    #[test]
    fn mix_keeps_the_largest_parts_as_the_merge_did() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200_000 {
            let (a, b) = (random_top(&mut rng), random_top(&mut rng));
            let w = [0.0, 0.5, 1.0, 1e-30, rng.f64()];
            let (wa, wb) = (w[rng.usize(0..5)], w[rng.usize(0..5)]);
            let want = reference::merge(&a, wa, &b, wb);
            assert_eq!(a.mix(wa, &b, wb), want, "{a:?} {wa} {b:?} {wb}");
            let got = engine_mix(&a, wa, &b, wb);
            assert_eq!(got, want, "as the passes mix: {a:?} {wa} {b:?} {wb}");
            #[cfg(target_arch = "x86_64")]
            if simd::available() {
                // SAFETY: the processor has AVX2 (just checked).
                let got = unsafe { simd::mix(&a, wa, &b, wb) };
                assert_eq!(got, want, "AVX2: {a:?} {wa} {b:?} {wb}");
            }
        }
    }

    /// One mix as the passes make it on this processor (in AVX-512 or AVX2 where
    /// it has them: [`with_mix`]).
    fn engine_mix(a: &Top<f32>, wa: f64, b: &Top<f32>, wb: f64) -> Top<f32> {
        struct One<'a>(&'a Top<f32>, f64, &'a Top<f32>, f64);
        impl Mixing for One<'_> {
            type Output = Top<f32>;
            #[inline(always)]
            fn run(self, mix: impl Fn(&Top<f32>, f64, &Top<f32>, f64) -> Top<f32>) -> Top<f32> {
                mix(self.0, self.1, self.2, self.3)
            }
        }
        with_mix(One(a, wa, b, wb))
    }

    #[test]
    fn a_top_mixed_into_nothing_is_unchanged() {
        let mut rng = fastrand::Rng::with_seed(8);
        for _ in 0..100_000 {
            let (a, b) = (random_top(&mut rng), random_top(&mut rng));
            let made = engine_mix(&a, rng.f64(), &b, rng.f64());
            let into_nothing = engine_mix(&random_top(&mut rng), 0.0, &made, 1.0);
            assert_eq!(into_nothing, made, "{made:?}");
            let one = Top::<f32>::one(rng.u32(..u32::MAX), 1.0);
            assert_eq!(engine_mix(&made, 0.0, &one, 1.0), one);
            assert_eq!(made.mix(0.0, &one, 1.0), one);
            let none = Top::<f32>::default();
            assert_eq!(engine_mix(&made, 0.0, &none, 1.0), none);
            assert_eq!(made.mix(0.0, &none, 1.0), none);
        }
    }

    // Address 0 is the seed throughout; 1.. are wallets; 9 is a clean funder.

    #[test]
    fn split() {
        // Seed sends 10 to A; A splits 4 to B and 6 to C: both fully tainted.
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, ETH, eth(10)),
                flow(2, 1, 2, ETH, eth(4)),
                flow(2, 1, 3, ETH, eth(6)),
            ],
        );
        assert_eq!(r.share(1), 1.0);
        assert_eq!(r.share(2), 1.0);
        assert_eq!(r.share(3), 1.0);
        assert!(close(r.exposure(3, ETH).unwrap().tainted(), 6e18));
    }

    #[test]
    fn merge_of_tainted_and_clean() {
        // A gets 10 tainted and 30 clean, then sends 20 to B: B gets 25% tainted.
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, ETH, eth(10)),
                flow(2, 9, 1, ETH, eth(30)),
                flow(3, 1, 2, ETH, eth(20)),
            ],
        );
        assert!(close(r.share(1), 0.25));
        assert!(close(r.share(2), 0.25));
        assert!(close(r.exposure(2, ETH).unwrap().tainted(), 5e18));
    }

    #[test]
    fn partial_spend_keeps_the_mix() {
        // A: 10 tainted + 10 clean; sends 5 to B (50%), then gets 10 clean more
        // (balance 25, 7.5 tainted), then sends 25 to C: 30% tainted.
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, ETH, eth(10)),
                flow(1, 9, 1, ETH, eth(10)),
                flow(2, 1, 2, ETH, eth(5)),
                flow(3, 9, 1, ETH, eth(10)),
                flow(4, 1, 3, ETH, eth(25)),
            ],
        );
        assert!(close(r.share(2), 0.5));
        assert!(close(r.share(3), 0.3));
        assert!(close(r.exposure(3, ETH).unwrap().tainted(), 7.5e18));
        // A received 30, 10 of it tainted.
        assert!(close(r.share(1), 1.0 / 3.0));
    }

    #[test]
    fn seed_with_since_block() {
        // The seed is tainted from block 100: what it sent at 50 is clean, at 100 not.
        let r = run(
            10,
            &[(0, 100)],
            &[flow(50, 0, 1, ETH, eth(10)), flow(100, 0, 2, ETH, eth(10))],
        );
        assert_eq!(r.share(1), 0.0);
        assert_eq!(r.share(2), 1.0);
        assert_eq!(r.exposure(2, ETH).unwrap().top_seeds(3), vec![(0, 1e19)]);
    }

    #[test]
    fn dust_in() {
        // A holds 100 clean ETH and is dusted with 0.1 ETH by the seed: its share
        // of tainted input is 0.1 / 100.1, and what it sends on carries as little.
        let dust = eth(1) / U256::from(10u64);
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 9, 1, ETH, eth(100)),
                flow(2, 0, 1, ETH, dust),
                flow(3, 1, 2, ETH, eth(50)),
            ],
        );
        assert!(close(r.share(1), 0.1 / 100.1));
        assert!(close(r.share(2), 0.1 / 100.1));
    }

    #[test]
    fn dust_out() {
        // A tainted wallet sends 1 wei onward: the dust is as tainted as A's balance,
        // and A's own share is unchanged by sending.
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, ETH, eth(1)),
                flow(1, 9, 1, ETH, eth(3)),
                flow(2, 1, 2, ETH, U256::from(1u64)),
            ],
        );
        assert!(close(r.share(1), 0.25));
        assert!(close(r.share(2), 0.25));
        assert!(close(r.exposure(2, ETH).unwrap().tainted(), 0.25));
    }

    #[test]
    fn erc20_and_eth_mix() {
        // Assets never mix: tainted USDT does not taint A's ETH. The address's share
        // is the worst asset's.
        let usdt = |n: u64| U256::from(n) * U256::from(1_000_000u64);
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, USDT, usdt(1000)),
                flow(1, 9, 1, USDT, usdt(3000)),
                flow(1, 9, 1, ETH, eth(5)),
                flow(2, 1, 2, ETH, eth(5)),
                flow(2, 1, 2, USDT, usdt(2000)),
            ],
        );
        assert_eq!(r.exposure(1, ETH).unwrap().share(), 0.0);
        assert!(close(r.exposure(1, USDT).unwrap().share(), 0.25));
        assert_eq!(r.exposure(2, ETH).unwrap().share(), 0.0);
        assert!(close(r.exposure(2, USDT).unwrap().share(), 0.25));
        assert!(close(r.share(2), 0.25));
        assert_eq!(r.worst(2).unwrap().asset, USDT);
    }

    #[test]
    fn unknown_origin_is_clean_and_balances_stay_non_negative() {
        // A received 10 tainted but sends 40 (30 of unknown origin): 25% tainted.
        // Then A is empty: a further send of 10 is all unknown, so clean.
        let r = run(
            10,
            &[(0, 0)],
            &[
                flow(1, 0, 1, ETH, eth(10)),
                flow(2, 1, 2, ETH, eth(40)),
                flow(3, 1, 3, ETH, eth(10)),
            ],
        );
        assert!(close(r.share(2), 0.25));
        assert_eq!(r.share(3), 0.0);
    }

    #[test]
    fn two_seeds_are_attributed_separately() {
        // A gets 10 from seed 0 and 30 from seed 5, sends 8 to B: 2 from 0, 6 from 5.
        let r = run(
            10,
            &[(0, 0), (5, 0)],
            &[
                flow(1, 0, 1, ETH, eth(10)),
                flow(1, 5, 1, ETH, eth(30)),
                flow(2, 1, 2, ETH, eth(8)),
            ],
        );
        let b = r.exposure(2, ETH).unwrap();
        assert!(close(b.share(), 1.0));
        let top = b.top_seeds(2);
        assert_eq!(top[0].0, 5);
        assert!(close(top[0].1, 6e18));
        assert_eq!(top[1].0, 0);
        assert!(close(top[1].1, 2e18));
    }

    #[test]
    fn seeds_beyond_the_top_few_are_other_seeds() {
        // Six seeds send 1..=6 ETH to A: the four largest are named, 1 + 2 ETH are
        // "other seeds"; the total stays exact.
        let flows: Vec<Flow> = (1..=6u32)
            .map(|s| flow(1, s, 0, ETH, eth(u64::from(s))))
            .collect();
        let seeds: Vec<(u32, u32)> = (1..=6).map(|s| (s, 0)).collect();
        let r = run(10, &seeds, &flows);
        let a = r.exposure(0, ETH).unwrap();
        assert_eq!(a.share(), 1.0);
        assert!(close(a.tainted(), 21e18));
        let named: Vec<u32> = a.top_seeds(10).into_iter().map(|(s, _)| s).collect();
        assert_eq!(named, [6, 5, 4, 3]);
        // Named parts are kept to f32 precision (see the module's "Precision").
        assert!((a.other_seeds() - 3e18).abs() <= 1e-6 * 21e18);
    }

    #[test]
    fn services_pass_no_taint_on() {
        let starts = [Start { node: 0, since: 0 }];
        let mut expandable = vec![true; 4];
        expandable[1] = false;
        let r = haircut(
            4,
            &starts,
            &expandable,
            [flow(1, 0, 1, ETH, eth(10)), flow(2, 1, 2, ETH, eth(10))],
        );
        assert_eq!(r.share(1), 1.0);
        assert_eq!(r.share(2), 0.0);
    }

    #[test]
    fn clean_transfer_out_can_raise_what_is_passed_on_later() {
        // A holds 10 clean, then gets 10 tainted and sends 10 to C: C is 50%
        // tainted. If A first sends its 10 clean to B, its clean balance is gone
        // and the same later send to C is 100% tainted.
        let base = [
            flow(1, 9, 1, ETH, eth(10)),
            flow(2, 0, 1, ETH, eth(10)),
            flow(3, 1, 3, ETH, eth(10)),
        ];
        let r = run(10, &[(0, 0)], &base);
        assert!(close(r.share(3), 0.5));
        let with_out = [
            flow(1, 9, 1, ETH, eth(10)),
            flow(1, 1, 2, ETH, eth(10)),
            flow(2, 0, 1, ETH, eth(10)),
            flow(3, 1, 3, ETH, eth(10)),
        ];
        let r = run(10, &[(0, 0)], &with_out);
        assert_eq!(r.share(2), 0.0);
        assert!(close(r.share(3), 1.0));
    }

    #[test]
    fn fresh_clean_input_can_raise_a_later_recipients_share() {
        // Why the "fresh address" invariant only holds for the receiver itself:
        // A gets 10 tainted, sends 10 to B, gets 10 clean, sends 10 to C (clean).
        // A fresh 10 into A before the first send halves B's taint and leaves A
        // holding 5 tainted, so C's share rises from 0 to 0.25.
        let base = vec![
            flow(1, 0, 1, ETH, eth(10)),
            flow(2, 1, 2, ETH, eth(10)),
            flow(3, 9, 1, ETH, eth(10)),
            flow(4, 1, 3, ETH, eth(10)),
        ];
        let r = run(10, &[(0, 0)], &base);
        assert_eq!(r.share(3), 0.0);
        let mut more = base.clone();
        more.insert(1, flow(1, 8, 1, ETH, eth(10)));
        let r = run(10, &[(0, 0)], &more);
        assert!(close(r.share(2), 0.5));
        assert!(close(r.share(3), 0.25));
    }
}
