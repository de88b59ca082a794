//! The checkout model's simple baselines, served in its place when one of them scored better
//! on the export's own validation days: every line at the training rate, or each line at its
//! product's (else its category's) rate.

use super::features::CheckoutLine;
use super::inference::Reason;
use crate::outcome_rates::{RateLevel, RateTable};
use serde::{Deserialize, Serialize};

/// The names of the candidates of the checkout model's backtest.
pub const MODEL: &str = "model";
pub const CONSTANT: &str = "constant rate";
pub const CATEGORY_RATE: &str = "category rate";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckoutBaseline {
    /// Every line at the training days' rate.
    Constant { rate: f64 },
    /// Each line at its product's rate, else its category's, else the overall one.
    CategoryRate { table: RateTable },
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

impl CheckoutBaseline {
    /// Its name as a candidate of the backtest.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Constant { .. } => CONSTANT,
            Self::CategoryRate { .. } => CATEGORY_RATE,
        }
    }

    /// The probability of a line, and why (its product's or category's rate against the
    /// overall one).
    pub fn line(&self, line: &CheckoutLine<'_>, top_reasons: usize) -> (f64, Vec<Reason>) {
        match self {
            Self::Constant { rate } => (*rate, Vec::new()),
            Self::CategoryRate { table } => {
                let (rate, level) = table.rate(line.category, line.product_id);
                let (feature, value) = match level {
                    RateLevel::Product => ("product_id", line.product_id),
                    RateLevel::Category => ("category", line.category),
                    RateLevel::Overall => return (rate.rate, Vec::new()),
                };
                let reasons = (top_reasons > 0)
                    .then(|| Reason {
                        feature: feature.to_owned(),
                        value: value.to_owned(),
                        logit_effect: logit(rate.rate) - logit(table.overall.rate),
                    })
                    .into_iter()
                    .collect();
                (rate.rate, reasons)
            }
        }
    }

    /// Checks a baseline read from a bundle.
    pub fn validated(self) -> Result<Self, String> {
        match self {
            Self::Constant { rate } if (0.0..=1.0).contains(&rate) => Ok(self),
            Self::Constant { rate } => Err(format!("a constant rate of {rate}")),
            Self::CategoryRate { table } => Ok(Self::CategoryRate { table: table.validated()? }),
        }
    }

    /// The probability of `line` alone.
    pub fn probability(&self, line: &CheckoutLine<'_>) -> f64 {
        self.line(line, 0).0
    }
}
