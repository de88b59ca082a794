//! The generated sample: small exports in the published schemas, seeded and deterministic, with
//! the structure the models learn from (weekly seasonality and a trend, regional and category
//! differences, category price levels, review words that follow the rating, cancellation
//! drivers, bought-together pairs) and the blemishes the cleaning must handle (duplicates,
//! spelling variants, unparsable cells, cp1252 text, CRLF, quoted multi-line fields).

pub mod cdnow;
pub mod online_retail;
pub mod superstore;

use crate::fit::{SeededRng, rng};
use chrono::{Datelike, Duration, NaiveDate};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::RngExt;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// Sizes of the sample.
#[derive(Debug, Clone, Copy)]
pub struct SampleSize {
    pub orders_per_day: f64,
    pub products: usize,
    pub customers: usize,
    pub reviews: usize,
}

impl Default for SampleSize {
    fn default() -> Self {
        Self { orders_per_day: 85.0, products: 320, customers: 450, reviews: 2400 }
    }
}

pub(crate) fn normal(rng: &mut SeededRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub(crate) fn poisson(rng: &mut SeededRng, mean: f64) -> usize {
    // Knuth for small means, normal approximation above.
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let (mut k, mut p) = (0usize, 1.0f64);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

pub(crate) fn pick<'a, T>(rng: &mut SeededRng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1].0
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// CSV field, quoted when needed.
pub(crate) fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

pub(crate) fn gzip(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    std::fs::write(path, encoder.finish()?)
}

fn with_commas(value: f64) -> String {
    let digits = format!("{}", value.round() as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ------------------------------------------------------------------------------------------
// Sale report

/// States with cities, postal prefixes, demand weight and a cancellation effect.
const STATES: &[(&str, &[&str], &str, f64, f64)] = &[
    ("MAHARASHTRA", &["MUMBAI", "PUNE", "NAGPUR", "THANE"], "4", 26.0, 0.0),
    ("KARNATAKA", &["BENGALURU", "MYSORE", "MANGALORE"], "5", 22.0, -0.15),
    ("TAMIL NADU", &["CHENNAI", "COIMBATORE", "MADURAI"], "6", 9.0, 0.1),
    ("TELANGANA", &["HYDERABAD", "WARANGAL"], "5", 9.0, 0.05),
    ("UTTAR PRADESH", &["LUCKNOW", "NOIDA", "KANPUR", "GHAZIABAD"], "2", 8.0, 0.35),
    ("DELHI", &["NEW DELHI", "DELHI"], "1", 6.0, -0.05),
    ("KERALA", &["KOCHI", "THIRUVANANTHAPURAM"], "6", 5.0, -0.1),
    ("WEST BENGAL", &["KOLKATA", "HOWRAH"], "7", 5.0, 0.2),
    ("ANDHRA PRADESH", &["VISAKHAPATNAM", "VIJAYAWADA"], "5", 4.0, 0.15),
    ("GUJARAT", &["AHMEDABAD", "SURAT"], "3", 4.0, -0.05),
    ("HARYANA", &["GURUGRAM", "FARIDABAD"], "1", 3.5, 0.0),
    ("RAJASTHAN", &["JAIPUR", "JODHPUR"], "3", 2.5, 0.3),
    ("BIHAR", &["PATNA"], "8", 2.0, 0.5),
    ("ODISHA", &["BHUBANESWAR", "CUTTACK"], "7", 2.0, 0.25),
    ("PUNJAB", &["LUDHIANA", "AMRITSAR"], "1", 1.5, 0.1),
    ("ASSAM", &["GUWAHATI"], "7", 1.5, 0.4),
    ("GOA", &["PANAJI"], "4", 1.0, -0.2),
];

/// Categories: name, share of lines, style prefix, median price, sizes.
const CATEGORIES: &[(&str, f64, &str, f64)] = &[
    ("Set", 38.0, "SET", 820.0),
    ("kurta", 38.0, "JNE", 440.0),
    ("Western Dress", 12.0, "J0", 740.0),
    ("Top", 8.0, "TOP", 520.0),
    ("Ethnic Dress", 2.0, "ETH", 690.0),
    ("Blouse", 2.0, "BL", 480.0),
];
const SIZES: &[(&str, f64)] = &[
    ("XS", 9.0),
    ("S", 13.0),
    ("M", 18.0),
    ("L", 17.0),
    ("XL", 16.0),
    ("XXL", 14.0),
    ("3XL", 11.0),
    ("Free", 2.0),
];

struct Style {
    code: String,
    category: usize,
    price: f64,
    cancel_effect: f64,
    popularity: f64,
    /// A style often bought with this one.
    partner: usize,
}

fn styles(rng: &mut SeededRng) -> Vec<Style> {
    let mut out = Vec::new();
    for (c, (_, share, prefix, price)) in CATEGORIES.iter().enumerate() {
        let count = (share * 1.6).ceil() as usize + 2;
        for k in 0..count {
            out.push(Style {
                code: format!("{prefix}{}", 100 + k * 7 + c),
                category: c,
                price: (price * (0.25 * normal(rng)).exp()).round(),
                cancel_effect: 0.8 * normal(rng),
                popularity: share * (0.7 * normal(rng)).exp() / count as f64,
                partner: 0,
            });
        }
    }
    let n = out.len();
    for (i, style) in out.iter_mut().enumerate() {
        style.partner = (i * 7 + 3) % n;
    }
    out
}

fn asin(rng: &mut SeededRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let tail: String =
        (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("B0{tail}")
}

/// Writes `amazon_sale_report.csv.gz` and returns its line count.
pub fn sales(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed);
    let styles = styles(&mut rng);
    let mut asins = std::collections::HashMap::new();
    let style_weights: Vec<(usize, f64)> =
        styles.iter().enumerate().map(|(i, s)| (i, s.popularity)).collect();
    let state_weights: Vec<(usize, f64)> =
        STATES.iter().enumerate().map(|(i, s)| (i, s.3)).collect();
    let mut out = String::from(
        "index,Order ID,Date,Status,Fulfilment,Sales Channel ,ship-service-level,Style,SKU,Category,Size,ASIN,Courier Status,Qty,currency,Amount,ship-city,ship-state,ship-postal-code,ship-country,promotion-ids,B2B,fulfilled-by,Unnamed: 22\n",
    );
    let first = NaiveDate::from_ymd_opt(2022, 3, 31).expect("date");
    let last = NaiveDate::from_ymd_opt(2022, 6, 29).expect("date");
    let mut index = 0usize;
    let mut rows: Vec<String> = Vec::new();
    let mut day = first;
    while day <= last {
        let t = (day - first).num_days() as f64;
        let weekday = day.weekday().num_days_from_monday();
        let weekly = [1.0, 0.95, 0.93, 0.97, 1.02, 1.12, 1.08][weekday as usize];
        let mut mean =
            size.orders_per_day * weekly * (1.0 - 0.0035 * t) * (1.0 + 0.12 * (t / 9.0).sin());
        if day == first {
            mean *= 0.3;
        }
        if day == last {
            mean *= 0.4; // a partial last day, as in exports cut during the day
        }
        for _ in 0..poisson(&mut rng, mean) {
            let order_id = format!(
                "{}-{:07}-{:07}",
                [171, 402, 403, 404, 405, 406, 407, 408][rng.random_range(0..8usize)],
                rng.random_range(0..10_000_000u32),
                rng.random_range(0..10_000_000u32)
            );
            let merchant = rng.random::<f64>() < 0.3;
            let b2b = rng.random::<f64>() < 0.01;
            let channel = if rng.random::<f64>() < 0.004 { "Non-Amazon" } else { "Amazon.in" };
            let state_index = *pick(&mut rng, &state_weights);
            let (state, cities, postal_prefix, _, state_effect) = STATES[state_index];
            let city = cities[rng.random_range(0..cities.len())];
            let postal = format!("{postal_prefix}{:05}", rng.random_range(0..400u32) * 7 % 100_000);
            let lines = *pick(&mut rng, &[(1usize, 78.0), (2, 16.0), (3, 4.0), (4, 2.0)]);
            let first_style = *pick(&mut rng, &style_weights);
            // Items bought together come in the size of the first one.
            let order_size = *pick(&mut rng, SIZES);
            let order_noise = 0.35 * normal(&mut rng);
            let mut order_cancelled = None;
            for line in 0..lines {
                let style_index = match line {
                    0 => first_style,
                    1 if rng.random::<f64>() < 0.6 => styles[first_style].partner,
                    _ => *pick(&mut rng, &style_weights),
                };
                let style = &styles[style_index];
                let (category, _, _, _) = CATEGORIES[style.category];
                // The first line, and its style's usual partner, share the order's size.
                let size_label = if line == 0 || style_index == styles[first_style].partner {
                    order_size
                } else {
                    *pick(&mut rng, SIZES)
                };
                let sku = format!("{}-{}", style.code, size_label);
                let asin = asins.entry(sku.clone()).or_insert_with(|| asin(&mut rng)).clone();
                let qty = if rng.random::<f64>() < 0.04 { 2 } else { 1 };
                let price = (style.price * (0.08 * normal(&mut rng)).exp() * 100.0).round() / 100.0;
                let weekend = if weekday >= 5 { 0.15 } else { 0.0 };
                let logit = -2.1
                    + if merchant { 0.8 } else { 0.0 }
                    + if b2b { -0.8 } else { 0.0 }
                    + if channel == "Non-Amazon" { -2.0 } else { 0.0 }
                    + 2.0 * state_effect
                    + style.cancel_effect
                    + 0.5 * (price / CATEGORIES[style.category].3).ln()
                    + weekend
                    + order_noise;
                // Lines of one order are mostly cancelled together.
                let cancelled = match order_cancelled {
                    Some(c) if rng.random::<f64>() < 0.85 => c,
                    _ => rng.random::<f64>() < sigmoid(logit),
                };
                order_cancelled.get_or_insert(cancelled);
                let status = if cancelled {
                    "Cancelled"
                } else if day > last - Duration::days(3) && rng.random::<f64>() < 0.06 {
                    ["Pending", "Pending - Waiting for Pick Up", "Shipping"]
                        [rng.random_range(0..3usize)]
                } else {
                    *pick(
                        &mut rng,
                        &[
                            ("Shipped", 60.0),
                            ("Shipped - Delivered to Buyer", 30.0),
                            ("Shipped - Returned to Seller", 2.0),
                            ("Shipped - Picked Up", 1.0),
                        ],
                    )
                };
                let (courier, qty_text, amount) = if cancelled {
                    let amount = if rng.random::<f64>() < 0.4 {
                        String::new()
                    } else {
                        format!("{price:.2}")
                    };
                    (String::new(), "0".to_owned(), amount)
                } else {
                    ("Shipped".to_owned(), qty.to_string(), format!("{:.2}", price * qty as f64))
                };
                let state_text = match (state, rng.random::<f64>()) {
                    ("ODISHA", x) if x < 0.05 => "Orissa".to_owned(),
                    ("RAJASTHAN", x) if x < 0.05 => "RJ".to_owned(),
                    (s, x) if x < 0.5 => {
                        // Title case, as many rows of the real export have.
                        s.split(' ')
                            .map(|w| format!("{}{}", &w[..1], w[1..].to_lowercase()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                    (s, _) => s.to_owned(),
                };
                // As in the real export, promotion ids are recorded with the outcome: a
                // cancelled line seldom has one.
                let promotion = if !cancelled && rng.random::<f64>() < 0.6 {
                    "IN Core Free Shipping 2015/04/08 23-48-5-108"
                } else {
                    ""
                };
                rows.push(format!(
                    ",{},{},{},{},{},{},{},{},{},{},{},{},{},INR,{},{},{},{}.0,IN,{},{},{},",
                    order_id,
                    day.format("%m-%d-%y"),
                    csv(status),
                    if merchant { "Merchant" } else { "Amazon" },
                    channel,
                    if merchant { "Standard" } else { "Expedited" },
                    style.code,
                    sku,
                    category,
                    size_label,
                    asin,
                    courier,
                    qty_text,
                    amount,
                    city,
                    state_text,
                    postal,
                    csv(promotion),
                    if b2b { "True" } else { "False" },
                    if merchant { "Easy Ship" } else { "" },
                ));
            }
        }
        day += Duration::days(1);
    }
    // Blemishes the cleaning must report: exact duplicates and unparsable amounts.
    for k in 0..6 {
        let copy = rows[(k * 397 + 11) % rows.len()].clone();
        rows.push(copy);
    }
    for k in 0..2 {
        let i = (k * 1013 + 5) % rows.len();
        let mut fields: Vec<String> = rows[i].split(',').map(str::to_owned).collect();
        if fields.len() == 24 {
            fields[15] = "n/a".to_owned();
            rows[i] = fields.join(",");
        }
    }
    for row in &rows {
        writeln!(out, "{index}{row}").expect("write to string");
        index += 1;
    }
    gzip(&dir.join("amazon_sale_report.csv.gz"), out.as_bytes())?;
    Ok(rows.len())
}

// ------------------------------------------------------------------------------------------
// Products with reviews

/// Category paths with a median list price and a typical discount.
const PRODUCT_CATEGORIES: &[(&str, f64, f64, &[&str])] = &[
    (
        "Computers&Accessories|Accessories&Peripherals|Cables&Accessories|Cables|USBCables",
        700.0,
        0.55,
        &["USB", "Type-C", "Cable", "Braided", "Fast Charging", "Data Sync"],
    ),
    (
        "Electronics|HomeTheater,TV&Video|Televisions|SmartTelevisions",
        38000.0,
        0.35,
        &["Smart", "LED", "TV", "4K", "Ultra HD", "Android"],
    ),
    (
        "Electronics|Mobiles&Accessories|Smartphones&BasicMobiles|Smartphones",
        18000.0,
        0.2,
        &["Smartphone", "5G", "Camera", "Battery", "Storage"],
    ),
    (
        "Electronics|Headphones,Earbuds&Accessories|Headphones|In-Ear",
        1800.0,
        0.6,
        &["Earbuds", "Wireless", "Bluetooth", "Bass", "Mic"],
    ),
    (
        "Home&Kitchen|Kitchen&HomeAppliances|SmallKitchenAppliances|Kettles&HotWaterDispensers",
        1900.0,
        0.4,
        &["Electric", "Kettle", "Stainless", "Steel", "Litre"],
    ),
    (
        "Home&Kitchen|Kitchen&HomeAppliances|Vacuum,Cleaning&Ironing|Irons,Steamers&Accessories|Irons|DryIrons",
        1100.0,
        0.3,
        &["Dry", "Iron", "Non-Stick", "Soleplate", "Watt"],
    ),
    (
        "Computers&Accessories|Accessories&Peripherals|Keyboards,Mice&InputDevices|Mice",
        900.0,
        0.5,
        &["Wireless", "Mouse", "Optical", "Ergonomic", "DPI"],
    ),
    (
        "OfficeProducts|OfficePaperProducts|Paper|Stationery|Pens,Pencils&WritingSupplies|Pens&Refills",
        250.0,
        0.15,
        &["Ball", "Pen", "Blue", "Ink", "Pack"],
    ),
];
const BRANDS: &[(&str, f64, f64)] = &[
    ("boAt", 0.1, 0.1),
    ("Ambrane", -0.1, 0.0),
    ("Wayona", -0.3, -0.1),
    ("Samsung", 0.4, 0.2),
    ("Philips", 0.3, 0.25),
    ("Portronics", 0.0, 0.0),
    ("Pigeon", -0.2, -0.15),
    ("Classmate", -0.1, 0.1),
];
const GOOD_WORDS: &[&str] = &[
    "Good quality",
    "Value for money",
    "Works perfectly",
    "Excellent product",
    "Very useful",
    "Fast delivery",
    "Sturdy and durable",
    "Love it",
];
const BAD_WORDS: &[&str] = &[
    "Stopped working",
    "Poor quality",
    "Waste of money",
    "Not as described",
    "Broke in a week",
    "Very bad",
    "Returned it",
    "Disappointed",
];

/// Writes `amazon_products.csv.gz`; returns the number of distinct products.
pub fn products(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0x9E37_79B9);
    let mut out = String::from(
        "product_id,product_name,category,discounted_price,actual_price,discount_percentage,rating,rating_count,about_product,user_id,user_name,review_id,review_title,review_content,img_link,product_link\n",
    );
    let mut rows = Vec::new();
    for i in 0..size.products {
        let (path, list_median, discount, words) = PRODUCT_CATEGORIES[i % PRODUCT_CATEGORIES.len()];
        let (brand, price_effect, quality) = BRANDS[rng.random_range(0..BRANDS.len())];
        let mut name_words: Vec<&str> =
            words.iter().copied().filter(|_| rng.random::<f64>() < 0.7).collect();
        if name_words.is_empty() {
            name_words.push(words[0]);
        }
        let premium = rng.random::<f64>() < 0.25;
        if premium {
            name_words.insert(0, "Pro");
        }
        let name = format!(
            "{brand} {} ({}, Pack of {})",
            name_words.join(" "),
            ["Black", "White", "Grey", "Blue"][i % 4],
            1 + i % 3
        );
        let list = (list_median
            * (price_effect + if premium { 0.5 } else { 0.0 } + 0.45 * normal(&mut rng)).exp())
        .round()
        .max(99.0);
        let discount_share =
            (discount + 0.12 * normal(&mut rng) - if premium { 0.1 } else { 0.0 }).clamp(0.0, 0.9);
        let selling = (list * (1.0 - discount_share)).round().max(39.0);
        let discount_pct = (100.0 * (1.0 - selling / list)).round();
        let rating = (4.0 + quality + 0.3 * normal(&mut rng)).clamp(2.0, 5.0);
        let rating_count = (6.0 + 1.6 * normal(&mut rng)).exp().round();
        let reviews = 3 + rng.random_range(0..5usize);
        let good = |rng: &mut SeededRng| rng.random::<f64>() < sigmoid(3.0 * (rating - 3.6));
        let (mut titles, mut contents) = (Vec::new(), Vec::new());
        for _ in 0..reviews {
            let positive = good(&mut rng);
            let pool = if positive { GOOD_WORDS } else { BAD_WORDS };
            titles.push(pool[rng.random_range(0..pool.len())].to_owned());
            contents.push(format!(
                "{} {}.",
                pool[rng.random_range(0..pool.len())],
                if positive { "would recommend" } else { "would not buy again" }
            ));
        }
        let product_id = format!("B0{:08X}", (i as u64 * 2_654_435_761 + seed) % 0xFFFF_FFFF);
        let rating_text = if i == 17 { "|".to_owned() } else { format!("{rating:.1}") };
        rows.push(format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            product_id,
            csv(&name),
            csv(path),
            csv(&format!("₹{}", with_commas(selling))),
            csv(&format!("₹{}", with_commas(list))),
            format_args!("{discount_pct}%"),
            rating_text,
            csv(&with_commas(rating_count)),
            csv(&format!("{} with {}.|Warranty: 1 year.", name_words.join(" "), words[0])),
            csv(&(0..reviews).map(|k| format!("AG{i:04}{k}")).collect::<Vec<_>>().join(",")),
            csv(&(0..reviews).map(|k| format!("User {k}")).collect::<Vec<_>>().join(",")),
            csv(&(0..reviews).map(|k| format!("R{i:05}{k}")).collect::<Vec<_>>().join(",")),
            csv(&titles.join(",")),
            // Multi-line quoted field, as in the published file.
            csv(&contents.join(",\n")),
            csv(&format!("https://m.media-amazon.com/images/I/{product_id}.jpg")),
            csv(&format!("https://www.amazon.in/dp/{product_id}")),
        ));
    }
    let distinct = rows.len();
    for k in 0..5 {
        rows.push(rows[(k * 31 + 2) % distinct].clone());
    }
    for row in rows {
        writeln!(out, "{row}").expect("write to string");
    }
    gzip(&dir.join("amazon_products.csv.gz"), out.as_bytes())?;
    Ok(distinct)
}

// ------------------------------------------------------------------------------------------
// Customers (cp1252, CRLF)

/// Writes `diwali_sales.csv.gz` (cp1252, CRLF); returns the number of rows.
pub fn customers(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0x5151_5151);
    let states: &[(&str, &str, f64)] = &[
        ("Uttar Pradesh", "Central", 17.0),
        ("Maharashtra", "Western", 14.0),
        ("Karnataka", "Southern", 12.0),
        ("Delhi", "Central", 10.0),
        ("Madhya Pradesh", "Central", 8.0),
        ("Andhra\u{a0}Pradesh", "Southern", 7.0),
        ("Kerala", "Southern", 4.0),
        ("Gujarat", "Western", 4.0),
    ];
    let occupations = [
        "IT Sector",
        "Healthcare",
        "Aviation",
        "Banking",
        "Govt",
        "Hospitality",
        "Media",
        "Lawyer",
        "Retail",
    ];
    let categories = [
        "Clothing & Apparel",
        "Food",
        "Electronics & Gadgets",
        "Footwear & Shoes",
        "Household items",
        "Beauty",
        "Furniture",
    ];
    let names = [
        "Sanskriti",
        "Kartik",
        "Bindu",
        "Sudevi",
        "Joni",
        "Balk",
        "Shivangi",
        "Jörg",
        "Renée",
        "Manasvi",
    ];
    let ages = [
        ("0-17", 14),
        ("18-25", 22),
        ("26-35", 30),
        ("36-45", 40),
        ("46-50", 48),
        ("51-55", 53),
        ("55+", 60),
    ];
    let mut out = String::from(
        "User_ID,Cust_name,Product_ID,Gender,Age Group,Age,Marital_Status,State,Zone,Occupation,Product_Category,Orders,Amount,Status,unnamed1\r\n",
    );
    let mut rows = 0;
    for u in 0..size.customers {
        let user_id = 1_000_001 + u * 3;
        let tier = *pick(&mut rng, &[(0usize, 25.0), (1, 50.0), (2, 25.0)]); // high value, regular, occasional
        let (state, zone, _) =
            *pick(&mut rng, &states.iter().map(|s| (*s, s.2)).collect::<Vec<_>>());
        let (age_group, age) = ages[rng.random_range(0..ages.len())];
        let gender = if rng.random::<f64>() < 0.7 { "F" } else { "M" };
        let occupation = occupations[rng.random_range(0..occupations.len())];
        let lines = [rng.random_range(5..9usize), rng.random_range(2..5), 1][tier];
        // As in the real file, some ids name several genders or states across their rows.
        let conflicting = lines > 1 && rng.random::<f64>() < 0.15;
        for line in 0..lines {
            let (gender, state, zone) = if conflicting && line == 0 {
                let other = states[rng.random_range(0..states.len())];
                (if gender == "F" { "M" } else { "F" }, other.0, other.1)
            } else {
                (gender, state, zone)
            };
            let category = categories[rng.random_range(0..categories.len())];
            let orders = [rng.random_range(3..5u32), rng.random_range(1..4), 1][tier];
            let amount =
                ([18_000.0, 9_000.0, 4_000.0][tier] * (0.35 * normal(&mut rng)).exp()).round();
            let amount_text = if rows % 397 == 13 { String::new() } else { format!("{amount}") };
            write!(
                out,
                "{user_id},{},P00{:06},{gender},{age_group},{},{},{state},{zone},{occupation},{category},{orders},{amount_text},,\r\n",
                names[rng.random_range(0..names.len())],
                rng.random_range(0..400_000u32),
                age + rng.random_range(0..5),
                rng.random_range(0..2u8),
            )
            .expect("write to string");
            rows += 1;
        }
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&out);
    assert!(!unmappable, "the sample only uses cp1252 characters");
    gzip(&dir.join("diwali_sales.csv.gz"), &bytes)?;
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// Reviews (UTF-8, CRLF, multi-line)

const DEVICES: &[&str] =
    &["Fire HD 8 Tablet", "Kindle Paperwhite", "Echo Dot", "Fire TV Stick", "Kindle Voyage"];
const PRAISE: &[&str] = &[
    "I love this",
    "works great",
    "easy to use",
    "perfect gift for my kids",
    "great value",
    "the screen is beautiful",
    "battery lasts long",
    "fast and responsive",
    "highly recommend it",
    "excellent sound",
];
const COMPLAINTS: &[&str] = &[
    "stopped working after a week",
    "waste of money",
    "very disappointed",
    "the battery died quickly",
    "returned it",
    "screen froze constantly",
    "terrible customer service",
    "not worth the price",
    "it is slow and laggy",
    "broke easily",
];
const NEUTRAL: &[&str] = &["it is okay", "does the job", "average product", "nothing special"];

/// Writes `amazon_reviews.csv.gz`; returns the number of reviews.
pub fn reviews(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<usize> {
    let mut rng = rng(seed ^ 0x0BAD_F00D);
    let mut out = String::from(
        "id,name,asins,brand,categories,keys,manufacturer,reviews.date,reviews.dateAdded,reviews.dateSeen,reviews.didPurchase,reviews.doRecommend,reviews.id,reviews.numHelpful,reviews.rating,reviews.sourceURLs,reviews.text,reviews.title,reviews.userCity,reviews.userProvince,reviews.username\r\n",
    );
    let mut texts: Vec<(String, String, u8, &str)> = Vec::new();
    for i in 0..size.reviews {
        let device = DEVICES[i % DEVICES.len()];
        let rating = *pick(&mut rng, &[(5u8, 55.0), (4, 25.0), (3, 6.0), (2, 6.0), (1, 8.0)]);
        let mut parts = Vec::new();
        for _ in 0..(1 + rng.random_range(0..3usize)) {
            let pool = match rating {
                4 | 5 if rng.random::<f64>() < 0.9 => PRAISE,
                1 | 2 if rng.random::<f64>() < 0.8 => COMPLAINTS,
                3 => NEUTRAL,
                _ => [PRAISE, COMPLAINTS, NEUTRAL][rng.random_range(0..3usize)],
            };
            parts.push(pool[rng.random_range(0..pool.len())]);
        }
        if rating <= 2 && rng.random::<f64>() < 0.3 {
            parts.push("not great");
        }
        let mut text = format!("My {device}: {}.", parts.join(", and "));
        if i % 97 == 5 {
            text.push_str("\nSecond paragraph: बहुत अच्छा 👍");
        }
        let title = parts[0].split(' ').take(3).collect::<Vec<_>>().join(" ");
        texts.push((text, title, rating, device));
    }
    // A few identical texts (the protocol deduplicates them) and one without a rating.
    for k in 0..4 {
        let copy = texts[k * 13].clone();
        texts.push(copy);
    }
    for (i, (text, title, rating, device)) in texts.iter().enumerate() {
        let rating_text = if i == 7 { String::new() } else { rating.to_string() };
        write!(
            out,
            "AV{i:06},{},B01AHB9CN2,Amazon,\"Electronics,Tablets\",key{i},Amazon,2017-01-13T00:00:00.000Z,2017-07-03T23:33:15Z,2017-06-07T09:04:00.000Z,,{},,0,{rating_text},http://reviews.example/{i},{},{},,,user{i}\r\n",
            csv(&format!("All-New {device}")),
            if *rating >= 4 { "TRUE" } else { "FALSE" },
            csv(text),
            csv(title),
        )
        .expect("write to string");
    }
    gzip(&dir.join("amazon_reviews.csv.gz"), out.as_bytes())?;
    Ok(texts.len())
}

/// The sample's files, under the published names of `../shared/data` (and, for the online
/// shop, the name `config/retailers/online_retail.toml` reads).
pub const FILES: [&str; 7] = [
    "amazon_sale_report.csv.gz",
    "amazon_products.csv.gz",
    "diwali_sales.csv.gz",
    "amazon_reviews.csv.gz",
    superstore::FILE,
    cdnow::FILE,
    online_retail::FILE,
];

/// The default-size sample in `dir`, generated there on first use (it is seeded, so every clone
/// gets the same bytes and the repository tracks none). It is written beside `dir` and renamed
/// into place, so a concurrent caller never reads half a sample.
pub fn ensure_sample(dir: &Path, seed: u64) -> std::io::Result<()> {
    let complete = |dir: &Path| FILES.iter().all(|file| dir.join(file).is_file());
    if complete(dir) {
        return Ok(());
    }
    static STAGING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("sample");
    let staging = dir.with_file_name(format!(
        ".{name}.{}.{}.partial",
        std::process::id(),
        STAGING.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    sample(&staging, SampleSize::default(), seed)?;
    let renamed = std::fs::rename(&staging, dir);
    if renamed.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    // Another caller may have put its (identical) sample in place first.
    if complete(dir) { Ok(()) } else { renamed }
}

/// Writes the whole sample into `dir`; returns each file's row count, in [`FILES`] order.
pub fn sample(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<[usize; 7]> {
    std::fs::create_dir_all(dir)?;
    Ok([
        sales(dir, size, seed)?,
        products(dir, size, seed)?,
        customers(dir, size, seed)?,
        reviews(dir, size, seed)?,
        superstore::write(dir, seed)?,
        cdnow::write(dir, seed)?,
        online_retail::write(dir, seed)?,
    ])
}
