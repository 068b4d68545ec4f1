//! The obvious haircut: one transfer at a time, exact `U256` balances, a hash map
//! per (address, asset). It is the specification the fast engine in the parent
//! module is checked against (property tests), not what hoptrace runs.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use rustc_hash::FxHashMap;

use super::{Exposure, Flow, NO_SEED, NOT_SEED, Part, TOP_SEEDS, Top, to_f64};
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
                    by_seed: r.seeds.iter().collect(),
                },
            )
        })
        .collect();
    (exposures, carried_taint)
}

/// `this * wa + other * wb`, seed by seed: the two lists merged in seed order,
/// parts that are not positive once stored dropped, then the smallest stored parts
/// beyond [`TOP_SEEDS`] (the larger seed first among equal parts). The obvious
/// version of the fast engine's `Top::mix`, which a test checks against it.
pub(super) fn merge<P: Part>(this: &Top<P>, wa: f64, other: &Top<P>, wb: f64) -> Top<P> {
    let mut seeds = Vec::new();
    let mut parts: Vec<P> = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        let a = this.seeds.get(i).copied().unwrap_or(NO_SEED);
        let b = other.seeds.get(j).copied().unwrap_or(NO_SEED);
        if a == NO_SEED && b == NO_SEED {
            break;
        }
        let (seed, part) = if a == b {
            i += 1;
            j += 1;
            (
                a,
                this.parts[i - 1].get() * wa + other.parts[j - 1].get() * wb,
            )
        } else if a < b {
            i += 1;
            (a, this.parts[i - 1].get() * wa)
        } else {
            j += 1;
            (b, other.parts[j - 1].get() * wb)
        };
        if P::put(part).get() > 0.0 {
            seeds.push(seed);
            parts.push(P::put(part));
        }
    }
    while seeds.len() > TOP_SEEDS {
        let mut worst = 0;
        for k in 1..seeds.len() {
            let (p, w) = (parts[k].get(), parts[worst].get());
            if p < w || (p == w && seeds[k] > seeds[worst]) {
                worst = k;
            }
        }
        seeds.remove(worst);
        parts.remove(worst);
    }
    let mut out = Top::default();
    for (k, (&seed, &part)) in seeds.iter().zip(&parts).enumerate() {
        out.seeds[k] = seed;
        out.parts[k] = part;
    }
    out
}
