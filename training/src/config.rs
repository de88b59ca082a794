//! Training configuration: built-in documented defaults (`config/default.toml`) and an
//! optional TOML file overriding any subset.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULTS_TOML: &str = include_str!("../../config/training.toml");

/// The built-in retailer profile (the Amazon India exports, and the generated sample in their
/// schema): its `[data]`, `[columns]`, `[outcomes]`, `[exclusions]`, `[money]` and `[split]`.
/// A configuration file with a `[data]` table is a profile of its own and replaces all of
/// these; its other keys override the defaults one by one.
pub const BUILT_IN_PROFILE_TOML: &str = include_str!("../../config/retailers/amazon.toml");

/// The training configuration: the run's seed and models, the retailer profile (`[data]`,
/// `[columns]`, `[outcomes]`, `[exclusions]`, `[money]`, `[split]`), the quality gates, and
/// each model's own table (`[cancellation]`, `[forecast]`, …), which the model's trainer
/// parses and checks (`crate::trainer::settings`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    /// The models to train; absent: every model this build knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Train the per-product protocol's product-text models and the forecast beside the other
    /// stages (when they draw no random numbers while they train); false trains them in their
    /// stages.
    pub overlap_stages: bool,
    pub data: DataFiles,
    pub columns: Columns,
    #[serde(default)]
    pub outcomes: Outcomes,
    #[serde(default)]
    pub exclusions: Exclusions,
    #[serde(default)]
    pub money: Money,
    #[serde(default)]
    pub split: SplitConfig,
    pub gates: GateSettings,
    /// Each model's table, by the model's name, as written (defaults, then the files).
    #[serde(flatten)]
    pub model_tables: BTreeMap<String, serde_json::Value>,
}

/// Text encoding of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    Utf8,
    /// Windows-1252 (a superset of Latin-1 as Excel writes it).
    Cp1252,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFiles {
    /// The order-line export (the only one required).
    pub sales_file: String,
    #[serde(default)]
    pub products_file: Option<String>,
    #[serde(default)]
    pub customers_file: Option<String>,
    #[serde(default)]
    pub reviews_file: Option<String>,
    #[serde(default = "utf8")]
    pub sales_encoding: TextEncoding,
    #[serde(default = "utf8")]
    pub products_encoding: TextEncoding,
    #[serde(default = "utf8")]
    pub customers_encoding: TextEncoding,
    #[serde(default = "utf8")]
    pub reviews_encoding: TextEncoding,
    /// Field delimiter of the CSV exports; unset: found from the header line (`,` `;` tab `|`).
    #[serde(default)]
    pub delimiter: Option<char>,
}

fn utf8() -> TextEncoding {
    TextEncoding::Utf8
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub sales: SalesColumns,
    #[serde(default)]
    pub products: Option<ProductColumns>,
    #[serde(default)]
    pub customers: Option<CustomerColumns>,
    #[serde(default)]
    pub reviews: Option<ReviewColumns>,
}

