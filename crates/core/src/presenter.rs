//! The popup presenter: the one place a [`Popup`] is built. It takes the
//! policy's decision (popup, fold into a summary, hold, silent), the
//! notification's style and actions, and the user's sound setting, and
//! answers with the popups to show. Pure: no notifier, no store, no clock;
//! the caller passes the time in and shows what comes back.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::connection::ConnectionState;
use crate::policy::{self, Decision, PolicySettings, PopupPolicy, Viewer};
use crate::ports::{Popup, PopupKey};
use crate::protocol::{IncomingNotification, NotificationKind};

/// During a burst a kind's summary popup is refreshed at most this often,
/// so 100,000 notifications replace it a handful of times, not 100,000.
pub const SUMMARY_REFRESH: Duration = Duration::from_secs(2);

/// What a popup depends on besides the notification itself.
pub struct Context<'a> {
    pub settings: &'a PolicySettings,
    pub viewer: Viewer<'a>,
    /// Wall time (unix ms): pauses end at a wall time.
    pub now_ms: i64,
    /// Local wall time, for quiet hours.
    pub local: NaiveDateTime,
    /// Monotonic time, for the summaries' refresh rate.
    pub now: Instant,
}

/// A summary on screen, recounted after reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Recount {
    /// Nothing it counts is unread: take it away.
    Withdraw(PopupKey),
    /// Its count changed: show it again (silently).
    Show(Popup),
    Keep,
}

/// The summaries of live bursts: what waits to be shown, and what those on
/// screen count.
#[derive(Default)]
struct Summaries {
    pending: BTreeMap<NotificationKind, u32>,
    /// The first local id a kind's summary counts, while it is up.
    since: HashMap<NotificationKind, i64>,
    /// The count a kind's summary shows.
    shown: HashMap<NotificationKind, u32>,
    last_shown: HashMap<NotificationKind, Instant>,
    due: Option<Instant>,
}

/// The popup state of one account: the policy's burst windows and held
/// counts, and the summaries. Its size is fixed per kind, whatever the
/// number of events.
#[derive(Default)]
pub struct Presenter {
    policy: PopupPolicy,
    summaries: Summaries,
    /// Popups of notifications the store could not keep, so far.
    unsaved: u64,
}

impl Presenter {
    pub fn new() -> Self {
        Self::default()
    }

    /// One live notification, kept as `local_id`: its own popup, a summary
    /// now or at [`Presenter::due`], or nothing (held, muted).
    pub fn live(&mut self, local_id: i64, n: IncomingNotification, cx: &Context) -> Vec<Popup> {
        match self.policy.decide(n.kind, cx.now_ms, cx.local, cx.settings) {
            Decision::Popup => vec![finish(notification_popup(local_id, n, &cx.viewer), cx)],
            Decision::Fold { kind, count } => {
                self.summaries.pending.insert(kind, count);
                self.summaries.since.entry(kind).or_insert(local_id);
                let due = self
                    .summaries
                    .last_shown
                    .get(&kind)
                    .map(|t| *t + SUMMARY_REFRESH);
                match due {
                    Some(due) if due > cx.now => {
                        self.summaries.due.get_or_insert(due);
                        Vec::new()
                    }
                    _ => self.show_due(cx),
                }
            }
            Decision::Hold | Decision::Silent => Vec::new(),
        }
    }

    /// A live notification the store could not keep: it still pops as the
    /// policy says (a flood is still folded, and then not shown), so the
    /// user hears of it now.
    pub fn live_unsaved(&mut self, n: IncomingNotification, cx: &Context) -> Option<Popup> {
        let decision = self.policy.decide(n.kind, cx.now_ms, cx.local, cx.settings);
        (decision == Decision::Popup).then(|| {
            self.unsaved += 1;
            let key = PopupKey::Unsaved(self.unsaved);
            finish(Popup::notice(key, n.title, n.body, n.kind), cx)
        })
    }

    /// When the summaries waiting must be shown.
    pub fn due(&self) -> Option<Instant> {
        self.summaries.due
    }

    /// Shows (replacing) the summary of every kind with news.
    pub fn show_due(&mut self, cx: &Context) -> Vec<Popup> {
        self.summaries.due = None;
        let pending = std::mem::take(&mut self.summaries.pending);
        pending
            .into_iter()
            .map(|(kind, count)| {
                self.summaries.last_shown.insert(kind, cx.now);
                self.summaries.shown.insert(kind, count);
                finish(live_summary(kind, count), cx)
            })
            .collect()
    }

