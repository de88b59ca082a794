//! Proto messages → typed domain requests, validated once: a value that passes `TryFrom` holds
//! its parsed fields, so handlers never parse again. Errors name the field as the client wrote
//! it (`order.lines[2].unit_price_inr`); batches prefix the item (`orders[3].…`).

use crate::config::LimitSettings;
use crate::error::{ShopError, within};
use crate::proto;
use chrono::{Duration, NaiveDate};
use shopml_core::cancellation::{CheckoutLine, OrderRisk, RiskBand};
use shopml_core::features::parse_iso_date;
use shopml_core::price::{PricePrediction, ProductInput};
use shopml_core::segments::SegmentKind;

/// A request item's size, checked against the configured limits before it is converted (so an
/// oversized item costs no more than its decoding).
pub trait Bounded {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError>;
}

fn at_most(
    field: &str,
    what: &str,
    size: usize,
    max: usize,
    setting: &str,
) -> Result<(), ShopError> {
    if size > max {
        return Err(ShopError::invalid(
            field,
            format!("{size} {what}; at most {max} (limits.{setting})"),
        ));
    }
    Ok(())
}

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

/// One request item, its size checked, then converted.
pub fn bounded<P: Bounded, T>(item: P, limits: &LimitSettings) -> Result<T, ShopError>
where
    T: TryFrom<P, Error = ShopError>,
{
    item.check_size(limits)?;
    T::try_from(item)
}

/// Converts every item of a batch, after checking the batch's and each item's size (`field`
/// names the batch in errors, `field[i]` an item).
pub fn batch<P: Bounded, T>(
    field: &str,
    items: Vec<P>,
    limits: &LimitSettings,
) -> Result<Vec<T>, ShopError>
where
    T: TryFrom<P, Error = ShopError>,
{
    let max = limits.max_batch_size;
    if items.is_empty() {
        return Err(ShopError::invalid(field, "at least one item is required"));
    }
    if items.len() > max {
        return Err(ShopError::invalid(
            field,
            format!("{} items; at most {max} per call (limits.max_batch_size)", items.len()),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| bounded(item, limits).map_err(|e| within(&format!("{field}[{i}]"), e)))
        .collect()
}

/// A required, non-blank identifier, trimmed.
pub fn required_id(field: &str, value: &str) -> Result<String, ShopError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ShopError::invalid(field, "required"));
    }
    Ok(trimmed.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Cancellation

/// An order at checkout, validated: its date parsed, at least one line, every SKU present and
/// every given price finite and non-negative.
#[derive(Debug, Clone)]
pub struct CheckoutOrder {
    pub order: proto::Order,
    pub order_date: NaiveDate,
    pub skip_explanations: bool,
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
            if let Some(price) = line.unit_price_inr
                && !(price.is_finite() && price >= 0.0)
            {
                return Err(ShopError::invalid(
                    format!("order.lines[{i}].unit_price_inr"),
                    format!("must be a finite number >= 0, got {price}"),
                ));
            }
        }
        Ok(Self { order, order_date, skip_explanations: request.skip_explanations })
    }
}

