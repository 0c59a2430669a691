//! Pure popup decisions (style per kind, burst folding, quiet hours, pause, mute) as functions of their inputs; no I/O and no clock: time is always passed in.
//!
//! What the user sees, per notification kind:
//! - the first [`PopupPolicy::BURST_MAX`] notifications within
//!   [`PopupPolicy::BURST_WINDOW_MS`] pop individually;
//! - the next ones fold into that kind's one replaceable summary
//!   ("5 new booking requests"), which keeps counting while each new one
//!   arrives within the window of the previous one;
//! - after a quiet gap of the window, the next one pops individually again;
//! - a muted kind never pops (it is still stored and counted);
//! - during quiet hours or a pause nothing pops: everything is held and,
//!   once the quiet ends, shown as ONE summary of what was held;
//! - a catch-up batch never floods: a few items pop individually, more
//!   become one summary per kind.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::protocol::{NotificationContext, NotificationKind};

/// Popup urgency, as the freedesktop notification spec has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Low,
    Normal,
    Critical,
}

/// How a popup of one kind looks and sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Style {
    pub urgency: Urgency,
    /// A freedesktop icon-naming-spec name.
    pub icon: &'static str,
    /// A freedesktop notification category (`x-smarthunt.*` where the spec
    /// has none).
    pub category: &'static str,
    /// A freedesktop sound-naming-spec name; `None` = silent.
    pub sound: Option<&'static str>,
}

/// The style of a kind. The mapping follows the integration guide's toasts
/// (booking -> success, message -> info, maintenance -> warning, other ->
/// default):
///
/// | kind        | guide   | urgency  | icon               | category                  | sound                 |
/// |-------------|---------|----------|--------------------|---------------------------|-----------------------|
/// | booking     | success | Normal   | x-office-calendar  | x-smarthunt.booking       | bell                  |
/// | message     | info    | Normal   | mail-message-new   | im.received               | message-new-instant   |
/// | maintenance | warning | Critical | dialog-warning     | x-smarthunt.maintenance   | dialog-warning        |
/// | property    | default | Low      | go-home            | x-smarthunt.property      | none                  |
/// | review      | default | Low      | emblem-favorite    | x-smarthunt.review        | none                  |
/// | general     | default | Low      | dialog-information | x-smarthunt.general       | none                  |
///
/// Maintenance is the one warning the guide has (a leak, a broken lock):
/// it is Critical, which notification daemons keep on screen until
/// dismissed. Low popups make no sound.
pub fn style(kind: NotificationKind) -> Style {
    let (urgency, icon, category, sound) = match kind {
        NotificationKind::Booking => (
            Urgency::Normal,
            "x-office-calendar",
            "x-smarthunt.booking",
            Some("bell"),
        ),
        NotificationKind::Message => (
            Urgency::Normal,
            "mail-message-new",
            "im.received",
            Some("message-new-instant"),
        ),
        NotificationKind::Maintenance => (
            Urgency::Critical,
            "dialog-warning",
            "x-smarthunt.maintenance",
            Some("dialog-warning"),
        ),
        NotificationKind::Property => (Urgency::Low, "go-home", "x-smarthunt.property", None),
        NotificationKind::Review => (Urgency::Low, "emblem-favorite", "x-smarthunt.review", None),
        NotificationKind::General => (
            Urgency::Low,
            "dialog-information",
            "x-smarthunt.general",
            None,
        ),
    };
    Style {
        urgency,
        icon,
        category,
        sound,
    }
}

/// [`style`] with the sound dropped when the user turned sounds off.
pub fn style_for(kind: NotificationKind, s: &PolicySettings) -> Style {
    let mut st = style(kind);
    if !s.sound {
        st.sound = None;
    }
    st
}

/// Who is looking at a notification, for the rules that depend on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewer<'a> {
    pub role: Option<&'a str>,
    pub user_id: Option<i64>,
}

impl<'a> Viewer<'a> {
    pub const fn new(role: Option<&'a str>, user_id: Option<i64>) -> Self {
        Self { role, user_id }
    }
}

/// The booking a notification asks its viewer to approve or decline, if
/// any: a booking notification whose data names the booking and says it is
/// pending, seen by its landlord (by role, or by the booking's
/// `landlord_id` when the role is not known). The one rule for popups and
/// the window. A notification without data (the REST list has none) asks
/// nothing until its detail is known.
pub fn booking_to_decide(
    kind: NotificationKind,
    context: &NotificationContext,
    viewer: Viewer<'_>,
) -> Option<i64> {
    if kind != NotificationKind::Booking || !context.is_pending() {
        return None;
    }
    let landlord = match viewer.role {
        Some(role) => role == "landlord",
        None => context.landlord_id.is_some() && context.landlord_id == viewer.user_id,
    };
    landlord.then_some(context.booking_id).flatten()
}

