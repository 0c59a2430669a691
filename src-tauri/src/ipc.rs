//! The wire between the tray process and its window process: JSON, one
//! message a line, over a Unix socket under `$XDG_RUNTIME_DIR` (the data
//! dir where there is none; both the user's own, mode 0700, and the socket
//! itself 0600).
//!
//! The window first shows the secret the tray gave it when it started it
//! (`Hello`, the secret on the window's standard input: never on a command
//! line). A connection without it may only ask for the window (`Show`, what
//! a second `smarthunt-tray` sends before it exits). With it, the window
//! sends the page's commands as they come (`Call`, answered by a `Reply` of
//! the same id) and says it is the window (`Window`), after which the tray
//! sends it the core's events. A message that is not understood is skipped; a
//! line over the limit ends the connection. Neither ends either process.
//!
//! Hand-written rather than a JSON-RPC crate: the whole protocol is the two
//! enums below over tokio's line codec, and the crates we looked at
//! (jsonrpsee, tarpc) would bring an HTTP or a serde-transport stack of
//! their own into the process we keep small.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::UnixStream;

use crate::calls::Call;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec, LinesCodecError};

pub use smarthunt_core::protocol::encoded_len;

/// Longest line the tray reads: a command and its arguments (a chat message
/// is at most 5,000 characters).
pub const MAX_CALL_LINE: usize = 1 << 20;
/// Longest line the window reads: a reply holds at most one page of rows.
pub const MAX_REPLY_LINE: usize = 32 << 20;

/// Window (or a second launch) to tray. Its `Debug` leaves out a call's
/// arguments: they may hold a password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToTray {
    /// The window's first message: the secret it was started with.
    Hello { secret: String },
    /// A command from the page: `{"type": "call", "id", "cmd", "args"}`.
    Call {
        id: u64,
        #[serde(flatten, deserialize_with = "call_from_wire")]
        call: Call,
    },
    /// This connection is the window: send it the core's events.
    Window,
    /// Open the window, or bring it to the front.
    Show,
}

/// Tray to window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWindow {
    /// The answer to `Call` `id`: its value, or an error `{code, message}`.
    Reply {
        id: u64,
        result: Result<Value, Value>,
    },
    /// An event for the page (`status`, `engine-event`, `open-item`).
    Event { name: String, payload: Value },
    /// Come to the front (the user asked for the window again).
    Raise,
}

fn call_from_wire<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Call, D::Error> {
    let fields = serde_json::Map::deserialize(d)?;
    Call::from_wire(fields).map_err(serde::de::Error::custom)
}

impl std::fmt::Debug for ToTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Call { id, call } => f
                .debug_struct("Call")
                .field("id", id)
                .field("cmd", &call.name())
                .finish_non_exhaustive(),
            Self::Hello { .. } => f.write_str("Hello"),
            Self::Window => f.write_str("Window"),
            Self::Show => f.write_str("Show"),
        }
    }
}

/// Where the tray process of `data_dir` listens: in `smarthunt-desktop/`
/// under `$XDG_RUNTIME_DIR` (made 0700 if missing), out of reach of what
/// can only see the home directory; in the data dir where the runtime dir
/// is missing or not private.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    use smarthunt_core::private::{check_private, ensure_dir};
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let Some(runtime) = runtime.filter(|d| d.is_absolute()) else {
        return socket_path_in(data_dir, None);
    };
    let path = socket_path_in(data_dir, Some(&runtime));
    let usable = check_private(&runtime).and_then(|()| path.parent().map_or(Ok(()), ensure_dir));
    match usable {
        Ok(()) => path,
        Err(e) => {
            tracing::warn!(error = %e, "the runtime dir cannot hold the socket; using the data dir");
            socket_path_in(data_dir, None)
        }
    }
}

/// [`socket_path`] for a given runtime dir, without touching the disk: one
/// socket per data dir, named by a hash of its path (stable across builds).
pub fn socket_path_in(data_dir: &Path, runtime_dir: Option<&Path>) -> PathBuf {
    match runtime_dir.filter(|d| d.is_absolute()) {
        Some(run) => {
            use std::os::unix::ffi::OsStrExt;
            let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
            // FNV-1a: tiny, and the same in every build (std's hasher is not
            // promised to be).
            let hash = dir
                .as_os_str()
                .as_bytes()
                .iter()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
                });
            run.join("smarthunt-desktop")
                .join(format!("{hash:016x}.sock"))
        }
        None => data_dir.join("app.sock"),
    }
}

/// The window's secret is drawn at random each launch; a test standing in
/// for the window sets it with this variable when it starts the tray.
pub const WINDOW_SECRET_ENV: &str = "SMARTHUNT_WINDOW_SECRET";

