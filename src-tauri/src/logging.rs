//! Logs to stderr and to a daily-rotating file under `<data dir>/logs`.
//! Every line (panics too) is cleaned before it is written anywhere:
//! terminal codes stripped, the exact secrets this process holds scrubbed,
//! and whatever still looks like a token (`eyJ…`, `token=`, `"refresh":"…"`,
//! any case) redacted.

use std::io::{self, Write};
use std::path::Path;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Where a value that looks secret starts, lowercase; it runs to the next
/// quote, separator or space.
const MARKERS: [&str; 9] = [
    "token=",
    "password=",
    "refresh=",
    "access=",
    "\"access\":\"",
    "\"refresh\":\"",
    "\"password\":\"",
    "\"token\":\"",
    "bearer ",
];

fn ends_secret(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '"' | '\'' | '&' | ',' | ';' | '<' | '>' | '}' | ')' | '\\'
        )
}

/// Redacts JWTs (`eyJ…`) and the values after [`MARKERS`], matched
/// without regard to case.
pub fn redact(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while at < line.len() {
        let next = std::iter::once(lower[at..].find("eyj").map(|i| (i, 0)))
            .chain(
                MARKERS
                    .iter()
                    .map(|m| lower[at..].find(m).map(|i| (i, m.len()))),
            )
            .flatten()
            .min_by_key(|&(i, _)| i);
        let Some((offset, marker_len)) = next else {
            break;
        };
        let start = at + offset + marker_len;
        let len = line[start..]
            .find(ends_secret)
            .unwrap_or(line.len() - start);
        if len == 0 {
            out.push_str(&line[at..start]);
            at = start;
            continue;
        }
        out.push_str(&line[at..start]);
        out.push_str("<redacted>");
        at = start + len;
    }
    out.push_str(&line[at..]);
    out
}

/// What a line becomes before it is written: plain text, no secret.
pub fn clean(raw: &[u8]) -> String {
    let plain = strip_ansi_escapes::strip(raw);
    let text = String::from_utf8_lossy(&plain);
    redact(&smarthunt_core::secret::scrub(&text))
}

/// A writer that redacts each buffer before passing it on.
pub struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(clean(buf).as_bytes())?;
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

/// The target of the panic hook's log line. Standard error leaves it out:
/// the hook writes a panic there itself, whatever the filter.
const PANIC_TARGET: &str = "smarthunt::panic";

/// Redacted lines on standard error.
fn stderr_layer<S>(levels: &str) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(RedactingMake(io::stderr))
        .with_target(false)
        .with_filter(filter(levels).and(filter_fn(|m| m.target() != PANIC_TARGET)))
}

/// Logging for the window process: warnings and errors, redacted, on
/// standard error (the tray app passes it on to its own).
pub fn init_stderr() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(stderr_layer("warn"))
        .try_init();
    clean_panics();
}

/// Panics are cleaned like every other line, with a backtrace when
/// `RUST_BACKTRACE` asks for one. They always reach stderr, whatever
/// `SMARTHUNT_LOG` lets through (`off` too): a crash must never go unsaid.
/// The log file has them as its filter allows.
fn clean_panics() {
    std::panic::set_hook(Box::new(|info| {
        let backtrace = std::backtrace::Backtrace::capture();
        let text = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("{info}\n{backtrace}"),
            _ => info.to_string(),
        };
        // As the stderr layer would write it: time, level, message.
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let line = format!("{now} ERROR panic: {text}\n");
        let _ = io::stderr().write_all(clean(line.as_bytes()).as_bytes());
        tracing::error!(target: PANIC_TARGET, "panic: {text}");
    }));
}

