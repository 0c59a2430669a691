//! SQLite storage: users, properties, notifications, messages, bookings,
//! maintenance requests, reviews and favourites. All ids are AUTOINCREMENT,
//! so they never restart (except after an explicit reset of the sequences).
//! Queries are plain functions on a [`Connection`]; [`Db::call`] runs them on
//! the blocking pool behind a mutex.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::DbError;

/// A seeded account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Human-readable name, used as `sender_name`.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// `landlord`, `tenant` or `admin`.
    pub role: String,
}

/// A property listed by a landlord.
#[derive(Debug, Clone)]
pub struct Property {
    /// Database id.
    pub id: i64,
    /// Owner.
    pub landlord_id: i64,
    /// Listing title.
    pub title: String,
}

/// A stored notification.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Database id.
    pub id: i64,
    /// Recipient.
    pub user_id: i64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// `booking`, `message`, ... (free text).
    pub notification_type: String,
    /// Context ids, as the JSON text stored: frames and REST answers embed
    /// it as it is (a flood of 100,000 spent a tenth of its time parsing it
    /// into a `Value` only to write it out again).
    pub data: Box<RawValue>,
    /// Read flag.
    pub is_read: bool,
    /// Creation time, microseconds since the epoch.
    pub created_us: i64,
}

/// A stored chat message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Database id.
    pub id: i64,
    /// Author.
    pub sender_id: i64,
    /// Recipient.
    pub receiver_id: i64,
    /// Text.
    pub content: String,
    /// Property the conversation is about, if any.
    pub property_id: Option<i64>,
    /// Read flag.
    pub is_read: bool,
    /// Creation time, microseconds since the epoch.
    pub created_us: i64,
}

/// A booking request.
#[derive(Debug, Clone)]
pub struct Booking {
    /// Database id.
    pub id: i64,
    /// Booked property.
    pub property_id: i64,
    /// Requesting tenant.
    pub tenant_id: i64,
    /// Property owner.
    pub landlord_id: i64,
    /// `pending`, `approved` or `declined`.
    pub status: String,
    /// `YYYY-MM-DD`.
    pub check_in_date: String,
    /// `YYYY-MM-DD`.
    pub check_out_date: String,
    /// Creation time, microseconds since the epoch.
    pub created_us: i64,
}

/// A maintenance request.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// Database id.
    pub id: i64,
    /// Property concerned.
    pub property_id: i64,
    /// Reporting tenant.
    pub tenant_id: i64,
    /// Property owner.
    pub landlord_id: i64,
    /// `pending`, `in_progress`, `completed`.
    pub status: String,
    /// What is broken.
    pub description: String,
}

/// Filters of the notification list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// `?is_read=`.
    pub is_read: Option<bool>,
    /// `?notification_type=`.
    pub notification_type: Option<String>,
}

/// Per-user notification counts.
#[derive(Debug, Clone)]
pub struct NotificationStats {
    /// All notifications.
    pub total: i64,
    /// Unread ones.
    pub unread: i64,
    /// All notifications by type.
    pub by_type: Vec<(String, i64)>,
}

/// The seeded users: (id, username, password, display name, email, role).
pub const SEED_USERS: [(i64, &str, &str, &str, &str, &str); 2] = [
    (
        1,
        "landlord",
        "landlord-pass",
        "Lana Landlord",
        "landlord@smarthunt.test",
        "landlord",
    ),
    (
        2,
        "tenant",
        "tenant-pass",
        "Tom Tenant",
        "tenant@smarthunt.test",
        "tenant",
    ),
];

