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
//! Shape, for speed on large graphs (50 M transfers, 1000 seeds, 2 vCPUs:
//! 0.08–0.10 s per search, from 0.38–0.43 s with a log of records numbered after
//! each level):
//! - a node is reached once, so its record is numbered by the node itself: no
//!   log of records to number in order after each level, no lookup of the
//!   parent's record. Per node the search keeps one word (predecessor node and
//!   edge key) and its level, in zeroed memory fresh from the kernel (nothing to
//!   fill before the search);
//! - the frontier, the next frontier, the visited set and the expandable set are
//!   bitmaps (5 M nodes: 625 KB each, in cache), so bottom-up levels read them
//!   in order and top-down levels find the next frontier already sorted;
//! - every per-node word has one writer: bottom-up, threads take chunks of the
//!   node range; top-down, each thread reads all the frontier's edges but
//!   relaxes only the targets in its own 64-node blocks. No atomic
//!   read-modify-write, which would stall the memory accesses queued behind it.
//!
//! The parent kept for a node is deterministic, whatever the number of threads:
//! top-down, the smallest `(frontier node, key)` over the edges that reach it;
//! bottom-up, its first in-edge (by block) from the frontier.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::{NONE, Reach, Start, prefetch};
use crate::graph::{Adjacency, Direction, Graph, huge_zeroed, key_of, node_of};

/// Switch to bottom-up when frontier edges exceed unexplored edges / ALPHA.
const ALPHA: u64 = 14;
/// Switch back to top-down when the frontier shrinks below nodes / BETA.
const BETA: usize = 24;
/// Most threads a search uses.
const MAX_THREADS: usize = 8;
/// Levels with less work than this (edges top-down, nodes bottom-up) run on the
/// calling thread.
const PARALLEL_WORK: usize = 1 << 16;
/// Bitmap words a bottom-up worker takes at a time (64 nodes each).
const CHUNK_WORDS: usize = 1024;
/// Candidate edges gathered before a top-down worker relaxes them.
const GATHER: usize = 1 << 12;
/// How many candidates ahead a top-down worker prefetches.
const PREFETCH: usize = 32;

/// How a search is run: the same answer whatever these are.
#[derive(Debug, Clone, Copy)]
struct Plan {
    threads: usize,
    alpha: u64,
    beta: usize,
    parallel_work: usize,
}

/// Hops from `starts` in `direction`, ignoring time. `expandable` as for
/// [`super::hops`]; seeds always continue.
pub fn untimed_hops(
    graph: &Graph,
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
) -> Reach {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS);
    let plan = Plan {
        threads,
        alpha: ALPHA,
        beta: BETA,
        parallel_work: PARALLEL_WORK,
    };
    search(graph, direction, starts, expandable, max_hops, plan)
}

/// What every worker of a search shares.
struct Shared<'a> {
    forward: &'a Adjacency,
    reverse: &'a Adjacency,
    direction: Direction,
    other: Direction,
    /// Expandable nodes, as a bitmap.
    expand: &'a [u64],
    /// Per node: predecessor node << 32 | key of the edge in `direction`'s terms.
    link: &'a [AtomicU64],
    /// Per node: hops + 1, 0 when not reached (so that a fresh zeroed array
    /// needs no filling).
    level: &'a [AtomicU32],
    /// Nodes reached in earlier levels (bottom-up levels read and write it; a
    /// worker writes only the words of the nodes it owns).
    visited: &'a [AtomicU64],
    /// The frontier.
    frontier: &'a [AtomicU64],
    /// The next frontier: again, each worker writes its own words. Top-down
    /// workers set every node they reach; the level then moves them into
    /// `visited` and keeps the expandable ones.
    next: &'a [AtomicU64],
}

/// What one worker found in a level.
#[derive(Default)]
struct Found {
    /// How many nodes were reached.
    count: usize,
    /// How many of them are expandable (the next frontier).
    next_count: usize,
    /// Bottom-up: the sum of the in-degrees of the nodes still unvisited.
    unexplored: u64,
}

#[inline]
fn bit(bits: &[AtomicU64], v: u32) -> bool {
    bits[v as usize / 64].load(Relaxed) & (1 << (v % 64)) != 0
}

