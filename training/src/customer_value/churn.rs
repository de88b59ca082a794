//! Churn that ranks: each candidate ranking (the purchase model's P(alive), recency, expected
//! purchases) scored as a classifier of "no purchase in the window" on the inner split of the
//! calibration period, the best one calibrated there by isotonic regression, and all of them
//! reported on the holdout — which never chooses.

use crate::metrics;
use chrono::NaiveDate;
use shopml_core::customer_value::{
    ChurnCalibration, ChurnCandidate, ChurnRanking, ChurnValidation, PurchaseModel,
    PurchaseModelKind, Rft,
};

/// Customers seen at a cut: their history then, and whether they made no purchase in the
/// window after it.
pub struct ChurnSample {
    pub histories: Vec<Rft>,
    pub churned: Vec<bool>,
}

impl ChurnSample {
    /// The customers of `days` (purchase days in order) who bought by `cut`, as of `cut`,
    /// labelled over the `window_weeks` after it.
    pub fn at<'a>(
        days: impl Iterator<Item = &'a [(NaiveDate, f64)]>,
        cut: NaiveDate,
        window_weeks: f64,
    ) -> Self {
        let window_end = cut + chrono::Duration::days((window_weeks * 7.0).round() as i64);
        let weeks = |from: NaiveDate, to: NaiveDate| (to - from).num_days() as f64 / 7.0;
        let (mut histories, mut churned) = (Vec::new(), Vec::new());
        for d in days {
            let before: Vec<NaiveDate> = d.iter().map(|p| p.0).take_while(|p| *p <= cut).collect();
            let (Some(first), Some(last)) = (before.first(), before.last()) else {
                continue;
            };
            histories.push(Rft {
                x: (before.len() - 1) as f64,
                t_x: weeks(*first, *last),
                t: weeks(*first, cut),
            });
            churned.push(!d.iter().any(|p| p.0 > cut && p.0 <= window_end));
        }
        Self { histories, churned }
    }

    fn scores(&self, ranking: ChurnRanking, model: &PurchaseModel, window_weeks: f64) -> Vec<f64> {
        self.histories.iter().map(|h| ranking.score(model, *h, window_weeks)).collect()
    }

    fn has_both_outcomes(&self) -> bool {
        self.churned.iter().any(|c| *c) && self.churned.iter().any(|c| !*c)
    }
}

/// Whether a model's dropout parameter ran to the bound of the search: the model then says
/// nothing about who left.
fn dropout_at_bound(model: &PurchaseModel) -> bool {
    let at_bound = |v: f64| v.ln().abs() > super::likelihood::BOUND - 0.5;
    match model.kind {
        PurchaseModelKind::ParetoNbd => at_bound(model.s()) || at_bound(model.beta()),
        _ => at_bound(model.a) || at_bound(model.b),
    }
}

