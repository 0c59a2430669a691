//! Proxies from the environment, end to end: a tiny HTTP CONNECT proxy on
//! loopback in front of the dev server on https, `HTTPS_PROXY`/`HTTP_PROXY`
//! pointing at it, and the core's REST calls and WebSocket going through
//! it, or around it when `NO_PROXY` says so.
//!
//! The environment is the process's: every test here holds `ENV_LOCK`, sets
//! the variables before its runtime starts and restores them after it has
//! stopped, so no thread reads the environment while it changes. This file
//! is its own test binary so that no other test sees these variables.

mod common;

use std::ffi::OsString;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use common::tls::{
    login_with_ca, push_and_wait_popup, start_engine_watching_popups, tls_harness,
    wait_documented_socket, TestPki,
};
use common::{Harness, WAIT};
use smarthunt_core::secret::Sensitive;
use smarthunt_core::transport::{ServerUrl, Socket, Transport, TransportError, TransportOptions};
use smarthunt_devserver::{LANDLORD, TENANT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Every proxy variable the core reads.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Clears the proxy variables, sets the given ones, and puts the old values
/// back on drop.
struct ProxyEnv {
    saved: Vec<(&'static str, Option<OsString>)>,
}

impl ProxyEnv {
    fn set(vars: &[(&'static str, &str)]) -> Self {
        let saved = PROXY_VARS
            .iter()
            .map(|&k| (k, std::env::var_os(k)))
            .collect();
        for k in PROXY_VARS {
            std::env::remove_var(k);
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        Self { saved }
    }
}

impl Drop for ProxyEnv {
    fn drop(&mut self) {
        for (k, v) in &self.saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}

/// What the proxy answers to `CONNECT`.
#[derive(Clone, Copy)]
enum Mode {
    Tunnel,
    Refuse(u16),
    /// A status line that never ends: a broken or hostile proxy.
    EndlessLine,
}

/// A minimal HTTP proxy: `CONNECT host:port` opens a TCP tunnel (bytes
/// forwarded both ways); anything else is refused. Bound before the runtime
/// starts (its address goes into the environment first), served in it.
struct ConnectProxy {
    listener: std::net::TcpListener,
    mode: Mode,
}

/// What the proxy saw.
#[derive(Clone, Default)]
struct ProxyLog {
    /// Connections accepted, tunnel or not.
    accepted: Arc<AtomicUsize>,
    /// The authority of each tunnel opened.
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn bind(mode: Mode) -> Self {
        Self::bind_on("127.0.0.1:0", mode)
    }

    fn bind_on(addr: &str, mode: Mode) -> Self {
        let listener = std::net::TcpListener::bind(addr).expect("bind proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        Self { listener, mode }
    }

    fn url(&self) -> String {
        format!(
            "http://{}",
            self.listener.local_addr().expect("proxy address")
        )
    }

    /// Serves on the current runtime until it stops.
    fn spawn(self) -> ProxyLog {
        let listener = TcpListener::from_std(self.listener).expect("tokio listener");
        let log = ProxyLog::default();
        let (mode, accepted, tunnels) = (self.mode, log.accepted.clone(), log.tunnels.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_client(client, mode, tunnels.clone()));
            }
        });
        log
    }
}

impl ProxyLog {
    fn tunnels(&self) -> Vec<String> {
        self.tunnels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn serve_client(mut client: TcpStream, mode: Mode, tunnels: Arc<Mutex<Vec<String>>>) {
    // The request head; a client may send more right behind it.
    let mut head = Vec::new();
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 16 * 1024 {
            return;
        }
        let mut chunk = [0u8; 1024];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut first = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, authority) = (first.next().unwrap_or_default(), first.next());
    let refuse = |status: u16| {
        format!("HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let authority = match (method, authority, mode) {
        ("CONNECT", Some(authority), Mode::Tunnel) => authority.to_owned(),
        ("CONNECT", Some(_), Mode::Refuse(status)) => {
            let _ = client.write_all(refuse(status).as_bytes()).await;
            return;
        }
        ("CONNECT", Some(_), Mode::EndlessLine) => {
            let _ = client.write_all(b"HTTP/1.1 200 ").await;
            let junk = [b'x'; 16 * 1024];
            while client.write_all(&junk).await.is_ok() {}
            return;
        }
        _ => {
            let _ = client.write_all(refuse(405).as_bytes()).await;
            return;
        }
    };
    let Ok(mut upstream) = TcpStream::connect(authority.as_str()).await else {
        let _ = client.write_all(refuse(502).as_bytes()).await;
        return;
    };
    tunnels
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(authority);
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
        || upstream.write_all(&head[end..]).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Runs `test` on a fresh runtime with exactly these proxy variables set,
/// the proxy serving; restores the environment after the runtime is gone.
fn with_proxy_env<F, Fut>(proxy: ConnectProxy, vars: &[(&'static str, &str)], test: F)
where
    F: FnOnce(ProxyLog) -> Fut,
    Fut: Future<Output = ()>,
{
    let _lock = ENV_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let _env = ProxyEnv::set(vars);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let log = proxy.spawn();
        test(log).await;
    });
    // Dropped here, before the environment is restored: its threads are gone.
    drop(runtime);
}

/// The authority every tunnel should have asked for: the dev server.
fn server_authority(h: &Harness) -> String {
    h.base_url.trim_start_matches("https://").to_owned()
}

#[test]
fn https_proxy_carries_sign_in_and_the_websocket_through_connect_tunnels() {
    let pki = TestPki::new();
    let proxy = ConnectProxy::bind(Mode::Tunnel);
    let url = proxy.url();
    let vars = [("HTTPS_PROXY", url.as_str()), ("HTTP_PROXY", url.as_str())];
    with_proxy_env(proxy, &vars, |proxy| async move {
        let mut h = tls_harness(&pki).await;
        let authority = server_authority(&h);

        // REST: sign-in (token + profile) through a tunnel.
        login_with_ca(&h, LANDLORD, Some(&pki.ca_pem))
            .await
            .expect("sign-in through the proxy");
        let after_login = proxy.tunnels().len();
        assert!(after_login >= 1, "sign-in opened no tunnel");
        assert_eq!(h.server.as_ref().unwrap().stats().token_requests, 1);

        // The socket alone: exactly one more tunnel, then the handshake.
        let socket = open_socket(&h, &pki, LANDLORD)
            .await
            .expect("wss through the proxy");
        drop(socket);
        assert_eq!(
            proxy.tunnels().len(),
            after_login + 1,
            "the socket opened its own tunnel"
        );

        // The engine end to end: REST catch-up and the live socket, tunnelled.
        let before_engine = proxy.tunnels().len();
        let (_engine, popups) = start_engine_watching_popups(&mut h);
        wait_documented_socket(&h).await;
        push_and_wait_popup(&h, &popups, "landlord", "Leak under the sink (proxied)").await;
        let tunnels = proxy.tunnels();
        assert!(
            tunnels.len() >= before_engine + 2,
            "the engine's REST and socket both tunnelled: {tunnels:?}"
        );
        assert!(
            tunnels.iter().all(|t| *t == authority),
            "every tunnel went to {authority}: {tunnels:?}"
        );
        h.stop_engine().await;
    });
}

/// The socket alone, as `user` and trusting the test CA, as the engine
/// opens it.
async fn open_socket(
    h: &Harness,
    pki: &TestPki,
    user: (&str, &str),
) -> Result<Socket, TransportError> {
    let transport = Transport::new(&TransportOptions {
        ca_file: Some(pki.ca_pem.clone()),
        allow_insecure_http: false,
    })
    .expect("transport");
    let (access, _) = h
        .server
        .as_ref()
        .unwrap()
        .tokens(user.0, user.1)
        .await
        .expect("tokens");
    let server_url = ServerUrl::parse(&h.base_url, false).expect("server url");
    transport
        .connect_socket(&server_url, &Sensitive::new(access))
        .await
}

/// The error of a socket that the proxy does not let through, in time.
async fn refused_socket(h: &Harness, pki: &TestPki) -> TransportError {
    tokio::time::timeout(WAIT, open_socket(h, pki, TENANT))
        .await
        .expect("the socket gives up in time")
        .expect_err("no tunnel, no socket")
}

#[test]
fn no_proxy_for_localhost_bypasses_the_proxy_for_rest_and_the_websocket() {
    let pki = TestPki::new();
    let proxy = ConnectProxy::bind(Mode::Tunnel);
    let url = proxy.url();
    let vars = [
        ("HTTPS_PROXY", url.as_str()),
        ("HTTP_PROXY", url.as_str()),
        ("NO_PROXY", "127.0.0.1,localhost"),
    ];
    with_proxy_env(proxy, &vars, |proxy| async move {
        let mut h = tls_harness(&pki).await;
        login_with_ca(&h, TENANT, Some(&pki.ca_pem))
            .await
            .expect("sign-in straight to the server");
        let (_engine, popups) = start_engine_watching_popups(&mut h);
        wait_documented_socket(&h).await;
        push_and_wait_popup(&h, &popups, "tenant", "Rent reminder (direct)").await;
        assert_eq!(proxy.accepted(), 0, "nothing reached the proxy");
        assert!(proxy.tunnels().is_empty());
        h.stop_engine().await;
    });
}

#[test]
fn a_proxy_refusing_the_tunnel_fails_sign_in_and_the_socket_with_a_proxy_error() {
    let pki = TestPki::new();
    let proxy = ConnectProxy::bind(Mode::Refuse(403));
    let url = proxy.url();
    let vars = [("HTTPS_PROXY", url.as_str())];
    with_proxy_env(proxy, &vars, |proxy| async move {
        let h = tls_harness(&pki).await;

        // The socket: the core's own CONNECT client reports the refusal.
        let err = refused_socket(&h, &pki).await;
        assert!(
            matches!(&err, TransportError::Proxy(m) if m.contains("403")),
            "{err:?}"
        );
        assert_eq!(proxy.accepted(), 1, "the socket asked the proxy");

        // REST: sign-in fails too, and says why.
        let err = login_with_ca(&h, TENANT, Some(&pki.ca_pem))
            .await
            .expect_err("no tunnel, no sign-in");
        assert!(proxy.accepted() >= 2, "sign-in asked the proxy");
        let stats = h.server.as_ref().unwrap().stats();
        assert_eq!((stats.handshakes_total, stats.token_requests), (0, 0));
        let message = err.to_string().to_ascii_lowercase();
        assert!(
            message.contains("proxy") || message.contains("tunnel"),
            "the sign-in error should say the proxy refused the tunnel: {err}"
        );
    });
}

#[test]
fn an_ipv6_literal_server_is_reached_through_a_proxy_on_an_ipv6_literal() {
    let proxy = ConnectProxy::bind_on("[::1]:0", Mode::Tunnel);
    let url = proxy.url();
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let vars = [("HTTP_PROXY", url.as_str())];
    with_proxy_env(proxy, &vars, |proxy| async move {
        let h = Harness::with_config(smarthunt_devserver::DevServerConfig {
            addr: "[::1]:0".parse().expect("v6 loopback"),
            ..Default::default()
        })
        .await;
        let (access, _) = h
            .server
            .as_ref()
            .unwrap()
            .tokens(TENANT.0, TENANT.1)
            .await
            .expect("tokens");
        let transport = Transport::new(&TransportOptions::default()).expect("transport");
        let server_url = ServerUrl::parse(&h.base_url, false).expect("server url");
        let socket = tokio::time::timeout(
            WAIT,
            transport.connect_socket(&server_url, &Sensitive::new(access)),
        )
        .await
        .expect("in time")
        .expect("ws to [::1] through the proxy on [::1]");
        drop(socket);
        let authority = h.base_url.trim_start_matches("http://").to_owned();
        assert_eq!(
            proxy.tunnels(),
            vec![authority],
            "one tunnel, to [::1]:port"
        );
        assert_eq!(h.server.as_ref().unwrap().stats().handshakes_total, 1);
    });
}

#[test]
fn a_proxy_answer_that_never_ends_is_refused_not_buffered() {
    let pki = TestPki::new();
    let proxy = ConnectProxy::bind(Mode::EndlessLine);
    let url = proxy.url();
    let vars = [("HTTPS_PROXY", url.as_str())];
    with_proxy_env(proxy, &vars, |_proxy| async move {
        let h = tls_harness(&pki).await;
        let err = refused_socket(&h, &pki).await;
        assert!(
            matches!(&err, TransportError::Proxy(m) if m.contains("too long")),
            "{err:?}"
        );
    });
}
