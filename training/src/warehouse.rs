//! The cleaned order lines as a star schema for BI tools (DuckDB, Spark, polars): Parquet
//! tables `fact_order_line` (partitioned by month, Hive style, so an engine scans months in
//! parallel), `dim_product`, `dim_customer`, `dim_region` and `dim_date`. Keys and columns are
//! documented in docs/DATA.md ("Star schema").

use crate::data::Exports;
use crate::data::sales::{SaleLine, Sales};
use crate::pipeline::TrainError;
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use shopml_core::features::FastMap;
use std::collections::BTreeMap;
use std::path::Path;

/// Rows written per table.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WarehouseCounts {
    pub fact_order_line: usize,
    pub dim_product: usize,
    pub dim_customer: usize,
    pub dim_region: usize,
    pub dim_date: usize,
    /// Month partitions of the fact table.
    pub months: usize,
}

/// Dense 1-based surrogate keys of distinct values, in first-seen order (0 is "none").
struct Keys<K> {
    index: FastMap<K, u32>,
    rows: Vec<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Keys<K> {
    fn new() -> Self {
        Self { index: FastMap::default(), rows: Vec::new() }
    }

    fn key(&mut self, value: &K) -> u32 {
        if let Some(&k) = self.index.get(value) {
            return k;
        }
        self.rows.push(value.clone());
        let k = self.rows.len() as u32;
        self.index.insert(value.clone(), k);
        k
    }
}

fn date_key(d: NaiveDate) -> i32 {
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

fn text(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

fn write_parquet(path: &Path, columns: Vec<Column>) -> Result<(), TrainError> {
    let io = |e: std::io::Error| TrainError::Invalid(format!("{}: {e}", path.display()));
    let polars = |e: PolarsError| TrainError::Invalid(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut frame = DataFrame::new_infer_height(columns).map_err(polars)?;
    let file = std::fs::File::create(path).map_err(io)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .finish(&mut frame)
        .map_err(polars)?;
    Ok(())
}

/// The region columns of a line.
#[derive(Clone, Hash, PartialEq, Eq)]
struct RegionRow {
    /// The region as insights group by (the export's finest region field that is filled).
    region: String,
    country: String,
    area: String,
    state: String,
    city: String,
}

/// Writes the star schema of the cleaned sales into `dir` (replacing what is there).
pub fn write(exports: &Exports, dir: &Path) -> Result<WarehouseCounts, TrainError> {
    let Some(sales) = exports.sales.as_ref() else {
        return Err(TrainError::Invalid("the warehouse needs the order-line export".into()));
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| TrainError::Invalid(format!("{}: {e}", dir.display())))?;
    }
    let mut products: Keys<String> = Keys::new();
    let mut customers: Keys<String> = Keys::new();
    let mut regions: Keys<RegionRow> = Keys::new();
    let mut by_month: BTreeMap<String, Vec<(&SaleLine, u32, u32, u32)>> = BTreeMap::new();
    for line in &sales.lines {
        let product = products.key(&line.product_id.to_string());
        let customer = match text(&line.customer_id) {
            Some(id) => customers.key(&id.to_owned()),
            None => 0,
        };
        let region = regions.key(&region_row(sales, line));
        by_month
            .entry(shopml_core::insights::month_of(line.date))
            .or_default()
            .push((line, product, customer, region));
    }
    let fact_rows = write_facts(&by_month, dir)?;
    write_products(sales, &products, dir)?;
    write_customers(exports, sales, &customers, dir)?;
    write_regions(&regions, dir)?;
    let dates = write_dates(sales, dir)?;
    Ok(WarehouseCounts {
        fact_order_line: fact_rows,
        dim_product: products.rows.len(),
        dim_customer: customers.rows.len(),
        dim_region: regions.rows.len(),
        dim_date: dates,
        months: by_month.len(),
    })
}

fn region_row(sales: &Sales, line: &SaleLine) -> RegionRow {
    RegionRow {
        region: sales.region_key(line),
        country: line.country.to_string(),
        area: line.region.to_string(),
        state: line.state.to_string(),
        city: line.city.to_string(),
    }
}

type FactRow<'a> = (&'a SaleLine, u32, u32, u32);

fn write_facts(
    by_month: &BTreeMap<String, Vec<FactRow<'_>>>,
    dir: &Path,
) -> Result<usize, TrainError> {
    let mut written = 0;
    for (month, rows) in by_month {
        let col_u64 = |name: &str, f: &dyn Fn(&FactRow<'_>) -> u64| {
            Column::new(name.into(), rows.iter().map(f).collect::<Vec<u64>>())
        };
        let col_u32 = |name: &str, f: &dyn Fn(&FactRow<'_>) -> u32| {
            Column::new(name.into(), rows.iter().map(f).collect::<Vec<u32>>())
        };
        let col_f64 = |name: &str, f: &dyn Fn(&SaleLine) -> Option<f64>| {
            Column::new(name.into(), rows.iter().map(|r| f(r.0)).collect::<Vec<Option<f64>>>())
        };
        let col_text = |name: &str, f: &dyn Fn(&SaleLine) -> &str| {
            Column::new(
                name.into(),
                rows.iter().map(|r| text(f(r.0))).collect::<Vec<Option<&str>>>(),
            )
        };
        let columns = vec![
            col_u64("line_key", &|r| r.0.row as u64),
            col_text("order_id", &|l| &l.order_id),
            Column::new(
                "date_key".into(),
                rows.iter().map(|r| date_key(r.0.date)).collect::<Vec<i32>>(),
            ),
            col_u32("product_key", &|r| r.1),
            Column::new(
                "customer_key".into(),
                rows.iter().map(|r| (r.2 > 0).then_some(r.2)).collect::<Vec<Option<u32>>>(),
            ),
            col_u32("region_key", &|r| r.3),
            Column::new("hour".into(), rows.iter().map(|r| r.0.hour).collect::<Vec<Option<u32>>>()),
            col_f64("quantity", &|l| Some(l.quantity)),
            col_f64("unit_price", &|l| l.unit_price),
            col_f64("amount", &|l| l.amount),
            col_f64("net_revenue", &|l| Some(l.revenue())),
            col_f64("net_units", &|l| Some(l.units())),
            col_f64("profit", &|l| l.profit),
            col_f64("discount", &|l| l.discount),
            Column::new(
                "outcome".into(),
                rows.iter().map(|r| outcome_name(r.0)).collect::<Vec<&str>>(),
            ),
            col_text("status", &|l| &l.status),
            col_text("channel", &|l| &l.channel),
            col_text("promotion", &|l| &l.promotion),
            col_text("delivery_status", &|l| &l.delivery_status),
            Column::new(
                "ship_date_key".into(),
                rows.iter().map(|r| r.0.ship_date.map(date_key)).collect::<Vec<Option<i32>>>(),
            ),
        ];
        write_parquet(
            &dir.join("fact_order_line").join(format!("month={month}")).join("part-0.parquet"),
            columns,
        )?;
        written += rows.len();
    }
    Ok(written)
}

fn outcome_name(line: &SaleLine) -> &'static str {
    use crate::data::sales::Outcome;
    match line.outcome {
        Outcome::Sold => "sold",
        Outcome::Cancelled => "cancelled",
        Outcome::Returned => "returned",
        Outcome::Pending => "pending",
        Outcome::ReturnLine => "return_line",
        Outcome::ReturnedLater => "returned_later",
    }
}

fn write_products(sales: &Sales, products: &Keys<String>, dir: &Path) -> Result<(), TrainError> {
    // Category, group and name as first seen per product.
    let mut described: FastMap<&str, [&str; 3]> = FastMap::default();
    for l in &sales.lines {
        described.entry(&l.product_id).or_insert([&l.category, &l.product_group, &l.product_name]);
    }
    let rows = &products.rows;
    let field = |i: usize| {
        rows.iter()
            .map(|id| described.get(id.as_str()).and_then(|d| text(d[i])))
            .collect::<Vec<Option<&str>>>()
    };
    write_parquet(
        &dir.join("dim_product.parquet"),
        vec![
            Column::new("product_key".into(), (1..=rows.len() as u32).collect::<Vec<u32>>()),
            Column::new(
                "product_id".into(),
                rows.iter().map(String::as_str).collect::<Vec<&str>>(),
            ),
            Column::new("category".into(), field(0)),
            Column::new("product_group".into(), field(1)),
            Column::new("product_name".into(), field(2)),
        ],
    )
}

fn write_customers(
    exports: &Exports,
    sales: &Sales,
    customers: &Keys<String>,
    dir: &Path,
) -> Result<(), TrainError> {
    let n = customers.rows.len();
    let (mut first, mut last) = (vec![i32::MAX; n], vec![i32::MIN; n]);
    let mut lines = vec![0u32; n];
    for l in &sales.lines {
        if let Some(&k) = customers.index.get(&*l.customer_id) {
            let i = k as usize - 1;
            first[i] = first[i].min(date_key(l.date));
            last[i] = last[i].max(date_key(l.date));
            lines[i] += 1;
        }
    }
    // Demographics from the customer file, when it has the same ids.
    let mut demographics: FastMap<&str, [&str; 4]> = FastMap::default();
    if let Some(purchases) = &exports.customers {
        for p in &purchases.purchases {
            demographics.entry(&p.user_id).or_insert([
                &p.gender,
                &p.age_group,
                &p.marital_status,
                &p.occupation,
            ]);
        }
    }
    let demo = |field: usize| {
        customers
            .rows
            .iter()
            .map(|id| demographics.get(id.as_str()).and_then(|d| text(d[field])))
            .collect::<Vec<Option<&str>>>()
    };
    write_parquet(
        &dir.join("dim_customer.parquet"),
        vec![
            Column::new("customer_key".into(), (1..=n as u32).collect::<Vec<u32>>()),
            Column::new(
                "customer_id".into(),
                customers.rows.iter().map(String::as_str).collect::<Vec<&str>>(),
            ),
            Column::new("first_date_key".into(), first),
            Column::new("last_date_key".into(), last),
            Column::new("order_lines".into(), lines),
            Column::new("gender".into(), demo(0)),
            Column::new("age_group".into(), demo(1)),
            Column::new("marital_status".into(), demo(2)),
            Column::new("occupation".into(), demo(3)),
        ],
    )
}

fn write_regions(regions: &Keys<RegionRow>, dir: &Path) -> Result<(), TrainError> {
    let rows = &regions.rows;
    let col = |name: &str, f: fn(&RegionRow) -> &str| {
        Column::new(name.into(), rows.iter().map(|r| text(f(r))).collect::<Vec<Option<&str>>>())
    };
    write_parquet(
        &dir.join("dim_region.parquet"),
        vec![
            Column::new("region_key".into(), (1..=rows.len() as u32).collect::<Vec<u32>>()),
            col("region", |r| &r.region),
            col("country", |r| &r.country),
            col("area", |r| &r.area),
            col("state", |r| &r.state),
            col("city", |r| &r.city),
        ],
    )
}

/// Every day from the first order to the last (and the ship dates beyond), so a BI tool sees
/// days without sales as rows of the calendar.
fn write_dates(sales: &Sales, dir: &Path) -> Result<usize, TrainError> {
    let (Some(first), Some(last)) = (sales.first_date(), sales.last_date()) else {
        return Ok(0);
    };
    let last_ship = sales.lines.iter().filter_map(|l| l.ship_date).max().unwrap_or(last);
    let first_ship = sales.lines.iter().filter_map(|l| l.ship_date).min().unwrap_or(first);
    let days: Vec<NaiveDate> =
        first.min(first_ship).iter_days().take_while(|d| *d <= last.max(last_ship)).collect();
    write_parquet(
        &dir.join("dim_date.parquet"),
        vec![
            Column::new("date_key".into(), days.iter().map(|d| date_key(*d)).collect::<Vec<i32>>()),
            Column::new("date".into(), days.iter().map(|d| d.to_string()).collect::<Vec<String>>()),
            Column::new("year".into(), days.iter().map(|d| d.year()).collect::<Vec<i32>>()),
            Column::new(
                "quarter".into(),
                days.iter().map(|d| d.month0() / 3 + 1).collect::<Vec<u32>>(),
            ),
            Column::new(
                "month".into(),
                days.iter().map(|d| shopml_core::insights::month_of(*d)).collect::<Vec<String>>(),
            ),
            Column::new(
                "month_of_year".into(),
                days.iter().map(|d| d.month()).collect::<Vec<u32>>(),
            ),
            Column::new("day_of_month".into(), days.iter().map(|d| d.day()).collect::<Vec<u32>>()),
            Column::new(
                "weekday".into(),
                days.iter().map(|d| d.weekday().to_string()).collect::<Vec<String>>(),
            ),
            Column::new(
                "iso_week".into(),
                days.iter().map(|d| d.iso_week().week()).collect::<Vec<u32>>(),
            ),
            Column::new(
                "is_weekend".into(),
                days.iter().map(|d| d.weekday().number_from_monday() >= 6).collect::<Vec<bool>>(),
            ),
            Column::new(
                "holiday".into(),
                days.iter().map(|d| crate::insights::holiday_on(*d)).collect::<Vec<Option<&str>>>(),
            ),
        ],
    )?;
    Ok(days.len())
}
