//! Stored notifications: dedupe on the way in, keyset-paged lists and counters on the way out; no popup decisions and no network.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Statement};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{count_from_sql, put_meta, time_from_sql, time_to_sql, Store, StoreError};
use crate::protocol::{IncomingNotification, NotificationKind};

/// The most rows one list call returns, whatever the caller asks.
pub const MAX_PAGE: u32 = 1000;

const COLUMNS: &str =
    "local_id, server_id, title, body, kind, data, created_at, received_at, is_read, popped";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredNotification {
    pub local_id: i64,
    pub server_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub kind: NotificationKind,
    pub data: Map<String, Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub received_at_ms: i64,
    pub is_read: bool,
    pub popped: bool,
}

impl StoredNotification {
    /// What it is about, typed.
    pub fn context(&self) -> crate::protocol::NotificationContext {
        crate::protocol::NotificationContext::of(&self.data)
    }
}

/// How many bookings' statuses are kept (the newest by when they were
/// learnt): bounded, whatever a server sends.
const BOOKING_STATUSES_KEPT: i64 = 10_000;

/// The `meta` key of when (unix ms) the store last received a notification
/// without a server id, or had one lose its id: rule 3 of
/// [`Store::insert_notification`] looks for twins only within the window
/// of it. Absent while there is none.
pub(super) const UNNUMBERED_AT: &str = "unnumbered_received_ms";

/// What storing an incoming notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new row, by local id.
    New(i64),
    /// Already stored (possibly updated: read state, data, server id).
    Duplicate(i64),
}

impl Inserted {
    pub fn local_id(self) -> i64 {
        match self {
            Self::New(id) | Self::Duplicate(id) => id,
        }
    }

    pub fn is_new(self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// One page of the notification list, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub kind: Option<NotificationKind>,
    pub unread_only: bool,
    /// Keyset cursor: only rows with `local_id < before` (the last
    /// `local_id` of the previous page); `None` starts from the newest.
    pub before: Option<i64>,
    /// At most [`MAX_PAGE`].
    pub limit: u32,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            kind: None,
            unread_only: false,
            before: None,
            limit: 50,
        }
    }
}

impl Store {
    /// Stores one notification unless it is already known.
    ///
    /// Dedupe rules, in order:
    /// 1. a row with the same `server_id` and title is a `Duplicate`; it
    ///    takes the incoming read state when that is `Some` (except that an
    ///    unsent local "mark read" in the outbox is not undone by a stale
    ///    server answer), and the incoming `data` / `created_at` when its
    ///    own are empty;
    /// 2. a row with the same `server_id` but another title is from before
    ///    a server database reset: it keeps its content but loses the
    ///    server id, and the incoming one is stored as `New`;
    /// 3. incoming with a server id and a row without one, of the same
    ///    kind, title and body, received within `window_ms` of `now_ms`:
    ///    the row takes the id (and rule 1's updates), `Duplicate`;
    /// 4. incoming without a server id and a row (with or without one) of
    ///    the same kind, title and body received within the window:
    ///    `Duplicate`.
    ///
    /// Otherwise `New`, unread unless the incoming says it is read.
    ///
    /// Rule 3 can only match while a row without a server id was received
    /// within the window: the store keeps when the last one was
    /// ([`UNNUMBERED_AT`]), and otherwise an incoming with a server id
    /// costs one statement, its insert (the unique index finds rule 1's
    /// row, if any, on the way).
    pub fn insert_notification(
        &mut self,
        n: &IncomingNotification,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let mut r = self.insert_notifications(std::slice::from_ref(n), now_ms, window_ms)?;
        r.pop()
            .ok_or_else(|| StoreError::Io("an insert gave no result".into()))
    }

    /// [`Self::insert_notification`] for many (a catch-up page), in one
    /// transaction; one result per input, in order. Later inputs dedupe
    /// against earlier ones.
    pub fn insert_notifications(
        &mut self,
        ns: &[IncomingNotification],
        now_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<Inserted>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut unnumbered_at = self.unnumbered_at;
        let r = insert_all(&tx, ns, now_ms, window_ms, &mut unnumbered_at)?;
        if unnumbered_at != self.unnumbered_at {
            if let Some(at) = unnumbered_at {
                put_meta(&tx, UNNUMBERED_AT, &at.to_string())?;
            }
        }
        tx.commit()?;
        self.unnumbered_at = unnumbered_at;
        Ok(r)
    }

