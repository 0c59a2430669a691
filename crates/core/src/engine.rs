//! The engine: one task that owns the socket, the popup policy and the
//! connection state of the current account; it applies every frame and REST
//! result to the store, decides popups, runs the outbox, and publishes its
//! status. Callers talk to it through a cheap [`Engine`] handle. It knows
//! nothing of windows, trays or a particular notification service.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::api::{Api, ApiError};
use crate::config::{AccountRef, AppConfig};
use crate::connection::{
    Action, ConnectionState, Input, Reach, ReconnectPolicy, ServerVariant, Supervisor,
    SupervisorTiming,
};
use crate::policy::{self, PauseFor, PolicyChange, PolicySettings};
use crate::ports::{Notifier, Popup, PopupKey};
use crate::presenter::{Context, Presenter, Recount};
use crate::protocol::{
    self, ChatMessage, ClientFrame, IncomingNotification, NotificationKind, ServerFrame,
};
use crate::secret::{SecretStore, SecretStoreError, Sensitive};
use crate::session::{Session, SessionError};
use crate::store::{
    CellError, DataDirLock, Inserted, OutboxOp, Store, StoreCell, StoreError, StoredNotification,
};
use crate::sync::{self, SyncError, SyncReport};
use crate::transport::{Socket, Transport};
use crate::unread::{self, Unread};

/// Timings of the engine; tests shorten them.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// A WebSocket ping goes out this often.
    pub heartbeat_every: Duration,
    /// Silence (no frame, no pong) after which the socket counts as dead.
    pub heartbeat_timeout: Duration,
    /// Backoff for handshakes that fail (a socket that opened resets it).
    pub reconnect: ReconnectPolicy,
    /// Two handshakes start at least this far apart.
    pub handshake_gap: Duration,
    /// Reads made elsewhere are looked for this often: one stats call, and
    /// the unread list only when the server counts fewer unread than we do.
    pub reconcile_every: Duration,
    /// The unread list is walked at least this often whatever the counts
    /// say (a read elsewhere and a new arrival can balance out).
    pub full_reconcile_every: Duration,
    /// Config changes, sleep/resume and quiet-hours ends are checked this often.
    pub housekeeping_every: Duration,
    /// No proving frame this long after connecting means the legacy consumer.
    pub legacy_after: Duration,
    /// Notifications without an id match earlier ones with the same content
    /// within this window.
    pub dedupe_window: Duration,
    /// A failed outbox item is retried after this long.
    pub outbox_retry: Duration,
}

impl Tuning {
    fn supervisor(&self) -> SupervisorTiming {
        SupervisorTiming {
            heartbeat_every: self.heartbeat_every,
            heartbeat_timeout: self.heartbeat_timeout,
            legacy_after: self.legacy_after,
            reconnect: self.reconnect,
            handshake_gap: self.handshake_gap,
        }
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            heartbeat_every: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(30),
            reconnect: ReconnectPolicy::default(),
            handshake_gap: Duration::from_secs(2),
            reconcile_every: Duration::from_secs(30),
            full_reconcile_every: Duration::from_secs(180),
            housekeeping_every: Duration::from_secs(5),
            legacy_after: Duration::from_secs(3),
            dedupe_window: Duration::from_secs(120),
            outbox_retry: Duration::from_secs(30),
        }
    }
}

/// Everything the engine needs from outside.
#[derive(Clone)]
pub struct Ports {
    pub notifier: Arc<dyn Notifier>,
    pub secrets: Arc<dyn SecretStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the engine has stopped")]
    Stopped,
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("not signed in")]
    NotSignedIn,
    /// No notification with this local id is kept here.
    #[error("there is no notification {local_id} here")]
    NotFound { local_id: i64 },
    /// Approve/Decline on a notification that asks no decision of this
    /// user: it names no booking, the booking no longer waits, or the
    /// user is not its landlord.
    #[error("there is no booking request here for you to decide")]
    NoBooking,
    /// Approve/Decline while another decision on the same booking (from a
    /// popup or the window) is still on its way to the server.
    #[error("this booking request is already being answered")]
    BeingDecided,
    /// Chat history needs to know who we are: the profile has not come yet.
    #[error("our user id is not known yet")]
    UserUnknown,
}

impl From<CellError> for EngineError {
    fn from(e: CellError) -> Self {
        match e {
            CellError::Store(e) => Self::Store(e),
            CellError::NotOpen => Self::NotSignedIn,
            CellError::Stopped => Self::Stopped,
        }
    }
}

impl From<SyncError> for EngineError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Api(e) => Self::Api(e),
            SyncError::Store(e) => e.into(),
            SyncError::UserUnknown => Self::UserUnknown,
        }
    }
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountInfo {
    pub server: String,
    pub username: String,
    pub user_id: Option<i64>,
    pub role: Option<String>,
}

impl AccountInfo {
    /// The signed-in user, for the rules that depend on who looks.
    pub fn viewer(&self) -> policy::Viewer<'_> {
        policy::Viewer::new(self.role.as_deref(), self.user_id)
    }
}

/// What the tray and the window render.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineStatus {
    pub connection: ConnectionState,
    pub unread: u64,
    pub account: Option<AccountInfo>,
    pub outbox_pending: usize,
    /// Popups are paused until then (unix ms); cleared, and published, the
    /// moment the pause ends.
    pub paused_until_ms: Option<i64>,
    /// Inside the user's quiet hours now (popups held); published as they
    /// begin and end.
    pub quiet_now: bool,
    /// Why the local store cannot be written (disk full, read-only), until
    /// a write succeeds again. Live notifications still pop meanwhile.
    pub storage_error: Option<String>,
}

/// Changes the window may want to re-query for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    NotificationsChanged,
    NotificationAdded {
        local_id: i64,
        #[serde(skip)]
        stages: Stages,
    },
    ChatChanged,
    BookingDecided {
        booking_id: i64,
        approved: bool,
    },
}

/// When each stage of a live notification's way through the engine was
/// done; benchmarks read it (it is never shown nor sent to the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// Its frame was taken off the socket by the engine's loop.
    pub read: Instant,
    /// The frame was decoded.
    pub decoded: Instant,
    /// Its batch was committed to the store.
    pub stored: Instant,
    /// The presenter decided its popups.
    pub decided: Instant,
    /// Those popups were handed to the notifier.
    pub shown: Instant,
}

/// Where a command's outcome goes.
type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// Where an intent's outcome goes: done (kept in the outbox, on its way to
/// the server, or applied) or why not.
type Done = Reply<()>;

enum Command {
    MarkRead {
        local_id: i64,
        done: Option<Done>,
    },
    MarkAllRead(Done),
    SendChat {
        receiver: i64,
        content: String,
        done: Done,
    },
    DecideBooking {
        local_id: i64,
        approve: bool,
        reply: Reply<i64>,
    },
    /// Changes the fields the change names; answers with the settings now.
    ChangeSettings {
        change: PolicyChange,
        reply: Reply<PolicySettings>,
    },
    /// Answers with the pause's end (unix ms), `None` when resumed.
    Pause {
        pause: PauseFor,
        reply: Reply<Option<i64>>,
    },
    /// The window opened: reconcile with the server now.
    Refresh(Done),
    /// Marks a notification read and fills in its `data` from the server
    /// when the list gave none.
    Open {
        local_id: i64,
        reply: Reply<StoredNotification>,
    },
    /// The config changed here (sign-in/out from the window): re-read it now.
    Reload(Done),
    /// The network came back or the machine woke: reconnect now. A signal
    /// from sync code, so the one command without an answer.
    Nudge,
    Shutdown,
}

impl Command {
    /// Answers a command that cannot be carried out with `why`.
    fn refuse(self, why: impl Fn() -> EngineError) {
        match self {
            Command::DecideBooking { reply, .. } => refuse(reply, why),
            Command::Open { reply, .. } => refuse(reply, why),
            Command::ChangeSettings { reply, .. } => refuse(reply, why),
            Command::Pause { reply, .. } => refuse(reply, why),
            Command::MarkRead {
                done: Some(done), ..
            }
            | Command::MarkAllRead(done)
            | Command::SendChat { done, .. }
            | Command::Refresh(done)
            | Command::Reload(done) => refuse(done, why),
            Command::MarkRead { done: None, .. } | Command::Nudge | Command::Shutdown => {}
        }
    }
}

fn refuse<T>(reply: Reply<T>, why: impl Fn() -> EngineError) {
    let _ = reply.send(Err(why()));
}

/// A cheap handle to the running engine.
#[derive(Clone)]
pub struct Engine {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<EngineStatus>,
    events: broadcast::Sender<EngineEvent>,
    store: StoreCell,
}

/// The running engine's task; await it after [`Engine::shutdown`].
pub struct EngineTask(JoinHandle<()>);

impl EngineTask {
    pub async fn join(self) {
        let _ = self.0.await;
    }
}

