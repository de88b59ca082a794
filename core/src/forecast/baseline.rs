//! The forecaster's simple baselines, served in its place for a family of series (the total,
//! the categories, the regions, the countries of one measure) when one of them scored better
//! on the export's own validation days: last week repeated, the same weekday a year before,
//! and a damped-trend exponential smoothing with a weekly season, on log1p of the demand.

use serde::{Deserialize, Serialize};

/// The names of the candidates of the forecaster's backtest.
pub const MODEL: &str = "model";
pub const WEEKLY_NAIVE: &str = "seasonal naive (last week)";
pub const YEARLY_NAIVE: &str = "yearly naive (364 days before)";
pub const ETS: &str = "ETS (damped trend, weekly season)";

/// Days a year back, on the same weekday.
pub const YEAR_BACK: usize = 364;

/// A damped-trend exponential smoothing with an additive weekly season, on log1p(demand).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ets {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// The state of an [`Ets`] after a history: level, trend, the last 7 seasonal terms (the
/// oldest first) and the one-step errors' sum of squares.
struct EtsState {
    level: f64,
    trend: f64,
    season: [f64; 7],
    sse: f64,
}

const SEASON: usize = 7;

impl Ets {
    /// Runs the smoothing over `y` (log1p of the history, at least two weeks).
    fn run(&self, y: &[f64]) -> EtsState {
        let first_week = &y[..SEASON];
        let level0 = first_week.iter().sum::<f64>() / SEASON as f64;
        let second_week = &y[SEASON..2 * SEASON];
        let trend0 = (second_week.iter().sum::<f64>() / SEASON as f64 - level0) / SEASON as f64;
        let mut season: [f64; 7] = std::array::from_fn(|i| first_week[i] - level0);
        let (mut level, mut trend, mut sse) =
            (level0 + trend0 * (SEASON as f64 - 1.0), trend0, 0.0);
        for (t, &value) in y.iter().enumerate().skip(SEASON) {
            let s = season[t % SEASON];
            let forecast = level + self.phi * trend + s;
            let error = value - forecast;
            sse += error * error;
            let previous = level;
            level = self.alpha * (value - s) + (1.0 - self.alpha) * (previous + self.phi * trend);
            trend = self.beta * (level - previous) + (1.0 - self.beta) * self.phi * trend;
            season[t % SEASON] =
                self.gamma * (value - previous - self.phi * trend) + (1.0 - self.gamma) * s;
        }
        // The seasonal terms in calendar order from the day after the history's end.
        let n = y.len();
        let season = std::array::from_fn(|i| season[(n + i) % SEASON]);
        EtsState { level, trend, season, sse }
    }

    /// The fitted smoothing of `history` (demand per day), by least squares of its one-step
    /// errors over a grid of its parameters; None for less than three weeks of history.
    pub fn fit(history: &[f64]) -> Option<Self> {
        if history.len() < 3 * SEASON {
            return None;
        }
        let y: Vec<f64> = history.iter().map(|v| v.max(0.0).ln_1p()).collect();
        let mut best: Option<(f64, Ets)> = None;
        for alpha in [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8] {
            for beta in [0.0, 0.01, 0.05, 0.1] {
                for gamma in [0.0, 0.05, 0.1, 0.2, 0.4] {
                    for phi in [0.8, 0.9, 0.95, 0.98] {
                        let ets = Ets { alpha, beta, gamma, phi };
                        let sse = ets.run(&y).sse;
                        if sse.is_finite() && best.is_none_or(|(b, _)| sse < b) {
                            best = Some((sse, ets));
                        }
                    }
                }
            }
        }
        best.map(|(_, ets)| ets)
    }

    /// log1p of the demand of the `horizon` days after `history`.
    pub fn forecast_log1p(&self, history: &[f64], horizon: usize) -> Vec<f64> {
        if history.len() < 2 * SEASON {
            let last = history.last().copied().unwrap_or(0.0).max(0.0).ln_1p();
            return vec![last; horizon];
        }
        let y: Vec<f64> = history.iter().map(|v| v.max(0.0).ln_1p()).collect();
        let state = self.run(&y);
        let mut damped = 0.0;
        (0..horizon)
            .map(|h| {
                damped += self.phi.powi(h as i32 + 1);
                state.level + damped * state.trend + state.season[h % SEASON]
            })
            .collect()
    }

    pub fn is_valid(&self) -> bool {
        [self.alpha, self.beta, self.gamma, self.phi].iter().all(|v| (0.0..=1.0).contains(v))
    }
}

/// How a series is forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// The model.
    Model,
    /// Last week repeated.
    WeeklyNaive,
    /// The same weekday 364 days before each day.
    YearlyNaive,
    /// The smoothing with its parameters.
    Ets { ets: Ets },
}

impl Method {
    /// The candidate's name in the backtest.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Model => MODEL,
            Self::WeeklyNaive => WEEKLY_NAIVE,
            Self::YearlyNaive => YEARLY_NAIVE,
            Self::Ets { .. } => ETS,
        }
    }
}

/// How a series is served when a baseline serves it: the method, and the offsets of P10 and
/// P90 from its forecast in log1p units (from its family's validation residuals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesBaseline {
    pub method: Method,
    pub spread: [f64; 2],
}

/// log1p of the demand a baseline forecasts for the `horizon` days after `history`; None for
/// the model.
pub fn baseline_log1p(method: &Method, history: &[f64], horizon: usize) -> Option<Vec<f64>> {
    let n = history.len();
    let at = |back: usize| history.get(n.wrapping_sub(back)).copied().unwrap_or(0.0);
    match method {
        Method::Model => None,
        Method::WeeklyNaive => {
            Some((0..horizon).map(|h| at(SEASON - h % SEASON).max(0.0).ln_1p()).collect())
        }
        Method::YearlyNaive => Some(
            (0..horizon)
                .map(|h| {
                    // The day a year before the forecast day; past the history's end for a
                    // long horizon: the last week of those known.
                    let back = YEAR_BACK - h % YEAR_BACK;
                    at(back.max(1)).max(0.0).ln_1p()
                })
                .collect(),
        ),
        Method::Ets { ets } => Some(ets.forecast_log1p(history, horizon)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoothing_follows_a_weekly_pattern_and_the_naive_forecasts_repeat() {
        let pattern = [10.0, 12.0, 11.0, 13.0, 30.0, 2.0, 0.0];
        let history: Vec<f64> = (0..140).map(|d| pattern[d % 7]).collect();
        let ets = Ets::fit(&history).unwrap();
        assert!(ets.is_valid());
        let forecast: Vec<f64> =
            ets.forecast_log1p(&history, 14).iter().map(|v| v.exp_m1()).collect();
        for (h, f) in forecast.iter().enumerate() {
            assert!((f - pattern[(140 + h) % 7]).abs() < 0.5, "day {h}: {f}");
        }
        let weekly = baseline_log1p(&Method::WeeklyNaive, &history, 8).unwrap();
        assert_eq!(weekly[0].exp_m1().round(), pattern[140 % 7]);
        assert_eq!(weekly[7], weekly[0]);
        let long: Vec<f64> = (0..400).map(|d| d as f64).collect();
        let yearly = baseline_log1p(&Method::YearlyNaive, &long, 2).unwrap();
        assert_eq!(yearly[0].exp_m1().round(), (400 - 364) as f64);
        assert!(Ets::fit(&history[..20]).is_none());
    }
}
