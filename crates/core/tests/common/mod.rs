//! Shared test harness: a real dev server on loopback, a real engine on a
//! temporary data dir, and recording ports.
#![allow(dead_code)]

pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use smarthunt_core::account::{self, LoginRequest};
use smarthunt_core::connection::{ConnectionState, ReconnectPolicy};
use smarthunt_core::engine::{Engine, EngineStatus, EngineTask, Ports, Tuning};
use smarthunt_core::ports::{Notifier, Popup, PopupKey, RecordingNotifier};
use smarthunt_core::secret::{MemorySecretStore, SecretStore, Sensitive};
use smarthunt_core::transport::TransportOptions;
use smarthunt_devserver::{DevServer, DevServerConfig, Variant, CONTROL_TOKEN_HEADER};

/// Generous: these machines are shared and noisy.
pub const WAIT: Duration = Duration::from_secs(30);

/// Short timings so failures and recoveries happen within a test.
pub fn fast_tuning() -> Tuning {
    Tuning {
        heartbeat_every: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_millis(1500),
        reconnect: ReconnectPolicy {
            base: Duration::from_millis(100),
            outage_base: Duration::from_millis(400),
            cap: Duration::from_millis(800),
            floor: Duration::from_millis(50),
        },
        handshake_gap: Duration::from_millis(200),
        reconcile_every: Duration::from_secs(3600),
        full_reconcile_every: Duration::from_secs(3600),
        housekeeping_every: Duration::from_millis(200),
        legacy_after: Duration::from_millis(500),
        dedupe_window: Duration::from_secs(120),
        outbox_retry: Duration::from_millis(300),
    }
}

pub struct Harness {
    pub server: Option<DevServer>,
    pub base_url: String,
    pub dir: tempfile::TempDir,
    pub engine: Option<(Engine, EngineTask)>,
    pub notifier: Arc<RecordingNotifier>,
    pub secrets: Arc<MemorySecretStore>,
    pub http: reqwest::Client,
    pub config: DevServerConfig,
}

impl Harness {
    pub async fn new(variant: Variant) -> Self {
        Self::with_config(DevServerConfig {
            variant,
            ..DevServerConfig::default()
        })
        .await
    }

    pub async fn with_config(config: DevServerConfig) -> Self {
        let server = DevServer::start(config.clone())
            .await
            .expect("dev server starts");
        let mut config = config;
        config.addr = server.addr();
        // A restart keeps the token as it keeps the port.
        config.control_token = Some(server.control_token().to_owned());
        let mut h = Self::against(&server.base_url());
        h.server = Some(server);
        h.config = config;
        h
    }

    /// The engine and its recording ports against a server the test runs
    /// itself (no dev server: the control calls do not apply).
    pub fn against(base_url: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();
        Self {
            server: None,
            base_url: base_url.to_owned(),
            dir: tempfile::tempdir().expect("temp dir"),
            engine: None,
            notifier: Arc::new(RecordingNotifier::default()),
            secrets: Arc::new(MemorySecretStore::default()),
            http: reqwest::Client::new(),
            config: DevServerConfig::default(),
        }
    }

    pub async fn login(&self, user: (&str, &str), stay_signed_in: bool) {
        account::login(
            self.dir.path(),
            LoginRequest {
                server: self.base_url.clone(),
                username: user.0.into(),
                password: Sensitive::new(user.1),
                stay_signed_in,
                transport: TransportOptions::default(),
            },
            self.secrets.clone() as Arc<dyn SecretStore>,
        )
        .await
        .expect("login succeeds");
    }

    pub fn start_engine(&mut self, tuning: Tuning) -> Engine {
        let ports = Ports {
            notifier: self.notifier.clone(),
            secrets: self.secrets.clone(),
        };
        let (engine, task) =
            Engine::start(self.dir.path().to_owned(), tuning, ports).expect("engine starts");
        self.engine = Some((engine.clone(), task));
        engine
    }

