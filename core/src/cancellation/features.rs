//! Encoding of an order line known at checkout, shared by training and serving.
//!
//! Only what is known before the order is placed is an input (`../shared/EVALUATION.md` §1):
//! never quantity, courier status, promotion ids or whether the amount was missing. Which
//! inputs a model reads depends on the export it was trained on: the fields of the order-line
//! contract the export has (channel, city, state, postal code, product, product group,
//! category), the configured attributes (Amazon's fulfilment, ship-service level, size, ASIN,
//! B2B) and, when the export has customer ids, the customer's history before the order.

use crate::features::{
    Standardizer, Vocabulary, normalize_key, normalize_postal_code, normalize_state,
};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most categorical inputs a model may have (9 of the contract, the rest attributes).
pub const MAX_CATEGORICAL: usize = 32;
/// Most numeric inputs: unit price, day of month and the customer history's five.
pub const MAX_NUMERIC: usize = 7;

/// What the checkout knows of the customer's earlier orders (all strictly before this one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// Earlier orders.
    pub orders: u32,
    /// Of those, orders with a cancelled line.
    pub cancelled_orders: u32,
    /// Returns (return lines, credit notes, returned orders) before this order.
    pub returns: u32,
    pub first_order_date: Option<NaiveDate>,
    pub last_order_date: Option<NaiveDate>,
}

/// One order line as the checkout knows it: the model's whole input.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutLine<'a> {
    pub order_date: NaiveDate,
    pub channel: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub postal_code: &'a str,
    pub product_id: &'a str,
    pub product_group: &'a str,
    pub category: &'a str,
    /// Values of the encoder's attributes, in [`CancellationEncoder::attributes`] order
    /// (a shorter list leaves the rest empty).
    pub attributes: AttributeValues<'a>,
    /// Unit price; `None` when unknown (imputed from the product's training median).
    pub unit_price: Option<f64>,
    /// The customer's earlier orders; `None` for a customer the model does not know (or an
    /// export without customer ids).
    pub customer: Option<CustomerHistory>,
}

/// Attribute values of a line, as the caller holds them (serving: request strings; training:
/// the export's cells).
#[derive(Debug, Clone, Copy)]
pub enum AttributeValues<'a> {
    Borrowed(&'a [&'a str]),
    Shared(&'a [std::sync::Arc<str>]),
}

impl<'a> AttributeValues<'a> {
    pub const NONE: AttributeValues<'static> = AttributeValues::Borrowed(&[]);

    /// The value of attribute `i`; "" when absent.
    pub fn get(&self, i: usize) -> &'a str {
        match *self {
            AttributeValues::Borrowed(values) => values.get(i).copied().unwrap_or(""),
            AttributeValues::Shared(values) => values.get(i).map_or("", |v| &**v),
        }
    }
}

/// An attribute of the export that the model reads: its name (the request's key) and whether
/// it describes the order (the same for all its lines) or a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub order_level: bool,
}

/// Where a categorical input's value comes from, and how it is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Channel,
    City,
    /// Spelling variants merged.
    State,
    PostalCode,
    /// The first three characters of the postal code (the sorting district): generalises where
    /// single postal codes are too rare to learn.
    PostalArea,
    Weekday,
    ProductId,
    ProductGroup,
    Category,
    /// The encoder's attribute of this index.
    Attribute(u8),
}

/// A categorical input: its name in explanations and `unseen_inputs`, and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub source: Source,
}

impl Field {
    /// True for inputs of the order (the same for all its lines), false for line inputs.
    pub fn is_order_level(&self, attributes: &[Attribute]) -> bool {
        match self.source {
            Source::ProductId | Source::ProductGroup | Source::Category => false,
            Source::Attribute(i) => attributes.get(i as usize).is_some_and(|a| a.order_level),
            _ => true,
        }
    }

