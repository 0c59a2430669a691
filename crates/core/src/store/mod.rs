//! One account's SQLite database (notifications, chat, outbox, settings); it never touches the network, decides no popups and is never shared by two engines.
//!
//! Durability: WAL with `synchronous=NORMAL` survives a killed process
//! (kill -9) without losing a committed transaction; only an OS crash or a
//! power cut may roll back the last few. Every change that touches more than
//! one row runs in one `IMMEDIATE` transaction, so no crash can leave half of
//! it behind. The unread and total counters are kept by triggers inside the
//! same transactions, so no code path can forget them.
//!
//! Bad data on disk (a foreign file, a corrupted page, a field edited by hand)
//! comes back as a [`StoreError`] or a defaulted field, never a panic.

mod cell;
mod chat;
mod checkpoint;
mod lock;
mod notifications;
mod outbox;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

pub use cell::CellError;
pub(crate) use cell::StoreCell;
pub use chat::{Conversation, StoredChatMessage};
pub use lock::DataDirLock;
pub use notifications::{Inserted, ListQuery, StoredNotification};
pub use outbox::{OutboxItem, OutboxOp};

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory is locked by another running engine (this process
    /// or another one).
    #[error("another SmartHunt engine is already using {}", dir.display())]
    AlreadyRunning { dir: PathBuf },
    /// A file or directory could not be created or opened; the text names it.
    #[error("{0}")]
    Io(String),
    /// The file exists but is not a readable SmartHunt database.
    #[error("{} is not a usable SmartHunt database (damaged or not a database): {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer SmartHunt with a schema we do not know.
    #[error("{} was written by a newer version of SmartHunt; update the app", path.display())]
    TooNew { path: PathBuf },
    #[error("cannot update the database schema: {0}")]
    Migration(#[source] rusqlite_migration::Error),
    #[error("no outbox item {0}")]
    NoSuchOutboxItem(i64),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// True when SQLite reports the file itself as damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            Self::Corrupt { .. } => true,
            Self::Sqlite(e) => is_corruption(e),
            _ => false,
        }
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// One account's database. Synchronous: call it from a blocking thread
/// (closing it, too, waits for its last checkpoint).
pub struct Store {
    conn: Connection,
    /// When a notification without a server id was last received (the
    /// `meta` row [`notifications::UNNUMBERED_AT`]), read once at open.
    unnumbered_at: Option<i64>,
    /// Declared after `conn`: dropped once the connection is closed.
    _checkpoints: Option<checkpoint::Checkpoints>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Store {
    /// Opens (creating it and its parent directories if needed) and migrates
    /// the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private::ensure_dir(parent).map_err(|e| StoreError::Io(e.to_string()))?;
        }
        // Created 0600 before SQLite opens it: its -wal and -shm files
        // take the database's mode.
        crate::private::open_file(path)
            .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
        let mut store = Self::prepare(conn, path)?;
        store._checkpoints = Some(checkpoint::take_over(&store.conn, path)?);
        Ok(store)
    }

    /// A private database in memory, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::prepare(conn, Path::new(":memory:"))
    }

    fn prepare(mut conn: Connection, path: &Path) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_error(path, e))?;
        // The first statement that reads the file: a foreign or damaged file
        // fails here with NOTADB.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| open_error(path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| open_error(path, e))?;
        // Writers take the lock up front, so a read never has to be upgraded
        // to a write mid-transaction (which fails instead of waiting).
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        schema::migrate(&mut conn, path)?;
        let mut store = Store {
            conn,
            unnumbered_at: None,
            _checkpoints: None,
        };
        store.unnumbered_at = store
            .get_meta(notifications::UNNUMBERED_AT)?
            .and_then(|v| v.parse().ok());
        Ok(store)
    }

    /// A small value by key (cursors, settings JSON, server variant).
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        put_meta(&self.conn, key, value)
    }

    pub fn delete_meta(&mut self, key: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    if is_corruption(&e) {
        StoreError::Corrupt {
            path: path.to_owned(),
            source: e,
        }
    } else if matches!(e.sqlite_error_code(), Some(ErrorCode::CannotOpen)) {
        StoreError::Io(format!("cannot open {}: {e}", path.display()))
    } else {
        StoreError::Sqlite(e)
    }
}

/// Times are stored as RFC 3339 text in UTC.
fn time_to_sql(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Sets a `meta` value, inside whatever transaction `conn` is in.
fn put_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Unparseable stored times read as unknown rather than failing the row.
fn time_from_sql(s: Option<String>) -> Option<DateTime<Utc>> {
    let s = s?;
    match DateTime::parse_from_rfc3339(&s) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            tracing::warn!("ignoring an unreadable stored time");
            None
        }
    }
}

