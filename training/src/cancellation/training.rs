//! Training and evaluation of the cancellation classifier on the protocol of
//! `../shared/EVALUATION.md` §1.

use super::CancellationSettings;
use crate::config::{Predict, Split};
use crate::data::sales::{Outcome, Sales, SalesField};
use crate::fit::{
    EarlyStopping, SeededRng, member_seed, platt_calibrated, quantile, rng, shuffled,
};
use crate::metrics;
use crate::progress::Stage;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softplus;
use rand::RngExt;
use shopml_core::cancellation::baseline::{self, CheckoutBaseline};
use shopml_core::cancellation::{
    CancellationCalibration, CancellationEncoder, CancellationMetrics, CancellationModel,
    CancellationModelConfig, CancellationNet, CancellationPredictor, CustomerHistory,
    CustomerTable, DriftReference, EncodedLine, OrderAggregation, PredictedOutcome, RiskThresholds,
};
use shopml_core::features::{float_matrix, index_matrix, to_f32_vec};
use shopml_core::models::{Backtest, Better, Candidate};
use shopml_core::outcome_rates::{Observation, RateTable};
use std::collections::HashMap;

pub struct TrainedCancellation {
    pub model: CancellationModel,
    pub model_config: CancellationModelConfig,
    pub encoder: CancellationEncoder,
    pub calibration: CancellationCalibration,
    /// The validation split's distributions of each input and of the score.
    pub reference: DriftReference,
    pub metrics: CancellationMetrics,
    /// Test labels and calibrated probabilities of what serves (for the report's curves).
    pub test_labels: Vec<bool>,
    pub test_probabilities: Vec<f64>,
    /// The baseline that serves in the model's place, when one scored better on validation.
    pub baseline: Option<CheckoutBaseline>,
}

#[derive(Debug, thiserror::Error)]
pub enum CancellationError {
    #[error("cancellation: {0}")]
    NotEnoughData(String),
}

/// The outcome the order model learns from `sales` under `[outcomes] predict`, or why there
/// is none to learn.
pub fn outcome_to_predict(sales: &Sales, predict: Predict) -> Result<PredictedOutcome, String> {
    let cancelled = sales.lines.iter().any(|l| l.outcome == Outcome::Cancelled);
    let returned = sales.lines.iter().any(|l| l.outcome.is_returned());
    match (predict, cancelled, returned) {
        (Predict::Cancellation | Predict::Auto, true, _) => Ok(PredictedOutcome::Cancellation),
        (Predict::Return | Predict::Auto, _, true) => Ok(PredictedOutcome::Return),
        (Predict::Cancellation, false, _) => {
            Err("no line is cancelled under [outcomes] (cancelled statuses or prefixes)".to_owned())
        }
        _ => Err(format!(
            "no line is {} under [outcomes] (statuses, or return lines matched to a sale of the same customer and product){}",
            if predict == Predict::Return { "returned" } else { "cancelled or returned" },
            match sales.report.return_lines {
                0 => String::new(),
                n => format!("; {n} return lines are netted out of revenue, not modelled"),
            }
        )),
    }
}

/// The customer's history before each line's order, with no look-ahead past the order's day:
/// earlier orders are those of earlier days; an earlier order counts as cancelled (its
/// cancellation known by the next day), return lines count from their own day, and a return
/// known only from an order's status counts once the order is 30 days old. `None` for every
/// line when the export has no customer ids, and for lines without one.
pub fn customer_histories(sales: &Sales) -> Vec<Option<CustomerHistory>> {
    let n = sales.lines.len();
    if !sales.has(SalesField::CustomerId) {
        return vec![None; n];
    }
    let timeline = CustomerTimeline::of(sales);
    sales.lines.iter().map(|l| timeline.before(&l.customer_id, l.date)).collect()
}

/// Each known customer's history at the end of the export (what serving reads).
pub fn customer_table(sales: &Sales) -> CustomerTable {
    if !sales.has(SalesField::CustomerId) {
        return CustomerTable::default();
    }
    let Some(last) = sales.lines.iter().map(|l| l.date).max() else {
        return CustomerTable::default();
    };
    let timeline = CustomerTimeline::of(sales);
    let after_last = last + chrono::Duration::days(1);
    CustomerTable {
        as_of: Some(last),
        customers: timeline
            .customers
            .keys()
            .filter_map(|c| timeline.before(c, after_last).map(|h| ((*c).to_owned(), h)))
            .collect(),
    }
}

