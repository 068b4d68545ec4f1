//! The bad-input corpus (`tests/corpus/bad/`, each file listed with its expected
//! error in `tests/corpus/README.md`).
//!
//! Every case starts from the same store: `tests/corpus/good/base.csv` (3 transfers)
//! and `tests/corpus/good/base_labels.csv` (1 label) imported into a fresh
//! database. It then feeds one bad file and checks that
//! - the command fails with status 1 and prints nothing on stdout;
//! - stderr names the file, the line (`path:LINE:`), the column in backticks and
//!   the specific problem;
//! - the database is exactly as before: same row counts in `transfers`,
//!   `addresses`, `labels` and `sources`, and the same content in every table.
//!
//! In the row-level cases the bad row is line 4, after two good rows (lines 2 and
//! 3) with new transactions and new addresses: had any of them been kept, the
//! counts would differ, so the whole file is shown to be rolled back.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tempfile::TempDir;

use crate::common::{hoptrace, write};

/// A file of the corpus.
fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(rel)
}

/// What the store holds: row counts plus a full dump of every table.
#[derive(Debug, PartialEq, Eq)]
struct DbState {
    /// (transfers, addresses, labels, sources).
    counts: (i64, i64, i64, i64),
    dump: Vec<String>,
}

fn db_state(db: &Path) -> DbState {
    let conn = Connection::open(db).expect("open the test database");
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count rows")
    };
    let counts = (
        count("transfers"),
        count("addresses"),
        count("labels"),
        count("sources"),
    );
    // Every table the store has, whatever its schema: rows as text, sorted.
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .expect("list tables");
        stmt.query_map([], |r| r.get(0))
            .expect("list tables")
            .collect::<Result<_, _>>()
            .expect("table names")
    };
    let mut dump = Vec::new();
    for table in &tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("prepare dump");
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).expect("dump table");
        while let Some(row) = rows.next().expect("next row") {
            let cells: Vec<String> = (0..columns)
                .map(|i| {
                    format!(
                        "{:?}",
                        row.get::<_, rusqlite::types::Value>(i).expect("cell")
                    )
                })
                .collect();
            dump.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    dump.sort();
    DbState { counts, dump }
}

fn stats(db: &Path) -> String {
    let out = hoptrace(db).arg("stats").output().expect("run stats");
    assert!(out.status.success(), "stats failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 stats")
}

/// A fresh store with the base transfers and labels imported.
fn base_store() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(corpus("good/base.csv"))
        .assert()
        .success();
    hoptrace(&db)
        .args(["import", "labels"])
        .arg(corpus("good/base_labels.csv"))
        .assert()
        .success();
    let state = db_state(&db);
    assert_eq!(state.counts, (3, 3, 1, 2), "base store");
    (dir, db)
}

/// Runs `hoptrace --db DB <args> <path>` on a base store and checks that it fails
/// with status 1, that stderr holds every `expected` piece (`{path}` in a piece is
/// replaced by the file's path), and that the store did not change.
fn assert_rejected(args: &[&str], path: &Path, expected: &[&str]) -> String {
    let (_dir, db) = base_store();
    let before = db_state(&db);
    let stats_before = stats(&db);
    let out = hoptrace(&db)
        .args(args)
        .arg(path)
        .output()
        .expect("run hoptrace");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout, got {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.starts_with("hoptrace: error: "),
        "error prefix missing: {stderr}"
    );
    let shown = path.display().to_string();
    for piece in expected {
        let piece = piece.replace("{path}", &shown);
        assert!(stderr.contains(&piece), "stderr lacks {piece:?}:\n{stderr}");
    }
    assert_eq!(db_state(&db), before, "the store changed");
    assert_eq!(stats(&db), stats_before, "stats changed");
    stderr
}

fn rejected_transfers(file: &str, expected: &[&str]) -> String {
    assert_rejected(&["import", "transfers"], &corpus(file), expected)
}

#[test]
fn bad_address() {
    rejected_transfers(
        "bad/bad_address.csv",
        &[
            "{path}:4: column `to`: ",
            r#""0x12345" is not an address: expected 40 hex digits after 0x, found 5"#,
        ],
    );
}

#[test]
fn bad_checksum() {
    rejected_transfers(
        "bad/bad_checksum.csv",
        &[
            "{path}:4: column `from`: ",
            r#""0x098b716B8Aaf21512996dC57EB0615e2383E2f96" fails its EIP-55 checksum"#,
            "(expected 0x098B716B8Aaf21512996dC57EB0615e2383E2f96)",
        ],
    );
}

#[test]
fn negative_amount() {
    rejected_transfers(
        "bad/negative_amount.csv",
        &["{path}:4: column `amount`: ", "amount -5 is negative"],
    );
}

