//! Window open time, the figure a user feels: from a second launch of the
//! tray app (what the launcher's click runs; it hands over and the running
//! app starts `smarthunt-window`) until the window's first page of
//! notifications has been painted, with N notifications stored; what the
//! open window costs in memory; and the floor, a Tauri window with an empty
//! page (`src-tauri/examples/empty_window.rs`) started on the same machine.
//! The end of an open is the tray app's own log line "window: first page
//! painted", timed by the line's own timestamp. It judges nothing: targets
//! are main.rs's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use smarthunt_core::config::AppConfig;
use smarthunt_core::protocol::IncomingNotification;
use smarthunt_core::store::Store;
use smarthunt_devserver::DevServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;

use crate::app::{self, Mode};
use crate::desktop::{with_session_and_server, DesktopSession};
use crate::error::{BenchError, BenchResult};
use crate::harness::within;
use crate::procfs;
use crate::report::Figure;
use crate::{stats, store_scale};

#[derive(Debug, Clone)]
pub struct WindowOpenPlan {
    /// Notifications stored before the app starts.
    pub rows: u64,
    /// Rows per transaction while filling.
    pub batch: u64,
    /// Timed opens of the window (and as many of the floor).
    pub opens: usize,
    /// Time left to the app after it is up (reading its history, catching
    /// up) before the first open, and to an open window before its memory
    /// is read.
    pub settle: Duration,
}

/// The line the tray app logs when the window's first page is on the
/// screen (`Call::FirstPageShown`).
const PAINTED: &str = "window: first page painted";

/// How long an open, a close or the floor may take.
const ANSWER: Duration = Duration::from_secs(30);

/// How often an open is looked at (processes, the log).
const POLL: Duration = Duration::from_millis(10);

/// The floor's program, built beside the binaries as a cargo example.
const FLOOR_EXAMPLE: &str = "examples/empty_window";

pub fn figure_names() -> Vec<(String, &'static str)> {
    [
        ("window_open.rows", "rows"),
        ("window_open.p50_ms", "ms"),
        ("window_open.p95_ms", "ms"),
        ("window_open.floor_p50_ms", "ms"),
        ("window_open.floor_p95_ms", "ms"),
        ("window_open.window_private_mb", "MB"),
        ("window_open.tree_pss_mb", "MB"),
    ]
    .into_iter()
    .map(|(n, u)| (n.to_owned(), u))
    .collect()
}

/// One open of the real window, each time from the second launch's start.
#[derive(Debug, Clone)]
struct Open {
    painted: Duration,
    handed_over: Duration,
    window_process: Option<Duration>,
    web_process: Option<Duration>,
    /// Rows on the first page, as the page said.
    rows: u64,
    window_private_kb: u64,
    tree_pss_kb: u64,
    tree: Vec<String>,
}

/// One start of the floor, from its launch.
#[derive(Debug, Clone)]
struct Floor {
    painted: Duration,
    window_private_kb: u64,
    tree_pss_kb: u64,
}

struct Measured {
    stored: BenchResult<(u64, f64)>,
    opens: BenchResult<Vec<Open>>,
    floors: BenchResult<Vec<Floor>>,
}

