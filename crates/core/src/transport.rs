//! How we reach a server: its URL and the socket URL derived from it, one TLS
//! setup (system roots plus an optional custom CA) shared by REST and the
//! WebSocket, and proxies from the environment for both. Knows nothing of
//! frames or sessions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::protocol::MAX_FRAME_BYTES;
use crate::secret::Sensitive;

/// A connected notification socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("`{0}` is not a server address; give it as http(s)://host[:port]")]
    BadServerUrl(String),
    #[error("plain http is only allowed for this computer (loopback); use https or allow insecure http explicitly")]
    InsecureHttp,
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("the server refused the connection with HTTP {0}")]
    Handshake(u16),
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the proxy refused the tunnel: {0}")]
    Proxy(String),
    #[error("the server did not answer in time")]
    Timeout,
}

/// The most a REST answer may hold; a larger one is refused unread. DRF's
/// pages of 20 are a few KiB, so this leaves room and bounds memory.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The most a sign-in or refresh answer (two tokens) may hold.
pub const MAX_TOKEN_BODY_BYTES: usize = 64 * 1024;
/// The most a proxy's answer to `CONNECT` may hold, status line and headers.
const MAX_PROXY_HEAD_BYTES: usize = 16 * 1024;

/// Why a REST answer's body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the cap: refused, and the connection dropped.
    TooLarge(usize),
    Http(reqwest::Error),
}

/// Reads an answer's body, refusing it as soon as it outgrows `limit`: by
/// `Content-Length` before a byte is read, else while it streams.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where a redirect points, for an error message: API calls never follow
/// one (a `308` would resend the password to wherever it points). The query
/// is dropped and the text cut, so nothing the server chose is logged whole.
pub(crate) fn redirect_target(resp: &reqwest::Response) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    let raw = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let shown = match resp.url().join(&raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        // Not a URL: still nothing past a `?` or `#`.
        Err(_) => raw.split(['?', '#']).next().unwrap_or_default().to_owned(),
    };
    let shown: String = shown
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Some(if shown.is_empty() {
        format!("HTTP {} without a location", resp.status().as_u16())
    } else {
        shown
    })
}

impl TransportError {
    /// 401/403 at the handshake: the token (or the origin) was refused.
    pub fn is_auth_refusal(&self) -> bool {
        matches!(self, Self::Handshake(401 | 403))
    }
}

/// A REST failure in words a user can act on. reqwest's own message
/// ("error sending request") leaves the cause out; the cause is what says
/// "invalid peer certificate: UnknownIssuer" or "unsuccessful tunnel".
/// The URL is dropped (ours carry no secret, but they are noise).
pub(crate) fn describe_http_error(e: reqwest::Error) -> (String, HttpFailure) {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    let lower = text.to_ascii_lowercase();
    let kind = if lower.contains("certificate") || lower.contains("unknownissuer") {
        HttpFailure::Tls
    } else {
        HttpFailure::Network
    };
    (text, kind)
}

/// What kind of thing went wrong under a REST call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpFailure {
    /// The server's certificate is not trusted (a CA file may be needed).
    Tls,
    /// Anything else on the way: refused, reset, timeout, proxy.
    Network,
}

/// A SmartHunt server's base address, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    base: Url,
}

