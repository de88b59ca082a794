//! The model lifecycle: hot reload under load, refused bundles, watching the directory,
//! readiness, and draining on shutdown.

use crate::common::*;
use shopml_server::proto;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_reloads_under_load_fail_no_request() {
    let repository = tempfile::tempdir().unwrap();
    republish(&shipped_bundle(), &repository.path().join("0000"), at(0), None);
    let (server, channel) = start_unwatched(repository.path()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut callers = Vec::new();
    for _ in 0..6 {
        let (mut client, stop, ok, failed) =
            (predictions(&channel), stop.clone(), ok.clone(), failed.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client
                    .predict_cancellation(proto::PredictCancellationRequest {
                        order: Some(order(2)),
                        skip_explanations: false,
                    })
                    .await
                {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(status) => {
                        eprintln!("failed during reloads: {status:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    let mut admin = models(&channel);
    let mut versions = vec![serving_version(&channel).await];
    for i in 1..=20 {
        let version =
            republish(&shipped_bundle(), &repository.path().join(format!("{i:04}")), at(i), None);
        let reply = admin
            .reload_models(proto::ReloadModelsRequest { bundle_path: String::new() })
            .await
            .unwrap()
            .into_inner();
        assert!(reply.reloaded, "{reply:?}");
        assert_eq!(reply.bundle_version, version);
        assert_eq!(reply.previous_version, *versions.last().unwrap());
        versions.push(version);
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request fails while bundles are swapped");
    assert!(ok.load(Ordering::Relaxed) > 20, "callers kept calling during the reloads");
    assert_eq!(serving_version(&channel).await, versions[20]);
    let again = admin
        .reload_models(proto::ReloadModelsRequest { bundle_path: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.reloaded, "reloading the version serving is a no-op");
    let (status, metrics) = http_get(server.metrics_addr.unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("shopml_model_reloads_total{result=\"success\"} 21"), "{metrics}");
    assert!(metrics.contains(&format!("shopml_bundle_info{{version=\"{}\"}} 1", versions[20])));
    assert!(metrics.contains("shopml_requests_total{rpc=\"PredictCancellation\",code=\"OK\"}"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn corrupt_or_incompatible_bundles_are_refused_and_the_old_one_keeps_serving() {
    let repository = tempfile::tempdir().unwrap();
    let good = republish(&shipped_bundle(), &repository.path().join("0001"), at(1), None);
    let (server, channel) = start_unwatched(repository.path()).await;
    let mut admin = models(&channel);

    // A file changed after the manifest was written: its hash no longer matches.
    let corrupt = repository.path().join("0002");
    republish(&shipped_bundle(), &corrupt, at(2), None);
    let record = corrupt.join("price/model.bpk");
    let mut bytes = std::fs::read(&record).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&record, bytes).unwrap();
    let (c, m) = code(
        admin
            .reload_models(proto::ReloadModelsRequest {
                bundle_path: corrupt.display().to_string(),
            })
            .await,
    );
    assert_eq!(c, Code::FailedPrecondition);
    assert!(m.contains("price/model.bpk") && m.contains("sha256"), "{m}");

    // Consistent hashes but files that disagree: the model config asks for another vocabulary.
    let incompatible = repository.path().join("0003");
    republish(
        &shipped_bundle(),
        &incompatible,
        at(3),
        Some(("cancellation/model_config.json", &|bytes: Vec<u8>| {
            let mut config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            config["vocab_size"] = serde_json::json!(7);
            serde_json::to_vec(&config).unwrap()
        })),
    );
    let (c, m) = code(
        admin
            .reload_models(proto::ReloadModelsRequest {
                bundle_path: incompatible.display().to_string(),
            })
            .await,
    );
    assert_eq!(c, Code::FailedPrecondition);
    assert!(m.contains("cancellation/model_config.json") && m.contains("incompatible"), "{m}");

    // A manifest of a format this server does not read.
    let future = repository.path().join("0004");
    republish(&shipped_bundle(), &future, at(4), None);
    let manifest = future.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        &format!("\"format_version\": {}", shopml_core::bundle::FORMAT_VERSION),
        "\"format_version\": 99",
    );
    std::fs::write(&manifest, text).unwrap();
    let (_, m) = code(
        admin
            .reload_models(proto::ReloadModelsRequest { bundle_path: future.display().to_string() })
            .await,
    );
    assert!(m.contains("manifest.json") && m.contains("format 99"), "{m}");
    let (c, m) = code(
        admin
            .reload_models(proto::ReloadModelsRequest { bundle_path: "/no/such/dir".into() })
            .await,
    );
    // Only bundles inside the configured directory load; nothing says what exists elsewhere.
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("bundle_path") && !m.contains("/no/such/dir"), "{m}");
    let (c, m2) =
        code(admin.reload_models(proto::ReloadModelsRequest { bundle_path: "/tmp".into() }).await);
    assert_eq!((c, m2), (Code::InvalidArgument, m));

    // The old bundle still answers, and the failure is reported.
    assert_eq!(serving_version(&channel).await, good);
    assert!(
        predictions(&channel)
            .predict_price(proto::PredictPriceRequest { product: Some(product("x")) })
            .await
            .is_ok()
    );
    let info = admin.get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    assert!(info.last_reload_error.contains("format 99"), "{}", info.last_reload_error);
    assert!(!info.last_reload_error_at.is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_watcher_serves_a_new_complete_version_and_health_follows_readiness() {
    let repository = tempfile::tempdir().unwrap();
    let (server, channel) = start_with(settings(repository.path())).await;
    // No bundle yet: not serving, and predictions are unavailable.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::NotServing as i32);
    let (c, _) = code(
        predictions(&channel)
            .predict_price(proto::PredictPriceRequest { product: Some(product("x")) })
            .await,
    );
    assert_eq!(c, Code::Unavailable);
    assert_eq!(http_get(server.metrics_addr.unwrap(), "/readyz").await.0, 503);

    let first = republish(&shipped_bundle(), &repository.path().join("0001"), at(1), None);
    assert!(server.wait_ready(Duration::from_secs(20)).await, "the watcher loads the first bundle");
    assert_eq!(serving_version(&channel).await, first);
    let mut serving = false;
    for _ in 0..100 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(serving);

    let second = republish(&shipped_bundle(), &repository.path().join("0002"), at(2), None);
    let mut swapped = false;
    for _ in 0..200 {
        if serving_version(&channel).await == second {
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(swapped, "the watcher swaps in the newer version");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reload_models_requires_the_admin_token_when_one_is_set() {
    let mut settings = settings(&shipped_bundle());
    settings.auth.admin_token = "s3cret".into();
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let mut admin = models(&channel);
    let (c, _) = code(admin.reload_models(proto::ReloadModelsRequest::default()).await);
    assert_eq!(c, Code::Unauthenticated);
    let mut request = tonic::Request::new(proto::ReloadModelsRequest::default());
    request.metadata_mut().insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(admin.reload_models(request).await.is_ok());
    // Other RPCs need no token unless auth.require_for_all is set.
    assert!(admin.get_model_info(proto::GetModelInfoRequest {}).await.is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_drains_calls_in_flight() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let addr = server.addr;
    let mut client = predictions(&channel);
    let products: Vec<proto::Product> = (0..10_000).map(|i| product(&format!("P{i}"))).collect();
    let in_flight = tokio::spawn(async move {
        client.predict_price_batch(proto::PredictPriceBatchRequest { products }).await
    });
    // Wait until the call is being served, then shut down (what SIGTERM does).
    let metrics = server.registry.metrics().clone();
    for _ in 0..500 {
        if metrics.in_flight.get() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(metrics.in_flight.get() > 0, "the batch is in flight");
    server.shutdown().await.unwrap();
    let answer = in_flight.await.unwrap().expect("the call in flight completes");
    assert_eq!(answer.into_inner().predictions.len(), 10_000);
    let refused =
        tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await;
    assert!(refused.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn a_corrupt_newest_version_falls_back_to_the_newest_that_loads() {
    let repository = tempfile::tempdir().unwrap();
    let first = republish(&shipped_bundle(), &repository.path().join("0001"), at(1), None);
    let good = republish(&shipped_bundle(), &repository.path().join("0002"), at(2), None);
    let corrupt = repository.path().join("0003");
    let bad = republish(&shipped_bundle(), &corrupt, at(3), None);
    let record = corrupt.join("price/model.bpk");
    let mut bytes = std::fs::read(&record).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&record, bytes).unwrap();

    // A (re)start: the newest version is refused, the one before it serves.
    let mut settings = settings(repository.path());
    settings.server.watch_interval_ms = 0;
    let (server, channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await, "a good version serves");
    let info = models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap();
    let info = info.into_inner();
    assert_eq!(info.bundle_version, good);
    assert_ne!(info.bundle_version, first);
    assert!(
        info.last_reload_error.contains(&bad) && info.last_reload_error.contains("price/model.bpk"),
        "{}",
        info.last_reload_error
    );

    // A reload finds nothing newer that loads: refused, naming the version; the good one stays.
    let (c, m) = code(models(&channel).reload_models(proto::ReloadModelsRequest::default()).await);
    assert_eq!(c, Code::FailedPrecondition);
    assert!(m.contains("price/model.bpk"), "{m}");
    assert_eq!(serving_version(&channel).await, good);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_watcher_names_a_newer_version_whose_manifest_is_truncated() {
    let repository = tempfile::tempdir().unwrap();
    let good = republish(&shipped_bundle(), &repository.path().join("0001"), at(1), None);
    let (server, channel) = start_with(settings(repository.path())).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let broken = repository.path().join("0002");
    republish(&shipped_bundle(), &broken, at(2), None);
    let manifest = std::fs::read(broken.join("manifest.json")).unwrap();
    std::fs::write(broken.join("manifest.json"), &manifest[..manifest.len() / 2]).unwrap();
    let mut named = String::new();
    for _ in 0..200 {
        let info = models(&channel).get_model_info(proto::GetModelInfoRequest {}).await.unwrap();
        named = info.into_inner().last_reload_error;
        if !named.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(named.contains("0002") && named.contains("manifest.json"), "{named}");
    assert_eq!(serving_version(&channel).await, good);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bundles_with_absurd_contents_are_refused_though_their_hashes_match() {
    let repository = tempfile::tempdir().unwrap();
    let good = republish(&shipped_bundle(), &repository.path().join("0001"), at(1), None);
    let (server, channel) = start_unwatched(repository.path()).await;
    let mut admin = models(&channel);
    let json_edit = |edit: fn(&mut serde_json::Value)| {
        move |bytes: Vec<u8>| {
            let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            edit(&mut value);
            serde_json::to_vec(&value).unwrap()
        }
    };
    // Every order at p = 1.0, then an empty segments file.
    let certain = json_edit(|c| c["platt_b"] = serde_json::json!(80.0));
    let no_sets = json_edit(|s| *s = serde_json::json!([]));
    // Every review negative; price and forecast intervals of no width.
    let all_negative = json_edit(|c| c["platt_b"] = serde_json::json!(80.0));
    let no_width = json_edit(|c| c["interval_scale"] = serde_json::json!(0.0));
    let cases: [(FileEdit<'_>, &str); 5] = [
        (("cancellation/calibration.json", &certain), "degenerate"),
        (("segments/segments.json", &no_sets), "no segment set"),
        (("sentiment/calibration.json", &all_negative), "degenerate"),
        (("price/calibration.json", &no_width), "interval_scale"),
        (("forecast/calibration.json", &no_width), "interval_scale"),
    ];
    for (i, ((file, edit), reason)) in cases.into_iter().enumerate() {
        let dir = repository.path().join(format!("{:04}", i + 2));
        republish(&shipped_bundle(), &dir, at(i as i64 + 2), Some((file, edit)));
        let request = proto::ReloadModelsRequest { bundle_path: dir.display().to_string() };
        let (c, m) = code(admin.reload_models(request).await);
        assert_eq!(c, Code::FailedPrecondition, "{file}");
        assert!(m.contains(file) && m.contains(reason), "{m}");
        assert_eq!(serving_version(&channel).await, good);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rollback_stays_until_unpinned() {
    let repository = tempfile::tempdir().unwrap();
    let older_dir = repository.path().join("0001");
    let older = republish(&shipped_bundle(), &older_dir, at(1), None);
    let newest = republish(&shipped_bundle(), &repository.path().join("0002"), at(2), None);
    let (server, channel) = start_ready(repository.path()).await; // watching every 50 ms
    assert_eq!(serving_version(&channel).await, newest);

    let mut admin = models(&channel);
    let rollback = proto::ReloadModelsRequest { bundle_path: older_dir.display().to_string() };
    let answer = admin.reload_models(rollback).await.unwrap().into_inner();
    assert!(answer.reloaded && answer.pinned);
    tokio::time::sleep(Duration::from_millis(400)).await; // eight polls of the watcher
    let info = admin.get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.bundle_version, older, "the watcher left the rollback serving");
    assert_eq!(info.pinned_bundle_path, older_dir.display().to_string());

    let unpin = admin.reload_models(proto::ReloadModelsRequest::default()).await.unwrap();
    assert!(!unpin.into_inner().pinned);
    let info = admin.get_model_info(proto::GetModelInfoRequest {}).await.unwrap().into_inner();
    assert_eq!(info.bundle_version, newest);
    assert!(info.pinned_bundle_path.is_empty());
    server.shutdown().await.unwrap();
}
