//! `shopml.v1.PredictionService`: cancellation risk, price, sentiment and demand forecasts.

use super::{Served, WorkSlots, answer, reply};
use crate::config::{LimitSettings, ModelSettings};
use crate::convert::prediction::{CheckoutOrder, ForecastQuery, PricedProduct, Review};
use crate::convert::{batch, bounded};
use crate::error::{ShopError, within};
use crate::prediction_log::{LoggedModel, PredictionLog};
use crate::proto;
use crate::registry::ModelRegistry;
use crate::rpc_span;
use futures_util::StreamExt;
use shopml_core::cancellation::{
    CancellationEncoder, CancellationPredictor, EncodedLine, OrderRisk, OrderToScore,
    RiskThresholds,
};
use shopml_core::forecast::{ForecastPlan, Forecaster};
use shopml_core::models::LoadedBundle;
use shopml_core::outcome_rates::{Rate, RateLevel};
use shopml_core::prediction_log::{
    LoggedLine, LoggedOrder, LoggedPrediction, LoggedPrice, LoggedSentiment,
};
use shopml_core::price::PricePredictor;
use shopml_core::sentiment::SentimentPredictor;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

pub struct PredictionApi {
    registry: Arc<ModelRegistry>,
    models: ModelSettings,
    limits: LimitSettings,
    work: WorkSlots,
    log: Option<Arc<PredictionLog>>,
}

impl PredictionApi {
    pub fn new(
        registry: Arc<ModelRegistry>,
        models: ModelSettings,
        limits: LimitSettings,
        work: WorkSlots,
        log: Option<Arc<PredictionLog>>,
    ) -> Self {
        Self { registry, models, limits, work, log }
    }

    /// The caller's `x-request-id`, read only when predictions are logged.
    fn request_id<T>(&self, request: &Request<T>) -> Option<String> {
        self.log.as_ref()?;
        let id = request.metadata().get("x-request-id")?.to_str().ok()?;
        Some(id.to_owned())
    }

    /// The list prices of `products` when this request's prices are logged.
    fn sampled_list_prices(&self, products: &[PricedProduct]) -> Option<Vec<f64>> {
        let log = self.log.as_ref()?;
        log.sampled(LoggedModel::Price)
            .then(|| products.iter().map(|p| p.product.list_price).collect())
    }

    fn log_prices(
        &self,
        request_id: Option<&str>,
        version: &str,
        list_prices: Option<Vec<f64>>,
        predictions: &[proto::PricePrediction],
    ) {
        let (Some(log), Some(list_prices)) = (&self.log, list_prices) else { return };
        for (p, list_price) in predictions.iter().zip(list_prices) {
            let logged = LoggedPrice {
                product_id: p.product_id.clone(),
                list_price,
                currency: p.currency.clone(),
                price: p.price,
                price_p10: p.price_p10,
                price_p90: p.price_p90,
                unseen_inputs: p.unseen_inputs.clone(),
            };
            log.offer(request_id, version, LoggedPrediction::Price(logged));
        }
    }

    fn cancellation_model(&self) -> Result<Served<CancellationPredictor>, ShopError> {
        Served::current(&self.registry, |m| m.cancellation.as_ref())
    }

    fn price_model(&self) -> Result<Served<PricePredictor>, ShopError> {
        Served::current(&self.registry, |m| m.price.as_ref())
    }

    fn sentiment_model(&self) -> Result<Served<SentimentPredictor>, ShopError> {
        Served::current(&self.registry, |m| m.sentiment.as_ref())
    }

    fn forecast_model(&self) -> Result<Served<Forecaster>, ShopError> {
        Served::current(&self.registry, |m| m.forecast.as_ref())
    }

    /// The bundle's risk thresholds unless the configuration overrides them (a negative
    /// setting keeps the bundle's).
    fn thresholds(&self, bundle: RiskThresholds) -> RiskThresholds {
        let m = &self.models;
        let pick = |configured: f64, own: f64| if configured >= 0.0 { configured } else { own };
        RiskThresholds {
            low_below: pick(m.cancellation_risk_low_below, bundle.low_below),
            high_from: pick(m.cancellation_risk_high_from, bundle.high_from),
        }
    }

