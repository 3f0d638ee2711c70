//! Validated scenarios: what to run, how, and what to expect.
//!
//! These are the values the engines see. They are built from a TOML file by [`crate::config`],
//! or directly by a program that uses contend as a library.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::failure::Kind;
pub use crate::sync_mode::SyncMode;
use crate::workload::plugin::PluginSpec;

/// One scenario: a workload, the engine that runs it, and the expectation it must meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Unique name within its file.
    pub name: String,
    /// The workload and its parameters.
    pub workload: WorkloadSpec,
    /// The engine and its engine-specific settings.
    pub engine: EngineSpec,
    /// Number of executions: rounds on real threads, schedules under shuttle.
    pub runs: u64,
    /// Every random choice of the scenario derives from this seed.
    pub seed: u64,
    /// What the scenario must show.
    pub expect: Expectation,
    /// Where the scenario was defined, when it came from a config file.
    pub origin: Option<Origin>,
    /// A time budget: no execution starts once it is used up, even with runs left.
    pub time: Option<Duration>,
}

/// Where a scenario was defined: its config file and the line of its `[[scenario]]` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The config file, as it was given.
    pub file: std::path::PathBuf,
    /// The 1-based line of the scenario's `[[scenario]]` header.
    pub line: usize,
}

impl Scenario {
    /// A counter scenario with the default number of runs and seed 0.
    pub fn counter(
        name: impl Into<String>,
        engine: EngineSpec,
        counter: CounterSpec,
        expect: Expectation,
    ) -> Self {
        Scenario {
            name: name.into(),
            workload: WorkloadSpec::Counter(counter),
            engine,
            runs: DEFAULT_RUNS,
            seed: 0,
            expect,
            origin: None,
            time: None,
        }
    }

    /// The same scenario with `runs` executions.
    pub fn with_runs(mut self, runs: u64) -> Self {
        self.runs = runs;
        self
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same scenario with a time budget.
    pub fn with_time(mut self, time: Duration) -> Self {
        self.time = Some(time);
        self
    }

    /// Identifies the scenario's definition, wherever it was written: a 64-bit FNV-1a hash of
    /// everything that decides its executions, in hex.
    pub fn fingerprint(&self) -> String {
        let definition = format!(
            "{:?}",
            Scenario {
                origin: None,
                ..self.clone()
            }
        );
        let hash = definition
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        format!("{hash:016x}")
    }
}

/// Executions per scenario when a config gives no `runs`.
pub const DEFAULT_RUNS: u64 = 100;

/// A workload with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadSpec {
    /// A shared counter that each thread adds its delta to, `ops` times.
    Counter(CounterSpec),
    /// A registered plugin workload (its own code on the primitive API), with its parameters.
    Plugin(PluginSpec),
}

impl WorkloadSpec {
    /// The workload's name as written in a config file.
    pub fn name(&self) -> &'static str {
        match self {
            WorkloadSpec::Counter(counter) if counter.object.is_some() => "counter-object",
            WorkloadSpec::Counter(_) => "counter",
            WorkloadSpec::Plugin(plugin) => plugin.name(),
        }
    }

    /// The synchronization the counter uses around its critical section; a plugin's is in its
    /// own code.
    pub fn sync(&self) -> Option<SyncMode> {
        self.counter().map(|counter| counter.sync)
    }

    /// The counter's parameters, for the counter workloads.
    pub fn counter(&self) -> Option<&CounterSpec> {
        match self {
            WorkloadSpec::Counter(counter) => Some(counter),
            WorkloadSpec::Plugin(_) => None,
        }
    }
}

/// Parameters of the counter workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSpec {
    /// The counter's value before any thread runs.
    pub initial: i64,
    /// One entry per thread.
    pub threads: Vec<ThreadSpec>,
    /// How the read-modify-write is protected.
    pub sync: SyncMode,
    /// As the lesson's `Counter` class: each increment goes through `increment()`, after a random
    /// pause, with log lines.
    pub object: Option<ObjectSettings>,
}

/// The lesson's `Counter` class: workers sleep a random pause before each `increment()`, which
/// logs "Waiting for lock" and "Acquired lock" around taking the counter's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSettings {
    /// The longest pause before an increment (the lesson: 1 s).
    pub max_pause: Duration,
}

/// The default longest pause of the `counter-object` workload: much shorter than the lesson's
/// second, so that many runs stay cheap.
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_millis(10);

impl CounterSpec {
    /// A counter starting at `initial`, one thread per `(delta, ops)` pair.
    pub fn new(initial: i64, threads: &[(i64, u64)], sync: SyncMode) -> Self {
        CounterSpec {
            initial,
            threads: threads
                .iter()
                .map(|&(delta, ops)| ThreadSpec { delta, ops })
                .collect(),
            sync,
            object: None,
        }
    }

