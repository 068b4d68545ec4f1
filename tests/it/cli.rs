//! CLI runs on a small hand-made scenario, snapshot-tested with insta and checked
//! value by value; global options; and imports of the real formats (ethereum-etl
//! fixtures, Etherscan-layout samples).
//!
//! # The scenario (`tests/corpus/scenario/`)
//!
//! Addresses are 40 times one hex digit (`0x5555…` is written S below), except M,
//! the Ronin exploiter, written in its EIP-55 mixed case in the input.
//!
//! Seeds: S sanctioned ("Sanctioned Sam", list test-sdn, no since);
//!        H hack ("Test Bridge Exploiter", list test-hacks, since_block 200).
//! Service: X = 0xeeee… exchange (reached, not expanded).
//!
//! | tx | block | transfer        | what it tests                                  |
//! |----|-------|-----------------|------------------------------------------------|
//! | 01 | 100   | S -> A 10 ETH   | A downstream 1                                 |
//! | 02 |  90   | A -> B 1 ETH    | before the taint reaches A (100): B not reached |
//! | 03 | 110   | A -> C 4 ETH    | C downstream 2                                 |
//! | 04 | 120   | C -> D 3 ETH    | same-block chain: D 3 ...                      |
//! | 05 | 120   | D -> E(0x1111) 2 ETH | ... and E 4, both in block 120            |
//! | 06 | 130   | A -> X 5 ETH    | the exchange is reached: X downstream 2        |
//! | 07 | 140   | X -> F 7 ETH    | not expanded through X: F not reached          |
//! | 08 | 150   | H -> G(0x6666) 1.5 ETH | before H's since (200): G not reached   |
//! | 09 | 250   | H -> K(0x7777) 600 ETH | K downstream 1 (hack)                   |
//! | 0a | 260   | K -> M 12.5 USDT | M downstream 2 (hack), output in lowercase    |
//! | 0b |  80   | U(0x8888) -> S 20 ETH | U upstream 1                             |
//! | 0c |  70   | V(0x9999) -> U 25 ETH | V upstream 2 (70 <= 80)                  |
//! | 0d | 300   | W(0x2222) -> H 0.1 ETH | W upstream 1 (300 >= since 200)         |
//! | 0e | 120   | N(0x3333) -> H 0.2 ETH | before H's since: N not upstream        |
//!
//! Expected hops, worked out by hand (downstream = received from a seed, upstream
//! = sent to a seed):
//!
//! | address | downstream (seed)  | upstream (seed) | risk (nearest)      |
//! |---------|--------------------|-----------------|---------------------|
//! | S       | 0 (S)              | 0 (S)           | severe              |
//! | H       | 0 (H)              | 0 (H)           | severe              |
//! | A       | 1 (S) [01]         | -               | high                |
//! | K       | 1 (H) [09]         | -               | high                |
//! | C       | 2 (S) [01,03]      | -               | medium              |
//! | X       | 2 (S) [01,06]      | -               | medium              |
//! | M       | 2 (H) [09,0a]      | -               | medium              |
//! | D       | 3 (S) [01,03,04]   | -               | low                 |
//! | E       | 4 (S) [01,03,04,05]| -               | low                 |
//! | U       | -                  | 1 (S) [0b]      | high                |
//! | W       | -                  | 1 (H) [0d]      | high                |
//! | V       | -                  | 2 (S) [0c,0b]   | medium              |
//! | B F G N | -                  | -               | none                |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use crate::common::{hoptrace, ok, shared_data, write};

const S: &str = "0x5555555555555555555555555555555555555555";
const H: &str = "0x4444444444444444444444444444444444444444";
const X: &str = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
const A: &str = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "0xcccccccccccccccccccccccccccccccccccccccc";
const D: &str = "0xdddddddddddddddddddddddddddddddddddddddd";
const E: &str = "0x1111111111111111111111111111111111111111";
const F: &str = "0xffffffffffffffffffffffffffffffffffffffff";
const G: &str = "0x6666666666666666666666666666666666666666";
const K: &str = "0x7777777777777777777777777777777777777777";
const M: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
const M_CHECKSUMMED: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";
const U: &str = "0x8888888888888888888888888888888888888888";
const V: &str = "0x9999999999999999999999999999999999999999";
const W: &str = "0x2222222222222222222222222222222222222222";
const N: &str = "0x3333333333333333333333333333333333333333";
const UNKNOWN: &str = "0x0000000000000000000000000000000000000001";
const USDT: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";

/// Every finding of `trace` on the scenario, in output order (downstream first,
/// then by hops and address): (address, direction, hops, seed, seed category).
const FINDINGS: [(&str, &str, u32, &str, &str); 14] = [
    (H, "downstream", 0, H, "hack"),
    (S, "downstream", 0, S, "sanctioned"),
    (K, "downstream", 1, H, "hack"),
    (A, "downstream", 1, S, "sanctioned"),
    (M, "downstream", 2, H, "hack"),
    (C, "downstream", 2, S, "sanctioned"),
    (X, "downstream", 2, S, "sanctioned"),
    (D, "downstream", 3, S, "sanctioned"),
    (E, "downstream", 4, S, "sanctioned"),
    (H, "upstream", 0, H, "hack"),
    (S, "upstream", 0, S, "sanctioned"),
    (W, "upstream", 1, H, "hack"),
    (U, "upstream", 1, S, "sanctioned"),
    (V, "upstream", 2, S, "sanctioned"),
];

