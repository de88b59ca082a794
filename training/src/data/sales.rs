//! The order-line export under the contract of docs/DATA.md: required fields, optional
//! fields that may be absent, attributes, outcomes, returns, non-product lines and money.

use super::clean::{self, CleaningReport, ExcludedLines};
use super::read::RawTable;
use crate::config::{Exclusions, Money, Outcomes, Pattern, SalesColumns, mapped};
use crate::error::DataError;
use chrono::NaiveDate;
use shopml_core::cancellation::{
    Attribute, AttributeValues, CheckoutLine, CustomerHistory, InputSchema,
};
use std::collections::{BTreeMap, BTreeSet};

/// A field of the order-line contract besides the required ones (order id, date, product id
/// and an amount), which a model or an analysis may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesField {
    OrderId,
    ProductId,
    Quantity,
    UnitPrice,
    Currency,
    CustomerId,
    Status,
    Country,
    Region,
    State,
    City,
    PostalCode,
    Channel,
    Category,
    ProductGroup,
    ProductName,
    Cost,
    Profit,
    ShipDate,
    Discount,
    Promotion,
    DeliveryStatus,
}

impl SalesField {
    pub const ALL: [SalesField; 22] = [
        SalesField::OrderId,
        SalesField::ProductId,
        SalesField::Quantity,
        SalesField::UnitPrice,
        SalesField::Currency,
        SalesField::CustomerId,
        SalesField::Status,
        SalesField::Country,
        SalesField::Region,
        SalesField::State,
        SalesField::City,
        SalesField::PostalCode,
        SalesField::Channel,
        SalesField::Category,
        SalesField::ProductGroup,
        SalesField::ProductName,
        SalesField::Cost,
        SalesField::Profit,
        SalesField::ShipDate,
        SalesField::Discount,
        SalesField::Promotion,
        SalesField::DeliveryStatus,
    ];

    /// The field's key under `[columns.sales]`.
    pub fn name(self) -> &'static str {
        match self {
            SalesField::OrderId => "order_id",
            SalesField::ProductId => "product_id",
            SalesField::Quantity => "quantity",
            SalesField::UnitPrice => "unit_price",
            SalesField::Currency => "currency",
            SalesField::CustomerId => "customer_id",
            SalesField::Status => "status",
            SalesField::Country => "country",
            SalesField::Region => "region",
            SalesField::State => "state",
            SalesField::City => "city",
            SalesField::PostalCode => "postal_code",
            SalesField::Channel => "channel",
            SalesField::Category => "category",
            SalesField::ProductGroup => "product_group",
            SalesField::ProductName => "product_name",
            SalesField::Cost => "cost",
            SalesField::Profit => "profit",
            SalesField::ShipDate => "ship_date",
            SalesField::Discount => "discount",
            SalesField::Promotion => "promotion",
            SalesField::DeliveryStatus => "delivery_status",
        }
    }

    fn column(self, c: &SalesColumns) -> Option<&str> {
        mapped(match self {
            SalesField::OrderId => &c.order_id,
            SalesField::ProductId => &c.product_id,
            SalesField::Quantity => &c.quantity,
            SalesField::UnitPrice => &c.unit_price,
            SalesField::Currency => &c.currency,
            SalesField::CustomerId => &c.customer_id,
            SalesField::Status => &c.status,
            SalesField::Country => &c.country,
            SalesField::Region => &c.region,
            SalesField::State => &c.state,
            SalesField::City => &c.city,
            SalesField::PostalCode => &c.postal_code,
            SalesField::Channel => &c.channel,
            SalesField::Category => &c.category,
            SalesField::ProductGroup => &c.product_group,
            SalesField::ProductName => &c.product_name,
            SalesField::Cost => &c.cost,
            SalesField::Profit => &c.profit,
            SalesField::ShipDate => &c.ship_date,
            SalesField::Discount => &c.discount,
            SalesField::Promotion => &c.promotion,
            SalesField::DeliveryStatus => &c.delivery_status,
        })
    }
}

