//! The forecaster's slice of training: its settings (`[forecast]`), what it needs (the order
//! lines), its training (`training.rs`; beside the other stages when its nets draw only where
//! their fits start), its summary, its report section and its files.

mod backtest;
mod training;

pub use training::{
    ForecastError, InitialNets, Prepared, TestPoint, TrainedForecast, build_series,
    draws_only_at_start, initial_nets, prepare, train,
};

use crate::config::{Split, TrainConfig};
use crate::data::Exports;
use crate::data::sales::Sales;
use crate::fit::Abandon;
use crate::report::ReportWriter;
use crate::trainer::{
    self, BesideResult, BesideWork, Job, Prepared as PreparedJob, Run, Settings, TrainError,
    TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::forecast::{ForecastSections, MEASURES, NAME};

/// `[forecast]`: the series, the network, its training and its interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSettings {
    pub window_days: usize,
    pub horizon_days: usize,
    pub validation_days: usize,
    pub series_embedding_dim: usize,
    pub hidden_dim: usize,
    pub dropout: f64,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub ensemble_size: usize,
    pub min_category_daily_lines: f64,
    pub min_region_daily_lines: f64,
    /// Series the protocol reports: "total", a category (or "category:X"), "region:X",
    /// "country:X", of the first of `measures`.
    #[serde(default)]
    pub protocol_series: Vec<String>,
    /// What the series count per day: "order_lines", "units", "revenue" (the first is the
    /// protocol's).
    #[serde(default = "order_lines_only")]
    pub measures: Vec<String>,
    /// The year's shape as an input: "auto" (when two years of history are known), "on", "off".
    #[serde(default = "auto")]
    pub yearly: String,
    /// Days of a window's level.
    #[serde(default = "seven")]
    pub level_days: usize,
    /// Days between the origins of training windows (1: every day). Windows of neighbouring
    /// days overlap almost whole; a long history trains as well from every few days.
    #[serde(default = "one")]
    pub origin_stride: usize,
    /// A weekday with no order on at least this share of its training days is a closing day
    /// (no demand; forecast as 0); 0 turns the detection off.
    #[serde(default = "closed_share")]
    pub closed_weekday_share: f64,
    pub fixed_epochs: usize,
    pub l2_penalty: f64,
    pub partial_last_day_ratio: f64,
    pub interval_target: f64,
}

fn auto() -> String {
    "auto".into()
}

fn order_lines_only() -> Vec<String> {
    vec!["order_lines".into()]
}

fn seven() -> usize {
    7
}

fn one() -> usize {
    1
}

fn closed_share() -> f64 {
    0.9
}

impl Settings for ForecastSettings {
    fn check(&self) -> Result<(), String> {
        if self.measures.is_empty() || self.measures.iter().any(|m| !MEASURES.contains(&m.as_str()))
        {
            return Err(format!("measures: {:?}; one or more of {MEASURES:?}", self.measures));
        }
        if !["auto", "on", "off"].contains(&self.yearly.as_str()) || self.level_days == 0 {
            return Err("yearly is \"auto\", \"on\" or \"off\"; level_days > 0".into());
        }
        if self.window_days < 7
            || self.horizon_days == 0
            || self.validation_days == 0
            || self.ensemble_size == 0
            || self.batch_size == 0
            || self.origin_stride == 0
        {
            return Err(
                "window_days >= 7; horizon_days, validation_days, ensemble_size, batch_size, origin_stride > 0"
                    .into(),
            );
        }
        let shares = (0.0..1.0).contains(&self.dropout)
            && (0.0..=1.0).contains(&self.closed_weekday_share)
            && 0.0 < self.interval_target
            && self.interval_target < 1.0;
        if !shares {
            return Err(
                "dropout in [0, 1), closed_weekday_share in [0, 1], interval_target in (0, 1)"
                    .into(),
            );
        }
        let rates = trainer::positive(self.learning_rate)
            && trainer::non_negative(self.l2_penalty)
            && trainer::non_negative(self.weight_decay)
            && trainer::non_negative(self.partial_last_day_ratio);
        if !rates {
            return Err("learning_rate must be > 0; l2_penalty, weight_decay and partial_last_day_ratio finite and >= 0".into());
        }
        Ok(())
    }
}