/// The seeded properties: (id, landlord id, title).
pub const SEED_PROPERTIES: [(i64, i64, &str); 3] = [
    (1, 1, "Sunny loft by the river"),
    (2, 1, "Garden flat with parking"),
    (3, 1, "Studio near the university"),
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS properties (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    landlord_id INTEGER NOT NULL,
    title TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    notification_type TEXT NOT NULL,
    data TEXT NOT NULL,
    is_read INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications(user_id, id);
-- Marking all read and the count at open find a user's unread here.
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications(user_id, is_read);
-- The unread count sent after every notification, one row per user with
-- any, kept up to date by the triggers below (a user without a row has
-- none): counting it in the index took time that grows with the unread,
-- and a server sending 1,000 notifications a second spent most of a core
-- on counting alone.
CREATE TABLE IF NOT EXISTS unread_counts (
    user_id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
-- Made again at every open: a file keeps the triggers it was written with.
DROP TRIGGER IF EXISTS unread_counts_of_new_user;
DROP TRIGGER IF EXISTS unread_counts_on_insert;
DROP TRIGGER IF EXISTS unread_counts_on_delete;
DROP TRIGGER IF EXISTS unread_counts_on_update;
CREATE TRIGGER unread_counts_on_insert AFTER INSERT ON notifications
WHEN NEW.is_read = 0 BEGIN
    INSERT INTO unread_counts (user_id, n) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER unread_counts_on_delete AFTER DELETE ON notifications
WHEN OLD.is_read = 0 BEGIN
    UPDATE unread_counts SET n = n - 1 WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER unread_counts_on_update AFTER UPDATE OF is_read, user_id ON notifications
WHEN OLD.is_read = 0 OR NEW.is_read = 0 BEGIN
    UPDATE unread_counts SET n = n - 1 WHERE user_id = OLD.user_id AND OLD.is_read = 0;
    INSERT INTO unread_counts (user_id, n) SELECT NEW.user_id, 1 WHERE NEW.is_read = 0
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id INTEGER NOT NULL,
    receiver_id INTEGER NOT NULL,
    content TEXT NOT NULL,
    property_id INTEGER,
    is_read INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_sender ON messages(sender_id, id);
CREATE INDEX IF NOT EXISTS messages_by_receiver ON messages(receiver_id, id);
CREATE TABLE IF NOT EXISTS bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    landlord_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    check_in_date TEXT NOT NULL,
    check_out_date TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS maintenance_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    landlord_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS favourites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    property_id INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    created_us INTEGER NOT NULL
);
";

/// Tables emptied (and whose id sequences restart) by a database reset.
const EVENT_TABLES: [&str; 6] = [
    "notifications",
    "messages",
    "bookings",
    "maintenance_requests",
    "reviews",
    "favourites",
];

/// The shared database handle.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating and seeding if needed) the database; `None` = in memory.
    pub async fn open(path: Option<&Path>) -> Result<Self, DbError> {
        let path = path.map(Path::to_path_buf);
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, rusqlite::Error> {
            let conn = match &path {
                Some(p) => Connection::open(p)?,
                None => Connection::open_in_memory()?,
            };
            if path.is_some() {
                // `journal_mode` answers with a row, so it cannot go through execute_batch.
                let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
                conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
            }
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(SCHEMA)?;
            seed(&conn)?;
            // Counted again at every open (a dev server's database is
            // small), in case the file was written before the counts were
            // kept.
            conn.execute_batch(
                "BEGIN;
                 DELETE FROM unread_counts;
                 INSERT INTO unread_counts (user_id, n)
                     SELECT user_id, COUNT(*) FROM notifications WHERE is_read = 0
                     GROUP BY user_id;
                 COMMIT;",
            )?;
            Ok(conn)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with exclusive access to the connection, off the async runtime.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite itself consistent
            // (statements are atomic), so a poisoned lock is still usable.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| DbError::Worker(e.to_string()))?
        .map_err(DbError::from)
    }
}

fn seed(conn: &Connection) -> Result<(), rusqlite::Error> {
    for (id, username, password, name, email, role) in SEED_USERS {
        conn.execute(
            "INSERT OR IGNORE INTO users (id, username, password, display_name, email, role)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, username, password, name, email, role],
        )?;
    }
    for (id, landlord, title) in SEED_PROPERTIES {
        conn.execute(
            "INSERT OR IGNORE INTO properties (id, landlord_id, title) VALUES (?1, ?2, ?3)",
            params![id, landlord, title],
        )?;
    }
    Ok(())
}

fn user_from_row(r: &Row<'_>) -> Result<User, rusqlite::Error> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        email: r.get(3)?,
        role: r.get(4)?,
    })
}

