//! The benchmark: a synthetic power-law transfer graph that anyone can regenerate
//! from a seed, and the measurements the README reports (CSV import rate, graph
//! build, temporal hops per direction, resident memory per transfer).
//!
//! The generator draws each endpoint as `N * u^3` for uniform `u`, which puts a
//! heavy tail of edges on a few hub ids, then maps ids through a random permutation
//! so hubs are scattered; blocks are uniform over 20 M blocks.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy_primitives::Address;

use crate::exposure::{Start, hops, untimed_hops};
use crate::graph::{Direction, Graph};

/// Parameters of a synthetic graph.
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    /// Number of transfers.
    pub transfers: usize,
    /// Number of addresses.
    pub addresses: usize,
    /// Number of seeds.
    pub seeds: usize,
    /// Random seed.
    pub rng_seed: u64,
    /// Assets the haircut's transfers are spread over: with 2, the first has 90 %
    /// of them and the second 10 %; with more, asset `a` has a share in proportion
    /// to `1 / (a + 1)` (Zipf's law), as on a chain with many tokens.
    pub assets: u32,
}

/// Highest block of the synthetic chain.
pub const SYNTHETIC_BLOCKS: u32 = 20_000_000;

/// The address of synthetic node `i`: deterministic and distinct.
pub fn synthetic_address(i: u32) -> Address {
    let mut bytes = [0u8; 20];
    let h = (u64::from(i) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    bytes[..8].copy_from_slice(&h.to_be_bytes());
    bytes[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

impl Synthetic {
    /// The edges `(from, to, block)`.
    pub fn edges(&self) -> Vec<(u32, u32, u32)> {
        let mut rng = fastrand::Rng::with_seed(self.rng_seed);
        let n = self.addresses as u32;
        let mut perm: Vec<u32> = (0..n).collect();
        rng.shuffle(&mut perm);
        let pick = |rng: &mut fastrand::Rng| {
            let u = rng.f64();
            let i = ((f64::from(n) * u * u * u) as u32).min(n - 1);
            perm[i as usize]
        };
        (0..self.transfers)
            .map(|_| {
                let from = pick(&mut rng);
                let to = pick(&mut rng);
                (from, to, rng.u32(1..=SYNTHETIC_BLOCKS))
            })
            .collect()
    }

    /// The seeds: uniformly chosen nodes, `since` 0 for most and a random block for
    /// one in ten.
    pub fn starts(&self) -> Vec<Start> {
        let mut rng = fastrand::Rng::with_seed(self.rng_seed ^ 0x5EED);
        (0..self.seeds)
            .map(|i| Start {
                node: rng.u32(0..self.addresses as u32),
                since: if i % 10 == 0 {
                    rng.u32(0..SYNTHETIC_BLOCKS)
                } else {
                    0
                },
            })
            .collect()
    }
}

/// CPU time (user and system, all threads) this process has used, in seconds. On
/// a shared machine it says what a step cost when wall time says how long it
/// waited too.
pub fn cpu_seconds() -> f64 {
    let usage = rusage(libc::RUSAGE_SELF);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Peak resident memory, in bytes, of the largest child process waited for.
pub fn children_peak_bytes() -> u64 {
    rusage(libc::RUSAGE_CHILDREN).ru_maxrss as u64 * 1024
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    }
}

/// Resident set size of this process in bytes (Linux), if known.
pub fn resident_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// A hop search, temporal or untimed.
type Search = fn(&Graph, Direction, &[Start], &[bool], u32) -> crate::exposure::Reach;

/// Runs `f` `runs` times: the best wall time, the CPU time of that run, and the
/// last result. A run's time includes building its result, not freeing it.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, f64, T) {
    let mut best = (Duration::MAX, 0.0);
    let mut result = None;
    for _ in 0..runs {
        drop(result.take());
        let (t, cpu) = (Instant::now(), cpu_seconds());
        result = Some(f());
        let (time, cpu) = (t.elapsed(), cpu_seconds() - cpu);
        if time < best.0 {
            best = (time, cpu);
        }
    }
    (best.0, best.1, result.expect("at least one run"))
}

/// Runs the graph benchmark and writes a report to `out`. With `peers`, the same
/// untimed hops are also computed by petgraph's `Graph` and `Csr` BFS, checked
/// equal, and timed.
pub fn run_graph(
    params: Synthetic,
    max_hops: u32,
    peers: bool,
    figures: &mut Figures,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    figures.set("transfers", params.transfers as f64);
    figures.set("addresses", params.addresses as f64);
    figures.set("seeds", params.seeds as f64);
    let rss0 = resident_bytes().unwrap_or(0);
    let t = Instant::now();
    let edges = params.edges();
    let addresses: Vec<Address> = (0..params.addresses as u32)
        .map(synthetic_address)
        .collect();
    writeln!(
        out,
        "generated {} transfers over {} addresses in {:.2?}",
        edges.len(),
        params.addresses,
        t.elapsed()
    )?;
    figures.peak("generate", params.transfers, out)?;
    let t = Instant::now();
    let graph = Graph::from_edges(addresses, &edges);
    let build = t.elapsed();
    drop(edges);
    figures.peak("graph_build", params.transfers, out)?;
    let rss_graph = resident_bytes().unwrap_or(0).saturating_sub(rss0);
    let per = |b: u64| b as f64 / params.transfers as f64;
    figures.set("graph_build_s", build.as_secs_f64());
    let graph = {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bench.graph");
        let t = Instant::now();
        graph.write_snapshot(&path, "bench")?;
        let write = t.elapsed();
        drop(graph);
        let t = Instant::now();
        let graph = Graph::read_snapshot(&path, "bench")?
            .ok_or_else(|| std::io::Error::other("snapshot just written was not read back"))?;
        let read = t.elapsed();
        figures.set("snapshot_write_s", write.as_secs_f64());
        figures.set("snapshot_load_s", read.as_secs_f64());
        writeln!(
            out,
            "graph snapshot: written in {:.2} s, loaded in {:.2} s",
            write.as_secs_f64(),
            read.as_secs_f64()
        )?;
        graph
    };
    figures.peak("snapshot", params.transfers, out)?;
    figures.set("graph_bytes_per_transfer", per(graph.heap_bytes() as u64));
    figures.set("graph_rss_bytes_per_transfer", per(rss_graph));
    writeln!(
        out,
        "graph built in {:.2?}: {} bytes held ({:.1} B/transfer), RSS +{} MiB ({:.1} B/transfer)",
        build,
        graph.heap_bytes(),
        per(graph.heap_bytes() as u64),
        rss_graph >> 20,
        per(rss_graph)
    )?;
    let untimed_down = time_searches(params, &graph, max_hops, figures, out)?;
    let rss_peak = resident_bytes().unwrap_or(0).saturating_sub(rss0);
    figures.set("search_rss_bytes_per_transfer", per(rss_peak));
    writeln!(
        out,
        "RSS after searches +{} MiB ({:.1} B/transfer)",
        rss_peak >> 20,
        per(rss_peak)
    )?;
    drop(graph);
    run_haircut(params, 1, figures, out)?;
    if peers {
        // The generator is deterministic: the same edges again.
        petgraph_peers(
            params,
            &params.edges(),
            &untimed_down,
            max_hops,
            figures,
            out,
        )?;
    }
    Ok(())
}

/// The haircut's input over the synthetic transfers: the flows in chain order,
/// with amounts drawn log-uniformly from 1 to 10^19 base units and one transfer
/// in ten in a second asset (with `params.assets` 2), and the seeds, numbered as
/// the graph numbers the nodes that `check`, `trace` and `score` give the haircut
/// (by decreasing degree). Every address is expandable.
pub struct HaircutInput {
    /// The transfers, in chain order.
    pub flows: Vec<crate::exposure::Flow>,
    /// The seeds.
    pub starts: Vec<Start>,
    /// Whether each address is expanded (all are).
    pub expandable: Vec<bool>,
}

impl HaircutInput {
    /// Generates the input (deterministic in `params`).
    pub fn new(params: Synthetic) -> Self {
        use crate::exposure::Flow;
        let mut edges = params.edges();
        edges.sort_by_key(|e| e.2);
        let (_, node) = crate::graph::numbering_by_degree(params.addresses, &edges);
        let mut rng = fastrand::Rng::with_seed(params.rng_seed ^ 0xA3F0);
        let zipf: Vec<f64> = (1..=params.assets)
            .scan(0.0, |sum, a| {
                *sum += 1.0 / f64::from(a);
                Some(*sum)
            })
            .collect();
        let asset = |rng: &mut fastrand::Rng| match params.assets {
            0 | 1 => 0,
            2 => u32::from(rng.u8(0..10) == 0),
            _ => {
                let u = rng.f64() * zipf[zipf.len() - 1];
                zipf.partition_point(|&sum| sum <= u) as u32
            }
        };
        let flows: Vec<Flow> = edges
            .iter()
            .map(|&(from, to, block)| Flow {
                block,
                from: node[from as usize],
                to: node[to as usize],
                asset: asset(&mut rng),
                amount: u128::from(10f64.powf(rng.f64() * 19.0) as u64),
            })
            .collect();
        drop(edges);
        let mut starts = params.starts();
        for s in &mut starts {
            s.node = node[s.node as usize];
        }
        HaircutInput {
            flows,
            starts,
            expandable: vec![true; params.addresses],
        }
    }

    /// The haircut over this input.
    pub fn haircut(&self) -> crate::exposure::Haircut<'_> {
        crate::exposure::Haircut::new(self.expandable.len(), &self.starts, &self.expandable)
    }
}

/// The haircut over [`HaircutInput`]. Times the haircut pass alone (generation
/// and sorting excluded), `passes` times in this process: the first one is the
/// figure of a command that runs it once (its memory is fresh), the later ones
/// show what that costs. `benches/haircut.rs` times the same pass with
/// criterion, whose warm-up takes the first pass.
pub fn run_haircut(
    params: Synthetic,
    passes: u32,
    figures: &mut Figures,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let input = HaircutInput::new(params);
    let (flows, starts) = (&input.flows, &input.starts);
    let haircut = input.haircut();
    let timed = || {
        let t = Instant::now();
        let cpu = cpu_seconds();
        let result = haircut.run(flows);
        (result, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
    };
    let (result, time, cpu) = timed();
    figures.peak("haircut", params.transfers, out)?;
    let tainted = result
        .nodes()
        .into_iter()
        .filter(|&n| result.share(n) > 0.0)
        .count();
    drop(result);
    figures.set("haircut_s", time);
    figures.set("haircut_cpu_s", cpu);
    writeln!(
        out,
        "haircut       {} transfers, {} seeds: {:>8.3} s ({:.3} s CPU), {} addresses with tainted input",
        flows.len(),
        starts.len(),
        time,
        cpu,
        tainted
    )?;
    for pass in 2..=passes {
        // The result is dropped at once, so that the next pass can reuse its memory.
        let (_, time, cpu) = timed();
        let fastest = figures.get("haircut_later_s").map_or(time, |t| t.min(time));
        figures.set("haircut_later_s", fastest);
        writeln!(
            out,
            "haircut pass {pass} in the same process:  {time:>8.3} s ({cpu:.3} s CPU)"
        )?;
    }
    Ok(())
}

/// Untimed downstream hops with petgraph, from a virtual source joined to every
/// seed; checks the answers equal `want` (per synthetic address) and prints times.
fn petgraph_peers(
    params: Synthetic,
    edges: &[(u32, u32, u32)],
    want: &[Option<u32>],
    max_hops: u32,
    figures: &mut Figures,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use petgraph::visit::{Bfs, IntoNeighbors};
    let n = params.addresses;
    let source = n as u32;
    let mut seeds: Vec<u32> = params.starts().iter().map(|s| s.node).collect();
    seeds.sort_unstable();
    seeds.dedup();
    // petgraph's `Bfs` gives the visiting order, not distances: each visited node
    // sets the distance of its unvisited neighbours (a second pass over its edges).
    let fresh = || {
        let mut dist = vec![u32::MAX; n + 1];
        dist[source as usize] = 0;
        dist
    };
    let check = |name: &str, dist: &[u32]| -> std::io::Result<()> {
        let got: Vec<Option<u32>> = dist[..n]
            .iter()
            .map(|&d| (d != u32::MAX).then(|| d - 1).filter(|&h| h <= max_hops))
            .collect();
        if got != want {
            return Err(std::io::Error::other(format!(
                "{name} disagrees with hoptrace's untimed hops"
            )));
        }
        Ok(())
    };

    let t = Instant::now();
    let mut g: petgraph::graph::DiGraph<(), (), u32> =
        petgraph::graph::DiGraph::with_capacity(n + 1, edges.len() + seeds.len());
    for _ in 0..=n {
        g.add_node(());
    }
    for &(from, to, _) in edges {
        g.add_edge(from.into(), to.into(), ());
    }
    for &s in &seeds {
        g.add_edge(source.into(), s.into(), ());
    }
    let build = t.elapsed();
    let t = Instant::now();
    let mut bfs = Bfs::new(&g, source.into());
    let mut dist = fresh();
    while let Some(x) = bfs.next(&g) {
        let dx = dist[x.index()];
        for y in g.neighbors(x) {
            if dist[y.index()] == u32::MAX {
                dist[y.index()] = dx + 1;
            }
        }
    }
    let time = t.elapsed();
    check("petgraph::Graph", &dist)?;
    figures.set("petgraph_graph_bfs_s", time.as_secs_f64());
    writeln!(
        out,
        "petgraph::Graph BFS downstream (untimed, same answer): {:>8.3} s (build {:.1} s)",
        time.as_secs_f64(),
        build.as_secs_f64()
    )?;
    drop(g);

    let t = Instant::now();
    let mut sorted: Vec<(u32, u32)> = edges.iter().map(|&(f, to, _)| (f, to)).collect();
    sorted.extend(seeds.iter().map(|&s| (source, s)));
    sorted.sort_unstable();
    // `Csr` takes no parallel edges: keep one per pair (BFS does not need more).
    sorted.dedup();
    let csr: petgraph::csr::Csr<(), (), petgraph::Directed, u32> =
        petgraph::csr::Csr::from_sorted_edges(&sorted)
            .map_err(|_| std::io::Error::other("csr edges not sorted"))?;
    drop(sorted);
    let build = t.elapsed();
    let t = Instant::now();
    let mut bfs = Bfs::new(&csr, source);
    let mut dist = fresh();
    while let Some(x) = bfs.next(&csr) {
        let dx = dist[x as usize];
        for y in (&csr).neighbors(x) {
            if dist[y as usize] == u32::MAX {
                dist[y as usize] = dx + 1;
            }
        }
    }
    let time = t.elapsed();
    check("petgraph::csr::Csr", &dist)?;
    figures.set("petgraph_csr_bfs_s", time.as_secs_f64());
    writeln!(
        out,
        "petgraph::csr::Csr BFS downstream (untimed, same answer): {:>8.3} s (build {:.1} s)",
        time.as_secs_f64(),
        build.as_secs_f64()
    )?;
    Ok(())
}

/// Named figures of one benchmark run, written as JSON.
#[derive(Debug, Default, serde::Serialize)]
pub struct Figures(std::collections::BTreeMap<String, f64>);

impl Figures {
    /// Records a figure.
    pub fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    /// A recorded figure.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    /// Records the peak resident memory since the last call (or the start) as
    /// `<step>_peak_rss_mib` and, per transfer, `<step>_peak_rss_bytes_per_transfer`,
    /// prints it, and starts a new peak. Linux only (the peak is the kernel's
    /// `VmHWM`, reset through `/proc/self/clear_refs`); elsewhere nothing.
    pub fn peak(
        &mut self,
        step: &str,
        transfers: usize,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let Some(peak) = status_bytes("VmHWM:") else {
            return Ok(());
        };
        let per = peak as f64 / transfers.max(1) as f64;
        self.set(&format!("{step}_peak_rss_mib"), (peak >> 20) as f64);
        self.set(&format!("{step}_peak_rss_bytes_per_transfer"), per);
        writeln!(
            out,
            "  peak RSS during {step}: {} MiB ({per:.1} B/transfer)",
            peak >> 20
        )?;
        // Writing 5 resets the peak to the current size (Linux 4.0 and later).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Ok(())
    }
}

/// A `/proc/self/status` field given in kB, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes a label file (hoptrace CSV) naming `params`' seeds as sanctioned.
pub fn write_labels_csv(params: Synthetic, path: &Path) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "address,category,name,source")?;
    for s in params.starts() {
        writeln!(
            w,
            "{},sanctioned,synthetic seed {},bench",
            crate::transfer::lower_hex(&synthetic_address(s.node)),
            s.node
        )?;
    }
    w.flush()
}