    /// The raw value of this field in `line`.
    pub fn raw<'a>(&self, line: &CheckoutLine<'a>) -> RawValue<'a> {
        match self.source {
            Source::Channel => RawValue::Text(line.channel),
            Source::City => RawValue::Text(line.city),
            Source::State => RawValue::State(line.state),
            Source::PostalCode => RawValue::Postal(line.postal_code),
            Source::PostalArea => RawValue::PostalArea(line.postal_code),
            Source::Weekday => RawValue::Static(weekday_key(line.order_date)),
            Source::ProductId => RawValue::Text(line.product_id),
            Source::ProductGroup => RawValue::Text(line.product_group),
            Source::Category => RawValue::Text(line.category),
            Source::Attribute(i) => RawValue::Text(line.attributes.get(i as usize)),
        }
    }

    /// The normalised vocabulary key of this field in `line`.
    pub fn key(&self, line: &CheckoutLine<'_>) -> String {
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

/// A numeric input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numeric {
    /// ln(1 + unit price).
    UnitPrice,
    DayOfMonth,
    /// ln(1 + earlier orders).
    PriorOrders,
    /// Share of earlier orders with a cancelled line (0 without earlier orders).
    PriorCancelledShare,
    /// ln(1 + returns before the order).
    PriorReturns,
    /// ln(1 + days since the first order; 0 for a first order).
    TenureDays,
    /// ln(1 + days since the last order; 0 for a first order).
    DaysSinceLastOrder,
}

impl Numeric {
    /// Inputs of every model.
    pub const BASE: [Numeric; 2] = [Numeric::UnitPrice, Numeric::DayOfMonth];
    /// Inputs of a model trained on an export with customer ids.
    pub const CUSTOMER: [Numeric; 5] = [
        Numeric::PriorOrders,
        Numeric::PriorCancelledShare,
        Numeric::PriorReturns,
        Numeric::TenureDays,
        Numeric::DaysSinceLastOrder,
    ];

    /// The input's name in explanations.
    pub fn name(self) -> &'static str {
        match self {
            Numeric::UnitPrice => "unit_price",
            Numeric::DayOfMonth => "order_day_of_month",
            Numeric::PriorOrders => "customer_prior_orders",
            Numeric::PriorCancelledShare => "customer_prior_cancelled_share",
            Numeric::PriorReturns => "customer_prior_returns",
            Numeric::TenureDays => "customer_tenure_days",
            Numeric::DaysSinceLastOrder => "customer_days_since_last_order",
        }
    }

    /// The raw (untransformed) value shown in explanations, and the model's input before
    /// standardisation.
    fn value(self, line: &CheckoutLine<'_>, unit_price: f64) -> (f64, f64) {
        let history = line.customer.unwrap_or_default();
        let days = |since: Option<NaiveDate>| {
            since.map_or(0.0, |d| (line.order_date - d).num_days().max(0) as f64)
        };
        match self {
            Numeric::UnitPrice => (unit_price, unit_price.ln_1p()),
            Numeric::DayOfMonth => {
                let day = line.order_date.day() as f64;
                (day, day)
            }
            Numeric::PriorOrders => (history.orders as f64, (history.orders as f64).ln_1p()),
            Numeric::PriorCancelledShare => {
                let share = if history.orders > 0 {
                    history.cancelled_orders as f64 / history.orders as f64
                } else {
                    0.0
                };
                (share, share)
            }
            Numeric::PriorReturns => (history.returns as f64, (history.returns as f64).ln_1p()),
            Numeric::TenureDays => {
                let d = days(history.first_order_date);
                (d, d.ln_1p())
            }
            Numeric::DaysSinceLastOrder => {
                let d = days(history.last_order_date);
                (d, d.ln_1p())
            }
        }
    }
}

/// A line encoded for the model: fixed-size arrays, of which the first
/// [`CancellationEncoder::n_categorical`] and [`CancellationEncoder::n_numeric`] are used, so
/// that encoding allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedLine {
    /// Global embedding index of each field (field offset + vocabulary index).
    pub categorical: [u32; MAX_CATEGORICAL],
    pub numeric: [f32; MAX_NUMERIC],
    /// Bit `i` set: field `i`'s value is not in its vocabulary.
    pub unseen: u32,
    /// Unit price used (the input's, or the imputed median).
    pub unit_price: f64,
    pub price_imputed: bool,
}

impl EncodedLine {
    pub fn is_unseen(&self, field: usize) -> bool {
        self.unseen & (1 << field) != 0
    }
}