/// The order-line contract (docs/DATA.md): logical field = the export's header. Only
/// `order_id`, `date`, `product_id` and an amount (`amount`, or `quantity` and `unit_price`)
/// are required; an optional field left out (or mapped to "") is absent, and what needs it is
/// skipped with the reason in the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesColumns {
    /// The order (invoice) a line belongs to. Required; declared absent with "" when the
    /// export has none (CDNOW): a customer's lines of one day are then one order, and each
    /// line is its own order when there is no customer id either.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The order's date or date-time.
    pub date: String,
    /// chrono strftime format of `date`: a date ("%d/%m/%y") or a date-time
    /// ("%Y-%m-%d %H:%M:%S"); "auto" tries the common ones and takes the one that reads every
    /// cell, refusing a day/month order the cells do not settle.
    pub date_format: String,
    /// Share of `date` cells that may be unparsable (those rows are dropped and counted);
    /// 0: any unparsable date is an error naming the file, row, value and format.
    #[serde(default)]
    pub date_tolerance: f64,
    /// The product (SKU, stock code). Required; declared absent with "" when the export names
    /// no product (CDNOW): product models and analyses are then skipped.
    #[serde(default)]
    pub product_id: Option<String>,
    /// When the order shipped (same format as `date`): days to ship in the insights.
    #[serde(default)]
    pub ship_date: Option<String>,
    /// Discount of the line as a share (0.2) or a percentage ("20%").
    #[serde(default)]
    pub discount: Option<String>,
    /// Promotion ids of the line (any non-empty value means a promotion applied).
    #[serde(default)]
    pub promotion: Option<String>,
    /// Delivery status (courier status), recorded after the order.
    #[serde(default)]
    pub delivery_status: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
    #[serde(default)]
    pub unit_price: Option<String>,
    /// The line's amount (quantity × unit price after discounts); computed from quantity and
    /// unit price when absent.
    #[serde(default)]
    pub amount: Option<String>,
    /// A column of ISO 4217 codes; absent: `[money]` decides.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    /// A sales region grouping states (Superstore's "Region").
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// A grouping of product ids (style, model, parent SKU); products are ranked by it.
    #[serde(default)]
    pub product_group: Option<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    /// The line's cost, or its profit (one is enough for margins).
    #[serde(default)]
    pub cost: Option<String>,
    #[serde(default)]
    pub profit: Option<String>,
    /// Extra attributes of the order known at checkout, by name = header, that the order
    /// models read (Amazon's fulfilment, ship_service_level, b2b; Superstore's ship mode).
    /// The name is the key of the request's `attributes`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Extra attributes of a line known at checkout (Amazon's size, asin).
    #[serde(default)]
    pub line_attributes: BTreeMap<String, String>,
    /// Display names of the region fields (country, region, state, city, postal_code).
    #[serde(default)]
    pub region_names: BTreeMap<String, String>,
    #[serde(default)]
    pub duplicates: Duplicates,
}

/// Which rows are duplicates: identical in every column except `ignore` (a row number), or,
/// when `key` is given, equal in those columns. Either way they are counted in the report.
/// With `keep = true` identical rows are genuine repeats (an export without a line id, where
/// one customer buys the same thing twice a day): kept, and counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duplicates {
    #[serde(default)]
    pub key: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub keep: bool,
}

/// How a line's outcome is read from the export. A line is cancelled when its status is one
/// of `cancelled_statuses` or starts with one of `cancelled_status_prefixes`; returned likewise;
/// a credit note (order id starting with one of `credit_note_order_prefixes`, or a negative
/// quantity when `negative_quantity_is_return`) is a return line, netted out of revenue and
/// demand; a status starting with one of `pending_status_prefixes` has no outcome yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    #[serde(default)]
    pub cancelled_statuses: Vec<String>,
    #[serde(default)]
    pub cancelled_status_prefixes: Vec<String>,
    #[serde(default)]
    pub returned_statuses: Vec<String>,
    #[serde(default)]
    pub returned_status_prefixes: Vec<String>,
    #[serde(default)]
    pub credit_note_order_prefixes: Vec<String>,
    #[serde(default)]
    pub negative_quantity_is_return: bool,
    #[serde(default)]
    pub pending_status_prefixes: Vec<String>,
    /// The export writes the quantity after the outcome (Amazon: 0 on cancelled lines), so
    /// the order models must not read it, nor a unit price derived from it.
    #[serde(default)]
    pub quantity_recorded_after_outcome: bool,
    /// What the order model predicts: "cancellation" (a status says a line was cancelled),
    /// "return" (a status, or a later return line of the same customer and product, says it
    /// was returned) or "auto" (cancellation when any line is cancelled, else return).
    #[serde(default)]
    pub predict: Predict,
    /// A return line (credit note, negative quantity) is matched to the customer's latest
    /// earlier sale of the product within this many days, which is then a returned line.
    #[serde(default = "a_year")]
    pub return_window_days: i64,
}

/// What the order model predicts (`[outcomes] predict`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Predict {
    /// Cancellation when any line is cancelled, else return.
    #[default]
    Auto,
    Cancellation,
    Return,
}

