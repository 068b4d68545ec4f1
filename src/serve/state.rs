//! What the server answers from: one loaded analysis with its store connections
//! and status, behind an atomic pointer that a reload swaps. A request takes its
//! own reference to the current state when it starts and keeps it to the end, so
//! a reload never changes or drops data under a request in flight; the old state
//! is freed when its last request finishes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use arc_swap::ArcSwap;
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::setup::{self, EvidenceError, NoteKind, Options, SetupError};
use crate::exposure::Step;
use crate::graph::Direction;
use crate::report::{self, CheckResult, Evidence, Provenance};
use crate::store::{LabelCount, Store, StoreError};
use crate::transfer::Transfer;

/// Why data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database file does not exist (the server never creates one).
    #[error("database {0} does not exist: import transfers first")]
    Missing(PathBuf),
    /// Opening or reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building the analysis failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The loading thread was stopped (the server is shutting down).
    #[error("loading was interrupted")]
    Interrupted,
}

/// Counts shown by `/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Stored transfers.
    pub transfers: u64,
    /// Stored addresses.
    pub addresses: u64,
    /// Stored labels.
    pub labels: u64,
    /// Imported source files.
    pub sources: u64,
    /// Graph nodes.
    pub graph_nodes: u64,
    /// Graph edges.
    pub graph_edges: u64,
    /// Seeds present in the graph.
    pub seeds: u64,
    /// Addresses reached downstream (seeds included).
    pub reached_downstream: u64,
    /// Addresses reached upstream (seeds included).
    pub reached_upstream: u64,
    /// Addresses pruned as hubs by the policy's degree cut-off.
    pub hubs: u64,
}

/// The body of `/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The highest stored block: the data's height.
    pub data_block: Option<u32>,
    /// The label lists behind the analysis: list, version, category, counts.
    pub label_lists: Vec<LabelCount>,
    /// The store had no labels: the bundled seeds are in use.
    pub bundled_seeds: bool,
    /// SHA-256 of the canonical policy TOML.
    pub policy_hash: String,
    /// Counts of the data.
    pub counts: Counts,
    /// When this data was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// How long loading took, in seconds.
    pub load_seconds: f64,
    /// 1 for the data loaded at start, one more for each reload.
    pub generation: u64,
}

/// One loaded analysis and what answering from it needs.
pub struct Loaded {
    analysis: Analysis,
    /// Computed once: the same for every address.
    provenance: Provenance,
    /// Read connections for evidence lookups, taken and returned per request.
    stores: Mutex<Vec<Store>>,
    /// Evidence transfers already looked up.
    transfers: TransferCache,
    db: PathBuf,
    status: Status,
}

/// Evidence transfers by step, shared by all requests on one [`Loaded`]: paths
/// from the same seeds share their first hops, so most steps are looked up in
/// SQLite once. Sharded to keep lock hold times short; a shard that reaches its
/// bound is cleared (memory stays bounded; a cleared entry is looked up again).
struct TransferCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

/// An evidence step: (from node, to node, block).
type StepKey = (u32, u32, u32);

/// One shard of the [`TransferCache`].
type Shard = HashMap<StepKey, Transfer>;

impl TransferCache {
    const SHARDS: usize = 16;

    fn new(capacity: usize) -> TransferCache {
        TransferCache {
            shards: (0..Self::SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            per_shard: capacity / Self::SHARDS,
        }
    }

    fn shard(&self, key: StepKey) -> &Mutex<Shard> {
        let h = key.0 ^ key.1.rotate_left(11) ^ key.2.rotate_left(22);
        &self.shards[(h as usize) % Self::SHARDS]
    }

    fn get(&self, key: StepKey) -> Option<Transfer> {
        lock(self.shard(key)).get(&key).cloned()
    }

    fn insert(&self, key: StepKey, transfer: Transfer) {
        let mut shard = lock(self.shard(key));
        if shard.len() >= self.per_shard {
            shard.clear();
        }
        shard.insert(key, transfer);
    }
}

/// Locks `m`; a panic elsewhere while holding it leaves plain data, still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Most evidence transfers cached per loaded state (about 200 bytes each).
const CACHED_TRANSFERS: usize = 1 << 20;

/// Why one address could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Opening a connection failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Resolving the evidence failed.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

impl Loaded {
    /// Loads `db` under `options`: the graph, both directions for all seeds, the
    /// haircut unless turned off. Notes go to the log.
    pub fn load(db: &Path, options: &Options, generation: u64) -> Result<Loaded, LoadError> {
        if !db.exists() {
            return Err(LoadError::Missing(db.to_path_buf()));
        }
        let t = Instant::now();
        let store = Store::open(db)?;
        let analysis = setup::analyse(
            &store,
            options,
            &[Direction::Downstream, Direction::Upstream],
            |kind, message| match kind {
                NoteKind::Note => tracing::info!("{message}"),
                NoteKind::Warning => tracing::warn!("{message}"),
            },
        )?;
        let (transfers, addresses, labels, sources) = store.counts()?;
        let reached = |d| analysis.reach(d).map_or(0, |r| r.reached_count() as u64);
        let counts = Counts {
            transfers,
            addresses,
            labels,
            sources,
            graph_nodes: analysis.graph.node_count() as u64,
            graph_edges: analysis.graph.edge_count() as u64,
            seeds: analysis.seeds.len() as u64,
            reached_downstream: reached(Direction::Downstream),
            reached_upstream: reached(Direction::Upstream),
            hubs: analysis.hubs.len() as u64,
        };
        let status = Status {
            data_block: analysis.data_block,
            label_lists: store.label_stats()?,
            // `setup::analyse` falls back to the bundled seeds exactly then.
            bundled_seeds: labels == 0,
            policy_hash: analysis.policy.hash(),
            counts,
            loaded_at: now_rfc3339(),
            load_seconds: t.elapsed().as_secs_f64(),
            generation,
        };
        tracing::info!(
            generation,
            transfers,
            seeds = status.counts.seeds,
            elapsed = ?t.elapsed(),
            "data loaded"
        );
        Ok(Loaded {
            provenance: report::provenance(&analysis),
            analysis,
            stores: Mutex::new(vec![store]),
            transfers: TransferCache::new(CACHED_TRANSFERS),
            db: db.to_path_buf(),
            status,
        })
    }

