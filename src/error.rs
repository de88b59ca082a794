//! Domain errors of the service, and their mapping to gRPC status codes in one place.

use shopml_core::features::echo;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The request is malformed; `field` names the offending field the way a client wrote it,
    /// e.g. `order.lines[2].unit_price`.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// A named thing (series, product id, SKU, …) is unknown to the loaded bundle.
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// The loaded bundle has no such model.
    #[error("model '{0}' is not in the loaded bundle")]
    ModelUnavailable(&'static str),
    /// The export the bundle was trained on did not record what is asked about.
    #[error("the bundle's export records no {0}")]
    NotInExport(&'static str),
    /// A bundle was refused (the serving bundle stays).
    #[error("bundle refused, the serving bundle stays: {0}")]
    BundleRefused(String),
    /// No bundle has been loaded yet.
    #[error("no model bundle is loaded yet")]
    NotReady,
    /// The request asks for more than the configured limits allow.
    #[error("{0}")]
    LimitExceeded(String),
    /// The answer would be larger than the configured message size: found while computing it,
    /// so the rest is not computed.
    #[error("{0}")]
    AnswerTooLarge(String),
    /// A bug or an unexpected model failure; the message is for logs and the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ShopError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.into() }
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound { what, id: id.into() }
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::ModelUnavailable(_) | Self::NotInExport(_) | Self::BundleRefused(_) => {
                Code::FailedPrecondition
            }
            Self::NotReady => Code::Unavailable,
            Self::LimitExceeded(_) => Code::InvalidArgument,
            Self::AnswerTooLarge(_) => Code::ResourceExhausted,
            Self::Internal(_) => Code::Internal,
        }
    }
}

/// The canonical name of a gRPC status code, e.g. `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl From<ShopError> for Status {
    /// The readable message for every error; an invalid field also as a structured
    /// `google.rpc.BadRequest` detail, so clients can point at the field without parsing text.
    fn from(error: ShopError) -> Self {
        let message = error.to_string();
        match error {
            ShopError::InvalidArgument { field, reason } => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request_violation(field, reason),
            ),
            other => Status::new(other.code(), message),
        }
    }
}

impl From<shopml_core::insights::QueryError> for ShopError {
    /// An unknown region or category lists the values nearest to what was asked.
    fn from(error: shopml_core::insights::QueryError) -> Self {
        use shopml_core::insights::QueryError;
        match error {
            QueryError::NotFound { what, value, near } if near.is_empty() => {
                ShopError::not_found(what, format!("\"{}\"", echo(&value)))
            }
            QueryError::NotFound { what, value, near } => ShopError::not_found(
                what,
                format!("\"{}\"; nearest: {}", echo(&value), echo(&near.join(", "))),
            ),
            QueryError::Invalid { field, reason } => ShopError::invalid(field, reason),
        }
    }
}

/// tonic answers a message over `max_message_bytes` with OUT_OF_RANGE; gRPC's other servers
/// (and the alerts operators write for them) use RESOURCE_EXHAUSTED. True for that case, from
/// the code and the message (percent-encoded, as in the `grpc-message` header, or not).
pub fn is_oversized_message(code: Code, message: &str) -> bool {
    code == Code::OutOfRange
        && (message.contains("message length too large")
            || message.contains("message%20length%20too%20large"))
}

/// The status a client should see: an oversized message as RESOURCE_EXHAUSTED.
pub fn standard_status(status: Status) -> Status {
    if is_oversized_message(status.code(), status.message()) {
        Status::resource_exhausted(status.message().to_owned())
    } else {
        status
    }
}

/// Prefixes the field of an `InvalidArgument` error, so nested validation reports the full
/// path (`orders[3]` + `order.lines[0].sku`).
pub fn within(prefix: &str, error: ShopError) -> ShopError {
    match error {
        ShopError::InvalidArgument { field, reason } => {
            ShopError::InvalidArgument { field: format!("{prefix}.{field}"), reason }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_errors_to_status_codes_with_the_field_named() {
        let status: Status = ShopError::invalid("order.lines[0].unit_price", "must be >= 0").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "order.lines[0].unit_price: must be >= 0");
        let violations =
            status.get_details_bad_request().expect("a BadRequest detail").field_violations;
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "order.lines[0].unit_price");
        assert_eq!(violations[0].description, "must be >= 0");
        let status: Status = ShopError::ModelUnavailable("price").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("price"));
        let nested = within("orders[3]", ShopError::invalid("order.order_date", "bad"));
        assert_eq!(nested.to_string(), "orders[3].order.order_date: bad");
    }
}
