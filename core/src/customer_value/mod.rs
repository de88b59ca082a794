//! Customer value: RFM scores and named segments from rules a reader can check, the expected
//! purchases and the probability of being active (BG/NBD or MBG/NBD), the spend per purchase
//! (Gamma-Gamma), and the lifetime value over a horizon — for every customer of the export at
//! its end, and for any customer given a purchase history.

pub mod churn;
pub mod metrics;

use crate::served::{Figure, ServedModel};
pub use churn::{ChurnCalibration, ChurnRanking};
pub use metrics::{
    ChurnCandidate, ChurnValidation, CovariateTest, CustomerValueMetrics, FittedPurchases,
    HoldoutFigures, SegmentFigures,
};

pub mod model;

pub use model::{PurchaseModel, PurchaseModelKind, Rft, SpendModel, lifetime_value};

use crate::bundle::{BundleError, BundleWriter, read_json};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The model's name in a bundle's manifest.
pub const NAME: &str = "customer_value";
pub const MODEL_FILE: &str = "customer_value/model.json";
pub const CUSTOMERS_FILE: &str = "customer_value/customers.json";

/// A customer's purchases as the export shows them: purchase days (a day's lines, returns
/// netted, are one purchase) and amounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    /// Purchase days, the first included.
    pub purchase_days: u32,
    /// Net amount of all purchases.
    pub total_amount: f64,
    /// Mean net amount of the repeat purchases (the Gamma-Gamma input); `None` without one.
    #[serde(default)]
    pub repeat_mean_amount: Option<f64>,
    /// The region of the first purchase (the export's state, region or country; empty where
    /// it has none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
}

impl CustomerRecord {
    /// The history in the models' terms, as of `as_of`.
    pub fn rft(&self, as_of: NaiveDate) -> Rft {
        let weeks = |from: NaiveDate, to: NaiveDate| (to - from).num_days() as f64 / 7.0;
        Rft {
            x: self.purchase_days.saturating_sub(1) as f64,
            t_x: weeks(self.first_date, self.last_date),
            t: weeks(self.first_date, as_of),
        }
    }

    /// Mean net amount per purchase day.
    pub fn mean_amount(&self) -> f64 {
        self.total_amount / self.purchase_days.max(1) as f64
    }
}

/// Quintile cut points of recency (days since the last purchase), frequency (purchase days)
/// and monetary value (mean amount per purchase day) over the export's customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmThresholds {
    pub recency_days: [f64; 4],
    pub frequency: [f64; 4],
    pub monetary: [f64; 4],
}

/// RFM scores, 1 (worst) to 5 (best): recent, frequent, high-spending customers score high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScores {
    pub recency: u8,
    pub frequency: u8,
    pub monetary: u8,
}

impl RfmThresholds {
    /// Cut points at the 20th, 40th, 60th and 80th percentiles of each measure.
    pub fn fit(records: &[CustomerRecord], as_of: NaiveDate) -> Self {
        let cuts = |mut values: Vec<f64>| -> [f64; 4] {
            values.sort_by(f64::total_cmp);
            let at = |q: f64| {
                if values.is_empty() {
                    return 0.0;
                }
                values[((values.len() - 1) as f64 * q).round() as usize]
            };
            [at(0.2), at(0.4), at(0.6), at(0.8)]
        };
        Self {
            recency_days: cuts(
                records.iter().map(|r| (as_of - r.last_date).num_days() as f64).collect(),
            ),
            frequency: cuts(records.iter().map(|r| r.purchase_days as f64).collect()),
            monetary: cuts(records.iter().map(CustomerRecord::mean_amount).collect()),
        }
    }

    pub fn score(&self, record: &CustomerRecord, as_of: NaiveDate) -> RfmScores {
        // 1 + the cut points the value is above (recency: below, fewer days is better).
        let above = |cuts: &[f64; 4], v: f64| 1 + cuts.iter().filter(|c| v > **c).count() as u8;
        let recency = (as_of - record.last_date).num_days() as f64;
        RfmScores {
            recency: 5 - (above(&self.recency_days, recency) - 1),
            frequency: above(&self.frequency, record.purchase_days as f64),
            monetary: above(&self.monetary, record.mean_amount()),
        }
    }
}

