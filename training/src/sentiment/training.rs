//! Training and evaluation of the sentiment classifier on both protocols of
//! `../shared/EVALUATION.md` §3: per review, and per product.

use super::SentimentSettings;
use crate::config::Split;
use crate::data::products::Product;
use crate::data::reviews::Review;
use crate::fit::{
    Abandon, EarlyStopping, fit_logistic, fold_of, in_validation, length_bucketed_batches,
    member_seed, platt_calibrated, rng,
};
use crate::metrics;
use crate::progress::Stage;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softplus;
use rand::RngExt;
use shopml_core::features::bag::TokenBatch;
use shopml_core::features::{sigmoid, to_f32_vec};
use shopml_core::sentiment::inference::encoded_log_odds;
use shopml_core::sentiment::{
    EncodedText, SentimentCalibration, SentimentEncoder, SentimentModel, SentimentModelConfig,
    SentimentNet, SentimentPredictor,
};
use shopml_core::sentiment::{ProductMetrics, ReviewMetrics, SentimentMetrics};
use std::borrow::Cow;
use std::collections::HashSet;

pub struct TrainedSentiment {
    pub model: SentimentModel,
    pub model_config: SentimentModelConfig,
    pub encoder: SentimentEncoder,
    pub calibration: SentimentCalibration,
    pub review_metrics: ReviewMetrics,
    pub product_metrics: Option<ProductMetrics>,
    /// The test reviews' probabilities of being negative, for the server's drift figures.
    pub reference: shopml_core::drift::ScoreReference,
}

#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    #[error("sentiment: {0}")]
    NotEnoughData(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("sentiment: the product-text models were abandoned (another stage failed)")]
    Abandoned,
    #[error("sentiment: the product-text models beside: {0}")]
    Beside(String),
}

/// A labelled text: (id for the validation slice, title, text, is negative).
struct Example<'a> {
    id: &'a str,
    title: &'a str,
    text: &'a str,
    negative: bool,
}

struct Rows {
    encoded: Vec<EncodedText>,
    negative: Vec<bool>,
}

fn encode(
    encoder: &SentimentEncoder,
    examples: &[&Example<'_>],
    max_words: usize,
    use_title: bool,
) -> Rows {
    Rows {
        encoded: examples
            .iter()
            .map(|e| encoder.encode_tokens(if use_title { e.title } else { "" }, e.text, max_words))
            .collect(),
        negative: examples.iter().map(|e| e.negative).collect(),
    }
}

fn net_logits(net: &SentimentNet, rows: &Rows, device: &Device) -> Vec<f64> {
    encoded_log_odds(&rows.encoded, |bags| {
        let (tokens, weights) = TokenBatch::new(bags.iter().copied()).tensors(device);
        to_f32_vec(net.forward(tokens, weights))
    })
}

/// What every member of a classifier trains with.
struct NetTraining<'a> {
    config: &'a SentimentModelConfig,
    settings: &'a SentimentSettings,
    encoder: &'a SentimentEncoder,
    /// Loss weight of a negative text (a positive one weighs 1).
    negative_weight: f64,
}

/// A text's tokens and weights after token dropout (borrowed when all are kept).
type KeptBag<'a> = (Cow<'a, [u32]>, Cow<'a, [f32]>);

