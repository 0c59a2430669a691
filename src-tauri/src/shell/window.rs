//! The main window: built on demand, destroyed when closed (so no WebKit
//! process lingers while the app sits in the tray, see `after_close`), and
//! rebuilt from the core's state when opened again.

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};

use super::AppState;

pub const MAIN: &str = "main";

/// What the window should show when it opens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenItem {
    /// "notifications", "chat" or "settings".
    pub view: &'static str,
    pub local_id: Option<i64>,
    pub other_id: Option<i64>,
}

impl OpenItem {
    pub fn view(view: &'static str) -> Self {
        Self {
            view,
            local_id: None,
            other_id: None,
        }
    }
}

/// Shows the window (building it if needed), optionally on an item.
pub fn show(app: &AppHandle, item: Option<OpenItem>) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        if let Some(item) = item {
            let _ = app.emit_to(MAIN, "open-item", item);
        }
        return;
    }
    // A new window asks for this with `window_opened` once it has loaded.
    if let Some(state) = app.try_state::<AppState>() {
        *state.pending_open.lock().unwrap_or_else(|p| p.into_inner()) = item;
    }
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("SmartHunt")
        .inner_size(420.0, 640.0)
        .min_inner_size(340.0, 420.0)
        .build();
    match built {
        Ok(w) => {
            let handle = app.clone();
            w.on_window_event(move |event| {
                if matches!(event, WindowEvent::Destroyed) {
                    super::after_close::window_destroyed(&handle);
                }
            });
            let _ = w.set_focus();
        }
        Err(e) => tracing::error!(error = %e, "cannot open the window"),
    }
}
