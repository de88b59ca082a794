//! Maximum likelihood of the repeat-buying models with Burn's autodiff: the log-likelihood of
//! BG/NBD, MBG/NBD (optionally with time-invariant covariates) and Gamma-Gamma written as
//! tensor expressions in f64, their gradients by backpropagation, and a BFGS search over the
//! log-parameters.

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use shopml_core::customer_value::{PurchaseModel, PurchaseModelKind, Rft};

/// Customers grouped by identical histories (and covariates): each row counts `weight` times.
#[derive(Debug, Clone, Default)]
pub struct Histories {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
    pub weight: Vec<f64>,
    /// Covariates per row (`covariates` values each), row after row.
    pub z: Vec<f64>,
    pub covariates: usize,
}

impl Histories {
    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Groups `(x, t_x, t, covariates)` rows.
    pub fn grouped(rows: impl IntoIterator<Item = (f64, f64, f64, Vec<f64>)>) -> Self {
        let mut groups: std::collections::BTreeMap<(u64, u64, u64, Vec<u64>), f64> =
            Default::default();
        let mut covariates = 0;
        for (x, t_x, t, z) in rows {
            covariates = z.len();
            let key =
                (x.to_bits(), t_x.to_bits(), t.to_bits(), z.iter().map(|v| v.to_bits()).collect());
            *groups.entry(key).or_default() += 1.0;
        }
        let mut out = Histories { covariates, ..Default::default() };
        for ((x, t_x, t, z), weight) in groups {
            out.x.push(f64::from_bits(x));
            out.t_x.push(f64::from_bits(t_x));
            out.t.push(f64::from_bits(t));
            out.z.extend(z.into_iter().map(f64::from_bits));
            out.weight.push(weight);
        }
        out
    }
}

/// Log-parameters live in (−BOUND, BOUND): a parameter is exp(BOUND · tanh(θ / BOUND)). At an
/// interior optimum this changes nothing (the likelihood's maximum does not depend on the
/// parameterisation); on an export whose maximum lies at a boundary (no customer ever leaves:
/// a → 0) the fit stops at e^±12 instead of running off to infinity.
pub const BOUND: f64 = 12.0;

/// The parameter of an unbounded search coordinate.
pub fn bounded(theta: f64) -> f64 {
    (BOUND * (theta / BOUND).tanh()).exp()
}

fn tensor(values: &[f64], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), (device, DType::F64))
}

/// ln Γ(z) of a tensor (z > 0): Stirling's series at z + 6, shifted back by the recurrence
/// (relative error below 1e-10).
fn ln_gamma(z: Tensor<1>) -> Tensor<1> {
    let mut product = z.clone();
    for k in 1..6 {
        product = product * (z.clone() + k as f64);
    }
    let w = z + 6.0;
    let inv = w.clone().recip();
    let inv2 = inv.clone() * inv.clone();
    let series = inv.clone() * (1.0 / 12.0) - inv.clone() * inv2.clone() * (1.0 / 360.0)
        + inv * inv2.clone() * inv2 * (1.0 / 1260.0);
    (w.clone() - 0.5) * w.clone().log() - w + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
        - product.log()
}

/// ln(e^a + mask·e^b), elementwise (`mask` 0 or 1).
fn log_add_exp_masked(a: Tensor<1>, b: Tensor<1>, mask: Tensor<1>) -> Tensor<1> {
    // Where masked out, b is replaced by a (its term is then multiplied by 0).
    let b = b * mask.clone() + a.clone() * (mask.clone().neg() + 1.0);
    let m = a.clone().max_pair(b.clone()).detach();
    m.clone() + ((a - m.clone()).exp() + (b - m).exp() * mask).log()
}

