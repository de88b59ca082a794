//! `shopml.v1.PredictionService`: cancellation risk, price, sentiment and demand forecasts.

use super::{check_batch, compute, observed};
use crate::bundle::LoadedBundle;
use crate::cancellation::{CheckoutLine, OrderRisk, RiskBand, RiskThresholds};
use crate::config::{LimitSettings, ModelSettings};
use crate::error::{ShopError, within};
use crate::features::parse_iso_date;
use crate::forecast::{ForecastRequest, SeriesHistory};
use crate::price::{PricePrediction, ProductInput};
use crate::proto;
use crate::server::registry::ModelRegistry;
use chrono::{Duration, NaiveDate};
use futures_util::StreamExt;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct PredictionApi {
    registry: Arc<ModelRegistry>,
    models: ModelSettings,
    limits: LimitSettings,
}

impl PredictionApi {
    pub fn new(registry: Arc<ModelRegistry>, models: ModelSettings, limits: LimitSettings) -> Self {
        Self { registry, models, limits }
    }

    fn thresholds(&self, bundle: RiskThresholds) -> RiskThresholds {
        let m = &self.models;
        RiskThresholds {
            low_below: if m.cancellation_risk_low_below >= 0.0 {
                m.cancellation_risk_low_below
            } else {
                bundle.low_below
            },
            high_from: if m.cancellation_risk_high_from >= 0.0 {
                m.cancellation_risk_high_from
            } else {
                bundle.high_from
            },
        }
    }

    /// Validates and scores orders; `requests[i]` is reported as `prefix[i]` in errors.
    async fn cancellation(
        &self,
        requests: Vec<proto::PredictCancellationRequest>,
        prefix: Option<&'static str>,
    ) -> Result<(Vec<proto::PredictCancellationResponse>, Arc<LoadedBundle>), ShopError> {
        let bundle = self.registry.current()?;
        if bundle.models.cancellation.is_none() {
            return Err(ShopError::ModelUnavailable("cancellation"));
        }
        for (i, request) in requests.iter().enumerate() {
            validate_order(request.order.as_ref()).map_err(|e| match prefix {
                Some(p) => within(&format!("{p}[{i}]"), e),
                None => e,
            })?;
        }
        let top_reasons = self.models.cancellation_top_reasons;
        // Model rows: each line, and its occlusions when explained.
        let rows: usize = requests
            .iter()
            .map(|r| {
                r.order.as_ref().map_or(0, |o| o.lines.len())
                    * if r.skip_explanations || top_reasons == 0 {
                        1
                    } else {
                        crate::cancellation::inference::ROWS_PER_EXPLAINED_LINE
                    }
            })
            .sum();
        let thresholds = self.thresholds(
            bundle
                .models
                .cancellation
                .as_ref()
                .expect("checked above")
                .calibration()
                .risk_thresholds,
        );
        let worker = bundle.clone();
        let responses = compute(rows, move || {
            let predictor = worker.models.cancellation.as_ref().expect("checked above");
            // Explanations are computed in one pass for the orders that want them, and
            // separately for those that skip them.
            let (explained, plain): (Vec<_>, Vec<_>) =
                requests.iter().enumerate().partition(|(_, r)| !r.skip_explanations);
            let mut out: Vec<Option<proto::PredictCancellationResponse>> =
                vec![None; requests.len()];
            for (group, reasons) in [(explained, top_reasons), (plain, 0)] {
                if group.is_empty() {
                    continue;
                }
                let lines: Vec<Vec<CheckoutLine<'_>>> = group
                    .iter()
                    .map(|(_, r)| checkout_lines(r.order.as_ref().expect("validated")))
                    .collect();
                let risks = predictor.predict(&lines, reasons, thresholds);
                for ((index, request), risk) in group.into_iter().zip(risks) {
                    out[index] = Some(order_response(
                        request.order.as_ref().expect("validated"),
                        risk,
                        worker.version(),
                    ));
                }
            }
            out.into_iter().map(|r| r.expect("every order answered")).collect::<Vec<_>>()
        })
        .await?;
        Ok((responses, bundle))
    }
}

/// Checks an order, naming the offending field.
pub fn validate_order(order: Option<&proto::Order>) -> Result<(), ShopError> {
    let order = order.ok_or_else(|| ShopError::invalid("order", "required"))?;
    parse_iso_date(&order.order_date).map_err(|r| ShopError::invalid("order.order_date", r))?;
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
    Ok(())
}

