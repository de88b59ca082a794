//! Bundle repositories in object storage: `s3://`, `gs://`, `az://` (or `abfs://`) and
//! `file://` URLs through the `object_store` crate. Training publishes a version by uploading
//! its files under `<prefix>/<bundle version>/` and writing the completion marker last; a
//! server syncs complete versions into a local cache directory and loads them from there as
//! from any local repository (hashes verified, newest that loads first, pins respected).
//! Credentials come from the usual environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).

#[cfg(feature = "test-server")]
pub mod test_server;

use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use shopml_core::bundle::{MANIFEST_FILE, Manifest};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The object written last when a version is complete: a server syncs only versions that
/// have it, so it never sees half an upload.
pub const COMPLETE_MARKER: &str = "_COMPLETE";

/// Versions a server keeps in its cache (the newest ones of the repository).
pub const CACHED_VERSIONS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: not a bundle repository URL ({reason})")]
    BadUrl { url: String, reason: String },
    #[error("{url}: {source}")]
    Store { url: String, source: object_store::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{url}: {reason}")]
    Invalid { url: String, reason: String },
}

pub use shopml_core::features::is_url;

/// A bundle repository in object storage.
#[derive(Clone)]
pub struct Repository {
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    url: String,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("url", &self.url).finish()
    }
}

impl Repository {
    /// The repository at `url`, configured from the environment's `AWS_*`, `GOOGLE_*` and
    /// `AZURE_*` variables, then `options` (the same keys, lower case, e.g. `aws_endpoint`).
    pub fn open(url: &str, options: &[(String, String)]) -> Result<Self, StoreError> {
        // Credentials written in the URL never reach a message.
        let shown = shopml_core::features::redacted_url(url);
        let parsed = url::Url::parse(url)
            .map_err(|e| StoreError::BadUrl { url: shown.clone(), reason: e.to_string() })?;
        let from_env = std::env::vars()
            .filter(|(k, _)| ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| k.starts_with(p)));
        let options =
            from_env.map(|(k, v)| (k.to_ascii_lowercase(), v)).chain(options.iter().cloned());
        // object_store's own message quotes the URL as given: shown redacted instead.
        let (store, prefix) = object_store::parse_url_opts(&parsed, options).map_err(|source| {
            StoreError::Invalid {
                url: shown.clone(),
                reason: source.to_string().replace(url, &shown).replace(parsed.as_str(), &shown),
            }
        })?;
        Ok(Self { store: Arc::from(store), prefix, url: shown.trim_end_matches('/').to_owned() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, parts: &[&str]) -> StorePath {
        let mut path = self.prefix.clone();
        for part in parts {
            for piece in part.split('/').filter(|p| !p.is_empty()) {
                path = path.join(piece);
            }
        }
        path
    }

    fn error(&self, source: object_store::Error) -> StoreError {
        StoreError::Store { url: self.url.clone(), source }
    }

    /// Checks that the repository can be written, before hours of training: writes and
    /// deletes a probe object.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let probe = self.path(&[&format!(".shopml-write-check-{}", std::process::id())]);
        self.store.put(&probe, PutPayload::from_static(b"")).await.map_err(|e| self.error(e))?;
        self.store.delete(&probe).await.map_err(|e| self.error(e))
    }

    /// Uploads the bundle in `dir` as the version its manifest names: every file the manifest
    /// lists, the manifest, then the completion marker. Returns the version.
    pub async fn publish(&self, dir: &Path) -> Result<String, StoreError> {
        let manifest: Manifest =
            shopml_core::bundle::read_json(dir, MANIFEST_FILE).map_err(|e| {
                StoreError::Invalid {
                    url: self.url.clone(),
                    reason: format!("{}: {e}", dir.display()),
                }
            })?;
        let version = manifest.bundle_version.clone();
        let names: Vec<&String> = manifest.files.keys().collect();
        let uploads = futures_util::stream::iter(names.into_iter().map(|name| {
            let version = &version;
            async move {
                let local = dir.join(name);
                let bytes = tokio::fs::read(&local)
                    .await
                    .map_err(|source| StoreError::Io { path: local.clone(), source })?;
                self.store
                    .put(&self.path(&[version, name]), PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.error(e))
                    .map(|_| ())
            }
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        uploads.into_iter().collect::<Result<Vec<()>, _>>()?;
        let manifest_bytes = tokio::fs::read(dir.join(MANIFEST_FILE))
            .await
            .map_err(|source| StoreError::Io { path: dir.join(MANIFEST_FILE), source })?;
        self.store
            .put(&self.path(&[&version, MANIFEST_FILE]), PutPayload::from(manifest_bytes))
            .await
            .map_err(|e| self.error(e))?;
        self.store
            .put(&self.path(&[&version, COMPLETE_MARKER]), PutPayload::from_static(b""))
            .await
            .map_err(|e| self.error(e))?;
        Ok(version)
    }

    /// Uploads the local file `local` as `name` under the repository's prefix (prediction-log
    /// files: each is finished before it is uploaded, so a reader never sees part of one).
    pub async fn put_file(&self, name: &str, local: &Path) -> Result<(), StoreError> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|source| StoreError::Io { path: local.to_owned(), source })?;
        self.store
            .put(&self.path(&[name]), PutPayload::from(bytes))
            .await
            .map_err(|e| self.error(e))
            .map(|_| ())
    }

    /// Downloads the objects directly under the prefix whose names end with `suffix` into
    /// `dir` (those already there with the same size are kept). Returns how many it fetched.
    pub async fn download_files(&self, suffix: &str, dir: &Path) -> Result<usize, StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        let listing =
            self.store.list_with_delimiter(Some(&self.prefix)).await.map_err(|e| self.error(e))?;
        let mut fetched = 0;
        for object in listing.objects {
            let Some(name) = object.location.filename().map(str::to_owned) else { continue };
            if !name.ends_with(suffix) || name.starts_with('.') {
                continue;
            }
            let local = dir.join(&name);
            if tokio::fs::metadata(&local).await.is_ok_and(|m| m.len() == object.size) {
                continue;
            }
            let bytes = self
                .store
                .get(&object.location)
                .await
                .map_err(|e| self.error(e))?
                .bytes()
                .await
                .map_err(|e| self.error(e))?;
            tokio::fs::write(&local, &bytes).await.map_err(io(&local))?;
            fetched += 1;
        }
        Ok(fetched)
    }