    /// The value the counter must end with when no update is lost.
    pub fn expected_final(&self) -> i64 {
        self.threads.iter().fold(self.initial, |acc, t| {
            acc.wrapping_add(t.delta.wrapping_mul(t.ops as i64))
        })
    }

    /// The expected final value, or `None` if some interleaving can take a number contend
    /// computes out of 64 bits (see [`CounterSpec::reachable_range`]).
    pub fn checked_expected_final(&self) -> Option<i64> {
        self.reachable_range()?;
        self.threads.iter().try_fold(self.initial, |acc, t| {
            t.delta
                .checked_mul(i64::try_from(t.ops).ok()?)
                .and_then(|sum| acc.checked_add(sum))
        })
    }

    /// The lowest and highest values the counter can hold along any interleaving, or `None`
    /// when one of them, or the distance between them (the most a run can lose), leaves 64
    /// bits.
    ///
    /// With lost updates every value written is the initial value plus the deltas of some
    /// subset of the updates (those on its chain of reads), so the counter stays between the
    /// initial value plus every negative update and the initial value plus every positive one.
    pub fn reachable_range(&self) -> Option<(i64, i64)> {
        let (mut low, mut high) = (i128::from(self.initial), i128::from(self.initial));
        for t in &self.threads {
            let sum = i128::from(t.delta).checked_mul(i128::from(t.ops))?;
            if sum < 0 {
                low = low.checked_add(sum)?;
            } else {
                high = high.checked_add(sum)?;
            }
        }
        let low = i64::try_from(low).ok()?;
        let high = i64::try_from(high).ok()?;
        high.checked_sub(low)?;
        Some((low, high))
    }

    /// Total number of updates over all threads, or `None` if it does not fit in 64 bits.
    pub fn checked_total_ops(&self) -> Option<u64> {
        self.threads
            .iter()
            .try_fold(0u64, |acc, t| acc.checked_add(t.ops))
    }

    /// Total number of updates over all threads (saturating at `u64::MAX`, which no size check
    /// lets through).
    pub fn total_ops(&self) -> u64 {
        self.checked_total_ops().unwrap_or(u64::MAX)
    }
}

/// What one thread of the counter workload does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSpec {
    /// Added to the counter by each update.
    pub delta: i64,
    /// Number of updates.
    pub ops: u64,
}

/// An engine with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineSpec {
    /// Real OS threads with injected noise.
    Threads(ThreadsSettings),
    /// Controlled executions under shuttle.
    Shuttle(ShuttleSettings),
    /// Async tasks on one thread.
    Async(AsyncSettings),
    /// Real OS processes, one per thread of the workload, with injected noise.
    Processes(ProcessesSettings),
}

/// Settings of the processes engine.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessesSettings {
    /// Noise injected at each access to shared state; `None` turns it off.
    pub jitter: Option<Jitter>,
    /// Where the counter lives.
    pub storage: Storage,
    /// How long one execution may take before its workers are killed and the run fails.
    pub timeout: Duration,
    /// Whether `--jobs` may run executions side by side (each changes what the others
    /// measure, so only where asked for).
    pub parallel: bool,
}

impl Default for ProcessesSettings {
    fn default() -> Self {
        ProcessesSettings {
            jitter: Some(Jitter::default()),
            storage: Storage::SharedMemory,
            timeout: DEFAULT_TIMEOUT,
            parallel: false,
        }
    }
}

/// The default bound on one execution of the processes engine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the processes engine keeps the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// In memory shared by the workers (a mapped file), read and written directly.
    SharedMemory,
    /// In a server process, read with `get` and written with `set` over a Unix socket, as
    /// Python's `multiprocessing.Manager().Value`.
    Manager,
}

impl Storage {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::SharedMemory => "shared-memory",
            Storage::Manager => "manager",
        }
    }
}

/// Settings of the async engine.
#[derive(Clone, Debug, PartialEq)]
pub struct AsyncSettings {
    /// The executor the tasks run on.
    pub executor: Executor,
    /// Put an `.await` between the read and the write: the classic async bug.
    pub await_in_critical_section: bool,
}

/// An async executor.
#[derive(Clone, Debug, PartialEq)]
pub enum Executor {
    /// tokio's current-thread runtime.
    Tokio,
    /// shuttle's executor, under its scheduler.
    Shuttle(ShuttleSettings),
}

impl Executor {
    /// The name used in config files and reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Executor::Tokio => "tokio",
            Executor::Shuttle(_) => "shuttle",
        }
    }
}

impl EngineSpec {
    /// The engine's name as written in a config file.
    pub fn name(&self) -> &'static str {
        match self {
            EngineSpec::Threads(_) => "threads",
            EngineSpec::Shuttle(_) => "shuttle",
            EngineSpec::Async(_) => "async",
            EngineSpec::Processes(_) => "processes",
        }
    }

    /// The shuttle settings, when the scenario runs under shuttle (directly or as the async
    /// executor).
    pub fn shuttle_settings(&self) -> Option<&ShuttleSettings> {
        match self {
            EngineSpec::Shuttle(settings) => Some(settings),
            EngineSpec::Async(AsyncSettings {
                executor: Executor::Shuttle(settings),
                ..
            }) => Some(settings),
            EngineSpec::Async(_) | EngineSpec::Threads(_) | EngineSpec::Processes(_) => None,
        }
    }
}

