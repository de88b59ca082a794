//! Insights for analysts, computed by training from the order-line export (and the customer
//! file when there is one) and saved in the bundle: totals by region × category × month and by
//! day, products per region and month, weekday, hour and month patterns, peak days, the effect
//! of promotions, delivery, demographics, rules on attributes, and recommendations — each a
//! sentence from an explicit rule, with the figures it rests on. The queries the RPCs and the
//! dashboard answer are here too, so both read the same numbers.

pub use crate::query::QueryError;
use crate::served::ServedModel;
pub use evidence::{Evidence, Sample};

pub mod evidence;
pub mod html;
pub mod tables;

use crate::bundle::{BundleError, BundleWriter, read_json};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The insights' name in a bundle's manifest.
pub const NAME: &str = "insights";
pub const FILE: &str = "insights/insights.json";

/// Sums over a set of order lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Net revenue: lines not cancelled, returns and credit notes netted.
    pub revenue: f64,
    /// Net units.
    pub units: f64,
    /// Orders: each counts once in all; a group holding part of an order's lines counts that
    /// share of it, so every grouping adds up.
    pub orders: f64,
    pub lines: f64,
    pub cancelled_lines: f64,
    /// Lines returned (by status, or matched to a later credit note).
    pub returned_lines: f64,
    /// Profit (exports with cost or profit).
    pub profit: f64,
    /// Σ revenue² of the lines: what the intervals of shares and changes of revenue read.
    #[serde(default)]
    pub revenue_sq: f64,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.revenue_sq += other.revenue_sq;
        self.revenue += other.revenue;
        self.units += other.units;
        self.orders += other.orders;
        self.lines += other.lines;
        self.cancelled_lines += other.cancelled_lines;
        self.returned_lines += other.returned_lines;
        self.profit += other.profit;
    }

    pub fn average_order_value(&self) -> f64 {
        if self.orders > 0.0 { self.revenue / self.orders } else { 0.0 }
    }

    pub fn cancellation_rate(&self) -> f64 {
        if self.lines > 0.0 { self.cancelled_lines / self.lines } else { 0.0 }
    }

    pub fn return_rate(&self) -> f64 {
        if self.lines > 0.0 { self.returned_lines / self.lines } else { 0.0 }
    }

    pub fn margin(&self) -> f64 {
        if self.revenue.abs() > 1e-9 { self.profit / self.revenue } else { 0.0 }
    }

    /// A figure by name ("revenue", "units", "orders", "lines", "average_order_value",
    /// "cancellation_rate", "return_rate", "profit", "margin").
    pub fn metric(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Revenue => self.revenue,
            Metric::Units => self.units,
            Metric::Orders => self.orders,
            Metric::Lines => self.lines,
            Metric::AverageOrderValue => self.average_order_value(),
            Metric::CancellationRate => self.cancellation_rate(),
            Metric::ReturnRate => self.return_rate(),
            Metric::Profit => self.profit,
            Metric::Margin => self.margin(),
        }
    }
}

/// A figure insights rank and trend by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Revenue,
    Units,
    Orders,
    Lines,
    AverageOrderValue,
    CancellationRate,
    ReturnRate,
    Profit,
    Margin,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Revenue,
        Metric::Units,
        Metric::Orders,
        Metric::Lines,
        Metric::AverageOrderValue,
        Metric::CancellationRate,
        Metric::ReturnRate,
        Metric::Profit,
        Metric::Margin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Revenue => "revenue",
            Metric::Units => "units",
            Metric::Orders => "orders",
            Metric::Lines => "lines",
            Metric::AverageOrderValue => "average_order_value",
            Metric::CancellationRate => "cancellation_rate",
            Metric::ReturnRate => "return_rate",
            Metric::Profit => "profit",
            Metric::Margin => "margin",
        }
    }

    /// A value of the metric as text: money in `currency`, rates as percentages, counts whole.
    pub fn format(self, value: f64, currency: &str) -> String {
        if self.is_money() {
            crate::money::format_whole(value, currency)
        } else if self.is_rate() {
            format!("{:.1}%", 100.0 * value)
        } else {
            crate::money::format_whole(value, "XXX").trim_start_matches("XXX ").to_owned()
        }
    }

    /// Whether the figure is an amount of money.
    pub fn is_money(self) -> bool {
        matches!(self, Metric::Revenue | Metric::AverageOrderValue | Metric::Profit)
    }

    /// Whether the figure is a share (0–1).
    pub fn is_rate(self) -> bool {
        matches!(self, Metric::CancellationRate | Metric::ReturnRate | Metric::Margin)
    }
}

