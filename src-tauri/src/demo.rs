//! The demo (`--demo`): an embedded dev server with its event scenario,
//! signed in as its landlord on a throwaway data dir. Built only with the
//! `demo` feature (on by default, for `./demo` and the tests); packaged
//! builds leave it, the dev server and its passwords out.

use std::path::PathBuf;
use std::sync::Arc;

use smarthunt_core::account::{self, LoginRequest};
use smarthunt_core::secret::{MemorySecretStore, SecretStore, Sensitive};
use smarthunt_core::transport::TransportOptions;

use crate::logging;

/// An embedded dev server with its scenario, a throwaway data dir and an
/// in-memory keychain, signed in as the landlord.
pub struct Demo {
    pub dir: PathBuf,
    /// A fresh private dir (mkdtemp, 0700), removed with the demo.
    temp: tempfile::TempDir,
    pub server: smarthunt_devserver::DevServer,
    pub secrets: Arc<dyn SecretStore>,
    _log: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Demo {
    /// Starts the server and signs in; on failure returns the exit code.
    pub async fn start() -> Result<Demo, u8> {
        use smarthunt_devserver::{DevServer, DevServerConfig, LANDLORD};

        let temp = tempfile::Builder::new()
            .prefix("smarthunt-demo-")
            .tempdir()
            .map_err(|e| {
                eprintln!("smarthunt-tray: cannot create the demo's data dir: {e}");
                1
            })?;
        let dir = temp.path().to_owned();
        let log = logging::init(&dir);
        let server = DevServer::start(DevServerConfig {
            scenario_interval: Some(std::time::Duration::from_secs(4)),
            ..DevServerConfig::default()
        })
        .await
        .map_err(|e| {
            eprintln!("smarthunt-tray: cannot start the demo server: {e}");
            1
        })?;
        let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::default());
        let req = LoginRequest {
            server: server.base_url(),
            username: LANDLORD.0.into(),
            password: Sensitive::new(LANDLORD.1),
            stay_signed_in: true,
            transport: TransportOptions::default(),
        };
        if let Err(e) = account::login(&dir, req, secrets.clone()).await {
            eprintln!("smarthunt-tray: demo sign-in failed: {e}");
            return Err(crate::headless::exit_code(&e));
        }
        println!(
            "SmartHunt demo: dev server at {}, signed in as `{}`. New bookings, messages and maintenance requests pop up every few seconds. Quit from the tray menu (or Ctrl-C).\nIts data, removed at exit: {}",
            server.base_url(),
            LANDLORD.0,
            dir.display()
        );
        Ok(Demo {
            dir,
            temp,
            server,
            secrets,
            _log: log,
        })
    }

    /// Stops the server and removes the throwaway data.
    pub async fn stop(self) {
        self.server.shutdown().await;
        if let Err(e) = self.temp.close() {
            eprintln!("smarthunt-tray: cannot remove the demo's data: {e}");
        }
    }
}

/// `smarthunt-tray --demo --headless`: the demo without window or tray.
pub async fn headless() -> u8 {
    let terminated = crate::headless::termination();
    let demo = match Demo::start().await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let code = crate::headless::run_engine(&demo.dir, demo.secrets.clone(), terminated).await;
    demo.stop().await;
    code
}
