//! Training and evaluation of the price model on the protocol of `../shared/EVALUATION.md` §2.

use super::PriceSettings;
use super::baselines;
use crate::config::Split;
use crate::data::products::Product;
use crate::fit::{EarlyStopping, in_validation_slice, member_seed, quantile, rng, shuffled};
use crate::metrics;
use crate::progress::Stage;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use rand::RngExt;
use shopml_core::features::bag::TokenBatch;
use shopml_core::features::float_matrix;
use shopml_core::models::{Backtest, Better, Candidate};
use shopml_core::price::baseline::{self, PriceBaseline};
use shopml_core::price::features::{EncodedProduct, N_NUMERIC};
use shopml_core::price::{
    PriceCalibration, PriceEncoder, PriceMetrics, PriceModel, PriceModelConfig, PriceNet,
    PricePredictor, ProductInput,
};

pub struct TrainedPrice {
    pub model: PriceModel,
    pub model_config: PriceModelConfig,
    pub encoder: PriceEncoder,
    pub calibration: PriceCalibration,
    pub metrics: PriceMetrics,
    /// The test products' predicted ÷ list price, for the server's drift figures.
    pub reference: shopml_core::drift::ScoreReference,
    /// Test (actual, predicted) selling prices, for the report.
    pub test_prices: Vec<(f64, f64)>,
    /// ISO 4217 code of the prices.
    pub currency: String,
    /// The baseline that serves in the model's place, when one scored better on validation.
    pub baseline: Option<PriceBaseline>,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("price: {0}")]
    NotEnoughData(String),
}

/// Products with both prices, as model inputs with their target ln(selling price).
fn usable(products: &[Product]) -> Vec<(&Product, ProductInput<'_>, f64)> {
    products
        .iter()
        .filter_map(|p| {
            let (selling, list) = (p.discounted_price?, p.actual_price?);
            (selling > 0.0 && list > 0.0).then(|| {
                let input = ProductInput {
                    name: &p.name,
                    category_path: &p.category_path,
                    list_price: list,
                    rating: p.rating,
                    rating_count: p.rating_count,
                };
                (p, input, selling.ln())
            })
        })
        .collect()
}

const QUANTILES: [f32; 3] = [0.1, 0.5, 0.9];

struct Rows {
    encoded: Vec<EncodedProduct>,
    /// ln(selling / list)
    targets: Vec<f32>,
}

fn net_quantiles(net: &PriceNet, rows: &Rows, device: &Device) -> Vec<[f64; 3]> {
    let batch =
        TokenBatch::new(rows.encoded.iter().map(|e| (e.tokens.as_slice(), e.weights.as_slice())));
    let (tokens, weights) = batch.tensors(device);
    let numeric = float_matrix(
        rows.encoded.iter().flat_map(|e| e.numeric).collect(),
        rows.encoded.len(),
        N_NUMERIC,
        device,
    );
    shopml_core::features::to_f32_vec(net.forward(tokens, weights, numeric))
        .chunks(3)
        .map(|q| [q[0] as f64, q[1] as f64, q[2] as f64])
        .collect()
}

fn pinball(targets: &[f32], quantiles: &[[f64; 3]]) -> f64 {
    metrics::mean(targets.iter().zip(quantiles).flat_map(|(&y, q)| {
        QUANTILES.iter().zip(q).map(move |(&tau, &p)| {
            let d = y as f64 - p;
            (tau as f64 * d).max((tau as f64 - 1.0) * d)
        })
    }))
}

