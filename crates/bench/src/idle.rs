//! The real binary in a private desktop session: how long from launch until
//! it is up (headless: socket open; tray app: socket open and tray item
//! registered), then what it costs while connected and idle (CPU time,
//! wake-ups and memory of its process tree) in four states: headless (the
//! core's own cost), the tray app with its window never opened, with the
//! window open, and after the window was closed again. It judges nothing:
//! targets are main.rs's.

use std::path::Path;
use std::time::{Duration, Instant};

use smarthunt_devserver::DevServer;
use tokio::process::Child;

use crate::app::{self, Mode, Startup};
use crate::desktop::{with_session_and_server, DesktopSession};
use crate::error::{BenchError, BenchResult};
use crate::procfs::{self, TreeUsage};
use crate::report::Figure;
use crate::stats;

#[derive(Debug, Clone)]
pub struct IdlePlan {
    /// Launches timed until up, of the headless binary and of the tray app
    /// each (the last of each stays up for the idle part).
    pub starts: usize,
    /// Time left to the app after it is up (or its window opened or closed)
    /// before idling is measured.
    pub settle: Duration,
    /// Each idle state is measured in this many consecutive windows...
    pub windows: usize,
    /// ...of this length each.
    pub window: Duration,
}

/// What the idle app is doing while measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Headless,
    WindowClosed,
    WindowOpen,
    WindowClosedAgain,
}

const STATES: [State; 4] = [
    State::Headless,
    State::WindowClosed,
    State::WindowOpen,
    State::WindowClosedAgain,
];

impl State {
    fn key(self) -> &'static str {
        match self {
            Self::Headless => "headless",
            Self::WindowClosed => "window_closed",
            Self::WindowOpen => "window_open",
            Self::WindowClosedAgain => "window_closed_again",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Headless => "`smarthunt-tray --headless`: the core alone, no window and no tray",
            Self::WindowClosed => {
                "the tray app started with --hidden, in the tray, its window never opened"
            }
            Self::WindowOpen => {
                "the tray app with its window open (a second launch opened it) and settled"
            }
            Self::WindowClosedAgain => {
                "the tray app in the tray after its window was opened and closed again"
            }
        }
    }
}

const IDLE_FIGURES: [(&str, &str); 9] = [
    ("cpu_percent", "% of one core"),
    ("wakeups_per_s", "1/s"),
    ("tree_pss_mb", "MB"),
    ("main_private_mb", "MB"),
    ("main_anonymous_mb", "MB"),
    ("window_private_mb", "MB"),
    ("webkit_web_processes", "processes"),
    ("webkit_network_processes", "processes"),
    ("webkit_network_pss_mb", "MB"),
];

pub fn figure_names() -> Vec<(String, &'static str)> {
    let mut names = vec![
        ("start.to_connected_s".to_owned(), "s"),
        ("start.to_tray_shown_s".to_owned(), "s"),
    ];
    for state in STATES {
        for (name, unit) in IDLE_FIGURES {
            names.push((format!("idle.{}.{name}", state.key()), unit));
        }
    }
    names
}

/// What was measured of the idle app.
struct IdleCost {
    cpu_percent_total: f64,
    cpu_percent_windows: Vec<f64>,
    wakeups_total: f64,
    wakeups_windows: Vec<f64>,
    tree_pss_mb: f64,
    /// The command names of the process tree, the app first.
    tree: Vec<String>,
    main_private_mb: f64,
    main_anonymous_mb: f64,
    window_private_mb: f64,
    web_processes: usize,
    network_processes: usize,
    network_pss_mb: f64,
    measured_s: f64,
    /// Set when the app reconnected during the window (the figure is then
    /// not of an idle connected app).
    disturbed: Option<String>,
}

/// Everything measured, or why not.
struct Measured {
    headless_starts: BenchResult<Vec<Startup>>,
    tray_starts: BenchResult<Vec<Startup>>,
    /// One entry per state, in the order of [`STATES`].
    idle: Vec<(State, BenchResult<IdleCost>)>,
}

impl Measured {
    fn failed(why: &str) -> Self {
        Self {
            headless_starts: Err(BenchError::failed(why)),
            tray_starts: Err(BenchError::failed(why)),
            idle: STATES
                .iter()
                .map(|s| (*s, Err(BenchError::failed(why))))
                .collect(),
        }
    }
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &IdlePlan, tray_bin: &Path) -> Vec<(String, Figure)> {
    let measured = measure(plan, tray_bin).await;
    let mut figures = vec![
        (
            "start.to_connected_s".to_owned(),
            match measured.headless_starts {
                Ok(s) => {
                    Figure::from_runs("s", s.iter().map(|s| s.connected.as_secs_f64()).collect())
                        .with_note(
                            "launch of the headless binary to its socket open at the dev server; \
                     the first launch also reads the history",
                        )
                }
                Err(e) => Figure::not_measured("s", e.to_string()),
            },
        ),
        (
            "start.to_tray_shown_s".to_owned(),
            match measured.tray_starts {
                Ok(s) => tray_shown_figure(&s),
                Err(e) => Figure::not_measured("s", e.to_string()),
            },
        ),
    ];
    for (state, cost) in measured.idle {
        figures.extend(idle_figures(state, cost));
    }
    figures
}

