//! `contend replay`: re-executes a schedule file deterministically and says whether its failure
//! still happens.

use std::sync::Arc;

use thiserror::Error;

use crate::engine::Outcome;
use crate::ledger::{EventContext, LedgerError};
use crate::platform::shuttle::{LoggedStep, StepLog};
use crate::scenario::{CounterSpec, DEFAULT_MAX_STEPS, Scenario};
use crate::schedule::file::{CounterTarget, ScheduleFile, ScheduleFileError};
use crate::schedule::plugin_witness::plugin_body;
use crate::schedule::search::FailureKind;
use crate::schedule::window::StepWindow;
use crate::schedule::{
    Controlled, Divergence, Keep, WorkloadBody, run_controlled, run_controlled_logging, task_name,
};
use crate::workload::counter::Counter;
use crate::workload::registry;

/// What a replay found.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The execution, with every access logged when [`Kept::All`] asked for them (none with
    /// [`Kept::Window`]).
    pub execution: Controlled<Outcome, LoggedStep>,
    /// What the default output shows of the steps: the window around the first overwrite, the
    /// first overwrites, and counts.
    pub window: StepWindow,
    /// Whether the recorded kind of failure happened again.
    pub reproduced: bool,
    /// Whether it happened with the recorded lost updates and final value.
    pub same_numbers: bool,
    /// The kind of failure that happened, if any.
    pub failure: Option<FailureKind>,
    /// Whether the schedule was replayed against the scenario as a config defines it now.
    pub against_current_config: bool,
}

impl Replay {
    /// The verdict of a replay: exit 1 while the program still fails on this schedule (the
    /// recorded failure or another), 0 once it no longer does. A replay of the recorded
    /// scenario that did not fail but could not follow its schedule to the end says nothing about
    /// the bug: that is an error. A replay against the scenario as a config defines it now
    /// ([`Target::Config`]) expects a fix to change the execution: there the choices are
    /// followed as far as they can be, and a run that does not fail is a fix.
    pub fn verdict(&self) -> Result<ReplayVerdict, ReplayError> {
        match (&self.failure, &self.execution.divergence) {
            (Some(_), _) if self.reproduced => Ok(ReplayVerdict::Reproduced),
            (Some(_), _) => Ok(ReplayVerdict::FailsDifferently),
            (None, Some(_)) if self.against_current_config => Ok(ReplayVerdict::Fixed),
            (None, Some(divergence)) => Err(ReplayError::Diverged(divergence.clone())),
            (None, None) => Ok(ReplayVerdict::Fixed),
        }
    }

    /// How far the execution followed its schedule, in words.
    pub fn followed(&self, choices: usize) -> String {
        let mut words = format!(
            "{} of the schedule's {} applied",
            self.execution.applied,
            crate::report::words::count(choices as u64, "choice")
        );
        if self.execution.deferred > 0 {
            words.push_str(&format!(
                ", {} of them later than recorded, when their thread could run",
                self.execution.deferred
            ));
        }
        words
    }
}

/// What a schedule is replayed against.
#[derive(Clone, Debug)]
pub enum Target {
    /// The scenario as the schedule file recorded it.
    Recorded,
    /// The scenario of the same name as a config defines it now: its synchronization, initial
    /// value and settings, with the file's shrunk threads (the schedule's choices name them).
    Config(Box<Scenario>),
}

/// How a replay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// The recorded failure happened again.
    Reproduced,
    /// Another failure happened.
    FailsDifferently,
    /// The schedule ran to its end and nothing failed.
    Fixed,
}

/// A replay that could not be judged.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file is unreadable, damaged or of another version.
    #[error(transparent)]
    File(#[from] ScheduleFileError),
    /// The execution did not fail, but departed from the schedule: whether the failure is
    /// fixed cannot be told.
    #[error(
        "the execution diverges from the schedule: {0}; it did not fail, but whether the failure \
         is fixed cannot be told: the program may have changed since the schedule was recorded"
    )]
    Diverged(Divergence),
    /// The schedule is not a built-in counter scenario's.
    #[error("the schedule is {0}, not a counter scenario's: it replays otherwise")]
    NotACounter(String),
    /// The ledger found an inconsistency: a bug in contend.
    #[error("internal error: {0}")]
    Ledger(#[from] LedgerError),
}

