//! End-to-end: the real `smarthunt-tray` binary in headless mode, in a real
//! desktop session (Xvfb, session bus, gnome-keyring, dunst), against the
//! dev server over loopback.

mod desktop;

use std::process::Stdio;

use desktop::{terminate, wait_until, DesktopSession, KillOnDrop, Server, BIN};
use serde_json::{json, Value};
use smarthunt_desktop_session::disk::SmallDisk;

/// A session, a dev server and the headless app signed in as `user` and
/// connected.
fn connected(user: (&str, &str)) -> (DesktopSession, Server, Headless) {
    let session = DesktopSession::start();
    let server = Server::start();
    session.sign_in(&server.url, user.0, user.1);
    let app = headless_logging(&session, |c| c);
    wait_until("connected", || server.connections() >= 1);
    (session, server, app)
}

fn headless(session: &DesktopSession) -> KillOnDrop {
    KillOnDrop(
        session
            .command(BIN)
            .arg("--headless")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// The app in headless mode, its stderr in `headless.log` in the session's
/// home (off the data dir, whose disk a test may fill); `more` adds to its
/// command.
fn headless_logging(
    session: &DesktopSession,
    more: impl FnOnce(&mut std::process::Command) -> &mut std::process::Command,
) -> Headless {
    let log = session.home().join("headless.log");
    let mut command = session.command(BIN);
    command
        .arg("--headless")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    Headless {
        app: KillOnDrop(more(&mut command).spawn().unwrap()),
        log,
    }
}

/// The headless app and the file its stderr goes to, which a failing test
/// prints, so that a failure says what the app was doing.
struct Headless {
    app: KillOnDrop,
    log: std::path::PathBuf,
}

impl Headless {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn logged(&self, what: &str) -> bool {
        self.log_text().contains(what)
    }
}

impl std::ops::Deref for Headless {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.app
    }
}

impl std::ops::DerefMut for Headless {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.app
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- headless app log ---\n{}\n--- end of headless app log ---",
                self.log_text()
            );
        }
    }
}

#[test]
fn headless_binary_pops_escaped_notifications_and_keeps_tokens_in_the_keychain() {
    let session = DesktopSession::start();
    let server = Server::start();
    let keychain_user = format!("tenant@{}", server.url);

    let out = session.login(&server.url, "tenant", "tenant-pass");
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = session
        .keychain_lookup("smarthunt-desktop", &keychain_user)
        .expect("tokens are in the keychain after sign-in");
    let access = serde_json::from_str::<Value>(&secret).unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nothing secret on disk.
    for entry in walk(&session.data_dir()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !contains(&text, access.as_bytes()),
            "token found in {}",
            entry.display()
        );
    }

    let mut app = headless(&session);
    wait_until("the app connects", || server.connections() >= 1);
    server.control(
        "notify",
        json!({"username":"tenant","title":"Rent reminder","body":"<b>Pay</b> & <a href=\"http://evil\">click</a>","notification_type":"maintenance"}),
    );
    let n = session.wait_popup("dunst receives the popup", |n| {
        n["summary"] == "Rent reminder"
    });
    assert_eq!(n["appname"], "SmartHunt");
    // `message` is the Pango markup dunst renders: the server's tags must
    // arrive there as escaped text (shown literally), never as live markup
    // or a link.
    let shown = n["message"].as_str().unwrap_or_default();
    assert!(
        shown.contains("&lt;b&gt;Pay&lt;/b&gt; &amp; &lt;a href="),
        "shown as {shown:?}"
    );
    assert!(!shown.contains("<a href"), "a live link in {shown:?}");
    assert!(!shown.contains("<b>Pay"), "live markup in {shown:?}");

    let status = terminate(&mut app);
    assert!(status.success(), "clean exit on SIGTERM, got {status}");
    let mut stderr = String::new();
    use std::io::Read;
    app.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();

    // No token in any log line or file.
    assert!(!stderr.contains(&access), "token in stderr");
    assert!(!stderr.contains("token=ey"), "token URL in stderr");
    let logs: Vec<_> = walk(&session.data_dir().join("logs"));
    assert!(!logs.is_empty(), "a log file is written");
    for entry in walk(&session.data_dir()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !contains(&text, access.as_bytes()),
            "token found in {}",
            entry.display()
        );
        assert!(
            !contains(&text, b"token=ey"),
            "token URL in {}",
            entry.display()
        );
    }

    let out = session.command(BIN).arg("logout").output().unwrap();
    assert!(out.status.success());
    assert!(
        session
            .keychain_lookup("smarthunt-desktop", &keychain_user)
            .is_none(),
        "keychain entry gone after sign-out"
    );
    assert!(
        !session.data_dir().join("accounts").exists()
            || std::fs::read_dir(session.data_dir().join("accounts"))
                .unwrap()
                .next()
                .is_none(),
        "local data removed after sign-out"
    );
    // Signing out twice is fine.
    assert!(session
        .command(BIN)
        .arg("logout")
        .status()
        .unwrap()
        .success());
}

