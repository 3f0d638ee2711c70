//! Recording while exploring: a wrapper around an exploring scheduler (random, PCT, DFS) that
//! writes down each execution's decisions as choices as it goes, so that the first failing
//! execution's schedule is at hand when it fails, without running anything again.
//!
//! The recorder writes the execution under way down in itself: a decision costs a comparison,
//! and a push when it departs from the default rule. shuttle runs an execution's tasks and its
//! scheduler on the thread that called `Runner::run`, so an ended execution is handed to a
//! thread-local, where the body (which cannot reach the scheduler) asks to keep it.

use std::cell::RefCell;

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use super::{Choice, Rule};

/// The most choices a recording keeps (enough for the lesson's two threads of a million ops
/// each); past it the recording says it was truncated.
pub const MAX_RECORDED_CHOICES: usize = 5_000_000;

/// The decisions of one execution, as choices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// The decisions that departed from the default rule.
    pub choices: Vec<Choice>,
    /// The values handed to the execution's controlled randomness.
    pub random_values: Vec<u64>,
    /// Scheduling decisions made.
    pub steps: u64,
    /// Preemptions made.
    pub preemptions: u64,
    /// Whether choices past [`MAX_RECORDED_CHOICES`] were dropped: the schedule is incomplete.
    pub truncated: bool,
}

impl Recording {
    /// Empties it for another execution, keeping its vectors' room.
    fn clear(&mut self) {
        self.choices.clear();
        self.random_values.clear();
        self.steps = 0;
        self.preemptions = 0;
        self.truncated = false;
    }

    /// Writes down that `chosen` runs at the next step.
    #[inline]
    fn note(
        &mut self,
        chosen: TaskId,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) {
        let step = self.steps;
        self.steps += 1;
        // The current task goes on without yielding: the default rule, and no preemption. The
        // common case, decided without looking at the other runnable tasks.
        if !is_yielding && current == Some(chosen) {
            return;
        }
        let rule = Rule::at(runnable, current, is_yielding);
        let task = usize::from(chosen);
        if rule.is_preemption(task) {
            self.preemptions += 1;
        }
        if task != rule.default {
            if self.choices.len() < MAX_RECORDED_CHOICES {
                self.choices.push(Choice { step, task });
            } else {
                self.truncated = true;
            }
        }
    }

    /// Its choices, if it kept them all.
    pub fn complete_choices(&self) -> Option<&[Choice]> {
        (!self.truncated).then_some(self.choices.as_slice())
    }
}

#[derive(Debug)]
struct State {
    /// The last execution a recorder handed over, until it is kept or the next one ends.
    current: Recording,
    /// Scheduling decisions asked of that execution (counted even when the inner scheduler
    /// ended it), and the most of any execution.
    decisions: u64,
    most_decisions: u64,
    /// The execution to keep when the one under way ends.
    keep: Option<u64>,
    kept: Option<(u64, Recording)>,
}

impl State {
    /// No recording yet.
    const EMPTY: State = State {
        current: Recording {
            choices: Vec::new(),
            random_values: Vec::new(),
            steps: 0,
            preemptions: 0,
            truncated: false,
        },
        decisions: 0,
        most_decisions: 0,
        keep: None,
        kept: None,
    };

    /// Moves the execution under way to the kept one, if it was asked to be kept.
    fn settle(&mut self) {
        if let Some(execution) = self.keep.take()
            && self.kept.is_none()
        {
            self.kept = Some((execution, std::mem::take(&mut self.current)));
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State::EMPTY) };
}

/// The recordings of the run on this thread: the execution under way, and the one kept. A
/// handle, valid on the thread that runs the recorded executions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recordings(());

impl Recordings {
    /// Starts the recordings of a new run on this thread, forgetting any earlier one.
    pub fn start() -> Recordings {
        STATE.with_borrow_mut(|state| *state = State::EMPTY);
        Recordings(())
    }

    /// Keeps the recording of the execution under way, as execution `execution`, unless one is
    /// kept already. Called from inside the execution, once it has failed, or after the run
    /// when shuttle ended it at that execution.
    pub fn keep_current(&self, execution: u64) {
        STATE.with_borrow_mut(|state| {
            if state.kept.is_none() {
                state.keep.get_or_insert(execution);
            }
        });
    }

    /// The kept recording and its execution's index, once the run is over.
    pub fn take_kept(&self) -> Option<(u64, Recording)> {
        STATE.with_borrow_mut(|state| {
            state.settle();
            state.kept.take()
        })
    }

    /// The most scheduling decisions any execution of the run has made so far, the one under
    /// way included.
    pub fn most_decisions(&self) -> u64 {
        STATE.with_borrow(|state| state.most_decisions.max(state.decisions))
    }
}

/// Wraps an exploring scheduler and records every execution's decisions in the
/// [`Recordings`] of the thread that runs it. The execution under way is written down in the
/// recorder itself, with no thread-local look-up per decision; it is handed to the
/// [`Recordings`] when the next execution starts and when the recorder is dropped (at the end
/// of the run, or when a failure ends it).
pub struct Recorder<S> {
    inner: S,
    /// The execution under way; `None` once handed over, until the next one starts.
    current: Option<Recording>,
    /// Scheduling decisions asked of the execution under way (counted even when the inner
    /// scheduler ends it).
    decisions: u64,
}

impl<S: Scheduler> Recorder<S> {
    /// Records the executions `inner` schedules; `recordings` is the handle that reads them.
    pub fn new(inner: S, _recordings: Recordings) -> Self {
        Recorder {
            inner,
            current: None,
            decisions: 0,
        }
    }
}

impl<S> Recorder<S> {
    /// Hands the execution that ended, if one has not been handed over yet, to the thread's
    /// recordings: kept if it was asked to be, else left there for a caller that may still ask
    /// once the run is over. Returns the recording it replaced there, for reuse.
    fn hand_over(&mut self) -> Recording {
        let Some(ended) = self.current.take() else {
            return Recording::default();
        };
        let decisions = self.decisions;
        STATE.with_borrow_mut(|state| {
            state.most_decisions = state.most_decisions.max(decisions);
            state.decisions = decisions;
            let replaced = std::mem::replace(&mut state.current, ended);
            state.settle();
            replaced
        })
    }
}

impl<S> Drop for Recorder<S> {
    fn drop(&mut self) {
        self.hand_over();
    }
}

/// A boxed scheduler, as a scheduler.
pub struct Boxed(pub Box<dyn Scheduler + Send>);

impl Scheduler for Boxed {
    fn new_execution(&mut self) -> Option<Schedule> {
        self.0.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.0.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        // The last execution's recording stays with the thread until the next one ends: a
        // caller may still ask to keep it once the run is over.
        let mut reused = self.hand_over();
        let schedule = self.inner.new_execution()?;
        reused.clear();
        self.current = Some(reused);
        self.decisions = 0;
        Some(schedule)
    }

    #[inline]
    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let chosen = self.inner.next_task(runnable, current, is_yielding);
        self.decisions += 1;
        if let (Some(chosen), Some(recording)) = (chosen, &mut self.current) {
            recording.note(chosen, runnable, current, is_yielding);
        }
        chosen
    }

    fn next_u64(&mut self) -> u64 {
        let value = self.inner.next_u64();
        if let Some(recording) = &mut self.current {
            recording.random_values.push(value);
        }
        value
    }
}