/// Named customer segments, by rules on the RFM scores (the first rule that holds names it).
pub const SEGMENT_RULES: [(&str, &str); 8] = [
    ("champions", "recency >= 4 and frequency >= 4"),
    ("loyal", "recency >= 3 and frequency >= 3"),
    ("new", "recency >= 4 and a single purchase"),
    ("promising", "recency >= 4"),
    ("at_risk", "recency <= 2 and frequency >= 3"),
    ("hibernating", "recency = 2"),
    ("lost", "recency = 1"),
    ("need_attention", "any other (recency 3, frequency <= 2)"),
];

/// The segment of a customer's scores (see [`SEGMENT_RULES`]).
pub fn segment_of(scores: RfmScores, purchase_days: u32) -> &'static str {
    let (r, f) = (scores.recency, scores.frequency);
    if r >= 4 && f >= 4 {
        "champions"
    } else if r >= 3 && f >= 3 {
        "loyal"
    } else if r >= 4 && purchase_days <= 1 {
        "new"
    } else if r >= 4 {
        "promising"
    } else if r <= 2 && f >= 3 {
        "at_risk"
    } else if r == 2 {
        "hibernating"
    } else if r == 1 {
        "lost"
    } else {
        "need_attention"
    }
}

/// The model file: the fitted models and what values are computed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerValueModel {
    /// ISO 4217 code of the amounts.
    pub currency: String,
    /// The end of the export: known customers' values are as of this day.
    pub as_of: NaiveDate,
    /// The model of the number of purchases served (chosen on the inner split of the
    /// calibration period, see metrics.json).
    pub purchases: PurchaseModel,
    /// Spend per purchase; `None` when too few customers bought twice.
    pub spend: Option<SpendModel>,
    /// Default horizon of expected purchases and lifetime value.
    pub horizon_days: u32,
    /// Discount rate a month of the lifetime value.
    pub monthly_discount: f64,
    pub rfm: RfmThresholds,
    /// The served churn risk; `None` (bundles before it): 1 − P(alive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnCalibration>,
}

impl CustomerValueModel {
    /// Validation at load: usable parameters, a positive horizon, a discount in [0, 1).
    pub fn validated(self) -> Result<Self, String> {
        if !self.purchases.is_valid() {
            return Err(format!("purchase model parameters {:?} are not all > 0", self.purchases));
        }
        if let Some(spend) = &self.spend
            && !spend.is_valid()
        {
            return Err(format!("spend parameters {spend:?}: need p, γ > 0 and q > 1"));
        }
        if let Some(churn) = &self.churn
            && !churn.is_valid()
        {
            return Err("churn steps must be finite, increasing, with risks in [0, 1]".into());
        }
        if self.horizon_days == 0 || !(0.0..1.0).contains(&self.monthly_discount) {
            return Err("horizon_days > 0 and monthly_discount in [0, 1)".into());
        }
        Ok(self)
    }
}

/// A customer's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerValue {
    pub p_alive: f64,
    /// Probability of no purchase in the churn window (see [`ChurnCalibration`]).
    pub churn_risk: f64,
    /// The churn window in days; 0: `churn_risk` is 1 − P(alive).
    pub churn_window_days: u32,
    /// Expected purchases (purchase days) over the horizon.
    pub expected_purchases: f64,
    /// Expected amount of a purchase.
    pub expected_spend_per_purchase: f64,
    /// Expected purchases × spend over the horizon (undiscounted).
    pub expected_spend: f64,
    /// Discounted expected spend over the horizon.
    pub lifetime_value: f64,
    pub rfm: RfmScores,
    pub segment: &'static str,
    pub recency_days: i64,
    pub tenure_days: i64,
    pub purchase_days: u32,
    pub total_amount: f64,
}