/// Writes a wallet list (`address` column) of `count` addresses of `params`'
/// graph, drawn uniformly (with repeats when `count` exceeds the addresses).
pub fn write_wallets_csv(params: Synthetic, count: usize, path: &Path) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = fastrand::Rng::with_seed(params.rng_seed ^ 0x3A11);
    writeln!(w, "address")?;
    for _ in 0..count {
        let id = rng.u32(0..params.addresses as u32);
        writeln!(w, "{}", crate::transfer::lower_hex(&synthetic_address(id)))?;
    }
    w.flush()
}

/// Writes what the Python peers (networkx, igraph) need to compute the same
/// untimed downstream hops, and hoptrace's own answer and time on that graph:
/// `edges.csv` (`from,to`), `seeds.csv` (`node`), `hoptrace_hops.csv`
/// (`node,hops`, reached nodes only), in synthetic ids.
pub fn export_for_peers(
    params: Synthetic,
    max_hops: u32,
    dir: &Path,
    figures: &mut Figures,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let edges = params.edges();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("edges.csv"))?);
    writeln!(w, "from,to")?;
    for &(f, t, _) in &edges {
        writeln!(w, "{f},{t}")?;
    }
    w.flush()?;
    let mut seeds: Vec<u32> = params.starts().iter().map(|s| s.node).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("seeds.csv"))?);
    writeln!(w, "node")?;
    for s in &seeds {
        writeln!(w, "{s}")?;
    }
    w.flush()?;
    let addresses: Vec<Address> = (0..params.addresses as u32)
        .map(synthetic_address)
        .collect();
    let graph = Graph::from_edges(addresses, &edges);
    let starts: Vec<Start> = seeds
        .iter()
        .filter_map(|&s| {
            graph
                .node(&synthetic_address(s))
                .map(|node| Start { node, since: 0 })
        })
        .collect();
    let expandable = vec![true; graph.node_count()];
    let (time, _, reach) = best_of(3, || {
        untimed_hops(
            &graph,
            Direction::Downstream,
            &starts,
            &expandable,
            max_hops,
        )
    });
    figures.set("peers_edges", edges.len() as f64);
    figures.set("peers_hoptrace_untimed_s", time.as_secs_f64());
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("hoptrace_hops.csv"))?);
    writeln!(w, "node,hops")?;
    for i in 0..params.addresses as u32 {
        if let Some(h) = graph
            .node(&synthetic_address(i))
            .and_then(|n| reach.hops(n))
        {
            writeln!(w, "{i},{h}")?;
        }
    }
    w.flush()
}

