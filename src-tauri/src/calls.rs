//! The window's side of the boundary, typed: every call the page may make
//! ([`Call`], with its arguments), every event it gets ([`UiEvent`]) and
//! every error code it branches on ([`ErrorCode`]). The tray dispatches on
//! `Call` with an exhaustive match. The command list in `commands.list`
//! (read by `build.rs`, so that `capabilities/main.json` really restricts
//! the page), `ui/app/contract.js` (the page's names, checked by its type
//! check) and `ui/app/types.d.ts` (the shapes the page sends and gets) are
//! written from these types by
//! `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`,
//! which fails while they disagree.

use serde::{Deserialize, Serialize};
use smarthunt_core::engine::{AccountInfo, EngineEvent, EngineStatus};
use smarthunt_core::policy::{self, PauseFor, PolicyChange, PolicySettings};
use smarthunt_core::protocol::{NotificationContext, NotificationKind};
use smarthunt_core::store::StoredNotification;

/// A command from the page, as Tauri hands it on: `{"cmd": ..., "args":
/// {...}}`, argument keys in camelCase. Its `Debug` shows the command's
/// name only: a sign-in carries a password.
#[derive(
    Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::IntoStaticStr, ts_rs::TS,
)]
#[serde(tag = "cmd", content = "args", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Call {
    /// The connection state, unread count and account.
    GetStatus {},
    /// A page of the local notification list, newest first.
    ListNotifications(ListArgs),
    /// Marks a notification read and returns it with its context.
    OpenNotification(Item),
    MarkRead(Item),
    MarkAllRead {},
    /// Approves or declines the booking a notification is about; answers
    /// with the booking's id.
    DecideBooking(Decide),
    /// Conversations, most recent first.
    ListConversations {},
    /// One conversation's messages, newest first; reading it marks it read.
    GetThread(ThreadArgs),
    /// Queues a message (sent now, or as soon as the server is reachable).
    SendMessage(SendArgs),
    GetSettings {},
    /// Changes the popup settings it names; answers with all of them.
    SetPolicy {
        change: PolicyChange,
    },
    SetAutostart {
        enabled: bool,
    },
    /// Holds popups back, or resumes; answers with the pause's end.
    Pause {
        pause: PauseFor,
    },
    /// Offline: try to connect now rather than at the next retry.
    RetryNow {},
    SignIn(SignInArgs),
    SignOut {},
    /// The window has loaded: reconcile with the server, and say what to
    /// show.
    WindowOpened {},
    /// The first page of the notification list is on the screen (painted),
    /// with this many rows. Logged, nothing more: the benchmarks time a
    /// window's open by that line.
    FirstPageShown {
        rows: u32,
    },
}

impl Call {
    /// Reads a call whose `args` may be missing or `null` (a command that
    /// takes none), as `{}`.
    pub fn from_wire(
        mut call: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Result<Self> {
        match call.get("args") {
            None | Some(serde_json::Value::Null) => {
                call.insert("args".into(), serde_json::json!({}));
            }
            Some(_) => {}
        }
        serde_json::from_value(serde_json::Value::Object(call))
    }

    /// The command's name, as the page calls it.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Every command's name, as `build.rs` and the capability list them.
    pub fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Call").field(&self.name()).finish()
    }
}

/// What the window should show when it opens.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct OpenItem {
    #[ts(type = "'notifications' | 'chat' | 'settings'")]
    pub view: &'static str,
    pub local_id: Option<i64>,
    pub other_id: Option<i64>,
    /// A conversation opens with its composer focused (Reply).
    pub compose: bool,
}

