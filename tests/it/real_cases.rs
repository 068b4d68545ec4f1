//! Real cases: the binary on real public data from `../shared/data` (see its
//! `SOURCES.md`), with figures derived independently.
//!
//! Every number asserted here comes from `tests/real/reference_hops.py`, a small
//! Python script that shares no code with hoptrace: it reads the same raw files and
//! computes hops straight from the contract in DESIGN.md (a Bellman-Ford over hop
//! levels on an edge list). Re-derive any figure with, from the repository root:
//!
//! ```text
//! python3 tests/real/reference_hops.py ronin
//! python3 tests/real/reference_hops.py mftracer LIFI --upstream-seed 0xd90e2f925da726b50c4ed8d0fb90ad053324f31b
//! python3 tests/real/reference_hops.py mftracer 54m --upstream-seed 0xf1da173228fcf015f43f3ea15abbb51f0d8f1123
//! python3 tests/real/reference_hops.py mftracer Atomic --upstream-seed 0x92e929d8b2c8430bcaf4cd87654789578bb2b786
//! python3 tests/real/reference_hops.py mftracer XScam --upstream-seed 0x83e159a9c7ada6313c1bd59e0e6306b63b3fd8e3
//! python3 tests/real/reference_hops.py tornado-ofac
//! python3 tests/real/reference_hops.py selftest    # the reference on DESIGN.md's small cases
//! ```
//!
//! The shared data has no licence for redistribution, so nothing of it is copied
//! into the repository: each test converts the raw files into hoptrace's canonical
//! CSV (`block,tx_hash,from,to,amount,asset,kind,index`) in a temporary directory
//! and imports that with the real binary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{fixtures, hoptrace, shared_data, write};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The rows of a CSV file with a header, as maps from column name to value.
fn read_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("CSV row");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A header-less list of addresses, one per line, lowercased.
fn read_address_list(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Writes canonical transfer rows (`block,tx_hash,from,to,amount,asset,kind,index`).
fn write_transfers(dir: &Path, name: &str, rows: &[Transfer]) -> PathBuf {
    let mut text = String::from("block,tx_hash,from,to,amount,asset,kind,index\n");
    for t in rows {
        writeln!(
            text,
            "{},{},{},{},{},{},{},{}",
            t.block, t.tx_hash, t.from, t.to, t.amount, t.asset, t.kind, t.index
        )
        .unwrap();
    }
    write(dir, name, &text)
}

/// Writes a label CSV (`address,category,name,source,since_block`).
fn write_labels(dir: &Path, name: &str, labels: &[(&str, &str, &str, Option<u32>)]) -> PathBuf {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["address", "category", "name", "source", "since_block"])
        .unwrap();
    for (address, category, label_name, since) in labels {
        let since = since.map(|s| s.to_string()).unwrap_or_default();
        w.write_record([
            *address,
            *category,
            *label_name,
            "real-cases-test",
            since.as_str(),
        ])
        .unwrap();
    }
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    write(dir, name, &text)
}

/// One transfer as written to the canonical CSV.
#[derive(Debug, Clone)]
struct Transfer {
    block: u32,
    tx_hash: String,
    from: String,
    to: String,
    amount: u128,
    asset: String,
    kind: &'static str,
    index: u32,
}

/// `(tx_hash, from, to, block)` of every input transfer: what an evidence step must
/// be one of.
fn edge_set(rows: &[Transfer]) -> HashSet<(String, String, String, u32)> {
    rows.iter()
        .map(|t| (t.tx_hash.clone(), t.from.clone(), t.to.clone(), t.block))
        .collect()
}

fn import_transfers(db: &Path, file: &Path) {
    hoptrace(db)
        .args(["import", "transfers"])
        .arg(file)
        .assert()
        .success();
}

fn import_labels(db: &Path, file: &Path) {
    hoptrace(db)
        .args(["import", "labels"])
        .arg(file)
        .assert()
        .success();
}

