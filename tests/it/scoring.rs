//! Scores end to end: the dusting scenario, direction-aware dust, byte-identical
//! reruns, the policy file and its hash, hub pruning, and `diff` naming the cause of
//! a score change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{default_policy_with, hoptrace, import_both, import_labels_text, ok, write};

const SANCTIONED: &str = "0x5555555555555555555555555555555555555555";
const FORWARDER: &str = "0xf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
const ONWARD: &str = "0xf1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1";
const DUST_SENDER: &str = "0xd5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5";
const TENTH_ETH: &str = "100000000000000000";
const HUNDRED_ETH: &str = "100000000000000000000";

/// The i-th dusted wallet.
fn victim(i: usize) -> String {
    format!("0x{:040x}", 0xd000 + i)
}

fn tx(n: usize) -> String {
    format!("0x{n:064x}")
}

/// One sanctioned source dusts 50 wallets with 0.1 ETH (they never spend it), and
/// sends 100 ETH to a wallet that forwards it. A wallet of its own sends 0.01 ETH
/// *to* the sanctioned address.
fn dusting(dir: &Path) -> PathBuf {
    let mut csv = String::from("block,tx_hash,from,to,asset,amount\n");
    // What a wallet sent before it was dusted does not count as spending the dust.
    writeln!(csv, "99,{},{},{ONWARD},ETH,{TENTH_ETH}", tx(99), victim(0)).unwrap();
    for i in 0..50 {
        writeln!(
            csv,
            "100,{},{SANCTIONED},{},ETH,{TENTH_ETH}",
            tx(i + 1),
            victim(i)
        )
        .unwrap();
    }
    writeln!(
        csv,
        "101,{},{SANCTIONED},{FORWARDER},ETH,{HUNDRED_ETH}",
        tx(100)
    )
    .unwrap();
    writeln!(
        csv,
        "102,{},{FORWARDER},{ONWARD},ETH,{HUNDRED_ETH}",
        tx(101)
    )
    .unwrap();
    writeln!(
        csv,
        "103,{},{DUST_SENDER},{SANCTIONED},ETH,10000000000000000",
        tx(102)
    )
    .unwrap();
    let transfers = write(dir, "dusting.csv", &csv);
    let labels = write(
        dir,
        "sdn.csv",
        &format!(
            "address,category,name,source,version\n{SANCTIONED},sanctioned,Duster,test-sdn,2022-08-08\n"
        ),
    );
    let db = dir.join("dusting.db");
    import_both(&db, &transfers, &labels);
    db
}

fn check_json(db: &Path, extra: &[&str], addresses: &[&str]) -> (String, Vec<Value>) {
    let (text, _) = ok(hoptrace(db)
        .args(["check", "--format", "json"])
        .args(extra)
        .args(addresses));
    let json: Vec<Value> = serde_json::from_str(&text).expect("json");
    (text, json)
}

#[test]
fn dusted_wallets_stay_low_while_the_forwarder_is_severe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    let victims: Vec<String> = (0..50).map(victim).collect();
    let mut asked: Vec<&str> = victims.iter().map(String::as_str).collect();
    asked.extend([FORWARDER, ONWARD, DUST_SENDER]);
    let (_, results) = check_json(&db, &[], &asked);
    for r in &results[..50] {
        // Reached in one hop, fully tainted, but dust never spent: no downstream score.
        assert_eq!(r["downstream_hops"], 1, "{r}");
        assert_eq!(r["downstream"]["share"], 1.0);
        assert_eq!(r["downstream"]["dust_only"], true);
        let level = r["score_level"].as_str().unwrap();
        assert!(
            level == "none" || level == "low",
            "{} is {level}",
            r["address"]
        );
    }
    let forwarder = &results[50];
    assert_eq!(forwarder["score_level"], "severe");
    assert_eq!(forwarder["score"], 100);
    assert_eq!(forwarder["downstream"]["tainted"], HUNDRED_ETH);
    assert_eq!(
        forwarder["downstream"]["top_seeds"][0]["source"],
        SANCTIONED
    );
    assert_eq!(
        forwarder["downstream"]["seed_sources"][0]["version"],
        "2022-08-08"
    );
    assert_eq!(forwarder["downstream"]["path"][0]["amount"], HUNDRED_ETH);
    // Two hops, fully tainted: 100 * 0.6.
    assert_eq!(results[51]["score"], 60);
    assert_eq!(results[51]["score_level"], "high");
    // Dust the wallet itself sent to the sanctioned address counts upstream.
    let sender = &results[52];
    assert_eq!(sender["upstream_hops"], 1);
    assert_eq!(sender["score"], 80);
    assert_eq!(sender["score_level"], "severe");
    assert_eq!(sender["provenance"]["data_block"], 103);
    assert_eq!(
        sender["provenance"]["label_versions"][0],
        "test-sdn@2022-08-08"
    );
}

