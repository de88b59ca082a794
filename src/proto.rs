//! Code generated from `proto/shopml/v1/*.proto` (package `shopml.v1`).
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("shopml.v1");
// The proto3 JSON mapping (serde) of every message, for the HTTP/JSON API.
include!(concat!(env!("OUT_DIR"), "/shopml.v1.serde.rs"));

/// The encoded file descriptor set of the v1 contract, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shopml_descriptor.bin"));

/// The OpenAPI 3.1 document of the HTTP/JSON API, written from the contract at build time.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
