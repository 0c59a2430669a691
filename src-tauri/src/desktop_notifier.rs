//! Native popups over the freedesktop Notifications D-Bus API, on one
//! long-lived session-bus connection: `Notify` and `CloseNotification` go
//! out on it, and the daemon's `ActionInvoked`, `NotificationClosed` and
//! `NotificationReplied`, which it addresses to the connection that called
//! `Notify`, come back on it. They are accepted only from the current owner
//! of `org.freedesktop.Notifications` (re-read when the name changes hands)
//! and only for ids this process raised. Server text is escaped where the
//! daemon renders markup. Nothing here waits on the engine, and the engine
//! never waits on the daemon: requests are queued (bounded) to one task.
//!
//! Chosen over notify-rust: its handle owns a connection per popup (drop it
//! and the popup's actions are lost), so one listener for every popup needs
//! the calls and the signals on one connection of our own anyway.

use crate::DESKTOP_CALL_LIMIT;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use smarthunt_core::policy::Urgency;
use smarthunt_core::ports::{Notifier, Popup, PopupAction, PopupKey};
use tokio::sync::mpsc;
use zbus::Variant as Value;

/// Popups waiting for the daemon; past this they are dropped (the
/// notification itself is stored and counted, only its popup is lost).
const QUEUE: usize = 512;

/// Popups remembered for their actions and withdrawal; an action on one
/// older than the last few hundred is ignored.
const REMEMBERED: usize = 256;

/// Two popups with the same text this close together are one (KDE drops
/// the second): the second replaces the first.
const SAME_TEXT_WITHIN: Duration = Duration::from_secs(1);

/// Popup text is cut to this many characters (the window has it all).
const TITLE_MAX: usize = 120;
const BODY_MAX: usize = 500;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// The app's desktop entry id, so desktops group its popups under it.
pub const DESKTOP_ENTRY: &str = "com.smarthunt.desktop";

/// What the user did with one of our popups, as the daemon reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserAction {
    pub popup: ShownPopup,
    pub action: PopupAction,
    /// The text typed into an inline reply.
    pub reply: Option<String>,
}

/// What a popup on screen is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownPopup {
    pub key: PopupKey,
    pub booking_id: Option<i64>,
    pub reply_to: Option<i64>,
}

enum Request {
    Show(Popup),
    Withdraw(PopupKey),
}

pub struct DesktopNotifier {
    tx: mpsc::Sender<Request>,
    state: Arc<Mutex<Screen>>,
}

impl DesktopNotifier {
    /// Starts on the current tokio runtime. With `actions`, popups offer
    /// their actions, and what the user chose comes out of it.
    pub fn start(actions: Option<mpsc::Sender<UserAction>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let state = Arc::new(Mutex::new(Screen::default()));
        tokio::spawn(run(rx, state.clone(), actions));
        Self { tx, state }
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, popup: Popup) {
        if self.tx.try_send(Request::Show(popup)).is_err() {
            tracing::warn!("the notification daemon is not keeping up; a popup was dropped");
        }
    }

    fn withdraw(&self, key: PopupKey) {
        let _ = self.tx.try_send(Request::Withdraw(key));
    }

    fn on_screen(&self) -> Vec<PopupKey> {
        lock(&self.state).on_screen()
    }
}

fn lock(state: &Mutex<Screen>) -> std::sync::MutexGuard<'_, Screen> {
    // A poisoned list of popups is still a valid list.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Our popups as the current daemon knows them, newest last.
#[derive(Default)]
struct Screen {
    /// The unique bus name of the daemon that raised them.
    owner: Option<String>,
    capabilities: Option<Capabilities>,
    popups: VecDeque<Raised>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Capabilities {
    markup: bool,
    inline_reply: bool,
    actions: bool,
}

struct Raised {
    id: u32,
    popup: ShownPopup,
    text: (String, String),
    at: Instant,
    open: bool,
}

impl Screen {
    fn on_screen(&self) -> Vec<PopupKey> {
        self.popups
            .iter()
            .filter(|p| p.open)
            .map(|p| p.popup.key)
            .collect()
    }

