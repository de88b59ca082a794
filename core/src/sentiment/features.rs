//! Encoding of review text for the sentiment model, shared by training and serving: the
//! tokenizer's word uni- and bigrams of the title and of the text (bigrams do not span the
//! two), each distinct known n-gram once, weighted by its inverse document frequency and
//! L2-normalised (binary TF-IDF), so words on every page weigh little.

use crate::features::text::{TextStats, for_each_ngram};
use crate::features::{FastMap, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const NGRAM_MAX: usize = 2;

/// A review encoded for the model, with what explanations need.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedText {
    pub tokens: Vec<u32>,
    pub weights: Vec<f32>,
    /// Words of title and text together.
    pub stats: TextStats,
    /// Each distinct word (lower-cased) with the positions in `tokens` of the n-grams holding it.
    pub words: Vec<(String, Vec<usize>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentEncoder {
    pub vocabulary: Vocabulary,
    /// Smoothed inverse document frequency of each vocabulary index (index 0 unused):
    /// ln((1 + documents) / (1 + document frequency)) + 1.
    pub idf: Vec<f32>,
}

/// Calls `emit(ngram)` for the n-grams of title then text, among their first
/// `max_words` words together.
fn for_each_token(
    title: &str,
    text: &str,
    max_words: usize,
    mut emit: impl FnMut(&str),
) -> TextStats {
    let title_stats = for_each_ngram(title, NGRAM_MAX, max_words, |gram, _| emit(gram));
    let text_stats = for_each_ngram(
        text,
        NGRAM_MAX,
        max_words.saturating_sub(title_stats.words_used),
        |gram, _| emit(gram),
    );
    TextStats {
        words_total: title_stats.words_total + text_stats.words_total,
        words_used: title_stats.words_used + text_stats.words_used,
    }
}

impl SentimentEncoder {
    /// Keeps n-grams found in at least `min_count` training reviews, at most `max_size`.
    pub fn fit<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
        min_count: usize,
        max_size: usize,
        max_words: usize,
    ) -> Self {
        // Document frequency of each n-gram; (count, last document counted in).
        let mut counts: FastMap<String, (usize, usize)> = FastMap::default();
        for (document, (title, text)) in texts.into_iter().enumerate() {
            for_each_token(title, text, max_words, |gram| match counts.get_mut(gram) {
                Some(entry) if entry.1 != document => *entry = (entry.0 + 1, document),
                Some(_) => {}
                None => {
                    counts.insert(gram.to_owned(), (1, document));
                }
            });
        }
        let documents = counts.values().map(|(_, last)| last + 1).max().unwrap_or(0);
        let frequency: FastMap<String, usize> =
            counts.into_iter().map(|(g, (c, _))| (g, c)).collect();
        let vocabulary = Vocabulary::from_counts(
            frequency.iter().map(|(g, c)| (g.clone(), *c)),
            min_count,
            Some(max_size),
        );
        let idf =
            std::iter::once(0.0)
                .chain(vocabulary.tokens().iter().map(|g| {
                    (((1 + documents) as f64 / (1 + frequency[g]) as f64).ln() + 1.0) as f32
                }))
                .collect();
        Self { vocabulary, idf }
    }

    /// Checks the file's parts agree.
    pub fn validated(self) -> Result<Self, String> {
        if self.idf.len() != self.vocabulary.len() {
            return Err(format!(
                "{} idf values for {} vocabulary entries",
                self.idf.len(),
                self.vocabulary.len()
            ));
        }
        if self.idf.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("idf values must be finite and >= 0".into());
        }
        Ok(self)
    }

    /// Bag weights of `tokens`: their idf, L2-normalised. The norm is summed in index order,
    /// so the weights do not depend on the order the tokens were found in.
    pub fn weights(&self, tokens: &[u32]) -> Vec<f32> {
        let mut weights: Vec<f32> = tokens.iter().map(|&t| self.idf[t as usize]).collect();
        let mut sorted = tokens.to_vec();
        sorted.sort_unstable();
        let norm = sorted.iter().map(|&t| (self.idf[t as usize] as f64).powi(2)).sum::<f64>().sqrt()
            as f32;
        if norm > 0.0 {
            weights.iter_mut().for_each(|w| *w /= norm);
        }
        weights
    }

    /// What [`Self::weights`] does to a bag's other weights when its tokens at `positions` are
    /// left out: the weights are L2-normalised, so the rest are multiplied by 1/√(1 − the
    /// left-out weights' squares); 0 when nothing is kept (an empty bag weighs nothing).
    pub fn rescale_without(weights: &[f32], positions: &[usize]) -> f32 {
        if positions.len() >= weights.len() {
            return 0.0;
        }
        let squared: f32 = positions.iter().map(|&p| weights[p] * weights[p]).sum();
        1.0 / (1.0 - squared).max(f32::EPSILON).sqrt()
    }

    pub fn vocab_size(&self) -> usize {
        self.vocabulary.len()
    }

    /// The model input alone (no word map): for training and bulk scoring.
    pub fn encode_tokens(&self, title: &str, text: &str, max_words: usize) -> EncodedText {
        let mut tokens = Vec::new();
        let stats =
            for_each_token(title, text, max_words, |gram| tokens.extend(self.vocabulary.get(gram)));
        tokens.sort_unstable();
        tokens.dedup();
        let weights = self.weights(&tokens);
        EncodedText { tokens, weights, stats, words: Vec::new() }
    }

    /// The model input and the word map explanations need.
    pub fn encode(&self, title: &str, text: &str, max_words: usize) -> EncodedText {
        let mut tokens = Vec::new();
        let mut positions: HashMap<u32, usize> = HashMap::new();
        let mut words: Vec<(String, Vec<usize>)> = Vec::new();
        let mut word_index: HashMap<String, usize> = HashMap::new();
        let stats = for_each_token(title, text, max_words, |gram| {
            let Some(index) = self.vocabulary.get(gram) else { return };
            if positions.contains_key(&index) {
                return;
            }
            let position = tokens.len();
            positions.insert(index, position);
            tokens.push(index);
            for word in gram.split(' ') {
                let slot = *word_index.entry(word.to_owned()).or_insert_with(|| {
                    words.push((word.to_owned(), Vec::new()));
                    words.len() - 1
                });
                if words[slot].1.last() != Some(&position) {
                    words[slot].1.push(position);
                }
            }
        });
        let weights = self.weights(&tokens);
        EncodedText { tokens, weights, stats, words }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_title_and_text_and_maps_words_to_their_ngrams() {
        let encoder = SentimentEncoder::fit(
            [("Bad", "not good at all"), ("Good", "really good")],
            1,
            100,
            100,
        );
        let e = encoder.encode("bad", "not good", 100);
        assert_eq!(e.tokens.len(), 4); // bad, not, good, "not good"
        assert_eq!(e.stats.words_total, 3);
        let good = e.words.iter().find(|(w, _)| w == "good").unwrap();
        assert_eq!(good.1.len(), 2); // "good" and "not good"
        let norm: f32 = e.weights.iter().map(|w| w * w).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // "good" is in both documents, "bad" in one: rarer words weigh more.
        let weight = |word: &str| {
            e.weights[e.tokens.iter().position(|&t| t == encoder.vocabulary.index(word)).unwrap()]
        };
        assert!(weight("bad") > weight("good"));
        let unknown = encoder.encode("", "zzz", 100);
        assert!(unknown.tokens.is_empty());
        assert_eq!(unknown.stats.words_total, 1);
    }
}
