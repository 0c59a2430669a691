//! Signing an account in and out of a data dir: tokens to the keychain,
//! the current account to `config.json`, local data removed on sign-out. A
//! running engine picks the change up from the config's generation. It
//! does not run the engine.

use std::path::Path;
use std::sync::Arc;

use crate::config::{AccountRef, AppConfig, ConfigError};
use crate::protocol::Profile;
use crate::secret::{SecretStore, Sensitive};
use crate::session::{Session, SessionError};
use crate::store::DataDirLock;
use crate::transport::{ServerUrl, Transport, TransportError, TransportOptions};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// What `login` needs.
pub struct LoginRequest {
    pub server: String,
    pub username: String,
    pub password: Sensitive,
    pub stay_signed_in: bool,
    pub transport: TransportOptions,
}

/// Signs in, stores the tokens in the keychain and makes this the current
/// account. Returns the server's profile of the user when it answers.
pub async fn login(
    data_dir: &Path,
    req: LoginRequest,
    secrets: Arc<dyn SecretStore>,
) -> Result<Option<Profile>, AccountError> {
    let server = ServerUrl::parse(&req.server, req.transport.allow_insecure_http)?;
    let transport = Transport::new(&req.transport)?;
    let session = Session::login(
        &transport,
        &server,
        req.username.trim(),
        &req.password,
        req.stay_signed_in,
        secrets,
    )
    .await?;
    let profile = crate::api::Api::new(session, transport.http().clone())
        .profile()
        .await
        .ok();
    let account = AccountRef {
        server: server.as_str().to_owned(),
        username: req.username.trim().to_owned(),
        transport: req.transport,
    };
    AppConfig::update(data_dir, |c| c.current = Some(account))?;
    Ok(profile)
}

/// Signs the current account out: its secrets leave the keychain and its
/// local data is removed (now, or by the running engine once it lets go).
/// Returns the account that was signed out, if any.
pub async fn logout(
    data_dir: &Path,
    secrets: Arc<dyn SecretStore>,
) -> Result<Option<AccountRef>, AccountError> {
    let config = AppConfig::load(data_dir)?;
    let Some(account) = config.current else {
        return Ok(None);
    };
    if let Ok(server) = account.server_url() {
        Session::forget(&server, &account.username, &secrets).await?;
    }
    let dir = account.dir(data_dir).ok();
    let mut config = AppConfig::update(data_dir, |c| {
        c.current = None;
        c.pending_removal.extend(dir);
    })?;
    // With no engine running, remove the data now.
    if let Ok(_lock) = DataDirLock::acquire(data_dir) {
        if config.remove_pending(data_dir) {
            config.save(data_dir)?;
        }
    }
    Ok(Some(account))
}
