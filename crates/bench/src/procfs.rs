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

/// Context switches (each one a wake-up of a thread) over a window, counted
/// per thread so that threads starting during the window count fully and
/// threads ending during it keep what was seen of them at the last sample.
pub struct SwitchCounter {
    pid: u32,
    at_start: HashMap<u32, u64>,
    latest: HashMap<u32, u64>,
}

impl SwitchCounter {
    pub fn start(pid: u32) -> BenchResult<Self> {
        let now = thread_switches(pid)?;
        Ok(Self {
            pid,
            at_start: now.clone(),
            latest: now,
        })
    }

    /// Call often (every second or so) so short-lived threads are seen.
    pub fn sample(&mut self) -> BenchResult<()> {
        for (tid, n) in thread_switches(self.pid)? {
            self.latest.insert(tid, n);
        }
        Ok(())
    }

    pub fn total(&self) -> u64 {
        self.latest
            .iter()
            .map(|(tid, n)| n.saturating_sub(self.at_start.get(tid).copied().unwrap_or(0)))
            .sum()
    }
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

/// The command name of a process (as `ps` shows it).
pub fn command_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
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
}
