//! The data dir's `config.json`: which account is current and how to reach
//! its server. Written atomically; a running engine re-reads it when its
//! generation changes (so `login`/`logout` act on a running instance). It
//! holds no secret.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::transport::{ServerUrl, TransportError, TransportOptions};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// The account the app signs in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub server: String,
    pub username: String,
    #[serde(default)]
    pub transport: TransportOptions,
}

impl AccountRef {
    pub fn server_url(&self) -> Result<ServerUrl, TransportError> {
        ServerUrl::parse(&self.server, self.transport.allow_insecure_http)
    }

    /// Where this account's database lives.
    pub fn dir(&self, data_dir: &Path) -> Result<PathBuf, TransportError> {
        Ok(data_dir
            .join("accounts")
            .join(self.server_url()?.account_slug(&self.username)))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    /// Bumped by every sign-in and sign-out, so a running engine notices.
    #[serde(default)]
    pub generation: u64,
    #[serde(default)]
    pub current: Option<AccountRef>,
    /// Account dirs to delete once no engine has them open.
    #[serde(default)]
    pub pending_removal: Vec<PathBuf>,
    /// Start-with-the-session was turned on once, at the first sign-in;
    /// from then on it is the user's toggle.
    #[serde(default)]
    pub autostart_set_up: bool,
}

impl AppConfig {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("config.json")
    }

    /// Reads the config; a missing file is the default. A corrupt file is an
    /// error (we never overwrite what we could not read without saying so).
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigError::Read {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError::Read {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Writes via a temporary file and rename, so a crash leaves the old or
    /// the new config, never half of one.
    pub fn save(&self, data_dir: &Path) -> Result<(), ConfigError> {
        let path = Self::path(data_dir);
        let err = |e: std::io::Error| ConfigError::Write {
            path: path.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(data_dir).map_err(err)?;
        let tmp = data_dir.join("config.json.tmp");
        // A struct of plain data always serialises.
        let bytes = serde_json::to_vec_pretty(self).expect("config serialises");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&bytes).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// Loads, changes and saves the config, bumping the generation.
    pub fn update(
        data_dir: &Path,
        change: impl FnOnce(&mut AppConfig),
    ) -> Result<AppConfig, ConfigError> {
        let mut config = Self::load(data_dir)?;
        change(&mut config);
        config.generation += 1;
        config.save(data_dir)?;
        Ok(config)
    }

    /// Deletes pending account dirs that are not `keep`; returns what is left.
    pub fn remove_pending(&mut self, keep: Option<&Path>) -> bool {
        let before = self.pending_removal.len();
        self.pending_removal.retain(|dir| {
            if Some(dir.as_path()) == keep {
                return true;
            }
            match std::fs::remove_dir_all(dir) {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot remove signed-out account data");
                    true
                }
            }
        });
        before != self.pending_removal.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bumps_generation() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AppConfig::load(dir.path()).unwrap(), AppConfig::default());
        let c = AppConfig::update(dir.path(), |c| {
            c.current = Some(AccountRef {
                server: "http://127.0.0.1:1".into(),
                username: "tenant".into(),
                transport: TransportOptions::default(),
            })
        })
        .unwrap();
        assert_eq!(c.generation, 1);
        assert_eq!(AppConfig::load(dir.path()).unwrap(), c);
    }

    #[test]
    fn corrupt_config_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(AppConfig::path(dir.path()), b"{not json").unwrap();
        let err = AppConfig::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.json"));
    }
}
