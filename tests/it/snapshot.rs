//! The caches beside the database, the graph snapshot (`DB.graph`) and the
//! haircut's input (`DB.flows`): written on first use, used while the store is
//! unchanged, ignored (and rewritten) once the store changes, and bypassed with a
//! warning when damaged.

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

/// `(address, share)` of each downstream row of `trace --format csv`.
fn shares(db: &std::path::Path) -> Vec<(String, String)> {
    let out = hoptrace(db)
        .args(["trace", "--direction", "downstream", "--format", "csv"])
        .output()
        .expect("run trace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let share = header.iter().position(|h| h == "share").unwrap();
    rows.records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[share].to_string())
        })
        .collect()
}

/// The haircut's input cache beside the database (`DB.flows`) is written on first
/// use, gives the same shares while the store is unchanged, follows new transfers,
/// and is bypassed when damaged.
#[test]
fn flows_cache_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let cache = dir.path().join("f.db.flows");
    let a = "0x00000000000000000000000000000000000000a1";
    let b = "0x00000000000000000000000000000000000000b2";
    let d = "0x00000000000000000000000000000000000000d4";
    let first = write(
        dir.path(),
        "t1.csv",
        &format!("block,tx_hash,from,to,amount\n{}", row(10, 1, a, b)),
    );
    let labels = write(dir.path(), "l.csv", LABELS);
    import_both(&db, &first, &labels);
    // b received 1000, all of it from the seed a.
    let want = vec![
        (a.to_string(), "0".to_string()),
        (b.to_string(), "1".to_string()),
    ];
    assert_eq!(shares(&db), want);
    assert!(cache.exists(), "the first haircut writes the cache");
    let written = std::fs::metadata(&cache).unwrap().modified().unwrap();
    assert_eq!(shares(&db), want, "same shares from the cache");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        written
    );

    // 3000 more from a clean address: b's share drops to 1000 / 4000.
    let clean = format!("{},0x{:064x},{d},{b},3000\n", 15, 2);
    let second = write(
        dir.path(),
        "t2.csv",
        &format!("block,tx_hash,from,to,amount\n{clean}"),
    );
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&second)
        .assert()
        .success();
    let want = vec![
        (a.to_string(), "0".to_string()),
        (b.to_string(), "0.25".to_string()),
    ];
    assert_eq!(shares(&db), want);

    // A damaged cache is bypassed, not trusted.
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 7]).unwrap();
    assert_eq!(shares(&db), want);
}
