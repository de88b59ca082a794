//! Quality gates: limits on the figures of metrics.json, and "no worse than the bundle
//! serving" by a relative tolerance.

use crate::config::GateSettings;
use serde_json::Value;
use std::path::Path;

/// A gate that failed: the figure, its value and the limit it broke.
#[derive(Debug, Clone, PartialEq)]
pub struct GateFailure {
    pub figure: String,
    pub value: Option<f64>,
    pub limit: String,
}

impl std::fmt::Display for GateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value {
            Some(v) => write!(f, "{} = {v:.4}, limit: {}", self.figure, self.limit),
            None => {
                write!(f, "{} is missing from metrics.json, limit: {}", self.figure, self.limit)
            }
        }
    }
}

/// A figure of metrics.json by dotted path ("forecast.per_series.kurta.mase").
pub fn figure(metrics: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(metrics, |v, key| v.get(key))?.as_f64()
}

/// Whether a lower value of the figure is better (errors, losses) rather than higher.
pub fn lower_is_better(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    [
        "log_loss",
        "brier",
        "mae_inr",
        "mae",
        "mape_pct",
        "mase_mean",
        "wape_mean",
        "smape_mean",
        "mase",
        "wape",
        "smape",
        "msis80_mean",
        "msis80",
    ]
    .contains(&last)
}

/// The metrics of what is serving: a bundle directory or a metrics.json file.
pub fn read_reference(path: &Path) -> Result<Value, String> {
    let file = if path.is_dir() { path.join("metrics.json") } else { path.to_owned() };
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: not valid JSON: {e}", file.display()))
}

/// Every gate that fails.
pub fn check(metrics: &Value, gates: &GateSettings, reference: Option<&Value>) -> Vec<GateFailure> {
    let mut failures = Vec::new();
    for (path, limit) in &gates.limits {
        let value = figure(metrics, path);
        // Negated comparisons on purpose: a NaN figure fails every limit.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let below = limit.min.is_some_and(|min| value.is_none_or(|v| !(v >= min)));
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let above = limit.max.is_some_and(|max| value.is_none_or(|v| !(v <= max)));
        if below || above {
            let text = match (limit.min, limit.max) {
                (Some(min), Some(max)) => format!("between {min} and {max}"),
                (Some(min), None) => format!(">= {min}"),
                (None, Some(max)) => format!("<= {max}"),
                (None, None) => unreachable!("validated config"),
            };
            failures.push(GateFailure { figure: path.clone(), value, limit: text });
        }
    }
    if let Some(reference) = reference {
        for path in &gates.compare {
            let Some(serving) = figure(reference, path) else { continue };
            let value = figure(metrics, path);
            let (ok, limit) = if lower_is_better(path) {
                let bound = serving * (1.0 + gates.tolerance);
                (
                    value.is_some_and(|v| v <= bound),
                    format!("<= {bound:.4} (serving {serving:.4} + {}%)", gates.tolerance * 100.0),
                )
            } else {
                let bound = serving * (1.0 - gates.tolerance);
                (
                    value.is_some_and(|v| v >= bound),
                    format!(">= {bound:.4} (serving {serving:.4} − {}%)", gates.tolerance * 100.0),
                )
            };
            if !ok {
                failures.push(GateFailure { figure: path.clone(), value, limit });
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limit;
    use serde_json::json;

    #[test]
    fn limits_and_comparison_with_the_serving_bundle() {
        let metrics = json!({"price": {"r2_log": 0.95, "mape_pct": 25.0}, "forecast": {"per_series": {"kurta": {"mase": 0.5}}}});
        let gates = GateSettings {
            limits: [
                ("price.r2_log".to_owned(), Limit { min: Some(0.96), max: None }),
                ("forecast.per_series.kurta.mase".to_owned(), Limit { min: None, max: Some(0.6) }),
                ("sentiment_reviews.macro_f1".to_owned(), Limit { min: Some(0.8), max: None }),
            ]
            .into(),
            compare: vec!["price.mape_pct".into(), "price.r2_log".into()],
            tolerance: 0.02,
        };
        let serving = json!({"price": {"r2_log": 0.95, "mape_pct": 24.0}});
        let failures = check(&metrics, &gates, Some(&serving));
        let names: Vec<&str> = failures.iter().map(|f| f.figure.as_str()).collect();
        // r2_log under its limit; a missing figure fails; MAPE 25 > 24 · 1.02; r2_log equals serving: fine.
        assert_eq!(names, ["price.r2_log", "sentiment_reviews.macro_f1", "price.mape_pct"]);
        assert_eq!(failures[0].to_string(), "price.r2_log = 0.9500, limit: >= 0.96");
        assert!(failures[2].limit.starts_with("<= 24.4800"));
        assert!(
            check(
                &metrics,
                &GateSettings { limits: Default::default(), compare: vec![], tolerance: 0.0 },
                None
            )
            .is_empty()
        );
        assert!(
            lower_is_better("forecast.msis80_mean")
                && lower_is_better("forecast.per_series.kurta.msis80")
        );
        assert!(!lower_is_better("forecast.coverage80"));
    }
}
