//! Event latency at a steady rate: from the dev server stamping a
//! notification (its `timestamp`, in microseconds, taken just before it
//! stores and pushes the row) to the engine having stored it and handed its
//! popups to the notifier, with the time of each stage on the way
//! (`EngineEvent::NotificationAdded`'s `stages`); and, in the same
//! run, the same measure for a bare WebSocket client reading the same server
//! (the floor). Server, engine and floor client share one process and one
//! wall clock. Runs of engine and floor alternate so drift hits both alike.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use smarthunt_core::engine::{EngineEvent, Stages, Tuning};
use smarthunt_devserver::{DevServer, DevServerConfig, LANDLORD, TENANT};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{BenchError, BenchResult};
use crate::harness::{within, BenchEngine};
use crate::report::Figure;
use crate::stats;

/// Time for the engine's catch-up, profile and counters after connecting.
const SETTLE: Duration = Duration::from_secs(1);

/// The rates measured, in events per second.
pub const RATES: [u32; 2] = [10, 1000];

/// How much to measure.
#[derive(Debug, Clone)]
pub struct LatencyPlan {
    /// Events per run at each rate of [`RATES`].
    pub events: [usize; 2],
    /// Runs per rate, for the engine and for the floor each.
    pub runs: usize,
    /// Events sent (and not measured) to each client before the runs.
    pub warmup: usize,
}

/// Every figure this benchmark reports, with its unit.
pub fn figure_names() -> Vec<(String, &'static str)> {
    let mut names = Vec::new();
    for rate in RATES {
        for who in ["engine", "floor"] {
            for q in ["p50", "p99"] {
                names.push((format!("latency.{who}.{rate}_per_s.{q}"), "ms"));
            }
        }
        for q in ["p50", "p99"] {
            names.push((format!("latency.engine_over_floor.{rate}_per_s.{q}"), "x"));
            names.push((format!("latency.engine_minus_floor.{rate}_per_s.{q}"), "ms"));
            for stage in STAGES {
                names.push((format!("latency.stage.{rate}_per_s.{stage}.{q}"), "ms"));
            }
        }
    }
    names
}

/// What one stage's figure times.
fn stage_note(stage: &str) -> &'static str {
    match stage {
        "read" => {
            "server timestamp to the frame taken off the socket by the engine's loop \
             (the floor's whole path, plus the wait for a busy loop)"
        }
        "decode" => "frame read to decoded",
        "store" => "decoded to its batch committed to SQLite (one transaction per batch read)",
        "decide" => "committed to the presenter's popup decision",
        _ => "decided to the popups handed to the notifier",
    }
}

/// One paced run's latencies (ms), each stage's own time (engine runs
/// only) and the rate it really achieved.
struct RunSample {
    latencies_ms: Vec<f64>,
    steps_ms: Vec<[f64; STAGES.len()]>,
    achieved_per_s: f64,
}

impl RunSample {
    fn p(&self, q: f64) -> f64 {
        stats::quantile(&self.latencies_ms, q).unwrap_or(f64::NAN)
    }

    fn step_p(&self, stage: usize, q: f64) -> f64 {
        let steps: Vec<f64> = self.steps_ms.iter().map(|s| s[stage]).collect();
        stats::quantile(&steps, q).unwrap_or(f64::NAN)
    }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The engine's stages of one notification, on the wall clock (µs).
#[derive(Debug, Clone, Copy)]
struct WallStages([i64; STAGES.len()]);

/// The engine's stages, in order, as named in the report: each is the time
/// from the one before (the first: from the server's stamp).
const STAGES: [&str; 5] = ["read", "decode", "store", "decide", "show"];

impl WallStages {
    /// Converts the engine's instants with one pair of clock readings taken
    /// together (`base`): both clocks run at the same rate over a run.
    fn new(s: &Stages, base: (Instant, i64)) -> Self {
        let wall = |at: Instant| {
            base.1 + i64::try_from(at.saturating_duration_since(base.0).as_micros()).unwrap_or(0)
        };
        Self([s.read, s.decoded, s.stored, s.decided, s.shown].map(wall))
    }

    /// When the popup was handed to the notifier: the end of the path.
    fn done(&self) -> i64 {
        self.0[STAGES.len() - 1]
    }

