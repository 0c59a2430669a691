//! The Tauri shell: tray, window, native popups with actions, keychain,
//! autostart and single instance around the core engine. Thin: every
//! decision is the core's; this maps core changes to the tray and the
//! window, and the user's clicks to engine intents.

mod actions;
mod after_close;
mod commands;
mod error;
mod tray;
mod window;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use smarthunt_core::config::AppConfig;
use smarthunt_core::engine::{Engine, EngineError, EngineTask, Ports, Tuning};
use smarthunt_core::ports::Notifier;
use smarthunt_core::secret::SecretStore;
use smarthunt_core::store::StoreError;
use tauri::{AppHandle, Emitter, Manager, RunEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt};

use crate::desktop_notifier::{DesktopNotifier, PopupTargets};
use crate::keychain::Keychain;
use crate::logging;
use window::OpenItem;

/// What the commands and the tray share.
pub struct AppState {
    pub engine: Engine,
    pub data_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    /// What a window being built should show once it has loaded.
    pub pending_open: Mutex<Option<OpenItem>>,
    task: Mutex<Option<EngineTask>>,
}

/// Runs the tray app until Quit. `hidden`: start in the tray with no
/// window (autostart); the window opens anyway when there is no tray host.
pub fn run(data_dir: PathBuf, hidden: bool) -> u8 {
    let _log = logging::init(&data_dir);
    let Some(runtime) = runtime() else { return 1 };
    launch(runtime, data_dir, hidden, Arc::new(Keychain), None)
}

/// The tray app signed in to an embedded dev server with its scenario.
pub fn run_demo() -> u8 {
    let Some(runtime) = runtime() else { return 1 };
    let demo = match runtime.block_on(crate::headless::Demo::start()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let (dir, secrets) = (demo.dir.clone(), demo.secrets.clone());
    // The dev server keeps running on the shared runtime until Quit.
    launch(runtime, dir, false, secrets, Some(demo))
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    crate::runtime()
        .map_err(|e| eprintln!("smarthunt-tray: cannot start: {e}"))
        .ok()
}

fn launch(
    runtime: tokio::runtime::Runtime,
    data_dir: PathBuf,
    hidden: bool,
    secrets: Arc<dyn SecretStore>,
    demo: Option<crate::headless::Demo>,
) -> u8 {
    // One runtime for the app and Tauri.
    tauri::async_runtime::set(runtime.handle().clone());
    let context = tauri::generate_context!();
    let app = tauri::Builder::default()
        // First: a second launch hands over to this one and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app, None);
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .invoke_handler(tauri::generate_handler![
            commands::get_status,
            commands::list_notifications,
            commands::open_notification,
            commands::mark_read,
            commands::mark_all_read,
            commands::decide_booking,
            commands::list_conversations,
            commands::get_thread,
            commands::send_message,
            commands::get_settings,
            commands::set_policy,
            commands::set_autostart,
            commands::pause,
            commands::sign_in,
            commands::sign_out,
            commands::window_opened,
        ])
        .setup(move |app| {
            setup(app.handle(), data_dir.clone(), hidden, secrets.clone())?;
            Ok(())
        })
        .build(context);
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smarthunt-tray: cannot start the window system: {e}");
            return 1;
        }
    };
    let mut demo = demo;
    app.run(move |app, event| match event {
        // Closing the last window keeps the app in the tray.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = app.try_state::<AppState>() {
                let task = state.task.lock().unwrap_or_else(|p| p.into_inner()).take();
                let engine = state.engine.clone();
                tauri::async_runtime::block_on(async move {
                    engine.shutdown().await;
                    if let Some(t) = task {
                        t.join().await;
                    }
                });
            }
            if let Some(d) = demo.take() {
                tauri::async_runtime::block_on(d.stop());
            }
        }
        _ => {}
    });
    0
}

