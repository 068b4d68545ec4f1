//! Reports: findings with their evidence, rendered as CSV, JSON, JSONL or a table.
//!
//! The report code is pure: it is handed an [`Analysis`] and a function that turns
//! a path step into the stored transfer it stands for, and it writes to any
//! `io::Write`. Machine formats write addresses as lowercase `0x` hex and amounts as
//! decimal strings in base units (they exceed JSON's number range).

use std::io::{self, Write};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analysis::{Analysis, HaircutExposure, RiskLevel};
use crate::exposure::{FifoTotals, Step};
use crate::graph::Direction;
use crate::labels::{Label, SeedSource};
use crate::policy::Policy;
use crate::transfer::{Transfer, lower_hex};

/// Output formats of `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per finding; the path as tx hashes joined by `>`.
    Csv,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Aligned columns for people.
    Table,
}

/// One transfer of an evidence path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathTransfer {
    /// Transaction hash.
    pub tx_hash: String,
    /// Sender.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// Block.
    pub block: u32,
    /// `ETH` or the token contract.
    pub asset: String,
    /// Amount in base units, decimal.
    pub amount: String,
    /// native, internal or erc20.
    pub kind: String,
    /// Position within the transaction.
    pub index: u32,
}

impl From<&Transfer> for PathTransfer {
    fn from(t: &Transfer) -> Self {
        PathTransfer {
            tx_hash: format!("{:#x}", t.tx_hash),
            from: lower_hex(&t.from),
            to: lower_hex(&t.to),
            block: t.block,
            asset: t.asset.to_string(),
            amount: t.amount.to_string(),
            kind: t.kind.to_string(),
            index: t.index,
        }
    }
}

/// Tainted value one seed (or one category) contributed to an address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// The seed's address, or the category's name.
    pub source: String,
    /// The seed's category (for a category: the same name).
    pub category: String,
    /// Tainted amount received from it, base units, rounded to a whole unit.
    pub tainted: String,
    /// Its part of everything the address received in that asset, in [0, 1].
    pub share: f64,
}

/// One address reached in one direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The reached address.
    pub address: String,
    /// downstream or upstream.
    pub direction: &'static str,
    /// Fewest transfers on a time-respecting path.
    pub hops: u32,
    /// The seed at the other end of the path.
    pub seed: String,
    /// The seed's most severe category.
    pub seed_category: String,
    /// The seed's entity name, if known.
    pub seed_name: Option<String>,
    /// The lists that make the seed risky.
    pub seed_lists: Vec<String>,
    /// Each risky label behind the seed: list, version, category, original tag,
    /// entity, uid, program.
    pub seed_sources: Vec<SeedSource>,
    /// The evidence, in money-flow order; `hops` transfers long. Shared: findings
    /// from one seed cite the same first transfers.
    pub path: Vec<Arc<PathTransfer>>,
    /// This finding's score under the policy, 0-100.
    pub score: u32,
    /// Its level.
    pub score_level: &'static str,
    /// Downstream: the haircut share of what the address received in its worst
    /// asset, in [0, 1]; none upstream or when the haircut was not run.
    pub share: Option<f64>,
    /// Downstream: the tainted amount received in that asset, base units.
    pub tainted: Option<String>,
    /// Downstream: that asset.
    pub asset: Option<String>,
    /// Downstream: its tainted input was dust only and it sent nothing after it arrived, so
    /// the finding scores 0 (the dust rule).
    pub dust_only: bool,
    /// Downstream: the tainted value of that asset by seed category, largest first.
    pub by_category: Vec<Contribution>,
    /// Downstream: the seeds that contributed most, largest first (at most 5).
    pub top_seeds: Vec<Contribution>,
    /// Downstream: poison and haircut disagree strongly: reached through hops, but
    /// less than 1% of what the address received was tainted.
    pub poison_only: bool,
    /// Downstream, under FIFO (when the policy asks for it): the share of what the
    /// address received in `asset` that was tainted, in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_share: Option<f64>,
    /// Downstream, under FIFO: the tainted amount received in `asset`, base units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_tainted: Option<String>,
}

/// Below this haircut share a reached address is flagged `poison_only`.
pub const POISON_ONLY_SHARE: f64 = 0.01;

/// The `by_category` entry of tainted value from seeds the haircut did not name.
pub const OTHER_SEEDS: &str = "other seeds";

