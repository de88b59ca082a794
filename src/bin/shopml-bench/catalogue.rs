//! Price requests from a products export in the published schema (`amazon_products.csv`, gzip
//! or plain), so the load is the pricing team's: real names, category paths and prices of
//! every length, not one short made-up product.

use anyhow::Context;
use shopml_server::proto;
use std::io::Read;
use std::path::Path;

/// Splits CSV text into records (RFC 4180: quoted fields, doubled quotes, line breaks inside
/// quotes).
fn records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// "₹1,099" → 1099.0.
fn number(cell: &str) -> Option<f64> {
    let digits: String = cell.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
    digits.parse().ok()
}

/// The products of `path` with a list price, as the pricing team sends them.
pub fn products(path: &Path) -> anyhow::Result<Vec<proto::Product>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .with_context(|| format!("decompressing {}", path.display()))?;
    } else {
        text =
            String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))?;
    }
    let mut rows = records(text.trim_start_matches('\u{feff}')).into_iter();
    let header = rows.next().context("an empty products file")?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column '{name}'", path.display()))
    };
    let (id, name, category, price, rating, count) = (
        column("product_id")?,
        column("product_name")?,
        column("category")?,
        column("actual_price")?,
        column("rating")?,
        column("rating_count")?,
    );
    let products: Vec<proto::Product> = rows
        .filter_map(|row| {
            let list_price = number(row.get(price)?).filter(|p| *p > 0.0)?;
            Some(proto::Product {
                product_id: row.get(id)?.clone(),
                name: row.get(name)?.clone(),
                category_path: row.get(category)?.clone(),
                list_price,
                rating: row.get(rating).and_then(|r| r.trim().parse().ok()),
                rating_count: row.get(count).and_then(|c| number(c)).map(|c| c as i64),
                currency: String::new(),
            })
        })
        .collect();
    anyhow::ensure!(!products.is_empty(), "{}: no product with a list price", path.display());
    Ok(products)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_fields_and_rupee_prices() {
        let rows = records("a,b\n\"x, \"\"y\"\"\",\"₹1,099\"\r\nz,\n");
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x, \"y\"", "₹1,099"], vec!["z", ""]]);
        assert_eq!(number("₹1,099"), Some(1099.0));
        assert_eq!(number(""), None);
    }
}
