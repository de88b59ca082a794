//! The one list of trainers. Each declares the exports it needs, trains its model into the
//! run's typed results and figures, and writes its model into the bundle; the pipeline only
//! iterates [`TRAINERS`]. Adding a model here is one `Trainer` and one line in the list.

use crate::cancellation::{self, CancellationMetrics, TrainedCancellation};
use crate::config::{Split, TrainConfig};
use crate::data::Exports;
use crate::data::clean::CleaningReport;
use crate::data::sales::SalesField;
use crate::fit::Abandon;
use crate::forecast::{self, ForecastMetrics, TrainedForecast};
use crate::pipeline::TrainError;
use crate::price::{self, PriceMetrics, TrainedPrice};
use crate::progress::Progress;
use crate::segments::{self, SegmentMetrics, TrainedSegments};
use crate::sentiment::{self, ProductMetrics, ReviewMetrics, TrainedSentiment};
use serde::Serialize;
use shopml_core::bundle::BundleWriter;
use std::thread::ScopedJoinHandle;

/// The trainers, in the order their stages run (the CPU backend has one random generator per
/// process, so the order is part of what makes a run reproducible).
pub const TRAINERS: &[&dyn Trainer] = &[
    &CancellationTrainer,
    &PriceTrainer,
    &ForecastTrainer,
    &SentimentTrainer,
    &SegmentsTrainer,
    &CustomerValueTrainer,
    &InsightsTrainer,
];

/// Why a trainer cannot train on `exports`: the export or field it lacks.
fn lacking(exports: &Exports, export: Input, fields: &[SalesField]) -> Option<String> {
    let present = match export {
        Input::Sales => exports.sales.is_some(),
        Input::Products => exports.products.is_some(),
        Input::Reviews => exports.reviews.is_some(),
        Input::Customers => exports.customers.is_some(),
    };
    if !present {
        return Some(format!("no {} export", export.name()));
    }
    let sales = exports.sales.as_ref()?;
    let missing: Vec<&str> = fields.iter().filter(|f| !sales.has(**f)).map(|f| f.name()).collect();
    (!missing.is_empty()).then(|| format!("the order lines have no {}", missing.join(", ")))
}

/// An export a trainer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Sales,
    Products,
    Reviews,
    Customers,
}

impl Input {
    fn name(self) -> &'static str {
        match self {
            Input::Sales => "order-line (sales)",
            Input::Products => "product catalogue",
            Input::Reviews => "reviews",
            Input::Customers => "customers",
        }
    }
}

/// What a run trained.
#[derive(Default)]
pub struct TrainedModels {
    pub cancellation: Option<TrainedCancellation>,
    pub price: Option<TrainedPrice>,
    pub sentiment: Option<TrainedSentiment>,
    pub forecast: Option<TrainedForecast>,
    pub segments: Option<TrainedSegments>,
    pub customer_value: Option<crate::customer_value::TrainedCustomerValue>,
    pub insights: Option<shopml_core::insights::Insights>,
}

/// The figures of a run: metrics.json.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainingMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment_reviews: Option<ReviewMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment_products: Option<ProductMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<SegmentMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_value: Option<crate::customer_value::CustomerValueMetrics>,
    /// What cleaning did to each export.
    pub data_quality: Vec<CleaningReport>,
    /// Models not trained, and why.
    pub skipped: Vec<crate::pipeline::Skipped>,
    /// The protocol the figures follow (dates derived from the export included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// ISO 4217 code of every money figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl TrainingMetrics {
    /// The figures of what a run trained on `exports` (each trained model keeps its own).
    pub fn of(models: &TrainedModels, exports: &Exports) -> Self {
        Self {
            cancellation: models.cancellation.as_ref().map(|c| c.metrics.clone()),
            price: models.price.as_ref().map(|p| p.metrics.clone()),
            sentiment_reviews: models.sentiment.as_ref().map(|s| s.review_metrics.clone()),
            sentiment_products: models.sentiment.as_ref().and_then(|s| s.product_metrics.clone()),
            forecast: models.forecast.as_ref().map(|f| f.metrics.clone()),
            segments: models.segments.as_ref().map(|s| s.metrics.clone()),
            customer_value: models.customer_value.as_ref().map(|c| c.metrics.clone()),
            data_quality: exports.reports().into_iter().cloned().collect(),
            ..Default::default()
        }
    }

    /// metrics.json as a JSON value (keys sorted, as written), for figures looked up by the
    /// dotted paths of the quality gates and the published baselines.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metrics serialise")
    }
}