    /// A catch-up after downtime: a few items pop one by one, more become
    /// one summary per kind ("Arrived while you were offline"), which live
    /// notifications right after keep counting into.
    pub fn caught_up(
        &mut self,
        kinds: &[NotificationKind],
        new: Vec<(i64, IncomingNotification)>,
        cx: &Context,
    ) -> Vec<Popup> {
        let batch = self
            .policy
            .decide_batch(kinds, cx.now_ms, cx.local, cx.settings);
        if batch.individually {
            return new
                .into_iter()
                .map(|(local_id, n)| finish(notification_popup(local_id, n, &cx.viewer), cx))
                .collect();
        }
        batch
            .summaries
            .into_iter()
            .map(|(kind, count)| {
                let first = new
                    .iter()
                    .filter(|(_, n)| n.kind == kind)
                    .map(|(id, _)| *id)
                    .min();
                if let Some(first) = first {
                    self.summaries.since.insert(kind, first);
                }
                self.summaries.shown.insert(kind, count);
                finish(
                    Popup::notice(
                        PopupKey::Summary(kind),
                        policy::summary_text(kind, count),
                        "Arrived while you were offline.".into(),
                        kind,
                    ),
                    cx,
                )
            })
            .collect()
    }

    /// The first sign-in: one summary of what was already unread.
    pub fn first_sign_in(&self, unread: u64, cx: &Context) -> Option<Popup> {
        (unread > 0).then(|| {
            finish(
                Popup::notice(
                    PopupKey::Digest,
                    format!(
                        "You have {unread} unread notification{}",
                        if unread == 1 { "" } else { "s" }
                    ),
                    "Open SmartHunt to read them.".into(),
                    NotificationKind::General,
                ),
                cx,
            )
        })
    }

    /// Once quiet hours or a pause are over: one summary of what they held.
    pub fn release_held(&mut self, cx: &Context) -> Option<Popup> {
        let held = self.policy.release_held(cx.now_ms, cx.local, cx.settings)?;
        let (title, body) = policy::held_summary_text(&held);
        Some(finish(
            Popup::notice(PopupKey::Digest, title, body, NotificationKind::General),
            cx,
        ))
    }

    /// The summaries among `on_screen`, with the first local id each counts.
    pub fn summaries_on_screen(&self, on_screen: &[PopupKey]) -> Vec<(NotificationKind, i64)> {
        on_screen
            .iter()
            .filter_map(|k| match k {
                PopupKey::Summary(kind) => self.summaries.since.get(kind).map(|s| (*kind, *s)),
                _ => None,
            })
            .collect()
    }

    /// A kind's summary now that `left` of what it counts is unread.
    pub fn recount(&mut self, kind: NotificationKind, left: u64) -> Recount {
        let left = u32::try_from(left).unwrap_or(u32::MAX);
        if left == 0 {
            self.summaries.since.remove(&kind);
            self.summaries.shown.remove(&kind);
            return Recount::Withdraw(PopupKey::Summary(kind));
        }
        if self.summaries.shown.get(&kind) == Some(&left) {
            return Recount::Keep;
        }
        self.summaries.shown.insert(kind, left);
        // A recount is not news: it makes no sound.
        let mut popup = live_summary(kind, left);
        popup.style.sound = None;
        Recount::Show(popup)
    }

    /// Tells the user they are needed: signed out, no keychain, unreadable
    /// settings. None for any other state.
    pub fn account_problem(state: &ConnectionState) -> Option<Popup> {
        let (title, body) = match state {
            ConnectionState::SignedOut { reason } => (
                "Signed out of SmartHunt".to_owned(),
                format!("{reason}. Open SmartHunt to sign in again."),
            ),
            ConnectionState::KeychainUnavailable { message } => (
                "SmartHunt cannot reach your keychain".to_owned(),
                format!("{message}. Notifications are paused until it is available."),
            ),
            ConnectionState::ConfigUnreadable { message } => (
                "SmartHunt cannot read its settings".to_owned(),
                format!("{message}. Notifications are paused."),
            ),
            _ => return None,
        };
        Some(Popup::notice(
            PopupKey::Account,
            title,
            body,
            NotificationKind::General,
        ))
    }

    /// What replaces a booking request's popup after Approve or Decline:
    /// the outcome, or the request again (still actionable) with why it
    /// failed. Silent: the user just acted.
    pub fn booking_outcome(
        local_id: i64,
        approve: bool,
        outcome: Result<(), String>,
        booking_id: Option<i64>,
    ) -> Popup {
        let mut popup = match outcome {
            Ok(()) => Popup::notice(
                PopupKey::Notification(local_id),
                format!("Booking {}", if approve { "approved" } else { "declined" }),
                "The tenant will be told.".to_owned(),
                NotificationKind::Booking,
            ),
            Err(why) => Popup::notification(
                local_id,
                NotificationKind::Booking,
                format!(
                    "Could not {} the booking",
                    if approve { "approve" } else { "decline" }
                ),
                why,
                booking_id,
                None,
            ),
        };
        popup.style.sound = None;
        popup
    }
}

