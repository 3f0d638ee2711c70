//! Schedules as plain data, and controlled executions that follow them.
//!
//! A schedule is a list of [`Choice`]s: the scheduling decisions where it departs from the
//! default rule, which is "keep running the current task while it can; when it blocks, finishes
//! or yields, run the next runnable task after it in id order". A choice that switches away
//! from a task that could have continued is a *preemption*. This representation survives edits:
//! removing one choice leaves the others meaningful, unlike a raw list of task ids.
//!
//! Task ids are shuttle's: 0 is the main task that spawns and joins the workload's threads,
//! and workload thread `i` (named `Thread-{i+1}`) is task `i + 1`.

pub mod file;
pub mod search;
pub mod witness;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use crate::engine::Outcome;
use crate::engine::panics::Capture;
use crate::engine::shuttle::{explain_shuttle_failure, quiet_config, run_workload_once};
use crate::ledger::{EventContext, LedgerError, Settlement};
use crate::platform::shuttle::{LoggedStep, Progress, StepLog};
use crate::workload::Workload;

/// One scheduling decision that departs from the default rule. Written in files as the pair
/// `[step, task]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "(u64, usize)", into = "(u64, usize)")]
pub struct Choice {
    /// The index of the decision in the execution, from 0.
    pub step: u64,
    /// The task to run there.
    pub task: usize,
}

impl From<(u64, usize)> for Choice {
    fn from((step, task): (u64, usize)) -> Self {
        Choice { step, task }
    }
}

impl From<Choice> for (u64, usize) {
    fn from(choice: Choice) -> Self {
        (choice.step, choice.task)
    }
}

/// One scheduling decision as it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The index of the decision.
    pub step: u64,
    /// The task that was running, if any.
    pub current: Option<usize>,
    /// Whether that task could have continued (it neither blocked, finished nor yielded).
    pub current_can_continue: bool,
    /// The runnable tasks, in id order.
    pub runnable: Vec<usize>,
    /// The task the default rule picks.
    pub default: usize,
    /// The task that ran.
    pub chosen: usize,
}

impl Decision {
    /// Whether running `task` here is a preemption.
    pub fn is_preemption(&self, task: usize) -> bool {
        self.current_can_continue && Some(task) != self.current
    }
}

/// A scheduling decision point as shuttle presents it, with the default rule applied.
pub(crate) struct Point {
    /// The runnable tasks' ids.
    pub(crate) runnable: Vec<usize>,
    /// The task that ran last.
    pub(crate) current: Option<usize>,
    /// Whether it could run on (it is runnable and did not yield).
    pub(crate) current_can_continue: bool,
    /// The task the default rule picks.
    pub(crate) default: usize,
}

impl Point {
    /// The default rule: keep the current task while it can continue; otherwise the next
    /// runnable task after it in id order (wrapping), or the lowest id at the start.
    pub(crate) fn new(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Point {
        let runnable: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
        let current = current.map(usize::from);
        let current_can_continue = !is_yielding && current.is_some_and(|c| runnable.contains(&c));
        let default = match current {
            Some(current) if current_can_continue => current,
            Some(current) => runnable
                .iter()
                .copied()
                .find(|&t| t > current)
                .unwrap_or(runnable[0]),
            None => runnable[0],
        };
        Point {
            runnable,
            current,
            current_can_continue,
            default,
        }
    }

    /// Whether running `task` here preempts the current task.
    pub(crate) fn is_preemption(&self, task: usize) -> bool {
        self.current_can_continue && Some(task) != self.current
    }
}

/// How an execution departed from its schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// A choice's task never became runnable at or after the choice's step.
    NeverRunnable {
        /// The step of the choice.
        step: u64,
        /// The task it names.
        task: usize,
        /// Steps the execution took.
        steps: u64,
    },
    /// The execution ended before the step of a choice.
    RanOff {
        /// The step of the first choice that was never reached.
        step: u64,
        /// Steps the execution took.
        steps: u64,
    },
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::NeverRunnable { step, task, steps } => write!(
                f,
                "the schedule runs {} at decision {step}, but it could not run there or at any \
                 later decision of the {steps}",
                task_name(*task)
            ),
            Divergence::RanOff { step, steps } => write!(
                f,
                "the execution ended after {steps} scheduling decisions, before the schedule's \
                 choice at decision {step}"
            ),
        }
    }
}

/// The name of a task: `main`, or the workload thread's name.
pub fn task_name(task: usize) -> String {
    if task == 0 {
        "main".to_string()
    } else {
        format!("Thread-{task}")
    }
}

