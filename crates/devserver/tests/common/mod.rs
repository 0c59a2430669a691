//! Helpers shared by the integration tests: start a server, log in, open
//! sockets, read frames with deadlines, call the control API over HTTP.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use smarthunt_devserver::{DevServer, DevServerConfig, Variant, CONTROL_TOKEN_HEADER};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(5);
pub const QUIET: Duration = Duration::from_millis(300);

pub async fn start(variant: Variant) -> DevServer {
    DevServer::start(DevServerConfig {
        variant,
        ..DevServerConfig::default()
    })
    .await
    .expect("start dev server")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// (access, refresh) via `POST /api/token/`.
pub async fn login(base: &str, who: (&str, &str)) -> (String, String) {
    let resp = http()
        .post(format!("{base}/api/token/"))
        .json(&json!({ "username": who.0, "password": who.1 }))
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("token json");
    (
        v["access"].as_str().expect("access").to_owned(),
        v["refresh"].as_str().expect("refresh").to_owned(),
    )
}

/// POST to the control API, expecting 200; returns the JSON answer.
pub async fn control(server: &DevServer, path: &str, body: Value) -> Value {
    let resp = http()
        .post(format!("{}/control/{path}", server.base_url()))
        .header(CONTROL_TOKEN_HEADER, server.control_token())
        .json(&body)
        .send()
        .await
        .expect("control request");
    let status = resp.status();
    let v: Value = resp.json().await.expect("control json");
    assert_eq!(status, StatusCode::OK, "control {path}: {v}");
    v
}

pub async fn stats(server: &DevServer) -> Value {
    http()
        .get(format!("{}/control/stats", server.base_url()))
        .header(CONTROL_TOKEN_HEADER, server.control_token())
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// GET with a bearer token; returns (status, body).
pub async fn get(base: &str, path: &str, access: &str) -> (StatusCode, Value) {
    let resp = http()
        .get(format!("{base}{path}"))
        .bearer_auth(access)
        .send()
        .await
        .expect("GET");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub fn ws_request(server: &DevServer, token: &str) -> tungstenite::handshake::client::Request {
    format!("{}?token={token}", server.ws_url())
        .into_client_request()
        .expect("ws request")
}

pub async fn try_connect(server: &DevServer, token: &str) -> Result<Ws, tungstenite::Error> {
    tokio_tungstenite::connect_async(ws_request(server, token))
        .await
        .map(|(ws, _)| ws)
}

pub async fn connect(server: &DevServer, token: &str) -> Ws {
    try_connect(server, token).await.expect("ws connect")
}

pub async fn connect_with_origin(
    server: &DevServer,
    token: &str,
    origin: &str,
) -> Result<Ws, tungstenite::Error> {
    let mut req = ws_request(server, token);
    req.headers_mut().insert(
        "Origin",
        HeaderValue::from_str(origin).expect("origin header"),
    );
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The HTTP status of a refused handshake.
pub fn handshake_status(err: &tungstenite::Error) -> Option<u16> {
    match err {
        tungstenite::Error::Http(resp) => Some(resp.status().as_u16()),
        _ => None,
    }
}

/// The next message of any kind, or panic after `WAIT`.
pub async fn next_msg(ws: &mut Ws) -> Message {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("timed out waiting for a frame")
        .expect("stream ended")
        .expect("ws error")
}

/// The next text frame parsed as JSON (skipping protocol pings/pongs).
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match next_msg(ws).await {
            Message::Text(t) => return serde_json::from_str(&t).expect("frame is JSON"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Asserts that nothing arrives within `QUIET`.
pub async fn assert_quiet(ws: &mut Ws) {
    if let Ok(m) = tokio::time::timeout(QUIET, ws.next()).await {
        panic!("expected silence, got {m:?}");
    }
}

pub async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// Reads until a close frame; returns its code.
pub async fn expect_close(ws: &mut Ws) -> u16 {
    loop {
        match next_msg(ws).await {
            Message::Close(Some(frame)) => return u16::from(frame.code),
            Message::Close(None) => panic!("close frame without a code"),
            _ => {}
        }
    }
}

/// Decodes the JWT payload without checking the signature.
pub fn jwt_claims(token: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.insecure_disable_signature_validation();
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &jsonwebtoken::DecodingKey::from_secret(b""), &v)
        .expect("decodable JWT")
        .claims
}

pub const BIN: &str = env!("CARGO_BIN_EXE_smarthunt-devserver");

/// Starts the binary, reads its ready line and returns the child, the rest
/// of its output, and the port that follows `ready_prefix` on that line.
pub fn spawn_binary(
    args: &[&OsStr],
    ready_prefix: &str,
) -> (Child, Lines<BufReader<ChildStdout>>, u16) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a line").expect("utf-8");
    let port = line
        .strip_prefix(ready_prefix)
        .unwrap_or_else(|| panic!("ready line format: {line}"))
        .parse()
        .expect("port number");
    (child, lines, port)
}

/// SIGTERM, then the exit status (within 10 s).
pub fn terminate(child: &mut Child) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
