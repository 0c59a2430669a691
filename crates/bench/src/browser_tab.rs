//! The user's alternative to the tray app, side by side with it: the
//! SmartHunt web client left open in a browser tab. Debian's headless
//! Chromium shows a page that runs the integration guide's own
//! `SmartHuntWebSocket`, signed in as the tenant to the dev server, and
//! what that browser costs while connected and idle (CPU time, wake-ups,
//! memory of the whole browser and of the tab's renderer alone) is measured
//! over the idle benchmark's windows. It judges nothing and starts no
//! SmartHunt binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use smarthunt_devserver::{DevServer, TENANT};
use tokio::process::Child;

use crate::desktop::{with_session_and_server, DesktopSession};
use crate::error::{BenchError, BenchResult};
use crate::harness::within;
use crate::idle::{one_window, IdlePlan};
use crate::procfs::{self, TreeUsage};
use crate::report::Figure;

/// Debian's Chromium launcher: it adds Debian's default flags and execs
/// the browser, which keeps the launcher's process id.
const CHROMIUM: &str = "chromium";

/// A copy of shared/seed/websocket-integration-guide.md, the backend's
/// guide for the web frontend as we were given it: the tab runs its
/// `SmartHuntWebSocket` class exactly as written there.
const GUIDE: &str = include_str!("../assets/websocket-integration-guide.md");

/// Where the guide's class connects (`ws://localhost:8000/...` is written
/// into it): the browser's resolver maps this to the dev server instead, so
/// the class runs unchanged.
const GUIDE_SERVER: &str = "localhost:8000";

/// How long Chromium may take to start and its page to connect.
const CONNECT: Duration = Duration::from_secs(60);

/// How long the browser may take to exit after SIGTERM, and then to be gone
/// after SIGKILL.
const EXIT: Duration = Duration::from_secs(10);

const FIGURES: [(&str, &str); 8] = [
    ("to_connected_s", "s"),
    ("cpu_percent", "% of one core"),
    ("wakeups_per_s", "1/s"),
    ("tree_pss_mb", "MB"),
    ("processes", "processes"),
    ("renderer_pss_mb", "MB"),
    ("renderer_cpu_percent", "% of one core"),
    ("renderer_wakeups_per_s", "1/s"),
];

/// Every figure this benchmark reports, with its unit.
pub fn figure_names() -> Vec<(String, &'static str)> {
    FIGURES
        .iter()
        .map(|(name, unit)| (format!("browser_tab.{name}"), *unit))
        .collect()
}

/// The guide's `SmartHuntWebSocket` class exactly as written: the
/// javascript block that opens with it.
fn guide_client(guide: &str) -> Option<&str> {
    const FENCE: &str = "```javascript\n";
    let start = guide.find(&format!("{FENCE}class SmartHuntWebSocket"))? + FENCE.len();
    let len = guide[start..].find("\n```")?;
    Some(&guide[start..start + len])
}

/// The tab's page: the guide's class, then what the guide's React hook
/// does with it, without React: connect with the access token, show the
/// unread count, stay connected. `None` when the class would end the
/// script element early.
fn page(client: &str, access_token: &str) -> Option<String> {
    if client.contains("</script") {
        return None;
    }
    // A JSON string is a JavaScript string literal.
    let token = serde_json::Value::from(access_token).to_string();
    Some(format!(
        r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>SmartHunt</title>
<p>Unread notifications: <span id="unread">?</span></p>
<script>
{client}

const socket = new SmartHuntWebSocket({token});
socket.on('connected', () => {{
    document.title = 'SmartHunt: connected';
}});
socket.on('unreadCount', (data) => {{
    document.getElementById('unread').textContent = String(data.count);
}});
socket.connect();
</script>
</html>
"#
    ))
}

/// What one process of the browser is, from its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A renderer that may show a web page: the tab's, or the spare one
    /// Chromium keeps started for the next navigation.
    PageRenderer,
    /// A renderer that never shows the tab: an extension's
    /// (`--extension-process`) or Chromium's own WebUI's (a `--...webui...`
    /// flag, e.g. `--top-chrome-webui`).
    OtherRenderer(&'static str),
    /// Any other process, by what it does: "browser", "zygote",
    /// "gpu-process", "utility NetworkService", "crash handler", ...
    Other(String),
}