/// Sets bit `v` in a word that only the calling thread writes.
#[inline]
fn set_own(bits: &[AtomicU64], v: u32) {
    let w = &bits[v as usize / 64];
    w.store(w.load(Relaxed) | 1 << (v % 64), Relaxed);
}

// The vectors below change between `u64` and `AtomicU64` (and the same for 32
// bits) in place, so their allocations must have one layout. Sizes are equal
// everywhere, but `u64` is only 4-aligned on some 32-bit targets: there this fails
// to compile instead of freeing with the wrong layout.
const _: () = assert!(
    std::mem::align_of::<u64>() == std::mem::align_of::<AtomicU64>()
        && std::mem::align_of::<u32>() == std::mem::align_of::<AtomicU32>(),
    "the untimed search needs atomics aligned as their integers"
);

/// `n` zeroed atomic words for per-node state (see [`huge_zeroed`]).
fn zeroed_u64(n: usize) -> Vec<AtomicU64> {
    let mut v = std::mem::ManuallyDrop::new(huge_zeroed::<u64>(n));
    // SAFETY: `AtomicU64` has the size and bit validity of `u64` (documented) and
    // here its alignment (asserted above); the vector is handed over whole.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<AtomicU64>(), v.len(), v.capacity()) }
}

/// `n` zeroed atomic `u32`s for per-node state (see [`huge_zeroed`]).
fn zeroed_u32(n: usize) -> Vec<AtomicU32> {
    let mut v = std::mem::ManuallyDrop::new(huge_zeroed::<u32>(n));
    // SAFETY: as for `zeroed_u64`: `AtomicU32` has the layout of `u32`.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<AtomicU32>(), v.len(), v.capacity()) }
}

fn search(
    graph: &Graph,
    direction: Direction,
    starts: &[Start],
    expandable: &[bool],
    max_hops: u32,
    plan: Plan,
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
    let words = n.div_ceil(64);
    let bitmap = || -> Vec<AtomicU64> { (0..words).map(|_| AtomicU64::new(0)).collect() };
    let link = zeroed_u64(n);
    let level = zeroed_u32(n);
    let visited = bitmap();
    // Bits past the last node count as visited: bottom-up never looks at them.
    if !n.is_multiple_of(64) {
        visited[words - 1].store(!0 << (n % 64), Relaxed);
    }
    let mut frontier = bitmap();
    let mut next = bitmap();
    let expand: Vec<u64> = expandable
        .chunks(64)
        .map(|c| c.iter().rev().fold(0, |w, &e| w << 1 | u64::from(e)))
        .collect();

    let mut seeds: Vec<u32> = starts.iter().map(|s| s.node).collect();
    seeds.sort_unstable();
    seeds.dedup();
    for &s in &seeds {
        link[s as usize].store(u64::from(NONE) << 32, Relaxed);
        level[s as usize].store(1, Relaxed);
        set_own(&visited, s);
        set_own(&frontier, s);
    }
    let mut reached = seeds.len();
    let mut frontier_len = seeds.len();
    // Edges not yet explored: out-edges while top-down, and after a bottom-up
    // level the in-edges of the nodes still unvisited.
    let mut unexplored = graph.edge_count() as u64;
    let mut bottom_up = false;
    let mut depth = 0;
    while frontier_len > 0 && depth < max_hops {
        depth += 1;
        let level_start = std::time::Instant::now();
        if !bottom_up {
            match frontier_edges(&frontier, forward, unexplored, plan.alpha) {
                Some(edges) => unexplored -= edges,
                None => bottom_up = true,
            }
        } else if frontier_len < n / plan.beta {
            bottom_up = false;
        }
        let shared = Shared {
            forward,
            reverse,
            direction,
            other,
            expand: &expand,
            link: &link,
            level: &level,
            visited: &visited,
            frontier: &frontier,
            next: &next,
        };
        let found = if bottom_up {
            let found = bottom_up_level(&shared, depth, plan, n);
            unexplored = found.unexplored;
            found
        } else {
            let list = bits_to_list(&frontier, frontier_len);
            top_down_level(&shared, &list, depth, plan);
            settle(&visited, &next, &expand)
        };
        // The next frontier becomes the frontier; the old one is cleared for the
        // level after.
        std::mem::swap(&mut frontier, &mut next);
        next.iter_mut().for_each(|w| *w.get_mut() = 0);
        reached += found.count;
        frontier_len = found.next_count;
        tracing::debug!(target: "exposure::untimed", level = depth, unexplored, bottom_up, reached = found.count, next = frontier_len, elapsed = ?level_start.elapsed(), "level");
    }
    Reach::tree(direction, into_words(link), into_u32s(level), reached)
}

