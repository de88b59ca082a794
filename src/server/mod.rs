//! The gRPC server: services, health, reflection, limits, metrics endpoint, hot reload and
//! graceful shutdown.

pub mod dashboard;
pub mod http_json;
pub mod layers;

use crate::api::{
    customer::CustomerApi, insights::InsightsApi, model::ModelApi, prediction::PredictionApi,
    segment::SegmentApi,
};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::prediction_log::PredictionLog;
use crate::proto;
use crate::registry::{LifecycleListener, ModelRegistry};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Services whose health is reported (and "" for the server as a whole).
const HEALTH_SERVICES: [&str; 6] = [
    "",
    "shopml.v1.InsightsService",
    "shopml.v1.PredictionService",
    "shopml.v1.SegmentService",
    "shopml.v1.ModelService",
    "shopml.v1.CustomerService",
];

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("reflection service: {0}")]
    Reflection(String),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("server task failed: {0}")]
    Join(String),
    #[error("bundle repository: {0}")]
    Store(#[from] shopml_store::StoreError),
    #[error("prediction log: {0}")]
    PredictionLog(String),
}

/// The local directory the registry watches: `server.bundle_dir` itself, or, for a repository
/// in object storage, the cache its complete versions are synced into — once before the first
/// load, then every watch interval. A failed sync is logged; the versions already cached keep
/// serving.
async fn local_repository(
    settings: &Settings,
    mut shutdown: watch::Receiver<bool>,
) -> Result<std::path::PathBuf, ServeError> {
    let location = settings.server.bundle_dir.to_string_lossy().into_owned();
    if !shopml_store::is_url(&location) {
        return Ok(settings.server.bundle_dir.clone());
    }
    let options: Vec<(String, String)> =
        settings.server.store_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let repository = shopml_store::Repository::open(&location, &options)?;
    let cache = if settings.server.bundle_cache_dir.is_empty() {
        // One cache per repository URL, so two servers on one machine do not share one by
        // accident.
        let key = crc32fast::hash(location.as_bytes());
        std::env::temp_dir().join(format!("shopml-bundles-{key:08x}"))
    } else {
        std::path::PathBuf::from(&settings.server.bundle_cache_dir)
    };
    if let Err(error) = repository.sync_into(&cache).await {
        tracing::error!(%error, "the bundle repository could not be synced; serving what the cache holds");
    }
    let interval = Duration::from_millis(settings.server.watch_interval_ms);
    if !interval.is_zero() {
        let cache = cache.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => return,
                }
                if let Err(error) = repository.sync_into(&cache).await {
                    tracing::warn!(%error, "the bundle repository could not be synced");
                }
            }
        });
    }
    tracing::info!(repository = %location, cache = %cache.display(), "bundles synced from object storage");
    Ok(cache)
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    for service in HEALTH_SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

struct HealthListener {
    reporter: HealthReporter,
    shutting_down: watch::Receiver<bool>,
}

impl LifecycleListener for HealthListener {
    fn bundle_loaded(&self, _version: &str) {
        if *self.shutting_down.borrow() {
            return;
        }
        let reporter = self.reporter.clone();
        tokio::spawn(async move { set_health(&reporter, ServingStatus::Serving).await });
    }
}

/// A server started by [`start`].
pub struct RunningServer {
    /// The gRPC address bound (the real port when the configuration said port 0).
    pub addr: SocketAddr,
    /// The metrics HTTP address, when enabled.
    pub metrics_addr: Option<SocketAddr>,
    pub registry: Arc<ModelRegistry>,
    shutdown: watch::Sender<bool>,
    serve: JoinHandle<Result<(), ServeError>>,
    grace: Duration,
    prediction_log: Option<Arc<PredictionLog>>,
}