/// Days after which a return known only from an order's status counts as known.
const STATUS_RETURN_KNOWN_AFTER_DAYS: i64 = 30;

/// A customer's orders and return events, by day.
#[derive(Default)]
struct Timeline {
    /// (day, has a cancelled line, returned by its status), sorted by day.
    orders: Vec<(chrono::NaiveDate, bool, bool)>,
    /// Days of return lines, sorted.
    returns: Vec<chrono::NaiveDate>,
}

struct CustomerTimeline<'a> {
    customers: HashMap<&'a str, Timeline>,
}

impl<'a> CustomerTimeline<'a> {
    fn of(sales: &'a Sales) -> Self {
        let mut orders: HashMap<(&str, &str), (chrono::NaiveDate, bool, bool)> = HashMap::new();
        let mut customers: HashMap<&str, Timeline> = HashMap::new();
        for l in sales.lines.iter().filter(|l| !l.customer_id.is_empty()) {
            if l.outcome == Outcome::ReturnLine {
                customers.entry(&l.customer_id).or_default().returns.push(l.date);
                continue;
            }
            let order =
                orders.entry((&l.customer_id, &l.order_id)).or_insert((l.date, false, false));
            order.0 = order.0.min(l.date);
            order.1 |= l.outcome == Outcome::Cancelled;
            order.2 |= l.outcome == Outcome::Returned;
        }
        for ((customer, _), order) in orders {
            customers.entry(customer).or_default().orders.push(order);
        }
        for timeline in customers.values_mut() {
            timeline.orders.sort_by_key(|o| (o.0, o.1, o.2));
            timeline.returns.sort();
        }
        Self { customers }
    }

    /// The customer's history before `day`; `None` for an unknown (or empty) customer id.
    fn before(&self, customer: &str, day: chrono::NaiveDate) -> Option<CustomerHistory> {
        let timeline = self.customers.get(customer)?;
        let earlier = &timeline.orders[..timeline.orders.partition_point(|o| o.0 < day)];
        let known_returned = earlier
            .iter()
            .filter(|o| o.2 && (day - o.0).num_days() >= STATUS_RETURN_KNOWN_AFTER_DAYS)
            .count();
        Some(CustomerHistory {
            orders: earlier.len() as u32,
            cancelled_orders: earlier.iter().filter(|o| o.1).count() as u32,
            returns: (timeline.returns.partition_point(|d| *d < day) + known_returned) as u32,
            first_order_date: earlier.first().map(|o| o.0),
            last_order_date: earlier.last().map(|o| o.0),
        })
    }
}

/// The mini-batch loop of one model.
struct Trainer<'a> {
    config: &'a CancellationModelConfig,
    settings: &'a CancellationSettings,
    positive_weight: f64,
    unknown_index: &'a [u32],
}

impl Trainer<'_> {
    /// Trains a fresh net (seeded with `seed`) on `data` for up to `epochs` epochs; after each,
    /// `after_epoch` gets the validation-mode net and returns whether to go on. Returns epochs
    /// run.
    fn run(
        &self,
        data: &Encoded,
        epochs: usize,
        seed: u64,
        mut after_epoch: impl FnMut(usize, CancellationNet) -> bool,
    ) -> usize {
        let settings = self.settings;
        let device = Device::flex().autodiff();
        device.seed(seed);
        let mut model = self.config.init_net(&device);
        let mut optimizer =
            AdamWConfig::new().with_weight_decay(settings.weight_decay as f32).init();
        let mut random = rng(seed);
        for epoch in 1..=epochs {
            for batch in shuffled(data.rows.len(), &mut random).chunks(settings.batch_size) {
                let shape = (self.config.n_categorical, self.config.n_numeric);
                let (categorical, numeric) = gather(
                    batch.iter().map(|&i| &data.rows[i]),
                    shape,
                    Some(settings.unknown_dropout),
                    &mut random,
                    self.unknown_index,
                );
                let n = batch.len();
                let targets: Vec<f32> =
                    batch.iter().map(|&i| data.labels[i] as u8 as f32).collect();
                let weights: Vec<f32> = batch
                    .iter()
                    .map(|&i| if data.labels[i] { self.positive_weight as f32 } else { 1.0 })
                    .collect();
                let z = model.forward(
                    index_matrix(categorical, n, shape.0, &device),
                    float_matrix(numeric, n, shape.1, &device),
                );
                let y = Tensor::<1>::from_floats(targets.as_slice(), &device);
                let w = Tensor::<1>::from_floats(weights.as_slice(), &device);
                // Weighted binary cross-entropy on logits: softplus(z) − y·z.
                let loss = ((softplus(z.clone(), 1.0) - y * z) * w).sum() / (n as f64);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(settings.learning_rate, model, grads);
            }
            if !after_epoch(epoch, model.valid()) {
                return epoch;
            }
        }
        epochs
    }
}

