//! The fleet after an outage, as a SmartHunt server operator sees it: many
//! desktop clients (the core engine, each with its own store and keychain,
//! all in this one process) connected to the dev server (a process of its
//! own); the server is killed, as a crash or a restart does it (every socket
//! vanishes at once, no close frame), and started again on the same port
//! after a short outage. What the server then saw: handshakes per second
//! (the busiest second, and its share of the fleet), the time from its
//! return until 99 % and all of the fleet were connected again, and the
//! REST requests each client made to catch up.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use smarthunt_core::engine::Tuning;
use smarthunt_devserver::{Stats, CONTROL_TOKEN_HEADER, TENANT};
use tokio::process::Child;

use crate::burst::{control_token, start_devserver};
use crate::error::{BenchError, BenchResult};
use crate::harness::BenchEngine;
use crate::report::Figure;

#[derive(Debug, Clone)]
pub struct FleetPlan {
    /// Desktop clients in the fleet.
    pub clients: usize,
    /// How long the server stays away.
    pub down: Duration,
    /// How long the connected fleet's REST traffic is counted before the
    /// outage (the reads-elsewhere poll runs every 30 s).
    pub steady: Duration,
}

/// How often the server's counters are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// After the whole fleet is back, its catch-ups get this long to finish
/// before the REST requests are counted.
const CATCH_UP: Duration = Duration::from_secs(5);

/// Sign-ins run this many at a time while the fleet starts.
const SIGN_INS_AT_ONCE: usize = 16;

/// Open files each engine costs this process (its socket, the store's
/// database, WAL and shared-memory files on two connections, an HTTP
/// connection): 9 measured, and one to spare. The dev server, a process of
/// its own, needs 3 a client.
const FILES_PER_CLIENT: u64 = 10;

/// Open files kept for everything else in this process.
const FILES_RESERVED: u64 = 512;

pub fn figure_names() -> Vec<(String, &'static str)> {
    [
        ("fleet.clients", "clients"),
        ("fleet.busiest_second_handshakes", "handshakes"),
        ("fleet.busiest_second_share_percent", "%"),
        ("fleet.back_99_percent_s", "s"),
        ("fleet.back_all_s", "s"),
        ("fleet.rest_per_client", "requests"),
        ("fleet.steady_rest_per_client_per_min", "requests"),
        ("fleet.handshakes_per_client", "handshakes"),
        ("fleet.first_connect_s", "s"),
    ]
    .into_iter()
    .map(|(n, u)| (n.to_owned(), u))
    .collect()
}

