//! The outbox: user intents written down (with their local effect) before anything is sent; it never sends, retries or decides when to.
//!
//! An item's life: [`Store::enqueue`] (pending) -> [`Store::outbox_begin_attempt`]
//! just before the request leaves (in flight) -> either
//! [`Store::outbox_done`] (acknowledged: gone) or [`Store::outbox_failed`]
//! (known not to have happened: pending again). An item found in flight
//! after a restart has an unknown outcome: the request may or may not have
//! reached the server. Mark-read intents are idempotent and may simply be
//! sent again; a chat send must first be looked for on the server.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::protocol::ChatMessage;

/// Longest error text kept with an item.
const MAX_ERROR_CHARS: usize = 500;

/// An intent to carry out on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OutboxOp {
    MarkRead { server_id: i64 },
    MarkAllRead,
    SendChat { receiver: i64, content: String },
}

impl OutboxOp {
    /// The `kind` column (and the serde tag).
    fn kind(&self) -> &'static str {
        match self {
            Self::MarkRead { .. } => "mark_read",
            Self::MarkAllRead => "mark_all_read",
            Self::SendChat { .. } => "send_chat",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub op: OutboxOp,
    /// An attempt began and its outcome was never recorded: the request may
    /// have reached the server. Cleared by [`Store::outbox_failed`].
    pub in_flight: bool,
    pub attempts: u32,
    pub created_at_ms: i64,
    pub last_attempt_ms: Option<i64>,
    pub last_error: Option<String>,
}

impl Store {
    /// Applies the intent's local effect and writes it down, in one
    /// transaction, and returns the outbox id:
    /// - `MarkRead`: that notification becomes read (if it is stored; the
    ///   intent is queued either way);
    /// - `MarkAllRead`: every notification becomes read;
    /// - `SendChat`: a pending chat message appears in the thread with the
    ///   receiver ([`super::StoredChatMessage::pending`]).
    ///
    /// A mark-read or mark-all-read identical to one still waiting (not in
    /// flight) is not queued twice: the waiting item's id is returned.
    pub fn enqueue(&mut self, op: &OutboxOp, now_ms: i64) -> Result<i64, StoreError> {
        // Serialising a tagged enum of integers and strings cannot fail.
        let payload = serde_json::to_string(op).unwrap_or_default();
        let tx = self.conn.transaction()?;
        let waiting: Option<i64> = if matches!(op, OutboxOp::SendChat { .. }) {
            None
        } else {
            tx.prepare_cached(
                "SELECT id FROM outbox WHERE kind = ?1 AND payload = ?2 AND state = 'pending'",
            )?
            .query_row([op.kind(), &payload], |r| r.get(0))
            .optional()?
        };
        let id = match waiting {
            Some(id) => id,
            None => {
                tx.prepare_cached(
                    "INSERT INTO outbox (kind, payload, state, attempts, created_at_ms)
                     VALUES (?1, ?2, 'pending', 0, ?3)",
                )?
                .execute(params![op.kind(), payload, now_ms])?;
                tx.last_insert_rowid()
            }
        };
        match op {
            OutboxOp::MarkRead { server_id } => {
                tx.prepare_cached(
                    "UPDATE notifications SET is_read = 1 WHERE server_id = ?1 AND is_read = 0",
                )?
                .execute([server_id])?;
            }
            OutboxOp::MarkAllRead => {
                tx.prepare_cached("UPDATE notifications SET is_read = 1 WHERE is_read = 0")?
                    .execute([])?;
            }
            OutboxOp::SendChat { receiver, content } => {
                tx.prepare_cached(
                    "INSERT INTO chat_messages
                        (server_id, sender_id, recipient_id, peer_id, content, sent_at,
                         at_ms, received_at_ms, is_read, outbox_id)
                     VALUES (NULL, NULL, ?1, ?1, ?2, NULL, ?3, ?3, 1, ?4)",
                )?
                .execute(params![receiver, content, now_ms, id])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// Every queued item, oldest first. An item whose payload cannot be
    /// read (damaged on disk, or written by a newer app) is logged and
    /// left out; [`Self::outbox_discard`] removes it.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, payload, state, attempts, created_at_ms, last_attempt_ms, last_error
             FROM outbox ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut items = Vec::new();
        for row in rows {
            let (id, payload, state, attempts, created_at_ms, last_attempt_ms, last_error) = row?;
            let Ok(op) = serde_json::from_str::<OutboxOp>(&payload) else {
                tracing::warn!(outbox = id, "skipping an outbox item that cannot be read");
                continue;
            };
            items.push(OutboxItem {
                id,
                op,
                in_flight: state == "in_flight",
                attempts: u32::try_from(attempts).unwrap_or(0),
                created_at_ms,
                last_attempt_ms,
                last_error,
            });
        }
        Ok(items)
    }

    /// How many items are queued.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM outbox")?
            .query_row([], |r| r.get(0))?;
        Ok(super::count_from_sql(n))
    }

    /// Call right before the request leaves: marks the item in flight and
    /// counts the attempt, so that after a crash its outcome is known to be
    /// unknown. Fails with [`StoreError::NoSuchOutboxItem`] for an id that
    /// is not queued.
    pub fn outbox_begin_attempt(&mut self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1,
                    last_attempt_ms = ?2
                 WHERE id = ?1",
            )?
            .execute([id, now_ms])?;
        if changed == 0 {
            return Err(StoreError::NoSuchOutboxItem(id));
        }
        Ok(())
    }

