//! The price model: an ensemble of small nets predicting three quantiles (P10, P50, P90) of
//! ln(selling price / list price) from a weighted token bag and numeric inputs. The upper and
//! lower quantiles are the median ± a softplus, so they never cross.

use crate::features::bag::{Bag, weighted_bag, weighted_tokens};
use crate::features::ensemble::{
    self, LinearRows, MemberOutputs, RowTable, Stacker, bias_values, linear_part,
};
use burn::module::Initializer;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::activation::softplus;

#[derive(Config, Debug)]
pub struct PriceModelConfig {
    pub vocab_size: usize,
    pub n_numeric: usize,
    #[config(default = 16)]
    pub embedding_dim: usize,
    #[config(default = 32)]
    pub hidden_dim: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
    #[config(default = 1)]
    pub ensemble_size: usize,
}

#[derive(Module, Debug)]
pub struct PriceNet {
    embedding: Embedding,
    wide: Embedding,
    numeric_wide: Linear,
    hidden: Linear,
    output: Linear,
    dropout: Dropout,
    activation: Relu,
}

#[derive(Module, Debug)]
pub struct PriceModel {
    members: Vec<PriceNet>,
}

impl PriceModelConfig {
    pub fn init_net(&self, device: &Device) -> PriceNet {
        PriceNet {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embedding_dim)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                .init(device),
            wide: EmbeddingConfig::new(self.vocab_size, 1)
                .with_initializer(Initializer::Zeros)
                .init(device),
            numeric_wide: LinearConfig::new(self.n_numeric, 1).init(device),
            hidden: LinearConfig::new(self.embedding_dim + self.n_numeric, self.hidden_dim)
                .init(device),
            output: LinearConfig::new(self.hidden_dim, 3).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> PriceModel {
        PriceModel {
            members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect(),
        }
    }
}

impl PriceNet {
    /// Σ of the squared token weights (wide and embedding): the ridge penalty of training.
    pub fn token_weight_penalty(&self) -> Tensor<1> {
        self.wide.weight.val().powi_scalar(2).sum()
            + self.embedding.weight.val().powi_scalar(2).sum()
    }

    /// `[batch, 3]`: P10, P50, P90 of ln(selling / list).
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        weights: Tensor<2>,
        numeric: Tensor<2>,
    ) -> Tensor<2> {
        let bag = weighted_bag(&self.embedding, tokens.clone(), weights.clone());
        let wide = weighted_bag(&self.wide, tokens, weights);
        let [batch, _] = bag.dims();
        let deep = Tensor::cat(vec![bag, numeric.clone()], 1);
        let deep = self
            .output
            .forward(self.dropout.forward(self.activation.forward(self.hidden.forward(deep))));
        let median =
            deep.clone().slice([0..batch, 1..2]) + wide + self.numeric_wide.forward(numeric);
        let below = softplus(deep.clone().slice([0..batch, 0..1]), 1.0);
        let above = softplus(deep.slice([0..batch, 2..3]), 1.0);
        Tensor::cat(vec![median.clone() - below, median.clone(), median + above], 1)
    }
}

impl PriceModel {
    pub fn from_members(members: Vec<PriceNet>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// Mean of the members' quantiles, `[batch, 3]`.
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        weights: Tensor<2>,
        numeric: Tensor<2>,
    ) -> Tensor<2> {
        crate::features::ensemble::average(&self.members, |m| {
            m.forward(tokens.clone(), weights.clone(), numeric.clone())
        })
    }
}

/// The ensemble laid out for serving, built once at load time (see
/// [`crate::features::ensemble::Stacker`]). As cancellation's, each member's first layer is
/// folded into its token table (a bag and the layer reading it are both linear), with the
/// members' mean wide weight as the last column. A request sums its tokens' weighted rows
/// with its numeric inputs' and the bias's (see [`LinearRows`]), then reads each member's
/// output layer (see [`MemberOutputs`]): the median is the members' mean median plus the
/// linear parts, each bound the members' mean softplus away from it.
#[derive(Debug, Clone)]
pub struct ServingPriceNet {
    /// `[vocab + n_numeric + 1, k·hidden + 1]`: each token's row, then each numeric input's
    /// (every member's first-layer weights of it, then the members' mean numeric wide weight),
    /// then the bias row (every member's hidden bias, then the members' mean numeric wide bias).
    table: RowTable,
    /// The numeric inputs' and the bias's rows.
    linear: LinearRows,
    /// Every member's output layer: raw below, median, raw above.
    output: MemberOutputs,
}

