//! Writing a bundle atomically: everything goes to a staging directory beside the target, the
//! manifest is written last, then the directory is renamed into place.

use super::{
    BundleError, FORMAT_VERSION, FileEntry, MANIFEST_FILE, Manifest, ModelEntry, hex, sha256_hex,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct BundleWriter {
    staging: PathBuf,
    target: PathBuf,
    models: BTreeMap<String, ModelEntry>,
    currency: Option<String>,
    skipped_models: BTreeMap<String, String>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io { path: path.to_owned(), source }
}

impl BundleWriter {
    /// Starts a bundle that [`finish`](Self::finish) will publish at `target`.
    pub fn create(target: &Path) -> Result<Self, BundleError> {
        check_target(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into());
        let stamp = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let staging = parent.join(format!(".{name}.staging-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        Ok(Self {
            staging,
            target: target.to_owned(),
            models: BTreeMap::new(),
            currency: None,
            skipped_models: BTreeMap::new(),
        })
    }

    /// The currency (ISO 4217) of every amount in the bundle, recorded in the manifest.
    pub fn set_currency(&mut self, code: &str) {
        self.currency = Some(code.to_owned());
    }

    /// Records a model the run did not train, and why, in the manifest.
    pub fn skip_model(&mut self, name: &str, reason: &str) {
        self.skipped_models.insert(name.to_owned(), reason.to_owned());
    }

    /// Path of a bundle file in the staging directory (its parent directory is created), for
    /// writers that take a path, such as Burn's `save_file`.
    pub fn path(&self, relative: &str) -> Result<PathBuf, BundleError> {
        let path = self.staging.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        Ok(path)
    }

    pub fn write_bytes(&self, relative: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let path = self.path(relative)?;
        std::fs::write(&path, bytes).map_err(io_err(&path))
    }

    pub fn write_json<T: Serialize + ?Sized>(
        &self,
        relative: &str,
        value: &T,
    ) -> Result<(), BundleError> {
        let mut text =
            serde_json::to_string_pretty(value).expect("bundle values serialise to JSON");
        text.push('\n');
        self.write_bytes(relative, text.as_bytes())
    }

    /// Records a model of the bundle: its configuration and files.
    pub fn add_model(&mut self, name: &str, config: serde_json::Value, files: &[&str]) {
        self.models.insert(
            name.to_owned(),
            ModelEntry { config, files: files.iter().map(|f| (*f).to_owned()).collect() },
        );
    }

    /// Adds a file to a model recorded by [`Self::add_model`].
    pub fn add_model_file(&mut self, name: &str, file: &str) {
        if let Some(entry) = self.models.get_mut(name) {
            entry.files.push(file.to_owned());
        }
    }

    /// Hashes every staged file, writes the manifest, and moves the bundle into place.
    pub fn finish(
        self,
        created_at: DateTime<Utc>,
        data_source: String,
        data_fingerprint: BTreeMap<String, String>,
        training_config: serde_json::Value,
    ) -> Result<Manifest, BundleError> {
        if self.models.is_empty() {
            return Err(BundleError::Incompatible {
                path: self.target.clone(),
                reason: "no model was trained: a bundle without one would serve nothing".into(),
            });
        }
        let mut files = BTreeMap::new();
        hash_tree(&self.staging, &self.staging, &mut files)?;
        for (name, model) in &self.models {
            for file in &model.files {
                if !files.contains_key(file) {
                    return Err(BundleError::Missing { path: self.staging.join(file) })
                        .map_err(|e| annotate(e, name));
                }
            }
        }
        let mut all = Sha256::new();
        for (name, entry) in &files {
            all.update(name.as_bytes());
            all.update(entry.sha256.as_bytes());
        }
        let digest = hex(&all.finalize());
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            bundle_version: format!("{}-{}", created_at.format("%Y%m%dT%H%M%SZ"), &digest[..8]),
            created_at,
            shopml_version: env!("CARGO_PKG_VERSION").to_owned(),
            data_source,
            data_fingerprint,
            training_config,
            models: self.models,
            currency: self.currency,
            skipped_models: self.skipped_models,
            files,
        };
        let manifest_path = self.staging.join(MANIFEST_FILE);
        let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        text.push('\n');
        std::fs::write(&manifest_path, text).map_err(io_err(&manifest_path))?;
        publish(&self.staging, &self.target)?;
        Ok(manifest)
    }
}

fn annotate(error: BundleError, model: &str) -> BundleError {
    match error {
        BundleError::Missing { path } => BundleError::Incompatible {
            reason: format!("file of model '{model}' was not written"),
            path,
        },
        other => other,
    }
}

fn hash_tree(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, FileEntry>,
) -> Result<(), BundleError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            hash_tree(root, &path, out)?;
        } else {
            let bytes = std::fs::read(&path).map_err(io_err(&path))?;
            let relative =
                path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            if relative != MANIFEST_FILE {
                out.insert(
                    relative,
                    FileEntry { sha256: sha256_hex(&bytes), bytes: bytes.len() as u64 },
                );
            }
        }
    }
    Ok(())
}

