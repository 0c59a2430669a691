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
    /// The file is there but is not a config: kept as it is until the
    /// user signs in again, which moves it aside to `config.json.corrupt`.
    #[error("{path} is damaged ({reason}); it is kept for inspection, and signing in again starts afresh")]
    Corrupt { path: PathBuf, reason: String },
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
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigError::Corrupt {
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
        crate::private::ensure_dir(data_dir).map_err(|e| ConfigError::Write {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = data_dir.join("config.json.tmp");
        // A struct of plain data always serialises.
        let bytes = serde_json::to_vec_pretty(self).expect("config serialises");
        {
            use std::io::Write;
            let mut f = crate::private::create_new_file(&tmp).map_err(err)?;
            f.write_all(&bytes).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// Loads, changes and saves the config, bumping the generation. A
    /// damaged config is moved aside to `config.json.corrupt` (for
    /// inspection) and the change starts from an empty one: this is the
    /// user signing in again.
    pub fn update(
        data_dir: &Path,
        change: impl FnOnce(&mut AppConfig),
    ) -> Result<AppConfig, ConfigError> {
        let mut config = match Self::load(data_dir) {
            Err(ConfigError::Corrupt { path, reason }) => {
                let aside = data_dir.join("config.json.corrupt");
                std::fs::rename(&path, &aside).map_err(|e| ConfigError::Write {
                    path: aside.clone(),
                    reason: e.to_string(),
                })?;
                tracing::warn!(reason, kept = %aside.display(), "the damaged config was moved aside");
                // Past generations are unknown: start above any a running
                // engine may still hold.
                Self {
                    generation: chrono::Utc::now().timestamp_millis().unsigned_abs(),
                    ..Self::default()
                }
            }
            other => other?,
        };
        change(&mut config);
        config.generation += 1;
        config.save(data_dir)?;
        Ok(config)
    }

    /// Deletes the pending account dirs; true when the list changed. Only
    /// a dir directly under `data_dir`'s own `accounts/` is ever removed: an
    /// entry naming anything else (a config someone else wrote) is dropped
    /// from the list and left alone.
    pub fn remove_pending(&mut self, data_dir: &Path) -> bool {
        let before = self.pending_removal.len();
        let accounts = data_dir.join("accounts");
        self.pending_removal.retain(|dir| {
            let inside = dir.parent() == Some(accounts.as_path())
                && matches!(
                    dir.components().next_back(),
                    Some(std::path::Component::Normal(_))
                );
            if !inside {
                tracing::warn!(dir = %dir.display(), "not an account dir of this data dir; left alone");
                return false;
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
    fn only_account_dirs_of_this_data_dir_are_ever_removed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let account = dir.path().join("accounts/tenant@127.0.0.1_8000");
        std::fs::create_dir_all(&account).unwrap();
        let mut c = AppConfig {
            pending_removal: vec![
                account.clone(),
                elsewhere.path().to_owned(),
                dir.path().join("accounts/../accounts"),
                dir.path().join("accounts"),
            ],
            ..AppConfig::default()
        };
        assert!(c.remove_pending(dir.path()));
        assert!(!account.exists(), "the account dir is removed");
        assert!(elsewhere.path().exists(), "a dir elsewhere is left alone");
        assert!(dir.path().join("accounts").exists());
        assert!(c.pending_removal.is_empty(), "and forgotten: {c:?}");
    }

    #[test]
    fn corrupt_config_is_an_error_not_a_reset_until_the_user_signs_in_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(AppConfig::path(dir.path()), b"{not json").unwrap();
        let err = AppConfig::load(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("config.json"));
        assert_eq!(
            std::fs::read(AppConfig::path(dir.path())).unwrap(),
            b"{not json",
            "kept as it was"
        );
        let c = AppConfig::update(dir.path(), |c| c.autostart_set_up = true).unwrap();
        assert!(c.autostart_set_up);
        assert_eq!(AppConfig::load(dir.path()).unwrap(), c);
        assert_eq!(
            std::fs::read(dir.path().join("config.json.corrupt")).unwrap(),
            b"{not json",
            "moved aside for inspection"
        );
    }
}
