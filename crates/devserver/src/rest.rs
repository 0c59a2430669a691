//! The REST API of PROTOCOL.md section 3, as DRF + simplejwt answer it:
//! token and refresh, notifications (list, detail, read flag, mark all,
//! stats), messages, booking decisions and the profile.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::app::{App, Counters};
use crate::db::{self, NotificationFilter, User};
use crate::error::{parse_json, ApiError};
use crate::wire;

/// Page size of every list.
pub const PAGE_SIZE: i64 = 20;

type Query2 = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The `/api/` routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/token/", post(token))
        .route("/api/token/refresh/", post(refresh))
        .route("/api/interactions/notifications/", get(list_notifications))
        .route(
            "/api/interactions/notifications/mark-all-read/",
            post(mark_all_read),
        )
        .route("/api/interactions/notifications/stats/", get(stats))
        .route(
            "/api/interactions/notifications/{id}/",
            get(get_notification).patch(patch_notification),
        )
        .route(
            "/api/interactions/messages/",
            get(list_messages).post(post_message),
        )
        .route(
            "/api/interactions/bookings/{id}/approve/",
            patch(approve_booking),
        )
        .route("/api/users/profile/", get(profile))
}

/// The user behind `Authorization: Bearer ...`, or the simplejwt 401.
async fn authed(app: &App, headers: &HeaderMap) -> Result<User, ApiError> {
    Counters::bump(&app.counters.rest_requests);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::token_not_valid(
            "Authentication credentials were not provided.",
        ));
    };
    app.authenticate(token)
        .await
        .map_err(|_| ApiError::token_not_valid("Given token not valid for any token type"))
}

fn id_from_path(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found("Not found."))
}

fn required_string(body: &Value, field: &str, errors: &mut Map<String, Value>) -> String {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            errors.insert(field.into(), json!(["This field may not be blank."]));
            String::new()
        }
        Some(Value::Null) | None => {
            errors.insert(field.into(), json!(["This field is required."]));
            String::new()
        }
        Some(_) => {
            errors.insert(field.into(), json!(["Not a valid string."]));
            String::new()
        }
    }
}

fn field_errors(errors: Map<String, Value>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::body(
            StatusCode::BAD_REQUEST,
            Value::Object(errors),
        ))
    }
}

async fn token(State(app): State<Arc<App>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    Counters::bump(&app.counters.token_requests);
    let body: Value = parse_json(&body)?;
    let mut errors = Map::new();
    let username = required_string(&body, "username", &mut errors);
    let password = required_string(&body, "password", &mut errors);
    field_errors(errors)?;
    match app.login(&username, &password).await? {
        Some(pair) => Ok(Json(
            json!({ "access": pair.access, "refresh": pair.refresh }),
        )),
        None => Err(ApiError::detail(
            StatusCode::UNAUTHORIZED,
            "No active account found with the given credentials",
        )),
    }
}

fn forced_failure(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::UNAUTHORIZED {
        return ApiError::token_not_valid("Token is invalid or expired").into_response();
    }
    if status.is_server_error() {
        return (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!("<h1>Server Error ({})</h1>", status.as_u16()),
        )
            .into_response();
    }
    ApiError::detail(status, "Request failed.").into_response()
}

async fn refresh(State(app): State<Arc<App>>, body: Bytes) -> Response {
    Counters::bump(&app.counters.refresh_requests);
    if let Some(status) = app.knobs.fail_refresh() {
        return forced_failure(status);
    }
    let body: Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut errors = Map::new();
    let refresh = required_string(&body, "refresh", &mut errors);
    if let Err(e) = field_errors(errors) {
        return e.into_response();
    }
    match app.refresh(&refresh).await {
        Ok(access) => Json(json!({ "access": access })).into_response(),
        Err(_) => ApiError::token_not_valid("Token is invalid or expired").into_response(),
    }
}

/// Django's `QueryDict.get`: the last value of a key.
fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn query_pairs(query: Query2) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))
}

/// DRF's PageNumberPagination: (page, number of pages) or 404 "Invalid page.".
fn page_of(pairs: &[(String, String)], count: i64) -> Result<(i64, i64), ApiError> {
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = match query_get(pairs, "page") {
        None => 1,
        Some("last") => pages,
        Some(raw) => raw
            .parse::<i64>()
            .map_err(|_| ApiError::not_found("Invalid page."))?,
    };
    if page < 1 || page > pages {
        return Err(ApiError::not_found("Invalid page."));
    }
    Ok((page, pages))
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An absolute URL of `path` with the query, `page` replaced (or removed when `None`).
fn page_url(
    app: &App,
    headers: &HeaderMap,
    path: &str,
    pairs: &[(String, String)],
    page: Option<i64>,
) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| app.addr.to_string(), str::to_owned);
    let mut params: Vec<(String, String)> =
        pairs.iter().filter(|(k, _)| k != "page").cloned().collect();
    if let Some(p) = page {
        params.push(("page".into(), p.to_string()));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&");
    let scheme = app.scheme();
    if query.is_empty() {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}{path}?{query}")
    }
}

struct PageLinks<'a> {
    app: &'a App,
    headers: &'a HeaderMap,
    path: &'a str,
    pairs: &'a [(String, String)],
}