/// A file of the test corpus.
fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(rel)
}

/// The seed's `since` block.
fn since(seed: &str) -> u64 {
    if seed == H { 200 } else { 0 }
}

/// A temporary store with the scenario imported.
struct Scenario {
    dir: TempDir,
    db: PathBuf,
}

fn scenario() -> Scenario {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("scenario.db");
    let (_, err) = ok(hoptrace(&db)
        .args(["import", "transfers"])
        .arg(corpus("scenario/transfers.csv")));
    assert!(
        err.contains(
            "14 rows as hoptrace-csv, 14 new transfers, 0 failed-transaction rows skipped"
        ),
        "{err}"
    );
    let (_, err) = ok(hoptrace(&db)
        .args(["import", "labels"])
        .arg(corpus("scenario/labels.csv")));
    assert!(err.contains("3 labels, 3 new or changed"), "{err}");
    Scenario { dir, db }
}

/// Makes output deterministic: the temporary directory becomes `[TMP]` and the
/// import rate `(1234 rows/s)` becomes `([RATE] rows/s)`.
fn redact(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "[TMP]");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(end) = rest.find(" rows/s)") {
        let open = rest[..end].rfind('(').expect("rate in parentheses");
        out.push_str(&rest[..=open]);
        out.push_str("[RATE] rows/s)");
        rest = &rest[end + " rows/s)".len()..];
    }
    out.push_str(rest);
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// Checks one finding's evidence path: `hops` transfers, chained, blocks never
/// decreasing, the first at or after the seed's `since`, from the seed
/// (downstream) or to the seed (upstream), and every address in lowercase.
fn check_path(f: &Value) {
    let address = str_of(f, "address");
    let seed = str_of(f, "seed");
    let path = f["path"].as_array().expect("path array");
    assert_eq!(path.len() as u64, u64_of(f, "hops"), "path length of {f}");
    for p in path {
        for key in ["from", "to", "tx_hash", "asset"] {
            let s = str_of(p, key);
            if s != "ETH" {
                assert!(s.starts_with("0x"), "{key} not hex in {p}");
                assert_eq!(s, s.to_lowercase(), "{key} not lowercase in {p}");
            }
        }
    }
    for pair in path.windows(2) {
        assert!(
            u64_of(&pair[0], "block") <= u64_of(&pair[1], "block"),
            "blocks decrease along {f}"
        );
        assert_eq!(
            str_of(&pair[0], "to"),
            str_of(&pair[1], "from"),
            "path not chained in {f}"
        );
    }
    let (Some(first), Some(last)) = (path.first(), path.last()) else {
        assert_eq!(address, seed, "an empty path belongs to a seed");
        return;
    };
    match str_of(f, "direction") {
        "downstream" => {
            assert_eq!(
                str_of(first, "from"),
                seed,
                "downstream path starts at the seed: {f}"
            );
            assert_eq!(
                str_of(last, "to"),
                address,
                "downstream path ends at the address: {f}"
            );
            assert!(
                u64_of(first, "block") >= since(seed),
                "before the seed's since: {f}"
            );
        }
        "upstream" => {
            assert_eq!(
                str_of(first, "from"),
                address,
                "upstream path starts at the address: {f}"
            );
            assert_eq!(
                str_of(last, "to"),
                seed,
                "upstream path ends at the seed: {f}"
            );
            assert!(
                u64_of(last, "block") >= since(seed),
                "before the seed's since: {f}"
            );
        }
        other => panic!("direction {other}"),
    }
}

/// (address, direction, hops, seed, category) of JSON findings.
fn summary(findings: &[Value]) -> Vec<(String, String, u32, String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                str_of(f, "address").to_string(),
                str_of(f, "direction").to_string(),
                u64_of(f, "hops") as u32,
                str_of(f, "seed").to_string(),
                str_of(f, "seed_category").to_string(),
            )
        })
        .collect()
}

fn expected(direction: Option<&str>) -> Vec<(String, String, u32, String, String)> {
    FINDINGS
        .iter()
        .filter(|f| direction.is_none_or(|d| f.1 == d))
        .map(|&(a, d, h, s, c)| (a.into(), d.into(), h, s.into(), c.into()))
        .collect()
}

/// The block numbers along a finding's path.
fn blocks(f: &Value) -> Vec<u64> {
    f["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|p| u64_of(p, "block"))
        .collect()
}

#[test]
fn trace_csv() {
    let sc = scenario();
    let (out, err) = ok(hoptrace(&sc.db).args(["trace", "--format", "csv"]));
    assert_eq!(err, "");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        [
            "address",
            "direction",
            "hops",
            "seed",
            "seed_category",
            "seed_name",
            "seed_lists",
            "path",
            "seed_sources",
            "share",
            "tainted",
            "asset",
            "score",
            "score_level",
            "policy_hash"
        ]
    );
    let mut got = Vec::new();
    for row in reader.records() {
        let row = row.expect("csv row");
        let hops: u32 = row[2].parse().expect("hops");
        let path: Vec<&str> = if row[7].is_empty() {
            Vec::new()
        } else {
            row[7].split('>').collect()
        };
        assert_eq!(path.len() as u32, hops, "path of {row:?}");
        let (name, lists) = if &row[3] == H {
            ("Test Bridge Exploiter", "test-hacks")
        } else {
            ("Sanctioned Sam", "test-sdn")
        };
        assert_eq!((&row[5], &row[6]), (name, lists), "{row:?}");
        got.push((
            row[0].to_string(),
            row[1].to_string(),
            hops,
            row[3].to_string(),
            row[4].to_string(),
        ));
        if &row[0] == E && &row[1] == "downstream" {
            let tx = |n: &str| format!("0x{}", n.repeat(32));
            assert_eq!(path, [tx("01"), tx("03"), tx("04"), tx("05")]);
        }
    }
    assert_eq!(got, expected(None));
    insta::assert_snapshot!("trace_csv", out);
}

