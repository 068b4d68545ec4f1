//! The graph snapshot beside the database: written on first use, used while the
//! store is unchanged, ignored (and rewritten) once the store changes, and
//! bypassed with a warning when damaged.

use crate::common::{hoptrace, import_both, write};

const LABELS: &str = "address,category\n0x00000000000000000000000000000000000000a1,hack\n";

fn row(block: u32, n: u8, from: &str, to: &str) -> String {
    format!("{block},0x{:064x},{from},{to},1000\n", n)
}

fn downstream(db: &std::path::Path) -> String {
    let out = hoptrace(db)
        .args(["trace", "--direction", "downstream", "--format", "csv"])
        .output()
        .expect("run trace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn snapshot_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let snapshot = dir.path().join("s.db.graph");
    let a = "0x00000000000000000000000000000000000000a1";
    let b = "0x00000000000000000000000000000000000000b2";
    let c = "0x00000000000000000000000000000000000000c3";
    let first = write(
        dir.path(),
        "t1.csv",
        &format!("block,tx_hash,from,to,amount\n{}", row(10, 1, a, b)),
    );
    let labels = write(dir.path(), "l.csv", LABELS);
    import_both(&db, &first, &labels);
    assert!(!snapshot.exists());
    let before = downstream(&db);
    assert_eq!(before, format!("{a},downstream,0\n{b},downstream,1"));
    assert!(snapshot.exists(), "the first search writes the snapshot");
    let written = std::fs::metadata(&snapshot).unwrap().modified().unwrap();
    assert_eq!(downstream(&db), before, "same answer from the snapshot");
    assert_eq!(
        std::fs::metadata(&snapshot).unwrap().modified().unwrap(),
        written
    );

    // New transfers make the snapshot stale: the answer includes them.
    let second = write(
        dir.path(),
        "t2.csv",
        &format!("block,tx_hash,from,to,amount\n{}", row(20, 2, b, c)),
    );
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&second)
        .assert()
        .success();
    assert_eq!(
        downstream(&db),
        format!("{a},downstream,0\n{b},downstream,1\n{c},downstream,2")
    );

    // A damaged snapshot is bypassed, not trusted.
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        downstream(&db),
        format!("{a},downstream,0\n{b},downstream,1\n{c},downstream,2")
    );
}
