//! The registry of open WebSockets: who is connected, and the outbound queue
//! of each socket. Pushing never blocks (unbounded queues); the socket tasks
//! in `ws.rs` drain them. The legacy 1011 rule lives here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, Notify};

use crate::db::Notification;
use crate::{wire, Variant};

/// Something for one socket to do.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Send this text frame.
    Text(Utf8Bytes),
    /// Send a close frame with this code and reason, then drop the connection.
    Close(u16, String),
}

struct Conn {
    user_id: i64,
    tx: mpsc::UnboundedSender<Outbound>,
}

struct Inner {
    variant: Variant,
    conns: Mutex<HashMap<u64, Conn>>,
    next_id: AtomicU64,
    changed: Notify,
}

/// Shared handle to the socket registry.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Keeps a socket registered; unregisters on drop.
pub struct Registration {
    hub: Hub,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.conns().remove(&self.id);
        self.hub.inner.changed.notify_waiters();
    }
}

impl Hub {
    /// An empty registry for a server of this variant.
    pub fn new(variant: Variant) -> Self {
        Self {
            inner: Arc::new(Inner {
                variant,
                conns: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                changed: Notify::new(),
            }),
        }
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Conn>> {
        // The map stays consistent even if a holder panicked (single inserts/removes).
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a socket of `user_id`; frames pushed from now on queue up for it.
    pub fn register(&self, user_id: i64) -> (Registration, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.conns().insert(id, Conn { user_id, tx });
        (
            Registration {
                hub: self.clone(),
                id,
            },
            rx,
        )
    }

    /// Number of open sockets.
    pub fn open_count(&self) -> usize {
        self.conns().len()
    }

    /// Queues `out` for every socket of `user_id`; returns how many got it.
    pub fn send_to_user(&self, user_id: i64, out: &Outbound) -> usize {
        let conns = self.conns();
        conns
            .values()
            .filter(|c| c.user_id == user_id)
            .filter(|c| c.tx.send(out.clone()).is_ok())
            .count()
    }

    /// Queues `out` for every socket; returns how many got it.
    pub fn send_to_all(&self, out: &Outbound) -> usize {
        let conns = self.conns();
        conns
            .values()
            .filter(|c| c.tx.send(out.clone()).is_ok())
            .count()
    }

    /// Pushes a stored notification the way the variant does: `notification`
    /// + `unread_count` (documented) or a bare `notify` (legacy).
    pub fn push_notification(&self, n: &Notification, unread: i64) {
        match self.inner.variant {
            Variant::Documented => {
                let frame = Outbound::Text(wire::notification_frame("notification", n).into());
                if self.send_to_user(n.user_id, &frame) > 0 {
                    let count = Outbound::Text(wire::unread_count(unread).into());
                    self.send_to_user(n.user_id, &count);
                }
            }
            Variant::Legacy => {
                let frame = Outbound::Text(wire::notification_frame("notify", n).into());
                self.send_to_user(n.user_id, &frame);
            }
        }
    }

    /// Pushes an event frame of type `frame_type`; a legacy server closes the
    /// socket with 1011 instead when it has no handler for that type.
    pub fn push_event(&self, user_id: i64, frame_type: &str, text: String) -> usize {
        if self.inner.variant == Variant::Legacy && wire::LEGACY_FATAL_TYPES.contains(&frame_type) {
            self.send_to_user(user_id, &Outbound::Close(1011, String::new()))
        } else {
            self.send_to_user(user_id, &Outbound::Text(text.into()))
        }
    }

    /// Waits (at most `limit`) until no socket is registered.
    pub async fn wait_empty(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.inner.changed.notified();
            if self.open_count() == 0 {
                return;
            }
            let step = tokio::time::Instant::now() + Duration::from_millis(50);
            if tokio::time::timeout_at(step.min(deadline), notified)
                .await
                .is_err()
                && tokio::time::Instant::now() >= deadline
            {
                return;
            }
        }
    }
}
