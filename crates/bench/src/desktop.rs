//! A private desktop session for the real binary, as the end-to-end tests
//! start one (see TESTING.md): Xvfb, a session bus, an unlocked
//! gnome-keyring, dunst, the tests' stand-in tray host (a
//! StatusNotifierWatcher) that notes when a tray item registers, and a fresh
//! HOME/XDG tree; plus looking for, and closing, the app's window. It
//! measures nothing itself. Everything it started is stopped, by process id,
//! when it is dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::{BenchError, BenchResult};
use crate::harness::within;

const STARTUP: Duration = Duration::from_secs(20);

/// The end-to-end tests' stand-in tray host and window closer, run as they
/// are (built in, so the bench binary needs no source tree).
const TRAY_HOST_SCRIPT: &str = include_str!("../../../src-tauri/tests/support/sni_watcher.py");
const CLOSE_WINDOW_SCRIPT: &str = include_str!("../../../src-tauri/tests/support/close_window.py");

/// Debian's python3, which has python3-dbus-next and python3-xlib (one
/// earlier on PATH, e.g. pyenv's, may lack them).
const PYTHON: &str = "/usr/bin/python3";

/// The title of the app's window.
const WINDOW_TITLE: &str = "SmartHunt";

pub struct DesktopSession {
    home: tempfile::TempDir,
    env: HashMap<String, String>,
    xvfb: Child,
    bus_pid: Option<u32>,
    dunst: Option<Child>,
    tray_host: Option<Child>,
    /// When the tray host printed each item registration, in order.
    tray_registrations: Arc<Mutex<Vec<Instant>>>,
}

/// Whether `tool` is on PATH (an absolute path is checked as it is, since
/// joining it to a directory gives it back).
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Fails with a clear message naming the first missing program.
pub fn check_tools() -> BenchResult<()> {
    for tool in [
        "Xvfb",
        "dbus-daemon",
        "gnome-keyring-daemon",
        "dunst",
        "dunstctl",
        "xdotool",
        PYTHON,
    ] {
        if !on_path(tool) {
            return Err(BenchError::MissingTool { tool });
        }
    }
    Ok(())
}