fn train_net(
    config: &PriceModelConfig,
    settings: &PriceSettings,
    rows: &Rows,
    epochs: usize,
    seed: u64,
    mut after_epoch: impl FnMut(usize, PriceNet) -> bool,
) {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let mut net = config.init_net(&device);
    let mut optimizer = AdamWConfig::new().with_weight_decay(settings.weight_decay as f32).init();
    let mut random = rng(seed);
    let tau = Tensor::<1>::from_floats(QUANTILES.as_slice(), &device).reshape([1, 3]);
    for epoch in 1..=epochs {
        for batch in shuffled(rows.encoded.len(), &mut random).chunks(settings.batch_size) {
            let n = batch.len();
            // Token dropout: each token is left out with probability `token_dropout`.
            let kept: Vec<(Vec<u32>, Vec<f32>)> = batch
                .iter()
                .map(|&i| {
                    let e = &rows.encoded[i];
                    e.tokens
                        .iter()
                        .zip(&e.weights)
                        .filter(|_| random.random::<f64>() >= settings.token_dropout)
                        .unzip()
                })
                .collect();
            let bags = TokenBatch::new(kept.iter().map(|(t, w)| (t.as_slice(), w.as_slice())));
            let (tokens, weights) = bags.tensors(&device);
            let numeric = float_matrix(
                batch.iter().flat_map(|&i| rows.encoded[i].numeric).collect(),
                n,
                N_NUMERIC,
                &device,
            );
            let targets: Vec<f32> = batch.iter().map(|&i| rows.targets[i]).collect();
            let y = Tensor::<1>::from_floats(targets.as_slice(), &device).reshape([n, 1]);
            let q = net.forward(tokens, weights, numeric);
            // Pinball (quantile) loss of the three quantiles.
            let d = y - q;
            let loss = (d.clone() * tau.clone()).max_pair(d * (tau.clone() - 1.0)).mean();
            // Ridge penalty on the token weights, scaled per training example.
            let loss = loss
                + net.token_weight_penalty() * (settings.l2_penalty / rows.encoded.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(settings.learning_rate, net, grads);
        }
        if !after_epoch(epoch, net.valid()) {
            return;
        }
    }
}

/// A product with both prices: its input and ln(selling price).
type Row<'a> = (&'a Product, ProductInput<'a>, f64);

pub fn train(
    products: &[Product],
    split: &Split,
    settings: &PriceSettings,
    seed: u64,
    stage: &Stage,
) -> Result<TrainedPrice, PriceError> {
    let rows = usable(products);
    let is_test = |id: &str| crate::fit::in_test(id, split.product_test_modulo);
    let (train_rows, test_rows): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
        rows.iter().partition(|(p, ..)| !is_test(&p.product_id));
    let (validation_rows, fit_rows): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
        train_rows.iter().copied().partition(|row| {
            in_validation_slice(
                &row.0.product_id,
                settings.validation_modulo,
                settings.validation_slice,
            )
        });
    if fit_rows.len() < 20 || validation_rows.is_empty() || test_rows.is_empty() {
        return Err(PriceError::NotEnoughData(format!(
            "{} training, {} validation and {} test products with both prices",
            fit_rows.len(),
            validation_rows.len(),
            test_rows.len()
        )));
    }
    let inputs: Vec<ProductInput<'_>> = train_rows.iter().map(|(_, input, _)| *input).collect();
    let encoder = PriceEncoder::fit(&inputs, settings.min_count);
    let to_rows = |set: &[&Row<'_>]| Rows {
        encoded: set.iter().map(|(_, input, _)| encoder.encode(input)).collect(),
        targets: set.iter().map(|(_, input, y)| (*y - input.list_price.ln()) as f32).collect(),
    };
    let fit = to_rows(&fit_rows);
    let validation = to_rows(&validation_rows);
    let all_train = to_rows(&train_rows);

    let model_config = PriceModelConfig::new(encoder.vocab_size(), N_NUMERIC)
        .with_embedding_dim(settings.embedding_dim)
        .with_hidden_dim(settings.hidden_dim)
        .with_dropout(settings.dropout)
        .with_ensemble_size(settings.ensemble_size);
    let plain = Device::flex();
    stage.set_length(settings.ensemble_size as u64 * 2);
    let mut best_epochs = Vec::new();
    let mut validation_members = Vec::new();
    // Pinball loss on the validation products (what early stopping minimises).
    let validation_loss =
        |net: &PriceNet| pinball(&validation.targets, &net_quantiles(net, &validation, &plain));
    for member in 0..settings.ensemble_size {
        let (mut stopping, epochs) = EarlyStopping::with_budget(
            settings.fixed_epochs,
            settings.max_epochs,
            settings.patience,
        );
        train_net(
            &model_config,
            settings,
            &fit,
            epochs,
            member_seed(seed, member),
            |epoch, net| stopping.offer_with(epoch, net, validation_loss),
        );
        let (loss, best_epoch, net) = stopping.into_kept(validation_loss);
        stage.tick(format!(
            "member {member}: epoch {best_epoch} kept, validation pinball loss {loss:.4}"
        ));
        best_epochs.push(best_epoch);
        validation_members.push(net);
    }
    // Conformal calibration of the range on the validation products: the scale of the
    // half-widths that puts `interval_target` of them inside.
    let validation_model = PriceModel::from_members(validation_members);
    let validation_predictor = PricePredictor::new(
        encoder.clone(),
        validation_model,
        PriceCalibration { interval_scale: 1.0 },
    );
    let validation_quantiles = validation_predictor.log_ratio_quantiles(&validation.encoded);
    let needed: Vec<f64> = validation_quantiles
        .iter()
        .zip(&validation.targets)
        .map(|(q, &y)| {
            let y = y as f64;
            if y < q[1] {
                (q[1] - y) / (q[1] - q[0]).max(1e-9)
            } else {
                (y - q[1]) / (q[2] - q[1]).max(1e-9)
            }
        })
        .collect();
    let calibration =
        PriceCalibration { interval_scale: quantile(&needed, settings.interval_target).max(1e-3) };
    // The validation products' point errors from the same pass: ln(price) = ln(list) + median.
    let validation_log: Vec<f64> = validation_rows.iter().map(|(.., y)| *y).collect();
    let predicted_log: Vec<f64> = validation_quantiles
        .iter()
        .zip(&validation.encoded)
        .map(|(q, e)| e.log_list_price + q[1])
        .collect();
    let exp = |v: &[f64]| v.iter().map(|y| y.exp()).collect::<Vec<_>>();
    let validation_r2_log = metrics::r2(&validation_log, &predicted_log);
    let validation_mape_pct = metrics::mape_pct(&exp(&validation_log), &exp(&predicted_log));

    // Refit every member on all training products for the epochs early stopping chose.
    let members: Vec<PriceNet> = best_epochs
        .iter()
        .enumerate()
        .map(|(member, &epochs)| {
            let mut last = None;
            train_net(
                &model_config,
                settings,
                &all_train,
                epochs,
                member_seed(seed, member),
                |_, net| {
                    last = Some(net);
                    true
                },
            );
            stage.tick(format!(
                "member {member}: refit on all training products for {epochs} epochs"
            ));
            last.expect("at least one epoch ran")
        })
        .collect();
    let model = PriceModel::from_members(members);
    let test_inputs: Vec<ProductInput<'_>> = test_rows.iter().map(|(_, input, _)| *input).collect();
    let actual_log: Vec<f64> = test_rows.iter().map(|(.., y)| *y).collect();
    let serve = |baseline: Option<PriceBaseline>| {
        PricePredictor::new(encoder.clone(), model.clone(), calibration.clone())
            .with_baseline(baseline)
    };
    let (backtest, baseline) = backtest(
        &encoder,
        (&fit_rows, &validation_rows, &train_rows),
        validation_r2_log,
        |baseline| {
            let predicted: Vec<f64> =
                serve(baseline).predict(&test_inputs).iter().map(|p| p.price.ln()).collect();
            metrics::r2(&actual_log, &predicted)
        },
    );
    let predictor = serve(baseline.clone());
    let predictions = predictor.predict(&test_inputs);
    let predicted_log: Vec<f64> = predictions.iter().map(|p| p.price.ln()).collect();
    let actual: Vec<f64> = actual_log.iter().map(|y| y.exp()).collect();
    let predicted: Vec<f64> = predictions.iter().map(|p| p.price).collect();
    let ratios: Vec<f64> =
        predictions.iter().zip(&test_inputs).map(|(p, input)| p.price / input.list_price).collect();
    let reference = shopml_core::drift::ScoreReference::fit(
        &ratios,
        "predicted / list price",
        format!("test split, {} products", test_inputs.len()),
    );
    let metrics = PriceMetrics {
        r2_log: metrics::r2(&actual_log, &predicted_log),
        r2: metrics::r2(&actual, &predicted),
        mae: metrics::mae(&actual, &predicted),
        mae_inr: None,
        mape_pct: metrics::mape_pct(&actual, &predicted),
        interval_coverage: metrics::coverage(
            &actual,
            &predictions.iter().map(|p| p.p10).collect::<Vec<_>>(),
            &predictions.iter().map(|p| p.p90).collect::<Vec<_>>(),
        ),
        test_products: test_rows.len(),
        train_products: train_rows.len(),
        validation_products: validation_rows.len(),
        best_epochs,
        interval_scale: calibration.interval_scale,
        validation_r2_log,
        validation_mape_pct,
        backtest: Some(backtest),
    };
    Ok(TrainedPrice {
        model,
        model_config,
        encoder,
        calibration,
        metrics,
        reference,
        test_prices: actual.into_iter().zip(predicted).collect(),
        currency: String::new(),
        baseline,
    })
}

/// The baselines' training examples of `set` (encoded as `encoded`).
fn as_examples<'a>(
    set: &[&'a Row<'a>],
    encoded: &'a [EncodedProduct],
) -> Vec<baselines::Example<'a, 'a>> {
    set.iter()
        .zip(encoded)
        .map(|((_, input, y), encoded)| baselines::Example {
            input,
            encoded,
            log_ratio: *y - input.list_price.ln(),
        })
        .collect()
}

