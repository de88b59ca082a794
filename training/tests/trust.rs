//! What the product says is checked before it is said: every model with baselines serves what
//! scored best on the export's own validation period; every insight and recommendation figure
//! reconciles with an independent computation; closed days, customers whose rows disagree and
//! promotions recorded only with kept orders are handled.

use shopml_core::insights::Insights;
use shopml_core::models::{LoadedBundle, ModelSet};
use shopml_training::data::{self, Exports};
use shopml_training::pipeline;
use shopml_training::progress::Progress;
use std::path::{Path, PathBuf};

fn sample_dir() -> PathBuf {
    pipeline::default_data_dir().expect("the sample is generated")
}

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/retailers").join(name)
}

fn sample_insights() -> (Exports, Insights) {
    let config = pipeline::default_config();
    let exports = data::read_exports(&sample_dir(), &config).unwrap();
    let insights = shopml_training::insights::compute(&exports, "INR").unwrap();
    (exports, insights)
}

#[test]
fn every_insight_and_recommendation_figure_reconciles_with_an_independent_computation() {
    let (exports, insights) = sample_insights();
    assert!(!insights.recommendations.is_empty());
    let check = shopml_training::reconcile::reconcile(&exports, &insights).unwrap();
    assert!(check.checked > 200, "{} figures", check.checked);
    let shown: Vec<String> = check.mismatches.iter().map(ToString::to_string).collect();
    assert!(shown.is_empty(), "{shown:#?}");
    // A changed figure is caught.
    let mut altered = insights.clone();
    altered.total.revenue *= 1.0001;
    altered.recommendations[0].evidence.value *= 1.01;
    let caught = shopml_training::reconcile::reconcile(&exports, &altered).unwrap();
    assert!(caught.mismatches.iter().any(|m| m.figure == "total revenue"));
    assert!(caught.mismatches.iter().any(|m| m.figure.starts_with("recommendation ")));
}

#[test]
fn every_recommendation_carries_evidence_that_passes_its_thresholds() {
    let (_, insights) = sample_insights();
    for r in &insights.recommendations {
        let e = &r.evidence;
        assert!(e.passes && e.size >= e.min_size, "{}: {e:?}", r.rule);
        assert!(e.low <= e.value && e.value <= e.high, "{}: {e:?}", r.rule);
        assert!(!(e.low <= e.compared_value && e.compared_value <= e.high), "{}", r.rule);
        assert!(!e.population.is_empty() && !e.method.is_empty());
    }
}

#[test]
fn customers_whose_rows_disagree_are_counted_once_and_the_groups_add_up() {
    let (exports, insights) = sample_insights();
    let customers: std::collections::BTreeSet<&str> =
        exports.customers.as_ref().unwrap().purchases.iter().map(|p| p.user_id.as_str()).collect();
    assert!(insights.demographic_conflicts["gender"] > 0, "the sample has conflicting genders");
    for (attribute, groups) in &insights.demographics {
        let counted: f64 = groups.iter().map(|g| g.1.customers).sum();
        assert_eq!(counted, customers.len() as f64, "{attribute}");
    }
}

#[test]
fn a_promotion_recorded_only_with_kept_lines_is_compared_on_orders_not_cancelled() {
    let (exports, insights) = sample_insights();
    let sales = exports.sales.as_ref().unwrap();
    let cancelled_with_promotion = sales
        .lines
        .iter()
        .filter(|l| l.outcome == data::sales::Outcome::Cancelled && !l.promotion.is_empty())
        .count();
    assert_eq!(cancelled_with_promotion, 0, "the sample records promotions with kept lines only");
    let p = insights.promotion.as_ref().unwrap();
    // Every order without a cancelled line is on one side.
    let mut orders: std::collections::BTreeMap<&str, bool> = Default::default();
    for l in sales.lines.iter().filter(|l| l.outcome != data::sales::Outcome::ReturnLine) {
        *orders.entry(&l.order_id).or_default() |= l.outcome == data::sales::Outcome::Cancelled;
    }
    let kept = orders.values().filter(|cancelled| !**cancelled).count() as f64;
    assert_eq!(p.kept_orders_with.n + p.kept_orders_without.n, kept);
    for r in insights.recommendations.iter().filter(|r| r.rule == "promotion") {
        assert!(r.evidence.population.contains("none cancelled"));
        assert!(r.text.contains("association, not an effect"), "{}", r.text);
    }
}

