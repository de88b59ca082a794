//! Encoding of a demand history window for the forecaster, shared by training and serving.
//! A window is the log1p of the last `window_days` daily values minus its level (the mean of
//! its last `level_days` days), the standardised level, and the weekday of the first forecast
//! day. A yearly model (exports with two years or more) also reads, for each day of the
//! horizon, how demand moved from the same point of earlier years to that day (the year's
//! shape), and the growth over the last year.

use crate::features::{Standardizer, normalize_key, normalize_state};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// What a series counts per day.
pub const MEASURES: [&str; 3] = ["order_lines", "units", "revenue"];

fn order_lines() -> String {
    MEASURES[0].to_owned()
}

/// Daily demand of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesHistory {
    /// `"total"`, `"category:<category>"`, `"region:<REGION>"` or `"country:<country>"`,
    /// prefixed with `"<measure>:"` for a measure other than order lines.
    pub name: String,
    /// "order_lines", "units" or "revenue" (in the bundle's currency).
    #[serde(default = "order_lines")]
    pub measure: String,
    /// The category as in the data ("" for all).
    pub category: String,
    /// The normalised region or state ("" for all).
    pub region: String,
    /// The country ("" for all).
    #[serde(default)]
    pub country: String,
    pub first_date: NaiveDate,
    /// The measure per day from `first_date`, consecutive.
    pub values: Vec<f64>,
}

/// What a forecast request names: a measure, and a category, region or country (or none:
/// the total).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesKey<'a> {
    pub measure: &'a str,
    pub category: &'a str,
    pub region: &'a str,
    pub country: &'a str,
}

impl SeriesHistory {
    pub fn last_date(&self) -> NaiveDate {
        self.first_date + Duration::days(self.values.len() as i64 - 1)
    }

    /// The series name of a key.
    pub fn name_of(key: SeriesKey<'_>) -> String {
        let mut parts = Vec::new();
        if !key.category.trim().is_empty() {
            parts.push(format!("category:{}", key.category.trim()));
        }
        if !key.region.trim().is_empty() {
            parts.push(format!("region:{}", normalize_state(key.region)));
        }
        if !key.country.trim().is_empty() {
            parts.push(format!("country:{}", key.country.trim()));
        }
        let base = if parts.is_empty() { "total".to_owned() } else { parts.join("+") };
        match key.measure.trim() {
            "" | "order_lines" => base,
            measure => format!("{measure}:{base}"),
        }
    }

    /// Whether this series is the one a request names (measure "" for order lines; category
    /// and country case-insensitive, region by the state normalisation).
    pub fn matches(&self, key: SeriesKey<'_>) -> bool {
        let measure = if key.measure.trim().is_empty() { MEASURES[0] } else { key.measure.trim() };
        let region = |requested: &str| {
            requested.trim().is_empty() && self.region.is_empty()
                || normalize_state(requested) == self.region
        };
        self.measure == measure
            && normalize_key(&self.category) == normalize_key(key.category)
            && region(key.region)
            && normalize_key(&self.country) == normalize_key(key.country)
    }
}

/// Inputs besides the window: the standardised level, the log ratio of the window's mean to its
/// level (how skewed its days are: what turns a median into an expected value) and the weekday
/// one-hot.
pub const EXTRA_INPUTS: usize = 2 + 7;

/// Days of the level by default (mean of log1p over the window's last days).
const LEVEL_DAYS: usize = 7;

fn level_days() -> usize {
    LEVEL_DAYS
}

/// A year, in days: 52 weeks, so that a day a year back falls on the same weekday.
pub const YEAR_DAYS: usize = 364;
/// Half-width of the smoothing of a past year's days (a 28-day mean).
const SEASON_HALF_WIDTH: usize = 14;
/// Earlier years a yearly model reads, at most.
const SEASON_YEARS: usize = 3;
/// A window encoded for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedWindow {
    /// Embedding index of the series (0: a series the model does not know).
    pub series: u32,
    pub inputs: Vec<f32>,
    /// The window's level in log1p units; forecasts are offsets from it.
    pub level: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForecastEncoder {
    pub window_days: usize,
    /// Days the model forecasts at once.
    pub horizon_days: usize,
    /// Known series; series `i` has embedding index `i + 1`.
    pub series: Vec<SeriesHistory>,
    /// Standardiser of window levels over the training windows.
    pub level: Standardizer,
    /// Days of the window's level (the mean of log1p over its last days).
    #[serde(default = "level_days")]
    pub level_days: usize,
    /// Whether the model reads the year's shape from earlier years of history.
    #[serde(default)]
    pub yearly: bool,
    /// Weekdays the shop is closed (0 = Monday): no demand, forecast as 0, never learnt.
    #[serde(default)]
    pub closed_weekdays: Vec<u32>,
}

