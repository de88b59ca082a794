//! The analysts' dashboard on the HTTP port: server-side rendered pages of the bundle serving
//! (so they follow hot reloads), with inline SVG and styles — nothing is fetched from the network.

use super::layers::auth::bearer_matches;
use crate::registry::ModelRegistry;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use shopml_core::insights::html::{self, Page, ProductQuery, url_decode};
use shopml_core::insights::{Metric, Period, QueryError};
use std::sync::Arc;
use std::time::Instant;

/// Where the pages live.
pub const BASE: &str = "/dashboard";

/// Who may see the pages: with a token, requests carry it as `Authorization: Bearer <token>`
/// or, from a browser, as the password of Basic auth (any user name).
#[derive(Clone, Debug, Default)]
pub struct DashboardAccess {
    pub token: Option<String>,
}

impl DashboardAccess {
    /// The token is required when every RPC requires it, and whenever the metrics listener
    /// is reachable beyond this machine: beyond loopback, only health and metrics are open.
    pub fn for_settings(settings: &crate::config::Settings) -> Self {
        let token = &settings.auth.admin_token;
        let beyond_loopback = !crate::config::is_loopback(settings.server.metrics_listen.trim());
        let required = settings.auth.require_for_all || beyond_loopback;
        Self { token: (required && !token.is_empty()).then(|| token.clone()) }
    }
}

impl DashboardAccess {
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(token) = self.token.as_deref() else { return true };
        let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        bearer_matches(presented, token) || basic_password_matches(presented, token)
    }
}

/// True when `header` is Basic auth whose password is `token` (compared in constant time).
fn basic_password_matches(header: Option<&str>, token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(credentials) = String::from_utf8(decoded) else { return false };
    let Some((_, password)) = credentials.split_once(':') else { return false };
    bearer_matches(Some(&format!("Bearer {password}")), token)
}

/// Why a page cannot be shown.
#[derive(Debug, PartialEq)]
enum PageError {
    NoSuchPage,
    BadQuery(String),
}

/// How a page is sent: the page, or its table as CSV (`format=csv`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Html,
    Csv,
}

/// The page a path under `BASE` (without it) and its query string ask for, and its format.
fn parse_request(rest: &str, query: Option<&str>) -> Result<(Page, Format), PageError> {
    let page = parse_page(rest, query)?;
    let csv = query.unwrap_or("").split('&').any(|p| p == "format=csv");
    match (csv, &page) {
        (false, _) => Ok((page, Format::Html)),
        (true, Page::Products(_)) => Ok((page, Format::Csv)),
        (true, _) => Err(PageError::BadQuery("CSV is offered for the products page".into())),
    }
}

/// The page a path under `BASE` (without it) and its query string ask for.
fn parse_page(rest: &str, query: Option<&str>) -> Result<Page, PageError> {
    let rest = rest.trim_matches('/');
    let params: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match rest {
        "" => Ok(Page::Overview),
        "customers" => Ok(Page::Customers),
        "bought-together" => Ok(Page::BoughtTogether(param("sku"))),
        "models" => Ok(Page::Models),
        "products" => {
            let metric = match param("metric") {
                None => Metric::Revenue,
                Some(name) => {
                    Metric::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
                        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                        PageError::BadQuery(format!(
                            "metric {} is not one of {}",
                            shopml_core::features::echo(&name),
                            known.join(", ")
                        ))
                    })?
                }
            };
            let ascending = match param("order").as_deref() {
                None | Some("highest") => false,
                Some("lowest") => true,
                Some(other) => {
                    return Err(PageError::BadQuery(format!(
                        "order {} is not highest or lowest",
                        shopml_core::features::echo(other)
                    )));
                }
            };
            let compare = match param("compare").as_deref() {
                None => false,
                Some("previous") => true,
                Some(other) => {
                    return Err(PageError::BadQuery(format!(
                        "compare {} is not previous",
                        shopml_core::features::echo(other)
                    )));
                }
            };
            Ok(Page::Products(ProductQuery {
                metric,
                region: param("region"),
                category: param("category"),
                ascending,
                period: Period { from: param("from"), to: param("to") },
                compare,
            }))
        }
        _ => match rest.strip_prefix("regions/") {
            Some(region) if !region.is_empty() && !region.contains('/') => {
                Ok(Page::Region(url_decode(region)))
            }
            _ => Err(PageError::NoSuchPage),
        },
    }
}

fn html_response(status: StatusCode, body: String, render_ms: f64) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // The pages hold the retailer's figures: keep them out of shared caches and frames.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
        ),
    );
    if let Ok(timing) = HeaderValue::from_str(&format!("render;dur={render_ms:.2}")) {
        headers.insert("server-timing", timing);
    }
    response
}