    /// The daemon id a new popup replaces: the one with its key, or one
    /// with the same text just now.
    fn replaces(&self, key: PopupKey, text: &(String, String)) -> u32 {
        let same_key = self.popups.iter().rev().find(|p| p.popup.key == key);
        let same_text = || {
            self.popups
                .iter()
                .rev()
                .find(|p| p.open && p.text == *text && p.at.elapsed() < SAME_TEXT_WITHIN)
        };
        same_key.or_else(same_text).map_or(0, |p| p.id)
    }

    fn raised(&mut self, id: u32, popup: ShownPopup, text: (String, String)) {
        self.popups
            .retain(|p| p.id != id && p.popup.key != popup.key);
        if self.popups.len() >= REMEMBERED {
            self.popups.pop_front();
        }
        self.popups.push_back(Raised {
            id,
            popup,
            text,
            at: Instant::now(),
            open: true,
        });
    }

    fn by_id(&self, id: u32) -> Option<&Raised> {
        self.popups.iter().find(|p| p.id == id)
    }

    fn closed(&mut self, id: u32) {
        if let Some(p) = self.popups.iter_mut().find(|p| p.id == id) {
            p.open = false;
        }
    }

    /// A new daemon (or none): the old one's popups and ids are gone.
    fn daemon_changed(&mut self, owner: Option<String>) {
        self.owner = owner;
        self.capabilities = None;
        self.popups.clear();
    }
}

async fn run(
    mut rx: mpsc::Receiver<Request>,
    state: Arc<Mutex<Screen>>,
    actions: Option<mpsc::Sender<UserAction>>,
) {
    let conn = match tokio::time::timeout(DESKTOP_CALL_LIMIT, zbus::Connection::session()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return popups_off(&mut rx, &e.to_string()).await,
        Err(_) => return popups_off(&mut rx, "the session bus does not answer").await,
    };
    if let Some(actions) = actions.clone() {
        let (conn, state) = (conn.clone(), state.clone());
        tokio::spawn(async move {
            if let Err(e) = listen(&conn, &state, &actions).await {
                tracing::warn!(error = %e, "popup actions are unavailable");
            }
        });
    }
    let daemon = Daemon {
        conn,
        state,
        with_actions: actions.is_some(),
        missing_reported: false,
    };
    daemon.serve(rx).await;
}

async fn popups_off(rx: &mut mpsc::Receiver<Request>, error: &str) {
    tracing::warn!(%error, "no session bus: popups are off (notifications are still stored and counted)");
    while rx.recv().await.is_some() {}
}

struct Daemon {
    conn: zbus::Connection,
    state: Arc<Mutex<Screen>>,
    with_actions: bool,
    missing_reported: bool,
}

impl Daemon {
    async fn serve(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(request) = rx.recv().await {
            let done = match request {
                Request::Show(popup) => self.show(popup).await,
                Request::Withdraw(key) => self.withdraw(key).await,
            };
            match done {
                Ok(()) => self.missing_reported = false,
                Err(e) => self.daemon_missing(&e),
            }
        }
    }

