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

pub mod body;
pub(crate) mod digest;
pub mod dpor;
pub mod file;
pub mod follow;
pub mod overwrites;
mod packed;
#[cfg(feature = "runner")]
pub mod plugin_witness;
pub mod record;
pub mod search;
#[cfg(feature = "runner")]
pub mod shrink;
pub mod window;
#[cfg(feature = "runner")]
pub mod witness;

use serde::{Deserialize, Serialize};
use shuttle::scheduler::{Task, TaskId};

/// The shuttle version that executes schedules; a schedule's task ids and steps are shuttle's.
pub const SHUTTLE_VERSION: &str = "0.9.10";

#[cfg(feature = "runner")]
pub use body::WorkloadBody;
pub use body::{ControlledBody, ExecutionLog, Progress, run_controlled, run_controlled_logging};

/// One scheduling decision that departs from the default rule. Written in files as the pair
/// `[step, task]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u64>", into = "(u64, usize)")]
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

impl TryFrom<Vec<u64>> for Choice {
    type Error = String;

    /// Exactly two numbers: a third one is an error, not something to drop.
    fn try_from(pair: Vec<u64>) -> Result<Self, String> {
        match pair[..] {
            [step, task] => Ok(Choice {
                step,
                task: usize::try_from(task).map_err(|_| format!("task {task} is too large"))?,
            }),
            _ => Err(format!(
                "a choice is two numbers, [step, task], not {} numbers",
                pair.len()
            )),
        }
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

/// The default rule at one decision, computed without allocating: the task it picks, and
/// whether the current task could have continued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The task the default rule picks.
    pub(crate) default: usize,
    /// The task that ran last.
    pub(crate) current: Option<usize>,
    /// Whether it could run on (it is runnable and did not yield).
    pub(crate) current_can_continue: bool,
}

impl Rule {
    /// The default rule: keep the current task while it can continue; otherwise the next
    /// runnable task after it in id order (wrapping), or the lowest id at the start.
    #[inline]
    pub(crate) fn at(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Rule {
        let current = current.map(usize::from);
        // One pass: whether the current task is runnable, the lowest id, and the lowest id
        // after the current task's.
        let mut current_runnable = false;
        let (mut lowest, mut next) = (usize::MAX, usize::MAX);
        for task in runnable {
            let id = usize::from(task.id());
            current_runnable |= Some(id) == current;
            lowest = lowest.min(id);
            if current.is_some_and(|c| id > c) {
                next = next.min(id);
            }
        }
        let lowest = if runnable.is_empty() { 0 } else { lowest };
        let current_can_continue = !is_yielding && current_runnable;
        let default = match current {
            Some(current) if current_can_continue => current,
            Some(_) if next != usize::MAX => next,
            _ => lowest,
        };
        Rule {
            default,
            current,
            current_can_continue,
        }
    }

    /// Whether running `task` here preempts the current task.
    pub(crate) fn is_preemption(&self, task: usize) -> bool {
        self.current_can_continue && Some(task) != self.current
    }
}

impl Point {
    /// The decision point with its runnable tasks listed, and the default rule applied.
    pub(crate) fn new(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Point {
        let rule = Rule::at(runnable, current, is_yielding);
        let mut ids: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
        ids.sort_unstable();
        Point {
            runnable: ids,
            current: rule.current,
            current_can_continue: rule.current_can_continue,
            default: rule.default,
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

/// What to keep of a controlled execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    /// Every scheduling decision (for exploring the schedules around this one).
    pub decisions: bool,
    /// Every access (for an interleaving table).
    pub log: bool,
    /// The `tracing` events of the execution (a replay emits them; a search does not).
    pub events: bool,
}

impl Keep {
    /// What a replay keeps: every access, and the `tracing` events if `events`.
    pub fn replay(events: bool) -> Keep {
        Keep {
            decisions: false,
            log: true,
            events,
        }
    }
}

/// What a controlled execution did.
#[derive(Clone, Debug)]
pub struct Controlled<O, E> {
    /// How it ended.
    pub outcome: O,
    /// Every scheduling decision, when asked for.
    pub decisions: Vec<Decision>,
    /// Every access, in order, when asked for.
    pub log: Vec<E>,
    /// Scheduling decisions made.
    pub steps: u64,
    /// Preemptions made.
    pub preemptions: u64,
    /// Where it departed from its schedule, if it did.
    pub divergence: Option<Divergence>,
    /// Choices applied later than their step, because their task could not run there.
    pub deferred: u64,
    /// Choices applied, from the first.
    pub applied: usize,
}
