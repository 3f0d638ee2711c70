//! TOML configs: raw serde types, then validation into [`Scenario`]s.
//!
//! Every error names the file, the line and column where known, the scenario and the key.

pub(crate) use crate::words::line_column;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::scenario::{
    AsyncSettings, CounterSpec, DEFAULT_MAX_PAUSE, DEFAULT_MAX_STEPS, DEFAULT_RUNS,
    DEFAULT_TIMEOUT, EngineSpec, Executor, Expectation, Jitter, ObjectSettings, Origin,
    ProcessesSettings, Scenario, SchedulerKind, ShuttleSettings, Storage, SyncMode, ThreadSpec,
    ThreadsSettings, WorkloadSpec,
};
use crate::sync::DEFAULT_DEADLOCK_TIMEOUT;
use crate::workload::plugin::{ErasedPlugin, PluginEngine};
use crate::workload::program::{self, table::RawProgram};
use crate::workload::registry;

/// PCT's bug depth when `depth` is not given.
pub const DEFAULT_PCT_DEPTH: usize = 3;
/// Upper bound on the total ops of a scenario (each op keeps a 24-byte write record).
pub const MAX_TOTAL_OPS: u64 = 200_000_000;
/// Upper bound on the threads of a scenario.
pub const MAX_THREADS: usize = 1024;

/// Upper bound on the worker processes of one execution.
pub const MAX_WORKER_PROCESSES: usize = 256;

/// Upper bound on a duration (`time`, `timeout`): 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Upper bound on `max_pause_ms` of the counter-object workload.
pub const MAX_PAUSE_MS: i64 = 60_000;
/// Upper bound on `jitter.max_sleep_us`.
pub const MAX_SLEEP_US: i64 = 1_000_000;

/// A config that could not be read or is not valid.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid config.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

/// A place in a config file: file, line and column where known, scenario and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column.
    pub line_column: Option<(usize, usize)>,
    /// The scenario's name, where known.
    pub scenario: Option<String>,
    /// The key, where known.
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, column)) = self.line_column {
            write!(f, ":{line}:{column}")?;
        }
        match (&self.scenario, &self.key) {
            (Some(scenario), Some(key)) => write!(f, ": scenario `{scenario}`, key `{key}`"),
            (Some(scenario), None) => write!(f, ": scenario `{scenario}`"),
            (None, Some(key)) => write!(f, ": key `{key}`"),
            (None, None) => Ok(()),
        }
    }
}

/// A config file: scenarios, and defaults for their keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "contend config")]
struct RawFile {
    /// Keys that apply to every scenario that does not set them (any scenario key but `name`).
    #[serde(default)]
    #[schemars(with = "RawScenario")]
    defaults: Option<Spanned<RawScenario>>,
    /// The scenarios, run in order.
    #[serde(default)]
    #[schemars(with = "Vec<RawScenario>")]
    scenario: Vec<Spanned<RawScenario>>,
}

/// One `[[scenario]]` table (or the `[defaults]` table). See README.md, "Config".
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(transform = without_null_defaults)]
struct RawScenario {
    /// Unique name, used in reports and trace events (required; not in [defaults]).
    #[schemars(with = "String")]
    name: Option<Spanned<String>>,
    /// `counter` (default), `counter-object` (the lesson's Counter class), `program` (a
    /// program written in `[scenario.program]`) or a harness's plugin workload.
    #[schemars(with = "WorkloadName")]
    workload: Option<Spanned<String>>,
    /// The engine that runs the scenario (required).
    #[schemars(with = "EngineName")]
    engine: Option<Spanned<String>>,
    /// How the read-modify-write is protected (default none).
    #[schemars(with = "SyncName")]
    sync: Option<Spanned<String>>,
    /// The counter's initial value (default 0).
    #[schemars(with = "i64")]
    initial: Option<Spanned<i64>>,
    /// One `{ delta, ops }` per thread (counter workload; per worker process on processes).
    #[schemars(with = "Vec<RawThread>")]
    threads: Option<Spanned<Vec<Spanned<WrittenThread>>>>,
    /// counter-object: worker threads (default 2).
    #[schemars(with = "std::num::NonZeroU32")]
    workers: Option<Spanned<i64>>,
    /// counter-object: increments per worker (default 2).
    #[schemars(with = "std::num::NonZeroU64")]
    increments: Option<Spanned<i64>>,
    /// counter-object: the longest pause before an increment, in milliseconds (default 10).
    #[schemars(with = "u64")]
    max_pause_ms: Option<Spanned<i64>>,
    /// Executions (default 100).
    #[schemars(with = "std::num::NonZeroU64")]
    runs: Option<Spanned<i64>>,
    /// Every random choice derives from it; drawn at random and printed when absent.
    #[schemars(with = "u64")]
    seed: Option<Spanned<i64>>,
    /// What the scenario must show (required).
    #[schemars(with = "ExpectName")]
    expect: Option<Spanned<String>>,
    /// shuttle (and async on shuttle): random (default), pct, dfs or dpor.
    #[schemars(with = "SchedulerName")]
    scheduler: Option<Spanned<String>>,
    /// PCT's bug depth (default 3).
    #[schemars(with = "std::num::NonZeroU32")]
    depth: Option<Spanned<i64>>,
    /// shuttle: steps after which an execution is a livelock (default 100,000,000).
    #[schemars(with = "u64")]
    max_steps: Option<Spanned<i64>>,
    /// shuttle with scheduler = "dfs" or "dpor": search every schedule with at most this many
    /// preemptions (a bounded search without reduction).
    #[schemars(with = "u32")]
    max_preemptions: Option<Spanned<i64>>,
    /// threads and processes: false turns noise off; true or a table turns it on (default on).
    #[schemars(with = "JitterSchema")]
    jitter: Option<Spanned<toml::Value>>,
    /// threads: start all threads together (default true).
    #[schemars(with = "bool")]
    barrier: Option<Spanned<bool>>,
    /// threads: let --jobs run executions side by side (default false: one at a time, since
    /// executions side by side change what each measures).
    #[schemars(with = "bool")]
    parallel: Option<Spanned<bool>>,
    /// async: tokio (default) or shuttle.
    #[schemars(with = "ExecutorName")]
    executor: Option<Spanned<String>>,
    /// async: put an `.await` between the read and the write (default false).
    #[schemars(with = "bool")]
    await_in_critical_section: Option<Spanned<bool>>,
    /// processes: shared-memory (default) or manager.
    #[schemars(with = "StorageName")]
    storage: Option<Spanned<String>>,
    /// processes: how long one execution may take, as "30s" (default "60s").
    #[schemars(with = "String")]
    timeout: Option<Spanned<String>>,
    /// A time budget: the scenario stops when its runs or its time are used up, as "30s".
    #[schemars(with = "String")]
    time: Option<Spanned<String>>,
    /// threads, workloads on contend's primitives: how long a thread may block in one wait
    /// before the execution fails as a deadlock, as "500ms" (default "3s").
    #[schemars(with = "String")]
    deadlock_timeout: Option<Spanned<String>>,
    /// [defaults] only: worker threads for the executions of shuttle scenarios, as --jobs
    /// (which overrides it); default: the available cores.
    #[schemars(with = "std::num::NonZeroU32")]
    jobs: Option<Spanned<i64>>,
    /// Plugin workloads (registered by a harness program): their parameters, a table that the
    /// workload reads into its own type.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    params: Option<Spanned<toml::Value>>,
    /// `workload = "program"`: shared variables, locks, conds, checks and the threads' code
    /// (docs/programs.md).
    #[schemars(with = "crate::workload::program::ProgramParams")]
    program: Option<Spanned<RawProgram>>,
}