    /// The complete versions of the repository, newest first (versions start with their
    /// creation time, so names sort by age).
    pub async fn versions(&self) -> Result<Vec<String>, StoreError> {
        let listing =
            self.store.list_with_delimiter(Some(&self.prefix)).await.map_err(|e| self.error(e))?;
        let mut versions = Vec::new();
        for dir in listing.common_prefixes {
            let Some(name) = dir.filename().map(str::to_owned) else { continue };
            if name.starts_with('.') {
                continue;
            }
            match self.store.head(&dir.clone().join(COMPLETE_MARKER)).await {
                Ok(_) => versions.push(name),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        versions.sort_unstable_by(|a, b| b.cmp(a));
        Ok(versions)
    }

    /// Brings the newest complete versions into `cache` (a local repository a server
    /// watches): each new one downloaded into a hidden directory, then renamed into place, so
    /// the server never sees part of one. Versions gone from the repository or beyond the
    /// newest `CACHED_VERSIONS` are removed. Returns the versions downloaded.
    pub async fn sync_into(&self, cache: &Path) -> Result<Vec<String>, StoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        tokio::fs::create_dir_all(cache).await.map_err(io(cache))?;
        let wanted: Vec<String> =
            self.versions().await?.into_iter().take(CACHED_VERSIONS).collect();
        let mut downloaded = Vec::new();
        for version in &wanted {
            let target = cache.join(version);
            if target.join(MANIFEST_FILE).is_file() {
                continue;
            }
            let staging = cache.join(format!(".incoming-{version}"));
            let _ = tokio::fs::remove_dir_all(&staging).await;
            self.download(version, &staging).await?;
            tokio::fs::rename(&staging, &target).await.map_err(io(&target))?;
            tracing::info!(repository = %self.url, version, "bundle version synced");
            downloaded.push(version.clone());
        }
        let keep: BTreeSet<&String> = wanted.iter().collect();
        let mut entries = tokio::fs::read_dir(cache).await.map_err(io(cache))?;
        while let Some(entry) = entries.next_entry().await.map_err(io(cache))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !keep.contains(&name) {
                let _ = tokio::fs::remove_dir_all(entry.path()).await;
            }
        }
        Ok(downloaded)
    }

    async fn download(&self, version: &str, into: &Path) -> Result<(), StoreError> {
        let get = |name: String| async move {
            let bytes = self
                .store
                .get(&self.path(&[version, &name]))
                .await
                .map_err(|e| self.error(e))?
                .bytes()
                .await
                .map_err(|e| self.error(e))?;
            let local = into.join(&name);
            if let Some(parent) = local.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| StoreError::Io { path: parent.to_owned(), source })?;
            }
            tokio::fs::write(&local, &bytes)
                .await
                .map_err(|source| StoreError::Io { path: local.clone(), source })?;
            Ok::<Vec<u8>, StoreError>(bytes.to_vec())
        };
        let manifest_bytes = get(MANIFEST_FILE.to_owned()).await?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            StoreError::Invalid { url: self.url.clone(), reason: format!("{version}: {e}") }
        })?;
        // Names from the manifest stay inside the version (the loader checks hashes after).
        for name in manifest.files.keys() {
            if name.split('/').any(|p| p == ".." || p.is_empty()) || name.starts_with('/') {
                return Err(StoreError::Invalid {
                    url: self.url.clone(),
                    reason: format!("{version}: file name {name:?} leaves the bundle"),
                });
            }
        }
        let results = futures_util::stream::iter(manifest.files.keys().cloned().map(get))
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(())
    }
}

/// Runs `future` to completion on a small runtime of its own (for the synchronous training
/// binary).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(future)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_scheme_is_a_url_and_an_unsupported_one_is_refused_by_name() {
        for url in ["s3://b/p", "S3://b/p", "s3:/b", "ftp://h/p", "gcs://b/p", "file:///tmp/x"] {
            assert!(is_url(url), "{url}");
        }
        for path in ["models", "/srv/bundles", "./a:b", "C:/bundles", "c:\\bundles"] {
            assert!(!is_url(path), "{path}");
        }
        for url in ["ftp://user:secret@h/p", "gcs://b/p"] {
            let refused = Repository::open(url, &[]).unwrap_err().to_string();
            assert!(!refused.contains("secret"), "{refused}");
        }
    }
}