#[test]
fn headless_refuses_clearly_when_not_signed_in_or_already_running() {
    let session = DesktopSession::start();
    let out = session.command(BIN).arg("--headless").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed in"));

    let server = Server::start();
    let bad = session.login(&server.url, "tenant", "wrong");
    assert_eq!(bad.status.code(), Some(10), "bad credentials exit code");
    let unreachable = session.login("http://127.0.0.1:9", "tenant", "tenant-pass");
    assert_eq!(unreachable.status.code(), Some(11), "unreachable exit code");
    let insecure = session.login("http://example.com", "tenant", "tenant-pass");
    assert_eq!(
        insecure.status.code(),
        Some(13),
        "plain http to a remote host"
    );

    session.sign_in(&server.url, "tenant", "tenant-pass");
    let mut first = headless(&session);
    wait_until("the first instance connects", || server.connections() >= 1);
    let second = session.command(BIN).arg("--headless").output().unwrap();
    assert_eq!(
        second.status.code(),
        Some(4),
        "a second engine on the same data dir"
    );
    assert!(String::from_utf8_lossy(&second.stderr).contains("already"));
    assert!(terminate(&mut first).success());
}

#[test]
fn signed_out_while_running_says_so_once_and_resumes_after_login() {
    let (session, server, mut app) = connected(("tenant", "tenant-pass"));
    // Refresh fails before the access token is revoked: the other order
    // lets a REST call of the catch-up after connecting (still in flight on
    // a loaded machine) meet the revoked token and refresh it successfully
    // in between, and the app then rightly stays signed in.
    server.control("fail_refresh", json!({"status": 401}));
    server.control("revoke_access_tokens", json!({}));
    server.control("close", json!({"code": 1011}));
    let mut told = Vec::new();
    wait_until("the signed-out popup", || {
        told = session
            .notifications()
            .into_iter()
            .filter(|n| n["summary"].as_str().unwrap_or("").contains("Signed out"))
            .collect();
        !told.is_empty()
    });
    let handshakes = server.stats()["handshakes_total"].as_u64().unwrap();
    // Said once the account's run has ended: no socket, timer or task of
    // it is left to try (the core's engine tests hold it to that).
    wait_until("the app waits for the user", || {
        app.logged("nothing is retried until the sign-in changes")
    });
    assert_eq!(
        server.stats()["handshakes_total"].as_u64().unwrap(),
        handshakes,
        "no retries while signed out"
    );

    server.control("fail_refresh", json!({"status": null}));
    session.sign_in(&server.url, "tenant", "tenant-pass");
    wait_until("reconnected after login", || server.connections() >= 1);
    let signed_out_popups = session
        .notifications()
        .into_iter()
        .filter(|n| n["summary"].as_str().unwrap_or("").contains("Signed out"))
        .count();
    assert_eq!(signed_out_popups, 1, "said once");
    assert!(terminate(&mut app).success());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn demo_signs_in_to_its_embedded_server_and_pops_scenario_events() {
    let session = DesktopSession::start();
    let mut demo = KillOnDrop(
        session
            .command(BIN)
            .arg("--demo")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The scenario emits an event every few seconds; the first sign-in may
    // also summarise its history. Either way, popups arrive by themselves.
    wait_until("scenario popups reach dunst", || {
        session
            .notifications()
            .iter()
            .any(|n| n["appname"] == "SmartHunt")
    });
    assert!(terminate(&mut demo).success());
    let mut out = String::new();
    use std::io::Read;
    demo.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("signed in as `landlord`"), "{out}");
}

#[test]
fn logout_while_running_stops_the_connection_and_removes_local_data() {
    let (session, server, mut app) = connected(("landlord", "landlord-pass"));
    let accounts = session.data_dir().join("accounts");
    assert!(
        std::fs::read_dir(&accounts).unwrap().next().is_some(),
        "account data exists"
    );
    let out = session.command(BIN).arg("logout").output().unwrap();
    assert!(out.status.success());
    wait_until("the running app lets go of the connection", || {
        server.stats()["connections_open"].as_u64().unwrap_or(1) == 0
    });
    wait_until("the account's data is removed", || {
        std::fs::read_dir(&accounts)
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
    });
    assert!(terminate(&mut app).success());
}

#[test]
fn network_coming_back_reconnects_at_once() {
    use std::io::{BufRead, BufReader, Write};
    let session = DesktopSession::start();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::persistent(dir.path());
    session.sign_in(&server.url, "tenant", "tenant-pass");

    // A private "system bus" with a stand-in NetworkManager on it.
    let out = session
        .command("dbus-daemon")
        .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let system_bus = lines.next().unwrap().trim().to_owned();
    let system_bus_pid = lines.next().unwrap().trim().to_owned();
    let mut nm = KillOnDrop(
        session
            .command("/usr/bin/python3")
            .arg(desktop::support("fake_networkmanager.py"))
            .arg(&system_bus)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(nm.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "READY");

    let mut app = headless_logging(&session, |c| c.env("DBUS_SYSTEM_BUS_ADDRESS", &system_bus));
    wait_until("the app watches NetworkManager", || {
        app.logged("watching NetworkManager")
    });
    wait_until("connected", || server.connections() >= 1);

    server.stop();
    wait_until("the app is offline", || app.logged("reconnecting later"));
    server.restart();
    nm.stdin.as_mut().unwrap().write_all(b"70\n").unwrap();
    wait_until("the app hears the network is back", || {
        app.logged("the network is back")
    });
    wait_until("connected again", || server.connections() >= 1);

    assert!(terminate(&mut app).success());
    let _ = nm.kill();
    let _ = nm.wait();
    let _ = std::process::Command::new("kill")
        .arg(&system_bus_pid)
        .status();
}

#[test]
fn with_no_notification_daemon_the_app_keeps_working_and_says_so_once() {
    let session = DesktopSession::without_notification_daemon();
    let server = Server::start();
    session.sign_in(&server.url, "tenant", "tenant-pass");
    // The notifier's debug lines say each popup that found no daemon.
    let mut app = headless_logging(&session, |c| {
        c.env(
            "SMARTHUNT_LOG",
            "info,smarthunt_tray::desktop_notifier=debug",
        )
    });
    wait_until("connected", || server.connections() >= 1);
    let said = |app: &Headless| {
        app.log_text()
            .matches("no notification service answers")
            .count()
    };
    let unshown = |app: &Headless| {
        app.log_text()
            .matches("a popup request found no daemon")
            .count()
    };
    server.control(
        "notify",
        json!({"username":"tenant","title":"First","body":"b","notification_type":"general"}),
    );
    wait_until("the app says there is no daemon", || said(&app) >= 1);
    for i in 0..3 {
        server.control("notify", json!({"username":"tenant","title":format!("More {i}"),"body":"b","notification_type":"message"}));
    }
    // Later popups meet no daemon either, and are not said again.
    wait_until("a later popup request found no daemon", || {
        unshown(&app) >= 2
    });
    assert_eq!(said(&app), 1, "said once");
    // Still stored and counted: the server sees the app keep its socket.
    assert!(app.try_wait().unwrap().is_none(), "still running");
    assert!(server.connections() >= 1, "still connected");
    assert!(terminate(&mut app).success());
}

#[test]
fn a_burst_of_one_kind_becomes_one_summary_popup_that_replaces_itself() {
    let (session, server, mut app) = connected(("landlord", "landlord-pass"));
    server.control(
        "flood",
        json!({"username":"landlord","count":12,"notification_type":"booking"}),
    );
    let mut summaries = Vec::new();
    wait_until("one summary counting all twelve", || {
        summaries = session
            .notifications()
            .into_iter()
            .filter(|n| {
                n["summary"]
                    .as_str()
                    .unwrap_or("")
                    .contains("booking request")
            })
            .filter(|n| {
                n["summary"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
            .collect();
        summaries
            .iter()
            .any(|n| n["summary"].as_str().unwrap_or("").starts_with("12 "))
    });
    // Every update went to the same popup id: replaced, never stacked. (The
    // history may list an id twice because the test closes popups to read it.)
    let ids: std::collections::BTreeSet<String> =
        summaries.iter().map(|n| n["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "the summary replaced itself: {summaries:?}");
    assert!(terminate(&mut app).success());
}

#[test]
fn a_locked_keychain_is_a_clear_error_and_a_popup_never_a_file() {
    let session = DesktopSession::start();
    let server = Server::start();
    session.sign_in(&server.url, "tenant", "tenant-pass");
    let lock = session
        .command("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.Lock",
            "['/org/freedesktop/secrets/collection/login']",
        ])
        .status()
        .unwrap();
    assert!(lock.success());

    let out = session.login(&server.url, "landlord", "landlord-pass");
    assert_eq!(out.status.code(), Some(12), "keychain exit code");
    // Locked, or waiting on an unlock prompt that never comes: either way
    // a sentence about the keychain, within the deadline.
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("keychain"), "{said}");

    let mut app = headless(&session);
    wait_until("the user is told about the keychain", || {
        session
            .notifications()
            .iter()
            .any(|n| n["summary"].as_str().unwrap_or("").contains("keychain"))
    });
    assert_eq!(
        server.connections(),
        0,
        "nothing connects without the keychain"
    );
    assert!(terminate(&mut app).success());
    // Never a fallback file: nothing in the data dir holds a token.
    for entry in walk(&session.data_dir()) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains("eyJ"), "a token in {}", entry.display());
    }
}

/// `command` run under `umask`, as a session with that umask would.
fn with_umask(mut command: std::process::Command, umask: u32) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mask = nix::sys::stat::Mode::from_bits_truncate(umask);
    // SAFETY: umask(2) is async-signal-safe and touches nothing else.
    unsafe {
        command.pre_exec(move || {
            nix::sys::stat::umask(mask);
            Ok(())
        });
    }
    command
}

/// Every entry below `dir` (dirs included) with its permission bits.
fn modes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for e in std::fs::read_dir(&at).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path(), meta.mode() & 0o7777));
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn everything_the_app_writes_is_private_under_a_permissive_umask() {
    use std::os::unix::fs::MetadataExt;
    let session = DesktopSession::start();
    let server = Server::start();
    let data = session.data_dir();
    let login = with_umask(session.command(BIN), 0o002);
    let out = session.login_as(login, &[&server.url, "tenant", "tenant-pass"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut run = with_umask(session.command(BIN), 0o002);
    let mut app = KillOnDrop(
        run.arg("--headless")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "notify",
        json!({"username":"tenant","title":"Private matter","body":"b","notification_type":"message"}),
    );
    session.wait_popup("the popup", |n| n["summary"] == "Private matter");
    let found = modes(&data);
    let names: Vec<String> = found
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "config.json",
        "store.db",
        "store.db-wal",
        "logs",
        "accounts",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} was written: {names:?}"
        );
    }
    let data_mode = std::fs::metadata(&data).unwrap().mode() & 0o7777;
    assert_eq!(data_mode, 0o700, "the data dir itself");
    for (path, mode) in &found {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }
    assert!(terminate(&mut app).success());
}

