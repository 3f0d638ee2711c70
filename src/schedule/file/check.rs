//! What the types of a schedule file cannot check, checked as strictly as a config: names,
//! engines and schedulers contend has, a step bound of at least 1, choices a search could have
//! made, and a counter whose values fit in 64 bits.

use super::{CounterTarget, FORMAT_VERSION, RecordedKind, ScheduleFile, Target};

/// The engines a schedule file may name.
pub(crate) const ENGINES: [&str; 4] = ["threads", "shuttle", "async", "processes"];
/// The shuttle schedulers a scenario's schedule file may name.
const SCHEDULERS: [&str; 3] = ["random", "pct", "dfs"];
/// The schedulers a check's schedule file may name.
const CHECK_SCHEDULERS: [&str; 4] = ["random", "pct", "dfs", "dpor"];

impl ScheduleFile {
    /// Checks what the types cannot.
    pub(crate) fn check_fields(&self) -> Result<(), String> {
        if self.target.name().trim().is_empty() {
            return Err("target.name must not be empty".into());
        }
        match &self.target {
            Target::Counter(counter) => {
                engine("target.engine", &counter.engine)?;
                if let Some(scheduler) = &counter.scheduler {
                    one_of("target.scheduler", scheduler, &SCHEDULERS)?;
                }
                check_counter(self, counter)?;
            }
            Target::Workload(workload) => {
                engine("target.engine", &workload.engine)?;
                if workload.workload.trim().is_empty() {
                    return Err("target.workload must not be empty".into());
                }
            }
            Target::Check(check) => {
                one_of("target.scheduler", &check.scheduler, &CHECK_SCHEDULERS)?;
                // A file of version 2 named no command: it is made from the file's path.
                if self.version == FORMAT_VERSION && check.command.trim().is_empty() {
                    return Err("target.command must not be empty".into());
                }
            }
        }
        engine("original.engine", &self.original.engine)?;
        if self.version == FORMAT_VERSION && self.failure.kind == RecordedKind::Failed {
            return Err(
                "failure.kind `failed` is only read in files of version 2; expected one of: \
                 lost-update, invariant, deadlock, panic, livelock"
                    .into(),
            );
        }
        self.check_schedule()?;
        if self
            .original
            .choices
            .as_ref()
            .is_some_and(|choices| choices.windows(2).any(|w| w[0].step >= w[1].step))
        {
            return Err("original.choices must be in increasing step order".into());
        }
        Ok(())
    }

    /// Checks the schedule: a step bound of at least 1, choices in increasing order of their
    /// decision (within the schedule's decisions, for a plugin workload or a program), and as
    /// many preemptions as choices at most.
    fn check_schedule(&self) -> Result<(), String> {
        let schedule = &self.schedule;
        if schedule.max_steps == Some(0) {
            return Err("schedule.max_steps must be at least 1".into());
        }
        if let Some(pair) = schedule.choices.windows(2).find(|w| w[0].step >= w[1].step) {
            return Err(format!(
                "schedule.choices must be in increasing order of their decision, but decision \
                 {} comes after decision {}",
                pair[1].step, pair[0].step
            ));
        }
        // A counter's or a check's choice past the end is told by its replay, as a divergence.
        if matches!(self.target, Target::Workload(_))
            && let Some(last) = schedule.choices.last()
            && last.step >= schedule.steps
        {
            return Err(format!(
                "schedule.choices: decision {} is past the schedule's {} decisions",
                last.step, schedule.steps
            ));
        }
        if schedule.preemptions > schedule.choices.len() as u64 {
            return Err(format!(
                "schedule.preemptions is {}, but a preemption is a choice and there are {}",
                schedule.preemptions,
                schedule.choices.len()
            ));
        }
        Ok(())
    }
}

/// Checks that `value` of `key` is an engine contend has.
fn engine(key: &str, value: &str) -> Result<(), String> {
    one_of(key, value, &ENGINES).map_err(|_| {
        format!(
            "{key} is `{}`, not an engine (expected one of: {})",
            value.escape_debug(),
            ENGINES.join(", ")
        )
    })
}