/// Fields, vocabularies, scalers and price medians fitted on the training split, saved in the
/// bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancellationEncoder {
    /// Categorical inputs, in model order.
    pub fields: Vec<Field>,
    /// The attributes fields may read, in [`CheckoutLine::attributes`] order.
    pub attributes: Vec<Attribute>,
    /// One vocabulary per field.
    pub vocabularies: Vec<Vocabulary>,
    /// Numeric inputs, in model order, and the standardiser of each.
    pub numeric: Vec<Numeric>,
    pub scalers: Vec<Standardizer>,
    /// Median unit price of each product (normalised key) over training lines with a price.
    #[serde(serialize_with = "sorted")]
    pub product_median_price: HashMap<String, f64>,
    /// Median unit price of each category, for products without one.
    #[serde(serialize_with = "sorted")]
    pub category_median_price: HashMap<String, f64>,
    /// Median unit price of all training lines, for unknown categories.
    pub overall_median_price: f64,
    /// Each known customer's history at the end of the export (when the model reads it).
    #[serde(default)]
    pub customers: CustomerTable,
    #[serde(skip)]
    offsets: Vec<u32>,
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

/// Each known customer's history as of the end of the training export: what serving reads for
/// an order that names a customer (a customer not in it is a new customer).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CustomerTable {
    /// Last day of the export.
    pub as_of: Option<NaiveDate>,
    pub customers: std::collections::BTreeMap<String, CustomerHistory>,
}

impl CustomerTable {
    pub fn get(&self, customer_id: &str) -> Option<CustomerHistory> {
        self.customers.get(customer_id.trim()).copied()
    }
}

/// Which inputs of the order-line contract the training export has, and its attributes.
#[derive(Debug, Clone, Default)]
pub struct InputSchema {
    pub channel: bool,
    pub city: bool,
    pub state: bool,
    pub postal_code: bool,
    pub product_id: bool,
    pub product_group: bool,
    pub category: bool,
    /// Order attributes, then line attributes, each sorted by name.
    pub attributes: Vec<Attribute>,
    pub customer_history: bool,
}

impl InputSchema {
    /// The categorical inputs of a model trained on such an export: the order's (attributes,
    /// channel, place, weekday), then the line's (product, attributes, category).
    pub fn fields(&self) -> Vec<Field> {
        let field = |name: &str, source| Field { name: name.to_owned(), source };
        let attribute = |i: usize| field(&self.attributes[i].name, Source::Attribute(i as u8));
        let mut out = Vec::new();
        let order_attributes: Vec<usize> =
            (0..self.attributes.len()).filter(|&i| self.attributes[i].order_level).collect();
        let line_attributes: Vec<usize> =
            (0..self.attributes.len()).filter(|&i| !self.attributes[i].order_level).collect();
        out.extend(order_attributes.iter().map(|&i| attribute(i)));
        if self.channel {
            out.push(field("sales_channel", Source::Channel));
        }
        if self.city {
            out.push(field("ship_city", Source::City));
        }
        if self.state {
            out.push(field("ship_state", Source::State));
        }
        if self.postal_code {
            out.push(field("ship_postal_code", Source::PostalCode));
            out.push(field("ship_postal_area", Source::PostalArea));
        }
        out.push(field("order_weekday", Source::Weekday));
        if self.product_id {
            out.push(field("sku", Source::ProductId));
        }
        if self.product_group {
            out.push(field("style", Source::ProductGroup));
        }
        out.extend(line_attributes.iter().map(|&i| attribute(i)));
        if self.category {
            out.push(field("category", Source::Category));
        }
        out
    }

    pub fn numeric(&self) -> Vec<Numeric> {
        let mut out = Numeric::BASE.to_vec();
        if self.customer_history {
            out.extend(Numeric::CUSTOMER);
        }
        out
    }
}