impl RawScenario {
    /// This scenario with the keys it does not set taken from `defaults`. The counter's own
    /// keys (`sync`, `initial`, `threads`, ...) in `[defaults]` are for the counter scenarios:
    /// a scenario of another workload does not take them.
    fn with_defaults(self, defaults: &RawScenario) -> RawScenario {
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
    fn on_engine(mut self, engine: &str, table: Range<usize>) -> RawScenario {
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

/// The keys every scenario has, validated.
struct Common {
    runs: u64,
    seed: u64,
    expect: Expectation,
    time: Option<Duration>,
}

/// What the command line overrides in every scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Every scenario's seed.
    pub seed: Option<u64>,
    /// Every scenario's number of runs.
    pub runs: Option<u64>,
    /// Every scenario's engine (its other engine's keys are dropped).
    pub engine: Option<String>,
    /// Every scenario's time budget.
    pub time: Option<Duration>,
    /// Only the scenarios with these names (all when `None`); the others are not validated.
    pub only: Option<Vec<String>>,
}

/// The scenarios a config selects, and the names of all it defines.
#[derive(Clone, Debug)]
pub struct Selected {
    /// The scenarios selected, validated.
    pub scenarios: Vec<Scenario>,
    /// Every scenario name the config defines, selected or not.
    pub names: Vec<String>,
    /// The worker threads `[defaults]` asks for (`jobs`), if it does.
    pub jobs: Option<usize>,
}

/// A workload.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum WorkloadName {
    /// Each thread adds its own delta to a shared counter, `ops` times.
    Counter,
    /// The lesson's Counter class: workers pause, then call increment() under its lock.
    CounterObject,
    /// Critical sections written in `[scenario.program]` (docs/programs.md).
    Program,
}

/// An engine.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum EngineName {
    /// Real OS threads with jitter at every shared access.
    Threads,
    /// Controlled executions: every shared access is a scheduling point.
    Shuttle,
    /// Tasks on one thread that switch only at an await.
    Async,
    /// One OS process per thread, the counter in shared memory or a manager.
    Processes,
}

/// A synchronization mode.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SyncName {
    /// No protection: read, then write (the lost-update bug).
    None,
    /// A mutex held across the read and the write.
    Mutex,
    /// One atomic read-modify-write per update.
    Atomic,
    /// A correct test-and-test-and-set spinlock.
    Spin,
    /// A broken lock: a plain boolean checked, then set.
    Flag,
}

/// An expectation.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum ExpectName {
    /// Some execution must lose an update (the bug must show), and none fail otherwise.
    LostUpdates,
    /// No execution may lose an update or fail otherwise.
    NoLostUpdates,
    /// No execution may fail, whatever the kind.
    NoFailures,
    /// Some execution must fail, of any kind.
    Failure,
    /// Some execution must lose an update (other failures may show too).
    LostUpdate,
    /// Some execution must break an invariant (`contend::sync::invariant_failed`).
    Invariant,
    /// Some execution must deadlock.
    Deadlock,
    /// Some execution must panic.
    Panic,
    /// Some execution must run past its bound (shuttle's `max_steps`).
    Livelock,
}

/// A shuttle scheduler.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SchedulerName {
    /// A uniformly random choice at every step.
    Random,
    /// Probabilistic concurrency testing, with `depth`.
    Pct,
    /// Exhaustive depth-first search, up to `runs` schedules.
    Dfs,
    /// Exhaustive search with dynamic partial-order reduction: one execution per equivalence
    /// class of interleavings, up to `runs` executions.
    Dpor,
}

/// An async executor.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ExecutorName {
    /// tokio's current-thread runtime.
    Tokio,
    /// shuttle's executor: every await is a scheduling point.
    Shuttle,
}

/// Where the processes engine keeps the counter.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum StorageName {
    /// In memory the workers share.
    SharedMemory,
    /// In a server, get then set over a Unix socket.
    Manager,
}

/// `jitter`: a switch, or the noise's parameters.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum JitterSchema {
    Switch(bool),
    Table(RawJitter),
}

/// One thread of the counter workload: `{ delta = 1, ops = 10 }`, or `[1, 10]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename = "RawThread")]
struct RawThread {
    /// Added to the counter by each update.
    delta: i64,
    /// Number of updates (at least 1).
    #[schemars(with = "std::num::NonZeroU64")]
    ops: Spanned<i64>,
}

/// A thread as written: a table, or an array of exactly two numbers (serde's own reading of a
/// struct from an array drops any number after the second).
#[derive(Clone, Debug)]
struct WrittenThread(RawThread);

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
struct RawJitter {
    /// Probability of a yield (default 0.2).
    yield_probability: Option<f64>,
    /// Probability of a busy spin (default 0.1).
    spin_probability: Option<f64>,
    /// Longest spin, in iterations (default 100).
    max_spin: Option<i64>,
    /// Probability of a sleep (default 0.0002).
    sleep_probability: Option<f64>,
    /// Longest sleep, in microseconds (default 100).
    max_sleep_us: Option<i64>,
}

/// The commented starter config that `contend init` writes.
pub const STARTER: &str = include_str!("../configs/starter.toml");

/// Drops the `"default": null` that every key would get (TOML has no null; an absent key takes
/// the default its description gives).
fn without_null_defaults(schema: &mut schemars::Schema) {
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for property in properties.values_mut() {
            if let Some(property) = property.as_object_mut()
                && property.get("default") == Some(&serde_json::Value::Null)
            {
                property.remove("default");
            }
        }
    }
}

/// The JSON Schema of config files.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawFile).to_value();
    with_rules(&mut schema);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

/// The rules of a config that JSON Schema can say and the derived schema does not: a
/// scenario's required keys (`engine` and `expect` unless `[defaults]` sets them), no `name`
/// in `[defaults]`, at least one thread, and durations with their unit.
fn with_rules(schema: &mut serde_json::Value) {
    use serde_json::json;
    let duration = json!({
        "type": "string",
        "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+\\s*)+$"
    });
    if let Some(properties) = schema.pointer_mut("/$defs/RawScenario/properties") {
        properties["threads"]["minItems"] = json!(1);
        for key in ["time", "timeout", "deadlock_timeout"] {
            let description = properties[key]["description"].clone();
            properties[key] = duration.clone();
            properties[key]["description"] = description;
        }
    }
    let scenario_ref = json!({ "$ref": "#/$defs/RawScenario" });
    schema["properties"]["scenario"]["items"] = json!({
        "allOf": [scenario_ref],
        "required": ["name"]
    });
    schema["properties"]["defaults"] = json!({
        "description": schema["properties"]["defaults"]["description"].clone(),
        "allOf": [{ "$ref": "#/$defs/RawScenario" }],
        "not": { "required": ["name"] }
    });
    // `engine` and `expect` are required in each scenario unless [defaults] sets them.
    let rules: Vec<serde_json::Value> = ["engine", "expect"]
        .iter()
        .map(|key| {
            json!({
                "if": { "not": { "required": ["defaults"], "properties": { "defaults": { "required": [key] } } } },
                "then": { "properties": { "scenario": { "items": { "required": [key] } } } }
            })
        })
        .collect();
    schema["allOf"] = json!(rules);
    with_plugins(schema);
}

