//! Evaluation metrics of the protocol (`../shared/EVALUATION.md`), computed from predictions.

/// Area under the ROC curve (ties count one half), by the rank-sum formula.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum += average_rank;
                positives += 1.0;
            }
        }
        i = j + 1;
    }
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Average precision (scikit-learn's definition): Σ (R_k − R_{k−1}) P_k over distinct
/// thresholds, highest first.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    if positives == 0.0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let recall = tp / positives;
        ap += (recall - last_recall) * tp / (tp + fp);
        last_recall = recall;
        i = j;
    }
    ap
}

pub fn brier(labels: &[bool], probabilities: &[f64]) -> f64 {
    mean(labels.iter().zip(probabilities).map(|(&y, &p)| (p - y as u8 as f64).powi(2)))
}

/// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15].
pub fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    mean(labels.iter().zip(probabilities).map(|(&y, &p)| {
        let p = p.clamp(1e-15, 1.0 - 1e-15);
        if y { -p.ln() } else { -(1.0 - p).ln() }
    }))
}

pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Binary classification figures at a threshold (predicted positive when score >= threshold).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    pub accuracy: f64,
    /// F1 of the positive class and of the negative class.
    pub f1_positive: f64,
    pub f1_negative: f64,
    pub macro_f1: f64,
    /// [[tn, fp], [fn, tp]]
    pub confusion: [[usize; 2]; 2],
}

pub fn classification(labels: &[bool], scores: &[f64], threshold: f64) -> Classification {
    let mut confusion = [[0usize; 2]; 2];
    for (&y, &s) in labels.iter().zip(scores) {
        confusion[y as usize][(s >= threshold) as usize] += 1;
    }
    let [[tn, fp], [fn_, tp]] = confusion;
    let f1 = |tp: usize, fp: usize, fn_: usize| {
        let denominator = 2 * tp + fp + fn_;
        if denominator == 0 { 0.0 } else { 2.0 * tp as f64 / denominator as f64 }
    };
    let f1_positive = f1(tp, fp, fn_);
    let f1_negative = f1(tn, fn_, fp);
    Classification {
        accuracy: (tp + tn) as f64 / labels.len().max(1) as f64,
        f1_positive,
        f1_negative,
        macro_f1: (f1_positive + f1_negative) / 2.0,
        confusion,
    }
}

/// Coefficient of determination.
pub fn r2(actual: &[f64], predicted: &[f64]) -> f64 {
    let m = mean(actual.iter().copied());
    let total: f64 = actual.iter().map(|a| (a - m).powi(2)).sum();
    let residual: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).powi(2)).sum();
    1.0 - residual / total
}

pub fn mae(actual: &[f64], predicted: &[f64]) -> f64 {
    mean(actual.iter().zip(predicted).map(|(a, p)| (a - p).abs()))
}

/// Mean absolute percentage error, in percent.
pub fn mape_pct(actual: &[f64], predicted: &[f64]) -> f64 {
    100.0
        * mean(
            actual
                .iter()
                .zip(predicted)
                .filter(|(a, _)| **a != 0.0)
                .map(|(a, p)| ((a - p) / a).abs()),
        )
}

/// Weighted absolute percentage error: Σ|a − p| / Σ|a|.
pub fn wape(actual: &[f64], predicted: &[f64]) -> f64 {
    let error: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).abs()).sum();
    error / actual.iter().map(|a| a.abs()).sum::<f64>()
}

/// Symmetric MAPE in percent: mean of 2|a − p| / (|a| + |p|), zero where both are zero.
pub fn smape_pct(actual: &[f64], predicted: &[f64]) -> f64 {
    100.0
        * mean(actual.iter().zip(predicted).map(|(a, p)| {
            let d = a.abs() + p.abs();
            if d == 0.0 { 0.0 } else { 2.0 * (a - p).abs() / d }
        }))
}

/// Mean absolute scaled error; the scale is the mean absolute error of the seasonal naive
/// forecast (lag `season`) over the training history.
pub fn mase(actual: &[f64], predicted: &[f64], history: &[f64], season: usize) -> f64 {
    mae(actual, predicted) / seasonal_naive_scale(history, season)
}

