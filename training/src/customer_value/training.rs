//! Customer value from any export keyed by customer (`../shared/EVALUATION.md` §6): purchase
//! days per customer (a day's lines, returns netted, are one purchase), the
//! calibration/holdout protocol of Fader, Hardie & Lee (2005), BG/NBD and MBG/NBD fitted by
//! maximum likelihood with Burn's autodiff (and BG/NBD with time-invariant covariates, tested
//! against the plain model by likelihood ratio), Gamma-Gamma for the spend, RFM scores and
//! segments; the served model is chosen on an inner split of the calibration period, then
//! refitted on the whole export.

use super::CustomerValueSettings;
use super::churn::{self, ChurnSample};
use super::likelihood::{self, Histories, bfgs, bounded, pareto_loss, purchase_loss, spend_loss};
use crate::config::Split;
use crate::data::sales::{Outcome, Sales, SalesField};
use crate::metrics;
use crate::progress::Stage;
use chrono::NaiveDate;
use shopml_core::customer_value::{
    ChurnCalibration, CovariateTest, CustomerRecord, CustomerValueMetrics, CustomerValueModel,
    CustomerValuePredictor, FittedPurchases, HoldoutFigures, PurchaseModel, PurchaseModelKind,
    RfmThresholds, Rft, SegmentFigures, SpendModel, record_of,
};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum CustomerValueError {
    #[error("customer value: {0}")]
    NotEnoughData(String),
}

/// Each customer's purchase days: (day, net amount), in day order. A day is a purchase when it
/// holds a line that is neither a return line nor cancelled; its amount is the day's revenue
/// with the day's returns netted (at least 0).
pub fn purchase_days(sales: &Sales) -> BTreeMap<String, Vec<(NaiveDate, f64)>> {
    let mut days: BTreeMap<(&str, NaiveDate), (bool, f64)> = BTreeMap::new();
    for l in sales.lines.iter().filter(|l| !l.customer_id.is_empty()) {
        let day = days.entry((&l.customer_id, l.date)).or_default();
        day.0 |= !matches!(l.outcome, Outcome::ReturnLine | Outcome::Cancelled);
        day.1 += l.revenue();
    }
    let mut out: BTreeMap<String, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for ((customer, date), (purchase, amount)) in days {
        if purchase {
            out.entry(customer.to_owned()).or_default().push((date, amount.max(0.0)));
        }
    }
    out
}

/// A customer's history split at the calibration end: the calibration history and the
/// purchase days after it (to `end`).
#[derive(Debug, Clone)]
struct Split2 {
    history: Rft,
    repeat_mean: Option<f64>,
    holdout: f64,
}

fn split_at(days: &[(NaiveDate, f64)], calibration_end: NaiveDate) -> Option<Split2> {
    let first = days.first()?.0;
    if first > calibration_end {
        return None;
    }
    let calibration: Vec<&(NaiveDate, f64)> =
        days.iter().filter(|d| d.0 <= calibration_end).collect();
    let weeks = |d: NaiveDate| (d - first).num_days() as f64 / 7.0;
    let last = calibration.last()?.0;
    let repeat: Vec<f64> = calibration[1..].iter().map(|d| d.1).collect();
    Some(Split2 {
        history: Rft {
            x: (calibration.len() - 1) as f64,
            t_x: weeks(last),
            t: weeks(calibration_end),
        },
        repeat_mean: (!repeat.is_empty())
            .then(|| repeat.iter().sum::<f64>() / repeat.len() as f64)
            .filter(|m| *m > 0.0),
        holdout: (days.len() - calibration.len()) as f64,
    })
}

