//! Errors of the training job; each names the file, and where it applies the row and column.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{path}: missing column '{column}' (columns found: {found:?}); map it under [columns] in the config"
    )]
    MissingColumn { path: PathBuf, column: String, found: Vec<String> },
    #[error(
        "{path}: missing columns {columns:?} (columns found: {found:?}); map them under [columns] in the config, or map an optional field to \"\" to declare it absent"
    )]
    MissingColumns { path: PathBuf, columns: Vec<String>, found: Vec<String> },
    #[error("{path}: row {row}, column '{column}': {reason}")]
    BadCell { path: PathBuf, row: usize, column: String, reason: String },
    #[error("{path}: {reason}")]
    NotEnoughData { path: PathBuf, reason: String },
    #[error("{dir}: no {name} (nor {name}.gz)")]
    MissingFile { dir: PathBuf, name: String },
}