/// The model input of each line of a validated order: what serving encodes (training encodes
/// the same `CheckoutLine` built from an export row).
pub fn checkout_lines(order: &proto::Order) -> Vec<CheckoutLine<'_>> {
    let order_date = parse_iso_date(&order.order_date).expect("validated");
    order
        .lines
        .iter()
        .map(|line| CheckoutLine {
            order_date,
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

fn band(band: RiskBand) -> i32 {
    (match band {
        RiskBand::Low => proto::RiskBand::Low,
        RiskBand::Medium => proto::RiskBand::Medium,
        RiskBand::High => proto::RiskBand::High,
    }) as i32
}

fn order_response(
    order: &proto::Order,
    risk: OrderRisk,
    version: &str,
) -> proto::PredictCancellationResponse {
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

// ---------------------------------------------------------------------------------------------
// Price

/// Checks a product, naming the offending field under `prefix` (e.g. "product").
pub fn validate_product(product: Option<&proto::Product>, prefix: &str) -> Result<(), ShopError> {
    let p = product.ok_or_else(|| ShopError::invalid(prefix, "required"))?;
    if !(p.list_price_inr.is_finite() && p.list_price_inr > 0.0) {
        return Err(ShopError::invalid(
            format!("{prefix}.list_price_inr"),
            format!("must be a finite number > 0, got {}", p.list_price_inr),
        ));
    }
    if let Some(rating) = p.rating
        && !(rating.is_finite() && (0.0..=5.0).contains(&rating))
    {
        return Err(ShopError::invalid(
            format!("{prefix}.rating"),
            format!("must be between 0 and 5, got {rating}"),
        ));
    }
    if let Some(count) = p.rating_count
        && count < 0
    {
        return Err(ShopError::invalid(
            format!("{prefix}.rating_count"),
            format!("must be >= 0, got {count}"),
        ));
    }
    if p.name.trim().is_empty() && p.category_path.trim().is_empty() {
        return Err(ShopError::invalid(
            format!("{prefix}.name"),
            "name and category_path may not both be empty",
        ));
    }
    Ok(())
}

/// The model input of a validated product (what serving encodes).
pub fn product_input(p: &proto::Product) -> ProductInput<'_> {
    ProductInput {
        name: &p.name,
        category_path: &p.category_path,
        list_price_inr: p.list_price_inr,
        rating: p.rating,
        rating_count: p.rating_count.map(|c| c as f64),
    }
}

fn price_prediction(product: &proto::Product, p: PricePrediction) -> proto::PricePrediction {
    proto::PricePrediction {
        product_id: product.product_id.clone(),
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

/// Predictions for validated products, in one forward pass.
async fn price_products(
    bundle: Arc<LoadedBundle>,
    products: Vec<proto::Product>,
) -> Result<Vec<proto::PricePrediction>, ShopError> {
    if bundle.models.price.is_none() {
        return Err(ShopError::ModelUnavailable("price"));
    }
    compute(products.len(), move || {
        let predictor = bundle.models.price.as_ref().expect("checked above");
        let inputs: Vec<ProductInput<'_>> = products.iter().map(product_input).collect();
        predictor
            .predict(&inputs)
            .into_iter()
            .zip(&products)
            .map(|(p, product)| price_prediction(product, p))
            .collect()
    })
    .await
}

/// Products of a stream handled per forward pass (whatever has arrived, up to this many).
const STREAM_CHUNK: usize = 512;

// ---------------------------------------------------------------------------------------------
// Sentiment

/// Checks a review, naming the offending field under `prefix` ("" for a single review).
pub fn validate_review(
    review: &proto::AnalyzeSentimentRequest,
    prefix: &str,
) -> Result<(), ShopError> {
    if review.text.trim().is_empty() {
        let field = if prefix.is_empty() { "text".to_owned() } else { format!("{prefix}.text") };
        return Err(ShopError::invalid(field, "required (not empty)"));
    }
    Ok(())
}

async fn analyze(
    bundle: Arc<LoadedBundle>,
    reviews: Vec<proto::AnalyzeSentimentRequest>,
    max_words: usize,
    top_words: usize,
) -> Result<Vec<proto::SentimentResult>, ShopError> {
    if bundle.models.sentiment.is_none() {
        return Err(ShopError::ModelUnavailable("sentiment"));
    }
    // Model rows: each review, and its word occlusions when explained.
    let rows = reviews
        .iter()
        .map(|r| crate::sentiment::inference::rows_for(&r.title, &r.text, max_words, top_words))
        .sum();
    compute(rows, move || {
        let predictor = bundle.models.sentiment.as_ref().expect("checked above");
        let pairs: Vec<(&str, &str)> =
            reviews.iter().map(|r| (r.title.as_str(), r.text.as_str())).collect();
        predictor
            .analyze(&pairs, max_words, top_words)
            .into_iter()
            .map(|r| proto::SentimentResult {
                label: if r.negative {
                    proto::SentimentLabel::Negative
                } else {
                    proto::SentimentLabel::Positive
                } as i32,
                negative_probability: r.negative_probability,
                top_words: r
                    .top_words
                    .into_iter()
                    .map(|(word, effect)| proto::Reason {
                        feature: "word".into(),
                        value: word,
                        logit_effect: effect,
                    })
                    .collect(),
                truncated: r.stats.truncated(),
                words_used: r.stats.words_used as u32,
                words_total: r.stats.words_total as u32,
            })
            .collect()
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Forecast

/// The demand series the forecaster of `bundle` knows.
pub(crate) fn forecast_catalogue(bundle: &LoadedBundle) -> Vec<proto::ForecastSeries> {
    bundle
        .models
        .forecast
        .as_ref()
        .map(|f| {
            f.series()
                .iter()
                .map(|s| proto::ForecastSeries {
                    series: s.name.clone(),
                    category: s.category.clone(),
                    region: s.region.clone(),
                    last_date: s.last_date().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Days of history the forecaster of `bundle` reads (0 without a forecaster).
pub(crate) fn forecast_window_days(bundle: &LoadedBundle) -> u32 {
    bundle.models.forecast.as_ref().map_or(0, |f| f.encoder().window_days as u32)
}

/// A validated forecast request: the series, its history ending at `last_date`, the horizon.
struct PlannedForecast {
    series: usize,
    name: String,
    history: Vec<f64>,
    last_date: NaiveDate,
    horizon_days: usize,
}

/// Validates a request and merges its history into the stored one, naming fields under
/// `prefix` ("" for a single request).
fn plan_forecast(
    bundle: &LoadedBundle,
    request: &proto::ForecastDemandRequest,
    prefix: &str,
    max_horizon: usize,
) -> Result<PlannedForecast, ShopError> {
    let field =
        |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
    let forecaster =
        bundle.models.forecast.as_ref().ok_or(ShopError::ModelUnavailable("forecast"))?;
    let max_horizon = max_horizon.min(forecaster.encoder().horizon_days);
    let horizon = request.horizon_days as usize;
    if horizon == 0 || horizon > max_horizon {
        return Err(ShopError::invalid(
            field("horizon_days"),
            format!("must be 1 to {max_horizon}, got {horizon}"),
        ));
    }
    let Some(index) = forecaster.find(&request.category, &request.region) else {
        let known: Vec<&str> = forecaster.series().iter().map(|s| s.name.as_str()).collect();
        return Err(ShopError::not_found(
            "series",
            format!(
                "{} (known: {})",
                SeriesHistory::name_of(&request.category, &request.region),
                known.join(", ")
            ),
        ));
    };
    let stored = &forecaster.series()[index];
    let mut dates = Vec::with_capacity(request.history.len());
    for (i, day) in request.history.iter().enumerate() {
        let date = crate::features::parse_iso_date(&day.date)
            .map_err(|r| ShopError::invalid(field(&format!("history[{i}].date")), r))?;
        if !(day.order_lines.is_finite() && day.order_lines >= 0.0) {
            return Err(ShopError::invalid(
                field(&format!("history[{i}].order_lines")),
                format!("must be a finite number >= 0, got {}", day.order_lines),
            ));
        }
        if let Some(&previous) = dates.last()
            && date != previous + Duration::days(1)
        {
            return Err(ShopError::invalid(
                field(&format!("history[{i}].date")),
                format!("dates must be consecutive and in order: {date} follows {previous}"),
            ));
        }
        dates.push(date);
    }
    let (history, last_date) = match (dates.first(), dates.last()) {
        (Some(&first), Some(&last)) => {
            if first > stored.last_date() + Duration::days(1) {
                return Err(ShopError::invalid(
                    field("history[0].date"),
                    format!(
                        "{first} leaves a gap after the stored history, which ends {}",
                        stored.last_date()
                    ),
                ));
            }
            // Stored days before the request's first day, then the request's days.
            let keep = (first - stored.first_date).num_days().clamp(0, stored.values.len() as i64)
                as usize;
            let mut merged = stored.values[..keep].to_vec();
            merged.extend(request.history.iter().map(|d| d.order_lines));
            (merged, last)
        }
        _ => (stored.values.clone(), stored.last_date()),
    };
    let window = forecaster.encoder().window_days;
    if history.len() < window {
        return Err(ShopError::invalid(
            field("history"),
            format!("{} days known; the model reads the last {window}", history.len()),
        ));
    }
    Ok(PlannedForecast {
        series: index,
        name: stored.name.clone(),
        history,
        last_date,
        horizon_days: horizon,
    })
}

async fn forecast(
    bundle: Arc<LoadedBundle>,
    plans: Vec<PlannedForecast>,
) -> Result<Vec<proto::ForecastDemandResponse>, ShopError> {
    compute(plans.len(), move || {
        let forecaster = bundle.models.forecast.as_ref().expect("checked by plan_forecast");
        let requests: Vec<ForecastRequest<'_>> = plans
            .iter()
            .map(|p| ForecastRequest {
                series: p.series,
                history: &p.history,
                last_date: p.last_date,
                horizon_days: p.horizon_days,
            })
            .collect();
        forecaster
            .forecast(&requests)
            .into_iter()
            .zip(&plans)
            .map(|(points, plan)| proto::ForecastDemandResponse {
                series: plan.name.clone(),
                origin_date: plan.last_date.to_string(),
                points: points
                    .into_iter()
                    .map(|p| proto::ForecastPoint {
                        date: p.date.to_string(),
                        order_lines_p50: p.p50,
                        order_lines_p10: p.p10,
                        order_lines_p90: p.p90,
                    })
                    .collect(),
                bundle_version: bundle.version().to_owned(),
            })
            .collect()
    })
    .await
}

type PriceStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<proto::PredictPriceStreamResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl proto::prediction_service_server::PredictionService for PredictionApi {
    async fn predict_cancellation(
        &self,
        request: Request<proto::PredictCancellationRequest>,
    ) -> Result<Response<proto::PredictCancellationResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "PredictCancellation", Some(1), async {
            let (mut responses, _) = self.cancellation(vec![request.into_inner()], None).await?;
            Ok(responses.pop().expect("one response per order"))
        })
        .await
    }

    async fn predict_cancellation_batch(
        &self,
        request: Request<proto::PredictCancellationBatchRequest>,
    ) -> Result<Response<proto::PredictCancellationBatchResponse>, Status> {
        let orders = request.into_inner().orders;
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "PredictCancellationBatch", Some(orders.len()), async {
            check_batch("orders", orders.len(), self.limits.max_batch_size)?;
            let (results, bundle) = self.cancellation(orders, Some("orders")).await?;
            Ok(proto::PredictCancellationBatchResponse {
                results,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn predict_price(
        &self,
        request: Request<proto::PredictPriceRequest>,
    ) -> Result<Response<proto::PredictPriceResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "PredictPrice", Some(1), async {
            let product = request.into_inner().product;
            validate_product(product.as_ref(), "product")?;
            let bundle = self.registry.current()?;
            let mut predictions =
                price_products(bundle.clone(), vec![product.expect("validated")]).await?;
            Ok(proto::PredictPriceResponse {
                prediction: predictions.pop(),
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn predict_price_batch(
        &self,
        request: Request<proto::PredictPriceBatchRequest>,
    ) -> Result<Response<proto::PredictPriceBatchResponse>, Status> {
        let products = request.into_inner().products;
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "PredictPriceBatch", Some(products.len()), async {
            check_batch("products", products.len(), self.limits.max_batch_size)?;
            for (i, p) in products.iter().enumerate() {
                validate_product(Some(p), &format!("products[{i}]"))?;
            }
            let bundle = self.registry.current()?;
            let predictions = price_products(bundle.clone(), products).await?;
            Ok(proto::PredictPriceBatchResponse {
                predictions,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    type PredictPriceStreamStream = PriceStream;

    async fn predict_price_stream(
        &self,
        request: Request<tonic::Streaming<proto::PredictPriceStreamRequest>>,
    ) -> Result<Response<Self::PredictPriceStreamStream>, Status> {
        // Fail fast when no price model serves; afterwards each chunk uses the bundle serving
        // when it is scored, so a reload mid-stream is picked up.
        let bundle = self.registry.current().map_err(Status::from)?;
        if bundle.models.price.is_none() {
            return Err(ShopError::ModelUnavailable("price").into());
        }
        let registry = self.registry.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel::<
            Result<proto::PredictPriceStreamResponse, Status>,
        >(STREAM_CHUNK);
        let mut chunks = request.into_inner().ready_chunks(STREAM_CHUNK);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut items = 0usize;
            while let Some(chunk) = chunks.next().await {
                let mut valid = Vec::new();
                let mut answers: Vec<Option<proto::PredictPriceStreamResponse>> =
                    Vec::with_capacity(chunk.len());
                for item in chunk {
                    let item = match item {
                        Ok(item) => item,
                        Err(status) => {
                            let _ = sender.send(Err(status)).await;
                            return;
                        }
                    };
                    match validate_product(item.product.as_ref(), "product") {
                        Ok(()) => {
                            answers.push(None);
                            valid.push(item);
                        }
                        Err(error) => answers.push(Some(proto::PredictPriceStreamResponse {
                            request_id: item.request_id,
                            result: Some(proto::predict_price_stream_response::Result::Error(
                                proto::ItemError {
                                    code: crate::error::code_name(error.code()).to_owned(),
                                    message: error.to_string(),
                                },
                            )),
                            bundle_version: String::new(),
                        })),
                    }
                }
                items += answers.len();
                let scored = match registry.current() {
                    Ok(bundle) => {
                        let version = bundle.version().to_owned();
                        let ids: Vec<String> = valid.iter().map(|v| v.request_id.clone()).collect();
                        let products: Vec<proto::Product> =
                            valid.into_iter().map(|v| v.product.expect("validated")).collect();
                        price_products(bundle, products).await.map(|p| (ids, p, version))
                    }
                    Err(e) => Err(e),
                };
                let (ids, predictions, version) = match scored {
                    Ok(scored) => scored,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let mut scored = ids.into_iter().zip(predictions);
                for answer in answers {
                    let response = answer.unwrap_or_else(|| {
                        let (request_id, prediction) =
                            scored.next().expect("one prediction per valid item");
                        proto::PredictPriceStreamResponse {
                            request_id,
                            result: Some(proto::predict_price_stream_response::Result::Prediction(
                                prediction,
                            )),
                            bundle_version: version.clone(),
                        }
                    });
                    if sender.send(Ok(response)).await.is_err() {
                        return; // the client went away: drop the rest of the work
                    }
                }
            }
            registry.metrics().observe(
                "PredictPriceStream",
                tonic::Code::Ok,
                started.elapsed(),
                Some(items),
            );
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn analyze_sentiment(
        &self,
        request: Request<proto::AnalyzeSentimentRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "AnalyzeSentiment", Some(1), async {
            let review = request.into_inner();
            validate_review(&review, "")?;
            let bundle = self.registry.current()?;
            let mut results = analyze(
                bundle.clone(),
                vec![review],
                self.models.sentiment_max_words,
                self.models.sentiment_top_words,
            )
            .await?;
            Ok(proto::AnalyzeSentimentResponse {
                result: results.pop(),
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn analyze_sentiment_batch(
        &self,
        request: Request<proto::AnalyzeSentimentBatchRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentBatchResponse>, Status> {
        let reviews = request.into_inner().reviews;
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "AnalyzeSentimentBatch", Some(reviews.len()), async {
            check_batch("reviews", reviews.len(), self.limits.max_batch_size)?;
            for (i, review) in reviews.iter().enumerate() {
                validate_review(review, &format!("reviews[{i}]"))?;
            }
            let bundle = self.registry.current()?;
            let results = analyze(
                bundle.clone(),
                reviews,
                self.models.sentiment_max_words,
                self.models.sentiment_top_words,
            )
            .await?;
            Ok(proto::AnalyzeSentimentBatchResponse {
                results,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn forecast_demand(
        &self,
        request: Request<proto::ForecastDemandRequest>,
    ) -> Result<Response<proto::ForecastDemandResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "ForecastDemand", Some(1), async {
            let bundle = self.registry.current()?;
            let plan = plan_forecast(
                &bundle,
                &request.into_inner(),
                "",
                self.models.forecast_max_horizon_days as usize,
            )?;
            let mut results = forecast(bundle, vec![plan]).await?;
            Ok(results.pop().expect("one forecast per request"))
        })
        .await
    }

    async fn forecast_demand_batch(
        &self,
        request: Request<proto::ForecastDemandBatchRequest>,
    ) -> Result<Response<proto::ForecastDemandBatchResponse>, Status> {
        let requests = request.into_inner().requests;
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "ForecastDemandBatch", Some(requests.len()), async {
            check_batch("requests", requests.len(), self.limits.max_batch_size)?;
            let bundle = self.registry.current()?;
            let max = self.models.forecast_max_horizon_days as usize;
            let plans = requests
                .iter()
                .enumerate()
                .map(|(i, r)| plan_forecast(&bundle, r, &format!("requests[{i}]"), max))
                .collect::<Result<Vec<_>, _>>()?;
            let results = forecast(bundle.clone(), plans).await?;
            Ok(proto::ForecastDemandBatchResponse {
                results,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }
}
