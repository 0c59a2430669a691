//! WebSocket tests over real sockets: both dialects, handshake failures and
//! the socket-level control knobs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use smarthunt_devserver::{DevServer, DevServerConfig, Variant, LANDLORD, TENANT};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn bad_tokens_get_403() {
    let server = start(Variant::Documented).await;
    for token in ["", "garbage", "a.b.c"] {
        let err = try_connect(&server, token).await.expect_err("refused");
        assert_eq!(handshake_status(&err), Some(403));
    }
    // A refresh token is not an access token.
    let (_, refresh) = login(&server.base_url(), LANDLORD).await;
    let err = try_connect(&server, &refresh).await.expect_err("refused");
    assert_eq!(handshake_status(&err), Some(403));
    // Expired tokens look the same.
    let short = DevServer::start(DevServerConfig {
        access_ttl: Duration::from_secs(1),
        ..DevServerConfig::default()
    })
    .await
    .expect("start");
    let (access, _) = login(&short.base_url(), TENANT).await;
    drop(connect(&short, &access).await);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = try_connect(&short, &access).await.expect_err("expired");
    assert_eq!(handshake_status(&err), Some(403));

    let s = stats(&server).await;
    assert_eq!(s["handshakes_total"], 4);
    assert_eq!(s["handshakes_rejected"], 4);
    short.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn documented_dialect() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    server
        .notify("landlord", "old", "b", "general", json!({}))
        .await
        .unwrap();
    let (access, _) = login(&base, LANDLORD).await;
    let mut ws = connect(&server, &access).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connection_established");
    assert_eq!(hello["user_id"], 1);
    assert_eq!(hello["username"], "landlord");
    assert!(hello["timestamp"].is_string());
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 1})
    );

    send_json(&mut ws, json!({"type": "ping"})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong");
    assert!(pong["timestamp"].is_string());

    // Protocol ping frames are answered too.
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    assert!(matches!(next_msg(&mut ws).await, Message::Pong(p) if &p[..] == b"hi"));

    let id = control(
        &server,
        "notify",
        json!({"username": "landlord", "title": "Hello", "body": "World", "notification_type": "maintenance", "data": {"maintenance_id": 3, "property_id": 1, "status": "pending"}}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let n = next_json(&mut ws).await;
    assert_eq!(n["type"], "notification");
    assert_eq!(n["notification_id"], id);
    assert_eq!(n["title"], "Hello");
    assert_eq!(n["body"], "World");
    assert_eq!(n["notification_type"], "maintenance");
    assert_eq!(n["data"]["maintenance_id"], 3);
    assert!(n["timestamp"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 2})
    );

    send_json(&mut ws, json!({"type": "get_unread_count"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 2})
    );
    send_json(&mut ws, json!({"type": "mark_read", "notification_id": id})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "mark_read_response", "notification_id": id, "success": true})
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 1})
    );
    send_json(
        &mut ws,
        json!({"type": "mark_read", "notification_id": 999}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["success"], false);
    next_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "mark_all_read"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "mark_all_read_response", "marked_count": 1})
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 0})
    );

    ws.send(Message::Text("{junk".into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    send_json(&mut ws, json!({"type": "dance"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "error");

    // Several sockets of one user all get the push; the other user's do not.
    let mut ws2 = connect(&server, &access).await;
    next_json(&mut ws2).await;
    next_json(&mut ws2).await;
    let (tenant, _) = login(&base, TENANT).await;
    let mut tws = connect(&server, &tenant).await;
    next_json(&mut tws).await;
    next_json(&mut tws).await;
    server
        .notify("landlord", "both", "b", "general", json!({}))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["title"], "both");
    assert_eq!(next_json(&mut ws2).await["title"], "both");
    assert_quiet(&mut tws).await;

    // Arbitrary frames go out as they are.
    control(
        &server,
        "event",
        json!({"username": "tenant", "frame": {"type": "maintenance_update", "maintenance_id": 1}}),
    )
    .await;
    assert_eq!(next_json(&mut tws).await["type"], "maintenance_update");

    let s = stats(&server).await;
    assert_eq!(s["connections_open"], 3);
    assert_eq!(s["ws_client_frames"], 7);
    server.shutdown().await;
}

#[tokio::test]
async fn legacy_dialect() {
    let server = start(Variant::Legacy).await;
    let base = server.base_url();
    let (landlord, _) = login(&base, LANDLORD).await;
    let mut ws = connect(&server, &landlord).await;
    assert_quiet(&mut ws).await;

    // Client text frames are ignored; protocol pings are answered.
    send_json(&mut ws, json!({"type": "ping"})).await;
    send_json(&mut ws, json!({"type": "mark_all_read"})).await;
    assert_quiet(&mut ws).await;
    ws.send(Message::Ping(b"x".to_vec().into())).await.unwrap();
    assert!(matches!(next_msg(&mut ws).await, Message::Pong(_)));

    let id = server
        .notify(
            "landlord",
            "Old style",
            "b",
            "review",
            json!({"review_id": 1, "rating": 4}),
        )
        .await
        .unwrap();
    let n = next_json(&mut ws).await;
    assert_eq!(n["type"], "notify");
    assert_eq!(n["notification_id"], id);
    assert_eq!(n["notification_type"], "review");
    assert_quiet(&mut ws).await;

    // A message: the notify arrives, then the unhandled chat_message kills the socket.
    control(
        &server,
        "message",
        json!({"from": "tenant", "to": "landlord", "content": "hi"}),
    )
    .await;
    let n = next_json(&mut ws).await;
    assert_eq!(n["type"], "notify");
    assert_eq!(n["notification_type"], "message");
    assert_eq!(expect_close(&mut ws).await, 1011);

    // Same for a control event of an unhandled type, but not for other types.
    let mut ws = connect(&server, &landlord).await;
    control(
        &server,
        "event",
        json!({"username": "landlord", "frame": {"type": "whatever", "x": 1}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "whatever");
    control(
        &server,
        "event",
        json!({"username": "landlord", "frame": {"type": "booking_update"}}),
    )
    .await;
    assert_eq!(expect_close(&mut ws).await, 1011);

    // The notification is stored all the same.
    let (_, list) = get(&base, "/api/interactions/notifications/", &landlord).await;
    assert_eq!(list["count"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn control_close_and_reject() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, _) = login(&base, TENANT).await;
    let mut a = connect(&server, &access).await;
    let mut b = connect(&server, &access).await;
    let v = control(&server, "close", json!({"code": 4001, "reason": "bye"})).await;
    assert_eq!(v["sockets"], 2);
    assert_eq!(expect_close(&mut a).await, 4001);
    assert_eq!(expect_close(&mut b).await, 4001);

    control(&server, "reject_handshakes", json!({"status": 503})).await;
    let err = try_connect(&server, &access).await.expect_err("rejected");
    assert_eq!(handshake_status(&err), Some(503));
    control(&server, "reject_handshakes", json!({"status": null})).await;
    let mut c = connect(&server, &access).await;
    assert_eq!(next_json(&mut c).await["type"], "connection_established");

    // Raw text, including a big one, goes out verbatim.
    control(
        &server,
        "raw",
        json!({"username": "tenant", "text": "not json {"}),
    )
    .await;
    next_json(&mut c).await; // unread_count greeting
    assert!(matches!(next_msg(&mut c).await, Message::Text(t) if t.as_str() == "not json {"));
    let big = "x".repeat(2 << 20);
    control(&server, "raw", json!({"username": "tenant", "text": big})).await;
    assert!(matches!(next_msg(&mut c).await, Message::Text(t) if t.len() == 2 << 20));
    server.shutdown().await;
}

#[tokio::test]
async fn stall_withholds_pongs_and_frames() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, _) = login(&base, LANDLORD).await;
    let mut ws = connect(&server, &access).await;
    next_json(&mut ws).await;
    next_json(&mut ws).await;

    control(&server, "stall", json!({"stalled": true})).await;
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    server
        .notify("landlord", "lost", "b", "general", json!({}))
        .await
        .unwrap();
    assert_quiet(&mut ws).await;
    // Handshakes still succeed, but the new socket is stalled too.
    let mut late = connect(&server, &access).await;
    assert_quiet(&mut late).await;
    // REST keeps working.
    let (status, list) = get(&base, "/api/interactions/notifications/", &access).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(list["count"], 1);

    control(&server, "stall", json!({"stalled": false})).await;
    assert!(matches!(next_msg(&mut ws).await, Message::Pong(_)));
    assert_eq!(next_json(&mut late).await["type"], "connection_established");
    server
        .notify("landlord", "after", "b", "general", json!({}))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["title"], "after");
    server.shutdown().await;
}

#[tokio::test]
async fn origin_check() {
    let server = DevServer::start(DevServerConfig {
        require_origin: true,
        ..DevServerConfig::default()
    })
    .await
    .expect("start");
    let (access, _) = login(&server.base_url(), TENANT).await;
    let err = try_connect(&server, &access).await.expect_err("no origin");
    assert_eq!(handshake_status(&err), Some(403));
    let err = connect_with_origin(&server, &access, "http://evil.example")
        .await
        .expect_err("foreign origin");
    assert_eq!(handshake_status(&err), Some(403));
    let port = server.addr().port();
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        connect_with_origin(&server, &access, &origin)
            .await
            .expect("own origin accepted");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drops_sockets_and_frees_port() {
    let server = start(Variant::Documented).await;
    let addr = server.addr();
    let (access, _) = login(&server.base_url(), TENANT).await;
    let mut ws = connect(&server, &access).await;
    next_json(&mut ws).await;
    next_json(&mut ws).await;
    server.shutdown().await;
    match tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("socket noticed")
    {
        None | Some(Err(_)) => {}
        Some(Ok(m)) => panic!("expected a dropped connection, got {m:?}"),
    }
    let again = DevServer::start(DevServerConfig {
        addr,
        ..DevServerConfig::default()
    })
    .await
    .expect("same port again");
    again.shutdown().await;
}

#[tokio::test]
async fn flood_of_100k_is_fast_and_complete() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, _) = login(&base, TENANT).await;
    let mut ws = connect(&server, &access).await;
    next_json(&mut ws).await;
    next_json(&mut ws).await;
    let started = Instant::now();
    let v = control(
        &server,
        "flood",
        json!({"username": "tenant", "count": 100_000}),
    )
    .await;
    assert_eq!(v, json!({"first_id": 1, "last_id": 100_000}));
    let mut notifications = 0u32;
    let mut last = None;
    while notifications < 100_000 {
        let Message::Text(t) = next_msg(&mut ws).await else {
            continue;
        };
        let n: serde_json::Value = serde_json::from_str(&t).unwrap();
        if n["type"] == "unread_count" {
            // Each notification's count, after it (the tenant had none).
            assert_eq!(n["count"], notifications, "{t}");
            continue;
        }
        notifications += 1;
        // In order, one by one, each id with its number (the flood is
        // stored a chunk per statement).
        assert_eq!(n["notification_id"], notifications, "{t}");
        assert_eq!(n["data"]["flood_index"], notifications, "{t}");
        last = Some(n);
    }
    let elapsed = started.elapsed();
    let mut last = last.expect("frames");
    assert!(last["timestamp"].is_string(), "{last}");
    last["timestamp"] = json!("-");
    assert_eq!(
        last,
        json!({
            "type": "notification",
            "title": "Notification 100000 of 100000",
            "body": "Flood notification number 100000.",
            "notification_type": "general",
            "data": {"flood_index": 100_000, "flood_count": 100_000},
            "notification_id": 100_000,
            "timestamp": "-",
        })
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 100_000})
    );
    assert!(elapsed < Duration::from_secs(60), "flood took {elapsed:?}");
    eprintln!("flood of 100k stored and delivered in {elapsed:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn scenario_mode_emits_events() {
    let server = DevServer::start(DevServerConfig {
        scenario_interval: Some(Duration::from_millis(20)),
        ..DevServerConfig::default()
    })
    .await
    .expect("start");
    let base = server.base_url();
    let (landlord, _) = login(&base, LANDLORD).await;
    let (tenant, _) = login(&base, TENANT).await;
    let mut lws = connect(&server, &landlord).await;
    let mut tws = connect(&server, &tenant).await;
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && seen.len() < 4 {
        tokio::select! {
            v = next_json(&mut lws) => { seen.insert(v["type"].as_str().unwrap_or("?").to_owned()); }
            v = next_json(&mut tws) => { seen.insert(v["type"].as_str().unwrap_or("?").to_owned()); }
        }
    }
    assert!(seen.contains("notification"), "saw {seen:?}");
    let (_, l) = get(&base, "/api/interactions/notifications/stats/", &landlord).await;
    let (_, t) = get(&base, "/api/interactions/notifications/stats/", &tenant).await;
    assert!(l["total"].as_i64().unwrap() + t["total"].as_i64().unwrap() > 0);
    server.shutdown().await;
}
