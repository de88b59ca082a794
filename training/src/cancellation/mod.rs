//! The checkout model's slice of training: its settings (`[cancellation]`), what it needs
//! (the order lines, with an outcome to learn), its training (`training.rs`), its summary, its
//! report section and its files.

mod training;

pub use training::{
    CancellationError, TrainedCancellation, customer_histories, customer_table, labelled,
    outcome_to_predict,
};

use crate::config::TrainConfig;
use crate::data::Exports;
use crate::data::sales::Sales;
use crate::report::{ReportWriter, calibration_points, roc_points};
use crate::trainer::{
    self, BesideResult, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::cancellation::{CancellationSections, NAME, PredictedOutcome};
use shopml_core::charts;

/// `[cancellation]`: the classifier's inputs, network and training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancellationSettings {
    pub min_count: usize,
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub dropout: f64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub unknown_dropout: f64,
    pub positive_weight: f64,
    pub refit_on_all_training_days: bool,
    pub ensemble_size: usize,
}

impl Settings for CancellationSettings {
    fn check(&self) -> Result<(), String> {
        if self.batch_size == 0
            || self.max_epochs == 0
            || self.embedding_dim == 0
            || self.hidden_dim == 0
            || self.ensemble_size == 0
        {
            return Err(
                "batch_size, max_epochs, embedding_dim, hidden_dim and ensemble_size must be > 0"
                    .into(),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) || !(0.0..1.0).contains(&self.unknown_dropout) {
            return Err("dropout and unknown_dropout must be in [0, 1)".into());
        }
        let rates = trainer::positive(self.learning_rate)
            && trainer::non_negative(self.positive_weight)
            && trainer::non_negative(self.weight_decay);
        if !rates {
            return Err(
                "learning_rate must be > 0; positive_weight and weight_decay finite and >= 0"
                    .into(),
            );
        }
        Ok(())
    }
}

impl From<CancellationError> for TrainError {
    fn from(e: CancellationError) -> Self {
        TrainError::Model(Box::new(e))
    }
}

pub struct CancellationTrainer;

impl Trainer for CancellationTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), crate::config::ConfigError> {
        trainer::settings::<CancellationSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let sales = match trainer::sales_with(exports, &[]) {
            Ok(sales) => sales,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let outcome = match outcome_to_predict(sales, config.outcomes.predict) {
            Ok(outcome) => outcome,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        Ok(Prepared::Job(Box::new(CancellationJob { sales, outcome, settings })))
    }
}

struct CancellationJob<'a> {
    sales: &'a Sales,
    outcome: PredictedOutcome,
    settings: CancellationSettings,
}

impl<'a> Job<'a> for CancellationJob<'a> {
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        let title = match self.outcome {
            PredictedOutcome::Cancellation => "cancellation",
            PredictedOutcome::Return => "return risk",
        };
        trainer::staged(run.progress, title, |stage| {
            let trained = training::train(
                self.sales,
                self.outcome,
                run.split,
                &self.settings,
                run.config.seed,
                stage,
            )?;
            Ok(Box::new(trained))
        })
    }
}

impl TrainedModel for TrainedCancellation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(CancellationSections { cancellation: self.metrics.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.metrics;
        let served = match &self.baseline {
            Some(baseline) => format!(" (served: the {} baseline)", baseline.name()),
            None => String::new(),
        };
        format!(
            "ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}{served}",
            m.roc_auc, m.pr_auc, m.brier, m.log_loss
        )
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        let m = &self.metrics;
        let (title, outcome) = match m.outcome {
            PredictedOutcome::Cancellation => ("Cancellation risk at checkout", "cancelled"),
            PredictedOutcome::Return => ("Return risk (known only after the fact)", "returned"),
        };
        report.line(format!(
            "### {title}\n\nThe model predicts the {}. Test: the {} order lines ({} orders) dated from the test day on; inputs known at checkout only{}. Order level (an order with a line {outcome}): ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}.\n",
            self.calibration.outcome.describe(),
            m.test_rows,
            m.test_orders,
            if m.customer_history {
                ", the customer's history before each order among them"
            } else {
                ""
            },
            m.order_roc_auc,
            m.order_pr_auc,
            m.order_brier,
            m.order_log_loss,
        ));
        if let Some(backtest) = &m.backtest {
            report.backtest(backtest);
        }
        report.comparison(
            "cancellation",
            &[
                ("ROC-AUC", Some(m.roc_auc)),
                ("PR-AUC", Some(m.pr_auc)),
                ("Brier", Some(m.brier)),
                ("log-loss", Some(m.log_loss)),
            ],
            &[(
                "constant (train rate, computed)",
                vec![Some(0.5), None, Some(m.constant_brier), Some(m.constant_log_loss)],
            )],
        );
        let roc = roc_points(&self.test_labels, &self.test_probabilities);
        report.chart(
            "cancellation_roc.svg",
            charts::xy_lines(
                "Cancellation: ROC curve (test)",
                ("false positive rate", "true positive rate"),
                &[(format!("shopml, AUC {:.3}", m.roc_auc), roc)],
                true,
            ),
            "ROC curve",
        );
        let calibration = calibration_points(&self.test_labels, &self.test_probabilities, 10);
        report.chart(
            "cancellation_calibration.svg",
            charts::xy_lines(
                "Cancellation: calibration (test, 10 bins)",
                ("mean predicted probability", "observed cancellation rate"),
                &[("shopml".into(), calibration)],
                true,
            ),
            "calibration curve",
        );
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::cancellation::save(
            writer,
            self.model,
            &self.model_config,
            &self.encoder,
            &self.calibration,
            &self.reference,
            self.baseline.as_ref(),
        )?;
        Ok(())
    }
}
