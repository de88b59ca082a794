//! Encoding of an order line known at checkout, shared by training and serving.
//!
//! Only what is known before the order is placed is an input (`../shared/EVALUATION.md` §1):
//! never quantity, courier status, promotion ids or whether the amount was missing.

use crate::features::{
    Standardizer, Vocabulary, normalize_key, normalize_postal_code, normalize_state,
};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One order line as the checkout knows it: the model's whole input.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutLine<'a> {
    pub order_date: NaiveDate,
    pub fulfilment: &'a str,
    pub sales_channel: &'a str,
    pub ship_service_level: &'a str,
    pub b2b: bool,
    pub ship_city: &'a str,
    pub ship_state: &'a str,
    pub ship_postal_code: &'a str,
    pub sku: &'a str,
    pub style: &'a str,
    pub asin: &'a str,
    pub category: &'a str,
    pub size: &'a str,
    /// Unit price; `None` when unknown (imputed from the SKU's training median).
    pub unit_price_inr: Option<f64>,
}

/// Categorical inputs, each a learned embedding with an unknown bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Fulfilment,
    SalesChannel,
    ShipServiceLevel,
    B2b,
    ShipCity,
    ShipState,
    ShipPostalCode,
    /// First three digits of the postal code (the sorting district): generalises where single
    /// postal codes are too rare to learn.
    ShipPostalArea,
    Weekday,
    Sku,
    Style,
    Asin,
    Category,
    Size,
}

impl Field {
    pub const ALL: [Field; N_CATEGORICAL] = [
        Field::Fulfilment,
        Field::SalesChannel,
        Field::ShipServiceLevel,
        Field::B2b,
        Field::ShipCity,
        Field::ShipState,
        Field::ShipPostalCode,
        Field::ShipPostalArea,
        Field::Weekday,
        Field::Sku,
        Field::Style,
        Field::Asin,
        Field::Category,
        Field::Size,
    ];

    /// The field's name as in the request (`Order` / `OrderLine`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Fulfilment => "fulfilment",
            Field::SalesChannel => "sales_channel",
            Field::ShipServiceLevel => "ship_service_level",
            Field::B2b => "b2b",
            Field::ShipCity => "ship_city",
            Field::ShipState => "ship_state",
            Field::ShipPostalCode => "ship_postal_code",
            Field::ShipPostalArea => "ship_postal_area",
            Field::Weekday => "order_weekday",
            Field::Sku => "sku",
            Field::Style => "style",
            Field::Asin => "asin",
            Field::Category => "category",
            Field::Size => "size",
        }
    }

    /// True for inputs of the order (the same for all its lines), false for line inputs.
    pub fn is_order_level(self) -> bool {
        !matches!(self, Field::Sku | Field::Style | Field::Asin | Field::Category | Field::Size)
    }

    /// The raw value of this field in `line`.
    pub fn raw<'a>(self, line: &CheckoutLine<'a>) -> RawValue<'a> {
        match self {
            Field::Fulfilment => RawValue::Text(line.fulfilment),
            Field::SalesChannel => RawValue::Text(line.sales_channel),
            Field::ShipServiceLevel => RawValue::Text(line.ship_service_level),
            Field::B2b => RawValue::Static(if line.b2b { "TRUE" } else { "FALSE" }),
            Field::ShipCity => RawValue::Text(line.ship_city),
            Field::ShipState => RawValue::State(line.ship_state),
            Field::ShipPostalCode => RawValue::Postal(line.ship_postal_code),
            Field::ShipPostalArea => RawValue::PostalArea(line.ship_postal_code),
            Field::Weekday => RawValue::Static(weekday_key(line.order_date)),
            Field::Sku => RawValue::Text(line.sku),
            Field::Style => RawValue::Text(line.style),
            Field::Asin => RawValue::Text(line.asin),
            Field::Category => RawValue::Text(line.category),
            Field::Size => RawValue::Text(line.size),
        }
    }

    /// The normalised vocabulary key of this field in `line`.
    pub fn key(self, line: &CheckoutLine<'_>) -> String {
        self.raw(line).key()
    }
}

