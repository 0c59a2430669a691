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
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::error::IpcError;
use super::App;
use crate::calls::{ErrorCode, OpenItem, UiEvent};
use crate::ipc::{self, ToTray, ToWindow, WireError};

/// The window process's binary.
pub const WINDOW_BIN: &str = "smarthunt-window";

/// Where [`WINDOW_BIN`] is: in `SMARTHUNT_WINDOW_DIR` when the build was
/// given one (the packages: `/usr/libexec/smarthunt-desktop`, as it is no
/// command of its own), else beside this binary (a source checkout).
fn window_binary() -> std::io::Result<std::path::PathBuf> {
    match option_env!("SMARTHUNT_WINDOW_DIR") {
        Some(dir) => Ok(std::path::Path::new(dir).join(WINDOW_BIN)),
        None => std::env::current_exe().map(|exe| exe.with_file_name(WINDOW_BIN)),
    }
}

/// Messages waiting for the window; past that, events are dropped and the
/// window is told to reload once it reads again.
const WINDOW_QUEUE: usize = 256;

/// The window's process and connection, as far as the tray knows them.
/// Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct WindowHost {
    data_dir: PathBuf,
    /// Given to each window process on its stdin; shown back as `Hello`.
    secret: smarthunt_core::secret::Sensitive,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// A window process we started is running.
    process: bool,
    /// The user asked for the window and no window has attached since:
    /// a window process that was closing when asked is started again.
    wanted: bool,
    /// The running window process has attached at least once (a process
    /// that never did is not started again by itself).
    attached_once: bool,
    /// The window's connection, once it has said it is the window.
    link: Option<mpsc::Sender<ToWindow>>,
    /// The window's page has loaded and listens for `open-item`.
    ready: bool,
    /// What a window being opened should show once it has loaded.
    pending_open: Option<OpenItem>,
    /// Events were dropped for a window that did not read them: it is told
    /// to reload its list with the next one.
    lagged: bool,
}

/// A window process that has not attached by then is stuck: it is ended,
/// and the next click starts a new one.
const START_LIMIT: Duration = Duration::from_secs(30);

impl WindowHost {
    pub fn new(data_dir: PathBuf, secret: smarthunt_core::secret::Sensitive) -> Self {
        Self {
            data_dir,
            secret,
            inner: Arc::default(),
        }
    }

    /// Whether `given` is the secret this launch's windows were given.
    pub fn is_secret(&self, given: &str) -> bool {
        ipc::same_secret(given, self.secret.expose())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows the window (starting its process if needed), optionally on
    /// an item.
    pub fn show(&self, item: Option<OpenItem>) {
        let mut inner = self.lock();
        if inner.link.is_some() {
            tracing::info!("window asked for: raising it");
            inner.send(ToWindow::Raise);
            match item {
                Some(item) if inner.ready => inner.send(event(UiEvent::OpenItem(item))),
                // Its page asks with `window_opened` once it listens.
                Some(item) => inner.pending_open = Some(item),
                None => {}
            }
            return;
        }
        // The window asks for this with `window_opened` once it has loaded.
        if item.is_some() {
            inner.pending_open = item;
        }
        inner.wanted = true;
        if inner.process {
            tracing::info!("window asked for: it is starting");
        } else {
            tracing::info!("window asked for: starting its process");
            self.start_process(&mut inner);
        }
    }

    fn start_process(&self, inner: &mut Inner) {
        let started = window_binary().and_then(|exe| {
            tokio::process::Command::new(exe)
                .env("SMARTHUNT_DATA_DIR", &self.data_dir)
                .env_remove(ipc::WINDOW_SECRET_ENV)
                .stdin(std::process::Stdio::piped())
                .spawn()
        });
        match started {
            Ok(mut child) => {
                // Its secret, on its stdin: a pipe only it reads.
                if let Some(mut stdin) = child.stdin.take() {
                    let line = format!("{}\n", self.secret.expose());
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt;
                        if let Err(e) = stdin.write_all(line.as_bytes()).await {
                            tracing::warn!(error = %e, "cannot give the window its secret");
                        }
                    });
                }
                inner.process = true;
                inner.attached_once = false;
                tokio::spawn(self.clone().watch(child));
            }
            Err(e) => tracing::error!(error = %e, "cannot open the window"),
        }
    }

    /// Waits for the window process to end (ending it if it never attaches)
    /// and starts it again if the user asked for the window meanwhile.
    async fn watch(self, mut child: tokio::process::Child) {
        let ended = tokio::select! {
            ended = child.wait() => ended,
            _ = tokio::time::sleep(START_LIMIT) => {
                if !self.lock().attached_once {
                    tracing::warn!("the window did not start in time; ending it");
                    let _ = child.start_kill();
                }
                child.wait().await
            }
        };
        match ended {
            Ok(status) if !status.success() => tracing::warn!(%status, "the window process failed"),
            Ok(_) => tracing::info!("the window process ended"),
            Err(e) => tracing::warn!(error = %e, "cannot wait for the window"),
        }
        let mut inner = self.lock();
        inner.process = false;
        if inner.wanted && inner.attached_once && inner.link.is_none() {
            // Asked for while it was closing.
            self.start_process(&mut inner);
        }
    }

    /// Sends an event to the window, if one is open.
    pub fn emit(&self, e: UiEvent) {
        let mut inner = self.lock();
        if inner.link.is_some() {
            inner.send(event(e));
        }
    }

    /// What a newly opened window should show, once; its page listens now.
    pub fn take_pending_open(&self) -> Option<OpenItem> {
        let mut inner = self.lock();
        inner.ready = true;
        inner.pending_open.take()
    }

    fn attach(&self, link: mpsc::Sender<ToWindow>) {
        let mut inner = self.lock();
        inner.link = Some(link);
        inner.ready = false;
        inner.wanted = false;
        inner.attached_once = true;
        inner.lagged = false;
    }

    fn detach(&self, link: &mpsc::Sender<ToWindow>) {
        let mut inner = self.lock();
        if inner.link.as_ref().is_some_and(|l| l.same_channel(link)) {
            inner.link = None;
            inner.ready = false;
        }
    }
}

