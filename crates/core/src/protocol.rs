//! The wire: every WebSocket frame (both directions) and REST body of the
//! SmartHunt backend. Decoding is tolerant and never panics; this module does
//! no I/O and knows nothing of sockets, storage or popups.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest text frame we accept; a larger one closes the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// What we keep of a server's text, in characters; more is cut on arrival
/// and ends in [`CUT_MARK`], so nothing stored, shown or sent over IPC
/// grows with what a server chooses to send.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 4_000;
pub const MAX_CHAT_CHARS: usize = 10_000;
/// Names, statuses and other short fields.
pub const MAX_SHORT_CHARS: usize = 200;
/// A notification's `data`, as JSON; a larger one keeps its short scalar
/// fields (ids, names) and gains `"truncated": true`.
pub const MAX_DATA_BYTES: usize = 8 * 1024;
/// The most fields a cut `data` keeps.
const MAX_DATA_FIELDS: usize = 32;
/// Ends text that was cut.
pub const CUT_MARK: char = '…';

/// The kind of a notification, as `notification_type` on the wire.
/// Anything unknown is `General`, as the protocol asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Booking,
    Message,
    Maintenance,
    Property,
    Review,
    General,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 6] = [
        Self::Booking,
        Self::Message,
        Self::Maintenance,
        Self::Property,
        Self::Review,
        Self::General,
    ];

    /// Parses a wire value; unknown values are `General`.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "booking" => Self::Booking,
            "message" => Self::Message,
            "maintenance" => Self::Maintenance,
            "property" => Self::Property,
            "review" => Self::Review,
            _ => Self::General,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booking => "booking",
            Self::Message => "message",
            Self::Maintenance => "maintenance",
            Self::Property => "property",
            Self::Review => "review",
            Self::General => "general",
        }
    }
}

/// A notification as received, from a frame or from the REST list/detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingNotification {
    /// Server id; deployed servers may omit it.
    pub id: Option<i64>,
    pub title: String,
    pub body: String,
    pub kind: NotificationKind,
    /// Context ids (booking_id, sender_name, ...); empty when unknown.
    pub data: Map<String, Value>,
    /// Server time; `None` when missing or junk.
    pub created_at: Option<DateTime<Utc>>,
    /// Read state when the source knows it (REST), `None` for live frames.
    pub is_read: Option<bool>,
}

impl IncomingNotification {
    /// What it is about, typed.
    pub fn context(&self) -> NotificationContext {
        NotificationContext::of(&self.data)
    }
}

/// What a notification is about, read from its `data` in one place (the
/// keys PROTOCOL.md documents, plus the names some servers add), each
/// typed: ids from numbers or digit strings, text trimmed and non-empty.
/// The core's rules and the window read this, never `data`'s keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NotificationContext {
    pub booking_id: Option<i64>,
    pub maintenance_id: Option<i64>,
    pub message_id: Option<i64>,
    pub review_id: Option<i64>,
    pub property_id: Option<i64>,
    pub property_title: Option<String>,
    /// A booking's or maintenance request's status, as the server says it.
    pub status: Option<String>,
    /// Calendar dates (`YYYY-MM-DD`), as the server says them.
    pub check_in_date: Option<String>,
    pub check_out_date: Option<String>,
    pub sender_id: Option<i64>,
    pub sender_name: Option<String>,
    pub tenant_id: Option<i64>,
    pub tenant_name: Option<String>,
    pub landlord_id: Option<i64>,
    pub landlord_name: Option<String>,
    /// Stars, 0 to 5; anything else is left out.
    pub rating: Option<u8>,
    pub content_preview: Option<String>,
}