#[test]
fn trace_json_downstream() {
    let sc = scenario();
    let (out, _) =
        ok(hoptrace(&sc.db).args(["trace", "--format", "json", "--direction", "downstream"]));
    assert!(!out.contains(M_CHECKSUMMED), "addresses must be lowercase");
    let findings: Vec<Value> = serde_json::from_str(&out).expect("json array");
    assert_eq!(summary(&findings), expected(Some("downstream")));
    findings.iter().for_each(check_path);
    let by_address: BTreeMap<&str, &Value> =
        findings.iter().map(|f| (str_of(f, "address"), f)).collect();
    // Not reached: paid before the taint arrived (B), behind the exchange (F),
    // paid before the hack's since (G), and the upstream-only addresses.
    for a in [B, F, G, N, U, V, W] {
        assert!(!by_address.contains_key(a), "{a} must not be downstream");
    }
    // The same-block chain.
    assert_eq!(blocks(by_address[E]), [100, 110, 120, 120]);
    assert_eq!(blocks(by_address[D]), [100, 110, 120]);
    // The exchange is reached, with its evidence.
    assert_eq!(blocks(by_address[X]), [100, 130]);
    assert_eq!(by_address[X]["path"][1]["amount"], "5000000000000000000");
    // The hack: first transfer at 250 (the one at 150 predates since 200), then
    // the USDT transfer to the checksummed address.
    assert_eq!(blocks(by_address[M]), [250, 260]);
    let usdt = &by_address[M]["path"][1];
    assert_eq!(
        (
            str_of(usdt, "asset"),
            str_of(usdt, "amount"),
            str_of(usdt, "kind"),
            str_of(usdt, "to")
        ),
        (USDT, "12500000", "erc20", M)
    );
    assert_eq!(by_address[K]["path"][0]["amount"], "600000000000000000000");
    assert_eq!(
        by_address[H]["seed_lists"],
        serde_json::json!(["test-hacks"])
    );
    insta::assert_snapshot!("trace_json_downstream", out);
}

#[test]
fn trace_jsonl_upstream() {
    let sc = scenario();
    let (out, _) =
        ok(hoptrace(&sc.db).args(["trace", "--format", "jsonl", "--direction", "upstream"]));
    let findings: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(summary(&findings), expected(Some("upstream")));
    findings.iter().for_each(check_path);
    let v = findings.iter().find(|f| f["address"] == V).expect("V");
    assert_eq!(blocks(v), [70, 80]);
    assert_eq!(str_of(&v["path"][0], "to"), U);
    let w = findings.iter().find(|f| f["address"] == W).expect("W");
    assert_eq!(blocks(w), [300]);
    insta::assert_snapshot!("trace_jsonl_upstream", out);
}

#[test]
fn trace_table() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db).args(["trace", "--format", "table"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + 14 + 1, "header, 14 findings, count");
    assert_eq!(lines.last(), Some(&"14 finding(s)"));
    let e_line = lines.iter().find(|l| l.starts_with(E)).expect("E row");
    let cells: Vec<&str> = e_line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            E,
            "downstream",
            "4",
            "sanctioned",
            "Sanctioned",
            "Sam",
            "100"
        ]
    );
    assert!(!out.contains(M_CHECKSUMMED));
    insta::assert_snapshot!("trace_table", out);
}

#[test]
fn trace_max_hops_limits_the_search() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db).args(["trace", "--format", "jsonl", "--max-hops", "1"]));
    let findings: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let want: Vec<_> = expected(None).into_iter().filter(|f| f.2 <= 1).collect();
    assert_eq!(summary(&findings), want);
}

