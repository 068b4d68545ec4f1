//! Labels: what is known about an address, and the taxonomy that decides whether a
//! label makes the address a *seed* (risky: exposure is measured from it) or a
//! *service* (a hub that co-mingles funds: reached and reported, not expanded).
//!
//! Every label keeps where it came from (`list`, e.g. `ofac-sdn-2025-02-26`) so that
//! findings can name the list behind them. Readers of other label formats (OFAC SDN,
//! TagPacks) produce the same [`Label`] values.

pub mod diff;
pub mod formats;
pub mod since;
pub mod taxonomy;

use std::fmt;
use std::str::FromStr;

use alloy_primitives::Address;

use crate::transfer::FieldError;

/// Whether a category is measured from, passed through, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Risky: exposure is measured from it.
    Seed,
    /// A hub: reached but not expanded.
    Service,
    /// Neither: kept for the record (a source tag with no mapping), no effect.
    Info,
}

/// A label category. The order of the variants is their default severity, highest
/// first, which decides which category a multi-labelled seed reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Category {
    /// On a government sanctions list (OFAC SDN, ...).
    Sanctioned,
    /// Proceeds of a hack or exploit.
    Hack,
    /// Ransomware payments.
    Ransomware,
    /// Darknet market.
    Darknet,
    /// A mixer (Tornado Cash, ...).
    Mixer,
    /// Scam.
    Scam,
    /// Phishing.
    Phishing,
    /// A centralised exchange.
    Exchange,
    /// A cross-chain bridge.
    Bridge,
    /// A DEX router or pool.
    Dex,
    /// Another DeFi protocol contract.
    Defi,
    /// A source tag that maps onto no category above: kept (with its original tag)
    /// and reported, neither seed nor service.
    #[default]
    Other,
}

impl Category {
    /// Every category, in severity order.
    pub const ALL: [Category; 12] = [
        Category::Sanctioned,
        Category::Hack,
        Category::Ransomware,
        Category::Darknet,
        Category::Mixer,
        Category::Scam,
        Category::Phishing,
        Category::Exchange,
        Category::Bridge,
        Category::Dex,
        Category::Defi,
        Category::Other,
    ];

    /// Seed or service.
    pub fn role(self) -> Role {
        match self {
            Category::Sanctioned
            | Category::Hack
            | Category::Ransomware
            | Category::Darknet
            | Category::Mixer
            | Category::Scam
            | Category::Phishing => Role::Seed,
            Category::Exchange | Category::Bridge | Category::Dex | Category::Defi => Role::Service,
            Category::Other => Role::Info,
        }
    }

    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sanctioned => "sanctioned",
            Category::Hack => "hack",
            Category::Ransomware => "ransomware",
            Category::Darknet => "darknet",
            Category::Mixer => "mixer",
            Category::Scam => "scam",
            Category::Phishing => "phishing",
            Category::Exchange => "exchange",
            Category::Bridge => "bridge",
            Category::Dex => "dex",
            Category::Defi => "defi",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == t)
            .ok_or_else(|| {
                let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                FieldError(format!(
                    "unknown category {s:?}: expected one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// Parses a `since_date`: a day `YYYY-MM-DD` (also `MM/DD/YYYY`, OFAC's form) or an
/// RFC 3339 time (`2022-08-08T14:00:00Z`). Returns the canonical text: the day, or
/// the time in UTC.
pub fn parse_date(s: &str) -> Result<String, FieldError> {
    let t = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(t, "%m/%d/%Y"))
    {
        return Ok(d.format("%Y-%m-%d").to_string());
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| {
            FieldError(format!(
                "invalid date {t:?}: expected YYYY-MM-DD or an RFC 3339 time"
            ))
        })
}

/// The unix time a canonical `since_date` starts at (a day starts at 00:00 UTC).
pub fn date_start(date: &str) -> Result<i64, FieldError> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default());
    }
    chrono::DateTime::parse_from_rfc3339(date)
        .map(|d| d.timestamp())
        .map_err(|_| FieldError(format!("invalid date {date:?}")))
}

/// One label on one address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Label {
    /// The labelled address.
    pub address: Address,
    /// What it is.
    pub category: Category,
    /// The entity name, when the list gives one (for OFAC, the SDN entity).
    pub name: Option<String>,
    /// The list this label comes from; empty when not given.
    pub list: String,
    /// The list's date or version (`2026-08-20`); empty when not known.
    pub version: String,
    /// The source's own tag before mapping (`Digital Currency Address - ETH`,
    /// `service_hack`, `tornado-cash`, ...).
    pub tag: Option<String>,
    /// The source's identifier of the entity (OFAC SDN uid).
    pub uid: Option<String>,
    /// The sanctions program(s) (OFAC), as the list writes them.
    pub program: Option<String>,
    /// Before this block, the address's funds are not tainted.
    pub since_block: Option<u32>,
    /// The date (`YYYY-MM-DD`) from which the label holds, as the source gives it;
    /// turned into `since_block` through stored block timestamps when possible.
    pub since_date: Option<String>,
}

