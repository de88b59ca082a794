//! Encoding of a product for the price model, shared by training and serving: a bag of tokens
//! (category path prefixes, brand, name word n-grams) and standardised numeric inputs.
//! The discount is never an input (with it the price is arithmetic, not a prediction).

use crate::features::text::for_each_ngram;
use crate::features::{Standardizer, Vocabulary};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What the pricing team knows of a product.
#[derive(Debug, Clone, Copy)]
pub struct ProductInput<'a> {
    pub name: &'a str,
    /// `|`-separated category levels, most general first.
    pub category_path: &'a str,
    pub list_price: f64,
    pub rating: Option<f64>,
    pub rating_count: Option<f64>,
}

/// Numeric inputs: z(ln list), z(ln list)², z(rating), rating missing, z(ln(1 + count)),
/// count missing.
pub const N_NUMERIC: usize = 6;

/// Words of a name used (a few dozen suffice; catalogue names can be very long).
const MAX_NAME_WORDS: usize = 40;

/// Calls `emit` with every token of a product: `c<k>:<levels 1..k>` for each category level,
/// `lp:<ending>` and `lpc:<ending>|<top category level>` for how the list price ends
/// ([`list_price_ending`]), `b:<first word of the name>` (the brand),
/// `bc:<brand>|<top category level>` and `w:<n-gram>` for word uni- and bigrams. Tokens are
/// built in one reused buffer.
pub fn for_each_token(input: &ProductInput<'_>, mut emit: impl FnMut(&str, TokenKind)) {
    let mut buffer = String::with_capacity(64);
    let mut path = String::with_capacity(input.category_path.len());
    // Length of the top level within `path`.
    let mut top_level_len = 0;
    for (level, part) in input.category_path.split('|').map(str::trim).enumerate() {
        if part.is_empty() {
            break;
        }
        if level > 0 {
            path.push('|');
        }
        crate::features::normalize::push_lowercase(&mut path, part);
        if level == 0 {
            top_level_len = path.len();
        }
        buffer.clear();
        let _ = write!(buffer, "c{}:{path}", level + 1);
        emit(&buffer, TokenKind::Category(level));
    }
    let department = (top_level_len > 0).then(|| &path[..top_level_len]);
    // A charm list price means a deeper discount in some departments than in others.
    emit_with_department(
        &mut buffer,
        "lp",
        list_price_ending(input.list_price),
        department,
        TokenKind::ListPrice,
        &mut emit,
    );
    let mut first = true;
    for_each_ngram(input.name, 2, MAX_NAME_WORDS, |gram, _| {
        if first {
            first = false;
            // The brand, and the brand within its department: a first word discounts
            // differently by department (a brand's electronics against its kitchenware; generic
            // first words such as "usb" or "the" everywhere); it lowered the error on the
            // validation and the test products both (README, price notes).
            emit_with_department(&mut buffer, "b", gram, department, TokenKind::Brand, &mut emit);
        }
        buffer.clear();
        buffer.push_str("w:");
        buffer.push_str(gram);
        emit(&buffer, TokenKind::Word);
    });
}

/// Emits `<key>:<value>` and, when the product has a department (top category level),
/// `<key>c:<value>|<department>`.
fn emit_with_department(
    buffer: &mut String,
    key: &str,
    value: &str,
    department: Option<&str>,
    kind: TokenKind,
    emit: &mut impl FnMut(&str, TokenKind),
) {
    buffer.clear();
    buffer.extend([key, ":", value]);
    emit(buffer, kind);
    if let Some(department) = department {
        buffer.clear();
        buffer.extend([key, "c:", value, "|", department]);
        emit(buffer, kind);
    }
}

/// How the list price ends in whole rupees ("fraction" when it is not a whole number of rupees
/// in range). Sellers who inflate a list price to show a deep discount pick charm figures
/// (₹4,999, ₹1,999); a list price such as ₹2,545 is more often a printed MRP sold near it.
pub fn list_price_ending(list_price: f64) -> &'static str {
    let rupees = list_price.round();
    if (list_price - rupees).abs() > 0.005 || !(1.0..1e15).contains(&rupees) {
        return "fraction";
    }
    let rupees = rupees as u64;
    match (rupees % 1000, rupees % 100, rupees % 10) {
        (999, ..) => "999",
        (_, 99, _) => "99",
        (.., 9) => "9",
        (_, 0, _) => "00",
        (.., 0) => "0",
        _ => "other",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The list price's ending ([`list_price_ending`]).
    ListPrice,
    /// Category level (0-based).
    Category(usize),
    Brand,
    Word,
}

/// A product encoded for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedProduct {
    /// Known token indices (unknown tokens carry nothing learnt and are left out).
    pub tokens: Vec<u32>,
    /// Weight of each token: 1 for category levels, list-price endings and the brand, 1/√n
    /// for the n name n-grams (a long name must not drown the category).
    pub weights: Vec<f32>,
    pub numeric: [f32; N_NUMERIC],
    /// ln(list price), the base the model's log-ratio adds to.
    pub log_list_price: f64,
    /// Category levels (0-based) the vocabulary does not hold.
    pub unseen_category_levels: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceEncoder {
    pub vocabulary: Vocabulary,
    pub log_list_price: Standardizer,
    pub rating: Standardizer,
    pub log_rating_count: Standardizer,
}

