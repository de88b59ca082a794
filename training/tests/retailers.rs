//! Other retailers' exports as published, on the generated sample: the data contract's optional
//! fields, outcomes, returns, credit notes, non-product lines, money, dates, BOM, Parquet,
//! duplicates, and a non-INR bundle answering in its currency end to end.

// The server tests' start-up helpers.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/integration/common.rs"]
mod common;

use shopml_training::cancellation;
use shopml_training::config::TrainConfig;
use shopml_training::customer_value::TrainedCustomerValue;
use shopml_training::data::{self, sales::Outcome};
use shopml_training::pipeline;
use shopml_training::progress::Progress;
use std::path::{Path, PathBuf};

fn sample_dir() -> PathBuf {
    pipeline::default_data_dir().expect("the sample is generated")
}

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/retailers").join(name)
}

/// A shipped profile with `extra` TOML appended (later keys win), as a file in `dir`.
fn profile_with(dir: &Path, name: &str, extra: &str) -> TrainConfig {
    let text = std::fs::read_to_string(profile(name)).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, format!("{text}\n{extra}")).unwrap();
    shopml_training::pipeline::load_config(&[file.as_path()])
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The sample's `file` decompressed into `dir`, with `edit` applied to its text.
fn edited(dir: &Path, file: &str, edit: impl Fn(String) -> String) {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(sample_dir().join(format!("{file}.gz"))).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    std::fs::write(dir.join(file), edit(text)).unwrap();
}

#[test]
fn superstore_reads_as_published_bom_day_first_dates_and_canadian_dollars() {
    let config =
        shopml_training::pipeline::load_config(&[profile("superstore.toml").as_path()]).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    assert_eq!(sales.currency, "USD");
    assert_eq!(sales.report.duplicates_dropped, 2, "equal but for the Row ID");
    // 03/01/19 is 3 January 2019, not 1 March.
    assert_eq!(sales.first_date(), chrono::NaiveDate::from_ymd_opt(2019, 1, 3));
    let canadian = sales.report.converted.get("CAD").copied().unwrap_or(0);
    assert!(canadian > 0, "Canadian lines are converted and counted");
    assert_eq!(canadian, sales.lines.iter().filter(|l| &*l.country == "Canada").count());
    // The BOM is not part of the first header.
    assert!(sales.lines.iter().all(|l| !l.order_id.is_empty()));
    assert!(sales.lines.iter().any(|l| l.profit.is_some_and(|p| p < 0.0)), "losses kept");
    assert!(sales.lines.iter().all(|l| l.ship_date.is_some_and(|s| s >= l.date)));
}

#[test]
fn day_first_dates_under_a_month_first_format_are_refused_naming_row_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = profile_with(dir.path(), "superstore.toml", "");
    let mut wrong = config.clone();
    wrong.columns.sales.date_format = "%m/%d/%y".into();
    let error = match data::read_exports(&sample_dir(), &wrong) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("month-first reading of day-first dates must fail"),
    };
    assert!(
        error.contains("superstore_sales.csv.gz")
            && error.contains("column 'Order Date'")
            && error.contains("%m/%d/%y")
            && error.contains("day-first"),
        "{error}"
    );
    // A four-digit year read from two digits: a year out of range, said so.
    let mut wide = config.clone();
    wide.columns.sales.date_format = "%d/%m/%Y".into();
    let error =
        data::read_exports(&sample_dir(), &wide).err().expect("year 19 is refused").to_string();
    assert!(error.contains("reads as year 19") && error.contains("year's width"), "{error}");
    assert!(error.contains("row ") && error.contains("column 'Order Date'"), "{error}");
    // "auto" finds the day-first format (days above 12 settle it).
    let mut auto = config.clone();
    auto.columns.sales.date_format = "auto".into();
    let sales = data::read_exports(&sample_dir(), &auto).unwrap().sales.unwrap();
    assert_eq!(sales.first_date(), chrono::NaiveDate::from_ymd_opt(2019, 1, 3));
    // A file whose days are all 12 or less is refused by "auto": either order reads it.
    edited(dir.path(), "superstore_sales.csv", |t| {
        let mut lines = t.split("\r\n");
        let header = lines.next().unwrap().to_owned();
        let kept: Vec<&str> =
            lines.filter(|l| l.split(',').nth(2).unwrap()[..2] <= *"12").collect();
        format!("{header}\r\n{}", kept.join("\r\n"))
    });
    let error = match data::read_exports(dir.path(), &auto) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("ambiguous dates must be refused"),
    };
    assert!(error.contains("%d/%m/%y") && error.contains("%m/%d/%y"), "{error}");
}