impl Engine {
    /// Takes the data dir's lock (a second engine refuses with a clear
    /// error) and starts the engine on the current tokio runtime.
    pub fn start(
        data_dir: PathBuf,
        tuning: Tuning,
        ports: Ports,
    ) -> Result<(Engine, EngineTask), EngineError> {
        crate::private::ensure_dir(&data_dir).map_err(|e| StoreError::Io(e.to_string()))?;
        let lock = DataDirLock::acquire(&data_dir)?;
        let (commands, command_rx) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(EngineStatus {
            connection: ConnectionState::Starting,
            unread: 0,
            account: None,
            outbox_pending: 0,
            paused_until_ms: None,
            quiet_now: false,
            storage_error: None,
        });
        let (events, _) = broadcast::channel(256);
        let store = StoreCell::default();
        let runner = Runner {
            data_dir,
            tuning,
            ports,
            commands: command_rx,
            status: status_tx,
            events: events.clone(),
            store: store.clone(),
            reloads_owed: Mutex::default(),
            _lock: lock,
        };
        let task = tokio::spawn(runner.run());
        Ok((
            Engine {
                commands,
                status,
                events,
                store,
            },
            EngineTask(task),
        ))
    }

    pub fn status(&self) -> watch::Receiver<EngineStatus> {
        self.status.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Runs a read-only query on the current account's store.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        Ok(self.store.run(move |s| f(s)).await?)
    }

    async fn send(&self, c: Command) -> Result<(), EngineError> {
        self.commands
            .send(c)
            .await
            .map_err(|_| EngineError::Stopped)
    }

    /// Sends `command` and waits for its outcome.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Command,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(command(tx)).await?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Marks one notification (by local id) read, here and on the server.
    /// Ok once that is kept in the outbox.
    pub async fn mark_read(&self, local_id: i64) -> Result<(), EngineError> {
        self.ask(|done| Command::MarkRead {
            local_id,
            done: Some(done),
        })
        .await
    }

    pub async fn mark_all_read(&self) -> Result<(), EngineError> {
        self.ask(Command::MarkAllRead).await
    }

    /// Ok once the message is kept in the outbox (it is sent from there);
    /// an error when it could not be kept, so the draft must stay.
    pub async fn send_chat(&self, receiver: i64, content: String) -> Result<(), EngineError> {
        self.ask(|done| Command::SendChat {
            receiver,
            content,
            done,
        })
        .await
    }

    /// Approves or declines the booking a notification is about; returns
    /// the booking id.
    pub async fn decide_booking(&self, local_id: i64, approve: bool) -> Result<i64, EngineError> {
        self.ask(|reply| Command::DecideBooking {
            local_id,
            approve,
            reply,
        })
        .await
    }

    /// Changes the popup settings the change names; returns them all.
    pub async fn change_settings(
        &self,
        change: PolicyChange,
    ) -> Result<PolicySettings, EngineError> {
        self.ask(|reply| Command::ChangeSettings { change, reply })
            .await
    }

    /// Opens a notification: marks it read and returns it with its context.
    pub async fn open_notification(
        &self,
        local_id: i64,
    ) -> Result<StoredNotification, EngineError> {
        self.ask(|reply| Command::Open { local_id, reply }).await
    }

    /// Marks a conversation read here (the API has no per-message read).
    pub async fn mark_conversation_read(&self, other: i64) -> Result<(), EngineError> {
        let changed = self.store.run(move |s| s.mark_thread_read(other)).await?;
        if changed > 0 {
            let _ = self.events.send(EngineEvent::ChatChanged);
        }
        Ok(())
    }

    /// Re-reads the config now (after a sign-in or sign-out in this process).
    pub async fn reload(&self) -> Result<(), EngineError> {
        self.ask(Command::Reload).await
    }

    /// The current account's popup settings.
    pub async fn policy_settings(&self) -> Result<PolicySettings, EngineError> {
        let json = self.query(|s| s.get_meta(META_SETTINGS)).await?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Holds popups back (or resumes); returns when the pause ends.
    pub async fn pause(&self, pause: PauseFor) -> Result<Option<i64>, EngineError> {
        self.ask(|reply| Command::Pause { pause, reply }).await
    }

    /// Reconciles with the server now (the window opened).
    pub async fn refresh(&self) -> Result<(), EngineError> {
        self.ask(Command::Refresh).await
    }

    /// The network came back or the machine resumed: reconnect now.
    pub fn nudge(&self) {
        let _ = self.commands.try_send(Command::Nudge);
    }

    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn local_now() -> chrono::NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// Why an account's run ended.
enum AccountExit {
    /// The config changed (login/logout elsewhere): start over.
    Reload,
    Shutdown,
    /// Signed out or keychain trouble: wait for the user.
    WaitForUser,
}

struct Runner {
    data_dir: PathBuf,
    tuning: Tuning,
    ports: Ports,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<EngineStatus>,
    events: broadcast::Sender<EngineEvent>,
    store: StoreCell,
    /// Reloads answered once the state the config now gives is published,
    /// so that whoever asked (a sign-out) reads that state, not the old one.
    reloads_owed: Mutex<Vec<Done>>,
    _lock: DataDirLock,
}

impl Runner {
    fn owe_reload(&self, done: Done) {
        self.reloads_owed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(done);
    }

    /// Answers the reloads owed: the state they led to is published.
    fn answer_reloads(&self) {
        let owed =
            std::mem::take(&mut *self.reloads_owed.lock().unwrap_or_else(|p| p.into_inner()));
        for done in owed {
            let _ = done.send(Ok(()));
        }
    }

    async fn run(mut self) {
        loop {
            let (generation, exit) = match AppConfig::load(&self.data_dir) {
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the config");
                    let why = ConnectionState::ConfigUnreadable {
                        message: e.to_string(),
                    };
                    (None, self.wait_for_user(why))
                }
                Ok(config) => {
                    let (generation, current) = (config.generation, config.current.clone());
                    self.cleanup_pending_removal(config);
                    let exit = match current {
                        None => {
                            self.set_connection(ConnectionState::NotSignedIn, None);
                            AccountExit::WaitForUser
                        }
                        Some(account) => self.run_account(account).await,
                    };
                    (Some(generation), exit)
                }
            };
            self.store.close().await;
            match exit {
                AccountExit::Shutdown => break,
                AccountExit::Reload => continue,
                AccountExit::WaitForUser => {
                    // Said once per episode: nothing is retried until the
                    // user signs in again, so there is nothing to repeat.
                    let state = self.status.borrow().connection.clone();
                    self.announce_account_problem(&state);
                    tracing::info!(
                        "waiting for the user: nothing is retried until the sign-in changes"
                    );
                    if !self.wait_for_config_change(generation).await {
                        break;
                    }
                }
            }
        }
        self.set_connection(ConnectionState::Stopped, None);
    }

    fn cleanup_pending_removal(&self, mut config: AppConfig) {
        if config.pending_removal.is_empty() {
            return;
        }
        if config.remove_pending(&self.data_dir) {
            if let Err(e) = config.save(&self.data_dir) {
                tracing::warn!(error = %e, "cannot save the config");
            }
        }
    }

    /// Tells the user they are needed: signed out, or no keychain.
    fn announce_account_problem(&self, state: &ConnectionState) {
        if let Some(popup) = Presenter::account_problem(state) {
            tracing::warn!("{}: {}", popup.title, popup.body);
            self.ports.notifier.show(popup);
        }
    }

    /// Waits until the config's generation changes (a login or logout; an
    /// unreadable config, `None`, that becomes readable) or a shutdown.
    /// Intents arriving meanwhile cannot be kept: there is no account to
    /// keep them for. Returns false on shutdown.
    async fn wait_for_config_change(&mut self, generation: Option<u64>) -> bool {
        let mut tick = tokio::time::interval(self.tuning.housekeeping_every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = AppConfig::load(&self.data_dir).ok().map(|c| c.generation);
                    if now != generation {
                        return true;
                    }
                }
                cmd = self.commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => return false,
                    Some(Command::Reload(done)) => {
                        self.owe_reload(done);
                        return true;
                    }
                    Some(other) => other.refuse(|| EngineError::NotSignedIn),
                }
            }
        }
    }

    fn set_connection(&self, connection: ConnectionState, account: Option<Option<AccountInfo>>) {
        self.status.send_modify(|s| {
            s.connection = connection;
            if let Some(a) = account {
                s.account = a;
            }
        });
        self.answer_reloads();
    }

    /// The account cannot run until the user acts (signs in again, unlocks
    /// the keychain): say why and wait.
    fn wait_for_user(&self, why: ConnectionState) -> AccountExit {
        self.set_connection(why, Some(None));
        AccountExit::WaitForUser
    }

    async fn run_account(&mut self, account: AccountRef) -> AccountExit {
        let server = match account.server_url() {
            Ok(s) => s,
            Err(e) => {
                return self.wait_for_user(ConnectionState::SignedOut {
                    reason: e.to_string(),
                });
            }
        };
        let transport = match Transport::new(&account.transport) {
            Ok(t) => t,
            Err(e) => {
                return self.wait_for_user(ConnectionState::SignedOut {
                    reason: e.to_string(),
                });
            }
        };
        let session = match Session::load(
            &transport,
            &server,
            &account.username,
            self.ports.secrets.clone(),
        )
        .await
        {
            Ok(s) => s,
            Err(SessionError::Keychain(e)) => {
                return self.wait_for_user(ConnectionState::KeychainUnavailable {
                    message: e.to_string(),
                });
            }
            Err(_) => {
                return self.wait_for_user(ConnectionState::SignedOut {
                    reason: "no saved session for this account".into(),
                });
            }
        };
        let dir = match account.dir(&self.data_dir) {
            Ok(d) => d,
            Err(e) => {
                return self.wait_for_user(ConnectionState::SignedOut {
                    reason: e.to_string(),
                });
            }
        };
        let opened = tokio::task::spawn_blocking(move || Store::open(&dir.join("store.db"))).await;
        let store = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot open the store");
                return self.wait_for_user(ConnectionState::SignedOut {
                    reason: format!("cannot open local data: {e}"),
                });
            }
            Err(_) => return AccountExit::Shutdown,
        };
        self.store.set(Some(store));
        let generation = AppConfig::load(&self.data_dir)
            .map(|c| c.generation)
            .unwrap_or(0);
        let api = Api::new(session, transport.http().clone());
        let mut run = AccountRun::new(self, account, api, transport, generation).await;
        run.run().await
    }
}

