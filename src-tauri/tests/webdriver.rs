//! End-to-end through the real window: tauri-driver + WebKitWebDriver start
//! the window process and drive its webview in a real desktop session (tray host, dunst,
//! gnome-keyring) against the dev server. What a user sees and clicks.

mod desktop;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use desktop::{
    artefacts, wait_until, wait_until_long, KillOnDrop, Server, Tray, WAIT, WINDOW_BIN,
    WINDOW_SECRET,
};
use serde_json::{json, Value};

/// Element references are objects with one key that starts with this
/// (W3C names `element-6066-11e4-a932-00053ab0c5fe`; WebKitWebDriver
/// answers with another suffix).
const ELEMENT_KEY_PREFIX: &str = "element-6066-11e4-";

/// Two free ports, surely different (both held until both are known).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A WebDriver session on the real app, through tauri-driver.
struct Window {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
}

/// The desktop's theme, as GTK gives it to the window: WebKitGTK's
/// `prefers-color-scheme` follows a GTK theme whose name ends in `:dark`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn gtk_theme(self) -> &'static str {
        match self {
            Theme::Light => "Adwaita",
            Theme::Dark => "Adwaita:dark",
        }
    }
}

/// Which way [`Window::tab_to`] moves the focus.
#[derive(Clone, Copy)]
enum Tab {
    Forward,
    Backward,
}

/// WebKitWebDriver's answer when the element it found, or was given, was
/// replaced by the page's redraw before it could be used.
fn redrawn(error: &str) -> bool {
    error.starts_with("stale element reference")
}

impl Window {
    fn open(tray: &Tray) -> Self {
        Self::open_in(tray, Theme::Light)
    }

    /// A window in the desktop theme `theme`; it fails unless the page
    /// really is in that theme, so a dark audit cannot pass on light.
    fn open_in(tray: &Tray, theme: Theme) -> Self {
        let w = Self::start_session(tray, theme);
        w.wait_for("css selector", "#app > *:not(.boot)");
        let dark = w.script("return matchMedia('(prefers-color-scheme: dark)').matches;");
        assert_eq!(
            dark,
            json!(theme == Theme::Dark),
            "the window's page in the {theme:?} theme"
        );
        w
    }

