//! `hoptrace fetch` against a real anvil node seeded by `../shared/chain/seed.py`.
//!
//! The expected transfers are worked out from the scenario (seed.py's docstring)
//! and its manifest, independently of the fetcher:
//!
//! | block | native (ETH)                                   | ERC-20 (TT)                       |
//! |-------|------------------------------------------------|-----------------------------------|
//! | 1     | (deploys: value 0)                             | mint 0x0 -> deployer 1,000,000    |
//! | 2     |                                                | deployer -> victim 100,000; -> dev-5..9 10,000 each |
//! | 3     | victim -> hacker 100                           | victim -> hacker 50,000           |
//! | 4     | hacker -> peel-hop-1 60                        |                                   |
//! | 5..9  | hop i -> peel-out i (i/2), hop i -> next (manifest) |                              |
//! | 10    | hacker -> fanout-1..6, 3 each                  |                                   |
//! | 11    | fanout-1 -> hub 2; hacker -> Splitter 6; hacker -> Forwarder 2 |                   |
//! | 12-14 |                                                | hacker -> token-hop-1 40,000 -> token-hop-2 40,000 -> hub 39,000 |
//! | 15    | depositor-i -> hub, i/10 (i = 1..20)           |                                   |
//! | 16    | hub -> withdrawer-i, i (i = 1..4)              |                                   |
//! | 17    | dev-k -> dev-(k+1) 1 (k = 5..9, 9 -> 5)        | dev-k -> dev-(k+1) 100            |
//!
//! Internal (block 11), index = position in the transaction's trace (pre-order,
//! top-level call 0): the `split` tx gives Splitter -> internal-a (1),
//! -> internal-b (2), -> Forwarder (3), Forwarder -> forwarder-sink (4), 2 ETH
//! each; the plain send to the Forwarder gives Forwarder -> sink (1), 2 ETH.
//! Every block's timestamp is 1700000000 + 12 * block.
//!
//! Hops downstream of the hacker (seed, category hack), with the exchange hub
//! labelled an exchange (reached, not expanded): peel hops and outs, fan-outs and
//! token hops as the manifest's `hops_from_hacker`; Splitter and Forwarder 1;
//! internal-a, internal-b, forwarder-sink 2 (through the contracts); the hub 2
//! (hacker -> fanout-1 at 10 -> hub at 11). Reached = the manifest's `tainted`
//! list exactly; withdrawers, depositors, the victim and the clean accounts are
//! not reached.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{default_policy_with, hoptrace, import_labels_text, ok};
use crate::fetch_node::{Devnet, Faults, Proxy, devnet_dir, free_port};

const ETHER: u128 = 1_000_000_000_000_000_000;

/// One exported row without the tx hash and index: (block, timestamp, kind, from,
/// to, asset, amount).
type Row = (u32, i64, String, String, String, String, String);

fn lower(v: &Value) -> String {
    v.as_str().expect("address string").to_ascii_lowercase()
}

