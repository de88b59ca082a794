//! REPORT.md and REPORT.html, written into every bundle: model quality against the protocol's
//! baselines, and business insights from the same data. Every figure is computed from the data
//! or read from EVALUATION.md (the baselines), never typed in. Each trained model writes its
//! own sections (`TrainedModel::report_quality`, `report_business`) through a
//! [`ReportWriter`]; the charts come from the dashboard's renderer (`shopml_core::charts`).

use crate::data::Exports;
use crate::progress::{StageTime, seconds};
use shopml_core::models::{Backtest, Better};
use std::fmt::Write as _;
use std::time::Duration;

/// One row of EVALUATION.md's "Baselines to beat" table.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub task: String,
    pub model: String,
    /// (figure name as written, value).
    pub figures: Vec<(String, f64)>,
}

/// Parses the baselines table of EVALUATION.md: rows `| task | model | figure value, … |`.
pub fn parse_baselines(markdown: &str) -> Vec<Baseline> {
    let Some(start) = markdown.find("## Baselines") else { return Vec::new() };
    markdown[start..]
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells.len() < 3 || cells[0] == "task" || cells[0].starts_with("---") {
                return None;
            }
            let figures = cells[2]
                .split(',')
                .filter_map(|part| {
                    let part = part.trim();
                    let part = part.split_once(": ").map_or(part, |(_, rest)| rest);
                    let (name, value) = part.rsplit_once(' ')?;
                    let value: f64 =
                        value.trim_start_matches('₹').trim_end_matches('%').parse().ok()?;
                    Some((name.trim().to_owned(), value))
                })
                .collect::<Vec<_>>();
            (!figures.is_empty()).then(|| Baseline {
                task: cells[0].to_owned(),
                model: cells[1].to_owned(),
                figures,
            })
        })
        .collect()
}

/// The report being written: its Markdown, its charts (file name, SVG), the currency of its
/// amounts and the published baselines its tables compare with.
pub struct ReportWriter<'b> {
    pub out: String,
    pub charts: Vec<(String, String)>,
    pub currency: String,
    pub baselines: &'b [Baseline],
}

/// A column of a comparison table besides the model's own: its name and a value per row.
pub type Column<'n> = (&'n str, Vec<Option<f64>>);

impl<'b> ReportWriter<'b> {
    pub fn new(currency: &str, baselines: &'b [Baseline]) -> Self {
        Self { out: String::new(), charts: Vec::new(), currency: currency.to_owned(), baselines }
    }

    /// Appends Markdown text.
    pub fn text(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
    }

    /// Appends a line of Markdown.
    pub fn line(&mut self, line: impl AsRef<str>) {
        self.out.push_str(line.as_ref());
        self.out.push('\n');
    }

    /// Adds `svg` as the chart file `name`, shown with `alt` where it stands.
    pub fn chart(&mut self, name: &str, svg: String, alt: &str) {
        let _ = writeln!(self.out, "![{alt}](report/{name})\n");
        self.charts.push((name.to_owned(), svg));
    }

    /// How what serves was chosen: each candidate's selection figure on the validation days
    /// (where the choice is made) and on the test days, the one served in bold.
    pub fn backtest(&mut self, backtest: &Backtest) {
        let scope = if backtest.scope.is_empty() {
            String::new()
        } else {
            format!(" ({})", backtest.scope)
        };
        let better = match backtest.better {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
            Better::Neither => "",
        };
        let mut out = format!(
            "Backtest{scope}: {}, {better}; chosen on the validation days, never on the test days.\n\n| candidate | validation | test | |\n|---|---|---|---|\n",
            backtest.metric
        );
        for c in &backtest.candidates {
            let served = c.name == backtest.served;
            let name = if served { format!("**{}**", c.name) } else { c.name.clone() };
            let kind = match (served, c.baseline) {
                (true, _) => "served",
                (false, true) => "baseline",
                (false, false) => "model",
            };
            let _ = writeln!(out, "| {name} | {:.4} | {:.4} | {kind} |", c.validation, c.test);
        }
        self.line(out);
    }

