//! Who we are to the server: sign in, keep the access token fresh from its
//! `exp` claim, refresh after a refusal, sign in again silently with a saved
//! password ("stay signed in"), and decide when the user is signed out.
//! Secrets go only through the [`SecretStore`] port, off the async runtime,
//! with a deadline. It does not open sockets or touch the database.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::protocol::{AccessToken, RefreshRequest, TokenPair, TokenRequest};
use crate::secret::{Held, SecretStore, SecretStoreError, Sensitive};
use crate::transport::{ServerUrl, Transport};

/// How long a keychain call may take before we give up on it.
pub const KEYCHAIN_DEADLINE: Duration = Duration::from_secs(10);
/// Refresh this long before the access token expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    #[error("the username or password was not accepted")]
    InvalidCredentials,
    #[error("signed out: {0}")]
    SignedOut(String),
    #[error("not signed in")]
    NotSignedIn,
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error(
        "the server's certificate is not trusted ({0}); for a self-signed server, give its CA file"
    )]
    Tls(String),
    #[error("the server failed (HTTP {0}); will retry")]
    Server(u16),
    #[error("the server answered something unexpected: {0}")]
    Protocol(String),
    /// Sign-in and refresh never follow a redirect: it would carry the
    /// password or the refresh token to wherever it points.
    #[error("the server redirected to {0}; not followed (change the server address if that is where it moved)")]
    Redirected(String),
    #[error(transparent)]
    Keychain(#[from] SecretStoreError),
}

impl SessionError {
    /// Worth retrying later by itself (network, 5xx); the others need the user.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Network(_) | Self::Server(_) | Self::Protocol(_) | Self::Redirected(_)
        )
    }

    fn from_reqwest(e: reqwest::Error) -> Self {
        match crate::transport::describe_http_error(e) {
            (text, crate::transport::HttpFailure::Tls) => Self::Tls(text),
            (text, crate::transport::HttpFailure::Network) => Self::Network(text),
        }
    }
}

/// What the keychain entry of one account holds.
#[derive(Clone, Serialize, Deserialize)]
struct StoredCredentials {
    access: String,
    refresh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// The tokens of a signed-in account. Debug prints no secret.
#[derive(Clone)]
pub struct Credentials {
    pub access: Sensitive,
    pub refresh: Sensitive,
    /// Kept only with the user's opt-in "stay signed in".
    pub password: Option<Sensitive>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("stay_signed_in", &self.password.is_some())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Lets the logs scrub these values wherever they would appear.
    fn hold(&self) {
        crate::secret::hold(Held::Access, &self.access);
        crate::secret::hold(Held::Refresh, &self.refresh);
        if let Some(p) = &self.password {
            crate::secret::hold(Held::Password, p);
        }
    }

    fn to_secret(&self) -> Sensitive {
        let stored = StoredCredentials {
            access: self.access.expose().to_owned(),
            refresh: self.refresh.expose().to_owned(),
            password: self.password.as_ref().map(|p| p.expose().to_owned()),
        };
        // A struct of strings always serialises.
        Sensitive::new(serde_json::to_string(&stored).expect("strings serialise"))
    }

    fn from_secret(s: &Sensitive) -> Option<Self> {
        let stored: StoredCredentials = serde_json::from_str(s.expose()).ok()?;
        Some(Self {
            access: Sensitive::new(stored.access),
            refresh: Sensitive::new(stored.refresh),
            password: stored.password.map(Sensitive::new),
        })
    }
}

/// Reads the `exp` claim (unix seconds) of a JWT without verifying it: we
/// only need to know when to refresh; the server verifies.
pub fn jwt_expiry(token: &str) -> Option<i64> {
    if token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("exp")? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// True when the token should be refreshed at `now` (unix seconds). A token
/// without a readable `exp` is used until the server refuses it.
pub fn needs_refresh(token: &str, now_secs: i64) -> bool {
    jwt_expiry(token).is_some_and(|exp| exp.saturating_sub(REFRESH_MARGIN_SECS) <= now_secs)
}

/// The most of a token we read claims from: JWTs are a few hundred bytes.
const MAX_TOKEN_CHARS: usize = 16 * 1024;

/// Decodes a sign-in or refresh answer: refused unless a 2xx, read with a
/// cap, and its tokens must be short printable text (they go into headers
/// and the socket URL).
async fn token_answer<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &str,
) -> Result<T, SessionError> {
    let body = crate::transport::read_capped(resp, crate::transport::MAX_TOKEN_BODY_BYTES)
        .await
        .map_err(|e| match e {
            crate::transport::BodyError::TooLarge(_) => {
                SessionError::Protocol(format!("the {what} answer is too large"))
            }
            crate::transport::BodyError::Http(e) => SessionError::from_reqwest(e),
        })?;
    serde_json::from_slice(&body)
        .map_err(|_| SessionError::Protocol(format!("the {what} answer lacks tokens")))
}

/// A token fit to send back: bounded, printable ASCII.
fn checked_token(t: String, what: &str) -> Result<Sensitive, SessionError> {
    if t.is_empty() || t.len() > MAX_TOKEN_CHARS || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SessionError::Protocol(format!(
            "the {what} answer holds no usable token"
        )));
    }
    Ok(Sensitive::new(t))
}