/// A regular expression of the configuration, compiled once when it loads (an invalid one is
/// an error naming it); written back as its text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    pub regex: regex::Regex,
}

impl Pattern {
    /// `text` compiled, case-insensitively when `any_case`.
    pub fn new(text: &str, any_case: bool) -> Result<Self, String> {
        let regex = regex::RegexBuilder::new(text)
            .case_insensitive(any_case)
            .build()
            .map_err(|e| format!("bad pattern {text:?}: {e}"))?;
        Ok(Self { text: text.to_owned(), regex })
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(serializer)
    }
}

/// Patterns matched as written.
fn exact_patterns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Pattern>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| Pattern::new(t, false).map_err(serde::de::Error::custom)).collect()
}

/// Patterns matched in any case.
fn any_case_patterns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Pattern>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| Pattern::new(t, true).map_err(serde::de::Error::custom)).collect()
}

fn a_year() -> i64 {
    365
}

impl Default for Outcomes {
    fn default() -> Self {
        Self {
            cancelled_statuses: Vec::new(),
            cancelled_status_prefixes: Vec::new(),
            returned_statuses: Vec::new(),
            returned_status_prefixes: Vec::new(),
            credit_note_order_prefixes: Vec::new(),
            negative_quantity_is_return: false,
            pending_status_prefixes: Vec::new(),
            quantity_recorded_after_outcome: false,
            predict: Predict::Auto,
            return_window_days: a_year(),
        }
    }
}

/// Lines that are not products (postage, fees, discounts, manual adjustments, bank charges):
/// excluded when the product id or the product name matches one of these regular expressions
/// (the name case-insensitively); the report lists them with their revenue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    #[serde(default, deserialize_with = "exact_patterns")]
    pub product_id_patterns: Vec<Pattern>,
    #[serde(default, deserialize_with = "any_case_patterns")]
    pub product_name_patterns: Vec<Pattern>,
    /// Lines whose amount is exactly 0 are stock adjustments, not sales.
    #[serde(default)]
    pub zero_amount_lines: bool,
}

/// The export's money: every figure is reported in `currency` (ISO 4217). Lines in another
/// currency (from the currency column, or by country) are converted with `exchange_rates`
/// (units of `currency` per unit of the other); a line in a currency without a rate is an
/// error naming it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub currency: String,
    #[serde(default)]
    pub currency_by_country: BTreeMap<String, String>,
    #[serde(default)]
    pub exchange_rates: BTreeMap<String, f64>,
}

impl Default for Money {
    fn default() -> Self {
        Self {
            currency: "USD".into(),
            currency_by_country: BTreeMap::new(),
            exchange_rates: BTreeMap::new(),
        }
    }
}

/// An optional column mapping: absent, or mapped to "" (declared absent).
pub fn mapped(column: &Option<String>) -> Option<&str> {
    column.as_deref().filter(|c| !c.trim().is_empty())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductColumns {
    pub product_id: String,
    pub product_name: String,
    pub category: String,
    pub discounted_price: String,
    pub actual_price: String,
    pub discount_percentage: String,
    pub rating: String,
    pub rating_count: String,
    pub review_title: String,
    pub review_content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerColumns {
    pub user_id: String,
    pub product_id: String,
    pub gender: String,
    pub age_group: String,
    pub marital_status: String,
    pub state: String,
    pub zone: String,
    pub occupation: String,
    pub product_category: String,
    pub orders: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewColumns {
    pub product: String,
    pub rating: String,
    pub text: String,
    pub title: String,
}

/// The train/test protocol as configured; a date left out is derived from the export's
/// range (see [`SplitConfig::resolve`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    #[serde(default)]
    pub cancellation_test_from: Option<NaiveDate>,
    #[serde(default = "ten")]
    pub cancellation_validation_days: i64,
    #[serde(default = "five")]
    pub product_test_modulo: u32,
    #[serde(default = "five")]
    pub review_test_modulo: u32,
    #[serde(default)]
    pub forecast_first_day: Option<NaiveDate>,
    #[serde(default)]
    pub forecast_origin: Option<NaiveDate>,
    #[serde(default = "fourteen")]
    pub forecast_test_days: i64,
    /// Weeks of the weekly total protocol (0: none).
    #[serde(default)]
    pub forecast_weekly_test_weeks: i64,
    /// Customer value: the last day of the calibration period (the holdout runs to the
    /// export's end); default: the middle of the export's days.
    #[serde(default)]
    pub customer_value_calibration_end: Option<NaiveDate>,
}

fn five() -> u32 {
    5
}
fn ten() -> i64 {
    10
}
fn fourteen() -> i64 {
    14
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            cancellation_test_from: None,
            cancellation_validation_days: ten(),
            product_test_modulo: five(),
            review_test_modulo: five(),
            forecast_first_day: None,
            forecast_origin: None,
            forecast_test_days: fourteen(),
            forecast_weekly_test_weeks: 0,
            customer_value_calibration_end: None,
        }
    }
}

