//! Forecasts: encode each request's window, one forward pass for all, back to order lines.

use super::features::{EncodedWindow, ForecastEncoder, SeriesHistory, SeriesKey};
use super::model::{CHANNELS, ForecastModel, ServingForecastNet};
use burn::tensor::Device;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Calibration of the interval on held-out days: the P10–P90 half-widths (in log1p units)
/// are multiplied by `interval_scale` so that about 80% of days fall inside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForecastCalibration {
    pub interval_scale: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForecastPoint {
    pub date: NaiveDate,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    /// The expected value (what sums of days add up to).
    pub mean: f64,
}

/// One forecast to make: the series, its history (at least the window) ending at `last_date`.
pub struct ForecastRequest<'a> {
    pub series: usize,
    pub history: &'a [f64],
    pub last_date: NaiveDate,
    pub horizon_days: usize,
}

pub struct Forecaster {
    encoder: ForecastEncoder,
    /// The ensemble in its serving layout (same outputs).
    model: ServingForecastNet,
    calibration: ForecastCalibration,
    device: Device,
}

impl Forecaster {
    pub fn new(
        encoder: ForecastEncoder,
        model: ForecastModel,
        calibration: ForecastCalibration,
        device: Device,
    ) -> Self {
        Self { encoder, model: model.for_serving(), calibration, device }
    }

    pub fn series(&self) -> &[SeriesHistory] {
        &self.encoder.series
    }

    pub fn encoder(&self) -> &ForecastEncoder {
        &self.encoder
    }

    /// Index of the series a request names.
    pub fn find(&self, key: SeriesKey<'_>) -> Option<usize> {
        self.encoder.series.iter().position(|s| s.matches(key))
    }

    /// Raw outputs `[n][horizon][4]` of encoded windows: quantile offsets of log1p demand
    /// from the level (P10, P50, P90), and ln(expected demand) less the level.
    pub fn raw_quantiles(&self, windows: &[EncodedWindow]) -> Vec<Vec<[f64; 4]>> {
        if windows.is_empty() {
            return Vec::new();
        }
        let series: Vec<u32> = windows.iter().map(|w| w.series).collect();
        let inputs: Vec<f32> = windows.iter().flat_map(|w| w.inputs.iter().copied()).collect();
        let values = self.model.forward(&series, &inputs, &self.device);
        values
            .chunks(self.encoder.horizon_days * CHANNELS)
            .map(|row| {
                row.chunks(CHANNELS)
                    .map(|q| [q[0] as f64, q[1] as f64, q[2] as f64, q[3] as f64])
                    .collect()
            })
            .collect()
    }

    /// Forecasts of validated requests (history at least the window, horizon at most the
    /// model's).
    pub fn forecast(&self, requests: &[ForecastRequest<'_>]) -> Vec<Vec<ForecastPoint>> {
        let windows: Vec<EncodedWindow> = requests
            .iter()
            .map(|r| self.encoder.encode(r.series as u32 + 1, r.history, r.last_date))
            .collect();
        let scale = self.calibration.interval_scale;
        self.raw_quantiles(&windows)
            .into_iter()
            .zip(windows.iter().zip(requests))
            .map(|(quantiles, (window, request))| {
                quantiles
                    .into_iter()
                    .take(request.horizon_days)
                    .enumerate()
                    .map(|(day, q)| {
                        let date = request.last_date + Duration::days(day as i64 + 1);
                        if self.encoder.is_closed(date) {
                            return ForecastPoint { date, p10: 0.0, p50: 0.0, p90: 0.0, mean: 0.0 };
                        }
                        let median = window.level + q[1];
                        let back = |v: f64| v.exp_m1().max(0.0);
                        let p50 = back(median);
                        ForecastPoint {
                            date,
                            p10: back(median - scale * (q[1] - q[0])),
                            p50,
                            p90: back(median + scale * (q[2] - q[1])),
                            mean: (window.level + q[3]).exp(),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    pub fn warm_up(&self) {
        if let Some(series) = self.encoder.series.first() {
            let _ = self.forecast(&[ForecastRequest {
                series: 0,
                history: &series.values,
                last_date: series.last_date(),
                horizon_days: self.encoder.horizon_days,
            }]);
        }
    }
}