/// Daily quiet hours in local wall time, `start` inclusive, `end`
/// exclusive. `start > end` wraps midnight (22:00-07:00); `start == end`
/// means no quiet hours at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn contains(&self, t: NaiveTime) -> bool {
        use std::cmp::Ordering;
        match self.start.cmp(&self.end) {
            Ordering::Equal => false,
            Ordering::Less => self.start <= t && t < self.end,
            Ordering::Greater => t >= self.start || t < self.end,
        }
    }
}

/// The user's popup settings. Missing fields read as their defaults, so
/// settings saved by an older version still load.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct PolicySettings {
    /// Popups are never shown for these kinds (they are still stored and
    /// counted).
    pub muted: BTreeSet<NotificationKind>,
    pub quiet_hours: Option<QuietHours>,
    /// "Pause notifications" until this time (unix ms).
    pub paused_until_ms: Option<i64>,
    pub sound: bool,
}

impl PolicySettings {
    /// True while popups are held (paused, or inside quiet hours).
    pub fn is_holding(&self, now_ms: i64, local: NaiveDateTime) -> bool {
        self.paused_until_ms.is_some_and(|until| now_ms < until)
            || self.quiet_hours.is_some_and(|q| q.contains(local.time()))
    }
}

/// A pause the user asks for. The core turns it into an end time, so
/// "until tomorrow morning" means the same in the tray and the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum PauseFor {
    Minutes {
        minutes: u32,
    },
    /// Until a time (unix ms).
    Until {
        until_ms: i64,
    },
    /// Until 08:00 tomorrow, local time.
    TomorrowMorning,
    Resume,
}

/// The hour "tomorrow morning" ends a pause at.
pub const MORNING: u32 = 8;

impl PauseFor {
    /// The pause's end (unix ms) when asked for at `now`; `None` resumes.
    pub fn until_ms<Tz: chrono::TimeZone>(self, now: &chrono::DateTime<Tz>) -> Option<i64> {
        let now_ms = now.timestamp_millis();
        match self {
            PauseFor::Resume => None,
            PauseFor::Minutes { minutes } => {
                Some(now_ms.saturating_add(i64::from(minutes).saturating_mul(60_000)))
            }
            PauseFor::Until { until_ms } => (until_ms > now_ms).then_some(until_ms),
            PauseFor::TomorrowMorning => {
                let morning = (now.date_naive() + chrono::Duration::days(1))
                    .and_hms_opt(MORNING, 0, 0)
                    .unwrap_or_default();
                // The local time that does not exist (a DST gap) or
                // exists twice: its earliest reading, else an hour later.
                let tz = now.timezone();
                let at = tz
                    .from_local_datetime(&morning)
                    .earliest()
                    .or_else(|| {
                        tz.from_local_datetime(&(morning + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .map(|t| t.timestamp_millis())
                    .unwrap_or(now_ms + 24 * 3_600_000);
                Some(at.max(now_ms + 60_000))
            }
        }
    }
}

/// A change to the popup settings: only the fields present change, so a
/// window that shows an older copy cannot undo a pause set from the tray
/// (the pause is never part of it: see [`PauseFor`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PolicyChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub muted: Option<BTreeSet<NotificationKind>>,
    /// `Some(None)` (JSON `null`) turns quiet hours off.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub quiet_hours: Option<Option<QuietHours>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub sound: Option<bool>,
}

/// A field that is present, `null` included (`Some(None)`); absent is
/// `None` through `#[serde(default)]`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl PolicyChange {
    pub fn apply_to(&self, s: &mut PolicySettings) {
        if let Some(muted) = &self.muted {
            s.muted = muted.clone();
        }
        if let Some(quiet) = self.quiet_hours {
            s.quiet_hours = quiet;
        }
        if let Some(sound) = self.sound {
            s.sound = sound;
        }
    }
}

/// What to do with one live notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Show it as its own popup.
    Popup,
    /// Show or replace the kind's one summary popup ("5 new booking
    /// requests"); `count` is how many arrived in this burst so far.
    Fold { kind: NotificationKind, count: u32 },
    /// Quiet hours or pause: not now; it joins the summary that
    /// [`PopupPolicy::release_held`] returns when the quiet ends.
    Hold,
    /// The kind is muted: no popup, ever.
    Silent,
}

/// What to show for a catch-up batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchDecision {
    /// Pop every item of the batch individually: true only for a small
    /// batch (at most [`PopupPolicy::BURST_MAX`] items, none held or
    /// muted) whose kinds have room in their burst window.
    pub individually: bool,
    /// Otherwise, one summary per kind with items to show, in kind order;
    /// each is that kind's replaceable summary popup, and live
    /// notifications right after keep counting into it.
    pub summaries: Vec<(NotificationKind, u32)>,
    /// Items held for quiet hours or a pause (see [`PopupPolicy::release_held`]).
    pub held: u32,
    /// Items of muted kinds.
    pub silent: u32,
}