/// What the export allowed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub regions: bool,
    pub categories: bool,
    pub products: bool,
    pub profit: bool,
    pub cancellations: bool,
    pub returns: bool,
    pub customers: bool,
    pub hours: bool,
    pub promotions: bool,
    pub delivery: bool,
    pub ship_dates: bool,
    pub demographics: bool,
}

/// Totals of one region × category × month cell ("" for a line without region or category).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub region: String,
    pub category: String,
    /// YYYY-MM.
    pub month: String,
    pub totals: Totals,
}

/// Totals of one product in one region and month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCell {
    /// Index into [`Insights::products`].
    pub product: u32,
    pub region: String,
    pub month: String,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The product's id (its group, e.g. a style, when the export has one).
    pub id: String,
    pub name: String,
    pub category: String,
}

impl Product {
    /// "id — name", or the id alone when the export names products by id.
    pub fn label(&self) -> String {
        if self.name.is_empty() || self.name == self.id {
            self.id.clone()
        } else {
            format!("{} — {}", self.id, self.name)
        }
    }
}

/// Totals of each day from `first_date`, for the total and for each region and category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailySeries {
    pub first_date: NaiveDate,
    /// Keyed "total", "region:<name>", "category:<name>".
    pub series: BTreeMap<String, Vec<Totals>>,
}

/// A day far above the usual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakDay {
    pub date: NaiveDate,
    pub revenue: f64,
    /// Revenue over the mean day's.
    pub ratio_to_mean: f64,
    /// A named holiday this day is, or is near (within 3 days), when one is known.
    pub holiday: Option<String>,
}

/// Lines with a promotion against lines without.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionEffect {
    pub with_promotion: Totals,
    pub without_promotion: Totals,
    /// Order values of the orders not cancelled, with a promotion and without: the comparable
    /// populations (a cancelled order carries no value, and seldom a promotion).
    #[serde(default)]
    pub kept_orders_with: Sample,
    #[serde(default)]
    pub kept_orders_without: Sample,
}

/// Delivery: totals by delivery status and by ship mode, and days to ship.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub by_status: Vec<(String, Totals)>,
    pub by_ship_mode: Vec<(String, Totals)>,
    /// (ship mode or "all", mean days to ship, median, 90th percentile, lines).
    pub days_to_ship: Vec<(String, f64, f64, f64, usize)>,
    /// Days to ship by ship mode (and "all"): size, mean and standard deviation.
    #[serde(default)]
    pub days_to_ship_samples: BTreeMap<String, Sample>,
}

/// Customers of a demographic group: how many, their orders and amount.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub customers: f64,
    pub orders: f64,
    pub amount: f64,
    /// The amount per customer of the group: size, mean, standard deviation.
    #[serde(default)]
    pub per_customer: Sample,
}

/// A rule "lines (or orders) with A also have B".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeRule {
    pub antecedent: String,
    pub consequent: String,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub count: usize,
}

