//! Validating one counter scenario, and the keys every scenario has.

use std::fmt;
use std::ops::{Range, RangeInclusive};
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
use super::source::{Source, span_of};

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
    /// A `[[scenario]]` table validated: a plugin workload's scenario or a counter's.
    pub(super) fn scenario(
        &self,
        raw: RawScenario,
        header_at: usize,
    ) -> Result<Scenario, ConfigError> {
        let name_key = raw
            .name
            .clone()
            .expect("parse checks that every scenario has a name");
        let name = name_key.get_ref().as_str();
        let engine_key = self.required(&raw.engine, name, "engine", header_at)?;
        let expect_key = self.required(&raw.expect, name, "expect", header_at)?;
        if name.trim().is_empty() {
            return Err(self.invalid(
                name_key.span(),
                name,
                "name",
                "the name must not be empty".into(),
            ));
        }

        if let Some(workload) = &raw.workload
            && let Some(plugin) = registry::find(workload.get_ref())
        {
            return self.plugin_scenario(raw, plugin, engine_key, expect_key);
        }
        self.check_counter_workload(&raw, name)?;
        self.counter_scenario(&raw, &name_key, &engine_key, &expect_key)
    }

    /// Key `key`, which every scenario must have; its absence is reported at the header.
    fn required(
        &self,
        value: &Option<Spanned<String>>,
        name: &str,
        key: &str,
        header_at: usize,
    ) -> Result<Spanned<String>, ConfigError> {
        value.clone().ok_or_else(|| {
            self.invalid(
                header_at..header_at,
                name,
                key,
                format!("missing field `{key}` (set it in the scenario or in [defaults])"),
            )
        })
    }

    /// Checks that a non-plugin scenario names a built-in workload and no program or params.
    fn check_counter_workload(&self, raw: &RawScenario, name: &str) -> Result<(), ConfigError> {
        if let Some(workload) = &raw.workload
            && !registry::BUILT_IN.contains(&workload.get_ref().as_str())
        {
            return Err(self.invalid(
                workload.span(),
                name,
                "workload",
                format!(
                    "unknown workload `{}` (expected one of: {})",
                    workload.get_ref(),
                    registry::workload_names().join(", ")
                ),
            ));
        }
        self.reject_written(name, &[("program", span_of(&raw.program))], |_| {
            "`program` applies to `workload = \"program\"` only".into()
        })?;
        self.reject_written(name, &[("params", span_of(&raw.params))], |_| {
            "`params` applies to plugin workloads (registered by a harness program) only; \
             the counter workloads take their keys in the scenario itself"
                .into()
        })
    }

    /// A scenario of the counter or counter-object workload, with its threads and engine.
    fn counter_scenario(
        &self,
        raw: &RawScenario,
        name_key: &Spanned<String>,
        engine_key: &Spanned<String>,
        expect_key: &Spanned<String>,
    ) -> Result<Scenario, ConfigError> {
        let name = name_key.get_ref().as_str();
        let object = raw
            .workload
            .as_ref()
            .is_some_and(|w| w.get_ref() == "counter-object");
        let sync = self.counter_sync(raw, name, object)?;
        let (threads, threads_span, object) = self.counter_threads(raw, name_key, sync, object)?;
        let initial = raw.initial.as_ref().map_or(0, |initial| *initial.get_ref());
        let counter = CounterSpec {
            initial,
            threads,
            sync,
            object,
        };
        self.check_counter_bounds(&counter, name, threads_span)?;

        let Common {
            runs,
            seed,
            expect,
            time,
        } = self.common(raw, name, expect_key)?;
        self.reject_written(
            name,
            &[("deadlock_timeout", span_of(&raw.deadlock_timeout))],
            |_| {
                "`deadlock_timeout` applies to workloads written on contend's primitives (plugin \
                 workloads) on the threads engine; the counter workloads do not block"
                    .into()
            },
        )?;

        // Keys that belong to one engine (or executor) only.
        self.check_engine_keys(raw, name, engine_key.get_ref())?;
        let engine = self.counter_engine(raw, name, engine_key, sync, counter.object.as_ref())?;
        Ok(Scenario {
            name: name.to_string(),
            workload: WorkloadSpec::Counter(counter),
            engine,
            runs,
            seed,
            expect,
            origin: None,
            time,
        })
    }

    /// A counter scenario's `sync`: by default none, or for counter-object its lock.
    fn counter_sync(
        &self,
        raw: &RawScenario,
        name: &str,
        object: bool,
    ) -> Result<SyncMode, ConfigError> {
        match &raw.sync {
            // The lesson's `Counter` class has its lock.
            None if object => Ok(SyncMode::Mutex),
            None => Ok(SyncMode::None),
            Some(sync) => SyncMode::ALL
                .into_iter()
                .find(|m| m.as_str() == sync.get_ref())
                .ok_or_else(|| {
                    self.invalid(
                        sync.span(),
                        name,
                        "sync",
                        format!(
                            "unknown sync mode `{}` (expected one of: {})",
                            sync.get_ref(),
                            SyncMode::ALL.map(SyncMode::as_str).join(", ")
                        ),
                    )
                }),
        }
    }

    /// Checks that a counter has at most [`MAX_TOTAL_OPS`] ops and its value fits in 64 bits.
    fn check_counter_bounds(
        &self,
        counter: &CounterSpec,
        name: &str,
        threads_span: Range<usize>,
    ) -> Result<(), ConfigError> {
        let object = counter.object.is_some();
        let total_ops = counter
            .checked_total_ops()
            .filter(|&total| total <= MAX_TOTAL_OPS);
        if total_ops.is_none() {
            let total: u128 = counter.threads.iter().map(|t| u128::from(t.ops)).sum();
            return Err(self.invalid(
                threads_span,
                name,
                if object { "increments" } else { "threads" },
                format!("at most {MAX_TOTAL_OPS} ops in all are supported, got {total}"),
            ));
        }
        if counter.reachable_range().is_none() || counter.checked_expected_final().is_none() {
            return Err(self.invalid(
                threads_span,
                name,
                if object { "initial" } else { "threads" },
                "the counter's value does not fit in 64 bits along some interleaving: the \
                 initial value plus every negative update, the initial value plus every \
                 positive one, and the distance between them must fit in a signed 64-bit \
                 integer"
                    .into(),
            ));
        }
        Ok(())
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
        if object {
            return self.object_threads(raw, name_key, sync);
        }
        self.reject_written(
            name_key.get_ref(),
            &[
                ("workers", span_of(&raw.workers)),
                ("increments", span_of(&raw.increments)),
                ("max_pause_ms", span_of(&raw.max_pause_ms)),
            ],
            |key| format!("`{key}` applies to workload counter-object only"),
        )?;
        let (threads, threads_span) = self.listed_threads(raw, name_key)?;
        Ok((threads, threads_span, None))
    }

    /// counter-object's threads (`workers` × `increments` of 1) and its `max_pause_ms`.
    fn object_threads(
        &self,
        raw: &RawScenario,
        name_key: &Spanned<String>,
        sync: SyncMode,
    ) -> Result<CounterThreads, ConfigError> {
        let name = name_key.get_ref().as_str();
        self.reject_written(name, &[("threads", span_of(&raw.threads))], |_| {
            "workload counter-object has `workers` and `increments`, not `threads`".into()
        })?;
        if !matches!(sync, SyncMode::Mutex | SyncMode::None) {
            return Err(self.invalid(
                raw.sync.as_ref().map_or(name_key.span(), Spanned::span),
                name,
                "sync",
                format!(
                    "workload counter-object takes sync = \"mutex\" (the lesson's lock) or \"none\", not \"{sync}\""
                ),
            ));
        }
        let workers = self
            .bounded(&raw.workers, name, "workers", 1..=MAX_THREADS as i64)?
            .unwrap_or(2);
        let increments = self
            .bounded(
                &raw.increments,
                name,
                "increments",
                1..=MAX_TOTAL_OPS as i64,
            )?
            .unwrap_or(2);
        let max_pause = self
            .bounded(&raw.max_pause_ms, name, "max_pause_ms", 0..=MAX_PAUSE_MS)?
            .map_or(DEFAULT_MAX_PAUSE, |ms| Duration::from_millis(ms as u64));
        let threads = vec![
            ThreadSpec {
                delta: 1,
                ops: increments as u64
            };
            workers as usize
        ];
        Ok((threads, name_key.span(), Some(ObjectSettings { max_pause })))
    }

    /// The counter's threads as listed in `threads`, and where that list is written.
    fn listed_threads(
        &self,
        raw: &RawScenario,
        name_key: &Spanned<String>,
    ) -> Result<(Vec<ThreadSpec>, Range<usize>), ConfigError> {
        let name = name_key.get_ref().as_str();
        let Some(raw_threads) = &raw.threads else {
            return Err(self.invalid(
                name_key.span(),
                name,
                "threads",
                "missing field `threads`: one { delta, ops } per thread".into(),
            ));
        };
        let threads_span = raw_threads.span();
        let thread_list = raw_threads.get_ref();
        if thread_list.is_empty() {
            return Err(self.invalid(
                threads_span,
                name,
                "threads",
                "at least one thread is needed".into(),
            ));
        }
        if thread_list.len() > MAX_THREADS {
            return Err(self.invalid(
                threads_span,
                name,
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
                return Err(self.invalid(
                    thread.get_ref().0.ops.span(),
                    name,
                    "ops",
                    format!("ops must be at least 1, got {ops}"),
                ));
            }
            threads.push(ThreadSpec {
                delta: thread.get_ref().0.delta,
                ops: ops as u64,
            });
        }
        Ok((threads, threads_span))
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

    /// An integer given as `key` of scenario `scenario` within `range`, or `None` if absent.
    pub(super) fn bounded(
        &self,
        value: &Option<Spanned<i64>>,
        scenario: &str,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Result<Option<i64>, ConfigError> {
        value
            .as_ref()
            .map(|value| {
                in_range(key, *value.get_ref(), &range)
                    .map_err(|message| self.invalid(value.span(), scenario, key, message))
            })
            .transpose()
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

/// `value` if it lies in `range`, else the message that says that `key` must lie in it.
pub(super) fn in_range<T: PartialOrd + fmt::Display>(
    key: &str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<T, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{key} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        ))
    }
}

/// A seed for scenarios that give none; reported so that the run can be repeated.
pub(super) fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) >> 1
}
