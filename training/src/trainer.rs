//! What a model implements to be trained. A [`Trainer`] checks its own table of the
//! configuration, says what it needs from the exports (or why it cannot train), and trains
//! into a [`TrainedModel`] that knows its figures, its summary line, its report sections and
//! how to write itself into the bundle. The one list of trainers is [`crate::trainers`];
//! nothing here names a model.

use crate::config::{ConfigError, Split, TrainConfig};
use crate::data::Exports;
use crate::data::sales::{Sales, SalesField};
use crate::error::DataError;
use crate::fit::Abandon;
use crate::progress::Progress;
use crate::report::ReportWriter;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shopml_core::bundle::{BundleError, BundleWriter};
use std::any::Any;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A model's own error (each model converts its error type into this one).
    #[error("{0}")]
    Model(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Invalid(String),
}

/// A model the run did not train, and why.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Skipped {
    pub model: String,
    pub reason: String,
}

/// A model's settings: its table of the training configuration (`[cancellation]`, …), with
/// every key known (an unknown one is an error naming the nearest) and every value in range.
pub trait Settings: Serialize + DeserializeOwned {
    /// Values out of range, named (`batch_size must be > 0`).
    fn check(&self) -> Result<(), String>;
}

/// A finite value above 0 (a learning rate).
pub fn positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

/// A finite value of 0 or more (a penalty, a weight).
pub fn non_negative(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

/// Parses the table `name` of `config` as `S`, or says what is wrong with it, naming it.
pub fn settings<S: Settings>(config: &TrainConfig, name: &str) -> Result<S, ConfigError> {
    let table = config.model_table(name);
    let settings: S = serde_json::from_value(table.clone())
        .map_err(|e| ConfigError::new(format!("[{name}]: {}", crate::config::explain(&e))))?;
    settings.check().map_err(|reason| ConfigError::new(format!("[{name}]: {reason}")))?;
    Ok(settings)
}

/// What a trainer makes of a run's exports: a job to run, or why the model cannot train.
pub enum Prepared<'a> {
    Job(Box<dyn Job<'a> + 'a>),
    Skip(String),
}

/// What trains beside the stages, on a thread of its own; it stops when `Abandon` is set.
pub type BesideWork<'a> =
    Box<dyn FnOnce(&Abandon, &Progress) -> Result<Box<dyn Any + Send>, TrainError> + Send + 'a>;

/// The result of the work beside, waited for when called.
pub type BesideResult<'w> = Box<dyn FnOnce() -> Result<Box<dyn Any + Send>, TrainError> + 'w>;

/// A run in progress, as a job's stage sees it: its inputs and what trained before it.
pub struct Run<'r, 'a> {
    pub exports: &'a Exports,
    pub config: &'a TrainConfig,
    pub split: &'a Split,
    pub progress: &'r Progress,
    pub trained: &'r [&'r dyn TrainedModel],
}

impl Run<'_, '_> {
    /// A model trained earlier in this run, by its type (segments read the sentiment model).
    pub fn trained<T: TrainedModel>(&self) -> Option<&T> {
        self.trained.iter().find_map(|m| (*m as &dyn Any).downcast_ref::<T>())
    }
}

/// One model's training on one run's exports, its inputs checked.
pub trait Job<'a>: Send {
    /// Work that trains on a thread of its own beside the stages, when it changes no
    /// result: called for every job, in the list's order, before any stage runs (a job that
    /// draws random numbers draws them here, so the order of the draws stays fixed).
    fn beside(
        &mut self,
        _config: &'a TrainConfig,
        _split: &'a Split,
        _progress: &Progress,
    ) -> Result<Option<BesideWork<'a>>, TrainError> {
        Ok(None)
    }

    /// Whether its stage waits for every other stage (it trains beside them, and its stage
    /// only collects).
    fn collects_last(&self) -> bool {
        false
    }

    /// Trains, as a stage of `run.progress`; `beside` waits for what [`Job::beside`] started.
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError>;
}

/// A trained model: its figures, its summary, its report sections, and its files.
pub trait TrainedModel: Send + Sync + Any {
    fn name(&self) -> &'static str;
    /// Its sections of metrics.json (an object whose keys are the sections).
    fn metrics(&self) -> serde_json::Value;
    /// One line for the progress output, when its stage ends.
    fn summary(&self) -> String;
    /// Its section of the report's model quality.
    fn report_quality(&self, _report: &mut ReportWriter) {}
    /// Its part of the report's business insights.
    fn report_business(&self, _report: &mut ReportWriter) {}
    /// Writes the model into the bundle.
    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError>;
}

/// A model's trainer: checks its settings, and prepares its job on a run's exports.
pub trait Trainer: Sync {
    /// The model's name: in the bundle, the configuration's `models` list and its table.
    fn name(&self) -> &'static str;
    /// Checks the model's table of the configuration.
    fn check_settings(&self, config: &TrainConfig) -> Result<(), ConfigError>;
    /// What it needs from `exports`, checked once: the job, or why it cannot train.
    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError>;
}

/// The order-line export with `fields` mapped, or why the model cannot train without them.
pub fn sales_with<'a>(exports: &'a Exports, fields: &[SalesField]) -> Result<&'a Sales, String> {
    let sales = exports.sales.as_ref().ok_or("no order-line (sales) export")?;
    let missing: Vec<&str> = fields.iter().filter(|f| !sales.has(**f)).map(|f| f.name()).collect();
    if missing.is_empty() {
        Ok(sales)
    } else {
        Err(format!("the order lines have no {}", missing.join(", ")))
    }
}

/// The export `present` holds, or why the model cannot train without it.
pub fn export<'a, T>(present: &'a Option<T>, what: &str) -> Result<&'a T, String> {
    present.as_ref().ok_or_else(|| format!("no {what} export"))
}

/// Runs `stage` of `progress` named `title`, printing the trained model's summary when done.
pub fn staged(
    progress: &Progress,
    title: &str,
    train: impl FnOnce(&crate::progress::Stage<'_>) -> Result<Box<dyn TrainedModel>, TrainError>,
) -> Result<Box<dyn TrainedModel>, TrainError> {
    let stage = progress.stage(title);
    let trained = train(&stage)?;
    stage.finish(trained.summary());
    Ok(trained)
}