/// What was held during quiet hours or a pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldSummary {
    pub total: u32,
    /// Only kinds with something held, in kind order.
    pub by_kind: BTreeMap<NotificationKind, u32>,
}

/// Per kind: the recent individual popups and the running summary.
#[derive(Debug, Clone, Default)]
struct KindState {
    /// Times of individual popups within the burst window; never more than
    /// `BURST_MAX`.
    popups: VecDeque<i64>,
    /// The last popup or fold of this kind.
    last_event_ms: Option<i64>,
    /// Items in the current summary; 0 = no summary running.
    summary: u32,
    /// Items held for quiet hours or a pause.
    held: u32,
}

/// The popup state of one engine. Its size is fixed: a few numbers per
/// kind, whatever the number of events.
#[derive(Debug, Clone, Default)]
pub struct PopupPolicy {
    kinds: [KindState; NotificationKind::ALL.len()],
}

impl PopupPolicy {
    pub const BURST_WINDOW_MS: i64 = 2000;
    pub const BURST_MAX: usize = 3;

    pub fn new() -> Self {
        Self::default()
    }

    /// One live notification. `now_ms` is wall time in unix ms (a pause
    /// ends at a wall time); a clock that steps back only ends a burst
    /// early. `local` is local wall time, for quiet hours.
    pub fn decide(
        &mut self,
        kind: NotificationKind,
        now_ms: i64,
        local: NaiveDateTime,
        s: &PolicySettings,
    ) -> Decision {
        if s.muted.contains(&kind) {
            return Decision::Silent;
        }
        if s.is_holding(now_ms, local) {
            let st = self.state(kind);
            st.held = st.held.saturating_add(1);
            return Decision::Hold;
        }
        let st = self.state(kind);
        st.advance(now_ms);
        st.last_event_ms = Some(now_ms);
        if st.summary > 0 {
            st.summary = st.summary.saturating_add(1);
            return Decision::Fold {
                kind,
                count: st.summary,
            };
        }
        if st.popups.len() < Self::BURST_MAX {
            st.popups.push_back(now_ms);
            return Decision::Popup;
        }
        // The BURST_MAX popups so far and this one.
        st.summary = st.popups.len() as u32 + 1;
        Decision::Fold {
            kind,
            count: st.summary,
        }
    }

