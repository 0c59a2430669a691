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
        let id = |key| data.get(key).and_then(id_value);
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
    let mut f: Fields = serde_json::from_str(text).map_err(|_| DecodeError::NotAnObject)?;
    let ty = match f.take(Field::Type) {
        Some(Value::String(ty)) => ty,
        _ => return Err(DecodeError::MissingType),
    };
    let frame = match ty.as_str() {
        "connection_established" => ServerFrame::ConnectionEstablished {
            user_id: f.id(Field::UserId),
            username: f.short_text(Field::Username),
        },
        "notification" | "notify" => ServerFrame::Notification {
            notification: notification_from_fields(&mut f, Field::NotificationId)?,
            legacy: ty == "notify",
        },
        "chat_message" => ServerFrame::ChatMessage(ChatMessage {
            id: f.id(Field::MessageId),
            sender_id: f.id(Field::SenderId).ok_or(DecodeError::MissingField {
                frame: "chat_message",
                field: "sender_id",
            })?,
            recipient_id: f.id(Field::RecipientId).ok_or(DecodeError::MissingField {
                frame: "chat_message",
                field: "recipient_id",
            })?,
            sender_name: f.short_text(Field::SenderName),
            content: f.text(Field::Content, MAX_CHAT_CHARS).unwrap_or_default(),
            sent_at: f.time(Field::Timestamp),
            property_id: f.id(Field::PropertyId),
            is_read: None,
        }),
        "booking_update" => ServerFrame::BookingUpdate(BookingUpdate {
            booking_id: f.id(Field::BookingId),
            action: f.short_text(Field::Action).unwrap_or_default(),
            status: f.short_text(Field::Status).unwrap_or_default(),
            property_id: f.id(Field::PropertyId),
            property_title: f.short_text(Field::PropertyTitle),
            tenant_id: f.id(Field::TenantId),
            landlord_id: f.id(Field::LandlordId),
            at: f.time(Field::Timestamp),
        }),
        "unread_count" => {
            ServerFrame::UnreadCount(f.count(Field::Count).ok_or(DecodeError::MissingField {
                frame: "unread_count",
                field: "count",
            })?)
        }
        "pong" => ServerFrame::Pong,
        "mark_read_response" => ServerFrame::MarkReadResponse {
            notification_id: f.id(Field::NotificationId),
            success: f.bool(Field::Success).unwrap_or(false),
        },
        "mark_all_read_response" => ServerFrame::MarkAllReadResponse {
            marked_count: f.count(Field::MarkedCount).unwrap_or(0),
        },
        "error" => ServerFrame::Error {
            message: f.text(Field::Message, MAX_BODY_CHARS).unwrap_or_default(),
        },
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    Ok(frame)
}

/// The fields any frame or REST object of ours may carry, by name on the
/// wire; anything else is `Other`, skipped unread (checked as JSON syntax
/// only: a number out of range or nesting past 128 levels there, which a
/// `Value` refuses, does not cost the frame).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Type,
    Id,
    UserId,
    Username,
    NotificationId,
    Title,
    Body,
    NotificationType,
    Data,
    Timestamp,
    CreatedAt,
    IsRead,
    MessageId,
    SenderId,
    RecipientId,
    Sender,
    Receiver,
    Property,
    SenderName,
    Content,
    PropertyId,
    BookingId,
    Action,
    Status,
    PropertyTitle,
    TenantId,
    LandlordId,
    Count,
    Success,
    MarkedCount,
    Message,
    #[serde(other)]
    Other,
}

/// A frame's or REST object's known fields, read straight from the text:
/// a flood decodes 200,000 frames, and a `Map` of every field (each key an
/// allocation, each value copied out again) was most of that work. A field
/// given twice keeps its last value, as a `Map` would.
struct Fields([Option<Value>; Field::Other as usize]);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Fields(std::array::from_fn(|_| None));
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        known => fields.0[known as usize] = Some(map.next_value()?),
                    }
                }
                Ok(fields)
            }
        }
        d.deserialize_map(Visit)
    }
}

impl Fields {
    fn get(&self, key: Field) -> Option<&Value> {
        self.0.get(key as usize)?.as_ref()
    }

    fn take(&mut self, key: Field) -> Option<Value> {
        self.0.get_mut(key as usize)?.take()
    }

    fn id(&self, key: Field) -> Option<i64> {
        self.get(key).and_then(id_value)
    }

    fn count(&self, key: Field) -> Option<u64> {
        self.id(key).map(|n| u64::try_from(n).unwrap_or(0))
    }

    fn bool(&self, key: Field) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// A text field, cut to `max` characters.
    fn text(&mut self, key: Field, max: usize) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(cap_text(s, max)),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn short_text(&mut self, key: Field) -> Option<String> {
        self.text(key, MAX_SHORT_CHARS)
    }

    fn time(&self, key: Field) -> Option<DateTime<Utc>> {
        self.get(key).and_then(Value::as_str).and_then(parse_time)
    }
}

