//! FIFO exposure: the engine against an obvious unit-by-unit model on random
//! graphs, and end to end: off by default, reported beside the haircut when the
//! policy asks for it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use hoptrace::exposure::fifo;

use crate::common::{
    ValueCase, default_policy_with, flows_of, hoptrace, import_both, ok, poison_reached,
    value_case, write,
};

type Case = ValueCase;

/// Amounts small enough to move one unit at a time.
fn case() -> impl Strategy<Value = Case> {
    value_case(9, 8, 0u64..25)
}

/// The obvious FIFO: every address's balance is a queue of single units, each
/// marked with the seed it came from (`None`: clean). A transfer moves its first
/// `amount` units (clean ones for what the queue lacks), all marked by the sender
/// when it is a seed at that block and all clean when it is a service; to oneself
/// it names them without moving them. Returns,
/// per (address, asset), the units received and how many came from each seed.
fn unit_fifo(c: &Case) -> BTreeMap<(u32, u32), (u64, BTreeMap<u32, u64>)> {
    let mut since: BTreeMap<u32, u32> = BTreeMap::new();
    for s in &c.starts {
        let e = since.entry(s.node).or_insert(s.since);
        *e = (*e).min(s.since);
    }
    let mut queues: BTreeMap<(u32, u32), VecDeque<Option<u32>>> = BTreeMap::new();
    let mut got: BTreeMap<(u32, u32), (u64, BTreeMap<u32, u64>)> = BTreeMap::new();
    for &(from, to, block, asset, amount) in &c.transfers {
        if amount == 0 {
            continue;
        }
        let queue = queues.entry((from, asset)).or_default();
        // To oneself: the units are named, not moved.
        let mut units: Vec<Option<u32>> = if from == to {
            (0..amount as usize)
                .map(|i| queue.get(i).copied().flatten())
                .collect()
        } else {
            (0..amount).map(|_| queue.pop_front().flatten()).collect()
        };
        if since.get(&from).is_some_and(|&s| block >= s) {
            units = vec![Some(from); amount as usize];
        } else if c.services[from as usize] {
            units = vec![None; amount as usize];
        }
        let entry = got.entry((to, asset)).or_default();
        entry.0 += amount;
        for &u in &units {
            if let Some(seed) = u {
                *entry.1.entry(seed).or_default() += 1;
            }
        }
        if from != to && (!c.services[to as usize] || since.contains_key(&to)) {
            queues.entry((to, asset)).or_default().extend(units);
        }
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Lots, splitting and merging give exactly what moving units one by one gives.
    #[test]
    fn fifo_matches_moving_units_one_by_one(c in case()) {
        let expand: Vec<bool> = c.services.iter().map(|s| !s).collect();
        let got = fifo(c.nodes, &c.starts, &expand, &flows_of(&c.transfers));
        let want = unit_fifo(&c);
        let entries = got.entries();
        prop_assert_eq!(entries.len(), want.len());
        for ((key, e), (want_key, (received, by_seed))) in entries.iter().zip(&want) {
            prop_assert_eq!(key, want_key);
            prop_assert_eq!(e.received, u128::from(*received));
            let by_seed: Vec<(u32, u128)> =
                by_seed.iter().map(|(&s, &n)| (s, u128::from(n))).collect();
            prop_assert_eq!(&e.by_seed, &by_seed, "{:?}", key);
            prop_assert!(e.tainted() <= e.received);
            prop_assert!((0.0..=1.0).contains(&e.share()));
        }
    }

    /// Under the same rules as the hop search (services not expanded, no hop
    /// limit), every address that received tainted value under FIFO is reached.
    #[test]
    fn positive_fifo_share_is_reached_by_poison(c in case()) {
        let expand: Vec<bool> = c.services.iter().map(|s| !s).collect();
        let got = fifo(c.nodes, &c.starts, &expand, &flows_of(&c.transfers));
        let reached = poison_reached(c.nodes, &c.transfers, &c.starts, &c.services);
        for ((node, _), e) in got.entries() {
            if e.tainted() > 0 {
                prop_assert!(reached[node as usize], "{} unreached", node);
            }
        }
    }
}

const SANCTIONED: &str = "0x5555555555555555555555555555555555555555";
const MIXED: &str = "0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const FUNDER: &str = "0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
const FIRST: &str = "0xb1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";
const SECOND: &str = "0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
const FIVE_ETH: &str = "5000000000000000000";

/// A wallet gets 5 ETH from a sanctioned address, then 5 clean ETH, and sends 5
/// ETH twice: FIFO says the first 5 out were the tainted ones, the haircut half
/// of each.
fn store(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("block,tx_hash,from,to,asset,amount\n");
    for (i, (from, to)) in [
        (SANCTIONED, MIXED),
        (FUNDER, MIXED),
        (MIXED, FIRST),
        (MIXED, SECOND),
    ]
    .iter()
    .enumerate()
    {
        writeln!(
            csv,
            "{},0x{:064x},{from},{to},ETH,{FIVE_ETH}",
            100 + i,
            i + 1
        )
        .unwrap();
    }
    let transfers = write(dir, "fifo.csv", &csv);
    let labels = write(
        dir,
        "sdn.csv",
        &format!("address,category,name,source,version\n{SANCTIONED},sanctioned,S,test-sdn,1\n"),
    );
    let db = dir.join("fifo.db");
    import_both(&db, &transfers, &labels);
    db
}

fn check(db: &Path, extra: &[&str]) -> (String, Vec<Value>) {
    let (text, _) = ok(hoptrace(db)
        .args(["check", "--format", "json"])
        .args(extra)
        .args([FIRST, SECOND]));
    (text.clone(), serde_json::from_str(&text).expect("json"))
}

#[test]
fn fifo_is_reported_beside_the_haircut_when_the_policy_asks() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let policy = default_policy_with(
        dir.path(),
        "fifo.toml",
        &[("max_hops = 6", "fifo = true\nmax_hops = 6")],
    );
    let policy = policy.to_str().unwrap();

    // Off by default: no FIFO fields at all.
    let (plain, results) = check(&db, &[]);
    assert!(!plain.contains("fifo"), "{plain}");
    assert_eq!(results[0]["downstream"]["share"], 0.5);

    let (text, results) = check(&db, &["--policy", policy]);
    let (first, second) = (&results[0], &results[1]);
    // The haircut: half of each. FIFO: all of the first, none of the second.
    for r in [first, second] {
        assert_eq!(r["downstream"]["share"], 0.5, "{r}");
        assert_eq!(r["exposure"][0]["share"], 0.5);
    }
    assert_eq!(first["downstream"]["fifo_share"], 1.0);
    assert_eq!(first["downstream"]["fifo_tainted"], FIVE_ETH);
    assert_eq!(first["exposure"][0]["fifo_tainted"], FIVE_ETH);
    assert_eq!(first["exposure"][0]["fifo_share"], 1.0);
    assert_eq!(second["downstream"]["fifo_share"], 0.0);
    assert_eq!(second["exposure"][0]["fifo_tainted"], "0");
    // The score keeps using the haircut: both score alike.
    assert_eq!(first["score"], second["score"]);
    // Reproducible: the rerun is answered from the results cache, with the FIFO
    // totals (tests/it/snapshot.rs checks that it is).
    assert_eq!(check(&db, &["--policy", policy]).0, text);
    assert_eq!(check(&db, &[]).0, plain);

    // trace carries it in JSON, and the table view of check prints it.
    let (trace, _) = ok(hoptrace(&db).args([
        "trace",
        "--format",
        "json",
        "--direction",
        "downstream",
        "--policy",
        policy,
    ]));
    let findings: Vec<Value> = serde_json::from_str(&trace).expect("json array");
    let of = |address: &str| {
        findings
            .iter()
            .find(|f| f["address"] == address)
            .unwrap_or_else(|| panic!("{address} in {trace}"))
    };
    assert_eq!(of(FIRST)["fifo_share"], 1.0);
    assert_eq!(of(SECOND)["fifo_share"], 0.0);
    // Every downstream finding has a FIFO share, as it has a haircut share (0 for
    // the seed, which received nothing).
    for f in &findings {
        assert_eq!(f["fifo_share"].is_number(), f["share"].is_number(), "{f}");
    }
    assert_eq!(of(SANCTIONED)["share"], 0.0);
    assert_eq!(of(SANCTIONED)["fifo_share"], 0.0);
    // CSV: two more columns at the end, under FIFO only.
    let csv_of = |extra: &[&str]| {
        let (text, _) = ok(hoptrace(&db)
            .args(["trace", "--format", "csv", "--direction", "downstream"])
            .args(extra));
        text
    };
    let plain_csv = csv_of(&[]);
    assert!(plain_csv.starts_with("address,") && !plain_csv.contains("fifo"));
    let csv = csv_of(&["--policy", policy]);
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",policy_hash,fifo_share,fifo_tainted"),
        "{header}"
    );
    let row = |address: &str| {
        csv.lines()
            .find(|l| l.starts_with(address))
            .unwrap_or_else(|| panic!("{address} in {csv}"))
            .to_string()
    };
    assert!(
        row(FIRST).ends_with(&format!(",1,{FIVE_ETH}")),
        "{}",
        row(FIRST)
    );
    assert!(row(SECOND).ends_with(",0,0"), "{}", row(SECOND));
    let wallets = write(
        dir.path(),
        "wallets.csv",
        &format!("address\n{FIRST}\n{SECOND}\n"),
    );
    let (scored, _) = ok(hoptrace(&db)
        .args(["score"])
        .arg(&wallets)
        .args(["--policy", policy]));
    let mut lines = scored.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",data_block,downstream_fifo_share,downstream_fifo_tainted")
    );
    assert!(lines.next().unwrap().ends_with(&format!(",1,{FIVE_ETH}")));
    assert!(lines.next().unwrap().ends_with(",0,0"));

    let (table, _) = ok(hoptrace(&db).args(["check", FIRST, "--policy", policy]));
    assert!(
        table.contains(&format!("FIFO {FIVE_ETH} tainted (share 1.0000)")),
        "{table}"
    );
}
