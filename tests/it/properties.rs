//! Property tests: the CSR hop engine against the slow, obvious reference
//! (Bellman-Ford over hop levels on node -> best block), on random multigraphs with
//! random seeds, `since` blocks and services, in both directions; plus invariants
//! of the evidence paths.

use alloy_primitives::Address;
use proptest::prelude::*;

use hoptrace::exposure::{Reach, Start, Step, hops, reference_hops};
use hoptrace::graph::{Direction, Graph};

#[derive(Debug, Clone)]
struct Case {
    nodes: usize,
    edges: Vec<(u32, u32, u32)>,
    starts: Vec<Start>,
    services: Vec<bool>,
    max_hops: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..14, 0u32..12).prop_flat_map(|(nodes, blocks)| {
        let n = nodes as u32;
        let edge = (0..n, 0..n, 0..=blocks);
        let start = (0..n, 0..=blocks + 1).prop_map(|(node, since)| Start { node, since });
        (
            Just(nodes),
            prop::collection::vec(edge, 0..40),
            prop::collection::vec(start, 1..4),
            prop::collection::vec(prop::bool::weighted(0.2), nodes),
            0u32..8,
        )
            .prop_map(|(nodes, edges, starts, services, max_hops)| Case {
                nodes,
                edges,
                starts,
                services,
                max_hops,
            })
    })
}

/// The graph of a case, with the case's node ids mapped to the graph's.
struct Built {
    graph: Graph,
    /// case id -> graph node.
    internal: Vec<u32>,
    starts: Vec<Start>,
    expandable: Vec<bool>,
}

impl Built {
    fn new(c: &Case) -> Built {
        let addrs: Vec<Address> = (0..c.nodes)
            .map(|i| Address::with_last_byte(i as u8))
            .collect();
        let graph = Graph::from_edges(addrs.clone(), &c.edges);
        let internal: Vec<u32> = addrs.iter().map(|a| graph.node(a).unwrap()).collect();
        let starts = c
            .starts
            .iter()
            .map(|s| Start {
                node: internal[s.node as usize],
                since: s.since,
            })
            .collect();
        let mut expandable = vec![true; c.nodes];
        for (v, &service) in c.services.iter().enumerate() {
            expandable[internal[v] as usize] = !service;
        }
        Built {
            graph,
            internal,
            starts,
            expandable,
        }
    }

    fn search(&self, d: Direction, max_hops: u32) -> Reach {
        hops(&self.graph, d, &self.starts, &self.expandable, max_hops)
    }

    fn hops_by_case_id(&self, reach: &Reach) -> Vec<Option<u32>> {
        self.internal.iter().map(|&n| reach.hops(n)).collect()
    }
}

fn expandable(c: &Case) -> Vec<bool> {
    c.services.iter().map(|s| !s).collect()
}