/// After a top-down level: what it reached (in `next`) is visited, and its
/// expandable part is the next frontier.
fn settle(visited: &[AtomicU64], next: &[AtomicU64], expand: &[u64]) -> Found {
    let mut found = Found::default();
    for ((seen, grow), &e) in visited.iter().zip(next).zip(expand) {
        let hit = grow.load(Relaxed);
        if hit != 0 {
            seen.store(seen.load(Relaxed) | hit, Relaxed);
            grow.store(hit & e, Relaxed);
            found.count += hit.count_ones() as usize;
            found.next_count += (hit & e).count_ones() as usize;
        }
    }
    found
}

/// The frontier's out-edges, if they stay within `1 / alpha` of the unexplored
/// edges left after them (Beamer's test for staying top-down); `None` as soon
/// as they do not, without counting the rest.
fn frontier_edges(
    frontier: &[AtomicU64],
    forward: &Adjacency,
    unexplored: u64,
    alpha: u64,
) -> Option<u64> {
    let mut edges = 0u64;
    for (w, word) in frontier.iter().enumerate() {
        let mut b = word.load(Relaxed);
        while b != 0 {
            edges += forward.degree((w * 64) as u32 + b.trailing_zeros()) as u64;
            b &= b - 1;
        }
        if edges.saturating_mul(alpha.saturating_add(1)) > unexplored {
            return None;
        }
    }
    Some(edges)
}

/// The nodes whose bits are set, in order.
fn bits_to_list(bits: &[AtomicU64], count: usize) -> Vec<u32> {
    let mut list = Vec::with_capacity(count);
    for (w, word) in bits.iter().enumerate() {
        let mut b = word.load(Relaxed);
        while b != 0 {
            list.push((w * 64) as u32 + b.trailing_zeros());
            b &= b - 1;
        }
    }
    list
}

/// Runs `work(t)` for `t` in `0..parts`, on as many threads (the calling thread
/// among them), and returns what each gave.
fn on_threads<T: Send>(parts: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if parts <= 1 {
        return vec![work(0)];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (1..parts).map(|t| scope.spawn(move || work(t))).collect();
        let mut found = vec![work(0)];
        found.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("search worker")),
        );
        found
    })
}

fn merge(parts: Vec<Found>) -> Found {
    let mut all = Found::default();
    for f in parts {
        all.count += f.count;
        all.next_count += f.next_count;
        all.unexplored += f.unexplored;
    }
    all
}

/// One bottom-up level: every node not yet visited looks through its reverse
/// edges for one from the frontier and takes the first. Threads take chunks of
/// the node range from a shared counter; a chunk's words of `visited` and `next`
/// belong to its thread.
fn bottom_up_level(s: &Shared<'_>, depth: u32, plan: Plan, n: usize) -> Found {
    let words = s.visited.len();
    let chunks = words.div_ceil(CHUNK_WORDS);
    let parts = if n >= plan.parallel_work {
        plan.threads.min(chunks)
    } else {
        1
    };
    let counter = AtomicUsize::new(0);
    merge(on_threads(parts, |_| {
        let mut found = Found::default();
        loop {
            let c = counter.fetch_add(1, Relaxed);
            if c >= chunks {
                break;
            }
            let lo = c * CHUNK_WORDS;
            let hi = (lo + CHUNK_WORDS).min(words);
            for w in lo..hi {
                let seen = s.visited[w].load(Relaxed);
                let mut todo = !seen;
                let mut hit = 0u64;
                while todo != 0 {
                    let b = todo.trailing_zeros();
                    todo &= todo - 1;
                    let v = (w * 64) as u32 + b;
                    let entries = s.reverse.entries(v);
                    match entries.iter().find(|&&e| bit(s.frontier, node_of(e))) {
                        Some(&e) => {
                            let key = s.direction.key(s.other.block(key_of(e)));
                            s.link[v as usize]
                                .store(u64::from(node_of(e)) << 32 | u64::from(key), Relaxed);
                            s.level[v as usize].store(depth + 1, Relaxed);
                            hit |= 1 << b;
                        }
                        None => found.unexplored += entries.len() as u64,
                    }
                }
                if hit != 0 {
                    let grow = hit & s.expand[w];
                    s.visited[w].store(seen | hit, Relaxed);
                    s.next[w].store(grow, Relaxed);
                    found.count += hit.count_ones() as usize;
                    found.next_count += grow.count_ones() as usize;
                }
            }
        }
        found
    }))
}

