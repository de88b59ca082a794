//! `PredictionService`'s requests: orders at checkout, products to price, reviews, forecasts.

use super::{Bounded, at_most, bounded, same_currency};
use crate::config::LimitSettings;
use crate::error::{ShopError, within};
use crate::proto;
use chrono::{Duration, NaiveDate};
use shopml_core::cancellation::{
    AttributeValues, CancellationEncoder, CheckoutLine, CustomerHistory, OrderRisk,
    PredictedOutcome, RiskBand,
};
use shopml_core::features::{echo, parse_iso_date};
use shopml_core::price::{PricePrediction, ProductInput};

impl Bounded for proto::PredictCancellationRequest {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError> {
        let lines = self.order.as_ref().map_or(0, |o| o.lines.len());
        at_most("order.lines", "lines", lines, limits.max_order_lines, "max_order_lines")
    }
}

impl Bounded for proto::Product {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError> {
        let bytes = self.name.len() + self.category_path.len();
        at_most(
            "name",
            "bytes of name and category_path",
            bytes,
            limits.max_text_bytes,
            "max_text_bytes",
        )
    }
}

impl Bounded for proto::AnalyzeSentimentRequest {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError> {
        let bytes = self.title.len() + self.text.len();
        at_most("text", "bytes of title and text", bytes, limits.max_text_bytes, "max_text_bytes")
    }
}

impl Bounded for proto::ForecastDemandRequest {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError> {
        let days = self.history.len();
        at_most("history", "days", days, limits.max_history_days, "max_history_days")
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation

/// An order at checkout, validated: its date parsed, at least one line, every SKU present,
/// every given price finite and non-negative, the customer's history well-formed.
#[derive(Debug, Clone)]
pub struct CheckoutOrder {
    pub order: proto::Order,
    pub order_date: NaiveDate,
    pub skip_explanations: bool,
    /// The request's customer history, parsed.
    pub customer_history: Option<CustomerHistory>,
}

/// A date of a customer history: empty (none) or YYYY-MM-DD, not after the order.
fn history_date(
    field: &str,
    value: &str,
    order_date: NaiveDate,
) -> Result<Option<NaiveDate>, ShopError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let date = parse_iso_date(value).map_err(|r| ShopError::invalid(field, r))?;
    if date > order_date {
        return Err(ShopError::invalid(
            field,
            format!("{date} is after the order date {order_date}: history is what came before"),
        ));
    }
    Ok(Some(date))
}

impl TryFrom<proto::PredictCancellationRequest> for CheckoutOrder {
    type Error = ShopError;

    fn try_from(request: proto::PredictCancellationRequest) -> Result<Self, ShopError> {
        let order = request.order.ok_or_else(|| ShopError::invalid("order", "required"))?;
        let order_date = parse_iso_date(&order.order_date)
            .map_err(|r| ShopError::invalid("order.order_date", r))?;
        if order.lines.is_empty() {
            return Err(ShopError::invalid("order.lines", "an order needs at least one line"));
        }
        for (i, line) in order.lines.iter().enumerate() {
            if line.sku.trim().is_empty() {
                return Err(ShopError::invalid(format!("order.lines[{i}].sku"), "required"));
            }
            if let Some(price) = line.unit_price
                && !(price.is_finite() && price >= 0.0)
            {
                return Err(ShopError::invalid(
                    format!("order.lines[{i}].unit_price"),
                    format!("must be a finite number >= 0, got {price}"),
                ));
            }
        }
        let customer_history = order
            .customer_history
            .as_ref()
            .map(|h| -> Result<CustomerHistory, ShopError> {
                if h.prior_cancelled_orders > h.prior_orders {
                    return Err(ShopError::invalid(
                        "order.customer_history.prior_cancelled_orders",
                        format!(
                            "{} cancelled of {} prior orders",
                            h.prior_cancelled_orders, h.prior_orders
                        ),
                    ));
                }
                let first = history_date(
                    "order.customer_history.first_order_date",
                    &h.first_order_date,
                    order_date,
                )?;
                let last = history_date(
                    "order.customer_history.last_order_date",
                    &h.last_order_date,
                    order_date,
                )?;
                if first.zip(last).is_some_and(|(f, l)| f > l) {
                    return Err(ShopError::invalid(
                        "order.customer_history.first_order_date",
                        "after last_order_date",
                    ));
                }
                Ok(CustomerHistory {
                    orders: h.prior_orders,
                    cancelled_orders: h.prior_cancelled_orders,
                    returns: h.prior_returns,
                    first_order_date: first,
                    last_order_date: last,
                })
            })
            .transpose()?;
        Ok(Self {
            order,
            order_date,
            skip_explanations: request.skip_explanations,
            customer_history,
        })
    }
}

/// The inputs of an order for one encoder: each line's attribute values in the encoder's
/// order, and the customer's history (the request's, else the bundle's).
pub struct CheckoutInputs<'o> {
    order: &'o CheckoutOrder,
    attributes: Vec<Vec<&'o str>>,
    customer: Option<CustomerHistory>,
    /// The request named a customer the bundle does not know (and gave no history).
    unknown_customer: bool,
}

