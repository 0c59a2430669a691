//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
//! past 1,000 pages: that one commit copies the pages back into the database
//! and syncs both files on the writing thread, a stall of several
//! milliseconds every hundred or so notifications. Here the store's own
//! connection never checkpoints. Each commit nudges a thread with a
//! connection of its own, which runs a PASSIVE checkpoint: it neither waits
//! for the writer nor blocks it. Nudges arriving while a checkpoint runs or
//! while the thread rests fold into one, so a burst costs a few checkpoints
//! a second and an idle store none at all (the thread sleeps in `recv`).
//!
//! The thread ends when the store's connection is dropped (its commit hook
//! holds the only sender); closing its own connection last then leaves a
//! fully checkpointed database, as before.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use rusqlite::Connection;

use super::{open_error, StoreError, BUSY_TIMEOUT};

/// The least time between two checkpoints: it bounds the WAL to what is
/// written in this time, and the checkpoints to a few a second in a burst.
const REST: Duration = Duration::from_millis(200);

/// Largest WAL file kept on disk after it has been checkpointed and reset.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Hands checkpoints of the database behind `conn` (opened from `path`) to a
/// thread of their own.
pub(super) fn take_over(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(|e| open_error(path, e))?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
        .map_err(|e| open_error(path, e))?;
    let own = Connection::open(path).map_err(|e| open_error(path, e))?;
    own.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(path, e))?;
    let (nudge, nudged) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || run(own, nudged))
        .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
    conn.commit_hook(Some(move || {
        wake(&nudge);
        false // never veto the commit
    }));
    Ok(())
}

/// Never blocks the committing thread: a nudge already waiting covers this
/// commit too.
fn wake(nudge: &SyncSender<()>) {
    match nudge.try_send(()) {
        Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
    }
}

fn run(conn: Connection, nudged: Receiver<()>) {
    while nudged.recv().is_ok() {
        // The nudge comes from inside the commit: let it finish first.
        std::thread::sleep(REST);
        if let Err(e) = checkpoint(&conn) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry after the next write");
        }
    }
}

/// One PASSIVE checkpoint; SQLITE_BUSY (another checkpoint running) is not
/// an error: the next nudge tries again.
fn checkpoint(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::super::notifications::tests::incoming;
    use super::super::Store;
    use std::time::{Duration, Instant};

    fn size(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn commits_never_checkpoint_and_the_thread_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        let autocheckpoint: i64 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0, "the writer must never checkpoint");
        // Start from a database file that holds everything written so far.
        let _: i64 = store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        let empty = size(&path);
        // Well past the 1,000 pages at which SQLite would have checkpointed
        // inside a commit.
        for i in 1..=1000 {
            let n = incoming(Some(i), &format!("Booking {i}"), "Flat 2");
            store.insert_notification(&n, 1_000, 10_000).unwrap();
        }
        // Rows reach the database file only through a checkpoint; the
        // writer does none, so the thread must have.
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&path) < empty + 128 * 1024 {
            assert!(
                Instant::now() < deadline,
                "nothing was checkpointed: the database file is still {} bytes",
                size(&path)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(store.unread_count().unwrap(), 1000);
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(
            again.unread_count().unwrap(),
            1000,
            "nothing lost on reopen"
        );
    }
}
