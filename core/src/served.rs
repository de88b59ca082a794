//! What a model implements to be served: built from the verified files of a bundle, warmed up,
//! described, drift-monitored, and read back with its typed figures from `metrics.json`.
//! The one list of models is [`crate::models`]; nothing here names a model.

use crate::bundle::BundleError;
use crate::drift::DriftFigures;
use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
    /// Neither: a count, a rate to be near a target (interval coverage), a setting.
    Neither,
}

/// One figure of `metrics.json`: its dotted path there, its value and which way is better.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub path: String,
    pub value: f64,
    pub better: Better,
}

impl Figure {
    pub fn higher(path: impl Into<String>, value: f64) -> Self {
        Self { path: path.into(), value, better: Better::Higher }
    }

    pub fn lower(path: impl Into<String>, value: f64) -> Self {
        Self { path: path.into(), value, better: Better::Lower }
    }

    pub fn neither(path: impl Into<String>, value: f64) -> Self {
        Self { path: path.into(), value, better: Better::Neither }
    }

    /// Whether `value` is at least as good as `than` (a figure with no direction is never
    /// ranked: always true).
    pub fn no_worse(better: Better, value: f64, than: f64) -> bool {
        match better {
            Better::Higher => value >= than,
            Better::Lower => value <= than,
            Better::Neither => true,
        }
    }
}

/// A model's figures, typed as training wrote them: the sections of `metrics.json` it owns
/// (a struct whose fields are the section names, so that it reads back from the whole file).
pub trait ModelMetrics: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The figures that can be gated or compared, with their direction.
    fn figures(&self) -> Vec<Figure>;
}

/// A model with no figures of its own (insights).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct NoMetrics {}

impl ModelMetrics for NoMetrics {
    fn figures(&self) -> Vec<Figure> {
        Vec::new()
    }
}

/// What a loaded model says of itself, read once when its bundle loads.
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// What it predicts, in words.
    pub predicts: String,
    /// Its figures that can be gated or compared, with their direction.
    pub figures: Vec<Figure>,
    /// Its sections of metrics.json.
    pub metrics: serde_json::Value,
}

/// A model as served.
pub trait ServedModel: Sized + Send + Sync + 'static {
    /// The model's name in the manifest, the model RPCs, the configuration and the metrics.
    const NAME: &'static str;
    /// Its sections of `metrics.json`.
    type Metrics: ModelMetrics;
    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError>;
    /// Runs the model once off the request path, so the first request pays no one-time cost.
    fn warm_up(&self);
    /// What the model predicts, in words, for amounts in `currency` (GetModelInfo, the
    /// dashboard).
    fn describe(&self, currency: &str) -> String;
    /// How far what it has seen lately drifted from its reference, when it keeps a window.
    fn drift(&self) -> Option<DriftFigures> {
        None
    }
}