/// A kind's summary of live notifications ("5 new booking requests").
fn live_summary(kind: NotificationKind, count: u32) -> Popup {
    Popup::notice(
        PopupKey::Summary(kind),
        policy::summary_text(kind, count),
        "Open SmartHunt to see them all.".into(),
        kind,
    )
}

/// One notification's own popup: Approve/Decline when the viewer may
/// decide its booking, Reply when someone else sent it.
fn notification_popup(local_id: i64, n: IncomingNotification, viewer: &Viewer) -> Popup {
    let context = n.context();
    let booking = policy::booking_to_decide(n.kind, &context, *viewer);
    let reply_to = (n.kind == NotificationKind::Message)
        .then_some(context.sender_id)
        .flatten()
        .filter(|sender| Some(*sender) != viewer.user_id);
    Popup::notification(local_id, n.kind, n.title, n.body, booking, reply_to)
}

/// Its sound only when the user wants sounds.
fn finish(mut popup: Popup, cx: &Context) -> Popup {
    if !cx.settings.sound {
        popup.style.sound = None;
    }
    popup
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::PopupAction;
    use chrono::NaiveDate;
    use serde_json::json;

    fn incoming(
        kind: NotificationKind,
        title: &str,
        data: serde_json::Value,
    ) -> IncomingNotification {
        let serde_json::Value::Object(data) = data else {
            panic!("data is an object")
        };
        IncomingNotification {
            id: None,
            title: title.into(),
            body: format!("{title} body"),
            kind,
            data,
            created_at: None,
            is_read: None,
        }
    }

    fn noon() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    struct Clock {
        settings: PolicySettings,
        t0: Instant,
    }

    impl Clock {
        fn new(settings: PolicySettings) -> Self {
            Self {
                settings,
                t0: Instant::now(),
            }
        }

        /// The context `ms` milliseconds in.
        fn at(&self, ms: u64) -> Context<'_> {
            Context {
                settings: &self.settings,
                viewer: Viewer {
                    role: Some("landlord"),
                    user_id: Some(1),
                },
                now_ms: 1_000_000 + ms as i64,
                local: noon() + chrono::Duration::milliseconds(ms as i64),
                now: self.t0 + Duration::from_millis(ms),
            }
        }
    }

    fn sounds_on() -> PolicySettings {
        PolicySettings {
            sound: true,
            ..PolicySettings::default()
        }
    }

    #[test]
    fn a_burst_pops_three_then_one_summary_refreshed_at_most_every_two_seconds() {
        let clock = Clock::new(sounds_on());
        let mut p = Presenter::new();
        let mut shown = Vec::new();
        for i in 0..10 {
            let n = incoming(NotificationKind::Booking, &format!("B{i}"), json!({}));
            shown.extend(p.live(i, n, &clock.at(i as u64 * 10)));
        }
        let titles: Vec<_> = shown.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["B0", "B1", "B2", "4 new booking requests"]);
        assert_eq!(shown[3].key, PopupKey::Summary(NotificationKind::Booking));
        // The rest waits for the refresh.
        let due = p.due().expect("a refresh is due");
        assert_eq!(due, clock.at(30).now + SUMMARY_REFRESH);
        let later = p.show_due(&clock.at(2_030));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].title, "10 new booking requests");
        assert_eq!(p.due(), None);
    }

    #[test]
    fn a_landlord_may_approve_a_pending_request_and_a_message_offers_reply() {
        let clock = Clock::new(sounds_on());
        let mut p = Presenter::new();
        let request = incoming(
            NotificationKind::Booking,
            "Request",
            json!({"booking_id": 7, "status": "pending", "landlord_id": 1}),
        );
        let popup = p.live(1, request, &clock.at(0)).remove(0);
        assert_eq!(popup.booking_id, Some(7));
        assert!(popup.actions.contains(&PopupAction::Approve));
        let message = incoming(NotificationKind::Message, "Hi", json!({"sender_id": 5}));
        let popup = p.live(2, message, &clock.at(10)).remove(0);
        assert_eq!(popup.reply_to, Some(5));
        assert!(popup.actions.contains(&PopupAction::Reply));
        let mine = incoming(NotificationKind::Message, "Mine", json!({"sender_id": 1}));
        let popup = p.live(3, mine, &clock.at(20)).remove(0);
        assert_eq!(popup.reply_to, None, "no reply to oneself");
    }

    #[test]
    fn sound_follows_the_setting_and_recounts_are_silent() {
        let loud = Clock::new(sounds_on());
        let quiet = Clock::new(PolicySettings::default());
        let n = || incoming(NotificationKind::Message, "M", json!({}));
        let mut p = Presenter::new();
        assert!(p.live(1, n(), &loud.at(0))[0].style.sound.is_some());
        let mut p = Presenter::new();
        assert_eq!(p.live(1, n(), &quiet.at(0))[0].style.sound, None);
        let mut p = Presenter::new();
        for i in 0..5 {
            p.live(i, n(), &loud.at(i as u64));
        }
        let on_screen = [PopupKey::Summary(NotificationKind::Message)];
        assert_eq!(
            p.summaries_on_screen(&on_screen),
            [(NotificationKind::Message, 3)]
        );
        match p.recount(NotificationKind::Message, 2) {
            Recount::Show(popup) => {
                assert_eq!(popup.title, "2 new messages");
                assert_eq!(popup.style.sound, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.recount(NotificationKind::Message, 2), Recount::Keep);
        assert_eq!(
            p.recount(NotificationKind::Message, 0),
            Recount::Withdraw(PopupKey::Summary(NotificationKind::Message))
        );
        assert!(p.summaries_on_screen(&on_screen).is_empty());
    }

    #[test]
    fn held_popups_come_back_as_one_summary_when_the_pause_ends() {
        let mut clock = Clock::new(PolicySettings {
            paused_until_ms: Some(1_000_000 + 5_000),
            ..PolicySettings::default()
        });
        let mut p = Presenter::new();
        for i in 0..3 {
            let n = incoming(NotificationKind::General, "Held", json!({}));
            assert!(p.live(i, n, &clock.at(i as u64)).is_empty(), "held");
        }
        assert_eq!(p.release_held(&clock.at(100)), None, "still paused");
        clock.settings.paused_until_ms = None;
        let digest = p.release_held(&clock.at(6_000)).expect("one summary");
        assert_eq!(digest.key, PopupKey::Digest);
        assert!(digest.title.contains('3'), "{}", digest.title);
        assert_eq!(p.release_held(&clock.at(6_001)), None, "said once");
    }

    #[test]
    fn a_small_catch_up_pops_each_and_a_large_one_sums_up() {
        let clock = Clock::new(sounds_on());
        let mut p = Presenter::new();
        let few: Vec<_> = (0..2)
            .map(|i| (i, incoming(NotificationKind::Property, "Few", json!({}))))
            .collect();
        let kinds = [NotificationKind::Property; 2];
        let shown = p.caught_up(&kinds, few, &clock.at(0));
        assert_eq!(shown.len(), 2);
        assert!(shown
            .iter()
            .all(|p| matches!(p.key, PopupKey::Notification(_))));
        let mut p = Presenter::new();
        let many: Vec<_> = (10..35)
            .map(|i| (i, incoming(NotificationKind::Property, "Many", json!({}))))
            .collect();
        let kinds = [NotificationKind::Property; 25];
        let shown = p.caught_up(&kinds, many, &clock.at(0));
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].key, PopupKey::Summary(NotificationKind::Property));
        assert_eq!(shown[0].body, "Arrived while you were offline.");
        assert_eq!(
            p.summaries_on_screen(&[PopupKey::Summary(NotificationKind::Property)]),
            [(NotificationKind::Property, 10)]
        );
    }

    #[test]
    fn the_account_problems_are_said_and_nothing_else_is() {
        let signed_out = ConnectionState::SignedOut {
            reason: "the server no longer accepts your session".into(),
        };
        let popup = Presenter::account_problem(&signed_out).unwrap();
        assert_eq!(popup.key, PopupKey::Account);
        assert_eq!(popup.title, "Signed out of SmartHunt");
        assert!(popup.body.ends_with("Open SmartHunt to sign in again."));
        assert_eq!(
            Presenter::account_problem(&ConnectionState::Connecting),
            None
        );
    }

    #[test]
    fn a_booking_outcome_replaces_the_request_and_a_failure_keeps_it_actionable() {
        let ok = Presenter::booking_outcome(4, true, Ok(()), Some(7));
        assert_eq!(ok.key, PopupKey::Notification(4));
        assert_eq!(ok.title, "Booking approved");
        assert_eq!(ok.style.sound, None);
        let failed = Presenter::booking_outcome(4, false, Err("server error 500".into()), Some(7));
        assert_eq!(failed.title, "Could not decline the booking");
        assert_eq!(failed.body, "server error 500");
        assert!(failed.actions.contains(&PopupAction::Decline));
    }
}
