//! The raw serde types of a config file, as written: its scenarios, `[defaults]` applied to
//! them, and the keys an engine override drops.

use std::fmt;
use std::ops::Range;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use crate::workload::program::table::RawProgram;
use crate::workload::registry;

use super::schema::{
    EngineName, ExecutorName, ExpectName, JitterSchema, SchedulerName, StorageName, SyncName,
    WorkloadName, without_null_defaults,
};

/// A config file: scenarios, and defaults for their keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "contend config")]
pub(super) struct RawFile {
    /// Keys that apply to every scenario that does not set them (any scenario key but `name`).
    #[serde(default)]
    #[schemars(with = "RawScenario")]
    pub(super) defaults: Option<Spanned<RawScenario>>,
    /// The scenarios, run in order.
    #[serde(default)]
    #[schemars(with = "Vec<RawScenario>")]
    pub(super) scenario: Vec<Spanned<RawScenario>>,
}

/// One `[[scenario]]` table (or the `[defaults]` table). See README.md, "Config".
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(transform = without_null_defaults)]
pub(super) struct RawScenario {
    /// Unique name, used in reports and trace events (required; not in `[defaults]`).
    #[schemars(with = "String")]
    pub(super) name: Option<Spanned<String>>,
    /// `counter` (default), `counter-object` (the lesson's Counter class), `program` (a
    /// program written in `[scenario.program]`) or a harness's plugin workload.
    #[schemars(with = "WorkloadName")]
    pub(super) workload: Option<Spanned<String>>,
    /// The engine that runs the scenario (required).
    #[schemars(with = "EngineName")]
    pub(super) engine: Option<Spanned<String>>,
    /// How the read-modify-write is protected (default none).
    #[schemars(with = "SyncName")]
    pub(super) sync: Option<Spanned<String>>,
    /// The counter's initial value (default 0).
    #[schemars(with = "i64")]
    pub(super) initial: Option<Spanned<i64>>,
    /// One `{ delta, ops }` per thread (counter workload; per worker process on processes).
    #[schemars(with = "Vec<RawThread>")]
    pub(super) threads: Option<Spanned<Vec<Spanned<WrittenThread>>>>,
    /// counter-object: worker threads (default 2).
    #[schemars(with = "std::num::NonZeroU32")]
    pub(super) workers: Option<Spanned<i64>>,
    /// counter-object: increments per worker (default 2).
    #[schemars(with = "std::num::NonZeroU64")]
    pub(super) increments: Option<Spanned<i64>>,
    /// counter-object: the longest pause before an increment, in milliseconds (default 10).
    #[schemars(with = "u64")]
    pub(super) max_pause_ms: Option<Spanned<i64>>,
    /// Executions (default 100).
    #[schemars(with = "std::num::NonZeroU64")]
    pub(super) runs: Option<Spanned<i64>>,
    /// Every random choice derives from it; drawn at random and printed when absent.
    #[schemars(with = "u64")]
    pub(super) seed: Option<Spanned<i64>>,
    /// What the scenario must show (required).
    #[schemars(with = "ExpectName")]
    pub(super) expect: Option<Spanned<String>>,
    /// shuttle (and async on shuttle): random (default), pct, dfs or dpor.
    #[schemars(with = "SchedulerName")]
    pub(super) scheduler: Option<Spanned<String>>,
    /// PCT's bug depth (default 3).
    #[schemars(with = "std::num::NonZeroU32")]
    pub(super) depth: Option<Spanned<i64>>,
    /// shuttle: steps after which an execution is a livelock (default 100,000,000).
    #[schemars(with = "u64")]
    pub(super) max_steps: Option<Spanned<i64>>,
    /// shuttle with scheduler = "dfs" or "dpor": search every schedule with at most this many
    /// preemptions (a bounded search without reduction).
    #[schemars(with = "u32")]
    pub(super) max_preemptions: Option<Spanned<i64>>,
    /// threads and processes: false turns noise off; true or a table turns it on (default on).
    #[schemars(with = "JitterSchema")]
    pub(super) jitter: Option<Spanned<toml::Value>>,
    /// threads: start all threads together (default true).
    #[schemars(with = "bool")]
    pub(super) barrier: Option<Spanned<bool>>,
    /// threads: let --jobs run executions side by side (default false: one at a time, since
    /// executions side by side change what each measures).
    #[schemars(with = "bool")]
    pub(super) parallel: Option<Spanned<bool>>,
    /// async: tokio (default) or shuttle.
    #[schemars(with = "ExecutorName")]
    pub(super) executor: Option<Spanned<String>>,
    /// async: put an `.await` between the read and the write (default false).
    #[schemars(with = "bool")]
    pub(super) await_in_critical_section: Option<Spanned<bool>>,
    /// processes: shared-memory (default) or manager.
    #[schemars(with = "StorageName")]
    pub(super) storage: Option<Spanned<String>>,
    /// processes: how long one execution may take, as "30s" (default "60s").
    #[schemars(with = "String")]
    pub(super) timeout: Option<Spanned<String>>,
    /// A time budget: the scenario stops when its runs or its time are used up, as "30s".
    #[schemars(with = "String")]
    pub(super) time: Option<Spanned<String>>,
    /// threads, workloads on contend's primitives: how long a thread may block in one wait
    /// before the execution fails as a deadlock, as "500ms" (default "3s").
    #[schemars(with = "String")]
    pub(super) deadlock_timeout: Option<Spanned<String>>,
    /// `[defaults]` only: worker threads for the executions of shuttle scenarios, as --jobs
    /// (which overrides it); default: the available cores.
    #[schemars(with = "std::num::NonZeroU32")]
    pub(super) jobs: Option<Spanned<i64>>,
    /// Plugin workloads (registered by a harness program): their parameters, a table that the
    /// workload reads into its own type.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub(super) params: Option<Spanned<toml::Value>>,
    /// `workload = "program"`: shared variables, locks, conds, checks and the threads' code
    /// (docs/programs.md).
    #[schemars(with = "crate::workload::program::ProgramParams")]
    pub(super) program: Option<Spanned<RawProgram>>,
}

