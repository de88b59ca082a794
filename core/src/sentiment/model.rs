//! The sentiment classifier: an ensemble of small nets over a weighted bag of word n-grams,
//! a wide part (one weight per n-gram, like logistic regression on TF-IDF) plus a deep part
//! (n-gram embeddings and an MLP), giving the log-odds that a review is negative. With
//! `hidden_dim` 0 there is no deep part: the net is a logistic regression on the bag.

use crate::features::bag::{Bag, weighted_bag};
use crate::features::ensemble::{MemberOutputs, RowTable, Stacker, linear_part};
use crate::features::to_f32_vec;
use burn::module::{Initializer, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct SentimentModelConfig {
    pub vocab_size: usize,
    #[config(default = 16)]
    pub embedding_dim: usize,
    /// 0: no deep part (no embeddings either).
    #[config(default = 16)]
    pub hidden_dim: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
    #[config(default = 1)]
    pub ensemble_size: usize,
}

#[derive(Module, Debug)]
pub struct SentimentNet {
    /// The deep part's embedding, hidden and output layers: all present, or all None in a net
    /// without one (see [`SentimentNet::deep_part`]). Flat fields keep the record's tensor
    /// names those of bundles saved before a net could go without.
    embedding: Option<Embedding>,
    wide: Embedding,
    hidden: Option<Linear>,
    output: Option<Linear>,
    /// The log-odds' constant of a net without a deep part (the output layer's bias otherwise).
    intercept: Option<Param<Tensor<1>>>,
    dropout: Dropout,
    activation: Relu,
}

#[derive(Module, Debug)]
pub struct SentimentModel {
    members: Vec<SentimentNet>,
}

impl SentimentModelConfig {
    /// Whether initialising or training a net draws from the backend's random generator (the
    /// deep part's random start and its dropout). Burn's CPU backend keeps one generator for
    /// the whole process, so only nets that do not draw from it can train side by side with
    /// other work and still give the same models on every run.
    pub fn draws_random_numbers(&self) -> bool {
        self.hidden_dim > 0
    }

    pub fn init_net(&self, device: &Device) -> SentimentNet {
        let deep = self.hidden_dim > 0;
        SentimentNet {
            embedding: deep.then(|| {
                EmbeddingConfig::new(self.vocab_size, self.embedding_dim)
                    .with_initializer(Initializer::Normal { mean: 0.0, std: 0.05 })
                    .init(device)
            }),
            wide: EmbeddingConfig::new(self.vocab_size, 1)
                .with_initializer(Initializer::Zeros)
                .init(device),
            hidden: deep
                .then(|| LinearConfig::new(self.embedding_dim, self.hidden_dim).init(device)),
            output: deep.then(|| LinearConfig::new(self.hidden_dim, 1).init(device)),
            intercept: (!deep).then(|| Param::from_tensor(Tensor::zeros([1], device))),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
        }
    }

    pub fn init(&self, device: &Device) -> SentimentModel {
        SentimentModel {
            members: (0..self.ensemble_size.max(1)).map(|_| self.init_net(device)).collect(),
        }
    }
}

impl SentimentNet {
    /// Log-odds that each review is negative, `[batch]`.
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
        let [batch, _] = tokens.dims();
        let wide = weighted_bag(&self.wide, tokens.clone(), weights.clone());
        let z = match (self.deep_part(), &self.intercept) {
            (Some((embedding, hidden, output)), _) => {
                let bag = weighted_bag(embedding, tokens, weights);
                wide + output
                    .forward(self.dropout.forward(self.activation.forward(hidden.forward(bag))))
            }
            (None, Some(intercept)) => wide + intercept.val().reshape([1, 1]),
            // Not built by `init_net` (a net without a deep part has an intercept).
            (None, None) => wide,
        };
        z.reshape([batch])
    }

    /// The deep part's embedding, hidden and output layers, when the net has one.
    fn deep_part(&self) -> Option<(&Embedding, &Linear, &Linear)> {
        Some((self.embedding.as_ref()?, self.hidden.as_ref()?, self.output.as_ref()?))
    }

    /// Σ of the squared n-gram weights (wide and embedding): the ridge penalty of training.
    pub fn token_weight_penalty(&self) -> Tensor<1> {
        let wide = self.wide.weight.val().powi_scalar(2).sum();
        match &self.embedding {
            Some(embedding) => wide + embedding.weight.val().powi_scalar(2).sum(),
            None => wide,
        }
    }
}

impl SentimentModel {
    pub fn from_members(members: Vec<SentimentNet>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members }
    }

    /// Mean of the members' log-odds, `[batch]`.
    pub fn forward(&self, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<1> {
        crate::features::ensemble::average(&self.members, |m| {
            m.forward(tokens.clone(), weights.clone())
        })
    }
}

