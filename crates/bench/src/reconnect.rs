//! Reconnecting: the dev server goes away for a few seconds and comes back
//! on the same port; how long from its return until the engine is connected
//! again, with the engine's real backoff (full jitter, as tuned).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::Tuning;
use smarthunt_devserver::{DevServer, DevServerConfig, TENANT};

use crate::error::{BenchError, BenchResult};
use crate::harness::BenchEngine;
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct ReconnectPlan {
    pub restarts: usize,
    /// How long the server stays down.
    pub down: Duration,
    pub tuning: Tuning,
}

pub fn figure_names() -> Vec<(String, &'static str)> {
    vec![
        ("reconnect.back_to_connected_s".to_owned(), "s"),
        ("reconnect.failed_attempts".to_owned(), "attempts"),
    ]
}

struct Sample {
    back_to_connected: Duration,
    /// Connection attempts that failed during the outage and after.
    failed_attempts: u32,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &ReconnectPlan) -> Vec<(String, Figure)> {
    let (samples, failure) = measure(plan).await;
    if samples.is_empty() {
        let why = failure
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no restarts were planned".into());
        return figure_names()
            .into_iter()
            .map(|(n, u)| (n, Figure::not_measured(u, why.clone())))
            .collect();
    }
    let mut note = format!(
        "server down {:.0} s, then back on the same port; {} restarts, each from an open \
         socket (which resets the backoff) at least handshake_gap ({:.0} s) after its handshake",
        plan.down.as_secs_f64(),
        samples.len(),
        plan.tuning.handshake_gap.as_secs_f64()
    );
    note.push_str("; Tuning::default()");
    if let Some(e) = failure {
        note.push_str(&format!("; stopped early: {e}"));
    }
    vec![
        (
            "reconnect.back_to_connected_s".to_owned(),
            Figure::from_runs(
                "s",
                samples
                    .iter()
                    .map(|s| s.back_to_connected.as_secs_f64())
                    .collect(),
            )
            .with_note(note),
        ),
        (
            "reconnect.failed_attempts".to_owned(),
            Figure::from_runs(
                "attempts",
                samples
                    .iter()
                    .map(|s| f64::from(s.failed_attempts))
                    .collect(),
            ),
        ),
    ]
}

async fn measure(plan: &ReconnectPlan) -> (Vec<Sample>, Option<BenchError>) {
    let server = match DevServer::start(DevServerConfig::default()).await {
        Ok(s) => s,
        Err(e) => {
            return (
                Vec::new(),
                Some(BenchError::failed(format!(
                    "the dev server did not start: {e}"
                ))),
            )
        }
    };
    let config = DevServerConfig {
        addr: server.addr(),
        ..DevServerConfig::default()
    };
    let bench = match BenchEngine::start(&server.base_url(), TENANT, plan.tuning.clone()).await {
        Ok(b) => b,
        Err(e) => {
            server.shutdown().await;
            return (Vec::new(), Some(e));
        }
    };
    let mut server = Some(server);
    let mut samples = Vec::new();
    let mut failure = None;
    for _ in 0..plan.restarts {
        match restart_once(&bench, &mut server, &config, plan).await {
            Ok(s) => samples.push(s),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    bench.stop().await;
    if let Some(s) = server {
        s.shutdown().await;
    }
    (samples, failure)
}

async fn restart_once(
    bench: &BenchEngine,
    server: &mut Option<DevServer>,
    config: &DevServerConfig,
    plan: &ReconnectPlan,
) -> BenchResult<Sample> {
    bench.wait_connected(Duration::from_secs(120)).await?;
    // An open socket resets the backoff; waiting out the handshake gap
    // makes every outage an independent one.
    tokio::time::sleep(plan.tuning.handshake_gap + Duration::from_secs(1)).await;

    // Follows the published state through the outage: the last attempt
    // number before reconnecting is how many attempts failed.
    let failed = Arc::new(AtomicU32::new(0));
    let watcher = {
        let failed = failed.clone();
        let mut status = bench.engine.status();
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                if let ConnectionState::Reconnecting { attempt, .. } = &status.borrow().connection {
                    failed.fetch_max(*attempt, Ordering::Relaxed);
                }
            }
        })
    };
    if let Some(s) = server.take() {
        s.shutdown().await;
    }
    tokio::time::sleep(plan.down).await;
    bench
        .wait_for(
            "the engine to notice the outage",
            Duration::from_secs(30),
            |c| !c.is_connected(),
        )
        .await?;

    let mut last_error = None;
    for _ in 0..100 {
        match DevServer::start(config.clone()).await {
            Ok(s) => {
                *server = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if server.is_none() {
        return Err(BenchError::failed(format!(
            "the dev server did not come back on its port: {}",
            last_error.map(|e| e.to_string()).unwrap_or_default()
        )));
    }
    let back = Instant::now();
    let connected = bench.wait_connected(Duration::from_secs(180)).await;
    let back_to_connected = back.elapsed();
    watcher.abort();
    connected?;
    Ok(Sample {
        back_to_connected,
        failed_attempts: failed.load(Ordering::Relaxed),
    })
}