/// What `file`'s target is, in words, for a replay that needs another.
fn target_in_words(file: &ScheduleFile) -> String {
    match &file.target {
        crate::schedule::file::Target::Counter(counter) => {
            format!("a schedule of counter scenario `{}`", counter.name)
        }
        crate::schedule::file::Target::Workload(workload) => format!(
            "a schedule of scenario `{}` (workload `{}`)",
            workload.name, workload.workload
        ),
        crate::schedule::file::Target::Check(check) => {
            format!("a schedule of check `{}`", check.name)
        }
    }
}

/// The workload to replay `file` against: the recorded shrunk counter, or the file's shrunk
/// threads on the counter as `target`'s config defines it now.
pub fn counter_for(file: &CounterTarget, target: &Target) -> CounterSpec {
    let recorded = file.minimal_counter();
    match target {
        Target::Recorded => recorded,
        Target::Config(scenario) => match scenario.workload.counter() {
            Some(current) => CounterSpec {
                threads: recorded.threads,
                ..current.clone()
            },
            None => recorded,
        },
    }
}

/// What a replay keeps of the steps it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Every step: for the whole table (`--full`), the choices by row (`-v`), one trace event
    /// per access, and the HTML page.
    All,
    /// Only the [`StepWindow`] the default output shows: memory that does not grow with the
    /// execution's length.
    Window,
}

/// Re-executes the minimal schedule of `file`, keeping every step; with `events`, emits the
/// ledger's events and one `tracing` event per access (target `contend::replay`).
pub fn replay(file: &ScheduleFile, events: bool) -> Result<Replay, ReplayError> {
    replay_against(file, &Target::Recorded, events)
}

/// Re-executes the minimal schedule of `file` against `target`, keeping every step.
pub fn replay_against(
    file: &ScheduleFile,
    target: &Target,
    events: bool,
) -> Result<Replay, ReplayError> {
    replay_keeping(file, target, events, Kept::All)
}

/// Re-executes the minimal schedule of `file` against `target`, keeping what `kept` says of its
/// steps; the per-access events need [`Kept::All`].
pub fn replay_keeping(
    file: &ScheduleFile,
    target: &Target,
    events: bool,
    kept: Kept,
) -> Result<Replay, ReplayError> {
    let recorded = file
        .counter()
        .ok_or_else(|| ReplayError::NotACounter(target_in_words(file)))?;
    let counter = counter_for(recorded, target);
    let workload = Arc::new(WorkloadBody(Arc::new(Counter::new(counter))));
    let keep = Keep::replay(events);
    let context = EventContext {
        scenario: &recorded.name,
        run: 0,
    };
    let mut handle = None;
    let execution = run_controlled_logging(
        &workload,
        &file.schedule.choices,
        &file.schedule.random_values,
        keep,
        file.schedule.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
        context,
        |progress| {
            let log = match kept {
                Kept::All => StepLog::with_progress(progress),
                Kept::Window => StepLog::windowed(progress),
            };
            handle = Some(log.clone());
            log
        },
    )?;
    let window = match (kept, handle) {
        (Kept::Window, Some(log)) => log.take_window(),
        _ => StepWindow::of(&execution.log),
    };
    for (index, step) in execution.log.iter().enumerate().filter(|_| events) {
        tracing::info!(
            target: "contend::replay",
            scenario = %recorded.name,
            step = index + 1,
            thread = step.thread,
            thread_name = %task_name(step.thread + 1),
            access = %step.access,
            preemptions_before = step.preemptions_before,
            "{} {}",
            task_name(step.thread + 1),
            step.access
        );
    }
    let failure = FailureKind::of(&execution.outcome);
    if events {
        tracing::info!(
            target: "contend::replay::outcome",
            scenario = %recorded.name,
            outcome = %describe_outcome(&execution.outcome),
            failure = failure.map_or("none", FailureKind::as_str),
            recorded_failure = file.failure.kind.as_str(),
            "replay finished"
        );
    }
    let reproduced = execution
        .outcome
        .kind()
        .is_some_and(|kind| file.failure.kind.matches(kind));
    let same_numbers = match &execution.outcome {
        Outcome::Settled(settlement) => {
            Some(settlement.lost_updates) == file.failure.lost_updates
                && Some(settlement.observed_final) == file.failure.final_value
        }
        Outcome::Failed { .. } => file.failure.final_value.is_none(),
    };
    Ok(Replay {
        execution,
        window,
        reproduced,
        same_numbers,
        failure,
        against_current_config: matches!(target, Target::Config(_)),
    })
}