    fn start_session(tray: &Tray, theme: Theme) -> Self {
        let (port, native) = free_ports();
        let driver = tray
            .session
            .command("tauri-driver")
            // It starts the window in place of the tray app: the window's
            // secret goes with it, as the tray app would give it.
            .env(smarthunt_tray::ipc::WINDOW_SECRET_ENV, WINDOW_SECRET)
            .env("GTK_THEME", theme.gtk_theme())
            .stdin(Stdio::null())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver runs (cargo install tauri-driver --locked)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // tauri-driver listens at once, starts WebKitWebDriver beside it
        // and forwards every request there; one sent before WebKitWebDriver
        // listens is dropped unanswered (reqwest: IncompleteMessage), which
        // a busy machine showed on `POST /session`. So: both must listen.
        wait_until("tauri-driver and WebKitWebDriver listen", || {
            listening(port) && listening(native)
        });
        let mut w = Self {
            runtime,
            http: reqwest::Client::new(),
            base,
            session: String::new(),
            driver,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": WINDOW_BIN}}}});
        let created = w.try_call("POST", "/session", Some(caps));
        let session = match &created {
            Ok(v) => v["sessionId"].as_str().map(str::to_owned),
            Err(_) => None,
        };
        w.session = session.unwrap_or_else(|| {
            panic!(
                "no WebDriver session for {WINDOW_BIN}: POST {}/session to tauri-driver (port {port}, listening: {}), which forwards to WebKitWebDriver (port {native}, listening: {}), answered {created:?}",
                w.base,
                listening(port),
                listening(native),
            )
        });
        w
    }

    /// A WebDriver command; its `value`, or what went wrong on the way.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let http = self.http.clone();
        let v: Value = self.runtime.block_on(async move {
            let mut req = http.request(method, url).timeout(WAIT);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
            Ok::<_, String>(resp.json().await.unwrap_or(Value::Null))
        })?;
        // A W3C error answer: `{"value": {"error": ..., "message": ...}}`.
        if let Some(error) = v["value"].get("error").and_then(Value::as_str) {
            return Err(format!("{error}: {}", v["value"]["message"]));
        }
        Ok(v["value"].clone())
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn find_all(&self, using: &str, value: &str) -> Vec<String> {
        self.try_find_all(using, value)
            .unwrap_or_else(|e| panic!("WebDriver finding `{value}`: {e}"))
    }

    fn try_find_all(&self, using: &str, value: &str) -> Result<Vec<String>, String> {
        let v = self.try_call(
            "POST",
            &self.s("/elements"),
            Some(json!({"using": using, "value": value})),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        e.as_object()?
                            .iter()
                            .find(|(k, _)| k.starts_with(ELEMENT_KEY_PREFIX))
                            .and_then(|(_, v)| v.as_str().map(str::to_owned))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn css(&self, selector: &str) -> Vec<String> {
        self.find_all("css selector", selector)
    }

    /// Waits for an element and returns it.
    /// The first element found, waiting for it; if it never shows, the
    /// failure names what the page showed instead (and leaves a screenshot).
    /// A search that meets the page redrawing what it matched fails with
    /// "stale element reference" (WebKitWebDriver makes a handle for each
    /// node it found after the search, and the list had just replaced its
    /// rows: seen on the audit's first wait); that is "not yet" too.
    fn wait_for(&self, using: &str, value: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.try_find_all(using, value) {
                Ok(found) => {
                    if let Some(found) = found.into_iter().next() {
                        return found;
                    }
                }
                Err(e) if redrawn(&e) => {}
                Err(e) => panic!("WebDriver finding `{value}`: {e}"),
            }
            if Instant::now() > deadline {
                self.screenshot("failed-wait");
                let page = self.script("return document.body.innerText;");
                panic!("timed out waiting for `{value}`; the page shows: {page}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self, element: &str) -> String {
        self.call("GET", &self.s(&format!("/element/{element}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks what `value` finds, as a user would: once it is there and
    /// can be clicked. WebKitWebDriver refuses a click on an element that
    /// is in the page but not shown yet ("element not interactable": the
    /// chat list right after its tab was clicked, seen on a fresh machine)
    /// or that the page has just redrawn ("stale element reference"); the
    /// click is tried again, on the element found anew, until it lands.
    fn click_on(&self, using: &str, value: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let element = self.wait_for(using, value);
            let path = self.s(&format!("/element/{element}/click"));
            match self.try_call("POST", &path, Some(json!({}))) {
                Ok(_) => return,
                Err(e)
                    if (redrawn(&e) || e.starts_with("element not interactable"))
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("clicking `{value}`: {e}"),
            }
        }
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(json!({"text": text})),
        );
    }

    /// Types `text` on the keyboard, into whatever has the focus (no
    /// element named: what a person does). `\u{E007}` is Enter.
    fn keys(&self, text: &str) {
        let strokes: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({"type": "keyDown", "value": c}),
                    json!({"type": "keyUp", "value": c}),
                ]
            })
            .collect();
        self.call(
            "POST",
            &self.s("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": strokes}]})),
        );
    }

