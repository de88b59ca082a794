//! HTTP/JSON for every RPC: `POST /v1/{Service}/{Method}` with bodies in the proto3 JSON
//! mapping. A call is transcoded into the gRPC request it stands for and sent, in process,
//! through the very layers and services of the gRPC port — auth, concurrency limit, deadline,
//! metrics and traces are theirs, not copies. Streams read and write newline-delimited JSON.

use super::dashboard::DashboardAccess;
use crate::error::{code_name, standard_status};
use crate::proto;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use shopml_core::features::echo;
use std::sync::Arc;
use tonic::Code;
use tonic_types::StatusExt;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};

/// Where the API answers.
pub const PREFIX: &str = "/v1";

/// The gRPC services behind their layers, as the gRPC port serves them.
pub type GrpcService = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    BoxError,
>;

/// One RPC as HTTP/JSON sees it.
pub struct Route {
    pub grpc_path: &'static str,
    pub client_streaming: bool,
    pub server_streaming: bool,
    /// One request message: JSON in, protobuf out.
    request: fn(&[u8]) -> Result<Vec<u8>, serde_json::Error>,
    /// One response message: protobuf in, JSON out.
    response: fn(&[u8]) -> Result<Vec<u8>, String>,
}

fn json_to_protobuf<M>(json: &[u8]) -> Result<Vec<u8>, serde_json::Error>
where
    M: prost::Message + serde::de::DeserializeOwned,
{
    Ok(serde_json::from_slice::<M>(json)?.encode_to_vec())
}

fn protobuf_to_json<M>(bytes: &[u8]) -> Result<Vec<u8>, String>
where
    M: prost::Message + Default + serde::Serialize,
{
    let message = M::decode(bytes).map_err(|e| e.to_string())?;
    serde_json::to_vec(&message).map_err(|e| e.to_string())
}

/// The table is generated from the contract by `build.rs`, so every RPC has its route.
macro_rules! http_routes {
    ($(($service:literal, $method:literal, $req:ident, $res:ident, $cs:literal, $ss:literal)),* $(,)?) => {
        /// The route of `Service/Method`, when the contract has that RPC.
        pub fn route(service: &str, method: &str) -> Option<&'static Route> {
            match (service, method) {
                $(($service, $method) => {
                    static ROUTE: Route = Route {
                        grpc_path: concat!("/shopml.v1.", $service, "/", $method),
                        client_streaming: $cs,
                        server_streaming: $ss,
                        request: json_to_protobuf::<proto::$req>,
                        response: protobuf_to_json::<proto::$res>,
                    };
                    Some(&ROUTE)
                })*
                _ => None,
            }
        }

        /// Every RPC as `(service, method)`.
        pub const RPCS: &[(&str, &str)] = &[$(($service, $method)),*];
    };
}
include!(concat!(env!("OUT_DIR"), "/http_routes.rs"));

/// A failed call as the client sees it: the gRPC status as JSON, with the HTTP status of its
/// code.
pub struct JsonError(pub tonic::Status);

impl JsonError {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Self(tonic::Status::new(code, message))
    }
}

/// The conventional HTTP status of a gRPC code (as Google's API gateways map them).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let status = standard_status(self.0);
        let violations: Vec<serde_json::Value> = status
            .get_details_bad_request()
            .map(|bad| bad.field_violations)
            .unwrap_or_default()
            .into_iter()
            .map(|v| serde_json::json!({ "field": v.field, "description": v.description }))
            .collect();
        let mut body = serde_json::json!({
            "code": status.code() as i32,
            "status": code_name(status.code()),
            "message": status.message(),
        });
        if !violations.is_empty() {
            body["fieldViolations"] = violations.into();
        }
        (http_status(status.code()), [(header::CONTENT_TYPE, "application/json")], body.to_string())
            .into_response()
    }
}

/// gRPC's length-prefixed frames of `messages`, uncompressed.
fn frames(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.len() + 5).sum());
    for message in messages {
        out.push(0);
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
    }
    out
}