#[test]
fn credit_notes_returns_and_non_product_lines_are_netted_and_counted() {
    let config =
        shopml_training::pipeline::load_config(&[profile("online_retail.toml").as_path()]).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    let report = &sales.report;
    assert_eq!(sales.currency, "GBP");
    assert!(report.return_lines > 100, "{report:?}");
    assert_eq!(report.returns_matched + report.returns_unmatched, report.return_lines);
    let returns: Vec<_> = sales.lines.iter().filter(|l| l.outcome == Outcome::ReturnLine).collect();
    assert_eq!(returns.len(), report.return_lines);
    assert!(returns.iter().all(|l| l.order_id.starts_with('C') && l.quantity < 0.0));
    assert!(returns.iter().all(|l| l.amount.is_some_and(|a| a < 0.0)));
    // Each matched return marks one earlier sale of the same customer and product.
    let returned = sales.lines.iter().filter(|l| l.outcome == Outcome::ReturnedLater).count();
    assert_eq!(returned, report.returns_matched);
    // Revenue is net: sales less returns.
    let gross: f64 =
        sales.lines.iter().filter(|l| l.amount.is_some_and(|a| a > 0.0)).map(|l| l.revenue()).sum();
    let refunded: f64 = returns.iter().map(|l| l.amount.unwrap()).sum();
    let net: f64 = sales.lines.iter().map(|l| l.revenue()).sum();
    assert!((net - (gross + refunded)).abs() < 1e-6 && refunded < 0.0);
    // Postage, fees, discounts and manual lines are out, each rule with its lines and amount.
    for code in ["POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "D"] {
        assert!(sales.lines.iter().all(|l| &*l.product_id != code), "{code} excluded");
        let rule = report.excluded.keys().find(|r| r.contains(&format!("^{code}$"))).unwrap();
        assert!(report.excluded[rule].lines > 0);
    }
    let discount = report.excluded.iter().find(|(r, _)| r.contains("^D$")).unwrap().1;
    assert!(discount.revenue < 0.0, "a discount line lowers revenue: {discount:?}");
    assert!(report.summary_lines().iter().any(|l| l.contains("non-product lines excluded")));
}

#[test]
fn the_customer_s_history_before_an_order_never_looks_ahead() {
    let config =
        shopml_training::pipeline::load_config(&[profile("online_retail.toml").as_path()]).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let mut sales = exports.sales.unwrap();
    let histories = cancellation::customer_histories(&sales);
    let cut = chrono::NaiveDate::from_ymd_opt(2011, 9, 1).unwrap();
    // Every line's history counts only what came before its own day.
    for (line, history) in sales.lines.iter().zip(&histories) {
        if let Some(h) = history {
            assert!(h.last_order_date.is_none_or(|d| d < line.date), "row {}", line.row);
        }
    }
    // Dropping everything from the cut on changes no history of a line before it.
    let before: Vec<_> = sales
        .lines
        .iter()
        .zip(&histories)
        .filter(|(l, _)| l.date < cut)
        .map(|(l, h)| (l.row, *h))
        .collect();
    sales.lines.retain(|l| l.date < cut);
    let truncated = cancellation::customer_histories(&sales);
    let after: Vec<_> = sales.lines.iter().zip(&truncated).map(|(l, h)| (l.row, *h)).collect();
    assert_eq!(before, after);
    assert!(before.iter().any(|(_, h)| h.is_some_and(|h| h.orders > 2 && h.returns > 0)));
}

