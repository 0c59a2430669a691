//! The window's commands: each a documented one-liner onto the core. The
//! capability file grants them to the main window only (see build.rs).

use serde::Serialize;
use smarthunt_core::account::{self, LoginRequest};
use smarthunt_core::config::AppConfig;
use smarthunt_core::engine::EngineStatus;
use smarthunt_core::policy::PolicySettings;
use smarthunt_core::protocol::NotificationKind;
use smarthunt_core::secret::Sensitive;
use smarthunt_core::store::{Conversation, ListQuery, StoredChatMessage, StoredNotification};
use smarthunt_core::transport::TransportOptions;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use super::error::IpcError;
use super::window::OpenItem;
use super::AppState;

type Result<T> = std::result::Result<T, IpcError>;

/// Most rows one list call returns.
const MAX_PAGE: u32 = 200;

/// The connection state, unread count and account.
#[tauri::command]
pub fn get_status(state: State<'_, AppState>) -> EngineStatus {
    state.engine.status().borrow().clone()
}

/// A page of the local notification list, newest first.
#[tauri::command]
pub async fn list_notifications(
    state: State<'_, AppState>,
    kind: Option<String>,
    unread_only: bool,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<StoredNotification>> {
    let q = ListQuery {
        kind: kind.as_deref().map(NotificationKind::from_wire),
        unread_only,
        before,
        limit: limit.clamp(1, MAX_PAGE),
    };
    Ok(state
        .engine
        .query(move |s| s.list_notifications(&q))
        .await?)
}

/// Marks a notification read and returns it with its context.
#[tauri::command]
pub async fn open_notification(
    state: State<'_, AppState>,
    local_id: i64,
) -> Result<StoredNotification> {
    Ok(state.engine.open_notification(local_id).await?)
}

#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, local_id: i64) -> Result<()> {
    Ok(state.engine.mark_read(local_id).await?)
}

#[tauri::command]
pub async fn mark_all_read(state: State<'_, AppState>) -> Result<()> {
    Ok(state.engine.mark_all_read().await?)
}

/// Approves or declines the booking a notification is about; returns its id.
#[tauri::command]
pub async fn decide_booking(
    state: State<'_, AppState>,
    local_id: i64,
    approve: bool,
) -> Result<i64> {
    Ok(state.engine.decide_booking(local_id, approve).await?)
}

fn me(state: &AppState) -> Result<i64> {
    state
        .engine
        .status()
        .borrow()
        .account
        .as_ref()
        .and_then(|a| a.user_id)
        .ok_or_else(|| IpcError::new("not_signed_in", "Sign in to see your messages."))
}

/// Conversations, most recent first.
#[tauri::command]
pub async fn list_conversations(state: State<'_, AppState>) -> Result<Vec<Conversation>> {
    let me = me(&state)?;
    Ok(state.engine.query(move |s| s.conversations(me)).await?)
}

/// One conversation's messages, newest first; reading it marks it read.
#[tauri::command]
pub async fn get_thread(
    state: State<'_, AppState>,
    other_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<StoredChatMessage>> {
    let me = me(&state)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let thread = state
        .engine
        .query(move |s| s.thread(me, other_id, before, limit))
        .await?;
    if before.is_none() {
        state.engine.mark_conversation_read(other_id).await?;
    }
    Ok(thread)
}

/// Queues a message (sent now, or as soon as the server is reachable).
#[tauri::command]
pub async fn send_message(
    state: State<'_, AppState>,
    receiver: i64,
    content: String,
) -> Result<()> {
    let content = content.trim().to_owned();
    if content.is_empty() {
        return Err(IpcError::bad_input("A message cannot be empty."));
    }
    if content.chars().count() > 5000 {
        return Err(IpcError::bad_input(
            "A message can be at most 5,000 characters.",
        ));
    }
    Ok(state.engine.send_chat(receiver, content).await?)
}

#[derive(Serialize)]
pub struct Settings {
    policy: PolicySettings,
    autostart: bool,
    server: Option<String>,
    ca_file: Option<String>,
    allow_insecure_http: bool,
}

#[tauri::command]
pub async fn get_settings(app: AppHandle, state: State<'_, AppState>) -> Result<Settings> {
    let policy = state.engine.policy_settings().await.unwrap_or_default();
    let config =
        AppConfig::load(&state.data_dir).map_err(|e| IpcError::new("internal", e.to_string()))?;
    let current = config.current;
    Ok(Settings {
        policy,
        autostart: app.autolaunch().is_enabled().unwrap_or(false),
        server: current.as_ref().map(|a| a.server.clone()),
        ca_file: current
            .as_ref()
            .and_then(|a| a.transport.ca_file.as_ref())
            .map(|p| p.display().to_string()),
        allow_insecure_http: current.is_some_and(|a| a.transport.allow_insecure_http),
    })
}

#[tauri::command]
pub async fn set_policy(state: State<'_, AppState>, policy: PolicySettings) -> Result<()> {
    Ok(state.engine.set_settings(policy).await?)
}

#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<()> {
    let launcher = app.autolaunch();
    let r = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    r.map_err(|e| IpcError::new("internal", format!("cannot change start-with-session: {e}")))
}

/// Holds popups back for `minutes`; `None` resumes.
#[tauri::command]
pub async fn pause(state: State<'_, AppState>, minutes: Option<u32>) -> Result<()> {
    Ok(state.engine.pause(minutes).await?)
}

#[derive(Serialize)]
pub struct SignedIn {
    username: String,
    role: Option<String>,
}

/// Signs in (tokens to the keychain) and switches the engine to the account.
#[tauri::command]
#[allow(clippy::too_many_arguments)] // the form's fields, as the window sends them
pub async fn sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server: String,
    username: String,
    password: String,
    stay_signed_in: bool,
    ca_file: Option<String>,
    allow_insecure_http: bool,
) -> Result<SignedIn> {
    if username.trim().is_empty() || password.is_empty() {
        return Err(IpcError::bad_input("Enter your username and password."));
    }
    let req = LoginRequest {
        server,
        username: username.clone(),
        password: Sensitive::new(password),
        stay_signed_in,
        transport: TransportOptions {
            ca_file: ca_file.filter(|p| !p.trim().is_empty()).map(Into::into),
            allow_insecure_http,
        },
    };
    let profile = account::login(&state.data_dir, req, state.secrets.clone()).await?;
    super::autostart_on_first_sign_in(&app, &state.data_dir);
    state.engine.reload().await?;
    Ok(SignedIn {
        username: username.trim().to_owned(),
        role: profile.map(|p| p.role),
    })
}

/// Signs out: keychain entries and local data go.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<()> {
    account::logout(&state.data_dir, state.secrets.clone()).await?;
    Ok(state.engine.reload().await?)
}

/// The window has loaded: reconcile with the server, and say what to show.
#[tauri::command]
pub async fn window_opened(state: State<'_, AppState>) -> Result<Option<OpenItem>> {
    let _ = state.engine.refresh().await;
    Ok(state
        .pending_open
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take())
}
