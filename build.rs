//! Compiles the v1 protobuf contract with pure-Rust `protox` (no system `protoc`) and writes,
//! from its descriptors: the file descriptor set for gRPC server reflection, the proto3 JSON
//! mapping of every message (pbjson), the table of HTTP/JSON routes and their OpenAPI document.
use prost::Message;
use prost_types::{FileDescriptorSet, field_descriptor_proto::Label, field_descriptor_proto::Type};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/shopml/v1/prediction.proto",
    "proto/shopml/v1/segment.proto",
    "proto/shopml/v1/model.proto",
    "proto/shopml/v1/customer.proto",
    "proto/shopml/v1/insights.proto",
];

const PACKAGE: &str = "shopml.v1";

/// Where the HTTP/JSON API answers: `POST {HTTP_PREFIX}/{Service}/{Method}`.
const HTTP_PREFIX: &str = "/v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(PROTOS, ["proto"])?;
    let encoded = fds.encode_to_vec();
    std::fs::write(out_dir.join("shopml_descriptor.bin"), &encoded)?;
    // Messages go through prost's codec wrapped in decode / encode spans (`src/codec.rs`).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::TracedCodec")
        // Ordered maps: the same message is the same JSON text, call after call.
        .btree_map(".")
        .compile_fds(fds.clone())?;
    // Every field is written, defaults included, so a JSON client sees `0.0` rather than a
    // missing key; names are lowerCamelCase and both spellings are read, as the mapping says.
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .emit_fields()
        .btree_map(["."])
        .build(&[format!(".{PACKAGE}")])?;
    std::fs::write(out_dir.join("http_routes.rs"), routes(&fds))?;
    std::fs::write(out_dir.join("openapi.json"), serde_json::to_string_pretty(&openapi(&fds))?)?;
    Ok(())
}

/// `http_routes! { ("Service", "Method", Request, Response, client_streaming, server_streaming), … }`
fn routes(fds: &FileDescriptorSet) -> String {
    let mut rows = String::new();
    for file in fds.file.iter().filter(|f| f.package() == PACKAGE) {
        for service in &file.service {
            for method in &service.method {
                let rust_type = |name: &str| {
                    let short = name.trim_start_matches(&format!(".{PACKAGE}."));
                    assert!(!short.contains('.'), "{name}: RPC messages are top-level");
                    short.to_owned()
                };
                rows.push_str(&format!(
                    "    ({:?}, {:?}, {}, {}, {}, {}),\n",
                    service.name(),
                    method.name(),
                    rust_type(method.input_type()),
                    rust_type(method.output_type()),
                    method.client_streaming(),
                    method.server_streaming(),
                ));
            }
        }
    }
    format!("http_routes! {{\n{rows}}}\n")
}

/// The comments of the contract, by descriptor path (as `SourceCodeInfo` numbers them).
fn comments(fds: &FileDescriptorSet) -> BTreeMap<(String, Vec<i32>), String> {
    let mut out = BTreeMap::new();
    for file in &fds.file {
        for location in file.source_code_info.iter().flat_map(|info| &info.location) {
            let text = location.leading_comments().trim();
            if !text.is_empty() {
                let text = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
                out.insert((file.name().to_owned(), location.path.clone()), text);
            }
        }
    }
    out
}

/// A schema's name: the message's full name without the package (`Order`, `Outer.Inner`).
fn schema_name(type_name: &str) -> String {
    type_name.trim_start_matches('.').trim_start_matches(&format!("{PACKAGE}.")).to_owned()
}

fn reference(type_name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", schema_name(type_name)) })
}

/// The proto3 JSON mapping of one field's value.
fn value_schema(field: &prost_types::FieldDescriptorProto) -> Value {
    match field.r#type() {
        Type::Double | Type::Float => json!({ "type": "number" }),
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Type::Uint32 | Type::Fixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": 0 })
        }
        // 64-bit integers are written as strings (JSON numbers lose precision); numbers are read.
        Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => {
            json!({ "type": ["string", "integer"], "format": "int64" })
        }
        Type::Bool => json!({ "type": "boolean" }),
        Type::String => json!({ "type": "string" }),
        Type::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Type::Enum | Type::Message | Type::Group => reference(field.type_name()),
    }
}

struct Schemas<'a> {
    comments: BTreeMap<(String, Vec<i32>), String>,
    /// Map entry messages, whose fields become `additionalProperties`.
    map_entries: BTreeMap<String, &'a prost_types::DescriptorProto>,
    out: Map<String, Value>,
}

impl<'a> Schemas<'a> {
    fn describe(&self, file: &str, path: &[i32], mut schema: Value) -> Value {
        if let Some(text) = self.comments.get(&(file.to_owned(), path.to_vec())) {
            schema["description"] = Value::String(text.clone());
        }
        schema
    }

    fn field_schema(&self, field: &prost_types::FieldDescriptorProto) -> Value {
        if let Some(entry) = self.map_entries.get(field.type_name().trim_start_matches('.')) {
            return json!({ "type": "object", "additionalProperties": value_schema(&entry.field[1]) });
        }
        match field.label() {
            Label::Repeated => json!({ "type": "array", "items": value_schema(field) }),
            _ => value_schema(field),
        }
    }

