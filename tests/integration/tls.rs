//! TLS: a server given a certificate and key answers over TLS only, and a certificate it cannot
//! read or parse stops the start with an error naming it.

use crate::common::*;
use shopml_server::proto;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// A self-signed certificate for "localhost", written as PEM files; returns the certificate's PEM.
fn write_self_signed(dir: &Path) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a certificate is generated");
    let cert = certified.cert.pem();
    std::fs::write(dir.join("server.crt"), &cert).unwrap();
    std::fs::write(dir.join("server.key"), certified.signing_key.serialize_pem()).unwrap();
    cert
}

fn tls_settings(dir: &Path) -> shopml_server::config::Settings {
    let mut settings = settings(&shipped_bundle());
    settings.tls.cert_path = dir.join("server.crt").display().to_string();
    settings.tls.key_path = dir.join("server.key").display().to_string();
    settings
}

#[tokio::test]
async fn a_server_with_a_certificate_answers_over_tls_and_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write_self_signed(dir.path());
    let server = shopml_server::server::start(tls_settings(dir.path()))
        .await
        .expect("server starts with TLS");
    assert!(server.wait_ready(Duration::from_secs(20)).await, "the bundle loads");

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&cert))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS handshake");
    let reply = predictions(&channel)
        .predict_price(proto::PredictPriceRequest { product: Some(product("tls-1")) })
        .await
        .expect("a prediction over TLS")
        .into_inner();
    assert!(reply.prediction.is_some_and(|p| p.price.is_finite() && p.price > 0.0));

    // A client that does not speak TLS gets no answer from the TLS port.
    let plaintext = async {
        let channel =
            Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await?;
        Ok::<_, Box<dyn std::error::Error>>(
            models(&channel).get_model_info(proto::GetModelInfoRequest {}).await?,
        )
    };
    let answered = tokio::time::timeout(Duration::from_secs(10), plaintext).await;
    assert!(matches!(answered, Ok(Err(_))), "plaintext must fail quickly, got {answered:?}");

    // A client that does not trust the certificate fails the handshake.
    let untrusted = Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(ClientTlsConfig::new().domain_name("localhost"))
        .unwrap()
        .connect()
        .await;
    assert!(untrusted.is_err(), "a certificate nobody signed is not trusted");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_or_unparsable_certificate_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let settings = tls_settings(dir.path());
    let error = shopml_server::server::start(settings.clone())
        .await
        .err()
        .expect("no certificate: the start fails")
        .to_string();
    assert!(error.starts_with("TLS:") && error.contains("server.crt"), "{error}");

    write_self_signed(dir.path());
    std::fs::write(dir.path().join("server.key"), "not a key").unwrap();
    let error = shopml_server::server::start(settings)
        .await
        .err()
        .expect("a key that is not PEM: the start fails")
        .to_string();
    assert!(
        error.starts_with("TLS:") && error.contains("server.key") && error.contains("private key"),
        "{error}"
    );
}
