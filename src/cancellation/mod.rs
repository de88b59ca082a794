//! Cancellation risk at checkout (`../shared/EVALUATION.md` §1).

pub mod features;
pub mod inference;
pub mod model;

pub use features::{CancellationEncoder, CheckoutLine, EncodedLine, Field};
pub use inference::{CancellationCalibration, CancellationPredictor, OrderAggregation, OrderRisk, RiskBand, RiskThresholds};
pub use model::{CancellationModel, CancellationModelConfig, CancellationNet};

use crate::bundle::{BundleError, BundleWriter, read_json};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

pub const MODEL_FILE: &str = "cancellation/model.bpk";
pub const CONFIG_FILE: &str = "cancellation/model_config.json";
pub const ENCODER_FILE: &str = "cancellation/encoder.json";
pub const CALIBRATION_FILE: &str = "cancellation/calibration.json";

/// Writes the classifier into a bundle (record, configuration beside it, encoder, calibration).
pub fn save(
    writer: &mut BundleWriter,
    model: CancellationModel,
    config: &CancellationModelConfig,
    encoder: &CancellationEncoder,
    calibration: &CancellationCalibration,
) -> Result<(), BundleError> {
    let path = writer.path(MODEL_FILE)?;
    model
        .save_file(&path)
        .map_err(|e| BundleError::incompatible(&path, format!("cannot save the Burn record: {e:?}")))?;
    writer.write_json(CONFIG_FILE, config)?;
    writer.write_json(ENCODER_FILE, encoder)?;
    writer.write_json(CALIBRATION_FILE, calibration)?;
    writer.add_model(
        crate::bundle::model_names::CANCELLATION,
        serde_json::to_value(config).expect("config serialises"),
        &[MODEL_FILE, CONFIG_FILE, ENCODER_FILE, CALIBRATION_FILE],
    );
    Ok(())
}

/// Loads the classifier of the bundle in `dir`, checking its files agree with each other.
pub fn load(dir: &Path, device: &Device) -> Result<CancellationPredictor, BundleError> {
    let config: CancellationModelConfig = read_json(dir, CONFIG_FILE)?;
    let encoder: CancellationEncoder = read_json(dir, ENCODER_FILE)?;
    let encoder = encoder.validated().map_err(|reason| BundleError::incompatible(dir.join(ENCODER_FILE), reason))?;
    if config.vocab_size != encoder.vocab_size()
        || config.n_categorical != features::N_CATEGORICAL
        || config.n_numeric != features::N_NUMERIC
    {
        return Err(BundleError::incompatible(
            dir.join(CONFIG_FILE),
            format!(
                "model expects {} embedding rows, {} categorical and {} numeric inputs; the encoder has {}, {} and {}",
                config.vocab_size,
                config.n_categorical,
                config.n_numeric,
                encoder.vocab_size(),
                features::N_CATEGORICAL,
                features::N_NUMERIC
            ),
        ));
    }
    let calibration: CancellationCalibration = read_json(dir, CALIBRATION_FILE)?;
    let path = dir.join(MODEL_FILE);
    let model = config
        .init(device)
        .try_load_file(&path)
        .map_err(|e| BundleError::incompatible(&path, format!("Burn record does not fit the model config: {e:?}")))?;
    Ok(CancellationPredictor::new(encoder, model, calibration, device.clone()))
}