/// The registered plugin workloads in the schema: their names as workloads, and for each, its
/// own parameters' schema as `params` of the scenarios that name it.
fn with_plugins(schema: &mut serde_json::Value) {
    use serde_json::json;
    let plugins = registry::plugins();
    if plugins.is_empty() {
        return;
    }
    let names: Vec<serde_json::Value> = plugins.iter().map(|p| json!(p.name())).collect();
    if let Some(workload) = schema.pointer_mut("/$defs/RawScenario/properties/workload") {
        let built_in = workload.clone();
        *workload = json!({
            "description": built_in["description"].clone(),
            "anyOf": [built_in, { "enum": names, "description": "a registered plugin workload" }]
        });
    }
    let rules: Vec<serde_json::Value> = plugins
        .iter()
        .map(|plugin| {
            let mut params = plugin.params_schema().to_value();
            if let Some(object) = params.as_object_mut() {
                object.remove("$schema");
                // The params' own definitions join the config's, where their references point.
                if let Some(serde_json::Value::Object(definitions)) = object.remove("$defs")
                    && let Some(serde_json::Value::Object(root)) = schema.get_mut("$defs")
                {
                    for (name, definition) in definitions {
                        root.entry(name).or_insert(definition);
                    }
                }
            }
            json!({
                "if": { "properties": { "workload": { "const": plugin.name() } }, "required": ["workload"] },
                "then": { "properties": { "params": params } }
            })
        })
        .collect();
    if let Some(scenario) = schema.pointer_mut("/$defs/RawScenario") {
        scenario["allOf"] = json!(rules);
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Vec<Scenario>, ConfigError> {
    load_with(path, &Overrides::default())
}

/// Reads and validates a config file, with command-line overrides.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Vec<Scenario>, ConfigError> {
    load_selected(path, overrides).map(|selected| selected.scenarios)
}

/// Reads a config file and validates the scenarios the overrides select.
pub fn load_selected(path: &Path, overrides: &Overrides) -> Result<Selected, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_selected(&source, path, overrides)
}

/// Validates config text; `path` only names the file in errors.
pub fn parse(source: &str, path: &Path) -> Result<Vec<Scenario>, ConfigError> {
    parse_with(source, path, &Overrides::default())
}

/// Validates config text with command-line overrides; `path` only names the file in errors.
pub fn parse_with(
    source: &str,
    path: &Path,
    overrides: &Overrides,
) -> Result<Vec<Scenario>, ConfigError> {
    parse_selected(source, path, overrides).map(|selected| selected.scenarios)
}

/// Validates the scenarios of config text that the overrides select.
pub fn parse_selected(
    source: &str,
    path: &Path,
    overrides: &Overrides,
) -> Result<Selected, ConfigError> {
    let file = Source { text: source, path };
    let raw: RawFile = toml::from_str(source).map_err(|e| file.toml_error(&e))?;
    if raw.scenario.is_empty() {
        return Err(file.error(
            None,
            None,
            None,
            "the config has no [[scenario]] table".into(),
        ));
    }
    let defaults = match raw.defaults {
        Some(defaults) => {
            if let Some(name) = &defaults.get_ref().name {
                return Err(file.error(
                    Some(name.span()),
                    None,
                    Some("defaults.name"),
                    "`name` has no default: each scenario names itself".into(),
                ));
            }
            defaults.into_inner()
        }
        None => RawScenario::default(),
    };
    let jobs = match &defaults.jobs {
        None => None,
        Some(jobs) if (1..=MAX_JOBS).contains(jobs.get_ref()) => Some(*jobs.get_ref() as usize),
        Some(jobs) => {
            return Err(file.error(
                Some(jobs.span()),
                None,
                Some("defaults.jobs"),
                format!(
                    "jobs must be between 1 and {MAX_JOBS}, got {}",
                    jobs.get_ref()
                ),
            ));
        }
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut scenarios = Vec::with_capacity(raw.scenario.len());
    let mut names = Vec::with_capacity(raw.scenario.len());
    for raw_scenario in raw.scenario {
        let table = raw_scenario.span();
        let mut raw_scenario = raw_scenario.into_inner().with_defaults(&defaults);
        if let Some(engine) = &overrides.engine {
            raw_scenario = raw_scenario.on_engine(engine, table.clone());
        }
        let header_at = source[..table.start.min(source.len())]
            .rfind("[[scenario]]")
            .unwrap_or(table.start);
        let Some(name_key) = raw_scenario.name.clone() else {
            return Err(file.error(
                Some(header_at..header_at),
                None,
                Some("name"),
                "missing field `name`: every [[scenario]] needs one".into(),
            ));
        };
        let name = name_key.get_ref().clone();
        if let Some(first_line) = seen.get(&name) {
            return Err(file.error(
                Some(name_key.span()),
                Some(&name),
                Some("name"),
                format!("duplicate scenario name `{name}` (first used on line {first_line})"),
            ));
        }
        seen.insert(name.clone(), file.line_column(name_key.span().start).0);
        names.push(name.clone());
        if overrides
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(&name))
        {
            continue;
        }
        let header_at = source[..name_key.span().start]
            .rfind("[[scenario]]")
            .unwrap_or(header_at);
        let mut scenario = file.scenario(raw_scenario, header_at)?;
        scenario.origin = Some(Origin {
            file: path.to_path_buf(),
            line: file.line_column(header_at).0,
        });
        if let Some(seed) = overrides.seed {
            scenario.seed = seed;
        }
        if let Some(runs) = overrides.runs {
            scenario.runs = runs;
        }
        if let Some(time) = overrides.time {
            scenario.time = Some(time);
        }
        scenarios.push(scenario);
    }
    Ok(Selected {
        scenarios,
        names,
        jobs,
    })
}

/// The most worker threads `jobs` may ask for.
pub const MAX_JOBS: i64 = 1024;

struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn line_column(&self, offset: usize) -> (usize, usize) {
        line_column(self.text, offset)
    }

    fn error(
        &self,
        span: Option<Range<usize>>,
        scenario: Option<&str>,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        ConfigError::Invalid {
            location: Location {
                path: self.path.to_path_buf(),
                line_column: span.map(|s| self.line_column(s.start)),
                scenario: scenario.map(str::to_string),
                key: key.map(str::to_string),
            },
            message,
        }
    }

    fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let span = error.span();
        let mut message = error
            .message()
            .trim()
            .replace('\n', " ")
            .replace("expected i64", "expected an integer")
            .replace("expected f64", "expected a number")
            .replace(
                "struct RawThread",
                "a thread such as { delta = 1, ops = 10 }",
            )
            .replace("struct RawScenario", "a [[scenario]] table")
            .replace("struct RawFile", "a table of [[scenario]] tables");
        // Type and field errors point at a value or key; syntax errors may point anywhere.
        let about_a_key = [
            "invalid type",
            "invalid value",
            "unknown field",
            "invalid length",
            "duplicate key",
        ]
        .iter()
        .any(|start| message.starts_with(start));
        let missing = message.starts_with("missing field");
        // Inside a program's table, the key is written whole: `program.threads[0].extra`.
        let in_program = span
            .as_ref()
            .filter(|_| about_a_key || missing)
            .and_then(|s| program::table::key_path_at(self.text, s.start));
        let key = if missing {
            let field = quoted_name(&message);
            match (in_program, field) {
                (Some(path), Some(field)) => Some(format!("{path}.{field}")),
                (_, field) => field,
            }
        } else {
            in_program.or_else(|| {
                span.as_ref()
                    .filter(|_| about_a_key)
                    .and_then(|s| self.key_at(s.start))
            })
        };
        if key.as_deref() == Some("scenario") && message.contains("expected a sequence") {
            message.push_str("; write each scenario as [[scenario]], with two brackets");
        }
        let scenario = span.as_ref().and_then(|s| self.scenario_at(s.start));
        self.error(span, scenario.as_deref(), key.as_deref(), message)
    }

    /// The name of the `[[scenario]]` table that holds `offset`, read from the text.
    fn scenario_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        // One character past the offset, which need not be one byte.
        let end = (offset + 1..=self.text.len())
            .find(|&end| self.text.is_char_boundary(end))
            .unwrap_or(self.text.len());
        let header = self.text[..end].rfind("[[scenario]]")?;
        let block_end = self.text[header + 1..]
            .find("[[")
            .map_or(self.text.len(), |i| header + 1 + i);
        self.text[header..block_end].lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix("name")?.trim_start();
            let value = rest.strip_prefix('=')?.trim();
            let value = value.strip_prefix('"')?;
            Some(value[..value.find('"')?].to_string())
        })
    }

    /// Where `key = ...` is written within the table whose text starts at `from`.
    fn key_offset_in_table(&self, from: usize, key: &str) -> Option<usize> {
        let from = from.min(self.text.len());
        let end = self.text[from..]
            .find("\n[")
            .map_or(self.text.len(), |i| from + i);
        let table = &self.text[from..end];
        let mut search = 0;
        while let Some(found) = table[search..].find(key) {
            let at = search + found;
            let before_ok = at == 0 || !table[..at].ends_with(is_key_char);
            let after = &table[at + key.len()..];
            if before_ok && after.trim_start().starts_with('=') {
                return Some(from + at);
            }
            search = at + key.len();
        }
        None
    }

    /// The key whose value (or which key itself) starts at `offset`: the nearest `key =` at or
    /// before it on the same line.
    fn key_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = &self.text[line_start..line_end];
        let upto = offset - line_start;
        // A table header names its key: `[scenario]`.
        if let Some(header) = line
            .trim()
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            let header = header.trim_matches(|c| c == '[' || c == ']').trim();
            return (!header.is_empty()).then(|| header.to_string());
        }
        // The key itself may start at the offset (an unknown field).
        let rest = &line[upto..];
        let word: String = rest.chars().take_while(|c| is_key_char(*c)).collect();
        if !word.is_empty() && rest[word.len()..].trim_start().starts_with('=') {
            return Some(word);
        }
        let head = &line[..upto];
        let equals = head.rfind('=')?;
        let key: String = head[..equals]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| is_key_char(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        (!key.is_empty()).then_some(key)
    }

    fn scenario(&self, raw: RawScenario, header_at: usize) -> Result<Scenario, ConfigError> {
        let name_key = raw
            .name
            .clone()
            .expect("parse checks that every scenario has a name");
        let name = name_key.get_ref().clone();
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(&name), Some(key), message)
        };
        let required = |value: &Option<Spanned<String>>, key: &str| {
            value.clone().ok_or_else(|| {
                invalid(
                    header_at..header_at,
                    key,
                    format!("missing field `{key}` (set it in the scenario or in [defaults])"),
                )
            })
        };
        let engine_key = required(&raw.engine, "engine")?;
        let expect_key = required(&raw.expect, "expect")?;
        if name.trim().is_empty() {
            return Err(invalid(
                name_key.span(),
                "name",
                "the name must not be empty".into(),
            ));
        }

        if let Some(workload) = &raw.workload
            && let Some(plugin) = registry::find(workload.get_ref())
        {
            return self.plugin_scenario(raw, plugin, engine_key, expect_key);
        }
        if let Some(workload) = &raw.workload
            && !registry::BUILT_IN.contains(&workload.get_ref().as_str())
        {
            return Err(invalid(
                workload.span(),
                "workload",
                format!(
                    "unknown workload `{}` (expected one of: {})",
                    workload.get_ref(),
                    registry::workload_names().join(", ")
                ),
            ));
        }
        if let Some(table) = &raw.program {
            return Err(invalid(
                table.span(),
                "program",
                "`program` applies to `workload = \"program\"` only".into(),
            ));
        }
        if let Some(params) = &raw.params {
            return Err(invalid(
                params.span(),
                "params",
                "`params` applies to plugin workloads (registered by a harness program) only; \
                 the counter workloads take their keys in the scenario itself"
                    .into(),
            ));
        }
        let object = raw
            .workload
            .as_ref()
            .is_some_and(|w| w.get_ref() == "counter-object");

        let sync = match &raw.sync {
            // The lesson's `Counter` class has its lock.
            None if object => SyncMode::Mutex,
            None => SyncMode::None,
            Some(sync) => SyncMode::ALL
                .into_iter()
                .find(|m| m.as_str() == sync.get_ref())
                .ok_or_else(|| {
                    invalid(
                        sync.span(),
                        "sync",
                        format!(
                            "unknown sync mode `{}` (expected one of: {})",
                            sync.get_ref(),
                            SyncMode::ALL.map(SyncMode::as_str).join(", ")
                        ),
                    )
                })?,
        };

        let (threads, threads_span, object) = if object {
            for (key, span) in [("threads", raw.threads.as_ref().map(Spanned::span))] {
                if let Some(span) = span {
                    return Err(invalid(
                        span,
                        key,
                        "workload counter-object has `workers` and `increments`, not `threads`"
                            .into(),
                    ));
                }
            }
            if !matches!(sync, SyncMode::Mutex | SyncMode::None) {
                return Err(invalid(
                    raw.sync.as_ref().map_or(name_key.span(), Spanned::span),
                    "sync",
                    format!(
                        "workload counter-object takes sync = \"mutex\" (the lesson's lock) or \"none\", not \"{sync}\""
                    ),
                ));
            }
            let count =
                |value: &Option<Spanned<i64>>, key: &str, default: i64, max: i64| match value {
                    None => Ok(default),
                    Some(v) if (1..=max).contains(v.get_ref()) => Ok(*v.get_ref()),
                    Some(v) => Err(invalid(
                        v.span(),
                        key,
                        format!("{key} must be between 1 and {max}, got {}", v.get_ref()),
                    )),
                };
            let workers = count(&raw.workers, "workers", 2, MAX_THREADS as i64)?;
            let increments = count(&raw.increments, "increments", 2, MAX_TOTAL_OPS as i64)?;
            let max_pause = match &raw.max_pause_ms {
                None => DEFAULT_MAX_PAUSE,
                Some(ms) if (0..=MAX_PAUSE_MS).contains(ms.get_ref()) => {
                    Duration::from_millis(*ms.get_ref() as u64)
                }
                Some(ms) => {
                    return Err(invalid(
                        ms.span(),
                        "max_pause_ms",
                        format!(
                            "max_pause_ms must be between 0 and {MAX_PAUSE_MS}, got {}",
                            ms.get_ref()
                        ),
                    ));
                }
            };
            let threads = vec![
                ThreadSpec {
                    delta: 1,
                    ops: increments as u64
                };
                workers as usize
            ];
            (threads, name_key.span(), Some(ObjectSettings { max_pause }))
        } else {
            for (key, span) in [
                ("workers", raw.workers.as_ref().map(Spanned::span)),
                ("increments", raw.increments.as_ref().map(Spanned::span)),
                ("max_pause_ms", raw.max_pause_ms.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    return Err(invalid(
                        span,
                        key,
                        format!("`{key}` applies to workload counter-object only"),
                    ));
                }
            }
            let Some(raw_threads) = &raw.threads else {
                return Err(invalid(
                    name_key.span(),
                    "threads",
                    "missing field `threads`: one { delta, ops } per thread".into(),
                ));
            };
            let threads_span = raw_threads.span();
            let thread_list = raw_threads.get_ref();
            if thread_list.is_empty() {
                return Err(invalid(
                    threads_span.clone(),
                    "threads",
                    "at least one thread is needed".into(),
                ));
            }
            if thread_list.len() > MAX_THREADS {
                return Err(invalid(
                    threads_span.clone(),
                    "threads",
                    format!(
                        "at most {MAX_THREADS} threads are supported, got {}",
                        thread_list.len()
                    ),
                ));
            }
            let mut threads = Vec::with_capacity(thread_list.len());
            for thread in thread_list {
                let ops = *thread.get_ref().0.ops.get_ref();
                if ops < 1 {
                    return Err(invalid(
                        thread.get_ref().0.ops.span(),
                        "ops",
                        format!("ops must be at least 1, got {ops}"),
                    ));
                }
                threads.push(ThreadSpec {
                    delta: thread.get_ref().0.delta,
                    ops: ops as u64,
                });
            }
            (threads, threads_span, None)
        };
        let total_ops = threads
            .iter()
            .try_fold(0u64, |acc, t| acc.checked_add(t.ops))
            .filter(|&total| total <= MAX_TOTAL_OPS);
        if total_ops.is_none() {
            let total: u128 = threads.iter().map(|t| u128::from(t.ops)).sum();
            return Err(invalid(
                threads_span.clone(),
                if object.is_some() {
                    "increments"
                } else {
                    "threads"
                },
                format!("at most {MAX_TOTAL_OPS} ops in all are supported, got {total}"),
            ));
        }

        let counter = CounterSpec::new(
            raw.initial.as_ref().map_or(0, |initial| *initial.get_ref()),
            &threads.iter().map(|t| (t.delta, t.ops)).collect::<Vec<_>>(),
            sync,
        );
        if counter.reachable_range().is_none() || counter.checked_expected_final().is_none() {
            return Err(invalid(
                threads_span.clone(),
                if object.is_some() {
                    "initial"
                } else {
                    "threads"
                },
                "the counter's value does not fit in 64 bits along some interleaving: the \
                 initial value plus every negative update, the initial value plus every \
                 positive one, and the distance between them must fit in a signed 64-bit \
                 integer"
                    .into(),
            ));
        }

        let Common {
            runs,
            seed,
            expect,
            time,
        } = self.common(&raw, &name, &expect_key)?;

        if let Some(timeout) = &raw.deadlock_timeout {
            return Err(invalid(
                timeout.span(),
                "deadlock_timeout",
                "`deadlock_timeout` applies to workloads written on contend's primitives (plugin \
                 workloads) on the threads engine; the counter workloads do not block"
                    .into(),
            ));
        }

        // Keys that belong to one engine (or executor) only.
        let engine_name = engine_key.get_ref().as_str();
        let executor_name = raw.executor.as_ref().map(|e| e.get_ref().as_str());
        let under_shuttle = engine_name == "shuttle"
            || (engine_name == "async" && executor_name == Some("shuttle"));
        let owned: [(&str, Option<Range<usize>>, bool, &str); 10] = [
            (
                "scheduler",
                raw.scheduler.as_ref().map(Spanned::span),
                under_shuttle,
                "engines that run under shuttle",
            ),
            (
                "depth",
                raw.depth.as_ref().map(Spanned::span),
                under_shuttle,
                "engines that run under shuttle",
            ),
            (
                "max_steps",
                raw.max_steps.as_ref().map(Spanned::span),
                under_shuttle,
                "engines that run under shuttle",
            ),
            (
                "jitter",
                raw.jitter.as_ref().map(Spanned::span),
                engine_name == "threads" || engine_name == "processes",
                "the threads and processes engines",
            ),
            (
                "barrier",
                raw.barrier.as_ref().map(Spanned::span),
                engine_name == "threads",
                "the threads engine",
            ),
            (
                "parallel",
                raw.parallel.as_ref().map(Spanned::span),
                engine_name == "threads" || engine_name == "processes",
                "the threads and processes engines",
            ),
            (
                "executor",
                raw.executor.as_ref().map(Spanned::span),
                engine_name == "async",
                "the async engine",
            ),
            (
                "await_in_critical_section",
                raw.await_in_critical_section.as_ref().map(Spanned::span),
                engine_name == "async",
                "the async engine",
            ),
            (
                "storage",
                raw.storage.as_ref().map(Spanned::span),
                engine_name == "processes",
                "the processes engine",
            ),
            (
                "timeout",
                raw.timeout.as_ref().map(Spanned::span),
                engine_name == "processes",
                "the processes engine",
            ),
        ];
        let known_engine = ["threads", "shuttle", "async", "processes"].contains(&engine_name);
        for (key, span, allowed, owner) in owned {
            if let Some(span) = span
                && !allowed
                && known_engine
            {
                let note = if key == "scheduler" || key == "depth" || key == "max_steps" {
                    " (engine = \"shuttle\", or engine = \"async\" with executor = \"shuttle\")"
                } else {
                    ""
                };
                return Err(invalid(
                    span,
                    key,
                    format!("`{key}` applies to {owner} only{note}"),
                ));
            }
        }
        let engine = match engine_name {
            "threads" => {
                let jitter = match &raw.jitter {
                    None => Some(Jitter::default()),
                    Some(value) => self.jitter(value, &name)?,
                };
                EngineSpec::Threads(ThreadsSettings {
                    jitter,
                    barrier: raw.barrier.as_ref().is_none_or(|b| *b.get_ref()),
                    parallel: raw.parallel.as_ref().is_some_and(|p| *p.get_ref()),
                    ..ThreadsSettings::default()
                })
            }
            "shuttle" => EngineSpec::Shuttle(self.shuttle_settings(&raw, &name)?),
            "async" => {
                if object.is_some() {
                    return Err(invalid(
                        engine_key.span(),
                        "engine",
                        "workload counter-object runs on the threads and shuttle engines".into(),
                    ));
                }
                if sync.spins() {
                    return Err(invalid(
                        raw.sync.as_ref().map_or(engine_key.span(), Spanned::span),
                        "sync",
                        format!(
                            "sync = \"{sync}\" spins, and on one thread a task that waits without \
                             awaiting never lets the holder run; use none, mutex or atomic"
                        ),
                    ));
                }
                let executor = match raw
                    .executor
                    .as_ref()
                    .map(|e| (e.get_ref().as_str(), e.span()))
                {
                    None | Some(("tokio", _)) => Executor::Tokio,
                    Some(("shuttle", _)) => Executor::Shuttle(self.shuttle_settings(&raw, &name)?),
                    Some((other, span)) => {
                        return Err(invalid(
                            span,
                            "executor",
                            format!("unknown executor `{other}` (expected one of: tokio, shuttle)"),
                        ));
                    }
                };
                if let Some(flag) = &raw.await_in_critical_section
                    && *flag.get_ref()
                    && sync == SyncMode::Atomic
                {
                    return Err(invalid(
                        flag.span(),
                        "await_in_critical_section",
                        "sync = \"atomic\" updates in one atomic step, with no inside to await in; \
                         use sync = \"none\" or \"mutex\""
                            .into(),
                    ));
                }
                EngineSpec::Async(AsyncSettings {
                    executor,
                    await_in_critical_section: raw
                        .await_in_critical_section
                        .as_ref()
                        .is_some_and(|a| *a.get_ref()),
                })
            }
            "processes" => {
                if object.is_some() {
                    return Err(invalid(
                        engine_key.span(),
                        "engine",
                        "workload counter-object runs on the threads and shuttle engines".into(),
                    ));
                }
                let storage = match raw
                    .storage
                    .as_ref()
                    .map(|s| (s.get_ref().as_str(), s.span()))
                {
                    None | Some(("shared-memory", _)) => Storage::SharedMemory,
                    Some(("manager", _)) => Storage::Manager,
                    Some((other, span)) => {
                        return Err(invalid(
                            span,
                            "storage",
                            format!(
                                "unknown storage `{other}` (expected one of: shared-memory, manager)"
                            ),
                        ));
                    }
                };
                if storage == Storage::Manager && !matches!(sync, SyncMode::None | SyncMode::Mutex)
                {
                    return Err(invalid(
                        raw.sync.as_ref().map_or(engine_key.span(), Spanned::span),
                        "sync",
                        format!(
                            "a managed value is read with get and written with set, so sync = \"{sync}\" has \
                             nothing to work on; use none or mutex (a lock around get and set)"
                        ),
                    ));
                }
                if let Some(threads) = &raw.threads
                    && threads.get_ref().len() > MAX_WORKER_PROCESSES
                {
                    return Err(invalid(
                        threads.span(),
                        "threads",
                        format!(
                            "the processes engine runs at most {MAX_WORKER_PROCESSES} worker \
                             processes (each holds file descriptors in contend), got {}",
                            threads.get_ref().len()
                        ),
                    ));
                }
                let timeout = match &raw.timeout {
                    None => DEFAULT_TIMEOUT,
                    Some(text) => self.duration(text, &name, "timeout")?,
                };
                let jitter = match &raw.jitter {
                    None => Some(Jitter::default()),
                    Some(value) => self.jitter(value, &name)?,
                };
                EngineSpec::Processes(ProcessesSettings {
                    jitter,
                    storage,
                    timeout,
                    parallel: raw.parallel.as_ref().is_some_and(|p| *p.get_ref()),
                })
            }
            other => {
                return Err(invalid(
                    engine_key.span(),
                    "engine",
                    format!(
                        "unknown engine `{other}` (expected one of: threads, shuttle, async, processes)"
                    ),
                ));
            }
        };

        Ok(Scenario {
            name,
            workload: WorkloadSpec::Counter(CounterSpec {
                initial: raw.initial.as_ref().map_or(0, |initial| *initial.get_ref()),
                threads,
                sync,
                object,
            }),
            engine,
            runs,
            seed,
            expect,
            origin: None,
            time,
        })
    }

    /// The keys every scenario has, whatever its workload: runs, seed, expectation and time
    /// budget.
    fn common(
        &self,
        raw: &RawScenario,
        name: &str,
        expect_key: &Spanned<String>,
    ) -> Result<Common, ConfigError> {
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
        if let Some(jobs) = &raw.jobs {
            return Err(invalid(
                jobs.span(),
                "jobs",
                "`jobs` applies to the whole run: set it in [defaults] (or give --jobs)".into(),
            ));
        }
        let runs = self.at_least_one(&raw.runs, name, "runs", DEFAULT_RUNS)?;
        let seed = match &raw.seed {
            None => fresh_seed(),
            Some(seed) if *seed.get_ref() >= 0 => *seed.get_ref() as u64,
            Some(seed) => {
                return Err(invalid(
                    seed.span(),
                    "seed",
                    format!("seed must not be negative, got {}", seed.get_ref()),
                ));
            }
        };
        let expect = match Expectation::parse(expect_key.get_ref()) {
            Some(expect) => expect,
            None => {
                return Err(invalid(
                    expect_key.span(),
                    "expect",
                    format!(
                        "unknown expectation `{}` (expected one of: {})",
                        expect_key.get_ref(),
                        Expectation::names()
                    ),
                ));
            }
        };

        let time = match &raw.time {
            None => None,
            Some(text) => Some(self.duration(text, name, "time")?),
        };

        Ok(Common {
            runs,
            seed,
            expect,
            time,
        })
    }

    /// A scenario of a plugin workload: the common keys, its engine (one the plugin runs on),
    /// and its `params` read into the plugin's own type.
    fn plugin_scenario(
        &self,
        raw: RawScenario,
        plugin: Arc<dyn ErasedPlugin>,
        engine_key: Spanned<String>,
        expect_key: Spanned<String>,
    ) -> Result<Scenario, ConfigError> {
        let name = raw
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_default();
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(&name), Some(key), message)
        };
        let workload = plugin.name();
        let counter_keys = [
            ("sync", raw.sync.as_ref().map(Spanned::span)),
            ("threads", raw.threads.as_ref().map(Spanned::span)),
            ("workers", raw.workers.as_ref().map(Spanned::span)),
            ("increments", raw.increments.as_ref().map(Spanned::span)),
            ("max_pause_ms", raw.max_pause_ms.as_ref().map(Spanned::span)),
            ("barrier", raw.barrier.as_ref().map(Spanned::span)),
            ("parallel", raw.parallel.as_ref().map(Spanned::span)),
        ];
        for (key, span) in counter_keys {
            if let Some(span) = span {
                return Err(invalid(
                    span,
                    key,
                    format!(
                        "`{key}` applies to the counter workloads; workload `{workload}` takes \
                         its parameters in {}",
                        params_table(workload)
                    ),
                ));
            }
        }
        if let Some(initial) = &raw.initial {
            return Err(invalid(
                initial.span(),
                "initial",
                format!(
                    "`initial` applies to the counter workloads; workload `{workload}` takes its \
                     parameters in {}",
                    params_table(workload)
                ),
            ));
        }
        if let Some(jitter) = &raw.jitter
            && engine_key.get_ref() != "threads"
        {
            return Err(invalid(
                jitter.span(),
                "jitter",
                "`jitter` applies to the threads engine: under shuttle the scheduler chooses \
                 every interleaving"
                    .to_string(),
            ));
        }
        let Common {
            runs,
            seed,
            expect,
            time,
        } = self.common(&raw, &name, &expect_key)?;
        let engines = plugin.engines();
        let engine = match engine_key.get_ref().as_str() {
            "shuttle" if engines.contains(&PluginEngine::Shuttle) => {
                EngineSpec::Shuttle(self.shuttle_settings(&raw, &name)?)
            }
            "threads" if engines.contains(&PluginEngine::Threads) => {
                EngineSpec::Threads(ThreadsSettings {
                    jitter: match &raw.jitter {
                        None => Some(Jitter::default()),
                        Some(value) => self.jitter(value, &name)?,
                    },
                    deadlock_timeout: match &raw.deadlock_timeout {
                        Some(text) => self.duration(text, &name, "deadlock_timeout")?,
                        None => DEFAULT_DEADLOCK_TIMEOUT,
                    },
                    ..ThreadsSettings::default()
                })
            }
            other => {
                return Err(invalid(
                    engine_key.span(),
                    "engine",
                    format!(
                        "workload `{workload}` runs on the {} engines, not `{other}`",
                        engines
                            .iter()
                            .map(|engine| engine.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                ));
            }
        };
        for (key, span) in [
            ("executor", raw.executor.as_ref().map(Spanned::span)),
            (
                "await_in_critical_section",
                raw.await_in_critical_section.as_ref().map(Spanned::span),
            ),
            ("storage", raw.storage.as_ref().map(Spanned::span)),
            ("timeout", raw.timeout.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                return Err(invalid(
                    span,
                    key,
                    format!("`{key}` does not apply to workload `{workload}`"),
                ));
            }
        }
        if engine_key.get_ref() != "shuttle" {
            for (key, span) in [
                ("scheduler", raw.scheduler.as_ref().map(Spanned::span)),
                ("depth", raw.depth.as_ref().map(Spanned::span)),
                ("max_steps", raw.max_steps.as_ref().map(Spanned::span)),
                (
                    "max_preemptions",
                    raw.max_preemptions.as_ref().map(Spanned::span),
                ),
            ] {
                if let Some(span) = span {
                    return Err(invalid(
                        span,
                        key,
                        format!("`{key}` applies to engines that run under shuttle only"),
                    ));
                }
            }
        }
        if engine_key.get_ref() != "threads"
            && let Some(timeout) = &raw.deadlock_timeout
        {
            return Err(invalid(
                timeout.span(),
                "deadlock_timeout",
                "`deadlock_timeout` applies to the threads engine only: under shuttle a deadlock \
                 is found when no thread can run"
                    .into(),
            ));
        }
        let (params_value, params_span) = self.plugin_params(&raw, workload, &name, &engine_key)?;
        let spec = plugin.params(params_value).map_err(|error| {
            let leaf = error
                .path
                .as_deref()
                .and_then(|path| path.rsplit('.').find(|part| part.parse::<usize>().is_err()));
            let span = leaf
                .and_then(|leaf| self.key_within(leaf, params_span.clone()))
                .unwrap_or(params_span.clone());
            let key = match &error.path {
                Some(path) => format!("params.{path}"),
                None => "params".to_string(),
            };
            invalid(
                span,
                &key,
                format!("workload `{workload}`: {}", error.message),
            )
        })?;
        Ok(Scenario {
            name,
            workload: WorkloadSpec::Plugin(spec),
            engine,
            runs,
            seed,
            expect,
            origin: None,
            time,
        })
    }

    /// A plugin scenario's parameters as a TOML value and where they are written: the
    /// `[scenario.params]` table, or for `workload = "program"` its `[scenario.program]` table,
    /// checked here (a mistake in a thread's code is reported at its line and column in the
    /// config file).
    fn plugin_params(
        &self,
        raw: &RawScenario,
        workload: &str,
        name: &str,
        engine_key: &Spanned<String>,
    ) -> Result<(toml::Value, Range<usize>), ConfigError> {
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
        if workload != program::NAME {
            if let Some(table) = &raw.program {
                return Err(invalid(
                    table.span(),
                    "program",
                    format!(
                        "`program` applies to `workload = \"program\"`; workload `{workload}` \
                         takes its parameters in [scenario.params]"
                    ),
                ));
            }
            return Ok(match &raw.params {
                Some(params) => (params.get_ref().clone(), params.span()),
                None => (toml::Value::Table(toml::Table::new()), engine_key.span()),
            });
        }
        if let Some(params) = &raw.params {
            return Err(invalid(
                params.span(),
                "params",
                "workload `program` takes its program in [scenario.program], not [scenario.params]"
                    .into(),
            ));
        }
        let Some(table) = &raw.program else {
            return Err(invalid(
                engine_key.span(),
                "program",
                "missing [scenario.program]: workload `program` needs its shared variables, \
                 locks and threads (see docs/programs.md)"
                    .into(),
            ));
        };
        let params = program::table::read(table, self.text)
            .map_err(|error| invalid(error.span, &error.key, error.message))?;
        let value = toml::Value::try_from(&params).map_err(|error| {
            invalid(table.span(), "program", format!("cannot be read: {error}"))
        })?;
        Ok((value, table.span()))
    }

    /// Where `key =` is written from the start of `span` to the next table of scenarios, if
    /// it is (a `[scenario.params]` table's span may cover its header alone).
    fn key_within(&self, key: &str, span: Range<usize>) -> Option<Range<usize>> {
        let rest = self.text.get(span.start..)?;
        let end = rest
            .match_indices("[[")
            .map(|(at, _)| at)
            .find(|&at| at > 0 && rest[..at].ends_with('\n'))
            .map_or(self.text.len(), |at| span.start + at);
        let span = span.start..end.max(span.end);
        let text = self.text.get(span.clone())?;
        let mut from = 0;
        while let Some(found) = text[from..].find(key) {
            let at = from + found;
            let before = text[..at].chars().next_back();
            let after = text[at + key.len()..].trim_start();
            if before.is_none_or(|c| !is_key_char(c)) && after.starts_with('=') {
                return Some(span.start + at..span.start + at + key.len());
            }
            from = at + key.len();
        }
        None
    }

    /// A count of at least 1 given as `key` of scenario `scenario`, or `default` when absent.
    fn at_least_one(
        &self,
        value: &Option<Spanned<i64>>,
        scenario: &str,
        key: &str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match value {
            None => Ok(default),
            Some(value) if *value.get_ref() >= 1 => Ok(*value.get_ref() as u64),
            Some(value) => Err(self.error(
                Some(value.span()),
                Some(scenario),
                Some(key),
                format!("{key} must be at least 1, got {}", value.get_ref()),
            )),
        }
    }

    /// A positive duration written as `"30s"`, `"500ms"` or `"2m"`.
    fn duration(
        &self,
        text: &Spanned<String>,
        scenario: &str,
        key: &str,
    ) -> Result<Duration, ConfigError> {
        let invalid =
            |message: String| self.error(Some(text.span()), Some(scenario), Some(key), message);
        match humantime::parse_duration(text.get_ref()) {
            Ok(duration) if duration > MAX_DURATION => {
                Err(invalid(format!("{key} must be at most 30 days")))
            }
            Ok(duration) if !duration.is_zero() => Ok(duration),
            Ok(_) => Err(invalid(format!("{key} must be longer than zero"))),
            Err(error) => Err(invalid(format!(
                "`{}` is not a duration ({error}); write for example \"30s\", \"500ms\" or \"2m\"",
                text.get_ref()
            ))),
        }
    }

    /// The shuttle settings of a scenario: scheduler, PCT depth and step bound.
    fn shuttle_settings(
        &self,
        raw: &RawScenario,
        name: &str,
    ) -> Result<ShuttleSettings, ConfigError> {
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
        let depth = self.at_least_one(&raw.depth, name, "depth", DEFAULT_PCT_DEPTH as u64)?;
        let depth = usize::try_from(depth).unwrap_or(usize::MAX);
        let scheduler = match raw
            .scheduler
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("random", _)) => SchedulerKind::Random,
            Some(("pct", _)) => SchedulerKind::Pct { depth },
            Some(("dfs", _)) => SchedulerKind::Dfs,
            Some(("dpor", _)) => SchedulerKind::Dpor,
            Some((other, span)) => {
                return Err(invalid(
                    span,
                    "scheduler",
                    format!(
                        "unknown scheduler `{other}` (expected one of: random, pct, dfs, dpor)"
                    ),
                ));
            }
        };
        let scheduler = match &raw.max_preemptions {
            None => scheduler,
            Some(bound) if scheduler.exhaustive() => {
                let max_preemptions = u32::try_from(*bound.get_ref()).map_err(|_| {
                    invalid(
                        bound.span(),
                        "max_preemptions",
                        format!(
                            "max_preemptions must be between 0 and {}, not {}",
                            u32::MAX,
                            bound.get_ref()
                        ),
                    )
                })?;
                SchedulerKind::Bounded { max_preemptions }
            }
            Some(bound) => {
                return Err(invalid(
                    bound.span(),
                    "max_preemptions",
                    "`max_preemptions` applies to scheduler = \"dfs\" or \"dpor\" only".into(),
                ));
            }
        };
        if let Some(depth) = &raw.depth
            && !matches!(scheduler, SchedulerKind::Pct { .. })
        {
            return Err(invalid(
                depth.span(),
                "depth",
                "`depth` applies to scheduler = \"pct\" only".into(),
            ));
        }
        let max_steps = self.at_least_one(&raw.max_steps, name, "max_steps", DEFAULT_MAX_STEPS)?;
        Ok(ShuttleSettings {
            scheduler,
            max_steps,
        })
    }

    fn jitter(
        &self,
        value: &Spanned<toml::Value>,
        scenario: &str,
    ) -> Result<Option<Jitter>, ConfigError> {
        // Errors point at the key inside the table where it can be found.
        let invalid = |key: Option<&str>, message: String| {
            let at = key.and_then(|k| self.key_offset_in_table(value.span().start, k));
            let span = at.map_or(value.span(), |at| at..at);
            let key = key.map_or_else(|| "jitter".to_string(), |k| format!("jitter.{k}"));
            self.error(Some(span), Some(scenario), Some(&key), message)
        };
        let table = match value.get_ref() {
            toml::Value::Boolean(true) => return Ok(Some(Jitter::default())),
            toml::Value::Boolean(false) => return Ok(None),
            toml::Value::Table(table) => table.clone(),
            other => {
                return Err(invalid(
                    None,
                    format!(
                        "jitter must be true, false or a table, got a {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let raw = RawJitter::deserialize(table.clone()).map_err(|e| {
            let message = e
                .message()
                .trim()
                .replace('\n', " ")
                .replace("expected i64", "expected an integer")
                .replace("expected f64", "expected a number");
            let key = if message.starts_with("unknown field") || message.starts_with("missing") {
                quoted_name(&message)
            } else {
                // A type error names the value, not its key: the key is the one whose value
                // alone fails.
                table.iter().find_map(|(key, value)| {
                    let mut alone = toml::Table::new();
                    alone.insert(key.clone(), value.clone());
                    RawJitter::deserialize(alone).is_err().then(|| key.clone())
                })
            };
            invalid(key.as_deref(), message)
        })?;
        let defaults = Jitter::default();
        let probability =
            |key: &str, value: Option<f64>, default: f64| -> Result<f64, ConfigError> {
                match value {
                    None => Ok(default),
                    Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
                    Some(p) => Err(invalid(
                        Some(key),
                        format!("{key} must be between 0 and 1, got {p}"),
                    )),
                }
            };
        let jitter = Jitter {
            yield_probability: probability(
                "yield_probability",
                raw.yield_probability,
                defaults.yield_probability,
            )?,
            spin_probability: probability(
                "spin_probability",
                raw.spin_probability,
                defaults.spin_probability,
            )?,
            sleep_probability: probability(
                "sleep_probability",
                raw.sleep_probability,
                defaults.sleep_probability,
            )?,
            max_spin: match raw.max_spin {
                None => defaults.max_spin,
                Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => n as u32,
                Some(n) => {
                    return Err(invalid(
                        Some("max_spin"),
                        format!("max_spin must be between 0 and {}, got {n}", u32::MAX),
                    ));
                }
            },
            max_sleep: match raw.max_sleep_us {
                None => defaults.max_sleep,
                Some(us) if (0..=MAX_SLEEP_US).contains(&us) => Duration::from_micros(us as u64),
                Some(us) => {
                    return Err(invalid(
                        Some("max_sleep_us"),
                        format!("max_sleep_us must be between 0 and {MAX_SLEEP_US}, got {us}"),
                    ));
                }
            },
        };
        let sum = jitter.yield_probability + jitter.spin_probability + jitter.sleep_probability;
        if sum > 1.0 + 1e-9 {
            let defaulted: Vec<String> = [
                (
                    "yield_probability",
                    raw.yield_probability,
                    jitter.yield_probability,
                ),
                (
                    "spin_probability",
                    raw.spin_probability,
                    jitter.spin_probability,
                ),
                (
                    "sleep_probability",
                    raw.sleep_probability,
                    jitter.sleep_probability,
                ),
            ]
            .iter()
            .filter(|(_, given, _)| given.is_none())
            .map(|(key, _, value)| format!("{key} = {value} by default"))
            .collect();
            let note = if defaulted.is_empty() {
                String::new()
            } else {
                format!(" (with {}; set them lower)", defaulted.join(", "))
            };
            return Err(invalid(
                None,
                format!(
                    "yield_probability + spin_probability + sleep_probability must be at most 1, \
                     got {sum}{note}"
                ),
            ));
        }
        Ok(Some(jitter))
    }
}

/// The first name written between backticks in a message, such as the field of
/// "unknown field `x`".
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A seed for scenarios that give none; reported so that the run can be repeated.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) >> 1
}

/// Where workload `workload` takes its parameters: a program in `[scenario.program]`, any
/// other plugin workload in `[scenario.params]`.
fn params_table(workload: &str) -> &'static str {
    if workload == program::NAME {
        "[scenario.program]"
    } else {
        "[scenario.params]"
    }
}