    async fn call<B>(&self, method: &str, body: &B) -> Result<zbus::Message, String>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        let call = self
            .conn
            .call_method(Some(NAME), PATH, Some(NAME), method, body);
        match tokio::time::timeout(DESKTOP_CALL_LIMIT, call).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "{method} got no answer within {DESKTOP_CALL_LIMIT:?}"
            )),
        }
    }

    /// What the current daemon can do, asked once per daemon (the first
    /// call also starts a daemon that D-Bus activates), and its bus name.
    async fn capabilities(&self) -> Result<Capabilities, String> {
        if let Some(c) = lock(&self.state).capabilities {
            return Ok(c);
        }
        let reply = self.call("GetCapabilities", &()).await?;
        let list: Vec<String> = reply.body().deserialize().map_err(|e| e.to_string())?;
        let has = |c: &str| list.iter().any(|x| x == c);
        let caps = Capabilities {
            markup: has("body-markup"),
            inline_reply: has("inline-reply"),
            actions: has("actions"),
        };
        let owner = self.owner().await;
        let mut state = lock(&self.state);
        if state.owner.is_none() || state.owner != owner {
            state.daemon_changed(owner);
        }
        state.capabilities = Some(caps);
        Ok(caps)
    }

    async fn owner(&self) -> Option<String> {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn).await.ok()?;
        let name = zbus::names::BusName::try_from(NAME).ok()?;
        let owner = tokio::time::timeout(DESKTOP_CALL_LIMIT, dbus.get_name_owner(name)).await;
        match owner {
            Ok(Ok(o)) => Some(o.to_string()),
            _ => None,
        }
    }

    async fn show(&mut self, popup: Popup) -> Result<(), String> {
        let caps = self.capabilities().await?;
        let title = popup_text(&popup.title, TITLE_MAX, caps.markup);
        let body = popup_text(&popup.body, BODY_MAX, caps.markup);
        let text = (title, body);
        let replaces = lock(&self.state).replaces(popup.key, &text);
        let mut actions: Vec<&str> = Vec::new();
        if self.with_actions && caps.actions {
            for a in &popup.actions {
                // Where the daemon can take a reply itself, Reply is its
                // inline reply; elsewhere it opens the conversation.
                let id = match a {
                    PopupAction::Reply if caps.inline_reply => "inline-reply",
                    a => a.id(),
                };
                actions.extend([id, a.label()]);
            }
        }
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        hints.insert(
            "urgency",
            Value::U8(match popup.style.urgency {
                Urgency::Low => 0,
                Urgency::Normal => 1,
                Urgency::Critical => 2,
            }),
        );
        hints.insert("category", Value::from(popup.style.category));
        hints.insert("desktop-entry", Value::from(DESKTOP_ENTRY));
        // The desktop plays it (and silences it with do-not-disturb).
        match popup.style.sound {
            Some(sound) => hints.insert("sound-name", Value::from(sound)),
            None => hints.insert("suppress-sound", Value::Bool(true)),
        };
        let reply = self
            .call(
                "Notify",
                &(
                    "SmartHunt",
                    replaces,
                    popup.style.icon,
                    text.0.as_str(),
                    text.1.as_str(),
                    actions,
                    hints,
                    -1i32,
                ),
            )
            .await?;
        let id: u32 = reply.body().deserialize().map_err(|e| e.to_string())?;
        lock(&self.state).raised(
            id,
            ShownPopup {
                key: popup.key,
                booking_id: popup.booking_id,
                reply_to: popup.reply_to,
            },
            text,
        );
        Ok(())
    }

    async fn withdraw(&mut self, key: PopupKey) -> Result<(), String> {
        let id = {
            let state = lock(&self.state);
            state
                .popups
                .iter()
                .find(|p| p.open && p.popup.key == key)
                .map(|p| p.id)
        };
        let Some(id) = id else { return Ok(()) };
        lock(&self.state).closed(id);
        self.call("CloseNotification", &(id,)).await.map(|_| ())
    }

    fn daemon_missing(&mut self, error: &str) {
        // The next popup asks the daemon afresh.
        lock(&self.state).capabilities = None;
        tracing::debug!("a popup request found no daemon");
        if !self.missing_reported {
            self.missing_reported = true;
            tracing::warn!(%error, "no notification service answers; popups are off until one does (notifications are still stored and counted)");
        }
    }
}

/// Listens for the daemon's signals for as long as the app runs.
async fn listen(
    conn: &zbus::Connection,
    state: &Mutex<Screen>,
    actions: &mpsc::Sender<UserAction>,
) -> zbus::Result<()> {
    let ours = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(NAME)
        .path(PATH)
        .build()?;
    let owner_changes = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.DBus")
        .interface("org.freedesktop.DBus")
        .member("NameOwnerChanged")
        .arg(0, NAME)
        .build()?;
    let mut signals = zbus::MessageStream::for_match_rule(ours, conn, None).await?;
    let mut owners = zbus::MessageStream::for_match_rule(owner_changes, conn, None).await?;
    tracing::info!("listening for popup actions");
    loop {
        tokio::select! {
            Some(Ok(msg)) = owners.next() => {
                let changed: zbus::Result<(String, String, String)> = msg.body().deserialize();
                if let Ok((_, _, new)) = changed {
                    tracing::info!(owner = %new, "the notification daemon changed");
                    lock(state).daemon_changed((!new.is_empty()).then_some(new));
                }
            }
            Some(Ok(msg)) = signals.next() => {
                if let Some(action) = from_daemon(&msg, state) {
                    if actions.send(action).await.is_err() {
                        return Ok(());
                    }
                }
            }
            else => return Ok(()),
        }
    }
}

