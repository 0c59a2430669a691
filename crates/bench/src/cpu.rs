//! CPU per notification at a steady rate: the tray app as users run it
//! (`--hidden`, its window closed, popups going to the session's real
//! notification daemon) against a bare WebSocket client in a process of its
//! own (this binary's hidden `floor-worker` command), each fed the same rate
//! by the dev server. CPU time of each one's whole process tree over the
//! run, divided by the events it was sent.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use smarthunt_devserver::{DevServer, LANDLORD, TENANT};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio_tungstenite::tungstenite::Message;

use crate::app::{self, Mode};
use crate::desktop::{with_session_and_server, DesktopSession};
use crate::error::{BenchError, BenchResult};
use crate::harness::{spawn_worker, within};
use crate::latency::send_paced;
use crate::procfs::TreeUsage;
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct CpuPlan {
    /// Events per run, at [`RATE`].
    pub events: usize,
    pub runs: usize,
}

/// Events per second.
pub const RATE: u32 = 1000;

/// The floor worker's token comes in this variable, not on its command line.
const TOKEN_ENV: &str = "SMARTHUNT_BENCH_FLOOR_TOKEN";

/// After the last event is sent, each side gets this long to finish with
/// it; an idle tree costs next to nothing meanwhile.
const DRAIN: Duration = Duration::from_secs(2);

pub fn figure_names() -> Vec<(String, &'static str)> {
    [
        ("cpu_per_event.app_us", "µs"),
        ("cpu_per_event.floor_us", "µs"),
        ("cpu_per_event.app_over_floor", "x"),
    ]
    .into_iter()
    .map(|(n, u)| (n.to_owned(), u))
    .collect()
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &CpuPlan, tray_bin: &Path) -> Vec<(String, Figure)> {
    match measure(plan, tray_bin).await {
        Ok((app_us, floor_us)) => {
            let ratio = app_us.iter().zip(&floor_us).map(|(a, f)| a / f).collect();
            let how = format!(
                "CPU time (user + system) of the process tree over {} events at {RATE}/s, per \
                 event; {} runs",
                plan.events, plan.runs
            );
            vec![
                (
                    "cpu_per_event.app_us".into(),
                    Figure::from_runs("µs", app_us).with_note(format!(
                        "{how}; the tray app (--hidden, window closed), popups to dunst"
                    )),
                ),
                (
                    "cpu_per_event.floor_us".into(),
                    Figure::from_runs("µs", floor_us).with_note(format!(
                        "{how}; a bare tokio-tungstenite client that decodes each frame"
                    )),
                ),
                (
                    "cpu_per_event.app_over_floor".into(),
                    Figure::from_runs("x", ratio).with_note("app / floor, per pair of runs"),
                ),
            ]
        }
        Err(e) => figure_names()
            .into_iter()
            .map(|(n, u)| (n, Figure::not_measured(u, e.to_string())))
            .collect(),
    }
}

async fn measure(plan: &CpuPlan, tray_bin: &Path) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    with_session_and_server(async |session, server| {
        measure_in(plan, session, server, tray_bin).await
    })
    .await?
}

async fn measure_in(
    plan: &CpuPlan,
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    app::sign_in(session, server, tray_bin).await?;
    let (_, app) = app::launches(session, server, tray_bin, Mode::Tray, 1).await?;
    let floor = FloorWorker::start(server).await;
    let result = match floor {
        Ok(mut floor) => {
            let r = runs(plan, server, &app, &mut floor).await;
            floor.stop().await;
            r
        }
        Err(e) => Err(e),
    };
    app::terminate(app).await;
    result
}

async fn runs(
    plan: &CpuPlan,
    server: &DevServer,
    app: &Child,
    floor: &mut FloorWorker,
) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    let app_pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has exited"))?;
    // Warm-up: the first catch-up is over and every path ran once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    send_paced(server, TENANT.0, 100, 50, "warm-up").await?;
    send_paced(server, LANDLORD.0, 100, 50, "warm-up").await?;
    floor.read(50).await?;
    tokio::time::sleep(DRAIN).await;
    let (mut app_us, mut floor_us) = (Vec::new(), Vec::new());
    for run in 0..plan.runs {
        let tag = format!("cpu run {run}");
        let mut usage = TreeUsage::start(app_pid)?;
        send_paced(server, TENANT.0, RATE, plan.events, &tag).await?;
        tokio::time::sleep(DRAIN).await;
        usage.sample()?;
        app_us.push(usage.cpu_seconds() * 1e6 / plan.events as f64);

        let mut usage = TreeUsage::start(floor.pid)?;
        send_paced(server, LANDLORD.0, RATE, plan.events, &tag).await?;
        floor.read(plan.events).await?;
        tokio::time::sleep(DRAIN).await;
        usage.sample()?;
        floor_us.push(usage.cpu_seconds() * 1e6 / plan.events as f64);
    }
    Ok((app_us, floor_us))
}

/// The floor in a process of its own: it prints `ready` once connected, then
/// one line per 10 notification frames read.
struct FloorWorker {
    child: Child,
    pid: u32,
    lines: Lines<BufReader<ChildStdout>>,
}

impl FloorWorker {
    async fn start(server: &DevServer) -> BenchResult<Self> {
        let (access, _) = server
            .tokens(LANDLORD.0, LANDLORD.1)
            .await
            .map_err(|e| BenchError::failed(format!("no token for the floor client: {e}")))?;
        let (child, stdout) = spawn_worker(
            &["floor-worker", "--url", &server.ws_url()],
            (TOKEN_ENV, &access),
            "floor worker",
        )?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::failed("the floor worker exited at once"))?;
        let mut worker = Self {
            child,
            pid,
            lines: BufReader::new(stdout).lines(),
        };
        let first = worker.line().await?;
        if first != "ready" {
            return Err(BenchError::failed(format!(
                "the floor worker said {first:?}, not ready"
            )));
        }
        Ok(worker)
    }

    async fn line(&mut self) -> BenchResult<String> {
        within(
            Duration::from_secs(60),
            "the floor worker",
            self.lines.next_line(),
        )
        .await?
        .map_err(BenchError::io("cannot read the floor worker"))?
        .ok_or_else(|| BenchError::failed("the floor worker stopped"))
    }

    /// Waits until the worker has read `count` more frames.
    async fn read(&mut self, count: usize) -> BenchResult<()> {
        for _ in 0..count.div_ceil(10) {
            self.line().await?;
        }
        Ok(())
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The worker: connects to `url` with the token from its environment and
/// decodes every frame, as a minimal client must; says `ready`, then a line
/// per 10 notification frames.
pub async fn floor_worker(url: &str) -> bool {
    let Ok(token) = std::env::var(TOKEN_ENV) else {
        eprintln!("smarthunt-bench floor-worker: {TOKEN_ENV} is not set");
        return false;
    };
    let mut socket = match tokio_tungstenite::connect_async(format!("{url}?token={token}")).await {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("smarthunt-bench floor-worker: cannot connect: {e}");
            return false;
        }
    };
    println!("ready");
    let mut read = 0u64;
    while let Some(Ok(msg)) = socket.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if frame["type"] == "notification" {
            read += 1;
            if read.is_multiple_of(10) {
                println!("{read}");
            }
        }
    }
    true
}
