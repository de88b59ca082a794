//! HTTP/JSON: every RPC answers the same over `POST /v1/{Service}/{Method}` as over gRPC, its
//! errors carry the gRPC code with the conventional HTTP status, and it goes through the gRPC
//! port's layers (auth, metrics).

use super::common::*;
use shopml_server::proto;
use shopml_server::server::http_json::{RPCS, http_status};
use std::collections::BTreeSet;
use tonic::transport::Channel;

/// POSTs `body` to `path` of the HTTP port; the status, the content type and the body.
pub async fn http_post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Calls `/{service}/{method}` over gRPC and over HTTP/JSON with the same request and asserts
/// the same answer: equal messages, or the same status code and message.
async fn same_answer<Req, Res>(
    http: std::net::SocketAddr,
    channel: &Channel,
    (service, method): (&'static str, &'static str),
    request: Req,
) -> Result<Res, tonic::Status>
where
    Req: prost::Message + serde::Serialize + Send + Sync + 'static,
    Res: prost::Message + serde::Serialize + serde::de::DeserializeOwned + Default + Send + 'static,
{
    let json = serde_json::to_string(&request).unwrap();
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = format!("/shopml.v1.{service}/{method}").parse().unwrap();
    let codec = tonic_prost::ProstCodec::<Req, Res>::default();
    let answer = grpc.unary(tonic::Request::new(request), path, codec).await;
    let (status, content_type, body) =
        http_post(http, &format!("/v1/{service}/{method}"), &[], &json).await;
    match &answer {
        Ok(expected) => {
            assert_eq!(status, 200, "{service}/{method}: {body}");
            assert_eq!(content_type, "application/json");
            // The same text as the gRPC answer written in the JSON mapping: the same message,
            // every float to the last bit.
            assert_eq!(
                body,
                serde_json::to_string(expected.get_ref()).unwrap(),
                "{service}/{method}"
            );
            serde_json::from_str::<Res>(&body).expect("the answer reads back");
        }
        Err(expected) => {
            assert_eq!(status, http_status(expected.code()).as_u16(), "{service}/{method}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["code"], expected.code() as i32, "{service}/{method}: {body}");
            assert_eq!(error["message"], expected.message(), "{service}/{method}");
        }
    }
    answer.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn every_rpc_answers_over_http_json_as_over_grpc() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let http = server.metrics_addr.unwrap();
    let mut called = BTreeSet::new();
    macro_rules! same {
        ($service:literal, $method:literal, $res:ident, $request:expr) => {{
            called.insert(($service, $method));
            same_answer::<_, proto::$res>(http, &channel, ($service, $method), $request).await
        }};
    }
    let checkout =
        proto::PredictCancellationRequest { order: Some(order(2)), ..Default::default() };
    let risk = same!(
        "PredictionService",
        "PredictCancellation",
        PredictCancellationResponse,
        checkout.clone()
    )
    .expect("the shipped bundle scores orders");
    assert!(risk.order_cancel_probability > 0.0);
    let batch = proto::PredictCancellationBatchRequest { orders: vec![checkout.clone(), checkout] };
    same!("PredictionService", "PredictCancellationBatch", PredictCancellationBatchResponse, batch)
        .unwrap();
    let price = proto::PredictPriceRequest { product: Some(product("p-1")) };
    same!("PredictionService", "PredictPrice", PredictPriceResponse, price).unwrap();
    let prices = proto::PredictPriceBatchRequest { products: vec![product("a"), product("b")] };
    same!("PredictionService", "PredictPriceBatch", PredictPriceBatchResponse, prices).unwrap();
    let review = proto::AnalyzeSentimentRequest {
        text: "Works well, great sound for the price".into(),
        title: "Good".into(),
    };
    same!("PredictionService", "AnalyzeSentiment", AnalyzeSentimentResponse, review.clone())
        .unwrap();
    let reviews = proto::AnalyzeSentimentBatchRequest { reviews: vec![review.clone(), review] };
    same!("PredictionService", "AnalyzeSentimentBatch", AnalyzeSentimentBatchResponse, reviews)
        .unwrap();
    let forecast = proto::ForecastDemandRequest { horizon_days: 7, ..Default::default() };
    same!("PredictionService", "ForecastDemand", ForecastDemandResponse, forecast.clone()).unwrap();
    let forecasts =
        proto::ForecastDemandBatchRequest { requests: vec![forecast.clone(), forecast] };
    same!("PredictionService", "ForecastDemandBatch", ForecastDemandBatchResponse, forecasts)
        .unwrap();
    let rates = proto::GetOutcomeRatesRequest { category: "Set".into(), ..Default::default() };
    same!("PredictionService", "GetOutcomeRates", GetOutcomeRatesResponse, rates).unwrap();

    let kind = proto::SegmentKind::Product as i32;
    let listed = same!(
        "SegmentService",
        "ListSegments",
        ListSegmentsResponse,
        proto::ListSegmentsRequest { kind }
    )
    .unwrap();
    assert!(!listed.segments.is_empty());
    let lookup = proto::LookupSegmentRequest { kind, id: "no-such-product".into() };
    assert!(same!("SegmentService", "LookupSegment", LookupSegmentResponse, lookup).is_err());
    let profile = proto::ProductProfile {
        price: 999.0,
        rating: 4.2,
        rating_count: 800.0,
        discount_pct: 30.0,
    };
    let assign = proto::AssignSegmentRequest {
        profile: Some(proto::assign_segment_request::Profile::Product(profile)),
    };
    same!("SegmentService", "AssignSegment", AssignSegmentResponse, assign).unwrap();
    let basket = proto::ListBasketRulesRequest { page_size: 3, ..Default::default() };
    same!("SegmentService", "ListBasketRules", ListBasketRulesResponse, basket).unwrap();
    let together = proto::BoughtTogetherRequest { sku: "no-such-sku".into(), limit: 3 };
    same!("SegmentService", "BoughtTogether", BoughtTogetherResponse, together).unwrap_err();

    // The shipped bundle has no customer-value model: the refusals must agree too.
    let customer = proto::GetCustomerValueRequest { customer_id: "c-1".into(), horizon_days: 90 };
    same!("CustomerService", "GetCustomerValue", GetCustomerValueResponse, customer).unwrap_err();
    let history =
        proto::ScoreCustomerHistoryRequest { customer_id: "c-1".into(), ..Default::default() };
    same!("CustomerService", "ScoreCustomerHistory", ScoreCustomerHistoryResponse, history)
        .unwrap_err();
    let customers = proto::ListCustomersRequest { page_size: 5, ..Default::default() };
    same!("CustomerService", "ListCustomers", ListCustomersResponse, customers).unwrap_err();

    let overview =
        same!("InsightsService", "GetOverview", GetOverviewResponse, proto::GetOverviewRequest {})
            .unwrap();
    let region = overview.regions.first().expect("regions").name.clone();
    let profile = proto::GetRegionProfileRequest { region: region.clone() };
    same!("InsightsService", "GetRegionProfile", GetRegionProfileResponse, profile).unwrap();
    let rank = proto::RankProductsRequest { page_size: 5, ..Default::default() };
    same!("InsightsService", "RankProducts", RankProductsResponse, rank).unwrap();
    let trend = proto::GetTrendRequest { region, ..Default::default() };
    same!("InsightsService", "GetTrend", GetTrendResponse, trend).unwrap();
    let advice = proto::ListRecommendationsRequest::default();
    same!("InsightsService", "ListRecommendations", ListRecommendationsResponse, advice).unwrap();

    same!(
        "InsightsService",
        "GetTimePatterns",
        GetTimePatternsResponse,
        proto::GetTimePatternsRequest {}
    )
    .unwrap();
    same!(
        "InsightsService",
        "GetPromotions",
        GetPromotionsResponse,
        proto::GetPromotionsRequest {}
    )
    .unwrap();
    same!("InsightsService", "GetDelivery", GetDeliveryResponse, proto::GetDeliveryRequest {})
        .unwrap();
    same!(
        "InsightsService",
        "GetDemographics",
        GetDemographicsResponse,
        proto::GetDemographicsRequest {}
    )
    .unwrap();
    let rules = proto::ListAttributeRulesRequest { page_size: 2, ..Default::default() };
    same!("InsightsService", "ListAttributeRules", ListAttributeRulesResponse, rules).unwrap();
    same!("ModelService", "GetModelInfo", GetModelInfoResponse, proto::GetModelInfoRequest {})
        .unwrap();
    let (status, _, body) = http_post(http, "/v1/ModelService/ReloadModels", &[], "{}").await;
    assert_eq!(status, 200, "{body}");
    called.insert(("ModelService", "ReloadModels"));

    // The stream: one JSON object per line each way, answered like the gRPC stream.
    let items: Vec<proto::PredictPriceStreamRequest> = ["a", "b", "c"]
        .iter()
        .map(|id| proto::PredictPriceStreamRequest {
            request_id: id.to_string(),
            product: Some(product(id)),
        })
        .collect();
    let body: String = items.iter().map(|i| serde_json::to_string(i).unwrap() + "\n").collect();
    let expected: Vec<proto::PredictPriceStreamResponse> = {
        let mut stream = predictions(&channel)
            .predict_price_stream(tokio_stream::iter(items))
            .await
            .unwrap()
            .into_inner();
        let mut out = Vec::new();
        while let Some(item) = stream.message().await.unwrap() {
            out.push(item);
        }
        out
    };
    let (status, content_type, answer) =
        http_post(http, "/v1/PredictionService/PredictPriceStream", &[], &body).await;
    assert_eq!((status, content_type.as_str()), (200, "application/x-ndjson"), "{answer}");
    let expected: Vec<String> =
        expected.iter().map(|m| serde_json::to_string(m).unwrap()).collect();
    assert_eq!(answer.lines().collect::<Vec<_>>(), expected);
    called.insert(("PredictionService", "PredictPriceStream"));

    let every: BTreeSet<_> = RPCS.iter().copied().collect();
    assert_eq!(called, every, "every RPC of the contract is checked");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_openapi_document_is_served_committed_and_lists_every_rpc() {
    let (server, _channel) = start_ready(&shipped_bundle()).await;
    let (status, served) = http_get(server.metrics_addr.unwrap(), "/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(served, proto::OPENAPI_JSON);
    let committed = std::fs::read_to_string(shipped_bundle().with_file_name("docs/openapi.json"))
        .unwrap_or_default();
    assert!(
        committed == proto::OPENAPI_JSON,
        "docs/openapi.json is stale: write it again with `shopml-server --openapi > docs/openapi.json`"
    );
    let document: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths: BTreeSet<String> = document["paths"].as_object().unwrap().keys().cloned().collect();
    let rpcs: BTreeSet<String> = RPCS.iter().map(|(s, m)| format!("/v1/{s}/{m}")).collect();
    assert_eq!(paths, rpcs);
    // Every schema a path names exists.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in served.match_indices("#/components/schemas/").map(|(i, _)| &served[i + 21..]) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced and defined");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn errors_carry_the_code_the_field_and_the_http_status() {
    let (server, _channel) = start_ready(&shipped_bundle()).await;
    let http = server.metrics_addr.unwrap();
    let post = |path: &'static str, body: &'static str| http_post(http, path, &[], body);

    // A typo in a field name is named, as an INVALID_ARGUMENT with the field at fault.
    let (status, _, body) =
        post("/v1/PredictionService/PredictPrice", r#"{"product": {"nmae": "x"}}"#).await;
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert!(error["message"].as_str().unwrap().contains("nmae"), "{body}");
    assert_eq!(error["fieldViolations"][0]["field"], "request body");

    // The server's own validation: the field path of the request.
    let bad_order = r#"{"order": {"orderDate": "2022-13-45", "lines": [{"sku": "A"}]}}"#;
    let (status, _, body) = post("/v1/PredictionService/PredictCancellation", bad_order).await;
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["fieldViolations"][0]["field"].as_str().unwrap().contains("order_date"),
        "{body}"
    );

    let (status, _, body) = post("/v1/PredictionService/NoSuchThing", "{}").await;
    assert_eq!(status, 501, "{body}");
    let (status, _, body) = post("/v1/PredictionService/PredictPrice?timeout_ms=soon", "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("timeout_ms"), "{body}");

    // The call went through the gRPC layers: the metrics count it by method and code.
    let (_, metrics) = http_get(http, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("PredictCancellation") && l.contains("INVALID_ARGUMENT")),
        "the refused HTTP/JSON call is counted"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_token_is_asked_for_as_on_the_grpc_port() {
    let mut settings = settings(&shipped_bundle());
    settings.auth.admin_token = "s3cret".into();
    settings.auth.require_for_all = true;
    let (server, _channel) = start_with(settings).await;
    assert!(server.wait_ready(std::time::Duration::from_secs(20)).await);
    let http = server.metrics_addr.unwrap();
    let path = "/v1/ModelService/GetModelInfo";
    let (status, _, body) = http_post(http, path, &[], "{}").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("UNAUTHENTICATED"), "{body}");
    let (status, _, _) = http_post(http, path, &[("Authorization", "Bearer wrong")], "{}").await;
    assert_eq!(status, 401);
    let (status, _, body) =
        http_post(http, path, &[("Authorization", "Bearer s3cret")], "{}").await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_as_json() {
    let mut settings = settings(&shipped_bundle());
    settings.limits.max_message_bytes = 1024;
    let (server, _channel) = start_with(settings).await;
    assert!(server.wait_ready(std::time::Duration::from_secs(20)).await);
    let body = format!("{{\"product\": {{\"name\": \"{}\"}}}}", "x".repeat(5000));
    let (status, content_type, answer) =
        http_post(server.metrics_addr.unwrap(), "/v1/PredictionService/PredictPrice", &[], &body)
            .await;
    assert_eq!((status, content_type.as_str()), (429, "application/json"), "{answer}");
    assert!(answer.contains("RESOURCE_EXHAUSTED") && answer.contains("4096 bytes"), "{answer}");
    server.shutdown().await.unwrap();
}