    /// A catch-up batch after downtime: never a flood. Muted items are
    /// silent and, in quiet hours or a pause, the rest are held, as in
    /// [`Self::decide`]. Of what may be shown: a few items (see
    /// [`BatchDecision::individually`]) pop individually and count as
    /// popups of their burst window; more become one summary per kind,
    /// which becomes (or grows) that kind's running summary.
    pub fn decide_batch(
        &mut self,
        kinds: &[NotificationKind],
        now_ms: i64,
        local: NaiveDateTime,
        s: &PolicySettings,
    ) -> BatchDecision {
        let mut out = BatchDecision::default();
        let holding = s.is_holding(now_ms, local);
        let mut shown: BTreeMap<NotificationKind, u32> = BTreeMap::new();
        for &kind in kinds {
            if s.muted.contains(&kind) {
                out.silent = out.silent.saturating_add(1);
            } else if holding {
                let st = self.state(kind);
                st.held = st.held.saturating_add(1);
                out.held = out.held.saturating_add(1);
            } else {
                let n = shown.entry(kind).or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        if shown.is_empty() {
            return out;
        }
        let total: u32 = shown.values().fold(0, |a, n| a.saturating_add(*n));
        let small = out.silent == 0 && out.held == 0 && total as usize <= Self::BURST_MAX;
        let fits = small
            && shown.iter().all(|(&kind, &n)| {
                let st = self.state(kind);
                st.advance(now_ms);
                st.summary == 0 && st.popups.len() + n as usize <= Self::BURST_MAX
            });
        for (&kind, &n) in &shown {
            let st = self.state(kind);
            st.advance(now_ms);
            st.last_event_ms = Some(now_ms);
            if fits {
                st.popups.extend(std::iter::repeat_n(now_ms, n as usize));
            } else {
                st.summary = st.summary.saturating_add(n);
                out.summaries.push((kind, st.summary));
            }
        }
        out.individually = fits;
        out
    }

    /// Call on a timer tick and after a settings change: once quiet hours
    /// or the pause are over, returns ONE summary of everything held (kinds
    /// muted meanwhile left out) and forgets it. `None` while still quiet
    /// or when nothing was held.
    pub fn release_held(
        &mut self,
        now_ms: i64,
        local: NaiveDateTime,
        s: &PolicySettings,
    ) -> Option<HeldSummary> {
        if s.is_holding(now_ms, local) {
            return None;
        }
        let mut by_kind = BTreeMap::new();
        for (kind, st) in NotificationKind::ALL.into_iter().zip(&mut self.kinds) {
            let held = std::mem::take(&mut st.held);
            if held > 0 && !s.muted.contains(&kind) {
                by_kind.insert(kind, held);
            }
        }
        if by_kind.is_empty() {
            return None;
        }
        let total = by_kind.values().fold(0u32, |a, n| a.saturating_add(*n));
        Some(HeldSummary { total, by_kind })
    }

    /// How many notifications are held now.
    pub fn held_count(&self) -> u32 {
        self.kinds
            .iter()
            .fold(0u32, |a, st| a.saturating_add(st.held))
    }

    fn state(&mut self, kind: NotificationKind) -> &mut KindState {
        let i = match kind {
            NotificationKind::Booking => 0,
            NotificationKind::Message => 1,
            NotificationKind::Maintenance => 2,
            NotificationKind::Property => 3,
            NotificationKind::Review => 4,
            NotificationKind::General => 5,
        };
        &mut self.kinds[i]
    }
}

impl KindState {
    /// Brings the state to `now_ms`: forgets popups that left the window
    /// (and any "in the future" after the clock stepped back) and ends the
    /// summary when the previous event is a window or more ago.
    fn advance(&mut self, now_ms: i64) {
        let recent =
            |t: i64| t <= now_ms && now_ms.saturating_sub(t) < PopupPolicy::BURST_WINDOW_MS;
        self.popups.retain(|&t| recent(t));
        if !self.last_event_ms.is_some_and(recent) {
            self.summary = 0;
        }
    }
}

/// The text of a kind's summary: "5 new booking requests", "1 new message".
pub fn summary_text(kind: NotificationKind, count: u32) -> String {
    let (one, many) = match kind {
        NotificationKind::Booking => ("new booking request", "new booking requests"),
        NotificationKind::Message => ("new message", "new messages"),
        NotificationKind::Maintenance => ("maintenance update", "maintenance updates"),
        NotificationKind::Property => ("property update", "property updates"),
        NotificationKind::Review => ("new review", "new reviews"),
        NotificationKind::General => ("new notification", "new notifications"),
    };
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Title and body of the held summary: ("While you were away: 12
/// notifications", "5 new booking requests, 7 new messages").
pub fn held_summary_text(h: &HeldSummary) -> (String, String) {
    let title = format!(
        "While you were away: {} notification{}",
        h.total,
        if h.total == 1 { "" } else { "s" }
    );
    let body = h
        .by_kind
        .iter()
        .map(|(&kind, &n)| summary_text(kind, n))
        .collect::<Vec<_>>()
        .join(", ");
    (title, body)
}

#[cfg(test)]
mod booking_rule {
    use super::*;
    use serde_json::{json, Value};

    fn data(v: Value) -> NotificationContext {
        NotificationContext::of(&v.as_object().cloned().unwrap_or_default())
    }

    const LANDLORD: Viewer<'static> = Viewer {
        role: Some("landlord"),
        user_id: Some(1),
    };
    const TENANT: Viewer<'static> = Viewer {
        role: Some("tenant"),
        user_id: Some(2),
    };

    #[test]
    fn a_landlord_decides_a_pending_booking_it_names() {
        let pending = data(json!({"booking_id": 7, "status": "pending", "landlord_id": 1}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &pending, LANDLORD),
            Some(7)
        );
        let as_text = data(json!({"booking_id": "7", "status": "Pending"}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &as_text, LANDLORD),
            Some(7)
        );
    }

    #[test]
    fn nothing_to_decide_for_tenants_other_kinds_decided_or_unknown_bookings() {
        let pending = data(json!({"booking_id": 7, "status": "pending", "landlord_id": 1}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &pending, TENANT),
            None
        );
        assert_eq!(
            booking_to_decide(NotificationKind::Message, &pending, LANDLORD),
            None
        );
        let approved = data(json!({"booking_id": 7, "status": "approved"}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &approved, LANDLORD),
            None
        );
        let no_status = data(json!({"booking_id": 7}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &no_status, LANDLORD),
            None
        );
        let no_id = data(json!({"status": "pending"}));
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &no_id, LANDLORD),
            None
        );
        assert_eq!(
            booking_to_decide(
                NotificationKind::Booking,
                &NotificationContext::default(),
                LANDLORD
            ),
            None
        );
    }

    #[test]
    fn with_no_role_known_the_landlord_is_recognised_by_id() {
        let pending = data(json!({"booking_id": 7, "status": "pending", "landlord_id": 1}));
        let by_id = Viewer {
            role: None,
            user_id: Some(1),
        };
        let other = Viewer {
            role: None,
            user_id: Some(2),
        };
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &pending, by_id),
            Some(7)
        );
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &pending, other),
            None
        );
        assert_eq!(
            booking_to_decide(NotificationKind::Booking, &pending, Viewer::default()),
            None
        );
    }
}