fn holdout_figures(predicted: &[f64], actual: &[f64]) -> HoldoutFigures {
    let n = actual.len().max(1) as f64;
    let predicted_total: f64 = predicted.iter().sum();
    let actual_total: f64 = actual.iter().sum();
    let (mp, ma) = (predicted_total / n, actual_total / n);
    let cov: f64 = predicted.iter().zip(actual).map(|(p, a)| (p - mp) * (a - ma)).sum();
    let vp: f64 = predicted.iter().map(|p| (p - mp).powi(2)).sum();
    let va: f64 = actual.iter().map(|a| (a - ma).powi(2)).sum();
    HoldoutFigures {
        mae: metrics::mae(actual, predicted),
        rmse: (predicted.iter().zip(actual).map(|(p, a)| (p - a).powi(2)).sum::<f64>() / n).sqrt(),
        predicted_total,
        actual_total,
        total_error: (predicted_total - actual_total) / actual_total.max(1e-12),
        correlation: cov / (vp * va).sqrt().max(1e-300),
    }
}

pub struct TrainedCustomerValue {
    pub model: CustomerValueModel,
    pub customers: BTreeMap<String, CustomerRecord>,
    pub metrics: CustomerValueMetrics,
    /// Weekly repeat purchases of the calibration cohort, actual and as the calibration fit
    /// expects (cumulative), over calibration and holdout.
    pub tracking: Vec<(f64, f64, f64)>,
    /// Monthly cohorts: (first month, [share of the cohort buying in month 0, 1, …]).
    pub cohorts: Vec<(String, Vec<f64>)>,
    /// The settings it was trained with (recorded in the bundle).
    pub settings: CustomerValueSettings,
    /// ISO 4217 code of the amounts.
    pub currency: String,
}

/// Fits BG/NBD or MBG/NBD on `data` from the method-of-moments-free start the literature uses.
pub fn fit_purchases(kind: PurchaseModelKind, data: &Histories) -> FittedPurchases {
    let start = [1f64.ln(), 1f64.ln(), 1f64.ln(), 1f64.ln()];
    let m = match kind {
        PurchaseModelKind::ParetoNbd => bfgs(|theta| pareto_loss(data, theta), &start, 1e-9, 300),
        _ => bfgs(|theta| purchase_loss(kind, data, theta), &start, 1e-9, 200),
    };
    let total: f64 = data.weight.iter().sum();
    FittedPurchases {
        r: bounded(m.theta[0]),
        alpha: bounded(m.theta[1]),
        a: bounded(m.theta[2]),
        b: bounded(m.theta[3]),
        log_likelihood: -m.value * total,
        iterations: m.iterations,
        converged: m.converged,
    }
}

/// Fits Gamma-Gamma on repeat customers' (repeat purchases, mean amount); `None` with fewer
/// than 20 of them.
pub fn fit_spend(x: &[f64], mean: &[f64]) -> Option<SpendModel> {
    if x.len() < 20 {
        return None;
    }
    let m = bfgs(|theta| spend_loss(x, mean, theta), &[0.0, 0.0, 0.0], 1e-10, 1000);
    let model =
        SpendModel { p: bounded(m.theta[0]), q: bounded(m.theta[1]), gamma: bounded(m.theta[2]) };
    model.is_valid().then_some(model)
}

/// The regularised upper incomplete gamma Q(s, x): the χ² survival function with 2s degrees
/// of freedom at 2x.
fn gamma_q(s: f64, x: f64) -> f64 {
    use shopml_core::customer_value::model::ln_gamma;
    if x <= 0.0 {
        return 1.0;
    }
    if x < s + 1.0 {
        // Series of P.
        let (mut term, mut sum, mut n) = (1.0 / s, 1.0 / s, s);
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term < sum * 1e-15 {
                break;
            }
        }
        1.0 - sum * (-x + s * x.ln() - ln_gamma(s)).exp()
    } else {
        // Continued fraction of Q (Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (-x + s * x.ln() - ln_gamma(s)).exp() * h
    }
}

