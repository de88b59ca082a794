//! Input and score drift of the checkout model: the reference distributions training stores in
//! the bundle, and the population stability index (PSI) of what the model is asked against
//! them — over a sliding window of served lines, or over a prediction log.
//!
//! Each input and the score are binned the same way in training, serving and evaluation, from
//! the encoded line ([`EncodedLine`]): a categorical input by its most frequent values in the
//! reference, the rest ("other") and the values the model never saw ("unseen"); a numeric
//! input and the score by the reference's deciles.

use super::features::{CancellationEncoder, EncodedLine};
pub use crate::drift::{Bins, DriftFigures, QUANTILE_BINS, WINDOW_LINES, psi};
use crate::drift::{check_edges, check_shares, quantile_bin, quantile_edges, shares};
use crate::features::Vocabulary;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The file of the reference in a bundle (optional: bundles from before it have no drift
/// figures).
pub const REFERENCE_FILE: &str = "cancellation/reference.json";

/// Values of a categorical input given their own bin.
pub const TOP_VALUES: usize = 20;
/// Inputs that follow the calendar: any window of days is distributed unlike another window
/// over them (day of month, weekday), so they have no drift figure.
pub const CALENDAR_INPUTS: [&str; 2] = ["order_day_of_month", "order_weekday"];
/// Most bins a line has: one per input, one for the score.
const MAX_SLOTS: usize = super::features::MAX_CATEGORICAL + super::features::MAX_NUMERIC + 1;
/// An input's name (as in explanations and `unseen_inputs`) and its bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReference {
    pub name: String,
    #[serde(flatten)]
    pub bins: Bins,
}

/// The distributions the model was checked on: each input's and the calibrated line
/// probability's, over the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    /// What the lines were, e.g. "validation split, 2022-04-28 to 2022-05-11".
    pub source: String,
    /// Lines counted.
    pub lines: usize,
    /// Categorical inputs in model order, then numeric inputs in model order.
    pub inputs: Vec<InputReference>,
    /// The calibrated line probability.
    pub score: Bins,
}

impl DriftReference {
    /// Counts `lines` (encoded by `encoder`) and their calibrated `probabilities`.
    pub fn fit(
        encoder: &CancellationEncoder,
        lines: &[EncodedLine],
        probabilities: &[f64],
        source: String,
    ) -> Self {
        let offsets = encoder.field_offsets();
        let mut inputs = Vec::with_capacity(encoder.n_categorical() + encoder.n_numeric());
        for (f, (field, vocabulary)) in encoder.fields.iter().zip(&encoder.vocabularies).enumerate()
        {
            let mut counts = vec![0u64; vocabulary.len()];
            for line in lines {
                counts[(line.categorical[f] - offsets[f]) as usize] += 1;
            }
            let mut known: Vec<u32> = (1..vocabulary.len() as u32).collect();
            known.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
            known.retain(|&i| counts[i as usize] > 0);
            known.truncate(TOP_VALUES);
            let values = known
                .iter()
                .map(|&i| vocabulary.token(i).expect("a known index").to_owned())
                .collect();
            inputs.push(InputReference {
                name: field.name.clone(),
                bins: Bins::Categorical { values, shares: Vec::new() },
            });
        }
        for (j, input) in encoder.numeric.iter().enumerate() {
            let mut values: Vec<f64> = lines.iter().map(|l| l.numeric[j] as f64).collect();
            let upper_edges =
                if values.is_empty() { Vec::new() } else { quantile_edges(&mut values) };
            inputs.push(InputReference {
                name: input.name().to_owned(),
                bins: Bins::Quantiles { upper_edges, shares: Vec::new() },
            });
        }
        let mut scores = probabilities.to_vec();
        let score_edges = if scores.is_empty() { Vec::new() } else { quantile_edges(&mut scores) };
        let mut reference = Self {
            source,
            lines: lines.len(),
            inputs,
            score: Bins::Quantiles { upper_edges: score_edges, shares: Vec::new() },
        };
        // The shares are those of the binning serving uses, so the reference's PSI against
        // itself is exactly 0.
        let binner = Binner::new(&reference, encoder).expect("a reference fits its own encoder");
        let mut counts = BinCounts::new(&binner);
        for (line, &p) in lines.iter().zip(probabilities) {
            counts.add(&binner, line, p);
        }
        for (input, c) in reference.inputs.iter_mut().zip(&counts.inputs) {
            match &mut input.bins {
                Bins::Categorical { shares: s, .. } | Bins::Quantiles { shares: s, .. } => {
                    *s = shares(c)
                }
            }
        }
        if let Bins::Quantiles { shares: s, .. } = &mut reference.score {
            *s = shares(&counts.score);
        }
        reference
    }

