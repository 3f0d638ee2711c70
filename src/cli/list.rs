//! `contend list`: the names a config can use, explained.

use std::io::{self, Write};

use contend::exit_code;
use contend::scenario::SyncMode;

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
        "sync modes (sync = ...):".to_string(),
    ];
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
        "expectations (expect = ...):".to_string(),
        format!(
            "  {:<16} {}",
            "lost-updates", "some execution must lose an update (the bug must show)"
        ),
        format!(
            "  {:<16} {}",
            "no-lost-updates", "no execution may lose an update"
        ),
    ]);
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    exit_code::PASS
}