/// A raw input value and how it is normalised into a vocabulary key.
#[derive(Debug, Clone, Copy)]
pub enum RawValue<'a> {
    Text(&'a str),
    State(&'a str),
    Postal(&'a str),
    PostalArea(&'a str),
    Static(&'static str),
}

impl RawValue<'_> {
    pub fn key(&self) -> String {
        match *self {
            RawValue::Text(v) => normalize_key(v),
            RawValue::State(v) => normalize_state(v),
            RawValue::Postal(v) => normalize_postal_code(v),
            RawValue::PostalArea(v) => normalize_postal_code(v).chars().take(3).collect(),
            RawValue::Static(v) => v.to_owned(),
        }
    }

    /// The value as the caller wrote it (for explanations).
    pub fn display(&self) -> &str {
        match *self {
            RawValue::Text(v) | RawValue::State(v) | RawValue::Postal(v) => v.trim(),
            RawValue::PostalArea(v) => v.trim().get(..3).unwrap_or(v.trim()),
            RawValue::Static(v) => v,
        }
    }
}

fn weekday_key(date: NaiveDate) -> &'static str {
    ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
        [date.weekday().num_days_from_monday() as usize]
}

pub const N_CATEGORICAL: usize = 14;
/// Numeric inputs: standardised ln(1 + unit price) and day of month.
pub const NUMERIC_FEATURES: [&str; N_NUMERIC] = ["unit_price_inr", "order_day_of_month"];
pub const N_NUMERIC: usize = 2;

/// A line encoded for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedLine {
    /// Global embedding index of each field (field offset + vocabulary index).
    pub categorical: [u32; N_CATEGORICAL],
    pub numeric: [f32; N_NUMERIC],
    /// Fields whose value the vocabulary does not hold.
    pub unseen: [bool; N_CATEGORICAL],
    /// Unit price used (the input's, or the imputed median).
    pub unit_price_inr: f64,
    pub price_imputed: bool,
}

/// Vocabularies, scalers and price medians fitted on the training split, saved in the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancellationEncoder {
    /// One vocabulary per field, in [`Field::ALL`] order.
    pub vocabularies: Vec<Vocabulary>,
    /// Standardiser of ln(1 + unit price in rupees).
    pub log_price: Standardizer,
    pub day_of_month: Standardizer,
    /// Median unit price of each SKU (normalised key) over training lines with a price.
    #[serde(serialize_with = "sorted")]
    pub sku_median_price_inr: HashMap<String, f64>,
    /// Median unit price of each category, for SKUs without one.
    #[serde(serialize_with = "sorted")]
    pub category_median_price_inr: HashMap<String, f64>,
    /// Median unit price of all training lines, for unknown categories.
    pub overall_median_price_inr: f64,
    #[serde(skip)]
    offsets: [u32; N_CATEGORICAL],
}

/// Writes a map in key order, so the same training data gives the same bundle bytes.
fn sorted<S: serde::Serializer>(
    map: &HashMap<String, f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter().collect::<std::collections::BTreeMap<_, _>>())
}

/// Median of finite values (NaN-free input is the caller's job); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

