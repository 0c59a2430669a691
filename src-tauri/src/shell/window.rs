//! The window, from the tray process's side. It runs in a process of its
//! own (`smarthunt-window`), started on demand and ended with its window,
//! WebKit with it: the tray process never loads a GUI toolkit. The window
//! reaches the core over `ipc`: this module listens on the data dir's
//! socket, answers the window's commands and sends it the core's events.
//! The same socket makes the app single-instance: a second launch finds it,
//! asks for the window and exits.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::App;
use crate::ipc::{self, ToTray, ToWindow, WireError};

/// The window process's binary, beside this one.
pub const WINDOW_BIN: &str = "smarthunt-window";

/// Messages waiting for the window; past that, events are dropped and the
/// window is told to reload once it reads again.
const WINDOW_QUEUE: usize = 256;

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

/// The window's process and connection, as far as the tray knows them.
pub struct WindowHost {
    data_dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// A window process we started is running.
    process: bool,
    /// The window's connection, once it has said it is the window.
    link: Option<mpsc::Sender<ToWindow>>,
    /// What a window being opened should show once it has loaded.
    pending_open: Option<OpenItem>,
    /// Events were dropped for a window that did not read them: it is told
    /// to reload its list with the next one.
    lagged: bool,
}

impl WindowHost {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows the window (starting its process if needed), optionally on
    /// an item.
    pub fn show(&self, item: Option<OpenItem>) {
        let mut inner = self.lock();
        if inner.link.is_some() {
            inner.send(ToWindow::Raise);
            if let Some(item) = item {
                inner.send(event("open-item", &item));
            }
            return;
        }
        // The window asks for this with `window_opened` once it has loaded.
        inner.pending_open = item;
        if inner.process {
            return;
        }
        match self.start_process() {
            Ok(child) => {
                inner.process = true;
                let shared = self.inner.clone();
                tokio::spawn(async move {
                    let mut child = child;
                    match child.wait().await {
                        Ok(status) if !status.success() => {
                            tracing::warn!(%status, "the window process failed")
                        }
                        Ok(_) => tracing::info!("the window process ended"),
                        Err(e) => tracing::warn!(error = %e, "cannot wait for the window"),
                    }
                    shared.lock().unwrap_or_else(|p| p.into_inner()).process = false;
                });
            }
            Err(e) => tracing::error!(error = %e, "cannot open the window"),
        }
    }

    fn start_process(&self) -> std::io::Result<tokio::process::Child> {
        let exe = std::env::current_exe()?.with_file_name(WINDOW_BIN);
        tokio::process::Command::new(exe)
            .env("SMARTHUNT_DATA_DIR", &self.data_dir)
            .stdin(std::process::Stdio::null())
            .spawn()
    }

    /// Sends an event to the window, if one is open.
    pub fn emit(&self, name: &str, payload: &impl Serialize) {
        let mut inner = self.lock();
        if inner.link.is_some() {
            inner.send(event(name, payload));
        }
    }

    /// What a newly opened window should show, once.
    pub fn take_pending_open(&self) -> Option<OpenItem> {
        self.lock().pending_open.take()
    }

    fn attach(&self, link: mpsc::Sender<ToWindow>) {
        let mut inner = self.lock();
        inner.link = Some(link);
        inner.lagged = false;
    }

    fn detach(&self, link: &mpsc::Sender<ToWindow>) {
        let mut inner = self.lock();
        if inner.link.as_ref().is_some_and(|l| l.same_channel(link)) {
            inner.link = None;
        }
    }
}

impl Inner {
    fn send(&mut self, message: ToWindow) {
        let Some(link) = &self.link else { return };
        if self.lagged {
            let reload = event(
                "engine-event",
                &smarthunt_core::engine::EngineEvent::NotificationsChanged,
            );
            if link.try_send(reload).is_err() {
                return;
            }
            self.lagged = false;
        }
        if link.try_send(message).is_err() {
            self.lagged = true;
        }
    }
}

fn event(name: &str, payload: &impl Serialize) -> ToWindow {
    ToWindow::Event {
        name: name.to_owned(),
        payload: serde_json::to_value(payload).unwrap_or_default(),
    }
}

/// Asks a tray app already running on `data_dir` to show its window.
/// `Ok(true)`: it will, this launch is not needed. `Ok(false)`: none runs.
pub async fn hand_over(data_dir: &Path) -> Result<bool, WireError> {
    let stream = match UnixStream::connect(ipc::socket_path(data_dir)).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(false)
        }
        Err(e) => return Err(e.into()),
    };
    let (_, mut writer) = ipc::wire::<ToWindow, ToTray>(stream, ipc::MAX_REPLY_LINE);
    writer.send(&ToTray::Show).await?;
    Ok(true)
}

/// Listens on the data dir's socket (after `hand_over` found nobody on it:
/// a file left there is a dead instance's).
pub fn listen(data_dir: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = ipc::socket_path(data_dir);
    std::fs::create_dir_all(data_dir)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves every connection on `listener` for as long as the app runs.
pub async fn serve(app: Arc<App>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(app.clone(), stream));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a window connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(app: Arc<App>, stream: UnixStream) {
    let (mut reader, writer) = ipc::wire::<ToTray, ToWindow>(stream, ipc::MAX_CALL_LINE);
    let tx = writer.spawn(WINDOW_QUEUE);
    loop {
        match reader.recv().await {
            Ok(ToTray::Call { id, cmd, args }) => {
                let (app, tx) = (app.clone(), tx.clone());
                tokio::spawn(async move {
                    let result = super::commands::dispatch(&app, &cmd, args)
                        .await
                        .map_err(|e| serde_json::to_value(e).unwrap_or_default());
                    let _ = tx.send(ToWindow::Reply { id, result }).await;
                });
            }
            Ok(ToTray::Window) => app.window.attach(tx.clone()),
            Ok(ToTray::Show) => app.window.show(None),
            // A message that is not ours is skipped; the rest still counts.
            Err(e @ WireError::Decode(_)) => {
                tracing::warn!(error = %e, "a bad message from the window")
            }
            Err(WireError::Closed) => break,
            Err(e) => {
                tracing::warn!(error = %e, "a window connection ended");
                break;
            }
        }
    }
    app.window.detach(&tx);
}
