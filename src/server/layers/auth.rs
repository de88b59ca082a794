//! Bearer-token auth in one place: the admin RPCs need the token whenever one is configured;
//! with `require_for_all`, every RPC does, health checks excepted (probes carry no secrets).

use futures_util::future::{Either, Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Status;
use tower::{Layer, Service};

/// RPCs that change what the server does.
const ADMIN_RPCS: &[&str] = &["/shopml.v1.ModelService/ReloadModels"];
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

#[derive(Clone, Debug, Default)]
pub struct AuthPolicy {
    /// The token callers present as `authorization: Bearer <token>`; None: no auth.
    pub token: Option<String>,
    /// Every RPC but health needs the token, not only the admin ones.
    pub require_for_all: bool,
}

impl AuthPolicy {
    /// The refusal for a call to `path` with this `authorization` header, if any.
    fn refusal(&self, path: &str, header: Option<&str>) -> Option<Status> {
        let token = self.token.as_deref()?;
        let admin = ADMIN_RPCS.contains(&path);
        let needed = admin || (self.require_for_all && !path.starts_with(HEALTH_PREFIX));
        if !needed || bearer_matches(header, token) {
            return None;
        }
        Some(Status::unauthenticated(if admin {
            "this RPC requires the admin bearer token"
        } else {
            "missing or wrong bearer token"
        }))
    }
}

/// True when `header` is `Bearer <token>` with the expected token (compared in constant time).
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let Some(presented) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    let (a, b) = (presented.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Clone)]
pub struct AuthLayer {
    policy: Arc<AuthPolicy>,
}

impl AuthLayer {
    pub fn new(policy: AuthPolicy) -> Self {
        Self { policy: Arc::new(policy) }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth { inner, policy: self.policy.clone() }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    policy: Arc<AuthPolicy>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Auth<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let header =
            request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match self.policy.refusal(request.uri().path(), header) {
            Some(status) => Either::Left(ready(Ok(status.into_http()))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_bearer_tokens() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }

    #[test]
    fn admin_rpcs_need_the_token_and_health_never_does() {
        let reload = ADMIN_RPCS[0];
        let price = "/shopml.v1.PredictionService/PredictPrice";
        let health = "/grpc.health.v1.Health/Check";
        let open = AuthPolicy { token: Some("t".into()), require_for_all: false };
        assert!(open.refusal(reload, None).is_some());
        assert!(open.refusal(reload, Some("Bearer t")).is_none());
        assert!(open.refusal(price, None).is_none());
        let closed = AuthPolicy { require_for_all: true, ..open };
        assert!(closed.refusal(price, Some("Bearer x")).is_some());
        assert!(closed.refusal(health, None).is_none());
        assert!(AuthPolicy::default().refusal(reload, None).is_none());
    }
}
