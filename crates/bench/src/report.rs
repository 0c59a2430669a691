//! The report: figures (what was measured, with median and spread over
//! runs), targets (what was promised, and whether it held), the table on
//! stdout and the JSON file. It measures nothing itself.

use std::path::Path;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{BenchError, BenchResult};
use crate::machine::Machine;
use crate::stats;

/// One measured quantity. `value` is the headline (by default the median
/// of `runs`); `median` and `p90` describe the spread over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    /// One value per repetition, in the order they were measured.
    pub runs: Vec<f64>,
    /// Why the figure is missing, or what to know when reading it.
    pub note: Option<String>,
    /// Whether another machine would give another value.
    pub scale: Scale,
}

/// What a figure's value depends on, from its unit: an absolute time,
/// memory, CPU share or rate is the machine's as much as the app's; a
/// ratio to a floor measured in the same run, or a count (popups,
/// requests, processes, a share of a fleet), should not differ between
/// machines of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Depends on the machine.
    Absolute,
    /// A ratio to this run's floor: should not depend on it.
    Ratio,
    /// A count or share: should not depend on it.
    Count,
}

impl Scale {
    pub fn of(unit: &str) -> Self {
        match unit {
            "x" => Self::Ratio,
            "ms" | "s" | "µs" | "MB" | "1/s" | "% of one core" => Self::Absolute,
            _ => Self::Count,
        }
    }
}

/// Four decimals are more than any of these measurements can resolve.
fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

impl Figure {
    /// A figure whose value is the median of its runs.
    pub fn from_runs(unit: &'static str, runs: Vec<f64>) -> Self {
        let median = stats::median(&runs).map(round);
        Self {
            value: median,
            unit,
            median,
            p90: stats::p90(&runs).map(round),
            runs: runs.into_iter().map(round).collect(),
            note: None,
            scale: Scale::of(unit),
        }
    }

    /// A quantity measured once.
    pub fn single(unit: &'static str, value: f64) -> Self {
        Self::from_runs(unit, vec![value])
    }

    /// Replaces the headline value (e.g. a total over all runs).
    pub fn with_value(mut self, value: f64) -> Self {
        self.value = Some(round(value));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn not_measured(unit: &'static str, reason: impl Into<String>) -> Self {
        Self {
            value: None,
            unit,
            median: None,
            p90: None,
            runs: Vec::new(),
            note: Some(format!("not measured: {}", reason.into())),
            scale: Scale::of(unit),
        }
    }
}

/// What a target promises about its figure's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    Below(f64),
    AtMost(f64),
}

impl Goal {
    fn holds(self, value: f64) -> bool {
        match self {
            Self::Below(limit) => value < limit,
            Self::AtMost(limit) => value <= limit,
        }
    }

