//! Why a desktop session or its tray host could not start: each variant
//! reads as a sentence, so a benchmark can report it and a test can fail
//! with it.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A program the session runs is not installed.
    #[error("`{tool}` is missing: run scripts/setup (it installs xvfb dbus dbus-x11 dunst gnome-keyring libsecret-tools python3-dbus-next python3-xlib xdotool)")]
    MissingTool { tool: &'static str },
    /// The fresh HOME could not be laid out.
    #[error("cannot prepare {}: {source}", path.display())]
    Home {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A program of the session could not be started, fed or read.
    #[error("cannot run {program}: {source}")]
    Run {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A program started but did not get ready in time.
    #[error("{program} was not ready after {} s: {waited_for}", limit.as_secs())]
    NotReady {
        program: &'static str,
        waited_for: String,
        limit: Duration,
    },
    /// A program ran but did not do what the session needs of it.
    #[error("{program} {what}")]
    Misbehaved { program: &'static str, what: String },
}

impl Error {
    pub(crate) fn home(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Home { path, source }
    }

    pub(crate) fn run(program: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Run { program, source }
    }

    pub(crate) fn misbehaved(program: &'static str, what: impl std::fmt::Display) -> Self {
        Self::Misbehaved {
            program,
            what: what.to_string(),
        }
    }
}
