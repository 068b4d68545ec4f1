//! Graph snapshots: the CSR written to one file, so that a command starts from it
//! in a fraction of the time a rebuild from SQLite takes.
//!
//! Layout (little-endian): the magic `HOPTRACE-CSR`, a format version, the
//! fingerprint of the store it was built from, the lengths, then each array
//! as-is, every array starting on an 8-byte boundary so that the file could be
//! memory-mapped and read in place. A snapshot whose fingerprint differs from the
//! store's is stale and ignored; it is rewritten after the next rebuild.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use alloy_primitives::Address;

use super::{Adjacency, Graph};

const MAGIC: &[u8; 12] = b"HOPTRACE-CSR";
const VERSION: u32 = 1;

fn write_u64s(w: &mut impl Write, v: &[u64]) -> io::Result<()> {
    w.write_all(&(v.len() as u64).to_le_bytes())?;
    w.write_all(bytemuck::cast_slice(v))
}

fn write_u32s(w: &mut impl Write, v: &[u32]) -> io::Result<()> {
    w.write_all(&(v.len() as u64).to_le_bytes())?;
    w.write_all(bytemuck::cast_slice(v))?;
    pad(w, v.len() * 4)
}

fn pad(w: &mut impl Write, written: usize) -> io::Result<()> {
    let rest = (8 - written % 8) % 8;
    w.write_all(&[0u8; 8][..rest])
}

fn skip_pad(r: &mut impl Read, written: usize) -> io::Result<()> {
    let mut skip = [0u8; 8];
    r.read_exact(&mut skip[..(8 - written % 8) % 8])
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("graph snapshot: {msg}"))
}

fn read_len(r: &mut impl Read, limit: u64) -> io::Result<usize> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    let len = u64::from_le_bytes(b);
    if len > limit {
        return Err(invalid("array longer than the file"));
    }
    Ok(len as usize)
}

fn read_u64s(r: &mut impl Read, limit: u64) -> io::Result<Vec<u64>> {
    let len = read_len(r, limit)?;
    let mut v = super::huge_vec(len, |_| 0u64);
    r.read_exact(bytemuck::cast_slice_mut(&mut v))?;
    Ok(v)
}

fn read_u32s(r: &mut impl Read, limit: u64) -> io::Result<Vec<u32>> {
    let len = read_len(r, limit)?;
    let mut v = vec![0u32; len];
    r.read_exact(bytemuck::cast_slice_mut(&mut v))?;
    skip_pad(r, len * 4)?;
    Ok(v)
}

impl Graph {
    /// Writes the graph to `path` (through a temporary file renamed into place),
    /// tagged with `fingerprint`.
    pub fn write_snapshot(&self, path: &Path, fingerprint: &str) -> io::Result<()> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp_name);
        {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            w.write_all(MAGIC)?;
            w.write_all(&VERSION.to_le_bytes())?;
            let fp = fingerprint.as_bytes();
            w.write_all(&(fp.len() as u64).to_le_bytes())?;
            w.write_all(fp)?;
            pad(&mut w, 12 + 4 + fp.len())?;
            for adj in [&self.out, &self.inn] {
                write_u64s(&mut w, &adj.offsets)?;
                write_u64s(&mut w, &adj.entries)?;
            }
            let raw: Vec<u8> = self
                .addresses
                .iter()
                .flat_map(|a| a.as_slice().iter().copied())
                .collect();
            w.write_all(&(raw.len() as u64).to_le_bytes())?;
            w.write_all(&raw)?;
            pad(&mut w, raw.len())?;
            write_u32s(&mut w, &self.by_address)?;
            write_u32s(&mut w, &self.external)?;
            w.flush()?;
        }
        std::fs::rename(&tmp, path)
    }

    /// Reads a snapshot written for `fingerprint`; `Ok(None)` when the file is
    /// missing, of another format version, or was written for another state of the
    /// store. A damaged file is an error.
    pub fn read_snapshot(path: &Path, fingerprint: &str) -> io::Result<Option<Graph>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = file.metadata()?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 12];
        let mut version = [0u8; 4];
        if r.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Ok(None);
        }
        r.read_exact(&mut version)?;
        if u32::from_le_bytes(version) != VERSION {
            return Ok(None);
        }
        let fp_len = read_len(&mut r, 4096)?;
        let mut fp = vec![0u8; fp_len];
        r.read_exact(&mut fp)?;
        skip_pad(&mut r, 12 + 4 + fp_len)?;
        if fp != fingerprint.as_bytes() {
            return Ok(None);
        }
        let limit = size / 4;
        let out = Adjacency {
            offsets: read_u64s(&mut r, limit)?,
            entries: read_u64s(&mut r, limit)?,
        };
        let inn = Adjacency {
            offsets: read_u64s(&mut r, limit)?,
            entries: read_u64s(&mut r, limit)?,
        };
        let raw_len = read_len(&mut r, size)?;
        let mut raw = vec![0u8; raw_len];
        r.read_exact(&mut raw)?;
        skip_pad(&mut r, raw_len)?;
        let addresses: Vec<Address> = raw.chunks_exact(20).map(Address::from_slice).collect();
        let by_address = read_u32s(&mut r, limit)?;
        let external = read_u32s(&mut r, limit)?;
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
            && out
                .entries
                .iter()
                .chain(&inn.entries)
                .all(|&e| (e as u32 as usize) < n)
            && by_address
                .iter()
                .chain(&external)
                .all(|&i| (i as usize) < n);
        if !consistent {
            return Err(invalid("arrays do not fit together"));
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
        assert_eq!(h.node_count(), 5);
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
