//! What a request to a model or the insights can get wrong, named so that the server can say
//! which field it was (`INVALID_ARGUMENT`) or what is not in the data (`NOT_FOUND`, with the
//! nearest names).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{what} {value:?} is not in the data{}", nearest(.near))]
    NotFound { what: &'static str, value: String, near: Vec<String> },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn nearest(near: &[String]) -> String {
    if near.is_empty() { String::new() } else { format!("; nearest: {}", near.join(", ")) }
}
