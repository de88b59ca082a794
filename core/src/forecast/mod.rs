//! Daily demand forecasts per category, region and in total (`../shared/EVALUATION.md` §4).

pub mod features;
pub mod inference;
pub mod metrics;
pub mod model;

use crate::served::{Figure, ServedModel};
pub use metrics::{ForecastMetrics, SeriesMetrics, WeeklyMetrics};

pub use features::{ForecastEncoder, MEASURES, SeriesHistory, SeriesKey};
pub use inference::{
    ForecastAsk, ForecastCalibration, ForecastPlan, ForecastPoint, ForecastRequest, Forecaster,
};
pub use model::{ForecastModel, ForecastModelConfig, ForecastNet, ServingForecastNet};

use crate::bundle::{BundleError, BundleWriter, ModelFiles};
use burn::tensor::Device;
use std::path::Path;

/// The model's name in a bundle's manifest.
pub const NAME: &str = "forecast";

pub const FILES: ModelFiles = ModelFiles {
    name: NAME,
    record: "forecast/model.bpk",
    config: "forecast/model_config.json",
    encoder: "forecast/encoder.json",
    calibration: "forecast/calibration.json",
};

pub fn save(
    writer: &mut BundleWriter,
    model: ForecastModel,
    config: &ForecastModelConfig,
    encoder: &ForecastEncoder,
    calibration: &ForecastCalibration,
) -> Result<(), BundleError> {
    FILES.save(writer, model, config, encoder, calibration)
}

pub fn load(dir: &Path, device: &Device) -> Result<Forecaster, BundleError> {
    let (config, encoder, calibration): (
        ForecastModelConfig,
        ForecastEncoder,
        ForecastCalibration,
    ) = FILES.read(dir)?;
    if config.n_series != encoder.series.len()
        || config.n_inputs != encoder.n_inputs()
        || config.horizon_days != encoder.horizon_days
    {
        return Err(FILES.incompatible_config(
            dir,
            format!(
                "the model config expects {} series, {} inputs, {} days; the encoder has {}, {}, {}",
                config.n_series,
                config.n_inputs,
                config.horizon_days,
                encoder.series.len(),
                encoder.n_inputs(),
                encoder.horizon_days
            ),
        ));
    }
    if encoder.window_days == 0 || encoder.horizon_days == 0 || encoder.level_days == 0 {
        return Err(
            FILES.incompatible_encoder(dir, "window_days, horizon_days and level_days must be > 0")
        );
    }
    if let Some(bad) = encoder.series.iter().find(|s| !MEASURES.contains(&s.measure.as_str())) {
        return Err(FILES.incompatible_encoder(
            dir,
            format!("series '{}' has an unknown measure '{}'", bad.name, bad.measure),
        ));
    }
    if let Some(short) = encoder.series.iter().find(|s| s.values.len() < encoder.min_history()) {
        return Err(FILES.incompatible_encoder(
            dir,
            format!("series '{}' holds fewer days than the model's window", short.name),
        ));
    }
    if !(calibration.interval_scale.is_finite() && calibration.interval_scale > 0.0) {
        return Err(FILES.incompatible_calibration(dir, "interval_scale must be finite and > 0"));
    }

    let model = FILES.load_record(dir, config.init(device))?;
    Ok(Forecaster::new(encoder, model, calibration, device.clone()))
}

/// The forecaster's section of metrics.json.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ForecastSections {
    pub forecast: ForecastMetrics,
}

impl crate::served::ModelMetrics for ForecastSections {
    fn figures(&self) -> Vec<Figure> {
        self.forecast.figures("forecast")
    }
}

impl ServedModel for Forecaster {
    const NAME: &'static str = NAME;
    type Metrics = ForecastSections;

    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError> {
        load(dir, device)
    }

    fn warm_up(&self) {
        Forecaster::warm_up(self)
    }

    fn describe(&self, _currency: &str) -> String {
        "daily demand of each series over the coming days, with an 80% interval".to_owned()
    }
}
