//! The haircut's input, cached beside the database.
//!
//! The haircut needs every value-moving transfer in chain order. Streaming them
//! out of SQLite costs about a microsecond a row, far more than the haircut pass
//! itself, so the first run writes them to `DB.flows` (32 bytes a transfer: block,
//! sender, receiver, asset, amount clamped to `u128`, in the store's own ids) and
//! later runs read that file, as long as its fingerprint matches the store's (the
//! same fingerprint as the graph snapshot's). A cache that cannot be read or
//! written is reported and bypassed, never fatal.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use alloy_primitives::U256;

use crate::store::{Store, StoreError};

const MAGIC: &[u8; 12] = b"HOPTRACE-FLW";
const VERSION: u32 = 1;

/// One stored transfer as the haircut reads it, in the store's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredFlow {
    pub(crate) block: u32,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) asset: u32,
    /// Clamped to `u128`, as the haircut takes it.
    pub(crate) amount: u128,
}

/// Every value-moving transfer of `store` in chain order: from the cache when it
/// matches the store, else from SQLite (and the cache is rewritten).
pub(crate) fn stored_flows(store: &Store) -> Result<Vec<StoredFlow>, StoreError> {
    let path = super::beside(store, ".flows");
    let fingerprint = store.graph_fingerprint()?;
    if let Some(path) = &path {
        match read(path, &fingerprint) {
            Ok(Some(flows)) => {
                tracing::info!(path = %path.display(), "haircut input from cache");
                return Ok(flows);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable flows cache")
            }
        }
    }
    let mut flows = Vec::new();
    store.for_each_transfer(|block, from, to, asset, amount| {
        flows.push(StoredFlow {
            block,
            from,
            to,
            asset,
            amount: clamp(amount),
        });
    })?;
    if let Some(path) = &path
        && let Err(e) = write(path, &fingerprint, &flows)
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot write flows cache");
    }
    Ok(flows)
}

fn clamp(amount: U256) -> u128 {
    u128::try_from(amount).unwrap_or(u128::MAX)
}

fn write(path: &Path, fingerprint: &str, flows: &[StoredFlow]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&(fingerprint.len() as u64).to_le_bytes())?;
        w.write_all(fingerprint.as_bytes())?;
        w.write_all(&(flows.len() as u64).to_le_bytes())?;
        for f in flows {
            let mut rec = [0u8; 32];
            rec[0..4].copy_from_slice(&f.block.to_le_bytes());
            rec[4..8].copy_from_slice(&f.from.to_le_bytes());
            rec[8..12].copy_from_slice(&f.to.to_le_bytes());
            rec[12..16].copy_from_slice(&f.asset.to_le_bytes());
            rec[16..32].copy_from_slice(&f.amount.to_le_bytes());
            w.write_all(&rec)?;
        }
        w.flush()?;
    }
    std::fs::rename(&tmp, path)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("flows cache: {msg}"))
}

fn read(path: &Path, fingerprint: &str) -> io::Result<Option<Vec<StoredFlow>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; 16];
    if r.read_exact(&mut head).is_err() || &head[..12] != MAGIC {
        return Ok(None);
    }
    if head[12..16] != VERSION.to_le_bytes() {
        return Ok(None);
    }
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let fp_len = u64::from_le_bytes(len);
    if fp_len > 4096 {
        return Err(invalid("fingerprint too long"));
    }
    let mut fp = vec![0u8; fp_len as usize];
    r.read_exact(&mut fp)?;
    if fp != fingerprint.as_bytes() {
        return Ok(None);
    }
    r.read_exact(&mut len)?;
    let count = u64::from_le_bytes(len);
    if count.checked_mul(32) != Some(size - 32 - fp_len) {
        return Err(invalid("length does not match the file"));
    }
    let mut flows = Vec::with_capacity(count as usize);
    let mut rec = [0u8; 32];
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for _ in 0..count {
        r.read_exact(&mut rec)?;
        let mut amount = [0u8; 16];
        amount.copy_from_slice(&rec[16..32]);
        flows.push(StoredFlow {
            block: word(&rec[0..4]),
            from: word(&rec[4..8]),
            to: word(&rec[8..12]),
            asset: word(&rec[12..16]),
            amount: u128::from_le_bytes(amount),
        });
    }
    Ok(Some(flows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_checks_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.flows");
        let flows = vec![
            StoredFlow {
                block: 7,
                from: 1,
                to: 2,
                asset: 0,
                amount: 10u128.pow(18),
            },
            StoredFlow {
                block: 9,
                from: 2,
                to: 0,
                asset: 3,
                amount: u128::MAX,
            },
        ];
        write(&path, "fp-1", &flows).unwrap();
        assert!(read(&path, "fp-2").unwrap().is_none());
        let back = read(&path, "fp-1").unwrap().unwrap();
        assert_eq!(back, flows);
        // Amounts beyond u128 are clamped when read from the store, as the haircut
        // takes them.
        assert_eq!(clamp(U256::MAX), u128::MAX);
        assert_eq!(clamp(U256::from(7u64)), 7);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(read(&path, "fp-1").is_err());
    }
}
