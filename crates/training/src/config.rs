//! Training configuration: built-in documented defaults (`config/default.toml`) and an
//! optional TOML file overriding any subset.

use crate::data::read::TextEncoding;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const DEFAULTS_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub models: Vec<String>,
    /// Train the per-product protocol's product-text models and the forecast beside the other
    /// stages (when they draw no random numbers while they train); false trains them in their
    /// stages.
    pub overlap_stages: bool,
    pub data: DataFiles,
    pub columns: Columns,
    pub split: Split,
    pub cancellation: CancellationSettings,
    pub price: PriceSettings,
    pub sentiment: SentimentSettings,
    pub forecast: ForecastSettings,
    pub segments: SegmentSettings,
    pub gates: GateSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataFiles {
    pub sales_file: String,
    pub products_file: String,
    pub customers_file: String,
    pub reviews_file: String,
    pub sales_encoding: TextEncoding,
    pub products_encoding: TextEncoding,
    pub customers_encoding: TextEncoding,
    pub reviews_encoding: TextEncoding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Columns {
    pub sales: SalesColumns,
    pub products: ProductColumns,
    pub customers: CustomerColumns,
    pub reviews: ReviewColumns,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesColumns {
    pub order_id: String,
    pub date: String,
    pub date_format: String,
    pub status: String,
    pub fulfilment: String,
    pub sales_channel: String,
    pub ship_service_level: String,
    pub style: String,
    pub sku: String,
    pub category: String,
    pub size: String,
    pub asin: String,
    pub amount: String,
    pub ship_city: String,
    pub ship_state: String,
    pub ship_postal_code: String,
    pub b2b: String,
    pub cancelled_status: String,
    pub pending_status_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductColumns {
    pub product_id: String,
    pub product_name: String,
    pub category: String,
    pub discounted_price: String,
    pub actual_price: String,
    pub discount_percentage: String,
    pub rating: String,
    pub rating_count: String,
    pub review_title: String,
    pub review_content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerColumns {
    pub user_id: String,
    pub product_id: String,
    pub gender: String,
    pub age_group: String,
    pub marital_status: String,
    pub state: String,
    pub zone: String,
    pub occupation: String,
    pub product_category: String,
    pub orders: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewColumns {
    pub product: String,
    pub rating: String,
    pub text: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Split {
    pub cancellation_test_from: chrono::NaiveDate,
    pub cancellation_validation_days: i64,
    pub product_test_modulo: u32,
    pub review_test_modulo: u32,
    pub forecast_first_day: chrono::NaiveDate,
    pub forecast_origin: chrono::NaiveDate,
    pub forecast_test_days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
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
        .map_err(|e| ConfigError(format!("sentiment: {e}")))?;
        for (key, value) in &self.products {
            let fields = settings.as_object_mut().expect("settings serialise as a map");
            if key == "products" || !fields.contains_key(key) {
                return Err(ConfigError(format!("sentiment.products: unknown setting '{key}'")));
            }
            fields.insert(key.clone(), value.clone());
            // Checked key by key, so that a value of the wrong type is named.
            serde_json::from_value::<SentimentSettings>(settings.clone())
                .map_err(|e| ConfigError(format!("sentiment.products.{key}: {e}")))?;
        }
        serde_json::from_value(settings)
            .map_err(|e| ConfigError(format!("sentiment.products: {e}")))
    }

    fn check(&self, table: &str) -> Result<(), ConfigError> {
        if self.batch_size == 0
            || self.max_epochs == 0
            || self.ensemble_size == 0
            || self.validation_modulo < 2
            || self.max_words == 0
        {
            return Err(ConfigError(format!(
                "{table}: batch_size, max_epochs, ensemble_size, max_words must be > 0 and validation_modulo >= 2"
            )));
        }
        if self.hidden_dim > 0 && self.embedding_dim == 0 {
            return Err(ConfigError(format!(
                "{table}: embedding_dim must be > 0 when there is a deep part (hidden_dim > 0)"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForecastSettings {
    pub window_days: usize,
    pub horizon_days: usize,
    pub validation_days: usize,
    pub series_embedding_dim: usize,
    pub hidden_dim: usize,
    pub dropout: f64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub ensemble_size: usize,
    pub min_category_daily_lines: f64,
    pub min_region_daily_lines: f64,
    pub protocol_series: Vec<String>,
    pub fixed_epochs: usize,
    pub l2_penalty: f64,
    pub partial_last_day_ratio: f64,
    pub interval_target: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentSettings {
    pub k_min: usize,
    pub k_max: usize,
    pub restarts: usize,
    pub max_iterations: usize,
    pub region_min_lines: usize,
    pub rules_min_orders: usize,
    pub rules_min_confidence: f64,
    pub rules_min_lift: f64,
    pub rules_per_sku: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateSettings {
    pub limits: std::collections::BTreeMap<String, Limit>,
    pub compare: Vec<String>,
    pub tolerance: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Limit {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
#[error("training configuration: {0}")]
pub struct ConfigError(String);

impl TrainConfig {
    pub fn defaults() -> Self {
        Self::load(None).expect("built-in defaults are valid")
    }

    /// Defaults overridden by `file`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        use config::{Config, File, FileFormat};
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!("{}: no such file", file.display())));
            }
            builder = builder.add_source(File::from(file).format(FileFormat::Toml));
        }
        let config: TrainConfig =
            builder.build().and_then(|c| c.try_deserialize()).map_err(|e| {
                ConfigError(format!(
                    "{}{e}",
                    file.map(|f| format!("{}: ", f.display())).unwrap_or_default()
                ))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Whether `model` is to be trained.
    pub fn trains(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let known: Vec<&str> = crate::trainers::TRAINERS.iter().map(|t| t.name()).collect();
        if let Some(unknown) = self.models.iter().find(|m| !known.contains(&m.as_str())) {
            return Err(ConfigError(format!(
                "models: unknown model '{unknown}' (known: {})",
                known.join(", ")
            )));
        }
        let c = &self.cancellation;
        if c.batch_size == 0
            || c.max_epochs == 0
            || c.embedding_dim == 0
            || c.hidden_dim == 0
            || c.ensemble_size == 0
        {
            return Err(ConfigError(
                "cancellation: batch_size, max_epochs, embedding_dim, hidden_dim and ensemble_size must be > 0".into(),
            ));
        }
        if !(0.0..1.0).contains(&c.dropout) || !(0.0..1.0).contains(&c.unknown_dropout) {
            return Err(ConfigError(
                "cancellation: dropout and unknown_dropout must be in [0, 1)".into(),
            ));
        }
        let p = &self.price;
        if p.batch_size == 0
            || p.max_epochs == 0
            || p.ensemble_size == 0
            || p.validation_modulo < 2
            || p.validation_slice >= p.validation_modulo
        {
            return Err(ConfigError(
                "price: batch_size, max_epochs, ensemble_size must be > 0, validation_modulo >= 2 and validation_slice < validation_modulo".into(),
            ));
        }
        if !(0.0 < p.interval_target && p.interval_target < 1.0) {
            return Err(ConfigError("price: interval_target must be in (0, 1)".into()));
        }
        self.sentiment.check("sentiment")?;
        self.sentiment.for_product_texts()?.check("sentiment.products")?;
        let f = &self.forecast;
        if f.window_days < 7
            || f.horizon_days == 0
            || f.validation_days == 0
            || f.ensemble_size == 0
            || f.batch_size == 0
        {
            return Err(ConfigError(
                "forecast: window_days >= 7; horizon_days, validation_days, ensemble_size, batch_size > 0".into(),
            ));
        }
        let g = &self.segments;
        if g.k_min < 2 || g.k_max < g.k_min || g.restarts == 0 || g.max_iterations == 0 {
            return Err(ConfigError(
                "segments: 2 <= k_min <= k_max; restarts and max_iterations > 0".into(),
            ));
        }
        if let Some((name, _)) =
            self.gates.limits.iter().find(|(_, l)| l.min.is_none() && l.max.is_none())
        {
            return Err(ConfigError(format!("gates.limits.\"{name}\": give min, max or both")));
        }
        if !(0.0..1.0).contains(&self.gates.tolerance) {
            return Err(ConfigError("gates.tolerance must be in [0, 1)".into()));
        }
        if self.split.product_test_modulo < 2 || self.split.review_test_modulo < 2 {
            return Err(ConfigError("split: test modulos must be >= 2".into()));
        }
        if self.split.forecast_origin <= self.split.forecast_first_day
            || self.split.forecast_test_days <= 0
        {
            return Err(ConfigError(
                "split: forecast_origin must follow forecast_first_day, forecast_test_days > 0"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<TrainConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("train.toml");
        std::fs::write(&file, toml).unwrap();
        TrainConfig::load(Some(&file))
    }

    #[test]
    fn the_product_text_model_takes_its_overrides_and_the_review_model_keeps_its_settings() {
        let config = load("[sentiment]\nlearning_rate = 0.03\nmax_words = 300\n[sentiment.products]\nlearning_rate = 0.001\n").unwrap();
        let products = config.sentiment.for_product_texts().unwrap();
        assert_eq!(config.sentiment.learning_rate, 0.03);
        assert_eq!(products.learning_rate, 0.001);
        // Keys not overridden follow [sentiment]; the defaults' product overrides stay.
        assert_eq!(products.max_words, 300);
        assert_eq!(
            products.hidden_dim,
            TrainConfig::defaults().sentiment.for_product_texts().unwrap().hidden_dim
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
        // hidden_dim 0 needs no embeddings: a logistic regression on the bag.
        assert!(load("[sentiment]\nhidden_dim = 0\nembedding_dim = 0\n").is_ok());
    }

    #[test]
    fn a_price_validation_slice_outside_its_modulo_is_refused() {
        assert!(load("[price]\nvalidation_slice = 7\n").is_ok());
        let error = load("[price]\nvalidation_slice = 8\n").unwrap_err().to_string();
        assert!(error.contains("validation_slice < validation_modulo"), "{error}");
    }
}
