//! Reconnecting: the dev server goes away for a few seconds (every socket
//! vanishes, as in a restart) and comes back on the same port; how long from
//! its return until the engine is connected again, with the engine's real
//! backoff (full jitter, spread over `outage_base` after such a loss). And
//! a server that stays up but closes this one socket with 1011, as deployed
//! servers do every few seconds: how long until connected again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smarthunt_core::connection::ConnectionState;
use smarthunt_core::engine::Tuning;
use smarthunt_devserver::{DevServer, DevServerConfig, TENANT};

use crate::error::{BenchError, BenchResult};
use crate::harness::{within, BenchEngine};
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
        ("reconnect.after_1011_s".to_owned(), "s"),
    ]
}

struct Sample {
    back_to_connected: Duration,
    /// Connection attempts that failed during the outage and after.
    failed_attempts: u32,
}

/// What was measured: outages, then sockets closed by a server that stays.
#[derive(Default)]
struct Samples {
    outages: Vec<Sample>,
    after_1011: Vec<Duration>,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &ReconnectPlan) -> Vec<(String, Figure)> {
    let (samples, failure) = measure(plan).await;
    let why = failure.as_ref().map(|e| e.to_string());
    let missing = |unit: &'static str| {
        Figure::not_measured(
            unit,
            why.clone()
                .unwrap_or_else(|| "no restarts were planned".into()),
        )
    };
    let stopped = why
        .as_ref()
        .map(|e| format!("; stopped early: {e}"))
        .unwrap_or_default();
    let outages = &samples.outages;
    let (back, failed) = if outages.is_empty() {
        (missing("s"), missing("attempts"))
    } else {
        let note = format!(
            "server down {:.0} s (every socket vanishes), then back on the same port; {} \
             restarts, each from an open socket at least handshake_gap ({:.0} s) after its \
             handshake; Tuning::default(): the first try is spread over {:.0} s, as a fleet's \
             must be{stopped}",
            plan.down.as_secs_f64(),
            outages.len(),
            plan.tuning.handshake_gap.as_secs_f64(),
            plan.tuning.reconnect.outage_base.as_secs_f64(),
        );
        (
            Figure::from_runs(
                "s",
                outages
                    .iter()
                    .map(|s| s.back_to_connected.as_secs_f64())
                    .collect(),
            )
            .with_note(note),
            Figure::from_runs(
                "attempts",
                outages
                    .iter()
                    .map(|s| f64::from(s.failed_attempts))
                    .collect(),
            ),
        )
    };
    let after_1011 = if samples.after_1011.is_empty() {
        missing("s")
    } else {
        Figure::from_runs(
            "s",
            samples
                .after_1011
                .iter()
                .map(Duration::as_secs_f64)
                .collect(),
        )
        .with_note(format!(
            "the server, staying up, closes the socket with 1011 (as deployed servers do \
             every few seconds); to connected again; {} closes{stopped}",
            samples.after_1011.len()
        ))
    };
    vec![
        ("reconnect.back_to_connected_s".to_owned(), back),
        ("reconnect.failed_attempts".to_owned(), failed),
        ("reconnect.after_1011_s".to_owned(), after_1011),
    ]
}

async fn measure(plan: &ReconnectPlan) -> (Samples, Option<BenchError>) {
    let mut samples = Samples::default();
    let server = match DevServer::start(DevServerConfig::default()).await {
        Ok(s) => s,
        Err(e) => {
            let e = BenchError::failed(format!("the dev server did not start: {e}"));
            return (samples, Some(e));
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
            return (samples, Some(e));
        }
    };
    let mut server = Some(server);
    let mut failure = None;
    for _ in 0..plan.restarts {
        match restart_once(&bench, &mut server, &config, plan).await {
            Ok(s) => samples.outages.push(s),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let (None, Some(s)) = (&failure, &server) {
        for _ in 0..plan.restarts {
            match close_once(&bench, s, plan).await {
                Ok(d) => samples.after_1011.push(d),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    bench.stop().await;
    if let Some(s) = server {
        s.shutdown().await;
    }
    (samples, failure)
}

/// The server closes the engine's socket with 1011 and stays up: the time
/// until the engine is connected again.
async fn close_once(
    bench: &BenchEngine,
    server: &DevServer,
    plan: &ReconnectPlan,
) -> BenchResult<Duration> {
    bench.wait_connected(Duration::from_secs(120)).await?;
    tokio::time::sleep(plan.tuning.handshake_gap + Duration::from_secs(1)).await;
    let handshakes = server.stats().handshakes_total;
    let closed = Instant::now();
    server.close_all(1011, "benchmark");
    within(Duration::from_secs(60), "the engine to reconnect", async {
        while server.stats().handshakes_total == handshakes || server.stats().connections_open == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await?;
    Ok(closed.elapsed())
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
