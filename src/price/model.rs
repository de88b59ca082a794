//! The price model: an ensemble of small nets predicting three quantiles (P10, P50, P90) of
//! ln(selling price / list price) from a weighted token bag and numeric inputs. The upper and
//! lower quantiles are the median ± a softplus, so they never cross.

use crate::features::bag::{weighted_bag, weighted_scalar_bag};
use crate::features::ensemble::{StackedEmbedding, StackedLinear, Stacker};
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
            wide: EmbeddingConfig::new(self.vocab_size, 1).with_initializer(Initializer::Zeros).init(device),
            numeric_wide: LinearConfig::new(self.n_numeric, 1).init(device),
            hidden: LinearConfig::new(self.embedding_dim + self.n_numeric, self.hidden_dim).init(device),
            output: LinearConfig::new(self.hidden_dim, 3).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> PriceModel {
        PriceModel { members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect() }
    }
}

impl PriceNet {
    /// Σ of the squared token weights (wide and embedding): the ridge penalty of training.
    pub fn token_weight_penalty(&self) -> Tensor<1> {
        self.wide.weight.val().powi_scalar(2).sum() + self.embedding.weight.val().powi_scalar(2).sum()
    }

    /// `[batch, 3]`: P10, P50, P90 of ln(selling / list).
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>, numeric: Tensor<2>) -> Tensor<2> {
        let bag = weighted_bag(&self.embedding, tokens.clone(), weights.clone());
        let wide = weighted_bag(&self.wide, tokens, weights);
        let [batch, _] = bag.dims();
        let deep = Tensor::cat(vec![bag, numeric.clone()], 1);
        let deep = self.output.forward(self.dropout.forward(self.activation.forward(self.hidden.forward(deep))));
        let median = deep.clone().slice([0..batch, 1..2]) + wide + self.numeric_wide.forward(numeric);
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
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>, numeric: Tensor<2>) -> Tensor<2> {
        crate::features::ensemble::average(&self.members, |m| m.forward(tokens.clone(), weights.clone(), numeric.clone()))
    }
}

/// The ensemble laid out for serving, built once at load time (see
/// [`crate::features::ensemble::Stacker`]): one batched product per layer for all members. The
/// first layer is not folded into the token table as cancellation's and sentiment's are: each
/// token would fetch k·hidden + 1 floats instead of k·dim + 1 (97 against 49 with the shipped
/// sizes) for batches of thousands of products.
#[derive(Debug, Clone)]
pub struct ServingPriceNet {
    embedding: StackedEmbedding,
    hidden: StackedLinear,
    /// Unscaled: the bounds' softplus is taken per member before the mean.
    output: StackedLinear,
    /// `[vocab, 1]`, the members' mean (the median is linear in it).
    wide: Tensor<2>,
    numeric_wide: Linear,
}

impl ServingPriceNet {
    /// `[batch, 3]`: the ensemble mean of [`PriceModel::forward`].
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>, numeric: Tensor<2>) -> Tensor<2> {
        let [batch, _] = tokens.dims();
        let [_, n_numeric] = numeric.dims();
        let k = self.embedding.members();
        let bag = self.embedding.bags(tokens.clone(), weights.clone());
        let deep = Tensor::cat(vec![bag, numeric.clone().unsqueeze::<3>().expand([k, batch, n_numeric])], 2);
        let raw = self.output.forward(self.hidden.forward(deep).clamp_min(0.0));
        // Mean over members of (median − below, median, median + above), the median's linear parts averaged ahead.
        let member_mean = |t: Tensor<3>| t.sum_dim(0).reshape([batch, 1]) / k as f64;
        let below = member_mean(softplus(raw.clone().slice([0..k, 0..batch, 0..1]), 1.0));
        let centre = member_mean(raw.clone().slice([0..k, 0..batch, 1..2]));
        let above = member_mean(softplus(raw.slice([0..k, 0..batch, 2..3]), 1.0));
        let wide = weighted_scalar_bag(&self.wide, tokens, weights);
        let median = centre + wide + self.numeric_wide.forward(numeric);
        Tensor::cat(vec![median.clone() - below, median.clone(), median + above], 1)
    }
}

impl PriceModel {
    /// The serving layout of this ensemble (see [`ServingPriceNet`]).
    pub fn for_serving(&self) -> ServingPriceNet {
        let stack = Stacker::new(&self.members, self.members[0].embedding.weight.val().device());
        ServingPriceNet {
            embedding: stack.embedding(|n| &n.embedding),
            hidden: stack.linear(|n| &n.hidden, 1.0),
            output: stack.linear(|n| &n.output, 1.0),
            wide: stack.mean_table(|n| &n.wide),
            numeric_wide: stack.mean_linear(|n| &n.numeric_wide),
        }
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
        let config = PriceModelConfig::new(30, 2).with_embedding_dim(4).with_hidden_dim(6).with_ensemble_size(3);
        let mut model = config.init(&device);
        // Non-zero wide weights, as after training.
        for net in &mut model.members {
            net.wide.weight = burn::module::Param::from_tensor(Tensor::random([30, 1], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
        }
        let tokens = index_matrix(vec![1, 7, 29, 0, 3, 12, 0, 0], 2, 4, &device);
        let weights = float_matrix(vec![1.0, 0.5, 0.5, 0.0, 1.0, 0.7, 0.0, 0.0], 2, 4, &device);
        let numeric = float_matrix(vec![0.5, -1.0, 2.0, 0.1], 2, 2, &device);
        let ensemble = to_f32_vec(model.forward(tokens.clone(), weights.clone(), numeric.clone()));
        let serving = to_f32_vec(model.for_serving().forward(tokens, weights, numeric));
        assert_eq!(ensemble.len(), 6);
        for (a, b) in ensemble.iter().zip(&serving) {
            assert!((a - b).abs() < 1e-5, "{ensemble:?} vs {serving:?}");
        }
    }
}