    fn describe(self, unit: &str) -> String {
        let (op, limit) = match self {
            Self::Below(l) => ("<", l),
            Self::AtMost(l) => ("<=", l),
        };
        if unit.is_empty() {
            format!("{op} {limit}")
        } else {
            format!("{op} {limit} {unit}")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// The promise, e.g. "< 5 ms".
    pub target: String,
    pub value: Option<f64>,
    pub met: bool,
    pub unit: &'static str,
    /// The figure the value comes from.
    pub figure: String,
    pub note: Option<String>,
}

/// Name -> item, serialised as a JSON object in insertion order (the order
/// the table shows), without changing serde_json's map type for everyone.
#[derive(Debug, Clone)]
pub struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Ordered<T> {
    pub fn insert(&mut self, name: impl Into<String>, item: T) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => *slot = item,
            None => self.0.push((name, item)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(n, t)| (n.as_str(), t))
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, item) in &self.0 {
            map.serialize_entry(name, item)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    /// The cargo profile of the binaries measured (`release` or `debug`).
    pub profile: String,
    /// `full` or `quick`.
    pub mode: &'static str,
    pub started_at: String,
    pub duration_s: f64,
    /// The machine's 1-minute load average at the start, as each section
    /// began, and at the end: near or above the CPU count, other work
    /// competed with the benchmarks and timings are noisy.
    pub load_average: Ordered<Option<f64>>,
    pub figures: Ordered<Figure>,
    pub targets: Ordered<Target>,
}

impl Report {
    pub fn new(machine: Machine, profile: String, mode: &'static str) -> Self {
        Self {
            machine,
            profile,
            mode,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration_s: 0.0,
            load_average: Ordered::default(),
            figures: Ordered::default(),
            targets: Ordered::default(),
        }
    }

    /// Records the load average now, under `moment` ("start", a section, "end").
    pub fn note_load(&mut self, moment: &str) {
        self.load_average.insert(moment, Machine::load_average());
    }

    pub fn figure(&mut self, name: &str, figure: Figure) {
        self.figures.insert(name, figure);
    }

    /// A target judged on the headline value of an already recorded figure.
    pub fn target(&mut self, name: &str, figure: &str, goal: Goal) {
        let (value, unit, note) = match self.figures.get(figure) {
            // A measured figure's note stays with the figure.
            Some(f) => (
                f.value,
                f.unit,
                f.value.is_none().then(|| f.note.clone()).flatten(),
            ),
            None => (None, "", Some(format!("figure {figure} was not recorded"))),
        };
        let met = value.is_some_and(|v| goal.holds(v));
        self.targets.insert(
            name,
            Target {
                target: goal.describe(unit),
                value,
                met,
                unit,
                figure: figure.to_owned(),
                note,
            },
        );
    }

    /// Writes the JSON report, creating its directory.
    pub fn write(&self, path: &Path) -> BenchResult<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(BenchError::io(format!("cannot create {}", dir.display())))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(BenchError::failed)?;
        std::fs::write(path, json)
            .map_err(BenchError::io(format!("cannot write {}", path.display())))
    }

    /// The human-readable table: figures, targets, then the notes they refer to.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut notes: Vec<String> = Vec::new();
        // Identical notes share one number.
        let mut mark = |note: &Option<String>| -> String {
            let Some(n) = note else {
                return String::new();
            };
            let index = match notes.iter().position(|known| known == n) {
                Some(i) => i,
                None => {
                    notes.push(n.clone());
                    notes.len() - 1
                }
            };
            format!(" [{}]", index + 1)
        };
        out.push_str(&format!(
            "SmartHunt Desktop benchmarks: {} binaries, {} run, started {}, took {:.0} s\n",
            self.profile, self.mode, self.started_at, self.duration_s
        ));
        out.push_str(&format!("machine: {}\n", self.machine.describe()));
        let loads: Vec<String> = self
            .load_average
            .iter()
            .map(|(moment, load)| format!("{moment} {}", number(*load)))
            .collect();
        out.push_str(&format!("load average (1 min): {}\n\n", loads.join(", ")));
        out.push_str(&format!(
            "{:<46} {:>10} {:>10} {:>10} {:>5}  unit\n",
            "figure", "value", "median", "p90", "runs"
        ));
        out.push_str(&format!("{}\n", "-".repeat(92)));
        for (name, f) in self.figures.iter() {
            let m = mark(&f.note);
            out.push_str(&format!(
                "{:<46} {:>10} {:>10} {:>10} {:>5}  {}{}\n",
                name,
                number(f.value),
                number(f.median),
                number(f.p90),
                f.runs.len(),
                f.unit,
                m
            ));
        }
        out.push_str(&format!(
            "\n{:<46} {:>16} {:>10}  met\n",
            "target", "goal", "value"
        ));
        out.push_str(&format!("{}\n", "-".repeat(80)));
        for (name, t) in self.targets.iter() {
            let m = mark(&t.note);
            out.push_str(&format!(
                "{:<46} {:>16} {:>10}  {}{}\n",
                name,
                t.target,
                number(t.value),
                if t.met { "yes" } else { "NO" },
                m
            ));
        }
        if !notes.is_empty() {
            out.push_str("\nnotes:\n");
            for (i, n) in notes.iter().enumerate() {
                out.push_str(&format!("  [{}] {n}\n", i + 1));
            }
        }
        out
    }
}

/// A number with as many decimals as its size deserves; "n/a" when missing.
fn number(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v.abs() >= 1000.0 || (v.fract() == 0.0 && v.abs() < 1e15) => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report::new(Machine::default(), "release".into(), "full")
    }

    #[test]
    fn a_target_is_met_only_by_a_measured_value_within_the_goal() {
        let mut r = report();
        r.figure("fast", Figure::from_runs("ms", vec![1.0, 2.0, 3.0]));
        r.figure("missing", Figure::not_measured("ms", "no display"));
        r.target("fast_enough", "fast", Goal::Below(5.0));
        r.target("too_strict", "fast", Goal::Below(2.0));
        r.target("unknown", "missing", Goal::Below(5.0));
        let t = |n: &str| r.targets.get(n).unwrap().clone();
        assert!(t("fast_enough").met);
        assert_eq!(t("fast_enough").value, Some(2.0));
        assert_eq!(t("fast_enough").target, "< 5 ms");
        assert!(!t("too_strict").met);
        assert!(!t("unknown").met);
        assert_eq!(t("unknown").value, None);
        assert!(t("unknown").note.unwrap().contains("no display"));
    }

    #[test]
    fn json_keeps_the_table_order_and_every_field() {
        let mut r = report();
        r.figure("b", Figure::single("MB", 3.0));
        r.figure("a", Figure::not_measured("ms", "later"));
        r.target("b_small", "b", Goal::AtMost(3.0));
        let v = serde_json::to_value(&r).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.find("\"b\"").unwrap() < text.find("\"a\"").unwrap());
        for key in ["value", "unit", "median", "p90", "runs"] {
            assert!(v["figures"]["a"].get(key).is_some(), "{key}");
        }
        assert_eq!(v["figures"]["a"]["value"], serde_json::Value::Null);
        assert_eq!(v["targets"]["b_small"]["met"], true);
        assert!(r.table().contains("not measured: later"));
    }
}
