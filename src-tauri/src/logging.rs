//! Logs to stderr and to a daily-rotating file under `<data dir>/logs`,
//! with anything that looks like a token scrubbed from every line before it
//! is written anywhere.

use std::io::{self, Write};
use std::path::Path;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Replaces JWTs (`eyJ...`) and `token=` query values with `<redacted>`.
pub fn redact(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let jwt = rest.find("eyJ");
        let query = rest.find("token=");
        let next = match (jwt, query) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = next else {
            out.push_str(rest);
            return out;
        };
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let skip = if from.starts_with("token=") {
            out.push_str("token=");
            6
        } else {
            0
        };
        let secret_len = from[skip..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '%')))
            .unwrap_or(from.len() - skip);
        out.push_str("<redacted>");
        rest = &from[skip + secret_len..];
    }
}

/// A writer that redacts each buffer before passing it on.
pub struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[derive(Clone)]
struct RedactingMake<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMake<M> {
    type Writer = Redacting<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting(self.0.make_writer())
    }
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("SMARTHUNT_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// The tray app's levels, unless `SMARTHUNT_LOG` says otherwise.
const TRAY_LEVELS: &str = "info,hyper=warn,reqwest=warn,tungstenite=warn";

/// Redacted lines on standard error.
fn stderr_layer<S>(levels: &str) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(RedactingMake(io::stderr))
        .with_target(false)
        .with_filter(filter(levels))
}

/// Logging for the window process: warnings and errors, redacted, on
/// standard error (the tray app passes it on to its own).
pub fn init_stderr() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(stderr_layer("warn"))
        .try_init();
}

/// Starts logging; keep the guard alive for the life of the process so the
/// file writer flushes.
pub fn init(data_dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let stderr = stderr_layer(TRAY_LEVELS);
    let _ = std::fs::create_dir_all(data_dir.join("logs"));
    let file_appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("smarthunt")
        .filename_suffix("log")
        .max_log_files(7)
        .build(data_dir.join("logs"));
    let (file_layer, guard) = match file_appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(RedactingMake(writer))
                .with_filter(filter(TRAY_LEVELS));
            (Some(layer), Some(guard))
        }
        Err(e) => {
            eprintln!("smarthunt-tray: cannot open the log directory: {e}");
            (None, None)
        }
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
    guard
}

use tracing_subscriber::Layer as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_tokens_from_lines() {
        let line = "GET ws://h/ws/notifications/?token=abc.def-ghi HTTP error eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoxfQ.sig done";
        let clean = redact(line);
        assert!(!clean.contains("abc.def"));
        assert!(!clean.contains("eyJ"));
        assert!(clean.ends_with(" done"));
        assert_eq!(redact("nothing here"), "nothing here");
    }
}
