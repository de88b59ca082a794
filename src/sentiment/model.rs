//! The sentiment classifier: an ensemble of small nets over a weighted bag of word n-grams,
//! a wide part (one weight per n-gram, like logistic regression on TF-IDF) plus a deep part
//! (n-gram embeddings and an MLP), giving the log-odds that a review is negative.

use crate::features::bag::{weighted_bag, weighted_scalar_bag};
use crate::features::ensemble::{StackedEmbedding, StackedLinear, Stacker};
use burn::module::Initializer;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct SentimentModelConfig {
    pub vocab_size: usize,
    #[config(default = 16)]
    pub embedding_dim: usize,
    #[config(default = 16)]
    pub hidden_dim: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
    #[config(default = 1)]
    pub ensemble_size: usize,
}

#[derive(Module, Debug)]
pub struct SentimentNet {
    embedding: Embedding,
    wide: Embedding,
    hidden: Linear,
    output: Linear,
    dropout: Dropout,
    activation: Relu,
}

#[derive(Module, Debug)]
pub struct SentimentModel {
    members: Vec<SentimentNet>,
}

impl SentimentModelConfig {
    pub fn init_net(&self, device: &Device) -> SentimentNet {
        SentimentNet {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embedding_dim)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                .init(device),
            wide: EmbeddingConfig::new(self.vocab_size, 1).with_initializer(Initializer::Zeros).init(device),
            hidden: LinearConfig::new(self.embedding_dim, self.hidden_dim).init(device),
            output: LinearConfig::new(self.hidden_dim, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> SentimentModel {
        SentimentModel { members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect() }
    }
}

impl SentimentNet {
    /// Log-odds that each review is negative, `[batch]`.
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
        let bag = weighted_bag(&self.embedding, tokens.clone(), weights.clone());
        let [batch, _] = bag.dims();
        let wide = weighted_bag(&self.wide, tokens, weights);
        let deep = self.output.forward(self.dropout.forward(self.activation.forward(self.hidden.forward(bag))));
        (deep + wide).reshape([batch])
    }

    /// Σ of the squared n-gram weights (wide and embedding): the ridge penalty of training.
    pub fn token_weight_penalty(&self) -> Tensor<1> {
        self.wide.weight.val().powi_scalar(2).sum() + self.embedding.weight.val().powi_scalar(2).sum()
    }
}

impl SentimentModel {
    pub fn from_members(members: Vec<SentimentNet>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// Mean of the members' log-odds, `[batch]`.
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
        crate::features::ensemble::average(&self.members, |m| m.forward(tokens.clone(), weights.clone()))
    }
}

/// The ensemble laid out for serving, built once at load time (as
/// [`crate::cancellation::ServingCancellationNet`]): one batched product per layer for all members.
#[derive(Debug, Clone)]
pub struct ServingSentimentNet {
    embedding: StackedEmbedding,
    hidden: StackedLinear,
    /// Scaled by 1/k, so the sum over members is their mean.
    output: StackedLinear,
    /// `[vocab, 1]`, the members' mean.
    wide: Tensor<2>,
}

impl ServingSentimentNet {
    /// Log-odds that each review is negative, `[batch]`: the ensemble mean of
    /// [`SentimentModel::forward`].
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
        let [batch, _] = tokens.dims();
        let bag = self.embedding.bags(tokens.clone(), weights.clone());
        let deep = self.output.forward(self.hidden.forward(bag).clamp_min(0.0)).sum_dim(0).reshape([batch, 1]);
        let wide = weighted_scalar_bag(&self.wide, tokens, weights);
        (deep + wide).reshape([batch])
    }
}

impl SentimentModel {
    /// The serving layout of this ensemble (see [`ServingSentimentNet`]).
    pub fn for_serving(&self) -> ServingSentimentNet {
        let stack = Stacker::new(&self.members, self.members[0].embedding.weight.val().device());
        ServingSentimentNet {
            embedding: stack.embedding(|n| &n.embedding),
            hidden: stack.linear(|n| &n.hidden, 1.0),
            output: stack.linear(|n| &n.output, 1.0 / self.members.len() as f32),
            wide: stack.mean_table(|n| &n.wide),
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
        device.seed(7);
        let config = SentimentModelConfig::new(25).with_embedding_dim(4).with_hidden_dim(5).with_ensemble_size(3);
        let mut model = config.init(&device);
        for net in &mut model.members {
            net.wide.weight = burn::module::Param::from_tensor(Tensor::random([25, 1], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
        }
        let tokens = index_matrix(vec![1, 7, 24, 3, 0, 0], 2, 3, &device);
        let weights = float_matrix(vec![0.5, 0.5, 0.5, 1.0, 0.0, 0.0], 2, 3, &device);
        let ensemble = to_f32_vec(model.forward(tokens.clone(), weights.clone()));
        let serving = to_f32_vec(model.for_serving().forward(tokens, weights));
        assert_eq!(ensemble.len(), 2);
        for (a, b) in ensemble.iter().zip(&serving) {
            assert!((a - b).abs() < 1e-5, "{ensemble:?} vs {serving:?}");
        }
    }
}
