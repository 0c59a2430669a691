//! End-to-end: the real tray app (its StatusNotifierItem, popups, keychain)
//! and the window it opens in a process of its own (Tauri, WebKitGTK), in a
//! real desktop session with a stand-in tray host, dunst and gnome-keyring,
//! against the dev server. Each test has its own session bus and data dir.

mod desktop;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use desktop::{
    artefacts, support, terminate, wait_until, wait_until_long, KillOnDrop, Server, Tray, WAIT,
    WINDOW_SECRET,
};
use serde_json::json;

/// A tray host, a dev server and the app started hidden and connected,
/// signed in as `user`.
fn running(user: (&str, &str)) -> (Tray, Server, KillOnDrop) {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, user.0, user.1);
    let app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    (tray, server, app)
}

/// How many pixels of an RGBA icon are the badge's red.
fn badge_pixels(rgba: &[u8]) -> usize {
    rgba.chunks_exact(4)
        .filter(|p| p[0] == 0xd9 && p[1] == 0x30 && p[2] == 0x25)
        .count()
}

/// Keeps an RGBA icon as a PNG with the artefacts, for people to look at.
fn keep_icon((width, height, rgba): &(u32, u32, Vec<u8>), name: &str) {
    let mut convert = Command::new("convert")
        .args([
            "-size",
            &format!("{width}x{height}"),
            "-depth",
            "8",
            "rgba:-",
        ])
        .arg(artefacts().join(name))
        .stdin(Stdio::piped())
        .spawn()
        .expect("imagemagick writes the icon");
    convert.stdin.take().unwrap().write_all(rgba).unwrap();
    assert!(convert.wait().unwrap().success());
}

#[test]
fn tray_shows_the_count_and_state_and_lists_its_menu() {
    let (mut tray, server, mut app) = running(("tenant", "tenant-pass"));

    // No count: no badge.
    wait_until("connected and nothing unread", || {
        tray.tooltip() == "0 unread, connected"
    });
    assert_eq!(badge_pixels(&tray.icon().2), 0, "no badge at 0");

    for i in 0..3 {
        server.control(
            "notify",
            json!({"username":"tenant","title":format!("Viewing {i}"),"body":"Tomorrow at 10","notification_type":"property"}),
        );
    }
    wait_until("the tooltip says 3 unread", || {
        tray.tooltip().starts_with("3 unread")
    });
    let icon = tray.icon();
    assert!(badge_pixels(&icon.2) > 50, "a red badge on the icon");
    keep_icon(&icon, "tray-icon-3-unread.png");

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
    server.control("reject_handshakes", json!({"status": 503}));
    server.control("close", json!({"code": 1011}));
    wait_until("the menu says offline", || {
        tray.menu_layout().contains("Offline")
    });
    let offline_icon = tray.icon();
    assert_ne!(offline_icon, icon, "offline looks different");
    keep_icon(&offline_icon, "tray-icon-offline.png");
    terminate(&mut app);
}

#[test]
fn an_installed_look_is_shown_by_name_until_a_count_needs_drawing() {
    let mut tray = Tray::start(true);
    // The looks installed for this user, where a package puts them for all.
    let icons = tray.session.home().join(".local/share/icons");
    std::fs::create_dir_all(&icons).unwrap();
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../icons/hicolor");
    std::os::unix::fs::symlink(committed, icons.join("hicolor")).unwrap();
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    // gdbus prints the name as (<'...'>,); a host finds it in the theme.
    wait_until("the connected look, by its installed name", || {
        tray.property("IconName")
            .contains("'com.smarthunt.desktop-connected'")
    });
    server.control(
        "notify",
        json!({"username":"tenant","title":"Counted","body":"b","notification_type":"property"}),
    );
    // Hosts prefer a name to a pixmap: with a count to show there is none.
    wait_until("no name once the count is drawn", || {
        tray.property("IconName").contains("<''>")
    });
    assert!(
        badge_pixels(&tray.icon().2) > 50,
        "the count is on the pixmap"
    );
    terminate(&mut app);
}

