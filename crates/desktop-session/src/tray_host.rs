//! The stand-in tray host (a StatusNotifierWatcher, `sni_watcher.py`): it
//! owns its name on the session bus so the app finds a tray, and hands out
//! the lines it prints, with when each item registration was read. It
//! judges nothing about the item itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{require, DesktopSession, Error, Script, PYTHON, STARTUP};

const TRAY_HOST: &str = "the stand-in tray host";

pub struct TrayHost {
    child: Child,
    /// Every line it printed, in order ("READY", then "ITEM <name><path>").
    lines: Mutex<Receiver<String>>,
    /// When each "ITEM" line was read, in order.
    registrations: Arc<Mutex<Vec<Instant>>>,
}

impl TrayHost {
    /// Starts it in `session` and waits until it owns its name ("READY").
    pub fn start(session: &DesktopSession) -> Result<Self, Error> {
        require(&[PYTHON])?;
        let log = session.home().join("tray-host.stderr");
        let stderr = std::fs::File::create(&log).map_err(Error::home(&log))?;
        let mut child = session
            .command(PYTHON)
            .arg(session.script(Script::TrayHost))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(Error::run(TRAY_HOST))?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        let registrations: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let host = Self {
            child,
            lines: Mutex::new(rx),
            registrations: registrations.clone(),
        };
        let stdout = stdout.ok_or_else(|| Error::misbehaved(TRAY_HOST, "has no piped stdout"))?;
        // Timestamped as read, so a benchmark can time the registration.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ITEM ") {
                    lock(&registrations).push(Instant::now());
                }
                // Nobody listens once the host is dropped.
                let _ = tx.send(line);
            }
        });
        match host.wait_line("READY", STARTUP) {
            Ok(_) => Ok(host),
            Err(Error::Misbehaved { .. }) => Err(Error::misbehaved(
                TRAY_HOST,
                format!(
                    "({PYTHON} sni_watcher.py, with python3-dbus-next) exited: {}",
                    std::fs::read_to_string(&log).unwrap_or_default().trim()
                ),
            )),
            Err(e) => Err(e),
        }
    }

    /// The next line it prints that starts with `prefix` (earlier lines are
    /// passed over).
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> Result<String, Error> {
        let deadline = Instant::now() + limit;
        let lines = lock(&self.lines);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Error::NotReady {
                        program: TRAY_HOST,
                        waited_for: format!("a line starting {prefix:?}"),
                        limit,
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::misbehaved(
                        TRAY_HOST,
                        format!("exited before it printed {prefix:?}"),
                    ))
                }
            }
        }
    }

    /// When a tray item first registered at or after `since`, if one has.
    pub fn registered_since(&self, since: Instant) -> Option<Instant> {
        lock(&self.registrations)
            .iter()
            .copied()
            .find(|at| *at >= since)
    }
}

impl Drop for TrayHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A poisoned lock still holds good data here: lines and instants are only
/// ever pushed whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