/// A recommendation: a sentence from an explicit rule, with the figures it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The rule: "market_gap", "regional_preference", "high_cancellation", "high_returns",
    /// "decline", "growth", "peak_day", "weekday", "promotion", "delivery", "demographic",
    /// "under_performer".
    pub rule: String,
    /// The region it concerns ("" for all).
    pub region: String,
    pub text: String,
    pub figures: BTreeMap<String, f64>,
    /// Larger first: how much revenue the recommendation concerns.
    pub weight: f64,
    /// What it rests on: the figure, its population and size, its interval, the thresholds.
    #[serde(default)]
    pub evidence: Evidence,
    /// What it is about besides the region, by kind: "category", "product", "months" (the
    /// two compared, "YYYY-MM,YYYY-MM"), "weekday" (0 = Monday), "day", "ship_mode",
    /// "attribute" and "group" — what a check needs to recompute the figure.
    #[serde(default)]
    pub about: BTreeMap<String, String>,
}

/// Everything the insights RPCs, the dashboard and the report read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insights {
    pub currency: String,
    /// The display name of the region level ("State", "Country").
    pub region_level: String,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub capabilities: Capabilities,
    pub total: Totals,
    pub distinct_customers: usize,
    pub cells: Vec<Cell>,
    pub products: Vec<Product>,
    pub product_cells: Vec<ProductCell>,
    pub daily: DailySeries,
    /// Totals by weekday (0 = Monday), by hour of the day (exports with times), by calendar
    /// month (1–12) over all years.
    pub weekdays: Vec<Totals>,
    pub hours: Vec<Totals>,
    pub calendar_months: Vec<Totals>,
    pub peaks: Vec<PeakDay>,
    pub promotion: Option<PromotionEffect>,
    pub delivery: Option<Delivery>,
    /// Demographic attribute (age_group, gender, occupation, marital_status, state) → group →
    /// figures, from the customer file: each customer in one group of each attribute, so the
    /// groups' customers add up to the customers.
    pub demographics: BTreeMap<String, Vec<(String, GroupFigures)>>,
    /// Per demographic attribute, the customers whose rows name several values: each is put in
    /// the value of most of their rows (the first in alphabetical order on a tie).
    #[serde(default)]
    pub demographic_conflicts: BTreeMap<String, usize>,
    /// Weekdays (0 = Monday) the shop is closed: no order on at least 90% of them. They count
    /// in no mean of days.
    #[serde(default)]
    pub closed_weekdays: Vec<u32>,
    pub attribute_rules: Vec<AttributeRule>,
    pub recommendations: Vec<Recommendation>,
}

/// Why an insights query cannot be answered.
/// A period of whole months, `from..=to` (YYYY-MM), either end open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Period {
    fn contains(&self, month: &str) -> bool {
        self.from.as_deref().is_none_or(|f| month >= f)
            && self.to.as_deref().is_none_or(|t| month <= t)
    }
}

/// Time granularity of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

/// A dimension a trend follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    Total,
    Region(String),
    Category(String),
}

/// A ranked product.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedProduct<'a> {
    pub product: &'a Product,
    pub totals: Totals,
    pub value: f64,
}

/// A region's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionProfile {
    pub region: String,
    pub totals: Totals,
    /// Its share of all revenue.
    pub revenue_share: f64,
    /// Per category: (category, totals in the region, share of the region's revenue, national
    /// share, index = share / national share).
    pub categories: Vec<(String, Totals, f64, f64, f64)>,
    pub months: Vec<(String, Totals)>,
    pub recommendations: Vec<Recommendation>,
}

/// The month key of a day.
pub fn month_of(date: NaiveDate) -> String {
    format!("{}-{:02}", date.year(), date.month())
}

/// Values of `known` closest to `value` (case-insensitive prefix or edit distance), at most 5.
pub fn near_matches(value: &str, known: impl Iterator<Item = String>) -> Vec<String> {
    // Names are compared on their first characters: the work per request stays bounded
    // whatever the lengths of the value and of the export's names.
    const COMPARED: usize = 64;
    if value.len() > 16 * COMPARED {
        return Vec::new();
    }
    let target: String = value.trim().to_lowercase().chars().take(COMPARED).collect();
    let mut scored: Vec<(usize, String)> = known
        .map(|k| {
            let lower: String = k.chars().take(COMPARED).collect::<String>().to_lowercase();
            let distance = if lower.starts_with(&target) || target.starts_with(&lower) {
                0
            } else {
                edit_distance(&lower, &target)
            };
            (distance, k)
        })
        .collect();
    scored.sort();
    scored.dedup();
    let limit = (target.chars().count() / 2).max(2);
    scored.into_iter().filter(|(d, _)| *d <= limit).take(5).map(|(_, k)| k).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + (ca != cb) as usize).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