/// What is known of a line's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sold and kept (or no status in the export).
    Sold,
    Cancelled,
    /// Sold, then returned (by its status).
    Returned,
    /// No outcome yet (pending, shipping).
    Pending,
    /// A credit note or a negative quantity: a return of earlier sales, netted out of revenue
    /// and demand (its quantity and amount are negative).
    ReturnLine,
    /// Sold, then returned by a later return line of the same customer and product (the
    /// return line nets its revenue).
    ReturnedLater,
}

impl Outcome {
    /// Whether the line was returned (by its status or by a later return line).
    pub fn is_returned(self) -> bool {
        matches!(self, Outcome::Returned | Outcome::ReturnedLater)
    }
}

/// A text cell, shared by every line that holds the same value: an export repeats its
/// countries, products, customers and statuses on many lines, and a line holds a pointer, not a
/// copy.
pub type Text = std::sync::Arc<str>;

/// The texts of one export, each stored once.
#[derive(Default)]
struct Interner(std::collections::HashSet<Text, foldhash::fast::RandomState>);

impl Interner {
    fn get(&mut self, value: &str) -> Text {
        if let Some(text) = self.0.get(value) {
            return text.clone();
        }
        let text: Text = Text::from(value);
        self.0.insert(text.clone());
        text
    }
}

/// One cleaned order line.
#[derive(Debug, Clone, PartialEq)]
pub struct SaleLine {
    /// Data row in the file (1-based, header excluded).
    pub row: usize,
    pub order_id: Text,
    pub date: NaiveDate,
    /// Hour of the order when the export has a time of day.
    pub hour: Option<u32>,
    pub product_id: Text,
    /// The product's group (style, model); empty when the export has none.
    pub product_group: Text,
    pub product_name: Text,
    /// Units (1 when the export has no quantity); negative on a return line.
    pub quantity: f64,
    /// Unit price in the reporting currency, when the export has one.
    pub unit_price: Option<f64>,
    /// Line amount in the reporting currency; `None` when missing or unparsable; negative on
    /// a return line.
    pub amount: Option<f64>,
    /// Profit in the reporting currency (from the profit column, or amount − cost).
    pub profit: Option<f64>,
    pub status: Text,
    pub outcome: Outcome,
    pub customer_id: Text,
    pub country: Text,
    pub region: Text,
    pub state: Text,
    pub city: Text,
    pub postal_code: Text,
    pub channel: Text,
    pub category: Text,
    /// When the line shipped, when the export says.
    pub ship_date: Option<NaiveDate>,
    /// Discount as a share of the list price (0.2 = 20%).
    pub discount: Option<f64>,
    /// Promotion ids ("" for none).
    pub promotion: Text,
    /// Delivery (courier) status, recorded after the order.
    pub delivery_status: Text,
    /// Values of the configured attributes, in the order of [`Sales::attributes`].
    pub attributes: Vec<Text>,
}

impl SaleLine {
    /// Revenue this line contributes: its amount, none when cancelled or returned by its
    /// status; negative for a return line (which nets the sale it returns).
    pub fn revenue(&self) -> f64 {
        match self.outcome {
            Outcome::Cancelled | Outcome::Returned => 0.0,
            _ => self.amount.unwrap_or(0.0),
        }
    }

    /// Units this line contributes to units sold: as [`SaleLine::revenue`].
    pub fn units(&self) -> f64 {
        match self.outcome {
            Outcome::Cancelled | Outcome::Returned => 0.0,
            _ => self.quantity,
        }
    }
}

pub struct Sales {
    pub lines: Vec<SaleLine>,
    pub report: CleaningReport,
    /// Optional fields the export has.
    pub fields: BTreeSet<SalesField>,
    /// Configured attributes, order attributes then line attributes (each sorted by name):
    /// the order of [`SaleLine::attributes`].
    pub attributes: Vec<Attribute>,
    /// Display names of the region fields.
    pub region_names: BTreeMap<String, String>,
    /// The reporting currency (ISO 4217).
    pub currency: String,
}

impl Sales {
    pub fn has(&self, field: SalesField) -> bool {
        self.fields.contains(&field)
    }

    /// The display name of a region field ("state" → "State/Province").
    pub fn region_name(&self, field: SalesField) -> String {
        self.region_names.get(field.name()).cloned().unwrap_or_else(|| {
            let name = field.name().replace('_', " ");
            name[..1].to_uppercase() + &name[1..]
        })
    }

