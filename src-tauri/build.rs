//! Declares the app's IPC commands so that capability files really restrict
//! them (an undeclared command is allowed in every window).

/// Every command the window may call; `capabilities/main.json` grants them
/// to the main window only.
const COMMANDS: &[&str] = &[
    "get_status",
    "list_notifications",
    "open_notification",
    "mark_read",
    "mark_all_read",
    "decide_booking",
    "list_conversations",
    "get_thread",
    "send_message",
    "get_settings",
    "set_policy",
    "set_autostart",
    "pause",
    "sign_in",
    "sign_out",
    "window_opened",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build: the app manifest is valid");
}
