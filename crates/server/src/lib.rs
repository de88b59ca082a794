//! shopml-server: the gRPC face of shopml. The v1 proto and its conversions into the core's
//! typed requests (`convert`), one module per gRPC service with short handlers (`api`), the
//! domain error → `Status` mapping (`error`), and the server with its tower layers (`server`).

pub mod api;
pub mod config;
pub mod convert;
pub mod error;
pub mod examples;
pub mod proto;
pub mod server;

pub use error::ShopError;