/// The customers of a region: those whose first purchase was there (each counted once).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionCustomers {
    pub customers: usize,
    /// Customers with at least two purchase days.
    pub returning: usize,
    /// Customers whose first purchase falls in the last 90 days to the model's `as_of`.
    pub new_last_90_days: usize,
    pub purchase_days: u64,
    /// Net amount of their purchases (wherever made).
    pub total_amount: f64,
    /// Sum of their lifetime values at the model's horizon.
    pub lifetime_value: f64,
    /// Customers per segment.
    pub segments: BTreeMap<&'static str, usize>,
}

impl RegionCustomers {
    /// Adds another region's customers (each customer is in one region).
    pub fn add(&mut self, other: &RegionCustomers) {
        self.customers += other.customers;
        self.returning += other.returning;
        self.new_last_90_days += other.new_last_90_days;
        self.purchase_days += other.purchase_days;
        self.total_amount += other.total_amount;
        self.lifetime_value += other.lifetime_value;
        for (segment, n) in &other.segments {
            *self.segments.entry(segment).or_default() += n;
        }
    }

    fn per_customer(&self, total: f64) -> f64 {
        if self.customers == 0 { 0.0 } else { total / self.customers as f64 }
    }

    pub fn repeat_rate(&self) -> f64 {
        self.per_customer(self.returning as f64)
    }

    pub fn purchase_days_per_customer(&self) -> f64 {
        self.per_customer(self.purchase_days as f64)
    }

    pub fn amount_per_customer(&self) -> f64 {
        self.per_customer(self.total_amount)
    }

    pub fn mean_lifetime_value(&self) -> f64 {
        self.per_customer(self.lifetime_value)
    }
}

/// A known customer's value at the default horizon, computed once at load.
#[derive(Debug, Clone)]
pub struct KnownCustomer {
    pub id: String,
    pub record: CustomerRecord,
    pub value: CustomerValue,
}

/// Everything customer RPCs need.
pub struct CustomerValuePredictor {
    pub model: CustomerValueModel,
    /// Known customers, by id.
    customers: BTreeMap<String, usize>,
    pub known: Vec<KnownCustomer>,
    /// Customers by lifetime value, highest first; and by churn risk, highest first (indices
    /// into `known`).
    pub by_value: Vec<usize>,
    pub by_churn_risk: Vec<usize>,
    /// Customers by the region of their first purchase (empty for exports without one).
    pub regions: BTreeMap<String, RegionCustomers>,
}

impl CustomerValuePredictor {
    pub fn new(model: CustomerValueModel, records: BTreeMap<String, CustomerRecord>) -> Self {
        let known: Vec<KnownCustomer> = records
            .into_iter()
            .map(|(id, record)| {
                let value = value_of(&model, &record, model.as_of, model.horizon_days);
                KnownCustomer { id, record, value }
            })
            .collect();
        let customers = known.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        let order = |key: &dyn Fn(&CustomerValue) -> f64| {
            let mut order: Vec<usize> = (0..known.len()).collect();
            order.sort_by(|&a, &b| {
                key(&known[b].value).total_cmp(&key(&known[a].value)).then(a.cmp(&b))
            });
            order
        };
        let by_value = order(&|v| v.lifetime_value);
        let by_churn_risk = order(&|v| v.churn_risk);
        let regions = region_customers(&known, model.as_of);
        Self { model, customers, known, by_value, by_churn_risk, regions }
    }

    pub fn customer(&self, id: &str) -> Option<&KnownCustomer> {
        self.customers.get(id.trim()).map(|&i| &self.known[i])
    }

    /// A known customer's value over `horizon_days` (the precomputed one at the default).
    pub fn value(&self, customer: &KnownCustomer, horizon_days: u32) -> CustomerValue {
        if horizon_days == self.model.horizon_days {
            return customer.value.clone();
        }
        value_of(&self.model, &customer.record, self.model.as_of, horizon_days)
    }

    /// The value of a customer known only by a purchase history (netted by day), as of
    /// `as_of`.
    pub fn value_of_history(
        &self,
        record: &CustomerRecord,
        as_of: NaiveDate,
        horizon_days: u32,
    ) -> CustomerValue {
        value_of(&self.model, record, as_of, horizon_days)
    }

