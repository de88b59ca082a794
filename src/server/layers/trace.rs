//! The OpenTelemetry span of each RPC, continuing the caller's W3C trace context (the
//! `traceparent` metadata). The span covers the call until its response body has been sent,
//! so the codec's `decode` and `encode` spans and the handler's `validate` and `model` fall
//! inside it. When no trace layer listens (no OTLP endpoint), the span is disabled and the
//! call passes through untouched.

use super::body::{FrameHook, HookedBody, PolledFrame};
use super::metrics::status_code;
use crate::telemetry::{HeaderExtractor, RPC_TARGET};
use futures_util::TryFutureExt as _;
use futures_util::future::{Either, MapOk};
use http_body::Body;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

#[derive(Clone, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace { inner }
    }
}

#[derive(Clone)]
pub struct Trace<S> {
    inner: S,
}

/// The response body, polled inside the call's span (when traced); the span ends when the
/// body is dropped.
pub type TracedBody<B> = HookedBody<B, tracing::Span>;

impl<B: Body> FrameHook<B> for tracing::Span {
    fn poll_frame(
        span: &mut Option<Self>,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> PolledFrame<B> {
        let Some(span) = span.as_ref() else { return inner.poll_frame(cx) };
        let frame = ready!(span.in_scope(|| inner.poll_frame(cx)));
        if let Some(code) =
            frame.as_ref().and_then(|f| f.as_ref().ok()?.trailers_ref()).and_then(status_code)
        {
            span.record("rpc.grpc.status_code", code as i64);
        }
        Poll::Ready(frame)
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
type Untraced<B> = fn(http::Response<B>) -> http::Response<TracedBody<B>>;

fn untraced<B>(response: http::Response<B>) -> http::Response<TracedBody<B>> {
    response.map(|inner| TracedBody::new(inner, None))
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Trace<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = Either<MapOk<S::Future, Untraced<ResBody>>, BoxFuture<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // Untraced calls pass before any work on the request.
        if !tracing::span_enabled!(target: RPC_TARGET, tracing::Level::TRACE) {
            return Either::Left(self.inner.call(request).map_ok(untraced as Untraced<ResBody>));
        }
        let path = request.uri().path();
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
        let span = tracing::trace_span!(
            target: RPC_TARGET,
            "rpc",
            otel.name = path.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        let response = self.inner.call(request).instrument(span.clone());
        Either::Right(Box::pin(async move {
            let response = response.await?;
            // An error answers in the headers (trailers-only); a success in the trailers.
            if let Some(code) = status_code(response.headers()) {
                span.record("rpc.grpc.status_code", code as i64);
            }
            Ok(response.map(|inner| TracedBody::new(inner, Some(span))))
        }))
    }
}
