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

    let exit = terminate(&mut child);
    assert!(exit.success(), "exit status {exit:?}");
    assert!(lines.next().is_none(), "exactly one stdout line");
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
