//! The shared server state and the domain operations (notify, message,
//! booking, maintenance, ...) used alike by REST, control and scenario code.
//! Every operation stores first and pushes while still holding the database
//! lock, so frames leave in id order and a client that sees a frame can
//! always find the row over REST.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use rand::Rng;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::auth::{Auth, AuthError, TokenPair, ACCESS, REFRESH};
use crate::db::{self, Booking, Db, Maintenance, Message, Notification, User};
use crate::error::{DbError, OpError};
use crate::hub::{Hub, Outbound};
use crate::{wire, Variant};

/// Upper bound of one `/control/flood`.
pub const MAX_FLOOD: u64 = 1_000_000;

/// A flood is stored and pushed this many at a time.
const FLOOD_CHUNK: u64 = 1_000;

/// Counters since start, as `GET /control/stats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// WebSockets open right now.
    pub connections_open: u64,
    /// WebSocket handshakes attempted on `/ws/notifications/`.
    pub handshakes_total: u64,
    /// Handshakes answered with anything but 101.
    pub handshakes_rejected: u64,
    /// `POST /api/token/` calls.
    pub token_requests: u64,
    /// `POST /api/token/refresh/` calls.
    pub refresh_requests: u64,
    /// Other requests under `/api/`.
    pub rest_requests: u64,
    /// Text and binary frames received from clients.
    pub ws_client_frames: u64,
}

/// Monotonic counters.
#[derive(Default)]
pub struct Counters {
    pub handshakes_total: AtomicU64,
    pub handshakes_rejected: AtomicU64,
    pub token_requests: AtomicU64,
    pub refresh_requests: AtomicU64,
    pub rest_requests: AtomicU64,
    pub ws_client_frames: AtomicU64,
}

impl Counters {
    /// Adds one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Fault-injection switches set through the control API.
pub struct Knobs {
    /// Forced handshake status; 0 = none.
    reject_handshakes: AtomicU16,
    /// Forced refresh status; 0 = none.
    fail_refresh: AtomicU16,
    /// Remaining message posts that answer 500 after saving.
    fail_message_posts: AtomicU64,
    /// Whether sockets are stalled.
    stalled: watch::Sender<bool>,
    /// How long a booking decision takes to answer, in ms; 0 = at once.
    slow_bookings_ms: AtomicU64,
}

fn status_or_none(v: u16) -> Option<u16> {
    (v != 0).then_some(v)
}

impl Knobs {
    fn new() -> Self {
        Self {
            reject_handshakes: AtomicU16::new(0),
            fail_refresh: AtomicU16::new(0),
            fail_message_posts: AtomicU64::new(0),
            stalled: watch::Sender::new(false),
            slow_bookings_ms: AtomicU64::new(0),
        }
    }

    /// The forced handshake status, if any.
    pub fn reject_handshakes(&self) -> Option<u16> {
        status_or_none(self.reject_handshakes.load(Ordering::SeqCst))
    }