impl Measured {
    fn failed(why: &str) -> Self {
        Self {
            stored: Err(BenchError::failed(why)),
            opens: Err(BenchError::failed(why)),
            floors: Err(BenchError::failed(why)),
        }
    }
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &WindowOpenPlan, tray_bin: &Path) -> Vec<(String, Figure)> {
    let floor_bin = tray_bin
        .parent()
        .map(|d| d.join(FLOOR_EXAMPLE))
        .unwrap_or_else(|| PathBuf::from(FLOOR_EXAMPLE));
    let measured = measure(plan, tray_bin, &floor_bin).await;
    figures(plan, measured)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median_ms(values: impl Iterator<Item = Duration>) -> String {
    let v: Vec<f64> = values.map(ms).collect();
    stats::median(&v).map_or_else(|| "n/a".into(), |m| format!("{m:.0} ms"))
}

/// Runs and their p95 as the headline.
fn p95_figure(runs: Vec<f64>) -> Figure {
    let p95 = stats::quantile(&runs, 0.95).unwrap_or(f64::NAN);
    Figure::from_runs("ms", runs).with_value(p95)
}

/// Each measured time of `items` in ms, or why there are none.
fn ms_of<T, E: std::fmt::Display>(
    items: &Result<Vec<T>, E>,
    time: impl Fn(&T) -> Duration,
) -> Result<Vec<f64>, String> {
    match items {
        Ok(items) => Ok(items.iter().map(|x| ms(time(x))).collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// `{prefix}p50_ms` and `{prefix}p95_ms` of `runs`, each noted as of
/// `runs.len()` `of` (the median's note followed by `more`).
fn add_quantiles(
    add: &mut impl FnMut(&str, Figure),
    prefix: &str,
    runs: Result<Vec<f64>, String>,
    of: &str,
    more: &str,
) {
    match runs {
        Ok(runs) => {
            let n = runs.len();
            add(
                &format!("{prefix}p50_ms"),
                Figure::from_runs("ms", runs.clone())
                    .with_note(format!("median of {n} {of}{more}")),
            );
            add(
                &format!("{prefix}p95_ms"),
                p95_figure(runs).with_note(format!("95th percentile (interpolated) of {n} {of}")),
            );
        }
        Err(e) => {
            for q in ["p50_ms", "p95_ms"] {
                add(
                    &format!("{prefix}{q}"),
                    Figure::not_measured("ms", e.clone()),
                );
            }
        }
    }
}

fn figures(plan: &WindowOpenPlan, m: Measured) -> Vec<(String, Figure)> {
    let mut out = Vec::new();
    let mut add = |name: &str, figure: Figure| out.push((format!("window_open.{name}"), figure));
    let painted_rows = m
        .opens
        .as_ref()
        .ok()
        .and_then(|o| o.first())
        .map(|o| o.rows);
    add(
        "rows",
        match &m.stored {
            Ok((rows, fill_s)) => Figure::single("rows", *rows as f64).with_note(format!(
                "notifications in the signed-in tenant's store before the app started \
                 (all read, as the dev server, which knows none of them, would have them \
                 after the first reconcile), filled {} per transaction in {fill_s:.1} s; \
                 the first page showed {}",
                plan.batch,
                painted_rows.map_or_else(|| "n/a".into(), |r| format!("{r} rows"))
            )),
            Err(e) => Figure::not_measured("rows", e.to_string()),
        },
    );
    let opens_what = "a second `smarthunt-tray` launched (as the launcher's click does; \
                      it hands over to the running tray app, which starts smarthunt-window) \
                      until the tray app logs the window's \"first page painted\" (sent by \
                      the page two animation frames after the frame that rendered the \
                      first page of the list), by that line's timestamp";
    let breakdown = m.opens.as_ref().map_or_else(
        |_| String::new(),
        |opens| {
            format!(
                "; medians from the launch: second launch handed over and exited {}, \
                 window process seen {}, WebKit web process seen {}, first page painted {} \
                 (processes looked for every {} ms)",
                median_ms(opens.iter().map(|o| o.handed_over)),
                median_ms(opens.iter().filter_map(|o| o.window_process)),
                median_ms(opens.iter().filter_map(|o| o.web_process)),
                median_ms(opens.iter().map(|o| o.painted)),
                POLL.as_millis()
            )
        },
    );
    add_quantiles(
        &mut add,
        "",
        ms_of(&m.opens, |o| o.painted),
        &format!("opens: {opens_what}"),
        &breakdown,
    );
    let floor_what = "the floor: `empty_window` (a Tauri window with SmartHunt's config, \
                      size and asset protocol and an empty page; no tray app, socket or \
                      query) launched until it prints \"painted\", sent by its page two \
                      animation frames after loading, as the real page does";
    add_quantiles(
        &mut add,
        "floor_",
        ms_of(&m.floors, |f| f.painted),
        &format!("starts of {floor_what}"),
        "",
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    let floor_median = |f: fn(&Floor) -> u64| match &m.floors {
        Ok(floors) => {
            let v: Vec<f64> = floors.iter().map(|x| mb(f(x))).collect();
            stats::median(&v).map_or_else(|| "n/a".into(), |m| format!("{m:.1} MB"))
        }
        Err(_) => "n/a".into(),
    };
    match &m.opens {
        Ok(opens) => {
            let settled = format!(
                "read {:.1} s after the first page was painted, median over the opens",
                plan.settle.as_secs_f64()
            );
            add(
                "window_private_mb",
                Figure::from_runs(
                    "MB",
                    opens.iter().map(|o| mb(o.window_private_kb)).collect(),
                )
                .with_note(format!(
                    "Private_Clean + Private_Dirty of smarthunt-window while open, {settled}; \
                         the floor's process: {}",
                    floor_median(|f| f.window_private_kb)
                )),
            );
            let tree = opens.first().map(|o| o.tree.join(", ")).unwrap_or_default();
            add(
                "tree_pss_mb",
                Figure::from_runs("MB", opens.iter().map(|o| mb(o.tree_pss_kb)).collect())
                    .with_note(format!(
                        "PSS summed over the tray app and its descendants with the window \
                         open ({tree}), {settled}; the floor's tree: {}",
                        floor_median(|f| f.tree_pss_kb)
                    )),
            );
        }
        Err(e) => {
            add(
                "window_private_mb",
                Figure::not_measured("MB", e.to_string()),
            );
            add("tree_pss_mb", Figure::not_measured("MB", e.to_string()));
        }
    }
    out
}

async fn measure(plan: &WindowOpenPlan, tray_bin: &Path, floor_bin: &Path) -> Measured {
    with_session_and_server(async |session, server| {
        measure_in(session, server, plan, tray_bin, floor_bin).await
    })
    .await
    .unwrap_or_else(|e| Measured::failed(&e.to_string()))
}

async fn measure_in(
    session: &DesktopSession,
    server: &DevServer,
    plan: &WindowOpenPlan,
    tray_bin: &Path,
    floor_bin: &Path,
) -> Measured {
    if let Err(e) = app::sign_in(session, server, tray_bin).await {
        return Measured::failed(&e.to_string());
    }
    let stored = fill_store(session, plan).await;
    if let Err(e) = &stored {
        return Measured::failed(&format!("the store was not filled: {e}"));
    }
    let (child, log) = match app::launches(session, server, tray_bin, Mode::Tray, 1).await {
        Ok((_, child)) => (child, app::stderr_log(session, Mode::Tray, 0)),
        Err(e) => {
            let why = format!("the tray app did not start: {e}");
            return Measured {
                stored,
                ..Measured::failed(&why)
            };
        }
    };
    tokio::time::sleep(plan.settle).await;
    let have_floor = floor_bin.is_file();
    let (mut opens, mut floors) = (Vec::new(), Vec::new());
    let mut opens_failed = None;
    let mut floors_failed = (!have_floor).then(|| {
        BenchError::failed(format!(
            "{} is not built (`cargo build -p smarthunt-tray --example empty_window`; \
             bench/run builds it)",
            floor_bin.display()
        ))
    });
    // Floor and app in turn, so that a machine busy for a while weighs on
    // both alike.
    for _ in 0..plan.opens.max(1) {
        if floors_failed.is_none() {
            match floor(session, floor_bin, plan.settle).await {
                Ok(f) => floors.push(f),
                Err(e) => floors_failed = Some(e),
            }
        }
        if opens_failed.is_none() {
            match open_and_close(session, tray_bin, &child, &log, plan.settle).await {
                Ok(o) if o.rows == 0 => {
                    opens_failed = Some(BenchError::failed(
                        "the window's first page showed none of the stored notifications",
                    ))
                }
                Ok(o) => opens.push(o),
                Err(e) => opens_failed = Some(e),
            }
        }
        if opens_failed.is_some() && floors_failed.is_some() {
            break;
        }
    }
    app::terminate(child).await;
    Measured {
        stored,
        opens: match opens_failed {
            Some(e) => Err(e),
            None => Ok(opens),
        },
        floors: match floors_failed {
            Some(e) => Err(e),
            None => Ok(floors),
        },
    }
}

/// Fills the signed-in account's store (before the app opens it) with
/// `plan.rows` read notifications. Returns how many it holds and how long
/// filling took.
async fn fill_store(session: &DesktopSession, plan: &WindowOpenPlan) -> BenchResult<(u64, f64)> {
    let data_dir = session
        .data_dir()
        .ok_or_else(|| BenchError::failed("the desktop session names no data dir"))?;
    let config = AppConfig::load(&data_dir).map_err(BenchError::failed)?;
    let account = config
        .current
        .ok_or_else(|| BenchError::failed("no account is signed in after `login`"))?;
    let path = account
        .dir(&data_dir)
        .map_err(BenchError::failed)?
        .join("store.db");
    let (rows, batch) = (plan.rows, plan.batch);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        store_scale::fill(&path, rows, batch, now_ms, |i| IncomingNotification {
            // Unread rows the dev server does not know would be marked read
            // by the first open's reconcile, making that open unlike the
            // others.
            is_read: Some(true),
            ..store_scale::notification(i, now_ms, rows)
        })?;
        let fill_s = started.elapsed().as_secs_f64();
        let stored = Store::open(&path)
            .and_then(|s| s.notification_count())
            .map_err(|e| BenchError::failed(format!("cannot count the stored rows: {e}")))?;
        if stored != rows {
            return Err(BenchError::failed(format!(
                "{stored} of {rows} notifications were stored"
            )));
        }
        Ok((stored, fill_s))
    })
    .await
    .map_err(|e| BenchError::failed(format!("filling the store died: {e}")))?
}

/// The window process among the app's descendants, if one runs.
fn window_process(app_pid: u32) -> Option<u32> {
    procfs::descendants(app_pid)
        .into_iter()
        .find(|p| procfs::command_name(*p).is_some_and(|n| procfs::is_window_process(&n)))
}

/// Reads the log from `offset` for the painted line; its time and rows.
fn painted_line(
    log: &Path,
    offset: u64,
) -> BenchResult<Option<(Option<chrono::DateTime<chrono::Utc>>, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log)
        .map_err(BenchError::io(format!("cannot open {}", log.display())))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(BenchError::io(format!("cannot read {}", log.display())))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(BenchError::io(format!("cannot read {}", log.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    // Only whole lines: the last one may be half written.
    let Some(line) = text
        .lines()
        .take(text.matches('\n').count())
        .find(|l| l.contains(PAINTED))
    else {
        return Ok(None);
    };
    // "2026-01-02T03:04:05.123456Z  INFO window: first page painted rows=50"
    let at = line
        .split_whitespace()
        .next()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let rows = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rows="))
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| BenchError::failed(format!("the painted line has no rows: {line}")))?;
    Ok(Some((at, rows)))
}

/// Opens the window by a second launch, waits for its first page painted,
/// reads its memory, closes it and waits until its process has ended.
async fn open_and_close(
    session: &DesktopSession,
    tray_bin: &Path,
    app: &Child,
    log: &Path,
    settle: Duration,
) -> BenchResult<Open> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    let offset = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let (started, started_wall) = (Instant::now(), chrono::Utc::now());
    let mut second = app::launch_again(session, tray_bin)?;
    let timed = within(ANSWER, "the window's first page to be painted", async {
        let (mut handed_over, mut window, mut web) = (None, None, None);
        loop {
            if handed_over.is_none() {
                if let Ok(Some(status)) = second.try_wait() {
                    if !status.success() {
                        let mut said = String::new();
                        if let Some(mut e) = second.stderr.take() {
                            let _ = e.read_to_string(&mut said).await;
                        }
                        return Err(BenchError::failed(format!(
                            "a second `smarthunt-tray` exited with {status}: {}",
                            said.trim()
                        )));
                    }
                    handed_over = Some(started.elapsed());
                }
            }
            if window.is_none() || web.is_none() {
                let at = started.elapsed();
                for p in procfs::descendants(pid) {
                    let Some(name) = procfs::command_name(p) else {
                        continue;
                    };
                    if window.is_none() && procfs::is_window_process(&name) {
                        window = Some(at);
                    }
                    if web.is_none() && procfs::is_webkit_web_process(&name) {
                        web = Some(at);
                    }
                }
            }
            if let Some((at, rows)) = painted_line(log, offset)? {
                let painted = at
                    .and_then(|t| (t - started_wall).to_std().ok())
                    .unwrap_or_else(|| started.elapsed());
                let handed_over = match handed_over {
                    Some(h) => h,
                    // It logs nothing, so it may exit after the window painted.
                    None => {
                        let _ = second.wait().await;
                        started.elapsed()
                    }
                };
                return Ok((painted, handed_over, window, web, rows));
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
    let (painted, handed_over, window, web, rows) = match timed {
        Ok(Ok(t)) => t,
        Ok(Err(e)) | Err(e) => {
            // Whatever state it is in, the next open must start afresh.
            let _ = close_and_wait(session, app).await;
            return Err(e);
        }
    };
    tokio::time::sleep(settle).await;
    let memory = procfs::tree_memory(pid);
    close_and_wait(session, app).await?;
    let tree = memory?;
    Ok(Open {
        painted,
        handed_over,
        window_process: window,
        web_process: web,
        rows,
        window_private_kb: tree
            .iter()
            .filter(|(name, _)| procfs::is_window_process(name))
            .map(|(_, m)| m.private_kb)
            .sum(),
        tree_pss_kb: tree.iter().map(|(_, m)| m.pss_kb).sum(),
        tree: tree.into_iter().map(|(name, _)| name).collect(),
    })
}

/// Closes the window as a user does and waits until its process has gone.
async fn close_and_wait(session: &DesktopSession, app: &Child) -> BenchResult<()> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    app::close_window(session, app).await?;
    within(ANSWER, "the window process to end", async {
        while window_process(pid).is_some() {
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}

/// Starts the floor, waits for its "painted", reads its memory and closes
/// its window as a user does.
async fn floor(session: &DesktopSession, floor_bin: &Path, settle: Duration) -> BenchResult<Floor> {
    let started = Instant::now();
    let mut child = session
        .command(floor_bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!(
            "cannot start {}",
            floor_bin.display()
        )))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::failed("the floor's output is not piped"))?;
    let painted = within(ANSWER, "the floor's empty page to be painted", async {
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) if line.trim() == "painted" => return Ok(started.elapsed()),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Err(BenchError::failed(format!(
                        "{} ended before its page was painted",
                        floor_bin.display()
                    )))
                }
            }
        }
    })
    .await
    .and_then(|r| r);
    let memory = match &painted {
        Ok(_) => {
            tokio::time::sleep(settle).await;
            child.id().map(procfs::tree_memory)
        }
        Err(_) => None,
    };
    let pids: Vec<u32> = child
        .id()
        .map(|p| std::iter::once(p).chain(procfs::descendants(p)).collect())
        .unwrap_or_default();
    close_floor(session, &mut child).await;
    // Its WebKit processes end after it: the next start must not meet them.
    let _ = within(
        Duration::from_secs(10),
        "the floor's processes to end",
        async {
            while pids
                .iter()
                .any(|p| Path::new(&format!("/proc/{p}")).exists())
            {
                tokio::time::sleep(POLL).await;
            }
        },
    )
    .await;
    let painted = painted?;
    let tree = memory
        .ok_or_else(|| BenchError::failed("the floor had exited before it was measured"))??;
    Ok(Floor {
        painted,
        window_private_kb: tree[0].1.private_kb,
        tree_pss_kb: tree.iter().map(|(_, m)| m.pss_kb).sum(),
    })
}

/// Closes the floor's window as a window manager's close button does
/// (asking again every 2 s), ending it after 10 s.
async fn close_floor(session: &DesktopSession, child: &mut Child) {
    let closed = within(Duration::from_secs(10), "the floor to close", async {
        loop {
            session.ask_window_to_close().await;
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
    })
    .await;
    if closed.is_err() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_painted_line_gives_its_time_and_rows_once_it_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.stderr");
        let before = "2026-01-02T03:04:05.000001Z  INFO connected\n";
        std::fs::write(&log, before).unwrap();
        assert!(painted_line(&log, 0).unwrap().is_none());
        let line = "2026-01-02T03:04:06.250000Z  INFO window: first page painted rows=50";
        std::fs::write(&log, format!("{before}{line}")).unwrap();
        assert!(
            painted_line(&log, 0).unwrap().is_none(),
            "a line being written is not read yet"
        );
        std::fs::write(&log, format!("{before}{line}\n")).unwrap();
        let (at, rows) = painted_line(&log, 0).unwrap().unwrap();
        assert_eq!(rows, 50);
        assert_eq!(
            at.unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "2026-01-02T03:04:06.250Z"
        );
        let past = (before.len() + line.len() + 1) as u64;
        assert!(
            painted_line(&log, past).unwrap().is_none(),
            "only lines after the offset count"
        );
    }

    #[test]
    fn a_failed_measurement_still_names_every_figure() {
        let plan = WindowOpenPlan {
            rows: 10,
            batch: 5,
            opens: 1,
            settle: Duration::ZERO,
        };
        let figures = figures(&plan, Measured::failed("no display"));
        let names: Vec<String> = figures.iter().map(|(n, _)| n.clone()).collect();
        let expected: Vec<String> = figure_names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, expected);
        for (name, f) in &figures {
            assert!(f.value.is_none(), "{name}");
            assert!(
                f.note.as_deref().unwrap_or("").contains("no display"),
                "{name}"
            );
        }
    }
}