/// `hoptrace trace --format jsonl`: one JSON value per finding.
fn trace(db: &Path, direction: &str, max_hops: u32) -> Vec<Value> {
    let out = hoptrace(db)
        .args([
            "trace",
            "--direction",
            direction,
            "--format",
            "jsonl",
            "--max-hops",
        ])
        .arg(max_hops.to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The `transfers` and `addresses` figures of `hoptrace stats`.
fn stats(db: &Path) -> (u64, u64) {
    let out = hoptrace(db)
        .arg("stats")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` in stats output:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    (field("transfers"), field("addresses"))
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn hops_field(f: &Value) -> u32 {
    f["hops"].as_u64().expect("hops") as u32
}

/// Address -> hops of the findings.
fn hop_map(findings: &[Value]) -> BTreeMap<String, u32> {
    findings
        .iter()
        .map(|f| (s(&f["address"]).to_string(), hops_field(f)))
        .collect()
}

/// Hop count -> number of addresses.
fn histogram(hops: &BTreeMap<String, u32>) -> BTreeMap<u32, usize> {
    let mut h = BTreeMap::new();
    for &n in hops.values() {
        *h.entry(n).or_insert(0) += 1;
    }
    h
}

/// Checks that every finding's evidence is a real, time-respecting path of exactly
/// `hops` input transfers between the seed and the address.
fn check_paths(findings: &[Value], edges: &HashSet<(String, String, String, u32)>) {
    for f in findings {
        let address = s(&f["address"]);
        let seed = s(&f["seed"]);
        let path = f["path"].as_array().expect("path");
        assert_eq!(
            path.len() as u32,
            hops_field(f),
            "path length of {address}: {f}"
        );
        if path.is_empty() {
            assert_eq!(address, seed, "only a seed has an empty path: {f}");
            continue;
        }
        let (start, end) = match s(&f["direction"]) {
            "downstream" => (seed, address),
            "upstream" => (address, seed),
            d => panic!("direction {d}"),
        };
        assert_eq!(s(&path[0]["from"]), start, "path start of {address}: {f}");
        assert_eq!(
            s(&path[path.len() - 1]["to"]),
            end,
            "path end of {address}: {f}"
        );
        for w in path.windows(2) {
            assert_eq!(
                w[0]["to"], w[1]["from"],
                "path of {address} is not connected: {f}"
            );
            assert!(
                w[0]["block"].as_u64() <= w[1]["block"].as_u64(),
                "path of {address} goes back in time: {f}"
            );
        }
        for step in path {
            let key = (
                s(&step["tx_hash"]).to_string(),
                s(&step["from"]).to_string(),
                s(&step["to"]).to_string(),
                step["block"].as_u64().unwrap() as u32,
            );
            assert!(
                edges.contains(&key),
                "evidence step {step} of {address} is not an input transfer"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Ronin bridge theft (Lazarus), withdrawn through the Tornado 100 ETH pool
// ---------------------------------------------------------------------------

const TORNADO_100_ETH: &str = "0xa160cdab225685da1d56aa342ad8841c3b53f291";
/// Tornado Cash's OFAC designation, 2022-08-08 (block 15,295,000 is that day).
const TORNADO_DESIGNATION_BLOCK: u32 = 15_295_000;
const ONE_HUNDRED_ETH: u128 = 100_000_000_000_000_000_000;

/// The Ronin TC withdrawals: address -> withdrawals (block, tx hash, amount in wei),
/// from the derived CSV (not the fixture built from it).
fn ronin_withdrawals() -> BTreeMap<String, Vec<(u32, String, u128)>> {
    let rows =
        read_rows(&shared_data().join("ronin-lazarus-tayvano/DERIVED_ronin_tc_withdrawals.csv"));
    assert_eq!(rows.len(), 1732);
    let mut by_address: BTreeMap<String, Vec<(u32, String, u128)>> = BTreeMap::new();
    for r in rows {
        assert_eq!(r["pool_address"].to_ascii_lowercase(), TORNADO_100_ETH);
        let fee: u128 = r["fee"].parse().unwrap();
        by_address
            .entry(r["to"].to_ascii_lowercase())
            .or_default()
            .push((
                r["block_number"].parse().unwrap(),
                r["transaction_hash"].to_ascii_lowercase(),
                ONE_HUNDRED_ETH - fee,
            ));
    }
    for v in by_address.values_mut() {
        v.sort();
    }
    by_address
}

#[test]
fn ronin_withdrawers_are_one_hop_from_the_tornado_pool_with_their_earliest_withdrawal() {
    let withdrawals = ronin_withdrawals();
    assert_eq!(withdrawals.len(), 323, "distinct TC withdrawer addresses");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ronin.db");
    import_transfers(&db, &fixtures().join("ronin/transfers.csv"));
    import_labels(&db, &fixtures().join("ronin/labels.csv"));
    // 1,732 withdrawals; 324 graph addresses plus 156 OFAC addresses known only by label.
    assert_eq!(stats(&db), (1732, 480));

    let findings = trace(&db, "downstream", 25);
    let hops = hop_map(&findings);
    // Every labelled OFAC address is a seed (hop 0): 157 distinct addresses in the
    // fixture's labels, the pool among them. Nothing is further than 1 hop.
    assert_eq!(histogram(&hops), BTreeMap::from([(0, 157), (1, 323)]));
    assert_eq!(hops[TORNADO_100_ETH], 0);
    let reached: Vec<&String> = hops
        .iter()
        .filter(|(_, h)| **h == 1)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(reached, withdrawals.keys().collect::<Vec<_>>());

    // Each withdrawer's evidence is its earliest withdrawal (no address has two in
    // the same block), from the pool, for 100 ETH minus the relayer fee.
    for f in findings.iter().filter(|f| hops_field(f) == 1) {
        let address = s(&f["address"]);
        let (block, tx, amount) = &withdrawals[address][0];
        assert_eq!(s(&f["seed"]), TORNADO_100_ETH);
        assert_eq!(s(&f["seed_category"]), "sanctioned");
        let step = &f["path"][0];
        assert_eq!(s(&step["from"]), TORNADO_100_ETH);
        assert_eq!(step["block"].as_u64(), Some(u64::from(*block)), "{address}");
        assert_eq!(s(&step["tx_hash"]), tx, "{address}");
        assert_eq!(s(&step["amount"]), amount.to_string(), "{address}");
        assert_eq!(s(&step["asset"]), "ETH");
    }

    // Checked by hand (reference_hops.py ronin): the first withdrawer, and one that
    // withdrew 4 times, whose evidence is the first of the 4.
    for (address, block, tx, amount) in [
        (
            "0x8f510dcd206b69e625fd9c2e41f34a1240242fff",
            14_517_145,
            "0xccc59019bf79655e937a85bb232e2b36c5b95463d33ffe15b1facbbc89c55ae7",
            "99581196500000000000",
        ),
        (
            "0x00cbc721a6631c0e956f4d700a02c60701df5f15",
            14_637_518,
            "0xdbfdb67424e7a76484062739a0f9a69c2e3c711c8a3617dcb963314134978d8e",
            "99651000000000000000",
        ),
    ] {
        let out = hoptrace(&db)
            .args(["check", address, "--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let r = &v[0];
        assert_eq!(r["downstream_hops"], 1, "{r}");
        assert_eq!(r["upstream_hops"], Value::Null, "{r}");
        assert_eq!(r["risk_level"], "high");
        let path = r["downstream"]["path"].as_array().unwrap();
        assert_eq!(path.len(), 1);
        assert_eq!(path[0]["tx_hash"], tx);
        assert_eq!(path[0]["block"], block);
        assert_eq!(path[0]["amount"], amount);
        assert_eq!(path[0]["kind"], "internal");
    }
    assert_eq!(
        withdrawals["0x00cbc721a6631c0e956f4d700a02c60701df5f15"].len(),
        4
    );

    // The bundled wallet list: the 8 withdrawers are high (1 hop); the pool and the
    // 8 OFAC Lazarus addresses are seeds; the others are not in this data.
    let out = hoptrace(&db)
        .arg("score")
        .arg(fixtures().join("ronin/wallets.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let mut levels: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        // address,role,downstream_hops,upstream_hops,seed_category,risk_level
        if r[1] == *"TC Withdrawer" {
            assert_eq!(
                (&r[2], &r[3], &r[4], &r[5]),
                ("1", "", "sanctioned", "high"),
                "{r:?}"
            );
        }
        *levels
            .entry((r[1].to_string(), r[5].to_string()))
            .or_insert(0) += 1;
    }
    let expected: BTreeMap<(String, String), usize> = [
        ("Primary", "severe", 1),
        ("Intermediary to TC", "severe", 7),
        ("Huobi Deposit Address", "", 1),
        ("TC Depositor", "", 2),
        ("TC Withdrawer", "high", 8),
        ("TC -> Ren Bridge", "", 2),
        ("Tornado Cash 100 ETH pool", "severe", 1),
    ]
    .into_iter()
    .map(|(role, level, n)| ((role.to_string(), level.to_string()), n))
    .collect();
    assert_eq!(levels, expected);
}

#[test]
fn ronin_since_block_on_the_pool_cuts_earlier_withdrawals() {
    let withdrawals = ronin_withdrawals();
    let dir = tempfile::tempdir().unwrap();
    // (since, withdrawers reached): at the OFAC designation none (all withdrawals are
    // in blocks 14,517,145..14,808,949); from block 14,700,000, 178 of 323.
    for (since, expected_reached) in [(TORNADO_DESIGNATION_BLOCK, 0), (14_700_000, 178)] {
        let db = dir.path().join(format!("since-{since}.db"));
        import_transfers(&db, &fixtures().join("ronin/transfers.csv"));
        let labels = write_labels(
            dir.path(),
            &format!("pool-since-{since}.csv"),
            &[(TORNADO_100_ETH, "sanctioned", "TORNADO CASH", Some(since))],
        );
        import_labels(&db, &labels);
        let findings = trace(&db, "downstream", 25);
        let hops = hop_map(&findings);
        assert_eq!(
            hops.get(TORNADO_100_ETH),
            Some(&0),
            "the seed itself is hop 0"
        );
        let reached: BTreeMap<&String, &u32> =
            hops.iter().filter(|(a, _)| *a != TORNADO_100_ETH).collect();
        assert_eq!(reached.len(), expected_reached, "since {since}");
        assert!(reached.values().all(|h| **h == 1));
        // Exactly the withdrawers with a withdrawal at or after `since`, each with
        // the first such withdrawal as evidence.
        let want: Vec<&String> = withdrawals
            .iter()
            .filter(|(_, w)| w.iter().any(|(b, _, _)| *b >= since))
            .map(|(a, _)| a)
            .collect();
        assert_eq!(reached.keys().copied().collect::<Vec<_>>(), want);
        for f in findings.iter().filter(|f| hops_field(f) == 1) {
            let first_after = withdrawals[s(&f["address"])]
                .iter()
                .find(|(b, _, _)| *b >= since)
                .unwrap();
            assert_eq!(f["path"][0]["block"], first_after.0);
            assert_eq!(s(&f["path"][0]["tx_hash"]), first_after.1);
        }
        if since == 14_700_000 {
            // Withdrew first at 14,696,808 (before `since`), then at 14,700,143.
            let f = findings
                .iter()
                .find(|f| f["address"] == "0x1dafff6742bba41f2633fb552266cfae7736c3b3")
                .expect("reached");
            assert_eq!(f["path"][0]["block"], 14_700_143);
            assert_eq!(
                f["path"][0]["tx_hash"],
                "0x447868b54c2804ac74381324ddc0d2baebf806d2e73198f435e3cd3bb76175ff"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 2. MFTracer ground truth: hand-verified multi-hop illicit flows
// ---------------------------------------------------------------------------

/// What the Python reference says about one MFTracer case.
struct Expected {
    case: &'static str,
    rows: u64,
    /// Hop count -> addresses reached downstream from the source addresses.
    histogram: &'static [(u32, usize)],
    max_hop: u32,
    terminals: usize,
    terminals_reached: usize,
    /// A few terminals and their downstream hops (`None`: not reached).
    terminal_hops: &'static [(&'static str, Option<u32>)],
    /// The terminal used as the only seed of the upstream check.
    upstream_seed: &'static str,
    upstream_histogram: &'static [(u32, usize)],
    /// Every source address and its upstream hops to `upstream_seed`.
    upstream_sources: &'static [(&'static str, Option<u32>)],
}

/// Converts `<case>.csv` into canonical transfers. Rows of one transaction get an
/// explicit index, their order in the file; the amount is the USD value in cents
/// (at least 1): amounts do not affect hops.
fn mftracer_transfers(case: &str) -> Vec<Transfer> {
    let rows = read_rows(&shared_data().join(format!("mftracer-ground-truth/{case}/{case}.csv")));
    let mut next_index: HashMap<String, u32> = HashMap::new();
    rows.iter()
        .map(|r| {
            let tx_hash = r["Tx_hash"].to_ascii_lowercase();
            let index = next_index.entry(tx_hash.clone()).or_insert(0);
            let usd: f64 = r["Value_in_USD"].parse().expect("Value_in_USD");
            let t = Transfer {
                block: r["Block"].parse().expect("Block"),
                tx_hash,
                from: r["From"].to_ascii_lowercase(),
                to: r["To"].to_ascii_lowercase(),
                amount: ((usd * 100.0).round() as u128).max(1),
                asset: "ETH".into(),
                kind: "internal",
                index: *index,
            };
            *index += 1;
            t
        })
        .collect()
}

fn run_mftracer(e: &Expected) {
    let case_dir = shared_data().join("mftracer-ground-truth").join(e.case);
    let transfers = mftracer_transfers(e.case);
    let edges = edge_set(&transfers);
    let sources = read_address_list(&case_dir.join("source addresses.csv"));
    let terminals = read_address_list(&case_dir.join("terminal addresses.csv"));
    assert_eq!(terminals.len(), e.terminals);
    assert_eq!(sources.len(), e.upstream_sources.len());

    let dir = tempfile::tempdir().unwrap();
    let csv = write_transfers(dir.path(), &format!("{}.csv", e.case), &transfers);

    // Downstream from the sources (the victims' funds, labelled `hack`).
    let db = dir.path().join("down.db");
    import_transfers(&db, &csv);
    assert_eq!(stats(&db).0, e.rows, "every row is its own transfer");
    let seeds: Vec<(&str, &str, &str, Option<u32>)> = sources
        .iter()
        .map(|a| (a.as_str(), "hack", "MFTracer source", None))
        .collect();
    import_labels(&db, &write_labels(dir.path(), "sources.csv", &seeds));
    let findings = trace(&db, "downstream", 25);
    check_paths(&findings, &edges);
    let hops = hop_map(&findings);
    assert_eq!(
        histogram(&hops),
        e.histogram.iter().copied().collect(),
        "{} histogram",
        e.case
    );
    assert_eq!(hops.values().max(), Some(&e.max_hop));
    for a in &sources {
        assert_eq!(hops.get(a), Some(&0), "source {a} is a seed");
    }
    let reached = terminals.iter().filter(|t| hops.contains_key(*t)).count();
    assert_eq!(reached, e.terminals_reached, "{} terminals reached", e.case);
    for (t, h) in e.terminal_hops {
        assert!(
            terminals.iter().any(|x| x == t),
            "{t} is a terminal of {}",
            e.case
        );
        assert_eq!(hops.get(*t).copied(), *h, "{} terminal {t}", e.case);
    }

    // Upstream from one terminal: which sources' funds reached it, in how many hops.
    let db = dir.path().join("up.db");
    import_transfers(&db, &csv);
    let seed = [(e.upstream_seed, "hack", "MFTracer terminal", None)];
    import_labels(&db, &write_labels(dir.path(), "terminal.csv", &seed));
    let findings = trace(&db, "upstream", 25);
    check_paths(&findings, &edges);
    let hops = hop_map(&findings);
    assert_eq!(
        histogram(&hops),
        e.upstream_histogram.iter().copied().collect(),
        "{} upstream histogram",
        e.case
    );
    for (a, h) in e.upstream_sources {
        assert!(
            sources.iter().any(|x| x == a),
            "{a} is a source of {}",
            e.case
        );
        assert_eq!(
            hops.get(*a).copied(),
            *h,
            "{} source {a} upstream of {}",
            e.case,
            e.upstream_seed
        );
    }
}

/// LI.FI hack (July 2024): one exploiter, a 19-hop chain. All 33 terminals reached.
#[test]
fn mftracer_lifi() {
    run_mftracer(&Expected {
        case: "LIFI",
        rows: 135,
        histogram: &[
            (0, 1),
            (1, 29),
            (2, 10),
            (3, 9),
            (4, 10),
            (5, 8),
            (6, 5),
            (7, 5),
            (8, 4),
            (9, 2),
            (10, 1),
            (11, 1),
            (12, 1),
            (13, 1),
            (14, 1),
            (15, 1),
            (16, 1),
            (17, 1),
            (18, 1),
            (19, 1),
        ],
        max_hop: 19,
        terminals: 33,
        terminals_reached: 33,
        terminal_hops: &[
            ("0x3a993fa6744c009b3b8d52e2edd854bd97e5b866", Some(1)),
            ("0xd585fd360040662c43737d538be97e34e88dc416", Some(2)),
            ("0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", Some(3)),
            ("0x5c8c7d7666e6e418d2f0b026a5a3e21e133a4278", Some(4)),
            ("0xf5e10380213880111522dd0efd3dbb45b9f62bcc", Some(5)),
        ],
        upstream_seed: "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b",
        upstream_histogram: &[
            (0, 1),
            (1, 30),
            (2, 7),
            (3, 3),
            (4, 2),
            (5, 2),
            (6, 2),
            (7, 1),
            (8, 1),
        ],
        upstream_sources: &[("0x8b3cb6bf982798fba233bca56749e22eec42dcf3", Some(3))],
    });
}

/// 54M phishing (Aug 2024): two sources; all 13 terminals reached, KuCoin's hot
/// wallet 13 hops out, the zero address (burns) at 5.
#[test]
fn mftracer_54m() {
    run_mftracer(&Expected {
        case: "54m",
        rows: 292,
        histogram: &[
            (0, 2),
            (1, 7),
            (2, 34),
            (3, 31),
            (4, 61),
            (5, 7),
            (6, 1),
            (7, 1),
            (8, 1),
            (9, 1),
            (10, 1),
            (11, 1),
            (12, 2),
            (13, 1),
        ],
        max_hop: 13,
        terminals: 13,
        terminals_reached: 13,
        terminal_hops: &[
            ("0x764c53ac64a2c94b44ed9bd02857a1736d1f6efb", Some(2)),
            ("0xf1da173228fcf015f43f3ea15abbb51f0d8f1123", Some(3)),
            ("0x51b1f2e1e7729f9bea18220c8e522d7ff34f3290", Some(4)),
            ("0x0000000000000000000000000000000000000000", Some(5)),
            ("0x45300136662dd4e58fc0df61e6290dffd992b785", Some(13)),
        ],
        upstream_seed: "0xf1da173228fcf015f43f3ea15abbb51f0d8f1123",
        upstream_histogram: &[(0, 1), (1, 99), (2, 9), (3, 5), (4, 3), (5, 1)],
        upstream_sources: &[
            ("0xfc4eaa4ac84d00f1c5854113581f881b42b4a745", Some(5)),
            ("0x5d4b2a02c59197eb2cae95a6df9fe27af60459d4", Some(3)),
        ],
    });
}

/// Atomic Wallet hack (June 2023, Lazarus): 17 sources, 381 of 389 addresses
/// reached. The 8 not reached have no incoming transfer in the data: they are the
/// victims' original wallets ("OSRC"), which sent to the sources. All 101
/// terminals are reached; Binance 14 (0x28c6…1d60) at 9 hops. Upstream from one
/// terminal, 9 of the 17 sources' funds reached it.
#[test]
fn mftracer_atomic() {
    run_mftracer(&Expected {
        case: "Atomic",
        rows: 1080,
        histogram: &[
            (0, 17),
            (1, 21),
            (2, 118),
            (3, 72),
            (4, 56),
            (5, 44),
            (6, 41),
            (7, 8),
            (8, 3),
            (9, 1),
        ],
        max_hop: 9,
        terminals: 101,
        terminals_reached: 101,
        terminal_hops: &[
            ("0x26e019a4463cba4d097f1178b1aef40eaae56442", Some(1)),
            ("0xd37bbe5744d730a1d98d8dc97c42f0ca46ad7146", Some(2)),
            ("0x92e929d8b2c8430bcaf4cd87654789578bb2b786", Some(3)),
            ("0x0e747eb2ff0f26fb77c3a1ea67ee07fac2dbb783", Some(7)),
            ("0xabcb905cc6e17c369299f70b838ad0f2ea4bb37f", Some(8)),
            ("0x28c6c06298d514db089934071355e5743bf21d60", Some(9)),
        ],
        upstream_seed: "0x92e929d8b2c8430bcaf4cd87654789578bb2b786",
        upstream_histogram: &[
            (0, 1),
            (1, 61),
            (2, 12),
            (3, 11),
            (4, 16),
            (5, 14),
            (6, 9),
            (7, 7),
            (8, 7),
        ],
        upstream_sources: &[
            ("0x6dd68bb7177edfb4f2f88fe62d80a6545378ef40", Some(7)),
            ("0x9952dc5b11b5db10647ea59a4792db4d5172614b", Some(7)),
            ("0x3fdbded80419110545b83e5ccfd6dd8862b4b853", Some(7)),
            ("0x3df8ae6fe4bbaf954b14dc27b6db9aefbeed88a7", Some(7)),
            ("0x28660c97a27f7aa84904cdbaa16aa7fedd1a301d", Some(7)),
            ("0x8b2cbc54ca4898304221f9c2017c86c7913d2ade", Some(7)),
            ("0x52f56c963271bb000a6ec31753324a7ee9f0cb97", Some(8)),
            ("0x7f691eba903423900b40a397d94f9062cae72dbf", Some(4)),
            ("0x6a5caac1a024bbef058ac9fba331bac7cff07d37", None),
            ("0x3ef87ac444fe265946005a15ce5cf96332743c03", None),
            ("0x571709f61abb15d0a3fe2d8518153c5fea025061", None),
            ("0x824eae0fafce9365172ede81c5d35a2039761ec8", None),
            ("0x52f8013d3f1e94e242107a8da82620d90705f9ee", None),
            ("0x25dec5437326331b7555837013f77a5f525f68d0", None),
            ("0xd27d23eb2f54c1d615059817deca7ff8bcfe74c1", None),
            ("0xe8424a33f20dc02ff35968ca4b1f5a6ca1493278", None),
            ("0x53534ad2e95ede31e2fe53ca9c4e50309a4a7ac6", Some(3)),
        ],
    });
}

/// Discord & X scam (June–Nov 2022): the one case where time order matters.
///
/// 449 of the 465 terminals are reached. Of the 16 that are not:
/// - 13 have no transfer at all in `XScam.csv` (listed as terminals only; one is
///   the Tornado 10 ETH pool 0x910c…3dbf);
/// - 3 (0xdc1b…dc00, 0xe515…17a9, 0x634d…dcc7, exchange deposit addresses) each
///   received one transfer from 0xc562…51a8 (blocks 15,142,679, 15,154,375,
///   15,165,803), which only received illicit funds at block 15,170,871 (from
///   0xa853…): those payments were made with its own earlier money, so no
///   time-respecting path carries the scam's funds to them. A plain BFS that
///   ignores time would put them at 5 hops.
///
/// In all, 824 of the 837 addresses are reached where a plain BFS would reach 835:
/// 11 addresses only ever received from 0xc562…51a8 or 0x0931…96ab before those
/// held illicit funds (or from such an address), and 2 (0xf32a…6074 -> 0xc8f5…343d)
/// are not connected to the sources at all. Several terminals are also further
/// away than a plain BFS says (e.g. 0xda9a…b311: 4 hops, not 2).
#[test]
fn mftracer_xscam() {
    run_mftracer(&Expected {
        case: "XScam",
        rows: 1307,
        histogram: &[
            (0, 7),
            (1, 40),
            (2, 117),
            (3, 221),
            (4, 181),
            (5, 111),
            (6, 84),
            (7, 28),
            (8, 19),
            (9, 10),
            (10, 3),
            (11, 3),
        ],
        max_hop: 11,
        terminals: 465,
        terminals_reached: 449,
        terminal_hops: &[
            ("0xdc1b73053a547f5e27d165dfdf8b383d344ddc00", None),
            ("0xe51531a117df08c295ae5daf91cb9a1edbc217a9", None),
            ("0x634dee0c6502f3ff5ef2f3fd391fd4d42c30dcc7", None),
            ("0x910cbd523d972eb0a6f4cae4618ad62622b39dbf", None),
            ("0xda9a6b3446b6bca1e1fcdd02b17619bfcf32b311", Some(4)),
            ("0xcf05283acde4154d3df01a914ad5ef56086428d0", Some(5)),
            ("0xce46418b022c7da2eec9f21f1bdb60d711579017", Some(7)),
            ("0x83e159a9c7ada6313c1bd59e0e6306b63b3fd8e3", Some(8)),
        ],
        // Ignoring time, all 7 sources would be upstream of it (22 addresses); in
        // time order only 5 are, at 8 hops each (15 addresses).
        upstream_seed: "0x83e159a9c7ada6313c1bd59e0e6306b63b3fd8e3",
        upstream_histogram: &[
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 1),
            (7, 2),
            (8, 6),
        ],
        upstream_sources: &[
            ("0xd6be74fcfa9ada3e5c305ac0168abe57d2e0d00b", None),
            ("0x2100ab6ac2036ca99da90ffd4077f0c98af309ee", None),
            ("0x003099ee103250013c3c755b73be2809f5e20151", Some(8)),
            ("0x5452f108829a2184cc20aeaaa9ecd39113e6a28f", Some(8)),
            ("0x45e2d7d467cbcf34ca9bedf35da598ab8b425f38", Some(8)),
            ("0x51be5156d4bdc4b05c2c5be6eba91473a216ed8d", Some(8)),
            ("0x8719ce1ef25e383af730a3fae658f014871dd26c", Some(8)),
        ],
    });
}

// ---------------------------------------------------------------------------
// 3. The 2025-02-28 OFAC list as seeds over all Tornado withdrawals
// ---------------------------------------------------------------------------

/// A decimal amount such as `0.1` in base units with `decimals` decimals.
fn base_units(decimal: &str, decimals: u32) -> u128 {
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    assert!(frac.len() as u32 <= decimals);
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().unwrap()
    };
    int.parse::<u128>().unwrap() * 10u128.pow(decimals)
        + frac_units * 10u128.pow(decimals - frac.len() as u32)
}

/// Every withdrawal as the transfer to its recipient: the pool pays the
/// denomination minus the relayer fee, in ETH (an internal call) or in the pool's
/// token (an ERC-20 transfer). Identity: `(tx_hash, kind, index)` with index the
/// order of the withdrawal within its transaction in the file. Only 8 transactions
/// hold several withdrawals (775 rows, the 0.1 ETH pool's launch in blocks
/// 9,117,019..9,117,034, all to the zero address); nullifiers are all distinct and
/// no row is duplicated, so all 57,243 rows are distinct transfers.
fn tornado_transfers() -> Vec<Transfer> {
    let rows =
        read_rows(&shared_data().join("tornado-cash/DERIVED_tornado_withdrawals_mainnet.csv"));
    let mut next_index: HashMap<String, u32> = HashMap::new();
    rows.iter()
        .map(|r| {
            let (denomination, symbol) = r["pool"].split_once(' ').expect("pool like `100 ETH`");
            let (asset, decimals) = match symbol.to_ascii_uppercase().as_str() {
                "ETH" => ("ETH", 18),
                "DAI" => ("0x6b175474e89094c44da98b954eedeac495271d0f", 18),
                "CDAI" => ("0x5d3a536e4d6dbd6114cc1ead35777bab948e3643", 8),
                "USDC" => ("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),
                "USDT" => ("0xdac17f958d2ee523a2206206994597c13d831ec7", 6),
                "WBTC" => ("0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", 8),
                other => panic!("unknown pool token {other}"),
            };
            let fee: u128 = r["fee"].parse().expect("fee");
            let tx_hash = r["transaction_hash"].to_ascii_lowercase();
            let kind = if asset == "ETH" { "internal" } else { "erc20" };
            let index = next_index.entry(format!("{tx_hash}/{kind}")).or_insert(0);
            let t = Transfer {
                block: r["block_number"].parse().expect("block_number"),
                tx_hash,
                from: r["pool_address"].to_ascii_lowercase(),
                to: r["to"].to_ascii_lowercase(),
                amount: base_units(denomination, decimals) - fee,
                asset: asset.to_string(),
                kind,
                index: *index,
            };
            *index += 1;
            t
        })
        .collect()
}

/// The EVM (`0x` + 40 hex) addresses of the 2025-02-28 OFAC list, lowercased, with
/// their entity names.
fn ofac_2025_evm() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(
        shared_data().join("ofac-thomasgregg/sanctioned-addresses_2025-02-28.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["addresses"]
        .as_object()
        .expect("addresses")
        .iter()
        .filter_map(|(a, entry)| {
            let a = a.to_ascii_lowercase();
            let hex = a.strip_prefix("0x")?;
            (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
                let entity = entry["entries"][0]["entity"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                (a, entity)
            })
        })
        .collect()
}

#[test]
fn tornado_withdrawals_with_the_2025_ofac_list_as_seeds() {
    let transfers = tornado_transfers();
    assert_eq!(transfers.len(), 57_243);
    assert!(
        transfers.iter().all(|t| t.amount > 0),
        "no withdrawal pays out nothing"
    );
    let ofac = ofac_2025_evm();
    assert_eq!(ofac.len(), 157, "EVM addresses on the 2025-02-28 list");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tornado.db");
    let csv = write_transfers(dir.path(), "tornado-withdrawals.csv", &transfers);
    import_transfers(&db, &csv);
    // 23,384 addresses in the withdrawals (17 pools, 23,367 recipients).
    assert_eq!(stats(&db), (57_243, 23_384));

    // The first 1,000 withdrawals again, in another file and in reverse order: the
    // same identities, so nothing new.
    let mut again = transfers[..1000].to_vec();
    again.reverse();
    import_transfers(
        &db,
        &write_transfers(dir.path(), "first-thousand-again.csv", &again),
    );
    assert_eq!(stats(&db), (57_243, 23_384));

    let labels: Vec<(&str, &str, &str, Option<u32>)> = ofac
        .iter()
        .map(|(a, name)| (a.as_str(), "sanctioned", name.as_str(), None))
        .collect();
    import_labels(
        &db,
        &write_labels(dir.path(), "ofac-2025-02-28.csv", &labels),
    );
    // 137 listed addresses appear in no withdrawal.
    assert_eq!(stats(&db), (57_243, 23_521));

    let findings = trace(&db, "downstream", 6);
    let hops = hop_map(&findings);
    // Hop 0: all 157 listed addresses (17 of them pools in this data, 3 of them
    // recipients of 36 withdrawals). Hop 1: the other 23,364 recipients (the zero
    // address among them: 775 launch-time withdrawals). No recipient ever sends.
    assert_eq!(histogram(&hops), BTreeMap::from([(0, 157), (1, 23_364)]));
    for listed_recipient in [
        "0x8589427373d6d84e98730d7795d8f6f8731fda16",
        "0xdcbeffbecce100cce9e4b153c4e15cb885643193",
        "0xdd4c48c0b24039969fc16d1cdf626eab821d3384",
    ] {
        assert_eq!(hops.get(listed_recipient), Some(&0));
    }
    assert_eq!(
        hops.get("0x0000000000000000000000000000000000000000"),
        Some(&1)
    );
    // The first Ronin withdrawer, from the whole data set: same evidence as above.
    let f = findings
        .iter()
        .find(|f| f["address"] == "0x8f510dcd206b69e625fd9c2e41f34a1240242fff")
        .expect("reached");
    assert_eq!(f["seed"], TORNADO_100_ETH);
    assert_eq!(
        f["path"][0]["tx_hash"],
        "0xccc59019bf79655e937a85bb232e2b36c5b95463d33ffe15b1facbbc89c55ae7"
    );
    check_paths(&findings, &edge_set(&transfers));
}