/// The region of each customer's first line (the earliest day; the first line of the export
/// on that day); empty without a region field.
fn first_purchase_regions(sales: &Sales) -> BTreeMap<&str, String> {
    let mut first: BTreeMap<&str, (NaiveDate, &crate::data::sales::SaleLine)> = BTreeMap::new();
    if sales.region_field().is_none() {
        return BTreeMap::new();
    }
    for l in sales.lines.iter().filter(|l| !l.customer_id.is_empty()) {
        match first.get(&*l.customer_id) {
            Some(f) if f.0 <= l.date => {}
            _ => {
                first.insert(&l.customer_id, (l.date, l));
            }
        }
    }
    first.into_iter().map(|(c, (_, l))| (c, sales.region_key(l))).collect()
}

/// One-hot covariates of each customer's first purchase: its region (state, else region,
/// else country), channel and category, the most frequent `levels` values of each (the rest
/// share the baseline).
fn first_purchase_covariates(
    sales: &Sales,
    customers: &[&String],
    levels: usize,
) -> (Vec<String>, BTreeMap<String, Vec<f64>>) {
    let mut first: BTreeMap<&str, (NaiveDate, [String; 3])> = BTreeMap::new();
    for l in sales.lines.iter().filter(|l| !l.customer_id.is_empty()) {
        let values = [sales.region_key(l), l.channel.to_string(), l.category.to_string()];
        match first.get_mut(&*l.customer_id) {
            Some(f) if f.0 <= l.date => {}
            _ => {
                first.insert(&l.customer_id, (l.date, values));
            }
        }
    }
    let mut names = Vec::new();
    let mut columns: Vec<(usize, String)> = Vec::new();
    for (d, field) in ["region", "channel", "category"].iter().enumerate() {
        let present = match d {
            0 => sales.region_field().is_some(),
            1 => sales.has(SalesField::Channel),
            _ => sales.has(SalesField::Category),
        };
        if !present {
            continue;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in customers {
            if let Some((_, v)) = first.get(c.as_str()) {
                *counts.entry(&v[d]).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> =
            counts.into_iter().filter(|(v, _)| !v.is_empty()).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // The most frequent value is the baseline; the next `levels` get a coefficient each.
        for (value, _) in ranked.iter().skip(1).take(levels) {
            names.push(format!("{field}={value}"));
            columns.push((d, (*value).to_owned()));
        }
    }
    let z = customers
        .iter()
        .map(|c| {
            let values = first.get(c.as_str()).map(|f| &f.1);
            let row = columns
                .iter()
                .map(|(d, value)| values.is_some_and(|v| &v[*d] == value) as u8 as f64)
                .collect();
            ((*c).clone(), row)
        })
        .collect();
    (names, z)
}

pub fn train(
    sales: &Sales,
    split: &Split,
    settings: &CustomerValueSettings,
    currency: &str,
    stage: &Stage,
) -> Result<TrainedCustomerValue, CustomerValueError> {
    let days = purchase_days(sales);
    let end = sales
        .last_date()
        .ok_or_else(|| CustomerValueError::NotEnoughData("no order line".into()))?;
    let calibration_end = split.customer_value_calibration_end;
    if calibration_end >= end {
        return Err(CustomerValueError::NotEnoughData(format!(
            "the calibration period ends {calibration_end}, on or after the export's last day {end}"
        )));
    }
    let holdout_weeks = (end - calibration_end).num_days() as f64 / 7.0;
    let customers: Vec<&String> =
        days.keys().filter(|c| days[*c][0].0 <= calibration_end).collect();
    let splits: Vec<Split2> =
        customers.iter().filter_map(|c| split_at(&days[*c], calibration_end)).collect();
    if splits.len() < 50 {
        return Err(CustomerValueError::NotEnoughData(format!(
            "{} customers bought by {calibration_end}; at least 50 are needed",
            splits.len()
        )));
    }
    stage.set_length(8);
    let histories = Histories::grouped(
        splits.iter().map(|s| (s.history.x, s.history.t_x, s.history.t, vec![])),
    );
    let started = std::time::Instant::now();
    let bg = fit_purchases(PurchaseModelKind::BgNbd, &histories);
    let bg_nbd_fit_seconds = started.elapsed().as_secs_f64();
    stage.tick(format!(
        "BG/NBD r {:.4}, α {:.4}, a {:.4}, b {:.4} (LL {:.1}, {:.2} s)",
        bg.r, bg.alpha, bg.a, bg.b, bg.log_likelihood, bg_nbd_fit_seconds
    ));
    let mbg = fit_purchases(PurchaseModelKind::MbgNbd, &histories);
    stage.tick(format!(
        "MBG/NBD r {:.4}, α {:.4}, a {:.4}, b {:.4} (LL {:.1})",
        mbg.r, mbg.alpha, mbg.a, mbg.b, mbg.log_likelihood
    ));
    let started = std::time::Instant::now();
    let pnbd = fit_purchases(PurchaseModelKind::ParetoNbd, &histories);
    let pareto_nbd_fit_seconds = started.elapsed().as_secs_f64();
    stage.tick(format!(
        "Pareto/NBD r {:.4}, α {:.4}, s {:.4}, β {:.4} (LL {:.1}, {:.2} s)",
        pnbd.r, pnbd.alpha, pnbd.a, pnbd.b, pnbd.log_likelihood, pareto_nbd_fit_seconds
    ));
    let actual: Vec<f64> = splits.iter().map(|s| s.holdout).collect();
    let predict = |model: PurchaseModel| -> Vec<f64> {
        splits.iter().map(|s| model.expected_purchases(s.history, holdout_weeks)).collect()
    };
    let bg_holdout = holdout_figures(&predict(bg.model(PurchaseModelKind::BgNbd)), &actual);
    let mbg_holdout = holdout_figures(&predict(mbg.model(PurchaseModelKind::MbgNbd)), &actual);
    let pnbd_holdout = holdout_figures(&predict(pnbd.model(PurchaseModelKind::ParetoNbd)), &actual);
    let naive: Vec<f64> = splits
        .iter()
        .map(|s| if s.history.t > 0.0 { s.history.x / s.history.t * holdout_weeks } else { 0.0 })
        .collect();
    let naive_holdout = holdout_figures(&naive, &actual);

    // Spend: the calibration period's repeat customers.
    let (gx, gm): (Vec<f64>, Vec<f64>) = splits
        .iter()
        .filter_map(|s| s.repeat_mean.map(|m| (s.history.x, m)))
        .filter(|(x, _)| *x > 0.0)
        .unzip();
    let spend = fit_spend(&gx, &gm);
    if let Some(s) = &spend {
        stage.tick(format!(
            "Gamma-Gamma p {:.4}, q {:.4}, γ {:.4} ({} customers)",
            s.p,
            s.q,
            s.gamma,
            gx.len()
        ));
    }

    // The served model: the one with the lower MAE on an inner split of the calibration
    // period (its last third held out), never looking at the holdout.
    let first_day = days.values().map(|d| d[0].0).min().expect("customers");
    let inner_end = first_day + (calibration_end - first_day) * 2 / 3;
    let inner_weeks = (calibration_end - inner_end).num_days() as f64 / 7.0;
    let inner_fits = inner_fits(&days, &customers, calibration_end, inner_end);
    let inner_mae =
        |kind: PurchaseModelKind| inner_fits.iter().find(|f| f.0 == kind).map_or(f64::NAN, |f| f.2);
    let (inner_bg, inner_mbg, inner_pnbd) = (
        inner_mae(PurchaseModelKind::BgNbd),
        inner_mae(PurchaseModelKind::MbgNbd),
        inner_mae(PurchaseModelKind::ParetoNbd),
    );
    // The lowest inner MAE; BG/NBD without an inner split (or on a tie).
    let served = inner_fits
        .iter()
        .filter(|f| f.2.is_finite())
        .fold(None::<&(PurchaseModelKind, PurchaseModel, f64)>, |best, f| match best {
            Some(b) if b.2 <= f.2 => Some(b),
            _ => Some(f),
        })
        .map_or(PurchaseModelKind::BgNbd, |f| f.0);
    let fitted = |kind: PurchaseModelKind| match kind {
        PurchaseModelKind::BgNbd => &bg,
        PurchaseModelKind::MbgNbd => &mbg,
        PurchaseModelKind::ParetoNbd => &pnbd,
    };
    let served_holdout = match served {
        PurchaseModelKind::BgNbd => bg_holdout.clone(),
        PurchaseModelKind::MbgNbd => mbg_holdout.clone(),
        PurchaseModelKind::ParetoNbd => pnbd_holdout.clone(),
    };
    // Churn: the window is the inner split's, within the holdout.
    let window_weeks = inner_weeks.min(holdout_weeks);
    let churn = inner_fits.iter().find(|f| f.0 == served).and_then(|f| {
        let calibration_days = |c: &&String| -> Vec<(NaiveDate, f64)> {
            days[*c].iter().copied().filter(|d| d.0 <= calibration_end).collect()
        };
        let within: Vec<Vec<(NaiveDate, f64)>> = customers.iter().map(calibration_days).collect();
        let inner_sample = ChurnSample::at(within.iter().map(|d| &d[..]), inner_end, window_weeks);
        let holdout_sample =
            ChurnSample::at(customers.iter().map(|c| &days[*c][..]), calibration_end, window_weeks);
        churn::choose(
            &inner_sample,
            &f.1,
            &holdout_sample,
            &fitted(served).model(served),
            window_weeks,
        )
    });
    if let Some((_, v)) = &churn {
        let served_auc = v.served_candidate().map_or(f64::NAN, |c| c.holdout_roc_auc);
        stage.tick(format!(
            "churn risk from {} (holdout ROC-AUC {served_auc:.3}){}",
            v.served.name(),
            if v.dropout_identified { String::new() } else { format!("; {}", v.dropout_note) }
        ));
    }
    stage.tick(format!(
        "served {served:?} (inner-split MAE BG/NBD {inner_bg:.4}, MBG/NBD {inner_mbg:.4}, Pareto/NBD {inner_pnbd:.4}); holdout MAE {:.4}, total {:.0} vs {:.0}",
        served_holdout.mae, served_holdout.predicted_total, served_holdout.actual_total
    ));

    // BG/NBD with the first purchase's region, channel and category, against the plain model.
    let clock = std::time::Instant::now();
    let (names, z) = first_purchase_covariates(sales, &customers, settings.covariate_levels);
    let covariates = (!names.is_empty())
        .then(|| covariate_test(&names, &z, &customers, &splits, &bg, holdout_weeks, &actual));
    if let Some(c) = &covariates {
        stage.tick(format!(
            "BG/NBD with {} covariates ({:.1} s): LR {:.1} on {} df, p = {:.3e}",
            c.covariates.len(),
            clock.elapsed().as_secs_f64(),
            c.lr_statistic,
            c.degrees_of_freedom,
            c.p_value
        ));
    }

    let clock = std::time::Instant::now();
    // Tracking: cumulative weekly repeat purchases of the calibration cohort, actual and
    // expected by the calibration fit, from the cohort's first week to the export's end.
    let tracking = tracking(&days, &customers, &fitted(served).model(served), first_day, end);

    let tracking_seconds = clock.elapsed().as_secs_f64();
    let clock = std::time::Instant::now();
    let (served_model, records) =
        serving_model(sales, &days, served, churn.as_ref().map(|c| &c.0), settings, currency, end)?;
    let predictor = CustomerValuePredictor::new(served_model.clone(), records.clone());
    let mut segments: BTreeMap<String, SegmentFigures> = BTreeMap::new();
    for c in &predictor.known {
        let s = segments.entry(c.value.segment.to_owned()).or_default();
        s.customers += 1;
        s.mean_lifetime_value += c.value.lifetime_value;
        s.mean_p_alive += c.value.p_alive;
        s.mean_churn_risk += c.value.churn_risk;
        s.total_amount += c.record.total_amount;
    }
    for s in segments.values_mut() {
        s.mean_lifetime_value /= s.customers as f64;
        s.mean_p_alive /= s.customers as f64;
        s.mean_churn_risk /= s.customers as f64;
    }
    stage.tick(format!(
        "{} customers valued as of {end} ({:.1} s; tracking {:.1} s)",
        records.len(),
        clock.elapsed().as_secs_f64(),
        tracking_seconds
    ));

    let cohorts = monthly_cohorts(&days);

    let metrics = CustomerValueMetrics {
        customers: splits.len(),
        calibration_end,
        holdout_end: end,
        holdout_weeks,
        repeat_customers: gx.len(),
        bg_nbd: bg,
        mbg_nbd: mbg,
        gamma_gamma: spend,
        bg_nbd_holdout: bg_holdout,
        mbg_nbd_holdout: mbg_holdout,
        naive_holdout,
        served,
        inner_split_end: inner_end,
        inner_mae_bg_nbd: inner_bg,
        inner_mae_mbg_nbd: inner_mbg,
        pareto_nbd: Some(pnbd),
        pareto_nbd_holdout: Some(pnbd_holdout),
        inner_mae_pareto_nbd: inner_pnbd.is_finite().then_some(inner_pnbd),
        pareto_nbd_fit_seconds,
        churn: churn.map(|c| c.1),
        served_holdout,
        covariates,
        bg_nbd_fit_seconds,
        served_parameters: served_model.purchases,
        segments,
    };
    Ok(TrainedCustomerValue {
        model: served_model,
        customers: records,
        metrics,
        tracking,
        cohorts,
        settings: settings.clone(),
        currency: currency.to_owned(),
    })
}

/// Each candidate model fitted on the inner split of the calibration period (its histories to
/// `inner_end`, the purchases from then to `calibration_end` held out): (kind, the model, its
/// MAE there); none with fewer than 50 customers.
fn inner_fits(
    days: &BTreeMap<String, Vec<(NaiveDate, f64)>>,
    customers: &[&String],
    calibration_end: NaiveDate,
    inner_end: NaiveDate,
) -> Vec<(PurchaseModelKind, PurchaseModel, f64)> {
    let weeks = (calibration_end - inner_end).num_days() as f64 / 7.0;
    let inner: Vec<Split2> = customers
        .iter()
        .filter_map(|c| {
            let within: Vec<(NaiveDate, f64)> =
                days[*c].iter().copied().filter(|d| d.0 <= calibration_end).collect();
            split_at(&within, inner_end)
        })
        .collect();
    let inner_histories =
        Histories::grouped(inner.iter().map(|s| (s.history.x, s.history.t_x, s.history.t, vec![])));
    let inner_actual: Vec<f64> = inner.iter().map(|s| s.holdout).collect();
    let kinds = [PurchaseModelKind::BgNbd, PurchaseModelKind::MbgNbd, PurchaseModelKind::ParetoNbd];
    if inner.len() >= 50 {
        kinds
            .iter()
            .map(|&kind| {
                let model = fit_purchases(kind, &inner_histories).model(kind);
                let predicted: Vec<f64> =
                    inner.iter().map(|s| model.expected_purchases(s.history, weeks)).collect();
                (kind, model, metrics::mae(&inner_actual, &predicted))
            })
            .collect()
    } else {
        Vec::new()
    }
}

/// Serving: the chosen model refitted on every customer's whole history as of `end`, with the
/// spend model, RFM thresholds and churn map of that population; and the customers' records.
fn serving_model(
    sales: &Sales,
    days: &BTreeMap<String, Vec<(NaiveDate, f64)>>,
    served: PurchaseModelKind,
    churn: Option<&ChurnCalibration>,
    settings: &CustomerValueSettings,
    currency: &str,
    end: NaiveDate,
) -> Result<(CustomerValueModel, BTreeMap<String, CustomerRecord>), CustomerValueError> {
    let regions = first_purchase_regions(sales);
    let records: BTreeMap<String, CustomerRecord> = days
        .iter()
        .filter_map(|(c, d)| {
            let mut record = record_of(d)?;
            record.region = regions.get(c.as_str()).cloned().unwrap_or_default();
            Some((c.clone(), record))
        })
        .collect();
    let all = Histories::grouped(records.values().map(|r| {
        let h = r.rft(end);
        (h.x, h.t_x, h.t, vec![])
    }));
    let refit = fit_purchases(served, &all).model(served);
    let (ax, am): (Vec<f64>, Vec<f64>) = records
        .values()
        .filter_map(|r| r.repeat_mean_amount.map(|m| (r.purchase_days as f64 - 1.0, m)))
        .filter(|(x, _)| *x > 0.0)
        .unzip();
    let spend_all = fit_spend(&ax, &am);
    let served_model = CustomerValueModel {
        currency: currency.to_owned(),
        as_of: end,
        purchases: refit,
        spend: spend_all,
        horizon_days: settings.horizon_days,
        monthly_discount: (1.0 + settings.annual_discount_rate.max(0.0)).powf(1.0 / 12.0) - 1.0,
        rfm: RfmThresholds::fit(&records.values().cloned().collect::<Vec<_>>(), end),
        // The churn map places a customer among every customer as of the end, scored by the
        // refitted model.
        churn: churn.map(|calibration| {
            let scores: Vec<f64> = records
                .values()
                .map(|r| calibration.ranking.score(&refit, r.rft(end), calibration.window_weeks))
                .collect();
            calibration.clone().with_reference(&scores)
        }),
    };
    let served_model = served_model
        .validated()
        .map_err(|e| CustomerValueError::NotEnoughData(format!("the refitted model: {e}")))?;
    Ok((served_model, records))
}

/// BG/NBD with one-hot covariates of the first purchase (`names`, per customer `z`) against the
/// plain model `bg`: the likelihood-ratio test and the holdout figures.
fn covariate_test(
    names: &[String],
    z: &BTreeMap<String, Vec<f64>>,
    customers: &[&String],
    splits: &[Split2],
    bg: &FittedPurchases,
    holdout_weeks: f64,
    actual: &[f64],
) -> CovariateTest {
    let rows = customers
        .iter()
        .zip(splits)
        .map(|(c, s)| (s.history.x, s.history.t_x, s.history.t, z[*c].clone()));
    let data = Histories::grouped(rows);
    let k = names.len();
    let unbounded =
        |p: f64| likelihood::BOUND * (p.ln() / likelihood::BOUND).clamp(-0.999, 0.999).atanh();
    let mut start = vec![unbounded(bg.r), unbounded(bg.alpha), unbounded(bg.a), unbounded(bg.b)];
    start.extend(std::iter::repeat_n(0.0, 2 * k));
    let m = bfgs(|theta| purchase_loss(PurchaseModelKind::BgNbd, &data, theta), &start, 1e-8, 150);
    let total: f64 = data.weight.iter().sum();
    let ll = -m.value * total;
    let statistic = (2.0 * (ll - bg.log_likelihood)).max(0.0);
    let dof = 2 * k;
    let predicted: Vec<f64> = customers
        .iter()
        .zip(splits)
        .map(|(c, s)| {
            let zc = &z[*c];
            let rate: f64 = zc.iter().zip(&m.theta[4..4 + k]).map(|(a, b)| a * b).sum();
            let life: f64 = zc.iter().zip(&m.theta[4 + k..]).map(|(a, b)| a * b).sum();
            PurchaseModel {
                kind: PurchaseModelKind::BgNbd,
                r: bounded(m.theta[0]),
                alpha: bounded(m.theta[1]) * (-rate).exp(),
                a: bounded(m.theta[2]) * life.exp(),
                b: bounded(m.theta[3]) * life.exp(),
            }
            .expected_purchases(s.history, holdout_weeks)
        })
        .collect();
    CovariateTest {
        covariates: names.to_vec(),
        log_likelihood: ll,
        lr_statistic: statistic,
        degrees_of_freedom: dof,
        p_value: gamma_q(dof as f64 / 2.0, statistic / 2.0),
        rate_coefficients: m.theta[4..4 + k].to_vec(),
        dropout_coefficients: m.theta[4 + k..].to_vec(),
        holdout: holdout_figures(&predicted, actual),
    }
}

/// Cumulative weekly repeat purchases of the calibration cohort `customers`, actual and as
/// `model` (the calibration fit) expects, from the cohort's first week to `end`.
fn tracking(
    days: &BTreeMap<String, Vec<(NaiveDate, f64)>>,
    customers: &[&String],
    model: &PurchaseModel,
    first_day: NaiveDate,
    end: NaiveDate,
) -> Vec<(f64, f64, f64)> {
    let total_weeks = ((end - first_day).num_days() as f64 / 7.0).ceil() as usize;
    let mut repeat_by_week = vec![0.0f64; total_weeks + 1];
    for c in customers {
        for d in &days[*c][1..] {
            repeat_by_week[((d.0 - first_day).num_days() / 7) as usize] += 1.0;
        }
    }
    let starts: Vec<f64> =
        customers.iter().map(|c| (days[*c][0].0 - first_day).num_days() as f64 / 7.0).collect();
    let mut tracking = Vec::new();
    let mut actual_cumulative = 0.0;
    for (week, repeats) in repeat_by_week.iter().enumerate() {
        actual_cumulative += repeats;
        let at = (week + 1) as f64;
        let expected: f64 =
            starts.iter().map(|s| model.expected_purchases_new((at - s).max(0.0))).sum();
        tracking.push((at, actual_cumulative, expected));
    }
    tracking
}

/// Monthly cohorts: the share of each first-purchase month's customers buying k months on.
fn monthly_cohorts(days: &BTreeMap<String, Vec<(NaiveDate, f64)>>) -> Vec<(String, Vec<f64>)> {
    let month =
        |d: NaiveDate| chrono::Datelike::year(&d) * 12 + chrono::Datelike::month0(&d) as i32;
    let mut cohorts: BTreeMap<i32, (usize, Vec<usize>)> = BTreeMap::new();
    for d in days.values() {
        let start = month(d[0].0);
        let entry = cohorts.entry(start).or_default();
        entry.0 += 1;
        let mut active: Vec<usize> =
            d.iter().map(|(day, _)| (month(*day) - start) as usize).collect();
        active.dedup();
        for k in active {
            if entry.1.len() <= k {
                entry.1.resize(k + 1, 0);
            }
            entry.1[k] += 1;
        }
    }
    cohorts
        .into_iter()
        .map(|(m, (size, active))| {
            (
                format!("{}-{:02}", m / 12, m % 12 + 1),
                active.iter().map(|a| *a as f64 / size as f64).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chi_square_survival_function_is_right() {
        // χ² with 2 df: survival e^{-x/2}.
        assert!((gamma_q(1.0, 3.0) - (-3.0f64).exp()).abs() < 1e-12);
        // χ² with 4 df at 9.488 is 0.05.
        assert!((gamma_q(2.0, 9.487729 / 2.0) - 0.05).abs() < 1e-6);
        assert!((gamma_q(5.0, 0.5) - 0.999_827_5).abs() < 1e-6);
    }
}
