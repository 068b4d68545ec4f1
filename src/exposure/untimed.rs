//! Untimed hops: plain multi-source BFS that ignores block order and `since`.
//!
//! This is the view most tools give (and what a quick "is it anywhere near?" asks):
//! it over-reports, since funds are assumed to flow backwards in time too. It is
//! here for comparison with peers and as an upper bound of reach.
//!
//! Algorithm: direction-optimizing BFS (Beamer, Asanović, Patterson, SC 2012). A
//! level is expanded *top-down* (scan the frontier's edges) while the frontier is
//! small, and *bottom-up* (every unvisited node scans its reverse edges for a
//! parent in the frontier, stopping at the first) once the frontier's edges
//! outnumber a fraction of the unexplored ones. Services that are not seeds are
//! reached but never enter the frontier. O(E) per search, far less in practice on
//! power-law graphs, where bottom-up levels stop early.
//!
//! The parent kept for a node is the first one found: the smallest frontier node
//! top-down, the first in-edge by block bottom-up; both are deterministic.

use super::{NONE, Reach, Record, Start};
use crate::graph::{Direction, Graph, key_of, node_of};

/// What one bottom-up worker found: `(node, key, parent record)` in node order, and
/// the sum of the found nodes' degrees.
type Found = (Vec<(u32, u32, u32)>, u64);

/// Switch to bottom-up when frontier edges exceed unexplored edges / ALPHA.
const ALPHA: u64 = 14;
/// Switch back to top-down when the frontier shrinks below nodes / BETA.
const BETA: usize = 24;

/// Hops from `starts` in `direction`, ignoring time. `expandable` as for
/// [`super::hops`]; seeds always continue.
pub fn untimed_hops(
    graph: &Graph,
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
) -> Reach {
    let n = graph.node_count();
    let other = match direction {
        Direction::Downstream => Direction::Upstream,
        Direction::Upstream => Direction::Downstream,
    };
    let forward = graph.adjacency(direction);
    // Records keep keys in `direction`'s terms, whichever adjacency found them, so
    // that `Reach::path` reads them as for a timed search.
    let reverse = graph.adjacency(other);
    // At most one record per node: reserve once, no reallocation on big levels.
    let mut records: Vec<Record> = Vec::with_capacity(n);
    let mut first = vec![NONE; n];
    let mut seeds: Vec<u32> = starts.iter().map(|s| s.node).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut is_seed = vec![false; n];
    let mut frontier: Vec<u32> = Vec::with_capacity(seeds.len());
    for &s in &seeds {
        first[s as usize] = records.len() as u32;
        records.push(Record {
            node: s,
            key: 0,
            pred: NONE,
            level: 0,
        });
        is_seed[s as usize] = true;
        frontier.push(s);
    }
    let words = n.div_ceil(64);
    let mut in_frontier = vec![0u64; words];
    let mut unexplored_edges: u64 = (0..n as u32)
        .filter(|&v| first[v as usize] == NONE)
        .map(|v| forward.degree(v) as u64)
        .sum();
    let mut bottom_up = false;
    let mut level = 0;
    while !frontier.is_empty() && level < max_hops {
        level += 1;
        let frontier_edges: u64 = frontier.iter().map(|&u| forward.degree(u) as u64).sum();
        if !bottom_up && frontier_edges > unexplored_edges / ALPHA {
            bottom_up = true;
        } else if bottom_up && frontier.len() < n / BETA {
            bottom_up = false;
        }
        let mut next: Vec<u32> = Vec::new();
        let mut found_degrees = 0u64;
        let level_start = std::time::Instant::now();
        if bottom_up {
            for &u in &frontier {
                in_frontier[u as usize / 64] |= 1 << (u % 64);
            }
            // Each thread scans a range of nodes and lists what it found; the
            // records are then numbered in node order, as one thread would.
            let threads = std::thread::available_parallelism()
                .map(|t| t.get())
                .unwrap_or(1)
                .clamp(1, 8);
            let chunk = n.div_ceil(threads).max(1);
            let (first_ro, in_frontier_ro) = (&first, &in_frontier);
            let found: Vec<Found> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..n)
                    .step_by(chunk)
                    .map(|lo| {
                        let hi = (lo + chunk).min(n);
                        scope.spawn(move || {
                            let mut out = Vec::new();
                            let mut degrees = 0u64;
                            for v in lo as u32..hi as u32 {
                                if first_ro[v as usize] != NONE {
                                    continue;
                                }
                                for &e in reverse.entries(v) {
                                    let u = node_of(e);
                                    if in_frontier_ro[u as usize / 64] & (1 << (u % 64)) != 0 {
                                        let key = direction.key(other.block(key_of(e)));
                                        out.push((v, key, first_ro[u as usize]));
                                        degrees += forward.degree(v) as u64;
                                        break;
                                    }
                                }
                            }
                            (out, degrees)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("bottom-up worker"))
                    .collect()
            });
            let total: usize = found.iter().map(|(f, _)| f.len()).sum();
            next.reserve(total);
            for (part, degrees) in found {
                found_degrees += degrees;
                for (v, key, pred) in part {
                    first[v as usize] = records.len() as u32;
                    records.push(Record {
                        node: v,
                        key,
                        pred,
                        level,
                    });
                    if expandable[v as usize] || is_seed[v as usize] {
                        next.push(v);
                    }
                }
            }
            in_frontier.iter_mut().for_each(|w| *w = 0);
        } else {
            for &u in &frontier {
                let pred = first[u as usize];
                for &e in forward.entries(u) {
                    let v = node_of(e);
                    if first[v as usize] == NONE {
                        first[v as usize] = records.len() as u32;
                        records.push(Record {
                            node: v,
                            key: key_of(e),
                            pred,
                            level,
                        });
                        found_degrees += forward.degree(v) as u64;
                        if expandable[v as usize] || is_seed[v as usize] {
                            next.push(v);
                        }
                    }
                }
            }
            next.sort_unstable();
        }
        unexplored_edges = unexplored_edges.saturating_sub(found_degrees);
        tracing::debug!(target: "exposure::untimed", level, bottom_up, frontier = frontier.len(), next = next.len(), elapsed = ?level_start.elapsed(), "level");
        frontier = next;
    }
    Reach {
        direction,
        records,
        first,
    }
}
