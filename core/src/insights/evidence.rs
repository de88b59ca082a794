//! The evidence every recommendation carries: the figure it rests on, what it is compared
//! with, the population it was computed on and its size, a 90% interval, and whether it
//! passes the rule's thresholds of support (size) and significance (the interval excludes
//! what it is compared with). A recommendation that does not pass is not made.

use crate::stats::{normal_quantile, rate_interval};
use serde::{Deserialize, Serialize};

/// Coverage of every interval of the evidence.
pub const LEVEL: f64 = 0.9;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What the figure is ("cancellation rate of MAHARASHTRA's lines").
    pub figure: String,
    pub value: f64,
    /// What it is compared with ("every state's rate"), and that value.
    pub compared_to: String,
    pub compared_value: f64,
    /// The lines, orders, days or customers the figure was computed on, and how many.
    pub population: String,
    pub size: f64,
    /// The interval of the figure at [`LEVEL`], and how it was computed.
    pub low: f64,
    pub high: f64,
    pub method: String,
    /// The least size the rule accepts.
    pub min_size: f64,
    /// Size at least `min_size`, and the interval clear of `compared_value`.
    pub passes: bool,
}

impl Evidence {
    /// Whether the interval lies wholly on one side of the compared value.
    fn clear_of(low: f64, high: f64, compared: f64) -> bool {
        high < compared || low > compared
    }

    /// The evidence in one sentence: the figure on its population, its interval and method,
    /// against what.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} on {} (at least {} needed); {:.0}% interval {}–{} ({}); against {} {}",
            self.figure,
            short(self.value),
            self.population,
            short(self.min_size),
            100.0 * LEVEL,
            short(self.low),
            short(self.high),
            self.method,
            self.compared_to,
            short(self.compared_value)
        )
    }

    /// Evidence of a figure with an interval computed by the caller (`method`).
    pub fn with_interval(
        figure: String,
        value: f64,
        compared: (String, f64),
        population: (String, f64, f64),
        interval: (f64, f64, &str),
    ) -> Self {
        Self::new(figure, value, compared, population, interval)
    }

    fn new(
        figure: String,
        value: f64,
        (compared_to, compared_value): (String, f64),
        (population, size, min_size): (String, f64, f64),
        (low, high, method): (f64, f64, &str),
    ) -> Self {
        let passes = size >= min_size && Self::clear_of(low, high, compared_value);
        Self {
            figure,
            value,
            compared_to,
            compared_value,
            population,
            size,
            low,
            high,
            method: method.to_owned(),
            min_size,
            passes,
        }
    }

    /// A rate of `k` events in `n` (Jeffreys interval) against `compared`.
    pub fn rate(
        figure: String,
        (k, n): (f64, f64),
        compared: (String, f64),
        population: String,
        min_size: f64,
    ) -> Self {
        let (low, high) = rate_interval(k, n, LEVEL);
        let value = if n > 0.0 { k / n } else { 0.0 };
        Self::new(figure, value, compared, (population, n, min_size), (low, high, "Jeffreys"))
    }

    /// A share of a sum (a category's share of a region's revenue) with its delta-method
    /// interval: `part` and `whole` are sums of line values, `part_sq` and `whole_sq` the sums
    /// of their squares, `lines` the lines of the whole.
    pub fn share(
        figure: String,
        (part, part_sq): (f64, f64),
        (whole, whole_sq): (f64, f64),
        compared: (String, f64),
        (population, lines, min_size): (String, f64, f64),
    ) -> Self {
        let share = if whole.abs() > 1e-12 { part / whole } else { 0.0 };
        // Var(share) ≈ Σ x_i² (1[i in part] − share)² / whole².
        let variance = ((1.0 - share).powi(2) * part_sq + share.powi(2) * (whole_sq - part_sq))
            .max(0.0)
            / whole.powi(2).max(1e-300);
        let z = normal_quantile(0.5 + LEVEL / 2.0);
        let (low, high) = (share - z * variance.sqrt(), share + z * variance.sqrt());
        Self::new(
            figure,
            share,
            compared,
            (population, lines, min_size),
            (low, high, "delta method"),
        )
    }

    /// The ratio `after / before` of two sums of line values (a month's revenue against the one
    /// before), its interval from the sums of squares (log scale, delta method).
    pub fn ratio(
        figure: String,
        (before, before_sq): (f64, f64),
        (after, after_sq): (f64, f64),
        compared: (String, f64),
        (population, lines, min_size): (String, f64, f64),
    ) -> Self {
        let ratio = after / before.max(1e-12);
        let spread =
            (after_sq / after.powi(2).max(1e-300) + before_sq / before.powi(2).max(1e-300)).sqrt();
        let z = normal_quantile(0.5 + LEVEL / 2.0);
        let (low, high) = (ratio * (-z * spread).exp(), ratio * (z * spread).exp());
        Self::new(
            figure,
            ratio,
            compared,
            (population, lines, min_size),
            (low, high, "delta method, log scale"),
        )
    }

    /// The mean of `sample` against the mean of `other` (Welch's interval of the difference,
    /// reported around `sample`'s mean).
    pub fn means(
        figure: String,
        sample: &Sample,
        (compared_to, other): (String, &Sample),
        population: String,
        min_size: f64,
    ) -> Self {
        let se =
            (sample.sd.powi(2) / sample.n.max(1.0) + other.sd.powi(2) / other.n.max(1.0)).sqrt();
        let z = normal_quantile(0.5 + LEVEL / 2.0);
        let difference = sample.mean - other.mean;
        let (low, high) = (other.mean + difference - z * se, other.mean + difference + z * se);
        let size = sample.n.min(other.n);
        Self::new(
            figure,
            sample.mean,
            (compared_to, other.mean),
            (population, size, min_size),
            (low, high, "Welch, normal approximation"),
        )
    }
}