/// Writes the synthetic transfers as canonical CSV to `path`, in block order.
pub fn write_csv(params: Synthetic, path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(w, "block,tx_hash,from,to,amount")?;
    let mut rng = fastrand::Rng::with_seed(params.rng_seed ^ 0xC5F);
    // Chain data arrives in block order (node exports, ethereum-etl, cryo).
    let mut edges = params.edges();
    edges.sort_unstable_by_key(|e| e.2);
    for (i, (from, to, block)) in edges.into_iter().enumerate() {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_be_bytes());
        hash[8..16].copy_from_slice(&rng.u64(..).to_be_bytes());
        writeln!(
            w,
            "{block},0x{},{},{},{}",
            hex::encode(hash),
            crate::transfer::lower_hex(&synthetic_address(from)),
            crate::transfer::lower_hex(&synthetic_address(to)),
            rng.u64(1..u64::MAX)
        )?;
    }
    w.flush()
}

/// Times temporal and untimed hops in both directions on `graph` (built from
/// `params`) and returns the untimed downstream hops per synthetic address.
fn time_searches(
    params: Synthetic,
    graph: &Graph,
    max_hops: u32,
    figures: &mut Figures,
    out: &mut dyn Write,
) -> std::io::Result<Vec<Option<u32>>> {
    // Seeds are drawn among synthetic ids; the graph numbers nodes its own way.
    let starts: Vec<Start> = params
        .starts()
        .into_iter()
        .filter_map(|s| {
            graph.node(&synthetic_address(s.node)).map(|node| Start {
                node,
                since: s.since,
            })
        })
        .collect();
    let expandable = vec![true; graph.node_count()];
    let mut untimed_down = Vec::new();
    for (kind, search) in [
        ("temporal", hops as Search),
        ("untimed", untimed_hops as Search),
    ] {
        for direction in [Direction::Downstream, Direction::Upstream] {
            let (time, cpu, reach) = best_of(3, || {
                search(graph, direction, &starts, &expandable, max_hops)
            });
            if kind == "untimed" && direction == Direction::Downstream {
                // A binary search per address would take seconds at 5 M.
                let index = crate::graph::AddressIndex::new(graph);
                untimed_down = (0..params.addresses as u32)
                    .map(|i| {
                        index
                            .node(graph, &synthetic_address(i))
                            .and_then(|n| reach.hops(n))
                    })
                    .collect();
            }
            let name = format!("{kind}_{}", direction.as_str());
            figures.set(&format!("{name}_s"), time.as_secs_f64());
            figures.set(&format!("{name}_cpu_s"), cpu);
            writeln!(
                out,
                "{:<13} {:<10} {} seeds, max {} hops: {:>8.3} s ({:.3} s CPU), {} addresses reached",
                format!("{kind} hops"),
                direction.as_str(),
                starts.len(),
                max_hops,
                time.as_secs_f64(),
                cpu,
                reach.reached_count()
            )?;
        }
        figures.peak(&format!("{kind}_hops"), params.transfers, out)?;
    }
    Ok(untimed_down)
}

