//! `shopml.v1.InsightsService`: the export's aggregates for analysts, from the bundle serving.

use super::{Served, reply};
use crate::convert::insights::{
    ProductRankingQuery, TrendQuery, optional_name, proto_evidence, proto_metric,
};
use crate::convert::{next_page_token, page, required_id};
use crate::error::ShopError;
use crate::proto;
use crate::registry::ModelRegistry;
use shopml_core::customer_value::RegionCustomers;
use shopml_core::insights::{Insights, Metric, Recommendation, Totals, tables};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Recommendations an overview carries.
const OVERVIEW_RECOMMENDATIONS: usize = 10;

pub struct InsightsApi {
    registry: Arc<ModelRegistry>,
}

fn totals(t: &Totals, has_profit: bool) -> proto::Totals {
    proto::Totals {
        revenue: t.revenue,
        units: t.units,
        orders: t.orders,
        lines: t.lines,
        average_order_value: t.average_order_value(),
        cancellation_rate: t.cancellation_rate(),
        return_rate: t.return_rate(),
        profit: if has_profit { t.profit } else { 0.0 },
        margin: if has_profit { t.margin() } else { 0.0 },
        has_profit,
    }
}

fn recommendation(r: &Recommendation) -> proto::Recommendation {
    proto::Recommendation {
        rule: r.rule.clone(),
        region: r.region.clone(),
        text: r.text.clone(),
        figures: r.figures.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        weight: r.weight,
        evidence: Some(proto_evidence(&r.evidence)),
    }
}

fn named_totals(rows: &[(String, Totals)], has_profit: bool) -> Vec<proto::NamedTotals> {
    rows.iter()
        .map(|(name, t)| proto::NamedTotals {
            name: name.clone(),
            totals: Some(totals(t, has_profit)),
        })
        .collect()
}

/// Totals by hour or month of the year (`first` is the first period's number), those with
/// lines.
fn periods(rows: &[Totals], first: u32, has_profit: bool) -> Vec<proto::PeriodFigures> {
    rows.iter()
        .zip(first..)
        .filter(|(t, _)| t.lines > 0.0)
        .map(|(t, period)| proto::PeriodFigures { period, totals: Some(totals(t, has_profit)) })
        .collect()
}

fn groups(insights: &Insights, groups: Vec<(String, Totals)>) -> Vec<proto::Group> {
    let all = insights.total.revenue;
    groups
        .into_iter()
        .map(|(name, t)| proto::Group {
            revenue_share: if all != 0.0 { t.revenue / all } else { 0.0 },
            totals: Some(totals(&t, insights.capabilities.profit)),
            name,
        })
        .collect()
}

fn region_customers(c: &RegionCustomers) -> proto::RegionCustomers {
    proto::RegionCustomers {
        customers: c.customers as u32,
        returning_customers: c.returning as u32,
        new_customers_last_90_days: c.new_last_90_days as u32,
        repeat_rate: c.repeat_rate(),
        purchase_days_per_customer: c.purchase_days_per_customer(),
        amount_per_customer: c.amount_per_customer(),
        mean_lifetime_value: c.mean_lifetime_value(),
        segments: c.segments.iter().map(|(k, v)| (k.to_string(), *v as u32)).collect(),
    }
}

/// Profit and margin only where the export has them.
fn check_metric(insights: &Insights, metric: Metric) -> Result<(), ShopError> {
    if matches!(metric, Metric::Profit | Metric::Margin) && !insights.capabilities.profit {
        return Err(ShopError::invalid(
            "metric",
            format!("{} needs profit or cost, which this export has not", metric.name()),
        ));
    }
    Ok(())
}