/// What trains on threads of its own beside the stages (see `pipeline::train_models`).
#[derive(Default)]
pub struct Beside<'scope> {
    /// The product-text models (sentiment waits for them).
    pub product_texts: Option<
        ScopedJoinHandle<'scope, Result<sentiment::ProductTextModels, sentiment::SentimentError>>,
    >,
    /// The whole forecast stage (waited for when every stage is done).
    pub forecast:
        Option<ScopedJoinHandle<'scope, Result<TrainedForecast, forecast::ForecastError>>>,
}

/// The result of a thread beside the stages (its panic goes on here).
pub fn join<T>(thread: ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A run in progress: its inputs, what trains beside, and what has been trained so far.
pub struct Run<'r, 'scope> {
    pub exports: &'r Exports,
    pub config: &'r TrainConfig,
    pub split: &'r Split,
    pub progress: &'r Progress,
    pub beside: Beside<'scope>,
    pub models: TrainedModels,
}

pub trait Trainer: Sync {
    /// The model's name: in the bundle, and in the configuration's `models` list.
    fn name(&self) -> &'static str;
    /// Why it cannot train on `exports` (an export or field it needs is absent); the model is
    /// then skipped, and the report and GetModelInfo say why.
    fn skip_reason(&self, exports: &Exports, config: &TrainConfig) -> Option<String>;
    /// Trains into `run.models`, as a stage of `run.progress`.
    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError>;
    /// Once every trainer ran: collects what trained beside the stages.
    fn finish(&self, _run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        Ok(())
    }
    /// Writes the trained model, if any, into the bundle.
    fn save(
        &self,
        models: &mut TrainedModels,
        config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError>;
}

struct CancellationTrainer;

impl Trainer for CancellationTrainer {
    fn name(&self) -> &'static str {
        shopml_core::cancellation::NAME
    }

    fn skip_reason(&self, exports: &Exports, config: &TrainConfig) -> Option<String> {
        if let Some(reason) = lacking(exports, Input::Sales, &[]) {
            return Some(reason);
        }
        let sales = exports.sales.as_ref()?;
        cancellation::outcome_to_predict(sales, &config.outcomes.predict).err()
    }

    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let (sales, config) = (run.exports.sales.as_ref().expect("needed"), run.config);
        let outcome = cancellation::outcome_to_predict(sales, &config.outcomes.predict)
            .map_err(TrainError::Invalid)?;
        let stage = run.progress.stage(match outcome {
            shopml_core::cancellation::PredictedOutcome::Cancellation => "cancellation",
            shopml_core::cancellation::PredictedOutcome::Return => "return risk",
        });
        let trained = cancellation::train(
            sales,
            outcome,
            run.split,
            &config.cancellation,
            config.seed,
            &stage,
        )?;
        let m = &trained.metrics;
        stage.finish(format!(
            "ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}",
            m.roc_auc, m.pr_auc, m.brier, m.log_loss
        ));
        run.models.cancellation = Some(trained);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        _config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(c) = models.cancellation.take() {
            shopml_core::cancellation::save(
                writer,
                c.model,
                &c.model_config,
                &c.encoder,
                &c.calibration,
                &c.reference,
            )?;
        }
        Ok(())
    }
}

struct PriceTrainer;

