//! Training and evaluation of the demand forecaster on the protocol of
//! `../shared/EVALUATION.md` §4.

use super::ForecastSettings;
use super::backtest;
use crate::config::Split;
use crate::data::sales::{Outcome, SaleLine, Sales, SalesField};
use crate::fit::{Abandon, EarlyStopping, member_seed, quantile, rng, shuffled};
use crate::metrics;
use crate::progress::Stage;
use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use chrono::{Datelike, Duration, NaiveDate};
use polars::prelude::*;
use shopml_core::features::{Standardizer, float_matrix, index_matrix, normalize_state};
use shopml_core::forecast::baseline::SeriesBaseline;
use shopml_core::forecast::features::EncodedWindow;
use shopml_core::forecast::features::YEAR_DAYS;
use shopml_core::forecast::{
    ForecastCalibration, ForecastEncoder, ForecastModel, ForecastModelConfig, ForecastNet,
    ForecastRequest, Forecaster, SeriesHistory, SeriesKey,
};
use shopml_core::forecast::{ForecastMetrics, MeasureFigures, SeriesMetrics, WeeklyMetrics};
use std::collections::BTreeMap;

/// The weekly figures of the total series, forecast once from the protocol's origin Sunday.
fn weekly_figures(
    forecaster: &Forecaster,
    index: usize,
    total: &SeriesHistory,
    protocol: &WeeklyProtocol,
) -> WeeklyMetrics {
    let values = &total.values;
    let origin = protocol.origin_index;
    let days = protocol.weeks * 7;
    let h = forecaster.encoder().horizon_days;
    let forecast = &forecaster.forecast(&[ForecastRequest {
        series: index,
        history: &values[..=origin],
        last_date: total.first_date + Duration::days(origin as i64),
        horizon_days: days.min(h),
    }])[0];
    let week_sums = |from: usize, count: usize, value: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..count).map(|w| (0..7).map(|d| value(from + 7 * w + d)).sum()).collect()
    };
    let weeks = forecast.len() / 7;
    let actual = week_sums(origin + 1, weeks, &|i| values[i]);
    // A week's total is the sum of its days' expected values (medians under-add).
    let predicted = week_sums(0, weeks, &|d| forecast[d].mean);
    let training_weeks = (origin + 1 - protocol.first_monday) / 7;
    let history = week_sums(protocol.first_monday, training_weeks, &|i| values[i]);
    let repeated = vec![*history.last().unwrap_or(&0.0); weeks];
    let last_year = (origin + 1 >= YEAR_DAYS + protocol.first_monday)
        .then(|| week_sums(origin + 1 - YEAR_DAYS, weeks, &|i| values[i]));
    WeeklyMetrics {
        weeks,
        mase: metrics::mase(&actual, &predicted, &history, 1),
        wape: metrics::wape(&actual, &predicted),
        naive_mase: metrics::mase(&actual, &repeated, &history, 1),
        same_week_last_year_mase: last_year.map(|l| metrics::mase(&actual, &l, &history, 1)),
    }
}

/// A test day of a protocol series: (date, actual, P10, P50, P90).
pub type TestPoint = (NaiveDate, f64, f64, f64, f64);

pub struct TrainedForecast {
    pub model: ForecastModel,
    pub model_config: ForecastModelConfig,
    pub encoder: ForecastEncoder,
    pub calibration: ForecastCalibration,
    pub metrics: ForecastMetrics,
    /// Per protocol series: (date, actual, p10, p50, p90) over the test days, for the report.
    pub test_paths: BTreeMap<String, Vec<TestPoint>>,
    /// Per series, the baseline that serves it (refitted on every day), where one does.
    pub baselines: Vec<Option<SeriesBaseline>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("forecast: {0}")]
    NotEnoughData(String),
    #[error("forecast: aggregating the daily series: {0}")]
    Polars(#[from] PolarsError),
    #[error("forecast: abandoned (another stage failed)")]
    Abandoned,
}

/// What a series counts per day: order lines (all statuses: demand is what was ordered),
/// units ordered (the quantities of those lines) or revenue (the amounts of the lines not
/// cancelled). Return lines are not orders; they are netted out of the insights' figures, not
/// of demand.
fn measure_of(measure: &str) -> fn(&SaleLine) -> f64 {
    match measure {
        "units" => |l| l.quantity.max(0.0),
        "revenue" => {
            |l| if l.outcome == Outcome::Cancelled { 0.0 } else { l.amount.unwrap_or(0.0).max(0.0) }
        }
        _ => |_| 1.0,
    }
}

