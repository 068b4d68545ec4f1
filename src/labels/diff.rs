//! What changed between two versions of a label list: addresses added, removed,
//! recategorised (their set of categories differs), and changed in their details
//! (same categories, but another entity, uid, program or original tag).
//!
//! Pure: it compares two label sets in memory. O(n log n) in the labels.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::Address;
use serde::Serialize;

use super::{Category, Label};
use crate::transfer::lower_hex;

/// The kind of a change, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only in the new list.
    Added,
    /// Only in the old list.
    Removed,
    /// In both, with another set of categories.
    Recategorised,
    /// In both, same categories, other details (entity, uid, program, tag).
    Changed,
}

impl Change {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Recategorised => "recategorised",
            Change::Changed => "changed",
        }
    }
}

/// One changed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffRow {
    /// What happened.
    pub change: Change,
    /// The address, lowercase hex.
    pub address: String,
    /// Its categories in the old list, `;`-joined (empty when added).
    pub old_category: String,
    /// Its categories in the new list (empty when removed).
    pub new_category: String,
    /// The entity: from the new list, else the old one.
    pub entity: String,
    /// For `changed`: which details differ, `field: old -> new`.
    pub detail: String,
}

#[derive(Default)]
struct Side {
    categories: BTreeSet<Category>,
    entity: BTreeSet<String>,
    uid: BTreeSet<String>,
    program: BTreeSet<String>,
    tag: BTreeSet<String>,
}

fn by_address(labels: &[Label]) -> BTreeMap<Address, Side> {
    let mut out: BTreeMap<Address, Side> = BTreeMap::new();
    for l in labels {
        let s = out.entry(l.address).or_default();
        s.categories.insert(l.category);
        s.entity.extend(l.name.clone());
        s.uid.extend(l.uid.clone());
        s.program.extend(l.program.clone());
        s.tag.extend(l.tag.clone());
    }
    out
}

fn join<T: ToString>(set: &BTreeSet<T>) -> String {
    set.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

/// Compares two label sets; rows sorted by change, then address.
pub fn diff(old: &[Label], new: &[Label]) -> Vec<DiffRow> {
    let (old, new) = (by_address(old), by_address(new));
    let mut rows = Vec::new();
    let addresses: BTreeSet<&Address> = old.keys().chain(new.keys()).collect();
    for a in addresses {
        let (o, n) = (old.get(a), new.get(a));
        let entity = n.or(o).map(|s| join(&s.entity)).unwrap_or_default();
        let cats = |s: Option<&Side>| s.map(|s| join(&s.categories)).unwrap_or_default();
        let change = match (o, n) {
            (None, Some(_)) => Some((Change::Added, String::new())),
            (Some(_), None) => Some((Change::Removed, String::new())),
            (Some(o), Some(n)) if o.categories != n.categories => {
                Some((Change::Recategorised, String::new()))
            }
            (Some(o), Some(n)) => {
                let mut details = Vec::new();
                for (field, a, b) in [
                    ("entity", &o.entity, &n.entity),
                    ("uid", &o.uid, &n.uid),
                    ("program", &o.program, &n.program),
                    ("tag", &o.tag, &n.tag),
                ] {
                    if a != b {
                        details.push(format!("{field}: {} -> {}", join(a), join(b)));
                    }
                }
                (!details.is_empty()).then(|| (Change::Changed, details.join("; ")))
            }
            (None, None) => None,
        };
        if let Some((change, detail)) = change {
            rows.push(DiffRow {
                change,
                address: lower_hex(a),
                old_category: cats(o),
                new_category: cats(n),
                entity,
                detail,
            });
        }
    }
    rows.sort_by(|a, b| (a.change, &a.address).cmp(&(b.change, &b.address)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(a: u8, c: Category, uid: &str) -> Label {
        Label {
            address: Address::repeat_byte(a),
            category: c,
            name: Some(format!("E{a}")),
            uid: Some(uid.into()),
            ..Label::default()
        }
    }

    #[test]
    fn added_removed_recategorised_changed() {
        let old = [
            l(1, Category::Sanctioned, "1"),
            l(2, Category::Sanctioned, "2"),
            l(3, Category::Mixer, "3"),
            l(4, Category::Sanctioned, "4"),
        ];
        let new = [
            l(2, Category::Sanctioned, "2"),
            l(3, Category::Sanctioned, "3"),
            l(4, Category::Sanctioned, "40"),
            l(5, Category::Hack, "5"),
        ];
        let rows = diff(&old, &new);
        let got: Vec<(Change, u8)> = rows
            .iter()
            .map(|r| (r.change, u8::from_str_radix(&r.address[2..4], 16).unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (Change::Added, 5),
                (Change::Removed, 1),
                (Change::Recategorised, 3),
                (Change::Changed, 4)
            ]
        );
        assert_eq!(rows[2].old_category, "mixer");
        assert_eq!(rows[2].new_category, "sanctioned");
        assert_eq!(rows[3].detail, "uid: 4 -> 40");
    }
}