/// Rows with a known outcome and their labels. Cancellation: cancelled or not (a returned
/// line was not cancelled at checkout). Return: returned or not, of the lines that were not
/// cancelled. Pending lines and return lines have no outcome.
pub fn labelled(sales: &Sales, outcome: PredictedOutcome) -> Vec<(usize, bool)> {
    sales
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            matches!(
                l.outcome,
                Outcome::Sold | Outcome::Cancelled | Outcome::Returned | Outcome::ReturnedLater
            ) && !(outcome == PredictedOutcome::Return && l.outcome == Outcome::Cancelled)
        })
        .map(|(i, l)| {
            let label = match outcome {
                PredictedOutcome::Cancellation => l.outcome == Outcome::Cancelled,
                PredictedOutcome::Return => l.outcome.is_returned(),
            };
            (i, label)
        })
        .collect()
}

struct Encoded {
    rows: Vec<EncodedLine>,
    labels: Vec<bool>,
    orders: Vec<usize>,
}

/// What the model reads of line `i`: its checkout view with the customer's history before it.
fn checkout<'a>(
    sales: &'a Sales,
    histories: &[Option<CustomerHistory>],
    i: usize,
) -> shopml_core::cancellation::CheckoutLine<'a> {
    sales.checkout_line(&sales.lines[i], histories[i])
}

fn encode(
    encoder: &CancellationEncoder,
    sales: &Sales,
    histories: &[Option<CustomerHistory>],
    rows: &[(usize, bool)],
) -> Encoded {
    let mut order_index: HashMap<&str, usize> = HashMap::new();
    let mut orders = Vec::with_capacity(rows.len());
    for (i, _) in rows {
        let next = order_index.len();
        orders.push(*order_index.entry(&*sales.lines[*i].order_id).or_insert(next));
    }
    Encoded {
        rows: rows.iter().map(|(i, _)| encoder.encode(&checkout(sales, histories, *i))).collect(),
        labels: rows.iter().map(|(_, y)| *y).collect(),
        orders,
    }
}

/// Raw log-odds of one net (no calibration) for encoded rows.
fn net_logits(net: &CancellationNet, rows: &[EncodedLine], device: &Device) -> Vec<f64> {
    logits(&CancellationModel::from_members(vec![net.clone()]), rows, device)
}

/// Raw log-odds of the model (no calibration) for encoded rows, in chunks.
fn logits(model: &CancellationModel, rows: &[EncodedLine], device: &Device) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len());
    let shape = model.input_shape();
    for chunk in rows.chunks(8192) {
        let (categorical, numeric) = gather(chunk.iter(), shape, None, &mut rng(0), &[]);
        let z = model.forward(
            index_matrix(categorical, chunk.len(), shape.0, device),
            float_matrix(numeric, chunk.len(), shape.1, device),
        );
        out.extend(to_f32_vec(z).into_iter().map(f64::from));
    }
    out
}

/// Flattens rows into model inputs; with `unknown_dropout`, each categorical input is replaced
/// by its field's unknown index with that probability.
fn gather<'r>(
    rows: impl Iterator<Item = &'r EncodedLine>,
    (fields, numbers): (usize, usize),
    unknown_dropout: Option<f64>,
    rng: &mut SeededRng,
    unknown_index: &[u32],
) -> (Vec<i64>, Vec<f32>) {
    let mut categorical = Vec::new();
    let mut numeric = Vec::new();
    for row in rows {
        for (field, &index) in row.categorical[..fields].iter().enumerate() {
            let index = match unknown_dropout {
                Some(p) if p > 0.0 && rng.random::<f64>() < p => unknown_index[field],
                _ => index,
            };
            categorical.push(index as i64);
        }
        numeric.extend_from_slice(&row.numeric[..numbers]);
    }
    (categorical, numeric)
}

fn order_level(
    orders: &[usize],
    labels: &[bool],
    probabilities: &[f64],
    aggregation: OrderAggregation,
) -> (Vec<bool>, Vec<f64>) {
    let count = orders.iter().max().map_or(0, |m| m + 1);
    let mut label = vec![false; count];
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); count];
    for ((&o, &y), &p) in orders.iter().zip(labels).zip(probabilities) {
        label[o] |= y;
        members[o].push(p);
    }
    let probability = members.into_iter().map(|m| aggregation.combine(m.into_iter())).collect();
    (label, probability)
}

