//! Encoding of a demand history window for the forecaster, shared by training and serving.
//! A window is the log1p of the last `window_days` daily counts minus its level (the mean of
//! its last 7 days), the standardised level, and the weekday of the first forecast day.

use crate::features::{Standardizer, normalize_key, normalize_state};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Daily demand of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesHistory {
    /// `"total"`, `"category:<category>"` or `"region:<STATE>"`.
    pub name: String,
    /// The category as in the data ("" for all).
    pub category: String,
    /// The normalised state ("" for all).
    pub region: String,
    pub first_date: NaiveDate,
    /// Order lines per day from `first_date`, consecutive.
    pub values: Vec<f64>,
}

impl SeriesHistory {
    pub fn last_date(&self) -> NaiveDate {
        self.first_date + Duration::days(self.values.len() as i64 - 1)
    }

    /// The series name of a category and/or region.
    pub fn name_of(category: &str, region: &str) -> String {
        match (category.trim().is_empty(), region.trim().is_empty()) {
            (true, true) => "total".to_owned(),
            (false, true) => format!("category:{}", category.trim()),
            (true, false) => format!("region:{}", normalize_state(region)),
            (false, false) => {
                format!("category:{}+region:{}", category.trim(), normalize_state(region))
            }
        }
    }

    /// Whether this series is the one a request names (category case-insensitive, region by
    /// the state normalisation).
    pub fn matches(&self, category: &str, region: &str) -> bool {
        normalize_key(&self.category) == normalize_key(category)
            && (region.trim().is_empty() && self.region.is_empty()
                || normalize_state(region) == self.region)
    }
}

/// Inputs besides the window: the standardised level and the weekday one-hot.
pub const EXTRA_INPUTS: usize = 1 + 7;

/// Days of the level (mean of log1p over the window's last days).
const LEVEL_DAYS: usize = 7;

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
}

impl ForecastEncoder {
    pub fn n_inputs(&self) -> usize {
        self.window_days + EXTRA_INPUTS
    }

    /// Level of the window ending with `history`'s last value.
    pub fn level_of(history: &[f64]) -> f64 {
        let tail = &history[history.len().saturating_sub(LEVEL_DAYS)..];
        tail.iter().map(|v| v.max(0.0).ln_1p()).sum::<f64>() / tail.len().max(1) as f64
    }

    /// Encodes the window ending at `last_date` (the last value of `history`, which holds at
    /// least `window_days` values).
    pub fn encode(&self, series: u32, history: &[f64], last_date: NaiveDate) -> EncodedWindow {
        let window = &history[history.len() - self.window_days..];
        let level = Self::level_of(window);
        let mut inputs: Vec<f32> =
            window.iter().map(|v| (v.max(0.0).ln_1p() - level) as f32).collect();
        inputs.push(self.level.transform(level));
        let weekday = (last_date + Duration::days(1)).weekday().num_days_from_monday() as usize;
        inputs.extend((0..7).map(|d| (d == weekday) as u8 as f32));
        EncodedWindow { series, inputs, level }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_matches_series() {
        let s = SeriesHistory {
            name: SeriesHistory::name_of("", "Orissa"),
            category: String::new(),
            region: "ODISHA".into(),
            first_date: NaiveDate::from_ymd_opt(2022, 4, 1).unwrap(),
            values: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(s.name, "region:ODISHA");
        assert!(s.matches("", "odisha"));
        assert!(!s.matches("kurta", "odisha"));
        assert_eq!(s.last_date(), NaiveDate::from_ymd_opt(2022, 4, 3).unwrap());
        assert_eq!(SeriesHistory::name_of(" kurta ", ""), "category:kurta");
    }

    #[test]
    fn encodes_a_window_relative_to_its_level() {
        let encoder = ForecastEncoder {
            window_days: 3,
            horizon_days: 2,
            series: vec![],
            level: Standardizer { mean: 0.0, std: 1.0 },
        };
        let history = [9.0, 0.0, 0.0, 0.0];
        // 2022-04-03 is a Sunday: the first forecast day is a Monday.
        let e = encoder.encode(1, &history, NaiveDate::from_ymd_opt(2022, 4, 3).unwrap());
        assert_eq!(e.level, 0.0);
        assert_eq!(&e.inputs[..4], &[0.0, 0.0, 0.0, 0.0]);
        assert_eq!(&e.inputs[4..], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