/// Share of the export's days (the most recent) that the cancellation test holds when
/// `cancellation_test_from` is not configured.
pub const DERIVED_TEST_SHARE: f64 = 0.2;

impl SplitConfig {
    /// The protocol for an export whose order dates span `first..=last`: a configured date is
    /// kept; the cancellation test defaults to the last fifth of the days, the forecast
    /// history to the whole export up to `forecast_test_days` before its end.
    pub fn resolve(&self, first: NaiveDate, last: NaiveDate) -> Split {
        let span = (last - first).num_days();
        let test_days = ((span as f64) * DERIVED_TEST_SHARE).round().max(1.0) as i64;
        Split {
            cancellation_test_from: self
                .cancellation_test_from
                .unwrap_or(last - chrono::Duration::days(test_days - 1)),
            cancellation_validation_days: self.cancellation_validation_days,
            product_test_modulo: self.product_test_modulo,
            review_test_modulo: self.review_test_modulo,
            forecast_first_day: self.forecast_first_day.unwrap_or(first),
            forecast_origin: self
                .forecast_origin
                .unwrap_or(last - chrono::Duration::days(self.forecast_test_days)),
            forecast_test_days: self.forecast_test_days,
            forecast_weekly_test_weeks: self.forecast_weekly_test_weeks,
            customer_value_calibration_end: self
                .customer_value_calibration_end
                .unwrap_or(first + chrono::Duration::days(span / 2)),
        }
    }
}

/// The train/test protocol of a run (`../shared/EVALUATION.md`), every date fixed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Split {
    pub cancellation_test_from: NaiveDate,
    pub cancellation_validation_days: i64,
    pub product_test_modulo: u32,
    pub review_test_modulo: u32,
    pub forecast_first_day: NaiveDate,
    pub forecast_origin: NaiveDate,
    pub forecast_test_days: i64,
    pub forecast_weekly_test_weeks: i64,
    pub customer_value_calibration_end: NaiveDate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSettings {
    pub limits: std::collections::BTreeMap<String, Limit>,
    pub compare: Vec<String>,
    pub tolerance: f64,
    /// What serves may score worse than its best other baseline on the test period by at
    /// most this share (relative) before the run fails.
    #[serde(default = "two_percent")]
    pub baseline_tolerance: f64,
    /// Models (or "model/scope", e.g. "forecast/category/units") whose losing to a baseline
    /// on the test period is reported but does not fail the run.
    #[serde(default)]
    pub allow_losing_to_baseline: Vec<String>,
}