impl NotificationContext {
    pub fn of(data: &Map<String, Value>) -> Self {
        let id = |key| id_field(data, key);
        let text = |key: &str| {
            data.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self {
            booking_id: id("booking_id"),
            maintenance_id: id("maintenance_id"),
            message_id: id("message_id"),
            review_id: id("review_id"),
            property_id: id("property_id"),
            property_title: text("property_title"),
            status: text("status"),
            check_in_date: text("check_in_date"),
            check_out_date: text("check_out_date"),
            sender_id: id("sender_id"),
            sender_name: text("sender_name"),
            tenant_id: id("tenant_id"),
            tenant_name: text("tenant_name"),
            landlord_id: id("landlord_id"),
            landlord_name: text("landlord_name"),
            rating: id("rating")
                .and_then(|r| u8::try_from(r).ok())
                .filter(|r| *r <= 5),
            content_preview: text("content_preview"),
        }
    }

    /// True when the status says the booking or request still waits.
    pub fn is_pending(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("pending"))
    }
}

/// A chat message between two users, from a frame or from REST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: Option<i64>,
    pub sender_id: i64,
    pub recipient_id: i64,
    /// Only frames carry names; REST gives ids only.
    pub sender_name: Option<String>,
    pub content: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub property_id: Option<i64>,
    pub is_read: Option<bool>,
}

/// A booking's live status change (`booking_update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookingUpdate {
    pub booking_id: Option<i64>,
    pub action: String,
    pub status: String,
    pub property_id: Option<i64>,
    pub property_title: Option<String>,
    pub tenant_id: Option<i64>,
    pub landlord_id: Option<i64>,
    /// When the server says it happened.
    pub at: Option<DateTime<Utc>>,
}

/// A decoded server -> client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    ConnectionEstablished {
        user_id: Option<i64>,
        username: Option<String>,
    },
    /// `notification` (documented) or `notify` (legacy consumer).
    Notification {
        notification: IncomingNotification,
        legacy: bool,
    },
    ChatMessage(ChatMessage),
    BookingUpdate(BookingUpdate),
    UnreadCount(u64),
    Pong,
    MarkReadResponse {
        notification_id: Option<i64>,
        success: bool,
    },
    MarkAllReadResponse {
        marked_count: u64,
    },
    Error {
        message: String,
    },
}

impl ServerFrame {
    /// True for frames only the documented consumer sends.
    pub fn proves_documented_server(&self) -> bool {
        matches!(
            self,
            Self::ConnectionEstablished { .. }
                | Self::UnreadCount(_)
                | Self::Pong
                | Self::MarkReadResponse { .. }
                | Self::MarkAllReadResponse { .. }
                | Self::Notification { legacy: false, .. }
        )
    }
}

/// Why a frame was skipped. Carries no frame content (it may hold secrets or
/// be huge); only what a log line needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not a JSON object")]
    NotAnObject,
    #[error("frame has no string `type`")]
    MissingType,
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    #[error("`{frame}` frame lacks the field `{field}`")]
    MissingField {
        frame: &'static str,
        field: &'static str,
    },
}