/// One top-down level: the frontier's edges relax their targets, and every
/// target reached for the first time is set in `next`. Thread `t` of `parts`
/// owns the targets in every `parts`-th block of 64 nodes (one bitmap word): it
/// reads all the frontier's edges (sequential reads) but relaxes only those, with
/// plain loads and stores, so nothing waits on an atomic read-modify-write. A
/// target not reached before takes the smallest `(node << 32 | key)` over the
/// edges that reach it, in any order.
fn top_down_level(s: &Shared<'_>, list: &[u32], depth: u32, plan: Plan) {
    // Threads pay off past `parallel_work` edges; count no further.
    let mut edges = 0;
    let parallel = plan.parallel_work == 0
        || list.iter().any(|&u| {
            edges += s.forward.degree(u);
            edges >= plan.parallel_work
        });
    let parts = if parallel { plan.threads } else { 1 };
    on_threads(parts, |t| {
        let owns = |v: u32| {
            let w = v as usize / 64;
            if parts.is_power_of_two() {
                w & (parts - 1) == t
            } else {
                w % parts == t
            }
        };
        let mut pending: Vec<(u64, u32)> = Vec::with_capacity(GATHER);
        for &u in list {
            for &e in s.forward.entries(u) {
                if owns(node_of(e)) {
                    pending.push((e, u));
                    if pending.len() == GATHER {
                        relax(s, &mut pending, depth);
                    }
                }
            }
        }
        relax(s, &mut pending, depth);
    });
}

/// Relaxes gathered `(entry, from)` candidates, whose targets this thread owns,
/// prefetching targets ahead.
fn relax(s: &Shared<'_>, pending: &mut Vec<(u64, u32)>, depth: u32) {
    let here = depth + 1;
    for (j, &(e, u)) in pending.iter().enumerate() {
        if let Some(&(ahead, _)) = pending.get(j + PREFETCH) {
            let a = node_of(ahead) as usize;
            prefetch(&s.level[a]);
            prefetch(&s.link[a]);
        }
        let v = node_of(e);
        let candidate = u64::from(u) << 32 | u64::from(key_of(e));
        let level = s.level[v as usize].load(Relaxed);
        if level == 0 {
            s.level[v as usize].store(here, Relaxed);
            s.link[v as usize].store(candidate, Relaxed);
            set_own(s.next, v);
        } else if level == here && candidate < s.link[v as usize].load(Relaxed) {
            s.link[v as usize].store(candidate, Relaxed);
        }
    }
    pending.clear();
}

/// The words of an atomic vector, without copying.
fn into_words(v: Vec<AtomicU64>) -> Vec<u64> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: `AtomicU64` has the same size and bit validity as `u64` (documented)
    // and here its alignment (asserted above), and the vector is owned here and no
    // longer shared.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<u64>(), v.len(), v.capacity()) }
}