const USER_COLS: &str = "id, username, display_name, email, role";

/// The user with this name.
pub fn user_by_name(conn: &Connection, username: &str) -> Result<Option<User>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
        [username],
        user_from_row,
    )
    .optional()
}

/// The user with this id.
pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
        [id],
        user_from_row,
    )
    .optional()
}

/// The user if the credentials match.
pub fn check_credentials(
    conn: &Connection,
    username: &str,
    password: &str,
) -> Result<Option<User>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE username = ?1 AND password = ?2"),
        [username, password],
        user_from_row,
    )
    .optional()
}

/// A property by id.
pub fn property(conn: &Connection, id: i64) -> Result<Option<Property>, rusqlite::Error> {
    conn.query_row(
        "SELECT id, landlord_id, title FROM properties WHERE id = ?1",
        [id],
        |r| {
            Ok(Property {
                id: r.get(0)?,
                landlord_id: r.get(1)?,
                title: r.get(2)?,
            })
        },
    )
    .optional()
}

/// All properties, by id.
pub fn properties(conn: &Connection) -> Result<Vec<Property>, rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("SELECT id, landlord_id, title FROM properties ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Property {
            id: r.get(0)?,
            landlord_id: r.get(1)?,
            title: r.get(2)?,
        })
    })?;
    rows.collect()
}

fn notification_from_row(r: &Row<'_>) -> Result<Notification, rusqlite::Error> {
    let data = RawValue::from_string(r.get(5)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Notification {
        id: r.get(0)?,
        user_id: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        notification_type: r.get(4)?,
        data,
        is_read: r.get(6)?,
        created_us: r.get(7)?,
    })
}

const NOTIFICATION_COLS: &str =
    "id, user_id, title, body, notification_type, data, is_read, created_us";

/// Stores a new unread notification.
pub fn insert_notification(
    conn: &Connection,
    user_id: i64,
    title: &str,
    body: &str,
    notification_type: &str,
    data: &Value,
    created_us: i64,
) -> Result<Notification, rusqlite::Error> {
    let data = serde_json::value::to_raw_value(data)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO notifications (user_id, title, body, notification_type, data, is_read, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    )?;
    stmt.execute(params![
        user_id,
        title,
        body,
        notification_type,
        data.get(),
        created_us
    ])?;
    Ok(Notification {
        id: conn.last_insert_rowid(),
        user_id,
        title: title.to_owned(),
        body: body.to_owned(),
        notification_type: notification_type.to_owned(),
        data,
        is_read: false,
        created_us,
    })
}

/// Stores notifications `numbers` of a flood of `count`, unread, in one
/// statement, and returns them in id order (none for an empty range). One
/// statement rather than one per row: each statement that fires the
/// unread-count trigger copies every page it writes into a statement
/// journal first, and that copy was most of a flood's time in SQLite.
pub fn insert_flood(
    conn: &Connection,
    user_id: i64,
    numbers: RangeInclusive<u64>,
    count: u64,
    notification_type: &str,
    created_us: i64,
) -> Result<Vec<Notification>, rusqlite::Error> {
    // The recursion's first row has no condition: it would be stored.
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "WITH RECURSIVE i(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM i WHERE n < ?2)
         INSERT INTO notifications (user_id, title, body, notification_type, data, is_read, created_us)
         SELECT ?3, 'Notification ' || n || ' of ' || ?4, 'Flood notification number ' || n || '.',
                ?5, json_object('flood_index', n, 'flood_count', ?4), 0, ?6
         FROM i
         RETURNING {NOTIFICATION_COLS}"
    ))?;
    let mut rows = stmt
        .query_map(
            params![
                numbers.start(),
                numbers.end(),
                user_id,
                count,
                notification_type,
                created_us
            ],
            notification_from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no promise of order.
    rows.sort_unstable_by_key(|n| n.id);
    Ok(rows)
}

