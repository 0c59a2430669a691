//! The database schema as an append-only list of migrations; never edit or reorder a released step, only add new ones.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{MigrationDefinitionError, Migrations, M};

use super::{is_corruption, StoreError};

/// Version 1: the whole first schema.
///
/// Counters: `notification_counts` holds, per kind, how many notifications
/// exist and how many are unread. Triggers keep it right inside whatever
/// transaction changes `notifications`, so the unread count is one read of
/// six rows instead of a COUNT over a million.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE notifications (
    local_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   INTEGER,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT,
    received_at INTEGER NOT NULL,
    is_read     INTEGER NOT NULL DEFAULT 0 CHECK (is_read IN (0, 1)),
    popped      INTEGER NOT NULL DEFAULT 0 CHECK (popped IN (0, 1))
);
CREATE UNIQUE INDEX notifications_by_server_id
    ON notifications (server_id) WHERE server_id IS NOT NULL;
CREATE INDEX notifications_by_read ON notifications (is_read, local_id);
CREATE INDEX notifications_by_kind ON notifications (kind, local_id);
CREATE INDEX notifications_by_kind_read ON notifications (kind, is_read, local_id);
-- Content dedupe: equality on kind and title, a range on received_at; the
-- body is compared on the few rows in the window (keeping it out of the
-- index halves the index's size).
CREATE INDEX notifications_by_content ON notifications (kind, title, received_at);

CREATE TABLE notification_counts (
    kind   TEXT PRIMARY KEY NOT NULL,
    total  INTEGER NOT NULL DEFAULT 0,
    unread INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TRIGGER notification_counts_on_insert AFTER INSERT ON notifications
BEGIN
    INSERT INTO notification_counts (kind, total, unread)
        VALUES (NEW.kind, 1, NEW.is_read = 0)
        ON CONFLICT (kind) DO UPDATE SET
            total = total + 1,
            unread = unread + excluded.unread;
END;

CREATE TRIGGER notification_counts_on_delete AFTER DELETE ON notifications
BEGIN
    UPDATE notification_counts
        SET total = total - 1, unread = unread - (OLD.is_read = 0)
        WHERE kind = OLD.kind;
END;

CREATE TRIGGER notification_counts_on_update AFTER UPDATE OF is_read, kind ON notifications
    WHEN OLD.is_read IS NOT NEW.is_read OR OLD.kind IS NOT NEW.kind
BEGIN
    UPDATE notification_counts
        SET total = total - 1, unread = unread - (OLD.is_read = 0)
        WHERE kind = OLD.kind;
    INSERT INTO notification_counts (kind, total, unread)
        VALUES (NEW.kind, 1, NEW.is_read = 0)
        ON CONFLICT (kind) DO UPDATE SET
            total = total + 1,
            unread = unread + excluded.unread;
END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at_ms   INTEGER NOT NULL,
    last_attempt_ms INTEGER,
    last_error      TEXT
);

CREATE TABLE people (
    user_id INTEGER PRIMARY KEY NOT NULL,
    name    TEXT NOT NULL
);

-- Every row involves the account owner; `peer_id` is the other party, so
-- threads and conversations need no OR over sender and recipient.
-- `sender_id` NULL means the owner, for a send still in the outbox (the
-- store does not know the owner's id until the server answers).
-- `at_ms` orders a thread: the server's time when known, else arrival.
CREATE TABLE chat_messages (
    local_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id      INTEGER,
    sender_id      INTEGER,
    recipient_id   INTEGER NOT NULL,
    peer_id        INTEGER NOT NULL,
    content        TEXT NOT NULL,
    sent_at        TEXT,
    at_ms          INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    is_read        INTEGER NOT NULL DEFAULT 0 CHECK (is_read IN (0, 1)),
    property_id    INTEGER,
    outbox_id      INTEGER REFERENCES outbox (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX chat_by_server_id
    ON chat_messages (server_id) WHERE server_id IS NOT NULL;
CREATE INDEX chat_by_peer ON chat_messages (peer_id, at_ms, local_id);
CREATE INDEX chat_by_outbox ON chat_messages (outbox_id) WHERE outbox_id IS NOT NULL;
"#;

/// Version 2: inserts count themselves. The insert trigger's upsert of
/// `notification_counts` ran once per row, a quarter of a burst's insert
/// time; the store now adds each transaction's inserts per kind, once
/// (`notifications::insert_all`). Updates and deletes keep their triggers.
const V2: &str = r#"
DROP TRIGGER notification_counts_on_insert;
"#;

/// Version 3: what each booking's status is now, one row per booking
/// (`Store::set_booking_status`). A notification's `data` is the server's
/// snapshot from when it was created; this says what became of it since,
/// without rewriting any notification or indexing their JSON (an index on
/// the JSON's booking id made every insert of a burst 65 % slower).
///
/// And when a notification without a server id was last received (the
/// `meta` row `unnumbered_received_ms`, kept by the store from now on): an
/// incoming one with an id looks for such a twin only within the dedupe
/// window of it. Found once here, by one pass over the rows.
const V3: &str = r#"
CREATE TABLE booking_status (
    booking_id INTEGER PRIMARY KEY NOT NULL,
    status     TEXT NOT NULL,
    -- When it became so (the server's time, or a decision's here).
    at_ms      INTEGER NOT NULL,
    -- The order it was learnt in: the oldest go first past the bound.
    learnt_seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX booking_status_by_age ON booking_status (learnt_seq);

INSERT INTO meta (key, value)
    SELECT 'unnumbered_received_ms', CAST(max(received_at) AS TEXT)
    FROM notifications WHERE server_id IS NULL
    HAVING count(*) > 0;
"#;

/// Append only. A released step is never edited: add a new one.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2), M::up(V3)])
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrations().to_latest(conn).map_err(|e| match e {
        rusqlite_migration::Error::MigrationDefinition(
            MigrationDefinitionError::DatabaseTooFarAhead,
        ) => StoreError::TooNew {
            path: path.to_owned(),
        },
        rusqlite_migration::Error::RusqliteError { err, .. } if is_corruption(&err) => {
            StoreError::Corrupt {
                path: path.to_owned(),
                source: err,
            }
        }
        other => StoreError::Migration(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn reopening_a_migrated_file_keeps_the_version_and_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let mut s = Store::open(&path).unwrap();
            s.set_meta("k", "v").unwrap();
        }
        let s = Store::open(&path).unwrap();
        let version: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
        assert_eq!(migrations().pending_migrations(&s.conn).unwrap(), 0);
        assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn a_version_1_store_keeps_its_counts_after_the_insert_trigger_goes() {
        use crate::store::notifications::tests::{assert_counters_consistent, incoming};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            // A store as version 1 left it, its counts kept by the trigger.
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            Migrations::new(vec![M::up(V1)])
                .to_latest(&mut conn)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO notifications (server_id, title, body, kind, received_at, is_read)
                 VALUES (1, 'a', 'x', 'booking', 1, 0), (2, 'b', 'x', 'message', 1, 1);
                 -- A damaged row: later versions' indexes must not trip on it.
                 INSERT INTO notifications (server_id, title, body, kind, data, received_at, is_read)
                 VALUES (4, 'd', 'x', 'booking', 'not json', 1, 1);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.unread_count().unwrap(), 1);
        s.insert_notification(&incoming(Some(3), "c", "x"), 2, 10_000)
            .unwrap();
        assert_eq!(s.notification_count().unwrap(), 4);
        assert_eq!(s.unread_count().unwrap(), 2);
        assert_counters_consistent(&s);
    }

    #[test]
    fn a_version_2_store_still_finds_the_twin_of_a_notification_it_had_without_an_id() {
        use crate::store::notifications::tests::incoming;
        use crate::store::Inserted;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            Migrations::new(vec![M::up(V1), M::up(V2)])
                .to_latest(&mut conn)
                .unwrap();
            // A legacy server's live notification, received at 5,000 ms
            // with no id, and an older one with an id.
            conn.execute_batch(
                "INSERT INTO notification_counts (kind, total, unread) VALUES ('booking', 2, 2);
                 INSERT INTO notifications (server_id, title, body, kind, received_at)
                 VALUES (NULL, 'a', 'x', 'booking', 5000), (1, 'b', 'x', 'booking', 9000);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        // The same one from a REST page, with its id, within the window.
        let r = s
            .insert_notification(&incoming(Some(7), "a", "x"), 6_000, 10_000)
            .unwrap();
        assert!(matches!(r, Inserted::Duplicate(_)), "{r:?}");
        assert_eq!(s.notification_count().unwrap(), 2);
    }

    #[test]
    fn a_database_from_a_newer_app_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let s = Store::open(&path).unwrap();
            s.conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
        assert!(err.to_string().contains("newer version"));
    }
}