impl RawScenario {
    /// This scenario with the keys it does not set taken from `defaults`. The counter's own
    /// keys (`sync`, `initial`, `threads`, ...) in `[defaults]` are for the counter scenarios:
    /// a scenario of another workload does not take them.
    pub(super) fn with_defaults(self, defaults: &RawScenario) -> RawScenario {
        let mut d = defaults.clone();
        let workload = self.workload.as_ref().or(d.workload.as_ref());
        let counter = workload.is_none_or(|w| registry::COUNTERS.contains(&w.get_ref().as_str()));
        if !counter {
            d.sync = None;
            d.initial = None;
            d.threads = None;
            d.workers = None;
            d.increments = None;
            d.max_pause_ms = None;
            d.jitter = None;
            d.barrier = None;
            d.parallel = None;
        }
        RawScenario {
            name: self.name,
            workload: self.workload.or(d.workload),
            engine: self.engine.or(d.engine),
            sync: self.sync.or(d.sync),
            initial: self.initial.or(d.initial),
            threads: self.threads.or(d.threads),
            workers: self.workers.or(d.workers),
            increments: self.increments.or(d.increments),
            max_pause_ms: self.max_pause_ms.or(d.max_pause_ms),
            runs: self.runs.or(d.runs),
            seed: self.seed.or(d.seed),
            expect: self.expect.or(d.expect),
            scheduler: self.scheduler.or(d.scheduler),
            depth: self.depth.or(d.depth),
            max_steps: self.max_steps.or(d.max_steps),
            max_preemptions: self.max_preemptions.or(d.max_preemptions),
            jitter: self.jitter.or(d.jitter),
            barrier: self.barrier.or(d.barrier),
            parallel: self.parallel.or(d.parallel),
            executor: self.executor.or(d.executor),
            await_in_critical_section: self
                .await_in_critical_section
                .or(d.await_in_critical_section),
            storage: self.storage.or(d.storage),
            timeout: self.timeout.or(d.timeout),
            time: self.time.or(d.time),
            deadlock_timeout: self.deadlock_timeout.or(d.deadlock_timeout),
            params: self.params.or(d.params),
            program: self.program.or(d.program),
            // The run's, not a scenario's: read from [defaults] on its own.
            jobs: self.jobs,
        }
    }

    /// Runs the scenario on `engine` instead, without the keys of its own engine that the new
    /// one does not have.
    pub(super) fn on_engine(mut self, engine: &str, table: Range<usize>) -> RawScenario {
        let at = self.engine.as_ref().map_or(table, Spanned::span);
        let under_shuttle = engine == "shuttle"
            || (engine == "async"
                && self
                    .executor
                    .as_ref()
                    .is_some_and(|e| e.get_ref() == "shuttle"));
        let noisy = engine == "threads" || engine == "processes";
        if !under_shuttle {
            self.scheduler = None;
            self.depth = None;
            self.max_steps = None;
            self.max_preemptions = None;
        }
        if !noisy {
            self.jitter = None;
        }
        if engine != "threads" {
            self.barrier = None;
            self.parallel = None;
            self.deadlock_timeout = None;
        }
        if engine != "async" {
            self.executor = None;
            self.await_in_critical_section = None;
        }
        if engine != "processes" {
            self.storage = None;
            self.timeout = None;
        }
        self.engine = Some(Spanned::new(at, engine.to_string()));
        self
    }
}

/// One thread of the counter workload: `{ delta = 1, ops = 10 }`, or `[1, 10]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename = "RawThread")]
pub(super) struct RawThread {
    /// Added to the counter by each update.
    pub(super) delta: i64,
    /// Number of updates (at least 1).
    #[schemars(with = "std::num::NonZeroU64")]
    pub(super) ops: Spanned<i64>,
}

/// A thread as written: a table, or an array of exactly two numbers (serde's own reading of a
/// struct from an array drops any number after the second).
#[derive(Clone, Debug)]
pub(super) struct WrittenThread(pub(super) RawThread);

impl<'de> Deserialize<'de> for WrittenThread {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WrittenThread;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct RawThread")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<WrittenThread, A::Error> {
                RawThread::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(WrittenThread)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<WrittenThread, A::Error> {
                use serde::de::Error;
                let expected = &"two numbers, [delta, ops]";
                let delta = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, expected))?;
                let ops = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, expected))?;
                let mut extra = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    extra += 1;
                }
                if extra > 0 {
                    return Err(A::Error::invalid_length(2 + extra, expected));
                }
                Ok(WrittenThread(RawThread { delta, ops }))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The noise injected at every access on real threads and processes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJitter {
    /// Probability of a yield (default 0.2).
    pub(super) yield_probability: Option<f64>,
    /// Probability of a busy spin (default 0.1).
    pub(super) spin_probability: Option<f64>,
    /// Longest spin, in iterations (default 100).
    pub(super) max_spin: Option<i64>,
    /// Probability of a sleep (default 0.0002).
    pub(super) sleep_probability: Option<f64>,
    /// Longest sleep, in microseconds (default 100).
    pub(super) max_sleep_us: Option<i64>,
}
