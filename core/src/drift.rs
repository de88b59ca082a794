//! Drift: how far what a served model sees has moved from what it was checked on, as a
//! population stability index (PSI) over bins fitted on a reference. The binning and the PSI
//! live here, with the score-only monitor of the price and sentiment models; the checkout
//! model's per-input monitor is `crate::cancellation::drift`.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Bins of a numeric input and of a score (fewer where the reference has ties).
pub const QUANTILE_BINS: usize = 10;
/// Share standing in for an empty bin, so that the PSI stays finite (the usual smoothing).
const EMPTY_SHARE: f64 = 1e-4;
/// Predictions (lines, for the checkout model) a sliding window holds.
pub const WINDOW_LINES: usize = 10_000;

/// How one input (or a score) is binned, and the reference's share of each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// One bin per listed value (normalised keys, most frequent first), then "other", then
    /// "unseen": `shares` has `values.len() + 2` entries.
    Categorical { values: Vec<String>, shares: Vec<f64> },
    /// Bin `i` holds values ≤ `upper_edges[i]` (and above the previous edge); the last bin
    /// the values above every edge: `shares` has `upper_edges.len() + 1` entries. Numeric
    /// inputs are binned as the model reads them (transformed and standardised).
    Quantiles { upper_edges: Vec<f64>, shares: Vec<f64> },
}

impl Bins {
    pub fn shares(&self) -> &[f64] {
        match self {
            Bins::Categorical { shares, .. } | Bins::Quantiles { shares, .. } => shares,
        }
    }
}

/// PSI of `counts` against the reference `shares`: Σ (a − e)·ln(a / e) over the bins, shares
/// below [`EMPTY_SHARE`] raised to it. 0 for no counts.
pub fn psi(shares: &[f64], counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    shares
        .iter()
        .zip(counts)
        .map(|(&e, &c)| {
            let e = e.max(EMPTY_SHARE);
            let a = (c as f64 / total as f64).max(EMPTY_SHARE);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Deciles of `values` as upper edges, ties merged.
pub(crate) fn quantile_edges(values: &mut [f64]) -> Vec<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..QUANTILE_BINS)
        .map(|k| values[(k * values.len() / QUANTILE_BINS).min(values.len() - 1)])
        .collect();
    edges.dedup();
    // A top edge equal to the maximum would leave the last bin empty.
    if edges.last() == values.last() {
        edges.pop();
    }
    edges
}

pub(crate) fn quantile_bin(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge < value)
}

pub(crate) fn check_edges(name: &str, edges: &[f64]) -> Result<(), String> {
    if edges.len() >= QUANTILE_BINS
        || edges.iter().any(|e| !e.is_finite())
        || edges.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(format!("`{name}` needs fewer than {QUANTILE_BINS} finite, increasing edges"));
    }
    Ok(())
}

/// Shares of `counts`.
pub(crate) fn shares(counts: &[u64]) -> Vec<f64> {
    let total = counts.iter().sum::<u64>().max(1) as f64;
    counts.iter().map(|&n| n as f64 / total).collect()
}

/// Whether `shares` fit `bins` bins: finite, non-negative, summing to 1 (unless empty).
pub(crate) fn check_shares(name: &str, shares: &[f64], bins: usize) -> Result<(), String> {
    if shares.len() != bins
        || shares.iter().any(|s| !s.is_finite() || *s < 0.0)
        || (shares.iter().sum::<f64>() - 1.0).abs() > 1e-6 && shares.iter().any(|s| *s > 0.0)
    {
        return Err(format!("the reference of `{name}` has inconsistent shares"));
    }
    Ok(())
}

/// PSI figures: under 0.1 is usually read as stable, 0.1–0.25 as a moderate shift, above
/// 0.25 as a large one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftFigures {
    /// Predictions (lines) counted.
    pub lines: u64,
    /// Each input's PSI, in model order (none for a score-only monitor; calendar inputs left
    /// out).
    pub inputs: Vec<(String, f64)>,
    pub score: f64,
}

/// A model's score as it was on held-out data: deciles and their shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReference {
    /// What the score is, e.g. "predicted / list price".
    pub score_name: String,
    /// What the predictions were, e.g. "test split, 281 products".
    pub source: String,
    pub predictions: usize,
    pub score: Bins,
}

impl ScoreReference {
    /// Deciles of the finite `scores` and the share of each bin.
    pub fn fit(scores: &[f64], score_name: &str, source: String) -> Self {
        let mut finite: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        let upper_edges = if finite.is_empty() { Vec::new() } else { quantile_edges(&mut finite) };
        let mut counts = vec![0u64; upper_edges.len() + 1];
        for &s in &finite {
            counts[quantile_bin(&upper_edges, s)] += 1;
        }
        Self {
            score_name: score_name.to_owned(),
            source,
            predictions: finite.len(),
            score: Bins::Quantiles { upper_edges, shares: shares(&counts) },
        }
    }

    pub fn validated(self) -> Result<Self, String> {
        let Bins::Quantiles { upper_edges, shares } = &self.score else {
            return Err("the score's bins must be quantiles".into());
        };
        check_edges("score", upper_edges)?;
        check_shares("score", shares, upper_edges.len() + 1)?;
        Ok(self)
    }

