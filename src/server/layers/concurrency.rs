//! The global concurrency limit, shedding at once: a call takes one of
//! `limits.max_concurrent_requests` slots or is refused with tower's `Overloaded` (the metrics
//! layer answers RESOURCE_EXHAUSTED). The slot is held by the response body until it ends, so
//! a stream counts for as long as it is open — tower's own limit lets it go with the headers.
//! Health checks are never limited.

use super::body::{FrameHook, HookedBody, PolledFrame};
use http_body::Body;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{BoxError, Layer, Service};

#[derive(Clone)]
pub struct ConcurrencyLayer {
    slots: Arc<Semaphore>,
}

impl ConcurrencyLayer {
    pub fn new(max_concurrent: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(max_concurrent.max(1))) }
    }
}

impl<S> Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Concurrency { inner, slots: self.slots.clone() }
    }
}

#[derive(Clone)]
pub struct Concurrency<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Concurrency<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<HeldBody<ResBody>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let permit = if request.uri().path().starts_with("/grpc.health.") {
            None
        } else {
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => return ResponseFuture { inner: None, permit: None },
            }
        };
        ResponseFuture { inner: Some(self.inner.call(request)), permit }
    }
}

pin_project_lite::pin_project! {
    /// The inner call's answer with the slot moved into its body; no inner call: shed. No
    /// allocation on the way (this is every prediction's path).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        permit: Option<OwnedSemaphorePermit>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<HeldBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(Box::new(tower::load_shed::error::Overloaded::new())));
        };
        let response = std::task::ready!(inner.poll(cx)).map_err(Into::into)?;
        let permit = this.permit.take();
        Poll::Ready(Ok(response.map(|inner| HeldBody::new(inner, permit))))
    }
}

/// A response body holding its call's slot until the body ends or is dropped.
pub type HeldBody<B> = HookedBody<B, OwnedSemaphorePermit>;

impl<B: Body> FrameHook<B> for OwnedSemaphorePermit {
    fn poll_frame(
        permit: &mut Option<Self>,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> PolledFrame<B> {
        let frame = inner.poll_frame(cx);
        if let Poll::Ready(None) = &frame {
            permit.take();
        }
        frame
    }
}
