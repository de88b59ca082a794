//! Bags of tokens (words, n-grams, category levels) as padded index matrices with weights, and
//! the weighted embedding sum that turns them into vectors.

use burn::nn::Embedding;
use burn::tensor::{Device, Int, Tensor};

/// Index 0 of a bag vocabulary is the unknown bucket; unknown tokens are left out of the bag
/// (they carry nothing learnt) and padding uses index 0 with weight 0.
pub const PAD: u32 = 0;

/// One text's bag: its token indices and their weights.
pub type Bag<'a> = (&'a [u32], &'a [f32]);

/// A bag's `(token, weight)` pairs, as [`RowTable::bag_sums`](super::ensemble::RowTable::bag_sums)
/// reads them.
pub fn weighted_tokens<'a>((tokens, weights): Bag<'a>) -> impl Iterator<Item = (u32, f32)> + 'a {
    debug_assert_eq!(tokens.len(), weights.len());
    tokens.iter().copied().zip(weights.iter().copied())
}

/// A batch of bags: `[rows, width]` indices and weights, padding weighted 0.
pub struct TokenBatch {
    pub indices: Vec<i64>,
    pub weights: Vec<f32>,
    pub rows: usize,
    pub width: usize,
}

/// The weight of each of `n` tokens of a text bag: 1/√n, so a long text does not shout.
pub fn text_weight(n: usize) -> f32 {
    if n == 0 { 0.0 } else { 1.0 / (n as f32).sqrt() }
}

impl TokenBatch {
    /// Bags of `(token indices, their weights)`, padded to the longest.
    pub fn new<'a>(bags: impl IntoIterator<Item = Bag<'a>>) -> Self {
        let bags: Vec<Bag<'_>> = bags.into_iter().collect();
        let width = bags.iter().map(|b| b.0.len()).max().unwrap_or(0).max(1);
        let mut indices = Vec::with_capacity(bags.len() * width);
        let mut weights = Vec::with_capacity(bags.len() * width);
        for (tokens, token_weights) in &bags {
            debug_assert_eq!(tokens.len(), token_weights.len());
            indices.extend(tokens.iter().map(|&i| i as i64));
            weights.extend_from_slice(token_weights);
            indices.extend(std::iter::repeat_n(PAD as i64, width - tokens.len()));
            weights.extend(std::iter::repeat_n(0.0, width - tokens.len()));
        }
        Self { indices, weights, rows: bags.len(), width }
    }

    pub fn tensors(self, device: &Device) -> (Tensor<2, Int>, Tensor<2>) {
        (
            super::index_matrix(self.indices, self.rows, self.width, device),
            super::float_matrix(self.weights, self.rows, self.width, device),
        )
    }
}

/// Σ_t w_t · embedding(token_t) per row: `[rows, width]` → `[rows, dim]`.
pub fn weighted_bag(
    embedding: &Embedding,
    indices: Tensor<2, Int>,
    weights: Tensor<2>,
) -> Tensor<2> {
    let vectors = embedding.forward(indices);
    let [rows, _, dim] = vectors.dims();
    (vectors * weights.unsqueeze_dim::<3>(2)).sum_dim(1).reshape([rows, dim])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_weights_rows() {
        let w = [text_weight(4); 4];
        let batch = TokenBatch::new([
            (&[3u32, 4, 5, 6][..], &w[..]),
            (&[7][..], &[1.0][..]),
            (&[][..], &[][..]),
        ]);
        assert_eq!((batch.rows, batch.width), (3, 4));
        assert_eq!(batch.indices, vec![3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&batch.weights[..5], &[0.5, 0.5, 0.5, 0.5, 1.0]);
        assert!(batch.weights[5..].iter().all(|&w| w == 0.0));
    }
}
