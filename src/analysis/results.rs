//! The computed results, cached beside the database (`DB.results`), so that
//! `check`, `trace`, `score` and `serve` start without searching again.
//!
//! On 50 M transfers the searches and the haircut take seconds of work and
//! gigabytes of fresh memory; a lookup of one address needs a few pages of them.
//! So the first run writes the searches' records and the haircut's results to one
//! file of plain arrays ([`crate::table`], 64-byte aligned), and later runs map it
//! and read in place what they look up, with the graph snapshot mapped too.
//!
//! The file is used only when its key matches: a SHA-256 over the format version,
//! hoptrace's version, the store's fingerprint (the same as the snapshot's: it
//! changes with every transfer import or fetch), every label in use as read (with
//! `since` dates resolved to blocks, so new block timestamps count), the policy's
//! canonical text, and whether hops are timed. It holds the directions and the
//! haircut that its run computed (with the FIFO totals under a FIFO policy); a run
//! that wants one it lacks computes all it wants and rewrites it. A file that
//! cannot be read or written is reported and bypassed, never fatal.

use std::io;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::analysis::{Analysis, HaircutExposure};
use crate::exposure::{FifoResult, HaircutResult, Reach};
use crate::graph::Direction;
use crate::labels::Label;
use crate::policy::Policy;
use crate::table::{CacheFile, Table};

/// Version 3: the haircut's first word counts its runs numbered by address id (up
/// to two), where version 2 had a flag for one; a reader of version 2 would take a
/// second such run for a damaged one.
const FILE: CacheFile = CacheFile {
    magic: b"HOPTRACE-RES",
    version: 3,
    align: 64,
    what: "results cache",
};

/// The key of the results of one analysis: see the module's notes.
pub(crate) fn key(fingerprint: &str, labels: &[Label], policy: &Policy, timed: bool) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "hoptrace results {}, hoptrace {}\n",
        FILE.version,
        env!("CARGO_PKG_VERSION")
    ));
    h.update(format!("store: {fingerprint}\ntimed: {timed}\n"));
    h.update(policy.canonical());
    for label in labels {
        h.update(format!("\n{label:?}"));
    }
    hex::encode(h.finalize())
}

/// A results file whose key matched, mapped.
pub(crate) struct Cached {
    map: Arc<Mmap>,
    /// Where the contents start, after the key.
    start: usize,
    downstream: bool,
    upstream: bool,
    haircut: bool,
    /// The haircut comes with FIFO totals.
    fifo: bool,
}

impl Cached {
    /// Whether the file holds the searches in `directions` and, if `haircut`, the
    /// haircut.
    pub(crate) fn covers(&self, directions: &[Direction], haircut: bool) -> bool {
        directions.iter().all(|d| match d {
            Direction::Downstream => self.downstream,
            Direction::Upstream => self.upstream,
        }) && (self.haircut || !haircut)
    }

    /// Puts the cached searches in `directions` (and the haircut, if `haircut`)
    /// into `a`, which must have been prepared from the same graph, labels and
    /// policy (the key says so).
    pub(crate) fn fill(
        &self,
        a: &mut Analysis,
        directions: &[Direction],
        haircut: Option<Vec<crate::transfer::Asset>>,
    ) -> io::Result<()> {
        let nodes = a.graph.node_count();
        let mut r = FILE.reader(&self.map, self.start);
        let stored = r.u64()?;
        if stored != nodes as u64 {
            return Err(r.invalid("results for another graph"));
        }
        let (mut downstream, mut upstream) = (None, None);
        for (present, slot) in [
            (self.downstream, &mut downstream),
            (self.upstream, &mut upstream),
        ] {
            if present {
                *slot = Some(Reach::read_from(&mut r, nodes)?);
            }
        }
        a.downstream = downstream.filter(|_| directions.contains(&Direction::Downstream));
        a.upstream = upstream.filter(|_| directions.contains(&Direction::Upstream));
        if let Some(assets) = haircut {
            let result = HaircutResult::read_from(&mut r, nodes)?;
            let spent: Table<u8> = r.table()?;
            let significant: Table<u8> = r.table()?;
            if spent.len() != nodes || significant.len() != nodes {
                return Err(r.invalid("haircut flags for another graph"));
            }
            // Present when the policy asks for FIFO (the key covers the policy).
            let fifo = if self.fifo {
                Some(FifoResult::read_from(&mut r, nodes)?)
            } else {
                None
            };
            a.haircut = Some(HaircutExposure {
                result,
                assets,
                spent: spent.iter().map(|&b| b != 0).collect(),
                significant: significant.iter().map(|&b| b != 0).collect(),
                fifo,
            });
        }
        Ok(())
    }
}

/// Opens the results file at `path` if it was written under `key`; `Ok(None)` when
/// it is missing, of another format, or for another key.
pub(crate) fn open(path: &Path, key: &str) -> io::Result<Option<Cached>> {
    let Some((map, start)) = FILE.open(path, key)? else {
        return Ok(None);
    };
    let mut r = FILE.reader(&map, start);
    let flags = r.u64()?;
    let start = r.position();
    Ok(Some(Cached {
        start,
        downstream: flags & 1 != 0,
        upstream: flags & 2 != 0,
        haircut: flags & 4 != 0,
        fifo: flags & 8 != 0,
        map,
    }))
}

/// Writes the results of `a` to `path` under `key`, synced: a results file is
/// trusted without reading it in full.
pub(crate) fn write(path: &Path, key: &str, a: &Analysis) -> io::Result<()> {
    FILE.write(path, key, true, |w| {
        let fifo = a.haircut.as_ref().and_then(|h| h.fifo.as_ref());
        let flags = u64::from(a.downstream.is_some())
            | u64::from(a.upstream.is_some()) << 1
            | u64::from(a.haircut.is_some()) << 2
            | u64::from(fifo.is_some()) << 3;
        w.u64(flags)?;
        w.u64(a.graph.node_count() as u64)?;
        for reach in [&a.downstream, &a.upstream].into_iter().flatten() {
            reach.write_to(w)?;
        }
        if let Some(h) = &a.haircut {
            h.result.write_to(w)?;
            let bytes = |v: &[bool]| v.iter().map(|&b| u8::from(b)).collect::<Vec<u8>>();
            w.table(&bytes(&h.spent))?;
            w.table(&bytes(&h.significant))?;
            if let Some(fifo) = fifo {
                fifo.write_to(w)?;
            }
        }
        Ok(())
    })
}
