//! `InsightsService`'s requests: metrics, periods, product rankings, trends.

use super::{page_offset, page_size};
use crate::error::ShopError;
use crate::proto;
use shopml_core::insights::evidence::{Evidence, LEVEL};
use shopml_core::insights::{Dimension, Granularity, Metric, Period};

/// An insights metric of the proto.
pub fn insights_metric(value: i32, field: &str) -> Result<Metric, ShopError> {
    Ok(match proto::Metric::try_from(value) {
        Ok(proto::Metric::Unspecified | proto::Metric::Revenue) => Metric::Revenue,
        Ok(proto::Metric::Units) => Metric::Units,
        Ok(proto::Metric::Orders) => Metric::Orders,
        Ok(proto::Metric::Lines) => Metric::Lines,
        Ok(proto::Metric::AverageOrderValue) => Metric::AverageOrderValue,
        Ok(proto::Metric::CancellationRate) => Metric::CancellationRate,
        Ok(proto::Metric::ReturnRate) => Metric::ReturnRate,
        Ok(proto::Metric::Profit) => Metric::Profit,
        Ok(proto::Metric::Margin) => Metric::Margin,
        Err(_) => return Err(ShopError::invalid(field, format!("unknown value {value}"))),
    })
}

/// The proto value of an insights metric.
pub fn proto_metric(metric: Metric) -> proto::Metric {
    match metric {
        Metric::Revenue => proto::Metric::Revenue,
        Metric::Units => proto::Metric::Units,
        Metric::Orders => proto::Metric::Orders,
        Metric::Lines => proto::Metric::Lines,
        Metric::AverageOrderValue => proto::Metric::AverageOrderValue,
        Metric::CancellationRate => proto::Metric::CancellationRate,
        Metric::ReturnRate => proto::Metric::ReturnRate,
        Metric::Profit => proto::Metric::Profit,
        Metric::Margin => proto::Metric::Margin,
    }
}

/// A period of months; its ends are checked against the data by the core.
pub fn insights_period(period: Option<proto::Period>) -> Period {
    let end = |m: String| {
        let m = m.trim().to_owned();
        (!m.is_empty()).then_some(m)
    };
    let period = period.unwrap_or_default();
    Period { from: end(period.from_month), to: end(period.to_month) }
}

/// An optional name filter: empty means none.
pub fn optional_name(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

/// A page of ranked products; the region and category are matched against the data by the
/// core.
#[derive(Debug, Clone)]
pub struct ProductRankingQuery {
    pub metric: Metric,
    pub ascending: bool,
    pub region: Option<String>,
    pub category: Option<String>,
    pub period: Period,
    pub min_lines: f64,
    pub page_size: usize,
    pub offset: usize,
}

impl TryFrom<proto::RankProductsRequest> for ProductRankingQuery {
    type Error = ShopError;

    fn try_from(request: proto::RankProductsRequest) -> Result<Self, ShopError> {
        let metric = insights_metric(request.metric, "metric")?;
        let min_lines = match request.min_lines {
            0 if metric.is_rate() || metric == Metric::AverageOrderValue => 20.0,
            0 => 1.0,
            n => n as f64,
        };
        Ok(Self {
            metric,
            ascending: request.ascending,
            region: optional_name(&request.region).map(str::to_owned),
            category: optional_name(&request.category).map(str::to_owned),
            period: insights_period(request.period),
            min_lines,
            page_size: page_size(request.page_size)?,
            offset: page_offset(&request.page_token)?,
        })
    }
}

/// A trend of a metric for the whole export, a region or a category.
#[derive(Debug, Clone)]
pub struct TrendQuery {
    pub metric: Metric,
    pub dimension: Dimension,
    pub granularity: Granularity,
    pub period: Period,
}

impl TryFrom<proto::GetTrendRequest> for TrendQuery {
    type Error = ShopError;

    fn try_from(request: proto::GetTrendRequest) -> Result<Self, ShopError> {
        let dimension = match (optional_name(&request.region), optional_name(&request.category)) {
            (Some(_), Some(_)) => {
                return Err(ShopError::invalid(
                    "category",
                    "give a region or a category, not both",
                ));
            }
            (Some(region), None) => Dimension::Region(region.to_owned()),
            (None, Some(category)) => Dimension::Category(category.to_owned()),
            (None, None) => Dimension::Total,
        };
        let granularity = match proto::Granularity::try_from(request.granularity) {
            Ok(proto::Granularity::Day) => Granularity::Day,
            Ok(proto::Granularity::Week) => Granularity::Week,
            Ok(proto::Granularity::Month | proto::Granularity::Unspecified) => Granularity::Month,
            Err(_) => {
                return Err(ShopError::invalid(
                    "granularity",
                    format!("unknown value {}", request.granularity),
                ));
            }
        };
        Ok(Self {
            metric: insights_metric(request.metric, "metric")?,
            dimension,
            granularity,
            period: insights_period(request.period),
        })
    }
}

/// The evidence of a figure, as the proto carries it.
pub fn proto_evidence(e: &Evidence) -> proto::Evidence {
    proto::Evidence {
        figure: e.figure.clone(),
        value: e.value,
        compared_to: e.compared_to.clone(),
        compared_value: e.compared_value,
        population: e.population.clone(),
        size: e.size,
        low: e.low,
        high: e.high,
        method: e.method.clone(),
        level: LEVEL,
        min_size: e.min_size,
        passes: e.passes,
    }
}
