//! Review sentiment (`../shared/EVALUATION.md` §3).

pub mod features;
pub mod inference;
pub mod model;

pub use features::{EncodedText, SentimentEncoder};
pub use inference::{SentimentCalibration, SentimentPredictor, SentimentResult};
pub use model::{SentimentModel, SentimentModelConfig, SentimentNet};

use crate::bundle::{BundleError, BundleWriter, read_json};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

pub const MODEL_FILE: &str = "sentiment/model.bpk";
pub const CONFIG_FILE: &str = "sentiment/model_config.json";
pub const ENCODER_FILE: &str = "sentiment/encoder.json";
pub const CALIBRATION_FILE: &str = "sentiment/calibration.json";

pub fn save(
    writer: &mut BundleWriter,
    model: SentimentModel,
    config: &SentimentModelConfig,
    encoder: &SentimentEncoder,
    calibration: &SentimentCalibration,
) -> Result<(), BundleError> {
    let path = writer.path(MODEL_FILE)?;
    model.save_file(&path).map_err(|e| BundleError::incompatible(&path, format!("cannot save the Burn record: {e:?}")))?;
    writer.write_json(CONFIG_FILE, config)?;
    writer.write_json(ENCODER_FILE, encoder)?;
    writer.write_json(CALIBRATION_FILE, calibration)?;
    writer.add_model(
        crate::bundle::model_names::SENTIMENT,
        serde_json::to_value(config).expect("config serialises"),
        &[MODEL_FILE, CONFIG_FILE, ENCODER_FILE, CALIBRATION_FILE],
    );
    Ok(())
}

pub fn load(dir: &Path, device: &Device) -> Result<SentimentPredictor, BundleError> {
    let config: SentimentModelConfig = read_json(dir, CONFIG_FILE)?;
    let encoder: SentimentEncoder = read_json(dir, ENCODER_FILE)?;
    let encoder = encoder.validated().map_err(|reason| BundleError::incompatible(dir.join(ENCODER_FILE), reason))?;
    if config.vocab_size != encoder.vocab_size() {
        return Err(BundleError::incompatible(
            dir.join(CONFIG_FILE),
            format!("model expects {} n-grams; the encoder has {}", config.vocab_size, encoder.vocab_size()),
        ));
    }
    let calibration: SentimentCalibration = read_json(dir, CALIBRATION_FILE)?;
    if !(0.0..=1.0).contains(&calibration.threshold) || !calibration.platt_a.is_finite() || !calibration.platt_b.is_finite() {
        return Err(BundleError::incompatible(dir.join(CALIBRATION_FILE), "threshold must be in [0, 1], Platt parameters finite"));
    }
    let path = dir.join(MODEL_FILE);
    let model = config
        .init(device)
        .try_load_file(&path)
        .map_err(|e| BundleError::incompatible(&path, format!("Burn record does not fit the model config: {e:?}")))?;
    Ok(SentimentPredictor::new(encoder, model, calibration, device.clone()))
}
