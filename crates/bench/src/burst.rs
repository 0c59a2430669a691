//! A burst: the dev server floods N notifications at once; how long until
//! the engine has stored them all and raised its last popup, how often the
//! summary popup was replaced, and the engine's peak memory.
//!
//! The dev server runs as its own process and the engine in a fresh worker
//! process (this binary's hidden `burst-worker` command), so the peak RSS is
//! the engine's (plus a small harness), not the server's queue of 100,000
//! frames nor what earlier benchmarks left on the heap.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use smarthunt_core::engine::Tuning;
use smarthunt_core::ports::PopupKey;
use smarthunt_devserver::{CONTROL_TOKEN_ENV, CONTROL_TOKEN_HEADER, TENANT};

/// This run's token for the dev server's control API: the one inherited
/// (a worker's), else one drawn now for the
/// dev server and the worker this process starts (passed to both).
pub fn control_token() -> String {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            std::env::var(CONTROL_TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()))
        })
        .clone()
}
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::{BenchError, BenchResult};
use crate::harness::{spawn_worker, within, BenchEngine};
use crate::procfs;
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct BurstPlan {
    pub count: u64,
    pub runs: usize,
}

/// After the last notification is stored, popups count as done once none
/// came for this long (the engine refreshes a summary at most every 2 s).
const POPUPS_QUIET: Duration = Duration::from_secs(3);

pub fn figure_names() -> Vec<(String, &'static str)> {
    [
        ("burst.all_stored_s", "s"),
        ("burst.popups_done_s", "s"),
        ("burst.stored_per_s", "1/s"),
        ("burst.summary_replacements", "popups"),
        ("burst.individual_popups", "popups"),
        ("burst.peak_rss_mb", "MB"),
        ("burst.server_flood_s", "s"),
        ("burst.after_server_s", "s"),
    ]
    .into_iter()
    .map(|(n, u)| (n.to_owned(), u))
    .collect()
}

/// What one worker measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BurstRun {
    /// From the flood request to the last notification stored.
    pub all_stored_s: f64,
    /// From the flood request to the last popup raised.
    pub popups_done_s: f64,
    /// How long the server took to store and queue the flood.
    pub server_flood_s: f64,
    pub summary_popups: u64,
    pub individual_popups: u64,
    pub base_rss_kb: u64,
    pub peak_rss_kb: u64,
    pub final_summary: Option<String>,
}

