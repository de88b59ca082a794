//! The price model's baselines, fitted on the same products as the model: the median discount
//! of each category path, and a ridge regression on the encoder's inputs (conjugate gradients
//! on the normal equations, so that a catalogue of any size and vocabulary fits in memory).

use crate::fit::residual_spread;
use shopml_core::price::baseline::{PriceBaseline, category_prefixes};
use shopml_core::price::features::{EncodedProduct, ProductInput};
use std::collections::BTreeMap;

/// Products a category path needs for a median of its own.
const MIN_CATEGORY_PRODUCTS: usize = 5;

/// A training product: its input, encoding and ln(selling / list).
pub struct Example<'a, 'e> {
    pub input: &'a ProductInput<'a>,
    pub encoded: &'e EncodedProduct,
    pub log_ratio: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The category medians of `examples` (the range filled in later from validation residuals).
pub fn category_median(examples: &[Example<'_, '_>]) -> PriceBaseline {
    let mut by_prefix: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for e in examples {
        for prefix in category_prefixes(e.input.category_path) {
            by_prefix.entry(prefix).or_default().push(e.log_ratio);
        }
    }
    let mut all: Vec<f64> = examples.iter().map(|e| e.log_ratio).collect();
    PriceBaseline::CategoryMedian {
        medians: by_prefix
            .into_iter()
            .filter(|(_, v)| v.len() >= MIN_CATEGORY_PRODUCTS)
            .map(|(prefix, mut v)| (prefix, median(&mut v)))
            .collect(),
        overall: median(&mut all),
        spread: [0.0, 0.0],
    }
}

/// The design matrix of `examples`: sparse token columns, then the numeric inputs.
struct Design<'x> {
    rows: Vec<(&'x [u32], &'x [f32], &'x [f32])>,
    vocab: usize,
    numeric: usize,
}

impl Design<'_> {
    fn columns(&self) -> usize {
        self.vocab + self.numeric
    }

    /// X·w for each row.
    fn times(&self, w: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .map(|(tokens, weights, numeric)| {
                let sparse: f64 =
                    tokens.iter().zip(*weights).map(|(&t, &x)| w[t as usize] * f64::from(x)).sum();
                let dense: f64 = numeric
                    .iter()
                    .enumerate()
                    .map(|(j, &x)| w[self.vocab + j] * f64::from(x))
                    .sum();
                sparse + dense
            })
            .collect()
    }

