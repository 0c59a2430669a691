//! What machine the figures were measured on (CPU model and count, memory,
//! kernel), read from /proc. Missing facts read as "unknown", never an error.

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    /// CPUs this process may run on.
    pub cpu_count: usize,
    pub memory_total_mb: u64,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cpu_count = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_total_mb = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown kernel".into());
        Self {
            cpu_model,
            cpu_count,
            memory_total_mb,
            kernel,
        }
    }

    /// The 1-minute load average now: other work on the machine (a build,
    /// another test) makes latencies noisy, so the report records it.
    pub fn load_average() -> Option<f64> {
        std::fs::read_to_string("/proc/loadavg")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// One line for the README: "AMD EPYC 7B13, 2 CPUs, 23.5 GiB RAM, Linux 6.1".
    pub fn describe(&self) -> String {
        format!(
            "{}, {} CPU{}, {:.1} GiB RAM, {}",
            self.cpu_model,
            self.cpu_count,
            if self.cpu_count == 1 { "" } else { "s" },
            self.memory_total_mb as f64 / 1024.0,
            self.kernel
        )
    }
}