impl CancellationEncoder {
    /// Fits on training lines: vocabularies keep values seen at least `min_count` times.
    pub fn fit(lines: &[CheckoutLine<'_>], min_count: usize) -> Self {
        let vocabularies = Field::ALL
            .iter()
            .map(|field| {
                let keys: Vec<String> = lines.iter().map(|line| field.key(line)).collect();
                Vocabulary::fit(keys.iter().map(String::as_str), min_count, None)
            })
            .collect();
        let mut by_sku: HashMap<String, Vec<f64>> = HashMap::new();
        let mut by_category: HashMap<String, Vec<f64>> = HashMap::new();
        let mut all = Vec::new();
        for line in lines {
            if let Some(price) = line.unit_price_inr.filter(|p| p.is_finite() && *p >= 0.0) {
                by_sku.entry(normalize_key(line.sku)).or_default().push(price);
                by_category.entry(normalize_key(line.category)).or_default().push(price);
                all.push(price);
            }
        }
        let medians = |groups: HashMap<String, Vec<f64>>| -> HashMap<String, f64> {
            groups.into_iter().filter_map(|(k, mut v)| median(&mut v).map(|m| (k, m))).collect()
        };
        let mut encoder = Self {
            vocabularies,
            log_price: Standardizer { mean: 0.0, std: 1.0 },
            day_of_month: Standardizer::fit(lines.iter().map(|l| l.order_date.day() as f64)),
            sku_median_price_inr: medians(by_sku),
            category_median_price_inr: medians(by_category),
            overall_median_price_inr: median(&mut all).unwrap_or(0.0),
            offsets: [0; N_CATEGORICAL],
        };
        encoder.index();
        encoder.log_price = Standardizer::fit(lines.iter().map(|l| encoder.price(l).0.ln_1p()));
        encoder
    }

    /// Recomputes derived state after deserialisation and checks the shape of the file.
    pub fn validated(mut self) -> Result<Self, String> {
        if self.vocabularies.len() != N_CATEGORICAL {
            return Err(format!(
                "expected {N_CATEGORICAL} vocabularies, found {}",
                self.vocabularies.len()
            ));
        }
        if !(self.log_price.std > 0.0 && self.day_of_month.std > 0.0) {
            return Err("scalers must have a positive std".into());
        }
        self.index();
        Ok(self)
    }

    fn index(&mut self) {
        let mut offset = 0u32;
        for (slot, vocab) in self.offsets.iter_mut().zip(&self.vocabularies) {
            *slot = offset;
            offset += vocab.len() as u32;
        }
    }

    /// Each field's first embedding row (its values' rows run to the next field's first).
    pub fn field_offsets(&self) -> [u32; N_CATEGORICAL] {
        self.offsets
    }

    /// Total embedding rows over all fields.
    pub fn vocab_size(&self) -> usize {
        self.vocabularies.iter().map(Vocabulary::len).sum()
    }

    /// Global index of the unknown bucket of field number `field`.
    pub fn unknown_index(&self, field: usize) -> u32 {
        self.offsets[field] + Vocabulary::UNKNOWN
    }

    /// The unit price used for `line` and whether it was imputed.
    pub fn price(&self, line: &CheckoutLine<'_>) -> (f64, bool) {
        match line.unit_price_inr {
            Some(price) if price.is_finite() && price >= 0.0 => (price, false),
            _ => {
                let imputed = self
                    .sku_median_price_inr
                    .get(&normalize_key(line.sku))
                    .or_else(|| self.category_median_price_inr.get(&normalize_key(line.category)))
                    .copied()
                    .unwrap_or(self.overall_median_price_inr);
                (imputed, true)
            }
        }
    }

    pub fn encode(&self, line: &CheckoutLine<'_>) -> EncodedLine {
        let mut categorical = [0u32; N_CATEGORICAL];
        let mut unseen = [false; N_CATEGORICAL];
        for (i, field) in Field::ALL.iter().enumerate() {
            let index = self.vocabularies[i].index(&field.key(line));
            unseen[i] = index == Vocabulary::UNKNOWN;
            categorical[i] = self.offsets[i] + index;
        }
        let (unit_price_inr, price_imputed) = self.price(line);
        EncodedLine {
            categorical,
            numeric: [
                self.log_price.transform(unit_price_inr.ln_1p()),
                self.day_of_month.transform(line.order_date.day() as f64),
            ],
            unseen,
            unit_price_inr,
            price_imputed,
        }
    }
}