/// Unread notifications of a user.
pub fn unread_count(conn: &Connection, user_id: i64) -> Result<i64, rusqlite::Error> {
    conn.prepare_cached("SELECT n FROM unread_counts WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

fn filter_sql(filter: &NotificationFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("user_id = ?1");
    let mut extra: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(read) = filter.is_read {
        sql.push_str(if read {
            " AND is_read = 1"
        } else {
            " AND is_read = 0"
        });
    }
    if let Some(t) = &filter.notification_type {
        extra.push(t.clone().into());
        sql.push_str(" AND notification_type = ?2");
    }
    (sql, extra)
}

/// Number of a user's notifications matching the filter.
pub fn count_notifications(
    conn: &Connection,
    user_id: i64,
    filter: &NotificationFilter,
) -> Result<i64, rusqlite::Error> {
    let (cond, extra) = filter_sql(filter);
    let mut args: Vec<rusqlite::types::Value> = vec![user_id.into()];
    args.extend(extra);
    conn.prepare_cached(&format!("SELECT COUNT(*) FROM notifications WHERE {cond}"))?
        .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
}

/// A page of a user's notifications matching the filter, newest first.
pub fn list_notifications(
    conn: &Connection,
    user_id: i64,
    filter: &NotificationFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<Notification>, rusqlite::Error> {
    let (cond, extra) = filter_sql(filter);
    let n = extra.len();
    let mut args: Vec<rusqlite::types::Value> = vec![user_id.into()];
    args.extend(extra);
    args.push(limit.into());
    args.push(offset.into());
    let sql = format!(
        "SELECT {NOTIFICATION_COLS} FROM notifications WHERE {cond}
         ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
        n + 2,
        n + 3
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), notification_from_row)?;
    rows.collect()
}

/// One of the user's notifications.
pub fn get_notification(
    conn: &Connection,
    user_id: i64,
    id: i64,
) -> Result<Option<Notification>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT {NOTIFICATION_COLS} FROM notifications WHERE id = ?1 AND user_id = ?2"),
        [id, user_id],
        notification_from_row,
    )
    .optional()
}

/// Sets the read flag of one of the user's notifications; false if it is not theirs.
pub fn set_read(
    conn: &Connection,
    user_id: i64,
    id: i64,
    is_read: bool,
) -> Result<bool, rusqlite::Error> {
    let n = conn.execute(
        "UPDATE notifications SET is_read = ?3 WHERE id = ?1 AND user_id = ?2",
        params![id, user_id, is_read],
    )?;
    Ok(n > 0)
}

/// Marks all of the user's unread notifications read; returns how many changed.
pub fn mark_all_read(conn: &Connection, user_id: i64) -> Result<i64, rusqlite::Error> {
    let n = conn.execute(
        "UPDATE notifications SET is_read = 1 WHERE user_id = ?1 AND is_read = 0",
        [user_id],
    )?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Marks the given ids (if the user's and unread) read; returns how many changed.
pub fn mark_ids_read(conn: &Connection, user_id: i64, ids: &[i64]) -> Result<i64, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "UPDATE notifications SET is_read = 1 WHERE id = ?1 AND user_id = ?2 AND is_read = 0",
    )?;
    let mut total = 0i64;
    for id in ids {
        total += i64::try_from(stmt.execute([*id, user_id])?).unwrap_or(0);
    }
    Ok(total)
}

/// Totals of a user's notifications.
pub fn notification_stats(
    conn: &Connection,
    user_id: i64,
) -> Result<NotificationStats, rusqlite::Error> {
    let (total, unread): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(is_read = 0), 0) FROM notifications WHERE user_id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT notification_type, COUNT(*) FROM notifications WHERE user_id = ?1
         GROUP BY notification_type ORDER BY notification_type",
    )?;
    let by_type = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NotificationStats {
        total,
        unread,
        by_type,
    })
}