    /// Sets or clears the forced handshake status.
    pub fn set_reject_handshakes(&self, status: Option<u16>) {
        self.reject_handshakes
            .store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// The forced refresh status, if any.
    pub fn fail_refresh(&self) -> Option<u16> {
        status_or_none(self.fail_refresh.load(Ordering::SeqCst))
    }

    /// Sets or clears the forced refresh status.
    pub fn set_fail_refresh(&self, status: Option<u16>) {
        self.fail_refresh
            .store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// Makes the next `count` message posts answer 500 after saving.
    pub fn set_fail_message_posts(&self, count: u64) {
        self.fail_message_posts.store(count, Ordering::SeqCst);
    }

    /// Consumes one pending message-post failure, if any.
    pub fn take_message_post_failure(&self) -> bool {
        self.fail_message_posts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// How long a booking decision takes before it is carried out.
    pub fn slow_bookings(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.slow_bookings_ms.load(Ordering::SeqCst))
    }

    /// Makes booking decisions take `ms` before they are carried out.
    pub fn set_slow_bookings(&self, ms: u64) {
        self.slow_bookings_ms.store(ms, Ordering::SeqCst);
    }

    /// Stalls or releases every socket.
    pub fn set_stalled(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// Watches the stall switch.
    pub fn stalled(&self) -> watch::Receiver<bool> {
        self.stalled.subscribe()
    }
}

/// Everything the handlers share.
pub struct App {
    pub variant: Variant,
    pub require_origin: bool,
    pub addr: SocketAddr,
    /// Served over TLS (https/wss).
    pub tls: bool,
    pub db: Db,
    pub hub: Hub,
    pub auth: Auth,
    pub counters: Counters,
    pub knobs: Knobs,
    /// What every `/control/` request must carry.
    pub control_token: String,
    shutdown: watch::Sender<bool>,
}

fn preview(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

/// Stores a notification and pushes it (inside a `Db::call`).
fn notify_in(
    c: &Connection,
    hub: &Hub,
    user_id: i64,
    title: &str,
    body: &str,
    notification_type: &str,
    data: &Value,
) -> Result<Notification, rusqlite::Error> {
    let n = db::insert_notification(
        c,
        user_id,
        title,
        body,
        notification_type,
        data,
        wire::now_us(),
    )?;
    let unread = db::unread_count(c, user_id)?;
    hub.push_notification(&n, unread);
    Ok(n)
}

fn booking_data(b: &Booking) -> Value {
    json!({
        "booking_id": b.id,
        "property_id": b.property_id,
        "tenant_id": b.tenant_id,
        "landlord_id": b.landlord_id,
        "status": b.status,
        "check_in_date": b.check_in_date,
        "check_out_date": b.check_out_date,
    })
}

fn maintenance_data(m: &Maintenance) -> Value {
    json!({ "maintenance_id": m.id, "property_id": m.property_id, "status": m.status })
}

fn property_or_err(
    c: &Connection,
    id: i64,
) -> Result<Result<db::Property, OpError>, rusqlite::Error> {
    Ok(db::property(c, id)?.ok_or(OpError::NotFound("Property")))
}

impl App {
    /// New state around an opened database.
    pub fn new(cfg: &crate::DevServerConfig, addr: SocketAddr, db: Db) -> Self {
        Self {
            variant: cfg.variant,
            require_origin: cfg.require_origin,
            addr,
            tls: cfg.tls.is_some(),
            db,
            hub: Hub::new(cfg.variant),
            auth: Auth::new(
                &cfg.jwt_secret,
                cfg.variant,
                cfg.access_ttl,
                cfg.refresh_ttl,
            ),
            counters: Counters::default(),
            knobs: Knobs::new(),
            control_token: cfg.control_token.clone().unwrap_or_else(|| {
                let bytes: [u8; 16] = rand::rng().random();
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }),
            shutdown: watch::Sender::new(false),
        }
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// Starts shutting down: sockets drop, the listener stops.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Watches the shutdown flag.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            connections_open: u64::try_from(self.hub.open_count()).unwrap_or(u64::MAX),
            handshakes_total: get(&c.handshakes_total),
            handshakes_rejected: get(&c.handshakes_rejected),
            token_requests: get(&c.token_requests),
            refresh_requests: get(&c.refresh_requests),
            rest_requests: get(&c.rest_requests),
            ws_client_frames: get(&c.ws_client_frames),
        }
    }

    /// The user with this name.
    pub async fn user_named(&self, username: &str) -> Result<User, OpError> {
        let name = username.to_owned();
        self.db
            .call(move |c| db::user_by_name(c, &name))
            .await?
            .ok_or_else(|| OpError::UnknownUser(username.to_owned()))
    }

    /// Checks credentials and issues a token pair.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<TokenPair>, OpError> {
        let (u, p) = (username.to_owned(), password.to_owned());
        let Some(user) = self
            .db
            .call(move |c| db::check_credentials(c, &u, &p))
            .await?
        else {
            return Ok(None);
        };
        self.auth
            .issue_pair(user.id)
            .map(Some)
            .map_err(|e| OpError::Invalid(e.to_string()))
    }

    /// A new access token for a valid refresh token.
    pub async fn refresh(&self, refresh: &str) -> Result<String, AuthError> {
        let user_id = self.auth.verify(refresh, REFRESH)?;
        let exists = self
            .db
            .call(move |c| db::user_by_id(c, user_id))
            .await
            .ok()
            .flatten()
            .is_some();
        if !exists {
            return Err(AuthError::Invalid);
        }
        self.auth.issue_access(user_id)
    }

    /// The user behind a valid, unrevoked access token.
    pub async fn authenticate(&self, access: &str) -> Result<User, AuthError> {
        let user_id = self.auth.verify(access, ACCESS)?;
        self.db
            .call(move |c| db::user_by_id(c, user_id))
            .await
            .ok()
            .flatten()
            .ok_or(AuthError::Invalid)
    }

    /// Stores and pushes one notification.
    pub async fn notify(
        &self,
        user_id: i64,
        title: String,
        body: String,
        notification_type: String,
        data: Value,
    ) -> Result<Notification, DbError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| notify_in(c, &hub, user_id, &title, &body, &notification_type, &data))
            .await
    }

