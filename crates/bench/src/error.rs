//! Why a benchmark could not be measured. Every variant reads as a sentence
//! for the report's note; no failure path panics.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The desktop session (or a program it needs) did not start.
    #[error(transparent)]
    Desktop(#[from] smarthunt_desktop_session::Error),
    #[error("timed out after {:.0} s waiting for {what}", limit.as_secs_f64())]
    Timeout { what: String, limit: Duration },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    pub fn failed(what: impl std::fmt::Display) -> Self {
        Self::Failed(what.to_string())
    }

    pub fn timeout(what: impl Into<String>, limit: Duration) -> Self {
        Self::Timeout {
            what: what.into(),
            limit,
        }
    }

    /// Wraps an I/O error with what was being done, for `map_err`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

pub type BenchResult<T> = Result<T, BenchError>;