#[cfg(test)]
mod intents {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn a_pause_until_tomorrow_morning_ends_at_eight_local_time() {
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        let now = tz.with_ymd_and_hms(2026, 3, 10, 22, 30, 0).unwrap();
        let end = tz.with_ymd_and_hms(2026, 3, 11, 8, 0, 0).unwrap();
        assert_eq!(
            PauseFor::TomorrowMorning.until_ms(&now),
            Some(end.timestamp_millis())
        );
        // Just after midnight "tomorrow" is still the next day's morning.
        let night = tz.with_ymd_and_hms(2026, 3, 11, 0, 10, 0).unwrap();
        let next = tz.with_ymd_and_hms(2026, 3, 12, 8, 0, 0).unwrap();
        assert_eq!(
            PauseFor::TomorrowMorning.until_ms(&night),
            Some(next.timestamp_millis())
        );
        assert_eq!(
            PauseFor::Minutes { minutes: 60 }.until_ms(&now),
            Some(now.timestamp_millis() + 3_600_000)
        );
        assert_eq!(PauseFor::Resume.until_ms(&now), None);
        let soon = now.timestamp_millis() + 1;
        assert_eq!(
            PauseFor::Until { until_ms: soon }.until_ms(&now),
            Some(soon)
        );
        assert_eq!(
            PauseFor::Until { until_ms: 0 }.until_ms(&now),
            None,
            "a pause that ended already resumes"
        );
        assert!(PauseFor::Minutes { minutes: u32::MAX }
            .until_ms(&now)
            .is_some_and(|t| t > now.timestamp_millis()));
    }