/// The messages of a gRPC body (the server was not asked to compress).
fn unframe(mut body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut messages = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 || body[0] != 0 {
            return Err("a gRPC answer frame that is cut or compressed".into());
        }
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let end = 5usize.checked_add(length).filter(|&end| end <= body.len());
        let end = end.ok_or("a gRPC answer frame longer than its body")?;
        messages.push(&body[5..end]);
        body = &body[end..];
    }
    Ok(messages)
}

/// The request messages of an HTTP body: one JSON object, or one per line for a stream.
fn request_messages(route: &Route, body: &[u8]) -> Result<Vec<Vec<u8>>, JsonError> {
    let invalid = |line: Option<usize>, error: serde_json::Error| {
        let place = line.map(|l| format!(" line {l}")).unwrap_or_default();
        let reason = echo(&error.to_string());
        JsonError(crate::ShopError::invalid(format!("request body{place}"), reason).into())
    };
    if !route.client_streaming {
        let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
        return Ok(vec![(route.request)(body).map_err(|e| invalid(None, e))?]);
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| (route.request)(line).map_err(|e| invalid(Some(i + 1), e)))
        .collect()
}

/// Headers of the HTTP call that the gRPC layers read (auth, deadline, trace context, …);
/// the encoding headers are gRPC's own.
fn grpc_headers(from: &HeaderMap, timeout_ms: Option<u64>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(from.len() + 2);
    for (name, value) in from {
        let skip = matches!(
            name.as_str(),
            "content-type"
                | "content-length"
                | "host"
                | "connection"
                | "transfer-encoding"
                | "te"
                | "accept-encoding"
                | "grpc-encoding"
                | "grpc-accept-encoding"
        );
        if !skip {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(ms) = timeout_ms {
        // gRPC's timeout has at most 8 digits.
        let value = format!("{}m", ms.min(99_999_999));
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert("grpc-timeout", value);
        }
    }
    headers
}

/// `timeout_ms` of the query string, if given.
fn timeout_ms(uri: &Uri) -> Result<Option<u64>, JsonError> {
    let Some(query) = uri.query() else { return Ok(None) };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("timeout_ms=") {
            return match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Some(ms)),
                _ => Err(JsonError(
                    crate::ShopError::invalid(
                        "timeout_ms",
                        format!("\"{}\" is not a number of milliseconds ≥ 1", echo(value)),
                    )
                    .into(),
                )),
            };
        }
    }
    Ok(None)
}

/// The API on the HTTP port: `POST /v1/{service}/{method}` and `GET /v1/openapi.json`. Beyond
/// loopback the port asks for the token as the dashboard does (`access`); the gRPC layers then
/// apply the gRPC port's own rules. A body may be 4 × `max_message_bytes` (JSON is larger than
/// the protobuf it stands for).
pub fn routes(
    api: GrpcService,
    access: Arc<DashboardAccess>,
    max_message_bytes: usize,
) -> axum::Router {
    use axum::extract::{DefaultBodyLimit, Path};
    use axum::routing::{get, post};
    let answer =
        move |Path((service, method)): Path<(String, String)>,
              uri: Uri,
              headers: HeaderMap,
              body: Result<Bytes, axum::extract::rejection::BytesRejection>| {
            let (api, access) = (api.clone(), access.clone());
            async move {
                if !access.allows(&headers) {
                    let status = tonic::Status::unauthenticated(
                        "this HTTP port requires the admin token (Authorization: Bearer …)",
                    );
                    return JsonError(status).into_response();
                }
                let body = match body {
                    Ok(body) => body,
                    Err(refused) => {
                        let status = tonic::Status::resource_exhausted(format!(
                            "request body: {refused} (the limit is {} bytes)",
                            max_message_bytes.saturating_mul(4)
                        ));
                        return JsonError(status).into_response();
                    }
                };
                call(api, &service, &method, &uri, &headers, body)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            }
        };
    axum::Router::new()
        .route(&format!("{PREFIX}/{{service}}/{{method}}"), post(answer))
        .layer(DefaultBodyLimit::max(max_message_bytes.saturating_mul(4)))
        .route(
            &format!("{PREFIX}/openapi.json"),
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], proto::OPENAPI_JSON) }),
        )
}

