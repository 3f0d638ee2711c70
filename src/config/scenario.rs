//! Validating one counter scenario, and the keys every scenario has.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::{
    CounterSpec, DEFAULT_MAX_PAUSE, DEFAULT_RUNS, Expectation, ObjectSettings, Scenario, SyncMode,
    ThreadSpec, WorkloadSpec,
};
use crate::workload::registry;

use super::error::ConfigError;
use super::limits::{MAX_DURATION, MAX_PAUSE_MS, MAX_THREADS, MAX_TOTAL_OPS};
use super::raw::RawScenario;
use super::source::Source;

/// The keys every scenario has, validated.
pub(super) struct Common {
    pub(super) runs: u64,
    pub(super) seed: u64,
    pub(super) expect: Expectation,
    pub(super) time: Option<Duration>,
}

/// A counter scenario's threads, where they are written, and the counter-object workload's
/// settings (for counter-object only).
type CounterThreads = (Vec<ThreadSpec>, Range<usize>, Option<ObjectSettings>);

impl Source<'_> {
    pub(super) fn scenario(
        &self,
        raw: RawScenario,
        header_at: usize,
    ) -> Result<Scenario, ConfigError> {
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

        let (threads, threads_span, object) =
            self.counter_threads(&raw, &name_key, sync, object)?;
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
        self.check_engine_keys(&raw, &name, engine_name)?;
        let engine = self.counter_engine(&raw, &name, &engine_key, sync, object.as_ref())?;

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

    /// The counter's threads, where they are written, and the counter-object workload's
    /// settings: `workers`, `increments` and `max_pause_ms` for counter-object, `threads` for
    /// the counter.
    fn counter_threads(
        &self,
        raw: &RawScenario,
        name_key: &Spanned<String>,
        sync: SyncMode,
        object: bool,
    ) -> Result<CounterThreads, ConfigError> {
        let name = name_key.get_ref().as_str();
        let invalid = |span: Range<usize>, key: &str, message: String| {
            self.error(Some(span), Some(name), Some(key), message)
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
        Ok((threads, threads_span, object))
    }

    /// The keys every scenario has, whatever its workload: runs, seed, expectation and time
    /// budget.
    pub(super) fn common(
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

    /// A count of at least 1 given as `key` of scenario `scenario`, or `default` when absent.
    pub(super) fn at_least_one(
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
    pub(super) fn duration(
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
}

/// A seed for scenarios that give none; reported so that the run can be repeated.
pub(super) fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) >> 1
}
