//! The control API under `/control/`: create events, inject faults, read
//! counters. Bodies and answers are JSON. Only for a loopback peer that
//! names a loopback `Host` (a DNS-rebound page names its own) and carries
//! the run's token in `x-control-token` (a page cannot set it cross-origin
//! without a preflight, which is never granted).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::error::{parse_json, ApiError};
use crate::wire;

/// Largest control request body (raw frames of many MiB must fit).
const MAX_BODY: usize = 256 << 20;

type Answer = Result<Json<Value>, ApiError>;

/// The `/control/` routes.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/control/notify", post(notify))
        .route("/control/flood", post(flood))
        .route("/control/message", post(message))
        .route("/control/booking_request", post(booking_request))
        .route("/control/event", post(event))
        .route("/control/raw", post(raw))
        .route("/control/close", post(close))
        .route("/control/reject_handshakes", post(reject_handshakes))
        .route("/control/stall", post(stall))
        .route("/control/fail_refresh", post(fail_refresh))
        .route("/control/fail_message_post", post(fail_message_post))
        .route("/control/slow_bookings", post(slow_bookings))
        .route("/control/revoke_access_tokens", post(revoke_access_tokens))
        .route("/control/read_elsewhere", post(read_elsewhere))
        .route("/control/reset_database", post(reset_database))
        .route("/control/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(app, guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn guard(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let refuse = |why: &str| Err(ApiError::detail(StatusCode::FORBIDDEN, why));
    if !peer.ip().is_loopback() {
        return refuse("control API is loopback-only");
    }
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_host(host) {
        return refuse("control API answers only to a loopback Host");
    }
    let token = req
        .headers()
        .get(crate::CONTROL_TOKEN_HEADER)
        .map(|t| t.as_bytes())
        .unwrap_or_default();
    if !same_secret(token, app.control_token.as_bytes()) {
        return refuse("control API needs this run's token in x-control-token");
    }
    Ok(next.run(req).await)
}