impl CancellationEncoder {
    /// Fits on training lines: vocabularies keep values seen at least `min_count` times.
    pub fn fit(schema: &InputSchema, lines: &[CheckoutLine<'_>], min_count: usize) -> Self {
        let fields = schema.fields();
        assert!(
            fields.len() <= MAX_CATEGORICAL && schema.attributes.len() < 256,
            "the configuration allows at most {MAX_CATEGORICAL} categorical inputs"
        );
        let vocabularies = fields
            .iter()
            .map(|field| {
                let keys: Vec<String> = lines.iter().map(|line| field.key(line)).collect();
                Vocabulary::fit(keys.iter().map(String::as_str), min_count, None)
            })
            .collect();
        let mut by_product: HashMap<String, Vec<f64>> = HashMap::new();
        let mut by_category: HashMap<String, Vec<f64>> = HashMap::new();
        let mut all = Vec::new();
        for line in lines {
            if let Some(price) = line.unit_price.filter(|p| p.is_finite() && *p >= 0.0) {
                by_product.entry(normalize_key(line.product_id)).or_default().push(price);
                by_category.entry(normalize_key(line.category)).or_default().push(price);
                all.push(price);
            }
        }
        let medians = |groups: HashMap<String, Vec<f64>>| -> HashMap<String, f64> {
            groups.into_iter().filter_map(|(k, mut v)| median(&mut v).map(|m| (k, m))).collect()
        };
        let numeric = schema.numeric();
        let mut encoder = Self {
            fields,
            attributes: schema.attributes.clone(),
            vocabularies,
            scalers: vec![Standardizer { mean: 0.0, std: 1.0 }; numeric.len()],
            numeric,
            product_median_price: medians(by_product),
            category_median_price: medians(by_category),
            overall_median_price: median(&mut all).unwrap_or(0.0),
            customers: CustomerTable::default(),
            offsets: Vec::new(),
        };
        encoder.index();
        let scalers = (0..encoder.numeric.len())
            .map(|j| {
                let input = encoder.numeric[j];
                Standardizer::fit(lines.iter().map(|l| input.value(l, encoder.price(l).0).1))
            })
            .collect();
        encoder.scalers = scalers;
        encoder
    }

    /// Recomputes derived state after deserialisation and checks the shape of the file.
    pub fn validated(mut self) -> Result<Self, String> {
        if self.vocabularies.len() != self.fields.len() || self.fields.len() > MAX_CATEGORICAL {
            return Err(format!(
                "{} fields with {} vocabularies (at most {MAX_CATEGORICAL})",
                self.fields.len(),
                self.vocabularies.len()
            ));
        }
        if self.numeric.len() != self.scalers.len() || self.numeric.len() > MAX_NUMERIC {
            return Err(format!(
                "{} numeric inputs with {} scalers (at most {MAX_NUMERIC})",
                self.numeric.len(),
                self.scalers.len()
            ));
        }
        if let Some(field) = self.fields.iter().find(
            |f| matches!(f.source, Source::Attribute(i) if i as usize >= self.attributes.len()),
        ) {
            return Err(format!("field {} reads an attribute that is not listed", field.name));
        }
        if self.scalers.iter().any(|s| !(s.std > 0.0 && s.mean.is_finite())) {
            return Err("scalers must have a finite mean and a positive std".into());
        }
        self.index();
        Ok(self)
    }

    fn index(&mut self) {
        let mut offset = 0u32;
        self.offsets = self
            .vocabularies
            .iter()
            .map(|vocab| {
                let start = offset;
                offset += vocab.len() as u32;
                start
            })
            .collect();
    }

    pub fn n_categorical(&self) -> usize {
        self.fields.len()
    }

    pub fn n_numeric(&self) -> usize {
        self.numeric.len()
    }

    /// Whether the model reads the customer's history.
    pub fn reads_customer_history(&self) -> bool {
        self.numeric.contains(&Numeric::PriorOrders)
    }

    /// The history of a known customer at the end of the training export; `None` for a
    /// customer the model does not know.
    pub fn customer(&self, customer_id: &str) -> Option<CustomerHistory> {
        self.customers.get(customer_id)
    }

    /// The position of attribute `name` in [`CheckoutLine::attributes`].
    pub fn attribute_index(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }

    /// Each field's first embedding row (its values' rows run to the next field's first).
    pub fn field_offsets(&self) -> &[u32] {
        &self.offsets
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
        match line.unit_price {
            Some(price) if price.is_finite() && price >= 0.0 => (price, false),
            _ => {
                let imputed = self
                    .product_median_price
                    .get(&normalize_key(line.product_id))
                    .or_else(|| self.category_median_price.get(&normalize_key(line.category)))
                    .copied()
                    .unwrap_or(self.overall_median_price);
                (imputed, true)
            }
        }
    }

    /// The raw value of numeric input `j` of `line` (for explanations).
    pub fn numeric_value(&self, j: usize, line: &CheckoutLine<'_>, unit_price: f64) -> f64 {
        self.numeric[j].value(line, unit_price).0
    }

    pub fn encode(&self, line: &CheckoutLine<'_>) -> EncodedLine {
        let mut categorical = [0u32; MAX_CATEGORICAL];
        let mut unseen = 0u32;
        for (i, field) in self.fields.iter().enumerate() {
            let index = self.vocabularies[i].index(&field.key(line));
            if index == Vocabulary::UNKNOWN {
                unseen |= 1 << i;
            }
            categorical[i] = self.offsets[i] + index;
        }
        let (unit_price, price_imputed) = self.price(line);
        let mut numeric = [0f32; MAX_NUMERIC];
        for (j, (input, scaler)) in self.numeric.iter().zip(&self.scalers).enumerate() {
            numeric[j] = scaler.transform(input.value(line, unit_price).1);
        }
        EncodedLine { categorical, numeric, unseen, unit_price, price_imputed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(attributes: &'a [&'a str], customer: Option<CustomerHistory>) -> CheckoutLine<'a> {
        CheckoutLine {
            order_date: NaiveDate::from_ymd_opt(2022, 6, 15).unwrap(),
            channel: "Online",
            city: "Leeds",
            state: "",
            postal_code: "LS1 4AP",
            product_id: "85123A",
            product_group: "",
            category: "Home",
            attributes: AttributeValues::Borrowed(attributes),
            unit_price: Some(2.55),
            customer,
        }
    }

    #[test]
    fn reads_only_the_inputs_the_export_has() {
        let schema = InputSchema {
            channel: true,
            city: true,
            postal_code: true,
            product_id: true,
            category: true,
            attributes: vec![
                Attribute { name: "ship_mode".into(), order_level: true },
                Attribute { name: "size".into(), order_level: false },
            ],
            customer_history: true,
            ..Default::default()
        };
        let names: Vec<String> = schema.fields().into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "ship_mode",
                "sales_channel",
                "ship_city",
                "ship_postal_code",
                "ship_postal_area",
                "order_weekday",
                "sku",
                "size",
                "category"
            ]
        );
        let history = CustomerHistory {
            orders: 4,
            cancelled_orders: 1,
            returns: 2,
            first_order_date: NaiveDate::from_ymd_opt(2022, 1, 1),
            last_order_date: NaiveDate::from_ymd_opt(2022, 6, 5),
        };
        let lines = [line(&["Second Class", "M"], Some(history)), line(&["First Class"], None)];
        let encoder = CancellationEncoder::fit(&schema, &lines, 1);
        assert_eq!(encoder.n_numeric(), 7);
        assert!(encoder.reads_customer_history());
        let first = &lines[0];
        assert_eq!(encoder.numeric_value(2, first, 2.55), 4.0);
        assert_eq!(encoder.numeric_value(3, first, 2.55), 0.25);
        assert_eq!(encoder.numeric_value(6, first, 2.55), 10.0);
        // A missing line attribute is an empty value, seen in training by the second line.
        let encoded = encoder.encode(&lines[1]);
        assert_eq!(encoded.unseen, 0);
        let unknown = encoder.encode(&line(&["Same Day"], None));
        assert!(unknown.is_unseen(0) && !unknown.is_unseen(1));
        // Round trip through the bundle's JSON.
        let json = serde_json::to_string(&encoder).unwrap();
        let back: CancellationEncoder = serde_json::from_str(&json).unwrap();
        assert_eq!(back.validated().unwrap().encode(&lines[0]), encoder.encode(&lines[0]));
    }
}
