//! Daily demand forecasts per category, region and in total (`../shared/EVALUATION.md` §4).

pub mod features;
pub mod inference;
pub mod model;

pub use features::{ForecastEncoder, SeriesHistory};
pub use inference::{ForecastCalibration, ForecastPoint, ForecastRequest, Forecaster};
pub use model::{ForecastModel, ForecastModelConfig, ForecastNet};

use crate::bundle::{BundleError, BundleWriter, read_json};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

pub const MODEL_FILE: &str = "forecast/model.bpk";
pub const CONFIG_FILE: &str = "forecast/model_config.json";
pub const ENCODER_FILE: &str = "forecast/encoder.json";
pub const CALIBRATION_FILE: &str = "forecast/calibration.json";

pub fn save(
    writer: &mut BundleWriter,
    model: ForecastModel,
    config: &ForecastModelConfig,
    encoder: &ForecastEncoder,
    calibration: &ForecastCalibration,
) -> Result<(), BundleError> {
    let path = writer.path(MODEL_FILE)?;
    model.save_file(&path).map_err(|e| BundleError::incompatible(&path, format!("cannot save the Burn record: {e:?}")))?;
    writer.write_json(CONFIG_FILE, config)?;
    writer.write_json(ENCODER_FILE, encoder)?;
    writer.write_json(CALIBRATION_FILE, calibration)?;
    writer.add_model(
        crate::bundle::model_names::FORECAST,
        serde_json::to_value(config).expect("config serialises"),
        &[MODEL_FILE, CONFIG_FILE, ENCODER_FILE, CALIBRATION_FILE],
    );
    Ok(())
}

pub fn load(dir: &Path, device: &Device) -> Result<Forecaster, BundleError> {
    let config: ForecastModelConfig = read_json(dir, CONFIG_FILE)?;
    let encoder: ForecastEncoder = read_json(dir, ENCODER_FILE)?;
    let incompatible = |reason: String| BundleError::incompatible(dir.join(ENCODER_FILE), reason);
    if config.n_series != encoder.series.len() || config.n_inputs != encoder.n_inputs() || config.horizon_days != encoder.horizon_days {
        return Err(incompatible(format!(
            "model expects {} series, {} inputs, {} days; the encoder has {}, {}, {}",
            config.n_series,
            config.n_inputs,
            config.horizon_days,
            encoder.series.len(),
            encoder.n_inputs(),
            encoder.horizon_days
        )));
    }
    if encoder.window_days == 0 || encoder.horizon_days == 0 {
        return Err(incompatible("window_days and horizon_days must be > 0".into()));
    }
    if let Some(short) = encoder.series.iter().find(|s| s.values.len() < encoder.window_days) {
        return Err(incompatible(format!("series '{}' holds fewer days than the model's window", short.name)));
    }
    let calibration: ForecastCalibration = read_json(dir, CALIBRATION_FILE)?;
    if !(calibration.interval_scale.is_finite() && calibration.interval_scale > 0.0) {
        return Err(BundleError::incompatible(dir.join(CALIBRATION_FILE), "interval_scale must be finite and > 0"));
    }
    let path = dir.join(MODEL_FILE);
    let model = config
        .init(device)
        .try_load_file(&path)
        .map_err(|e| BundleError::incompatible(&path, format!("Burn record does not fit the model config: {e:?}")))?;
    Ok(Forecaster::new(encoder, model, calibration, device.clone()))
}