    pub fn warm_up(&self) {
        if let Some(first) = self.known.first() {
            let _ = self.value(first, self.model.horizon_days + 1);
        }
    }
}

fn region_customers(
    known: &[KnownCustomer],
    as_of: NaiveDate,
) -> BTreeMap<String, RegionCustomers> {
    let mut regions: BTreeMap<String, RegionCustomers> = BTreeMap::new();
    for c in known.iter().filter(|c| !c.record.region.is_empty()) {
        let r = regions.entry(c.record.region.clone()).or_default();
        r.customers += 1;
        r.returning += (c.record.purchase_days >= 2) as usize;
        r.new_last_90_days += ((as_of - c.record.first_date).num_days() < 90) as usize;
        r.purchase_days += c.record.purchase_days as u64;
        r.total_amount += c.record.total_amount;
        r.lifetime_value += c.value.lifetime_value;
        *r.segments.entry(c.value.segment).or_default() += 1;
    }
    regions
}

/// The record of a purchase history: `days` are (day, net amount) of purchase days, in any
/// order, at least one.
pub fn record_of(days: &[(NaiveDate, f64)]) -> Option<CustomerRecord> {
    let mut days: Vec<(NaiveDate, f64)> = days.to_vec();
    days.sort_by_key(|d| d.0);
    let (first, last) = (days.first()?.0, days.last()?.0);
    let repeat: Vec<f64> = days[1..].iter().map(|d| d.1).collect();
    let repeat_mean =
        (!repeat.is_empty()).then(|| repeat.iter().sum::<f64>() / repeat.len() as f64);
    Some(CustomerRecord {
        first_date: first,
        last_date: last,
        purchase_days: days.len() as u32,
        total_amount: days.iter().map(|d| d.1).sum(),
        repeat_mean_amount: repeat_mean.filter(|m| *m > 0.0),
        region: String::new(),
    })
}

fn value_of(
    model: &CustomerValueModel,
    record: &CustomerRecord,
    as_of: NaiveDate,
    horizon_days: u32,
) -> CustomerValue {
    let history = record.rft(as_of);
    let weeks = horizon_days as f64 / 7.0;
    let expected_purchases = model.purchases.expected_purchases(history, weeks);
    let spend = match (&model.spend, record.repeat_mean_amount) {
        (Some(spend), Some(mean)) => spend.expected_spend(history.x, mean),
        (Some(spend), None) => spend.expected_spend(0.0, 0.0),
        // Without a spend model: the customer's own mean amount.
        (None, _) => record.mean_amount(),
    };
    let months = (horizon_days as f64 / 30.44).ceil().max(1.0) as u32;
    let lifetime_value = if horizon_days as f64 >= 30.44 {
        lifetime_value(&model.purchases, history, spend, months, model.monthly_discount)
    } else {
        expected_purchases * spend / (1.0 + model.monthly_discount)
    };
    let scores = model.rfm.score(record, as_of);
    let p_alive = model.purchases.p_alive(history);
    CustomerValue {
        p_alive,
        churn_risk: match &model.churn {
            Some(churn) => churn.risk(&model.purchases, history),
            None => 1.0 - p_alive,
        },
        churn_window_days: model
            .churn
            .as_ref()
            .map_or(0, |c| (c.window_weeks * 7.0).round() as u32),
        expected_purchases,
        expected_spend_per_purchase: spend,
        expected_spend: expected_purchases * spend,
        lifetime_value,
        rfm: scores,
        segment: segment_of(scores, record.purchase_days),
        recency_days: (as_of - record.last_date).num_days(),
        tenure_days: (as_of - record.first_date).num_days(),
        purchase_days: record.purchase_days,
        total_amount: record.total_amount,
    }
}

pub fn save(
    writer: &mut BundleWriter,
    model: &CustomerValueModel,
    customers: &BTreeMap<String, CustomerRecord>,
    config: serde_json::Value,
) -> Result<(), BundleError> {
    writer.write_json(MODEL_FILE, model)?;
    writer.write_json(CUSTOMERS_FILE, customers)?;
    writer.add_model(NAME, config, &[MODEL_FILE, CUSTOMERS_FILE]);
    Ok(())
}