/// Chooses and calibrates the churn ranking on `inner` (with the model fitted on the inner
/// split) and validates it on `holdout` (with the model fitted on the calibration period). The
/// calibration returned places scores among the inner split's: serving sets its own population.
pub fn choose(
    inner: &ChurnSample,
    inner_model: &PurchaseModel,
    holdout: &ChurnSample,
    calibration_model: &PurchaseModel,
    window_weeks: f64,
) -> Option<(ChurnCalibration, ChurnValidation)> {
    if !inner.has_both_outcomes() || !holdout.has_both_outcomes() {
        return None;
    }
    let mut candidates = Vec::new();
    for ranking in ChurnRanking::ALL {
        let inner_scores = inner.scores(ranking, inner_model, window_weeks);
        let holdout_scores = holdout.scores(ranking, calibration_model, window_weeks);
        candidates.push(ChurnCandidate {
            ranking,
            inner_roc_auc: metrics::roc_auc(&inner.churned, &inner_scores),
            holdout_roc_auc: metrics::roc_auc(&holdout.churned, &holdout_scores),
            holdout_pr_auc: metrics::average_precision(&holdout.churned, &holdout_scores),
        });
    }
    // The best inner AUC; the earlier candidate on a tie (P(alive) first).
    let best = candidates.iter().fold(&candidates[0], |best, c| {
        if c.inner_roc_auc > best.inner_roc_auc { c } else { best }
    });
    let served = best.ranking;
    let calibration = ChurnCalibration::fit(
        served,
        window_weeks,
        &inner.scores(served, inner_model, window_weeks),
        &inner.churned,
    )?;
    let inner_auc = |r: ChurnRanking| {
        candidates.iter().find(|c| c.ranking == r).map_or(f64::NAN, |c| c.inner_roc_auc)
    };
    let mut reasons = Vec::new();
    if dropout_at_bound(inner_model) || dropout_at_bound(calibration_model) {
        reasons.push(format!(
            "the {:?} dropout parameter runs to its bound (no customer is seen to leave)",
            calibration_model.kind
        ));
    }
    if inner_auc(ChurnRanking::PAlive) < inner_auc(ChurnRanking::Recency) {
        reasons.push(format!(
            "its P(alive) ranks churners worse than recency on the inner split (ROC-AUC {:.3} vs {:.3})",
            inner_auc(ChurnRanking::PAlive),
            inner_auc(ChurnRanking::Recency)
        ));
    }
    // The holdout's customers placed among themselves, scored by the calibration model.
    let holdout_scores = holdout.scores(served, calibration_model, window_weeks);
    let at_cut = calibration.clone().with_reference(&holdout_scores);
    let risks: Vec<f64> = holdout_scores.iter().map(|s| at_cut.risk_of(*s)).collect();
    let labels: Vec<bool> = holdout.churned.clone();
    let n = labels.len() as f64;
    let validation = ChurnValidation {
        window_weeks,
        served,
        candidates,
        dropout_identified: reasons.is_empty(),
        dropout_note: reasons.join("; "),
        holdout_customers: labels.len(),
        holdout_churn_rate: labels.iter().filter(|l| **l).count() as f64 / n,
        holdout_mean_risk: risks.iter().sum::<f64>() / n,
        holdout_brier: metrics::brier(&labels, &risks),
    };
    Some((calibration, validation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(d)
    }

    #[test]
    fn samples_label_the_window_after_the_cut_only() {
        let a = [(day(0), 1.0), (day(10), 1.0), (day(40), 1.0)];
        let b = [(day(5), 1.0), (day(60), 1.0)];
        let late = [(day(30), 1.0)];
        let s = ChurnSample::at([&a[..], &b[..], &late[..]].into_iter(), day(20), 4.0);
        // `late` had not bought by the cut; a bought within 28 days after it, b did not.
        assert_eq!(s.churned, vec![false, true]);
        assert_eq!(s.histories[0].x, 1.0);
        assert!((s.histories[0].t - 20.0 / 7.0).abs() < 1e-12);
        assert!((s.histories[1].t_x).abs() < 1e-12);
    }

    #[test]
    fn a_model_without_dropout_serves_recency_and_says_so() {
        // Regular buyers who stop: the recent ones are back in the window, the others not.
        let mut histories = Vec::new();
        for i in 0..200i64 {
            let stops = if i % 2 == 0 { 400 } else { 60 + i };
            let purchases: Vec<(NaiveDate, f64)> = (0..)
                .map(|k| day(k * 14 + i % 14))
                .take_while(|d| *d < day(stops))
                .map(|d| (d, 1.0))
                .collect();
            histories.push(purchases);
        }
        let no_dropout = PurchaseModel {
            kind: PurchaseModelKind::BgNbd,
            r: 1.0,
            alpha: 10.0,
            a: 1e-300,
            b: 1.0,
        };
        let inner = ChurnSample::at(histories.iter().map(|h| &h[..]), day(200), 6.0);
        let holdout = ChurnSample::at(histories.iter().map(|h| &h[..]), day(300), 6.0);
        let (calibration, validation) =
            choose(&inner, &no_dropout, &holdout, &no_dropout, 6.0).unwrap();
        assert_ne!(validation.served, ChurnRanking::PAlive);
        assert!(!validation.dropout_identified);
        assert!(validation.dropout_note.contains("bound"), "{}", validation.dropout_note);
        let served = validation.served_candidate().unwrap();
        assert!(served.holdout_roc_auc > 0.9, "{served:?}");
        assert!(calibration.is_valid());
    }
}
