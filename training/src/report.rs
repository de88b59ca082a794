//! REPORT.md with SVG plots, written into every bundle: model quality against the protocol's
//! baselines, and business insights from the same data. Every figure is computed from the data
//! or read from EVALUATION.md (the baselines), never typed in.

use crate::charts;
use crate::pipeline::Trained;
use crate::progress::{StageTime, seconds};
use shopml_core::insights::{Insights, Metric};
use shopml_core::segments::SegmentKind;
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
#[derive(Default)]
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

    let currency = trained.metrics.currency.clone().unwrap_or_default();
    if !currency.is_empty() {
        let _ = writeln!(out, "Every amount is in {currency}.\n");
    }
    if !trained.skipped.is_empty() {
        let _ = writeln!(out, "Models not trained:\n");
        for s in &trained.skipped {
            let _ = writeln!(out, "- **{}**: {}", s.model, s.reason);
        }
        let _ = writeln!(out);
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
    let notes: Vec<String> = trained
        .exports
        .reports()
        .iter()
        .flat_map(|r| r.summary_lines().into_iter().skip(1))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\nWhat cleaning counted besides:\n");
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    let _ = writeln!(out, "\n## Model quality\n");

    if let Some(c) = &trained.models.cancellation {
        use shopml_core::cancellation::PredictedOutcome;
        let (title, outcome) = match c.metrics.outcome {
            PredictedOutcome::Cancellation => ("Cancellation risk at checkout", "cancelled"),
            PredictedOutcome::Return => ("Return risk (known only after the fact)", "returned"),
        };
        let _ = writeln!(
            out,
            "### {title}\n\nThe model predicts the {}. Test: the {} order lines ({} orders) dated from the test day on; inputs known at checkout only{}. Order level (an order with a line {outcome}): ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}.\n",
            c.calibration.outcome.describe(),
            c.metrics.test_rows,
            c.metrics.test_orders,
            if c.metrics.customer_history {
                ", the customer's history before each order among them"
            } else {
                ""
            },
            c.metrics.order_roc_auc,
            c.metrics.order_pr_auc,
            c.metrics.order_brier,
            c.metrics.order_log_loss,
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
                ("MAE", "mae"),
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
                &format!("Price: predicted vs actual (test, log10 {currency})"),
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
        let fm = &f.metrics;
        let measure = match fm.measure.as_str() {
            "units" => "units ordered".to_owned(),
            "revenue" => format!("revenue ({currency})"),
            _ => "order lines".to_owned(),
        };
        let _ = writeln!(
            out,
            "### Demand forecast\n\nForecast once from the origin for the test days; {measure} per day; {} series trained, up to {} days ahead{}{}.\n",
            fm.series_trained,
            fm.horizon_days,
            if fm.yearly { ", reading the year's shape from earlier years" } else { "" },
            if fm.closed_weekdays.is_empty() {
                String::new()
            } else {
                let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let closed: Vec<&str> =
                    fm.closed_weekdays.iter().map(|&d| names[d as usize % 7]).collect();
                format!(
                    "; closed on {} (not demand: left out of training and figures)",
                    closed.join(", ")
                )
            }
        );
        let naive = serde_json::json!({"mase_mean": fm.seasonal_naive_mase_mean, "wape_mean": fm.seasonal_naive_wape_mean});
        let yearly_naive = serde_json::json!({"mase_mean": fm.yearly_naive_mase_mean, "wape_mean": fm.yearly_naive_wape_mean});
        let mut naives = vec![("seasonal naive, last week (computed)", naive)];
        if fm.yearly_naive_mase_mean.is_some() {
            naives.push(("yearly naive, 364 days before (computed)", yearly_naive));
        }
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
            &naives,
        );
        if let Some(w) = &fm.weekly {
            let _ = writeln!(
                out,
                "Weekly total ({} weeks, sums of the days' expected values): MASE **{:.3}**, WAPE {:.3}; last week repeated {:.3}, the same week a year before {}.\n",
                w.weeks,
                w.mase,
                w.wape,
                w.naive_mase,
                w.same_week_last_year_mase.map_or("—".to_owned(), |v| format!("{v:.3}"))
            );
        }
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
        for (i, (name, days)) in f.test_paths.iter().enumerate().take(6) {
            let series = [
                ("actual".to_owned(), days.iter().map(|d| (d.0, d.1)).collect()),
                ("forecast (P50)".to_owned(), days.iter().map(|d| (d.0, d.3)).collect()),
            ];
            let band = ("P10–P90".to_owned(), days.iter().map(|d| (d.0, d.2, d.4)).collect());
            let svg = shopml_core::insights::svg::lines_with_band(
                &format!("{name}: the last test origin's forecast against the actual"),
                &series,
                Some(&band),
                &|v| format!("{v:.0}"),
            );
            let file = if i == 0 {
                "forecast_test.svg".to_owned()
            } else {
                format!("forecast_test_{i}.svg")
            };
            chart(&file, Ok(svg), &mut out, &format!("forecast vs actual with intervals: {name}"));
        }
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

    if let Some(cv) = &trained.models.customer_value {
        customer_value_section(cv, &currency, &mut out, &mut chart);
    }

    let _ = writeln!(out, "## Business insights\n");
    if let Some(insights) = &trained.models.insights {
        insights_section(insights, &mut out, &mut chart);
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
        let bought = &s.bought_together;
        let mut rules: Vec<&shopml_core::segments::AssociationRule> =
            bought.rules.values().flatten().collect();
        rules.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(b.orders.cmp(&a.orders)));
        if !rules.is_empty() {
            let _ = writeln!(
                out,
                "### Bought together\n\nRules mined from {} orders with several products (at least {} orders, confidence ≥ {:.2}, lift ≥ {:.1}); the 15 strongest of {}:\n\n| with | also | support | confidence | lift | orders |\n|---|---|---|---|---|---|",
                bought.multi_line_orders,
                bought.min_orders,
                bought.min_confidence,
                bought.min_lift,
                rules.len()
            );
            for r in rules.iter().take(15) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.4} | {:.3} | {:.2} | {} |",
                    r.antecedent, r.consequent, r.support, r.confidence, r.lift, r.orders
                );
            }
            let _ = writeln!(out);
        }
    }
    (out, svgs)
}

