//! The real binary, `smarthunt-tray --headless`, in a private desktop
//! session: how long from launch to its socket being open (as the dev server
//! counts it), then what it costs while connected and idle: CPU time,
//! wake-ups, and memory of its process tree.
//!
//! The window does not exist yet (the Tauri shell is being built), so the
//! "window open" figures and "tray shown" are reported as not measured.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use smarthunt_devserver::{DevServer, DevServerConfig, TENANT};
use tokio::io::AsyncWriteExt;
use tokio::process::Child;

use crate::desktop::DesktopSession;
use crate::error::{BenchError, BenchResult};
use crate::harness::within;
use crate::procfs::{self, SwitchCounter};
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct IdlePlan {
    /// Launches timed to "connected" (the last one stays up for the idle part).
    pub starts: usize,
    /// Time left to the app after connecting before idling is measured.
    pub settle: Duration,
    /// The idle time is measured in this many consecutive windows...
    pub windows: usize,
    /// ...of this length each.
    pub window: Duration,
}

const NO_WINDOW: &str = "the window does not exist yet (the Tauri shell is being built)";
const NO_TRAY: &str = "the tray does not exist yet (the Tauri shell is being built)";

const IDLE_FIGURES: [(&str, &str); 6] = [
    ("cpu_percent", "% of one core"),
    ("wakeups_per_s", "1/s"),
    ("tree_pss_mb", "MB"),
    ("main_private_mb", "MB"),
    ("main_anonymous_mb", "MB"),
    ("webkit_processes", "processes"),
];

pub fn figure_names() -> Vec<(String, &'static str)> {
    let mut names = vec![
        ("start.to_connected_s".to_owned(), "s"),
        ("start.to_tray_shown_s".to_owned(), "s"),
    ];
    for window in ["window_closed", "window_open"] {
        for (name, unit) in IDLE_FIGURES {
            names.push((format!("idle.{window}.{name}"), unit));
        }
    }
    names
}

/// What was measured of the idle binary.
struct IdleCost {
    cpu_percent_total: f64,
    cpu_percent_windows: Vec<f64>,
    wakeups_total: f64,
    wakeups_windows: Vec<f64>,
    tree_pss_mb: f64,
    tree_processes: usize,
    main_private_mb: f64,
    main_anonymous_mb: f64,
    webkit_processes: usize,
    measured_s: f64,
    /// Set when the app reconnected during the window (the figure is then
    /// not of an idle connected app).
    disturbed: Option<String>,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &IdlePlan, tray_bin: &Path) -> Vec<(String, Figure)> {
    let (starts, idle) = measure(plan, tray_bin).await;
    let mut figures = Vec::new();
    figures.push((
        "start.to_connected_s".to_owned(),
        match starts {
            Ok(s) => Figure::from_runs("s", s).with_note(
                "launch of the headless binary to its socket open at the dev server; \
                 the first launch also reads the history",
            ),
            Err(e) => Figure::not_measured("s", e.to_string()),
        },
    ));
    figures.push((
        "start.to_tray_shown_s".to_owned(),
        Figure::not_measured("s", NO_TRAY),
    ));
    let closed = |name: &str| format!("idle.window_closed.{name}");
    match idle {
        Ok(c) => {
            let window_note = format!(
                "{:.0} s connected and idle, headless (no window)",
                c.measured_s
            );
            let window_note = match &c.disturbed {
                Some(d) => format!("{window_note}; {d}"),
                None => window_note,
            };
            figures.push((
                closed("cpu_percent"),
                Figure::from_runs("% of one core", c.cpu_percent_windows)
                    .with_value(c.cpu_percent_total)
                    .with_note(format!(
                        "utime+stime over the whole time; runs are its windows; {window_note}"
                    )),
            ));
            figures.push((
                closed("wakeups_per_s"),
                Figure::from_runs("1/s", c.wakeups_windows)
                    .with_value(c.wakeups_total)
                    .with_note("voluntary + involuntary context switches of all threads"),
            ));
            figures.push((
                closed("tree_pss_mb"),
                Figure::single("MB", c.tree_pss_mb)
                    .with_note(format!("PSS summed over {} process(es)", c.tree_processes)),
            ));
            figures.push((
                closed("main_private_mb"),
                Figure::single("MB", c.main_private_mb).with_note(
                    "Private_Clean + Private_Dirty of the main process; clean pages of a \
                         file count as private while no other process maps that file (the \
                         binary, and the GTK/WebKit libraries it links)",
                ),
            ));
            figures.push((
                closed("main_anonymous_mb"),
                Figure::single("MB", c.main_anonymous_mb)
                    .with_note("anonymous pages (heap, stacks): private memory without file pages such as its own code"),
            ));
            figures.push((
                closed("webkit_processes"),
                Figure::single("processes", c.webkit_processes as f64),
            ));
        }
        Err(e) => {
            for (name, unit) in IDLE_FIGURES {
                figures.push((closed(name), Figure::not_measured(unit, e.to_string())));
            }
        }
    }
    for (name, unit) in IDLE_FIGURES {
        figures.push((
            format!("idle.window_open.{name}"),
            Figure::not_measured(unit, NO_WINDOW),
        ));
    }
    figures
}

