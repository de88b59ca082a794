//! Loading and validating a bundle: every file's hash is checked against the manifest before
//! any model is built, and each model checks its files agree with each other.

use super::{
    BundleError, FORMAT_VERSION, MANIFEST_FILE, METRICS_FILE, Manifest, model_names, read_json,
    sha256_hex,
};
use crate::cancellation::CancellationPredictor;
use crate::forecast::Forecaster;
use crate::price::PricePredictor;
use crate::segments::SegmentIndex;
use crate::sentiment::SentimentPredictor;
use burn::tensor::Device;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// The models of a bundle; `None` where the bundle has no such model (its RPCs then answer
/// FAILED_PRECONDITION naming it).
#[derive(Default)]
pub struct ModelSet {
    pub cancellation: Option<CancellationPredictor>,
    pub price: Option<PricePredictor>,
    pub sentiment: Option<SentimentPredictor>,
    pub forecast: Option<Forecaster>,
    pub segments: Option<SegmentIndex>,
}

impl ModelSet {
    /// Runs every model once off the request path, so the first request pays no one-time cost.
    pub fn warm_up(&self) {
        if let Some(predictor) = &self.cancellation {
            predictor.warm_up();
        }
        if let Some(predictor) = &self.price {
            predictor.warm_up();
        }
        if let Some(predictor) = &self.sentiment {
            predictor.warm_up();
        }
        if let Some(forecaster) = &self.forecast {
            forecaster.warm_up();
        }
        if let Some(index) = &self.segments {
            index.warm_up();
        }
    }
}

/// A bundle loaded, verified and ready to serve.
pub struct LoadedBundle {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub loaded_at: DateTime<Utc>,
    /// metrics.json as written by training.
    pub metrics: serde_json::Value,
    pub models: ModelSet,
}

impl LoadedBundle {
    /// Loads the bundle in `dir` (a bundle directory, not a repository of versions).
    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let manifest: Manifest = read_json(dir, MANIFEST_FILE)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(BundleError::incompatible(
                dir.join(MANIFEST_FILE),
                format!(
                    "bundle format {} but this server reads format {FORMAT_VERSION}",
                    manifest.format_version
                ),
            ));
        }
        verify_files(dir, &manifest)?;
        let metrics = read_json(dir, METRICS_FILE)?;
        let device = Device::flex();
        let mut models = ModelSet::default();
        for name in manifest.models.keys() {
            match name.as_str() {
                model_names::CANCELLATION => {
                    models.cancellation = Some(crate::cancellation::load(dir, &device)?)
                }
                model_names::PRICE => models.price = Some(crate::price::load(dir, &device)?),
                model_names::SENTIMENT => {
                    models.sentiment = Some(crate::sentiment::load(dir, &device)?)
                }
                model_names::FORECAST => {
                    models.forecast = Some(crate::forecast::load(dir, &device)?)
                }
                model_names::SEGMENTS => models.segments = Some(crate::segments::load(dir)?),
                other => tracing::warn!(
                    model = other,
                    "bundle holds a model this server does not know; ignored"
                ),
            }
        }
        Ok(Self { manifest, dir: dir.to_owned(), loaded_at: Utc::now(), metrics, models })
    }

    pub fn version(&self) -> &str {
        &self.manifest.bundle_version
    }
}

fn verify_files(dir: &Path, manifest: &Manifest) -> Result<(), BundleError> {
    for (relative, entry) in &manifest.files {
        if relative.contains("..") || Path::new(relative).is_absolute() {
            return Err(BundleError::Corrupt {
                path: dir.join(MANIFEST_FILE),
                reason: format!("file path '{relative}' leaves the bundle"),
            });
        }
        let path = dir.join(relative);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => BundleError::Missing { path: path.clone() },
            _ => BundleError::Io { path: path.clone(), source },
        })?;
        if bytes.len() as u64 != entry.bytes || sha256_hex(&bytes) != entry.sha256 {
            return Err(BundleError::Corrupt {
                path,
                reason: "content does not match the sha256 in manifest.json".into(),
            });
        }
    }
    for (name, model) in &manifest.models {
        for file in &model.files {
            if !manifest.files.contains_key(file) {
                return Err(BundleError::Corrupt {
                    path: dir.join(MANIFEST_FILE),
                    reason: format!(
                        "model '{name}' names file '{file}' that the manifest does not list"
                    ),
                });
            }
        }
    }
    if !manifest.files.contains_key(METRICS_FILE) {
        return Err(BundleError::Missing { path: dir.join(METRICS_FILE) });
    }
    Ok(())
}

/// The bundle directory to serve from `dir`: `dir` itself when it holds a manifest, otherwise
/// its newest complete version (subdirectories holding a manifest, newest by name, as the
/// bundle versions start with their creation time).
pub fn resolve_bundle_dir(dir: &Path) -> Result<PathBuf, BundleError> {
    if dir.join(MANIFEST_FILE).is_file() {
        return Ok(dir.to_owned());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => {
            BundleError::NotFound { dir: dir.to_owned(), reason: "directory does not exist".into() }
        }
        _ => BundleError::Io { path: dir.to_owned(), source },
    })?;
    let newest = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            !name.to_string_lossy().starts_with('.') && e.path().join(MANIFEST_FILE).is_file()
        })
        .map(|e| e.path())
        .max();
    newest.ok_or_else(|| BundleError::NotFound {
        dir: dir.to_owned(),
        reason: format!("no {MANIFEST_FILE} in it nor in a version subdirectory"),
    })
}
