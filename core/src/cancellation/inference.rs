//! Cancellation risk of orders: encode, one forward pass for all lines (and their occlusions),
//! calibrate, band and explain.

use super::features::{CancellationEncoder, CheckoutLine, EncodedLine, Source};
use super::model::{CancellationModel, ServingCancellationNet};
use crate::features::sigmoid;
pub use crate::outcome_rates::PredictedOutcome;
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
    /// What the probabilities are of.
    #[serde(default)]
    pub outcome: PredictedOutcome,
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
        // A slope beyond 100 turns every log-odds into 0 or 1: no fit gives one.
        if !(self.platt_a > 0.0 && self.platt_a <= 100.0 && self.platt_b.abs() <= 100.0) {
            return Err(format!(
                "Platt scaling a = {}, b = {}: a must be in (0, 100] (risk increasing with the model's log-odds) and b in [-100, 100]",
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
    pub feature: String,
    pub value: String,
    /// Change of the calibrated log-odds caused by this input (> 0 raises the risk).
    pub logit_effect: f64,
}

#[derive(Debug, Clone)]
pub struct LineRisk {
    pub probability: f64,
    pub band: RiskBand,
    pub reasons: Vec<Reason>,
    pub unseen: Vec<String>,
    pub unit_price: f64,
    pub price_imputed: bool,
}

#[derive(Debug, Clone)]
pub struct OrderRisk {
    pub probability: f64,
    pub band: RiskBand,
    pub lines: Vec<LineRisk>,
    /// Order-level inputs the model never saw.
    pub unseen: Vec<String>,
}

/// Lines per forward pass: a pass's intermediates (a row of the folded table per field and
/// line) then stay in cache.
const FORWARD_CHUNK: usize = 256;

pub struct CancellationPredictor {
    encoder: CancellationEncoder,
    /// The ensemble in its serving layout (same outputs, one batched pass for all members).
    model: ServingCancellationNet,
    calibration: CancellationCalibration,
    /// The reference distributions and the window of served lines, when the bundle has them.
    drift: Option<super::drift::DriftMonitor>,
    /// The baseline served in the model's place, when it scored better on validation.
    baseline: Option<super::baseline::CheckoutBaseline>,
}

impl CancellationPredictor {
    pub fn new(
        encoder: CancellationEncoder,
        model: CancellationModel,
        calibration: CancellationCalibration,
    ) -> Self {
        let unknown_rows: Vec<u32> =
            (0..encoder.n_categorical()).map(|field| encoder.unknown_index(field)).collect();
        Self {
            model: model.for_serving(encoder.field_offsets(), &unknown_rows),
            encoder,
            calibration,
            drift: None,
            baseline: None,
        }
    }

    /// Serves `baseline` in the model's place (None: the model).
    pub fn with_baseline(mut self, baseline: Option<super::baseline::CheckoutBaseline>) -> Self {
        self.baseline = baseline;
        self
    }

    /// The baseline served in the model's place, if one is.
    pub fn baseline(&self) -> Option<&super::baseline::CheckoutBaseline> {
        self.baseline.as_ref()
    }

    pub fn with_drift(mut self, drift: Option<super::drift::DriftMonitor>) -> Self {
        self.drift = drift;
        self
    }

    /// The drift monitor, when the bundle has reference distributions.
    pub fn drift(&self) -> Option<&super::drift::DriftMonitor> {
        self.drift.as_ref()
    }

    pub fn encoder(&self) -> &CancellationEncoder {
        &self.encoder
    }

    pub fn calibration(&self) -> &CancellationCalibration {
        &self.calibration
    }

    /// Model rows of one explained line: the line and its occlusions (every categorical
    /// field, then every numeric input).
    pub fn rows_per_explained_line(&self) -> usize {
        1 + self.encoder.n_categorical() + self.encoder.n_numeric()
    }

    /// One explained prediction of a made-up line, to warm the model up.
    pub fn warm_up(&self) {
        let line = CheckoutLine {
            order_date: chrono::NaiveDate::from_ymd_opt(2022, 6, 1).expect("valid date"),
            channel: "WARMUP",
            city: "WARMUP",
            state: "WARMUP",
            postal_code: "000000",
            product_id: "WARMUP",
            product_group: "WARMUP",
            category: "WARMUP",
            attributes: super::features::AttributeValues::NONE,
            unit_price: None,
            customer: None,
        };
        let _ = self.predict(&[vec![line]], 3, self.calibration.risk_thresholds);
    }

    /// Calibrated line probabilities of already encoded lines (training's evaluation path and
    /// serving share it).
    pub fn line_probabilities(&self, encoded: &[EncodedLine]) -> Vec<f64> {
        debug_assert!(self.baseline.is_none(), "the model's own probabilities");
        self.raw_logits(&encoded.iter().collect::<Vec<_>>(), false)
            .into_iter()
            .map(|z| self.calibration.probability(z as f64))
            .collect()
    }

    /// Log-odds of each line, followed with `explained` by those of its occlusions
    /// ([`ROWS_PER_EXPLAINED_LINE`] a line; see [`ServingCancellationNet::forward_occluded`]).
    fn raw_logits(&self, lines: &[&EncodedLine], explained: bool) -> Vec<f32> {
        let rows = if explained { self.rows_per_explained_line() } else { 1 };
        let (fields, numbers) = (self.encoder.n_categorical(), self.encoder.n_numeric());
        let mut logits = Vec::with_capacity(lines.len() * rows);
        for chunk in lines.chunks(FORWARD_CHUNK) {
            let categorical: Vec<u32> =
                chunk.iter().flat_map(|l| l.categorical[..fields].iter().copied()).collect();
            let numeric: Vec<f32> =
                chunk.iter().flat_map(|l| l.numeric[..numbers].iter().copied()).collect();
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
        self.predict_observed(orders, top_reasons, thresholds, |_, _| {})
    }

    /// [`Self::predict`], handing `observe` each order's encoded lines and risks before
    /// returning (for the drift window and the prediction log).
    pub fn predict_observed(
        &self,
        orders: &[Vec<CheckoutLine<'_>>],
        top_reasons: usize,
        thresholds: RiskThresholds,
        observe: impl FnOnce(&[Vec<EncodedLine>], &[OrderRisk]),
    ) -> Vec<OrderRisk> {
        let explain = top_reasons > 0;
        let encoded: Vec<Vec<EncodedLine>> = orders
            .iter()
            .map(|lines| lines.iter().map(|l| self.encoder.encode(l)).collect())
            .collect();
        let rows_per_line = if explain { self.rows_per_explained_line() } else { 1 };
        let logits = match self.baseline {
            Some(_) => Vec::new(),
            None => self.raw_logits(&encoded.iter().flatten().collect::<Vec<_>>(), explain),
        };
        let mut chunk = logits.chunks(rows_per_line);
        let risks: Vec<OrderRisk> = orders
            .iter()
            .zip(&encoded)
            .map(|(lines, encoded_lines)| {
                let line_risks: Vec<LineRisk> = lines
                    .iter()
                    .zip(encoded_lines)
                    .map(|(line, enc)| match &self.baseline {
                        Some(baseline) => {
                            let (probability, reasons) = baseline.line(line, top_reasons);
                            LineRisk {
                                probability,
                                band: thresholds.band(probability),
                                reasons,
                                unseen: self.unseen_fields(enc, false),
                                unit_price: enc.unit_price,
                                price_imputed: enc.price_imputed,
                            }
                        }
                        None => {
                            let logits = chunk.next().expect("one chunk of logits per line");
                            self.line_risk(line, enc, logits, top_reasons, thresholds)
                        }
                    })
                    .collect();
                let probability = self
                    .calibration
                    .order_aggregation
                    .combine(line_risks.iter().map(|l| l.probability));
                let unseen = encoded_lines
                    .first()
                    .map(|first| self.unseen_fields(first, true))
                    .unwrap_or_default();
                OrderRisk {
                    probability,
                    band: thresholds.band(probability),
                    lines: line_risks,
                    unseen,
                }
            })
            .collect();
        observe(&encoded, &risks);
        risks
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
                    let encoder = &self.encoder;
                    let fields = encoder.n_categorical();
                    let (feature, value) = if i < fields {
                        let field = &encoder.fields[i];
                        (field.name.clone(), field.raw(line).display().to_owned())
                    } else {
                        let j = i - fields;
                        let input = encoder.numeric[j];
                        let value = encoder.numeric_value(j, line, enc.unit_price);
                        let value = match input {
                            super::features::Numeric::UnitPrice if enc.price_imputed => {
                                format!("{value:.2} (imputed)")
                            }
                            super::features::Numeric::UnitPrice
                            | super::features::Numeric::PriorCancelledShare => {
                                format!("{value:.2}")
                            }
                            _ => format!("{value:.0}"),
                        };
                        (input.name().to_owned(), value)
                    };
                    Reason { feature, value, logit_effect }
                })
                .collect();
        }
        LineRisk {
            probability,
            band: thresholds.band(probability),
            reasons,
            unseen: self.unseen_fields(enc, false),
            unit_price: enc.unit_price,
            price_imputed: enc.price_imputed,
        }
    }

    /// Names of the order's (or the line's) inputs whose value the model never saw; the
    /// weekday is always known, and a customer the model does not know is reported by the
    /// caller.
    fn unseen_fields(&self, enc: &EncodedLine, order_level: bool) -> Vec<String> {
        if enc.unseen == 0 {
            return Vec::new();
        }
        let attributes = &self.encoder.attributes;
        self.encoder
            .fields
            .iter()
            .enumerate()
            .filter(|(i, field)| {
                enc.is_unseen(*i)
                    && field.is_order_level(attributes) == order_level
                    && field.source != Source::Weekday
            })
            .map(|(_, field)| field.name.clone())
            .collect()
    }
}

/// An order to score: its lines, and whether its answer explains each line's risk.
pub struct OrderToScore<'o> {
    pub lines: Vec<CheckoutLine<'o>>,
    pub explain: bool,
}