#[test]
fn a_data_dir_others_can_write_or_own_is_refused_with_its_own_exit_code() {
    use std::os::unix::fs::PermissionsExt;
    let session = DesktopSession::start();
    let data = session.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    let refused = |why: &str| {
        let out = session
            .command(BIN)
            .arg("--headless")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{why}: {stderr}");
        assert!(
            stderr.contains("is not private") && stderr.contains(&*data.to_string_lossy()),
            "{why}: says which dir and why: {stderr}"
        );
        assert!(
            std::fs::read_dir(&data).unwrap().next().is_none(),
            "{why}: nothing written into it"
        );
    };
    for mode in [0o777, 0o775, 0o1777] {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(mode)).unwrap();
        refused(&format!("mode {mode:o}"));
    }
    if nix::unistd::geteuid().is_root() {
        // Only root can give a dir away; CI runs as root.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = nix::unistd::Uid::from_raw(65534);
        nix::unistd::chown(&data, Some(nobody), None).unwrap();
        refused("owned by nobody");
    }
}

#[test]
fn the_demo_uses_a_fresh_private_dir_not_one_planted_where_it_would_look() {
    let session = DesktopSession::start();
    let tmp = session.home().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let victim = session.home().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    // Another user's trap at the old predictable path: the dir for this
    // very process id (`exec` keeps the shell's), with a link where the
    // config's temporary file went.
    let mut demo = KillOnDrop(
        session
            .command("sh")
            .arg("-c")
            .arg(r#"mkdir -p "$TMPDIR/smarthunt-demo-$$" && ln -s "$1" "$TMPDIR/smarthunt-demo-$$/config.json.tmp" && echo "$$" && exec "$0" --demo --headless"#)
            .arg(BIN)
            .arg(&victim)
            .env("TMPDIR", &tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(demo.stdout.take().unwrap()));
    let pid = lines.next().unwrap().unwrap();
    let dir_line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Its data, removed at exit: "))
        .expect("the demo says where its data is");
    let dir = std::path::PathBuf::from(dir_line.trim_start_matches("Its data, removed at exit: "));
    let planted = tmp.join(format!("smarthunt-demo-{pid}"));
    assert_ne!(dir, planted, "not the predictable path");
    assert!(dir.starts_with(&tmp), "{}", dir.display());
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
    }
    wait_until("the demo signs in and writes its config", || {
        dir.join("config.json").exists()
    });
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(terminate(&mut demo).success());
    assert!(!dir.exists(), "removed at exit");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn no_secret_reaches_stderr_or_the_logs_at_trace_level_on_a_colour_terminal() {
    let session = DesktopSession::start();
    let server = Server::start();
    let password = "landlord-pass";
    let keychain_user = format!("landlord@{}", server.url);
    let tokens = || -> (String, String) {
        let secret = session
            .keychain_lookup("smarthunt-desktop", &keychain_user)
            .expect("tokens in the keychain");
        let v: Value = serde_json::from_str(&secret).unwrap();
        (
            v["access"].as_str().unwrap().to_owned(),
            v["refresh"].as_str().unwrap().to_owned(),
        )
    };

    // Sign-in at trace, staying signed in (the password is held too).
    let mut login = session.command(BIN);
    login.env("SMARTHUNT_LOG", "trace");
    let login_out = session.login_as(
        login,
        &[&server.url, "landlord", password],
        &["--stay-signed-in"],
    );
    assert!(
        login_out.status.success(),
        "{}",
        String::from_utf8_lossy(&login_out.stderr)
    );
    let first = tokens();

    // What the sign-in alone wrote: its output and the log files so far.
    // It logged at trace (so this checks something), and no secret.
    let mut by_login = vec![(
        "login's stderr".to_owned(),
        [login_out.stderr, login_out.stdout].concat(),
    )];
    for log in walk(&session.data_dir().join("logs")) {
        by_login.push((log.display().to_string(), std::fs::read(&log).unwrap()));
    }
    assert!(
        contains(&by_login[0].1, b" TRACE "),
        "login traced on stderr: {}",
        String::from_utf8_lossy(&by_login[0].1)
    );
    assert!(
        by_login[1..].iter().any(|(_, b)| contains(b, b" TRACE ")),
        "login traced to a log file: {:?}",
        by_login.iter().map(|(w, _)| w).collect::<Vec<_>>()
    );
    for (what, bytes) in &by_login {
        for (name, secret) in [
            ("the access token", first.0.as_str()),
            ("the refresh token", first.1.as_str()),
            ("the password", password),
        ] {
            assert!(!contains(bytes, secret.as_bytes()), "{name} is in {what}");
        }
    }

    // The app on a terminal (`script` gives it a pty), at trace: connect,
    // then a revoked token and a dropped socket make it refresh and
    // reconnect.
    let typescript = session.home().join("typescript");
    let mut app = KillOnDrop(
        session
            .command("script")
            .args(["-qfec", &format!("{BIN} --headless")])
            .arg(&typescript)
            .env("SMARTHUNT_LOG", "trace")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("connected", || server.connections() >= 1);
    server.control("revoke_access_tokens", json!({}));
    server.control("close", json!({"code": 4001, "reason": "test"}));
    wait_until("refreshed and connected again", || {
        server.stats()["refresh_requests"].as_u64() >= Some(1)
            && server.connections() >= 1
            && tokens().0 != first.0
    });
    let second = tokens();
    terminate(&mut app);

    let mut written = vec![(
        "the terminal".to_owned(),
        std::fs::read(&typescript).unwrap(),
    )];
    for log in walk(&session.data_dir().join("logs")) {
        written.push((log.display().to_string(), std::fs::read(&log).unwrap()));
    }
    let terminal = String::from_utf8_lossy(&written[0].1).into_owned();
    assert!(
        terminal.contains("TRACE") || terminal.contains("trace"),
        "the terminal got trace output: {}",
        &terminal[..terminal.len().min(500)]
    );
    for (what, bytes) in &written {
        for (name, secret) in [
            ("the first access token", first.0.as_str()),
            ("the first refresh token", first.1.as_str()),
            ("the refreshed access token", second.0.as_str()),
            ("the refreshed refresh token", second.1.as_str()),
            ("the password", password),
        ] {
            assert!(!contains(bytes, secret.as_bytes()), "{name} is in {what}");
        }
    }
}

#[test]
fn on_a_full_disk_the_headless_status_says_notifications_cannot_be_saved_until_there_is_room() {
    let session = DesktopSession::start();
    let server = Server::start();
    let disk = SmallDisk::mount(&session.data_dir(), "8m");
    session.sign_in(&server.url, "tenant", "tenant-pass");
    let mut app = headless_logging(&session, |c| c);
    let status_lines = |app: &Headless| -> Vec<String> {
        app.log_text()
            .lines()
            .filter(|l| l.contains(" status state="))
            .map(str::to_owned)
            .collect()
    };
    wait_until("connected", || {
        status_lines(&app)
            .last()
            .is_some_and(|l| l.contains("state=connected"))
    });
    let failing = "cannot save notifications: ";
    assert!(
        !status_lines(&app).iter().any(|l| l.contains(failing)),
        "{:?}",
        status_lines(&app)
    );

    let filler = disk.fill();
    // SQLite reuses the room its files already have: new notifications
    // soon need more.
    let mut sent = 0;
    let mut notify = || {
        sent += 1;
        server.control(
            "notify",
            json!({"username":"tenant","title":format!("Leak in flat {sent}"),"body":"x".repeat(4000),"notification_type":"maintenance"}),
        );
    };
    wait_until("the status says notifications cannot be saved", || {
        notify();
        status_lines(&app).iter().any(|l| l.contains(failing))
    });
    let said = status_lines(&app);
    let line = said.iter().find(|l| l.contains(failing)).unwrap();
    assert!(
        line.contains("WARN") && line.contains("state=connected; cannot save notifications: "),
        "{line}"
    );
    assert!(line.contains("full"), "says why: {line}");
    assert!(app.try_wait().unwrap().is_none(), "still running");

    // Room again: once a notification is stored, the status says no more.
    std::fs::remove_file(&filler).unwrap();
    wait_until("the status no longer says it", || {
        notify();
        status_lines(&app)
            .last()
            .is_some_and(|l| l.contains("state=connected") && !l.contains(failing))
    });
    assert!(terminate(&mut app).success());
    drop(disk);
}