#[test]
fn overflowing_amount() {
    rejected_transfers(
        "bad/overflow_amount.csv",
        &[
            "{path}:4: column `amount`: ",
            "amount 115792089237316195423570985008687907853269984665640564039457584007913129639936 overflows 2^256-1",
        ],
    );
}

#[test]
fn missing_column() {
    rejected_transfers(
        "bad/missing_column.csv",
        &["{path}:1: missing required column(s) amount:"],
    );
}

#[test]
fn non_utf8_field() {
    rejected_transfers(
        "bad/not_utf8.csv",
        &["{path}:4: column `to`: ", "is not valid UTF-8"],
    );
}

#[test]
fn non_utf8_header() {
    rejected_transfers(
        "bad/not_utf8_header.csv",
        &["{path}:1: column 2 of the header is not valid UTF-8"],
    );
}

#[test]
fn empty_file() {
    rejected_transfers(
        "bad/empty.csv",
        &["{path}: the file is empty: expected a CSV header line"],
    );
}

#[test]
fn header_only() {
    rejected_transfers(
        "bad/header_only.csv",
        &["{path}: has a header but no data rows"],
    );
}

#[test]
fn bad_tx_hash() {
    rejected_transfers(
        "bad/bad_tx_hash.csv",
        &[
            "{path}:4: column `tx_hash`: ",
            r#""0xabc" is not a tx hash: expected 0x and 64 hex digits"#,
        ],
    );
}

#[test]
fn bad_block() {
    rejected_transfers(
        "bad/bad_block.csv",
        &[
            "{path}:4: column `block`: ",
            r#""-22" is not a block number: expected a non-negative integer"#,
        ],
    );
}

#[test]
fn wrong_number_of_fields() {
    rejected_transfers(
        "bad/wrong_field_count.csv",
        &[
            "{path}:4: malformed CSV: ",
            "found record with 6 fields, but the previous record has 5 fields",
        ],
    );
}

#[test]
fn bad_kind() {
    rejected_transfers(
        "bad/bad_kind.csv",
        &[
            "{path}:4: column `kind`: ",
            r#"unknown kind "swap": expected native, internal or erc20"#,
        ],
    );
}

#[test]
fn bad_label_category() {
    assert_rejected(
        &["import", "labels"],
        &corpus("bad/labels_bad_category.csv"),
        &[
            "{path}:3: column `category`: ",
            r#"unknown category "casino": expected one of sanctioned, hack,"#,
        ],
    );
}

#[test]
fn score_wallet_with_bad_address() {
    assert_rejected(
        &["score"],
        &corpus("bad/wallets_bad_address.csv"),
        &[
            "{path}:3: column `address`: ",
            r#""0xnothex" is not an address"#,
        ],
    );
}

#[test]
fn check_rejects_invalid_addresses() {
    let (_dir, db) = base_store();
    let before = db_state(&db);
    for (arg, problem) in [
        (
            "0x12",
            r#""0x12" is not an address: expected 40 hex digits after 0x, found 2"#,
        ),
        (
            "a000000000000000000000000000000000000001",
            "is not an address: it must start with 0x",
        ),
        (
            "0x098b716B8Aaf21512996dC57EB0615e2383E2f96",
            "fails its EIP-55 checksum",
        ),
    ] {
        // A good address before the bad one: nothing is printed for it either.
        let out = hoptrace(&db)
            .args(["check", "0xa000000000000000000000000000000000000001", arg])
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arg}: {stderr}");
        assert!(out.stdout.is_empty(), "{arg}: stdout not empty");
        assert!(
            stderr.contains("hoptrace: error: invalid address: ") && stderr.contains(problem),
            "{arg}: {stderr}"
        );
    }
    assert_eq!(db_state(&db), before);
}

/// The csv crate counts a CRLF line ending only once the next record is read, so
/// `Position::line` is one short on CRLF files (BurntSushi/rust-csv#395).
#[test]

fn crlf_file_reports_the_right_line() {
    rejected_transfers(
        "bad/crlf_negative_amount.csv",
        &["{path}:4: column `amount`: ", "amount -5 is negative"],
    );
}

/// The first record after a blank line reports the blank line's number
/// (BurntSushi/rust-csv#208).
#[test]

fn row_after_blank_line_reports_the_right_line() {
    rejected_transfers(
        "bad/blank_line_negative_amount.csv",
        &["{path}:5: column `amount`: ", "amount -5 is negative"],
    );
}

/// Whatever the line number says, a CRLF file with a bad row is still rejected as
/// a whole and leaves the store unchanged.
#[test]
fn crlf_file_with_a_bad_row_is_rolled_back() {
    rejected_transfers(
        "bad/crlf_negative_amount.csv",
        &["column `amount`: ", "amount -5 is negative"],
    );
}

