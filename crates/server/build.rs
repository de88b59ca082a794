//! Compiles the v1 protobuf contract with pure-Rust `protox` (no system `protoc`) and writes a
//! file descriptor set for gRPC server reflection.
use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "../../proto/shopml/v1/prediction.proto",
    "../../proto/shopml/v1/segment.proto",
    "../../proto/shopml/v1/model.proto",
    "../../proto/shopml/v1/customer.proto",
    "../../proto/shopml/v1/insights.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["../../proto"])?;
    std::fs::write(out_dir.join("shopml_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
