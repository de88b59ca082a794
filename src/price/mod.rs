//! Selling price of a product with a P10–P90 range (`../shared/EVALUATION.md` §2).

pub mod features;
pub mod inference;
pub mod model;

pub use features::{PriceEncoder, ProductInput};
pub use inference::{PriceCalibration, PricePrediction, PricePredictor};
pub use model::{PriceModel, PriceModelConfig, PriceNet};

use crate::bundle::{BundleError, BundleWriter, read_json};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

pub const MODEL_FILE: &str = "price/model.bpk";
pub const CONFIG_FILE: &str = "price/model_config.json";
pub const ENCODER_FILE: &str = "price/encoder.json";
pub const CALIBRATION_FILE: &str = "price/calibration.json";

pub fn save(
    writer: &mut BundleWriter,
    model: PriceModel,
    config: &PriceModelConfig,
    encoder: &PriceEncoder,
    calibration: &PriceCalibration,
) -> Result<(), BundleError> {
    let path = writer.path(MODEL_FILE)?;
    model.save_file(&path).map_err(|e| BundleError::incompatible(&path, format!("cannot save the Burn record: {e:?}")))?;
    writer.write_json(CONFIG_FILE, config)?;
    writer.write_json(ENCODER_FILE, encoder)?;
    writer.write_json(CALIBRATION_FILE, calibration)?;
    writer.add_model(
        crate::bundle::model_names::PRICE,
        serde_json::to_value(config).expect("config serialises"),
        &[MODEL_FILE, CONFIG_FILE, ENCODER_FILE, CALIBRATION_FILE],
    );
    Ok(())
}

pub fn load(dir: &Path, device: &Device) -> Result<PricePredictor, BundleError> {
    let config: PriceModelConfig = read_json(dir, CONFIG_FILE)?;
    let encoder: PriceEncoder = read_json(dir, ENCODER_FILE)?;
    if config.vocab_size != encoder.vocab_size() || config.n_numeric != features::N_NUMERIC {
        return Err(BundleError::incompatible(
            dir.join(CONFIG_FILE),
            format!(
                "model expects {} tokens and {} numeric inputs; the encoder has {} and {}",
                config.vocab_size,
                config.n_numeric,
                encoder.vocab_size(),
                features::N_NUMERIC
            ),
        ));
    }
    let calibration: PriceCalibration = read_json(dir, CALIBRATION_FILE)?;
    if !(calibration.interval_scale.is_finite() && calibration.interval_scale > 0.0) {
        return Err(BundleError::incompatible(dir.join(CALIBRATION_FILE), "interval_scale must be finite and > 0"));
    }
    let path = dir.join(MODEL_FILE);
    let model = config
        .init(device)
        .try_load_file(&path)
        .map_err(|e| BundleError::incompatible(&path, format!("Burn record does not fit the model config: {e:?}")))?;
    Ok(PricePredictor::new(encoder, model, calibration, device.clone()))
}
