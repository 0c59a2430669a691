//! The headless modes and account commands: wires the core engine to the
//! real keychain, OS notifications and NetworkManager, and maps outcomes to
//! exit codes. No window, no tray.

use std::path::Path;
use std::sync::Arc;

use smarthunt_core::account::{self, AccountError, LoginRequest};
use smarthunt_core::badge;
use smarthunt_core::config::AppConfig;
use smarthunt_core::engine::{Engine, EngineError, Ports, Tuning};
use smarthunt_core::secret::SecretStore;
use smarthunt_core::session::SessionError;
use smarthunt_core::store::StoreError;
use smarthunt_core::transport::TransportError;

use crate::desktop_notifier::DesktopNotifier;
use crate::keychain::Keychain;

pub(crate) fn exit_code(e: &AccountError) -> u8 {
    match e {
        AccountError::Transport(t) => match t {
            TransportError::Network(_) | TransportError::Timeout | TransportError::Proxy(_) => 11,
            _ => 13,
        },
        AccountError::Session(s) => match s {
            SessionError::InvalidCredentials | SessionError::SignedOut(_) => 10,
            SessionError::Network(_) => 11,
            SessionError::Tls(_) | SessionError::Redirected(_) => 13,
            SessionError::Keychain(_) => 12,
            SessionError::NotSignedIn => 3,
            SessionError::Server(_) | SessionError::Protocol(_) => 14,
        },
        AccountError::Config(_) => 1,
    }
}

/// `smarthunt-tray login`.
pub async fn login(data_dir: &Path, req: LoginRequest) -> u8 {
    let (server, username) = (req.server.clone(), req.username.clone());
    match account::login(data_dir, req, Arc::new(Keychain)).await {
        Ok(profile) => {
            let role = profile
                .map(|p| format!(" ({})", p.role))
                .unwrap_or_default();
            println!("Signed in to {server} as {username}{role}.");
            0
        }
        Err(e) => {
            eprintln!("smarthunt-tray: sign-in failed: {e}");
            exit_code(&e)
        }
    }
}

/// `smarthunt-tray logout`.
pub async fn logout(data_dir: &Path) -> u8 {
    match account::logout(data_dir, Arc::new(Keychain)).await {
        Ok(Some(a)) => {
            println!("Signed out {} from {}.", a.username, a.server);
            0
        }
        Ok(None) => {
            println!("Nobody was signed in.");
            0
        }
        Err(e) => {
            eprintln!("smarthunt-tray: sign-out failed: {e}");
            exit_code(&e)
        }
    }
}

/// `smarthunt-tray --headless` (its caller has started [`crate::logging`]).
pub async fn run(data_dir: &Path) -> u8 {
    let terminated = termination();
    match AppConfig::load(data_dir) {
        Ok(c) if c.current.is_some() => {}
        Ok(_) => {
            eprintln!(
                "smarthunt-tray: not signed in. Run: smarthunt-tray login --server URL --username NAME --password-stdin"
            );
            return 3;
        }
        Err(e) => {
            eprintln!("smarthunt-tray: {e}");
            return 1;
        }
    }
    run_engine(data_dir, Arc::new(Keychain), terminated).await
}

/// Runs the engine until `terminated` (see [`termination`]).
pub(crate) async fn run_engine(
    data_dir: &Path,
    secrets: Arc<dyn SecretStore>,
    terminated: impl std::future::Future<Output = ()>,
) -> u8 {
    let ports = Ports {
        notifier: Arc::new(DesktopNotifier::start(None)),
        secrets,
    };
    let (engine, task) = match Engine::start(data_dir.to_owned(), Tuning::default(), ports) {
        Ok(e) => e,
        Err(EngineError::Store(e @ StoreError::AlreadyRunning { .. })) => {
            eprintln!("smarthunt-tray: {e}");
            return 4;
        }
        Err(e) => {
            eprintln!("smarthunt-tray: cannot start: {e}");
            return 1;
        }
    };
    let nudger = engine.clone();
    let watcher = crate::network::watch(move || nudger.nudge());
    let reporter = tokio::spawn(report_status(engine.clone()));
    terminated.await;
    tracing::info!("shutting down");
    engine.shutdown().await;
    task.join().await;
    watcher.abort();
    reporter.abort();
    0
}

/// Logs each change of the state line once: the connection's state and,
/// while the local store cannot be written, that notifications cannot be
/// saved (a warning then, so that `SMARTHUNT_LOG=warn` still says it).
async fn report_status(engine: Engine) {
    let mut status = engine.status();
    let mut last = String::new();
    loop {
        let (now, unread, failing) = {
            let s = status.borrow_and_update();
            let storage = s.storage_error.as_deref();
            let line = badge::state_line(&s.connection.describe(), storage);
            (line, s.unread, storage.is_some())
        };
        if now != last {
            if failing {
                tracing::warn!(state = %now, unread, "status");
            } else {
                tracing::info!(state = %now, unread, "status");
            }
            last = now;
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// SIGTERM (session end, `kill`) or SIGINT (Ctrl-C), watched from the
/// moment this is called, not from the first poll: a signal that comes
/// while the app is still starting (the engine, a demo's sign-in) ends it
/// cleanly too, instead of by the signal's default action.
pub(crate) fn termination() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = signal(SignalKind::terminate())
        .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)));
    async move {
        let Ok((mut term, mut int)) = handlers else {
            // Without signal handlers, Ctrl-C still ends the process by default.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
