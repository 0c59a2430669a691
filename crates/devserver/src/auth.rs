//! JWTs as djangorestframework-simplejwt issues them: HS256, claims
//! `{token_type, exp, iat, jti, user_id}`. `user_id` is a string in the
//! documented variant and an integer in the legacy one. Access tokens can be
//! revoked wholesale: the `jti` starts with a serial number and every serial
//! below the revocation mark is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};

use crate::Variant;

/// Token type claim of access tokens.
pub const ACCESS: &str = "access";
/// Token type claim of refresh tokens.
pub const REFRESH: &str = "refresh";

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad signature, malformed, expired, wrong type or revoked (deliberately
    /// indistinguishable to clients).
    #[error("token is invalid or expired")]
    Invalid,
    /// Signing failed (cannot happen with an HMAC key; kept for honesty).
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Issues and checks tokens.
pub struct Auth {
    enc: EncodingKey,
    dec: DecodingKey,
    variant: Variant,
    access_ttl: Duration,
    refresh_ttl: Duration,
    next_serial: AtomicU64,
    revoked_below: AtomicU64,
}

/// An access + refresh pair.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

fn ttl_secs(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}

impl Auth {
    /// A token authority with this secret and these lifetimes.
    pub fn new(
        secret: &str,
        variant: Variant,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        // Serials start at the current time in microseconds so that tokens of
        // an earlier run on the same database never outrank a later revocation.
        let start = u64::try_from(crate::wire::now_us()).unwrap_or(0);
        Self {
            enc: EncodingKey::from_secret(secret.as_bytes()),
            dec: DecodingKey::from_secret(secret.as_bytes()),
            variant,
            access_ttl,
            refresh_ttl,
            next_serial: AtomicU64::new(start),
            revoked_below: AtomicU64::new(0),
        }
    }

    fn issue(&self, user_id: i64, token_type: &str, ttl: Duration) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let serial = self.next_serial.fetch_add(1, Ordering::SeqCst);
        let jti = format!("{serial:016x}{:016x}", rand::random::<u64>());
        let uid = match self.variant {
            Variant::Documented => json!(user_id.to_string()),
            Variant::Legacy => json!(user_id),
        };
        let claims = json!({
            "token_type": token_type,
            "exp": now.saturating_add(ttl_secs(ttl)),
            "iat": now,
            "jti": jti,
            "user_id": uid,
        });
        encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// A fresh access token.
    pub fn issue_access(&self, user_id: i64) -> Result<String, AuthError> {
        self.issue(user_id, ACCESS, self.access_ttl)
    }

    /// A fresh access + refresh pair.
    pub fn issue_pair(&self, user_id: i64) -> Result<TokenPair, AuthError> {
        Ok(TokenPair {
            access: self.issue_access(user_id)?,
            refresh: self.issue(user_id, REFRESH, self.refresh_ttl)?,
        })
    }

    /// Every access token issued so far becomes invalid.
    pub fn revoke_access_tokens(&self) {
        let mark = self.next_serial.load(Ordering::SeqCst);
        self.revoked_below.fetch_max(mark, Ordering::SeqCst);
    }

    /// Checks signature, expiry, type and revocation; returns the user id.
    pub fn verify(&self, token: &str, token_type: &str) -> Result<i64, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        let data =
            decode::<Value>(token, &self.dec, &validation).map_err(|_| AuthError::Invalid)?;
        let claims = data.claims;
        if claims.get("token_type").and_then(Value::as_str) != Some(token_type) {
            return Err(AuthError::Invalid);
        }
        if token_type == ACCESS {
            let serial = claims
                .get("jti")
                .and_then(Value::as_str)
                .and_then(|j| j.get(..16))
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .ok_or(AuthError::Invalid)?;
            if serial < self.revoked_below.load(Ordering::SeqCst) {
                return Err(AuthError::Invalid);
            }
        }
        match claims.get("user_id") {
            Some(Value::Number(n)) => n.as_i64().ok_or(AuthError::Invalid),
            Some(Value::String(s)) => s.parse().map_err(|_| AuthError::Invalid),
            _ => Err(AuthError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(variant: Variant) -> Auth {
        Auth::new(
            "secret",
            variant,
            Duration::from_secs(60),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn round_trip_both_variants() {
        for v in [Variant::Documented, Variant::Legacy] {
            let a = auth(v);
            let pair = a.issue_pair(7).expect("sign");
            assert_eq!(a.verify(&pair.access, ACCESS).expect("access"), 7);
            assert_eq!(a.verify(&pair.refresh, REFRESH).expect("refresh"), 7);
            assert!(a.verify(&pair.access, REFRESH).is_err());
            assert!(a.verify(&pair.refresh, ACCESS).is_err());
        }
    }

    #[test]
    fn revocation_hits_only_earlier_access_tokens() {
        let a = auth(Variant::Documented);
        let pair = a.issue_pair(1).expect("sign");
        a.revoke_access_tokens();
        assert!(a.verify(&pair.access, ACCESS).is_err());
        assert!(a.verify(&pair.refresh, REFRESH).is_ok());
        let fresh = a.issue_access(1).expect("sign");
        assert!(a.verify(&fresh, ACCESS).is_ok());
    }

    #[test]
    fn tampered_and_foreign_tokens_fail() {
        let a = auth(Variant::Legacy);
        let other = Auth::new(
            "other",
            Variant::Legacy,
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        let t = other.issue_access(1).expect("sign");
        assert!(a.verify(&t, ACCESS).is_err());
        assert!(a.verify("garbage", ACCESS).is_err());
        assert!(a.verify("", ACCESS).is_err());
    }
}