    pub fn engine(&self) -> &Engine {
        &self.engine.as_ref().expect("engine started").0
    }

    pub async fn stop_engine(&mut self) {
        if let Some((engine, task)) = self.engine.take() {
            engine.shutdown().await;
            tokio::time::timeout(WAIT, task.join())
                .await
                .expect("engine stops");
        }
    }

    /// Stops the server (all sockets drop); `restart_server` brings it back
    /// on the same port.
    pub async fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub async fn restart_server(&mut self) {
        let mut last = None;
        for _ in 0..50 {
            match DevServer::start(self.config.clone()).await {
                Ok(s) => {
                    self.server = Some(s);
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server restarts on the same port: {last:?}");
    }

    pub fn control_token(&self) -> &str {
        self.config.control_token.as_deref().unwrap_or_default()
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/control/{path}", self.base_url))
            .header(CONTROL_TOKEN_HEADER, self.control_token())
            .json(&body)
            .send()
            .await
            .expect("control call");
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    /// A REST call signed in as `user`, as the web app would make it;
    /// returns the JSON body.
    pub async fn rest_as(
        &self,
        user: (&str, &str),
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let tokens: Value = self
            .http
            .post(format!("{}/api/token/", self.base_url))
            .json(&json!({"username": user.0, "password": user.1}))
            .send()
            .await
            .expect("sign in")
            .json()
            .await
            .expect("tokens");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(tokens["access"].as_str().expect("an access token"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
            .await
            .expect("REST call")
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    pub async fn server_stats(&self) -> Value {
        self.http
            .get(format!("{}/control/stats", self.base_url))
            .header(CONTROL_TOKEN_HEADER, self.control_token())
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    pub async fn notify(&self, user: &str, title: &str, kind: &str) -> i64 {
        let v = self
            .control(
                "notify",
                json!({"username": user, "title": title, "body": format!("{title} body"), "notification_type": kind}),
            )
            .await;
        v["id"].as_i64().expect("notify returns id")
    }

    pub async fn wait_status(
        &self,
        what: &str,
        pred: impl Fn(&EngineStatus) -> bool,
    ) -> EngineStatus {
        let mut rx = self.engine().status();
        let r = tokio::time::timeout(WAIT, async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if pred(&s) {
                        return s.clone();
                    }
                }
                if rx.changed().await.is_err() {
                    panic!("engine stopped while waiting for {what}");
                }
            }
        })
        .await;
        match r {
            Ok(s) => s,
            Err(_) => panic!(
                "timed out waiting for {what}; status is {:?}",
                self.engine().status().borrow()
            ),
        }
    }

    pub async fn wait_connected(&self) -> EngineStatus {
        self.wait_status("connected", |s| s.connection.is_connected())
            .await
    }

    pub async fn wait_popups(&self, what: &str, pred: impl Fn(&[Popup]) -> bool) -> Vec<Popup> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let p = self.notifier.popups();
            if pred(&p) {
                return p;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; popups: {p:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the popup with `key` has been taken off the screen.
    pub async fn wait_withdrawn(&self, what: &str, key: PopupKey) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.notifier.withdrawn().contains(&key) {
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; on screen: {:?}",
                    self.notifier.on_screen()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the local store satisfies `pred`.
    pub async fn wait_store<T: Send + std::fmt::Debug + 'static>(
        &self,
        what: &str,
        query: impl Fn(&smarthunt_core::store::Store) -> T + Send + Sync + Clone + 'static,
        pred: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let q = query.clone();
            let v = self.engine().query(move |s| Ok(q(s))).await;
            if let Ok(v) = v {
                if pred(&v) {
                    return v;
                }
                if tokio::time::Instant::now() > deadline {
                    panic!("timed out waiting for {what}; last: {v:?}");
                }
            } else if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}: {v:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn is_signed_out(s: &EngineStatus) -> bool {
    matches!(s.connection, ConnectionState::SignedOut { .. })
}