fn message_from_row(r: &Row<'_>) -> Result<Message, rusqlite::Error> {
    Ok(Message {
        id: r.get(0)?,
        sender_id: r.get(1)?,
        receiver_id: r.get(2)?,
        content: r.get(3)?,
        property_id: r.get(4)?,
        is_read: r.get(5)?,
        created_us: r.get(6)?,
    })
}

/// Stores a message.
pub fn insert_message(
    conn: &Connection,
    sender_id: i64,
    receiver_id: i64,
    content: &str,
    property_id: Option<i64>,
    created_us: i64,
) -> Result<Message, rusqlite::Error> {
    conn.execute(
        "INSERT INTO messages (sender_id, receiver_id, content, property_id, is_read, created_us)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        params![sender_id, receiver_id, content, property_id, created_us],
    )?;
    Ok(Message {
        id: conn.last_insert_rowid(),
        sender_id,
        receiver_id,
        content: content.to_owned(),
        property_id,
        is_read: false,
        created_us,
    })
}

/// Number of messages from or to the user.
pub fn count_messages(conn: &Connection, user_id: i64) -> Result<i64, rusqlite::Error> {
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE sender_id = ?1 OR receiver_id = ?1",
        [user_id],
        |r| r.get(0),
    )
}

/// A page of messages from or to the user, newest first.
pub fn list_messages(
    conn: &Connection,
    user_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Message>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sender_id, receiver_id, content, property_id, is_read, created_us
         FROM messages WHERE sender_id = ?1 OR receiver_id = ?1
         ORDER BY id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map([user_id, limit, offset], message_from_row)?;
    rows.collect()
}

fn booking_from_row(r: &Row<'_>) -> Result<Booking, rusqlite::Error> {
    Ok(Booking {
        id: r.get(0)?,
        property_id: r.get(1)?,
        tenant_id: r.get(2)?,
        landlord_id: r.get(3)?,
        status: r.get(4)?,
        check_in_date: r.get(5)?,
        check_out_date: r.get(6)?,
        created_us: r.get(7)?,
    })
}

const BOOKING_COLS: &str =
    "id, property_id, tenant_id, landlord_id, status, check_in_date, check_out_date, created_us";

/// Stores a pending booking.
pub fn insert_booking(
    conn: &Connection,
    property: &Property,
    tenant_id: i64,
    check_in_date: &str,
    check_out_date: &str,
    created_us: i64,
) -> Result<Booking, rusqlite::Error> {
    conn.execute(
        "INSERT INTO bookings (property_id, tenant_id, landlord_id, status, check_in_date, check_out_date, created_us)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6)",
        params![property.id, tenant_id, property.landlord_id, check_in_date, check_out_date, created_us],
    )?;
    Ok(Booking {
        id: conn.last_insert_rowid(),
        property_id: property.id,
        tenant_id,
        landlord_id: property.landlord_id,
        status: "pending".to_owned(),
        check_in_date: check_in_date.to_owned(),
        check_out_date: check_out_date.to_owned(),
        created_us,
    })
}

/// A booking by id.
pub fn booking(conn: &Connection, id: i64) -> Result<Option<Booking>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT {BOOKING_COLS} FROM bookings WHERE id = ?1"),
        [id],
        booking_from_row,
    )
    .optional()
}

/// The oldest pending booking, if any.
pub fn oldest_pending_booking(conn: &Connection) -> Result<Option<Booking>, rusqlite::Error> {
    conn.query_row(
        &format!(
            "SELECT {BOOKING_COLS} FROM bookings WHERE status = 'pending' ORDER BY id LIMIT 1"
        ),
        [],
        booking_from_row,
    )
    .optional()
}

/// Sets a booking's status.
pub fn set_booking_status(conn: &Connection, id: i64, status: &str) -> Result<(), rusqlite::Error> {
    conn.execute(
        "UPDATE bookings SET status = ?2 WHERE id = ?1",
        params![id, status],
    )?;
    Ok(())
}