    fn edges(&self) -> &[f64] {
        match &self.score {
            Bins::Quantiles { upper_edges, .. } => upper_edges,
            Bins::Categorical { .. } => &[],
        }
    }
}

/// Writes a model's score reference into a bundle, as one of the model's files.
pub fn save_score_reference(
    writer: &mut crate::bundle::BundleWriter,
    model: &str,
    file: &str,
    reference: &ScoreReference,
) -> Result<(), crate::bundle::BundleError> {
    writer.write_json(file, reference)?;
    writer.add_model_file(model, file);
    Ok(())
}

/// The score monitor of a bundle's model; None for a bundle written before references.
pub fn load_score_monitor(
    dir: &std::path::Path,
    file: &str,
) -> Result<Option<ScoreMonitor>, crate::bundle::BundleError> {
    use crate::bundle::BundleError;
    match crate::bundle::read_json::<ScoreReference>(dir, file) {
        Ok(reference) => ScoreMonitor::new(reference)
            .map(Some)
            .map_err(|reason| BundleError::incompatible(dir.join(file), reason)),
        Err(BundleError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A served model's score reference and the bins of its last [`WINDOW_LINES`] scores.
#[derive(Debug)]
pub struct ScoreMonitor {
    reference: ScoreReference,
    window: Mutex<ScoreWindow>,
}

#[derive(Debug)]
struct ScoreWindow {
    ring: Vec<u8>,
    next: usize,
    filled: usize,
    counts: Vec<u64>,
}

impl ScoreMonitor {
    pub fn new(reference: ScoreReference) -> Result<Self, String> {
        let reference = reference.validated()?;
        let bins = reference.edges().len() + 1;
        let window =
            ScoreWindow { ring: vec![0; WINDOW_LINES], next: 0, filled: 0, counts: vec![0; bins] };
        Ok(Self { reference, window: Mutex::new(window) })
    }

    /// Adds served scores to the window (the oldest leave it once it is full); scores that
    /// are not finite are left out.
    pub fn observe(&self, scores: impl IntoIterator<Item = f64>) {
        let edges = self.reference.edges();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let window = &mut *window;
        for score in scores.into_iter().filter(|s| s.is_finite()) {
            let bin = quantile_bin(edges, score) as u8;
            if window.filled == WINDOW_LINES {
                window.counts[window.ring[window.next] as usize] -= 1;
            } else {
                window.filled += 1;
            }
            window.ring[window.next] = bin;
            window.counts[bin as usize] += 1;
            window.next = (window.next + 1) % WINDOW_LINES;
        }
    }

    /// PSI of the scores in the window.
    pub fn figures(&self) -> DriftFigures {
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        DriftFigures {
            lines: window.filled as u64,
            inputs: Vec::new(),
            score: psi(self.reference.score.shares(), &window.counts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_the_same_shares_and_grows_with_the_shift() {
        let shares = [0.25, 0.25, 0.5];
        assert!(psi(&shares, &[25, 25, 50]).abs() < 1e-12);
        let small = psi(&shares, &[30, 25, 45]);
        let large = psi(&shares, &[70, 20, 10]);
        assert!(small > 0.0 && small < 0.1, "{small}");
        assert!(large > 0.25, "{large}");
        assert_eq!(psi(&shares, &[0, 0, 0]), 0.0);
        assert!(psi(&[0.0, 1.0], &[1, 0]).is_finite(), "an empty reference bin stays finite");
    }

    #[test]
    fn quantile_edges_merge_ties_and_leave_no_empty_top_bin() {
        let mut values: Vec<f64> = (0..100).map(|i| (i / 10) as f64).collect();
        let edges = quantile_edges(&mut values);
        assert_eq!(edges, (1..=8).map(|i| i as f64).collect::<Vec<_>>());
        assert_eq!(quantile_bin(&edges, 0.0), 0);
        assert_eq!(quantile_bin(&edges, 1.0), 0, "an edge belongs to the bin below it");
        assert_eq!(quantile_bin(&edges, 9.0), 8);
        let mut constant = vec![3.0; 50];
        assert!(quantile_edges(&mut constant).is_empty(), "one value, one bin");
    }

    #[test]
    fn a_score_window_follows_the_last_scores() {
        let scores: Vec<f64> = (0..1000).map(|i| (i % 100) as f64 / 100.0).collect();
        let reference = ScoreReference::fit(&scores, "p", "test".into());
        let monitor = ScoreMonitor::new(reference.clone()).unwrap();
        monitor.observe(scores.iter().copied().chain([f64::NAN]));
        let same = monitor.figures();
        assert_eq!(same.lines, 1000, "a score that is not finite is left out");
        assert!(same.score.abs() < 1e-12);
        monitor.observe(std::iter::repeat_n(0.99, WINDOW_LINES));
        let shifted = monitor.figures();
        assert_eq!(shifted.lines, WINDOW_LINES as u64);
        assert!(shifted.score > 1.0, "{shifted:?}");
        for _ in 0..WINDOW_LINES / 1000 {
            monitor.observe(scores.iter().copied());
        }
        assert!(monitor.figures().score.abs() < 1e-12, "the shifted scores have left");

        let mut broken = reference;
        if let Bins::Quantiles { shares, .. } = &mut broken.score {
            shares[0] += 0.5;
        }
        assert!(ScoreMonitor::new(broken).unwrap_err().contains("shares"));
    }
}
