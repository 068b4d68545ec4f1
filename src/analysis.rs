//! One analysis: the graph, the seeds and services from the labels, and the hop
//! search in each direction asked for. Built once, then queried per address.
//!
//! Everything that can change a result comes from the [`Policy`]: the hop limit,
//! which categories are services (reached but not expanded unless also seeds), the
//! degree cut-off of automatic hubs. The haircut (value) exposure is added on
//! request, over the same seeds, services and hubs, and feeds the score.

mod flows;
mod results;
pub mod setup;

use std::collections::HashMap;

use alloy_primitives::Address;

use crate::exposure::{FifoResult, Haircut, HaircutResult, Reach, Start, fifo, hops, untimed_hops};
use crate::graph::{Direction, Graph};
use crate::labels::{Category, Label, Seed, partition};
use crate::policy::Policy;
use crate::score::{self, Score};
use crate::store::{Store, StoreError};
use crate::transfer::Asset;

/// The default limit on hops.
pub const DEFAULT_MAX_HOPS: u32 = 6;

/// A risk level. The scoring issue refines how it is computed; the levels are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    /// Not reached from any seed.
    None,
    /// Reached at 3 or more hops.
    Low,
    /// Reached at 2 hops.
    Medium,
    /// Reached at 1 hop.
    High,
    /// A seed itself.
    Severe,
}

impl RiskLevel {
    /// The first, declared rule: the level follows the fewest hops in either
    /// direction: 0 (a seed) severe, 1 high, 2 medium, 3 or more low, not reached none.
    pub fn from_hops(hops: Option<u32>) -> RiskLevel {
        match hops {
            None => RiskLevel::None,
            Some(0) => RiskLevel::Severe,
            Some(1) => RiskLevel::High,
            Some(2) => RiskLevel::Medium,
            Some(_) => RiskLevel::Low,
        }
    }

    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Severe => "severe",
        }
    }
}

/// The graph with its seeds, services and searches.
pub struct Analysis {
    /// The transfer graph.
    pub graph: Graph,
    /// Seeds by node.
    pub seeds: HashMap<u32, Seed>,
    /// Every label by node.
    pub labels: HashMap<u32, Vec<Label>>,
    /// Nodes labelled as services that are not seeds.
    pub services: Vec<u32>,
    /// The hop limit used.
    pub max_hops: u32,
    /// The downstream search, when asked for.
    pub downstream: Option<Reach>,
    /// The upstream search, when asked for.
    pub upstream: Option<Reach>,
    /// The policy the analysis runs under.
    pub policy: Policy,
    /// Addresses pruned as automatic hubs (degree above `policy.hub_degree`), sorted.
    pub hubs: Vec<u32>,
    /// The highest stored block, when the caller set it (the data's height).
    pub data_block: Option<u32>,
    /// The haircut exposure, once [`Analysis::add_haircut`] ran.
    pub haircut: Option<HaircutExposure>,
}

/// The haircut exposure of an analysis, by graph node.
pub struct HaircutExposure {
    /// Per node and asset: received, tainted, per seed.
    pub result: HaircutResult,
    /// Asset of each asset id.
    pub assets: Vec<Asset>,
    /// Per node: it sent something after it first received tainted value.
    pub spent: Vec<bool>,
    /// Per node: it received a tainted transfer at or above the dust threshold.
    pub significant: Vec<bool>,
    /// The FIFO exposure, when the policy asks for it (`fifo = true`).
    pub fifo: Option<FifoResult>,
}

/// The seeds as search starts, sorted by node.
fn starts_of(seeds: &HashMap<u32, Seed>) -> Vec<Start> {
    let mut starts: Vec<Start> = seeds
        .iter()
        .map(|(&node, s)| Start {
            node,
            since: s.since_block,
        })
        .collect();
    starts.sort_unstable_by_key(|s| s.node);
    starts
}

/// The path of a cache file beside the store's database (`DB` + `suffix`); `None`
/// for a store without a file.
fn beside(store: &Store, suffix: &str) -> Option<std::path::PathBuf> {
    store.path().map(|p| {
        let mut name = p.into_os_string();
        name.push(suffix);
        std::path::PathBuf::from(name)
    })
}

/// Loads the graph and labels from the store. The graph comes from the snapshot
/// beside the database (`DB.graph`) when it matches the store; otherwise it is
/// rebuilt and the snapshot rewritten. A snapshot that cannot be read or written
/// is reported and bypassed, never fatal.
pub fn load(store: &Store) -> Result<(Graph, Vec<Label>), StoreError> {
    let _snapshot = store.read_snapshot()?;
    Ok((load_graph(store, false)?, store.labels()?))
}