/// The address whose manifest label is `label`.
fn by_label(m: &Value, label: &str) -> String {
    m["addresses"]
        .as_object()
        .expect("addresses")
        .iter()
        .find(|(_, r)| r["label"] == label)
        .map(|(a, _)| a.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no address labelled {label} in the manifest"))
}

fn by_role(m: &Value, role: &str) -> String {
    m["addresses"]
        .as_object()
        .expect("addresses")
        .iter()
        .find(|(_, r)| r["role"] == role)
        .map(|(a, _)| a.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no address with role {role} in the manifest"))
}

/// The scenario's transfers, from the table in the module docs.
fn expected(m: &Value) -> BTreeMap<Row, usize> {
    let mut rows = BTreeMap::new();
    let ts = |b: u32| 1_700_000_000 + 12 * i64::from(b);
    let token = lower(&m["token"]["address"]);
    let mut add = |block: u32, kind: &str, from: &str, to: &str, asset: &str, amount: u128| {
        *rows
            .entry((
                block,
                ts(block),
                kind.to_string(),
                from.to_string(),
                to.to_string(),
                asset.to_string(),
                amount.to_string(),
            ))
            .or_insert(0) += 1;
    };
    let hacker = lower(&m["hacker"]);
    let victim = lower(&m["victim"]);
    let hub = lower(&m["exchange_hub"]);
    let deployer = by_role(m, "deployer");
    let splitter = lower(&m["contracts"]["splitter"]);
    let forwarder = lower(&m["contracts"]["forwarder"]);
    let dev = |k: usize| by_label(m, &format!("dev-{k}"));
    // Native.
    add(3, "native", &victim, &hacker, "ETH", 100 * ETHER);
    add(
        4,
        "native",
        &hacker,
        &by_label(m, "peel-hop-1"),
        "ETH",
        60 * ETHER,
    );
    for (i, p) in m["peel_chain"]
        .as_array()
        .expect("peel chain")
        .iter()
        .enumerate()
    {
        let block = 5 + i as u32;
        let wei = |k: &str| p[k].as_str().expect("wei").parse::<u128>().expect("wei");
        assert_eq!(wei("peel_wei"), (i as u128 + 1) * ETHER / 2);
        add(
            block,
            "native",
            &lower(&p["hop"]),
            &lower(&p["peel_out"]),
            "ETH",
            wei("peel_wei"),
        );
        add(
            block,
            "native",
            &lower(&p["hop"]),
            &lower(&p["forward_to"]),
            "ETH",
            wei("forward_wei"),
        );
    }
    for k in 1..=6 {
        add(
            10,
            "native",
            &hacker,
            &by_label(m, &format!("fanout-{k}")),
            "ETH",
            3 * ETHER,
        );
    }
    add(
        11,
        "native",
        &by_label(m, "fanout-1"),
        &hub,
        "ETH",
        2 * ETHER,
    );
    add(11, "native", &hacker, &splitter, "ETH", 6 * ETHER);
    add(11, "native", &hacker, &forwarder, "ETH", 2 * ETHER);
    for i in 1..=20u128 {
        add(
            15,
            "native",
            &by_label(m, &format!("depositor-{i:02}")),
            &hub,
            "ETH",
            i * ETHER / 10,
        );
    }
    for i in 1..=4u128 {
        add(
            16,
            "native",
            &hub,
            &by_label(m, &format!("withdrawer-{i}")),
            "ETH",
            i * ETHER,
        );
    }
    for k in 5..=9 {
        let next = if k == 9 { 5 } else { k + 1 };
        add(17, "native", &dev(k), &dev(next), "ETH", ETHER);
        add(17, "erc20", &dev(k), &dev(next), &token, 100 * ETHER);
    }
    // ERC-20.
    let zero = "0x0000000000000000000000000000000000000000";
    add(1, "erc20", zero, &deployer, &token, 1_000_000 * ETHER);
    add(2, "erc20", &deployer, &victim, &token, 100_000 * ETHER);
    for k in 5..=9 {
        add(2, "erc20", &deployer, &dev(k), &token, 10_000 * ETHER);
    }
    add(3, "erc20", &victim, &hacker, &token, 50_000 * ETHER);
    let (th1, th2) = (by_label(m, "token-hop-1"), by_label(m, "token-hop-2"));
    add(12, "erc20", &hacker, &th1, &token, 40_000 * ETHER);
    add(13, "erc20", &th1, &th2, &token, 40_000 * ETHER);
    add(14, "erc20", &th2, &hub, &token, 39_000 * ETHER);
    // Internal.
    for t in m["expected"]["internal_transfers"]
        .as_array()
        .expect("internal")
    {
        let wei: u128 = t["wei"].as_str().expect("wei").parse().expect("wei");
        add(
            11,
            "internal",
            &lower(&t["from"]),
            &lower(&t["to"]),
            "ETH",
            wei,
        );
    }
    rows
}

/// An exported CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exported {
    pub(crate) block: u32,
    pub(crate) timestamp: i64,
    pub(crate) tx_hash: String,
    pub(crate) kind: String,
    pub(crate) index: u32,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) asset: String,
    pub(crate) amount: String,
}

/// `hoptrace export transfers` of `db`, as text.
pub(crate) fn export(db: &Path) -> String {
    ok(hoptrace(db).args(["export", "transfers"])).0
}

pub(crate) fn parse_export(text: &str) -> Vec<Exported> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("block,timestamp,tx_hash,kind,index,from,to,asset,amount")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "row {l}");
            Exported {
                block: f[0].parse().expect("block"),
                timestamp: f[1].parse().expect("timestamp"),
                tx_hash: f[2].to_string(),
                kind: f[3].to_string(),
                index: f[4].parse().expect("index"),
                from: f[5].to_string(),
                to: f[6].to_string(),
                asset: f[7].to_string(),
                amount: f[8].to_string(),
            }
        })
        .collect()
}

