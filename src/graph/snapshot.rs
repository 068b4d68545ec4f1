//! Graph snapshots: the CSR written to one file, so that a command starts from it
//! in a fraction of the time a rebuild from SQLite takes.
//!
//! Layout (little-endian): the magic `HOPTRACE-CSR`, a format version, the
//! fingerprint of the store it was built from, the lengths, then each array
//! as-is, every array starting on an 8-byte boundary so that the file can be
//! memory-mapped and read in place. A graph larger than half the memory allowed
//! is searched straight from the mapping ([`Graph::read_snapshot`]). A snapshot
//! whose fingerprint differs from the store's is stale and ignored; it is
//! rewritten after the next rebuild.

use std::io;
use std::path::Path;

use alloy_primitives::Address;

use super::{Adjacency, Graph, Words};
use crate::table::CacheFile;

const FILE: CacheFile = CacheFile {
    magic: b"HOPTRACE-CSR",
    version: 1,
    align: 8,
    what: "graph snapshot",
};

/// The memory this process may use: the machine's physical memory, or its
/// control group's limit when that is lower (cgroup v1 or v2), if known.
fn memory_budget() -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGE_SIZE),
        )
    };
    let physical = (pages > 0 && page > 0).then(|| pages as u64 * page as u64);
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let file = match controllers {
                    "memory" => format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
                    "" => format!("/sys/fs/cgroup{path}/memory.max"),
                    _ => return None,
                };
                std::fs::read_to_string(file)
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        });
    match (physical, cgroup) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

impl Graph {
    /// Writes the graph to `path` (through a temporary file renamed into place),
    /// tagged with `fingerprint`.
    pub fn write_snapshot(&self, path: &Path, fingerprint: &str) -> io::Result<()> {
        FILE.write(path, fingerprint, false, |w| {
            for adj in [&self.out, &self.inn] {
                w.table(&adj.offsets)?;
                w.table(&adj.entries)?;
            }
            let raw: Vec<u8> = self
                .addresses
                .iter()
                .flat_map(|a| a.as_slice().iter().copied())
                .collect();
            w.table(&raw)?;
            w.table(&self.by_address)?;
            w.table(&self.external)
        })
    }

    /// Reads a snapshot written for `fingerprint`; `Ok(None)` when the file is
    /// missing, of another format version, or was written for another state of the
    /// store. A damaged file is an error.
    ///
    /// Mapped or copied: a file of at most half the memory this process may use (the
    /// machine's, or its control group's limit) is copied into memory backed by
    /// huge pages, where searches run fastest; a larger one stays mapped, and the
    /// kernel pages in what the searches touch, so a graph larger than memory works.
    ///
    /// Checks: the lengths fit together and the offsets are monotone. A copied
    /// graph's entries are also checked to name a node; a mapped one is not read in
    /// full at start (a damaged entry there is still caught by Rust's bounds checks,
    /// as a panic, never as a wrong read).
    pub fn read_snapshot(path: &Path, fingerprint: &str) -> io::Result<Option<Graph>> {
        Graph::read_snapshot_within(path, fingerprint, memory_budget())
    }

    /// [`Graph::read_snapshot`], always mapped: for when the searches' results are
    /// at hand and only lookups remain, which touch a few pages.
    pub fn read_snapshot_mapped(path: &Path, fingerprint: &str) -> io::Result<Option<Graph>> {
        Graph::read_snapshot_within(path, fingerprint, Some(0))
    }