impl RunningServer {
    /// Waits until a bundle is loaded (or `timeout` passes); true when ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.registry.is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Drains: health turns NOT_SERVING, new connections are refused, calls in flight finish
    /// (up to the grace period).
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        self.wait_with_grace().await
    }

    /// Runs until `signal` resolves, then drains like [`shutdown`](Self::shutdown).
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServeError> {
        signal.await;
        tracing::info!(
            grace_ms = self.grace.as_millis() as u64,
            "shutdown requested: draining in-flight requests"
        );
        self.shutdown().await
    }

    async fn wait_with_grace(self) -> Result<(), ServeError> {
        let served = match tokio::time::timeout(self.grace, self.serve).await {
            Ok(joined) => joined.map_err(|e| ServeError::Join(e.to_string())).and_then(|r| r),
            Err(_) => {
                tracing::warn!("grace period over with requests still in flight; stopping");
                Ok(())
            }
        };
        // What was logged is written and its file finished before the process exits.
        if let Some(log) = self.prediction_log {
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
        served
    }
}

/// Binds the configured addresses and starts serving. The bundle loads in the background:
/// health answers NOT_SERVING until it is loaded and warmed up, then SERVING.
pub async fn start(settings: Settings) -> Result<RunningServer, ServeError> {
    let metrics = Arc::new(Metrics::new());
    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&reporter, ServingStatus::NotServing).await;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let bundle_dir = local_repository(&settings, shutdown_rx.clone()).await?;
    let registry = Arc::new(ModelRegistry::new(
        bundle_dir,
        metrics.clone(),
        Some(Box::new(HealthListener {
            reporter: reporter.clone(),
            shutting_down: shutdown_rx.clone(),
        })),
    ));

    let listener = tokio::net::TcpListener::bind(&settings.server.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: settings.server.listen.clone(), source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr: settings.server.listen.clone(), source })?;

    // First load, then watch the bundle directory for new versions.
    {
        let registry = registry.clone();
        let interval = Duration::from_millis(settings.server.watch_interval_ms);
        let shutdown = shutdown_rx.clone();
        tokio::spawn(async move {
            if let Err(error) = registry.reload(None).await {
                tracing::error!(%error, "the bundle could not be loaded; NOT_SERVING until a good bundle appears or ReloadModels succeeds");
            }
            if !interval.is_zero() {
                registry.watch(interval, shutdown).await;
            }
        });
    }

    // Reflection v1, and v1alpha for the tools that still speak only it (grpcio-reflection,
    // grpc_cli, older grpcurl).
    let reflection_of_our_services = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_error =
        |e: tonic_reflection::server::Error| ServeError::Reflection(e.to_string());
    let reflection = reflection_of_our_services().build_v1().map_err(reflection_error)?;
    let reflection_v1alpha =
        reflection_of_our_services().build_v1alpha().map_err(reflection_error)?;

    let store_options: Vec<(String, String)> =
        settings.server.store_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let prediction_log = PredictionLog::start(&settings.monitoring, &store_options, &metrics)
        .map_err(|e| {
            ServeError::PredictionLog(format!("{}: {e}", settings.monitoring.prediction_log_dir))
        })?;
    let limits = &settings.limits;
    let max_bytes = limits.max_message_bytes;
    let auth = layers::AuthPolicy {
        token: (!settings.auth.admin_token.is_empty()).then(|| settings.auth.admin_token.clone()),
        require_for_all: settings.auth.require_for_all,
    };
    let layers = layers::stack(
        metrics.clone(),
        auth,
        limits.max_concurrent_requests,
        limits.default_timeout(),
    );
    let prediction =
        proto::prediction_service_server::PredictionServiceServer::new(PredictionApi::new(
            registry.clone(),
            settings.models.clone(),
            settings.limits.clone(),
            crate::api::WorkSlots::new(limits.max_concurrent_requests, max_bytes, metrics.clone()),
            prediction_log.clone(),
        ))
        .max_decoding_message_size(max_bytes)
        .max_encoding_message_size(max_bytes);
    let segments =
        proto::segment_service_server::SegmentServiceServer::new(SegmentApi::new(registry.clone()))
            .max_decoding_message_size(max_bytes)
            .max_encoding_message_size(max_bytes);
    let customers = proto::customer_service_server::CustomerServiceServer::new(CustomerApi::new(
        registry.clone(),
        settings.limits.clone(),
    ))
    .max_decoding_message_size(max_bytes)
    .max_encoding_message_size(max_bytes);
    let insights = proto::insights_service_server::InsightsServiceServer::new(InsightsApi::new(
        registry.clone(),
    ))
    .max_decoding_message_size(max_bytes)
    .max_encoding_message_size(max_bytes);
    let model = proto::model_service_server::ModelServiceServer::new(ModelApi::new(
        registry.clone(),
        settings.models.forecast_max_horizon_days,
    ))
    .max_decoding_message_size(max_bytes)
    .max_encoding_message_size(max_bytes);

    let mut builder = tonic::transport::Server::builder();
    if !settings.tls.cert_path.is_empty() {
        let (cert_path, key_path) = (&settings.tls.cert_path, &settings.tls.key_path);
        let read =
            |path: &str| std::fs::read(path).map_err(|e| ServeError::Tls(format!("{path}: {e}")));
        let identity = tonic::transport::Identity::from_pem(read(cert_path)?, read(key_path)?);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| {
            // tonic's own message is only "transport error"; the reason is in its sources.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                reason = format!("{reason}: {cause}");
                source = cause.source();
            }
            ServeError::Tls(format!("certificate {cert_path} with key {key_path}: {reason}"))
        })?;
    }
    // The API's services, served on the gRPC port and, transcoded, as HTTP/JSON — both through
    // one set of layers (one concurrency limit between them).
    let api = tonic::service::Routes::new(prediction)
        .add_service(segments)
        .add_service(customers)
        .add_service(insights)
        .add_service(model);
    use tower::ServiceExt as _;
    let http_api: http_json::GrpcService = tower::util::BoxCloneSyncService::new(
        layers
            .clone()
            .service(api.clone())
            // Names the request body type the boxed service takes.
            .map_request(|request: http::Request<tonic::body::Body>| request)
            .map_response(|answer| answer.map(tonic::body::Body::new)),
    );
    let router = builder
        .layer(layers.into_inner())
        .add_routes(api)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha);
    let metrics_addr = if settings.server.metrics_listen.trim().is_empty() {
        None
    } else {
        Some(
            start_metrics_http(
                &settings.server.metrics_listen,
                metrics.clone(),
                registry.clone(),
                dashboard::DashboardAccess::for_settings(&settings),
                http_api,
                limits.max_message_bytes,
                shutdown_rx.clone(),
            )
            .await?,
        )
    };

    let mut drain = shutdown_rx.clone();
    let signal = async move {
        let _ = drain.wait_for(|stop| *stop).await;
        set_health(&reporter, ServingStatus::NotServing).await;
    };
    // TCP_NODELAY: without it small responses wait on delayed ACKs (~40 ms per call).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let serve = tokio::spawn(async move {
        router.serve_with_incoming_shutdown(incoming, signal).await.map_err(ServeError::from)
    });
    tracing::info!(%addr, metrics = ?metrics_addr, bundle_dir = %settings.server.bundle_dir.display(), "shopml-server listening");
    Ok(RunningServer {
        addr,
        metrics_addr,
        registry,
        shutdown: shutdown_tx,
        serve,
        grace: Duration::from_millis(settings.server.shutdown_grace_ms),
        prediction_log,
    })
}

