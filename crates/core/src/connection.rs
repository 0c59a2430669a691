//! The connection: its published state, the server variant we detected,
//! the reconnect backoff, and the [`Supervisor`] that decides when to
//! connect, ping, give up on a silent socket, refresh after a refusal, and
//! stop. Pure: no sockets, no clocks; time is passed in.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Which consumer answers on the server (PROTOCOL.md sections 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// Who lost their socket when ours ended, as far as the way it ended tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// This socket alone: the server closed it with a close frame that does
    /// not announce its going away (1011 after a few seconds, as deployed
    /// servers do), or this side closed it. The server is there: reconnect
    /// soon.
    ThisSocket,
    /// Every client of the server, at once: it announced its going away
    /// (1001, 1012, 1013), or the connection vanished without a close frame,
    /// or it fell silent past the heartbeat; that is a server restarting or
    /// stalled. Thousands of desktops reconnect together, so each one's
    /// first try is spread over [`ReconnectPolicy::outage_base`].
    EveryClient,
}

/// Exponential backoff with full jitter: attempt `n` (1-based) waits a
/// uniformly random time in `[0, min(cap, base * 2^(n-1))]`, but at least
/// `floor`, so a flapping server is not hammered. After a loss that reached
/// every client ([`Reach::EveryClient`]) the doubling starts from
/// `outage_base` instead, so that a fleet coming back after a restart
/// reaches the server at no more than a few per cent of it per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    pub base: Duration,
    pub outage_base: Duration,
    pub cap: Duration,
    pub floor: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            outage_base: Duration::from_secs(16),
            cap: Duration::from_secs(60),
            floor: Duration::from_millis(250),
        }
    }
}

impl ReconnectPolicy {
    /// The ceiling of the random delay for attempt `n` after a loss of
    /// `reach`.
    pub fn ceiling(&self, attempt: u32, reach: Reach) -> Duration {
        let base = match reach {
            Reach::ThisSocket => self.base,
            Reach::EveryClient => self.outage_base,
        };
        let exp = attempt.saturating_sub(1).min(30);
        base.checked_mul(1u32 << exp)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The delay for attempt `n` after a loss of `reach`, given a uniform
    /// random `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, reach: Reach, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt, reach);
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

/// The supervisor's timings (the engine's [`crate::engine::Tuning`] holds
/// them; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupervisorTiming {
    /// A WebSocket ping goes out this often.
    pub heartbeat_every: Duration,
    /// Silence (no frame, no pong) after which the socket counts as dead.
    pub heartbeat_timeout: Duration,
    /// No proving frame this long after connecting means the legacy consumer.
    pub legacy_after: Duration,
    /// Backoff for handshakes that fail.
    pub reconnect: ReconnectPolicy,
    /// Two handshakes start at least this far apart, so a server that
    /// accepts and drops at once is not hammered.
    pub handshake_gap: Duration,
}

impl Default for SupervisorTiming {
    fn default() -> Self {
        Self {
            heartbeat_every: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(30),
            legacy_after: Duration::from_secs(3),
            reconnect: ReconnectPolicy::default(),
            handshake_gap: Duration::from_secs(2),
        }
    }
}

/// What happened, as the engine tells the supervisor.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The account is ready: connect.
    Start,
    /// The time [`Supervisor::deadline`] named has come.
    Timer,
    /// The handshake succeeded.
    Opened,
    /// The handshake or the refresh failed (network, 5xx, TLS, timeout).
    Failed(String),
    /// The server refused the session at the handshake (401/403).
    Refused(String),
    /// The refresh after a refusal gave a new token.
    Refreshed,
    /// A frame (or pong) arrived.
    Received,
    /// A frame that only the documented consumer sends arrived.
    Proved,
    /// The socket ended: a close frame, an error, end of stream, a failed
    /// write; `reach` says who else likely lost theirs.
    Lost { why: String, reach: Reach },
    /// The network came back: a wait for the next try ends now.
    Nudge,
    /// The machine resumed from sleep: the socket is likely dead.
    Resumed,
}

