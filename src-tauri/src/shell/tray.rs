//! The tray: the icon with the unread count drawn on it and a look for the
//! connection's state, the label beside it, a tooltip where the platform has
//! one, and the menu. Dispatches menu ids to the engine; holds no state.

use chrono::{Duration as ChronoDuration, Local, NaiveTime};
use smarthunt_core::badge::{self, TrayLook};
use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::EngineStatus;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

use super::{window, AppState};

pub const TRAY: &str = "main";
/// Icons are drawn at this size; panels scale them down.
const ICON_SIZE: u32 = 64;

/// The menu item that shows the connection state (disabled, text only).
pub struct StateItem(pub MenuItem<Wry>);

/// The look the tray should have for a status at `now_ms`.
pub fn look_of(status: &EngineStatus, now_ms: i64) -> TrayLook {
    match status.connection {
        ConnectionState::SignedOut { .. }
        | ConnectionState::NotSignedIn
        | ConnectionState::KeychainUnavailable { .. } => TrayLook::SignedOut,
        _ if status.paused_until_ms.is_some_and(|t| t > now_ms) => TrayLook::Paused,
        ConnectionState::Connected { .. } => TrayLook::Connected,
        _ => TrayLook::Offline,
    }
}

fn state_text(status: &EngineStatus, look: TrayLook) -> String {
    let state = status.connection.describe();
    let state = if look == TrayLook::Paused {
        format!("{state}, notifications paused")
    } else {
        state
    };
    let mut chars = state.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => state,
    }
}

fn icon(look: TrayLook, unread: u64) -> Image<'static> {
    let img = badge::render(ICON_SIZE, look, unread);
    Image::new_owned(img.pixels, img.width, img.height)
}

/// Builds the tray with its menu. appindicator registers the item only
/// once it has a menu, so the menu comes first.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let state = MenuItem::with_id(app, "state", "Starting…", false, None::<&str>)?;
    let pause = Submenu::with_id_and_items(
        app,
        "pause",
        "Pause notifications",
        true,
        &[
            &MenuItem::with_id(app, "pause-1h", "For 1 hour", true, None::<&str>)?,
            &MenuItem::with_id(app, "pause-tomorrow", "Until tomorrow", true, None::<&str>)?,
            &MenuItem::with_id(app, "pause-resume", "Resume", true, None::<&str>)?,
        ],
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, "open", "Open", true, None::<&str>)?,
            &MenuItem::with_id(app, "mark-all-read", "Mark all read", true, None::<&str>)?,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &state,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "sign-out", "Sign out", true, None::<&str>)?,
            &MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?,
        ],
    )?;
    app.manage(StateItem(state));
    TrayIconBuilder::with_id(TRAY)
        .icon(icon(TrayLook::Offline, 0))
        .tooltip("SmartHunt")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .on_tray_icon_event(|tray, event| {
            // Platforms that deliver clicks open the window on a left click.
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                window::show(tray.app_handle(), None);
            }
        })
        .build(app)?;
    Ok(())
}

/// Redraws what changed since `last`.
pub fn update(
    app: &AppHandle,
    status: &EngineStatus,
    last: &mut Option<(TrayLook, String, String)>,
) {
    let look = look_of(status, chrono::Utc::now().timestamp_millis());
    let label = badge::tray_label(status.unread);
    let text = state_text(status, look);
    let now = (look, badge::badge_text(status.unread), text.clone());
    if last.as_ref() == Some(&now) {
        return;
    }
    let Some(tray) = app.tray_by_id(TRAY) else {
        return;
    };
    if last
        .as_ref()
        .is_none_or(|(l, b, _)| (*l, b) != (look, &now.1))
    {
        let _ = tray.set_icon(Some(icon(look, status.unread)));
        let _ = tray.set_title(Some(label.as_str()));
    }
    let _ = tray.set_tooltip(Some(badge::tooltip(
        status.unread,
        &status.connection.describe(),
    )));
    if let Some(item) = app.try_state::<StateItem>() {
        let _ = item.0.set_text(&text);
    }
    *last = Some(now);
}

/// Minutes from now until 08:00 tomorrow, local time.
pub fn minutes_until_tomorrow_morning() -> u32 {
    let now = Local::now();
    let morning = (now.date_naive() + ChronoDuration::days(1))
        .and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default());
    let minutes = (morning - now.naive_local()).num_minutes();
    u32::try_from(minutes.max(1)).unwrap_or(u32::MAX)
}

fn on_menu(app: &AppHandle, id: &str) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let engine = state.engine.clone();
    let app2 = app.clone();
    match id {
        "open" => window::show(app, None),
        "mark-all-read" => {
            spawn_logged("mark all read", async move { engine.mark_all_read().await })
        }
        "pause-1h" => spawn_logged("pause", async move { engine.pause(Some(60)).await }),
        "pause-tomorrow" => spawn_logged("pause", async move {
            engine.pause(Some(minutes_until_tomorrow_morning())).await
        }),
        "pause-resume" => spawn_logged("resume", async move { engine.pause(None).await }),
        "sign-out" => {
            let data_dir = state.data_dir.clone();
            let secrets = state.secrets.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = smarthunt_core::account::logout(&data_dir, secrets).await {
                    tracing::error!(error = %e, "sign-out failed");
                }
                let _ = engine.reload().await;
            });
        }
        "quit" => {
            tauri::async_runtime::spawn(async move {
                engine.shutdown().await;
                app2.exit(0);
            });
        }
        _ => {}
    }
}

fn spawn_logged<E: std::fmt::Display>(
    what: &'static str,
    fut: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = fut.await {
            tracing::warn!(error = %e, "{what} failed");
        }
    });
}

/// Whether a StatusNotifierItem host is there to show the tray (stock
/// GNOME without an AppIndicator extension has none).
pub async fn host_available() -> bool {
    async fn check() -> zbus::Result<bool> {
        let conn = zbus::Connection::session().await?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
        let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
        if !dbus.name_has_owner(name).await? {
            return Ok(false);
        }
        let watcher = zbus::Proxy::new(
            &conn,
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
        )
        .await?;
        watcher
            .get_property::<bool>("IsStatusNotifierHostRegistered")
            .await
    }
    match check().await {
        Ok(found) => found,
        Err(e) => {
            tracing::info!(error = %e, "cannot ask for a tray host");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(connection: ConnectionState, paused: Option<i64>) -> EngineStatus {
        EngineStatus {
            connection,
            unread: 0,
            account: None,
            outbox_pending: 0,
            paused_until_ms: paused,
        }
    }

    #[test]
    fn look_follows_state_and_pause() {
        let connected = ConnectionState::Connected {
            variant: smarthunt_core::connection::ServerVariant::Documented,
        };
        assert_eq!(
            look_of(&status(connected.clone(), None), 0),
            TrayLook::Connected
        );
        assert_eq!(
            look_of(&status(connected.clone(), Some(10)), 5),
            TrayLook::Paused
        );
        assert_eq!(
            look_of(&status(connected, Some(10)), 50),
            TrayLook::Connected
        );
        assert_eq!(
            look_of(
                &status(ConnectionState::SignedOut { reason: "x".into() }, None),
                0
            ),
            TrayLook::SignedOut
        );
        assert_eq!(
            look_of(&status(ConnectionState::Connecting, None), 0),
            TrayLook::Offline
        );
    }
}