/// Where one risky label of a seed comes from: what findings cite.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SeedSource {
    /// The list.
    pub list: String,
    /// Its date or version; empty when not known.
    pub version: String,
    /// The category this list gives the address.
    pub category: String,
    /// The source's own tag.
    pub tag: Option<String>,
    /// The entity name on this list.
    pub entity: Option<String>,
    /// The entity's identifier on this list (OFAC uid).
    pub uid: Option<String>,
    /// Sanctions program(s).
    pub program: Option<String>,
}

/// A seed as the exposure engine sees it: one address with its risky labels merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The address.
    pub address: Address,
    /// Its most severe risky category.
    pub category: Category,
    /// Its entity name, from the most severe label that has one.
    pub name: Option<String>,
    /// The lists that label it risky, sorted.
    pub lists: Vec<String>,
    /// Every risky label behind it, sorted by list, version and category.
    pub sources: Vec<SeedSource>,
    /// The earliest block from which it is tainted: the smallest `since_block` of its
    /// risky labels, 0 if any of them has none.
    pub since_block: u32,
}

/// Merges labels into seeds (one per address that has a risky label) and the set
/// of service addresses. Output is sorted by address, so it is deterministic.
pub fn partition(labels: &[Label]) -> (Vec<Seed>, Vec<Address>) {
    use std::collections::BTreeMap;
    let mut seeds: BTreeMap<Address, Seed> = BTreeMap::new();
    let mut services: Vec<Address> = Vec::new();
    let mut sorted: Vec<&Label> = labels.iter().collect();
    sorted.sort_by(|a, b| (a.address, a.category, &a.list).cmp(&(b.address, b.category, &b.list)));
    for label in sorted {
        match label.category.role() {
            Role::Service => services.push(label.address),
            Role::Info => {}
            Role::Seed => {
                let since = label.since_block.unwrap_or(0);
                let seed = seeds.entry(label.address).or_insert_with(|| Seed {
                    address: label.address,
                    category: label.category,
                    name: None,
                    lists: Vec::new(),
                    sources: Vec::new(),
                    since_block: since,
                });
                seed.since_block = seed.since_block.min(since);
                if seed.name.is_none() {
                    seed.name = label.name.clone();
                }
                if !label.list.is_empty() && !seed.lists.contains(&label.list) {
                    seed.lists.push(label.list.clone());
                    seed.lists.sort();
                }
                seed.sources.push(SeedSource {
                    list: label.list.clone(),
                    version: label.version.clone(),
                    category: label.category.to_string(),
                    tag: label.tag.clone(),
                    entity: label.name.clone(),
                    uid: label.uid.clone(),
                    program: label.program.clone(),
                });
                seed.sources.sort();
            }
        }
    }
    services.dedup();
    (seeds.into_values().collect(), services)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(a: u8, category: Category, since: Option<u32>, list: &str) -> Label {
        Label {
            address: Address::repeat_byte(a),
            category,
            name: Some(format!("{category}-{a}")),
            list: list.to_string(),
            since_block: since,
            ..Label::default()
        }
    }

    #[test]
    fn merges_labels_per_address() {
        let labels = vec![
            label(1, Category::Mixer, Some(50), "b"),
            label(1, Category::Sanctioned, Some(100), "a"),
            label(2, Category::Exchange, None, "x"),
            label(3, Category::Hack, None, ""),
        ];
        let (seeds, services) = partition(&labels);
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0].category, Category::Sanctioned);
        assert_eq!(seeds[0].since_block, 50);
        assert_eq!(seeds[0].lists, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(seeds[0].name.as_deref(), Some("sanctioned-1"));
        assert_eq!(seeds[1].since_block, 0);
        assert_eq!(services, vec![Address::repeat_byte(2)]);
    }

    #[test]
    fn categories_parse() {
        assert_eq!(
            "Sanctioned".parse::<Category>().unwrap(),
            Category::Sanctioned
        );
        assert!(
            "casino"
                .parse::<Category>()
                .unwrap_err()
                .0
                .contains("unknown category")
        );
        assert_eq!(Category::Dex.role(), Role::Service);
    }
}
