//! The training job end to end on the generated sample: the sample itself, ingestion and its
//! errors, training/serving agreement, determinism, and the bundle it writes.

use shopml_core::bundle::{Manifest, read_json};
use shopml_core::models::LoadedBundle;
use shopml_server::convert::prediction::{CheckoutOrder, PricedProduct};
use shopml_server::proto;
use shopml_training::data::{self, read::TextEncoding};
use shopml_training::fit::Abandon;
use shopml_training::generate::{self, SampleSize};
use shopml_training::pipeline;
use shopml_training::progress::Progress;
use shopml_training::{forecast, sentiment};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample_dir() -> PathBuf {
    pipeline::default_data_dir().expect("the sample is generated")
}

fn shipped_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn train_cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shopml-train"))
}

#[test]
fn the_sample_is_generated_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    generate::sample(
        dir.path(),
        SampleSize::default(),
        shopml_training::pipeline::default_config().seed,
    )
    .unwrap();
    for file in generate::FILES {
        let generated = std::fs::read(dir.path().join(file)).unwrap();
        let in_place = std::fs::read(sample_dir().join(file)).unwrap();
        assert!(
            generated == in_place,
            "{file} differs from `shopml-train generate` output: delete training/data to regenerate it"
        );
    }
}

#[test]
fn the_shipped_bundle_was_trained_on_the_generated_sample() {
    let manifest: Manifest = read_json(&shipped_bundle(), "manifest.json").unwrap();
    for (file, sha) in &manifest.data_fingerprint {
        let bytes = std::fs::read(sample_dir().join(file)).unwrap();
        assert_eq!(
            &shopml_core::bundle::sha256_hex(&bytes),
            sha,
            "models/ was not trained on training/data/{file}: retrain it"
        );
    }
    assert_eq!(manifest.data_fingerprint.len(), 4);
}

#[test]
fn the_exports_are_read_as_published_and_cleaning_is_reported() {
    let config = shopml_training::pipeline::default_config();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    assert_eq!(sales.report.duplicates_dropped, 6, "the generator writes six exact duplicates");
    assert_eq!(sales.report.bad_cells["Amount"].count, 2);
    assert_eq!(sales.report.bad_cells["Amount"].first_value, "n/a");
    assert!(
        sales.lines.iter().any(|l| &*l.state == "Orissa"),
        "spelling variants are kept raw and merged by the encoders"
    );
    let products = exports.products.as_ref().unwrap();
    assert_eq!(products.report.duplicates_dropped, 5);
    assert!(
        products.products.iter().all(|p| p.actual_price.is_some_and(|v| v >= 99.0)),
        "₹ prices with thousands separators parse"
    );
    assert!(
        products.products.iter().any(|p| p.review_content.contains('\n')),
        "quoted multi-line fields survive"
    );
    let customers = exports.customers.as_ref().unwrap();
    assert!(
        customers.purchases.iter().any(|p| p.state == "Andhra Pradesh"),
        "cp1252 NBSP decoded and merged"
    );
    assert!(customers.purchases.iter().any(|p| p.user_id.starts_with('1')));
    let reviews = exports.reviews.as_ref().unwrap();
    assert!(
        reviews.reviews.iter().any(|r| r.text.contains("बहुत अच्छा")),
        "UTF-8 with CRLF and multi-line fields"
    );
    assert!(reviews.reviews.iter().all(|r| !r.text.ends_with('\r')));
    assert_eq!(exports.fingerprint.len(), 4);
    // The same file read as plain CSV.
    let dir = tempfile::tempdir().unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(sample_dir().join("diwali_sales.csv.gz")).unwrap(),
        ),
        &mut plain,
    )
    .unwrap();
    std::fs::write(dir.path().join("diwali_sales.csv"), plain).unwrap();
    let table =
        data::read::read_table(&dir.path().join("diwali_sales.csv"), TextEncoding::Cp1252, None)
            .unwrap();
    assert_eq!(table.rows(), customers.report.rows_read);
}

