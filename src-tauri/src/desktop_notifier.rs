//! Native popups through notify-rust on one dedicated thread, so the engine
//! never waits for the notification daemon. Server text is escaped where the
//! daemon renders body markup; summaries and account notices replace their
//! previous popup instead of stacking. With no daemon it says so once and
//! carries on.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

use notify_rust::{Hint, Notification, Urgency as NotifyUrgency};
use smarthunt_core::policy::Urgency;
use smarthunt_core::ports::{Notifier, Popup, PopupKey};

/// Popups waiting for the daemon; past this they are dropped (the
/// notification itself is stored and counted, only its popup is lost).
const QUEUE: usize = 512;

pub struct DesktopNotifier {
    tx: SyncSender<Popup>,
}

impl DesktopNotifier {
    /// Starts the popup thread. `with_actions`: offer the popup's actions
    /// (only when something listens for them).
    pub fn start(with_actions: bool) -> Self {
        let (tx, rx) = sync_channel::<Popup>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("popups".into())
            .spawn(move || {
                let mut shower = Shower::new(with_actions);
                while let Ok(popup) = rx.recv() {
                    shower.show(popup);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the popup thread; popups are off");
        }
        Self { tx }
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, popup: Popup) {
        match self.tx.try_send(popup) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("the notification daemon is not keeping up; a popup was dropped")
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

struct Shower {
    with_actions: bool,
    /// Known after the first successful contact with the daemon.
    escape_markup: Option<bool>,
    daemon_missing_reported: bool,
    /// Daemon ids of replaceable popups (summaries, digest, account).
    replaceable: HashMap<PopupKey, u32>,
}

impl Shower {
    fn new(with_actions: bool) -> Self {
        Self {
            with_actions,
            escape_markup: None,
            daemon_missing_reported: false,
            replaceable: HashMap::new(),
        }
    }

    fn show(&mut self, popup: Popup) {
        if self.escape_markup.is_none() {
            match notify_rust::get_capabilities() {
                Ok(caps) => self.escape_markup = Some(caps.iter().any(|c| c == "body-markup")),
                Err(e) => return self.daemon_missing(&e.to_string()),
            }
        }
        let escape = self.escape_markup.unwrap_or(true);
        let text = |s: &str| {
            if escape {
                escape_markup(s)
            } else {
                s.to_owned()
            }
        };
        let mut n = Notification::new();
        n.appname("SmartHunt")
            .summary(&popup.title)
            .body(&text(&popup.body))
            .icon(popup.style.icon)
            .hint(Hint::Category(popup.style.category.to_owned()))
            .urgency(match popup.style.urgency {
                Urgency::Low => NotifyUrgency::Low,
                Urgency::Normal => NotifyUrgency::Normal,
                Urgency::Critical => NotifyUrgency::Critical,
            });
        if self.with_actions {
            for a in &popup.actions {
                n.action(a.id(), a.label());
            }
        }
        let replaceable = !matches!(popup.key, PopupKey::Notification(_));
        if let Some(id) = replaceable
            .then(|| self.replaceable.get(&popup.key))
            .flatten()
        {
            n.id(*id);
        }
        match n.show() {
            Ok(handle) => {
                self.daemon_missing_reported = false;
                if replaceable {
                    self.replaceable.insert(popup.key, handle.id());
                }
            }
            Err(e) => {
                self.escape_markup = None;
                self.daemon_missing(&e.to_string());
            }
        }
    }

    fn daemon_missing(&mut self, error: &str) {
        if !self.daemon_missing_reported {
            self.daemon_missing_reported = true;
            tracing::warn!(%error, "no notification service answers; popups are off until one does (notifications are still stored and counted)");
        }
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
    #[test]
    fn escapes_markup_and_links() {
        assert_eq!(
            super::escape_markup(r#"<a href="x">hi</a> & <b>"#),
            "&lt;a href=&quot;x&quot;&gt;hi&lt;/a&gt; &amp; &lt;b&gt;"
        );
    }
}