/// What one outage showed.
struct Outage {
    /// Engines in the fleet: the plan's, or as many as the open-file limit
    /// allows.
    clients: usize,
    /// All clients connected, from the first sign-in.
    first_connect: Duration,
    /// The most handshakes the server saw within one second.
    busiest_second: u64,
    back_99: Duration,
    back_all: Duration,
    /// The restarted server's counters once the fleet had caught up.
    after: Stats,
    /// How long after the server's return `after` was read.
    after_s: f64,
    /// REST requests per client per second while connected, before.
    steady_per_s: f64,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &FleetPlan, devserver_bin: &Path) -> Vec<(String, Figure)> {
    let (outage, limited) = match measure(plan, devserver_bin).await {
        Ok(measured) => measured,
        Err(e) => {
            return figure_names()
                .into_iter()
                .map(|(n, u)| (n, Figure::not_measured(u, e.to_string())))
                .collect()
        }
    };
    let n = outage.clients as f64;
    let rest = rest_of(&outage.after) as f64 - outage.steady_per_s * n * outage.after_s;
    let mut how = format!(
        "{} engines in one process, the dev server in another, killed and started again on \
         its port {:.0} s later; Tuning::default()",
        outage.clients,
        plan.down.as_secs_f64()
    );
    if let Some(why) = &limited {
        how.push_str(&format!("; {why}"));
    }
    let one = |unit: &'static str, v: f64| Figure::from_runs(unit, vec![v]);
    vec![
        ("fleet.clients".into(), one("clients", n).with_note(how)),
        (
            "fleet.busiest_second_handshakes".into(),
            one("handshakes", outage.busiest_second as f64).with_note(format!(
                "most WebSocket handshakes the restarted server saw in any second (counters \
                 read every {} ms)",
                SAMPLE_EVERY.as_millis()
            )),
        ),
        (
            "fleet.busiest_second_share_percent".into(),
            one("%", 100.0 * outage.busiest_second as f64 / n)
                .with_note("the busiest second's handshakes over the fleet's size"),
        ),
        (
            "fleet.back_99_percent_s".into(),
            one("s", outage.back_99.as_secs_f64())
                .with_note("from the server listening again to 99 % of the fleet connected"),
        ),
        (
            "fleet.back_all_s".into(),
            one("s", outage.back_all.as_secs_f64())
                .with_note("from the server listening again to the whole fleet connected"),
        ),
        (
            "fleet.rest_per_client".into(),
            one("requests", (rest / n).max(0.0)).with_note(format!(
                "REST requests (token, refresh and /api/) the restarted server answered until \
                 {} s after the whole fleet was back, per client, less the connected fleet's \
                 steady rate over that time (its reads-elsewhere poll)",
                CATCH_UP.as_secs()
            )),
        ),
        (
            "fleet.steady_rest_per_client_per_min".into(),
            one("requests", outage.steady_per_s * 60.0).with_note(format!(
                "REST requests per client and minute of the connected fleet, counted over {:.0} \
                 s before the outage",
                plan.steady.as_secs_f64()
            )),
        ),
        (
            "fleet.handshakes_per_client".into(),
            one("handshakes", outage.after.handshakes_total as f64 / n)
                .with_note("handshakes the restarted server saw, per client"),
        ),
        (
            "fleet.first_connect_s".into(),
            one("s", outage.first_connect.as_secs_f64()).with_note(format!(
                "from the first sign-in to the whole fleet connected ({SIGN_INS_AT_ONCE} \
                 sign-ins at a time)"
            )),
        ),
    ]
}

/// The outage, and why the fleet is smaller than planned if it is.
async fn measure(plan: &FleetPlan, devserver_bin: &Path) -> BenchResult<(Outage, Option<String>)> {
    let wanted = plan.clients as u64 * FILES_PER_CLIENT + FILES_RESERVED;
    let limit = raise_file_limit(wanted)?;
    let fit = usize::try_from(limit.saturating_sub(FILES_RESERVED) / FILES_PER_CLIENT)
        .unwrap_or(usize::MAX);
    let clients = plan.clients.min(fit);
    if clients < plan.clients / 2 {
        return Err(BenchError::failed(format!(
            "the fleet needs {wanted} open files; the limit is {limit} and cannot be raised"
        )));
    }
    let limited = (clients < plan.clients).then(|| {
        format!(
            "{} planned: the open-file limit is {limit} and cannot be raised here",
            plan.clients
        )
    });
    let plan = &FleetPlan {
        clients,
        ..plan.clone()
    };
    let (server, url) = start_devserver(devserver_bin, 0).await?;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| BenchError::failed(format!("no port in the dev server's URL {url}")))?;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let fleet: Vec<BenchResult<BenchEngine>> = stream::iter(0..plan.clients)
        .map(|_| BenchEngine::start(&url, TENANT, Tuning::default()))
        .buffer_unordered(SIGN_INS_AT_ONCE)
        .collect()
        .await;
    let result = match fleet.into_iter().collect::<BenchResult<Vec<_>>>() {
        Ok(fleet) => {
            let r = outage(plan, devserver_bin, (server, &url, port), &http, started).await;
            stop_all(fleet).await;
            r
        }
        Err(e) => Err(e),
    };
    result.map(|(o, mut server)| {
        let _ = server.start_kill();
        (o, limited)
    })
}

