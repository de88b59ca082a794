//! Encode + forward cost of the hot paths, on the shipped bundle:
//! `cargo bench --bench predict` (see README "Performance").

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shopml_core::cancellation::{AttributeValues, CheckoutLine};
use shopml_core::models::LoadedBundle;
use shopml_core::price::ProductInput;
use std::hint::black_box;
use std::path::Path;

fn line(i: usize) -> (String, String) {
    (format!("SET{}-M", 100 + (i % 40) * 7), format!("SET{}", 100 + (i % 40) * 7))
}

/// The shipped bundle, or the one `SHOPML_BENCH_BUNDLE` names (e.g. a bundle trained on the real
/// exports, whose vocabularies are larger).
fn bundle() -> LoadedBundle {
    let path = std::env::var_os("SHOPML_BENCH_BUNDLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    LoadedBundle::load(&path).unwrap_or_else(|e| panic!("bundle {}: {e}", path.display()))
}

fn cancellation(c: &mut Criterion) {
    let bundle = bundle();
    let predictor = bundle.models.cancellation.as_ref().unwrap();
    let thresholds = predictor.calibration().risk_thresholds;
    let skus: Vec<(String, String)> = (0..256).map(line).collect();
    let date = chrono::NaiveDate::from_ymd_opt(2022, 6, 12).unwrap();
    // The attributes of Amazon's export, in the order the bundle's encoder reads them.
    let attributes: Vec<&str> = predictor
        .encoder()
        .attributes
        .iter()
        .map(|a| match a.name.as_str() {
            "fulfilment" => "Merchant",
            "ship_service_level" => "Standard",
            "b2b" => "FALSE",
            "asin" => "B0TEST0001",
            "size" => "M",
            _ => "",
        })
        .collect();
    let order = |i: usize| {
        vec![CheckoutLine {
            order_date: date,
            channel: "Amazon.in",
            city: "MUMBAI",
            state: "MAHARASHTRA",
            postal_code: "400081",
            product_id: &skus[i].0,
            product_group: &skus[i].1,
            category: "Set",
            attributes: AttributeValues::Borrowed(&attributes),
            unit_price: Some(799.0),
            customer: None,
        }]
    };
    let mut group = c.benchmark_group("cancellation");
    let one = vec![order(0)];
    group.throughput(Throughput::Elements(1));
    group.bench_function("one order, no explanations", |b| {
        b.iter(|| predictor.predict(black_box(&one), 0, thresholds))
    });
    group.bench_function("one order, 3 reasons", |b| {
        b.iter(|| predictor.predict(black_box(&one), 3, thresholds))
    });
    let batch: Vec<_> = (0..256).map(order).collect();
    group.throughput(Throughput::Elements(256));
    group.bench_function("256 orders, no explanations", |b| {
        b.iter(|| predictor.predict(black_box(&batch), 0, thresholds))
    });
    group.bench_function("256 orders, 3 reasons", |b| {
        b.iter(|| predictor.predict(black_box(&batch), 3, thresholds))
    });
    group.finish();
}

fn price(c: &mut Criterion) {
    let bundle = bundle();
    let predictor = bundle.models.price.as_ref().unwrap();
    let names: Vec<String> = (0..10_000)
        .map(|i| {
            format!("boAt Wireless Earbuds {i} with Mic, Bluetooth 5.0, Fast Charging (Black)")
        })
        .collect();
    let products: Vec<ProductInput<'_>> = names
        .iter()
        .map(|name| ProductInput {
            name,
            category_path: "Electronics|Headphones,Earbuds&Accessories|Headphones|In-Ear",
            list_price: 2999.0,
            rating: Some(4.1),
            rating_count: Some(12_000.0),
        })
        .collect();
    let mut group = c.benchmark_group("price");
    for size in [1usize, 10_000] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("products", size), &products[..size], |b, p| {
            b.iter(|| predictor.predict(black_box(p)))
        });
    }
    // The encoding alone, to tell its share of the cost from the forward pass's.
    group.throughput(Throughput::Elements(products.len() as u64));
    group.bench_function("encode only/10000", |b| {
        b.iter(|| {
            black_box(&products).iter().map(|p| predictor.encoder().encode(p)).collect::<Vec<_>>()
        })
    });
    group.finish();
}

fn sentiment(c: &mut Criterion) {
    let bundle = bundle();
    let predictor = bundle.models.sentiment.as_ref().unwrap();
    let review = [(
        "Waste of money",
        "It stopped working after a week and the battery died quickly; very disappointed, returned it.",
    )];
    let mut group = c.benchmark_group("sentiment");
    group.bench_function("one review, 5 words explained", |b| {
        b.iter(|| predictor.analyze(black_box(&review), 400, 5))
    });
    group.bench_function("one review, no explanation", |b| {
        b.iter(|| predictor.analyze(black_box(&review), 400, 0))
    });
    group.finish();
}

fn forecast(c: &mut Criterion) {
    let bundle = bundle();
    let forecaster = bundle.models.forecast.as_ref().unwrap();
    let total =
        forecaster.series().iter().position(|s| s.name == "total").expect("the total series");
    let history = &forecaster.series()[total];
    let request = [shopml_core::forecast::ForecastRequest {
        series: total,
        history: &history.values,
        last_date: history.last_date(),
        horizon_days: 14,
    }];
    let mut group = c.benchmark_group("forecast");
    group.bench_function("total, 14 days", |b| b.iter(|| forecaster.forecast(black_box(&request))));
    group.finish();
}

criterion_group!(benches, cancellation, price, sentiment, forecast);
criterion_main!(benches);
