//! The store at scale: fills a fresh database with N notifications through
//! `Store::insert_notifications` (large transactions), reopens it as an app
//! start would, then times the first page of the list and the unread count,
//! and reports the file's size.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Map};
use smarthunt_core::protocol::{IncomingNotification, NotificationKind};
use smarthunt_core::store::{ListQuery, Store};

use crate::error::{BenchError, BenchResult};
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct StorePlan {
    pub rows: u64,
    /// Rows per transaction while filling.
    pub batch: u64,
    /// Timed repetitions of each query.
    pub reps: usize,
}

pub fn figure_names() -> Vec<(String, &'static str)> {
    [
        ("store.rows", "rows"),
        ("store.insert_rows_per_s", "1/s"),
        ("store.first_page_ms", "ms"),
        ("store.first_page_unread_ms", "ms"),
        ("store.unread_count_ms", "ms"),
        ("store.db_size_mb", "MB"),
    ]
    .into_iter()
    .map(|(n, u)| (n.to_owned(), u))
    .collect()
}

/// Measures and returns every figure of [`figure_names`] (blocking: the
/// store is synchronous).
pub fn run(plan: &StorePlan) -> Vec<(String, Figure)> {
    match measure(plan) {
        Ok(f) => f,
        Err(e) => figure_names()
            .into_iter()
            .map(|(n, u)| (n, Figure::not_measured(u, e.to_string())))
            .collect(),
    }
}

/// One in four unread, kinds in turn, ids as a server would give them.
pub fn notification(i: u64, now_ms: i64, rows: u64) -> IncomingNotification {
    let kind = NotificationKind::ALL[(i % NotificationKind::ALL.len() as u64) as usize];
    let mut data = Map::new();
    data.insert("booking_id".into(), json!(i));
    data.insert("property_id".into(), json!(i % 97));
    let age_s = i64::try_from(rows - i).unwrap_or(0);
    IncomingNotification {
        id: i64::try_from(i + 1).ok(),
        title: format!("Notification {i}"),
        body: format!(
            "Benchmark notification number {i}, of kind {}.",
            kind.as_str()
        ),
        kind,
        data,
        created_at: chrono::DateTime::from_timestamp_millis(now_ms - age_s * 1000),
        is_read: Some(!i.is_multiple_of(4)),
    }
}

fn store_error(what: &str) -> impl FnOnce(smarthunt_core::store::StoreError) -> BenchError + '_ {
    move |e| BenchError::failed(format!("{what}: {e}"))
}

/// The room left on the store's disk, for an error that may be about it
/// (SQLite says "database or disk is full").
fn room_left(dir: &Path) -> String {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(fs) => format!(
            "{} MiB free there",
            fs.blocks_available() * fs.fragment_size() / (1024 * 1024)
        ),
        Err(e) => format!("free space unknown: {e}"),
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn timed<T>(reps: usize, mut f: impl FnMut() -> BenchResult<T>) -> BenchResult<(Vec<f64>, T)> {
    let mut runs = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let value = f()?;
        runs.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(value);
    }
    last.map(|v| (runs, v))
        .ok_or_else(|| BenchError::failed("nothing was timed"))
}

/// Opens (creating) the store at `path` and adds notifications `0..rows`
/// made by `make`, `batch` to a transaction, as the engine stores them.
pub fn fill(
    path: &Path,
    rows: u64,
    batch: u64,
    now_ms: i64,
    make: impl Fn(u64) -> IncomingNotification,
) -> BenchResult<()> {
    let mut store = Store::open(path).map_err(store_error("cannot open the store"))?;
    let mut next = 0;
    while next < rows {
        let end = (next + batch.max(1)).min(rows);
        let batch: Vec<IncomingNotification> = (next..end).map(&make).collect();
        store
            .insert_notifications(&batch, now_ms, 120_000)
            .map_err(|e| {
                let dir = path.parent().unwrap_or(path);
                BenchError::failed(format!("cannot insert: {e} ({})", room_left(dir)))
            })?;
        next = end;
    }
    Ok(())
}

fn measure(plan: &StorePlan) -> BenchResult<Vec<(String, Figure)>> {
    let dir = tempfile::Builder::new()
        .prefix("smarthunt-bench-store-")
        .tempdir()
        .map_err(BenchError::io("cannot create a temporary dir"))?;
    let path = dir.path().join("store.db");
    let now_ms = chrono::Utc::now().timestamp_millis();
    let fill_started = Instant::now();
    fill(&path, plan.rows, plan.batch, now_ms, |i| {
        notification(i, now_ms, plan.rows)
    })?;
    let fill_s = fill_started.elapsed().as_secs_f64();

    // A fresh connection, as after an app start (the OS page cache is warm).
    let store = Store::open(&path).map_err(store_error("cannot reopen the store"))?;
    let stored = store
        .notification_count()
        .map_err(store_error("cannot count"))?;
    if stored != plan.rows {
        return Err(BenchError::failed(format!(
            "{stored} of {} notifications were stored",
            plan.rows
        )));
    }
    let query = ListQuery::default();
    let (page_runs, page) = timed(plan.reps, || {
        store
            .list_notifications(&query)
            .map_err(store_error("cannot list"))
    })?;
    let unread_query = ListQuery {
        unread_only: true,
        ..ListQuery::default()
    };
    let (unread_page_runs, _) = timed(plan.reps, || {
        store
            .list_notifications(&unread_query)
            .map_err(store_error("cannot list unread"))
    })?;
    let (count_runs, unread) = timed(plan.reps, || {
        store
            .unread_count()
            .map_err(store_error("cannot count unread"))
    })?;
    drop(store);
    let expected_unread = plan.rows.div_ceil(4);
    let size_mb =
        (file_size(&path) + file_size(&dir.path().join("store.db-wal"))) as f64 / (1024.0 * 1024.0);
    let mut check = String::new();
    if unread != expected_unread {
        check = format!("; unread count said {unread}, expected {expected_unread}");
    }
    let rows_note = format!(
        "{} notifications (a quarter unread, six kinds), filled {} per transaction in {:.1} s",
        plan.rows, plan.batch, fill_s
    );
    Ok(vec![
        (
            "store.rows".to_owned(),
            Figure::single("rows", plan.rows as f64).with_note(rows_note),
        ),
        (
            "store.insert_rows_per_s".to_owned(),
            Figure::single("1/s", plan.rows as f64 / fill_s.max(1e-9)),
        ),
        (
            "store.first_page_ms".to_owned(),
            Figure::from_runs("ms", page_runs).with_note(format!(
                "newest {} of all; the first run is the first query after opening",
                page.len()
            )),
        ),
        (
            "store.first_page_unread_ms".to_owned(),
            Figure::from_runs("ms", unread_page_runs),
        ),
        (
            "store.unread_count_ms".to_owned(),
            Figure::from_runs("ms", count_runs).with_note(format!("counted {unread}{check}")),
        ),
        (
            "store.db_size_mb".to_owned(),
            Figure::single("MB", size_mb).with_note("store.db plus its WAL after closing"),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_store_reports_every_figure_with_a_value() {
        let figures = run(&StorePlan {
            rows: 1000,
            batch: 300,
            reps: 3,
        });
        let names: Vec<String> = figures.iter().map(|(n, _)| n.clone()).collect();
        let expected: Vec<String> = figure_names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, expected);
        for (name, f) in &figures {
            assert!(f.value.is_some(), "{name}: {:?}", f.note);
        }
        let count_note = figures[4].1.note.clone().unwrap_or_default();
        assert_eq!(count_note, "counted 250", "one in four unread");
    }
}
