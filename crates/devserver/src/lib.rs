//! A SmartHunt-compatible backend on loopback, for the demo, the end-to-end
//! tests and the benchmarks.
//!
//! It speaks the wire of `PROTOCOL.md` on its own (literal JSON, never via
//! `smarthunt-core`): JWT login/refresh, the notifications WebSocket in the
//! documented or the legacy dialect, the REST API, and a loopback-only
//! control API under `/control/` to create events and inject faults.
//!
//! HTTP surface (one listener; plain http, or https/wss when
//! [`DevServerConfig::tls`] is set):
//!
//! | path | what |
//! |---|---|
//! | `GET /ws/notifications/?token=` | the notifications socket (403 on any auth failure) |
//! | `POST /api/token/`, `POST /api/token/refresh/` | simplejwt login and refresh |
//! | `/api/interactions/notifications/...` | list (`?page`, `?is_read`, `?notification_type`), detail, `PATCH` read flag, `mark-all-read/`, `stats/` |
//! | `/api/interactions/messages/` | `GET` history, `POST {receiver, content}` |
//! | `PATCH /api/interactions/bookings/<id>/approve/` | landlord decides a pending booking |
//! | `GET /api/users/profile/` | the signed-in user |
//! | `/control/...` | loopback-only test control: `notify`, `flood`, `message`, `booking_request`, `event`, `raw`, `close`, `reject_handshakes`, `stall`, `fail_refresh`, `fail_message_post`, `slow_bookings`, `revoke_access_tokens`, `read_elsewhere`, `reset_database` (POST) and `stats` (GET) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), smarthunt_devserver::DevServerError> {
//! use smarthunt_devserver::{DevServer, DevServerConfig};
//! let server = DevServer::start(DevServerConfig::default()).await?;
//! println!("{}", server.base_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod app;
mod auth;
mod control;
mod db;
mod error;
mod hub;
mod rest;
mod scenario;
mod tls;
mod wire;
mod ws;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

pub use app::Stats;
pub use error::{DbError, DevServerError, OpError};
pub use tls::TlsFiles;

use app::App;

/// Seeded landlord account (user id 1, "Lana Landlord").
pub const LANDLORD: (&str, &str) = ("landlord", "landlord-pass");
/// Seeded tenant account (user id 2, "Tom Tenant").
pub const TENANT: (&str, &str) = ("tenant", "tenant-pass");

/// Which of the two observed server behaviours to imitate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// The consumer of the integration guide: greeting frames, answers to
    /// client frames, `notification` + `unread_count`, `user_id` string in JWTs.
    #[default]
    Documented,
    /// The older consumer: silent on connect, `notify` frames, ignores client
    /// frames, closes with 1011 on `chat_message`/`booking_update`/
    /// `maintenance_update`, `user_id` integer in JWTs.
    Legacy,
}

/// How to run a [`DevServer`].
#[derive(Clone, Debug)]
pub struct DevServerConfig {
    /// Listen address (loopback only); port 0 picks a free port.
    pub addr: SocketAddr,
    /// Server dialect.
    pub variant: Variant,
    /// SQLite file; `None` keeps everything in memory.
    pub db_path: Option<PathBuf>,
    /// Answer 403 to WebSocket handshakes without the server's own `Origin`.
    pub require_origin: bool,
    /// Emit a realistic event every this often.
    pub scenario_interval: Option<Duration>,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// HS256 signing secret.
    pub jwt_secret: String,
    /// Serve over TLS with this certificate and key (`None`: plain http).
    /// The certificate should be valid for `localhost`, the host name
    /// [`DevServer::base_url`] then uses.
    pub tls: Option<TlsFiles>,
    /// The secret every `/control/` request must carry in
    /// [`CONTROL_TOKEN_HEADER`]; `None` draws a random one at start
    /// ([`DevServer::control_token`] tells it).
    pub control_token: Option<String>,
}

/// The header that carries the control API's token. A web page cannot set
/// it on a cross-origin request without a preflight the server never
/// grants, so a page in the user's browser cannot drive the control API.
pub const CONTROL_TOKEN_HEADER: &str = "x-control-token";

