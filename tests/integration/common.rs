//! Starting servers and building requests for the tests.

use shopml_server::config::Settings;
use shopml_server::proto;
use shopml_server::server::RunningServer;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::Channel;

/// The bundle shipped in the repository (trained on the generated sample).
pub fn shipped_bundle() -> PathBuf {
    // The server is the repository's root package; the training crate's tests include this
    // file from `training/`.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if here.join("proto").is_dir() { here } else { here.parent().expect("a parent") };
    root.join("models")
}

/// Test settings: loopback on free ports, a fast bundle watch.
pub fn settings(bundle_dir: &Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = "127.0.0.1:0".into();
    settings.server.bundle_dir = bundle_dir.to_owned();
    settings.server.watch_interval_ms = 50;
    settings.server.shutdown_grace_ms = 10_000;
    settings
}

pub async fn start_with(settings: Settings) -> (RunningServer, Channel) {
    let server = shopml_server::server::start(settings).await.expect("server starts");
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .expect("client connects");
    (server, channel)
}

/// A server on `bundle_dir`, ready (bundle loaded).
pub async fn start_ready(bundle_dir: &Path) -> (RunningServer, Channel) {
    let (server, channel) = start_with(settings(bundle_dir)).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await, "the bundle loads");
    (server, channel)
}

/// A server on `repository` with its watcher off (reloads come from the RPC only), ready.
pub async fn start_unwatched(repository: &Path) -> (RunningServer, Channel) {
    let mut settings = settings(repository);
    settings.server.watch_interval_ms = 0;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await, "the bundle loads");
    (server, channel)
}

pub fn predictions(
    channel: &Channel,
) -> proto::prediction_service_client::PredictionServiceClient<Channel> {
    proto::prediction_service_client::PredictionServiceClient::new(channel.clone())
}

pub fn segments(channel: &Channel) -> proto::segment_service_client::SegmentServiceClient<Channel> {
    proto::segment_service_client::SegmentServiceClient::new(channel.clone())
}

pub fn models(channel: &Channel) -> proto::model_service_client::ModelServiceClient<Channel> {
    proto::model_service_client::ModelServiceClient::new(channel.clone())
}

pub use shopml_server::examples::product;

/// An order with `lines` lines (the checkout's shape; see [`shopml_server::examples::order`]).
pub fn order(lines: usize) -> proto::Order {
    shopml_server::examples::order("171-0000001-0000001", lines, 0)
}

pub fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> (tonic::Code, String) {
    let status = result.expect_err("the call fails");
    (status.code(), status.message().to_owned())
}

/// A bundle file's name and a change to its bytes.
pub type FileEdit<'a> = (&'a str, &'a dyn Fn(Vec<u8>) -> Vec<u8>);

/// Writes a copy of `source` as a new bundle version at `target` (created at `created_at`,
/// hence a new bundle version), optionally changing a file's bytes before it is hashed.
pub fn republish(
    source: &Path,
    target: &Path,
    created_at: chrono::DateTime<chrono::Utc>,
    edit: Option<FileEdit<'_>>,
) -> String {
    let manifest: shopml_core::bundle::Manifest =
        shopml_core::bundle::read_json(source, "manifest.json").unwrap();
    let mut writer = shopml_core::bundle::BundleWriter::create(target).unwrap();
    for file in manifest.files.keys() {
        let mut bytes = std::fs::read(source.join(file)).unwrap();
        if let Some((name, change)) = &edit
            && name == file
        {
            bytes = change(bytes);
        }
        writer.write_bytes(file, &bytes).unwrap();
    }
    for (name, model) in &manifest.models {
        writer.add_model(
            name,
            model.config.clone(),
            &model.files.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    writer
        .finish(
            created_at,
            manifest.data_source.clone(),
            manifest.data_fingerprint.clone(),
            manifest.training_config.clone(),
        )
        .unwrap()
        .bundle_version
}

/// `2026-01-01T00:00:00Z` plus `seconds`.
pub fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600 + seconds, 0).unwrap()
}

pub async fn serving_version(channel: &Channel) -> String {
    models(channel)
        .get_model_info(proto::GetModelInfoRequest {})
        .await
        .unwrap()
        .into_inner()
        .bundle_version
}

/// GET `path` from the metrics HTTP endpoint.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http_get_with(addr, path, &[]).await
}

/// GET `path` from the metrics HTTP endpoint with extra request headers.
pub async fn http_get_with(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}