/// Stores a pending maintenance request.
pub fn insert_maintenance(
    conn: &Connection,
    property: &Property,
    tenant_id: i64,
    description: &str,
    created_us: i64,
) -> Result<Maintenance, rusqlite::Error> {
    conn.execute(
        "INSERT INTO maintenance_requests (property_id, tenant_id, landlord_id, status, description, created_us)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
        params![property.id, tenant_id, property.landlord_id, description, created_us],
    )?;
    Ok(Maintenance {
        id: conn.last_insert_rowid(),
        property_id: property.id,
        tenant_id,
        landlord_id: property.landlord_id,
        status: "pending".to_owned(),
        description: description.to_owned(),
    })
}

/// The oldest maintenance request not yet completed, if any.
pub fn oldest_open_maintenance(conn: &Connection) -> Result<Option<Maintenance>, rusqlite::Error> {
    conn.query_row(
        "SELECT id, property_id, tenant_id, landlord_id, status, description
         FROM maintenance_requests WHERE status != 'completed' ORDER BY id LIMIT 1",
        [],
        |r| {
            Ok(Maintenance {
                id: r.get(0)?,
                property_id: r.get(1)?,
                tenant_id: r.get(2)?,
                landlord_id: r.get(3)?,
                status: r.get(4)?,
                description: r.get(5)?,
            })
        },
    )
    .optional()
}

/// Sets a maintenance request's status.
pub fn set_maintenance_status(
    conn: &Connection,
    id: i64,
    status: &str,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "UPDATE maintenance_requests SET status = ?2 WHERE id = ?1",
        params![id, status],
    )?;
    Ok(())
}

