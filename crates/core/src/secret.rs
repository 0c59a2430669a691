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

/// What a held secret is, for [`hold`]: each kind keeps its current and
/// previous value, so the set stays small however often tokens refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Access,
    Refresh,
    Password,
    /// The per-launch secret the tray gives its window.
    Window,
}

/// Values shorter than this are not scrubbed from logs: they would scrub
/// every such run of letters and leave the logs unreadable.
const MIN_SCRUBBED_CHARS: usize = 4;

static HELD: std::sync::Mutex<Vec<(Held, String)>> = std::sync::Mutex::new(Vec::new());

/// Remembers a secret this process holds, so [`scrub`] can take its exact
/// value out of any text (a log line, a panic message).
pub fn hold(kind: Held, secret: &Sensitive) {
    let value = secret.expose();
    if value.chars().count() < MIN_SCRUBBED_CHARS {
        return;
    }
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.iter().any(|(_, v)| v == value) {
        return;
    }
    // The oldest of this kind goes once two are kept.
    if held.iter().filter(|(k, _)| *k == kind).count() >= 2 {
        if let Some(at) = held.iter().position(|(k, _)| *k == kind) {
            held.remove(at);
        }
    }
    held.push((kind, value.to_owned()));
}

/// `text` with every held secret replaced by `<redacted>`.
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = std::borrow::Cow::Borrowed(text);
    for (_, value) in held.iter() {
        if out.contains(value.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(value.as_str(), "<redacted>"));
        }
    }
    out
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
    fn held_secrets_are_scrubbed_and_the_set_stays_small() {
        hold(Held::Password, &Sensitive::new("hunter2-pass"));
        for i in 0..50 {
            hold(Held::Access, &Sensitive::new(format!("opaque-access-{i}")));
        }
        let line = "sent hunter2-pass and opaque-access-49 and opaque-access-48";
        assert_eq!(scrub(line), "sent <redacted> and <redacted> and <redacted>");
        assert_eq!(scrub("opaque-access-1"), "opaque-access-1", "long gone");
        hold(Held::Window, &Sensitive::new("abc"));
        assert_eq!(scrub("abc"), "abc", "too short to scrub");
        assert!(HELD.lock().unwrap().len() <= 8);
    }

    #[test]
    fn sensitive_never_prints() {
        let s = Sensitive::new("eyJhbGciOi.secret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s)), "Some(<redacted>)");
    }
}
