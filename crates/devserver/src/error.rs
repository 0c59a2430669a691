//! Error types: the public [`DevServerError`], the database error, and the
//! HTTP error answer shared by the REST and control handlers.

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Everything that can go wrong when starting or driving a [`crate::DevServer`].
#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    /// The dev server only ever listens on loopback.
    #[error("refusing to listen on non-loopback address {0}")]
    NonLoopback(SocketAddr),
    /// The listener could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be used.
    #[error("cannot use the TLS file {path}: {reason}")]
    Tls {
        /// The certificate or key file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The SQLite database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A token could not be issued.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// A domain operation was refused (unknown user, unknown booking, ...).
    #[error(transparent)]
    Op(#[from] OpError),
}

/// A failure of the SQLite layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite itself failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking worker running the query panicked or was cancelled.
    #[error("database worker failed: {0}")]
    Worker(String),
}

/// A domain operation that was refused for a reason a client can be told.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// No user with that name or id.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// No such object (or not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this.
    #[error("you do not have permission to perform this action")]
    Forbidden,
    /// The request is well-formed but not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// A field of the request is not acceptable (DRF field error).
    #[error("{field}: {message}")]
    Field {
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// An HTTP error answer with a JSON body.
#[derive(Debug)]
pub struct ApiError {
    /// Status code.
    pub status: StatusCode,
    /// JSON body.
    pub body: Value,
    /// Whether to add `WWW-Authenticate: Bearer` (401 answers).
    pub bearer_challenge: bool,
}

impl ApiError {
    /// An answer `{"detail": detail}` with the given status.
    pub fn detail(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "detail": detail.into() }),
            bearer_challenge: false,
        }
    }

    /// An answer with an arbitrary JSON body.
    pub fn body(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            bearer_challenge: false,
        }
    }

    /// 400 with `{"detail": ...}`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, detail)
    }

    /// 400 with a DRF-style field error `{"field": ["message"]}`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::body(StatusCode::BAD_REQUEST, json!({ field: [message.into()] }))
    }

    /// 404 with `{"detail": ...}`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::NOT_FOUND, detail)
    }

    /// 401 as simplejwt answers it.
    pub fn token_not_valid(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({ "detail": detail.into(), "code": "token_not_valid" }),
            bearer_challenge: true,
        }
    }

    /// 500; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::internal(&e)
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::UnknownUser(u) => Self::not_found(format!("Unknown user {u}.")),
            OpError::NotFound(what) => {
                Self::not_found(format!("No {what} matches the given query."))
            }
            OpError::Forbidden => Self::detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            OpError::Invalid(msg) => Self::bad_request(msg),
            OpError::Field { field, message } => Self::field(field, message),
            OpError::Db(e) => Self::internal(&e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        if self.bearer_challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        resp
    }
}

/// Parses a JSON request body; an empty body counts as `{}` (as DRF does).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?
    };
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("Invalid data: {e}")))
}