#[derive(Debug, Default)]
struct Trail {
    decisions: Vec<Decision>,
    preemptions: u64,
    steps: u64,
    deferred: u64,
    applied: usize,
}

/// A scheduler that runs one execution following a list of choices, and records every decision.
struct ChoiceScheduler {
    choices: Vec<Choice>,
    next_choice: usize,
    step: u64,
    started: bool,
    record_decisions: bool,
    trail: Arc<Mutex<Trail>>,
    progress: Arc<Progress>,
}

impl Scheduler for ChoiceScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(Schedule::new(0))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let point = Point::new(runnable, current, is_yielding);
        let step = self.step;
        self.step += 1;

        let mut chosen = point.default;
        let mut trail = self.trail.lock().unwrap_or_else(|p| p.into_inner());
        trail.steps = self.step;
        // A choice applies at its step, or, if its task cannot run there (it waits for a lock,
        // say, after an edit to the program), as soon after as it can; later choices wait
        // their turn.
        if let Some(choice) = self.choices.get(self.next_choice)
            && choice.step <= step
            && point.runnable.contains(&choice.task)
        {
            self.next_choice += 1;
            trail.applied = self.next_choice;
            chosen = choice.task;
            if choice.step < step {
                trail.deferred += 1;
            }
        }
        if point.is_preemption(chosen) {
            trail.preemptions += 1;
            self.progress.preemptions.fetch_add(1, Ordering::SeqCst);
        }
        self.progress.decisions.store(self.step, Ordering::SeqCst);
        if self.record_decisions {
            trail.decisions.push(Decision {
                step,
                current: point.current,
                current_can_continue: point.current_can_continue,
                runnable: point.runnable,
                default: point.default,
                chosen,
            });
        }
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// What a controlled execution did.
#[derive(Clone, Debug)]
pub struct Controlled {
    /// How it ended.
    pub outcome: Outcome,
    /// Every scheduling decision, when asked for.
    pub decisions: Vec<Decision>,
    /// Every access, in order, when asked for.
    pub log: Vec<LoggedStep>,
    /// Scheduling decisions made.
    pub steps: u64,
    /// Preemptions made.
    pub preemptions: u64,
    /// Where it departed from its schedule, if it did.
    pub divergence: Option<Divergence>,
    /// Choices applied later than their step, because their task could not run there.
    pub deferred: u64,
}

/// What to keep of a controlled execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    /// Every scheduling decision (for exploring the schedules around this one).
    pub decisions: bool,
    /// Every access (for an interleaving table).
    pub log: bool,
    /// The ledger's `tracing` events (a replay emits them; a search does not).
    pub events: bool,
}

/// Runs `f` with `tracing` events emitted only if `events`; shuttle runs an execution's tasks
/// on the calling thread, so a thread-local default covers them.
fn with_events<T>(events: bool, f: impl FnOnce() -> T) -> T {
    if events {
        f()
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
    }
}

/// Runs `workload` once under shuttle, following `choices` (sorted by step).
pub fn run_controlled<W: Workload>(
    workload: &Arc<W>,
    choices: &[Choice],
    keep: Keep,
    max_steps: u64,
    context: EventContext<'_>,
) -> Result<Controlled, LedgerError> {
    let trail = Arc::new(Mutex::new(Trail::default()));
    let log = keep.log.then(StepLog::default);
    let scheduler = ChoiceScheduler {
        choices: choices.to_vec(),
        next_choice: 0,
        step: 0,
        started: false,
        record_decisions: keep.decisions,
        trail: Arc::clone(&trail),
        progress: log.as_ref().map(StepLog::progress).unwrap_or_default(),
    };
    let outcome = run_one(
        workload,
        scheduler,
        log.clone(),
        max_steps,
        keep.events,
        context,
    );
    let trail = std::mem::take(&mut *trail.lock().unwrap_or_else(|p| p.into_inner()));
    let outcome = outcome?;
    let divergence = choices.get(trail.applied).map(|pending| {
        if pending.step < trail.steps {
            Divergence::NeverRunnable {
                step: pending.step,
                task: pending.task,
                steps: trail.steps,
            }
        } else {
            Divergence::RanOff {
                step: pending.step,
                steps: trail.steps,
            }
        }
    });
    Ok(Controlled {
        outcome,
        decisions: trail.decisions,
        log: log.map(|l| l.steps()).unwrap_or_default(),
        steps: trail.steps,
        preemptions: trail.preemptions,
        divergence,
        deferred: trail.deferred,
    })
}

/// The original failing execution of a shuttle scenario, recorded again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    /// Its choices, unless there were more than [`MAX_RECORDED_CHOICES`].
    pub choices: Option<Vec<Choice>>,
    /// Its scheduling decisions.
    pub steps: u64,
    /// Its preemptions.
    pub preemptions: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// The most choices a recorded original schedule keeps (enough for the lesson's two threads of
