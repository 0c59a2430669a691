//! Stored chat messages of the account owner, conversations and known names; it never stores a message between two other users and never sends anything.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{count_from_sql, time_from_sql, time_to_sql, Store, StoreError};
use crate::protocol::ChatMessage;

/// The most messages one thread call returns.
pub const MAX_THREAD_PAGE: u32 = 1000;

/// One person the owner has talked with, and the latest message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Conversation {
    pub other_id: i64,
    pub other_name: Option<String>,
    pub last_content: String,
    /// The server's time of the last message when known, else when it
    /// arrived here (or was queued, for a pending send).
    pub last_at_ms: i64,
    /// Messages from the other person not read yet.
    pub unread: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoredChatMessage {
    pub local_id: i64,
    pub server_id: Option<i64>,
    pub sender_id: i64,
    pub recipient_id: i64,
    pub content: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// The ordering time (see [`Conversation::last_at_ms`]).
    pub at_ms: i64,
    pub is_read: bool,
    /// Queued in the outbox, not acknowledged by the server yet.
    pub pending: bool,
}

impl Store {
    /// Stores a message unless its server id is already stored. A message
    /// that neither comes from nor goes to `me` is rejected (`Ok(None)`) and
    /// never stored. Otherwise returns the local id of the new or already
    /// stored row. A sender name that comes with the message is remembered.
    /// A duplicate takes the incoming read state when that says "read".
    pub fn insert_chat_message(
        &mut self,
        me: i64,
        m: &ChatMessage,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        if m.sender_id != me && m.recipient_id != me {
            tracing::warn!("dropping a chat message between two other users");
            return Ok(None);
        }
        let outgoing = m.sender_id == me;
        let peer = if outgoing {
            m.recipient_id
        } else {
            m.sender_id
        };
        let tx = self.conn.transaction()?;
        if let Some(name) = m.sender_name.as_deref() {
            remember_name(&tx, m.sender_id, name)?;
        }
        if let Some(server_id) = m.id {
            let existing: Option<i64> = tx
                .prepare_cached("SELECT local_id FROM chat_messages WHERE server_id = ?1")?
                .query_row([server_id], |r| r.get(0))
                .optional()?;
            if let Some(local_id) = existing {
                if m.is_read == Some(true) {
                    tx.prepare_cached(
                        "UPDATE chat_messages SET is_read = 1 WHERE local_id = ?1 AND is_read = 0",
                    )?
                    .execute([local_id])?;
                }
                if let Some(sent_at) = time_to_sql(m.sent_at) {
                    tx.prepare_cached(
                        "UPDATE chat_messages SET sent_at = ?2 WHERE local_id = ?1 AND sent_at IS NULL",
                    )?
                    .execute(params![local_id, sent_at])?;
                }
                tx.commit()?;
                return Ok(Some(local_id));
            }
        }
        // The owner's own messages are read by definition.
        let is_read = outgoing || m.is_read.unwrap_or(false);
        let at_ms = m.sent_at.map_or(now_ms, |t| t.timestamp_millis());
        tx.prepare_cached(
            "INSERT INTO chat_messages
                (server_id, sender_id, recipient_id, peer_id, content, sent_at, at_ms,
                 received_at_ms, is_read, property_id, outbox_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)",
        )?
        .execute(params![
            m.id,
            m.sender_id,
            m.recipient_id,
            peer,
            m.content,
            time_to_sql(m.sent_at),
            at_ms,
            now_ms,
            is_read,
            m.property_id,
        ])?;
        let local_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Some(local_id))
    }

    /// True if a message with this server id is stored.
    pub fn chat_message_known(&self, server_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chat_messages WHERE server_id = ?1)")?
            .query_row([server_id], |r| r.get(0))?)
    }

    /// One entry per person the owner has messages with, most recent first.
    pub fn conversations(&self, me: i64) -> Result<Vec<Conversation>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "WITH ranked AS (
                SELECT peer_id, content, at_ms, local_id,
                       ROW_NUMBER() OVER (PARTITION BY peer_id
                                          ORDER BY at_ms DESC, local_id DESC) AS pos,
                       SUM(CASE WHEN is_read = 0 AND sender_id = peer_id AND peer_id <> ?1
                                THEN 1 ELSE 0 END)
                           OVER (PARTITION BY peer_id) AS unread
                FROM chat_messages
             )
             SELECT r.peer_id, p.name, r.content, r.at_ms, r.unread
             FROM ranked r LEFT JOIN people p ON p.user_id = r.peer_id
             WHERE r.pos = 1
             ORDER BY r.at_ms DESC, r.local_id DESC",
        )?;
        let rows = st.query_map([me], |r| {
            Ok(Conversation {
                other_id: r.get(0)?,
                other_name: r.get(1)?,
                last_content: r.get(2)?,
                last_at_ms: r.get(3)?,
                unread: count_from_sql(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The messages between `me` and `other`, newest first, keyset-paged:
    /// `before` is the `local_id` of the last message of the previous page
    /// (`None` = from the newest). A cursor row that no longer exists gives
    /// an empty page. At most [`MAX_THREAD_PAGE`] messages.
    pub fn thread(
        &self,
        me: i64,
        other: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredChatMessage>, StoreError> {
        const COLUMNS: &str = "local_id, server_id, sender_id, recipient_id, content, sent_at,
                               at_ms, is_read, outbox_id IS NOT NULL";
        let limit = i64::from(limit.min(MAX_THREAD_PAGE));
        let map = |r: &Row<'_>| from_row(r, me);
        let rows = match before {
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM chat_messages WHERE peer_id = ?1
                     ORDER BY at_ms DESC, local_id DESC LIMIT ?2"
                ))?
                .query_map([other, limit], map)?
                .collect::<Result<Vec<_>, _>>()?,
            Some(before) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM chat_messages WHERE peer_id = ?1
                       AND (at_ms, local_id) <
                           (SELECT at_ms, local_id FROM chat_messages WHERE local_id = ?3)
                     ORDER BY at_ms DESC, local_id DESC LIMIT ?2"
                ))?
                .query_map([other, limit, before], map)?
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(rows)
    }

    /// Marks every message from `other` read here (the server has no call
    /// for it). Returns how many changed.
    pub fn mark_thread_read(&mut self, other: i64) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE chat_messages SET is_read = 1
                 WHERE peer_id = ?1 AND sender_id = ?1 AND is_read = 0",
            )?
            .execute([other])?;
        Ok(n as u64)
    }

    /// Remembers a display name (frames and notification data carry names;
    /// REST gives ids only). Blank names are ignored.
    pub fn remember_name(&mut self, user_id: i64, name: &str) -> Result<(), StoreError> {
        remember_name(&self.conn, user_id, name)
    }

    pub fn name_of(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT name FROM people WHERE user_id = ?1")?
            .query_row([user_id], |r| r.get(0))
            .optional()?)
    }
}