/// The values of an atomic vector, without copying.
fn into_u32s(v: Vec<AtomicU32>) -> Vec<u32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: as for `into_words`: `AtomicU32` has the layout of `u32`.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<u32>(), v.len(), v.capacity()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    /// Plain BFS over an edge list, the obvious way.
    fn reference(
        n: usize,
        edges: &[(u32, u32, u32)],
        direction: Direction,
        seeds: &[u32],
        expandable: &[bool],
        max_hops: u32,
    ) -> Vec<Option<u32>> {
        let mut hops = vec![None; n];
        let mut frontier: Vec<u32> = seeds.to_vec();
        for &s in seeds {
            hops[s as usize] = Some(0);
        }
        for level in 1..=max_hops {
            let mut next = Vec::new();
            for &(from, to, _) in edges {
                let (u, v) = match direction {
                    Direction::Downstream => (from, to),
                    Direction::Upstream => (to, from),
                };
                if hops[u as usize] == Some(level - 1)
                    && frontier.contains(&u)
                    && hops[v as usize].is_none()
                {
                    hops[v as usize] = Some(level);
                    if expandable[v as usize] {
                        next.push(v);
                    }
                }
            }
            frontier = next;
        }
        hops
    }

    /// Every plan (top-down only, bottom-up only, switching) on 1 to 3 threads
    /// gives the reference's hops and valid paths, and a given plan gives the same
    /// paths on any number of threads.
    #[test]
    fn every_plan_and_thread_count_agree_with_plain_bfs() {
        let mut rng = fastrand::Rng::with_seed(7);
        for case in 0..60 {
            // Up to 300 nodes: several bitmap words, a partial last one.
            let n = rng.usize(1..300);
            let m = rng.usize(0..n * 4);
            let pick = |rng: &mut fastrand::Rng| {
                let u = rng.f64();
                ((n as f64 * u * u) as u32).min(n as u32 - 1)
            };
            let edges: Vec<(u32, u32, u32)> = (0..m)
                .map(|_| (pick(&mut rng), pick(&mut rng), rng.u32(0..50)))
                .collect();
            let addrs: Vec<Address> = (0..n)
                .map(|i| Address::left_padding_from(&(i as u64 + 1).to_be_bytes()))
                .collect();
            let graph = Graph::from_edges(addrs.clone(), &edges);
            let internal: Vec<u32> = addrs.iter().map(|a| graph.node(a).unwrap()).collect();
            let seeds: Vec<u32> = (0..rng.usize(1..4)).map(|_| rng.u32(0..n as u32)).collect();
            let starts: Vec<Start> = seeds
                .iter()
                .map(|&s| Start {
                    node: internal[s as usize],
                    since: 0,
                })
                .collect();
            let ext_expandable: Vec<bool> = (0..n).map(|_| rng.u8(0..8) != 0).collect();
            let mut expandable = vec![true; n];
            for v in 0..n {
                expandable[internal[v] as usize] = ext_expandable[v];
            }
            let max_hops = if case % 5 == 0 { 2 } else { 50 };
            for direction in [Direction::Downstream, Direction::Upstream] {
                let want = reference(n, &edges, direction, &seeds, &ext_expandable, max_hops);
                let plans = [
                    (0, usize::MAX),        // top-down only
                    (u64::MAX, usize::MAX), // bottom-up from level 1 on
                    (ALPHA, BETA),
                    (2, 2),
                ];
                for (alpha, beta) in plans {
                    let mut paths_one: Option<Vec<Vec<crate::exposure::Step>>> = None;
                    for threads in 1..=3 {
                        let plan = Plan {
                            threads,
                            alpha,
                            beta,
                            parallel_work: 0,
                        };
                        let reach = search(&graph, direction, &starts, &expandable, max_hops, plan);
                        let got: Vec<Option<u32>> =
                            (0..n).map(|v| reach.hops(internal[v])).collect();
                        assert_eq!(
                            got, want,
                            "case {case} {direction:?} {alpha} {beta} {threads}"
                        );
                        assert_eq!(reach.reached_count(), want.iter().flatten().count());
                        let paths: Vec<_> = (0..n as u32).map(|v| reach.path(v)).collect();
                        for (v, path) in paths.iter().enumerate() {
                            let Some(h) = reach.hops(v as u32) else {
                                continue;
                            };
                            assert_eq!(path.len() as u32, h);
                            for s in path {
                                let e =
                                    (graph.external_id(s.from), graph.external_id(s.to), s.block);
                                assert!(edges.contains(&e), "{e:?} is no transfer");
                            }
                            for w in path.windows(2) {
                                assert_eq!(w[0].to, w[1].from);
                            }
                            let seed = reach.seed(v as u32).unwrap();
                            assert!(starts.iter().any(|s| s.node == seed));
                        }
                        match &paths_one {
                            None => paths_one = Some(paths),
                            Some(one) => assert_eq!(one, &paths, "paths depend on threads"),
                        }
                    }
                }
            }
        }
    }
}
