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
//! [`TOP_SEEDS`] seeds (the largest parts; ties to the smaller seed id). When a mix
//! holds more, the smallest parts are dropped from the names but never from the
//! totals: the tainted fraction and the tainted amount received are tracked exactly
//! (to `f64`) on their own, and the unnamed rest is reported as "other seeds".
//! Without the bound, mixes on a 50 M-transfer graph grow to hundreds of seeds and
//! the pass takes hours.
//!
//! Precision: balances and amounts received are exact `U256` integers in the
//! asset's smallest unit (wei); fractions and tainted amounts are `f64`. Mixing
//! computes the weight `amount / (balance + amount)` from the two `U256` values
//! converted to `f64` (relative error below 2^-52 each), so a share carries a
//! relative error of about 1e-15 per mixing step it went through; shares and
//! fractions are clamped to [0, 1] after every step, so rounding can never push
//! them out of range. Tainted amounts are reported rounded to whole units.
//!
//! Cost: O(transfers x TOP_SEEDS) time; memory O(addresses) for asset 0 (dense
//! arrays) plus O(pairs of (address, other asset) seen), about 100 bytes each.
//! Pure and synchronous: the caller streams transfers in (from the store, or a
//! test's vector) and reads the result.

use alloy_primitives::U256;
use rustc_hash::FxHashMap;

use crate::exposure::Start;

/// One transfer as the haircut sees it. `from`, `to` and `asset` are dense ids
/// chosen by the caller (the store's address and asset ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Block number.
    pub block: u32,
    /// Sender.
    pub from: u32,
    /// Receiver.
    pub to: u32,
    /// Asset id.
    pub asset: u32,
    /// Amount in the asset's smallest unit.
    pub amount: U256,
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

/// How many seeds each holding and each exposure attributes by name.
pub const TOP_SEEDS: usize = 4;

/// The largest per-seed parts of a quantity, at most [`TOP_SEEDS`], sorted by seed.
/// What does not fit is not lost: the exact total is kept beside it, and the
/// difference is reported as "other seeds".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Top {
    len: u8,
    parts: [(u32, f64); TOP_SEEDS],
}

impl Top {
    fn one(seed: u32, value: f64) -> Top {
        let mut t = Top::default();
        t.parts[0] = (seed, value);
        t.len = 1;
        t
    }

    fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.parts[..self.len as usize].iter().copied()
    }

    /// `self * wa + other * wb`, seed by seed, keeping the largest parts (ties to
    /// the smaller seed id).
    fn mix(&self, wa: f64, other: &Top, wb: f64) -> Top {
        let mut all = [(0u32, 0.0f64); 2 * TOP_SEEDS];
        let mut n = 0;
        for (s, v) in self.iter() {
            all[n] = (s, v * wa);
            n += 1;
        }
        for (s, v) in other.iter() {
            match all[..n].iter_mut().find(|(t, _)| *t == s) {
                Some(slot) => slot.1 += v * wb,
                None => {
                    all[n] = (s, v * wb);
                    n += 1;
                }
            }
        }
        let all = &mut all[..n];
        if n > TOP_SEEDS {
            all.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        let mut out = Top::default();
        for &(s, v) in all.iter().take(TOP_SEEDS) {
            if v > 0.0 {
                out.parts[out.len as usize] = (s, v);
                out.len += 1;
            }
        }
        out.parts[..out.len as usize].sort_unstable_by_key(|p| p.0);
        out
    }
}

