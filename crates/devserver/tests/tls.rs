//! The TLS mode: the same router over rustls on the one listener (REST,
//! control API, WebSocket), https links and origins, concurrent handshakes,
//! a port freed at shutdown, clear errors for unusable files, and the
//! binary's `--tls-cert`/`--tls-key`.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{handshake_status, next_json, spawn_binary, terminate, Ws, BIN, WAIT};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use smarthunt_devserver::{DevServer, DevServerConfig, DevServerError, TlsFiles, LANDLORD};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{tungstenite, Connector};

/// A throwaway CA and a server certificate it signed for localhost.
struct Pki {
    _dir: tempfile::TempDir,
    ca_pem: String,
    files: TlsFiles,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "devserver test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("server certificate");

    let cert_pem = dir.path().join("server.pem");
    let key_pem = dir.path().join("server.key");
    std::fs::write(&cert_pem, leaf_cert.pem()).expect("write certificate");
    std::fs::write(&key_pem, leaf_key.serialize_pem()).expect("write key");
    Pki {
        _dir: dir,
        ca_pem: ca_cert.pem(),
        files: TlsFiles { cert_pem, key_pem },
    }
}

async fn start_tls(pki: &Pki, require_origin: bool) -> DevServer {
    DevServer::start(DevServerConfig {
        tls: Some(pki.files.clone()),
        require_origin,
        ..DevServerConfig::default()
    })
    .await
    .expect("start the TLS dev server")
}

/// An HTTP client that trusts only the test CA.
fn https_client(pki: &Pki) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("CA certificate"),
        )
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn rustls_client(pki: &Pki) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA"))
        .expect("CA root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn login(pki: &Pki, server: &DevServer) -> String {
    let resp = https_client(pki)
        .post(format!("{}/api/token/", server.base_url()))
        .json(&json!({"username": LANDLORD.0, "password": LANDLORD.1}))
        .send()
        .await
        .expect("token request over https");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("token json");
    v["access"].as_str().expect("access").to_owned()
}

async fn connect_wss(
    pki: &Pki,
    server: &DevServer,
    token: &str,
    origin: &str,
) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("{}?token={token}", server.ws_url())
        .into_client_request()
        .expect("ws request");
    req.headers_mut()
        .insert("Origin", HeaderValue::from_str(origin).expect("origin"));
    tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async_tls_with_config(
            req,
            None,
            false,
            Some(Connector::Rustls(rustls_client(pki))),
        ),
    )
    .await
    .expect("wss handshake in time")
    .map(|(ws, _)| ws)
}

#[tokio::test]
async fn tls_mode_serves_rest_control_and_the_websocket_on_one_https_listener() {
    let pki = pki();
    let server = start_tls(&pki, true).await;
    let port = server.addr().port();
    assert_eq!(server.base_url(), format!("https://localhost:{port}"));
    assert_eq!(
        server.ws_url(),
        format!("wss://localhost:{port}/ws/notifications/")
    );

    let access = login(&pki, &server).await;
    let client = https_client(&pki);
    let stats = client
        .get(format!("{}/control/stats", server.base_url()))
        .header(
            smarthunt_devserver::CONTROL_TOKEN_HEADER,
            server.control_token(),
        )
        .send()
        .await
        .expect("control over https");
    assert_eq!(
        stats.status(),
        StatusCode::OK,
        "the control API sees a loopback peer through TLS"
    );

    // Pagination links name the https origin.
    server
        .flood("landlord", 21, "general")
        .await
        .expect("flood");
    let page: Value = client
        .get(format!(
            "{}/api/interactions/notifications/",
            server.base_url()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list json");
    let next = page["next"].as_str().expect("a next link");
    assert!(
        next.starts_with(&format!("https://localhost:{port}/")),
        "{next}"
    );

    // The socket checks the https origin, not the http one.
    let own = format!("https://localhost:{port}");
    let mut ws = connect_wss(&pki, &server, &access, &own)
        .await
        .expect("wss with the server's own origin");
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
    let plain_origin = format!("http://localhost:{port}");
    let err = connect_wss(&pki, &server, &access, &plain_origin)
        .await
        .expect_err("an http origin is foreign to an https server");
    assert_eq!(handshake_status(&err), Some(403));
    drop(ws);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_blocks_nobody() {
    let pki = pki();
    let server = start_tls(&pki, false).await;
    // Connected, silent: its handshake never starts.
    let _silent = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("tcp connect");
    let started = Instant::now();
    login(&pki, &server).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served while another handshake was pending ({:?})",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tls_shutdown_frees_the_port_for_a_restart_with_a_socket_open() {
    let pki = pki();
    let server = start_tls(&pki, false).await;
    let addr = server.addr();
    let access = login(&pki, &server).await;
    let mut ws = connect_wss(&pki, &server, &access, "https://localhost")
        .await
        .expect("wss");
    next_json(&mut ws).await;
    server.shutdown().await;

    let again = DevServer::start(DevServerConfig {
        addr,
        tls: Some(pki.files.clone()),
        ..DevServerConfig::default()
    })
    .await
    .expect("restart on the same address");
    login(&pki, &again).await;
    again.shutdown().await;
}

#[tokio::test]
async fn unusable_tls_files_fail_start_naming_the_file() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").expect("write");

    let cases: [(TlsFiles, &PathBuf); 3] = [
        (
            TlsFiles {
                cert_pem: missing.clone(),
                key_pem: pki.files.key_pem.clone(),
            },
            &missing,
        ),
        (
            TlsFiles {
                cert_pem: pki.files.cert_pem.clone(),
                key_pem: garbage.clone(),
            },
            &garbage,
        ),
        (
            // A certificate file with no certificate in it.
            TlsFiles {
                cert_pem: garbage.clone(),
                key_pem: pki.files.key_pem.clone(),
            },
            &garbage,
        ),
    ];
    for (files, bad) in cases {
        let err = DevServer::start(DevServerConfig {
            tls: Some(files),
            ..DevServerConfig::default()
        })
        .await
        .expect_err("unusable TLS files");
        match &err {
            DevServerError::Tls { path, .. } => assert_eq!(path, bad),
            other => panic!("expected a TLS error, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&bad.display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn binary_with_tls_flags_prints_an_https_ready_line_and_serves_tls() {
    let pki = pki();
    let args = [
        OsStr::new("--port"),
        OsStr::new("0"),
        OsStr::new("--tls-cert"),
        pki.files.cert_pem.as_os_str(),
        OsStr::new("--tls-key"),
        pki.files.key_pem.as_os_str(),
    ];
    let (mut child, _lines, port) = spawn_binary(&args, "listening on https://localhost:");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let status = rt.block_on(async {
        https_client(&pki)
            .post(format!("https://localhost:{port}/api/token/"))
            .json(&json!({"username": "tenant", "password": "tenant-pass"}))
            .send()
            .await
            .expect("token request over https")
            .status()
    });
    assert_eq!(status, StatusCode::OK);

    let exit = terminate(&mut child);
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn binary_refuses_a_tls_certificate_without_its_key() {
    let pki = pki();
    let out = Command::new(BIN)
        .arg("--port")
        .arg("0")
        .arg("--tls-cert")
        .arg(&pki.files.cert_pem)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