    /// Each stage's own time (ms), the first from `stamped`.
    fn steps_ms(&self, stamped: i64) -> [f64; STAGES.len()] {
        let mut before = stamped;
        self.0.map(|at| {
            let step = (at - before) as f64 / 1000.0;
            before = at;
            step
        })
    }
}

/// Records the stages of each notification the engine announced stored.
struct EngineRecorder {
    added: mpsc::UnboundedReceiver<(i64, WallStages)>,
    lagged: mpsc::UnboundedReceiver<u64>,
    task: JoinHandle<()>,
}

impl EngineRecorder {
    fn start(mut events: broadcast::Receiver<EngineEvent>) -> Self {
        let (added_tx, added) = mpsc::unbounded_channel();
        let (lagged_tx, lagged) = mpsc::unbounded_channel();
        // Taken together (two clock reads, well under a microsecond apart).
        let base = (Instant::now(), now_us());
        let task = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(EngineEvent::NotificationAdded { local_id, stages }) => {
                        let _ = added_tx.send((local_id, WallStages::new(&stages, base)));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        let _ = lagged_tx.send(n);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Self {
            added,
            lagged,
            task,
        }
    }
}

/// A bare WebSocket client: records, for each `notification` frame, the
/// server's timestamp and when the frame was read. Nothing else.
struct FloorClient {
    samples: mpsc::UnboundedReceiver<(i64, i64)>,
    task: JoinHandle<()>,
}

impl FloorClient {
    async fn connect(server: &DevServer, user: (&str, &str)) -> BenchResult<Self> {
        let (access, _) = server
            .tokens(user.0, user.1)
            .await
            .map_err(|e| BenchError::failed(format!("no token for the floor client: {e}")))?;
        let url = format!("{}?token={access}", server.ws_url());
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| BenchError::failed(format!("the floor client cannot connect: {e}")))?;
        let (tx, samples) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(Ok(msg)) = socket.next().await {
                let read_at = now_us();
                let Message::Text(text) = msg else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if frame["type"] != "notification" {
                    continue;
                }
                let stamped = frame["timestamp"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_micros());
                if let Some(stamped) = stamped {
                    let _ = tx.send((stamped, read_at));
                }
            }
        });
        Ok(Self { samples, task })
    }
}

/// Sends `events` notifications to `user` at `per_s`; returns the rate achieved.
pub async fn send_paced(
    server: &DevServer,
    user: &str,
    per_s: u32,
    events: usize,
    tag: &str,
) -> BenchResult<f64> {
    let period = Duration::from_secs_f64(1.0 / f64::from(per_s.max(1)));
    let start = tokio::time::Instant::now();
    for i in 0..events {
        tokio::time::sleep_until(start + period * u32::try_from(i).unwrap_or(u32::MAX)).await;
        server
            .notify(
                user,
                &format!("{tag} #{i}"),
                "Benchmark event.",
                "general",
                json!({}),
            )
            .await
            .map_err(|e| BenchError::failed(format!("the dev server did not notify: {e}")))?;
    }
    let took = start.elapsed().as_secs_f64();
    Ok(if took > 0.0 && events > 1 {
        (events - 1) as f64 / took
    } else {
        f64::from(per_s)
    })
}

/// Collects `n` items from `rx`, waiting at most `limit` in all.
async fn collect<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    n: usize,
    limit: Duration,
    what: &str,
) -> BenchResult<Vec<T>> {
    let mut got = Vec::with_capacity(n);
    within(limit, what, async {
        while got.len() < n {
            match rx.recv().await {
                Some(item) => got.push(item),
                None => break,
            }
        }
    })
    .await?;
    if got.len() < n {
        return Err(BenchError::failed(format!(
            "{what}: only {} of {n} arrived",
            got.len()
        )));
    }
    Ok(got)
}

fn drain<T>(rx: &mut mpsc::UnboundedReceiver<T>) {
    while rx.try_recv().is_ok() {}
}

struct Bench {
    server: DevServer,
    engine: BenchEngine,
    recorder: EngineRecorder,
    floor: FloorClient,
}

impl Bench {
    async fn start() -> BenchResult<Self> {
        let server = DevServer::start(DevServerConfig::default())
            .await
            .map_err(|e| BenchError::failed(format!("the dev server did not start: {e}")))?;
        let engine = BenchEngine::start(&server.base_url(), TENANT, Tuning::default()).await?;
        let recorder = EngineRecorder::start(engine.engine.subscribe());
        engine.wait_connected(Duration::from_secs(30)).await?;
        // The catch-up after connecting must be over before events are sent:
        // an event it fetches over REST is stored by it, not announced live.
        tokio::time::sleep(SETTLE).await;
        // The engine signs in as the tenant, the floor as the landlord: each
        // sees only the events meant for it.
        let floor = FloorClient::connect(&server, LANDLORD).await?;
        Ok(Self {
            server,
            engine,
            recorder,
            floor,
        })
    }

