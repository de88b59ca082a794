//! The customer-value section of the report: the models on the calibration/holdout
//! protocol, the served model, the segments, the most valuable customers and those at risk,
//! retention by cohort and the tracking of repeat purchases.

use super::TrainedCustomerValue;
use crate::report::ReportWriter;
use shopml_core::charts;
use shopml_core::customer_value::{FittedPurchases, HoldoutFigures};
use std::fmt::Write as _;

/// Customer value: the models on the calibration/holdout protocol, the served model, the
/// segments, the most valuable customers and those at risk, retention by cohort and the
/// tracking of repeat purchases.
pub fn section(cv: &TrainedCustomerValue, report: &mut ReportWriter<'_>) {
    let currency = report.currency.clone();
    models_table(cv, &currency, &mut report.out);
    if let Some(churn) = &cv.metrics.churn {
        churn_section(churn, &mut report.out);
    }
    customer_tables(cv, &currency, &mut report.out);
    let _ = writeln!(report.out);
    charts(cv, report);
}

/// The models on the calibration/holdout protocol, the spend model, the served model and the
/// covariate test.
fn models_table(cv: &TrainedCustomerValue, currency: &str, out: &mut String) {
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
    let row = |name: &str, params: String, ll: String, h: &HoldoutFigures| {
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
    let params =
        |f: &FittedPurchases| format!("r {:.4}, α {:.4}, a {:.4}, b {:.4}", f.r, f.alpha, f.a, f.b);
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
    if let (Some(p), Some(h)) = (&m.pareto_nbd, &m.pareto_nbd_holdout) {
        let _ = writeln!(
            out,
            "{}",
            row(
                "Pareto/NBD",
                format!("r {:.4}, α {:.4}, s {:.4}, β {:.4}", p.r, p.alpha, p.a, p.b),
                format!("{:.1}", p.log_likelihood),
                h
            )
        );
    }
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
        "\nServed: **{:?}**, the lowest MAE on an inner split of the calibration period (to {}: BG/NBD {:.4}, MBG/NBD {:.4}, Pareto/NBD {}; the holdout is never looked at), refitted on every customer's whole history; values as of {} over {} days.\n",
        m.served,
        m.inner_split_end,
        m.inner_mae_bg_nbd,
        m.inner_mae_mbg_nbd,
        m.inner_mae_pareto_nbd.map_or("—".into(), |v| format!("{v:.4}")),
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
}

/// Segments, customers by region, the most valuable customers and those at risk.
fn customer_tables(cv: &TrainedCustomerValue, currency: &str, out: &mut String) {
    use shopml_core::customer_value::{CustomerValuePredictor, SEGMENT_RULES};
    use shopml_core::money;
    let m = &cv.metrics;
    let predictor = CustomerValuePredictor::new(cv.model.clone(), cv.customers.clone());
    let _ = writeln!(
        out,
        "#### Segments (rules on RFM scores, 1–5)\n\n| segment | rule | customers | mean lifetime value | mean P(active) | mean churn risk | total spent |\n|---|---|---|---|---|---|---|"
    );
    for (name, rule) in SEGMENT_RULES {
        if let Some(s) = m.segments.get(name) {
            let _ = writeln!(
                out,
                "| {name} | {rule} | {} | {} | {:.2} | {:.2} | {} |",
                s.customers,
                money::format(s.mean_lifetime_value, currency),
                s.mean_p_alive,
                s.mean_churn_risk,
                money::format_whole(s.total_amount, currency)
            );
        }
    }
    // Segment names come from recency and frequency; say so where the model's P(alive) reads
    // otherwise.
    let contradicted: Vec<&str> = ["lost", "at_risk", "hibernating"]
        .into_iter()
        .filter(|name| m.segments.get(*name).is_some_and(|s| s.mean_p_alive > 0.9))
        .collect();
    if !contradicted.is_empty() {
        let _ = writeln!(
            out,
            "\nThe segments {} are named by their RFM rules, yet the {:?} model gives them a mean P(active) above 0.9: {}. Rank them by the churn risk column, not by P(active).",
            contradicted.join(", "),
            m.served,
            m.churn
                .as_ref()
                .filter(|c| !c.dropout_identified)
                .map_or("the model sees little dropout on this export".to_owned(), |c| c
                    .dropout_note
                    .clone())
        );
    }
    if !predictor.regions.is_empty() {
        regions_table(&predictor, currency, out);
    }
    let customer_row = |c: &shopml_core::customer_value::KnownCustomer| {
        format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
            c.id,
            c.value.segment,
            c.value.purchase_days,
            money::format_whole(c.value.total_amount, currency),
            c.value.p_alive,
            c.value.churn_risk,
            c.value.expected_purchases,
            money::format(c.value.lifetime_value, currency)
        )
    };
    let header = "| customer | segment | purchase days | spent | P(active) | churn risk | expected purchases | lifetime value |\n|---|---|---|---|---|---|---|---|";
    let _ = writeln!(out, "\n#### Most valuable customers\n\n{header}");
    for &i in predictor.by_value.iter().take(10) {
        let _ = writeln!(out, "{}", customer_row(&predictor.known[i]));
    }
    // High-value customers at risk: the biggest spenders among those whose served churn risk
    // is above one half, or whom the rules call at risk.
    let mut at_risk: Vec<&shopml_core::customer_value::KnownCustomer> = predictor
        .known
        .iter()
        .filter(|c| c.value.churn_risk > 0.5 || c.value.segment == "at_risk")
        .collect();
    at_risk.sort_by(|a, b| {
        b.record.total_amount.total_cmp(&a.record.total_amount).then(a.id.cmp(&b.id))
    });
    let _ = writeln!(
        out,
        "\n#### High-value customers at risk\n\nThe biggest spenders whose churn risk is above one half, or whom the rules call at risk: worth a win-back offer.\n\n{header}"
    );
    for c in at_risk.iter().take(10) {
        let _ = writeln!(out, "{}", customer_row(c));
    }
}

