//! The gRPC services, one module per proto service. A handler converts its request into typed
//! values (`crate::convert`), calls the core on the bundle serving, and converts back; errors
//! become a `Status` in one place (`crate::error`). Metrics, auth, limits and deadlines are
//! tower layers around every service (`crate::server::layers`), not handler code.

pub mod customer;
pub mod insights;
pub mod model;
pub mod prediction;
pub mod segment;

use crate::error::ShopError;
use crate::metrics::BatchSize;
use crate::registry::ModelRegistry;
use shopml_core::models::{LoadedBundle, ModelSet, ServedModel};
use std::sync::Arc;
use tonic::{Response, Status};

/// A handler's answer, or its error as a status; `items` is recorded as the batch size.
pub(crate) fn answer<T>(result: Result<T, ShopError>, items: usize) -> Result<Response<T>, Status> {
    let mut response = Response::new(result?);
    response.extensions_mut().insert(BatchSize(items));
    Ok(response)
}

/// A handler's answer that carries no batch of items.
pub(crate) fn reply<T>(result: Result<T, ShopError>) -> Result<Response<T>, Status> {
    Ok(Response::new(result?))
}

/// One model of the bundle serving, held with the bundle so a reload mid-request cannot take
/// it away; built only when the bundle has the model.
pub(crate) struct Served<M: 'static> {
    bundle: Arc<LoadedBundle>,
    select: fn(&ModelSet) -> Option<&M>,
}

impl<M: ServedModel> Served<M> {
    /// The model `select` picks from the bundle serving; FAILED_PRECONDITION naming it when the
    /// bundle has none.
    pub fn current(
        registry: &ModelRegistry,
        select: fn(&ModelSet) -> Option<&M>,
    ) -> Result<Self, ShopError> {
        let bundle = registry.current()?;
        if select(&bundle.models).is_none() {
            return Err(ShopError::ModelUnavailable(M::NAME));
        }
        Ok(Self { bundle, select })
    }

    pub fn model(&self) -> &M {
        (self.select)(&self.bundle.models).expect("Served is built only when the model is present")
    }

    pub fn version(&self) -> &str {
        self.bundle.version()
    }

    /// ISO 4217 code of the bundle's amounts.
    pub fn currency(&self) -> &str {
        self.bundle.currency()
    }
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
