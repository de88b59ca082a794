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

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Lines left out by one exclusion rule.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ExcludedLines {
    pub lines: usize,
    /// Their amounts, in the reporting currency.
    pub revenue: f64,
}

/// What cleaning did to one file.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct CleaningReport {
    pub file: String,
    pub rows_read: usize,
    pub rows_kept: usize,
    pub duplicates_dropped: usize,
    /// Columns that define a duplicate; empty: every column (but any ignored row number).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_key: Vec<String>,
    /// Rows identical to an earlier one kept as genuine repeats (`duplicates.keep`).
    #[serde(skip_serializing_if = "is_zero")]
    pub identical_rows_kept: usize,
    /// Credit notes and negative quantities kept as returns (netted out of revenue).
    #[serde(skip_serializing_if = "is_zero")]
    pub return_lines: usize,
    /// Return lines matched to the sale they return (same customer and product, earlier), and
    /// those that match none (a sale before the export, or no customer id).
    #[serde(skip_serializing_if = "is_zero")]
    pub returns_matched: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub returns_unmatched: usize,
    /// Lines whose amount was converted from another currency, by currency.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub converted: BTreeMap<String, usize>,
    /// Non-product lines excluded, by rule, with their revenue.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub excluded: BTreeMap<String, ExcludedLines>,
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
        self.bad_cells
            .entry(column.to_owned())
            .and_modify(|b| b.count += 1)
            .or_insert_with(|| BadCells { count: 1, first_row: row, first_value: echo(value) });
    }

    /// A non-product line left out by `rule`.
    pub fn exclude(&mut self, rule: &str, revenue: f64) {
        self.excluded.entry(rule.to_owned()).or_default().add(revenue);
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
        let key = if self.duplicate_key.is_empty() {
            String::new()
        } else {
            format!(" (key: {})", self.duplicate_key.join(", "))
        };
        let mut lines = vec![format!(
            "{}: {} rows read, {} kept, {} duplicates dropped{key}",
            self.file, self.rows_read, self.rows_kept, self.duplicates_dropped
        )];
        if self.identical_rows_kept > 0 {
            lines.push(format!(
                "{}: {} rows identical to an earlier one kept as repeat purchases (duplicates.keep)",
                self.file, self.identical_rows_kept
            ));
        }
        if self.return_lines > 0 {
            lines.push(format!(
                "{}: {} return lines (credit notes, negative quantities) netted out of revenue and demand",
                self.file, self.return_lines
            ));
        }
        if self.returns_matched + self.returns_unmatched > 0 {
            lines.push(format!(
                "{}: {} return lines matched to the earlier sale they return, {} to none",
                self.file, self.returns_matched, self.returns_unmatched
            ));
        }
        for (currency, count) in &self.converted {
            lines.push(format!(
                "{}: {count} lines converted from {currency} at the configured rate",
                self.file
            ));
        }
        for (rule, excluded) in &self.excluded {
            lines.push(format!(
                "{}: {} non-product lines excluded ({rule}), amount {:.2}",
                self.file, excluded.lines, excluded.revenue
            ));
        }
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

/// At most this many characters of a cell are echoed in messages.
pub const ECHO_CHARS: usize = 60;

/// A cell as messages show it: its first [`ECHO_CHARS`] characters.
pub fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(ECHO_CHARS).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
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

/// The largest magnitude of a number cell: beyond any quantity or amount of a sale, and sums
/// of millions of them stay finite. A larger one is a bad cell.
pub const MAX_NUMBER: f64 = 1e12;

/// A number as exports write it: "1099", "₹1,099", "24,269", "64%", "4.2". Must be finite and
/// at most [`MAX_NUMBER`] in magnitude.
pub fn number(cell: Option<&str>) -> Cell<f64> {
    let Some(raw) = cell.map(str::trim).filter(|s| !s.is_empty()) else { return Cell::Missing };
    let cleaned: String = raw
        .trim_start_matches('₹')
        .trim_end_matches('%')
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= MAX_NUMBER => Cell::Value(v),
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

/// A date or date-time cell: the day, and the hour when the format has a time of day.
pub fn timestamp(cell: Option<&str>, format: &str) -> Cell<(chrono::NaiveDate, Option<u32>)> {
    use chrono::Timelike;
    let Some(raw) = cell.map(str::trim).filter(|s| !s.is_empty()) else { return Cell::Missing };
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, format) {
        return Cell::Value((t.date(), Some(t.hour())));
    }
    match chrono::NaiveDate::parse_from_str(raw, format) {
        Ok(d) => Cell::Value((d, None)),
        Err(_) => Cell::Bad,
    }
}

/// `format` with day and month swapped ("%d/%m/%y" ↔ "%m/%d/%y"), when it has both.
pub fn swapped_day_month(format: &str) -> Option<String> {
    (format.contains("%d") && format.contains("%m"))
        .then(|| format.replace("%d", "\u{0}").replace("%m", "%d").replace('\u{0}', "%m"))
}

/// Formats `date_format = "auto"` tries, most specific first.
pub const AUTO_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d-%m-%y",
    "%m-%d-%y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%d %b %Y",
    "%b %d, %Y",
];

