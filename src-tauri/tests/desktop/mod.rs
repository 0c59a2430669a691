//! A real desktop session for end-to-end tests: Xvfb, a private session bus
//! (dbus-daemon, as dbus-run-session would start), an unlocked
//! gnome-keyring, dunst, and a fresh HOME/XDG tree. Everything is torn down
//! on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(30);

pub struct DesktopSession {
    pub home: tempfile::TempDir,
    pub env: HashMap<String, String>,
    xvfb: Child,
    bus_pid: u32,
    dunst: Option<Child>,
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is missing: install xvfb dbus-x11 dunst gnome-keyring libsecret-tools (see README)"
    );
}

impl DesktopSession {
    pub fn start() -> Self {
        for tool in [
            "Xvfb",
            "dbus-daemon",
            "dunst",
            "dunstctl",
            "gnome-keyring-daemon",
            "secret-tool",
        ] {
            require(tool);
        }
        let home = tempfile::tempdir().expect("home");
        let mut env = HashMap::new();
        let h = home.path();
        for (k, sub) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_CACHE_HOME", ".cache"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            let d = h.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            env.insert(k.to_owned(), d.display().to_string());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(h.join("run"), std::fs::Permissions::from_mode(0o700));
        }
        env.insert("HOME".into(), h.display().to_string());
        env.insert(
            "SMARTHUNT_DATA_DIR".into(),
            h.join("smarthunt").display().to_string(),
        );

        // Xvfb picks a free display itself and writes its number once it
        // is ready (tests run side by side: no guessing from lock files).
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
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let display = {
            use std::io::BufRead;
            let stdout = xvfb.stdout.take().expect("Xvfb stdout");
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("Xvfb reports its display");
            line.trim().to_owned()
        };
        assert!(!display.is_empty(), "Xvfb did not start");
        env.insert("DISPLAY".into(), format!(":{display}"));

        let out = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .envs(&env)
            .output()
            .expect("dbus-daemon starts");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let address = lines.next().expect("bus address").trim().to_owned();
        let bus_pid: u32 = lines.next().expect("bus pid").trim().parse().expect("pid");
        env.insert("DBUS_SESSION_BUS_ADDRESS".into(), address);

        let mut s = Self {
            home,
            env,
            xvfb,
            bus_pid,
            dunst: None,
        };
        s.unlock_keyring();
        s.start_dunst();
        s
    }

    fn unlock_keyring(&mut self) {
        use std::io::Write;
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"test-password")
            .unwrap();
        let out = child.wait_with_output().expect("keyring daemon");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                self.env.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    fn start_dunst(&mut self) {
        let dunst = Command::new("dunst")
            .envs(&self.env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst starts");
        self.dunst = Some(dunst);
        wait_until("dunst answers", || {
            self.command("dunstctl")
                .arg("count")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
    }

    /// A command that runs inside this session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(&self.env);
        c
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.env["SMARTHUNT_DATA_DIR"])
    }

    /// Every notification dunst has received (closing the displayed ones
    /// first, since its history lists closed ones only).
    pub fn notifications(&self) -> Vec<serde_json::Value> {
        let _ = self.command("dunstctl").arg("close-all").status();
        let out = self
            .command("dunstctl")
            .arg("history")
            .output()
            .expect("dunstctl history");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["data"][0]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let mut flat = serde_json::Map::new();
                if let Some(obj) = n.as_object() {
                    for (k, field) in obj {
                        flat.insert(k.clone(), field["data"].clone());
                    }
                }
                serde_json::Value::Object(flat)
            })
            .collect()
    }

    /// The keychain entry stored under `service`/`username`, if any.
    pub fn keychain_lookup(&self, service: &str, username: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", service, "username", username])
            .output()
            .ok()?;
        (out.status.success() && !out.stdout.is_empty())
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for DesktopSession {
    fn drop(&mut self) {
        if let Some(mut d) = self.dunst.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // gnome-keyring-daemon daemonised itself; it exits with its bus.
        let _ = Command::new("kill").arg(self.bus_pid.to_string()).status();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