/// How many contributing seeds a finding lists.
const TOP_SEEDS: usize = 5;

/// Tainted amounts are printed as whole base units.
fn units(x: f64) -> String {
    format!("{:.0}", x.max(0.0).floor())
}

/// A tainted amount `t` of `received`, for output: rounded down to whole base units,
/// except that all of it reads as the exact amount received. (An `f64` holds
/// integers exactly only up to 2^53, so a fully tainted 99581196500000000000 wei
/// would otherwise print as 99581196499999997952.)
pub fn tainted_units(t: f64, received: alloy_primitives::U256) -> String {
    if !received.is_zero() && t >= f64::from(received) {
        received.to_string()
    } else {
        units(t)
    }
}

/// What `node` received of `asset` under FIFO, when the analysis ran it. (It
/// received the asset if the haircut says so: both count the same transfers.)
pub fn fifo_of(h: &HaircutExposure, node: u32, asset: u32) -> Option<FifoTotals> {
    let fifo = h.fifo.as_ref()?;
    Some(fifo.totals(node, asset).unwrap_or_default())
}

/// The columns `score` appends to each wallet's row, in this order.
pub const SCORE_COLUMNS: [&str; 11] = [
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
    "data_block",
];

/// The columns `score` appends after [`SCORE_COLUMNS`] under a FIFO policy.
pub const SCORE_FIFO_COLUMNS: [&str; 2] = ["downstream_fifo_share", "downstream_fifo_tainted"];

/// The values of [`SCORE_COLUMNS`], then under a FIFO policy those of
/// [`SCORE_FIFO_COLUMNS`], for a wallet whose graph node is `node` (none if it
/// has no transfers); `hash` is the policy's hash, `data_block` the data's block
/// height. Empty where there is nothing to say. The exposure columns are the
/// haircut's (and FIFO's) for the asset of its worst share, and only for a wallet
/// that the downstream search reached.
pub fn score_columns(a: &Analysis, node: Option<u32>, hash: &str, data_block: &str) -> Vec<String> {
    let mut fields = Vec::with_capacity(SCORE_COLUMNS.len() + SCORE_FIFO_COLUMNS.len());
    let hops = |d| node.and_then(|n| a.hops(d, n));
    let down = hops(Direction::Downstream);
    let text = |h: Option<u32>| h.map(|h| h.to_string()).unwrap_or_default();
    let nearest = node.and_then(|n| a.nearest(n));
    fields.push(text(down));
    fields.push(text(hops(Direction::Upstream)));
    fields.push(nearest.map(|(_, _, c)| c.to_string()).unwrap_or_default());
    let level = RiskLevel::from_hops(nearest.map(|(_, h, _)| h));
    fields.push(if level == RiskLevel::None {
        String::new()
    } else {
        level.as_str().to_string()
    });
    let score = node.map(|n| a.score(n));
    fields.push(score.map_or(0, |s| s.score).to_string());
    fields.push(score.map_or("none", |s| s.level).to_string());
    // Only for a wallet that the downstream search reached.
    let worst = node.filter(|_| down.is_some()).and_then(|n| {
        a.haircut
            .as_ref()
            .and_then(|h| h.result.worst(n).map(|e| (e, h)))
    });
    match &worst {
        Some((e, h)) => {
            fields.push(e.share().to_string());
            fields.push(tainted_units(e.tainted(), e.received));
            fields.push(
                h.assets
                    .get(e.asset as usize)
                    .map_or_else(String::new, |x| x.to_string()),
            );
        }
        None => fields.extend([String::new(), String::new(), String::new()]),
    }
    fields.push(hash.to_string());
    fields.push(data_block.to_string());
    if a.policy.fifo {
        // Under FIFO, for the same asset as the haircut's columns.
        let fifo = worst
            .as_ref()
            .zip(node)
            .and_then(|((e, h), n)| fifo_of(h, n, e.asset));
        match fifo {
            Some(f) => fields.extend([f.share().to_string(), f.tainted.to_string()]),
            None => fields.extend([String::new(), String::new()]),
        }
    }
    fields
}

