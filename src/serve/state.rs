//! What the server answers from: one loaded analysis with its store connections
//! and status, behind an atomic pointer that a reload swaps. A request takes its
//! own reference to the current state when it starts and keeps it to the end, so
//! a reload never changes or drops data under a request in flight; the old state
//! is freed when its last request finishes.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use arc_swap::ArcSwap;
use bytes::Bytes;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::setup::{self, EvidenceError, NoteKind, Options, SetupError};
use crate::exposure::Step;
use crate::graph::AddressIndex;
use crate::graph::Direction;
use crate::report::{self, Evidence, PathTransfer, Provenance};
use crate::store::{LabelCount, Store, StoreError};

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
    /// Finds an address's node in a few memory reads.
    index: AddressIndex,
    /// Computed once: the same for every address.
    provenance: Arc<Provenance>,
    /// Read connections for evidence lookups, taken and returned per request.
    stores: Mutex<Vec<Store>>,
    /// Evidence transfers already looked up, by step (weight 1 each).
    transfers: Cache<StepKey, Arc<PathTransfer>>,
    /// Answers already given, by node, as JSON (weight: their length).
    answers: Cache<u32, Bytes>,
    db: PathBuf,
    status: Status,
}

/// A map shared by all requests on one [`Loaded`], bounded by the total weight
/// of its values. Sharded to keep lock hold times short; a shard that would pass
/// its share of the bound is cleared first (memory stays bounded; a cleared
/// entry is computed again).
struct Cache<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    per_shard: usize,
}

struct Shard<K, V> {
    map: FxHashMap<K, V>,
    weight: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    const SHARDS: usize = 16;

    /// A cache holding values of at most `bound` total weight.
    fn new(bound: usize) -> Cache<K, V> {
        Cache {
            shards: (0..Self::SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: FxHashMap::default(),
                        weight: 0,
                    })
                })
                .collect(),
            per_shard: bound / Self::SHARDS,
        }
    }

    fn shard(&self, key: &K) -> &Mutex<Shard<K, V>> {
        let h = rustc_hash::FxBuildHasher.hash_one(key);
        // The high bits: FxHash's low bits are weak for small integer keys.
        &self.shards[(h >> 60) as usize % Self::SHARDS]
    }

    fn get(&self, key: &K) -> Option<V> {
        lock(self.shard(key)).map.get(key).cloned()
    }

    /// Keeps `value`, of `weight`, unless it alone is over a shard's bound.
    fn insert(&self, key: K, value: V, weight: usize) {
        if weight > self.per_shard {
            return;
        }
        let mut shard = lock(self.shard(&key));
        if shard.weight + weight > self.per_shard {
            shard.map.clear();
            shard.weight = 0;
        }
        if shard.map.insert(key, value).is_none() {
            shard.weight += weight;
        }
    }
}

/// An evidence step: (from node, to node, block).
type StepKey = (u32, u32, u32);

/// Locks `m`; a panic elsewhere while holding it leaves plain data, still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Page cache of each pooled read connection, MiB (each serves evidence look-ups
/// by index; at the store's default of 256 MiB a few connections would hold more
/// than the answers).
const READER_CACHE_MIB: u32 = 16;

/// Most evidence transfers cached per loaded state (about 400 bytes each,
/// rendered): paths from the same seeds share their first hops, so most steps
/// are looked up in SQLite and rendered once.
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
    /// Rendering the answer as JSON failed.
    #[error("cannot render the answer as JSON")]
    Render(#[source] serde_json::Error),
}

impl Loaded {
    /// Loads `db` under `options`: the graph, both directions for all seeds, the
    /// haircut unless turned off. Notes go to the log.
    /// At most `answer_cache` bytes of answers are kept for repeated addresses.
    pub fn load(
        db: &Path,
        options: &Options,
        answer_cache: usize,
        generation: u64,
    ) -> Result<Loaded, LoadError> {
        if !db.exists() {
            return Err(LoadError::Missing(db.to_path_buf()));
        }
        let t = Instant::now();
        let store = Store::open(db)?;
        // The analysis, the counts and the label lists of one state of the store,
        // even while a fetch or an import commits.
        let snapshot = store.read_snapshot()?;
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
        drop(snapshot);
        tracing::info!(
            generation,
            transfers,
            seeds = status.counts.seeds,
            elapsed = ?t.elapsed(),
            "data loaded"
        );
        store.limit_cache(READER_CACHE_MIB)?;
        Ok(Loaded {
            index: AddressIndex::new(&analysis.graph),
            provenance: Arc::new(report::provenance(&analysis)),
            analysis,
            stores: Mutex::new(vec![store]),
            transfers: Cache::new(CACHED_TRANSFERS),
            answers: Cache::new(answer_cache),
            db: db.to_path_buf(),
            status,
        })
    }

