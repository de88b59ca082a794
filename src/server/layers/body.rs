//! The response body every layer wraps, written once: the inner body, and the layer's state,
//! which does its work around each frame (holding a slot, counting the status, a span).

use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A body's next frame, as `Body::poll_frame` answers it.
pub type PolledFrame<B> = Poll<Option<Result<Frame<<B as Body>::Data>, <B as Body>::Error>>>;

/// What a layer does around each frame of a response body.
pub trait FrameHook<B: Body>: Sized {
    /// Polls `inner` for its next frame, doing the layer's work around it; `hook` is the
    /// layer's state (set, since a body without it polls `inner` directly), which it may end.
    fn poll_frame(
        hook: &mut Option<Self>,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> PolledFrame<B>;
}

pin_project_lite::pin_project! {
    /// A response body with a layer's state (`None`: passed through untouched).
    pub struct HookedBody<B, H> {
        #[pin]
        inner: B,
        hook: Option<H>,
    }
}

impl<B, H> HookedBody<B, H> {
    pub fn new(inner: B, hook: Option<H>) -> Self {
        Self { inner, hook }
    }
}

impl<B: Default, H> Default for HookedBody<B, H> {
    fn default() -> Self {
        Self { inner: B::default(), hook: None }
    }
}

impl<B: Body, H: FrameHook<B>> Body for HookedBody<B, H> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if this.hook.is_none() {
            return this.inner.poll_frame(cx);
        }
        H::poll_frame(this.hook, this.inner, cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
