//! The forecaster: one global model over all series (a history window scaled by its level,
//! the weekday, optionally a series embedding), an ensemble of nets each with a linear path
//! and optionally a small MLP, predicting P10, P50 and P90 of every day of the horizon at once
//! (offsets of log1p demand from the window's level; P10 and P90 are P50 ∓ a softplus, so they
//! never cross), and the day's expected demand (the log of its ratio to the level).

use crate::features::ensemble::{self, Stacker};
use crate::features::{float_matrix, index_matrix, to_f32_vec};
use burn::module::Initializer;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::activation::softplus;

#[derive(Config, Debug)]
pub struct ForecastModelConfig {
    /// Known series (embedding rows are this + 1 for an unknown series).
    pub n_series: usize,
    pub n_inputs: usize,
    pub horizon_days: usize,
    #[config(default = 4)]
    pub series_dim: usize,
    #[config(default = 32)]
    pub hidden_dim: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
    #[config(default = 1)]
    pub ensemble_size: usize,
}

/// Outputs per day: P10, P50, P90 and the expected value.
pub const CHANNELS: usize = 4;

#[derive(Module, Debug)]
pub struct ForecastNet {
    /// Absent when `series_dim` is 0.
    series: Option<Embedding>,
    linear: Linear,
    /// The MLP path, absent when `hidden_dim` is 0.
    hidden: Option<Linear>,
    output: Option<Linear>,
    dropout: Dropout,
    activation: Relu,
}

#[derive(Module, Debug)]
pub struct ForecastModel {
    members: Vec<ForecastNet>,
}