/// Results of background work (every server call), back in the engine task.
enum TaskDone {
    /// The catch-up before the first socket of a new sign-in.
    FirstSync(Result<SyncReport, SyncError>),
    Socket(Result<Box<Socket>, ConnectFailure>),
    Refreshed(Result<(), ApiError>),
    Opened {
        local_id: i64,
        result: Result<StoredNotification, EngineError>,
        reply: oneshot::Sender<Result<StoredNotification, EngineError>>,
    },
    /// The notification to decide on, with its data: the engine now
    /// knows which booking it is about.
    ToDecide {
        approve: bool,
        notification: Result<StoredNotification, EngineError>,
        reply: oneshot::Sender<Result<i64, EngineError>>,
    },
    Decided {
        booking_id: i64,
        /// When the server created the request (its clock).
        asked_at: Option<chrono::DateTime<chrono::Utc>>,
        approve: bool,
        result: Result<(), EngineError>,
        reply: oneshot::Sender<Result<i64, EngineError>>,
    },
    Sync(Result<SyncReport, SyncError>),
    Reconciled(Result<u64, SyncError>),
    Outbox(Result<usize, SyncError>),
    UnreadFromStats(Result<u64, EngineError>),
    Profile(Result<protocol::Profile, EngineError>),
}

/// Why a handshake did not give a socket.
enum ConnectFailure {
    /// No token: the session or the keychain failed.
    Api(ApiError),
    /// 401/403 at the handshake, with the token that was refused.
    Refused {
        token: Sensitive,
        error: String,
    },
    Failed(String),
}

/// Takes a token (refreshing it when due) and opens the socket.
async fn open_socket(api: Api, transport: Transport) -> Result<Box<Socket>, ConnectFailure> {
    let token = api.access_token().await.map_err(ConnectFailure::Api)?;
    match transport.connect_socket(api.server(), &token).await {
        Ok(socket) => Ok(Box::new(socket)),
        Err(e) if e.is_auth_refusal() => Err(ConnectFailure::Refused {
            token,
            error: e.to_string(),
        }),
        Err(e) => Err(ConnectFailure::Failed(e.to_string())),
    }
}

/// Frames waiting to be written; a socket whose peer stops reading fills it
/// and is given up, instead of holding the engine.
const WRITE_QUEUE: usize = 64;

/// One write to the socket may take this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The open socket: the engine reads it; a task of its own writes it, so
/// no write ever waits on the network inside the engine.
struct OpenSocket {
    frames: SplitStream<Socket>,
    writes: mpsc::Sender<Message>,
}

impl OpenSocket {
    fn new(socket: Socket) -> Self {
        let (sink, frames) = socket.split();
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_frames(sink, queue));
        Self { frames, writes }
    }

    /// Queues a frame; false when the socket cannot take it (gone, or its
    /// peer has stopped reading).
    fn write(&self, m: Message) -> bool {
        self.writes.try_send(m).is_ok()
    }

    /// Says goodbye with `code`; the writer ends after it.
    fn close(self, code: CloseCode) {
        let _ = self.write(Message::Close(Some(CloseFrame {
            code,
            reason: "".into(),
        })));
    }
}

/// Writes queued frames until the queue ends (the socket was dropped) or a
/// write fails, then closes the socket.
async fn write_frames(mut sink: SplitSink<Socket, Message>, mut queue: mpsc::Receiver<Message>) {
    while let Some(m) = queue.recv().await {
        let closing = matches!(m, Message::Close(_));
        let sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(m)).await;
        if closing || !matches!(sent, Ok(Ok(()))) {
            break;
        }
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
}

/// One account's connection, from sign-in to sign-out.
struct AccountRun<'a> {
    runner: &'a mut Runner,
    account: AccountRef,
    api: Api,
    transport: Transport,
    generation: u64,
    presenter: Presenter,
    settings: PolicySettings,
    me: Option<i64>,
    role: Option<String>,

    socket: Option<OpenSocket>,
    variant: ServerVariant,
    supervisor: Supervisor,
    /// The token the server refused, for the one refresh that follows.
    refused: Option<Sensitive>,

    /// The badge's count (see [`Unread`]).
    unread: Unread,
    last_reconcile: Instant,
    last_full_reconcile: Instant,
    wall_anchor: (Instant, SystemTime),
    sync_running: bool,
    outbox_running: bool,
    outbox_again: bool,
    outbox_retry_at: Option<tokio::time::Instant>,
    stats_running: bool,
    /// A notification arrived while stats were in flight: ask again after.
    stats_again: bool,
    /// Rows shown as popups and not yet marked so in the store: written
    /// together, not as one more commit per notification.
    popped: Vec<i64>,
    /// Bookings whose decision is on its way to the server.
    deciding: HashSet<i64>,
    /// Bookings decided from here in this run (bounded: cleared past
    /// [`DECIDED_KEPT`]; the store knows them too).
    decided: HashSet<i64>,
    /// Every server call in flight; ended with the account's run.
    tasks: JoinSet<TaskDone>,
}

/// At most this many frames already waiting are read in one go (their
/// notifications stored together) before the engine looks at anything else.
const SOCKET_BATCH: usize = 512;

/// Live frames read in one go: notifications, and the unread count the
/// server sent last among them.
#[derive(Default)]
struct LiveBatch {
    notifications: Vec<IncomingNotification>,
    /// When each notification's frame was read and decoded.
    arrivals: Vec<(Instant, Instant)>,
    unread: Option<u64>,
}

impl LiveBatch {
    fn is_empty(&self) -> bool {
        self.notifications.is_empty() && self.unread.is_none()
    }
}

/// How many bookings decided here a run remembers (see `AccountRun::decided`).
const DECIDED_KEPT: usize = 1_000;

/// Rounds of reading a batch while the one before it is written, in one
/// turn of the engine's loop, before commands and timers are looked at.
const SOCKET_ROUNDS: usize = 4;

/// One item from the socket: a message, an error, or its end.
type SocketItem = Option<Result<Message, tungstenite::Error>>;

/// What ended the reading of a batch, handled after it.
enum After {
    Frame(ServerFrame),
    Event(SocketItem),
}

/// Each notification of a batch with what storing it did, or why not.
type LiveStored = Vec<(IncomingNotification, Result<Inserted, String>)>;

/// A batch on its way into the store (`None`: an empty one), and its size.
struct Storing(Option<JoinHandle<Result<LiveStored, CellError>>>, usize);

impl Storing {
    async fn done(self) -> LiveStored {
        let Some(task) = self.0 else {
            return Vec::new();
        };
        match task.await {
            Ok(Ok(stored)) => stored,
            Ok(Err(e)) => {
                tracing::error!(error = %e, count = self.1, "cannot reach the store");
                Vec::new()
            }
            Err(e) => {
                tracing::error!(error = %e, count = self.1, "storing a batch failed");
                Vec::new()
            }
        }
    }
}

/// Popped rows are marked in the store in batches of this many, or at the
/// next housekeeping tick.
const POPPED_BATCH: usize = 64;

async fn mark_popped(store: &StoreCell, ids: Vec<i64>) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = store.run(move |s| s.mark_popped(&ids)).await {
        tracing::warn!(error = %e, "cannot record shown popups");
    }
}

const META_SETTINGS: &str = "policy_settings";
const META_PROFILE: &str = "profile";

