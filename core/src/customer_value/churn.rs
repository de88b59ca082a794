//! Churn risk: the probability that a customer makes no purchase in the next `window_weeks`,
//! from the ranking that ranked best on the inner split of the calibration period (the purchase
//! model's P(alive), recency, or expected purchases), mapped to a probability by the isotonic
//! regression of "no purchase in the window" on the customer's percentile of that ranking. The
//! percentile, not the score, is what carries from one fit to the next: a model refitted on more
//! data shifts every score, not the order of customers.
//!
//! P(alive) alone is not a churn risk: on an export where the purchase model identifies no
//! dropout (a or s at its bound) it reads 1.00 for everyone and ranks customers backwards.

use super::model::{PurchaseModel, Rft};
use serde::{Deserialize, Serialize};

/// What orders customers by risk of not buying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnRanking {
    /// 1 − P(alive) of the purchase model.
    PAlive,
    /// Weeks since the last purchase.
    Recency,
    /// Fewer expected purchases in the window is riskier.
    ExpectedPurchases,
}

impl ChurnRanking {
    pub const ALL: [ChurnRanking; 3] =
        [ChurnRanking::PAlive, ChurnRanking::Recency, ChurnRanking::ExpectedPurchases];

    pub fn name(self) -> &'static str {
        match self {
            ChurnRanking::PAlive => "1 − P(alive)",
            ChurnRanking::Recency => "recency",
            ChurnRanking::ExpectedPurchases => "expected purchases",
        }
    }

    /// The ranking's score of a history (higher: riskier).
    pub fn score(self, model: &PurchaseModel, history: Rft, window_weeks: f64) -> f64 {
        match self {
            ChurnRanking::PAlive => 1.0 - model.p_alive(history),
            ChurnRanking::Recency => history.t - history.t_x,
            ChurnRanking::ExpectedPurchases => -model.expected_purchases(history, window_weeks),
        }
    }
}

/// One step of the isotonic map: percentiles up to `up_to` have risk `risk`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChurnStep {
    pub up_to: f64,
    pub risk: f64,
}

/// The served churn risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnCalibration {
    pub ranking: ChurnRanking,
    /// The window "no purchase" is counted over.
    pub window_weeks: f64,
    /// Non-decreasing risks by increasing percentile (at least one).
    pub steps: Vec<ChurnStep>,
    /// Quantiles of the ranking's score among the customers of the served model's population
    /// (non-decreasing): where a score stands.
    pub reference: Vec<f64>,
}

/// Where each of `scores` stands among them: the mid-rank percentile (ties share one).
pub fn percentiles(scores: &[f64]) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    scores.iter().map(|s| percentile_in(&sorted, *s)).collect()
}

/// The mid-rank percentile of `score` in the non-decreasing `sorted`.
fn percentile_in(sorted: &[f64], score: f64) -> f64 {
    if sorted.is_empty() {
        return 0.5;
    }
    let below = sorted.partition_point(|v| *v < score);
    let not_above = sorted.partition_point(|v| *v <= score);
    (below + not_above) as f64 / (2 * sorted.len()) as f64
}

/// `count` quantiles of `scores` (all of them when fewer).
pub fn quantiles(scores: &[f64], count: usize) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.len() <= count || count < 2 {
        return sorted;
    }
    (0..count).map(|i| sorted[i * (sorted.len() - 1) / (count - 1)]).collect()
}