/// The haircut part of a downstream finding.
fn haircut_facts(analysis: &Analysis, node: u32, f: &mut Finding) {
    let Some(h) = &analysis.haircut else {
        return;
    };
    let Some(worst) = h.result.worst(node) else {
        // Received nothing: no share in either view.
        f.share = Some(0.0);
        f.fifo_share = h.fifo.as_ref().map(|_| 0.0);
        return;
    };
    let received = f64::from(worst.received);
    let part = |t: f64| {
        if received > 0.0 {
            (t / received).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    f.share = Some(worst.share());
    f.tainted = Some(tainted_units(worst.tainted(), worst.received));
    if let Some(fifo) = fifo_of(h, node, worst.asset) {
        f.fifo_share = Some(fifo.share());
        f.fifo_tainted = Some(fifo.tainted.to_string());
    }
    f.asset = h.assets.get(worst.asset as usize).map(|a| a.to_string());
    let category = |seed: u32| {
        analysis
            .seeds
            .get(&seed)
            .map_or_else(String::new, |s| s.category.to_string())
    };
    let mut by_category: Vec<(String, f64)> = Vec::new();
    for &(seed, t) in &worst.by_seed {
        let c = category(seed);
        match by_category.iter_mut().find(|(name, _)| *name == c) {
            Some(slot) => slot.1 += t,
            None => by_category.push((c, t)),
        }
    }
    // Seeds beyond the engine's top few are not named: their value is reported
    // as one entry, category unknown.
    let other = worst.other_seeds();
    if other >= 1.0 {
        by_category.push((OTHER_SEEDS.to_string(), other));
    }
    by_category.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    f.by_category = by_category
        .into_iter()
        .map(|(c, t)| Contribution {
            source: c.clone(),
            category: c,
            tainted: tainted_units(t, worst.received),
            share: part(t),
        })
        .collect();
    f.top_seeds = worst
        .top_seeds(TOP_SEEDS)
        .into_iter()
        .map(|(seed, t)| Contribution {
            source: lower_hex(&analysis.graph.address(seed)),
            category: category(seed),
            tainted: tainted_units(t, worst.received),
            share: part(t),
        })
        .collect();
}

/// Turns path steps into evidence transfers, remembering the ones it resolved
/// (up to [`Evidence::MEMO`] of them; then it starts afresh, so that tracing a
/// whole large graph holds bounded memory). The lookup renders a step's stored
/// transfer ([`PathTransfer::from`]); a server may hand out transfers it rendered
/// for earlier requests.
pub struct Evidence<F> {
    lookup: F,
    memo: FxHashMap<(u32, u32, u32), Arc<PathTransfer>>,
}

impl<F, E> Evidence<F>
where
    F: FnMut(Step) -> Result<Arc<PathTransfer>, E>,
{
    /// Most transfers remembered at once.
    pub const MEMO: usize = 1 << 20;

    /// Wraps a lookup function.
    pub fn new(lookup: F) -> Self {
        Evidence {
            lookup,
            memo: FxHashMap::default(),
        }
    }

    /// The transfers of a path.
    pub fn resolve(&mut self, steps: &[Step]) -> Result<Vec<Arc<PathTransfer>>, E> {
        steps
            .iter()
            .map(|s| {
                let key = (s.from, s.to, s.block);
                if let Some(t) = self.memo.get(&key) {
                    return Ok(Arc::clone(t));
                }
                let t = (self.lookup)(*s)?;
                if self.memo.len() >= Self::MEMO {
                    self.memo.clear();
                }
                self.memo.insert(key, Arc::clone(&t));
                Ok(t)
            })
            .collect()
    }
}

/// The finding for `node` in `direction`, if reached.
pub fn finding<F, E>(
    analysis: &Analysis,
    direction: Direction,
    node: u32,
    evidence: &mut Evidence<F>,
) -> Result<Option<Finding>, E>
where
    F: FnMut(Step) -> Result<Arc<PathTransfer>, E>,
{
    let Some(reach) = analysis.reach(direction) else {
        return Ok(None);
    };
    let (Some(hops), Some((seed_node, seed))) =
        (reach.hops(node), analysis.seed_of(direction, node))
    else {
        return Ok(None);
    };
    let path = evidence.resolve(&reach.path(node))?;
    let facts = analysis
        .score_findings(node)
        .into_iter()
        .find(|f| f.direction == direction);
    let score = facts.map_or(0, |f| {
        crate::score::finding_score(&analysis.policy, &f).round() as u32
    });
    let mut out = Finding {
        address: lower_hex(&analysis.graph.address(node)),
        direction: direction.as_str(),
        hops,
        seed: lower_hex(&analysis.graph.address(seed_node)),
        seed_category: seed.category.to_string(),
        seed_name: seed.name.clone(),
        seed_lists: seed.lists.clone(),
        seed_sources: seed.sources.clone(),
        path,
        score,
        score_level: crate::score::level(&analysis.policy, score).as_str(),
        share: None,
        tainted: None,
        asset: None,
        dust_only: facts.is_some_and(|f| f.dust_only),
        by_category: Vec::new(),
        top_seeds: Vec::new(),
        poison_only: false,
        fifo_share: None,
        fifo_tainted: None,
    };
    if direction == Direction::Downstream {
        haircut_facts(analysis, node, &mut out);
        out.poison_only = hops > 0 && out.share.is_some_and(|s| s < POISON_ONLY_SHARE);
    }
    Ok(Some(out))
}

/// Every finding of the analysis, downstream first, each sorted by (hops,
/// address), computed one by one as the iterator is advanced: a whole large graph
/// is written without holding its findings.
pub fn findings<'a, F, E>(
    analysis: &'a Analysis,
    evidence: &'a mut Evidence<F>,
) -> impl Iterator<Item = Result<Finding, E>> + 'a
where
    F: FnMut(Step) -> Result<Arc<PathTransfer>, E>,
{
    // Sorting by (hops, position in address order) is sorting by (hops, address),
    // on integers; the nodes are read in node order, as the searches store them.
    let by_address = analysis.graph.nodes_by_address();
    let mut rank = vec![0u32; by_address.len()];
    for (pos, &n) in by_address.iter().enumerate() {
        rank[n as usize] = pos as u32;
    }
    [Direction::Downstream, Direction::Upstream]
        .into_iter()
        .filter_map(|d| analysis.reach(d).map(|reach| (d, reach)))
        .flat_map(move |(d, reach)| {
            let mut keys: Vec<u64> = (0..rank.len() as u32)
                .filter_map(|n| {
                    Some((u64::from(reach.hops(n)?) << 32) | u64::from(rank[n as usize]))
                })
                .collect();
            keys.sort_unstable();
            keys.into_iter()
                .map(move |key| (d, by_address[key as u32 as usize]))
        })
        .filter_map(move |(d, node)| finding(analysis, d, node, evidence).transpose())
}

/// `list@version` per source (just `list` when the version is unknown), `;`-joined.
fn source_refs(sources: &[SeedSource]) -> String {
    let mut refs: Vec<String> = sources
        .iter()
        .map(|s| {
            if s.version.is_empty() {
                s.list.clone()
            } else {
                format!("{}@{}", s.list, s.version)
            }
        })
        .collect();
    refs.dedup();
    refs.join(";")
}

fn path_hashes(path: &[Arc<PathTransfer>]) -> String {
    path.iter()
        .map(|p| p.tx_hash.as_str())
        .collect::<Vec<_>>()
        .join(">")
}

/// A finding as `trace` writes it in JSON: with the hash of the policy it was
/// scored under, as in the CSV's `policy_hash` column.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    policy_hash: &'a str,
}

