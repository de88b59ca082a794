//! A four-year office-supplies retailer in the schema of Tableau's "Sample - Superstore"
//! (US and Canada): UTF-8 with a byte-order mark, CRLF line endings and no final newline,
//! day-first two-digit-year dates, order and ship dates, customers with segments, US states in
//! four sales regions and Canadian provinces (their amounts in Canadian dollars, without a
//! currency column), sub-categories, quantities, discounts and profit (negative on deep
//! discounts). Demand has a yearly season (low January and February, high September,
//! November and December), a weekly one and growth, so a forecast has something to learn.

use super::{csv, gzip, normal, pick, poisson};
use crate::fit::rng;
use chrono::{Datelike, Duration, NaiveDate};
use rand::RngExt;
use std::path::Path;

pub const FILE: &str = "superstore_sales.csv.gz";

/// Sub-categories with a base price.
type SubCategories = &'static [(&'static str, f64)];

/// Category, its code, its sub-categories.
const CATEGORIES: &[(&str, &str, SubCategories)] = &[
    (
        "Office Supplies",
        "OFF",
        &[("Paper", 18.0), ("Binders", 22.0), ("Art", 9.0), ("Storage", 95.0), ("Labels", 7.0)],
    ),
    ("Furniture", "FUR", &[("Chairs", 260.0), ("Tables", 380.0), ("Furnishings", 45.0)]),
    ("Technology", "TEC", &[("Phones", 210.0), ("Accessories", 75.0), ("Machines", 450.0)]),
];

/// State, city, postal code, region, weight; Canadian provinces last.
const PLACES: &[(&str, &str, &str, &str, &str, f64)] = &[
    ("United States", "California", "Los Angeles", "90049", "West", 20.0),
    ("United States", "Washington", "Seattle", "98105", "West", 8.0),
    ("United States", "New York", "New York City", "10035", "East", 14.0),
    ("United States", "Pennsylvania", "Philadelphia", "19143", "East", 8.0),
    ("United States", "Ohio", "Columbus", "43229", "East", 5.0),
    ("United States", "Texas", "Houston", "77095", "Central", 10.0),
    ("United States", "Illinois", "Chicago", "60653", "Central", 6.0),
    ("United States", "Florida", "Miami", "33142", "South", 5.0),
    ("United States", "Georgia", "Atlanta", "30318", "South", 3.0),
    ("United States", "Virginia", "Richmond", "23223", "South", 3.0),
    ("Canada", "Ontario", "Toronto", "M7A", "East", 1.2),
    ("Canada", "Quebec", "Montreal", "H2Y", "East", 0.8),
];
const SHIP_MODES: &[(&str, i64, f64)] = &[
    ("Standard Class", 5, 60.0),
    ("Second Class", 3, 19.0),
    ("First Class", 2, 15.0),
    ("Same Day", 0, 6.0),
];
const SEGMENTS: &[(&str, f64)] = &[("Consumer", 52.0), ("Corporate", 30.0), ("Home Office", 18.0)];
const NAMES: &[&str] = &[
    "Darren Powers",
    "Phillina Ober",
    "Mick Brown",
    "Jane Waco",
    "Rick Bensley",
    "Aimee Bixby",
    "Sean Miller",
    "Tamara Chand",
    "Raymond Buch",
    "Tom Ashbrook",
    "Adrian Barton",
    "Ken Lonsdale",
];