impl CheckoutOrder {
    /// The model input of each line: what serving encodes (training encodes the same
    /// `CheckoutLine` built from an export row).
    pub fn lines(&self) -> Vec<CheckoutLine<'_>> {
        let order = &self.order;
        order
            .lines
            .iter()
            .map(|line| CheckoutLine {
                order_date: self.order_date,
                fulfilment: &order.fulfilment,
                sales_channel: &order.sales_channel,
                ship_service_level: &order.ship_service_level,
                b2b: order.b2b,
                ship_city: &order.ship_city,
                ship_state: &order.ship_state,
                ship_postal_code: &order.ship_postal_code,
                sku: &line.sku,
                style: &line.style,
                asin: &line.asin,
                category: &line.category,
                size: &line.size,
                unit_price_inr: line.unit_price_inr,
            })
            .collect()
    }

    pub fn response(&self, risk: OrderRisk, version: &str) -> proto::PredictCancellationResponse {
        let order = &self.order;
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
                            feature: reason.feature.to_owned(),
                            value: reason.value,
                            logit_effect: reason.logit_effect,
                        })
                        .collect(),
                    unseen_inputs: r.unseen.iter().map(|s| (*s).to_owned()).collect(),
                    unit_price_inr: r.unit_price_inr,
                    unit_price_imputed: r.price_imputed,
                })
                .collect(),
            unseen_inputs: risk.unseen.iter().map(|s| (*s).to_owned()).collect(),
            bundle_version: version.to_owned(),
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
        if !(p.list_price_inr.is_finite() && p.list_price_inr > 0.0) {
            return Err(ShopError::invalid(
                "list_price_inr",
                format!("must be a finite number > 0, got {}", p.list_price_inr),
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

    /// The model input (what serving encodes).
    pub fn input(&self) -> ProductInput<'_> {
        let p = &self.product;
        ProductInput {
            name: &p.name,
            category_path: &p.category_path,
            list_price_inr: p.list_price_inr,
            rating: p.rating,
            rating_count: p.rating_count.map(|c| c as f64),
        }
    }

    pub fn response(&self, p: PricePrediction) -> proto::PricePrediction {
        proto::PricePrediction {
            product_id: self.product.product_id.clone(),
            price_inr: p.price_inr,
            price_p10_inr: p.p10_inr,
            price_p90_inr: p.p90_inr,
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
    pub category: String,
    pub region: String,
    pub horizon_days: usize,
    /// The first day of `order_lines`, when the request brings history.
    pub first_date: Option<NaiveDate>,
    pub order_lines: Vec<f64>,
}

impl TryFrom<proto::ForecastDemandRequest> for ForecastQuery {
    type Error = ShopError;

    fn try_from(request: proto::ForecastDemandRequest) -> Result<Self, ShopError> {
        let mut first_date = None;
        let mut previous: Option<NaiveDate> = None;
        let mut order_lines = Vec::with_capacity(request.history.len());
        for (i, day) in request.history.iter().enumerate() {
            let date = parse_iso_date(&day.date)
                .map_err(|r| ShopError::invalid(format!("history[{i}].date"), r))?;
            if !(day.order_lines.is_finite() && day.order_lines >= 0.0) {
                return Err(ShopError::invalid(
                    format!("history[{i}].order_lines"),
                    format!("must be a finite number >= 0, got {}", day.order_lines),
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
            order_lines.push(day.order_lines);
        }
        Ok(Self {
            category: request.category,
            region: request.region,
            horizon_days: request.horizon_days as usize,
            first_date,
            order_lines,
        })
    }
}

impl ForecastQuery {
    /// The last day of the request's history.
    pub fn last_date(&self) -> Option<NaiveDate> {
        let days = self.order_lines.len().checked_sub(1)? as i64;
        self.first_date.map(|first| first + Duration::days(days))
    }
}

// ---------------------------------------------------------------------------------------------
// Segments

/// A segment kind named in a request (`kind`).
pub struct Kind(pub SegmentKind);

impl TryFrom<i32> for Kind {
    type Error = ShopError;

    fn try_from(value: i32) -> Result<Self, ShopError> {
        match proto::SegmentKind::try_from(value) {
            Ok(proto::SegmentKind::Product) => Ok(Self(SegmentKind::Product)),
            Ok(proto::SegmentKind::Customer) => Ok(Self(SegmentKind::Customer)),
            Ok(proto::SegmentKind::Region) => Ok(Self(SegmentKind::Region)),
            _ => Err(ShopError::invalid(
                "kind",
                "one of SEGMENT_KIND_PRODUCT, SEGMENT_KIND_CUSTOMER, SEGMENT_KIND_REGION",
            )),
        }
    }
}

pub fn proto_kind(kind: SegmentKind) -> i32 {
    (match kind {
        SegmentKind::Product => proto::SegmentKind::Product,
        SegmentKind::Customer => proto::SegmentKind::Customer,
        SegmentKind::Region => proto::SegmentKind::Region,
    }) as i32
}

/// A profile to place among the segments: its kind and raw figures in the order of the
/// segment set's features, each finite and within its feature's domain.
pub struct SegmentProfile {
    pub kind: SegmentKind,
    pub figures: Vec<f64>,
}

/// A figure finite and within `[min, max]`.
fn within_range(field: &str, value: f64, min: f64, max: f64) -> Result<f64, ShopError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(ShopError::invalid(
            field,
            format!("must be a finite number in [{min}, {max}], got {value}"),
        ))
    }
}

impl TryFrom<proto::AssignSegmentRequest> for SegmentProfile {
    type Error = ShopError;

    fn try_from(request: proto::AssignSegmentRequest) -> Result<Self, ShopError> {
        use proto::assign_segment_request::Profile;
        let inf = f64::INFINITY;
        let (kind, figures) = match request.profile {
            Some(Profile::Product(p)) => {
                if !(p.price_inr.is_finite() && p.price_inr > 0.0) {
                    return Err(ShopError::invalid(
                        "product.price_inr",
                        format!("must be a finite number > 0, got {}", p.price_inr),
                    ));
                }
                (
                    SegmentKind::Product,
                    vec![
                        p.price_inr,
                        within_range("product.rating", p.rating, 0.0, 5.0)?,
                        within_range("product.rating_count", p.rating_count, 0.0, inf)?,
                        within_range("product.discount_pct", p.discount_pct, 0.0, 100.0)?,
                    ],
                )
            }
            Some(Profile::Customer(c)) => (
                SegmentKind::Customer,
                vec![
                    within_range("customer.total_amount_inr", c.total_amount_inr, 0.0, inf)?,
                    within_range("customer.orders", c.orders, 0.0, inf)?,
                    within_range("customer.lines", c.lines, 0.0, inf)?,
                    within_range("customer.distinct_categories", c.distinct_categories, 0.0, inf)?,
                ],
            ),
            Some(Profile::Region(r)) => (
                SegmentKind::Region,
                vec![
                    within_range("region.revenue_inr", r.revenue_inr, 0.0, inf)?,
                    within_range("region.lines", r.lines, 0.0, inf)?,
                    within_range("region.cancellation_rate", r.cancellation_rate, 0.0, 1.0)?,
                    within_range(
                        "region.average_order_value_inr",
                        r.average_order_value_inr,
                        0.0,
                        inf,
                    )?,
                    within_range(
                        "region.amazon_fulfilled_share",
                        r.amazon_fulfilled_share,
                        0.0,
                        1.0,
                    )?,
                ],
            ),
            None => {
                return Err(ShopError::invalid(
                    "profile",
                    "one of product, customer, region is required",
                ));
            }
        };
        Ok(Self { kind, figures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            line.unit_price_inr = *price;
        }
        proto::PredictCancellationRequest { order: Some(order), skip_explanations: false }
    }

    #[test]
    fn an_order_is_parsed_once_and_its_errors_name_the_field() {
        let order = CheckoutOrder::try_from(order_request("2022-06-12", &[Some(10.0), None]))
            .expect("a valid order");
        assert_eq!(order.order_date, NaiveDate::from_ymd_opt(2022, 6, 12).unwrap());
        let lines = order.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.order_date == order.order_date));
        assert_eq!(lines[1].unit_price_inr, None);

        let bad_date = CheckoutOrder::try_from(order_request("12/06/2022", &[None]));
        assert_eq!(field_of(bad_date.unwrap_err()), "order.order_date");
        let bad_price = CheckoutOrder::try_from(order_request("2022-06-12", &[None, Some(-1.0)]));
        assert_eq!(field_of(bad_price.unwrap_err()), "order.lines[1].unit_price_inr");
        let missing = proto::PredictCancellationRequest { order: None, skip_explanations: false };
        assert_eq!(field_of(CheckoutOrder::try_from(missing).unwrap_err()), "order");
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
        let day =
            |date: &str, order_lines: f64| proto::DailyDemand { date: date.into(), order_lines };
        let request = |history| proto::ForecastDemandRequest {
            category: "Set".into(),
            region: "MAHARASHTRA".into(),
            horizon_days: 7,
            history,
        };
        let query =
            ForecastQuery::try_from(request(vec![day("2022-06-01", 3.0), day("2022-06-02", 4.0)]))
                .expect("valid");
        assert_eq!(query.last_date(), NaiveDate::from_ymd_opt(2022, 6, 2));
        let gap =
            ForecastQuery::try_from(request(vec![day("2022-06-01", 3.0), day("2022-06-03", 4.0)]));
        assert_eq!(field_of(gap.unwrap_err()), "history[1].date");
        let negative = ForecastQuery::try_from(request(vec![day("2022-06-01", -3.0)]));
        assert_eq!(field_of(negative.unwrap_err()), "history[0].order_lines");
        let empty = ForecastQuery::try_from(request(vec![])).expect("no history is valid");
        assert_eq!(empty.last_date(), None);
    }
}