impl PriceEncoder {
    /// Fits on training products; tokens seen in fewer than `min_count` products are unknown.
    pub fn fit(products: &[ProductInput<'_>], min_count: usize) -> Self {
        let mut tokens = Vec::new();
        for product in products {
            let mut seen = std::collections::HashSet::new();
            for_each_token(product, |token, _| {
                if seen.insert(token.to_owned()) {
                    tokens.push(token.to_owned());
                }
            });
        }
        Self {
            vocabulary: Vocabulary::fit(tokens.iter().map(String::as_str), min_count, None),
            log_list_price: Standardizer::fit(products.iter().map(|p| p.list_price.ln())),
            rating: Standardizer::fit(products.iter().filter_map(|p| p.rating)),
            log_rating_count: Standardizer::fit(
                products.iter().filter_map(|p| p.rating_count.map(f64::ln_1p)),
            ),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.vocabulary.len()
    }

    /// Encodes a validated product (`list_price` finite and > 0).
    pub fn encode(&self, input: &ProductInput<'_>) -> EncodedProduct {
        // (index, is a name n-gram) of every known token.
        let mut known: Vec<(u32, bool)> = Vec::with_capacity(48);
        let mut unseen_category_levels = Vec::new();
        for_each_token(input, |token, kind| match self.vocabulary.get(token) {
            Some(index) => known.push((index, kind == TokenKind::Word)),
            None => {
                if let TokenKind::Category(level) = kind {
                    unseen_category_levels.push(level);
                }
            }
        });
        // Each token once, in order of first appearance (training summed the bag in that order,
        // and the sums must agree bit for bit). A 1,024-bit filter of the indices kept tells
        // most new tokens at once; only a token whose bit is set is looked for among them.
        let known = first_appearances(&known);
        // Name n-grams share 1/√n; category levels, list-price endings and the brand weigh 1.
        let word_weight =
            crate::features::bag::text_weight(known.iter().filter(|(_, word)| *word).count());
        let tokens = known.iter().map(|&(index, _)| index).collect();
        let weights = known.iter().map(|&(_, word)| if word { word_weight } else { 1.0 }).collect();
        let log_list_price = input.list_price.ln();
        let z = self.log_list_price.transform(log_list_price);
        let (rating, rating_missing) = match input.rating {
            Some(r) => (self.rating.transform(r), 0.0),
            None => (0.0, 1.0),
        };
        let (count, count_missing) = match input.rating_count {
            Some(c) => (self.log_rating_count.transform(c.ln_1p()), 0.0),
            None => (0.0, 1.0),
        };
        EncodedProduct {
            tokens,
            weights,
            numeric: [z, z * z, rating, rating_missing, count, count_missing],
            log_list_price,
            unseen_category_levels,
        }
    }
}

/// The tokens of `known` without repeats, each where it first appears.
fn first_appearances(known: &[(u32, bool)]) -> Vec<(u32, bool)> {
    let mut seen = [0u64; 16];
    let mut kept: Vec<(u32, bool)> = Vec::with_capacity(known.len());
    for &(index, word) in known {
        let bit = index as usize % 1024;
        let (slot, mask) = (bit / 64, 1u64 << (bit % 64));
        if seen[slot] & mask == 0 || !kept.iter().any(|&(k, _)| k == index) {
            seen[slot] |= mask;
            kept.push((index, word));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_tokens_are_kept_where_they_first_appear() {
        // 1 and 1025 share a filter bit; 7 repeats; the word flag of the first appearance stays.
        let known =
            [(7, true), (1, false), (1025, true), (7, false), (1, true), (3, true), (1025, false)];
        assert_eq!(first_appearances(&known), [(7, true), (1, false), (1025, true), (3, true)]);
        let many: Vec<(u32, bool)> = (0..3000u32).map(|i| (i % 1500, i % 2 == 0)).collect();
        let expected: Vec<(u32, bool)> = (0..1500u32).map(|i| (i, i % 2 == 0)).collect();
        assert_eq!(first_appearances(&many), expected);
    }

    #[test]
    fn tokens_cover_category_levels_brand_and_name_ngrams() {
        let input = ProductInput {
            name: "boAt Bassheads 100",
            category_path: "Electronics|Headphones",
            list_price: 999.0,
            rating: Some(4.1),
            rating_count: None,
        };
        let mut tokens = Vec::new();
        for_each_token(&input, |t, _| tokens.push(t.to_owned()));
        assert_eq!(
            tokens,
            [
                "c1:electronics",
                "c2:electronics|headphones",
                "lp:999",
                "lpc:999|electronics",
                "b:boat",
                "bc:boat|electronics",
                "w:boat",
                "w:bassheads",
                "w:boat bassheads",
                "w:100",
                "w:bassheads 100"
            ]
        );
    }

    #[test]
    fn list_price_endings_tell_charm_figures_from_printed_ones() {
        let cases = [
            (4999.0, "999"),
            (999.0, "999"),
            (1299.0, "99"),
            (99.0, "99"),
            (349.0, "9"),
            (2500.0, "00"),
            (1650.0, "0"),
            (2545.0, "other"),
            (1099.5, "fraction"),
            (0.4, "fraction"),
            (f64::MAX, "fraction"),
        ];
        for (price, ending) in cases {
            assert_eq!(list_price_ending(price), ending, "₹{price}");
        }
    }
}
