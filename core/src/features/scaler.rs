//! Standardisation of numeric inputs with statistics fitted on training data.

use serde::{Deserialize, Serialize};

/// `(x - mean) / std`, with the statistics of the training split saved in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: f64,
    pub std: f64,
}

impl Standardizer {
    /// Fits on the finite values of `values`; a constant (or empty) input gets `std = 1` so the
    /// transform stays finite.
    pub fn fit(values: impl IntoIterator<Item = f64>) -> Self {
        let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
        for x in values.into_iter().filter(|x| x.is_finite()) {
            n += 1.0;
            let delta = x - mean;
            mean += delta / n;
            m2 += delta * (x - mean);
        }
        let std = if n > 1.0 { (m2 / n).sqrt() } else { 0.0 };
        Self { mean: if n > 0.0 { mean } else { 0.0 }, std: if std > 1e-12 { std } else { 1.0 } }
    }

    #[inline]
    pub fn transform(&self, x: f64) -> f32 {
        ((x - self.mean) / self.std) as f32
    }

    #[inline]
    pub fn inverse(&self, z: f64) -> f64 {
        z * self.std + self.mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_and_inverts() {
        let s = Standardizer::fit([1.0, 2.0, 3.0, f64::NAN]);
        assert!((s.mean - 2.0).abs() < 1e-12);
        assert!((s.std - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.inverse(s.transform(3.0) as f64) - 3.0).abs() < 1e-6);
        assert_eq!(Standardizer::fit([5.0, 5.0]).std, 1.0);
    }
}
