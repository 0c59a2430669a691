//! Start with the session: an XDG autostart entry that launches this
//! binary with `--hidden`, through the auto-launch crate.

use auto_launch::{AutoLaunch, AutoLaunchBuilder, LinuxLaunchMode};

/// The entry's name (`SmartHunt.desktop`), the same the Tauri autostart
/// plugin used for the single-process app, so an existing entry is kept.
const NAME: &str = "SmartHunt";

fn launcher() -> auto_launch::Result<AutoLaunch> {
    let exe = std::env::current_exe()?;
    AutoLaunchBuilder::new()
        .set_app_name(NAME)
        .set_app_path(&exe.display().to_string())
        .set_args(&["--hidden"])
        .set_linux_launch_mode(LinuxLaunchMode::XdgAutostart)
        .build()
}

pub fn set(enabled: bool) -> auto_launch::Result<()> {
    let launcher = launcher()?;
    if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    }
}

pub fn is_enabled() -> bool {
    launcher().and_then(|l| l.is_enabled()).unwrap_or(false)
}
