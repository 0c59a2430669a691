//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
//! past 1,000 pages: that one commit copies the pages back into the database
//! and syncs both files on the writing thread, a stall of several
//! milliseconds every hundred or so notifications. Here each commit nudges
//! a thread with a connection of its own, which runs a PASSIVE checkpoint:
//! it neither waits for the writer nor blocks it. Nudges arriving while a
//! checkpoint runs or while the thread rests fold into one, so a burst costs
//! a few checkpoints a second and an idle store none at all (the thread
//! sleeps in `recv`).
//!
//! The WAL starts over only when a write begins after everything in it was
//! copied back. Steady writes (a notification a millisecond) add frames
//! while a checkpoint copies, so the thread runs PASSIVE checkpoints, each
//! shorter than the last, until one finds nothing new: the writer's next
//! transaction then starts the WAL over by itself, at the cost of one small
//! sync. Transactions written back to back (a long burst, a bulk import)
//! leave no such moment, and the WAL would grow without end: when it holds
//! more than [`RESTART_PAGES`] after those rounds, the thread waits for the
//! writer's current transaction, holds the next one back while it copies
//! the rest, and so makes the next write start the WAL over: only then does
//! the writer ever wait. (A RESTART as soon as the WAL had passed
//! [`RESTART_PAGES`], with no rounds before it, held the writer back often
//! enough at 1,000 notifications a second for a p99 of 12.5 to 13 ms.)
//!
//! The thread ends when the store's connection is closed (its commit hook
//! holds the only sender), and the store waits for it: closing its own
//! connection last leaves a fully checkpointed database and no WAL, as a
//! lone connection would.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{open_error, StoreError, BUSY_TIMEOUT};

/// The least time between two checkpoints: it bounds the WAL to what is
/// written in this time, and the checkpoints to 20 a second in a burst.
/// Shorter is smoother for the writer: what a checkpoint copies and syncs
/// is flushed to the disk at once, and a commit that meets that flush
/// waits for it. At 1,000 notifications a second, 200 ms between
/// checkpoints gave 3 of 6 latency runs a p99 of 3.2 to 5.3 ms; 50 ms and
/// 20 ms kept all 6 at 0.74 to 1.02 ms; 1 s gave 28 to 32 ms.
const REST: Duration = Duration::from_millis(50);

/// WAL pages past which the thread makes the WAL start over, waiting for
/// the writer if it must (16 MB; SQLite's own checkpoint runs at 1,000).
const RESTART_PAGES: i64 = 4096;

/// PASSIVE checkpoints tried, after the first, to catch up with the writer
/// before a RESTART makes it wait.
const CATCH_UP_ROUNDS: usize = 8;

/// Largest WAL file kept on disk after it has been checkpointed and reset.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// The checkpoint thread; dropping it (after the store's connection) waits
/// for its last checkpoint.
pub(super) struct Checkpoints(Option<JoinHandle<()>>);

impl Drop for Checkpoints {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            // A panic there has been reported already; nothing to add.
            let _ = thread.join();
        }
    }
}

/// Hands checkpoints of the database behind `conn` (opened from `path`) to a
/// thread of their own, which runs until `conn` is closed.
pub(super) fn take_over(conn: &Connection, path: &Path) -> Result<Checkpoints, StoreError> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(|e| open_error(path, e))?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
        .map_err(|e| open_error(path, e))?;
    let own = Connection::open(path).map_err(|e| open_error(path, e))?;
    own.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(path, e))?;
    let (nudge, nudged) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || run(own, nudged))
        .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
    conn.commit_hook(Some(move || {
        wake(&nudge);
        false // never veto the commit
    }));
    Ok(Checkpoints(Some(thread)))
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

