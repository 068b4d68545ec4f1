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
//! only scans its edges with keys in `[new, old)`: edges at or after `old` were
//! relaxed when it arrived at `old`, and relaxing them again cannot improve anyone.
//! So every edge is scanned at most once per direction (seeds' root windows aside),
//! and the cost is O(E + V log V) time, O(V) memory on top of the graph.
//!
//! Evidence: every improvement appends a record `(node, key, predecessor record)`.
//! Records are never changed, so the record that first reached a node is the end of
//! a valid path with exactly `hops` transfers, even if its predecessors improve later.

use crate::graph::{Direction, Graph, key_of, node_of};
use crate::transfer::MAX_BLOCK;

const NONE: u32 = u32::MAX;
/// The key of "not reached": above every real key.
const UNREACHED: u32 = u32::MAX;

/// A seed as a start of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The seed's node.
    pub node: u32,
    /// Its funds are tainted from this block on.
    pub since: u32,
}

/// One improvement of one node's arrival.
#[derive(Debug, Clone, Copy)]
struct Record {
    node: u32,
    /// Key of the edge that arrived (unused for roots).
    key: u32,
    /// The record this one was reached from, `NONE` for a seed.
    pred: u32,
    /// The seed (node) at the root of this record's path.
    root: u32,
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
    records: Vec<Record>,
    /// Per node, the record that first reached it (`NONE` if never).
    first: Vec<u32>,
}

impl Reach {
    /// The direction searched.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The hop count of `node`, if reached.
    pub fn hops(&self, node: u32) -> Option<u32> {
        match self.first.get(node as usize) {
            Some(&r) if r != NONE => Some(self.records[r as usize].level),
            _ => None,
        }
    }

    /// The seed at the start (downstream) or end (upstream) of `node`'s path.
    pub fn seed(&self, node: u32) -> Option<u32> {
        match self.first.get(node as usize) {
            Some(&r) if r != NONE => Some(self.records[r as usize].root),
            _ => None,
        }
    }

    /// Every reached node with its hop count, sorted by (hops, node).
    pub fn reached(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = self
            .first
            .iter()
            .enumerate()
            .filter(|(_, r)| **r != NONE)
            .map(|(n, &r)| (self.records[r as usize].level, n as u32))
            .collect();
        out.sort_unstable();
        out.into_iter().map(|(h, n)| (n, h)).collect()
    }

    /// The evidence path of `node`, in money-flow order: from the seed (downstream)
    /// or to the seed (upstream). Its length is the hop count; empty for a seed or
    /// an unreached node.
    pub fn path(&self, node: u32) -> Vec<Step> {
        let mut steps = Vec::new();
        let Some(&start) = self.first.get(node as usize) else {
            return steps;
        };
        let mut r = start;
        while r != NONE {
            let rec = self.records[r as usize];
            if rec.pred == NONE {
                break;
            }
            let pred = self.records[rec.pred as usize];
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
            r = rec.pred;
        }
        if self.direction == Direction::Downstream {
            steps.reverse();
        }
        steps
    }