impl InsightsApi {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }

    fn insights(&self) -> Result<Served<Insights>, ShopError> {
        Served::current(&self.registry, |m| m.insights.as_ref())
    }

    fn overview(&self) -> Result<proto::GetOverviewResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let c = &ins.capabilities;
        Ok(proto::GetOverviewResponse {
            total: Some(totals(&ins.total, c.profit)),
            distinct_customers: ins.distinct_customers as u64,
            first_date: ins.first_date.to_string(),
            last_date: ins.last_date.to_string(),
            region_level: ins.region_level.clone(),
            regions: groups(ins, ins.regions()),
            categories: groups(ins, ins.categories()),
            months: groups(ins, ins.months()),
            recommendations: ins
                .recommendations_for(None)
                .into_iter()
                .take(OVERVIEW_RECOMMENDATIONS)
                .map(recommendation)
                .collect(),
            capabilities: Some(proto::Capabilities {
                regions: c.regions,
                categories: c.categories,
                products: c.products,
                profit: c.profit,
                cancellations: c.cancellations,
                returns: c.returns,
                customers: c.customers,
                hours: c.hours,
                promotions: c.promotions,
                delivery: c.delivery,
                ship_dates: c.ship_dates,
                demographics: c.demographics,
            }),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn region_profile(
        &self,
        request: proto::GetRegionProfileRequest,
    ) -> Result<proto::GetRegionProfileResponse, ShopError> {
        let region = required_id("region", &request.region)?;
        let served = self.insights()?;
        let ins = served.model();
        let profit = ins.capabilities.profit;
        let profile = ins.region_profile(&region)?;
        Ok(proto::GetRegionProfileResponse {
            totals: Some(totals(&profile.totals, profit)),
            revenue_share: profile.revenue_share,
            categories: profile
                .categories
                .iter()
                .map(|(category, t, region_share, national_share, index)| proto::CategoryShare {
                    category: category.clone(),
                    totals: Some(totals(t, profit)),
                    region_share: *region_share,
                    national_share: *national_share,
                    index: *index,
                })
                .collect(),
            months: groups(ins, profile.months),
            recommendations: profile.recommendations.iter().map(recommendation).collect(),
            customers: served
                .siblings()
                .customer_value
                .as_ref()
                .and_then(|cv| cv.regions.get(&profile.region))
                .map(region_customers),
            region: profile.region,
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn rank_products(
        &self,
        request: proto::RankProductsRequest,
    ) -> Result<proto::RankProductsResponse, ShopError> {
        let query = ProductRankingQuery::try_from(request)?;
        let served = self.insights()?;
        let ins = served.model();
        check_metric(ins, query.metric)?;
        let region = query.region.as_deref().map(|r| ins.find_region(r)).transpose()?;
        let category = query.category.as_deref().map(|c| ins.find_category(c)).transpose()?;
        ins.check_period(&query.period)?;
        let (page, count) = ins.rank_products(
            query.metric,
            query.ascending,
            region.as_deref(),
            category.as_deref(),
            &query.period,
            query.min_lines,
            query.offset,
            query.page_size,
        );
        let next = query.offset + page.len();
        let profit = ins.capabilities.profit;
        Ok(proto::RankProductsResponse {
            products: page
                .iter()
                .enumerate()
                .map(|(i, p)| proto::RankedProduct {
                    rank: (query.offset + i + 1) as u32,
                    product_id: p.product.id.clone(),
                    name: p.product.name.clone(),
                    category: p.product.category.clone(),
                    value: p.value,
                    totals: Some(totals(&p.totals, profit)),
                })
                .collect(),
            total_count: count as u64,
            next_page_token: next_page_token(next, count),
            metric: proto_metric(query.metric).into(),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn trend(&self, request: proto::GetTrendRequest) -> Result<proto::GetTrendResponse, ShopError> {
        let query = TrendQuery::try_from(request)?;
        let served = self.insights()?;
        let ins = served.model();
        check_metric(ins, query.metric)?;
        let series = ins.series_key(&query.dimension)?;
        let points = ins.trend(query.metric, &query.dimension, query.granularity, &query.period)?;
        let profit = ins.capabilities.profit;
        let mut previous: Option<f64> = None;
        let points = points
            .iter()
            .map(|(start, t, value)| {
                let change = match previous {
                    Some(p) if p != 0.0 => (value - p) / p.abs(),
                    _ => 0.0,
                };
                previous = Some(*value);
                proto::TrendPoint {
                    period_start: start.to_string(),
                    value: *value,
                    totals: Some(totals(t, profit)),
                    change,
                    partial: ins.is_partial(query.granularity, *start),
                }
            })
            .collect();
        Ok(proto::GetTrendResponse {
            points,
            metric: proto_metric(query.metric).into(),
            granularity: match query.granularity {
                shopml_core::insights::Granularity::Day => proto::Granularity::Day,
                shopml_core::insights::Granularity::Week => proto::Granularity::Week,
                shopml_core::insights::Granularity::Month => proto::Granularity::Month,
            }
            .into(),
            series,
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn recommendations(
        &self,
        request: proto::ListRecommendationsRequest,
    ) -> Result<proto::ListRecommendationsResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let region = optional_name(&request.region).map(|r| ins.find_region(r)).transpose()?;
        Ok(proto::ListRecommendationsResponse {
            recommendations: ins
                .recommendations_for(region.as_deref())
                .into_iter()
                .map(recommendation)
                .collect(),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }
}

impl InsightsApi {
    fn time_patterns(&self) -> Result<proto::GetTimePatternsResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let profit = ins.capabilities.profit;
        Ok(proto::GetTimePatternsResponse {
            weekdays: tables::weekdays(ins)
                .iter()
                .map(|row| proto::WeekdayFigures {
                    weekday: row.weekday,
                    name: tables::WEEKDAYS[row.weekday as usize].to_owned(),
                    totals: Some(totals(&row.totals, profit)),
                    closed: row.closed,
                    evidence: row.evidence.as_ref().map(proto_evidence),
                })
                .collect(),
            hours: periods(&ins.hours, 0, profit),
            months_of_year: periods(&ins.calendar_months, 1, profit),
            peak_days: ins
                .peaks
                .iter()
                .map(|p| proto::PeakDay {
                    date: p.date.to_string(),
                    revenue: p.revenue,
                    ratio_to_mean: p.ratio_to_mean,
                    holiday: p.holiday.clone().unwrap_or_default(),
                })
                .collect(),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn promotions(&self) -> Result<proto::GetPromotionsResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let promotion = ins.promotion.as_ref().ok_or(ShopError::NotInExport("promotions"))?;
        let profit = ins.capabilities.profit;
        Ok(proto::GetPromotionsResponse {
            with_promotion: Some(totals(&promotion.with_promotion, profit)),
            without_promotion: Some(totals(&promotion.without_promotion, profit)),
            kept_order_value: tables::promotion_evidence(ins).as_ref().map(proto_evidence),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn delivery(&self) -> Result<proto::GetDeliveryResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let delivery = ins.delivery.as_ref().ok_or(ShopError::NotInExport("delivery"))?;
        let profit = ins.capabilities.profit;
        Ok(proto::GetDeliveryResponse {
            by_status: named_totals(&delivery.by_status, profit),
            by_ship_mode: named_totals(&delivery.by_ship_mode, profit),
            days_to_ship: delivery
                .days_to_ship
                .iter()
                .map(|(mode, mean, median, p90, lines)| proto::ShipModeDays {
                    ship_mode: mode.clone(),
                    mean_days: *mean,
                    median_days: *median,
                    p90_days: *p90,
                    lines: *lines as u64,
                    evidence: tables::ship_mode_evidence(ins, mode).as_ref().map(proto_evidence),
                })
                .collect(),
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn demographics(&self) -> Result<proto::GetDemographicsResponse, ShopError> {
        let served = self.insights()?;
        let ins = served.model();
        let attributes = ins
            .demographics
            .iter()
            .map(|(attribute, groups)| {
                let everyone = tables::pooled(groups);
                proto::DemographicAttribute {
                    attribute: attribute.clone(),
                    groups: groups
                        .iter()
                        .map(|(name, g)| proto::DemographicGroup {
                            name: name.clone(),
                            customers: g.customers as u64,
                            orders: g.orders,
                            amount: g.amount,
                            amount_per_customer: Some(proto_evidence(&tables::group_evidence(
                                attribute, name, g, &everyone,
                            ))),
                        })
                        .collect(),
                    conflicting_customers: ins
                        .demographic_conflicts
                        .get(attribute)
                        .copied()
                        .unwrap_or_default() as u64,
                }
            })
            .collect();
        Ok(proto::GetDemographicsResponse {
            attributes,
            currency: served.currency().to_owned(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn attribute_rules(
        &self,
        request: proto::ListAttributeRulesRequest,
    ) -> Result<proto::ListAttributeRulesResponse, ShopError> {
        let (offset, size) = page(request.page_size, &request.page_token)?;
        let served = self.insights()?;
        let rules = &served.model().attribute_rules;
        let end = offset.saturating_add(size).min(rules.len());
        let shown = &rules[offset.min(end)..end];
        Ok(proto::ListAttributeRulesResponse {
            rules: shown
                .iter()
                .map(|r| proto::AttributeRule {
                    antecedent: r.antecedent.clone(),
                    consequent: r.consequent.clone(),
                    support: r.support,
                    confidence: r.confidence,
                    lift: r.lift,
                    lines: r.count as u64,
                    evidence: Some(proto_evidence(&tables::rule_evidence(r))),
                })
                .collect(),
            total_count: rules.len() as u64,
            next_page_token: next_page_token(end, rules.len()),
            bundle_version: served.version().to_owned(),
        })
    }
}

#[tonic::async_trait]
impl proto::insights_service_server::InsightsService for InsightsApi {
    async fn get_time_patterns(
        &self,
        _request: Request<proto::GetTimePatternsRequest>,
    ) -> Result<Response<proto::GetTimePatternsResponse>, Status> {
        reply(self.time_patterns())
    }

    async fn get_promotions(
        &self,
        _request: Request<proto::GetPromotionsRequest>,
    ) -> Result<Response<proto::GetPromotionsResponse>, Status> {
        reply(self.promotions())
    }

    async fn get_delivery(
        &self,
        _request: Request<proto::GetDeliveryRequest>,
    ) -> Result<Response<proto::GetDeliveryResponse>, Status> {
        reply(self.delivery())
    }

    async fn get_demographics(
        &self,
        _request: Request<proto::GetDemographicsRequest>,
    ) -> Result<Response<proto::GetDemographicsResponse>, Status> {
        reply(self.demographics())
    }

    async fn list_attribute_rules(
        &self,
        request: Request<proto::ListAttributeRulesRequest>,
    ) -> Result<Response<proto::ListAttributeRulesResponse>, Status> {
        reply(self.attribute_rules(request.into_inner()))
    }

    async fn get_overview(
        &self,
        _request: Request<proto::GetOverviewRequest>,
    ) -> Result<Response<proto::GetOverviewResponse>, Status> {
        reply(self.overview())
    }

    async fn get_region_profile(
        &self,
        request: Request<proto::GetRegionProfileRequest>,
    ) -> Result<Response<proto::GetRegionProfileResponse>, Status> {
        reply(self.region_profile(request.into_inner()))
    }

    async fn rank_products(
        &self,
        request: Request<proto::RankProductsRequest>,
    ) -> Result<Response<proto::RankProductsResponse>, Status> {
        reply(self.rank_products(request.into_inner()))
    }

    async fn get_trend(
        &self,
        request: Request<proto::GetTrendRequest>,
    ) -> Result<Response<proto::GetTrendResponse>, Status> {
        reply(self.trend(request.into_inner()))
    }

    async fn list_recommendations(
        &self,
        request: Request<proto::ListRecommendationsRequest>,
    ) -> Result<Response<proto::ListRecommendationsResponse>, Status> {
        reply(self.recommendations(request.into_inner()))
    }
}
