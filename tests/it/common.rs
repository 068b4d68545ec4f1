//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `hoptrace` binary with `--db` pointing at `db`.
pub(crate) fn hoptrace(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary built");
    cmd.env_remove("HOPTRACE_DB").arg("--db").arg(db);
    cmd
}

/// The shared data directory (`../shared/data` next to the repository).
pub(crate) fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The repository's fixtures directory.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

/// Imports a transfer file and a label file into `db`, asserting both succeed.
pub(crate) fn import_both(db: &Path, transfers: &Path, labels: &Path) {
    hoptrace(db)
        .args(["import", "transfers"])
        .arg(transfers)
        .assert()
        .success();
    hoptrace(db)
        .args(["import", "labels"])
        .arg(labels)
        .assert()
        .success();
}

/// Writes `csv` to `dir/name` and imports it into `db` as labels, asserting it
/// succeeds.
pub(crate) fn import_labels_text(db: &Path, dir: &Path, name: &str, csv: &str) {
    let labels = write(dir, name, csv);
    hoptrace(db)
        .args(["import", "labels"])
        .arg(&labels)
        .assert()
        .success();
}

/// The default policy (`policy show`) with each `(old, new)` text replaced,
/// written to `dir/name`. Asserts each replacement found its text.
pub(crate) fn default_policy_with(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let shown = hoptrace(&dir.join("unused.db"))
        .args(["policy", "show"])
        .output()
        .expect("run policy show");
    assert!(shown.status.success());
    let mut text = String::from_utf8(shown.stdout).expect("utf-8");
    for (old, new) in edits {
        assert!(text.contains(old), "the default policy has no {old:?}");
        text = text.replace(old, new);
    }
    write(dir, name, &text)
}

/// Runs a command that must succeed; returns (stdout, stderr).
pub(crate) fn ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("run hoptrace");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert!(out.status.success(), "failed: {:?}\n{stderr}", out.status);
    (stdout, stderr)
}

/// `starts` (by address number) as starts of the graph's nodes: `internal` gives
/// each address's node.
pub(crate) fn starts_in(
    internal: &[u32],
    starts: &[hoptrace::exposure::Start],
) -> Vec<hoptrace::exposure::Start> {
    starts
        .iter()
        .map(|s| hoptrace::exposure::Start {
            node: internal[s.node as usize],
            since: s.since,
        })
        .collect()
}

/// Which of `nodes` addresses (numbered 0..nodes) the downstream hop search
/// reaches from `starts` over `transfers` (from, to, block, asset, amount; zero
/// amounts move nothing), with `services` not expanded and no hop limit: the
/// poison view that every value view must stay within.
pub(crate) fn poison_reached(
    nodes: usize,
    transfers: &[(u32, u32, u32, u32, u64)],
    starts: &[hoptrace::exposure::Start],
    services: &[bool],
) -> Vec<bool> {
    use hoptrace::exposure::hops;
    use hoptrace::graph::{Direction, Graph};
    let addrs: Vec<alloy_primitives::Address> = (0..nodes)
        .map(|i| alloy_primitives::Address::with_last_byte(i as u8))
        .collect();
    let edges: Vec<(u32, u32, u32)> = transfers
        .iter()
        .filter(|t| t.4 > 0)
        .map(|&(from, to, block, _, _)| (from, to, block))
        .collect();
    let graph = Graph::from_edges(addrs.clone(), &edges);
    let internal: Vec<u32> = addrs.iter().map(|a| graph.node(a).unwrap()).collect();
    let starts = starts_in(&internal, starts);
    let mut expand = vec![true; nodes];
    for (v, &service) in services.iter().enumerate() {
        expand[internal[v] as usize] = !service;
    }
    let reach = hops(
        &graph,
        Direction::Downstream,
        &starts,
        &expand,
        u32::MAX - 1,
    );
    internal.iter().map(|&v| reach.hops(v).is_some()).collect()
}

/// A random multigraph for the value properties: transfers (from, to, block,
/// asset, amount) in chain order (sorted by block, stable), 1 to 3 seeds with
/// `since` blocks, and one address in five a service.
#[derive(Debug, Clone)]
pub(crate) struct ValueCase {
    pub(crate) nodes: usize,
    pub(crate) transfers: Vec<(u32, u32, u32, u32, u64)>,
    pub(crate) starts: Vec<hoptrace::exposure::Start>,
    pub(crate) services: Vec<bool>,
}

/// [`ValueCase`]s of up to `max_nodes - 1` addresses, blocks below `max_blocks`,
/// two assets and amounts drawn from `amount`.
pub(crate) fn value_case(
    max_nodes: usize,
    max_blocks: u32,
    amount: impl proptest::strategy::Strategy<Value = u64> + Clone,
) -> impl proptest::strategy::Strategy<Value = ValueCase> {
    use hoptrace::exposure::Start;
    use proptest::prelude::*;
    (1usize..max_nodes, 0u32..max_blocks).prop_flat_map(move |(nodes, blocks)| {
        let n = nodes as u32;
        let transfer = (0..n, 0..n, 0..=blocks, 0u32..2, amount.clone());
        let start = (0..n, 0..=blocks + 1).prop_map(|(node, since)| Start { node, since });
        (
            Just(nodes),
            prop::collection::vec(transfer, 0..40),
            prop::collection::vec(start, 1..4),
            prop::collection::vec(prop::bool::weighted(0.2), nodes),
        )
            .prop_map(|(nodes, mut transfers, starts, services)| {
                transfers.sort_by_key(|t| t.2);
                ValueCase {
                    nodes,
                    transfers,
                    starts,
                    services,
                }
            })
    })
}

/// `transfers` (from, to, block, asset, amount) as the value engines' flows.
pub(crate) fn flows_of(transfers: &[(u32, u32, u32, u32, u64)]) -> Vec<hoptrace::exposure::Flow> {
    transfers
        .iter()
        .map(
            |&(from, to, block, asset, amount)| hoptrace::exposure::Flow {
                block,
                from,
                to,
                asset,
                amount: u128::from(amount),
            },
        )
        .collect()
}
