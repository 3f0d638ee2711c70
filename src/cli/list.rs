//! `contend list` and `contend check`: the scenarios of configs, validated without running
//! them, and with no config the names a config can use, explained.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use contend::config;
use contend::exit_code;
use contend::report::words::{count, grouped, printable};
use contend::scenario::{Expectation, Scenario, SyncMode};

use super::output::QuietOnBrokenPipe;

/// Prints the workloads, sync modes, engines, schedulers and expectations.
pub fn list() -> i32 {
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    let mut lines = vec![
        "workloads:".to_string(),
        format!(
            "  {:<16} {}",
            "counter", "threads each add their own delta to a shared counter, ops times"
        ),
        format!(
            "  {:<16} {}",
            "counter-object",
            "the lesson's Counter class: workers pause, then increment() under its lock (or none)"
        ),
        format!(
            "  {:<16} {}",
            "program",
            "critical sections written in [scenario.program]: shared variables, locks, threads' code"
        ),
    ];
    lines.extend(contend::workload::registry::plugins().iter().map(|plugin| {
        format!(
            "  {:<16} {} (plugin; [scenario.params])",
            plugin.name(),
            plugin.description()
        )
    }));
    lines.push("sync modes (sync = ...):".to_string());
    lines.extend(
        SyncMode::ALL
            .iter()
            .map(|m| format!("  {:<16} {}", m.as_str(), m.description())),
    );
    lines.extend([
        "engines (engine = ...):".to_string(),
        format!(
            "  {:<16} {}",
            "threads", "real OS threads behind a barrier, with jitter at every shared access"
        ),
        format!(
            "  {:<16} {}",
            "shuttle", "controlled executions: every shared access is a scheduling point"
        ),
        format!(
            "  {:<16} {}",
            "async", "tasks on one thread that switch only at an await (the lesson's coroutines)"
        ),
        format!(
            "  {:<16} {}",
            "processes",
            "one OS process per thread, jitter at every shared access; sync = \"mutex\" is a \
             file lock across the processes, `timeout` bounds an execution"
        ),
        "processes storage (storage = ...):".to_string(),
        format!(
            "  {:<16} {}",
            "shared-memory", "the counter in memory the workers share (default)"
        ),
        format!(
            "  {:<16} {}",
            "manager",
            "the counter in a server, get then set over a Unix socket (Python's \
             Manager().Value); sync none or mutex"
        ),
        "async executors (executor = ...):".to_string(),
        format!("  {:<16} {}", "tokio", "tokio's current-thread runtime"),
        format!(
            "  {:<16} {}",
            "shuttle", "shuttle's executor: every await is a scheduling point of `scheduler`"
        ),
        "shuttle schedulers (scheduler = ...):".to_string(),
        format!(
            "  {:<16} {}",
            "random", "a uniformly random choice of thread at every step"
        ),
        format!(
            "  {:<16} {}",
            "pct", "probabilistic concurrency testing, bug depth set by `depth` (default 3)"
        ),
        format!(
            "  {:<16} {}",
            "dfs", "exhaustive depth-first search of the schedules, up to `runs` of them"
        ),
        format!(
            "  {:<16} {}",
            "dpor", "exhaustive search, one execution per class of equivalent interleavings"
        ),
        "expectations (expect = ...):".to_string(),
    ]);
    lines.extend(
        Expectation::ALL
            .iter()
            .map(|expect| format!("  {:<16} {}", expect.as_str(), expect.describe())),
    );
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    exit_code::PASS
}

/// The scenarios of every config, validated; the first error names its file, line and key.
fn load_all(configs: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, Vec<Scenario>)>> {
    let mut loaded: Vec<(PathBuf, Vec<Scenario>)> = Vec::new();
    let mut defined_in: HashMap<String, PathBuf> = HashMap::new();
    for path in configs {
        if loaded.iter().any(|(p, _)| p == path) {
            anyhow::bail!("{}: the config is given twice", path.display());
        }
        let scenarios = config::load(path)?;
        for scenario in &scenarios {
            if let Some(first) = defined_in.insert(scenario.name.clone(), path.clone()) {
                anyhow::bail!(
                    "{}: scenario `{}` is also defined in {}; names must be unique in a run",
                    path.display(),
                    printable(&scenario.name),
                    first.display()
                );
            }
        }
        loaded.push((path.clone(), scenarios));
    }
    Ok(loaded)
}

/// Lists the scenarios of `configs`: name, workload, engine, runs, expectation and where
/// each is defined; exit 2 if a config is invalid.
pub fn scenarios(configs: &[PathBuf]) -> anyhow::Result<i32> {
    let loaded = load_all(configs)?;
    let rows: Vec<[String; 6]> = loaded
        .iter()
        .flat_map(|(path, scenarios)| scenarios.iter().map(move |s| row(path, s)))
        .collect();
    let header = ["scenario", "workload", "engine", "runs", "expect", "config"].map(String::from);
    let mut widths = [0; 6];
    for row in rows.iter().chain([&header]) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    for row in [&header].into_iter().chain(&rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:<w4$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(exit_code::PASS)
}

fn row(path: &Path, scenario: &Scenario) -> [String; 6] {
    let place = match &scenario.origin {
        Some(origin) => format!("{}:{}", origin.file.display(), origin.line),
        None => path.display().to_string(),
    };
    [
        printable(&scenario.name).into_owned(),
        scenario.workload.name().to_string(),
        scenario.engine.name().to_string(),
        grouped(scenario.runs.into()),
        scenario.expect.as_str().to_string(),
        printable(&place).into_owned(),
    ]
}

/// Validates `configs` without running them: one line per valid config, exit 2 at the first
/// invalid one with its file, line and key.
pub fn check(configs: &[PathBuf]) -> anyhow::Result<i32> {
    let loaded = load_all(configs)?;
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    for (path, scenarios) in &loaded {
        writeln!(
            out,
            "{}: ok, {}",
            path.display(),
            count(scenarios.len() as u64, "scenario")
        )?;
    }
    Ok(exit_code::PASS)
}
