//! Outcome rates: the share of each category's and each product's order lines that were
//! cancelled (or returned, where the export records returns), shrunk towards the overall rate
//! by an empirical-Bayes Beta prior so that a product seen twice does not read 0% or 100%,
//! each with its interval. Served by `PredictionService/GetOutcomeRates`; the same table is
//! the checkout model's per-category baseline.

use crate::bundle::{BundleError, BundleWriter, read_json};
use crate::features::normalize_key;
use crate::served::{Figure, ModelMetrics, ServedModel};
use crate::stats::beta_quantile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a line's probability is the probability of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictedOutcome {
    /// The line is cancelled before it ships (known at checkout).
    #[default]
    Cancellation,
    /// The customer returns the line after delivery (known only weeks after the order).
    Return,
}

impl PredictedOutcome {
    pub fn name(self) -> &'static str {
        match self {
            PredictedOutcome::Cancellation => "cancellation",
            PredictedOutcome::Return => "return",
        }
    }

    /// What the model predicts, in words (report, GetModelInfo).
    pub fn describe(self) -> &'static str {
        match self {
            PredictedOutcome::Cancellation => {
                "probability that a line is cancelled, from what is known at checkout"
            }
            PredictedOutcome::Return => {
                "probability that a line is returned after the sale (known only after the fact), from what is known at checkout"
            }
        }
    }
}

/// The model's name in a bundle's manifest.
pub const NAME: &str = "outcome_rates";
const FILE: &str = "outcome_rates/rates.json";

/// A rate of the outcome: its counts, the shrunk rate and its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub lines: u64,
    pub outcomes: u64,
    /// (outcomes + m·overall) / (lines + m): the estimate served.
    pub rate: f64,
    /// The interval of the rate at the table's level (the Beta posterior's quantiles).
    pub low: f64,
    pub high: f64,
}

/// Which rate answered: the product's own, its category's, or the overall one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLevel {
    Product,
    Category,
    Overall,
}

/// The rates of one outcome by category and by product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateTable {
    pub outcome: PredictedOutcome,
    /// Coverage of every interval (0.9).
    pub level: f64,
    /// The prior's weight m, in lines: how far a group's rate is pulled to the overall one.
    pub prior_lines: f64,
    pub overall: Rate,
    /// By category (normalised key: trimmed, upper case).
    pub categories: BTreeMap<String, Rate>,
    /// By product id, for products with at least `min_product_lines` lines.
    pub products: BTreeMap<String, Rate>,
    pub min_product_lines: u64,
}

/// One observed line: its category, its product and whether it had the outcome.
pub struct Observation<'a> {
    pub category: &'a str,
    pub product: &'a str,
    pub outcome: bool,
}

/// The prior weight m of groups whose raw rates spread around `overall` with `between`
/// variance beyond the binomial's (method of moments), within [2, 10,000] lines.
fn prior_lines(overall: f64, groups: &[(u64, u64)]) -> f64 {
    let total: f64 = groups.iter().map(|g| g.0 as f64).sum();
    if total <= 0.0 || groups.len() < 2 {
        return 10_000.0;
    }
    let spread: f64 = groups
        .iter()
        .map(|&(n, k)| n as f64 * (k as f64 / n as f64 - overall).powi(2))
        .sum::<f64>()
        / total;
    let binomial = overall * (1.0 - overall) * groups.len() as f64 / total;
    let between = spread - binomial;
    if between <= 1e-12 {
        return 10_000.0;
    }
    (overall * (1.0 - overall) / between - 1.0).clamp(2.0, 10_000.0)
}

