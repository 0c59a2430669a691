//! The one error type the window sees: a stable `code` to branch on and a
//! sentence to show. Never a token, never a `Result<_, String>`.

use serde::Serialize;
use smarthunt_core::account::AccountError;
use smarthunt_core::api::ApiError;
use smarthunt_core::engine::EngineError;
use smarthunt_core::session::SessionError;
use smarthunt_core::transport::TransportError;

use crate::calls::ErrorCode;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadInput, message)
    }
}

fn session_code(e: &SessionError) -> ErrorCode {
    match e {
        SessionError::InvalidCredentials => ErrorCode::InvalidCredentials,
        SessionError::SignedOut(_) => ErrorCode::SignedOut,
        SessionError::NotSignedIn => ErrorCode::NotSignedIn,
        SessionError::Network(_) => ErrorCode::Unreachable,
        // The user must give a CA file or fix the address.
        SessionError::Tls(_) | SessionError::Redirected(_) => ErrorCode::BadInput,
        SessionError::Server(_) | SessionError::Protocol(_) => ErrorCode::Server,
        SessionError::Keychain(_) => ErrorCode::Keychain,
    }
}

impl From<AccountError> for IpcError {
    fn from(e: AccountError) -> Self {
        let code = match &e {
            AccountError::Transport(
                TransportError::Network(_) | TransportError::Timeout | TransportError::Proxy(_),
            ) => ErrorCode::Unreachable,
            AccountError::Transport(_) => ErrorCode::BadInput,
            AccountError::Session(s) => session_code(s),
            AccountError::Config(_) => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<EngineError> for IpcError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::NotSignedIn => ErrorCode::NotSignedIn,
            EngineError::NotFound { .. } | EngineError::NoBooking | EngineError::BeingDecided => {
                ErrorCode::BadInput
            }
            EngineError::Stopped | EngineError::Store(_) | EngineError::UserUnknown => {
                ErrorCode::Internal
            }
            EngineError::Api(a) => match a {
                ApiError::SignedOut(_) => ErrorCode::SignedOut,
                ApiError::Network { .. } => ErrorCode::Unreachable,
                ApiError::Status(404) => ErrorCode::BadInput,
                ApiError::Status(_)
                | ApiError::Decode(_)
                | ApiError::Redirected(_)
                | ApiError::TooLarge(_) => ErrorCode::Server,
                ApiError::Session(s) => session_code(s),
            },
        };
        Self::new(code, e.to_string())
    }
}
