//! One listener for the notification daemon's `ActionInvoked` signal serves
//! every popup: no thread waits per popup. It maps the daemon's id back to
//! what the popup was about and sends the matching intent to the engine.
//!
//! Signals are accepted from any sender on the session bus (tests emit them
//! with gdbus); only ids of popups this process raised act, and the session
//! bus is the user's own.

use futures_util::StreamExt;
use std::sync::Arc;

use smarthunt_core::ports::{Notifier, Popup, PopupAction, PopupKey};

use super::window::OpenItem;
use super::App;
use crate::desktop_notifier::{PopupTarget, PopupTargets};

/// Listens for as long as the app runs.
pub fn listen(app: Arc<App>, targets: PopupTargets, notifier: Arc<dyn Notifier>) {
    tokio::spawn(async move {
        if let Err(e) = run(&app, &targets, notifier.as_ref()).await {
            tracing::warn!(error = %e, "popup actions are unavailable");
        }
    });
}

async fn run(app: &App, targets: &PopupTargets, notifier: &dyn Notifier) -> zbus::Result<()> {
    let conn = zbus::Connection::session().await?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.Notifications")
        .member("ActionInvoked")
        .build()?;
    let mut stream = zbus::MessageStream::for_match_rule(rule, &conn, None).await?;
    tracing::info!("listening for popup actions");
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let body = msg.body();
        let parsed: zbus::Result<(u32, String)> = body.deserialize();
        let Ok((id, key)) = parsed else {
            tracing::debug!("an ActionInvoked signal that is not (uint32, string)");
            continue;
        };
        let Some(target) = targets.get(id) else {
            tracing::debug!(id, "an action on a popup that is not ours");
            continue;
        };
        let Some(action) = PopupAction::from_id(&key) else {
            continue;
        };
        tracing::info!(id, action = action.id(), "popup action");
        act(app, notifier, target, action).await;
    }
    Ok(())
}

async fn act(app: &App, notifier: &dyn Notifier, target: PopupTarget, action: PopupAction) {
    let engine = &app.engine;
    match (action, target.key) {
        (PopupAction::Open, PopupKey::Notification(local_id)) => app.window.show(Some(OpenItem {
            view: "notifications",
            local_id: Some(local_id),
            other_id: None,
        })),
        (PopupAction::Open, PopupKey::Account) => app.window.show(Some(OpenItem::view("settings"))),
        (PopupAction::Open, _) => app.window.show(Some(OpenItem::view("notifications"))),
        (PopupAction::MarkRead, PopupKey::Notification(local_id)) => {
            if let Err(e) = engine.mark_read(local_id).await {
                tracing::warn!(error = %e, "mark read from a popup failed");
            }
        }
        (PopupAction::Approve | PopupAction::Decline, PopupKey::Notification(local_id)) => {
            let approve = action == PopupAction::Approve;
            let (title, body) = match engine.decide_booking(local_id, approve).await {
                Ok(_) if approve => (
                    "Booking approved".to_owned(),
                    "The tenant will be told.".to_owned(),
                ),
                Ok(_) => (
                    "Booking declined".to_owned(),
                    "The tenant will be told.".to_owned(),
                ),
                Err(e) => (
                    format!(
                        "Could not {} the booking",
                        if approve { "approve" } else { "decline" }
                    ),
                    e.to_string(),
                ),
            };
            // Replaces the request's popup with the outcome.
            notifier.show(Popup {
                key: PopupKey::Notification(local_id),
                title,
                body,
                style: smarthunt_core::policy::style(
                    smarthunt_core::protocol::NotificationKind::Booking,
                ),
                actions: vec![PopupAction::Open],
                booking_id: None,
            });
        }
        _ => {}
    }
}