/// A plugin workload's execution in words: its cells are reported by their sum.
pub fn describe_workload_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Settled(s) => format!(
            "{} lost; the workload's cells sum to {}, expected {}",
            crate::report::words::count(s.lost_updates, "update"),
            s.observed_final,
            s.expected_final
        ),
        Outcome::Failed { message, .. } => message.clone(),
    }
}

/// An execution's outcome in words.
pub fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Settled(s) => format!(
            "{} lost; the counter ends at {}, expected {}",
            crate::report::words::count(s.lost_updates, "update"),
            s.observed_final,
            s.expected_final
        ),
        Outcome::Failed { message, .. } => message.clone(),
    }
}

/// What a replay of a plugin workload's schedule found.
#[derive(Debug)]
pub struct WorkloadReplay {
    /// How the execution ended.
    pub outcome: Outcome,
    /// Every access, in order.
    pub interleaving: crate::check::Interleaving,
    /// Scheduling decisions made.
    pub steps: u64,
    /// Preemptions made.
    pub preemptions: u64,
    /// Where it departed from its schedule, if it did.
    pub divergence: Option<Divergence>,
    /// Choices applied.
    pub applied: usize,
    /// Choices applied later than their step.
    pub deferred: u64,
    /// The kind of failure that happened, if any.
    pub failure: Option<FailureKind>,
    /// Whether the recorded kind of failure happened again.
    pub reproduced: bool,
}

impl WorkloadReplay {
    /// The verdict, as for [`Replay::verdict`]: the workload's code is whatever the running
    /// program registered, so a replay is always against the code as it is now, and a
    /// departure from the schedule without a failure is a fix.
    pub fn verdict(&self) -> ReplayVerdict {
        match self.failure {
            Some(_) if self.reproduced => ReplayVerdict::Reproduced,
            Some(_) => ReplayVerdict::FailsDifferently,
            None => ReplayVerdict::Fixed,
        }
    }
}

/// A plugin workload's schedule could not be replayed here.
#[derive(Debug, Error)]
pub enum WorkloadReplayError {
    /// This program does not register the workload.
    #[error(
        "workload `{0}` is not registered in this program: replay the schedule with the harness \
         program that registers it (for example `cargo run --release --example NAME -- replay FILE`)"
    )]
    Unregistered(String),
    /// The schedule is not a plugin workload's or a program's.
    #[error("the schedule is {0}, not a plugin workload's or a program's")]
    NotAWorkload(String),
    /// The file's parameters no longer fit the workload's parameter type.
    #[error("the schedule's params do not fit workload `{workload}` as it is now: {message}")]
    Params {
        /// The workload.
        workload: String,
        /// What is wrong.
        message: String,
    },
    /// The ledger found an inconsistency: a bug in contend.
    #[error("internal error: {0}")]
    Ledger(#[from] LedgerError),
}

/// Re-executes the minimal schedule of a plugin workload's schedule file, against the
/// workload as this program registered it; with `events`, emits the `tracing` events.
pub fn replay_workload(
    file: &ScheduleFile,
    events: bool,
) -> Result<WorkloadReplay, WorkloadReplayError> {
    let target = file
        .workload()
        .ok_or_else(|| WorkloadReplayError::NotAWorkload(target_in_words(file)))?;
    let workload = &target.workload;
    let plugin = registry::find(workload)
        .ok_or_else(|| WorkloadReplayError::Unregistered(workload.clone()))?;
    let spec = plugin
        .params(toml::Value::Table(target.shrunk.clone()))
        .map_err(|error| WorkloadReplayError::Params {
            workload: workload.clone(),
            message: match error.path {
                Some(path) => format!("{path}: {}", error.message),
                None => error.message,
            },
        })?;
    let body = plugin_body(&spec, &target.name, target.seed);
    let keep = Keep::replay(events);
    let context = EventContext {
        scenario: &target.name,
        run: file.original.execution,
    };
    let execution = run_controlled(
        &body,
        &file.schedule.choices,
        &file.schedule.random_values,
        keep,
        file.schedule.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
        context,
    )?;
    let failure = FailureKind::of(&execution.outcome);
    let mut interleaving = crate::check::Interleaving::of(execution.log, true);
    interleaving.threads = spec.columns(interleaving.threads.len());
    Ok(WorkloadReplay {
        reproduced: execution
            .outcome
            .kind()
            .is_some_and(|kind| file.failure.kind.matches(kind)),
        failure,
        interleaving,
        outcome: execution.outcome,
        steps: execution.steps,
        preemptions: execution.preemptions,
        divergence: execution.divergence,
        applied: execution.applied,
        deferred: execution.deferred,
    })
}