    /// The attempt is known NOT to have taken effect (refused before
    /// sending, a 4xx/5xx that guarantees nothing was saved): back to
    /// pending with the error kept. Do not call it when the outcome is
    /// unknown (timeout, connection lost after sending): leave the item in
    /// flight. No-op for an id that is not queued.
    pub fn outbox_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        self.conn
            .prepare_cached("UPDATE outbox SET state = 'pending', last_error = ?2 WHERE id = ?1")?
            .execute(params![id, error])?;
        Ok(())
    }

    /// Acknowledged: removes the item. For a chat send, `sent` is the
    /// server's copy of the message: the pending row takes its server id and
    /// time and stops being pending, or, when that message is already stored
    /// (it arrived by another path first), the pending row is deleted. With
    /// `sent` = `None` the pending row just stops being pending. No-op for
    /// an id that is not queued (already done).
    pub fn outbox_done(&mut self, id: i64, sent: Option<&ChatMessage>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let pending_row: Option<i64> = tx
            .prepare_cached("SELECT local_id FROM chat_messages WHERE outbox_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(row) = pending_row {
            let already_stored: Option<i64> = match sent.and_then(|m| m.id) {
                Some(server_id) => tx
                    .prepare_cached(
                        "SELECT local_id FROM chat_messages WHERE server_id = ?1 AND local_id <> ?2",
                    )?
                    .query_row([server_id, row], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            match (sent, already_stored) {
                (Some(_), Some(_)) => {
                    tx.prepare_cached("DELETE FROM chat_messages WHERE local_id = ?1")?
                        .execute([row])?;
                }
                (Some(m), None) => {
                    tx.prepare_cached(
                        "UPDATE chat_messages SET server_id = ?2, sender_id = ?3,
                            sent_at = COALESCE(?4, sent_at), at_ms = COALESCE(?5, at_ms),
                            outbox_id = NULL
                         WHERE local_id = ?1",
                    )?
                    .execute(params![
                        row,
                        m.id,
                        m.sender_id,
                        super::time_to_sql(m.sent_at),
                        m.sent_at.map(|t| t.timestamp_millis()),
                    ])?;
                }
                (None, _) => {
                    tx.prepare_cached(
                        "UPDATE chat_messages SET outbox_id = NULL WHERE local_id = ?1",
                    )?
                    .execute([row])?;
                }
            }
        }
        tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
            .execute([id])?;
        tx.commit()?;
        Ok(())
    }

    /// Gives an item up for good (the server refused it for ever, or it
    /// cannot be read): removes it, and a chat send's pending message with
    /// it. The local effect of a mark-read stays.
    pub fn outbox_discard(&mut self, id: i64) -> Result<(), StoreError> {
        // The pending chat row goes by ON DELETE CASCADE, in the same statement.
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse_time;
    use crate::store::notifications::tests::{assert_counters_consistent, incoming};

    const ME: i64 = 1;
    const TOM: i64 = 2;

    fn server_copy(id: i64, content: &str) -> ChatMessage {
        ChatMessage {
            id: Some(id),
            sender_id: ME,
            recipient_id: TOM,
            sender_name: None,
            content: content.into(),
            sent_at: parse_time("2026-01-02T03:04:05Z"),
            property_id: None,
            is_read: Some(false),
        }
    }

    #[test]
    fn ops_round_trip_through_the_table_in_order() {
        let mut s = Store::open_in_memory().unwrap();
        let ops = [
            OutboxOp::MarkRead { server_id: 5 },
            OutboxOp::MarkAllRead,
            OutboxOp::SendChat {
                receiver: TOM,
                content: "hello \"there\"".into(),
            },
        ];
        let ids: Vec<i64> = ops.iter().map(|op| s.enqueue(op, 100).unwrap()).collect();
        let items = s.outbox().unwrap();
        assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), ids);
        assert_eq!(items.iter().map(|i| i.op.clone()).collect::<Vec<_>>(), ops);
        assert!(items
            .iter()
            .all(|i| !i.in_flight && i.attempts == 0 && i.created_at_ms == 100));
        assert_eq!(s.outbox_len().unwrap(), 3);
    }

    #[test]
    fn mark_read_applies_locally_at_once_and_is_queued_even_when_unknown() {
        let mut s = Store::open_in_memory().unwrap();
        let local = s
            .insert_notification(&incoming(Some(5), "t", "b"), 0, 1000)
            .unwrap()
            .local_id();
        s.enqueue(&OutboxOp::MarkRead { server_id: 5 }, 0).unwrap();
        assert!(s.notification(local).unwrap().unwrap().is_read);
        s.enqueue(&OutboxOp::MarkRead { server_id: 999 }, 0)
            .unwrap();
        assert_eq!(s.outbox().unwrap().len(), 2);
        assert_counters_consistent(&s);
    }

    #[test]
    fn an_identical_waiting_mark_read_is_not_queued_twice() {
        let mut s = Store::open_in_memory().unwrap();
        let a = s.enqueue(&OutboxOp::MarkAllRead, 0).unwrap();
        assert_eq!(s.enqueue(&OutboxOp::MarkAllRead, 1).unwrap(), a);
        // Once in flight, a new intent is a new item.
        s.outbox_begin_attempt(a, 2).unwrap();
        assert_ne!(s.enqueue(&OutboxOp::MarkAllRead, 3).unwrap(), a);
        // Chat sends are never merged.
        let send = OutboxOp::SendChat {
            receiver: TOM,
            content: "x".into(),
        };
        assert_ne!(s.enqueue(&send, 0).unwrap(), s.enqueue(&send, 0).unwrap());
    }

    #[test]
    fn begin_attempt_marks_in_flight_and_failed_puts_it_back() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.enqueue(&OutboxOp::MarkAllRead, 10).unwrap();
        s.outbox_begin_attempt(id, 20).unwrap();
        let item = &s.outbox().unwrap()[0];
        assert!(item.in_flight);
        assert_eq!(item.attempts, 1);
        assert_eq!(item.last_attempt_ms, Some(20));
        s.outbox_failed(id, "connection refused").unwrap();
        let item = &s.outbox().unwrap()[0];
        assert!(!item.in_flight);
        assert_eq!(item.attempts, 1);
        assert_eq!(item.last_error.as_deref(), Some("connection refused"));
        s.outbox_begin_attempt(id, 30).unwrap();
        assert_eq!(s.outbox().unwrap()[0].attempts, 2);
        assert!(matches!(
            s.outbox_begin_attempt(404, 0),
            Err(StoreError::NoSuchOutboxItem(404))
        ));
        s.outbox_failed(404, "x").unwrap();
    }

