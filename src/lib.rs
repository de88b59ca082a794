//! shopml-server: the gRPC face of shopml. The v1 proto and its conversions into the core's
//! typed requests (`convert`), one module per gRPC service with short handlers (`api`), the
//! domain error → `Status` mapping (`error`), the bundle serving (`registry`), the Prometheus
//! metrics (`metrics`), and the server with its tower layers (`server`). Imports run one way:
//! `server` → `api` → `registry` → `metrics` → `error`.

pub mod api;
pub mod codec;
pub mod config;
pub mod convert;
pub mod deadline;
pub mod error;
pub mod examples;
pub mod metrics;
pub mod prediction_log;
pub mod proto;
pub mod registry;
pub mod server;
pub mod telemetry;

pub use error::ShopError;
