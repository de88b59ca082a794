//! Live evaluation of the checkout model: the cancellation predictions a server logged,
//! joined with the outcomes a later export shows, scored like training's test days (ROC-AUC,
//! Brier, log-loss, calibration by bin) with the drift of what was asked — so the retraining
//! job can decide when to retrain. And the other half of a replay: the orders of an export's
//! days as the checkout would have sent them.
//!
//! A logged line is joined to the export's line of the same order id and SKU — the k-th line
//! of that SKU in the logged order to the k-th in the export, in their order.

use crate::cancellation::{customer_histories, labelled};
use crate::data::sales::{Outcome, Sales};
use crate::metrics;
use chrono::NaiveDate;
use serde::Serialize;
use shopml_core::cancellation::drift::BinCounts;
use shopml_core::cancellation::features::{MAX_CATEGORICAL, MAX_NUMERIC};
use shopml_core::cancellation::{DriftFigures, EncodedLine, PredictedOutcome};
use shopml_core::models::Figure;
use shopml_core::models::LoadedBundle;
use shopml_core::prediction_log::{LoggedPrediction, read_records};
use std::collections::HashMap;
use std::path::Path;

/// Calibration bins of the report.
const CALIBRATION_BINS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("bundle {path}: {reason}")]
    Bundle { path: String, reason: String },
    #[error("prediction log: {0}")]
    Log(#[from] shopml_core::prediction_log::LogError),
    #[error("{0}")]
    Invalid(String),
}

/// One calibration bin: the lines whose probability falls in [from, to).
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationBin {
    pub from: f64,
    pub to: f64,
    pub lines: usize,
    pub mean_probability: f64,
    pub observed_rate: f64,
}

/// The figures of a live evaluation, shaped like metrics.json's `cancellation` section where
/// the figures are the same (so the same gates apply).
#[derive(Debug, Clone, Serialize)]
pub struct CancellationEvaluation {
    pub outcome: PredictedOutcome,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    pub log_loss: f64,
    /// Lines joined with an outcome (the figures' lines).
    pub test_rows: usize,
    pub test_positive_rate: f64,
    pub mean_probability: f64,
    /// Days of the orders joined.
    pub first_order_date: Option<NaiveDate>,
    pub last_order_date: Option<NaiveDate>,
    pub calibration: Vec<CalibrationBin>,
    /// PSI of the logged lines' inputs and scores against the bundle's reference.
    pub drift: Option<DriftFigures>,
}

/// What was read and what could not be joined, counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinCounts {
    /// Records of the log (every model and version).
    pub records: usize,
    /// Cancellation records of other bundle versions, left out.
    pub other_versions: usize,
    /// Lines of the cancellation records of this version.
    pub lines_logged: usize,
    /// Lines logged again (a retried call): the first is kept.
    pub lines_repeated: usize,
    /// Lines the export does not have (an order after its end, or a line it dropped).
    pub lines_not_in_export: usize,
    /// Lines the export has with no outcome yet (pending, shipping).
    pub lines_without_outcome: usize,
    pub lines_joined: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub bundle_version: String,
    pub join: JoinCounts,
    pub cancellation: CancellationEvaluation,
}

impl Evaluation {
    /// The live figures under the paths of metrics.json's, with their direction (what the
    /// quality gates read).
    pub fn figures(&self) -> Vec<Figure> {
        let c = &self.cancellation;
        vec![
            Figure::higher("cancellation.roc_auc", c.roc_auc),
            Figure::higher("cancellation.pr_auc", c.pr_auc),
            Figure::lower("cancellation.brier", c.brier),
            Figure::lower("cancellation.log_loss", c.log_loss),
            Figure::neither("cancellation.test_rows", c.test_rows as f64),
            Figure::neither("cancellation.test_positive_rate", c.test_positive_rate),
        ]
    }
}

/// The join key of an order line: order id, SKU, and which line of that SKU in the order.
type LineKey = (String, String, u32);

/// Numbers each line of an order by the lines of the same SKU before it.
fn occurrence<'a>(
    seen: &mut HashMap<(&'a str, &'a str), u32>,
    order: &'a str,
    sku: &'a str,
) -> u32 {
    let k = seen.entry((order, sku)).or_insert(0);
    *k += 1;
    *k
}

/// The lines the checkout sends: an order's product lines (not the return lines and credit
/// notes that follow a sale).
fn is_order_line(outcome: Outcome) -> bool {
    outcome != Outcome::ReturnLine
}