    #[test]
    fn an_attempt_in_flight_survives_a_restart_as_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let id = {
            let mut s = Store::open(&path).unwrap();
            let id = s
                .enqueue(
                    &OutboxOp::SendChat {
                        receiver: TOM,
                        content: "hi".into(),
                    },
                    0,
                )
                .unwrap();
            s.outbox_begin_attempt(id, 1).unwrap();
            id
            // Dropped without any outcome: as if killed mid-request.
        };
        let s = Store::open(&path).unwrap();
        let items = s.outbox().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id, id);
        assert!(items[0].in_flight);
        assert!(s.thread(ME, TOM, None, 10).unwrap()[0].pending);
    }

    #[test]
    fn a_chat_send_shows_pending_then_becomes_the_servers_message() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .enqueue(
                &OutboxOp::SendChat {
                    receiver: TOM,
                    content: "hello".into(),
                },
                500,
            )
            .unwrap();
        let thread = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(thread.len(), 1);
        assert!(thread[0].pending);
        assert_eq!(thread[0].sender_id, ME);
        assert_eq!(thread[0].recipient_id, TOM);
        assert_eq!(thread[0].server_id, None);

        s.outbox_begin_attempt(id, 600).unwrap();
        s.outbox_done(id, Some(&server_copy(77, "hello"))).unwrap();
        assert!(s.outbox().unwrap().is_empty());
        let thread = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(thread.len(), 1);
        assert!(!thread[0].pending);
        assert_eq!(thread[0].server_id, Some(77));
        assert_eq!(thread[0].sent_at, parse_time("2026-01-02T03:04:05Z"));
        // The same message arriving later is a duplicate.
        let again = s
            .insert_chat_message(ME, &server_copy(77, "hello"), 700)
            .unwrap();
        assert_eq!(again, Some(thread[0].local_id));
        assert_eq!(s.thread(ME, TOM, None, 10).unwrap().len(), 1);
        // Done twice is harmless.
        s.outbox_done(id, None).unwrap();
    }

    #[test]
    fn a_sent_message_that_arrived_first_by_another_path_replaces_the_pending_row() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .enqueue(
                &OutboxOp::SendChat {
                    receiver: TOM,
                    content: "hello".into(),
                },
                500,
            )
            .unwrap();
        s.insert_chat_message(ME, &server_copy(77, "hello"), 550)
            .unwrap();
        assert_eq!(s.thread(ME, TOM, None, 10).unwrap().len(), 2);
        s.outbox_done(id, Some(&server_copy(77, "hello"))).unwrap();
        let thread = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].server_id, Some(77));
        assert!(!thread[0].pending);
        assert!(s.outbox().unwrap().is_empty());
    }

    #[test]
    fn done_without_the_servers_copy_keeps_the_message_as_sent() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .enqueue(
                &OutboxOp::SendChat {
                    receiver: TOM,
                    content: "hello".into(),
                },
                500,
            )
            .unwrap();
        s.outbox_done(id, None).unwrap();
        let thread = s.thread(ME, TOM, None, 10).unwrap();
        assert_eq!(thread.len(), 1);
        assert!(!thread[0].pending);
        assert_eq!(thread[0].sender_id, ME);
    }

    #[test]
    fn discarding_a_send_removes_its_pending_message() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s
            .enqueue(
                &OutboxOp::SendChat {
                    receiver: TOM,
                    content: "hello".into(),
                },
                500,
            )
            .unwrap();
        s.outbox_discard(id).unwrap();
        assert!(s.outbox().unwrap().is_empty());
        assert!(s.thread(ME, TOM, None, 10).unwrap().is_empty());
        assert!(s.conversations(ME).unwrap().is_empty());
    }

    #[test]
    fn an_unreadable_item_is_skipped_not_fatal() {
        let mut s = Store::open_in_memory().unwrap();
        let bad = s.enqueue(&OutboxOp::MarkRead { server_id: 1 }, 0).unwrap();
        s.enqueue(&OutboxOp::MarkRead { server_id: 2 }, 0).unwrap();
        s.conn
            .execute(
                "UPDATE outbox SET payload = '{\"op\":\"teleport\"' WHERE id = ?1",
                [bad],
            )
            .unwrap();
        let items = s.outbox().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].op, OutboxOp::MarkRead { server_id: 2 });
        // A damaged payload does not break dedupe's read-intent check either.
        let mut n = incoming(Some(3), "t", "b");
        n.is_read = Some(false);
        s.insert_notification(&n, 0, 10).unwrap();
        assert!(s.insert_notification(&n, 0, 10).is_ok());
        s.outbox_discard(bad).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 1);
    }
}