    /// A table of figures: the model's (bold), the `columns` computed here, then every
    /// published baseline of `task` (by the figure's label).
    pub fn comparison(&mut self, task: &str, rows: &[(&str, Option<f64>)], columns: &[Column<'_>]) {
        let published: Vec<&Baseline> = self.baselines.iter().filter(|b| b.task == task).collect();
        let mut out = String::from("| figure | shopml |");
        for (name, _) in columns {
            let _ = write!(out, " {name} |");
        }
        for b in &published {
            let _ = write!(out, " {} |", b.model);
        }
        let _ = writeln!(out, "\n|{}", "---|".repeat(2 + columns.len() + published.len()));
        for (i, (label, ours)) in rows.iter().enumerate() {
            let _ =
                write!(out, "| {label} | {} |", ours.map_or("—".into(), |v| format!("**{v:.4}**")));
            for (_, values) in columns {
                let value = values.get(i).copied().flatten();
                let _ = write!(out, " {} |", value.map_or("—".into(), |v| format!("{v:.4}")));
            }
            for b in &published {
                let value = b.figures.iter().find(|(name, _)| name == label).map(|(_, v)| *v);
                let _ = write!(out, " {} |", value.map_or("—".into(), |v| format!("{v}")));
            }
            out.push('\n');
        }
        self.line(out);
    }
}

/// ROC curve points (false positive rate, true positive rate) of scores.
pub fn roc_points(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&y| y).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    let step = (order.len() / 400).max(1);
    for (i, &k) in order.iter().enumerate() {
        if labels[k] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if i % step == 0 || i + 1 == order.len() {
            points.push((fp / negatives, tp / positives));
        }
    }
    points
}

/// Reliability: (mean predicted, observed rate) in `bins` equal-count bins.
pub fn calibration_points(labels: &[bool], probabilities: &[f64], bins: usize) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    order
        .chunks(order.len().div_ceil(bins).max(1))
        .map(|chunk| {
            let n = chunk.len() as f64;
            (
                chunk.iter().map(|&i| probabilities[i]).sum::<f64>() / n,
                chunk.iter().filter(|&&i| labels[i]).count() as f64 / n,
            )
        })
        .collect()
}

/// How long the training took: its stages, and the time from the start to the report.
#[derive(Default)]
pub struct Timings<'a> {
    pub stages: &'a [StageTime],
    pub elapsed: Duration,
}

/// The report's head: what was read, how long it took, what was not trained, and what
/// cleaning did to each export.
pub fn head(
    report: &mut ReportWriter<'_>,
    exports: &Exports,
    skipped: &[(String, String)],
    version_note: &str,
    timings: &Timings<'_>,
) {
    report.line(format!("# shopml model report\n\n{version_note}\n"));
    report.line(format!("Data: {} files.\n", exports.fingerprint.len()));
    if !timings.stages.is_empty() {
        let stages: Vec<String> = timings.stages.iter().map(StageTime::describe).collect();
        report.line(format!(
            "Training took {} in all: {}.\n",
            seconds(timings.elapsed),
            stages.join(", ")
        ));
    }
    if report.baselines.is_empty() {
        report.line(
            "_No EVALUATION.md was given: the tables compare with baselines computed here only._\n",
        );
    }
    if !report.currency.is_empty() {
        let currency = report.currency.clone();
        report.line(format!("Every amount is in {currency}.\n"));
    }
    if !skipped.is_empty() {
        report.line("Models not trained:\n");
        for (model, reason) in skipped {
            report.line(format!("- **{model}**: {reason}"));
        }
        report.line("");
    }
    data_quality(report, exports);
}