    /// Presses `keys` together (a modifier first), then lets go of them
    /// in reverse: Shift+Tab is `["\u{E008}", "\u{E004}"]`.
    fn chord(&self, keys: &[&str]) {
        let mut strokes: Vec<Value> = keys
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k}))
            .collect();
        strokes.extend(
            keys.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        self.call(
            "POST",
            &self.s("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": strokes}]})),
        );
        // The action's keys are released for the next command.
        self.call("DELETE", &self.s("/actions"), None);
    }

    /// Presses Tab (or Shift+Tab) until the focused element is `what`, as
    /// `is_it` (a JavaScript expression on `a`, the focused element) says.
    /// Every element the focus lands on on the way must show its focus
    /// ring: a keyboard user always sees where they are.
    fn tab_to(&self, way: Tab, what: &str, is_it: &str) {
        let step = format!(
            "const a = document.activeElement;\
             if (!a || a === document.body) return {{ away: true }};\
             const s = getComputedStyle(a);\
             return {{ hit: Boolean({is_it}),\
               ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,\
               what: `${{a.tagName.toLowerCase()}}${{a.id ? '#' + a.id : ''}} ${{(a.getAttribute('aria-label') || a.textContent || '').trim().slice(0, 40)}}` }};"
        );
        let mut passed = Vec::new();
        for _ in 0..40 {
            match way {
                Tab::Forward => self.chord(&["\u{E004}"]),
                Tab::Backward => self.chord(&["\u{E008}", "\u{E004}"]),
            }
            let at = self.script(&step);
            if at["away"] == json!(true) {
                passed.push("(outside the page)".to_owned());
                continue;
            }
            let here = at["what"].as_str().unwrap_or_default().to_owned();
            assert_eq!(
                at["ring"],
                json!(true),
                "no visible focus on {here} (on the way to {what})"
            );
            if at["hit"] == json!(true) {
                return;
            }
            passed.push(here);
        }
        panic!("Tab never reached {what}; it went through {passed:?}");
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Runs `script` that ends by calling its last argument with a result.
    fn script_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/async"),
            Some(json!({"script": script, "args": []})),
        )
    }

    fn screenshot(&self, name: &str) {
        let v = self.call("GET", &self.s("/screenshot"), None);
        if let Some(png) = v
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            std::fs::write(artefacts().join(format!("{name}.png")), png).unwrap();
        }
    }

    fn click_button(&self, label: &str) {
        self.click_on("xpath", &format!("//button[normalize-space(.)='{label}']"))
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
        // SIGTERM: tauri-driver ends WebKitWebDriver then (SIGKILL would
        // leave it running). No panic here: this may run while unwinding.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.driver.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while matches!(self.driver.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The wait until the next try that the status bar shows, in seconds
/// ("retrying in 1 min 5 s"); none while it shows no countdown.
fn shown_wait_s(w: &Window) -> Option<u64> {
    let shown =
        w.script("return document.querySelector('footer .status-countdown')?.textContent ?? '';");
    let wait = shown.as_str()?.split("retrying in ").nth(1)?;
    let words: Vec<&str> = wait.split_whitespace().collect();
    let mut seconds = 0;
    for pair in words.chunks(2) {
        let Ok(n) = pair[0].parse::<u64>() else { break };
        match pair.get(1).copied() {
            Some("s") => seconds += n,
            Some("min") => seconds += 60 * n,
            Some("h") => seconds += 3600 * n,
            _ => break,
        }
    }
    Some(seconds)
}

fn row_titles(w: &Window) -> Vec<String> {
    w.css("article.note .note-title")
        .iter()
        .map(|e| w.text(e))
        .collect()
}

/// The tray app signed in as `user` and started hidden, and its window
/// opened through WebDriver (which starts `smarthunt-window` itself).
fn signed_in_window(user: (&str, &str), server: &Server) -> (Tray, KillOnDrop, Window) {
    signed_in_window_in(user, server, Theme::Light)
}

/// [`signed_in_window`] in the desktop theme `theme`.
fn signed_in_window_in(
    user: (&str, &str),
    server: &Server,
    theme: Theme,
) -> (Tray, KillOnDrop, Window) {
    let tray = Tray::start(true);
    tray.login(&server.url, user.0, user.1);
    let app = tray.launch(&["--hidden"]);
    let window = Window::open_in(&tray, theme);
    window.wait_for("css selector", "#tab-notifications");
    (tray, app, window)
}

/// What the window's live region (what a screen reader speaks) says now.
fn announced(w: &Window) -> String {
    w.script("return document.querySelector('#app > [role=status][aria-live]')?.textContent ?? '';")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn pushed_notification_appears_and_markup_in_it_stays_text() {
    let server = Server::start();
    let (_tray, _app, w) = signed_in_window(("tenant", "tenant-pass"), &server);
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "notify",
        json!({"username":"tenant","title":"Viewing confirmed","body":"Sunny loft, Saturday 10:00","notification_type":"property"}),
    );
    wait_until("the pushed notification is listed", || {
        row_titles(&w)
            .iter()
            .any(|t| t.contains("Viewing confirmed"))
    });
    // A screen reader hears it, with the count the badge shows.
    // (The count is what the window knew then: the status and the event
    // travel apart, so it is at least one, not exactly one.)
    wait_until("the arrival is announced with the unread count", || {
        announced(&w)
            .strip_prefix("New notification: Viewing confirmed. ")
            .and_then(|rest| rest.strip_suffix(" unread."))
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 1)
    });
    let hostile = "<img src=x onerror=\"window.__pwned=1\">";
    server.control(
        "notify",
        json!({"username":"tenant","title":hostile,"body":"<script>window.__pwned=2</script>","notification_type":"general"}),
    );
    wait_until("the hostile title is listed as text", || {
        row_titles(&w).iter().any(|t| t.contains(hostile))
    });
    let safe = w.script(
        "return window.__pwned === undefined && document.querySelectorAll('.note img, .note script').length === 0;",
    );
    assert_eq!(safe, Value::Bool(true), "server text ran or became markup");
    w.screenshot("window-notifications");
}

