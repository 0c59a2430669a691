//! `GET /ws/notifications/?token=JWT`: the handshake checks (forced
//! rejection, origin, token) and the per-socket task that speaks the
//! documented or the legacy consumer's dialect.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::app::{App, Counters};
use crate::db::{self, User};
use crate::hub::Outbound;
use crate::{wire, Variant};

/// Largest client message/frame accepted (the server must take big junk frames).
const MAX_MESSAGE: usize = 64 << 20;
/// Frames written before one flush when a backlog is drained.
const BATCH: usize = 512;
/// How long to wait for the client's answer to our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

fn reject(app: &App, status: StatusCode, body: &'static str) -> Response {
    Counters::bump(&app.counters.handshakes_rejected);
    (status, body).into_response()
}

fn origin_ok(app: &App, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let port = app.addr.port();
    let scheme = app.scheme();
    let own = [
        format!("{scheme}://127.0.0.1:{port}"),
        format!("{scheme}://localhost:{port}"),
        format!("{scheme}://[::1]:{port}"),
    ];
    own.iter().any(|o| o.eq_ignore_ascii_case(origin))
}

/// The handshake. Never logs the query (it carries the token).
pub async fn handshake(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    Counters::bump(&app.counters.handshakes_total);
    if let Some(status) = app.knobs.reject_handshakes() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return reject(&app, status, "handshake rejected (control)");
    }
    if app.require_origin && !origin_ok(&app, &headers) {
        return reject(&app, StatusCode::FORBIDDEN, "Forbidden");
    }
    let token = query
        .ok()
        .and_then(|Query(q)| q.get("token").cloned())
        .unwrap_or_default();
    let user = match app.authenticate(&token).await {
        Ok(u) => u,
        Err(_) => return reject(&app, StatusCode::FORBIDDEN, "Forbidden"),
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            Counters::bump(&app.counters.handshakes_rejected);
            return rejection.into_response();
        }
    };
    tracing::debug!(user = %user.username, "websocket accepted");
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(app, user, socket))
}

async fn run(app: Arc<App>, user: User, socket: WebSocket) {
    let mut shutdown = app.shutdown_signal();
    let (registration, rx) = app.hub.register(user.id);
    tokio::select! {
        // Dropping the session future drops the socket: the client sees the
        // connection go away without a close frame.
        _ = shutdown.wait_for(|down| *down) => {}
        () = session(&app, &user, socket, rx) => {}
    }
    drop(registration);
    tracing::debug!(user = %user.username, "websocket gone");
}

async fn session(
    app: &App,
    user: &User,
    mut socket: WebSocket,
    mut rx: UnboundedReceiver<Outbound>,
) {
    let mut stall = app.knobs.stalled();
    let mut greeted = app.variant == Variant::Legacy;
    loop {
        if *stall.borrow_and_update() {
            // Stalled: neither read nor write; queued frames are dropped,
            // only a control close still goes through.
            tokio::select! {
                changed = stall.changed() => if changed.is_err() { return },
                out = rx.recv() => match out {
                    None => return,
                    Some(Outbound::Close(code, reason)) => {
                        close(&mut socket, code, reason).await;
                        return;
                    }
                    Some(Outbound::Text(_)) => {}
                },
            }
            continue;
        }
        if !greeted {
            greeted = true;
            if greet(app, user, &mut socket).await.is_break() {
                return;
            }
        }
        let flow = tokio::select! {
            changed = stall.changed() => if changed.is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) },
            out = rx.recv() => match out {
                None => ControlFlow::Break(()),
                Some(first) => deliver(&mut socket, first, &mut rx).await,
            },
            msg = socket.recv() => match msg {
                None | Some(Err(_)) => ControlFlow::Break(()),
                Some(Ok(msg)) => on_client_message(app, user, &mut socket, msg).await,
            },
        };
        if flow.is_break() {
            return;
        }
    }
}

