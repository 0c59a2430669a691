//! The engine against a real dev server over real sockets, in both server
//! variants: what a user would notice (popups, the unread count, the list,
//! the connection state) when the server behaves and when it does not.

mod common;

use std::time::Duration;

use common::{fast_tuning, is_signed_out, Harness};
use serde_json::json;
use smarthunt_core::connection::{ConnectionState, ServerVariant};
use smarthunt_core::engine::{EngineError, Tuning};
use smarthunt_core::policy::{PauseFor, PolicyChange};
use smarthunt_core::ports::{Notifier, Popup, PopupAction, PopupKey};
use smarthunt_core::protocol::NotificationKind;
use smarthunt_core::store::ListQuery;
use smarthunt_devserver::{Variant, LANDLORD, TENANT};

fn all() -> ListQuery {
    ListQuery {
        kind: None,
        unread_only: false,
        before: None,
        limit: 100_000,
    }
}

fn titles(s: &smarthunt_core::store::Store) -> Vec<String> {
    s.list_notifications(&all())
        .map(|v| v.into_iter().map(|n| n.title).collect())
        .unwrap_or_default()
}

async fn signed_in(variant: Variant, user: (&str, &str)) -> Harness {
    let mut h = Harness::new(variant).await;
    h.login(user, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_after_signing_out_answers_once_the_signed_out_state_is_published() {
    // As the window's Sign out does: log out, reload, then read the status.
    // Read right after the answer, it must already say so (a status read
    // that raced the change kept the window on "Connected").
    for _ in 0..5 {
        let mut h = signed_in(Variant::Documented, LANDLORD).await;
        smarthunt_core::account::logout(h.dir.path(), h.secrets.clone())
            .await
            .expect("logout succeeds");
        h.engine().reload().await.expect("reload answers");
        assert_eq!(
            h.engine().status().borrow().connection,
            ConnectionState::NotSignedIn
        );
        h.stop_engine().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_server_notification_pops_up_is_stored_and_counted() {
    let h = signed_in(Variant::Documented, LANDLORD).await;
    h.wait_status("documented variant", |s| {
        s.connection
            == ConnectionState::Connected {
                variant: ServerVariant::Documented,
            }
    })
    .await;
    let before = h.engine().status().borrow().unread;
    h.notify("landlord", "Pipe burst in flat 2", "maintenance")
        .await;
    let popups = h
        .wait_popups("the maintenance popup", |p| {
            p.iter().any(|p| p.title == "Pipe burst in flat 2")
        })
        .await;
    let popup = popups
        .iter()
        .find(|p| p.title == "Pipe burst in flat 2")
        .unwrap();
    assert!(matches!(popup.key, PopupKey::Notification(_)));
    assert!(popup.actions.contains(&PopupAction::MarkRead));
    h.wait_status("unread count +1", |s| s.unread == before + 1)
        .await;
    let popped = |s: &smarthunt_core::store::Store| {
        let list = s.list_notifications(&all()).unwrap();
        list.first().map(|n| (n.title.clone(), n.popped))
    };
    h.wait_store("stored and recorded as shown", popped, |n| {
        n == &Some(("Pipe burst in flat 2".to_owned(), true))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_server_is_detected_and_notify_frames_work() {
    let h = signed_in(Variant::Legacy, TENANT).await;
    h.wait_status("legacy variant", |s| {
        s.connection
            == ConnectionState::Connected {
                variant: ServerVariant::Legacy,
            }
    })
    .await;
    h.notify("tenant", "Your booking was approved", "booking")
        .await;
    h.wait_popups("the booking popup", |p| {
        p.iter().any(|p| p.title == "Your booking was approved")
    })
    .await;
    // The legacy consumer sends no unread_count: the count comes from REST.
    h.wait_status("unread from stats", |s| s.unread >= 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_frame_type_is_handled_without_dropping_the_connection() {
    let h = signed_in(Variant::Documented, TENANT).await;
    // After the catch-up that follows connecting, the engine asks the server
    // for its unread count over the socket. Wait for that question: its
    // answer (the server's real count) must not land after the count we
    // inject below and replace it.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while h.server_stats().await["ws_client_frames"].as_u64() < Some(1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine never asked for the unread count"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for frame in [
        json!({"type":"booking_update","booking_id":1,"action":"approved","status":"approved","property_id":1,"property_title":"Loft","tenant_id":2,"landlord_id":1,"timestamp":"2026-01-01T00:00:00Z"}),
        json!({"type":"chat_message","message_id":900,"sender_id":1,"sender_name":"Lana Landlord","recipient_id":2,"content":"Keys are under the mat","timestamp":"2026-01-01T00:00:00Z","property_id":1}),
        json!({"type":"unread_count","count":"7"}),
        json!({"type":"pong","timestamp":"now"}),
        json!({"type":"mark_read_response","notification_id":1,"success":true}),
        json!({"type":"mark_all_read_response","marked_count":0}),
        json!({"type":"error","message":"mark_all_read failed"}),
        json!({"type":"maintenance_update","maintenance_id":3}),
        json!({"type":"chat.message","message":"x","sender_id":5,"receiver_id":6}),
        json!({"type":"notify","title":"From an old consumer","body":"b","notification_type":"general","notification_id":null,"timestamp":"{\"timestamp\": \"now\"}"}),
    ] {
        h.control("event", json!({"username":"tenant","frame":frame}))
            .await;
    }
    h.wait_status("unread_count frame applied", |s| s.unread == 7)
        .await;
    h.wait_popups("the notify frame", |p| {
        p.iter().any(|p| p.title == "From an old consumer")
    })
    .await;
    // The chat frame between the tenant and the landlord is kept, with the name.
    let convs = h
        .wait_store(
            "chat stored",
            |s| s.conversations(2).unwrap_or_default(),
            |c| !c.is_empty(),
        )
        .await;
    assert_eq!(convs[0].other_id, 1);
    assert_eq!(convs[0].other_name.as_deref(), Some("Lana Landlord"));
    // A chat frame between two other users is never shown.
    h.control("event", json!({"username":"tenant","frame":{"type":"chat_message","message_id":901,"sender_id":5,"sender_name":"Eve","recipient_id":6,"content":"not for you","timestamp":"2026-01-01T00:00:00Z"}})).await;
    h.notify("tenant", "after the junk", "general").await;
    h.wait_popups("still connected", |p| {
        p.iter().any(|p| p.title == "after the junk")
    })
    .await;
    let convs = h.engine().query(|s| s.conversations(2)).await.unwrap();
    assert!(convs.iter().all(|c| c.other_id != 5 && c.other_id != 6));
    assert!(h.engine().status().borrow().connection.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_skipped_and_oversized_frames_reconnect() {
    let h = signed_in(Variant::Documented, TENANT).await;
    for junk in [
        "{",
        "[]",
        "null",
        "{\"type\":42}",
        "{\"no\":\"type\"}",
        "\u{0}\u{1}",
    ] {
        h.control("raw", json!({"username":"tenant","text":junk}))
            .await;
    }
    h.notify("tenant", "after junk", "general").await;
    h.wait_popups("the notification after junk", |p| {
        p.iter().any(|p| p.title == "after junk")
    })
    .await;
    let before = h.server_stats().await["handshakes_total"].as_u64().unwrap();
    let big = "x".repeat(2 * 1024 * 1024);
    h.control("raw", json!({"username":"tenant","text":big}))
        .await;
    // The socket is closed and opened again by itself.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while h.server_stats().await["handshakes_total"].as_u64().unwrap() <= before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reconnect after an oversized frame"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.wait_connected().await;
    h.notify("tenant", "after the big frame", "general").await;
    h.wait_popups("the notification after reconnect", |p| {
        p.iter().any(|p| p.title == "after the big frame")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_1011_close_reconnects_and_catches_up() {
    let h = signed_in(Variant::Legacy, LANDLORD).await;
    // The legacy consumer dies with 1011 on a chat_message event.
    h.control(
        "message",
        json!({"from":"tenant","to":"landlord","content":"Is the flat free in May?"}),
    )
    .await;
    h.notify("landlord", "Sent right after the 1011", "property")
        .await;
    h.wait_popups("the notification after the 1011", |p| {
        p.iter().any(|p| p.title == "Sent right after the 1011")
    })
    .await;
    h.wait_connected().await;
    let t = h.engine().query(|s| Ok(titles(s))).await.unwrap();
    assert_eq!(
        t.iter()
            .filter(|t| *t == "Sent right after the 1011")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_server_restart_without_losing_or_duplicating_notifications() {
    let db = tempfile::tempdir().unwrap();
    let mut h = Harness::with_config(smarthunt_devserver::DevServerConfig {
        db_path: Some(db.path().join("server.db")),
        ..Default::default()
    })
    .await;
    h.login(TENANT, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    h.notify("tenant", "before the outage", "general").await;
    h.wait_popups("first", |p| {
        p.iter().any(|p| p.title == "before the outage")
    })
    .await;

    h.stop_server().await;
    h.wait_status("offline", |s| {
        matches!(s.connection, ConnectionState::Reconnecting { .. })
    })
    .await;
    h.restart_server().await;
    // Created while we were away (the server is up, we may not be yet).
    for i in 0..25 {
        h.notify("tenant", &format!("missed {i}"), "message").await;
    }
    h.wait_connected().await;
    let t = h
        .wait_store("all 25 caught up", titles, |t| {
            (0..25).all(|i| t.contains(&format!("missed {i}")))
        })
        .await;
    for i in 0..25 {
        assert_eq!(
            t.iter().filter(|x| **x == format!("missed {i}")).count(),
            1,
            "missed {i} stored once"
        );
    }
    assert_eq!(t.iter().filter(|x| *x == "before the outage").count(), 1);
    // 25 at once is a summary, not 25 popups.
    let popups = h.notifier.popups();
    let individual = popups
        .iter()
        .filter(|p| p.title.starts_with("missed"))
        .count();
    assert!(
        individual <= 3,
        "{individual} individual popups for a catch-up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_403_refreshes_once_then_signs_out_without_hammering() {
    let h = signed_in(Variant::Documented, TENANT).await;
    // The server now refuses every handshake and every refresh.
    h.control("reject_handshakes", json!({"status":403})).await;
    h.control("fail_refresh", json!({"status":401})).await;
    h.control("close", json!({"code":1011})).await;
    h.wait_status("signed out", is_signed_out).await;
    let stats = h.server_stats().await;
    let handshakes = stats["handshakes_total"].as_u64().unwrap();
    // The network coming back would make a connected engine try at once.
    // Commands are answered in order: once the next one is refused for
    // want of a sign-in, the nudge has met the engine with no account
    // running, which keeps no socket, timer or task that could try.
    h.engine().nudge();
    assert!(
        matches!(h.engine().refresh().await, Err(EngineError::NotSignedIn)),
        "signed out, the engine runs no account"
    );
    let later = h.server_stats().await;
    assert_eq!(
        later["handshakes_total"].as_u64().unwrap(),
        handshakes,
        "no attempts after signing out"
    );
    assert!(later["refresh_requests"].as_u64().unwrap() <= 2);
    // The user is told.
    h.wait_popups("signed-out popup", |p| {
        p.iter().any(|p| p.key == PopupKey::Account)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_access_token_is_refreshed_and_the_connection_resumes() {
    let h = signed_in(Variant::Documented, TENANT).await;
    h.control("revoke_access_tokens", json!({})).await;
    h.control("close", json!({"code":1011})).await;
    h.wait_status("reconnecting", |s| !s.connection.is_connected())
        .await;
    h.wait_connected().await;
    h.notify("tenant", "after refresh", "general").await;
    h.wait_popups("popup after refresh", |p| {
        p.iter().any(|p| p.title == "after refresh")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_failing_with_5xx_does_not_sign_the_user_out() {
    let h = signed_in(Variant::Documented, TENANT).await;
    // Refresh fails first: a REST call in flight after connecting must not
    // refresh the revoked token successfully in between.
    h.control("fail_refresh", json!({"status":503})).await;
    h.control("revoke_access_tokens", json!({})).await;
    h.control("close", json!({"code":1011})).await;
    // It keeps retrying (reconnecting), never signed out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        assert!(!is_signed_out(&h.engine().status().borrow()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.control("fail_refresh", json!({"status":null})).await;
    h.wait_connected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_signed_in_signs_in_again_when_the_refresh_token_is_refused() {
    let mut h = Harness::new(Variant::Documented).await;
    h.login(TENANT, true).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    // Refresh fails first: a REST call in flight after connecting must not
    // refresh the revoked token successfully in between.
    h.control("fail_refresh", json!({"status":401})).await;
    h.control("revoke_access_tokens", json!({})).await;
    h.control("close", json!({"code":1011})).await;
    h.wait_status("reconnecting", |s| !s.connection.is_connected())
        .await;
    h.wait_connected().await;
    assert!(!is_signed_out(&h.engine().status().borrow()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connection_is_detected_and_replaced() {
    let h = signed_in(Variant::Documented, TENANT).await;
    h.control("stall", json!({"stalled":true})).await;
    h.wait_status("dead socket noticed", |s| !s.connection.is_connected())
        .await;
    h.control("stall", json!({"stalled":false})).await;
    h.wait_connected().await;
    h.notify("tenant", "after the stall", "general").await;
    h.wait_popups("popup after the stall", |p| {
        p.iter().any(|p| p.title == "after the stall")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_10000_gives_bounded_popups_and_memory() {
    let h = signed_in(Variant::Documented, TENANT).await;
    let rss_before = rss_kib();
    let started = std::time::Instant::now();
    h.control(
        "flood",
        json!({"username":"tenant","count":10000,"notification_type":"booking"}),
    )
    .await;
    h.wait_store(
        "all 10,000 stored",
        |s| s.notification_count().unwrap_or(0),
        |n| *n >= 10_000,
    )
    .await;
    // Stored in batches, yet each once.
    let server_ids = h
        .engine()
        .query(|s| {
            let mut ids = Vec::new();
            let mut q = ListQuery {
                limit: 500,
                ..all()
            };
            loop {
                let page = s.list_notifications(&q)?;
                let Some(last) = page.last() else { break };
                q.before = Some(last.local_id);
                ids.extend(page.iter().filter_map(|n| n.server_id));
            }
            Ok(ids)
        })
        .await
        .unwrap();
    assert_eq!(server_ids.len(), 10_000, "each notification stored");
    let unique: std::collections::HashSet<i64> = server_ids.iter().copied().collect();
    assert_eq!(unique.len(), 10_000, "no notification stored twice");
    // The unread count frames were folded into the batches: the badge ends
    // where the server is.
    let on_server = server_unread(&h).await["unread"].as_u64().unwrap();
    assert!(on_server >= 10_000, "{on_server}");
    h.wait_status("the badge shows the server's count", |s| {
        s.unread == on_server
    })
    .await;
    let popups = h.notifier.popups();
    let individual = popups
        .iter()
        .filter(|p| matches!(p.key, PopupKey::Notification(_)))
        .count();
    assert!(individual <= 3, "{individual} individual popups in a flood");
    // The summary replaces itself, and at most every 2 s.
    let summaries = popups
        .iter()
        .filter(|p| p.key == PopupKey::Summary(NotificationKind::Booking))
        .count();
    assert!(summaries >= 1, "a summary is shown");
    let bound = 2 + started.elapsed().as_secs() as usize / 2;
    assert!(
        summaries <= bound,
        "{summaries} summary updates (bound {bound})"
    );
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < 200 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_made_elsewhere_reach_the_badge() {
    let h = signed_in(Variant::Legacy, TENANT).await;
    for i in 0..3 {
        h.notify("tenant", &format!("unread {i}"), "general").await;
    }
    h.wait_status("3 unread", |s| s.unread >= 3).await;
    h.control("read_elsewhere", json!({"username":"tenant"}))
        .await;
    // The window opening asks for a reconcile.
    h.engine().refresh().await.unwrap();
    h.wait_status("0 unread", |s| s.unread == 0).await;
    h.wait_store(
        "list shows read",
        |s| s.unread_count().unwrap_or(99),
        |n| *n == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_read_reaches_the_server_in_both_variants() {
    for variant in [Variant::Documented, Variant::Legacy] {
        let h = signed_in(variant, TENANT).await;
        for i in 0..4 {
            h.notify("tenant", &format!("n{i}"), "general").await;
        }
        h.wait_status("4 unread", |s| s.unread >= 4).await;
        h.engine().mark_all_read().await.unwrap();
        h.wait_status("badge 0", |s| s.unread == 0).await;
        let deadline = tokio::time::Instant::now() + common::WAIT;
        loop {
            let stats: serde_json::Value = server_unread(&h).await;
            if stats["unread"] == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{variant:?}: server still has unread"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_in_summarises_history_instead_of_popping_each() {
    let mut h = Harness::new(Variant::Documented).await;
    for i in 0..12 {
        h.notify("tenant", &format!("old {i}"), "message").await;
    }
    h.login(TENANT, false).await;
    h.start_engine(fast_tuning());
    let popups = h
        .wait_popups("one digest", |p| {
            p.iter().any(|p| p.key == PopupKey::Digest)
        })
        .await;
    assert!(popups.iter().all(|p| !p.title.starts_with("old")));
    let digest = popups.iter().find(|p| p.key == PopupKey::Digest).unwrap();
    assert!(digest.title.contains("12"), "{}", digest.title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_database_reset_does_not_silence_new_notifications() {
    let h = signed_in(Variant::Documented, TENANT).await;
    for i in 0..5 {
        h.notify("tenant", &format!("before reset {i}"), "general")
            .await;
    }
    h.wait_store("5 stored", titles, |t| t.len() >= 5).await;
    h.control("reset_database", json!({})).await;
    // Another kind, so the burst of five above does not fold it.
    h.notify("tenant", "after reset", "booking").await;
    h.wait_popups("popup after reset", |p| {
        p.iter().any(|p| p.title == "after reset")
    })
    .await;
    // And after a reconnect the catch-up does not lose it either.
    h.control("close", json!({"code":1011})).await;
    h.notify("tenant", "after reset, while reconnecting", "general")
        .await;
    h.wait_store("caught up after reset", titles, |t| {
        t.iter().any(|x| x == "after reset, while reconnecting")
    })
    .await;
}

async fn server_unread(h: &Harness) -> serde_json::Value {
    h.rest_as(
        TENANT,
        reqwest::Method::GET,
        "/api/interactions/notifications/stats/",
        None,
    )
    .await
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A keychain that answers long after the deadline, as one waiting on a
/// password prompt (not forever: the test runtime waits for it at the end).
struct HangingKeychain;

impl smarthunt_core::secret::SecretStore for HangingKeychain {
    fn get(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<smarthunt_core::secret::Sensitive>, smarthunt_core::secret::SecretStoreError>
    {
        std::thread::sleep(Duration::from_secs(12));
        Ok(None)
    }
    fn set(
        &self,
        _: &str,
        _: &str,
        _: &smarthunt_core::secret::Sensitive,
    ) -> Result<(), smarthunt_core::secret::SecretStoreError> {
        std::thread::sleep(Duration::from_secs(12));
        Ok(())
    }
    fn delete(&self, _: &str, _: &str) -> Result<(), smarthunt_core::secret::SecretStoreError> {
        std::thread::sleep(Duration::from_secs(12));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_that_never_answers_is_a_clear_error_not_a_hang() {
    let mut h = Harness::new(Variant::Documented).await;
    h.login(TENANT, false).await;
    let ports = smarthunt_core::engine::Ports {
        notifier: h.notifier.clone(),
        secrets: std::sync::Arc::new(HangingKeychain),
    };
    let (engine, task) =
        smarthunt_core::engine::Engine::start(h.dir.path().to_owned(), fast_tuning(), ports)
            .unwrap();
    h.engine = Some((engine, task));
    let status = h
        .wait_status("keychain unavailable", |s| {
            matches!(s.connection, ConnectionState::KeychainUnavailable { .. })
        })
        .await;
    let ConnectionState::KeychainUnavailable { message } = status.connection else {
        unreachable!()
    };
    assert!(message.contains("did not answer"), "{message}");
    h.wait_popups("the user is told", |p| {
        p.iter()
            .any(|p| p.key == PopupKey::Account && p.title.contains("keychain"))
    })
    .await;
}

/// The local id of the stored notification titled `title`.
async fn local_id_of(h: &Harness, title: &str) -> i64 {
    let title = title.to_owned();
    h.wait_store(
        "the notification is stored",
        move |s| {
            s.list_notifications(&all())
                .unwrap_or_default()
                .into_iter()
                .find(|n| n.title == title)
                .map(|n| n.local_id)
        },
        |id| id.is_some(),
    )
    .await
    .expect("waited until stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_is_withdrawn_once_its_notification_is_read_here_or_elsewhere() {
    let mut h = Harness::new(Variant::Documented).await;
    h.login(TENANT, false).await;
    // Reads elsewhere are looked for every 500 ms here (30 s in the app).
    h.start_engine(Tuning {
        reconcile_every: Duration::from_millis(500),
        ..fast_tuning()
    });
    h.wait_connected().await;
    h.notify("tenant", "Read here", "property").await;
    let elsewhere = h.notify("tenant", "Read on the phone", "property").await;
    h.wait_popups("both popups", |p| p.len() >= 2).await;
    let here = local_id_of(&h, "Read here").await;
    let there = local_id_of(&h, "Read on the phone").await;

    h.engine().mark_read(here).await.unwrap();
    h.wait_withdrawn("the popup read here goes", PopupKey::Notification(here))
        .await;
    assert!(
        h.notifier
            .on_screen()
            .contains(&PopupKey::Notification(there)),
        "the unread one stays"
    );

    h.control(
        "read_elsewhere",
        json!({"username": "tenant", "ids": [elsewhere]}),
    )
    .await;
    h.wait_withdrawn(
        "the popup read elsewhere goes",
        PopupKey::Notification(there),
    )
    .await;
    h.wait_status("the badge follows", |s| s.unread == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_is_recounted_as_its_items_are_read_and_closed_when_none_is_left() {
    let h = signed_in(Variant::Documented, TENANT).await;
    for i in 0..8 {
        h.notify("tenant", &format!("Viewing {i}"), "property")
            .await;
    }
    let summary = PopupKey::Summary(NotificationKind::Property);
    h.wait_popups("a summary", |p| p.iter().any(|p| p.key == summary))
        .await;
    h.wait_status("8 unread", |s| s.unread == 8).await;
    let shown = |h: &Harness| {
        h.notifier
            .popups()
            .iter()
            .rev()
            .find(|p| p.key == summary)
            .map(|p| p.title.clone())
    };
    let before = shown(&h).expect("a summary was shown");
    // The newest one was folded into the summary: reading it recounts.
    let newest = local_id_of(&h, "Viewing 7").await;
    h.engine().mark_read(newest).await.unwrap();
    h.wait_popups("the summary counts one fewer", |_| {
        shown(&h).is_some_and(|t| t != before)
    })
    .await;
    assert!(h.notifier.on_screen().contains(&summary));
    h.engine().mark_all_read().await.unwrap();
    h.wait_withdrawn("the summary goes with the last unread", summary)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popups_make_a_sound_per_type_only_when_the_user_wants_sounds() {
    let h = signed_in(Variant::Documented, TENANT).await;
    h.notify("tenant", "Quiet", "message").await;
    h.wait_popups("the first popup", |p| p.iter().any(|p| p.title == "Quiet"))
        .await;
    let change = PolicyChange {
        sound: Some(true),
        ..PolicyChange::default()
    };
    assert!(h.engine().change_settings(change).await.unwrap().sound);
    h.notify("tenant", "Loud", "message").await;
    h.notify("tenant", "Loud repair", "maintenance").await;
    h.notify("tenant", "Low news", "property").await;
    let popups = h.wait_popups("three more popups", |p| p.len() >= 4).await;
    let sound = |title: &str| {
        popups
            .iter()
            .find(|p| p.title == title)
            .map(|p| p.style.sound)
            .expect("popped")
    };
    assert_eq!(sound("Quiet"), None, "sounds off: none");
    assert_eq!(sound("Loud"), Some("message-new-instant"));
    assert_eq!(sound("Loud repair"), Some("dialog-warning"));
    assert_eq!(sound("Low news"), None, "low popups stay silent");
}

/// The landlord signed in and connected, the engine knowing the role (so
/// it may offer Approve).
async fn a_known_landlord() -> Harness {
    let mut h = Harness::new(Variant::Documented).await;
    h.login(LANDLORD, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    h.wait_status("the profile is known", |s| {
        s.account.as_ref().and_then(|a| a.role.as_deref()) == Some("landlord")
    })
    .await;
    h
}

/// The first booking popup among `popups`.
fn booking_popup(popups: &[Popup]) -> Option<&Popup> {
    popups
        .iter()
        .find(|p| p.style.category == "x-smarthunt.booking")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_landlord_is_offered_approve_and_only_a_message_offers_reply() {
    // Live or through a catch-up (a reconnect, or a catch-up still walking
    // the list when it arrives), the request comes with its booking.
    let h = a_known_landlord().await;
    h.control("booking_request", json!({"tenant": "tenant"}))
        .await;
    h.control(
        "message",
        json!({"from": "tenant", "to": "landlord", "content": "Is the flat free?"}),
    )
    .await;
    let popups = h
        .wait_popups("the request and the message", |p| {
            booking_popup(p).is_some() && p.iter().any(|p| p.style.category == "im.received")
        })
        .await;
    let request = booking_popup(&popups).unwrap();
    assert!(request.actions.contains(&PopupAction::Approve));
    assert!(request.booking_id.is_some());
    assert!(!request.actions.contains(&PopupAction::Reply));
    let message = popups
        .iter()
        .find(|p| p.style.category == "im.received")
        .unwrap();
    assert!(message.actions.contains(&PopupAction::Reply));
    assert!(message.reply_to.is_some(), "a reply goes to the sender");
    assert!(!message.actions.contains(&PopupAction::Approve));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_config_is_said_and_kept_and_signing_in_again_recovers() {
    let mut h = Harness::new(Variant::Documented).await;
    h.login(TENANT, false).await;
    let config = smarthunt_core::config::AppConfig::path(h.dir.path());
    std::fs::write(&config, b"{\"current\": {\"server\": ").unwrap();
    h.start_engine(fast_tuning());
    let status = h
        .wait_status("the config is unreadable", |s| {
            matches!(s.connection, ConnectionState::ConfigUnreadable { .. })
        })
        .await;
    let ConnectionState::ConfigUnreadable { message } = status.connection else {
        unreachable!()
    };
    assert!(
        message.contains("config.json") && message.contains("damaged"),
        "{message}"
    );
    h.wait_popups("the user is told", |p| {
        p.iter()
            .any(|p| p.key == PopupKey::Account && p.title.contains("cannot read its settings"))
    })
    .await;
    assert_eq!(
        std::fs::read(&config).unwrap(),
        b"{\"current\": {\"server\": ",
        "the file is kept as it was"
    );
    // Signing in again moves it aside and the running engine connects.
    h.login(TENANT, false).await;
    h.wait_connected().await;
    assert_eq!(
        std::fs::read(h.dir.path().join("config.json.corrupt")).unwrap(),
        b"{\"current\": {\"server\": ",
        "kept for inspection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_request_that_arrived_while_closed_still_offers_approve() {
    let mut h = a_known_landlord().await;
    h.stop_engine().await;
    // Closed: the request reaches only the server's list, which has no
    // `data` (so no booking id) for it.
    h.control("booking_request", json!({"tenant": "tenant"}))
        .await;
    let before = h.notifier.popups().len();
    h.start_engine(fast_tuning());
    let popups = h
        .wait_popups("the caught-up request pops", |p| {
            booking_popup(&p[before..]).is_some()
        })
        .await;
    let request = booking_popup(&popups[before..]).unwrap();
    assert!(
        request.actions.contains(&PopupAction::Approve),
        "{request:?}"
    );
    assert!(request.booking_id.is_some());
}

/// The tenant asks to book; its popup comes; its local id.
async fn a_booking_request_pops(h: &Harness) -> i64 {
    h.control("booking_request", json!({"tenant": "tenant"}))
        .await;
    let popups = h
        .wait_popups("the request", |p| booking_popup(p).is_some())
        .await;
    let PopupKey::Notification(local_id) = booking_popup(&popups).unwrap().key else {
        panic!("the request's popup is its own");
    };
    local_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_booking_offers_no_decision_and_a_second_approve_is_refused_here() {
    let h = a_known_landlord().await;
    let local_id = a_booking_request_pops(&h).await;
    let booking = h.engine().decide_booking(local_id, true).await.unwrap();
    // What the window and a reopened popup read: no longer pending.
    let status = h
        .wait_store(
            "the stored request says approved",
            move |s| s.notification(local_id).unwrap().unwrap().context().status,
            |s| s.as_deref() == Some("approved"),
        )
        .await;
    assert_eq!(status.as_deref(), Some("approved"));
    // Refused here, before any call: the server would have answered a
    // second decision with an HTTP error instead.
    let again = h.engine().decide_booking(local_id, false).await;
    assert!(
        matches!(again, Err(EngineError::NoBooking)),
        "booking {booking} decided twice: {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_decided_in_the_web_app_offers_no_decision_here() {
    let h = a_known_landlord().await;
    let local_id = a_booking_request_pops(&h).await;
    let booking = h
        .wait_store(
            "the request names its booking",
            move |s| {
                s.notification(local_id)
                    .unwrap()
                    .unwrap()
                    .context()
                    .booking_id
            },
            Option::is_some,
        )
        .await
        .unwrap();
    // The landlord declines it in the browser; the server says so over
    // the socket (`booking_update`).
    h.rest_as(
        LANDLORD,
        reqwest::Method::PATCH,
        &format!("/api/interactions/bookings/{booking}/approve/"),
        Some(json!({"status": "declined"})),
    )
    .await;
    h.wait_store(
        "the stored request says declined",
        move |s| s.notification(local_id).unwrap().unwrap().context().status,
        |s| s.as_deref() == Some("declined"),
    )
    .await;
    let here = h.engine().decide_booking(local_id, true).await;
    assert!(matches!(here, Err(EngineError::NoBooking)), "{here:?}");
    // Its popup asked a question answered elsewhere: it is taken away.
    h.wait_withdrawn(
        "the answered request's popup",
        PopupKey::Notification(local_id),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_keeps_the_popup_that_says_the_booking_was_approved() {
    let h = signed_in(Variant::Documented, TENANT).await;
    let asked = h
        .control("booking_request", json!({"tenant": "tenant"}))
        .await;
    let booking = asked["booking_id"].as_i64().expect("a booking id");
    // The landlord approves in the browser: the tenant gets a notification,
    // then the socket's `booking_update`.
    h.rest_as(
        LANDLORD,
        reqwest::Method::PATCH,
        &format!("/api/interactions/bookings/{booking}/approve/"),
        Some(json!({"status": "approved"})),
    )
    .await;
    let popups = h
        .wait_popups("the tenant's news", |p| {
            p.iter().any(|p| p.title.starts_with("Booking approved"))
        })
        .await;
    let key = popups
        .iter()
        .find(|p| p.title.starts_with("Booking approved"))
        .unwrap()
        .key;
    // Frames are handled in order: once this one has popped, the update
    // before it has been too.
    h.notify("tenant", "After the update", "general").await;
    h.wait_popups("the next one", |p| {
        p.iter().any(|p| p.title == "After the update")
    })
    .await;
    assert!(
        h.notifier.on_screen().contains(&key),
        "news that asked nothing stays on screen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_at_once_send_one_decision() {
    let h = a_known_landlord().await;
    let local_id = a_booking_request_pops(&h).await;
    // Slow enough that the second click comes while the first is on its way.
    h.control("slow_bookings", json!({"ms": 1_500})).await;
    let (approve, decline) = tokio::join!(
        h.engine().decide_booking(local_id, true),
        h.engine().decide_booking(local_id, false)
    );
    let (sent, refused) = match (approve, decline) {
        (Ok(b), Err(e)) => ((b, "approved"), e),
        (Err(e), Ok(b)) => ((b, "declined"), e),
        other => panic!("one decision is sent, one refused: {other:?}"),
    };
    assert!(matches!(refused, EngineError::BeingDecided), "{refused:?}");
    // The tenant is told of the one decision the server carried out.
    let (_, status) = sent;
    let told = h
        .rest_as(
            TENANT,
            reqwest::Method::GET,
            "/api/interactions/notifications/",
            None,
        )
        .await;
    let titles: Vec<&str> = told["results"]
        .as_array()
        .expect("a page")
        .iter()
        .filter_map(|n| n["title"].as_str())
        .filter(|t| t.starts_with("Booking "))
        .collect();
    assert_eq!(titles, [format!("Booking {status}")], "{told}");
    // Once it is answered, a third is refused as decided, not as busy.
    let again = h.engine().decide_booking(local_id, true).await;
    assert!(matches!(again, Err(EngineError::NoBooking)), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_approve_holds_up_no_popup_no_ping_and_no_quit() {
    let mut h = a_known_landlord().await;
    let local_id = a_booking_request_pops(&h).await;
    // The server now takes a minute to decide a booking.
    h.control("slow_bookings", json!({"ms": 60_000})).await;
    let before = h.server_stats().await;
    let engine = h.engine().clone();
    let approve = tokio::spawn(async move { engine.decide_booking(local_id, true).await });
    let rest = before["rest_requests"].as_u64().unwrap();
    tokio::time::timeout(common::WAIT, async {
        while h.server_stats().await["rest_requests"].as_u64().unwrap() <= rest {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the approve reaches the server");

    // Live notifications pop while it waits.
    for i in 0..3 {
        h.notify("landlord", &format!("During the approve {i}"), "general")
            .await;
    }
    h.wait_popups("the live popups", |p| {
        (0..3).all(|i| {
            p.iter()
                .any(|p| p.title == format!("During the approve {i}"))
        })
    })
    .await;
    assert!(!approve.is_finished(), "the approve is still on the server");

    // The socket stays up through three heartbeat deadlines of a silent
    // server: only pongs to the engine's pings keep it alive.
    let mut status = h.engine().status();
    let deadline = tokio::time::Instant::now() + fast_tuning().heartbeat_timeout * 3;
    while let Ok(changed) = tokio::time::timeout_at(deadline, status.changed()).await {
        changed.expect("engine running");
        let s = status.borrow_and_update().clone();
        assert!(s.connection.is_connected(), "dropped: {:?}", s.connection);
    }
    let after = h.server_stats().await;
    assert_eq!(
        after["handshakes_total"], before["handshakes_total"],
        "no new handshake while the approve waited"
    );
    assert!(!approve.is_finished());

    // Quit does not wait for it (the server would answer in a minute).
    h.stop_engine().await;
    let outcome = tokio::time::timeout(common::WAIT, approve)
        .await
        .expect("the approve is answered once the engine stops")
        .unwrap();
    assert!(matches!(outcome, Err(EngineError::Stopped)), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_every_socket_after_5_s_still_pops_each_notification_in_time() {
    // Timings as shipped, but for the heartbeat (the server pings back).
    let tuning = Tuning {
        heartbeat_every: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_millis(1500),
        housekeeping_every: Duration::from_millis(200),
        ..Tuning::default()
    };
    let mut h = Harness::new(Variant::Documented).await;
    h.login(TENANT, false).await;
    h.start_engine(tuning);
    h.wait_connected().await;
    let start = tokio::time::Instant::now();
    let handshakes_before = h.server_stats().await["handshakes_total"].as_u64().unwrap();

    // Like channels_redis under redis-py 8: every socket closed with 1011
    // about 5 s after it opened; a notification a second meanwhile.
    let run = Duration::from_secs(30);
    let control = h.http.clone();
    let (base, token) = (h.base_url.clone(), h.control_token().to_owned());
    let closer = tokio::spawn(async move {
        let mut closes = 0;
        while start.elapsed() < run {
            tokio::time::sleep(Duration::from_secs(5)).await;
            control
                .post(format!("{base}/control/close"))
                .header(smarthunt_devserver::CONTROL_TOKEN_HEADER, &token)
                .json(&json!({"code": 1011}))
                .send()
                .await
                .expect("close");
            closes += 1;
        }
        closes
    });
    let mut created = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut n = 0;
    let mut next = start;
    while start.elapsed() < run || seen.len() < created.len() {
        if start.elapsed() < run && tokio::time::Instant::now() >= next {
            let title = format!("Flapping {n}");
            h.notify("tenant", &title, "general").await;
            created.push((title, tokio::time::Instant::now()));
            n += 1;
            next += Duration::from_secs(1);
        }
        for p in h.notifier.popups() {
            seen.entry(p.title)
                .or_insert_with(tokio::time::Instant::now);
        }
        seen.retain(|t, _| created.iter().any(|(c, _)| c == t));
        assert!(
            start.elapsed() < run + common::WAIT,
            "not all popped: {} of {}",
            seen.len(),
            created.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let closes = closer.await.unwrap();
    assert!(closes >= 5, "the server dropped the socket {closes} times");
    for (title, at) in &created {
        let late = seen[title].duration_since(*at);
        assert!(
            late <= Duration::from_secs(10),
            "{title} popped {late:?} after it was created"
        );
    }
    // Every drop is followed by a new socket, and no more than that.
    let handshakes = tokio::time::timeout(common::WAIT, async {
        loop {
            let total = h.server_stats().await["handshakes_total"].as_u64().unwrap();
            if total - handshakes_before >= closes {
                return total - handshakes_before;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a new socket after every drop");
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        handshakes as f64 <= elapsed / 2.0 + 1.0,
        "{handshakes} handshakes in {elapsed:.0} s"
    );
    let popups = h.notifier.popups();
    for (title, _) in &created {
        assert_eq!(
            popups.iter().filter(|p| &p.title == title).count(),
            1,
            "{title} popped once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_set_in_the_tray_survives_a_settings_change_from_the_window() {
    let h = signed_in(Variant::Documented, TENANT).await;
    let until = h
        .engine()
        .pause(PauseFor::Minutes { minutes: 60 })
        .await
        .unwrap()
        .expect("paused");
    // The window, showing settings read before the pause, ticks a box.
    let change: PolicyChange = serde_json::from_value(json!({"sound": true})).unwrap();
    let now = h.engine().change_settings(change).await.unwrap();
    assert!(now.sound);
    assert_eq!(now.paused_until_ms, Some(until), "the pause is kept");
    assert_eq!(h.engine().status().borrow().paused_until_ms, Some(until));
    assert_eq!(
        h.engine().pause(PauseFor::Resume).await.unwrap(),
        None,
        "resumed"
    );
    let s = h.engine().policy_settings().await.unwrap();
    assert_eq!((s.paused_until_ms, s.sound), (None, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_that_ends_is_published_then_what_it_held_is_summed_up() {
    let h = signed_in(Variant::Documented, TENANT).await;
    let now = chrono::Utc::now().timestamp_millis();
    let until = h
        .engine()
        .pause(PauseFor::Until {
            until_ms: now + 2_000,
        })
        .await
        .unwrap()
        .expect("paused");
    h.notify("tenant", "Held one", "general").await;
    h.notify("tenant", "Held two", "general").await;
    local_id_of(&h, "Held two").await;
    assert!(
        h.engine().status().borrow().paused_until_ms == Some(until),
        "still paused"
    );
    let resumed = h
        .wait_status("the pause is over", |s| s.paused_until_ms.is_none())
        .await;
    let at = chrono::Utc::now().timestamp_millis();
    assert!(at >= until, "published {} ms before the end", until - at);
    assert!(resumed.connection.is_connected());
    let popups = h
        .wait_popups("the summary of what was held", |p| {
            p.iter().any(|p| p.key == PopupKey::Digest)
        })
        .await;
    assert!(
        !popups.iter().any(|p| p.title.starts_with("Held")),
        "nothing popped on its own while paused: {popups:?}"
    );
    let digest = popups.iter().find(|p| p.key == PopupKey::Digest).unwrap();
    assert!(digest.title.contains('2'), "{}", digest.title);
}