/// Whether a parsed day is a plausible order date (a four-digit-year format reading "19"
/// gives year 19).
fn plausible(day: chrono::NaiveDate) -> bool {
    (1970..=2100).contains(&chrono::Datelike::year(&day))
}

/// A date column parsed whole: an unparsable (or missing) cell beyond the tolerance is an
/// error naming the file, row, value and format, and the day/month confusion when the
/// swapped order would parse it.
pub struct DateColumn {
    values: Vec<Option<(chrono::NaiveDate, Option<u32>)>>,
    format: String,
}

impl DateColumn {
    pub fn parse(
        table: &super::read::RawTable,
        column: &str,
        format: &str,
        tolerance: f64,
    ) -> Result<Self, crate::error::DataError> {
        let cells = table.column(column)?;
        let format = if format.trim().eq_ignore_ascii_case("auto") {
            detect_date_format(&table.path, column, &cells)?
        } else {
            format.to_owned()
        };
        let values: Vec<_> = cells
            .iter()
            .map(|c| match timestamp(*c, &format) {
                Cell::Value(v) if plausible(v.0) => Some(v),
                _ => None,
            })
            .collect();
        let bad: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_none()).collect();
        if bad.len() as f64 > tolerance * values.len() as f64 {
            let first = bad[0];
            let value = cells[first].unwrap_or("");
            let swapped = swapped_day_month(&format)
                .filter(|f| matches!(timestamp(Some(value), f), Cell::Value(_)));
            // A date of the right form whose year no order has: say that, not "not a date".
            let parsed_year = match timestamp(Some(value), &format) {
                Cell::Value(v) => Some(chrono::Datelike::year(&v.0)),
                _ => None,
            };
            let hint = match (parsed_year, swapped) {
                (Some(_), _) => String::new(),
                (None, Some(f)) => format!(
                    "; it parses as {f}: are the dates {} (set date_format)?",
                    if format.find("%d") < format.find("%m") { "month-first" } else { "day-first" }
                ),
                (None, None) => String::new(),
            };
            return Err(crate::error::DataError::BadCell {
                path: table.path.clone(),
                row: first + 1,
                column: column.to_owned(),
                reason: match parsed_year {
                    Some(year) => format!(
                        "{:?} reads as year {year}, outside 1970–2100 for an order date (is the year's width in {format} right?) ({} of {} cells unusable; allowed: date_tolerance {tolerance})",
                        echo(value),
                        bad.len(),
                        values.len()
                    ),
                    None => format!(
                        "{:?} is not a date of the form {format}{hint} ({} of {} cells unparsable; allowed: date_tolerance {tolerance})",
                        echo(value),
                        bad.len(),
                        values.len()
                    ),
                },
            });
        }
        Ok(Self { values, format })
    }

    /// The day and hour of row `i` (0-based), `None` when unparsable (within the tolerance).
    pub fn at(&self, i: usize) -> Option<(chrono::NaiveDate, Option<u32>)> {
        self.values[i]
    }

    /// The format the column was read with (the one found, with "auto").
    pub fn format(&self) -> &str {
        &self.format
    }
}

/// The one format of [`AUTO_DATE_FORMATS`] that reads every non-empty cell of a column as a
/// plausible date. A day-first and a month-first format that both read every cell (no day
/// above 12) is an error naming both, as is a column no format reads.
fn detect_date_format(
    path: &std::path::Path,
    column: &str,
    cells: &[Option<&str>],
) -> Result<String, crate::error::DataError> {
    let filled: Vec<&str> =
        cells.iter().flatten().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    let reads = |format: &str, step: usize| {
        filled
            .iter()
            .step_by(step)
            .all(|c| matches!(timestamp(Some(c), format), Cell::Value(v) if plausible(v.0)))
    };
    // A spread sample rules most formats out cheaply; the survivors read every cell.
    let step = (filled.len() / 2000).max(1);
    let fitting: Vec<&str> = AUTO_DATE_FORMATS
        .iter()
        .copied()
        .filter(|f| reads(f, step))
        .filter(|f| reads(f, 1))
        .collect();
    let bad = |reason: String| crate::error::DataError::BadCell {
        path: path.to_owned(),
        row: 1,
        column: column.to_owned(),
        reason,
    };
    match fitting.as_slice() {
        [] => Err(bad(format!(
            "date_format = \"auto\": no known format reads every date (first: {:?}); set date_format",
            echo(filled.first().copied().unwrap_or(""))
        ))),
        [only] => Ok((*only).to_owned()),
        [first, rest @ ..] => {
            let swapped = swapped_day_month(first);
            if rest.iter().any(|f| Some(*f) == swapped.as_deref()) {
                Err(bad(format!(
                    "date_format = \"auto\": every date reads both as {first} and as {} (no day above 12); set date_format to the export's order",
                    swapped.unwrap_or_default()
                )))
            } else {
                Ok((*first).to_owned())
            }
        }
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
        assert_eq!(number(Some("1e308")), Cell::Bad, "a sum of two would be infinite");
        assert_eq!(number(Some("-1e13")), Cell::Bad);
        assert_eq!(number(Some("1e12")), Cell::Value(1e12));
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
