//! Prometheus metrics of the server, served as text at `/metrics` on the metrics port.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shopml_core::cancellation::DriftFigures;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcCodeLabels {
    pub rpc: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub rpc: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnseenLabels {
    pub model: &'static str,
    /// An input name of the model's encoder (a fixed set, so the cardinality is bounded).
    pub input: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabels {
    pub model: &'static str,
    /// An input of the serving bundle's model (a fixed set per bundle).
    pub input: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Probabilities in twenty bins of 0.05.
fn probability_histogram() -> Histogram {
    Histogram::new((1..=20).map(|i| i as f64 * 0.05))
}

fn latency_histogram() -> Histogram {
    // 10 µs … ~5 s
    Histogram::new(exponential_buckets(1e-5, 2.5, 15))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

/// One model's prediction metrics, resolved once so a prediction costs no label lookup.
#[derive(Clone)]
pub struct ModelMetrics {
    model: &'static str,
    predictions: Counter,
    probability: Histogram,
    unseen: Family<UnseenLabels, Counter>,
}

impl ModelMetrics {
    /// Records one prediction: its main output (when a probability) and the inputs it had
    /// never seen.
    pub fn record(&self, probability: Option<f64>, unseen: &[String]) {
        self.predictions.inc();
        if let Some(p) = probability.filter(|p| p.is_finite()) {
            self.probability.observe(p);
        }
        for input in unseen {
            self.unseen
                .get_or_create(&UnseenLabels { model: self.model, input: input.clone() })
                .inc();
        }
    }
}

impl Metrics {
    /// The prediction metrics of `model`.
    pub fn model(&self, model: &'static str) -> ModelMetrics {
        let labels = ModelLabels { model };
        ModelMetrics {
            model,
            predictions: self.predictions.get_or_create(&labels).clone(),
            probability: self.prediction_probability.get_or_create(&labels).clone(),
            unseen: self.unseen_inputs.clone(),
        }
    }
}

/// Items a call carried (1 for a single prediction): a handler sets it on its response, the
/// metrics layer records it.
#[derive(Clone, Copy, Debug)]
pub struct BatchSize(pub usize);

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RpcCodeLabels, Counter>,
    pub latency: Family<RpcLabels, Histogram, fn() -> Histogram>,
    pub batch_size: Family<RpcLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    pub shed: Counter,
    /// Each model's main output: the order's cancellation probability, a review's probability
    /// of being negative.
    pub prediction_probability: Family<ModelLabels, Histogram, fn() -> Histogram>,
    /// Predicted price ÷ list price.
    pub price_ratio: Histogram,
    /// Predictions per model (the denominator of the unseen-input rate).
    pub predictions: Family<ModelLabels, Counter>,
    /// Predictions with an input value never seen in training, by model and input.
    pub unseen_inputs: Family<UnseenLabels, Counter>,
    /// Model work running on the blocking pool, callers gone or not.
    pub model_work_running: Gauge,
    /// Model work stopped before its end because its caller had gone (deadline, disconnect).
    pub model_work_abandoned: Counter,
    pub reloads: Family<ResultLabels, Counter>,
    /// Forecast mean over the horizon ÷ mean of the last 28 days of history.
    pub forecast_level_ratio: Histogram,
    /// Prediction-log records by result (written, dropped, failed).
    prediction_log: Family<ResultLabels, Counter>,
    /// PSI of each input against the bundle's reference, over the drift window.
    input_psi: Family<InputLabels, FloatGauge>,
    /// PSI of the model's score against the bundle's reference, over the drift window.
    score_psi: Family<ModelLabels, FloatGauge>,
    /// Lines in the drift window.
    drift_window_lines: Family<ModelLabels, Gauge>,
    bundle_info: Family<VersionLabels, Gauge>,
    bundle_version: Mutex<Option<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("shopml");
        let requests = Family::<RpcCodeLabels, Counter>::default();
        let latency = Family::<RpcLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let batch_size = Family::<RpcLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            batch_histogram as fn() -> Histogram,
        );
        let in_flight = Gauge::default();
        let shed = Counter::default();
        let reloads = Family::<ResultLabels, Counter>::default();
        let prediction_probability =
            Family::<ModelLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                probability_histogram as fn() -> Histogram,
            );
        // 0.1 … 2.0 of the list price.
        let price_ratio = Histogram::new((1..=20).map(|i| i as f64 * 0.1));
        let predictions = Family::<ModelLabels, Counter>::default();
        let unseen_inputs = Family::<UnseenLabels, Counter>::default();
        let model_work_running = Gauge::default();
        let model_work_abandoned = Counter::default();
        let bundle_info = Family::<VersionLabels, Gauge>::default();
        // 0.1 … 3 times the recent level.
        let forecast_level_ratio =
            Histogram::new([0.1, 0.25, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0]);
        let prediction_log = Family::<ResultLabels, Counter>::default();
        let input_psi = Family::<InputLabels, FloatGauge>::default();
        let score_psi = Family::<ModelLabels, FloatGauge>::default();
        let drift_window_lines = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "forecast_level_ratio",
            "Forecast mean over the horizon / mean of the last 28 days of history",
            forecast_level_ratio.clone(),
        );
        registry.register(
            "prediction_log_records",
            "Prediction-log records by result: written, dropped (queue full), failed (write error)",
            prediction_log.clone(),
        );
        registry.register(
            "input_psi",
            "Population stability index of each model input over the drift window against the bundle's reference",
            input_psi.clone(),
        );
        registry.register(
            "score_psi",
            "Population stability index of the model's score over the drift window against the bundle's reference",
            score_psi.clone(),
        );
        registry.register(
            "drift_window_lines",
            "Lines in the drift window (the last lines scored, up to its size)",
            drift_window_lines.clone(),
        );
        registry.register("requests", "gRPC requests by RPC and status code", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time to answer a gRPC request",
            latency.clone(),
        );
        registry.register("batch_size", "Items per prediction request", batch_size.clone());
        registry.register("in_flight_requests", "gRPC requests being served", in_flight.clone());
        registry.register(
            "shed_requests",
            "Requests refused with RESOURCE_EXHAUSTED by the concurrency limit",
            shed.clone(),
        );
        registry.register(
            "prediction_probability",
            "Each model's main output: an order's cancellation probability, a review's probability of being negative",
            prediction_probability.clone(),
        );
        registry.register("price_ratio", "Predicted price / list price", price_ratio.clone());
        registry.register("predictions", "Predictions by model", predictions.clone());
        registry.register(
            "unseen_inputs",
            "Predictions with an input value never seen in training, by model and input",
            unseen_inputs.clone(),
        );
        registry.register(
            "model_work_running",
            "Model work on the blocking pool, each holding a slot until it stops",
            model_work_running.clone(),
        );
        registry.register(
            "model_work_abandoned",
            "Model work stopped early because its caller had gone (deadline passed, client away)",
            model_work_abandoned.clone(),
        );
        registry.register(
            "model_reloads",
            "Bundle loads by result (success, failure)",
            reloads.clone(),
        );
        registry.register(
            "bundle_info",
            "The bundle version serving (value 1)",
            bundle_info.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            batch_size,
            in_flight,
            shed,
            prediction_probability,
            price_ratio,
            predictions,
            unseen_inputs,
            model_work_running,
            model_work_abandoned,
            reloads,
            forecast_level_ratio,
            prediction_log,
            input_psi,
            score_psi,
            drift_window_lines,
            bundle_info,
            bundle_version: Mutex::new(None),
        }
    }

    pub fn observe(&self, rpc: &str, code: tonic::Code, elapsed: Duration, batch: Option<usize>) {
        let code = crate::error::code_name(code).to_owned();
        self.requests.get_or_create(&RpcCodeLabels { rpc: rpc.to_owned(), code }).inc();
        let labels = RpcLabels { rpc: rpc.to_owned() };
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(batch) = batch {
            self.batch_size.get_or_create(&labels).observe(batch as f64);
        }
    }

    /// The prediction-log counter of `result`.
    pub fn prediction_log_records(&self, result: &str) -> Counter {
        self.prediction_log.get_or_create(&ResultLabels { result: result.into() }).clone()
    }

    /// Sets the drift gauges of each model (None: the serving bundle has no reference for
    /// it, so none).
    pub fn set_drift(&self, models: &[(&'static str, Option<DriftFigures>)]) {
        // Another bundle may have had other inputs: only the serving one's are shown.
        self.input_psi.clear();
        for (model, figures) in models {
            let labels = ModelLabels { model };
            let Some(figures) = figures else {
                self.score_psi.remove(&labels);
                self.drift_window_lines.remove(&labels);
                continue;
            };
            self.drift_window_lines.get_or_create(&labels).set(figures.lines as i64);
            // An empty window has no PSI (0 would read as "stable").
            if figures.lines == 0 {
                self.score_psi.remove(&labels);
                continue;
            }
            for (input, psi) in &figures.inputs {
                let labels = InputLabels { model, input: input.clone() };
                self.input_psi.get_or_create(&labels).set(*psi);
            }
            self.score_psi.get_or_create(&labels).set(figures.score);
        }
    }

    pub fn reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultLabels { result: result.into() }).inc();
    }

    /// Marks `version` as the bundle serving (and the previous one as no longer serving).
    pub fn set_bundle_version(&self, version: &str) {
        let mut current = self.bundle_version.lock().expect("metrics lock");
        if let Some(old) = current.take() {
            self.bundle_info.remove(&VersionLabels { version: old });
        }
        self.bundle_info.get_or_create(&VersionLabels { version: version.to_owned() }).set(1);
        *current = Some(version.to_owned());
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric names a text exposition declares (`# TYPE name …`).
    fn declared(text: &str) -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_metric_the_grafana_dashboard_queries_exists() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../deploy/grafana/shopml.json")).unwrap();
        // A family shows once it has a series: one of each.
        let metrics = Metrics::new();
        metrics.observe("PredictCancellation", tonic::Code::Ok, Duration::from_millis(1), Some(1));
        metrics.model("cancellation").record(Some(0.2), &["sku".to_owned()]);
        metrics.reload(true);
        metrics.set_bundle_version("v1");
        metrics.prediction_log_records("written").inc();
        let figures = DriftFigures { lines: 1, inputs: vec![("sku".into(), 0.0)], score: 0.0 };
        metrics.set_drift(&[("cancellation", Some(figures))]);
        let declared = declared(&metrics.encode());
        let mut queried = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap();
                for (start, _) in expr.match_indices("shopml_") {
                    let name: String = expr[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let base = ["_total", "_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| name.strip_suffix(suffix))
                        .unwrap_or(&name);
                    assert!(
                        declared.contains(base),
                        "panel {:?} queries {name}, which the server does not expose",
                        panel["title"]
                    );
                    queried += 1;
                }
            }
        }
        assert!(queried >= 20, "{queried} queries");
    }
}