impl Insights {
    /// Every region of the data, by revenue (highest first).
    pub fn regions(&self) -> Vec<(String, Totals)> {
        self.group(|c| &c.region)
    }

    /// Every category of the data, by revenue.
    pub fn categories(&self) -> Vec<(String, Totals)> {
        self.group(|c| &c.category)
    }

    /// Every month of the data, in order.
    pub fn months(&self) -> Vec<(String, Totals)> {
        let mut months: BTreeMap<String, Totals> = BTreeMap::new();
        for c in &self.cells {
            months.entry(c.month.clone()).or_default().add(&c.totals);
        }
        months.into_iter().collect()
    }

    fn group(&self, key: impl Fn(&Cell) -> &String) -> Vec<(String, Totals)> {
        let mut groups: BTreeMap<&String, Totals> = BTreeMap::new();
        for c in &self.cells {
            if !key(c).is_empty() {
                groups.entry(key(c)).or_default().add(&c.totals);
            }
        }
        let mut out: Vec<(String, Totals)> =
            groups.into_iter().map(|(k, t)| (k.clone(), t)).collect();
        out.sort_by(|a, b| b.1.revenue.total_cmp(&a.1.revenue).then(a.0.cmp(&b.0)));
        out
    }

    /// The region as stored, matched case-insensitively (spelling variants of Indian states
    /// merged); NOT_FOUND with the near matches.
    pub fn find_region(&self, region: &str) -> Result<String, QueryError> {
        let regions = self.regions();
        let key = crate::features::normalize_state(region);
        regions
            .iter()
            .find(|(r, _)| {
                r.eq_ignore_ascii_case(region.trim()) || crate::features::normalize_state(r) == key
            })
            .map(|(r, _)| r.clone())
            .ok_or_else(|| QueryError::NotFound {
                what: "region",
                value: crate::features::echo(region),
                near: near_matches(region, regions.into_iter().map(|r| r.0)),
            })
    }

