//! The price model's figures in `metrics.json`.

use crate::served::{Backtest, Figure};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceMetrics {
    pub r2_log: f64,
    pub r2: f64,
    /// Mean absolute error in the export's currency.
    pub mae: f64,
    /// The same in rupees, under the protocol's name, when the currency is INR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae_inr: Option<f64>,
    pub mape_pct: f64,
    /// Share of test prices inside the predicted P10–P90 range.
    pub interval_coverage: f64,
    pub test_products: usize,
    pub train_products: usize,
    pub validation_products: usize,
    pub best_epochs: Vec<usize>,
    pub interval_scale: f64,
    /// R² of ln(price) and MAPE on the validation products, by the members trained without
    /// them (unbiased with `fixed_epochs`; a little optimistic when early stopping watched
    /// them): what choices of inputs and settings are compared on, never the test products.
    pub validation_r2_log: f64,
    pub validation_mape_pct: f64,
    /// The model against its baselines (category median, ridge) by R² of ln(price) on the
    /// validation products: what serves. The test figures above are those of what serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<Backtest>,
}

impl PriceMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let at = |key: &str| format!("{section}.{key}");
        let mut figures = vec![
            Figure::higher(at("r2_log"), self.r2_log),
            Figure::higher(at("r2"), self.r2),
            Figure::lower(at("mae"), self.mae),
            Figure::lower(at("mape_pct"), self.mape_pct),
            Figure::neither(at("interval_coverage"), self.interval_coverage),
            Figure::higher(at("validation_r2_log"), self.validation_r2_log),
            Figure::lower(at("validation_mape_pct"), self.validation_mape_pct),
            Figure::neither(at("test_products"), self.test_products as f64),
        ];
        if let Some(mae) = self.mae_inr {
            figures.push(Figure::lower(at("mae_inr"), mae));
        }
        figures.extend(self.backtest.iter().flat_map(|b| b.figures(section)));
        figures
    }
}
