//! The checkout model's figures in `metrics.json`.

use super::{OrderAggregation, PredictedOutcome};
use crate::served::{Backtest, Figure};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancellationMetrics {
    /// What the model predicts: "cancellation" (at checkout) or "return" (known only after
    /// the fact).
    pub outcome: PredictedOutcome,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    pub log_loss: f64,
    /// The same figures of the constant forecast (training rate), for comparison.
    pub constant_brier: f64,
    pub constant_log_loss: f64,
    pub test_rows: usize,
    pub test_positive_rate: f64,
    pub train_rows: usize,
    pub validation_rows: usize,
    pub validation_roc_auc: f64,
    pub validation_log_loss: f64,
    /// Epoch chosen by early stopping, per ensemble member.
    pub best_epochs: Vec<usize>,
    pub epochs_trained: usize,
    pub positive_weight: f64,
    pub order_aggregation: OrderAggregation,
    /// Order level ("at least one line cancelled", or returned) on the test days.
    pub order_roc_auc: f64,
    pub order_log_loss: f64,
    pub order_brier: f64,
    pub order_pr_auc: f64,
    pub test_orders: usize,
    /// Whether the customer's history before each order is an input (exports with customer
    /// ids).
    pub customer_history: bool,
    /// The model against its baselines (constant rate, category rate) by validation
    /// log-loss: what serves. The test figures above are those of what serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<Backtest>,
}

impl CancellationMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let at = |key: &str| format!("{section}.{key}");
        let mut figures = vec![
            Figure::higher(at("roc_auc"), self.roc_auc),
            Figure::higher(at("pr_auc"), self.pr_auc),
            Figure::lower(at("brier"), self.brier),
            Figure::lower(at("log_loss"), self.log_loss),
            Figure::lower(at("constant_brier"), self.constant_brier),
            Figure::lower(at("constant_log_loss"), self.constant_log_loss),
            Figure::higher(at("validation_roc_auc"), self.validation_roc_auc),
            Figure::lower(at("validation_log_loss"), self.validation_log_loss),
            Figure::higher(at("order_roc_auc"), self.order_roc_auc),
            Figure::higher(at("order_pr_auc"), self.order_pr_auc),
            Figure::lower(at("order_brier"), self.order_brier),
            Figure::lower(at("order_log_loss"), self.order_log_loss),
            Figure::neither(at("test_rows"), self.test_rows as f64),
            Figure::neither(at("test_positive_rate"), self.test_positive_rate),
            Figure::neither(at("test_orders"), self.test_orders as f64),
        ];
        figures.extend(self.backtest.iter().flat_map(|b| b.figures(section)));
        figures
    }
}
