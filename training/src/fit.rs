//! Pieces shared by the training loops: the seeded random source, mini-batch order, and
//! probability calibration.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use std::sync::atomic::{AtomicBool, Ordering};

/// The portable, seeded random source of every training step (same seed, same stream on every
/// platform).
pub type SeededRng = Xoshiro256PlusPlus;

pub fn rng(seed: u64) -> SeededRng {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// The seed of an ensemble's member `member` (its validation fit and its refit use the same).
pub fn member_seed(seed: u64, member: usize) -> u64 {
    seed.wrapping_add(1_000 * member as u64)
}

/// Set once a stage has failed, so that what trains beside the stages starts no further net:
/// its result would be thrown away, and the stage's error would wait for it.
#[derive(Debug, Default)]
pub struct Abandon(AtomicBool);

impl Abandon {
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// `Err(abandoned)` once set, else `Ok`: checked before each net starts.
    pub fn check<E>(&self, abandoned: E) -> Result<(), E> {
        if self.0.load(Ordering::Relaxed) { Err(abandoned) } else { Ok(()) }
    }
}

/// Row indices in a fresh random order.
pub fn shuffled(n: usize, rng: &mut SeededRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Platt scaling: (a, b) maximising the likelihood of p = σ(a·z + b) on (z, y).
pub fn fit_platt(logits: &[f64], labels: &[bool]) -> (f64, f64) {
    let rows: Vec<[f64; 1]> = logits.iter().map(|&z| [z]).collect();
    let ([a], b) = fit_logistic(&rows, labels);
    (a, b)
}

/// [`fit_platt`] on (z, y), with the calibrated probabilities σ(a·z + b) of the same z.
pub fn platt_calibrated(logits: &[f64], labels: &[bool]) -> ((f64, f64), Vec<f64>) {
    let (a, b) = fit_platt(logits, labels);
    ((a, b), logits.iter().map(|&z| shopml_core::features::sigmoid(a * z + b)).collect())
}

/// Logistic regression: (w, b) maximising the likelihood of p = σ(w·x + b) on (x, y), by
/// Newton's method with a tiny ridge for stability (small `N`: calibration and stacking).
pub fn fit_logistic<const N: usize>(rows: &[[f64; N]], labels: &[bool]) -> ([f64; N], f64) {
    let ridge = 1e-6;
    // Parameters: the N weights, then the intercept.
    let mut theta = vec![0.0f64; N + 1];
    for _ in 0..100 {
        let mut gradient: Vec<f64> = theta.iter().map(|t| ridge * t).collect();
        let mut hessian = vec![vec![0.0f64; N + 1]; N + 1];
        for (i, row) in hessian.iter_mut().enumerate() {
            row[i] = ridge;
        }
        for (x, &y) in rows.iter().zip(labels) {
            let input: Vec<f64> = x.iter().copied().chain([1.0]).collect();
            let p =
                shopml_core::features::sigmoid(theta.iter().zip(&input).map(|(t, v)| t * v).sum());
            let r = p - y as u8 as f64;
            let w = (p * (1.0 - p)).max(1e-12);
            for ((g, row), &vj) in gradient.iter_mut().zip(hessian.iter_mut()).zip(&input) {
                *g += r * vj;
                for (h, &vk) in row.iter_mut().zip(&input) {
                    *h += w * vj * vk;
                }
            }
        }
        let Some(step) = solve(hessian, gradient) else { break };
        for (t, s) in theta.iter_mut().zip(&step) {
            *t -= s;
        }
        if step.iter().all(|s| s.abs() < 1e-10) {
            break;
        }
    }
    let mut weights = [0.0; N];
    weights.copy_from_slice(&theta[..N]);
    (weights, theta[N])
}

/// Solves `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-18 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (value, &p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= factor * p;
            }
            b[col + 1 + offset] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// The `q`-quantile (0..=1) of `values` by linear interpolation.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo as f64)
}