type Chart<'a> = dyn FnMut(&str, Result<String, String>, &mut String, &str) + 'a;

/// Customer value: the models on the calibration/holdout protocol, the served model, the
/// segments, the most valuable customers and those at risk, retention by cohort and the
/// tracking of repeat purchases.
fn customer_value_section(
    cv: &crate::customer_value::TrainedCustomerValue,
    currency: &str,
    out: &mut String,
    chart: &mut Chart<'_>,
) {
    use shopml_core::customer_value::{CustomerValuePredictor, SEGMENT_RULES};
    use shopml_core::money;
    let m = &cv.metrics;
    let _ = writeln!(
        out,
        "### Customer value\n\nProtocol of Fader, Hardie & Lee (2005): {} customers who bought by {} (calibration), their repeat purchases (purchase days) in the {:.0} weeks to {} (holdout). Fitted by maximum likelihood (Burn autodiff, BFGS).\n",
        m.customers, m.calibration_end, m.holdout_weeks, m.holdout_end
    );
    let _ = writeln!(
        out,
        "| model | parameters | log-likelihood | holdout MAE | RMSE | predicted / actual | correlation |\n|---|---|---|---|---|---|---|"
    );
    let row =
        |name: &str, params: String, ll: String, h: &crate::customer_value::HoldoutFigures| {
            format!(
                "| {name} | {params} | {ll} | {:.4} | {:.3} | {:.1} / {:.0} ({:+.1}%) | {:.3} |",
                h.mae,
                h.rmse,
                h.predicted_total,
                h.actual_total,
                100.0 * h.total_error,
                h.correlation
            )
        };
    let params = |f: &crate::customer_value::FittedPurchases| {
        format!("r {:.4}, α {:.4}, a {:.4}, b {:.4}", f.r, f.alpha, f.a, f.b)
    };
    let _ = writeln!(
        out,
        "{}",
        row(
            "BG/NBD",
            params(&m.bg_nbd),
            format!("{:.1}", m.bg_nbd.log_likelihood),
            &m.bg_nbd_holdout
        )
    );
    let _ = writeln!(
        out,
        "{}",
        row(
            "MBG/NBD",
            params(&m.mbg_nbd),
            format!("{:.1}", m.mbg_nbd.log_likelihood),
            &m.mbg_nbd_holdout
        )
    );
    if let Some(c) = &m.covariates {
        let _ = writeln!(
            out,
            "{}",
            row(
                "BG/NBD with covariates",
                format!("{} covariates", c.covariates.len()),
                format!("{:.1}", c.log_likelihood),
                &c.holdout
            )
        );
    }
    let _ = writeln!(
        out,
        "{}",
        row("naive (calibration rate × holdout weeks)", "—".into(), "—".into(), &m.naive_holdout)
    );
    if let Some(g) = &m.gamma_gamma {
        let _ = writeln!(
            out,
            "\nSpend per purchase (Gamma-Gamma, {} repeat customers): p {:.4}, q {:.4}, γ {:.4}; a new customer's expected purchase {}.",
            m.repeat_customers,
            g.p,
            g.q,
            g.gamma,
            money::format(g.expected_spend(0.0, 0.0), currency)
        );
    }
    let _ = writeln!(
        out,
        "\nServed: **{:?}**, the lower MAE on an inner split of the calibration period (to {}: BG/NBD {:.4}, MBG/NBD {:.4}; the holdout is never looked at), refitted on every customer's whole history; values as of {} over {} days.\n",
        m.served,
        m.inner_split_end,
        m.inner_mae_bg_nbd,
        m.inner_mae_mbg_nbd,
        cv.model.as_of,
        cv.model.horizon_days
    );
    if let Some(c) = &m.covariates {
        let _ = writeln!(
            out,
            "Covariates of the first purchase ({}): likelihood-ratio test against the plain BG/NBD: χ² {:.2} on {} degrees of freedom, p = {:.3e}{}.\n",
            c.covariates.join(", "),
            c.lr_statistic,
            c.degrees_of_freedom,
            c.p_value,
            if c.p_value < 0.05 {
                " (they explain purchasing beyond chance)"
            } else {
                " (no evidence they matter)"
            }
        );
    }
    let predictor = CustomerValuePredictor::new(cv.model.clone(), cv.customers.clone());
    let _ = writeln!(
        out,
        "#### Segments (rules on RFM scores, 1–5)\n\n| segment | rule | customers | mean lifetime value | mean P(active) | total spent |\n|---|---|---|---|---|---|"
    );
    for (name, rule) in SEGMENT_RULES {
        if let Some(s) = m.segments.get(name) {
            let _ = writeln!(
                out,
                "| {name} | {rule} | {} | {} | {:.2} | {} |",
                s.customers,
                money::format(s.mean_lifetime_value, currency),
                s.mean_p_alive,
                money::format_whole(s.total_amount, currency)
            );
        }
    }
    let customer_row = |c: &shopml_core::customer_value::KnownCustomer| {
        format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            c.id,
            c.value.segment,
            c.value.purchase_days,
            money::format_whole(c.value.total_amount, currency),
            c.value.p_alive,
            c.value.expected_purchases,
            money::format(c.value.lifetime_value, currency)
        )
    };
    let header = "| customer | segment | purchase days | spent | P(active) | expected purchases | lifetime value |\n|---|---|---|---|---|---|---|";
    let _ = writeln!(out, "\n#### Most valuable customers\n\n{header}");
    for &i in predictor.by_value.iter().take(10) {
        let _ = writeln!(out, "{}", customer_row(&predictor.known[i]));
    }
    // High-value customers at risk: the biggest spenders among those whose P(active) fell
    // below one half, or whom the rules call at risk.
    let mut at_risk: Vec<&shopml_core::customer_value::KnownCustomer> = predictor
        .known
        .iter()
        .filter(|c| c.value.p_alive < 0.5 || c.value.segment == "at_risk")
        .collect();
    at_risk.sort_by(|a, b| {
        b.record.total_amount.total_cmp(&a.record.total_amount).then(a.id.cmp(&b.id))
    });
    let _ = writeln!(
        out,
        "\n#### High-value customers at risk\n\nThe biggest spenders whose probability of still being active is below one half, or whom the rules call at risk: worth a win-back offer.\n\n{header}"
    );
    for c in at_risk.iter().take(10) {
        let _ = writeln!(out, "{}", customer_row(c));
    }
    let _ = writeln!(out);
    let cohorts: Vec<&(String, Vec<f64>)> = cv.cohorts.iter().rev().take(12).rev().collect();
    let months = cohorts.iter().map(|c| c.1.len()).max().unwrap_or(0).min(12);
    let rows: Vec<String> = cohorts.iter().map(|c| c.0.clone()).collect();
    let columns: Vec<String> = (0..months).map(|k| format!("+{k}")).collect();
    let values: Vec<Vec<f64>> = cohorts
        .iter()
        .map(|c| (0..months).map(|k| 100.0 * c.1.get(k).copied().unwrap_or(0.0)).collect())
        .collect();
    let labels: Vec<Vec<String>> =
        values.iter().map(|r| r.iter().map(|v| format!("{v:.0}%")).collect()).collect();
    chart(
        "customer_cohort_retention.svg",
        charts::heatmap(
            "Customers buying k months after their first month (% of the cohort)",
            &rows,
            &columns,
            &values,
            &labels,
        ),
        out,
        "monthly cohort retention",
    );
    let actual: Vec<(f64, f64)> = cv.tracking.iter().map(|t| (t.0, t.1)).collect();
    let expected: Vec<(f64, f64)> = cv.tracking.iter().map(|t| (t.0, t.2)).collect();
    chart(
        "customer_tracking.svg",
        charts::lines(
            &format!("Cumulative repeat purchases: actual and {:?} (calibration fit)", m.served),
            "week",
            "repeat purchases",
            &[("actual".into(), actual), (format!("{:?}", m.served), expected)],
            false,
        ),
        out,
        "tracking of cumulative repeat purchases",
    );
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
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body><main>{body}</main></body></html>",
        shopml_core::insights::svg::escape(title),
        shopml_core::insights::html::STYLE
    )
}