/// Writes findings in `format` as they come, each with `policy_hash` (a CSV
/// column, a JSON field; the table leaves it out). Stops at the first finding that
/// is an error and returns it.
pub fn write_findings<E: From<io::Error>>(
    findings: impl IntoIterator<Item = Result<Finding, E>>,
    format: Format,
    policy: &Policy,
    out: &mut dyn Write,
) -> Result<(), E> {
    let policy_hash = &policy.hash();
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            // Under a FIFO policy, two more columns at the end.
            let fifo_columns: &[&str] = if policy.fifo {
                &["fifo_share", "fifo_tainted"]
            } else {
                &[]
            };
            w.write_record(
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
                    "policy_hash",
                ]
                .iter()
                .chain(fifo_columns),
            )
            .map_err(csv_io)?;
            for f in findings {
                let f = f?;
                let row = [
                    f.address.as_str(),
                    f.direction,
                    &f.hops.to_string(),
                    &f.seed,
                    &f.seed_category,
                    f.seed_name.as_deref().unwrap_or(""),
                    &f.seed_lists.join(";"),
                    &path_hashes(&f.path),
                    &source_refs(&f.seed_sources),
                    &f.share.map(|s| s.to_string()).unwrap_or_default(),
                    f.tainted.as_deref().unwrap_or(""),
                    f.asset.as_deref().unwrap_or(""),
                    &f.score.to_string(),
                    f.score_level,
                    policy_hash,
                ];
                let share = f.fifo_share.map(|s| s.to_string()).unwrap_or_default();
                let fifo = [share.as_str(), f.fifo_tainted.as_deref().unwrap_or("")];
                let fifo = if policy.fifo { &fifo[..] } else { &[] };
                w.write_record(row.iter().chain(fifo)).map_err(csv_io)?;
            }
            w.flush()?;
        }
        Format::Json => {
            // As `to_writer_pretty` writes a list, one element at a time.
            use serde::ser::{SerializeSeq, Serializer};
            let mut json = serde_json::Serializer::pretty(&mut *out);
            let mut seq = json.serialize_seq(None).map_err(io::Error::from)?;
            for f in findings {
                let finding = &f?;
                seq.serialize_element(&Row {
                    finding,
                    policy_hash,
                })
                .map_err(io::Error::from)?;
            }
            seq.end().map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for f in findings {
                let finding = &f?;
                serde_json::to_writer(
                    &mut *out,
                    &Row {
                        finding,
                        policy_hash,
                    },
                )
                .map_err(io::Error::from)?;
                writeln!(out)?;
            }
        }
        Format::Table => {
            // Column widths need every row: only the table's few columns are kept.
            let mut rows: Vec<Vec<String>> = Vec::new();
            for f in findings {
                let f = f?;
                rows.push(vec![
                    f.address,
                    f.direction.to_string(),
                    f.hops.to_string(),
                    f.seed_category,
                    f.seed_name.unwrap_or(f.seed),
                    f.path
                        .first()
                        .map(|p| p.block.to_string())
                        .unwrap_or_default(),
                ]);
            }
            write_table(
                out,
                &[
                    "address",
                    "direction",
                    "hops",
                    "category",
                    "seed",
                    "first block",
                ],
                &rows,
            )?;
            writeln!(out, "{} finding(s)", rows.len())?;
        }
    }
    Ok(())
}