    /// The region of `line` for regional figures and segments: its state (spelling variants
    /// merged) when the export has states, else its sales region, else its country; "" when
    /// the export has none of them.
    pub fn region_key(&self, line: &SaleLine) -> String {
        if self.has(SalesField::State) {
            shopml_core::features::normalize_state(&line.state)
        } else if self.has(SalesField::Region) {
            line.region.to_string()
        } else {
            line.country.to_string()
        }
    }

    /// The field [`Sales::region_key`] reads.
    pub fn region_field(&self) -> Option<SalesField> {
        [SalesField::State, SalesField::Region, SalesField::Country]
            .into_iter()
            .find(|f| self.has(*f))
    }

    /// The attribute `name` of `line`, "" when not configured.
    pub fn attribute<'a>(&self, line: &'a SaleLine, name: &str) -> &'a str {
        self.attributes.iter().position(|a| a.name == name).map_or("", |i| &*line.attributes[i])
    }

    /// Lines with an outcome the cancellation model can learn (sold, cancelled or returned).
    pub fn with_outcome(&self) -> impl Iterator<Item = &SaleLine> {
        self.lines.iter().filter(|l| {
            matches!(
                l.outcome,
                Outcome::Sold | Outcome::Cancelled | Outcome::Returned | Outcome::ReturnedLater
            )
        })
    }

    /// The first and last order days.
    pub fn first_date(&self) -> Option<NaiveDate> {
        self.lines.iter().map(|l| l.date).min()
    }

    pub fn last_date(&self) -> Option<NaiveDate> {
        self.lines.iter().map(|l| l.date).max()
    }

    /// The inputs of the order-line contract this export has, for the order models.
    pub fn input_schema(&self) -> InputSchema {
        InputSchema {
            channel: self.has(SalesField::Channel),
            city: self.has(SalesField::City),
            state: self.has(SalesField::State),
            postal_code: self.has(SalesField::PostalCode),
            product_id: self.has(SalesField::ProductId),
            product_group: self.has(SalesField::ProductGroup),
            category: self.has(SalesField::Category),
            attributes: self.attributes.clone(),
            customer_history: self.has(SalesField::CustomerId),
        }
    }

    /// What the checkout knew about `line` (with the customer's history before it): the
    /// order models' input.
    pub fn checkout_line<'a>(
        &self,
        line: &'a SaleLine,
        customer: Option<CustomerHistory>,
    ) -> CheckoutLine<'a> {
        CheckoutLine {
            order_date: line.date,
            channel: &line.channel,
            city: &line.city,
            state: &line.state,
            postal_code: &line.postal_code,
            product_id: &line.product_id,
            product_group: &line.product_group,
            category: &line.category,
            attributes: AttributeValues::Shared(&line.attributes),
            unit_price: line.unit_price.or(line.amount),
            customer,
        }
    }
}

/// The cells of every mapped column, or one error naming all that the file lacks.
struct Cells<'t> {
    columns: BTreeMap<String, Vec<Option<&'t str>>>,
    rows: usize,
}

impl<'t> Cells<'t> {
    fn read(table: &'t RawTable, names: &[&str]) -> Result<Self, DataError> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !table.has_column(n))
            .map(|n| n.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            return Err(DataError::MissingColumns {
                path: table.path.clone(),
                columns: missing,
                found: table.column_names(),
            });
        }
        let mut columns = BTreeMap::new();
        for name in names {
            if !columns.contains_key(*name) {
                columns.insert(name.to_string(), table.column(name)?);
            }
        }
        Ok(Self { columns, rows: table.rows() })
    }

    fn get(&self, name: Option<&str>, row: usize) -> Option<&'t str> {
        name.and_then(|n| self.columns[n][row])
    }

    fn text(&self, name: Option<&str>, row: usize) -> String {
        clean::text(self.get(name, row))
    }
}

/// Checks the mapping against the file's header, all at once.
fn mapped_columns(c: &SalesColumns) -> Vec<&str> {
    let mut names = vec![c.date.as_str()];
    names.extend(mapped(&c.amount));
    names.extend(SalesField::ALL.iter().filter_map(|f| f.column(c)));
    names.extend(c.attributes.values().map(String::as_str));
    names.extend(c.line_attributes.values().map(String::as_str));
    names.extend(c.duplicates.key.iter().map(String::as_str));
    names
}

