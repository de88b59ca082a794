//! The insights' slice of training: what they read (the order lines, and the customer file
//! for demographics), their computation (`training.rs`), their summary, their part of the
//! report (`report.rs`) and their file.

mod recommend;
mod report;
mod training;

pub use recommend::recommendations;
pub use training::{compute, holiday_on};

use crate::config::{ConfigError, TrainConfig};
use crate::data::Exports;
use crate::report::ReportWriter;
use crate::trainer::{self, BesideResult, Job, Prepared, Run, TrainError, TrainedModel, Trainer};
use shopml_core::bundle::BundleWriter;
use shopml_core::insights::{Insights, NAME};

pub struct InsightsTrainer;

impl Trainer for InsightsTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The insights have no settings of their own.
    fn check_settings(&self, _config: &TrainConfig) -> Result<(), ConfigError> {
        Ok(())
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        _config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        if let Err(reason) = trainer::sales_with(exports, &[]) {
            return Ok(Prepared::Skip(reason));
        }
        Ok(Prepared::Job(Box::new(InsightsJob { exports })))
    }
}

struct InsightsJob<'a> {
    exports: &'a Exports,
}

impl<'a> Job<'a> for InsightsJob<'a> {
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        trainer::staged(run.progress, "insights", |_| {
            let insights = compute(self.exports, &run.config.money.currency)
                .ok_or_else(|| TrainError::Invalid("insights: no order line".into()))?;
            Ok(Box::new(insights))
        })
    }
}

impl TrainedModel for Insights {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn summary(&self) -> String {
        format!(
            "{} cells, {} products, {} recommendations",
            self.cells.len(),
            self.products.len(),
            self.recommendations.len()
        )
    }

    fn report_business(&self, report: &mut ReportWriter<'_>) {
        report::section(self, report);
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::insights::save(writer, &self)?;
        Ok(())
    }
}