/// The measure per day and key, from `first` to `last`.
fn daily_values(
    lines: &[&SaleLine],
    first: NaiveDate,
    last: NaiveDate,
    key: &dyn Fn(&SaleLine) -> String,
    measure: fn(&SaleLine) -> f64,
) -> BTreeMap<String, Vec<f64>> {
    let days = (last - first).num_days() as usize + 1;
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.date >= first && l.date <= last) {
        let day = (l.date - first).num_days() as usize;
        let key = key(l);
        match out.get_mut(&key) {
            Some(values) => values[day] += measure(l),
            None => {
                let mut values = vec![0.0; days];
                values[day] = measure(l);
                out.insert(key, values);
            }
        }
    }
    out
}

/// A dimension series are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Total,
    Category,
    Region,
    Country,
}

impl Dimension {
    fn key(self, sales: &Sales) -> Box<dyn Fn(&SaleLine) -> String + '_> {
        match self {
            Dimension::Total => Box::new(|_| String::new()),
            Dimension::Category => Box::new(|l| l.category.to_string()),
            // The sales region when the export has one, else the state (normalised).
            Dimension::Region if sales.has(SalesField::Region) => {
                Box::new(|l| l.region.to_string())
            }
            Dimension::Region => Box::new(|l| normalize_state(&l.state)),
            Dimension::Country => Box::new(|l| l.country.to_string()),
        }
    }

    fn series_key<'a>(self, measure: &'a str, value: &'a str) -> SeriesKey<'a> {
        let key = SeriesKey { measure, ..Default::default() };
        match self {
            Dimension::Total => key,
            Dimension::Category => SeriesKey { category: value, ..key },
            Dimension::Region => SeriesKey { region: value, ..key },
            Dimension::Country => SeriesKey { country: value, ..key },
        }
    }

    /// A protocol series name ("total", "category:X", "region:X", "country:X" or a bare
    /// category) as a dimension and a value.
    fn parse(name: &str) -> (Dimension, &str) {
        if name == "total" {
            return (Dimension::Total, "");
        }
        for (prefix, dimension) in [
            ("category:", Dimension::Category),
            ("region:", Dimension::Region),
            ("country:", Dimension::Country),
        ] {
            if let Some(value) = name.strip_prefix(prefix) {
                return (dimension, value);
            }
        }
        (Dimension::Category, name)
    }
}

/// The dimensions an export has series for: categories, regions (sales regions, else
/// states) and countries (when there are several).
fn dimensions(sales: &Sales) -> Vec<Dimension> {
    let mut out = vec![Dimension::Total];
    if sales.has(SalesField::Category) {
        out.push(Dimension::Category);
    }
    if sales.has(SalesField::Region) || sales.has(SalesField::State) {
        out.push(Dimension::Region);
    }
    if sales.has(SalesField::Country) {
        let mut countries = sales.lines.iter().map(|l| &*l.country).filter(|c| !c.is_empty());
        if let Some(first) = countries.next()
            && countries.any(|c| c != first)
        {
            out.push(Dimension::Country);
        }
    }
    out
}

/// The series kept, for each measure: the total, the protocol's series, and the categories,
/// regions and countries with enough order lines a day on the training days.
pub fn build_series(
    sales: &Sales,
    first: NaiveDate,
    last: NaiveDate,
    training_days: usize,
    settings: &ForecastSettings,
) -> Vec<SeriesHistory> {
    let ordered: Vec<&SaleLine> =
        sales.lines.iter().filter(|l| l.outcome != Outcome::ReturnLine).collect();
    let mean_training = |values: &[f64]| {
        values[..training_days.min(values.len())].iter().sum::<f64>() / training_days.max(1) as f64
    };
    let required = |dimension: Dimension, value: &str| {
        settings.protocol_series.iter().any(|p| Dimension::parse(p) == (dimension, value))
    };
    let mut series = Vec::new();
    for dimension in dimensions(sales) {
        let key = dimension.key(sales);
        let lines = daily_values(&ordered, first, last, &*key, measure_of("order_lines"));
        let threshold = match dimension {
            Dimension::Total => 0.0,
            Dimension::Category => settings.min_category_daily_lines,
            Dimension::Region | Dimension::Country => settings.min_region_daily_lines,
        };
        let kept: Vec<&String> = lines
            .iter()
            .filter(|(value, values)| {
                (dimension == Dimension::Total || !value.is_empty())
                    && (required(dimension, value) || mean_training(values) >= threshold)
            })
            .map(|(value, _)| value)
            .collect();
        for measure in &settings.measures {
            let values = if measure == "order_lines" {
                lines.clone()
            } else {
                daily_values(&ordered, first, last, &*key, measure_of(measure))
            };
            for value in &kept {
                let key = dimension.series_key(measure, value);
                series.push(SeriesHistory {
                    name: SeriesHistory::name_of(key),
                    measure: measure.clone(),
                    category: key.category.to_owned(),
                    region: if key.region.is_empty() {
                        String::new()
                    } else {
                        normalize_state(key.region)
                    },
                    country: key.country.to_owned(),
                    first_date: first,
                    values: values
                        .get(*value)
                        .cloned()
                        .unwrap_or_else(|| vec![0.0; (last - first).num_days() as usize + 1]),
                });
            }
        }
    }
    series
}

