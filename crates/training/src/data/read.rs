//! Reading an export as published: gzip or plain, UTF-8 or cp1252, CRLF or LF, quoted
//! multi-line fields. Every column is read as text; typed parsing happens in the cleaning
//! code, which counts and reports what it cannot parse.

use crate::error::DataError;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Text encoding of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    Utf8,
    /// Windows-1252 (a superset of Latin-1 as Excel writes it).
    Cp1252,
}

/// An export read into an all-text DataFrame.
pub struct RawTable {
    pub path: PathBuf,
    /// sha256 of the file's bytes as stored (compressed when gzip).
    pub sha256: String,
    pub frame: DataFrame,
}

/// Finds `name` or `name.gz` in `dir`.
pub fn find_export(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    [gz, plain].into_iter().find(|p| p.is_file())
}

pub fn read_table(path: &Path, encoding: TextEncoding) -> Result<RawTable, DataError> {
    let stored =
        std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    let sha256 = shopml_core::bundle::hex(&Sha256::digest(&stored));
    let bytes = if stored.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(stored.len() * 8);
        flate2::read::MultiGzDecoder::new(&stored[..]).read_to_end(&mut out).map_err(|e| {
            DataError::Unreadable { path: path.to_owned(), reason: format!("bad gzip data: {e}") }
        })?;
        out
    } else {
        stored
    };
    let text = match encoding {
        TextEncoding::Utf8 => {
            let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").map(<[u8]>::to_vec).unwrap_or(bytes);
            String::from_utf8(bytes).map_err(|e| DataError::Unreadable {
                path: path.to_owned(),
                reason: format!(
                    "not UTF-8 at byte {} (is it cp1252? set its encoding in the config)",
                    e.utf8_error().valid_up_to()
                ),
            })?
        }
        TextEncoding::Cp1252 => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
    };
    // One line-ending convention for the parser; quoted multi-line fields keep their breaks.
    let text = if text.contains('\r') { text.replace("\r\n", "\n") } else { text };
    if text.trim().is_empty() {
        return Err(DataError::Unreadable {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        });
    }
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(text.into_bytes()))
        .finish()
        .map_err(|e| DataError::Unreadable {
            path: path.to_owned(),
            reason: format!("not a readable CSV: {e}"),
        })?;
    Ok(RawTable { path: path.to_owned(), sha256, frame })
}

impl RawTable {
    /// The text cells of column `name` (as mapped in the config), or an error naming the file
    /// and the column.
    pub fn column(&self, name: &str) -> Result<Vec<Option<&str>>, DataError> {
        let column = self.frame.column(name).map_err(|_| DataError::MissingColumn {
            path: self.path.clone(),
            column: name.to_owned(),
            found: self.frame.get_column_names().iter().map(|c| c.to_string()).collect(),
        })?;
        let text = column.str().map_err(|e| DataError::Unreadable {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        Ok(text.iter().collect())
    }

    pub fn rows(&self) -> usize {
        self.frame.height()
    }
}
