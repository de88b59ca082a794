//! The model lifecycle: the bundle serving, behind an atomic pointer. A new bundle is loaded,
//! validated and warmed up off the request path, then swapped in; requests in flight keep the
//! `Arc` of the bundle they started with and finish on it.

use crate::error::ShopError;
use crate::metrics::Metrics;
use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use shopml_core::bundle::{
    BundleError, MANIFEST_FILE, Manifest, bundle_versions, read_json, resolve_bundle_dir,
};
use shopml_core::models::LoadedBundle;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The outcome of a reload that did not fail.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    /// False when the bundle found is the one already serving.
    pub reloaded: bool,
    pub version: String,
    pub previous: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReloadFailure {
    pub at: DateTime<Utc>,
    pub message: String,
    /// Version named by the refused bundle's manifest, when it could be read.
    pub version: Option<String>,
}

/// Callbacks of the lifecycle (health reporting).
pub trait LifecycleListener: Send + Sync {
    fn bundle_loaded(&self, version: &str);
}

pub struct ModelRegistry {
    bundle: ArcSwapOption<LoadedBundle>,
    bundle_dir: PathBuf,
    last_failure: Mutex<Option<ReloadFailure>>,
    reload_gate: tokio::sync::Mutex<()>,
    /// The bundle `ReloadModels` named: the watcher leaves it serving.
    pinned: Mutex<Option<PathBuf>>,
    metrics: Arc<Metrics>,
    listener: Option<Box<dyn LifecycleListener>>,
}

impl ModelRegistry {
    pub fn new(
        bundle_dir: PathBuf,
        metrics: Arc<Metrics>,
        listener: Option<Box<dyn LifecycleListener>>,
    ) -> Self {
        Self {
            bundle: ArcSwapOption::empty(),
            bundle_dir,
            last_failure: Mutex::new(None),
            reload_gate: tokio::sync::Mutex::new(()),
            pinned: Mutex::new(None),
            metrics,
            listener,
        }
    }

    /// The bundle serving now; requests hold this `Arc` until they finish.
    pub fn current(&self) -> Result<Arc<LoadedBundle>, ShopError> {
        self.bundle.load_full().ok_or(ShopError::NotReady)
    }

    pub fn is_ready(&self) -> bool {
        self.bundle.load().is_some()
    }

    pub fn bundle_dir(&self) -> &Path {
        &self.bundle_dir
    }

