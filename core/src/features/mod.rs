//! Feature encoding shared by training and serving, so the server encodes a request exactly as
//! training encoded a row.

pub mod bag;
pub mod ensemble;
pub mod normalize;
pub mod scaler;
pub mod text;
pub mod vocab;

pub use normalize::{normalize_key, normalize_postal_code, normalize_state};
pub use scaler::Standardizer;
pub use vocab::{FastMap, FastSet, Vocabulary};

use burn::tensor::{Device, Int, Tensor, TensorData};

/// A row-major `[rows, cols]` float matrix as a tensor.
pub fn float_matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A row-major `[rows, cols]` index matrix as an integer tensor.
pub fn index_matrix(values: Vec<i64>, rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// The values of a float tensor of any rank, row-major.
pub fn to_f32_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor converts to f32")
}

/// Logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Longest echo of a client's input in a message or log line, in characters.
pub const ECHO_CHARS: usize = 64;

/// A client's input as messages and logs may quote it: control characters and quotes escaped
/// (no forged log lines), at most [`ECHO_CHARS`] characters, and the full length said when cut.
pub fn echo(input: &str) -> String {
    let mut out: String = input.chars().take(ECHO_CHARS).flat_map(char::escape_debug).collect();
    if input.chars().nth(ECHO_CHARS).is_some() {
        out.push_str(&format!("… ({} bytes in all)", input.len()));
    }
    out
}

/// Whether `location` is written as a URL (`scheme://…` or `scheme:/…`, any scheme of two
/// characters or more) rather than a local path: such a location is never used as a local
/// directory; object storage then names an unsupported scheme (`S3://`, `ftp://`).
pub fn is_url(location: &str) -> bool {
    let Some((scheme, rest)) = location.split_once(':') else { return false };
    scheme.len() >= 2
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && rest.starts_with('/')
}

/// `url` with any credentials written in it (`user:secret@`) and its query left out, for
/// messages.
pub fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let authority = rest.split('/').next().unwrap_or("");
    let rest = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{host}{}", &rest[authority.len()..]),
        None => rest.to_owned(),
    };
    if scheme.is_empty() { rest } else { format!("{scheme}://{rest}") }
}

/// Parses an ISO-8601 calendar date, `YYYY-MM-DD`.
pub fn parse_iso_date(value: &str) -> Result<chrono::NaiveDate, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("required (YYYY-MM-DD)".into());
    }
    let shaped = value.len() == 10
        && value
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    // The shape is checked, so the fields are digits: no format-string parser on the request path.
    let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().ok();
    shaped
        .then(|| {
            chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
        })
        .flatten()
        .ok_or_else(|| format!("'{}' is not a date of the form YYYY-MM-DD", echo(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_short_and_escaped() {
        assert_eq!(echo("SET100-M"), "SET100-M");
        assert_eq!(echo("a\nb\"c"), "a\\nb\\\"c");
        let long = "x".repeat(1_000_000);
        let echoed = echo(&long);
        assert!(
            echoed.starts_with(&"x".repeat(ECHO_CHARS))
                && echoed.ends_with("(1000000 bytes in all)")
        );
        assert!(echoed.len() < 100);
    }

    #[test]
    fn parses_only_full_iso_dates() {
        assert_eq!(
            parse_iso_date(" 2022-06-12 "),
            Ok(chrono::NaiveDate::from_ymd_opt(2022, 6, 12).unwrap())
        );
        for bad in ["06-12-22", "2022-6-12", "2022-02-30", "20220612", "", "2022-06-12T00:00"] {
            assert!(parse_iso_date(bad).is_err(), "{bad}");
        }
    }
}
