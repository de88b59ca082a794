//! Monitoring end to end on the generated sample: the shipped bundle serves the orders of its
//! test days with every prediction logged; the drift figures stay flat for them and move for
//! one region's orders; `evaluate` joins the log with the export's outcomes and reproduces the
//! test-day figures training reported.

// The server tests' start-up helpers.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/integration/common.rs"]
mod common;

use common::shipped_bundle;
use shopml_server::proto;
use shopml_training::data;
use shopml_training::evaluate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample_dir() -> PathBuf {
    shopml_training::pipeline::default_data_dir().expect("the sample is generated")
}

fn figure(metrics: &serde_json::Value, path: &str) -> f64 {
    path.split('.')
        .try_fold(metrics, |v, key| v.get(key))
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("{path} in metrics"))
}

/// The orders of `bundle`'s test days, as `shopml-train orders` writes them.
fn test_day_orders(bundle: &Path, sales: &data::sales::Sales) -> Vec<proto::Order> {
    let metrics = shopml_training::gates::read_reference(bundle).unwrap();
    let from = metrics["split"]["cancellation_test_from"].as_str().unwrap().parse().unwrap();
    let mut orders = Vec::new();
    evaluate::checkout_orders(sales, from, None, |order| {
        orders.push(serde_json::from_value(order.clone()).expect("a shopml.v1.Order"));
        Ok(())
    })
    .unwrap();
    orders
}

/// Serves `bundle` with every cancellation prediction logged into `log_dir`, sends `orders`
/// in batches, and returns the drift gauges scraped afterwards (input → PSI, and "score") with
/// the window's line count.
async fn serve_and_scrape(
    bundle: &Path,
    orders: &[proto::Order],
    log_dir: &Path,
) -> (BTreeMap<String, f64>, f64) {
    let mut settings = common::settings(bundle);
    settings.monitoring.prediction_log_dir = log_dir.to_string_lossy().into_owned();
    settings.monitoring.log_rate_cancellation = 1.0;
    let (server, channel) = common::start_with(settings).await;
    assert!(server.wait_ready(std::time::Duration::from_secs(20)).await);
    let mut client = proto::prediction_service_client::PredictionServiceClient::new(channel);
    for chunk in orders.chunks(100) {
        let orders = chunk
            .iter()
            .map(|o| proto::PredictCancellationRequest {
                order: Some(o.clone()),
                skip_explanations: true,
            })
            .collect();
        client
            .predict_cancellation_batch(proto::PredictCancellationBatchRequest { orders })
            .await
            .expect("the orders are scored");
    }
    let (_, text) = common::http_get(server.metrics_addr.unwrap(), "/metrics").await;
    server.shutdown().await.unwrap();
    let mut psi = BTreeMap::new();
    let mut lines = 0.0;
    for line in text.lines() {
        let value = || line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        if let Some(rest) = line.strip_prefix("shopml_input_psi{model=\"cancellation\",input=\"") {
            psi.insert(rest.split('"').next().unwrap().to_owned(), value());
        } else if line.starts_with("shopml_score_psi{model=\"cancellation\"}") {
            psi.insert("score".to_owned(), value());
        } else if line.starts_with("shopml_drift_window_lines{model=\"cancellation\"}") {
            lines = value();
        }
    }
    (psi, lines)
}

