//! The small traits through which the core reaches the desktop: OS popups
//! (and, in [`crate::secret`], the keychain). The shell implements them with
//! real services; tests implement them with recorders. No I/O here.

use crate::policy::Style;
use crate::protocol::NotificationKind;

/// Which popup a [`Popup`] is; a popup with the same key replaces the one
/// before it instead of stacking (summaries, account notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopupKey {
    /// One stored notification, by its local id.
    Notification(i64),
    /// The rolling summary of one kind ("5 new booking requests").
    Summary(NotificationKind),
    /// The summary of a catch-up, the first sign-in or held popups.
    Digest,
    /// Something the user must act on: signed out, keychain locked.
    Account,
    /// A live notification the store could not keep (disk full): shown
    /// all the same, numbered in arrival order; it opens the window.
    Unsaved(u64),
}

/// What the user can do from a popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopupAction {
    Open,
    MarkRead,
    Approve,
    Decline,
    /// Answer a message: inline where the daemon can, else in the window.
    Reply,
}

impl PopupAction {
    /// The action key sent to the notification server.
    pub fn id(self) -> &'static str {
        match self {
            Self::Open => "default",
            Self::MarkRead => "mark-read",
            Self::Approve => "approve",
            Self::Decline => "decline",
            Self::Reply => "reply",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::MarkRead => "Mark read",
            Self::Approve => "Approve",
            Self::Decline => "Decline",
            Self::Reply => "Reply",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [
            Self::Open,
            Self::MarkRead,
            Self::Approve,
            Self::Decline,
            Self::Reply,
        ]
        .into_iter()
        .find(|a| a.id() == id)
    }
}

/// A popup to raise. Title and body are plain text straight from the server:
/// the notifier escapes them for its platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Popup {
    pub key: PopupKey,
    pub title: String,
    pub body: String,
    pub style: Style,
    pub actions: Vec<PopupAction>,
    /// The booking an Approve/Decline acts on, when known.
    pub booking_id: Option<i64>,
    /// The user a Reply goes to.
    pub reply_to: Option<i64>,
}

impl Popup {
    /// A popup that only opens the window: summaries, digests, notices.
    /// Built by the presenter only (`crate::presenter`).
    pub(crate) fn notice(
        key: PopupKey,
        title: String,
        body: String,
        kind: NotificationKind,
    ) -> Self {
        Self {
            key,
            title,
            body,
            style: crate::policy::style(kind),
            actions: vec![PopupAction::Open],
            booking_id: None,
            reply_to: None,
        }
    }

    /// One notification's own popup: Open and Mark read, Approve and
    /// Decline where there is a booking to decide, Reply where there is a
    /// sender to answer. Built by the presenter only.
    pub(crate) fn notification(
        local_id: i64,
        kind: NotificationKind,
        title: String,
        body: String,
        booking_id: Option<i64>,
        reply_to: Option<i64>,
    ) -> Self {
        let mut actions = vec![PopupAction::Open];
        if reply_to.is_some() {
            actions.push(PopupAction::Reply);
        }
        actions.push(PopupAction::MarkRead);
        if booking_id.is_some() {
            actions.extend([PopupAction::Approve, PopupAction::Decline]);
        }
        Self {
            key: PopupKey::Notification(local_id),
            title,
            body,
            style: crate::policy::style(kind),
            actions,
            booking_id,
            reply_to,
        }
    }
}

/// The OS notification service. Every call must return quickly (queue,
/// don't wait for the daemon); failures are the notifier's to log, once.
pub trait Notifier: Send + Sync + 'static {
    /// Raises `popup`, replacing the one with the same key if there is one.
    fn show(&self, popup: Popup);

    /// Takes the popup with `key` off the screen, if it is still there.
    fn withdraw(&self, _key: PopupKey) {}

    /// The popups still on screen, as far as the notifier knows (bounded:
    /// the last few hundred it raised).
    fn on_screen(&self) -> Vec<PopupKey> {
        Vec::new()
    }
}

/// A notifier that shows nothing (no notification service at all).
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn show(&self, _popup: Popup) {}
}

/// A notifier that remembers every popup, and keeps them "on screen" until
/// withdrawn, for tests and benchmarks.
#[derive(Default)]
pub struct RecordingNotifier {
    state: std::sync::Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    popups: Vec<Popup>,
    on_screen: Vec<PopupKey>,
    withdrawn: Vec<PopupKey>,
}

impl RecordingNotifier {
    pub fn popups(&self) -> Vec<Popup> {
        self.lock().popups.clone()
    }

    /// Every key withdrawn, in order.
    pub fn withdrawn(&self) -> Vec<PopupKey> {
        self.lock().withdrawn.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // A poisoned record is still a valid record.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Notifier for RecordingNotifier {
    fn show(&self, popup: Popup) {
        let mut r = self.lock();
        if !r.on_screen.contains(&popup.key) {
            r.on_screen.push(popup.key);
        }
        r.popups.push(popup);
    }

    fn withdraw(&self, key: PopupKey) {
        let mut r = self.lock();
        if let Some(i) = r.on_screen.iter().position(|k| *k == key) {
            r.on_screen.remove(i);
            r.withdrawn.push(key);
        }
    }

    fn on_screen(&self) -> Vec<PopupKey> {
        self.lock().on_screen.clone()
    }
}