/// Answers `POST /v1/{service}/{method}` through `service`.
pub async fn call(
    service: GrpcService,
    service_name: &str,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, JsonError> {
    let route = route(service_name, method).ok_or_else(|| {
        JsonError::new(
            Code::Unimplemented,
            format!(
                "no RPC {}/{}; the API is listed at {PREFIX}/openapi.json",
                echo(service_name),
                echo(method)
            ),
        )
    })?;
    let messages = request_messages(route, &body)?;
    let mut request = http::Request::new(tonic::body::Body::new(http_body_util::Full::new(
        Bytes::from(frames(&messages)),
    )));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = Uri::from_static(route.grpc_path);
    *request.headers_mut() = grpc_headers(headers, timeout_ms(uri)?);
    let answer =
        service.oneshot(request).await.map_err(|e| JsonError(tonic::Status::from_error(e)))?;
    // A refusal before any message comes as headers only.
    if let Some(status) = tonic::Status::from_header_map(answer.headers())
        && status.code() != Code::Ok
    {
        return Err(JsonError(status));
    }
    let collected = answer.into_body().collect().await.map_err(JsonError)?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();
    match tonic::Status::from_header_map(&trailers) {
        Some(status) if status.code() == Code::Ok => {}
        Some(status) => return Err(JsonError(status)),
        None => return Err(JsonError::new(Code::Internal, "the answer ended without a status")),
    }
    let internal = |reason: String| JsonError::new(Code::Internal, reason);
    let mut json = Vec::with_capacity(data.len() * 2);
    for (i, message) in unframe(&data).map_err(internal)?.into_iter().enumerate() {
        if i > 0 {
            json.push(b'\n');
        }
        json.extend((route.response)(message).map_err(internal)?);
    }
    let content_type =
        if route.server_streaming { "application/x-ndjson" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, content_type)], json).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_of_the_contract_has_a_route() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut contract = Vec::new();
        for file in set.file.iter().filter(|f| f.package() == "shopml.v1") {
            for service in &file.service {
                for method in &service.method {
                    contract.push((service.name().to_owned(), method.name().to_owned()));
                    assert!(route(service.name(), method.name()).is_some());
                }
            }
        }
        assert_eq!(contract.len(), RPCS.len());
        assert!(route("PredictionService", "Nothing").is_none());
    }

    #[test]
    fn frames_round_trip_and_cut_frames_are_refused() {
        let framed = frames(&[b"ab".to_vec(), Vec::new(), b"xyz".to_vec()]);
        assert_eq!(unframe(&framed).unwrap(), vec![&b"ab"[..], b"", b"xyz"]);
        assert!(unframe(&framed[..framed.len() - 1]).is_err());
        assert!(unframe(&[1, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn a_bad_body_names_the_line_and_the_field() {
        let unary = route("PredictionService", "PredictPrice").unwrap();
        let error = request_messages(unary, br#"{"product": {"nmae": "x"}}"#).err().unwrap();
        assert_eq!(error.0.code(), Code::InvalidArgument);
        assert!(error.0.message().contains("nmae"), "{}", error.0.message());
        let stream = route("PredictionService", "PredictPriceStream").unwrap();
        assert_eq!(request_messages(stream, b"{}\n\n{}\n").ok().unwrap().len(), 2);
        let error = request_messages(stream, b"{}\n{oops}\n").err().unwrap();
        assert!(error.0.message().starts_with("request body line 2"), "{}", error.0.message());
        assert_eq!(request_messages(unary, b" ").ok().unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn codes_map_to_conventional_http_statuses() {
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status(Code::ResourceExhausted), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(http_status(Code::Unavailable), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(http_status(Code::DeadlineExceeded), StatusCode::GATEWAY_TIMEOUT);
    }
}