    /// Xᵀ·v.
    fn transposed_times(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.columns()];
        for ((tokens, weights, numeric), &vi) in self.rows.iter().zip(v) {
            for (&t, &x) in tokens.iter().zip(*weights) {
                out[t as usize] += f64::from(x) * vi;
            }
            for (j, &x) in numeric.iter().enumerate() {
                out[self.vocab + j] += f64::from(x) * vi;
            }
        }
        out
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Ridge regression of ln(selling / list) on the encoder's inputs with penalty `lambda`
/// (targets and the intercept centred, so the intercept is not penalised): w solves
/// (XᵀX + λI) w = Xᵀ(y − ȳ), by conjugate gradients.
pub fn ridge(examples: &[Example<'_, '_>], vocab: usize, lambda: f64) -> PriceBaseline {
    let numeric = examples.first().map_or(0, |e| e.encoded.numeric.len());
    let design = Design {
        rows: examples
            .iter()
            .map(|e| {
                (e.encoded.tokens.as_slice(), e.encoded.weights.as_slice(), &e.encoded.numeric[..])
            })
            .collect(),
        vocab,
        numeric,
    };
    let mean = examples.iter().map(|e| e.log_ratio).sum::<f64>() / examples.len().max(1) as f64;
    let centred: Vec<f64> = examples.iter().map(|e| e.log_ratio - mean).collect();
    // The intercept absorbs the numeric inputs' means only approximately; they are
    // standardised by the encoder, so the centring of y is what matters.
    let apply = |w: &[f64]| -> Vec<f64> {
        let mut out = design.transposed_times(&design.times(w));
        out.iter_mut().zip(w).for_each(|(o, wi)| *o += lambda * wi);
        out
    };
    let b = design.transposed_times(&centred);
    let mut w = vec![0.0; design.columns()];
    let mut r = b.clone();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let tolerance = 1e-10 * dot(&b, &b).max(1e-300);
    for _ in 0..400 {
        if rr <= tolerance {
            break;
        }
        let ap = apply(&p);
        let step = rr / dot(&p, &ap).max(1e-300);
        w.iter_mut().zip(&p).for_each(|(wi, pi)| *wi += step * pi);
        r.iter_mut().zip(&ap).for_each(|(ri, api)| *ri -= step * api);
        let next = dot(&r, &r);
        let keep = next / rr;
        p.iter_mut().zip(&r).for_each(|(pi, ri)| *pi = ri + keep * *pi);
        rr = next;
    }
    PriceBaseline::Ridge {
        token_weights: w[..vocab].iter().map(|&v| v as f32).collect(),
        numeric_weights: w[vocab..].iter().map(|&v| v as f32).collect(),
        intercept: mean,
        spread: [0.0, 0.0],
    }
}

/// `baseline` with the range its residuals on `validation` give.
pub fn with_spread(baseline: PriceBaseline, validation: &[Example<'_, '_>]) -> PriceBaseline {
    let residuals: Vec<f64> =
        validation.iter().map(|e| e.log_ratio - baseline.log_ratio(e.input, e.encoded)).collect();
    let s = residual_spread(&residuals);
    match baseline {
        PriceBaseline::CategoryMedian { medians, overall, .. } => {
            PriceBaseline::CategoryMedian { medians, overall, spread: s }
        }
        PriceBaseline::Ridge { token_weights, numeric_weights, intercept, .. } => {
            PriceBaseline::Ridge { token_weights, numeric_weights, intercept, spread: s }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_a_linear_relation_and_medians_fall_back_to_the_parent() {
        let encoded: Vec<EncodedProduct> = (0..40)
            .map(|i| EncodedProduct {
                tokens: vec![(i % 2) as u32],
                weights: vec![1.0],
                numeric: std::array::from_fn(|j| if j == 0 { (i as f32) / 10.0 } else { 0.0 }),
                log_list_price: 0.0,
                unseen_category_levels: Vec::new(),
            })
            .collect();
        let inputs: Vec<ProductInput<'_>> = (0..40)
            .map(|i| ProductInput {
                name: "",
                category_path: if i < 6 { "A|B" } else { "A|C" },
                list_price: 1.0,
                rating: None,
                rating_count: None,
            })
            .collect();
        // y = -0.3 for token 1, + 0.1 · numeric 0.
        let examples: Vec<Example<'_, '_>> = (0..40)
            .map(|i| Example {
                input: &inputs[i],
                encoded: &encoded[i],
                log_ratio: -0.3 * (i % 2) as f64 + 0.1 * (i as f64 / 10.0),
            })
            .collect();
        let model = ridge(&examples, 2, 1e-6);
        let worst = examples
            .iter()
            .map(|e| (model.log_ratio(e.input, e.encoded) - e.log_ratio).abs())
            .fold(0.0f64, f64::max);
        assert!(worst < 1e-3, "{worst}");
        let medians = category_median(&examples);
        let unknown = ProductInput { category_path: "A|Z", ..inputs[0] };
        // A|Z has no median: its parent A's.
        let a = category_median(&examples).log_ratio(&unknown, &encoded[0]);
        assert_eq!(medians.log_ratio(&unknown, &encoded[0]), a);
        assert!(
            matches!(medians, PriceBaseline::CategoryMedian { ref medians, .. } if medians.contains_key("A|B") && medians.contains_key("A"))
        );
    }
}