    /// Scores orders: the explained ones in one pass, those that skip explanations in another.
    /// Every line enters the drift window; a sampled request's orders are logged.
    async fn cancellation(
        &self,
        orders: Vec<CheckoutOrder>,
        request_id: Option<&str>,
    ) -> Result<(Vec<proto::PredictCancellationResponse>, String), ShopError> {
        let served = self.cancellation_model()?;
        for (i, order) in orders.iter().enumerate() {
            order.check_currency(served.currency()).map_err(|e| {
                if orders.len() > 1 { within(&format!("orders[{i}]"), e) } else { e }
            })?;
        }
        let top_reasons = self.models.cancellation_top_reasons;
        let rows_per_explained_line =
            if top_reasons == 0 { 1 } else { served.model().rows_per_explained_line() };
        let thresholds = self.thresholds(served.model().calibration().risk_thresholds);
        let version = served.version().to_owned();
        let rows_of = |o: &CheckoutOrder| {
            o.order.lines.len() * if o.skip_explanations { 1 } else { rows_per_explained_line }
        };
        let log = self.log.as_ref().filter(|log| log.sampled(LoggedModel::Cancellation));
        let logs = log.is_some();
        let answers = self
            .work
            .run(orders, rows_of, move |orders: &[CheckoutOrder]| {
                let model = served.model();
                let inputs: Vec<_> = orders.iter().map(|o| o.inputs(model.encoder())).collect();
                let to_score = orders
                    .iter()
                    .zip(&inputs)
                    .map(|(o, i)| OrderToScore { lines: i.lines(), explain: !o.skip_explanations })
                    .collect();
                // Allocated only when this request is logged (the hot path logs nothing).
                let mut logged: Vec<Option<LoggedOrder>> =
                    if logs { vec![None; orders.len()] } else { Vec::new() };
                let each = |i: usize, encoded: &[EncodedLine], risk: &OrderRisk| {
                    if logs {
                        logged[i] = Some(logged_order(model.encoder(), &orders[i], encoded, risk));
                    }
                };
                let risks = model.score(to_score, top_reasons, thresholds, each);
                let outcome = model.calibration().outcome;
                risks
                    .into_iter()
                    .zip(&inputs)
                    .enumerate()
                    .map(|(i, (risk, input))| {
                        let response =
                            input.response(risk, served.version(), served.currency(), outcome);
                        (response, logged.get_mut(i).and_then(Option::take))
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        let mut responses = Vec::with_capacity(answers.len());
        for (response, logged) in answers {
            self.work
                .cancellation
                .record(Some(response.order_cancel_probability), &response.unseen_inputs);
            if let (Some(log), Some(order)) = (log, logged) {
                log.offer(request_id, &version, LoggedPrediction::Cancellation(order));
            }
            responses.push(response);
        }
        Ok((responses, version))
    }

    async fn price(
        work: &WorkSlots,
        served: Served<PricePredictor>,
        products: Vec<PricedProduct>,
    ) -> Result<Vec<proto::PricePrediction>, ShopError> {
        let predictions = work
            .run(
                products,
                |_| 1,
                move |products: &[PricedProduct]| {
                    let inputs: Vec<_> = products.iter().map(PricedProduct::input).collect();
                    let predictions = served.model().predict_observed(&inputs);
                    let currency = served.currency();
                    predictions
                        .into_iter()
                        .zip(products)
                        .map(|(p, product)| product.response(p, currency))
                        .collect::<Vec<_>>()
                },
            )
            .await?;
        for p in &predictions {
            work.price.record(None, &p.unseen_inputs);
            work.metrics().price_ratio.observe(1.0 - p.implied_discount_pct / 100.0);
        }
        Ok(predictions)
    }

    async fn sentiment(
        &self,
        reviews: Vec<Review>,
        request_id: Option<&str>,
    ) -> Result<(Vec<proto::SentimentResult>, String), ShopError> {
        let served = self.sentiment_model()?;
        let (max_words, top_words) =
            (self.models.sentiment_max_words, self.models.sentiment_top_words);
        // Model rows: each review, and its word occlusions when explained.
        let rows_of = move |r: &Review| {
            shopml_core::sentiment::inference::rows_for(&r.title, &r.text, max_words, top_words)
        };
        let version = served.version().to_owned();
        let results = self
            .work
            .run(reviews, rows_of, move |reviews: &[Review]| {
                let pairs: Vec<(&str, &str)> =
                    reviews.iter().map(|r| (r.title.as_str(), r.text.as_str())).collect();
                let results = served.model().analyze_observed(&pairs, max_words, top_words);
                results.into_iter().map(sentiment_result).collect::<Vec<_>>()
            })
            .await?;
        for r in &results {
            self.work.sentiment.record(Some(r.negative_probability), &[]);
        }
        if let Some(log) = self.log.as_ref().filter(|l| l.sampled(LoggedModel::Sentiment)) {
            for r in &results {
                let logged = LoggedSentiment {
                    negative_probability: r.negative_probability,
                    words_used: r.words_used,
                    words_total: r.words_total,
                };
                log.offer(request_id, &version, LoggedPrediction::Sentiment(logged));
            }
        }
        Ok((results, version))
    }

    async fn forecast(
        &self,
        queries: Vec<ForecastQuery>,
        prefixes: impl Fn(usize) -> Option<String>,
    ) -> Result<(Vec<proto::ForecastDemandResponse>, String), ShopError> {
        let served = self.forecast_model()?;
        let cap = self.models.forecast_horizon_cap();
        let plans = queries
            .iter()
            .enumerate()
            .map(|(i, query)| {
                served.model().plan(&query.ask(), cap).map_err(|e| match prefixes(i) {
                    Some(prefix) => within(&prefix, e.into()),
                    None => e.into(),
                })
            })
            .collect::<Result<Vec<ForecastPlan>, ShopError>>()?;
        let version = served.version().to_owned();
        let recent_levels: Vec<f64> = plans.iter().map(ForecastPlan::recent_level).collect();
        let results = self
            .work
            .run(
                plans,
                |_| 1,
                move |plans: &[ForecastPlan]| {
                    let forecasts = served.model().forecast_plans(plans);
                    forecasts
                        .into_iter()
                        .zip(plans)
                        .map(|(points, plan)| {
                            forecast_response(plan, points, served.version(), served.currency())
                        })
                        .collect()
                },
            )
            .await?;
        for (result, recent) in results.iter().zip(recent_levels) {
            let mean = result.points.iter().map(|p| p.mean).sum::<f64>()
                / result.points.len().max(1) as f64;
            if recent > 0.0 && mean.is_finite() {
                self.work.metrics().forecast_level_ratio.observe(mean / recent);
            }
        }
        Ok((results, version))
    }
}

/// The log record of a scored order: what the model read, encoded, and what it answered.
fn logged_order(
    encoder: &CancellationEncoder,
    order: &CheckoutOrder,
    encoded: &[EncodedLine],
    risk: &OrderRisk,
) -> LoggedOrder {
    let offsets = encoder.field_offsets();
    let (fields, numbers) = (encoder.n_categorical(), encoder.n_numeric());
    LoggedOrder {
        order_id: order.order.order_id.clone(),
        order_date: order.order_date,
        probability: risk.probability,
        lines: order
            .order
            .lines
            .iter()
            .zip(encoded)
            .zip(&risk.lines)
            .map(|((line, enc), line_risk)| LoggedLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                probability: line_risk.probability,
                categorical: enc.categorical[..fields]
                    .iter()
                    .zip(offsets)
                    .map(|(index, offset)| index - offset)
                    .collect(),
                numeric: enc.numeric[..numbers].to_vec(),
            })
            .collect(),
    }
}

fn sentiment_result(r: shopml_core::sentiment::SentimentResult) -> proto::SentimentResult {
    proto::SentimentResult {
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
    }
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
                    measure: s.measure.clone(),
                    country: s.country.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Days of history the forecaster of `bundle` reads (0 without a forecaster).
pub(crate) fn forecast_window_days(bundle: &LoadedBundle) -> u32 {
    bundle.models.forecast.as_ref().map_or(0, |f| f.encoder().window_days as u32)
}

fn forecast_response(
    plan: &ForecastPlan,
    points: Vec<shopml_core::forecast::ForecastPoint>,
    version: &str,
    currency: &str,
) -> proto::ForecastDemandResponse {
    proto::ForecastDemandResponse {
        series: plan.name.clone(),
        origin_date: plan.last_date.to_string(),
        points: points
            .into_iter()
            .map(|p| proto::ForecastPoint {
                date: p.date.to_string(),
                p50: p.p50,
                p10: p.p10,
                p90: p.p90,
                mean: p.mean,
            })
            .collect(),
        bundle_version: version.to_owned(),
        currency: if plan.measure == "revenue" { currency.to_owned() } else { String::new() },
        measure: plan.measure.clone(),
    }
}

/// Products of a stream handled per forward pass (whatever has arrived, up to this many).
const STREAM_CHUNK: usize = 512;

type PriceStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<proto::PredictPriceStreamResponse, Status>> + Send>,
>;

/// A stream item's per-item error (the stream goes on).
fn item_error(request_id: String, error: ShopError) -> proto::PredictPriceStreamResponse {
    proto::PredictPriceStreamResponse {
        request_id,
        result: Some(proto::predict_price_stream_response::Result::Error(proto::ItemError {
            code: crate::error::code_name(error.code()).to_owned(),
            message: error.to_string(),
        })),
        bundle_version: String::new(),
    }
}

/// Answers one chunk of a price stream, in order: per-item errors for invalid items, the rest
/// priced in one pass on the bundle serving now (so a reload mid-stream is picked up).
async fn price_chunk(
    registry: &ModelRegistry,
    work: &WorkSlots,
    chunk: Vec<proto::PredictPriceStreamRequest>,
    limits: &LimitSettings,
) -> Result<Vec<proto::PredictPriceStreamResponse>, ShopError> {
    let served = Served::current(registry, |m| m.price.as_ref())?;
    let mut answers = Vec::with_capacity(chunk.len());
    let mut valid = Vec::new();
    for item in chunk {
        let checked = PricedProduct::required("product", item.product, limits).and_then(|p| {
            p.check_currency(served.currency()).map_err(|e| within("product", e))?;
            Ok(p)
        });
        match checked {
            Ok(product) => {
                answers.push(None);
                valid.push((item.request_id, product));
            }
            Err(error) => answers.push(Some(item_error(item.request_id, error))),
        }
    }
    let version = served.version().to_owned();
    let (ids, products): (Vec<String>, Vec<PricedProduct>) = valid.into_iter().unzip();
    let mut priced = ids.into_iter().zip(PredictionApi::price(work, served, products).await?);
    Ok(answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| {
                let (request_id, prediction) =
                    priced.next().expect("one prediction per valid item");
                proto::PredictPriceStreamResponse {
                    request_id,
                    result: Some(proto::predict_price_stream_response::Result::Prediction(
                        prediction,
                    )),
                    bundle_version: version.clone(),
                }
            })
        })
        .collect())
}

#[tonic::async_trait]
impl proto::prediction_service_server::PredictionService for PredictionApi {
    async fn predict_cancellation(
        &self,
        request: Request<proto::PredictCancellationRequest>,
    ) -> Result<Response<proto::PredictCancellationResponse>, Status> {
        let request_id = self.request_id(&request);
        let order: CheckoutOrder =
            rpc_span!("validate").in_scope(|| bounded(request.into_inner(), &self.limits))?;
        let result = self
            .cancellation(vec![order], request_id.as_deref())
            .instrument(rpc_span!("model"))
            .await;
        answer(result.map(|(mut responses, _)| responses.pop().expect("one response per order")), 1)
    }