impl ChurnCalibration {
    /// Fits the isotonic regression of `labels` (no purchase in the window) on the percentiles
    /// of `scores` by pooling adjacent violators; `None` without both outcomes. The reference
    /// is these scores' until [`Self::with_reference`] sets the served population's.
    pub fn fit(
        ranking: ChurnRanking,
        window_weeks: f64,
        scores: &[f64],
        labels: &[bool],
    ) -> Option<Self> {
        let reference = quantiles(scores, 1001);
        let scores = percentiles(scores);
        let positives = labels.iter().filter(|l| **l).count();
        if positives == 0 || positives == labels.len() || scores.len() != labels.len() {
            return None;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        // Blocks of (largest score, sum of labels, count); equal scores share a block.
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for i in order {
            let y = labels[i] as u8 as f64;
            match blocks.last_mut() {
                Some(last) if last.0 == scores[i] => {
                    last.1 += y;
                    last.2 += 1.0;
                }
                _ => blocks.push((scores[i], y, 1.0)),
            }
            while blocks.len() >= 2 {
                let n = blocks.len();
                let (upper, lower) = (blocks[n - 1], blocks[n - 2]);
                if lower.1 / lower.2 < upper.1 / upper.2 {
                    break;
                }
                blocks[n - 2] = (upper.0, lower.1 + upper.1, lower.2 + upper.2);
                blocks.pop();
            }
        }
        let steps = blocks.iter().map(|b| ChurnStep { up_to: b.0, risk: b.1 / b.2 }).collect();
        Some(Self { ranking, window_weeks, steps, reference })
    }

    /// The same map, placing scores among `scores` (the served model's, of its population).
    pub fn with_reference(mut self, scores: &[f64]) -> Self {
        self.reference = quantiles(scores, 1001);
        self
    }

    /// Whether the steps are usable (finite, non-decreasing, in [0, 1]).
    pub fn is_valid(&self) -> bool {
        !self.steps.is_empty()
            && self.window_weeks > 0.0
            && self.steps.iter().all(|s| s.up_to.is_finite() && (0.0..=1.0).contains(&s.risk))
            && self.steps.windows(2).all(|w| w[0].up_to < w[1].up_to && w[0].risk <= w[1].risk)
            && !self.reference.is_empty()
            && self.reference.iter().all(|v| v.is_finite())
            && self.reference.windows(2).all(|w| w[0] <= w[1])
    }

    /// The risk at a percentile: the first step whose `up_to` it does not pass (the last
    /// beyond).
    pub fn risk_at(&self, percentile: f64) -> f64 {
        let at = self.steps.partition_point(|s| s.up_to < percentile);
        self.steps[at.min(self.steps.len() - 1)].risk
    }

    /// The risk of a score, placed among the reference.
    pub fn risk_of(&self, score: f64) -> f64 {
        self.risk_at(percentile_in(&self.reference, score))
    }

    /// The churn risk of a history.
    pub fn risk(&self, model: &PurchaseModel, history: Rft) -> f64 {
        self.risk_of(self.ranking.score(model, history, self.window_weeks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_steps_pool_violators_and_never_decrease() {
        let scores = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let labels = [false, true, false, false, true, true];
        let c = ChurnCalibration::fit(ChurnRanking::Recency, 4.0, &scores, &labels).unwrap();
        assert!(c.is_valid());
        // 1 → 0; {2, 3, 4} pooled → 1/3; {5, 6} → 1.
        let risks: Vec<f64> = c.steps.iter().map(|s| s.risk).collect();
        assert_eq!(risks, vec![0.0, 1.0 / 3.0, 1.0]);
        assert_eq!(c.risk_of(0.0), 0.0);
        assert_eq!(c.risk_of(3.5), 1.0 / 3.0);
        assert_eq!(c.risk_of(100.0), 1.0);
        // Scores of another fit, all shifted: the same customers, the same risks.
        let shifted = c.clone().with_reference(&scores.map(|v| v * 10.0 - 3.0));
        assert_eq!(shifted.risk_of(35.0 - 3.0), 1.0 / 3.0);
        assert_eq!(percentiles(&[2.0, 1.0, 1.0, 3.0]), vec![0.625, 0.25, 0.25, 0.875]);
        assert!(ChurnCalibration::fit(ChurnRanking::Recency, 4.0, &scores, &[true; 6]).is_none());
    }
}