fn setup(
    app: &AppHandle,
    data_dir: PathBuf,
    hidden: bool,
    secrets: Arc<dyn SecretStore>,
) -> Result<(), Box<dyn std::error::Error>> {
    let targets = PopupTargets::default();
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier::start(Some(targets.clone())));
    let ports = Ports {
        notifier: notifier.clone(),
        secrets: secrets.clone(),
    };
    // Tokio-based parts (engine, watchers) start inside the shared runtime.
    let _guard = tauri::async_runtime::handle().inner().enter();
    let (engine, task) = match Engine::start(data_dir.clone(), Tuning::default(), ports) {
        Ok(e) => e,
        Err(EngineError::Store(e @ StoreError::AlreadyRunning { .. })) => {
            // A headless instance holds the data dir.
            eprintln!("smarthunt-tray: {e}");
            std::process::exit(4);
        }
        Err(e) => return Err(Box::new(e)),
    };
    app.manage(AppState {
        engine: engine.clone(),
        data_dir: data_dir.clone(),
        secrets,
        pending_open: Mutex::new(None),
        task: Mutex::new(Some(task)),
    });
    tray::create(app)?;
    tauri::async_runtime::spawn(forward_core_changes(app.clone(), engine.clone()));
    actions::listen(app.clone(), engine.clone(), targets, notifier);
    let nudger = engine.clone();
    crate::network::watch(move || nudger.nudge());
    if AppConfig::load(&data_dir).is_ok_and(|c| c.current.is_some()) {
        autostart_on_first_sign_in(app, &data_dir);
    }
    // SIGTERM (the session ending) and Ctrl-C quit cleanly, like Quit.
    let quitter = app.clone();
    tauri::async_runtime::spawn(async move {
        crate::headless::wait_for_signal().await;
        quitter.exit(0);
    });
    let app2 = app.clone();
    tauri::async_runtime::spawn(async move {
        let has_tray = tray::host_available().await;
        if !has_tray {
            tracing::warn!(
                "no tray host (StatusNotifierWatcher) on this desktop: showing the window"
            );
        }
        if !hidden || !has_tray {
            window::show(&app2, None);
        }
    });
    Ok(())
}

/// Turns start-with-session on at the first sign-in; later it is the
/// user's toggle.
pub(crate) fn autostart_on_first_sign_in(app: &AppHandle, data_dir: &Path) {
    let Ok(config) = AppConfig::load(data_dir) else {
        return;
    };
    if config.autostart_set_up {
        return;
    }
    if let Err(e) = app.autolaunch().enable() {
        tracing::warn!(error = %e, "cannot turn on start-with-session");
        return;
    }
    let mut config = config;
    config.autostart_set_up = true;
    if let Err(e) = config.save(data_dir) {
        tracing::warn!(error = %e, "cannot save the config");
    }
}

/// The one place that maps core changes to the tray and to window events.
async fn forward_core_changes(app: AppHandle, engine: Engine) {
    let mut status = engine.status();
    let mut events = engine.subscribe();
    let mut last = None;
    loop {
        let snapshot = status.borrow_and_update().clone();
        tray::update(&app, &snapshot, &mut last);
        let _ = app.emit_to(window::MAIN, "status", &snapshot);
        // A pause ends without a status change: redraw then.
        let pause_ends = snapshot
            .paused_until_ms
            .map(|t| t - chrono::Utc::now().timestamp_millis())
            .filter(|ms| *ms > 0)
            .map(|ms| {
                tokio::time::Instant::now() + std::time::Duration::from_millis(ms as u64 + 50)
            });
        loop {
            tokio::select! {
                changed = status.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                event = events.recv() => match event {
                    Ok(e) => {
                        let _ = app.emit_to(window::MAIN, "engine-event", &e);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = app.emit_to(
                            window::MAIN,
                            "engine-event",
                            smarthunt_core::engine::EngineEvent::NotificationsChanged,
                        );
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = async {
                    match pause_ends {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => break,
            }
        }
    }
}