impl RateTable {
    /// The rates of `lines` at interval `level`, products with at least `min_product_lines`.
    pub fn fit<'a>(
        outcome: PredictedOutcome,
        lines: impl Iterator<Item = Observation<'a>>,
        level: f64,
        min_product_lines: u64,
    ) -> Self {
        let mut categories: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut products: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let (mut n, mut k) = (0u64, 0u64);
        for line in lines {
            let hit = u64::from(line.outcome);
            n += 1;
            k += hit;
            let count = |map: &mut BTreeMap<String, (u64, u64)>, key: String| {
                let entry = map.entry(key).or_default();
                entry.0 += 1;
                entry.1 += hit;
            };
            if !line.category.trim().is_empty() {
                count(&mut categories, normalize_key(line.category));
            }
            if !line.product.trim().is_empty() {
                count(&mut products, line.product.trim().to_owned());
            }
        }
        let overall_rate = if n == 0 { 0.0 } else { k as f64 / n as f64 };
        let groups: Vec<(u64, u64)> = categories.values().copied().collect();
        let prior = prior_lines(overall_rate, &groups);
        let mut table = Self {
            outcome,
            level,
            prior_lines: prior,
            overall: Rate { lines: n, outcomes: k, rate: overall_rate, low: 0.0, high: 1.0 },
            categories: BTreeMap::new(),
            products: BTreeMap::new(),
            min_product_lines,
        };
        table.overall = table.rate_of(n, k, 0.0);
        table.categories =
            categories.into_iter().map(|(c, (n, k))| (c, table.rate_of(n, k, prior))).collect();
        table.products = products
            .into_iter()
            .filter(|(_, (n, _))| *n >= min_product_lines)
            .map(|(p, (n, k))| (p, table.rate_of(n, k, prior)))
            .collect();
        table
    }

    /// The rate of `k` outcomes in `n` lines with a prior of `prior` lines at the overall rate.
    fn rate_of(&self, n: u64, k: u64, prior: f64) -> Rate {
        let p0 = self.overall.rate.clamp(1e-6, 1.0 - 1e-6);
        // A flat Jeffreys prior for the overall rate itself.
        let (a0, b0) = if prior > 0.0 { (prior * p0, prior * (1.0 - p0)) } else { (0.5, 0.5) };
        let (a, b) = (k as f64 + a0, (n - k) as f64 + b0);
        let tail = (1.0 - self.level) / 2.0;
        Rate {
            lines: n,
            outcomes: k,
            rate: a / (a + b),
            low: beta_quantile(tail, a, b),
            high: beta_quantile(1.0 - tail, a, b),
        }
    }

    /// The rate of a line of `category` and `product`: the product's own when it has one,
    /// else its category's, else the overall rate.
    pub fn rate(&self, category: &str, product: &str) -> (&Rate, RateLevel) {
        if let Some(rate) = self.products.get(product.trim()) {
            return (rate, RateLevel::Product);
        }
        match self.categories.get(&normalize_key(category)) {
            Some(rate) => (rate, RateLevel::Category),
            None => (&self.overall, RateLevel::Overall),
        }
    }

    /// The categories, highest rate first (ties by name).
    pub fn categories_by_rate(&self) -> Vec<(&str, &Rate)> {
        let mut all: Vec<(&str, &Rate)> =
            self.categories.iter().map(|(c, r)| (c.as_str(), r)).collect();
        all.sort_by(|a, b| b.1.rate.total_cmp(&a.1.rate).then(a.0.cmp(b.0)));
        all
    }

    /// Checks a table read from a bundle: rates and intervals are probabilities in order.
    pub fn validated(self) -> Result<Self, String> {
        let ok = |r: &Rate| {
            [r.rate, r.low, r.high].iter().all(|v| (0.0..=1.0).contains(v))
                && r.low <= r.rate
                && r.rate <= r.high
                && r.outcomes <= r.lines
        };
        let all_ok =
            ok(&self.overall) && self.categories.values().all(ok) && self.products.values().all(ok);
        let settings_ok = 0.0 < self.level && self.level < 1.0 && self.prior_lines.is_finite();
        if !(all_ok && settings_ok) {
            return Err("a rate, interval or level outside [0, 1], or out of order".into());
        }
        Ok(self)
    }
}

