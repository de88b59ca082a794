//! The cancellation classifier: wide (one weight per value) and deep (embeddings + MLP) parts
//! summed into one log-odds.

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::module::Initializer;
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
}

#[derive(Module, Debug)]
pub struct CancellationModel {
    embedding: Embedding,
    wide: Embedding,
    numeric_wide: Linear,
    hidden: Linear,
    output: Linear,
    dropout: Dropout,
    activation: Relu,
}

impl CancellationModelConfig {
    pub fn init(&self, device: &Device) -> CancellationModel {
        CancellationModel {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embedding_dim)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                .init(device),
            wide: EmbeddingConfig::new(self.vocab_size, 1)
                .with_initializer(Initializer::Zeros)
                .init(device),
            numeric_wide: LinearConfig::new(self.n_numeric, 1).init(device),
            hidden: LinearConfig::new(self.n_categorical * self.embedding_dim + self.n_numeric, self.hidden_dim)
                .init(device),
            output: LinearConfig::new(self.hidden_dim, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }
}

impl CancellationModel {
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