/// Runs a keychain call on a blocking thread with a deadline, so a keychain
/// that waits forever for a prompt becomes a clear error instead of a hang.
pub async fn keychain<T, F>(store: &Arc<dyn SecretStore>, f: F) -> Result<T, SecretStoreError>
where
    T: Send + 'static,
    F: FnOnce(&dyn SecretStore) -> Result<T, SecretStoreError> + Send + 'static,
{
    let store = store.clone();
    let task = tokio::task::spawn_blocking(move || f(store.as_ref()));
    match tokio::time::timeout(KEYCHAIN_DEADLINE, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(SecretStoreError::Other("the keychain call crashed".into())),
        Err(_) => Err(SecretStoreError::Timeout(KEYCHAIN_DEADLINE.as_secs())),
    }
}

/// One signed-in account: its server, name and tokens.
pub struct Session {
    server: ServerUrl,
    username: String,
    creds: Credentials,
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
}

impl Session {
    /// Signs in with `POST /api/token/` and stores the tokens (and, when
    /// asked to stay signed in, the password) in the keychain.
    pub async fn login(
        transport: &Transport,
        server: &ServerUrl,
        username: &str,
        password: &Sensitive,
        stay_signed_in: bool,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Session, SessionError> {
        let (access, refresh) = obtain_pair(transport.http(), server, username, password).await?;
        let creds = Credentials {
            access,
            refresh,
            password: stay_signed_in.then(|| password.clone()),
        };
        let session = Session {
            server: server.clone(),
            username: username.to_owned(),
            creds,
            http: transport.http().clone(),
            secrets,
        };
        session.save().await?;
        Ok(session)
    }

    /// The session saved in the keychain for this account.
    pub async fn load(
        transport: &Transport,
        server: &ServerUrl,
        username: &str,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Session, SessionError> {
        let (s, u) = (server.as_str().to_owned(), username.to_owned());
        let secret = keychain(&secrets, move |k| k.get(&s, &u)).await?;
        let creds = secret
            .as_ref()
            .and_then(Credentials::from_secret)
            .ok_or(SessionError::NotSignedIn)?;
        creds.hold();
        Ok(Session {
            server: server.clone(),
            username: username.to_owned(),
            creds,
            http: transport.http().clone(),
            secrets,
        })
    }

    /// Removes this account's secrets from the keychain.
    pub async fn forget(
        server: &ServerUrl,
        username: &str,
        secrets: &Arc<dyn SecretStore>,
    ) -> Result<(), SessionError> {
        let (s, u) = (server.as_str().to_owned(), username.to_owned());
        keychain(secrets, move |k| k.delete(&s, &u)).await?;
        Ok(())
    }

    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn access(&self) -> &Sensitive {
        &self.creds.access
    }

    pub fn stays_signed_in(&self) -> bool {
        self.creds.password.is_some()
    }

    /// Refreshes if the access token is about to expire.
    pub async fn ensure_fresh(&mut self, now_secs: i64) -> Result<(), SessionError> {
        if needs_refresh(self.creds.access.expose(), now_secs) {
            self.refresh().await
        } else {
            Ok(())
        }
    }

    /// Gets a new access token. Only a 401 from the refresh endpoint can sign
    /// the user out, and only when no saved password signs them in again;
    /// network errors and 5xx are returned as transient.
    pub async fn refresh(&mut self) -> Result<(), SessionError> {
        let resp = self
            .http
            .post(self.server.api("api/token/refresh/"))
            .json(&RefreshRequest {
                refresh: self.creds.refresh.expose(),
            })
            .send()
            .await
            .map_err(SessionError::from_reqwest)?;
        if let Some(target) = crate::transport::redirect_target(&resp) {
            return Err(SessionError::Redirected(target));
        }
        match resp.status() {
            s if s.is_success() => {
                let body: AccessToken = token_answer(resp, "refresh").await?;
                self.creds.access = checked_token(body.access, "refresh")?;
                self.save().await
            }
            StatusCode::UNAUTHORIZED => self.sign_in_again().await,
            s if s.is_server_error() => Err(SessionError::Server(s.as_u16())),
            // A 400/403 from refresh is odd; treat as refused like a 401.
            s if s.is_client_error() => self.sign_in_again().await,
            s => Err(SessionError::Protocol(format!("refresh answered HTTP {s}"))),
        }
    }

    /// The refresh token is no longer accepted: sign in again with the saved
    /// password, or report signed out.
    async fn sign_in_again(&mut self) -> Result<(), SessionError> {
        let Some(password) = self.creds.password.clone() else {
            return Err(SessionError::SignedOut(
                "your session has ended; sign in again".into(),
            ));
        };
        match obtain_pair(&self.http, &self.server, &self.username, &password).await {
            Ok(pair) => {
                (self.creds.access, self.creds.refresh) = pair;
                self.save().await
            }
            Err(SessionError::InvalidCredentials) => Err(SessionError::SignedOut(
                "your saved password is no longer accepted; sign in again".into(),
            )),
            Err(e) => Err(e),
        }
    }

    async fn save(&self) -> Result<(), SessionError> {
        self.creds.hold();
        let (s, u, secret) = (
            self.server.as_str().to_owned(),
            self.username.clone(),
            self.creds.to_secret(),
        );
        keychain(&self.secrets, move |k| k.set(&s, &u, &secret)).await?;
        Ok(())
    }
}

async fn obtain_pair(
    http: &reqwest::Client,
    server: &ServerUrl,
    username: &str,
    password: &Sensitive,
) -> Result<(Sensitive, Sensitive), SessionError> {
    crate::secret::hold(Held::Password, password);
    let resp = http
        .post(server.api("api/token/"))
        .json(&TokenRequest {
            username,
            password: password.expose(),
        })
        .send()
        .await
        .map_err(SessionError::from_reqwest)?;
    if let Some(target) = crate::transport::redirect_target(&resp) {
        return Err(SessionError::Redirected(target));
    }
    match resp.status() {
        s if s.is_success() => {
            let pair: TokenPair = token_answer(resp, "sign-in").await?;
            Ok((
                checked_token(pair.access, "sign-in")?,
                checked_token(pair.refresh, "sign-in")?,
            ))
        }
        StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
            Err(SessionError::InvalidCredentials)
        }
        s if s.is_server_error() => Err(SessionError::Server(s.as_u16())),
        s => Err(SessionError::Protocol(format!("sign-in answered HTTP {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", b.encode("{}"), b.encode(payload))
    }

    #[test]
    fn reads_exp_claim() {
        assert_eq!(
            jwt_expiry(&jwt(r#"{"exp":1700000000,"user_id":"2"}"#)),
            Some(1700000000)
        );
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry(&jwt("[]")), None);
    }

    #[test]
    fn refreshes_a_minute_before_expiry() {
        let t = jwt(r#"{"exp":1000}"#);
        assert!(!needs_refresh(&t, 900));
        assert!(needs_refresh(&t, 940));
        assert!(needs_refresh(&t, 2000));
        assert!(!needs_refresh("opaque", 2000));
        // An absurd exp saturates instead of overflowing.
        assert!(needs_refresh(&jwt(r#"{"exp":-9223372036854775808}"#), 0));
        assert!(!needs_refresh(&jwt(r#"{"exp":9223372036854775807}"#), 0));
        assert!(!needs_refresh(&jwt(r#"{"exp":1e300}"#), 0));
    }

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = Credentials {
            access: Sensitive::new("access-secret"),
            refresh: Sensitive::new("refresh-secret"),
            password: Some(Sensitive::new("password-secret")),
        };
        let back = Credentials::from_secret(&c.to_secret()).unwrap();
        assert_eq!(back.password.unwrap().expose(), "password-secret");
        assert_eq!(back.refresh.expose(), "refresh-secret");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
    }
}