pub fn parse(
    table: &RawTable,
    columns: &SalesColumns,
    outcomes: &Outcomes,
    exclusions: &Exclusions,
    money: &Money,
) -> Result<Sales, DataError> {
    let c = columns;
    let cells = Cells::read(table, &mapped_columns(c))?;
    let file = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = CleaningReport::new(&file, table.rows());
    let duplicates = table.duplicate_rows(&c.duplicates.key, &c.duplicates.ignore)?;
    report.duplicate_key = c.duplicates.key.clone();
    let dates = clean::DateColumn::parse(table, &c.date, &c.date_format, c.date_tolerance)?;
    let field = |f: SalesField| f.column(c);
    // Ship dates follow the order date's format; one that does not parse is a bad cell.
    let ship_dates = field(SalesField::ShipDate)
        .map(|column| clean::DateColumn::parse(table, column, dates.format(), 1.0))
        .transpose()?;
    // Order attributes, then line attributes, each by name.
    let attributes: Vec<(Attribute, &str)> = c
        .attributes
        .iter()
        .map(|(name, column)| {
            (Attribute { name: name.clone(), order_level: true }, column.as_str())
        })
        .chain(c.line_attributes.iter().map(|(name, column)| {
            (Attribute { name: name.clone(), order_level: false }, column.as_str())
        }))
        .collect();
    let excluded = Excluder::new(exclusions);
    let pick = |f: SalesField, i: usize| cells.text(field(f), i);
    let mut texts = Interner::default();
    let mut lines = Vec::with_capacity(cells.rows);
    for (i, &duplicate) in duplicates.iter().enumerate() {
        let row = i + 1;
        if duplicate {
            if c.duplicates.keep {
                report.identical_rows_kept += 1;
            } else {
                report.duplicates_dropped += 1;
                continue;
            }
        }
        let Some((date, hour)) = dates.at(i) else {
            report.drop_row("unparsable date (within date_tolerance)");
            continue;
        };
        let product_id = pick(SalesField::ProductId, i);
        if product_id.is_empty() && field(SalesField::ProductId).is_some() {
            report.drop_row("missing product id");
            continue;
        }
        let customer_id = pick(SalesField::CustomerId, i);
        let order_id = match field(SalesField::OrderId) {
            Some(_) => pick(SalesField::OrderId, i),
            // Declared absent: a customer's lines of one day are one order.
            None if !customer_id.is_empty() => format!("{customer_id}|{date}"),
            None => format!("row {row}"),
        };
        let status = pick(SalesField::Status, i);
        let product_name = pick(SalesField::ProductName, i);
        let raw = |name: Option<&str>| cells.get(name, i);
        let quantity = clean::number(raw(field(SalesField::Quantity))).record(
            &mut report,
            field(SalesField::Quantity).unwrap_or(""),
            row,
            raw(field(SalesField::Quantity)),
        );
        let currency =
            line_currency(money, &pick(SalesField::Currency, i), &pick(SalesField::Country, i));
        let rate = match exchange_rate(money, &currency) {
            Some(rate) => {
                if currency != money.currency {
                    *report.converted.entry(currency.clone()).or_default() += 1;
                }
                rate
            }
            None => {
                return Err(DataError::BadCell {
                    path: table.path.clone(),
                    row,
                    column: field(SalesField::Currency)
                        .or(field(SalesField::Country))
                        .unwrap_or("currency")
                        .to_owned(),
                    reason: format!(
                        "currency {:?} is not the reporting currency {} and has no rate in money.exchange_rates",
                        clean::echo(&currency),
                        money.currency
                    ),
                });
            }
        };
        let money_cell = |name: Option<&str>, report: &mut CleaningReport| {
            clean::number(raw(name))
                .record(report, name.unwrap_or(""), row, raw(name))
                .map(|v| v * rate)
        };
        let mut unit_price = money_cell(field(SalesField::UnitPrice), &mut report);
        let mut amount = match mapped(&c.amount) {
            Some(_) => money_cell(mapped(&c.amount), &mut report),
            None => quantity.zip(unit_price).map(|(q, p)| q * p),
        };
        let cost = money_cell(field(SalesField::Cost), &mut report);
        let mut profit = money_cell(field(SalesField::Profit), &mut report)
            .or_else(|| amount.zip(cost).map(|(a, c)| a - c));
        if unit_price.is_none() && !outcomes.quantity_recorded_after_outcome {
            unit_price =
                amount.zip(quantity).filter(|(_, q)| *q != 0.0).map(|(a, q)| (a / q).abs());
        }
        let mut quantity = quantity.unwrap_or(1.0);
        let outcome = outcome_of(outcomes, &status, &order_id, quantity);
        if outcome == Outcome::ReturnLine {
            quantity = -quantity.abs();
            amount = amount.map(|a| -a.abs());
            profit = profit.map(|p| if p > 0.0 { -p } else { p });
        }
        let rule = excluded.matches(&product_id, &product_name).or_else(|| {
            (exclusions.zero_amount_lines && amount == Some(0.0))
                .then(|| "zero amount (stock adjustment)".to_owned())
        });
        if let Some(rule) = rule {
            report.exclude(&rule, amount.unwrap_or(0.0));
            continue;
        }
        if outcome == Outcome::ReturnLine {
            report.return_lines += 1;
        } else if amount.is_some_and(|a| a < 0.0) {
            report.bad_cell(mapped(&c.amount).unwrap_or("amount"), row, &format!("{amount:?}"));
            amount = None;
        }
        lines.push(SaleLine {
            row,
            order_id: texts.get(&order_id),
            date,
            hour,
            product_id: texts.get(&product_id),
            product_group: texts.get(&pick(SalesField::ProductGroup, i)),
            product_name: texts.get(&product_name),
            quantity,
            unit_price,
            amount,
            profit,
            status: texts.get(&status),
            outcome,
            customer_id: texts.get(&customer_id),
            country: texts.get(&pick(SalesField::Country, i)),
            region: texts.get(&pick(SalesField::Region, i)),
            state: texts.get(&pick(SalesField::State, i)),
            city: texts.get(&pick(SalesField::City, i)),
            postal_code: texts.get(&pick(SalesField::PostalCode, i)),
            channel: texts.get(&pick(SalesField::Channel, i)),
            category: texts.get(&pick(SalesField::Category, i)),
            ship_date: ship_dates.as_ref().and_then(|d| {
                let day = d.at(i).map(|(day, _)| day);
                if day.is_none()
                    && raw(field(SalesField::ShipDate)).is_some_and(|v| !v.trim().is_empty())
                {
                    report.bad_cell(
                        field(SalesField::ShipDate).unwrap_or(""),
                        row,
                        raw(field(SalesField::ShipDate)).unwrap_or(""),
                    );
                }
                day
            }),
            discount: clean::number(raw(field(SalesField::Discount)))
                .record(
                    &mut report,
                    field(SalesField::Discount).unwrap_or(""),
                    row,
                    raw(field(SalesField::Discount)),
                )
                .map(|d| {
                    if raw(field(SalesField::Discount)).is_some_and(|v| v.contains('%')) || d > 1.0
                    {
                        d / 100.0
                    } else {
                        d
                    }
                }),
            promotion: texts.get(&pick(SalesField::Promotion, i)),
            delivery_status: texts.get(&pick(SalesField::DeliveryStatus, i)),
            attributes: attributes
                .iter()
                .map(|(_, column)| texts.get(&cells.text(Some(column), i)))
                .collect(),
        });
    }
    report.rows_kept = lines.len();
    link_returns(&mut lines, outcomes.return_window_days, &mut report);
    if let Some(amount) = mapped(&c.amount) {
        report.check_mostly_parsed(&table.path, amount, "amounts")?;
    }
    let mut fields: BTreeSet<SalesField> =
        SalesField::ALL.iter().copied().filter(|f| f.column(c).is_some()).collect();
    if mapped(&c.amount).is_none() {
        fields.insert(SalesField::UnitPrice);
    }
    Ok(Sales {
        lines,
        report,
        fields,
        attributes: attributes.into_iter().map(|(a, _)| a).collect(),
        region_names: c.region_names.clone(),
        currency: money.currency.clone(),
    })
}