    async fn predict_cancellation_batch(
        &self,
        request: Request<proto::PredictCancellationBatchRequest>,
    ) -> Result<Response<proto::PredictCancellationBatchResponse>, Status> {
        let request_id = self.request_id(&request);
        let orders: Vec<CheckoutOrder> = rpc_span!("validate")
            .in_scope(|| batch("orders", request.into_inner().orders, &self.limits))?;
        let items = orders.len();
        let (results, bundle_version) =
            self.cancellation(orders, request_id.as_deref()).instrument(rpc_span!("model")).await?;
        answer(Ok(proto::PredictCancellationBatchResponse { results, bundle_version }), items)
    }

    async fn predict_price(
        &self,
        request: Request<proto::PredictPriceRequest>,
    ) -> Result<Response<proto::PredictPriceResponse>, Status> {
        let request_id = self.request_id(&request);
        let product = rpc_span!("validate").in_scope(|| {
            PricedProduct::required("product", request.into_inner().product, &self.limits)
        })?;
        let served = self.price_model()?;
        product.check_currency(served.currency()).map_err(|e| within("product", e))?;
        let bundle_version = served.version().to_owned();
        let products = vec![product];
        let list_prices = self.sampled_list_prices(&products);
        let mut predictions =
            Self::price(&self.work, served, products).instrument(rpc_span!("model")).await?;
        self.log_prices(request_id.as_deref(), &bundle_version, list_prices, &predictions);
        answer(Ok(proto::PredictPriceResponse { prediction: predictions.pop(), bundle_version }), 1)
    }

