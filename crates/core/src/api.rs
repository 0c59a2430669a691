//! The REST calls of PROTOCOL.md section 3, authenticated with the session's
//! access token: refreshed before expiry, and once more after a 401. It does
//! not decide what to do with the answers.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::protocol::{
    self, BookingDecisionBody, ChatMessage, IncomingNotification, MarkReadBody, Page, Profile,
    SendMessageBody, Stats,
};
use crate::secret::Sensitive;
use crate::session::{Session, SessionError};
use crate::transport::{read_capped, redirect_target, BodyError, ServerUrl, MAX_BODY_BYTES};

/// The most items one page may bring; the rest of an oversized page is
/// skipped (DRF sends 20).
pub const MAX_PAGE_ITEMS: usize = 200;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("signed out: {0}")]
    SignedOut(String),
    /// `sent` is false when the request surely never reached the server
    /// (the connection was refused), so a retry cannot duplicate it.
    #[error("cannot reach the server: {message}")]
    Network { message: String, sent: bool },
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the server's answer was not understood: {0}")]
    Decode(String),
    /// API calls never follow a redirect; the address it named.
    #[error("the server redirected to {0}; not followed (change the server address if that is where it moved)")]
    Redirected(String),
    #[error("the server's answer is larger than {} KiB; refused", .0 / 1024)]
    TooLarge(usize),
    #[error("{0}")]
    Session(SessionError),
}

impl ApiError {
    /// The outcome of the request is unknown: it may have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Network { sent, .. } => *sent,
            Self::Status(s) => *s >= 500,
            _ => false,
        }
    }

    fn from_reqwest(e: reqwest::Error) -> Self {
        let sent = !e.is_connect();
        Self::Network {
            sent,
            message: crate::transport::describe_http_error(e).0,
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::SignedOut(why) => Self::SignedOut(why),
            SessionError::NotSignedIn => Self::SignedOut("not signed in".into()),
            SessionError::Network(m) => Self::Network {
                message: m,
                sent: false,
            },
            other => Self::Session(other),
        }
    }
}

/// An answer that is not what we expected, in a few words: serde quotes
/// the offending value, which a server could make megabytes long.
fn decode_error(e: serde_json::Error) -> ApiError {
    ApiError::Decode(protocol::cap_text(e.to_string(), 200))
}