/// The business insights in Markdown: the same figures and charts as the dashboard's
/// overview and region pages, from the bundle's insights.
fn insights_section(ins: &Insights, out: &mut String, chart: &mut Chart<'_>) {
    use shopml_core::insights::html::charts as insight_charts;
    use shopml_core::money;
    let currency = ins.currency.as_str();
    let caps = &ins.capabilities;
    let whole = |v: f64| money::format_whole(v, currency);
    let pct = |v: f64| Metric::CancellationRate.format(v, currency);
    let count = |v: f64| Metric::Units.format(v, currency);
    let _ = writeln!(
        out,
        "{} to {}; revenue counts lines not cancelled, net of returns and credit notes, in {currency}.\n",
        ins.first_date, ins.last_date
    );
    let t = &ins.total;
    let mut figures = vec![
        ("revenue", whole(t.revenue)),
        ("orders", count(t.orders)),
        ("units", count(t.units)),
        ("order lines", count(t.lines)),
        ("average order value", money::format(t.average_order_value(), currency)),
    ];
    if caps.customers {
        figures.push(("customers", count(ins.distinct_customers as f64)));
    }
    if caps.cancellations {
        figures.push(("lines cancelled", pct(t.cancellation_rate())));
    }
    if caps.returns {
        figures.push(("lines returned", pct(t.return_rate())));
    }
    if caps.profit {
        figures.push(("profit", whole(t.profit)));
        figures.push(("margin", pct(t.margin())));
    }
    let _ = writeln!(out, "| figure | value |\n|---|---|");
    for (name, value) in figures {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(out, "\n### Recommendations\n");
    let recommendations = ins.recommendations_for(None);
    if recommendations.is_empty() {
        let _ = writeln!(out, "No rule fired on this data.");
    }
    for (i, r) in recommendations.iter().take(15).enumerate() {
        let _ = writeln!(out, "{}. {} _[{}]_", i + 1, r.text, r.rule);
    }
    let _ = writeln!(out, "\n### Revenue over time\n");
    chart(
        "revenue_over_time.svg",
        Ok(insight_charts::revenue_over_time(ins, currency)),
        out,
        "revenue over time",
    );
    let level = ins.region_level.to_lowercase();
    let regions = ins.regions();
    if !regions.is_empty() {
        let _ = writeln!(out, "### Revenue by {level} and category\n");
        if let Some(svg) = insight_charts::revenue_by_region(ins, currency) {
            chart("revenue_by_region.svg", Ok(svg), out, "revenue by region");
        }
        if let Some(svg) = insight_charts::region_category_heatmap(ins, currency) {
            chart("region_category_revenue.svg", Ok(svg), out, "revenue by region and category");
        }
        let _ = writeln!(
            out,
            "| {} | revenue | share | orders | average order |{}\n|---|---|---|---|---|{}",
            ins.region_level,
            if caps.cancellations { " lines cancelled |" } else { "" },
            if caps.cancellations { "---|" } else { "" }
        );
        for (r, t) in regions.iter().take(15) {
            let _ = writeln!(
                out,
                "| {r} | {} | {} | {} | {} |{}",
                whole(t.revenue),
                pct(t.revenue / ins.total.revenue.max(1e-12)),
                count(t.orders),
                money::format(t.average_order_value(), currency),
                if caps.cancellations {
                    format!(" {} |", pct(t.cancellation_rate()))
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out);
    }
    if let Some(svg) = insight_charts::category_shares(ins, currency) {
        chart("category_shares.svg", Ok(svg), out, "share of revenue by category");
    }
    if !regions.is_empty() && caps.categories {
        let _ = writeln!(
            out,
            "### Regional preferences and market gaps\n\nA category's share of a {level}'s revenue against its share everywhere (index = the ratio): above 1.25 a preference, below 0.8 a gap, among the 8 largest.\n\n| {} | over-indexed category (share here / everywhere, index) | under-indexed category |\n|---|---|---|",
            ins.region_level
        );
        for (region, _) in regions.iter().take(8) {
            let Ok(profile) = ins.region_profile(region) else { continue };
            let describe = |c: &(String, shopml_core::insights::Totals, f64, f64, f64)| {
                format!("{} ({} / {}, {:.2})", c.0, pct(c.2), pct(c.3), c.4)
            };
            let sizeable: Vec<_> = profile.categories.iter().filter(|c| c.3 >= 0.02).collect();
            let over = sizeable.iter().max_by(|a, b| a.4.total_cmp(&b.4).then(b.0.cmp(&a.0)));
            let under = sizeable.iter().min_by(|a, b| a.4.total_cmp(&b.4).then(a.0.cmp(&b.0)));
            let _ = writeln!(
                out,
                "| {region} | {} | {} |",
                over.map_or("—".into(), |c| describe(c)),
                under.map_or("—".into(), |c| describe(c))
            );
        }
        let _ = writeln!(out);
    }
    if caps.products && !regions.is_empty() {
        let mut metrics = vec![Metric::Revenue];
        if caps.profit {
            metrics.push(Metric::Margin);
        }
        if caps.cancellations {
            metrics.push(Metric::CancellationRate);
        }
        let _ = writeln!(
            out,
            "### Best sellers and under-performers by {level}\n\nBest seller: the most revenue; lowest: the least revenue among products with at least 5 lines there{}{}.\n",
            if caps.profit { "; margin: profit over revenue" } else { "" },
            if caps.cancellations {
                "; cancellation: the highest rate among products with at least 20 lines"
            } else {
                ""
            },
        );
        let header: Vec<String> = metrics
            .iter()
            .map(|m| match m {
                Metric::Revenue => "best seller | lowest revenue".to_owned(),
                Metric::Margin => "best margin | worst margin".to_owned(),
                _ => "most cancelled".to_owned(),
            })
            .collect();
        let columns = header.join(" | ").matches('|').count() + 1;
        let _ = writeln!(
            out,
            "| {} | {} |\n|---|{}",
            ins.region_level,
            header.join(" | "),
            "---|".repeat(columns)
        );
        let all = shopml_core::insights::Period::default();
        for (region, _) in regions.iter().take(8) {
            let mut cells = Vec::new();
            for &metric in &metrics {
                let text = |r: Option<&shopml_core::insights::RankedProduct<'_>>| {
                    r.map_or("—".to_owned(), |r| {
                        format!("{} ({})", r.product.label(), metric.format(r.value, currency))
                    })
                };
                match metric {
                    Metric::CancellationRate => {
                        let (worst, _) =
                            ins.rank_products(metric, false, Some(region), None, &all, 20.0, 0, 1);
                        cells.push(text(worst.first()));
                    }
                    _ => {
                        let (best, _) =
                            ins.rank_products(metric, false, Some(region), None, &all, 5.0, 0, 1);
                        let (worst, _) =
                            ins.rank_products(metric, true, Some(region), None, &all, 5.0, 0, 1);
                        cells.push(text(best.first()));
                        cells.push(text(worst.first()));
                    }
                }
            }
            let _ = writeln!(out, "| {region} | {} |", cells.join(" | ").replace('\n', " "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "### When customers buy\n");
    chart(
        "revenue_by_weekday.svg",
        Ok(insight_charts::weekdays(ins, currency)),
        out,
        "revenue by weekday",
    );
    if let Some(svg) = insight_charts::hours(ins, currency) {
        chart("revenue_by_hour.svg", Ok(svg), out, "revenue by hour");
    }
    if let Some(svg) = insight_charts::calendar_months(ins, currency) {
        chart("revenue_by_calendar_month.svg", Ok(svg), out, "revenue by calendar month");
    }
    if !ins.peaks.is_empty() {
        let _ = writeln!(
            out,
            "Peak days (revenue far above a mean day):\n\n| day | revenue | × a mean day | holiday |\n|---|---|---|---|"
        );
        for p in &ins.peaks {
            let _ = writeln!(
                out,
                "| {} ({}) | {} | {:.1} | {} |",
                p.date,
                p.date.format("%a"),
                whole(p.revenue),
                p.ratio_to_mean,
                p.holiday.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(out);
    }
    if let Some(p) = &ins.promotion {
        let _ = writeln!(
            out,
            "### Promotions\n\n| lines | count | revenue | average order | lines cancelled |\n|---|---|---|---|---|"
        );
        for (name, t) in
            [("with a promotion", &p.with_promotion), ("without", &p.without_promotion)]
        {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                count(t.lines),
                whole(t.revenue),
                money::format(t.average_order_value(), currency),
                pct(t.cancellation_rate())
            );
        }
        let _ = writeln!(out);
    }
    if let Some(d) = &ins.delivery {
        let _ = writeln!(out, "### Delivery\n");
        for (title, rows) in [("courier status", &d.by_status), ("ship mode", &d.by_ship_mode)] {
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {title} | lines | revenue | lines cancelled | lines returned |\n|---|---|---|---|---|"
            );
            for (name, t) in rows.iter().take(12) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    if name.is_empty() { "(none)" } else { name },
                    count(t.lines),
                    whole(t.revenue),
                    pct(t.cancellation_rate()),
                    pct(t.return_rate())
                );
            }
            let _ = writeln!(out);
        }
        if !d.days_to_ship.is_empty() {
            let _ = writeln!(
                out,
                "| ship mode | days to ship: mean | median | 90th percentile | lines |\n|---|---|---|---|---|"
            );
            for (mode, mean, median, p90, n) in &d.days_to_ship {
                let _ = writeln!(out, "| {mode} | {mean:.1} | {median:.1} | {p90:.1} | {n} |");
            }
            let _ = writeln!(out);
        }
    }
    if !ins.demographics.is_empty() {
        let _ = writeln!(
            out,
            "### Customers by demographic\n\nFrom the customer file: customers, orders and amount spent per group.\n"
        );
        for (attribute, groups) in &ins.demographics {
            let _ = writeln!(
                out,
                "| {} | customers | orders | amount | amount per customer |\n|---|---|---|---|---|",
                attribute.replace('_', " ")
            );
            for (group, g) in groups.iter().take(12) {
                let _ = writeln!(
                    out,
                    "| {group} | {} | {} | {} | {} |",
                    count(g.customers),
                    count(g.orders),
                    whole(g.amount),
                    money::format(g.amount / g.customers.max(1.0), currency)
                );
            }
            let _ = writeln!(out);
        }
    }
    if !ins.attribute_rules.is_empty() {
        let _ = writeln!(
            out,
            "### Rules on attributes\n\nCategory, price band and {level} that go together, strongest lift first.\n\n| if | then | support | confidence | lift | count |\n|---|---|---|---|---|---|"
        );
        for r in ins.attribute_rules.iter().take(15) {
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {:.3} | {:.2} | {} |",
                r.antecedent, r.consequent, r.support, r.confidence, r.lift, r.count
            );
        }
        let _ = writeln!(out);
    }
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
