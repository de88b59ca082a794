//! Logs and traces. Logs go to stderr (text or JSON). Traces are OpenTelemetry spans of each
//! RPC ([`RPC_TARGET`]: the call, with `decode`, `validate`, `model` and `encode` inside it),
//! continuing the W3C trace context of the call's metadata, exported over OTLP/gRPC when
//! `monitoring.otlp_endpoint` is set. Without an endpoint no layer wants the spans, so they
//! are never built: tracing off costs a disabled-callsite check per span.

use crate::config::{LogFormat, Settings};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The `tracing` target of the RPC spans; only the OpenTelemetry layer listens to it.
pub const RPC_TARGET: &str = "shopml_rpc";

/// What [`init`] set up; [`Telemetry::shutdown`] exports the spans still buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("monitoring.otlp_endpoint {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
    #[error("a global tracing subscriber is already set")]
    AlreadySet,
}

/// Installs the global subscriber: the log layer, and the trace layer when an OTLP endpoint is
/// configured. Call inside the Tokio runtime (the OTLP client runs on it).
pub fn init(settings: &Settings) -> Result<Telemetry, TelemetryError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    let endpoint = settings.monitoring.otlp_endpoint.trim();
    if endpoint.is_empty() {
        // Logs alone, filtered globally: no per-layer filter state to keep per call.
        let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        let installed = match settings.log.format {
            LogFormat::Json => logs.json().try_init(),
            LogFormat::Text => logs.try_init(),
        };
        installed.map_err(|_| TelemetryError::AlreadySet)?;
        return Ok(Telemetry { provider: None });
    }
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match settings.log.format {
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
        LogFormat::Text => logs.with_filter(filter).boxed(),
    };
    let provider = tracer_provider(endpoint, settings.monitoring.trace_sample_ratio)?;
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let traces =
        tracing_opentelemetry::layer().with_tracer(provider.tracer("shopml-server")).with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target(RPC_TARGET, tracing::Level::TRACE),
        );
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|_| TelemetryError::AlreadySet)?;
    Ok(Telemetry { provider: Some(provider) })
}

fn tracer_provider(endpoint: &str, ratio: f64) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("shopml-server")
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        // A caller's sampling decision is followed; the ratio decides for root traces.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))))
        .with_resource(resource)
        .build())
}

impl Telemetry {
    /// Exports the spans buffered so far.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }

    /// Exports what is buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = provider.shutdown();
        }
    }
}

/// Reads the W3C `traceparent` / `tracestate` of a call from its HTTP/2 headers (gRPC
/// metadata).
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A span inside the RPC span (`decode`, `validate`, `model`, `encode`).
#[macro_export]
macro_rules! rpc_span {
    ($name:literal) => {
        tracing::trace_span!(target: "shopml_rpc", $name)
    };
}
