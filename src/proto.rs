//! Code generated from `proto/shopml/v1/*.proto` (package `shopml.v1`).
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("shopml.v1");

/// The encoded file descriptor set of the v1 contract, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shopml_descriptor.bin"));
