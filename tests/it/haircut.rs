//! Property tests of the haircut (value) exposure against the hop (poison) view, on
//! random multigraphs with random amounts, assets, seeds, `since` blocks and services.

use proptest::prelude::*;

use hoptrace::exposure::{HaircutResult, Start, haircut};
use hoptrace::graph::Direction;

use crate::common::{ValueCase, flows_of, poison_reached, value_case};

type Case = ValueCase;

fn case() -> impl Strategy<Value = Case> {
    value_case(12, 10, prop_oneof![0u64..5, 1u64..1_000, Just(u64::MAX)])
}

fn expandable(c: &Case) -> Vec<bool> {
    c.services.iter().map(|s| !s).collect()
}

fn run(c: &Case, nodes: usize, transfers: &[(u32, u32, u32, u32, u64)]) -> HaircutResult {
    let mut expand = expandable(c);
    expand.resize(nodes, true);
    haircut(nodes, &c.starts, &expand, flows_of(transfers))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_share_is_in_unit_interval(c in case()) {
        let r = run(&c, c.nodes, &c.transfers);
        for v in 0..c.nodes as u32 {
            let share = r.share(v);
            prop_assert!((0.0..=1.0).contains(&share), "share {} of {}", share, v);
            for e in r.exposures(v) {
                prop_assert!((0.0..=1.0).contains(&e.share()));
                prop_assert!(e.tainted() <= f64::from(e.received));
            }
        }
    }

    #[test]
    fn positive_haircut_share_is_reached_by_poison(c in case()) {
        let r = run(&c, c.nodes, &c.transfers);
        let reached = poison_reached(c.nodes, &c.transfers, &c.starts, &c.services);
        for v in 0..c.nodes as u32 {
            if r.share(v) > 0.0 {
                prop_assert!(reached[v as usize], "{} has share {} but no hop path", v, r.share(v));
            }
        }
    }

    /// A transfer from a fresh address (one with no other transfers), coming after
    /// every other transfer, never raises anyone's share. (Placed earlier it can:
    /// see the unit test `fresh_clean_input_can_raise_a_later_recipients_share`.)
    #[test]
    fn fresh_last_transfer_never_raises_a_share(
        c in case(),
        to in 0u32..64,
        asset in 0u32..2,
        amount in 1u64..1_000_000,
    ) {
        let to = to % c.nodes as u32;
        let fresh = c.nodes as u32;
        let last = c.transfers.last().map_or(0, |t| t.2);
        let before = run(&c, c.nodes + 1, &c.transfers);
        let mut more = c.transfers.clone();
        more.push((fresh, to, last, asset, amount));
        let after = run(&c, c.nodes + 1, &more);
        for v in 0..=c.nodes as u32 {
            for e in after.exposures(v) {
                let old = before.exposure(v, e.asset).map_or(0.0, |x| x.share());
                prop_assert!(e.share() <= old + 1e-12, "{} rose from {} to {}", v, old, e.share());
            }
        }
    }
}

fn category() -> impl Strategy<Value = hoptrace::labels::Category> {
    prop::sample::select(hoptrace::labels::Category::ALL.to_vec())
}

