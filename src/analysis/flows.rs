//! The haircut's input, cached beside the database.
//!
//! The haircut needs every value-moving transfer in chain order. Streaming them
//! out of SQLite costs about a microsecond a row, far more than the haircut pass
//! itself, so the first run writes them to `DB.flows` as the haircut takes them,
//! one [`Flow`] of 32 bytes a transfer (block, sender and receiver as graph nodes,
//! asset, amount clamped to `u128`), and later runs map that file and hand it to
//! the haircut in place: no copy, no fresh memory. It is used while its key
//! matches: the store's fingerprint (as for the graph snapshot) and the graph's
//! numbering of the nodes. A cache that cannot be read or written is reported and
//! bypassed, never fatal.

use std::hash::Hasher;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;

use alloy_primitives::U256;

use crate::exposure::Flow;
use crate::graph::Graph;
use crate::store::{Store, StoreError};
use crate::table::{CacheFile, Table};

/// Every value-moving transfer of `store` in chain order, in `graph`'s node
/// numbers: mapped from the cache when it matches, else read from SQLite (and the
/// cache is rewritten).
pub(crate) fn flows(store: &Store, graph: &Graph) -> Result<Table<Flow>, StoreError> {
    let path = super::beside(store, ".flows");
    let key = format!(
        "{}; numbering {:016x}",
        store.graph_fingerprint()?,
        numbering(graph)
    );
    if let Some(path) = &path {
        match read(path, &key, graph.node_count()) {
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
    let mut internal = vec![0u32; graph.node_count()];
    for v in 0..graph.node_count() as u32 {
        internal[graph.external_id(v) as usize] = v;
    }
    let mut flows = Vec::new();
    let mut unknown = None;
    store.for_each_transfer(|block, from, to, asset, amount| {
        let node = |id: u32| internal.get(id as usize).copied();
        match (node(from), node(to)) {
            (Some(from), Some(to)) => {
                flows.push(Flow {
                    block,
                    from,
                    to,
                    asset,
                    amount: clamp(amount),
                });
                ControlFlow::Continue(())
            }
            _ => {
                unknown = Some(from.max(to) + 1);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(id) = unknown {
        // The graph was built from another state of the store: when both are read
        // under one snapshot, as in `setup::analyse`, they always agree.
        return Err(StoreError::Corrupt(format!(
            "a transfer names address id {id}, which the graph of {} addresses lacks: the store probably changed after the graph was read",
            graph.node_count()
        )));
    }
    if let Some(path) = &path
        && let Err(e) = write(path, &key, &flows)
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot write flows cache");
    }
    Ok(flows.into())
}

/// A digest of which store id each graph node stands for.
fn numbering(graph: &Graph) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_usize(graph.node_count());
    for v in 0..graph.node_count() as u32 {
        h.write_u32(graph.external_id(v));
    }
    h.finish()
}

fn clamp(amount: U256) -> u128 {
    u128::try_from(amount).unwrap_or(u128::MAX)
}

const FILE: CacheFile = CacheFile {
    magic: b"HOPTRACE-FLW",
    version: 2,
    align: 64,
    what: "flows cache",
};

/// Writes `flows` under `key`.
fn write(path: &Path, key: &str, flows: &[Flow]) -> io::Result<()> {
    FILE.write(path, key, false, |w| w.table(flows))
}

/// The flows written under `key` for a graph of `nodes` nodes, mapped; `Ok(None)`
/// when the file is missing, of another format, or for another key. Every sender
/// and receiver is checked to be a node (what the haircut indexes by).
fn read(path: &Path, key: &str, nodes: usize) -> io::Result<Option<Table<Flow>>> {
    let Some((map, start)) = FILE.open(path, key)? else {
        return Ok(None);
    };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let mut r = FILE.reader(&map, start);
    let flows: Table<Flow> = r.table()?;
    if r.position() != map.len() {
        return Err(r.invalid("length does not match the file"));
    }
    let n = nodes as u64;
    if !flows
        .iter()
        .all(|f| u64::from(f.from) < n && u64::from(f.to) < n)
    {
        return Err(r.invalid("a transfer names no node of the graph"));
    }
    Ok(Some(flows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_checks_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.flows");
        let flows = vec![
            Flow {
                block: 7,
                from: 1,
                to: 2,
                asset: 0,
                amount: 10u128.pow(18),
            },
            Flow {
                block: 9,
                from: 2,
                to: 0,
                asset: 3,
                amount: u128::MAX,
            },
        ];
        write(&path, "key-1", &flows).unwrap();
        assert!(read(&path, "key-2", 3).unwrap().is_none());
        let back = read(&path, "key-1", 3).unwrap().unwrap();
        assert!(back.is_mapped());
        assert_eq!(&back[..], &flows[..]);
        // A graph without node 2: refused.
        assert!(read(&path, "key-1", 2).is_err());
        // Amounts beyond u128 are clamped when read from the store, as the haircut
        // takes them.
        assert_eq!(clamp(U256::MAX), u128::MAX);
        assert_eq!(clamp(U256::from(7u64)), 7);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(read(&path, "key-1", 3).is_err());
    }

    /// Imports CSV `rows` (after the header) through `store`.
    fn import(store: &mut Store, dir: &Path, name: &str, rows: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("block,tx_hash,from,to,amount\n{rows}")).unwrap();
        store.import_transfers(&path, |_, _, _| {}).unwrap();
    }

    /// A fetch or an import in another process commits while an analysis reads
    /// the store: under one read snapshot, the graph and the transfers still
    /// agree; without one, the transfers name an address that the graph lacks,
    /// which is an error (it was an index out of bounds).
    #[test]
    fn a_snapshot_keeps_the_transfers_to_the_graph_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("case.db");
        let (a, b, c) = (
            "0x00000000000000000000000000000000000000a1",
            "0x00000000000000000000000000000000000000b2",
            "0x00000000000000000000000000000000000000c3",
        );
        let hash = |n: u8| format!("0x{:064x}", n);
        let mut writer = Store::open(&db).unwrap();
        import(
            &mut writer,
            dir.path(),
            "1.csv",
            &format!("10,{},{a},{b},1000\n", hash(1)),
        );
        let reader = Store::open(&db).unwrap();
        let snapshot = reader.read_snapshot().unwrap();
        let graph = crate::analysis::load_graph(&reader, false).unwrap();
        assert_eq!(graph.node_count(), 2);
        // Committed by the other handle while the snapshot is held: B sends to C,
        // an address the graph has not seen.
        import(
            &mut writer,
            dir.path(),
            "2.csv",
            &format!("11,{},{b},{c},400\n", hash(2)),
        );
        let seen = flows(&reader, &graph).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].block, seen[0].amount), (10, 1000));
        drop(snapshot);
        let err = flows(&reader, &graph).unwrap_err().to_string();
        assert!(
            err.contains("address id 3") && err.contains("store probably changed"),
            "{err}"
        );
        // A fresh snapshot sees both transfers, with a graph of three addresses.
        let _snapshot = reader.read_snapshot().unwrap();
        let graph = crate::analysis::load_graph(&reader, false).unwrap();
        assert_eq!(graph.node_count(), 3);
        assert_eq!(flows(&reader, &graph).unwrap().len(), 2);
    }
}