    /// Checks the reference against the model's encoder (same inputs, bins and shares that
    /// agree).
    pub fn validated(self, encoder: &CancellationEncoder) -> Result<Self, String> {
        Binner::new(&self, encoder)?;
        for (name, bins) in
            self.inputs.iter().map(|i| (i.name.as_str(), &i.bins)).chain([("score", &self.score)])
        {
            let expected = match bins {
                Bins::Categorical { values, .. } => values.len() + 2,
                Bins::Quantiles { upper_edges, .. } => upper_edges.len() + 1,
            };
            check_shares(name, bins.shares(), expected)?;
        }
        Ok(self)
    }
}

/// Maps an encoded line to its bin of each input and of the score.
#[derive(Debug)]
pub struct Binner {
    /// Per categorical field: its first embedding row and the bin of each vocabulary index.
    categorical: Vec<(u32, Vec<u8>)>,
    numeric: Vec<Vec<f64>>,
    score: Vec<f64>,
    /// Bins of each input, then of the score.
    sizes: Vec<usize>,
}

impl Binner {
    pub fn new(reference: &DriftReference, encoder: &CancellationEncoder) -> Result<Self, String> {
        let (fields, numbers) = (encoder.n_categorical(), encoder.n_numeric());
        if reference.inputs.len() != fields + numbers {
            return Err(format!(
                "the reference has {} inputs; the model {} categorical and {} numeric",
                reference.inputs.len(),
                fields,
                numbers
            ));
        }
        let mut categorical = Vec::with_capacity(fields);
        let mut numeric = Vec::with_capacity(numbers);
        let mut sizes = Vec::with_capacity(fields + numbers + 1);
        for (i, input) in reference.inputs.iter().enumerate() {
            let expected = if i < fields {
                encoder.fields[i].name.as_str()
            } else {
                encoder.numeric[i - fields].name()
            };
            if input.name != expected {
                return Err(format!(
                    "reference input {i} is `{}`, the model's `{expected}`",
                    input.name
                ));
            }
            match (&input.bins, i < fields) {
                (Bins::Categorical { values, .. }, true) => {
                    if values.len() > TOP_VALUES {
                        return Err(format!("`{}` has more than {TOP_VALUES} values", input.name));
                    }
                    let vocabulary: &Vocabulary = &encoder.vocabularies[i];
                    let (other, unseen) = (values.len() as u8, values.len() as u8 + 1);
                    let mut bins = vec![other; vocabulary.len()];
                    bins[Vocabulary::UNKNOWN as usize] = unseen;
                    for (bin, value) in values.iter().enumerate() {
                        let index = vocabulary.get(value).ok_or_else(|| {
                            format!(
                                "`{}` value {value:?} is not in the model's vocabulary",
                                input.name
                            )
                        })?;
                        bins[index as usize] = bin as u8;
                    }
                    categorical.push((encoder.field_offsets()[i], bins));
                    sizes.push(values.len() + 2);
                }
                (Bins::Quantiles { upper_edges, .. }, false) => {
                    check_edges(&input.name, upper_edges)?;
                    numeric.push(upper_edges.clone());
                    sizes.push(upper_edges.len() + 1);
                }
                _ => return Err(format!("`{}` has bins of the wrong kind", input.name)),
            }
        }
        let Bins::Quantiles { upper_edges: score, .. } = &reference.score else {
            return Err("the score's bins must be quantiles".into());
        };
        check_edges("score", score)?;
        sizes.push(score.len() + 1);
        Ok(Self { categorical, numeric, score: score.clone(), sizes })
    }

    /// Inputs plus the score.
    pub fn slots(&self) -> usize {
        self.sizes.len()
    }

