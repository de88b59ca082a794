//! REPORT.md with SVG plots, written into every bundle: model quality against the protocol's
//! baselines, and business insights from the same data. Every figure is computed from the data
//! or read from EVALUATION.md (the baselines), never typed in.

use crate::charts;
use crate::pipeline::Trained;
use crate::progress::{StageTime, seconds};
use chrono::Datelike;
use shopml_core::features::normalize_state;
use shopml_core::segments::SegmentKind;
use std::collections::{BTreeMap, HashMap};
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

/// Figures of a section compared with the baselines of `task`: (label, our metric key, lower
/// is better).
fn comparison(
    out: &mut String,
    metrics: &serde_json::Value,
    section: &str,
    figures: &[(&str, &str)],
    baselines: &[Baseline],
    task: &str,
    extra: &[(&str, serde_json::Value)],
) {
    let rows: Vec<&Baseline> = baselines.iter().filter(|b| b.task == task).collect();
    let _ = write!(out, "| figure | shopml |");
    for (name, _) in extra {
        let _ = write!(out, " {name} |");
    }
    for b in &rows {
        let _ = write!(out, " {} |", b.model);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|{}", "---|".repeat(2 + extra.len() + rows.len()));
    for (label, key) in figures {
        let ours = metrics[section].get(*key).and_then(|v| v.as_f64());
        let _ = write!(out, "| {label} | {} |", ours.map_or("—".into(), |v| format!("**{v:.4}**")));
        for (_, values) in extra {
            let _ = write!(
                out,
                " {} |",
                values
                    .get(*key)
                    .and_then(|v| v.as_f64())
                    .map_or("—".into(), |v| format!("{v:.4}"))
            );
        }
        for b in &rows {
            let value = b.figures.iter().find(|(name, _)| name == label).map(|(_, v)| *v);
            let _ = write!(out, " {} |", value.map_or("—".into(), |v| format!("{v}")));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
}

/// ROC curve points (false positive rate, true positive rate) of scores.
fn roc_points(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
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
fn calibration_points(labels: &[bool], probabilities: &[f64], bins: usize) -> Vec<(f64, f64)> {
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
pub struct Timings<'a> {
    pub stages: &'a [StageTime],
    pub elapsed: Duration,
}

/// The report's markdown and its SVG files (name, content).
pub fn build(
    trained: &Trained,
    version_note: &str,
    timings: &Timings<'_>,
    baselines: &[Baseline],
) -> (String, Vec<(String, String)>) {
    let m = &trained.metrics.to_json();
    let mut svgs: Vec<(String, String)> = Vec::new();
    let mut chart = |name: &str, svg: Result<String, String>, out: &mut String, alt: &str| match svg
    {
        Ok(svg) => {
            let _ = writeln!(out, "![{alt}](report/{name})\n");
            svgs.push((name.to_owned(), svg));
        }
        Err(e) => {
            let _ = writeln!(out, "_({alt}: not drawn: {e})_\n");
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "# shopml model report\n\n{version_note}\n");
    let _ = writeln!(
        out,
        "Data: `{}` ({} files).\n",
        trained.data_source,
        trained.exports.fingerprint.len()
    );
    if !timings.stages.is_empty() {
        let stages: Vec<String> = timings.stages.iter().map(StageTime::describe).collect();
        let _ = writeln!(
            out,
            "Training took {} in all: {}.\n",
            seconds(timings.elapsed),
            stages.join(", ")
        );
    }
    if baselines.is_empty() {
        let _ = writeln!(
            out,
            "_No EVALUATION.md was given: the tables compare with baselines computed here only._\n"
        );
    }

    let _ = writeln!(
        out,
        "## Data quality\n\n| file | rows read | kept | duplicates dropped | rows dropped | unparsable cells (treated as missing) |\n|---|---|---|---|---|---|"
    );
    for r in trained.exports.reports() {
        let bad: Vec<String> = r
            .bad_cells
            .iter()
            .map(|(c, b)| {
                format!("{c}: {} (first row {}, {:?})", b.count, b.first_row, b.first_value)
            })
            .collect();
        let dropped: Vec<String> =
            r.rows_dropped.iter().map(|(why, n)| format!("{n} {why}")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.file,
            r.rows_read,
            r.rows_kept,
            r.duplicates_dropped,
            dropped.join("; "),
            bad.join("; ")
        );
    }
    let _ = writeln!(out, "\n## Model quality\n");

    if let Some(c) = &trained.models.cancellation {
        let _ = writeln!(
            out,
            "### Cancellation risk\n\nTest: the {} order lines dated from the test day on; inputs known at checkout only.\n",
            c.metrics.test_rows
        );
        let constant = serde_json::json!({"brier": c.metrics.constant_brier, "log_loss": c.metrics.constant_log_loss, "roc_auc": 0.5});
        comparison(
            &mut out,
            m,
            "cancellation",
            &[
                ("ROC-AUC", "roc_auc"),
                ("PR-AUC", "pr_auc"),
                ("Brier", "brier"),
                ("log-loss", "log_loss"),
            ],
            baselines,
            "cancellation",
            &[("constant (train rate, computed)", constant)],
        );
        let roc = roc_points(&c.test_labels, &c.test_probabilities);
        chart(
            "cancellation_roc.svg",
            charts::lines(
                "Cancellation: ROC curve (test)",
                "false positive rate",
                "true positive rate",
                &[(format!("shopml, AUC {:.3}", c.metrics.roc_auc), roc)],
                true,
            ),
            &mut out,
            "ROC curve",
        );
        let calibration = calibration_points(&c.test_labels, &c.test_probabilities, 10);
        chart(
            "cancellation_calibration.svg",
            charts::lines(
                "Cancellation: calibration (test, 10 bins)",
                "mean predicted probability",
                "observed cancellation rate",
                &[("shopml".into(), calibration)],
                true,
            ),
            &mut out,
            "calibration curve",
        );
    }
    if let Some(p) = &trained.models.price {
        let _ = writeln!(
            out,
            "### Price\n\nTest: {} products (CRC-32 of the id); the discount is never an input.\n",
            p.metrics.test_products
        );
        comparison(
            &mut out,
            m,
            "price",
            &[
                ("R²(ln)", "r2_log"),
                ("R²", "r2"),
                ("MAE", "mae_inr"),
                ("MAPE", "mape_pct"),
                ("P10–P90 coverage", "interval_coverage"),
            ],
            baselines,
            "price",
            &[],
        );
        let points: Vec<(f64, f64)> =
            p.test_prices.iter().map(|(a, q)| (a.log10(), q.log10())).collect();
        chart(
            "price_predicted_vs_actual.svg",
            charts::scatter(
                "Price: predicted vs actual (test, log10 ₹)",
                "actual log10(price)",
                "predicted log10(price)",
                &points,
            ),
            &mut out,
            "predicted vs actual prices",
        );
    }
    if trained.models.sentiment.is_some() {
        let _ = writeln!(
            out,
            "### Review sentiment\n\nPer review (title and text; the text-only column scores the same model without titles):\n"
        );
        let text_only = serde_json::json!({
            "macro_f1": m["sentiment_reviews"]["text_only_macro_f1"], "neg_f1": m["sentiment_reviews"]["text_only_neg_f1"], "roc_auc": m["sentiment_reviews"]["text_only_roc_auc"]
        });
        comparison(
            &mut out,
            m,
            "sentiment_reviews",
            &[
                ("macro-F1", "macro_f1"),
                ("neg-F1", "neg_f1"),
                ("ROC-AUC", "roc_auc"),
                ("accuracy", "accuracy"),
            ],
            baselines,
            "sentiment, reviews",
            &[("text only", text_only)],
        );
        if let Some(confusion) = m["sentiment_reviews"]["confusion"].as_array() {
            let cell = |r: usize, c: usize| {
                confusion.get(r).and_then(|row| row.get(c)).and_then(|v| v.as_f64()).unwrap_or(0.0)
            };
            let values = vec![vec![cell(0, 0), cell(0, 1)], vec![cell(1, 0), cell(1, 1)]];
            let labels: Vec<Vec<String>> =
                values.iter().map(|row| row.iter().map(|v| format!("{v:.0}")).collect()).collect();
            chart(
                "sentiment_confusion.svg",
                charts::heatmap(
                    "Review sentiment: confusion matrix (test)",
                    &["actual positive".into(), "actual negative".into()],
                    &["predicted positive".into(), "predicted negative".into()],
                    &values,
                    &labels,
                ),
                &mut out,
                "confusion matrix",
            );
        }
        if m.get("sentiment_products").is_some() {
            let _ = writeln!(
                out,
                "Per product (a product-text model with its own settings, `[sentiment.products]`, trained on the product split, stacked with the review model's scores of each product's reviews; `text model` is the product model alone, `review model` the served review model applied unchanged):\n"
            );
            let p = &m["sentiment_products"];
            let text_model = serde_json::json!({"macro_f1": p["text_model_macro_f1"], "roc_auc": p["text_model_roc_auc"]});
            let transfer = serde_json::json!({"macro_f1": p["review_model_macro_f1"], "roc_auc": p["review_model_roc_auc"]});
            comparison(
                &mut out,
                m,
                "sentiment_products",
                &[
                    ("macro-F1", "macro_f1"),
                    ("neg-F1", "neg_f1"),
                    ("ROC-AUC", "roc_auc"),
                    ("accuracy", "accuracy"),
                ],
                baselines,
                "sentiment, products",
                &[("text model", text_model), ("review model", transfer)],
            );
        }
    }
    if let Some(f) = &trained.models.forecast {
        let _ = writeln!(
            out,
            "### Demand forecast\n\nForecast once from the origin for the test days; order lines per day.\n"
        );
        let naive = serde_json::json!({"mase_mean": f.metrics.seasonal_naive_mase_mean, "wape_mean": f.metrics.seasonal_naive_wape_mean});
        comparison(
            &mut out,
            m,
            "forecast",
            &[
                ("MASE", "mase_mean"),
                ("WAPE", "wape_mean"),
                ("sMAPE", "smape_mean"),
                ("80% coverage", "coverage80"),
                ("MSIS (80%)", "msis80_mean"),
            ],
            baselines,
            "forecast (mean of 5)",
            &[("seasonal naive (computed)", naive)],
        );
        let _ = writeln!(
            out,
            "| series | MASE | WAPE | sMAPE | 80% coverage | MSIS (80%) |\n|---|---|---|---|---|---|"
        );
        for (series, s) in &f.metrics.per_series {
            let _ = writeln!(
                out,
                "| {series} | {:.3} | {:.3} | {:.1} | {:.2} | {:.2} |",
                s.mase, s.wape, s.smape, s.coverage80, s.msis80
            );
        }
        let _ = writeln!(out);
        let panels: Vec<(String, Vec<charts::PanelPoint>)> = f
            .test_paths
            .iter()
            .map(|(name, days)| (name.clone(), days.iter().map(|d| (d.1, d.2, d.3, d.4)).collect()))
            .collect();
        chart(
            "forecast_test.svg",
            charts::forecast_panels(&panels),
            &mut out,
            "forecast vs actual with intervals",
        );
    }
    if let Some(s) = &trained.models.segments {
        let _ = writeln!(
            out,
            "### Segments\n\nMean silhouette of every k tried (the highest is chosen):\n\n| kind | k chosen | silhouette by k | baseline (k = 3) |\n|---|---|---|---|"
        );
        for set in &s.sets {
            let kind = match set.kind {
                SegmentKind::Product => "products",
                SegmentKind::Customer => "customers",
                SegmentKind::Region => "regions",
            };
            let by_k: Vec<String> =
                set.silhouette_by_k.iter().map(|(k, v)| format!("{k}: {v:.3}")).collect();
            let baseline = baselines
                .iter()
                .find(|b| b.task == "segments")
                .and_then(|b| b.figures.iter().find(|(n, _)| n == kind))
                .map(|f| f.1);
            let _ = writeln!(
                out,
                "| {kind} | {} | {} | {} |",
                set.k,
                by_k.join(", "),
                baseline.map_or("—".into(), |v| v.to_string())
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Business insights\n");
    if let Some(sales) = &trained.exports.sales {
        insights_from_sales(&sales.lines, &trained.config_cancelled_status, &mut out, &mut chart);
    }
    if let Some(s) = &trained.models.segments {
        for set in &s.sets {
            let title = match set.kind {
                SegmentKind::Product => "Product segments",
                SegmentKind::Customer => "Customer segments",
                SegmentKind::Region => "Region segments",
            };
            let _ = writeln!(
                out,
                "### {title}\n\n| segment | members | silhouette | description | most frequent attributes |\n|---|---|---|---|---|"
            );
            for seg in &set.segments {
                let attributes: Vec<String> = seg
                    .attributes
                    .iter()
                    .map(|a| format!("{} {} {:.0}%", a.attribute, a.value, 100.0 * a.share))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.3} | {} | {} |",
                    seg.name,
                    seg.size,
                    seg.silhouette,
                    seg.description,
                    attributes.join(", ")
                );
            }
            let _ = writeln!(out);
        }
        if let Some(customers) = &trained.exports.customers {
            let mut by_age: BTreeMap<&str, f64> = BTreeMap::new();
            for p in &customers.purchases {
                *by_age.entry(p.age_group.as_str()).or_default() += p.amount.unwrap_or(0.0);
            }
            let bars: Vec<(String, f64)> =
                by_age.into_iter().map(|(a, v)| (a.to_owned(), v / 1e6)).collect();
            chart(
                "customers_amount_by_age.svg",
                charts::bars("Customers: amount spent by age group", "million ₹", &bars),
                &mut out,
                "amount by age group",
            );
        }
    }
    (out, svgs)
}

type Chart<'a> = dyn FnMut(&str, Result<String, String>, &mut String, &str) + 'a;

fn insights_from_sales(
    lines: &[crate::data::sales::SaleLine],
    cancelled: &str,
    out: &mut String,
    chart: &mut Chart<'_>,
) {
    // Revenue (lines not cancelled) by state × category, for the biggest states.
    let mut revenue: HashMap<(String, String), f64> = HashMap::new();
    let mut per_state: HashMap<String, (f64, usize, usize)> = HashMap::new();
    let mut per_style: HashMap<(String, String), (f64, usize, usize)> = HashMap::new();
    for l in lines {
        let state = normalize_state(&l.ship_state);
        if state.is_empty() {
            continue;
        }
        let is_cancelled = l.status == cancelled;
        let amount = if is_cancelled { 0.0 } else { l.amount.unwrap_or(0.0) };
        *revenue.entry((state.clone(), l.category.clone())).or_default() += amount;
        let s = per_state.entry(state.clone()).or_default();
        s.0 += amount;
        s.1 += 1;
        s.2 += is_cancelled as usize;
        let st = per_style.entry((state, l.style.clone())).or_default();
        st.0 += amount;
        st.1 += 1;
        st.2 += is_cancelled as usize;
    }
    let mut states: Vec<(String, (f64, usize, usize))> = per_state.into_iter().collect();
    states.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.0.cmp(&b.0)));
    let top: Vec<&String> = states.iter().take(12).map(|s| &s.0).collect();
    let mut categories: Vec<(String, f64)> = revenue
        .iter()
        .fold(HashMap::new(), |mut acc: HashMap<String, f64>, ((_, c), v)| {
            *acc.entry(c.clone()).or_default() += v;
            acc
        })
        .into_iter()
        .collect();
    categories.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let columns: Vec<String> = categories.iter().take(6).map(|c| c.0.clone()).collect();
    let values: Vec<Vec<f64>> = top
        .iter()
        .map(|s| {
            columns
                .iter()
                .map(|c| revenue.get(&((*s).clone(), c.clone())).copied().unwrap_or(0.0))
                .collect()
        })
        .collect();
    let labels: Vec<Vec<String>> = values
        .iter()
        .map(|row| row.iter().map(|v| format!("₹{:.1}L", v / 1e5)).collect())
        .collect();
    let _ = writeln!(
        out,
        "### Revenue and cancellation by region\n\nRevenue counts lines that were not cancelled (₹ lakh = ₹100,000).\n"
    );
    chart(
        "region_category_revenue.svg",
        charts::heatmap(
            "Revenue by state and category (₹ lakh)",
            &top.iter().map(|s| (*s).clone()).collect::<Vec<_>>(),
            &columns,
            &values,
            &labels,
        ),
        out,
        "revenue heat map",
    );
    let rates: Vec<(String, f64)> = states
        .iter()
        .take(15)
        .map(|(s, v)| (s.clone(), 100.0 * v.2 as f64 / v.1.max(1) as f64))
        .collect();
    chart(
        "region_cancellation_rate.svg",
        charts::bars(
            "Cancellation rate by state (largest 15 by revenue)",
            "% of lines cancelled",
            &rates,
        ),
        out,
        "cancellation by state",
    );

    let _ = writeln!(
        out,
        "### Best sellers and under-performers per region\n\nBest seller: the style with the most revenue; under-performer: the style with the highest cancellation rate among styles with at least 30 lines there.\n\n| state | revenue | lines | cancellation rate | best seller (revenue) | under-performer (cancellation rate, lines) |\n|---|---|---|---|---|---|"
    );
    for (state, (rev, n, c)) in states.iter().take(8) {
        let styles: Vec<(&String, &(f64, usize, usize))> =
            per_style.iter().filter(|((s, _), _)| s == state).map(|((_, st), v)| (st, v)).collect();
        let best = styles.iter().max_by(|a, b| a.1.0.total_cmp(&b.1.0).then(b.0.cmp(a.0)));
        let worst = styles.iter().filter(|(_, v)| v.1 >= 30).max_by(|a, b| {
            (a.1.2 as f64 / a.1.1 as f64)
                .total_cmp(&(b.1.2 as f64 / b.1.1 as f64))
                .then(b.0.cmp(a.0))
        });
        let _ = writeln!(
            out,
            "| {state} | ₹{:.0} | {n} | {:.1}% | {} | {} |",
            rev,
            100.0 * *c as f64 / *n as f64,
            best.map_or("—".into(), |(s, v)| format!("{s} (₹{:.0})", v.0)),
            worst.map_or("—".into(), |(s, v)| format!(
                "{s} ({:.0}%, {})",
                100.0 * v.2 as f64 / v.1 as f64,
                v.1
            )),
        );
    }
    let _ = writeln!(out);

    // Weekday and weekly patterns of demand (all statuses).
    let mut per_day: BTreeMap<chrono::NaiveDate, usize> = BTreeMap::new();
    for l in lines {
        *per_day.entry(l.date).or_default() += 1;
    }
    let mut weekday = [(0usize, 0usize); 7];
    for (day, n) in &per_day {
        let w = day.weekday().num_days_from_monday() as usize;
        weekday[w].0 += n;
        weekday[w].1 += 1;
    }
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let bars: Vec<(String, f64)> = weekday
        .iter()
        .zip(names)
        .map(|((n, d), name)| (name.to_owned(), *n as f64 / (*d).max(1) as f64))
        .collect();
    let _ = writeln!(out, "### Weekday and weekly patterns\n");
    chart(
        "demand_by_weekday.svg",
        charts::bars("Order lines per day, by weekday (mean)", "order lines", &bars),
        out,
        "demand by weekday",
    );
    let mut weekly: BTreeMap<(i32, u32), usize> = BTreeMap::new();
    for (day, n) in &per_day {
        let week = day.iso_week();
        *weekly.entry((week.year(), week.week())).or_default() += n;
    }
    let points: Vec<(f64, f64)> =
        weekly.values().enumerate().map(|(i, n)| (i as f64, *n as f64)).collect();
    chart(
        "demand_by_week.svg",
        charts::lines(
            "Order lines per ISO week (first and last weeks partial)",
            "week",
            "order lines",
            &[("all categories".into(), points)],
            false,
        ),
        out,
        "weekly demand",
    );
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
