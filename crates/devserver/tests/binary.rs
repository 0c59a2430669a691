//! The `smarthunt-devserver` binary: ready line, loopback-only, clean exit on SIGTERM.

mod common;

use std::ffi::OsStr;
use std::process::Command;

use common::{spawn_binary, terminate, BIN};

#[test]
fn prints_ready_line_and_exits_on_sigterm() {
    let (mut child, mut lines, port) = spawn_binary(
        &["--port", "0", "--variant", "legacy"].map(OsStr::new),
        "listening on http://127.0.0.1:",
    );
    assert_ne!(port, 0);

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/token/"))
            .json(&serde_json::json!({"username": "tenant", "password": "tenant-pass"}))
            .send()
            .await
            .expect("token request")
            .status()
    });
    assert_eq!(status.as_u16(), 200);

    // Its control token comes next; the control API needs it.
    let token_line = lines.next().expect("a token line").expect("utf-8");
    let token = token_line
        .rsplit_once(": ")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_else(|| panic!("token line format: {token_line}"));
    assert!(token.len() >= 32, "{token_line}");
    let stats = |token: Option<&str>| {
        rt.block_on(async {
            let mut req =
                reqwest::Client::new().get(format!("http://127.0.0.1:{port}/control/stats"));
            if let Some(t) = token {
                req = req.header(smarthunt_devserver::CONTROL_TOKEN_HEADER, t);
            }
            req.send().await.expect("stats").status().as_u16()
        })
    };
    assert_eq!(stats(Some(&token)), 200);
    assert_eq!(stats(None), 403);

    let exit = terminate(&mut child);
    assert!(exit.success(), "exit status {exit:?}");
    assert!(lines.next().is_none(), "exactly two stdout lines");
}

#[test]
fn takes_its_control_token_from_the_environment() {
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .env(
            smarthunt_devserver::CONTROL_TOKEN_ENV,
            "a-token-the-caller-chose-0123456789",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("a ready line").expect("utf-8");
    assert!(ready.starts_with("listening on "), "{ready}");
    let token_line = lines.next().expect("a token line").expect("utf-8");
    assert!(
        token_line.ends_with(": a-token-the-caller-chose-0123456789"),
        "{token_line}"
    );
    assert!(terminate(&mut child).success());
}

#[test]
fn refuses_non_loopback_hosts() {
    let out = Command::new(BIN)
        .args(["--host", "0.0.0.0", "--port", "0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
