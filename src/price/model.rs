//! The price model: an ensemble of small nets predicting three quantiles (P10, P50, P90) of
//! ln(selling price / list price) from a weighted token bag and numeric inputs. The upper and
//! lower quantiles are the median ± a softplus, so they never cross.

use crate::features::bag::weighted_bag;
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
