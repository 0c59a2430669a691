//! Declares the app's IPC commands so that capability files really restrict
//! them (an undeclared command is allowed in every window).

/// Every command the window may call, one a line, as `tests/contract.rs`
/// writes it from `src/calls.rs`; `capabilities/main.json` grants them to
/// the main window only.
const COMMANDS: &str = include_str!("commands.list");

fn main() {
    println!("cargo:rerun-if-changed=commands.list");
    // tauri-build keeps the list for the whole build: a build script may.
    let commands: &'static [&'static str] =
        Vec::leak(COMMANDS.lines().filter(|l| !l.is_empty()).collect());
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build: the app manifest is valid");
}