    pub fn find_category(&self, category: &str) -> Result<String, QueryError> {
        let categories = self.categories();
        categories
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(category.trim()))
            .map(|(c, _)| c.clone())
            .ok_or_else(|| QueryError::NotFound {
                what: "category",
                value: crate::features::echo(category),
                near: near_matches(category, categories.into_iter().map(|c| c.0)),
            })
    }

    /// Checks a period against the data's months: an end outside them, or a start after the
    /// end, is INVALID_ARGUMENT naming the field.
    pub fn check_period(&self, period: &Period) -> Result<(), QueryError> {
        let (first, last) = (month_of(self.first_date), month_of(self.last_date));
        for (field, value) in [("period.from_month", &period.from), ("period.to_month", &period.to)]
        {
            if let Some(m) = value {
                let valid = m.len() == 7
                    && NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok();
                if !valid {
                    return Err(QueryError::Invalid {
                        field,
                        reason: format!("{} is not a month (YYYY-MM)", crate::features::echo(m)),
                    });
                }
                if *m < first || *m > last {
                    return Err(QueryError::Invalid {
                        field,
                        reason: format!("{m} is outside the data ({first} to {last})"),
                    });
                }
            }
        }
        if let (Some(from), Some(to)) = (&period.from, &period.to)
            && from > to
        {
            return Err(QueryError::Invalid {
                field: "period.from_month",
                reason: format!("{from} is after to_month {to}"),
            });
        }
        Ok(())
    }

    /// Totals within optional region, category and period.
    pub fn totals(&self, region: Option<&str>, category: Option<&str>, period: &Period) -> Totals {
        let mut t = Totals::default();
        for c in self.cells.iter().filter(|c| {
            region.is_none_or(|r| c.region == r)
                && category.is_none_or(|k| c.category == k)
                && period.contains(&c.month)
        }) {
            t.add(&c.totals);
        }
        t
    }

    /// A region's profile: totals, categories against their national share, months, and the
    /// recommendations about it.
    pub fn region_profile(&self, region: &str) -> Result<RegionProfile, QueryError> {
        let region = self.find_region(region)?;
        let all = Period::default();
        let totals = self.totals(Some(&region), None, &all);
        let national = self.total;
        let categories = self
            .categories()
            .into_iter()
            .map(|(category, national_totals)| {
                let here = self.totals(Some(&region), Some(&category), &all);
                let share = if totals.revenue > 0.0 { here.revenue / totals.revenue } else { 0.0 };
                let national_share = if national.revenue > 0.0 {
                    national_totals.revenue / national.revenue
                } else {
                    0.0
                };
                let index = if national_share > 0.0 { share / national_share } else { 0.0 };
                (category, here, share, national_share, index)
            })
            .collect();
        let mut months: BTreeMap<String, Totals> = BTreeMap::new();
        for c in self.cells.iter().filter(|c| c.region == region) {
            months.entry(c.month.clone()).or_default().add(&c.totals);
        }
        Ok(RegionProfile {
            revenue_share: if national.revenue > 0.0 {
                totals.revenue / national.revenue
            } else {
                0.0
            },
            recommendations: self
                .recommendations
                .iter()
                .filter(|r| r.region == region)
                .cloned()
                .collect(),
            region,
            totals,
            categories,
            months: months.into_iter().collect(),
        })
    }

    /// Products ranked by `metric` (highest first, or lowest with `ascending`) within optional
    /// region, category and period; products with fewer than `min_lines` lines there are left
    /// out (rates of a handful of lines say little). Returns the page and the number ranked.
    #[allow(clippy::too_many_arguments)]
    pub fn rank_products(
        &self,
        metric: Metric,
        ascending: bool,
        region: Option<&str>,
        category: Option<&str>,
        period: &Period,
        min_lines: f64,
        offset: usize,
        limit: usize,
    ) -> (Vec<RankedProduct<'_>>, usize) {
        let mut per_product: BTreeMap<u32, Totals> = BTreeMap::new();
        for c in self
            .product_cells
            .iter()
            .filter(|c| region.is_none_or(|r| c.region == r) && period.contains(&c.month))
        {
            let product = &self.products[c.product as usize];
            if category.is_none_or(|k| product.category == k) {
                per_product.entry(c.product).or_default().add(&c.totals);
            }
        }
        let mut ranked: Vec<RankedProduct<'_>> = per_product
            .into_iter()
            .filter(|(_, t)| t.lines >= min_lines)
            .map(|(p, totals)| RankedProduct {
                product: &self.products[p as usize],
                value: totals.metric(metric),
                totals,
            })
            .collect();
        ranked.sort_by(|a, b| {
            let order = a.value.total_cmp(&b.value);
            (if ascending { order } else { order.reverse() }).then(a.product.id.cmp(&b.product.id))
        });
        let count = ranked.len();
        (ranked.into_iter().skip(offset).take(limit).collect(), count)
    }

    /// The daily series of a dimension: "total", "region:<name>" or "category:<name>", the name
    /// as the export spells it.
    pub fn series_key(&self, dimension: &Dimension) -> Result<String, QueryError> {
        Ok(match dimension {
            Dimension::Total => "total".to_owned(),
            Dimension::Region(r) => format!("region:{}", self.find_region(r)?),
            Dimension::Category(c) => format!("category:{}", self.find_category(c)?),
        })
    }

    /// A metric over time for the total, a region or a category, by day, week (Monday to
    /// Sunday, labelled by its Monday) or month, within a period of months.
    pub fn trend(
        &self,
        metric: Metric,
        dimension: &Dimension,
        granularity: Granularity,
        period: &Period,
    ) -> Result<Vec<(NaiveDate, Totals, f64)>, QueryError> {
        let key = self.series_key(dimension)?;
        self.check_period(period)?;
        let days = self.daily.series.get(&key).ok_or_else(|| QueryError::NotFound {
            what: "series",
            value: key.clone(),
            near: vec![],
        })?;
        let mut buckets: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
        for (i, totals) in days.iter().enumerate() {
            let date = self.daily.first_date + chrono::Duration::days(i as i64);
            if !period.contains(&month_of(date)) {
                continue;
            }
            let bucket = match granularity {
                Granularity::Day => date,
                Granularity::Week => {
                    date - chrono::Duration::days(date.weekday().num_days_from_monday() as i64)
                }
                Granularity::Month => date.with_day(1).expect("day 1"),
            };
            buckets.entry(bucket).or_default().add(totals);
        }
        Ok(buckets.into_iter().map(|(d, t)| (d, t, t.metric(metric))).collect())
    }

    /// Whether the period of `granularity` starting `start` is cut by the export's first or
    /// last day (a partial week or month: not comparable with whole ones).
    pub fn is_partial(&self, granularity: Granularity, start: NaiveDate) -> bool {
        let end = match granularity {
            Granularity::Day => start,
            Granularity::Week => start + chrono::Duration::days(6),
            Granularity::Month => {
                let next = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                next.expect("a valid month") - chrono::Duration::days(1)
            }
        };
        start < self.first_date || end > self.last_date
    }

    /// Whether `day` is one of the weekdays the shop is closed.
    pub fn is_closed(&self, day: NaiveDate) -> bool {
        self.closed_weekdays.contains(&day.weekday().num_days_from_monday())
    }

    /// Recommendations, heaviest first, optionally about one region.
    pub fn recommendations_for(&self, region: Option<&str>) -> Vec<&Recommendation> {
        let mut out: Vec<&Recommendation> =
            self.recommendations.iter().filter(|r| region.is_none_or(|g| r.region == g)).collect();
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.text.cmp(&b.text)));
        out
    }

    /// Checks the file's shape at load.
    pub fn validate(&self) -> Result<(), String> {
        if self.first_date > self.last_date {
            return Err("first_date after last_date".into());
        }
        if let Some(c) =
            self.product_cells.iter().find(|c| c.product as usize >= self.products.len())
        {
            return Err(format!(
                "a product cell names product {} of {}",
                c.product,
                self.products.len()
            ));
        }
        if self.weekdays.len() != 7 || self.calendar_months.len() != 12 {
            return Err("weekday and calendar month totals need 7 and 12 entries".into());
        }
        Ok(())
    }
}

