//! `shopml.v1.PredictionService`: cancellation risk, price, sentiment and demand forecasts.

use super::{check_batch, compute, observed};
use crate::bundle::LoadedBundle;
use crate::cancellation::{CheckoutLine, OrderRisk, RiskBand, RiskThresholds};
use crate::config::{LimitSettings, ModelSettings};
use crate::error::{ShopError, within};
use crate::features::parse_iso_date;
use crate::proto;
use crate::server::registry::ModelRegistry;
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
            low_below: if m.cancellation_risk_low_below >= 0.0 { m.cancellation_risk_low_below } else { bundle.low_below },
            high_from: if m.cancellation_risk_high_from >= 0.0 { m.cancellation_risk_high_from } else { bundle.high_from },
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
        let rows: usize = requests.iter().map(|r| r.order.as_ref().map_or(0, |o| o.lines.len())).sum();
        let top_reasons = self.models.cancellation_top_reasons;
        let thresholds_of = |b: &LoadedBundle| self.thresholds(b.models.cancellation.as_ref().expect("checked").calibration().risk_thresholds);
        let thresholds = thresholds_of(&bundle);
        let worker = bundle.clone();
        let responses = compute(rows * 16, move || {
            let predictor = worker.models.cancellation.as_ref().expect("checked above");
            // Explanations are computed in one pass for the orders that want them, and
            // separately for those that skip them.
            let (explained, plain): (Vec<_>, Vec<_>) = requests.iter().enumerate().partition(|(_, r)| !r.skip_explanations);
            let mut out: Vec<Option<proto::PredictCancellationResponse>> = vec![None; requests.len()];
            for (group, reasons) in [(explained, top_reasons), (plain, 0)] {
                if group.is_empty() {
                    continue;
                }
                let lines: Vec<Vec<CheckoutLine<'_>>> =
                    group.iter().map(|(_, r)| checkout_lines(r.order.as_ref().expect("validated"))).collect();
                let risks = predictor.predict(&lines, reasons, thresholds);
                for ((index, request), risk) in group.into_iter().zip(risks) {
                    out[index] = Some(order_response(request.order.as_ref().expect("validated"), risk, worker.version()));
                }
            }
            out.into_iter().map(|r| r.expect("every order answered")).collect::<Vec<_>>()
        })
        .await?;
        Ok((responses, bundle))
    }
}

/// Checks an order, naming the offending field.
fn validate_order(order: Option<&proto::Order>) -> Result<(), ShopError> {
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

/// The model input of each line of a validated order.
fn checkout_lines(order: &proto::Order) -> Vec<CheckoutLine<'_>> {
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

fn order_response(order: &proto::Order, risk: OrderRisk, version: &str) -> proto::PredictCancellationResponse {
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

/// The demand series the forecaster of `bundle` knows.
pub(crate) fn forecast_catalogue(_bundle: &LoadedBundle) -> Vec<proto::ForecastSeries> {
    Vec::new()
}

/// Days of history the forecaster of `bundle` reads (0 without a forecaster).
pub(crate) fn forecast_window_days(_bundle: &LoadedBundle) -> u32 {
    0
}

type PriceStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::PredictPriceStreamResponse, Status>> + Send>>;

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
            Ok(proto::PredictCancellationBatchResponse { results, bundle_version: bundle.version().to_owned() })
        })
        .await
    }

    async fn predict_price(&self, _request: Request<proto::PredictPriceRequest>) -> Result<Response<proto::PredictPriceResponse>, Status> {
        Err(ShopError::ModelUnavailable("price").into())
    }

    async fn predict_price_batch(
        &self,
        _request: Request<proto::PredictPriceBatchRequest>,
    ) -> Result<Response<proto::PredictPriceBatchResponse>, Status> {
        Err(ShopError::ModelUnavailable("price").into())
    }

    type PredictPriceStreamStream = PriceStream;

    async fn predict_price_stream(
        &self,
        _request: Request<tonic::Streaming<proto::PredictPriceStreamRequest>>,
    ) -> Result<Response<Self::PredictPriceStreamStream>, Status> {
        Err(ShopError::ModelUnavailable("price").into())
    }

    async fn analyze_sentiment(
        &self,
        _request: Request<proto::AnalyzeSentimentRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentResponse>, Status> {
        Err(ShopError::ModelUnavailable("sentiment").into())
    }

    async fn analyze_sentiment_batch(
        &self,
        _request: Request<proto::AnalyzeSentimentBatchRequest>,
    ) -> Result<Response<proto::AnalyzeSentimentBatchResponse>, Status> {
        Err(ShopError::ModelUnavailable("sentiment").into())
    }

    async fn forecast_demand(
        &self,
        _request: Request<proto::ForecastDemandRequest>,
    ) -> Result<Response<proto::ForecastDemandResponse>, Status> {
        Err(ShopError::ModelUnavailable("forecast").into())
    }

    async fn forecast_demand_batch(
        &self,
        _request: Request<proto::ForecastDemandBatchRequest>,
    ) -> Result<Response<proto::ForecastDemandBatchResponse>, Status> {
        Err(ShopError::ModelUnavailable("forecast").into())
    }
}