/// The I/O error inside a CSV writer's error, so that callers see its kind (a
/// closed pipe is not a failure); any other CSV error as an I/O error.
pub(crate) fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Writes aligned columns with a header line.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// What one address received of one asset, and the tainted part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetExposure {
    /// `ETH` or the token contract.
    pub asset: String,
    /// Everything received, base units.
    pub received: String,
    /// The tainted part (haircut), base units, rounded to a whole unit.
    pub tainted: String,
    /// tainted / received, in [0, 1].
    pub share: f64,
    /// Under FIFO (when the policy asks for it): the tainted part, base units, exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_tainted: Option<String>,
    /// Under FIFO: fifo_tainted / received, in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifo_share: Option<f64>,
}

/// What a report was computed from: enough to reproduce it, and to explain a
/// change between two reports (`hoptrace diff`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The highest stored block: the data's height.
    pub data_block: Option<u32>,
    /// Every label list behind the analysis, `list@version`, sorted.
    pub label_versions: Vec<String>,
    /// How many labels are behind the analysis.
    #[serde(default)]
    pub label_count: usize,
    /// SHA-256 of the canonical policy TOML.
    pub policy_hash: String,
    /// The policy, in full.
    pub policy: crate::policy::Policy,
    /// Addresses pruned as automatic hubs by the policy's degree cut-off.
    pub hubs_pruned: Vec<String>,
}

/// The provenance of an analysis.
pub fn provenance(analysis: &Analysis) -> Provenance {
    let mut versions: Vec<String> = analysis
        .labels
        .values()
        .flatten()
        .map(|l| {
            if l.version.is_empty() {
                l.list.clone()
            } else {
                format!("{}@{}", l.list, l.version)
            }
        })
        .collect();
    versions.sort();
    versions.dedup();
    Provenance {
        data_block: analysis.data_block,
        label_versions: versions,
        label_count: analysis.labels.values().map(Vec::len).sum(),
        policy_hash: analysis.policy.hash(),
        policy: analysis.policy.clone(),
        hubs_pruned: analysis
            .hubs
            .iter()
            .map(|&n| lower_hex(&analysis.graph.address(n)))
            .collect(),
    }
}