impl<'a> AccountRun<'a> {
    async fn new(
        runner: &'a mut Runner,
        account: AccountRef,
        api: Api,
        transport: Transport,
        generation: u64,
    ) -> AccountRun<'a> {
        let (settings, profile) = runner
            .store
            .run(|s| Ok((s.get_meta(META_SETTINGS)?, s.get_meta(META_PROFILE)?)))
            .await
            .unwrap_or((None, None));
        let settings: PolicySettings = settings
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let profile: Option<protocol::Profile> =
            profile.and_then(|s| serde_json::from_str(&s).ok());
        let now = Instant::now();
        let supervisor = Supervisor::new(runner.tuning.supervisor());
        AccountRun {
            runner,
            account,
            api,
            transport,
            generation,
            presenter: Presenter::new(),
            settings,
            me: profile.as_ref().map(|p| p.id),
            role: profile.map(|p| p.role),
            socket: None,
            variant: ServerVariant::Unknown,
            supervisor,
            refused: None,
            unread: Unread::default(),
            last_reconcile: now,
            last_full_reconcile: now,
            wall_anchor: (now, SystemTime::now()),
            sync_running: false,
            outbox_running: false,
            outbox_again: false,
            outbox_retry_at: None,
            stats_running: false,
            stats_again: false,
            popped: Vec::new(),
            deciding: HashSet::new(),
            decided: HashSet::new(),
            tasks: JoinSet::new(),
        }
    }

    fn account_info(&self) -> AccountInfo {
        AccountInfo {
            server: self.account.server.clone(),
            username: self.account.username.clone(),
            user_id: self.me,
            role: self.role.clone(),
        }
    }

    fn publish(&self, connection: ConnectionState) {
        let info = self.account_info();
        self.runner.status.send_modify(|s| {
            s.connection = connection;
            s.account = Some(info);
        });
        self.publish_holding();
        self.runner.answer_reloads();
    }

    fn emit(&self, e: EngineEvent) {
        let _ = self.runner.events.send(e);
    }

    async fn run(&mut self) -> AccountExit {
        self.publish(ConnectionState::Connecting);
        self.refresh_unread().await;
        self.spawn_profile();
        self.kick_outbox();
        let exit = match self.first_sync().await {
            Some(exit) => exit,
            None => self.serve().await,
        };
        self.flush_popped().await;
        exit
    }

    async fn serve(&mut self) -> AccountExit {
        let mut housekeeping = tokio::time::interval(self.runner.tuning.housekeeping_every);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            let outbox_retry = self.outbox_retry_at;
            let summaries_due = self.presenter.due().map(tokio::time::Instant::from_std);
            let supervisor_due = self
                .supervisor
                .deadline()
                .map(tokio::time::Instant::from_std);
            let pause_ends = self.settings.paused_until_ms.map(|until| {
                let left = until.saturating_sub(now_ms()).max(0) as u64;
                tokio::time::Instant::now() + Duration::from_millis(left)
            });
            tokio::select! {
                frame = next_frame(&mut self.socket) => self.on_socket_item(frame).await,
                _ = sleep_until_opt(supervisor_due) => {
                    if let Some(exit) = self.supervise(Input::Timer) {
                        return exit;
                    }
                }
                Some(done) = self.tasks.join_next() => {
                    let exit = match done {
                        Ok(done) => self.on_task_done(done).await,
                        Err(e) => {
                            tracing::error!(error = %e, "a background task failed");
                            None
                        }
                    };
                    if let Some(exit) = exit {
                        return exit;
                    }
                }
                cmd = self.runner.commands.recv() => {
                    match cmd {
                        None | Some(Command::Shutdown) => {
                            self.close_socket(CloseCode::Normal);
                            return AccountExit::Shutdown;
                        }
                        Some(c) => if let Some(exit) = self.on_command(c).await {
                            return exit;
                        }
                    }
                }
                _ = housekeeping.tick() => {
                    if let Some(exit) = self.on_housekeeping().await {
                        return exit;
                    }
                }
                _ = sleep_until_opt(summaries_due) => self.show_summaries(),
                _ = sleep_until_opt(pause_ends) => self.end_pause().await,
                _ = sleep_until_opt(outbox_retry) => {
                    self.outbox_retry_at = None;
                    self.kick_outbox();
                }
            }
        }
    }

    /// The first sign-in reads recent history before the socket opens, so
    /// that what was already there becomes one summary while everything
    /// that arrives after it pops as usual (the catch-up after connecting
    /// sees it as new). If the server cannot be reached now, the catch-up
    /// after the first connect does the same. It runs as a task like every
    /// server call: the supervisor starts when it is done.
    async fn first_sync(&mut self) -> Option<AccountExit> {
        if !sync::needs_first_sync(&self.runner.store).await {
            return self.supervise(Input::Start);
        }
        self.sync_running = true;
        let (api, store, me) = (self.api.clone(), self.runner.store.clone(), self.me);
        let window = self.runner.tuning.dedupe_window.as_millis() as i64;
        self.spawn(
            async move { TaskDone::FirstSync(sync::catch_up(&api, &store, me, window).await) },
        );
        None
    }

    // ---- the socket -------------------------------------------------------

    /// Tells the supervisor what happened and does what it says.
    fn supervise(&mut self, input: Input) -> Option<AccountExit> {
        for action in self.supervisor.on(input, Instant::now()) {
            if let Some(exit) = self.act(action) {
                return Some(exit);
            }
        }
        None
    }

    fn act(&mut self, action: Action) -> Option<AccountExit> {
        match action {
            Action::Connect => {
                self.socket = None;
                let waiting = matches!(
                    self.runner.status.borrow().connection,
                    ConnectionState::Reconnecting { .. }
                );
                if !waiting {
                    self.publish(ConnectionState::Connecting);
                }
                let (api, transport) = (self.api.clone(), self.transport.clone());
                self.spawn(async move { TaskDone::Socket(open_socket(api, transport).await) });
            }
            Action::Refresh => {
                let api = self.api.clone();
                let stale = self.refused.take().unwrap_or_else(|| Sensitive::new(""));
                self.spawn(async move {
                    TaskDone::Refreshed(api.refresh_after_refusal(&stale).await.map(drop))
                });
            }
            Action::Ping => self.send(Message::Ping(Default::default())),
            Action::Retry(retry) => {
                self.socket = None;
                tracing::info!(
                    attempt = retry.attempt,
                    delay_ms = retry.delay.as_millis() as u64,
                    error = %retry.error,
                    "reconnecting later"
                );
                self.publish(ConnectionState::Reconnecting {
                    attempt: retry.attempt,
                    retry_at_ms: now_ms().saturating_add(retry.delay.as_millis() as i64),
                    last_error: retry.error,
                });
            }
            Action::Variant(variant) => {
                self.variant = variant;
                self.publish(ConnectionState::Connected { variant });
                if variant == ServerVariant::Legacy {
                    tracing::info!("no greeting from the server: assuming the legacy consumer");
                    self.spawn_stats();
                }
            }
            Action::SignOut(reason) => return Some(self.signed_out(reason)),
        }
        None
    }

    /// A handshake's outcome.
    fn on_socket_task(&mut self, r: Result<Box<Socket>, ConnectFailure>) -> Option<AccountExit> {
        if !self.supervisor.is_connecting() {
            return None;
        }
        match r {
            Ok(socket) => {
                tracing::info!(server = %self.account.server, "connected");
                self.socket = Some(OpenSocket::new(*socket));
                self.variant = ServerVariant::Unknown;
                self.supervise(Input::Opened);
                self.publish(ConnectionState::Connected {
                    variant: self.variant,
                });
                self.spawn_sync();
                self.kick_outbox();
                None
            }
            Err(ConnectFailure::Api(e)) => self.on_api_error_while_connecting(e),
            Err(ConnectFailure::Refused { token, error }) => {
                tracing::info!(%error, "handshake refused");
                self.refused = Some(token);
                self.supervise(Input::Refused(error))
            }
            Err(ConnectFailure::Failed(error)) => self.supervise(Input::Failed(error)),
        }
    }

    fn on_api_error_while_connecting(&mut self, e: ApiError) -> Option<AccountExit> {
        match e {
            ApiError::SignedOut(why) => Some(self.signed_out(why)),
            ApiError::Session(SessionError::Keychain(k)) => Some(self.keychain_failed(k)),
            other => self.supervise(Input::Failed(other.to_string())),
        }
    }

    fn signed_out(&mut self, reason: String) -> AccountExit {
        tracing::warn!(%reason, "signed out");
        self.publish(ConnectionState::SignedOut { reason });
        AccountExit::WaitForUser
    }

    fn keychain_failed(&mut self, e: SecretStoreError) -> AccountExit {
        self.publish(ConnectionState::KeychainUnavailable {
            message: e.to_string(),
        });
        AccountExit::WaitForUser
    }

    /// The socket ended; `reach` says who else likely lost theirs.
    fn lost_socket(&mut self, why: String, reach: Reach) {
        self.socket = None;
        // Only a retry can follow a lost socket, never an exit.
        let _ = self.supervise(Input::Lost { why, reach });
    }

    fn close_socket(&mut self, code: CloseCode) {
        if let Some(s) = self.socket.take() {
            s.close(code);
        }
    }

    /// Queues a message for the socket, if there is one; a queue that is
    /// full means the server stopped reading, and the socket is given up.
    fn send(&mut self, m: Message) {
        let taken = self.socket.as_ref().is_none_or(|s| s.write(m));
        if !taken {
            self.lost_socket("cannot write to the socket".into(), Reach::EveryClient);
        }
    }

    fn send_frame(&mut self, frame: ClientFrame) {
        self.send(Message::text(frame.to_json()));
    }

    /// Handles one item from the socket, and with it every frame already
    /// waiting behind it. Their notifications are stored in one transaction
    /// per batch (a burst costs one commit per batch, not per
    /// notification), and while a batch is being written the next one is
    /// read and decoded; then each is decided one by one in order, and the
    /// unread count that follows them is applied after the batch (only the
    /// last one matters). Any other frame ends the reading and is handled
    /// after the batches before it, so what the user sees follows the order
    /// of frames.
    async fn on_socket_item(&mut self, item: SocketItem) {
        if matches!(item, Some(Ok(_))) {
            // Whatever follows in this batch is already here: one is enough.
            let _ = self.supervise(Input::Received);
        }
        let (mut batch, mut after) = self.read_live(Some(item));
        let mut rounds = 1;
        while !batch.is_empty() {
            let storing = self.start_storing(std::mem::take(&mut batch.notifications));
            // Read on while it is written; bounded, so that a flood still
            // lets commands and timers in.
            let next = if after.is_none() && rounds < SOCKET_ROUNDS {
                rounds += 1;
                let (next, next_after) = self.read_live(None);
                after = next_after;
                if !next.is_empty() {
                    let _ = self.supervise(Input::Received);
                }
                next
            } else {
                LiveBatch::default()
            };
            let stored = storing.done().await;
            self.on_live_stored(stored, batch.arrivals).await;
            if let Some(n) = batch.unread {
                self.set_unread(n).await;
            }
            batch = next;
        }
        match after {
            Some(After::Frame(frame)) => self.on_frame(frame).await,
            Some(After::Event(event)) => self.on_socket_event(event).await,
            None => {}
        }
    }

    /// Reads what the socket already holds (`first`, and up to
    /// [`SOCKET_BATCH`] frames in all), never waiting for more: the
    /// notifications and unread counts, until a frame of another kind or
    /// anything but a text frame, which is given back to handle after them.
    fn read_live(&mut self, first: Option<SocketItem>) -> (LiveBatch, Option<After>) {
        let mut batch = LiveBatch::default();
        let Some(mut item) = first.or_else(|| self.next_ready()) else {
            return (batch, None);
        };
        let mut read = 1;
        let mut read_at = Instant::now();
        loop {
            match item {
                Some(Ok(Message::Text(text))) => match self.decode(text.as_str()) {
                    Some(ServerFrame::Notification { notification, .. }) => {
                        batch.notifications.push(notification);
                        batch.arrivals.push((read_at, Instant::now()));
                    }
                    Some(ServerFrame::UnreadCount(n)) => batch.unread = Some(n),
                    Some(frame) => return (batch, Some(After::Frame(frame))),
                    None => {}
                },
                other => return (batch, Some(After::Event(other))),
            }
            if read == SOCKET_BATCH {
                break;
            }
            match self.next_ready() {
                Some(next) => {
                    item = next;
                    read += 1;
                    read_at = Instant::now();
                }
                None => break,
            }
        }
        (batch, None)
    }

    /// The socket's next item if it is already here.
    fn next_ready(&mut self) -> Option<SocketItem> {
        self.socket
            .as_mut()
            .and_then(|s| s.frames.next().now_or_never())
    }

    /// Everything from the socket but text frames.
    async fn on_socket_event(&mut self, item: Option<Result<Message, tungstenite::Error>>) {
        match item {
            Some(Ok(msg)) => match msg {
                Message::Binary(_) => tracing::debug!("ignoring a binary frame"),
                Message::Close(frame) => {
                    let code = frame.map(|f| f.code);
                    let why = code
                        .map(|c| format!("server closed the socket ({})", u16::from(c)))
                        .unwrap_or_else(|| "server closed the socket".into());
                    tracing::info!("{why}");
                    self.lost_socket(why, reach_of_close(code));
                }
                _ => {}
            },
            Some(Err(tungstenite::Error::Capacity(e))) => {
                tracing::warn!(error = %e, "frame over 1 MiB: closing with 1009");
                self.close_socket(CloseCode::Size);
                self.lost_socket("a frame was too large".into(), Reach::ThisSocket);
            }
            Some(Err(e)) => {
                tracing::info!(error = %e, "socket error");
                self.lost_socket(e.to_string(), Reach::EveryClient);
            }
            None => self.lost_socket("the connection dropped".into(), Reach::EveryClient),
        }
    }

    /// Decodes a text frame (skipping what cannot be read) and notes what it
    /// proves about the server.
    fn decode(&mut self, text: &str) -> Option<ServerFrame> {
        let frame = match protocol::decode_server_frame(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::info!(error = %e, bytes = text.len(), "skipping a frame");
                return None;
            }
        };
        if frame.proves_documented_server() {
            let _ = self.supervise(Input::Proved);
        }
        Some(frame)
    }

    async fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::ConnectionEstablished { user_id, .. } => {
                if self.me.is_none() {
                    self.me = user_id;
                }
            }
            ServerFrame::Notification { notification, .. } => {
                let now = Instant::now();
                self.on_live_notifications(vec![notification], vec![(now, now)])
                    .await
            }
            ServerFrame::ChatMessage(m) => self.on_chat(vec![m]).await,
            ServerFrame::BookingUpdate(u) => {
                let at = u.at.unwrap_or_else(chrono::Utc::now);
                // A word from the server, shown in the window: short, and
                // no control characters.
                let status: String = u
                    .status
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect();
                if let Some(id) = u.booking_id.filter(|_| !status.is_empty()) {
                    self.booking_now(id, status, at).await;
                } else {
                    self.emit(EngineEvent::NotificationsChanged);
                }
            }
            ServerFrame::UnreadCount(n) => self.set_unread(n).await,
            ServerFrame::MarkReadResponse { .. } | ServerFrame::MarkAllReadResponse { .. } => {}
            ServerFrame::Pong => {}
            ServerFrame::Error { message } => {
                tracing::info!(message = %message.chars().take(200).collect::<String>(), "server error frame")
            }
        }
    }

    // ---- notifications ----------------------------------------------------

    /// A booking's status changed at `at` (decided here or elsewhere):
    /// the notifications about it say so, and offer Approve/Decline no more
    /// once it is decided. Their popups still on screen asked a question
    /// that has an answer now: they are taken away.
    async fn booking_now(
        &mut self,
        booking_id: i64,
        status: impl Into<String>,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let status = status.into();
        let on_screen = notifications_among(&self.runner.ports.notifier.on_screen());
        let (role, me) = (self.role.clone(), self.me);
        let written = self
            .runner
            .store
            .run(move |s| {
                let viewer = policy::Viewer::new(role.as_deref(), me);
                let asks = |s: &Store, id| -> Result<bool, StoreError> {
                    Ok(s.notification(id)?.is_some_and(|n| {
                        policy::booking_to_decide(n.kind, &n.context(), viewer) == Some(booking_id)
                    }))
                };
                // Only the popups that asked for this decision: a tenant's
                // "Booking approved" stays.
                let mut asking = Vec::new();
                for id in on_screen {
                    if asks(s, id)? {
                        asking.push(id);
                    }
                }
                s.set_booking_status(booking_id, &status, at)?;
                let mut answered = Vec::new();
                for id in asking {
                    if !asks(s, id)? {
                        answered.push(id);
                    }
                }
                Ok(answered)
            })
            .await;
        match self.wrote(written) {
            Ok(answered) => {
                for id in answered {
                    self.runner
                        .ports
                        .notifier
                        .withdraw(PopupKey::Notification(id));
                }
            }
            Err(e) => tracing::info!(error = %e, "cannot note a booking's status"),
        }
        self.emit(EngineEvent::NotificationsChanged);
    }

    /// Stores live notifications (one transaction) and carries out each
    /// one's popup decision, in order. `arrivals` holds when each one's
    /// frame was read and decoded.
    async fn on_live_notifications(
        &mut self,
        batch: Vec<IncomingNotification>,
        arrivals: Vec<(Instant, Instant)>,
    ) {
        let stored = self.start_storing(batch).done().await;
        self.on_live_stored(stored, arrivals).await;
    }

    /// Carries out the popup decision of each notification just stored,
    /// in order.
    async fn on_live_stored(&mut self, stored: LiveStored, arrivals: Vec<(Instant, Instant)>) {
        if stored.is_empty() {
            return;
        }
        // Legacy servers send no chat frames: fetch the new messages.
        if self.variant != ServerVariant::Documented
            && stored
                .iter()
                .any(|(n, _)| n.kind == NotificationKind::Message)
        {
            self.spawn_sync();
        }
        let mut new = 0;
        let mut storage = None;
        let stored_at = Instant::now();
        for ((n, inserted), (read, decoded)) in stored.into_iter().zip(arrivals) {
            let local_id = match inserted {
                Ok(Inserted::New(local_id)) => local_id,
                Ok(Inserted::Duplicate(_)) => continue,
                Err(why) => {
                    storage = Some(why);
                    let cx = context(&self.settings, &self.role, self.me);
                    let popup = self.presenter.live_unsaved(n, &cx);
                    self.show(popup);
                    continue;
                }
            };
            new += 1;
            let cx = context(&self.settings, &self.role, self.me);
            let popups = self.presenter.live(local_id, n, &cx);
            let decided = Instant::now();
            if popups
                .iter()
                .any(|p| p.key == PopupKey::Notification(local_id))
            {
                self.popped.push(local_id);
            }
            self.show(popups);
            let stages = Stages {
                read,
                decoded,
                stored: stored_at,
                decided,
                shown: Instant::now(),
            };
            self.emit(EngineEvent::NotificationAdded { local_id, stages });
        }
        self.storage_failing(storage);
        if new > 0 && self.variant != ServerVariant::Documented {
            // No unread_count frames here: count them now, confirm over REST.
            self.count_unread(unread::Event::Arrived(new)).await;
            self.spawn_stats();
        }
    }

    /// Starts storing a batch on the store's thread ([`store_batch`]).
    fn start_storing(&self, batch: Vec<IncomingNotification>) -> Storing {
        if batch.is_empty() {
            return Storing(None, 0);
        }
        let window = self.runner.tuning.dedupe_window.as_millis() as i64;
        let count = batch.len();
        Storing(
            Some(
                self.runner
                    .store
                    .start(move |s| Ok(store_batch(s, batch, window))),
            ),
            count,
        )
    }

    /// Notes whether the store could be written, for the status; passes
    /// `r` on. Errors that are not the store's say nothing about it.
    fn wrote<T>(&self, r: Result<T, impl Into<EngineError>>) -> Result<T, EngineError> {
        let r = r.map_err(Into::into);
        match &r {
            Ok(_) => self.storage_failing(None),
            Err(EngineError::Store(e)) => self.storage_failing(Some(e.to_string())),
            Err(_) => {}
        }
        r
    }

    /// Publishes whether the store can be written; said in the log once
    /// when it starts failing (or fails differently), not on every write.
    fn storage_failing(&self, error: Option<String>) {
        // Only the engine task writes the status: no race between these.
        if self.runner.status.borrow().storage_error == error {
            return;
        }
        match &error {
            Some(e) => tracing::error!(error = %e, "the local store cannot be written"),
            None => tracing::info!("the local store can be written again"),
        }
        self.runner.status.send_modify(|s| s.storage_error = error);
    }

    /// Shows (replacing) the summary of every kind with news.
    fn show_summaries(&mut self) {
        let cx = context(&self.settings, &self.role, self.me);
        let popups = self.presenter.show_due(&cx);
        self.show(popups);
    }

    /// Raises what the presenter built, and records popped rows in
    /// batches.
    fn show(&mut self, popups: impl IntoIterator<Item = Popup>) {
        for popup in popups {
            self.runner.ports.notifier.show(popup);
        }
        if self.popped.len() >= POPPED_BATCH {
            let store = self.runner.store.clone();
            let ids = std::mem::take(&mut self.popped);
            tokio::spawn(async move { mark_popped(&store, ids).await });
        }
    }

    async fn flush_popped(&mut self) {
        mark_popped(&self.runner.store, std::mem::take(&mut self.popped)).await;
    }

    /// Popups still on screen for what is read now (here, in another popup,
    /// or elsewhere as the reconcile found) are taken away; a kind's
    /// summary is recounted, and closed once nothing it counts is unread.
    async fn withdraw_read_popups(&mut self) {
        let on_screen = self.runner.ports.notifier.on_screen();
        if on_screen.is_empty() {
            return;
        }
        let ids = notifications_among(&on_screen);
        let summaries = self.presenter.summaries_on_screen(&on_screen);
        let digest = on_screen.contains(&PopupKey::Digest);
        let counted = self
            .runner
            .store
            .run(move |s| {
                let read = s.read_among(&ids)?;
                let counts = summaries
                    .into_iter()
                    .map(|(kind, since)| Ok((kind, s.unread_of_kind_since(kind, since)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let unread = if digest {
                    Some(s.unread_count()?)
                } else {
                    None
                };
                Ok((read, counts, unread))
            })
            .await;
        let (read, counts, unread) = match counted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell which popups are read");
                return;
            }
        };
        let notifier = self.runner.ports.notifier.clone();
        for id in read {
            notifier.withdraw(PopupKey::Notification(id));
        }
        for (kind, left) in counts {
            match self.presenter.recount(kind, left) {
                Recount::Withdraw(key) => notifier.withdraw(key),
                Recount::Show(popup) => notifier.show(popup),
                Recount::Keep => {}
            }
        }
        if unread == Some(0) {
            notifier.withdraw(PopupKey::Digest);
        }
    }

    async fn on_chat(&mut self, messages: Vec<ChatMessage>) {
        let Some(me) = self.me else { return };
        let stored = self
            .runner
            .store
            .run(move |s| {
                let mut n = 0;
                for m in &messages {
                    if let Some(name) = &m.sender_name {
                        s.remember_name(m.sender_id, name)?;
                    }
                    if s.insert_chat_message(me, m, now_ms())?.is_some() {
                        n += 1;
                    }
                }
                Ok(n)
            })
            .await;
        if matches!(stored, Ok(n) if n > 0) {
            self.emit(EngineEvent::ChatChanged);
        }
    }

    /// A count from REST (which [`Unread`] may ask the socket for again).
    async fn unread_from_rest(&mut self, n: u64) {
        self.count_unread(unread::Event::Rest(n)).await;
    }

    /// A count the server sent in order with its frames.
    async fn set_unread(&mut self, n: u64) {
        self.count_unread(unread::Event::Frame(n)).await;
    }

    /// The socket counts for us: it is open to a server that answers
    /// `get_unread_count` in order with its frames.
    fn counted_by_socket(&self) -> bool {
        self.variant == ServerVariant::Documented && self.socket.is_some()
    }

    async fn count_unread(&mut self, event: unread::Event) {
        let action = self.unread.on(event, self.counted_by_socket());
        self.show_unread(action).await;
    }

    /// Publishes the count as it stands.
    async fn publish_unread(&mut self) {
        self.show_unread(self.unread.shown()).await;
    }

    async fn show_unread(&mut self, action: unread::Action) {
        let n = match action {
            unread::Action::Show(n) => n,
            unread::Action::AskServer => return self.send_frame(ClientFrame::GetUnreadCount),
            unread::Action::ShowLocal => self
                .runner
                .store
                .run(|s| s.unread_count())
                .await
                .unwrap_or(0),
        };
        self.runner.status.send_modify(|s| s.unread = n);
    }

    async fn refresh_unread(&mut self) {
        let pending = self
            .runner
            .store
            .run(|s| Ok(s.outbox()?.len()))
            .await
            .unwrap_or(0);
        self.runner
            .status
            .send_modify(|s| s.outbox_pending = pending);
        self.publish_unread().await;
    }

    // ---- background REST work ---------------------------------------------

    fn spawn<F>(&mut self, fut: F)
    where
        F: std::future::Future<Output = TaskDone> + Send + 'static,
    {
        self.tasks.spawn(fut);
    }

    fn spawn_sync(&mut self) {
        if self.sync_running {
            return;
        }
        self.sync_running = true;
        let (api, store, me) = (self.api.clone(), self.runner.store.clone(), self.me);
        let window = self.runner.tuning.dedupe_window.as_millis() as i64;
        self.spawn(async move { TaskDone::Sync(sync::catch_up(&api, &store, me, window).await) });
    }

    fn spawn_profile(&mut self) {
        let api = self.api.clone();
        self.spawn(async move { TaskDone::Profile(api.profile().await.map_err(Into::into)) });
    }

    fn spawn_stats(&mut self) {
        if self.stats_running {
            self.stats_again = true;
            return;
        }
        self.stats_running = true;
        let api = self.api.clone();
        self.spawn(async move {
            TaskDone::UnreadFromStats(api.stats().await.map(|s| s.unread).map_err(Into::into))
        });
    }

    /// Looks for reads made elsewhere; `full` walks the unread list
    /// whatever the counts say (and so does a walk that is due anyway).
    fn spawn_reconcile(&mut self, full: bool) {
        let now = Instant::now();
        self.last_reconcile = now;
        let walk = full
            || now.duration_since(self.last_full_reconcile)
                >= self.runner.tuning.full_reconcile_every;
        let walk = if walk {
            self.last_full_reconcile = now;
            sync::Walk::Always
        } else {
            sync::Walk::WhenCountsDiffer
        };
        let (api, store) = (self.api.clone(), self.runner.store.clone());
        self.spawn(
            async move { TaskDone::Reconciled(sync::reconcile_reads(&api, &store, walk).await) },
        );
    }

    fn kick_outbox(&mut self) {
        if self.outbox_running {
            self.outbox_again = true;
            return;
        }
        self.outbox_running = true;
        self.outbox_again = false;
        let (api, store, me) = (self.api.clone(), self.runner.store.clone(), self.me);
        self.spawn(async move { TaskDone::Outbox(sync::flush_outbox(&api, me, &store).await) });
    }

    async fn on_task_done(&mut self, done: TaskDone) -> Option<AccountExit> {
        match done {
            TaskDone::FirstSync(r) => {
                self.sync_running = false;
                match r {
                    Ok(report) => self.on_synced(report).await,
                    Err(e) => {
                        if let Some(exit) = self.on_background_error(e, "first catch-up") {
                            return Some(exit);
                        }
                        tracing::info!("history not read yet; will read it after connecting");
                    }
                }
                return self.supervise(Input::Start);
            }
            TaskDone::Socket(r) => return self.on_socket_task(r),
            TaskDone::Refreshed(r) => {
                return match r {
                    Ok(()) => self.supervise(Input::Refreshed),
                    Err(e) => self.on_api_error_while_connecting(e),
                }
            }
            TaskDone::Opened {
                local_id,
                result,
                reply,
            } => {
                let opened = self.on_opened(local_id, result).await;
                let _ = reply.send(opened);
            }
            TaskDone::ToDecide {
                approve,
                notification,
                reply,
            } => self.decide(approve, notification, reply),
            TaskDone::Decided {
                booking_id,
                asked_at,
                approve,
                result,
                reply,
            } => {
                self.deciding.remove(&booking_id);
                if result.is_ok() {
                    if self.decided.len() >= DECIDED_KEPT {
                        self.decided.clear();
                    }
                    self.decided.insert(booking_id);
                    let status = if approve { "approved" } else { "declined" };
                    // Never before the request, whatever this clock says
                    // beside the server's.
                    let now = chrono::Utc::now();
                    let at = asked_at.map_or(now, |asked| asked.max(now));
                    self.booking_now(booking_id, status, at).await;
                    self.emit(EngineEvent::BookingDecided {
                        booking_id,
                        approved: approve,
                    });
                }
                let _ = reply.send(result.map(|()| booking_id));
            }
            TaskDone::Sync(r) => {
                self.sync_running = false;
                match r {
                    Ok(report) => self.on_synced(report).await,
                    Err(e) => return self.on_background_error(e, "catch-up"),
                }
            }
            TaskDone::Reconciled(r) => match r {
                Ok(unread) => {
                    self.unread_from_rest(unread).await;
                    self.withdraw_read_popups().await;
                    self.emit(EngineEvent::NotificationsChanged);
                }
                Err(e) => return self.on_background_error(e, "reconcile"),
            },
            TaskDone::UnreadFromStats(r) => {
                self.stats_running = false;
                if std::mem::take(&mut self.stats_again) {
                    self.spawn_stats();
                }
                match r {
                    Ok(n) => self.unread_from_rest(n).await,
                    Err(e) => return self.on_background_error(e, "stats"),
                }
            }
            TaskDone::Outbox(r) => {
                self.outbox_running = false;
                self.refresh_unread().await;
                match r {
                    Ok(done) => {
                        if done > 0 {
                            self.emit(EngineEvent::NotificationsChanged);
                            self.emit(EngineEvent::ChatChanged);
                            self.after_server_side_change().await;
                        }
                        if self.outbox_again {
                            self.kick_outbox();
                        }
                    }
                    Err(e) => {
                        self.outbox_retry_at =
                            Some(tokio::time::Instant::now() + self.runner.tuning.outbox_retry);
                        return self.on_background_error(e, "outbox");
                    }
                }
            }
            TaskDone::Profile(r) => match r {
                Ok(p) => {
                    self.me = Some(p.id);
                    self.role = Some(p.role.clone());
                    if let Ok(json) = serde_json::to_string(&p) {
                        let _ = self
                            .runner
                            .store
                            .run(move |s| s.set_meta(META_PROFILE, &json))
                            .await;
                    }
                    let state = self.runner.status.borrow().connection.clone();
                    self.publish(state);
                }
                Err(e) => return self.on_background_error(e, "profile"),
            },
        }
        None
    }

    /// After a REST change the server's count moved without a frame.
    async fn after_server_side_change(&mut self) {
        if self.variant == ServerVariant::Documented && self.socket.is_some() {
            self.send_frame(ClientFrame::GetUnreadCount);
        } else {
            self.spawn_stats();
        }
    }

    fn on_background_error(
        &mut self,
        e: impl Into<EngineError>,
        what: &str,
    ) -> Option<AccountExit> {
        match e.into() {
            EngineError::Api(ApiError::SignedOut(why)) => Some(self.signed_out(why)),
            EngineError::Api(ApiError::Session(SessionError::Keychain(k))) => {
                Some(self.keychain_failed(k))
            }
            other => {
                tracing::info!(error = %other, "{what} failed; will retry");
                None
            }
        }
    }

    async fn on_synced(&mut self, report: SyncReport) {
        if let Some(unread) = report.unread {
            self.unread_from_rest(unread).await;
        } else {
            self.publish_unread().await;
        }
        if report.new_messages > 0 {
            self.emit(EngineEvent::ChatChanged);
        }
        if report.new_kinds.is_empty() && report.first_sync_unread.is_none() {
            return;
        }
        self.emit(EngineEvent::NotificationsChanged);
        let cx = context(&self.settings, &self.role, self.me);
        let popups = match report.first_sync_unread {
            // The first sign-in: one summary, not a popup per old item.
            Some(unread) => self
                .presenter
                .first_sign_in(unread, &cx)
                .into_iter()
                .collect(),
            None => {
                let new = report
                    .new
                    .into_iter()
                    .map(|n| (n.local_id, n.notification))
                    .collect();
                self.presenter.caught_up(&report.new_kinds, new, &cx)
            }
        };
        for popup in &popups {
            if let PopupKey::Notification(local_id) = popup.key {
                self.popped.push(local_id);
            }
        }
        self.show(popups);
    }

    // ---- intents ----------------------------------------------------------

    /// Marks a notification read: kept in the outbox, on its way to the
    /// server (or read here only, when the server never knew it).
    async fn mark_read(&mut self, local_id: i64) -> Result<(), EngineError> {
        let r = self
            .runner
            .store
            .run(move |s| {
                let Some(n) = s.notification(local_id)? else {
                    return Ok(false);
                };
                if n.is_read {
                    return Ok(false);
                }
                match n.server_id {
                    Some(server_id) => {
                        s.enqueue(&OutboxOp::MarkRead { server_id }, now_ms())?;
                    }
                    None => s.set_read_local(local_id)?,
                }
                Ok(true)
            })
            .await;
        let r = self.wrote(r);
        if matches!(r, Ok(true)) {
            self.unread
                .on(unread::Event::ReadHere, self.counted_by_socket());
            self.after_intent().await;
        }
        r.map(drop)
    }

    async fn on_command(&mut self, c: Command) -> Option<AccountExit> {
        match c {
            Command::MarkRead { local_id, done } => {
                let r = self.mark_read(local_id).await;
                if let Some(done) = done {
                    let _ = done.send(r);
                }
            }
            Command::MarkAllRead(done) => {
                let r = self
                    .runner
                    .store
                    .run(|s| s.enqueue(&OutboxOp::MarkAllRead, now_ms()))
                    .await;
                let r = self.wrote(r);
                if r.is_ok() {
                    self.unread
                        .on(unread::Event::AllReadHere, self.counted_by_socket());
                    self.after_intent().await;
                }
                let _ = done.send(r.map(drop));
            }
            Command::SendChat {
                receiver,
                content,
                done,
            } => {
                let r = self
                    .runner
                    .store
                    .run(move |s| s.enqueue(&OutboxOp::SendChat { receiver, content }, now_ms()))
                    .await;
                let r = self.wrote(r);
                if r.is_ok() {
                    self.emit(EngineEvent::ChatChanged);
                    self.after_intent().await;
                }
                let _ = done.send(r.map(drop));
            }
            Command::DecideBooking {
                local_id,
                approve,
                reply,
            } => {
                let context = self.context(local_id);
                self.spawn(async move {
                    TaskDone::ToDecide {
                        approve,
                        notification: context.await,
                        reply,
                    }
                });
            }
            Command::ChangeSettings { change, reply } => {
                let mut settings = self.settings.clone();
                change.apply_to(&mut settings);
                let saved = self.save_settings(settings).await;
                let _ = reply.send(saved);
            }
            Command::Pause { pause, reply } => {
                let until = pause.until_ms(&chrono::Local::now());
                let settings = PolicySettings {
                    paused_until_ms: until,
                    ..self.settings.clone()
                };
                let saved = self.save_settings(settings).await;
                let _ = reply.send(saved.map(|s| s.paused_until_ms));
            }
            Command::Refresh(done) => {
                self.spawn_reconcile(true);
                self.spawn_sync();
                let _ = done.send(Ok(()));
            }
            Command::Open { local_id, reply } => {
                let context = self.context(local_id);
                self.spawn(async move {
                    TaskDone::Opened {
                        local_id,
                        result: context.await,
                        reply,
                    }
                });
            }
            Command::Reload(done) => {
                self.close_socket(CloseCode::Normal);
                self.runner.owe_reload(done);
                return Some(AccountExit::Reload);
            }
            Command::Nudge => return self.supervise(Input::Nudge),
            Command::Shutdown => return Some(AccountExit::Shutdown),
        }
        None
    }

    /// Keeps the settings (they count once saved), shows what they no
    /// longer hold back, and publishes them.
    async fn save_settings(
        &mut self,
        settings: PolicySettings,
    ) -> Result<PolicySettings, EngineError> {
        let json = serde_json::to_string(&settings)
            .map_err(|e| EngineError::Store(StoreError::Io(e.to_string())))?;
        let saved = self
            .runner
            .store
            .run(move |s| s.set_meta(META_SETTINGS, &json))
            .await;
        self.wrote(saved)?;
        self.settings = settings;
        self.release_held();
        self.publish_holding();
        Ok(self.settings.clone())
    }

    /// The pause is over: it is cleared, kept, and published.
    async fn end_pause(&mut self) {
        if self
            .settings
            .paused_until_ms
            .is_some_and(|until| until <= now_ms())
        {
            let settings = PolicySettings {
                paused_until_ms: None,
                ..self.settings.clone()
            };
            if let Err(e) = self.save_settings(settings).await {
                // Over all the same: never wake for it again.
                tracing::warn!(error = %e, "cannot record the end of the pause");
                self.settings.paused_until_ms = None;
                self.release_held();
                self.publish_holding();
            }
        }
    }

    /// Publishes the pause and quiet hours as they are now, when changed.
    fn publish_holding(&self) {
        let paused = self.settings.paused_until_ms;
        let quiet = self
            .settings
            .quiet_hours
            .is_some_and(|q| q.contains(local_now().time()));
        self.runner.status.send_if_modified(|s| {
            let changed = s.paused_until_ms != paused || s.quiet_now != quiet;
            s.paused_until_ms = paused;
            s.quiet_now = quiet;
            changed
        });
    }

    async fn after_intent(&mut self) {
        self.emit(EngineEvent::NotificationsChanged);
        self.refresh_unread().await;
        self.withdraw_read_popups().await;
        self.kick_outbox();
    }

    async fn stored(&self, local_id: i64) -> Result<StoredNotification, EngineError> {
        stored(&self.runner.store, local_id).await
    }

    /// The notification with its `data`, fetched from the server (and kept)
    /// when the list gave none: a future to run as a task.
    fn context(
        &self,
        local_id: i64,
    ) -> impl std::future::Future<Output = Result<StoredNotification, EngineError>> + Send + 'static
    {
        let (api, store) = (self.api.clone(), self.runner.store.clone());
        let window = self.runner.tuning.dedupe_window.as_millis() as i64;
        async move {
            let n = stored(&store, local_id).await?;
            let (true, Some(server_id)) = (n.data.is_empty(), n.server_id) else {
                return Ok(n);
            };
            match sync::fetch_detail(&api, &store, server_id, window).await {
                Ok(_) => stored(&store, local_id).await,
                Err(SyncError::Api(e)) => {
                    tracing::info!(error = %e, "no detail for a notification");
                    Ok(n)
                }
                Err(e) => Err(e.into()),
            }
        }
    }

    /// An opened notification is read: mark it so, then answer with it.
    async fn on_opened(
        &mut self,
        local_id: i64,
        result: Result<StoredNotification, EngineError>,
    ) -> Result<StoredNotification, EngineError> {
        let n = result?;
        if n.is_read {
            return Ok(n);
        }
        if let Err(e) = self.mark_read(local_id).await {
            tracing::warn!(error = %e, "cannot mark an opened notification read");
        }
        self.stored(local_id).await
    }

    /// Sends the decision on the booking `notification` asks the user to
    /// decide, unless another decision on it is on its way (a popup's
    /// button and the window's at once): the server hears one.
    fn decide(
        &mut self,
        approve: bool,
        notification: Result<StoredNotification, EngineError>,
        reply: Reply<i64>,
    ) {
        let asked = notification.and_then(|n| Ok((booking_of(&n, self.viewer())?, n.created_at)));
        let (booking_id, asked_at) = match asked {
            Ok(asked) => asked,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        // Its notification may have been read before an answer that came
        // meanwhile was noted.
        if self.decided.contains(&booking_id) {
            return refuse(reply, || EngineError::NoBooking);
        }
        if !self.deciding.insert(booking_id) {
            return refuse(reply, || EngineError::BeingDecided);
        }
        let api = self.api.clone();
        self.spawn(async move {
            TaskDone::Decided {
                booking_id,
                asked_at,
                approve,
                result: api
                    .decide_booking(booking_id, approve)
                    .await
                    .map_err(EngineError::from),
                reply,
            }
        });
    }

    /// Who the user is, for the rules that depend on it.
    fn viewer(&self) -> policy::Viewer<'_> {
        policy::Viewer::new(self.role.as_deref(), self.me)
    }

    // ---- housekeeping -----------------------------------------------------

    async fn on_housekeeping(&mut self) -> Option<AccountExit> {
        let generation = AppConfig::load(&self.runner.data_dir)
            .map(|c| c.generation)
            .unwrap_or(self.generation);
        if generation != self.generation {
            tracing::info!("the account changed; restarting");
            self.close_socket(CloseCode::Normal);
            return Some(AccountExit::Reload);
        }
        // Monotonic time stops while the machine sleeps; the wall clock
        // does not. A jump means we resumed: the socket is likely dead.
        let (mono, wall) = self.wall_anchor;
        let wall_elapsed = wall.elapsed().unwrap_or_default();
        let mono_elapsed = mono.elapsed();
        self.wall_anchor = (Instant::now(), SystemTime::now());
        if crate::connection::resumed_from_sleep(wall_elapsed, mono_elapsed) {
            tracing::info!("resumed from sleep: reconnecting now");
            if let Some(exit) = self.supervise(Input::Resumed) {
                return Some(exit);
            }
        }
        if self.last_reconcile.elapsed() >= self.runner.tuning.reconcile_every {
            self.spawn_reconcile(false);
        }
        self.end_pause().await;
        self.release_held();
        self.publish_holding();
        self.flush_popped().await;
        None
    }

    fn release_held(&mut self) {
        let cx = context(&self.settings, &self.role, self.me);
        let digest = self.presenter.release_held(&cx);
        self.show(digest);
    }
}