/// Weekdays the shop is closed: at least `share` of the total series' training days on that
/// weekday had no order — always closed included — as long as some weekday is open (0 turns
/// the detection off).
fn closed_weekdays(total: &SeriesHistory, training_days: usize, share: f64) -> Vec<u32> {
    if share <= 0.0 {
        return Vec::new();
    }
    let mut days = [(0usize, 0usize); 7];
    for (i, v) in total.values[..training_days.min(total.values.len())].iter().enumerate() {
        let weekday =
            (total.first_date + Duration::days(i as i64)).weekday().num_days_from_monday();
        days[weekday as usize].0 += 1;
        days[weekday as usize].1 += (*v == 0.0) as usize;
    }
    (0..7u32)
        .filter(|&w| {
            let (all, empty) = days[w as usize];
            all >= 4 && empty as f64 >= share * all as f64
        })
        .filter(|_| days.iter().any(|(all, empty)| empty < all))
        .collect()
}

const QUANTILES: [f32; 3] = [0.1, 0.5, 0.9];
/// Quantile levels of the outer channels (P10, P90).
const OUTER: [f32; 2] = [0.1, 0.9];

/// Training windows: (encoded window, targets offset from its level, mask of known targets).
struct Windows {
    encoded: Vec<EncodedWindow>,
    targets: Vec<f32>,
    mask: Vec<f32>,
    /// Each window's weight in the expected value's likelihood: its level (exp) over its
    /// series' mean level, so that the expected value is calibrated in units of demand.
    weights: Vec<f32>,
}

/// Windows of every series whose last day is in `origins` (day indices), with targets up to
/// day `known_until` (inclusive) and masked beyond.
fn windows(
    encoder: &ForecastEncoder,
    series: &[SeriesHistory],
    origins: std::ops::RangeInclusive<usize>,
    known_until: usize,
    stride: usize,
) -> Windows {
    let h = encoder.horizon_days;
    let mut out =
        Windows { encoded: Vec::new(), targets: Vec::new(), mask: Vec::new(), weights: Vec::new() };
    for (index, s) in series.iter().enumerate() {
        // Strided back from the last origin, so the most recent one is always in.
        for t in origins.clone().rev().step_by(stride.max(1)).collect::<Vec<_>>().into_iter().rev()
        {
            if t + 1 < encoder.min_history() || t >= known_until {
                continue;
            }
            let window = encoder.encode(
                index as u32 + 1,
                &s.values[..=t],
                s.first_date + Duration::days(t as i64),
            );
            for day in 1..=h {
                // A day the shop is closed is not demand: never learnt.
                let open = !encoder.is_closed(s.first_date + Duration::days((t + day) as i64));
                let known = t + day <= known_until && t + day < s.values.len() && open;
                out.targets.push(if known {
                    (s.values[t + day].ln_1p() - window.level) as f32
                } else {
                    0.0
                });
                out.mask.push(known as u8 as f32);
            }
            out.encoded.push(window);
        }
    }
    // Weights: each window's exp(level) over its series' mean of them.
    let mut totals = vec![(0.0f64, 0usize); series.len() + 1];
    for w in &out.encoded {
        let t = &mut totals[w.series as usize];
        t.0 += w.level.exp();
        t.1 += 1;
    }
    out.weights = out
        .encoded
        .iter()
        .map(|w| {
            let (sum, count) = totals[w.series as usize];
            (w.level.exp() / (sum / count.max(1) as f64).max(1e-9)) as f32
        })
        .collect();
    out
}

