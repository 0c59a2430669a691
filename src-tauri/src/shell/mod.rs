//! The tray app: the core engine with its tray item, native popups with
//! actions, keychain, autostart and single instance, and the window run
//! in a process of its own (`window`). Thin: every decision is the core's;
//! this maps core changes to the tray and the window, and the user's clicks
//! to engine intents.

mod actions;
mod autostart;
mod commands;
mod error;
mod launcher;
pub mod tray;
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use smarthunt_core::config::AppConfig;
use smarthunt_core::engine::{Engine, EngineError, EngineEvent, EngineStatus, Ports, Tuning};
use smarthunt_core::ports::Notifier;
use smarthunt_core::secret::SecretStore;
use smarthunt_core::store::StoreError;
use tokio::sync::broadcast::error::RecvError;

use crate::calls::UiEvent;
use crate::desktop_notifier::DesktopNotifier;
use crate::keychain::Keychain;
use window::WindowHost;

/// What the tray, the popups' actions and the window's commands share.
pub struct App {
    pub engine: Engine,
    pub data_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    pub window: WindowHost,
    quit: tokio::sync::Notify,
}

impl App {
    /// Ends the app (the tray's Quit).
    pub fn quit(&self) {
        self.quit.notify_one();
    }

    /// Signs out: keychain entries and local data go, and the engine
    /// shows the signed-out state.
    pub async fn sign_out(&self) -> Result<(), error::IpcError> {
        let logout = smarthunt_core::account::logout(&self.data_dir, self.secrets.clone()).await;
        // Whatever the keychain said, the engine rereads the account.
        let reload = self.engine.reload().await;
        logout?;
        Ok(reload?)
    }
}

/// How long a launch that finds the data dir taken waits for the other
/// launch to listen.
const HAND_OVER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the tray app until Quit, SIGTERM or SIGINT (its caller has
/// started [`crate::logging`]). `hidden`: start in the tray with no window
/// (autostart); the window opens anyway when there is no tray host.
pub fn run(data_dir: PathBuf, hidden: bool) -> u8 {
    crate::block_on(async {
        let terminated = crate::headless::termination();
        launch(data_dir, hidden, Arc::new(Keychain), None, terminated).await
    })
}

/// The tray app signed in to an embedded dev server with its scenario. It
/// also answers second launches on the usual data dir while no app runs
/// there: a person clicking the launcher during the demo gets its window.
#[cfg(feature = "demo")]
pub fn run_demo(hidden: bool) -> u8 {
    crate::block_on(async {
        let terminated = crate::headless::termination();
        let demo = match crate::demo::Demo::start().await {
            Ok(d) => d,
            Err(code) => return code,
        };
        let usual = Some(crate::data_dir());
        let code = launch(
            demo.dir.clone(),
            hidden,
            demo.secrets.clone(),
            usual,
            terminated,
        )
        .await;
        demo.stop().await;
        code
    })
}

/// Runs the tray app until Quit or `terminated` (SIGTERM, the session
/// ending, or Ctrl-C: see [`crate::headless::termination`], watched by the
/// caller from its start so that start-up ends cleanly too). `answers_for`:
/// another data dir whose second launches this one answers (shows its
/// window), while nothing else listens there.
async fn launch(
    data_dir: PathBuf,
    hidden: bool,
    secrets: Arc<dyn SecretStore>,
    answers_for: Option<PathBuf>,
    terminated: impl std::future::Future<Output = ()>,
) -> u8 {
    // First: a second launch hands over to the running one and exits.
    match window::hand_over(&data_dir, hidden, std::time::Duration::ZERO).await {
        Ok(true) => return 0,
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot reach the running app; starting anew"),
    }
    // Bounded: a user clicks far slower than this drains.
    let (actions_tx, actions_rx) = tokio::sync::mpsc::channel(64);
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier::start(Some(actions_tx)));
    let ports = Ports {
        notifier: notifier.clone(),
        secrets: secrets.clone(),
    };
    let (engine, task) = match Engine::start(data_dir.clone(), Tuning::default(), ports) {
        Ok(e) => e,
        Err(EngineError::Store(e @ StoreError::AlreadyRunning { .. })) => {
            // Another launch got there first and is starting: hand over to
            // it once it listens. Otherwise a headless instance holds it.
            if let Ok(true) = window::hand_over(&data_dir, hidden, HAND_OVER_WAIT).await {
                return 0;
            }
            eprintln!("smarthunt-tray: {e}");
            return 4;
        }
        Err(e) => {
            eprintln!("smarthunt-tray: cannot start: {e}");
            return 1;
        }
    };
    let listener = match window::listen(&data_dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smarthunt-tray: cannot listen for the window in the data dir: {e}");
            engine.shutdown().await;
            task.join().await;
            return 1;
        }
    };
    let app = Arc::new(App {
        engine: engine.clone(),
        data_dir: data_dir.clone(),
        secrets,
        window: WindowHost::new(data_dir.clone(), crate::ipc::window_secret()),
        quit: tokio::sync::Notify::new(),
    });
    // The socket serves first: a second launch that hands over to this one
    // gets its window even while the desktop is slow to answer below.
    let serving = tokio::spawn(window::serve(app.clone(), listener));
    let answering = match answers_for {
        Some(other) => window::answer_for(app.clone(), &other).await,
        None => None,
    };
    let tray = tray::Tray::create(app.clone()).await;
    let forwarding = tokio::spawn(forward_core_changes(app.clone(), tray));
    actions::serve(app.clone(), actions_rx, notifier);
    let nudger = engine.clone();
    let watcher = crate::network::watch(move || nudger.nudge());
    autostart_on_first_sign_in(&data_dir).await;
    let has_tray = tray::host_available().await;
    if !has_tray {
        tracing::warn!("no tray host (StatusNotifierWatcher) on this desktop: showing the window");
    }
    if !hidden || !has_tray {
        app.window.show(None);
    }

    tokio::select! {
        _ = terminated => {}
        _ = app.quit.notified() => {}
    }
    tracing::info!("shutting down");
    // The window ends when its connection does.
    serving.abort();
    let _ = std::fs::remove_file(crate::ipc::socket_path(&data_dir));
    if let Some(answering) = answering {
        answering.stop();
    }
    engine.shutdown().await;
    task.join().await;
    watcher.abort();
    // Ends when the engine's status does; it takes the tray item away.
    let _ = forwarding.await;
    0
}

