//! Daily demand forecasts per category, region and in total (`../shared/EVALUATION.md` §4).

pub mod baseline;
pub mod features;
pub mod inference;
pub mod metrics;
pub mod model;

use crate::served::{Figure, ServedModel};
pub use metrics::{ForecastMetrics, MeasureFigures, SeriesMetrics, WeeklyMetrics};

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
    baselines: &[Option<baseline::SeriesBaseline>],
) -> Result<(), BundleError> {
    FILES.save(writer, model, config, encoder, calibration)?;
    let served = baselines.iter().any(Option::is_some).then_some(baselines);
    crate::bundle::save_served(writer, NAME, SERVED_FILE, served)
}

/// What serves each series: the model, or the baseline that scored better on its family's
/// validation days.
const SERVED_FILE: &str = "forecast/served.json";

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
    // A scale past 1,000 stretches the interval beyond any demand.
    if !(calibration.interval_scale > 0.0 && calibration.interval_scale <= 1e3) {
        return Err(FILES.incompatible_calibration(dir, "interval_scale must be in (0, 1000]"));
    }
    let series = encoder.series.len();
    let baselines = crate::bundle::load_served(
        dir,
        SERVED_FILE,
        |b: Vec<Option<baseline::SeriesBaseline>>| {
            let fits = b.len() == series
                && b.iter().flatten().all(|s| {
                    s.spread[0] <= 0.0
                        && s.spread[1] >= 0.0
                        && s.spread.iter().all(|v| v.is_finite())
                        && !matches!(s.method, baseline::Method::Ets { ets } if !ets.is_valid())
                });
            if fits {
                Ok(b)
            } else {
                Err(format!("not one valid baseline or none for each of {series} series"))
            }
        },
    )?;
    let model = FILES.load_record(dir, config.init(device))?;
    let forecaster = Forecaster::new(encoder, model, calibration, device.clone());
    Ok(match baselines {
        Some(baselines) => forecaster.with_baselines(baselines),
        None => forecaster,
    })
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

    fn backtests(&self) -> Vec<crate::served::Backtest> {
        self.forecast.backtests.clone()
    }

    /// Per measure, what serves must not lose to the best seasonal naive forecast (last week
    /// repeated, or a year before) over the protocol series; the choice between the model and
    /// the smoothing per family is the backtests'.
    fn baseline_checks(&self) -> Vec<crate::served::BaselineCheck> {
        use crate::forecast::baseline::{WEEKLY_NAIVE, YEARLY_NAIVE};
        self.forecast
            .measures
            .iter()
            .map(|(measure, m)| {
                let naive = match m.yearly_naive_mase_mean {
                    Some(yearly) if yearly < m.seasonal_naive_mase_mean => (YEARLY_NAIVE, yearly),
                    _ => (WEEKLY_NAIVE, m.seasonal_naive_mase_mean),
                };
                crate::served::BaselineCheck {
                    scope: measure.clone(),
                    metric: "mase_mean".into(),
                    better: crate::served::Better::Lower,
                    served: ("what serves".into(), m.mase_mean),
                    baseline: (naive.0.into(), naive.1),
                }
            })
            .collect()
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
        let what = "daily demand of each series over the coming days, with an 80% interval";
        let served: usize = self.baselines().iter().flatten().count();
        match served {
            0 => what.to_owned(),
            n => format!(
                "{what} — {n} of its {} series served by a baseline that scored better than the model on the export's validation days",
                self.series().len()
            ),
        }
    }
}