impl From<ForecastError> for TrainError {
    fn from(e: ForecastError) -> Self {
        TrainError::Model(Box::new(e))
    }
}

pub struct ForecastTrainer;

impl Trainer for ForecastTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), crate::config::ConfigError> {
        trainer::settings::<ForecastSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<PreparedJob<'a>, TrainError> {
        let sales = match trainer::sales_with(exports, &[]) {
            Ok(sales) => sales,
            Err(reason) => return Ok(PreparedJob::Skip(reason)),
        };
        let settings = trainer::settings(config, NAME)?;
        Ok(PreparedJob::Job(Box::new(ForecastJob { sales, settings, beside: false })))
    }
}

struct ForecastJob<'a> {
    sales: &'a Sales,
    settings: ForecastSettings,
    /// Whether the whole forecast trains beside the stages.
    beside: bool,
}

impl<'a> Job<'a> for ForecastJob<'a> {
    /// The forecast's nets draw random numbers only where their fits start (no dropout
    /// applies): drawn here, before any other stage draws, they train beside the stages.
    fn beside(
        &mut self,
        config: &'a TrainConfig,
        split: &'a Split,
        _progress: &crate::progress::Progress,
    ) -> Result<Option<BesideWork<'a>>, TrainError> {
        if !(config.overlap_stages && draws_only_at_start(&self.settings)) {
            return Ok(None);
        }
        let prepared = prepare(self.sales, split, &self.settings)?;
        let initial = initial_nets(&prepared, &self.settings, config.seed);
        let settings = self.settings.clone();
        self.beside = true;
        Ok(Some(Box::new(move |abandon: &Abandon, progress: &crate::progress::Progress| {
            // Its operations are short: they share rayon's global pool with the stages'.
            let stage = progress.stage_beside("forecast");
            let trained =
                train(prepared, split, &settings, config.seed, Some(initial), &stage, abandon);
            match &trained {
                Ok(trained) => stage.finish(trained.summary()),
                Err(e) => stage.finish(e.to_string()),
            };
            Ok(Box::new(trained?) as Box<dyn std::any::Any + Send>)
        })))
    }

    fn collects_last(&self) -> bool {
        self.beside
    }

    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        if let Some(wait) = beside {
            let trained = wait()?.downcast::<TrainedForecast>().map_err(|_| {
                TrainError::Invalid("forecast: the work beside returned another model".into())
            })?;
            return Ok(trained);
        }
        trainer::staged(run.progress, "forecast", |stage| {
            let prepared = prepare(self.sales, run.split, &self.settings)?;
            let trained = train(
                prepared,
                run.split,
                &self.settings,
                run.config.seed,
                None,
                stage,
                &Abandon::default(),
            )?;
            Ok(Box::new(trained))
        })
    }
}

impl TrainedModel for TrainedForecast {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(ForecastSections { forecast: self.metrics.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.metrics;
        format!(
            "mean MASE {:.3}, WAPE {:.3}, sMAPE {:.1}, 80% coverage {:.2}, MSIS {:.2} ({} series)",
            m.mase_mean, m.wape_mean, m.smape_mean, m.coverage80, m.msis80_mean, m.series_trained
        )
    }

    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        report_section(self, report);
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::forecast::save(
            writer,
            self.model,
            &self.model_config,
            &self.encoder,
            &self.calibration,
            &self.baselines,
        )?;
        Ok(())
    }
}

