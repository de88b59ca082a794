//! The sentiment model's slice of training: its settings (`[sentiment]`), what it needs (the
//! reviews, and the product catalogue for the per-product protocol), its training
//! (`training.rs`; the product-text models beside the other stages when they draw no random
//! numbers), its summary, its report section and its files.

mod training;

pub use training::{
    FittedBeside, ProductTextModels, SentimentError, TrainedSentiment, fit_product_texts,
    product_text_fits, product_texts_train_beside, review_pieces, train,
};

use crate::config::{ConfigError, Split, TrainConfig};
use crate::data::Exports;
use crate::data::products::Products;
use crate::data::reviews::Reviews;
use crate::fit::Abandon;
use crate::progress::Progress;
use crate::report::ReportWriter;
use crate::trainer::{
    self, BesideResult, BesideWork, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::sentiment::{NAME, SentimentSections};

/// `[sentiment]`: the review classifier, and `[sentiment.products]` the product-text model's
/// settings where they differ.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentSettings {
    pub min_count: usize,
    pub max_vocabulary: usize,
    pub max_words: usize,
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
    pub negative_weight: f64,
    pub l2_penalty: f64,
    pub token_dropout: f64,
    pub refit_on_all_training: bool,
    pub use_title: bool,
    pub product_folds: u32,
    /// Settings that the product-text model of the per-product protocol uses in place of the
    /// ones above (a thousand long texts want other training than 30,000 short ones); keys
    /// are this table's. See [`SentimentSettings::for_product_texts`].
    #[serde(default)]
    pub products: std::collections::BTreeMap<String, serde_json::Value>,
}

impl SentimentSettings {
    /// These settings with the `products` overrides applied (an unknown key or a value of the
    /// wrong type is an error naming it).
    pub fn for_product_texts(&self) -> Result<SentimentSettings, ConfigError> {
        let mut settings = serde_json::to_value(SentimentSettings {
            products: Default::default(),
            ..self.clone()
        })
        .map_err(|e| ConfigError::new(format!("sentiment: {e}")))?;
        for (key, value) in &self.products {
            let fields = settings.as_object_mut().expect("settings serialise as a map");
            if key == "products" || !fields.contains_key(key) {
                return Err(ConfigError::new(format!(
                    "sentiment.products: unknown setting '{key}'"
                )));
            }
            fields.insert(key.clone(), value.clone());
            // Checked key by key, so that a value of the wrong type is named.
            serde_json::from_value::<SentimentSettings>(settings.clone())
                .map_err(|e| ConfigError::new(format!("sentiment.products.{key}: {e}")))?;
        }
        serde_json::from_value(settings)
            .map_err(|e| ConfigError::new(format!("sentiment.products: {e}")))
    }

    fn check_table(&self, table: &str) -> Result<(), ConfigError> {
        if self.batch_size == 0
            || self.max_epochs == 0
            || self.ensemble_size == 0
            || self.validation_modulo < 2
            || self.max_words == 0
        {
            return Err(ConfigError::new(format!(
                "{table}: batch_size, max_epochs, ensemble_size, max_words must be > 0 and validation_modulo >= 2"
            )));
        }
        if self.hidden_dim > 0 && self.embedding_dim == 0 {
            return Err(ConfigError::new(format!(
                "{table}: embedding_dim must be > 0 when there is a deep part (hidden_dim > 0)"
            )));
        }
        Ok(())
    }
}

impl Settings for SentimentSettings {
    fn check(&self) -> Result<(), String> {
        self.check_table("sentiment").map_err(|e| e.reason().to_owned())?;
        self.for_product_texts()
            .and_then(|products| products.check_table("sentiment.products"))
            .map_err(|e| e.reason().to_owned())
    }
}

impl From<SentimentError> for TrainError {
    fn from(e: SentimentError) -> Self {
        TrainError::Model(Box::new(e))
    }
}

pub struct SentimentTrainer;

impl Trainer for SentimentTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), ConfigError> {
        trainer::settings::<SentimentSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let reviews = match trainer::export(&exports.reviews, "reviews") {
            Ok(reviews) => reviews,
            Err(reason) => return Ok(Prepared::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        let products = exports.products.as_ref();
        Ok(Prepared::Job(Box::new(SentimentJob { reviews, products, settings })))
    }
}

struct SentimentJob<'a> {
    reviews: &'a Reviews,
    products: Option<&'a Products>,
    settings: SentimentSettings,
}

