//! The price model's simple baselines, served in its place when one of them scored better on
//! the export's own validation products: the median discount of the product's category, or a
//! ridge regression on the same inputs as the model. Both predict ln(selling / list price);
//! their P10–P90 range comes from their own validation residuals.

use super::features::{EncodedProduct, ProductInput};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The names of the candidates of the price model's backtest.
pub const MODEL: &str = "model";
pub const CATEGORY_MEDIAN: &str = "category median";
pub const RIDGE: &str = "ridge";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceBaseline {
    /// The median ln(selling / list) of the product's deepest category path with a median of
    /// its own, else of the whole catalogue.
    CategoryMedian {
        /// By category path prefix ("Electronics|Cables"), levels joined by `|`.
        medians: BTreeMap<String, f64>,
        overall: f64,
        /// Offsets of P10 and P90 from the median, from the validation residuals.
        spread: [f64; 2],
    },
    /// A linear model of ln(selling / list) on the encoder's tokens and numeric inputs.
    Ridge { token_weights: Vec<f32>, numeric_weights: Vec<f32>, intercept: f64, spread: [f64; 2] },
}

/// The category path's prefixes, deepest first ("A|B|C", "A|B", "A").
pub fn category_prefixes(path: &str) -> Vec<String> {
    let levels: Vec<&str> = path.split('|').map(str::trim).filter(|l| !l.is_empty()).collect();
    (1..=levels.len()).rev().map(|n| levels[..n].join("|")).collect()
}

impl PriceBaseline {
    pub fn name(&self) -> &'static str {
        match self {
            Self::CategoryMedian { .. } => CATEGORY_MEDIAN,
            Self::Ridge { .. } => RIDGE,
        }
    }

    /// The median ln(selling / list) of a product.
    pub fn log_ratio(&self, input: &ProductInput<'_>, encoded: &EncodedProduct) -> f64 {
        match self {
            Self::CategoryMedian { medians, overall, .. } => category_prefixes(input.category_path)
                .iter()
                .find_map(|prefix| medians.get(prefix))
                .copied()
                .unwrap_or(*overall),
            Self::Ridge { token_weights, numeric_weights, intercept, .. } => {
                let tokens: f64 = encoded
                    .tokens
                    .iter()
                    .zip(&encoded.weights)
                    .map(|(&t, &w)| {
                        f64::from(token_weights.get(t as usize).copied().unwrap_or(0.0))
                            * f64::from(w)
                    })
                    .sum();
                let numeric: f64 = encoded
                    .numeric
                    .iter()
                    .zip(numeric_weights)
                    .map(|(&x, &w)| f64::from(x) * f64::from(w))
                    .sum();
                intercept + tokens + numeric
            }
        }
    }

    /// Quantiles P10, P50, P90 of ln(selling / list) of a product.
    pub fn quantiles(&self, input: &ProductInput<'_>, encoded: &EncodedProduct) -> [f64; 3] {
        let median = self.log_ratio(input, encoded);
        let spread = match self {
            Self::CategoryMedian { spread, .. } | Self::Ridge { spread, .. } => spread,
        };
        [median + spread[0], median, median + spread[1]]
    }

    /// Checks a baseline read from a bundle against the encoder's vocabulary.
    pub fn validated(self, vocab_size: usize, numeric: usize) -> Result<Self, String> {
        let finite = |v: f64| v.is_finite();
        let ok = match &self {
            Self::CategoryMedian { medians, overall, spread } => {
                medians.values().all(|v| finite(*v))
                    && finite(*overall)
                    && spread[0] <= 0.0
                    && spread[1] >= 0.0
            }
            Self::Ridge { token_weights, numeric_weights, intercept, spread } => {
                token_weights.len() == vocab_size
                    && numeric_weights.len() == numeric
                    && token_weights.iter().chain(numeric_weights).all(|w| w.is_finite())
                    && finite(*intercept)
                    && spread[0] <= 0.0
                    && spread[1] >= 0.0
            }
        };
        if ok {
            Ok(self)
        } else {
            Err(format!("the {} baseline does not fit the encoder", self.name()))
        }
    }
}
