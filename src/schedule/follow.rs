//! The scheduler that runs one execution following a list of choices, and writes down how far
//! it followed them: what every replay, search and shrink of contend runs.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use super::packed::PackedChoices;
use super::{Decision, Point, Progress};

/// How an execution followed its choices.
#[derive(Debug, Default)]
pub(crate) struct Trail {
    /// Every decision, when asked for.
    pub(crate) decisions: Vec<Decision>,
    /// Preemptions made.
    pub(crate) preemptions: u64,
    /// Decisions made.
    pub(crate) steps: u64,
    /// Choices applied after their step, because their task could not run there.
    pub(crate) deferred: u64,
    /// Choices applied.
    pub(crate) applied: usize,
}

/// Runs one execution following `choices`. A choice applies at its step, or, if its task cannot
/// run there (it waits for a lock, say, after an edit to the program), as soon after as it can;
/// later choices wait their turn. Controlled randomness gets `random_values` in order, then 0.
pub(crate) struct Follow {
    choices: PackedChoices,
    random_values: Vec<u64>,
    next_choice: usize,
    next_random: usize,
    step: u64,
    started: bool,
    record_decisions: bool,
    trail: Arc<Mutex<Trail>>,
    progress: Arc<Progress>,
}

impl Follow {
    /// A scheduler for one execution; `record_decisions` keeps every decision in the trail.
    pub(crate) fn new(
        choices: PackedChoices,
        random_values: Vec<u64>,
        record_decisions: bool,
        trail: Arc<Mutex<Trail>>,
        progress: Arc<Progress>,
    ) -> Follow {
        Follow {
            choices,
            random_values,
            next_choice: 0,
            next_random: 0,
            step: 0,
            started: false,
            record_decisions,
            trail,
            progress,
        }
    }
}

impl Scheduler for Follow {
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
        let value = self.random_values.get(self.next_random).copied();
        self.next_random += 1;
        value.unwrap_or(0)
    }
}