impl DesktopSession {
    pub async fn start() -> BenchResult<Self> {
        check_tools()?;
        let home = tempfile::Builder::new()
            .prefix("smarthunt-bench-home-")
            .tempdir()
            .map_err(BenchError::io("cannot create a temporary HOME"))?;
        let h = home.path();
        let mut env = HashMap::new();
        for (key, sub) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            let dir = h.join(sub);
            std::fs::create_dir_all(&dir)
                .map_err(BenchError::io(format!("cannot create {}", dir.display())))?;
            env.insert(key.to_owned(), dir.display().to_string());
        }
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(h.join("run"), std::fs::Permissions::from_mode(0o700));
        }
        let support = h.join("support");
        for (name, text) in [
            ("sni_watcher.py", TRAY_HOST_SCRIPT),
            ("close_window.py", CLOSE_WINDOW_SCRIPT),
        ] {
            std::fs::create_dir_all(&support)
                .and_then(|()| std::fs::write(support.join(name), text))
                .map_err(BenchError::io(format!(
                    "cannot write {name} into {}",
                    support.display()
                )))?;
        }
        env.insert("HOME".into(), h.display().to_string());
        env.insert(
            "SMARTHUNT_DATA_DIR".into(),
            h.join("smarthunt").display().to_string(),
        );

        // Xvfb picks a free display itself and writes its number to fd 1.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io("cannot start Xvfb"))?;
        let stdout = xvfb
            .stdout
            .take()
            .ok_or_else(|| BenchError::failed("Xvfb's stdout is not piped"))?;
        let display = within(STARTUP, "Xvfb to start", async {
            BufReader::new(stdout).lines().next_line().await
        })
        .await?
        .map_err(BenchError::io("cannot read Xvfb's display number"))?
        .and_then(|l| l.trim().parse::<u32>().ok())
        .ok_or_else(|| BenchError::failed("Xvfb did not report a display"))?;
        env.insert("DISPLAY".into(), format!(":{display}"));

        let bus = within(
            STARTUP,
            "the session bus to start",
            Command::new("dbus-daemon")
                .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
                .envs(&env)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output(),
        )
        .await?
        .map_err(BenchError::io("cannot start dbus-daemon"))?;
        let text = String::from_utf8_lossy(&bus.stdout).into_owned();
        let mut lines = text.lines();
        let address = lines.next().unwrap_or_default().trim().to_owned();
        let bus_pid = lines.next().and_then(|p| p.trim().parse::<u32>().ok());
        if address.is_empty() || bus_pid.is_none() {
            return Err(BenchError::failed(format!(
                "dbus-daemon did not report its address and pid ({text:?})"
            )));
        }
        env.insert("DBUS_SESSION_BUS_ADDRESS".into(), address);

        let mut session = Self {
            home,
            env,
            xvfb,
            bus_pid,
            dunst: None,
            tray_host: None,
            tray_registrations: Arc::default(),
        };
        session.unlock_keyring().await?;
        session.start_dunst().await?;
        session.start_tray_host().await?;
        Ok(session)
    }

    async fn unlock_keyring(&mut self) -> BenchResult<()> {
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(BenchError::io("cannot start gnome-keyring-daemon"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(b"bench-password")
                .await
                .map_err(BenchError::io("cannot unlock the keyring"))?;
        }
        let out = within(STARTUP, "gnome-keyring to unlock", child.wait_with_output())
            .await?
            .map_err(BenchError::io("gnome-keyring-daemon failed"))?;
        if !out.status.success() {
            return Err(BenchError::failed(format!(
                "gnome-keyring-daemon exited with {}",
                out.status
            )));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                self.env.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(())
    }

    async fn start_dunst(&mut self) -> BenchResult<()> {
        let dunst = self
            .command("dunst")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io("cannot start dunst"))?;
        self.dunst = Some(dunst);
        within(STARTUP, "dunst to answer", async {
            loop {
                let answered = self
                    .command("dunstctl")
                    .arg("count")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await
                    .map(|s| s.success())
                    .unwrap_or(false);
                if answered {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }

    /// Starts the stand-in tray host and waits until it owns its name, so
    /// the app finds a tray (without one it opens its window at start).
    async fn start_tray_host(&mut self) -> BenchResult<()> {
        let script = self.support_script("sni_watcher.py");
        let log = self.home().join("tray-host.stderr");
        let stderr = std::fs::File::create(&log)
            .map_err(BenchError::io(format!("cannot create {}", log.display())))?;
        let mut host = self
            .command(PYTHON)
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io("cannot start the stand-in tray host"))?;
        let stdout = host
            .stdout
            .take()
            .ok_or_else(|| BenchError::failed("the tray host's stdout is not piped"))?;
        self.tray_host = Some(host);
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let registrations = self.tray_registrations.clone();
        // It prints "READY" once it owns the name, then "ITEM <name><path>"
        // for each registration: timestamped as read.
        tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let at = Instant::now();
                if line.starts_with("ITEM ") {
                    registrations
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(at);
                } else if line == "READY" {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        match within(STARTUP, "the stand-in tray host to start", ready).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(BenchError::failed(format!(
                "the stand-in tray host ({PYTHON} sni_watcher.py, with python3-dbus-next) \
                 exited: {}",
                std::fs::read_to_string(&log).unwrap_or_default().trim()
            ))),
        }
    }

    /// Where a built-in support script is, once `start` has written it.
    fn support_script(&self, name: &str) -> PathBuf {
        self.home().join("support").join(name)
    }

    /// When a tray item first registered with the tray host at or after
    /// `since`, if one has.
    pub fn tray_registered_since(&self, since: Instant) -> Option<Instant> {
        self.tray_registrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .find(|at| *at >= since)
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
            .arg(self.support_script("close_window.py"))
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
        let mut c = Command::new(program);
        c.envs(&self.env);
        c
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for DesktopSession {
    fn drop(&mut self) {
        for mut child in [self.tray_host.take(), self.dunst.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.start_kill();
        }
        // gnome-keyring-daemon daemonised itself; it exits with its bus.
        if let Some(pid) = self.bus_pid {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.xvfb.start_kill();
    }
}
