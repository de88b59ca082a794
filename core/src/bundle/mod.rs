//! The model bundle: a versioned directory holding a manifest, `metrics.json`, each model's
//! Burn record with its configuration, and every encoder its features need.
//!
//! The manifest is written last and lists the sha256 of every other file, so a reader either
//! finds a complete, verified bundle or refuses it with a message naming the file.

mod load;
mod write;

pub use load::{bundle_versions, read_verified, resolve_bundle_dir};
pub use write::{BundleWriter, check_target};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the bundle layout this code reads and writes.
pub const FORMAT_VERSION: u32 = 2;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const METRICS_FILE: &str = "metrics.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelEntry {
    /// The model's configuration (architecture and training settings).
    pub config: serde_json::Value,
    /// The model's files, relative to the bundle directory.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    /// `YYYYMMDDTHHMMSSZ-` + the first 8 hex digits of a hash over every file's hash.
    pub bundle_version: String,
    pub created_at: DateTime<Utc>,
    /// Version of the code that wrote the bundle.
    pub shopml_version: String,
    /// Where the training data came from (a directory, or "generated sample").
    pub data_source: String,
    /// sha256 of every input file, by file name.
    pub data_fingerprint: BTreeMap<String, String>,
    /// The training configuration used.
    pub training_config: serde_json::Value,
    pub models: BTreeMap<String, ModelEntry>,
    /// ISO 4217 code of every amount of money of the bundle: inputs and answers of its
    /// models, its report and metrics.
    #[serde(default)]
    pub currency: Option<String>,
    /// Models the training run did not train, and why (a missing export or field).
    #[serde(default)]
    pub skipped_models: BTreeMap<String, String>,
    /// Every file of the bundle but the manifest, with its sha256.
    pub files: BTreeMap<String, FileEntry>,
}

/// Why a bundle was refused; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not valid JSON for this file: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: incompatible: {reason}")]
    Incompatible { path: PathBuf, reason: String },
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: missing")]
    Missing { path: PathBuf },
    #[error("{dir}: no bundle found ({reason})")]
    NotFound { dir: PathBuf, reason: String },
    /// Every version newer than the one serving (or every version, when none serves) was
    /// refused; newest first.
    #[error("no version loads: {}", .0.join("; "))]
    NoneLoads(Vec<String>),
}

impl BundleError {
    pub fn incompatible(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Incompatible { path: path.into(), reason: reason.into() }
    }
}

/// sha256 of a byte string, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Renumbers a module's parameter ids 0, 1, 2, … in traversal order.
#[derive(Default)]
struct NumberedParamIds {
    next: u64,
}

impl NumberedParamIds {
    fn renumber<T: burn::module::ParameterValue>(
        &mut self,
        param: burn::module::Param<T>,
    ) -> burn::module::Param<T> {
        let (_, value, mapper) = param.consume();
        self.next += 1;
        burn::module::Param::from_mapped_value(
            burn::module::ParamId::from(self.next - 1),
            value,
            mapper,
        )
    }
}

impl burn::module::ModuleMapper for NumberedParamIds {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::Tensor<D>>,
    ) -> burn::module::Param<burn::Tensor<D>> {
        self.renumber(param)
    }

    fn map_int<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::Tensor<D, burn::tensor::Int>>,
    ) -> burn::module::Param<burn::Tensor<D, burn::tensor::Int>> {
        self.renumber(param)
    }

    fn map_bool<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::Tensor<D, burn::tensor::Bool>>,
    ) -> burn::module::Param<burn::Tensor<D, burn::tensor::Bool>> {
        self.renumber(param)
    }
}

/// The files of one Burn model in a bundle: its record, the config beside it, the encoder of
/// its features and its calibration.
pub struct ModelFiles {
    pub name: &'static str,
    pub record: &'static str,
    pub config: &'static str,
    pub encoder: &'static str,
    pub calibration: &'static str,
}

