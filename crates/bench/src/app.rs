//! The real binary in a desktop session: signing in, launching it headless
//! or as the tray app and timing it until it is up, opening and closing its
//! window as a user would, and stopping it. It measures no costs itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use smarthunt_devserver::{DevServer, TENANT};
use tokio::io::AsyncWriteExt;
use tokio::process::Child;

use crate::desktop::DesktopSession;
use crate::error::{BenchError, BenchResult};
use crate::harness::within;
use crate::procfs;

/// How long the app, its window or a second launch may take to answer.
const ANSWER: Duration = Duration::from_secs(30);

/// How the binary is launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--headless`: the core alone, no window and no tray.
    Headless,
    /// `--hidden`: the tray app (Tauri shell) starting in the tray, as
    /// autostart launches it.
    Tray,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Self::Headless => "--headless",
            Self::Tray => "--hidden",
        }
    }
}

/// How long one launch took to be up.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    /// Launch to its socket open at the dev server.
    pub connected: Duration,
    /// Launch to its tray item registered with the tray host (tray app only).
    pub tray_shown: Option<Duration>,
}

/// `smarthunt-tray login` as the tenant, password on standard input.
pub async fn sign_in(
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
) -> BenchResult<()> {
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

/// Launches the app `count` times (at least once), each until it is up;
/// all but the last are stopped again, the last is returned running.
pub async fn launches(
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
    mode: Mode,
    count: usize,
) -> BenchResult<(Vec<Startup>, Child)> {
    let mut startups = Vec::new();
    let count = count.max(1);
    for i in 0..count {
        let (child, startup) = launch(session, server, tray_bin, mode, i).await?;
        startups.push(startup);
        if i + 1 == count {
            return Ok((startups, child));
        }
        terminate(child).await;
    }
    Err(BenchError::failed("the app was never launched"))
}

/// Where the standard error of launch number `launch` (from 0) of [`launches`]
/// goes: the app's log lines, with their times.
pub fn stderr_log(session: &DesktopSession, mode: Mode, launch: usize) -> PathBuf {
    session.home().join(format!(
        "{}-{launch}.stderr",
        mode.arg().trim_start_matches('-')
    ))
}

/// Launches the app and waits until the dev server sees its socket and, for
/// the tray app, its tray item has registered.
async fn launch(
    session: &DesktopSession,
    server: &DevServer,
    tray_bin: &Path,
    mode: Mode,
    launch: usize,
) -> BenchResult<(Child, Startup)> {
    within(ANSWER, "the previous app's socket to close", async {
        while server.stats().connections_open > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    let log = stderr_log(session, mode, launch);
    let stderr = std::fs::File::create(&log)
        .map_err(BenchError::io(format!("cannot create {}", log.display())))?;
    let started = Instant::now();
    let mut child = session
        .command(tray_bin)
        .arg(mode.arg())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!(
            "cannot start {}",
            tray_bin.display()
        )))?;
    let what = match mode {
        Mode::Headless => "the app to connect",
        Mode::Tray => "the app to connect and its tray item to register",
    };
    let up = within(ANSWER, what, async {
        let mut connected = None;
        loop {
            if connected.is_none() && server.stats().connections_open > 0 {
                connected = Some(started.elapsed());
            }
            let tray_shown = session
                .tray_registered_since(started)
                .map(|at| at.duration_since(started));
            match (mode, connected, tray_shown) {
                (Mode::Headless, Some(connected), _) => {
                    return Ok(Startup {
                        connected,
                        tray_shown: None,
                    })
                }
                (Mode::Tray, Some(connected), Some(shown)) => {
                    return Ok(Startup {
                        connected,
                        tray_shown: Some(shown),
                    })
                }
                _ => {}
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(BenchError::failed(format!(
                    "`smarthunt-tray {}` exited with {status} before it was up: {}",
                    mode.arg(),
                    said.trim()
                )));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    match up {
        Ok(Ok(startup)) => Ok((child, startup)),
        Ok(Err(e)) | Err(e) => {
            terminate(child).await;
            Err(e)
        }
    }
}

/// Starts `smarthunt-tray` again, as the launcher does: it hands over to
/// the running one (which shows its window) and exits. Its standard error
/// is piped, to say why it failed.
pub fn launch_again(session: &DesktopSession, tray_bin: &Path) -> BenchResult<Child> {
    session
        .command(tray_bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!("cannot run {}", tray_bin.display())))
}

/// Opens the running tray app's window as a user launching it again does
/// (the second instance hands over and exits), and waits until the window
/// is on the screen and a WebKit web process renders it.
pub async fn open_window(
    session: &DesktopSession,
    tray_bin: &Path,
    app: &Child,
) -> BenchResult<()> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    let second = within(
        ANSWER,
        "a second `smarthunt-tray` to hand over and exit",
        launch_again(session, tray_bin)?.wait_with_output(),
    )
    .await?
    .map_err(BenchError::io(format!("cannot run {}", tray_bin.display())))?;
    if !second.status.success() {
        return Err(BenchError::failed(format!(
            "a second `smarthunt-tray` exited with {}: {}",
            second.status,
            String::from_utf8_lossy(&second.stderr).trim()
        )));
    }
    within(ANSWER, "the window to appear", async {
        while !session.window_exists().await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?;
    within(ANSWER, "a WebKit web process to render the window", async {
        while web_processes(pid) == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// Closes the window as a window manager's close button does, and waits
/// until it is gone and (for a while) until its web process has ended. A web
/// process that stays is not an error: the figures measured next show it.
pub async fn close_window(session: &DesktopSession, app: &Child) -> BenchResult<()> {
    let pid = app
        .id()
        .ok_or_else(|| BenchError::failed("the app has already exited"))?;
    within(ANSWER, "the window to close", async {
        // A close asked while the page is still loading can go unheard:
        // ask again every 2 s, as a user would click again.
        let mut asked: Option<Instant> = None;
        while session.window_exists().await {
            if asked.is_none_or(|at| at.elapsed() >= Duration::from_secs(2)) {
                session.ask_window_to_close().await;
                asked = Some(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?;
    let _ = within(Duration::from_secs(10), "the web process to end", async {
        while web_processes(pid) > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    Ok(())
}

/// WebKit web processes among the descendants of `pid`.
fn web_processes(pid: u32) -> usize {
    procfs::descendants(pid)
        .into_iter()
        .filter_map(procfs::command_name)
        .filter(|name| procfs::is_webkit_web_process(name))
        .count()
}

/// SIGTERM, then SIGKILL after 10 s.
pub async fn terminate(mut child: Child) {
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
