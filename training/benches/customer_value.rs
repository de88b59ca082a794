//! Maximum-likelihood fits of the repeat-buying models on CDNOW's master file (23,570
//! customers, ../shared/data/cdnow_master.csv.gz beside the clone): `cargo bench -p
//! shopml-training --bench customer_value`. The goal is a BG/NBD fit within 0.3 s on 2 cores
//! (the Python package lifetimes: 0.29 s; its Pareto/NBD 6.1 s).

use criterion::{Criterion, criterion_group, criterion_main};
use shopml_core::customer_value::PurchaseModelKind;
use shopml_training::customer_value::{fit_purchases, fit_spend, likelihood::Histories};
use std::path::Path;

fn fits(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("../shared/data");
    if !data.join("cdnow_master.csv.gz").is_file() {
        eprintln!("no cdnow_master.csv.gz in {}: nothing to measure", data.display());
        return;
    }
    let config = shopml_training::pipeline::load_config(&[root
        .join("config/retailers/cdnow.toml")
        .as_path()])
    .unwrap();
    let sales = shopml_training::data::read_exports(&data, &config).unwrap().sales.unwrap();
    let end = chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let days = shopml_training::customer_value::purchase_days(&sales);
    let rows: Vec<(f64, f64, f64, Vec<f64>)> = days
        .values()
        .filter_map(|d| {
            let calibration: Vec<_> = d.iter().filter(|p| p.0 <= end).collect();
            let (first, last) = (calibration.first()?.0, calibration.last()?.0);
            let weeks =
                |a: chrono::NaiveDate, b: chrono::NaiveDate| (b - a).num_days() as f64 / 7.0;
            Some(((calibration.len() - 1) as f64, weeks(first, last), weeks(first, end), vec![]))
        })
        .collect();
    let histories = Histories::grouped(rows);
    let mut group = c.benchmark_group(format!("cdnow master ({} customers)", days.len()));
    group.sample_size(10);
    group.bench_function("BG/NBD fit", |b| {
        b.iter(|| fit_purchases(PurchaseModelKind::BgNbd, &histories))
    });
    group.bench_function("MBG/NBD fit", |b| {
        b.iter(|| fit_purchases(PurchaseModelKind::MbgNbd, &histories))
    });
    let (x, m): (Vec<f64>, Vec<f64>) = days
        .values()
        .filter(|d| d.len() > 1)
        .map(|d| {
            ((d.len() - 1) as f64, d[1..].iter().map(|p| p.1).sum::<f64>() / (d.len() - 1) as f64)
        })
        .filter(|(_, m)| *m > 0.0)
        .unzip();
    group.bench_function("Gamma-Gamma fit", |b| b.iter(|| fit_spend(&x, &m)));
    group.finish();
}

criterion_group!(benches, fits);
criterion_main!(benches);