    /// Records that these notifications have been shown as popups.
    pub fn mark_popped(&mut self, local_ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st =
                tx.prepare_cached("UPDATE notifications SET popped = 1 WHERE local_id = ?1")?;
            for id in local_ids {
                st.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks one notification read here only, without telling the server:
    /// for rows the server has no id for. Rows with a server id go through
    /// [`Self::enqueue`] with `OutboxOp::MarkRead` instead.
    pub fn set_read_local(&mut self, local_id: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE notifications SET is_read = 1 WHERE local_id = ?1 AND is_read = 0",
            )?
            .execute([local_id])?;
        Ok(())
    }

    /// A booking's status as of `at` (decided here, or told by the server
    /// in a `booking_update`; the last word learnt wins). Every booking
    /// notification about it created no later reads with this status (see
    /// [`Self::notification`]), so what it offers follows: Approve/Decline
    /// only while it is pending. One row per booking, the most recently
    /// learnt [`BOOKING_STATUSES_KEPT`] kept: no notification is rewritten,
    /// and one whose data comes later still reads right.
    pub fn set_booking_status(
        &mut self,
        booking_id: i64,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO booking_status (booking_id, status, at_ms, learnt_seq)
             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(learnt_seq), 0) + 1 FROM booking_status))
             ON CONFLICT (booking_id) DO UPDATE SET
                 status = excluded.status, at_ms = excluded.at_ms, learnt_seq = excluded.learnt_seq",
        )?
        .execute(params![booking_id, status, at.timestamp_millis()])?;
        tx.prepare_cached(
            "DELETE FROM booking_status WHERE booking_id IN (
                 SELECT booking_id FROM booking_status ORDER BY learnt_seq
                 LIMIT max(0, (SELECT count(*) FROM booking_status) - ?1))",
        )?
        .execute([BOOKING_STATUSES_KEPT])?;
        tx.commit()?;
        Ok(())
    }

    /// `n` with its booking's status as last learnt, when that is newer
    /// than the notification (its `data` is the server's snapshot from when
    /// it was created).
    fn with_booking_status(
        &self,
        mut n: StoredNotification,
    ) -> Result<StoredNotification, StoreError> {
        if n.kind != NotificationKind::Booking {
            return Ok(n);
        }
        let Some(booking_id) = n.context().booking_id else {
            return Ok(n);
        };
        let known: Option<(String, i64)> = self
            .conn
            .prepare_cached("SELECT status, at_ms FROM booking_status WHERE booking_id = ?1")?
            .query_row([booking_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((status, at_ms)) = known {
            if n.created_at.is_none_or(|c| c.timestamp_millis() <= at_ms) {
                n.data.insert("status".into(), Value::String(status));
            }
        }
        Ok(n)
    }

    pub fn notification(&self, local_id: i64) -> Result<Option<StoredNotification>, StoreError> {
        let n = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications WHERE local_id = ?1"
            ))?
            .query_row([local_id], from_row)
            .optional()?;
        n.map(|n| self.with_booking_status(n)).transpose()
    }

    pub fn notification_by_server_id(
        &self,
        server_id: i64,
    ) -> Result<Option<StoredNotification>, StoreError> {
        let n = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications WHERE server_id = ?1"
            ))?
            .query_row([server_id], from_row)
            .optional()?;
        n.map(|n| self.with_booking_status(n)).transpose()
    }

    /// Newest first (by `local_id`), keyset-paged, optionally one kind and
    /// only unread. Each filter combination has its own index, so a page
    /// costs the same at row 20 and at row 1,000,000.
    pub fn list_notifications(&self, q: &ListQuery) -> Result<Vec<StoredNotification>, StoreError> {
        let before = q.before.unwrap_or(i64::MAX);
        let limit = i64::from(q.limit.min(MAX_PAGE));
        let filter = match (q.kind.is_some(), q.unread_only) {
            (false, false) => "",
            (false, true) => "AND is_read = 0",
            (true, false) => "AND kind = ?3",
            (true, true) => "AND kind = ?3 AND is_read = 0",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE local_id < ?1 {filter}
             ORDER BY local_id DESC LIMIT ?2"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = match q.kind {
            Some(kind) => st.query_map(params![before, limit, kind.as_str()], from_row)?,
            None => st.query_map(params![before, limit], from_row)?,
        };
        let rows = rows.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|n| self.with_booking_status(n))
            .collect()
    }

    /// Unread notifications, from the trigger-kept counters (O(1)).
    pub fn unread_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(SUM(unread), 0) FROM notification_counts")?
            .query_row([], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// All stored notifications, from the counters (O(1)).
    pub fn notification_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(SUM(total), 0) FROM notification_counts")?
            .query_row([], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// Unread notifications per kind (kinds with none are left out).
    pub fn unread_by_kind(&self) -> Result<BTreeMap<NotificationKind, u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT kind, unread FROM notification_counts WHERE unread > 0")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (kind, n) = row?;
            *out.entry(NotificationKind::from_wire(&kind)).or_insert(0) += count_from_sql(n);
        }
        Ok(out)
    }

    /// Those of `local_ids` that are read (or gone): what a popup still on
    /// screen for them no longer has to say.
    pub fn read_among(&self, local_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT is_read FROM notifications WHERE local_id = ?1")?;
        let mut read = Vec::new();
        for &id in local_ids {
            let is_read: Option<bool> = st.query_row([id], |r| r.get(0)).optional()?;
            if is_read != Some(false) {
                read.push(id);
            }
        }
        Ok(read)
    }

    /// Unread notifications of `kind` from `since` (a local id) on: what a
    /// kind's summary popup still counts (index `notifications_by_kind_read`).
    pub fn unread_of_kind_since(
        &self,
        kind: NotificationKind,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM notifications WHERE kind = ?1 AND is_read = 0 AND local_id >= ?2",
            )?
            .query_row(params![kind.as_str(), since], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// The highest server id stored, if any.
    pub fn max_server_id(&self) -> Result<Option<i64>, StoreError> {
        max_server_id(&self.conn)
    }

    /// True if a row has this server id and title (catch-up stops at the
    /// first known item; a different title means the id was reused after a
    /// server reset, so it is not known).
    pub fn is_known(&self, server_id: i64, title: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM notifications WHERE server_id = ?1 AND title = ?2)",
            )?
            .query_row(params![server_id, title], |r| r.get(0))?)
    }

    /// Reads made elsewhere: rows with a server id in `[min_id, max_id]`
    /// that are unread here but not in `server_unread_ids` become read.
    /// Returns how many changed. Never marks anything unread.
    pub fn reconcile_read_state(
        &mut self,
        min_id: i64,
        max_id: i64,
        server_unread_ids: &HashSet<i64>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let stale: Vec<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT server_id FROM notifications
                 WHERE server_id BETWEEN ?1 AND ?2 AND is_read = 0",
            )?;
            let ids = st.query_map([min_id, max_id], |r| r.get::<_, i64>(0))?;
            let mut stale = Vec::new();
            for id in ids {
                let id = id?;
                if !server_unread_ids.contains(&id) {
                    stale.push(id);
                }
            }
            stale
        };
        {
            let mut st =
                tx.prepare_cached("UPDATE notifications SET is_read = 1 WHERE server_id = ?1")?;
            for id in &stale {
                st.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(stale.len() as u64)
    }
}

/// Inserts (or merges) each of `ns` in order, and adds the new rows to
/// `notification_counts`, once per kind. A kind's counter row exists
/// before any row is written, so that an update trigger fired by a merge
/// into a row inserted earlier in the same transaction finds it (it may
/// go below zero until the inserts are added at the end).
fn insert_all(
    tx: &Connection,
    ns: &[IncomingNotification],
    now_ms: i64,
    window_ms: i64,
    unnumbered_at: &mut Option<i64>,
) -> Result<Vec<Inserted>, StoreError> {
    let mut added: Vec<(&str, i64, i64)> = Vec::new();
    for n in ns {
        let kind = n.kind.as_str();
        if !added.iter().any(|(k, _, _)| *k == kind) {
            tx.prepare_cached("INSERT OR IGNORE INTO notification_counts (kind) VALUES (?1)")?
                .execute([kind])?;
            added.push((kind, 0, 0));
        }
    }
    let results = if all_fresh(tx, ns, now_ms, window_ms, *unnumbered_at)? {
        insert_fresh(tx, ns, now_ms)?
    } else {
        ns.iter()
            .map(|n| insert_one(tx, n, now_ms, window_ms, unnumbered_at))
            .collect::<Result<Vec<_>, _>>()?
    };
    for (n, r) in ns.iter().zip(&results) {
        if let Inserted::New(_) = r {
            let kind = n.kind.as_str();
            if let Some(counts) = added.iter_mut().find(|(k, _, _)| *k == kind) {
                counts.1 += 1;
                counts.2 += i64::from(!n.is_read.unwrap_or(false));
            }
        }
    }
    let mut st = tx.prepare_cached(
        "UPDATE notification_counts SET total = total + ?2, unread = unread + ?3 WHERE kind = ?1",
    )?;
    for (kind, total, unread) in added.into_iter().filter(|(_, t, _)| *t > 0) {
        st.execute(params![kind, total, unread])?;
    }
    Ok(results)
}

/// A new row's insert, in two literals: the statement's head and one row's
/// values (for [`INSERT_UNLESS_ID_KNOWN`] and [`insert_fresh`]'s statement
/// of many rows).
macro_rules! insert_into {
    () => {
        "INTO notifications
         (server_id, title, body, kind, data, created_at, received_at, is_read, popped)
         VALUES "
    };
}
macro_rules! insert_values {
    () => {
        "(?, ?, ?, ?, ?, ?, ?, ?, 0)"
    };
}

/// Whether every one of `ns` is new by the rules of
/// [`Store::insert_notification`] without looking at each: all have server
/// ids, in increasing order and above every stored one (so none is stored
/// and none repeats), and no row without a server id was received within
/// the window (rule 3 cannot match). A live stream is like this.
fn all_fresh(
    tx: &Connection,
    ns: &[IncomingNotification],
    now_ms: i64,
    window_ms: i64,
    unnumbered_at: Option<i64>,
) -> Result<bool, StoreError> {
    let (from, _) = dedupe_window(now_ms, window_ms);
    let Some(first) = ns.first().and_then(|n| n.id) else {
        return Ok(false);
    };
    if ns.len() < 2
        || may_have_twin(unnumbered_at, from)
        || !ns
            .windows(2)
            .all(|w| matches!((w[0].id, w[1].id), (Some(a), Some(b)) if a < b))
    {
        return Ok(false);
    }
    Ok(max_server_id(tx)?.is_none_or(|max| first > max))
}