/// Negative mean log-likelihood of Pareto/NBD, and its gradient by central differences, at
/// log-parameters `theta` = [ln r, ln α, ln s, ln β]: its likelihood holds ₂F₁ of each
/// customer's history, evaluated exactly by the core's series (`PurchaseModel::log_likelihood`)
/// rather than through a tensor graph of a fixed number of terms. A step whose likelihood is
/// not finite counts as +∞ (the search backs off).
pub fn pareto_loss(data: &Histories, theta: &[f64]) -> (f64, Vec<f64>) {
    use rayon::prelude::*;
    let loss = |theta: &[f64]| -> f64 {
        let model = PurchaseModel {
            kind: PurchaseModelKind::ParetoNbd,
            r: bounded(theta[0]),
            alpha: bounded(theta[1]),
            a: bounded(theta[2]),
            b: bounded(theta[3]),
        };
        let total: f64 = data.weight.iter().sum();
        // Terms in parallel, summed in order: the same data give the same fit on any run.
        let terms: Vec<f64> = (0..data.len())
            .into_par_iter()
            .map(|i| {
                let h = Rft { x: data.x[i], t_x: data.t_x[i], t: data.t[i] };
                data.weight[i] * model.log_likelihood(h)
            })
            .collect();
        let sum: f64 = terms.iter().sum();
        let value = -sum / total.max(1.0);
        if value.is_finite() { value } else { f64::INFINITY }
    };
    let value = loss(theta);
    let gradient = (0..theta.len())
        .map(|j| {
            let step = 1e-5 * theta[j].abs().max(1.0);
            let shifted = |delta: f64| {
                let mut t = theta.to_vec();
                t[j] += delta;
                loss(&t)
            };
            (shifted(step) - shifted(-step)) / (2.0 * step)
        })
        .collect();
    (value, gradient)
}

/// Negative mean log-likelihood of BG/NBD or MBG/NBD, and its gradient, at log-parameters
/// `theta` = [ln r, ln α, ln a, ln b, β (covariates of α), γ (covariates of a and b)].
pub fn purchase_loss(kind: PurchaseModelKind, data: &Histories, theta: &[f64]) -> (f64, Vec<f64>) {
    let device = Device::flex().autodiff();
    let n = data.len();
    let k = data.covariates;
    let th = tensor(theta, &device).require_grad();
    let param = |i: usize| ((th.clone().slice(i..i + 1) / BOUND).tanh() * BOUND).exp().expand([n]);
    let (r, alpha0, a0, b0) = (param(0), param(1), param(2), param(3));
    let (alpha, a, b) = if k > 0 {
        // Σ_j z_j θ_j as elementwise sums over the few covariates (a matmul of f64 tensors is
        // far slower here).
        let column = |j: usize| -> Vec<f64> { (0..n).map(|i| data.z[i * k + j]).collect() };
        let coefficient = |i: usize| th.clone().slice(i..i + 1).expand([n]);
        let mut rate = Tensor::<1>::zeros([n], (&device, DType::F64));
        let mut life = Tensor::<1>::zeros([n], (&device, DType::F64));
        for j in 0..k {
            let z = tensor(&column(j), &device);
            rate = rate + z.clone() * coefficient(4 + j);
            life = life + z * coefficient(4 + k + j);
        }
        let life = life.exp();
        (alpha0 * rate.neg().exp(), a0 * life.clone(), b0 * life)
    } else {
        (alpha0, a0, b0)
    };
    let x = tensor(&data.x, &device);
    let t_x = tensor(&data.t_x, &device);
    let t = tensor(&data.t, &device);
    let w = tensor(&data.weight, &device);
    let a1 =
        ln_gamma(r.clone() + x.clone()) - ln_gamma(r.clone()) + r.clone() * alpha.clone().log();
    let stay = (r.clone() + x.clone()).neg() * (alpha.clone() + t).log();
    let ll = match kind {
        PurchaseModelKind::BgNbd => {
            let a2 = ln_gamma(a.clone() + b.clone()) + ln_gamma(b.clone() + x.clone())
                - ln_gamma(b.clone())
                - ln_gamma(a.clone() + b.clone() + x.clone());
            let repeat: Vec<f64> = data.x.iter().map(|&v| (v > 0.0) as u8 as f64).collect();
            // For x = 0 the term is masked out; b + x − 1 is kept positive there.
            let leave = a.log()
                - (b + x.clone() - 1.0).clamp_min(1e-12).log()
                - (r + x) * (alpha + t_x).log();
            a1 + a2 + log_add_exp_masked(stay, leave, tensor(&repeat, &device))
        }
        PurchaseModelKind::MbgNbd => {
            let a2 = ln_gamma(a.clone() + b.clone()) + ln_gamma(b.clone() + x.clone() + 1.0)
                - ln_gamma(b.clone())
                - ln_gamma(a.clone() + b.clone() + x.clone() + 1.0);
            let leave = a.log() - (b + x.clone()).log() - (r + x) * (alpha + t_x).log();
            a1 + a2 + log_add_exp_masked(stay, leave, Tensor::ones([n], (&device, DType::F64)))
        }
        // Pareto/NBD's likelihood holds ₂F₁ of each history: see `pareto_loss`.
        PurchaseModelKind::ParetoNbd => return pareto_loss(data, theta),
    };
    let total: f64 = data.weight.iter().sum();
    let loss = (ll * w).sum().neg() / total;
    let value = loss.clone().into_data().try_to_vec::<f64>().expect("f64 loss")[0];
    let grads = loss.backward();
    let gradient =
        th.grad(&grads).expect("theta takes part").into_data().try_to_vec::<f64>().expect("f64");
    (value, gradient)
}

