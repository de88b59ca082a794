//! The forecaster against its baselines, per family of series (the total, the categories, the
//! regions, the countries) and measure: each candidate forecasts every series of the family
//! once from the validation origin (the model's members fitted before it), and the one with
//! the lowest mean MASE over the family serves it; then each candidate once from the test
//! origin, for the report. A baseline that serves is refitted on every day for serving.

use crate::fit::residual_spread;
use crate::metrics;
use rayon::prelude::*;
use shopml_core::forecast::baseline::{self, Ets, Method, SeriesBaseline, baseline_log1p};
use shopml_core::forecast::{ForecastRequest, Forecaster, SeriesHistory};
use shopml_core::models::{Backtest, Better, Candidate};
use std::collections::BTreeMap;

/// Days of history the yearly naive forecast needs before it competes: two years.
const YEARLY_HISTORY: usize = 2 * baseline::YEAR_BACK;

/// The family and measure of a series ("category/units").
pub fn scope(s: &SeriesHistory) -> String {
    let family = if !s.category.is_empty() {
        "category"
    } else if !s.region.is_empty() {
        "region"
    } else if !s.country.is_empty() {
        "country"
    } else {
        "total"
    };
    format!("{family}/{}", s.measure)
}

/// One candidate's forecast of a series from an origin: P50 of each day.
fn forecast(
    method: &Method,
    model: &Forecaster,
    index: usize,
    series: &SeriesHistory,
    origin: usize,
    days: usize,
) -> Vec<f64> {
    let history = &series.values[..=origin];
    match baseline_log1p(method, history, days) {
        Some(log1p) => log1p.iter().map(|v| v.exp_m1().max(0.0)).collect(),
        None => {
            let request = ForecastRequest {
                series: index,
                history,
                last_date: series.first_date + chrono::Duration::days(origin as i64),
                horizon_days: days,
            };
            model.forecast(&[request])[0].iter().map(|p| p.p50).collect()
        }
    }
}

/// The candidates of a series with `history_days` known at the origin: the model, last week,
/// a year before (with two years), the smoothing fitted on that history (when it fits).
fn candidates(history: &[f64]) -> Vec<Method> {
    let mut methods = vec![Method::Model, Method::WeeklyNaive];
    if history.len() >= YEARLY_HISTORY {
        methods.push(Method::YearlyNaive);
    }
    if let Some(ets) = Ets::fit(history) {
        methods.push(Method::Ets { ets });
    }
    methods
}

/// One candidate's figures on a series from an origin: MASE on the open days, and the log1p
/// residuals (for a baseline's range).
struct Scored {
    mase: f64,
    residuals: Vec<f64>,
}

fn score(
    method: &Method,
    model: &Forecaster,
    index: usize,
    series: &SeriesHistory,
    origin: usize,
    days: usize,
    closed: &dyn Fn(usize) -> bool,
) -> Scored {
    let predicted = forecast(method, model, index, series, origin, days);
    let open: Vec<usize> = (0..days).filter(|&d| !closed(origin + 1 + d)).collect();
    let actual: Vec<f64> = open.iter().map(|&d| series.values[origin + 1 + d]).collect();
    let predicted: Vec<f64> = open.iter().map(|&d| predicted[d]).collect();
    Scored {
        mase: metrics::mase(&actual, &predicted, &series.values[..=origin], 7),
        residuals: actual.iter().zip(&predicted).map(|(a, p)| a.ln_1p() - p.ln_1p()).collect(),
    }
}

/// Origins of a period: every day from `origin` to the day before `end`, each forecasting up
/// to `end` (at most `horizon` days) — a rolling evaluation, steadier than one origin.
pub fn rolling(origin: usize, end: usize, horizon: usize) -> Vec<(usize, usize)> {
    (origin..end).map(|o| (o, (end - o).min(horizon))).collect()
}

