//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::bag::{Bag, weighted_tokens};
use super::to_f32_vec;
use burn::nn::{Embedding, Linear};
use burn::tensor::Tensor;

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
}

impl<'a, M> Stacker<'a, M> {
    pub fn new(members: &'a [M]) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    fn mean_values(&self, values: impl Fn(&M) -> Vec<f32>) -> Vec<f32> {
        let k = self.members.len() as f32;
        let sums = self
            .members
            .iter()
            .map(values)
            .reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
            .unwrap_or_default();
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
                    vector
                        .iter()
                        .enumerate()
                        .map(|(d, &e)| e as f64 * weight[(first + d) * hidden + j] as f64)
                        .sum::<f64>() as f32
                }));
            }
            rows
        };
        let wide = self.mean_values(|m| to_f32_vec(wide(m).weight.val()));
        RowTable::new(self.side_by_side(wide.len(), hidden, folded, Some(wide)), self.width(hidden))
    }

    /// Each member's `layer` weights of the inputs it reads directly (from input `first` on,
    /// as many as `linear` has), side by side, then the members' mean of `linear`'s weights of
    /// the same inputs (a linear part beside the layer): `[inputs, k·hidden + 1]` row-major,
    /// matching the columns of [`Stacker::folded_table`].
    pub fn folded_inputs(
        &self,
        layer: impl Fn(&M) -> &Linear,
        first: usize,
        linear: impl Fn(&M) -> &Linear,
    ) -> Vec<f32> {
        let [_, hidden] = layer(&self.members[0]).weight.val().dims();
        let [inputs, _] = linear(&self.members[0]).weight.val().dims();
        let weights = |member: &M| {
            to_f32_vec(layer(member).weight.val())[first * hidden..(first + inputs) * hidden]
                .to_vec()
        };
        self.side_by_side(
            inputs,
            hidden,
            weights,
            Some(self.mean_values(|m| to_f32_vec(linear(m).weight.val()))),
        )
    }

    /// Every member's `layer` side by side, reading the same inputs: its weights `[inputs,
    /// k·outputs]` row-major (member m's in columns m·outputs…) and biases `[k·outputs]`.
    pub fn layers_side_by_side(&self, layer: impl Fn(&M) -> &Linear) -> (Vec<f32>, Vec<f32>) {
        let [inputs, outputs] = layer(&self.members[0]).weight.val().dims();
        let weight =
            self.side_by_side(inputs, outputs, |m| to_f32_vec(layer(m).weight.val()), None);
        (weight, self.side_by_side(1, outputs, |m| bias_values(layer(m)), None))
    }

    /// Columns of a folded row: every member's `hidden` values, then one.
    fn width(&self, hidden: usize) -> usize {
        self.members.len() * hidden + 1
    }

    /// `[rows, k·block (+ 1)]` row-major: each member's `rows × block` values (row-major) side
    /// by side, then `last` (one value a row), when given, in a last column.
    fn side_by_side(
        &self,
        rows: usize,
        block: usize,
        values: impl Fn(&M) -> Vec<f32>,
        last: Option<Vec<f32>>,
    ) -> Vec<f32> {
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

    /// `[k·hidden + 1]`: each member's `layer` bias side by side, then `last`.
    pub fn folded_bias(&self, layer: impl Fn(&M) -> &Linear, last: f32) -> Vec<f32> {
        let mut values: Vec<f32> =
            self.members.iter().flat_map(|m| bias_values(layer(m))).collect();
        values.push(last);
        values
    }

    /// Every member's `output` layer (reading its hidden units) as plain values (see
    /// [`MemberOutputs`]), to read the rows of `table`.
    pub fn member_outputs(
        &self,
        output: impl Fn(&M) -> &Linear,
        table: &RowTable,
    ) -> MemberOutputs {
        let [hidden, outputs] = output(&self.members[0]).weight.val().dims();
        let mut weights = Vec::with_capacity(self.members.len() * outputs * hidden);
        let mut biases = Vec::with_capacity(self.members.len() * outputs);
        for member in self.members {
            // Burn keeps a layer's weights `[inputs, outputs]`; each output's run is made contiguous.
            let values = to_f32_vec(output(member).weight.val());
            for o in 0..outputs {
                weights.extend((0..hidden).map(|j| values[j * outputs + o]));
            }
            biases.extend(bias_values(output(member)));
        }
        let outputs =
            MemberOutputs { weights, biases, members: self.members.len(), hidden, outputs };
        assert_eq!(outputs.width(), table.width(), "output layers reading the folded rows");
        outputs
    }

    /// The members' mean of `value`.
    pub fn mean(&self, value: impl Fn(&M) -> f32) -> f32 {
        self.members.iter().map(value).sum::<f32>() / self.members.len() as f32
    }

    /// The members' mean of a table (a wide part, linear in the output).
    pub fn mean_table(&self, embedding: impl Fn(&M) -> &Embedding) -> RowTable {
        let [_, width] = embedding(&self.members[0]).weight.val().dims();
        RowTable::new(self.mean_values(|m| to_f32_vec(embedding(m).weight.val())), width)
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
}

impl RowTable {
    pub fn new(values: Vec<f32>, width: usize) -> Self {
        assert!(width > 0 && values.len().is_multiple_of(width), "a table of whole rows");
        Self { values, width }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Appends `rows` (`[n, width]` row-major) and returns the index of the first (see
    /// [`LinearRows`]).
    pub fn append(&mut self, rows: Vec<f32>) -> u32 {
        assert!(rows.len().is_multiple_of(self.width), "rows as wide as the table's");
        let first = (self.values.len() / self.width) as u32;
        self.values.extend(rows);
        first
    }

    pub fn row(&self, index: u32) -> &[f32] {
        &self.values[index as usize * self.width..][..self.width]
    }

    /// `Σ_t w_t · row[t]` over each bag's `(row, weight)` pairs, bag after bag: `[bags, width]`
    /// row-major.
    pub fn bag_sums<B: IntoIterator<Item = (u32, f32)>>(
        &self,
        bags: impl ExactSizeIterator<Item = B>,
    ) -> Vec<f32> {
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

    /// [`RowTable::bag_sums`] of token bags (each token's row weighed by its weight).
    pub fn token_bag_sums(&self, bags: &[Bag<'_>]) -> Vec<f32> {
        self.bag_sums(bags.iter().map(|&bag| weighted_tokens(bag)))
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
    /// `bias` (`[width]`) to `table`.
    pub fn append(table: &mut RowTable, numeric: Vec<f32>, bias: Vec<f32>) -> Self {
        let n_numeric = numeric.len() / table.width();
        assert!(n_numeric > 0, "a layer with numeric inputs");
        assert_eq!(bias.len(), table.width(), "a bias row as wide as the table's");
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
    pub fn after<'a>(
        &self,
        bag: impl Iterator<Item = (u32, f32)> + 'a,
        inputs: &'a [f32],
    ) -> impl Iterator<Item = (u32, f32)> + 'a {
        let this = *self;
        bag.chain(inputs.iter().enumerate().map(move |(i, &x)| this.numeric_term(i, x)))
            .chain([(self.bias, 1.0)])
    }
}

/// A layer's bias values (zeros when it has none).
pub fn bias_values(linear: &Linear) -> Vec<f32> {
    linear
        .bias
        .as_ref()
        .map(|b| to_f32_vec(b.val()))
        .unwrap_or_else(|| vec![0.0; linear.weight.val().dims()[1]])
}

/// Every member's output layer as plain values, read on a folded pre-activation row of
/// `k·hidden + 1` values (every member's hidden units side by side before their ReLU, then the
/// linear parts' sum). After the fold only these small dot products are left of a forward pass;
/// as tensor operations (a slice, a ReLU, a product and an addition) their fixed cost was about
/// a tenth of a cancellation request's server CPU under load (perf).
#[derive(Debug, Clone)]
pub struct MemberOutputs {
    /// `[k, outputs, hidden]`: member m's weights of its output o over its hidden units.
    weights: Vec<f32>,
    /// `[k, outputs]`.
    biases: Vec<f32>,
    members: usize,
    hidden: usize,
    outputs: usize,
}

impl MemberOutputs {
    /// Member `m`'s output `o` of the row `pre`.
    pub fn output(&self, pre: &[f32], m: usize, o: usize) -> f32 {
        let at = m * self.outputs + o;
        self.biases[at]
            + relu_dot(
                &pre[m * self.hidden..][..self.hidden],
                &self.weights[at * self.hidden..][..self.hidden],
            )
    }

    /// The members' mean of `f` of their output `o` of the row `pre`.
    pub fn mean(&self, pre: &[f32], o: usize, f: impl Fn(f32) -> f32) -> f32 {
        (0..self.members).map(|m| f(self.output(pre, m, o))).sum::<f32>() / self.members as f32
    }

    /// Columns of the rows read: every member's hidden units, then the linear parts' sum.
    pub fn width(&self) -> usize {
        self.members * self.hidden + 1
    }
}

/// The linear parts' sum of a folded pre-activation row (its last column).
pub fn linear_part(pre: &[f32]) -> f32 {
    pre[pre.len() - 1]
}

/// Σ max(h, 0) · w in eight interleaved sums (one chain of float additions cannot be
/// vectorised: its order is fixed).
fn relu_dot(hidden: &[f32], weights: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (hidden_chunks, weight_chunks) = (hidden.chunks_exact(8), weights.chunks_exact(8));
    let rest: f32 = hidden_chunks
        .remainder()
        .iter()
        .zip(weight_chunks.remainder())
        .map(|(h, w)| h.max(0.0) * w)
        .sum();
    for (h, w) in hidden_chunks.zip(weight_chunks) {
        for lane in 0..8 {
            lanes[lane] += h[lane].max(0.0) * w[lane];
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// ln(1 + eˣ), without overflow for large x.
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{float_matrix, index_matrix};
    use burn::tensor::Device;

    #[test]
    fn bag_sums_are_the_weighted_sums_of_the_selected_rows() {
        let device = Device::flex();
        let values: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        let table = RowTable::new(values.clone(), 4);
        // Burn's way: select the rows (padding at index 0 with weight 0), weigh them, sum.
        let tensor = float_matrix(values, 6, 4, &device);
        let indices = index_matrix(vec![1, 5, 2, 3, 0, 0, 0, 0, 0], 3, 3, &device);
        let weights =
            float_matrix(vec![0.5, -1.5, 2.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0], 3, 3, &device);
        let selected = tensor.select(0, indices.reshape([9])).reshape([3, 3, 4]);
        let expected = to_f32_vec((selected * weights.reshape([3, 3, 1])).sum_dim(1));
        // The same bags without padding; the last is empty.
        let bags: [&[(u32, f32)]; 3] = [&[(1, 0.5), (5, -1.5), (2, 2.0)], &[(3, 0.25)], &[]];
        let sums = table.bag_sums(bags.iter().map(|bag| bag.iter().copied()));
        assert_eq!(expected, sums);
        assert_eq!(&sums[8..], &[0.0; 4]);
        let rows: Vec<f32> = [4, 1]
            .iter()
            .flat_map(|&r| (0..4).map(move |c| ((r * 4 + c) as f32 * 0.37).sin()))
            .collect();
        assert_eq!([table.row(4), table.row(1)].concat(), rows);
        // Appended rows sum like the others: a bias row weighed by 1, a numeric input's by its value.
        let mut table = table;
        let first = table.append(vec![1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5]);
        assert_eq!(first, 6);
        let bag = [(3, 0.25), (first, 1.0), (first + 1, -2.0)];
        let expected: Vec<f32> =
            (0..4).map(|c| ((12 + c) as f32 * 0.37).sin() * 0.25 + (c + 1) as f32 - 1.0).collect();
        assert_eq!(table.bag_sums([bag].iter().map(|b| b.iter().copied())), expected);
    }

    #[test]
    fn member_outputs_are_each_members_layer_after_its_relu() {
        let device = Device::flex();
        device.seed(9);
        // Two members of 19 hidden units (two runs of eight and a remainder) and 3 outputs each.
        let layers: Vec<Linear> =
            (0..2).map(|_| burn::nn::LinearConfig::new(19, 3).init(&device)).collect();
        let outputs =
            Stacker::new(&layers).member_outputs(|l| l, &RowTable::new(vec![0.0; 39], 39));
        assert_eq!(outputs.width(), 39);
        let pre: Vec<f32> = (0..39).map(|i| (i as f32 * 0.71).sin()).collect();
        for (m, layer) in layers.iter().enumerate() {
            let hidden = float_matrix(pre[m * 19..][..19].to_vec(), 1, 19, &device).clamp_min(0.0);
            let expected = to_f32_vec(layer.forward(hidden));
            for (o, want) in expected.iter().enumerate() {
                assert!((outputs.output(&pre, m, o) - want).abs() < 1e-6, "member {m} output {o}");
            }
        }
        let mean = outputs.mean(&pre, 2, softplus);
        let want =
            (softplus(outputs.output(&pre, 0, 2)) + softplus(outputs.output(&pre, 1, 2))) / 2.0;
        assert_eq!(mean, want);
        assert_eq!(linear_part(&pre), pre[38]);
        for x in [-30.0f32, -1.5, 0.0, 0.7, 40.0, 200.0] {
            assert!(
                (softplus(x) - (x as f64).exp().ln_1p() as f32).abs() < 1e-6 * x.abs().max(1.0),
                "softplus({x})"
            );
        }
    }
}