#[test]
fn popups_carry_urgency_and_actions_and_the_screen_shows_them() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "landlord", "landlord-pass");
    let monitor = watch_notify_calls(&tray);
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
    let calls = stop_recording(monitor);
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

/// Waits until the app has the profile that says this is a landlord (the
/// first moments after a sign-in it does not, and offers no Approve).
fn wait_knows_the_landlord(tray: &Tray) {
    wait_until("the app knows the landlord", || {
        tray.ipc_call("get_status", json!({}))["account"]["role"] == "landlord"
    });
}

/// Starts recording every `Notify` call on the session bus, as the
/// daemon receives them (actions and hints included).
fn watch_notify_calls(tray: &Tray) -> Recording {
    record_bus(
        tray,
        "interface='org.freedesktop.Notifications',member='Notify'",
    )
}

/// A dbus-monitor recording of the session bus.
struct Recording {
    monitor: std::process::Child,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

/// Starts recording what the session bus carries that matches `rule`,
/// and returns once the recording has begun: dbus-monitor says so by
/// losing its own bus name as it becomes a monitor (anything sent before
/// that would go unseen).
fn record_bus(tray: &Tray, rule: &str) -> Recording {
    let mut monitor = tray
        .session
        .command("dbus-monitor")
        .arg(rule)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = monitor.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (started, on_start) = std::sync::mpsc::channel();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("member=NameLost") {
                    let _ = started.send(());
                }
                let mut seen = seen.lock().unwrap();
                seen.push_str(&line);
                seen.push('\n');
            }
        })
    };
    on_start
        .recv_timeout(desktop::WAIT)
        .expect("dbus-monitor becomes a monitor");
    Recording {
        monitor,
        seen,
        reader,
    }
}

/// Stops the recording and gives what it saw.
fn stop_recording(mut recording: Recording) -> String {
    let _ = Command::new("kill")
        .arg(recording.monitor.id().to_string())
        .status();
    let _ = recording.monitor.wait();
    let _ = recording.reader.join();
    let seen = recording.seen.lock().unwrap();
    seen.clone()
}

/// The app signed in as the landlord, with a tenant's booking request
/// on screen as a popup; the booking's id.
fn a_booking_request_on_screen() -> (Tray, Server, KillOnDrop, i64) {
    let (tray, server, app) = running(("landlord", "landlord-pass"));
    wait_knows_the_landlord(&tray);
    let booking = server.control("booking_request", json!({"tenant":"tenant"}));
    let booking_id = booking["booking_id"].as_i64().unwrap();
    wait_displayed(&tray, "the request pops up", 1);
    (tray, server, app, booking_id)
}

/// Waits until dunst shows `n` popups.
fn wait_displayed(tray: &Tray, what: &str, n: u32) {
    wait_until(what, || tray.session.displayed() == n);
}

#[test]
fn approve_from_a_popup_approves_the_booking_on_the_server() {
    let (tray, server, mut app, booking_id) = a_booking_request_on_screen();
    // The user chooses Approve in the popup, through dunst itself.
    tray.session
        .pick_action("approve")
        .expect("dunst's context menu");
    let outcome = tray.session.wait_popup("the outcome is shown", |n| {
        n["summary"] == "Booking approved"
    });
    let request = tray
        .session
        .notifications()
        .into_iter()
        .find(|n| n["category"] == "x-smarthunt.booking" && n["summary"] != "Booking approved");
    if let Some(request) = request {
        assert_eq!(
            request["id"], outcome["id"],
            "the outcome replaces the request"
        );
    }
    // The server has it decided: deciding again is refused as not pending.
    let again = server.rest(
        ("landlord", "landlord-pass"),
        "PATCH",
        &format!("/api/interactions/bookings/{booking_id}/approve/"),
        Some(json!({"status": "approved"})),
    )["status"]
        .clone();
    assert_eq!(again, 400, "the booking is no longer pending");
    terminate(&mut app);
}