/// Retention by monthly cohort and the tracking of cumulative repeat purchases.
fn charts(cv: &TrainedCustomerValue, report: &mut ReportWriter<'_>) {
    let m = &cv.metrics;
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
    report.chart(
        "customer_cohort_retention.svg",
        charts::heatmap(
            "Customers buying k months after their first month (% of the cohort)",
            &rows,
            &columns,
            &values,
            &labels,
        ),
        "monthly cohort retention",
    );
    let actual: Vec<(f64, f64)> = cv.tracking.iter().map(|t| (t.0, t.1)).collect();
    let expected: Vec<(f64, f64)> = cv.tracking.iter().map(|t| (t.0, t.2)).collect();
    report.chart(
        "customer_tracking.svg",
        charts::xy_lines(
            &format!("Cumulative repeat purchases: actual and {:?} (calibration fit)", m.served),
            ("week", "repeat purchases"),
            &[("actual".into(), actual), (format!("{:?}", m.served), expected)],
            false,
        ),
        "tracking of cumulative repeat purchases",
    );
}

/// The churn rankings as classifiers on the inner split and the holdout, and the served one.
fn churn_section(churn: &shopml_core::customer_value::ChurnValidation, out: &mut String) {
    let _ = writeln!(
        out,
        "#### Churn risk\n\nChurn: no purchase in the {:.0} weeks after the cut. Each ranking is scored as a classifier on the inner split of the calibration period (which chooses) and on the holdout ({} customers, {:.1}% churned; which only reports).\n\n| ranking | inner ROC-AUC | holdout ROC-AUC | holdout PR-AUC |\n|---|---|---|---|",
        churn.window_weeks,
        churn.holdout_customers,
        100.0 * churn.holdout_churn_rate
    );
    for c in &churn.candidates {
        let served = if c.ranking == churn.served { " (served)" } else { "" };
        let _ = writeln!(
            out,
            "| {}{served} | {:.3} | {:.3} | {:.3} |",
            c.ranking.name(),
            c.inner_roc_auc,
            c.holdout_roc_auc,
            c.holdout_pr_auc
        );
    }
    let _ = writeln!(
        out,
        "\nServed churn risk: {}, calibrated on the inner split by isotonic regression; on the holdout its mean is {:.3} against {:.3} observed (Brier {:.4}).{}\n",
        churn.served.name(),
        churn.holdout_mean_risk,
        churn.holdout_churn_rate,
        churn.holdout_brier,
        if churn.served_candidate().is_some_and(|c| c.inner_roc_auc < 0.55) {
            " **No ranking tells churners apart on the inner split** (ROC-AUC below 0.55): the churn risk is close to the base rate for everyone and ranks nobody.".to_owned()
        } else if churn.dropout_identified {
            String::new()
        } else {
            format!(
                " **The purchase model does not identify dropout on this export**: {}; its P(active) is reported but does not rank churn.",
                churn.dropout_note
            )
        }
    );
}

/// Customers by the region of their first purchase: the 15 with most customers.
fn regions_table(
    predictor: &shopml_core::customer_value::CustomerValuePredictor,
    currency: &str,
    out: &mut String,
) {
    use shopml_core::money;
    let mut regions: Vec<_> = predictor.regions.iter().collect();
    regions.sort_by(|a, b| b.1.customers.cmp(&a.1.customers).then(a.0.cmp(b.0)));
    let _ = writeln!(
        out,
        "\n#### Customers by region\n\nEach customer in the region of their first purchase, once; {} regions, the 15 with most customers.\n\n| region | customers | new (last 90 days) | repeat rate | orders per customer | spent per customer | mean lifetime value | largest segment |\n|---|---|---|---|---|---|---|---|",
        regions.len()
    );
    for (name, r) in regions.iter().take(15) {
        let largest = r
            .segments
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map_or(String::new(), |(s, n)| {
                format!("{s} ({:.0}%)", 100.0 * *n as f64 / r.customers.max(1) as f64)
            });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1}% | {:.2} | {} | {} | {largest} |",
            crate::report::cell(name),
            r.customers,
            r.new_last_90_days,
            100.0 * r.repeat_rate(),
            r.purchase_days_per_customer(),
            money::format(r.amount_per_customer(), currency),
            money::format(r.mean_lifetime_value(), currency)
        );
    }
}