impl ServerUrl {
    /// Accepts `http(s)://host[:port][/prefix]`. Plain http needs a loopback
    /// host unless `allow_insecure_http`.
    pub fn parse(s: &str, allow_insecure_http: bool) -> Result<Self, TransportError> {
        let bad = || TransportError::BadServerUrl(s.chars().take(200).collect());
        let mut base = Url::parse(s.trim()).map_err(|_| bad())?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(bad());
        }
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let me = Self { base };
        if me.base.scheme() == "http" && !allow_insecure_http && !me.is_loopback() {
            return Err(TransportError::InsecureHttp);
        }
        Ok(me)
    }

    pub fn is_loopback(&self) -> bool {
        match self.base.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// The address as the user gave it, normalised (no trailing slash).
    pub fn as_str(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// A REST endpoint below the base, e.g. `api/token/`.
    pub fn api(&self, path: &str) -> Url {
        // Joining a relative path onto a valid http(s) base cannot fail.
        self.base
            .join(path.trim_start_matches('/'))
            .expect("relative path joins onto base")
    }

    /// The server's own origin, sent as `Origin` at the handshake.
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    /// `ws(s)://host[:port][/prefix]/ws/notifications/?token=...`. Carries the
    /// token: never log it.
    pub fn notifications_socket(&self, token: &Sensitive) -> Sensitive {
        let mut u = self.api("ws/notifications/");
        let scheme = if self.base.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        // http->ws and https->wss are always allowed scheme changes.
        let _ = u.set_scheme(scheme);
        u.query_pairs_mut().append_pair("token", token.expose());
        Sensitive::new(String::from(u))
    }

    /// A short name safe for a directory: `user@host_port_prefix`.
    pub fn account_slug(&self, username: &str) -> String {
        let raw = format!(
            "{}@{}{}{}",
            username,
            self.base.host_str().unwrap_or("server"),
            self.base
                .port()
                .map(|p| format!("_{p}"))
                .unwrap_or_default(),
            self.base.path().trim_end_matches('/')
        );
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    fn host_port(&self) -> (String, u16) {
        let port = self.base.port_or_known_default().unwrap_or(80);
        (connect_host(&self.base).unwrap_or_default(), port)
    }
}

/// What the user chose for TLS and plain http.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransportOptions {
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// The HTTP client and the socket connector, built once per account from the
/// same TLS configuration.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
}

/// How long a REST call or a handshake may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

impl Transport {
    pub fn new(options: &TransportOptions) -> Result<Self, TransportError> {
        let tls = Arc::new(tls_config(options.ca_file.as_deref())?);
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .proxy(reqwest::Proxy::custom(|u| proxy_for(u, &env_proxies())))
            .user_agent(concat!("SmartHunt-Desktop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Self { http, tls })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Opens the notification socket: through a CONNECT tunnel when a proxy
    /// applies, with the server's own `Origin`, frames capped at 1 MiB.
    pub async fn connect_socket(
        &self,
        server: &ServerUrl,
        token: &Sensitive,
    ) -> Result<Socket, TransportError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.connect_socket_inner(server, token))
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    async fn connect_socket_inner(
        &self,
        server: &ServerUrl,
        token: &Sensitive,
    ) -> Result<Socket, TransportError> {
        let url = server.notifications_socket(token);
        let mut request = url
            .expose()
            .into_client_request()
            .map_err(|_| TransportError::BadServerUrl(server.as_str().to_owned()))?;
        let origin = HeaderValue::from_str(&server.origin())
            .map_err(|_| TransportError::BadServerUrl(server.as_str().to_owned()))?;
        request.headers_mut().insert("Origin", origin);

        let (host, port) = server.host_port();
        let stream = match proxy_for(&server.api(""), &env_proxies()) {
            Some(proxy) => connect_via_proxy(&proxy, &host, port).await?,
            None => TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| TransportError::Network(e.to_string()))?,
        };
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME_BYTES))
            .max_frame_size(Some(MAX_FRAME_BYTES));
        let connector = if server.base.scheme() == "https" {
            Connector::Rustls(self.tls.clone())
        } else {
            Connector::Plain
        };
        match tokio_tungstenite::client_async_tls_with_config(
            request,
            stream,
            Some(config),
            Some(connector),
        )
        .await
        {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                Err(TransportError::Handshake(resp.status().as_u16()))
            }
            // The error text of tungstenite never includes the request URL.
            Err(e) => Err(TransportError::Network(e.to_string())),
        }
    }
}