/// Runs `hoptrace fetch` of the whole chain (no confirmations) with `extra`
/// arguments; returns stderr.
pub(crate) fn fetch(db: &Path, url: &str, extra: &[&str]) -> String {
    let out = hoptrace(db)
        .args(["fetch", "--rpc", url, "--confirmations", "0", "--quiet"])
        .args(extra)
        .output()
        .expect("run fetch");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "fetch failed:\n{stderr}");
    stderr
}

fn rows_of(exported: &[Exported]) -> BTreeMap<Row, usize> {
    let mut rows = BTreeMap::new();
    for e in exported {
        *rows
            .entry((
                e.block,
                e.timestamp,
                e.kind.clone(),
                e.from.clone(),
                e.to.clone(),
                e.asset.clone(),
                e.amount.clone(),
            ))
            .or_insert(0) += 1;
    }
    rows
}

#[test]
fn fetch_seeded_chain_gives_the_scenarios_transfers_and_hops() {
    let node = Devnet::seeded();
    let m = &node.manifest;
    assert_eq!(m["head_block"], 17);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fetched.db");
    let stderr = fetch(&db, &node.url, &["--blocks-per-request", "3"]);
    assert!(stderr.is_empty(), "quiet fetch printed {stderr}");
    let text = export(&db);
    let got = parse_export(&text);
    let want = expected(m);
    assert_eq!(rows_of(&got), want);
    assert_eq!(got.len(), 50 + 5 + 16);
    assert_eq!(
        got.iter().filter(|e| e.kind == "erc20").count() as u64,
        m["expected"]["erc20_transfer_logs"].as_u64().unwrap()
    );

    // Identities: tx hashes of the named transactions, and indices.
    let find = |kind: &str, tx: &str| -> Vec<&Exported> {
        let tx = lower(&m["txs"][tx]);
        got.iter()
            .filter(|e| e.kind == kind && e.tx_hash == tx)
            .collect()
    };
    let theft = find("native", "theft_eth");
    assert_eq!((theft.len(), theft[0].index, theft[0].block), (1, 0, 3));
    assert_eq!(
        find("erc20", "theft_token")[0].amount,
        (50_000 * ETHER).to_string()
    );
    let split: Vec<(u32, String)> = find("internal", "split")
        .iter()
        .map(|e| (e.index, e.to.clone()))
        .collect();
    let sink = by_label(m, "forwarder-sink");
    assert_eq!(
        split,
        vec![
            (1, by_label(m, "internal-a")),
            (2, by_label(m, "internal-b")),
            (3, lower(&m["contracts"]["forwarder"])),
            (4, sink.clone()),
        ]
    );
    let direct: Vec<(u32, String)> = find("internal", "to_forwarder")
        .iter()
        .map(|e| (e.index, e.to.clone()))
        .collect();
    assert_eq!(direct, vec![(1, sink)]);
    for p in m["peel_chain"].as_array().unwrap() {
        let tx = lower(&p["tx"]);
        let e = got
            .iter()
            .find(|e| e.tx_hash == tx)
            .expect("peel tx fetched");
        assert_eq!(e.to, lower(&p["forward_to"]));
    }
    // ERC-20 index = the log's index in its block: block 2 has six Transfer logs.
    let mut block2: Vec<u32> = got
        .iter()
        .filter(|e| e.block == 2 && e.kind == "erc20")
        .map(|e| e.index)
        .collect();
    block2.sort();
    assert_eq!(block2, vec![0, 1, 2, 3, 4, 5]);

    // A re-run finds everything done and changes nothing.
    let out = hoptrace(&db)
        .args(["fetch", "--rpc", &node.url, "--confirmations", "0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already fetched"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(export(&db), text);

    // geth's callTracer path gives the same store as trace_block.
    let geth_db = dir.path().join("geth.db");
    fetch(&geth_db, &node.url, &["--internal-source", "debug-trace"]);
    assert_eq!(export(&geth_db), text);

    // The hops `trace` reports for the scenario's roles.
    let hacker = lower(&m["hacker"]);
    let hub = lower(&m["exchange_hub"]);
    import_labels_text(
        &db,
        dir.path(),
        "labels.csv",
        &format!(
            "address,category,name,source\n{hacker},hack,seed.py hacker,test\n{hub},exchange,seed.py exchange hub,test\n"
        ),
    );
    // The default policy with no dust threshold (peel-out-1 gets 0.5 ETH) and room
    // for the hops.
    let policy = default_policy_with(
        dir.path(),
        "policy.toml",
        &[
            ("max_hops = 6", "max_hops = 10"),
            ("ETH = \"1000000000000000000\"", "ETH = \"0\""),
        ],
    );
    let (csv, _) = ok(hoptrace(&db)
        .args([
            "trace",
            "--direction",
            "downstream",
            "--format",
            "csv",
            "--policy",
        ])
        .arg(&policy));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (a, h) = (col("address"), col("hops"));
    let hops: BTreeMap<String, u32> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[a].to_string(), f[h].parse().unwrap())
        })
        .collect();
    let mut want_hops: BTreeMap<String, u32> = BTreeMap::new();
    for (addr, r) in m["addresses"].as_object().unwrap() {
        if let Some(n) = r["hops_from_hacker"].as_u64() {
            want_hops.insert(addr.to_ascii_lowercase(), n as u32);
        }
    }
    want_hops.insert(hacker.clone(), 0);
    want_hops.insert(lower(&m["contracts"]["splitter"]), 1);
    want_hops.insert(lower(&m["contracts"]["forwarder"]), 1);
    for l in ["internal-a", "internal-b", "forwarder-sink"] {
        want_hops.insert(by_label(m, l), 2);
    }
    want_hops.insert(hub, 2);
    assert_eq!(hops, want_hops);
    let tainted: BTreeSet<String> = m["expected"]["tainted"]
        .as_array()
        .unwrap()
        .iter()
        .map(lower)
        .collect();
    assert_eq!(hops.keys().cloned().collect::<BTreeSet<_>>(), tainted);
}