pub fn train(
    sales: &Sales,
    outcome: PredictedOutcome,
    split: &Split,
    settings: &CancellationSettings,
    seed: u64,
    stage: &Stage,
) -> Result<TrainedCancellation, CancellationError> {
    let rows = labelled(sales, outcome);
    let histories = customer_histories(sales);
    let date = |i: usize| sales.lines[i].date;
    let validation_from =
        split.cancellation_test_from - chrono::Duration::days(split.cancellation_validation_days);
    let (train_rows, test_rows): (Vec<_>, Vec<_>) =
        rows.iter().partition(|(i, _)| date(*i) < split.cancellation_test_from);
    let (fit_rows, validation_rows): (Vec<_>, Vec<_>) =
        train_rows.iter().partition(|(i, _)| date(*i) < validation_from);
    for (name, set) in
        [("training", &fit_rows), ("validation", &validation_rows), ("test", &test_rows)]
    {
        let positives = set.iter().filter(|(_, y)| *y).count();
        if positives == 0 || positives == set.len() {
            return Err(CancellationError::NotEnoughData(format!(
                "the {name} split has {} lines and {positives} with the outcome ({}); both classes are needed (check split.cancellation_test_from)",
                set.len(),
                outcome.name()
            )));
        }
    }
    // Fitted on the whole training split (protocol: the SKU's median over the training split).
    let lines: Vec<_> = train_rows.iter().map(|(i, _)| checkout(sales, &histories, *i)).collect();
    let mut encoder = CancellationEncoder::fit(&sales.input_schema(), &lines, settings.min_count);
    drop(lines);
    let fit = encode(&encoder, sales, &histories, &fit_rows);
    let validation = encode(&encoder, sales, &histories, &validation_rows);
    let test = encode(&encoder, sales, &histories, &test_rows);
    if encoder.reads_customer_history() {
        encoder.customers = customer_table(sales);
    }

    let positives = fit.labels.iter().filter(|&&y| y).count() as f64;
    let positive_weight = if settings.positive_weight > 0.0 {
        settings.positive_weight
    } else {
        ((fit.labels.len() as f64 - positives) / positives).sqrt()
    };
    let model_config = CancellationModelConfig::new(
        encoder.vocab_size(),
        encoder.n_categorical(),
        encoder.n_numeric(),
    )
    .with_embedding_dim(settings.embedding_dim)
    .with_hidden_dim(settings.hidden_dim)
    .with_dropout(settings.dropout)
    .with_ensemble_size(settings.ensemble_size);
    let plain = Device::flex();
    let unknown_index: Vec<u32> =
        (0..encoder.n_categorical()).map(|f| encoder.unknown_index(f)).collect();
    let trainer =
        Trainer { config: &model_config, settings, positive_weight, unknown_index: &unknown_index };

    // Each member stops early on the validation slice; the ensemble is then calibrated there.
    let mut members = Vec::new();
    let mut best_epochs = Vec::new();
    let mut epochs_trained = 0;
    stage.set_length((settings.ensemble_size * settings.max_epochs) as u64);
    for member in 0..settings.ensemble_size {
        let mut stopping = EarlyStopping::new(settings.patience);
        epochs_trained +=
            trainer.run(&fit, settings.max_epochs, member_seed(seed, member), |epoch, net| {
                let z = net_logits(&net, &validation.rows, &plain);
                let (_, calibrated) = platt_calibrated(&z, &validation.labels);
                let loss = metrics::log_loss(&validation.labels, &calibrated);
                stage.tick(format!(
                    "member {member} epoch {epoch}: validation log-loss {loss:.4}, ROC-AUC {:.4}",
                    metrics::roc_auc(&validation.labels, &calibrated)
                ));
                stopping.offer(epoch, loss, net)
            });
        let (_, best_epoch, net) = stopping.into_best();
        best_epochs.push(best_epoch);
        members.push(net);
    }
    let model = CancellationModel::from_members(members);
    let validation_logits = logits(&model, &validation.rows, &plain);
    let ((platt_a, platt_b), validation_p) =
        platt_calibrated(&validation_logits, &validation.labels);
    let validation_log_loss = metrics::log_loss(&validation.labels, &validation_p);
    let model = if settings.refit_on_all_training_days {
        // The validation days are the most recent ones and the signal drifts: retrain each
        // member on all training days for the epochs early stopping chose; the calibration
        // stays the one fitted on the held-out validation slice.
        let all = Encoded {
            rows: fit.rows.iter().chain(&validation.rows).cloned().collect(),
            labels: fit.labels.iter().chain(&validation.labels).copied().collect(),
            orders: Vec::new(),
        };
        let refit = best_epochs
            .iter()
            .enumerate()
            .map(|(member, &epochs)| {
                let mut last = None;
                trainer.run(&all, epochs, member_seed(seed, member), |_, net| {
                    last = Some(net);
                    true
                });
                last.expect("at least one epoch ran")
            })
            .collect();
        CancellationModel::from_members(refit)
    } else {
        model
    };

    // Calibration, thresholds and order aggregation, all chosen on the validation slice.
    let validation_rate =
        validation.labels.iter().filter(|&&y| y).count() as f64 / validation.labels.len() as f64;
    let order_aggregation = [OrderAggregation::Independent, OrderAggregation::Max]
        .into_iter()
        .min_by(|&a, &b| {
            let loss = |agg| {
                let (y, p) =
                    order_level(&validation.orders, &validation.labels, &validation_p, agg);
                metrics::log_loss(&y, &p)
            };
            loss(a).total_cmp(&loss(b))
        })
        .expect("two candidates");
    let calibration = CancellationCalibration {
        outcome,
        platt_a,
        platt_b,
        risk_thresholds: RiskThresholds {
            low_below: validation_rate,
            high_from: quantile(&validation_p, 0.9).max(validation_rate),
        },
        order_aggregation,
    };

    // Test figures through the serving predictor itself.
    let predictor = CancellationPredictor::new(encoder.clone(), model.clone(), calibration.clone());
    let model_test_p = predictor.line_probabilities(&test.rows);
    let sets = Sets { fit: &fit_rows, train: &train_rows, test: &test_rows };
    let (backtest, baseline, test_p) = backtest(
        sales,
        outcome,
        &sets,
        (&validation_logits, &validation.labels),
        &test.labels,
        model_test_p,
    );
    // What serving's drift figures compare against: the inputs and scores of the validation
    // days, the most recent the model was checked on.
    let reference = DriftReference::fit(
        &encoder,
        &validation.rows,
        &predictor.line_probabilities(&validation.rows),
        format!(
            "validation split, {validation_from} to {}",
            split.cancellation_test_from - chrono::Duration::days(1)
        ),
    );
    let train_rate = train_rows.iter().filter(|(_, y)| *y).count() as f64 / train_rows.len() as f64;
    let constant = vec![train_rate; test.labels.len()];
    let (order_y, order_p) = order_level(&test.orders, &test.labels, &test_p, order_aggregation);
    let metrics = CancellationMetrics {
        outcome,
        roc_auc: metrics::roc_auc(&test.labels, &test_p),
        pr_auc: metrics::average_precision(&test.labels, &test_p),
        brier: metrics::brier(&test.labels, &test_p),
        log_loss: metrics::log_loss(&test.labels, &test_p),
        constant_brier: metrics::brier(&test.labels, &constant),
        constant_log_loss: metrics::log_loss(&test.labels, &constant),
        test_rows: test.labels.len(),
        test_positive_rate: test.labels.iter().filter(|&&y| y).count() as f64
            / test.labels.len() as f64,
        train_rows: train_rows.len(),
        validation_rows: validation.labels.len(),
        validation_roc_auc: metrics::roc_auc(&validation.labels, &validation_p),
        validation_log_loss,
        best_epochs,
        epochs_trained,
        positive_weight,
        order_aggregation,
        order_roc_auc: metrics::roc_auc(&order_y, &order_p),
        order_log_loss: metrics::log_loss(&order_y, &order_p),
        order_brier: metrics::brier(&order_y, &order_p),
        order_pr_auc: metrics::average_precision(&order_y, &order_p),
        test_orders: order_y.len(),
        customer_history: encoder.reads_customer_history(),
        backtest: Some(backtest),
    };
    Ok(TrainedCancellation {
        model,
        model_config,
        encoder,
        calibration,
        reference,
        metrics,
        test_labels: test.labels,
        test_probabilities: test_p,
        baseline,
    })
}

