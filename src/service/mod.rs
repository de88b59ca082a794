//! The gRPC services, one module per proto service. Handlers validate requests into domain
//! inputs (errors name the field), run the model of the bundle serving, and record metrics.

pub mod model;
pub mod prediction;
pub mod segment;

use crate::error::ShopError;
use crate::server::metrics::Metrics;
use std::future::Future;
use std::time::Instant;
use tonic::{Response, Status};

/// Runs a handler body, maps its error to a status in one place, and records the RPC's
/// metrics (count by code, latency, batch size).
pub(crate) async fn observed<T>(
    metrics: &Metrics,
    rpc: &'static str,
    batch: Option<usize>,
    body: impl Future<Output = Result<T, ShopError>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = body.await;
    let code = match &result {
        Ok(_) => tonic::Code::Ok,
        Err(error) => error.code(),
    };
    metrics.observe(rpc, code, started.elapsed(), batch);
    result.map(Response::new).map_err(Status::from)
}

/// Rows above which model work moves to the blocking pool rather than running on the async
/// worker (a forward of a few rows takes microseconds; thousands take milliseconds).
pub(crate) const INLINE_ROWS: usize = 64;

/// Runs CPU-bound model work: inline when small, on the blocking pool when large.
pub(crate) async fn compute<T: Send + 'static>(
    rows: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ShopError> {
    if rows <= INLINE_ROWS {
        Ok(work())
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ShopError::Internal(format!("model task failed: {e}")))
    }
}

/// Checks a batch against the configured maximum.
pub(crate) fn check_batch(field: &str, len: usize, max: usize) -> Result<(), ShopError> {
    if len == 0 {
        return Err(ShopError::invalid(field, "at least one item is required"));
    }
    if len > max {
        return Err(ShopError::invalid(
            field,
            format!("{len} items; at most {max} per call (limits.max_batch_size)"),
        ));
    }
    Ok(())
}