/// Writes the sample's sale report with `edit` applied to its text.
fn edited_sales(dir: &Path, edit: impl Fn(String) -> String) {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(sample_dir().join("amazon_sale_report.csv.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    std::fs::write(dir.join("amazon_sale_report.csv"), edit(text)).unwrap();
}

#[test]
fn the_cli_names_the_file_row_and_column_of_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    // Mapped columns missing from the export: all of them in one error.
    edited_sales(dir.path(), |t| {
        t.replacen(",Amount,", ",Amount_INR,", 1).replacen(",SKU,", ",Sku code,", 1)
    });
    let run = train_cli()
        .args(["--data-dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("amazon_sale_report.csv")
            && stderr.contains("missing columns [\"Amount\", \"SKU\"]"),
        "{stderr}"
    );
    assert!(!out.exists(), "no bundle is published");

    // Dates in another format than the config's.
    edited_sales(dir.path(), |t| t.replace("-22,", "-2022,"));
    let run = train_cli()
        .args(["--data-dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("amazon_sale_report.csv: row 1, column 'Date'")
            && stderr.contains("%m-%d-%y"),
        "{stderr}"
    );

    // An unreadable file, and a directory without exports.
    std::fs::write(dir.path().join("amazon_sale_report.csv.gz"), b"\x1f\x8bnot gzip").unwrap();
    std::fs::remove_file(dir.path().join("amazon_sale_report.csv")).unwrap();
    let run = train_cli()
        .args(["--data-dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("amazon_sale_report.csv.gz") && stderr.contains("gzip"), "{stderr}");
    let empty = tempfile::tempdir().unwrap();
    let run = train_cli()
        .args(["--data-dir", empty.path().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("amazon_sale_report.csv"));
    // A configuration file that does not exist.
    let run = train_cli()
        .args(["--out", out.to_str().unwrap(), "--config", "/no/such.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("/no/such.toml"));
}

#[test]
fn a_column_mapping_trains_another_retailers_export() {
    let dir = tempfile::tempdir().unwrap();
    edited_sales(dir.path(), |t| t.replacen("Order ID,Date,", "order_ref,order_day,", 1));
    let config = dir.path().join("retailer.toml");
    std::fs::write(&config, "models = [\"cancellation\"]\n[columns.sales]\norder_id = \"order_ref\"\ndate = \"order_day\"\n").unwrap();
    let out = dir.path().join("bundle");
    let run = train_cli()
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let bundle = LoadedBundle::load(&out).unwrap();
    assert!(bundle.models.cancellation.is_some() && bundle.models.price.is_none());
}

#[test]
fn training_and_serving_encode_a_row_the_same_way() {
    let config = shopml_training::pipeline::default_config();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let bundle = LoadedBundle::load(&shipped_bundle()).unwrap();

    // Cancellation: an export row, and the same order as the checkout service sends it
    // (attributes in the request's map, or in the fields named like them).
    let predictor = bundle.models.cancellation.as_ref().unwrap();
    let sales = exports.sales.as_ref().unwrap();
    for (k, line) in sales.lines.iter().enumerate().step_by(97) {
        let attribute = |name: &str| sales.attribute(line, name).to_owned();
        let mut order = proto::Order {
            order_id: line.order_id.to_string(),
            order_date: line.date.to_string(),
            sales_channel: line.channel.to_string(),
            ship_city: line.city.to_lowercase(),
            ship_state: line.state.to_string(),
            ship_postal_code: line.postal_code.trim_end_matches(".0").to_owned(),
            lines: vec![proto::OrderLine {
                sku: line.product_id.to_string(),
                style: line.product_group.to_string(),
                category: line.category.to_string(),
                unit_price: line.amount,
                ..Default::default()
            }],
            ..Default::default()
        };
        if k % 2 == 0 {
            order.fulfilment = attribute("fulfilment");
            order.ship_service_level = attribute("ship_service_level");
            order.b2b = attribute("b2b").eq_ignore_ascii_case("true");
            order.lines[0].asin = attribute("asin");
            order.lines[0].size = attribute("size");
        } else {
            for name in ["fulfilment", "ship_service_level", "b2b"] {
                order.attributes.insert(name.to_owned(), attribute(name));
            }
            for name in ["asin", "size"] {
                order.lines[0].attributes.insert(name.to_owned(), attribute(name));
            }
        }
        let order = CheckoutOrder::try_from(proto::PredictCancellationRequest {
            order: Some(order),
            skip_explanations: false,
        })
        .expect("an export row makes a valid order");
        let inputs = order.inputs(predictor.encoder());
        let served = inputs.lines();
        let trained = predictor.encoder().encode(&sales.checkout_line(line, None));
        assert_eq!(predictor.encoder().encode(&served[0]), trained, "row {}", line.row);
        let thresholds = predictor.calibration().risk_thresholds;
        let served_p = predictor.predict(&[served], 0, thresholds)[0].lines[0].probability;
        assert_eq!(served_p, predictor.line_probabilities(&[trained])[0]);
    }

    // Price: a product row, and the same product as the pricing team sends it.
    let price = bundle.models.price.as_ref().unwrap();
    for p in exports.products.as_ref().unwrap().products.iter().step_by(13) {
        let request = proto::Product {
            product_id: p.product_id.clone(),
            name: p.name.clone(),
            category_path: p.category_path.clone(),
            list_price: p.actual_price.unwrap(),
            rating: p.rating,
            rating_count: p.rating_count.map(|c| c as i64),
            currency: String::new(),
        };
        let request = PricedProduct::try_from(request).expect("a catalogue row is a valid product");
        let served = request.input();
        let trained = shopml_core::price::ProductInput {
            name: &p.name,
            category_path: &p.category_path,
            list_price: p.actual_price.unwrap(),
            rating: p.rating,
            rating_count: p.rating_count,
        };
        assert_eq!(
            price.encoder().encode(&served),
            price.encoder().encode(&trained),
            "product {}",
            p.product_id
        );
    }

    // Sentiment: training encodes without the word map, serving with it; the bag is the same.
    let sentiment = bundle.models.sentiment.as_ref().unwrap();
    for r in exports.reviews.as_ref().unwrap().reviews.iter().step_by(101) {
        let training = sentiment.encoder().encode_tokens(&r.title, &r.text, 400);
        let serving = sentiment.encoder().encode(&r.title, &r.text, 400);
        let mut pairs: Vec<(u32, f32)> =
            serving.tokens.iter().copied().zip(serving.weights.iter().copied()).collect();
        pairs.sort_by_key(|p| p.0);
        assert_eq!(pairs, training.tokens.into_iter().zip(training.weights).collect::<Vec<_>>());
    }
}

#[test]
fn the_same_data_and_config_give_the_same_metrics_and_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = Vec::new();
    for run in ["a", "b"] {
        let out = dir.path().join(run);
        let status = train_cli().args(["--out", out.to_str().unwrap()]).output().unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        manifests.push(
            shopml_core::bundle::read_json::<shopml_core::bundle::Manifest>(&out, "manifest.json")
                .unwrap(),
        );
    }
    // Every file but the report (it states how long training took) hashes the same: the
    // metrics, and the weights byte for byte (Burn's parameter ids included).
    let hashes = |m: &shopml_core::bundle::Manifest| {
        m.files
            .iter()
            // The report holds the run's time and timings.
            .filter(|(f, _)| !f.starts_with("REPORT."))
            .map(|(f, e)| (f.clone(), e.sha256.clone()))
            .collect::<Vec<_>>()
    };
    let (a, b) = (hashes(&manifests[0]), hashes(&manifests[1]));
    assert!(
        a.iter().any(|(f, _)| f.ends_with(".bpk")) && a.iter().any(|(f, _)| f == "metrics.json")
    );
    for ((file, first), (_, second)) in a.iter().zip(&b) {
        assert_eq!(first, second, "two runs on the same data and config write different {file}");
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn training_beside_the_other_stages_changes_no_figure_and_no_model_file() {
    // Price draws random numbers on the main thread while the product texts and the forecast
    // train beside it. Each run is a process of its own: Burn's random generator is the
    // process's, and other tests train in this one.
    let dir = tempfile::tempdir().unwrap();
    let small = "models = [\"price\", \"sentiment\", \"forecast\"]\n[sentiment]\nensemble_size = 1\nmax_epochs = 3\n[sentiment.products]\nfixed_epochs = 15\nproduct_folds = 3\n";
    let mut hashes = Vec::new();
    for overlap in [true, false] {
        let settings = dir.path().join(format!("overlap-{overlap}.toml"));
        std::fs::write(&settings, format!("overlap_stages = {overlap}\n{small}")).unwrap();
        let out = dir.path().join(format!("overlap-{overlap}"));
        let run = train_cli()
            .args(["--out", out.to_str().unwrap(), "--config", settings.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        // The summary's stage times, e.g. "forecast 1.2 s (beside the others)".
        let times = stderr
            .lines()
            .find_map(|l| l.strip_prefix("  time: "))
            .expect("a summary of the times");
        for stage in ["product texts", "forecast"] {
            let beside = times.split(", ").any(|t| {
                t.trim_start_matches(|c: char| !c.is_alphabetic()).starts_with(stage)
                    && t.ends_with("(beside the others)")
            });
            assert_eq!(beside, overlap, "{stage}: {times}");
        }
        let manifest = read_json::<Manifest>(&out, "manifest.json").unwrap();
        // Every file but the report (it states how long training took).
        hashes.push(
            manifest
                .files
                .into_iter()
                .filter(|(file, _)| !file.starts_with("REPORT."))
                .map(|(file, entry)| (file, entry.sha256))
                .collect::<Vec<_>>(),
        );
    }
    for model in ["price", "sentiment", "forecast"] {
        assert!(
            hashes[0].iter().any(|(file, _)| *file == format!("{model}/model.bpk")),
            "{model} trained"
        );
    }
    assert!(hashes[0].iter().any(|(file, _)| file == "metrics.json"));
    assert_eq!(hashes[0], hashes[1], "metrics.json and every model file are the same");
}

#[test]
fn what_trains_beside_the_stages_starts_no_net_once_a_stage_has_failed() {
    // What a failing stage sets, so that its error is not held back by the work beside it.
    let failed = Abandon::default();
    failed.set();
    let config = shopml_training::pipeline::default_config();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let progress = Progress::quiet();
    let stage = progress.stage("beside");
    let sales = exports.sales.as_ref().unwrap();
    let split = config.split.resolve(sales.first_date().unwrap(), sales.last_date().unwrap());
    let forecast_settings: forecast::ForecastSettings =
        shopml_training::trainer::settings(&config, "forecast").unwrap();
    let prepared = forecast::prepare(sales, &split, &forecast_settings).unwrap();
    let forecast =
        forecast::train(prepared, &split, &forecast_settings, config.seed, None, &stage, &failed);
    assert!(matches!(forecast, Err(forecast::ForecastError::Abandoned)));
    let products = &exports.products.as_ref().unwrap().products;
    let product_texts = sentiment::fit_product_texts(
        products,
        &split,
        &shopml_training::trainer::settings(&config, "sentiment").unwrap(),
        config.seed,
        &stage,
        &failed,
    );
    assert!(matches!(product_texts, Err(sentiment::SentimentError::Abandoned)));
}

#[test]
fn training_reports_the_protocol_figures_and_writes_a_loadable_bundle() {
    let config = shopml_training::pipeline::default_config();
    let first = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let m = &first.metrics;
    for (section, keys) in [
        ("cancellation", &["roc_auc", "pr_auc", "brier", "log_loss"][..]),
        ("price", &["r2_log", "r2", "mae_inr", "mape_pct", "interval_coverage"][..]),
        ("sentiment_reviews", &["macro_f1", "neg_f1", "roc_auc", "accuracy"][..]),
        ("sentiment_products", &["macro_f1", "neg_f1", "roc_auc", "accuracy"][..]),
        ("forecast", &["mase_mean", "wape_mean", "smape_mean", "coverage80", "per_series"][..]),
    ] {
        for key in keys {
            assert!(m[section].get(*key).is_some(), "metrics.json has {section}.{key}");
        }
    }
    for kind in ["products", "customers", "regions"] {
        assert!(
            m["segments"][kind]["silhouette"].as_f64().is_some()
                && m["segments"][kind]["k"].as_u64().is_some()
        );
    }
    // The sample's signal is learnt: better than chance and than the constant.
    assert!(m["cancellation"]["roc_auc"].as_f64().unwrap() > 0.6);
    assert!(
        m["cancellation"]["brier"].as_f64().unwrap()
            < m["cancellation"]["constant_brier"].as_f64().unwrap()
    );
    assert!(m["sentiment_reviews"]["roc_auc"].as_f64().unwrap() > 0.9);
    assert!(m["price"]["r2_log"].as_f64().unwrap() > 0.9);
    // The per-product figures come from the stack: text-model, title and content evidence, intercept.
    let stacker = m["sentiment_products"]["stacker_weights"].as_array().unwrap();
    assert_eq!(stacker.len(), 4);
    assert!(stacker.iter().all(|w| w.as_f64().is_some_and(f64::is_finite)));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let manifest = pipeline::write_bundle(first, &config, &out).unwrap();
    let bundle = LoadedBundle::load(&out).unwrap();
    assert_eq!(bundle.version(), manifest.bundle_version);
    let models = &bundle.models;
    assert!(
        models.cancellation.is_some()
            && models.price.is_some()
            && models.sentiment.is_some()
            && models.forecast.is_some()
            && models.segments.is_some()
    );
    let written: serde_json::Value = read_json(&out, "metrics.json").unwrap();
    assert!(written.get("cancellation").is_some());
    // Publishing again replaces the bundle atomically; nothing is left beside it.
    let second = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    pipeline::write_bundle(second, &config, &out).unwrap();
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["bundle"]);
}

#[test]
fn a_failed_quality_gate_publishes_nothing_unless_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gates.toml");
    std::fs::write(
        &config,
        "models = [\"cancellation\"]\n[gates.limits]\n\"cancellation.roc_auc\" = { min = 0.99 }\n",
    )
    .unwrap();
    let out = dir.path().join("bundle");
    let run = |extra: &[&str]| {
        let mut command = train_cli();
        command
            .args(["--out", out.to_str().unwrap(), "--config", config.to_str().unwrap()])
            .args(extra);
        command.output().unwrap()
    };
    let failed = run(&[]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cancellation.roc_auc = 0.")
            && stderr.contains("limit: >= 0.99")
            && stderr.contains("no bundle was published"),
        "{stderr}"
    );
    assert!(!out.exists());
    let forced = run(&["--no-gates"]);
    assert!(forced.status.success());
    assert!(out.join("manifest.json").is_file());

    // No worse than the bundle serving: a reference with better figures fails the run.
    std::fs::write(&config, "models = [\"cancellation\"]\n").unwrap();
    let reference = dir.path().join("serving-metrics.json");
    std::fs::write(&reference, r#"{"cancellation": {"roc_auc": 0.95, "log_loss": 0.1}}"#).unwrap();
    let compared = run(&["--compare-to", reference.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&compared.stderr);
    assert_eq!(compared.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cancellation.roc_auc")
            && stderr.contains("serving 0.9500")
            && stderr.contains("cancellation.log_loss"),
        "{stderr}"
    );
    // Against itself, the run passes.
    let passed = run(&["--compare-to", out.to_str().unwrap()]);
    assert!(passed.status.success(), "{}", String::from_utf8_lossy(&passed.stderr));
}

#[test]
fn every_bundle_carries_a_report_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    // The baselines table of the protocol, as EVALUATION.md writes it.
    let evaluation = dir.path().join("EVALUATION.md");
    std::fs::write(&evaluation, "## Baselines to beat\n| task | model | figures on test |\n|---|---|---|\n| cancellation | constant | ROC-AUC 0.500, Brier 0.1244 |\n").unwrap();
    let run = train_cli()
        .args(["--out", out.to_str().unwrap(), "--baselines", evaluation.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("time:") && stderr.contains("cancellation") && stderr.contains("segments"),
        "a summary with time per stage: {stderr}"
    );
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    for section in [
        "## Data quality",
        "### Cancellation risk",
        "### Price",
        "### Review sentiment",
        "### Demand forecast",
        "### Segments",
        "## Business insights",
        "### Recommendations",
        "### Best sellers and under-performers by state",
        "### Regional preferences and market gaps",
        "### When customers buy",
        "### Customer segments",
        "### Bought together",
    ] {
        assert!(report.contains(section), "REPORT.md has {section}");
    }
    assert!(report.contains("| constant |"), "the given baselines are compared with");
    let charts: Vec<&str> =
        report.split("](report/").skip(1).map(|s| s.split(')').next().unwrap()).collect();
    assert!(charts.len() >= 10, "{charts:?}");
    let manifest: Manifest = read_json(&out, "manifest.json").unwrap();
    for chart in charts {
        let svg = std::fs::read_to_string(out.join("report").join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart} is an SVG document"
        );
        assert!(
            manifest.files.contains_key(&format!("report/{chart}")),
            "{chart} is hashed in the manifest"
        );
    }
    // REPORT.html: the same document, its charts inline, hashed like every file.
    let html = std::fs::read_to_string(out.join("REPORT.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("## Data quality"));
    assert!(html.contains("<h2>Data quality</h2>") || html.contains(">Data quality</h2>"));
    assert!(html.matches("<svg").count() >= 10, "the charts are inline");
    assert!(!html.contains("src=\"report/"), "nothing to fetch beside the file");
    assert!(manifest.files.contains_key("REPORT.html"));
    // The figures in the report are the ones in metrics.json.
    let metrics: serde_json::Value = read_json(&out, "metrics.json").unwrap();
    assert!(
        report
            .contains(&format!("**{:.4}**", metrics["cancellation"]["roc_auc"].as_f64().unwrap()))
    );
}

#[test]
fn a_url_out_is_never_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["ftp://host/x", "S3://bucket/x", "s3:/bucket/x", "gcs://bucket/x"] {
        let run = train_cli().current_dir(dir.path()).args(["--out", url]).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{url}: {stderr}");
        assert!(!stderr.contains("[cancellation]"), "{url}: refused before training: {stderr}");
    }
    let secret = train_cli().args(["--out", "s3://key:hunter2@bucket/x"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&secret.stderr).contains("hunter2"));
    let written: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(written.is_empty(), "nothing written locally: {written:?}");
}

#[cfg(feature = "object-store")]
#[test]
fn the_cli_publishes_a_version_into_object_storage() {
    use shopml_store::test_server::S3TestServer;
    let Some(s3) = S3TestServer::start() else { return };
    s3.create_bucket("retrain");
    let environment = [
        ("AWS_ENDPOINT", s3.endpoint()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    // A bucket that does not exist fails before any training, naming the URL.
    let started = std::time::Instant::now();
    let refused =
        train_cli().args(["--out", "s3://no-such-bucket/x"]).envs(environment.clone()).output();
    let refused = refused.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("s3://no-such-bucket/x") && !stderr.contains("[cancellation]"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let run = train_cli().args(["--out", "s3://retrain/bundles"]).envs(environment).output();
    let run = run.unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let repository = shopml_store::Repository::open("s3://retrain/bundles", &s3.options()).unwrap();
    let versions = shopml_store::block_on(repository.versions()).unwrap();
    assert_eq!(versions.len(), 1);
    let cache = tempfile::tempdir().unwrap();
    shopml_store::block_on(repository.sync_into(cache.path())).unwrap();
    let bundle = LoadedBundle::load(&cache.path().join(&versions[0])).expect("hashes verified");
    assert!(bundle.models.cancellation.is_some() && bundle.models.insights.is_some());
}