fn train_net(
    training: &NetTraining<'_>,
    rows: &Rows,
    epochs: usize,
    seed: u64,
    mut after_epoch: impl FnMut(usize, SentimentNet) -> bool,
) {
    let NetTraining { config, settings, encoder, negative_weight } = *training;
    let device = Device::flex().autodiff();
    // Only nets that draw random numbers seed the process-wide generator, so that the others
    // can train beside them (see `train`).
    if config.draws_random_numbers() {
        device.seed(seed);
    }
    let mut net = config.init_net(&device);
    let mut optimizer = AdamWConfig::new().with_weight_decay(settings.weight_decay as f32).init();
    let mut random = rng(seed);
    let lengths: Vec<usize> = rows.encoded.iter().map(|e| e.tokens.len()).collect();
    // Small data sets (the product texts) still get at least 16 steps an epoch.
    let batch_size = settings.batch_size.min(rows.encoded.len() / 16).max(16);
    for epoch in 1..=epochs {
        for batch in length_bucketed_batches(&lengths, batch_size, &mut random) {
            let n = batch.len();
            let kept: Vec<KeptBag<'_>> = batch
                .iter()
                .map(|&i| {
                    let encoded = &rows.encoded[i];
                    if settings.token_dropout <= 0.0 {
                        // A draw is never below 0: every token is kept, with the weights it was
                        // encoded with. The draws still advance the generator (the batches'
                        // order depends on it).
                        encoded.tokens.iter().for_each(|_| _ = random.random::<f64>());
                        return (
                            Cow::Borrowed(encoded.tokens.as_slice()),
                            Cow::Borrowed(encoded.weights.as_slice()),
                        );
                    }
                    let tokens: Vec<u32> = encoded
                        .tokens
                        .iter()
                        .copied()
                        .filter(|_| random.random::<f64>() >= settings.token_dropout)
                        .collect();
                    let weights = encoder.weights(&tokens);
                    (Cow::Owned(tokens), Cow::Owned(weights))
                })
                .collect();
            let (tokens, weights) =
                TokenBatch::new(kept.iter().map(|(t, w)| (t.as_ref(), w.as_ref())))
                    .tensors(&device);
            let targets: Vec<f32> = batch.iter().map(|&i| rows.negative[i] as u8 as f32).collect();
            let sample_weights: Vec<f32> = batch
                .iter()
                .map(|&i| if rows.negative[i] { negative_weight as f32 } else { 1.0 })
                .collect();
            let z = net.forward(tokens, weights);
            let y = Tensor::<1>::from_floats(targets.as_slice(), &device);
            let w = Tensor::<1>::from_floats(sample_weights.as_slice(), &device);
            let loss = ((softplus(z.clone(), 1.0) - y * z) * w).sum() / (n as f64)
                + net.token_weight_penalty() * (settings.l2_penalty / rows.encoded.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(settings.learning_rate, net, grads);
        }
        if !after_epoch(epoch, net.valid()) {
            return;
        }
    }
}

/// The threshold on p(negative) with the best macro-F1 on (labels, probabilities).
fn best_threshold(negative: &[bool], p: &[f64]) -> f64 {
    let mut candidates: Vec<f64> = p.to_vec();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let step = (candidates.len() / 400).max(1);
    candidates
        .iter()
        .step_by(step)
        .copied()
        .max_by(|&a, &b| {
            metrics::classification(negative, p, a)
                .macro_f1
                .total_cmp(&metrics::classification(negative, p, b).macro_f1)
        })
        .unwrap_or(0.5)
}

/// The nets' configuration of `settings` over a vocabulary of `vocab_size` n-grams.
fn model_config(settings: &SentimentSettings, vocab_size: usize) -> SentimentModelConfig {
    SentimentModelConfig::new(vocab_size)
        .with_embedding_dim(settings.embedding_dim)
        .with_hidden_dim(settings.hidden_dim)
        .with_dropout(settings.dropout)
        .with_ensemble_size(settings.ensemble_size)
}

struct Classifier {
    model: SentimentModel,
    config: SentimentModelConfig,
    encoder: SentimentEncoder,
    calibration: SentimentCalibration,
    best_epochs: Vec<usize>,
    train_rows: usize,
}

/// Fits encoder, ensemble, calibration and threshold on `train` (a validation slice of it
/// held out for early stopping, calibration and the threshold).
fn fit_classifier(
    train: &[Example<'_>],
    settings: &SentimentSettings,
    seed: u64,
    stage: &Stage,
    name: &str,
) -> Result<Classifier, SentimentError> {
    let (validation, fit): (Vec<&Example<'_>>, Vec<&Example<'_>>) =
        train.iter().partition(|e| in_validation(e.id, settings.validation_modulo));
    for (set, label) in [(&fit, "training"), (&validation, "validation")] {
        let negatives = set.iter().filter(|e| e.negative).count();
        if negatives == 0 || negatives == set.len() {
            return Err(SentimentError::NotEnoughData(format!(
                "{name}: the {label} slice has {} texts and {negatives} negatives; both classes are needed",
                set.len()
            )));
        }
    }
    let encoder = SentimentEncoder::fit(
        train.iter().map(|e| (if settings.use_title { e.title } else { "" }, e.text)),
        settings.min_count,
        settings.max_vocabulary,
        settings.max_words,
    );
    let fit_rows = encode(&encoder, &fit, settings.max_words, settings.use_title);
    let validation_rows = encode(&encoder, &validation, settings.max_words, settings.use_title);
    let negatives = fit_rows.negative.iter().filter(|&&n| n).count() as f64;
    let negative_weight = if settings.negative_weight > 0.0 {
        settings.negative_weight
    } else {
        ((fit_rows.negative.len() as f64 - negatives) / negatives).sqrt()
    };
    let config = model_config(settings, encoder.vocab_size());
    let training = NetTraining { config: &config, settings, encoder: &encoder, negative_weight };
    let plain = Device::flex();
    let mut members = Vec::new();
    let mut best_epochs = Vec::new();
    // Log-loss on the validation slice after a Platt fit there (what early stopping minimises).
    let validation_loss = |net: &SentimentNet| {
        let (_, p) =
            platt_calibrated(&net_logits(net, &validation_rows, &plain), &validation_rows.negative);
        metrics::log_loss(&validation_rows.negative, &p)
    };
    for member in 0..settings.ensemble_size {
        let (mut stopping, epochs) = EarlyStopping::with_budget(
            settings.fixed_epochs,
            settings.max_epochs,
            settings.patience,
        );
        train_net(&training, &fit_rows, epochs, member_seed(seed, member), |epoch, net| {
            stopping.offer_with(epoch, net, validation_loss)
        });
        let (loss, epoch, net) = stopping.into_kept(validation_loss);
        stage.tick(format!(
            "{name} member {member}: epoch {epoch} kept, validation log-loss {loss:.4}"
        ));
        best_epochs.push(epoch);
        members.push(net);
    }
    let model = SentimentModel::from_members(members);
    let uncalibrated = SentimentCalibration { platt_a: 1.0, platt_b: 0.0, threshold: 0.5 };
    let predictor = SentimentPredictor::new(encoder.clone(), model.clone(), uncalibrated);
    let z = predictor.raw_log_odds(&validation_rows.encoded);
    let ((platt_a, platt_b), p) = platt_calibrated(&z, &validation_rows.negative);
    let calibration = SentimentCalibration {
        platt_a,
        platt_b,
        threshold: best_threshold(&validation_rows.negative, &p),
    };
    let model = if settings.refit_on_all_training {
        let all = Rows {
            encoded: fit_rows.encoded.into_iter().chain(validation_rows.encoded).collect(),
            negative: fit_rows.negative.into_iter().chain(validation_rows.negative).collect(),
        };
        let members = best_epochs
            .iter()
            .enumerate()
            .map(|(member, &epochs)| {
                let mut last = None;
                train_net(&training, &all, epochs, member_seed(seed, member), |_, net| {
                    last = Some(net);
                    true
                });
                last.expect("at least one epoch ran")
            })
            .collect();
        SentimentModel::from_members(members)
    } else {
        model
    };
    Ok(Classifier { model, config, encoder, calibration, best_epochs, train_rows: train.len() })
}

fn evaluate(
    predictor: &SentimentPredictor,
    test: &[&Example<'_>],
    max_words: usize,
    use_title: bool,
    classifier: &Classifier,
) -> SentimentMetrics {
    let rows = encode(predictor.encoder(), test, max_words, use_title);
    let p = predictor.negative_probabilities(&rows.encoded);
    score(&rows.negative, &p, predictor.calibration().threshold, classifier)
}

/// The protocol's figures of probabilities of negative `p` on test labels `negative`.
fn score(
    negative: &[bool],
    p: &[f64],
    threshold: f64,
    classifier: &Classifier,
) -> SentimentMetrics {
    let c = metrics::classification(negative, p, threshold);
    SentimentMetrics {
        macro_f1: c.macro_f1,
        neg_f1: c.f1_positive,
        roc_auc: metrics::roc_auc(negative, p),
        accuracy: c.accuracy,
        threshold,
        test_rows: negative.len(),
        test_negatives: negative.iter().filter(|&&n| n).count(),
        train_rows: classifier.train_rows,
        best_epochs: classifier.best_epochs.clone(),
        confusion: c.confusion,
    }
}

/// Calibrated log-odds of negative of a predictor on examples.
fn calibrated_logits(
    predictor: &SentimentPredictor,
    examples: &[&Example<'_>],
    settings: &SentimentSettings,
) -> Vec<f64> {
    predictor.calibrated_log_odds(
        &encode(predictor.encoder(), examples, settings.max_words, settings.use_title).encoded,
    )
}

/// The pieces of a product's joined review titles or contents: an export row joins a product's
/// sample reviews with commas.
pub fn review_pieces(joined: &str) -> impl Iterator<Item = &str> {
    joined.split(',').map(str::trim).filter(|piece| !piece.is_empty())
}

/// What the review model says of each product: the mean log-odds of negative over the
/// product's review titles, and over its review contents. Each piece is scored as a review of
/// its own, so one bad review among eight weighs as it does in the product's rating; the mean
/// pools the pieces' evidence without thresholding it.
fn review_evidence(
    review_model: &SentimentPredictor,
    examples: &[&Example<'_>],
    max_words: usize,
) -> Vec<[f64; 2]> {
    // (example, 0 for titles or 1 for contents) of each piece, and the pieces encoded.
    let mut owner = Vec::new();
    let mut encoded = Vec::new();
    for (i, example) in examples.iter().enumerate() {
        for (part, joined) in [example.title, example.text].into_iter().enumerate() {
            for piece in review_pieces(joined) {
                owner.push((i, part));
                encoded.push(review_model.encoder().encode_tokens("", piece, max_words));
            }
        }
    }
    let mut sums = vec![[0.0f64; 2]; examples.len()];
    let mut counts = vec![[0usize; 2]; examples.len()];
    for (&(i, part), z) in owner.iter().zip(review_model.raw_log_odds(&encoded)) {
        sums[i][part] += z;
        counts[i][part] += 1;
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, c)| [0, 1].map(|part| if c[part] == 0 { 0.0 } else { s[part] / c[part] as f64 }))
        .collect()
}

/// The per-product stack fitted by [`stack_products`].
struct ProductStack {
    /// Product-text log-odds, mean review-model log-odds of the titles, of the contents.
    weights: [f64; 3],
    intercept: f64,
    threshold: f64,
    out_of_fold_roc_auc: f64,
    text_model_out_of_fold_roc_auc: f64,
}

/// The product-text models of the per-product protocol: the one applied to new products,
/// trained on all training products, and with `product_folds` ≥ 2 the calibrated log-odds of
/// each training product by a model trained without its fold (what the stack is fitted on).
pub struct ProductTextModels {
    classifier: Classifier,
    out_of_fold: Option<Vec<f64>>,
}

/// Whether the product-text models may train beside other nets (on another thread, while
/// they train): only when they draw no random numbers, since the CPU backend has one random
/// generator for the whole process and the nets that draw from it must train one at a time.
pub fn product_texts_train_beside(settings: &SentimentSettings) -> Result<bool, SentimentError> {
    Ok(!model_config(&settings.for_product_texts()?, 0).draws_random_numbers())
}

/// How many nets [`fit_product_texts`] trains (a stage's length).
pub fn product_text_fits(settings: &SentimentSettings) -> Result<u64, SentimentError> {
    let product_settings = settings.for_product_texts()?;
    Ok(product_settings.ensemble_size as u64 * (1 + product_settings.product_folds as u64))
}

/// Fits the product-text models of the per-product protocol (`settings` are the sentiment
/// settings; the product texts' own are derived from them) on the training products of the
/// protocol's split. When they may train beside other nets (see
/// [`product_texts_train_beside`]), the folds' fits and the final one run in parallel on the
/// current thread pool: the results are the same. Once `abandon` is set, no further model
/// starts and the fit ends with [`SentimentError::Abandoned`].
pub fn fit_product_texts(
    products: &[Product],
    split: &Split,
    settings: &SentimentSettings,
    seed: u64,
    stage: &Stage,
    abandon: &Abandon,
) -> Result<ProductTextModels, SentimentError> {
    use rayon::prelude::*;
    let side_by_side = product_texts_train_beside(settings)?;
    let settings = &settings.for_product_texts()?;
    let examples = product_examples(products);
    let (_, train) = product_split(&examples, split);
    let train = train.as_slice();
    let folds = if settings.product_folds >= 2 { settings.product_folds } else { 0 };
    let fit_final = || {
        abandon.check(SentimentError::Abandoned)?;
        let all: Vec<Example<'_>> = train.iter().map(|e| Example { ..**e }).collect();
        fit_classifier(&all, settings, seed, stage, "products")
    };
    // (training product, out-of-fold log-odds) of one fold.
    let fit_fold = |fold: u32| -> Result<Vec<(usize, f64)>, SentimentError> {
        abandon.check(SentimentError::Abandoned)?;
        let (held, rest): (Vec<usize>, Vec<usize>) =
            (0..train.len()).partition(|&i| fold_of(train[i].id, folds) == fold);
        let rest: Vec<Example<'_>> = rest.iter().map(|&i| Example { ..*train[i] }).collect();
        let classifier = fit_classifier(
            &rest,
            settings,
            seed.wrapping_add(100 * (fold as u64 + 1)),
            stage,
            &format!("products fold {fold}"),
        )?;
        let held_examples: Vec<&Example<'_>> = held.iter().map(|&i| train[i]).collect();
        let predictor =
            SentimentPredictor::new(classifier.encoder, classifier.model, classifier.calibration);
        Ok(held.into_iter().zip(calibrated_logits(&predictor, &held_examples, settings)).collect())
    };
    let fit_folds = || -> Result<Vec<Vec<(usize, f64)>>, SentimentError> {
        if side_by_side {
            (0..folds).into_par_iter().map(fit_fold).collect()
        } else {
            (0..folds).map(fit_fold).collect()
        }
    };
    let (classifier, fold_scores) =
        if side_by_side { rayon::join(fit_final, fit_folds) } else { (fit_final(), fit_folds()) };
    let (classifier, fold_scores) = (classifier?, fold_scores?);
    let out_of_fold = (folds > 0).then(|| {
        let mut out_of_fold = vec![0.0f64; train.len()];
        for (i, z) in fold_scores.into_iter().flatten() {
            out_of_fold[i] = z;
        }
        out_of_fold
    });
    Ok(ProductTextModels { classifier, out_of_fold })
}

/// The per-product classifier: the product-text model's calibrated log-odds stacked with the
/// review model's evidence by a logistic regression fitted on out-of-fold log-odds of the
/// training products (see [`fit_product_texts`]), the threshold chosen on the same
/// out-of-fold scores (as scikit-learn's stacking: the text model applied to new products is
/// the one trained on all training products).
fn stack_products(
    train: &[&Example<'_>],
    out_of_fold: &[f64],
    train_evidence: &[[f64; 2]],
) -> ProductStack {
    let rows: Vec<[f64; 3]> =
        out_of_fold.iter().zip(train_evidence).map(|(&z, e)| [z, e[0], e[1]]).collect();
    let labels: Vec<bool> = train.iter().map(|e| e.negative).collect();
    let (weights, intercept) = fit_logistic(&rows, &labels);
    let p: Vec<f64> = rows.iter().map(|x| stacked_probability(&weights, intercept, x)).collect();
    ProductStack {
        weights,
        intercept,
        threshold: best_threshold(&labels, &p),
        out_of_fold_roc_auc: metrics::roc_auc(&labels, &p),
        text_model_out_of_fold_roc_auc: metrics::roc_auc(&labels, out_of_fold),
    }
}

fn stacked_probability(weights: &[f64; 3], intercept: f64, x: &[f64; 3]) -> f64 {
    sigmoid(weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + intercept)
}

/// Reviews labelled by the protocol: rating >= 4 positive, <= 2 negative, others dropped;
/// identical texts kept once.
fn review_examples(reviews: &[Review]) -> Vec<Example<'_>> {
    let mut seen = HashSet::new();
    reviews
        .iter()
        .filter_map(|r| {
            let rating = r.rating?;
            let negative = if rating >= 4.0 {
                false
            } else if rating <= 2.0 {
                true
            } else {
                return None;
            };
            (!r.text.is_empty() && seen.insert(r.text.as_str())).then_some(Example {
                id: &r.text,
                title: &r.title,
                text: &r.text,
                negative,
            })
        })
        .collect()
}

/// Products labelled by the protocol: negative when the rating is below 4.0.
fn product_examples(products: &[Product]) -> Vec<Example<'_>> {
    products
        .iter()
        .filter_map(|p| {
            let rating = p.rating?;
            Some(Example {
                id: &p.product_id,
                title: &p.review_title,
                text: &p.review_content,
                negative: rating < 4.0,
            })
        })
        .collect()
}

/// The protocol's (test, training) products.
fn product_split<'e, 'a>(
    examples: &'e [Example<'a>],
    split: &Split,
) -> (Vec<&'e Example<'a>>, Vec<&'e Example<'a>>) {
    examples.iter().partition(|e| crate::fit::in_test(e.id, split.product_test_modulo))
}

/// Waits for the product-text models being fitted beside (by [`fit_product_texts`]).
pub type FittedBeside<'a> = Box<dyn FnOnce() -> Result<ProductTextModels, SentimentError> + 'a>;

/// Trains the review model and, with `products`, evaluates the per-product protocol: with the
/// product-text models `fitted_beside` waits for (after the review model has trained), or
/// fitted here after the review model when it is `None`.
pub fn train(
    reviews: &[Review],
    products: Option<&[Product]>,
    fitted_beside: Option<FittedBeside<'_>>,
    split: &Split,
    settings: &SentimentSettings,
    seed: u64,
    stage: &Stage,
) -> Result<TrainedSentiment, SentimentError> {
    let examples = review_examples(reviews);
    let is_test = |text: &str| crate::fit::in_test(text, split.review_test_modulo);
    let (test, train): (Vec<&Example<'_>>, Vec<&Example<'_>>) =
        examples.iter().partition(|e| is_test(e.text));
    let train: Vec<Example<'_>> = train.into_iter().map(|e| Example { ..*e }).collect();
    let product_settings = settings.for_product_texts()?;
    let fit_products_here = products.is_some() && fitted_beside.is_none();
    stage.set_length(
        settings.ensemble_size as u64 * 2
            + if fit_products_here { product_text_fits(settings)? } else { 0 },
    );
    let classifier = fit_classifier(&train, settings, seed, stage, "reviews")?;
    let product_text_models = match (products, fitted_beside) {
        (_, Some(wait)) => Some(wait()?),
        (Some(products), None) => {
            Some(fit_product_texts(products, split, settings, seed, stage, &Abandon::default())?)
        }
        (None, None) => None,
    };
    let product_examples = products.map(product_examples);
    let product_sets = product_examples.as_ref().map(|examples| product_split(examples, split));
    let predictor = SentimentPredictor::new(
        classifier.encoder.clone(),
        classifier.model.clone(),
        classifier.calibration.clone(),
    );
    let figures = evaluate(&predictor, &test, settings.max_words, settings.use_title, &classifier);
    let test_p = predictor.negative_probabilities(
        &encode(predictor.encoder(), &test, settings.max_words, settings.use_title).encoded,
    );
    let reference = shopml_core::drift::ScoreReference::fit(
        &test_p,
        "probability that a review is negative",
        format!("test split, {} reviews", test.len()),
    );
    let text_only = evaluate(&predictor, &test, settings.max_words, false, &classifier);
    let review_metrics = ReviewMetrics {
        figures,
        text_only_macro_f1: text_only.macro_f1,
        text_only_neg_f1: text_only.neg_f1,
        text_only_roc_auc: text_only.roc_auc,
    };

    let product_metrics = match (product_sets, product_text_models) {
        (
            Some((test, train)),
            Some(ProductTextModels { classifier: product_classifier, out_of_fold }),
        ) => {
            let review_settings = settings;
            let settings = &product_settings;
            let product_predictor = SentimentPredictor::new(
                product_classifier.encoder.clone(),
                product_classifier.model.clone(),
                product_classifier.calibration.clone(),
            );
            let transfer = evaluate(
                &predictor,
                &test,
                review_settings.max_words,
                review_settings.use_title,
                &classifier,
            );
            // The text model's test log-odds, scored alone and entering the stack.
            let negative: Vec<bool> = test.iter().map(|e| e.negative).collect();
            let test_log_odds = calibrated_logits(&product_predictor, &test, settings);
            let text_model_p: Vec<f64> = test_log_odds.iter().map(|&z| sigmoid(z)).collect();
            let text_model = score(
                &negative,
                &text_model_p,
                product_predictor.calibration().threshold,
                &product_classifier,
            );
            let (figures, stack) = if let Some(out_of_fold) = out_of_fold {
                let train_evidence = review_evidence(&predictor, &train, review_settings.max_words);
                let stack = stack_products(&train, &out_of_fold, &train_evidence);
                let test_evidence = review_evidence(&predictor, &test, review_settings.max_words);
                let p: Vec<f64> = test_log_odds
                    .iter()
                    .zip(&test_evidence)
                    .map(|(&z, e)| {
                        stacked_probability(&stack.weights, stack.intercept, &[z, e[0], e[1]])
                    })
                    .collect();
                (score(&negative, &p, stack.threshold, &product_classifier), Some(stack))
            } else {
                (text_model.clone(), None)
            };
            Some(ProductMetrics {
                figures,
                text_model_roc_auc: text_model.roc_auc,
                text_model_macro_f1: text_model.macro_f1,
                review_model_roc_auc: transfer.roc_auc,
                review_model_macro_f1: transfer.macro_f1,
                stacker_weights: stack.as_ref().map_or(Vec::new(), |s| {
                    s.weights.iter().copied().chain([s.intercept]).collect()
                }),
                stacker_out_of_fold_roc_auc: stack.as_ref().map(|s| s.out_of_fold_roc_auc),
                text_model_out_of_fold_roc_auc: stack
                    .as_ref()
                    .map(|s| s.text_model_out_of_fold_roc_auc),
            })
        }
        _ => None,
    };
    Ok(TrainedSentiment {
        model: classifier.model,
        model_config: classifier.config,
        encoder: classifier.encoder,
        calibration: classifier.calibration,
        review_metrics,
        product_metrics,
        reference,
    })
}