    #[test]
    fn pause_intents_read_as_the_window_and_tray_send_them() {
        let read = |j: &str| serde_json::from_str::<PauseFor>(j).unwrap();
        assert_eq!(
            read(r#"{"for":"minutes","minutes":60}"#),
            PauseFor::Minutes { minutes: 60 }
        );
        assert_eq!(
            read(r#"{"for":"tomorrow_morning"}"#),
            PauseFor::TomorrowMorning
        );
        assert_eq!(read(r#"{"for":"resume"}"#), PauseFor::Resume);
        assert!(serde_json::from_str::<PauseFor>(r#"{"for":"forever"}"#).is_err());
    }

    #[test]
    fn a_settings_change_touches_only_what_it_names_and_never_the_pause() {
        let mut s = PolicySettings {
            muted: [NotificationKind::General].into(),
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            }),
            paused_until_ms: Some(123),
            sound: false,
        };
        let change: PolicyChange = serde_json::from_str(r#"{"sound":true}"#).unwrap();
        change.apply_to(&mut s);
        assert!(s.sound);
        assert_eq!(s.muted.len(), 1);
        assert!(s.quiet_hours.is_some());
        assert_eq!(s.paused_until_ms, Some(123), "the pause is kept");
        // null turns quiet hours off; absent leaves them.
        let change: PolicyChange = serde_json::from_str(r#"{"quiet_hours":null}"#).unwrap();
        change.apply_to(&mut s);
        assert_eq!(s.quiet_hours, None);
        // A whole old settings object is refused, not half applied.
        assert!(serde_json::from_str::<PolicyChange>(r#"{"paused_until_ms":null}"#).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use NotificationKind::*;

    const W: i64 = PopupPolicy::BURST_WINDOW_MS;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 14)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    fn noon() -> NaiveDateTime {
        at(12, 0)
    }

    fn quiet(start: (u32, u32), end: (u32, u32)) -> PolicySettings {
        PolicySettings {
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap(),
                end: NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap(),
            }),
            ..PolicySettings::default()
        }
    }

    #[test]
    fn style_follows_the_guides_mapping() {
        assert_eq!(style(Booking).urgency, Urgency::Normal);
        assert_eq!(style(Booking).category, "x-smarthunt.booking");
        assert_eq!(style(Message).urgency, Urgency::Normal);
        assert_eq!(style(Message).category, "im.received");
        assert_eq!(style(Maintenance).urgency, Urgency::Critical);
        for k in [Property, Review, General] {
            assert_eq!(style(k).urgency, Urgency::Low);
            assert_eq!(style(k).sound, None);
        }
        for k in NotificationKind::ALL {
            let st = style(k);
            assert!(!st.icon.is_empty());
            assert!(st.category == "im.received" || st.category.starts_with("x-smarthunt."));
        }
        let quiet_sound = PolicySettings::default();
        assert_eq!(style_for(Message, &quiet_sound).sound, None);
        let loud = PolicySettings {
            sound: true,
            ..PolicySettings::default()
        };
        assert_eq!(style_for(Message, &loud).sound, Some("message-new-instant"));
    }

    #[test]
    fn a_burst_pops_three_then_folds_into_one_growing_summary_then_pops_again() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        let d: Vec<_> = (0..6)
            .map(|i| p.decide(Booking, 1000 + i * 100, noon(), &s))
            .collect();
        assert_eq!(
            d,
            vec![
                Decision::Popup,
                Decision::Popup,
                Decision::Popup,
                Decision::Fold {
                    kind: Booking,
                    count: 4
                },
                Decision::Fold {
                    kind: Booking,
                    count: 5
                },
                Decision::Fold {
                    kind: Booking,
                    count: 6
                },
            ]
        );
        assert_eq!(summary_text(Booking, 5), "5 new booking requests");
        // Still arriving within the window of the previous one: still folding,
        // even though the first popups are long out of the window.
        let mut t = 1500;
        for count in 7..20 {
            t += W - 1;
            assert_eq!(
                p.decide(Booking, t, noon(), &s),
                Decision::Fold {
                    kind: Booking,
                    count
                }
            );
        }
        // A quiet gap of the window ends the burst.
        assert_eq!(p.decide(Booking, t + W, noon(), &s), Decision::Popup);
    }

    #[test]
    fn a_slow_stream_pops_every_one() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        for i in 0..50 {
            assert_eq!(
                p.decide(Message, i * 700, noon(), &s),
                Decision::Popup,
                "event {i}"
            );
        }
    }

    #[test]
    fn kinds_burst_independently() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        for _ in 0..3 {
            assert_eq!(p.decide(Booking, 0, noon(), &s), Decision::Popup);
        }
        assert!(matches!(
            p.decide(Booking, 1, noon(), &s),
            Decision::Fold { .. }
        ));
        for _ in 0..3 {
            assert_eq!(p.decide(Message, 2, noon(), &s), Decision::Popup);
        }
    }

    #[test]
    fn a_clock_stepping_back_does_not_leave_a_kind_folding() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        let hour = 3_600_000;
        for i in 0..5 {
            p.decide(Booking, 10 * hour + i, noon(), &s);
        }
        // The clock is set back an hour: a new burst starts at once.
        assert_eq!(p.decide(Booking, 9 * hour, noon(), &s), Decision::Popup);
        assert_eq!(
            p.decide(Booking, 9 * hour + 10 * W, noon(), &s),
            Decision::Popup
        );
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = quiet((22, 0), (7, 0)).quiet_hours.unwrap();
        assert!(q.contains(at(22, 0).time()));
        assert!(q.contains(at(23, 59).time()));
        assert!(q.contains(at(0, 0).time()));
        assert!(q.contains(at(6, 59).time()));
        assert!(!q.contains(at(7, 0).time()));
        assert!(!q.contains(at(12, 0).time()));
        assert!(!q.contains(at(21, 59).time()));

        let day = quiet((13, 0), (14, 0)).quiet_hours.unwrap();
        assert!(day.contains(at(13, 30).time()));
        assert!(!day.contains(at(14, 0).time()));
        assert!(!day.contains(at(23, 0).time()));

        let none = quiet((9, 0), (9, 0)).quiet_hours.unwrap();
        assert!((0..24).all(|h| !none.contains(at(h, 0).time())));
    }

    #[test]
    fn quiet_hours_hold_then_release_exactly_one_summary() {
        let mut p = PopupPolicy::new();
        let s = quiet((22, 0), (7, 0));
        for i in 0..5 {
            assert_eq!(p.decide(Booking, i, at(23, 0), &s), Decision::Hold);
        }
        for i in 0..7 {
            assert_eq!(p.decide(Message, i, at(3, 0), &s), Decision::Hold);
        }
        assert_eq!(p.held_count(), 12);
        assert_eq!(p.release_held(100, at(6, 59), &s), None, "still quiet");
        let h = p.release_held(100, at(7, 0), &s).expect("a summary");
        assert_eq!(h.total, 12);
        assert_eq!(
            held_summary_text(&h),
            (
                "While you were away: 12 notifications".to_string(),
                "5 new booking requests, 7 new messages".to_string()
            )
        );
        assert_eq!(p.release_held(101, at(7, 1), &s), None, "only once");
        assert_eq!(p.held_count(), 0);
        // Holding does not use up the burst: the morning's first pops.
        assert_eq!(p.decide(Booking, 200, at(7, 2), &s), Decision::Popup);
    }

    #[test]
    fn pause_holds_until_its_end() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings {
            paused_until_ms: Some(10_000),
            ..PolicySettings::default()
        };
        assert_eq!(p.decide(Review, 9_999, noon(), &s), Decision::Hold);
        assert_eq!(p.release_held(9_999, noon(), &s), None);
        assert_eq!(p.decide(Review, 10_000, noon(), &s), Decision::Popup);
        let h = p.release_held(10_000, noon(), &s).unwrap();
        assert_eq!(h.total, 1);
        assert_eq!(
            held_summary_text(&h),
            (
                "While you were away: 1 notification".to_string(),
                "1 new review".to_string()
            )
        );
    }

    #[test]
    fn muted_kinds_are_silent_and_never_held() {
        let mut p = PopupPolicy::new();
        let mut s = quiet((0, 0), (23, 59));
        s.muted.insert(Property);
        assert_eq!(p.decide(Property, 0, noon(), &s), Decision::Silent);
        assert_eq!(p.decide(Booking, 0, noon(), &s), Decision::Hold);
        // Muting a kind after it was held drops it from the release.
        s.muted.insert(Booking);
        s.quiet_hours = None;
        assert_eq!(p.release_held(1, noon(), &s), None);
        s.muted.clear();
        assert_eq!(p.release_held(2, noon(), &s), None, "dropped, not kept");
        for _ in 0..10 {
            s.muted.insert(General);
            assert_eq!(p.decide(General, 3, noon(), &s), Decision::Silent);
        }
    }

    #[test]
    fn a_large_batch_is_one_summary_per_kind_never_individual_popups() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        let kinds: Vec<_> = (0..500).map(|i| NotificationKind::ALL[i % 2]).collect();
        let b = p.decide_batch(&kinds, 0, noon(), &s);
        assert!(!b.individually);
        assert_eq!(b.summaries, vec![(Booking, 250), (Message, 250)]);
        // A live one right after keeps counting into the kind's summary.
        assert_eq!(
            p.decide(Booking, 100, noon(), &s),
            Decision::Fold {
                kind: Booking,
                count: 251
            }
        );
        // Once the window passes, popups are back.
        assert_eq!(p.decide(Booking, 100 + W, noon(), &s), Decision::Popup);
    }