pub fn save(writer: &mut BundleWriter, insights: &Insights) -> Result<(), BundleError> {
    writer.write_json(FILE, insights)?;
    writer.add_model(NAME, serde_json::json!({}), &[FILE]);
    Ok(())
}

pub fn load(dir: &Path) -> Result<Insights, BundleError> {
    let insights: Insights = read_json(dir, FILE)?;
    insights.validate().map_err(|reason| BundleError::incompatible(dir.join(FILE), reason))?;
    Ok(insights)
}

impl ServedModel for Insights {
    const NAME: &'static str = NAME;
    type Metrics = crate::served::NoMetrics;

    fn load(dir: &Path, _device: &burn::tensor::Device) -> Result<Self, BundleError> {
        load(dir)
    }

    fn warm_up(&self) {
        let _ = self.regions();
    }

    fn describe(&self, currency: &str) -> String {
        format!(
            "revenue, orders, rates and profit by region, category and period, in {currency}; rankings, trends and recommendations"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_matches_find_what_was_meant() {
        let known = ["MAHARASHTRA", "KARNATAKA", "KERALA", "West"].map(String::from);
        assert_eq!(near_matches("maharastra", known.iter().cloned()), ["MAHARASHTRA"]);
        assert_eq!(near_matches("ker", known.iter().cloned())[0], "KERALA");
        assert!(near_matches("zzzzzzzz", known.iter().cloned()).is_empty());
    }
}