/// What the engine must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Drop any socket and open a new one (token, handshake); report
    /// [`Input::Opened`], [`Input::Failed`] or [`Input::Refused`].
    Connect,
    /// Refresh the session once; report [`Input::Refreshed`] or
    /// [`Input::Failed`].
    Refresh,
    Ping,
    /// Drop any socket and wait before the next handshake.
    Retry(Retry),
    /// The server variant is now known.
    Variant(ServerVariant),
    /// The server no longer accepts the session: stop until the user signs
    /// in again.
    SignOut(String),
}

/// A wait before the next handshake, as the user is shown it.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Failed tries since the last open socket (1 after a socket that was
    /// open).
    pub attempt: u32,
    pub delay: Duration,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Connecting,
    Refreshing,
    Open {
        since: Instant,
        last_rx: Instant,
        next_ping: Instant,
        variant: ServerVariant,
    },
    Waiting {
        until: Instant,
    },
    Stopped,
}

/// The connection supervisor: `on(input, now) -> actions`.
///
/// - A failed handshake backs off exponentially with full jitter, to
///   [`ReconnectPolicy::cap`].
/// - A handshake that succeeds resets that backoff: the server is there.
///   A socket that then ends is retried after the first attempt's jitter,
///   but never sooner than [`SupervisorTiming::handshake_gap`] after the
///   previous handshake began. So a server that accepts and drops every
///   few seconds stays timely, with at most one handshake per gap.
/// - A socket lost in a way that hit every client of the server (see
///   [`Reach`]) backs off from [`ReconnectPolicy::outage_base`]: a fleet
///   of desktops coming back after a server restart arrives spread out.
/// - 401/403 at the handshake: refresh once and retry; a second refusal
///   signs out (PROTOCOL.md section 4).
/// - An open socket is pinged every `heartbeat_every`; silence for
///   `heartbeat_timeout` ends it. No proving frame within `legacy_after`
///   means the legacy consumer.
pub struct Supervisor {
    timing: SupervisorTiming,
    rng: StdRng,
    phase: Phase,
    /// Handshakes that failed since the last one that succeeded.
    failures: u32,
    /// When the last handshake began.
    last_attempt: Option<Instant>,
    /// Who lost their socket when the last open one ended: the backoff
    /// since then starts from that reach's base.
    reach: Reach,
    /// A refresh after a refusal worked since the last open socket: the
    /// next refusal signs out.
    refreshed: bool,
}

impl Supervisor {
    pub fn new(timing: SupervisorTiming) -> Self {
        Self::with_rng(timing, StdRng::from_os_rng())
    }

    /// A supervisor whose jitter is repeatable (tests).
    pub fn seeded(timing: SupervisorTiming, seed: u64) -> Self {
        Self::with_rng(timing, StdRng::seed_from_u64(seed))
    }

    fn with_rng(timing: SupervisorTiming, rng: StdRng) -> Self {
        Self {
            timing,
            rng,
            phase: Phase::Idle,
            failures: 0,
            last_attempt: None,
            reach: Reach::ThisSocket,
            refreshed: false,
        }
    }

