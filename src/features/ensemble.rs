//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use super::to_f32_vec;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor};

/// The mean of `forward` over `members` (at least one).
pub fn average<M, const D: usize>(members: &[M], forward: impl Fn(&M) -> Tensor<D>) -> Tensor<D> {
    let mut iter = members.iter();
    let first = forward(iter.next().expect("an ensemble has a member"));
    iter.fold(first, |sum, member| sum + forward(member)) / members.len() as f64
}

/// Lays an ensemble out for serving: members' parameters stacked on a leading axis, so that a
/// request runs one batched product per layer for all members instead of one net after another.
pub struct Stacker<'a, M> {
    members: &'a [M],
    device: Device,
}

impl<'a, M> Stacker<'a, M> {
    pub fn new(members: &'a [M], device: Device) -> Self {
        assert!(!members.is_empty(), "an ensemble needs a member");
        Self { members, device }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Every member's values one after another, shaped `shape` (its first axis: the members).
    pub fn stacked<const D: usize>(&self, values: impl Fn(&M) -> Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        let all: Vec<f32> = self.members.iter().flat_map(values).collect();
        Tensor::<1>::from_floats(all.as_slice(), &self.device).reshape(shape)
    }

    /// The members' element-wise mean of `values`, shaped `shape`.
    pub fn mean<const D: usize>(&self, values: impl Fn(&M) -> Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::<1>::from_floats(self.mean_values(values).as_slice(), &self.device).reshape(shape)
    }

    pub fn mean_values(&self, values: impl Fn(&M) -> Vec<f32>) -> Vec<f32> {
        let k = self.members.len() as f32;
        let sums = self.members.iter().map(values).reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect()).unwrap_or_default();
        sums.into_iter().map(|v| v / k).collect()
    }

    /// `[k, 1, 1]`: m·vocab, to add to member m's indices into a stacked embedding table.
    pub fn member_offsets(&self, vocab: usize) -> Tensor<3, Int> {
        let offsets: Vec<i64> = (0..self.members.len()).map(|m| (m * vocab) as i64).collect();
        Tensor::<1, Int>::from_ints(offsets.as_slice(), &self.device).reshape([self.members.len(), 1, 1])
    }
}

/// A layer's weight values, `[inputs, outputs]` row-major.
pub fn weight_values(linear: &Linear) -> Vec<f32> {
    to_f32_vec(linear.weight.val())
}

/// A layer's bias values (zeros when it has none).
pub fn bias_values(linear: &Linear) -> Vec<f32> {
    linear.bias.as_ref().map(|b| to_f32_vec(b.val())).unwrap_or_else(|| vec![0.0; linear.weight.val().dims()[1]])
}

/// Weighted bags of every member at once, `[k, batch, dim]`, from a stacked table
/// `[k·vocab, dim]`, its member offsets, and `[batch, width]` indices and weights.
pub fn stacked_bags(table: &Tensor<2>, offsets: &Tensor<3, Int>, tokens: Tensor<2, Int>, weights: Tensor<2>) -> Tensor<3> {
    let [batch, width] = tokens.dims();
    let [k, _, _] = offsets.dims();
    let [_, dim] = table.dims();
    let indices = tokens.unsqueeze::<3>().expand([k, batch, width]) + offsets.clone();
    let vectors = table.clone().select(0, indices.reshape([k * batch * width])).reshape([k, batch, width, dim]);
    (vectors * weights.reshape([1, batch, width, 1])).sum_dim(2).reshape([k, batch, dim])
}