#[test]
fn fetch_through_a_faulty_proxy_equals_the_clean_fetch() {
    let node = Devnet::seeded();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fetch(&clean, &node.url, &[]);
    let proxy = Proxy::start(
        &node.url,
        Faults {
            drop: 0.08,
            delay: 0.3,
            delay_ms: 80,
            too_many: 0.08,
            unavailable: 0.05,
            truncate: 0.1,
            garbage: false,
            max_log_range: Some(2),
            deny: &[],
        },
        7,
    );
    let faulty = dir.path().join("faulty.db");
    fetch(
        &faulty,
        &proxy.url,
        &[
            "--blocks-per-request",
            "4",
            "--concurrency",
            "4",
            "--retries",
            "12",
        ],
    );
    let faults = proxy
        .stats
        .faults
        .load(std::sync::atomic::Ordering::Relaxed);
    let refused = proxy
        .stats
        .refused_log_ranges
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(faults >= 3, "only {faults} faults injected");
    assert!(refused >= 1, "no eth_getLogs range was refused");
    assert_eq!(export(&faulty), export(&clean));
}

#[test]
fn fetch_killed_at_several_points_then_resumed_equals_the_clean_fetch() {
    let node = Devnet::seeded();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fetch(&clean, &node.url, &[]);
    // Every request waits up to 200 ms: one block per unit, one request at a
    // time, 3 requests per unit and 4 to start, so a whole fetch takes about 6 s
    // and the five runs below together do well under half of it.
    let slow = Proxy::start(
        &node.url,
        Faults {
            delay: 1.0,
            delay_ms: 200,
            ..Faults::NONE
        },
        11,
    );
    let db = dir.path().join("killed.db");
    let mut killed_mid_run = 0;
    for wait_ms in [150u64, 450, 900, 1500, 2200] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoptrace"))
            .env_remove("HOPTRACE_DB")
            .arg("--db")
            .arg(&db)
            .args([
                "fetch",
                "--rpc",
                &slow.url,
                "--confirmations",
                "0",
                "--quiet",
            ])
            .args(["--blocks-per-request", "1", "--concurrency", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hoptrace");
        std::thread::sleep(Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        // SIGKILL: no destructor, no rollback, no flush.
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} runs were killed mid-fetch"
    );
    let partial = parse_export(&export(&db)).len();
    assert!(
        partial < 71,
        "the killed runs already had everything ({partial})"
    );
    fetch(&db, &slow.url, &["--concurrency", "4"]);
    assert_eq!(export(&db), export(&clean));
}

#[test]
fn confirmations_keep_recent_blocks_out_until_they_are_deep_enough() {
    let node = Devnet::seeded();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let out = hoptrace(&db)
        .args([
            "fetch",
            "--rpc",
            &node.url,
            "--confirmations",
            "5",
            "--to-block",
            "latest",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("blocks 0..=12 (head 17)"), "{err}");
    let got = parse_export(&export(&db));
    assert_eq!(got.iter().map(|e| e.block).max(), Some(12));
    // Blocks 13..17 come in once they are deep enough (here: confirmations 0).
    fetch(&db, &node.url, &[]);
    let clean = dir.path().join("clean.db");
    fetch(&clean, &node.url, &[]);
    assert_eq!(export(&db), export(&clean));
}

#[test]
fn fetch_bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let fail = |args: &[&str]| -> String {
        let out = hoptrace(&db).arg("fetch").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // Inverted range: refused before any request.
    let err = fail(&[
        "--rpc",
        "http://127.0.0.1:1",
        "--from-block",
        "10",
        "--to-block",
        "5",
    ]);
    assert!(
        err.contains("--from-block 10 is after --to-block 5"),
        "{err}"
    );
    // Unreachable node.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let err = fail(&["--rpc", &url, "--retries", "2"]);
    assert!(
        err.contains(&format!("cannot reach the node at {url}")) && err.contains("eth_chainId"),
        "{err}"
    );
    // Not an http URL.
    let err = fail(&["--rpc", "ws://127.0.0.1:8545"]);
    assert!(err.contains("is not an http(s) URL"), "{err}");

    // A node on another chain than the store's.
    let node = Devnet::seeded();
    fetch(&db, &node.url, &["--to-block", "3"]);
    let other = OtherChain::start(5);
    let err = fail(&["--rpc", &other.url, "--confirmations", "0"]);
    assert!(
        err.contains("is on chain 5, but the store holds chain 31337"),
        "{err}"
    );

    // A node whose eth_getLogs answers are not JSON.
    let garbage = Proxy::start(
        &node.url,
        Faults {
            garbage: true,
            ..Faults::NONE
        },
        1,
    );
    let err = fail(&[
        "--rpc",
        &garbage.url,
        "--confirmations",
        "0",
        "--retries",
        "2",
    ]);
    assert!(
        err.contains("malformed JSON-RPC answer") && err.contains("upstream hiccup"),
        "{err}"
    );
}

/// A node without trace methods nor `eth_getBlockReceipts` (anvil behind a proxy
/// that answers "method not found" for them, as geth does for `trace_block` and
/// providers do for what they disable): the fetch says once that internal
/// transfers cannot be read, reads receipts one by one, and stores exactly the
/// native and ERC-20 transfers of the clean fetch. `--rps` spaces the calls.
#[test]
fn a_node_without_trace_methods_gives_the_other_kinds_and_says_so() {
    let node = Devnet::seeded();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fetch(&clean, &node.url, &["--kinds", "native,erc20"]);
    let proxy = Proxy::start(
        &node.url,
        Faults {
            deny: &[
                "trace_block",
                "debug_traceBlockByNumber",
                "eth_getBlockReceipts",
            ],
            ..Faults::NONE
        },
        3,
    );
    let db = dir.path().join("plain.db");
    let started = Instant::now();
    let out = hoptrace(&db)
        .args([
            "fetch",
            "--rpc",
            &proxy.url,
            "--confirmations",
            "0",
            "--rps",
            "40",
        ])
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("offers neither trace_block nor debug_traceBlockByNumber")
            .count(),
        1,
        "{err}"
    );
    let text = export(&db);
    assert_eq!(text, export(&clean));
    assert!(!text.contains(",internal,"));
    // 18 blocks: 2 units of headers, 50 receipts one by one, 2 log ranges, plus
    // 5 calls of setup: at 40 calls/s at least 1.3 s.
    let calls = proxy
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(calls >= 9, "{calls} requests");
    assert!(secs >= 1.3, "--rps 40 took only {secs:.2} s");
}

/// A bare anvil on another chain id (devnet.sh always asks for 31337).
struct OtherChain {
    url: String,
    child: std::process::Child,
}

impl OtherChain {
    fn start(chain_id: u64) -> OtherChain {
        let port = free_port();
        let anvil = devnet_dir().join("bin/anvil");
        let child = std::process::Command::new(&anvil)
            .args([
                "--port",
                &port.to_string(),
                "--chain-id",
                &chain_id.to_string(),
                "--quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", anvil.display()));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "anvil did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        OtherChain { url, child }
    }
}

impl Drop for OtherChain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
