//! shopml-server: serves the models of a bundle over gRPC and HTTP/JSON.

use anyhow::Context;
use clap::Parser;
use shopml_server::config::{Overrides, Settings};
use std::path::PathBuf;

/// Serves the models of a shopml bundle over gRPC (health, reflection, metrics, hot reload).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML, any subset of config/default.toml).
    #[arg(long, env = "SHOPML_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address, e.g. 127.0.0.1:50051 (port 0: any free port).
    #[arg(long)]
    listen: Option<String>,
    /// Bundle directory (a bundle, or a repository of bundle versions).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Prometheus metrics address, e.g. 127.0.0.1:9095; "" turns it off.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Log format: text or json.
    #[arg(long)]
    log_format: Option<String>,
    /// Serve beyond loopback without an admin token: anyone reaching the port may reload
    /// models. Insecure; set auth.admin_token instead.
    #[arg(long)]
    insecure_open_beyond_loopback: bool,
    /// Print the OpenAPI 3.1 document of the HTTP/JSON API and exit.
    #[arg(long)]
    openapi: bool,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.openapi {
        print!("{}", shopml_server::proto::OPENAPI_JSON);
        return Ok(());
    }
    let overrides = Overrides {
        listen: args.listen,
        bundle_dir: args.bundle,
        metrics_listen: args.metrics_listen,
        log_format: args.log_format,
        insecure_open_beyond_loopback: args.insecure_open_beyond_loopback,
    };
    let settings = Settings::load(args.config.as_deref(), &overrides, true)
        .context("loading the configuration")?;
    let telemetry = shopml_server::telemetry::init(&settings).context("logs and traces")?;
    let server = shopml_server::server::start(settings).await.context("starting the server")?;
    server.run_until(shutdown_signal()).await.context("serving")?;
    tracing::info!("stopped");
    telemetry.shutdown();
    Ok(())
}