/// Running sums of log1p over a history, for means over any range of days.
struct LogSums(Vec<f64>);

impl LogSums {
    fn of(history: &[f64]) -> Self {
        let mut sums = Vec::with_capacity(history.len() + 1);
        sums.push(0.0);
        let mut total = 0.0;
        for v in history {
            total += v.max(0.0).ln_1p();
            sums.push(total);
        }
        Self(sums)
    }

    /// Mean over days `from..=to` (clipped to the history); `None` when none is left.
    fn mean(&self, from: isize, to: isize) -> Option<f64> {
        let last = self.0.len() as isize - 2;
        let (from, to) = (from.max(0), to.min(last));
        (from <= to)
            .then(|| (self.0[to as usize + 1] - self.0[from as usize]) / (to - from + 1) as f64)
    }
}

impl ForecastEncoder {
    pub fn n_inputs(&self) -> usize {
        self.window_days + EXTRA_INPUTS + if self.yearly { self.horizon_days + 1 } else { 0 }
    }

    /// Days of history a window needs: the window, and for a yearly model a year before the
    /// origin and the smoothing around it.
    pub fn min_history(&self) -> usize {
        if self.yearly {
            self.window_days.max(YEAR_DAYS + SEASON_HALF_WIDTH + 1)
        } else {
            self.window_days
        }
    }

    /// Level of the window ending with `history`'s last value, over its last `days`.
    pub fn level_over(history: &[f64], days: usize) -> f64 {
        let tail = &history[history.len().saturating_sub(days)..];
        tail.iter().map(|v| v.max(0.0).ln_1p()).sum::<f64>() / tail.len().max(1) as f64
    }

    /// Level of the window ending with `history`'s last value (the default level days).
    pub fn level_of(history: &[f64]) -> f64 {
        Self::level_over(history, LEVEL_DAYS)
    }

    /// Whether `date` falls on a weekday the shop is closed.
    pub fn is_closed(&self, date: NaiveDate) -> bool {
        self.closed_weekdays.contains(&date.weekday().num_days_from_monday())
    }

    /// Encodes the window ending at `last_date` (the last value of `history`, which holds at
    /// least [`ForecastEncoder::min_history`] values).
    pub fn encode(&self, series: u32, history: &[f64], last_date: NaiveDate) -> EncodedWindow {
        let window = &history[history.len() - self.window_days..];
        let level = Self::level_over(window, self.level_days);
        let mut inputs: Vec<f32> =
            window.iter().map(|v| (v.max(0.0).ln_1p() - level) as f32).collect();
        inputs.push(self.level.transform(level));
        let recent = &window[window.len() - self.level_days.min(window.len())..];
        let mean = recent.iter().map(|v| v.max(0.0)).sum::<f64>() / recent.len().max(1) as f64;
        inputs.push((mean.ln_1p() - level) as f32);
        let weekday = (last_date + Duration::days(1)).weekday().num_days_from_monday() as usize;
        inputs.extend((0..7).map(|d| (d == weekday) as u8 as f32));
        if self.yearly {
            self.push_season(history, &mut inputs);
        }
        EncodedWindow { series, inputs, level }
    }

