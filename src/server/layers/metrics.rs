//! RPC metrics for every shopml RPC, recorded when the call really ends: a unary call at its
//! trailers-only status, a stream at its trailers (so a stream that fails counts with its
//! code), a call whose client went away as CANCELLED. Handlers only report their batch size,
//! as a [`BatchSize`] response extension.

use super::body::{FrameHook, HookedBody, PolledFrame};
use crate::metrics::{BatchSize, Metrics};
use http_body::Body;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tonic::{Code, Status};
use tower::{BoxError, Layer, Service};

/// Only the service's own RPCs are labelled (health and reflection are not counted), and an
/// unknown method is labelled `unknown`: a client cannot grow the label set.
const SERVICE_PREFIX: &str = "/shopml.v1.";

#[derive(Clone)]
pub struct RpcMetricsLayer {
    metrics: Arc<Metrics>,
}

impl RpcMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner, metrics: self.metrics.clone() }
    }
}

#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// A call being measured; recorded once, as CANCELLED if dropped before its status is known.
pub struct Pending {
    metrics: Arc<Metrics>,
    rpc: String,
    started: Instant,
    batch: Option<usize>,
    done: bool,
}

impl Pending {
    fn start(metrics: Arc<Metrics>, rpc: &str) -> Self {
        metrics.in_flight.inc();
        Self { metrics, rpc: rpc.to_owned(), started: Instant::now(), batch: None, done: false }
    }

    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.metrics.in_flight.dec();
        let rpc = if code == Code::Unimplemented { "unknown" } else { self.rpc.as_str() };
        self.metrics.observe(rpc, code, self.started.elapsed(), self.batch);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

pub(super) fn status_code(headers: &http::HeaderMap) -> Option<Code> {
    headers.get("grpc-status").map(|v| Code::from_bytes(v.as_bytes()))
}

/// The response body, watched for the trailers that carry the call's status.
pub type ObservedBody<B> = HookedBody<B, Pending>;

impl<B: Body> FrameHook<B> for Pending {
    fn poll_frame(
        pending: &mut Option<Self>,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> PolledFrame<B> {
        let frame = ready!(inner.poll_frame(cx));
        if let Some(pending) = pending.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(code) = frame.trailers_ref().and_then(status_code) {
                        pending.finish(code);
                    }
                }
                Some(Err(_)) => pending.finish(Code::Internal),
                None => pending.finish(Code::Unknown),
            }
        }
        Poll::Ready(frame)
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RpcMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ObservedBody<ResBody>>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response, BoxError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let rpc = request.uri().path().strip_prefix(SERVICE_PREFIX).map(|path| {
            let method = path.rsplit('/').next().unwrap_or(path);
            Pending::start(self.metrics.clone(), method)
        });
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut pending = rpc;
            let response = match response.await {
                Ok(response) => standard_size_status(response),
                Err(error) => {
                    let error: BoxError = error.into();
                    if error.is::<tower::load_shed::error::Overloaded>() {
                        metrics.shed.inc();
                        Status::resource_exhausted(
                            "server at its concurrency limit; retry with back-off",
                        )
                        .into_http()
                    } else {
                        Status::from_error(error).into_http()
                    }
                }
            };
            if let Some(call) = pending.as_mut() {
                call.batch = response.extensions().get::<BatchSize>().map(|b| b.0);
                if let Some(code) = status_code(response.headers()) {
                    call.finish(code);
                }
            }
            Ok(response.map(|inner| ObservedBody::new(inner, pending)))
        })
    }
}

/// A trailers-only answer to a message over the size limit, as RESOURCE_EXHAUSTED (see
/// [`crate::error::is_oversized_message`]).
fn standard_size_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or("");
    if status_code(headers).is_some_and(|code| crate::error::is_oversized_message(code, message)) {
        response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}
