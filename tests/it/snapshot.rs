//! The caches beside the database, the graph snapshot (`DB.graph`) and the
//! haircut's input (`DB.flows`): written on first use, used while the store is
//! unchanged, ignored (and rewritten) once the store changes, and bypassed with a
//! warning when damaged.

use std::path::{Path, PathBuf};

use crate::common::{hoptrace, import_both, ok, write};

const A: &str = "0x00000000000000000000000000000000000000a1";
const B: &str = "0x00000000000000000000000000000000000000b2";

fn row(block: u32, n: u8, from: &str, to: &str, amount: u64) -> String {
    format!("{block},0x{n:064x},{from},{to},{amount}\n")
}

/// A store `name` in `dir` with one transfer, 1000 from A to B at block 10, and
/// A labelled as a hack.
fn one_transfer_store(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name);
    let first = write(
        dir,
        "t1.csv",
        &format!("block,tx_hash,from,to,amount\n{}", row(10, 1, A, B, 1000)),
    );
    let labels = write(
        dir,
        "l.csv",
        "address,category\n0x00000000000000000000000000000000000000a1,hack\n",
    );
    import_both(&db, &first, &labels);
    db
}

/// Imports `rows` (CSV rows without the header) into `db` from `dir/name`.
fn import_rows(db: &Path, dir: &Path, name: &str, rows: &str) {
    let file = write(dir, name, &format!("block,tx_hash,from,to,amount\n{rows}"));
    hoptrace(db)
        .args(["import", "transfers"])
        .arg(&file)
        .assert()
        .success();
}

/// `columns` of each row of `trace --direction downstream --format csv`.
fn downstream(db: &Path, columns: &[&str]) -> Vec<Vec<String>> {
    let (out, _) = ok(hoptrace(db).args(["trace", "--direction", "downstream", "--format", "csv"]));
    let mut rows = csv::Reader::from_reader(out.as_bytes());
    let header = rows.headers().unwrap().clone();
    let at: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == *c).expect("column"))
        .collect();
    rows.records()
        .map(|r| {
            let r = r.unwrap();
            at.iter().map(|&i| r[i].to_string()).collect()
        })
        .collect()
}

/// `(address, hops)` rows, as [`downstream`] gives them.
fn hops(rows: &[(&str, u32)]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|(a, h)| vec![a.to_string(), h.to_string()])
        .collect()
}

/// Modification time of `path`.
fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// Cuts `path` to its first `keep` bytes.
fn damage(path: &Path, keep: impl FnOnce(usize) -> usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep(bytes.len())]).unwrap();
}

#[test]
fn snapshot_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let c = "0x00000000000000000000000000000000000000c3";
    let snapshot = dir.path().join("s.db.graph");
    let db = one_transfer_store(dir.path(), "s.db");
    assert!(!snapshot.exists());
    let columns = ["address", "hops"];
    assert_eq!(downstream(&db, &columns), hops(&[(A, 0), (B, 1)]));
    assert!(snapshot.exists(), "the first search writes the snapshot");
    let written = modified(&snapshot);
    assert_eq!(
        downstream(&db, &columns),
        hops(&[(A, 0), (B, 1)]),
        "same answer from the snapshot"
    );
    assert_eq!(modified(&snapshot), written);

    // New transfers make the snapshot stale: the answer includes them.
    import_rows(&db, dir.path(), "t2.csv", &row(20, 2, B, c, 1000));
    let all = hops(&[(A, 0), (B, 1), (c, 2)]);
    assert_eq!(downstream(&db, &columns), all);

    // A damaged snapshot is bypassed, not trusted.
    damage(&snapshot, |n| n / 2);
    assert_eq!(downstream(&db, &columns), all);
}

/// The haircut's input cache beside the database (`DB.flows`) is written on first
/// use, gives the same shares while the store is unchanged, follows new transfers,
/// and is bypassed when damaged.
#[test]
fn flows_cache_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = "0x00000000000000000000000000000000000000d4";
    let cache = dir.path().join("f.db.flows");
    let db = one_transfer_store(dir.path(), "f.db");
    let columns = ["address", "share"];
    let shares = |rows: &[(&str, &str)]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|(a, s)| vec![a.to_string(), s.to_string()])
            .collect()
    };
    // B received 1000, all of it from the seed A.
    let want = shares(&[(A, "0"), (B, "1")]);
    assert_eq!(downstream(&db, &columns), want);
    assert!(cache.exists(), "the first haircut writes the cache");
    let written = modified(&cache);
    assert_eq!(
        downstream(&db, &columns),
        want,
        "same shares from the cache"
    );
    assert_eq!(modified(&cache), written);

    // 3000 more from a clean address: B's share drops to 1000 / 4000.
    import_rows(&db, dir.path(), "t2.csv", &row(15, 2, d, B, 3000));
    let want = shares(&[(A, "0"), (B, "0.25")]);
    assert_eq!(downstream(&db, &columns), want);

    // A damaged cache is bypassed, not trusted.
    damage(&cache, |n| n - 7);
    assert_eq!(downstream(&db, &columns), want);
}