/// Negative mean Gamma-Gamma log-likelihood of customers' (repeat purchases, mean amount), and
/// its gradient, at `theta` = [ln p, ln q, ln γ].
pub fn spend_loss(x: &[f64], mean: &[f64], theta: &[f64]) -> (f64, Vec<f64>) {
    let device = Device::flex().autodiff();
    let n = x.len();
    let th = tensor(theta, &device).require_grad();
    let param = |i: usize| ((th.clone().slice(i..i + 1) / BOUND).tanh() * BOUND).exp().expand([n]);
    let (p, q, gamma) = (param(0), param(1), param(2));
    let xs = tensor(x, &device);
    let m = tensor(mean, &device);
    let px = p * xs.clone();
    let ll = ln_gamma(px.clone() + q.clone()) - ln_gamma(px.clone()) - ln_gamma(q.clone())
        + q.clone() * gamma.clone().log()
        + (px.clone() - 1.0) * m.clone().log()
        + px.clone() * xs.clone().log()
        - (px + q) * (gamma + xs * m).log();
    let loss = ll.sum().neg() / n as f64;
    let value = loss.clone().into_data().try_to_vec::<f64>().expect("f64 loss")[0];
    let grads = loss.backward();
    let gradient =
        th.grad(&grads).expect("theta takes part").into_data().try_to_vec::<f64>().expect("f64");
    (value, gradient)
}

/// The result of a minimisation.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub theta: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub converged: bool,
}