/// Decodes one text frame. Unknown types and missing required fields are an
/// error to log and skip; odd optional fields are defaulted.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|_| DecodeError::NotAnObject)?;
    let Value::Object(obj) = value else {
        return Err(DecodeError::NotAnObject);
    };
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or(DecodeError::MissingType)?;
    let frame = match ty {
        "connection_established" => ServerFrame::ConnectionEstablished {
            user_id: id_field(&obj, "user_id"),
            username: string_field(&obj, "username"),
        },
        "notification" | "notify" => ServerFrame::Notification {
            notification: notification_from_object(&obj, "notification_id")?,
            legacy: ty == "notify",
        },
        "chat_message" => ServerFrame::ChatMessage(ChatMessage {
            id: id_field(&obj, "message_id"),
            sender_id: id_field(&obj, "sender_id").ok_or(DecodeError::MissingField {
                frame: "chat_message",
                field: "sender_id",
            })?,
            recipient_id: id_field(&obj, "recipient_id").ok_or(DecodeError::MissingField {
                frame: "chat_message",
                field: "recipient_id",
            })?,
            sender_name: string_field(&obj, "sender_name"),
            content: text_field(&obj, "content", MAX_CHAT_CHARS).unwrap_or_default(),
            sent_at: time_field(&obj, "timestamp"),
            property_id: id_field(&obj, "property_id"),
            is_read: None,
        }),
        "booking_update" => ServerFrame::BookingUpdate(BookingUpdate {
            booking_id: id_field(&obj, "booking_id"),
            action: string_field(&obj, "action").unwrap_or_default(),
            status: string_field(&obj, "status").unwrap_or_default(),
            property_id: id_field(&obj, "property_id"),
            property_title: string_field(&obj, "property_title"),
            tenant_id: id_field(&obj, "tenant_id"),
            landlord_id: id_field(&obj, "landlord_id"),
            at: time_field(&obj, "timestamp"),
        }),
        "unread_count" => ServerFrame::UnreadCount(count_field(&obj, "count").ok_or(
            DecodeError::MissingField {
                frame: "unread_count",
                field: "count",
            },
        )?),
        "pong" => ServerFrame::Pong,
        "mark_read_response" => ServerFrame::MarkReadResponse {
            notification_id: id_field(&obj, "notification_id"),
            success: obj.get("success").and_then(Value::as_bool).unwrap_or(false),
        },
        "mark_all_read_response" => ServerFrame::MarkAllReadResponse {
            marked_count: count_field(&obj, "marked_count").unwrap_or(0),
        },
        "error" => ServerFrame::Error {
            message: text_field(&obj, "message", MAX_BODY_CHARS).unwrap_or_default(),
        },
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    Ok(frame)
}

/// Builds a notification from a frame or a REST object. `id_key` is
/// `notification_id` for frames and `id` for REST.
fn notification_from_object(
    obj: &Map<String, Value>,
    id_key: &str,
) -> Result<IncomingNotification, DecodeError> {
    let title = text_field(obj, "title", MAX_TITLE_CHARS);
    let body = text_field(obj, "body", MAX_BODY_CHARS);
    if title.is_none() && body.is_none() {
        return Err(DecodeError::MissingField {
            frame: "notification",
            field: "title",
        });
    }
    let kind = obj
        .get("notification_type")
        .and_then(Value::as_str)
        .map(NotificationKind::from_wire)
        .unwrap_or(NotificationKind::General);
    let data = match obj.get("data") {
        Some(Value::Object(m)) => cap_data(m.clone()),
        _ => Map::new(),
    };
    let created_at = time_field(obj, "timestamp").or_else(|| time_field(obj, "created_at"));
    Ok(IncomingNotification {
        id: id_field(obj, id_key),
        title: title.unwrap_or_default(),
        body: body.unwrap_or_default(),
        kind,
        data,
        created_at,
        is_read: obj.get("is_read").and_then(Value::as_bool),
    })
}

/// An id given as an integer or a numeric string (JWT `user_id` is a string on
/// current servers). Anything else is `None`.
pub fn id_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn id_field(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    obj.get(key).and_then(id_value)
}

fn count_field(obj: &Map<String, Value>, key: &str) -> Option<u64> {
    obj.get(key)
        .and_then(id_value)
        .map(|n| u64::try_from(n).unwrap_or(0))
}

/// A text field, cut to `max` characters.
fn text_field(obj: &Map<String, Value>, key: &str, max: usize) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(cap_text(s.clone(), max)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    text_field(obj, key, MAX_SHORT_CHARS)
}

fn time_field(obj: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    obj.get(key).and_then(Value::as_str).and_then(parse_time)
}

/// Parses ISO-8601 with `Z` or an offset; junk is `None`.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            // Django may omit the offset on naive settings.
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// `s` cut to `max` characters, the last one [`CUT_MARK`] when it was cut.
pub fn cap_text(mut s: String, max: usize) -> String {
    if let Some((at, _)) = s.char_indices().nth(max) {
        let keep = s[..at]
            .char_indices()
            .nth(max.saturating_sub(1))
            .map_or(at, |(i, _)| i);
        s.truncate(keep);
        s.push(CUT_MARK);
    }
    s
}

