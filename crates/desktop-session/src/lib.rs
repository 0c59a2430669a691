//! A private, throwaway desktop session for tests and benchmarks: Xvfb, a
//! private session bus (dbus-daemon, as dbus-run-session would start), an
//! unlocked gnome-keyring, dunst, a fresh HOME/XDG tree and, when asked, a
//! stand-in tray host. It measures and asserts nothing; everything it
//! started is stopped, by process id, when it is dropped.

pub mod disk;
mod error;
mod tray_host;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use error::Error;
pub use tray_host::TrayHost;

/// Debian's python3, which has python3-dbus-next and python3-xlib (one
/// earlier on PATH, e.g. pyenv's, may lack them).
pub const PYTHON: &str = "/usr/bin/python3";

/// How long each program of the session may take to come up.
pub const STARTUP: Duration = Duration::from_secs(30);

/// The support scripts, built in so a binary run away from the source tree
/// (the bench) has them too; `start` writes them into the session's HOME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// The stand-in StatusNotifierWatcher [`TrayHost`] runs.
    TrayHost,
    /// `close_window.py TITLE`: asks a window to close as a window
    /// manager's close button does; exits 0 when it found one to ask.
    CloseWindow,
}

impl Script {
    const ALL: [Self; 2] = [Self::TrayHost, Self::CloseWindow];

    fn file_name(self) -> &'static str {
        match self {
            Self::TrayHost => "sni_watcher.py",
            Self::CloseWindow => "close_window.py",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::TrayHost => include_str!("../../../src-tauri/tests/support/sni_watcher.py"),
            Self::CloseWindow => include_str!("../../../src-tauri/tests/support/close_window.py"),
        }
    }
}

/// A bus like `dbus-daemon --session`'s, its service files given by
/// [`bus_config`].
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  SERVICEDIR
</busconfig>
"#;

/// Where the system's session services are declared.
const SYSTEM_SERVICE_DIRS: [&str; 2] = [
    "/usr/local/share/dbus-1/services",
    "/usr/share/dbus-1/services",
];

/// The session bus's config. Its services are the system's (dconf, the
/// accessibility bus, portals, the keyring...) but never a notification
/// daemon: a call to `org.freedesktop.Notifications` made before the
/// session's own dunst has its name would otherwise start the system's
/// dunst on demand, with its default config, and the session's dunst
/// would exit ("Cannot acquire 'org.freedesktop.Notifications'"): the
/// cause of context menus that were never answered. With `services` None
/// nothing at all can be started on demand.
fn bus_config(services: Option<&Path>) -> Result<String, Error> {
    let Some(dir) = services else {
        return Ok(BUS_CONFIG.replace("SERVICEDIR", ""));
    };
    std::fs::create_dir_all(dir).map_err(Error::home(dir))?;
    for system in SYSTEM_SERVICE_DIRS {
        let Ok(entries) = std::fs::read_dir(system) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let notifications = text
                .lines()
                .any(|l| l.trim() == "Name=org.freedesktop.Notifications");
            let link = dir.join(entry.file_name());
            if notifications || link.exists() {
                continue;
            }
            std::os::unix::fs::symlink(&path, &link).map_err(Error::home(&link))?;
        }
    }
    Ok(BUS_CONFIG.replace(
        "SERVICEDIR",
        &format!("<servicedir>{}</servicedir>", dir.display()),
    ))
}

/// Fails naming the first of `tools` that is not installed (an absolute
/// path is checked as it is, since joining it to a directory gives it back).
pub fn require(tools: &[&'static str]) -> Result<(), Error> {
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
    };
    match tools.iter().find(|tool| !on_path(tool)) {
        Some(tool) => Err(Error::MissingTool { tool }),
        None => Ok(()),
    }
}

pub struct DesktopSession {
    home: tempfile::TempDir,
    env: HashMap<String, String>,
    xvfb: Child,
    bus_pid: Option<u32>,
    dunst: Option<Child>,
}

impl DesktopSession {
    /// A session with dunst as its notification daemon.
    pub fn start() -> Result<Self, Error> {
        Self::start_with(true)
    }

