//! Reading an export as published: gzip or plain, UTF-8 or cp1252, CRLF or LF, quoted
//! multi-line fields. Every column is read as text; typed parsing happens in the cleaning
//! code, which counts and reports what it cannot parse.

use crate::error::DataError;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

pub use crate::config::TextEncoding;

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

/// The delimiter of a CSV text: the one of `,` `;` tab `|` found most often in the header line
/// outside quotes (`,` on a tie or when none is found).
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for ch in header.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            '|' if !quoted => counts[3] += 1,
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t', b'|'][best] }
}

/// Whether `path` names a Parquet file (by its extension).
fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// A Parquet export, every column cast to text (typed parsing happens in the cleaning code,
/// as for CSV).
fn read_parquet(path: &Path, stored: Vec<u8>, sha256: String) -> Result<RawTable, DataError> {
    let unreadable = |e: PolarsError| DataError::Unreadable {
        path: path.to_owned(),
        reason: format!("not a readable Parquet file: {e}"),
    };
    let frame = ParquetReader::new(Cursor::new(stored)).finish().map_err(unreadable)?;
    let columns = frame
        .columns()
        .iter()
        .map(|c| c.cast(&DataType::String))
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    let frame = DataFrame::new_infer_height(columns).map_err(unreadable)?;
    Ok(RawTable { path: path.to_owned(), sha256, frame })
}

/// Where the first byte that is not UTF-8 lies, as a reader finds it: its row (1 = the first
/// after the header), column and cell.
fn not_utf8(bytes: &[u8], at: usize, delimiter: Option<char>) -> String {
    let line_start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let row = bytes[..at].iter().filter(|b| **b == b'\n').count();
    let header_end = bytes.iter().position(|b| *b == b'\n').unwrap_or(bytes.len());
    let header = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
    let delimiter = match delimiter {
        Some(d) if d.is_ascii() => d as u8,
        _ => detect_delimiter(&header),
    };
    // The cell's index: delimiters before it on its line, outside quotes.
    let (mut index, mut quoted, mut cell_start) = (0, false, line_start);
    for (i, b) in bytes[line_start..at].iter().enumerate() {
        if *b == b'"' {
            quoted = !quoted;
        } else if *b == delimiter && !quoted {
            index += 1;
            cell_start = line_start + i + 1;
        }
    }
    let cell_end = bytes[at..]
        .iter()
        .position(|b| *b == delimiter || *b == b'\n')
        .map_or(bytes.len(), |i| at + i);
    let cell = encoding_rs::WINDOWS_1252.decode(&bytes[cell_start..cell_end]).0.into_owned();
    let column = header
        .trim_start_matches('\u{feff}')
        .split(delimiter as char)
        .nth(index)
        .map_or_else(|| format!("#{}", index + 1), |c| c.trim().trim_matches('"').to_owned());
    format!(
        "row {row}, column '{column}': byte 0x{:02X} in {:?} is not UTF-8 (as cp1252 it reads as shown; set the file's encoding to \"cp1252\" under [data])",
        bytes[at],
        shopml_core::features::echo(&cell)
    )
}

pub fn read_table(
    path: &Path,
    encoding: TextEncoding,
    delimiter: Option<char>,
) -> Result<RawTable, DataError> {
    let stored =
        std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    let sha256 = shopml_core::bundle::hex(&Sha256::digest(&stored));
    if is_parquet(path) {
        return read_parquet(path, stored, sha256);
    }
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
                reason: not_utf8(e.as_bytes(), e.utf8_error().valid_up_to(), delimiter),
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
    let delimiter = match delimiter {
        Some(d) if d.is_ascii() => d as u8,
        Some(d) => {
            return Err(DataError::Unreadable {
                path: path.to_owned(),
                reason: format!("delimiter {d:?} is not an ASCII character"),
            });
        }
        None => detect_delimiter(&text),
    };
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .map_parse_options(|o| o.with_separator(delimiter))
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

    pub fn has_column(&self, name: &str) -> bool {
        self.frame.column(name).is_ok()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }

    /// For each row, whether it repeats an earlier one: equal in the `key` columns, or, with
    /// no key, in every column but `ignore` (a row number). Compared cell by cell (a hash
    /// only finds the candidates), so distinct rows are never merged.
    pub fn duplicate_rows(
        &self,
        key: &[String],
        ignore: &[String],
    ) -> Result<Vec<bool>, DataError> {
        let names: Vec<String> = if key.is_empty() {
            self.column_names().into_iter().filter(|c| !ignore.contains(c)).collect()
        } else {
            key.to_vec()
        };
        let columns: Vec<Vec<Option<&str>>> =
            names.iter().map(|n| self.column(n)).collect::<Result<_, _>>()?;
        let cells = |row: usize| columns.iter().map(move |c| c[row]);
        let mut first_of: shopml_core::features::FastMap<u64, Vec<usize>> = Default::default();
        let mut duplicate = vec![false; self.rows()];
        for (row, flag) in duplicate.iter_mut().enumerate() {
            use std::hash::{BuildHasher, Hash, Hasher};
            let mut hasher = first_of.hasher().build_hasher();
            cells(row).for_each(|c| c.hash(&mut hasher));
            let earlier = first_of.entry(hasher.finish()).or_default();
            if earlier.iter().any(|&e| cells(e).eq(cells(row))) {
                *flag = true;
            } else {
                earlier.push(row);
            }
        }
        Ok(duplicate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_1_in_a_utf_8_export_is_named_by_row_column_and_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sales.csv");
        std::fs::write(&path, b"id,city,amount\n1,Paris,3\n2,\"Sa\xefda, Oran\",4\n").unwrap();
        let error = read_table(&path, TextEncoding::Utf8, None).err().unwrap().to_string();
        assert!(error.contains("sales.csv") && error.contains("row 2"), "{error}");
        assert!(error.contains("column 'city'") && error.contains("0xEF"), "{error}");
        assert!(error.contains("Saïda") && error.contains("cp1252"), "{error}");
    }
}
