//! The cancellation classifier: an ensemble of small nets, each with a wide part (one weight
//! per value) and a deep part (embeddings + MLP) summed into log-odds; the ensemble averages
//! its members' log-odds (members differ by seed), which steadies a weak, noisy signal.

use crate::features::ensemble::{
    LinearRows, MemberOutputs, RowTable, Stacker, bias_values, linear_part,
};
use burn::module::Initializer;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct CancellationModelConfig {
    /// Embedding rows over all categorical fields (each field's vocabulary, unknown included).
    pub vocab_size: usize,
    pub n_categorical: usize,
    pub n_numeric: usize,
    #[config(default = 8)]
    pub embedding_dim: usize,
    #[config(default = 32)]
    pub hidden_dim: usize,
    #[config(default = 0.3)]
    pub dropout: f64,
    /// Members of the ensemble.
    #[config(default = 1)]
    pub ensemble_size: usize,
}

/// One member of the ensemble.
#[derive(Module, Debug)]
pub struct CancellationNet {
    embedding: Embedding,
    wide: Embedding,
    numeric_wide: Linear,
    hidden: Linear,
    output: Linear,
    dropout: Dropout,
    activation: Relu,
}

#[derive(Module, Debug)]
pub struct CancellationModel {
    members: Vec<CancellationNet>,
}