/// Checks that `value` of `key` is one of `known`.
fn one_of(key: &str, value: &str, known: &[&str]) -> Result<(), String> {
    if known.contains(&value) {
        return Ok(());
    }
    Err(format!(
        "{key} is `{}`, not a scheduler (expected one of: {})",
        value.escape_debug(),
        known.join(", ")
    ))
}

/// Checks a counter's records: a workload contend runs, threads and values that fit, choices
/// that name its tasks, and the failure's numbers.
#[cfg(feature = "runner")]
fn check_counter(file: &ScheduleFile, counter: &CounterTarget) -> Result<(), String> {
    use crate::config::{MAX_PAUSE_MS, MAX_THREADS, MAX_TOTAL_OPS};
    use crate::scenario::CounterSpec;
    if !["counter", "counter-object"].contains(&counter.workload.as_str()) {
        return Err(format!(
            "unknown workload `{}` (expected: counter)",
            counter.workload
        ));
    }
    if counter.threads.is_empty()
        || counter.threads.len() > MAX_THREADS
        || counter.threads.iter().any(|t| t.ops == 0)
    {
        return Err(format!(
            "target.threads must list 1 to {MAX_THREADS} threads of at least 1 op"
        ));
    }
    let threads: Vec<(i64, u64)> = counter.threads.iter().map(|t| (t.delta, t.ops)).collect();
    let configured = CounterSpec::new(counter.initial, &threads, counter.sync);
    if configured
        .checked_total_ops()
        .is_none_or(|total| total > MAX_TOTAL_OPS)
        || configured.reachable_range().is_none()
    {
        return Err(
            "target.threads: too many ops, or a value that does not fit in 64 bits along some \
             interleaving"
                .into(),
        );
    }
    if counter
        .max_pause_ms
        .is_some_and(|ms| ms > MAX_PAUSE_MS as u64)
    {
        return Err(format!(
            "target.max_pause_ms must be at most {MAX_PAUSE_MS}"
        ));
    }
    let shrunk = &counter.shrunk.threads;
    if shrunk.is_empty() || shrunk.len() > MAX_THREADS {
        return Err(format!(
            "target.shrunk.threads must list 1 to {MAX_THREADS} threads"
        ));
    }
    if shrunk.iter().any(|t| t.ops == 0) {
        return Err("target.shrunk.threads: every thread needs at least 1 op".into());
    }
    let total = shrunk
        .iter()
        .try_fold(0u64, |acc, t| acc.checked_add(t.ops));
    if total.is_none_or(|total| total > MAX_TOTAL_OPS) {
        return Err(format!(
            "target.shrunk.threads: at most {MAX_TOTAL_OPS} ops in all"
        ));
    }
    let Some(expected) = counter.minimal_counter().checked_expected_final() else {
        return Err(
            "target.shrunk.threads: the counter's value does not fit in 64 bits along some \
             interleaving"
                .into(),
        );
    };
    match (file.failure.expected_final, file.failure.lost_updates) {
        (Some(recorded), Some(_)) if recorded != expected => {
            return Err(format!(
                "failure.expected_final is {recorded}, but the shrunk counter's threads add up \
                 to {expected}"
            ));
        }
        (Some(_), Some(_)) => {}
        _ => {
            return Err(
                "failure: a counter's failure names its lost_updates and expected_final".into(),
            );
        }
    }
    if let Some(choice) = file.schedule.choices.iter().find(|c| c.task > shrunk.len()) {
        return Err(format!(
            "schedule.choices: step {} names task {}, but the workload has tasks 0 to {}",
            choice.step,
            choice.task,
            shrunk.len()
        ));
    }
    Ok(())
}

/// Without the runner, a counter's file is only named (a check does not replay it).
#[cfg(not(feature = "runner"))]
fn check_counter(_file: &ScheduleFile, _counter: &CounterTarget) -> Result<(), String> {
    Ok(())
}
