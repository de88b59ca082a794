//! The customer purchase file: one row per customer and product category bought.

use super::clean::{self, CleaningReport};
use super::read::RawTable;
use crate::config::CustomerColumns;
use crate::error::DataError;
use std::collections::HashSet;

/// A demographic attribute of a purchase row: its value.
pub type Attribute = fn(&Purchase) -> &str;

/// The customer file's demographic attributes, by name.
pub const DEMOGRAPHICS: [(&str, Attribute); 5] = [
    ("age_group", |p| &p.age_group),
    ("gender", |p| &p.gender),
    ("occupation", |p| &p.occupation),
    ("marital_status", |p| &p.marital_status),
    ("state", |p| &p.state),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    pub row: usize,
    pub user_id: String,
    pub product_id: String,
    pub gender: String,
    pub age_group: String,
    pub marital_status: String,
    pub state: String,
    pub zone: String,
    pub occupation: String,
    pub product_category: String,
    pub orders: Option<f64>,
    pub amount: Option<f64>,
}

pub struct Purchases {
    pub purchases: Vec<Purchase>,
    pub report: CleaningReport,
}

pub fn parse(table: &RawTable, c: &CustomerColumns) -> Result<Purchases, DataError> {
    let get = |name: &str| table.column(name);
    let (user, product, gender, age_group, marital, state) = (
        get(&c.user_id)?,
        get(&c.product_id)?,
        get(&c.gender)?,
        get(&c.age_group)?,
        get(&c.marital_status)?,
        get(&c.state)?,
    );
    let (zone, occupation, category, orders, amount) = (
        get(&c.zone)?,
        get(&c.occupation)?,
        get(&c.product_category)?,
        get(&c.orders)?,
        get(&c.amount)?,
    );
    let file = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = CleaningReport::new(&file, table.rows());
    let mut seen = HashSet::new();
    let mut purchases = Vec::new();
    for i in 0..table.rows() {
        let row = i + 1;
        let key = [
            user[i],
            product[i],
            gender[i],
            age_group[i],
            marital[i],
            state[i],
            zone[i],
            occupation[i],
            category[i],
            orders[i],
            amount[i],
        ];
        if !seen.insert(key) {
            report.duplicates_dropped += 1;
            continue;
        }
        let user_id = clean::text(user[i]);
        if user_id.is_empty() {
            report.drop_row("missing customer id");
            continue;
        }
        purchases.push(Purchase {
            row,
            user_id,
            product_id: clean::text(product[i]),
            gender: clean::text(gender[i]),
            age_group: clean::text(age_group[i]),
            marital_status: clean::text(marital[i]),
            state: clean::text(state[i]).replace('\u{a0}', " "),
            zone: clean::text(zone[i]),
            occupation: clean::text(occupation[i]),
            product_category: clean::text(category[i]),
            orders: clean::non_negative(orders[i]).record(&mut report, &c.orders, row, orders[i]),
            amount: clean::non_negative(amount[i]).record(&mut report, &c.amount, row, amount[i]),
        });
    }
    report.rows_kept = purchases.len();
    report.check_mostly_parsed(&table.path, &c.amount, "amounts")?;
    Ok(Purchases { purchases, report })
}
