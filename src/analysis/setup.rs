//! Building the analysis that `check`, `trace`, `score` and `serve` answer from,
//! the same way for each: the graph and labels from the store (or the bundled
//! seeds when the store has no labels), `since` dates resolved to blocks, the
//! policy, the hop searches, the data's height and, unless turned off, the
//! haircut. Notes for the user (bundled seeds in use, dates resolved, hubs
//! pruned, no seeds) go to a callback in the order they arise, so the CLI prints
//! them as before and the server logs them.
//!
//! Also here: resolving an evidence step to the stored transfer it stands for.

use std::path::PathBuf;
use std::time::Instant;

use crate::analysis::{self, Analysis, results};
use crate::exposure::Step;
use crate::graph::{Direction, Graph};
use crate::labels::formats::{self, LabelFileError, LabelFormat, ReadOptions};
use crate::labels::{Label, since};
use crate::policy::{Policy, PolicyError};
use crate::store::{Store, StoreError};
use crate::transfer::Transfer;

/// How to build an analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The policy file (default: the built-in policy).
    pub policy: Option<PathBuf>,
    /// Overrides the policy's hop limit.
    pub max_hops: Option<u32>,
    /// Skip the haircut (poison view).
    pub no_haircut: bool,
    /// Plain BFS hops, ignoring block order and `since`.
    pub ignore_time: bool,
}

/// Whether a note is informative or a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Informative.
    Note,
    /// Something the user likely wants to fix.
    Warning,
}

impl NoteKind {
    /// `note` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::Warning => "warning",
        }
    }
}

/// Why an analysis could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policy file cannot be used.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The bundled seeds could not be read.
    #[error(transparent)]
    Seeds(#[from] LabelFileError),
    /// A temporary file for the bundled seeds could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const BUNDLED_OFAC: &str = include_str!("../../fixtures/seeds/ofac-sdn-evm.csv");
const BUNDLED_RONIN: &str = include_str!("../../fixtures/seeds/ronin-lazarus.csv");

/// The bundled default seeds, read with the same CSV reader as any label file.
pub fn bundled_seeds() -> Result<Vec<Label>, SetupError> {
    let dir = tempfile::tempdir()?;
    let mut labels = Vec::new();
    for (name, text) in [
        ("ofac-sdn-evm.csv", BUNDLED_OFAC),
        ("ronin-lazarus.csv", BUNDLED_RONIN),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text)?;
        labels.extend(formats::read(&path, LabelFormat::Csv, &ReadOptions::default())?.labels);
    }
    Ok(labels)
}

/// Builds the analysis of `store` in `directions` under `options`, passing each
/// note to `note` as it arises.
pub fn analyse(
    store: &Store,
    options: &Options,
    directions: &[Direction],
    mut note: impl FnMut(NoteKind, String),
) -> Result<Analysis, SetupError> {
    let t = Instant::now();
    // Every read below sees the same state of the store, even while a fetch or an
    // import commits (the graph, the transfers, the labels and the key agree).
    let _snapshot = store.read_snapshot()?;
    let mut labels = store.labels()?;
    let bundled = labels.is_empty();
    if bundled {
        labels = bundled_seeds()?;
        note(
            NoteKind::Note,
            format!(
                "the store has no labels: using the {} bundled seeds (OFAC SDN EVM addresses of 2026-08-20, Ronin/Lazarus cluster; see fixtures/seeds/README.md); import labels to choose your own",
                labels.len()
            ),
        );
    }
    for n in since::resolve(&mut labels, |t| store.block_at_or_after(t))? {
        let kind = if n.block.is_some() {
            NoteKind::Note
        } else {
            NoteKind::Warning
        };
        note(kind, n.message);
    }
    let mut policy = match &options.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    if let Some(h) = options.max_hops {
        policy.max_hops = h;
    }
    let (timed, haircut) = (!options.ignore_time, !options.no_haircut);
    // The results of an earlier run under the same data, labels and policy: then
    // the graph is only looked up, in place.
    let cache = analysis::beside(store, ".results");
    let key = results::key(&store.graph_fingerprint()?, &labels, &policy, timed);
    let cached = cache.as_deref().and_then(|path| match results::open(path, &key) {
        Ok(cached) => cached.filter(|c| c.covers(directions, haircut)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable results cache");
            None
        }
    });
    let graph = analysis::load_graph(store, cached.is_some())?;
    tracing::info!(
        nodes = graph.node_count(),
        edges = graph.edge_count(),
        elapsed = ?t.elapsed(),
        "graph loaded"
    );
    let t = Instant::now();
    let mut a = Analysis::prepare(graph, labels, policy);
    a.data_block = store.max_block()?;
    let filled = match &cached {
        Some(c) => {
            let assets = if haircut { Some(store.assets()?) } else { None };
            c.fill(&mut a, directions, assets)
                .inspect_err(|e| tracing::warn!(error = %e, "ignoring unreadable results cache"))
                .is_ok()
        }
        None => false,
    };
    if filled {
        tracing::info!(elapsed = ?t.elapsed(), "results from cache");
    } else {
        a.search(directions, timed);
        tracing::info!(seeds = a.seeds.len(), elapsed = ?t.elapsed(), "hops computed");
        if haircut {
            let t = Instant::now();
            a.add_haircut(store)?;
            tracing::info!(elapsed = ?t.elapsed(), "haircut computed");
        }
        if let Some(path) = &cache {
            let t = Instant::now();
            match results::write(path, &key, &a) {
                Ok(()) => tracing::info!(elapsed = ?t.elapsed(), "results cached"),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write results cache")
                }
            }
        }
    }
    if !a.hubs.is_empty() {
        note(
            NoteKind::Note,
            format!(
                "{} address(es) above the policy's hub degree {} are reached but not expanded",
                a.hubs.len(),
                a.policy.hub_degree
            ),
        );
    }
    if a.seeds.is_empty() {
        let message = if bundled {
            "none of the bundled seeds appears in the stored transfers: nothing can be reached"
        } else {
            "the store has no seed labels: nothing can be reached (import labels first)"
        };
        note(NoteKind::Warning, message.to_string());
    }
    Ok(a)
}

/// Why an evidence step could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The lookup failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store has no such transfer (the graph does not match the store).
    #[error("evidence transfer {from} -> {to} in block {block} is missing from the store")]
    Missing {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Block.
        block: u32,
    },
}

/// Resolves an evidence step (graph nodes) to the stored transfer it stands for.
pub fn lookup<'a>(
    store: &'a Store,
    graph: &'a Graph,
) -> impl FnMut(Step) -> Result<Transfer, EvidenceError> + 'a {
    move |s: Step| {
        let (from, to) = (graph.external_id(s.from), graph.external_id(s.to));
        store
            .find_transfer(from, to, s.block)?
            .ok_or_else(|| EvidenceError::Missing {
                from: graph.address(s.from).to_string(),
                to: graph.address(s.to).to_string(),
                block: s.block,
            })
    }
}