async fn greet(app: &App, user: &User, socket: &mut WebSocket) -> ControlFlow<()> {
    let uid = user.id;
    let unread = match app.db.call(move |c| db::unread_count(c, uid)).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "unread count failed");
            0
        }
    };
    send_texts(
        socket,
        [
            wire::connection_established(user.id, &user.username),
            wire::unread_count(unread),
        ],
    )
    .await
}

async fn send_texts<I: IntoIterator<Item = String>>(
    socket: &mut WebSocket,
    texts: I,
) -> ControlFlow<()> {
    for t in texts {
        if socket.feed(Message::Text(t.into())).await.is_err() {
            return ControlFlow::Break(());
        }
    }
    if socket.flush().await.is_err() {
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// Writes `first` and whatever else is already queued (up to a batch), then flushes.
async fn deliver(
    socket: &mut WebSocket,
    first: Outbound,
    rx: &mut UnboundedReceiver<Outbound>,
) -> ControlFlow<()> {
    let mut next = Some(first);
    let mut written = 0usize;
    while let Some(out) = next.take() {
        match out {
            Outbound::Text(text) => {
                if socket.feed(Message::Text(text)).await.is_err() {
                    return ControlFlow::Break(());
                }
                written += 1;
            }
            Outbound::Close(code, reason) => {
                // Flush what came before, then close.
                let _ = socket.flush().await;
                close(socket, code, reason).await;
                return ControlFlow::Break(());
            }
        }
        if written < BATCH {
            next = rx.try_recv().ok();
        }
    }
    if socket.flush().await.is_err() {
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// Sends a close frame, waits briefly for the client's answer, and returns
/// (the caller then drops the socket).
async fn close(socket: &mut WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn on_client_message(
    app: &App,
    user: &User,
    socket: &mut WebSocket,
    msg: Message,
) -> ControlFlow<()> {
    match msg {
        Message::Text(text) => {
            Counters::bump(&app.counters.ws_client_frames);
            match app.variant {
                // The old consumer ignores every client frame.
                Variant::Legacy => ControlFlow::Continue(()),
                Variant::Documented => {
                    let replies = answer(app, user, &text).await;
                    send_texts(socket, replies).await
                }
            }
        }
        Message::Binary(_) => {
            Counters::bump(&app.counters.ws_client_frames);
            ControlFlow::Continue(())
        }
        // Protocol pings are answered by the WebSocket layer on the next read.
        Message::Ping(_) | Message::Pong(_) => ControlFlow::Continue(()),
        // The close reply is sent by the WebSocket layer; the stream then ends.
        Message::Close(_) => ControlFlow::Continue(()),
    }
}

/// The documented consumer's answers to one client text frame.
async fn answer(app: &App, user: &User, text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return vec![wire::error("Invalid JSON format")];
    };
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return vec![wire::error("Message type is required")];
    };
    let uid = user.id;
    let result = match kind {
        "ping" => return vec![wire::pong()],
        "get_unread_count" => app
            .db
            .call(move |c| db::unread_count(c, uid))
            .await
            .map(|n| vec![wire::unread_count(n)]),
        "mark_read" => {
            let id = match value.get("notification_id").unwrap_or(&Value::Null) {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let Some(id) = id else {
                return vec![wire::error("notification_id is required")];
            };
            app.db
                .call(move |c| {
                    let ok = db::set_read(c, uid, id, true)?;
                    Ok((ok, db::unread_count(c, uid)?))
                })
                .await
                .map(|(ok, n)| vec![wire::mark_read_response(id, ok), wire::unread_count(n)])
        }
        "mark_all_read" => app
            .db
            .call(move |c| {
                let marked = db::mark_all_read(c, uid)?;
                Ok((marked, db::unread_count(c, uid)?))
            })
            .await
            .map(|(marked, n)| vec![wire::mark_all_read_response(marked), wire::unread_count(n)]),
        other => return vec![wire::error(&format!("Unknown message type: {other}"))],
    };
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "websocket request failed");
        vec![wire::error("Internal server error")]
    })
}
