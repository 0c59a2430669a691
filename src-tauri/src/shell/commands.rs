//! The window's commands ([`Call`], typed in `calls.rs`), each a one-liner
//! onto the core. They arrive over `ipc` from the window process.

use serde::Serialize;
use serde_json::Value;
use smarthunt_core::account::{self, LoginRequest};
use smarthunt_core::config::AppConfig;
use smarthunt_core::engine::AccountInfo;
use smarthunt_core::protocol::NotificationKind;
use smarthunt_core::secret::Sensitive;
use smarthunt_core::store::ListQuery;
use smarthunt_core::transport::TransportOptions;

use super::error::IpcError;
use super::{autostart, App};
use crate::calls::{Call, ErrorCode, ListArgs, Listed, SendArgs, Settings, SignInArgs, ThreadArgs};

type Result<T> = std::result::Result<T, IpcError>;

/// Most rows one list call returns.
const MAX_PAGE: u32 = 200;

/// Runs the page's call; its answer as JSON.
pub async fn dispatch(app: &App, call: Call) -> Result<Value> {
    let engine = &app.engine;
    match call {
        Call::GetStatus {} => reply(engine.status().borrow().clone()),
        Call::ListNotifications(a) => reply(list_notifications(app, a).await?),
        Call::OpenNotification(a) => {
            let n = engine.open_notification(a.local_id).await?;
            reply(Listed::new(n, &viewer_of(app)))
        }
        Call::MarkRead(a) => reply(engine.mark_read(a.local_id).await?),
        Call::MarkAllRead {} => reply(engine.mark_all_read().await?),
        Call::DecideBooking(a) => reply(engine.decide_booking(a.local_id, a.approve).await?),
        Call::ListConversations {} => {
            let me = me(app)?;
            reply(engine.query(move |s| s.conversations(me)).await?)
        }
        Call::GetThread(a) => reply(get_thread(app, a).await?),
        Call::SendMessage(a) => reply(send_message(app, a).await?),
        Call::GetSettings {} => reply(get_settings(app).await?),
        Call::SetPolicy { change } => reply(engine.change_settings(change).await?),
        Call::SetAutostart { enabled } => reply(
            blocking(move || autostart::set(enabled))
                .await?
                .map_err(|e| {
                    IpcError::new(
                        ErrorCode::Internal,
                        format!("cannot change start-with-session: {e}"),
                    )
                })?,
        ),
        Call::Pause { pause } => reply(engine.pause(pause).await?),
        Call::RetryNow {} => {
            tracing::info!("retry now: asked from the window");
            engine.nudge();
            reply(())
        }
        Call::SignIn(a) => reply(sign_in(app, a).await?),
        Call::SignOut {} => reply(app.sign_out().await?),
        Call::WindowOpened {} => {
            let _ = engine.refresh().await;
            reply(app.window.take_pending_open())
        }
        Call::FirstPageShown { rows } => {
            tracing::info!(rows, "window: first page painted");
            reply(())
        }
    }
}

/// Runs small file work (config, autostart entry) off the runtime's workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
}

fn reply(value: impl Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
}

async fn list_notifications(app: &App, a: ListArgs) -> Result<Value> {
    let q = ListQuery {
        kind: a.kind.as_deref().map(NotificationKind::from_wire),
        unread_only: a.unread_only,
        before: a.before,
        limit: a.limit.clamp(1, MAX_PAGE),
    };
    let rows = app.engine.query(move |s| s.list_notifications(&q)).await?;
    let viewer = viewer_of(app);
    reply(
        rows.into_iter()
            .map(|n| Listed::new(n, &viewer))
            .collect::<Vec<_>>(),
    )
}

fn viewer_of(app: &App) -> Option<AccountInfo> {
    app.engine.status().borrow().account.clone()
}

fn me(app: &App) -> Result<i64> {
    app.engine
        .status()
        .borrow()
        .account
        .as_ref()
        .and_then(|a| a.user_id)
        .ok_or_else(|| IpcError::new(ErrorCode::NotSignedIn, "Sign in to see your messages."))
}

async fn get_thread(app: &App, a: ThreadArgs) -> Result<Value> {
    let me = me(app)?;
    let (other_id, before, limit) = (a.other_id, a.before, a.limit.clamp(1, MAX_PAGE));
    let thread = app
        .engine
        .query(move |s| s.thread(me, other_id, before, limit))
        .await?;
    if before.is_none() {
        app.engine.mark_conversation_read(other_id).await?;
    }
    reply(thread)
}

async fn send_message(app: &App, a: SendArgs) -> Result<()> {
    let content = a.content.trim().to_owned();
    if content.is_empty() {
        return Err(IpcError::bad_input("A message cannot be empty."));
    }
    if content.chars().count() > 5000 {
        return Err(IpcError::bad_input(
            "A message can be at most 5,000 characters.",
        ));
    }
    Ok(app.engine.send_chat(a.receiver, content).await?)
}

async fn get_settings(app: &App) -> Result<Settings> {
    let policy = app.engine.policy_settings().await.unwrap_or_default();
    let data_dir = app.data_dir.clone();
    let (config, autostart) =
        blocking(move || (AppConfig::load(&data_dir), autostart::is_enabled())).await?;
    let current = config
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?
        .current;
    Ok(Settings {
        policy,
        autostart,
        server: current.as_ref().map(|a| a.server.clone()),
        ca_file: current
            .as_ref()
            .and_then(|a| a.transport.ca_file.as_ref())
            .map(|p| p.display().to_string()),
        allow_insecure_http: current.is_some_and(|a| a.transport.allow_insecure_http),
    })
}

#[derive(Serialize)]
struct SignedIn {
    username: String,
    role: Option<String>,
}

/// Signs in (tokens to the keychain) and switches the engine to the account.
async fn sign_in(app: &App, a: SignInArgs) -> Result<SignedIn> {
    if a.username.trim().is_empty() || a.password.is_empty() {
        return Err(IpcError::bad_input("Enter your username and password."));
    }
    let username = a.username.trim().to_owned();
    let req = LoginRequest {
        server: a.server,
        username: a.username,
        password: Sensitive::new(a.password),
        stay_signed_in: a.stay_signed_in,
        transport: TransportOptions {
            ca_file: a.ca_file.filter(|p| !p.trim().is_empty()).map(Into::into),
            allow_insecure_http: a.allow_insecure_http,
        },
    };
    let profile = account::login(&app.data_dir, req, app.secrets.clone()).await?;
    super::autostart_on_first_sign_in(&app.data_dir).await;
    app.engine.reload().await?;
    Ok(SignedIn {
        username,
        role: profile.map(|p| p.role),
    })
}
