//! Forecasts: encode each request's window, one forward pass for all, back to order lines.

use super::baseline::{SeriesBaseline, baseline_log1p};
use super::features::{EncodedWindow, ForecastEncoder, SeriesHistory, SeriesKey};
use super::model::{CHANNELS, ForecastModel, ServingForecastNet};
use crate::query::QueryError;
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
    /// Per series (the encoder's order): the baseline serving it, where one scored better than
    /// the model on its family's validation days.
    baselines: Vec<Option<SeriesBaseline>>,
}

impl Forecaster {
    pub fn new(
        encoder: ForecastEncoder,
        model: ForecastModel,
        calibration: ForecastCalibration,
        device: Device,
    ) -> Self {
        let baselines = vec![None; encoder.series.len()];
        Self { encoder, model: model.for_serving(), calibration, device, baselines }
    }

    /// Serves the series of `baselines` (by index; None: the model) with their baselines.
    pub fn with_baselines(mut self, baselines: Vec<Option<SeriesBaseline>>) -> Self {
        if baselines.len() == self.encoder.series.len() {
            self.baselines = baselines;
        }
        self
    }

    /// The baseline serving series `index`, if one does.
    pub fn baseline(&self, index: usize) -> Option<&SeriesBaseline> {
        self.baselines.get(index).and_then(Option::as_ref)
    }

    /// The baseline of every series (None: the model).
    pub fn baselines(&self) -> &[Option<SeriesBaseline>] {
        &self.baselines
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
    /// model's): the model's in one pass for the series it serves, a baseline's for the others.
    pub fn forecast(&self, requests: &[ForecastRequest<'_>]) -> Vec<Vec<ForecastPoint>> {
        let by_model: Vec<&ForecastRequest<'_>> =
            requests.iter().filter(|r| self.baseline(r.series).is_none()).collect();
        let mut from_model = self.forecast_by_model(&by_model).into_iter();
        requests
            .iter()
            .map(|r| match self.baseline(r.series) {
                Some(baseline) => self.forecast_by_baseline(baseline, r),
                None => from_model.next().expect("one forecast per request of the model"),
            })
            .collect()
    }

    /// A baseline's forecast of one request: its log1p forecast, the range from its spread,
    /// closed days at 0.
    fn forecast_by_baseline(
        &self,
        baseline: &SeriesBaseline,
        request: &ForecastRequest<'_>,
    ) -> Vec<ForecastPoint> {
        let centre = baseline_log1p(&baseline.method, request.history, request.horizon_days)
            .unwrap_or_default();
        centre
            .into_iter()
            .enumerate()
            .map(|(day, c)| {
                let date = request.last_date + Duration::days(day as i64 + 1);
                if self.encoder.is_closed(date) {
                    return ForecastPoint { date, p10: 0.0, p50: 0.0, p90: 0.0, mean: 0.0 };
                }
                let back = |v: f64| v.exp_m1().max(0.0);
                let p50 = back(c);
                ForecastPoint {
                    date,
                    p10: back(c + baseline.spread[0]),
                    p50,
                    p90: back(c + baseline.spread[1]),
                    mean: p50,
                }
            })
            .collect()
    }

    /// The model's forecasts of requests, in one pass.
    fn forecast_by_model(&self, requests: &[&ForecastRequest<'_>]) -> Vec<Vec<ForecastPoint>> {
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

/// A forecast checked against the forecaster: the series, its history (stored days merged
/// with the request's) ending at `last_date`, the horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastPlan {
    pub series: usize,
    pub name: String,
    pub measure: String,
    pub history: Vec<f64>,
    pub last_date: NaiveDate,
    pub horizon_days: usize,
}

impl ForecastPlan {
    /// The mean of the last 28 days of the history: the level the forecast starts from.
    pub fn recent_level(&self) -> f64 {
        let recent = &self.history[self.history.len().saturating_sub(28)..];
        recent.iter().sum::<f64>() / recent.len().max(1) as f64
    }

    fn request(&self) -> ForecastRequest<'_> {
        ForecastRequest {
            series: self.series,
            history: &self.history,
            last_date: self.last_date,
            horizon_days: self.horizon_days,
        }
    }
}

/// What a forecast is asked for: a series, optionally the days of history the caller knows
/// (from `first_date`, one value a day), and how far ahead.
pub struct ForecastAsk<'a> {
    pub key: SeriesKey<'a>,
    pub first_date: Option<NaiveDate>,
    pub values: &'a [f64],
    pub horizon_days: usize,
}

impl Forecaster {
    /// The longest horizon served: what the model was trained for, lowered by `cap` when set.
    pub fn max_horizon_days(&self, cap: Option<usize>) -> usize {
        let trained = self.encoder.horizon_days;
        cap.map_or(trained, |cap| cap.min(trained))
    }

    /// Checks `ask` against this forecaster (the series is known, the horizon in range, the
    /// history joins the stored one and is long enough) and plans it.
    pub fn plan(
        &self,
        ask: &ForecastAsk<'_>,
        cap: Option<usize>,
    ) -> Result<ForecastPlan, QueryError> {
        let max_horizon = self.max_horizon_days(cap);
        let horizon = ask.horizon_days;
        if horizon == 0 || horizon > max_horizon {
            return Err(QueryError::Invalid {
                field: "horizon_days",
                reason: format!("must be 1 to {max_horizon}, got {horizon}"),
            });
        }
        let Some(index) = self.find(ask.key) else {
            return Err(QueryError::NotFound {
                what: "series",
                value: SeriesHistory::name_of(ask.key),
                near: self.series().iter().map(|s| s.name.clone()).collect(),
            });
        };
        let stored = &self.series()[index];
        let (history, last_date) = match ask.first_date {
            Some(first) if !ask.values.is_empty() => {
                if first > stored.last_date() + Duration::days(1) {
                    return Err(QueryError::Invalid {
                        field: "history[0].date",
                        reason: format!(
                            "{first} leaves a gap after the stored history, which ends {}",
                            stored.last_date()
                        ),
                    });
                }
                // Stored days before the request's first day, then the request's days.
                let keep = (first - stored.first_date)
                    .num_days()
                    .clamp(0, stored.values.len() as i64) as usize;
                let mut merged = stored.values[..keep].to_vec();
                merged.extend_from_slice(ask.values);
                (merged, first + Duration::days(ask.values.len() as i64 - 1))
            }
            _ => (stored.values.clone(), stored.last_date()),
        };
        let needed = self.encoder.min_history();
        if history.len() < needed {
            return Err(QueryError::Invalid {
                field: "history",
                reason: format!("{} days known; the model reads the last {needed}", history.len()),
            });
        }
        Ok(ForecastPlan {
            series: index,
            name: stored.name.clone(),
            measure: stored.measure.clone(),
            history,
            last_date,
            horizon_days: horizon,
        })
    }

    /// Forecasts of planned requests, in one pass.
    pub fn forecast_plans(&self, plans: &[ForecastPlan]) -> Vec<Vec<ForecastPoint>> {
        let requests: Vec<ForecastRequest<'_>> = plans.iter().map(ForecastPlan::request).collect();
        self.forecast(&requests)
    }
}