/// The net a member's fit starts from: drawn from Burn's generator, seeded with the member's
/// seed. Burn initialises a parameter when it is first read; every one is read here, in the
/// order a forward pass reads them, so that the draws happen now (not when the fit starts,
/// maybe on another thread while other nets draw) and give the values a fit starting from the
/// seed would.
fn initial_net(config: &ForecastModelConfig, seed: u64) -> ForecastNet {
    struct ReadEveryParameter;
    impl ModuleVisitor for ReadEveryParameter {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    let device = Device::flex().autodiff();
    device.seed(seed);
    let net = config.init_net(&device);
    net.visit(&mut ReadEveryParameter);
    net
}

/// Fits a net from `start`, or, without one, from the net drawn now with `seed` (as
/// [`initial_nets`] draws it: the same values either way).
fn train_net(
    config: &ForecastModelConfig,
    start: Option<ForecastNet>,
    settings: &ForecastSettings,
    data: &Windows,
    epochs: usize,
    seed: u64,
    mut after_epoch: impl FnMut(usize, ForecastNet) -> bool,
) {
    let device = Device::flex().autodiff();
    let mut net = start.unwrap_or_else(|| initial_net(config, seed));
    let mut optimizer = AdamWConfig::new().with_weight_decay(settings.weight_decay as f32).init();
    let mut random = rng(seed);
    let h = settings.horizon_days;
    let n_inputs = data.encoded.first().map_or(0, |w| w.inputs.len());
    let tau = Tensor::<1>::from_floats(OUTER.as_slice(), &device).reshape([1, 1, 2]);
    for epoch in 1..=epochs {
        for batch in shuffled(data.encoded.len(), &mut random).chunks(settings.batch_size) {
            let n = batch.len();
            let series = index_matrix(
                batch.iter().map(|&i| data.encoded[i].series as i64).collect(),
                n,
                1,
                &device,
            );
            let inputs = float_matrix(
                batch.iter().flat_map(|&i| data.encoded[i].inputs.iter().copied()).collect(),
                n,
                n_inputs,
                &device,
            );
            let targets: Vec<f32> = batch
                .iter()
                .flat_map(|&i| data.targets[i * h..(i + 1) * h].iter().copied())
                .collect();
            let mask: Vec<f32> =
                batch.iter().flat_map(|&i| data.mask[i * h..(i + 1) * h].iter().copied()).collect();
            let known = mask.iter().sum::<f32>().max(1.0) as f64;
            // Each day's demand as a ratio to its window's level, for the expected value, and
            // the window's weight (so the expected value adds up in units of demand).
            let ratios: Vec<f32> = batch
                .iter()
                .flat_map(|&i| {
                    let level = data.encoded[i].level;
                    data.targets[i * h..(i + 1) * h]
                        .iter()
                        .map(move |&t| ((t as f64).exp() - (-level).exp()).max(0.0) as f32)
                })
                .collect();
            let weights: Vec<f32> =
                batch.iter().flat_map(|&i| std::iter::repeat_n(data.weights[i], h)).collect();
            let y = Tensor::<1>::from_floats(targets.as_slice(), &device).reshape([n, h, 1]);
            let m = Tensor::<1>::from_floats(mask.as_slice(), &device).reshape([n, h, 1]);
            let r = Tensor::<1>::from_floats(ratios.as_slice(), &device).reshape([n, h, 1]);
            let output = net.forward(series, inputs);
            // The expected value by Poisson likelihood of the ratio (its minimiser is the mean).
            let mean = output.clone().slice([0..n, 0..h, 3..4]);
            let w = Tensor::<1>::from_floats(weights.as_slice(), &device).reshape([n, h, 1]);
            let mean_loss = ((mean.clone().exp() - r * mean) * m.clone() * w).sum() / known;
            let d = y - output.slice([0..n, 0..h, 0..3]);
            // The centre is fitted by least squares in log1p space (it forecast better than the
            // pinball median on validation and on the protocol; it is the median when log
            // errors are symmetric); P10 and P90 by pinball loss around it.
            let outer = Tensor::cat(
                vec![d.clone().slice([0..n, 0..h, 0..1]), d.clone().slice([0..n, 0..h, 2..3])],
                2,
            );
            let center = d.slice([0..n, 0..h, 1..2]);
            let loss = ((outer.clone() * tau.clone()).max_pair(outer * (tau.clone() - 1.0))
                * m.clone())
            .sum()
                / (known * 2.0)
                + (center.powi_scalar(2) * m).sum() / known
                + mean_loss
                + net.weight_penalty() * (settings.l2_penalty / data.encoded.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(settings.learning_rate, net, grads);
        }
        if !after_epoch(epoch, net.valid()) {
            return;
        }
    }
}

/// Masked pinball loss of a net on windows.
fn validation_loss(net: &ForecastNet, data: &Windows, encoder: &ForecastEncoder, h: usize) -> f64 {
    let forecaster = Forecaster::new(
        encoder.clone(),
        ForecastModel::from_members(vec![net.clone()]),
        ForecastCalibration { interval_scale: 1.0 },
        Device::flex(),
    );
    let q = forecaster.raw_quantiles(&data.encoded);
    let mut total = 0.0f64;
    let mut count = 0.0f64;
    for (i, row) in q.iter().enumerate() {
        for (day, quantiles) in row.iter().enumerate().take(h) {
            if data.mask[i * h + day] > 0.0 {
                let y = data.targets[i * h + day] as f64;
                for (&tau, &p) in QUANTILES.iter().zip(quantiles) {
                    let d = y - p;
                    total += (tau as f64 * d).max((tau as f64 - 1.0) * d);
                    count += 1.0;
                }
            }
        }
    }
    total / count.max(1.0)
}

/// The daily series and what the nets are fitted on, before any random draw.
pub struct Prepared {
    series: Vec<SeriesHistory>,
    encoder: ForecastEncoder,
    origin_index: usize,
    model_config: ForecastModelConfig,
}

pub fn prepare(
    sales: &Sales,
    split: &Split,
    settings: &ForecastSettings,
) -> Result<Prepared, ForecastError> {
    let first = split.forecast_first_day;
    let last = sales
        .lines
        .iter()
        .filter(|l| l.outcome != Outcome::ReturnLine)
        .map(|l| l.date)
        .max()
        .ok_or_else(|| ForecastError::NotEnoughData("no order lines".into()))?;
    let origin_index = (split.forecast_origin - first).num_days() as usize;
    // The nets learn nothing after the earliest protocol origin (the daily one, or the weekly
    // one when it comes first), so no test day of either protocol is seen.
    let cutoff = weekly_protocol(split, first, last)
        .map_or(origin_index, |w| w.origin_index.min(origin_index));
    let test_days = split.forecast_test_days as usize;
    let history_days = cutoff + 1;
    let yearly = match settings.yearly.as_str() {
        "on" => true,
        "off" => false,
        _ => history_days >= 2 * YEAR_DAYS,
    };
    let needed = settings.window_days.max(if yearly { YEAR_DAYS + 28 } else { 0 });
    if last < split.forecast_origin + Duration::days(split.forecast_test_days)
        || history_days < needed + settings.validation_days + 7
    {
        return Err(ForecastError::NotEnoughData(format!(
            "history {first} to {last} is too short for a {}-day window{}, {} validation days before the origin {} and {} test days after",
            settings.window_days,
            if yearly { " a year back" } else { "" },
            settings.validation_days,
            split.forecast_origin,
            test_days
        )));
    }
    let series = build_series(sales, first, last, history_days, settings);
    let closed = series
        .iter()
        .find(|s| s.name == "total")
        .map(|total| closed_weekdays(total, history_days, settings.closed_weekday_share))
        .unwrap_or_default();
    let mut encoder = ForecastEncoder {
        window_days: settings.window_days,
        horizon_days: settings.horizon_days,
        series: series.clone(),
        level: Standardizer { mean: 0.0, std: 1.0 },
        level_days: settings.level_days,
        yearly,
        closed_weekdays: closed,
    };
    let min_history = encoder.min_history();
    let training_levels: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            (min_history - 1..=cutoff).map(move |t| {
                ForecastEncoder::level_over(
                    &s.values[t + 1 - settings.window_days..=t],
                    settings.level_days,
                )
            })
        })
        .collect();
    encoder.level = Standardizer::fit(training_levels);
    let model_config =
        ForecastModelConfig::new(series.len(), encoder.n_inputs(), settings.horizon_days)
            .with_series_dim(settings.series_embedding_dim)
            .with_hidden_dim(settings.hidden_dim)
            .with_dropout(settings.dropout)
            .with_ensemble_size(settings.ensemble_size);
    Ok(Prepared { series, encoder, origin_index: cutoff, model_config })
}

