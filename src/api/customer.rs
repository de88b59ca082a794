//! `shopml.v1.CustomerService`: customer value, churn risk and ranked customer lists.

use super::{Served, reply};
use crate::config::LimitSettings;
use crate::convert::customer::{CustomerHistoryQuery, CustomerListQuery, horizon_days};
use crate::convert::required_id;
use crate::error::ShopError;
use crate::proto;
use crate::registry::ModelRegistry;
use shopml_core::customer_value::{CustomerValue, CustomerValuePredictor};
use shopml_core::features::echo;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct CustomerApi {
    registry: Arc<ModelRegistry>,
    limits: LimitSettings,
}

/// A customer's value as the proto writes it.
fn value(
    customer_id: &str,
    v: &CustomerValue,
    horizon_days: u32,
    as_of: chrono::NaiveDate,
    currency: &str,
) -> proto::CustomerValue {
    proto::CustomerValue {
        customer_id: customer_id.to_owned(),
        p_alive: v.p_alive,
        churn_risk: v.churn_risk,
        churn_window_days: v.churn_window_days,
        expected_purchases: v.expected_purchases,
        expected_spend_per_purchase: v.expected_spend_per_purchase,
        expected_spend: v.expected_spend,
        lifetime_value: v.lifetime_value,
        horizon_days,
        rfm: Some(proto::RfmScores {
            recency: v.rfm.recency as u32,
            frequency: v.rfm.frequency as u32,
            monetary: v.rfm.monetary as u32,
        }),
        segment: v.segment.to_owned(),
        recency_days: v.recency_days.max(0) as u32,
        tenure_days: v.tenure_days.max(0) as u32,
        purchase_days: v.purchase_days,
        total_amount: v.total_amount,
        currency: currency.to_owned(),
        as_of_date: as_of.to_string(),
    }
}

impl CustomerApi {
    pub fn new(registry: Arc<ModelRegistry>, limits: LimitSettings) -> Self {
        Self { registry, limits }
    }

    fn model(&self) -> Result<Served<CustomerValuePredictor>, ShopError> {
        Served::current(&self.registry, |m| m.customer_value.as_ref())
    }

    fn get(
        &self,
        request: proto::GetCustomerValueRequest,
    ) -> Result<proto::GetCustomerValueResponse, ShopError> {
        let id = required_id("customer_id", &request.customer_id)?;
        let served = self.model()?;
        let predictor = served.model();
        let horizon = horizon_days(request.horizon_days, predictor.model.horizon_days)?;
        let customer =
            predictor.customer(&id).ok_or_else(|| ShopError::not_found("customer", echo(&id)))?;
        let v = predictor.value(customer, horizon);
        Ok(proto::GetCustomerValueResponse {
            value: Some(value(&customer.id, &v, horizon, predictor.model.as_of, served.currency())),
            bundle_version: served.version().to_owned(),
        })
    }

    fn score(
        &self,
        request: proto::ScoreCustomerHistoryRequest,
    ) -> Result<proto::ScoreCustomerHistoryResponse, ShopError> {
        let served = self.model()?;
        let predictor = served.model();
        let query = CustomerHistoryQuery::parse(request, &self.limits, served.currency())?;
        let horizon = horizon_days(query.horizon_days, predictor.model.horizon_days)?;
        let v = predictor.value_of_history(&query.record, query.as_of, horizon);
        Ok(proto::ScoreCustomerHistoryResponse {
            value: Some(value(&query.customer_id, &v, horizon, query.as_of, served.currency())),
            bundle_version: served.version().to_owned(),
        })
    }

    fn list(
        &self,
        request: proto::ListCustomersRequest,
    ) -> Result<proto::ListCustomersResponse, ShopError> {
        let query = CustomerListQuery::try_from(request)?;
        let served = self.model()?;
        let predictor = served.model();
        let order =
            if query.by_churn_risk { &predictor.by_churn_risk } else { &predictor.by_value };
        let matching: Vec<usize> = match &query.segment {
            None => order.clone(),
            Some(segment) => {
                if !shopml_core::customer_value::SEGMENT_RULES.iter().any(|(s, _)| s == segment) {
                    let known: Vec<&str> =
                        shopml_core::customer_value::SEGMENT_RULES.iter().map(|s| s.0).collect();
                    return Err(ShopError::invalid(
                        "segment",
                        format!("{}; one of {}", echo(segment), known.join(", ")),
                    ));
                }
                order
                    .iter()
                    .copied()
                    .filter(|&i| predictor.known[i].value.segment == segment.as_str())
                    .collect()
            }
        };
        let page: Vec<proto::CustomerValue> = matching
            .iter()
            .skip(query.offset)
            .take(query.page_size)
            .map(|&i| {
                let c = &predictor.known[i];
                value(
                    &c.id,
                    &c.value,
                    predictor.model.horizon_days,
                    predictor.model.as_of,
                    served.currency(),
                )
            })
            .collect();
        let next = query.offset + page.len();
        Ok(proto::ListCustomersResponse {
            customers: page,
            next_page_token: crate::convert::next_page_token(next, matching.len()),
            total: matching.len() as u32,
            bundle_version: served.version().to_owned(),
        })
    }
}

#[tonic::async_trait]
impl proto::customer_service_server::CustomerService for CustomerApi {
    async fn get_customer_value(
        &self,
        request: Request<proto::GetCustomerValueRequest>,
    ) -> Result<Response<proto::GetCustomerValueResponse>, Status> {
        reply(self.get(request.into_inner()))
    }

    async fn score_customer_history(
        &self,
        request: Request<proto::ScoreCustomerHistoryRequest>,
    ) -> Result<Response<proto::ScoreCustomerHistoryResponse>, Status> {
        reply(self.score(request.into_inner()))
    }

    async fn list_customers(
        &self,
        request: Request<proto::ListCustomersRequest>,
    ) -> Result<Response<proto::ListCustomersResponse>, Status> {
        reply(self.list(request.into_inner()))
    }
}
