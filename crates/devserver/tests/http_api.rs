//! REST, control and persistence tests over real sockets.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use smarthunt_devserver::{
    DevServer, DevServerConfig, Variant, CONTROL_TOKEN_HEADER, LANDLORD, TENANT,
};

#[tokio::test]
async fn login_and_refresh() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, refresh) = login(&base, LANDLORD).await;
    let claims = jwt_claims(&access);
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["user_id"], "1", "documented: user_id is a string");
    assert!(claims["exp"].as_i64().is_some() && claims["jti"].is_string());
    assert_eq!(jwt_claims(&refresh)["token_type"], "refresh");

    // Bad credentials, malformed body, missing fields.
    let c = http();
    let r = c
        .post(format!("{base}/api/token/"))
        .json(&json!({"username": "landlord", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "No active account found with the given credentials"
    );
    let r = c
        .post(format!("{base}/api/token/"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(format!("{base}/api/token/"))
        .json(&json!({"username": "landlord"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Refresh gives a new access token only.
    let r = c
        .post(format!("{base}/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let new_access = v["access"].as_str().expect("access").to_owned();
    assert!(v.get("refresh").is_none());
    let (status, profile) = get(&base, "/api/users/profile/", &new_access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        profile,
        json!({"id": 1, "username": "landlord", "email": "landlord@smarthunt.test", "role": "landlord"})
    );

    // An access token is not a refresh token.
    let r = c
        .post(format!("{base}/api/token/refresh/"))
        .json(&json!({ "refresh": access }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "token_not_valid");

    // Forced refresh failure, then cleared.
    control(&server, "fail_refresh", json!({"status": 500})).await;
    let r = c
        .post(format!("{base}/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    control(&server, "fail_refresh", json!({"status": null})).await;
    let r = c
        .post(format!("{base}/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let s = stats(&server).await;
    assert_eq!(s["token_requests"], 4);
    assert_eq!(s["refresh_requests"], 4);
    server.shutdown().await;
}

#[tokio::test]
async fn legacy_tokens_carry_integer_user_id() {
    let server = start(Variant::Legacy).await;
    let (access, refresh) = login(&server.base_url(), TENANT).await;
    assert_eq!(jwt_claims(&access)["user_id"], 2);
    assert_eq!(jwt_claims(&refresh)["user_id"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn unauthorized_and_revoked() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let path = "/api/interactions/notifications/";
    let r = http().get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "token_not_valid");
    let (status, v) = get(&base, path, "not.a.jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "token_not_valid");

    let (access, refresh) = login(&base, LANDLORD).await;
    assert_eq!(get(&base, path, &access).await.0, StatusCode::OK);
    control(&server, "revoke_access_tokens", json!({})).await;
    assert_eq!(get(&base, path, &access).await.0, StatusCode::UNAUTHORIZED);
    let err = try_connect(&server, &access).await.expect_err("revoked");
    assert_eq!(handshake_status(&err), Some(403));

    // The refresh token still works and its access token is fresh.
    let v: Value = http()
        .post(format!("{base}/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = v["access"].as_str().unwrap();
    assert_eq!(get(&base, path, fresh).await.0, StatusCode::OK);
    drop(connect(&server, fresh).await);
    server.shutdown().await;
}

#[tokio::test]
async fn notification_pagination_and_filters() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, _) = login(&base, LANDLORD).await;
    let v = control(
        &server,
        "flood",
        json!({"username": "landlord", "count": 45}),
    )
    .await;
    assert_eq!(v, json!({"first_id": 1, "last_id": 45}));
    control(
        &server,
        "notify",
        json!({"username": "landlord", "title": "Booked", "body": "b", "notification_type": "booking", "data": {"booking_id": 9}}),
    )
    .await;
    // Not the landlord's: must not show up.
    control(
        &server,
        "notify",
        json!({"username": "tenant", "title": "x", "body": "y", "notification_type": "general"}),
    )
    .await;

    let list = "/api/interactions/notifications/";
    let (status, p1) = get(&base, list, &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p1["count"], 46);
    assert_eq!(p1["previous"], Value::Null);
    assert_eq!(p1["next"], format!("{base}{list}?page=2"));
    let results = p1["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert_eq!(results[0]["id"], 46, "newest first");
    assert_eq!(results[0]["notification_type"], "booking");
    assert!(results[0].get("data").is_none(), "list has no data");
    for key in [
        "id",
        "title",
        "body",
        "notification_type",
        "is_read",
        "created_at",
    ] {
        assert!(results[0].get(key).is_some(), "missing {key}");
    }
    let ids: Vec<i64> = results.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));

    let (_, p3) = get(&base, &format!("{list}?page=3"), &access).await;
    assert_eq!(p3["results"].as_array().unwrap().len(), 6);
    assert_eq!(p3["next"], Value::Null);
    assert_eq!(p3["previous"], format!("{base}{list}?page=2"));
    let (_, p2) = get(&base, &format!("{list}?page=2"), &access).await;
    assert_eq!(p2["previous"], format!("{base}{list}"));

    let (status, v) = get(&base, &format!("{list}?page=4"), &access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["detail"], "Invalid page.");
    assert_eq!(
        get(&base, &format!("{list}?page=abc"), &access).await.0,
        StatusCode::NOT_FOUND
    );

    let (_, booking) = get(&base, &format!("{list}?notification_type=booking"), &access).await;
    assert_eq!(booking["count"], 1);
    let (_, detail) = get(&base, &format!("{list}46/"), &access).await;
    assert_eq!(detail["data"], json!({"booking_id": 9}));
    assert_eq!(
        get(&base, &format!("{list}47/"), &access).await.0,
        StatusCode::NOT_FOUND,
        "another user's notification"
    );
    assert_eq!(
        get(&base, &format!("{list}9999/"), &access).await.0,
        StatusCode::NOT_FOUND
    );

    control(
        &server,
        "read_elsewhere",
        json!({"username": "landlord", "ids": [1, 2, 3]}),
    )
    .await;
    let (_, unread) = get(&base, &format!("{list}?is_read=false&page=2"), &access).await;
    assert_eq!(unread["count"], 43);
    assert_eq!(unread["next"], format!("{base}{list}?is_read=false&page=3"));
    let (_, read) = get(&base, &format!("{list}?is_read=true"), &access).await;
    assert_eq!(read["count"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn mark_read_via_rest_sends_no_frame() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (access, _) = login(&base, LANDLORD).await;
    let (tenant_access, _) = login(&base, TENANT).await;
    for i in 0..3 {
        control(
            &server,
            "notify",
            json!({"username": "landlord", "title": format!("n{i}"), "body": "b", "notification_type": "review", "data": {"review_id": i, "rating": 5}}),
        )
        .await;
    }
    let mut ws = connect(&server, &access).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "unread_count", "count": 3})
    );

    let c = http();
    let url = format!("{base}/api/interactions/notifications/2/");
    let r = c
        .patch(&url)
        .bearer_auth(&access)
        .json(&json!({"is_read": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["is_read"], true);
    assert_eq!(v["data"], json!({"review_id": 1, "rating": 5}));
    let r = c
        .patch(&url)
        .bearer_auth(&tenant_access)
        .json(&json!({"is_read": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not the tenant's");
    let r = c
        .patch(&url)
        .bearer_auth(&access)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let (_, s) = get(&base, "/api/interactions/notifications/stats/", &access).await;
    assert_eq!(
        s,
        json!({"total": 3, "unread": 2, "by_type": {"review": 3}})
    );

    let v: Value = c
        .post(format!(
            "{base}/api/interactions/notifications/mark-all-read/"
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["updated_count"], 2);
    assert!(v["message"].is_string());
    assert_quiet(&mut ws).await;
    server.shutdown().await;
}

#[tokio::test]
async fn messages_and_failing_posts() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (tenant, _) = login(&base, TENANT).await;
    let (landlord, _) = login(&base, LANDLORD).await;
    let mut lws = connect(&server, &landlord).await;
    next_json(&mut lws).await;
    next_json(&mut lws).await;

    let c = http();
    let url = format!("{base}/api/interactions/messages/");
    let r = c
        .post(&url)
        .bearer_auth(&tenant)
        .json(&json!({"receiver": 1, "content": "Is the loft free in May?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["sender"], 2);
    assert_eq!(m["receiver"], 1);

    let n = next_json(&mut lws).await;
    assert_eq!(n["type"], "notification");
    assert_eq!(n["notification_type"], "message");
    assert_eq!(n["data"]["message_id"], m["id"]);
    assert_eq!(n["data"]["sender_id"], 2);
    assert_eq!(n["data"]["sender_name"], "Tom Tenant");
    assert_eq!(n["data"]["content_preview"], "Is the loft free in May?");
    assert_eq!(
        next_json(&mut lws).await,
        json!({"type": "unread_count", "count": 1})
    );
    let chat = next_json(&mut lws).await;
    assert_eq!(chat["type"], "chat_message");
    assert_eq!(chat["recipient_id"], 1);
    assert_eq!(chat["content"], "Is the loft free in May?");

    control(
        &server,
        "message",
        json!({"from": "landlord", "to": "tenant", "content": "Yes!"}),
    )
    .await;
    control(&server, "fail_message_post", json!({"count": 1})).await;
    let r = c
        .post(&url)
        .bearer_auth(&tenant)
        .json(&json!({"receiver": 1, "content": "Great, booking now"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let (_, list) = get(&base, "/api/interactions/messages/", &tenant).await;
    assert_eq!(list["count"], 3, "the failed post was saved");
    let contents: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["Great, booking now", "Yes!", "Is the loft free in May?"]
    );

    // Validation.
    let r = c
        .post(&url)
        .bearer_auth(&tenant)
        .json(&json!({"receiver": 999, "content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(&url)
        .bearer_auth(&tenant)
        .json(&json!({"receiver": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn booking_approval() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let (landlord, _) = login(&base, LANDLORD).await;
    let (tenant, _) = login(&base, TENANT).await;
    let v = control(
        &server,
        "booking_request",
        json!({"tenant": "tenant", "property_id": 2}),
    )
    .await;
    let booking_id = v["booking_id"].as_i64().unwrap();
    let (_, n) = get(
        &base,
        &format!("/api/interactions/notifications/{}/", v["notification_id"]),
        &landlord,
    )
    .await;
    assert_eq!(n["notification_type"], "booking");
    assert_eq!(n["data"]["booking_id"], booking_id);
    assert_eq!(n["data"]["status"], "pending");
    assert_eq!(n["data"]["property_id"], 2);

    let mut tws = connect(&server, &tenant).await;
    next_json(&mut tws).await;
    next_json(&mut tws).await;

    let c = http();
    let url = |id: i64| format!("{base}/api/interactions/bookings/{id}/approve/");
    let body = json!({"status": "approved"});
    let r = c
        .patch(url(booking_id))
        .bearer_auth(&tenant)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .patch(url(777))
        .bearer_auth(&landlord)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .patch(url(booking_id))
        .bearer_auth(&landlord)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "approved");
    let r = c
        .patch(url(booking_id))
        .bearer_auth(&landlord)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no longer pending");

    let n = next_json(&mut tws).await;
    assert_eq!(n["type"], "notification");
    assert_eq!(n["notification_type"], "booking");
    assert_eq!(n["data"]["status"], "approved");
    assert_eq!(next_json(&mut tws).await["type"], "unread_count");
    let upd = next_json(&mut tws).await;
    assert_eq!(upd["type"], "booking_update");
    assert_eq!(upd["action"], "approved");
    assert_eq!(upd["booking_id"], booking_id);
    server.shutdown().await;
}

#[tokio::test]
async fn persistence_across_restart_and_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("devserver.sqlite3");
    let cfg = DevServerConfig {
        db_path: Some(db.clone()),
        ..DevServerConfig::default()
    };
    let server = DevServer::start(cfg.clone()).await.expect("start");
    let addr = server.addr();
    let base = server.base_url();
    let (access, _) = login(&base, LANDLORD).await;
    // A connected socket must not keep the port busy after shutdown.
    let mut ws = connect(&server, &access).await;
    next_json(&mut ws).await;
    for _ in 0..3 {
        server
            .notify("landlord", "t", "b", "general", json!({}))
            .await
            .expect("notify");
    }
    control(
        &server,
        "read_elsewhere",
        json!({"username": "landlord", "ids": [2]}),
    )
    .await;
    server.shutdown().await;

    // Same file, same port.
    let server = DevServer::start(DevServerConfig {
        addr,
        ..cfg.clone()
    })
    .await
    .expect("restart on the same address");
    assert_eq!(server.addr(), addr);
    let (status, list) = get(&base, "/api/interactions/notifications/", &access).await;
    assert_eq!(status, StatusCode::OK, "tokens survive a restart");
    assert_eq!(list["count"], 3);
    assert_eq!(list["results"][1]["is_read"], true);
    let v = control(
        &server,
        "notify",
        json!({"username": "landlord", "title": "t", "body": "b", "notification_type": "general"}),
    )
    .await;
    assert_eq!(v["id"], 4, "ids continue");

    control(&server, "reset_database", json!({})).await;
    let (_, list) = get(&base, "/api/interactions/notifications/", &access).await;
    assert_eq!(list["count"], 0);
    let v = control(
        &server,
        "notify",
        json!({"username": "landlord", "title": "t", "body": "b", "notification_type": "general"}),
    )
    .await;
    assert_eq!(v["id"], 1, "ids restart after a reset");
    server.shutdown().await;
}

#[tokio::test]
async fn control_rejects_bad_input() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let c = http();
    let post = |path: &str| {
        c.post(format!("{base}/control/{path}"))
            .header(CONTROL_TOKEN_HEADER, server.control_token())
    };
    let r = post("notify").body("{").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post("notify")
        .json(&json!({"username": "nobody", "title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post("close")
        .json(&json!({"code": 12}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn control_needs_the_runs_token_and_a_loopback_host() {
    let server = start(Variant::Documented).await;
    let base = server.base_url();
    let c = http();
    let notify = json!({"username": "tenant", "title": "planted", "body": "b"});
    // What a page in the user's browser can send: a "simple" text/plain
    // POST with no custom header.
    let r = c
        .post(format!("{base}/control/notify"))
        .header("content-type", "text/plain")
        .body(notify.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{base}/control/notify"))
        .header(
            CONTROL_TOKEN_HEADER,
            "0".repeat(server.control_token().len()),
        )
        .json(&notify)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a wrong token");
    // DNS rebinding: the right peer and even the token, but the page's Host.
    let r = c
        .post(format!("{base}/control/notify"))
        .header(CONTROL_TOKEN_HEADER, server.control_token())
        .header("host", format!("evil.example:{}", server.addr().port()))
        .json(&notify)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a foreign Host");
    let (access, _) = login(&base, TENANT).await;
    let (_, list) = get(&base, "/api/interactions/notifications/", &access).await;
    assert_eq!(list["count"], 0, "nothing was created: {list}");
    // The token and a loopback Host: served.
    control(&server, "notify", notify).await;
    let (_, list) = get(&base, "/api/interactions/notifications/", &access).await;
    assert_eq!(list["count"], 1);
    server.shutdown().await;
}