async fn start_metrics_http(
    listen: &str,
    metrics: Arc<Metrics>,
    registry: Arc<ModelRegistry>,
    access: dashboard::DashboardAccess,
    http_api: http_json::GrpcService,
    max_message_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, ServeError> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind { addr: listen.to_owned(), source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr: listen.to_owned(), source })?;
    let access = Arc::new(access);
    let api = http_json::routes(http_api, access.clone(), max_message_bytes);
    let pages = {
        let registry = registry.clone();
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            dashboard::serve(registry.clone(), access.clone(), uri, headers)
        }
    };
    let scraped = registry.clone();
    let app = axum::Router::new()
        .route(dashboard::BASE, get(pages.clone()))
        .route(&format!("{}/", dashboard::BASE), get(pages.clone()))
        .route(&format!("{}/{{*page}}", dashboard::BASE), get(pages))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                let registry = scraped.clone();
                async move {
                    // Drift figures are computed when scraped, not per prediction.
                    let bundle = registry.current().ok();
                    let drift = bundle.as_ref().map(|b| b.models.drift()).unwrap_or_default();
                    metrics.set_drift(&drift);
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .merge(api)
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = registry.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "no bundle loaded")
                    }
                }
            }),
        );
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!(%error, "metrics endpoint stopped");
        }
    });
    Ok(addr)
}