/// A notification's `data`, bounded: kept whole when small, else its
/// scalar fields (strings cut short), ids and names first, for as long as
/// they fit, and a `truncated` flag.
fn cap_data(data: Map<String, Value>) -> Map<String, Value> {
    let size = serde_json::to_vec(&data).map_or(usize::MAX, |v| v.len());
    if size <= MAX_DATA_BYTES {
        return data;
    }
    let mut fields: Vec<(String, Value)> = data
        .into_iter()
        .filter(|(k, _)| k.len() <= 64)
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, Value::String(cap_text(s, MAX_SHORT_CHARS)))),
            Value::Number(_) | Value::Bool(_) | Value::Null => Some((k, v)),
            Value::Array(_) | Value::Object(_) => None,
        })
        .collect();
    let wanted = |k: &str| k == "id" || k.ends_with("_id") || k.ends_with("_name");
    // Stable: ids and names first, each group in its own order.
    fields.sort_by_key(|(k, _)| !wanted(k));
    let mut kept = Map::new();
    // Room for `"truncated":true` and the braces.
    let mut room = MAX_DATA_BYTES - 20;
    for (k, v) in fields.into_iter().take(MAX_DATA_FIELDS) {
        let cost = serde_json::to_vec(&v).map_or(usize::MAX, |b| b.len()) + k.len() + 4;
        if cost > room {
            continue;
        }
        room -= cost;
        kept.insert(k, v);
    }
    kept.insert("truncated".into(), Value::Bool(true));
    kept
}

/// Client -> server frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    MarkRead { notification_id: i64 },
    MarkAllRead,
    GetUnreadCount,
    Ping,
}

impl ClientFrame {
    pub fn to_json(&self) -> String {
        // Serialising a plain enum of integers cannot fail.
        serde_json::to_string(self).expect("client frames always serialise")
    }
}

// ---- REST bodies ----------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct TokenRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

#[derive(Debug, Serialize)]
pub struct RefreshRequest<'a> {
    pub refresh: &'a str,
}

/// `POST /api/token/` answer. Debug is redacted by the session's wrapper.
#[derive(Deserialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

#[derive(Deserialize)]
pub struct AccessToken {
    pub access: String,
}

/// A DRF page of results, decoded item by item so one odd item is skipped,
/// not the whole page.
#[derive(Debug, Clone, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub results: Vec<Value>,
}

/// A REST notification (list item or detail). Items without title and body
/// are skipped by the caller.
pub fn notification_from_rest(v: &Value) -> Option<IncomingNotification> {
    let obj = v.as_object()?;
    notification_from_object(obj, "id").ok()
}

