//! The product file: one row per product with its list and selling price, rating and reviews.

use super::clean::{self, CleaningReport};
use super::read::RawTable;
use crate::config::ProductColumns;
use crate::error::DataError;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub row: usize,
    pub product_id: String,
    pub name: String,
    /// `|`-separated category levels.
    pub category_path: String,
    pub discounted_price: Option<f64>,
    pub actual_price: Option<f64>,
    pub discount_pct: Option<f64>,
    pub rating: Option<f64>,
    pub rating_count: Option<f64>,
    /// Review titles and texts as published (comma-joined lists).
    pub review_title: String,
    pub review_content: String,
}

pub struct Products {
    pub products: Vec<Product>,
    pub report: CleaningReport,
}

/// Keeps the first row of each product id (EVALUATION.md §2).
pub fn parse(table: &RawTable, c: &ProductColumns) -> Result<Products, DataError> {
    let get = |name: &str| table.column(name);
    let (id, name, category, discounted, actual, discount) = (
        get(&c.product_id)?,
        get(&c.product_name)?,
        get(&c.category)?,
        get(&c.discounted_price)?,
        get(&c.actual_price)?,
        get(&c.discount_percentage)?,
    );
    let (rating, count, title, content) =
        (get(&c.rating)?, get(&c.rating_count)?, get(&c.review_title)?, get(&c.review_content)?);
    let file = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = CleaningReport::new(&file, table.rows());
    let mut seen = HashSet::new();
    let mut products = Vec::new();
    for i in 0..table.rows() {
        let row = i + 1;
        let product_id = clean::text(id[i]);
        if product_id.is_empty() {
            report.drop_row("missing product id");
            continue;
        }
        if !seen.insert(product_id.clone()) {
            report.duplicates_dropped += 1;
            continue;
        }
        let rating_value = clean::number(rating[i]).record(&mut report, &c.rating, row, rating[i]);
        let rating_value = match rating_value {
            Some(r) if !(0.0..=5.0).contains(&r) => {
                report.bad_cell(&c.rating, row, rating[i].unwrap_or(""));
                None
            }
            other => other,
        };
        products.push(Product {
            row,
            product_id,
            name: clean::text(name[i]),
            category_path: clean::text(category[i]),
            discounted_price: clean::non_negative(discounted[i]).record(
                &mut report,
                &c.discounted_price,
                row,
                discounted[i],
            ),
            actual_price: clean::non_negative(actual[i]).record(
                &mut report,
                &c.actual_price,
                row,
                actual[i],
            ),
            discount_pct: clean::non_negative(discount[i]).record(
                &mut report,
                &c.discount_percentage,
                row,
                discount[i],
            ),
            rating: rating_value,
            rating_count: clean::non_negative(count[i]).record(
                &mut report,
                &c.rating_count,
                row,
                count[i],
            ),
            review_title: clean::text(title[i]),
            review_content: clean::text(content[i]),
        });
    }
    report.rows_kept = products.len();
    report.check_mostly_parsed(&table.path, &c.discounted_price, "prices")?;
    report.check_mostly_parsed(&table.path, &c.actual_price, "prices")?;
    Ok(Products { products, report })
}