/// PASSIVE checkpoints until one finds the WAL as the last one left it,
/// copied back whole, and a RESTART when writes left it no such moment and
/// it grew past [`RESTART_PAGES`]. A PASSIVE checkpoint copies what was
/// committed when it began; what the writer added meanwhile takes the next
/// one, much shorter, and so on. Once a round finds nothing new, the
/// writer's next transaction starts the WAL over by itself, at the cost of
/// one small sync of the WAL's header; a RESTART instead holds the writer
/// back while it copies and syncs both files. SQLITE_BUSY (the writer did
/// not finish in time, or another checkpoint runs) is not an error: the
/// next nudge tries again.
fn checkpoint(conn: &Connection) -> Result<(), rusqlite::Error> {
    let mut wal = passive(conn)?;
    for _ in 0..CATCH_UP_ROUNDS {
        let again = passive(conn)?;
        // A round reports the frames it saw when it began, and copies them
        // all unless a reader holds some back: "all copied" alone says
        // nothing of what the writer added meanwhile. Only the same count
        // as the round before says nothing was. (Stopping at "all copied"
        // left the WAL never starting over at 1,000 a second, and a p99 of
        // 106 to 282 ms in 12 of 15 latency runs, against 2.3 to 11 ms.)
        if again.frames == wal.frames && again.copied >= again.frames {
            return Ok(());
        }
        wal = again;
    }
    if wal.frames > RESTART_PAGES {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}

/// What a checkpoint left: the WAL's frames, and how many of them are in
/// the database file.
struct Wal {
    frames: i64,
    copied: i64,
}

fn passive(conn: &Connection) -> Result<Wal, rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Wal {
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
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
    fn single_commits_are_checkpointed_by_the_thread_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        // Start from a database file that holds everything written so far.
        let _: i64 = store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        let empty = size(&path);
        // Past SQLite's default of 1,000 pages (about 9 a notification).
        let autocheckpoint: i64 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0, "the writer never checkpoints");
        for i in 1..=300 {
            let n = incoming(Some(i), &format!("Booking {i}"), "Flat 2");
            store.insert_notification(&n, 1_000, 10_000).unwrap();
        }
        // Rows reach the database file only through a checkpoint.
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&path) <= empty {
            assert!(
                Instant::now() < deadline,
                "nothing was checkpointed: the database file is still {} bytes",
                size(&path)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(store.unread_count().unwrap(), 300);
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.unread_count().unwrap(), 300, "nothing lost on reopen");
    }

    #[test]
    fn a_steady_writer_keeps_the_wal_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let wal_path = path.with_extension("db-wal");
        let mut store = Store::open(&path).unwrap();
        // A notification a millisecond for 4 s, each in its own commit, as
        // the engine stores them at 1,000 a second: about 36,000 WAL pages
        // (140 MB) if the WAL never started over.
        let mut largest = 0;
        for i in 1..=4_000 {
            let n = incoming(Some(i), &format!("Booking {i}"), "Flat 2");
            store.insert_notification(&n, 1_000, 10_000).unwrap();
            largest = largest.max(size(&wal_path));
            std::thread::sleep(Duration::from_millis(1));
        }
        // Bounded, as for the bulk import below: a slow disk may let it
        // pass the RESTART's 16 MB before a round catches up.
        assert!(
            largest < 64 * 1024 * 1024,
            "the WAL grew to {} MB",
            largest / (1024 * 1024)
        );
        assert_eq!(store.unread_count().unwrap(), 4_000);
    }

    #[test]
    fn back_to_back_transactions_keep_the_wal_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        // 100,000 notifications in bulk, as an import would write them.
        for batch in 0..10 {
            let ns: Vec<_> = (1..=10_000)
                .map(|i| {
                    let id = batch * 10_000 + i;
                    incoming(Some(id), &format!("Booking {id}"), "Flat 2")
                })
                .collect();
            store.insert_notifications(&ns, 1_000, 10_000).unwrap();
        }
        let wal = size(&path.with_extension("db-wal"));
        assert!(
            wal < 64 * 1024 * 1024,
            "the WAL grew to {} MB",
            wal / (1024 * 1024)
        );
        assert_eq!(store.unread_count().unwrap(), 100_000);
        drop(store);
        assert_eq!(
            size(&path.with_extension("db-wal")),
            0,
            "closed, the store leaves no WAL behind"
        );
    }
}
