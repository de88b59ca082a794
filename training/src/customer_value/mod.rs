//! Customer value's slice of training: its settings (`[customer_value]`), what it needs (order
//! lines with customer ids), the probabilistic models and their protocol (`training.rs`,
//! `likelihood.rs`), its summary, its report section (`report.rs`) and its files.

mod churn;
pub mod likelihood;
mod report;
mod training;

pub use training::{
    CustomerValueError, TrainedCustomerValue, fit_purchases, fit_spend, purchase_days, train,
};

use crate::config::{ConfigError, TrainConfig};
use crate::data::Exports;
use crate::data::sales::{Sales, SalesField};
use crate::report::ReportWriter;
use crate::trainer::{
    self, BesideResult, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::customer_value::{CustomerValueSections, NAME};

/// `[customer_value]`: the horizon of expected purchases and lifetime value, the discount
/// rate, and the covariates the BG/NBD test reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerValueSettings {
    #[serde(default = "a_year")]
    pub horizon_days: u32,
    /// Annual discount rate of the lifetime value (0.10 = 10% a year).
    #[serde(default = "ten_percent")]
    pub annual_discount_rate: f64,
    /// Levels of each covariate (region, channel, category of the first purchase) with a
    /// coefficient of their own, besides the most frequent one.
    #[serde(default = "four")]
    pub covariate_levels: usize,
}

fn a_year() -> u32 {
    365
}

fn ten_percent() -> f64 {
    0.10
}

fn four() -> usize {
    4
}

impl Settings for CustomerValueSettings {
    fn check(&self) -> Result<(), String> {
        if self.horizon_days == 0
            || self.horizon_days > 3660
            || !(0.0..1.0).contains(&self.annual_discount_rate)
        {
            return Err("horizon_days in 1..=3660 and annual_discount_rate in [0, 1)".into());
        }
        if self.covariate_levels > 50 {
            return Err("covariate_levels <= 50".into());
        }
        Ok(())
    }
}

impl From<CustomerValueError> for TrainError {
    fn from(e: CustomerValueError) -> Self {
        TrainError::Model(Box::new(e))
    }
}

pub struct CustomerValueTrainer;

impl Trainer for CustomerValueTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), ConfigError> {
        trainer::settings::<CustomerValueSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let sales = match trainer::sales_with(exports, &[SalesField::CustomerId]) {
            Ok(sales) => sales,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        Ok(Prepared::Job(Box::new(CustomerValueJob { sales, settings })))
    }
}

struct CustomerValueJob<'a> {
    sales: &'a Sales,
    settings: CustomerValueSettings,
}

impl<'a> Job<'a> for CustomerValueJob<'a> {
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        trainer::staged(run.progress, "customer value", |stage| {
            let trained =
                train(self.sales, run.split, &self.settings, &run.config.money.currency, stage)?;
            Ok(Box::new(trained))
        })
    }
}

impl TrainedModel for TrainedCustomerValue {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(CustomerValueSections { customer_value: self.metrics.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.metrics;
        format!(
            "{} customers; {:?} holdout MAE {:.4}, total {:.0} vs {:.0} ({:+.1}%)",
            m.customers,
            m.served,
            m.served_holdout.mae,
            m.served_holdout.predicted_total,
            m.served_holdout.actual_total,
            100.0 * m.served_holdout.total_error
        )
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        report::section(self, report);
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::customer_value::save(
            writer,
            &self.model,
            &self.customers,
            serde_json::to_value(&self.settings).expect("settings serialise"),
        )?;
        Ok(())
    }
}
