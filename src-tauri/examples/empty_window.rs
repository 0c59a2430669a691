//! The floor of the window-open benchmark (`smarthunt-bench`, section
//! `window-open`): a Tauri window as SmartHunt's own (the same config, CSP,
//! capability, size and asset protocol; the same "painted" call after two
//! frames) showing an empty page, and nothing else: no tray app, no
//! socket, no query, no UI code. It prints `painted` on standard output
//! once the page is on the screen, and runs until its window is closed or
//! it is ended. An example, not a binary: nothing installs it.
//!
//!     cargo build -p smarthunt-tray --example empty_window

use std::borrow::Cow;
use std::io::Write;
use std::process::ExitCode;

use tauri::ipc::InvokeBody;
use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{Assets, Runtime};

/// An empty page loading one module, as `ui/app/index.html` does.
const PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
    <title>SmartHunt</title>\n<script type=\"module\" src=\"painted.js\"></script>\n</head>\n\
    <body></body>\n</html>\n";

/// The signal `ui/app/main.js` sends: by the second frame, the first has
/// been painted.
const SCRIPT: &str = "requestAnimationFrame(() => requestAnimationFrame(() => \
    window.__TAURI__.core.invoke('first_page_shown', { rows: 0 })));\n";

/// The page and its script, in place of the app's `ui/app`.
struct EmptyPage;

impl EmptyPage {
    const FILES: [(&'static str, &'static str); 2] =
        [("/index.html", PAGE), ("/painted.js", SCRIPT)];
}

impl<R: Runtime> Assets<R> for EmptyPage {
    fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        Self::FILES
            .iter()
            .find(|(path, _)| *path == key.as_ref())
            .map(|(_, text)| Cow::Borrowed(text.as_bytes()))
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(
            Self::FILES
                .iter()
                .map(|(path, text)| (Cow::Borrowed(*path), Cow::Borrowed(text.as_bytes()))),
        )
    }

    fn csp_hashes(&self, _html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

fn main() -> ExitCode {
    let mut context = tauri::generate_context!();
    context.set_assets(Box::new(EmptyPage));
    let built = tauri::Builder::default()
        .invoke_handler(|invoke| {
            let painted = invoke.message.command() == "first_page_shown"
                && matches!(invoke.message.payload(), InvokeBody::Json(_));
            if painted {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "painted");
                let _ = out.flush();
            }
            invoke.resolver.resolve(());
            true
        })
        .setup(|app| {
            // As smarthunt-window opens its window.
            let window = smarthunt_tray::window_builder(app, "main").build()?;
            let _ = window.set_focus();
            Ok(())
        })
        .build(context);
    match built {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("empty_window: cannot start the window system: {e}");
            ExitCode::FAILURE
        }
    }
}