/// BFGS with a backtracking (Armijo) line search from `start`; stops when the largest
/// gradient component is below `tolerance` or after `max_iterations`.
pub fn bfgs(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: &[f64],
    tolerance: f64,
    max_iterations: usize,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let (mut value, mut gradient) = f(&x);
    let mut evaluations = 1;
    // Inverse Hessian approximation, row-major.
    let mut h: Vec<f64> = (0..n * n).map(|i| if i % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let norm = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for iteration in 0..max_iterations {
        if norm(&gradient) < tolerance {
            return Minimum {
                theta: x,
                value,
                iterations: iteration,
                evaluations,
                converged: true,
            };
        }
        let mut direction: Vec<f64> =
            (0..n).map(|i| -(0..n).map(|j| h[i * n + j] * gradient[j]).sum::<f64>()).collect();
        let mut slope: f64 = direction.iter().zip(&gradient).map(|(d, g)| d * g).sum();
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            h.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = if i % (n + 1) == 0 { 1.0 } else { 0.0 });
            direction = gradient.iter().map(|g| -g).collect();
            slope = -gradient.iter().map(|g| g * g).sum::<f64>();
        }
        let mut step = 1.0;
        let (mut next, mut next_value, mut next_gradient);
        loop {
            next = x.iter().zip(&direction).map(|(xi, d)| xi + step * d).collect::<Vec<_>>();
            (next_value, next_gradient) = f(&next);
            evaluations += 1;
            if next_value.is_finite() && next_value <= value + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
            // A direction that gives nothing within a millionth of its length, or a search
            // out of evaluations: as far as this search goes.
            if step < 1e-6 || evaluations >= 4 * max_iterations {
                let converged = norm(&gradient) < tolerance * 1e3;
                return Minimum { theta: x, value, iterations: iteration, evaluations, converged };
            }
        }
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient.iter().zip(&gradient).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > 1e-12 {
            let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum()).collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] +=
                        (sy + yhy) * s[i] * s[j] / (sy * sy) - (hy[i] * s[j] + s[i] * hy[j]) / sy;
                }
            }
        }
        let unchanged = next_value == value && next == x;
        x = next;
        value = next_value;
        gradient = next_gradient;
        if unchanged {
            // No progress in floating point: as close as this precision allows.
            return Minimum {
                theta: x,
                value,
                iterations: iteration + 1,
                evaluations,
                converged: norm(&gradient) < tolerance * 1e3,
            };
        }
    }
    let converged = norm(&gradient) < tolerance;
    Minimum { theta: x, value, iterations: max_iterations, evaluations, converged }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tensor_likelihood_agrees_with_the_closed_form_and_its_gradient_with_differences() {
        use shopml_core::customer_value::{PurchaseModel, Rft};
        let data = Histories::grouped([
            (0.0, 0.0, 30.0, vec![]),
            (2.0, 10.5, 31.0, vec![]),
            (7.0, 25.0, 38.0, vec![]),
            (0.0, 0.0, 30.0, vec![]),
        ]);
        assert_eq!(data.len(), 3);
        for kind in [PurchaseModelKind::BgNbd, PurchaseModelKind::MbgNbd] {
            let inverse = |p: f64| BOUND * (p.ln() / BOUND).atanh();
            let theta = [inverse(0.25), inverse(4.4), inverse(0.8), inverse(2.4)];
            let (value, gradient) = purchase_loss(kind, &data, &theta);
            let model = PurchaseModel { kind, r: 0.25, alpha: 4.4, a: 0.8, b: 2.4 };
            let exact = -[(0.0, 0.0, 30.0), (2.0, 10.5, 31.0), (7.0, 25.0, 38.0), (0.0, 0.0, 30.0)]
                .iter()
                .map(|&(x, t_x, t)| model.log_likelihood(Rft { x, t_x, t }))
                .sum::<f64>()
                / 4.0;
            assert!((value - exact).abs() < 1e-8, "{kind:?}: {value} vs {exact}");
            for i in 0..4 {
                let mut up = theta;
                up[i] += 1e-6;
                let numeric = (purchase_loss(kind, &data, &up).0 - value) / 1e-6;
                assert!(
                    (numeric - gradient[i]).abs() < 1e-4,
                    "{kind:?} d{i}: {numeric} vs {}",
                    gradient[i]
                );
            }
        }
    }

    #[test]
    fn bfgs_finds_the_minimum_of_a_quadratic() {
        let f = |x: &[f64]| {
            let value = (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2);
            (value, vec![2.0 * (x[0] - 1.0), 20.0 * (x[1] + 2.0)])
        };
        let m = bfgs(f, &[0.0, 0.0], 1e-10, 100);
        assert!(m.converged && (m.theta[0] - 1.0).abs() < 1e-8 && (m.theta[1] + 2.0).abs() < 1e-8);
    }
}
