//! Cancellation risk of orders: encode, one forward pass for all lines (and their occlusions),
//! calibrate, band and explain.

use super::features::{
    CancellationEncoder, CheckoutLine, EncodedLine, Field, N_CATEGORICAL, N_NUMERIC,
    NUMERIC_FEATURES,
};
use super::model::{CancellationModel, ServingCancellationNet};
use crate::features::sigmoid;
use serde::{Deserialize, Serialize};

/// How line probabilities combine into the probability that an order has a cancelled line.
/// Lines of one order are cancelled together more often than independence says, so the rule is
/// chosen on validation data by log-loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAggregation {
    /// 1 - Π(1 - p_i).
    Independent,
    /// max p_i (lines cancelled together).
    Max,
}

impl OrderAggregation {
    pub fn combine(self, probabilities: impl Iterator<Item = f64>) -> f64 {
        match self {
            OrderAggregation::Independent => 1.0 - probabilities.map(|p| 1.0 - p).product::<f64>(),
            OrderAggregation::Max => probabilities.fold(0.0, f64::max),
        }
    }
}

/// Probability thresholds of the risk bands: low below `low_below`, high from `high_from`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskThresholds {
    pub low_below: f64,
    pub high_from: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskBand {
    Low,
    Medium,
    High,
}

impl RiskThresholds {
    pub fn band(&self, probability: f64) -> RiskBand {
        if probability >= self.high_from {
            RiskBand::High
        } else if probability < self.low_below {
            RiskBand::Low
        } else {
            RiskBand::Medium
        }
    }
}

/// Calibration fitted on the validation slice of the training days.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancellationCalibration {
    /// Platt scaling of the model's log-odds z: p = σ(platt_a · z + platt_b).
    pub platt_a: f64,
    pub platt_b: f64,
    pub risk_thresholds: RiskThresholds,
    pub order_aggregation: OrderAggregation,
}

impl CancellationCalibration {
    /// Checks the calibration is usable: increasing in the model's log-odds, not mapping every
    /// plausible log-odds (−10…10) to 0 or to 1, and risk bands within 0–1 in order.
    pub fn validated(self) -> Result<Self, String> {
        if !(self.platt_a.is_finite() && self.platt_a > 0.0 && self.platt_b.is_finite()) {
            return Err(format!(
                "Platt scaling a = {}, b = {}: a must be finite and > 0 (risk increasing with the model's log-odds)",
                self.platt_a, self.platt_b
            ));
        }
        let (lowest, highest) = (self.probability(-10.0), self.probability(10.0));
        if highest < 1e-6 || lowest > 1.0 - 1e-6 {
            return Err(format!(
                "degenerate: every order gets p = {:.6} (a = {}, b = {})",
                (lowest + highest) / 2.0,
                self.platt_a,
                self.platt_b
            ));
        }
        let RiskThresholds { low_below, high_from } = self.risk_thresholds;
        if !(0.0..=1.0).contains(&low_below) || !(low_below..=1.0).contains(&high_from) {
            return Err(format!(
                "risk thresholds low_below {low_below}, high_from {high_from}: need 0 <= low_below <= high_from <= 1"
            ));
        }
        Ok(self)
    }

    #[inline]
    pub fn probability(&self, logit: f64) -> f64 {
        sigmoid(self.platt_a * logit + self.platt_b)
    }
}

/// An input that moved a prediction, by occlusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub feature: &'static str,
    pub value: String,
    /// Change of the calibrated log-odds caused by this input (> 0 raises the risk).
    pub logit_effect: f64,
}

#[derive(Debug, Clone)]
pub struct LineRisk {
    pub probability: f64,
    pub band: RiskBand,
    pub reasons: Vec<Reason>,
    pub unseen: Vec<&'static str>,
    pub unit_price_inr: f64,
    pub price_imputed: bool,
}

#[derive(Debug, Clone)]
pub struct OrderRisk {
    pub probability: f64,
    pub band: RiskBand,
    pub lines: Vec<LineRisk>,
    /// Order-level inputs the model never saw.
    pub unseen: Vec<&'static str>,
}

/// Lines per forward pass: a pass's intermediates (a row of the folded table per field and
/// line) then stay in cache.
const FORWARD_CHUNK: usize = 256;

/// Occlusions per line: every categorical field, then every numeric input.
const OCCLUSIONS: usize = N_CATEGORICAL + N_NUMERIC;

/// Model rows of one explained line: the line and its occlusions.
pub const ROWS_PER_EXPLAINED_LINE: usize = 1 + OCCLUSIONS;

pub struct CancellationPredictor {
    encoder: CancellationEncoder,
    /// The ensemble in its serving layout (same outputs, one batched pass for all members).
    model: ServingCancellationNet,
    calibration: CancellationCalibration,
}

impl CancellationPredictor {
    pub fn new(
        encoder: CancellationEncoder,
        model: CancellationModel,
        calibration: CancellationCalibration,
    ) -> Self {
        let unknown_rows: Vec<u32> =
            (0..N_CATEGORICAL).map(|field| encoder.unknown_index(field)).collect();
        Self {
            model: model.for_serving(&encoder.field_offsets(), &unknown_rows),
            encoder,
            calibration,
        }
    }

    pub fn encoder(&self) -> &CancellationEncoder {
        &self.encoder
    }

    pub fn calibration(&self) -> &CancellationCalibration {
        &self.calibration
    }

