//! Outcome rates' slice of training: its settings (`[outcome_rates]`), what it needs (order
//! lines with an outcome to count), the table fitted on the training days and scored on the
//! test days of the checkout protocol, then refitted on every day for serving; its summary,
//! its report section and its file.

use crate::cancellation::{labelled, outcome_to_predict};
use crate::config::{ConfigError, TrainConfig};
use crate::data::Exports;
use crate::data::sales::Sales;
use crate::metrics;
use crate::report::ReportWriter;
use crate::trainer::{
    self, BesideResult, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::cancellation::PredictedOutcome;
use shopml_core::outcome_rates::{
    NAME, Observation, OutcomeRateMetrics, OutcomeRateSections, RateTable,
};

/// `[outcome_rates]`: the intervals' coverage and the lines a product needs for a rate of its
/// own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRateSettings {
    #[serde(default = "ninety_percent")]
    pub interval_level: f64,
    #[serde(default = "twenty")]
    pub min_product_lines: u64,
}

fn ninety_percent() -> f64 {
    0.9
}

fn twenty() -> u64 {
    20
}

impl Settings for OutcomeRateSettings {
    fn check(&self) -> Result<(), String> {
        if !(0.5..1.0).contains(&self.interval_level) || self.min_product_lines == 0 {
            return Err("interval_level in [0.5, 1) and min_product_lines > 0".into());
        }
        Ok(())
    }
}

pub struct OutcomeRateTrainer;

impl Trainer for OutcomeRateTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), ConfigError> {
        trainer::settings::<OutcomeRateSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let checked = trainer::sales_with(exports, &[])
            .and_then(|sales| Ok((sales, outcome_to_predict(sales, config.outcomes.predict)?)));
        let (sales, outcome) = match checked {
            Ok(checked) => checked,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        Ok(Prepared::Job(Box::new(OutcomeRateJob { sales, outcome, settings })))
    }
}

struct OutcomeRateJob<'a> {
    sales: &'a Sales,
    outcome: PredictedOutcome,
    settings: OutcomeRateSettings,
}

/// The rates of the lines `rows` (index, label) of `sales`.
fn fit(
    sales: &Sales,
    rows: &[(usize, bool)],
    outcome: PredictedOutcome,
    s: &OutcomeRateSettings,
) -> RateTable {
    let lines = rows.iter().map(|&(i, outcome)| Observation {
        category: &sales.lines[i].category,
        product: &sales.lines[i].product_id,
        outcome,
    });
    RateTable::fit(outcome, lines, s.interval_level, s.min_product_lines)
}

impl<'a> Job<'a> for OutcomeRateJob<'a> {
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        trainer::staged(run.progress, "outcome rates", |_| {
            let rows = labelled(self.sales, self.outcome);
            let test_from = run.split.cancellation_test_from;
            let (train, test): (Vec<_>, Vec<_>) =
                rows.iter().partition(|(i, _)| self.sales.lines[*i].date < test_from);
            let fitted = fit(self.sales, &train, self.outcome, &self.settings);
            let labels: Vec<bool> = test.iter().map(|(_, y)| *y).collect();
            let rates: Vec<f64> = test
                .iter()
                .map(|(i, _)| {
                    let line = &self.sales.lines[*i];
                    fitted.rate(&line.category, &line.product_id).0.rate
                })
                .collect();
            let constant = vec![fitted.overall.rate; labels.len()];
            let table = fit(self.sales, &rows, self.outcome, &self.settings);
            let figures = OutcomeRateMetrics {
                outcome: self.outcome,
                categories: table.categories.len(),
                products: table.products.len(),
                prior_lines: table.prior_lines,
                test_lines: labels.len(),
                test_log_loss: metrics::log_loss(&labels, &rates),
                test_brier: metrics::brier(&labels, &rates),
                test_roc_auc: metrics::roc_auc(&labels, &rates),
                constant_log_loss: metrics::log_loss(&labels, &constant),
                constant_brier: metrics::brier(&labels, &constant),
            };
            Ok(Box::new(TrainedRates { table, figures }))
        })
    }
}

/// The table served (every day of the export) and the figures of the one fitted on the
/// training days.
pub struct TrainedRates {
    pub table: RateTable,
    pub figures: OutcomeRateMetrics,
}

impl TrainedModel for TrainedRates {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(OutcomeRateSections { outcome_rates: self.figures.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.figures;
        format!(
            "{} categories, {} products; test log-loss {:.4} (constant {:.4}), ROC-AUC {:.4}",
            m.categories, m.products, m.test_log_loss, m.constant_log_loss, m.test_roc_auc
        )
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        let (t, m) = (&self.table, &self.figures);
        let what = match t.outcome {
            PredictedOutcome::Cancellation => "cancelled",
            PredictedOutcome::Return => "returned",
        };
        report.line(format!(
            "### Outcome rates\n\nThe share of each category's lines {what}, pulled towards the overall {:.1}% by a prior worth {:.0} lines, with {:.0}% intervals; products with at least {} lines have their own. Fitted on the training days, each test line's outcome predicted by its rate: log-loss {:.4} against {:.4} for the overall rate, ROC-AUC {:.4}.\n\n| category | lines | {what} | rate | interval |\n|---|---|---|---|---|",
            100.0 * t.overall.rate,
            t.prior_lines,
            100.0 * t.level,
            t.min_product_lines,
            m.test_log_loss,
            m.constant_log_loss,
            m.test_roc_auc,
        ));
        for (category, r) in t.categories_by_rate().into_iter().take(15) {
            report.line(format!(
                "| {category} | {} | {} | {:.1}% | {:.1}–{:.1}% |",
                r.lines,
                r.outcomes,
                100.0 * r.rate,
                100.0 * r.low,
                100.0 * r.high
            ));
        }
        report.line("");
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::outcome_rates::save(writer, &self.table)?;
        Ok(())
    }
}