/// `localhost`, `127.0.0.1`, `[::1]`..., with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !host.ends_with(']') =>
        {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares without stopping at the first difference.
fn same_secret(given: &[u8], want: &[u8]) -> bool {
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn check_status(status: Option<u16>) -> Result<Option<u16>, ApiError> {
    match status {
        Some(s) if !(200..=599).contains(&s) => Err(ApiError::bad_request(
            "status must be an HTTP status code (200-599)",
        )),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct NotifyBody {
    username: String,
    title: String,
    body: String,
    notification_type: Option<String>,
    data: Option<Value>,
}

async fn notify(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: NotifyBody = parse_json(&body)?;
    let user = app.user_named(&b.username).await?;
    let n = app
        .notify(
            user.id,
            b.title,
            b.body,
            b.notification_type.unwrap_or_else(|| "general".into()),
            b.data.unwrap_or_else(|| json!({})),
        )
        .await?;
    Ok(Json(json!({ "id": n.id })))
}

#[derive(Deserialize)]
struct FloodBody {
    username: String,
    count: u64,
    notification_type: Option<String>,
}

async fn flood(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: FloodBody = parse_json(&body)?;
    let user = app.user_named(&b.username).await?;
    let range = app
        .flood(
            user.id,
            b.count,
            b.notification_type.unwrap_or_else(|| "general".into()),
        )
        .await?;
    let (first, last) = range.unzip();
    Ok(Json(json!({ "first_id": first, "last_id": last })))
}

#[derive(Deserialize)]
struct MessageBody {
    from: String,
    to: String,
    content: String,
    property_id: Option<i64>,
}

async fn message(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: MessageBody = parse_json(&body)?;
    let from = app.user_named(&b.from).await?;
    let to = app.user_named(&b.to).await?;
    let m = app
        .send_message(from, to.id, b.content, b.property_id)
        .await?;
    Ok(Json(wire::message_json(&m)))
}

#[derive(Deserialize)]
struct BookingBody {
    tenant: String,
    property_id: Option<i64>,
}

async fn booking_request(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: BookingBody = parse_json(&body)?;
    let tenant = app.user_named(&b.tenant).await?;
    let (booking, n) = app.request_booking(tenant, b.property_id).await?;
    Ok(Json(
        json!({ "booking_id": booking.id, "notification_id": n.id }),
    ))
}

#[derive(Deserialize)]
struct EventBody {
    username: String,
    frame: Value,
}

async fn event(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: EventBody = parse_json(&body)?;
    let user = app.user_named(&b.username).await?;
    let sockets = app.push_frame(user.id, &b.frame);
    Ok(Json(json!({ "sockets": sockets })))
}

#[derive(Deserialize)]
struct RawBody {
    username: String,
    text: String,
}

async fn raw(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: RawBody = parse_json(&body)?;
    let user = app.user_named(&b.username).await?;
    let sockets = app.push_raw(user.id, b.text);
    Ok(Json(json!({ "sockets": sockets })))
}

#[derive(Deserialize)]
struct CloseBody {
    code: u16,
    reason: Option<String>,
}

async fn close(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: CloseBody = parse_json(&body)?;
    if !(1000..=4999).contains(&b.code) {
        return Err(ApiError::bad_request("code must be in 1000..=4999"));
    }
    let reason = b.reason.unwrap_or_default();
    if reason.len() > 123 {
        return Err(ApiError::bad_request("reason must be at most 123 bytes"));
    }
    let sockets = app.close_all(b.code, reason);
    Ok(Json(json!({ "sockets": sockets })))
}

#[derive(Deserialize)]
struct StatusBody {
    status: Option<u16>,
}

async fn reject_handshakes(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: StatusBody = parse_json(&body)?;
    let status = check_status(b.status)?;
    app.knobs.set_reject_handshakes(status);
    Ok(Json(json!({ "status": status })))
}

async fn fail_refresh(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: StatusBody = parse_json(&body)?;
    let status = check_status(b.status)?;
    app.knobs.set_fail_refresh(status);
    Ok(Json(json!({ "status": status })))
}

#[derive(Deserialize)]
struct StallBody {
    stalled: bool,
}

async fn stall(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: StallBody = parse_json(&body)?;
    app.knobs.set_stalled(b.stalled);
    Ok(Json(json!({ "stalled": b.stalled })))
}

#[derive(Deserialize)]
struct CountBody {
    count: u64,
}

async fn fail_message_post(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: CountBody = parse_json(&body)?;
    app.knobs.set_fail_message_posts(b.count);
    Ok(Json(json!({ "count": b.count })))
}

#[derive(Deserialize)]
struct MsBody {
    ms: u64,
}

async fn slow_bookings(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: MsBody = parse_json(&body)?;
    if b.ms > 600_000 {
        return Err(ApiError::bad_request("ms must be at most 600000"));
    }
    app.knobs.set_slow_bookings(b.ms);
    Ok(Json(json!({ "ms": b.ms })))
}

async fn revoke_access_tokens(State(app): State<Arc<App>>) -> Answer {
    app.auth.revoke_access_tokens();
    Ok(Json(json!({ "revoked": true })))
}

#[derive(Deserialize)]
struct ReadElsewhereBody {
    username: String,
    ids: Option<Vec<i64>>,
}

async fn read_elsewhere(State(app): State<Arc<App>>, body: Bytes) -> Answer {
    let b: ReadElsewhereBody = parse_json(&body)?;
    let user = app.user_named(&b.username).await?;
    let n = app.read_elsewhere(user.id, b.ids).await?;
    Ok(Json(json!({ "updated_count": n })))
}

async fn reset_database(State(app): State<Arc<App>>) -> Answer {
    app.reset_database().await?;
    Ok(Json(json!({ "reset": true })))
}

async fn stats(State(app): State<Arc<App>>) -> Answer {
    serde_json::to_value(app.stats())
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}
