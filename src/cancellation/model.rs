//! The cancellation classifier: an ensemble of small nets, each with a wide part (one weight
//! per value) and a deep part (embeddings + MLP) summed into log-odds; the ensemble averages
//! its members' log-odds (members differ by seed), which steadies a weak, noisy signal.

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
            wide: EmbeddingConfig::new(self.vocab_size, 1).with_initializer(Initializer::Zeros).init(device),
            numeric_wide: LinearConfig::new(self.n_numeric, 1).init(device),
            hidden: LinearConfig::new(self.n_categorical * self.embedding_dim + self.n_numeric, self.hidden_dim).init(device),
            output: LinearConfig::new(self.hidden_dim, 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> CancellationModel {
        CancellationModel { members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect() }
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

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Mean of the members' log-odds, `[batch]`.
    pub fn forward(&self, categorical: Tensor<2, Int>, numeric: Tensor<2>) -> Tensor<1> {
        let count = self.members.len() as f64;
        let mut members = self.members.iter();
        let first = members.next().expect("an ensemble has a member").forward(categorical.clone(), numeric.clone());
        members.fold(first, |sum, m| sum + m.forward(categorical.clone(), numeric.clone())) / count
    }
}
