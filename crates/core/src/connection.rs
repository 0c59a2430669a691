//! The connection's vocabulary: its published state, the server variant we
//! detected, and the reconnect backoff. Pure: no sockets, no clocks.

use std::time::Duration;

use serde::Serialize;

/// Which consumer answers on the server (PROTOCOL.md sections 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerVariant {
    /// Connected, nothing proves either yet.
    Unknown,
    /// Sends `connection_established`, `unread_count`, `*_response`.
    Documented,
    /// The older consumer: silent on connect, `notify` frames, ignores
    /// client frames. REST does what it ignores.
    Legacy,
}

/// What the user sees of the connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    Starting,
    /// No account: run `login` or sign in from the window.
    NotSignedIn,
    /// The server no longer accepts our session; nothing is retried until
    /// the user signs in again.
    SignedOut {
        reason: String,
    },
    /// The keychain is missing or locked.
    KeychainUnavailable {
        message: String,
    },
    /// `config.json` cannot be read (damaged, unreadable): nothing runs
    /// until it is fixed or the user signs in again.
    ConfigUnreadable {
        message: String,
    },
    Connecting,
    Connected {
        variant: ServerVariant,
    },
    /// Waiting to try again; `retry_at_ms` is unix ms.
    Reconnecting {
        attempt: u32,
        retry_at_ms: i64,
        last_error: String,
    },
    Stopped,
}

impl ConnectionState {
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected { .. })
    }

    /// A short phrase for menus and tooltips.
    pub fn describe(&self) -> String {
        match self {
            Self::Starting => "starting".into(),
            Self::NotSignedIn => "not signed in".into(),
            Self::SignedOut { .. } => "signed out".into(),
            Self::KeychainUnavailable { .. } => "keychain unavailable".into(),
            Self::ConfigUnreadable { .. } => "settings unreadable".into(),
            Self::Connecting => "connecting".into(),
            Self::Connected { .. } => "connected".into(),
            Self::Reconnecting { .. } => "offline, reconnecting".into(),
            Self::Stopped => "stopped".into(),
        }
    }
}

/// Exponential backoff with full jitter: attempt `n` (1-based) waits a
/// uniformly random time in `[0, min(cap, base * 2^(n-1))]`, but at least
/// `floor`, so a flapping server is not hammered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub floor: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            floor: Duration::from_millis(250),
        }
    }
}

impl ReconnectPolicy {
    /// The ceiling of the random delay for attempt `n`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The delay for attempt `n`, given a uniform random `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling
            .mul_f64(unit.clamp(0.0, 1.0))
            .max(self.floor.min(ceiling))
    }
}

/// How far the wall clock may run ahead of monotonic time between two
/// checks before we call it a sleep (NTP slews far less than this).
pub const SLEEP_JUMP: Duration = Duration::from_secs(10);

/// Monotonic time stops while the machine sleeps; the wall clock does not.
/// When the wall clock ran ahead by more than [`SLEEP_JUMP`] between two
/// checks, the machine slept and the socket is likely dead.
pub fn resumed_from_sleep(wall_elapsed: Duration, mono_elapsed: Duration) -> bool {
    wall_elapsed > mono_elapsed + SLEEP_JUMP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_jump_means_the_machine_slept() {
        let s = Duration::from_secs;
        assert!(!resumed_from_sleep(s(5), s(5)));
        assert!(!resumed_from_sleep(s(14), s(5)), "small drift or slew");
        assert!(resumed_from_sleep(s(3600), s(5)), "an hour asleep");
        assert!(
            !resumed_from_sleep(s(0), s(5)),
            "the clock set back is no sleep"
        );
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(1));
        assert_eq!(p.ceiling(2), Duration::from_secs(2));
        assert_eq!(p.ceiling(6), Duration::from_secs(32));
        assert_eq!(p.ceiling(7), Duration::from_secs(60));
        assert_eq!(p.ceiling(10_000), Duration::from_secs(60));
    }

    #[test]
    fn delay_stays_within_floor_and_ceiling() {
        let p = ReconnectPolicy::default();
        for attempt in 1..40 {
            for unit in [0.0, 0.3, 0.999, 5.0, -1.0] {
                let d = p.delay(attempt, unit);
                assert!(d <= p.ceiling(attempt));
                assert!(d >= p.floor);
            }
        }
    }
}