/// rustls with the system's roots plus the user's CA file, if any.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // One unusable system certificate must not break all TLS.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        use rustls_pki_types::pem::PemObject;
        let ca_err = |reason: String| TransportError::CaFile {
            path: path.to_owned(),
            reason,
        };
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("it holds no PEM certificate".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Proxy settings from `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (either case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: Vec<String>,
}

fn env_proxies() -> ProxyEnv {
    let var = |a: &str, b: &str| {
        std::env::var(a)
            .or_else(|_| std::env::var(b))
            .ok()
            .filter(|v| !v.trim().is_empty())
    };
    ProxyEnv {
        https: var("HTTPS_PROXY", "https_proxy"),
        http: var("HTTP_PROXY", "http_proxy"),
        no_proxy: var("NO_PROXY", "no_proxy")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The proxy to use for `target`, if any: one rule for REST and the socket.
pub fn proxy_for(target: &Url, env: &ProxyEnv) -> Option<Url> {
    let host = target.host_str()?.to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let bypass = env.no_proxy.iter().any(|rule| {
        let rule = rule.trim_start_matches('.');
        rule == "*" || host == rule || host.ends_with(&format!(".{rule}"))
    });
    if bypass {
        return None;
    }
    let chosen = match target.scheme() {
        "https" | "wss" => env.https.as_ref().or(env.http.as_ref()),
        _ => env.http.as_ref(),
    }?;
    let with_scheme = if chosen.contains("://") {
        chosen.clone()
    } else {
        format!("http://{chosen}")
    };
    Url::parse(&with_scheme).ok()
}

/// The host of `url` as a socket address takes it: an IPv6 literal without
/// the brackets a URL writes around it (`[::1]` is not a name to look up).
fn connect_host(url: &Url) -> Option<String> {
    match url.host()? {
        url::Host::Ipv6(ip) => Some(ip.to_string()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Domain(d) => Some(d.to_owned()),
    }
}

/// Reads one line of the proxy's answer head, `budget` bytes at most for
/// the whole head: a proxy that never ends a line or its headers is refused.
async fn read_head_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    budget: &mut usize,
) -> Result<Vec<u8>, TransportError> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    let n = reader
        .take(*budget as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| TransportError::Network(format!("proxy: {e}")))?;
    *budget -= n;
    if n > 0 && !line.ends_with(b"\n") {
        return Err(TransportError::Proxy(
            "the proxy's answer is too long or cut off".into(),
        ));
    }
    Ok(line)
}

/// Opens a TCP tunnel through an HTTP proxy with `CONNECT host:port`.
async fn connect_via_proxy(
    proxy: &Url,
    host: &str,
    port: u16,
) -> Result<TcpStream, TransportError> {
    let proxy_host = connect_host(proxy)
        .ok_or_else(|| TransportError::Proxy("the proxy address has no host".into()))?;
    let proxy_port = proxy.port_or_known_default().unwrap_or(3128);
    let mut stream = TcpStream::connect((proxy_host.as_str(), proxy_port))
        .await
        .map_err(|e| TransportError::Network(format!("proxy: {e}")))?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if !proxy.username().is_empty() {
        use base64::Engine as _;
        let creds = format!(
            "{}:{}",
            url_decode(proxy.username()),
            url_decode(proxy.password().unwrap_or(""))
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(creds);
        req.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| TransportError::Network(format!("proxy: {e}")))?;

    // The tunnel starts right after the blank line, and CONNECT answers
    // carry no body, so nothing past it may be buffered.
    let mut reader = BufReader::new(&mut stream);
    let mut budget = MAX_PROXY_HEAD_BYTES;
    let status_line = read_head_line(&mut reader, &mut budget).await?;
    let status = String::from_utf8_lossy(&status_line)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok());
    loop {
        let line = read_head_line(&mut reader, &mut budget).await?;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line.is_empty() {
            // The budget ran out at a line's end, or the proxy hung up.
            return Err(TransportError::Proxy(if budget == 0 {
                "the proxy's answer is too long".into()
            } else {
                "the proxy closed the connection before the tunnel opened".into()
            }));
        }
    }
    if !reader.buffer().is_empty() {
        return Err(TransportError::Proxy(
            "the proxy sent data before the tunnel opened".into(),
        ));
    }
    match status {
        Some(s) if s.is_success() => Ok(stream),
        Some(s) => Err(TransportError::Proxy(format!("HTTP {}", s.as_u16()))),
        None => Err(TransportError::Proxy("not an HTTP answer".into())),
    }
}

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_keeps_host_port_and_prefix() {
        let s = ServerUrl::parse("https://api.example.com:8443/smarthunt", false).unwrap();
        let url = s.notifications_socket(&Sensitive::new("abc"));
        assert_eq!(
            url.expose(),
            "wss://api.example.com:8443/smarthunt/ws/notifications/?token=abc"
        );
        assert_eq!(s.origin(), "https://api.example.com:8443");
        assert_eq!(
            s.api("api/token/").as_str(),
            "https://api.example.com:8443/smarthunt/api/token/"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_unless_allowed() {
        assert!(ServerUrl::parse("http://127.0.0.1:8000", false).is_ok());
        assert!(ServerUrl::parse("http://localhost:8000/", false).is_ok());
        assert!(ServerUrl::parse("http://[::1]:8000/", false).is_ok());
        assert!(matches!(
            ServerUrl::parse("http://example.com", false),
            Err(TransportError::InsecureHttp)
        ));
        let s = ServerUrl::parse("http://example.com", true).unwrap();
        assert!(s
            .notifications_socket(&Sensitive::new("t"))
            .expose()
            .starts_with("ws://example.com/ws/notifications/"));
    }

    #[test]
    fn rejects_non_server_urls() {
        for bad in [
            "",
            "example.com",
            "ftp://x",
            "http://u:p@h",
            "https://h/?q=1",
        ] {
            assert!(ServerUrl::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxy_rules_follow_the_environment() {
        let env = ProxyEnv {
            https: Some("proxy.local:3128".into()),
            http: Some("http://p2:80".into()),
            no_proxy: vec!["localhost".into(), ".corp".into()],
        };
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            proxy_for(&u("https://a.example/"), &env).unwrap().as_str(),
            "http://proxy.local:3128/"
        );
        assert_eq!(
            proxy_for(&u("http://a.example/"), &env).unwrap().as_str(),
            "http://p2/"
        );
        assert!(proxy_for(&u("http://localhost:8000/"), &env).is_none());
        assert!(proxy_for(&u("https://x.corp/"), &env).is_none());
        assert!(proxy_for(&u("https://a.example/"), &ProxyEnv::default()).is_none());
    }

    #[test]
    fn missing_ca_file_is_a_clear_error() {
        let err = Transport::new(&TransportOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            allow_insecure_http: false,
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
