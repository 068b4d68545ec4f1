//! The risk score: a declared function of category severity, direction, hops,
//! haircut share and amount, giving 0-100 and a level.
//!
//! For one finding (a seed of category `c` reached in `h` hops in one direction):
//!
//! ```text
//! h = 0 (the address is the seed):  severity(c)
//! downstream, h >= 1:               severity(c) * w.downstream * w.hop_decay^(h-1)
//!                                     * (w.poison_floor + (1 - w.poison_floor) * share)
//! upstream,   h >= 1:               severity(c) * w.upstream   * w.hop_decay^(h-1)
//! ```
//!
//! `share` is the haircut share of what the address received (its worst asset).
//! Amount enters through the dust rule: a downstream finding whose tainted input was
//! only dust received (every tainted transfer below the asset's dust threshold) at an
//! address that sent nothing after the first of them scores 0. Upstream has no dust rule:
//! what the address itself sent to a seed counts, however small.
//!
//! The address's score is the largest of its findings, rounded to a whole number;
//! the level is the highest whose lower bound it reaches (`none` at 0). The score is
//! monotone: non-decreasing in `share`, non-increasing in `h` (decay <= 1).

use serde::Serialize;

use crate::analysis::RiskLevel;
use crate::graph::Direction;
use crate::labels::Category;
use crate::policy::Policy;

/// What one finding contributes, before the dust rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    /// Downstream or upstream.
    pub direction: Direction,
    /// The seed's category.
    pub category: Category,
    /// Hops from (downstream) or to (upstream) the seed.
    pub hops: u32,
    /// Haircut share in [0, 1] (downstream; ignored upstream).
    pub share: f64,
    /// Downstream: the tainted input was dust only and the address sent nothing
    /// after it arrived.
    pub dust_only: bool,
}

/// The score of one finding, in [0, 100], unrounded.
pub fn finding_score(policy: &Policy, f: &Finding) -> f64 {
    let severity = policy.severity(f.category);
    if f.hops == 0 {
        return severity.clamp(0.0, 100.0);
    }
    let w = &policy.score;
    let decay = w
        .hop_decay
        .powi(f.hops.saturating_sub(1).min(i32::MAX as u32) as i32);
    let s = match f.direction {
        Direction::Downstream => {
            if f.dust_only {
                return 0.0;
            }
            let share = f.share.clamp(0.0, 1.0);
            severity * w.downstream * decay * (w.poison_floor + (1.0 - w.poison_floor) * share)
        }
        Direction::Upstream => severity * w.upstream * decay,
    };
    s.clamp(0.0, 100.0)
}

/// A whole-number score and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Score {
    /// 0-100.
    pub score: u32,
    /// none, low, medium, high or severe.
    pub level: &'static str,
}

/// The score of an address from its findings (none: 0).
pub fn score(policy: &Policy, findings: &[Finding]) -> Score {
    let best = findings
        .iter()
        .map(|f| finding_score(policy, f))
        .fold(0.0f64, f64::max);
    let score = best.round().clamp(0.0, 100.0) as u32;
    Score {
        score,
        level: level(policy, score).as_str(),
    }
}

/// The level of a whole-number score.
pub fn level(policy: &Policy, score: u32) -> RiskLevel {
    let s = f64::from(score);
    let w = &policy.score;
    if s >= w.severe {
        RiskLevel::Severe
    } else if s >= w.high {
        RiskLevel::High
    } else if s >= w.medium {
        RiskLevel::Medium
    } else if s >= w.low {
        RiskLevel::Low
    } else {
        RiskLevel::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(hops: u32, share: f64) -> Finding {
        Finding {
            direction: Direction::Downstream,
            category: Category::Sanctioned,
            hops,
            share,
            dust_only: false,
        }
    }

    #[test]
    fn default_policy_scores() {
        let p = Policy::default();
        assert_eq!(
            score(&p, &[]),
            Score {
                score: 0,
                level: "none"
            }
        );
        assert_eq!(score(&p, &[down(0, 0.0)]).level, "severe");
        assert_eq!(
            score(&p, &[down(1, 1.0)]),
            Score {
                score: 100,
                level: "severe"
            }
        );
        // Reached at 1 hop with no tainted value: the poison floor only.
        assert_eq!(
            score(&p, &[down(1, 0.0)]),
            Score {
                score: 25,
                level: "low"
            }
        );
        assert_eq!(
            score(&p, &[down(2, 1.0)]),
            Score {
                score: 60,
                level: "high"
            }
        );
        let dust = Finding {
            dust_only: true,
            ..down(1, 1.0)
        };
        assert_eq!(
            score(&p, &[dust]),
            Score {
                score: 0,
                level: "none"
            }
        );
        let up = Finding {
            direction: Direction::Upstream,
            ..dust
        };
        assert_eq!(
            score(&p, &[up]),
            Score {
                score: 80,
                level: "severe"
            }
        );
    }
}