/// Counts are never negative; a damaged counter reads as zero.
fn count_from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn meta_round_trips_and_overwrites() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.get_meta("cursor").unwrap(), None);
        s.set_meta("cursor", "12").unwrap();
        s.set_meta("cursor", "13").unwrap();
        assert_eq!(s.get_meta("cursor").unwrap().as_deref(), Some("13"));
        s.delete_meta("cursor").unwrap();
        assert_eq!(s.get_meta("cursor").unwrap(), None);
    }

    #[test]
    fn open_creates_parent_dirs_and_data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/store.db");
        {
            let mut s = Store::open(&path).unwrap();
            s.set_meta("variant", "legacy").unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.get_meta("variant").unwrap().as_deref(), Some("legacy"));
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = s
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = s
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
    }

    #[test]
    fn a_file_of_random_bytes_is_a_clear_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut f = std::fs::File::create(&path).unwrap();
        // A deterministic pseudo-random byte soup, 64 KiB.
        let mut x: u32 = 0x1234_5678;
        let bytes: Vec<u8> = (0..65536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        f.write_all(&bytes).unwrap();
        drop(f);
        let err = Store::open(&path).unwrap_err();
        assert!(err.is_corruption(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("not a usable SmartHunt database"), "{text}");
        assert!(text.contains("store.db"), "{text}");
    }

    const CRASH_CHILD_ENV: &str = "SMARTHUNT_TEST_CRASH_CHILD_DB";

    /// Kills a writer with SIGKILL mid-stream, three times, and checks that
    /// everything it reported committed is there, intact and consistent.
    #[test]
    fn a_killed_writer_loses_nothing_committed_and_corrupts_nothing() {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut committed = Vec::new();
        for round in 0..3 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "store::tests::crash_child_writes_until_killed",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CRASH_CHILD_ENV, &path)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let mut seen = 0;
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(id) = line.strip_prefix("committed ") {
                    committed.push(id.parse::<i64>().unwrap());
                    seen += 1;
                    if seen == 150 + 70 * round {
                        break;
                    }
                }
            }
            child.kill().unwrap();
            // Whatever it reported before dying was committed too.
            for line in lines.map_while(Result::ok) {
                if let Some(id) = line.strip_prefix("committed ") {
                    committed.push(id.parse::<i64>().unwrap());
                }
            }
            child.wait().unwrap();
            assert!(seen > 0, "round {round}: the child wrote nothing");
        }
        let s = Store::open(&path).unwrap();
        let check: String = s
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        for id in &committed {
            assert!(
                s.notification_by_server_id(*id).unwrap().is_some(),
                "committed notification {id} is lost"
            );
        }
        crate::store::notifications::tests::assert_counters_consistent(&s);
        // Every pending chat row still has its outbox item, and back.
        let orphans: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM chat_messages c LEFT JOIN outbox o ON o.id = c.outbox_id
                 WHERE c.outbox_id IS NOT NULL AND o.id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        let sends = s
            .outbox()
            .unwrap()
            .into_iter()
            .filter(|i| matches!(i.op, OutboxOp::SendChat { .. }))
            .count();
        let pending = s.thread(1, 2, None, 1000).unwrap();
        assert_eq!(pending.iter().filter(|m| m.pending).count(), sends);
    }

    /// The writer of the test above; does nothing when run alone.
    #[test]
    #[ignore]
    fn crash_child_writes_until_killed() {
        let Some(path) = std::env::var_os(CRASH_CHILD_ENV) else {
            return;
        };
        let mut s = Store::open(Path::new(&path)).unwrap();
        let mut next = s.max_server_id().unwrap().unwrap_or(0) + 1;
        loop {
            let batch: Vec<_> = (0..5)
                .map(|i| {
                    crate::store::notifications::tests::incoming(
                        Some(next + i),
                        &format!("n{}", next + i),
                        "body",
                    )
                })
                .collect();
            s.insert_notifications(&batch, next, 1000).unwrap();
            for i in 0..5 {
                println!("committed {}", next + i);
            }
            s.enqueue(&OutboxOp::MarkRead { server_id: next }, next)
                .unwrap();
            let send = s
                .enqueue(
                    &OutboxOp::SendChat {
                        receiver: 2,
                        content: format!("m{next}"),
                    },
                    next,
                )
                .unwrap();
            if next % 3 == 0 {
                s.outbox_done(send, None).unwrap();
            }
            if next % 50 == 1 {
                s.enqueue(&OutboxOp::MarkAllRead, next).unwrap();
            }
            next += 5;
        }
    }

    #[test]
    fn a_directory_in_place_of_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Store::open(dir.path()).is_err());
    }
}
