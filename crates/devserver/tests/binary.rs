//! The `smarthunt-devserver` binary: ready line, loopback-only, clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_smarthunt-devserver");

#[test]
fn prints_ready_line_and_exits_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--variant", "legacy"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().expect("a line").expect("utf-8");
    let url = line
        .strip_prefix("listening on http://127.0.0.1:")
        .expect("ready line format");
    let port: u16 = url.parse().expect("port number");
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

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
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