/// The labelled lines of the protocol's sets: the fit days, all training days (fit and
/// validation), the test days.
struct Sets<'r> {
    fit: &'r [(usize, bool)],
    train: &'r [(usize, bool)],
    test: &'r [(usize, bool)],
}

/// Log-loss of the model's validation log-odds with Platt scaling fitted on the other half of
/// the validation days (each half in turn): the model's calibration is fitted on those days,
/// and a figure on the lines it was fitted on would favour it over the baselines.
fn cross_fitted_log_loss(logits: &[f64], labels: &[bool]) -> f64 {
    let half = logits.len() / 2;
    let (first, second) = ((0..half), (half..logits.len()));
    let mut probabilities = vec![0.0; logits.len()];
    for (fit_on, apply_to) in [(first.clone(), second.clone()), (second, first)] {
        let (a, b) = crate::fit::fit_platt(&logits[fit_on.clone()], &labels[fit_on]);
        for i in apply_to {
            probabilities[i] = shopml_core::features::sigmoid(a * logits[i] + b);
        }
    }
    metrics::log_loss(labels, &probabilities)
}

/// The model against its baselines — every line at the training rate, each line at its
/// product's (or category's) rate — by log-loss on the validation days (baselines fitted on
/// the fit days, the model's calibration cross-fitted), then on the test days (baselines refit
/// on every training day). Returns the backtest, the baseline that serves if one wins, and the
/// test probabilities of what serves.
fn backtest(
    sales: &Sales,
    outcome: PredictedOutcome,
    sets: &Sets<'_>,
    (validation_logits, validation_labels): (&[f64], &[bool]),
    test_labels: &[bool],
    model_test_p: Vec<f64>,
) -> (Backtest, Option<CheckoutBaseline>, Vec<f64>) {
    let validation: Vec<(usize, bool)> = {
        let fit: std::collections::HashSet<usize> = sets.fit.iter().map(|(i, _)| *i).collect();
        sets.train.iter().filter(|(i, _)| !fit.contains(i)).copied().collect()
    };
    let rate_of = |rows: &mut dyn Iterator<Item = &(usize, bool)>| {
        let (n, k) = rows.fold((0usize, 0usize), |(n, k), (_, y)| (n + 1, k + usize::from(*y)));
        k as f64 / n.max(1) as f64
    };
    let table_of = |rows: &mut dyn Iterator<Item = &(usize, bool)>| {
        let lines = rows.map(|&(i, outcome)| Observation {
            category: &sales.lines[i].category,
            product: &sales.lines[i].product_id,
            outcome,
        });
        RateTable::fit(outcome, lines, 0.9, 20)
    };
    let by_table = |table: &RateTable, rows: &[(usize, bool)]| -> Vec<f64> {
        rows.iter()
            .map(|(i, _)| table.rate(&sales.lines[*i].category, &sales.lines[*i].product_id).0.rate)
            .collect()
    };
    let fit_rate = rate_of(&mut sets.fit.iter());
    let fit_table = table_of(&mut sets.fit.iter());
    let constant = CheckoutBaseline::Constant { rate: rate_of(&mut sets.train.iter()) };
    let category = CheckoutBaseline::CategoryRate { table: table_of(&mut sets.train.iter()) };
    let test_of = |baseline: &CheckoutBaseline| -> Vec<f64> {
        match baseline {
            CheckoutBaseline::Constant { rate } => vec![*rate; sets.test.len()],
            CheckoutBaseline::CategoryRate { table } => by_table(table, sets.test),
        }
    };
    let (constant_test, category_test) = (test_of(&constant), test_of(&category));
    let loss = metrics::log_loss;
    let candidates = vec![
        Candidate {
            name: baseline::MODEL.into(),
            baseline: false,
            validation: cross_fitted_log_loss(validation_logits, validation_labels),
            test: loss(test_labels, &model_test_p),
        },
        Candidate {
            name: baseline::CONSTANT.into(),
            baseline: true,
            validation: loss(validation_labels, &vec![fit_rate; validation.len()]),
            test: loss(test_labels, &constant_test),
        },
        Candidate {
            name: baseline::CATEGORY_RATE.into(),
            baseline: true,
            validation: loss(validation_labels, &by_table(&fit_table, &validation)),
            test: loss(test_labels, &category_test),
        },
    ];
    let backtest = Backtest::choose("", "log_loss", Better::Lower, candidates);
    match backtest.served.as_str() {
        baseline::CONSTANT => (backtest, Some(constant), constant_test),
        baseline::CATEGORY_RATE => (backtest, Some(category), category_test),
        _ => (backtest, None, model_test_p),
    }
}