/// The live figures are those training reported for the bundle's test days.
fn assert_reproduces(bundle: &Path, live: &serde_json::Value) {
    let trained = shopml_training::gates::read_reference(bundle).unwrap();
    for figure_name in ["roc_auc", "pr_auc", "brier", "log_loss", "test_rows", "test_positive_rate"]
    {
        let path = format!("cancellation.{figure_name}");
        let (t, l) = (figure(&trained, &path), figure(live, &path));
        assert!((t - l).abs() < 1e-9, "{path}: training {t}, from the log {l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_predictions_reproduce_the_test_figures_and_drift_shows_another_region() {
    let config = shopml_training::pipeline::default_config();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    let orders = test_day_orders(&shipped_bundle(), sales);
    let lines: usize = orders.iter().map(|o| o.lines.len()).sum();
    assert!(orders.len() > 500, "{} test-day orders", orders.len());

    // The test days come from the distribution the bundle was trained on: flat.
    let log = tempfile::tempdir().unwrap();
    let (psi, window) = serve_and_scrape(&shipped_bundle(), &orders, log.path()).await;
    assert_eq!(window, lines as f64, "every line scored enters the window");
    assert!(psi.contains_key("ship_state") && psi.contains_key("unit_price"), "{psi:?}");
    assert!(!psi.contains_key("order_day_of_month"), "calendar inputs have no drift figure");
    for (input, value) in &psi {
        // The score's PSI compares ten bins of two small samples (the sample's validation and
        // test days): its sampling noise alone reaches 0.1; a shifted region reads > 0.25.
        let flat = if input == "score" { 0.15 } else { 0.1 };
        assert!(*value < flat, "{input}: PSI {value} on the training distribution");
    }

    // The log reproduces what training reported for the test days.
    let evaluation = evaluate::evaluate(&shipped_bundle(), log.path(), sales).unwrap();
    let live = serde_json::to_value(&evaluation).unwrap();
    assert_reproduces(&shipped_bundle(), &live);
    assert_eq!(evaluation.join.lines_logged, lines);
    assert_eq!(evaluation.join.lines_repeated + evaluation.join.lines_not_in_export, 0);
    let calibrated: usize = evaluation.cancellation.calibration.iter().map(|b| b.lines).sum();
    assert_eq!(calibrated, evaluation.join.lines_joined);
    let drift = evaluation.cancellation.drift.as_ref().expect("the bundle has a reference");
    assert!(drift.inputs.iter().all(|(_, v)| *v < 0.1), "{drift:?}");

    // The CLI applies the gates: a limit the model cannot reach exits with status 3.
    let gates = log.path().join("gates.toml");
    std::fs::write(&gates, "[gates.limits]\n\"cancellation.roc_auc\" = { min = 0.99 }\n").unwrap();
    let report = log.path().join("evaluation.json");
    let status = Command::new(env!("CARGO_BIN_EXE_shopml-train"))
        .args(["--data-dir", sample_dir().to_str().unwrap(), "--config", gates.to_str().unwrap()])
        .args(["evaluate", "--bundle", shipped_bundle().to_str().unwrap()])
        .args(["--predictions", log.path().to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3), "a failed gate says retrain");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(written["cancellation"]["roc_auc"], live["cancellation"]["roc_auc"]);

    // One region's orders only: its state and cities move far from the reference.
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &orders {
        *by_state.entry(o.ship_state.as_str()).or_default() += 1;
    }
    let (state, _) = by_state.iter().max_by_key(|(_, n)| **n).unwrap();
    let region: Vec<proto::Order> =
        orders.iter().filter(|o| o.ship_state == *state).cloned().collect();
    let other_log = tempfile::tempdir().unwrap();
    let (shifted, _) = serve_and_scrape(&shipped_bundle(), &region, other_log.path()).await;
    for input in ["ship_state", "ship_city", "ship_postal_area"] {
        assert!(shifted[input] > 0.25, "{input}: PSI {} for {state}'s orders only", shifted[input]);
        assert!(shifted[input] > 5.0 * psi[input], "{input} moves");
    }
}

/// A return model reading the customer's history (the UK online shop's profile): the orders
/// carry each customer's history before them, as training computed it, and the log reproduces
/// the test-day figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_reading_customer_history_is_reproduced_from_its_log() {
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/retailers/online_retail.toml");
    let config = shopml_training::pipeline::load_config(&[profile.as_path()]).unwrap();
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("bundle");
    let trained = shopml_training::pipeline::train(
        &sample_dir(),
        &config,
        &shopml_training::progress::Progress::quiet(),
    )
    .unwrap();
    shopml_training::pipeline::write_bundle(trained, &config, &bundle).unwrap();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let sales = exports.sales.as_ref().unwrap();
    let orders = test_day_orders(&bundle, sales);
    assert!(
        orders.iter().filter(|o| o.customer_history.is_some()).count() > orders.len() / 2,
        "the orders carry their customers' history"
    );
    let log = work.path().join("log");
    serve_and_scrape(&bundle, &orders, &log).await;
    let evaluation = evaluate::evaluate(&bundle, &log, sales).unwrap();
    assert_eq!(
        evaluation.cancellation.outcome,
        shopml_core::cancellation::PredictedOutcome::Return
    );
    assert_reproduces(&bundle, &serde_json::to_value(&evaluation).unwrap());
}