/// a million ops each).
pub const MAX_RECORDED_CHOICES: usize = 5_000_000;
/// The latest execution index [`record_original`] re-runs up to.
pub const MAX_RERUN_EXECUTIONS: u64 = 1_000;

#[derive(Debug, Default)]
struct Recording {
    choices: Vec<Choice>,
    truncated: bool,
    steps: u64,
    preemptions: u64,
}

/// Wraps a scenario's scheduler and records the decisions of one of its executions.
struct Recorder {
    inner: std::mem::ManuallyDrop<Box<dyn Scheduler + Send>>,
    target: u64,
    executions: u64,
    recording: Arc<Mutex<Recording>>,
}

impl Scheduler for Recorder {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.executions > self.target {
            return None;
        }
        self.executions += 1;
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let chosen = self.inner.next_task(runnable, current, is_yielding)?;
        if self.executions == self.target + 1 {
            let point = Point::new(runnable, current, is_yielding);
            let task = usize::from(chosen);
            let mut recording = self.recording.lock().unwrap_or_else(|p| p.into_inner());
            let step = recording.steps;
            recording.steps += 1;
            if point.is_preemption(task) {
                recording.preemptions += 1;
            }
            if task != point.default {
                if recording.choices.len() < MAX_RECORDED_CHOICES {
                    recording.choices.push(Choice { step, task });
                } else {
                    recording.truncated = true;
                }
            }
        }
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// Runs a shuttle scenario's executions again up to `execution` and records that one's
/// decisions as choices. shuttle's schedulers are deterministic for their seed, so this is the
/// same execution. `None` when `execution` is past [`MAX_RERUN_EXECUTIONS`].
pub fn record_original<W: Workload>(
    workload: &Arc<W>,
    scheduler: Box<dyn Scheduler + Send>,
    execution: u64,
    max_steps: u64,
    scenario: &str,
) -> Option<Original> {
    if execution > MAX_RERUN_EXECUTIONS {
        return None;
    }
    let recording = Arc::new(Mutex::new(Recording::default()));
    // The inner scheduler is never dropped, as in the engine: shuttle's random scheduler
    // prints replay advice when dropped early.
    let recorder = Recorder {
        inner: std::mem::ManuallyDrop::new(scheduler),
        target: execution,
        executions: 0,
        recording: Arc::clone(&recording),
    };
    let context = EventContext { scenario, run: 0 };
    let outcome = run_one(workload, recorder, None, max_steps, false, context).ok()?;
    let recording = std::mem::take(&mut *recording.lock().unwrap_or_else(|p| p.into_inner()));
    Some(Original {
        choices: (!recording.truncated).then_some(recording.choices),
        steps: recording.steps,
        preemptions: recording.preemptions,
        outcome,
    })
}

/// Runs `workload` under `scheduler` (for as many executions as it asks, keeping the last
/// outcome) with panics captured: a panic, deadlock or livelock is a failed outcome.
fn run_one<W: Workload, S: Scheduler + 'static>(
    workload: &Arc<W>,
    scheduler: S,
    log: Option<StepLog>,
    max_steps: u64,
    events: bool,
    context: EventContext<'_>,
) -> Result<Outcome, LedgerError> {
    let capture = Capture::start();
    let settled: Arc<Mutex<Option<Result<Settlement, LedgerError>>>> = Arc::default();
    let body = {
        let workload = Arc::clone(workload);
        let settled = Arc::clone(&settled);
        let scenario = context.scenario.to_string();
        let run = context.run;
        move || {
            let context = EventContext {
                scenario: &scenario,
                run,
            };
            let result = run_workload_once(&workload, log.as_ref(), context);
            *settled.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        }
    };
    let runner = shuttle::Runner::new(scheduler, quiet_config(max_steps));
    let result = with_events(events, || {
        panic::catch_unwind(AssertUnwindSafe(|| runner.run(body)))
    });
    let settled = settled.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (result, settled) {
        (Ok(_), Some(Ok(settlement))) => Ok(Outcome::Settled(settlement)),
        (Ok(_), Some(Err(error))) => Err(error),
        (Ok(_), None) => Ok(Outcome::Failed {
            message: "the execution did not run".to_string(),
        }),
        (Err(_), _) => Ok(Outcome::Failed {
            message: explain_shuttle_failure(
                capture
                    .take()
                    .unwrap_or_else(|| "the execution failed".to_string()),
                max_steps,
            ),
        }),
    }
}