impl ServingPriceNet {
    /// P10, P50, P90 of each product: the ensemble mean of [`PriceModel::forward`].
    /// `bags` holds each product's tokens, `numeric` its numeric inputs (`[batch · n_numeric]`).
    pub fn forward(&self, bags: &[Bag<'_>], numeric: &[f32]) -> Vec<[f32; 3]> {
        assert_eq!(
            numeric.len(),
            bags.len() * self.linear.n_numeric(),
            "numeric inputs for every product"
        );
        let products = bags
            .iter()
            .zip(numeric.chunks_exact(self.linear.n_numeric()))
            .map(|(bag, inputs)| self.linear.after(weighted_tokens(*bag), inputs));
        let pre = self.table.bag_sums(products);
        pre.chunks_exact(self.table.width())
            .map(|row| {
                let median = self.output.mean(row, 1, |z| z) + linear_part(row);
                [
                    median - self.output.mean(row, 0, ensemble::softplus),
                    median,
                    median + self.output.mean(row, 2, ensemble::softplus),
                ]
            })
            .collect()
    }
}

impl PriceModel {
    /// The serving layout of this ensemble (see [`ServingPriceNet`]).
    pub fn for_serving(&self) -> ServingPriceNet {
        let stack = Stacker::new(&self.members);
        let [_, dim] = self.members[0].embedding.weight.val().dims();
        let mut table = stack.folded_table(|n| &n.embedding, |n| &n.hidden, |_| 0, |n| &n.wide);
        let linear = LinearRows::append(
            &mut table,
            stack.folded_inputs(|n| &n.hidden, dim, |n| &n.numeric_wide),
            stack.folded_bias(|n| &n.hidden, stack.mean(|n| bias_values(&n.numeric_wide)[0])),
        );
        let output = stack.member_outputs(|n| &n.output, &table);
        ServingPriceNet { table, linear, output }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{float_matrix, index_matrix, to_f32_vec};

    #[test]
    fn the_serving_layout_computes_the_ensemble_mean() {
        let device = Device::flex();
        device.seed(5);
        let config = PriceModelConfig::new(30, 2)
            .with_embedding_dim(4)
            .with_hidden_dim(6)
            .with_ensemble_size(3);
        let mut model = config.init(&device);
        // Non-zero wide weights, as after training.
        for net in &mut model.members {
            net.wide.weight = burn::module::Param::from_tensor(Tensor::random(
                [30, 1],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            ));
        }
        // Serving leaves the padding (index 0, weight 0) out of the bags.
        let tokens = index_matrix(vec![1, 7, 29, 0, 3, 12, 0, 0], 2, 4, &device);
        let weights = float_matrix(vec![1.0, 0.5, 0.5, 0.0, 1.0, 0.7, 0.0, 0.0], 2, 4, &device);
        let numeric = float_matrix(vec![0.5, -1.0, 2.0, 0.1], 2, 2, &device);
        let ensemble = to_f32_vec(model.forward(tokens, weights, numeric.clone()));
        let bags: [Bag<'_>; 2] = [(&[1, 7, 29], &[1.0, 0.5, 0.5]), (&[3, 12], &[1.0, 0.7])];
        let serving: Vec<f32> = model.for_serving().forward(&bags, &to_f32_vec(numeric)).concat();
        assert_eq!(ensemble.len(), 6);
        for (a, b) in ensemble.iter().zip(&serving) {
            assert!((a - b).abs() < 1e-5, "{ensemble:?} vs {serving:?}");
        }
    }
}