#[test]
fn check_json() {
    let sc = scenario();
    let (out, _) =
        ok(hoptrace(&sc.db).args(["check", M_CHECKSUMMED, E, X, B, UNKNOWN, "--format", "json"]));
    assert!(!out.contains(M_CHECKSUMMED));
    let results: Vec<Value> = serde_json::from_str(&out).expect("json array");
    assert_eq!(results.len(), 5);
    let m = &results[0];
    assert_eq!(m["address"], M);
    assert_eq!(
        (m["known"].as_bool(), m["is_seed"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (m["downstream_hops"].as_u64(), m["upstream_hops"].as_u64()),
        (Some(2), None)
    );
    assert_eq!(m["risk_level"], "medium");
    assert_eq!(m["downstream"]["seed"], H);
    assert_eq!(m["downstream"]["seed_category"], "hack");
    assert_eq!(m["downstream"]["seed_name"], "Test Bridge Exploiter");
    assert!(m["upstream"].is_null());
    check_path(&m["downstream"]);
    let e = &results[1];
    assert_eq!(
        (e["downstream_hops"].as_u64(), e["risk_level"].as_str()),
        (Some(4), Some("low"))
    );
    check_path(&e["downstream"]);
    let x = &results[2];
    assert_eq!(x["labels"], serde_json::json!(["exchange:test-services"]));
    assert_eq!(
        (x["downstream_hops"].as_u64(), x["risk_level"].as_str()),
        (Some(2), Some("medium"))
    );
    let b = &results[3];
    assert_eq!(
        (b["known"].as_bool(), b["risk_level"].as_str()),
        (Some(true), Some("none"))
    );
    assert!(b["downstream"].is_null() && b["upstream"].is_null());
    let unknown = &results[4];
    assert_eq!(unknown["address"], UNKNOWN);
    assert_eq!(unknown["known"].as_bool(), Some(false));
    insta::assert_snapshot!("check_json", out);
}

#[test]
fn check_table() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db).args(["check", M_CHECKSUMMED, S, U, B, UNKNOWN]));
    assert!(out.contains(&format!("{M}  risk: medium")), "{out}");
    assert!(out.contains(&format!(
        "  downstream 2 hop(s) from hack {H} (Test Bridge Exploiter)"
    )));
    assert!(out.contains(&format!("{S}  risk: severe\n  labels: sanctioned:test-sdn")));
    assert!(out.contains(&format!(
        "{U}  risk: high\n  upstream 1 hop(s) from sanctioned {S}"
    )));
    assert!(out.contains(&format!("{B}  risk: none\n  not reached from any seed")));
    assert!(out.contains(&format!("{UNKNOWN}  risk: none\n  not in the store")));
    assert!(!out.contains(M_CHECKSUMMED));
    insta::assert_snapshot!("check_table", out);
}

/// (address as written, note, downstream_hops, upstream_hops, seed_category,
/// risk_level) for every wallet of `scenario/wallets.csv`.
const SCORES: [[&str; 6]; 9] = [
    [S, "the sanctioned seed", "0", "0", "sanctioned", "severe"],
    [A, "paid by the seed", "1", "", "sanctioned", "high"],
    [X, "exchange deposit", "2", "", "sanctioned", "medium"],
    [
        M_CHECKSUMMED,
        "checksummed, 2 hops from the hack",
        "2",
        "",
        "hack",
        "medium",
    ],
    [
        E,
        "end of the same-block chain",
        "4",
        "",
        "sanctioned",
        "low",
    ],
    [B, "paid before the taint arrived", "", "", "", ""],
    [U, "sent to the seed", "", "1", "sanctioned", "high"],
    [G, "paid by the hacker before the hack", "", "", "", ""],
    [UNKNOWN, "never seen", "", "", "", ""],
];

#[test]
fn score_csv() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db)
        .arg("score")
        .arg(corpus("scenario/wallets.csv")));
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        [
            "address",
            "note",
            "downstream_hops",
            "upstream_hops",
            "seed_category",
            "risk_level",
            "score",
            "score_level",
            "downstream_share",
            "downstream_tainted",
            "downstream_asset",
            "policy_hash",
            "data_block"
        ]
    );
    // The hop columns keep their meaning; the score columns come after them.
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().take(6).map(str::to_string).collect())
        .collect();
    let want: Vec<Vec<String>> = SCORES
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(rows, want);
    insta::assert_snapshot!("score_csv", out);
}

#[test]
fn score_table() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db)
        .arg("score")
        .arg(corpus("scenario/wallets.csv"))
        .args(["--format", "table"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + SCORES.len());
    for (line, want) in lines[1..].iter().zip(SCORES) {
        assert!(line.starts_with(want[0]), "{line}");
        let level = if want[5].is_empty() { "none" } else { want[5] };
        assert!(line.ends_with(level), "{line} should end with {level}");
        assert!(line.contains(want[1]), "{line}");
    }
    insta::assert_snapshot!("score_table", out);
}

#[test]
fn import_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("messages.db");
    let transfers = write(
        dir.path(),
        "transfers.csv",
        &std::fs::read_to_string(corpus("scenario/transfers.csv")).expect("read"),
    );
    let labels = write(
        dir.path(),
        "labels.csv",
        &std::fs::read_to_string(corpus("scenario/labels.csv")).expect("read"),
    );
    let mut messages = String::new();
    for _ in 0..2 {
        let (out, err) = ok(hoptrace(&db).args(["import", "transfers"]).arg(&transfers));
        assert_eq!(out, "");
        messages.push_str(&err);
        let (out, err) = ok(hoptrace(&db).args(["import", "labels"]).arg(&labels));
        assert_eq!(out, "");
        messages.push_str(&err);
    }
    let messages = redact(&messages, dir.path());
    assert_eq!(
        messages,
        "[TMP]/transfers.csv: 14 rows as hoptrace-csv, 14 new transfers, 0 failed-transaction rows skipped ([RATE] rows/s)\n\
         [TMP]/labels.csv: 3 labels, 3 new or changed\n\
         [TMP]/transfers.csv: already imported (14 rows, hoptrace-csv); nothing changed\n\
         [TMP]/labels.csv: already imported; nothing changed\n"
    );
    insta::assert_snapshot!("import_messages", messages);
}