#[test]
fn reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    let wallets = write(
        dir.path(),
        "wallets.csv",
        &format!(
            "address\n{FORWARDER}\n{ONWARD}\n{}\n{DUST_SENDER}\n",
            victim(3)
        ),
    );
    let run = |args: &[&str]| {
        let out = hoptrace(&db).args(args).output().expect("run");
        assert!(out.status.success());
        out.stdout
    };
    let w = wallets.to_str().unwrap();
    for args in [
        vec!["score", w],
        vec!["trace", "--format", "json"],
        vec!["check", "--format", "json", FORWARDER, DUST_SENDER],
    ] {
        let first = run(&args);
        assert!(!first.is_empty());
        assert_eq!(first, run(&args), "{args:?}");
    }
    let score = String::from_utf8(run(&["score", w])).unwrap();
    let forwarder = score.lines().nth(1).unwrap();
    assert!(
        forwarder.starts_with(&format!(
            "{FORWARDER},1,,sanctioned,high,100,severe,1,{HUNDRED_ETH},ETH,"
        )),
        "{forwarder}"
    );
    assert!(forwarder.ends_with(",103"), "{forwarder}");
}

#[test]
fn policy_show_prints_the_defaults_that_a_policy_file_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let out = hoptrace(&dir.path().join("unused.db"))
        .args(["policy", "show"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("max_hops = 6"), "{text}");
    assert!(
        text.contains("[dust]\nETH = \"1000000000000000000\""),
        "{text}"
    );
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("# sha256 "))
        .unwrap()
        .to_string();
    // The printed text is itself a valid policy with the same hash.
    let file = write(dir.path(), "default.toml", &text);
    let db = dusting(dir.path());
    let (_, results) = check_json(&db, &["--policy", file.to_str().unwrap()], &[FORWARDER]);
    assert_eq!(results[0]["provenance"]["policy_hash"], hash.as_str());
    // A bad policy is refused with the field named.
    let bad = write(
        dir.path(),
        "bad.toml",
        &text.replace("hop_decay = 0.6", "hop_decay = 2.0"),
    );
    let out = hoptrace(&db)
        .args(["check", FORWARDER, "--policy"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hop_decay"));
}

#[test]
fn hub_degree_prunes_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    // The forwarder has degree 2: with a cut-off of 1 it is a hub, reached but not
    // expanded, so the onward wallet is no longer reached.
    let policy = default_policy_with(
        dir.path(),
        "hubs.toml",
        &[("hub_degree = 0", "hub_degree = 1")],
    );
    let (_, results) = check_json(
        &db,
        &["--policy", policy.to_str().unwrap()],
        &[FORWARDER, ONWARD],
    );
    assert_eq!(results[0]["downstream_hops"], 1);
    assert_eq!(results[1]["downstream_hops"], Value::Null);
    assert_eq!(results[1]["score"], 0);
    // Every non-seed address with two transfers or more, sorted; seeds are never pruned.
    assert_eq!(
        results[1]["provenance"]["hubs_pruned"],
        serde_json::json!([victim(0), FORWARDER, ONWARD])
    );
}