fn two_percent() -> f64 {
    0.02
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
#[error("training configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// What is wrong, without the "training configuration" prefix.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

/// The keys a configuration's top level may have besides the models' tables.
const TOP_LEVEL_KEYS: [&str; 10] = [
    "seed",
    "models",
    "overlap_stages",
    "data",
    "columns",
    "outcomes",
    "exclusions",
    "money",
    "split",
    "gates",
];

/// Levenshtein distance between two short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substituted = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The known key nearest `key` (within a third of its length, at least 2 edits), if any.
pub fn nearest<'k>(key: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let limit = (key.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// A deserialisation error in words, naming the nearest known key of an unknown one ("unknown
/// field `quantiy`, expected one of … — did you mean `quantity`?").
pub fn explain(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let Some(rest) = text.strip_prefix("unknown field `") else { return text };
    let Some((unknown, expected)) = rest.split_once('`') else { return text };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match nearest(unknown, known) {
        Some(near) => format!("unknown key `{unknown}` (did you mean `{near}`?)"),
        None => format!("unknown key `{unknown}`; known keys:{}", expected.trim_start_matches(',')),
    }
}

impl TrainConfig {
    /// Defaults overridden by each of `files` in turn (the last wins). A file with a `[data]`
    /// table is a retailer profile: the built-in profile is then left out. `models` are the
    /// names of the models' tables (an unknown table is an error naming the nearest).
    pub fn load_all(files: &[&Path], models: &[&str]) -> Result<Self, ConfigError> {
        use config::{Config, File, FileFormat};
        fn named(file: Option<&Path>) -> impl Fn(config::ConfigError) -> ConfigError + '_ {
            move |e| {
                ConfigError(format!(
                    "{}{}",
                    file.map(|f| format!("{}: ", f.display())).unwrap_or_default(),
                    explain(&e)
                ))
            }
        }
        let mut own_profile = false;
        for file in files {
            if !file.is_file() {
                return Err(ConfigError(format!("{}: no such file", file.display())));
            }
            let alone = Config::builder()
                .add_source(File::from(*file).format(FileFormat::Toml))
                .build()
                .map_err(named(Some(file)))?;
            own_profile |= alone.get_table("data").is_ok();
            check_top_level(&alone, file, models)?;
        }
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
        if !own_profile {
            builder = builder.add_source(File::from_str(BUILT_IN_PROFILE_TOML, FileFormat::Toml));
        }
        for file in files {
            builder = builder.add_source(File::from(*file).format(FileFormat::Toml));
        }
        let config: TrainConfig = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(named(files.last().copied()))?;
        config.validate(models)?;
        Ok(config)
    }

    /// Whether `model` is to be trained.
    pub fn trains(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|models| models.iter().any(|m| m == model))
    }

    /// The table of model `name` (an empty one when the configuration has none).
    pub fn model_table(&self, name: &str) -> serde_json::Value {
        self.model_tables.get(name).cloned().unwrap_or_else(|| serde_json::json!({}))
    }

    fn validate(&self, models: &[&str]) -> Result<(), ConfigError> {
        let named = self.models.as_deref().unwrap_or_default();
        if self.models.is_some() && named.is_empty() {
            return Err(ConfigError(format!(
                "models: empty; name at least one of {} (or leave the key out for all)",
                models.join(", ")
            )));
        }
        if let Some(unknown) = named.iter().find(|m| !models.contains(&m.as_str())) {
            let hint = nearest(unknown, models.iter().copied())
                .map_or_else(String::new, |near| format!(" (did you mean `{near}`?)"));
            return Err(ConfigError(format!(
                "models: unknown model '{unknown}'{hint}; known: {}",
                models.join(", ")
            )));
        }
        if let Some((name, _)) =
            self.gates.limits.iter().find(|(_, l)| l.min.is_none() && l.max.is_none())
        {
            return Err(ConfigError(format!("gates.limits.\"{name}\": give min, max or both")));
        }
        if !(0.0..1.0).contains(&self.gates.tolerance)
            || !(0.0..1.0).contains(&self.gates.baseline_tolerance)
        {
            return Err(ConfigError(
                "gates.tolerance and gates.baseline_tolerance must be in [0, 1)".into(),
            ));
        }
        self.check_data_contract()?;
        if self.split.product_test_modulo < 2 || self.split.review_test_modulo < 2 {
            return Err(ConfigError("split: test modulos must be >= 2".into()));
        }
        let s = &self.split;
        if matches!((s.forecast_first_day, s.forecast_origin), (Some(first), Some(origin)) if origin <= first)
            || s.forecast_test_days <= 0
        {
            return Err(ConfigError(
                "split: forecast_origin must follow forecast_first_day, forecast_test_days > 0"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A file's top-level keys must be the configuration's or a model's table.
fn check_top_level(file: &config::Config, path: &Path, models: &[&str]) -> Result<(), ConfigError> {
    let table = file
        .clone()
        .try_deserialize::<BTreeMap<String, serde_json::Value>>()
        .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    let known = || TOP_LEVEL_KEYS.iter().copied().chain(models.iter().copied());
    for key in table.keys() {
        if !known().any(|k| k == key) {
            let hint = nearest(key, known())
                .map_or_else(String::new, |near| format!(" (did you mean `{near}`?)"));
            return Err(ConfigError(format!("{}: unknown key `{key}`{hint}", path.display())));
        }
    }
    Ok(())
}

impl TrainConfig {
    fn check_data_contract(&self) -> Result<(), ConfigError> {
        let c = &self.columns.sales;
        let mut missing: Vec<&str> = [("order_id", &c.order_id), ("product_id", &c.product_id)]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| *name)
            .collect();
        if c.date.trim().is_empty() {
            missing.push("date");
        }
        if mapped(&c.amount).is_none()
            && (mapped(&c.quantity).is_none() || mapped(&c.unit_price).is_none())
        {
            missing.push("amount (or quantity and unit_price)");
        }
        if !missing.is_empty() {
            return Err(ConfigError(format!(
                "columns.sales: required fields not mapped: {} (order_id and product_id may be declared absent with \"\")",
                missing.join(", ")
            )));
        }
        if !(0.0..1.0).contains(&c.date_tolerance) {
            return Err(ConfigError("columns.sales.date_tolerance must be in [0, 1)".into()));
        }
        let iso = |code: &str| code.len() == 3 && code.chars().all(|ch| ch.is_ascii_uppercase());
        if !iso(&self.money.currency) {
            return Err(ConfigError(format!(
                "money.currency: {:?} is not an ISO 4217 code such as \"USD\"",
                self.money.currency
            )));
        }
        for (code, rate) in &self.money.exchange_rates {
            // A rate beyond 1e-6..1e6 is a typo (the widest real pair is about 1:400,000).
            if !(iso(code) && (1e-6..=1e6).contains(rate)) {
                return Err(ConfigError(format!(
                    "money.exchange_rates.{code}: needs an ISO code and a rate from 1e-6 to 1e6"
                )));
            }
        }
        if let Some(name) = c.attributes.keys().find(|n| c.line_attributes.contains_key(*n)) {
            return Err(ConfigError(format!(
                "columns.sales: attribute {name:?} is both an order and a line attribute"
            )));
        }
        let attributes = c.attributes.len() + c.line_attributes.len();
        if attributes > shopml_core::cancellation::features::MAX_CATEGORICAL - 10 {
            return Err(ConfigError(format!(
                "columns.sales: {attributes} attributes; at most {} (order and line together)",
                shopml_core::cancellation::features::MAX_CATEGORICAL - 10
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn load(toml: &str) -> Result<TrainConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("train.toml");
        std::fs::write(&file, toml).unwrap();
        crate::pipeline::load_config(&[file.as_path()])
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_nearest_known_one() {
        let error = |toml: &str| load(toml).unwrap_err().to_string();
        assert!(error("modles = []\n").contains("unknown key `modles` (did you mean `models`?)"));
        assert!(error("[exclusion]\n").contains("did you mean `exclusions`?"));
        assert!(error("[forecst]\nhidden_dim = 2\n").contains("did you mean `forecast`?"));
        assert!(error("[zzz]\n").contains("unknown key `zzz`"));
        // Inside the profile's tables too: a misspelt column is not read as absent.
        let nested = error("[columns.sales]\nquantiy = \"Qty\"\n");
        assert!(nested.contains("quantiy"), "{nested}");
        assert!(error("[gates]\ntolerence = 0.1\n").contains("tolerence"));
        assert!(error("[money.exchange_rates]\nUSD = 1e308\n").contains("1e-6 to 1e6"));
        assert_eq!(nearest("tolerence", ["tolerance", "limits"]), Some("tolerance"));
        assert_eq!(nearest("abc", ["tolerance"]), None);
    }
}