/// The `smarthunt-devserver` binary takes its control token from this
/// variable (inherited, never on a command line), else draws one and prints
/// it after its ready line.
pub const CONTROL_TOKEN_ENV: &str = "SMARTHUNT_CONTROL_TOKEN";

impl Default for DevServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            variant: Variant::Documented,
            db_path: None,
            require_origin: false,
            scenario_interval: None,
            access_ttl: Duration::from_secs(60 * 60),
            refresh_ttl: Duration::from_secs(24 * 60 * 60),
            jwt_secret: "smarthunt-devserver-insecure-dev-secret".to_owned(),
            tls: None,
            control_token: None,
        }
    }
}

/// A running dev server. Dropping it stops it too (without waiting).
pub struct DevServer {
    app: Arc<App>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
    scenario: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer")
            .field("addr", &self.addr)
            .field("variant", &self.app.variant)
            .finish_non_exhaustive()
    }
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "detail": "Not found." })),
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(json!({ "detail": "Method not allowed." })),
    )
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ws/notifications/", get(ws::handshake))
        .merge(rest::router())
        .merge(control::router(Arc::clone(&app)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

impl DevServer {
    /// Opens the database, binds the listener and starts serving.
    pub async fn start(cfg: DevServerConfig) -> Result<DevServer, DevServerError> {
        if !cfg.addr.ip().is_loopback() {
            return Err(DevServerError::NonLoopback(cfg.addr));
        }
        let tls = cfg.tls.as_ref().map(tls::server_config).transpose()?;
        let bind_err = |source| DevServerError::Bind {
            addr: cfg.addr,
            source,
        };
        let socket = if cfg.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(bind_err)?;
        socket.set_reuseaddr(true).map_err(bind_err)?;
        socket.bind(cfg.addr).map_err(bind_err)?;
        let listener = socket.listen(1024).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;

        let db = db::Db::open(cfg.db_path.as_deref()).await?;
        let app = Arc::new(App::new(&cfg, addr, db));

        let mut shutdown = app.shutdown_signal();
        let service = router(Arc::clone(&app)).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = shutdown.wait_for(|down| *down).await;
            };
            let result = match tls {
                None => {
                    let listener = listener.tap_io(|tcp| tls::no_delay(tcp));
                    axum::serve(listener, service)
                        .with_graceful_shutdown(stopped)
                        .await
                }
                // `tap_io` is what gives handlers `ConnectInfo<SocketAddr>`
                // (the control API's loopback check) for a custom listener.
                Some(config) => {
                    let listener = tls::TlsListener::new(listener, config).tap_io(|_| {});
                    axum::serve(listener, service)
                        .with_graceful_shutdown(stopped)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "server stopped with an error");
            }
        });
        let scenario = cfg
            .scenario_interval
            .map(|every| tokio::spawn(scenario::run(Arc::clone(&app), every)));
        tracing::info!(%addr, variant = ?cfg.variant, tls = app.tls, "dev server listening");
        Ok(DevServer {
            app,
            addr,
            server: Some(server),
            scenario,
        })
    }

    /// The token `/control/` requests must carry in [`CONTROL_TOKEN_HEADER`].
    pub fn control_token(&self) -> &str {
        &self.app.control_token
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS (no
    /// trailing slash).
    pub fn base_url(&self) -> String {
        if self.app.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// `ws://127.0.0.1:PORT/ws/notifications/`, or
    /// `wss://localhost:PORT/ws/notifications/` with TLS (append `?token=...`).
    pub fn ws_url(&self) -> String {
        if self.app.tls {
            format!("wss://localhost:{}/ws/notifications/", self.addr.port())
        } else {
            format!("ws://{}/ws/notifications/", self.addr)
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server dialect.
    pub fn variant(&self) -> Variant {
        self.app.variant
    }

    /// Stops accepting, drops every open socket (no close frame: clients see
    /// the connection vanish), and returns once the port is free.
    pub async fn shutdown(mut self) {
        self.app.begin_shutdown();
        if let Some(s) = self.scenario.take() {
            s.abort();
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                tracing::warn!("graceful shutdown timed out; aborting");
                abort.abort();
            }
        }
        self.app.hub.wait_empty(Duration::from_secs(5)).await;
    }

    // ---- in-process mirrors of the control API ----

    /// Counters since start (`GET /control/stats`).
    pub fn stats(&self) -> Stats {
        self.app.stats()
    }

    /// A token pair for a seeded user, without an HTTP round trip (not counted).
    pub async fn tokens(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, String), DevServerError> {
        let pair = self
            .app
            .login(username, password)
            .await?
            .ok_or_else(|| OpError::UnknownUser(username.to_owned()))?;
        Ok((pair.access, pair.refresh))
    }

    /// `POST /control/notify`: stores and pushes one notification; returns its id.
    pub async fn notify(
        &self,
        username: &str,
        title: &str,
        body: &str,
        notification_type: &str,
        data: Value,
    ) -> Result<i64, DevServerError> {
        let user = self.app.user_named(username).await?;
        let n = self
            .app
            .notify(
                user.id,
                title.to_owned(),
                body.to_owned(),
                notification_type.to_owned(),
                data,
            )
            .await?;
        Ok(n.id)
    }

    /// `POST /control/flood`: returns (first id, last id), None for 0.
    pub async fn flood(
        &self,
        username: &str,
        count: u64,
        notification_type: &str,
    ) -> Result<Option<(i64, i64)>, DevServerError> {
        let user = self.app.user_named(username).await?;
        Ok(self
            .app
            .flood(user.id, count, notification_type.to_owned())
            .await?)
    }

    /// `POST /control/message`: returns the message id.
    pub async fn message(
        &self,
        from: &str,
        to: &str,
        content: &str,
    ) -> Result<i64, DevServerError> {
        let from = self.app.user_named(from).await?;
        let to = self.app.user_named(to).await?;
        let m = self
            .app
            .send_message(from, to.id, content.to_owned(), None)
            .await?;
        Ok(m.id)
    }

    /// `POST /control/booking_request`: returns (booking id, notification id).
    pub async fn booking_request(
        &self,
        tenant: &str,
        property_id: Option<i64>,
    ) -> Result<(i64, i64), DevServerError> {
        let tenant = self.app.user_named(tenant).await?;
        let (b, n) = self.app.request_booking(tenant, property_id).await?;
        Ok((b.id, n.id))
    }

    /// `POST /control/event`: returns how many sockets it went to.
    pub async fn event(&self, username: &str, frame: &Value) -> Result<usize, DevServerError> {
        let user = self.app.user_named(username).await?;
        Ok(self.app.push_frame(user.id, frame))
    }

    /// `POST /control/raw`: returns how many sockets it went to.
    pub async fn raw(&self, username: &str, text: &str) -> Result<usize, DevServerError> {
        let user = self.app.user_named(username).await?;
        Ok(self.app.push_raw(user.id, text.to_owned()))
    }

    /// `POST /control/close`: returns how many sockets are being closed.
    pub fn close_all(&self, code: u16, reason: &str) -> usize {
        self.app.close_all(code, reason.to_owned())
    }

    /// `POST /control/reject_handshakes`.
    pub fn reject_handshakes(&self, status: Option<u16>) {
        self.app.knobs.set_reject_handshakes(status);
    }

    /// `POST /control/stall`.
    pub fn set_stalled(&self, stalled: bool) {
        self.app.knobs.set_stalled(stalled);
    }

    /// `POST /control/fail_refresh`.
    pub fn fail_refresh(&self, status: Option<u16>) {
        self.app.knobs.set_fail_refresh(status);
    }

    /// `POST /control/fail_message_post`.
    pub fn fail_message_posts(&self, count: u64) {
        self.app.knobs.set_fail_message_posts(count);
    }

    /// `POST /control/revoke_access_tokens`.
    pub fn revoke_access_tokens(&self) {
        self.app.auth.revoke_access_tokens();
    }

    /// `POST /control/read_elsewhere`: returns how many changed.
    pub async fn read_elsewhere(
        &self,
        username: &str,
        ids: Option<Vec<i64>>,
    ) -> Result<i64, DevServerError> {
        let user = self.app.user_named(username).await?;
        Ok(self.app.read_elsewhere(user.id, ids).await?)
    }

    /// `POST /control/reset_database`.
    pub async fn reset_database(&self) -> Result<(), DevServerError> {
        Ok(self.app.reset_database().await?)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.app.begin_shutdown();
        if let Some(s) = self.scenario.take() {
            s.abort();
        }
    }
}