impl PageLinks<'_> {
    fn body(&self, count: i64, page: i64, pages: i64, results: Vec<Value>) -> Value {
        let next = (page < pages).then(|| {
            page_url(
                self.app,
                self.headers,
                self.path,
                self.pairs,
                Some(page + 1),
            )
        });
        let previous = (page > 1).then(|| {
            let target = (page > 2).then_some(page - 1);
            page_url(self.app, self.headers, self.path, self.pairs, target)
        });
        json!({ "count": count, "next": next, "previous": previous, "results": results })
    }
}

fn parse_filter(pairs: &[(String, String)]) -> Result<NotificationFilter, ApiError> {
    let is_read = match query_get(pairs, "is_read") {
        None | Some("") => None,
        Some("true" | "True" | "1") => Some(true),
        Some("false" | "False" | "0") => Some(false),
        Some(_) => return Err(ApiError::field("is_read", "Select a valid choice.")),
    };
    let notification_type = query_get(pairs, "notification_type")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(NotificationFilter {
        is_read,
        notification_type,
    })
}

async fn list_notifications(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Query2,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let pairs = query_pairs(query)?;
    let filter = parse_filter(&pairs)?;
    let uid = user.id;
    let f = filter.clone();
    let count = app
        .db
        .call(move |c| db::count_notifications(c, uid, &f))
        .await?;
    let (page, pages) = page_of(&pairs, count)?;
    let rows = app
        .db
        .call(move |c| db::list_notifications(c, uid, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        .await?;
    let links = PageLinks {
        app: &app,
        headers: &headers,
        path: "/api/interactions/notifications/",
        pairs: &pairs,
    };
    let results = rows.iter().map(wire::notification_list_item).collect();
    Ok(Json(links.body(count, page, pages, results)))
}

async fn get_notification(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let id = id_from_path(&raw_id)?;
    let uid = user.id;
    let n = app
        .db
        .call(move |c| db::get_notification(c, uid, id))
        .await?;
    notification_detail(n)
}

/// A notification's detail answer, or 404 when there is none.
fn notification_detail(n: Option<db::Notification>) -> Result<Json<Value>, ApiError> {
    let n = n.ok_or_else(|| ApiError::not_found("No Notification matches the given query."))?;
    wire::notification_detail(&n)
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

#[derive(Deserialize)]
struct PatchNotification {
    is_read: Option<bool>,
}

async fn patch_notification(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let id = id_from_path(&raw_id)?;
    let patch: PatchNotification = parse_json(&body)?;
    let uid = user.id;
    let n = app
        .db
        .call(move |c| {
            if let Some(read) = patch.is_read {
                db::set_read(c, uid, id, read)?;
            }
            db::get_notification(c, uid, id)
        })
        .await?;
    notification_detail(n)
}

async fn mark_all_read(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let uid = user.id;
    let n = app.db.call(move |c| db::mark_all_read(c, uid)).await?;
    Ok(Json(json!({
        "message": format!("Marked {n} notifications as read"),
        "updated_count": n,
    })))
}

async fn stats(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let uid = user.id;
    let s = app.db.call(move |c| db::notification_stats(c, uid)).await?;
    let by_type: Map<String, Value> = s.by_type.into_iter().map(|(t, n)| (t, json!(n))).collect();
    Ok(Json(
        json!({ "total": s.total, "unread": s.unread, "by_type": by_type }),
    ))
}

async fn list_messages(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Query2,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    let pairs = query_pairs(query)?;
    let uid = user.id;
    let count = app.db.call(move |c| db::count_messages(c, uid)).await?;
    let (page, pages) = page_of(&pairs, count)?;
    let rows = app
        .db
        .call(move |c| db::list_messages(c, uid, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        .await?;
    let links = PageLinks {
        app: &app,
        headers: &headers,
        path: "/api/interactions/messages/",
        pairs: &pairs,
    };
    let results = rows.iter().map(wire::message_json).collect();
    Ok(Json(links.body(count, page, pages, results)))
}

fn id_field(body: &Value, field: &str, required: bool) -> Result<Option<i64>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) if required => {
            Err(ApiError::field(field, "This field is required."))
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "Incorrect type. Expected pk value.")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::field(field, "Incorrect type. Expected pk value.")),
        Some(_) => Err(ApiError::field(field, "Incorrect type. Expected pk value.")),
    }
}

async fn post_message(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let user = authed(&app, &headers).await?;
    let body: Value = parse_json(&body)?;
    let receiver = id_field(&body, "receiver", true)?.unwrap_or_default();
    let property = id_field(&body, "property", false)?;
    let mut errors = Map::new();
    let content = required_string(&body, "content", &mut errors);
    field_errors(errors)?;
    let message = app.send_message(user, receiver, content, property).await?;
    if app.knobs.take_message_post_failure() {
        // Saved and delivered, but the client is told it failed.
        return Ok(forced_failure(500));
    }
    Ok((StatusCode::CREATED, Json(wire::message_json(&message))).into_response())
}

async fn approve_booking(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    // A slow deployment (the knob): the decision waits, then happens.
    tokio::time::sleep(app.knobs.slow_bookings()).await;
    let id = id_from_path(&raw_id)?;
    let body: Value = parse_json(&body)?;
    let status = match body.get("status") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::field("status", "This field is required."))
        }
        Some(other) => other.to_string(),
    };
    let (booking, title) = app.decide_booking(user, id, status).await?;
    Ok(Json(wire::booking_json(&booking, &title)))
}

async fn profile(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let user = authed(&app, &headers).await?;
    Ok(Json(json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
    })))
}