async fn measure(
    plan: &IdlePlan,
    tray_bin: &Path,
) -> (BenchResult<Vec<f64>>, BenchResult<IdleCost>) {
    let session = match DesktopSession::start().await {
        Ok(s) => s,
        Err(e) => {
            let why = format!("no desktop session: {e}");
            return (Err(BenchError::failed(&why)), Err(BenchError::failed(why)));
        }
    };
    let server = match DevServer::start(DevServerConfig::default()).await {
        Ok(s) => s,
        Err(e) => {
            let why = format!("the dev server did not start: {e}");
            return (Err(BenchError::failed(&why)), Err(BenchError::failed(why)));
        }
    };
    let result = measure_in(&session, &server, plan, tray_bin).await;
    server.shutdown().await;
    drop(session);
    result
}

async fn measure_in(
    session: &DesktopSession,
    server: &DevServer,
    plan: &IdlePlan,
    tray_bin: &Path,
) -> (BenchResult<Vec<f64>>, BenchResult<IdleCost>) {
    if let Err(e) = sign_in(session, server, tray_bin).await {
        let why = e.to_string();
        return (Err(BenchError::failed(&why)), Err(BenchError::failed(why)));
    }
    let mut starts = Vec::new();
    let mut app = None;
    let launches = plan.starts.max(1);
    for i in 0..launches {
        match launch_until_connected(session, server, tray_bin, i).await {
            Ok((child, took)) => {
                starts.push(took.as_secs_f64());
                if i + 1 < launches {
                    terminate(child).await;
                } else {
                    // The last launch stays up for the idle measurement.
                    app = Some(child);
                }
            }
            Err(e) => {
                let why = e.to_string();
                return (Err(e), Err(BenchError::failed(why)));
            }
        }
    }
    let Some(app) = app else {
        return (
            Ok(starts),
            Err(BenchError::failed("the app is not running")),
        );
    };
    let idle = idle_cost(server, &app, plan).await;
    terminate(app).await;
    (Ok(starts), idle)
}

