//! Secrets in memory and the port to the OS keychain. A secret never prints,
//! never serialises by accident, and leaves memory only through `expose`.

use std::fmt;

/// A string that must never reach a log, an error message or a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The only way to read the secret; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why the keychain could not serve a request. Messages are for the user and
/// carry no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretStoreError {
    #[error("no keychain is available ({0})")]
    Unavailable(String),
    #[error("the keychain is locked; unlock it and try again")]
    Locked,
    #[error("the keychain did not answer within {0} s (is it waiting for a password prompt?)")]
    Timeout(u64),
    #[error("the keychain failed: {0}")]
    Other(String),
}

/// The OS keychain, one entry per (server, username). Implementations may
/// block; callers run them off the async runtime with a deadline.
pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, server: &str, username: &str) -> Result<Option<Sensitive>, SecretStoreError>;
    fn set(&self, server: &str, username: &str, secret: &Sensitive)
        -> Result<(), SecretStoreError>;
    /// Deleting an absent entry is not an error.
    fn delete(&self, server: &str, username: &str) -> Result<(), SecretStoreError>;
}

/// An in-memory secret store for tests and the demo's throwaway accounts.
#[derive(Default)]
pub struct MemorySecretStore {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), Sensitive>>,
}

impl MemorySecretStore {
    fn entries(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), Sensitive>> {
        // A poisoned map is still a valid map: a panic elsewhere must not lock us out.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemorySecretStore {
    fn get(&self, server: &str, username: &str) -> Result<Option<Sensitive>, SecretStoreError> {
        Ok(self
            .entries()
            .get(&(server.to_owned(), username.to_owned()))
            .cloned())
    }

    fn set(
        &self,
        server: &str,
        username: &str,
        secret: &Sensitive,
    ) -> Result<(), SecretStoreError> {
        self.entries()
            .insert((server.to_owned(), username.to_owned()), secret.clone());
        Ok(())
    }

    fn delete(&self, server: &str, username: &str) -> Result<(), SecretStoreError> {
        self.entries()
            .remove(&(server.to_owned(), username.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints() {
        let s = Sensitive::new("eyJhbGciOi.secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s)), "Some(<redacted>)");
    }
}