#[test]
fn mark_all_read_clears_the_list_the_tray_and_the_server() {
    let server = Server::start();
    let (mut tray, _app, w) = signed_in_window(("tenant", "tenant-pass"), &server);
    wait_until("connected", || server.connections() >= 1);
    for i in 1..=3 {
        server.control(
            "notify",
            json!({"username":"tenant","title":format!("Rent reminder {i}"),"body":"Due on the 1st","notification_type":"general"}),
        );
    }
    wait_until("three unread rows", || {
        w.css("article.note.unread").len() >= 3
    });
    wait_until("the tray shows 3", || {
        tray.tooltip().starts_with("3 unread")
    });
    w.click_button("Mark all read");
    wait_until("no unread row", || w.css("article.note.unread").is_empty());
    wait_until("the tray count is gone", || {
        tray.tooltip().starts_with("0 unread")
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = server.rest(
            ("tenant", "tenant-pass"),
            "GET",
            "/api/interactions/notifications/stats/",
            None,
        );
        if stats["body"]["unread"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server still counts unread: {stats}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn chat_written_while_the_server_is_down_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::persistent(dir.path());
    let (_tray, _app, w) = signed_in_window(("tenant", "tenant-pass"), &server);
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "message",
        json!({"from":"landlord","to":"tenant","content":"Hi Tom, the keys are ready."}),
    );
    w.click_on("css selector", "#tab-chat");
    w.click_on("css selector", "li.conv-item button");
    w.wait_for(
        "xpath",
        "//li[contains(@class,'msg')][contains(.,'the keys are ready')]",
    );

    server.stop();
    wait_until("the app notices", || {
        w.script("return document.body.innerText.includes('Offline') || document.body.innerText.includes('Reconnecting') || document.body.innerText.includes('offline');")
            == Value::Bool(true)
    });
    let composer = w.wait_for("css selector", "#composer");
    w.type_into(&composer, "Great, I will pick them up at 6.");
    w.click_on("css selector", "button.send");
    w.wait_for("css selector", "li.msg.pending");
    w.screenshot("window-chat-pending");

    server.restart();
    // The server vanished, as in a restart of it: the app spreads its
    // first try over 16 s (a fleet's must be), then backs off from there.
    wait_until_long("delivered: no longer pending", || {
        w.css("li.msg.pending").is_empty() && server.connections() >= 1
    });
    let sent = server.messages_saying(
        ("landlord", "landlord-pass"),
        "Great, I will pick them up at 6.",
    );
    assert_eq!(sent, 1, "delivered exactly once");
    w.screenshot("window-chat");
}

#[test]
fn retry_now_connects_without_waiting_for_the_next_try() {
    let server = Server::start();
    let (tray, _app, w) = signed_in_window(("tenant", "tenant-pass"), &server);
    wait_until("connected", || server.connections() >= 1);
    assert!(
        w.css("button.status-retry:not([hidden])").is_empty(),
        "no retry to offer while connected"
    );
    // The server refuses every handshake: each failed try backs off
    // further (up to a minute, full jitter).
    server.control("reject_handshakes", json!({"status": 503}));
    server.control("close", json!({"code": 1011}));
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    // Far enough that connecting before it is the button's doing, not the
    // schedule's (a try waits at least the 2 s between handshakes). And
    // the window shows that wait too, as a user sees it before clicking:
    // the core's status reaches the window a little later, and a click
    // while the window still showed the end of an earlier wait landed as
    // the window redrew for the new one (seen once in about 100 runs: the
    // app never heard of the click). 5 s shown is the core's current wait.
    let mut retry_at = 0;
    wait_until_long("the next try 10 s away or more, shown", || {
        let c = tray.ipc_call("get_status", json!({}))["connection"].clone();
        retry_at = c["retry_at_ms"].as_i64().unwrap_or(0);
        c["state"] == "reconnecting"
            && retry_at - now_ms() >= 10_000
            && shown_wait_s(&w).is_some_and(|s| s >= 5)
    });
    server.control("reject_handshakes", json!({"status": null}));
    w.click_button("Retry now");
    wait_until("connected again", || server.connections() >= 1);
    assert!(
        now_ms() < retry_at,
        "connected before the scheduled try: the button did it"
    );
    w.wait_for(
        "xpath",
        "//footer[@data-tone='ok']//span[@class='status-label'][.='Connected']",
    );
    assert!(
        w.css("button.status-retry:not([hidden])").is_empty(),
        "no retry to offer once connected"
    );
}

#[test]
fn settings_turn_autostart_off_and_show_who_is_signed_in() {
    let server = Server::start();
    let (tray, _app, w) = signed_in_window(("landlord", "landlord-pass"), &server);
    let autostart =
        std::path::PathBuf::from(&tray.session.env()["XDG_CONFIG_HOME"]).join("autostart");
    let has_entry = || {
        std::fs::read_dir(&autostart)
            .map(|d| d.flatten().next().is_some())
            .unwrap_or(false)
    };
    wait_until("autostart on after the first sign-in", has_entry);
    wait_until("connected", || server.connections() >= 1);
    w.click_on("css selector", "#tab-settings");
    w.wait_for(
        "xpath",
        "//section[@id='panel-settings' and not(@hidden)]//*[contains(normalize-space(.),'landlord')]",
    );
    std::thread::sleep(Duration::from_millis(300));
    w.screenshot("window-settings");
    w.click_on(
        "xpath",
        "//label[.//span[normalize-space(.)='Start SmartHunt when I log in']]",
    );
    wait_until("the autostart entry is gone", || !has_entry());
}

#[test]
fn reply_in_a_message_popup_opens_the_conversation_ready_to_type() {
    let server = Server::start();
    let (tray, _app, w) = signed_in_window(("tenant", "tenant-pass"), &server);
    wait_until("connected", || server.connections() >= 1);
    server.control(
        "message",
        json!({"from":"landlord","to":"tenant","content":"Could you send me the meter reading?"}),
    );
    wait_until("the message popup is shown", || {
        tray.session.displayed() >= 1
    });
    // dunst has no inline replies: its Reply opens the conversation.
    tray.session
        .pick_action("Reply")
        .unwrap_or_else(|e| panic!("{e}"));
    w.wait_for(
        "xpath",
        "//section[@id='panel-chat' and not(@hidden)]//li[contains(@class,'msg')][contains(.,'meter reading')]",
    );
    wait_until("the composer has the focus", || {
        w.script("return document.activeElement && document.activeElement.id;") == json!("composer")
    });
    // The person just types and presses Enter.
    w.keys("It says 4711.\u{E007}");
    wait_until("the reply reaches the landlord", || {
        server.messages_saying(("landlord", "landlord-pass"), "It says 4711.") == 1
    });
}

/// The visible text of what `selector` finds whose text matches `pattern`
/// (a JavaScript regular expression, case-insensitive); for `body *`, only
/// the page's leaves.
fn visible_texts(w: &Window, selector: &str, pattern: &str) -> Vec<String> {
    let script = format!(
        "return [...document.querySelectorAll('{selector}')]\
           .filter((e) => (e.children.length === 0 || '{selector}' !== 'body *')\
             && e.getClientRects().length > 0 && /{pattern}/i.test(e.textContent.trim()))\
           .map((e) => e.textContent.trim());"
    );
    w.script(&script)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_first_run_is_the_sign_in_form_alone_and_the_keyboard_alone_signs_in_reads_and_answers() {
    let server = Server::start();
    let tray = Tray::start(true);
    let _app = tray.launch(&["--hidden"]);
    let w = Window::open(&tray);
    // What a new user sees: the sign-in form, its server field ready.
    w.wait_for(
        "css selector",
        "#panel-settings:not([hidden]) form.signin:not([hidden])",
    );
    assert_eq!(
        w.script("return document.activeElement?.getAttribute('autocomplete');"),
        json!("url"),
        "the server field has the focus"
    );
    std::thread::sleep(Duration::from_millis(300));
    w.screenshot("window-first-run");
    // Nothing competes with it: an account's settings wait for an account.
    assert!(visible_texts(&w, "body *", "^Quiet hours$").is_empty());
    assert!(visible_texts(&w, "body *", "Pause for 1 hour").is_empty());
    // "Not signed in" is said once, in the status bar, never twice.
    let said = visible_texts(&w, "body *", "not signed in");
    assert!(said.len() <= 1, "said more than once: {said:?}");
    // The notifications: one prompt to sign in (the banner), no filters.
    w.click_on("css selector", "#tab-notifications");
    w.wait_for("css selector", ".banner:not([hidden])");
    let buttons = visible_texts(&w, "button", "^Sign in");
    assert_eq!(buttons.len(), 1, "one way to sign in: {buttons:?}");
    assert!(
        w.css("#filter-kind").is_empty()
            || w.script("return document.getElementById('filter-kind').getClientRects().length;")
                == json!(0),
        "no filters before there is anything to filter"
    );
    // Back to the form from the banner, and signed in by keyboard alone.
    w.click_on("css selector", ".banner button");
    w.wait_for("css selector", "#panel-settings:not([hidden])");
    w.keys(&format!(
        "{}\u{E004}tenant\u{E004}tenant-pass\u{E007}",
        server.url
    ));
    wait_until("signed in and connected", || server.connections() >= 1);
    w.wait_for("css selector", "#panel-notifications:not([hidden])");
    w.wait_for("css selector", "#filter-kind");
    assert!(visible_texts(&w, "body *", "not signed in").is_empty());

    // Then, still without a pointer: open a notification, mark all read,
    // answer a message.
    server.control(
        "notify",
        json!({"username":"tenant","title":"Rent received","body":"Thank you.","notification_type":"general"}),
    );
    server.control(
        "notify",
        json!({"username":"tenant","title":"Boiler service on Friday","body":"The engineer comes at 9.","notification_type":"maintenance"}),
    );
    server.control(
        "message",
        json!({"from":"landlord","to":"tenant","content":"Could you leave the hall light on?"}),
    );
    w.wait_for(
        "xpath",
        "//article[contains(@class,'note')][contains(., 'Boiler service')]",
    );
    let focused_text = || {
        w.script("return document.activeElement?.textContent ?? '';")
            .to_string()
    };
    w.tab_to(Tab::Forward, "a notification", "a.matches('article.note')");
    w.chord(&["\u{E011}"]); // Home: the newest
    for _ in 0..5 {
        if focused_text().contains("Boiler service") {
            break;
        }
        w.chord(&["\u{E015}"]); // ArrowDown
    }
    assert!(
        focused_text().contains("Boiler service"),
        "{}",
        focused_text()
    );
    w.chord(&["\u{E007}"]); // Enter opens it
    w.wait_for(
        "xpath",
        "//*[@id='detail-title'][contains(., 'Boiler service')]",
    );
    w.wait_for("xpath", "//*[contains(., 'The engineer comes at 9.')]");
    w.chord(&["\u{E00C}"]); // Escape: back to the list, on the same row
    wait_until("the focus is back on the row", || {
        focused_text().contains("Boiler service")
    });
    w.tab_to(
        Tab::Backward,
        "Mark all read",
        "a.textContent.trim() === 'Mark all read'",
    );
    w.chord(&["\u{E007}"]);
    wait_until("the server counts nothing unread", || {
        server.unread(("tenant", "tenant-pass")) == json!(0)
    });
    w.tab_to(
        Tab::Backward,
        "the Notifications tab",
        "a.id === 'tab-notifications'",
    );
    w.chord(&["\u{E014}"]); // ArrowRight: the Chat tab
    w.wait_for("css selector", "#panel-chat:not([hidden])");
    w.wait_for(
        "xpath",
        "//*[@id='panel-chat']//button[contains(@class,'conv')]",
    );
    w.tab_to(Tab::Forward, "a conversation", "a.matches('.conv')");
    w.chord(&["\u{E007}"]);
    w.wait_for(
        "xpath",
        "//li[contains(@class,'msg')][contains(.,'hall light')]",
    );
    w.tab_to(Tab::Forward, "the message field", "a.id === 'composer'");
    w.keys("Of course.\u{E007}");
    wait_until("the answer reaches the landlord", || {
        server.messages_saying(("landlord", "landlord-pass"), "Of course.") == 1
    });
}

/// axe-core's serious and critical violations on the page as it is now,
/// one line each (rule, what it asks, where), and a view without exactly
/// one level-one heading. axe-core comes from the
/// repository's `node_modules` (`npm ci`, which ./run-tests runs first).
fn accessibility_violations(w: &Window) -> Vec<String> {
    let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe)
        .unwrap_or_else(|e| panic!("axe-core at {}: {e}; run `npm ci` first", axe.display()));
    w.script(&format!("{source}\nreturn typeof axe;"));
    let found = w.script_async(
        "const done = arguments[arguments.length - 1];\
         axe.run(document, { resultTypes: ['violations'] })\
           .then((r) => done(r.violations\
             .filter((v) => v.impact === 'serious' || v.impact === 'critical')\
             .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)))\
           .catch((e) => done([`axe failed: ${e}`]));",
    );
    let mut violations: Vec<String> = found
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec![format!("axe gave no list: {found}")]);
    // axe rates a missing level-one heading moderate; here each view has
    // exactly one, so a screen reader's "next heading" starts there.
    let headings = w.script(
        "return [...document.querySelectorAll('h1')].filter((h) => !h.closest('[hidden]')).map((h) => h.textContent.trim());",
    );
    if headings.as_array().map_or(0, Vec::len) != 1 {
        violations.push(format!("one level-one heading per view, found {headings}"));
    }
    violations
}

/// Every view and state a user meets, audited by axe-core in `theme`:
/// the list, an opened booking request, the chat list and a thread,
/// settings, popups paused, offline with a message waiting to be sent,
/// signed out.
fn audit_every_view_and_state(theme: Theme) {
    let mut server = Server::start();
    let (tray, _app, w) = signed_in_window_in(("landlord", "landlord-pass"), &server, theme);
    wait_until("connected", || server.connections() >= 1);
    server.control("booking_request", json!({"tenant": "tenant"}));
    server.control(
        "message",
        json!({"from": "tenant", "to": "landlord", "content": "Is the flat free in May?"}),
    );
    w.wait_for(
        "xpath",
        "//article[contains(@class,'note')][.//*[contains(., 'booking')]]",
    );
    let mut found = Vec::new();
    let mut check = |view: &str, w: &Window| {
        for v in accessibility_violations(w) {
            found.push(format!("{view}: {v}"));
        }
    };
    check("notifications", &w);
    let request = "//article[contains(@class,'note')][.//*[contains(., 'booking')]]";
    w.click_on("xpath", request);
    w.wait_for("xpath", "//button[normalize-space(.)='Approve']");
    check("an opened booking request", &w);
    w.click_on("css selector", "#tab-chat");
    let conversation = "//*[@id='panel-chat' and not(@hidden)]//button[contains(., 'Tom')]";
    w.wait_for("xpath", conversation);
    check("chat list", &w);
    w.click_on("xpath", conversation);
    w.wait_for("css selector", "#composer");
    check("chat thread", &w);
    w.click_on("css selector", "#tab-settings");
    w.wait_for("css selector", "#panel-settings:not([hidden])");
    check("settings", &w);
    w.click_button("Pause for 1 hour");
    w.wait_for(
        "css selector",
        ".statusbar button.status-chip:not([hidden])",
    );
    check("popups paused", &w);

    server.stop();
    w.wait_for(
        "xpath",
        "//*[contains(@class,'status-label')][normalize-space(.)='Offline']",
    );
    w.click_on("css selector", "#tab-chat");
    w.click_on("css selector", "#composer");
    w.keys("Yes, from the 1st.");
    w.click_on("css selector", "button.send");
    w.wait_for("css selector", "li.msg.pending");
    check("offline, a message waiting to be sent", &w);

    w.click_on("css selector", "#tab-settings");
    w.click_button("Sign out");
    w.wait_for("css selector", "form.signin:not([hidden])");
    check("signed out", &w);
    drop(tray);
    assert!(found.is_empty(), "{theme:?} theme:\n{}", found.join("\n"));
}

#[test]
fn every_view_has_no_serious_accessibility_violation() {
    audit_every_view_and_state(Theme::Light);
}

#[test]
fn every_view_has_no_serious_accessibility_violation_in_the_dark_theme() {
    audit_every_view_and_state(Theme::Dark);
}

#[test]
fn a_locked_keychain_is_said_accessibly_in_both_themes() {
    let server = Server::start();
    let tray = Tray::start(true);
    tray.login(&server.url, "tenant", "tenant-pass");
    // The user's keyring is locked (a screen lock, or Seahorse), as
    // gnome-keyring itself does it: nothing answers for it here.
    tray.session
        .lock_keyring()
        .unwrap_or_else(|e| panic!("{e}"));
    let _app = tray.launch(&["--hidden"]);
    let mut found = Vec::new();
    for theme in [Theme::Light, Theme::Dark] {
        let w = Window::open_in(&tray, theme);
        w.wait_for(
            "xpath",
            "//*[contains(@class,'banner') and not(@hidden)][contains(., 'keychain is not available')]",
        );
        for v in accessibility_violations(&w) {
            found.push(format!("keychain problem, {theme:?}: {v}"));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