fn part_of(command_line: &str) -> Part {
    let program = command_line.split(' ').next().unwrap_or_default();
    let flag = |name: &str| {
        command_line
            .split(' ')
            .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
    };
    let has_flag = |pred: &dyn Fn(&str) -> bool| {
        command_line
            .split(' ')
            .any(|a| a.starts_with("--") && pred(a))
    };
    match flag("--type") {
        Some("renderer") if has_flag(&|a| a == "--extension-process") => {
            Part::OtherRenderer("extension")
        }
        Some("renderer") if has_flag(&|a| a.contains("webui")) => Part::OtherRenderer("WebUI"),
        Some("renderer") => Part::PageRenderer,
        Some("utility") => {
            let service = flag("--utility-sub-type")
                .and_then(|s| s.rsplit('.').next())
                .unwrap_or("?");
            Part::Other(format!("utility {service}"))
        }
        Some(other) => Part::Other(other.to_owned()),
        None if program.contains("crashpad") => Part::Other("crash handler".into()),
        None => Part::Other("browser".into()),
    }
}

/// A renderer that may be the tab's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    pid: u32,
    nice: i64,
    pss_kb: u64,
}

/// The tab's renderer among the page renderers: Chromium runs the renderer
/// of a tab on screen at normal priority and its spare renderer at a lower
/// one (nice 5 against 0 on Linux), so the one with the lowest nice value;
/// between equals, the larger (a spare has loaded no page).
fn tab_renderer(candidates: &[Candidate]) -> Option<Candidate> {
    candidates
        .iter()
        .copied()
        .min_by_key(|c| (c.nice, std::cmp::Reverse(c.pss_kb)))
}

/// How the tab's renderer was told from the other page renderers.
fn picked_note(tab: Candidate, candidates: &[Candidate]) -> String {
    let others: Vec<String> = candidates
        .iter()
        .filter(|c| c.pid != tab.pid)
        .map(|c| c.nice.to_string())
        .collect();
    if others.is_empty() {
        return "the only renderer that may show a page (not an extension's nor Chromium's \
                own WebUI)"
            .to_owned();
    }
    format!(
        "of {} renderers that may show a page (not an extension's nor Chromium's own \
         WebUI), the one at the highest priority (nice {}; the others, Chromium's spare \
         renderer, {}), as a tab on screen is, the larger between equals",
        candidates.len(),
        tab.nice,
        others.join(", ")
    )
}