fn tray_shown_figure(starts: &[Startup]) -> Figure {
    let (mut up, mut shown, mut connected) = (Vec::new(), Vec::new(), Vec::new());
    for s in starts {
        let tray = s.tray_shown.unwrap_or_default();
        up.push(s.connected.max(tray).as_secs_f64());
        shown.push(tray.as_secs_f64());
        connected.push(s.connected.as_secs_f64());
    }
    let median = |v: &[f64]| stats::median(v).unwrap_or(f64::NAN);
    Figure::from_runs("s", up).with_note(format!(
        "launch of the tray app (`smarthunt-tray --hidden`, signed in) until its tray item \
         has registered with the stand-in StatusNotifierWatcher and its socket is open at \
         the dev server, whichever is later; medians: item registered {:.3} s, socket open \
         {:.3} s",
        median(&shown),
        median(&connected)
    ))
}

fn idle_figures(state: State, cost: BenchResult<IdleCost>) -> Vec<(String, Figure)> {
    let name = |n: &str| format!("idle.{}.{n}", state.key());
    let c = match cost {
        Ok(c) => c,
        Err(e) => {
            return IDLE_FIGURES
                .iter()
                .map(|(n, unit)| (name(n), Figure::not_measured(unit, e.to_string())))
                .collect()
        }
    };
    let window_note = format!(
        "{:.0} s connected and idle: {}",
        c.measured_s,
        state.describe()
    );
    let window_note = match &c.disturbed {
        Some(d) => format!("{window_note}; {d}"),
        None => window_note,
    };
    let processes = format!("{} process(es): {}", c.tree.len(), c.tree.join(", "));
    vec![
        (
            name("cpu_percent"),
            Figure::from_runs("% of one core", c.cpu_percent_windows)
                .with_value(c.cpu_percent_total)
                .with_note(format!(
                    "utime+stime of the process tree over the whole time; runs are its \
                     windows; {window_note}"
                )),
        ),
        (
            name("wakeups_per_s"),
            Figure::from_runs("1/s", c.wakeups_windows)
                .with_value(c.wakeups_total)
                .with_note(
                    "voluntary + involuntary context switches of all threads of the process tree",
                ),
        ),
        (
            name("tree_pss_mb"),
            Figure::single("MB", c.tree_pss_mb).with_note(format!("PSS summed over {processes}")),
        ),
        (
            name("main_private_mb"),
            Figure::single("MB", c.main_private_mb).with_note(
                "Private_Clean + Private_Dirty of the main process (the tray app); \
                 clean pages of a file count as private while no other process maps \
                 that file (its own binary)",
            ),
        ),
        (
            name("main_anonymous_mb"),
            Figure::single("MB", c.main_anonymous_mb).with_note(
                "anonymous pages (heap, stacks): private memory without file pages such as its own code",
            ),
        ),
        (
            name("window_private_mb"),
            Figure::single("MB", c.window_private_mb).with_note(
                "Private_Clean + Private_Dirty of the window's process (smarthunt-window: \
                 Tauri, GTK, WebKitGTK's UI side); 0 when there is none",
            ),
        ),
        (
            name("webkit_web_processes"),
            Figure::single("processes", c.web_processes as f64)
                .with_note("WebKitWebProcess (renders a page) among the app's descendants"),
        ),
        (
            name("webkit_network_processes"),
            Figure::single("processes", c.network_processes as f64).with_note(
                "WebKitNetworkProcess among the app's descendants (WebKitGTK starts one \
                 with the first webview)",
            ),
        ),
        (
            name("webkit_network_pss_mb"),
            Figure::single("MB", c.network_pss_mb)
                .with_note("PSS of the WebKit network process(es); 0 when there is none"),
        ),
    ]
}

async fn measure(plan: &IdlePlan, tray_bin: &Path) -> Measured {
    with_session_and_server(async |session, server| {
        measure_in(session, server, plan, tray_bin).await
    })
    .await
    .unwrap_or_else(|e| Measured::failed(&e.to_string()))
}