    /// The year's shape: for each day `d` of the horizon, the mean over earlier years of the
    /// 28-day smoothed log1p around that day a year back less the 28-day level at the origin a
    /// year back; then the growth of the last year's mean over the year before.
    fn push_season(&self, history: &[f64], inputs: &mut Vec<f32>) {
        let sums = LogSums::of(history);
        let t = history.len() as isize - 1;
        let (year, half) = (YEAR_DAYS as isize, SEASON_HALF_WIDTH as isize);
        let years: Vec<isize> =
            (1..=SEASON_YEARS as isize).filter(|k| t - k * year - half >= 0).collect();
        for d in 1..=self.horizon_days as isize {
            let moves: Vec<f64> = years
                .iter()
                .filter_map(|k| {
                    let origin = t - k * year;
                    let around = sums.mean(origin + d - half, (origin + d + half - 1).min(t))?;
                    Some(around - sums.mean(origin - 27, origin)?)
                })
                .collect();
            let shape =
                if moves.is_empty() { 0.0 } else { moves.iter().sum::<f64>() / moves.len() as f64 };
            inputs.push(shape as f32);
        }
        let growth = match (sums.mean(t - year + 1, t), sums.mean(t - 2 * year + 1, t - year)) {
            (Some(last), Some(before)) if t - 2 * year + 1 >= 0 => last - before,
            _ => 0.0,
        };
        inputs.push(growth as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_matches_series() {
        let region = |region| SeriesKey { region, ..Default::default() };
        let s = SeriesHistory {
            name: SeriesHistory::name_of(region("Orissa")),
            measure: "order_lines".into(),
            category: String::new(),
            region: "ODISHA".into(),
            country: String::new(),
            first_date: NaiveDate::from_ymd_opt(2022, 4, 1).unwrap(),
            values: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(s.name, "region:ODISHA");
        assert!(s.matches(region("odisha")));
        assert!(s.matches(SeriesKey { measure: "order_lines", ..region("odisha") }));
        assert!(!s.matches(SeriesKey { measure: "units", ..region("odisha") }));
        assert!(!s.matches(SeriesKey { category: "kurta", ..region("odisha") }));
        assert_eq!(s.last_date(), NaiveDate::from_ymd_opt(2022, 4, 3).unwrap());
        let key = SeriesKey { category: " kurta ", ..Default::default() };
        assert_eq!(SeriesHistory::name_of(key), "category:kurta");
        let key = SeriesKey { measure: "units", country: "Canada", ..Default::default() };
        assert_eq!(SeriesHistory::name_of(key), "units:country:Canada");
    }

    #[test]
    fn a_yearly_window_reads_the_shape_of_earlier_years() {
        // Two years in which days 300–330 of each year are busier.
        let values: Vec<f64> =
            (0..800).map(|i| if (300..330).contains(&(i % 364)) { 20.0 } else { 5.0 }).collect();
        let encoder = ForecastEncoder {
            window_days: 28,
            horizon_days: 30,
            series: vec![],
            level: Standardizer { mean: 0.0, std: 1.0 },
            level_days: 28,
            yearly: true,
            closed_weekdays: vec![],
        };
        assert_eq!(encoder.n_inputs(), 28 + 9 + 31);
        // The origin is day 364 + 280 = 644: the busy days a year back are 20 to 50 days ahead.
        let w = encoder.encode(1, &values[..=644], NaiveDate::from_ymd_opt(2022, 1, 1).unwrap());
        let shape = &w.inputs[37..67];
        assert!(shape[0].abs() < 0.05, "{shape:?}");
        assert!(shape[25] > 0.8 && shape[25] > shape[5] + 0.8, "{shape:?}");
        assert_eq!(w.inputs.len(), encoder.n_inputs());
    }

    #[test]
    fn encodes_a_window_relative_to_its_level() {
        let encoder = ForecastEncoder {
            window_days: 3,
            horizon_days: 2,
            series: vec![],
            level: Standardizer { mean: 0.0, std: 1.0 },
            level_days: 7,
            yearly: false,
            closed_weekdays: vec![],
        };
        let history = [9.0, 0.0, 0.0, 0.0];
        // 2022-04-03 is a Sunday: the first forecast day is a Monday.
        let e = encoder.encode(1, &history, NaiveDate::from_ymd_opt(2022, 4, 3).unwrap());
        assert_eq!(e.level, 0.0);
        assert_eq!(&e.inputs[..5], &[0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(&e.inputs[5..], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
