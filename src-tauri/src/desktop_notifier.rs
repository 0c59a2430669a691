//! Native popups through notify-rust on one dedicated thread, so the engine
//! never waits for the notification daemon. Server text is escaped where the
//! daemon renders body markup; summaries and account notices replace their
//! previous popup instead of stacking. With no daemon it says so once and
//! carries on.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use notify_rust::{Hint, Notification, Urgency as NotifyUrgency};
use smarthunt_core::policy::Urgency;
use smarthunt_core::ports::{Notifier, Popup, PopupKey};

/// Popups waiting for the daemon; past this they are dropped (the
/// notification itself is stored and counted, only its popup is lost).
const QUEUE: usize = 512;

pub struct DesktopNotifier {
    tx: SyncSender<Popup>,
}

/// What a shown popup is about, for the action listener.
#[derive(Debug, Clone, PartialEq)]
pub struct PopupTarget {
    pub key: PopupKey,
    pub booking_id: Option<i64>,
}

/// The daemon ids of recent popups and what they are about. Bounded: an
/// action on a popup older than the last few hundred is ignored.
#[derive(Clone, Default)]
pub struct PopupTargets(Arc<Mutex<VecDeque<(u32, PopupTarget)>>>);

const TARGETS_KEPT: usize = 256;

impl PopupTargets {
    fn remember(&self, id: u32, target: PopupTarget) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|(i, _)| *i != id);
        if t.len() == TARGETS_KEPT {
            t.pop_front();
        }
        t.push_back((id, target));
    }

    pub fn get(&self, id: u32) -> Option<PopupTarget> {
        let t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().find(|(i, _)| *i == id).map(|(_, p)| p.clone())
    }
}

impl DesktopNotifier {
    /// Starts the popup thread. With `targets`, popups offer their actions
    /// and are remembered for the one listener that handles them.
    pub fn start(targets: Option<PopupTargets>) -> Self {
        let (tx, rx) = sync_channel::<Popup>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("popups".into())
            .spawn(move || {
                let mut shower = Shower::new(targets);
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
    targets: Option<PopupTargets>,
    /// Known after the first successful contact with the daemon.
    escape_markup: Option<bool>,
    daemon_missing_reported: bool,
    /// Daemon ids of replaceable popups (summaries, digest, account).
    replaceable: HashMap<PopupKey, u32>,
}

impl Shower {
    fn new(targets: Option<PopupTargets>) -> Self {
        Self {
            targets,
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
        if self.targets.is_some() {
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
                if let Some(targets) = &self.targets {
                    targets.remember(
                        handle.id(),
                        PopupTarget {
                            key: popup.key,
                            booking_id: popup.booking_id,
                        },
                    );
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