    async fn predict_price_batch(
        &self,
        request: Request<proto::PredictPriceBatchRequest>,
    ) -> Result<Response<proto::PredictPriceBatchResponse>, Status> {
        let request_id = self.request_id(&request);
        let products: Vec<PricedProduct> = rpc_span!("validate")
            .in_scope(|| batch("products", request.into_inner().products, &self.limits))?;
        let items = products.len();
        let served = self.price_model()?;
        for (i, product) in products.iter().enumerate() {
            product
                .check_currency(served.currency())
                .map_err(|e| within(&format!("products[{i}]"), e))?;
        }
        let bundle_version = served.version().to_owned();
        let list_prices = self.sampled_list_prices(&products);
        let predictions =
            Self::price(&self.work, served, products).instrument(rpc_span!("model")).await?;
        self.log_prices(request_id.as_deref(), &bundle_version, list_prices, &predictions);
        answer(Ok(proto::PredictPriceBatchResponse { predictions, bundle_version }), items)
    }

    type PredictPriceStreamStream = PriceStream;

    async fn predict_price_stream(
        &self,
        request: Request<tonic::Streaming<proto::PredictPriceStreamRequest>>,
    ) -> Result<Response<Self::PredictPriceStreamStream>, Status> {
        // Fail fast when no price model serves; each chunk then takes the bundle serving.
        self.price_model()?;
        let registry = self.registry.clone();
        let limits = self.limits.clone();
        let work = self.work.clone();
        // A stream lives under the same deadline as a unary call.
        let headers = request.metadata().clone().into_headers();
        let deadline = crate::deadline::call_timeout(&headers, limits.default_timeout())
            .map(|d| tokio::time::Instant::now() + d);
        let (sender, receiver) = tokio::sync::mpsc::channel(STREAM_CHUNK);
        let mut chunks = request.into_inner().ready_chunks(STREAM_CHUNK);
        tokio::spawn(async move {
            loop {
                let next = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, chunks.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            let _ = sender
                                .send(Err(Status::deadline_exceeded(
                                    "the stream's deadline passed",
                                )))
                                .await;
                            return;
                        }
                    },
                    None => chunks.next().await,
                };
                let Some(chunk) = next else { break };
                // An item over the size limit ends the stream as a unary call's would.
                let items: Result<Vec<_>, Status> = chunk
                    .into_iter()
                    .map(|item| item.map_err(crate::error::standard_status))
                    .collect();
                let answers = match items {
                    Ok(items) => {
                        price_chunk(&registry, &work, items, &limits).await.map_err(Status::from)
                    }
                    Err(status) => Err(status),
                };
                match answers {
                    Ok(answers) => {
                        for response in answers {
                            if sender.send(Ok(response)).await.is_err() {
                                return; // the client went away: drop the rest of the work
                            }
                        }
                    }
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn analyze_sentiment(
        &self,
        request: Request<proto::AnalyzeSentimentRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentResponse>, Status> {
        let request_id = self.request_id(&request);
        let review: Review =
            rpc_span!("validate").in_scope(|| bounded(request.into_inner(), &self.limits))?;
        let (mut results, bundle_version) = self
            .sentiment(vec![review], request_id.as_deref())
            .instrument(rpc_span!("model"))
            .await?;
        answer(Ok(proto::AnalyzeSentimentResponse { result: results.pop(), bundle_version }), 1)
    }

    async fn analyze_sentiment_batch(
        &self,
        request: Request<proto::AnalyzeSentimentBatchRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentBatchResponse>, Status> {
        let request_id = self.request_id(&request);
        let reviews: Vec<Review> = rpc_span!("validate")
            .in_scope(|| batch("reviews", request.into_inner().reviews, &self.limits))?;
        let items = reviews.len();
        let (results, bundle_version) =
            self.sentiment(reviews, request_id.as_deref()).instrument(rpc_span!("model")).await?;
        answer(Ok(proto::AnalyzeSentimentBatchResponse { results, bundle_version }), items)
    }

    async fn forecast_demand(
        &self,
        request: Request<proto::ForecastDemandRequest>,
    ) -> Result<Response<proto::ForecastDemandResponse>, Status> {
        let query: ForecastQuery =
            rpc_span!("validate").in_scope(|| bounded(request.into_inner(), &self.limits))?;
        let (mut results, _) =
            self.forecast(vec![query], |_| None).instrument(rpc_span!("model")).await?;
        answer(Ok(results.pop().expect("one forecast per request")), 1)
    }

    async fn forecast_demand_batch(
        &self,
        request: Request<proto::ForecastDemandBatchRequest>,
    ) -> Result<Response<proto::ForecastDemandBatchResponse>, Status> {
        let queries: Vec<ForecastQuery> = rpc_span!("validate")
            .in_scope(|| batch("requests", request.into_inner().requests, &self.limits))?;
        let items = queries.len();
        let (results, bundle_version) = self
            .forecast(queries, |i| Some(format!("requests[{i}]")))
            .instrument(rpc_span!("model"))
            .await?;
        answer(Ok(proto::ForecastDemandBatchResponse { results, bundle_version }), items)
    }

    async fn get_outcome_rates(
        &self,
        request: Request<proto::GetOutcomeRatesRequest>,
    ) -> Result<Response<proto::GetOutcomeRatesResponse>, Status> {
        let request = request.into_inner();
        let served = Served::current(&self.registry, |m| m.outcome_rates.as_ref())?;
        let table = served.model();
        let rate = |key: &str, level: RateLevel, r: &Rate| proto::OutcomeRate {
            key: key.to_owned(),
            level: format!("{level:?}").to_lowercase(),
            lines: r.lines,
            outcome_lines: r.outcomes,
            rate: r.rate,
            rate_low: r.low,
            rate_high: r.high,
        };
        let rates = if request.category.trim().is_empty() && request.product_id.trim().is_empty() {
            let all = table.categories_by_rate().into_iter();
            all.map(|(c, r)| rate(c, RateLevel::Category, r)).collect()
        } else {
            let (found, level) = table.rate(&request.category, &request.product_id);
            let key = match level {
                RateLevel::Product => request.product_id.trim().to_owned(),
                RateLevel::Category => shopml_core::features::normalize_key(&request.category),
                RateLevel::Overall => String::new(),
            };
            vec![rate(&key, level, found)]
        };
        reply(Ok(proto::GetOutcomeRatesResponse {
            outcome: table.outcome.name().to_owned(),
            overall: Some(rate("", RateLevel::Overall, &table.overall)),
            rates,
            interval_level: table.level,
            prior_lines: table.prior_lines,
            bundle_version: served.version().to_owned(),
        }))
    }
}