/// The rates' figures in metrics.json: each test line's outcome predicted by its product's
/// (or category's) rate from the training days, against the constant training rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRateMetrics {
    pub outcome: PredictedOutcome,
    pub categories: usize,
    pub products: usize,
    pub prior_lines: f64,
    pub test_lines: usize,
    pub test_log_loss: f64,
    pub test_brier: f64,
    pub test_roc_auc: f64,
    pub constant_log_loss: f64,
    pub constant_brier: f64,
}

/// The rates' section of metrics.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeRateSections {
    pub outcome_rates: OutcomeRateMetrics,
}

impl ModelMetrics for OutcomeRateSections {
    fn figures(&self) -> Vec<Figure> {
        let m = &self.outcome_rates;
        let at = |key: &str| format!("{NAME}.{key}");
        vec![
            Figure::lower(at("test_log_loss"), m.test_log_loss),
            Figure::lower(at("test_brier"), m.test_brier),
            Figure::higher(at("test_roc_auc"), m.test_roc_auc),
            Figure::lower(at("constant_log_loss"), m.constant_log_loss),
            Figure::neither(at("categories"), m.categories as f64),
            Figure::neither(at("products"), m.products as f64),
        ]
    }
}

impl ServedModel for RateTable {
    const NAME: &'static str = NAME;
    type Metrics = OutcomeRateSections;

    fn load(dir: &Path, _device: &burn::tensor::Device) -> Result<Self, BundleError> {
        let table: RateTable = read_json(dir, FILE)?;
        table.validated().map_err(|reason| BundleError::incompatible(dir.join(FILE), reason))
    }

    fn warm_up(&self) {
        let _ = self.categories_by_rate();
    }

    fn describe(&self, _currency: &str) -> String {
        format!(
            "the share of each category's and product's order lines {}, with a {:.0}% interval",
            match self.outcome {
                PredictedOutcome::Cancellation => "cancelled",
                PredictedOutcome::Return => "returned",
            },
            100.0 * self.level
        )
    }
}

/// Writes the table into a bundle.
pub fn save(writer: &mut BundleWriter, table: &RateTable) -> Result<(), BundleError> {
    writer.write_json(FILE, table)?;
    writer.add_model(
        NAME,
        serde_json::json!({ "level": table.level, "min_product_lines": table.min_product_lines }),
        &[FILE],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(category: &'a str, product: &'a str, outcome: bool) -> Observation<'a> {
        Observation { category, product, outcome }
    }

    #[test]
    fn rates_are_shrunk_to_the_overall_one_and_fall_back_by_level() {
        let mut lines = Vec::new();
        for i in 0..200 {
            lines.push(line("Set", "P1", i % 4 == 0)); // 25%
            lines.push(line("kurta", "P2", i % 10 == 0)); // 10%
        }
        lines.push(line("kurta", "P3", true)); // one line: shrunk, no product rate
        let table = RateTable::fit(PredictedOutcome::Cancellation, lines.into_iter(), 0.9, 20);
        let (set, level) = table.rate("set ", "unknown");
        assert_eq!(level, RateLevel::Category);
        assert!(set.rate > 0.17 && set.rate < 0.25 + 1e-9, "{set:?}");
        assert!(set.low < set.rate && set.rate < set.high);
        assert_eq!(table.rate("KURTA", "P2").1, RateLevel::Product);
        assert_eq!(table.rate("KURTA", "P3").1, RateLevel::Category);
        assert_eq!(table.rate("Tops", "").1, RateLevel::Overall);
        assert_eq!(table.overall.lines, 401);
        assert_eq!(table.categories_by_rate()[0].0, "SET");
        assert!(table.clone().validated().is_ok());
        let mut broken = table;
        broken.overall.low = 0.9;
        assert!(broken.validated().is_err());
    }
}
