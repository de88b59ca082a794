//! The training job: read the exports, train and evaluate every model the data allows, and
//! write the bundle with its metrics.

use crate::config::{Split, TrainConfig};
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
    #[error(transparent)]
    CustomerValue(#[from] crate::customer_value::CustomerValueError),
    #[error("{0}")]
    Invalid(String),
}

/// What a run produced, before anything is published.
pub struct Trained {
    pub exports: Exports,
    pub metrics: TrainingMetrics,
    pub models: TrainedModels,
    pub data_source: String,
    /// The protocol of the run, with the dates derived from the export filled in.
    pub split: Split,
    /// Models not trained, with the reason (a missing export or field, or not asked for).
    pub skipped: Vec<Skipped>,
}

/// A model the run did not train, and why.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Skipped {
    pub model: String,
    pub reason: String,
}

/// The generated sample (`training/data`, written on first use with the default seed): what a
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
    let split = resolve_split(&exports, config)?;
    let skipped: Vec<Skipped> = TRAINERS
        .iter()
        .filter_map(|t| {
            let reason = if !config.trains(t.name()) {
                Some("not in the configuration's `models`".to_owned())
            } else {
                t.skip_reason(&exports, config)
            };
            reason.map(|reason| Skipped { model: t.name().to_owned(), reason })
        })
        .collect();
    for s in &skipped {
        progress.log(&format!("{}: skipped: {}", s.model, s.reason));
    }
    let (models, mut metrics) = train_models(&exports, config, &split, &skipped, progress)?;
    metrics.skipped = skipped.clone();
    metrics.split = Some(split.clone());
    metrics.currency = exports.sales.as_ref().map(|s| s.currency.clone());
    Ok(Trained {
        data_source: data_dir.display().to_string(),
        exports,
        metrics,
        models,
        split,
        skipped,
    })
}

/// The run's protocol: the configured dates, the others derived from the order dates.
fn resolve_split(exports: &Exports, config: &TrainConfig) -> Result<Split, TrainError> {
    let sales = exports.sales.as_ref().expect("the order-line export is required");
    let first = sales.lines.iter().map(|l| l.date).min();
    let last = sales.lines.iter().map(|l| l.date).max();
    match first.zip(last) {
        Some((first, last)) => Ok(config.split.resolve(first, last)),
        None => Err(TrainError::Invalid(format!(
            "{}: no order line left after cleaning",
            sales.report.file
        ))),
    }
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
    split: &Split,
    skipped: &[Skipped],
    progress: &Progress,
) -> Result<(TrainedModels, TrainingMetrics), TrainError> {
    let sentiment_products = exports.products.as_ref().filter(|_| {
        config.overlap_stages && !skipped.iter().any(|s| s.model == shopml_core::sentiment::NAME)
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
            && !skipped.iter().any(|s| s.model == shopml_core::forecast::NAME)
            && forecast::draws_only_at_start(&config.forecast)
    });
    let forecast_start = forecast_sales
        .map(|sales| forecast::prepare(sales, split, &config.forecast))
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
                    split,
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
                        split,
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
        let beside = Beside { product_texts, forecast };
        let trained = train_stages(exports, config, split, skipped, progress, beside);
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
    split: &Split,
    skipped: &[Skipped],
    progress: &Progress,
    beside: Beside<'_>,
) -> Result<(TrainedModels, TrainingMetrics), TrainError> {
    let mut run =
        Run { exports, config, split, progress, beside, models: TrainedModels::default() };
    let wanted = |t: &&&dyn Trainer| !skipped.iter().any(|s| s.model == t.name());
    for trainer in TRAINERS.iter().filter(wanted) {
        trainer.train(&mut run)?;
    }
    for trainer in TRAINERS {
        trainer.finish(&mut run)?;
    }
    let metrics = TrainingMetrics::of(&run.models, exports);
    Ok((run.models, metrics))
}

/// The report of a bundle: REPORT.md and its SVG files (name, content), and REPORT.html, the
/// same document with its charts inline.
pub struct Report {
    pub markdown: String,
    pub charts: Vec<(String, String)>,
    pub html: String,
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
    let html = crate::report::html(&markdown, &charts);
    Report { markdown, charts, html }
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
    writer.set_currency(&config.money.currency);
    for skipped in &trained.skipped {
        writer.skip_model(&skipped.model, &skipped.reason);
    }
    if let Some(report) = report {
        writer.write_bytes("REPORT.md", report.markdown.as_bytes())?;
        writer.write_bytes("REPORT.html", report.html.as_bytes())?;
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
