//! The tray item: the icon with the unread count drawn on it and a look
//! for the connection's state, a tooltip, and the menu. A StatusNotifierItem
//! with its dbusmenu, served on the session bus by ksni: no GUI toolkit in
//! this process. Dispatches menu clicks to the engine; holds no state the
//! core could not rebuild.

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Local, NaiveTime};
use ksni::menu::{MenuItem, StandardItem, SubMenu};
use ksni::TrayMethods;
use smarthunt_core::badge::{self, TrayLook};
use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::EngineStatus;
use tokio::sync::mpsc;

use super::App;

/// Icons are drawn at this size; panels scale them down.
const ICON_SIZE: u32 = 64;

/// The look the tray should have for a status at `now_ms`.
pub fn look_of(status: &EngineStatus, now_ms: i64) -> TrayLook {
    match status.connection {
        ConnectionState::SignedOut { .. }
        | ConnectionState::NotSignedIn
        | ConnectionState::KeychainUnavailable { .. }
        | ConnectionState::ConfigUnreadable { .. } => TrayLook::SignedOut,
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

/// The badge icon as StatusNotifierItem wants it: ARGB32, big-endian.
fn icon(look: TrayLook, unread: u64) -> ksni::Icon {
    let img = badge::render(ICON_SIZE, look, unread);
    let data = img
        .pixels
        .chunks_exact(4)
        .flat_map(|rgba| [rgba[3], rgba[0], rgba[1], rgba[2]])
        .collect();
    ksni::Icon {
        width: img.width as i32,
        height: img.height as i32,
        data,
    }
}

/// What the menu's entries do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuAction {
    Open,
    MarkAllRead,
    PauseHour,
    PauseUntilTomorrow,
    Resume,
    SignOut,
    Quit,
}

/// The item as the tray host sees it.
struct Item {
    look: TrayLook,
    icon: ksni::Icon,
    tooltip: String,
    state: String,
    clicks: mpsc::Sender<MenuAction>,
}

impl Item {
    fn entry(label: &str, action: MenuAction) -> MenuItem<Self> {
        StandardItem {
            label: label.into(),
            activate: Box::new(move |item: &mut Self| item.click(action)),
            ..Default::default()
        }
        .into()
    }

    fn click(&self, action: MenuAction) {
        // Clicks come at a person's pace; a full queue means the app hangs.
        if self.clicks.try_send(action).is_err() {
            tracing::warn!(?action, "a tray click was dropped: the app is busy");
        }
    }
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "smarthunt-desktop".into()
    }

    fn title(&self) -> String {
        "SmartHunt".into()
    }

    fn status(&self) -> ksni::Status {
        match self.look {
            TrayLook::SignedOut => ksni::Status::NeedsAttention,
            _ => ksni::Status::Active,
        }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![self.icon.clone()]
    }

    fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![self.icon.clone()]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: "SmartHunt".into(),
            description: self.tooltip.clone(),
            ..Default::default()
        }
    }

    /// A left click opens the window.
    fn activate(&mut self, _x: i32, _y: i32) {
        self.click(MenuAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        vec![
            Self::entry("Open", MenuAction::Open),
            Self::entry("Mark all read", MenuAction::MarkAllRead),
            SubMenu {
                label: "Pause notifications".into(),
                submenu: vec![
                    Self::entry("For 1 hour", MenuAction::PauseHour),
                    Self::entry("Until tomorrow", MenuAction::PauseUntilTomorrow),
                    Self::entry("Resume", MenuAction::Resume),
                ],
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: self.state.clone(),
                enabled: false,
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            Self::entry("Sign out", MenuAction::SignOut),
            Self::entry("Quit", MenuAction::Quit),
        ]
    }
}

/// The tray item, once it is on the bus.
pub struct Tray {
    handle: Option<ksni::Handle<Item>>,
    last: Option<(TrayLook, String, String)>,
}

impl Tray {
    /// Puts the item on the session bus. It shows as soon as a tray host
    /// is there (now or later); without a session bus there is no tray.
    pub async fn create(app: Arc<App>) -> Self {
        let (clicks, rx) = mpsc::channel(16);
        let item = Item {
            look: TrayLook::Offline,
            icon: icon(TrayLook::Offline, 0),
            tooltip: "SmartHunt".into(),
            state: "Starting…".into(),
            clicks,
        };
        let spawned =
            crate::within_desktop_limit("the tray host", item.assume_sni_available(true).spawn())
                .await;
        let handle = match spawned {
            Some(Ok(h)) => Some(h),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "no tray item: the session bus cannot be used");
                None
            }
            None => None,
        };
        tokio::spawn(on_clicks(app, rx));
        Self { handle, last: None }
    }

    /// Redraws what changed since the last call.
    pub async fn update(&mut self, status: &EngineStatus) {
        let look = look_of(status, chrono::Utc::now().timestamp_millis());
        let text = state_text(status, look);
        let now = (look, badge::badge_text(status.unread), text.clone());
        if self.last.as_ref() == Some(&now) {
            return;
        }
        let Some(handle) = &self.handle else { return };
        let redraw = self
            .last
            .as_ref()
            .is_none_or(|(l, b, _)| (*l, b) != (look, &now.1));
        let new_icon = redraw.then(|| icon(look, status.unread));
        let tooltip = badge::tooltip(status.unread, &status.connection.describe());
        let updated = handle.update(move |item| {
            item.look = look;
            if let Some(i) = new_icon {
                item.icon = i;
            }
            item.tooltip = tooltip;
            item.state = text;
        });
        if crate::within_desktop_limit("a tray update", updated)
            .await
            .is_some()
        {
            self.last = Some(now);
        }
    }

    /// Takes the item off the bus.
    pub async fn remove(self) {
        if let Some(handle) = self.handle {
            crate::within_desktop_limit("removing the tray item", handle.shutdown()).await;
        }
    }
}

/// Minutes from now until 08:00 tomorrow, local time.
pub fn minutes_until_tomorrow_morning() -> u32 {
    let now = Local::now();
    let morning = (now.date_naive() + ChronoDuration::days(1))
        .and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default());
    let minutes = (morning - now.naive_local()).num_minutes();
    u32::try_from(minutes.max(1)).unwrap_or(u32::MAX)
}

/// Carries out the menu's clicks, each on its own (a sign-out waiting for
/// the keychain does not hold up Open).
async fn on_clicks(app: Arc<App>, mut clicks: mpsc::Receiver<MenuAction>) {
    while let Some(action) = clicks.recv().await {
        if action == MenuAction::Quit {
            app.quit();
            return;
        }
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = click(&app, action).await {
                tracing::warn!(error = %e, ?action, "a tray action failed");
            }
        });
    }
}

async fn click(app: &App, action: MenuAction) -> Result<(), super::error::IpcError> {
    let engine = &app.engine;
    match action {
        MenuAction::Open => app.window.show(None),
        MenuAction::MarkAllRead => engine.mark_all_read().await?,
        MenuAction::PauseHour => engine.pause(Some(60)).await?,
        MenuAction::PauseUntilTomorrow => {
            engine.pause(Some(minutes_until_tomorrow_morning())).await?
        }
        MenuAction::Resume => engine.pause(None).await?,
        MenuAction::SignOut => app.sign_out().await?,
        MenuAction::Quit => app.quit(),
    }
    Ok(())
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
    match crate::within_desktop_limit("the tray host", check()).await {
        Some(Ok(found)) => found,
        Some(Err(e)) => {
            tracing::info!(error = %e, "cannot ask for a tray host");
            false
        }
        None => false,
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
            storage_error: None,
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