/// The highest server id stored.
fn max_server_id(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT MAX(server_id) FROM notifications WHERE server_id IS NOT NULL")?
        .query_row([], |r| r.get(0))?)
}

/// New rows a statement of [`insert_fresh`] stores (64 and 128 were no
/// faster).
const ROWS_PER_INSERT: usize = 32;

/// Stores `ns`, each of them new (see [`all_fresh`]), [`ROWS_PER_INSERT`]
/// rows a statement and the rest one by one. A statement per row paid, for
/// each row, what a statement costs besides its B-tree inserts (cursors
/// opened and sought on the table and five indexes, the AUTOINCREMENT
/// counter read and written back): 100,000 rows in batches of 256 took
/// 0.90 to 1.09 s, and take 0.62 s so.
///
/// `OR FAIL`, not the default ABORT: a statement of many rows that may
/// abort copies each page it changes into a statement journal first, to
/// undo its own rows (that copy made it slower than a statement per row).
/// A row that fails here fails the whole transaction all the same.
fn insert_fresh(
    tx: &Connection,
    ns: &[IncomingNotification],
    now_ms: i64,
) -> Result<Vec<Inserted>, StoreError> {
    static MANY: LazyLock<String> = LazyLock::new(|| {
        let rows = [insert_values!(); ROWS_PER_INSERT].join(", ");
        format!(concat!("INSERT OR FAIL ", insert_into!(), "{}"), rows)
    });
    let mut ids = Vec::with_capacity(ns.len());
    let mut chunks = ns.chunks_exact(ROWS_PER_INSERT);
    for chunk in &mut chunks {
        let mut st = tx.prepare_cached(&MANY)?;
        for (i, n) in chunk.iter().enumerate() {
            bind_row(&mut st, i * ROW_PARAMS, n, now_ms)?;
        }
        let added = st.raw_execute()?;
        let last = tx.last_insert_rowid();
        if added != chunk.len() {
            return Err(StoreError::Io(format!(
                "{added} of {} new notifications were stored",
                chunk.len()
            )));
        }
        // AUTOINCREMENT numbers a statement's rows one after the other.
        let first = last - (ROWS_PER_INSERT as i64 - 1);
        ids.extend((first..=last).map(Inserted::New));
    }
    for n in chunks.remainder() {
        insert_row(tx, n, now_ms, INSERT)?;
        ids.push(Inserted::New(tx.last_insert_rowid()));
    }
    Ok(ids)
}

/// Inserts or merges one notification; [`insert_all`] counts it.
fn insert_one(
    tx: &Connection,
    n: &IncomingNotification,
    now_ms: i64,
    window_ms: i64,
    unnumbered_at: &mut Option<i64>,
) -> Result<Inserted, StoreError> {
    let (from, to) = dedupe_window(now_ms, window_ms);
    match n.id {
        Some(server_id) => {
            if !may_have_twin(*unnumbered_at, from) {
                // Rule 3 cannot match: the insert is all, unless rule 1 or
                // 2 has a row with this id.
                if insert_row(tx, n, now_ms, INSERT_UNLESS_ID_KNOWN)? == 1 {
                    return Ok(Inserted::New(tx.last_insert_rowid()));
                }
            }
            let same_id: Option<(i64, String, i64)> = tx
                .prepare_cached(
                    "SELECT local_id, title, received_at FROM notifications WHERE server_id = ?1",
                )?
                .query_row([server_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if let Some((local_id, title, received_at)) = same_id {
                if title == n.title {
                    merge_into(tx, local_id, Some(server_id), n)?;
                    return Ok(Inserted::Duplicate(local_id));
                }
                tracing::info!(
                    server_id,
                    "a server id came back with another title (server database reset?): \
                     keeping the old notification without its id"
                );
                tx.prepare_cached("UPDATE notifications SET server_id = NULL WHERE local_id = ?1")?
                    .execute([local_id])?;
                note_unnumbered(unnumbered_at, received_at);
            }
            if let Some(local_id) = may_have_twin(*unnumbered_at, from)
                .then(|| find_twin(tx, n, from, to, true))
                .transpose()?
                .flatten()
            {
                tx.prepare_cached("UPDATE notifications SET server_id = ?2 WHERE local_id = ?1")?
                    .execute([local_id, server_id])?;
                merge_into(tx, local_id, Some(server_id), n)?;
                return Ok(Inserted::Duplicate(local_id));
            }
        }
        None => {
            if let Some(local_id) = find_twin(tx, n, from, to, false)? {
                merge_into(tx, local_id, None, n)?;
                return Ok(Inserted::Duplicate(local_id));
            }
            note_unnumbered(unnumbered_at, now_ms);
        }
    }
    insert_row(tx, n, now_ms, INSERT)?;
    Ok(Inserted::New(tx.last_insert_rowid()))
}

/// The received times a content twin of a notification received at
/// `now_ms` may have: within `window_ms` either side.
fn dedupe_window(now_ms: i64, window_ms: i64) -> (i64, i64) {
    let window = window_ms.max(0);
    (now_ms.saturating_sub(window), now_ms.saturating_add(window))
}

/// Whether a row without a server id can have been received since `from`
/// (the last one was at `unnumbered_at`): rule 3 may match only then.
fn may_have_twin(unnumbered_at: Option<i64>, from: i64) -> bool {
    unnumbered_at.is_some_and(|at| at >= from)
}

/// A row without a server id was received (or became one) at `at`.
fn note_unnumbered(unnumbered_at: &mut Option<i64>, at: i64) {
    *unnumbered_at = Some(unnumbered_at.map_or(at, |last| last.max(at)));
}

/// The parameters of one row's values.
const ROW_PARAMS: usize = 8;

const INSERT: &str = concat!("INSERT ", insert_into!(), insert_values!());

/// [`INSERT`], which does nothing (0 rows) if a row has the server id.
const INSERT_UNLESS_ID_KNOWN: &str = concat!(
    "INSERT ",
    insert_into!(),
    insert_values!(),
    " ON CONFLICT (server_id) WHERE server_id IS NOT NULL DO NOTHING"
);

/// Runs `sql`, [`INSERT`] or [`INSERT_UNLESS_ID_KNOWN`], for `n`; how
/// many rows it added.
fn insert_row(
    tx: &Connection,
    n: &IncomingNotification,
    now_ms: i64,
    sql: &str,
) -> Result<usize, StoreError> {
    let mut st = tx.prepare_cached(sql)?;
    bind_row(&mut st, 0, n, now_ms)?;
    Ok(st.raw_execute()?)
}

/// Binds `n` as the row whose parameters follow the `before` first ones.
fn bind_row(
    st: &mut Statement<'_>,
    before: usize,
    n: &IncomingNotification,
    now_ms: i64,
) -> Result<(), StoreError> {
    st.raw_bind_parameter(before + 1, n.id)?;
    st.raw_bind_parameter(before + 2, &n.title)?;
    st.raw_bind_parameter(before + 3, &n.body)?;
    st.raw_bind_parameter(before + 4, n.kind.as_str())?;
    st.raw_bind_parameter(before + 5, data_to_sql(&n.data))?;
    st.raw_bind_parameter(before + 6, time_to_sql(n.created_at))?;
    st.raw_bind_parameter(before + 7, now_ms)?;
    st.raw_bind_parameter(before + 8, n.is_read.unwrap_or(false))?;
    Ok(())
}

/// A row with the same kind, title and body received within the window;
/// `unnumbered_only` limits it to rows without a server id.
fn find_twin(
    tx: &Connection,
    n: &IncomingNotification,
    from_ms: i64,
    to_ms: i64,
    unnumbered_only: bool,
) -> Result<Option<i64>, StoreError> {
    let sql = if unnumbered_only {
        "SELECT local_id FROM notifications
         WHERE kind = ?1 AND title = ?2 AND received_at BETWEEN ?3 AND ?4
           AND body = ?5 AND server_id IS NULL
         ORDER BY local_id LIMIT 1"
    } else {
        "SELECT local_id FROM notifications
         WHERE kind = ?1 AND title = ?2 AND received_at BETWEEN ?3 AND ?4
           AND body = ?5
         ORDER BY local_id LIMIT 1"
    };
    Ok(tx
        .prepare_cached(sql)?
        .query_row(
            params![n.kind.as_str(), n.title, from_ms, to_ms, n.body],
            |r| r.get(0),
        )
        .optional()?)
}

/// Rule 1's updates of a stored row from a duplicate.
fn merge_into(
    tx: &Connection,
    local_id: i64,
    server_id: Option<i64>,
    n: &IncomingNotification,
) -> Result<(), StoreError> {
    match n.is_read {
        Some(true) => {
            tx.prepare_cached(
                "UPDATE notifications SET is_read = 1 WHERE local_id = ?1 AND is_read = 0",
            )?
            .execute([local_id])?;
        }
        Some(false) if !read_intent_pending(tx, server_id)? => {
            tx.prepare_cached(
                "UPDATE notifications SET is_read = 0 WHERE local_id = ?1 AND is_read = 1",
            )?
            .execute([local_id])?;
        }
        _ => {}
    }
    if !n.data.is_empty() {
        tx.prepare_cached(
            "UPDATE notifications SET data = ?2 WHERE local_id = ?1 AND data IN ('', '{}')",
        )?
        .execute(params![local_id, data_to_sql(&n.data)])?;
    }
    if let Some(created_at) = time_to_sql(n.created_at) {
        tx.prepare_cached(
            "UPDATE notifications SET created_at = ?2 WHERE local_id = ?1 AND created_at IS NULL",
        )?
        .execute(params![local_id, created_at])?;
    }
    Ok(())
}

/// True when the outbox still holds a "mark read" that covers this row: a
/// server answer saying "unread" is then older than the user's intent.
fn read_intent_pending(tx: &Connection, server_id: Option<i64>) -> Result<bool, StoreError> {
    // CASE keeps json_extract away from a payload damaged on disk.
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind = 'mark_all_read'
                OR (kind = 'mark_read' AND ?1 IS NOT NULL AND
                    CASE WHEN json_valid(payload)
                         THEN json_extract(payload, '$.server_id') END = ?1))",
        )?
        .query_row([server_id], |r| r.get(0))?)
}