/// The window's secret for this launch.
pub fn window_secret() -> smarthunt_core::secret::Sensitive {
    let secret = std::env::var(WINDOW_SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    let secret = smarthunt_core::secret::Sensitive::new(secret);
    smarthunt_core::secret::hold(smarthunt_core::secret::Held::Window, &secret);
    secret
}

/// Compares without stopping at the first difference.
pub fn same_secret(given: &str, want: &str) -> bool {
    given.len() == want.len()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Connects to the tray app's socket, trying again every 100 ms for up to
/// `limit` while nobody listens there yet (a tray app that is starting);
/// the last attempt's error after that.
pub async fn connect_within(socket: &Path, limit: Duration) -> std::io::Result<UnixStream> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match UnixStream::connect(socket).await {
            Ok(s) => return Ok(s),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the other process closed the connection")]
    Closed,
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The end of the wire: nothing after such a line is read.
    #[error("a line longer than {0} bytes")]
    TooLong(usize),
    /// A line that is not a message of ours; `id` if it was a call.
    #[error("a message that is not understood: {error}")]
    Decode {
        error: serde_json::Error,
        id: Option<u64>,
    },
    #[error("a message that cannot be written: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Both halves of the wire over `stream`: reads `R`, writes `W`, a line
/// each; lines longer than `max_line` are refused.
pub fn wire<R, W>(stream: UnixStream, max_line: usize) -> (WireReader<R>, WireWriter<W>) {
    let (read, write) = stream.into_split();
    (
        WireReader {
            framed: FramedRead::new(read, LinesCodec::new_with_max_length(max_line)),
            _types: std::marker::PhantomData,
        },
        WireWriter {
            framed: FramedWrite::new(write, LinesCodec::new()),
            _types: std::marker::PhantomData,
        },
    )
}

pub struct WireReader<R> {
    framed: FramedRead<tokio::net::unix::OwnedReadHalf, LinesCodec>,
    _types: std::marker::PhantomData<fn() -> R>,
}

impl<R: serde::de::DeserializeOwned> WireReader<R> {
    pub async fn recv(&mut self) -> Result<R, WireError> {
        match self.framed.next().await {
            None => Err(WireError::Closed),
            Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                Err(WireError::TooLong(self.framed.decoder().max_length()))
            }
            Some(Err(LinesCodecError::Io(e))) => Err(WireError::Io(e)),
            Some(Ok(line)) => serde_json::from_str(&line).map_err(|error| WireError::Decode {
                error,
                id: serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64()),
            }),
        }
    }
}

pub struct WireWriter<W> {
    framed: FramedWrite<tokio::net::unix::OwnedWriteHalf, LinesCodec>,
    _types: std::marker::PhantomData<fn(W)>,
}

impl<W: Serialize + Send + Sync + 'static> WireWriter<W> {
    pub async fn send(&mut self, message: &W) -> Result<(), WireError> {
        let line = serde_json::to_string(message)?;
        self.framed.send(line).await.map_err(|e| match e {
            LinesCodecError::Io(e) => WireError::Io(e),
            // Only reading has a limit.
            LinesCodecError::MaxLineLengthExceeded => WireError::TooLong(usize::MAX),
        })
    }

    /// Writes what is sent on the returned channel (at most `queue`
    /// waiting), in order, until the other process stops reading; on the
    /// current runtime.
    pub fn spawn(mut self, queue: usize) -> mpsc::Sender<W> {
        let (tx, mut rx) = mpsc::channel::<W>(queue);
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if let Err(e) = self.send(&message).await {
                    tracing::info!(error = %e, "the other process stopped reading");
                    return;
                }
            }
        });
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_read_back_as_written() {
        let call = ToTray::Call {
            id: 7,
            call: Call::MarkRead(crate::calls::Item { local_id: 3 }),
        };
        let line = serde_json::to_string(&call).unwrap();
        assert_eq!(serde_json::from_str::<ToTray>(&line).unwrap(), call);
        assert_eq!(
            line, r#"{"type":"call","id":7,"cmd":"mark_read","args":{"localId":3}}"#,
            "the wire as the page's names make it"
        );
        let reply = ToWindow::Reply {
            id: 7,
            result: Err(json!({"code": "bad_input", "message": "no"})),
        };
        let line = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<ToWindow>(&line).unwrap(), reply);
        assert_eq!(
            serde_json::from_str::<ToTray>(
                r#"{"type":"call","id":1,"cmd":"get_status","args":{}}"#
            )
            .unwrap(),
            ToTray::Call {
                id: 1,
                call: Call::GetStatus {},
            },
            "a call without arguments"
        );
    }

    #[tokio::test]
    async fn a_bad_message_is_skipped_and_an_endless_line_ends_the_wire() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut tray, _): (WireReader<ToTray>, WireWriter<ToWindow>) = wire(a, 64);
        let mut raw = tokio::io::BufWriter::new(b);
        use tokio::io::AsyncWriteExt;
        raw.write_all(
            b"{\"type\":\"nonsense\"}\n{\"type\":\"call\",\"id\":9}\n{\"type\":\"show\"}\n",
        )
        .await
        .unwrap();
        raw.write_all(&[b'x'; 100]).await.unwrap();
        raw.write_all(b"\n{\"type\":\"show\"}\n").await.unwrap();
        raw.flush().await.unwrap();
        assert!(matches!(
            tray.recv().await,
            Err(WireError::Decode { id: None, .. })
        ));
        assert!(
            matches!(
                tray.recv().await,
                Err(WireError::Decode { id: Some(9), .. })
            ),
            "a call without its command, answerable by its id"
        );
        assert_eq!(tray.recv().await.unwrap(), ToTray::Show, "read on");
        assert!(matches!(tray.recv().await, Err(WireError::TooLong(64))));
        assert!(
            matches!(tray.recv().await, Err(WireError::Closed)),
            "nothing is read after a line too long"
        );
    }
}
