//! A UK online shop's invoice lines, in the schema such shops export (invoice number, stock
//! code, description, quantity, invoice date-time, unit price in pounds, customer id, country):
//! repeat customers, credit notes (invoice numbers starting with "C", negative quantities)
//! returning earlier purchases, postage, fee, discount and manual lines that are not products,
//! lines without a customer id, and Latin-1 text. Returns depend on the customer's history and
//! the product, so a return model has something honest to learn.

use super::{csv, gzip, normal, pick, poisson, sigmoid};
use crate::fit::rng;
use chrono::{Datelike, Duration, NaiveDate};
use rand::RngExt;
use std::fmt::Write as _;
use std::path::Path;

pub const FILE: &str = "online_retail.csv.gz";

/// Product families: description stem, price in pounds, return propensity.
const FAMILIES: &[(&str, f64, f64)] = &[
    ("WHITE HANGING HEART T-LIGHT HOLDER", 2.55, -0.4),
    ("REGENCY CAKESTAND 3 TIER", 12.75, 0.6),
    ("JUMBO BAG RED RETROSPOT", 1.95, -0.6),
    ("PARTY BUNTING", 4.95, -0.2),
    ("LUNCH BAG  BLACK SKULL.", 1.65, -0.5),
    ("SET OF 3 CAKE TINS PANTRY DESIGN", 4.95, 0.2),
    ("ASSORTED COLOUR BIRD ORNAMENT", 1.69, -0.7),
    ("VINTAGE SNAP CARDS", 0.85, -0.3),
    ("DOORMAT UNION FLAG", 7.95, 0.9),
    ("CHILLI LIGHTS", 4.25, 1.1),
    ("CRÈME BRÛLÉE SET OF 2", 3.75, 0.4),
    ("PAPER CHAIN KIT 50'S CHRISTMAS", 2.95, -0.1),
];
const COLOURS: &[&str] = &["", "RED", "BLUE", "PINK", "IVORY"];

/// Non-product lines: stock code, description, price.
const FEES: &[(&str, &str, f64)] = &[
    ("POST", "POSTAGE", 18.0),
    ("DOT", "DOTCOM POSTAGE", 11.08),
    ("M", "Manual", 2.5),
    ("BANK CHARGES", "Bank Charges", 15.0),
    ("AMAZONFEE", "AMAZON FEE", 5.9),
    ("D", "Discount", 3.0),
];
const COUNTRIES: &[(&str, f64)] = &[
    ("United Kingdom", 85.0),
    ("Germany", 4.0),
    ("France", 4.0),
    ("EIRE", 3.0),
    ("Spain", 1.5),
    ("Netherlands", 1.5),
    ("Belgium", 1.0),
];

struct Customer {
    id: String,
    country: &'static str,
    returner: f64,
    rate: f64,
}

/// Customers of the sample (about 63 lines each).
pub const CUSTOMERS: usize = 260;

/// Writes the sample and returns its line count: invoices over six months, 2011-06-01 to
/// 2011-11-30.
pub fn write(dir: &Path, seed: u64) -> std::io::Result<usize> {
    write_sized(dir, seed, CUSTOMERS)
}