async fn measure_in(
    session: &DesktopSession,
    server: &DevServer,
    plan: &IdlePlan,
    tray_bin: &Path,
) -> Measured {
    if let Err(e) = app::sign_in(session, server, tray_bin).await {
        return Measured::failed(&e.to_string());
    }
    let mut idle = Vec::new();
    let headless_starts =
        match app::launches(session, server, tray_bin, Mode::Headless, plan.starts).await {
            Ok((starts, child)) => {
                idle.push((State::Headless, idle_cost(server, &child, plan).await));
                app::terminate(child).await;
                Ok(starts)
            }
            Err(e) => {
                idle.push((State::Headless, Err(BenchError::failed(&e))));
                Err(e)
            }
        };
    let tray_starts = match app::launches(session, server, tray_bin, Mode::Tray, plan.starts).await
    {
        Ok((starts, child)) => {
            idle.extend(tray_app_idle(session, server, tray_bin, &child, plan).await);
            app::terminate(child).await;
            Ok(starts)
        }
        Err(e) => {
            let why = format!("the tray app did not start: {e}");
            for state in [
                State::WindowClosed,
                State::WindowOpen,
                State::WindowClosedAgain,
            ] {
                idle.push((state, Err(BenchError::failed(&why))));
            }
            Err(e)
        }
    };
    Measured {
        headless_starts,
        tray_starts,
        idle,
    }
}

/// The running tray app idle with its window never opened, then open, then
/// closed again.
async fn tray_app_idle(
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
    app: &Child,
    plan: &IdlePlan,
) -> Vec<(State, BenchResult<IdleCost>)> {
    let closed = idle_cost(server, app, plan).await;
    let (open, closed_again) = match app::open_window(session, tray_bin, app).await {
        Err(e) => {
            let why = format!("the window did not open: {e}");
            (Err(BenchError::failed(&why)), Err(BenchError::failed(why)))
        }
        Ok(()) => {
            let open = idle_cost(server, app, plan).await;
            let closed_again = match app::close_window(session, app).await {
                Ok(()) => idle_cost(server, app, plan).await,
                Err(e) => Err(BenchError::failed(format!("the window did not close: {e}"))),
            };
            (open, closed_again)
        }
    };
    vec![
        (State::WindowClosed, closed),
        (State::WindowOpen, open),
        (State::WindowClosedAgain, closed_again),
    ]
}

/// Waits out one measuring window, calling `sample` every second so that
/// threads and processes that end within it are counted; returns how long
/// it took, in seconds.
pub async fn one_window(
    window: Duration,
    mut sample: impl FnMut() -> BenchResult<()>,
) -> BenchResult<f64> {
    let start = Instant::now();
    while start.elapsed() < window {
        let left = window.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        sample()?;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn idle_cost(server: &DevServer, app: &Child, plan: &IdlePlan) -> BenchResult<IdleCost> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    tokio::time::sleep(plan.settle).await;
    let handshakes = server.stats().handshakes_total;
    let mut usage = TreeUsage::start(pid)?;
    let started = Instant::now();
    let (mut cpu_windows, mut wakeup_windows) = (Vec::new(), Vec::new());
    for _ in 0..plan.windows.max(1) {
        let (cpu_before, switches_before) = (usage.cpu_seconds(), usage.switches());
        let took = one_window(plan.window, || usage.sample()).await?;
        cpu_windows.push((usage.cpu_seconds() - cpu_before) / took * 100.0);
        wakeup_windows.push((usage.switches() - switches_before) as f64 / took);
    }
    let measured_s = started.elapsed().as_secs_f64();

    let tree = procfs::tree_memory(pid)?;
    // The root always comes first.
    let main = tree[0].1;
    let mb = |kb: u64| kb as f64 / 1024.0;
    let network: Vec<_> = tree
        .iter()
        .filter(|(name, _)| procfs::is_webkit_network_process(name))
        .collect();
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
        cpu_percent_total: usage.cpu_seconds() / measured_s * 100.0,
        cpu_percent_windows: cpu_windows,
        wakeups_total: usage.switches() as f64 / measured_s,
        wakeups_windows: wakeup_windows,
        tree_pss_mb: mb(tree.iter().map(|(_, m)| m.pss_kb).sum()),
        main_private_mb: mb(main.private_kb),
        main_anonymous_mb: mb(main.anonymous_kb),
        window_private_mb: mb(tree
            .iter()
            .filter(|(name, _)| procfs::is_window_process(name))
            .map(|(_, m)| m.private_kb)
            .sum()),
        web_processes: tree
            .iter()
            .filter(|(name, _)| procfs::is_webkit_web_process(name))
            .count(),
        network_processes: network.len(),
        network_pss_mb: mb(network.iter().map(|(_, m)| m.pss_kb).sum()),
        tree: tree.into_iter().map(|(name, _)| name).collect(),
        measured_s,
        disturbed,
    })
}
