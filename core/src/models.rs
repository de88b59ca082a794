//! The models a bundle may hold, as served: [`ModelSet`] over the one list in `lib.rs`, and a
//! loaded bundle. Adding a model is its folder (encoder, net, inference, figures,
//! `save`/`load`, and its [`ServedModel`] implementation) plus its line in that list; the
//! bundle code knows no model by name.

pub use crate::ModelSet;
use crate::bundle::{self, BundleError, Manifest};
pub use crate::served::{
    Backtest, BaselineCheck, Better, Candidate, Figure, ModelFacts, ModelMetrics, ServedModel,
};
use burn::tensor::Device;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// The figures of model `M` in the whole `metrics.json` of a bundle: its typed sections, read
/// back as training wrote them, or an error naming the file.
pub(crate) fn facts_of<M: ServedModel>(
    model: &M,
    dir: &Path,
    metrics: &serde_json::Value,
    currency: &str,
) -> Result<ModelFacts, BundleError> {
    let typed: M::Metrics = serde_json::from_value(metrics.clone())
        .map_err(|source| BundleError::Json { path: dir.join(bundle::METRICS_FILE), source })?;
    Ok(ModelFacts {
        predicts: model.describe(currency),
        figures: typed.figures(),
        backtests: typed.backtests(),
        metrics: serde_json::to_value(&typed).expect("figures serialise"),
    })
}

/// Declares [`ModelSet`] over the models listed in `lib.rs` (the one list of models).
macro_rules! models {
    ($($field:ident: $model:ty,)*) => {
        /// The models of a bundle; `None` where the bundle has no such model (its RPCs then
        /// answer FAILED_PRECONDITION naming it).
        #[derive(Default)]
        pub struct ModelSet {
            $(pub $field: Option<$model>,)*
            /// What each model present says of itself, by name.
            pub facts: std::collections::BTreeMap<&'static str, $crate::served::ModelFacts>,
        }

        impl ModelSet {
            /// The names of every model this build knows.
            pub const NAMES: &'static [&'static str] =
                &[$(<$model as $crate::served::ServedModel>::NAME,)*];

            /// Builds the models the manifest lists, with their figures from `metrics`; a name
            /// this build does not know is logged and skipped (a newer trainer may add models
            /// an older server ignores).
            pub fn load(
                dir: &std::path::Path,
                manifest: &$crate::bundle::Manifest,
                metrics: &serde_json::Value,
                device: &burn::tensor::Device,
            ) -> Result<Self, $crate::bundle::BundleError> {
                use $crate::served::ServedModel;
                let mut models = Self::default();
                let currency = manifest.currency.as_deref().unwrap_or("");
                for name in manifest.models.keys() {
                    $(if name == <$model as ServedModel>::NAME {
                        let model = <$model as ServedModel>::load(dir, device)?;
                        let facts = $crate::models::facts_of(&model, dir, metrics, currency)?;
                        models.facts.insert(<$model as ServedModel>::NAME, facts);
                        models.$field = Some(model);
                        continue;
                    })*
                    tracing::warn!(model = name.as_str(), "bundle holds a model this server does not know; ignored");
                }
                Ok(models)
            }

            pub fn warm_up(&self) {
                use $crate::served::ServedModel;
                $(if let Some(model) = &self.$field {
                    model.warm_up();
                })*
            }

            /// The figures of every model whose sections `metrics` (a whole metrics.json) holds,
            /// read typed, with their direction.
            pub fn figures_in(metrics: &serde_json::Value) -> Vec<$crate::served::Figure> {
                use $crate::served::{ModelMetrics, ServedModel};
                let mut figures = Vec::new();
                $(if let Ok(typed) = serde_json::from_value::<<$model as ServedModel>::Metrics>(metrics.clone()) {
                    figures.extend(typed.figures());
                })*
                figures
            }

            /// What serves against the baselines it must not lose to, of every model whose
            /// sections `metrics` holds, by model.
            pub fn baseline_checks_in(metrics: &serde_json::Value) -> Vec<(&'static str, $crate::served::BaselineCheck)> {
                use $crate::served::{ModelMetrics, ServedModel};
                let mut all = Vec::new();
                $(if let Ok(typed) = serde_json::from_value::<<$model as ServedModel>::Metrics>(metrics.clone()) {
                    let name = <$model as ServedModel>::NAME;
                    all.extend(typed.baseline_checks().into_iter().map(|b| (name, b)));
                })*
                all
            }

            /// The drift figures of every model this build knows (None: absent, or it keeps
            /// no window).
            pub fn drift(&self) -> Vec<(&'static str, Option<$crate::drift::DriftFigures>)> {
                use $crate::served::ServedModel;
                vec![$((
                    <$model as ServedModel>::NAME,
                    self.$field.as_ref().and_then(ServedModel::drift),
                ),)*]
            }
        }
    };
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
    /// Loads the bundle in `dir` (a bundle directory, not a repository of versions): every
    /// file's hash is checked before any model is built.
    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let (manifest, metrics) = bundle::read_verified(dir)?;
        let models = ModelSet::load(dir, &manifest, &metrics, &Device::flex())?;
        Ok(Self { manifest, dir: dir.to_owned(), loaded_at: Utc::now(), metrics, models })
    }

    pub fn version(&self) -> &str {
        &self.manifest.bundle_version
    }

    /// ISO 4217 code of the bundle's amounts ("" for a bundle that does not say).
    pub fn currency(&self) -> &str {
        self.manifest.currency.as_deref().unwrap_or("")
    }

    /// What the dashboard's pages of this bundle may show, under `base`; None when the
    /// bundle has no insights.
    pub fn page_context<'a>(&'a self, base: &'a str) -> Option<crate::insights::html::Context<'a>> {
        Some(crate::insights::html::Context {
            insights: self.models.insights.as_ref()?,
            bundle_version: self.version(),
            currency: self.currency(),
            facts: &self.models.facts,
            skipped_models: &self.manifest.skipped_models,
            customers: self.models.customer_value.as_ref(),
            segments: self.models.segments.as_ref(),
            base,
        })
    }
}