/// Everything after the fleet signed in; gives back the restarted server.
async fn outage(
    plan: &FleetPlan,
    devserver_bin: &Path,
    (mut server, url, port): (Child, &str, u16),
    http: &reqwest::Client,
    started: Instant,
) -> BenchResult<(Outage, Child)> {
    let all = plan.clients as u64;
    wait_for_open(
        http,
        url,
        all,
        Duration::from_secs(120),
        "the fleet to connect",
    )
    .await?;
    let first_connect = started.elapsed();
    // Let every first catch-up, profile and count finish.
    tokio::time::sleep(CATCH_UP).await;
    let before = rest_of(&stats(http, url).await?);
    tokio::time::sleep(plan.steady).await;
    let steady = rest_of(&stats(http, url).await?).saturating_sub(before);
    let steady_per_s = steady as f64 / all as f64 / plan.steady.as_secs_f64().max(1e-3);

    let _ = server.start_kill();
    let _ = server.wait().await;
    tokio::time::sleep(plan.down).await;
    let (server, _) = start_devserver_on(devserver_bin, port).await?;
    let back = Instant::now();

    let mut samples: Vec<(Duration, Stats)> = Vec::new();
    let limit = Duration::from_secs(300);
    let wanted_99 = (all * 99).div_ceil(100);
    let (mut back_99, mut back_all) = (None, None);
    while back_all.is_none() {
        if back.elapsed() > limit {
            return Err(BenchError::timeout("the fleet to come back", limit));
        }
        let s = stats(http, url).await?;
        let at = back.elapsed();
        if s.connections_open >= wanted_99 && back_99.is_none() {
            back_99 = Some(at);
        }
        if s.connections_open >= all {
            back_all = Some(at);
        }
        samples.push((at, s));
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    tokio::time::sleep(CATCH_UP).await;
    let after = stats(http, url).await?;
    let after_s = back.elapsed().as_secs_f64();
    Ok((
        Outage {
            clients: plan.clients,
            first_connect,
            busiest_second: busiest_second(&samples),
            back_99: back_99.unwrap_or_default(),
            back_all: back_all.unwrap_or_default(),
            after,
            after_s,
            steady_per_s,
        },
        server,
    ))
}

/// Starts the dev server binary again on `port`, retrying while the port
/// is still being freed.
async fn start_devserver_on(bin: &Path, port: u16) -> BenchResult<(Child, String)> {
    let mut last = None;
    for _ in 0..100 {
        match start_devserver(bin, port).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last.unwrap_or_else(|| BenchError::failed("the dev server did not come back")))
}

/// REST requests a server answered: token, refresh and `/api/`.
fn rest_of(s: &Stats) -> u64 {
    s.rest_requests + s.token_requests + s.refresh_requests
}

/// The most handshakes within any second of the samples.
fn busiest_second(samples: &[(Duration, Stats)]) -> u64 {
    let mut busiest = 0;
    for (i, (at, s)) in samples.iter().enumerate() {
        let within = samples[i..]
            .iter()
            .take_while(|(t, _)| *t <= *at + Duration::from_secs(1))
            .last()
            .map_or(0, |(_, later)| later.handshakes_total - s.handshakes_total);
        busiest = busiest.max(within);
    }
    busiest
}

async fn stats(http: &reqwest::Client, url: &str) -> BenchResult<Stats> {
    let answer = http
        .get(format!("{url}/control/stats"))
        .header(CONTROL_TOKEN_HEADER, control_token())
        .send()
        .await
        .map_err(|e| BenchError::failed(format!("cannot read the dev server's stats: {e}")))?;
    answer
        .json()
        .await
        .map_err(|e| BenchError::failed(format!("the dev server's stats are unreadable: {e}")))
}

async fn wait_for_open(
    http: &reqwest::Client,
    url: &str,
    open: u64,
    limit: Duration,
    what: &str,
) -> BenchResult<()> {
    let deadline = Instant::now() + limit;
    loop {
        if stats(http, url).await?.connections_open >= open {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::timeout(what, limit));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

async fn stop_all(fleet: Vec<BenchEngine>) {
    stream::iter(fleet)
        .for_each_concurrent(64, |engine| engine.stop())
        .await;
}

/// Raises this process's limit of open files (inherited by the dev server
/// it starts) towards `wanted`; gives back the limit it now has. Raising
/// the hard limit needs CAP_SYS_RESOURCE; the soft one may go up to it.
fn raise_file_limit(wanted: u64) -> BenchResult<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| BenchError::failed(format!("cannot read the open-file limit: {e}")))?;
    if soft >= wanted {
        return Ok(soft);
    }
    if setrlimit(Resource::RLIMIT_NOFILE, wanted, hard.max(wanted)).is_ok() {
        return Ok(wanted);
    }
    let most = wanted.min(hard);
    Ok(if setrlimit(Resource::RLIMIT_NOFILE, most, hard).is_ok() {
        most
    } else {
        soft
    })
}