/// The ensemble laid out for serving, built once at load time (see
/// [`crate::features::ensemble::Stacker`]). As cancellation's, each member's first layer is
/// folded into its token table (a bag and the layer reading it are both linear), with the
/// members' mean wide weight as the last column: a request sums its tokens' weighted rows,
/// adds the bias and reads each member's output layer (see [`MemberOutputs`]). A row is
/// k·hidden + 1 floats where the stacked tables gathered k·dim and the wide table 1 (the same
/// with the shipped sizes). Nets without a deep part keep the wide table alone.
#[derive(Debug, Clone)]
pub struct ServingSentimentNet {
    /// `[vocab, k·hidden + 1]`, or `[vocab, 1]` without a deep part.
    table: RowTable,
    /// A row's width: every member's hidden bias, then 0 (the output biases are in `output`);
    /// without a deep part, the members' mean intercept alone. The bias is added after a bag's
    /// sum, not summed as a row of it: an occlusion rescales the sum.
    bias: Vec<f32>,
    /// Every member's output layer; None without a deep part.
    output: Option<MemberOutputs>,
}

impl ServingSentimentNet {
    /// Log-odds that each review is negative: the ensemble mean of [`SentimentModel::forward`].
    pub fn forward(&self, bags: &[Bag<'_>]) -> Vec<f32> {
        self.log_odds(self.table.token_bag_sums(bags))
    }

    /// Log-odds of each bag, then of each occlusion `(bag, positions, scale)`: that bag without
    /// its tokens at `positions` and the rest weighed `scale` times as much (the encoder's
    /// reweighting, [`SentimentEncoder::rescale_without`](super::SentimentEncoder::rescale_without)).
    /// The sums are linear, so an occluded sum is (bag's sum − left-out rows' sum) · scale: a
    /// few rows a word rather than the whole bag again.
    pub fn forward_occluded(
        &self,
        bags: &[Bag<'_>],
        occlusions: &[(usize, &[usize], f32)],
    ) -> Vec<f32> {
        let width = self.table.width();
        let mut sums = self.table.token_bag_sums(bags);
        let left_out = occlusions.iter().map(|&(bag, positions, _)| {
            positions.iter().map(move |&p| (bags[bag].0[p], bags[bag].1[p]))
        });
        let left_out = self.table.bag_sums(left_out);
        sums.reserve(left_out.len());
        for (&(bag, _, scale), removed) in occlusions.iter().zip(left_out.chunks_exact(width)) {
            for column in 0..width {
                sums.push((sums[bag * width + column] - removed[column]) * scale);
            }
        }
        self.log_odds(sums)
    }

    /// Log-odds of bag sums (`[batch, width]` row-major).
    fn log_odds(&self, mut sums: Vec<f32>) -> Vec<f32> {
        let rows = sums.chunks_exact_mut(self.bias.len());
        rows.map(|row| {
            for (value, bias) in row.iter_mut().zip(&self.bias) {
                *value += bias;
            }
            match &self.output {
                Some(output) => output.mean(row, 0, |z| z) + linear_part(row),
                None => row[0],
            }
        })
        .collect()
    }
}

impl SentimentModel {
    /// The serving layout of this ensemble (see [`ServingSentimentNet`]).
    pub fn for_serving(&self) -> ServingSentimentNet {
        let stack = Stacker::new(&self.members);
        // Members share one config: all have a deep part or none has.
        if self.members[0].deep_part().is_some() {
            fn part(n: &SentimentNet) -> (&Embedding, &Linear, &Linear) {
                n.deep_part().expect("every member of an ensemble has a deep part")
            }
            let table = stack.folded_table(|n| part(n).0, |n| part(n).1, |_| 0, |n| &n.wide);
            let (bias, output) = (
                stack.folded_bias(|n| part(n).1, 0.0),
                stack.member_outputs(|n| part(n).2, &table),
            );
            assert_eq!(bias.len(), table.width(), "a bias as wide as the folded rows");
            ServingSentimentNet { table, bias, output: Some(output) }
        } else {
            let intercept =
                stack.mean(|n| n.intercept.as_ref().map_or(0.0, |b| to_f32_vec(b.val())[0]));
            ServingSentimentNet {
                table: stack.mean_table(|n| &n.wide),
                bias: vec![intercept],
                output: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{float_matrix, index_matrix, to_f32_vec};
    use crate::sentiment::SentimentEncoder;

    #[test]
    fn the_serving_layout_computes_the_ensemble_mean() {
        let device = Device::flex();
        device.seed(7);
        // With a deep part, and without one (a logistic regression on the bag).
        for hidden_dim in [5, 0] {
            let config = SentimentModelConfig::new(25)
                .with_embedding_dim(4)
                .with_hidden_dim(hidden_dim)
                .with_ensemble_size(3);
            let mut model = config.init(&device);
            for net in &mut model.members {
                net.wide.weight = Param::from_tensor(Tensor::random(
                    [25, 1],
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &device,
                ));
                if let Some(intercept) = &mut net.intercept {
                    *intercept = Param::from_tensor(Tensor::random(
                        [1],
                        burn::tensor::Distribution::Normal(0.0, 1.0),
                        &device,
                    ));
                }
            }
            assert_eq!(model.members[0].deep_part().is_some(), hidden_dim > 0);
            assert_eq!(model.members[0].intercept.is_some(), hidden_dim == 0);
            // Serving leaves the padding (index 0, weight 0) out of the second bag.
            let tokens = index_matrix(vec![1, 7, 24, 3, 0, 0], 2, 3, &device);
            let weights = float_matrix(vec![0.5, 0.5, 0.5, 1.0, 0.0, 0.0], 2, 3, &device);
            let ensemble = to_f32_vec(model.forward(tokens, weights));
            let bags: [Bag<'_>; 2] = [(&[1, 7, 24], &[0.5, 0.5, 0.5]), (&[3], &[1.0])];
            let serving = model.for_serving().forward(&bags);
            assert_eq!(ensemble.len(), 2);
            assert!(ensemble.iter().all(|z| z.abs() > 1e-3), "{ensemble:?}");
            for (a, b) in ensemble.iter().zip(&serving) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "hidden_dim {hidden_dim}: {ensemble:?} vs {serving:?}"
                );
            }
        }
    }

    #[test]
    fn occluded_log_odds_are_those_of_the_reweighted_bags() {
        let device = Device::flex();
        device.seed(11);
        let config = SentimentModelConfig::new(25)
            .with_embedding_dim(4)
            .with_hidden_dim(5)
            .with_ensemble_size(3);
        let mut model = config.init(&device);
        for net in &mut model.members {
            net.wide.weight = Param::from_tensor(Tensor::random(
                [25, 1],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            ));
        }
        let serving = model.for_serving();
        // L2-normalised weights, as the encoder's; a bag's weights of the kept tokens, normalised again.
        let normalised = |raw: &[f32]| {
            let norm = raw.iter().map(|w| w * w).sum::<f32>().sqrt();
            raw.iter().map(|w| w / norm).collect::<Vec<f32>>()
        };
        let (tokens_a, tokens_b) = (vec![1u32, 7, 24, 3], vec![5u32, 9]);
        let (weights_a, weights_b) = (normalised(&[1.0, 2.0, 0.5, 1.5]), normalised(&[0.7, 1.1]));
        let bags: [Bag<'_>; 2] = [(&tokens_a, &weights_a), (&tokens_b, &weights_b)];
        let left_out: [(usize, &[usize]); 4] = [(0, &[1]), (0, &[0, 3]), (1, &[1]), (1, &[0, 1])];
        let occlusions = left_out.map(|(bag, positions)| {
            (bag, positions, SentimentEncoder::rescale_without(bags[bag].1, positions))
        });
        let mut explicit: Vec<(Vec<u32>, Vec<f32>)> =
            bags.iter().map(|(t, w)| (t.to_vec(), w.to_vec())).collect();
        for (bag, positions) in left_out {
            let (t, w) = bags[bag];
            let kept: Vec<usize> = (0..t.len()).filter(|p| !positions.contains(p)).collect();
            let weights = if kept.is_empty() {
                Vec::new()
            } else {
                normalised(&kept.iter().map(|&p| w[p]).collect::<Vec<_>>())
            };
            explicit.push((kept.iter().map(|&p| t[p]).collect(), weights));
        }
        let explicit_bags: Vec<Bag<'_>> =
            explicit.iter().map(|(t, w)| (t.as_slice(), w.as_slice())).collect();
        let expected = serving.forward(&explicit_bags);
        let occluded = serving.forward_occluded(&bags, &occlusions);
        assert_eq!(expected.len(), occluded.len());
        for (a, b) in expected.iter().zip(&occluded) {
            assert!((a - b).abs() < 1e-5, "{expected:?} vs {occluded:?}");
        }
        // Everything left out: the empty bag, the bias alone.
        assert_eq!(occluded[5], serving.forward(&[(&[], &[])])[0]);
    }

    #[test]
    fn a_net_without_a_deep_part_saves_and_loads() {
        let device = Device::flex();
        device.seed(3);
        let config = SentimentModelConfig::new(12).with_hidden_dim(0).with_ensemble_size(2);
        let mut model = config.init(&device);
        for net in &mut model.members {
            net.wide.weight = Param::from_tensor(Tensor::random(
                [12, 1],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            ));
            net.intercept = Some(Param::from_tensor(Tensor::from_floats([0.25], &device)));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentiment.bpk");
        model.clone().save_file(&path).unwrap();
        let loaded = config.init(&device).try_load_file(&path).unwrap();
        let tokens = index_matrix(vec![2, 5, 11, 0], 2, 2, &device);
        let weights = float_matrix(vec![0.6, 0.8, 1.0, 0.0], 2, 2, &device);
        assert_eq!(
            to_f32_vec(model.forward(tokens.clone(), weights.clone())),
            to_f32_vec(loaded.forward(tokens.clone(), weights.clone()))
        );
        // A deep net's record does not fit a net without one.
        let deep =
            SentimentModelConfig::new(12).with_hidden_dim(3).with_ensemble_size(2).init(&device);
        assert!(deep.try_load_file(&path).is_err());
    }
}
