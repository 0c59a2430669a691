//! What a process costs, read from /proc: CPU time, context switches of
//! each thread, memory (private, PSS, peak) and its descendants. Linux only.
//! It only reads, except for resetting this process's own peak RSS.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{BenchError, BenchResult};

fn read(path: PathBuf) -> BenchResult<String> {
    std::fs::read_to_string(&path)
        .map_err(BenchError::io(format!("cannot read {}", path.display())))
}

/// The fields of /proc/PID/stat after the command name (which may itself
/// contain spaces and parentheses): index 0 is field 3, `state`.
fn stat_fields(pid: u32) -> BenchResult<Vec<String>> {
    let text = read(PathBuf::from(format!("/proc/{pid}/stat")))?;
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| BenchError::failed(format!("/proc/{pid}/stat is not understood")))?;
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

/// Kernel clock ticks per second (the unit of utime/stime).
pub fn clock_ticks_per_s() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User plus system CPU time of the whole process (all its threads, also
/// those that have exited), in seconds.
pub fn cpu_seconds(pid: u32, ticks_per_s: f64) -> BenchResult<f64> {
    let f = stat_fields(pid)?;
    // utime and stime are fields 14 and 15.
    let field = |i: usize| -> BenchResult<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| BenchError::failed(format!("/proc/{pid}/stat has no field {}", i + 3)))
    };
    Ok((field(11)? + field(12)?) / ticks_per_s)
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid).ok()?.get(1)?.parse().ok()
}

/// Voluntary plus involuntary context switches of each live thread.
pub fn thread_switches(pid: u32) -> BenchResult<HashMap<u32, u64>> {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let entries = std::fs::read_dir(&dir)
        .map_err(BenchError::io(format!("cannot list {}", dir.display())))?;
    let mut out = HashMap::new();
    for entry in entries.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread may exit between listing and reading: skip it.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let switches = status
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                matches!(k, "voluntary_ctxt_switches" | "nonvoluntary_ctxt_switches")
                    .then(|| v.trim().parse::<u64>().ok())
                    .flatten()
            })
            .sum();
        out.insert(tid, switches);
    }
    Ok(out)
}

/// CPU time and context switches (each one a wake-up of a thread) of a
/// process and all its descendants over a span. Counted per process and per
/// thread, so that processes and threads starting during the span count
/// fully, and those ending during it keep what was seen of them at the last
/// sample.
pub struct TreeUsage {
    root: u32,
    ticks_per_s: f64,
    cpu_at_start: HashMap<u32, f64>,
    cpu_latest: HashMap<u32, f64>,
    switches_at_start: HashMap<u32, u64>,
    switches_latest: HashMap<u32, u64>,
}

impl TreeUsage {
    pub fn start(root: u32) -> BenchResult<Self> {
        let mut usage = Self {
            root,
            ticks_per_s: clock_ticks_per_s(),
            cpu_at_start: HashMap::new(),
            cpu_latest: HashMap::new(),
            switches_at_start: HashMap::new(),
            switches_latest: HashMap::new(),
        };
        usage.sample()?;
        usage.cpu_at_start = usage.cpu_latest.clone();
        usage.switches_at_start = usage.switches_latest.clone();
        Ok(usage)
    }

    /// Call often (every second or so) so short-lived threads and processes
    /// are seen. Fails only when the root process cannot be read.
    pub fn sample(&mut self) -> BenchResult<()> {
        let root_cpu = cpu_seconds(self.root, self.ticks_per_s)?;
        self.cpu_latest.insert(self.root, root_cpu);
        self.switches_latest.extend(thread_switches(self.root)?);
        // A descendant may exit between listing and reading: skip it.
        for pid in descendants(self.root) {
            if let Ok(cpu) = cpu_seconds(pid, self.ticks_per_s) {
                self.cpu_latest.insert(pid, cpu);
            }
            if let Ok(switches) = thread_switches(pid) {
                self.switches_latest.extend(switches);
            }
        }
        Ok(())
    }

    /// CPU seconds used by the tree between `start` and the last sample.
    pub fn cpu_seconds(&self) -> f64 {
        grown(&self.cpu_at_start, &self.cpu_latest, |a, b| {
            (a - b).max(0.0)
        })
    }

    /// Context switches of the tree between `start` and the last sample.
    pub fn switches(&self) -> u64 {
        grown(
            &self.switches_at_start,
            &self.switches_latest,
            u64::saturating_sub,
        )
    }
}

/// How much each counter grew since it was first seen (from zero when it
/// was not there at the start), summed.
fn grown<T: Copy + Default + std::iter::Sum>(
    at_start: &HashMap<u32, T>,
    latest: &HashMap<u32, T>,
    minus: impl Fn(T, T) -> T,
) -> T {
    latest
        .iter()
        .map(|(id, n)| minus(*n, at_start.get(id).copied().unwrap_or_default()))
        .sum()
}

/// Memory of one process from /proc/PID/smaps_rollup, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub rss_kb: u64,
    /// Proportional set size: shared pages divided among their users, so
    /// the PSS of a process tree adds up without double counting.
    pub pss_kb: u64,
    /// Private_Clean + Private_Dirty: what this process alone holds,
    /// including pages of its executable that no other process maps.
    pub private_kb: u64,
    /// Anonymous pages: heap, stacks and other memory not backed by a file.
    pub anonymous_kb: u64,
}

