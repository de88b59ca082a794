//! Integration tests: a real server on 127.0.0.1:0 with the shipped bundle, called through the
//! generated gRPC client. One test binary (modules below) so the stack links once.

mod common;
mod http_json;
mod insights;
mod lifecycle;
mod limits;
mod metrics;
mod object_storage;
mod predictions;
mod segments;
mod tls;
