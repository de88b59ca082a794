//! Limits and security: message size, batch size, deadlines, load shedding, bearer tokens.

use crate::common::*;
use shopml_server::proto;
use std::time::Duration;
use tonic::Code;

#[tokio::test]
async fn oversized_messages_and_batches_are_refused() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_message_bytes = 4096;
    settings.limits.max_batch_size = 3;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    let mut big = order(1);
    big.ship_city = "X".repeat(10_000);
    let (c, m) = code(
        client
            .predict_cancellation(proto::PredictCancellationRequest {
                order: Some(big),
                skip_explanations: false,
            })
            .await,
    );
    assert_eq!(c, Code::ResourceExhausted, "{m}");
    let orders = (0..4)
        .map(|_| proto::PredictCancellationRequest {
            order: Some(order(1)),
            skip_explanations: true,
        })
        .collect();
    let (c, m) = code(
        client.predict_cancellation_batch(proto::PredictCancellationBatchRequest { orders }).await,
    );
    assert_eq!(
        (c, m.as_str()),
        (Code::InvalidArgument, "orders: 4 items; at most 3 per call (limits.max_batch_size)")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_deadlines_answer_deadline_exceeded() {
    // The server's default deadline (tonic's client also enforces a grpc-timeout it sends, so
    // the server's own deadline is what is tested here; the header is parsed the same way).
    let mut settings = settings(&shipped_bundle());
    settings.limits.default_timeout_ms = 1;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    let products: Vec<proto::Product> = (0..10_000).map(|i| product(&format!("P{i}"))).collect();
    let request = tonic::Request::new(proto::PredictPriceBatchRequest { products });
    let (c, m) = code(client.predict_price_batch(request).await);
    assert_eq!(c, Code::DeadlineExceeded, "{m}");
    server.shutdown().await.unwrap();
}

/// A gauge or counter of the metrics text, 0 when absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_whose_deadline_passed_stops_and_holds_its_slot_until_then() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.default_timeout_ms = 40;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let http = server.metrics_addr.unwrap();
    let mut client = predictions(&channel);
    // 10,000 orders of 3 explained lines: many chunks of model work, far beyond 40 ms.
    let orders: Vec<proto::PredictCancellationRequest> = (0..10_000)
        .map(|i| proto::PredictCancellationRequest {
            order: Some(shopml_server::examples::order(&format!("171-{i}"), 3, i)),
            skip_explanations: false,
        })
        .collect();
    let request = proto::PredictCancellationBatchRequest { orders };
    let (c, m) = code(client.predict_cancellation_batch(request).await);
    assert_eq!(c, Code::DeadlineExceeded, "{m}");
    // The work notices its caller has gone at its next chunk and stops, releasing its slot.
    let mut text = String::new();
    for _ in 0..200 {
        text = http_get(http, "/metrics").await.1;
        if metric(&text, "shopml_model_work_running") == 0.0
            && metric(&text, "shopml_model_work_abandoned_total") >= 1.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(metric(&text, "shopml_model_work_abandoned_total"), 1.0, "{text}");
    assert_eq!(metric(&text, "shopml_model_work_running"), 0.0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_at_its_deadline_like_a_unary_call() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.default_timeout_ms = 300;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let mut answers = client
        .predict_price_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    let item =
        proto::PredictPriceStreamRequest { request_id: "a".into(), product: Some(product("P1")) };
    sender.send(item).await.unwrap();
    assert!(answers.message().await.unwrap().is_some(), "answered within the deadline");
    // Idle past the deadline, the stream still open on the client's side.
    let started = std::time::Instant::now();
    let ended = answers.message().await.expect_err("the stream ends with an error");
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(sender);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_over_the_concurrency_limit_are_shed() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_concurrent_requests = 1;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut slow = predictions(&channel);
    let products: Vec<proto::Product> = (0..10_000).map(|i| product(&format!("P{i}"))).collect();
    let first = tokio::spawn(async move {
        slow.predict_price_batch(proto::PredictPriceBatchRequest { products }).await
    });
    let metrics = server.registry.metrics().clone();
    for _ in 0..500 {
        if metrics.in_flight.get() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (c, _) = code(
        predictions(&channel)
            .predict_price(proto::PredictPriceRequest { product: Some(product("x")) })
            .await,
    );
    assert_eq!(c, Code::ResourceExhausted);
    assert!(first.await.unwrap().is_ok(), "the call holding the slot completes");
    assert_eq!(metrics.shed.get(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_stream_holds_its_slot_until_it_ends() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_concurrent_requests = 2;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    // Two streams, answered once each and left open.
    let mut open = Vec::new();
    for s in 0..2 {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let request = proto::PredictPriceStreamRequest {
            request_id: format!("s{s}"),
            product: Some(product("x")),
        };
        sender.send(request).await.unwrap();
        let mut answers = predictions(&channel)
            .predict_price_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
            .unwrap()
            .into_inner();
        assert!(answers.message().await.unwrap().is_some());
        open.push((sender, answers));
    }
    let unary = || async {
        let answer = predictions(&channel)
            .predict_price(proto::PredictPriceRequest { product: Some(product("x")) })
            .await;
        answer.map_or_else(|status| status.code(), |_| Code::Ok)
    };
    assert_eq!(unary().await, Code::ResourceExhausted, "the open streams hold both slots");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
    assert!(health.check(request).await.is_ok(), "health is never shed");
    // Ending a stream gives its slot back.
    let (sender, mut answers) = open.pop().unwrap();
    drop(sender);
    while answers.message().await.unwrap().is_some() {}
    let mut freed = false;
    for _ in 0..100 {
        if unary().await == Code::Ok {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(freed, "a slot is free once a stream has ended");
    drop(open);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_for_all_calls_is_required_except_for_health() {
    let mut settings = settings(&shipped_bundle());
    settings.auth.admin_token = "s3cret".into();
    settings.auth.require_for_all = true;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    let (c, _) = code(
        client.predict_price(proto::PredictPriceRequest { product: Some(product("x")) }).await,
    );
    assert_eq!(c, Code::Unauthenticated);
    let mut wrong = tonic::Request::new(proto::PredictPriceRequest { product: Some(product("x")) });
    wrong.metadata_mut().insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(code(client.predict_price(wrong).await).0, Code::Unauthenticated);
    let mut right = tonic::Request::new(proto::PredictPriceRequest { product: Some(product("x")) });
    right.metadata_mut().insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(client.predict_price(right).await.is_ok());
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    assert!(
        health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.is_ok()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn inputs_echoed_in_errors_are_short_and_escaped() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let huge = format!("line\nforged {}", "x".repeat(1_000_000));
    let (c, m) = code(
        segments(&channel)
            .lookup_segment(proto::LookupSegmentRequest {
                kind: proto::SegmentKind::Region as i32,
                id: huge.clone(),
            })
            .await,
    );
    // Longer than any id: refused before any lookup, naming the limit.
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.len() < 300 && !m.contains('\n') && m.contains("line\\nforged"), "{m}");
    assert!(m.contains("at most 1024 bytes"), "{m}");
    let (c, m) = code(
        segments(&channel)
            .bought_together(proto::BoughtTogetherRequest { sku: huge, limit: 1 })
            .await,
    );
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.len() < 300, "{} bytes", m.len());

    // A reload path with a line break is refused before it reaches a log line.
    let (c, m) = code(
        models(&channel)
            .reload_models(proto::ReloadModelsRequest { bundle_path: "/tmp/a\nforged".into() })
            .await,
    );
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("bundle_path"), "{m}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn items_over_the_size_limits_are_refused_naming_the_limit() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_order_lines = 5;
    settings.limits.max_text_bytes = 1000;
    settings.limits.max_history_days = 3;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    let request =
        proto::PredictCancellationRequest { order: Some(order(6)), skip_explanations: true };
    let (c, m) = code(client.predict_cancellation(request).await);
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("order.lines") && m.contains("limits.max_order_lines"), "{m}");
    let batch = proto::PredictCancellationBatchRequest {
        orders: vec![proto::PredictCancellationRequest {
            order: Some(order(6)),
            skip_explanations: true,
        }],
    };
    let (_, m) = code(client.predict_cancellation_batch(batch).await);
    assert!(m.starts_with("orders[0].order.lines"), "{m}");

    let review = proto::AnalyzeSentimentRequest { title: String::new(), text: "good ".repeat(300) };
    let (c, m) = code(client.analyze_sentiment(review).await);
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("text") && m.contains("limits.max_text_bytes"), "{m}");
    let product = proto::Product { name: "x".repeat(2000), ..product("P1") };
    let (_, m) =
        code(client.predict_price(proto::PredictPriceRequest { product: Some(product) }).await);
    assert!(m.starts_with("product.name") && m.contains("limits.max_text_bytes"), "{m}");

    let day = |date: &str| proto::DailyDemand { date: date.into(), value: 1.0 };
    let forecast = proto::ForecastDemandRequest {
        horizon_days: 7,
        history: vec![day("2022-06-01"), day("2022-06-02"), day("2022-06-03"), day("2022-06-04")],
        ..Default::default()
    };
    let (c, m) = code(client.forecast_demand(forecast).await);
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("history") && m.contains("limits.max_history_days"), "{m}");
    server.shutdown().await.unwrap();
}

/// A legal batch whose answer would outgrow `max_message_bytes` stops once its answers do, with
/// RESOURCE_EXHAUSTED naming the limit, instead of computing what it cannot send.
#[tokio::test]
async fn an_answer_over_the_message_limit_is_refused_while_computed() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_message_bytes = 256 * 1024;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(std::time::Duration::from_secs(20)).await);
    let forecast = proto::ForecastDemandRequest { horizon_days: 28, ..Default::default() };
    let batch = proto::ForecastDemandBatchRequest { requests: vec![forecast; 5000] };
    let (status, message) = code(predictions(&channel).forecast_demand_batch(batch).await);
    assert_eq!(status, tonic::Code::ResourceExhausted, "{message}");
    assert!(message.contains("limits.max_message_bytes (262144)"), "{message}");
    // A batch whose answer fits is answered.
    let forecast = proto::ForecastDemandRequest { horizon_days: 7, ..Default::default() };
    let batch = proto::ForecastDemandBatchRequest { requests: vec![forecast; 100] };
    assert_eq!(
        predictions(&channel)
            .forecast_demand_batch(batch)
            .await
            .unwrap()
            .into_inner()
            .results
            .len(),
        100
    );
    server.shutdown().await.unwrap();
}
