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
}

/// What the user can do from a popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopupAction {
    Open,
    MarkRead,
    Approve,
    Decline,
}

impl PopupAction {
    /// The action key sent to the notification server.
    pub fn id(self) -> &'static str {
        match self {
            Self::Open => "default",
            Self::MarkRead => "mark-read",
            Self::Approve => "approve",
            Self::Decline => "decline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::MarkRead => "Mark read",
            Self::Approve => "Approve",
            Self::Decline => "Decline",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [Self::Open, Self::MarkRead, Self::Approve, Self::Decline]
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
}

/// The OS notification service. `show` must return quickly (queue, don't
/// wait for the daemon); failures are the notifier's to log, once.
pub trait Notifier: Send + Sync + 'static {
    fn show(&self, popup: Popup);
}

/// A notifier that shows nothing (no notification service at all).
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn show(&self, _popup: Popup) {}
}

/// A notifier that remembers every popup, for tests and benchmarks.
#[derive(Default)]
pub struct RecordingNotifier {
    popups: std::sync::Mutex<Vec<Popup>>,
}

impl RecordingNotifier {
    pub fn popups(&self) -> Vec<Popup> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Popup>> {
        // A poisoned list is still a valid list.
        self.popups.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Notifier for RecordingNotifier {
    fn show(&self, popup: Popup) {
        self.lock().push(popup);
    }
}