/// Builds a notification from a frame's or a REST object's fields. `id_key`
/// is `notification_id` for frames and `id` for REST.
fn notification_from_fields(
    f: &mut Fields,
    id_key: Field,
) -> Result<IncomingNotification, DecodeError> {
    let title = f.text(Field::Title, MAX_TITLE_CHARS);
    let body = f.text(Field::Body, MAX_BODY_CHARS);
    if title.is_none() && body.is_none() {
        return Err(DecodeError::MissingField {
            frame: "notification",
            field: "title",
        });
    }
    let kind = f
        .get(Field::NotificationType)
        .and_then(Value::as_str)
        .map(NotificationKind::from_wire)
        .unwrap_or(NotificationKind::General);
    let data = match f.take(Field::Data) {
        Some(Value::Object(m)) => cap_data(m),
        _ => Map::new(),
    };
    Ok(IncomingNotification {
        id: f.id(id_key),
        title: title.unwrap_or_default(),
        body: body.unwrap_or_default(),
        kind,
        data,
        created_at: f
            .time(Field::Timestamp)
            .or_else(|| f.time(Field::CreatedAt)),
        is_read: f.bool(Field::IsRead),
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

/// The length of `value` as JSON, counted without building the text.
pub fn encoded_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_or(usize::MAX, |()| count.0)
}

/// A notification's `data`, bounded: kept whole when small, else its
/// scalar fields (strings cut short), ids and names first, for as long as
/// they fit, and a `truncated` flag.
fn cap_data(data: Map<String, Value>) -> Map<String, Value> {
    if encoded_len(&data) <= MAX_DATA_BYTES {
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
        let cost = encoded_len(&v) + k.len() + 4;
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
    notification_from_fields(&mut Fields::deserialize(v).ok()?, Field::Id).ok()
}

/// A REST chat message: `{id, sender, receiver, content, timestamp, is_read}`.
pub fn chat_message_from_rest(v: &Value) -> Option<ChatMessage> {
    let mut f = Fields::deserialize(v).ok()?;
    Some(ChatMessage {
        id: f.id(Field::Id),
        sender_id: f.id(Field::Sender)?,
        recipient_id: f.id(Field::Receiver)?,
        sender_name: None,
        content: f.text(Field::Content, MAX_CHAT_CHARS).unwrap_or_default(),
        sent_at: f.time(Field::Timestamp),
        property_id: f.id(Field::Property),
        is_read: f.bool(Field::IsRead),
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
    fn a_repeated_field_keeps_its_last_value_and_unknown_fields_of_any_shape_are_skipped() {
        // `t\u0069tle` is `title`, escaped.
        let f = decode_server_frame(
            r#"{"type":"notification","title":"first","extra":{"deep":[1,{"x":1e400}]},"t\u0069tle":"last","body":"b","notification_id":"9","odd\"key":[],"data":{"k":[1,2]}}"#,
        )
        .unwrap();
        let ServerFrame::Notification { notification, .. } = f else {
            panic!("not a notification: {f:?}")
        };
        assert_eq!(notification.title, "last");
        assert_eq!(notification.id, Some(9));
        assert_eq!(notification.data["k"], serde_json::json!([1, 2]));
        assert_eq!(
            decode_server_frame(r#"{"type":"unread_count","count":1,"type":"pong"}"#),
            Ok(ServerFrame::Pong)
        );
    }

    #[test]
    fn rest_objects_decode_by_their_own_field_names() {
        let n = notification_from_rest(&serde_json::json!({
            "id": "12", "notification_id": 99, "title": 5, "body": "b",
            "notification_type": "maintenance", "is_read": true,
            "created_at": "2026-01-02T03:04:05Z", "data": "not an object",
        }))
        .unwrap();
        assert_eq!(n.id, Some(12), "REST items are numbered by `id`");
        assert_eq!(n.title, "5", "a number is text");
        assert_eq!(n.kind, NotificationKind::Maintenance);
        assert_eq!(n.is_read, Some(true));
        assert!(n.created_at.is_some());
        assert!(n.data.is_empty());
        assert_eq!(notification_from_rest(&serde_json::json!([1])), None);
        assert_eq!(notification_from_rest(&serde_json::json!({"id": 1})), None);

        let m = chat_message_from_rest(&serde_json::json!({
            "id": 3, "sender": 1, "receiver": "2", "content": "hi",
            "timestamp": "2026-01-02T03:04:05Z", "is_read": false, "property": 4,
        }))
        .unwrap();
        assert_eq!((m.id, m.sender_id, m.recipient_id), (Some(3), 1, 2));
        assert_eq!(
            (m.content.as_str(), m.property_id, m.is_read),
            ("hi", Some(4), Some(false))
        );
        assert!(m.sent_at.is_some());
        assert_eq!(
            chat_message_from_rest(&serde_json::json!({"sender": 1})),
            None,
            "no receiver"
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
    fn encoded_len_counts_the_json_text() {
        let v = serde_json::json!({"a": [1, 2, "x\"y"], "é": null});
        assert_eq!(encoded_len(&v), serde_json::to_string(&v).unwrap().len());
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
