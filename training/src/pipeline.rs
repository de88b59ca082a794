//! The training job: read the exports, let every trainer of [`TRAINERS`] prepare its job (or
//! say why it cannot train), run the jobs — those that may, beside the others — and write the
//! bundle with its metrics and report. Nothing here names a model.

use crate::TRAINERS;
use crate::config::{ConfigError, Split, TrainConfig};
use crate::data::clean::CleaningReport;
use crate::data::{self, Exports};
use crate::fit::Abandon;
use crate::progress::Progress;
use crate::report::{self, Baseline, ReportWriter, Timings};
use crate::trainer::{BesideResult, Job, Prepared, Run, TrainedModel};
pub use crate::trainer::{Skipped, TrainError};
use chrono::Utc;
use serde::Serialize;
use shopml_core::bundle::{BundleError, BundleWriter, Manifest};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;

/// What a run produced, before anything is published.
pub struct Trained {
    pub exports: Exports,
    /// The trained models, in the order of [`TRAINERS`].
    pub models: Vec<Box<dyn TrainedModel>>,
    /// metrics.json: every model's sections and the run's own.
    pub metrics: serde_json::Value,
    /// Where the exports came from, as the bundle records it: the directory's name, or the
    /// generated sample (never a path of this machine).
    pub data_source: String,
    /// The protocol of the run, with the dates derived from the export filled in.
    pub split: Split,
    /// Models not trained, with the reason (a missing export or field, or not asked for).
    pub skipped: Vec<Skipped>,
}

impl Trained {
    /// A trained model by its type.
    pub fn model<T: TrainedModel>(&self) -> Option<&T> {
        self.models.iter().find_map(|m| (m.as_ref() as &dyn Any).downcast_ref::<T>())
    }
}

/// The run's own figures in metrics.json, beside the models' sections.
#[derive(Serialize)]
struct RunFigures<'a> {
    /// What cleaning did to each export.
    data_quality: Vec<&'a CleaningReport>,
    /// Models not trained, and why.
    skipped: &'a [Skipped],
    /// The protocol the figures follow (dates derived from the export included).
    split: &'a Split,
    /// ISO 4217 code of every money figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
}

/// metrics.json of a run: each model's sections and the run's figures, keys sorted.
fn metrics_json(
    models: &[Box<dyn TrainedModel>],
    exports: &Exports,
    skipped: &[Skipped],
    split: &Split,
) -> serde_json::Value {
    let run = RunFigures {
        data_quality: exports.reports(),
        skipped,
        split,
        currency: exports.sales.as_ref().map(|s| s.currency.as_str()),
    };
    let mut all = serde_json::to_value(run).expect("figures serialise");
    let sections = all.as_object_mut().expect("an object");
    for model in models {
        if let serde_json::Value::Object(own) = model.metrics() {
            sections.extend(own);
        }
    }
    all
}

/// The generated sample (`training/data`, written on first use with the default seed): what a
/// run without `--data-dir` trains on.
pub fn default_data_dir() -> std::io::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    crate::generate::ensure_sample(&dir, crate::pipeline::default_config().seed)?;
    Ok(dir)
}

/// How the bundle names where its exports came from: never a path of this machine.
pub fn data_source(data_dir: &Path) -> String {
    if data_dir == Path::new(env!("CARGO_MANIFEST_DIR")).join("data") {
        return "generated sample".into();
    }
    data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_owned())
        .file_name()
        .map_or_else(|| ".".to_owned(), |name| name.to_string_lossy().into_owned())
}

/// Loads the training configuration from `files` (see [`TrainConfig::load_all`]) and checks
/// it whole: every model named is known and every model's table parses and is in range.
pub fn load_config(files: &[&Path]) -> Result<TrainConfig, ConfigError> {
    let names: Vec<&str> = TRAINERS.iter().map(|t| t.name()).collect();
    let config = TrainConfig::load_all(files, &names)?;
    for trainer in TRAINERS {
        trainer.check_settings(&config)?;
    }
    Ok(config)
}

