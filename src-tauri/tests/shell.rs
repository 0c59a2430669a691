//! End-to-end: the real tray app (Tauri, WebKitGTK, appindicator) in a real
//! desktop session with a stand-in tray host, dunst and gnome-keyring,
//! against the dev server. Each test has its own session bus, since single
//! instance and the tray are per bus.

mod desktop;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use desktop::{wait_until, DesktopSession, WAIT};
use serde_json::{json, Value};
use smarthunt_devserver::{DevServer, DevServerConfig};

const BIN: &str = env!("CARGO_BIN_EXE_smarthunt-tray");

fn support(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script)
}

/// Where screenshots and icons of the runs are kept for people to look at.
fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Server {
    runtime: tokio::runtime::Runtime,
    server: Option<DevServer>,
    url: String,
}

impl Server {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(DevServer::start(DevServerConfig::default()))
            .unwrap();
        let url = server.base_url();
        Self {
            runtime,
            server: Some(server),
            url,
        }
    }

    fn control(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/control/{path}", self.url);
        self.runtime.block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null)
        })
    }

    fn connections(&self) -> u64 {
        let url = format!("{}/control/stats", self.url);
        self.runtime.block_on(async {
            let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            v["connections_open"].as_u64().unwrap_or(0)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.runtime.block_on(s.shutdown());
        }
    }
}

/// A desktop session with a tray host and a signed-in account.
struct Tray {
    session: DesktopSession,
    watcher: Child,
    watcher_log: std::sync::mpsc::Receiver<String>,
    item: Option<(String, String)>,
}