/// Matches each return line to the customer's latest earlier sale of the product (within
/// `window_days`, each sale once), which becomes [`Outcome::ReturnedLater`]; the report counts
/// matched and unmatched return lines.
fn link_returns(lines: &mut [SaleLine], window_days: i64, report: &mut CleaningReport) {
    let mut sales: std::collections::HashMap<(&str, &str), Vec<usize>> = Default::default();
    let mut returns = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.customer_id.is_empty() || l.product_id.is_empty() {
            continue;
        }
        match l.outcome {
            Outcome::Sold => sales.entry((&l.customer_id, &l.product_id)).or_default().push(i),
            Outcome::ReturnLine => returns.push(i),
            _ => {}
        }
    }
    if returns.is_empty() {
        return;
    }
    for candidates in sales.values_mut() {
        candidates.sort_by_key(|&i| (lines[i].date, lines[i].hour, lines[i].row));
    }
    returns.sort_by_key(|&i| (lines[i].date, lines[i].hour, lines[i].row));
    let mut matched = Vec::new();
    let mut used = vec![false; lines.len()];
    for r in returns {
        let key = (&*lines[r].customer_id, &*lines[r].product_id);
        let (date, hour) = (lines[r].date, lines[r].hour);
        let found = sales.get(&key).and_then(|candidates| {
            candidates.iter().rev().copied().find(|&s| {
                !used[s]
                    && (lines[s].date, lines[s].hour) <= (date, hour)
                    && (date - lines[s].date).num_days() <= window_days
            })
        });
        match found {
            Some(s) => {
                used[s] = true;
                matched.push(s);
                report.returns_matched += 1;
            }
            None => report.returns_unmatched += 1,
        }
    }
    for s in matched {
        lines[s].outcome = Outcome::ReturnedLater;
    }
}

