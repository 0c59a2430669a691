//! `smarthunt-window`: SmartHunt's window, in a process of its own. The
//! tray app starts it when the user asks for the window; it ends when its
//! window closes, and WebKit's processes end with it, so the tray app
//! costs what it did before the window opened.
//!
//! It holds nothing of its own: the page's commands go to the tray app
//! over `ipc` as the page sent them, the answers come back to the page, and
//! the core's events are passed on to it. If the tray app goes, so does
//! the window.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use smarthunt_tray::calls::{Call, ErrorCode};
use smarthunt_tray::ipc::{self, ToTray, ToWindow, WireError, WireReader};
use tauri::ipc::{Invoke, InvokeBody};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::{mpsc, oneshot};

const MAIN: &str = "main";

/// How long to look for the tray app's socket (it may be starting).
const FIND_TRAY: Duration = Duration::from_secs(10);

/// Calls on their way to the tray app.
const OUTGOING: usize = 64;

fn main() -> ExitCode {
    smarthunt_tray::logging::init_stderr();
    let runtime = match smarthunt_tray::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smarthunt-window: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let socket = ipc::socket_path(&smarthunt_tray::data_dir());
    let stream = match runtime.block_on(ipc::connect_within(&socket, FIND_TRAY)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "smarthunt-window: the SmartHunt tray app is not running ({e} at {}). Start smarthunt-tray: it opens this window.",
                socket.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let (secret, from_tray) = secret();
    if let Err(why) = listener_is_ours(&stream, from_tray) {
        eprintln!(
            "smarthunt-window: {why} ({}); not connecting to it.",
            socket.display()
        );
        return ExitCode::FAILURE;
    }
    let (reader, writer) = ipc::wire::<ToWindow, ToTray>(stream, ipc::MAX_REPLY_LINE);
    let tray = {
        let _guard = runtime.enter();
        Tray::start(writer)
    };
    tray.tell(ToTray::Hello { secret });
    // One runtime for the link and Tauri.
    tauri::async_runtime::set(runtime.handle().clone());
    let calls = tray.clone();
    let built = tauri::Builder::default()
        .invoke_handler(move |invoke| {
            forward(&calls, invoke);
            true
        })
        .setup(move |app| {
            open(app.handle())?;
            tauri::async_runtime::spawn(read_tray(app.handle().clone(), reader, tray.clone()));
            tray.tell(ToTray::Window);
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smarthunt-window: cannot start the window system: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Closing the window ends the app, as Tauri does by default.
    app.run(|_, _| {});
    ExitCode::SUCCESS
}

/// The secret the tray app wrote on this process's stdin when it started
/// it (the tray app clears the variable below for it). A window started by
/// something else (tauri-driver, for the tests) is given it in its
/// environment by whoever started it; one started by hand has none (from a
/// terminal nothing is waited for) and may only ask for the window.
/// Also whether it came from the tray app (on stdin).
fn secret() -> (String, bool) {
    use std::io::{BufRead, IsTerminal, Read};
    if let Ok(given) = std::env::var(ipc::WINDOW_SECRET_ENV) {
        return (given, false);
    }
    let stdin = std::io::stdin();
    let mut line = String::new();
    if !stdin.is_terminal() {
        let _ = stdin.lock().take(1024).read_line(&mut line);
    }
    let secret = line.trim().to_owned();
    let from_tray = !secret.is_empty();
    (secret, from_tray)
}

/// The socket's listener must be this user's, and, when the tray app
/// started this window, that very process: a process that put its own
/// socket in the tray's place would otherwise get the secret (and relay
/// it to the real tray) and every command the page sends.
fn listener_is_ours(stream: &tokio::net::UnixStream, from_tray: bool) -> Result<(), String> {
    let peer = stream
        .peer_cred()
        .map_err(|e| format!("cannot tell who listens on the socket: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if peer.uid() != me {
        return Err(format!("the socket is another user's (uid {})", peer.uid()));
    }
    let parent = std::os::unix::process::parent_id();
    match peer.pid() {
        Some(pid) if from_tray && u32::try_from(pid).ok() != Some(parent) => Err(format!(
            "the socket is held by process {pid}, not by the tray app that started this window ({parent})"
        )),
        _ => Ok(()),
    }
}

fn open(app: &AppHandle) -> tauri::Result<()> {
    let window = smarthunt_tray::window_builder(app, MAIN).build()?;
    let _ = window.set_focus();
    Ok(())
}

/// Brings the window to the front.
fn raise(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Where a call's answer goes: its value, or an error `{code, message}`.
type Answer = oneshot::Sender<Result<Value, Value>>;

/// The link to the tray app: calls waiting for their answers by id.
#[derive(Clone)]
struct Tray {
    out: mpsc::Sender<ToTray>,
    waiting: Arc<Mutex<HashMap<u64, Answer>>>,
    next_id: Arc<AtomicU64>,
}

impl Tray {
    /// Starts writing to the tray app (on the current runtime).
    fn start(writer: ipc::WireWriter<ToTray>) -> Self {
        Self {
            out: writer.spawn(OUTGOING),
            waiting: Arc::default(),
            next_id: Arc::default(),
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Answer>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a message that has no answer.
    fn tell(&self, message: ToTray) {
        if self.out.try_send(message).is_err() {
            tracing::warn!("cannot reach the tray app");
        }
    }

    /// Runs the page's command `cmd` in the tray app; a command that is not
    /// one of [`Call`]'s, or arguments that do not fit it, are refused here.
    async fn call(&self, cmd: String, args: Value) -> Result<Value, Value> {
        let mut wire = serde_json::Map::new();
        wire.insert("cmd".into(), Value::String(cmd));
        wire.insert("args".into(), args);
        let call = match Call::from_wire(wire) {
            Ok(call) => call,
            Err(e) => {
                return Err(json!({
                    "code": ErrorCode::BadInput,
                    "message": format!("The window sent a call that is not understood: {e}"),
                }))
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(id, tx);
        if self.out.send(ToTray::Call { id, call }).await.is_err() {
            self.waiting().remove(&id);
        }
        // Dropped unanswered when the tray app goes.
        rx.await.unwrap_or_else(|_| {
            Err(json!({"code": ErrorCode::Internal, "message": "The SmartHunt app has stopped."}))
        })
    }

    fn answer(&self, id: u64, result: Result<Value, Value>) {
        if let Some(tx) = self.waiting().remove(&id) {
            let _ = tx.send(result);
        }
    }
}

/// Passes a command of the page on to the tray app, and its answer back.
fn forward(tray: &Tray, invoke: Invoke) {
    let cmd = invoke.message.command().to_owned();
    let args = match invoke.message.payload() {
        InvokeBody::Json(v) => v.clone(),
        InvokeBody::Raw(_) => Value::Null,
    };
    let (tray, resolver) = (tray.clone(), invoke.resolver);
    tauri::async_runtime::spawn(async move {
        match tray.call(cmd, args).await {
            Ok(v) => resolver.resolve(v),
            Err(e) => resolver.reject(e),
        }
    });
}

/// Reads the tray app's answers and events until it goes, then ends the
/// window.
async fn read_tray(app: AppHandle, mut reader: WireReader<ToWindow>, tray: Tray) {
    loop {
        match reader.recv().await {
            Ok(ToWindow::Reply { id, result }) => tray.answer(id, result),
            Ok(ToWindow::Event { name, payload }) => {
                let _ = app.emit_to(MAIN, &name, payload);
            }
            Ok(ToWindow::Raise) => raise(&app),
            Err(e @ WireError::Decode { .. }) => {
                tracing::warn!(error = %e, "a bad message from the tray app")
            }
            Err(e) => {
                tracing::info!(error = %e, "the tray app is gone: closing the window");
                break;
            }
        }
    }
    tray.waiting().clear();
    app.exit(0);
}
