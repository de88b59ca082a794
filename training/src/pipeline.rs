//! The training job: read the exports, train and evaluate every model the data allows, and
//! write the bundle with its metrics.

use crate::config::TrainConfig;
use crate::data::{self, Exports};
use crate::error::DataError;
use crate::fit::Abandon;
use crate::progress::Progress;
use crate::{cancellation, forecast, price, segments, sentiment};
use chrono::Utc;
use shopml::bundle::{BundleError, BundleWriter, Manifest};
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;

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
    pub metrics: serde_json::Value,
    pub cancellation: Option<cancellation::TrainedCancellation>,
    pub price: Option<price::TrainedPrice>,
    pub sentiment: Option<sentiment::TrainedSentiment>,
    pub forecast: Option<forecast::TrainedForecast>,
    pub segments: Option<segments::TrainedSegments>,
    pub data_source: String,
    /// The status of a cancelled line (for the report's insights).
    pub config_cancelled_status: String,
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
    let models = train_models(&exports, config, progress)?;
    Ok(Trained {
        data_source: data_dir.display().to_string(),
        exports,
        metrics: serde_json::Value::Object(models.metrics),
        cancellation: models.cancellation,
        price: models.price,
        sentiment: models.sentiment,
        forecast: models.forecast,
        segments: models.segments,
        config_cancelled_status: config.columns.sales.cancelled_status.clone(),
    })
}

/// The models a run trained, and their figures.
struct Models {
    metrics: serde_json::Map<String, serde_json::Value>,
    cancellation: Option<cancellation::TrainedCancellation>,
    price: Option<price::TrainedPrice>,
    sentiment: Option<sentiment::TrainedSentiment>,
    forecast: Option<forecast::TrainedForecast>,
    segments: Option<segments::TrainedSegments>,
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
) -> Result<Models, TrainError> {
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

/// What trains on threads of its own beside the stages of [`train_stages`].
struct Beside<'scope> {
    /// The product-text models (sentiment waits for them).
    product_texts: Option<
        ScopedJoinHandle<'scope, Result<sentiment::ProductTextModels, sentiment::SentimentError>>,
    >,
    /// The whole forecast stage (waited for at the end).
    forecast: Option<
        ScopedJoinHandle<'scope, Result<forecast::TrainedForecast, forecast::ForecastError>>,
    >,
}

