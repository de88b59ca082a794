//! Training and evaluation of the demand forecaster on the protocol of
//! `../shared/EVALUATION.md` §4. The daily series are aggregated with polars.

use crate::config::{ForecastSettings, Split};
use crate::data::sales::SaleLine;
use crate::fit::{Abandon, EarlyStopping, member_seed, quantile, rng, shuffled};
use crate::metrics;
use crate::progress::Stage;
use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use serde::Serialize;
use shopml_core::features::{Standardizer, float_matrix, index_matrix, normalize_state};
use shopml_core::forecast::features::EncodedWindow;
use shopml_core::forecast::{
    ForecastCalibration, ForecastEncoder, ForecastModel, ForecastModelConfig, ForecastNet,
    ForecastRequest, Forecaster, SeriesHistory,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct SeriesMetrics {
    pub mase: f64,
    pub wape: f64,
    pub smape: f64,
    pub coverage80: f64,
    /// Mean scaled interval score of the P10–P90 interval (lower is better).
    pub msis80: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForecastMetrics {
    pub mase_mean: f64,
    pub wape_mean: f64,
    pub smape_mean: f64,
    /// Share of the test days of the protocol series inside the P10–P90 interval.
    pub coverage80: f64,
    pub msis80_mean: f64,
    pub per_series: BTreeMap<String, SeriesMetrics>,
    /// The 7-day seasonal naive forecast on the same days, for comparison.
    pub seasonal_naive_mase_mean: f64,
    pub seasonal_naive_wape_mean: f64,
    pub series_trained: usize,
    pub best_epochs: Vec<usize>,
    pub interval_scale: f64,
    /// Whether the last day of the export was dropped from the served history as partial.
    pub partial_last_day_dropped: bool,
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

/// Order lines per day and key (all statuses: demand is what was ordered), from `first` to
/// `last`, aggregated with polars.
fn daily_counts(
    lines: &[SaleLine],
    first: NaiveDate,
    last: NaiveDate,
    key: impl Fn(&SaleLine) -> String,
) -> Result<BTreeMap<String, Vec<f64>>, PolarsError> {
    let days = (last - first).num_days() as usize + 1;
    let in_range: Vec<&SaleLine> =
        lines.iter().filter(|l| l.date >= first && l.date <= last).collect();
    let frame = df!(
        "key" => in_range.iter().map(|l| key(l)).collect::<Vec<String>>(),
        "day" => in_range.iter().map(|l| (l.date - first).num_days() as i32).collect::<Vec<i32>>(),
    )?;
    let counts = frame.group_by(["key", "day"])?.select(["day"]).count()?;
    let keys = counts.column("key")?.str()?.clone();
    let day = counts.column("day")?.i32()?.clone();
    let count_column = counts
        .columns()
        .last()
        .expect("the count column")
        .as_materialized_series()
        .cast(&DataType::Float64)?;
    let count = count_column.f64()?;
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for ((k, d), c) in keys.iter().zip(day.iter()).zip(count.iter()) {
        if let (Some(k), Some(d), Some(c)) = (k, d, c) {
            out.entry(k.to_owned()).or_insert_with(|| vec![0.0; days])[d as usize] = c;
        }
    }
    Ok(out)
}

/// The series kept: the total, the protocol's categories, and other categories and regions
/// with enough volume on the training days.
pub fn build_series(
    lines: &[SaleLine],
    first: NaiveDate,
    last: NaiveDate,
    training_days: usize,
    settings: &ForecastSettings,
) -> Result<Vec<SeriesHistory>, PolarsError> {
    let mean_training = |values: &[f64]| {
        values[..training_days.min(values.len())].iter().sum::<f64>() / training_days.max(1) as f64
    };
    let mut series = Vec::new();
    for (_, values) in daily_counts(lines, first, last, |_| String::new())? {
        series.push(SeriesHistory {
            name: "total".into(),
            category: String::new(),
            region: String::new(),
            first_date: first,
            values,
        });
    }
    for (category, values) in daily_counts(lines, first, last, |l| l.category.clone())? {
        let required = settings.protocol_series.iter().any(|p| p == &category);
        if !category.is_empty()
            && (required || mean_training(&values) >= settings.min_category_daily_lines)
        {
            series.push(SeriesHistory {
                name: SeriesHistory::name_of(&category, ""),
                category,
                region: String::new(),
                first_date: first,
                values,
            });
        }
    }
    for (region, values) in daily_counts(lines, first, last, |l| normalize_state(&l.ship_state))? {
        if !region.is_empty() && mean_training(&values) >= settings.min_region_daily_lines {
            series.push(SeriesHistory {
                name: SeriesHistory::name_of("", &region),
                category: String::new(),
                region,
                first_date: first,
                values,
            });
        }
    }
    Ok(series)
}

const QUANTILES: [f32; 3] = [0.1, 0.5, 0.9];
/// Quantile levels of the outer channels (P10, P90).
const OUTER: [f32; 2] = [0.1, 0.9];

/// Training windows: (encoded window, targets offset from its level, mask of known targets).
struct Windows {
    encoded: Vec<EncodedWindow>,
    targets: Vec<f32>,
    mask: Vec<f32>,
}

/// Windows of every series whose last day is in `origins` (day indices), with targets up to
/// day `known_until` (inclusive) and masked beyond.
fn windows(
    encoder: &ForecastEncoder,
    series: &[SeriesHistory],
    origins: std::ops::RangeInclusive<usize>,
    known_until: usize,
) -> Windows {
    let h = encoder.horizon_days;
    let mut out = Windows { encoded: Vec::new(), targets: Vec::new(), mask: Vec::new() };
    for (index, s) in series.iter().enumerate() {
        for t in origins.clone() {
            if t + 1 < encoder.window_days || t >= known_until {
                continue;
            }
            let window = encoder.encode(
                index as u32 + 1,
                &s.values[..=t],
                s.first_date + Duration::days(t as i64),
            );
            for day in 1..=h {
                let known = t + day <= known_until && t + day < s.values.len();
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
            let y = Tensor::<1>::from_floats(targets.as_slice(), &device).reshape([n, h, 1]);
            let m = Tensor::<1>::from_floats(mask.as_slice(), &device).reshape([n, h, 1]);
            let d = y - net.forward(series, inputs);
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
    lines: &[SaleLine],
    split: &Split,
    settings: &ForecastSettings,
) -> Result<Prepared, ForecastError> {
    let first = split.forecast_first_day;
    let last = lines
        .iter()
        .map(|l| l.date)
        .max()
        .ok_or_else(|| ForecastError::NotEnoughData("no order lines".into()))?;
    let origin_index = (split.forecast_origin - first).num_days() as usize;
    let test_days = split.forecast_test_days as usize;
    if last < split.forecast_origin + Duration::days(split.forecast_test_days)
        || origin_index + 1 < settings.window_days + settings.validation_days + 7
    {
        return Err(ForecastError::NotEnoughData(format!(
            "history {first} to {last} is too short for a {}-day window, {} validation days before the origin {} and {} test days after",
            settings.window_days, settings.validation_days, split.forecast_origin, test_days
        )));
    }
    let series = build_series(lines, first, last, origin_index + 1, settings)?;
    let training_levels: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            (settings.window_days - 1..=origin_index).map(move |t| {
                ForecastEncoder::level_of(&s.values[t + 1 - settings.window_days..=t])
            })
        })
        .collect();
    let encoder = ForecastEncoder {
        window_days: settings.window_days,
        horizon_days: settings.horizon_days,
        series: series.clone(),
        level: Standardizer::fit(training_levels),
    };
    let model_config =
        ForecastModelConfig::new(series.len(), encoder.n_inputs(), settings.horizon_days)
            .with_series_dim(settings.series_embedding_dim)
            .with_hidden_dim(settings.hidden_dim)
            .with_dropout(settings.dropout)
            .with_ensemble_size(settings.ensemble_size);
    Ok(Prepared { series, encoder, origin_index, model_config })
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
    let fit = windows(&encoder, &series, 0..=validation_origin - 1, validation_origin);
    let validation =
        windows(&encoder, &series, validation_origin..=validation_origin, origin_index);
    let all = windows(&encoder, &series, 0..=origin_index - 1, origin_index);

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
        windows(&encoder, &series, validation_origin..=origin_index - 1, origin_index);
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

    // Protocol: forecast once from the origin, nothing after it seen.
    let mut per_series = BTreeMap::new();
    let mut test_paths = BTreeMap::new();
    let (mut inside, mut points) = (0usize, 0usize);
    let mut naive = Vec::new();
    for name in &settings.protocol_series {
        let (category, label) =
            if name == "total" { ("", "total".to_owned()) } else { (name.as_str(), name.clone()) };
        let Some(index) = forecaster.find(category, "") else {
            return Err(ForecastError::NotEnoughData(format!(
                "protocol series '{name}' is not among the series kept"
            )));
        };
        let values = &series[index].values;
        let history = &values[..=origin_index];
        let actual = &values[origin_index + 1..origin_index + 1 + test_days];
        let forecast = &forecaster.forecast(&[ForecastRequest {
            series: index,
            history,
            last_date: split.forecast_origin,
            horizon_days: test_days.min(h),
        }])[0];
        let p50: Vec<f64> = forecast.iter().map(|p| p.p50).collect();
        let (p10, p90): (Vec<f64>, Vec<f64>) = forecast.iter().map(|p| (p.p10, p.p90)).unzip();
        let actual = &actual[..p50.len()];
        let seasonal: Vec<f64> =
            (0..p50.len()).map(|d| history[history.len() - 7 + d % 7]).collect();
        naive
            .push((metrics::mase(actual, &seasonal, history, 7), metrics::wape(actual, &seasonal)));
        inside += actual
            .iter()
            .zip(p10.iter().zip(&p90))
            .filter(|(a, (l, u))| *l <= *a && *a <= *u)
            .count();
        points += actual.len();
        per_series.insert(
            label.clone(),
            SeriesMetrics {
                mase: metrics::mase(actual, &p50, history, 7),
                wape: metrics::wape(actual, &p50),
                smape: metrics::smape_pct(actual, &p50),
                coverage80: metrics::coverage(actual, &p10, &p90),
                msis80: metrics::msis(actual, &p10, &p90, history, 7, 0.2),
            },
        );
        test_paths.insert(
            label,
            forecast.iter().zip(actual).map(|(p, &a)| (p.date, a, p.p10, p.p50, p.p90)).collect(),
        );
    }
    let mean = |f: fn(&SeriesMetrics) -> f64| metrics::mean(per_series.values().map(f));

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
        seasonal_naive_mase_mean: metrics::mean(naive.iter().map(|n| n.0)),
        seasonal_naive_wape_mean: metrics::mean(naive.iter().map(|n| n.1)),
        series_trained: series.len(),
        best_epochs,
        interval_scale: calibration.interval_scale,
        partial_last_day_dropped,
    };
    Ok(TrainedForecast { model, model_config, encoder, calibration, metrics, test_paths })
}