    /// Records kept (improvements made), for statistics.
    pub fn record_count(&self) -> usize {
        self.records.len()
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
    let n = graph.node_count();
    let adj = graph.adjacency(direction);
    let mut records: Vec<Record> = Vec::new();
    let mut first = vec![NONE; n];
    let mut current = vec![NONE; n];
    let mut arrival = vec![UNREACHED; n];

    let mut starts: Vec<Start> = starts.to_vec();
    starts.sort_unstable_by_key(|s| (s.node, s.since));
    starts.dedup_by_key(|s| s.node);

    // Level 0: the seeds. Each scans its root window of keys [lo, hi).
    let mut frontier: Vec<(u32, u32, u32)> = Vec::with_capacity(starts.len());
    for s in &starts {
        let rec = records.len() as u32;
        records.push(Record {
            node: s.node,
            key: direction.key(s.since),
            pred: NONE,
            root: s.node,
            level: 0,
        });
        first[s.node as usize] = rec;
        current[s.node as usize] = rec;
        let window = match direction {
            Direction::Downstream => {
                // Arriving at `since` is the same as the root window [since, inf).
                arrival[s.node as usize] = s.since;
                (s.since, UNREACHED)
            }
            // block >= since  <=>  key <= MAX_BLOCK - since.
            Direction::Upstream => (0, MAX_BLOCK - s.since + 1),
        };
        frontier.push((s.node, window.0, window.1));
    }

    let mut cand = vec![UNREACHED; n];
    let mut cand_rec = vec![NONE; n];
    let mut touched: Vec<u32> = Vec::new();
    let mut level = 0;
    while !frontier.is_empty() && level < max_hops {
        level += 1;
        for &(u, lo, hi) in &frontier {
            let from_rec = current[u as usize];
            let entries = adj.entries(u);
            let start = entries.partition_point(|&e| key_of(e) < lo);
            for &e in &entries[start..] {
                let k = key_of(e);
                if k >= hi {
                    break;
                }
                let v = node_of(e) as usize;
                if k < arrival[v] && k < cand[v] {
                    if cand[v] == UNREACHED {
                        touched.push(v as u32);
                    }
                    cand[v] = k;
                    cand_rec[v] = from_rec;
                }
            }
        }
        frontier.clear();
        touched.sort_unstable();
        for &v in &touched {
            let vi = v as usize;
            let old = arrival[vi];
            let new = cand[vi];
            let pred = cand_rec[vi];
            let rec = records.len() as u32;
            records.push(Record {
                node: v,
                key: new,
                pred,
                root: records[pred as usize].root,
                level,
            });
            arrival[vi] = new;
            current[vi] = rec;
            if first[vi] == NONE {
                first[vi] = rec;
            }
            if expandable[vi] {
                frontier.push((v, new, old));
            }
            cand[vi] = UNREACHED;
        }
        touched.clear();
    }
    Reach {
        direction,
        records,
        first,
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

    /// Builds a graph over `n` nodes; runs both the engine and the reference; checks
    /// they agree and returns the engine's hops.
    fn run(
        n: usize,
        edges: &[(u32, u32, u32)],
        direction: Direction,
        starts: &[Start],
        services: &[u32],
        max_hops: u32,
    ) -> (Vec<Option<u32>>, Reach) {
        let addrs: Vec<Address> = (0..n).map(|i| Address::with_last_byte(i as u8 + 1)).collect();
        let graph = Graph::from_edges(addrs, edges);
        let mut expandable = vec![true; n];
        for &s in services {
            expandable[s as usize] = false;
        }
        let reach = hops(&graph, direction, starts, &expandable, max_hops);
        let got: Vec<Option<u32>> = (0..n as u32).map(|v| reach.hops(v)).collect();
        let want = reference_hops(n, edges, direction, starts, &expandable, max_hops);
        assert_eq!(got, want, "engine and reference disagree");
        (got, reach)
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
                Step { from: 0, to: 1, block: 7 },
                Step { from: 1, to: 2, block: 7 },
                Step { from: 2, to: 3, block: 7 }
            ]
        );
        let (h, reach) = run(4, &edges, UP, &[seed(3)], &[], 10);
        assert_eq!(h, vec![Some(3), Some(2), Some(1), Some(0)]);
        assert_eq!(reach.path(0)[0], Step { from: 0, to: 1, block: 7 });
        assert_eq!(reach.path(0)[2], Step { from: 2, to: 3, block: 7 });
    }

    #[test]
    fn longer_earlier_path_beats_shorter_later_one_for_what_follows() {
        // S->A at 50 (1 hop, late). S->X at 1, X->A at 2 (2 hops, early).
        // A->B at 10: only the early, longer path carries taint to B.
        let edges = [(0, 1, 50), (0, 2, 1), (2, 1, 2), (1, 3, 10)];
        let (h, reach) = run(4, &edges, DOWN, &[seed(0)], &[], 10);
        assert_eq!(h, vec![Some(0), Some(1), Some(1), Some(3)]);
        // A still reports hop 1 with its one-transfer path...
        assert_eq!(reach.path(1), vec![Step { from: 0, to: 1, block: 50 }]);
        // ...and B's path goes the long, early way.
        assert_eq!(
            reach.path(3),
            vec![
                Step { from: 0, to: 2, block: 1 },
                Step { from: 2, to: 1, block: 2 },
                Step { from: 1, to: 3, block: 10 }
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
        let (h, _) = run(4, &edges, DOWN, &[Start { node: 0, since: 100 }], &[], 10);
        assert_eq!(h, vec![Some(0), None, Some(1), None]);
        // Upstream of seed T (since 100): X->T at 50 does not count, Y->T at 150 does,
        // and Z->Y at 120 (before 150) makes Z 2 hops upstream.
        let edges = [(1, 0, 50), (2, 0, 150), (3, 2, 120), (4, 1, 10)];
        let (h, _) = run(5, &edges, UP, &[Start { node: 0, since: 100 }], &[], 10);
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
        let starts = [Start { node: 0, since: 100 }, seed(1)];
        let (h, reach) = run(3, &edges, DOWN, &starts, &[], 10);
        assert_eq!(h, vec![Some(0), Some(0), Some(2)]);
        assert_eq!(reach.seed(2), Some(1));
    }
}