impl Tray {
    fn start(with_tray_host: bool) -> Self {
        let session = DesktopSession::start();
        let mut watcher = if with_tray_host {
            session
                .command("/usr/bin/python3")
                .arg(support("sni_watcher.py"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("the tray host starts (python3-dbus-next)")
        } else {
            Command::new("true").stdout(Stdio::piped()).spawn().unwrap()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = watcher.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut tray = Self {
            session,
            watcher,
            watcher_log: rx,
            item: None,
        };
        if with_tray_host {
            tray.wait_line("READY");
        }
        tray
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.watcher_log.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("the tray host never saw {prefix}"),
            }
        }
    }

    fn login(&self, server: &str, user: &str, password: &str) {
        let mut child = self
            .session
            .command(BIN)
            .args([
                "login",
                "--server",
                server,
                "--username",
                user,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the app; its log goes to `app.log` in the session's home,
    /// kept with the artefacts when a test fails.
    fn launch(&self, args: &[&str]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.session.home.path().join("app.log"))
            .unwrap();
        self.session
            .command(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// The registered item's bus name and object path.
    fn item(&mut self) -> (String, String) {
        if let Some(i) = &self.item {
            return i.clone();
        }
        let line = self.wait_line("ITEM ");
        let item = line.trim_start_matches("ITEM ").trim().to_owned();
        let slash = item.find('/').expect("item has a path");
        let found = (item[..slash].to_owned(), item[slash..].to_owned());
        self.item = Some(found.clone());
        found
    }

    fn gdbus(&self, args: &[&str]) -> String {
        let out = self.session.command("gdbus").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "gdbus {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn property(&mut self, name: &str) -> String {
        let (dest, path) = self.item();
        self.gdbus(&[
            "call",
            "--session",
            "--dest",
            &dest,
            "--object-path",
            &path,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.kde.StatusNotifierItem",
            name,
        ])
    }

    /// The icon file the item shows, as `IconName` names it.
    fn icon_path(&mut self) -> PathBuf {
        let v = self.property("IconName");
        let start = v.find('/').expect("an absolute icon path");
        let end = v[start..].find('\'').map(|e| start + e).unwrap_or(v.len());
        PathBuf::from(&v[start..end])
    }

    fn label(&mut self) -> String {
        let v = self.property("XAyatanaLabel");
        v.split('\'').nth(1).unwrap_or_default().to_owned()
    }

    fn menu_layout(&mut self) -> String {
        let (dest, _) = self.item();
        let menu = self.property("Menu");
        let path = menu
            .split('\'')
            .nth(1)
            .expect("a menu object path")
            .to_owned();
        self.gdbus(&[
            "call",
            "--session",
            "--dest",
            &dest,
            "--object-path",
            &path,
            "--method",
            "com.canonical.dbusmenu.GetLayout",
            "--",
            "0",
            "-1",
            "[]",
        ])
    }

    fn webkit_web_processes(&self, app: &Child) -> usize {
        descendants(app.id())
            .iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim() == "WebKitWebProces")
                    .unwrap_or(false)
            })
            .count()
    }

    fn window_exists(&self) -> bool {
        self.session
            .command("xdotool")
            .args(["search", "--name", "^SmartHunt$"])
            .output()
            .map(|o| o.status.success() && !o.stdout.is_empty())
            .unwrap_or(false)
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.session.home.path().join("app.log"))
                .unwrap_or_default();
            eprintln!("--- app log ---\n{log}\n--- end of app log ---");
        }
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
    }
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 2..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (child, parent) in &parents {
            if *parent == p {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads the badge area of the icon: how many pixels are the badge's red.
fn badge_pixels(icon: &std::path::Path) -> usize {
    let out = Command::new("convert")
        .arg(icon)
        .args(["-depth", "8", "rgba:-"])
        .output()
        .expect("imagemagick reads the icon");
    out.stdout
        .chunks_exact(4)
        .filter(|p| p[0] == 0xd9 && p[1] == 0x30 && p[2] == 0x25)
        .count()
}

#[test]
fn tray_shows_the_count_and_state_and_lists_its_menu() {
    let mut tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    tray.item();
    wait_until("connected", || server.connections() >= 1);

    // No count: no badge and an empty label.
    wait_until("no badge at 0", || {
        let icon = tray.icon_path();
        icon.exists() && badge_pixels(&icon) == 0
    });
    assert_eq!(tray.label(), "");

    for i in 0..3 {
        server.control(
            "notify",
            json!({"username":"tenant","title":format!("Viewing {i}"),"body":"Tomorrow at 10","notification_type":"property"}),
        );
    }
    wait_until("the label shows 3", || tray.label() == "3");
    let icon = tray.icon_path();
    assert!(badge_pixels(&icon) > 50, "a red badge on the icon");
    std::fs::copy(&icon, artefacts().join("tray-icon-3-unread.png")).unwrap();

    let menu = tray.menu_layout();
    for entry in [
        "Open",
        "Mark all read",
        "Pause notifications",
        "Sign out",
        "Quit",
        "Connected",
    ] {
        assert!(menu.contains(entry), "menu lacks {entry}: {menu}");
    }

    // Offline: another look.
    let connected_icon = std::fs::read(&icon).unwrap();
    server.control("reject_handshakes", json!({"status": 503}));
    server.control("close", json!({"code": 1011}));
    wait_until("the menu says offline", || {
        tray.menu_layout().contains("Offline")
    });
    let offline_icon = std::fs::read(tray.icon_path()).unwrap();
    assert_ne!(offline_icon, connected_icon, "offline looks different");
    std::fs::copy(tray.icon_path(), artefacts().join("tray-icon-offline.png")).unwrap();
    terminate(&mut app);
}

#[test]
fn popups_carry_urgency_and_actions_and_the_screen_shows_them() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "landlord", "landlord-pass");
    let monitor = tray
        .session
        .command("dbus-monitor")
        .arg("interface='org.freedesktop.Notifications',member='Notify'")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "notify",
        json!({"username":"landlord","title":"Boiler broken","body":"Flat 3: no hot water","notification_type":"maintenance"}),
    );
    let booking = server.control("booking_request", json!({"tenant":"tenant"}));
    assert!(booking["booking_id"].as_i64().is_some());
    wait_until("dunst shows the popups", || {
        tray.session
            .command("dunstctl")
            .args(["count", "displayed"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .unwrap_or(0)
                    >= 1
            })
            .unwrap_or(false)
    });
    std::thread::sleep(Duration::from_millis(300));
    let shot = artefacts().join("popup.png");
    let _ = tray
        .session
        .command("import")
        .args(["-window", "root"])
        .arg(&shot)
        .status();
    let _ = Command::new("kill").arg(monitor.id().to_string()).status();
    let out = monitor.wait_with_output().unwrap();
    let calls = String::from_utf8_lossy(&out.stdout).into_owned();
    let maintenance = calls
        .split("member=Notify")
        .find(|c| c.contains("Boiler broken"))
        .expect("a Notify call for the maintenance request");
    assert!(
        maintenance.contains("\"urgency\"") && maintenance.contains("byte 2"),
        "maintenance is critical: {maintenance}"
    );
    let request = calls
        .split("member=Notify")
        .find(|c| c.contains("\"approve\""))
        .expect("a booking request offers Approve");
    assert!(request.contains("\"decline\"") && request.contains("\"mark-read\""));
    terminate(&mut app);
}