    /// When the engine must call [`Supervisor::on`] with [`Input::Timer`].
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { until } => Some(until),
            Phase::Open {
                since,
                last_rx,
                next_ping,
                variant,
            } => {
                let dead = last_rx + self.timing.heartbeat_timeout;
                let legacy =
                    (variant == ServerVariant::Unknown).then(|| since + self.timing.legacy_after);
                Some(legacy.map_or(dead.min(next_ping), |l| l.min(dead).min(next_ping)))
            }
            _ => None,
        }
    }

    /// True while a socket is open.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// True while a handshake (or the refresh before one) is under way.
    pub fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting | Phase::Refreshing)
    }

    /// Handshakes that failed since the last one that succeeded.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn on(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match (input, self.phase) {
            (Input::Start, Phase::Idle) => vec![self.connect(now)],
            (Input::Timer, Phase::Waiting { until }) if now >= until => vec![self.connect(now)],
            (Input::Timer, Phase::Open { .. }) => self.on_open_timer(now),
            (Input::Nudge, Phase::Waiting { .. }) => {
                // The wait was this side's network, not the server.
                self.failures = 0;
                self.reach = Reach::ThisSocket;
                vec![self.wait_for_gap(now, "the network is back".into())]
            }
            (Input::Resumed, Phase::Open { .. } | Phase::Waiting { .. }) => {
                self.failures = 0;
                self.reach = Reach::ThisSocket;
                vec![self.connect(now)]
            }
            (Input::Opened, Phase::Connecting) => {
                self.failures = 0;
                self.reach = Reach::ThisSocket;
                self.refreshed = false;
                self.phase = Phase::Open {
                    since: now,
                    last_rx: now,
                    next_ping: now + self.timing.heartbeat_every,
                    variant: ServerVariant::Unknown,
                };
                Vec::new()
            }
            (Input::Failed(error), Phase::Connecting | Phase::Refreshing) => {
                self.failures = self.failures.saturating_add(1);
                let unit = self.rng.random::<f64>();
                let delay = self.timing.reconnect.delay(self.failures, self.reach, unit);
                vec![self.retry(now, delay, error)]
            }
            (Input::Refused(_), Phase::Connecting) if !self.refreshed => {
                self.phase = Phase::Refreshing;
                vec![Action::Refresh]
            }
            (Input::Refused(_), Phase::Connecting) => {
                self.phase = Phase::Stopped;
                vec![Action::SignOut(
                    "the server no longer accepts your session".into(),
                )]
            }
            (Input::Refreshed, Phase::Refreshing) => {
                self.refreshed = true;
                vec![self.connect(now)]
            }
            (Input::Received, Phase::Open { .. }) => {
                self.saw_frame(now, false);
                Vec::new()
            }
            (Input::Proved, Phase::Open { variant, .. }) => {
                self.saw_frame(now, true);
                (variant != ServerVariant::Documented)
                    .then_some(Action::Variant(ServerVariant::Documented))
                    .into_iter()
                    .collect()
            }
            (Input::Lost { why, reach }, Phase::Open { .. }) => {
                vec![self.after_open(now, why, reach)]
            }
            _ => Vec::new(),
        }
    }

    fn saw_frame(&mut self, now: Instant, proved: bool) {
        if let Phase::Open {
            last_rx, variant, ..
        } = &mut self.phase
        {
            *last_rx = now;
            if proved {
                *variant = ServerVariant::Documented;
            }
        }
    }

    fn on_open_timer(&mut self, now: Instant) -> Vec<Action> {
        let Phase::Open {
            since,
            last_rx,
            next_ping,
            variant,
        } = &mut self.phase
        else {
            return Vec::new();
        };
        if now >= *last_rx + self.timing.heartbeat_timeout {
            let why = "the server stopped answering".into();
            return vec![self.after_open(now, why, Reach::EveryClient)];
        }
        let mut actions = Vec::new();
        if *variant == ServerVariant::Unknown && now >= *since + self.timing.legacy_after {
            *variant = ServerVariant::Legacy;
            actions.push(Action::Variant(ServerVariant::Legacy));
        }
        if now >= *next_ping {
            *next_ping = now + self.timing.heartbeat_every;
            actions.push(Action::Ping);
        }
        actions
    }

    /// A socket that was open ended: the first attempt's jitter for that
    /// loss's reach, kept apart from the last handshake by the gap.
    fn after_open(&mut self, now: Instant, why: String, reach: Reach) -> Action {
        self.failures = 0;
        self.reach = reach;
        let unit = self.rng.random::<f64>();
        let delay = self.timing.reconnect.delay(1, reach, unit);
        self.retry(now, delay, why)
    }

    /// Waits `delay`, but never less than the rest of the handshake gap.
    fn retry(&mut self, now: Instant, delay: Duration, error: String) -> Action {
        let gap = self
            .last_attempt
            .map(|at| (at + self.timing.handshake_gap).saturating_duration_since(now))
            .unwrap_or_default();
        let delay = delay.max(gap);
        self.phase = Phase::Waiting { until: now + delay };
        Action::Retry(Retry {
            attempt: self.failures.max(1),
            delay,
            error,
        })
    }

    /// Connects now, or once the handshake gap allows.
    fn wait_for_gap(&mut self, now: Instant, why: String) -> Action {
        match self.last_attempt {
            Some(at) if now < at + self.timing.handshake_gap => {
                self.retry(now, Duration::ZERO, why)
            }
            _ => self.connect(now),
        }
    }

    fn connect(&mut self, now: Instant) -> Action {
        self.phase = Phase::Connecting;
        self.last_attempt = Some(now);
        Action::Connect
    }
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
        assert_eq!(p.ceiling(1, Reach::ThisSocket), Duration::from_secs(1));
        assert_eq!(p.ceiling(2, Reach::ThisSocket), Duration::from_secs(2));
        assert_eq!(p.ceiling(6, Reach::ThisSocket), Duration::from_secs(32));
        assert_eq!(p.ceiling(7, Reach::ThisSocket), Duration::from_secs(60));
        assert_eq!(
            p.ceiling(10_000, Reach::ThisSocket),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn delay_stays_within_floor_and_ceiling() {
        let p = ReconnectPolicy::default();
        for reach in [Reach::ThisSocket, Reach::EveryClient] {
            for attempt in 1..40 {
                for unit in [0.0, 0.3, 0.999, 5.0, -1.0] {
                    let d = p.delay(attempt, reach, unit);
                    assert!(d <= p.ceiling(attempt, reach));
                    assert!(d >= p.floor);
                }
            }
        }
    }

    // ---- the supervisor ----------------------------------------------------

    fn timing() -> SupervisorTiming {
        SupervisorTiming::default()
    }

    fn lost(why: &str, reach: Reach) -> Input {
        Input::Lost {
            why: why.into(),
            reach,
        }
    }

    fn retry_of(actions: &[Action]) -> &Retry {
        match actions {
            [Action::Retry(r)] => r,
            other => panic!("expected one Retry, got {other:?}"),
        }
    }

    /// A supervisor that has just opened a socket at `t0`.
    fn open_at(t0: Instant, seed: u64) -> Supervisor {
        let mut s = Supervisor::seeded(timing(), seed);
        assert_eq!(s.on(Input::Start, t0), vec![Action::Connect]);
        assert_eq!(s.on(Input::Opened, t0), vec![]);
        assert!(s.is_open());
        s
    }

    #[test]
    fn failed_handshakes_back_off_to_the_cap_in_order() {
        let mut t = Instant::now();
        let mut s = Supervisor::seeded(timing(), 7);
        assert_eq!(s.on(Input::Start, t), vec![Action::Connect]);
        assert!(s.is_connecting());
        let p = ReconnectPolicy::default();
        let mut delays = Vec::new();
        for n in 1..=10u32 {
            let r = retry_of(&s.on(Input::Failed("refused".into()), t)).clone();
            assert_eq!(r.attempt, n, "attempts counted in order");
            assert_eq!(r.error, "refused");
            assert!(r.delay <= p.ceiling(n, Reach::ThisSocket).max(timing().handshake_gap));
            assert!(
                r.delay
                    >= timing()
                        .handshake_gap
                        .min(p.ceiling(n, Reach::ThisSocket))
                        .max(p.floor)
            );
            assert_eq!(s.deadline(), Some(t + r.delay));
            // Nothing happens before the deadline...
            assert_eq!(s.on(Input::Timer, t + r.delay / 2), vec![]);
            t += r.delay;
            // ...and at it, one handshake.
            assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
            delays.push(r.delay);
        }
        // Late attempts wait up to a minute: the full-jitter ceiling is 60 s.
        assert!(p.ceiling(10, Reach::ThisSocket) == Duration::from_secs(60));
        let late: Duration = delays[6..].iter().sum();
        assert!(
            late > Duration::from_secs(30),
            "four late waits of up to 60 s each: {late:?}"
        );
    }

    #[test]
    fn a_server_that_accepts_and_drops_every_5_s_is_retried_at_once_and_never_backs_off() {
        let mut t = Instant::now();
        let mut s = open_at(t, 1);
        for _ in 0..50 {
            t += Duration::from_secs(5);
            let r = retry_of(&s.on(
                lost("server closed the socket (1011)", Reach::ThisSocket),
                t,
            ))
            .clone();
            assert_eq!(r.attempt, 1, "a socket that opened resets the count");
            assert!(r.delay <= Duration::from_secs(1), "{:?}", r.delay);
            t += r.delay;
            assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
            assert_eq!(s.on(Input::Opened, t), vec![]);
        }
    }

    #[test]
    fn a_loss_that_hit_every_client_spreads_the_first_try_and_keeps_doubling_from_there() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.ceiling(1, Reach::EveryClient), p.outage_base);
        assert_eq!(p.ceiling(2, Reach::EveryClient), p.outage_base * 2);
        let mut t = Instant::now();
        let mut s = open_at(t, 4);
        t += Duration::from_secs(60);
        let first = retry_of(&s.on(lost("the connection dropped", Reach::EveryClient), t)).clone();
        assert_eq!(first.attempt, 1);
        assert!(first.delay <= p.outage_base);
        t += first.delay;
        assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
        // Still down: the next wait is drawn from twice the outage base.
        let mut longest = Duration::ZERO;
        for _ in 0..20 {
            let r = retry_of(&s.on(Input::Failed("refused".into()), t)).clone();
            assert!(r.delay <= p.ceiling(r.attempt, Reach::EveryClient));
            longest = longest.max(r.delay);
            t += r.delay;
            s.on(Input::Timer, t);
        }
        assert!(
            longest > p.ceiling(20, Reach::ThisSocket) / 2,
            "{longest:?}"
        );
        // Once a socket opens, the next loss of this socket alone is fast.
        assert_eq!(s.on(Input::Opened, t), vec![]);
        t += Duration::from_secs(60);
        let r = retry_of(&s.on(lost("closed (1011)", Reach::ThisSocket), t)).clone();
        assert!(r.delay <= p.base, "{:?}", r.delay);
    }

    #[test]
    fn a_fleet_that_lost_its_server_comes_back_spread_out() {
        // 2,000 supervisors lose their sockets at once; the server is
        // back after `down`. Whatever the outage, no second of the return
        // sees more than a tenth of the fleet's handshakes, and the fleet
        // is back within a minute of the server.
        let fleet = 2000;
        for down in [0.1, 3.0, 20.0] {
            let t0 = Instant::now();
            let up = t0 + Duration::from_secs_f64(down);
            let mut back = Vec::new();
            for seed in 0..fleet {
                let mut s = open_at(t0 - Duration::from_secs(60), seed);
                let mut t = t0;
                let mut r = retry_of(&s.on(lost("dropped", Reach::EveryClient), t)).clone();
                loop {
                    t += r.delay;
                    assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
                    if t >= up {
                        break;
                    }
                    r = retry_of(&s.on(Input::Failed("refused".into()), t)).clone();
                }
                back.push(t.duration_since(up).as_secs_f64());
            }
            back.sort_by(f64::total_cmp);
            // The busiest second, over every window starting at a handshake.
            let busiest = (0..back.len())
                .map(|i| back[i..].iter().take_while(|b| **b < back[i] + 1.0).count())
                .max()
                .unwrap_or(0);
            assert!(
                busiest <= fleet as usize / 10,
                "down {down} s: {busiest} handshakes in one second"
            );
            let p99 = back[back.len() * 99 / 100];
            assert!(p99 <= 60.0, "down {down} s: 99 % back after {p99:.1} s");
        }
    }

    #[test]
    fn a_server_that_drops_at_once_gets_at_most_one_handshake_per_gap() {
        let start = Instant::now();
        let mut t = start;
        let mut s = open_at(t, 2);
        let mut handshakes = 1;
        while t < start + Duration::from_secs(600) {
            let r = retry_of(&s.on(lost("closed (1011)", Reach::ThisSocket), t)).clone();
            t += r.delay;
            assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
            handshakes += 1;
            assert_eq!(s.on(Input::Opened, t), vec![]);
        }
        let per_gap = (t - start).as_secs_f64() / timing().handshake_gap.as_secs_f64();
        assert!(
            f64::from(handshakes) <= per_gap + 1.0,
            "{handshakes} handshakes in {:?}",
            t - start
        );
    }

    #[test]
    fn a_silent_socket_is_pinged_then_given_up_at_its_deadline() {
        let t0 = Instant::now();
        let mut s = open_at(t0, 3);
        let every = timing().heartbeat_every;
        // A documented server said hello: no legacy deadline.
        assert_eq!(
            s.on(Input::Proved, t0),
            vec![Action::Variant(ServerVariant::Documented)]
        );
        assert_eq!(s.deadline(), Some(t0 + every));
        assert_eq!(s.on(Input::Timer, t0 + every), vec![Action::Ping]);
        // Nothing answered: 30 s after the last frame it is dead, and no
        // second ping goes out into it.
        let dead = t0 + timing().heartbeat_timeout;
        assert_eq!(s.deadline(), Some(dead));
        assert_eq!(s.on(Input::Timer, dead - Duration::from_millis(1)), vec![]);
        let r = retry_of(&s.on(Input::Timer, dead)).clone();
        assert_eq!(r.error, "the server stopped answering");
        assert!(!s.is_open());
    }

    #[test]
    fn a_frame_moves_the_deadline() {
        let t0 = Instant::now();
        let mut s = open_at(t0, 4);
        s.on(Input::Proved, t0);
        let later = t0 + Duration::from_secs(25);
        assert_eq!(s.on(Input::Received, later), vec![]);
        // Pings keep their rhythm; the silence deadline moved to 55 s.
        let mut t = t0;
        let mut pings = 0;
        while let Some(d) = s.deadline() {
            if d >= later + timing().heartbeat_timeout {
                break;
            }
            t = d;
            assert_eq!(s.on(Input::Timer, t), vec![Action::Ping]);
            pings += 1;
        }
        assert_eq!(pings, 3, "pings at 15, 30 and 45 s");
        assert!(t < later + timing().heartbeat_timeout);
        assert!(matches!(
            s.on(Input::Timer, later + timing().heartbeat_timeout)[..],
            [Action::Retry(_)]
        ));
    }

    #[test]
    fn no_proving_frame_within_legacy_after_means_the_legacy_consumer() {
        let t0 = Instant::now();
        let mut s = open_at(t0, 5);
        let at = t0 + timing().legacy_after;
        assert_eq!(s.deadline(), Some(at));
        assert_eq!(
            s.on(Input::Timer, at),
            vec![Action::Variant(ServerVariant::Legacy)]
        );
        assert_eq!(s.deadline(), Some(t0 + timing().heartbeat_every));
        // A proving frame later still corrects it.
        assert_eq!(
            s.on(Input::Proved, at),
            vec![Action::Variant(ServerVariant::Documented)]
        );
        assert_eq!(s.on(Input::Proved, at), vec![]);
    }

    #[test]
    fn a_refusal_refreshes_once_and_a_second_one_signs_out() {
        let t = Instant::now();
        let mut s = Supervisor::seeded(timing(), 6);
        s.on(Input::Start, t);
        assert_eq!(s.on(Input::Refused("403".into()), t), vec![Action::Refresh]);
        assert_eq!(s.on(Input::Refreshed, t), vec![Action::Connect]);
        assert_eq!(
            s.on(Input::Refused("403".into()), t),
            vec![Action::SignOut(
                "the server no longer accepts your session".into()
            )]
        );
        // Stopped: nothing wakes it.
        assert_eq!(s.deadline(), None);
        assert_eq!(s.on(Input::Nudge, t), vec![]);
        assert_eq!(s.on(Input::Timer, t + Duration::from_secs(3600)), vec![]);
    }

    #[test]
    fn a_refresh_that_fails_is_retried_with_backoff_and_never_signs_out() {
        let mut t = Instant::now();
        let mut s = Supervisor::seeded(timing(), 8);
        s.on(Input::Start, t);
        for n in 1..=5 {
            assert_eq!(s.on(Input::Refused("403".into()), t), vec![Action::Refresh]);
            let r = retry_of(&s.on(Input::Failed("refresh: 503".into()), t)).clone();
            assert_eq!(r.attempt, n);
            t += r.delay;
            assert_eq!(s.on(Input::Timer, t), vec![Action::Connect]);
        }
        // Once a refresh works, the socket opens and all is reset.
        assert_eq!(s.on(Input::Refused("403".into()), t), vec![Action::Refresh]);
        assert_eq!(s.on(Input::Refreshed, t), vec![Action::Connect]);
        assert_eq!(s.on(Input::Opened, t), vec![]);
        assert_eq!(s.failures(), 0);
        // A later refusal gets its own refresh.
        let r = retry_of(&s.on(lost("dropped", Reach::EveryClient), t)).clone();
        t += r.delay;
        s.on(Input::Timer, t);
        assert_eq!(s.on(Input::Refused("403".into()), t), vec![Action::Refresh]);
    }

    #[test]
    fn a_nudge_ends_a_long_wait_but_keeps_the_gap() {
        let mut t = Instant::now();
        let mut s = Supervisor::seeded(timing(), 9);
        s.on(Input::Start, t);
        for _ in 0..8 {
            let r = retry_of(&s.on(Input::Failed("down".into()), t)).clone();
            t += r.delay;
            s.on(Input::Timer, t);
        }
        let r = retry_of(&s.on(Input::Failed("down".into()), t)).clone();
        assert!(r.attempt == 9);
        // Right after a handshake, a nudge waits out the gap only.
        let r = retry_of(&s.on(Input::Nudge, t)).clone();
        assert_eq!(r.delay, timing().handshake_gap);
        assert_eq!(r.attempt, 1, "the backoff starts afresh");
        // Later, a nudge connects at once.
        t += timing().handshake_gap;
        s.on(Input::Timer, t);
        retry_of(&s.on(Input::Failed("down".into()), t));
        assert_eq!(
            s.on(Input::Nudge, t + timing().handshake_gap),
            vec![Action::Connect]
        );
    }

    #[test]
    fn resuming_from_sleep_reconnects_at_once() {
        let t0 = Instant::now();
        let mut s = open_at(t0, 10);
        let t = t0 + Duration::from_secs(3600);
        assert_eq!(s.on(Input::Resumed, t), vec![Action::Connect]);
        assert!(s.is_connecting());
        // Frames of the old socket are nothing to it now.
        assert_eq!(s.on(lost("old socket", Reach::EveryClient), t), vec![]);
        assert_eq!(s.on(Input::Opened, t), vec![]);
        assert!(s.is_open());
    }

    #[test]
    fn inputs_out_of_turn_change_nothing() {
        let t = Instant::now();
        let mut s = Supervisor::seeded(timing(), 11);
        for input in [
            Input::Timer,
            Input::Opened,
            Input::Refreshed,
            Input::Received,
            Input::Proved,
            lost("x", Reach::ThisSocket),
            Input::Nudge,
            Input::Resumed,
            Input::Failed("x".into()),
        ] {
            assert_eq!(s.on(input, t), vec![], "before Start");
        }
        assert_eq!(s.on(Input::Start, t), vec![Action::Connect]);
        assert_eq!(s.on(Input::Start, t), vec![], "a second Start");
        assert_eq!(s.on(Input::Timer, t), vec![], "no timer while connecting");
    }
}
