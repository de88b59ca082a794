//! The deadline rule of every call, read by the deadline layer and by handlers whose work
//! outlives their response future (a stream's).

use std::time::Duration;

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

/// How long a call may take: the client's `grpc-timeout` when it sends one (longer or shorter
/// than the server's default: the client knows what it waits for), else `default`. Also for
/// handlers whose work outlives their response future (a stream's).
pub fn call_timeout(headers: &http::HeaderMap, default: Option<Duration>) -> Option<Duration> {
    headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_s_deadline_wins_over_the_default() {
        let mut headers = http::HeaderMap::new();
        let default = Some(Duration::from_secs(5));
        assert_eq!(call_timeout(&headers, default), default);
        headers.insert("grpc-timeout", "30S".parse().unwrap());
        assert_eq!(call_timeout(&headers, default), Some(Duration::from_secs(30)));
        headers.insert("grpc-timeout", "20m".parse().unwrap());
        assert_eq!(call_timeout(&headers, default), Some(Duration::from_millis(20)));
        headers.insert("grpc-timeout", "soon".parse().unwrap());
        assert_eq!(call_timeout(&headers, None), None);
    }
}
