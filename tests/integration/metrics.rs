//! The RPC metrics count each call once, with the code its client saw: a unary error, a
//! stream that fails after it started answering, an unknown method.

use crate::common::*;
use shopml_server::error::code_name;
use shopml_server::proto;
use std::time::Duration;
use tonic_types::StatusExt;

/// The value of `shopml_requests_total` for `rpc` and `code`, 0 when absent.
fn requests(metrics: &str, rpc: &str, code: &str) -> u64 {
    let series = format!("shopml_requests_total{{rpc=\"{rpc}\",code=\"{code}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}

#[tokio::test]
async fn each_call_is_counted_once_with_the_code_its_client_saw() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_message_bytes = 4096;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);

    let ok = client.predict_price(proto::PredictPriceRequest { product: Some(product("P1")) });
    assert!(ok.await.is_ok());
    let mut bad = product("P2");
    bad.list_price = -1.0;
    let refused = client.predict_price(proto::PredictPriceRequest { product: Some(bad) }).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let violations = refused.get_details_bad_request().expect("a BadRequest detail");
    assert_eq!(violations.field_violations[0].field, "product.list_price");

    // A stream whose second item is over the message limit: the first is answered, then the
    // stream ends with an error status in its trailers.
    let item = |id: &str, name: String| proto::PredictPriceStreamRequest {
        request_id: id.into(),
        product: Some(proto::Product { name, ..product(id) }),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let mut answers = client
        .predict_price_stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    sender.send(item("small", "USB cable".into())).await.unwrap();
    assert!(answers.message().await.expect("the first item is answered").is_some());
    sender.send(item("large", "x".repeat(8192))).await.unwrap();
    let failure = answers.message().await.expect_err("the stream fails on the large item");
    drop(sender);

    let (_, metrics) = http_get(server.metrics_addr.unwrap(), "/metrics").await;
    assert_eq!(requests(&metrics, "PredictPrice", "OK"), 1, "{metrics}");
    assert_eq!(requests(&metrics, "PredictPrice", "INVALID_ARGUMENT"), 1, "{metrics}");
    // The same code as a unary call over the limit gets.
    assert_eq!(failure.code(), tonic::Code::ResourceExhausted, "{failure:?}");
    let stream_code = code_name(failure.code());
    assert_eq!(requests(&metrics, "PredictPriceStream", stream_code), 1, "{metrics}");
    assert_eq!(requests(&metrics, "PredictPriceStream", "OK"), 0, "{metrics}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn scores_and_unseen_inputs_are_counted_per_model() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = predictions(&channel);
    let mut order = order(2);
    order.ship_city = "NOWHERE-TOWN".into();
    let risk = client
        .predict_cancellation(proto::PredictCancellationRequest {
            order: Some(order),
            skip_explanations: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(risk.unseen_inputs.iter().any(|i| i == "ship_city"), "{:?}", risk.unseen_inputs);
    client
        .predict_price(proto::PredictPriceRequest { product: Some(product("P1")) })
        .await
        .unwrap();
    client
        .analyze_sentiment(proto::AnalyzeSentimentRequest {
            text: "Stopped working after two days, very poor".into(),
            title: String::new(),
        })
        .await
        .unwrap();

    let (_, metrics) = http_get(server.metrics_addr.unwrap(), "/metrics").await;
    let value = |series: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    assert_eq!(value("shopml_predictions_total{model=\"cancellation\"}"), 1.0, "{metrics}");
    assert_eq!(
        value("shopml_unseen_inputs_total{model=\"cancellation\",input=\"ship_city\"}"),
        1.0
    );
    assert_eq!(value("shopml_prediction_probability_count{model=\"cancellation\"}"), 1.0);
    let p = risk.order_cancel_probability;
    assert!((value("shopml_prediction_probability_sum{model=\"cancellation\"}") - p).abs() < 1e-9);
    assert_eq!(value("shopml_price_ratio_count"), 1.0);
    // Every scored line or product enters its model's drift window, against the bundle's
    // reference of its score.
    for (model, scored) in [("cancellation", 2.0), ("price", 1.0), ("sentiment", 1.0)] {
        let window = format!("shopml_drift_window_lines{{model=\"{model}\"}}");
        assert_eq!(value(&window), scored, "{model}: {metrics}");
        let score = format!("shopml_score_psi{{model=\"{model}\"}}");
        assert!(metrics.contains(&format!("{score} ")) && value(&score) > 0.0, "{model}");
    }
    assert!(metrics.contains("shopml_input_psi{model=\"cancellation\",input=\"ship_city\"}"));
    server.shutdown().await.unwrap();
}
