//! The caches beside the database, the graph snapshot (`DB.graph`), the
//! haircut's input (`DB.flows`) and the computed results (`DB.results`): written on
//! first use, used while the store (and for results, the labels, policy and
//! options) is unchanged, ignored (and rewritten) once it changes, and bypassed
//! with a warning when damaged.

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

/// What the commands that answer from an analysis print for `db`: `check` of a
/// few addresses (JSON, with evidence and exposure), `trace` of both directions
/// and `score` (CSV), with `extra` arguments (a policy, `--ignore-time`, ...).
/// Also whether the run answered from the results cache (its info log says so).
fn answers(db: &Path, extra: &[&str]) -> (Vec<String>, bool) {
    let run = |args: &[&str]| {
        let mut cmd = hoptrace(db);
        cmd.arg("-v").args(args).args(extra);
        ok(&mut cmd)
    };
    let mut out = Vec::new();
    let mut from_cache = true;
    for args in [
        &[
            "check",
            "0x098b716b8aaf21512996dc57eb0615e2383e2f96",
            "0x8f510dcd206b69e625fd9c2e41f34a1240242fff",
            "0x5554f4289ff71e4aa61fcc3bf7db694df802777e",
            "--format",
            "json",
        ][..],
        &["trace", "--format", "csv"],
        &["trace", "--direction", "upstream", "--format", "csv"],
    ] {
        let (stdout, stderr) = run(args);
        from_cache &= stderr.contains("results from cache");
        out.push(stdout);
    }
    (out, from_cache)
}

/// The computed results beside the database (`DB.results`): written on the first
/// run, used by the next ones for the same store, labels, policy and options, with
/// byte-identical answers; never used once any of those changed (the answers
/// equal those of a run without the cache); bypassed when damaged.
#[test]
fn results_cache_follows_the_store_labels_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let results = dir.path().join("r.db.results");
    import_both(
        &db,
        &crate::common::fixtures().join("ronin/transfers.csv"),
        &crate::common::fixtures().join("ronin/labels.csv"),
    );
    // What a run computes afresh, without any results cache.
    let fresh = |extra: &[&str]| {
        let _ = std::fs::remove_file(&results);
        let (out, from_cache) = answers(&db, extra);
        assert!(!from_cache);
        assert!(results.exists(), "a computing run writes the results");
        out
    };
    let cached = |extra: &[&str]| {
        let (out, from_cache) = answers(&db, extra);
        assert!(from_cache, "answered from the results cache ({extra:?})");
        out
    };
    let base = fresh(&[]);
    assert!(base[0].contains("\"path\"") && base[0].contains("\"tainted\""));
    assert!(base[1].lines().count() > 10, "{}", base[1]);
    let written = modified(&results);
    assert_eq!(cached(&[]), base);
    assert_eq!(modified(&results), written, "a cached run rewrites nothing");

    // Other options: other results; each, cached, answers as computed afresh.
    for extra in [
        &["--ignore-time"][..],
        &["--max-hops", "1"],
        &["--no-haircut"],
    ] {
        let want = fresh(extra);
        assert_ne!(want, base, "{extra:?} changes the answers");
        assert_eq!(cached(extra), want, "{extra:?}");
    }
    // The cache of `--no-haircut` lacks the haircut: a run that wants it computes.
    assert_eq!(answers(&db, &[]), (base.clone(), false));
    assert_eq!(cached(&[]), base);

    // A changed policy.
    let policy = crate::common::default_policy_with(
        dir.path(),
        "p.toml",
        &[("max_hops = 6", "max_hops = 2")],
    );
    let policy = policy.to_str().unwrap();
    let (first, from_cache) = answers(&db, &["--policy", policy]);
    assert!(!from_cache);
    assert_ne!(first, base);
    assert_eq!(fresh(&["--policy", policy]), first);
    assert_eq!(cached(&["--policy", policy]), first);

    // A FIFO policy: its totals are cached with the haircut.
    let fifo = crate::common::default_policy_with(
        dir.path(),
        "fifo.toml",
        &[("max_hops = 6", "fifo = true\nmax_hops = 6")],
    );
    let fifo = fifo.to_str().unwrap();
    let with_fifo = fresh(&["--policy", fifo]);
    assert!(with_fifo[0].contains("\"fifo_share\""), "{}", with_fifo[0]);
    assert_eq!(cached(&["--policy", fifo]), with_fifo);

    // A new label: the first hop of the chain becomes a hack address.
    crate::common::import_labels_text(
        &db,
        dir.path(),
        "more.csv",
        "address,category,name,source\n0x5554f4289ff71e4aa61fcc3bf7db694df802777e,hack,Test Hack,test-list\n",
    );
    let (relabelled, from_cache) = answers(&db, &[]);
    assert!(!from_cache);
    assert_ne!(relabelled, base);
    assert_eq!(fresh(&[]), relabelled);

    // New transfers: a later one from the Lazarus wallet to a fresh address.
    import_rows(
        &db,
        dir.path(),
        "t2.csv",
        &row(
            20_000_000,
            9,
            "0x098b716b8aaf21512996dc57eb0615e2383e2f96",
            "0x00000000000000000000000000000000000000e5",
            5,
        ),
    );
    let (moved, from_cache) = answers(&db, &[]);
    assert!(!from_cache);
    assert!(moved[1].contains("0x00000000000000000000000000000000000000e5"));
    assert_eq!(fresh(&[]), moved);

    // A damaged file is bypassed, never trusted.
    let cuts: [fn(usize) -> usize; 3] = [|n| n / 2, |n| n - 64, |_| 100];
    for keep in cuts {
        damage(&results, keep);
        let (out, from_cache) = answers(&db, &[]);
        assert!(!from_cache);
        assert_eq!(out, moved);
    }
}
