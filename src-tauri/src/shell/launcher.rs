//! The unread count where docks and task managers show it (Ubuntu Dock,
//! Dash to Dock, KDE's task manager, Plank): the Unity launcher API, a
//! `com.canonical.Unity.LauncherEntry.Update` signal for
//! `application://<desktop id>.desktop` with `count` and `count-visible`.
//! Docks listen for it on the session bus; nothing answers, so nothing can
//! stall: sending is bounded like every call to the desktop.

use std::collections::HashMap;

use zbus::Variant as Value;

use crate::desktop_notifier::DESKTOP_ENTRY;

const PATH: &str = "/com/smarthunt/desktop/LauncherEntry";
const INTERFACE: &str = "com.canonical.Unity.LauncherEntry";

/// The dock badge of this app.
#[derive(Default)]
pub struct LauncherBadge {
    conn: Option<zbus::Connection>,
    shown: Option<u64>,
}

impl LauncherBadge {
    /// Shows `unread` on the app's launcher (hidden at 0), when it changed.
    pub async fn show(&mut self, unread: u64) {
        if self.shown == Some(unread) {
            return;
        }
        if self.conn.is_none() {
            match crate::within_desktop_limit("the session bus", zbus::Connection::session()).await
            {
                Some(Ok(c)) => self.conn = Some(c),
                Some(Err(e)) => {
                    tracing::info!(error = %e, "no session bus: no launcher badge");
                    return;
                }
                None => return,
            }
        }
        let Some(conn) = &self.conn else { return };
        let uri = format!("application://{DESKTOP_ENTRY}.desktop");
        let mut props: HashMap<&str, Value<'_>> = HashMap::new();
        props.insert(
            "count",
            Value::from(i64::try_from(unread).unwrap_or(i64::MAX)),
        );
        props.insert("count-visible", Value::from(unread > 0));
        let body = (uri, props);
        let sent = conn.emit_signal(None::<()>, PATH, INTERFACE, "Update", &body);
        match crate::within_desktop_limit("the launcher badge", sent).await {
            Some(Ok(())) => self.shown = Some(unread),
            Some(Err(e)) => tracing::info!(error = %e, "cannot update the launcher badge"),
            None => {}
        }
    }
}
