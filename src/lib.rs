//! shopml: a gRPC service of e-commerce sales predictions.
//!
//! The library holds everything training and serving share: the feature encoders, the Burn
//! model definitions, the model bundle format, and the server with its gRPC services. The
//! training crate (`shopml-training`) depends on it, so a row is encoded by the same code in
//! both.

pub mod bundle;
pub mod cancellation;
pub mod config;
pub mod error;
pub mod examples;
pub mod features;
pub mod forecast;
pub mod price;
pub mod proto;
pub mod segments;
pub mod sentiment;
pub mod server;
pub mod service;

pub use error::ShopError;