/// The result of a thread beside the stages (its panic goes on here).
fn join<T>(thread: ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn forecast_summary(m: &forecast::ForecastMetrics) -> String {
    format!(
        "mean MASE {:.3}, WAPE {:.3}, sMAPE {:.1}, 80% coverage {:.2}, MSIS {:.2} ({} series)",
        m.mase_mean, m.wape_mean, m.smape_mean, m.coverage80, m.msis80_mean, m.series_trained
    )
}

/// The stages of [`train_models`] on the current thread, and the results of those `beside`
/// them (sentiment waits for the product-text models, so the stages that need nothing of them
/// run before).
fn train_stages(
    exports: &Exports,
    config: &TrainConfig,
    progress: &Progress,
    beside: Beside<'_>,
) -> Result<Models, TrainError> {
    let Beside { product_texts, forecast: forecast_beside } = beside;
    let mut metrics_json = serde_json::Map::new();
    let mut trained_cancellation = None;
    if let Some(sales) = exports.sales.as_ref().filter(|_| config.trains("cancellation")) {
        let stage = progress.stage("cancellation");
        let trained = cancellation::train(
            &sales.lines,
            &config.columns.sales,
            &config.split,
            &config.cancellation,
            config.seed,
            &stage,
        )?;
        let m = &trained.metrics;
        stage.finish(format!(
            "ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}",
            m.roc_auc, m.pr_auc, m.brier, m.log_loss
        ));
        metrics_json
            .insert("cancellation".into(), serde_json::to_value(m).expect("metrics serialise"));
        trained_cancellation = Some(trained);
    }
    let mut trained_price = None;
    if let Some(products) = exports.products.as_ref().filter(|_| config.trains("price")) {
        let stage = progress.stage("price");
        let trained =
            price::train(&products.products, &config.split, &config.price, config.seed, &stage)?;
        let m = &trained.metrics;
        stage.finish(format!(
            "R²(ln) {:.4}, R² {:.4}, MAE ₹{:.0}, MAPE {:.1}%, P10–P90 coverage {:.2}",
            m.r2_log, m.r2, m.mae_inr, m.mape_pct, m.interval_coverage
        ));
        metrics_json.insert("price".into(), serde_json::to_value(m).expect("metrics serialise"));
        trained_price = Some(trained);
    }
    let mut trained_forecast = None;
    if forecast_beside.is_none()
        && let Some(sales) = exports.sales.as_ref().filter(|_| config.trains("forecast"))
    {
        let stage = progress.stage("forecast");
        let prepared = forecast::prepare(&sales.lines, &config.split, &config.forecast)?;
        let trained = forecast::train(
            prepared,
            &config.split,
            &config.forecast,
            config.seed,
            None,
            &stage,
            &Abandon::default(),
        )?;
        stage.finish(forecast_summary(&trained.metrics));
        trained_forecast = Some(trained);
    }
    let mut trained_sentiment = None;
    if let Some(reviews) = exports.reviews.as_ref().filter(|_| config.trains("sentiment")) {
        let stage = progress.stage("sentiment");
        let products = exports.products.as_ref().map(|p| p.products.as_slice());
        // The review model trains first, while the product-text models may still be training.
        let fitted_beside = product_texts
            .map(|thread| -> sentiment::FittedBeside<'_> { Box::new(move || join(thread)) });
        let trained = sentiment::train(
            &reviews.reviews,
            products,
            fitted_beside,
            &config.split,
            &config.sentiment,
            config.seed,
            &stage,
        )?;
        let r = &trained.review_metrics.figures;
        let mut summary = format!(
            "reviews: macro-F1 {:.3}, neg-F1 {:.3}, ROC-AUC {:.4}",
            r.macro_f1, r.neg_f1, r.roc_auc
        );
        metrics_json.insert(
            "sentiment_reviews".into(),
            serde_json::to_value(&trained.review_metrics).expect("metrics serialise"),
        );
        if let Some(p) = &trained.product_metrics {
            summary += &format!(
                "; products: macro-F1 {:.3}, ROC-AUC {:.4}",
                p.figures.macro_f1, p.figures.roc_auc
            );
            metrics_json.insert(
                "sentiment_products".into(),
                serde_json::to_value(p).expect("metrics serialise"),
            );
        }
        stage.finish(summary);
        trained_sentiment = Some(trained);
    }
    let mut trained_segments = None;
    if config.trains("segments")
        && (exports.products.is_some() || exports.customers.is_some() || exports.sales.is_some())
    {
        let stage = progress.stage("segments");
        let predictor = trained_sentiment.as_ref().map(|s| {
            shopml::sentiment::SentimentPredictor::new(
                s.encoder.clone(),
                s.model.clone(),
                s.calibration.clone(),
            )
        });
        let inputs = segments::SegmentInputs {
            products: exports.products.as_ref().map(|p| p.products.as_slice()),
            purchases: exports.customers.as_ref().map(|c| c.purchases.as_slice()),
            sales: exports.sales.as_ref().map(|s| s.lines.as_slice()),
            sales_columns: &config.columns.sales,
            sentiment: predictor.as_ref(),
        };
        let trained = segments::train(inputs, &config.segments, config.seed, &stage);
        let summary: Vec<String> = [
            ("products", &trained.metrics.products),
            ("customers", &trained.metrics.customers),
            ("regions", &trained.metrics.regions),
        ]
        .iter()
        .filter_map(|(name, m)| {
            m.as_ref().map(|m| format!("{name}: k = {}, silhouette {:.3}", m.k, m.silhouette))
        })
        .collect();
        stage.finish(summary.join("; "));
        metrics_json.insert(
            "segments".into(),
            serde_json::to_value(&trained.metrics).expect("metrics serialise"),
        );
        trained_segments = Some(trained);
    }
    if let Some(thread) = forecast_beside {
        trained_forecast = Some(join(thread)?);
    }
    if let Some(trained) = &trained_forecast {
        metrics_json.insert(
            "forecast".into(),
            serde_json::to_value(&trained.metrics).expect("metrics serialise"),
        );
    }
    metrics_json.insert(
        "data_quality".into(),
        serde_json::to_value(exports.reports()).expect("reports serialise"),
    );
    Ok(Models {
        metrics: metrics_json,
        cancellation: trained_cancellation,
        price: trained_price,
        sentiment: trained_sentiment,
        forecast: trained_forecast,
        segments: trained_segments,
    })
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
    if let Some(c) = trained.cancellation {
        shopml::cancellation::save(
            &mut writer,
            c.model,
            &c.model_config,
            &c.encoder,
            &c.calibration,
        )?;
    }
    if let Some(p) = trained.price {
        shopml::price::save(&mut writer, p.model, &p.model_config, &p.encoder, &p.calibration)?;
    }
    if let Some(s) = trained.sentiment {
        shopml::sentiment::save(&mut writer, s.model, &s.model_config, &s.encoder, &s.calibration)?;
    }
    if let Some(f) = trained.forecast {
        shopml::forecast::save(&mut writer, f.model, &f.model_config, &f.encoder, &f.calibration)?;
    }
    if let Some(s) = trained.segments {
        shopml::segments::save(
            &mut writer,
            &s.sets,
            &s.bought_together,
            serde_json::to_value(&config.segments).expect("config serialises"),
        )?;
    }
    writer.write_json(shopml::bundle::METRICS_FILE, &trained.metrics)?;
    let manifest = writer.finish(
        created_at,
        trained.data_source,
        trained.exports.fingerprint.clone(),
        serde_json::to_value(config).expect("config serialises"),
    )?;
    Ok(manifest)
}