fn remember_name(conn: &rusqlite::Connection, user_id: i64, name: &str) -> Result<(), StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO people (user_id, name) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name WHERE name <> excluded.name",
    )?
    .execute(params![user_id, name])?;
    Ok(())
}

/// A NULL sender is the owner (a send the server has not echoed back).
fn from_row(r: &Row<'_>, me: i64) -> rusqlite::Result<StoredChatMessage> {
    Ok(StoredChatMessage {
        local_id: r.get(0)?,
        server_id: r.get(1)?,
        sender_id: r.get::<_, Option<i64>>(2)?.unwrap_or(me),
        recipient_id: r.get(3)?,
        content: r.get(4)?,
        sent_at: time_from_sql(r.get(5)?),
        at_ms: r.get(6)?,
        is_read: r.get(7)?,
        pending: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse_time;
    use crate::store::OutboxOp;

    const ME: i64 = 1;
    const TOM: i64 = 2;
    const ANN: i64 = 3;

    fn msg(id: Option<i64>, from: i64, to: i64, content: &str, at: &str) -> ChatMessage {
        ChatMessage {
            id,
            sender_id: from,
            recipient_id: to,
            sender_name: None,
            content: content.into(),
            sent_at: parse_time(at),
            property_id: None,
            is_read: None,
        }
    }

    #[test]
    fn messages_dedupe_by_server_id() {
        let mut s = Store::open_in_memory().unwrap();
        let m = msg(Some(10), TOM, ME, "hi", "2026-01-01T10:00:00Z");
        let a = s.insert_chat_message(ME, &m, 0).unwrap();
        assert!(a.is_some());
        assert!(s.chat_message_known(10).unwrap());
        assert!(!s.chat_message_known(11).unwrap());
        let mut read = m.clone();
        read.is_read = Some(true);
        assert_eq!(s.insert_chat_message(ME, &read, 1).unwrap(), a);
        let thread = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(thread.len(), 1);
        assert!(thread[0].is_read);
    }

    #[test]
    fn messages_between_two_other_users_are_never_stored() {
        let mut s = Store::open_in_memory().unwrap();
        let mut m = msg(Some(10), TOM, ANN, "private", "2026-01-01T10:00:00Z");
        m.sender_name = Some("Tom".into());
        assert_eq!(s.insert_chat_message(ME, &m, 0).unwrap(), None);
        assert!(!s.chat_message_known(10).unwrap());
        assert!(s.conversations(ME).unwrap().is_empty());
        assert!(s.thread(ME, TOM, None, 10).unwrap().is_empty());
        assert!(s.thread(ME, ANN, None, 10).unwrap().is_empty());
        assert_eq!(s.name_of(TOM).unwrap(), None, "nothing from it is kept");
    }

    #[test]
    fn conversations_group_by_the_other_person_most_recent_first() {
        let mut s = Store::open_in_memory().unwrap();
        let mut from_tom = msg(Some(1), TOM, ME, "hi from Tom", "2026-01-01T10:00:00Z");
        from_tom.sender_name = Some("Tom".into());
        s.insert_chat_message(ME, &from_tom, 0).unwrap();
        s.insert_chat_message(
            ME,
            &msg(Some(2), ME, TOM, "hi Tom", "2026-01-01T10:01:00Z"),
            0,
        )
        .unwrap();
        s.insert_chat_message(
            ME,
            &msg(Some(3), ANN, ME, "hello", "2026-01-01T11:00:00Z"),
            0,
        )
        .unwrap();
        s.insert_chat_message(
            ME,
            &msg(Some(4), ANN, ME, "are you there?", "2026-01-01T11:05:00Z"),
            0,
        )
        .unwrap();
        let mut read = msg(Some(5), ANN, ME, "old and read", "2026-01-01T09:00:00Z");
        read.is_read = Some(true);
        s.insert_chat_message(ME, &read, 0).unwrap();

        let c = s.conversations(ME).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].other_id, ANN);
        assert_eq!(c[0].last_content, "are you there?");
        assert_eq!(c[0].unread, 2);
        assert_eq!(c[0].other_name, None);
        assert_eq!(c[1].other_id, TOM);
        assert_eq!(c[1].other_name.as_deref(), Some("Tom"));
        assert_eq!(c[1].last_content, "hi Tom");
        assert_eq!(c[1].unread, 1, "my own reply is not unread");
        assert_eq!(
            c[1].last_at_ms,
            parse_time("2026-01-01T10:01:00Z")
                .unwrap()
                .timestamp_millis()
        );

        assert_eq!(s.mark_thread_read(ANN).unwrap(), 2);
        assert_eq!(s.conversations(ME).unwrap()[0].unread, 0);

        // A pending send moves its conversation to the top.
        s.enqueue(
            &OutboxOp::SendChat {
                receiver: TOM,
                content: "still there?".into(),
            },
            parse_time("2026-01-01T12:00:00Z")
                .unwrap()
                .timestamp_millis(),
        )
        .unwrap();
        let c = s.conversations(ME).unwrap();
        assert_eq!(c[0].other_id, TOM);
        assert_eq!(c[0].last_content, "still there?");
    }

    #[test]
    fn a_thread_is_newest_first_by_server_time_and_keyset_paged() {
        let mut s = Store::open_in_memory().unwrap();
        // History arrives newest first (as REST pages it), live ones after.
        for i in (1..=25).rev() {
            let (from, to) = if i % 2 == 0 { (ME, TOM) } else { (TOM, ME) };
            let at = format!("2026-01-01T10:{i:02}:00Z");
            s.insert_chat_message(ME, &msg(Some(i), from, to, &format!("m{i}"), &at), 0)
                .unwrap();
        }
        s.insert_chat_message(
            ME,
            &msg(Some(100), ANN, ME, "other thread", "2026-01-01T10:30:00Z"),
            0,
        )
        .unwrap();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s.thread(ME, TOM, before, 10).unwrap();
            if page.is_empty() {
                break;
            }
            before = page.last().map(|m| m.local_id);
            seen.extend(page);
        }
        let ids: Vec<i64> = seen.iter().map(|m| m.server_id.unwrap()).collect();
        assert_eq!(ids, (1..=25).rev().collect::<Vec<_>>());
        assert!(seen
            .iter()
            .all(|m| (m.sender_id == ME && m.recipient_id == TOM)
                || (m.sender_id == TOM && m.recipient_id == ME)));
        assert!(s.thread(ME, TOM, Some(987_654), 10).unwrap().is_empty());
    }

    #[test]
    fn thread_pages_use_the_peer_index_without_sorting() {
        let s = Store::open_in_memory().unwrap();
        for sql in [
            "SELECT local_id FROM chat_messages WHERE peer_id = 2
             ORDER BY at_ms DESC, local_id DESC LIMIT 10",
            "SELECT local_id FROM chat_messages WHERE peer_id = 2
               AND (at_ms, local_id) < (SELECT at_ms, local_id FROM chat_messages WHERE local_id = 5)
             ORDER BY at_ms DESC, local_id DESC LIMIT 10",
        ] {
            let mut st = s.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join(" | ");
            assert!(plan.contains("chat_by_peer"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn names_are_remembered_and_updated_but_not_blanked() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.name_of(TOM).unwrap(), None);
        s.remember_name(TOM, "Tom").unwrap();
        s.remember_name(TOM, "   ").unwrap();
        assert_eq!(s.name_of(TOM).unwrap().as_deref(), Some("Tom"));
        s.remember_name(TOM, "Tom Baker").unwrap();
        assert_eq!(s.name_of(TOM).unwrap().as_deref(), Some("Tom Baker"));
    }

    #[test]
    fn a_message_without_server_time_orders_by_arrival() {
        let mut s = Store::open_in_memory().unwrap();
        let mut m = msg(None, TOM, ME, "no time", "junk");
        m.sent_at = None;
        s.insert_chat_message(ME, &m, 1234).unwrap();
        let t = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(t[0].at_ms, 1234);
        assert_eq!(t[0].sent_at, None);
    }
}