/// A thread pool for the product-text models beside the stages (with one core per thread,
/// like rayon's global pool): Burn's CPU operations of the stages run on the global pool,
/// where they would wait behind long jobs that the work beside had queued there.
fn pool_beside() -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().thread_name(|i| format!("product-texts-{i}")).build()
}

impl<'a> Job<'a> for SentimentJob<'a> {
    /// The per-product protocol's product-text models, when they draw no random numbers
    /// (see [`product_texts_train_beside`]), on a thread pool of their own.
    fn beside(
        &mut self,
        config: &'a TrainConfig,
        split: &'a Split,
        progress: &Progress,
    ) -> Result<Option<BesideWork<'a>>, TrainError> {
        let Some(products) = self.products else { return Ok(None) };
        if !(config.overlap_stages && product_texts_train_beside(&self.settings)?) {
            return Ok(None);
        }
        let pool = match pool_beside() {
            Ok(pool) => pool,
            Err(e) => {
                progress.log(&format!("the product-text models train in the sentiment stage: no threads for them beside the others ({e})"));
                return Ok(None);
            }
        };
        let settings = self.settings.clone();
        Ok(Some(Box::new(move |abandon: &Abandon, progress: &Progress| {
            let stage = progress.stage_beside("product texts");
            let fitted = pool.install(|| {
                stage.set_length(product_text_fits(&settings)?);
                fit_product_texts(
                    &products.products,
                    split,
                    &settings,
                    config.seed,
                    &stage,
                    abandon,
                )
            });
            match &fitted {
                Ok(_) => stage.finish("fitted for the sentiment stage"),
                Err(e) => stage.finish(e.to_string()),
            };
            Ok(Box::new(fitted?) as Box<dyn std::any::Any + Send>)
        })))
    }

    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        // The review model trains first, while the product-text models may still be training.
        let fitted_beside = beside.map(|wait| -> FittedBeside<'_> {
            Box::new(move || {
                let fitted = wait().map_err(|e| SentimentError::Beside(e.to_string()))?;
                fitted.downcast::<ProductTextModels>().map(|m| *m).map_err(|_| {
                    SentimentError::Beside("the work beside returned another model".into())
                })
            })
        });
        trainer::staged(run.progress, "sentiment", |stage| {
            let trained = train(
                &self.reviews.reviews,
                self.products.map(|p| p.products.as_slice()),
                fitted_beside,
                run.split,
                &self.settings,
                run.config.seed,
                stage,
            )?;
            Ok(Box::new(trained))
        })
    }
}

impl TrainedModel for TrainedSentiment {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(SentimentSections {
            sentiment_reviews: self.review_metrics.clone(),
            sentiment_products: self.product_metrics.clone(),
        })
        .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let r = &self.review_metrics.figures;
        let mut summary = format!(
            "reviews: macro-F1 {:.3}, neg-F1 {:.3}, ROC-AUC {:.4}",
            r.macro_f1, r.neg_f1, r.roc_auc
        );
        if let Some(p) = &self.product_metrics {
            summary += &format!(
                "; products: macro-F1 {:.3}, ROC-AUC {:.4}",
                p.figures.macro_f1, p.figures.roc_auc
            );
        }
        summary
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        report_section(self, report);
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::sentiment::save(
            writer,
            self.model,
            &self.model_config,
            &self.encoder,
            &self.calibration,
            &self.reference,
        )?;
        Ok(())
    }
}