/// "browser 128.9 MB, zygote ×2 34.1 MB" from what each process is and
/// its PSS (KiB), in the order first seen.
fn tally(parts: &[(String, u64)]) -> String {
    let mut counted: Vec<(&str, usize, u64)> = Vec::new();
    for (label, pss_kb) in parts {
        match counted.iter_mut().find(|(l, _, _)| l == label) {
            Some((_, n, kb)) => {
                *n += 1;
                *kb += pss_kb;
            }
            None => counted.push((label, 1, *pss_kb)),
        }
    }
    counted
        .iter()
        .map(|(label, n, kb)| {
            let mb = *kb as f64 / 1024.0;
            match n {
                1 => format!("{label} {mb:.1} MB"),
                n => format!("{label} ×{n} {mb:.1} MB"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A headless Chromium and every process it started, each stopped by
/// process id (at the latest when this is dropped). It stays in this
/// program's process group, so a Ctrl-C that ends the bench ends it too.
struct Browser {
    child: Child,
    /// The browser process.
    pid: u32,
    /// Its profile and its crash database are in here, so the command line
    /// of each of its processes names it: the processes it forks and its
    /// crash handlers, which leave its tree and start sessions of their own.
    dir: PathBuf,
    log: PathBuf,
    stopped: bool,
}

impl Browser {
    /// Starts Chromium in `session` on `page`, its files in `dir`.
    fn start(
        session: &DesktopSession,
        server: &DevServer,
        dir: &Path,
        page: &Path,
    ) -> BenchResult<Self> {
        let log = dir.join("chromium.log");
        let stderr = std::fs::File::create(&log)
            .map_err(BenchError::io(format!("cannot create {}", log.display())))?;
        let child = session
            .command(CHROMIUM)
            .args([
                "--headless=new".to_owned(),
                // Chromium's sandbox cannot start as root (CI); left out
                // everywhere so that runs compare.
                "--no-sandbox".to_owned(),
                format!("--user-data-dir={}", dir.join("profile").display()),
                "--no-first-run".to_owned(),
                // Nothing but the page's socket leaves the browser: no
                // background downloads, and no host name resolves but the
                // guide's, to the dev server.
                "--disable-background-networking".to_owned(),
                "--disable-component-update".to_owned(),
                "--disable-sync".to_owned(),
                format!(
                    "--host-resolver-rules=MAP {GUIDE_SERVER} {},MAP * ~NOTFOUND",
                    server.addr()
                ),
                format!("file://{}", page.display()),
            ])
            // The crash handlers' database (XDG_CONFIG_HOME/chromium) goes
            // in here too.
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io(format!("cannot start {CHROMIUM}")))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::failed("chromium exited at once"))?;
        Ok(Self {
            child,
            pid,
            dir: dir.to_owned(),
            log,
            stopped: false,
        })
    }

    /// The browser process.
    fn pid(&self) -> u32 {
        self.pid
    }

    /// Every live process of this browser, the browser first when alive.
    fn processes(&self) -> Vec<u32> {
        let marker = self.dir.to_string_lossy();
        let mut found: Vec<u32> = procfs::processes()
            .into_iter()
            .filter(|p| procfs::command_line(*p).is_some_and(|line| line.contains(&*marker)))
            .collect();
        found.sort_by_key(|p| *p != self.pid());
        found
    }

    /// Its processes outside its process tree: the crash handlers.
    fn detached(&self) -> Vec<u32> {
        let tree = procfs::descendants(self.pid());
        self.processes()
            .into_iter()
            .filter(|p| *p != self.pid() && !tree.contains(p))
            .collect()
    }

    /// Why it exited before its page connected, from the end of its log.
    fn exited(&self, status: std::process::ExitStatus) -> BenchError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        BenchError::failed(format!(
            "chromium exited with {status} before its page connected: {}",
            tail.join(" / ")
        ))
    }

    /// Sends `signal` (a `kill` signal name) to every live process of the
    /// browser.
    fn signal(&self, signal: &str) {
        let targets: Vec<String> = self.processes().iter().map(u32::to_string).collect();
        if targets.is_empty() {
            return;
        }
        let _ = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .args(&targets)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// SIGTERM to every process of the browser, SIGKILL after [`EXIT`] to
    /// whatever is left, and waits until none is.
    async fn stop(mut self) {
        let seen = self.processes();
        self.signal("TERM");
        let _ = within(EXIT, "chromium to exit", async {
            while !self.processes().is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        // Again and again, in case one was starting while listed.
        let _ = within(EXIT, "chromium to be killed", async {
            while !self.processes().is_empty() {
                self.signal("KILL");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let _ = self.child.wait().await;
        // Also until init has reaped those it adopted (the crash handlers,
        // the zygotes' children), so none is left even as a zombie.
        let _ = within(EXIT, "chromium to be gone", async {
            while !self.processes().is_empty()
                || seen
                    .iter()
                    .any(|p| Path::new(&format!("/proc/{p}")).exists())
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        self.stopped = true;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.stopped {
            self.signal("KILL");
        }
    }
}

/// CPU time and context switches of the whole browser (its process tree
/// and its crash handlers, which leave the tree) and of the tab's renderer
/// alone, each followed as [`TreeUsage`] does.
struct BrowserUsage {
    tree: TreeUsage,
    detached: Vec<TreeUsage>,
    tab: Option<TreeUsage>,
}

impl BrowserUsage {
    fn start(browser: &Browser, tab: Option<u32>) -> BenchResult<Self> {
        Ok(Self {
            tree: TreeUsage::start(browser.pid())?,
            // A crash handler that ended since it was listed is not followed.
            detached: browser
                .detached()
                .into_iter()
                .filter_map(|p| TreeUsage::start(p).ok())
                .collect(),
            tab: tab.and_then(|p| TreeUsage::start(p).ok()),
        })
    }

    /// Fails only when the browser process cannot be read.
    fn sample(&mut self) -> BenchResult<()> {
        self.tree.sample()?;
        // One that ended keeps what was seen of it.
        for usage in self.detached.iter_mut().chain(self.tab.iter_mut()) {
            let _ = usage.sample();
        }
        Ok(())
    }

    /// CPU seconds and context switches of the whole browser so far.
    fn whole(&self) -> (f64, u64) {
        self.detached.iter().fold(
            (self.tree.cpu_seconds(), self.tree.switches()),
            |(cpu, switches), u| (cpu + u.cpu_seconds(), switches + u.switches()),
        )
    }

    /// CPU seconds and context switches of the tab's renderer so far.
    fn tab(&self) -> Option<(f64, u64)> {
        self.tab.as_ref().map(|u| (u.cpu_seconds(), u.switches()))
    }
}

/// CPU % of one core and wake-ups per second, window by window.
#[derive(Debug, Default)]
struct Rates {
    cpu_percent: Vec<f64>,
    wakeups_per_s: Vec<f64>,
}

impl Rates {
    fn push(&mut self, before: (f64, u64), after: (f64, u64), seconds: f64) {
        self.cpu_percent
            .push((after.0 - before.0) / seconds * 100.0);
        self.wakeups_per_s
            .push(after.1.saturating_sub(before.1) as f64 / seconds);
    }
}

/// What was measured of the tab's renderer.
struct TabRenderer {
    pss_mb: f64,
    cpu_percent_total: f64,
    wakeups_total: f64,
    rates: Rates,
    /// How it was told from the other page renderers.
    picked: String,
}

/// What was measured of the browser with the tab open.
struct TabCost {
    to_connected_s: f64,
    cpu_percent_total: f64,
    wakeups_total: f64,
    rates: Rates,
    tree_pss_mb: f64,
    /// What each process of the browser is and its PSS (KiB), the browser
    /// first.
    parts: Vec<(String, u64)>,
    renderer: BenchResult<TabRenderer>,
    measured_s: f64,
    /// Set when the page reconnected while measured.
    disturbed: Option<String>,
}

/// Measures and returns every figure of [`figure_names`].
pub async fn run(plan: &IdlePlan) -> Vec<(String, Figure)> {
    match measure(plan).await {
        Ok(cost) => figures(plan, cost),
        Err(e) => figure_names()
            .into_iter()
            .map(|(name, unit)| (name, Figure::not_measured(unit, e.to_string())))
            .collect(),
    }
}

async fn measure(plan: &IdlePlan) -> BenchResult<TabCost> {
    if smarthunt_desktop_session::require(&[CHROMIUM]).is_err() {
        return Err(BenchError::failed(
            "Debian's `chromium` is not installed (scripts/setup installs it)",
        ));
    }
    let client = guide_client(GUIDE).ok_or_else(|| {
        BenchError::failed("the integration guide's copy has no `SmartHuntWebSocket` class")
    })?;
    with_session_and_server(async |session, server| measure_in(session, server, client, plan).await)
        .await?
}

async fn measure_in(
    session: &DesktopSession,
    server: &DevServer,
    client: &str,
    plan: &IdlePlan,
) -> BenchResult<TabCost> {
    let (access, _) = server
        .tokens(TENANT.0, TENANT.1)
        .await
        .map_err(|e| BenchError::failed(format!("no token for the tab: {e}")))?;
    let dir = session.home().join("browser-tab");
    std::fs::create_dir_all(&dir)
        .map_err(BenchError::io(format!("cannot create {}", dir.display())))?;
    let page_path = dir.join("index.html");
    let page = page(client, &access)
        .ok_or_else(|| BenchError::failed("the guide's class cannot be put in a page"))?;
    std::fs::write(&page_path, page).map_err(BenchError::io(format!(
        "cannot write {}",
        page_path.display()
    )))?;

    let launched = Instant::now();
    let mut browser = Browser::start(session, server, &dir, &page_path)?;
    let cost = tab_cost(&mut browser, server, plan, launched).await;
    browser.stop().await;
    cost
}

/// Waits for the page's socket, lets the browser settle, and measures it.
async fn tab_cost(
    browser: &mut Browser,
    server: &DevServer,
    plan: &IdlePlan,
    launched: Instant,
) -> BenchResult<TabCost> {
    let to_connected = within(
        CONNECT,
        "the tab's socket to open at the dev server",
        async {
            loop {
                let stats = server.stats();
                if stats.connections_open > 0 {
                    return Ok(launched.elapsed());
                }
                if stats.handshakes_rejected > 0 {
                    return Err(BenchError::failed(
                        "the dev server refused the tab's socket",
                    ));
                }
                if let Ok(Some(status)) = browser.child.try_wait() {
                    return Err(browser.exited(status));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await??;
    tokio::time::sleep(plan.settle).await;
    let handshakes = server.stats().handshakes_total;

    let candidates: Vec<Candidate> = procfs::descendants(browser.pid())
        .into_iter()
        .filter(|p| procfs::command_line(*p).is_some_and(|l| part_of(&l) == Part::PageRenderer))
        .filter_map(|pid| {
            Some(Candidate {
                pid,
                nice: procfs::nice(pid)?,
                pss_kb: procfs::memory(pid).ok()?.pss_kb,
            })
        })
        .collect();
    let tab = tab_renderer(&candidates);
    let mut usage = BrowserUsage::start(browser, tab.map(|c| c.pid))?;
    let started = Instant::now();
    let (mut whole_rates, mut tab_rates) = (Rates::default(), Rates::default());
    for _ in 0..plan.windows.max(1) {
        let (whole_before, tab_before) = (usage.whole(), usage.tab());
        let took = one_window(plan.window, || usage.sample()).await?;
        whole_rates.push(whole_before, usage.whole(), took);
        if let (Some(before), Some(after)) = (tab_before, usage.tab()) {
            tab_rates.push(before, after, took);
        }
    }
    let measured_s = started.elapsed().as_secs_f64();

    let mb = |kb: u64| kb as f64 / 1024.0;
    let mut parts = Vec::new();
    let mut tree_pss_kb = 0;
    // A process that ends while read is not part of it.
    for pid in browser.processes() {
        let (Some(line), Ok(memory)) = (procfs::command_line(pid), procfs::memory(pid)) else {
            continue;
        };
        tree_pss_kb += memory.pss_kb;
        let part = match part_of(&line) {
            Part::PageRenderer if Some(pid) == tab.map(|c| c.pid) => "renderer (the tab)".into(),
            Part::PageRenderer => "renderer (spare)".into(),
            Part::OtherRenderer(of) => format!("renderer ({of})"),
            Part::Other(what) => what,
        };
        parts.push((part, memory.pss_kb));
    }
    let renderer = match (tab, usage.tab()) {
        (Some(tab), Some((cpu, switches))) => procfs::memory(tab.pid).map(|memory| TabRenderer {
            pss_mb: mb(memory.pss_kb),
            cpu_percent_total: cpu / measured_s * 100.0,
            wakeups_total: switches as f64 / measured_s,
            rates: tab_rates,
            picked: picked_note(tab, &candidates),
        }),
        _ => Err(BenchError::failed(
            "no renderer that may show a page among the browser's processes",
        )),
    };
    let stats = server.stats();
    let disturbed =
        (stats.connections_open != 1 || stats.handshakes_total != handshakes).then(|| {
            format!(
                "the page reconnected while measured ({} handshakes, {} open)",
                stats.handshakes_total - handshakes,
                stats.connections_open
            )
        });
    let (cpu, switches) = usage.whole();
    Ok(TabCost {
        to_connected_s: to_connected.as_secs_f64(),
        cpu_percent_total: cpu / measured_s * 100.0,
        wakeups_total: switches as f64 / measured_s,
        rates: whole_rates,
        tree_pss_mb: mb(tree_pss_kb),
        parts,
        renderer,
        measured_s,
        disturbed,
    })
}

fn figures(plan: &IdlePlan, c: TabCost) -> Vec<(String, Figure)> {
    let name = |n: &str| format!("browser_tab.{n}");
    let window_note = format!(
        "{:.0} s connected and idle, from {:.0} s after its socket opened: headless \
         Chromium (it paints no window) showing one page that runs the integration \
         guide's SmartHuntWebSocket, signed in as the tenant",
        c.measured_s,
        plan.settle.as_secs_f64()
    );
    let window_note = match &c.disturbed {
        Some(d) => format!("{window_note}; {d}"),
        None => window_note,
    };
    let processes = format!("{} process(es): {}", c.parts.len(), tally(&c.parts));
    let mut figures = vec![
        (
            name("to_connected_s"),
            Figure::single("s", c.to_connected_s).with_note(
                "launch of Chromium on the page until the page's socket is open at the \
                 dev server, a fresh profile; compare start.to_connected_s",
            ),
        ),
        (
            name("cpu_percent"),
            Figure::from_runs("% of one core", c.rates.cpu_percent)
                .with_value(c.cpu_percent_total)
                .with_note(format!(
                    "utime+stime of every process of the browser (its tree and its crash \
                     handlers) over the whole time; runs are its windows; {window_note}; \
                     compare idle.window_closed.cpu_percent (the tray app in the tray)"
                )),
        ),
        (
            name("wakeups_per_s"),
            Figure::from_runs("1/s", c.rates.wakeups_per_s)
                .with_value(c.wakeups_total)
                .with_note(
                    "voluntary + involuntary context switches of all threads of every \
                     process of the browser; compare idle.window_closed.wakeups_per_s",
                ),
        ),
        (
            name("tree_pss_mb"),
            Figure::single("MB", c.tree_pss_mb).with_note(format!(
                "PSS summed over {processes}; what the tab costs when the browser runs \
                 for it alone; compare idle.window_closed.tree_pss_mb"
            )),
        ),
        (
            name("processes"),
            Figure::single("processes", c.parts.len() as f64).with_note(
                "processes of the browser: its tree and its crash handlers (they leave \
                 the tree; found by the directory of the browser's profile and crash \
                 database in their command line)",
            ),
        ),
    ];
    let renderer_names = [
        "renderer_pss_mb",
        "renderer_cpu_percent",
        "renderer_wakeups_per_s",
    ];
    match c.renderer {
        Ok(r) => figures.extend([
            (
                name("renderer_pss_mb"),
                Figure::single("MB", r.pss_mb).with_note(format!(
                    "PSS of the tab's renderer alone: what the tab costs in a browser that \
                     is open anyway; it is, {}; compare idle.window_closed.tree_pss_mb",
                    r.picked
                )),
            ),
            (
                name("renderer_cpu_percent"),
                Figure::from_runs("% of one core", r.rates.cpu_percent)
                    .with_value(r.cpu_percent_total)
                    .with_note(
                        "utime+stime of the tab's renderer alone (the browser's network \
                         process reads the socket for it, and is not counted); runs are \
                         the windows; compare idle.window_closed.cpu_percent",
                    ),
            ),
            (
                name("renderer_wakeups_per_s"),
                Figure::from_runs("1/s", r.rates.wakeups_per_s)
                    .with_value(r.wakeups_total)
                    .with_note(
                        "context switches of the tab's renderer's threads; compare \
                         idle.window_closed.wakeups_per_s",
                    ),
            ),
        ]),
        Err(e) => figures.extend(renderer_names.iter().map(|n| {
            let unit = FIGURES
                .iter()
                .find(|(f, _)| f == n)
                .map_or("", |(_, unit)| *unit);
            (name(n), Figure::not_measured(unit, e.to_string()))
        })),
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_runs_the_guides_class_exactly_as_written() {
        let client = guide_client(GUIDE).expect("the guide has the class");
        assert!(client.starts_with("class SmartHuntWebSocket {"));
        assert!(client.ends_with('}'));
        assert!(client.contains("ws://localhost:8000/ws/notifications/?token="));
        assert!(client.contains("handleReconnection()"));
        assert!(
            GUIDE.contains(&format!("```javascript\n{client}\n```")),
            "the block is taken whole"
        );
        let page = page(client, "a.b-c_d").expect("the class fits in a page");
        assert!(page.contains(client));
        assert!(page.contains(r#"new SmartHuntWebSocket("a.b-c_d")"#));
        assert!(page.contains("socket.connect();"));
    }

    #[test]
    fn a_class_that_would_close_the_script_makes_no_page() {
        assert_eq!(page("class X { m() { return '</script>'; } }", "t"), None);
        assert_eq!(guide_client("no code here"), None);
    }

    #[test]
    fn processes_are_told_apart_by_their_command_line() {
        let chromium = "/usr/lib/chromium/chromium";
        let cases = [
            (
                format!("{chromium} --show-component-extension-options --headless=new"),
                Part::Other("browser".into()),
            ),
            (
                format!("{chromium} --type=zygote --no-zygote-sandbox --no-sandbox"),
                Part::Other("zygote".into()),
            ),
            (
                format!("{chromium} --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US"),
                Part::Other("utility NetworkService".into()),
            ),
            (
                format!("{chromium} --type=renderer --top-chrome-webui --crashpad-handler-pid=0"),
                Part::OtherRenderer("WebUI"),
            ),
            (
                format!("{chromium} --type=renderer --extension-process --renderer-client-id=8"),
                Part::OtherRenderer("extension"),
            ),
            (
                format!("{chromium} --type=renderer --crashpad-handler-pid=0 --renderer-client-id=6"),
                Part::PageRenderer,
            ),
            (
                "/usr/lib/chromium/chrome_crashpad_handler --monitor-self --database=/h/config/chromium/Crash Reports".into(),
                Part::Other("crash handler".into()),
            ),
        ];
        for (line, part) in cases {
            assert_eq!(part_of(&line), part, "{line}");
        }
    }

    #[test]
    fn the_tab_is_the_page_renderer_at_the_highest_priority() {
        let c = |pid, nice, pss_kb| Candidate { pid, nice, pss_kb };
        // The spare renderer is larger here, and still not the tab.
        assert_eq!(
            tab_renderer(&[c(7, 5, 90_000), c(6, 0, 40_000)]).map(|c| c.pid),
            Some(6)
        );
        // Equal priorities: the larger has loaded a page.
        assert_eq!(
            tab_renderer(&[c(7, 0, 21_000), c(6, 0, 40_000)]).map(|c| c.pid),
            Some(6)
        );
        assert_eq!(tab_renderer(&[]), None);
    }

    #[test]
    fn a_tally_sums_each_kind_once_in_the_order_first_seen() {
        let parts: Vec<(String, u64)> = [
            ("browser", 2048),
            ("zygote", 1024),
            ("renderer (spare)", 512),
            ("zygote", 1536),
        ]
        .map(|(label, kb)| (label.to_owned(), kb))
        .into();
        assert_eq!(
            tally(&parts),
            "browser 2.0 MB, zygote ×2 2.5 MB, renderer (spare) 0.5 MB"
        );
        assert_eq!(tally(&[]), "");
    }

    #[test]
    fn every_figure_is_named_under_browser_tab() {
        let names = figure_names();
        assert_eq!(names.len(), FIGURES.len());
        assert!(names.iter().all(|(n, _)| n.starts_with("browser_tab.")));
        for wanted in [
            "browser_tab.cpu_percent",
            "browser_tab.wakeups_per_s",
            "browser_tab.tree_pss_mb",
            "browser_tab.renderer_pss_mb",
            "browser_tab.processes",
        ] {
            assert!(names.iter().any(|(n, _)| n == wanted), "{wanted}");
        }
    }
}
