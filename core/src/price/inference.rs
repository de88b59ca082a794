//! Price predictions: encode, one forward pass for the whole batch, back to rupees.

use super::features::{EncodedProduct, PriceEncoder, ProductInput};
use super::model::{PriceModel, ServingPriceNet};
use crate::features::bag::Bag;
use serde::{Deserialize, Serialize};

/// Calibration of the range, fitted on held-out training products: the P10–P90 half-widths
/// are multiplied by `interval_scale` so that about 80% of prices fall inside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceCalibration {
    pub interval_scale: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PricePrediction {
    pub price: f64,
    pub p10: f64,
    pub p90: f64,
    /// 100 · (1 − price / list).
    pub implied_discount_pct: f64,
    /// Category levels (0-based) never seen in training.
    pub unseen_category_levels: Vec<usize>,
}

/// Products per chunk of a large batch (see [`PricePredictor::predict`]).
const PARALLEL_CHUNK: usize = 1024;

pub struct PricePredictor {
    encoder: PriceEncoder,
    /// The ensemble in its serving layout (same outputs, one batched pass for all members).
    model: ServingPriceNet,
    calibration: PriceCalibration,
    /// The score's reference and the window of served scores, when the bundle has them.
    drift: Option<crate::drift::ScoreMonitor>,
    /// The baseline served in the model's place, when it scored better on validation.
    baseline: Option<super::baseline::PriceBaseline>,
}

impl PricePredictor {
    pub fn new(encoder: PriceEncoder, model: PriceModel, calibration: PriceCalibration) -> Self {
        Self { encoder, model: model.for_serving(), calibration, drift: None, baseline: None }
    }

    /// Serves `baseline` in the model's place (None: the model).
    pub fn with_baseline(mut self, baseline: Option<super::baseline::PriceBaseline>) -> Self {
        self.baseline = baseline;
        self
    }

    /// The baseline served in the model's place, if one is.
    pub fn baseline(&self) -> Option<&super::baseline::PriceBaseline> {
        self.baseline.as_ref()
    }

    pub fn with_drift(mut self, drift: Option<crate::drift::ScoreMonitor>) -> Self {
        self.drift = drift;
        self
    }

    /// The score monitor, when the bundle has a reference of the score.
    pub fn drift(&self) -> Option<&crate::drift::ScoreMonitor> {
        self.drift.as_ref()
    }

    pub fn encoder(&self) -> &PriceEncoder {
        &self.encoder
    }

    /// Raw quantiles of ln(selling / list) for encoded products, `[n][3]`.
    pub fn log_ratio_quantiles(&self, encoded: &[EncodedProduct]) -> Vec<[f64; 3]> {
        if encoded.is_empty() {
            return Vec::new();
        }
        let bags: Vec<Bag<'_>> =
            encoded.iter().map(|e| (e.tokens.as_slice(), e.weights.as_slice())).collect();
        let numeric: Vec<f32> = encoded.iter().flat_map(|e| e.numeric).collect();
        self.model.forward(&bags, &numeric).into_iter().map(|q| q.map(f64::from)).collect()
    }

    /// Predictions for validated products (list price finite and > 0). Large batches go in
    /// chunks across the cores: each chunk's intermediate tensors stay in cache, and encoding
    /// (half the cost) runs in parallel.
    pub fn predict(&self, products: &[ProductInput<'_>]) -> Vec<PricePrediction> {
        use rayon::prelude::*;
        if products.len() <= PARALLEL_CHUNK {
            return self.predict_chunk(products);
        }
        products
            .par_chunks(PARALLEL_CHUNK)
            .flat_map_iter(|chunk| self.predict_chunk(chunk))
            .collect()
    }

    fn predict_chunk(&self, products: &[ProductInput<'_>]) -> Vec<PricePrediction> {
        let encoded: Vec<EncodedProduct> =
            products.iter().map(|p| self.encoder.encode(p)).collect();
        // A baseline's range is calibrated already (its own validation residuals).
        let (quantiles, scale) = match &self.baseline {
            Some(b) => {
                (products.iter().zip(&encoded).map(|(p, e)| b.quantiles(p, e)).collect(), 1.0)
            }
            None => (self.log_ratio_quantiles(&encoded), self.calibration.interval_scale),
        };
        quantiles
            .into_iter()
            .zip(encoded)
            .zip(products)
            .map(|((q, e), product)| {
                let median = e.log_list_price + q[1];
                let price = median.exp();
                PricePrediction {
                    price,
                    p10: (median - scale * (q[1] - q[0])).exp(),
                    p90: (median + scale * (q[2] - q[1])).exp(),
                    implied_discount_pct: 100.0 * (1.0 - price / product.list_price),
                    unseen_category_levels: e.unseen_category_levels,
                }
            })
            .collect()
    }

    /// Predicts, and feeds each prediction's ratio to its list price into the drift window.
    pub fn predict_observed(&self, products: &[ProductInput<'_>]) -> Vec<PricePrediction> {
        let predictions = self.predict(products);
        if let Some(drift) = &self.drift {
            drift.observe(predictions.iter().zip(products).map(|(p, i)| p.price / i.list_price));
        }
        predictions
    }

    pub fn warm_up(&self) {
        let _ = self.predict(&[ProductInput {
            name: "warm up product",
            category_path: "Electronics",
            list_price: 999.0,
            rating: Some(4.0),
            rating_count: Some(100.0),
        }]);
    }
}
