//! The `[target]` of a schedule file: what the schedule runs, a built-in counter's scenario, a
//! plugin workload's or a program's, or a check. In the file it is one table whose `kind` says
//! which, read as plain keys (so that an error names its key and line) and then checked for the
//! keys its kind needs.

use serde::{Deserialize, Serialize};

use crate::sync_mode::SyncMode;

/// What a schedule runs: `[target]`, whose `kind` says which.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTarget", into = "RawTarget")]
pub enum Target {
    /// A scenario of a built-in counter workload (`counter`, `counter-object`).
    Counter(CounterTarget),
    /// A scenario of a plugin workload or a program.
    Workload(WorkloadTarget),
    /// A check of `contend::check`.
    Check(CheckTarget),
}

/// A scenario of a built-in counter workload, as configured, and the shrunk counter the
/// schedule runs.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterTarget {
    /// The scenario's name.
    pub name: String,
    /// Its workload: `counter` or `counter-object`.
    pub workload: String,
    /// The engine that ran it.
    pub engine: String,
    /// The shuttle scheduler, for the shuttle engine.
    pub scheduler: Option<String>,
    /// Its seed.
    pub seed: u64,
    /// Its synchronization.
    pub sync: SyncMode,
    /// The counter's initial value.
    pub initial: i64,
    /// Its threads.
    pub threads: Vec<ThreadRecord>,
    /// The longest pause before an increment, for workload `counter-object`.
    pub max_pause_ms: Option<u64>,
    /// The shrunk counter the schedule runs.
    pub shrunk: ShrunkCounter,
}

/// The (possibly shrunk) counter a schedule runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrunkCounter {
    /// Its initial value.
    pub initial: i64,
    /// Its threads; task `i` of the schedule is the `i`-th.
    pub threads: Vec<ThreadRecord>,
}

/// What one thread of a counter does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRecord {
    /// The thread's name in the scenario, where shrinking kept only some threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Added to the counter by each update.
    pub delta: i64,
    /// Number of updates.
    pub ops: u64,
}

/// A scenario of a plugin workload or a program, and the parameters the schedule runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadTarget {
    /// The scenario's name.
    pub name: String,
    /// The workload's name.
    pub workload: String,
    /// The engine the failure showed on.
    pub engine: String,
    /// Its seed.
    pub seed: u64,
    /// The scenario's parameters, as configured.
    pub params: toml::Table,
    /// The parameters the schedule runs with: the scenario's, or a smaller variant of them.
    pub shrunk: toml::Table,
}

/// A check of `contend::check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckTarget {
    /// The check's name: only that check replays the file.
    pub name: String,
    /// The `cargo test` command that replays the file, as it was saved.
    pub command: String,
    /// The scheduler that found the failure: `random`, `pct`, `dfs` or `dpor`.
    pub scheduler: String,
    /// PCT's depth, for `pct`.
    pub depth: Option<usize>,
    /// The check's seed.
    pub seed: u64,
}

/// `[target]` as the file holds it: the keys of every kind, each kind's own checked when it
/// becomes a [`Target`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: TargetKind,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    depth: Option<usize>,
    seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sync: Option<SyncMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    initial: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_pause_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threads: Option<Vec<ThreadRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shrunk: Option<RawShrunk>,
}

/// `[target.shrunk]`: a counter's shrunk `initial` and `threads`, or a workload's `params`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShrunk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    initial: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threads: Option<Vec<ThreadRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<toml::Table>,
}

/// The `kind` of a `[target]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum TargetKind {
    Counter,
    Workload,
    Check,
}

impl From<Target> for RawTarget {
    fn from(target: Target) -> RawTarget {
        let empty = |kind, name, seed| RawTarget {
            kind,
            name,
            workload: None,
            engine: None,
            scheduler: None,
            depth: None,
            seed,
            sync: None,
            initial: None,
            max_pause_ms: None,
            command: None,
            threads: None,
            params: None,
            shrunk: None,
        };
        match target {
            Target::Counter(c) => RawTarget {
                workload: Some(c.workload),
                engine: Some(c.engine),
                scheduler: c.scheduler,
                sync: Some(c.sync),
                initial: Some(c.initial),
                max_pause_ms: c.max_pause_ms,
                threads: Some(c.threads),
                shrunk: Some(RawShrunk {
                    initial: Some(c.shrunk.initial),
                    threads: Some(c.shrunk.threads),
                    params: None,
                }),
                ..empty(TargetKind::Counter, c.name, c.seed)
            },
            Target::Workload(w) => RawTarget {
                workload: Some(w.workload),
                engine: Some(w.engine),
                params: Some(w.params),
                shrunk: Some(RawShrunk {
                    params: Some(w.shrunk),
                    ..RawShrunk::default()
                }),
                ..empty(TargetKind::Workload, w.name, w.seed)
            },
            Target::Check(c) => RawTarget {
                scheduler: Some(c.scheduler),
                depth: c.depth,
                command: Some(c.command),
                ..empty(TargetKind::Check, c.name, c.seed)
            },
        }
    }
}

