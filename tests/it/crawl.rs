//! `hoptrace crawl` on the seeded anvil chain: from the hacker (seed), two hops
//! out, the exchange hub labelled an exchange (stored, not expanded).
//!
//! Worked out from the scenario (see `fetch.rs`): the hacker sends peel-hop-1
//! (block 4), fanout-1..6 (10), the Splitter and the Forwarder (11) ETH, and
//! token-hop-1 TT (12): 10 transfers, and those 10 addresses are hop 1. Of them,
//! peel-hop-1 sends peel-out-1 and peel-hop-2 (2), fanout-1 sends the hub (1), the
//! Splitter sends internal-a, internal-b and the Forwarder (3 internal), the
//! Forwarder sends forwarder-sink twice (2 internal), token-hop-1 sends
//! token-hop-2 (1): 9 more. Hop 2 is peel-out-1, peel-hop-2, internal-a,
//! internal-b, forwarder-sink, token-hop-2 (the Forwarder is hop 1 already; the
//! hub is not expanded). The crawled store holds exactly the full fetch's
//! transfers sent by the hacker and the hop-1 addresses, with the same
//! identities.

use std::collections::BTreeSet;

use crate::common::{hoptrace, import_labels_text};
use crate::fetch::{export, fetch, parse_export};
use crate::fetch_node::Devnet;

#[test]
fn crawl_two_hops_from_the_seed_stores_what_they_sent() {
    let node = Devnet::seeded();
    let m = &node.manifest;
    let lower = |v: &serde_json::Value| v.as_str().unwrap().to_ascii_lowercase();
    let label = |l: &str| {
        m["addresses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, r)| r["label"] == l)
            .map(|(a, _)| a.to_ascii_lowercase())
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let hacker = lower(&m["hacker"]);
    let hub = lower(&m["exchange_hub"]);
    let db = dir.path().join("crawl.db");
    import_labels_text(
        &db,
        dir.path(),
        "labels.csv",
        &format!(
            "address,category,name,source\n{hacker},hack,hacker,test\n{hub},exchange,hub,test\n"
        ),
    );
    let out = hoptrace(&db)
        .args([
            "crawl",
            "--rpc",
            &node.url,
            "--hops",
            "2",
            "--confirmations",
            "0",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("addresses per hop 1, 10, 6; 19 transfers (19 new)"),
        "{err}"
    );

    let full = dir.path().join("full.db");
    fetch(&full, &node.url, &[]);
    let mut hop1: BTreeSet<String> = ["peel-hop-1", "token-hop-1"]
        .iter()
        .map(|l| label(l))
        .collect();
    for k in 1..=6 {
        hop1.insert(label(&format!("fanout-{k}")));
    }
    hop1.insert(lower(&m["contracts"]["splitter"]));
    hop1.insert(lower(&m["contracts"]["forwarder"]));
    assert_eq!(hop1.len(), 10);
    let want: Vec<_> = parse_export(&export(&full))
        .into_iter()
        .filter(|e| e.from == hacker || hop1.contains(&e.from))
        .collect();
    assert_eq!(want.len(), 19);
    assert_eq!(parse_export(&export(&db)), want);
}