/// `hoptrace diff OLD NEW`'s standard output; the command must succeed.
fn diff_text(db: &Path, old: &Path, new: &Path) -> String {
    let out = hoptrace(db).arg("diff").arg(old).arg(new).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn diff_names_the_cause_of_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    let asked = [ONWARD, DUST_SENDER];
    let (before, _) = check_json(&db, &[], &asked);
    let old = write(dir.path(), "old.json", &before);
    let diff = |new: &Path| diff_text(&db, &old, new);
    assert_eq!(diff(&old), "no score changed\n");

    // One label added: the onward wallet's forwarder becomes a hack seed.
    import_labels_text(
        &db,
        dir.path(),
        "hacks.csv",
        &format!(
            "address,category,name,source,version\n{FORWARDER},hack,Forwarder,test-hacks,v1\n"
        ),
    );
    let (after, _) = check_json(&db, &[], &asked);
    let text = diff(&write(dir.path(), "label.json", &after));
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with(&format!("{ONWARD}  60 (high) -> 90 (severe)  because: new label: seed {FORWARDER} (hack); lists added test-hacks@v1")), "{text}");

    // A changed policy.
    let strict = default_policy_with(
        dir.path(),
        "strict.toml",
        &[("upstream = 0.8", "upstream = 0.5")],
    );
    let (changed, _) = check_json(&db, &["--policy", strict.to_str().unwrap()], &asked);
    let text = diff_text(
        &db,
        &write(dir.path(), "label-old.json", &after),
        &write(dir.path(), "policy.json", &changed),
    );
    assert!(
        text.starts_with(&format!(
            "{DUST_SENDER}  80 (severe) -> 50 (medium)  because: changed policy ("
        )),
        "{text}"
    );

    // New transfers: the onward wallet receives 100 ETH more from the sanctioned seed.
    let more = write(
        dir.path(),
        "more.csv",
        &format!(
            "block,tx_hash,from,to,asset,amount\n104,{},{SANCTIONED},{DUST_SENDER},ETH,{HUNDRED_ETH}\n",
            tx(200)
        ),
    );
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&more)
        .assert()
        .success();
    let (latest, _) = check_json(&db, &[], &asked);
    let text = diff_text(
        &db,
        &write(dir.path(), "label-old2.json", &after),
        &write(dir.path(), "latest.json", &latest),
    );
    assert!(text.starts_with(&format!("{DUST_SENDER}  80 (severe) -> 100 (severe)  because: new transfers (data up to block 103 -> 104)")), "{text}");
}

#[test]
fn diff_names_an_address_that_became_a_seed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    let (before, _) = check_json(&db, &[], &[ONWARD]);
    import_labels_text(
        &db,
        dir.path(),
        "hacks.csv",
        &format!("address,category,name,source,version\n{ONWARD},hack,Onward,test-hacks,v1\n"),
    );
    let (after, results) = check_json(&db, &[], &[ONWARD]);
    // Both of its findings are now the address itself at hop 0: one seed, named once.
    assert_eq!(results[0]["downstream"]["seed"], ONWARD);
    assert_eq!(results[0]["upstream"]["seed"], ONWARD);
    assert_eq!(
        diff_text(
            &db,
            &write(dir.path(), "old.json", &before),
            &write(dir.path(), "new.json", &after),
        ),
        format!(
            "{ONWARD}  60 (high) -> 90 (severe)  because: new label: seed {ONWARD} (hack); lists added test-hacks@v1\n"
        )
    );
}

#[test]
fn without_the_haircut_scores_take_the_poison_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = dusting(dir.path());
    let (_, results) = check_json(&db, &["--no-haircut"], &[&victim(1), ONWARD]);
    // No shares, no dust rule: a dusted wallet counts as fully tainted at 1 hop.
    assert_eq!(results[0]["downstream"]["share"], Value::Null);
    assert_eq!(results[0]["exposure"], serde_json::json!([]));
    assert_eq!(results[0]["score"], 100);
    assert_eq!(results[1]["score"], 60);
    assert_eq!(results[1]["provenance"]["data_block"], 103);
}