/// What `check` says about one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The address checked.
    pub address: String,
    /// Whether the store knows the address at all.
    pub known: bool,
    /// Whether it is a seed itself.
    pub is_seed: bool,
    /// Its own labels, `category:list`.
    pub labels: Vec<String>,
    /// Its own labels in full, with their provenance.
    pub label_sources: Vec<LabelSource>,
    /// Hops downstream (received from a seed), if reached.
    pub downstream_hops: Option<u32>,
    /// Hops upstream (sent to a seed), if reached.
    pub upstream_hops: Option<u32>,
    /// The declared risk level.
    pub risk_level: &'static str,
    /// The downstream finding with its evidence.
    pub downstream: Option<Finding>,
    /// The upstream finding with its evidence.
    pub upstream: Option<Finding>,
    /// The risk score under the policy, 0-100: the largest of its findings'.
    pub score: u32,
    /// The score's level.
    pub score_level: &'static str,
    /// What it received, per asset, with the tainted part (haircut).
    pub exposure: Vec<AssetExposure>,
    /// Data, labels and policy behind this result (the same for every address of
    /// one analysis: shared).
    pub provenance: Arc<Provenance>,
}

/// One label of a checked address, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelSource {
    /// Our category.
    pub category: String,
    /// The list.
    pub list: String,
    /// The list's date or version; empty when not known.
    pub version: String,
    /// The source's own tag.
    pub tag: Option<String>,
    /// The entity name.
    pub entity: Option<String>,
    /// The entity's identifier on the list (OFAC uid).
    pub uid: Option<String>,
    /// Sanctions program(s).
    pub program: Option<String>,
    /// From this block on.
    pub since_block: Option<u32>,
    /// From this date on, as the source gives it.
    pub since_date: Option<String>,
}

impl From<&Label> for LabelSource {
    fn from(l: &Label) -> Self {
        LabelSource {
            category: l.category.to_string(),
            list: l.list.clone(),
            version: l.version.clone(),
            tag: l.tag.clone(),
            entity: l.name.clone(),
            uid: l.uid.clone(),
            program: l.program.clone(),
            since_block: l.since_block,
            since_date: l.since_date.clone(),
        }
    }
}

/// Builds the check result of one address, under the analysis's [`provenance`]
/// (computed once by the caller, the same for every address), given the address's
/// node if the graph knows it (the caller's look-up: a server uses its index).
pub fn check<F, E>(
    analysis: &Analysis,
    provenance: &Arc<Provenance>,
    address: &alloy_primitives::Address,
    node: Option<u32>,
    evidence: &mut Evidence<F>,
) -> Result<CheckResult, E>
where
    F: FnMut(Step) -> Result<Arc<PathTransfer>, E>,
{
    let Some(node) = node else {
        return Ok(CheckResult {
            address: lower_hex(address),
            known: false,
            is_seed: false,
            labels: Vec::new(),
            label_sources: Vec::new(),
            downstream_hops: None,
            upstream_hops: None,
            risk_level: "none",
            downstream: None,
            upstream: None,
            score: 0,
            score_level: "none",
            exposure: Vec::new(),
            provenance: Arc::clone(provenance),
        });
    };
    let own: &[Label] = analysis.labels.get(&node).map_or(&[], Vec::as_slice);
    let label_sources = own.iter().map(LabelSource::from).collect();
    // `category:list`, once each (two versions of a list give one entry here; the
    // versions are in `label_sources`).
    let mut labels: Vec<String> = Vec::new();
    for l in own {
        let text = if l.list.is_empty() {
            l.category.to_string()
        } else {
            format!("{}:{}", l.category, l.list)
        };
        if !labels.contains(&text) {
            labels.push(text);
        }
    }
    let score = analysis.score(node);
    Ok(CheckResult {
        address: lower_hex(address),
        known: true,
        is_seed: analysis.seeds.contains_key(&node),
        labels,
        label_sources,
        downstream_hops: analysis.hops(Direction::Downstream, node),
        upstream_hops: analysis.hops(Direction::Upstream, node),
        risk_level: analysis.risk_level(node).as_str(),
        downstream: finding(analysis, Direction::Downstream, node, evidence)?,
        upstream: finding(analysis, Direction::Upstream, node, evidence)?,
        score: score.score,
        score_level: score.level,
        exposure: analysis.haircut.as_ref().map_or_else(Vec::new, |h| {
            h.result
                .exposures(node)
                .iter()
                .map(|e| {
                    let fifo = fifo_of(h, node, e.asset);
                    AssetExposure {
                        asset: h
                            .assets
                            .get(e.asset as usize)
                            .map_or_else(String::new, |a| a.to_string()),
                        received: e.received.to_string(),
                        tainted: tainted_units(e.tainted(), e.received),
                        share: e.share(),
                        fifo_tainted: fifo.map(|f| f.tainted.to_string()),
                        fifo_share: fifo.map(|f| f.share()),
                    }
                })
                .collect()
        }),
        provenance: Arc::clone(provenance),
    })
}

