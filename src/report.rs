//! Reports: findings with their evidence, rendered as CSV, JSON, JSONL or a table.
//!
//! The report code is pure: it is handed an [`Analysis`] and a function that turns
//! a path step into the stored transfer it stands for, and it writes to any
//! `io::Write`. Machine formats write addresses as lowercase `0x` hex and amounts as
//! decimal strings in base units (they exceed JSON's number range).

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::exposure::Step;
use crate::graph::Direction;
use crate::labels::{Label, SeedSource};
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

/// One address reached in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The evidence, in money-flow order; `hops` transfers long.
    pub path: Vec<PathTransfer>,
}

/// Turns path steps into stored transfers, remembering each one it resolved.
pub struct Evidence<F> {
    lookup: F,
    memo: HashMap<(u32, u32, u32), PathTransfer>,
}

impl<F, E> Evidence<F>
where
    F: FnMut(Step) -> Result<Transfer, E>,
{
    /// Wraps a lookup function.
    pub fn new(lookup: F) -> Self {
        Evidence {
            lookup,
            memo: HashMap::new(),
        }
    }

    /// The transfers of a path.
    pub fn resolve(&mut self, steps: &[Step]) -> Result<Vec<PathTransfer>, E> {
        steps
            .iter()
            .map(|s| {
                let key = (s.from, s.to, s.block);
                if let Some(t) = self.memo.get(&key) {
                    return Ok(t.clone());
                }
                let t = PathTransfer::from(&(self.lookup)(*s)?);
                self.memo.insert(key, t.clone());
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
    F: FnMut(Step) -> Result<Transfer, E>,
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
    Ok(Some(Finding {
        address: lower_hex(&analysis.graph.address(node)),
        direction: direction.as_str(),
        hops,
        seed: lower_hex(&analysis.graph.address(seed_node)),
        seed_category: seed.category.to_string(),
        seed_name: seed.name.clone(),
        seed_lists: seed.lists.clone(),
        seed_sources: seed.sources.clone(),
        path,
    }))
}

/// Every finding of the analysis, downstream first, each sorted by (hops, address).
pub fn all_findings<F, E>(
    analysis: &Analysis,
    evidence: &mut Evidence<F>,
) -> Result<Vec<Finding>, E>
where
    F: FnMut(Step) -> Result<Transfer, E>,
{
    let mut out = Vec::new();
    for direction in [Direction::Downstream, Direction::Upstream] {
        let Some(reach) = analysis.reach(direction) else {
            continue;
        };
        let mut nodes = reach.reached();
        nodes.sort_by_key(|&(n, h)| (h, analysis.graph.address(n)));
        for (node, _) in nodes {
            if let Some(f) = finding(analysis, direction, node, evidence)? {
                out.push(f);
            }
        }
    }
    Ok(out)
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

fn path_hashes(path: &[PathTransfer]) -> String {
    path.iter()
        .map(|p| p.tx_hash.as_str())
        .collect::<Vec<_>>()
        .join(">")
}

/// Writes findings in `format`.
pub fn write_findings(findings: &[Finding], format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "address",
                "direction",
                "hops",
                "seed",
                "seed_category",
                "seed_name",
                "seed_lists",
                "path",
                "seed_sources",
            ])?;
            for f in findings {
                w.write_record([
                    f.address.as_str(),
                    f.direction,
                    &f.hops.to_string(),
                    &f.seed,
                    &f.seed_category,
                    f.seed_name.as_deref().unwrap_or(""),
                    &f.seed_lists.join(";"),
                    &path_hashes(&f.path),
                    &source_refs(&f.seed_sources),
                ])?;
            }
            w.flush()
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, findings)?;
            writeln!(out)
        }
        Format::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = findings
                .iter()
                .map(|f| {
                    vec![
                        f.address.clone(),
                        f.direction.to_string(),
                        f.hops.to_string(),
                        f.seed_category.clone(),
                        f.seed_name.clone().unwrap_or_else(|| f.seed.clone()),
                        f.path
                            .first()
                            .map(|p| p.block.to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
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
            writeln!(out, "{} finding(s)", findings.len())
        }
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

/// What `check` says about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Builds the check result of one address.
pub fn check<F, E>(
    analysis: &Analysis,
    address: &alloy_primitives::Address,
    evidence: &mut Evidence<F>,
) -> Result<CheckResult, E>
where
    F: FnMut(Step) -> Result<Transfer, E>,
{
    let Some(node) = analysis.node(address) else {
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
    }
    Ok(())
}
