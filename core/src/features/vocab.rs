//! Vocabularies of categorical values with an out-of-vocabulary bucket.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A map with a hasher fast on short strings (SipHash was a sixth of the encoding cost), for
/// tables whose keys come from training data, never from requests (they cannot be flooded):
/// vocabularies, and counts while fitting them.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A set with the hasher of [`FastMap`], on the same terms.
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Values seen at least `min_count` times in training, each mapped to a dense index.
/// Index 0 is reserved for every value the vocabulary does not hold ("unknown"), so a new
/// SKU or city is encoded, never an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "VocabularyFile", into = "VocabularyFile")]
pub struct Vocabulary {
    tokens: Vec<String>,
    index: FastMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct VocabularyFile {
    /// Known values in index order; index 0 (unknown) is not listed.
    tokens: Vec<String>,
}

impl From<VocabularyFile> for Vocabulary {
    fn from(file: VocabularyFile) -> Self {
        Self::from_tokens(file.tokens)
    }
}

impl From<Vocabulary> for VocabularyFile {
    fn from(vocab: Vocabulary) -> Self {
        VocabularyFile { tokens: vocab.tokens }
    }
}

impl Vocabulary {
    /// Index of every value the vocabulary does not hold.
    pub const UNKNOWN: u32 = 0;

    /// Builds a vocabulary from known values, in index order (index 1 first). Duplicates keep
    /// their first index.
    pub fn from_tokens(tokens: Vec<String>) -> Self {
        let mut index = FastMap::with_capacity_and_hasher(tokens.len(), Default::default());
        let mut kept = Vec::with_capacity(tokens.len());
        for token in tokens {
            if !index.contains_key(&token) {
                index.insert(token.clone(), kept.len() as u32 + 1);
                kept.push(token);
            }
        }
        Self { tokens: kept, index }
    }

    /// Keeps the values seen at least `min_count` times, most frequent first (ties in
    /// lexicographic order, so the result does not depend on input order), at most `max_size`.
    pub fn fit<'a>(
        values: impl IntoIterator<Item = &'a str>,
        min_count: usize,
        max_size: Option<usize>,
    ) -> Self {
        let mut counts: FastMap<&str, usize> = FastMap::default();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
        Self::from_counts(counts.into_iter().map(|(v, c)| (v.to_owned(), c)), min_count, max_size)
    }

    /// Like [`fit`](Self::fit), from values already counted.
    pub fn from_counts(
        counts: impl IntoIterator<Item = (String, usize)>,
        min_count: usize,
        max_size: Option<usize>,
    ) -> Self {
        let mut frequent: Vec<(String, usize)> =
            counts.into_iter().filter(|(_, count)| *count >= min_count.max(1)).collect();
        frequent.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(max) = max_size {
            frequent.truncate(max);
        }
        Self::from_tokens(frequent.into_iter().map(|(v, _)| v).collect())
    }

    /// Index of `value`, or [`Self::UNKNOWN`].
    #[inline]
    pub fn index(&self, value: &str) -> u32 {
        self.index.get(value).copied().unwrap_or(Self::UNKNOWN)
    }

    /// Index of `value` when the vocabulary holds it.
    #[inline]
    pub fn get(&self, value: &str) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// Number of indices, the unknown one included.
    pub fn len(&self) -> usize {
        self.tokens.len() + 1
    }

    /// True when the vocabulary holds no known value (only the unknown index).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The value at `index`; `None` for the unknown index or past the end.
    pub fn token(&self, index: u32) -> Option<&str> {
        index.checked_sub(1).and_then(|i| self.tokens.get(i as usize)).map(String::as_str)
    }

    /// Known values in index order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_frequent_values_in_a_deterministic_order() {
        let values = ["b", "a", "b", "c", "a", "d", "b"];
        let vocab = Vocabulary::fit(values, 2, None);
        assert_eq!(vocab.tokens(), &["b".to_owned(), "a".to_owned()]);
        assert_eq!(vocab.index("b"), 1);
        assert_eq!(vocab.index("a"), 2);
        assert_eq!(vocab.index("c"), Vocabulary::UNKNOWN);
        assert_eq!(vocab.len(), 3);
        assert_eq!(vocab.token(0), None);
        assert_eq!(vocab.token(2), Some("a"));
    }

    #[test]
    fn round_trips_through_json() {
        let vocab = Vocabulary::fit(["x", "y", "y"], 1, Some(1));
        let json = serde_json::to_string(&vocab).unwrap();
        let back: Vocabulary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vocab);
        assert_eq!(back.index("y"), 1);
        assert_eq!(back.index("x"), Vocabulary::UNKNOWN);
    }
}