#[test]
fn a_spoofed_action_from_another_bus_client_changes_nothing() {
    let (tray, server, mut app, booking_id) = a_booking_request_on_screen();
    // Another process on the session bus pretends to be the daemon, for
    // every id the daemon can have given out so far.
    for id in 1..=20 {
        for action in ["approve", "decline", "mark-read", "default"] {
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
                    action,
                ])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    // Then the real daemon's Mark read, which must still work: once it has
    // acted, the spoofs had their chance too.
    tray.session
        .pick_action("mark read")
        .expect("dunst's context menu");
    wait_until("the real Mark read reaches the server", || {
        server.unread(("landlord", "landlord-pass")) == 0
    });
    assert!(!tray.window_exists(), "no spoofed click opened the window");
    let again = server.rest(
        ("landlord", "landlord-pass"),
        "PATCH",
        &format!("/api/interactions/bookings/{booking_id}/approve/"),
        Some(json!({"status": "approved"})),
    )["status"]
        .clone();
    assert_eq!(
        again, 200,
        "the booking was still pending: no spoof decided it"
    );
    terminate(&mut app);
}

/// Launches the app again, as from the launcher (no arguments), and waits
/// for that launch to exit; `otherwise` says what it means if it does not.
fn second_launch_exits(tray: &Tray, otherwise: &str) -> std::process::ExitStatus {
    let mut second = tray.launch(&[]);
    wait_until(otherwise, || second.try_wait().unwrap().is_some());
    second.wait().unwrap()
}

#[test]
fn while_the_demo_runs_a_second_launch_opens_the_demos_window() {
    let mut tray = Tray::start(true);
    let mut demo = tray.launch(&["--demo", "--hidden"]);
    let (item, _) = tray.item();
    assert!(!item.is_empty(), "the demo's tray item");
    assert!(!tray.window_exists(), "hidden at start");
    let status = second_launch_exits(
        &tray,
        "the second launch started an app of its own instead of handing over",
    );
    assert!(status.success(), "it hands over and exits: {status}");
    wait_until("the demo shows its window", || tray.window_exists());
    assert!(demo.try_wait().unwrap().is_none(), "the demo runs on");
    assert!(terminate(&mut demo).success());
}

#[test]
fn a_second_launch_exits_and_the_first_shows_its_window() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut first = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    assert!(!tray.window_exists(), "hidden at start");
    let status = second_launch_exits(&tray, "the second instance did not exit");
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
fn closing_the_window_ends_its_processes_and_opening_it_again_works() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&[]);
    wait_until("the window is open", || tray.window_exists());
    let window = tray.window_processes(&app);
    let shot = artefacts().join("window.png");
    std::thread::sleep(Duration::from_millis(500));
    let _ = tray
        .session
        .command("import")
        .args(["-window", "root"])
        .arg(&shot)
        .status();
    close_window(&tray);
    // The window's process ends with the window, and WebKit's with it.
    wait_until("the window's process and WebKit's are gone", || {
        gone(&window)
    });
    assert!(
        app.try_wait().unwrap().is_none(),
        "the app lives on in the tray"
    );
    // What stays in the tray loaded no GUI toolkit at all.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", app.id())).unwrap();
    for lib in ["libwebkit2gtk", "libjavascriptcore", "libgtk-3"] {
        assert!(!maps.contains(lib), "the tray process maps {lib}");
    }
    wait_until("still connected", || server.connections() >= 1);

    // Opened again, the window loads and talks to the core: it asks the
    // core to reconcile with the server, which reads the server's list.
    let before = server.stats()["rest_requests"].as_u64().unwrap();
    let mut second = tray.launch(&[]);
    wait_until("the second launch hands over", || {
        second.try_wait().unwrap().is_some()
    });
    wait_until("the window is open again", || tray.window_exists());
    wait_until("the page reached the core", || {
        server.stats()["rest_requests"].as_u64().unwrap() > before
    });
    let window = tray.window_processes(&app);
    close_window(&tray);
    wait_until("the reopened window's processes are gone", || gone(&window));
    terminate(&mut app);
}