/// The user's action a signal reports, if it comes from the daemon that
/// raised our popup (anyone on the bus can emit a signal: only the owner
/// of the name is believed).
fn from_daemon(msg: &zbus::Message, state: &Mutex<Screen>) -> Option<UserAction> {
    let header = msg.header();
    let member = header.member()?.to_string();
    let sender = header.sender()?.to_string();
    let mut state = lock(state);
    if state.owner.as_deref() != Some(sender.as_str()) {
        tracing::warn!(%sender, %member, "a notification signal not from the notification daemon was ignored");
        return None;
    }
    let body = msg.body();
    match member.as_str() {
        "ActionInvoked" => {
            let (id, key): (u32, String) = body.deserialize().ok()?;
            let popup = state.by_id(id)?.popup.clone();
            // A daemon without inline replies sends the key as an action.
            let action = match key.as_str() {
                "inline-reply" => PopupAction::Reply,
                key => PopupAction::from_id(key)?,
            };
            tracing::info!(id, action = action.id(), "popup action");
            Some(UserAction {
                popup,
                action,
                reply: None,
            })
        }
        "NotificationReplied" => {
            let (id, text): (u32, String) = body.deserialize().ok()?;
            let popup = state.by_id(id)?.popup.clone();
            tracing::info!(id, "inline reply from a popup");
            Some(UserAction {
                popup,
                action: PopupAction::Reply,
                reply: Some(text),
            })
        }
        "NotificationClosed" => {
            let (id, _reason): (u32, u32) = body.deserialize().ok()?;
            state.closed(id);
            None
        }
        _ => None,
    }
}

/// Server text for a popup: cut to `max` characters (marked with "…") and,
/// where the daemon renders markup, escaped so it can never inject any.
fn popup_text(s: &str, max: usize, markup: bool) -> String {
    let mut text: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        text.push('…');
    }
    if markup {
        escape_markup(&text)
    } else {
        text
    }
}

/// Escapes the characters that body markup would interpret, so server text
/// can never inject markup or links.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_links() {
        assert_eq!(
            escape_markup(r#"<a href="x">hi</a> & <b>"#),
            "&lt;a href=&quot;x&quot;&gt;hi&lt;/a&gt; &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn long_text_is_cut_and_marked_before_it_is_escaped() {
        assert_eq!(popup_text("abcdef", 3, false), "abc…");
        assert_eq!(popup_text("abc", 3, false), "abc");
        assert_eq!(popup_text("<<<<", 2, true), "&lt;&lt;…");
    }

    fn shown(key: PopupKey) -> ShownPopup {
        ShownPopup {
            key,
            booking_id: None,
            reply_to: None,
        }
    }

    #[test]
    fn a_popup_replaces_its_key_or_the_same_text_just_shown() {
        let mut s = Screen::default();
        let text = |t: &str| (t.to_owned(), String::new());
        s.raised(5, shown(PopupKey::Notification(1)), text("a"));
        assert_eq!(s.replaces(PopupKey::Notification(1), &text("b")), 5);
        assert_eq!(s.replaces(PopupKey::Notification(2), &text("a")), 5);
        assert_eq!(s.replaces(PopupKey::Notification(2), &text("c")), 0);
        s.closed(5);
        assert!(s.on_screen().is_empty());
        // The outcome of a closed request still takes its id.
        assert_eq!(s.replaces(PopupKey::Notification(1), &text("b")), 5);
        s.daemon_changed(Some(":1.9".into()));
        assert_eq!(s.replaces(PopupKey::Notification(1), &text("b")), 0);
    }

    #[test]
    fn only_the_last_few_hundred_popups_are_remembered() {
        let mut s = Screen::default();
        for i in 0..(REMEMBERED as u32 + 10) {
            s.raised(
                i + 1,
                shown(PopupKey::Notification(i64::from(i))),
                (i.to_string(), String::new()),
            );
        }
        assert_eq!(s.popups.len(), REMEMBERED);
        assert!(s.by_id(1).is_none());
    }
}