/// The weekly protocol of `../shared/EVALUATION.md` §7, when configured: weeks ending Sunday
/// (partial first and last weeks dropped), the last `forecast_weekly_test_weeks` of them as
/// test, forecast once from the Sunday before them.
struct WeeklyProtocol {
    /// Day index (from the series' first day) of the origin Sunday.
    origin_index: usize,
    weeks: usize,
    /// Day index of the first Monday of a full week.
    first_monday: usize,
}

fn weekly_protocol(split: &Split, first: NaiveDate, last: NaiveDate) -> Option<WeeklyProtocol> {
    let weeks = usize::try_from(split.forecast_weekly_test_weeks).ok().filter(|w| *w > 0)?;
    let first_monday = (7 - first.weekday().num_days_from_monday() as usize) % 7;
    let last_sunday = (last - first).num_days() as usize
        - (last.weekday().num_days_from_monday() as usize + 1) % 7;
    let origin_index = last_sunday.checked_sub(weeks * 7)?;
    (origin_index > first_monday + 7 * 4).then_some(WeeklyProtocol {
        origin_index,
        weeks,
        first_monday,
    })
}

/// Whether the nets draw random numbers only where their fits start: no dropout applies (no
/// deep part, or no dropout in it). Their starting nets can then be drawn up front
/// ([`initial_nets`]) and the fits run beside other nets.
pub fn draws_only_at_start(settings: &ForecastSettings) -> bool {
    settings.hidden_dim == 0 || settings.dropout == 0.0
}