impl CancellationModelConfig {
    pub fn init_net(&self, device: &Device) -> CancellationNet {
        CancellationNet {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embedding_dim)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                .init(device),
            wide: EmbeddingConfig::new(self.vocab_size, 1)
                .with_initializer(Initializer::Zeros)
                .init(device),
            numeric_wide: LinearConfig::new(self.n_numeric, 1).init(device),
            hidden: LinearConfig::new(
                self.n_categorical * self.embedding_dim + self.n_numeric,
                self.hidden_dim,
            )
            .init(device),
            output: LinearConfig::new(self.hidden_dim, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> CancellationModel {
        CancellationModel {
            members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect(),
        }
    }
}

impl CancellationNet {
    /// Log-odds of cancellation, `[batch]`, from global categorical indices `[batch, fields]`
    /// and standardised numeric inputs `[batch, numeric]`.
    pub fn forward(&self, categorical: Tensor<2, Int>, numeric: Tensor<2>) -> Tensor<1> {
        let [batch, fields] = categorical.dims();
        let deep = self.embedding.forward(categorical.clone());
        let [_, _, dim] = deep.dims();
        let deep = Tensor::cat(vec![deep.reshape([batch, fields * dim]), numeric.clone()], 1);
        let deep = self.dropout.forward(self.activation.forward(self.hidden.forward(deep)));
        let wide = self.wide.forward(categorical).sum_dim(1).reshape([batch, 1]);
        (self.output.forward(deep) + wide + self.numeric_wide.forward(numeric)).reshape([batch])
    }
}

impl CancellationModel {
    pub fn from_members(members: Vec<CancellationNet>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// Mean of the members' log-odds, `[batch]`.
    pub fn forward(&self, categorical: Tensor<2, Int>, numeric: Tensor<2>) -> Tensor<1> {
        crate::features::ensemble::average(&self.members, |m| {
            m.forward(categorical.clone(), numeric.clone())
        })
    }
}

/// The ensemble laid out for serving, built once at load time. Each member's first layer is
/// folded into its embeddings (both are linear): row v of `rows` holds what value v adds to
/// every member's hidden pre-activation (its vector times the first-layer weights that read
/// its field), then the members' mean wide weight. A request sums one row per field, a row
/// per numeric input weighed by its value and the bias row (one plain loop, see [`RowTable`]
/// and [`LinearRows`]), then each member's output weights over its hidden units (see
/// [`MemberOutputs`]): the same log-odds as [`CancellationModel::forward`] (summed in another
/// order), without a tensor operation.
#[derive(Debug, Clone)]
pub struct ServingCancellationNet {
    /// `[vocab + n_numeric + 1, k·hidden + 1]`: each categorical value's row, then each
    /// numeric input's (every member's first-layer weights of it, then the members' mean
    /// numeric wide weight), then the bias row (every member's hidden bias, then the members'
    /// mean numeric wide bias).
    rows: RowTable,
    /// Categorical fields of a line.
    fields: usize,
    /// The numeric inputs' and the bias's rows.
    linear: LinearRows,
    /// Every member's output layer (one output: its log-odds less the wide parts).
    output: MemberOutputs,
    /// Each field's unknown value's row (what an occluded field adds).
    unknown: Vec<u32>,
}

impl ServingCancellationNet {
    /// Log-odds of cancellation, one a line: the ensemble mean of [`CancellationModel::forward`].
    /// `categorical` holds each line's row per field, line after line (`[batch · fields]`), and
    /// `numeric` its numeric inputs (`[batch · n_numeric]`).
    pub fn forward(&self, categorical: &[u32], numeric: &[f32]) -> Vec<f32> {
        self.log_odds(&self.pre_activation(categorical, numeric))
    }

    /// Log-odds of each line followed by those of its occlusions, `1 + fields + numeric` a line:
    /// the line, then each categorical field in turn set to its unknown value, then each numeric
    /// input in turn set to 0 (its training mean). An occlusion changes one term of the line's
    /// pre-activation, so it costs a subtraction rather than a pass of its own.
    pub fn forward_occluded(&self, categorical: &[u32], numeric: &[f32]) -> Vec<f32> {
        let (fields, n_numeric, width) = (self.fields, self.linear.n_numeric(), self.rows.width());
        let lines = self.pre_activation(categorical, numeric);
        // Each numeric input's term alone: its row weighed by its value.
        let terms = self
            .rows
            .bag_sums(numeric.iter().enumerate().map(|(i, &x)| [self.linear.numeric_term(i, x)]));
        let mut all = Vec::with_capacity(lines.len() * (1 + fields + n_numeric));
        for ((line, values), terms) in lines
            .chunks_exact(width)
            .zip(categorical.chunks_exact(fields))
            .zip(terms.chunks_exact(n_numeric * width))
        {
            all.extend_from_slice(line);
            for (&value, &unknown) in values.iter().zip(&self.unknown) {
                let (row, unknown) = (self.rows.row(value), self.rows.row(unknown));
                all.extend((0..width).map(|c| line[c] - row[c] + unknown[c]));
            }
            for term in terms.chunks_exact(width) {
                all.extend(line.iter().zip(term).map(|(l, t)| l - t));
            }
        }
        self.log_odds(&all)
    }

    /// Every member's hidden pre-activation, then the linear parts' sum: `[batch, k·hidden + 1]`
    /// row-major. The numeric inputs and the bias are rows of the table like the categorical
    /// values, so a line's pre-activation is one loop over its rows.
    fn pre_activation(&self, categorical: &[u32], numeric: &[f32]) -> Vec<f32> {
        assert_eq!(
            numeric.len(),
            categorical.len() / self.fields * self.linear.n_numeric(),
            "numeric inputs for every line"
        );
        let lines = categorical
            .chunks_exact(self.fields)
            .zip(numeric.chunks_exact(self.linear.n_numeric()))
            .map(|(line, inputs)| self.linear.after(line.iter().map(|&row| (row, 1.0)), inputs));
        self.rows.bag_sums(lines)
    }

    fn log_odds(&self, pre: &[f32]) -> Vec<f32> {
        pre.chunks_exact(self.rows.width())
            .map(|row| self.output.mean(row, 0, |z| z) + linear_part(row))
            .collect()
    }
}

impl CancellationModel {
    /// (categorical fields, numeric inputs) a line of this model holds.
    pub fn input_shape(&self) -> (usize, usize) {
        let first = &self.members[0];
        let [_, dim] = first.embedding.weight.val().dims();
        let [inputs, _] = first.hidden.weight.val().dims();
        let n_numeric = first.numeric_wide.weight.val().dims()[0];
        ((inputs - n_numeric) / dim, n_numeric)
    }

    /// The serving layout of this ensemble (see [`ServingCancellationNet`]); `field_offsets`
    /// are each categorical field's first embedding row (its values' rows run to the next
    /// field's first), `unknown_rows` each field's row of an unknown value.
    pub fn for_serving(
        &self,
        field_offsets: &[u32],
        unknown_rows: &[u32],
    ) -> ServingCancellationNet {
        let first = &self.members[0];
        let [_, dim] = first.embedding.weight.val().dims();
        let [inputs, _] = first.hidden.weight.val().dims();
        let fields = field_offsets.len();
        let n_numeric = first.numeric_wide.weight.val().dims()[0];
        assert_eq!(inputs, fields * dim + n_numeric, "one offset per categorical field");
        assert_eq!(unknown_rows.len(), fields, "one unknown row per categorical field");
        let stack = Stacker::new(&self.members);
        let field_of_row =
            |row: usize| field_offsets.partition_point(|&offset| offset as usize <= row) - 1;
        let mut rows = stack.folded_table(
            |n| &n.embedding,
            |n| &n.hidden,
            |row| field_of_row(row) * dim,
            |n| &n.wide,
        );
        let linear = LinearRows::append(
            &mut rows,
            stack.folded_inputs(|n| &n.hidden, fields * dim, |n| &n.numeric_wide),
            stack.folded_bias(|n| &n.hidden, stack.mean(|n| bias_values(&n.numeric_wide)[0])),
        );
        let output = stack.member_outputs(|n| &n.output, &rows);
        ServingCancellationNet { unknown: unknown_rows.to_vec(), rows, fields, linear, output }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{float_matrix, index_matrix, to_f32_vec};

    /// A 3-member ensemble over 3 fields (rows 0–2, 3–8, 9–19; unknown values at each field's
    /// first row) with non-zero wide weights, as after training.
    fn trained_ensemble(device: &Device) -> CancellationModel {
        device.seed(3);
        let config = CancellationModelConfig::new(20, 3, 2)
            .with_embedding_dim(4)
            .with_hidden_dim(5)
            .with_ensemble_size(3);
        let mut model = config.init(device);
        for net in &mut model.members {
            net.wide.weight = burn::module::Param::from_tensor(Tensor::random(
                [20, 1],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                device,
            ));
        }
        model
    }

    const OFFSETS: [u32; 3] = [0, 3, 9];

    fn assert_close(expected: &[f32], actual: &[f32]) {
        assert_eq!(expected.len(), actual.len());
        for (a, b) in expected.iter().zip(actual) {
            assert!((a - b).abs() < 1e-5, "{expected:?} vs {actual:?}");
        }
    }

    #[test]
    fn the_serving_layout_computes_the_ensemble_mean() {
        let device = Device::flex();
        let model = trained_ensemble(&device);
        let categorical = [1, 7, 19, 0, 3, 12];
        let numeric = float_matrix(vec![0.5, -1.0, 2.0, 0.1], 2, 2, &device);
        let ensemble = to_f32_vec(model.forward(
            index_matrix(categorical.map(i64::from).to_vec(), 2, 3, &device),
            numeric.clone(),
        ));
        let fused =
            model.for_serving(&OFFSETS, &OFFSETS).forward(&categorical, &to_f32_vec(numeric));
        assert_close(&ensemble, &fused);
    }

    #[test]
    fn occluded_log_odds_are_those_of_the_occluded_rows() {
        let device = Device::flex();
        let model = trained_ensemble(&device);
        let lines: [([u32; 3], [f32; 2]); 2] =
            [([1, 7, 19], [0.5, -1.0]), ([2, 4, 12], [2.0, 0.1])];
        // What the occlusions mean, row by row: the line, each field set to its unknown value,
        // each numeric input set to 0.
        let mut categorical = Vec::new();
        let mut numeric = Vec::new();
        for (fields, inputs) in lines {
            let mut push = |c: [u32; 3], n: [f32; 2]| {
                categorical.extend(c.map(i64::from));
                numeric.extend(n);
            };
            push(fields, inputs);
            for field in 0..3 {
                let mut occluded = fields;
                occluded[field] = OFFSETS[field];
                push(occluded, inputs);
            }
            for input in 0..2 {
                let mut occluded = inputs;
                occluded[input] = 0.0;
                push(fields, occluded);
            }
        }
        let rows = categorical.len() / 3;
        let expected = to_f32_vec(model.forward(
            index_matrix(categorical, rows, 3, &device),
            float_matrix(numeric, rows, 2, &device),
        ));
        let serving = model.for_serving(&OFFSETS, &OFFSETS);
        let occluded = serving.forward_occluded(
            &lines.iter().flat_map(|l| l.0).collect::<Vec<_>>(),
            &lines.iter().flat_map(|l| l.1).collect::<Vec<_>>(),
        );
        assert_close(&expected, &occluded);
    }
}
