//! Pieces shared by the training loops: the seeded random source, mini-batch order, and
//! probability calibration.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

/// The portable, seeded random source of every training step (same seed, same stream on every
/// platform).
pub type SeededRng = Xoshiro256PlusPlus;

pub fn rng(seed: u64) -> SeededRng {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Row indices in a fresh random order.
pub fn shuffled(n: usize, rng: &mut SeededRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Platt scaling: (a, b) maximising the likelihood of p = σ(a·z + b) on (z, y), by Newton's
/// method with a tiny ridge for stability.
pub fn fit_platt(logits: &[f64], labels: &[bool]) -> (f64, f64) {
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let ridge = 1e-6;
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (ridge * a, 0.0, ridge, 0.0, ridge);
        for (&z, &y) in logits.iter().zip(labels) {
            let p = shopml::features::sigmoid(a * z + b);
            let r = p - y as u8 as f64;
            let w = (p * (1.0 - p)).max(1e-12);
            ga += r * z;
            gb += r;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    (a, b)
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
/// a better validation loss.
pub struct EarlyStopping<M> {
    patience: usize,
    best: Option<(f64, usize, M)>,
}

impl<M> EarlyStopping<M> {
    pub fn new(patience: usize) -> Self {
        Self { patience: patience.max(1), best: None }
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

    /// (best loss, its epoch, its model).
    pub fn into_best(self) -> (f64, usize, M) {
        self.best.expect("at least one epoch was offered")
    }
}

/// Test split of the protocol (`../shared/EVALUATION.md`): CRC-32 of the key modulo `modulo` is 0.
pub fn in_test(key: &str, modulo: u32) -> bool {
    crc32fast::hash(key.as_bytes()).is_multiple_of(modulo)
}

/// Validation slice of a training split: CRC-32 of `"validation:" + id` modulo `modulo` is 0,
/// independent of the test split's CRC-32 of the id.
pub fn in_validation(id: &str, modulo: u32) -> bool {
    crc32fast::hash(format!("validation:{id}").as_bytes()).is_multiple_of(modulo)
}

/// Mini-batches of similar lengths, in random order: rows are shuffled, cut into pools of 16
/// batches, each pool sorted by length and cut into batches. Padding to the longest row of a
/// batch then wastes little, and the order still changes every epoch.
pub fn length_bucketed_batches(lengths: &[usize], batch_size: usize, rng: &mut SeededRng) -> Vec<Vec<usize>> {
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
    use shopml::features::sigmoid;

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
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[1.0, 2.0], 0.25), 1.25);
    }
}