/// Starts logging; keep the guard alive for the life of the process so the
/// file writer flushes.
pub fn init(data_dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let stderr = stderr_layer(TRAY_LEVELS);
    if let Err(e) = smarthunt_core::private::ensure_dir(&data_dir.join("logs")) {
        eprintln!("smarthunt-tray: {e}");
    }
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
    clean_panics();
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
        for line in [
            "url ?Token=opaque123 end",
            "TOKEN=opaque123 end",
            r#"body {"refresh":"opaque123","x":1} end"#,
            "Authorization: Bearer opaque123 end",
            "form password=opaque123&x end",
        ] {
            let out = redact(line);
            assert!(!out.contains("opaque123"), "{line} -> {out}");
            assert!(out.ends_with(" end"), "{out}");
        }
    }

    #[test]
    fn colour_codes_do_not_hide_a_token_from_the_scrubber() {
        // A colour terminal writes the field name and `=` apart.
        let raw = b"\x1b[3mtoken\x1b[0m\x1b[2m=\x1b[0mopaque-secret-7 done\n";
        let out = clean(raw);
        assert!(!out.contains("opaque-secret-7"), "{out}");
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(out.ends_with(" done\n"), "{out:?}");
    }

    /// Runs this test binary again as a child that panics with a held
    /// secret in the message; the child's stderr is what a user would see.
    #[test]
    fn a_panic_goes_through_the_same_scrubbing() {
        const CHILD: &str = "SMARTHUNT_TEST_PANIC_CHILD";
        if std::env::var_os(CHILD).is_some() {
            use smarthunt_core::secret::{hold, Held, Sensitive};
            init_stderr();
            hold(Held::Refresh, &Sensitive::new("opaque-refresh-4711"));
            panic!("lost it: opaque-refresh-4711 and Token=abc123 here");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "logging::tests::a_panic_goes_through_the_same_scrubbing",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the child panicked");
        assert!(
            stderr.contains("ERROR panic:") && stderr.contains("lost it"),
            "{stderr}"
        );
        assert!(!stderr.contains("opaque-refresh-4711"), "{stderr}");
        assert!(!stderr.contains("abc123"), "{stderr}");
    }

    /// As the tray app and the headless run start logging (`init`), at
    /// each filter: a child panics with a held secret; its stderr and log
    /// file are what a user would see.
    #[test]
    fn a_panic_reaches_stderr_once_and_scrubbed_whatever_the_filter() {
        const CHILD: &str = "SMARTHUNT_TEST_PANIC_DATA_DIR";
        if let Some(dir) = std::env::var_os(CHILD) {
            use smarthunt_core::secret::{hold, Held, Sensitive};
            let _log = init(Path::new(&dir));
            hold(Held::Refresh, &Sensitive::new("opaque-refresh-4711"));
            panic!("lost it: opaque-refresh-4711 here");
        }
        for filter in ["off", "info", "trace"] {
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "logging::tests::a_panic_reaches_stderr_once_and_scrubbed_whatever_the_filter",
                    "--nocapture",
                ])
                .env(CHILD, dir.path())
                .env("SMARTHUNT_LOG", filter)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{filter}: the child panicked");
            assert_eq!(
                (
                    stderr.matches("ERROR panic:").count(),
                    stderr.matches("lost it").count()
                ),
                (1, 1),
                "{filter}: said once on stderr: {stderr}"
            );
            assert!(
                !stderr.contains("opaque-refresh-4711"),
                "{filter}: {stderr}"
            );
            let mut logged = String::new();
            for file in std::fs::read_dir(dir.path().join("logs")).unwrap() {
                logged += &std::fs::read_to_string(file.unwrap().path()).unwrap();
            }
            assert_eq!(
                logged.contains("panic: ") && logged.contains("lost it"),
                filter != "off",
                "{filter}: the log file has it as its filter allows: {logged}"
            );
            assert!(
                !logged.contains("opaque-refresh-4711"),
                "{filter}: {logged}"
            );
        }
    }

    #[test]
    fn held_secrets_are_scrubbed_whatever_their_shape() {
        use smarthunt_core::secret::{hold, Held, Sensitive};
        hold(Held::Password, &Sensitive::new("correct horse battery"));
        let out = clean(b"login failed for correct horse battery!\n");
        assert_eq!(out, "login failed for <redacted>!\n");
    }
}
