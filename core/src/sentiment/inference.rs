//! Review sentiment: encode, one forward pass for all reviews and their word occlusions,
//! calibrate and threshold.

use super::features::{EncodedText, SentimentEncoder};
use super::model::{SentimentModel, ServingSentimentNet};
use crate::features::bag::Bag;
use crate::features::sigmoid;
use crate::features::text::TextStats;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Distinct words of a review tried as explanations (the first ones of the review).
pub const MAX_EXPLAINED_WORDS: usize = 64;

/// At most how many model rows [`SentimentPredictor::analyze`] runs for a review: the review,
/// and with explanations one per distinct word tried (no more than the words it uses). A
/// word count, not the encoding: the server asks it to decide where the work runs.
pub fn rows_for(title: &str, text: &str, max_words: usize, top_words: usize) -> usize {
    if top_words == 0 {
        return 1;
    }
    let words = title.unicode_words().count() + text.unicode_words().count();
    1 + words.min(max_words).min(MAX_EXPLAINED_WORDS)
}

/// Calibration and decision threshold, fitted on the validation slice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentCalibration {
    /// p(negative) = σ(platt_a · z + platt_b).
    pub platt_a: f64,
    pub platt_b: f64,
    /// A review is labelled negative when p(negative) >= threshold (chosen for macro-F1).
    pub threshold: f64,
}