fn data_quality(report: &mut ReportWriter<'_>, exports: &Exports) {
    report.line(
        "## Data quality\n\n| file | rows read | kept | duplicates dropped | rows dropped | unparsable cells (treated as missing) |\n|---|---|---|---|---|---|",
    );
    for r in exports.reports() {
        let bad: Vec<String> = r
            .bad_cells
            .iter()
            .map(|(c, b)| {
                format!("{c}: {} (first row {}, {:?})", b.count, b.first_row, b.first_value)
            })
            .collect();
        let dropped: Vec<String> =
            r.rows_dropped.iter().map(|(why, n)| format!("{n} {why}")).collect();
        report.line(format!(
            "| {} | {} | {} | {} | {} | {} |",
            r.file,
            r.rows_read,
            r.rows_kept,
            r.duplicates_dropped,
            dropped.join("; "),
            bad.join("; ")
        ));
    }
    let notes: Vec<String> =
        exports.reports().iter().flat_map(|r| r.summary_lines().into_iter().skip(1)).collect();
    if !notes.is_empty() {
        report.line("\nWhat cleaning counted besides:\n");
        for note in notes {
            report.line(format!("- {note}"));
        }
    }
}

/// An export's value as a Markdown table cell: pipes escaped, lines joined, at most 80
/// characters.
pub fn cell(value: &str) -> String {
    let flat: String =
        value.chars().map(|c| if c.is_control() { ' ' } else { c }).take(80).collect();
    flat.replace('\\', "\\\\").replace('|', "\\|")
}

/// REPORT.html: the Markdown rendered, each chart inline rather than a file beside it, so the
/// one file opens anywhere (no network, nothing beside it needed).
pub fn html(markdown: &str, charts: &[(String, String)]) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let svgs: std::collections::HashMap<&str, &str> =
        charts.iter().map(|(name, svg)| (name.as_str(), svg.as_str())).collect();
    let mut inline: Option<&str> = None;
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES).filter_map(|event| match event {
            Event::Start(Tag::Image { ref dest_url, .. }) => {
                match dest_url.strip_prefix("report/").and_then(|name| svgs.get(name)) {
                    Some(svg) => {
                        inline = Some(svg);
                        None
                    }
                    None => Some(event),
                }
            }
            // Raw HTML in the Markdown can only come from an export's values: shown as text.
            Event::Html(text) | Event::InlineHtml(text) => Some(Event::Text(text)),
            // The image's alt text: the SVG's own title says it.
            Event::Text(_) if inline.is_some() => None,
            Event::End(TagEnd::Image) if inline.is_some() => Some(Event::Html(
                format!("<figure>{}</figure>", inline.take().unwrap_or_default()).into(),
            )),
            other => Some(other),
        });
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events);
    let title = markdown.lines().next().unwrap_or("shopml report").trim_start_matches("# ");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body><main>{body}</main></body></html>",
        shopml_core::charts::escape(title),
        shopml_core::insights::html::STYLE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_baselines_table() {
        let md = "# x\n## Baselines to beat\n| task | model | figures on test |\n|---|---|---|\n| price | Ridge on all inputs | R²(ln) 0.953, R² 0.942, MAE ₹659, MAPE 25.2% |\n| segments | k-means, k = 3 | silhouette: products 0.226, customers 0.470 |\n";
        let b = parse_baselines(md);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0].figures,
            vec![
                ("R²(ln)".into(), 0.953),
                ("R²".into(), 0.942),
                ("MAE".into(), 659.0),
                ("MAPE".into(), 25.2)
            ]
        );
        assert_eq!(b[1].figures, vec![("products".into(), 0.226), ("customers".into(), 0.470)]);
    }

    #[test]
    fn roc_and_calibration_points() {
        let roc = roc_points(&[true, false, true, false], &[0.9, 0.8, 0.7, 0.1]);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        let cal = calibration_points(&[true, false, false, true], &[0.9, 0.1, 0.2, 0.8], 2);
        assert_eq!(cal, vec![(0.15000000000000002, 0.0), (0.8500000000000001, 1.0)]);
    }
}