/// None of `pids` runs any more (wherever they were reparented to).
fn gone(pids: &[u32]) -> bool {
    pids.iter().all(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    })
}

#[test]
fn two_launches_at_once_make_one_app_with_one_window() {
    let tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut apps = [tray.launch(&[]), tray.launch(&[])];
    let deadline = Instant::now() + WAIT;
    let ended = loop {
        let ended: Vec<usize> = (0..2)
            .filter(|&i| apps[i].try_wait().unwrap().is_some())
            .collect();
        if !ended.is_empty() {
            break ended;
        }
        assert!(Instant::now() < deadline, "neither launch handed over");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ended.len(), 1, "one of the two keeps running");
    let status = apps[ended[0]].try_wait().unwrap().unwrap();
    assert!(status.success(), "the other hands over cleanly: {status}");
    let running = &mut apps[1 - ended[0]];
    // Both launches asked the running one for its window: its own start,
    // and the one that handed over. One process answers both.
    let asked = || tray.app_log().matches("window asked for:").count();
    wait_until("both launches asked for the window", || asked() >= 2);
    assert_eq!(
        tray.app_log().matches("starting its process").count(),
        1,
        "one window process, not one per launch"
    );
    // The X server can list the window a moment and then, while it is
    // still being set up, not (seen once: present, then 0 right after):
    // its one window is waited for, not read once.
    wait_until("one window, not one per launch", || {
        tray.window_count() == 1
    });
    assert_eq!(server.connections(), 1, "one connection to the server");
    terminate(running);
}

