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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// One candidate of a model's backtest: the model itself or one of its simple baselines, with
/// the selection figure on the validation period (where the choice is made) and on the test
/// period (reported, never chosen on).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Candidate {
    pub name: String,
    /// A simple baseline (the constant rate, a seasonal naive forecast, …) rather than the
    /// model trained.
    pub baseline: bool,
    pub validation: f64,
    pub test: f64,
}

/// How what a model serves was chosen: each candidate's selection figure on the export's own
/// validation period and test period, and the candidate served — the best on validation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Backtest {
    /// What the choice covers: "" for the whole model, or a part of it (the forecaster chooses
    /// per series family and measure: "category/units").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The selection figure (a figure of the model's section, e.g. "log_loss", "mase").
    pub metric: String,
    pub better: Better,
    /// The model first, then its baselines.
    pub candidates: Vec<Candidate>,
    /// The name of the candidate served.
    pub served: String,
}

impl Backtest {
    /// The candidate best on validation (the first of equals: the model before its
    /// baselines) serves; a candidate whose validation figure is not finite never does.
    pub fn choose(scope: &str, metric: &str, better: Better, candidates: Vec<Candidate>) -> Self {
        let mut served: Option<&Candidate> = None;
        for candidate in candidates.iter().filter(|c| c.validation.is_finite()) {
            let wins = served.is_none_or(|best| match better {
                Better::Lower => candidate.validation < best.validation,
                _ => candidate.validation > best.validation,
            });
            if wins {
                served = Some(candidate);
            }
        }
        let served = served.or(candidates.first()).map_or_else(String::new, |c| c.name.clone());
        Self { scope: scope.to_owned(), metric: metric.to_owned(), better, candidates, served }
    }

    /// The candidate served.
    pub fn served(&self) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.name == self.served)
    }

    /// Whether the model itself serves (not a baseline).
    pub fn serves_the_model(&self) -> bool {
        self.served().is_some_and(|c| !c.baseline)
    }

    /// The best baseline on the test period other than the one served.
    pub fn best_other_baseline_on_test(&self) -> Option<&Candidate> {
        let others = self.candidates.iter().filter(|c| c.baseline && c.name != self.served);
        others.filter(|c| c.test.is_finite()).reduce(|a, b| match self.better {
            Better::Lower if b.test < a.test => b,
            Better::Higher if b.test > a.test => b,
            _ => a,
        })
    }

    /// The figures of every candidate, under `{section}.backtest[.{scope}].{candidate}`.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let scope = if self.scope.is_empty() { String::new() } else { format!(".{}", self.scope) };
        let mut figures = Vec::new();
        for c in &self.candidates {
            let at = |which: &str| format!("{section}.backtest{scope}.{}.{which}", c.name);
            for (which, value) in [("validation", c.validation), ("test", c.test)] {
                figures.push(Figure { path: at(which), value, better: self.better });
            }
        }
        figures
    }
}

/// What serves against the baseline it must not lose to on the test period, by one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineCheck {
    /// What it covers: "" for the whole model, or a part ("units").
    pub scope: String,
    pub metric: String,
    pub better: Better,
    /// (name, test figure) of what serves and of the baseline.
    pub served: (String, f64),
    pub baseline: (String, f64),
}

impl BaselineCheck {
    /// Whether what serves is worse than the baseline by more than `tolerance` (relative).
    pub fn loses(&self, tolerance: f64) -> bool {
        let (served, baseline) = (self.served.1, self.baseline.1);
        match self.better {
            Better::Lower => served > baseline * (1.0 + tolerance),
            Better::Higher => served < baseline - baseline.abs() * tolerance,
            Better::Neither => false,
        }
    }
}

/// A model's figures, typed as training wrote them: the sections of `metrics.json` it owns
/// (a struct whose fields are the section names, so that it reads back from the whole file).
pub trait ModelMetrics: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The figures that can be gated or compared, with their direction.
    fn figures(&self) -> Vec<Figure>;
    /// How what it serves was chosen against its baselines (none for a model without any).
    fn backtests(&self) -> Vec<Backtest> {
        Vec::new()
    }
    /// What serves against the baselines it must not lose to on the test period: by default,
    /// each backtest's served candidate against its best other baseline.
    fn baseline_checks(&self) -> Vec<BaselineCheck> {
        self.backtests()
            .into_iter()
            .filter_map(|b| {
                let (served, best) = (b.served()?, b.best_other_baseline_on_test()?);
                Some(BaselineCheck {
                    scope: b.scope.clone(),
                    metric: b.metric.clone(),
                    better: b.better,
                    served: (served.name.clone(), served.test),
                    baseline: (best.name.clone(), best.test),
                })
            })
            .collect()
    }
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
    /// How what it serves was chosen against its baselines.
    pub backtests: Vec<Backtest>,
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