/// Settings of the real-threads engine.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadsSettings {
    /// Noise injected at each access to shared state; `None` turns it off.
    pub jitter: Option<Jitter>,
    /// Whether all threads start together behind a barrier.
    pub barrier: bool,
    /// Whether `--jobs` may run executions side by side (each changes what the others
    /// measure, so only where asked for).
    pub parallel: bool,
    /// How long a thread of a workload on contend's primitives may block in one wait before
    /// the execution fails as a deadlock (with its cycle of waits, if the wait-for graph has
    /// one) and the run goes on.
    pub deadlock_timeout: Duration,
}

impl Default for ThreadsSettings {
    fn default() -> Self {
        ThreadsSettings {
            jitter: Some(Jitter::default()),
            barrier: true,
            parallel: false,
            deadlock_timeout: crate::sync::DEFAULT_DEADLOCK_TIMEOUT,
        }
    }
}

pub use crate::platform::os::Jitter;

/// Settings of the shuttle engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShuttleSettings {
    /// The scheduling strategy.
    pub scheduler: SchedulerKind,
    /// Steps after which one execution is abandoned as a livelock.
    pub max_steps: u64,
}

impl Default for ShuttleSettings {
    fn default() -> Self {
        ShuttleSettings {
            scheduler: SchedulerKind::Random,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

pub use crate::engine::controlled::DEFAULT_MAX_STEPS;

pub use crate::engine::controlled::SchedulerKind;

/// What a scenario must show to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// At least one execution loses an update, and none fails otherwise: the stress test
    /// reproduces the bug.
    LostUpdates,
    /// No execution loses an update or fails otherwise.
    NoLostUpdates,
    /// No execution fails, whatever the kind.
    NoFailures,
    /// Some execution fails, of any kind.
    Failure,
    /// Some execution fails with this kind (failures of other kinds may show too).
    Kind(Kind),
}

impl Expectation {
    /// Every expectation a config can name, in the order error messages list them.
    pub const ALL: [Expectation; 9] = [
        Expectation::LostUpdates,
        Expectation::NoLostUpdates,
        Expectation::NoFailures,
        Expectation::Failure,
        Expectation::Kind(Kind::LostUpdate),
        Expectation::Kind(Kind::Invariant),
        Expectation::Kind(Kind::Deadlock),
        Expectation::Kind(Kind::Panic),
        Expectation::Kind(Kind::Livelock),
    ];

    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Expectation::LostUpdates => "lost-updates",
            Expectation::NoLostUpdates => "no-lost-updates",
            Expectation::NoFailures => "no-failures",
            Expectation::Failure => "failure",
            Expectation::Kind(kind) => kind.as_str(),
        }
    }

    /// What it asks of a scenario, in a few words, for `contend list`.
    pub fn describe(self) -> &'static str {
        match self {
            Expectation::LostUpdates => "some execution must lose an update (the bug must show)",
            Expectation::NoLostUpdates => "no execution may lose an update or fail otherwise",
            Expectation::NoFailures => "no execution may fail, of any kind",
            Expectation::Failure => "some execution must fail, of any kind",
            Expectation::Kind(Kind::LostUpdate) => "some execution must lose an update",
            Expectation::Kind(Kind::Invariant) => "some check or assert must fail",
            Expectation::Kind(Kind::Deadlock) => "some execution must deadlock",
            Expectation::Kind(Kind::Panic) => "some execution must panic",
            Expectation::Kind(Kind::Livelock) => "some execution must run past its step bound",
        }
    }

    /// The expectation a name stands for, if it is one of [`Expectation::as_str`]'s.
    pub fn parse(name: &str) -> Option<Expectation> {
        Expectation::ALL
            .into_iter()
            .find(|expect| expect.as_str() == name)
    }

    /// Every accepted name, comma separated, for error messages.
    pub fn names() -> String {
        Expectation::ALL.map(Expectation::as_str).join(", ")
    }

    /// Whether any failing execution fails the scenario: the expectations that a failure
    /// breaks at once (`--fail-fast` stops there).
    pub fn forbids_failures(self) -> bool {
        matches!(self, Expectation::NoLostUpdates | Expectation::NoFailures)
    }

    /// Whether the scenario must show a failure (a bug known to be there): one shard of a
    /// campaign may not show it while another does.
    pub fn must_show(self) -> bool {
        matches!(
            self,
            Expectation::LostUpdates | Expectation::Failure | Expectation::Kind(_)
        )
    }
}

impl Serialize for Expectation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Expectation::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown expectation `{name}` (expected one of: {})",
                Expectation::names()
            ))
        })
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
