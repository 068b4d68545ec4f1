//! Turning a label's `since_date` into a `since_block` through the stored block
//! timestamps: the first stored block at or after the date (a day starts at 00:00
//! UTC). Every conversion is reported, saying whether it is exact, approximate
//! (blocks between the previous stored block and the found one are not stored, so
//! the chain's first block after the date may be earlier), or impossible (no
//! timestamps stored: the label keeps its date and no `since_block`, so it counts
//! from block 0, the cautious reading for screening).
//!
//! A label that already has a `since_block` keeps it. Pure: the block lookup is a
//! function handed in. One lookup per distinct date.

use std::collections::BTreeMap;

use super::{Label, date_start};
use crate::store::BlockAtTime;

/// What happened to one distinct `since_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinceNote {
    /// The date as stored.
    pub date: String,
    /// Labels that carry it (without a `since_block` of their own).
    pub labels: usize,
    /// The block it became, if any.
    pub block: Option<u32>,
    /// True when the block is certainly the chain's first at or after the date.
    pub exact: bool,
    /// One sentence for people.
    pub message: String,
}

/// Sets `since_block` from `since_date` where the block is missing.
pub fn resolve<E>(
    labels: &mut [Label],
    mut lookup: impl FnMut(i64) -> Result<BlockAtTime, E>,
) -> Result<Vec<SinceNote>, E> {
    let mut dates: BTreeMap<String, usize> = BTreeMap::new();
    for l in labels.iter() {
        if l.since_block.is_none()
            && let Some(d) = &l.since_date
        {
            *dates.entry(d.clone()).or_default() += 1;
        }
    }
    let mut notes = Vec::new();
    let mut blocks: BTreeMap<String, u32> = BTreeMap::new();
    for (date, n) in dates {
        let Ok(time) = date_start(&date) else {
            notes.push(SinceNote {
                message: format!(
                    "since_date {date:?} is not a date: {n} label(s) count from block 0"
                ),
                date,
                labels: n,
                block: None,
                exact: false,
            });
            continue;
        };
        let (block, exact, message) = match lookup(time)? {
            BlockAtTime::NoTimestamps => (
                None,
                false,
                format!(
                    "since_date {date}: no block timestamps are stored, so it cannot become a block; {n} label(s) keep the date and count from block 0"
                ),
            ),
            BlockAtTime::AfterLast { block, .. } => (
                Some(block.saturating_add(1)),
                false,
                format!(
                    "since_date {date} is after the last stored block {block}: {n} label(s) count from block {} (nothing stored is tainted by them)",
                    block.saturating_add(1)
                ),
            ),
            BlockAtTime::Found {
                block, previous, ..
            } => {
                let exact = previous.is_some_and(|(p, _)| p + 1 == block);
                let how = match previous {
                    _ if exact => "exact: the block before it is stored and earlier".to_string(),
                    Some((p, _)) => format!(
                        "approximate: blocks {}..{} are not stored, the chain's first block at or after the date is in {}..={block}",
                        p + 1,
                        block - 1,
                        p + 1
                    ),
                    None => "approximate: it is the first stored block; the chain's first block at or after the date may be earlier".to_string(),
                };
                (
                    Some(block),
                    exact,
                    format!("since_date {date} -> block {block} for {n} label(s) ({how})"),
                )
            }
        };
        if let Some(b) = block {
            blocks.insert(date.clone(), b);
        }
        notes.push(SinceNote {
            date,
            labels: n,
            block,
            exact,
            message,
        });
    }
    for l in labels.iter_mut() {
        if l.since_block.is_none()
            && let Some(b) = l.since_date.as_ref().and_then(|d| blocks.get(d))
        {
            l.since_block = Some(*b);
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dated(date: &str, block: Option<u32>) -> Label {
        Label {
            since_date: Some(date.into()),
            since_block: block,
            ..Label::default()
        }
    }

    /// Blocks 10, 11, 20 at times 100, 110, 200.
    fn chain(t: i64) -> Result<BlockAtTime, ()> {
        let stored = [(10u32, 100i64), (11, 110), (20, 200)];
        Ok(match stored.iter().position(|&(_, ts)| ts >= t) {
            None => BlockAtTime::AfterLast {
                block: 20,
                timestamp: 200,
            },
            Some(i) => BlockAtTime::Found {
                block: stored[i].0,
                timestamp: stored[i].1,
                previous: i.checked_sub(1).map(|j| stored[j]),
            },
        })
    }

    #[test]
    fn exact_approximate_after_and_kept() {
        let mut labels = vec![
            dated("1970-01-01T00:01:45Z", None),    // 105 -> block 11, exact
            dated("1970-01-01T00:02:30Z", None),    // 150 -> block 20, approximate
            dated("1970-01-01T00:05:00Z", None),    // after the last
            dated("1970-01-01T00:01:45Z", Some(3)), // keeps its block
        ];
        let notes = resolve(&mut labels, chain).unwrap();
        assert_eq!(labels[0].since_block, Some(11));
        assert_eq!(labels[1].since_block, Some(20));
        assert_eq!(labels[2].since_block, Some(21));
        assert_eq!(labels[3].since_block, Some(3));
        assert!(notes[0].exact);
        assert!(!notes[1].exact);
        assert!(notes[1].message.contains("blocks 12..19 are not stored"));
        assert_eq!(notes[0].labels, 1);
    }

    #[test]
    fn no_timestamps_keeps_the_date() {
        let mut labels = vec![dated("2022-08-08", None)];
        let notes = resolve(&mut labels, |_| Ok::<_, ()>(BlockAtTime::NoTimestamps)).unwrap();
        assert_eq!(labels[0].since_block, None);
        assert!(notes[0].message.contains("no block timestamps are stored"));
    }
}
