//! REST work that keeps the store whole: catch-up after every connect (so
//! nothing sent while offline is lost), reconciling reads made elsewhere, and
//! flushing the outbox exactly once. It decides no popups: it reports what
//! was new and the engine decides.

use std::collections::HashSet;

use crate::api::{Api, ApiError};
use crate::protocol::{ChatMessage, IncomingNotification, NotificationKind};
use crate::store::{CellError, Inserted, OutboxOp, StoreCell, StoreError};

/// Why a catch-up, reconcile or outbox run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] CellError),
    /// Chat history needs to know who we are: the profile has not come yet.
    #[error("our user id is not known yet")]
    UserUnknown,
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        Self::Store(CellError::Store(e))
    }
}

/// Pages fetched at the first sign-in (history, shown as one summary).
pub const FIRST_SYNC_PAGES: u32 = 3;
/// A safety bound on one catch-up (500 pages = 10,000 notifications).
pub const CATCH_UP_MAX_PAGES: u32 = 500;
/// A bound on what one catch-up gathers before it stores it (it stores
/// oldest first, so it holds the whole walk until the end): an honest
/// server's 500 pages of 20 fit with room to spare, a hostile server's 500
/// pages of 2 MiB (1 GiB) do not. The walk stops there as at its page
/// limit, having kept the newest; the rest stays on the server.
pub const CATCH_UP_MAX_BYTES: usize = 32 << 20;
/// Pages of chat history walked at most per sync.
pub const CHAT_PAGES: u32 = 5;
/// Unread pages read when reconciling reads made elsewhere.
pub const RECONCILE_PAGES: u32 = 10;
/// How far back a sent chat message may be matched to an unknown send.
const SEND_MATCH_SLACK_MS: i64 = 30 * 1000;
/// How many new items a report carries in full (more become summaries).
pub const REPORT_FULL_ITEMS: usize = 3;

const META_HISTORY: &str = "history_synced";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A notification the catch-up stored for the first time.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub local_id: i64,
    pub notification: IncomingNotification,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    /// The kinds of everything new, oldest first.
    pub new_kinds: Vec<NotificationKind>,
    /// The first few new items in full, for individual popups.
    pub new: Vec<NewNotification>,
    /// Set on the first sign-in: the unread count to summarise once.
    pub first_sync_unread: Option<u64>,
    /// The server's unread count after the catch-up.
    pub unread: Option<u64>,
    pub new_messages: usize,
}

/// True until the first sign-in's history has been read.
pub(crate) async fn needs_first_sync(store: &StoreCell) -> bool {
    matches!(store.run(|s| s.get_meta(META_HISTORY)).await, Ok(None))
}

/// Walks the notification list newest first until it reaches an item we
/// already had before this catch-up began (or its page or size limit),
/// stores what is new oldest first, and does the same for chat messages.
pub(crate) async fn catch_up(
    api: &Api,
    store: &StoreCell,
    me: Option<i64>,
    window_ms: i64,
) -> Result<SyncReport, SyncError> {
    let first = store.run(|s| s.get_meta(META_HISTORY)).await?.is_none();
    let max_pages = if first {
        FIRST_SYNC_PAGES
    } else {
        CATCH_UP_MAX_PAGES
    };
    // Items that arrive live during the walk are not a reason to stop: only
    // what was known before it began is.
    let known_before = store.run(|s| s.max_server_id()).await?;
    let mut fresh: Vec<IncomingNotification> = Vec::new();
    let mut gathered = 0;
    for page in 1..=max_pages {
        let (items, has_next) = api.notifications_page(page, false).await?;
        let (items, bytes, reached_known) = store
            .run(move |s| {
                let mut keep = Vec::with_capacity(items.len());
                let mut bytes = 0;
                let mut reached = false;
                for n in items {
                    let old = match (n.id, known_before) {
                        (Some(id), Some(max)) if id <= max => s.is_known(id, &n.title)?,
                        _ => false,
                    };
                    if old {
                        reached = true;
                    } else {
                        bytes += held_bytes(&n);
                        keep.push(n);
                    }
                }
                Ok((keep, bytes, reached))
            })
            .await?;
        fresh.extend(items);
        gathered += bytes;
        if reached_known || !has_next {
            break;
        }
        if gathered >= CATCH_UP_MAX_BYTES {
            tracing::warn!(
                pages = page,
                bytes = gathered,
                "catch-up stopped at its size limit"
            );
            break;
        }
        if page == max_pages && !first {
            tracing::warn!(pages = max_pages, "catch-up stopped at its page limit");
        }
    }
    // Oldest first, so local order follows server order.
    fresh.reverse();
    let mut report = SyncReport::default();
    // The batch goes to the store and comes back: never held twice.
    let (fresh, inserted) = store
        .run(move |s| {
            let r = s.insert_notifications(&fresh, now_ms(), window_ms)?;
            if first {
                let ids: Vec<i64> = r
                    .iter()
                    .filter_map(|i| match i {
                        Inserted::New(id) => Some(*id),
                        Inserted::Duplicate(_) => None,
                    })
                    .collect();
                s.mark_popped(&ids)?;
            }
            Ok((fresh, r))
        })
        .await?;
    for (n, r) in fresh.into_iter().zip(inserted) {
        if let Inserted::New(local_id) = r {
            report.new_kinds.push(n.kind);
            if report.new.len() < REPORT_FULL_ITEMS {
                report.new.push(NewNotification {
                    local_id,
                    notification: n,
                });
            }
        }
    }
    if !first {
        with_context(api, store, &mut report.new, window_ms).await;
    }
    let stats = api.stats().await?;
    report.unread = Some(stats.unread);
    if first {
        store.run(|s| s.set_meta(META_HISTORY, "1")).await?;
        report.first_sync_unread = Some(stats.unread);
    }
    if let Some(me) = me {
        report.new_messages = catch_up_chat(api, store, me).await?;
    }
    Ok(report)
}