pub fn load(dir: &Path) -> Result<CustomerValuePredictor, BundleError> {
    let model: CustomerValueModel = read_json(dir, MODEL_FILE)?;
    let model = model
        .validated()
        .map_err(|reason| BundleError::incompatible(dir.join(MODEL_FILE), reason))?;
    let customers: BTreeMap<String, CustomerRecord> = read_json(dir, CUSTOMERS_FILE)?;
    if customers.is_empty() {
        return Err(BundleError::incompatible(dir.join(CUSTOMERS_FILE), "holds no customer"));
    }
    if let Some((id, _)) = customers.iter().find(|(_, r)| {
        r.purchase_days == 0 || r.last_date < r.first_date || r.last_date > model.as_of
    }) {
        return Err(BundleError::incompatible(
            dir.join(CUSTOMERS_FILE),
            format!("customer {id}: purchase days and dates disagree with the model's as_of"),
        ));
    }
    Ok(CustomerValuePredictor::new(model, customers))
}

/// The customer-value section of metrics.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerValueSections {
    pub customer_value: CustomerValueMetrics,
}

impl crate::served::ModelMetrics for CustomerValueSections {
    fn figures(&self) -> Vec<Figure> {
        self.customer_value.figures("customer_value")
    }
}

impl ServedModel for CustomerValuePredictor {
    const NAME: &'static str = NAME;
    type Metrics = CustomerValueSections;

    fn load(dir: &Path, _device: &burn::tensor::Device) -> Result<Self, BundleError> {
        load(dir)
    }

    fn warm_up(&self) {
        CustomerValuePredictor::warm_up(self)
    }

    fn describe(&self, currency: &str) -> String {
        format!(
            "each customer's probability of still being active, expected purchases and lifetime value ({:?}, Gamma-Gamma spend), RFM scores and segment, in {currency}",
            self.model.purchases.kind
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(d as i64)
    }

    #[test]
    fn scores_segments_and_values_follow_the_rules() {
        let records: Vec<CustomerRecord> = (0..50)
            .map(|i| {
                record_of(
                    &(0..=i % 7)
                        .map(|k| (day(i * 3 + k * 10), 20.0 + i as f64))
                        .collect::<Vec<_>>(),
                )
                .unwrap()
            })
            .collect();
        let as_of = day(250);
        let rfm = RfmThresholds::fit(&records, as_of);
        let model = CustomerValueModel {
            currency: "USD".into(),
            as_of,
            purchases: PurchaseModel {
                kind: PurchaseModelKind::BgNbd,
                r: 0.25,
                alpha: 4.5,
                a: 0.8,
                b: 2.5,
            },
            spend: Some(SpendModel { p: 6.0, q: 3.8, gamma: 15.0 }),
            horizon_days: 365,
            monthly_discount: 0.01,
            rfm,
            churn: None,
        }
        .validated()
        .unwrap();
        let customers: BTreeMap<String, CustomerRecord> =
            records.iter().enumerate().map(|(i, r)| (format!("c{i:02}"), r.clone())).collect();
        let predictor = CustomerValuePredictor::new(model, customers);
        // The most recent, most frequent customer is a champion; ranks are sorted.
        let best = predictor.customer("c48").unwrap();
        assert_eq!(best.value.segment, "champions", "{:?}", best.value.rfm);
        let values: Vec<f64> =
            predictor.by_value.iter().map(|&i| predictor.known[i].value.lifetime_value).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        // A longer horizon is worth more; a history of one purchase is a new customer.
        let first = &predictor.known[0];
        assert!(predictor.value(first, 730).lifetime_value > first.value.lifetime_value);
        let single = record_of(&[(day(245), 30.0)]).unwrap();
        let value = predictor.value_of_history(&single, as_of, 365);
        assert_eq!((value.segment, value.purchase_days, value.p_alive), ("new", 1, 1.0));
        assert!(value.expected_purchases > 0.0 && value.lifetime_value > 0.0);
        for (name, _) in SEGMENT_RULES {
            assert!(!name.is_empty());
        }
    }
}