    /// The status of this data.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// What `check --format json` says about `address`, evidence included, as
    /// compact JSON.
    pub fn check_json(&self, address: &Address) -> Result<Bytes, AnswerError> {
        self.answer(|one| one(address))
    }

    /// The same for each of `addresses`, in order.
    pub fn check_all_json(&self, addresses: &[Address]) -> Result<Vec<Bytes>, AnswerError> {
        self.answer(|one| addresses.iter().map(one).collect())
    }

    /// Runs `f` with a function answering one address: from the answers given
    /// before, else computed, with evidence from the shared cache, else from one
    /// pooled connection held for the whole call.
    fn answer<R>(
        &self,
        f: impl FnOnce(&mut dyn FnMut(&Address) -> Result<Bytes, AnswerError>) -> Result<R, AnswerError>,
    ) -> Result<R, AnswerError> {
        let mut store: Option<Store> = None;
        let result = {
            let graph = &self.analysis.graph;
            let mut evidence = Evidence::new(|s: Step| -> Result<_, AnswerError> {
                let key = (s.from, s.to, s.block);
                if let Some(t) = self.transfers.get(&key) {
                    return Ok(t);
                }
                let conn = match &mut store {
                    Some(c) => c,
                    None => store.insert(self.take_store()?),
                };
                let t = Arc::new(PathTransfer::from(&setup::lookup(conn, graph)(s)?));
                self.transfers.insert(key, Arc::clone(&t), 1);
                Ok(t)
            });
            f(&mut |a: &Address| {
                let node = self.index.node(graph, a);
                if let Some(json) = node.and_then(|n| self.answers.get(&n)) {
                    return Ok(json);
                }
                let result =
                    report::check(&self.analysis, &self.provenance, a, node, &mut evidence)?;
                let json = Bytes::from(serde_json::to_vec(&result).map_err(AnswerError::Render)?);
                if let Some(n) = node {
                    self.answers.insert(n, json.clone(), json.len());
                }
                Ok(json)
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
            None => {
                let store = Store::open(&self.db)?;
                store.limit_cache(READER_CACHE_MIB)?;
                Ok(store)
            }
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
    answer_cache: usize,
}

impl Data {
    /// Loads `db` for the first time; each loaded state keeps at most
    /// `answer_cache` bytes of answers.
    pub fn load(db: &Path, options: Options, answer_cache: usize) -> Result<Data, LoadError> {
        let loaded = Loaded::load(db, &options, answer_cache, 1)?;
        Ok(Data {
            current: ArcSwap::from_pointee(loaded),
            reloading: tokio::sync::Mutex::new(2),
            db: db.to_path_buf(),
            options,
            answer_cache,
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
        let loaded = tokio::task::spawn_blocking(move || {
            Loaded::load(&this.db, &this.options, this.answer_cache, generation)
        })
        .await
        .map_err(|_| LoadError::Interrupted)??;
        let loaded = Arc::new(loaded);
        let old = self.current.swap(Arc::clone(&loaded));
        *next += 1;
        tokio::task::spawn_blocking(move || release(old));
        Ok(loaded)
    }
}

/// Frees a replaced state once the last request that started on it has finished,
/// then hands the freed memory back to the system. Without that, the allocator
/// keeps most of a large state's many mid-sized blocks, and resident memory grows
/// with every reload (by 70-300 MB a reload at 50 M transfers).
fn release(mut old: Arc<Loaded>) {
    loop {
        match Arc::try_unwrap(old) {
            Ok(state) => {
                drop(state);
                break;
            }
            Err(shared) => {
                old = shared;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
    trim_heap();
}

/// Returns free heap memory to the system (glibc keeps it otherwise).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only releases memory the allocator holds free; it has
    // no preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// The current time as RFC 3339 UTC, to the second.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
