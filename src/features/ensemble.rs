//! Seed ensembles: a model is several nets of one architecture whose outputs are averaged.

use burn::tensor::Tensor;

/// The mean of `forward` over `members` (at least one).
pub fn average<M, const D: usize>(members: &[M], forward: impl Fn(&M) -> Tensor<D>) -> Tensor<D> {
    let mut iter = members.iter();
    let first = forward(iter.next().expect("an ensemble has a member"));
    iter.fold(first, |sum, member| sum + forward(member)) / members.len() as f64
}