/// Refuses a target that publishing would destroy: anything but a missing path, an empty
/// directory or a bundle (a directory holding a manifest) — a directory of notes, the data
/// directory, a repository of bundle versions, a file.
pub fn check_target(target: &Path) -> Result<(), BundleError> {
    let refuse = |reason: &str| {
        Err(BundleError::Incompatible {
            path: target.to_owned(),
            reason: format!("refusing to write a bundle here: {reason}"),
        })
    };
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BundleError::Io { path: target.to_owned(), source }),
        Ok(meta) if !meta.is_dir() => refuse("it exists and is not a directory"),
        Ok(_) if target.join(MANIFEST_FILE).is_file() => match written_bundle(target) {
            Ok(()) => Ok(()),
            Err(reason) => refuse(&format!(
                "it holds a {MANIFEST_FILE} but is not a bundle this program wrote ({reason}); \
                 its files would be deleted"
            )),
        },
        Ok(_) => {
            let mut entries = std::fs::read_dir(target).map_err(io_err(target))?;
            if entries.next().is_none() {
                Ok(())
            } else {
                refuse(&format!(
                    "the directory is not empty and holds no {MANIFEST_FILE} (not a shopml bundle); \
                     its files would be deleted. Write each bundle to a new directory, e.g. a \
                     version directory inside the repository the server watches"
                ))
            }
        }
    }
}

/// Whether `dir` is a bundle as this program writes it: a manifest that parses in full, and
/// no file that it does not list. One file's name proves nothing.
fn written_bundle(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).map_err(|e| e.to_string())?;
    let manifest: super::Manifest =
        serde_json::from_str(&text).map_err(|e| format!("its manifest: {e}"))?;
    let mut present = BTreeMap::new();
    names_under(dir, dir, &mut present).map_err(|e| e.to_string())?;
    match present.keys().find(|name| !manifest.files.contains_key(*name)) {
        Some(unlisted) => Err(format!("{unlisted} is not in its manifest")),
        None if manifest.files.is_empty() => Err("its manifest lists no file".into()),
        None => Ok(()),
    }
}

/// The relative path of every file under `dir` but the manifest.
fn names_under(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, ()>,
) -> Result<(), std::io::Error> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            names_under(root, &path, out)?;
        } else {
            let relative =
                path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            if relative != MANIFEST_FILE {
                out.insert(relative, ());
            }
        }
    }
    Ok(())
}

/// Moves `staging` to `target`. An existing bundle at `target` is moved aside first and removed
/// after; a reader polling `target` sees the old bundle, briefly nothing, then the new one, and
/// never a mix (the manifest's hashes would refuse one).
fn publish(staging: &Path, target: &Path) -> Result<(), BundleError> {
    // Checked again: the directory may have changed while the bundle was being written.
    check_target(target)?;
    if target.exists() {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let aside = target.with_file_name(format!(
            ".{name}.old-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::rename(target, &aside).map_err(io_err(target))?;
        std::fs::rename(staging, target).map_err(io_err(target))?;
        std::fs::remove_dir_all(&aside).map_err(io_err(&aside))?;
    } else {
        std::fs::rename(staging, target).map_err(io_err(target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_path_an_empty_directory_or_a_bundle_may_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_target(&dir.path().join("new")).is_ok());
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(check_target(&empty).is_ok());
        let bundle = dir.path().join("bundle");
        let mut writer = BundleWriter::create(&bundle).unwrap();
        writer.write_json("m/model.json", &1).unwrap();
        writer.write_json(super::super::METRICS_FILE, &serde_json::json!({})).unwrap();
        writer.add_model("m", serde_json::Value::Null, &["m/model.json"]);
        writer.finish(Utc::now(), "test".into(), BTreeMap::new(), serde_json::Value::Null).unwrap();
        assert!(check_target(&bundle).is_ok(), "{:?}", check_target(&bundle));
        // A data directory with a manifest of its own is not a bundle this program wrote.
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("sales.csv"), "a,b\n1,2\n").unwrap();
        std::fs::write(data.join(MANIFEST_FILE), "{}").unwrap();
        assert!(BundleWriter::create(&data).is_err());
        std::fs::copy(bundle.join(MANIFEST_FILE), data.join(MANIFEST_FILE)).unwrap();
        let refused = check_target(&data).unwrap_err().to_string();
        assert!(refused.contains("sales.csv is not in its manifest"), "{refused}");
        assert!(data.join("sales.csv").is_file(), "nothing was deleted");
        // A bundle of no model is refused.
        let none = BundleWriter::create(&dir.path().join("none")).unwrap();
        assert!(
            none.finish(Utc::now(), "t".into(), BTreeMap::new(), serde_json::Value::Null).is_err()
        );

        let notes = dir.path().join("notes");
        std::fs::create_dir(&notes).unwrap();
        std::fs::write(notes.join("todo.txt"), "keep me").unwrap();
        let refused = BundleWriter::create(&notes).err().expect("a directory of notes is refused");
        assert!(refused.to_string().contains("not a shopml bundle"), "{refused}");
        assert!(notes.join("todo.txt").is_file(), "nothing was deleted");
        // A repository of versions is not a bundle either: replacing it would drop them all.
        let repository = dir.path().join("repository");
        std::fs::create_dir_all(repository.join("0001")).unwrap();
        std::fs::write(repository.join("0001").join(MANIFEST_FILE), "{}").unwrap();
        assert!(check_target(&repository).is_err());
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(check_target(&file).is_err());
    }
}
