//! Every prediction RPC, its happy path and its refusals, against the shipped bundle.

use crate::common::*;
use shopml_server::proto;
use tonic::Code;

#[tokio::test]
async fn health_is_serving_and_reflection_lists_the_services() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in
        ["", "shopml.v1.PredictionService", "shopml.v1.SegmentService", "shopml.v1.ModelService"]
    {
        // SERVING is reported right after the swap; allow the report a moment.
        let mut status = 0;
        for _ in 0..50 {
            status = health
                .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
                .await
                .unwrap()
                .into_inner()
                .status;
            if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest,
    };
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let listed = format!("{:?}", response.message_response);
    for service in [
        "shopml.v1.PredictionService",
        "shopml.v1.SegmentService",
        "shopml.v1.ModelService",
        "grpc.health.v1.Health",
    ] {
        assert!(listed.contains(service), "reflection lists {service}: {listed}");
    }

    // The same through v1alpha, which older tools speak.
    use tonic_reflection::pb::v1alpha;
    let mut reflection =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("v1alpha reflection answers")
        .into_inner();
    let listed = format!("{:?}", responses.message().await.unwrap().unwrap().message_response);
    assert!(listed.contains("shopml.v1.PredictionService"), "{listed}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn cancellation_risk_is_calibrated_banded_and_explained() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let info =
        models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    let response = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(order(2)),
            skip_explanations: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.order_id, "171-0000001-0000001");
    assert_eq!(response.bundle_version, info.bundle_version);
    assert_eq!(response.lines.len(), 2);
    let max_line = response.lines.iter().map(|l| l.cancel_probability).fold(0.0, f64::max);
    for line in &response.lines {
        assert!(line.cancel_probability > 0.0 && line.cancel_probability < 1.0);
        assert_ne!(line.risk_band, proto::RiskBand::Unspecified as i32);
        assert_eq!(line.top_reasons.len(), 3, "three reasons by default");
        let effects: Vec<f64> = line.top_reasons.iter().map(|r| r.logit_effect.abs()).collect();
        assert!(effects.windows(2).all(|w| w[0] >= w[1]), "strongest reason first: {effects:?}");
        assert!(
            line.unseen_inputs.contains(&"asin".to_owned()),
            "an unknown ASIN is flagged, not refused"
        );
        assert!(!line.unit_price_imputed);
    }
    assert!(
        response.order_cancel_probability >= max_line - 1e-12,
        "an order is at least as risky as its riskiest line"
    );

    // Explanations can be skipped on the hot path; the probability does not change.
    let plain = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(order(2)),
            skip_explanations: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plain.lines.iter().all(|l| l.top_reasons.is_empty()));
    assert_eq!(plain.lines[0].cancel_probability, response.lines[0].cancel_probability);

    // A missing price is imputed, not an error.
    let mut no_price = order(1);
    no_price.lines[0].unit_price = None;
    let imputed = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(no_price),
            skip_explanations: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(imputed.lines[0].unit_price_imputed);
    assert!(imputed.lines[0].unit_price > 0.0);

    // The batch form answers each order in order.
    let batch = client
        .predict_cancellation_batch(proto::PredictCancellationBatchRequest {
            orders: vec![
                proto::PredictCancellationRequest {
                    order: Some(order(1)),
                    skip_explanations: true,
                },
                proto::PredictCancellationRequest {
                    order: Some(order(3)),
                    skip_explanations: false,
                },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.iter().map(|r| r.lines.len()).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(batch.results[1].lines[0].cancel_probability, response.lines[0].cancel_probability);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let call = |order: Option<proto::Order>| {
        let mut client = client.clone();
        async move {
            code(
                client
                    .predict_cancellation(proto::PredictCancellationRequest {
                        order,
                        skip_explanations: false,
                    })
                    .await,
            )
        }
    };
    let mut negative = order(2);
    negative.lines[1].unit_price = Some(-5.0);
    assert_eq!(
        call(Some(negative)).await,
        (
            Code::InvalidArgument,
            "order.lines[1].unit_price: must be a finite number >= 0, got -5".into()
        )
    );
    let mut nan = order(1);
    nan.lines[0].unit_price = Some(f64::NAN);
    assert!(call(Some(nan)).await.1.starts_with("order.lines[0].unit_price"));
    assert_eq!(
        call(Some(order(0))).await,
        (Code::InvalidArgument, "order.lines: an order needs at least one line".into())
    );
    let mut bad_date = order(1);
    bad_date.order_date = "06-12-22".into();
    let (c, m) = call(Some(bad_date)).await;
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("order.order_date"), "{m}");
    let mut no_sku = order(1);
    no_sku.lines[0].sku = "  ".into();
    assert_eq!(call(Some(no_sku)).await.1, "order.lines[0].sku: required");
    assert_eq!(call(None).await, (Code::InvalidArgument, "order: required".into()));

    let mut bad = order(1);
    bad.order_date = String::new();
    let (c, m) = code(
        client
            .predict_cancellation_batch(proto::PredictCancellationBatchRequest {
                orders: vec![
                    proto::PredictCancellationRequest {
                        order: Some(order(1)),
                        skip_explanations: false,
                    },
                    proto::PredictCancellationRequest {
                        order: Some(bad),
                        skip_explanations: false,
                    },
                ],
            })
            .await,
    );
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("orders[1].order.order_date"), "{m}");
    let (c, m) = code(
        client
            .predict_cancellation_batch(proto::PredictCancellationBatchRequest { orders: vec![] })
            .await,
    );
    assert_eq!((c, m.as_str()), (Code::InvalidArgument, "orders: at least one item is required"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn prices_come_with_a_range_in_every_form() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let single = client
        .predict_price(proto::PredictPriceRequest { product: Some(product("P1")) })
        .await
        .unwrap()
        .into_inner();
    let p = single.prediction.clone().unwrap();
    assert_eq!(p.product_id, "P1");
    assert!(p.price_p10 <= p.price && p.price <= p.price_p90, "{p:?}");
    assert!((p.implied_discount_pct - 100.0 * (1.0 - p.price / 2999.0)).abs() < 1e-9);

    let products: Vec<proto::Product> = (0..50).map(|i| product(&format!("P{i}"))).collect();
    let batch = client
        .predict_price_batch(proto::PredictPriceBatchRequest { products })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.predictions.len(), 50);
    assert_eq!(
        batch.predictions[1].price, p.price,
        "the same product gets the same price in a batch"
    );

    // Streaming: ids echoed, a bad item answered with its own error, the stream goes on.
    let mut items: Vec<proto::PredictPriceStreamRequest> = (0..1200)
        .map(|i| proto::PredictPriceStreamRequest {
            request_id: format!("r{i}"),
            product: Some(product(&format!("S{i}"))),
        })
        .collect();
    items[7].product.as_mut().unwrap().list_price = 0.0;
    let mut answers =
        client.predict_price_stream(tokio_stream::iter(items)).await.unwrap().into_inner();
    let mut seen = 0;
    while let Some(answer) = answers.message().await.unwrap() {
        assert_eq!(answer.request_id, format!("r{seen}"));
        match answer.result.unwrap() {
            proto::predict_price_stream_response::Result::Prediction(p) => {
                assert_ne!(seen, 7);
                assert_eq!(p.price, single.prediction.as_ref().unwrap().price);
                assert!(!answer.bundle_version.is_empty());
            }
            proto::predict_price_stream_response::Result::Error(e) => {
                assert_eq!(seen, 7);
                assert_eq!(e.code, "INVALID_ARGUMENT");
                assert!(e.message.starts_with("product.list_price"), "{}", e.message);
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 1200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_products_are_refused_naming_the_field() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let client = predictions(&channel);
    let check = |product: proto::Product, field: &'static str| {
        let mut client = client.clone();
        async move {
            let (c, m) = code(
                client.predict_price(proto::PredictPriceRequest { product: Some(product) }).await,
            );
            assert_eq!(c, Code::InvalidArgument);
            assert!(m.starts_with(field), "{m} should name {field}");
        }
    };
    check(proto::Product { list_price: -1.0, ..product("x") }, "product.list_price").await;
    check(proto::Product { list_price: f64::INFINITY, ..product("x") }, "product.list_price").await;
    check(proto::Product { rating: Some(5.5), ..product("x") }, "product.rating").await;
    check(proto::Product { rating_count: Some(-3), ..product("x") }, "product.rating_count").await;
    check(
        proto::Product { name: " ".into(), category_path: String::new(), ..product("x") },
        "product.name",
    )
    .await;
    let mut batch = vec![product("a"), product("b")];
    batch[1].rating = Some(-1.0);
    let (_, m) = code(
        client
            .clone()
            .predict_price_batch(proto::PredictPriceBatchRequest { products: batch })
            .await,
    );
    assert!(m.starts_with("products[1].rating"), "{m}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sentiment_tells_negative_from_positive_and_handles_any_text() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let analyze = |title: &str, text: &str| {
        let mut client = client.clone();
        let request = proto::AnalyzeSentimentRequest { title: title.into(), text: text.into() };
        async move { client.analyze_sentiment(request).await.map(|r| r.into_inner().result.unwrap()) }
    };
    let bad = analyze(
        "Waste of money",
        "It stopped working after a week, very disappointed, returned it.",
    )
    .await
    .unwrap();
    let good =
        analyze("Great value", "I love this, works great and easy to use. Highly recommend it.")
            .await
            .unwrap();
    assert_eq!(bad.label, proto::SentimentLabel::Negative as i32);
    assert_eq!(good.label, proto::SentimentLabel::Positive as i32);
    assert!(bad.negative_probability > good.negative_probability);
    assert!(!bad.top_words.is_empty());
    assert!(
        bad.top_words[0].logit_effect > 0.0,
        "the strongest word of a negative review pushes towards negative: {:?}",
        bad.top_words
    );

    let long = "great ".repeat(5000);
    let cut = analyze("", &long).await.unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.words_total, 5000);
    assert!(cut.words_used < cut.words_total);
    for text in ["बहुत अच्छा है 👍👍", "😀😀😀", "Ünïcödé — ÆØÅ 中文 العربية", "\u{0}\u{feff} ok"]
    {
        let r = analyze("", text).await.unwrap();
        assert!((0.0..=1.0).contains(&r.negative_probability), "{text}");
    }
    assert_eq!(
        code(analyze("title only", "   ").await),
        (Code::InvalidArgument, "text: required (not empty)".into())
    );
    let batch = client
        .analyze_sentiment_batch(proto::AnalyzeSentimentBatchRequest {
            reviews: vec![
                proto::AnalyzeSentimentRequest { title: String::new(), text: "works great".into() },
                proto::AnalyzeSentimentRequest { title: String::new(), text: String::new() },
            ],
        })
        .await;
    assert_eq!(code(batch).1, "reviews[1].text: required (not empty)");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn forecasts_cover_the_horizon_with_ordered_intervals() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let info =
        models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    assert!(info.forecast_window_days > 0);
    let total = info
        .forecast_series
        .iter()
        .find(|s| s.series == "total")
        .expect("the total series is known");
    let request = |category: &str, region: &str, horizon: u32, history: Vec<proto::DailyDemand>| {
        proto::ForecastDemandRequest {
            category: category.into(),
            region: region.into(),
            horizon_days: horizon,
            history,
            ..Default::default()
        }
    };
    let forecast = client.forecast_demand(request("", "", 14, vec![])).await.unwrap().into_inner();
    assert_eq!(forecast.series, "total");
    assert_eq!(forecast.origin_date, total.last_date);
    assert_eq!(forecast.points.len(), 14);
    let origin = chrono::NaiveDate::parse_from_str(&forecast.origin_date, "%Y-%m-%d").unwrap();
    for (day, point) in forecast.points.iter().enumerate() {
        assert_eq!(point.date, (origin + chrono::Duration::days(day as i64 + 1)).to_string());
        assert!(0.0 <= point.p10 && point.p10 <= point.p50 && point.p50 <= point.p90);
    }

    // A category (any case) and a region (any spelling) name their series.
    let category = info.forecast_series.iter().find(|s| !s.category.is_empty()).unwrap();
    let by_category = client
        .forecast_demand(request(&category.category.to_uppercase(), "", 7, vec![]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_category.series, category.series);
    let region = info.forecast_series.iter().find(|s| !s.region.is_empty()).unwrap();
    let by_region = client
        .forecast_demand(request("", &region.region.to_lowercase(), 7, vec![]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_region.series, region.series);

    // History brought by the request extends the stored one: the forecast starts after it.
    let next = |d: i64| (origin + chrono::Duration::days(d)).to_string();
    let extended = client
        .forecast_demand(request(
            "",
            "",
            3,
            vec![
                proto::DailyDemand { date: next(1), value: 50.0 },
                proto::DailyDemand { date: next(2), value: 55.0 },
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(extended.origin_date, next(2));
    assert_eq!(extended.points[0].date, next(3));

    let refused = |r: proto::ForecastDemandRequest| {
        let mut client = client.clone();
        async move { code(client.forecast_demand(r).await) }
    };
    let (c, m) = refused(request("no such category", "", 7, vec![])).await;
    assert_eq!(c, Code::NotFound);
    assert!(m.contains("category:no such category"), "{m}");
    assert!(refused(request("", "", 0, vec![])).await.1.starts_with("horizon_days"));
    assert!(refused(request("", "", 29, vec![])).await.1.starts_with("horizon_days"));
    let unknown_measure =
        proto::ForecastDemandRequest { measure: "litres".into(), ..request("", "", 7, vec![]) };
    let (c, m) = refused(unknown_measure).await;
    assert!(c == Code::InvalidArgument && m.starts_with("measure") && m.contains("units"), "{m}");
    let not_trained =
        proto::ForecastDemandRequest { measure: "revenue".into(), ..request("", "", 7, vec![]) };
    let (c, m) = refused(not_trained).await;
    assert!(c == Code::NotFound && m.contains("revenue:total"), "{m}");
    let (c, m) =
        refused(request("", "", 7, vec![proto::DailyDemand { date: next(1), value: -1.0 }])).await;
    assert_eq!((c, m.starts_with("history[0].value")), (Code::InvalidArgument, true), "{m}");
    let (_, m) = refused(request(
        "",
        "",
        7,
        vec![
            proto::DailyDemand { date: next(2), value: 1.0 },
            proto::DailyDemand { date: next(1), value: 1.0 },
        ],
    ))
    .await;
    assert!(m.starts_with("history[1].date"), "{m}");
    let (_, m) =
        refused(request("", "", 7, vec![proto::DailyDemand { date: next(5), value: 1.0 }])).await;
    assert!(m.starts_with("history[0].date") && m.contains("gap"), "{m}");

    let batch = client
        .forecast_demand_batch(proto::ForecastDemandBatchRequest {
            requests: vec![request("", "", 5, vec![]), request(&category.category, "", 28, vec![])],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.iter().map(|r| r.points.len()).collect::<Vec<_>>(), [5, 28]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn model_info_describes_the_bundle_serving() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let info =
        models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    let manifest: shopml_core::bundle::Manifest =
        shopml_core::bundle::read_json(&shipped_bundle(), "manifest.json").unwrap();
    assert_eq!(info.bundle_version, manifest.bundle_version);
    assert_eq!(info.format_version, shopml_core::bundle::FORMAT_VERSION);
    assert_eq!(info.data_fingerprint.len(), 4);
    let names: Vec<&str> = info.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["cancellation", "forecast", "insights", "outcome_rates", "price", "segments", "sentiment"]
    );
    let cancellation = &info.models[0];
    assert!(
        cancellation.metrics.contains_key("roc_auc") && cancellation.metrics.contains_key("brier")
    );
    assert!(cancellation.config_json.contains("vocab_size"));
    assert!(info.models[1].metrics.keys().any(|k| k.starts_with("per_series.")));
    let sentiment = info.models.iter().find(|m| m.name == "sentiment").unwrap();
    assert!(sentiment.metrics.contains_key("sentiment_reviews.macro_f1"));
    assert!(info.last_reload_error.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&info.metrics_json).is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_model_missing_from_the_bundle_answers_failed_precondition() {
    // A bundle with the cancellation model alone.
    let dir = tempfile::tempdir().unwrap();
    let full = shipped_bundle();
    let target = dir.path().join("bundle");
    let mut writer = shopml_core::bundle::BundleWriter::create(&target).unwrap();
    let manifest: shopml_core::bundle::Manifest =
        shopml_core::bundle::read_json(&full, "manifest.json").unwrap();
    let entry = &manifest.models["cancellation"];
    for file in &entry.files {
        writer.write_bytes(file, &std::fs::read(full.join(file)).unwrap()).unwrap();
    }
    writer.add_model(
        "cancellation",
        entry.config.clone(),
        &entry.files.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    writer.write_bytes("metrics.json", &std::fs::read(full.join("metrics.json")).unwrap()).unwrap();
    writer
        .finish(chrono::Utc::now(), "test".into(), Default::default(), serde_json::Value::Null)
        .unwrap();

    let (server, channel) = start_ready(&target).await;
    let mut client = predictions(&channel);
    assert!(
        client
            .predict_cancellation(proto::PredictCancellationRequest {
                order: Some(order(1)),
                skip_explanations: false
            })
            .await
            .is_ok()
    );
    let (c, m) = code(
        client.predict_price(proto::PredictPriceRequest { product: Some(product("x")) }).await,
    );
    assert_eq!(
        (c, m.as_str()),
        (Code::FailedPrecondition, "model 'price' is not in the loaded bundle")
    );
    let (c, m) = code(
        client
            .analyze_sentiment(proto::AnalyzeSentimentRequest {
                title: String::new(),
                text: "ok".into(),
            })
            .await,
    );
    assert_eq!(c, Code::FailedPrecondition);
    assert!(m.contains("'sentiment'"));
    let (c, m) = code(
        client
            .forecast_demand(proto::ForecastDemandRequest { horizon_days: 7, ..Default::default() })
            .await,
    );
    assert_eq!(c, Code::FailedPrecondition);
    assert!(m.contains("'forecast'"));
    let (c, _) = code(
        segments(&channel)
            .list_segments(proto::ListSegmentsRequest { kind: proto::SegmentKind::Product as i32 })
            .await,
    );
    assert_eq!(c, Code::FailedPrecondition);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn outcome_rates_are_ordered_within_their_intervals_and_fall_back_by_level() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let ask = |category: &str, product_id: &str| proto::GetOutcomeRatesRequest {
        category: category.into(),
        product_id: product_id.into(),
    };
    let all = predictions(&channel).get_outcome_rates(ask("", "")).await.unwrap().into_inner();
    assert_eq!(all.outcome, "cancellation");
    let overall = all.overall.as_ref().unwrap();
    assert!(all.rates.len() >= 2 && all.rates.iter().all(|r| r.level == "category"));
    assert!(all.rates.windows(2).all(|w| w[0].rate >= w[1].rate), "highest first");
    for r in all.rates.iter().chain([overall]) {
        assert!(r.rate_low <= r.rate && r.rate <= r.rate_high && r.outcome_lines <= r.lines);
    }
    // The categories' lines are the lines that have a category: at most the overall count.
    assert!(all.rates.iter().map(|r| r.lines).sum::<u64>() <= overall.lines);
    // A small category's rate lies between its raw share and the overall rate (shrinkage).
    for r in &all.rates {
        let raw = r.outcome_lines as f64 / r.lines as f64;
        let (lo, hi) = if raw < overall.rate { (raw, overall.rate) } else { (overall.rate, raw) };
        assert!(lo - 1e-9 <= r.rate && r.rate <= hi + 1e-9, "{r:?}");
    }
    let top = &all.rates[0];
    let one =
        predictions(&channel).get_outcome_rates(ask(&top.key.to_lowercase(), "")).await.unwrap();
    assert_eq!(one.into_inner().rates, std::slice::from_ref(top));
    let unknown = predictions(&channel).get_outcome_rates(ask("", "no-such-sku")).await.unwrap();
    assert_eq!(unknown.into_inner().rates[0].level, "overall");
    let info =
        models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    let rates = info.models.iter().find(|m| m.name == "outcome_rates").unwrap();
    assert!(rates.predicts.contains("cancelled") && rates.metrics.contains_key("test_log_loss"));
    server.shutdown().await.unwrap();
}