/// The built-in configuration: the documented defaults and the built-in retailer profile.
pub fn default_config() -> TrainConfig {
    load_config(&[]).expect("built-in defaults are valid")
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
    let (models, skipped) = train_models(&exports, config, &split, progress)?;
    let metrics = metrics_json(&models, &exports, &skipped, &split);
    Ok(Trained { data_source: data_source(data_dir), exports, models, metrics, split, skipped })
}

/// The run's protocol: the configured dates, the others derived from the order dates.
fn resolve_split(exports: &Exports, config: &TrainConfig) -> Result<Split, TrainError> {
    let sales = exports
        .sales
        .as_ref()
        .ok_or_else(|| TrainError::Invalid("the order-line export is required".into()))?;
    match sales.first_date().zip(sales.last_date()) {
        Some((first, last)) => Ok(config.split.resolve(first, last)),
        None => Err(TrainError::Invalid(format!(
            "{}: no order line left after cleaning",
            sales.report.file
        ))),
    }
}

/// Each trainer's job on `exports`, or why it is skipped, in the list's order.
fn prepare<'a>(
    exports: &'a Exports,
    config: &'a TrainConfig,
    progress: &Progress,
) -> Result<Jobs<'a>, TrainError> {
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for trainer in TRAINERS {
        let model = trainer.name().to_owned();
        if !config.trains(trainer.name()) {
            skipped.push(Skipped { model, reason: "not in the configuration's `models`".into() });
            continue;
        }
        match trainer.prepare(exports, config)? {
            Prepared::Job(job) => jobs.push(job),
            Prepared::Skip(reason) => skipped.push(Skipped { model, reason }),
        }
    }
    for s in &skipped {
        progress.log(&format!("{}: skipped: {}", s.model, s.reason));
    }
    Ok((jobs, skipped))
}

/// The jobs of a run, and the models it skips.
type Jobs<'a> = (Vec<Box<dyn Job<'a> + 'a>>, Vec<Skipped>);

/// The trained models of a run, and the models it skipped.
type Models = (Vec<Box<dyn TrainedModel>>, Vec<Skipped>);

type Handle<'scope> = ScopedJoinHandle<'scope, Result<Box<dyn Any + Send>, TrainError>>;

/// Trains every job, one stage after another, except (with `overlap_stages`) the work a job
/// can do beside the stages without changing a result: started first, in the list's order
/// (so that random numbers are drawn in a fixed order), each on a thread of its own, while
/// the cores are otherwise half idle (most stages run on one).
fn train_models(
    exports: &Exports,
    config: &TrainConfig,
    split: &Split,
    progress: &Progress,
) -> Result<Models, TrainError> {
    let (mut jobs, skipped) = prepare(exports, config, progress)?;
    let abandon = &Abandon::default();
    let mut beside = Vec::with_capacity(jobs.len());
    for job in &mut jobs {
        beside.push(job.beside(config, split, progress)?);
    }
    let models = std::thread::scope(|scope| {
        let handles: Vec<Option<Handle<'_>>> = beside
            .into_iter()
            .map(|work| work.map(|work| scope.spawn(move || work(abandon, progress))))
            .collect();
        let trained = train_stages(jobs, handles, exports, config, split, progress);
        if trained.is_err() {
            abandon.set();
        }
        trained
    })?;
    Ok((models, skipped))
}