/// The forecast's report section: the protocol's figures against the naive forecasts and the
/// published baselines, per series, and the test days of the first series drawn.
fn report_section(f: &TrainedForecast, report: &mut ReportWriter<'_>) {
    let fm = &f.metrics;
    let measure = match fm.measure.as_str() {
        "units" => "units ordered".to_owned(),
        "revenue" => format!("revenue ({})", report.currency),
        _ => "order lines".to_owned(),
    };
    let closed = if fm.closed_weekdays.is_empty() {
        String::new()
    } else {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let closed: Vec<&str> = fm.closed_weekdays.iter().map(|&d| names[d as usize % 7]).collect();
        format!("; closed on {} (not demand: left out of training and figures)", closed.join(", "))
    };
    report.line(format!(
        "### Demand forecast\n\nForecast once from the origin for the test days; {measure} per day; {} series trained, up to {} days ahead{}{closed}.\n",
        fm.series_trained,
        fm.horizon_days,
        if fm.yearly { ", reading the year's shape from earlier years" } else { "" },
    ));
    let mut columns = vec![(
        "seasonal naive, last week (computed)",
        vec![Some(fm.seasonal_naive_mase_mean), Some(fm.seasonal_naive_wape_mean)],
    )];
    if fm.yearly_naive_mase_mean.is_some() {
        columns.push((
            "yearly naive, 364 days before (computed)",
            vec![fm.yearly_naive_mase_mean, fm.yearly_naive_wape_mean],
        ));
    }
    report.comparison(
        "forecast (mean of 5)",
        &[
            ("MASE", Some(fm.mase_mean)),
            ("WAPE", Some(fm.wape_mean)),
            ("sMAPE", Some(fm.smape_mean)),
            ("80% coverage", Some(fm.coverage80)),
            ("MSIS (80%)", Some(fm.msis80_mean)),
        ],
        &columns,
    );
    if let Some(w) = &fm.weekly {
        report.line(format!(
            "Weekly total ({} weeks, sums of the days' expected values): MASE **{:.3}**, WAPE {:.3}; last week repeated {:.3}, the same week a year before {}.\n",
            w.weeks,
            w.mase,
            w.wape,
            w.naive_mase,
            w.same_week_last_year_mase.map_or("—".to_owned(), |v| format!("{v:.3}"))
        ));
    }
    if !fm.measures.is_empty() {
        report.line("What serves, by measure, against the seasonal naive forecasts (protocol series, test days):\n\n| measure | MASE | WAPE | last week repeated | a year before |\n|---|---|---|---|---|");
        for (measure, m) in &fm.measures {
            report.line(format!(
                "| {measure} | **{:.3}** | {:.3} | {:.3} | {} |",
                m.mase_mean,
                m.wape_mean,
                m.seasonal_naive_mase_mean,
                m.yearly_naive_mase_mean.map_or("—".into(), |v| format!("{v:.3}"))
            ));
        }
        report.line("");
    }
    for backtest in &fm.backtests {
        report.backtest(backtest);
    }
    report.line(
        "| series | MASE | WAPE | sMAPE | 80% coverage | MSIS (80%) |\n|---|---|---|---|---|---|",
    );
    for (series, s) in &fm.per_series {
        report.line(format!(
            "| {series} | {:.3} | {:.3} | {:.1} | {:.2} | {:.2} |",
            s.mase, s.wape, s.smape, s.coverage80, s.msis80
        ));
    }
    report.line("");
    for (i, (name, days)) in f.test_paths.iter().enumerate().take(6) {
        let series = [
            ("actual".to_owned(), days.iter().map(|d| (d.0, d.1)).collect()),
            ("forecast (P50)".to_owned(), days.iter().map(|d| (d.0, d.3)).collect()),
        ];
        let band = ("P10–P90".to_owned(), days.iter().map(|d| (d.0, d.2, d.4)).collect());
        let svg = shopml_core::charts::lines_with_band(
            &format!("{name}: the last test origin's forecast against the actual"),
            &series,
            Some(&band),
            &|v| format!("{v:.0}"),
        );
        let file =
            if i == 0 { "forecast_test.svg".to_owned() } else { format!("forecast_test_{i}.svg") };
        report.chart(&file, svg, &format!("forecast vs actual with intervals: {name}"));
    }
}