    /// A session with no notification daemon at all: none running, and
    /// none that D-Bus could start on demand (a bus without service files).
    pub fn without_notification_daemon() -> Result<Self, Error> {
        Self::start_with(false)
    }

    fn start_with(notifications: bool) -> Result<Self, Error> {
        require(&["Xvfb", "dbus-daemon", "gnome-keyring-daemon"])?;
        if notifications {
            require(&["dunst", "dunstctl"])?;
        }
        let home = tempfile::Builder::new()
            .prefix("smarthunt-desktop-")
            .tempdir()
            .map_err(Error::home(std::env::temp_dir()))?;
        let env = fresh_home(home.path())?;

        // Xvfb picks a free display itself and writes its number once it
        // is ready (sessions run side by side: no guessing from lock files).
        let xvfb = Command::new("Xvfb")
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
            .spawn()
            .map_err(Error::run("Xvfb"))?;
        // From here on, dropping the session stops what has started.
        let mut session = Self {
            home,
            env,
            xvfb,
            bus_pid: None,
            dunst: None,
        };
        session.read_display()?;
        session.start_bus(notifications)?;
        session.unlock_keyring()?;
        if notifications {
            session.start_dunst()?;
        }
        Ok(session)
    }

    fn read_display(&mut self) -> Result<(), Error> {
        let stdout = self
            .xvfb
            .stdout
            .take()
            .ok_or_else(|| Error::misbehaved("Xvfb", "has no piped stdout"))?;
        // Read on a thread so a hung Xvfb is a timeout; it ends with Xvfb.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        });
        let display = rx
            .recv_timeout(STARTUP)
            .map_err(|_| Error::NotReady {
                program: "Xvfb",
                waited_for: "its display number".into(),
                limit: STARTUP,
            })?
            .map_err(Error::run("Xvfb"))?
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::misbehaved("Xvfb", "did not report a display"))?;
        self.env.insert("DISPLAY".into(), format!(":{display}"));
        Ok(())
    }

    fn start_bus(&mut self, notifications: bool) -> Result<(), Error> {
        let mut bus = self.command("dbus-daemon");
        let services = notifications.then(|| self.home().join("dbus-services"));
        let config = self.home().join("bus.conf");
        std::fs::write(&config, bus_config(services.as_deref())?).map_err(Error::home(&config))?;
        bus.arg(format!("--config-file={}", config.display()));
        bus.args(["--fork", "--print-address=1", "--print-pid=1"]);
        let out = run_to_exit(&mut bus, "dbus-daemon", "its address and pid", None)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let address = lines.next().unwrap_or_default().trim().to_owned();
        let pid = lines.next().and_then(|p| p.trim().parse::<u32>().ok());
        match pid {
            Some(pid) if !address.is_empty() => {
                self.bus_pid = Some(pid);
                self.env.insert("DBUS_SESSION_BUS_ADDRESS".into(), address);
                Ok(())
            }
            _ => Err(Error::misbehaved(
                "dbus-daemon",
                format!("did not report its address and pid ({text:?})"),
            )),
        }
    }

    fn unlock_keyring(&mut self) -> Result<(), Error> {
        let out = run_to_exit(
            self.command("gnome-keyring-daemon").args([
                "--unlock",
                "--components=secrets",
                "--daemonize",
            ]),
            "gnome-keyring-daemon",
            "the keyring to unlock",
            Some(b"throwaway-password"),
        )?;
        if !out.status.success() {
            return Err(Error::misbehaved(
                "gnome-keyring-daemon",
                format!("exited with {}", out.status),
            ));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                self.env.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(())
    }

    fn start_dunst(&mut self) -> Result<(), Error> {
        // Popups stay until closed (a test can see the app withdraw one),
        // and the context menu picks the entry whose label is in
        // `$HOME/pick` (see `pick_action`), as a user choosing it would.
        let pick = self.home().join("pick.sh");
        let config = self.home().join("dunstrc");
        // It notes each run in `$HOME/pick.log` (what dunst offered and
        // what it answered), for a menu that goes unanswered.
        let written = std::fs::write(&pick, PICK_SCRIPT)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&pick, std::fs::Permissions::from_mode(0o755))
            })
            .and_then(|()| {
                std::fs::write(
                    &config,
                    format!(
                        "[global]\n  markup = full\n  dmenu = {}\n[urgency_low]\n  timeout = 0\n[urgency_normal]\n  timeout = 0\n[urgency_critical]\n  timeout = 0\n",
                        pick.display()
                    ),
                )
            });
        written.map_err(Error::home(&config))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home().join("dunst.log"))
            .map_err(Error::home(self.home().join("dunst.log")))?;
        let dunst = self
            .command("dunst")
            .arg("-config")
            .arg(&config)
            .args(["-verbosity", "info"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(Error::run("dunst"))?;
        self.dunst = Some(dunst);
        let deadline = Instant::now() + STARTUP;
        loop {
            let answered = self
                .command("dunstctl")
                .arg("count")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if answered {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    program: "dunst",
                    waited_for: "`dunstctl count` to answer".into(),
                    limit: STARTUP,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Restarts the notification daemon, as a desktop does when it
    /// crashes or is updated: a new dunst with a new bus name.
    pub fn restart_dunst(&mut self) -> Result<(), Error> {
        if let Some(mut dunst) = self.dunst.take() {
            let _ = dunst.kill();
            let _ = dunst.wait();
        }
        self.start_dunst()
    }

    /// Chooses, in the newest popup's context menu (`dunstctl context`),
    /// the entry whose label contains `label`, as the daemon itself
    /// offers it.
    pub fn pick_action(&self, label: &str) -> Result<(), Error> {
        let pick = self.home().join("pick");
        let picked = self.home().join("picked");
        let _ = std::fs::remove_file(&picked);
        std::fs::write(&pick, label).map_err(Error::home(&pick))?;
        // dunst runs the menu on its own: the choice is made once the
        // script has answered (closing the popup before would lose it).
        let out = run_to_exit(
            self.command("dunstctl").arg("context"),
            "dunstctl",
            "the context menu",
            None,
        )?;
        if !out.status.success() {
            return Err(Error::misbehaved(
                "dunstctl",
                format!("context exited with {}", out.status),
            ));
        }
        let deadline = Instant::now() + STARTUP;
        while !picked.exists() {
            if Instant::now() >= deadline {
                return Err(Error::misbehaved(
                    "dunst",
                    format!(
                        "never answered its context menu within {} s ({} displayed); \
                         the menu script's log: {:?}; dunst's log ends: {:?}",
                        STARTUP.as_secs(),
                        self.displayed(),
                        read_tail(&self.home().join("pick.log")),
                        read_tail(&self.home().join("dunst.log")),
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // dunst acts on the answer as it reads it.
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    /// Locks the keyring's default collection, as a screen lock or
    /// Seahorse does: a secret can then be read only once the user types
    /// the keyring's password into gnome-keyring's own prompt.
    pub fn lock_keyring(&self) -> Result<(), Error> {
        let call = |object: &str, method: &str, args: &[&str]| -> Result<String, Error> {
            let out = self
                .command("gdbus")
                .args(["call", "--session", "--dest", "org.freedesktop.secrets"])
                .args(["--object-path", object, "--method", method])
                .args(args)
                .output()
                .map_err(Error::run("gdbus"))?;
            if !out.status.success() {
                return Err(Error::misbehaved(
                    "gnome-keyring-daemon",
                    format!(
                        "refused {method}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let service = "/org/freedesktop/secrets";
        // It answers `(objectpath '/org/freedesktop/secrets/collection/login',)`.
        let alias = call(
            service,
            "org.freedesktop.Secret.Service.ReadAlias",
            &["default"],
        )?;
        let collection = alias
            .split('\'')
            .nth(1)
            .filter(|p| p.len() > 1)
            .ok_or_else(|| {
                Error::misbehaved(
                    "gnome-keyring-daemon",
                    format!("has no default collection: {alias}"),
                )
            })?;
        call(
            service,
            "org.freedesktop.Secret.Service.Lock",
            &[&format!("['{collection}']")],
        )?;
        let locked = call(
            collection,
            "org.freedesktop.DBus.Properties.Get",
            &["org.freedesktop.Secret.Collection", "Locked"],
        )?;
        if !locked.contains("true") {
            return Err(Error::misbehaved(
                "gnome-keyring-daemon",
                format!("did not lock {collection}: Locked is {}", locked.trim()),
            ));
        }
        Ok(())
    }

    /// How many popups dunst shows now.
    pub fn displayed(&self) -> u32 {
        self.command("dunstctl")
            .args(["count", "displayed"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0)
    }

    /// A command that runs inside this session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(&self.env);
        c
    }

    /// The variables a program needs to run inside this session: HOME, the
    /// XDG directories, DISPLAY, the bus, the keyring's and
    /// SMARTHUNT_DATA_DIR.
    pub fn env(&self) -> &HashMap<String, String> {
        &self.env
    }

    /// The session's HOME, removed when it is dropped.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Where a built-in support script is.
    pub fn script(&self, script: Script) -> PathBuf {
        support_dir(self.home()).join(script.file_name())
    }
}

impl Drop for DesktopSession {
    fn drop(&mut self) {
        if let Some(mut dunst) = self.dunst.take() {
            let _ = dunst.kill();
            let _ = dunst.wait();
        }
        // gnome-keyring-daemon daemonised itself; it exits with its bus.
        if let Some(pid) = self.bus_pid {
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

fn support_dir(home: &Path) -> PathBuf {
    home.join("support")
}

/// Lays out HOME's XDG tree and support scripts, and returns the
/// variables naming them.
fn fresh_home(home: &Path) -> Result<HashMap<String, String>, Error> {
    let mut env = HashMap::new();
    for (key, sub) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ] {
        let dir = home.join(sub);
        std::fs::create_dir_all(&dir).map_err(Error::home(&dir))?;
        env.insert(key.to_owned(), dir.display().to_string());
    }
    {
        use std::os::unix::fs::PermissionsExt;
        // Best effort: programs that insist on a private runtime dir say so.
        let _ = std::fs::set_permissions(home.join("run"), std::fs::Permissions::from_mode(0o700));
    }
    let support = support_dir(home);
    for script in Script::ALL {
        std::fs::create_dir_all(&support)
            .and_then(|()| std::fs::write(support.join(script.file_name()), script.text()))
            .map_err(Error::home(support.join(script.file_name())))?;
    }
    env.insert("HOME".into(), home.display().to_string());
    env.insert(
        "SMARTHUNT_DATA_DIR".into(),
        home.join("smarthunt").display().to_string(),
    );
    Ok(env)
}

/// Runs a program that forks its daemon and exits, writing `input` to it
/// first; one that hangs past [`STARTUP`] is stopped by its pid.
/// The context menu's "dmenu": picks the entry whose label is in
/// `$HOME/pick`, as a user choosing it would, noting each run.
const PICK_SCRIPT: &str = r#"#!/bin/sh
echo "started at $(date +%T.%N)" >> "$HOME/pick.log"
input=$(cat)
echo "offered [$input]" >> "$HOME/pick.log"
printf '%s\n' "$input" | grep -i -m1 -F -- "$(cat "$HOME/pick")"
status=$?
echo "answered with status $status" >> "$HOME/pick.log"
touch "$HOME/picked"
exit $status
"#;

/// The last 2 KB of a log, for an error message.
fn read_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let cut = text.len().saturating_sub(2048);
    let cut = (cut..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[cut..].to_owned()
}

fn run_to_exit(
    command: &mut Command,
    program: &'static str,
    waited_for: &str,
    input: Option<&[u8]>,
) -> Result<Output, Error> {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(Error::run(program))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input).map_err(Error::run(program))?;
    }
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(STARTUP) {
        Ok(out) => out.map_err(Error::run(program)),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            Err(Error::NotReady {
                program,
                waited_for: waited_for.into(),
                limit: STARTUP,
            })
        }
    }
}