impl ForecastModelConfig {
    pub fn init_net(&self, device: &Device) -> ForecastNet {
        let inputs = self.n_inputs + self.series_dim;
        let deep = self.hidden_dim > 0;
        ForecastNet {
            series: (self.series_dim > 0).then(|| {
                EmbeddingConfig::new(self.n_series + 1, self.series_dim)
                    .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                    .init(device)
            }),
            linear: LinearConfig::new(inputs, self.horizon_days * CHANNELS).init(device),
            hidden: deep.then(|| LinearConfig::new(inputs, self.hidden_dim).init(device)),
            output: deep.then(|| {
                LinearConfig::new(self.hidden_dim, self.horizon_days * CHANNELS).init(device)
            }),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> ForecastModel {
        ForecastModel {
            members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect(),
        }
    }
}

impl ForecastNet {
    /// Σ of the squared weights of the linear layers: the ridge penalty of training (lags of
    /// one series are strongly collinear).
    pub fn weight_penalty(&self) -> Tensor<1> {
        let mut total = self.linear.weight.val().powi_scalar(2).sum();
        for layer in [&self.hidden, &self.output].into_iter().flatten() {
            total = total + layer.weight.val().powi_scalar(2).sum();
        }
        total
    }

    /// `[batch, horizon, 4]`: P10, P50, P90 of log1p(demand) − level, and ln(expected demand)
    /// − level, from series indices `[batch, 1]` and inputs `[batch, n_inputs]`.
    pub fn forward(&self, series: Tensor<2, Int>, inputs: Tensor<2>) -> Tensor<3> {
        let [batch, _] = inputs.dims();
        let x = match &self.series {
            Some(embedding) => {
                let embedded = embedding.forward(series);
                let [_, _, dim] = embedded.dims();
                Tensor::cat(vec![inputs, embedded.reshape([batch, dim])], 1)
            }
            None => inputs,
        };
        let mut raw = self.linear.forward(x.clone());
        if let (Some(hidden), Some(output)) = (&self.hidden, &self.output) {
            raw = raw
                + output.forward(self.dropout.forward(self.activation.forward(hidden.forward(x))));
        }
        let [_, width] = raw.dims();
        let raw = raw.reshape([batch, width / CHANNELS, CHANNELS]);
        let horizon = width / CHANNELS;
        let median = raw.clone().slice([0..batch, 0..horizon, 1..2]);
        let below = softplus(raw.clone().slice([0..batch, 0..horizon, 0..1]), 1.0);
        let above = softplus(raw.clone().slice([0..batch, 0..horizon, 2..3]), 1.0);
        let mean = raw.slice([0..batch, 0..horizon, 3..4]);
        // The outer quantiles learn their distance from the median without pulling on it.
        let anchor = median.clone().detach();
        Tensor::cat(vec![anchor.clone() - below, median, anchor + above, mean], 2)
    }
}

impl ForecastModel {
    pub fn from_members(members: Vec<ForecastNet>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// Mean of the members' quantiles.
    pub fn forward(&self, series: Tensor<2, Int>, inputs: Tensor<2>) -> Tensor<3> {
        crate::features::ensemble::average(&self.members, |m| {
            m.forward(series.clone(), inputs.clone())
        })
    }
}

/// The ensemble laid out for serving, built once at load time. With neither series embedding nor
/// MLP (the shipped configuration: the linear model generalised best) the members' linear
/// layers sit side by side as plain values, so a request runs one pass over its inputs for all
/// of them and averages their quantiles once, without a tensor operation (the members one after
/// another took about 40, the side-by-side tensors about a dozen). Other configurations run the
/// members in turn.
#[derive(Debug, Clone)]
pub enum ServingForecastNet {
    Linear(LinearMembers),
    Members(ForecastModel),
}

/// Linear members side by side.
#[derive(Debug, Clone)]
pub struct LinearMembers {
    /// `[inputs, k·horizon·3]` row-major: member m's weights in columns m·horizon·3 onwards.
    weight: Vec<f32>,
    /// `[k·horizon·3]`.
    bias: Vec<f32>,
    members: usize,
}

impl ServingForecastNet {
    /// `[batch, horizon, 4]` row-major: the ensemble mean of [`ForecastModel::forward`] for
    /// windows of `series` (one a window) and their `inputs` (`[batch · inputs]`); `device`
    /// runs the members in turn when they are not linear.
    pub fn forward(&self, series: &[u32], inputs: &[f32], device: &Device) -> Vec<f32> {
        let LinearMembers { weight, bias, members: k } = match self {
            ServingForecastNet::Members(model) => {
                let batch = series.len();
                let series =
                    index_matrix(series.iter().map(|&s| i64::from(s)).collect(), batch, 1, device);
                return to_f32_vec(model.forward(
                    series,
                    float_matrix(inputs.to_vec(), batch, inputs.len() / batch.max(1), device),
                ));
            }
            ServingForecastNet::Linear(linear) => linear,
        };
        let (k, width) = (*k, bias.len());
        let n_inputs = weight.len() / width;
        let horizon = width / (CHANNELS * k);
        assert_eq!(inputs.len(), series.len() * n_inputs, "inputs for every window");
        let mut out = Vec::with_capacity(series.len() * horizon * CHANNELS);
        let mut raw = vec![0.0f32; width];
        for window in inputs.chunks_exact(n_inputs) {
            raw.copy_from_slice(bias);
            for (&x, row) in window.iter().zip(weight.chunks_exact(width)) {
                for (r, &w) in raw.iter_mut().zip(row) {
                    *r += x * w;
                }
            }
            // Member m's day d is raw[(m·horizon + d)·4..][..4]: raw below, median, raw above,
            // mean.
            let mean = |d: usize, q: usize, f: fn(f32) -> f32| {
                (0..k).map(|m| f(raw[(m * horizon + d) * CHANNELS + q])).sum::<f32>() / k as f32
            };
            for d in 0..horizon {
                let median = mean(d, 1, |z| z);
                let (below, above) =
                    (mean(d, 0, ensemble::softplus), mean(d, 2, ensemble::softplus));
                out.extend([median - below, median, median + above, mean(d, 3, |z| z)]);
            }
        }
        out
    }
}

impl ForecastModel {
    /// The serving layout of this ensemble (see [`ServingForecastNet`]).
    pub fn for_serving(&self) -> ServingForecastNet {
        if self.members.iter().any(|m| m.series.is_some() || m.hidden.is_some()) {
            return ServingForecastNet::Members(self.clone());
        }
        let (weight, bias) = Stacker::new(&self.members).layers_side_by_side(|m| &m.linear);
        ServingForecastNet::Linear(LinearMembers { weight, bias, members: self.members.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{float_matrix, index_matrix, to_f32_vec};

    #[test]
    fn the_serving_layout_computes_the_ensemble_mean() {
        let device = Device::flex();
        // Linear members side by side, and members with an MLP and a series embedding in turn.
        for (series_dim, hidden_dim) in [(0, 0), (2, 4)] {
            let model = ForecastModelConfig::new(5, 6, 4)
                .with_series_dim(series_dim)
                .with_hidden_dim(hidden_dim)
                .with_ensemble_size(3)
                .init(&device);
            let series = index_matrix(vec![1, 4], 2, 1, &device);
            let inputs =
                float_matrix((0..12).map(|i| i as f32 * 0.3 - 1.5).collect(), 2, 6, &device);
            let ensemble = to_f32_vec(model.forward(series.clone(), inputs.clone()));
            let serving = model.for_serving().forward(&[1, 4], &to_f32_vec(inputs), &device);
            assert_eq!(ensemble.len(), 2 * 4 * CHANNELS);
            for (a, b) in ensemble.iter().zip(&serving) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "series_dim {series_dim}, hidden_dim {hidden_dim}: {ensemble:?} vs {serving:?}"
                );
            }
        }
    }
}
