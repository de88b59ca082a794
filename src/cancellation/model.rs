//! The cancellation classifier: an ensemble of small nets, each with a wide part (one weight
//! per value) and a deep part (embeddings + MLP) summed into log-odds; the ensemble averages
//! its members' log-odds (members differ by seed), which steadies a weak, noisy signal.

use crate::features::ensemble::{StackedEmbedding, StackedLinear, Stacker};
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

    /// Mean of the members' log-odds, `[batch]`.
    pub fn forward(&self, categorical: Tensor<2, Int>, numeric: Tensor<2>) -> Tensor<1> {
        crate::features::ensemble::average(&self.members, |m| m.forward(categorical.clone(), numeric.clone()))
    }
}

/// The ensemble laid out for serving, built once at load time: every member's embeddings in
/// one table and its layers stacked, so a request runs one batched product per layer for all
/// members (a block-diagonal single net did k times the arithmetic), with the linear parts
/// (wide, numeric wide) averaged ahead.
#[derive(Debug, Clone)]
pub struct ServingCancellationNet {
    embedding: StackedEmbedding,
    hidden: StackedLinear,
    /// Scaled by 1/k, so the sum over members is their mean.
    output: StackedLinear,
    /// `[vocab, 1]`, the members' mean.
    wide: Tensor<2>,
    numeric_wide: Linear,
}

impl ServingCancellationNet {
    /// Log-odds of cancellation, `[batch]`: the ensemble mean of [`CancellationModel::forward`].
    pub fn forward(&self, categorical: Tensor<2, Int>, numeric: Tensor<2>) -> Tensor<1> {
        let [batch, fields] = categorical.dims();
        let [_, n_numeric] = numeric.dims();
        let k = self.embedding.members();
        let vectors = self.embedding.lookup(categorical.clone());
        let [_, _, _, dim] = vectors.dims();
        let deep = Tensor::cat(vec![vectors.reshape([k, batch, fields * dim]), numeric.clone().unsqueeze::<3>().expand([k, batch, n_numeric])], 2);
        let hidden = self.hidden.forward(deep).clamp_min(0.0);
        let deep = self.output.forward(hidden).sum_dim(0).reshape([batch, 1]);
        let wide = self.wide.clone().select(0, categorical.reshape([batch * fields])).reshape([batch, fields]).sum_dim(1);
        (deep + wide + self.numeric_wide.forward(numeric)).reshape([batch])
    }
}

impl CancellationModel {
    /// The serving layout of this ensemble (see [`ServingCancellationNet`]).
    pub fn for_serving(&self) -> ServingCancellationNet {
        let stack = Stacker::new(&self.members, self.members[0].embedding.weight.val().device());
        ServingCancellationNet {
            embedding: stack.embedding(|n| &n.embedding),
            hidden: stack.linear(|n| &n.hidden, 1.0),
            output: stack.linear(|n| &n.output, 1.0 / self.members.len() as f32),
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
        device.seed(3);
        let config = CancellationModelConfig::new(20, 3, 2).with_embedding_dim(4).with_hidden_dim(5).with_ensemble_size(3);
        // Non-zero wide weights, as after training.
        let mut model = config.init(&device);
        for net in &mut model.members {
            net.wide.weight = burn::module::Param::from_tensor(Tensor::random([20, 1], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
        }
        let categorical = index_matrix(vec![1, 7, 19, 0, 3, 12], 2, 3, &device);
        let numeric = float_matrix(vec![0.5, -1.0, 2.0, 0.1], 2, 2, &device);
        let ensemble = to_f32_vec(model.forward(categorical.clone(), numeric.clone()));
        let fused = to_f32_vec(model.for_serving().forward(categorical, numeric));
        for (a, b) in ensemble.iter().zip(&fused) {
            assert!((a - b).abs() < 1e-5, "{ensemble:?} vs {fused:?}");
        }
    }
}
