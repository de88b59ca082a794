//! `CustomerService`'s requests: horizons, purchase histories, customer lists.

use super::{at_most, page_offset, page_size, same_currency};
use crate::config::LimitSettings;
use crate::error::ShopError;
use crate::proto;
use chrono::NaiveDate;
use shopml_core::features::parse_iso_date;

/// The largest amount of one purchase: far beyond any sale, and sums of a history stay finite.
const MAX_AMOUNT: f64 = 1e12;

// ---------------------------------------------------------------------------------------------
// Customers

/// Longest horizon of customer values.
pub const MAX_HORIZON_DAYS: u32 = 3650;

/// A requested horizon: 0 takes the bundle's, else 1 to [`MAX_HORIZON_DAYS`].
pub fn horizon_days(requested: u32, bundle: u32) -> Result<u32, ShopError> {
    match requested {
        0 => Ok(bundle),
        h if h <= MAX_HORIZON_DAYS => Ok(h),
        h => Err(ShopError::invalid(
            "horizon_days",
            format!("must be 1 to {MAX_HORIZON_DAYS} (0: the bundle's), got {h}"),
        )),
    }
}

/// A purchase history, validated and netted by day.
#[derive(Debug, Clone)]
pub struct CustomerHistoryQuery {
    pub customer_id: String,
    pub record: shopml_core::customer_value::CustomerRecord,
    pub as_of: NaiveDate,
    pub horizon_days: u32,
}

impl CustomerHistoryQuery {
    pub fn parse(
        request: proto::ScoreCustomerHistoryRequest,
        limits: &LimitSettings,
        bundle_currency: &str,
    ) -> Result<Self, ShopError> {
        same_currency("currency", &request.currency, bundle_currency)?;
        at_most(
            "purchases",
            "purchases",
            request.purchases.len(),
            limits.max_history_days,
            "max_history_days",
        )?;
        let as_of = match request.as_of_date.trim() {
            "" => None,
            date => Some(parse_iso_date(date).map_err(|r| ShopError::invalid("as_of_date", r))?),
        };
        let mut days: std::collections::BTreeMap<NaiveDate, (bool, f64)> = Default::default();
        for (i, p) in request.purchases.iter().enumerate() {
            let date = parse_iso_date(&p.date)
                .map_err(|r| ShopError::invalid(format!("purchases[{i}].date"), r))?;
            if let Some(as_of) = as_of
                && date > as_of
            {
                return Err(ShopError::invalid(
                    format!("purchases[{i}].date"),
                    format!("{date} is after as_of_date {as_of}"),
                ));
            }
            if !(p.amount.is_finite() && (0.0..=MAX_AMOUNT).contains(&p.amount)) {
                return Err(ShopError::invalid(
                    format!("purchases[{i}].amount"),
                    format!("must be a number from 0 to {MAX_AMOUNT:e}, got {}", p.amount),
                ));
            }
            let day = days.entry(date).or_default();
            day.0 |= !p.is_return;
            day.1 += if p.is_return { -p.amount } else { p.amount };
        }
        let purchases: Vec<(NaiveDate, f64)> = days
            .into_iter()
            .filter(|(_, (purchase, _))| *purchase)
            .map(|(date, (_, amount))| (date, amount.max(0.0)))
            .collect();
        let record = shopml_core::customer_value::record_of(&purchases).ok_or_else(|| {
            ShopError::invalid("purchases", "at least one purchase that is not a return")
        })?;
        Ok(Self {
            customer_id: request.customer_id,
            as_of: as_of.unwrap_or(record.last_date),
            record,
            horizon_days: request.horizon_days,
        })
    }
}

/// A page of a customer list.
#[derive(Debug, Clone)]
pub struct CustomerListQuery {
    pub by_churn_risk: bool,
    pub segment: Option<String>,
    pub page_size: usize,
    pub offset: usize,
}

impl TryFrom<proto::ListCustomersRequest> for CustomerListQuery {
    type Error = ShopError;

    fn try_from(request: proto::ListCustomersRequest) -> Result<Self, ShopError> {
        let by_churn_risk = match proto::CustomerOrder::try_from(request.order_by) {
            Ok(proto::CustomerOrder::ChurnRisk) => true,
            Ok(_) => false,
            Err(_) => {
                return Err(ShopError::invalid(
                    "order_by",
                    format!("unknown value {}", request.order_by),
                ));
            }
        };
        let page_size = page_size(request.page_size)?;
        let offset = page_offset(&request.page_token)?;
        let segment = request.segment.trim();
        Ok(Self {
            by_churn_risk,
            segment: (!segment.is_empty()).then(|| segment.to_owned()),
            page_size,
            offset,
        })
    }
}
