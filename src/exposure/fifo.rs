//! Exposure by value under FIFO (first in, first out): an optional third view
//! beside poison (hops) and the haircut, switched on by the policy (`fifo = true`).
//!
//! Semantics. Per asset, every address holds its balance as a queue of *lots* in
//! the order they arrived; a lot is either clean or tainted by one seed. A transfer
//! of `amount` from `s` to `r`, in chain order:
//!
//! - takes `amount` from the front of `s`'s queue, oldest lots first (a lot is
//!   split when only part of it is needed); what the queue cannot cover is funds
//!   of unknown origin, which count as **clean** (missing history never taints,
//!   and a balance never goes negative), as in the haircut;
//! - if `s` is a seed and the block is at or after its `since`, everything sent is
//!   tainted by `s` instead; if `s` is not expandable (a service that is not a
//!   seed), everything sent is clean;
//! - appends what was taken to the back of `r`'s queue, in the same order (a
//!   service's queue is not kept: nothing it sends is tainted).
//!
//! A transfer to oneself moves nothing (the queue keeps its order, or sending
//! oneself one's oldest funds would make what leaves next look cleaner); like the
//! haircut, it still counts as received, with the taint of the lots it names.
//!
//! Unlike the haircut, nothing is ever mixed: a lot keeps its one seed, however
//! many hops it travels, so amounts are exact integers and every seed is named.
//! Each address gets, per asset, everything it received and the tainted part of it
//! by seed. FIFO and the haircut agree on what reaches an address in total only
//! when lots are spent whole; they differ when an address holds clean and tainted
//! funds and spends part of them: FIFO says the oldest funds left first.
//!
//! Cost: one lookup per transfer end (an array slot for an asset with at least a
//! quarter as many transfers as addresses, a hash lookup otherwise), plus the lots
//! a transfer takes; neighbouring lots of the same seed (or both clean) are merged,
//! so a queue holds one lot per run of same-source funds. Memory grows with those
//! runs: this view is off by default (the haircut is the one the score uses). On
//! the 50 M-transfer benchmark store it takes about 12 s.

use std::collections::VecDeque;
use std::io::{self, Write};

use rustc_hash::FxHashMap;

use super::Start;
use super::haircut::{Flow, NOT_SEED, counts_by_asset, seed_since};
use crate::table::{Table, TableReader, TableWriter};

/// The seed id of a clean lot.
const CLEAN: u32 = u32::MAX;

/// Funds of one origin, in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lot {
    amount: u128,
    /// The seed that tainted it, or [`CLEAN`].
    seed: u32,
}

/// Appends `lot` to `queue`, merged into the last lot when both have the same
/// origin. Amounts saturate at `u128::MAX` (see the haircut's precision notes).
fn push_lot(queue: &mut VecDeque<Lot>, lot: Lot) {
    if lot.amount == 0 {
        return;
    }
    match queue.back_mut() {
        Some(last) if last.seed == lot.seed => last.amount = last.amount.saturating_add(lot.amount),
        _ => queue.push_back(lot),
    }
}

/// What one address received of one asset under FIFO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FifoExposure {
    /// Everything received, in base units (saturating at `u128::MAX`).
    pub received: u128,
    /// The tainted part of it by seed (node id), sorted by seed; exact.
    pub by_seed: Vec<(u32, u128)>,
}

impl FifoExposure {
    /// The tainted amount received, over all seeds.
    pub fn tainted(&self) -> u128 {
        self.by_seed
            .iter()
            .fold(0u128, |acc, &(_, t)| acc.saturating_add(t))
    }

    /// The tainted share of what was received, in [0, 1]; 0 when nothing was.
    pub fn share(&self) -> f64 {
        self.totals().share()
    }

    /// What was received and the tainted part of it.
    pub fn totals(&self) -> FifoTotals {
        FifoTotals {
            received: self.received,
            tainted: self.tainted(),
        }
    }

