//! A stand-in for KDE Plasma's notification server, for the one thing no
//! daemon on this machine can do: inline replies (dunst, the test
//! session's daemon, does not advertise `inline-reply`). It is a stand-in
//! and named so; it behaves as Plasma does wherever the app can tell:
//!
//! - it owns `org.freedesktop.Notifications` on the session bus, so its
//!   signals come from the name's current owner;
//! - `GetCapabilities` lists `inline-reply` beside `actions` and `body`;
//! - `Notify` answers with a fresh id (or the one it replaces);
//! - a reply is a `NotificationReplied(id, text)` followed by
//!   `NotificationClosed(id, 2)` (dismissed by the user), both addressed to
//!   the connection that called `Notify`, not broadcast.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::OwnedVariant;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// One `Notify` call as the daemon received it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: u32,
    /// The unique bus name of the caller: where the signals go.
    pub caller: String,
    pub summary: String,
    pub actions: Vec<String>,
}

impl Shown {
    pub fn offers(&self, key: &str) -> bool {
        self.actions.chunks(2).any(|pair| pair[0] == key)
    }
}

struct Served {
    next_id: u32,
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Served {
    fn get_capabilities(&self) -> Vec<String> {
        [
            "actions",
            "body",
            "body-hyperlinks",
            "inline-reply",
            "persistence",
        ]
        .map(String::from)
        .to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "Plasma stand-in".into(),
            "SmartHunt tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.next_id += 1;
            self.next_id
        };
        let caller = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.shown.lock().unwrap().push(Shown {
            id,
            caller,
            summary,
            actions,
        });
        id
    }

    fn close_notification(&self, _id: u32) {}
}

pub struct InlineReplyDaemon {
    runtime: tokio::runtime::Runtime,
    conn: zbus::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl InlineReplyDaemon {
    /// Starts on the session's bus, owning the notification service name.
    pub fn start(bus_address: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let served = Served {
            next_id: 0,
            shown: shown.clone(),
        };
        let conn = runtime
            .block_on(
                zbus::connection::Builder::address(bus_address)
                    .name(NAME)
                    .serve_at(PATH, served)
                    .build(),
            )
            .expect("the stand-in daemon owns org.freedesktop.Notifications");
        Self {
            runtime,
            conn,
            shown,
        }
    }

    /// Every `Notify` so far, oldest first.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }

    /// The user types `text` into the popup's reply field and sends it.
    pub fn reply(&self, popup: &Shown, text: &str) {
        self.runtime.block_on(async {
            let to = Some(popup.caller.as_str());
            self.conn
                .emit_signal(to, PATH, NAME, "NotificationReplied", &(popup.id, text))
                .await
                .expect("NotificationReplied is sent");
            self.conn
                .emit_signal(to, PATH, NAME, "NotificationClosed", &(popup.id, 2u32))
                .await
                .expect("NotificationClosed is sent");
        });
    }
}

/// Another client of the session bus, not the daemon, sending the same
/// signal to the app: what a spoofing process of the session would do.
pub fn spoof_reply(bus_address: &str, popup: &Shown, text: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = zbus::connection::Builder::address(bus_address)
            .build()
            .await
            .expect("a second bus client connects");
        conn.emit_signal(
            Some(popup.caller.as_str()),
            PATH,
            NAME,
            "NotificationReplied",
            &(popup.id, text),
        )
        .await
        .expect("the spoofed signal is sent");
    });
}
