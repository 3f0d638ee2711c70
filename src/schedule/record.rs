//! Recording while exploring: a wrapper around an exploring scheduler (random, PCT, DFS) that
//! writes down each execution's decisions as choices as it goes, so that the first failing
//! execution's schedule is at hand when it fails, without running anything again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// Its choices, if it kept them all.
    pub fn complete_choices(&self) -> Option<&[Choice]> {
        (!self.truncated).then_some(self.choices.as_slice())
    }
}

#[derive(Debug, Default)]
struct Lists {
    choices: Vec<Choice>,
    random_values: Vec<u64>,
    /// The execution to keep when the one under way ends.
    keep: Option<u64>,
    kept: Option<(u64, Recording)>,
}

#[derive(Debug, Default)]
struct Shared {
    lists: Mutex<Lists>,
    steps: AtomicU64,
    preemptions: AtomicU64,
    truncated: AtomicBool,
}

/// The recordings of a run: the execution under way, and the one kept.
#[derive(Clone, Debug, Default)]
pub struct Recordings(Arc<Shared>);

impl Recordings {
    fn lists(&self) -> MutexGuard<'_, Lists> {
        self.0.lists.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the recording of the execution under way, as execution `execution`, unless one is
    /// kept already. Called from inside the execution, once it has failed.
    pub fn keep_current(&self, execution: u64) {
        let mut lists = self.lists();
        if lists.kept.is_none() {
            lists.keep.get_or_insert(execution);
        }
    }

    /// Moves the execution under way to the kept one, if it was asked to be kept.
    fn settle(&self, lists: &mut Lists) {
        if let Some(execution) = lists.keep.take()
            && lists.kept.is_none()
        {
            let recording = Recording {
                choices: std::mem::take(&mut lists.choices),
                random_values: std::mem::take(&mut lists.random_values),
                steps: self.0.steps.load(Ordering::Relaxed),
                preemptions: self.0.preemptions.load(Ordering::Relaxed),
                truncated: self.0.truncated.load(Ordering::Relaxed),
            };
            lists.kept = Some((execution, recording));
        }
    }

    /// The kept recording and its execution's index, once the run is over.
    pub fn take_kept(&self) -> Option<(u64, Recording)> {
        let mut lists = self.lists();
        self.settle(&mut lists);
        lists.kept.take()
    }

    fn start_execution(&self) {
        let mut lists = self.lists();
        self.settle(&mut lists);
        lists.choices.clear();
        lists.random_values.clear();
        self.0.steps.store(0, Ordering::Relaxed);
        self.0.preemptions.store(0, Ordering::Relaxed);
        self.0.truncated.store(false, Ordering::Relaxed);
    }
}

/// Wraps an exploring scheduler and records every execution's decisions in [`Recordings`].
pub struct Recorder {
    inner: Box<dyn Scheduler + Send>,
    recordings: Recordings,
}

impl Recorder {
    /// Records the executions `inner` schedules into `recordings`.
    pub fn new(inner: Box<dyn Scheduler + Send>, recordings: Recordings) -> Self {
        Recorder { inner, recordings }
    }
}

impl Scheduler for Recorder {
    fn new_execution(&mut self) -> Option<Schedule> {
        let schedule = self.inner.new_execution()?;
        // The last execution's recording stays until the next one starts: a caller may still
        // ask to keep it once the run is over.
        self.recordings.start_execution();
        Some(schedule)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let chosen = self.inner.next_task(runnable, current, is_yielding)?;
        let rule = Rule::at(runnable, current, is_yielding);
        let task = usize::from(chosen);
        let shared = &self.recordings.0;
        let step = shared.steps.fetch_add(1, Ordering::Relaxed);
        if rule.is_preemption(task) {
            shared.preemptions.fetch_add(1, Ordering::Relaxed);
        }
        if task != rule.default {
            let mut lists = self.recordings.lists();
            if lists.choices.len() < MAX_RECORDED_CHOICES {
                lists.choices.push(Choice { step, task });
            } else {
                shared.truncated.store(true, Ordering::Relaxed);
            }
        }
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        let value = self.inner.next_u64();
        self.recordings.lists().random_values.push(value);
        value
    }
}