    fn add(&mut self, seed: u32, amount: u128) {
        match self.by_seed.binary_search_by_key(&seed, |&(s, _)| s) {
            Ok(i) => self.by_seed[i].1 = self.by_seed[i].1.saturating_add(amount),
            Err(i) => self.by_seed.insert(i, (seed, amount)),
        }
    }
}

/// One address's state in one asset.
#[derive(Debug, Default)]
struct Account {
    queue: VecDeque<Lot>,
    got: FifoExposure,
}

/// The accounts of one asset: by node id when the asset has at least a quarter
/// as many transfers as there are addresses (then the slots are worth their
/// memory and spare a hash lookup per transfer end), in a hash map otherwise.
#[derive(Debug)]
enum Accounts {
    Dense(Vec<Account>),
    Sparse(FxHashMap<u32, Account>),
}

impl Accounts {
    fn get_mut(&mut self, node: u32) -> &mut Account {
        match self {
            Accounts::Dense(v) => &mut v[node as usize],
            Accounts::Sparse(m) => m.entry(node).or_default(),
        }
    }

    fn get(&self, node: u32) -> Option<&Account> {
        match self {
            Accounts::Dense(v) => v.get(node as usize),
            Accounts::Sparse(m) => m.get(&node),
        }
    }
}

/// What one address received of one asset under FIFO, in total: all that the
/// reports use, and all that a results file keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FifoTotals {
    /// Everything received, in base units.
    pub received: u128,
    /// The tainted part of it, over all seeds.
    pub tainted: u128,
}

impl FifoTotals {
    /// The tainted share of what was received, in [0, 1]; 0 when nothing was.
    pub fn share(&self) -> f64 {
        if self.received == 0 {
            return 0.0;
        }
        (self.tainted as f64 / self.received as f64).clamp(0.0, 1.0)
    }
}

/// The result of a FIFO pass: what every address received, per asset.
#[derive(Debug)]
pub struct FifoResult {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// As computed: by asset id, with every seed's part (the queues emptied).
    Built(Vec<Accounts>),
    /// As read from a results file: the totals of every (address, asset) that
    /// received something, sorted by (address, asset).
    Mapped {
        keys: Table<[u32; 2]>,
        totals: Table<[u128; 2]>,
    },
}

impl FifoResult {
    /// What `node` received of `asset` in total, if anything.
    pub fn totals(&self, node: u32, asset: u32) -> Option<FifoTotals> {
        match &self.inner {
            Inner::Built(assets) => {
                let got = &assets.get(asset as usize)?.get(node)?.got;
                (got.received != 0).then(|| got.totals())
            }
            Inner::Mapped { keys, totals } => {
                let i = keys.binary_search(&[node, asset]).ok()?;
                let [received, tainted] = *totals.get(i)?;
                Some(FifoTotals { received, tainted })
            }
        }
    }

    /// Every (address, asset) that received something, with what it received by
    /// seed, sorted; empty for a result read from a results file (which keeps the
    /// totals only).
    pub fn entries(&self) -> Vec<((u32, u32), &FifoExposure)> {
        let Inner::Built(assets) = &self.inner else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (asset, accounts) in assets.iter().enumerate() {
            let asset = asset as u32;
            match accounts {
                Accounts::Dense(v) => out.extend(
                    v.iter()
                        .enumerate()
                        .map(|(node, a)| ((node as u32, asset), &a.got)),
                ),
                Accounts::Sparse(m) => {
                    out.extend(m.iter().map(|(&node, a)| ((node, asset), &a.got)))
                }
            }
        }
        out.retain(|(_, got)| got.received != 0);
        out.sort_unstable_by_key(|e| e.0);
        out
    }

    /// Writes the totals to a results file (see `analysis::results`).
    pub(crate) fn write_to<W: Write>(&self, w: &mut TableWriter<W>) -> io::Result<()> {
        let (keys, totals): (Vec<[u32; 2]>, Vec<[u128; 2]>) = match &self.inner {
            Inner::Built(_) => self
                .entries()
                .into_iter()
                .map(|((node, asset), got)| {
                    let t = got.totals();
                    ([node, asset], [t.received, t.tainted])
                })
                .unzip(),
            Inner::Mapped { keys, totals } => (keys.to_vec(), totals.to_vec()),
        };
        w.table(&keys)?;
        w.table(&totals)
    }

