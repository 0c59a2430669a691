//! Intents are written down before they are sent and take effect exactly
//! once: across server outages, 500s after saving, and a kill -9 of the
//! client.

mod common;

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use common::{fast_tuning, Harness, WAIT};
use serde_json::json;
use smarthunt_core::engine::{Engine, Ports};
use smarthunt_core::ports::NoNotifier;
use smarthunt_core::secret::{MemorySecretStore, SecretStore, Sensitive};
use smarthunt_desktop_session::disk::SmallDisk;
use smarthunt_devserver::{DevServerConfig, Variant, LANDLORD, TENANT};

async fn server_messages(h: &Harness, content: &str) -> usize {
    let page = h
        .rest_as(
            LANDLORD,
            reqwest::Method::GET,
            "/api/interactions/messages/?page=1",
            None,
        )
        .await;
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == content)
        .count()
}

async fn wait_outbox_empty(h: &Harness) {
    h.wait_store(
        "outbox drained",
        |s| s.outbox().map(|o| o.len()).unwrap_or(99),
        |n| *n == 0,
    )
    .await;
}

async fn with_db() -> (Harness, tempfile::TempDir) {
    let db = tempfile::tempdir().unwrap();
    let h = Harness::with_config(DevServerConfig {
        variant: Variant::Documented,
        db_path: Some(db.path().join("server.db")),
        ..Default::default()
    })
    .await;
    (h, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_written_while_the_server_is_down_is_delivered_once_when_it_returns() {
    let (mut h, _db) = with_db().await;
    h.login(TENANT, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    // Our own user id comes from the profile; wait until it is known.
    h.wait_status("profile", |s| {
        s.account.as_ref().and_then(|a| a.user_id) == Some(2)
    })
    .await;
    h.stop_server().await;
    h.wait_status("offline", |s| !s.connection.is_connected())
        .await;
    h.engine()
        .send_chat(1, "Can I move in early?".into())
        .await
        .unwrap();
    let pending = h
        .wait_store(
            "pending message shown",
            |s| s.thread(2, 1, None, 10).unwrap_or_default(),
            |t| !t.is_empty(),
        )
        .await;
    assert!(pending[0].pending);
    tokio::time::sleep(Duration::from_secs(1)).await;
    h.restart_server().await;
    h.wait_connected().await;
    wait_outbox_empty(&h).await;
    assert_eq!(server_messages(&h, "Can I move in early?").await, 1);
    let thread = h
        .wait_store(
            "delivered",
            |s| s.thread(2, 1, None, 10).unwrap_or_default(),
            |t| {
                t.iter()
                    .any(|m| !m.pending && m.content == "Can I move in early?")
            },
        )
        .await;
    assert_eq!(
        thread
            .iter()
            .filter(|m| m.content == "Can I move in early?")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_send_answered_500_after_saving_is_not_sent_twice() {
    let (mut h, _db) = with_db().await;
    h.login(TENANT, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    h.wait_status("profile", |s| {
        s.account.as_ref().and_then(|a| a.user_id) == Some(2)
    })
    .await;
    h.control("fail_message_post", json!({"count": 1})).await;
    h.engine()
        .send_chat(1, "Saved but answered 500".into())
        .await
        .unwrap();
    h.wait_store(
        "delivered",
        |s| s.thread(2, 1, None, 10).unwrap_or_default(),
        |t| {
            t.iter()
                .any(|m| !m.pending && m.content == "Saved but answered 500")
        },
    )
    .await;
    wait_outbox_empty(&h).await;
    assert_eq!(server_messages(&h, "Saved but answered 500").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_read_made_offline_reaches_the_server_after_reconnect() {
    let (mut h, _db) = with_db().await;
    h.login(TENANT, false).await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    let id = h.notify("tenant", "read me offline", "general").await;
    let local = h
        .wait_store(
            "stored",
            move |s| {
                s.notification_by_server_id(id)
                    .ok()
                    .flatten()
                    .map(|n| n.local_id)
            },
            |n| n.is_some(),
        )
        .await
        .unwrap();
    h.stop_server().await;
    h.wait_status("offline", |s| !s.connection.is_connected())
        .await;
    h.engine().mark_read(local).await.unwrap();
    h.wait_store(
        "read here at once",
        move |s| s.notification(local).ok().flatten().map(|n| n.is_read),
        |r| *r == Some(true),
    )
    .await;
    h.restart_server().await;
    wait_outbox_empty(&h).await;
    let n = h
        .rest_as(
            TENANT,
            reqwest::Method::GET,
            &format!("/api/interactions/notifications/{id}/"),
            None,
        )
        .await;
    assert_eq!(n["is_read"], true);
}

/// The child half of `outbox_survives_kill_9_of_the_client`: queues a chat
/// message with the server down, says so, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by outbox_survives_kill_9_of_the_client as a child process"]
async fn child_queues_a_message_and_waits_to_be_killed() {
    let Ok(dir) = std::env::var("OUTBOX_CHILD_DIR") else {
        return;
    };
    let server = std::env::var("OUTBOX_CHILD_SERVER").unwrap();
    let secret = std::env::var("OUTBOX_CHILD_SECRET").unwrap();
    let secrets = Arc::new(MemorySecretStore::default());
    secrets
        .set(&server, "tenant", &Sensitive::new(secret))
        .unwrap();
    let ports = Ports {
        notifier: Arc::new(NoNotifier),
        secrets,
    };
    let (engine, _task) = Engine::start(dir.into(), fast_tuning(), ports).unwrap();
    engine
        .send_chat(1, "Queued before a kill -9".into())
        .await
        .unwrap();
    loop {
        let n = engine.query(|s| Ok(s.outbox()?.len())).await.unwrap_or(0);
        if n == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("QUEUED");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_kill_9_of_the_client() {
    let (mut h, _db) = with_db().await;
    h.login(TENANT, false).await;
    // Learn our user id once with the server up, as a real session would.
    h.start_engine(fast_tuning());
    h.wait_status("profile", |s| {
        s.account.as_ref().and_then(|a| a.user_id) == Some(2)
    })
    .await;
    h.stop_engine().await;
    h.stop_server().await;
    let secret = h
        .secrets
        .get(&h.base_url, "tenant")
        .unwrap()
        .expect("secret stored at login");

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_queues_a_message_and_waits_to_be_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("OUTBOX_CHILD_DIR", h.dir.path())
        .env("OUTBOX_CHILD_SERVER", &h.base_url)
        .env("OUTBOX_CHILD_SECRET", secret.expose())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let queued = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("QUEUED"))
    });
    let queued = tokio::time::timeout(WAIT, queued).await.unwrap().unwrap();
    assert!(queued, "the child queued its message");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    h.restart_server().await;
    h.start_engine(fast_tuning());
    h.wait_connected().await;
    wait_outbox_empty(&h).await;
    assert_eq!(server_messages(&h, "Queued before a kill -9").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_send_loudly_still_pops_and_recovers() {
    use smarthunt_core::engine::EngineError;
    use smarthunt_core::ports::PopupKey;
    let mut h = Harness::new(Variant::Documented).await;
    let disk = SmallDisk::mount(h.dir.path(), "8m");
    h.login(TENANT, false).await;
    let engine = h.start_engine(fast_tuning());
    h.wait_connected().await;
    engine
        .send_chat(1, "Sent while there is room".into())
        .await
        .expect("kept in the outbox");
    wait_outbox_empty(&h).await;

    let filler = disk.fill();
    // SQLite reuses the room its files already have; sends soon need more.
    let mut failed = None;
    for i in 0..500 {
        match engine
            .send_chat(1, format!("{i} {}", "x".repeat(8000)))
            .await
        {
            Ok(()) => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("a send on a full disk fails");
    assert!(matches!(err, EngineError::Store(_)), "{err:?}");
    assert!(err.to_string().contains("full"), "says why: {err}");
    let status = engine.status().borrow().clone();
    assert!(
        status
            .storage_error
            .as_deref()
            .is_some_and(|e| e.contains("full")),
        "the status says storage is failing: {status:?}"
    );

    // Live notifications pop all the same, stored or not.
    let mut unsaved = false;
    for i in 0..50 {
        let title = format!("Leak in flat {i}");
        h.notify("tenant", &title, "maintenance").await;
        let popups = h
            .wait_popups("the notification pops", |p| {
                p.iter().any(|p| p.title == title)
            })
            .await;
        let popup = popups.iter().find(|p| p.title == title).unwrap();
        if matches!(popup.key, PopupKey::Unsaved(_)) {
            unsaved = true;
            let status = engine.status().borrow().clone();
            assert!(status.storage_error.is_some(), "{status:?}");
            break;
        }
    }
    assert!(
        unsaved,
        "a notification the store could not keep still popped"
    );

    // Room again: the store works, the status says so, a send goes out.
    std::fs::remove_file(&filler).unwrap();
    h.notify("tenant", "Leak fixed", "maintenance").await;
    let popups = h
        .wait_popups("stored and popped", |p| {
            p.iter().any(|p| p.title == "Leak fixed")
        })
        .await;
    let fixed = popups.iter().find(|p| p.title == "Leak fixed").unwrap();
    assert!(matches!(fixed.key, PopupKey::Notification(_)), "{fixed:?}");
    h.wait_status("storage works again", |s| s.storage_error.is_none())
        .await;
    engine
        .send_chat(1, "Sent after the disk was freed".into())
        .await
        .expect("kept again");
    wait_outbox_empty(&h).await;
    assert_eq!(
        server_messages(&h, "Sent after the disk was freed").await,
        1
    );
    h.stop_engine().await;
    drop(disk);
}
