//! The benchmarks' desktop session: the throwaway one of
//! `smarthunt-desktop-session` with its stand-in tray host (noting when a
//! tray item registers), plus looking for, and closing, the app's window,
//! as tokio commands. It measures nothing itself. Everything it started is
//! stopped, by process id, when it is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use smarthunt_desktop_session::{self as throwaway, Script, TrayHost, PYTHON};
use smarthunt_devserver::{DevServer, DevServerConfig};
use tokio::process::Command;

use crate::error::{BenchError, BenchResult};

/// Runs `f` in a fresh desktop session with a dev server on loopback, and
/// stops both after it.
pub async fn with_session_and_server<T>(
    f: impl AsyncFnOnce(&DesktopSession, &DevServer) -> T,
) -> BenchResult<T> {
    let session = DesktopSession::start().await?;
    let server = DevServer::start(DevServerConfig::default())
        .await
        .map_err(|e| BenchError::failed(format!("the dev server did not start: {e}")))?;
    let result = f(&session, &server).await;
    server.shutdown().await;
    drop(session);
    Ok(result)
}

/// The title of the app's window.
const WINDOW_TITLE: &str = "SmartHunt";

pub struct DesktopSession {
    // Declared first so it stops before the session's bus does.
    tray_host: TrayHost,
    session: throwaway::DesktopSession,
}

impl DesktopSession {
    /// Starts the session and its tray host, so the app finds a tray
    /// (without one it opens its window at start).
    pub async fn start() -> BenchResult<Self> {
        tokio::task::spawn_blocking(|| {
            throwaway::require(&["xdotool"])?;
            let session = throwaway::DesktopSession::start()?;
            let tray_host = TrayHost::start(&session)?;
            Ok(Self { tray_host, session })
        })
        .await
        .map_err(|e| BenchError::failed(format!("the desktop session did not start: {e}")))?
    }

    /// When a tray item first registered with the tray host at or after
    /// `since`, if one has.
    pub fn tray_registered_since(&self, since: Instant) -> Option<Instant> {
        self.tray_host.registered_since(since)
    }

    /// Whether the app's window is on the screen.
    pub async fn window_exists(&self) -> bool {
        self.command("xdotool")
            .args(["search", "--name", &format!("^{WINDOW_TITLE}$")])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .map(|o| o.status.success() && !o.stdout.is_empty())
            .unwrap_or(false)
    }

    /// Asks the app's window to close as a window manager's close button
    /// does; false when no such window was found or asking failed.
    pub async fn ask_window_to_close(&self) -> bool {
        self.command(PYTHON)
            .arg(self.session.script(Script::CloseWindow))
            .arg(WINDOW_TITLE)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// A command that runs inside this session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        Command::from(self.session.command(program))
    }

    pub fn home(&self) -> &Path {
        self.session.home()
    }

    /// The app's data dir in this session (its `SMARTHUNT_DATA_DIR`).
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.session
            .env()
            .get("SMARTHUNT_DATA_DIR")
            .map(PathBuf::from)
    }
}
