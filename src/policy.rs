//! The screening policy: every knob that changes a result, declared in one TOML
//! file (`--policy FILE`), echoed with its hash in every report.
//!
//! `hoptrace policy show` prints the defaults below. The hash is the SHA-256 of the
//! *canonical* TOML: the policy parsed, then written back by hoptrace (fixed key
//! order, every field present but `fifo` when it is off), so two files that say
//! the same thing in another order or with other comments hash the same.
//!
//! What each field does:
//! - `max_hops`: the hop limit of the searches (`--max-hops` overrides it).
//! - `hub_degree`: addresses with more transfers (in + out) than this are automatic
//!   hubs: reached but not expanded, like services; 0 turns the rule off. The pruned
//!   addresses are listed in the report.
//! - `service_categories`: label categories that are services (reached, not expanded).
//! - `fifo`: also compute FIFO exposure (`exposure::fifo`) and report it beside the
//!   haircut; the score keeps using the haircut. Optional (absent = off), and left
//!   out of the canonical text when off: the default policy's hash is unchanged.
//! - `dust`: per asset (`ETH` or a token contract), the amount in base units below
//!   which a transfer is dust. Direction-aware: an address whose tainted input is
//!   only dust *received* and which sent nothing after it arrived gets no downstream
//!   score (the 2022-08-09 Tornado dusting); dust the address itself *sent* towards a
//!   seed still counts upstream.
//! - `severity`: per risky category, 0-100.
//! - `score`: the weights of the score function (see `score`).

use std::collections::BTreeMap;
use std::path::Path;

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::labels::Category;
use crate::transfer::{Asset, parse_asset};

/// What each field means, as TOML comments: printed by `hoptrace policy show`
/// above the canonical policy (comments do not change the hash).
pub const FIELD_DOCS: &str = "\
# max_hops            hop limit of the searches (--max-hops overrides it)
# hub_degree          addresses with more transfers (in + out) than this are automatic
#                     hubs: reached, not expanded, listed in the report; 0 = off
# service_categories  label categories reached but not expanded (unless also seeds)
# fifo = true         (optional; off when absent) also report FIFO exposure (oldest
#                     funds leave first) beside the haircut, per asset: tainted
#                     amount and share; not scored
# [dust]              per asset (ETH or a token contract): amounts below this, in base
#                     units, are dust. Tainted input that is only dust, at an address
#                     that sent nothing after it arrived, gives no downstream score;
#                     dust sent *to* a seed still counts upstream
# [severity]          per risky category, 0-100
# [score]             finding score: seed itself = severity; downstream = severity *
#                     downstream * hop_decay^(hops-1) * (poison_floor + (1 -
#                     poison_floor) * share); upstream = severity * upstream *
#                     hop_decay^(hops-1). Address score = largest finding, rounded;
#                     level = highest of severe/high/medium/low whose bound it reaches
";

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("invalid policy {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The weights of the score function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreWeights {
    /// Multiplier of a downstream (received-from) finding.
    pub downstream: f64,
    /// Multiplier of an upstream (sent-to) finding.
    pub upstream: f64,
    /// Each hop beyond the first multiplies the score by this (0 < decay <= 1).
    pub hop_decay: f64,
    /// The part of a downstream score owed to being reached at all (poison); the
    /// rest grows with the haircut share. In [0, 1].
    pub poison_floor: f64,
    /// Lowest score of each level.
    pub severe: f64,
    /// Lowest score of `high`.
    pub high: f64,
    /// Lowest score of `medium`.
    pub medium: f64,
    /// Lowest score of `low` (above 0).
    pub low: f64,
}

/// The screening policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Hop limit of the searches.
    pub max_hops: u32,
    /// Degree above which an address is an automatic hub (0: off).
    pub hub_degree: u64,
    /// Categories that are services: reached, not expanded.
    pub service_categories: Vec<Category>,
    /// Also compute FIFO exposure beside the haircut (reported, not scored). Off by
    /// default, and then left out of the canonical text, so that policies written
    /// before this field existed read, and hash, as they did.
    #[serde(default, skip_serializing_if = "is_off")]
    pub fifo: bool,
    /// Per asset, the dust threshold in base units (decimal string).
    pub dust: BTreeMap<String, String>,
    /// Per risky category, its severity 0-100.
    pub severity: BTreeMap<Category, f64>,
    /// The score function's weights.
    pub score: ScoreWeights,
}

fn is_off(on: &bool) -> bool {
    !*on
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e: crate::transfer::FieldError| serde::de::Error::custom(e.0))
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_hops: crate::analysis::DEFAULT_MAX_HOPS,
            hub_degree: 0,
            service_categories: vec![
                Category::Exchange,
                Category::Bridge,
                Category::Dex,
                Category::Defi,
            ],
            fifo: false,
            // 1 ETH: the 2022-08-09 dusting sent 0.1 ETH.
            dust: BTreeMap::from([("ETH".to_string(), "1000000000000000000".to_string())]),
            severity: BTreeMap::from([
                (Category::Sanctioned, 100.0),
                (Category::Hack, 90.0),
                (Category::Ransomware, 90.0),
                (Category::Darknet, 80.0),
                (Category::Mixer, 70.0),
                (Category::Scam, 60.0),
                (Category::Phishing, 60.0),
            ]),
            score: ScoreWeights {
                downstream: 1.0,
                upstream: 0.8,
                hop_decay: 0.6,
                poison_floor: 0.25,
                severe: 80.0,
                high: 60.0,
                medium: 30.0,
                low: 1.0,
            },
        }
    }
}

