//! Review sentiment (`../shared/EVALUATION.md` §3).

pub mod features;
pub mod inference;
pub mod metrics;
pub mod model;

use crate::served::{Figure, ServedModel};
pub use metrics::{ProductMetrics, ReviewMetrics, SentimentMetrics};

pub use features::{EncodedText, SentimentEncoder};
pub use inference::{SentimentCalibration, SentimentPredictor, SentimentResult};
pub use model::{SentimentModel, SentimentModelConfig, SentimentNet, ServingSentimentNet};

use crate::bundle::{BundleError, BundleWriter, ModelFiles};
use burn::tensor::Device;
use std::path::Path;

/// The model's name in a bundle's manifest.
pub const NAME: &str = "sentiment";

/// The reference distribution of the model's score (optional: older bundles have none).
pub const REFERENCE_FILE: &str = "sentiment/reference.json";

pub const FILES: ModelFiles = ModelFiles {
    name: NAME,
    record: "sentiment/model.bpk",
    config: "sentiment/model_config.json",
    encoder: "sentiment/encoder.json",
    calibration: "sentiment/calibration.json",
};

/// Writes the model into a bundle, with the reference distribution of its score (for the
/// server's drift figures).
pub fn save(
    writer: &mut BundleWriter,
    model: SentimentModel,
    config: &SentimentModelConfig,
    encoder: &SentimentEncoder,
    calibration: &SentimentCalibration,
    reference: &crate::drift::ScoreReference,
) -> Result<(), BundleError> {
    FILES.save(writer, model, config, encoder, calibration)?;
    crate::drift::save_score_reference(writer, NAME, REFERENCE_FILE, reference)
}

pub fn load(dir: &Path, device: &Device) -> Result<SentimentPredictor, BundleError> {
    let (config, encoder, calibration): (
        SentimentModelConfig,
        SentimentEncoder,
        SentimentCalibration,
    ) = FILES.read(dir)?;
    let encoder = encoder.validated().map_err(|reason| FILES.incompatible_encoder(dir, reason))?;
    if config.vocab_size != encoder.vocab_size() {
        return Err(FILES.incompatible_config(
            dir,
            format!(
                "the model config expects {} n-grams; the encoder has {}",
                config.vocab_size,
                encoder.vocab_size()
            ),
        ));
    }
    let usable = (0.0..=1.0).contains(&calibration.threshold)
        && calibration.platt_a > 0.0
        && calibration.platt_a <= 100.0
        && calibration.platt_b.abs() <= 100.0;
    if !usable {
        return Err(FILES.incompatible_calibration(
            dir,
            "threshold must be in [0, 1], Platt parameters finite with a > 0 (negative \
             increasing with the model's log-odds)",
        ));
    }
    // Every plausible log-odds (−10…10) on one side of the threshold: one label for all.
    let p = |z: f64| 1.0 / (1.0 + (-calibration.log_odds(z)).exp());
    if p(10.0) < calibration.threshold || p(-10.0) >= calibration.threshold {
        return Err(FILES.incompatible_calibration(
            dir,
            format!(
                "degenerate: every review gets one label (p from {:.6} to {:.6} against threshold {})",
                p(-10.0),
                p(10.0),
                calibration.threshold
            ),
        ));
    }
    let model = FILES.load_record(dir, config.init(device))?;
    let drift = crate::drift::load_score_monitor(dir, REFERENCE_FILE)?;
    Ok(SentimentPredictor::new(encoder, model, calibration).with_drift(drift))
}

/// The sentiment model's sections of metrics.json: per review, and per product where the
/// export has product texts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SentimentSections {
    pub sentiment_reviews: ReviewMetrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment_products: Option<ProductMetrics>,
}

impl crate::served::ModelMetrics for SentimentSections {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = self.sentiment_reviews.figures("sentiment_reviews");
        if let Some(products) = &self.sentiment_products {
            figures.extend(products.figures("sentiment_products"));
        }
        figures
    }
}

impl ServedModel for SentimentPredictor {
    const NAME: &'static str = NAME;
    type Metrics = SentimentSections;

    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError> {
        load(dir, device)
    }

    fn warm_up(&self) {
        SentimentPredictor::warm_up(self)
    }

    fn describe(&self, _currency: &str) -> String {
        "probability that a review is negative, with the words that drove it".to_owned()
    }

    fn drift(&self) -> Option<crate::drift::DriftFigures> {
        Some(SentimentPredictor::drift(self)?.figures())
    }
}