    /// The status of this data.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// What `check` says about `address`, evidence included.
    pub fn check(&self, address: &Address) -> Result<CheckResult, AnswerError> {
        self.answer(|one| one(address))
    }

    /// What `check` says about each of `addresses`, in order.
    pub fn check_all(&self, addresses: &[Address]) -> Result<Vec<CheckResult>, AnswerError> {
        self.answer(|one| addresses.iter().map(one).collect())
    }

    /// Runs `f` with a function answering one address; evidence comes from the
    /// shared cache, else from one pooled connection held for the whole call.
    fn answer<R>(
        &self,
        f: impl FnOnce(
            &mut dyn FnMut(&Address) -> Result<CheckResult, AnswerError>,
        ) -> Result<R, AnswerError>,
    ) -> Result<R, AnswerError> {
        let mut store: Option<Store> = None;
        let result = {
            let graph = &self.analysis.graph;
            let mut evidence = Evidence::new(|s: Step| -> Result<Transfer, AnswerError> {
                let key = (s.from, s.to, s.block);
                if let Some(t) = self.transfers.get(key) {
                    return Ok(t);
                }
                let conn = match &mut store {
                    Some(c) => c,
                    None => store.insert(self.take_store()?),
                };
                let t = setup::lookup(conn, graph)(s)?;
                self.transfers.insert(key, t.clone());
                Ok(t)
            });
            f(&mut |a: &Address| {
                report::check_with(&self.analysis, &self.provenance, a, &mut evidence)
            })
        };
        if let Some(s) = store {
            self.return_store(s);
        }
        result
    }

    fn take_store(&self) -> Result<Store, StoreError> {
        let pooled = lock(&self.stores).pop();
        match pooled {
            Some(s) => Ok(s),
            None => Store::open(&self.db),
        }
    }

    fn return_store(&self, store: Store) {
        lock(&self.stores).push(store);
    }
}

/// The current data, swapped whole on reload.
pub struct Data {
    current: ArcSwap<Loaded>,
    /// One reload at a time; holds the next generation number.
    reloading: tokio::sync::Mutex<u64>,
    db: PathBuf,
    options: Options,
}

impl Data {
    /// Loads `db` for the first time.
    pub fn load(db: &Path, options: Options) -> Result<Data, LoadError> {
        let loaded = Loaded::load(db, &options, 1)?;
        Ok(Data {
            current: ArcSwap::from_pointee(loaded),
            reloading: tokio::sync::Mutex::new(2),
            db: db.to_path_buf(),
            options,
        })
    }

    /// The current data; the caller's reference stays valid across reloads.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// Loads the store afresh (on a blocking thread) and swaps it in; requests
    /// already running finish on the data they started with. On failure the
    /// current data stays in place.
    /// The reload runs as its own task: it completes (and swaps) even when the
    /// caller stops waiting.
    pub async fn reload(self: &Arc<Self>) -> Result<Arc<Loaded>, LoadError> {
        let this = Arc::clone(self);
        tokio::spawn(async move { this.reload_now().await })
            .await
            .map_err(|_| LoadError::Interrupted)?
    }

    async fn reload_now(self: &Arc<Self>) -> Result<Arc<Loaded>, LoadError> {
        let mut next = self.reloading.lock().await;
        let generation = *next;
        let this = Arc::clone(self);
        let loaded =
            tokio::task::spawn_blocking(move || Loaded::load(&this.db, &this.options, generation))
                .await
                .map_err(|_| LoadError::Interrupted)??;
        let loaded = Arc::new(loaded);
        self.current.store(Arc::clone(&loaded));
        *next += 1;
        Ok(loaded)
    }
}

/// The current time as RFC 3339 UTC, to the second.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