impl CancellationPredictor {
    /// Scores orders — those explained (with `top_reasons` reasons a line) in one pass, the
    /// others in another — in their order. Every line enters the drift window; `each` sees
    /// each order's encoded lines and risk (for a prediction log).
    pub fn score(
        &self,
        orders: Vec<OrderToScore<'_>>,
        top_reasons: usize,
        thresholds: RiskThresholds,
        mut each: impl FnMut(usize, &[EncodedLine], &OrderRisk),
    ) -> Vec<OrderRisk> {
        let mut out: Vec<Option<OrderRisk>> = vec![None; orders.len()];
        let (explained, plain): (Vec<_>, Vec<_>) =
            orders.into_iter().enumerate().partition(|(_, o)| o.explain && top_reasons > 0);
        for (orders, reasons) in [(explained, top_reasons), (plain, 0)] {
            if orders.is_empty() {
                continue;
            }
            let (group, lines): (Vec<usize>, Vec<Vec<CheckoutLine<'_>>>) =
                orders.into_iter().map(|(i, o)| (i, o.lines)).unzip();
            let observe = |encoded: &[Vec<EncodedLine>], risks: &[OrderRisk]| {
                if let Some(drift) = &self.drift {
                    drift.observe(encoded.iter().zip(risks).flat_map(|(lines, risk)| {
                        lines.iter().zip(risk.lines.iter().map(|l| l.probability))
                    }));
                }
                for ((&i, lines), risk) in group.iter().zip(encoded).zip(risks) {
                    each(i, lines, risk);
                }
            };
            let risks = self.predict_observed(&lines, reasons, thresholds, observe);
            for (&i, risk) in group.iter().zip(risks) {
                out[i] = Some(risk);
            }
        }
        out.into_iter().map(|r| r.expect("every order scored")).collect()
    }
}