    /// Stores `count` notifications a chunk at a time (one transaction and
    /// one statement each), pushing each chunk once it is stored. Returns
    /// the first and last id (None when `count` is 0).
    pub async fn flood(
        &self,
        user_id: i64,
        count: u64,
        notification_type: String,
    ) -> Result<Option<(i64, i64)>, OpError> {
        if count > MAX_FLOOD {
            return Err(OpError::Invalid(format!(
                "count must be at most {MAX_FLOOD}"
            )));
        }
        if count == 0 {
            return Ok(None);
        }
        let hub = self.hub.clone();
        let range = self
            .db
            .call(move |c| {
                // Stored and pushed a chunk at a time, as a server that
                // creates them one by one pushes each as it goes: clients
                // start on the first while the last are still being stored.
                let now = wire::now_us();
                let mut range: Option<(i64, i64)> = None;
                let mut from = 1;
                while from <= count {
                    let to = (from + FLOOD_CHUNK - 1).min(count);
                    let tx = c.transaction()?;
                    let rows =
                        db::insert_flood(&tx, user_id, from..=to, count, &notification_type, now)?;
                    let unread = db::unread_count(&tx, user_id)?;
                    tx.commit()?;
                    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
                    for (i, n) in (1i64..).zip(rows.iter()) {
                        hub.push_notification(n, unread - total + i);
                    }
                    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
                        range = Some((range.map_or(first.id, |r| r.0), last.id));
                    }
                    from = to + 1;
                }
                Ok(range)
            })
            .await?;
        Ok(range)
    }

