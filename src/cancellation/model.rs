//! The cancellation classifier: an ensemble of small nets, each with a wide part (one weight
//! per value) and a deep part (embeddings + MLP) summed into log-odds; the ensemble averages
//! its members' log-odds (members differ by seed), which steadies a weak, noisy signal.

use crate::features::{float_matrix, to_f32_vec};
use burn::module::{Initializer, Param};
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

impl CancellationModel {
    /// One net computing exactly the ensemble's mean log-odds, built once at load time so a
    /// request runs one net's operations whatever the ensemble size: embeddings side by side,
    /// hidden layers block-diagonal, wide parts and output layers averaged.
    pub fn fuse(&self) -> CancellationNet {
        let k = self.members.len();
        let first = &self.members[0];
        let device = first.embedding.weight.val().device();
        let [vocab, dim] = first.embedding.weight.val().dims();
        let [inputs, hidden] = first.hidden.weight.val().dims();
        let numeric = first.numeric_wide.weight.val().dims()[0];
        let fields = (inputs - numeric) / dim;
        let values = |t: Tensor<2>| to_f32_vec(t);
        let bias = |l: &Linear| l.bias.as_ref().map(|b| to_f32_vec(b.val())).unwrap_or_default();
        let mean = |parts: Vec<Vec<f32>>| -> Vec<f32> {
            let mut out = vec![0.0; parts[0].len()];
            for part in &parts {
                out.iter_mut().zip(part).for_each(|(o, v)| *o += v / k as f32);
            }
            out
        };

        let mut embedding = vec![0.0f32; vocab * k * dim];
        let mut hidden_weight = vec![0.0f32; (fields * k * dim + numeric) * k * hidden];
        let mut hidden_bias = Vec::with_capacity(k * hidden);
        let mut output_weight = Vec::with_capacity(k * hidden);
        for (m, net) in self.members.iter().enumerate() {
            let e = values(net.embedding.weight.val());
            for v in 0..vocab {
                embedding[v * k * dim + m * dim..v * k * dim + (m + 1) * dim].copy_from_slice(&e[v * dim..(v + 1) * dim]);
            }
            let w = values(net.hidden.weight.val()); // [fields·dim + numeric, hidden]
            let width = k * hidden;
            for f in 0..fields {
                for d in 0..dim {
                    let row = f * k * dim + m * dim + d;
                    hidden_weight[row * width + m * hidden..row * width + (m + 1) * hidden]
                        .copy_from_slice(&w[(f * dim + d) * hidden..(f * dim + d + 1) * hidden]);
                }
            }
            for n in 0..numeric {
                let row = fields * k * dim + n;
                hidden_weight[row * width + m * hidden..row * width + (m + 1) * hidden]
                    .copy_from_slice(&w[(fields * dim + n) * hidden..(fields * dim + n + 1) * hidden]);
            }
            hidden_bias.extend(bias(&net.hidden));
            output_weight.extend(values(net.output.weight.val()).into_iter().map(|v| v / k as f32));
        }
        let averaged = |f: &dyn Fn(&CancellationNet) -> Vec<f32>| mean(self.members.iter().map(f).collect());
        let matrix = |v: Vec<f32>, rows: usize, cols: usize| Param::from_tensor(float_matrix(v, rows, cols, &device));
        let vector = |v: Vec<f32>| Param::from_tensor(Tensor::<1>::from_floats(v.as_slice(), &device));
        let linear = |weight, bias| Linear { weight, bias: Some(bias) };
        CancellationNet {
            embedding: Embedding { weight: matrix(embedding, vocab, k * dim) },
            wide: Embedding { weight: matrix(averaged(&|n| values(n.wide.weight.val())), vocab, 1) },
            numeric_wide: linear(
                matrix(averaged(&|n| values(n.numeric_wide.weight.val())), numeric, 1),
                vector(averaged(&|n| bias(&n.numeric_wide))),
            ),
            hidden: linear(matrix(hidden_weight, fields * k * dim + numeric, k * hidden), vector(hidden_bias)),
            output: linear(matrix(output_weight, k * hidden, 1), vector(averaged(&|n| bias(&n.output)))),
            dropout: DropoutConfig::new(0.0).init(),
            activation: Relu::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::index_matrix;

    #[test]
    fn the_fused_net_computes_the_ensemble_mean() {
        let device = Device::flex();
        device.seed(3);
        let config = CancellationModelConfig::new(20, 3, 2).with_embedding_dim(4).with_hidden_dim(5).with_ensemble_size(3);
        // Non-zero wide weights, as after training.
        let mut model = config.init(&device);
        for net in &mut model.members {
            net.wide.weight = Param::from_tensor(Tensor::random([20, 1], burn::tensor::Distribution::Normal(0.0, 1.0), &device));
        }
        let categorical = index_matrix(vec![1, 7, 19, 0, 3, 12], 2, 3, &device);
        let numeric = float_matrix(vec![0.5, -1.0, 2.0, 0.1], 2, 2, &device);
        let ensemble = to_f32_vec(model.forward(categorical.clone(), numeric.clone()));
        let fused = to_f32_vec(model.fuse().forward(categorical, numeric));
        for (a, b) in ensemble.iter().zip(&fused) {
            assert!((a - b).abs() < 1e-5, "{ensemble:?} vs {fused:?}");
        }
    }
}
