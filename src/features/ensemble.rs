//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::to_f32_vec;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Tensor};

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
        let k = self.members.len();
        let [vocab, dim] = embedding(&self.members[0]).weight.val().dims();
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let width = k * hidden + 1;
        let mut rows = vec![0.0f32; vocab * width];
        for (m, member) in self.members.iter().enumerate() {
            let vectors = to_f32_vec(embedding(member).weight.val());
            let weight = to_f32_vec(layer(member).weight.val());
            for (v, vector) in vectors.chunks(dim).enumerate() {
                let first = first_input(v);
                for (j, out) in rows[v * width + m * hidden..][..hidden].iter_mut().enumerate() {
                    let sum: f64 = vector.iter().enumerate().map(|(d, &e)| e as f64 * weight[(first + d) * hidden + j] as f64).sum();
                    *out = sum as f32;
                }
            }
        }
        self.with_last_column(rows, width, self.mean_values(|m| to_f32_vec(wide(m).weight.val())))
    }

    /// Each member's `layer` weights of the inputs it reads directly (from input `first` on,
    /// as many as `linear` has), side by side, then the members' mean of `linear`'s weights of
    /// the same inputs (a linear part beside the layer): `[inputs, k·hidden + 1]`, matching the
    /// columns of [`Stacker::folded_table`].
    pub fn folded_inputs(&self, layer: impl Fn(&M) -> &Linear, first: usize, linear: impl Fn(&M) -> &Linear) -> Tensor<2> {
        let k = self.members.len();
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let [inputs, _] = linear(&self.members[0]).weight.val().dims();
        let width = k * hidden + 1;
        let mut values = vec![0.0f32; inputs * width];
        for (m, member) in self.members.iter().enumerate() {
            let weight = to_f32_vec(layer(member).weight.val());
            for i in 0..inputs {
                values[i * width + m * hidden..][..hidden].copy_from_slice(&weight[(first + i) * hidden..][..hidden]);
            }
        }
        self.with_last_column(values, width, self.mean_values(|m| to_f32_vec(linear(m).weight.val())))
    }

    /// `values`, rows of `width` whose last column is still empty, with `last` there: `[rows, width]`.
    fn with_last_column(&self, mut values: Vec<f32>, width: usize, last: Vec<f32>) -> Tensor<2> {
        let rows = last.len();
        for (row, value) in last.into_iter().enumerate() {
            values[row * width + width - 1] = value;
        }
        self.tensor(values, [rows, width])
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
