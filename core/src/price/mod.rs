//! Selling price of a product with a P10–P90 range (`../shared/EVALUATION.md` §2).

pub mod baseline;
pub mod features;
pub mod inference;
pub mod metrics;
pub mod model;

use crate::served::{Figure, ServedModel};
pub use metrics::PriceMetrics;

pub use features::{PriceEncoder, ProductInput};
pub use inference::{PriceCalibration, PricePrediction, PricePredictor};
pub use model::{PriceModel, PriceModelConfig, PriceNet, ServingPriceNet};

use crate::bundle::{BundleError, BundleWriter, ModelFiles};
use burn::tensor::Device;
use std::path::Path;

/// The model's name in a bundle's manifest.
pub const NAME: &str = "price";

/// The reference distribution of the model's score (optional: older bundles have none).
pub const REFERENCE_FILE: &str = "price/reference.json";

pub const FILES: ModelFiles = ModelFiles {
    name: NAME,
    record: "price/model.bpk",
    config: "price/model_config.json",
    encoder: "price/encoder.json",
    calibration: "price/calibration.json",
};

/// Writes the model into a bundle, with the reference distribution of its score (for the
/// server's drift figures).
pub fn save(
    writer: &mut BundleWriter,
    model: PriceModel,
    config: &PriceModelConfig,
    encoder: &PriceEncoder,
    calibration: &PriceCalibration,
    reference: &crate::drift::ScoreReference,
    served: Option<&baseline::PriceBaseline>,
) -> Result<(), BundleError> {
    FILES.save(writer, model, config, encoder, calibration)?;
    crate::drift::save_score_reference(writer, NAME, REFERENCE_FILE, reference)?;
    crate::bundle::save_served(writer, NAME, SERVED_FILE, served)
}

/// What serves: the model, or the baseline that scored better on the validation products.
const SERVED_FILE: &str = "price/served.json";

pub fn load(dir: &Path, device: &Device) -> Result<PricePredictor, BundleError> {
    let (config, encoder, calibration): (PriceModelConfig, PriceEncoder, PriceCalibration) =
        FILES.read(dir)?;
    if config.vocab_size != encoder.vocab_size() || config.n_numeric != features::N_NUMERIC {
        return Err(FILES.incompatible_config(
            dir,
            format!(
                "the model config expects {} tokens and {} numeric inputs; the encoder has {} and {}",
                config.vocab_size,
                config.n_numeric,
                encoder.vocab_size(),
                features::N_NUMERIC
            ),
        ));
    }
    // A scale past 1,000 stretches the range beyond any price (a P90 of infinity).
    if !(calibration.interval_scale > 0.0 && calibration.interval_scale <= 1e3) {
        return Err(FILES.incompatible_calibration(dir, "interval_scale must be in (0, 1000]"));
    }
    let model = FILES.load_record(dir, config.init(device))?;
    let drift = crate::drift::load_score_monitor(dir, REFERENCE_FILE)?;
    let vocab_size = encoder.vocab_size();
    let baseline = crate::bundle::load_served(dir, SERVED_FILE, |b: baseline::PriceBaseline| {
        b.validated(vocab_size, features::N_NUMERIC)
    })?;
    Ok(PricePredictor::new(encoder, model, calibration).with_drift(drift).with_baseline(baseline))
}

/// The price model's section of metrics.json.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PriceSections {
    pub price: PriceMetrics,
}

impl crate::served::ModelMetrics for PriceSections {
    fn figures(&self) -> Vec<Figure> {
        self.price.figures("price")
    }

    fn backtests(&self) -> Vec<crate::served::Backtest> {
        self.price.backtest.iter().cloned().collect()
    }
}

impl ServedModel for PricePredictor {
    const NAME: &'static str = NAME;
    type Metrics = PriceSections;

    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError> {
        load(dir, device)
    }

    fn warm_up(&self) {
        PricePredictor::warm_up(self)
    }

    fn describe(&self, currency: &str) -> String {
        let what = format!("a product's selling price with its P10–P90 range, in {currency}");
        match self.baseline() {
            Some(b) => format!(
                "{what} — served by the {} baseline, which scored better than the model on the export's validation products",
                b.name()
            ),
            None => what,
        }
    }

    fn drift(&self) -> Option<crate::drift::DriftFigures> {
        Some(PricePredictor::drift(self)?.figures())
    }
}