    /// `sender` writes to `receiver_id`: stores the message, notifies the
    /// recipient, and pushes `chat_message` to both (legacy: 1011 rule).
    pub async fn send_message(
        &self,
        sender: User,
        receiver_id: i64,
        content: String,
        property_id: Option<i64>,
    ) -> Result<Message, OpError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let Some(receiver) = db::user_by_id(c, receiver_id)? else {
                    return Ok(Err(OpError::Field {
                        field: "receiver",
                        message: format!("Invalid pk \"{receiver_id}\" - object does not exist."),
                    }));
                };
                if let Some(pid) = property_id {
                    if db::property(c, pid)?.is_none() {
                        return Ok(Err(OpError::Field {
                            field: "property",
                            message: format!("Invalid pk \"{pid}\" - object does not exist."),
                        }));
                    }
                }
                let m = db::insert_message(
                    c,
                    sender.id,
                    receiver.id,
                    &content,
                    property_id,
                    wire::now_us(),
                )?;
                let short = preview(&content, 100);
                let data = json!({
                    "message_id": m.id,
                    "sender_id": sender.id,
                    "sender_name": sender.display_name,
                    "property_id": property_id,
                    "content_preview": short,
                });
                notify_in(
                    c,
                    &hub,
                    receiver.id,
                    &format!("New message from {}", sender.display_name),
                    &short,
                    "message",
                    &data,
                )?;
                let chat = wire::chat_message(&m, &sender.display_name);
                hub.push_event(sender.id, "chat_message", chat.clone());
                if receiver.id != sender.id {
                    hub.push_event(receiver.id, "chat_message", chat);
                }
                Ok(Ok(m))
            })
            .await?
    }

    /// `tenant` requests a booking (of `property_id`, or a random property):
    /// stores it pending, notifies the landlord, pushes `booking_update`
    /// (`action: "created"`) to both.
    pub async fn request_booking(
        &self,
        tenant: User,
        property_id: Option<i64>,
    ) -> Result<(Booking, Notification), OpError> {
        let hub = self.hub.clone();
        let (start_in, nights) = {
            let mut rng = rand::rng();
            (rng.random_range(3..60i64), rng.random_range(2..14i64))
        };
        self.db
            .call(move |c| {
                let property = match property_id {
                    Some(id) => match property_or_err(c, id)? {
                        Ok(p) => p,
                        Err(e) => return Ok(Err(e)),
                    },
                    None => {
                        let all = db::properties(c)?;
                        let pick = usize::try_from(start_in).unwrap_or(0) % all.len().max(1);
                        match all.into_iter().nth(pick) {
                            Some(p) => p,
                            None => return Ok(Err(OpError::NotFound("Property"))),
                        }
                    }
                };
                let today = chrono::Utc::now().date_naive();
                let check_in = today + chrono::Duration::days(start_in);
                let check_out = check_in + chrono::Duration::days(nights);
                let b = db::insert_booking(
                    c,
                    &property,
                    tenant.id,
                    &check_in.to_string(),
                    &check_out.to_string(),
                    wire::now_us(),
                )?;
                let n = notify_in(
                    c,
                    &hub,
                    b.landlord_id,
                    "New booking request",
                    &format!(
                        "{} requested to book {} from {} to {}.",
                        tenant.display_name, property.title, b.check_in_date, b.check_out_date
                    ),
                    "booking",
                    &booking_data(&b),
                )?;
                let frame = wire::booking_update(&b, "created", &property.title);
                hub.push_event(b.landlord_id, "booking_update", frame.clone());
                if b.tenant_id != b.landlord_id {
                    hub.push_event(b.tenant_id, "booking_update", frame);
                }
                Ok(Ok((b, n)))
            })
            .await?
    }

    /// The landlord approves or declines a pending booking; the tenant is
    /// notified and both get `booking_update`.
    pub async fn decide_booking(
        &self,
        actor: User,
        booking_id: i64,
        status: String,
    ) -> Result<(Booking, String), OpError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let Some(mut b) = db::booking(c, booking_id)? else {
                    return Ok(Err(OpError::NotFound("Booking")));
                };
                if b.landlord_id != actor.id {
                    return Ok(Err(OpError::Forbidden));
                }
                if status != "approved" && status != "declined" {
                    return Ok(Err(OpError::Field {
                        field: "status",
                        message: format!("\"{status}\" is not a valid choice."),
                    }));
                }
                if b.status != "pending" {
                    return Ok(Err(OpError::Invalid(format!(
                        "Booking is not pending (status: {}).",
                        b.status
                    ))));
                }
                db::set_booking_status(c, b.id, &status)?;
                b.status = status;
                let title = db::property(c, b.property_id)?
                    .map(|p| p.title)
                    .unwrap_or_else(|| format!("property {}", b.property_id));
                notify_in(
                    c,
                    &hub,
                    b.tenant_id,
                    &format!("Booking {}", b.status),
                    &format!(
                        "Your booking of {} from {} to {} was {}.",
                        title, b.check_in_date, b.check_out_date, b.status
                    ),
                    "booking",
                    &booking_data(&b),
                )?;
                let frame = wire::booking_update(&b, &b.status, &title);
                hub.push_event(b.tenant_id, "booking_update", frame.clone());
                if b.tenant_id != b.landlord_id {
                    hub.push_event(b.landlord_id, "booking_update", frame);
                }
                Ok(Ok((b, title)))
            })
            .await?
    }

    /// The landlord decides the oldest pending booking, if there is one.
    pub async fn decide_oldest_pending(&self, status: &str) -> Result<Option<Booking>, OpError> {
        let Some(b) = self.db.call(|c| db::oldest_pending_booking(c)).await? else {
            return Ok(None);
        };
        let landlord = self
            .db
            .call(move |c| db::user_by_id(c, b.landlord_id))
            .await?
            .ok_or_else(|| OpError::UnknownUser(b.landlord_id.to_string()))?;
        match self.decide_booking(landlord, b.id, status.to_owned()).await {
            Ok((b, _)) => Ok(Some(b)),
            // Someone else decided it in between: nothing to do.
            Err(OpError::Invalid(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `tenant` reports a problem: landlord notified (`maintenance`),
    /// `maintenance_update` to both.
    pub async fn maintenance_request(
        &self,
        tenant: User,
        property_id: i64,
        description: String,
    ) -> Result<Maintenance, OpError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let property = match property_or_err(c, property_id)? {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let m =
                    db::insert_maintenance(c, &property, tenant.id, &description, wire::now_us())?;
                notify_in(
                    c,
                    &hub,
                    m.landlord_id,
                    "New maintenance request",
                    &format!(
                        "{} at {}: {}",
                        tenant.display_name, property.title, description
                    ),
                    "maintenance",
                    &maintenance_data(&m),
                )?;
                let frame = wire::maintenance_update(m.id, m.property_id, &m.status);
                hub.push_event(m.landlord_id, "maintenance_update", frame.clone());
                hub.push_event(m.tenant_id, "maintenance_update", frame);
                Ok(Ok(m))
            })
            .await?
    }

    /// Moves the oldest open maintenance request one step on (pending ->
    /// in_progress -> completed); the tenant is notified.
    pub async fn maintenance_progress(&self) -> Result<Option<Maintenance>, DbError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let Some(mut m) = db::oldest_open_maintenance(c)? else {
                    return Ok(None);
                };
                m.status = if m.status == "pending" {
                    "in_progress".to_owned()
                } else {
                    "completed".to_owned()
                };
                db::set_maintenance_status(c, m.id, &m.status)?;
                let human = m.status.replace('_', " ");
                notify_in(
                    c,
                    &hub,
                    m.tenant_id,
                    "Maintenance update",
                    &format!("Your request \"{}\" is now {}.", m.description, human),
                    "maintenance",
                    &maintenance_data(&m),
                )?;
                let frame = wire::maintenance_update(m.id, m.property_id, &m.status);
                hub.push_event(m.tenant_id, "maintenance_update", frame.clone());
                hub.push_event(m.landlord_id, "maintenance_update", frame);
                Ok(Some(m))
            })
            .await
    }

    /// `tenant` reviews a property; its landlord is notified (`review`).
    pub async fn review(
        &self,
        tenant: User,
        property_id: i64,
        rating: i64,
        comment: String,
    ) -> Result<Notification, OpError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let property = match property_or_err(c, property_id)? {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let id =
                    db::insert_review(c, property.id, tenant.id, rating, &comment, wire::now_us())?;
                let n = notify_in(
                    c,
                    &hub,
                    property.landlord_id,
                    "New review",
                    &format!(
                        "{} rated {} {}/5: \"{}\"",
                        tenant.display_name, property.title, rating, comment
                    ),
                    "review",
                    &json!({ "review_id": id, "rating": rating, "property_id": property.id }),
                )?;
                Ok(Ok(n))
            })
            .await?
    }

    /// `tenant` saves a property; its landlord is notified (`property`).
    pub async fn favourite(&self, tenant: User, property_id: i64) -> Result<Notification, OpError> {
        let hub = self.hub.clone();
        self.db
            .call(move |c| {
                let property = match property_or_err(c, property_id)? {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let id = db::insert_favourite(c, property.id, tenant.id, wire::now_us())?;
                let n = notify_in(
                    c,
                    &hub,
                    property.landlord_id,
                    "Property saved",
                    &format!("{} saved {} to favourites.", tenant.display_name, property.title),
                    "property",
                    &json!({ "property_id": property.id, "favourite_id": id, "tenant_id": tenant.id }),
                )?;
                Ok(Ok(n))
            })
            .await?
    }

    /// Sends an arbitrary JSON frame to a user's sockets (legacy 1011 rule applies).
    pub fn push_frame(&self, user_id: i64, frame: &Value) -> usize {
        let frame_type = frame.get("type").and_then(Value::as_str).unwrap_or("");
        self.hub.push_event(user_id, frame_type, frame.to_string())
    }

    /// Sends this exact text to a user's sockets.
    pub fn push_raw(&self, user_id: i64, text: String) -> usize {
        self.hub.send_to_user(user_id, &Outbound::Text(text.into()))
    }

    /// Closes every open socket with this code.
    pub fn close_all(&self, code: u16, reason: String) -> usize {
        self.hub.send_to_all(&Outbound::Close(code, reason))
    }

    /// Marks the given (or all) notifications read without any frame.
    pub async fn read_elsewhere(
        &self,
        user_id: i64,
        ids: Option<Vec<i64>>,
    ) -> Result<i64, DbError> {
        self.db
            .call(move |c| match ids {
                Some(ids) => db::mark_ids_read(c, user_id, &ids),
                None => db::mark_all_read(c, user_id),
            })
            .await
    }

    /// Forgets all events and restarts the id sequences.
    pub async fn reset_database(&self) -> Result<(), DbError> {
        self.db.call(db::reset).await
    }
}