/// Turns start-with-session on at the first sign-in; later it is the
/// user's toggle. Small file writes, off the runtime's workers.
pub(crate) async fn autostart_on_first_sign_in(data_dir: &Path) {
    let data_dir = data_dir.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        let Ok(mut config) = AppConfig::load(&data_dir) else {
            return;
        };
        if config.current.is_none() || config.autostart_set_up {
            return;
        }
        if let Err(e) = autostart::set(true) {
            tracing::warn!(error = %e, "cannot turn on start-with-session");
            return;
        }
        config.autostart_set_up = true;
        if let Err(e) = config.save(&data_dir) {
            tracing::warn!(error = %e, "cannot save the config");
        }
    })
    .await;
}

/// Draws the latest status on the tray and the dock's badge, on its own:
/// a desktop that is slow to answer delays them, never the window's
/// events. Takes the item away when the status ends.
async fn draw_tray(mut tray: tray::Tray, mut status: tokio::sync::watch::Receiver<EngineStatus>) {
    let mut badge = launcher::LauncherBadge::default();
    loop {
        let snapshot = status.borrow_and_update().clone();
        tray.update(&snapshot).await;
        badge.show(snapshot.unread).await;
        if status.changed().await.is_err() {
            tray.remove().await;
            return;
        }
    }
}

/// The one place that maps core changes to the tray and to window events.
async fn forward_core_changes(app: Arc<App>, tray: tray::Tray) {
    let mut status = app.engine.status();
    let mut events = app.engine.subscribe();
    let (to_tray, for_tray) = tokio::sync::watch::channel(status.borrow().clone());
    let drawing = tokio::spawn(draw_tray(tray, for_tray));
    loop {
        let snapshot = status.borrow_and_update().clone();
        app.window.emit(UiEvent::Status(snapshot.clone()));
        to_tray.send_replace(snapshot);
        loop {
            tokio::select! {
                changed = status.changed() => {
                    if changed.is_err() {
                        drop(to_tray);
                        let _ = drawing.await;
                        return;
                    }
                    break;
                }
                event = events.recv() => match event {
                    Ok(e) => app.window.emit(UiEvent::EngineEvent(e)),
                    Err(RecvError::Lagged(_)) => {
                        app.window.emit(UiEvent::EngineEvent(EngineEvent::NotificationsChanged))
                    }
                    Err(RecvError::Closed) => {
                        drop(to_tray);
                        let _ = drawing.await;
                        return;
                    }
                },
            }
        }
    }
}
