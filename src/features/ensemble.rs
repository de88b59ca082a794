//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::bag::{Bag, weighted_tokens};
use super::{float_matrix, to_f32_vec};
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
    ) -> RowTable {
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
        let wide = self.mean_values(|m| to_f32_vec(wide(m).weight.val()));
        RowTable::new(self.side_by_side(wide.len(), hidden, folded, Some(wide)), self.width(hidden), &self.device)
    }

    /// Each member's `layer` weights of the inputs it reads directly (from input `first` on,
    /// as many as `linear` has), side by side, then the members' mean of `linear`'s weights of
    /// the same inputs (a linear part beside the layer): `[inputs, k·hidden + 1]`, matching the
    /// columns of [`Stacker::folded_table`].
    pub fn folded_inputs(&self, layer: impl Fn(&M) -> &Linear, first: usize, linear: impl Fn(&M) -> &Linear) -> Tensor<2> {
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let [inputs, _] = linear(&self.members[0]).weight.val().dims();
        let weights = |member: &M| to_f32_vec(layer(member).weight.val())[first * hidden..(first + inputs) * hidden].to_vec();
        let values = self.side_by_side(inputs, hidden, weights, Some(self.mean_values(|m| to_f32_vec(linear(m).weight.val()))));
        float_matrix(values, inputs, self.width(hidden), &self.device)
    }

    /// Every member's `layer` side by side, reading the same inputs: its weights `[inputs,
    /// k·outputs]` (member m's in columns m·outputs…) and biases `[1, k·outputs]`.
    pub fn layers_side_by_side(&self, layer: impl Fn(&M) -> &Linear) -> (Tensor<2>, Tensor<2>) {
        let [inputs, outputs] = layer(&self.members[0]).weight.val().dims();
        let width = self.members.len() * outputs;
        let weight = self.side_by_side(inputs, outputs, |m| to_f32_vec(layer(m).weight.val()), None);
        let bias = self.side_by_side(1, outputs, |m| bias_values(layer(m)), None);
        (float_matrix(weight, inputs, width, &self.device), float_matrix(bias, 1, width, &self.device))
    }

    /// Columns of a folded row: every member's `hidden` values, then one.
    fn width(&self, hidden: usize) -> usize {
        self.members.len() * hidden + 1
    }

    /// `[rows, k·block (+ 1)]` row-major: each member's `rows × block` values (row-major) side
    /// by side, then `last` (one value a row), when given, in a last column.
    fn side_by_side(&self, rows: usize, block: usize, values: impl Fn(&M) -> Vec<f32>, last: Option<Vec<f32>>) -> Vec<f32> {
        let width = self.members.len() * block + usize::from(last.is_some());
        let mut out = vec![0.0f32; rows * width];
        for (m, member) in self.members.iter().enumerate() {
            for (row, values) in values(member).chunks(block).enumerate() {
                out[row * width + m * block..][..block].copy_from_slice(values);
            }
        }
        for (row, value) in last.into_iter().flatten().enumerate() {
            out[row * width + width - 1] = value;
        }
        out
    }

    /// `[1, k·hidden + 1]`: each member's `layer` bias side by side, then `last`.
    pub fn folded_bias(&self, layer: impl Fn(&M) -> &Linear, last: f32) -> Tensor<2> {
        let mut values: Vec<f32> = self.members.iter().flat_map(|m| bias_values(layer(m))).collect();
        values.push(last);
        let width = values.len();
        float_matrix(values, 1, width, &self.device)
    }

    /// `[k·hidden, 1]`: each member's `output` weights (one output) over k, so that their
    /// product with the members' hidden layers side by side is the members' mean.
    pub fn folded_output(&self, output: impl Fn(&M) -> &Linear) -> Tensor<2> {
        let k = self.members.len() as f32;
        let values: Vec<f32> = self.members.iter().flat_map(|m| to_f32_vec(output(m).weight.val())).map(|w| w / k).collect();
        let rows = values.len();
        float_matrix(values, rows, 1, &self.device)
    }

    /// The members' mean of `value`.
    pub fn mean(&self, value: impl Fn(&M) -> f32) -> f32 {
        self.members.iter().map(value).sum::<f32>() / self.members.len() as f32
    }

    /// The members' mean of a table (a wide part, linear in the output).
    pub fn mean_table(&self, embedding: impl Fn(&M) -> &Embedding) -> RowTable {
        let [_, width] = embedding(&self.members[0]).weight.val().dims();
        RowTable::new(self.mean_values(|m| to_f32_vec(embedding(m).weight.val())), width, &self.device)
    }
}