impl Policy {
    /// Reads and checks a policy file. Missing fields are an error: a policy says
    /// everything it means (start from `hoptrace policy show`).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: name.clone(),
            source,
        })?;
        Policy::parse(&text).map_err(|message| PolicyError::Invalid {
            path: name,
            message,
        })
    }

    /// Parses and checks policy text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let policy: Policy = toml::from_str(text).map_err(|e| e.to_string())?;
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), String> {
        for (asset, amount) in &self.dust {
            parse_asset(asset).map_err(|e| format!("dust: {}", e.0))?;
            U256::from_str_radix(amount, 10)
                .map_err(|_| format!("dust.{asset}: {amount:?} is not a base-unit integer"))?;
        }
        for (c, s) in &self.severity {
            if !(0.0..=100.0).contains(s) {
                return Err(format!("severity.{c}: {s} is not in [0, 100]"));
            }
        }
        let w = &self.score;
        if !(w.hop_decay > 0.0 && w.hop_decay <= 1.0) {
            return Err(format!("score.hop_decay: {} is not in (0, 1]", w.hop_decay));
        }
        if !(0.0..=1.0).contains(&w.poison_floor) {
            return Err(format!(
                "score.poison_floor: {} is not in [0, 1]",
                w.poison_floor
            ));
        }
        for (name, v) in [("downstream", w.downstream), ("upstream", w.upstream)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("score.{name}: {v} is not in [0, 1]"));
            }
        }
        if !(w.low > 0.0 && w.low <= w.medium && w.medium <= w.high && w.high <= w.severe) {
            return Err("score: levels must satisfy 0 < low <= medium <= high <= severe".into());
        }
        Ok(())
    }

    /// The canonical TOML: what the hash is taken over.
    pub fn canonical(&self) -> String {
        toml::to_string(self).expect("a policy always serialises")
    }

    /// SHA-256 of the canonical TOML, lowercase hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }

    /// The dust threshold of `asset`, if it has one.
    pub fn dust_threshold(&self, asset: &Asset) -> Option<U256> {
        self.dust.iter().find_map(|(a, v)| {
            (parse_asset(a).ok()? == *asset).then(|| U256::from_str_radix(v, 10).ok())?
        })
    }

    /// The severity of a category (0 when the policy gives none).
    pub fn severity(&self, c: Category) -> f64 {
        self.severity.get(&c).copied().unwrap_or(0.0)
    }

    /// Whether `c` is a service category under this policy.
    pub fn is_service(&self, c: Category) -> bool {
        self.service_categories.contains(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_canonical_toml() {
        let p = Policy::default();
        let again = Policy::parse(&p.canonical()).unwrap();
        assert_eq!(again, p);
        assert_eq!(again.hash(), p.hash());
    }

    #[test]
    fn key_order_and_comments_do_not_change_the_hash() {
        let p = Policy::default();
        let mut text = String::from("# my policy\n");
        let canonical = p.canonical();
        let (head, tables) = canonical.split_at(canonical.find("\n[").unwrap() + 1);
        let mut lines: Vec<&str> = head.lines().collect();
        lines.reverse();
        text.push_str(&lines.join("\n"));
        text.push('\n');
        text.push_str(tables);
        assert_ne!(text, canonical);
        assert_eq!(Policy::parse(&text).unwrap().hash(), p.hash());
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let canonical = Policy::default().canonical();
        assert!(Policy::parse(&format!("colour = 1\n{canonical}")).is_err());
        let bad = canonical.replace("hop_decay = 0.6", "hop_decay = 1.5");
        assert!(Policy::parse(&bad).unwrap_err().contains("hop_decay"));
        let bad = canonical.replace("1000000000000000000", "1e18");
        assert!(Policy::parse(&bad).unwrap_err().contains("dust.ETH"));
    }

    #[test]
    fn fifo_is_optional_and_changes_the_hash_only_when_on() {
        let canonical = Policy::default().canonical();
        assert!(!canonical.contains("fifo"), "{canonical}");
        let on = format!("fifo = true\n{canonical}");
        let p = Policy::parse(&on).unwrap();
        assert!(p.fifo);
        assert!(p.canonical().contains("fifo = true\n"));
        assert_ne!(p.hash(), Policy::default().hash());
        let off = Policy::parse(&format!("fifo = false\n{canonical}")).unwrap();
        assert_eq!(off.hash(), Policy::default().hash());
    }

    #[test]
    fn dust_threshold_by_asset() {
        let p = Policy::default();
        assert_eq!(
            p.dust_threshold(&Asset::Eth),
            Some(U256::from(1_000_000_000_000_000_000u64))
        );
        assert_eq!(
            p.dust_threshold(&Asset::Token(alloy_primitives::Address::ZERO)),
            None
        );
    }
}
