//! The forecaster's figures in `metrics.json`.

use crate::served::{Backtest, Figure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesMetrics {
    pub mase: f64,
    pub wape: f64,
    pub smape: f64,
    pub coverage80: f64,
    /// Mean scaled interval score of the P10–P90 interval (lower is better).
    pub msis80: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForecastMetrics {
    pub mase_mean: f64,
    pub wape_mean: f64,
    pub smape_mean: f64,
    /// Share of the test days of the protocol series inside the P10–P90 interval.
    pub coverage80: f64,
    pub msis80_mean: f64,
    pub per_series: BTreeMap<String, SeriesMetrics>,
    /// What the protocol series count: "order_lines", "units" or "revenue".
    pub measure: String,
    /// The longest horizon served.
    pub horizon_days: usize,
    /// Whether the model reads the year's shape from earlier years.
    pub yearly: bool,
    /// Weekdays found closed (0 = Monday): left out of training and of the figures.
    pub closed_weekdays: Vec<u32>,
    /// The 7-day seasonal naive forecast on the same days, for comparison.
    pub seasonal_naive_mase_mean: f64,
    pub seasonal_naive_wape_mean: f64,
    /// The yearly naive forecast (the same weekday 364 days before), when a year is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yearly_naive_mase_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yearly_naive_wape_mean: Option<f64>,
    /// The weekly total protocol, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyMetrics>,
    pub series_trained: usize,
    pub best_epochs: Vec<usize>,
    pub interval_scale: f64,
    /// Whether the last day of the export was dropped from the served history as partial.
    pub partial_last_day_dropped: bool,
    /// Per series family and measure ("category/units"), the model against its baselines
    /// by mean MASE over the family's series on the validation days: what serves. The
    /// protocol's figures above are those of what serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backtests: Vec<Backtest>,
    /// Per measure the profile forecasts, the protocol series' mean MASE of what serves and of
    /// the seasonal naive forecasts, on the test days.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measures: BTreeMap<String, MeasureFigures>,
}

/// The test figures of one measure's protocol series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureFigures {
    pub mase_mean: f64,
    pub wape_mean: f64,
    pub seasonal_naive_mase_mean: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly_naive_mase_mean: Option<f64>,
}

/// The weekly total protocol (`../shared/EVALUATION.md` §7): MASE scaled by the in-sample
/// naive forecast of weekly totals (m = 1), and the naive forecasts' own figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeeklyMetrics {
    pub weeks: usize,
    pub mase: f64,
    pub wape: f64,
    /// Last week repeated.
    pub naive_mase: f64,
    /// The same week a year before.
    pub same_week_last_year_mase: Option<f64>,
}

impl SeriesMetrics {
    fn figures(&self, at: &dyn Fn(&str) -> String) -> Vec<Figure> {
        vec![
            Figure::lower(at("mase"), self.mase),
            Figure::lower(at("wape"), self.wape),
            Figure::lower(at("smape"), self.smape),
            Figure::neither(at("coverage80"), self.coverage80),
            Figure::lower(at("msis80"), self.msis80),
        ]
    }
}

impl ForecastMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let at = |key: &str| format!("{section}.{key}");
        let mut figures = vec![
            Figure::lower(at("mase_mean"), self.mase_mean),
            Figure::lower(at("wape_mean"), self.wape_mean),
            Figure::lower(at("smape_mean"), self.smape_mean),
            Figure::neither(at("coverage80"), self.coverage80),
            Figure::lower(at("msis80_mean"), self.msis80_mean),
            Figure::lower(at("seasonal_naive_mase_mean"), self.seasonal_naive_mase_mean),
            Figure::lower(at("seasonal_naive_wape_mean"), self.seasonal_naive_wape_mean),
            Figure::neither(at("series_trained"), self.series_trained as f64),
        ];
        if let (Some(mase), Some(wape)) = (self.yearly_naive_mase_mean, self.yearly_naive_wape_mean)
        {
            figures.push(Figure::lower(at("yearly_naive_mase_mean"), mase));
            figures.push(Figure::lower(at("yearly_naive_wape_mean"), wape));
        }
        if let Some(w) = &self.weekly {
            figures.push(Figure::lower(at("weekly.mase"), w.mase));
            figures.push(Figure::lower(at("weekly.wape"), w.wape));
            figures.push(Figure::lower(at("weekly.naive_mase"), w.naive_mase));
        }
        for (measure, m) in &self.measures {
            let at = |key: &str| at(&format!("measures.{measure}.{key}"));
            figures.push(Figure::lower(at("mase_mean"), m.mase_mean));
            figures.push(Figure::lower(at("seasonal_naive_mase_mean"), m.seasonal_naive_mase_mean));
        }
        for backtest in &self.backtests {
            figures.extend(backtest.figures(section));
        }
        for (name, series) in &self.per_series {
            let within = |key: &str| at(&format!("per_series.{name}.{key}"));
            figures.extend(series.figures(&within));
        }
        figures
    }
}
