//! The tray item: the icon with the unread count drawn on it and a look
//! for the connection's state, a tooltip, and the menu. A StatusNotifierItem
//! with its dbusmenu, served on the session bus by ksni: no GUI toolkit in
//! this process. Dispatches menu clicks to the engine; holds no state the
//! core could not rebuild.

use std::path::PathBuf;
use std::sync::Arc;

use ksni::menu::{MenuItem, StandardItem, SubMenu};
use ksni::TrayMethods;
use smarthunt_core::badge::{self, TrayLook};
use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::EngineStatus;
use smarthunt_core::policy::PauseFor;
use tokio::sync::mpsc;

use super::App;
use crate::desktop_notifier::DESKTOP_ENTRY;

/// Icons are drawn at this size; panels scale them down.
const ICON_SIZE: u32 = 64;

/// The look the tray should have for a status (the core clears the pause
/// the moment it ends, and publishes that).
pub fn look_of(status: &EngineStatus) -> TrayLook {
    match status.connection {
        ConnectionState::SignedOut { .. }
        | ConnectionState::NotSignedIn
        | ConnectionState::KeychainUnavailable { .. }
        | ConnectionState::ConfigUnreadable { .. } => TrayLook::SignedOut,
        _ if status.paused_until_ms.is_some() => TrayLook::Paused,
        ConnectionState::Connected { .. } => TrayLook::Connected,
        _ => TrayLook::Offline,
    }
}

/// The menu's state line: "Connected", "Connected, notifications paused",
/// and that notifications cannot be saved while the store fails.
fn state_text(status: &EngineStatus, look: TrayLook) -> String {
    let state = status.connection.describe();
    let state = if look == TrayLook::Paused {
        format!("{state}, notifications paused")
    } else {
        state
    };
    let state = badge::state_line(&state, status.storage_error.as_deref());
    let mut chars = state.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => state,
    }
}

/// The tooltip: "3 unread, connected", and that notifications cannot be
/// saved while the store fails.
fn tooltip_text(status: &EngineStatus) -> String {
    let state = badge::state_line(
        &status.connection.describe(),
        status.storage_error.as_deref(),
    );
    badge::tooltip(status.unread, &state)
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

/// The sizes the package installs each look at (hicolor `status` icons).
pub const LOOK_SIZES: [u32; 6] = [16, 22, 24, 32, 48, 64];

/// The installed look's icon name: the desktop id and the look, so the
/// names are ours alone.
pub fn look_icon_name(look: TrayLook) -> String {
    let look = match look {
        TrayLook::Connected => "connected",
        TrayLook::Offline => "offline",
        TrayLook::SignedOut => "signed-out",
        TrayLook::Paused => "paused",
    };
    format!("{DESKTOP_ENTRY}-{look}")
}

/// Where icon themes are looked up: `$XDG_DATA_HOME`, then
/// `$XDG_DATA_DIRS` (the XDG Base Directory defaults when unset).
fn icon_data_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    let dirs = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
    home.into_iter()
        .chain(dirs.split(':').filter(|d| !d.is_empty()).map(PathBuf::from))
        .collect()
}

/// Whether the package's looks are where the tray host will find them by
/// name. A checkout has none installed: it draws every look.
fn looks_installed() -> bool {
    let file = format!("{}.png", look_icon_name(TrayLook::Connected));
    icon_data_dirs()
        .iter()
        .any(|d| d.join("icons/hicolor/22x22/status").join(&file).is_file())
}