pub fn memory(pid: u32) -> BenchResult<Memory> {
    let text = read(PathBuf::from(format!("/proc/{pid}/smaps_rollup")))?;
    let mut m = Memory::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let kb = v
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
        match k {
            "Rss" => m.rss_kb = kb,
            "Pss" => m.pss_kb = kb,
            "Private_Clean" | "Private_Dirty" => m.private_kb += kb,
            "Anonymous" => m.anonymous_kb = kb,
            _ => {}
        }
    }
    Ok(m)
}

/// Every live descendant of `pid` (children, grandchildren, ...).
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|p| Some((p, parent_of(p)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            found.push(child);
            frontier.push(child);
        }
    }
    found
}

/// The command name and memory of `pid` (first) and of each of its
/// descendants. A descendant that ends while read is not part of it; the
/// root must be readable.
pub fn tree_memory(pid: u32) -> BenchResult<Vec<(String, Memory)>> {
    let mut tree = vec![(
        command_name(pid).unwrap_or_else(|| "?".into()),
        memory(pid)?,
    )];
    tree.extend(
        descendants(pid)
            .into_iter()
            .filter_map(|p| Some((command_name(p)?, memory(p).ok()?))),
    );
    Ok(tree)
}

/// The command name of a process (as `ps` shows it).
pub fn command_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The app's window process (`smarthunt-window`, cut to 15 bytes).
pub fn is_window_process(command_name: &str) -> bool {
    command_name.starts_with("smarthunt-windo")
}

/// A WebKitGTK web process (it renders a page), by its command name, which
/// the kernel cuts to 15 bytes ("WebKitWebProces").
pub fn is_webkit_web_process(command_name: &str) -> bool {
    command_name.starts_with("WebKitWebProc")
}

/// A WebKitGTK network process ("WebKitNetworkPr"), shared by the webviews
/// of one process.
pub fn is_webkit_network_process(command_name: &str) -> bool {
    command_name.starts_with("WebKitNetwork")
}

/// Every live process.
pub fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line of a process, its arguments joined by spaces (a
/// process that rewrote its title, as Chromium's children do, has it as one
/// string already).
pub fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<_> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect();
    Some(args.join(" "))
}

/// The nice value of a process's main thread (0 normal, higher is lower
/// priority).
pub fn nice(pid: u32) -> Option<i64> {
    // `nice` is field 19.
    stat_fields(pid).ok()?.get(16)?.parse().ok()
}

/// A `kB` field of this process's /proc/self/status (`VmHWM`, `VmRSS`).
pub fn own_status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field)
            .then(|| v.trim().trim_end_matches("kB").trim().parse().ok())
            .flatten()
    })
}

/// Resets this process's peak RSS (VmHWM) to its current RSS.
pub fn reset_own_peak_rss() -> BenchResult<()> {
    std::fs::write("/proc/self/clear_refs", "5").map_err(BenchError::io(
        "cannot reset the peak RSS (/proc/self/clear_refs)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let ticks = clock_ticks_per_s();
        assert!(cpu_seconds(me, ticks).unwrap() >= 0.0);
        assert!(thread_switches(me).unwrap().contains_key(&me));
        let m = memory(me).unwrap();
        assert!(m.rss_kb > 0 && m.private_kb > 0 && m.pss_kb > 0, "{m:?}");
        assert!(own_status_kb("VmHWM").unwrap() >= own_status_kb("VmRSS").unwrap() / 2);
    }

    #[test]
    fn growth_counts_newcomers_from_zero_and_keeps_what_was_seen_of_leavers() {
        let at_start = HashMap::from([(1, 10), (2, 5)]);
        // 1 grew by 3, 2 ended (last seen at 7), 3 started and reached 4.
        let latest = HashMap::from([(1, 13), (2, 7), (3, 4)]);
        assert_eq!(grown(&at_start, &latest, u64::saturating_sub), 3 + 2 + 4);
        assert_eq!(grown(&latest, &latest, u64::saturating_sub), 0);
    }

    #[test]
    fn a_busy_grandchild_counts_in_the_tree() {
        // An idle shell waiting on what it started: a busy loop, which alone
        // uses CPU, and a loop that wakes every 10 ms. A busy loop with a
        // free core to itself may never be switched out (seen on an idle
        // 2-core machine), so the wake-ups are what make switches certain.
        let mut parent = std::process::Command::new("sh")
            .args([
                "-c",
                "(while :; do :; done) & (while :; do sleep 0.01; done) & wait",
            ])
            .spawn()
            .unwrap();
        let root = parent.id();
        let usage = TreeUsage::start(root);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let sampled = usage.map(|mut u| u.sample().map(|()| u));
        for pid in descendants(root) {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = parent.kill();
        let _ = parent.wait();
        let usage = sampled.unwrap().unwrap();
        assert!(usage.cpu_seconds() > 0.0, "the loop's CPU time counts");
        assert!(usage.switches() > 0);
    }

    #[test]
    fn finds_a_child_among_the_descendants() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id()).contains(&child.id());
        let name = command_name(child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
        assert_eq!(name.as_deref(), Some("sleep"));
    }

    #[test]
    fn reads_the_command_line_and_priority_of_a_niced_child() {
        let mut child = std::process::Command::new("nice")
            .args(["-n", "5", "sleep", "5"])
            .spawn()
            .unwrap();
        // `nice` execs `sleep`: wait until it has.
        let started = std::time::Instant::now();
        while command_name(child.id()).as_deref() != Some("sleep")
            && started.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let (line, niceness) = (command_line(child.id()), nice(child.id()));
        let listed = processes().contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(line.as_deref(), Some("sleep 5"));
        // Five above this test's own (at most 19).
        assert_eq!(niceness, nice(std::process::id()).map(|n| (n + 5).min(19)));
        assert!(listed);
    }
}
