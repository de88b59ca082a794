//! Loading and validating a bundle: every file's hash is checked against the manifest before
//! any model is built, and each model checks its files agree with each other.

use super::{
    BundleError, FORMAT_VERSION, MANIFEST_FILE, METRICS_FILE, Manifest, read_json, sha256_hex,
};
use std::path::{Path, PathBuf};

/// Reads the manifest of the bundle in `dir` (a bundle directory, not a repository of
/// versions), checks its format and every file's hash, and returns it with `metrics.json`.
/// Nothing here knows a model: [`crate::models::ModelSet`] builds them from the verified files.
pub fn read_verified(dir: &Path) -> Result<(Manifest, serde_json::Value), BundleError> {
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
    if manifest.models.is_empty() {
        return Err(BundleError::incompatible(
            dir.join(MANIFEST_FILE),
            "the bundle holds no model: nothing to serve",
        ));
    }
    verify_files(dir, &manifest)?;
    let metrics = read_json(dir, METRICS_FILE)?;
    Ok((manifest, metrics))
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
/// its newest complete version (see [`bundle_versions`]).
pub fn resolve_bundle_dir(dir: &Path) -> Result<PathBuf, BundleError> {
    Ok(bundle_versions(dir)?.swap_remove(0))
}

/// The bundles `dir` offers, newest first: `dir` itself when it holds a manifest, otherwise
/// its subdirectories holding one, newest by name (the bundle versions start with their
/// creation time). Never empty.
pub fn bundle_versions(dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
    if dir.join(MANIFEST_FILE).is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => {
            BundleError::NotFound { dir: dir.to_owned(), reason: "directory does not exist".into() }
        }
        _ => BundleError::Io { path: dir.to_owned(), source },
    })?;
    let mut versions: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            !name.to_string_lossy().starts_with('.') && e.path().join(MANIFEST_FILE).is_file()
        })
        .map(|e| e.path())
        .collect();
    if versions.is_empty() {
        return Err(BundleError::NotFound {
            dir: dir.to_owned(),
            reason: format!("no {MANIFEST_FILE} in it nor in a version subdirectory"),
        });
    }
    versions.sort_unstable_by(|a, b| b.cmp(a));
    Ok(versions)
}