/// About what a notification holds in memory, for [`CATCH_UP_MAX_BYTES`]:
/// its text, its `data` as JSON and the struct itself.
fn held_bytes(n: &IncomingNotification) -> usize {
    let data = if n.data.is_empty() {
        0
    } else {
        serde_json::to_vec(&n.data).map_or(0, |json| json.len())
    };
    std::mem::size_of::<IncomingNotification>() + n.title.len() + n.body.len() + data
}

/// The list gives no `data`, and a popup needs it: a booking request
/// without its booking offers no Approve, a message without its sender no
/// Reply. The few that will pop on their own get their detail first (and
/// keep it); one whose detail cannot be had pops without.
async fn with_context(api: &Api, store: &StoreCell, new: &mut [NewNotification], window_ms: i64) {
    for n in new.iter_mut() {
        let wants = matches!(
            n.notification.kind,
            NotificationKind::Booking | NotificationKind::Message
        );
        let (true, true, Some(id)) = (wants, n.notification.data.is_empty(), n.notification.id)
        else {
            continue;
        };
        match fetch_detail(api, store, id, window_ms).await {
            Ok(detail) => n.notification.data = detail.data,
            Err(e) => tracing::info!(error = %e, "no detail for a caught-up notification"),
        }
    }
}

/// A notification's detail from the server (the list gives no `data`),
/// kept in the store: the one way context is filled in, for a popup or
/// the window.
pub(crate) async fn fetch_detail(
    api: &Api,
    store: &StoreCell,
    server_id: i64,
    window_ms: i64,
) -> Result<IncomingNotification, SyncError> {
    let detail = api.notification_detail(server_id).await?;
    let kept = detail.clone();
    store
        .run(move |s| s.insert_notification(&kept, now_ms(), window_ms))
        .await?;
    Ok(detail)
}

/// Fetches chat history until a message we already have.
async fn catch_up_chat(api: &Api, store: &StoreCell, me: i64) -> Result<usize, SyncError> {
    let mut stored = 0;
    for page in 1..=CHAT_PAGES {
        let (items, has_next) = api.messages_page(page).await?;
        let (n, reached_known) = store
            .run(move |s| {
                let mut n = 0;
                let mut reached = false;
                for m in &items {
                    if m.id
                        .is_some_and(|id| s.chat_message_known(id).unwrap_or(false))
                    {
                        reached = true;
                        continue;
                    }
                    if s.insert_chat_message(me, m, now_ms())?.is_some() {
                        n += 1;
                    }
                }
                Ok((n, reached))
            })
            .await?;
        stored += n;
        if reached_known || !has_next {
            break;
        }
    }
    Ok(stored)
}

/// When [`reconcile_reads`] walks the server's unread list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    Always,
    /// Only when the server counts fewer unread than the store: a read
    /// made elsewhere. Otherwise one stats call is all it costs.
    WhenCountsDiffer,
}