/// The worker's one line of output.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerOutput {
    run: Option<BurstRun>,
    error: Option<String>,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &BurstPlan, devserver_bin: &Path) -> Vec<(String, Figure)> {
    let mut runs = Vec::new();
    let mut failure = None;
    for _ in 0..plan.runs {
        match one_run(plan.count, devserver_bin).await {
            Ok(r) => runs.push(r),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if runs.is_empty() {
        let reason = failure
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no runs were planned".into());
        return figure_names()
            .into_iter()
            .map(|(n, u)| (n, Figure::not_measured(u, reason.clone())))
            .collect();
    }
    let col = |f: fn(&BurstRun) -> f64| runs.iter().map(f).collect::<Vec<_>>();
    let count = plan.count as f64;
    let mut note = format!(
        "{} notifications flooded at once, engine in a fresh process, dev server in another",
        plan.count
    );
    if let Some(e) = failure {
        note.push_str(&format!("; a later run failed: {e}"));
    }
    let last_summary = runs
        .iter()
        .filter_map(|r| r.final_summary.clone())
        .next_back()
        .unwrap_or_else(|| "none".into());
    vec![
        (
            "burst.all_stored_s".into(),
            Figure::from_runs("s", col(|r| r.all_stored_s)).with_note(note),
        ),
        (
            "burst.popups_done_s".into(),
            Figure::from_runs("s", col(|r| r.popups_done_s)).with_note(format!(
                "last popup raised; final summary: \"{last_summary}\""
            )),
        ),
        (
            "burst.stored_per_s".into(),
            Figure::from_runs(
                "1/s",
                runs.iter()
                    .map(|r| count / r.all_stored_s.max(1e-9))
                    .collect(),
            ),
        ),
        (
            "burst.summary_replacements".into(),
            Figure::from_runs("popups", col(|r| r.summary_popups as f64))
                .with_note("times the kind's summary popup was shown or replaced"),
        ),
        (
            "burst.individual_popups".into(),
            Figure::from_runs("popups", col(|r| r.individual_popups as f64)),
        ),
        (
            "burst.peak_rss_mb".into(),
            Figure::from_runs("MB", col(|r| r.peak_rss_kb as f64 / 1024.0)).with_note(format!(
                "VmHWM of the engine's process; {:.1} MB before the flood",
                runs[0].base_rss_kb as f64 / 1024.0
            )),
        ),
        (
            "burst.server_flood_s".into(),
            Figure::from_runs("s", col(|r| r.server_flood_s))
                .with_note("the dev server's own share: storing and queueing the flood"),
        ),
        (
            "burst.after_server_s".into(),
            Figure::from_runs("s", col(|r| (r.all_stored_s - r.server_flood_s).max(0.0)))
                .with_note(
                "how long after the server had queued the last one the engine had stored them all \
                 (both share the machine's cores)",
            ),
        ),
    ]
}

/// Starts the dev server binary on a loopback `port` (0: a free one) with
/// this run's control token (from [`CONTROL_TOKEN_ENV`], inherited by the
/// worker too); returns it and its URL.
pub async fn start_devserver(bin: &Path, port: u16) -> BenchResult<(Child, String)> {
    let mut child = Command::new(bin)
        .args(["--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .env(CONTROL_TOKEN_ENV, control_token())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!("cannot start {}", bin.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::failed("the dev server's stdout is not piped"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = within(
        Duration::from_secs(30),
        "the dev server to listen",
        lines.next_line(),
    )
    .await?
    .map_err(BenchError::io("cannot read the dev server's ready line"))?
    .unwrap_or_default();
    let url = line
        .strip_prefix("listening on ")
        .ok_or_else(|| {
            BenchError::failed(format!("the dev server said {line:?}, not its address"))
        })?
        .trim()
        .to_owned();
    Ok((child, url))
}

async fn one_run(count: u64, devserver_bin: &Path) -> BenchResult<BurstRun> {
    let (mut server, url) = start_devserver(devserver_bin, 0).await?;
    let (mut worker, mut stdout) = spawn_worker(
        &[
            "burst-worker",
            "--server",
            &url,
            "--count",
            &count.to_string(),
        ],
        (CONTROL_TOKEN_ENV, &control_token()),
        "burst worker",
    )?;
    let mut out = String::new();
    // A burst of 1,000,000 at a few thousand a second still ends in minutes.
    let limit = Duration::from_secs(120 + count / 200);
    let read = within(limit, "the burst worker", stdout.read_to_string(&mut out)).await;
    let _ = worker.wait().await;
    let _ = server.start_kill();
    let _ = server.wait().await;
    read?.map_err(BenchError::io("cannot read the burst worker's answer"))?;
    let answer: WorkerOutput = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| BenchError::failed(format!("the burst worker gave no answer ({out:?})")))?;
    match (answer.run, answer.error) {
        (Some(run), _) => Ok(run),
        (None, e) => Err(BenchError::failed(
            e.unwrap_or_else(|| "the burst worker failed".into()),
        )),
    }
}

/// The worker: signs an engine in to `server`, floods `count` notifications
/// and prints one JSON line with what it measured (or why it could not).
pub async fn worker(server: &str, count: u64) -> bool {
    let output = match measure_in_worker(server, count).await {
        Ok(run) => WorkerOutput {
            run: Some(run),
            error: None,
        },
        Err(e) => WorkerOutput {
            run: None,
            error: Some(e.to_string()),
        },
    };
    let ok = output.run.is_some();
    match serde_json::to_string(&output) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("smarthunt-bench: cannot encode the burst result: {e}"),
    }
    ok
}

async fn measure_in_worker(server: &str, count: u64) -> BenchResult<BurstRun> {
    let bench = BenchEngine::start(server, TENANT, Tuning::default()).await?;
    let result = flood_and_watch(&bench, server, count).await;
    bench.stop().await;
    result
}

async fn flood_and_watch(bench: &BenchEngine, server: &str, count: u64) -> BenchResult<BurstRun> {
    bench.wait_connected(Duration::from_secs(30)).await?;
    // Let the first catch-up, profile and counters settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    bench.notifier.clear();
    let base_rss_kb = procfs::own_status_kb("VmRSS").unwrap_or(0);
    procfs::reset_own_peak_rss()?;

    let start = Instant::now();
    let flood = {
        let url = format!("{server}/control/flood");
        let body = json!({ "username": TENANT.0, "count": count });
        tokio::spawn(async move {
            let answer = reqwest::Client::new()
                .post(url)
                .header(CONTROL_TOKEN_HEADER, control_token())
                .json(&body)
                .send()
                .await;
            let took = start.elapsed();
            match answer {
                Ok(r) if r.status().is_success() => Ok(took),
                Ok(r) => Err(BenchError::failed(format!(
                    "flood answered HTTP {}",
                    r.status()
                ))),
                Err(e) => Err(BenchError::failed(format!("flood failed: {e}"))),
            }
        })
    };

    let limit = Duration::from_secs(60 + count / 200);
    let all_stored = within(limit, "every flooded notification to be stored", async {
        loop {
            let stored = bench
                .engine
                .query(|s| s.notification_count())
                .await
                .map_err(|e| {
                    BenchError::failed(format!("cannot count stored notifications: {e}"))
                })?;
            if stored >= count {
                return Ok::<_, BenchError>(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;
    let server_flood = flood
        .await
        .map_err(|e| BenchError::failed(format!("the flood request died: {e}")))??;

    within(Duration::from_secs(60), "the popups to settle", async {
        loop {
            let last = bench
                .notifier
                .last_at()
                .map_or(start + all_stored, |t| t.max(start + all_stored));
            if last.elapsed() >= POPUPS_QUIET {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?;

    let popups = bench.notifier.popups();
    let popups_done = popups
        .last()
        .map(|(t, _)| t.saturating_duration_since(start))
        .unwrap_or(all_stored);
    let summaries: Vec<&String> = popups
        .iter()
        .filter(|(_, p)| matches!(p.key, PopupKey::Summary(_)))
        .map(|(_, p)| &p.title)
        .collect();
    let individual = popups
        .iter()
        .filter(|(_, p)| matches!(p.key, PopupKey::Notification(_)))
        .count();
    Ok(BurstRun {
        all_stored_s: all_stored.as_secs_f64(),
        popups_done_s: popups_done.as_secs_f64(),
        server_flood_s: server_flood.as_secs_f64(),
        summary_popups: summaries.len() as u64,
        individual_popups: individual as u64,
        base_rss_kb,
        peak_rss_kb: procfs::own_status_kb("VmHWM").unwrap_or(0),
        final_summary: summaries.last().map(|s| s.to_string()),
    })
}