impl TryFrom<RawTarget> for Target {
    type Error = String;

    fn try_from(raw: RawTarget) -> Result<Target, String> {
        let kind = match raw.kind {
            TargetKind::Counter => "counter",
            TargetKind::Workload => "workload",
            TargetKind::Check => "check",
        };
        let shrunk = raw.shrunk.unwrap_or_default();
        // The keys another kind has, each of which this kind must not hold.
        let foreign: &[(&str, bool)] = match raw.kind {
            TargetKind::Counter => &[
                ("depth", raw.depth.is_some()),
                ("command", raw.command.is_some()),
                ("params", raw.params.is_some()),
                ("shrunk.params", shrunk.params.is_some()),
            ],
            TargetKind::Workload => &[
                ("scheduler", raw.scheduler.is_some()),
                ("depth", raw.depth.is_some()),
                ("sync", raw.sync.is_some()),
                ("initial", raw.initial.is_some()),
                ("max_pause_ms", raw.max_pause_ms.is_some()),
                ("command", raw.command.is_some()),
                ("threads", raw.threads.is_some()),
                ("shrunk.initial", shrunk.initial.is_some()),
                ("shrunk.threads", shrunk.threads.is_some()),
            ],
            TargetKind::Check => &[
                ("workload", raw.workload.is_some()),
                ("engine", raw.engine.is_some()),
                ("sync", raw.sync.is_some()),
                ("initial", raw.initial.is_some()),
                ("max_pause_ms", raw.max_pause_ms.is_some()),
                ("threads", raw.threads.is_some()),
                ("params", raw.params.is_some()),
                (
                    "shrunk",
                    shrunk.initial.is_some() || shrunk.threads.is_some() || shrunk.params.is_some(),
                ),
            ],
        };
        if let Some((key, _)) = foreign.iter().find(|(_, present)| *present) {
            return Err(format!("target.{key} is not a key of a {kind}'s target"));
        }
        let needed = |key: &str| format!("a {kind}'s target needs `target.{key}`");
        Ok(match raw.kind {
            TargetKind::Counter => Target::Counter(CounterTarget {
                name: raw.name,
                workload: raw.workload.ok_or_else(|| needed("workload"))?,
                engine: raw.engine.ok_or_else(|| needed("engine"))?,
                scheduler: raw.scheduler,
                seed: raw.seed,
                sync: raw.sync.ok_or_else(|| needed("sync"))?,
                initial: raw.initial.ok_or_else(|| needed("initial"))?,
                threads: raw.threads.ok_or_else(|| needed("threads"))?,
                max_pause_ms: raw.max_pause_ms,
                shrunk: ShrunkCounter {
                    initial: shrunk.initial.ok_or_else(|| needed("shrunk.initial"))?,
                    threads: shrunk.threads.ok_or_else(|| needed("shrunk.threads"))?,
                },
            }),
            TargetKind::Workload => Target::Workload(WorkloadTarget {
                name: raw.name,
                workload: raw.workload.ok_or_else(|| needed("workload"))?,
                engine: raw.engine.ok_or_else(|| needed("engine"))?,
                seed: raw.seed,
                params: raw.params.ok_or_else(|| needed("params"))?,
                shrunk: shrunk.params.ok_or_else(|| needed("shrunk.params"))?,
            }),
            TargetKind::Check => Target::Check(CheckTarget {
                name: raw.name,
                command: raw.command.ok_or_else(|| needed("command"))?,
                scheduler: raw.scheduler.ok_or_else(|| needed("scheduler"))?,
                depth: raw.depth,
                seed: raw.seed,
            }),
        })
    }
}