impl CheckoutOrder {
    /// Checks the request's currency against the bundle's.
    pub fn check_currency(&self, bundle_currency: &str) -> Result<(), ShopError> {
        same_currency("order.currency", &self.order.currency, bundle_currency)
    }

    /// What `encoder` reads of this order.
    pub fn inputs<'o>(&'o self, encoder: &CancellationEncoder) -> CheckoutInputs<'o> {
        let order = &self.order;
        let b2b = if order.b2b { "TRUE" } else { "FALSE" };
        let attributes = order
            .lines
            .iter()
            .map(|line| {
                encoder
                    .attributes
                    .iter()
                    .map(|a| {
                        let named = |map: &'o std::collections::BTreeMap<String, String>| {
                            map.get(&a.name).map(String::as_str)
                        };
                        named(&line.attributes).or_else(|| named(&order.attributes)).unwrap_or(
                            match a.name.as_str() {
                                "fulfilment" => order.fulfilment.as_str(),
                                "ship_service_level" => order.ship_service_level.as_str(),
                                "b2b" => b2b,
                                "asin" => line.asin.as_str(),
                                "size" => line.size.as_str(),
                                _ => "",
                            },
                        )
                    })
                    .collect()
            })
            .collect();
        let known = || {
            (!order.customer_id.trim().is_empty())
                .then(|| encoder.customer(&order.customer_id))
                .flatten()
        };
        let customer = if encoder.reads_customer_history() {
            self.customer_history.or_else(known)
        } else {
            None
        };
        let unknown_customer = encoder.reads_customer_history()
            && self.customer_history.is_none()
            && !order.customer_id.trim().is_empty()
            && customer.is_none();
        CheckoutInputs { order: self, attributes, customer, unknown_customer }
    }
}

