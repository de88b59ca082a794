//! Cancellation risk at checkout (`../shared/EVALUATION.md` §1).

pub mod baseline;
pub mod drift;
pub mod features;
pub mod inference;
pub mod metrics;
pub mod model;

use crate::served::{Figure, ServedModel};
pub use metrics::CancellationMetrics;

pub use drift::{DriftFigures, DriftMonitor, DriftReference};
pub use features::{
    Attribute, AttributeValues, CancellationEncoder, CheckoutLine, CustomerHistory, CustomerTable,
    EncodedLine, Field, InputSchema, Numeric,
};
pub use inference::{
    CancellationCalibration, CancellationPredictor, OrderAggregation, OrderRisk, OrderToScore,
    PredictedOutcome, RiskBand, RiskThresholds,
};
pub use model::{
    CancellationModel, CancellationModelConfig, CancellationNet, ServingCancellationNet,
};

use crate::bundle::{BundleError, BundleWriter, ModelFiles};
use burn::tensor::Device;
use std::path::Path;

/// The model's name in a bundle's manifest.
pub const NAME: &str = "cancellation";

pub const FILES: ModelFiles = ModelFiles {
    name: NAME,
    record: "cancellation/model.bpk",
    config: "cancellation/model_config.json",
    encoder: "cancellation/encoder.json",
    calibration: "cancellation/calibration.json",
};

/// Writes the classifier into a bundle (record, configuration beside it, encoder, calibration,
/// and the reference distributions of its inputs and score).
/// What serves: the model, or the baseline that scored better on the validation days.
const SERVED_FILE: &str = "cancellation/served.json";

/// Writes the classifier into a bundle (record, configuration beside it, encoder, calibration,
/// the reference distributions of its inputs and score, and what serves: the model or a
/// baseline).
pub fn save(
    writer: &mut BundleWriter,
    model: CancellationModel,
    config: &CancellationModelConfig,
    encoder: &CancellationEncoder,
    calibration: &CancellationCalibration,
    reference: &DriftReference,
    served: Option<&baseline::CheckoutBaseline>,
) -> Result<(), BundleError> {
    FILES.save(writer, model, config, encoder, calibration)?;
    writer.write_json(drift::REFERENCE_FILE, reference)?;
    writer.add_model_file(NAME, drift::REFERENCE_FILE);
    crate::bundle::save_served(writer, NAME, SERVED_FILE, served)
}

/// Loads the classifier of the bundle in `dir`, checking its files agree with each other.
pub fn load(dir: &Path, device: &Device) -> Result<CancellationPredictor, BundleError> {
    let (config, encoder, calibration): (
        CancellationModelConfig,
        CancellationEncoder,
        CancellationCalibration,
    ) = FILES.read(dir)?;
    let encoder = encoder.validated().map_err(|reason| FILES.incompatible_encoder(dir, reason))?;
    let calibration =
        calibration.validated().map_err(|reason| FILES.incompatible_calibration(dir, reason))?;
    if config.vocab_size != encoder.vocab_size()
        || config.n_categorical != encoder.n_categorical()
        || config.n_numeric != encoder.n_numeric()
    {
        return Err(FILES.incompatible_config(
            dir,
            format!(
                "the model config expects {} embedding rows, {} categorical and {} numeric inputs; the encoder has {}, {} and {}",
                config.vocab_size,
                config.n_categorical,
                config.n_numeric,
                encoder.vocab_size(),
                encoder.n_categorical(),
                encoder.n_numeric()
            ),
        ));
    }
    let model = FILES.load_record(dir, config.init(device))?;
    // Bundles written before the reference existed serve without drift figures.
    let drift = match crate::bundle::read_json::<DriftReference>(dir, drift::REFERENCE_FILE) {
        Ok(reference) => Some(DriftMonitor::new(reference, &encoder).map_err(|reason| {
            BundleError::incompatible(dir.join(drift::REFERENCE_FILE), reason)
        })?),
        Err(BundleError::Missing { .. }) => None,
        Err(e) => return Err(e),
    };
    let baseline =
        crate::bundle::load_served(dir, SERVED_FILE, baseline::CheckoutBaseline::validated)?;
    Ok(CancellationPredictor::new(encoder, model, calibration)
        .with_drift(drift)
        .with_baseline(baseline))
}

/// The checkout model's section of metrics.json.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CancellationSections {
    pub cancellation: CancellationMetrics,
}

impl crate::served::ModelMetrics for CancellationSections {
    fn figures(&self) -> Vec<Figure> {
        self.cancellation.figures("cancellation")
    }

    fn backtests(&self) -> Vec<crate::served::Backtest> {
        self.cancellation.backtest.iter().cloned().collect()
    }
}

impl ServedModel for CancellationPredictor {
    const NAME: &'static str = NAME;
    type Metrics = CancellationSections;

    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError> {
        load(dir, device)
    }

    fn warm_up(&self) {
        CancellationPredictor::warm_up(self)
    }

    fn describe(&self, _currency: &str) -> String {
        let what = self.calibration().outcome.describe();
        match self.baseline() {
            Some(baseline) => format!(
                "{what} — served by the {} baseline, which scored better than the model on the export's validation days",
                baseline.name()
            ),
            None => what.to_owned(),
        }
    }

    fn drift(&self) -> Option<crate::drift::DriftFigures> {
        Some(CancellationPredictor::drift(self)?.figures())
    }
}
