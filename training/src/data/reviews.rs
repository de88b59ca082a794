//! The per-review file: one row per review with its star rating.

use super::clean::{self, CleaningReport};
use super::read::RawTable;
use crate::config::ReviewColumns;
use crate::error::DataError;

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub row: usize,
    pub product: String,
    pub rating: Option<f64>,
    pub text: String,
    pub title: String,
}

pub struct Reviews {
    pub reviews: Vec<Review>,
    pub report: CleaningReport,
}

/// Reads every review; labelling and deduplication follow the protocol in the sentiment
/// training (identical texts are one review there).
pub fn parse(table: &RawTable, c: &ReviewColumns) -> Result<Reviews, DataError> {
    let get = |name: &str| table.column(name);
    let (product, rating, text, title) =
        (get(&c.product)?, get(&c.rating)?, get(&c.text)?, get(&c.title)?);
    let file = table.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = CleaningReport::new(&file, table.rows());
    let mut reviews = Vec::with_capacity(table.rows());
    for i in 0..table.rows() {
        let row = i + 1;
        let rating_value =
            match clean::number(rating[i]).record(&mut report, &c.rating, row, rating[i]) {
                Some(r) if !(0.0..=5.0).contains(&r) => {
                    report.bad_cell(&c.rating, row, rating[i].unwrap_or(""));
                    None
                }
                other => other,
            };
        reviews.push(Review {
            row,
            product: clean::text(product[i]),
            rating: rating_value,
            text: clean::text(text[i]),
            title: clean::text(title[i]),
        });
    }
    report.rows_kept = reviews.len();
    report.check_mostly_parsed(&table.path, &c.rating, "ratings from 0 to 5")?;
    Ok(Reviews { reviews, report })
}
