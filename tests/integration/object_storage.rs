//! A bundle repository in object storage, against a real S3-protocol server (moto): the server
//! syncs complete versions, serves the newest, and swaps in one published while it serves.

use crate::common::*;
use shopml_store::Repository;
use shopml_store::test_server::S3TestServer;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_in_object_storage_is_synced_served_and_swapped() {
    let Some(s3) = S3TestServer::start() else { return };
    s3.create_bucket("shopml");
    let url = "s3://shopml/bundles";
    let repository = Repository::open(url, &s3.options()).unwrap();
    let first = repository.publish(&shipped_bundle()).await.unwrap();
    assert_eq!(repository.versions().await.unwrap(), vec![first.clone()]);

    let cache = tempfile::tempdir().unwrap();
    let mut settings = settings(Path::new(url));
    settings.server.bundle_cache_dir = cache.path().display().to_string();
    settings.server.store_options = s3.options().into_iter().collect();
    settings.server.watch_interval_ms = 100;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await, "served from object storage");
    assert_eq!(serving_version(&channel).await, first);

    // A newer version published while serving is swapped in within a few poll intervals, and
    // predictions go on answering throughout.
    let staging = tempfile::tempdir().unwrap();
    let second = republish(&shipped_bundle(), &staging.path().join("v2"), at(40_000_000), None);
    repository.publish(&staging.path().join("v2")).await.unwrap();
    let published = Instant::now();
    let mut client = predictions(&channel);
    while serving_version(&channel).await != second {
        assert!(published.elapsed() < Duration::from_secs(10), "the new version is served");
        let answer = client
            .predict_price(shopml_server::proto::PredictPriceRequest {
                product: Some(product("P1")),
            })
            .await;
        assert!(answer.is_ok(), "{answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cache.path().join(&second).join("manifest.json").is_file());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prediction_log_goes_to_object_storage_once_each_file_is_finished() {
    let Some(s3) = S3TestServer::start() else { return };
    s3.create_bucket("logs");
    let url = "s3://logs/shopml/predictions";
    let mut settings = settings(&shipped_bundle());
    settings.server.store_options = s3.options().into_iter().collect();
    settings.monitoring.prediction_log_dir = url.into();
    settings.monitoring.log_rate_cancellation = 1.0;
    settings.monitoring.log_file_max_bytes = 4096;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut client = predictions(&channel);
    for i in 0..40 {
        let order = shopml_server::examples::order(&format!("171-{i}"), 2, i);
        let request = shopml_server::proto::PredictCancellationRequest {
            order: Some(order),
            skip_explanations: true,
        };
        client.predict_cancellation(request).await.unwrap();
    }
    server.shutdown().await.unwrap();

    let copy = tempfile::tempdir().unwrap();
    let repository = Repository::open(url, &s3.options()).unwrap();
    let files = repository
        .download_files(shopml_core::prediction_log::FILE_SUFFIX, copy.path())
        .await
        .unwrap();
    assert!(files >= 2, "files rotate at 4 KiB and each is uploaded: {files}");
    let mut orders = Vec::new();
    shopml_core::prediction_log::read_records(copy.path(), |record| {
        if let shopml_core::prediction_log::LoggedPrediction::Cancellation(order) =
            record.prediction
        {
            orders.push(order.order_id);
        }
    })
    .unwrap();
    orders.sort();
    let mut sent: Vec<String> = (0..40).map(|i| format!("171-{i}")).collect();
    sent.sort();
    assert_eq!(orders, sent, "every prediction is in the bucket once");
}