/// The nets every fit of [`train`] starts from, drawn now (each member's validation fit and
/// its refit start from the same values, as distinct modules): (validation fit, refit) of each
/// member.
pub struct InitialNets(Vec<(ForecastNet, ForecastNet)>);

pub fn initial_nets(prepared: &Prepared, settings: &ForecastSettings, seed: u64) -> InitialNets {
    let config = &prepared.model_config;
    InitialNets(
        (0..settings.ensemble_size)
            .map(|member| {
                (
                    initial_net(config, member_seed(seed, member)),
                    initial_net(config, member_seed(seed, member)),
                )
            })
            .collect(),
    )
}

/// Trains and evaluates the forecaster on `prepared` (by [`prepare`] with the same split and
/// settings). Its nets start from `initial` when given (drawn earlier by [`initial_nets`] with
/// the same seed; only for nets that draw nothing after that, see [`draws_only_at_start`]),
/// else each is drawn where its fit starts. Once `abandon` is set, no further net starts and
/// the training ends with [`ForecastError::Abandoned`].
pub fn train(
    prepared: Prepared,
    split: &Split,
    settings: &ForecastSettings,
    seed: u64,
    initial: Option<InitialNets>,
    stage: &Stage,
    abandon: &Abandon,
) -> Result<TrainedForecast, ForecastError> {
    let Prepared { series, mut encoder, origin_index, model_config } = prepared;
    let test_days = split.forecast_test_days as usize;
    // Nets that draw while they train must draw right after their start, from its seed.
    assert!(
        initial.is_none() || draws_only_at_start(settings),
        "starting nets drawn up front for nets that draw while they train"
    );
    let mut initial = initial.map(|nets| nets.0.into_iter());
    let validation_origin = origin_index - settings.validation_days;
    let stride = settings.origin_stride;
    let fit = windows(&encoder, &series, 0..=validation_origin - 1, validation_origin, stride);
    let validation =
        windows(&encoder, &series, validation_origin..=validation_origin, origin_index, 1);
    let all = windows(&encoder, &series, 0..=origin_index - 1, origin_index, stride);

    stage.set_length(settings.ensemble_size as u64 * 2);
    let h = settings.horizon_days;
    let mut best_epochs = Vec::new();
    let mut validation_members = Vec::new();
    let held_out_loss = |net: &ForecastNet| validation_loss(net, &validation, &encoder, h);
    let mut refit_starts = Vec::new();
    for member in 0..settings.ensemble_size {
        abandon.check(ForecastError::Abandoned)?;
        let (start, refit_start) = initial
            .as_mut()
            .map(|nets| nets.next().expect("a starting net for each member"))
            .unzip();
        refit_starts.push(refit_start);
        let (mut stopping, epochs) = EarlyStopping::with_budget(
            settings.fixed_epochs,
            settings.max_epochs,
            settings.patience,
        );
        train_net(
            &model_config,
            start,
            settings,
            &fit,
            epochs,
            member_seed(seed, member),
            |epoch, net| stopping.offer_with(epoch, net, held_out_loss),
        );
        let (loss, epoch, net) = stopping.into_kept(held_out_loss);
        stage.tick(format!(
            "member {member}: epoch {epoch} kept, validation pinball loss {loss:.4}"
        ));
        best_epochs.push(epoch);
        validation_members.push(net);
    }
    // Interval calibration on the held-out days (conformal scale of the half-widths).
    let validation_forecaster = Forecaster::new(
        encoder.clone(),
        ForecastModel::from_members(validation_members),
        ForecastCalibration { interval_scale: 1.0 },
        Device::flex(),
    );
    let mut needed = Vec::new();
    // Every origin of the held-out days (not only the first) takes part: one fortnight from a
    // single origin is too few points for a quantile of the scaled errors.
    let calibration_windows =
        windows(&encoder, &series, validation_origin..=origin_index - 1, origin_index, 1);
    for (i, row) in
        validation_forecaster.raw_quantiles(&calibration_windows.encoded).iter().enumerate()
    {
        for (day, q) in row.iter().enumerate() {
            if calibration_windows.mask[i * h + day] > 0.0 {
                let y = calibration_windows.targets[i * h + day] as f64;
                needed.push(if y < q[1] {
                    (q[1] - y) / (q[1] - q[0]).max(1e-9)
                } else {
                    (y - q[1]) / (q[2] - q[1]).max(1e-9)
                });
            }
        }
    }
    let calibration = ForecastCalibration {
        interval_scale: quantile(&needed, settings.interval_target).max(1e-3),
    };
    let members: Vec<ForecastNet> = best_epochs
        .iter()
        .zip(refit_starts)
        .enumerate()
        .map(|(member, (&epochs, start))| {
            abandon.check(ForecastError::Abandoned)?;
            let mut last = None;
            train_net(
                &model_config,
                start,
                settings,
                &all,
                epochs,
                member_seed(seed, member),
                |_, net| {
                    last = Some(net);
                    true
                },
            );
            stage.tick(format!("member {member}: refit on all training days for {epochs} epochs"));
            Ok(last.expect("at least one epoch ran"))
        })
        .collect::<Result<_, ForecastError>>()?;
    let model = ForecastModel::from_members(members);
    let forecaster =
        Forecaster::new(encoder.clone(), model.clone(), calibration.clone(), Device::flex());

    // The model against its baselines per family and measure, chosen on the validation days.
    let first = series.first().map_or(split.forecast_first_day, |s| s.first_date);
    let daily_origin = (split.forecast_origin - first).num_days() as usize;
    let periods = backtest::Periods {
        validation: backtest::rolling(validation_origin, origin_index, h),
        test_origin: daily_origin,
        test_days: test_days.min(h),
        fit_origin: origin_index,
    };
    let closed = |day: usize| encoder.is_closed(first + Duration::days(day as i64));
    let decided = backtest::decide(&series, &validation_forecaster, &forecaster, &periods, &closed);
    // Protocol: forecast once from the origin, nothing after it seen, by what serves.
    let test_forecaster = forecaster.with_baselines(decided.test_baselines);
    let mut by_measure = BTreeMap::new();
    for measure in &settings.measures {
        let figures = protocol(&test_forecaster, &series, split, settings, measure)?;
        by_measure.insert(measure.clone(), figures);
    }
    let measure = settings.measures.first().map_or("order_lines", String::as_str);
    let main = by_measure.remove(measure).expect("the first measure's figures");
    let main_figures = main.figures();
    let Protocol { per_series, inside, points, naive, yearly_naive, test_paths } = main;
    let mean = |f: fn(&SeriesMetrics) -> f64| metrics::mean(per_series.values().map(f));
    let weekly =
        weekly_protocol(split, first, first + Duration::days(series[0].values.len() as i64 - 1))
            .and_then(|w| {
                let total = test_forecaster.find(SeriesKey { measure, ..Default::default() })?;
                Some(weekly_figures(&test_forecaster, total, &series[total], &w))
            });
    // The served history ends at the last complete day.
    let mut partial_last_day_dropped = false;
    if settings.partial_last_day_ratio > 0.0
        && let Some(total) = series.iter().find(|s| s.name == "total")
        && total.values.len() > 8
    {
        let n = total.values.len();
        let before = metrics::mean(total.values[n - 8..n - 1].iter().copied());
        if total.values[n - 1] < settings.partial_last_day_ratio * before {
            partial_last_day_dropped = true;
            for s in encoder.series.iter_mut() {
                s.values.pop();
            }
        }
    }
    let metrics = ForecastMetrics {
        mase_mean: mean(|m| m.mase),
        wape_mean: mean(|m| m.wape),
        smape_mean: mean(|m| m.smape),
        coverage80: inside as f64 / points.max(1) as f64,
        msis80_mean: mean(|m| m.msis80),
        per_series,
        measure: measure.to_owned(),
        horizon_days: h,
        yearly: encoder.yearly,
        closed_weekdays: encoder.closed_weekdays.clone(),
        seasonal_naive_mase_mean: metrics::mean(naive.iter().map(|n| n.0)),
        seasonal_naive_wape_mean: metrics::mean(naive.iter().map(|n| n.1)),
        yearly_naive_mase_mean: (!yearly_naive.is_empty())
            .then(|| metrics::mean(yearly_naive.iter().map(|n| n.0))),
        yearly_naive_wape_mean: (!yearly_naive.is_empty())
            .then(|| metrics::mean(yearly_naive.iter().map(|n| n.1))),
        weekly,
        series_trained: series.len(),
        best_epochs,
        interval_scale: calibration.interval_scale,
        partial_last_day_dropped,
        backtests: decided.backtests,
        measures: by_measure
            .iter()
            .map(|(m, p)| (m.clone(), p.figures()))
            .chain([(measure.to_owned(), main_figures)])
            .collect(),
    };
    Ok(TrainedForecast {
        model,
        model_config,
        encoder,
        calibration,
        metrics,
        test_paths,
        baselines: decided.served_baselines,
    })
}