/// Early stopping: keeps the best model seen and says when `patience` epochs passed without
/// a better validation loss. In fixed mode ([`EarlyStopping::with_budget`]) it keeps the last.
/// P10 and P90 of residuals (actual − predicted), as offsets of a range around a forecast:
/// the range a baseline serves with (its own validation residuals).
pub fn residual_spread(residuals: &[f64]) -> [f64; 2] {
    if residuals.is_empty() {
        return [0.0, 0.0];
    }
    [quantile(residuals, 0.1).min(0.0), quantile(residuals, 0.9).max(0.0)]
}

pub struct EarlyStopping<M> {
    patience: usize,
    keep_last: bool,
    best: Option<(f64, usize, M)>,
}

impl<M> EarlyStopping<M> {
    pub fn new(patience: usize) -> Self {
        Self { patience: patience.max(1), keep_last: false, best: None }
    }

    /// With `fixed_epochs` > 0 a member trains exactly that many epochs and the last is kept
    /// (no validation loss is computed); otherwise it stops early within `max_epochs`. Returns
    /// the rule and the number of epochs to run.
    pub fn with_budget(fixed_epochs: usize, max_epochs: usize, patience: usize) -> (Self, usize) {
        if fixed_epochs > 0 {
            (Self { keep_last: true, ..Self::new(patience) }, fixed_epochs)
        } else {
            (Self::new(patience), max_epochs)
        }
    }

    /// Offers the model after `epoch` with its validation `loss`; returns whether to go on.
    pub fn offer(&mut self, epoch: usize, loss: f64, model: M) -> bool {
        if self.best.as_ref().is_none_or(|(best, ..)| loss < *best - 1e-7) {
            self.best = Some((loss, epoch, model));
            true
        } else {
            epoch - self.best.as_ref().map_or(0, |b| b.1) < self.patience
        }
    }

    /// As [`Self::offer`], computing the validation loss only when the rule needs it.
    pub fn offer_with(&mut self, epoch: usize, model: M, loss: impl FnOnce(&M) -> f64) -> bool {
        if self.keep_last {
            self.best = Some((f64::NAN, epoch, model));
            return true;
        }
        let loss = loss(&model);
        self.offer(epoch, loss, model)
    }

    /// (best loss, its epoch, its model); the loss is NaN in fixed mode (see [`Self::into_kept`]).
    pub fn into_best(self) -> (f64, usize, M) {
        self.best.expect("at least one epoch was offered")
    }

    /// (validation loss, epoch, model) of the model kept: the loss early stopping already
    /// computed, or in fixed mode `loss` of the last model, computed once here.
    pub fn into_kept(self, loss: impl FnOnce(&M) -> f64) -> (f64, usize, M) {
        let keep_last = self.keep_last;
        let (best, epoch, model) = self.into_best();
        (if keep_last { loss(&model) } else { best }, epoch, model)
    }
}

/// Test split of the protocol (`../shared/EVALUATION.md`): CRC-32 of the key modulo `modulo` is 0.
pub fn in_test(key: &str, modulo: u32) -> bool {
    crc32fast::hash(key.as_bytes()).is_multiple_of(modulo)
}

/// Validation slice of a training split: CRC-32 of `"validation:" + id` modulo `modulo` is 0,
/// independent of the test split's CRC-32 of the id.
pub fn in_validation(id: &str, modulo: u32) -> bool {
    in_validation_slice(id, modulo, 0)
}

/// Slice `slice` (0..modulo) of the same rule: rotating the slice held out turns one
/// validation run into a `modulo`-fold cross-validation of a setting.
pub fn in_validation_slice(id: &str, modulo: u32, slice: u32) -> bool {
    crc32fast::hash(format!("validation:{id}").as_bytes()) % modulo == slice
}

/// Cross-fitting fold (0..folds) of a training row: CRC-32 of `"fold:" + id` modulo `folds`.
pub fn fold_of(id: &str, folds: u32) -> u32 {
    crc32fast::hash(format!("fold:{id}").as_bytes()) % folds.max(1)
}