/// A valid policy with random weights.
fn policy() -> impl Strategy<Value = hoptrace::policy::Policy> {
    (0.0f64..=1.0, 0.0f64..=1.0, 0.01f64..=1.0, 0.0f64..=1.0).prop_map(|(d, u, decay, floor)| {
        let mut p = hoptrace::policy::Policy::default();
        p.score.downstream = d;
        p.score.upstream = u;
        p.score.hop_decay = decay;
        p.score.poison_floor = floor;
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A score never falls when the share rises, nor when the hops fall.
    #[test]
    fn score_is_monotone_in_share_and_inverse_hops(
        p in policy(),
        c in category(),
        upstream in any::<bool>(),
        dust_only in any::<bool>(),
        h in 0u32..30,
        dh in 0u32..5,
        s in 0.0f64..=1.0,
        ds in 0.0f64..=1.0,
    ) {
        use hoptrace::score::{Finding, finding_score, score};
        let f = |hops: u32, share: f64| Finding {
            direction: if upstream { Direction::Upstream } else { Direction::Downstream },
            category: c,
            hops,
            share,
            dust_only,
        };
        let s2 = (s + ds).min(1.0);
        let base = finding_score(&p, &f(h, s));
        prop_assert!((0.0..=100.0).contains(&base));
        prop_assert!(finding_score(&p, &f(h, s2)) >= base);
        prop_assert!(finding_score(&p, &f(h + dh, s)) <= base);
        prop_assert!(score(&p, &[f(h, s2)]).score >= score(&p, &[f(h, s)]).score);
        prop_assert!(score(&p, &[f(h + dh, s)]).score <= score(&p, &[f(h, s)]).score);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The fast engine (split by asset, compact records, relative `f32` seed parts)
    /// against the obvious one: the same addresses and assets, exactly the same
    /// amounts received, the same tainted totals and flags to rounding, and the
    /// same named seeds with parts to `f32` precision. (Cases have at most three
    /// seeds, so neither engine drops one for room; the fast one may leave out a
    /// part below what an `f32` fraction of the total can hold.)
    #[test]
    fn fast_engine_matches_the_reference(c in case()) {
        let flows = flows_of(&c.transfers);
        let expand = expandable(&c);
        let fast = haircut(c.nodes, &c.starts, &expand, flows.iter().copied());
        let (want, carried) = hoptrace::exposure::haircut::reference::reference_haircut(
            c.nodes, &c.starts, &expand, &flows,
        );
        for (i, &t) in carried.iter().enumerate() {
            prop_assert_eq!(fast.carried_taint(i), t, "flow {}", i);
        }
        let mut got_count = 0;
        for node in 0..c.nodes as u32 {
            for e in fast.exposures(node) {
                got_count += 1;
                let w = want.get(&(node, e.asset));
                prop_assert!(w.is_some(), "node {} asset {} not in the reference", node, e.asset);
                let w = w.unwrap();
                prop_assert_eq!(e.received, w.received);
                let scale = f64::from(w.received).max(1.0);
                prop_assert!((e.tainted_total - w.tainted_total).abs() <= 1e-9 * scale,
                    "node {} tainted {} vs {}", node, e.tainted_total, w.tainted_total);
                // Every seed's part agrees to 1e-6 of the tainted total; a part too
                // small for an f32 fraction of it (below ~1e-38) may be unnamed.
                let tolerance = 1e-6 * w.tainted_total.max(1.0);
                let part = |list: &[(u32, f64)], seed: u32| {
                    list.iter().find(|p| p.0 == seed).map(|p| p.1)
                };
                for &(seed, t) in &w.by_seed {
                    match part(&e.by_seed, seed) {
                        Some(got) => prop_assert!((got - t).abs() <= tolerance,
                            "node {} seed {}: {} vs {}", node, seed, got, t),
                        None => prop_assert!(t <= 1e-30 * w.tainted_total,
                            "node {} seed {} ({} of {}) unnamed", node, seed, t, w.tainted_total),
                    }
                }
                for &(seed, _) in &e.by_seed {
                    prop_assert!(part(&w.by_seed, seed).is_some(), "node {} seed {} extra", node, seed);
                }
            }
        }
        prop_assert_eq!(got_count, want.len());
    }
}

/// The fast engine against the obvious one on a graph large enough that the
/// dense asset's pass hands its tainted legs to the second thread in many chunks
/// (thousands of tainted transfers), with services, `since` blocks and two assets.
/// Three seeds, so that neither engine drops a named seed for room.
#[test]
fn fast_engine_matches_the_reference_on_a_larger_graph() {
    matches_the_reference_at_scale(11, 30_000, |rng| u32::from(rng.u8(0..8) == 0));
}

/// The same with six assets (40, 20 and 10 % each for four more) and enough
/// transfers that the plan runs the assets left after the dense pass, and the
/// rest of the second asset's pass, on two threads (`Plan::shared_rest`: 65,536
/// legs or more in two or more assets).
#[test]
fn fast_engine_matches_the_reference_over_many_assets() {
    const ASSETS: [u32; 10] = [0, 0, 0, 0, 1, 1, 2, 3, 4, 5];
    matches_the_reference_at_scale(13, 200_000, |rng| ASSETS[rng.usize(..ASSETS.len())]);
}

/// `count` random transfers over 400 addresses (a few of them busy), assets from
/// `asset`: the fast engine gives what the reference does.
fn matches_the_reference_at_scale(
    rng_seed: u64,
    count: usize,
    asset: impl Fn(&mut fastrand::Rng) -> u32,
) {
    let mut rng = fastrand::Rng::with_seed(rng_seed);
    let nodes = 400usize;
    let mut transfers: Vec<(u32, u32, u32, u32, u64)> = (0..count)
        .map(|_| {
            let node = |rng: &mut fastrand::Rng| {
                let u = rng.f64();
                (nodes as f64 * u * u) as u32
            };
            let amount = 10f64.powf(rng.f64() * 19.0) as u64;
            (
                node(&mut rng),
                node(&mut rng),
                rng.u32(0..1000),
                asset(&mut rng),
                amount,
            )
        })
        .collect();
    transfers.sort_by_key(|t| t.2);
    let starts = [
        Start { node: 3, since: 0 },
        Start { node: 50, since: 0 },
        Start {
            node: 7,
            since: 500,
        },
    ];
    let expand: Vec<bool> = (0..nodes).map(|v| v % 37 != 5).collect();
    let flows = flows_of(&transfers);
    let fast = haircut(nodes, &starts, &expand, flows.iter().copied());
    let (want, carried) =
        hoptrace::exposure::haircut::reference::reference_haircut(nodes, &starts, &expand, &flows);
    assert!(carried.iter().filter(|&&c| c).count() > 10_000);
    for (i, &t) in carried.iter().enumerate() {
        assert_eq!(fast.carried_taint(i), t, "flow {i}");
    }
    let mut got_count = 0;
    for node in 0..nodes as u32 {
        for e in fast.exposures(node) {
            got_count += 1;
            let w = &want[&(node, e.asset)];
            assert_eq!(e.received, w.received);
            let scale = f64::from(w.received).max(1.0);
            assert!(
                (e.tainted_total - w.tainted_total).abs() <= 1e-9 * scale,
                "node {node} tainted {} vs {}",
                e.tainted_total,
                w.tainted_total
            );
            // As in the property test: parts agree to 1e-6 of the tainted total, and
            // a part too small for an f32 fraction of it may be unnamed.
            let tolerance = 1e-6 * w.tainted_total.max(1.0);
            let part =
                |list: &[(u32, f64)], seed: u32| list.iter().find(|p| p.0 == seed).map(|p| p.1);
            for &(seed, t) in &w.by_seed {
                match part(&e.by_seed, seed) {
                    Some(got) => assert!((got - t).abs() <= tolerance, "node {node} seed {seed}"),
                    None => assert!(
                        t <= 1e-30 * w.tainted_total,
                        "node {node} seed {seed} unnamed"
                    ),
                }
            }
            for &(seed, _) in &e.by_seed {
                assert!(
                    part(&w.by_seed, seed).is_some(),
                    "node {node} seed {seed} extra"
                );
            }
        }
    }
    assert_eq!(got_count, want.len());
}