impl ModelFiles {
    /// Writes the model into a bundle and records it in the manifest.
    pub fn save<M: burn::module::Module, C: Serialize>(
        &self,
        writer: &mut BundleWriter,
        model: M,
        config: &C,
        encoder: &impl Serialize,
        calibration: &impl Serialize,
    ) -> Result<(), BundleError> {
        let path = writer.path(self.record)?;
        // Burn gives parameters random ids and the record stores them; numbered in traversal
        // order instead, the same weights give the same bytes (and the same bundle hashes).
        model.map(&mut NumberedParamIds::default()).save_file(&path).map_err(|e| {
            BundleError::incompatible(&path, format!("cannot save the Burn record: {e:?}"))
        })?;
        writer.write_json(self.config, config)?;
        writer.write_json(self.encoder, encoder)?;
        writer.write_json(self.calibration, calibration)?;
        writer.add_model(
            self.name,
            serde_json::to_value(config).expect("a model config serialises"),
            &[self.record, self.config, self.encoder, self.calibration],
        );
        Ok(())
    }

    /// The model config, encoder and calibration of the bundle in `dir`.
    pub fn read<C: DeserializeOwned, E: DeserializeOwned, K: DeserializeOwned>(
        &self,
        dir: &Path,
    ) -> Result<(C, E, K), BundleError> {
        Ok((
            read_json(dir, self.config)?,
            read_json(dir, self.encoder)?,
            read_json(dir, self.calibration)?,
        ))
    }

    /// Loads the record into `module` (initialised from the config), refusing a record that
    /// does not fit it.
    pub fn load_record<M: burn::module::Module>(
        &self,
        dir: &Path,
        module: M,
    ) -> Result<M, BundleError> {
        let path = dir.join(self.record);
        module.try_load_file(&path).map_err(|e| {
            BundleError::incompatible(
                &path,
                format!("Burn record does not fit the model config: {e:?}"),
            )
        })
    }

    /// An error about the model config of the bundle in `dir` (e.g. it disagrees with the
    /// encoder).
    pub fn incompatible_config(&self, dir: &Path, reason: impl Into<String>) -> BundleError {
        BundleError::incompatible(dir.join(self.config), reason)
    }

    /// An error about the encoder file of the bundle in `dir`.
    pub fn incompatible_encoder(&self, dir: &Path, reason: impl Into<String>) -> BundleError {
        BundleError::incompatible(dir.join(self.encoder), reason)
    }

    /// An error about the calibration file of the bundle in `dir`.
    pub fn incompatible_calibration(&self, dir: &Path, reason: impl Into<String>) -> BundleError {
        BundleError::incompatible(dir.join(self.calibration), reason)
    }
}

/// What serves in a model's place: the baseline that scored better on the export's validation
/// period, or `null` for the model itself.
#[derive(Serialize)]
struct ServedOut<'a, T: ?Sized> {
    baseline: Option<&'a T>,
}

#[derive(Deserialize)]
struct Served<T> {
    baseline: Option<T>,
}

/// Writes what serves in model `model`'s place into `file` (every model with baselines writes
/// it, `null` when the model itself serves).
pub fn save_served<T: Serialize + ?Sized>(
    writer: &mut BundleWriter,
    model: &str,
    file: &str,
    baseline: Option<&T>,
) -> Result<(), BundleError> {
    writer.write_json(file, &ServedOut { baseline })?;
    writer.add_model_file(model, file);
    Ok(())
}

/// The baseline that serves in a model's place, checked by `validated`; None when the model
/// itself serves, or for a bundle written before baselines existed (no `file`).
pub fn load_served<T: DeserializeOwned>(
    dir: &Path,
    file: &str,
    validated: impl FnOnce(T) -> Result<T, String>,
) -> Result<Option<T>, BundleError> {
    match read_json::<Served<T>>(dir, file) {
        Ok(served) => served
            .baseline
            .map(validated)
            .transpose()
            .map_err(|reason| BundleError::incompatible(dir.join(file), reason)),
        Err(BundleError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a JSON file of a bundle, with errors naming it.
pub fn read_json<T: DeserializeOwned>(dir: &Path, relative: &str) -> Result<T, BundleError> {
    let path = dir.join(relative);
    let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => BundleError::Missing { path: path.clone() },
        _ => BundleError::Io { path: path.clone(), source },
    })?;
    serde_json::from_slice(&bytes).map_err(|source| BundleError::Json { path, source })
}