/// Mini-batches of similar lengths, in random order: rows are shuffled, cut into pools of 16
/// batches, each pool sorted by length and cut into batches. Padding to the longest row of a
/// batch then wastes little, and the order still changes every epoch.
pub fn length_bucketed_batches(
    lengths: &[usize],
    batch_size: usize,
    rng: &mut SeededRng,
) -> Vec<Vec<usize>> {
    let order = shuffled(lengths.len(), rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for pool in order.chunks(batch_size * 16) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| lengths[i]);
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopml_core::features::sigmoid;

    #[test]
    fn platt_recovers_a_known_scaling() {
        let mut rng = rng(7);
        let (mut z, mut y) = (Vec::new(), Vec::new());
        for i in 0..20_000 {
            let logit = (i % 200) as f64 / 25.0 - 4.0;
            z.push(logit);
            y.push(rand::RngExt::random::<f64>(&mut rng) < sigmoid(0.5 * logit - 1.0));
        }
        let (a, b) = fit_platt(&z, &y);
        assert!((a - 0.5).abs() < 0.05, "a = {a}");
        assert!((b + 1.0).abs() < 0.08, "b = {b}");
    }

    #[test]
    fn logistic_regression_recovers_known_weights() {
        let mut rng = rng(11);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..40_000 {
            let row = [(i % 200) as f64 / 50.0 - 2.0, ((i * 7) % 130) as f64 / 65.0 - 1.0];
            y.push(
                rand::RngExt::random::<f64>(&mut rng) < sigmoid(1.5 * row[0] - 0.8 * row[1] + 0.3),
            );
            x.push(row);
        }
        let ([w0, w1], b) = fit_logistic(&x, &y);
        assert!((w0 - 1.5).abs() < 0.08, "w0 = {w0}");
        assert!((w1 + 0.8).abs() < 0.08, "w1 = {w1}");
        assert!((b - 0.3).abs() < 0.08, "b = {b}");
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[1.0, 2.0], 0.25), 1.25);
    }

    #[test]
    fn early_stopping_keeps_the_best_and_a_fixed_budget_keeps_the_last() {
        let losses = [0.5, 0.3, 0.4, 0.35, 0.45, 0.2];
        let run = |(mut rule, epochs): (EarlyStopping<usize>, usize)| {
            let mut loss_computed = 0;
            for epoch in 1..=epochs.min(losses.len()) {
                let go_on = rule.offer_with(epoch, epoch, |_| {
                    loss_computed += 1;
                    losses[epoch - 1]
                });
                if !go_on {
                    break;
                }
            }
            (rule.into_best().2, loss_computed)
        };
        // Patience 2: epochs 3 and 4 bring nothing better than epoch 2, so training stops there.
        assert_eq!(run(EarlyStopping::with_budget(0, 100, 2)), (2, 4));
        // Four fixed epochs: the fourth is kept and no validation loss is computed.
        assert_eq!(run(EarlyStopping::with_budget(4, 100, 2)), (4, 0));
    }

    #[test]
    fn the_kept_model_brings_its_validation_loss_computed_once() {
        let mut early = EarlyStopping::with_budget(0, 10, 3).0;
        early.offer_with(1, "a", |_| 0.4);
        early.offer_with(2, "b", |_| 0.2);
        assert_eq!(
            early.into_kept(|_| panic!("early stopping already knows the loss")),
            (0.2, 2, "b")
        );
        let mut fixed = EarlyStopping::with_budget(2, 10, 3).0;
        fixed.offer_with(1, "a", |_| panic!("fixed epochs compute no loss while training"));
        fixed.offer_with(2, "b", |_| panic!("fixed epochs compute no loss while training"));
        assert_eq!(fixed.into_kept(|m| if *m == "b" { 0.7 } else { 0.0 }), (0.7, 2, "b"));
    }
}