/// Mean absolute error of the seasonal naive forecast in `history`: the scale of MASE and MSIS.
fn seasonal_naive_scale(history: &[f64], season: usize) -> f64 {
    mean(history.windows(season + 1).map(|w| (w[season] - w[0]).abs()))
}

/// Mean scaled interval score of a central `1 − alpha` interval (M4 competition): its width
/// plus `2 / alpha` times each miss, over the seasonal naive scale. A proper score: it rewards
/// narrow intervals only as long as they hold the actual values as often as they claim.
pub fn msis(
    actual: &[f64],
    lower: &[f64],
    upper: &[f64],
    history: &[f64],
    season: usize,
    alpha: f64,
) -> f64 {
    let score = mean(
        actual
            .iter()
            .zip(lower.iter().zip(upper))
            .map(|(&a, (&l, &u))| (u - l) + 2.0 / alpha * ((l - a).max(0.0) + (a - u).max(0.0))),
    );
    score / seasonal_naive_scale(history, season)
}

/// Share of actual values inside [lower, upper].
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    mean(
        actual
            .iter()
            .zip(lower.iter().zip(upper))
            .map(|(a, (l, u))| (*l <= *a && *a <= *u) as u8 as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn roc_auc_and_average_precision_match_hand_computed_values() {
        // scikit-learn: roc_auc_score([0,0,1,1],[.1,.4,.35,.8]) = 0.75,
        // average_precision_score(...) = 0.8333...
        let y = [false, false, true, true];
        let s = [0.1, 0.4, 0.35, 0.8];
        assert!(close(roc_auc(&y, &s), 0.75));
        assert!(close(average_precision(&y, &s), 5.0 / 6.0));
        // ties count one half
        assert!(close(roc_auc(&[false, true], &[0.5, 0.5]), 0.5));
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_nan());
    }

    #[test]
    fn probabilistic_scores() {
        let y = [true, false];
        assert!(close(brier(&y, &[0.8, 0.3]), (0.04 + 0.09) / 2.0));
        assert!(close(log_loss(&y, &[0.8, 0.3]), -(0.8f64.ln() + 0.7f64.ln()) / 2.0));
    }

    #[test]
    fn classification_figures() {
        let y = [true, true, false, false, false];
        let s = [0.9, 0.2, 0.8, 0.1, 0.1];
        let c = classification(&y, &s, 0.5);
        assert_eq!(c.confusion, [[2, 1], [1, 1]]);
        assert!(close(c.f1_positive, 0.5));
        assert!(close(c.f1_negative, 4.0 / 6.0));
        assert!(close(c.accuracy, 0.6));
    }

    #[test]
    fn regression_and_forecast_figures() {
        let a = [1.0, 2.0, 3.0];
        let p = [1.0, 2.0, 4.0];
        assert!(close(r2(&a, &p), 0.5));
        assert!(close(mae(&a, &p), 1.0 / 3.0));
        assert!(close(mape_pct(&a, &p), 100.0 / 9.0));
        assert!(close(wape(&a, &p), 1.0 / 6.0));
        assert!(close(smape_pct(&[0.0, 2.0], &[0.0, 2.0]), 0.0));
        // history with lag-1 differences 1, 1 → scale 1
        assert!(close(mase(&a, &p, &[1.0, 2.0, 3.0], 1), 1.0 / 3.0));
        assert!(close(coverage(&a, &[0.0, 2.5, 2.0], &[2.0, 3.0, 3.0]), 2.0 / 3.0));
        // widths 2, 0.5, 1; the second misses by 0.5 below (2 / 0.2 · 0.5 = 5) → (2 + 5.5 + 1) / 3
        assert!(close(
            msis(&a, &[0.0, 2.5, 2.0], &[2.0, 3.0, 3.0], &[1.0, 2.0, 3.0], 1, 0.2),
            8.5 / 3.0
        ));
    }
}
