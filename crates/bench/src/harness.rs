//! The in-process pieces the benchmarks share: the core engine signed in to
//! a server with an in-memory keychain and a notifier that timestamps every
//! popup, and helpers to wait with a deadline. It measures nothing itself.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use smarthunt_core::account::{self, LoginRequest};
use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::{Engine, EngineTask, Ports, Tuning};
use smarthunt_core::ports::{Notifier, Popup};
use smarthunt_core::secret::{MemorySecretStore, SecretStore, Sensitive};
use smarthunt_core::transport::TransportOptions;

use crate::error::{BenchError, BenchResult};

/// Starts this program again as the worker `args` name, with `env` set,
/// its stdout piped to the caller (its answer) and its stderr shared; it is
/// killed if dropped. `what` names it in errors.
pub fn spawn_worker(
    args: &[&str],
    env: (&str, &str),
    what: &str,
) -> BenchResult<(tokio::process::Child, tokio::process::ChildStdout)> {
    let exe = std::env::current_exe().map_err(BenchError::io("cannot find this program"))?;
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .env(env.0, env.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io(format!("cannot start the {what}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::failed(format!("the {what}'s stdout is not piped")))?;
    Ok((child, stdout))
}

/// Runs `fut`, or fails with a timeout naming `what`.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> BenchResult<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| BenchError::timeout(what, limit))
}

/// A notifier that remembers when each popup was raised.
#[derive(Default)]
pub struct TimedNotifier {
    popups: Mutex<Vec<(Instant, Popup)>>,
}

impl TimedNotifier {
    fn lock(&self) -> MutexGuard<'_, Vec<(Instant, Popup)>> {
        // A poisoned list is still a valid list.
        self.popups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn popups(&self) -> Vec<(Instant, Popup)> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// When the latest popup was raised.
    pub fn last_at(&self) -> Option<Instant> {
        self.lock().last().map(|(t, _)| *t)
    }
}

impl Notifier for TimedNotifier {
    fn show(&self, popup: Popup) {
        self.lock().push((Instant::now(), popup));
    }
}

/// The core engine of one account, signed in on a throwaway data dir.
pub struct BenchEngine {
    pub engine: Engine,
    pub notifier: Arc<TimedNotifier>,
    task: Option<EngineTask>,
    _data_dir: tempfile::TempDir,
}

impl BenchEngine {
    /// Signs `user` in to `server` (tokens in memory) and starts the engine.
    pub async fn start(server: &str, user: (&str, &str), tuning: Tuning) -> BenchResult<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix("smarthunt-bench-")
            .tempdir()
            .map_err(BenchError::io("cannot create a temporary data dir"))?;
        let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::default());
        let request = LoginRequest {
            server: server.to_owned(),
            username: user.0.to_owned(),
            password: Sensitive::new(user.1),
            stay_signed_in: true,
            transport: TransportOptions::default(),
        };
        account::login(data_dir.path(), request, secrets.clone())
            .await
            .map_err(|e| BenchError::failed(format!("sign-in to the dev server failed: {e}")))?;
        let notifier = Arc::new(TimedNotifier::default());
        let ports = Ports {
            notifier: notifier.clone(),
            secrets,
        };
        let (engine, task) = Engine::start(data_dir.path().to_owned(), tuning, ports)
            .map_err(|e| BenchError::failed(format!("the engine did not start: {e}")))?;
        Ok(Self {
            engine,
            notifier,
            task: Some(task),
            _data_dir: data_dir,
        })
    }

    /// Waits until the connection state satisfies `pred`.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&ConnectionState) -> bool,
    ) -> BenchResult<()> {
        let mut status = self.engine.status();
        within(limit, what, async {
            loop {
                if pred(&status.borrow_and_update().connection) {
                    return Ok(());
                }
                if status.changed().await.is_err() {
                    return Err(BenchError::failed(format!(
                        "the engine stopped while waiting for {what}"
                    )));
                }
            }
        })
        .await?
    }

    pub async fn wait_connected(&self, limit: Duration) -> BenchResult<()> {
        self.wait_for(
            "the engine to connect",
            limit,
            ConnectionState::is_connected,
        )
        .await
    }

    /// Shuts the engine down and waits for it (at most 10 s).
    pub async fn stop(mut self) {
        self.engine.shutdown().await;
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task.join()).await;
        }
    }
}