/// Each candidate's MASE over `members` (series indices of one family) from each of
/// `origins` (origin, days), the candidates' methods fitted on each series' history to the
/// first origin; and their log1p residuals.
fn family_scores(
    members: &[usize],
    all: &[SeriesHistory],
    model: &Forecaster,
    origins: &[(usize, usize)],
    closed: &(dyn Fn(usize) -> bool + Sync),
) -> BTreeMap<&'static str, (Vec<f64>, Vec<f64>)> {
    let Some(&(fit_at, _)) = origins.first() else { return BTreeMap::new() };
    let per_series: Vec<Vec<(&'static str, Scored)>> = members
        .par_iter()
        .map(|&i| {
            let s = &all[i];
            let mut scored = Vec::new();
            for method in candidates(&s.values[..=fit_at]) {
                // One MASE a series: its errors over every origin, scaled at the first.
                let runs: Vec<Scored> = origins
                    .iter()
                    .map(|&(origin, days)| score(&method, model, i, s, origin, days, closed))
                    .collect();
                let mase = metrics::mean(runs.iter().map(|r| r.mase).filter(|m| m.is_finite()));
                let residuals = runs.into_iter().flat_map(|r| r.residuals).collect();
                scored.push((method.name(), Scored { mase, residuals }));
            }
            scored
        })
        .collect();
    let mut by_name: BTreeMap<&'static str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (name, scored) in per_series.into_iter().flatten() {
        let entry = by_name.entry(name).or_default();
        if scored.mase.is_finite() {
            entry.0.push(scored.mase);
        }
        entry.1.extend(scored.residuals);
    }
    by_name
}

/// What the backtest decided: per family, the backtest; per series, the baseline serving it
/// at test time (fitted to the test origin) and for serving (fitted on every day).
pub struct Decided {
    pub backtests: Vec<Backtest>,
    pub test_baselines: Vec<Option<SeriesBaseline>>,
    pub served_baselines: Vec<Option<SeriesBaseline>>,
}

/// The origins and lengths of the two periods, in day indices of the series.
pub struct Periods {
    /// The validation period's origins (origin, days): the first is where the candidates are
    /// fitted.
    pub validation: Vec<(usize, usize)>,
    pub test_origin: usize,
    pub test_days: usize,
    /// The last day a baseline scored on the test days may be fitted on (the earliest test
    /// origin of the daily and weekly protocols).
    pub fit_origin: usize,
}

/// Runs the backtest of every family: `validation_model` forecasts from the validation
/// origin, `test_model` from the test origin.
pub fn decide(
    series: &[SeriesHistory],
    validation_model: &Forecaster,
    test_model: &Forecaster,
    periods: &Periods,
    closed: &(dyn Fn(usize) -> bool + Sync),
) -> Decided {
    let mut families: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        families.entry(scope(s)).or_default().push(i);
    }
    let mut decided = Decided {
        backtests: Vec::new(),
        test_baselines: vec![None; series.len()],
        served_baselines: vec![None; series.len()],
    };
    for (scope, members) in families {
        let validation =
            family_scores(&members, series, validation_model, &periods.validation, closed);
        let test = family_scores(
            &members,
            series,
            test_model,
            &[(periods.test_origin, periods.test_days)],
            closed,
        );
        let order =
            [baseline::MODEL, baseline::WEEKLY_NAIVE, baseline::YEARLY_NAIVE, baseline::ETS];
        // A candidate competes only where it forecast every series of the family.
        let complete = |name: &str| {
            validation.get(name).is_some_and(|v| v.0.len() == members.len())
                && test.get(name).is_some_and(|t| t.0.len() == members.len())
        };
        let candidates: Vec<Candidate> = order
            .iter()
            .filter(|name| complete(name))
            .map(|name| Candidate {
                name: (*name).to_owned(),
                baseline: *name != baseline::MODEL,
                validation: metrics::mean(validation[name].0.iter().copied()),
                test: metrics::mean(test[name].0.iter().copied()),
            })
            .collect();
        let backtest = Backtest::choose(&scope, "mase", Better::Lower, candidates);
        if !backtest.serves_the_model() && backtest.served().is_some() {
            let spread = residual_spread(&validation[backtest.served.as_str()].1);
            for &i in &members {
                let method_at = |origin: Option<usize>| {
                    let history = match origin {
                        Some(origin) => &series[i].values[..=origin],
                        None => &series[i].values[..],
                    };
                    candidates_named(history, &backtest.served)
                };
                decided.test_baselines[i] = method_at(Some(periods.fit_origin))
                    .map(|method| SeriesBaseline { method, spread });
                decided.served_baselines[i] =
                    method_at(None).map(|method| SeriesBaseline { method, spread });
            }
        }
        decided.backtests.push(backtest);
    }
    decided
}

/// The method named `name` fitted on `history`.
fn candidates_named(history: &[f64], name: &str) -> Option<Method> {
    candidates(history).into_iter().find(|m| m.name() == name)
}