/// A number with as many decimals as its size needs.
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 || v.fract() == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.4}"),
    }
}

/// A sample's size, mean and standard deviation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub n: f64,
    pub mean: f64,
    pub sd: f64,
}

impl Sample {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let (mut n, mut sum, mut sum_sq) = (0.0, 0.0, 0.0);
        for v in values {
            n += 1.0;
            sum += v;
            sum_sq += v * v;
        }
        let mean = if n > 0.0 { sum / n } else { 0.0 };
        let variance = if n > 1.0 { (sum_sq - n * mean * mean).max(0.0) / (n - 1.0) } else { 0.0 };
        Self { n, mean, sd: variance.sqrt() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_passes_only_with_support_and_a_clear_interval() {
        let high = Evidence::rate("r".into(), (30.0, 100.0), ("all".into(), 0.1), "p".into(), 50.0);
        assert!(high.passes && high.low > 0.1 && (high.value - 0.3).abs() < 1e-12);
        let small = Evidence::rate("r".into(), (3.0, 10.0), ("all".into(), 0.1), "p".into(), 50.0);
        assert!(!small.passes, "too few lines");
        let close =
            Evidence::rate("r".into(), (12.0, 100.0), ("all".into(), 0.1), "p".into(), 50.0);
        assert!(!close.passes, "the interval holds the compared rate");
        let a = Sample::of([10.0, 12.0, 11.0, 13.0, 12.0, 11.0]);
        assert!((a.mean - 11.5).abs() < 1e-12 && (a.sd - 1.048_808_848).abs() < 1e-6);
        let b = Sample::of([5.0, 6.0, 5.5, 6.5, 5.0, 6.0]);
        let e = Evidence::means("m".into(), &a, ("b".into(), &b), "p".into(), 5.0);
        assert!(e.passes && e.low > b.mean);
        // A share of two equal halves of equal lines: 0.5 with a narrow interval.
        let s = Evidence::share(
            "s".into(),
            (50.0, 50.0),
            (100.0, 100.0),
            ("c".into(), 0.3),
            ("p".into(), 100.0, 10.0),
        );
        assert!((s.value - 0.5).abs() < 1e-12 && s.passes && s.low > 0.4);
    }
}