    /// Writes the bin of each input, then of the score, into `out` ([`Self::slots`] long).
    pub fn bins(&self, line: &EncodedLine, probability: f64, out: &mut [u8]) {
        let fields = self.categorical.len();
        for (f, (offset, bins)) in self.categorical.iter().enumerate() {
            let local = line.categorical[f].wrapping_sub(*offset) as usize;
            out[f] = bins.get(local).copied().unwrap_or(bins[Vocabulary::UNKNOWN as usize]);
        }
        for (j, edges) in self.numeric.iter().enumerate() {
            out[fields + j] = quantile_bin(edges, line.numeric[j] as f64) as u8;
        }
        out[fields + self.numeric.len()] = quantile_bin(&self.score, probability) as u8;
    }
}

/// Lines per bin of each input and of the score.
#[derive(Debug, Clone)]
pub struct BinCounts {
    pub inputs: Vec<Vec<u64>>,
    pub score: Vec<u64>,
    pub lines: u64,
}

impl BinCounts {
    pub fn new(binner: &Binner) -> Self {
        let (inputs, score) = binner.sizes.split_at(binner.sizes.len() - 1);
        Self {
            inputs: inputs.iter().map(|&n| vec![0; n]).collect(),
            score: vec![0; score[0]],
            lines: 0,
        }
    }

    pub fn add(&mut self, binner: &Binner, line: &EncodedLine, probability: f64) {
        let mut bins = [0u8; MAX_SLOTS];
        binner.bins(line, probability, &mut bins);
        self.add_bins(&bins[..binner.slots()], 1);
    }

    fn add_bins(&mut self, bins: &[u8], sign: i64) {
        let (inputs, score) = bins.split_at(bins.len() - 1);
        let step = |n: &mut u64| *n = n.wrapping_add_signed(sign);
        for (counts, &bin) in self.inputs.iter_mut().zip(inputs) {
            step(&mut counts[bin as usize]);
        }
        step(&mut self.score[score[0] as usize]);
        step(&mut self.lines);
    }

    /// The PSI of each input (by name; calendar inputs left out) and of the score against
    /// `reference`.
    pub fn figures(&self, reference: &DriftReference) -> DriftFigures {
        DriftFigures {
            lines: self.lines,
            inputs: reference
                .inputs
                .iter()
                .zip(&self.inputs)
                .filter(|(input, _)| !CALENDAR_INPUTS.contains(&input.name.as_str()))
                .map(|(input, counts)| (input.name.clone(), psi(input.bins.shares(), counts)))
                .collect(),
            score: psi(reference.score.shares(), &self.score),
        }
    }
}

/// The reference of a served model and the bins of the last [`WINDOW_LINES`] lines it scored.
#[derive(Debug)]
pub struct DriftMonitor {
    reference: DriftReference,
    binner: Binner,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// The bins of each line, [`Binner::slots`] a line, as a ring.
    ring: Vec<u8>,
    next: usize,
    /// Its `lines` are the lines in the ring.
    counts: BinCounts,
}

impl DriftMonitor {
    pub fn new(reference: DriftReference, encoder: &CancellationEncoder) -> Result<Self, String> {
        let reference = reference.validated(encoder)?;
        let binner = Binner::new(&reference, encoder)?;
        let window = Window {
            ring: vec![0; WINDOW_LINES * binner.slots()],
            next: 0,
            counts: BinCounts::new(&binner),
        };
        Ok(Self { reference, binner, window: Mutex::new(window) })
    }

    pub fn reference(&self) -> &DriftReference {
        &self.reference
    }

    pub fn binner(&self) -> &Binner {
        &self.binner
    }