    #[test]
    fn a_small_batch_pops_individually_and_counts_toward_the_burst() {
        let mut p = PopupPolicy::new();
        let s = PolicySettings::default();
        let b = p.decide_batch(&[Booking, Message], 0, noon(), &s);
        assert!(b.individually);
        assert!(b.summaries.is_empty());
        assert_eq!(p.decide(Booking, 1, noon(), &s), Decision::Popup);
        assert_eq!(p.decide(Booking, 2, noon(), &s), Decision::Popup);
        assert_eq!(
            p.decide(Booking, 3, noon(), &s),
            Decision::Fold {
                kind: Booking,
                count: 4
            }
        );
        // No room left in the booking window: a batch becomes a summary.
        let b = p.decide_batch(&[Booking], 4, noon(), &s);
        assert!(!b.individually);
        assert_eq!(b.summaries, vec![(Booking, 5)]);
    }

    #[test]
    fn a_batch_with_muted_or_held_items_is_never_individual() {
        let mut p = PopupPolicy::new();
        let mut s = PolicySettings::default();
        s.muted.insert(Review);
        let b = p.decide_batch(&[Review, Booking], 0, noon(), &s);
        assert!(!b.individually);
        assert_eq!(b.summaries, vec![(Booking, 1)]);
        assert_eq!(b.silent, 1);

        let s = quiet((22, 0), (7, 0));
        let b = p.decide_batch(&[Booking, Message, Booking], 0, at(1, 0), &s);
        assert_eq!(
            b,
            BatchDecision {
                individually: false,
                summaries: vec![],
                held: 3,
                silent: 0
            }
        );
        let h = p.release_held(0, at(8, 0), &s).unwrap();
        assert_eq!(h.total, 3);
        assert_eq!(p.decide_batch(&[], 0, noon(), &s), BatchDecision::default());
    }

    #[test]
    fn summary_texts_agree_in_number() {
        let cases = [
            (Booking, 1, "1 new booking request"),
            (Booking, 5, "5 new booking requests"),
            (Message, 1, "1 new message"),
            (Message, 2, "2 new messages"),
            (Maintenance, 1, "1 maintenance update"),
            (Maintenance, 3, "3 maintenance updates"),
            (Property, 1, "1 property update"),
            (Property, 4, "4 property updates"),
            (Review, 1, "1 new review"),
            (Review, 0, "0 new reviews"),
            (General, 1, "1 new notification"),
            (General, 9, "9 new notifications"),
        ];
        for (kind, n, text) in cases {
            assert_eq!(summary_text(kind, n), text);
        }
    }

