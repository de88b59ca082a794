//! The sentiment classifier: an ensemble of small nets over a weighted bag of word n-grams,
//! a wide part (one weight per n-gram, like logistic regression on TF-IDF) plus a deep part
//! (n-gram embeddings and an MLP), giving the log-odds that a review is negative.

use crate::features::bag::weighted_bag;
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
