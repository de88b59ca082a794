//! The prediction log's records: what the server writes, one JSON object a line, and what
//! `shopml-train evaluate` reads back. The schema is documented in `docs/MONITORING.md`; a
//! change that readers would misread bumps [`SCHEMA_VERSION`].
//!
//! A record holds what the model read, encoded (vocabulary indices and model inputs, never a
//! review's text, a customer id or a credential) and what it answered.

use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;

/// Suffix of a finished log file (the file being written ends in `.jsonl.open`).
pub const FILE_SUFFIX: &str = ".jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    /// The caller's `x-request-id`, or one the server made up.
    pub request_id: String,
    /// When the server answered, RFC 3339 in UTC.
    pub time: String,
    /// The bundle version that answered.
    pub bundle_version: String,
    #[serde(flatten)]
    pub prediction: LoggedPrediction,
}

/// A prediction, by model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum LoggedPrediction {
    Cancellation(LoggedOrder),
    Price(LoggedPrice),
    Sentiment(LoggedSentiment),
}

/// A scored order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedOrder {
    pub order_id: String,
    /// YYYY-MM-DD.
    pub order_date: chrono::NaiveDate,
    /// Probability that at least one line is cancelled (returned).
    pub probability: f64,
    pub lines: Vec<LoggedLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedLine {
    /// The request's line id (may be empty).
    pub line_id: String,
    pub sku: String,
    /// Calibrated probability of the line's outcome.
    pub probability: f64,
    /// Each categorical input's index in its field's vocabulary (0: a value the model never
    /// saw), in the model's input order (the bundle's `cancellation/encoder.json`).
    pub categorical: Vec<u32>,
    /// Each numeric input as the model read it (transformed and standardised), in model order.
    pub numeric: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedPrice {
    pub product_id: String,
    pub list_price: f64,
    /// ISO 4217 code of the amounts.
    pub currency: String,
    pub price: f64,
    pub price_p10: f64,
    pub price_p90: f64,
    /// Category levels the model never saw.
    pub unseen_inputs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedSentiment {
    pub negative_probability: f64,
    /// Words the model read, and the review's words (no text is logged).
    pub words_used: u32,
    pub words_total: u32,
}

/// The finished log files under `dir` (not the one being written), in name order — which is
/// the order they were written in.
pub fn log_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Why a log line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {reason}")]
    Record { path: PathBuf, line: usize, reason: String },
}

/// Reads every record of the finished files under `dir`, calling `each` on each; a line
/// that is not a record of a known schema is an error naming file and line.
pub fn read_records(dir: &Path, mut each: impl FnMut(PredictionRecord)) -> Result<usize, LogError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LogError::Io { path, source }
    };
    let mut count = 0;
    for path in log_files(dir).map_err(io(dir))? {
        let file = std::fs::File::open(&path).map_err(io(&path))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io(&path))?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| LogError::Record { path: path.clone(), line: i + 1, reason };
            let record: PredictionRecord =
                serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
            if record.schema != SCHEMA_VERSION {
                return Err(bad(format!(
                    "schema {} (this build reads {SCHEMA_VERSION})",
                    record.schema
                )));
            }
            each(record);
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_flat_json_object_that_reads_back() {
        let record = PredictionRecord {
            schema: SCHEMA_VERSION,
            request_id: "r-1".into(),
            time: "2026-12-05T10:00:00.000Z".into(),
            bundle_version: "v1".into(),
            prediction: LoggedPrediction::Cancellation(LoggedOrder {
                order_id: "o-1".into(),
                order_date: chrono::NaiveDate::from_ymd_opt(2022, 6, 1).unwrap(),
                probability: 0.25,
                lines: vec![LoggedLine {
                    line_id: "1".into(),
                    sku: "A".into(),
                    probability: 0.25,
                    categorical: vec![3, 0],
                    numeric: vec![0.5],
                }],
            }),
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.contains(r#""model":"cancellation""#), "{text}");
        assert!(text.contains(r#""order_date":"2022-06-01""#), "{text}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), format!("{text}\n{text}\n")).unwrap();
        std::fs::write(dir.path().join("b.jsonl.open"), "{ partial").unwrap();
        let mut read = Vec::new();
        assert_eq!(read_records(dir.path(), |r| read.push(r)).unwrap(), 2);
        assert_eq!(read[0], record);

        std::fs::write(dir.path().join("c.jsonl"), "{\"schema\": 1}\n").unwrap();
        let error = read_records(dir.path(), |_| {}).unwrap_err().to_string();
        assert!(error.contains("c.jsonl, line 1"), "{error}");
    }
}