/// The graph of [`load`]. With `mapped`, a snapshot is searched in place rather
/// than copied into memory: for when the searches' results are cached and only
/// lookups remain. Its callers ([`load`], `setup::analyse`) hold a read snapshot
/// of the store ([`Store::read_snapshot`]), so that the fingerprint, the
/// addresses and the edges come from one state of it.
pub(crate) fn load_graph(store: &Store, mapped: bool) -> Result<Graph, StoreError> {
    let snapshot = beside(store, ".graph");
    let fingerprint = store.graph_fingerprint()?;
    if let Some(path) = &snapshot {
        let read = if mapped {
            Graph::read_snapshot_mapped(path, &fingerprint)
        } else {
            Graph::read_snapshot(path, &fingerprint)
        };
        match read {
            Ok(Some(graph)) => {
                tracing::info!(path = %path.display(), mapped, "graph from snapshot");
                return Ok(graph);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable graph snapshot")
            }
        }
    }
    let addresses = store.addresses()?;
    let mut edges: Vec<(u32, u32, u32)> = Vec::new();
    store.for_each_edge(|from, to, block| edges.push((from, to, block)))?;
    let graph = Graph::from_edges(addresses, &edges);
    drop(edges);
    if let Some(path) = &snapshot
        && let Err(e) = graph.write_snapshot(path, &fingerprint)
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot write graph snapshot");
    }
    Ok(graph)
}

impl Analysis {
    /// Runs the searches in `directions` over `graph` with seeds and services from
    /// `labels`. (Every labelled address is interned by the store, so the graph
    /// knows it even when it has no transfers: a seed is reported at hop 0.)
    pub fn new(
        graph: Graph,
        labels: Vec<Label>,
        max_hops: u32,
        directions: &[Direction],
    ) -> Analysis {
        Analysis::with_time(graph, labels, max_hops, directions, true)
    }

    /// As [`Analysis::new`]; with `timed` false the searches ignore block order and
    /// `since` (plain BFS, see `exposure::untimed_hops`).
    pub fn with_time(
        graph: Graph,
        labels: Vec<Label>,
        max_hops: u32,
        directions: &[Direction],
        timed: bool,
    ) -> Analysis {
        let policy = Policy {
            max_hops,
            ..Policy::default()
        };
        Analysis::with_policy(graph, labels, policy, directions, timed)
    }

    /// As [`Analysis::with_time`], under `policy`: its hop limit, its service
    /// categories and its hub degree cut-off.
    pub fn with_policy(
        graph: Graph,
        labels: Vec<Label>,
        policy: Policy,
        directions: &[Direction],
        timed: bool,
    ) -> Analysis {
        let mut a = Analysis::prepare(graph, labels, policy);
        a.search(directions, timed);
        a
    }

    /// Everything but the searches: seeds, services and hubs under `policy`.
    pub fn prepare(graph: Graph, labels: Vec<Label>, policy: Policy) -> Analysis {
        let max_hops = policy.max_hops;
        let (seed_list, _) = partition(&labels);
        let mut service_list: Vec<Address> = labels
            .iter()
            .filter(|l| policy.is_service(l.category))
            .map(|l| l.address)
            .collect();
        service_list.sort_unstable();
        service_list.dedup();
        let mut seeds = HashMap::new();
        for seed in seed_list {
            if let Some(node) = graph.node(&seed.address) {
                seeds.insert(node, seed);
            }
        }
        let mut by_node: HashMap<u32, Vec<Label>> = HashMap::new();
        for label in labels {
            if let Some(node) = graph.node(&label.address) {
                by_node.entry(node).or_default().push(label);
            }
        }
        let mut services = Vec::new();
        for address in service_list {
            if let Some(node) = graph.node(&address)
                && !seeds.contains_key(&node)
            {
                services.push(node);
            }
        }
        let mut hubs = Vec::new();
        if policy.hub_degree > 0 {
            let mut service = vec![false; graph.node_count()];
            for &n in &services {
                service[n as usize] = true;
            }
            for node in 0..graph.node_count() as u32 {
                if !service[node as usize]
                    && !seeds.contains_key(&node)
                    && graph.degree(node) as u64 > policy.hub_degree
                {
                    hubs.push(node);
                }
            }
            hubs.sort_unstable_by_key(|&n| graph.address(n));
        }
        Analysis {
            graph,
            seeds,
            labels: by_node,
            services,
            max_hops,
            downstream: None,
            upstream: None,
            policy,
            hubs,
            data_block: None,
            haircut: None,
        }
    }

    /// Runs the searches in `directions` (replacing any there were); with `timed`
    /// false they ignore block order and `since`.
    pub fn search(&mut self, directions: &[Direction], timed: bool) {
        let starts = starts_of(&self.seeds);
        let expandable = self.expandable();
        let run = |d: Direction| {
            directions.contains(&d).then(|| {
                if timed {
                    hops(&self.graph, d, &starts, &expandable, self.max_hops)
                } else {
                    untimed_hops(&self.graph, d, &starts, &expandable, self.max_hops)
                }
            })
        };
        self.downstream = run(Direction::Downstream);
        self.upstream = run(Direction::Upstream);
    }