fn line_currency(money: &Money, column: &str, country: &str) -> String {
    if !column.is_empty() {
        return column.to_ascii_uppercase();
    }
    money.currency_by_country.get(country).cloned().unwrap_or_else(|| money.currency.clone())
}

fn exchange_rate(money: &Money, currency: &str) -> Option<f64> {
    if currency == money.currency { Some(1.0) } else { money.exchange_rates.get(currency).copied() }
}

fn outcome_of(o: &Outcomes, status: &str, order_id: &str, quantity: f64) -> Outcome {
    let is = |values: &[String], prefixes: &[String]| {
        values.iter().any(|v| v == status)
            || prefixes.iter().any(|p| status.starts_with(p.as_str()))
    };
    if o.credit_note_order_prefixes.iter().any(|p| order_id.starts_with(p.as_str()))
        || (o.negative_quantity_is_return && quantity < 0.0)
    {
        Outcome::ReturnLine
    } else if is(&o.cancelled_statuses, &o.cancelled_status_prefixes) {
        Outcome::Cancelled
    } else if is(&o.returned_statuses, &o.returned_status_prefixes) {
        Outcome::Returned
    } else if o.pending_status_prefixes.iter().any(|p| status.starts_with(p.as_str())) {
        Outcome::Pending
    } else {
        Outcome::Sold
    }
}

/// The non-product line rules (compiled when the configuration loaded).
struct Excluder<'e> {
    ids: &'e [Pattern],
    names: &'e [Pattern],
}

impl<'e> Excluder<'e> {
    fn new(e: &'e Exclusions) -> Self {
        Self { ids: &e.product_id_patterns, names: &e.product_name_patterns }
    }

    /// The rule that excludes this line, if any ("product id ~ ^POST$").
    fn matches(&self, product_id: &str, name: &str) -> Option<String> {
        if let Some(p) = self.ids.iter().find(|p| p.regex.is_match(product_id)) {
            return Some(format!("product id {product_id} (pattern {})", p.text));
        }
        self.names
            .iter()
            .find(|p| !name.is_empty() && p.regex.is_match(name))
            .map(|p| format!("product name matching {}", p.text))
    }
}

impl ExcludedLines {
    pub fn add(&mut self, revenue: f64) {
        self.lines += 1;
        self.revenue += revenue;
    }
}