/// What one address holds of one asset: its balance, the tainted fraction of it,
/// and the largest per-seed fractions.
#[derive(Debug, Default)]
struct Holding {
    balance: U256,
    taint: f64,
    seeds: Top,
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

/// What one address received of one asset, while running.
#[derive(Debug, Default)]
struct Received {
    total: U256,
    tainted: f64,
    seeds: Top,
}

/// The haircut computation: feed it transfers in chain order with
/// [`Haircut::push`], then read the result with [`Haircut::finish`].
pub struct Haircut<'a> {
    /// `since` per seed id; `u32::MAX` for an address that is not a seed.
    since: Vec<u32>,
    expandable: &'a [bool],
    /// Asset 0 (the store's first asset, normally the native coin) is held in
    /// dense per-address arrays; other assets, held by fewer addresses, in maps.
    dense_holdings: Vec<Holding>,
    dense_received: Vec<Received>,
    holdings: FxHashMap<(u32, u32), Holding>,
    received: FxHashMap<(u32, u32), Received>,
}

/// Not a seed.
const NOT_SEED: u32 = u32::MAX;

impl<'a> Haircut<'a> {
    /// A haircut over `node_count` addresses with `seeds` (their `node` ids in the
    /// caller's numbering) and `expandable` per address (false for services that
    /// are not seeds; a seed always passes its taint on).
    pub fn new(node_count: usize, seeds: &[Start], expandable: &'a [bool]) -> Haircut<'a> {
        let mut since = vec![NOT_SEED; node_count];
        for s in seeds {
            let slot = &mut since[s.node as usize];
            *slot = (*slot).min(s.since);
        }
        Haircut {
            since,
            expandable,
            dense_holdings: Vec::new(),
            dense_received: Vec::new(),
            holdings: FxHashMap::default(),
            received: FxHashMap::default(),
        }
    }

    fn holding(&mut self, node: u32, asset: u32) -> &mut Holding {
        if asset == 0 {
            if self.dense_holdings.is_empty() {
                self.dense_holdings
                    .resize_with(self.since.len(), Holding::default);
            }
            &mut self.dense_holdings[node as usize]
        } else {
            self.holdings.entry((node, asset)).or_default()
        }
    }

    fn received(&mut self, node: u32, asset: u32) -> &mut Received {
        if asset == 0 {
            if self.dense_received.is_empty() {
                self.dense_received
                    .resize_with(self.since.len(), Received::default);
            }
            &mut self.dense_received[node as usize]
        } else {
            self.received.entry((node, asset)).or_default()
        }
    }

    /// Applies one transfer and returns the tainted fraction of its amount, in
    /// [0, 1]. Transfers must come in chain order.
    pub fn push(&mut self, flow: Flow) -> f64 {
        if flow.amount.is_zero() {
            return 0.0;
        }
        let amount = flow.amount;
        let amount_f = to_f64(amount);
        // What the transfer carries: the tainted fraction of `amount`, and per seed.
        let (taint, seeds) = {
            let seed_since = self.since[flow.from as usize];
            let expandable = self.expandable[flow.from as usize];
            let sender = self.holding(flow.from, flow.asset);
            let known = amount.min(sender.balance);
            let carried = if seed_since != NOT_SEED && flow.block >= seed_since {
                (1.0, Top::one(flow.from, 1.0))
            } else if !expandable || known.is_zero() || sender.taint <= 0.0 {
                (0.0, Top::default())
            } else {
                let covered = (to_f64(known) / amount_f).clamp(0.0, 1.0);
                (
                    (sender.taint * covered).clamp(0.0, 1.0),
                    sender.seeds.mix(covered, &Top::default(), 0.0),
                )
            };
            sender.balance -= known;
            if sender.balance.is_zero() {
                sender.taint = 0.0;
                sender.seeds = Top::default();
            }
            carried
        };
        let got = self.received(flow.to, flow.asset);
        got.total = got.total.saturating_add(amount);
        if taint > 0.0 {
            got.tainted += taint * amount_f;
            got.seeds = got.seeds.mix(1.0, &seeds, amount_f);
        }
        let receiver = self.holding(flow.to, flow.asset);
        let total = receiver.balance.saturating_add(amount);
        let weight = (amount_f / to_f64(total)).clamp(0.0, 1.0);
        if taint > 0.0 || receiver.taint > 0.0 {
            receiver.taint = (receiver.taint * (1.0 - weight) + taint * weight).clamp(0.0, 1.0);
            receiver.seeds = receiver.seeds.mix(1.0 - weight, &seeds, weight);
        }
        receiver.balance = total;
        taint
    }

    /// Applies `flows` (in chain order) one by one, prefetching the state of the
    /// flows a few places ahead: on a large graph each transfer touches three
    /// addresses' state at random, and memory latency, not arithmetic, is the cost.
    pub fn push_all(&mut self, flows: &[Flow]) {
        const AHEAD: usize = 16;
        if self.dense_holdings.is_empty() {
            self.dense_holdings
                .resize_with(self.since.len(), Holding::default);
            self.dense_received
                .resize_with(self.since.len(), Received::default);
        }
        for (i, &f) in flows.iter().enumerate() {
            if let Some(next) = flows.get(i + AHEAD)
                && next.asset == 0
            {
                crate::exposure::prefetch(&self.dense_holdings[next.from as usize]);
                crate::exposure::prefetch(&self.dense_holdings[next.to as usize]);
                crate::exposure::prefetch(&self.dense_received[next.to as usize]);
                crate::exposure::prefetch(&self.since[next.from as usize]);
            }
            self.push(f);
        }
    }

    /// The exposures: per address, per asset (sorted by asset), what it received.
    pub fn finish(self) -> HaircutResult {
        let mut by_node: FxHashMap<u32, Vec<Exposure>> = FxHashMap::default();
        let dense = self
            .dense_received
            .into_iter()
            .enumerate()
            .filter(|(_, r)| !r.total.is_zero())
            .map(|(node, r)| ((node as u32, 0u32), r));
        for ((node, asset), r) in dense.chain(self.received) {
            by_node.entry(node).or_default().push(Exposure {
                asset,
                received: r.total,
                tainted_total: r.tainted,
                by_seed: r.seeds.iter().collect(),
            });
        }
        for list in by_node.values_mut() {
            list.sort_by_key(|e| e.asset);
        }
        HaircutResult { by_node }
    }
}

/// The result of a haircut: what every address received, per asset.
#[derive(Debug, Default)]
pub struct HaircutResult {
    by_node: FxHashMap<u32, Vec<Exposure>>,
}

impl HaircutResult {
    /// The exposures of `node`, one per asset it received, sorted by asset.
    pub fn exposures(&self, node: u32) -> &[Exposure] {
        self.by_node.get(&node).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The exposure of `node` in `asset`, if it received any.
    pub fn exposure(&self, node: u32, asset: u32) -> Option<&Exposure> {
        self.exposures(node).iter().find(|e| e.asset == asset)
    }

    /// The address's share: the largest over its assets (amounts of different
    /// assets are not comparable without prices, so they are never added), with
    /// that asset. `None` when it received nothing.
    pub fn worst(&self, node: u32) -> Option<&Exposure> {
        self.exposures(node)
            .iter()
            .max_by(|a, b| a.share().total_cmp(&b.share()).then(b.asset.cmp(&a.asset)))
    }

    /// The share of `node` (see [`HaircutResult::worst`]); 0 when it received nothing.
    pub fn share(&self, node: u32) -> f64 {
        self.worst(node).map_or(0.0, Exposure::share)
    }

    /// Every address that received something, sorted.
    pub fn nodes(&self) -> Vec<u32> {
        let mut nodes: Vec<u32> = self.by_node.keys().copied().collect();
        nodes.sort_unstable();
        nodes
    }
}

/// Runs a haircut over `flows` (in chain order) in one call.
pub fn haircut(
    node_count: usize,
    seeds: &[Start],
    expandable: &[bool],
    flows: impl IntoIterator<Item = Flow>,
) -> HaircutResult {
    let mut h = Haircut::new(node_count, seeds, expandable);
    for f in flows {
        h.push(f);
    }
    h.finish()
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
            amount,
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
        assert!(close(a.other_seeds(), 3e18));
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