/// The test figures of one measure's protocol series, forecast once from the origin by what
/// serves.
struct Protocol {
    per_series: BTreeMap<String, SeriesMetrics>,
    /// Test days inside the P10–P90 interval, of `points`.
    inside: usize,
    points: usize,
    /// (MASE, WAPE) of last week repeated, and of the same weekday a year before, per series.
    naive: Vec<(f64, f64)>,
    yearly_naive: Vec<(f64, f64)>,
    test_paths: BTreeMap<String, Vec<TestPoint>>,
}

impl Protocol {
    fn figures(&self) -> MeasureFigures {
        MeasureFigures {
            mase_mean: metrics::mean(self.per_series.values().map(|s| s.mase)),
            wape_mean: metrics::mean(self.per_series.values().map(|s| s.wape)),
            seasonal_naive_mase_mean: metrics::mean(self.naive.iter().map(|n| n.0)),
            yearly_naive_mase_mean: (!self.yearly_naive.is_empty())
                .then(|| metrics::mean(self.yearly_naive.iter().map(|n| n.0))),
        }
    }
}

fn protocol(
    forecaster: &Forecaster,
    series: &[SeriesHistory],
    split: &Split,
    settings: &ForecastSettings,
    measure: &str,
) -> Result<Protocol, ForecastError> {
    let encoder = forecaster.encoder();
    let h = encoder.horizon_days;
    let test_days = split.forecast_test_days as usize;
    let first = series.first().map_or(split.forecast_first_day, |s| s.first_date);
    let daily_origin = (split.forecast_origin - first).num_days() as usize;
    let mut out = Protocol {
        per_series: BTreeMap::new(),
        inside: 0,
        points: 0,
        naive: Vec::new(),
        yearly_naive: Vec::new(),
        test_paths: BTreeMap::new(),
    };
    for name in &settings.protocol_series {
        let (dimension, value) = Dimension::parse(name);
        let Some(index) = forecaster.find(dimension.series_key(measure, value)) else {
            return Err(ForecastError::NotEnoughData(format!(
                "protocol series '{name}' ({measure}) is not among the series kept ({})",
                series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        };
        let values = &series[index].values;
        let history = &values[..=daily_origin];
        let forecast = &forecaster.forecast(&[ForecastRequest {
            series: index,
            history,
            last_date: split.forecast_origin,
            horizon_days: test_days.min(h),
        }])[0];
        // Days the shop is closed are not demand: left out of every figure.
        let open: Vec<usize> =
            (0..forecast.len()).filter(|&d| !encoder.is_closed(forecast[d].date)).collect();
        let pick =
            |all: &dyn Fn(usize) -> f64| -> Vec<f64> { open.iter().map(|&d| all(d)).collect() };
        let actual = pick(&|d| values[daily_origin + 1 + d]);
        let p50 = pick(&|d| forecast[d].p50);
        let (p10, p90) = (pick(&|d| forecast[d].p10), pick(&|d| forecast[d].p90));
        let seasonal = pick(&|d| history[history.len() - 7 + d % 7]);
        out.naive.push((
            metrics::mase(&actual, &seasonal, history, 7),
            metrics::wape(&actual, &seasonal),
        ));
        if history.len() > YEAR_DAYS {
            let last_year = pick(&|d| values[daily_origin + 1 + d - YEAR_DAYS]);
            out.yearly_naive.push((
                metrics::mase(&actual, &last_year, history, 7),
                metrics::wape(&actual, &last_year),
            ));
        }
        out.inside += actual
            .iter()
            .zip(p10.iter().zip(&p90))
            .filter(|(a, (l, u))| *l <= *a && *a <= *u)
            .count();
        out.points += actual.len();
        out.per_series.insert(
            name.clone(),
            SeriesMetrics {
                mase: metrics::mase(&actual, &p50, history, 7),
                wape: metrics::wape(&actual, &p50),
                smape: metrics::smape_pct(&actual, &p50),
                coverage80: metrics::coverage(&actual, &p10, &p90),
                msis80: metrics::msis(&actual, &p10, &p90, history, 7, 0.2),
            },
        );
        out.test_paths.insert(
            name.clone(),
            forecast
                .iter()
                .enumerate()
                .map(|(d, p)| (p.date, values[daily_origin + 1 + d], p.p10, p.p50, p.p90))
                .collect(),
        );
    }
    Ok(out)
}