/// The authenticated REST client of one account; cheap to clone.
#[derive(Clone)]
pub struct Api {
    server: ServerUrl,
    http: reqwest::Client,
    session: Arc<Mutex<Session>>,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Api {
    pub fn new(session: Session, http: reqwest::Client) -> Self {
        Self {
            server: session.server().clone(),
            http,
            session: Arc::new(Mutex::new(session)),
        }
    }

    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// A valid-looking access token, refreshed first when it is about to expire.
    pub async fn access_token(&self) -> Result<Sensitive, ApiError> {
        let mut s = self.session.lock().await;
        s.ensure_fresh(now_secs()).await?;
        Ok(s.access().clone())
    }

    /// Refreshes now unless another caller already did since `stale` was read.
    pub async fn refresh_after_refusal(&self, stale: &Sensitive) -> Result<Sensitive, ApiError> {
        let mut s = self.session.lock().await;
        if s.access() == stale {
            s.refresh().await?;
        }
        Ok(s.access().clone())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = self.server.api(path);
        let mut token = self.access_token().await?;
        for attempt in 0..2 {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(ApiError::from_reqwest)?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.refresh_after_refusal(&token).await?;
                continue;
            }
            if let Some(target) = redirect_target(&resp) {
                return Err(ApiError::Redirected(target));
            }
            if !status.is_success() {
                return Err(ApiError::Status(status.as_u16()));
            }
            let bytes = read_capped(resp, MAX_BODY_BYTES)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge(limit) => ApiError::TooLarge(limit),
                    BodyError::Http(e) => ApiError::from_reqwest(e),
                })?;
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(decode_error);
        }
        Err(ApiError::Status(401))
    }

    /// One page of the notification list, newest first.
    pub async fn notifications_page(
        &self,
        page: u32,
        unread_only: bool,
    ) -> Result<(Vec<IncomingNotification>, bool), ApiError> {
        let filter = if unread_only { "&is_read=false" } else { "" };
        self.page(
            &format!("api/interactions/notifications/?page={page}{filter}"),
            page,
            protocol::notification_from_rest,
        )
        .await
    }

    /// One page of a paginated list: the items that decode (others are
    /// skipped) and whether there is a next page.
    async fn page<T>(
        &self,
        path: &str,
        page: u32,
        decode: fn(&Value) -> Option<T>,
    ) -> Result<(Vec<T>, bool), ApiError> {
        let v = match self.call(Method::GET, path, None).await {
            // DRF answers 404 for a page past the end.
            Err(ApiError::Status(404)) if page > 1 => return Ok((Vec::new(), false)),
            other => other?,
        };
        let page: Page = serde_json::from_value(v).map_err(decode_error)?;
        if page.results.len() > MAX_PAGE_ITEMS {
            tracing::warn!(
                items = page.results.len(),
                kept = MAX_PAGE_ITEMS,
                "a page brought more items than any server sends; the rest are skipped"
            );
        }
        let items = page
            .results
            .iter()
            .take(MAX_PAGE_ITEMS)
            .filter_map(decode)
            .collect();
        Ok((items, page.next.is_some()))
    }

    pub async fn notification_detail(&self, id: i64) -> Result<IncomingNotification, ApiError> {
        let v = self
            .call(
                Method::GET,
                &format!("api/interactions/notifications/{id}/"),
                None,
            )
            .await?;
        protocol::notification_from_rest(&v)
            .ok_or_else(|| ApiError::Decode("notification detail lacks fields".into()))
    }

    pub async fn mark_read(&self, id: i64) -> Result<(), ApiError> {
        let body = serde_json::to_value(MarkReadBody { is_read: true }).map_err(decode_error)?;
        self.call(
            Method::PATCH,
            &format!("api/interactions/notifications/{id}/"),
            Some(body),
        )
        .await
        .map(drop)
    }

    pub async fn mark_all_read(&self) -> Result<(), ApiError> {
        self.call(
            Method::POST,
            "api/interactions/notifications/mark-all-read/",
            None,
        )
        .await
        .map(drop)
    }

    pub async fn stats(&self) -> Result<Stats, ApiError> {
        let v = self
            .call(Method::GET, "api/interactions/notifications/stats/", None)
            .await?;
        serde_json::from_value(v).map_err(decode_error)
    }

    pub async fn messages_page(&self, page: u32) -> Result<(Vec<ChatMessage>, bool), ApiError> {
        self.page(
            &format!("api/interactions/messages/?page={page}"),
            page,
            protocol::chat_message_from_rest,
        )
        .await
    }

    pub async fn send_message(
        &self,
        receiver: i64,
        content: &str,
    ) -> Result<ChatMessage, ApiError> {
        let body =
            serde_json::to_value(SendMessageBody { receiver, content }).map_err(decode_error)?;
        let v = self
            .call(Method::POST, "api/interactions/messages/", Some(body))
            .await?;
        protocol::chat_message_from_rest(&v)
            .ok_or_else(|| ApiError::Decode("sent message lacks fields".into()))
    }

    pub async fn decide_booking(&self, booking_id: i64, approve: bool) -> Result<(), ApiError> {
        let status = if approve { "approved" } else { "declined" };
        let body = serde_json::to_value(BookingDecisionBody { status }).map_err(decode_error)?;
        self.call(
            Method::PATCH,
            &format!("api/interactions/bookings/{booking_id}/approve/"),
            Some(body),
        )
        .await
        .map(drop)
    }

    pub async fn profile(&self) -> Result<Profile, ApiError> {
        let v = self.call(Method::GET, "api/users/profile/", None).await?;
        serde_json::from_value(v)
            .map(Profile::capped)
            .map_err(decode_error)
    }
}
