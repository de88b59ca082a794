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
use crate::metrics::{BatchSize, Metrics};
use crate::proto;
use crate::registry::ModelRegistry;
use shopml_core::models::{LoadedBundle, ModelSet, ServedModel};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Semaphore;
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

    /// The other models of the same bundle.
    pub fn siblings(&self) -> &ModelSet {
        &self.bundle.models
    }

    /// ISO 4217 code of the bundle's amounts.
    pub fn currency(&self) -> &str {
        self.bundle.currency()
    }
}

/// Rows above which model work moves to the blocking pool rather than running on the async
/// worker (a forward of a few rows takes microseconds; thousands take milliseconds).
pub(crate) const INLINE_ROWS: usize = 64;

/// Model rows per chunk of work on the blocking pool, per core: large enough that batching
/// (and the price model's parallel chunks) keeps its speed, small enough that work whose
/// caller has gone stops within milliseconds.
pub(crate) const CHUNK_ROWS: usize = 2048;

/// An answer of model work, whose size on the wire is known.
pub trait Answer {
    /// Its bytes in the response message.
    fn answer_bytes(&self) -> usize;
}

macro_rules! answers {
    ($($message:ty),*) => {
        $(impl Answer for $message {
            fn answer_bytes(&self) -> usize {
                prost::Message::encoded_len(self)
            }
        })*
    };
}
answers!(
    proto::PredictCancellationResponse,
    proto::PricePrediction,
    proto::SentimentResult,
    proto::ForecastDemandResponse
);

/// An answer with what the prediction log keeps of it (not sent).
impl<M: Answer, Logged> Answer for (M, Option<Logged>) {
    fn answer_bytes(&self) -> usize {
        self.0.answer_bytes()
    }
}

/// Slots for model work on the blocking pool, one per concurrent request the server admits.
/// Work holds its slot until it stops, even after its caller has gone (a deadline passed, the
/// client went away), so abandoned work still counts against the limit; between chunks it
/// checks whether its caller is still waiting, and stops if not.
#[derive(Clone)]
pub struct WorkSlots {
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    /// The largest answer a client may receive (`limits.max_message_bytes`): work whose
    /// answers outgrow it stops there.
    max_answer_bytes: usize,
    /// Each model's prediction metrics, resolved once.
    pub cancellation: crate::metrics::ModelMetrics,
    pub price: crate::metrics::ModelMetrics,
    pub sentiment: crate::metrics::ModelMetrics,
}

/// Marks the work abandoned when the request's future is dropped before the work returned.
struct AbandonOnDrop {
    abandoned: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

/// Decrements the running-work gauge however the work ends.
struct Running(Arc<Metrics>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.model_work_running.dec();
    }
}

impl WorkSlots {
    pub fn new(max_concurrent: usize, max_answer_bytes: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_answer_bytes,
            cancellation: metrics.model("cancellation"),
            price: metrics.model("price"),
            sentiment: metrics.model("sentiment"),
            metrics,
        }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs CPU-bound model work over `items`: inline when they come to few model rows
    /// (`rows` of each), otherwise on the blocking pool in chunks of about `CHUNK_ROWS` per
    /// core, holding a slot. The answers come in the order of the items. Once the answers
    /// computed outgrow the largest message a client may receive, the work stops and the call
    /// answers RESOURCE_EXHAUSTED rather than computing an answer it cannot send.
    pub async fn run<I, O, F>(
        &self,
        items: Vec<I>,
        rows: impl Fn(&I) -> usize,
        work: F,
    ) -> Result<Vec<O>, ShopError>
    where
        I: Send + 'static,
        O: Answer + Send + 'static,
        F: Fn(&[I]) -> Vec<O> + Send + 'static,
    {
        // Small work (a single order) runs here, before any allocation.
        if items.iter().map(&rows).sum::<usize>() <= INLINE_ROWS {
            return Ok(work(&items));
        }
        let chunk_limit = CHUNK_ROWS * rayon::current_num_threads().max(1);
        let mut chunks = Vec::new();
        let (mut start, mut chunk_rows) = (0, 0);
        for (i, item) in items.iter().enumerate() {
            chunk_rows += rows(item);
            if chunk_rows >= chunk_limit {
                chunks.push(start..i + 1);
                (start, chunk_rows) = (i + 1, 0);
            }
        }
        if start < items.len() {
            chunks.push(start..items.len());
        }
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ShopError::Internal(format!("work slots closed: {e}")))?;
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut guard = AbandonOnDrop { abandoned: abandoned.clone(), armed: true };
        let metrics = self.metrics.clone();
        let max_bytes = self.max_answer_bytes;
        let total = items.len();
        let done = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            metrics.model_work_running.inc();
            let _running = Running(metrics.clone());
            let mut out = Vec::with_capacity(items.len());
            // Each answer's bytes in the repeated field, with its tag and length.
            let mut bytes = 0usize;
            for chunk in chunks {
                if abandoned.load(Ordering::Relaxed) {
                    metrics.model_work_abandoned.inc();
                    return Err(ShopError::Internal("the caller went away".into()));
                }
                let answers = work(&items[chunk]);
                bytes += answers.iter().map(|a| a.answer_bytes() + 6).sum::<usize>();
                if bytes > max_bytes {
                    return Err(ShopError::AnswerTooLarge(format!(
                        "the answers to the first {} of {total} items already take {bytes} bytes, over limits.max_message_bytes ({max_bytes}): send fewer items a call",
                        out.len() + answers.len()
                    )));
                }
                out.extend(answers);
            }
            Ok(out)
        })
        .await;
        guard.armed = false;
        // Only a caller that is gone abandons work, so no one reads that error.
        done.map_err(|e| ShopError::Internal(format!("model task failed: {e}")))?
    }
}