#[test]
fn rejected_file_is_not_remembered() {
    // A rejected file is not recorded as a source: trying again fails the same
    // way instead of saying "already imported".
    let (_dir, db) = base_store();
    let before = db_state(&db);
    let file = corpus("bad/negative_amount.csv");
    for _ in 0..2 {
        let out = hoptrace(&db)
            .args(["import", "transfers"])
            .arg(&file)
            .output()
            .expect("run import");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains("amount -5 is negative"), "{stderr}");
        assert!(!stderr.contains("already imported"), "{stderr}");
    }
    assert_eq!(db_state(&db), before);
}

#[test]
fn same_file_twice_is_already_imported() {
    let (_dir, db) = base_store();
    let before = db_state(&db);
    for (kind, file) in [
        ("transfers", "good/base.csv"),
        ("labels", "good/base_labels.csv"),
    ] {
        let path = corpus(file);
        let out = hoptrace(&db)
            .args(["import", kind])
            .arg(&path)
            .output()
            .expect("run import");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("{}: already imported", path.display())),
            "{stderr}"
        );
        assert!(stderr.contains("nothing changed"), "{stderr}");
    }
    assert_eq!(db_state(&db), before);
}

#[test]
fn same_transfers_in_another_file_store_nothing_new() {
    // The base rows again, in another order, with the columns permuted and an
    // extra column: another file (another digest), the same transfers. Each row
    // has its own tx hash, so every implicit index is 0 in both files.
    let (dir, db) = base_store();
    let before = db_state(&db);
    let other = write(
        dir.path(),
        "same_transfers.csv",
        "note,amount,to,from,tx_hash,block\n\
         third,3000,0xa000000000000000000000000000000000000001,0xa000000000000000000000000000000000000003,0x00000000000000000000000000000000000000000000000000000000000000a3,12\n\
         first,1000,0xa000000000000000000000000000000000000002,0xa000000000000000000000000000000000000001,0x00000000000000000000000000000000000000000000000000000000000000a1,10\n\
         second,2000,0xa000000000000000000000000000000000000003,0xa000000000000000000000000000000000000002,0x00000000000000000000000000000000000000000000000000000000000000a2,11\n",
    );
    let out = hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&other)
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 rows as hoptrace-csv, 0 new transfers"),
        "{stderr}"
    );
    let after = db_state(&db);
    // The file itself is recorded as a source; nothing else changes.
    assert_eq!(after.counts, (3, 3, 1, 3));
    let without_sources = |s: &DbState| -> Vec<String> {
        s.dump
            .iter()
            .filter(|l| !l.starts_with("sources:"))
            .cloned()
            .collect()
    };
    assert_eq!(without_sources(&after), without_sources(&before));
}

#[test]
fn same_transfers_with_explicit_index_store_nothing_new() {
    // One transaction with three internal transfers, numbered by an `index`
    // column; the second file lists them in another order.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let tx = "0x00000000000000000000000000000000000000000000000000000000000000c1";
    let row = |i: u32| {
        format!(
            "40,{tx},0xc000000000000000000000000000000000000001,0xc00000000000000000000000000000000000000{},{},internal,{i}\n",
            i + 2,
            (i + 1) * 100
        )
    };
    let header = "block,tx_hash,from,to,amount,kind,index\n";
    let first = write(
        dir.path(),
        "first.csv",
        &format!("{header}{}{}{}", row(0), row(1), row(2)),
    );
    let second = write(
        dir.path(),
        "second.csv",
        &format!("{header}{}{}{}", row(2), row(0), row(1)),
    );
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&first)
        .assert()
        .success();
    let before = db_state(&db);
    assert_eq!(before.counts, (3, 4, 0, 1));
    let out = hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&second)
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 rows as hoptrace-csv, 0 new transfers"),
        "{stderr}"
    );
    assert_eq!(db_state(&db).counts, (3, 4, 0, 2));
}

#[test]

fn same_transfer_in_another_block_is_stored_once() {
    // DESIGN.md: a transfer is identified by (tx_hash, kind, index). The same
    // transaction seen in another block (a re-included transaction, or a file with
    // a wrong block) is the same transfer, and must not be stored twice.
    let (dir, db) = base_store();
    let before = db_state(&db);
    let moved = write(
        dir.path(),
        "moved.csv",
        "block,tx_hash,from,to,amount\n\
         13,0x00000000000000000000000000000000000000000000000000000000000000a1,0xa000000000000000000000000000000000000001,0xa000000000000000000000000000000000000002,1000\n",
    );
    let out = hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&moved)
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 rows as hoptrace-csv, 0 new transfers"),
        "{stderr}"
    );
    assert_eq!(db_state(&db).counts.0, before.counts.0);
}