    /// Whether `node` passes taint on: not a service, not a pruned hub (seeds always).
    fn expandable(&self) -> Vec<bool> {
        let mut expandable = vec![true; self.graph.node_count()];
        for &n in self.services.iter().chain(&self.hubs) {
            expandable[n as usize] = false;
        }
        expandable
    }

    /// Runs the haircut over the store's transfers in chain order, with the same
    /// seeds, services and hubs as the hop search (the hop limit does not apply:
    /// value is followed as far as it goes).
    pub fn add_haircut(&mut self, store: &Store) -> Result<(), StoreError> {
        let n = self.graph.node_count();
        let starts = starts_of(&self.seeds);
        let assets = store.assets()?;
        let dust: Vec<Option<alloy_primitives::U256>> = assets
            .iter()
            .map(|a| self.policy.dust_threshold(a))
            .collect();
        let expandable = self.expandable();
        let flows = flows::flows(store, &self.graph)?;
        let result = Haircut::new(n, &starts, &expandable).run(&flows);
        let fifo = self
            .policy
            .fifo
            .then(|| fifo(n, &starts, &expandable, &flows));
        // `spent`: sent something after first receiving tainted value (what was
        // sent before cannot be the tainted funds moving on). `significant`:
        // received a tainted transfer at or above the dust threshold.
        let mut tainted_in = vec![false; n];
        let mut spent = vec![false; n];
        let mut significant = vec![false; n];
        for (i, f) in flows.iter().enumerate() {
            if tainted_in[f.from as usize] {
                spent[f.from as usize] = true;
            }
            if result.carried_taint(i) {
                tainted_in[f.to as usize] = true;
                let is_dust = dust
                    .get(f.asset as usize)
                    .copied()
                    .flatten()
                    .is_some_and(|d| alloy_primitives::U256::from(f.amount) < d);
                if !is_dust {
                    significant[f.to as usize] = true;
                }
            }
        }
        self.haircut = Some(HaircutExposure {
            result,
            assets,
            spent,
            significant,
            fifo,
        });
        Ok(())
    }

    /// The score findings of `node`: one per direction it is reached in. Without
    /// [`Analysis::add_haircut`], downstream shares are taken as 1 (poison).
    pub fn score_findings(&self, node: u32) -> Vec<score::Finding> {
        let mut out = Vec::new();
        for d in [Direction::Downstream, Direction::Upstream] {
            let (Some(hops), Some((_, seed))) = (self.hops(d, node), self.seed_of(d, node)) else {
                continue;
            };
            let (share, dust_only) = match (&self.haircut, d) {
                (Some(h), Direction::Downstream) => {
                    let share = h.result.share(node);
                    let dust_only = hops > 0
                        && share > 0.0
                        && !h.significant[node as usize]
                        && !h.spent[node as usize];
                    (share, dust_only)
                }
                // Without the haircut, the score takes the poison view: a reached
                // address counts as fully tainted (never lower than the truth).
                (None, Direction::Downstream) => (1.0, false),
                (_, Direction::Upstream) => (0.0, false),
            };
            out.push(score::Finding {
                direction: d,
                category: seed.category,
                hops,
                share,
                dust_only,
            });
        }
        out
    }

    /// The score of `node` under the analysis's policy.
    pub fn score(&self, node: u32) -> Score {
        score::score(&self.policy, &self.score_findings(node))
    }

    /// The search in `direction`, if it was run.
    pub fn reach(&self, direction: Direction) -> Option<&Reach> {
        match direction {
            Direction::Downstream => self.downstream.as_ref(),
            Direction::Upstream => self.upstream.as_ref(),
        }
    }

    /// The node of an address.
    pub fn node(&self, address: &Address) -> Option<u32> {
        self.graph.node(address)
    }

    /// Hops of `node` in `direction`.
    pub fn hops(&self, direction: Direction, node: u32) -> Option<u32> {
        self.reach(direction).and_then(|r| r.hops(node))
    }

    /// The seed reached from `node` in `direction`.
    pub fn seed_of(&self, direction: Direction, node: u32) -> Option<(u32, &Seed)> {
        let seed = self.reach(direction)?.seed(node)?;
        self.seeds.get(&seed).map(|s| (seed, s))
    }

    /// The nearest finding over both directions: (direction, hops, seed category).
    /// Ties go to downstream, what a deposit screen asks first.
    pub fn nearest(&self, node: u32) -> Option<(Direction, u32, Category)> {
        let mut best: Option<(Direction, u32, Category)> = None;
        for d in [Direction::Downstream, Direction::Upstream] {
            if let (Some(h), Some((_, seed))) = (self.hops(d, node), self.seed_of(d, node))
                && best.is_none_or(|(_, bh, _)| h < bh)
            {
                best = Some((d, h, seed.category));
            }
        }
        best
    }

    /// The risk level of `node` under the first, declared rule.
    pub fn risk_level(&self, node: u32) -> RiskLevel {
        RiskLevel::from_hops(self.nearest(node).map(|(_, h, _)| h))
    }
}