    /// Adds served lines to the window (the oldest leave it once it is full).
    pub fn observe<'a>(&self, lines: impl IntoIterator<Item = (&'a EncodedLine, f64)>) {
        let slots = self.binner.slots();
        let mut bins = [0u8; MAX_SLOTS];
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let window = &mut *window;
        for (line, probability) in lines {
            self.binner.bins(line, probability, &mut bins);
            let at = window.next * slots;
            if window.counts.lines == WINDOW_LINES as u64 {
                let mut leaving = [0u8; MAX_SLOTS];
                leaving[..slots].copy_from_slice(&window.ring[at..at + slots]);
                window.counts.add_bins(&leaving[..slots], -1);
            }
            window.ring[at..at + slots].copy_from_slice(&bins[..slots]);
            window.counts.add_bins(&bins[..slots], 1);
            window.next = (window.next + 1) % WINDOW_LINES;
        }
    }

    /// PSI of the lines in the window.
    pub fn figures(&self) -> DriftFigures {
        let counts = self.window.lock().unwrap_or_else(|e| e.into_inner()).counts.clone();
        counts.figures(&self.reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancellation::{AttributeValues, CheckoutLine, InputSchema};
    use chrono::NaiveDate;

    fn line(state: &str, price: f64) -> CheckoutLine<'_> {
        CheckoutLine {
            order_date: NaiveDate::from_ymd_opt(2022, 6, 15).unwrap(),
            channel: "",
            city: "",
            state,
            postal_code: "",
            product_id: "",
            product_group: "",
            category: "",
            attributes: AttributeValues::NONE,
            unit_price: Some(price),
            customer: None,
        }
    }

    #[test]
    fn the_window_keeps_the_last_lines_and_its_psi_follows_them() {
        let schema = InputSchema { state: true, ..Default::default() };
        let states = ["Kerala", "Goa", "Bihar", "Assam"];
        let training: Vec<CheckoutLine> =
            (0..400).map(|i| line(states[i % 4], 100.0 + (i % 50) as f64)).collect();
        let encoder = CancellationEncoder::fit(&schema, &training, 1);
        let encoded: Vec<EncodedLine> = training.iter().map(|l| encoder.encode(l)).collect();
        let scores: Vec<f64> = (0..400).map(|i| (i % 20) as f64 / 40.0).collect();
        let reference = DriftReference::fit(&encoder, &encoded, &scores, "test".into());
        let monitor = DriftMonitor::new(reference.clone(), &encoder).unwrap();

        monitor.observe(encoded.iter().zip(scores.iter().copied()));
        let same = monitor.figures();
        assert_eq!(same.lines, 400);
        assert!(same.inputs.iter().all(|(_, v)| v.abs() < 1e-12) && same.score.abs() < 1e-12);
        assert!(same.inputs.iter().all(|(name, _)| name != "order_day_of_month"));

        // A full window of one state, and a state never seen: the old lines have left it.
        let kerala = encoder.encode(&line("Kerala", 120.0));
        let unseen = encoder.encode(&line("Sikkim", 120.0));
        monitor
            .observe((0..WINDOW_LINES).map(|i| (if i % 2 == 0 { &kerala } else { &unseen }, 0.9)));
        let shifted = monitor.figures();
        assert_eq!(shifted.lines, WINDOW_LINES as u64);
        let state = shifted.inputs.iter().find(|(n, _)| n == "ship_state").unwrap().1;
        assert!(state > 1.0 && shifted.score > 1.0, "{shifted:?}");

        // The reference's own lines, enough of them to fill the window again: flat.
        for _ in 0..WINDOW_LINES / 400 + 1 {
            monitor.observe(encoded.iter().zip(scores.iter().copied()));
        }
        let back = monitor.figures();
        assert!(back.inputs.iter().all(|(_, v)| *v < 0.01) && back.score < 0.01, "{back:?}");
    }

    #[test]
    fn a_reference_that_does_not_fit_the_model_is_refused() {
        let schema = InputSchema { state: true, ..Default::default() };
        let training: Vec<CheckoutLine> = (0..40).map(|i| line(["A", "B"][i % 2], 10.0)).collect();
        let encoder = CancellationEncoder::fit(&schema, &training, 1);
        let encoded: Vec<EncodedLine> = training.iter().map(|l| encoder.encode(l)).collect();
        let reference = DriftReference::fit(&encoder, &encoded, &[0.5; 40], "test".into());
        let mut renamed = reference.clone();
        renamed.inputs[0].name = "ship_city".into();
        assert!(DriftMonitor::new(renamed, &encoder).unwrap_err().contains("ship_city"));
        let mut foreign = reference.clone();
        if let Bins::Categorical { values, .. } = &mut foreign.inputs[0].bins {
            values[0] = "NOWHERE".into();
        }
        assert!(DriftMonitor::new(foreign, &encoder).unwrap_err().contains("NOWHERE"));
        let mut bad_shares = reference;
        if let Bins::Quantiles { shares, .. } = &mut bad_shares.score {
            shares[0] = f64::NAN;
        }
        assert!(DriftMonitor::new(bad_shares, &encoder).unwrap_err().contains("score"));
    }
}
