//! TLS end to end: the dev server on `https://localhost:PORT` with a
//! certificate from a throwaway CA, and the core signing in over https and
//! listening over wss with that CA file (one TLS setup for both), refusing
//! the server without it, and naming a malformed CA file.
//!
//! Proxies are in `proxy.rs`: they change the process environment, which
//! must not leak into these tests.

mod common;

use std::path::PathBuf;

use common::tls::{
    login_with_ca, push_and_wait_popup, start_engine_watching_popups, tls_harness,
    wait_documented_socket, TestPki,
};
use common::Harness;
use smarthunt_core::account::AccountError;
use smarthunt_core::config::AppConfig;
use smarthunt_core::secret::Sensitive;
use smarthunt_core::transport::{ServerUrl, Transport, TransportError, TransportOptions};
use smarthunt_devserver::{DevServer, LANDLORD, TENANT};

fn server(h: &Harness) -> &DevServer {
    h.server.as_ref().expect("server running")
}

fn assert_certificate_error(what: &str, message: &str) {
    let lower = message.to_ascii_lowercase();
    assert!(
        lower.contains("certificate") || lower.contains("unknownissuer"),
        "{what}: the error should say the server's certificate is not trusted, got: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_sign_in_and_wss_live_notification_work_with_the_ca_file() {
    let pki = TestPki::new();
    let mut h = tls_harness(&pki).await;
    assert!(
        h.base_url.starts_with("https://localhost:"),
        "{}",
        h.base_url
    );

    let profile = login_with_ca(&h, LANDLORD, Some(&pki.ca_pem))
        .await
        .expect("sign-in over https with the CA file");
    assert_eq!(
        profile.map(|p| p.username).as_deref(),
        Some("landlord"),
        "the profile call went over the same TLS setup"
    );
    let stored = AppConfig::load(h.dir.path())
        .expect("config")
        .current
        .expect("signed in");
    assert_eq!(
        stored.transport.ca_file.as_deref(),
        Some(pki.ca_pem.as_path())
    );

    // The engine builds its transport from the stored account: REST and wss.
    let (_engine, popups) = start_engine_watching_popups(&mut h);
    wait_documented_socket(&h).await;
    push_and_wait_popup(&h, &popups, "landlord", "Boiler serviced (TLS)").await;

    let stats = server(&h).stats();
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert!(stats.handshakes_total >= 1, "{stats:?}");
    assert_eq!(stats.connections_open, 1, "{stats:?}");
    h.stop_engine().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_without_the_ca_file_fails_with_a_certificate_error() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let h = tls_harness(&pki).await;

    for (what, ca_file) in [
        ("no CA file", None),
        ("another CA's file", Some(other.ca_pem.as_path())),
    ] {
        let err = login_with_ca(&h, TENANT, ca_file)
            .await
            .expect_err("an untrusted server certificate is refused");
        assert_certificate_error(what, &err.to_string());
    }
    assert!(
        AppConfig::load(h.dir.path())
            .expect("config")
            .current
            .is_none(),
        "a refused sign-in stores no account"
    );
    assert_eq!(server(&h).stats().token_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_uses_the_same_ca_file_and_refuses_the_server_without_it() {
    let pki = TestPki::new();
    let h = tls_harness(&pki).await;
    let url = ServerUrl::parse(&h.base_url, false).expect("server url");
    let (access, _) = server(&h).tokens(TENANT.0, TENANT.1).await.expect("tokens");
    let token = Sensitive::new(access);

    let trusting = Transport::new(&TransportOptions {
        ca_file: Some(pki.ca_pem.clone()),
        allow_insecure_http: false,
    })
    .expect("transport with the CA");
    let socket = trusting
        .connect_socket(&url, &token)
        .await
        .expect("wss handshake with the CA file");
    drop(socket);

    let default = Transport::new(&TransportOptions::default()).expect("default transport");
    let err = default
        .connect_socket(&url, &token)
        .await
        .expect_err("wss without the CA file is refused");
    assert!(
        !matches!(err, TransportError::Timeout | TransportError::Handshake(_)),
        "{err:?}"
    );
    assert_certificate_error("wss without the CA file", &err.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ca_file_is_a_ca_file_error_naming_its_path() {
    let pki = TestPki::new();
    let h = tls_harness(&pki).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, &[u8]); 4] = [
        ("empty.pem", b""),
        ("not-pem.pem", b"this is not a certificate\n"),
        (
            "bad-base64.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n",
        ),
        (
            "not-a-cert.pem",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        ),
    ];
    let missing = dir.path().join("missing.pem");
    let mut paths: Vec<PathBuf> = vec![missing];
    for (name, content) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write CA file");
        paths.push(path);
    }

    for path in &paths {
        let err = login_with_ca(&h, TENANT, Some(path))
            .await
            .expect_err("a malformed CA file is refused");
        match &err {
            AccountError::Transport(TransportError::CaFile { path: named, .. }) => {
                assert_eq!(named, path)
            }
            other => panic!(
                "{}: expected a CA file error, got {other:?}",
                path.display()
            ),
        }
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "the message names the file: {err}"
        );
    }
    assert_eq!(
        server(&h).stats().token_requests,
        0,
        "nothing is sent with a broken TLS setup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_literal_server_gets_rest_and_the_websocket() {
    let mut h = Harness::with_config(smarthunt_devserver::DevServerConfig {
        addr: "[::1]:0".parse().expect("v6 loopback"),
        ..Default::default()
    })
    .await;
    assert!(h.base_url.starts_with("http://[::1]:"), "{}", h.base_url);
    h.login(TENANT, false).await;
    let (_engine, popups) = start_engine_watching_popups(&mut h);
    wait_documented_socket(&h).await;
    push_and_wait_popup(&h, &popups, "tenant", "Rent reminder over IPv6").await;
    assert!(
        server(&h).stats().handshakes_total >= 1,
        "the socket connected"
    );
    h.stop_engine().await;
}
