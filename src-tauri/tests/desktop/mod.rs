//! What the end-to-end tests do in a real desktop session (the throwaway
//! one of `smarthunt-desktop-session`, torn down on drop): signing in,
//! reading dunst and the keyring, the tray item over D-Bus, a dev server.
#![allow(dead_code)]

pub mod plasma;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use smarthunt_desktop_session::{self as throwaway, TrayHost};
use smarthunt_devserver::{DevServer, DevServerConfig};

/// The binary under test: the tray app.
pub const BIN: &str = env!("CARGO_BIN_EXE_smarthunt-tray");
/// Its window, in a process of its own.
pub const WINDOW_BIN: &str = env!("CARGO_BIN_EXE_smarthunt-window");

pub const WAIT: Duration = Duration::from_secs(30);

/// The window's secret the tests give the app they launch, so that they
/// can send commands over its socket as its window would. A real window
/// is given a random one on its stdin; the webdriver tests use that.
pub const WINDOW_SECRET: &str = "the-e2e-tests-stand-in-for-the-window";

/// The shared throwaway session, with what the tests ask of it on top.
pub struct DesktopSession(throwaway::DesktopSession);

impl std::ops::Deref for DesktopSession {
    type Target = throwaway::DesktopSession;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for DesktopSession {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl DesktopSession {
    pub fn start() -> Self {
        Self::started(throwaway::DesktopSession::start)
    }

    /// A session with no notification daemon at all: none running, and
    /// none that D-Bus could start on demand (a bus without service files).
    pub fn without_notification_daemon() -> Self {
        Self::started(throwaway::DesktopSession::without_notification_daemon)
    }

    fn started(start: fn() -> Result<throwaway::DesktopSession, throwaway::Error>) -> Self {
        // `keychain_lookup` reads the keyring with it.
        throwaway::require(&["secret-tool"]).unwrap_or_else(|e| panic!("{e}"));
        Self(start().unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.env()["SMARTHUNT_DATA_DIR"])
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

    /// The first popup dunst received that `matches`, waiting for it.
    pub fn wait_popup(
        &self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut found = None;
        wait_until(what, || {
            found = self.notifications().into_iter().find(&matches);
            found.is_some()
        });
        found.expect("wait_until returned, so it was found")
    }

    /// `smarthunt-tray login`, password on standard input.
    pub fn login(&self, server: &str, user: &str, password: &str) -> Output {
        self.login_as(self.command(BIN), &[server, user, password], &[])
    }

    /// `command` (this session's `smarthunt-tray`, set up as the test
    /// needs) run as `login` with `[server, user, password]` and `extra`
    /// options, the password on standard input.
    pub fn login_as(
        &self,
        mut command: std::process::Command,
        [server, user, password]: &[&str; 3],
        extra: &[&str],
    ) -> Output {
        let mut child = command
            .args([
                "login",
                "--server",
                server,
                "--username",
                user,
                "--password-stdin",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `login` that must succeed.
    pub fn sign_in(&self, server: &str, user: &str, password: &str) {
        let out = self.login(server, user, password);
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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

pub fn wait_until(what: &str, f: impl FnMut() -> bool) {
    wait_within(WAIT, what, f)
}

/// For what the app promises within a minute (reads made elsewhere).
pub fn wait_until_long(what: &str, f: impl FnMut() -> bool) {
    wait_within(Duration::from_secs(90), what, f)
}

fn wait_within(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a process with SIGTERM and returns how it ended.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the app did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A script under `tests/support`.
pub fn support(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script)
}

/// Where screenshots and icons of the runs are kept for people to look at.
pub fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A dev server on loopback with its own runtime, for blocking tests.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    server: Option<DevServer>,
    config: DevServerConfig,
    pub url: String,
}

impl Server {
    pub fn start() -> Self {
        Self::with_config(DevServerConfig::default())
    }

    /// With a database file, so the server keeps its state over a restart.
    pub fn persistent(dir: &std::path::Path) -> Self {
        Self::with_config(DevServerConfig {
            db_path: Some(dir.join("server.db")),
            ..DevServerConfig::default()
        })
    }

    fn with_config(mut config: DevServerConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(DevServer::start(config.clone())).unwrap();
        config.addr = server.addr();
        // A restart keeps the token as it keeps the port.
        config.control_token = Some(server.control_token().to_owned());
        let url = server.base_url();
        Self {
            runtime,
            server: Some(server),
            config,
            url,
        }
    }

    /// Stops the server: every socket drops, the port closes.
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.runtime.block_on(s.shutdown());
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        let config = self.config.clone();
        let started = self.runtime.block_on(async {
            for _ in 0..100 {
                if let Ok(s) = DevServer::start(config.clone()).await {
                    return Some(s);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        });
        self.server = Some(started.expect("the server restarts on its port"));
    }

    /// A REST call as `user`, as the web app would make it.
    pub fn rest(&self, user: (&str, &str), method: &str, path: &str, body: Option<Value>) -> Value {
        let base = self.url.clone();
        let (name, password) = (user.0.to_owned(), user.1.to_owned());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let path = path.to_owned();
        self.runtime.block_on(async move {
            let client = reqwest::Client::new();
            let tokens: Value = client
                .post(format!("{base}/api/token/"))
                .json(&json!({"username": name, "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut req = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(tokens["access"].as_str().unwrap());
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            json!({"status": status, "body": v})
        })
    }

    /// How many of `user`'s notifications the server counts unread.
    pub fn unread(&self, user: (&str, &str)) -> Value {
        self.rest(
            user,
            "GET",
            "/api/interactions/notifications/?is_read=false",
            None,
        )["body"]["count"]
            .clone()
    }

    /// How many chat messages on `user`'s first page say `content`.
    pub fn messages_saying(&self, user: (&str, &str), content: &str) -> usize {
        let messages = self.rest(user, "GET", "/api/interactions/messages/?page=1", None);
        messages["body"]["results"]
            .as_array()
            .map(|list| list.iter().filter(|m| m["content"] == content).count())
            .unwrap_or(0)
    }

    /// The control API, with this run's token.
    fn control_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}/control/{path}", self.url))
            .header(
                smarthunt_devserver::CONTROL_TOKEN_HEADER,
                self.config.control_token.as_deref().unwrap_or_default(),
            )
    }

    pub fn control(&self, path: &str, body: Value) -> Value {
        let request = self.control_request(reqwest::Method::POST, path);
        self.runtime.block_on(async {
            request
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null)
        })
    }

    pub fn stats(&self) -> Value {
        let request = self.control_request(reqwest::Method::GET, "stats");
        self.runtime
            .block_on(async { request.send().await.unwrap().json().await.unwrap() })
    }

    pub fn connections(&self) -> u64 {
        self.stats()["connections_open"].as_u64().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A desktop session with a stand-in tray host (or none).
pub struct Tray {
    // Declared first so it stops before the session's bus does.
    host: Option<TrayHost>,
    pub session: DesktopSession,
    item: Option<(String, String)>,
}

impl Tray {
    pub fn start(with_tray_host: bool) -> Self {
        Self::in_session(DesktopSession::start(), with_tray_host)
    }

    /// A session whose notification service is the test's own (or none).
    pub fn without_notification_daemon(with_tray_host: bool) -> Self {
        Self::in_session(
            DesktopSession::without_notification_daemon(),
            with_tray_host,
        )
    }

    fn in_session(session: DesktopSession, with_tray_host: bool) -> Self {
        let host =
            with_tray_host.then(|| TrayHost::start(&session).unwrap_or_else(|e| panic!("{e}")));
        Self {
            host,
            session,
            item: None,
        }
    }

    /// Where the app of this session listens for its window.
    pub fn socket(&self) -> PathBuf {
        let run = PathBuf::from(&self.session.env()["XDG_RUNTIME_DIR"]);
        smarthunt_tray::ipc::socket_path_in(&self.session.data_dir(), Some(&run))
    }

    /// Calls a command over the app's socket as the window does, showing
    /// the secret the test gave the app in place of the one a real window
    /// gets on its stdin (see [`WINDOW_SECRET`]); its answer (panics on an
    /// error answer).
    pub fn ipc_call(&self, cmd: &str, args: serde_json::Value) -> serde_json::Value {
        use std::io::{BufRead, BufReader, Write};
        let stream =
            std::os::unix::net::UnixStream::connect(self.socket()).expect("the app's socket");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let hello = serde_json::json!({"type": "hello", "secret": WINDOW_SECRET});
        writeln!(&stream, "{hello}").unwrap();
        let call = serde_json::json!({"type": "call", "id": 1, "cmd": cmd, "args": args});
        writeln!(&stream, "{call}").unwrap();
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer).unwrap();
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert!(
            answer["result"].get("Ok").is_some(),
            "{cmd} failed: {answer}"
        );
        answer["result"]["Ok"].clone()
    }

    pub fn wait_line(&mut self, prefix: &str) -> String {
        match self.host.as_ref().map(|host| host.wait_line(prefix, WAIT)) {
            Some(Ok(line)) => line,
            Some(Err(e)) => panic!("the tray host never saw {prefix}: {e}"),
            None => panic!("the tray host never saw {prefix}: there is none"),
        }
    }

    pub fn login(&self, server: &str, user: &str, password: &str) {
        self.session.sign_in(server, user, password);
    }

    /// Starts the app; its log goes to `app.log` in the session's home,
    /// kept with the artefacts when a test fails.
    pub fn launch(&self, args: &[&str]) -> KillOnDrop {
        self.launch_program(BIN, args)
    }

    /// [`Tray::launch`] with another build of the app (the installed one).
    pub fn launch_program(&self, program: &str, args: &[&str]) -> KillOnDrop {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.session.home().join("app.log"))
            .unwrap();
        KillOnDrop(
            self.session
                .command(program)
                .args(args)
                .env(smarthunt_tray::ipc::WINDOW_SECRET_ENV, WINDOW_SECRET)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    /// What the app (every launch of it) has logged so far.
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.session.home().join("app.log")).unwrap_or_default()
    }

    /// The registered item's bus name and object path.
    pub fn item(&mut self) -> (String, String) {
        if let Some(i) = &self.item {
            return i.clone();
        }
        let line = self.wait_line("ITEM ");
        let item = line.trim_start_matches("ITEM ").trim().to_owned();
        // A bus name alone means the spec's default object path.
        let found = match item.find('/') {
            Some(slash) => (item[..slash].to_owned(), item[slash..].to_owned()),
            None => (item, "/StatusNotifierItem".to_owned()),
        };
        self.item = Some(found.clone());
        found
    }

    pub fn gdbus(&self, args: &[&str]) -> String {
        let out = self.session.command("gdbus").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "gdbus {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Calls `method` on the object `path` of `dest`, with `args`.
    pub fn gdbus_call(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> String {
        let mut call = vec![
            "call",
            "--session",
            "--dest",
            dest,
            "--object-path",
            path,
            "--method",
            method,
            "--",
        ];
        call.extend_from_slice(args);
        self.gdbus(&call)
    }

    pub fn property(&mut self, name: &str) -> String {
        let (dest, path) = self.item();
        self.gdbus_call(
            &dest,
            &path,
            "org.freedesktop.DBus.Properties.Get",
            &["org.kde.StatusNotifierItem", name],
        )
    }

    /// The icon the item shows (its first `IconPixmap`): width, height
    /// and pixels as RGBA. gdbus prints it as `(<[(64, 64, [byte 0x00,
    /// ...])]>,)`, the pixels in ARGB.
    pub fn icon(&mut self) -> (u32, u32, Vec<u8>) {
        let v = self.property("IconPixmap");
        let start = v.find("[(").expect("an icon pixmap") + 2;
        let mut size = v[start..].splitn(3, ',').map(|n| n.trim().parse::<u32>());
        let (Some(Ok(width)), Some(Ok(height))) = (size.next(), size.next()) else {
            panic!("an icon's size in {v}");
        };
        let bytes = &v[v.find("[byte ").expect("the icon's bytes") + 6..];
        let argb: Vec<u8> = bytes[..bytes.find(']').expect("the end of the bytes")]
            .split(", ")
            .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
            .collect();
        assert_eq!(argb.len() as u32, width * height * 4, "a whole icon: {v}");
        let rgba = argb
            .chunks_exact(4)
            .flat_map(|p| [p[1], p[2], p[3], p[0]])
            .collect();
        (width, height, rgba)
    }

    /// The tooltip's text (its description).
    pub fn tooltip(&mut self) -> String {
        let v = self.property("ToolTip");
        v.rsplit('\'').nth(1).unwrap_or_default().to_owned()
    }

    pub fn menu_layout(&mut self) -> String {
        self.menu_call("com.canonical.dbusmenu.GetLayout", &["0", "-1", "[]"])
    }

    /// Calls a com.canonical.dbusmenu method on the item's menu.
    pub fn menu_call(&mut self, method: &str, args: &[&str]) -> String {
        let (dest, _) = self.item();
        let menu = self.property("Menu");
        let path = menu
            .split('\'')
            .nth(1)
            .expect("a menu object path")
            .to_owned();
        self.gdbus_call(&dest, &path, method, args)
    }

    pub fn webkit_web_processes(&self, app: &Child) -> usize {
        processes_named(app, "WebKitWebProces")
    }

    pub fn webkit_network_processes(&self, app: &Child) -> usize {
        processes_named(app, "WebKitNetworkPr")
    }

    /// The window's process and WebKit's under the app, once a web process
    /// renders the window.
    pub fn window_processes(&self, app: &Child) -> Vec<u32> {
        wait_until("a web process renders the window", || {
            self.webkit_web_processes(app) >= 1
        });
        let pids: Vec<u32> = descendants(app.id())
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| {
                    ["smarthunt-windo", "WebKitWebProces", "WebKitNetworkPr"].contains(&c.trim())
                })
            })
            .collect();
        assert!(pids.len() >= 2, "a window process and WebKit's: {pids:?}");
        pids
    }

    pub fn window_exists(&self) -> bool {
        self.window_count() > 0
    }

    /// How many windows titled "SmartHunt" the X server has.
    pub fn window_count(&self) -> usize {
        self.session
            .command("xdotool")
            .args(["search", "--name", "^SmartHunt$"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.app_log();
            eprintln!("--- app log ---\n{log}\n--- end of app log ---");
        }
    }
}

/// The app's descendants whose `comm` (cut to 15 bytes) is `comm`.
fn processes_named(app: &Child, comm: &str) -> usize {
    descendants(app.id())
        .iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == comm)
                .unwrap_or(false)
        })
        .count()
}

pub fn descendants(pid: u32) -> Vec<u32> {
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

/// A process that is killed when the test ends, pass or fail, so a failed
/// test leaves nothing running.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
