//! `shopml.v1.ModelService`: what is serving, and hot reload.

use super::reply;
use crate::error::ShopError;
use crate::proto;
use crate::registry::ModelRegistry;
use shopml_core::models::LoadedBundle;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Longest `ReloadModels.bundle_path` accepted (Linux's PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

pub struct ModelApi {
    registry: Arc<ModelRegistry>,
    forecast_max_horizon_days: u32,
}

impl ModelApi {
    pub fn new(registry: Arc<ModelRegistry>, forecast_max_horizon_days: u32) -> Self {
        Self { registry, forecast_max_horizon_days }
    }

    fn info(&self) -> Result<proto::GetModelInfoResponse, ShopError> {
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
            forecast_max_horizon_days: bundle.models.forecast.as_ref().map_or(0, |f| {
                f.max_horizon_days(
                    (self.forecast_max_horizon_days > 0)
                        .then_some(self.forecast_max_horizon_days as usize),
                ) as u32
            }),
            forecast_window_days: super::prediction::forecast_window_days(&bundle),
            forecast_series: forecaster,
            pinned_bundle_path: self
                .registry
                .pinned()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            currency: bundle.currency().to_owned(),
            skipped_models: manifest
                .skipped_models
                .iter()
                .map(|(name, reason)| proto::SkippedModel {
                    name: name.clone(),
                    reason: reason.clone(),
                })
                .collect(),
        })
    }

    /// `named` (absolute, or relative to the configured bundle directory) when it lies inside
    /// that directory; otherwise one refusal that says nothing of what exists elsewhere (no
    /// probing of the filesystem through the admin RPC).
    fn inside_bundle_dir(&self, named: &Path) -> Result<PathBuf, ShopError> {
        let root = self.registry.bundle_dir();
        let candidate = if named.is_absolute() { named.to_owned() } else { root.join(named) };
        let inside = std::fs::canonicalize(root)
            .and_then(|root| Ok((root, std::fs::canonicalize(&candidate)?)))
            .ok()
            .filter(|(root, candidate)| candidate.starts_with(root));
        inside.map(|(_, candidate)| candidate).ok_or_else(|| {
            ShopError::invalid(
                "bundle_path",
                "must name an existing bundle inside the server's bundle directory (server.bundle_dir)",
            )
        })
    }

    async fn reload(&self, bundle_path: &str) -> Result<proto::ReloadModelsResponse, ShopError> {
        // A path is logged and quoted in errors: bounded, and no control characters (no
        // forged log lines).
        if bundle_path.len() > MAX_PATH_BYTES || bundle_path.chars().any(char::is_control) {
            return Err(ShopError::invalid(
                "bundle_path",
                format!("at most {MAX_PATH_BYTES} bytes without control characters"),
            ));
        }
        let path = match bundle_path.trim() {
            "" => None,
            named => Some(self.inside_bundle_dir(Path::new(named))?),
        };
        let pinned = path.is_some();
        let outcome = self
            .registry
            .reload_requested(path)
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
            pinned,
        })
    }
}

/// Flattens nested JSON numbers into dotted keys ("per_series.kurta.mase").
pub fn flatten_metrics(value: &serde_json::Value, prefix: &str, out: &mut BTreeMap<String, f64>) {
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

fn model_info(bundle: &LoadedBundle, name: &str, config: &serde_json::Value) -> proto::ModelInfo {
    let facts = bundle.models.facts.get(name);
    let mut metrics = BTreeMap::new();
    if let Some(serde_json::Value::Object(sections)) = facts.map(|f| &f.metrics) {
        // A section named as the model: its figures by their own names; others prefixed with
        // the section's (sentiment_reviews.macro_f1).
        for (section, value) in sections {
            let prefix = if section == name { String::new() } else { section.clone() };
            flatten_metrics(value, &prefix, &mut metrics);
        }
    }
    let backtests = facts.map_or(&[][..], |f| f.backtests.as_slice());
    let served = match backtests {
        [] => String::new(),
        [only] if only.scope.is_empty() => only.served.clone(),
        all if all.iter().all(|b| b.serves_the_model()) => "model".into(),
        _ => "mixed".into(),
    };
    proto::ModelInfo {
        name: name.to_owned(),
        config_json: config.to_string(),
        metrics,
        predicts: facts.map(|f| f.predicts.clone()).unwrap_or_default(),
        served,
        backtests: backtests.iter().map(backtest).collect(),
    }
}

fn backtest(b: &shopml_core::models::Backtest) -> proto::Backtest {
    proto::Backtest {
        scope: b.scope.clone(),
        metric: b.metric.clone(),
        better: match b.better {
            shopml_core::models::Better::Lower => "lower",
            shopml_core::models::Better::Higher => "higher",
            shopml_core::models::Better::Neither => "",
        }
        .into(),
        served: b.served.clone(),
        candidates: b
            .candidates
            .iter()
            .map(|c| proto::BacktestCandidate {
                name: c.name.clone(),
                baseline: c.baseline,
                validation: c.validation,
                test: c.test,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl proto::model_service_server::ModelService for ModelApi {
    async fn get_model_info(
        &self,
        _request: Request<proto::GetModelInfoRequest>,
    ) -> Result<Response<proto::GetModelInfoResponse>, Status> {
        reply(self.info())
    }

    /// Needs the admin bearer token when one is configured (checked by the auth layer).
    async fn reload_models(
        &self,
        request: Request<proto::ReloadModelsRequest>,
    ) -> Result<Response<proto::ReloadModelsResponse>, Status> {
        reply(self.reload(&request.into_inner().bundle_path).await)
    }
}
