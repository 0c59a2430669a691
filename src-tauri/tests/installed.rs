//! The installed package, as a user runs it: `/usr/bin/smarthunt-tray`
//! from the .deb, in a real desktop session (dunst, gnome-keyring, a
//! stand-in tray host), against the dev server. `scripts/check-package`
//! runs it after `apt install` of the package it built; it is ignored in
//! the ordinary test run, which has no package installed.

mod desktop;

use desktop::{terminate, wait_until, wait_until_long, Server, Tray};
use serde_json::json;

const INSTALLED: &str = "/usr/bin/smarthunt-tray";
const ENTRY: &str = "/usr/share/applications/com.smarthunt.desktop.desktop";

#[test]
#[ignore = "needs the package installed: scripts/check-package runs it"]
fn the_installed_app_signs_in_pops_up_shows_its_tray_and_opens_from_its_desktop_entry() {
    let mut tray = Tray::start(true);
    let server = Server::start();
    let out = tray.session.login_as(
        tray.session.command(INSTALLED),
        &[&server.url, "tenant", "tenant-pass"],
        &[],
    );
    assert!(
        out.status.success(),
        "the installed app signs in: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut app = tray.launch_program(INSTALLED, &["--hidden"]);
    wait_until("connected", || server.connections() >= 1);
    // Nothing unread: the look the package installed, by name.
    wait_until("the installed connected look", || {
        tray.property("IconName")
            .contains("'com.smarthunt.desktop-connected'")
    });

    server.control(
        "notify",
        json!({"username":"tenant","title":"Installed and working","body":"b","notification_type":"maintenance"}),
    );
    let popup = tray.session.wait_popup("dunst receives the popup", |n| {
        n["summary"] == "Installed and working"
    });
    assert_eq!(popup["appname"], "SmartHunt");

    let (bus_name, _) = tray.item();
    assert!(!bus_name.is_empty(), "the tray item registered");

    // The launcher runs the entry's Exec: the running app shows its window.
    let entry = std::fs::read_to_string(ENTRY).expect("the desktop entry is installed");
    let exec = entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    let mut words = exec.split_whitespace();
    let program = words.next().expect("a program");
    let mut launched = tray
        .session
        .command(program)
        .args(words)
        .spawn()
        .expect("the entry's Exec runs");
    wait_until("the launcher's start hands over", || {
        launched.try_wait().unwrap().is_some()
    });
    assert!(launched.wait().unwrap().success());
    wait_until_long("the window opens", || tray.window_exists());
    assert!(terminate(&mut app).success());
}
