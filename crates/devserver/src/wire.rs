//! The wire of PROTOCOL.md, spelled out here with literal JSON (deliberately
//! independent of `smarthunt-core`): WebSocket frames, REST objects and
//! timestamps.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::db::{Booking, Message, Notification};

/// Frame types the legacy consumer has no handler for: emitting one to a
/// legacy socket closes it with 1011.
pub const LEGACY_FATAL_TYPES: [&str; 3] = ["chat_message", "booking_update", "maintenance_update"];

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

fn datetime(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// ISO-8601 with `+00:00`, as Channels consumers write `timezone.now().isoformat()`.
pub fn iso_offset(us: i64) -> String {
    datetime(us).to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// ISO-8601 with `Z`, as DRF renders datetimes.
pub fn iso_z(us: i64) -> String {
    datetime(us).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `connection_established` (documented consumer only).
pub fn connection_established(user_id: i64, username: &str) -> String {
    json!({
        "type": "connection_established",
        "user_id": user_id,
        "username": username,
        "timestamp": iso_offset(now_us()),
    })
    .to_string()
}

/// `unread_count`.
pub fn unread_count(count: i64) -> String {
    #[derive(Serialize)]
    struct Frame {
        #[serde(rename = "type")]
        frame_type: &'static str,
        count: i64,
    }
    text(&Frame {
        frame_type: "unread_count",
        count,
    })
}

/// `pong` (the JSON message, not the protocol frame).
pub fn pong() -> String {
    json!({ "type": "pong", "timestamp": iso_offset(now_us()) }).to_string()
}

/// `mark_read_response`.
pub fn mark_read_response(notification_id: i64, success: bool) -> String {
    json!({ "type": "mark_read_response", "notification_id": notification_id, "success": success })
        .to_string()
}

/// `mark_all_read_response`.
pub fn mark_all_read_response(marked_count: i64) -> String {
    json!({ "type": "mark_all_read_response", "marked_count": marked_count }).to_string()
}

/// `error`.
pub fn error(message: &str) -> String {
    json!({ "type": "error", "message": message }).to_string()
}

/// A stored notification as a frame: `notification` (documented) or `notify` (legacy).
///
/// Written from borrowed fields rather than built as a `json!` tree (which
/// copies every string into a map first): a flood pushes 100,000 of these.
pub fn notification_frame(frame_type: &str, n: &Notification) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        frame_type: &'a str,
        title: &'a str,
        body: &'a str,
        notification_type: &'a str,
        data: &'a RawValue,
        notification_id: i64,
        timestamp: String,
    }
    text(&Frame {
        frame_type,
        title: &n.title,
        body: &n.body,
        notification_type: &n.notification_type,
        data: &n.data,
        notification_id: n.id,
        timestamp: iso_offset(n.created_us),
    })
}

/// `frame` as JSON text.
fn text(frame: &impl Serialize) -> String {
    // Frames hold strings, integers and `RawValue`s (JSON text, written
    // as it is): serde_json fails on none of them.
    serde_json::to_string(frame).expect("strings, integers and RawValues always serialise")
}

/// `chat_message` for a stored message.
pub fn chat_message(m: &Message, sender_name: &str) -> String {
    json!({
        "type": "chat_message",
        "message_id": m.id,
        "sender_id": m.sender_id,
        "sender_name": sender_name,
        "recipient_id": m.receiver_id,
        "content": m.content,
        "timestamp": iso_offset(m.created_us),
        "property_id": m.property_id,
    })
    .to_string()
}

/// `booking_update` for a booking after `action` (`created`, `approved`, `declined`).
pub fn booking_update(b: &Booking, action: &str, property_title: &str) -> String {
    json!({
        "type": "booking_update",
        "booking_id": b.id,
        "action": action,
        "status": b.status,
        "property_id": b.property_id,
        "property_title": property_title,
        "tenant_id": b.tenant_id,
        "landlord_id": b.landlord_id,
        "timestamp": iso_offset(now_us()),
    })
    .to_string()
}

/// `maintenance_update`: a type not in the documented table (clients must skip it).
pub fn maintenance_update(maintenance_id: i64, property_id: i64, status: &str) -> String {
    json!({
        "type": "maintenance_update",
        "maintenance_id": maintenance_id,
        "property_id": property_id,
        "status": status,
        "timestamp": iso_offset(now_us()),
    })
    .to_string()
}

/// REST notification, list shape (no `data`).
pub fn notification_list_item(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "title": n.title,
        "body": n.body,
        "notification_type": n.notification_type,
        "is_read": n.is_read,
        "created_at": iso_z(n.created_us),
    })
}

/// REST notification, detail shape (with `data`). Fails on stored data
/// that is JSON but no `Value` (a number out of range, nesting past 128
/// levels), which only a row written from outside the server can hold.
pub fn notification_detail(n: &Notification) -> Result<Value, serde_json::Error> {
    let mut v = notification_list_item(n);
    v["data"] = serde_json::from_str(n.data.get())?;
    Ok(v)
}

/// REST message.
pub fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "sender": m.sender_id,
        "receiver": m.receiver_id,
        "content": m.content,
        "timestamp": iso_z(m.created_us),
        "is_read": m.is_read,
    })
}

/// REST booking.
pub fn booking_json(b: &Booking, property_title: &str) -> Value {
    json!({
        "id": b.id,
        "property": b.property_id,
        "property_title": property_title,
        "tenant": b.tenant_id,
        "landlord": b.landlord_id,
        "status": b.status,
        "check_in_date": b.check_in_date,
        "check_out_date": b.check_out_date,
        "created_at": iso_z(b.created_us),
    })
}
