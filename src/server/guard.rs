//! Cross-cutting request handling in one tower layer: bearer-token check, global concurrency
//! limit with load shedding, and deadlines (`grpc-timeout`, else the configured default).
//! Refusals are proper gRPC responses: UNAUTHENTICATED, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED.

use super::metrics::Metrics;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tonic::Status;
use tower::{Layer, Service};

#[derive(Clone)]
pub struct GuardLayer {
    state: Arc<GuardState>,
}

struct GuardState {
    permits: Arc<Semaphore>,
    default_timeout: Option<Duration>,
    /// Token every call must bear (`authorization: Bearer <token>`), health checks excepted.
    required_token: Option<String>,
    metrics: Arc<Metrics>,
}

impl GuardLayer {
    pub fn new(
        max_concurrent: usize,
        default_timeout: Option<Duration>,
        required_token: Option<String>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            state: Arc::new(GuardState {
                permits: Arc::new(Semaphore::new(max_concurrent)),
                default_timeout,
                required_token,
                metrics,
            }),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard { inner, state: self.state.clone() }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    state: Arc<GuardState>,
}

/// Parses a `grpc-timeout` header value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// True when `header` is `Bearer <token>` with the expected token (compared in constant time).
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let Some(presented) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    let (a, b) = (presented.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse<B: Default>(status: Status) -> http::Response<B> {
    status.into_http()
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Guard<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let state = self.state.clone();
        // The clone that was driven to readiness serves this call; keep a fresh one for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let is_health = request.uri().path().starts_with("/grpc.health.v1.Health/");
        if let Some(token) = state.required_token.as_deref().filter(|_| !is_health) {
            let header = request.headers().get("authorization").and_then(|v| v.to_str().ok());
            if !bearer_matches(header, token) {
                return Box::pin(async {
                    Ok(refuse(Status::unauthenticated("missing or wrong bearer token")))
                });
            }
        }
        let Ok(permit) = state.permits.clone().try_acquire_owned() else {
            state.metrics.shed.inc();
            return Box::pin(async {
                Ok(refuse(Status::resource_exhausted(
                    "server at its concurrency limit; retry with back-off",
                )))
            });
        };
        let header_timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        let deadline = match (header_timeout, state.default_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Box::pin(async move {
            state.metrics.in_flight.inc();
            let _in_flight = scopeguard(|| {
                state.metrics.in_flight.dec();
            });
            let _permit = permit;
            let response = inner.call(request);
            let result = match deadline {
                Some(deadline) => match tokio::time::timeout(deadline, response).await {
                    Ok(result) => result,
                    Err(_) => Ok(refuse(Status::deadline_exceeded(
                        "deadline exceeded before the answer was ready",
                    ))),
                },
                None => response.await,
            };
            result.map(standard_size_status)
        })
    }
}

/// tonic answers a request over `max_message_bytes` with OUT_OF_RANGE; gRPC's other servers
/// (and the alerts operators write for them) use RESOURCE_EXHAUSTED, so that one case is
/// rewritten.
fn standard_size_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let too_large = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers.get("grpc-message").and_then(|v| v.to_str().ok()).is_some_and(|m| {
            m.contains("message%20length%20too%20large") || m.contains("message length too large")
        });
    if too_large {
        response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

/// Runs `f` when dropped (also when the client goes away and the future is dropped).
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("10x"), None);
    }

    #[test]
    fn checks_bearer_tokens() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }
}