/// The same shop with `customer_count` customers (for scale runs: about 63 lines each).
pub fn write_sized(dir: &Path, seed: u64, customer_count: usize) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0x0e7a11);
    let products: Vec<(String, String, f64, f64)> = FAMILIES
        .iter()
        .enumerate()
        .flat_map(|(f, (stem, price, propensity))| {
            COLOURS.iter().enumerate().filter(move |(c, _)| *c < 2 + f % 4).map(
                move |(c, colour)| {
                    let code = format!("{}{}", 21000 + f * 137, ["", "A", "B", "C", "D"][c]);
                    let name = if colour.is_empty() {
                        (*stem).to_owned()
                    } else {
                        format!("{stem} {colour}")
                    };
                    (code, name, *price, *propensity)
                },
            )
        })
        .collect();
    let countries: Vec<(usize, f64)> =
        COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.1)).collect();
    let customers: Vec<Customer> = (0..customer_count)
        .map(|i| Customer {
            id: format!("{}.0", 12_346 + i * 7),
            country: COUNTRIES[*pick(&mut rng, &countries)].0,
            returner: 1.1 * normal(&mut rng),
            rate: (0.6 * normal(&mut rng)).exp() * 0.045,
        })
        .collect();
    let first = NaiveDate::from_ymd_opt(2011, 6, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(2011, 11, 30).expect("date");
    let mut out = String::from(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n",
    );
    let mut rows = 0usize;
    let mut invoice = 536_365u32;
    let mut credit = 536_379u32;
    // Returns waiting to be booked: (day, customer, code, name, quantity, price).
    let mut pending: Vec<(NaiveDate, usize, String, String, i64, f64)> = Vec::new();
    let mut day = first;
    while day <= last {
        // The shop ships on weekdays and Sundays; Saturdays are closed.
        let open = day.weekday() != chrono::Weekday::Sat;
        let season = 1.0 + 0.6 * ((day - first).num_days() as f64 / 183.0);
        for (c, customer) in customers.iter().enumerate() {
            if !open || rng.random::<f64>() >= customer.rate * season {
                continue;
            }
            invoice += 1;
            let hour = rng.random_range(8..18u32);
            let minute = rng.random_range(0..60u32);
            let stamp =
                format!("{}/{}/{} {}:{:02}", day.month(), day.day(), day.year(), hour, minute);
            let lines = 1 + poisson(&mut rng, 4.0);
            let guest = rng.random::<f64>() < 0.08;
            for _ in 0..lines {
                let (code, name, price, propensity) =
                    &products[rng.random_range(0..products.len())];
                let quantity = [1i64, 2, 3, 4, 6, 12, 24][rng.random_range(0..7usize)];
                let _ = writeln!(
                    out,
                    "{invoice},{code},{},{quantity},{stamp},{price:.2},{},{}",
                    csv(name),
                    if guest { "" } else { customer.id.as_str() },
                    customer.country
                );
                rows += 1;
                let logit = -2.6 + customer.returner + propensity;
                if !guest && rng.random::<f64>() < sigmoid(logit) {
                    let back = day + Duration::days(3 + rng.random_range(0..25i64));
                    let returned = if rng.random::<f64>() < 0.7 { quantity } else { 1 };
                    pending.push((back, c, code.clone(), name.clone(), returned, *price));
                }
            }
            if rng.random::<f64>() < 0.25 {
                let (code, name, price) = FEES[rng.random_range(0..FEES.len())];
                let sign = if code == "D" { -1 } else { 1 };
                let _ = writeln!(
                    out,
                    "{invoice},{code},{name},{sign},{stamp},{price:.2},{},{}",
                    if guest { "" } else { customer.id.as_str() },
                    customer.country
                );
                rows += 1;
            }
        }
        // Credit notes booked today.
        pending.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let due: Vec<_> = pending.iter().filter(|p| p.0 == day).cloned().collect();
        pending.retain(|p| p.0 != day);
        for (_, c, code, name, quantity, price) in due {
            credit += 1;
            let customer = &customers[c];
            let _ = writeln!(
                out,
                "C{credit},{code},{},-{quantity},{}/{}/{} 16:05,{price:.2},{},{}",
                csv(&name),
                day.month(),
                day.day(),
                day.year(),
                customer.id,
                customer.country
            );
            rows += 1;
        }
        day += Duration::days(1);
    }
    // Exports of this shop are Latin-1 (the accented descriptions).
    let bytes: Vec<u8> =
        out.chars().map(|ch| if (ch as u32) < 256 { ch as u32 as u8 } else { b'?' }).collect();
    gzip(&dir.join(FILE), &bytes)?;
    Ok(rows)
}
