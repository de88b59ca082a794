//! Compiles the v1 protobuf contract with pure-Rust `protox` (no system `protoc`) and writes a
//! file descriptor set for gRPC server reflection.
use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/shopml/v1/prediction.proto",
    "proto/shopml/v1/segment.proto",
    "proto/shopml/v1/model.proto",
    "proto/shopml/v1/customer.proto",
    "proto/shopml/v1/insights.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    std::fs::write(out_dir.join("shopml_descriptor.bin"), fds.encode_to_vec())?;
    // Orders read from JSON (`shopml-bench --replay`, written by `shopml-train orders`), with
    // the proto's field names.
    // Messages go through prost's codec wrapped in decode / encode spans (`src/codec.rs`).
    let mut config = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::TracedCodec");
    for message in ["shopml.v1.Order", "shopml.v1.OrderLine", "shopml.v1.CustomerHistory"] {
        config = config
            .type_attribute(message, "#[derive(serde::Deserialize)]")
            .type_attribute(message, "#[serde(default)]");
    }
    config.compile_fds(fds)?;
    Ok(())
}
