//! The one list of models a bundle may hold. Adding a model is its folder (encoder, net,
//! inference, `save`/`load`) plus one line in [`models!`] below; the bundle code knows no model
//! by name.

use crate::bundle::{self, BundleError, Manifest};
use crate::cancellation::CancellationPredictor;
use crate::customer_value::CustomerValuePredictor;
use crate::forecast::Forecaster;
use crate::insights::Insights;
use crate::price::PricePredictor;
use crate::segments::SegmentIndex;
use crate::sentiment::SentimentPredictor;
use burn::tensor::Device;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// A model as served: built from the verified files of a bundle, and warmed before it serves.
pub trait ServedModel: Sized + Send + Sync + 'static {
    /// The model's name in the manifest (and in the model RPCs).
    const NAME: &'static str;
    /// The top-level keys of metrics.json that describe this model.
    const METRIC_SECTIONS: &'static [&'static str];
    fn load(dir: &Path, device: &Device) -> Result<Self, BundleError>;
    /// Runs the model once off the request path, so the first request pays no one-time cost.
    fn warm_up(&self);
}

macro_rules! models {
    ($($field:ident: $model:ty,)*) => {
        /// The models of a bundle; `None` where the bundle has no such model (its RPCs then
        /// answer FAILED_PRECONDITION naming it).
        #[derive(Default)]
        pub struct ModelSet {
            $(pub $field: Option<$model>,)*
        }

        impl ModelSet {
            /// The names of every model this build knows.
            pub const NAMES: &'static [&'static str] = &[$(<$model as ServedModel>::NAME,)*];

            /// Builds the models the manifest lists; a name this build does not know is
            /// logged and skipped (a newer trainer may add models an older server ignores).
            pub fn load(dir: &Path, manifest: &Manifest, device: &Device) -> Result<Self, BundleError> {
                let mut models = Self::default();
                for name in manifest.models.keys() {
                    $(if name == <$model as ServedModel>::NAME {
                        models.$field = Some(<$model as ServedModel>::load(dir, device)?);
                        continue;
                    })*
                    tracing::warn!(model = name.as_str(), "bundle holds a model this server does not know; ignored");
                }
                Ok(models)
            }

            pub fn warm_up(&self) {
                $(if let Some(model) = &self.$field {
                    model.warm_up();
                })*
            }

            /// The metrics.json sections of the model `name` (empty for an unknown name).
            pub fn metric_sections(name: &str) -> &'static [&'static str] {
                $(if name == <$model as ServedModel>::NAME {
                    return <$model as ServedModel>::METRIC_SECTIONS;
                })*
                &[]
            }
        }
    };
}

models! {
    cancellation: CancellationPredictor,
    price: PricePredictor,
    sentiment: SentimentPredictor,
    forecast: Forecaster,
    segments: SegmentIndex,
    customer_value: CustomerValuePredictor,
    insights: Insights,
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
        let models = ModelSet::load(dir, &manifest, &Device::flex())?;
        Ok(Self { manifest, dir: dir.to_owned(), loaded_at: Utc::now(), metrics, models })
    }

    pub fn version(&self) -> &str {
        &self.manifest.bundle_version
    }

    /// ISO 4217 code of the bundle's amounts ("" for a bundle that does not say).
    pub fn currency(&self) -> &str {
        self.manifest.currency.as_deref().unwrap_or("")
    }
}
