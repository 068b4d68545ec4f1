//! The obvious haircut: one transfer at a time, exact `U256` balances, a hash map
//! per (address, asset). It is the specification the fast engine in the parent
//! module is checked against (property tests), not what hoptrace runs.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use rustc_hash::FxHashMap;

use super::{Exposure, Flow, NOT_SEED, Part, TOP_SEEDS, Top, to_f64};
use crate::exposure::Start;

/// What one address holds of one asset.
#[derive(Debug, Default)]
struct Holding {
    balance: U256,
    taint: f64,
    seeds: Top<f64>,
}

/// What one address received of one asset.
#[derive(Debug, Default)]
struct Received {
    total: U256,
    tainted: f64,
    seeds: Top<f64>,
}

/// Runs the haircut rule over `flows` (in chain order), one transfer at a time.
/// Returns the exposures by (address, asset) and, per flow, whether it carried
/// taint.
pub fn reference_haircut(
    node_count: usize,
    seeds: &[Start],
    expandable: &[bool],
    flows: &[Flow],
) -> (BTreeMap<(u32, u32), Exposure>, Vec<bool>) {
    let mut since = vec![NOT_SEED; node_count];
    for s in seeds {
        let slot = &mut since[s.node as usize];
        *slot = (*slot).min(s.since);
    }
    let mut holdings: FxHashMap<(u32, u32), Holding> = FxHashMap::default();
    let mut received: FxHashMap<(u32, u32), Received> = FxHashMap::default();
    let mut carried_taint = Vec::with_capacity(flows.len());
    for flow in flows {
        if flow.amount == 0 {
            carried_taint.push(false);
            continue;
        }
        let amount = U256::from(flow.amount);
        let amount_f = to_f64(amount);
        let (taint, carried) = {
            let seed_since = since[flow.from as usize];
            let sender = holdings.entry((flow.from, flow.asset)).or_default();
            let known = amount.min(sender.balance);
            let carried = if seed_since != NOT_SEED && flow.block >= seed_since {
                (1.0, Top::<f64>::one(flow.from, 1.0))
            } else if !expandable[flow.from as usize] || known.is_zero() || sender.taint <= 0.0 {
                (0.0, Top::<f64>::default())
            } else {
                let covered = (to_f64(known) / amount_f).clamp(0.0, 1.0);
                (
                    (sender.taint * covered).clamp(0.0, 1.0),
                    merge(&sender.seeds, covered, &Top::default(), 0.0),
                )
            };
            sender.balance -= known;
            if sender.balance.is_zero() {
                sender.taint = 0.0;
                sender.seeds = Top::default();
            }
            carried
        };
        let got = received.entry((flow.to, flow.asset)).or_default();
        got.total = got.total.saturating_add(amount);
        if taint > 0.0 {
            got.tainted += taint * amount_f;
            got.seeds = merge(&got.seeds, 1.0, &carried, amount_f);
        }
        let receiver = holdings.entry((flow.to, flow.asset)).or_default();
        let total = receiver.balance.saturating_add(amount);
        let weight = (amount_f / to_f64(total)).clamp(0.0, 1.0);
        if taint > 0.0 || receiver.taint > 0.0 {
            receiver.taint = (receiver.taint * (1.0 - weight) + taint * weight).clamp(0.0, 1.0);
            receiver.seeds = merge(&receiver.seeds, 1.0 - weight, &carried, weight);
        }
        receiver.balance = total;
        carried_taint.push(taint > 0.0);
    }
    let exposures = received
        .into_iter()
        .filter(|(_, r)| !r.total.is_zero())
        .map(|((node, asset), r)| {
            (
                (node, asset),
                Exposure {
                    asset,
                    received: r.total,
                    tainted_total: r.tainted,
                    by_seed: super::by_seed(r.seeds.iter()),
                },
            )
        })
        .collect();
    (exposures, carried_taint)
}

/// `this * wa + other * wb`, seed by seed: every seed named on either side with
/// its part (the sum where both name it), parts that are not positive once stored
/// dropped, the rest sorted by stored part, largest first (ties: the smaller seed
/// first), and those beyond [`TOP_SEEDS`] dropped. The obvious version of the fast
/// engine's `Top::mix`, which a test checks against it.
pub(super) fn merge<P: Part>(this: &Top<P>, wa: f64, other: &Top<P>, wb: f64) -> Top<P> {
    let mut parts: BTreeMap<u32, f64> = BTreeMap::new();
    for (seed, part) in this.iter() {
        parts.insert(seed, part * wa);
    }
    for (seed, part) in other.iter() {
        let theirs = part * wb;
        parts
            .entry(seed)
            .and_modify(|ours| *ours += theirs)
            .or_insert(theirs);
    }
    let mut kept: Vec<(u32, P)> = parts
        .into_iter()
        .map(|(seed, part)| (seed, P::put(part)))
        .filter(|(_, part)| part.get() > 0.0)
        .collect();
    kept.sort_by(|a, b| b.1.get().total_cmp(&a.1.get()).then(a.0.cmp(&b.0)));
    kept.truncate(TOP_SEEDS);
    let mut out = Top::default();
    for (k, (seed, part)) in kept.into_iter().enumerate() {
        out.seeds[k] = seed;
        out.parts[k] = part;
    }
    out
}
