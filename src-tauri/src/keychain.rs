//! The OS keychain (Secret Service on Linux) behind the core's
//! `SecretStore` port. One entry per server and user: service
//! `smarthunt-desktop`, username `<user>@<server URL>`. Never falls back to a
//! file.

use keyring::Entry;
use smarthunt_core::secret::{SecretStore, SecretStoreError, Sensitive};

/// The keychain service name every entry is stored under.
pub const SERVICE: &str = "smarthunt-desktop";

/// The keychain's user name for an account.
pub fn entry_user(server: &str, username: &str) -> String {
    format!("{username}@{server}")
}

pub struct Keychain;

fn entry(server: &str, username: &str) -> Result<Entry, SecretStoreError> {
    Entry::new(SERVICE, &entry_user(server, username)).map_err(map_error)
}

/// Keyring errors to ours. Their texts come from the platform and never
/// contain the secret.
fn map_error(e: keyring::Error) -> SecretStoreError {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            let text = inner.to_string();
            if text.to_ascii_lowercase().contains("lock") {
                SecretStoreError::Locked
            } else {
                SecretStoreError::Unavailable(text)
            }
        }
        keyring::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            if text.to_ascii_lowercase().contains("lock") {
                SecretStoreError::Locked
            } else {
                SecretStoreError::Unavailable(text)
            }
        }
        other => SecretStoreError::Other(other.to_string()),
    }
}

impl SecretStore for Keychain {
    fn get(&self, server: &str, username: &str) -> Result<Option<Sensitive>, SecretStoreError> {
        match entry(server, username)?.get_password() {
            Ok(p) => Ok(Some(Sensitive::new(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    fn set(
        &self,
        server: &str,
        username: &str,
        secret: &Sensitive,
    ) -> Result<(), SecretStoreError> {
        entry(server, username)?
            .set_password(secret.expose())
            .map_err(map_error)
    }

    fn delete(&self, server: &str, username: &str) -> Result<(), SecretStoreError> {
        match entry(server, username)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }
}