#[test]
fn a_model_whose_field_is_absent_is_skipped_with_the_reason() {
    // Superstore has no status and no return lines: no order model, and the run says why.
    let config =
        shopml_training::pipeline::load_config(&[profile("superstore.toml").as_path()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config;
    config.models = Some(vec!["cancellation".into(), "price".into()]);
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    // Nothing trained: no bundle that would serve nothing.
    let refused = pipeline::write_bundle(trained, &config, &dir.path().join("empty")).unwrap_err();
    assert!(refused.to_string().contains("no model was trained"), "{refused}");
    assert!(!dir.path().join("empty").exists());
    config.models = Some(vec!["cancellation".into(), "price".into(), "insights".into()]);
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let reasons: Vec<(String, String)> =
        trained.skipped.iter().map(|s| (s.model.clone(), s.reason.clone())).collect();
    let reason = |model: &str| reasons.iter().find(|(m, _)| m == model).unwrap().1.clone();
    assert!(reason("cancellation").contains("no line is cancelled or returned"), "{reasons:?}");
    assert!(reason("price").contains("no product catalogue export"), "{reasons:?}");
    assert!(reason("forecast").contains("not in the configuration"), "{reasons:?}");
    let out = dir.path().join("bundle");
    pipeline::write_bundle(trained, &config, &out).unwrap();
    let manifest: shopml_core::bundle::Manifest =
        shopml_core::bundle::read_json(&out, "manifest.json").unwrap();
    assert!(manifest.skipped_models["cancellation"].contains("no line is cancelled"));
    assert_eq!(manifest.currency.as_deref(), Some("USD"));

    // Amazon's profile with its status declared absent: the same, by the field.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no-status.toml");
    std::fs::write(&file, "models = [\"cancellation\"]\n[columns.sales]\nstatus = \"\"\n").unwrap();
    let config = shopml_training::pipeline::load_config(&[file.as_path()]).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let why = cancellation::outcome_to_predict(
        exports.sales.as_ref().unwrap(),
        shopml_training::config::Predict::Auto,
    );
    assert!(why.is_err_and(|r| r.contains("no line is cancelled or returned")));
}

#[test]
fn parquet_exports_read_as_their_csv_does() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv_config =
        shopml_training::pipeline::load_config(&[profile("superstore.toml").as_path()]).unwrap();
    let from_csv = data::read_exports(&sample_dir(), &csv_config).unwrap().sales.unwrap();
    // The same export as Parquet, with typed columns (numbers and text).
    let table = data::read::read_table(
        &sample_dir().join("superstore_sales.csv.gz"),
        data::read::TextEncoding::Utf8,
        None,
    )
    .unwrap();
    let mut frame = table.frame.clone();
    let typed = frame.column("Quantity").unwrap().cast(&DataType::Int64).unwrap();
    frame.with_column(typed).unwrap();
    let file = std::fs::File::create(dir.path().join("superstore_sales.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut frame).unwrap();
    let config = profile_with(dir.path(), "superstore.toml", "");
    let mut config = config;
    config.data.sales_file = "superstore_sales.parquet".into();
    let from_parquet = data::read_exports(dir.path(), &config).unwrap().sales.unwrap();
    assert_eq!(from_parquet.lines.len(), from_csv.lines.len());
    assert_eq!(from_parquet.lines, from_csv.lines);
    assert_eq!(from_parquet.report.duplicates_dropped, from_csv.report.duplicates_dropped);
}

#[test]
fn duplicates_are_rows_equal_in_every_column_or_in_the_configured_key() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "invoice,line_no,sku,day,amount\nA1,1,X,2024-01-02,5\nA1,2,X,2024-01-02,5\nA1,3,X,2024-01-02,5\nA2,1,Y,2024-01-03,7\n";
    std::fs::write(dir.path().join("lines.csv"), csv).unwrap();
    let write_config = |duplicates: &str| {
        let file = dir.path().join("c.toml");
        std::fs::write(&file, format!(
            "models = [\"insights\"]\n[data]\nsales_file = \"lines.csv\"\n[columns.sales]\norder_id = \"invoice\"\nproduct_id = \"sku\"\ndate = \"day\"\ndate_format = \"%Y-%m-%d\"\namount = \"amount\"\n{duplicates}\n[money]\ncurrency = \"EUR\"\n"
        )).unwrap();
        shopml_training::pipeline::load_config(&[file.as_path()]).unwrap()
    };
    // Every column: the line numbers differ, so nothing is a duplicate (genuine repeat lines
    // are kept).
    let sales = data::read_exports(dir.path(), &write_config("")).unwrap().sales.unwrap();
    assert_eq!((sales.lines.len(), sales.report.duplicates_dropped), (4, 0));
    // Ignoring the line number, the repeats are duplicates.
    let ignore = "[columns.sales.duplicates]\nignore = [\"line_no\"]";
    let sales = data::read_exports(dir.path(), &write_config(ignore)).unwrap().sales.unwrap();
    assert_eq!((sales.lines.len(), sales.report.duplicates_dropped), (2, 2));
    // A key: one line per invoice, counted, and the key named in the report.
    let key = "[columns.sales.duplicates]\nkey = [\"invoice\"]";
    let sales = data::read_exports(dir.path(), &write_config(key)).unwrap().sales.unwrap();
    assert_eq!((sales.lines.len(), sales.report.duplicates_dropped), (2, 2));
    assert!(sales.report.summary_lines()[0].contains("key: invoice"));
}

#[test]
fn the_cdnow_export_needs_no_order_id_or_product() {
    let config =
        shopml_training::pipeline::load_config(&[profile("cdnow_sample.toml").as_path()]).unwrap();
    let sales = data::read_exports(&sample_dir(), &config).unwrap().sales.unwrap();
    assert!(sales.lines.iter().all(|l| l.product_id.is_empty()));
    // A customer's purchases of one day are one order.
    let l = &sales.lines[0];
    assert_eq!(l.order_id.to_string(), format!("{}|{}", l.customer_id, l.date));
}

/// A bundle trained on the online shop's export (GBP, returns) answers in pounds through the
/// generated client, names what its order model predicts and what it skipped, and its report
/// writes pounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_inr_bundle_answers_in_its_currency_end_to_end() {
    use shopml_server::proto;
    let dir = tempfile::tempdir().unwrap();
    let config =
        shopml_training::pipeline::load_config(&[profile("online_retail.toml").as_path()]).unwrap();
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let customer = trained
        .exports
        .sales
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .find(|l| !l.customer_id.is_empty())
        .unwrap()
        .customer_id
        .clone();
    let report = pipeline::report(&trained, chrono::Utc::now(), &Default::default(), &[]);
    assert!(report.markdown.contains("Every amount is in GBP") && report.markdown.contains('£'));
    assert!(!report.markdown.contains('₹') && !report.markdown.contains("lakh"));
    assert!(report.markdown.contains("Return risk (known only after the fact)"));
    let out = dir.path().join("bundle");
    pipeline::write_bundle_with_report(trained, &config, &out, chrono::Utc::now(), Some(report))
        .unwrap();

    let (server, channel) = common::start_ready(&out).await;
    let info = proto::model_service_client::ModelServiceClient::new(channel.clone())
        .get_model_info(proto::GetModelInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.currency, "GBP");
    let skipped: Vec<&str> = info.skipped_models.iter().map(|s| s.name.as_str()).collect();
    assert!(skipped.contains(&"price") && skipped.contains(&"sentiment"), "{skipped:?}");
    let order_model = info.models.iter().find(|m| m.name == "cancellation").unwrap();
    assert!(order_model.predicts.contains("returned"), "{}", order_model.predicts);

    let mut client = proto::prediction_service_client::PredictionServiceClient::new(channel);
    let order = |currency: &str| proto::Order {
        order_id: "581587".into(),
        order_date: "2011-12-09".into(),
        customer_id: customer.to_string(),
        currency: currency.into(),
        lines: vec![proto::OrderLine {
            sku: "21137".into(),
            unit_price: Some(2.55),
            ..Default::default()
        }],
        ..Default::default()
    };
    let risk = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(order("GBP")),
            skip_explanations: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(risk.currency, "GBP");
    assert_eq!(risk.outcome, proto::PredictedOutcome::Return as i32);
    assert_eq!(risk.lines[0].unit_price, 2.55);
    assert!(!risk.unseen_inputs.contains(&"customer_id".to_owned()), "a known customer");
    assert!(
        risk.lines[0].top_reasons.iter().any(|r| r.feature.starts_with("customer_")),
        "the customer's history is an input: {:?}",
        risk.lines[0].top_reasons
    );
    let refused = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(order("USD")),
            skip_explanations: true,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().starts_with("order.currency") && refused.message().contains("GBP"));
    let revenue = client
        .forecast_demand(proto::ForecastDemandRequest {
            measure: "revenue".into(),
            horizon_days: 7,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((revenue.currency.as_str(), revenue.measure.as_str()), ("GBP", "revenue"));
    assert!(revenue.points.iter().all(|p| p.p10 <= p.p50 && p.p50 <= p.p90 && p.mean >= 0.0));
    server.shutdown().await.unwrap();
}

/// The published CDNOW sample, when it is beside the clone: the parameters of Fader, Hardie &
/// Lee (2005) to three significant digits, and the lifetimes baselines of EVALUATION.md §6.
#[test]
fn customer_value_reproduces_the_paper_on_the_published_cdnow_sample() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !data.join("cdnow_sample.csv.gz").is_file() {
        eprintln!("no published CDNOW sample beside the clone: skipped");
        return;
    }
    let mut config =
        shopml_training::pipeline::load_config(&[profile("cdnow_sample.toml").as_path()]).unwrap();
    config.models = Some(vec!["customer_value".into()]);
    let trained = pipeline::train(&data, &config, &Progress::quiet()).unwrap();
    let m = &trained.model::<TrainedCustomerValue>().unwrap().metrics;
    let three = |value: f64, published: f64| {
        let scale = 10f64.powi(2 - published.abs().log10().floor() as i32);
        assert_eq!((value * scale).round(), (published * scale).round(), "{value} vs {published}");
    };
    three(m.bg_nbd.r, 0.243);
    three(m.bg_nbd.alpha, 4.41);
    three(m.bg_nbd.a, 0.793);
    three(m.bg_nbd.b, 2.43);
    assert!((m.bg_nbd.log_likelihood + 9582.4).abs() < 0.1);
    let g = m.gamma_gamma.unwrap();
    three(g.p, 6.25);
    three(g.q, 3.74);
    three(g.gamma, 15.4);
    assert_eq!(m.customers, 2357);
    assert_eq!(m.bg_nbd_holdout.actual_total, 1882.0);
    assert!((m.bg_nbd_holdout.mae - 0.7855).abs() < 1e-3, "{}", m.bg_nbd_holdout.mae);
    assert!((m.naive_holdout.mae - 1.0237).abs() < 1e-3);
    // Pareto/NBD as lifetimes fits it (r 0.5533, α 10.578, s 0.6063, β 11.669).
    let p = m.pareto_nbd.as_ref().unwrap();
    three(p.r, 0.553);
    three(p.alpha, 10.6);
    three(p.a, 0.606);
    three(p.b, 11.7);
    // The churn rankings are scored on the holdout; the served one ranks better than chance.
    let churn = m.churn.as_ref().unwrap();
    assert_eq!(churn.candidates.len(), 3);
    assert!(churn.served_candidate().unwrap().holdout_roc_auc > 0.6, "{churn:?}");
}

/// A bundle trained on the generated CDNOW-like export (drawn from BG/NBD and Gamma-Gamma with
/// known parameters) recovers them, and CustomerService answers through the generated client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_value_is_fitted_and_served_end_to_end() {
    use shopml_server::proto;
    use shopml_server::proto::customer_service_client::CustomerServiceClient;
    use shopml_training::generate::cdnow::PARAMETERS as TRUE;
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        shopml_training::pipeline::load_config(&[profile("cdnow_sample.toml").as_path()]).unwrap();
    config.models = Some(vec!["customer_value".into()]);
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let m = &trained.model::<TrainedCustomerValue>().unwrap().metrics;
    // 2,000 customers: the estimates land near the truth (relative error bounds well outside
    // their sampling error).
    let near = |fitted: f64, truth: f64, tolerance: f64| {
        assert!((fitted / truth - 1.0).abs() < tolerance, "{fitted} vs {truth}")
    };
    near(m.bg_nbd.r, TRUE.r, 0.25);
    near(m.bg_nbd.alpha, TRUE.alpha, 0.35);
    near(m.bg_nbd.a, TRUE.a, 0.5);
    near(m.bg_nbd.b, TRUE.b, 0.6);
    let g = m.gamma_gamma.unwrap();
    near(g.p * g.gamma / (g.q - 1.0), TRUE.p * TRUE.gamma / (TRUE.q - 1.0), 0.15);
    assert!(m.bg_nbd_holdout.mae < m.naive_holdout.mae);
    let churn = m.churn.clone().unwrap();
    let some = trained.model::<TrainedCustomerValue>().unwrap();
    let known = some.customers.keys().next().unwrap().clone();
    let as_of = some.model.as_of.to_string();
    let out = dir.path().join("bundle");
    pipeline::write_bundle(trained, &config, &out).unwrap();

    let (server, channel) = common::start_ready(&out).await;
    let mut client = CustomerServiceClient::new(channel);
    let value = client
        .get_customer_value(proto::GetCustomerValueRequest {
            customer_id: known.clone(),
            horizon_days: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!((value.customer_id.as_str(), value.currency.as_str()), (known.as_str(), "USD"));
    assert_eq!(value.as_of_date, as_of, "the export's last day");
    assert!((0.0..=1.0).contains(&value.p_alive) && (0.0..=1.0).contains(&value.churn_risk));
    // The churn risk is calibrated on the inner split, over its window, and checked on the
    // holdout: its mean is near the share that churned.
    assert_eq!(value.churn_window_days, (churn.window_weeks * 7.0).round() as u32);
    assert!((churn.holdout_mean_risk - churn.holdout_churn_rate).abs() < 0.1, "{churn:?}");
    assert!(churn.served_candidate().unwrap().holdout_roc_auc > 0.6, "{churn:?}");
    assert!(value.lifetime_value >= 0.0 && value.horizon_days == 365);
    let longer = client
        .get_customer_value(proto::GetCustomerValueRequest {
            customer_id: known.clone(),
            horizon_days: 730,
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert!(longer.expected_purchases >= value.expected_purchases);
    let status = client
        .get_customer_value(proto::GetCustomerValueRequest {
            customer_id: "no-such-customer".into(),
            horizon_days: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    // A history: two purchase days (a return netted on the second), as of a later day.
    let purchase = |date: &str, amount: f64, is_return: bool| proto::Purchase {
        date: date.into(),
        amount,
        is_return,
    };
    let scored = client
        .score_customer_history(proto::ScoreCustomerHistoryRequest {
            customer_id: "web-42".into(),
            purchases: vec![
                purchase("1998-01-05", 30.0, false),
                purchase("1998-03-01", 50.0, false),
                purchase("1998-03-01", 20.0, true),
            ],
            as_of_date: "1998-06-30".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .value
        .unwrap();
    assert_eq!((scored.purchase_days, scored.total_amount), (2, 60.0));
    assert_eq!(scored.recency_days, 121);
    for (request, field) in [
        (
            proto::ScoreCustomerHistoryRequest {
                purchases: vec![purchase("1998-07-02", 10.0, false)],
                as_of_date: "1998-06-30".into(),
                ..Default::default()
            },
            "purchases[0].date",
        ),
        (
            proto::ScoreCustomerHistoryRequest {
                purchases: vec![purchase("1998-01-02", -10.0, false)],
                ..Default::default()
            },
            "purchases[0].amount",
        ),
        (
            proto::ScoreCustomerHistoryRequest {
                purchases: vec![purchase("1998-01-02", f64::NAN, false)],
                ..Default::default()
            },
            "purchases[0].amount",
        ),
    ] {
        let status = client.score_customer_history(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with(field), "{}", status.message());
    }

    // Lists, by value and by churn risk, paged and within a segment.
    let list =
        |order_by: proto::CustomerOrder, segment: &str, token: &str| proto::ListCustomersRequest {
            order_by: order_by as i32,
            segment: segment.into(),
            page_size: 20,
            page_token: token.into(),
        };
    let first = client
        .list_customers(list(proto::CustomerOrder::LifetimeValue, "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.customers.len(), 20);
    assert!(first.customers.windows(2).all(|w| w[0].lifetime_value >= w[1].lifetime_value));
    let second = client
        .list_customers(list(proto::CustomerOrder::LifetimeValue, "", &first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert!(second.customers[0].lifetime_value <= first.customers[19].lifetime_value);
    let risky = client
        .list_customers(list(proto::CustomerOrder::ChurnRisk, "lost", ""))
        .await
        .unwrap()
        .into_inner();
    assert!(risky.customers.iter().all(|c| c.segment == "lost"));
    assert!(risky.customers.windows(2).all(|w| w[0].churn_risk >= w[1].churn_risk));
    let status =
        client.list_customers(list(proto::CustomerOrder::ChurnRisk, "vip", "")).await.unwrap_err();
    assert!(
        status.code() == tonic::Code::InvalidArgument && status.message().contains("champions")
    );
    server.shutdown().await.unwrap();
}

/// Every Parquet file under `dir`, read and stacked.
fn read_parquet_tree(dir: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::{ParquetReader, SerReader};
    let mut files: Vec<PathBuf> = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut frames =
        files.iter().map(|f| ParquetReader::new(std::fs::File::open(f).unwrap()).finish().unwrap());
    let mut all = frames.next().expect("a Parquet file");
    for frame in frames {
        all.vstack_mut(&frame).unwrap();
    }
    all
}

fn u32_keys(frame: &polars::prelude::DataFrame, column: &str) -> Vec<Option<u32>> {
    frame.column(column).unwrap().u32().unwrap().iter().collect()
}

#[test]
fn the_star_schema_holds_every_cleaned_line_with_keys_that_join() {
    use polars::prelude::SerReader;
    use std::collections::HashSet;
    let config =
        shopml_training::pipeline::load_config(&[profile("superstore.toml").as_path()]).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let counts = shopml_training::warehouse::write(&exports, dir.path()).unwrap();

    let facts = read_parquet_tree(&dir.path().join("fact_order_line"));
    assert_eq!(facts.height(), sales.lines.len(), "one fact row per cleaned line");
    assert_eq!(counts.fact_order_line, sales.lines.len());
    let months: HashSet<String> =
        sales.lines.iter().map(|l| shopml_core::insights::month_of(l.date)).collect();
    assert_eq!(counts.months, months.len());
    for month in &months {
        assert!(dir.path().join(format!("fact_order_line/month={month}/part-0.parquet")).is_file());
    }
    let net: f64 = facts.column("net_revenue").unwrap().f64().unwrap().iter().flatten().sum();
    let expected: f64 = sales.lines.iter().map(|l| l.revenue()).sum();
    assert!((net - expected).abs() < 1e-6 * expected.abs().max(1.0), "{net} vs {expected}");

    let dimension = |file: &str, key: &str| {
        let frame = polars::prelude::ParquetReader::new(
            std::fs::File::open(dir.path().join(file)).unwrap(),
        )
        .finish()
        .unwrap();
        let keys: Vec<Option<u32>> = u32_keys(&frame, key);
        let set: HashSet<u32> =
            keys.iter().map(|k| k.expect("dimension keys are not null")).collect();
        assert_eq!(set.len(), frame.height(), "{file}: keys are unique");
        (frame, set)
    };
    let (products, product_keys) = dimension("dim_product.parquet", "product_key");
    let (customers, customer_keys) = dimension("dim_customer.parquet", "customer_key");
    let (regions, region_keys) = dimension("dim_region.parquet", "region_key");
    let distinct = |f: fn(&shopml_training::data::sales::SaleLine) -> &str| {
        sales.lines.iter().map(f).filter(|v| !v.is_empty()).collect::<HashSet<&str>>().len()
    };
    assert_eq!(products.height(), distinct(|l| &l.product_id));
    assert_eq!(customers.height(), distinct(|l| &l.customer_id));
    assert!(regions.height() >= 2 && regions.height() <= sales.lines.len());
    for (column, keys) in [
        ("product_key", &product_keys),
        ("customer_key", &customer_keys),
        ("region_key", &region_keys),
    ] {
        for key in u32_keys(&facts, column).into_iter().flatten() {
            assert!(keys.contains(&key), "fact {column} {key} is in its dimension");
        }
    }
    let dates = polars::prelude::ParquetReader::new(
        std::fs::File::open(dir.path().join("dim_date.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    let date_keys: HashSet<i32> =
        dates.column("date_key").unwrap().i32().unwrap().iter().flatten().collect();
    assert_eq!(date_keys.len(), dates.height());
    for column in ["date_key", "ship_date_key"] {
        for key in facts.column(column).unwrap().i32().unwrap().iter().flatten() {
            assert!(date_keys.contains(&key), "fact {column} {key} is a day of dim_date");
        }
    }
}

/// The Superstore sample's insights through the generated client: dollars, profit and margin,
/// regions as the export names them, and the dashboard's overview in the export's currency.
#[tokio::test]
async fn superstore_insights_answer_with_profit_in_dollars() {
    use shopml_server::proto;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(profile("superstore.toml")).unwrap();
    let only_insights = text
        .lines()
        .map(|l| {
            if l.starts_with("models =") {
                "models = [\"insights\", \"customer_value\"]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join("superstore.toml");
    std::fs::write(&file, only_insights).unwrap();
    let config = shopml_training::pipeline::load_config(&[file.as_path()]).unwrap();
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let sales = trained.exports.sales.as_ref().unwrap();
    let profit: f64 = sales
        .lines
        .iter()
        .filter(|l| l.outcome != Outcome::Cancelled)
        .filter_map(|l| l.profit)
        .sum();
    let states: std::collections::HashSet<String> =
        sales.lines.iter().map(|l| l.state.to_uppercase()).collect();
    let product_ids: std::collections::HashSet<String> =
        sales.lines.iter().map(|l| l.product_id.to_string()).collect();
    // Each customer's region: that of their earliest line (the export's first on that day),
    // counting customers with a purchase (a line neither cancelled nor a return line).
    let mut first: std::collections::BTreeMap<&str, (chrono::NaiveDate, String)> =
        Default::default();
    for l in sales.lines.iter().filter(|l| !l.customer_id.is_empty()) {
        if first.get(&*l.customer_id).is_none_or(|f| l.date < f.0) {
            first.insert(&l.customer_id, (l.date, sales.region_key(l)));
        }
    }
    let buyers: std::collections::HashSet<&str> = sales
        .lines
        .iter()
        .filter(|l| !matches!(l.outcome, Outcome::Cancelled | Outcome::ReturnLine))
        .map(|l| &*l.customer_id)
        .collect();
    let mut customers_by_region: std::collections::HashMap<String, usize> = Default::default();
    for (c, f) in &first {
        if buyers.contains(c) {
            *customers_by_region.entry(f.1.clone()).or_default() += 1;
        }
    }
    let out = dir.path().join("bundle");
    let report = pipeline::report(&trained, chrono::Utc::now(), &Default::default(), &[]);
    pipeline::write_bundle_with_report(trained, &config, &out, chrono::Utc::now(), Some(report))
        .unwrap();
    let html = std::fs::read_to_string(out.join("REPORT.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("$") && !html.contains('₹'));

    let (server, channel) = common::start_ready(&out).await;
    let mut insights = proto::insights_service_client::InsightsServiceClient::new(channel);
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    assert_eq!(overview.currency, "USD");
    let total = overview.total.unwrap();
    assert!(total.has_profit && overview.capabilities.unwrap().profit);
    assert!(
        (total.profit - profit).abs() < 1e-6 * profit.abs().max(1.0),
        "{} vs {profit}",
        total.profit
    );
    let top = overview.regions[0].name.clone();
    assert!(states.contains(&top.to_uppercase()), "regions are the export's states: {top}");

    let margins = insights
        .rank_products(proto::RankProductsRequest {
            metric: proto::Metric::Margin.into(),
            min_lines: 2,
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!margins.products.is_empty());
    assert!(margins.products.windows(2).all(|w| w[0].value >= w[1].value));
    // Products are the export's products, not its sub-categories.
    assert!(margins.products.iter().all(|p| product_ids.contains(&p.product_id)));
    for p in &margins.products {
        let t = p.totals.as_ref().unwrap();
        assert!((p.value - t.profit / t.revenue).abs() < 1e-9 && t.lines >= 2.0);
    }
    let profile = insights
        .get_region_profile(proto::GetRegionProfileRequest { region: top.to_lowercase() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((profile.region.as_str(), profile.currency.as_str()), (top.as_str(), "USD"));
    let customers = profile.customers.unwrap();
    let here = customers_by_region[&top];
    assert_eq!(customers.customers as usize, here);
    assert!(customers.returning_customers <= customers.customers);
    assert_eq!(customers.segments.values().sum::<u32>(), customers.customers);
    assert!(
        (customers.repeat_rate * customers.customers as f64 - customers.returning_customers as f64)
            .abs()
            < 1e-9
    );
    let weeks = insights
        .get_trend(proto::GetTrendRequest {
            metric: proto::Metric::Profit.into(),
            granularity: proto::Granularity::Week.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let weekly: f64 = weeks.points.iter().map(|p| p.value).sum();
    assert!((weekly - profit).abs() < 1e-6 * profit.abs().max(1.0));

    let http = server.metrics_addr.unwrap();
    let page = http_body(http, "/dashboard").await;
    assert!(page.contains("$") && page.contains(&top) && page.contains("margin"));
    let region_page =
        http_body(http, &format!("/dashboard/regions/{}", top.replace(' ', "%20"))).await;
    assert!(
        region_page.contains("Customers here"),
        "{}",
        &region_page[..region_page.len().min(400)]
    );
    server.shutdown().await.unwrap();
}

/// The body of GET `path` on `addr` (plain HTTP/1.1).
async fn http_body(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{}", &response[..response.len().min(300)]);
    response
}

/// Names that carry markup (a category, a state, a SKU of the export) read as text in
/// REPORT.md, REPORT.html and every dashboard page: no element, attribute or URL from the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_an_export_s_names_is_text_in_the_report_and_the_dashboard() {
    const CATEGORY: &str = "kurta<script>alert(1)</script>";
    const STATE: &str = "GUJARAT\"><img src=x onerror=alert(2)>";
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), "amazon_sale_report.csv", |t| {
        t.lines()
            .map(|l| {
                l.replace(",kurta,", &format!(",\"{CATEGORY}\","))
                    .replace(",GUJARAT,", &format!(",\"{}\",", STATE.replace('"', "\"\"")))
                    .replace("JNE528-L", "JNE528-L'<u>x")
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let mut config = pipeline::default_config();
    config.models = Some(vec!["insights".into(), "segments".into()]);
    let trained = pipeline::train(dir.path(), &config, &Progress::quiet()).unwrap();
    let out = dir.path().join("bundle");
    let report = pipeline::report(&trained, chrono::Utc::now(), &Default::default(), &[]);
    pipeline::write_bundle_with_report(trained, &config, &out, chrono::Utc::now(), Some(report))
        .unwrap();
    let markdown = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let html = std::fs::read_to_string(out.join("REPORT.html")).unwrap();
    let injected = |text: &str| {
        let text = text.to_lowercase();
        ["<script>alert", "<img src=x", "<u>x"].iter().find(|m| text.contains(*m)).copied()
    };
    assert!(markdown.contains("kurta&lt;script"), "the category is in the report, as text");
    assert_eq!(injected(&markdown), None);
    assert_eq!(injected(&html), None);
    assert!(html.contains("Content-Security-Policy"));

    // The region as the bundle spells it (states are normalised).
    let insights: serde_json::Value =
        shopml_core::bundle::read_json(&out, "insights/insights.json").unwrap();
    let region = insights["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["region"].as_str())
        .find(|r| r.to_lowercase().contains("onerror"))
        .expect("the hostile state is a region")
        .to_owned();
    let (server, _channel) = common::start_ready(&out).await;
    let http = server.metrics_addr.unwrap();
    let state = urlencoded(&region);
    for page in [
        "/dashboard".to_owned(),
        "/dashboard/".to_owned(),
        format!("/dashboard/regions/{state}"),
        format!(
            "/dashboard/products?metric=revenue&region={state}&category={}",
            urlencoded(CATEGORY)
        ),
        "/dashboard/customers".to_owned(),
        "/dashboard/models".to_owned(),
    ] {
        let body = http_body(http, &page).await;
        assert_eq!(injected(&body), None, "{page}");
        assert!(body.contains("<main>"), "{page} is a page: {}", &body[..body.len().min(300)]);
    }
    let page = http_body(http, &format!("/dashboard/regions/{state}")).await.to_lowercase();
    assert!(page.contains("onerror=alert(2)"), "the state is on its page, as text");
    server.shutdown().await.unwrap();
}

/// `text` percent-encoded for a URL's path or query.
fn urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