/// Writes the synthetic graph's snapshot to `path`.
pub fn write_synthetic_snapshot(
    params: Synthetic,
    path: &Path,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let addresses: Vec<Address> = (0..params.addresses as u32)
        .map(synthetic_address)
        .collect();
    let graph = Graph::from_edges(addresses, &params.edges());
    graph.write_snapshot(path, "bench")?;
    writeln!(
        out,
        "snapshot of {} transfers written to {} ({} bytes)",
        params.transfers,
        path.display(),
        std::fs::metadata(path)?.len()
    )
}

/// Loads a snapshot written by [`write_synthetic_snapshot`] for the same `params`
/// and times the searches on it.
pub fn run_from_snapshot(
    params: Synthetic,
    path: &Path,
    max_hops: u32,
    figures: &mut Figures,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let t = Instant::now();
    let graph = Graph::read_snapshot(path, "bench")?
        .ok_or_else(|| std::io::Error::other("not a bench snapshot"))?;
    let load = t.elapsed();
    figures.set("snapshot_load_s", load.as_secs_f64());
    writeln!(
        out,
        "snapshot {} loaded in {:.2} s, {}",
        path.display(),
        load.as_secs_f64(),
        if graph.is_mapped() {
            "mapped (larger than half the memory allowed)"
        } else {
            "copied into memory"
        }
    )?;
    time_searches(params, &graph, max_hops, figures, out)?;
    writeln!(out, "RSS {} MiB", resident_bytes().unwrap_or(0) >> 20)
}