/// Asks the window to close as the window manager would, until it is gone.
fn close_window(tray: &Tray) {
    let ask_to_close = || {
        tray.session
            .command("/usr/bin/python3")
            .arg(support("close_window.py"))
            .arg("SmartHunt")
            .status()
            .unwrap()
            .success()
    };
    assert!(ask_to_close(), "the window was found");
    // A close asked while the page is still loading can go unheard (seen
    // once under load): ask again every 2 s, as a user would click again.
    let mut polls = 0;
    wait_until("the window is gone", || {
        polls += 1;
        if polls % 40 == 0 {
            ask_to_close();
        }
        !tray.window_exists()
    });
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
    let autostart = PathBuf::from(&tray.session.env()["XDG_CONFIG_HOME"]).join("autostart");
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

#[test]
fn sign_out_from_the_tray_menu_removes_the_keychain_entry() {
    let mut tray = Tray::start(true);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let user = format!("tenant@{}", server.url);
    assert!(tray
        .session
        .keychain_lookup("smarthunt-desktop", &user)
        .is_some());
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    let layout = tray.menu_layout();
    // Entries look like `(7, {'label': <'Sign out'>, ...}, [])`.
    let before = &layout[..layout.find("'Sign out'").expect("a Sign out entry")];
    let id: i32 = before
        .rsplit('(')
        .next()
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .expect("the entry's id");
    let id = id.to_string();
    tray.menu_call(
        "com.canonical.dbusmenu.Event",
        &[&id, "clicked", "<''>", "0"],
    );
    wait_until("the keychain entry is gone", || {
        tray.session
            .keychain_lookup("smarthunt-desktop", &user)
            .is_none()
    });
    wait_until("the connection is closed", || server.connections() == 0);
    wait_until("the tray looks signed out", || {
        tray.menu_layout().contains("Not signed in")
    });
    terminate(&mut app);
}

#[test]
fn clicking_a_popup_opens_the_window_on_that_item_even_after_the_daemon_restarts() {
    let (mut tray, server, mut app) = running(("tenant", "tenant-pass"));
    assert!(!tray.window_exists());
    // The desktop's notification daemon restarts while the app runs.
    tray.session.restart_dunst().expect("dunst restarts");
    server.control(
        "notify",
        json!({"username":"tenant","title":"Repair booked","body":"The plumber comes on Monday","notification_type":"maintenance"}),
    );
    wait_displayed(&tray, "the popup is shown", 1);
    // A click on the popup's body, through dunst: its default action.
    let clicked = tray
        .session
        .command("dunstctl")
        .args(["action", "0"])
        .status()
        .unwrap();
    assert!(clicked.success());
    wait_until("the window opens", || tray.window_exists());
    // It shows that item: the detail view, which marks it read on the server.
    wait_until("the item is opened (and so read)", || {
        server.unread(("tenant", "tenant-pass")) == 0
    });
    terminate(&mut app);
}

#[test]
fn a_popup_goes_away_once_read_in_the_window_or_elsewhere() {
    let (tray, server, mut app) = running(("tenant", "tenant-pass"));
    let first = server.control(
        "notify",
        json!({"username":"tenant","title":"Viewing on Friday","body":"At 10","notification_type":"property"}),
    )["id"]
        .as_i64()
        .unwrap();
    wait_displayed(&tray, "the first popup", 1);
    server.control(
        "notify",
        json!({"username":"tenant","title":"Rent reminder","body":"Due on the 1st","notification_type":"general"}),
    );
    wait_displayed(&tray, "both popups", 2);
    // Read in the window: the window's mark_read, over the app's socket.
    let list = tray.ipc_call("list_notifications", json!({"limit": 10}));
    let local = list
        .as_array()
        .and_then(|l| l.iter().find(|n| n["title"] == "Rent reminder"))
        .and_then(|n| n["local_id"].as_i64())
        .expect("the list has it");
    tray.ipc_call("mark_read", json!({"localId": local}));
    wait_displayed(&tray, "the popup read in the window goes", 1);
    // Read over REST by another client (the web or the phone).
    server.control("read_elsewhere", json!({"username":"tenant","ids":[first]}));
    wait_until_long("the popup read elsewhere goes (within a minute)", || {
        tray.session.displayed() == 0
    });
    terminate(&mut app);
}

#[test]
fn the_window_socket_answers_and_shrugs_off_bad_input() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;

    let (tray, _server, mut app) = running(("tenant", "tenant-pass"));
    let socket = tray.socket();
    assert!(
        socket.starts_with(&tray.session.env()["XDG_RUNTIME_DIR"]),
        "under the runtime dir: {}",
        socket.display()
    );
    assert!(
        !tray.session.data_dir().join("app.sock").exists(),
        "not in the data dir, which sandboxed apps that see the home can reach"
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
        0,
        "the socket is the user's alone"
    );
    let stream = UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    writeln!(writer, "not json at all").unwrap();
    let mut ask = |line: &str| -> serde_json::Value {
        writeln!(writer, "{line}").unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    };
    // Any process of the user can connect; without the window's secret it
    // may not read or change anything.
    for (id, cmd) in [
        (11, "get_status"),
        (12, "sign_out"),
        (13, "list_notifications"),
    ] {
        let refused = ask(&format!(r#"{{"type":"call","id":{id},"cmd":"{cmd}"}}"#));
        assert_eq!(refused["result"]["Err"]["code"], "bad_input", "{refused}");
        assert!(refused["result"].get("Ok").is_none(), "{refused}");
    }
    // A hello has no answer: it goes with the call that is answered.
    let refused = ask(concat!(
        r#"{"type":"hello","secret":"a-guess"}"#,
        "\n",
        r#"{"type":"call","id":14,"cmd":"get_status"}"#
    ));
    assert_eq!(
        refused["result"]["Err"]["code"], "bad_input",
        "a wrong secret: {refused}"
    );
    let status = ask(&format!(
        "{}\n{}",
        json!({"type": "hello", "secret": WINDOW_SECRET}),
        r#"{"type":"call","id":1,"cmd":"get_status"}"#
    ));
    assert_eq!(status["id"], 1, "{status}");
    assert_eq!(
        status["result"]["Ok"]["account"]["username"], "tenant",
        "{status}"
    );
    let unknown = ask(r#"{"type":"call","id":2,"cmd":"format_disk"}"#);
    assert_eq!(unknown["result"]["Err"]["code"], "bad_input", "{unknown}");
    let bad_args = ask(r#"{"type":"call","id":3,"cmd":"mark_read","args":{"localId":"x"}}"#);
    assert_eq!(bad_args["result"]["Err"]["code"], "bad_input", "{bad_args}");
    let no_cmd = ask(r#"{"type":"call","id":4}"#);
    assert_eq!(no_cmd["result"]["Err"]["code"], "bad_input", "{no_cmd}");
    // A line without end ends that connection, not the app.
    let endless = vec![b'x'; 2 << 20];
    let _ = writer.write_all(&endless);
    let _ = writer.write_all(b"\n");
    let mut rest = String::new();
    assert_eq!(
        reader.read_line(&mut rest).unwrap_or(0),
        0,
        "the connection is closed"
    );
    // Nor do bytes that are not text.
    let mut raw = UnixStream::connect(&socket).unwrap();
    raw.write_all(&[0xff, 0xfe, b'\n']).unwrap();
    assert!(app.try_wait().unwrap().is_none(), "the app runs on");
    let stream = UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    writeln!(&stream, r#"{{"type":"call","id":5,"cmd":"get_status"}}"#).unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    assert!(
        answer.contains(r#""id":5"#),
        "a new connection is served: {answer}"
    );
    terminate(&mut app);
}

#[test]
fn the_sound_setting_reaches_the_daemon_without_a_restart() {
    let (tray, server, mut app) = running(("tenant", "tenant-pass"));
    let monitor = watch_notify_calls(&tray);
    let notify = |title: &str| {
        server.control(
            "notify",
            json!({"username":"tenant","title":title,"body":"b","notification_type":"message"}),
        );
    };
    notify("Sounds off");
    wait_displayed(&tray, "the first popup", 1);
    // Settings: "Play a sound with popups", as the window sends it.
    tray.ipc_call("set_policy", json!({"change": {"sound": true}}));
    notify("Sounds on");
    wait_displayed(&tray, "the second popup", 2);
    let calls = stop_recording(monitor);
    let call = |title: &str| {
        calls
            .split("member=Notify")
            .find(|c| c.contains(title))
            .unwrap_or_else(|| panic!("a Notify call for {title}: {calls}"))
            .to_owned()
    };
    let off = call("Sounds off");
    assert!(
        off.contains("\"suppress-sound\"") && !off.contains("\"sound-name\""),
        "{off}"
    );
    let on = call("Sounds on");
    assert!(
        on.contains("\"sound-name\"") && on.contains("message-new-instant"),
        "{on}"
    );
    assert!(on.contains("\"desktop-entry\""), "{on}");
    terminate(&mut app);
}

#[test]
fn a_tray_host_that_never_answers_stalls_neither_the_app_nor_its_window() {
    use std::io::BufRead;
    // Not the stand-in that answers: one that owns the watcher's name and
    // swallows every call, as a hung panel would.
    let tray = Tray::start(false);
    let mut host = KillOnDrop(
        tray.session
            .command("/usr/bin/python3")
            .arg(support("silent_tray_host.py"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = std::io::BufReader::new(host.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    // A second launch hands over, and the window opens: the socket served
    // while the tray host kept the app waiting.
    let mut second = tray.launch(&[]);
    wait_until("the second launch hands over", || {
        second.try_wait().unwrap().is_some()
    });
    assert!(second.wait().unwrap().success());
    wait_until_long("the window opens", || tray.window_exists());
    assert_eq!(
        tray.ipc_call("get_status", json!({}))["account"]["username"],
        "tenant"
    );
    let swallowed = lines.next().unwrap().unwrap();
    assert!(swallowed.starts_with("SWALLOWED "), "{swallowed}");
    assert!(
        app.try_wait().unwrap().is_none(),
        "the app runs on without a tray"
    );
    terminate(&mut app);
}

#[test]
fn the_dock_shows_the_unread_count_and_hides_it_at_zero() {
    // Docks (Ubuntu Dock, Dash to Dock, Plank, KDE) listen for this signal;
    // dbus-monitor listens as they do.
    let (tray, server, mut app) = running(("tenant", "tenant-pass"));
    let monitor = record_bus(
        &tray,
        "interface='com.canonical.Unity.LauncherEntry',member='Update'",
    );
    // Give dbus-monitor its match rule before anything is sent.
    std::thread::sleep(std::time::Duration::from_millis(500));
    for i in 0..3 {
        server.control(
            "notify",
            json!({"username":"tenant","title":format!("Dock {i}"),"body":"b","notification_type":"general"}),
        );
    }
    wait_until("three unread", || {
        tray.ipc_call("get_status", json!({}))["unread"] == 3
    });
    tray.ipc_call("mark_all_read", json!({}));
    wait_until("none unread", || {
        tray.ipc_call("get_status", json!({}))["unread"] == 0
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let seen = stop_recording(monitor);
    let updates: Vec<&str> = seen
        .split("signal ")
        .filter(|s| s.contains("Update"))
        .collect();
    assert!(
        updates
            .iter()
            .all(|u| u.contains("\"application://com.smarthunt.desktop.desktop\"")),
        "{seen}"
    );
    let shows = |count: i64, visible: bool| {
        updates.iter().any(|u| {
            u.contains(&format!("int64 {count}")) && u.contains(&format!("boolean {visible}"))
        })
    };
    assert!(shows(3, true), "the count 3 was shown: {seen}");
    let last = updates.last().expect("updates were sent");
    assert!(
        last.contains("int64 0") && last.contains("boolean false"),
        "at zero the badge is hidden: {last}"
    );
    terminate(&mut app);
}

#[test]
fn a_reply_typed_into_a_message_popup_is_sent_once_and_a_spoofed_one_never() {
    // Plasma is the desktop that offers inline replies; none runs here, so
    // a stand-in that behaves like it owns the notification service (see
    // desktop/plasma.rs).
    let tray = Tray::without_notification_daemon(true);
    let bus = tray.session.env()["DBUS_SESSION_BUS_ADDRESS"].clone();
    let daemon = desktop::plasma::InlineReplyDaemon::start(&bus);
    let server = Server::start();
    tray.login(&server.url, "tenant", "tenant-pass");
    let mut app = tray.launch(&["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "message",
        json!({"from":"landlord","to":"tenant","content":"Are you free at 6 for the keys?"}),
    );
    let mut popup = None;
    wait_until("the message popup offers an inline reply", || {
        popup = daemon
            .shown()
            .into_iter()
            .find(|p| p.offers("inline-reply"));
        popup.is_some()
    });
    let popup = popup.unwrap();
    // Another process of the session answers first, in the popup's name.
    desktop::plasma::spoof_reply(&bus, &popup, "Spoofed: cancel everything");
    daemon.reply(&popup, "Yes, 6 works.");
    wait_until("the reply reaches the landlord", || {
        server.messages_saying(("landlord", "landlord-pass"), "Yes, 6 works.") >= 1
    });
    // Answered from the popup: the message counts as read, on the server.
    wait_until("the message notification is read", || {
        server.unread(("tenant", "tenant-pass")) == 0
    });
    assert_eq!(
        server.messages_saying(("landlord", "landlord-pass"), "Yes, 6 works."),
        1,
        "sent once"
    );
    // Signals are handled in order: had the spoof been believed, it would
    // have been sent before the real reply.
    assert_eq!(
        server.messages_saying(("landlord", "landlord-pass"), "Spoofed: cancel everything"),
        0
    );
    terminate(&mut app);
}
