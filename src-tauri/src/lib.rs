//! SmartHunt Desktop's two processes around smarthunt-core.
//!
//! The tray process (`smarthunt-tray`) is everything here: the engine, the
//! tray item, the popups, the keychain and the account commands. It links
//! no GUI toolkit, so it stays small while it sits in the tray all day.
//! The window (`smarthunt-window`, `src/window/`) is a process of its own,
//! opened on demand; it talks to this one over `ipc` and ends with its
//! window, WebKit with it.

pub mod calls;
pub mod cli;
#[cfg(feature = "demo")]
pub mod demo;
pub mod desktop_notifier;
pub mod headless;
pub mod ipc;
pub mod keychain;
pub mod logging;
pub mod network;
pub mod shell;

use std::path::PathBuf;
use std::time::Duration;

/// How long any call to the desktop (notification daemon, tray host) may
/// take: one that never answers is given up on, never waited for.
pub const DESKTOP_CALL_LIMIT: Duration = Duration::from_secs(5);

/// `work`, given up on after [`DESKTOP_CALL_LIMIT`] with a log line naming
/// `what`.
pub async fn within_desktop_limit<T>(
    what: &str,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    match tokio::time::timeout(DESKTOP_CALL_LIMIT, work).await {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::warn!("{what} got no answer within {DESKTOP_CALL_LIMIT:?}; given up");
            None
        }
    }
}

/// The data dir: `SMARTHUNT_DATA_DIR`, else the platform's data dir.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SMARTHUNT_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("smarthunt-desktop")
}

/// The window as `smarthunt-window` opens it: its page, title and size
/// (the window-open benchmark's floor, `examples/empty_window.rs`, opens
/// the same with an empty page). Generic, so a binary that opens no window
/// (the tray app) holds none of it.
pub fn window_builder<'a, R: tauri::Runtime, M: tauri::Manager<R>>(
    app: &'a M,
    label: &str,
) -> tauri::WebviewWindowBuilder<'a, R, M> {
    tauri::WebviewWindowBuilder::new(app, label, tauri::WebviewUrl::App("index.html".into()))
        .title("SmartHunt")
        .inner_size(420.0, 640.0)
        .min_inner_size(340.0, 420.0)
}

/// The one tokio runtime of a process. Two workers: the app is mostly
/// idle, and the machine may be small.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs `work` on a new runtime, then stops the runtime without waiting on
/// blocking calls that may never return (a keychain waiting for a password
/// prompt): their deadline has already answered the user.
pub fn block_on(work: impl std::future::Future<Output = u8>) -> u8 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smarthunt-tray: cannot start: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(work);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