/// Joins the cancellation predictions logged under `log_dir` by the bundle in `bundle_dir`
/// with the outcomes in `sales`.
pub fn evaluate(
    bundle_dir: &Path,
    log_dir: &Path,
    sales: &Sales,
) -> Result<Evaluation, EvaluateError> {
    let bundle = LoadedBundle::load(bundle_dir).map_err(|e| EvaluateError::Bundle {
        path: bundle_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let predictor = bundle.models.cancellation.as_ref().ok_or_else(|| EvaluateError::Bundle {
        path: bundle_dir.display().to_string(),
        reason: "it has no cancellation model".into(),
    })?;
    let outcome = predictor.calibration().outcome;
    let version = bundle.version().to_owned();

    // The export's outcome of each line with one.
    let labels: HashMap<usize, bool> = labelled(sales, outcome).into_iter().collect();
    let mut seen = HashMap::new();
    let mut export: HashMap<LineKey, (Option<bool>, NaiveDate)> = HashMap::new();
    for (i, line) in sales.lines.iter().enumerate() {
        if !is_order_line(line.outcome) {
            continue;
        }
        let k = occurrence(&mut seen, &line.order_id, &line.product_id);
        export.insert(
            (line.order_id.to_string(), line.product_id.to_string(), k),
            (labels.get(&i).copied(), line.date),
        );
    }

    let encoder = predictor.encoder();
    let offsets = encoder.field_offsets();
    let drift = predictor.drift();
    let mut drift_counts = drift.map(|d| BinCounts::new(d.binner()));
    let mut join = JoinCounts::default();
    let mut joined: HashMap<LineKey, (bool, f64, NaiveDate)> = HashMap::new();
    let mut bad_record = None;
    join.records = read_records(log_dir, |record| {
        let LoggedPrediction::Cancellation(order) = record.prediction else { return };
        if record.bundle_version != version {
            join.other_versions += 1;
            return;
        }
        let mut seen = HashMap::new();
        for line in &order.lines {
            join.lines_logged += 1;
            if line.categorical.len() != encoder.n_categorical()
                || line.numeric.len() != encoder.n_numeric()
            {
                bad_record.get_or_insert_with(|| format!(
                    "request {}: a line of order {} has {} categorical and {} numeric inputs; the bundle's model {} and {}",
                    record.request_id, order.order_id, line.categorical.len(), line.numeric.len(),
                    encoder.n_categorical(), encoder.n_numeric()
                ));
                return;
            }
            let k = occurrence(&mut seen, &order.order_id, &line.sku);
            let key = (order.order_id.clone(), line.sku.clone(), k);
            if joined.contains_key(&key) {
                join.lines_repeated += 1;
                continue;
            }
            if let (Some(counts), Some(drift)) = (&mut drift_counts, drift) {
                let mut encoded = EncodedLine {
                    categorical: [0; MAX_CATEGORICAL],
                    numeric: [0.0; MAX_NUMERIC],
                    unseen: 0,
                    unit_price: 0.0,
                    price_imputed: false,
                };
                for (f, (&index, &offset)) in line.categorical.iter().zip(offsets).enumerate() {
                    encoded.categorical[f] = offset + index;
                }
                encoded.numeric[..line.numeric.len()].copy_from_slice(&line.numeric);
                counts.add(drift.binner(), &encoded, line.probability);
            }
            match export.get(&key) {
                None => join.lines_not_in_export += 1,
                Some((None, _)) => join.lines_without_outcome += 1,
                Some((Some(label), date)) => {
                    joined.insert(key, (*label, line.probability, *date));
                }
            }
        }
    })?;
    if let Some(reason) = bad_record {
        return Err(EvaluateError::Invalid(reason));
    }
    join.lines_joined = joined.len();
    if joined.is_empty() {
        return Err(EvaluateError::Invalid(format!(
            "no logged line of bundle {version} could be joined with an outcome of the export ({} records, {} lines of this version, {} not in the export, {} without an outcome yet)",
            join.records, join.lines_logged, join.lines_not_in_export, join.lines_without_outcome
        )));
    }
    // A fixed order (by key), so the same log gives the same figures.
    let mut rows: Vec<(LineKey, (bool, f64, NaiveDate))> = joined.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let labels: Vec<bool> = rows.iter().map(|r| r.1.0).collect();
    let probabilities: Vec<f64> = rows.iter().map(|r| r.1.1).collect();
    let n = labels.len() as f64;
    let cancellation = CancellationEvaluation {
        outcome,
        roc_auc: metrics::roc_auc(&labels, &probabilities),
        pr_auc: metrics::average_precision(&labels, &probabilities),
        brier: metrics::brier(&labels, &probabilities),
        log_loss: metrics::log_loss(&labels, &probabilities),
        test_rows: labels.len(),
        test_positive_rate: labels.iter().filter(|&&y| y).count() as f64 / n,
        mean_probability: probabilities.iter().sum::<f64>() / n,
        first_order_date: rows.iter().map(|r| r.1.2).min(),
        last_order_date: rows.iter().map(|r| r.1.2).max(),
        calibration: calibration(&labels, &probabilities),
        drift: drift.zip(drift_counts).map(|(d, counts)| counts.figures(d.reference())),
    };
    Ok(Evaluation { bundle_version: version, join, cancellation })
}

/// Lines by probability in equal-width bins, with the observed rate of each.
fn calibration(labels: &[bool], probabilities: &[f64]) -> Vec<CalibrationBin> {
    let mut bins: Vec<(usize, f64, usize)> = vec![(0, 0.0, 0); CALIBRATION_BINS];
    for (&y, &p) in labels.iter().zip(probabilities) {
        let b = ((p * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += p;
        bins[b].2 += y as usize;
    }
    bins.into_iter()
        .enumerate()
        .filter(|(_, (count, _, _))| *count > 0)
        .map(|(b, (count, sum, positives))| CalibrationBin {
            from: b as f64 / CALIBRATION_BINS as f64,
            to: (b + 1) as f64 / CALIBRATION_BINS as f64,
            lines: count,
            mean_probability: sum / count as f64,
            observed_rate: positives as f64 / count as f64,
        })
        .collect()
}

/// The orders dated `from` to `to` (inclusive) as the checkout would have sent them:
/// `shopml.v1.Order` messages in JSON (proto field names), one a line — each order's lines in
/// export order, every configured attribute in the `attributes` maps, and for an export with
/// customer ids the customer's history before the order (as training computes it).
pub fn checkout_orders(
    sales: &Sales,
    from: NaiveDate,
    to: Option<NaiveDate>,
    mut write: impl FnMut(&serde_json::Value) -> std::io::Result<()>,
) -> std::io::Result<usize> {
    let histories = customer_histories(sales);
    let mut orders: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, line) in sales.lines.iter().enumerate() {
        if !is_order_line(line.outcome) || line.date < from || to.is_some_and(|to| line.date > to) {
            continue;
        }
        let next = orders.len();
        let at = *index.entry(&line.order_id).or_insert(next);
        if at == next {
            orders.push((i, Vec::new()));
        }
        orders[at].1.push(i);
    }
    // Order attributes in the order's map; a line's own attributes, and an order attribute
    // whose value on this line differs from the order's first line, in the line's map.
    let attributes = |line: &crate::data::sales::SaleLine,
                      head: Option<&crate::data::sales::SaleLine>| {
        sales
            .attributes
            .iter()
            .enumerate()
            .filter(|(i, a)| match head {
                None => a.order_level,
                Some(head) => !a.order_level || head.attributes[*i] != line.attributes[*i],
            })
            .map(|(i, a)| (a.name.clone(), serde_json::Value::from(line.attributes[i].to_string())))
            .collect::<serde_json::Map<_, _>>()
    };
    for (first, lines) in &orders {
        let head = &sales.lines[*first];
        let mut order = serde_json::json!({
            "order_id": &*head.order_id,
            "order_date": head.date.to_string(),
            "sales_channel": &*head.channel,
            "ship_city": &*head.city,
            "ship_state": &*head.state,
            "ship_postal_code": &*head.postal_code,
            "attributes": attributes(head, None),
            "currency": &sales.currency,
            "lines": lines.iter().map(|&i| {
                let line = &sales.lines[i];
                serde_json::json!({
                    "sku": &*line.product_id,
                    "style": &*line.product_group,
                    "category": &*line.category,
                    // What the model reads; an unusable price is left for it to impute.
                    "unit_price": line.unit_price.or(line.amount).filter(|p| p.is_finite() && *p >= 0.0),
                    "attributes": attributes(line, Some(head)),
                })
            }).collect::<Vec<_>>(),
        });
        if let Some(history) = histories[*first] {
            let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
            order["customer_id"] = (&*head.customer_id).into();
            order["customer_history"] = serde_json::json!({
                "prior_orders": history.orders,
                "prior_cancelled_orders": history.cancelled_orders,
                "prior_returns": history.returns,
                "first_order_date": date(history.first_order_date),
                "last_order_date": date(history.last_order_date),
            });
        }
        write(&order)?;
    }
    Ok(orders.len())
}