impl CheckoutInputs<'_> {
    /// The model input of each line: what serving encodes (training encodes the same
    /// `CheckoutLine` built from an export row).
    pub fn lines(&self) -> Vec<CheckoutLine<'_>> {
        let order = &self.order.order;
        order
            .lines
            .iter()
            .zip(&self.attributes)
            .map(|(line, attributes)| CheckoutLine {
                order_date: self.order.order_date,
                channel: &order.sales_channel,
                city: &order.ship_city,
                state: &order.ship_state,
                postal_code: &order.ship_postal_code,
                product_id: &line.sku,
                product_group: &line.style,
                category: &line.category,
                attributes: AttributeValues::Borrowed(attributes),
                unit_price: line.unit_price,
                customer: self.customer,
            })
            .collect()
    }

    pub fn response(
        &self,
        mut risk: OrderRisk,
        version: &str,
        currency: &str,
        outcome: PredictedOutcome,
    ) -> proto::PredictCancellationResponse {
        let order = &self.order.order;
        if self.unknown_customer {
            risk.unseen.push("customer_id".to_owned());
        }
        proto::PredictCancellationResponse {
            order_id: order.order_id.clone(),
            order_cancel_probability: risk.probability,
            order_risk_band: band(risk.band),
            lines: order
                .lines
                .iter()
                .zip(risk.lines)
                .map(|(line, r)| proto::LineRisk {
                    line_id: line.line_id.clone(),
                    sku: line.sku.clone(),
                    cancel_probability: r.probability,
                    risk_band: band(r.band),
                    top_reasons: r
                        .reasons
                        .into_iter()
                        .map(|reason| proto::Reason {
                            feature: reason.feature,
                            value: reason.value,
                            logit_effect: reason.logit_effect,
                        })
                        .collect(),
                    unseen_inputs: r.unseen,
                    unit_price: r.unit_price,
                    unit_price_imputed: r.price_imputed,
                })
                .collect(),
            unseen_inputs: risk.unseen,
            bundle_version: version.to_owned(),
            currency: currency.to_owned(),
            outcome: match outcome {
                PredictedOutcome::Cancellation => proto::PredictedOutcome::Cancellation,
                PredictedOutcome::Return => proto::PredictedOutcome::Return,
            } as i32,
        }
    }
}

fn band(band: RiskBand) -> i32 {
    (match band {
        RiskBand::Low => proto::RiskBand::Low,
        RiskBand::Medium => proto::RiskBand::Medium,
        RiskBand::High => proto::RiskBand::High,
    }) as i32
}

// ---------------------------------------------------------------------------------------------
// Price

/// A product to price, validated: a finite positive list price, a rating in 0–5, a
/// non-negative rating count, and a name or a category path.
#[derive(Debug, Clone)]
pub struct PricedProduct {
    pub product: proto::Product,
}

impl TryFrom<proto::Product> for PricedProduct {
    type Error = ShopError;

    fn try_from(p: proto::Product) -> Result<Self, ShopError> {
        if !(p.list_price.is_finite() && p.list_price > 0.0) {
            return Err(ShopError::invalid(
                "list_price",
                format!("must be a finite number > 0, got {}", p.list_price),
            ));
        }
        if let Some(rating) = p.rating
            && !(rating.is_finite() && (0.0..=5.0).contains(&rating))
        {
            return Err(ShopError::invalid(
                "rating",
                format!("must be between 0 and 5, got {rating}"),
            ));
        }
        if let Some(count) = p.rating_count
            && count < 0
        {
            return Err(ShopError::invalid("rating_count", format!("must be >= 0, got {count}")));
        }
        if p.name.trim().is_empty() && p.category_path.trim().is_empty() {
            return Err(ShopError::invalid("name", "name and category_path may not both be empty"));
        }
        Ok(Self { product: p })
    }
}

impl PricedProduct {
    /// A required product field (`product` in a request), named `field` in errors.
    pub fn required(
        field: &str,
        product: Option<proto::Product>,
        limits: &LimitSettings,
    ) -> Result<Self, ShopError> {
        let product = product.ok_or_else(|| ShopError::invalid(field, "required"))?;
        bounded(product, limits).map_err(|e| within(field, e))
    }

    /// Checks the request's currency against the bundle's.
    pub fn check_currency(&self, bundle_currency: &str) -> Result<(), ShopError> {
        same_currency("currency", &self.product.currency, bundle_currency)
    }

