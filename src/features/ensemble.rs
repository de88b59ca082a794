//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::to_f32_vec;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Int, Tensor};

/// The mean of `forward` over `members` (at least one).
pub fn average<M, const D: usize>(members: &[M], forward: impl Fn(&M) -> Tensor<D>) -> Tensor<D> {
    let mut iter = members.iter();
    let first = forward(iter.next().expect("an ensemble has a member"));
    iter.fold(first, |sum, member| sum + forward(member)) / members.len() as f64
}

/// Lays an ensemble out for serving: the members' layers side by side, each first layer folded
/// into the embedding table that feeds it, so that a request runs one product per layer for all
/// members instead of one net after another.
pub struct Stacker<'a, M> {
    members: &'a [M],
    device: Device,
}

impl<'a, M> Stacker<'a, M> {
    pub fn new(members: &'a [M], device: Device) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members, device }
    }

    fn tensor<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::<1>::from_floats(values.as_slice(), &self.device).reshape(shape)
    }

    fn mean_values(&self, values: impl Fn(&M) -> Vec<f32>) -> Vec<f32> {
        let k = self.members.len() as f32;
        let sums = self.members.iter().map(values).reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect()).unwrap_or_default();
        sums.into_iter().map(|v| v / k).collect()
    }

    /// Each member's `embedding` folded into the `layer` that reads it (both are linear), side by
    /// side, then the members' mean of the `wide` table in a last column: `[vocab, k·hidden + 1]`.
    /// Member m's part of row v is `embedding_m[v] · layer_m.weight[first_input(v)..][..dim]`,
    /// what value v adds to that member's hidden pre-activation (`first_input(v)`: the first
    /// input of the layer that v's vector feeds).
    pub fn folded_table(
        &self,
        embedding: impl Fn(&M) -> &Embedding,
        layer: impl Fn(&M) -> &Linear,
        first_input: impl Fn(usize) -> usize,
        wide: impl Fn(&M) -> &Embedding,
    ) -> Tensor<2> {
        let [_, dim] = embedding(&self.members[0]).weight.val().dims();
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let folded = |member: &M| {
            let weight = to_f32_vec(layer(member).weight.val());
            let vectors = to_f32_vec(embedding(member).weight.val());
            let mut rows = Vec::with_capacity(vectors.len() / dim * hidden);
            for (v, vector) in vectors.chunks(dim).enumerate() {
                let first = first_input(v);
                rows.extend((0..hidden).map(|j| {
                    vector.iter().enumerate().map(|(d, &e)| e as f64 * weight[(first + d) * hidden + j] as f64).sum::<f64>() as f32
                }));
            }
            rows
        };
        self.side_by_side(hidden, folded, self.mean_values(|m| to_f32_vec(wide(m).weight.val())))
    }

    /// Each member's `layer` weights of the inputs it reads directly (from input `first` on,
    /// as many as `linear` has), side by side, then the members' mean of `linear`'s weights of
    /// the same inputs (a linear part beside the layer): `[inputs, k·hidden + 1]`, matching the
    /// columns of [`Stacker::folded_table`].
    pub fn folded_inputs(&self, layer: impl Fn(&M) -> &Linear, first: usize, linear: impl Fn(&M) -> &Linear) -> Tensor<2> {
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let [inputs, _] = linear(&self.members[0]).weight.val().dims();
        let weights = |member: &M| to_f32_vec(layer(member).weight.val())[first * hidden..(first + inputs) * hidden].to_vec();
        self.side_by_side(hidden, weights, self.mean_values(|m| to_f32_vec(linear(m).weight.val())))
    }

    /// `[rows, k·hidden + 1]`: each member's `rows × hidden` values (row-major) side by side,
    /// then `last` (one value a row) in the last column.
    fn side_by_side(&self, hidden: usize, values: impl Fn(&M) -> Vec<f32>, last: Vec<f32>) -> Tensor<2> {
        let rows = last.len();
        let width = self.members.len() * hidden + 1;
        let mut out = vec![0.0f32; rows * width];
        for (m, member) in self.members.iter().enumerate() {
            for (row, block) in values(member).chunks(hidden).enumerate() {
                out[row * width + m * hidden..][..hidden].copy_from_slice(block);
            }
        }
        for (row, value) in last.into_iter().enumerate() {
            out[row * width + width - 1] = value;
        }
        self.tensor(out, [rows, width])
    }

    /// `[1, k·hidden + 1]`: each member's `layer` bias side by side, then `last`.
    pub fn folded_bias(&self, layer: impl Fn(&M) -> &Linear, last: f32) -> Tensor<2> {
        let mut values: Vec<f32> = self.members.iter().flat_map(|m| bias_values(layer(m))).collect();
        values.push(last);
        let width = values.len();
        self.tensor(values, [1, width])
    }

    /// `[k·hidden, 1]`: each member's `output` weights (one output) over k, so that their
    /// product with the members' hidden layers side by side is the members' mean.
    pub fn folded_output(&self, output: impl Fn(&M) -> &Linear) -> Tensor<2> {
        let k = self.members.len() as f32;
        let values: Vec<f32> = self.members.iter().flat_map(|m| to_f32_vec(output(m).weight.val())).map(|w| w / k).collect();
        let rows = values.len();
        self.tensor(values, [rows, 1])
    }

    /// The members' mean of `value`.
    pub fn mean(&self, value: impl Fn(&M) -> f32) -> f32 {
        self.members.iter().map(value).sum::<f32>() / self.members.len() as f32
    }

    /// The members' mean of a table (a wide part, linear in the output).
    pub fn mean_table(&self, embedding: impl Fn(&M) -> &Embedding) -> Tensor<2> {
        let dims = embedding(&self.members[0]).weight.val().dims();
        self.tensor(self.mean_values(|m| to_f32_vec(embedding(m).weight.val())), dims)
    }
}

/// A layer's bias values (zeros when it has none).
pub fn bias_values(linear: &Linear) -> Vec<f32> {
    linear.bias.as_ref().map(|b| to_f32_vec(b.val())).unwrap_or_else(|| vec![0.0; linear.weight.val().dims()[1]])
}

/// `Σ_t w_t · table[token_t]` per row: the weighted bag of a folded table's rows, `[batch, n]`
/// tokens and weights → `[batch, width]`.
pub fn weighted_rows(table: &Tensor<2>, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<2> {
    let [batch, n] = tokens.dims();
    let [_, width] = table.dims();
    let rows = table.clone().select(0, tokens.reshape([batch * n])).reshape([batch, n, width]);
    (rows * weights.reshape([batch, n, 1])).sum_dim(1).reshape([batch, width])
}

/// A folded pre-activation `[batch, k·hidden + 1]` split into every member's hidden layer
/// (after its ReLU) and the last column, the linear parts' sum `[batch, 1]`.
pub fn hidden_and_linear(pre: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [batch, width] = pre.dims();
    (pre.clone().slice([0..batch, 0..width - 1]).clamp_min(0.0), pre.slice([0..batch, width - 1..width]))
}
