//! Cleaning rules written once: trimming, number parsing (₹ signs, thousands separators,
//! percent signs), dates, booleans, duplicate removal, and the report of what was dropped or
//! could not be parsed (counted, with the first row and value, never silently guessed).

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BadCells {
    pub count: usize,
    /// First data row (1-based, header excluded) holding such a cell, and its value.
    pub first_row: usize,
    pub first_value: String,
}

/// What cleaning did to one file.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct CleaningReport {
    pub file: String,
    pub rows_read: usize,
    pub rows_kept: usize,
    pub duplicates_dropped: usize,
    /// Rows dropped by reason (e.g. "unparsable date").
    pub rows_dropped: BTreeMap<String, usize>,
    /// Cells that could not be parsed, by column; the cell is treated as missing.
    pub bad_cells: BTreeMap<String, BadCells>,
}

impl CleaningReport {
    pub fn new(file: &str, rows_read: usize) -> Self {
        Self { file: file.to_owned(), rows_read, ..Default::default() }
    }

    pub fn bad_cell(&mut self, column: &str, row: usize, value: &str) {
        self.bad_cells.entry(column.to_owned()).and_modify(|b| b.count += 1).or_insert_with(|| {
            BadCells { count: 1, first_row: row, first_value: value.chars().take(60).collect() }
        });
    }

    pub fn drop_row(&mut self, reason: &str) {
        *self.rows_dropped.entry(reason.to_owned()).or_default() += 1;
    }

    /// Fails when more than half the cells of `column` could not be parsed: the column is
    /// mapped to the wrong header or read with the wrong format, not merely dirty.
    pub fn check_mostly_parsed(
        &self,
        path: &std::path::Path,
        column: &str,
        what: &str,
    ) -> Result<(), crate::error::DataError> {
        match self.bad_cells.get(column) {
            Some(bad) if bad.count * 2 > self.rows_read => Err(crate::error::DataError::BadCell {
                path: path.to_owned(),
                row: bad.first_row,
                column: column.to_owned(),
                reason: format!(
                    "{} of {} cells are not {what} (first: {:?}); check the column mapping and format in the config",
                    bad.count, self.rows_read, bad.first_value
                ),
            }),
            _ => Ok(()),
        }
    }

    /// One line per problem, for logs and the report.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{}: {} rows read, {} kept, {} duplicates dropped",
            self.file, self.rows_read, self.rows_kept, self.duplicates_dropped
        )];
        for (reason, count) in &self.rows_dropped {
            lines.push(format!("{}: {count} rows dropped: {reason}", self.file));
        }
        for (column, bad) in &self.bad_cells {
            lines.push(format!(
                "{}: column '{column}': {} unparsable cells treated as missing (first: row {}, value {:?})",
                self.file, bad.count, bad.first_row, bad.first_value
            ));
        }
        lines
    }
}

/// A text cell, trimmed; empty when missing.
pub fn text(cell: Option<&str>) -> String {
    cell.map(str::trim).unwrap_or("").to_owned()
}

/// Result of parsing a cell: present and parsed, missing (empty), or unparsable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<T> {
    Value(T),
    Missing,
    Bad,
}

impl<T> Cell<T> {
    /// The value; a bad cell is recorded in `report` and treated as missing.
    pub fn record(
        self,
        report: &mut CleaningReport,
        column: &str,
        row: usize,
        raw: Option<&str>,
    ) -> Option<T> {
        match self {
            Cell::Value(v) => Some(v),
            Cell::Missing => None,
            Cell::Bad => {
                report.bad_cell(column, row, raw.unwrap_or(""));
                None
            }
        }
    }
}

/// A number as exports write it: "1099", "₹1,099", "24,269", "64%", "4.2". Must be finite.
pub fn number(cell: Option<&str>) -> Cell<f64> {
    let Some(raw) = cell.map(str::trim).filter(|s| !s.is_empty()) else { return Cell::Missing };
    let cleaned: String = raw
        .trim_start_matches('₹')
        .trim_end_matches('%')
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_finite() => Cell::Value(v),
        _ => Cell::Bad,
    }
}

/// A non-negative number.
pub fn non_negative(cell: Option<&str>) -> Cell<f64> {
    match number(cell) {
        Cell::Value(v) if v < 0.0 => Cell::Bad,
        other => other,
    }
}

pub fn boolean(cell: Option<&str>) -> Cell<bool> {
    let Some(raw) = cell.map(str::trim).filter(|s| !s.is_empty()) else { return Cell::Missing };
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Cell::Value(true),
        "false" | "0" | "no" | "n" => Cell::Value(false),
        _ => Cell::Bad,
    }
}

pub fn date(cell: Option<&str>, format: &str) -> Cell<chrono::NaiveDate> {
    let Some(raw) = cell.map(str::trim).filter(|s| !s.is_empty()) else { return Cell::Missing };
    match chrono::NaiveDate::parse_from_str(raw, format) {
        Ok(d) => Cell::Value(d),
        Err(_) => Cell::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_export_numbers() {
        assert_eq!(number(Some("₹1,099")), Cell::Value(1099.0));
        assert_eq!(number(Some(" 24,269 ")), Cell::Value(24269.0));
        assert_eq!(number(Some("64%")), Cell::Value(64.0));
        assert_eq!(number(Some("4.2")), Cell::Value(4.2));
        assert_eq!(number(Some("|")), Cell::Bad);
        assert_eq!(number(Some("")), Cell::Missing);
        assert_eq!(number(None), Cell::Missing);
        assert_eq!(number(Some("NaN")), Cell::Bad);
        assert_eq!(non_negative(Some("-3")), Cell::Bad);
    }

    #[test]
    fn parses_dates_and_booleans_and_reports_bad_cells() {
        assert_eq!(
            date(Some("04-30-22"), "%m-%d-%y"),
            Cell::Value(chrono::NaiveDate::from_ymd_opt(2022, 4, 30).unwrap())
        );
        assert_eq!(date(Some("2022-04-30"), "%m-%d-%y"), Cell::Bad);
        assert_eq!(boolean(Some("False")), Cell::Value(false));
        assert_eq!(boolean(Some("maybe")), Cell::Bad);
        let mut report = CleaningReport::new("f.csv", 3);
        assert_eq!(number(Some("x")).record(&mut report, "Amount", 2, Some("x")), None);
        assert_eq!(number(Some("y")).record(&mut report, "Amount", 3, Some("y")), None);
        let bad = &report.bad_cells["Amount"];
        assert_eq!((bad.count, bad.first_row, bad.first_value.as_str()), (2, 2, "x"));
        assert!(report.summary_lines().iter().any(|l| l.contains("column 'Amount': 2 unparsable")));
    }
}