async fn sign_in(session: &DesktopSession, server: &DevServer, tray_bin: &Path) -> BenchResult<()> {
    let mut child = session
        .command(tray_bin)
        .args([
            "login",
            "--server",
            &server.base_url(),
            "--username",
            TENANT.0,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!("cannot run {}", tray_bin.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{}\n", TENANT.1).as_bytes())
            .await
            .map_err(BenchError::io(
                "cannot give the password to `smarthunt-tray login`",
            ))?;
    }
    let out = within(
        Duration::from_secs(60),
        "`smarthunt-tray login`",
        child.wait_with_output(),
    )
    .await?
    .map_err(BenchError::io("`smarthunt-tray login` failed"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::failed(format!(
            "`smarthunt-tray login` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Launches `--headless` and waits until the dev server sees its socket.
async fn launch_until_connected(
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
    launch: usize,
) -> BenchResult<(Child, Duration)> {
    within(
        Duration::from_secs(15),
        "the previous app's socket to close",
        async {
            while server.stats().connections_open > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await?;
    let log = session.home().join(format!("headless-{launch}.stderr"));
    let stderr = std::fs::File::create(&log)
        .map_err(BenchError::io(format!("cannot create {}", log.display())))?;
    let started = Instant::now();
    let mut child = session
        .command(tray_bin)
        .arg("--headless")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!(
            "cannot start {}",
            tray_bin.display()
        )))?;
    let connected = within(Duration::from_secs(30), "the app to connect", async {
        loop {
            if server.stats().connections_open > 0 {
                return Ok(started.elapsed());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(BenchError::failed(format!(
                    "`smarthunt-tray --headless` exited with {status} before connecting: {}",
                    said.trim()
                )));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    match connected {
        Ok(Ok(took)) => Ok((child, took)),
        Ok(Err(e)) | Err(e) => {
            terminate(child).await;
            Err(e)
        }
    }
}

/// SIGTERM, then SIGKILL after 10 s.
async fn terminate(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

async fn idle_cost(server: &DevServer, app: &Child, plan: &IdlePlan) -> BenchResult<IdleCost> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    tokio::time::sleep(plan.settle).await;
    let handshakes = server.stats().handshakes_total;
    let ticks = procfs::clock_ticks_per_s();
    let mut switches = SwitchCounter::start(pid)?;
    let cpu_start = procfs::cpu_seconds(pid, ticks)?;
    let started = Instant::now();
    let (mut cpu_windows, mut wakeup_windows) = (Vec::new(), Vec::new());
    for _ in 0..plan.windows.max(1) {
        let window_start = Instant::now();
        let cpu_before = procfs::cpu_seconds(pid, ticks)?;
        let switches_before = switches.total();
        // Sample every second so threads that end mid-window are counted.
        while window_start.elapsed() < plan.window {
            let left = plan.window.saturating_sub(window_start.elapsed());
            tokio::time::sleep(left.min(Duration::from_secs(1))).await;
            switches.sample()?;
        }
        let took = window_start.elapsed().as_secs_f64();
        let cpu = procfs::cpu_seconds(pid, ticks)? - cpu_before;
        cpu_windows.push(cpu / took * 100.0);
        wakeup_windows.push((switches.total() - switches_before) as f64 / took);
    }
    let measured_s = started.elapsed().as_secs_f64();
    let cpu_total = procfs::cpu_seconds(pid, ticks)? - cpu_start;

    let main = procfs::memory(pid)?;
    let mut tree = vec![pid];
    tree.extend(procfs::descendants(pid));
    let tree_pss_kb: u64 = tree
        .iter()
        .filter_map(|p| procfs::memory(*p).ok())
        .map(|m| m.pss_kb)
        .sum();
    let webkit_processes = tree
        .iter()
        .filter_map(|p| procfs::command_name(*p))
        .filter(|name| name.contains("WebKit"))
        .count();
    let stats = server.stats();
    let disturbed =
        (stats.connections_open != 1 || stats.handshakes_total != handshakes).then(|| {
            format!(
                "the app reconnected while measured ({} handshakes, {} open)",
                stats.handshakes_total - handshakes,
                stats.connections_open
            )
        });
    Ok(IdleCost {
        cpu_percent_total: cpu_total / measured_s * 100.0,
        cpu_percent_windows: cpu_windows,
        wakeups_total: switches.total() as f64 / measured_s,
        wakeups_windows: wakeup_windows,
        tree_pss_mb: tree_pss_kb as f64 / 1024.0,
        tree_processes: tree.len(),
        main_private_mb: main.private_kb as f64 / 1024.0,
        main_anonymous_mb: main.anonymous_kb as f64 / 1024.0,
        webkit_processes,
        measured_s,
        disturbed,
    })
}