const BOTH: [Direction; 2] = [Direction::Downstream, Direction::Upstream];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn engine_equals_reference(c in case()) {
        let b = Built::new(&c);
        let expand = expandable(&c);
        for d in BOTH {
            let got = b.hops_by_case_id(&b.search(d, c.max_hops));
            let want = reference_hops(c.nodes, &c.edges, d, &c.starts, &expand, c.max_hops);
            prop_assert_eq!(got, want, "direction {:?}", d);
        }
    }

    #[test]
    fn evidence_paths_are_valid(c in case()) {
        let b = Built::new(&c);
        let expand = expandable(&c);
        let since = |node: u32| c.starts.iter().filter(|s| s.node == node).map(|s| s.since).min();
        let ext = |n: u32| b.graph.external_id(n);
        for d in BOTH {
            let reach = b.search(d, c.max_hops);
            for v in 0..c.nodes as u32 {
                let node = b.internal[v as usize];
                let Some(h) = reach.hops(node) else { continue };
                let path: Vec<Step> = reach
                    .path(node)
                    .into_iter()
                    .map(|s| Step { from: ext(s.from), to: ext(s.to), block: s.block })
                    .collect();
                prop_assert_eq!(path.len() as u32, h);
                let seed = ext(reach.seed(node).expect("reached nodes have a seed"));
                prop_assert!(since(seed).is_some(), "the root is a seed");
                if h == 0 {
                    prop_assert!(since(v).is_some(), "hop 0 only for seeds");
                    continue;
                }
                // Each step is a real transfer, blocks never decrease along the flow.
                for s in &path {
                    prop_assert!(c.edges.contains(&(s.from, s.to, s.block)));
                }
                for w in path.windows(2) {
                    prop_assert!(w[0].block <= w[1].block);
                    prop_assert_eq!(w[0].to, w[1].from);
                }
                // Intermediate nodes may continue a path.
                for s in &path[..path.len() - 1] {
                    prop_assert!(expand[s.to as usize] || since(s.to).is_some());
                }
                let (first, last) = (path[0], path[path.len() - 1]);
                match d {
                    Direction::Downstream => {
                        prop_assert_eq!(first.from, seed);
                        prop_assert_eq!(last.to, v);
                        prop_assert!(first.block >= since(seed).unwrap());
                    }
                    Direction::Upstream => {
                        prop_assert_eq!(first.from, v);
                        prop_assert_eq!(last.to, seed);
                        prop_assert!(last.block >= since(seed).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn adding_an_edge_never_increases_a_distance(c in case(), extra in (0u32..14, 0u32..14, 0u32..13)) {
        let n = c.nodes as u32;
        let (a, b, block) = (extra.0 % n, extra.1 % n, extra.2);
        let mut more = c.clone();
        more.edges.push((a, b, block));
        let (b1, b2) = (Built::new(&c), Built::new(&more));
        for d in BOTH {
            let before = b1.hops_by_case_id(&b1.search(d, c.max_hops));
            let after = b2.hops_by_case_id(&b2.search(d, c.max_hops));
            for (h1, h2) in before.iter().zip(&after) {
                if let Some(h) = h1 {
                    prop_assert!(h2.is_some_and(|h2| h2 <= *h));
                }
            }
        }
    }

    #[test]
    fn seeds_are_hop_zero(c in case()) {
        let b = Built::new(&c);
        for d in BOTH {
            let reach = b.search(d, c.max_hops);
            for s in &b.starts {
                prop_assert_eq!(reach.hops(s.node), Some(0));
                prop_assert_eq!(reach.seed(s.node), Some(s.node));
            }
        }
    }
}

/// The parallel paths (frontiers and level sizes above the threshold) against the
/// reference, and thread counts against each other: hops, seeds and every evidence
/// path must be identical.
#[test]
fn large_graph_is_the_same_on_any_number_of_threads() {
    use hoptrace::bench::Synthetic;
    use hoptrace::exposure::hops_with_threads;
    let params = Synthetic {
        transfers: 300_000,
        addresses: 30_000,
        seeds: 40,
        rng_seed: 7,
        assets: 2,
    };
    let edges: Vec<(u32, u32, u32)> = params
        .edges()
        .into_iter()
        .map(|(f, t, b)| (f, t, b % 5_000))
        .collect();
    let n = params.addresses;
    let addrs: Vec<Address> = (0..n as u32)
        .map(hoptrace::bench::synthetic_address)
        .collect();
    let graph = Graph::from_edges(addrs.clone(), &edges);
    let internal: Vec<u32> = addrs.iter().map(|a| graph.node(a).unwrap()).collect();
    let ext_starts: Vec<Start> = params
        .starts()
        .into_iter()
        .map(|s| Start {
            node: s.node,
            since: s.since % 5_000,
        })
        .collect();
    let starts = crate::common::starts_in(&internal, &ext_starts);
    // Every 50th address is a service.
    let ext_expandable: Vec<bool> = (0..n).map(|i| i % 50 != 0).collect();
    let mut expandable = vec![true; n];
    for (i, &e) in ext_expandable.iter().enumerate() {
        expandable[internal[i] as usize] = e;
    }
    for d in BOTH {
        let one = hops_with_threads(&graph, d, &starts, &expandable, 30, 1);
        let two = hops_with_threads(&graph, d, &starts, &expandable, 30, 2);
        let four = hops_with_threads(&graph, d, &starts, &expandable, 30, 4);
        let want = reference_hops(n, &edges, d, &ext_starts, &ext_expandable, 30);
        let got: Vec<Option<u32>> = internal.iter().map(|&v| one.hops(v)).collect();
        assert_eq!(got, want, "{d:?}: engine and reference disagree");
        let reached = got.iter().filter(|h| h.is_some()).count();
        assert!(
            reached > n / 2,
            "{d:?}: the test graph should be mostly reached, got {reached}"
        );
        for v in 0..n as u32 {
            assert_eq!(one.hops(v), two.hops(v));
            assert_eq!(one.hops(v), four.hops(v));
            assert_eq!(one.seed(v), two.seed(v));
            assert_eq!(one.seed(v), four.seed(v));
            assert_eq!(one.path(v), two.path(v));
            assert_eq!(one.path(v), four.path(v));
        }
        assert_eq!(one.record_count(), two.record_count());
    }
}

/// Untimed hops by petgraph: a BFS from a virtual source joined to every seed, on
/// the graph without the out-edges (in the searched direction) of services that
/// are not seeds.
fn petgraph_untimed(c: &Case, d: Direction) -> Vec<Option<u32>> {
    use petgraph::graph::{DiGraph, NodeIndex};
    use petgraph::visit::Bfs;
    let is_seed = |v: u32| c.starts.iter().any(|s| s.node == v);
    let mut g: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..c.nodes).map(|_| g.add_node(())).collect();
    let source = g.add_node(());
    for &(from, to, _) in &c.edges {
        let (u, v) = match d {
            Direction::Downstream => (from, to),
            Direction::Upstream => (to, from),
        };
        if c.services[u as usize] && !is_seed(u) {
            continue;
        }
        g.add_edge(nodes[u as usize], nodes[v as usize], ());
    }
    for s in &c.starts {
        g.add_edge(source, nodes[s.node as usize], ());
    }
    let mut dist: Vec<Option<u32>> = vec![None; c.nodes + 1];
    dist[source.index()] = Some(0);
    let mut bfs = Bfs::new(&g, source);
    while let Some(x) = bfs.next(&g) {
        let dx = dist[x.index()].expect("visited in BFS order");
        for y in g.neighbors(x) {
            if dist[y.index()].is_none() {
                dist[y.index()] = Some(dx + 1);
            }
        }
    }
    (0..c.nodes)
        .map(|v| dist[v].map(|h| h - 1).filter(|&h| h <= c.max_hops))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn untimed_equals_petgraph_bfs(c in case()) {
        let b = Built::new(&c);
        for d in BOTH {
            let reach = hoptrace::exposure::untimed_hops(&b.graph, d, &b.starts, &b.expandable, c.max_hops);
            prop_assert_eq!(b.hops_by_case_id(&reach), petgraph_untimed(&c, d), "direction {:?}", d);
            // Paths are real transfers chained from (downstream) or to (upstream) a seed.
            for &v in &b.internal {
                let Some(h) = reach.hops(v) else { continue };
                let path = reach.path(v);
                prop_assert_eq!(path.len() as u32, h);
                for s in &path {
                    let (f, t) = (b.graph.external_id(s.from), b.graph.external_id(s.to));
                    prop_assert!(c.edges.contains(&(f, t, s.block)));
                }
                for w in path.windows(2) {
                    prop_assert_eq!(w[0].to, w[1].from);
                }
            }
        }
    }
}

/// Untimed reach is a superset of timed reach, with hops no larger.
#[test]
fn untimed_bounds_timed_on_a_large_graph() {
    use hoptrace::bench::Synthetic;
    use hoptrace::exposure::untimed_hops;
    let params = Synthetic {
        transfers: 200_000,
        addresses: 20_000,
        seeds: 30,
        rng_seed: 11,
        assets: 2,
    };
    let edges = params.edges();
    let addrs: Vec<Address> = (0..params.addresses as u32)
        .map(hoptrace::bench::synthetic_address)
        .collect();
    let graph = Graph::from_edges(addrs.clone(), &edges);
    let internal: Vec<u32> = addrs.iter().map(|a| graph.node(a).unwrap()).collect();
    let starts: Vec<Start> = params
        .starts()
        .into_iter()
        .map(|s| Start {
            node: internal[s.node as usize],
            since: s.since,
        })
        .collect();
    let expandable = vec![true; params.addresses];
    for d in BOTH {
        let timed = hops(&graph, d, &starts, &expandable, 50);
        let untimed = untimed_hops(&graph, d, &starts, &expandable, 50);
        let mut strictly_fewer = 0;
        for v in 0..params.addresses as u32 {
            if let Some(t) = timed.hops(v) {
                let u = untimed.hops(v).expect("timed reach implies untimed reach");
                assert!(u <= t);
                strictly_fewer += usize::from(u < t);
            }
        }
        assert!(
            strictly_fewer > 0,
            "ignoring time should shorten some paths"
        );
    }
}