#[test]
fn stats() {
    let sc = scenario();
    let (out, _) = ok(hoptrace(&sc.db).arg("stats"));
    // 16 addresses: S H X A B C D E F G K M U V W N.
    assert!(out.contains("\ntransfers     14\naddresses     16\nlabels        3\nsources       2\nlatest block  300\n"), "{out}");
    insta::assert_snapshot!("stats", redact(&out, sc.dir.path()));
}

#[test]
fn demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let (out, err) = ok(cmd
        .env_remove("HOPTRACE_DB")
        .current_dir(dir.path())
        .arg("demo"));
    assert!(
        err.contains(
            "ronin-tornado-withdrawals.csv: 1732 rows as hoptrace-csv, 1732 new transfers"
        ),
        "{err}"
    );
    assert!(
        err.contains("ofac-and-tornado-labels.csv: 158 labels, 158 new or changed"),
        "{err}"
    );
    // The demo uses its own temporary database, not one in the current directory.
    assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0);
    let row = |address: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(address))
            .unwrap_or_else(|| panic!("{address} missing from\n{out}"))
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row(M), [M, "Primary", "0", "0", "sanctioned", "severe"]);
    assert_eq!(
        row("0xc4ba2b9bb109ae61ecdb5810967a7be65ddf33f5"),
        [
            "0xc4ba2b9bb109ae61ecdb5810967a7be65ddf33f5",
            "TC Withdrawer",
            "1",
            "sanctioned",
            "high"
        ]
    );
    assert_eq!(
        row("0x17a96cd2aff8bece22b54a83955fbab5c92a98ca"),
        [
            "0x17a96cd2aff8bece22b54a83955fbab5c92a98ca",
            "Huobi Deposit Address",
            "none"
        ]
    );
    insta::assert_snapshot!("demo", out);
}

#[test]
fn output_file_gets_what_stdout_would() {
    let sc = scenario();
    let (on_stdout, _) = ok(hoptrace(&sc.db).args(["trace", "--format", "json"]));
    let file = sc.dir.path().join("findings.json");
    let (out, err) = ok(hoptrace(&sc.db)
        .args(["trace", "--format", "json", "-o"])
        .arg(&file));
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    assert_eq!(
        std::fs::read_to_string(&file).expect("output file"),
        on_stdout
    );

    let (on_stdout, _) = ok(hoptrace(&sc.db)
        .arg("score")
        .arg(corpus("scenario/wallets.csv")));
    let file = sc.dir.path().join("scores.csv");
    let (out, _) = ok(hoptrace(&sc.db)
        .arg("score")
        .arg(corpus("scenario/wallets.csv"))
        .arg("--output")
        .arg(&file));
    assert_eq!(out, "");
    assert_eq!(
        std::fs::read_to_string(&file).expect("output file"),
        on_stdout
    );
}

