//! What the user chose in a popup, as the notification daemon reported it
//! (see `desktop_notifier`), turned into engine intents: one task for
//! every popup, no thread waits per popup.

use std::sync::Arc;

use smarthunt_core::ports::{Notifier, PopupAction, PopupKey};
use smarthunt_core::presenter::Presenter;
use tokio::sync::mpsc;

use super::App;
use crate::calls::OpenItem;
use crate::desktop_notifier::UserAction;

/// Acts on popup actions for as long as the app runs.
pub fn serve(app: Arc<App>, mut actions: mpsc::Receiver<UserAction>, notifier: Arc<dyn Notifier>) {
    tokio::spawn(async move {
        while let Some(action) = actions.recv().await {
            // Each on its own: a slow server call for one never holds
            // back the next click.
            let (app, notifier) = (app.clone(), notifier.clone());
            tokio::spawn(async move { act(&app, notifier.as_ref(), action).await });
        }
    });
}

async fn act(app: &App, notifier: &dyn Notifier, a: UserAction) {
    let engine = &app.engine;
    match (a.action, a.popup.key) {
        (PopupAction::Open, PopupKey::Notification(local_id)) => app.window.show(Some(OpenItem {
            local_id: Some(local_id),
            ..OpenItem::view("notifications")
        })),
        (PopupAction::Open, PopupKey::Account) => app.window.show(Some(OpenItem::view("settings"))),
        (PopupAction::Open, _) => app.window.show(Some(OpenItem::view("notifications"))),
        (PopupAction::MarkRead, PopupKey::Notification(local_id)) => {
            if let Err(e) = engine.mark_read(local_id).await {
                tracing::warn!(error = %e, "mark read from a popup failed");
            }
        }
        (PopupAction::Reply, PopupKey::Notification(local_id)) => {
            let Some(to) = a.popup.reply_to else { return };
            match a.reply.map(|t| t.trim().to_owned()) {
                // Typed into the popup: sent like any chat message (once,
                // through the outbox), and the message counts as read.
                Some(text) if !text.is_empty() => {
                    if let Err(e) = engine.send_chat(to, text).await {
                        tracing::warn!(error = %e, "a reply from a popup could not be queued");
                    }
                    let _ = engine.mark_read(local_id).await;
                }
                Some(_) => {}
                None => app.window.show(Some(OpenItem {
                    other_id: Some(to),
                    compose: true,
                    ..OpenItem::view("chat")
                })),
            }
        }
        (PopupAction::Approve | PopupAction::Decline, PopupKey::Notification(local_id)) => {
            let approve = a.action == PopupAction::Approve;
            let outcome = engine.decide_booking(local_id, approve).await;
            // The outcome replaces the request's popup (same key); a
            // failure keeps the request actionable.
            let outcome = outcome.map(drop).map_err(|e| e.to_string());
            let popup = Presenter::booking_outcome(local_id, approve, outcome, a.popup.booking_id);
            notifier.show(popup);
        }
        _ => {}
    }
}
