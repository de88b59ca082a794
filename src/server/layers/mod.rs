//! What every RPC goes through, written once as tower layers, outermost first:
//! trace (the OpenTelemetry span, when traces are exported) → metrics (count by real status code, latency, batch size, in flight) → auth (bearer token)
//! → load shedding over a global concurrency limit (held until a stream ends) → deadline (`grpc-timeout`, else the
//! configured default). Refusals are gRPC statuses: UNAUTHENTICATED, RESOURCE_EXHAUSTED,
//! DEADLINE_EXCEEDED.

pub(crate) mod auth;
pub mod body;
mod concurrency;
mod deadline;
mod metrics;
mod trace;

pub use auth::{AuthLayer, AuthPolicy, bearer_matches};
pub use concurrency::ConcurrencyLayer;
pub use deadline::{DeadlineLayer, call_timeout, parse_grpc_timeout};
pub use metrics::RpcMetricsLayer;
pub use trace::TraceLayer;

use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};

/// The layers as one stack, for `tonic::transport::Server::layer`.
pub type Layers = Stack<
    DeadlineLayer,
    Stack<ConcurrencyLayer, Stack<AuthLayer, Stack<RpcMetricsLayer, Stack<TraceLayer, Identity>>>>,
>;

pub fn stack(
    metrics: Arc<Metrics>,
    auth: AuthPolicy,
    max_concurrent: usize,
    default_timeout: Option<Duration>,
) -> ServiceBuilder<Layers> {
    ServiceBuilder::new()
        .layer(TraceLayer)
        .layer(RpcMetricsLayer::new(metrics))
        .layer(AuthLayer::new(auth))
        // Shed rather than queue: a caller at the limit gets RESOURCE_EXHAUSTED at once and
        // retries with back-off, instead of waiting behind work it cannot see.
        .layer(ConcurrencyLayer::new(max_concurrent))
        .layer(DeadlineLayer::new(default_timeout))
}