/// A REST chat message: `{id, sender, receiver, content, timestamp, is_read}`.
pub fn chat_message_from_rest(v: &Value) -> Option<ChatMessage> {
    let obj = v.as_object()?;
    Some(ChatMessage {
        id: id_field(obj, "id"),
        sender_id: id_field(obj, "sender")?,
        recipient_id: id_field(obj, "receiver")?,
        sender_name: None,
        content: text_field(obj, "content", MAX_CHAT_CHARS).unwrap_or_default(),
        sent_at: time_field(obj, "timestamp"),
        property_id: id_field(obj, "property"),
        is_read: obj.get("is_read").and_then(Value::as_bool),
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub unread: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkReadBody {
    pub is_read: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SendMessageBody<'a> {
    pub receiver: i64,
    pub content: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct BookingDecisionBody<'a> {
    pub status: &'a str,
}

/// `GET /api/users/profile/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(deserialize_with = "de_id")]
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
}

impl Profile {
    /// The profile with its text cut like every other server text.
    pub fn capped(self) -> Self {
        Self {
            username: cap_text(self.username, MAX_SHORT_CHARS),
            email: cap_text(self.email, MAX_SHORT_CHARS),
            role: cap_text(self.role, MAX_SHORT_CHARS),
            ..self
        }
    }
}

fn de_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    id_value(&v).ok_or_else(|| serde::de::Error::custom("id is not an integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_of(v: Value) -> NotificationContext {
        NotificationContext::of(v.as_object().unwrap())
    }

    #[test]
    fn a_context_types_what_the_server_documents_and_leaves_out_junk() {
        let c = context_of(serde_json::json!({
            "booking_id": "7",
            "status": "  Pending ",
            "landlord_id": 1,
            "tenant_id": 12,
            "check_in_date": "2026-06-14",
            "sender_name": "   ",
            "property_title": {"html": "<b>"},
            "rating": 4,
            "unknown_key": "kept in data, not here",
        }));
        assert_eq!(c.booking_id, Some(7), "digit strings are ids");
        assert_eq!(c.status.as_deref(), Some("Pending"), "trimmed");
        assert!(c.is_pending(), "any case");
        assert_eq!((c.landlord_id, c.tenant_id), (Some(1), Some(12)));
        assert_eq!(c.check_in_date.as_deref(), Some("2026-06-14"));
        assert_eq!(c.sender_name, None, "blank text is no name");
        assert_eq!(c.property_title, None, "an object is not text");
        assert_eq!(c.rating, Some(4));
        for junk in [
            serde_json::json!(7),
            serde_json::json!(-1),
            serde_json::json!(4.5),
            serde_json::json!("many"),
        ] {
            assert_eq!(
                context_of(serde_json::json!({ "rating": junk })).rating,
                None,
                "{junk}"
            );
        }
        assert_eq!(
            context_of(serde_json::json!({})),
            NotificationContext::default()
        );
        assert!(!context_of(serde_json::json!({"status": "approved"})).is_pending());
    }

    #[test]
    fn decodes_documented_notification() {
        let f = decode_server_frame(
            r#"{"type":"notification","title":"New booking","body":"Tom wants to stay","notification_type":"booking","data":{"booking_id":7},"notification_id":42,"timestamp":"2026-01-02T03:04:05+00:00"}"#,
        )
        .unwrap();
        let ServerFrame::Notification {
            notification,
            legacy,
        } = f
        else {
            panic!("not a notification: {f:?}")
        };
        assert!(!legacy);
        assert_eq!(notification.id, Some(42));
        assert_eq!(notification.kind, NotificationKind::Booking);
        assert_eq!(notification.data["booking_id"], 7);
        assert!(notification.created_at.is_some());
    }

    #[test]
    fn legacy_notify_with_null_id_and_junk_timestamp_is_accepted() {
        let f = decode_server_frame(
            r#"{"type":"notify","title":"Hi","body":"b","notification_type":"weird","notification_id":null,"timestamp":"{\"timestamp\": \"now\"}"}"#,
        )
        .unwrap();
        let ServerFrame::Notification {
            notification,
            legacy,
        } = f
        else {
            panic!()
        };
        assert!(legacy);
        assert_eq!(notification.id, None);
        assert_eq!(notification.kind, NotificationKind::General);
        assert_eq!(notification.created_at, None);
    }

    #[test]
    fn ids_as_strings_are_accepted() {
        let f = decode_server_frame(
            r#"{"type":"connection_established","user_id":"2","username":"t"}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            ServerFrame::ConnectionEstablished {
                user_id: Some(2),
                username: Some("t".into())
            }
        );
    }

    #[test]
    fn unknown_and_malformed_frames_are_errors_not_panics() {
        assert!(matches!(
            decode_server_frame(r#"{"type":"maintenance_update"}"#),
            Err(DecodeError::UnknownType(_))
        ));
        assert_eq!(decode_server_frame("[1,2]"), Err(DecodeError::NotAnObject));
        assert_eq!(decode_server_frame("{"), Err(DecodeError::NotAnObject));
        assert_eq!(
            decode_server_frame(r#"{"type":5}"#),
            Err(DecodeError::MissingType)
        );
    }

    #[test]
    fn client_frames_encode_as_documented() {
        assert_eq!(
            ClientFrame::MarkRead { notification_id: 3 }.to_json(),
            r#"{"type":"mark_read","notification_id":3}"#
        );
        assert_eq!(
            ClientFrame::MarkAllRead.to_json(),
            r#"{"type":"mark_all_read"}"#
        );
        assert_eq!(
            ClientFrame::GetUnreadCount.to_json(),
            r#"{"type":"get_unread_count"}"#
        );
        assert_eq!(ClientFrame::Ping.to_json(), r#"{"type":"ping"}"#);
    }

    #[test]
    fn oversized_text_and_data_are_cut_on_arrival_and_marked() {
        let huge = "é".repeat(1 << 20);
        let mut data = serde_json::json!({"booking_id": 7, "sender_name": "Tom"});
        data["blob"] = Value::String(huge.clone());
        data["list"] = serde_json::json!([1, 2, 3]);
        let frame = serde_json::json!({
            "type": "notification", "title": huge, "body": huge,
            "notification_type": "booking", "data": data, "notification_id": 1,
        });
        let ServerFrame::Notification {
            notification: n, ..
        } = decode_server_frame(&frame.to_string()).unwrap()
        else {
            panic!("not a notification")
        };
        assert_eq!(n.title.chars().count(), MAX_TITLE_CHARS);
        assert!(n.title.ends_with(CUT_MARK));
        assert_eq!(n.body.chars().count(), MAX_BODY_CHARS);
        assert_eq!(n.data["booking_id"], 7);
        assert_eq!(n.data["sender_name"], "Tom");
        assert_eq!(n.data["truncated"], true);
        assert!(n.data.get("list").is_none());
        assert!(serde_json::to_vec(&n.data).unwrap().len() <= MAX_DATA_BYTES);
        // Many fields of escaped text: still within the cap, ids kept.
        let mut many = serde_json::Map::new();
        for i in 0..40 {
            many.insert(format!("a{i:02}"), Value::String("\u{1}".repeat(300)));
        }
        many.insert("sender_id".into(), Value::from(9));
        let capped = cap_data(many);
        assert!(serde_json::to_vec(&capped).unwrap().len() <= MAX_DATA_BYTES);
        assert_eq!(capped["sender_id"], 9);
        assert_eq!(capped["truncated"], true);

        let chat = serde_json::json!({
            "type": "chat_message", "sender_id": 1, "recipient_id": 2,
            "sender_name": huge, "content": huge,
        });
        let ServerFrame::ChatMessage(m) = decode_server_frame(&chat.to_string()).unwrap() else {
            panic!("not a chat message")
        };
        assert_eq!(m.content.chars().count(), MAX_CHAT_CHARS);
        assert_eq!(m.sender_name.unwrap().chars().count(), MAX_SHORT_CHARS);
        // Short text is kept as it is.
        assert_eq!(cap_text("abc".into(), 3), "abc");
        assert_eq!(cap_text("abcd".into(), 3), "ab…");
    }

    #[test]
    fn timestamps_with_z_and_offset_parse() {
        assert!(parse_time("2026-01-02T03:04:05Z").is_some());
        assert!(parse_time("2026-01-02T03:04:05.123456+00:00").is_some());
        assert!(parse_time("now").is_none());
    }

    proptest::proptest! {
        #[test]
        fn decoder_never_panics_on_arbitrary_text(s in ".{0,400}") {
            let _ = decode_server_frame(&s);
        }

        #[test]
        fn decoder_never_panics_on_arbitrary_objects(
            ty in proptest::sample::select(vec!["notification","notify","chat_message","booking_update","unread_count","pong","mark_read_response","mark_all_read_response","error","connection_established","x"]),
            a in proptest::option::of(-5i64..5),
            b in "[a-z0-9\"{} ]{0,20}",
            c in proptest::bool::ANY,
        ) {
            let frames = [
                serde_json::json!({"type": ty, "notification_id": a, "title": b, "count": a, "sender_id": b, "recipient_id": a, "data": c, "timestamp": b}),
                serde_json::json!({"type": ty, "title": c, "body": a, "count": b, "success": b, "data": [a]}),
            ];
            for f in frames { let _ = decode_server_frame(&f.to_string()); }
        }
    }
}