    /// One explained prediction of a made-up line, to warm the model up.
    pub fn warm_up(&self) {
        let line = CheckoutLine {
            order_date: chrono::NaiveDate::from_ymd_opt(2022, 6, 1).expect("valid date"),
            fulfilment: "Amazon",
            sales_channel: "Amazon.in",
            ship_service_level: "Expedited",
            b2b: false,
            ship_city: "MUMBAI",
            ship_state: "MAHARASHTRA",
            ship_postal_code: "400001",
            sku: "WARMUP",
            style: "WARMUP",
            asin: "WARMUP",
            category: "kurta",
            size: "M",
            unit_price_inr: None,
        };
        let _ = self.predict(&[vec![line]], 3, self.calibration.risk_thresholds);
    }

    /// Calibrated line probabilities of already encoded lines (training's evaluation path and
    /// serving share it).
    pub fn line_probabilities(&self, encoded: &[EncodedLine]) -> Vec<f64> {
        self.raw_logits(&encoded.iter().collect::<Vec<_>>(), false)
            .into_iter()
            .map(|z| self.calibration.probability(z as f64))
            .collect()
    }

    /// Log-odds of each line, followed with `explained` by those of its occlusions
    /// ([`ROWS_PER_EXPLAINED_LINE`] a line; see [`ServingCancellationNet::forward_occluded`]).
    fn raw_logits(&self, lines: &[&EncodedLine], explained: bool) -> Vec<f32> {
        let mut logits =
            Vec::with_capacity(lines.len() * if explained { ROWS_PER_EXPLAINED_LINE } else { 1 });
        for chunk in lines.chunks(FORWARD_CHUNK) {
            let categorical: Vec<u32> = chunk.iter().flat_map(|l| l.categorical).collect();
            let numeric: Vec<f32> = chunk.iter().flat_map(|l| l.numeric).collect();
            logits.extend(if explained {
                self.model.forward_occluded(&categorical, &numeric)
            } else {
                self.model.forward(&categorical, &numeric)
            });
        }
        logits
    }

    /// Risk of each order (a slice of its lines). With `top_reasons > 0`, each line carries that
    /// many occlusion explanations; all rows of all orders go through one forward pass.
    pub fn predict(
        &self,
        orders: &[Vec<CheckoutLine<'_>>],
        top_reasons: usize,
        thresholds: RiskThresholds,
    ) -> Vec<OrderRisk> {
        let explain = top_reasons > 0;
        let encoded: Vec<Vec<EncodedLine>> = orders
            .iter()
            .map(|lines| lines.iter().map(|l| self.encoder.encode(l)).collect())
            .collect();
        let rows_per_line = if explain { ROWS_PER_EXPLAINED_LINE } else { 1 };
        let logits = self.raw_logits(&encoded.iter().flatten().collect::<Vec<_>>(), explain);
        let mut chunk = logits.chunks(rows_per_line);
        orders
            .iter()
            .zip(&encoded)
            .map(|(lines, encoded_lines)| {
                let line_risks: Vec<LineRisk> = lines
                    .iter()
                    .zip(encoded_lines)
                    .map(|(line, enc)| {
                        let logits = chunk.next().expect("one chunk of logits per line");
                        self.line_risk(line, enc, logits, top_reasons, thresholds)
                    })
                    .collect();
                let probability = self
                    .calibration
                    .order_aggregation
                    .combine(line_risks.iter().map(|l| l.probability));
                let unseen = encoded_lines
                    .first()
                    .map(|first| {
                        Field::ALL
                            .iter()
                            .zip(first.unseen)
                            .filter(|(field, unseen)| {
                                *unseen && field.is_order_level() && **field != Field::Weekday
                            })
                            .map(|(field, _)| field.name())
                            .collect()
                    })
                    .unwrap_or_default();
                OrderRisk {
                    probability,
                    band: thresholds.band(probability),
                    lines: line_risks,
                    unseen,
                }
            })
            .collect()
    }

    fn line_risk(
        &self,
        line: &CheckoutLine<'_>,
        enc: &EncodedLine,
        logits: &[f32],
        top_reasons: usize,
        thresholds: RiskThresholds,
    ) -> LineRisk {
        let a = self.calibration.platt_a;
        let probability = self.calibration.probability(logits[0] as f64);
        let mut reasons = Vec::new();
        if top_reasons > 0 {
            let full = logits[0] as f64;
            let mut effects: Vec<(usize, f64)> = logits[1..]
                .iter()
                .enumerate()
                .map(|(i, &occluded)| (i, a * (full - occluded as f64)))
                .filter(|(_, effect)| *effect != 0.0)
                .collect();
            effects.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
            reasons = effects
                .into_iter()
                .take(top_reasons)
                .map(|(i, logit_effect)| {
                    let (feature, value) = if i < N_CATEGORICAL {
                        let field = Field::ALL[i];
                        (field.name(), field.raw(line).display().to_owned())
                    } else if i == N_CATEGORICAL {
                        let suffix = if enc.price_imputed { " (imputed)" } else { "" };
                        (NUMERIC_FEATURES[0], format!("{:.2}{suffix}", enc.unit_price_inr))
                    } else {
                        (NUMERIC_FEATURES[1], chrono::Datelike::day(&line.order_date).to_string())
                    };
                    Reason { feature, value, logit_effect }
                })
                .collect();
        }
        let unseen = Field::ALL
            .iter()
            .zip(enc.unseen)
            .filter(|(field, unseen)| *unseen && !field.is_order_level())
            .map(|(field, _)| field.name())
            .collect();
        LineRisk {
            probability,
            band: thresholds.band(probability),
            reasons,
            unseen,
            unit_price_inr: enc.unit_price_inr,
            price_imputed: enc.price_imputed,
        }
    }
}
