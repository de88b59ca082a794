//! A cohort's purchases in the minimal schema of the CDNOW export (customer, day, number of
//! items, amount in dollars; no order id, product or status), drawn from the BG/NBD and
//! Gamma-Gamma processes with known parameters ([`PARAMETERS`]), so that a fit can be checked
//! against the truth. Customers make their first purchase in the first twelve weeks of 1997;
//! purchases run to 1998-06-30.

use super::{gzip, normal};
use crate::fit::{SeededRng, rng};
use chrono::{Duration, NaiveDate};
use rand::RngExt;
use std::fmt::Write as _;
use std::path::Path;

pub const FILE: &str = "cdnow_sample.csv.gz";

/// The generating parameters: BG/NBD (r, α per week, a, b) and Gamma-Gamma (p, q, γ).
pub const PARAMETERS: Parameters =
    Parameters { r: 0.25, alpha: 4.5, a: 0.8, b: 2.5, p: 6.0, q: 3.8, gamma: 15.0 };

#[derive(Debug, Clone, Copy)]
pub struct Parameters {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

/// Customers of the sample.
pub const CUSTOMERS: usize = 2000;

/// A Gamma(shape, rate) draw (Marsaglia and Tsang; shapes below 1 boosted).
pub fn gamma(rng: &mut SeededRng, shape: f64, rate: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        return gamma(rng, shape + 1.0, rate) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random::<f64>().max(1e-300);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v / rate;
        }
    }
}

/// Writes the sample and returns its purchase count.
pub fn write(dir: &Path, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0xcd);
    let start = NaiveDate::from_ymd_opt(1997, 1, 1).expect("date");
    let end = NaiveDate::from_ymd_opt(1998, 6, 30).expect("date");
    let horizon_weeks = (end - start).num_days() as f64 / 7.0;
    let p = PARAMETERS;
    let mut out = String::from("customer_id,date,number_of_cds,dollar_value\n");
    let mut rows = 0usize;
    for customer in 0..CUSTOMERS {
        let lambda = gamma(&mut rng, p.r, p.alpha);
        let x = gamma(&mut rng, p.a, 1.0);
        let dropout = x / (x + gamma(&mut rng, p.b, 1.0));
        let nu = gamma(&mut rng, p.q, p.gamma);
        let first = rng.random_range(0..84i64) as f64 / 7.0;
        let mut t = first;
        let mut purchases = vec![t];
        loop {
            t += -rng.random::<f64>().max(1e-300).ln() / lambda.max(1e-12);
            if t > horizon_weeks {
                break;
            }
            purchases.push(t);
            // After each repeat purchase the customer may leave for good.
            if rng.random::<f64>() < dropout {
                break;
            }
        }
        for week in purchases {
            let day = start + Duration::days((week * 7.0).floor() as i64);
            let amount = gamma(&mut rng, p.p, nu);
            let items = 1 + (amount / 15.0).floor().min(9.0) as u32;
            let _ =
                writeln!(out, "{:05},{},{items},{:.2}", customer + 1, day.format("%Y%m%d"), amount);
            rows += 1;
        }
    }
    gzip(&dir.join(FILE), out.as_bytes())?;
    Ok(rows)
}