    #[test]
    fn settings_load_from_partial_json_with_short_times() {
        let s: PolicySettings = serde_json::from_str(
            r#"{"muted":["review"],"quiet_hours":{"start":"22:00","end":"07:30:00"}}"#,
        )
        .unwrap();
        assert!(s.muted.contains(&Review));
        assert!(!s.sound);
        assert_eq!(s.paused_until_ms, None);
        let q = s.quiet_hours.unwrap();
        assert!(q.contains(at(7, 29).time()));
        let back: PolicySettings =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            serde_json::from_str::<PolicySettings>("{}").unwrap(),
            PolicySettings::default()
        );
    }

    fn kind_of(i: u8) -> NotificationKind {
        NotificationKind::ALL[usize::from(i) % NotificationKind::ALL.len()]
    }

    proptest! {
        #[test]
        fn never_more_than_burst_max_popups_per_kind_in_any_window(
            events in proptest::collection::vec((0u8..6, 0i64..2500), 1..400),
            start in -1_000_000_000i64..1_000_000_000,
        ) {
            let mut p = PopupPolicy::new();
            let s = PolicySettings::default();
            let mut t = start;
            let mut popups: BTreeMap<NotificationKind, Vec<i64>> = BTreeMap::new();
            let mut last_fold: BTreeMap<NotificationKind, (i64, u32)> = BTreeMap::new();
            for (k, gap) in events {
                t += gap;
                let kind = kind_of(k);
                match p.decide(kind, t, noon(), &s) {
                    Decision::Popup => popups.entry(kind).or_default().push(t),
                    Decision::Fold { kind: folded, count } => {
                        prop_assert_eq!(folded, kind);
                        prop_assert!(count as usize > PopupPolicy::BURST_MAX);
                        // A summary grows by one per event while it runs.
                        if let Some(&(prev_t, prev)) = last_fold.get(&kind) {
                            if t - prev_t < W {
                                prop_assert_eq!(count, prev + 1);
                            }
                        }
                        last_fold.insert(kind, (t, count));
                    }
                    d @ (Decision::Hold | Decision::Silent) => {
                        prop_assert!(false, "{:?} with default settings", d);
                    }
                }
                for st in &p.kinds {
                    prop_assert!(st.popups.len() <= PopupPolicy::BURST_MAX);
                }
            }
            for times in popups.values() {
                for w in times.windows(PopupPolicy::BURST_MAX + 1) {
                    prop_assert!(w[PopupPolicy::BURST_MAX] - w[0] >= W, "{:?}", w);
                }
            }
        }

        #[test]
        fn every_event_is_decided_by_the_settings_and_held_ones_come_back_once(
            events in proptest::collection::vec((0u8..6, 0i64..5000, 0u32..1440), 1..200),
            muted_mask in 0u8..64,
            q_start in 0u32..1440,
            q_end in 0u32..1440,
            pause_for in proptest::option::of(0i64..200_000),
        ) {
            let time = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            let s = PolicySettings {
                muted: (0..6u8).filter(|i| muted_mask & (1 << i) != 0).map(kind_of).collect(),
                quiet_hours: Some(QuietHours { start: time(q_start), end: time(q_end) }),
                paused_until_ms: pause_for,
                sound: false,
            };
            let mut p = PopupPolicy::new();
            let mut t = 0;
            let mut held: BTreeMap<NotificationKind, u32> = BTreeMap::new();
            for (k, gap, minute) in events {
                t += gap;
                let kind = kind_of(k);
                let local = at(minute / 60, minute % 60);
                let d = p.decide(kind, t, local, &s);
                if s.muted.contains(&kind) {
                    prop_assert_eq!(d, Decision::Silent);
                } else if s.is_holding(t, local) {
                    prop_assert_eq!(d, Decision::Hold);
                    *held.entry(kind).or_default() += 1;
                } else {
                    prop_assert!(matches!(d, Decision::Popup | Decision::Fold { .. }), "{:?}", d);
                }
            }
            prop_assert_eq!(p.held_count(), held.values().sum::<u32>());
            let awake = PolicySettings { quiet_hours: None, paused_until_ms: None, ..s.clone() };
            let released = p.release_held(t, noon(), &awake);
            if held.is_empty() {
                prop_assert_eq!(released, None);
            } else {
                let h = released.unwrap();
                prop_assert_eq!(h.total, held.values().sum::<u32>());
                prop_assert_eq!(h.by_kind, held);
            }
            prop_assert_eq!(p.release_held(t, noon(), &awake), None);
        }

        #[test]
        fn a_batch_never_floods(
            kinds in proptest::collection::vec(0u8..6, 0..600),
            muted_mask in 0u8..64,
            holding in proptest::bool::ANY,
        ) {
            let kinds: Vec<_> = kinds.into_iter().map(kind_of).collect();
            let s = PolicySettings {
                muted: (0..6u8).filter(|i| muted_mask & (1 << i) != 0).map(kind_of).collect(),
                paused_until_ms: holding.then_some(i64::MAX),
                ..PolicySettings::default()
            };
            let mut p = PopupPolicy::new();
            let b = p.decide_batch(&kinds, 0, noon(), &s);
            if b.individually {
                prop_assert!(kinds.len() <= PopupPolicy::BURST_MAX);
                prop_assert!(b.summaries.is_empty() && b.held == 0 && b.silent == 0);
            }
            let mut seen = BTreeSet::new();
            for (kind, n) in &b.summaries {
                prop_assert!(seen.insert(*kind), "two summaries for {:?}", kind);
                prop_assert!(*n > 0);
                prop_assert!(!s.muted.contains(kind));
            }
            let shown: u32 = if b.individually {
                kinds.len() as u32
            } else {
                b.summaries.iter().map(|(_, n)| n).sum()
            };
            prop_assert_eq!(shown + b.held + b.silent, kinds.len() as u32);
        }
    }
}
