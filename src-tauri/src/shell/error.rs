//! The one error type the window sees: a stable `code` to branch on and a
//! sentence to show. Never a token, never a `Result<_, String>`.

use serde::Serialize;
use smarthunt_core::account::AccountError;
use smarthunt_core::api::ApiError;
use smarthunt_core::engine::EngineError;
use smarthunt_core::session::SessionError;
use smarthunt_core::transport::TransportError;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    /// One of: not_signed_in, signed_out, invalid_credentials, unreachable,
    /// keychain, bad_input, server, internal.
    pub code: &'static str,
    pub message: String,
}

impl IpcError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new("bad_input", message)
    }
}

fn session_code(e: &SessionError) -> &'static str {
    match e {
        SessionError::InvalidCredentials => "invalid_credentials",
        SessionError::SignedOut(_) => "signed_out",
        SessionError::NotSignedIn => "not_signed_in",
        SessionError::Network(_) => "unreachable",
        // The user must give a CA file or fix the address.
        SessionError::Tls(_) | SessionError::Redirected(_) => "bad_input",
        SessionError::Server(_) | SessionError::Protocol(_) => "server",
        SessionError::Keychain(_) => "keychain",
    }
}

impl From<AccountError> for IpcError {
    fn from(e: AccountError) -> Self {
        let code = match &e {
            AccountError::Transport(
                TransportError::Network(_) | TransportError::Timeout | TransportError::Proxy(_),
            ) => "unreachable",
            AccountError::Transport(_) => "bad_input",
            AccountError::Session(s) => session_code(s),
            AccountError::Config(_) => "internal",
        };
        Self::new(code, e.to_string())
    }
}

impl From<EngineError> for IpcError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::NotSignedIn => "not_signed_in",
            EngineError::Stopped | EngineError::Store(_) => "internal",
            EngineError::Api(a) => match a {
                ApiError::SignedOut(_) => "signed_out",
                ApiError::Network { .. } => "unreachable",
                ApiError::Status(404) => "bad_input",
                ApiError::Status(_)
                | ApiError::Decode(_)
                | ApiError::Redirected(_)
                | ApiError::TooLarge(_) => "server",
                ApiError::Session(s) => session_code(s),
            },
        };
        Self::new(code, e.to_string())
    }
}