fn data_to_sql(data: &Map<String, Value>) -> String {
    // A map of JSON values always serialises; the fallback is for form.
    serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredNotification> {
    let kind: String = r.get(4)?;
    let data: String = r.get(5)?;
    Ok(StoredNotification {
        local_id: r.get(0)?,
        server_id: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        kind: NotificationKind::from_wire(&kind),
        data: match serde_json::from_str(&data) {
            Ok(Value::Object(m)) => m,
            _ => {
                tracing::warn!("ignoring unreadable stored notification data");
                Map::new()
            }
        },
        created_at: time_from_sql(r.get(6)?),
        received_at_ms: r.get(7)?,
        is_read: r.get(8)?,
        popped: r.get(9)?,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::OutboxOp;
    use std::time::Instant;

    pub(crate) fn incoming(id: Option<i64>, title: &str, body: &str) -> IncomingNotification {
        IncomingNotification {
            id,
            title: title.into(),
            body: body.into(),
            kind: NotificationKind::Booking,
            data: Map::new(),
            created_at: None,
            is_read: None,
        }
    }

    const WINDOW: i64 = 10_000;

    /// The counters must always equal a real count.
    pub(crate) fn assert_counters_consistent(s: &Store) {
        let (total, unread): (i64, i64) = s
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(is_read = 0), 0) FROM notifications",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(s.notification_count().unwrap(), total as u64, "total");
        assert_eq!(s.unread_count().unwrap(), unread as u64, "unread");
        let by_kind: u64 = s.unread_by_kind().unwrap().values().sum();
        assert_eq!(by_kind, unread as u64, "unread by kind");
    }

    #[test]
    fn one_transaction_counts_its_inserts_even_when_a_later_one_merges_into_them() {
        let mut s = Store::open_in_memory().unwrap();
        // The first ever of its kind, then the same one read, then another
        // kind: one batch, as a catch-up page or a burst stores them.
        let first = incoming(Some(1), "Leak fixed", "Flat 2");
        let mut read_again = first.clone();
        read_again.is_read = Some(true);
        let mut message = incoming(Some(2), "Hello", "from Tom");
        message.kind = NotificationKind::Message;
        let r = s
            .insert_notifications(&[first, read_again, message], 1000, WINDOW)
            .unwrap();
        assert!(matches!(
            r[..],
            [Inserted::New(_), Inserted::Duplicate(_), Inserted::New(_)]
        ));
        assert_eq!(s.notification_count().unwrap(), 2);
        assert_eq!(s.unread_count().unwrap(), 1);
        assert_counters_consistent(&s);
        // A single insert counts itself the same way.
        s.insert_notification(&incoming(Some(3), "Later", "x"), 2000, WINDOW)
            .unwrap();
        assert_eq!(s.unread_count().unwrap(), 2);
        assert_counters_consistent(&s);
    }

    #[test]
    fn same_server_id_and_title_is_a_duplicate_that_takes_read_state_and_data() {
        let mut s = Store::open_in_memory().unwrap();
        let first = s
            .insert_notification(&incoming(Some(7), "New booking", "Tom"), 1000, WINDOW)
            .unwrap();
        let Inserted::New(local) = first else {
            panic!("{first:?}")
        };
        let mut again = incoming(Some(7), "New booking", "Tom (edited body)");
        again.is_read = Some(true);
        again.data.insert("booking_id".into(), 3.into());
        again.created_at = crate::protocol::parse_time("2026-01-02T03:04:05Z");
        // Long after the window: server ids match regardless of time.
        let r = s.insert_notification(&again, 1_000_000, WINDOW).unwrap();
        assert_eq!(r, Inserted::Duplicate(local));
        let n = s.notification(local).unwrap().unwrap();
        assert!(n.is_read);
        assert_eq!(n.data["booking_id"], 3);
        assert_eq!(n.created_at, again.created_at);
        assert_eq!(n.body, "Tom", "content is not rewritten");
        assert_eq!(s.notification_count().unwrap(), 1);

        // Stored data is kept when the incoming has other data.
        let mut third = incoming(Some(7), "New booking", "Tom");
        third.data.insert("booking_id".into(), 99.into());
        third.is_read = Some(false);
        s.insert_notification(&third, 1_000_001, WINDOW).unwrap();
        let n = s.notification(local).unwrap().unwrap();
        assert_eq!(n.data["booking_id"], 3);
        assert!(
            !n.is_read,
            "the server says unread again and no local intent says otherwise"
        );
        assert_counters_consistent(&s);
    }

    #[test]
    fn a_stale_unread_answer_does_not_undo_an_unsent_mark_read() {
        let mut s = Store::open_in_memory().unwrap();
        let local = s
            .insert_notification(&incoming(Some(7), "t", "b"), 0, WINDOW)
            .unwrap()
            .local_id();
        s.enqueue(&OutboxOp::MarkRead { server_id: 7 }, 1).unwrap();
        let mut stale = incoming(Some(7), "t", "b");
        stale.is_read = Some(false);
        s.insert_notification(&stale, 2, WINDOW).unwrap();
        assert!(s.notification(local).unwrap().unwrap().is_read);
        assert_eq!(s.unread_count().unwrap(), 0);
        assert_counters_consistent(&s);
    }

    #[test]
    fn a_reused_server_id_with_another_title_keeps_the_old_row_detached() {
        let mut s = Store::open_in_memory().unwrap();
        let old = s
            .insert_notification(&incoming(Some(1), "Before reset", "x"), 0, WINDOW)
            .unwrap()
            .local_id();
        assert!(s.is_known(1, "Before reset").unwrap());
        let r = s
            .insert_notification(&incoming(Some(1), "After reset", "y"), 50_000, WINDOW)
            .unwrap();
        let Inserted::New(new) = r else {
            panic!("{r:?}")
        };
        assert_ne!(new, old);
        let old_row = s.notification(old).unwrap().unwrap();
        assert_eq!(old_row.server_id, None);
        assert_eq!(old_row.title, "Before reset");
        assert_eq!(
            s.notification_by_server_id(1).unwrap().unwrap().local_id,
            new
        );
        assert!(!s.is_known(1, "Before reset").unwrap());
        assert!(s.is_known(1, "After reset").unwrap());
        assert_eq!(s.notification_count().unwrap(), 2);
        assert_counters_consistent(&s);
    }

    #[test]
    fn a_live_item_without_id_takes_the_id_when_rest_brings_it_within_the_window() {
        let mut s = Store::open_in_memory().unwrap();
        let live = s
            .insert_notification(&incoming(None, "New message", "Hi"), 1_000, WINDOW)
            .unwrap();
        assert!(live.is_new());
        let mut rest = incoming(Some(42), "New message", "Hi");
        rest.is_read = Some(false);
        let r = s.insert_notification(&rest, 5_000, WINDOW).unwrap();
        assert_eq!(r, Inserted::Duplicate(live.local_id()));
        assert_eq!(
            s.notification(live.local_id()).unwrap().unwrap().server_id,
            Some(42)
        );
        assert_eq!(s.max_server_id().unwrap(), Some(42));
    }

    #[test]
    fn an_id_is_not_attached_outside_the_window_or_across_kinds_or_bodies() {
        let mut s = Store::open_in_memory().unwrap();
        s.insert_notification(&incoming(None, "T", "B"), 0, WINDOW)
            .unwrap();
        // Too late.
        assert!(s
            .insert_notification(&incoming(Some(1), "T", "B"), WINDOW + 1, WINDOW)
            .unwrap()
            .is_new());
        s.insert_notification(&incoming(None, "T", "B"), 100_000, WINDOW)
            .unwrap();
        // Another kind.
        let mut other_kind = incoming(Some(2), "T", "B");
        other_kind.kind = NotificationKind::Message;
        assert!(s
            .insert_notification(&other_kind, 100_001, WINDOW)
            .unwrap()
            .is_new());
        // Another body.
        assert!(s
            .insert_notification(&incoming(Some(3), "T", "B2"), 100_002, WINDOW)
            .unwrap()
            .is_new());
        // Same content: attaches to the unnumbered row, not to row 1.
        assert_eq!(
            s.insert_notification(&incoming(Some(4), "T", "B"), 100_003, WINDOW)
                .unwrap(),
            Inserted::Duplicate(3)
        );
    }

    #[test]
    fn an_id_attaches_only_to_a_row_without_one() {
        let mut s = Store::open_in_memory().unwrap();
        s.insert_notification(&incoming(Some(1), "T", "B"), 0, WINDOW)
            .unwrap();
        // Same content, another id, within the window: a second real event.
        assert!(s
            .insert_notification(&incoming(Some(2), "T", "B"), 10, WINDOW)
            .unwrap()
            .is_new());
    }

    #[test]
    fn an_item_without_id_is_a_duplicate_of_same_content_within_the_window_only() {
        let mut s = Store::open_in_memory().unwrap();
        let first = s
            .insert_notification(&incoming(Some(9), "T", "B"), 0, WINDOW)
            .unwrap();
        assert_eq!(
            s.insert_notification(&incoming(None, "T", "B"), WINDOW, WINDOW)
                .unwrap(),
            Inserted::Duplicate(first.local_id())
        );
        assert!(s
            .insert_notification(&incoming(None, "T", "B"), WINDOW + 1, WINDOW)
            .unwrap()
            .is_new());
        assert!(s
            .insert_notification(&incoming(None, "T", "other"), WINDOW + 2, WINDOW)
            .unwrap()
            .is_new());
    }

    #[test]
    fn new_rows_take_the_incoming_read_state() {
        let mut s = Store::open_in_memory().unwrap();
        let mut read = incoming(Some(1), "a", "b");
        read.is_read = Some(true);
        let r = s.insert_notification(&read, 0, WINDOW).unwrap();
        assert!(s.notification(r.local_id()).unwrap().unwrap().is_read);
        let r = s
            .insert_notification(&incoming(Some(2), "c", "d"), 0, WINDOW)
            .unwrap();
        assert!(!s.notification(r.local_id()).unwrap().unwrap().is_read);
        assert_eq!(s.unread_count().unwrap(), 1);
    }

    #[test]
    fn a_twin_without_an_id_is_found_across_a_reopen_and_only_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let mut s = Store::open(&path).unwrap();
            // Numbered rows alone: each is one insert.
            s.insert_notification(&incoming(Some(1), "n", "b"), 1_000, WINDOW)
                .unwrap();
            // A legacy live one, no id.
            s.insert_notification(&incoming(None, "a", "b"), 2_000, WINDOW)
                .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        // Its REST twin within the window takes the id: the store kept
        // when it last had a row without one.
        let r = s
            .insert_notification(&incoming(Some(2), "a", "b"), 2_000 + WINDOW, WINDOW)
            .unwrap();
        assert!(matches!(r, Inserted::Duplicate(_)), "{r:?}");
        assert_eq!(s.notification_by_server_id(2).unwrap().unwrap().title, "a");
        // Past the window, the same content is a new notification.
        s.insert_notification(&incoming(None, "c", "b"), 3_000, WINDOW)
            .unwrap();
        let r = s
            .insert_notification(&incoming(Some(3), "c", "b"), 3_001 + WINDOW, WINDOW)
            .unwrap();
        assert!(r.is_new(), "{r:?}");
        // And a known id is still rule 1's duplicate on the one-insert path.
        let r = s
            .insert_notification(&incoming(Some(1), "n", "b"), 10 * WINDOW, WINDOW)
            .unwrap();
        assert!(matches!(r, Inserted::Duplicate(_)), "{r:?}");
        assert_eq!(s.notification_count().unwrap(), 4);
        assert_counters_consistent(&s);
    }

    #[test]
    fn a_batch_is_stored_in_order_and_dedupes_within_itself() {
        let mut s = Store::open_in_memory().unwrap();
        let batch = vec![
            incoming(Some(1), "a", "x"),
            incoming(Some(2), "b", "x"),
            incoming(Some(1), "a", "x"),
            incoming(None, "b", "x"),
        ];
        let r = s.insert_notifications(&batch, 0, WINDOW).unwrap();
        assert_eq!(
            r,
            vec![
                Inserted::New(1),
                Inserted::New(2),
                Inserted::Duplicate(1),
                Inserted::Duplicate(2)
            ]
        );
    }

    /// A live stream's batch: numbered, in order, above what is stored.
    fn fresh_batch(ids: std::ops::RangeInclusive<i64>) -> Vec<IncomingNotification> {
        ids.map(|i| {
            let mut n = incoming(Some(i), &format!("t{i}"), &format!("b{i}"));
            n.kind = NotificationKind::ALL[i as usize % NotificationKind::ALL.len()];
            n.is_read = (i % 4 == 0).then_some(true);
            n.data.insert("booking_id".into(), i.into());
            n.created_at = crate::protocol::parse_time(&format!("2026-01-02T03:04:{:02}Z", i % 60));
            n
        })
        .collect()
    }

    #[test]
    fn a_fresh_batch_is_stored_as_one_by_one_would_store_it() {
        // Two statements of many rows and a remainder, after a row stored
        // before: each one is stored whole, in order, and counted.
        let batch = fresh_batch(10..=(9 + 2 * ROWS_PER_INSERT as i64 + 5));
        let mut many = Store::open_in_memory().unwrap();
        let mut one_by_one = Store::open_in_memory().unwrap();
        for s in [&mut many, &mut one_by_one] {
            s.insert_notification(&incoming(Some(3), "before", "x"), 0, WINDOW)
                .unwrap();
        }
        assert!(
            all_fresh(&many.conn, &batch, 5, WINDOW, many.unnumbered_at).unwrap(),
            "the batch takes the statements of many rows"
        );
        let r = many.insert_notifications(&batch, 5, WINDOW).unwrap();
        let alone: Vec<_> = batch
            .iter()
            .map(|n| one_by_one.insert_notification(n, 5, WINDOW).unwrap())
            .collect();
        assert_eq!(r, alone);
        assert_eq!(
            r,
            (2..=batch.len() as i64 + 1)
                .map(Inserted::New)
                .collect::<Vec<_>>()
        );
        for (n, r) in batch.iter().zip(&r) {
            let stored = many.notification(r.local_id()).unwrap().unwrap();
            assert_eq!(
                stored,
                one_by_one.notification(r.local_id()).unwrap().unwrap()
            );
            assert_eq!(stored.server_id, n.id);
            assert_eq!((&stored.title, &stored.body), (&n.title, &n.body));
            assert_eq!(
                (stored.kind, stored.is_read),
                (n.kind, n.is_read == Some(true))
            );
            assert_eq!((&stored.data, stored.created_at), (&n.data, n.created_at));
        }
        assert_eq!(
            many.unread_count().unwrap(),
            one_by_one.unread_count().unwrap()
        );
        assert_counters_consistent(&many);
    }

    #[test]
    fn a_batch_that_may_meet_a_stored_row_is_matched_row_by_row() {
        let mut s = Store::open_in_memory().unwrap();
        let mut live = fresh_batch(40..=40).remove(0);
        live.id = None;
        let unnumbered = s.insert_notification(&live, 0, WINDOW).unwrap().local_id();
        // Numbered, in order, above every stored id; but a row without an
        // id was received within the window, and its twin takes the id.
        let r = s
            .insert_notifications(&fresh_batch(40..=80), 10, WINDOW)
            .unwrap();
        assert_eq!(r[0], Inserted::Duplicate(unnumbered));
        assert!(r[1..].iter().all(|r| r.is_new()));
        assert_eq!(
            s.notification(unnumbered).unwrap().unwrap().server_id,
            Some(40)
        );
        // Later, ids already stored among new ones.
        let r = s
            .insert_notifications(&fresh_batch(60..=100), 10 * WINDOW, WINDOW)
            .unwrap();
        for (id, r) in (60..=100).zip(&r) {
            if id <= 80 {
                let stored = s.notification_by_server_id(id).unwrap().unwrap();
                assert_eq!(*r, Inserted::Duplicate(stored.local_id), "{id}");
            } else {
                assert!(r.is_new(), "{id}");
            }
        }
        // New ids out of order: stored in the batch's order.
        let mut backwards = fresh_batch(101..=140);
        backwards.reverse();
        let r = s
            .insert_notifications(&backwards, 10 * WINDOW, WINDOW)
            .unwrap();
        let ids: Vec<_> = r.iter().map(|r| r.local_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] + 1 == w[1]), "{ids:?}");
        assert_eq!(
            s.notification(ids[0]).unwrap().unwrap().server_id,
            Some(140)
        );
        // A new id twice: the second is the first's duplicate.
        let mut twice = fresh_batch(141..=142);
        twice.push(twice[1].clone());
        let r = s.insert_notifications(&twice, 10 * WINDOW, WINDOW).unwrap();
        assert!(r[0].is_new() && r[1].is_new(), "{r:?}");
        assert_eq!(r[2], Inserted::Duplicate(r[1].local_id()));
        assert_eq!(s.notification_count().unwrap(), 103);
        assert_counters_consistent(&s);
    }

    #[test]
    fn mark_popped_is_recorded() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s
            .insert_notification(&incoming(Some(1), "a", "x"), 0, WINDOW)
            .unwrap()
            .local_id();
        let b = s
            .insert_notification(&incoming(Some(2), "b", "x"), 0, WINDOW)
            .unwrap()
            .local_id();
        s.mark_popped(&[a, 12345]).unwrap();
        assert!(s.notification(a).unwrap().unwrap().popped);
        assert!(!s.notification(b).unwrap().unwrap().popped);
    }

    fn filled(n: i64) -> Store {
        let mut s = Store::open_in_memory().unwrap();
        let kinds = NotificationKind::ALL;
        let batch: Vec<_> = (1..=n)
            .map(|i| {
                let mut x = incoming(Some(i), &format!("t{i}"), "b");
                x.kind = kinds[(i as usize) % kinds.len()];
                x.is_read = Some(i % 3 == 0);
                x
            })
            .collect();
        s.insert_notifications(&batch, 0, WINDOW).unwrap();
        s
    }

    #[test]
    fn list_is_newest_first_and_keyset_pages_cover_everything_once() {
        let s = filled(103);
        for kind in [None, Some(NotificationKind::Booking)] {
            for unread_only in [false, true] {
                let mut seen = Vec::new();
                let mut before = None;
                loop {
                    let page = s
                        .list_notifications(&ListQuery {
                            kind,
                            unread_only,
                            before,
                            limit: 10,
                        })
                        .unwrap();
                    if page.is_empty() {
                        break;
                    }
                    assert!(page.len() <= 10);
                    before = page.last().map(|n| n.local_id);
                    seen.extend(page);
                }
                let expected: Vec<i64> = (1..=103)
                    .rev()
                    .filter(|i| kind.is_none_or(|k| NotificationKind::ALL[(*i as usize) % 6] == k))
                    .filter(|i| !unread_only || i % 3 != 0)
                    .collect();
                let got: Vec<i64> = seen.iter().map(|n| n.local_id).collect();
                assert_eq!(got, expected, "kind {kind:?} unread_only {unread_only}");
                assert!(seen.iter().all(|n| !unread_only || !n.is_read));
            }
        }
    }

    #[test]
    fn list_limit_is_capped_and_zero_is_empty() {
        let s = filled(5);
        let q = ListQuery {
            limit: 0,
            ..ListQuery::default()
        };
        assert!(s.list_notifications(&q).unwrap().is_empty());
        let q = ListQuery {
            limit: u32::MAX,
            ..ListQuery::default()
        };
        assert_eq!(s.list_notifications(&q).unwrap().len(), 5);
    }

    #[test]
    fn every_list_and_lookup_query_uses_an_index_without_sorting() {
        let s = filled(10);
        let plan = |sql: &str| -> String {
            let mut st = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>();
            rows.join(" | ")
        };
        let lists = [
            "WHERE local_id < 5",
            "WHERE local_id < 5 AND is_read = 0",
            "WHERE local_id < 5 AND kind = 'booking'",
            "WHERE local_id < 5 AND kind = 'booking' AND is_read = 0",
        ];
        for w in lists {
            let p = plan(&format!(
                "SELECT {COLUMNS} FROM notifications {w} ORDER BY local_id DESC LIMIT 50"
            ));
            assert!(!p.contains("TEMP B-TREE"), "{w}: {p}");
            assert!(
                !p.contains("SCAN notifications") || w == lists[0],
                "{w}: {p}"
            );
        }
        let lookups = [
            "SELECT local_id FROM notifications WHERE server_id = 3",
            "SELECT MAX(server_id) FROM notifications WHERE server_id IS NOT NULL",
            "SELECT local_id FROM notifications WHERE kind = 'booking' AND title = 't' \
             AND received_at BETWEEN 0 AND 10 AND body = 'b' AND server_id IS NULL",
            "SELECT server_id FROM notifications WHERE server_id BETWEEN 1 AND 5 AND is_read = 0",
        ];
        for q in lookups {
            let p = plan(q);
            assert!(p.contains("INDEX"), "{q}: {p}");
            assert!(!p.contains("SCAN notifications"), "{q}: {p}");
        }
        // A booking's status, read with each booking row, and its bound.
        let p = plan("SELECT status, at_ms FROM booking_status WHERE booking_id = 7");
        assert!(p.contains("PRIMARY KEY"), "booking status: {p}");
        let p = plan("SELECT booking_id FROM booking_status ORDER BY learnt_seq LIMIT 3");
        assert!(
            p.contains("booking_status_by_age"),
            "booking status bound: {p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "booking status bound: {p}");
    }

    #[test]
    fn a_booking_status_reaches_every_notification_about_it_and_no_other() {
        let mut s = Store::open_in_memory().unwrap();
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        let about = |id: i64, kind, data: serde_json::Value, created: i64| {
            let mut n = incoming(Some(id), &format!("n{id}"), "b");
            n.kind = kind;
            n.data = data.as_object().cloned().unwrap();
            n.created_at = Some(at(created));
            n
        };
        let pending = serde_json::json!({"booking_id": 7, "status": "pending", "landlord_id": 1});
        let batch = [
            about(1, NotificationKind::Booking, pending.clone(), 0),
            // The same booking, its id as digits (and zero-padded), from a
            // REST page.
            about(
                2,
                NotificationKind::Booking,
                serde_json::json!({"booking_id": "7", "status": "pending"}),
                0,
            ),
            about(
                3,
                NotificationKind::Booking,
                serde_json::json!({"booking_id": "007", "status": "pending"}),
                0,
            ),
            about(
                4,
                NotificationKind::Booking,
                serde_json::json!({"booking_id": 8, "status": "pending"}),
                0,
            ),
            // Another kind that names the booking keeps its own status.
            about(
                5,
                NotificationKind::Maintenance,
                serde_json::json!({"booking_id": 7, "status": "pending"}),
                0,
            ),
            // Created after the status was learnt: its own data is newer.
            about(
                6,
                NotificationKind::Booking,
                serde_json::json!({"booking_id": 7, "status": "cancelled"}),
                20,
            ),
        ];
        s.insert_notifications(&batch, 0, WINDOW).unwrap();
        let status = |s: &Store, server_id| {
            let n = s.notification_by_server_id(server_id).unwrap().unwrap();
            (n.context().status, n.data.get("landlord_id").cloned())
        };
        s.set_booking_status(7, "approved", at(10)).unwrap();
        assert_eq!(
            status(&s, 1),
            (Some("approved".into()), Some(serde_json::json!(1))),
            "the rest of data kept"
        );
        assert_eq!(status(&s, 2).0.as_deref(), Some("approved"));
        assert_eq!(status(&s, 3).0.as_deref(), Some("approved"), "007 is 7");
        assert_eq!(status(&s, 4).0.as_deref(), Some("pending"));
        assert_eq!(status(&s, 5).0.as_deref(), Some("pending"));
        assert_eq!(status(&s, 6).0.as_deref(), Some("cancelled"));
        let local = s.notification_by_server_id(1).unwrap().unwrap().local_id;
        assert_eq!(
            s.notification(local)
                .unwrap()
                .unwrap()
                .context()
                .status
                .as_deref(),
            Some("approved")
        );
        let listed = s.list_notifications(&ListQuery::default()).unwrap();
        let listed: Vec<_> = listed
            .iter()
            .map(|n| (n.server_id.unwrap(), n.context().status.unwrap()))
            .collect();
        assert!(listed.contains(&(1, "approved".into())), "{listed:?}");
        assert!(listed.contains(&(4, "pending".into())), "{listed:?}");
        // A notification stored after the update (its data came late,
        // with the server's snapshot) reads as decided all the same.
        s.insert_notifications(
            &[about(
                7,
                NotificationKind::Booking,
                serde_json::json!({"booking_id": 7, "status": "pending"}),
                1,
            )],
            0,
            WINDOW,
        )
        .unwrap();
        assert_eq!(status(&s, 7).0.as_deref(), Some("approved"));
        s.set_booking_status(99, "approved", at(10)).unwrap();
        assert_counters_consistent(&s);
        // A damaged row (not JSON, written past the store) fails nothing.
        s.conn
            .execute(
                "INSERT INTO notifications (server_id, title, body, kind, data, received_at) \
                 VALUES (50, 't', 'b', 'booking', 'not json', 1)",
                [],
            )
            .unwrap();
        assert!(status(&s, 50).0.is_none());
    }

    #[test]
    fn booking_statuses_are_kept_for_the_newest_bookings_only() {
        let mut s = Store::open_in_memory().unwrap();
        let kept = BOOKING_STATUSES_KEPT;
        let at = |i: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + i, 0).unwrap();
        // Evicted by when they were learnt, not by the server's times.
        for i in 0..kept + 5 {
            s.set_booking_status(i, "approved", at(-i)).unwrap();
        }
        let (count, oldest): (i64, i64) = s
            .conn
            .query_row(
                "SELECT count(*), min(booking_id) FROM booking_status",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, oldest), (kept, 5));
    }

    #[test]
    fn unread_counter_stays_right_through_insert_mark_mark_all_and_reconcile() {
        let mut s = filled(60);
        assert_counters_consistent(&s);
        assert_eq!(s.unread_count().unwrap(), 40);

        s.enqueue(&OutboxOp::MarkRead { server_id: 1 }, 0).unwrap();
        assert_eq!(s.unread_count().unwrap(), 39);
        assert_counters_consistent(&s);

        // Marking an already read one changes nothing.
        s.enqueue(&OutboxOp::MarkRead { server_id: 3 }, 0).unwrap();
        assert_eq!(s.unread_count().unwrap(), 39);

        s.set_read_local(2).unwrap();
        assert_eq!(s.unread_count().unwrap(), 38);
        assert_counters_consistent(&s);

        // Server says only 4, 5 and 100 (unknown here) are unread within 1..=10.
        let unread: HashSet<i64> = [4, 5, 100].into_iter().collect();
        let changed = s.reconcile_read_state(1, 10, &unread).unwrap();
        // Unread in 1..=10 before: 4,5,7,8,10 -> 7, 8, 10 change.
        assert_eq!(changed, 3);
        assert_eq!(s.unread_count().unwrap(), 35);
        assert!(!s.notification_by_server_id(4).unwrap().unwrap().is_read);
        assert!(s.notification_by_server_id(7).unwrap().unwrap().is_read);
        assert!(!s.notification_by_server_id(11).unwrap().unwrap().is_read);
        assert_counters_consistent(&s);

        s.insert_notification(&incoming(None, "fresh", "x"), 0, WINDOW)
            .unwrap();
        assert_eq!(s.unread_count().unwrap(), 36);

        s.enqueue(&OutboxOp::MarkAllRead, 0).unwrap();
        assert_eq!(s.unread_count().unwrap(), 0);
        assert!(s.unread_by_kind().unwrap().is_empty());
        assert_counters_consistent(&s);
        assert_eq!(s.notification_count().unwrap(), 61);
    }

    #[test]
    fn damaged_fields_on_disk_read_as_defaults_not_panics() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .insert_notification(&incoming(Some(1), "a", "b"), 0, WINDOW)
            .unwrap()
            .local_id();
        s.conn
            .execute(
                "UPDATE notifications SET kind = 'alien', data = 'not json', created_at = 'yesterday'",
                [],
            )
            .unwrap();
        let n = s.notification(id).unwrap().unwrap();
        assert_eq!(n.kind, NotificationKind::General);
        assert!(n.data.is_empty());
        assert_eq!(n.created_at, None);
        assert_counters_consistent(&s);
        // A column of the wrong type is an error, not a panic.
        s.conn
            .execute("UPDATE notifications SET title = x'00ff'", [])
            .unwrap();
        assert!(s.notification(id).is_err());
    }

    #[test]
    fn a_database_damaged_mid_file_gives_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let mut s = Store::open(&path).unwrap();
            let batch: Vec<_> = (1..=2000)
                .map(|i| incoming(Some(i), &format!("title {i}"), &"body ".repeat(20)))
                .collect();
            s.insert_notifications(&batch, 0, WINDOW).unwrap();
            s.conn
                .pragma_update(None, "wal_checkpoint", "TRUNCATE")
                .unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        let mut bytes = std::fs::read(&path).unwrap();
        let start = (len / 3) as usize;
        for (i, b) in bytes[start..start + 40_000].iter_mut().enumerate() {
            *b = (i * 7919 % 251) as u8;
        }
        std::fs::write(&path, &bytes).unwrap();
        // Every call may fail, none may panic.
        if let Ok(mut s) = Store::open(&path) {
            let _ = s.list_notifications(&ListQuery::default());
            let _ = s.list_notifications(&ListQuery {
                before: Some(1500),
                unread_only: true,
                kind: Some(NotificationKind::Booking),
                limit: 500,
            });
            let _ = s.unread_count();
            let _ = s.max_server_id();
            let _ = s.notification(1000);
            let _ = s.insert_notification(&incoming(Some(5000), "n", "b"), 0, WINDOW);
            let _ = s.enqueue(&OutboxOp::MarkAllRead, 0);
            let _ = s.conversations(1);
        }
    }

    /// Run with
    /// `cargo test --release -p smarthunt-core --lib store::notifications::tests::million -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn million_rows_first_page_and_unread_count_stay_fast() {
        const N: i64 = 1_000_000;
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store.db")).unwrap();
        let t = Instant::now();
        // Bulk fill through SQL, then the counters the store would have
        // kept; 3/4 unread, kinds spread evenly.
        s.conn
            .execute_batch(&format!(
                "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {N})
                 INSERT INTO notifications
                    (server_id, title, body, kind, data, created_at, received_at, is_read, popped)
                 SELECT i, 'Notification ' || i, 'Body of notification number ' || i,
                        CASE i % 6 WHEN 0 THEN 'booking' WHEN 1 THEN 'message'
                             WHEN 2 THEN 'maintenance' WHEN 3 THEN 'property'
                             WHEN 4 THEN 'review' ELSE 'general' END,
                        '{{\"booking_id\":' || i || '}}', '2026-01-02T03:04:05Z', i, i % 4 = 0, 1
                 FROM seq;
                 INSERT OR REPLACE INTO notification_counts (kind, total, unread)
                    SELECT kind, COUNT(*), SUM(is_read = 0) FROM notifications GROUP BY kind;"
            ))
            .unwrap();
        println!("bulk insert of {N} rows: {:?}", t.elapsed());
        assert_eq!(s.notification_count().unwrap(), N as u64);

        // A fresh connection, as after a restart: nothing cached.
        drop(s);
        let mut s = Store::open(&dir.path().join("store.db")).unwrap();
        let time = |label: &str, f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            let cold = t.elapsed();
            let t = Instant::now();
            for _ in 0..100 {
                f();
            }
            println!("{label}: first {cold:?}, then {:?} each", t.elapsed() / 100);
            cold
        };
        let mut worst = std::time::Duration::ZERO;
        worst = worst.max(time("unread_count", &mut || {
            assert_eq!(s.unread_count().unwrap(), 750_000);
        }));
        for (label, kind, unread_only) in [
            ("first page, all", None, false),
            ("first page, unread", None, true),
            (
                "first page, booking",
                Some(NotificationKind::Booking),
                false,
            ),
            (
                "first page, booking unread",
                Some(NotificationKind::Booking),
                true,
            ),
        ] {
            worst = worst.max(time(label, &mut || {
                let page = s
                    .list_notifications(&ListQuery {
                        kind,
                        unread_only,
                        before: None,
                        limit: 50,
                    })
                    .unwrap();
                assert_eq!(page.len(), 50);
            }));
        }
        time("page deep in the list (before = 500,000)", &mut || {
            let page = s
                .list_notifications(&ListQuery {
                    before: Some(500_000),
                    unread_only: true,
                    ..ListQuery::default()
                })
                .unwrap();
            assert_eq!(page.len(), 50);
        });
        time("max_server_id", &mut || {
            assert_eq!(s.max_server_id().unwrap(), Some(N));
        });
        time("is_known", &mut || {
            assert!(s
                .is_known(N / 2, &format!("Notification {}", N / 2))
                .unwrap());
        });
        // Real-world unread COUNT(*) for comparison with the counter.
        time("COUNT(*) WHERE is_read = 0 (not used)", &mut || {
            let _: i64 = s
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM notifications WHERE is_read = 0",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
        });
        let t = Instant::now();
        let mut next = N + 1;
        for _ in 0..1000 {
            s.insert_notification(&incoming(Some(next), "New", "x"), next, WINDOW)
                .unwrap();
            next += 1;
        }
        println!(
            "insert_notification (own transaction each): {:?} each",
            t.elapsed() / 1000
        );
        let t = Instant::now();
        let batch: Vec<_> = (0..20)
            .map(|i| incoming(Some(next + i), "Catch-up", "x"))
            .collect();
        s.insert_notifications(&batch, next, WINDOW).unwrap();
        println!("insert_notifications, a page of 20: {:?}", t.elapsed());
        let t = Instant::now();
        s.enqueue(&OutboxOp::MarkAllRead, 0).unwrap();
        println!("mark all read over 750k unread rows: {:?}", t.elapsed());
        assert_eq!(s.unread_count().unwrap(), 0);
        let t = Instant::now();
        assert_counters_consistent(&s);
        println!("full recount (test check only): {:?}", t.elapsed());
        assert!(
            worst < std::time::Duration::from_millis(20),
            "a first page or the unread count took {worst:?}"
        );
    }
}