    /// The model input (what serving encodes).
    pub fn input(&self) -> ProductInput<'_> {
        let p = &self.product;
        ProductInput {
            name: &p.name,
            category_path: &p.category_path,
            list_price: p.list_price,
            rating: p.rating,
            rating_count: p.rating_count.map(|c| c as f64),
        }
    }

    pub fn response(&self, p: PricePrediction, currency: &str) -> proto::PricePrediction {
        proto::PricePrediction {
            product_id: self.product.product_id.clone(),
            currency: currency.to_owned(),
            price: p.price,
            price_p10: p.p10,
            price_p90: p.p90,
            implied_discount_pct: p.implied_discount_pct,
            unseen_inputs: p
                .unseen_category_levels
                .iter()
                .map(|l| format!("category_path[{l}]"))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sentiment

/// A review to analyse: a title (may be empty) and a non-blank text.
#[derive(Debug, Clone)]
pub struct Review {
    pub title: String,
    pub text: String,
}

impl TryFrom<proto::AnalyzeSentimentRequest> for Review {
    type Error = ShopError;

    fn try_from(review: proto::AnalyzeSentimentRequest) -> Result<Self, ShopError> {
        if review.text.trim().is_empty() {
            return Err(ShopError::invalid("text", "required (not empty)"));
        }
        Ok(Self { title: review.title, text: review.text })
    }
}

// ---------------------------------------------------------------------------------------------
// Forecast

/// A forecast request with its recent history parsed: consecutive days in order, each count
/// finite and non-negative. What depends on the bundle (the series, the horizon allowed, the
/// window) is checked against the forecaster serving.
#[derive(Debug, Clone)]
pub struct ForecastQuery {
    pub measure: String,
    pub category: String,
    pub region: String,
    pub country: String,
    pub horizon_days: usize,
    /// The first day of `values`, when the request brings history.
    pub first_date: Option<NaiveDate>,
    pub values: Vec<f64>,
}

impl TryFrom<proto::ForecastDemandRequest> for ForecastQuery {
    type Error = ShopError;

    fn try_from(request: proto::ForecastDemandRequest) -> Result<Self, ShopError> {
        let mut first_date = None;
        let mut previous: Option<NaiveDate> = None;
        let mut values = Vec::with_capacity(request.history.len());
        for (i, day) in request.history.iter().enumerate() {
            let date = parse_iso_date(&day.date)
                .map_err(|r| ShopError::invalid(format!("history[{i}].date"), r))?;
            if !(day.value.is_finite() && day.value >= 0.0) {
                return Err(ShopError::invalid(
                    format!("history[{i}].value"),
                    format!("must be a finite number >= 0, got {}", day.value),
                ));
            }
            if let Some(previous) = previous
                && date != previous + Duration::days(1)
            {
                return Err(ShopError::invalid(
                    format!("history[{i}].date"),
                    format!("dates must be consecutive and in order: {date} follows {previous}"),
                ));
            }
            first_date.get_or_insert(date);
            previous = Some(date);
            values.push(day.value);
        }
        let measure = request.measure.trim();
        if !measure.is_empty() && !shopml_core::forecast::MEASURES.contains(&measure) {
            return Err(ShopError::invalid(
                "measure",
                format!("{}; one of {}", echo(measure), shopml_core::forecast::MEASURES.join(", ")),
            ));
        }
        Ok(Self {
            measure: measure.to_owned(),
            category: request.category,
            region: request.region,
            country: request.country,
            horizon_days: request.horizon_days as usize,
            first_date,
            values,
        })
    }
}

impl ForecastQuery {
    /// The series the request names.
    pub fn key(&self) -> shopml_core::forecast::SeriesKey<'_> {
        shopml_core::forecast::SeriesKey {
            measure: &self.measure,
            category: &self.category,
            region: &self.region,
            country: &self.country,
        }
    }

    /// What the forecaster is asked.
    pub fn ask(&self) -> shopml_core::forecast::ForecastAsk<'_> {
        shopml_core::forecast::ForecastAsk {
            key: self.key(),
            first_date: self.first_date,
            values: &self.values,
            horizon_days: self.horizon_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::batch;

    fn field_of(error: ShopError) -> String {
        match error {
            ShopError::InvalidArgument { field, .. } => field,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    fn order_request(date: &str, prices: &[Option<f64>]) -> proto::PredictCancellationRequest {
        let mut order = crate::examples::order("o-1", prices.len(), 0);
        order.order_date = date.into();
        for (line, price) in order.lines.iter_mut().zip(prices) {
            line.unit_price = *price;
        }
        proto::PredictCancellationRequest { order: Some(order), skip_explanations: false }
    }

    #[test]
    fn an_order_is_parsed_once_and_its_errors_name_the_field() {
        let order = CheckoutOrder::try_from(order_request("2022-06-12", &[Some(10.0), None]))
            .expect("a valid order");
        assert_eq!(order.order_date, NaiveDate::from_ymd_opt(2022, 6, 12).unwrap());
        let encoder = small_encoder();
        let inputs = order.inputs(&encoder);
        let lines = inputs.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.order_date == order.order_date));
        assert_eq!(lines[1].unit_price, None);
        // Attributes come from the fields named like them, in the encoder's order.
        assert_eq!(lines[0].attributes.get(0), "Merchant");
        assert_eq!(lines[0].attributes.get(1), "M");

        let bad_date = CheckoutOrder::try_from(order_request("12/06/2022", &[None]));
        assert_eq!(field_of(bad_date.unwrap_err()), "order.order_date");
        let bad_price = CheckoutOrder::try_from(order_request("2022-06-12", &[None, Some(-1.0)]));
        assert_eq!(field_of(bad_price.unwrap_err()), "order.lines[1].unit_price");
        let missing = proto::PredictCancellationRequest { order: None, skip_explanations: false };
        assert_eq!(field_of(CheckoutOrder::try_from(missing).unwrap_err()), "order");
    }

    /// An encoder reading an order attribute, a line attribute and the customer's history.
    fn small_encoder() -> CancellationEncoder {
        use shopml_core::cancellation::{Attribute, InputSchema};
        let schema = InputSchema {
            product_id: true,
            attributes: vec![
                Attribute { name: "fulfilment".into(), order_level: true },
                Attribute { name: "size".into(), order_level: false },
            ],
            customer_history: true,
            ..Default::default()
        };
        let values = ["Amazon", "M"];
        let line = CheckoutLine {
            order_date: NaiveDate::from_ymd_opt(2022, 6, 1).unwrap(),
            channel: "",
            city: "",
            state: "",
            postal_code: "",
            product_id: "SET100-M",
            product_group: "",
            category: "",
            attributes: AttributeValues::Borrowed(&values),
            unit_price: Some(10.0),
            customer: None,
        };
        let mut encoder = CancellationEncoder::fit(&schema, &[line], 1);
        encoder.customers.customers.insert(
            "c-1".into(),
            CustomerHistory {
                orders: 3,
                cancelled_orders: 1,
                returns: 0,
                first_order_date: NaiveDate::from_ymd_opt(2022, 1, 3),
                last_order_date: NaiveDate::from_ymd_opt(2022, 5, 30),
            },
        );
        encoder
    }

    #[test]
    fn attributes_by_name_and_the_customer_s_history_reach_the_model() {
        let encoder = small_encoder();
        let mut request = order_request("2022-06-12", &[Some(10.0)]);
        let order = request.order.as_mut().unwrap();
        order.attributes.insert("fulfilment".into(), "Amazon".into());
        order.lines[0].attributes.insert("size".into(), "XL".into());
        order.customer_id = "c-1".into();
        let parsed = CheckoutOrder::try_from(request.clone()).unwrap();
        let inputs = parsed.inputs(&encoder);
        let line = inputs.lines()[0];
        assert_eq!((line.attributes.get(0), line.attributes.get(1)), ("Amazon", "XL"));
        assert_eq!(line.customer.unwrap().orders, 3);
        // A customer the bundle does not know is a new customer, reported unseen.
        request.order.as_mut().unwrap().customer_id = "c-404".into();
        let parsed = CheckoutOrder::try_from(request.clone()).unwrap();
        let inputs = parsed.inputs(&encoder);
        assert!(inputs.lines()[0].customer.is_none() && inputs.unknown_customer);
        // The caller's history replaces the bundle's; a date after the order is refused.
        let order = request.order.as_mut().unwrap();
        order.customer_history = Some(proto::CustomerHistory {
            prior_orders: 9,
            last_order_date: "2022-06-01".into(),
            ..Default::default()
        });
        let parsed = CheckoutOrder::try_from(request.clone()).unwrap();
        assert_eq!(parsed.inputs(&encoder).lines()[0].customer.unwrap().orders, 9);
        request.order.as_mut().unwrap().customer_history.as_mut().unwrap().last_order_date =
            "2022-07-01".into();
        let late = CheckoutOrder::try_from(request.clone()).unwrap_err();
        assert_eq!(field_of(late), "order.customer_history.last_order_date");
        // Another currency than the bundle's is refused by name.
        let mut request = order_request("2022-06-12", &[Some(10.0)]);
        request.order.as_mut().unwrap().currency = "usd".into();
        let parsed = CheckoutOrder::try_from(request).unwrap();
        assert!(parsed.check_currency("USD").is_ok());
        assert_eq!(field_of(parsed.check_currency("GBP").unwrap_err()), "order.currency");
    }

    #[test]
    fn batches_check_their_size_and_prefix_each_item() {
        let products = vec![crate::examples::product("a"), crate::examples::product("b")];
        let limits = |max_batch_size| LimitSettings {
            max_batch_size,
            ..crate::config::Settings::defaults().limits
        };
        let ok: Vec<PricedProduct> =
            batch("products", products.clone(), &limits(2)).expect("valid");
        assert_eq!(ok[1].product.product_id, "b");
        let too_many =
            batch::<_, PricedProduct>("products", products.clone(), &limits(1)).unwrap_err();
        assert_eq!(field_of(too_many), "products");
        let empty =
            batch::<proto::Product, PricedProduct>("products", vec![], &limits(4)).unwrap_err();
        assert_eq!(field_of(empty), "products");
        let mut bad = products;
        bad[1].rating = Some(7.0);
        let error = batch::<_, PricedProduct>("products", bad.clone(), &limits(4)).unwrap_err();
        assert_eq!(field_of(error), "products[1].rating");
        let single = PricedProduct::required("product", None, &limits(4)).unwrap_err();
        assert_eq!(field_of(single), "product");
        // An item over a size limit is refused naming the limit, before it is converted.
        bad[0].name = "x".repeat(70_000);
        let error = batch::<_, PricedProduct>("products", bad, &limits(4)).unwrap_err();
        assert!(
            error.to_string().starts_with("products[0].name")
                && error.to_string().contains("max_text_bytes"),
            "{error}"
        );
    }

    #[test]
    fn forecast_history_must_be_consecutive() {
        let day = |date: &str, value: f64| proto::DailyDemand { date: date.into(), value };
        let request = |history| proto::ForecastDemandRequest {
            category: "Set".into(),
            region: "MAHARASHTRA".into(),
            horizon_days: 7,
            history,
            ..Default::default()
        };
        let query =
            ForecastQuery::try_from(request(vec![day("2022-06-01", 3.0), day("2022-06-02", 4.0)]))
                .expect("valid");
        assert_eq!(query.first_date, NaiveDate::from_ymd_opt(2022, 6, 1));
        assert_eq!(query.values, [3.0, 4.0]);
        let gap =
            ForecastQuery::try_from(request(vec![day("2022-06-01", 3.0), day("2022-06-03", 4.0)]));
        assert_eq!(field_of(gap.unwrap_err()), "history[1].date");
        let negative = ForecastQuery::try_from(request(vec![day("2022-06-01", -3.0)]));
        assert_eq!(field_of(negative.unwrap_err()), "history[0].value");
        let empty = ForecastQuery::try_from(request(vec![])).expect("no history is valid");
        assert_eq!((empty.first_date, empty.values.len()), (None, 0));
    }
}