/// A folded table kept as plain rows, read without tensor operations. Burn has no
/// embedding-bag operation: `select` then `sum_dim` copies every bag's rows into a
/// `[batch, n, width]` tensor, and at batch 1 the fixed cost of those operations and of the
/// index tensor was most of a request's model time under load. A bag's sum here is one loop
/// over its rows, adding them in the order `sum_dim` did.
#[derive(Debug, Clone)]
pub struct RowTable {
    /// `[rows, width]`, row-major.
    values: Vec<f32>,
    width: usize,
    device: Device,
}

impl RowTable {
    pub fn new(values: Vec<f32>, width: usize, device: &Device) -> Self {
        assert!(width > 0 && values.len().is_multiple_of(width), "a table of whole rows");
        Self { values, width, device: device.clone() }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Appends `rows` (`[n, width]`) and returns the index of the first (see [`LinearRows`]).
    pub fn append(&mut self, rows: Tensor<2>) -> u32 {
        let [_, width] = rows.dims();
        assert_eq!(width, self.width, "rows as wide as the table's");
        let first = (self.values.len() / self.width) as u32;
        self.values.extend(to_f32_vec(rows));
        first
    }

    fn row(&self, index: u32) -> &[f32] {
        &self.values[index as usize * self.width..][..self.width]
    }

    /// `Σ_t w_t · row[t]` over each bag's `(row, weight)` pairs: `[bags, width]`.
    pub fn bag_sums<B: IntoIterator<Item = (u32, f32)>>(&self, bags: impl ExactSizeIterator<Item = B>) -> Tensor<2> {
        let n = bags.len();
        self.matrix(self.bag_sum_values(bags), n)
    }

    /// [`RowTable::bag_sums`] as plain values, bag after bag, for work that goes on before a
    /// tensor is made.
    pub fn bag_sum_values<B: IntoIterator<Item = (u32, f32)>>(&self, bags: impl ExactSizeIterator<Item = B>) -> Vec<f32> {
        let mut out = vec![0.0f32; bags.len() * self.width];
        for (sum, bag) in out.chunks_exact_mut(self.width).zip(bags) {
            for (index, weight) in bag {
                for (s, &v) in sum.iter_mut().zip(self.row(index)) {
                    *s += v * weight;
                }
            }
        }
        out
    }

    /// `rows` rows of this table's width as a tensor `[rows, width]`.
    pub fn matrix(&self, values: Vec<f32>, rows: usize) -> Tensor<2> {
        float_matrix(values, rows, self.width, &self.device)
    }

    /// [`RowTable::bag_sums`] of token bags (each token's row weighed by its weight).
    pub fn token_bag_sums(&self, bags: &[Bag<'_>]) -> Tensor<2> {
        self.bag_sums(bags.iter().map(|&bag| weighted_tokens(bag)))
    }

    /// The rows of `indices`, in order: `[n, width]`.
    pub fn rows(&self, indices: impl ExactSizeIterator<Item = u32>) -> Tensor<2> {
        let n = indices.len();
        let mut out = Vec::with_capacity(n * self.width);
        for index in indices {
            out.extend_from_slice(self.row(index));
        }
        self.matrix(out, n)
    }
}

/// Where a folded layer's other linear inputs sit in its [`RowTable`]: a row per numeric input
/// (weighed by the input's value) and the bias row (weighed by 1), appended after the bag's
/// rows, so that a whole pre-activation is one loop over rows instead of a bag sum, a product
/// and two additions in tensors (at batch 1 each tensor operation's fixed cost dominates).
#[derive(Debug, Clone, Copy)]
pub struct LinearRows {
    first_numeric: u32,
    n_numeric: usize,
    bias: u32,
}

impl LinearRows {
    /// Appends `numeric` (`[n_numeric, width]`, the layer's weights of each numeric input) and
    /// `bias` (`[1, width]`) to `table`.
    pub fn append(table: &mut RowTable, numeric: Tensor<2>, bias: Tensor<2>) -> Self {
        let [n_numeric, _] = numeric.dims();
        assert!(n_numeric > 0, "a layer with numeric inputs");
        Self { first_numeric: table.append(numeric), n_numeric, bias: table.append(bias) }
    }

    pub fn n_numeric(&self) -> usize {
        self.n_numeric
    }

    /// The `index`-th numeric input (of a row of inputs) with value `x` as a (row, weight) pair.
    pub fn numeric_term(&self, index: usize, x: f32) -> (u32, f32) {
        (self.first_numeric + (index % self.n_numeric) as u32, x)
    }

    /// `bag`'s (row, weight) pairs, then the numeric `inputs`' and the bias's.
    pub fn after<'a>(&self, bag: impl Iterator<Item = (u32, f32)> + 'a, inputs: &'a [f32]) -> impl Iterator<Item = (u32, f32)> + 'a {
        let this = *self;
        bag.chain(inputs.iter().enumerate().map(move |(i, &x)| this.numeric_term(i, x))).chain([(self.bias, 1.0)])
    }
}

/// A layer's bias values (zeros when it has none).
pub fn bias_values(linear: &Linear) -> Vec<f32> {
    linear.bias.as_ref().map(|b| to_f32_vec(b.val())).unwrap_or_else(|| vec![0.0; linear.weight.val().dims()[1]])
}

/// A folded pre-activation `[batch, k·hidden + 1]` split into every member's hidden layer
/// (after its ReLU) and the last column, the linear parts' sum `[batch, 1]`.
pub fn hidden_and_linear(pre: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [batch, width] = pre.dims();
    (pre.clone().slice([0..batch, 0..width - 1]).clamp_min(0.0), pre.slice([0..batch, width - 1..width]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::index_matrix;

    #[test]
    fn bag_sums_are_the_weighted_sums_of_the_selected_rows() {
        let device = Device::flex();
        let values: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        let table = RowTable::new(values.clone(), 4, &device);
        // Burn's way: select the rows (padding at index 0 with weight 0), weigh them, sum.
        let tensor = float_matrix(values, 6, 4, &device);
        let indices = index_matrix(vec![1, 5, 2, 3, 0, 0, 0, 0, 0], 3, 3, &device);
        let weights = float_matrix(vec![0.5, -1.5, 2.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0], 3, 3, &device);
        let selected = tensor.select(0, indices.reshape([9])).reshape([3, 3, 4]);
        let expected = to_f32_vec((selected * weights.reshape([3, 3, 1])).sum_dim(1));
        // The same bags without padding; the last is empty.
        let bags: [&[(u32, f32)]; 3] = [&[(1, 0.5), (5, -1.5), (2, 2.0)], &[(3, 0.25)], &[]];
        let sums = to_f32_vec(table.bag_sums(bags.iter().map(|bag| bag.iter().copied())));
        assert_eq!(expected, sums);
        assert_eq!(&sums[8..], &[0.0; 4]);
        let rows: Vec<f32> = [4, 1].iter().flat_map(|&r| (0..4).map(move |c| ((r * 4 + c) as f32 * 0.37).sin())).collect();
        assert_eq!(to_f32_vec(table.rows([4, 1].into_iter())), rows);
        // Appended rows sum like the others: a bias row weighed by 1, a numeric input's by its value.
        let mut table = table;
        let first = table.append(float_matrix(vec![1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5], 2, 4, &device));
        assert_eq!(first, 6);
        let bag = [(3, 0.25), (first, 1.0), (first + 1, -2.0)];
        let expected: Vec<f32> = (0..4).map(|c| ((12 + c) as f32 * 0.37).sin() * 0.25 + (c + 1) as f32 - 1.0).collect();
        assert_eq!(to_f32_vec(table.bag_sums([bag].iter().map(|b| b.iter().copied()))), expected);
    }
}