/// Stores a review; returns its id.
pub fn insert_review(
    conn: &Connection,
    property_id: i64,
    tenant_id: i64,
    rating: i64,
    comment: &str,
    created_us: i64,
) -> Result<i64, rusqlite::Error> {
    conn.execute(
        "INSERT INTO reviews (property_id, tenant_id, rating, comment, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![property_id, tenant_id, rating, comment, created_us],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Stores a favourite; returns its id.
pub fn insert_favourite(
    conn: &Connection,
    property_id: i64,
    tenant_id: i64,
    created_us: i64,
) -> Result<i64, rusqlite::Error> {
    conn.execute(
        "INSERT INTO favourites (property_id, tenant_id, created_us) VALUES (?1, ?2, ?3)",
        params![property_id, tenant_id, created_us],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Deletes every notification, message, booking, maintenance request, review
/// and favourite, and restarts their id sequences at 1. Users and properties stay.
pub fn reset(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    for table in EVENT_TABLES {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
        tx.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [table])?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count the triggers keep, beside the count of the rows.
    fn counts(conn: &Connection, user_id: i64) -> (i64, i64) {
        let counted = conn
            .query_row(
                "SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND is_read = 0",
                [user_id],
                |r| r.get(0),
            )
            .unwrap();
        (unread_count(conn, user_id).unwrap(), counted)
    }

    fn notify(conn: &Connection, user_id: i64) -> i64 {
        insert_notification(conn, user_id, "t", "b", "general", &Value::Null, 1)
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn a_flood_chunk_is_stored_numbered_in_order_and_counted() {
        let db = Db::open(None).await.unwrap();
        db.call(|c| {
            let tenant = SEED_USERS[1].0;
            #[allow(clippy::reversed_empty_ranges)] // empty on purpose
            let none = insert_flood(c, tenant, 5..=4, 10, "general", 7)?;
            assert!(none.is_empty(), "an empty range stores nothing");
            assert_eq!(counts(c, tenant), (0, 0));
            let stored = insert_flood(c, tenant, 3..=5, 10, "booking", 7)?;
            assert_eq!(counts(c, tenant), (3, 3));
            let first = stored[0].id;
            for (i, (n, number)) in stored.iter().zip(3..).enumerate() {
                assert_eq!(n.id, first + i64::try_from(i).unwrap(), "in id order");
                assert_eq!(
                    (n.user_id, n.title.as_str(), n.body.as_str()),
                    (
                        tenant,
                        format!("Notification {number} of 10").as_str(),
                        format!("Flood notification number {number}.").as_str()
                    )
                );
                assert_eq!(
                    serde_json::from_str::<Value>(n.data.get()).unwrap(),
                    serde_json::json!({ "flood_index": number, "flood_count": 10 })
                );
                assert_eq!(
                    (n.notification_type.as_str(), n.is_read, n.created_us),
                    ("booking", false, 7)
                );
            }
            // What was returned is what was stored.
            let listed = list_notifications(c, tenant, &NotificationFilter::default(), 10, 0)?;
            let ids = |ns: &[Notification]| -> Vec<(i64, String, String)> {
                ns.iter()
                    .map(|n| (n.id, n.title.clone(), n.data.get().to_owned()))
                    .collect()
            };
            assert_eq!(
                ids(&listed).into_iter().rev().collect::<Vec<_>>(),
                ids(&stored)
            );
            Ok(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_kept_unread_count_follows_every_change_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let db = Db::open(Some(&path)).await.unwrap();
        db.call(|c| {
            let (landlord, tenant) = (SEED_USERS[0].0, SEED_USERS[1].0);
            assert_eq!(counts(c, tenant), (0, 0));
            let ids: Vec<i64> = (0..5).map(|_| notify(c, tenant)).collect();
            notify(c, landlord);
            assert_eq!(counts(c, tenant), (5, 5));
            assert_eq!(counts(c, landlord), (1, 1));
            set_read(c, tenant, ids[0], true)?;
            set_read(c, tenant, ids[0], true)?; // read twice: counted once
            set_read(c, tenant, ids[1], false)?; // unread again: no change
            assert_eq!(counts(c, tenant), (4, 4));
            set_read(c, tenant, ids[0], false)?;
            mark_ids_read(c, tenant, &ids[1..3])?;
            assert_eq!(counts(c, tenant), (3, 3));
            c.execute("DELETE FROM notifications WHERE id = ?1", [ids[4]])?;
            assert_eq!(counts(c, tenant), (2, 2));
            // One moved to another user, and one for a user with no
            // notification before.
            c.execute(
                "UPDATE notifications SET user_id = ?2 WHERE id = ?1",
                [ids[3], landlord],
            )?;
            assert_eq!(counts(c, tenant), (1, 1));
            assert_eq!(counts(c, landlord), (2, 2));
            c.execute(
                "UPDATE notifications SET user_id = ?2 WHERE id = ?1",
                [ids[3], tenant],
            )?;
            notify(c, 99);
            assert_eq!(counts(c, 99), (1, 1));
            assert_eq!(counts(c, tenant), (2, 2));
            mark_all_read(c, tenant)?;
            assert_eq!(counts(c, tenant), (0, 0));
            assert_eq!(counts(c, landlord), (1, 1), "another user's is theirs");
            // Counts lost (a file written before they were kept) are made
            // again from the rows at the next open.
            c.execute("UPDATE unread_counts SET n = 99", [])?;
            // And the triggers of a file written by an older dev server
            // (these counted only users with a row) are made again.
            c.execute_batch(
                "DROP TRIGGER unread_counts_on_insert;
                 CREATE TRIGGER unread_counts_on_insert AFTER INSERT ON notifications
                 WHEN NEW.is_read = 0 BEGIN
                     UPDATE unread_counts SET n = n + 1 WHERE user_id = NEW.user_id;
                 END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        drop(db);
        let db = Db::open(Some(&path)).await.unwrap();
        db.call(|c| {
            assert_eq!(counts(c, SEED_USERS[0].0), (1, 1));
            assert_eq!(counts(c, SEED_USERS[1].0), (0, 0));
            assert_eq!(counts(c, 99), (1, 1));
            notify(c, SEED_USERS[1].0);
            assert_eq!(
                counts(c, SEED_USERS[1].0),
                (1, 1),
                "counted by today's trigger"
            );
            reset(c)?;
            assert_eq!(counts(c, SEED_USERS[0].0), (0, 0));
            assert_eq!(counts(c, 99), (0, 0));
            Ok(())
        })
        .await
        .unwrap();
    }
}