#[test]
fn a_shop_closed_every_saturday_is_closed_in_the_forecast_and_the_insights() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline::load_config(&[profile("online_retail.toml").as_path()]).unwrap();
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let forecast = &trained.metrics["forecast"];
    assert_eq!(forecast["closed_weekdays"], serde_json::json!([5]), "Saturday");
    let insights = trained.model::<Insights>().expect("insights trained");
    assert_eq!(insights.closed_weekdays, [5]);
    // The weekday rule's mean day counts no Saturday.
    for r in insights.recommendations.iter().filter(|r| r.rule == "weekday") {
        assert!(r.text.contains("closed on Saturday"), "{}", r.text);
        assert_ne!(r.about["weekday"], "5");
    }
    assert!(insights.peaks.iter().all(|p| p.date.format("%a").to_string() != "Sat"));
    pipeline::write_bundle(trained, &config, &dir.path().join("b")).unwrap();
    let bundle = LoadedBundle::load(&dir.path().join("b")).unwrap();
    let forecaster = bundle.models.forecast.as_ref().unwrap();
    let total = &forecaster.series()[0];
    let points = forecaster.forecast(&[shopml_core::forecast::ForecastRequest {
        series: 0,
        history: &total.values,
        last_date: total.last_date(),
        horizon_days: 14,
    }]);
    for p in &points[0] {
        let saturday = p.date.format("%a").to_string() == "Sat";
        assert_eq!(saturday, p.mean == 0.0 && p.p90 == 0.0, "{}", p.date);
    }
}

#[test]
fn every_model_with_baselines_serves_what_scored_best_on_validation() {
    let config = pipeline::default_config();
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let checks = ModelSet::baseline_checks_in(&trained.metrics);
    let models: std::collections::BTreeSet<&str> = checks.iter().map(|c| c.0).collect();
    assert!(models.is_superset(&["cancellation", "forecast", "price"].into()), "{models:?}");
    for (model, backtest) in ["cancellation", "price"]
        .iter()
        .filter_map(|m| Some((m, trained.metrics[m].get("backtest")?)))
    {
        let backtest: shopml_core::models::Backtest =
            serde_json::from_value(backtest.clone()).unwrap();
        let best = backtest
            .candidates
            .iter()
            .min_by(|a, b| {
                let order = a.validation.total_cmp(&b.validation);
                if backtest.better == shopml_core::models::Better::Higher {
                    order.reverse()
                } else {
                    order
                }
            })
            .unwrap();
        assert_eq!(backtest.served, best.name, "{model}");
        assert_eq!(backtest.candidates[0].name, "model");
        assert!(backtest.candidates.len() >= 3, "{model}: the model and two baselines");
    }
    assert!(!trained.metrics["forecast"]["backtests"].as_array().unwrap().is_empty());
}

#[test]
fn a_baseline_that_wins_on_validation_serves_in_the_model_s_place() {
    let dir = tempfile::tempdir().unwrap();
    // A price net of one epoch loses to its ridge baseline.
    let file = dir.path().join("weak.toml");
    std::fs::write(&file, "models = [\"price\"]\n[price]\nmax_epochs = 1\nfixed_epochs = 1\n")
        .unwrap();
    let config = pipeline::load_config(&[file.as_path()]).unwrap();
    let trained = pipeline::train(&sample_dir(), &config, &Progress::quiet()).unwrap();
    let served = trained.metrics["price"]["backtest"]["served"].as_str().unwrap().to_owned();
    assert_ne!(served, "model", "a net of one epoch is no match for its baselines");
    let r2_log = trained.metrics["price"]["r2_log"].as_f64().unwrap();
    let candidates = trained.metrics["price"]["backtest"]["candidates"].as_array().unwrap();
    let served_test =
        candidates.iter().find(|c| c["name"] == served.as_str()).unwrap()["test"].as_f64().unwrap();
    assert!((r2_log - served_test).abs() < 1e-9, "the test figures are those of what serves");
    pipeline::write_bundle(trained, &config, &dir.path().join("b")).unwrap();
    let bundle = LoadedBundle::load(&dir.path().join("b")).unwrap();
    let price = bundle.models.price.as_ref().unwrap();
    assert_eq!(price.baseline().map(|b| b.name()), Some(served.as_str()));
    let info = &bundle.models.facts["price"];
    assert!(info.predicts.contains("served by the"), "{}", info.predicts);
}