    async fn engine_run(&mut self, per_s: u32, events: usize, tag: &str) -> BenchResult<RunSample> {
        drain(&mut self.recorder.added);
        drain(&mut self.recorder.lagged);
        let achieved = send_paced(&self.server, TENANT.0, per_s, events, tag).await?;
        let limit = Duration::from_secs(30);
        let added = collect(
            &mut self.recorder.added,
            events,
            limit,
            "the engine to store every event",
        )
        .await;
        let mut lost = 0u64;
        while let Ok(n) = self.recorder.lagged.try_recv() {
            lost += n;
        }
        if lost > 0 {
            return Err(BenchError::failed(format!(
                "the event subscriber lagged behind the engine and missed {lost} events"
            )));
        }
        let added = added?;
        let ids: Vec<i64> = added.iter().map(|(id, _)| *id).collect();
        let stamps = self
            .engine
            .engine
            .query(move |s| {
                ids.iter()
                    .map(|id| {
                        Ok(s.notification(*id)?
                            .and_then(|n| n.created_at)
                            .map(|t| t.timestamp_micros()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| BenchError::failed(format!("cannot read the stored events: {e}")))?;
        let timed: Vec<(i64, WallStages)> = added
            .iter()
            .zip(stamps)
            .filter_map(|((_, stages), stamped)| Some((stamped?, *stages)))
            .collect();
        if timed.len() < events {
            return Err(BenchError::failed(
                "stored events lack the server's timestamp",
            ));
        }
        Ok(RunSample {
            latencies_ms: timed
                .iter()
                .map(|(stamped, s)| (s.done() - stamped) as f64 / 1000.0)
                .collect(),
            steps_ms: timed
                .iter()
                .map(|(stamped, s)| s.steps_ms(*stamped))
                .collect(),
            achieved_per_s: achieved,
        })
    }

    async fn floor_run(&mut self, per_s: u32, events: usize, tag: &str) -> BenchResult<RunSample> {
        drain(&mut self.floor.samples);
        let achieved = send_paced(&self.server, LANDLORD.0, per_s, events, tag).await?;
        let got = collect(
            &mut self.floor.samples,
            events,
            Duration::from_secs(30),
            "the floor client to read every event",
        )
        .await?;
        Ok(RunSample {
            latencies_ms: got
                .iter()
                .map(|(stamped, read)| (read - stamped) as f64 / 1000.0)
                .collect(),
            steps_ms: Vec::new(),
            achieved_per_s: achieved,
        })
    }

    async fn stop(self) {
        self.recorder.task.abort();
        self.floor.task.abort();
        self.engine.stop().await;
        self.server.shutdown().await;
    }
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &LatencyPlan) -> Vec<(String, Figure)> {
    match measure(plan).await {
        Ok(figures) => figures,
        Err(e) => figure_names()
            .into_iter()
            .map(|(name, unit)| (name, Figure::not_measured(unit, e.to_string())))
            .collect(),
    }
}

async fn measure(plan: &LatencyPlan) -> BenchResult<Vec<(String, Figure)>> {
    let mut bench = Bench::start().await?;
    let result = measure_with(&mut bench, plan).await;
    bench.stop().await;
    result
}

async fn measure_with(bench: &mut Bench, plan: &LatencyPlan) -> BenchResult<Vec<(String, Figure)>> {
    // Warm-up: every path runs once before anything is timed. Not collected:
    // a catch-up still running could store some of these itself.
    for user in [TENANT.0, LANDLORD.0] {
        send_paced(&bench.server, user, 100, plan.warmup, "warm-up").await?;
    }
    tokio::time::sleep(SETTLE).await;
    let mut figures = Vec::new();
    for (rate, events) in RATES.into_iter().zip(plan.events) {
        let (mut engine, mut floor) = (Vec::new(), Vec::new());
        for run in 0..plan.runs {
            let tag = format!("{rate}/s run {run}");
            engine.push(bench.engine_run(rate, events, &tag).await?);
            floor.push(bench.floor_run(rate, events, &tag).await?);
        }
        let achieved: Vec<f64> = engine
            .iter()
            .chain(&floor)
            .map(|r| r.achieved_per_s)
            .collect();
        let paced = format!(
            "{events} events per run at {rate}/s ({:.0}/s achieved, median)",
            stats::median(&achieved).unwrap_or(f64::NAN)
        );
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let e: Vec<f64> = engine.iter().map(|r| r.p(q)).collect();
            let f: Vec<f64> = floor.iter().map(|r| r.p(q)).collect();
            let ratio: Vec<f64> = e.iter().zip(&f).map(|(e, f)| e / f).collect();
            let excess: Vec<f64> = e.iter().zip(&f).map(|(e, f)| e - f).collect();
            figures.push((
                format!("latency.engine.{rate}_per_s.{label}"),
                Figure::from_runs("ms", e).with_note(format!(
                    "server timestamp to stored, popup decided and handed to the notifier; {paced}"
                )),
            ));
            figures.push((
                format!("latency.floor.{rate}_per_s.{label}"),
                Figure::from_runs("ms", f).with_note(format!(
                    "server timestamp to frame read by a bare tokio-tungstenite client; {paced}"
                )),
            ));
            figures.push((
                format!("latency.engine_over_floor.{rate}_per_s.{label}"),
                Figure::from_runs("x", ratio)
                    .with_note("engine / floor, per pair of adjacent runs"),
            ));
            figures.push((
                format!("latency.engine_minus_floor.{rate}_per_s.{label}"),
                Figure::from_runs("ms", excess)
                    .with_note("what the engine adds to the floor, per pair of adjacent runs"),
            ));
            for (i, stage) in STAGES.into_iter().enumerate() {
                figures.push((
                    format!("latency.stage.{rate}_per_s.{stage}.{label}"),
                    Figure::from_runs("ms", engine.iter().map(|r| r.step_p(i, q)).collect())
                        .with_note(stage_note(stage)),
                ));
            }
        }
    }
    Ok(figures)
}