/// What the presenter needs to know of the account, now.
fn context<'a>(
    settings: &'a PolicySettings,
    role: &'a Option<String>,
    me: Option<i64>,
) -> Context<'a> {
    Context {
        settings,
        viewer: policy::Viewer::new(role.as_deref(), me),
        now_ms: now_ms(),
        local: local_now(),
        now: Instant::now(),
    }
}

/// The stored notifications among popup keys, by local id.
fn notifications_among(keys: &[PopupKey]) -> Vec<i64> {
    keys.iter()
        .filter_map(|k| match k {
            PopupKey::Notification(id) => Some(*id),
            _ => None,
        })
        .collect()
}

/// Stores a live batch: one transaction; if it fails, each notification on
/// its own, so one that cannot be stored does not take the others with it.
/// Senders' names that message notifications carry are kept first. Gives
/// back every notification, in order, with what storing it did or why it
/// could not be stored.
fn store_batch(s: &mut Store, batch: Vec<IncomingNotification>, window: i64) -> LiveStored {
    for n in batch.iter().filter(|n| n.kind == NotificationKind::Message) {
        let context = n.context();
        if let (Some(id), Some(name)) = (context.sender_id, context.sender_name) {
            if let Err(e) = s.remember_name(id, &name) {
                tracing::info!(error = %e, "cannot keep a sender's name");
            }
        }
    }
    let count = batch.len();
    match s.insert_notifications(&batch, now_ms(), window) {
        Ok(all) => batch.into_iter().zip(all.into_iter().map(Ok)).collect(),
        Err(e) if count > 1 => {
            tracing::warn!(error = %e, count, "cannot store a batch; storing one by one");
            batch
                .into_iter()
                .map(|n| {
                    let r = s.insert_notification(&n, now_ms(), window);
                    (n, r.map_err(|e| e.to_string()))
                })
                .collect()
        }
        Err(e) => {
            let why = e.to_string();
            batch.into_iter().map(|n| (n, Err(why.clone()))).collect()
        }
    }
}

