//! `shopml.v1.ModelService`: what is serving, and hot reload.

use super::observed;
use crate::bundle::LoadedBundle;
use crate::error::ShopError;
use crate::proto;
use crate::server::guard::bearer_matches;
use crate::server::registry::ModelRegistry;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct ModelApi {
    registry: Arc<ModelRegistry>,
    admin_token: Option<String>,
    forecast_max_horizon_days: u32,
}

impl ModelApi {
    pub fn new(
        registry: Arc<ModelRegistry>,
        admin_token: Option<String>,
        forecast_max_horizon_days: u32,
    ) -> Self {
        Self { registry, admin_token, forecast_max_horizon_days }
    }
}

/// Flattens nested JSON numbers into dotted keys ("per_series.kurta.mase").
pub fn flatten_metrics(value: &serde_json::Value, prefix: &str, out: &mut HashMap<String, f64>) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                out.insert(prefix.to_owned(), v);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten_metrics(child, &name, out);
            }
        }
        _ => {}
    }
}

/// metrics.json keys that belong to each model.
fn metric_sections(model: &str) -> &'static [&'static str] {
    match model {
        "sentiment" => &["sentiment_reviews", "sentiment_products"],
        "cancellation" => &["cancellation"],
        "price" => &["price"],
        "forecast" => &["forecast"],
        "segments" => &["segments"],
        _ => &[],
    }
}

fn model_info(bundle: &LoadedBundle, name: &str, config: &serde_json::Value) -> proto::ModelInfo {
    let mut metrics = HashMap::new();
    let sections = metric_sections(name);
    for section in sections {
        if let Some(value) = bundle.metrics.get(*section) {
            let prefix = if sections.len() > 1 { (*section).to_owned() } else { String::new() };
            flatten_metrics(value, &prefix, &mut metrics);
        }
    }
    proto::ModelInfo { name: name.to_owned(), config_json: config.to_string(), metrics }
}

#[tonic::async_trait]
impl proto::model_service_server::ModelService for ModelApi {
    async fn get_model_info(
        &self,
        _request: Request<proto::GetModelInfoRequest>,
    ) -> Result<Response<proto::GetModelInfoResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "GetModelInfo", None, async {
            let failure = self.registry.last_failure();
            let bundle = self.registry.current()?;
            let manifest = &bundle.manifest;
            let forecaster = super::prediction::forecast_catalogue(&bundle);
            Ok(proto::GetModelInfoResponse {
                bundle_version: manifest.bundle_version.clone(),
                format_version: manifest.format_version,
                created_at: manifest.created_at.to_rfc3339(),
                loaded_at: bundle.loaded_at.to_rfc3339(),
                bundle_path: bundle.dir.display().to_string(),
                data_fingerprint: manifest
                    .data_fingerprint
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                models: manifest
                    .models
                    .iter()
                    .map(|(name, entry)| model_info(&bundle, name, &entry.config))
                    .collect(),
                metrics_json: bundle.metrics.to_string(),
                last_reload_error: failure.as_ref().map(|f| f.message.clone()).unwrap_or_default(),
                last_reload_error_at: failure.map(|f| f.at.to_rfc3339()).unwrap_or_default(),
                forecast_max_horizon_days: if forecaster.is_empty() {
                    0
                } else {
                    self.forecast_max_horizon_days
                },
                forecast_window_days: super::prediction::forecast_window_days(&bundle),
                forecast_series: forecaster,
            })
        })
        .await
    }

    async fn reload_models(
        &self,
        request: Request<proto::ReloadModelsRequest>,
    ) -> Result<Response<proto::ReloadModelsResponse>, Status> {
        if let Some(token) = &self.admin_token {
            let header = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
            if !bearer_matches(header, token) {
                return Err(Status::unauthenticated(
                    "ReloadModels requires the admin bearer token",
                ));
            }
        }
        let path = request.into_inner().bundle_path;
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "ReloadModels", None, async {
            let path = (!path.trim().is_empty()).then(|| PathBuf::from(path.trim()));
            let outcome = self
                .registry
                .reload(path)
                .await
                .map_err(|e| ShopError::BundleRefused(e.to_string()))?;
            Ok(proto::ReloadModelsResponse {
                reloaded: outcome.reloaded,
                message: if outcome.reloaded {
                    format!("now serving {}", outcome.version)
                } else {
                    format!("{} is already serving", outcome.version)
                },
                bundle_version: outcome.version,
                previous_version: outcome.previous.unwrap_or_default(),
            })
        })
        .await
    }
}