    /// [`Graph::read_snapshot`] with the memory allowed given.
    fn read_snapshot_within(
        path: &Path,
        fingerprint: &str,
        budget: Option<u64>,
    ) -> io::Result<Option<Graph>> {
        let Some((map, start)) = FILE.open(path, fingerprint)? else {
            return Ok(None);
        };
        let size = map.len() as u64;
        let fits = budget.is_none_or(|m| size <= m / 2);
        #[cfg(unix)]
        let _ = map.advise(if fits {
            memmap2::Advice::Sequential
        } else {
            memmap2::Advice::Random
        });
        let mut r = FILE.reader(&map, start);
        // A graph that fits is copied into huge-page-backed memory (searches over
        // 4 KiB file pages pay for it in TLB misses); one that does not stays mapped.
        let mut words = || -> io::Result<Words> {
            let w: Words = r.table()?;
            Ok(if fits {
                Words::from(super::huge_vec(w.len(), |i| w[i]))
            } else {
                w
            })
        };
        let out = Adjacency {
            offsets: words()?,
            entries: words()?,
        };
        let inn = Adjacency {
            offsets: words()?,
            entries: words()?,
        };
        let raw = r.table::<u8>()?;
        let raw_len = raw.len();
        let addresses: Vec<Address> = raw.chunks_exact(20).map(Address::from_slice).collect();
        let by_address = r.table::<u32>()?.to_vec();
        let external = r.table::<u32>()?.to_vec();
        let n = addresses.len();
        let consistent = raw_len == n * 20
            && out.offsets.len() == n + 1
            && inn.offsets.len() == n + 1
            && by_address.len() == n
            && external.len() == n
            && out.offsets.last().copied() == Some(out.entries.len() as u64)
            && inn.offsets.last().copied() == Some(inn.entries.len() as u64)
            && out.offsets.windows(2).all(|w| w[0] <= w[1])
            && inn.offsets.windows(2).all(|w| w[0] <= w[1])
            && out.entries.len() == inn.entries.len()
            && (!fits
                || out
                    .entries
                    .iter()
                    .chain(inn.entries.iter())
                    .all(|&e| (e as u32 as usize) < n))
            && by_address
                .iter()
                .chain(&external)
                .all(|&i| (i as usize) < n);
        if !consistent {
            return Err(r.invalid("arrays do not fit together"));
        }
        Ok(Some(Graph {
            out,
            inn,
            addresses,
            by_address,
            external,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Direction, key_of, node_of};

    #[test]
    fn snapshot_round_trips_and_checks_its_fingerprint() {
        let addrs: Vec<Address> = (1..=5).map(Address::repeat_byte).collect();
        let edges = [(0, 1, 9), (0, 1, 3), (1, 2, 5), (3, 4, 1), (4, 0, 7)];
        let g = Graph::from_edges(addrs, &edges);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.graph");
        g.write_snapshot(&path, "fp-1").unwrap();
        assert!(Graph::read_snapshot(&path, "fp-2").unwrap().is_none());
        let h = Graph::read_snapshot(&path, "fp-1")
            .unwrap()
            .expect("fresh snapshot");
        assert!(!h.is_mapped());
        // With too little memory allowed the same file is searched mapped.
        let m = Graph::read_snapshot_within(&path, "fp-1", Some(0))
            .unwrap()
            .expect("fresh snapshot");
        assert!(m.is_mapped());
        assert_eq!(h.node_count(), 5);
        for v in 0..5 {
            assert_eq!(m.address(v), g.address(v));
            for d in [Direction::Downstream, Direction::Upstream] {
                assert_eq!(m.adjacency(d).entries(v), g.adjacency(d).entries(v));
            }
        }
        for v in 0..5 {
            assert_eq!(h.address(v), g.address(v));
            assert_eq!(h.external_id(v), g.external_id(v));
            for d in [Direction::Downstream, Direction::Upstream] {
                let entries = |x: &Graph| -> Vec<(u32, u32)> {
                    x.adjacency(d)
                        .entries(v)
                        .iter()
                        .map(|&e| (key_of(e), node_of(e)))
                        .collect()
                };
                assert_eq!(entries(&g), entries(&h));
            }
        }
        assert_eq!(
            h.node(&Address::repeat_byte(4)),
            g.node(&Address::repeat_byte(4))
        );
        // A truncated file is an error, not a wrong graph.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
        assert!(Graph::read_snapshot(&path, "fp-1").is_err());
        let missing = dir.path().join("none.graph");
        assert!(Graph::read_snapshot(&missing, "fp-1").unwrap().is_none());
    }
}