/// The sentiment report section: per review against the text-only read and the published
/// baselines, the confusion matrix, and the per-product protocol.
fn report_section(s: &TrainedSentiment, report: &mut ReportWriter<'_>) {
    let r = &s.review_metrics;
    report.line(
        "### Review sentiment\n\nPer review (title and text; the text-only column scores the same model without titles):\n",
    );
    report.comparison(
        "sentiment, reviews",
        &[
            ("macro-F1", Some(r.figures.macro_f1)),
            ("neg-F1", Some(r.figures.neg_f1)),
            ("ROC-AUC", Some(r.figures.roc_auc)),
            ("accuracy", Some(r.figures.accuracy)),
        ],
        &[(
            "text only",
            vec![
                Some(r.text_only_macro_f1),
                Some(r.text_only_neg_f1),
                Some(r.text_only_roc_auc),
                None,
            ],
        )],
    );
    let confusion = r.figures.confusion;
    let values: Vec<Vec<f64>> =
        confusion.iter().map(|row| row.iter().map(|&v| v as f64).collect()).collect();
    let labels: Vec<Vec<String>> =
        values.iter().map(|row| row.iter().map(|v| format!("{v:.0}")).collect()).collect();
    report.chart(
        "sentiment_confusion.svg",
        shopml_core::charts::heatmap(
            "Review sentiment: confusion matrix (test)",
            &["actual positive".into(), "actual negative".into()],
            &["predicted positive".into(), "predicted negative".into()],
            &values,
            &labels,
        ),
        "confusion matrix",
    );
    if let Some(p) = &s.product_metrics {
        report.line(
            "Per product (a product-text model with its own settings, `[sentiment.products]`, trained on the product split, stacked with the review model's scores of each product's reviews; `text model` is the product model alone, `review model` the served review model applied unchanged):\n",
        );
        report.comparison(
            "sentiment, products",
            &[
                ("macro-F1", Some(p.figures.macro_f1)),
                ("neg-F1", Some(p.figures.neg_f1)),
                ("ROC-AUC", Some(p.figures.roc_auc)),
                ("accuracy", Some(p.figures.accuracy)),
            ],
            &[
                (
                    "text model",
                    vec![Some(p.text_model_macro_f1), None, Some(p.text_model_roc_auc), None],
                ),
                (
                    "review model",
                    vec![Some(p.review_model_macro_f1), None, Some(p.review_model_roc_auc), None],
                ),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;

    fn load(toml: &str) -> Result<TrainConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("train.toml");
        std::fs::write(&file, toml).unwrap();
        crate::pipeline::load_config(&[file.as_path()])
    }

    fn sentiment(config: &TrainConfig) -> SentimentSettings {
        trainer::settings(config, NAME).unwrap()
    }

    #[test]
    fn the_product_text_model_takes_its_overrides_and_the_review_model_keeps_its_settings() {
        let config = load("[sentiment]\nlearning_rate = 0.03\nmax_words = 300\n[sentiment.products]\nlearning_rate = 0.001\n").unwrap();
        let settings = sentiment(&config);
        let products = settings.for_product_texts().unwrap();
        assert_eq!(settings.learning_rate, 0.03);
        assert_eq!(products.learning_rate, 0.001);
        // Keys not overridden follow [sentiment]; the defaults' product overrides stay.
        assert_eq!(products.max_words, 300);
        assert_eq!(
            products.hidden_dim,
            sentiment(&crate::pipeline::default_config()).for_product_texts().unwrap().hidden_dim
        );
        assert!(products.products.is_empty());
    }

    #[test]
    fn a_product_override_that_is_unknown_wrong_or_out_of_range_is_refused_by_name() {
        let error = |toml: &str| load(toml).unwrap_err().to_string();
        assert!(
            error("[sentiment.products]\nlearning_rat = 0.1\n")
                .contains("sentiment.products: unknown setting 'learning_rat'")
        );
        assert!(
            error("[sentiment.products]\nmax_words = \"many\"\n")
                .contains("sentiment.products.max_words: invalid type")
        );
        assert!(
            error("[sentiment.products]\nbatch_size = 0\n")
                .contains("sentiment.products: batch_size")
        );
        assert!(
            error("[sentiment.products]\nhidden_dim = 4\nembedding_dim = 0\n")
                .contains("sentiment.products: embedding_dim must be > 0")
        );
        assert!(error("[sentiment]\nmax_word = 3\n").contains("did you mean `max_words`?"));
        // hidden_dim 0 needs no embeddings: a logistic regression on the bag.
        assert!(load("[sentiment]\nhidden_dim = 0\nembedding_dim = 0\n").is_ok());
    }
}