impl SentimentCalibration {
    /// Calibrated log-odds of negative of the model's log-odds z.
    #[inline]
    pub fn log_odds(&self, logit: f64) -> f64 {
        self.platt_a * logit + self.platt_b
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SentimentResult {
    pub negative_probability: f64,
    pub negative: bool,
    /// Words with their effect on the calibrated log-odds of negative, strongest first.
    pub top_words: Vec<(String, f64)>,
    pub stats: TextStats,
}

pub struct SentimentPredictor {
    encoder: SentimentEncoder,
    /// The ensemble in its serving layout (same outputs, one batched pass for all members).
    model: ServingSentimentNet,
    calibration: SentimentCalibration,
    /// The score's reference and the window of served scores, when the bundle has them.
    drift: Option<crate::drift::ScoreMonitor>,
}

impl SentimentPredictor {
    pub fn new(
        encoder: SentimentEncoder,
        model: SentimentModel,
        calibration: SentimentCalibration,
    ) -> Self {
        Self { encoder, model: model.for_serving(), calibration, drift: None }
    }

    pub fn with_drift(mut self, drift: Option<crate::drift::ScoreMonitor>) -> Self {
        self.drift = drift;
        self
    }

    /// The score monitor, when the bundle has a reference of the score.
    pub fn drift(&self) -> Option<&crate::drift::ScoreMonitor> {
        self.drift.as_ref()
    }

    pub fn encoder(&self) -> &SentimentEncoder {
        &self.encoder
    }

    pub fn calibration(&self) -> &SentimentCalibration {
        &self.calibration
    }

    /// Calibrated probabilities of negative of encoded reviews.
    pub fn negative_probabilities(&self, encoded: &[EncodedText]) -> Vec<f64> {
        self.calibrated_log_odds(encoded).into_iter().map(sigmoid).collect()
    }

    /// Calibrated log-odds of negative of encoded texts.
    pub fn calibrated_log_odds(&self, encoded: &[EncodedText]) -> Vec<f64> {
        let mut out = self.raw_log_odds(encoded);
        for z in &mut out {
            *z = self.calibration.log_odds(*z);
        }
        out
    }

    /// The model's log-odds of negative of encoded texts, before calibration (in chunks of
    /// 4096, so that a large set never becomes one huge batch).
    pub fn raw_log_odds(&self, encoded: &[EncodedText]) -> Vec<f64> {
        encoded_log_odds(encoded, |bags| self.model.forward(bags))
    }

    /// Sentiment of `(title, text)` reviews, each cut at `max_words` words; with
    /// `top_words > 0`, each carries that many word explanations (by occlusion).
    pub fn analyze(
        &self,
        reviews: &[(&str, &str)],
        max_words: usize,
        top_words: usize,
    ) -> Vec<SentimentResult> {
        let encoded: Vec<EncodedText> = reviews
            .iter()
            .map(|(title, text)| {
                if top_words > 0 {
                    self.encoder.encode(title, text, max_words)
                } else {
                    self.encoder.encode_tokens(title, text, max_words)
                }
            })
            .collect();
        if encoded.is_empty() {
            return Vec::new();
        }
        // Occlusions: each review without every n-gram holding one of its words.
        let mut occlusions: Vec<(usize, &[usize], f32)> = Vec::new();
        let mut explained: Vec<&[(String, Vec<usize>)]> = Vec::with_capacity(encoded.len());
        for (review, e) in encoded.iter().enumerate() {
            let words = if top_words > 0 {
                &e.words[..e.words.len().min(MAX_EXPLAINED_WORDS)]
            } else {
                &e.words[..0]
            };
            occlusions.extend(words.iter().map(|(_, positions)| {
                (
                    review,
                    positions.as_slice(),
                    SentimentEncoder::rescale_without(&e.weights, positions),
                )
            }));
            explained.push(words);
        }
        let bags: Vec<Bag<'_>> =
            encoded.iter().map(|e| (e.tokens.as_slice(), e.weights.as_slice())).collect();
        let logits: Vec<f64> =
            self.model.forward_occluded(&bags, &occlusions).into_iter().map(f64::from).collect();
        let (full, occluded) = logits.split_at(encoded.len());
        let mut occluded = occluded.iter();
        let a = self.calibration.platt_a;
        encoded
            .iter()
            .zip(full)
            .zip(explained)
            .map(|((e, &z), words)| {
                let p = sigmoid(self.calibration.log_odds(z));
                let mut effects: Vec<(String, f64)> = words
                    .iter()
                    .map(|(word, _)| {
                        (word.clone(), a * (z - occluded.next().expect("one logit per occlusion")))
                    })
                    .collect();
                effects.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
                effects.truncate(top_words);
                SentimentResult {
                    negative_probability: p,
                    negative: p >= self.calibration.threshold,
                    top_words: effects,
                    stats: e.stats,
                }
            })
            .collect()
    }

    /// Analyses, and feeds each review's probability of being negative into the drift window.
    pub fn analyze_observed(
        &self,
        reviews: &[(&str, &str)],
        max_words: usize,
        top_words: usize,
    ) -> Vec<SentimentResult> {
        let results = self.analyze(reviews, max_words, top_words);
        if let Some(drift) = &self.drift {
            drift.observe(results.iter().map(|r| r.negative_probability));
        }
        results
    }

    pub fn warm_up(&self) {
        let _ = self.analyze(&[("Warm up", "works well, not bad at all")], 100, 3);
    }
}

/// `forward` (a net's or an ensemble's log-odds of a batch of bags) of token bags, one batch.
pub fn bag_log_odds<'a>(
    bags: impl IntoIterator<Item = Bag<'a>>,
    forward: impl Fn(&[Bag<'a>]) -> Vec<f32>,
) -> Vec<f64> {
    let bags: Vec<Bag<'a>> = bags.into_iter().collect();
    if bags.is_empty() {
        return Vec::new();
    }
    forward(&bags).into_iter().map(f64::from).collect()
}

/// [`bag_log_odds`] of encoded texts in chunks of 4096, so that a large set never becomes one
/// huge batch.
pub fn encoded_log_odds<'a>(
    encoded: &'a [EncodedText],
    forward: impl Fn(&[Bag<'a>]) -> Vec<f32>,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(encoded.len());
    for chunk in encoded.chunks(4096) {
        out.extend(bag_log_odds(
            chunk.iter().map(|e| (e.tokens.as_slice(), e.weights.as_slice())),
            &forward,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn explanations_are_the_log_odds_of_the_review_without_each_word() {
        use super::super::model::SentimentModelConfig;
        let encoder = SentimentEncoder::fit(
            [
                ("Waste of money", "not good at all, stopped working"),
                ("Great", "works well, not bad at all"),
            ],
            1,
            1000,
            400,
        );
        let device = Device::flex();
        device.seed(5);
        // Randomly initialised deep parts (the wide part starts at zero) give every word an effect.
        let model = SentimentModelConfig::new(encoder.vocab_size())
            .with_embedding_dim(3)
            .with_hidden_dim(4)
            .with_ensemble_size(2)
            .init(&device);
        let calibration = SentimentCalibration { platt_a: 1.3, platt_b: -0.2, threshold: 0.5 };
        let predictor = SentimentPredictor::new(encoder.clone(), model.clone(), calibration);
        let (title, text) = ("Waste of money", "not good at all, stopped working");
        let result = &predictor.analyze(&[(title, text)], 400, MAX_EXPLAINED_WORDS)[0];
        // The same, the long way: each word's n-grams left out and the rest weighed again.
        let serving = model.for_serving();
        let log_odds =
            |tokens: &[u32]| serving.forward(&[(tokens, &encoder.weights(tokens))])[0] as f64;
        let e = encoder.encode(title, text, 400);
        let full = log_odds(&e.tokens);
        assert_eq!(result.top_words.len(), e.words.len());
        for (word, positions) in &e.words {
            let kept: Vec<u32> = e
                .tokens
                .iter()
                .enumerate()
                .filter(|(i, _)| !positions.contains(i))
                .map(|(_, &t)| t)
                .collect();
            let expected = 1.3 * (full - log_odds(&kept));
            let (_, effect) =
                result.top_words.iter().find(|(w, _)| w == word).expect("every word explained");
            assert!((effect - expected).abs() < 1e-4, "{word}: {effect} vs {expected}");
        }
        assert!(
            result.top_words.iter().all(|(_, effect)| effect.abs() > 1e-4),
            "{:?}",
            result.top_words
        );
    }

    #[test]
    fn rows_for_bounds_the_occlusions_analyze_runs() {
        let encoder = SentimentEncoder::fit(
            [("Waste of money", "it stopped working"), ("Great", "works well, not bad at all")],
            1,
            1000,
            400,
        );
        let long = "works well ".repeat(300);
        let reviews = [
            ("Waste of money", "It stopped working after a week and the battery died quickly."),
            ("", "works well, not bad at all"),
            ("", long.as_str()),
            ("", ""),
        ];
        for (title, text) in reviews {
            let rows = 1 + encoder.encode(title, text, 400).words.len().min(MAX_EXPLAINED_WORDS);
            assert!(rows <= rows_for(title, text, 400, 5), "{title} {text}");
            assert_eq!(rows_for(title, text, 400, 0), 1);
        }
        // A short review stays small (the server scores it inline); a long one is capped.
        assert_eq!(rows_for(reviews[0].0, reviews[0].1, 400, 5), 15);
        assert_eq!(rows_for("", &long, 400, 5), 1 + MAX_EXPLAINED_WORDS);
        assert_eq!(rows_for("", &long, 10, 5), 11);
    }
}