    fn message(
        &mut self,
        file: &str,
        prefix: &str,
        path: Vec<i32>,
        message: &'a prost_types::DescriptorProto,
    ) {
        let full = format!("{prefix}.{}", message.name());
        if message.options.as_ref().is_some_and(|o| o.map_entry()) {
            return;
        }
        let mut properties = Map::new();
        for (i, field) in message.field.iter().enumerate() {
            let field_path = [path.clone(), vec![2, i as i32]].concat();
            let schema = self.describe(file, &field_path, self.field_schema(field));
            properties.insert(field.json_name().to_owned(), schema);
        }
        let schema = json!({ "type": "object", "properties": properties });
        self.out.insert(schema_name(&full), self.describe(file, &path, schema));
        for (i, nested) in message.nested_type.iter().enumerate() {
            self.message(file, &full, [path.clone(), vec![3, i as i32]].concat(), nested);
        }
        for (i, nested) in message.enum_type.iter().enumerate() {
            self.enumeration(file, &full, [path.clone(), vec![4, i as i32]].concat(), nested);
        }
    }

    fn enumeration(
        &mut self,
        file: &str,
        prefix: &str,
        path: Vec<i32>,
        e: &prost_types::EnumDescriptorProto,
    ) {
        let names: Vec<&str> = e.value.iter().map(|v| v.name()).collect();
        let schema = json!({ "type": "string", "enum": names });
        self.out.insert(
            schema_name(&format!("{prefix}.{}", e.name())),
            self.describe(file, &path, schema),
        );
    }
}

/// The OpenAPI 3.1 document of the HTTP/JSON API: a POST path per RPC, a schema per message.
fn openapi(fds: &FileDescriptorSet) -> Value {
    fn collect_entries<'a>(
        prefix: &str,
        m: &'a prost_types::DescriptorProto,
        out: &mut BTreeMap<String, &'a prost_types::DescriptorProto>,
    ) {
        let full = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            if nested.options.as_ref().is_some_and(|o| o.map_entry()) {
                out.insert(format!("{full}.{}", nested.name()), nested);
            }
            collect_entries(&full, nested, out);
        }
    }
    let files: Vec<_> = fds.file.iter().filter(|f| f.package() == PACKAGE).collect();
    let mut map_entries = BTreeMap::new();
    for file in &files {
        for m in &file.message_type {
            collect_entries(PACKAGE, m, &mut map_entries);
        }
    }
    let mut schemas = Schemas { comments: comments(fds), map_entries, out: Map::new() };
    let mut paths = Map::new();
    for file in &files {
        for (i, m) in file.message_type.iter().enumerate() {
            schemas.message(file.name(), PACKAGE, vec![4, i as i32], m);
        }
        for (i, e) in file.enum_type.iter().enumerate() {
            schemas.enumeration(file.name(), PACKAGE, vec![5, i as i32], e);
        }
        for (s, service) in file.service.iter().enumerate() {
            for (m, method) in service.method.iter().enumerate() {
                let summary = schemas
                    .comments
                    .get(&(file.name().to_owned(), vec![6, s as i32, 2, m as i32]))
                    .cloned()
                    .unwrap_or_default();
                // Streams are newline-delimited JSON: one message per line each way.
                let media = |streaming: bool| {
                    if streaming { "application/x-ndjson" } else { "application/json" }
                };
                let operation = json!({
                    "operationId": format!("{}_{}", service.name(), method.name()),
                    "summary": summary,
                    "tags": [service.name()],
                    "parameters": [{ "$ref": "#/components/parameters/timeoutMs" }],
                    "requestBody": {
                        "required": true,
                        "content": { media(method.client_streaming()): { "schema": reference(method.input_type()) } },
                    },
                    "responses": {
                        "200": {
                            "description": "The answer, in the proto3 JSON mapping.",
                            "content": { media(method.server_streaming()): { "schema": reference(method.output_type()) } },
                        },
                        "default": {
                            "description": "The gRPC status, with the conventional HTTP status for its code.",
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
                        },
                    },
                });
                paths.insert(
                    format!("{HTTP_PREFIX}/{}/{}", service.name(), method.name()),
                    json!({ "post": operation }),
                );
            }
        }
    }
    let mut components = schemas.out;
    components.insert("Error".into(), json!({
        "type": "object",
        "description": "Why a call failed: the gRPC status code (number and name), its message and, for INVALID_ARGUMENT, the fields at fault.",
        "properties": {
            "code": { "type": "integer", "description": "The gRPC status code (3: INVALID_ARGUMENT …)." },
            "status": { "type": "string", "description": "The code's name, e.g. INVALID_ARGUMENT." },
            "message": { "type": "string", "description": "What went wrong, in words." },
            "fieldViolations": {
                "type": "array",
                "description": "The fields at fault (google.rpc.BadRequest), when the error names them.",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": { "type": "string", "description": "The field's path, e.g. order.lines[0].quantity." },
                        "description": { "type": "string", "description": "Why its value was refused." },
                    },
                },
            },
        },
        "required": ["code", "status", "message"],
    }));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "shopml HTTP/JSON API",
            "version": PACKAGE,
            "description": "Every RPC of the shopml.v1 gRPC services, in the proto3 JSON mapping. Generated from proto/ at build time.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "parameters": {
                "timeoutMs": {
                    "name": "timeout_ms",
                    "in": "query",
                    "required": false,
                    "description": "The call's deadline in milliseconds (like gRPC's grpc-timeout, which is also read as a header); past it the call answers DEADLINE_EXCEEDED.",
                    "schema": { "type": "integer", "minimum": 1 },
                },
            },
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "The admin token, where the server requires one." },
            },
        },
        "security": [{}, { "bearer": [] }],
    })
}