impl OpenItem {
    pub fn view(view: &'static str) -> Self {
        Self {
            view,
            local_id: None,
            other_id: None,
            compose: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub local_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Decide {
    pub local_id: i64,
    pub approve: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ListArgs {
    pub kind: Option<String>,
    #[serde(default)]
    pub unread_only: bool,
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ThreadArgs {
    pub other_id: i64,
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SendArgs {
    pub receiver: i64,
    pub content: String,
}

/// The sign-in form's fields, as the window sends them.
#[derive(Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct SignInArgs {
    pub server: String,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub stay_signed_in: bool,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// What the tray tells the page, by the name the page listens for.
#[derive(Debug, Clone, PartialEq, Serialize, strum::VariantNames)]
#[serde(tag = "name", content = "payload", rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum UiEvent {
    Status(EngineStatus),
    EngineEvent(EngineEvent),
    /// Show this item (a popup was clicked, or a reply asked for).
    OpenItem(OpenItem),
}

impl UiEvent {
    /// Every event's name.
    pub fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }
}

/// What kind of failure a call met, for the page to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::VariantNames)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    NotSignedIn,
    SignedOut,
    InvalidCredentials,
    Unreachable,
    Keychain,
    BadInput,
    Server,
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }
}

/// A stored notification as the window gets it: what it is about typed
/// (the core reads its `data`, the window never does), and whether the
/// signed-in user can approve or decline it here (the core's one rule,
/// which the popups follow too).
#[derive(Serialize, ts_rs::TS)]
#[ts(rename = "StoredNotification")]
pub struct Listed {
    local_id: i64,
    server_id: Option<i64>,
    title: String,
    body: String,
    kind: NotificationKind,
    context: NotificationContext,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    received_at_ms: i64,
    is_read: bool,
    popped: bool,
    can_decide: bool,
}

impl Listed {
    pub fn new(n: StoredNotification, viewer: &Option<AccountInfo>) -> Self {
        let viewer = viewer.as_ref().map(AccountInfo::viewer).unwrap_or_default();
        let context = n.context();
        let can_decide = policy::booking_to_decide(n.kind, &context, viewer).is_some();
        Self {
            local_id: n.local_id,
            server_id: n.server_id,
            title: n.title,
            body: n.body,
            kind: n.kind,
            context,
            created_at: n.created_at,
            received_at_ms: n.received_at_ms,
            is_read: n.is_read,
            popped: n.popped,
            can_decide,
        }
    }
}

/// The settings view's contents.
#[derive(Serialize, ts_rs::TS)]
pub struct Settings {
    pub policy: PolicySettings,
    pub autostart: bool,
    pub server: Option<String>,
    pub ca_file: Option<String>,
    pub allow_insecure_http: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_read_as_the_page_sends_them_and_say_only_their_name() {
        let call: Call = serde_json::from_value(json!({
            "cmd": "sign_in",
            "args": {"server": "https://s", "username": "u", "password": "hunter2"}
        }))
        .unwrap();
        assert_eq!(call.name(), "sign_in");
        assert!(!format!("{call:?}").contains("hunter2"));
        let call: Call = serde_json::from_value(json!({"cmd": "get_status", "args": {}})).unwrap();
        assert_eq!(call, Call::GetStatus {});
        for bare in [
            json!({"cmd": "get_status"}),
            json!({"cmd": "get_status", "args": null}),
        ] {
            let serde_json::Value::Object(bare) = bare else {
                unreachable!()
            };
            assert_eq!(
                Call::from_wire(bare).unwrap(),
                Call::GetStatus {},
                "no arguments"
            );
        }
        let call: Call =
            serde_json::from_value(json!({"cmd": "mark_read", "args": {"localId": 4}})).unwrap();
        assert_eq!(call, Call::MarkRead(Item { local_id: 4 }));
        let unknown = serde_json::from_value::<Call>(json!({"cmd": "rm_rf", "args": {}}));
        assert!(unknown.unwrap_err().to_string().contains("unknown variant"));
    }

    #[test]
    fn every_name_is_what_serde_reads() {
        for name in Call::names() {
            let read = serde_json::from_value::<Call>(json!({"cmd": name, "args": {}}));
            if let Err(e) = read {
                assert!(
                    !e.to_string().contains("unknown variant"),
                    "{name} is not a command serde knows: {e}"
                );
            }
        }
        let status = serde_json::to_value(UiEvent::EngineEvent(EngineEvent::ChatChanged)).unwrap();
        assert_eq!(status["name"], "engine-event");
        assert!(UiEvent::names().contains(&"engine-event"));
        assert_eq!(
            serde_json::to_value(ErrorCode::InvalidCredentials).unwrap(),
            "invalid_credentials"
        );
        assert!(ErrorCode::names().contains(&"invalid_credentials"));
    }
}