    /// Reads what [`FifoResult::write_to`] wrote, mapped in place. Checked: the
    /// arrays fit together and name addresses below `nodes`, in order.
    pub(crate) fn read_from(r: &mut TableReader<'_>, nodes: usize) -> io::Result<FifoResult> {
        let keys: Table<[u32; 2]> = r.table()?;
        let totals: Table<[u128; 2]> = r.table()?;
        let ordered = keys.windows(2).all(|k| k[0] < k[1]);
        let known = keys.last().is_none_or(|k| (k[0] as usize) < nodes);
        if keys.len() != totals.len() || !ordered || !known {
            return Err(r.invalid("FIFO totals for another graph"));
        }
        Ok(FifoResult {
            inner: Inner::Mapped { keys, totals },
        })
    }
}

/// Runs FIFO over `flows` (in chain order) for `node_count` addresses with
/// `seeds` (node ids) and `expandable` per address (false for services that are
/// not seeds).
pub fn fifo(node_count: usize, seeds: &[Start], expandable: &[bool], flows: &[Flow]) -> FifoResult {
    let since = seed_since(node_count, seeds);
    let is_seed = |v: u32| since[v as usize] != NOT_SEED;
    let mut assets: Vec<Accounts> = counts_by_asset(flows.iter().filter(|f| f.amount != 0))
        .iter()
        .map(|&count| {
            if count >= node_count / 4 && count > 0 {
                Accounts::Dense((0..node_count).map(|_| Account::default()).collect())
            } else {
                Accounts::Sparse(FxHashMap::default())
            }
        })
        .collect();
    let mut taken: Vec<Lot> = Vec::new();
    for f in flows.iter().filter(|f| f.amount != 0) {
        let accounts = &mut assets[f.asset as usize];
        taken.clear();
        let sender = accounts.get_mut(f.from);
        // A transfer to oneself moves nothing: the queue keeps its order (else
        // sending oneself one's oldest funds would put them last, and what leaves
        // next would be cleaner). It still counts as received, as in the haircut.
        let to_self = f.from == f.to;
        let mut rest = f.amount;
        let mut at = 0;
        while rest > 0 {
            let Some(lot) = sender.queue.get_mut(at) else {
                break;
            };
            let take = rest.min(lot.amount);
            taken.push(Lot {
                amount: take,
                seed: lot.seed,
            });
            rest -= take;
            if to_self {
                at += 1;
            } else {
                lot.amount -= take;
                if lot.amount == 0 {
                    sender.queue.pop_front();
                }
            }
        }
        if is_seed(f.from) && f.block >= since[f.from as usize] {
            taken.clear();
            taken.push(Lot {
                amount: f.amount,
                seed: f.from,
            });
        } else if !expandable[f.from as usize] {
            taken.clear();
            taken.push(Lot {
                amount: f.amount,
                seed: CLEAN,
            });
        } else if rest > 0 {
            taken.push(Lot {
                amount: rest,
                seed: CLEAN,
            });
        }
        let receiver = accounts.get_mut(f.to);
        receiver.got.received = receiver.got.received.saturating_add(f.amount);
        let keeps = (expandable[f.to as usize] || is_seed(f.to)) && !to_self;
        for &lot in &taken {
            if lot.seed != CLEAN {
                receiver.got.add(lot.seed, lot.amount);
            }
            if keeps {
                push_lot(&mut receiver.queue, lot);
            }
        }
    }
    // What is left in the queues is not part of the result.
    for accounts in &mut assets {
        match accounts {
            Accounts::Dense(v) => v.iter_mut().for_each(|a| a.queue = VecDeque::new()),
            Accounts::Sparse(m) => m.values_mut().for_each(|a| a.queue = VecDeque::new()),
        }
    }
    FifoResult {
        inner: Inner::Built(assets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETH: u32 = 0;
    const TOKEN: u32 = 1;
    const E: u128 = 1_000_000_000_000_000_000;

    fn flow(block: u32, from: u32, to: u32, asset: u32, amount: u128) -> Flow {
        Flow {
            block,
            from,
            to,
            asset,
            amount,
        }
    }

    fn seed(node: u32) -> Start {
        Start { node, since: 0 }
    }

    fn run(nodes: usize, seeds: &[Start], flows: &[Flow]) -> FifoResult {
        fifo(nodes, seeds, &vec![true; nodes], flows)
    }

    fn got(r: &FifoResult, node: u32, asset: u32) -> (u128, Vec<(u32, u128)>) {
        let entries = r.entries();
        let (_, e) = entries
            .iter()
            .find(|(key, _)| *key == (node, asset))
            .expect("received something");
        let totals = r.totals(node, asset).expect("totals");
        assert_eq!((totals.received, totals.tainted), (e.received, e.tainted()));
        (e.received, e.by_seed.clone())
    }

    // Address 0 is the seed; 9 is a clean funder; 1.. are wallets.

    #[test]
    fn oldest_funds_leave_first() {
        // A gets 5 tainted, then 5 clean, and sends 5 to B: under FIFO the 5 that
        // leave are the tainted ones (the haircut would say half).
        let r = run(
            10,
            &[seed(0)],
            &[
                flow(1, 0, 1, ETH, 5 * E),
                flow(2, 9, 1, ETH, 5 * E),
                flow(3, 1, 2, ETH, 5 * E),
                flow(4, 1, 3, ETH, 5 * E),
            ],
        );
        assert_eq!(got(&r, 2, ETH), (5 * E, vec![(0, 5 * E)]));
        assert_eq!(r.totals(2, ETH).unwrap().share(), 1.0);
        // What is left, and goes to C next, is the clean 5.
        assert_eq!(got(&r, 3, ETH), (5 * E, vec![]));
        assert_eq!(r.totals(3, ETH).unwrap().share(), 0.0);
    }

    #[test]
    fn clean_funds_received_first_leave_first() {
        // The same, clean first: the tainted 5 stay at A.
        let r = run(
            10,
            &[seed(0)],
            &[
                flow(1, 9, 1, ETH, 5 * E),
                flow(2, 0, 1, ETH, 5 * E),
                flow(3, 1, 2, ETH, 5 * E),
            ],
        );
        assert_eq!(got(&r, 2, ETH), (5 * E, vec![]));
        assert_eq!(got(&r, 1, ETH), (10 * E, vec![(0, 5 * E)]));
    }

    #[test]
    fn a_spend_across_lots_splits_the_last_one() {
        // A: 2 tainted, 3 clean, 4 tainted (by two seeds, 0 then 5). It sends 6:
        // 2 of seed 0, 3 clean, 1 of seed 5; then 3 more: the rest of seed 5's lot.
        let r = run(
            10,
            &[seed(0), seed(5)],
            &[
                flow(1, 0, 1, ETH, 2 * E),
                flow(2, 9, 1, ETH, 3 * E),
                flow(3, 5, 1, ETH, 4 * E),
                flow(4, 1, 2, ETH, 6 * E),
                flow(5, 1, 3, ETH, 3 * E),
            ],
        );
        assert_eq!(got(&r, 2, ETH), (6 * E, vec![(0, 2 * E), (5, E)]));
        assert_eq!(got(&r, 3, ETH), (3 * E, vec![(5, 3 * E)]));
    }

    #[test]
    fn lots_keep_their_order_over_hops() {
        // B receives A's mix in A's order (tainted, then clean) and passes the
        // first 1 on: it is tainted.
        let r = run(
            10,
            &[seed(0)],
            &[
                flow(1, 0, 1, ETH, 2 * E),
                flow(2, 9, 1, ETH, 2 * E),
                flow(3, 1, 2, ETH, 4 * E),
                flow(4, 2, 3, ETH, E),
            ],
        );
        assert_eq!(got(&r, 2, ETH), (4 * E, vec![(0, 2 * E)]));
        assert_eq!(got(&r, 3, ETH), (E, vec![(0, E)]));
    }

    #[test]
    fn unknown_origin_is_clean_and_balances_stay_non_negative() {
        // A holds 1 tainted and sends 3: 1 tainted and 2 of unknown origin (clean);
        // then it sends 1 more out of nothing: clean.
        let r = run(
            10,
            &[seed(0)],
            &[
                flow(1, 0, 1, ETH, E),
                flow(2, 1, 2, ETH, 3 * E),
                flow(3, 1, 3, ETH, E),
            ],
        );
        assert_eq!(got(&r, 2, ETH), (3 * E, vec![(0, E)]));
        assert_eq!(got(&r, 3, ETH), (E, vec![]));
    }

    #[test]
    fn seed_with_since_block() {
        // Seed 0 from block 10: what it sent before is clean, after is tainted.
        let r = run(
            10,
            &[Start { node: 0, since: 10 }],
            &[flow(5, 0, 1, ETH, E), flow(10, 0, 2, ETH, E)],
        );
        assert_eq!(got(&r, 1, ETH), (E, vec![]));
        assert_eq!(got(&r, 2, ETH), (E, vec![(0, E)]));
    }

    #[test]
    fn services_pass_no_taint_on_and_assets_never_mix() {
        // 4 is a service; the token and ETH are counted apart.
        let mut expandable = vec![true; 10];
        expandable[4] = false;
        let r = fifo(
            10,
            &[seed(0)],
            &expandable,
            &[
                flow(1, 0, 4, ETH, E),
                flow(2, 4, 1, ETH, E),
                flow(3, 0, 2, TOKEN, 7),
                flow(4, 9, 2, ETH, E),
                flow(5, 2, 3, ETH, E),
            ],
        );
        assert_eq!(got(&r, 4, ETH), (E, vec![(0, E)]));
        assert_eq!(got(&r, 1, ETH), (E, vec![]));
        assert_eq!(got(&r, 2, TOKEN), (7, vec![(0, 7)]));
        assert_eq!(
            got(&r, 3, ETH),
            (E, vec![]),
            "the token's taint stays in the token"
        );
    }

    #[test]
    fn a_transfer_to_oneself_keeps_the_order() {
        // A holds 2 tainted then 2 clean and sends itself 2: the tainted lot stays
        // first, so its next 2 out are still the tainted ones.
        let r = run(
            10,
            &[seed(0)],
            &[
                flow(1, 0, 1, ETH, 2 * E),
                flow(2, 9, 1, ETH, 2 * E),
                flow(3, 1, 1, ETH, 2 * E),
                flow(4, 1, 2, ETH, 2 * E),
            ],
        );
        assert_eq!(got(&r, 1, ETH), (6 * E, vec![(0, 4 * E)]));
        assert_eq!(got(&r, 2, ETH), (2 * E, vec![(0, 2 * E)]));
    }

    #[test]
    fn neighbouring_lots_of_one_origin_merge() {
        let mut q = VecDeque::new();
        push_lot(&mut q, Lot { amount: 1, seed: 3 });
        push_lot(&mut q, Lot { amount: 2, seed: 3 });
        push_lot(&mut q, Lot { amount: 0, seed: 4 });
        push_lot(
            &mut q,
            Lot {
                amount: 5,
                seed: CLEAN,
            },
        );
        push_lot(
            &mut q,
            Lot {
                amount: 1,
                seed: CLEAN,
            },
        );
        assert_eq!(
            q.into_iter().collect::<Vec<_>>(),
            [
                Lot { amount: 3, seed: 3 },
                Lot {
                    amount: 6,
                    seed: CLEAN
                }
            ]
        );
    }
}
