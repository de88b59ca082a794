//! The price model's slice of training: its settings (`[price]`), what it needs (the product
//! catalogue), its training (`training.rs`), its summary, its report section and its files.

mod baselines;
mod training;

pub use training::{PriceError, TrainedPrice};

use crate::config::TrainConfig;
use crate::data::Exports;
use crate::data::products::Products;
use crate::report::ReportWriter;
use crate::trainer::{
    self, BesideResult, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::charts;
use shopml_core::price::{NAME, PriceSections};

/// `[price]`: the price model's inputs, network, training and interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSettings {
    pub min_count: usize,
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub dropout: f64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub fixed_epochs: usize,
    pub ensemble_size: usize,
    pub validation_modulo: u32,
    pub validation_slice: u32,
    pub interval_target: f64,
    pub token_dropout: f64,
    pub l2_penalty: f64,
}

impl Settings for PriceSettings {
    fn check(&self) -> Result<(), String> {
        if self.batch_size == 0
            || self.max_epochs == 0
            || self.ensemble_size == 0
            || self.validation_modulo < 2
            || self.validation_slice >= self.validation_modulo
        {
            return Err("batch_size, max_epochs, ensemble_size must be > 0, validation_modulo >= 2 and validation_slice < validation_modulo".into());
        }
        if !(0.0 < self.interval_target && self.interval_target < 1.0) {
            return Err("interval_target must be in (0, 1)".into());
        }
        if !(0.0..1.0).contains(&self.dropout) || !(0.0..1.0).contains(&self.token_dropout) {
            return Err("dropout and token_dropout must be in [0, 1)".into());
        }
        let rates = trainer::positive(self.learning_rate)
            && trainer::non_negative(self.l2_penalty)
            && trainer::non_negative(self.weight_decay);
        if !rates {
            return Err(
                "learning_rate must be > 0; l2_penalty and weight_decay finite and >= 0".into()
            );
        }
        Ok(())
    }
}

impl From<PriceError> for TrainError {
    fn from(e: PriceError) -> Self {
        TrainError::Model(Box::new(e))
    }
}

pub struct PriceTrainer;

impl Trainer for PriceTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), crate::config::ConfigError> {
        trainer::settings::<PriceSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let products = match trainer::export(&exports.products, "product catalogue") {
            Ok(products) => products,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        Ok(Prepared::Job(Box::new(PriceJob { products, settings })))
    }
}

struct PriceJob<'a> {
    products: &'a Products,
    settings: PriceSettings,
}

impl<'a> Job<'a> for PriceJob<'a> {
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        trainer::staged(run.progress, "price", |stage| {
            let mut trained = training::train(
                &self.products.products,
                run.split,
                &self.settings,
                run.config.seed,
                stage,
            )?;
            let currency = &run.config.money.currency;
            trained.metrics.mae_inr = (currency == "INR").then_some(trained.metrics.mae);
            trained.currency = currency.clone();
            Ok(Box::new(trained))
        })
    }
}

impl TrainedModel for TrainedPrice {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(PriceSections { price: self.metrics.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.metrics;
        format!(
            "R²(ln) {:.4}, R² {:.4}, MAE {}, MAPE {:.1}%, P10–P90 coverage {:.2}",
            m.r2_log,
            m.r2,
            shopml_core::money::format_whole(m.mae, &self.currency),
            m.mape_pct,
            m.interval_coverage
        )
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        let m = &self.metrics;
        report.line(format!(
            "### Price\n\nTest: {} products (CRC-32 of the id); the discount is never an input.\n",
            m.test_products
        ));
        report.comparison(
            "price",
            &[
                ("R²(ln)", Some(m.r2_log)),
                ("R²", Some(m.r2)),
                ("MAE", Some(m.mae)),
                ("MAPE", Some(m.mape_pct)),
                ("P10–P90 coverage", Some(m.interval_coverage)),
            ],
            &[],
        );
        if let Some(backtest) = &m.backtest {
            report.backtest(backtest);
        }
        let points: Vec<(f64, f64)> =
            self.test_prices.iter().map(|(a, q)| (a.log10(), q.log10())).collect();
        let currency = report.currency.clone();
        report.chart(
            "price_predicted_vs_actual.svg",
            charts::scatter(
                &format!("Price: predicted vs actual (test, log10 {currency})"),
                ("actual log10(price)", "predicted log10(price)"),
                &points,
            ),
            "predicted vs actual prices",
        );
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::price::save(
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

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, TrainConfig};

    fn load(toml: &str) -> Result<TrainConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("train.toml");
        std::fs::write(&file, toml).unwrap();
        crate::pipeline::load_config(&[file.as_path()])
    }

    #[test]
    fn a_price_validation_slice_outside_its_modulo_is_refused() {
        assert!(load("[price]\nvalidation_slice = 7\n").is_ok());
        let error = load("[price]\nvalidation_slice = 8\n").unwrap_err().to_string();
        assert!(error.contains("validation_slice < validation_modulo"), "{error}");
    }
}
