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
use super::source::{Source, quoted_name};

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

    pub(super) fn jitter(
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

    /// Checks that the keys that belong to one engine (or executor) only are not given to
    /// another of the known engines.
    pub(super) fn check_engine_keys(
        &self,
        raw: &RawScenario,
        name: &str,
        engine_name: &str,
    ) -> Result<(), ConfigError> {
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
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
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
        };
        let engine_name = engine_key.get_ref().as_str();
        let engine = match engine_name {
            "threads" => {
                let jitter = match &raw.jitter {
                    None => Some(Jitter::default()),
                    Some(value) => self.jitter(value, name)?,
                };
                EngineSpec::Threads(ThreadsSettings {
                    jitter,
                    barrier: raw.barrier.as_ref().is_none_or(|b| *b.get_ref()),
                    parallel: raw.parallel.as_ref().is_some_and(|p| *p.get_ref()),
                    ..ThreadsSettings::default()
                })
            }
            "shuttle" => EngineSpec::Shuttle(self.shuttle_settings(raw, name)?),
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
                    Some(("shuttle", _)) => Executor::Shuttle(self.shuttle_settings(raw, name)?),
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
                    Some(text) => self.duration(text, name, "timeout")?,
                };
                let jitter = match &raw.jitter {
                    None => Some(Jitter::default()),
                    Some(value) => self.jitter(value, name)?,
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
        Ok(engine)
    }
}
