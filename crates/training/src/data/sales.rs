//! The sale report: one row per order line.

use super::clean::{self, CleaningReport};
use super::read::RawTable;
use crate::config::SalesColumns;
use crate::error::DataError;
use chrono::NaiveDate;
use shopml_core::cancellation::CheckoutLine;
use shopml_core::features::FastSet;

/// One cleaned order line.
#[derive(Debug, Clone, PartialEq)]
pub struct SaleLine {
    /// Data row in the file (1-based, header excluded).
    pub row: usize,
    pub order_id: String,
    pub date: NaiveDate,
    pub status: String,
    pub fulfilment: String,
    pub sales_channel: String,
    pub ship_service_level: String,
    pub style: String,
    pub sku: String,
    pub category: String,
    pub size: String,
    pub asin: String,
    /// Line amount in rupees; `None` when missing or unparsable.
    pub amount: Option<f64>,
    pub ship_city: String,
    pub ship_state: String,
    pub ship_postal_code: String,
    pub b2b: bool,
}

impl SaleLine {
    /// What the checkout knew about this line: the cancellation model's input.
    pub fn checkout_line(&self) -> CheckoutLine<'_> {
        CheckoutLine {
            order_date: self.date,
            fulfilment: &self.fulfilment,
            sales_channel: &self.sales_channel,
            ship_service_level: &self.ship_service_level,
            b2b: self.b2b,
            ship_city: &self.ship_city,
            ship_state: &self.ship_state,
            ship_postal_code: &self.ship_postal_code,
            sku: &self.sku,
            style: &self.style,
            asin: &self.asin,
            category: &self.category,
            size: &self.size,
            unit_price_inr: self.amount,
        }
    }
}

pub struct Sales {
    pub lines: Vec<SaleLine>,
    pub report: CleaningReport,
}

pub fn parse(table: &RawTable, columns: &SalesColumns) -> Result<Sales, DataError> {
    let c = columns;
    let get = |name: &str| table.column(name);
    let (order_id, date, status, fulfilment, channel, level) = (
        get(&c.order_id)?,
        get(&c.date)?,
        get(&c.status)?,
        get(&c.fulfilment)?,
        get(&c.sales_channel)?,
        get(&c.ship_service_level)?,
    );
    let (style, sku, category, size, asin, amount) = (
        get(&c.style)?,
        get(&c.sku)?,
        get(&c.category)?,
        get(&c.size)?,
        get(&c.asin)?,
        get(&c.amount)?,
    );
    let (city, state, postal, b2b) =
        (get(&c.ship_city)?, get(&c.ship_state)?, get(&c.ship_postal_code)?, get(&c.b2b)?);
    let file = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = CleaningReport::new(&file, table.rows());
    let mut seen = FastSet::with_capacity_and_hasher(table.rows(), Default::default());
    let mut lines = Vec::with_capacity(table.rows());
    for i in 0..table.rows() {
        let row = i + 1;
        let key = [
            order_id[i],
            date[i],
            status[i],
            fulfilment[i],
            channel[i],
            level[i],
            style[i],
            sku[i],
            category[i],
            size[i],
            asin[i],
            amount[i],
            city[i],
            state[i],
            postal[i],
            b2b[i],
        ];
        if !seen.insert(key) {
            report.duplicates_dropped += 1;
            continue;
        }
        let Some(day) =
            clean::date(date[i], &c.date_format).record(&mut report, &c.date, row, date[i])
        else {
            report.drop_row("missing or unparsable date");
            continue;
        };
        let status_text = clean::text(status[i]);
        if status_text.is_empty() {
            report.drop_row("missing status");
            continue;
        }
        let sku_text = clean::text(sku[i]);
        if sku_text.is_empty() {
            report.drop_row("missing SKU");
            continue;
        }
        lines.push(SaleLine {
            row,
            order_id: clean::text(order_id[i]),
            date: day,
            status: status_text,
            fulfilment: clean::text(fulfilment[i]),
            sales_channel: clean::text(channel[i]),
            ship_service_level: clean::text(level[i]),
            style: clean::text(style[i]),
            sku: sku_text,
            category: clean::text(category[i]),
            size: clean::text(size[i]),
            asin: clean::text(asin[i]),
            amount: clean::non_negative(amount[i]).record(&mut report, &c.amount, row, amount[i]),
            ship_city: clean::text(city[i]),
            ship_state: clean::text(state[i]),
            ship_postal_code: clean::text(postal[i]),
            b2b: clean::boolean(b2b[i]).record(&mut report, &c.b2b, row, b2b[i]).unwrap_or(false),
        });
    }
    report.rows_kept = lines.len();
    report.check_mostly_parsed(
        &table.path,
        &c.date,
        &format!("dates of the form {}", c.date_format),
    )?;
    report.check_mostly_parsed(&table.path, &c.amount, "amounts")?;
    Ok(Sales { lines, report })
}