/// Reads made elsewhere produce no frame: mark read here what the server no
/// longer lists as unread, and return the server's unread count.
pub(crate) async fn reconcile_reads(
    api: &Api,
    store: &StoreCell,
    walk: Walk,
) -> Result<u64, SyncError> {
    if walk == Walk::WhenCountsDiffer {
        let server = api.stats().await?.unread;
        let here = store.run(|s| s.unread_count()).await?;
        if server >= here {
            return Ok(server);
        }
    }
    let Some(known_max) = store.run(|s| s.max_server_id()).await? else {
        return Ok(api.stats().await?.unread);
    };
    let mut unread_ids = HashSet::new();
    let mut complete = false;
    let mut min_seen = i64::MAX;
    for page in 1..=RECONCILE_PAGES {
        let (items, has_next) = api.notifications_page(page, true).await?;
        for id in items.iter().filter_map(|n| n.id) {
            unread_ids.insert(id);
            min_seen = min_seen.min(id);
        }
        if !has_next {
            complete = true;
            break;
        }
    }
    // Only rows the lists covered may change: all of them when the walk
    // was complete, else those at or above the oldest unread id seen.
    let min_id = if complete { i64::MIN } else { min_seen };
    store
        .run(move |s| s.reconcile_read_state(min_id, known_max, &unread_ids))
        .await?;
    Ok(api.stats().await?.unread)
}

/// Sends every outbox item, oldest first, until one fails. Chat sends whose
/// earlier outcome is unknown are looked up on the server before being sent
/// again. Returns how many items were acknowledged.
pub(crate) async fn flush_outbox(
    api: &Api,
    me: Option<i64>,
    store: &StoreCell,
) -> Result<usize, SyncError> {
    let items = store.run(|s| s.outbox()).await?;
    let mut done = 0;
    for item in items {
        let id = item.id;
        if let OutboxOp::SendChat { receiver, content } = &item.op {
            if item.in_flight {
                let Some(me) = me else {
                    return Err(SyncError::UserUnknown);
                };
                if let Some(sent) =
                    find_sent(api, me, *receiver, content, item.created_at_ms).await?
                {
                    tracing::info!(outbox = id, "an earlier send had reached the server");
                    store.run(move |s| s.outbox_done(id, Some(&sent))).await?;
                    done += 1;
                    continue;
                }
            }
        }
        store
            .run(move |s| s.outbox_begin_attempt(id, now_ms()))
            .await?;
        let result = match &item.op {
            OutboxOp::MarkRead { server_id } => match api.mark_read(*server_id).await {
                // Gone or not ours any more: nothing left to do.
                Err(ApiError::Status(404)) => Ok(None),
                other => other.map(|()| None),
            },
            OutboxOp::MarkAllRead => api.mark_all_read().await.map(|()| None),
            OutboxOp::SendChat { receiver, content } => {
                api.send_message(*receiver, content).await.map(Some)
            }
        };
        match result {
            Ok(sent) => {
                store.run(move |s| s.outbox_done(id, sent.as_ref())).await?;
                done += 1;
            }
            Err(e) => {
                if !e.outcome_unknown() {
                    let message = e.to_string();
                    store.run(move |s| s.outbox_failed(id, &message)).await?;
                }
                return Err(e.into());
            }
        }
    }
    Ok(done)
}

/// A message we sent to `receiver` with this content, sent no earlier than
/// shortly before it was queued (the slack covers clock skew). The API has
/// no idempotency key; the one case this can misjudge is the same text sent
/// twice to the same person within the slack, the second with an unknown
/// outcome: it is then taken as delivered.
async fn find_sent(
    api: &Api,
    me: i64,
    receiver: i64,
    content: &str,
    queued_at_ms: i64,
) -> Result<Option<ChatMessage>, SyncError> {
    for page in 1..=3 {
        let (items, has_next) = api.messages_page(page).await?;
        let found = items.into_iter().find(|m| {
            m.sender_id == me
                && m.recipient_id == receiver
                && m.content == content
                && m.sent_at
                    .is_none_or(|t| t.timestamp_millis() >= queued_at_ms - SEND_MATCH_SLACK_MS)
        });
        if found.is_some() || !has_next {
            return Ok(found);
        }
    }
    Ok(None)
}