#[test]
fn approve_from_a_popup_approves_the_booking_on_the_server() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "landlord", "landlord-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    let booking = server.control("booking_request", json!({"tenant":"tenant"}));
    let booking_id = booking["booking_id"].as_i64().unwrap();
    let mut id = None;
    wait_until("the request pops up", || {
        id = tray
            .session
            .notifications()
            .iter()
            .find(|n| n["category"] == "x-smarthunt.booking")
            .and_then(|n| n["id"].as_u64());
        id.is_some()
    });
    let id = id.unwrap();
    // As the daemon would on a click of Approve.
    let status = tray
        .session
        .command("gdbus")
        .args([
            "emit",
            "--session",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--signal",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32 {id}"),
            "approve",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    wait_until("the outcome is shown", || {
        tray.session
            .notifications()
            .iter()
            .any(|n| n["summary"] == "Booking approved")
    });
    // The server has it decided: deciding again is refused as not pending.
    let again = server.runtime.block_on(async {
        let client = reqwest::Client::new();
        let tokens: Value = client
            .post(format!("{}/api/token/", server.url))
            .json(&json!({"username":"landlord","password":"landlord-pass"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        client
            .patch(format!(
                "{}/api/interactions/bookings/{booking_id}/approve/",
                server.url
            ))
            .bearer_auth(tokens["access"].as_str().unwrap())
            .json(&json!({"status":"approved"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(again, 400, "the booking is no longer pending");
    terminate(&mut app);
}

#[test]
fn a_second_launch_exits_and_the_first_shows_its_window() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut first = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    assert!(!tray.window_exists(), "hidden at start");
    let mut second = tray.launch(&[]);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the second instance did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the second instance exits cleanly: {status}"
    );
    wait_until("the first shows its window", || tray.window_exists());
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first keeps running"
    );
    terminate(&mut first);
}

#[test]
fn closing_the_window_leaves_no_webkit_web_process() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&[]);
    wait_until("the window is open", || tray.window_exists());
    wait_until("a web process renders it", || {
        tray.webkit_web_processes(&app) >= 1
    });
    let shot = artefacts().join("window.png");
    std::thread::sleep(Duration::from_millis(500));
    let _ = tray
        .session
        .command("import")
        .args(["-window", "root"])
        .arg(&shot)
        .status();
    let asked = tray
        .session
        .command("/usr/bin/python3")
        .arg(support("close_window.py"))
        .arg("SmartHunt")
        .status()
        .unwrap();
    assert!(asked.success(), "the window was found");
    wait_until("the window is gone", || !tray.window_exists());
    wait_until("no WebKit web process remains", || {
        tray.webkit_web_processes(&app) == 0
    });
    assert!(
        app.try_wait().unwrap().is_none(),
        "the app lives on in the tray"
    );
    wait_until("still connected", || server.connections() >= 1);
    terminate(&mut app);
}

#[test]
fn no_tray_host_opens_the_window_at_start() {
    let tray = Tray::start(false);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("the window opens anyway", || tray.window_exists());
    terminate(&mut app);
}

#[test]
fn autostart_is_turned_on_at_the_first_sign_in() {
    let tray = Tray::start(true);
    let server = Server::start();
    let autostart = PathBuf::from(&tray.session.env["XDG_CONFIG_HOME"]).join("autostart");
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("an autostart entry appears", || {
        std::fs::read_dir(&autostart)
            .map(|d| {
                d.flatten().any(|e| {
                    std::fs::read_to_string(e.path())
                        .map(|t| t.contains("--hidden"))
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    });
    terminate(&mut app);
}