/// Writes the sample and returns its line count: orders of 2019-01-03 to 2022-12-30.
pub fn write(dir: &Path, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0x5ee5);
    let places: Vec<(usize, f64)> = PLACES.iter().enumerate().map(|(i, p)| (i, p.5)).collect();
    let segments: Vec<(usize, f64)> = SEGMENTS.iter().enumerate().map(|(i, s)| (i, s.1)).collect();
    let modes: Vec<(usize, f64)> = SHIP_MODES.iter().enumerate().map(|(i, m)| (i, m.2)).collect();
    // Customers: id, name, segment, home place.
    let customers: Vec<(String, String, usize, usize)> = (0..320)
        .map(|i| {
            let name = NAMES[i % NAMES.len()];
            let initials: String = name.split(' ').filter_map(|w| w.chars().next()).collect();
            (
                format!("{initials}-{}", 10_000 + i * 31),
                name.to_owned(),
                *pick(&mut rng, &segments),
                *pick(&mut rng, &places),
            )
        })
        .collect();
    // Products: 12 per sub-category.
    let mut products = Vec::new();
    for (c, (_, code, subs)) in CATEGORIES.iter().enumerate() {
        for (s, (sub, price)) in subs.iter().enumerate() {
            for k in 0..12 {
                let id = format!(
                    "{code}-{}-{}",
                    &sub[..2].to_uppercase(),
                    10_000_100 + s * 1000 + k * 37
                );
                let unit = (price * (0.45 * normal(&mut rng)).exp() * 100.0).round() / 100.0;
                products.push((id, c, s, format!("{sub} model {}", k + 1), unit));
            }
        }
    }
    let first = NaiveDate::from_ymd_opt(2019, 1, 3).expect("date");
    let last = NaiveDate::from_ymd_opt(2022, 12, 30).expect("date");
    let mut rows: Vec<String> = Vec::new();
    let mut day = first;
    let mut order_number = 100_000u32;
    while day <= last {
        let years = (day - first).num_days() as f64 / 365.25;
        let month = day.month() as usize;
        let season = [0.55, 0.6, 0.95, 0.9, 0.95, 0.9, 0.95, 0.9, 1.45, 1.05, 1.5, 1.55][month - 1];
        let weekly =
            [1.05, 1.0, 1.0, 1.05, 1.1, 0.85, 0.95][day.weekday().num_days_from_monday() as usize];
        let orders = poisson(&mut rng, 3.4 * season * weekly * (1.0 + 0.12 * years));
        for _ in 0..orders {
            order_number += 1 + rng.random_range(0..7u32);
            let customer = &customers[rng.random_range(0..customers.len())];
            // Most customers order from home, some from elsewhere.
            let place =
                if rng.random::<f64>() < 0.8 { customer.3 } else { *pick(&mut rng, &places) };
            let (country, state, city, postal, region, _) = PLACES[place];
            let prefix = if country == "Canada" { "CA" } else { "US" };
            let order_id = format!("{prefix}-{}-{order_number}", day.year());
            let (mode, ship_days, _) = SHIP_MODES[*pick(&mut rng, &modes)];
            let shipped = day + Duration::days(ship_days + rng.random_range(0..2i64));
            let lines =
                *pick(&mut rng, &[(1usize, 48.0), (2, 25.0), (3, 14.0), (4, 8.0), (5, 5.0)]);
            for _ in 0..lines {
                let (id, c, s, name, unit) = &products[rng.random_range(0..products.len())];
                let (category, _, subs) = CATEGORIES[*c];
                let quantity = 1 + poisson(&mut rng, 2.2);
                let discount = *pick(
                    &mut rng,
                    &[(0.0, 55.0), (0.1, 8.0), (0.2, 25.0), (0.4, 6.0), (0.7, 6.0)],
                );
                let sales = unit * quantity as f64 * (1.0 - discount);
                let margin = 0.28 - 0.9 * discount + 0.05 * normal(&mut rng);
                let profit = sales * margin;
                // Canadian lines are in Canadian dollars.
                let rate = if country == "Canada" { 1.3 } else { 1.0 };
                rows.push(format!(
                    "{},{order_id},{},{},{mode},{},{},{},{country},{city},{state},{postal},{region},{id},{category},{},{},{:.3},{quantity},{discount},{:.4}",
                    rows.len() + 1,
                    day.format("%d/%m/%y"),
                    shipped.format("%d/%m/%y"),
                    customer.0,
                    customer.1,
                    SEGMENTS[customer.2].0,
                    subs[*s].0,
                    csv(name),
                    sales * rate,
                    profit * rate,
                ));
            }
        }
        day += Duration::days(1);
    }
    // Two exact duplicates (but for the row number), as the published file has.
    for k in 0..2 {
        let copy = rows[(k * 911 + 17) % rows.len()].clone();
        let (_, rest) = copy.split_once(',').expect("a row");
        rows.push(format!("{},{rest}", rows.len() + 1));
    }
    let text = format!(
        "\u{feff}Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,Segment,Country/Region,City,State/Province,Postal Code,Region,Product ID,Category,Sub-Category,Product Name,Sales,Quantity,Discount,Profit\r\n{}",
        rows.join("\r\n")
    );
    gzip(&dir.join(FILE), text.as_bytes())?;
    Ok(rows.len())
}
