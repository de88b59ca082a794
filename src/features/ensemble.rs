//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::to_f32_vec;
use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Int, Tensor};

/// The mean of `forward` over `members` (at least one).
pub fn average<M, const D: usize>(members: &[M], forward: impl Fn(&M) -> Tensor<D>) -> Tensor<D> {
    let mut iter = members.iter();
    let first = forward(iter.next().expect("an ensemble has a member"));
    iter.fold(first, |sum, member| sum + forward(member)) / members.len() as f64
}

/// Lays an ensemble out for serving: members' parameters stacked on a leading axis, so that a
/// request runs one batched product per layer for all members instead of one net after another.
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

    /// Every member's table of `embedding` in one.
    pub fn embedding(&self, embedding: impl Fn(&M) -> &Embedding) -> StackedEmbedding {
        let k = self.members.len();
        let [vocab, dim] = embedding(&self.members[0]).weight.val().dims();
        let table = self.members.iter().flat_map(|m| to_f32_vec(embedding(m).weight.val())).collect();
        let offsets: Vec<i64> = (0..k).map(|m| (m * vocab) as i64).collect();
        StackedEmbedding {
            table: self.tensor(table, [k * vocab, dim]),
            offsets: Tensor::<1, Int>::from_ints(offsets.as_slice(), &self.device).reshape([k, 1, 1]),
        }
    }

    /// Every member's `layer` side by side; weights and biases times `scale` (1/k makes the sum
    /// over members their mean).
    pub fn linear(&self, layer: impl Fn(&M) -> &Linear, scale: f32) -> StackedLinear {
        let k = self.members.len();
        let [inputs, outputs] = layer(&self.members[0]).weight.val().dims();
        let stack = |values: &dyn Fn(&Linear) -> Vec<f32>| self.members.iter().flat_map(|m| values(layer(m))).map(|v| v * scale).collect();
        StackedLinear {
            weight: self.tensor(stack(&|l| to_f32_vec(l.weight.val())), [k, inputs, outputs]),
            bias: self.tensor(stack(&bias_values), [k, 1, outputs]),
        }
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
        for (v, w) in self.mean_values(|m| to_f32_vec(wide(m).weight.val())).into_iter().enumerate() {
            rows[v * width + width - 1] = w;
        }
        self.tensor(rows, [vocab, width])
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

    /// The members' mean of a layer whose output is averaged as it is (a linear part).
    pub fn mean_linear(&self, layer: impl Fn(&M) -> &Linear) -> Linear {
        let dims = layer(&self.members[0]).weight.val().dims();
        Linear {
            weight: Param::from_tensor(self.tensor(self.mean_values(|m| to_f32_vec(layer(m).weight.val())), dims)),
            bias: Some(Param::from_tensor(self.tensor(self.mean_values(|m| bias_values(layer(m))), [dims[1]]))),
        }
    }
}

/// A layer's bias values (zeros when it has none).
pub fn bias_values(linear: &Linear) -> Vec<f32> {
    linear.bias.as_ref().map(|b| to_f32_vec(b.val())).unwrap_or_else(|| vec![0.0; linear.weight.val().dims()[1]])
}

/// Every member's embedding table in one, `[k·vocab, dim]`: member m's rows start at m·vocab.
#[derive(Debug, Clone)]
pub struct StackedEmbedding {
    table: Tensor<2>,
    /// `[k, 1, 1]`: m·vocab, added to member m's indices.
    offsets: Tensor<3, Int>,
}

impl StackedEmbedding {
    pub fn members(&self) -> usize {
        self.offsets.dims()[0]
    }

    /// Every member's vectors of `indices` `[batch, n]`: `[k, batch, n, dim]`.
    pub fn lookup(&self, indices: Tensor<2, Int>) -> Tensor<4> {
        let [batch, n] = indices.dims();
        let [_, dim] = self.table.dims();
        let k = self.members();
        let indices = indices.unsqueeze::<3>().expand([k, batch, n]) + self.offsets.clone();
        self.table.clone().select(0, indices.reshape([k * batch * n])).reshape([k, batch, n, dim])
    }

    /// Every member's weighted bags of `[batch, width]` tokens: `[k, batch, dim]`.
    pub fn bags(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<3> {
        let [batch, width] = tokens.dims();
        let [_, dim] = self.table.dims();
        (self.lookup(tokens) * weights.reshape([1, batch, width, 1])).sum_dim(2).reshape([self.members(), batch, dim])
    }
}

/// Every member's layer side by side: `[k, batch, in]` → `[k, batch, out]` in one product.
#[derive(Debug, Clone)]
pub struct StackedLinear {
    /// `[k, in, out]`.
    weight: Tensor<3>,
    /// `[k, 1, out]`.
    bias: Tensor<3>,
}

impl StackedLinear {
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        input.matmul(self.weight.clone()) + self.bias.clone()
    }
}