#[test]
fn output_file_in_a_missing_directory_fails_cleanly() {
    let sc = scenario();
    let file = sc.dir.path().join("no-such-dir/findings.csv");
    let out = hoptrace(&sc.db)
        .args(["trace", "-o"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("hoptrace: error: cannot write in "),
        "{err}"
    );
    assert!(!file.exists());
}

#[test]
fn db_option_before_or_after_the_subcommand() {
    let sc = scenario();
    let (before, _) = ok(hoptrace(&sc.db).args(["trace", "--format", "csv"]));
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let (after, _) = ok(cmd
        .env_remove("HOPTRACE_DB")
        .current_dir(sc.dir.path())
        .args(["trace", "--format", "csv", "--db"])
        .arg(&sc.db));
    assert_eq!(after, before);
    assert_eq!(summary_csv(&after).len(), FINDINGS.len());
}

fn summary_csv(out: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(out.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("csv")
}

#[test]
fn hoptrace_db_environment_variable() {
    let sc = scenario();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let (out, _) = ok(cmd
        .env("HOPTRACE_DB", &sc.db)
        .current_dir(elsewhere.path())
        .arg("stats"));
    assert!(
        out.contains(&format!("database      {}\n", sc.db.display())),
        "{out}"
    );
    assert!(out.contains("transfers     14\n"), "{out}");

    // --db wins over the environment.
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let (out, _) = ok(cmd
        .env("HOPTRACE_DB", elsewhere.path().join("missing.db"))
        .current_dir(elsewhere.path())
        .arg("--db")
        .arg(&sc.db)
        .arg("stats"));
    assert!(out.contains("transfers     14\n"), "{out}");

    // A missing database named by the environment is an error, not a new file.
    let missing = elsewhere.path().join("missing.db");
    let out = Command::cargo_bin("hoptrace")
        .expect("binary")
        .env("HOPTRACE_DB", &missing)
        .current_dir(elsewhere.path())
        .args(["trace"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("database {} does not exist", missing.display())),
        "{err}"
    );
    assert!(!missing.exists());
}

#[test]

fn labels_file_imported_again_under_another_list() {
    let sc = scenario();
    let labels = write(
        sc.dir.path(),
        "plain.csv",
        &format!("address,category\n{A},scam\n"),
    );
    ok(hoptrace(&sc.db)
        .args(["import", "labels", "--list", "first"])
        .arg(&labels));
    ok(hoptrace(&sc.db)
        .args(["import", "labels", "--list", "second"])
        .arg(&labels));
    let (out, _) = ok(hoptrace(&sc.db).args(["check", A, "--format", "json"]));
    let results: Vec<Value> = serde_json::from_str(&out).expect("json");
    assert_eq!(
        results[0]["labels"],
        serde_json::json!(["scam:first", "scam:second"])
    );
}

// ---------------------------------------------------------------------------
// Real formats.

/// One stored transfer, read back from SQLite: (tx hash, kind code, index, block,
/// from, to, asset, amount), hex in lowercase, the amount in decimal.
type Stored = (String, i64, i64, i64, String, String, String, String);

fn stored(db: &Path) -> Vec<Stored> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT lower(hex(t.tx_hash)), t.kind, t.idx, t.block, lower(hex(fa.address)),
                    lower(hex(ta.address)), s.asset, t.amount
             FROM transfers t
             JOIN addresses fa ON fa.id = t.from_id
             JOIN addresses ta ON ta.id = t.to_id
             JOIN assets s ON s.id = t.asset_id
             ORDER BY t.block, t.tx_hash, t.kind, t.idx",
        )
        .expect("prepare");
    stmt.query_map([], |r| {
        let amount: Vec<u8> = r.get(7)?;
        Ok((
            format!("0x{}", r.get::<_, String>(0)?),
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            format!("0x{}", r.get::<_, String>(4)?),
            format!("0x{}", r.get::<_, String>(5)?),
            r.get(6)?,
            U256::from_be_slice(&amount).to_string(),
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn etl(rel: &str) -> PathBuf {
    shared_data().join("ethereum-etl-fixtures").join(rel)
}

/// Rows of a CSV file and how many have a non-empty `column`, counted with the
/// csv crate independently of hoptrace.
fn count_rows(path: &Path, column: &str) -> (usize, usize) {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    let i = reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == column)
        .expect("column");
    let mut rows = 0;
    let mut with = 0;
    for r in reader.records() {
        rows += 1;
        if !r.expect("row")[i].is_empty() {
            with += 1;
        }
    }
    (rows, with)
}

fn import(db: &Path, file: &Path) -> String {
    let (out, err) = ok(hoptrace(db).args(["import", "transfers"]).arg(file));
    assert_eq!(out, "");
    err
}

#[test]

fn ethereum_etl_transactions_with_a_contract_creation() {
    // 298 transactions in blocks 17173049-17173050; one (line 233, tx 0xf9e4ca8a…)
    // creates a contract: empty to_address and, in this export, no
    // receipt_contract_address column to say where the value went. 163 rows move
    // zero value (the creation among them); zero-value rows are stored too.
    let file = etl(
        "test_export_blocks_job/blocks_with_transactions_and_withdrawals/expected_transactions.csv",
    );
    assert_eq!(count_rows(&file, "to_address"), (298, 297));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etl.db");
    let err = import(&db, &file);
    assert!(
        err.contains(&format!(
            "{}: 298 rows as ethereum-etl-transactions",
            file.display()
        )),
        "{err}"
    );
    let rows = stored(&db);
    assert_eq!(rows.len(), 297);
    assert_eq!(rows.iter().filter(|r| r.7 == "0").count(), 162);
}

#[test]
fn ethereum_etl_transactions() {
    // 4 transactions in blocks 47218-47219, all with a receiver and a value.
    let file = etl("test_export_blocks_job/blocks_with_transactions/expected_transactions.csv");
    assert_eq!(count_rows(&file, "to_address"), (4, 4));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etl.db");
    let err = import(&db, &file);
    assert!(
        err.contains(&format!(
            "{}: 4 rows as ethereum-etl-transactions, 4 new transfers, 0 failed-transaction rows skipped",
            file.display()
        )),
        "{err}"
    );
    let rows = stored(&db);
    let want: [(&str, i64, &str, &str, &str); 4] = [
        (
            "0x95844e6c54b4aafc8e1f75784127529280e75c3a980d91f6dfca1c1b0eb078fb",
            47218,
            "0xe6a7a1d47ff21b6321162aea7c6cb457d5476bca",
            "0xee80ef3c49d9465c7fc2b3d7373fdbbbc3fe282f",
            "8140416390630760000",
        ),
        (
            "0x99f1097abd8f33a68f0ed63d60de5f3e7e2a3e0579b90d5f46a4f201c658b46d",
            47218,
            "0x1406854d149e081ac09cb4ca560da463f3123059",
            "0xa0e74ae010d51894734c308d612131056bb721ad",
            "110000000000000000000",
        ),
        (
            "0x4bcc1dd0c56c0b767b1ee3cb8bce7df44518f1696205299e34eb53a5e00a863e",
            47219,
            "0xf9a19aea1193d9b9e4ef2f5b8c9ec8df93a22356",
            "0x32be343b94f860124dc4fee278fdcbd38c102d88",
            "1998716170000000000",
        ),
        (
            "0xbd5ab8937e52a6244209d804471be4878df6c364bca0111dd6d05e0d3edf63cf",
            47219,
            "0xe6a7a1d47ff21b6321162aea7c6cb457d5476bca",
            "0xe25e3a1947405a1f82dd8e3048a9ca471dc782e1",
            "8306052477120672000",
        ),
    ];
    let got: Vec<(&str, i64, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            assert_eq!(
                (r.1, r.2, r.6.as_str()),
                (0, 0, "ETH"),
                "native, index 0: {r:?}"
            );
            (r.0.as_str(), r.3, r.4.as_str(), r.5.as_str(), r.7.as_str())
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn ethereum_etl_token_transfers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etl.db");
    let files = [
        etl("test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv"),
        etl("test_extract_token_transfers_job/logs/expected_token_transfers.csv"),
    ];
    for file in &files {
        assert_eq!(count_rows(file, "to_address"), (2, 2));
        let err = import(&db, file);
        assert!(
            err.contains(&format!(
                "{}: 2 rows as ethereum-etl-token-transfers, 2 new transfers",
                file.display()
            )),
            "{err}"
        );
    }
    let got: Vec<(i64, i64, String, String, String)> = stored(&db)
        .into_iter()
        .map(|r| {
            assert_eq!(r.1, 2, "erc20: {r:?}");
            (r.3, r.2, r.0, r.6, r.7)
        })
        .collect();
    // (block, index = log_index, tx hash, token, value), as in the files.
    let want = [
        (
            483920,
            0,
            "0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8",
            "0xf4eced2f682ce333f96f2d8966c613ded8fc95dd",
            "100000",
        ),
        (
            483920,
            1,
            "0xcea6f89720cc1d2f46cc7a935463ae0b99dd5fad9c91bb7357de5421511cee49",
            "0xf4eced2f682ce333f96f2d8966c613ded8fc95dd",
            "200000",
        ),
        (
            1452581,
            3,
            "0x5cb4fc2e3d217f3c286358d6bc042259c8befb0dabe450567a987f5770043157",
            "0xc66ea802717bfb9833400264dd12c2bceaa34a6d",
            "109000000000000000000",
        ),
        (
            1452581,
            5,
            "0xcded4ed21d5825c063833ed599814a0f687e3e411657a5ee1170ac625df607b7",
            "0xe0b7927c4af23765cb51314a0e0521a9645f0e2a",
            "40000000000",
        ),
    ]
    .map(|(b, i, h, t, v)| (b, i, h.to_string(), t.to_string(), v.to_string()));
    assert_eq!(got, want);
}

// The Etherscan samples (hand-made, in Etherscan's export layout; see
// tests/corpus/README.md). P is the exported wallet.
const P: &str = "0x00000000000000000000000000000000000000a1";
const PAYER: &str = "0x00000000000000000000000000000000000000b1";
const R: &str = "0x00000000000000000000000000000000000000c1";
const FAILED_TO: &str = "0x00000000000000000000000000000000000000d1";
const CREATED: &str = "0x00000000000000000000000000000000000000e1";
const ROUTER: &str = "0x00000000000000000000000000000000000000f1";
const Y: &str = "0x00000000000000000000000000000000000000a2";
const DAI: &str = "0x6b175474e89094c44da98b954eedeac495271d0f";
const WBTC: &str = "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599";

fn tx(byte: &str) -> String {
    format!("0x{}", byte.repeat(32))
}

#[test]
fn etherscan_normal_and_token_exports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etherscan.db");
    let normal = corpus("etherscan/normal.csv");
    let err = import(&db, &normal);
    assert!(
        err.contains(&format!(
            "{}: 4 rows as etherscan-transactions, 3 new transfers, 1 failed-transaction rows skipped",
            normal.display()
        )),
        "{err}"
    );
    let tokens = corpus("etherscan/tokens.csv");
    let err = import(&db, &tokens);
    assert!(
        err.contains(&format!(
            "{}: 3 rows as etherscan-tokens, 3 new transfers, 0 failed-transaction rows skipped",
            tokens.display()
        )),
        "{err}"
    );
    let got: Vec<Stored> = stored(&db);
    let want: Vec<Stored> = [
        // 1.5 ETH in Value_IN(ETH).
        (
            tx("e1"),
            0,
            15000001,
            PAYER,
            P,
            "ETH",
            "1500000000000000000",
        ),
        // 0.25 ETH in Value_OUT(ETH).
        (tx("e2"), 0, 15000010, P, R, "ETH", "250000000000000000"),
        // e3 failed (Status Error(0), ErrCode "Out of gas"): skipped.
        // A contract creation: empty To, the receiver is ContractAddress; zero value.
        (tx("e4"), 0, 15000030, P, CREATED, "ETH", "0"),
        // 12.5 USDT, 6 decimals.
        (tx("a1"), 2, 15000060, P, Y, USDT, "12500000"),
        // "1,000.5" DAI, 18 decimals.
        (
            tx("a2"),
            2,
            15000070,
            PAYER,
            P,
            DAI,
            "1000500000000000000000",
        ),
        // 0.5 WBTC, 8 decimals.
        (tx("a3"), 2, 15000080, P, R, WBTC, "50000000"),
    ]
    .into_iter()
    .map(|(h, kind, block, from, to, asset, amount)| {
        (
            h,
            kind,
            0,
            block,
            from.into(),
            to.into(),
            asset.into(),
            amount.into(),
        )
    })
    .collect();
    assert_eq!(got, want);
    assert!(!got.iter().any(|r| r.5 == FAILED_TO || r.0 == tx("e3")));

    // The same amounts as evidence in a trace from the payer.
    let labels = write(
        dir.path(),
        "labels.csv",
        &format!("address,category,name\n{PAYER},sanctioned,Payer\n"),
    );
    ok(hoptrace(&db).args(["import", "labels"]).arg(&labels));
    let (out, _) =
        ok(hoptrace(&db).args(["trace", "--format", "json", "--direction", "downstream"]));
    let findings: Vec<Value> = serde_json::from_str(&out).expect("json");
    findings.iter().for_each(check_path);
    let find = |a: &str| findings.iter().find(|f| f["address"] == a);
    let p = find(P).expect("P reached");
    assert_eq!(p["hops"], 1);
    assert_eq!(p["path"][0]["amount"], "1500000000000000000");
    assert_eq!(p["path"][0]["asset"], "ETH");
    let y = find(Y).expect("Y reached");
    assert_eq!(y["hops"], 2);
    assert_eq!(
        (
            y["path"][1]["asset"].as_str(),
            y["path"][1]["amount"].as_str()
        ),
        (Some(USDT), Some("12500000"))
    );
    let r = find(R).expect("R reached");
    assert_eq!(r["path"][1]["amount"], "250000000000000000");
    // Zero-value transfers move nothing; failed ones are not there at all.
    assert!(find(CREATED).is_none());
    let (out, _) = ok(hoptrace(&db).args(["check", FAILED_TO, "--format", "json"]));
    let results: Vec<Value> = serde_json::from_str(&out).expect("json");
    assert_eq!(results[0]["known"].as_bool(), Some(false));
}

#[test]
fn etherscan_internal_export_skips_the_failed_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etherscan.db");
    let internal = corpus("etherscan/internal.csv");
    let err = import(&db, &internal);
    assert!(
        err.contains(&format!(
            "{}: 3 rows as etherscan-internal",
            internal.display()
        )),
        "{err}"
    );
    // Tx f2 failed (Status 1, ErrCode "Reverted"): it moved nothing.
    assert!(!stored(&db).iter().any(|r| r.0 == tx("f2")));
}

#[test]

fn etherscan_internal_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("etherscan.db");
    let internal = corpus("etherscan/internal.csv");
    let err = import(&db, &internal);
    assert!(
        err.contains(&format!(
            "{}: 3 rows as etherscan-internal, 2 new transfers, 1 failed-transaction rows skipped",
            internal.display()
        )),
        "{err}"
    );
    let want: Vec<Stored> = [(0, "750000000000000000"), (1, "10000000000000000")]
        .into_iter()
        .map(|(idx, amount)| {
            (
                tx("f1"),
                1,
                idx,
                15000040,
                ROUTER.into(),
                P.into(),
                "ETH".into(),
                amount.into(),
            )
        })
        .collect();
    assert_eq!(stored(&db), want);
}

#[test]
fn redact_replaces_rates_and_paths() {
    let dir = Path::new("/tmp/x");
    assert_eq!(
        redact("/tmp/x/a.csv: 3 rows (123 rows/s)\nb (9 rows/s)\n", dir),
        "[TMP]/a.csv: 3 rows ([RATE] rows/s)\nb ([RATE] rows/s)\n"
    );
}

/// `trace ... | head` is how people look at a large trace: once the reader has
/// what it wants and closes the pipe, hoptrace stops quietly with success, in
/// every format.
#[test]
fn a_closed_pipe_ends_trace_quietly() {
    use std::io::Read;
    use std::process::{Command as StdCommand, Stdio};
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("pipe.db");
    crate::common::import_both(
        &db,
        &crate::common::fixtures().join("ronin/transfers.csv"),
        &crate::common::fixtures().join("ronin/labels.csv"),
    );
    for format in ["csv", "json", "jsonl", "table"] {
        // The whole output is larger than a pipe's buffer (64 KiB on Linux).
        let (all, _) = ok(hoptrace(&db).args(["trace", "--format", format]));
        assert!(all.len() > 80_000, "{format}: {} bytes", all.len());
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("hoptrace"))
            .env_remove("HOPTRACE_DB")
            .arg("--db")
            .arg(&db)
            .args(["trace", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 10];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        assert_eq!(&head[..], &all.as_bytes()[..10], "{format}");
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{format}: {:?}", out.status);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
    }
}

/// `bench --haircut-only --assets K` runs the haircut over K assets and writes its
/// figures; `--assets 0` is a usage error.
#[test]
fn bench_haircut_over_many_assets() {
    let dir = TempDir::new().unwrap();
    let json = dir.path().join("figures.json");
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let (out, _) = ok(cmd
        .args(["bench", "--haircut-only", "--transfers", "20000"])
        .args([
            "--addresses",
            "2000",
            "--seeds",
            "10",
            "--assets",
            "6",
            "--json",
        ])
        .arg(&json));
    assert!(
        out.contains("haircut       20000 transfers, 10 seeds:"),
        "{out}"
    );
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(figures["haircut_s"].as_f64().unwrap() > 0.0, "{figures}");
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary");
    let out = cmd
        .args(["bench", "--haircut-only", "--assets", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--assets"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