async fn stored(store: &StoreCell, local_id: i64) -> Result<StoredNotification, EngineError> {
    store
        .run(move |s| s.notification(local_id))
        .await?
        .ok_or(EngineError::NotFound { local_id })
}

/// The booking a notification asks `viewer` to decide: the rule its popup
/// and the window's buttons follow. Before the profile says who the user
/// is, nobody can tell.
fn booking_of(n: &StoredNotification, viewer: policy::Viewer) -> Result<i64, EngineError> {
    if viewer.role.is_none() && viewer.user_id.is_none() {
        return Err(EngineError::UserUnknown);
    }
    policy::booking_to_decide(n.kind, &n.context(), viewer).ok_or(EngineError::NoBooking)
}

/// Who lost their socket when the server closed ours with `code`: a
/// server that says it is going away (1001), restarting (1012) or
/// overloaded (1013) closes everyone's; any other close is this socket's.
fn reach_of_close(code: Option<CloseCode>) -> Reach {
    match code {
        Some(CloseCode::Away | CloseCode::Restart | CloseCode::Again) => Reach::EveryClient,
        _ => Reach::ThisSocket,
    }
}

async fn next_frame(
    socket: &mut Option<OpenSocket>,
) -> Option<Result<Message, tungstenite::Error>> {
    match socket.as_mut() {
        Some(s) => s.frames.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