    pub fn last_failure(&self) -> Option<ReloadFailure> {
        self.last_failure.lock().expect("registry lock").clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Loads the bundle at `path` (default: the configured directory): its newest version that
    /// loads, falling back version by version down to the one serving, so one bad publish
    /// neither stops a restarted server nor hides a good version published before it. On
    /// failure the serving bundle stays; every refused version is logged and reported.
    pub async fn reload(&self, path: Option<PathBuf>) -> Result<ReloadOutcome, BundleError> {
        let _one_at_a_time = self.reload_gate.lock().await;
        self.reload_locked(path).await
    }

    /// The bundle `ReloadModels` pinned, if any.
    pub fn pinned(&self) -> Option<PathBuf> {
        self.pinned.lock().expect("registry lock").clone()
    }

    /// `ReloadModels`: a named bundle is loaded and pinned, so the watcher does not swap the
    /// newest version back in (a rollback stays rolled back); no path unpins and loads the
    /// configured directory's newest version. A refused bundle leaves the pin as it was.
    pub async fn reload_requested(
        &self,
        path: Option<PathBuf>,
    ) -> Result<ReloadOutcome, BundleError> {
        let _one_at_a_time = self.reload_gate.lock().await;
        if path.is_none() {
            *self.pinned.lock().expect("registry lock") = None;
        }
        let outcome = self.reload_locked(path.clone()).await?;
        if path.is_some() {
            *self.pinned.lock().expect("registry lock") = path;
        }
        Ok(outcome)
    }

    /// [`reload`](Self::reload) with the reload gate held.
    async fn reload_locked(&self, path: Option<PathBuf>) -> Result<ReloadOutcome, BundleError> {
        let dir = path.unwrap_or_else(|| self.bundle_dir.clone());
        let current = self.bundle.load_full();
        let current_version = current.as_ref().map(|b| b.version().to_owned());
        let serving = current_version.clone();
        let loaded =
            tokio::task::spawn_blocking(move || newest_that_loads(&dir, serving.as_deref()))
                .await
                .unwrap_or_else(|join| Attempt {
                    loaded: Err(BundleError::Corrupt {
                        path: self.bundle_dir.clone(),
                        reason: format!("loading panicked: {join}"),
                    }),
                    refused: Vec::new(),
                });
        let serving = current_version.as_deref().unwrap_or("none");
        for (version, error) in &loaded.refused {
            tracing::warn!(%error, version = version.as_deref().unwrap_or("unknown"), serving, "bundle version refused");
            self.metrics.reload(false);
        }
        if let Some((version, _)) = loaded.refused.first() {
            let message = loaded
                .refused
                .iter()
                .map(|(version, error)| match version {
                    Some(v) => format!("{v}: {error}"),
                    None => error.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            *self.last_failure.lock().expect("registry lock") =
                Some(ReloadFailure { at: Utc::now(), message, version: version.clone() });
        }
        match loaded.loaded {
            Ok(None) if !loaded.refused.is_empty() => Err(BundleError::NoneLoads(
                loaded.refused.iter().map(|(_, e)| e.to_string()).collect(),
            )),
            Ok(None) => Ok(ReloadOutcome {
                reloaded: false,
                version: current_version.clone().unwrap_or_default(),
                previous: current_version,
            }),
            Ok(Some(bundle)) => {
                let version = bundle.version().to_owned();
                tracing::info!(
                    version = %version,
                    previous = serving,
                    dir = %bundle.dir.display(),
                    "bundle loaded and swapped in"
                );
                self.bundle.store(Some(Arc::new(bundle)));
                self.metrics.reload(true);
                self.metrics.set_bundle_version(&version);
                if let Some(listener) = &self.listener {
                    listener.bundle_loaded(&version);
                }
                Ok(ReloadOutcome { reloaded: true, version, previous: current_version })
            }
            Err(error) => {
                tracing::warn!(%error, serving, "no bundle found; keeping the bundle serving");
                self.metrics.reload(false);
                *self.last_failure.lock().expect("registry lock") = Some(ReloadFailure {
                    at: Utc::now(),
                    message: error.to_string(),
                    version: None,
                });
                Err(error)
            }
        }
    }

    /// Polls the bundle directory and reloads when a new complete version appears. A version
    /// that failed is retried only after a back-off (a read can straddle a directory swap; a
    /// truly broken bundle should not flood the log).
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let dir = self.bundle_dir.clone();
            let found = tokio::task::spawn_blocking(move || {
                resolve_bundle_dir(&dir).ok().map(|d| version_key(&d))
            })
            .await
            .ok()
            .flatten();
            let Some(found) = found else { continue };
            let serving = self.bundle.load().as_ref().map(|b| b.version().to_owned());
            let backing_off = self.last_failure().is_some_and(|f| {
                f.version.as_ref() == Some(&found)
                    && Utc::now() - f.at
                        < chrono::Duration::from_std(interval * 15).unwrap_or_default()
            });
            if Some(&found) != serving.as_ref() && !backing_off {
                // Checked under the gate: a pin set while this poll ran is respected.
                let _one_at_a_time = self.reload_gate.lock().await;
                if self.pinned().is_none() {
                    let _ = self.reload_locked(None).await;
                }
            }
        }
    }
}

/// What one reload found: the bundle it loaded (None: the version serving is the newest that
/// could load), and the newer versions it refused on the way, newest first.
struct Attempt {
    loaded: Result<Option<LoadedBundle>, BundleError>,
    refused: Vec<(Option<String>, BundleError)>,
}

/// The version a bundle directory's manifest names; a manifest that does not read is keyed by
/// its directory, so that a broken newest version is tried, named in the reload error and
/// backed off like any other.
fn version_key(dir: &Path) -> String {
    match read_json::<Manifest>(dir, MANIFEST_FILE) {
        Ok(manifest) => manifest.bundle_version,
        Err(_) => format!("unreadable manifest in {}", dir.display()),
    }
}

/// Tries the versions of `dir` newest first, down to the one `serving`.
fn newest_that_loads(dir: &Path, serving: Option<&str>) -> Attempt {
    let mut refused = Vec::new();
    let versions = match bundle_versions(dir) {
        Ok(versions) => versions,
        Err(error) => return Attempt { loaded: Err(error), refused },
    };
    for candidate in versions {
        let version = Some(version_key(&candidate));
        if version.as_deref() == serving {
            return Attempt { loaded: Ok(None), refused };
        }
        match LoadedBundle::load(&candidate) {
            Ok(bundle) => {
                bundle.models.warm_up();
                return Attempt { loaded: Ok(Some(bundle)), refused };
            }
            Err(error) => refused.push((version, error)),
        }
    }
    Attempt { loaded: Ok(None), refused }
}
