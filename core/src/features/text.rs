//! The tokenizer, written once for training and serving: lower-cased Unicode words (UAX #29,
//! so Devanagari, emoji-laden and mixed-script text split sensibly) and their word n-grams.

use unicode_segmentation::UnicodeSegmentation;

/// Counts of what a text held and what was used of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextStats {
    /// Words in the whole text.
    pub words_total: usize,
    /// Words used (at most the word limit).
    pub words_used: usize,
}

impl TextStats {
    pub fn truncated(&self) -> bool {
        self.words_used < self.words_total
    }
}

/// Calls `emit(ngram, position)` for every word n-gram of `text` with `1 <= n <= ngram_max`
/// among its first `max_words` words, where `position` is the index of the n-gram's last word.
/// An n-gram is its lower-cased words joined by one space. No allocation per token: the
/// n-gram is built in reused buffers and lent to `emit`.
pub fn for_each_ngram(
    text: &str,
    ngram_max: usize,
    max_words: usize,
    mut emit: impl FnMut(&str, usize),
) -> TextStats {
    let ngram_max = ngram_max.max(1);
    // The last `ngram_max` words, lower-cased, as a ring.
    let mut recent: Vec<String> = vec![String::new(); ngram_max];
    let mut gram = String::new();
    let mut stats = TextStats::default();
    for word in text.unicode_words() {
        stats.words_total += 1;
        if stats.words_used >= max_words {
            continue;
        }
        let position = stats.words_used;
        stats.words_used += 1;
        let slot = &mut recent[position % ngram_max];
        slot.clear();
        crate::features::normalize::push_lowercase(slot, word);
        for n in 1..=ngram_max.min(position + 1) {
            gram.clear();
            for k in (0..n).rev() {
                if k + 1 < n {
                    gram.push(' ');
                }
                gram.push_str(&recent[(position - k) % ngram_max]);
            }
            emit(&gram, position);
        }
    }
    stats
}

/// Every n-gram of `text` as owned strings (for training, where rows are counted once).
pub fn ngrams(text: &str, ngram_max: usize, max_words: usize) -> Vec<String> {
    let mut out = Vec::new();
    for_each_ngram(text, ngram_max, max_words, |gram, _| out.push(gram.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_lowercased_unigrams_and_bigrams() {
        let grams = ngrams("Great product, NOT bad!", 2, 100);
        assert_eq!(
            grams,
            ["great", "product", "great product", "not", "product not", "bad", "not bad"]
        );
    }

    #[test]
    fn cuts_at_the_word_limit_and_counts_all_words() {
        let mut seen = Vec::new();
        let stats = for_each_ngram("one two three four", 1, 2, |g, _| seen.push(g.to_owned()));
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(stats, TextStats { words_total: 4, words_used: 2 });
        assert!(stats.truncated());
    }

    #[test]
    fn handles_any_unicode_without_panicking() {
        let grams = ngrams("बहुत अच्छा 👍 produit très bon ÄÖÜ", 3, 100);
        assert!(grams.contains(&"बहुत".to_owned()));
        assert!(grams.contains(&"très".to_owned()));
        assert!(grams.contains(&"äöü".to_owned()));
        assert!(ngrams("", 2, 10).is_empty());
        assert!(ngrams("🙂🙂", 2, 10).is_empty());
    }
}
