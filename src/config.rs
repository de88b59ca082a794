//! Server configuration: built-in documented defaults (`config/default.toml`), an optional
//! file, `SHOPML__SECTION__KEY` environment variables, then command-line flags.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The defaults, documented, compiled in so the binary runs anywhere.
pub const DEFAULTS_TOML: &str = include_str!("../config/server.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub tls: TlsSettings,
    pub models: ModelSettings,
    pub monitoring: MonitoringSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub listen: String,
    /// A local directory, or a repository URL in object storage (`s3://`, `gs://`, `az://`,
    /// `file://`).
    pub bundle_dir: PathBuf,
    pub watch_interval_ms: u64,
    pub shutdown_grace_ms: u64,
    pub metrics_listen: String,
    /// Where versions synced from an object-storage repository are kept; empty: a directory
    /// under the system's temporary directory.
    #[serde(default)]
    pub bundle_cache_dir: String,
    /// Options of the object store (`aws_endpoint`, `aws_allow_http`, `aws_region`, …), after
    /// the `AWS_*`, `GOOGLE_*` and `AZURE_*` environment variables.
    #[serde(default)]
    pub store_options: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitSettings {
    pub max_message_bytes: usize,
    pub max_concurrent_requests: usize,
    pub max_batch_size: usize,
    pub max_order_lines: usize,
    pub max_text_bytes: usize,
    pub max_history_days: usize,
    pub default_timeout_ms: u64,
}

impl LimitSettings {
    /// The deadline of a call that sends no `grpc-timeout`; None when 0 (no deadline).
    pub fn default_timeout(&self) -> Option<std::time::Duration> {
        (self.default_timeout_ms > 0)
            .then(|| std::time::Duration::from_millis(self.default_timeout_ms))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSettings {
    pub admin_token: String,
    pub require_for_all: bool,
    /// Serve beyond loopback with no admin token: anyone who reaches the port may reload, and
    /// anyone who reaches the metrics port may read the dashboard.
    pub insecure_open_beyond_loopback: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TlsSettings {
    pub cert_path: String,
    pub key_path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSettings {
    pub cancellation_top_reasons: usize,
    pub cancellation_risk_low_below: f64,
    pub cancellation_risk_high_from: f64,
    pub sentiment_max_words: usize,
    pub sentiment_top_words: usize,
    /// 0: the bundle's trained horizon; otherwise at most this many days.
    pub forecast_max_horizon_days: u32,
}

impl ModelSettings {
    /// The configured cap on forecast horizons (None: the bundle's own).
    pub fn forecast_horizon_cap(&self) -> Option<usize> {
        (self.forecast_max_horizon_days > 0).then_some(self.forecast_max_horizon_days as usize)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitoringSettings {
    /// Directory of the prediction log; empty: no log.
    pub prediction_log_dir: String,
    /// Share of each model's predictions logged, 0 to 1.
    pub log_rate_cancellation: f64,
    pub log_rate_price: f64,
    pub log_rate_sentiment: f64,
    /// Records waiting for the writer; past it records are dropped and counted.
    pub log_queue_records: usize,
    /// A log file is finished and the next begun past this size.
    pub log_file_max_bytes: u64,
    /// Finished files kept (the oldest deleted); 0 keeps all.
    pub log_max_files: usize,
    /// OTLP/gRPC endpoint of the trace collector; empty: no traces.
    pub otlp_endpoint: String,
    /// Share of traces sampled where the caller sent no sampled trace context.
    pub trace_sample_ratio: f64,
}

impl MonitoringSettings {
    /// The log rate of `model` (0 for a model that logs nothing).
    pub fn log_rate(&self, model: &str) -> f64 {
        match model {
            "cancellation" => self.log_rate_cancellation,
            "price" => self.log_rate_price,
            "sentiment" => self.log_rate_sentiment,
            _ => 0.0,
        }
    }
}

/// Values from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub bundle_dir: Option<PathBuf>,
    pub metrics_listen: Option<String>,
    pub log_format: Option<String>,
    /// `--insecure-open-beyond-loopback`.
    pub insecure_open_beyond_loopback: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// True when `listen` (host:port) only accepts connections from this machine.
pub(crate) fn is_loopback(listen: &str) -> bool {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => listen.rsplit_once(':').is_some_and(|(host, _)| host == "localhost"),
    }
}

/// `SHOPML__SECTION__KEY` variables, read as text: each setting's type parses its own value,
/// so a secret such as a token `0123` stays `0123` (not the number 123).
fn environment_variables() -> config::Environment {
    config::Environment::with_prefix("SHOPML").prefix_separator("__").separator("__")
}

impl Settings {
    /// The built-in defaults alone.
    pub fn defaults() -> Self {
        Self::load(None, &Overrides::default(), false).expect("built-in defaults are valid")
    }

    /// Defaults, then `file`, then (when `environment`) `SHOPML__…` variables, then `overrides`.
    pub fn load(
        file: Option<&Path>,
        overrides: &Overrides,
        environment: bool,
    ) -> Result<Self, SettingsError> {
        Self::load_from(file, overrides, environment.then(environment_variables))
    }

    fn load_from(
        file: Option<&Path>,
        overrides: &Overrides,
        environment: Option<config::Environment>,
    ) -> Result<Self, SettingsError> {
        use config::{Config, File, FileFormat};
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
        if let Some(file) = file {
            builder = builder.add_source(File::from(file).format(FileFormat::Toml).required(true));
        }
        if let Some(environment) = environment {
            builder = builder.add_source(environment);
        }
        if let Some(v) = &overrides.listen {
            builder = builder.set_override("server.listen", v.as_str())?;
        }
        if let Some(v) = &overrides.bundle_dir {
            builder = builder.set_override("server.bundle_dir", v.to_string_lossy().as_ref())?;
        }
        if let Some(v) = &overrides.metrics_listen {
            builder = builder.set_override("server.metrics_listen", v.as_str())?;
        }
        if let Some(v) = &overrides.log_format {
            builder = builder.set_override("log.format", v.as_str())?;
        }
        if overrides.insecure_open_beyond_loopback {
            builder = builder.set_override("auth.insecure_open_beyond_loopback", true)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |m: &str| Err(SettingsError::Invalid(m.to_owned()));
        if self.limits.max_concurrent_requests == 0 {
            return invalid("limits.max_concurrent_requests must be > 0");
        }
        if self.limits.max_batch_size == 0 {
            return invalid("limits.max_batch_size must be > 0");
        }
        let l = &self.limits;
        if l.max_order_lines == 0 || l.max_text_bytes == 0 || l.max_history_days == 0 {
            return invalid(
                "limits.max_order_lines, max_text_bytes and max_history_days must be > 0",
            );
        }
        if self.limits.max_message_bytes < 1024 {
            return invalid("limits.max_message_bytes must be >= 1024");
        }
        if self.tls.cert_path.is_empty() != self.tls.key_path.is_empty() {
            return invalid("tls.cert_path and tls.key_path must be set together");
        }
        if !self.auth.admin_token.is_empty() && self.auth.admin_token.trim().is_empty() {
            return invalid("auth.admin_token is blank: set a real token or leave it empty");
        }
        if self.auth.require_for_all && self.auth.admin_token.is_empty() {
            return invalid("auth.require_for_all needs auth.admin_token");
        }
        if self.auth.admin_token.is_empty()
            && !self.auth.insecure_open_beyond_loopback
            && !is_loopback(&self.server.listen)
        {
            return Err(SettingsError::Invalid(format!(
                "server.listen {} is reachable beyond this machine but auth.admin_token is empty, \
                 so anyone could reload models: set a token (SHOPML__AUTH__ADMIN_TOKEN), or run \
                 open with --insecure-open-beyond-loopback",
                self.server.listen
            )));
        }
        let metrics_listen = self.server.metrics_listen.trim();
        if !metrics_listen.is_empty()
            && self.auth.admin_token.is_empty()
            && !self.auth.insecure_open_beyond_loopback
            && !is_loopback(metrics_listen)
        {
            return Err(SettingsError::Invalid(format!(
                "server.metrics_listen {metrics_listen} is reachable beyond this machine but \
                 auth.admin_token is empty, so anyone could read the dashboard's customers: set \
                 a token (SHOPML__AUTH__ADMIN_TOKEN), or run open with \
                 --insecure-open-beyond-loopback"
            )));
        }
        if self.models.sentiment_max_words == 0 {
            return invalid("models.sentiment_max_words must be > 0");
        }
        let m = &self.monitoring;
        let share = |v: f64| (0.0..=1.0).contains(&v);
        if ![m.log_rate_cancellation, m.log_rate_price, m.log_rate_sentiment, m.trace_sample_ratio]
            .into_iter()
            .all(share)
        {
            return invalid(
                "monitoring.log_rate_* and monitoring.trace_sample_ratio must be within 0 to 1",
            );
        }
        if m.log_queue_records == 0 || m.log_file_max_bytes < 4096 {
            return invalid(
                "monitoring.log_queue_records must be > 0 and log_file_max_bytes >= 4096",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_overrides_win() {
        let defaults = Settings::defaults();
        assert_eq!(defaults.server.bundle_dir, PathBuf::from("models"));
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            bundle_dir: Some("/tmp/b".into()),
            ..Default::default()
        };
        let settings = Settings::load(None, &overrides, false).unwrap();
        assert_eq!(settings.server.listen, "127.0.0.1:0");
        assert_eq!(settings.server.bundle_dir, PathBuf::from("/tmp/b"));
    }

    #[test]
    fn a_file_overrides_defaults_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[limits]\nmax_batch_size = 7\n").unwrap();
        let settings = Settings::load(Some(&file), &Overrides::default(), false).unwrap();
        assert_eq!(settings.limits.max_batch_size, 7);
        std::fs::write(&file, "[limits]\nmax_batch_size = 0\n").unwrap();
        let error = Settings::load(Some(&file), &Overrides::default(), false).unwrap_err();
        assert!(error.to_string().contains("limits.max_batch_size"));
    }

    #[test]
    fn environment_values_keep_their_text_and_parse_as_their_setting() {
        let vars: config::Map<String, String> = [
            ("SHOPML__AUTH__ADMIN_TOKEN", "0123"),
            ("SHOPML__AUTH__REQUIRE_FOR_ALL", "true"),
            ("SHOPML__LIMITS__MAX_BATCH_SIZE", "500"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let environment = environment_variables().source(Some(vars));
        let settings =
            Settings::load_from(None, &Overrides::default(), Some(environment)).expect("loads");
        assert_eq!(settings.auth.admin_token, "0123");
        assert!(settings.auth.require_for_all);
        assert_eq!(settings.limits.max_batch_size, 500);
    }

    #[test]
    fn an_open_admin_beyond_loopback_needs_the_insecure_flag() {
        let mut settings = Settings::defaults();
        assert!(settings.validate().is_ok(), "loopback without a token is fine");
        settings.server.listen = "0.0.0.0:50051".into();
        let refused = settings.validate().unwrap_err().to_string();
        assert!(refused.contains("0.0.0.0:50051") && refused.contains("admin_token"), "{refused}");
        settings.auth.admin_token = "s3cret".into();
        assert!(settings.validate().is_ok());
        settings.auth.admin_token.clear();
        settings.auth.insecure_open_beyond_loopback = true;
        assert!(settings.validate().is_ok());
        assert!(is_loopback("[::1]:1") && is_loopback("localhost:50051"));
        assert!(!is_loopback("10.0.0.5:50051") && !is_loopback("shopml.internal:50051"));
    }

    #[test]
    fn the_dashboard_beyond_loopback_needs_a_real_token() {
        let mut settings = Settings::defaults();
        settings.server.metrics_listen = "0.0.0.0:9090".into();
        let refused = settings.validate().unwrap_err().to_string();
        assert!(refused.contains("0.0.0.0:9090") && refused.contains("dashboard"), "{refused}");
        settings.auth.admin_token = "   ".into();
        assert!(settings.validate().unwrap_err().to_string().contains("blank"));
        settings.auth.admin_token = "s3cret".into();
        assert!(settings.validate().is_ok());
        // Beyond loopback the dashboard asks for the token even when RPCs do not.
        let access = crate::server::dashboard::DashboardAccess::for_settings(&settings);
        assert_eq!(access.token.as_deref(), Some("s3cret"));
        settings.server.metrics_listen = "127.0.0.1:9090".into();
        let access = crate::server::dashboard::DashboardAccess::for_settings(&settings);
        assert_eq!(access.token, None);
    }
}