/// Writes check results as a table for people.
pub fn write_check_table(results: &[CheckResult], out: &mut dyn Write) -> io::Result<()> {
    for r in results {
        writeln!(out, "{}  risk: {}", r.address, r.risk_level)?;
        if !r.known {
            writeln!(out, "  not in the store: no transfers or labels known")?;
        }
        if !r.labels.is_empty() {
            let shown: Vec<String> = r
                .label_sources
                .iter()
                .map(|l| {
                    let mut s = l.category.clone();
                    if !l.list.is_empty() {
                        s = format!("{s}:{}", l.list);
                    }
                    if !l.version.is_empty() {
                        s = format!("{s}@{}", l.version);
                    }
                    s
                })
                .collect();
            writeln!(out, "  labels: {}", shown.join(", "))?;
        }
        for f in [&r.downstream, &r.upstream].into_iter().flatten() {
            let name = f
                .seed_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {} {} hop(s) from {} {}{}",
                f.direction, f.hops, f.seed_category, f.seed, name
            )?;
            let cited: Vec<String> = f
                .seed_sources
                .iter()
                .filter(|s| !s.version.is_empty() || s.uid.is_some())
                .map(|s| {
                    let mut t = s.list.clone();
                    if !s.version.is_empty() {
                        t = format!("{t}@{}", s.version);
                    }
                    if let Some(uid) = &s.uid {
                        t = format!("{t} uid {uid}");
                    }
                    t
                })
                .collect();
            if !cited.is_empty() {
                writeln!(out, "    listed by: {}", cited.join("; "))?;
            }
            for p in &f.path {
                writeln!(
                    out,
                    "    block {} {} -> {} {} {} tx {}",
                    p.block, p.from, p.to, p.amount, p.asset, p.tx_hash
                )?;
            }
        }
        if r.known && r.downstream.is_none() && r.upstream.is_none() {
            writeln!(out, "  not reached from any seed")?;
        }
        writeln!(
            out,
            "  score: {} ({}), policy {}",
            r.score,
            r.score_level,
            &r.provenance.policy_hash[..16]
        )?;
        for e in &r.exposure {
            write!(
                out,
                "  received {} {}: {} tainted (share {:.4})",
                e.received, e.asset, e.tainted, e.share
            )?;
            if let (Some(t), Some(share)) = (&e.fifo_tainted, e.fifo_share) {
                write!(out, "; FIFO {t} tainted (share {share:.4})")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The parts of a `check` JSON result that explain a score: what `hoptrace diff`
/// reads back.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Rescreen {
    /// The address.
    pub address: String,
    /// Its own labels in full.
    #[serde(default)]
    pub label_sources: Vec<serde_json::Value>,
    /// Hops downstream.
    pub downstream_hops: Option<u32>,
    /// Hops upstream.
    pub upstream_hops: Option<u32>,
    /// The downstream finding.
    pub downstream: Option<serde_json::Value>,
    /// The upstream finding.
    pub upstream: Option<serde_json::Value>,
    /// The score.
    pub score: u32,
    /// Its level.
    pub score_level: String,
    /// Received per asset.
    #[serde(default)]
    pub exposure: Vec<serde_json::Value>,
    /// Data, labels, policy.
    pub provenance: Provenance,
}

/// Why one address's score changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreChange {
    /// The address.
    pub address: String,
    /// Old score.
    pub old_score: u32,
    /// Old level.
    pub old_level: String,
    /// New score.
    pub new_score: u32,
    /// New level.
    pub new_level: String,
    /// The causes found: labels, transfers, policy.
    pub reasons: Vec<String>,
}

fn seed_facts(f: &Option<serde_json::Value>) -> Option<(serde_json::Value, serde_json::Value)> {
    f.as_ref()
        .map(|f| (f["seed"].clone(), f["seed_sources"].clone()))
}

/// For each address in both reports whose score changed, what changed behind it.
/// Addresses are in the new report's order; one present in only one report is
/// skipped.
pub fn explain(old: &[Rescreen], new: &[Rescreen]) -> Vec<ScoreChange> {
    let mut out = Vec::new();
    for n in new {
        let Some(o) = old.iter().find(|o| o.address == n.address) else {
            continue;
        };
        if o.score == n.score && o.score_level == n.score_level {
            continue;
        }
        let mut reasons = Vec::new();
        let (op, np) = (&o.provenance, &n.provenance);
        if op.policy_hash != np.policy_hash {
            reasons.push(format!(
                "changed policy ({} -> {})",
                &op.policy_hash[..op.policy_hash.len().min(16)],
                &np.policy_hash[..np.policy_hash.len().min(16)]
            ));
        }
        let added: Vec<&String> = np
            .label_versions
            .iter()
            .filter(|v| !op.label_versions.contains(v))
            .collect();
        let removed: Vec<&String> = op
            .label_versions
            .iter()
            .filter(|v| !np.label_versions.contains(v))
            .collect();
        // A finding in both reports whose seed or seed lists differ.
        let seed_moved = |a: &Option<serde_json::Value>, b: &Option<serde_json::Value>| {
            a.is_some() && b.is_some() && seed_facts(a) != seed_facts(b)
        };
        let labels_moved = o.label_sources != n.label_sources
            || op.label_count != np.label_count
            || seed_moved(&o.downstream, &n.downstream)
            || seed_moved(&o.upstream, &n.upstream);
        if labels_moved || !added.is_empty() || !removed.is_empty() {
            let mut what = String::from("new label");
            // Seeds behind the new report's findings that the old one did not
            // show, each named once (an address that became a seed is hop 0 of
            // both its findings).
            let mut named: Vec<String> = Vec::new();
            for f in [&n.downstream, &n.upstream].into_iter().flatten() {
                let seed = f["seed"].as_str().unwrap_or_default();
                let category = f["seed_category"].as_str().unwrap_or_default();
                let was = [&o.downstream, &o.upstream]
                    .into_iter()
                    .flatten()
                    .any(|g| g["seed"] == f["seed"] && g["seed_sources"] == f["seed_sources"]);
                let name = format!("seed {seed} ({category})");
                if !was && !named.contains(&name) {
                    what = format!("{what}: {name}");
                    named.push(name);
                }
            }
            if !added.is_empty() {
                let list: Vec<&str> = added.iter().map(|s| s.as_str()).collect();
                what = format!("{what}; lists added {}", list.join(", "));
            }
            if !removed.is_empty() {
                let list: Vec<&str> = removed.iter().map(|s| s.as_str()).collect();
                what = format!("{what}; lists removed {}", list.join(", "));
            }
            reasons.push(what);
        }
        if op.data_block != np.data_block || (!labels_moved && o.exposure != n.exposure) {
            let block = |b: Option<u32>| b.map_or_else(|| "none".to_string(), |b| b.to_string());
            reasons.push(format!(
                "new transfers (data up to block {} -> {})",
                block(op.data_block),
                block(np.data_block)
            ));
        }
        if reasons.is_empty() {
            reasons.push("unexplained: same data block, labels and policy".into());
        }
        out.push(ScoreChange {
            address: n.address.clone(),
            old_score: o.score,
            old_level: o.score_level.clone(),
            new_score: n.score,
            new_level: n.score_level.clone(),
            reasons,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::tainted_units;

    #[test]
    fn all_of_an_amount_reads_as_the_exact_amount() {
        // Not representable in f64: the nearest f64 is 99581196499999997952.
        let received = U256::from(99_581_196_500_000_000_000u128);
        let all = f64::from(received);
        assert_eq!(format!("{all:.0}"), "99581196499999997952");
        assert_eq!(tainted_units(all, received), "99581196500000000000");
        assert_eq!(tainted_units(all * 0.5, received), "49790598249999998976");
        assert_eq!(tainted_units(1.9, U256::from(5u8)), "1");
        assert_eq!(tainted_units(0.0, U256::ZERO), "0");
    }
}