impl Trainer for PriceTrainer {
    fn name(&self) -> &'static str {
        shopml_core::price::NAME
    }

    fn skip_reason(&self, exports: &Exports, _config: &TrainConfig) -> Option<String> {
        lacking(exports, Input::Products, &[])
    }

    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let (products, config) = (run.exports.products.as_ref().expect("needed"), run.config);
        let stage = run.progress.stage("price");
        let mut trained =
            price::train(&products.products, run.split, &config.price, config.seed, &stage)?;
        let currency = &config.money.currency;
        let m = &mut trained.metrics;
        m.mae_inr = (currency == "INR").then_some(m.mae);
        stage.finish(format!(
            "R²(ln) {:.4}, R² {:.4}, MAE {}, MAPE {:.1}%, P10–P90 coverage {:.2}",
            m.r2_log,
            m.r2,
            shopml_core::money::format_whole(m.mae, currency),
            m.mape_pct,
            m.interval_coverage
        ));
        run.models.price = Some(trained);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        _config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(p) = models.price.take() {
            shopml_core::price::save(
                writer,
                p.model,
                &p.model_config,
                &p.encoder,
                &p.calibration,
                &p.reference,
            )?;
        }
        Ok(())
    }
}

struct ForecastTrainer;

pub fn forecast_summary(m: &ForecastMetrics) -> String {
    format!(
        "mean MASE {:.3}, WAPE {:.3}, sMAPE {:.1}, 80% coverage {:.2}, MSIS {:.2} ({} series)",
        m.mase_mean, m.wape_mean, m.smape_mean, m.coverage80, m.msis80_mean, m.series_trained
    )
}

impl Trainer for ForecastTrainer {
    fn name(&self) -> &'static str {
        shopml_core::forecast::NAME
    }

    fn skip_reason(&self, exports: &Exports, _config: &TrainConfig) -> Option<String> {
        lacking(exports, Input::Sales, &[])
    }

    /// Trains here unless it already trains beside the stages.
    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        if run.beside.forecast.is_some() {
            return Ok(());
        }
        let (sales, config) = (run.exports.sales.as_ref().expect("needed"), run.config);
        let stage = run.progress.stage("forecast");
        let prepared = forecast::prepare(sales, run.split, &config.forecast)?;
        let trained = forecast::train(
            prepared,
            run.split,
            &config.forecast,
            config.seed,
            None,
            &stage,
            &Abandon::default(),
        )?;
        stage.finish(forecast_summary(&trained.metrics));
        run.models.forecast = Some(trained);
        Ok(())
    }

    fn finish(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        if let Some(thread) = run.beside.forecast.take() {
            let trained = join(thread)?;
            run.models.forecast = Some(trained);
        }
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        _config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(f) = models.forecast.take() {
            shopml_core::forecast::save(
                writer,
                f.model,
                &f.model_config,
                &f.encoder,
                &f.calibration,
            )?;
        }
        Ok(())
    }
}

struct SentimentTrainer;

impl Trainer for SentimentTrainer {
    fn name(&self) -> &'static str {
        shopml_core::sentiment::NAME
    }

    fn skip_reason(&self, exports: &Exports, _config: &TrainConfig) -> Option<String> {
        lacking(exports, Input::Reviews, &[])
    }

    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let (reviews, config) = (run.exports.reviews.as_ref().expect("needed"), run.config);
        let stage = run.progress.stage("sentiment");
        let products = run.exports.products.as_ref().map(|p| p.products.as_slice());
        // The review model trains first, while the product-text models may still be training.
        let fitted_beside = run
            .beside
            .product_texts
            .take()
            .map(|thread| -> sentiment::FittedBeside<'_> { Box::new(move || join(thread)) });
        let trained = sentiment::train(
            &reviews.reviews,
            products,
            fitted_beside,
            run.split,
            &config.sentiment,
            config.seed,
            &stage,
        )?;
        let r = &trained.review_metrics.figures;
        let mut summary = format!(
            "reviews: macro-F1 {:.3}, neg-F1 {:.3}, ROC-AUC {:.4}",
            r.macro_f1, r.neg_f1, r.roc_auc
        );
        if let Some(p) = &trained.product_metrics {
            summary += &format!(
                "; products: macro-F1 {:.3}, ROC-AUC {:.4}",
                p.figures.macro_f1, p.figures.roc_auc
            );
        }
        stage.finish(summary);
        run.models.sentiment = Some(trained);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        _config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(s) = models.sentiment.take() {
            shopml_core::sentiment::save(
                writer,
                s.model,
                &s.model_config,
                &s.encoder,
                &s.calibration,
                &s.reference,
            )?;
        }
        Ok(())
    }
}

struct SegmentsTrainer;