impl Inner {
    fn send(&mut self, message: ToWindow) {
        let Some(link) = &self.link else { return };
        if self.lagged {
            let reload = event(UiEvent::EngineEvent(
                smarthunt_core::engine::EngineEvent::NotificationsChanged,
            ));
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

fn event(e: UiEvent) -> ToWindow {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    ToWindow::Event {
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        payload: v["payload"].take(),
    }
}

/// Hands this launch over to a tray app running on `data_dir`, which shows
/// its window unless `hidden` (autostart). `wait`: how long to wait for
/// one that holds the data dir but is still starting (two launches at
/// once). `Ok(true)`: one runs, this launch is not needed. `Ok(false)`:
/// none listens.
pub async fn hand_over(data_dir: &Path, hidden: bool, wait: Duration) -> Result<bool, WireError> {
    let stream = match ipc::connect_within(&ipc::socket_path(data_dir), wait).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(false)
        }
        Err(e) => return Err(e.into()),
    };
    if !hidden {
        let (_, mut writer) = ipc::wire::<ToWindow, ToTray>(stream, ipc::MAX_REPLY_LINE);
        writer.send(&ToTray::Show).await?;
    }
    Ok(true)
}

/// Listens on the data dir's socket (after `hand_over` found nobody on it:
/// a file left there is a dead instance's).
pub fn listen(data_dir: &Path) -> std::io::Result<UnixListener> {
    smarthunt_core::private::ensure_dir(data_dir).map_err(std::io::Error::other)?;
    listen_at(&ipc::socket_path(data_dir))
}

/// Serving another data dir's socket (see [`answer_for`]).
pub struct Answering {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Answering {
    /// Stops answering and takes the socket away.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers launches on `other`'s socket with this app's window, while no
/// app runs there. Connections there are never trusted (they hold no
/// window secret): they may only ask to show the window. The socket is in
/// the runtime dir (in `other` only where there is none, as a launch on
/// it would put it).
pub async fn answer_for(app: Arc<App>, other: &Path) -> Option<Answering> {
    if !matches!(hand_over(other, true, Duration::ZERO).await, Ok(false)) {
        return None;
    }
    let path = ipc::socket_path(other);
    let listening = path
        .parent()
        .map_or(Ok(()), |dir| {
            smarthunt_core::private::ensure_dir(dir).map_err(std::io::Error::other)
        })
        .and_then(|()| listen_at(&path));
    match listening {
        Ok(listener) => Some(Answering {
            path,
            task: tokio::spawn(serve(app, listener)),
        }),
        Err(e) => {
            tracing::info!(error = %e, "cannot answer launches on the usual data dir");
            None
        }
    }
}

fn listen_at(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves every connection on `listener` for as long as the app runs.
/// Only this user's processes are served, whatever the socket's mode.
pub async fn serve(app: Arc<App>, listener: UnixListener) {
    let me = nix::unistd::geteuid().as_raw();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match stream.peer_cred() {
                Ok(peer) if peer.uid() == me => {
                    tokio::spawn(connection(app.clone(), stream));
                }
                Ok(peer) => tracing::warn!(uid = peer.uid(), "refused another user's process"),
                Err(e) => tracing::warn!(error = %e, "cannot tell who connected; refused"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a window connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Calls of one connection carried out at once; the next waits (and the
/// connection is not read) until one is done.
const CALLS_AT_ONCE: usize = 32;

async fn connection(app: Arc<App>, stream: UnixStream) {
    let (mut reader, writer) = ipc::wire::<ToTray, ToWindow>(stream, ipc::MAX_CALL_LINE);
    let tx = writer.spawn(WINDOW_QUEUE);
    let calls = Arc::new(tokio::sync::Semaphore::new(CALLS_AT_ONCE));
    // Until it shows the window's secret, a connection may only ask for
    // the window: any process of the user can reach the socket.
    let mut trusted = false;
    loop {
        match reader.recv().await {
            Ok(ToTray::Hello { secret }) => {
                trusted = app.window.is_secret(&secret);
                if !trusted {
                    tracing::warn!("a connection showed a wrong secret");
                }
            }
            Ok(ToTray::Call { id, .. }) if !trusted => {
                let refused = Err(IpcError::bad_input(
                    "Only SmartHunt's window may send commands; this connection may only ask to show it.",
                ));
                let _ = tx.send(reply(id, refused)).await;
            }
            Ok(ToTray::Window) if !trusted => {
                tracing::warn!("a connection without the secret asked for the window's events");
            }
            Ok(ToTray::Call { id, call }) => {
                let Ok(slot) = calls.clone().acquire_owned().await else {
                    break;
                };
                let (app, tx) = (app.clone(), tx.clone());
                tokio::spawn(async move {
                    let result = super::commands::dispatch(&app, call).await;
                    let _ = tx.send(reply(id, result)).await;
                    drop(slot);
                });
            }
            Ok(ToTray::Window) => app.window.attach(tx.clone()),
            Ok(ToTray::Show) => app.window.show(None),
            // A message that is not ours is skipped (a call is answered so
            // its caller does not wait); the rest still counts.
            Err(WireError::Decode { error, id }) => {
                tracing::warn!(%error, "a bad message from the window");
                if let Some(id) = id {
                    let refused = Err(IpcError::bad_input(format!(
                        "The window sent a call that is not understood: {error}"
                    )));
                    let _ = tx.send(reply(id, refused)).await;
                }
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

/// The answer to call `id`. One too long for the window to read becomes an
/// error for that call alone: sent whole, it would end the connection.
fn reply(id: u64, result: Result<serde_json::Value, IpcError>) -> ToWindow {
    let result = match result {
        Ok(v) if ipc::encoded_len(&v) > ipc::MAX_REPLY_LINE - REPLY_ENVELOPE => {
            tracing::warn!(id, "an answer too long for the window; refused");
            Err(IpcError::new(
                ErrorCode::Server,
                "The answer is too large to show; nothing was changed.",
            ))
        }
        other => other,
    };
    ToWindow::Reply {
        id,
        result: result.map_err(|e| serde_json::to_value(e).unwrap_or_default()),
    }
}

/// Room for a reply's own fields around its value.
const REPLY_ENVELOPE: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_too_long_for_the_window_fails_that_call_alone() {
        let rows = serde_json::Value::String("x".repeat(ipc::MAX_REPLY_LINE));
        let ToWindow::Reply { id, result } = reply(4, Ok(rows)) else {
            panic!("not a reply")
        };
        let err = result.expect_err("refused");
        assert_eq!((id, err["code"].as_str()), (4, Some("server")));
        assert!(ipc::encoded_len(&err) < 1024);
        let small = serde_json::json!({"rows": [1, 2]});
        let ToWindow::Reply { result, .. } = reply(5, Ok(small.clone())) else {
            panic!("not a reply")
        };
        assert_eq!(result, Ok(small), "an answer that fits goes as it is");
    }
}
