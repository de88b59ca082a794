//! Ingestion of the retailer's exports with polars, exactly as published, and their cleaning.

pub mod clean;
pub mod customers;
pub mod products;
pub mod read;
pub mod reviews;
pub mod sales;

use crate::config::TrainConfig;
use crate::error::DataError;
use clean::CleaningReport;
use read::{find_export, read_table};
use std::collections::BTreeMap;
use std::path::Path;

/// Everything the training job reads. An export that is absent leaves its models untrained
/// (the bundle then lacks them); one that is present but unreadable is an error.
#[derive(Default)]
pub struct Exports {
    pub sales: Option<sales::Sales>,
    pub products: Option<products::Products>,
    pub customers: Option<customers::Purchases>,
    pub reviews: Option<reviews::Reviews>,
    /// sha256 of every file read, by file name.
    pub fingerprint: BTreeMap<String, String>,
}

impl Exports {
    pub fn reports(&self) -> Vec<&CleaningReport> {
        let mut out = Vec::new();
        if let Some(s) = &self.sales {
            out.push(&s.report);
        }
        if let Some(p) = &self.products {
            out.push(&p.report);
        }
        if let Some(c) = &self.customers {
            out.push(&c.report);
        }
        if let Some(r) = &self.reviews {
            out.push(&r.report);
        }
        out
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads the exports found in `dir` under the configured names.
pub fn read_exports(dir: &Path, config: &TrainConfig) -> Result<Exports, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Unreadable {
            path: dir.to_owned(),
            reason: "not a directory".into(),
        });
    }
    let d = &config.data;
    let c = &config.columns;
    let mut exports = Exports::default();
    let missing_mapping = |path: &Path, table: &str| DataError::Unreadable {
        path: path.to_owned(),
        reason: format!("the export is configured but [columns.{table}] is not"),
    };
    let path = find_export(dir, &d.sales_file).ok_or_else(|| DataError::MissingFile {
        dir: dir.to_owned(),
        name: d.sales_file.clone(),
    })?;
    let table = read_table(&path, d.sales_encoding, d.delimiter)?;
    exports.fingerprint.insert(file_name(&path), table.sha256.clone());
    exports.sales =
        Some(sales::parse(&table, &c.sales, &config.outcomes, &config.exclusions, &config.money)?);
    drop(table);
    if let Some(path) = d.products_file.as_deref().and_then(|f| find_export(dir, f)) {
        let columns = c.products.as_ref().ok_or_else(|| missing_mapping(&path, "products"))?;
        let table = read_table(&path, d.products_encoding, d.delimiter)?;
        exports.fingerprint.insert(file_name(&path), table.sha256.clone());
        exports.products = Some(products::parse(&table, columns)?);
    }
    if let Some(path) = d.customers_file.as_deref().and_then(|f| find_export(dir, f)) {
        let columns = c.customers.as_ref().ok_or_else(|| missing_mapping(&path, "customers"))?;
        let table = read_table(&path, d.customers_encoding, d.delimiter)?;
        exports.fingerprint.insert(file_name(&path), table.sha256.clone());
        exports.customers = Some(customers::parse(&table, columns)?);
    }
    if let Some(path) = d.reviews_file.as_deref().and_then(|f| find_export(dir, f)) {
        let columns = c.reviews.as_ref().ok_or_else(|| missing_mapping(&path, "reviews"))?;
        let table = read_table(&path, d.reviews_encoding, d.delimiter)?;
        exports.fingerprint.insert(file_name(&path), table.sha256.clone());
        exports.reviews = Some(reviews::parse(&table, columns)?);
    }
    Ok(exports)
}
