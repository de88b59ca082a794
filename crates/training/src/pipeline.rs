//! The training job: read the exports, train and evaluate every model the data allows, and
//! write the bundle with its metrics.

use crate::config::TrainConfig;
use crate::data::{self, Exports};
use crate::error::DataError;
use crate::fit::Abandon;
use crate::progress::Progress;
use crate::trainers::{
    Beside, Run, TRAINERS, TrainedModels, Trainer, TrainingMetrics, forecast_summary,
};
use crate::{cancellation, forecast, price, sentiment};
use chrono::Utc;
use shopml_core::bundle::{BundleError, BundleWriter, Manifest};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Cancellation(#[from] cancellation::CancellationError),
    #[error(transparent)]
    Price(#[from] price::PriceError),
    #[error(transparent)]
    Sentiment(#[from] sentiment::SentimentError),
    #[error(transparent)]
    Forecast(#[from] forecast::ForecastError),
    #[error("{0}")]
    Invalid(String),
}

/// What a run produced, before anything is published.
pub struct Trained {
    pub exports: Exports,
    pub metrics: TrainingMetrics,
    pub models: TrainedModels,
    pub data_source: String,
    /// The status of a cancelled line (for the report's insights).
    pub config_cancelled_status: String,
}

/// The generated sample (`crates/training/data`, written on first use with the default seed): what a
/// run without `--data-dir` trains on.
pub fn default_data_dir() -> std::io::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    crate::generate::ensure_sample(&dir, TrainConfig::defaults().seed)?;
    Ok(dir)
}

/// Reads the exports and trains every model they allow.
pub fn train(
    data_dir: &Path,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<Trained, TrainError> {
    let stage = progress.stage("read");
    let exports = data::read_exports(data_dir, config)?;
    for report in exports.reports() {
        for line in report.summary_lines() {
            progress.log(&line);
        }
    }
    stage.finish(format!("{} files", exports.fingerprint.len()));
    let (models, metrics) = train_models(&exports, config, progress)?;
    Ok(Trained {
        data_source: data_dir.display().to_string(),
        exports,
        metrics,
        models,
        config_cancelled_status: config.columns.sales.cancelled_status.clone(),
    })
}

/// A thread pool for long jobs beside the stages (with one core per thread, like rayon's
/// global pool): Burn's CPU operations of the stages run on the global pool, where they would
/// wait behind long jobs that the work beside had queued there.
fn pool_beside(name: &'static str) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().thread_name(move |i| format!("{name}-{i}")).build()
}

/// Trains every model the exports allow, one stage after another, except (with
/// `overlap_stages`) what can train beside them without changing a result (the cores are
/// otherwise half idle: most stages run on one): the per-product protocol's product-text
/// models when they draw no random numbers (see [`sentiment::product_texts_train_beside`]),
/// on a thread pool of their own, and the forecast when its nets draw only where their fits
/// start (see [`forecast::draws_only_at_start`]), on a thread of its own.
fn train_models(
    exports: &Exports,
    config: &TrainConfig,
    progress: &Progress,
) -> Result<(TrainedModels, TrainingMetrics), TrainError> {
    let sentiment_products = exports.products.as_ref().filter(|_| {
        config.overlap_stages && exports.reviews.is_some() && config.trains("sentiment")
    });
    let pool = match sentiment_products {
        Some(_) if sentiment::product_texts_train_beside(&config.sentiment)? => {
            match pool_beside("product-texts") {
                Ok(pool) => Some(pool),
                Err(e) => {
                    progress.log(&format!("the product-text models train in the sentiment stage: no threads for them beside the others ({e})"));
                    None
                }
            }
        }
        _ => None,
    };
    // The forecast's nets draw random numbers only where their fits start (no dropout applies):
    // drawn here, before any other stage draws, they train beside the stages.
    let forecast_sales = exports.sales.as_ref().filter(|_| {
        config.overlap_stages
            && config.trains("forecast")
            && forecast::draws_only_at_start(&config.forecast)
    });
    let forecast_start = forecast_sales
        .map(|sales| forecast::prepare(&sales.lines, &config.split, &config.forecast))
        .transpose()?
        .map(|prepared| {
            let initial = forecast::initial_nets(&prepared, &config.forecast, config.seed);
            (prepared, initial)
        });
    let abandon = &Abandon::default();
    std::thread::scope(|scope| {
        // Its operations are short: they share rayon's global pool with the stages'.
        let forecast = forecast_start.map(|(prepared, initial)| {
            scope.spawn(move || {
                let stage = progress.stage_beside("forecast");
                let trained = forecast::train(
                    prepared,
                    &config.split,
                    &config.forecast,
                    config.seed,
                    Some(initial),
                    &stage,
                    abandon,
                );
                match &trained {
                    Ok(trained) => stage.finish(forecast_summary(&trained.metrics)),
                    Err(e) => stage.finish(e.to_string()),
                };
                trained
            })
        });
        let product_texts = sentiment_products.zip(pool).map(|(products, pool)| {
            scope.spawn(move || {
                let stage = progress.stage_beside("product texts");
                let fitted = pool.install(|| {
                    stage.set_length(sentiment::product_text_fits(&config.sentiment)?);
                    sentiment::fit_product_texts(
                        &products.products,
                        &config.split,
                        &config.sentiment,
                        config.seed,
                        &stage,
                        abandon,
                    )
                });
                match &fitted {
                    Ok(_) => stage.finish("fitted for the sentiment stage"),
                    Err(e) => stage.finish(e.to_string()),
                };
                fitted
            })
        });
        let trained = train_stages(exports, config, progress, Beside { product_texts, forecast });
        if trained.is_err() {
            abandon.set();
        }
        trained
    })
}

/// Runs every trainer of [`TRAINERS`] the configuration asks for and the exports allow, on
/// the current thread, then collects what trained `beside` the stages.
fn train_stages(
    exports: &Exports,
    config: &TrainConfig,
    progress: &Progress,
    beside: Beside<'_>,
) -> Result<(TrainedModels, TrainingMetrics), TrainError> {
    let mut run = Run { exports, config, progress, beside, models: TrainedModels::default() };
    let wanted = |t: &&&dyn Trainer| config.trains(t.name()) && t.needs().met_by(exports);
    for trainer in TRAINERS.iter().filter(wanted) {
        trainer.train(&mut run)?;
    }
    for trainer in TRAINERS {
        trainer.finish(&mut run)?;
    }
    let metrics = TrainingMetrics::of(&run.models, exports);
    Ok((run.models, metrics))
}

/// The report of a bundle: REPORT.md and its SVG files (name, content).
pub struct Report {
    pub markdown: String,
    pub charts: Vec<(String, String)>,
}

/// Builds the report of a trained run.
pub fn report(
    trained: &Trained,
    created_at: chrono::DateTime<Utc>,
    timings: &crate::report::Timings<'_>,
    baselines: &[crate::report::Baseline],
) -> Report {
    let note = format!(
        "Trained {} by shopml {}; the bundle's version and input hashes are in manifest.json beside this file.",
        created_at.format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION")
    );
    let (markdown, charts) = crate::report::build(trained, &note, timings, baselines);
    Report { markdown, charts }
}

/// Checks before training that the bundle can be published at `out`: a target publishing
/// would destroy is refused (see [`shopml_core::bundle::check_target`]), and the directory it
/// goes into must be writable, so a run does not fail only after training.
pub fn check_out(out: &Path) -> Result<(), TrainError> {
    shopml_core::bundle::check_target(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let unwritable = |source| BundleError::Io { path: parent.clone(), source };
    std::fs::create_dir_all(&parent).map_err(unwritable)?;
    let probe = parent.join(format!(".shopml-write-check-{}", std::process::id()));
    std::fs::create_dir(&probe).and_then(|()| std::fs::remove_dir(&probe)).map_err(unwritable)?;
    Ok(())
}

/// Writes the bundle atomically at `out`.
pub fn write_bundle(
    trained: Trained,
    config: &TrainConfig,
    out: &Path,
) -> Result<Manifest, TrainError> {
    write_bundle_with_report(trained, config, out, Utc::now(), None)
}

/// Writes the bundle atomically at `out`, with its report.
pub fn write_bundle_with_report(
    trained: Trained,
    config: &TrainConfig,
    out: &Path,
    created_at: chrono::DateTime<Utc>,
    report: Option<Report>,
) -> Result<Manifest, TrainError> {
    let mut writer = BundleWriter::create(out)?;
    if let Some(report) = report {
        writer.write_bytes("REPORT.md", report.markdown.as_bytes())?;
        for (name, svg) in &report.charts {
            writer.write_bytes(&format!("report/{name}"), svg.as_bytes())?;
        }
    }
    let mut models = trained.models;
    for trainer in TRAINERS {
        trainer.save(&mut models, config, &mut writer)?;
    }
    writer.write_json(shopml_core::bundle::METRICS_FILE, &trained.metrics.to_json())?;
    let manifest = writer.finish(
        created_at,
        trained.data_source,
        trained.exports.fingerprint.clone(),
        serde_json::to_value(config).expect("config serialises"),
    )?;
    Ok(manifest)
}