/// The model against its baselines — its category's median discount, a ridge regression on
/// the same inputs (its penalty chosen on the validation products) — by R² of ln(price) on
/// the validation products (baselines fitted on the fit products), then on the test products
/// (baselines refit on every training product, their range from their validation residuals).
/// `test_r2_log` scores what a baseline (None: the model) predicts for the test products.
fn backtest<'r>(
    encoder: &PriceEncoder,
    (fit, validation, train): (&[&'r Row<'r>], &[&'r Row<'r>], &[&'r Row<'r>]),
    model_validation_r2_log: f64,
    test_r2_log: impl Fn(Option<PriceBaseline>) -> f64,
) -> (Backtest, Option<PriceBaseline>) {
    let encode = |set: &[&Row<'_>]| -> Vec<EncodedProduct> {
        set.iter().map(|(_, input, _)| encoder.encode(input)).collect()
    };
    let (fit_encoded, validation_encoded, train_encoded) =
        (encode(fit), encode(validation), encode(train));
    let fit_examples = as_examples(fit, &fit_encoded);
    let validation_examples = as_examples(validation, &validation_encoded);
    let train_examples = as_examples(train, &train_encoded);
    let r2_on_validation = |b: &PriceBaseline| {
        let actual: Vec<f64> = validation.iter().map(|(.., y)| *y).collect();
        let predicted: Vec<f64> = validation_examples
            .iter()
            .map(|e| e.input.list_price.ln() + b.log_ratio(e.input, e.encoded))
            .collect();
        metrics::r2(&actual, &predicted)
    };
    let vocab = encoder.vocab_size();
    let (lambda, ridge_fit) = [0.1, 1.0, 10.0, 100.0]
        .into_iter()
        .map(|lambda| (lambda, baselines::ridge(&fit_examples, vocab, lambda)))
        .max_by(|a, b| r2_on_validation(&a.1).total_cmp(&r2_on_validation(&b.1)))
        .expect("penalties to try");
    let median_fit = baselines::category_median(&fit_examples);
    // Served (if chosen): refit on every training product, the range from the fit's
    // residuals on the validation products.
    let spread_of =
        |fitted: &PriceBaseline| match baselines::with_spread(fitted.clone(), &validation_examples)
        {
            PriceBaseline::CategoryMedian { spread, .. } | PriceBaseline::Ridge { spread, .. } => {
                spread
            }
        };
    let with = |refit: PriceBaseline, spread: [f64; 2]| match refit {
        PriceBaseline::CategoryMedian { medians, overall, .. } => {
            PriceBaseline::CategoryMedian { medians, overall, spread }
        }
        PriceBaseline::Ridge { token_weights, numeric_weights, intercept, .. } => {
            PriceBaseline::Ridge { token_weights, numeric_weights, intercept, spread }
        }
    };
    let median = with(baselines::category_median(&train_examples), spread_of(&median_fit));
    let ridge = with(baselines::ridge(&train_examples, vocab, lambda), spread_of(&ridge_fit));
    let candidate = |name: &str, baseline: bool, validation: f64, test: f64| Candidate {
        name: name.to_owned(),
        baseline,
        validation,
        test,
    };
    let candidates = vec![
        candidate(baseline::MODEL, false, model_validation_r2_log, test_r2_log(None)),
        candidate(
            baseline::CATEGORY_MEDIAN,
            true,
            r2_on_validation(&median_fit),
            test_r2_log(Some(median.clone())),
        ),
        candidate(
            baseline::RIDGE,
            true,
            r2_on_validation(&ridge_fit),
            test_r2_log(Some(ridge.clone())),
        ),
    ];
    let backtest = Backtest::choose("", "r2_log", Better::Higher, candidates);
    let served = match backtest.served.as_str() {
        baseline::CATEGORY_MEDIAN => Some(median),
        baseline::RIDGE => Some(ridge),
        _ => None,
    };
    (backtest, served)
}