/// The icon name the item offers: the installed look when there is no
/// count to show, else none. Hosts prefer `IconName` over `IconPixmap`
/// (StatusNotifierItem spec), so a name is only given when the pixmap
/// would show nothing more; a themed name then looks right at any size.
fn icon_name_for(look: TrayLook, unread: u64, installed: bool) -> String {
    if installed && unread == 0 {
        look_icon_name(look)
    } else {
        String::new()
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
    /// See [`icon_name_for`].
    icon_name: String,
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

    fn icon_name(&self) -> String {
        self.icon_name.clone()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![self.icon.clone()]
    }

    fn attention_icon_name(&self) -> String {
        self.icon_name.clone()
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

/// What the tray shows: look, badge text, menu state line, tooltip.
type Shown = (TrayLook, String, String, String);

/// The tray item, once it is on the bus.
pub struct Tray {
    handle: Option<ksni::Handle<Item>>,
    last: Option<Shown>,
    /// The package's looks are installed (see [`looks_installed`]).
    installed: bool,
}

impl Tray {
    /// Puts the item on the session bus. It shows as soon as a tray host
    /// is there (now or later); without a session bus there is no tray.
    pub async fn create(app: Arc<App>) -> Self {
        let (clicks, rx) = mpsc::channel(16);
        let installed = tokio::task::spawn_blocking(looks_installed)
            .await
            .unwrap_or(false);
        let item = Item {
            look: TrayLook::Offline,
            icon: icon(TrayLook::Offline, 0),
            icon_name: icon_name_for(TrayLook::Offline, 0, installed),
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
        Self {
            handle,
            last: None,
            installed,
        }
    }

    /// Redraws what changed since the last call.
    pub async fn update(&mut self, status: &EngineStatus) {
        let look = look_of(status);
        let text = state_text(status, look);
        let tooltip = tooltip_text(status);
        let now = (
            look,
            badge::badge_text(status.unread),
            text.clone(),
            tooltip.clone(),
        );
        if self.last.as_ref() == Some(&now) {
            return;
        }
        let Some(handle) = &self.handle else { return };
        let redraw = self
            .last
            .as_ref()
            .is_none_or(|(l, b, _, _)| (*l, b) != (look, &now.1));
        let new_icon = redraw.then(|| icon(look, status.unread));
        let icon_name = icon_name_for(look, status.unread, self.installed);
        let updated = handle.update(move |item| {
            item.look = look;
            if let Some(i) = new_icon {
                item.icon = i;
            }
            item.icon_name = icon_name;
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
        MenuAction::PauseHour => drop(engine.pause(PauseFor::Minutes { minutes: 60 }).await?),
        MenuAction::PauseUntilTomorrow => drop(engine.pause(PauseFor::TomorrowMorning).await?),
        MenuAction::Resume => drop(engine.pause(PauseFor::Resume).await?),
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
            quiet_now: false,
            storage_error: None,
        }
    }

    #[test]
    fn an_installed_look_is_named_only_while_no_count_needs_drawing() {
        let name = icon_name_for(TrayLook::Paused, 0, true);
        assert_eq!(name, "com.smarthunt.desktop-paused");
        assert_eq!(
            icon_name_for(TrayLook::Paused, 3, true),
            "",
            "the count is drawn"
        );
        assert_eq!(
            icon_name_for(TrayLook::Paused, 0, false),
            "",
            "a checkout draws"
        );
        let names: std::collections::HashSet<_> = [
            TrayLook::Connected,
            TrayLook::Offline,
            TrayLook::SignedOut,
            TrayLook::Paused,
        ]
        .map(look_icon_name)
        .into();
        assert_eq!(names.len(), 4, "one name a look");
    }

    #[test]
    fn look_follows_state_and_pause() {
        let connected = ConnectionState::Connected {
            variant: smarthunt_core::connection::ServerVariant::Documented,
        };
        assert_eq!(
            look_of(&status(connected.clone(), None)),
            TrayLook::Connected
        );
        assert_eq!(look_of(&status(connected, Some(10))), TrayLook::Paused);
        assert_eq!(
            look_of(&status(
                ConnectionState::SignedOut { reason: "x".into() },
                Some(10)
            )),
            TrayLook::SignedOut
        );
        assert_eq!(
            look_of(&status(ConnectionState::Connecting, None)),
            TrayLook::Offline
        );
    }

    #[test]
    fn menu_state_and_tooltip_say_while_notifications_cannot_be_saved() {
        let connected = ConnectionState::Connected {
            variant: smarthunt_core::connection::ServerVariant::Documented,
        };
        let mut s = status(connected.clone(), None);
        s.unread = 3;
        assert_eq!(state_text(&s, look_of(&s)), "Connected");
        assert_eq!(tooltip_text(&s), "3 unread, connected");

        s.storage_error = Some("database error: database or disk is full".into());
        assert_eq!(
            state_text(&s, look_of(&s)),
            "Connected; cannot save notifications: database error: database or disk is full"
        );
        assert_eq!(
            tooltip_text(&s),
            "3 unread, connected; cannot save notifications: database error: database or disk is full"
        );

        let mut paused = status(connected, Some(10));
        paused.storage_error = Some("disk I/O error".into());
        assert_eq!(
            state_text(&paused, look_of(&paused)),
            "Connected, notifications paused; cannot save notifications: disk I/O error"
        );

        s.storage_error = None;
        assert_eq!(tooltip_text(&s), "3 unread, connected", "said no more");
    }
}
