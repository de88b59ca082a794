//! Traces end to end: a server exporting to an in-process OTLP receiver continues the
//! caller's W3C trace context and sends one span per RPC with its `decode`, `validate`,
//! `model` and `encode` spans inside. (Its own test binary: the tracing subscriber is process-wide.)

#[allow(dead_code, unused_imports)]
#[path = "integration/common.rs"]
mod common;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use shopml_server::proto;
use std::time::Duration;
use tokio::sync::mpsc;

struct Receiver(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_spans_continue_the_callers_trace_and_reach_the_collector() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    let (sender, mut exported) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(sender)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let mut settings = common::settings(&common::shipped_bundle());
    settings.server.metrics_listen = String::new();
    settings.monitoring.otlp_endpoint = format!("http://{collector}");
    let telemetry = shopml_server::telemetry::init(&settings).unwrap();
    let (server, channel) = common::start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = proto::prediction_service_client::PredictionServiceClient::new(channel);

    let (trace_id, parent_id) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let mut request = tonic::Request::new(proto::PredictCancellationRequest {
        order: Some(shopml_server::examples::order("171-0000001-0000001", 2, 0)),
        skip_explanations: false,
    });
    request
        .metadata_mut()
        .insert("traceparent", format!("00-{trace_id}-{parent_id}-01").parse().unwrap());
    client.predict_cancellation(request).await.expect("the order is scored");
    let telemetry = tokio::task::spawn_blocking(move || {
        telemetry.flush();
        telemetry
    })
    .await
    .unwrap();

    let mut spans: Vec<Span> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !spans.iter().any(|s| s.name == "shopml.v1.PredictionService/PredictCancellation") {
        let batch = tokio::time::timeout_at(deadline, exported.recv())
            .await
            .expect("spans reach the collector")
            .unwrap();
        for resource in batch.resource_spans {
            let service = resource.resource.as_ref().and_then(|r| {
                r.attributes.iter().find(|a| a.key == "service.name")?.value.clone()?.value
            });
            assert_eq!(service, Some(Value::StringValue("shopml-server".into())));
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    let rpc = spans
        .iter()
        .find(|s| s.name == "shopml.v1.PredictionService/PredictCancellation")
        .unwrap_or_else(|| {
            panic!("the RPC span, among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        });
    assert_eq!(hex(&rpc.trace_id), trace_id, "the caller's trace goes on");
    assert_eq!(hex(&rpc.parent_span_id), parent_id, "under the caller's span");
    assert_eq!(rpc.kind, 2, "a server span");
    assert_eq!(attribute(rpc, "rpc.system"), Some(&Value::StringValue("grpc".into())));
    assert_eq!(
        attribute(rpc, "rpc.method"),
        Some(&Value::StringValue("PredictCancellation".into()))
    );
    assert_eq!(attribute(rpc, "rpc.grpc.status_code"), Some(&Value::IntValue(0)));
    // The request decoded, checked, scored, and the answer encoded, in that order, inside it.
    let mut last_start = rpc.start_time_unix_nano;
    for child in ["decode", "validate", "model", "encode"] {
        let span = spans
            .iter()
            .find(|s| s.name == child && s.parent_span_id == rpc.span_id)
            .unwrap_or_else(|| panic!("a {child} span inside the RPC span"));
        assert_eq!(span.trace_id, rpc.trace_id, "{child} is in the same trace");
        assert!(span.start_time_unix_nano >= last_start, "{child} comes after the one before");
        assert!(span.end_time_unix_nano <= rpc.end_time_unix_nano, "{child} ends inside the RPC");
        last_start = span.start_time_unix_nano;
    }
    server.shutdown().await.unwrap();
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.unwrap();
}