/// Runs each job's stage in the list's order, those that collect what trained beside the
/// stages last; the models come back in the list's order.
fn train_stages<'a>(
    jobs: Vec<Box<dyn Job<'a> + 'a>>,
    handles: Vec<Option<Handle<'_>>>,
    exports: &'a Exports,
    config: &'a TrainConfig,
    split: &'a Split,
    progress: &Progress,
) -> Result<Vec<Box<dyn TrainedModel>>, TrainError> {
    let (last, first): (Vec<_>, Vec<_>) =
        jobs.into_iter().zip(handles).enumerate().partition(|(_, (job, _))| job.collects_last());
    let mut trained: Vec<(usize, Box<dyn TrainedModel>)> = Vec::new();
    for (index, (job, handle)) in first.into_iter().chain(last) {
        let so_far: Vec<&dyn TrainedModel> = trained.iter().map(|(_, m)| m.as_ref()).collect();
        let run = Run { exports, config, split, progress, trained: &so_far };
        let wait = handle.map(|handle| -> BesideResult<'_> { Box::new(move || join(handle)) });
        let model = job.train(&run, wait)?;
        trained.push((index, model));
    }
    trained.sort_by_key(|(index, _)| *index);
    Ok(trained.into_iter().map(|(_, model)| model).collect())
}

/// The result of a thread beside the stages (its panic goes on here).
fn join<T>(thread: ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The report of a bundle: REPORT.md and its SVG files (name, content), and REPORT.html, the
/// same document with its charts inline.
pub struct Report {
    pub markdown: String,
    pub charts: Vec<(String, String)>,
    pub html: String,
}

/// Builds the report of a trained run: its head, each model's quality section, then each
/// model's part of the business insights.
pub fn report(
    trained: &Trained,
    created_at: chrono::DateTime<Utc>,
    timings: &Timings<'_>,
    baselines: &[Baseline],
) -> Report {
    let note = format!(
        "Trained {} by shopml {} on {}; the bundle's version and input hashes are in manifest.json beside this file.",
        created_at.format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION"),
        trained.data_source
    );
    let currency = trained.exports.sales.as_ref().map_or("", |s| s.currency.as_str());
    let mut writer = ReportWriter::new(currency, baselines);
    let skipped: Vec<(String, String)> =
        trained.skipped.iter().map(|s| (s.model.clone(), s.reason.clone())).collect();
    report::head(&mut writer, &trained.exports, &skipped, &note, timings);
    writer.line("\n## Model quality\n");
    for model in &trained.models {
        model.report_quality(&mut writer);
    }
    writer.line("## Business insights\n");
    for model in &trained.models {
        model.report_business(&mut writer);
    }
    // The report writes no HTML of its own; an export's values may hold some: in both files
    // it reads as text.
    let markdown = writer.out.replace('<', "&lt;");
    let html = report::html(&markdown, &writer.charts);
    Report { markdown, charts: writer.charts, html }
}

/// Refuses an `out` that is the data directory or holds it: publishing replaces `out`, and the
/// exports are never to be touched.
pub fn check_out_apart(out: &Path, data_dir: &Path) -> Result<(), TrainError> {
    let resolved = |p: &Path| -> PathBuf {
        // `out` may not exist yet: resolve its parent and keep its name.
        std::fs::canonicalize(p).unwrap_or_else(|_| match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => std::fs::canonicalize(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })
            .map(|d| d.join(name))
            .unwrap_or_else(|_| p.to_owned()),
            _ => p.to_owned(),
        })
    };
    let (out, data) = (resolved(out), resolved(data_dir));
    if data.starts_with(&out) {
        return Err(TrainError::Invalid(format!(
            "--out {} holds --data-dir {}: the bundle would replace the exports; write it elsewhere",
            out.display(),
            data.display()
        )));
    }
    Ok(())
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
    for model in trained.models {
        model.save(&mut writer)?;
    }
    writer.write_json(shopml_core::bundle::METRICS_FILE, &trained.metrics)?;
    let manifest = writer.finish(
        created_at,
        trained.data_source,
        trained.exports.fingerprint.clone(),
        serde_json::to_value(config).expect("config serialises"),
    )?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_is_never_written_over_or_into_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        for out in [data.clone(), dir.path().to_owned(), data.join("..")] {
            let refused = check_out_apart(&out, &data).unwrap_err().to_string();
            assert!(refused.contains("would replace the exports"), "{refused}");
        }
        assert!(check_out_apart(&dir.path().join("bundle"), &data).is_ok());
        assert!(check_out_apart(&data.join("bundle"), &data).is_ok());
        assert!(check_out_apart(&dir.path().join("data-bundle"), &data).is_ok());
    }
}