impl Trainer for SegmentsTrainer {
    fn name(&self) -> &'static str {
        shopml_core::segments::NAME
    }

    fn skip_reason(&self, _exports: &Exports, _config: &TrainConfig) -> Option<String> {
        None
    }

    /// Segments use the sentiment model, when one was trained, to score product reviews.
    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let (exports, config) = (run.exports, run.config);
        let stage = run.progress.stage("segments");
        let predictor = run.models.sentiment.as_ref().map(|s| {
            shopml_core::sentiment::SentimentPredictor::new(
                s.encoder.clone(),
                s.model.clone(),
                s.calibration.clone(),
            )
        });
        let inputs = segments::SegmentInputs {
            products: exports.products.as_ref().map(|p| p.products.as_slice()),
            purchases: exports.customers.as_ref().map(|c| c.purchases.as_slice()),
            sales: exports.sales.as_ref(),
            sentiment: predictor.as_ref(),
            currency: &config.money.currency,
        };
        let trained = segments::train(inputs, &config.segments, config.seed, &stage);
        let summary: Vec<String> = [
            ("products", &trained.metrics.products),
            ("customers", &trained.metrics.customers),
            ("regions", &trained.metrics.regions),
        ]
        .iter()
        .filter_map(|(name, m)| {
            m.as_ref().map(|m| format!("{name}: k = {}, silhouette {:.3}", m.k, m.silhouette))
        })
        .collect();
        stage.finish(summary.join("; "));
        run.models.segments = Some(trained);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(s) = models.segments.take() {
            shopml_core::segments::save(
                writer,
                &s.sets,
                &s.bought_together,
                serde_json::to_value(&config.segments).expect("config serialises"),
            )?;
        }
        Ok(())
    }
}

struct CustomerValueTrainer;

impl Trainer for CustomerValueTrainer {
    fn name(&self) -> &'static str {
        shopml_core::customer_value::NAME
    }

    fn skip_reason(&self, exports: &Exports, _config: &TrainConfig) -> Option<String> {
        lacking(exports, Input::Sales, &[SalesField::CustomerId])
    }

    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let (sales, config) = (run.exports.sales.as_ref().expect("needed"), run.config);
        let stage = run.progress.stage("customer value");
        let trained = crate::customer_value::train(
            sales,
            run.split,
            &config.customer_value,
            &config.money.currency,
            &stage,
        )?;
        let m = &trained.metrics;
        stage.finish(format!(
            "{} customers; {:?} holdout MAE {:.4}, total {:.0} vs {:.0} ({:+.1}%)",
            m.customers,
            m.served,
            m.served_holdout.mae,
            m.served_holdout.predicted_total,
            m.served_holdout.actual_total,
            100.0 * m.served_holdout.total_error
        ));
        run.models.customer_value = Some(trained);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(c) = models.customer_value.take() {
            shopml_core::customer_value::save(
                writer,
                &c.model,
                &c.customers,
                serde_json::to_value(&config.customer_value).expect("config serialises"),
            )?;
        }
        Ok(())
    }
}

struct InsightsTrainer;

impl Trainer for InsightsTrainer {
    fn name(&self) -> &'static str {
        shopml_core::insights::NAME
    }

    fn skip_reason(&self, exports: &Exports, _config: &TrainConfig) -> Option<String> {
        lacking(exports, Input::Sales, &[])
    }

    fn train(&self, run: &mut Run<'_, '_>) -> Result<(), TrainError> {
        let stage = run.progress.stage("insights");
        let insights = crate::insights::compute(run.exports, &run.config.money.currency)
            .ok_or_else(|| TrainError::Invalid("insights: no order line".into()))?;
        stage.finish(format!(
            "{} cells, {} products, {} recommendations",
            insights.cells.len(),
            insights.products.len(),
            insights.recommendations.len()
        ));
        run.models.insights = Some(insights);
        Ok(())
    }

    fn save(
        &self,
        models: &mut TrainedModels,
        _config: &TrainConfig,
        writer: &mut BundleWriter,
    ) -> Result<(), TrainError> {
        if let Some(insights) = models.insights.take() {
            shopml_core::insights::save(writer, &insights)?;
        }
        Ok(())
    }
}