/// A table as a CSV download (the same figures as its page, unformatted).
fn csv_response(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"shopml-products.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{}</style></head><body><main><h1>{title}</h1><p>{}</p><p><a href=\"{BASE}\">Overview</a></p></main></body></html>",
        html::STYLE,
        shopml_core::charts::escape(message)
    );
    html_response(status, body, 0.0)
}

/// Renders the page `uri` asks for from the bundle serving.
pub async fn serve(
    registry: Arc<ModelRegistry>,
    access: Arc<DashboardAccess>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !access.allows(&headers) {
        let mut response = message_page(
            StatusCode::UNAUTHORIZED,
            "Sign-in needed",
            "This server requires the admin token for everything: send it as a bearer token, or as the password when the browser asks.",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"shopml dashboard\", charset=\"UTF-8\""),
        );
        return response;
    }
    let rest = uri.path().strip_prefix(BASE).unwrap_or("");
    let (page, format) = match parse_request(rest, uri.query()) {
        Ok(request) => request,
        Err(PageError::NoSuchPage) => {
            return message_page(StatusCode::NOT_FOUND, "No such page", uri.path());
        }
        Err(PageError::BadQuery(reason)) => {
            return message_page(StatusCode::BAD_REQUEST, "Bad request", &reason);
        }
    };
    let Ok(bundle) = registry.current() else {
        return message_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "No bundle yet",
            "No model bundle is loaded yet; the dashboard appears once one is.",
        );
    };
    // Rendering walks the bundle's aggregates: off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let ctx = bundle.page_context(BASE)?;
        let body = match (format, &page) {
            (Format::Csv, Page::Products(query)) => html::products_csv(&ctx, query),
            _ => html::page(&ctx, &page),
        };
        Some((body, started.elapsed().as_secs_f64() * 1e3))
    })
    .await;
    match rendered {
        Ok(Some((Ok(body), _))) if format == Format::Csv => csv_response(body),
        Ok(Some((Ok(body), ms))) => html_response(StatusCode::OK, body, ms),
        Ok(Some((Err(error @ QueryError::NotFound { .. }), _))) => {
            message_page(StatusCode::NOT_FOUND, "Not found", &error.to_string())
        }
        Ok(Some((Err(error @ QueryError::Invalid { .. }), _))) => {
            message_page(StatusCode::BAD_REQUEST, "Bad request", &error.to_string())
        }
        Ok(None) => message_page(
            StatusCode::NOT_FOUND,
            "No insights",
            "The bundle serving has no insights: train it with the \"insights\" model.",
        ),
        Err(error) => {
            tracing::error!(%error, "dashboard page failed");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "the page could not be rendered",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(parse_page("", None), Ok(Page::Overview));
        assert_eq!(parse_page("/", None), Ok(Page::Overview));
        assert_eq!(parse_page("/models", None), Ok(Page::Models));
        assert_eq!(
            parse_page("/regions/TAMIL%20NADU", None),
            Ok(Page::Region("TAMIL NADU".into()))
        );
        assert_eq!(
            parse_page("/products", Some("metric=units&region=West+Bengal&category=")),
            Ok(Page::Products(ProductQuery {
                metric: Metric::Units,
                region: Some("West Bengal".into()),
                ..ProductQuery::default()
            }))
        );
        let (page, format) =
            parse_request("/products", Some("from=2022-04&to=2022-05&compare=previous&format=csv"))
                .unwrap();
        assert_eq!(format, Format::Csv);
        let Page::Products(query) = page else { panic!("the products page") };
        assert_eq!(query.period.from.as_deref(), Some("2022-04"));
        assert!(query.compare);
        assert!(parse_request("/models", Some("format=csv")).is_err());
        assert!(matches!(
            parse_page("/products", Some("compare=yes")),
            Err(PageError::BadQuery(_))
        ));
        assert!(matches!(parse_page("/products", Some("metric=joy")), Err(PageError::BadQuery(_))));
        assert_eq!(parse_page("/regions/", None), Err(PageError::NoSuchPage));
        assert_eq!(parse_page("/etc/passwd", None), Err(PageError::NoSuchPage));
    }

    #[test]
    fn the_token_is_accepted_as_bearer_or_basic_password() {
        let access = DashboardAccess { token: Some("s3cret".into()) };
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            h
        };
        assert!(access.allows(&with("Bearer s3cret")));
        // "analyst:s3cret"
        assert!(access.allows(&with("Basic YW5hbHlzdDpzM2NyZXQ=")));
        // "analyst:wrong"
        assert!(!access.allows(&with("Basic YW5hbHlzdDp3cm9uZw==")));
        assert!(!access.allows(&HeaderMap::new()));
        assert!(DashboardAccess::default().allows(&HeaderMap::new()));
    }
}
