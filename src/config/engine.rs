//! Validating engine settings: the keys that belong to one engine, the counter's engine,
//! shuttle's scheduler and bounds, and the real engines' jitter.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{
    AsyncSettings, DEFAULT_MAX_STEPS, DEFAULT_TIMEOUT, EngineSpec, Executor, Jitter,
    ObjectSettings, ProcessesSettings, SchedulerKind, ShuttleSettings, Storage, SyncMode,
    ThreadsSettings,
};

use super::error::ConfigError;
use super::limits::{DEFAULT_PCT_DEPTH, MAX_SLEEP_US, MAX_WORKER_PROCESSES};
use super::raw::{RawJitter, RawScenario};
use super::scenario::in_range;
use super::source::{Source, plain_message, quoted_name, span_of};

impl Source<'_> {
    /// The shuttle settings of a scenario: scheduler, PCT depth and step bound.
    pub(super) fn shuttle_settings(
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

    /// A scenario's `jitter`: `true` (the default jitter), `false` (none) or a table.
    pub(super) fn jitter(
        &self,
        value: &Spanned<toml::Value>,
        scenario: &str,
    ) -> Result<Option<Jitter>, ConfigError> {
        let table = match value.get_ref() {
            toml::Value::Boolean(true) => return Ok(Some(Jitter::default())),
            toml::Value::Boolean(false) => return Ok(None),
            toml::Value::Table(table) => table,
            other => {
                return Err(self.jitter_error(
                    value,
                    scenario,
                    None,
                    format!(
                        "jitter must be true, false or a table, got a {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let raw = self.raw_jitter(value, table, scenario)?;
        let jitter = self.jitter_settings(value, scenario, &raw)?;
        self.check_jitter_sum(value, scenario, &raw, &jitter)?;
        Ok(Some(jitter))
    }

    /// The error about `jitter.key` (or `jitter`), at the key inside the table where found.
    fn jitter_error(
        &self,
        value: &Spanned<toml::Value>,
        scenario: &str,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        let at = key.and_then(|k| self.key_offset_in_table(value.span().start, k));
        let span = at.map_or(value.span(), |at| at..at);
        let key = key.map_or_else(|| "jitter".to_string(), |k| format!("jitter.{k}"));
        self.error(Some(span), Some(scenario), Some(&key), message)
    }

    /// The jitter table read into its raw keys; an error names the key at fault.
    fn raw_jitter(
        &self,
        value: &Spanned<toml::Value>,
        table: &toml::Table,
        scenario: &str,
    ) -> Result<RawJitter, ConfigError> {
        RawJitter::deserialize(table.clone()).map_err(|e| {
            let message = plain_message(&e);
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
            self.jitter_error(value, scenario, key.as_deref(), message)
        })
    }

    /// The jitter of the raw keys, each checked against its bounds, defaults for the rest.
    fn jitter_settings(
        &self,
        value: &Spanned<toml::Value>,
        scenario: &str,
        raw: &RawJitter,
    ) -> Result<Jitter, ConfigError> {
        let defaults = Jitter::default();
        let invalid =
            |key: &str, message: String| self.jitter_error(value, scenario, Some(key), message);
        let probability = |key: &str, given: Option<f64>, default: f64| {
            given.map_or(Ok(default), |p| {
                in_range(key, p, &(0.0..=1.0)).map_err(|message| invalid(key, message))
            })
        };
        Ok(Jitter {
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
                Some(n) => in_range("max_spin", n, &(0..=i64::from(u32::MAX)))
                    .map_err(|message| invalid("max_spin", message))?
                    as u32,
            },
            max_sleep: match raw.max_sleep_us {
                None => defaults.max_sleep,
                Some(us) => Duration::from_micros(
                    in_range("max_sleep_us", us, &(0..=MAX_SLEEP_US))
                        .map_err(|message| invalid("max_sleep_us", message))?
                        as u64,
                ),
            },
        })
    }

    /// Checks that the jitter's three probabilities add up to at most 1.
    fn check_jitter_sum(
        &self,
        value: &Spanned<toml::Value>,
        scenario: &str,
        raw: &RawJitter,
        jitter: &Jitter,
    ) -> Result<(), ConfigError> {
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
            return Err(self.jitter_error(
                value,
                scenario,
                None,
                format!(
                    "yield_probability + spin_probability + sleep_probability must be at most 1, \
                     got {sum}{note}"
                ),
            ));
        }
        Ok(())
    }

    /// Checks that the keys that belong to one engine (or executor) only are not given to
    /// another of the known engines.
    pub(super) fn check_engine_keys(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_name: &str,
    ) -> Result<(), ConfigError> {
        if !["threads", "shuttle", "async", "processes"].contains(&engine_name) {
            return Ok(());
        }
        let executor_name = raw.executor.as_ref().map(|e| e.get_ref().as_str());
        let under_shuttle = engine_name == "shuttle"
            || (engine_name == "async" && executor_name == Some("shuttle"));
        let threads = engine_name == "threads";
        let real = threads || engine_name == "processes";
        let on_async = engine_name == "async";
        let processes = engine_name == "processes";
        const SHUTTLE: &str = "engines that run under shuttle";
        const REAL: &str = "the threads and processes engines";
        const THREADS: &str = "the threads engine";
        const ASYNC: &str = "the async engine";
        const PROCESSES: &str = "the processes engine";
        let owned: [(&str, Option<Range<usize>>, bool, &str); 10] = [
            ("scheduler", span_of(&raw.scheduler), under_shuttle, SHUTTLE),
            ("depth", span_of(&raw.depth), under_shuttle, SHUTTLE),
            ("max_steps", span_of(&raw.max_steps), under_shuttle, SHUTTLE),
            ("jitter", span_of(&raw.jitter), real, REAL),
            ("barrier", span_of(&raw.barrier), threads, THREADS),
            ("parallel", span_of(&raw.parallel), real, REAL),
            ("executor", span_of(&raw.executor), on_async, ASYNC),
            (
                "await_in_critical_section",
                span_of(&raw.await_in_critical_section),
                on_async,
                ASYNC,
            ),
            ("storage", span_of(&raw.storage), processes, PROCESSES),
            ("timeout", span_of(&raw.timeout), processes, PROCESSES),
        ];
        for (key, span, allowed, owner) in owned {
            if let Some(span) = span
                && !allowed
            {
                let note = if owner == SHUTTLE {
                    " (engine = \"shuttle\", or engine = \"async\" with executor = \"shuttle\")"
                } else {
                    ""
                };
                return Err(self.invalid(
                    span,
                    name,
                    key,
                    format!("`{key}` applies to {owner} only{note}"),
                ));
            }
        }
        Ok(())
    }

    /// A counter scenario's engine and its settings, checked against the counter's `sync`
    /// and workload (`object` for counter-object).
    pub(super) fn counter_engine(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_key: &Spanned<String>,
        sync: SyncMode,
        object: Option<&ObjectSettings>,
    ) -> Result<EngineSpec, ConfigError> {
        let engine_name = engine_key.get_ref().as_str();
        if object.is_some() && matches!(engine_name, "async" | "processes") {
            return Err(self.invalid(
                engine_key.span(),
                name,
                "engine",
                "workload counter-object runs on the threads and shuttle engines".into(),
            ));
        }
        Ok(match engine_name {
            "threads" => EngineSpec::Threads(ThreadsSettings {
                jitter: self.jitter_or_default(raw, name)?,
                barrier: raw.barrier.as_ref().is_none_or(|b| *b.get_ref()),
                parallel: raw.parallel.as_ref().is_some_and(|p| *p.get_ref()),
                ..ThreadsSettings::default()
            }),
            "shuttle" => EngineSpec::Shuttle(self.shuttle_settings(raw, name)?),
            "async" => EngineSpec::Async(self.async_settings(raw, name, engine_key, sync)?),
            "processes" => {
                EngineSpec::Processes(self.processes_settings(raw, name, engine_key, sync)?)
            }
            other => {
                return Err(self.invalid(
                    engine_key.span(),
                    name,
                    "engine",
                    format!(
                        "unknown engine `{other}` (expected one of: threads, shuttle, async, processes)"
                    ),
                ));
            }
        })
    }

    /// A scenario's jitter on a real engine: its `jitter` key, or the default jitter.
    pub(super) fn jitter_or_default(
        &self,
        raw: &RawScenario,
        name: &str,
    ) -> Result<Option<Jitter>, ConfigError> {
        match &raw.jitter {
            None => Ok(Some(Jitter::default())),
            Some(value) => self.jitter(value, name),
        }
    }

    /// The async engine's settings for a counter, checked against the counter's `sync`.
    fn async_settings(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_key: &Spanned<String>,
        sync: SyncMode,
    ) -> Result<AsyncSettings, ConfigError> {
        if sync.spins() {
            return Err(self.invalid(
                raw.sync.as_ref().map_or(engine_key.span(), Spanned::span),
                name,
                "sync",
                format!(
                    "sync = \"{sync}\" spins, and on one thread a task that waits without \
                     awaiting never lets the holder run; use none, mutex or atomic"
                ),
            ));
        }
        let executor = self.executor(raw, name)?;
        let await_in_critical_section = raw
            .await_in_critical_section
            .as_ref()
            .is_some_and(|a| *a.get_ref());
        if let Some(flag) = &raw.await_in_critical_section
            && await_in_critical_section
            && sync == SyncMode::Atomic
        {
            return Err(self.invalid(
                flag.span(),
                name,
                "await_in_critical_section",
                "sync = \"atomic\" updates in one atomic step, with no inside to await in; \
                 use sync = \"none\" or \"mutex\""
                    .into(),
            ));
        }
        Ok(AsyncSettings {
            executor,
            await_in_critical_section,
        })
    }

    /// The async engine's executor: tokio (by default) or shuttle with its settings.
    fn executor(&self, raw: &RawScenario, name: &str) -> Result<Executor, ConfigError> {
        match raw
            .executor
            .as_ref()
            .map(|e| (e.get_ref().as_str(), e.span()))
        {
            None | Some(("tokio", _)) => Ok(Executor::Tokio),
            Some(("shuttle", _)) => Ok(Executor::Shuttle(self.shuttle_settings(raw, name)?)),
            Some((other, span)) => Err(self.invalid(
                span,
                name,
                "executor",
                format!("unknown executor `{other}` (expected one of: tokio, shuttle)"),
            )),
        }
    }

    /// The processes engine's settings for a counter of at most [`MAX_WORKER_PROCESSES`] threads.
    fn processes_settings(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_key: &Spanned<String>,
        sync: SyncMode,
    ) -> Result<ProcessesSettings, ConfigError> {
        let storage = self.storage(raw, name, engine_key, sync)?;
        if let Some(threads) = &raw.threads
            && threads.get_ref().len() > MAX_WORKER_PROCESSES
        {
            return Err(self.invalid(
                threads.span(),
                name,
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
            Some(text) => self.duration(text, name, "timeout")?,
        };
        Ok(ProcessesSettings {
            jitter: self.jitter_or_default(raw, name)?,
            storage,
            timeout,
            parallel: raw.parallel.as_ref().is_some_and(|p| *p.get_ref()),
        })
    }

    /// Where the processes engine keeps the counter: shared memory (default) or a manager.
    fn storage(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_key: &Spanned<String>,
        sync: SyncMode,
    ) -> Result<Storage, ConfigError> {
        let storage = match raw
            .storage
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("shared-memory", _)) => Storage::SharedMemory,
            Some(("manager", _)) => Storage::Manager,
            Some((other, span)) => {
                return Err(self.invalid(
                    span,
                    name,
                    "storage",
                    format!("unknown storage `{other}` (expected one of: shared-memory, manager)"),
                ));
            }
        };
        if storage == Storage::Manager && !matches!(sync, SyncMode::None | SyncMode::Mutex) {
            return Err(self.invalid(
                raw.sync.as_ref().map_or(engine_key.span(), Spanned::span),
                name,
                "sync",
                format!(
                    "a managed value is read with get and written with set, so sync = \"{sync}\" has \
                     nothing to work on; use none or mutex (a lock around get and set)"
                ),
            ));
        }
        Ok(storage)
    }
}
