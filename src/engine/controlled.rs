//! What every controlled execution under shuttle needs, whoever runs it (a scenario or a
//! check): the scheduler of a block of executions, a quiet shuttle configuration and a
//! scheduler the run can stop.

use std::mem::ManuallyDrop;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId};
use shuttle::{Config, FailurePersistence, MaxSteps};

use super::{SHUTTLE_BLOCK, derive_seed};
use crate::schedule::dpor::{Explorer, Reduction, SearchStats};

/// A shuttle scheduling strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerKind {
    /// A uniformly random choice at every step.
    Random,
    /// Probabilistic concurrency testing with the given bug depth.
    Pct {
        /// The number of priority change points plus one.
        depth: usize,
    },
    /// Exhaustive depth-first search, bounded by `runs`.
    Dfs,
    /// Exhaustive search with dynamic partial-order reduction: one execution per equivalence
    /// class of interleavings, bounded by `runs`.
    Dpor,
    /// Depth-first search of every schedule with at most `max_preemptions` preemptions,
    /// without reduction, bounded by `runs`.
    Bounded {
        /// The most preemptions a schedule may make.
        max_preemptions: u32,
    },
}

impl SchedulerKind {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerKind::Random => "random",
            SchedulerKind::Pct { .. } => "pct",
            SchedulerKind::Dfs => "dfs",
            SchedulerKind::Dpor => "dpor",
            SchedulerKind::Bounded { .. } => "dfs",
        }
    }

    /// Whether the scheduler searches the schedules rather than samples them.
    pub fn exhaustive(self) -> bool {
        matches!(
            self,
            SchedulerKind::Dfs | SchedulerKind::Dpor | SchedulerKind::Bounded { .. }
        )
    }
}

/// Default bound on the steps of one shuttle execution.
pub const DEFAULT_MAX_STEPS: u64 = 100_000_000;

/// Executions per scheduler: [`SHUTTLE_BLOCK`], or all of them for DFS, whose executions are
/// the steps of one search.
pub fn block_len(kind: SchedulerKind, runs: u64) -> u64 {
    if kind.exhaustive() {
        runs.max(1)
    } else {
        SHUTTLE_BLOCK
    }
}

/// The scheduler of one block of a scenario's executions: deterministic for the scenario's
/// seed and the block alone.
pub fn block_scheduler(
    kind: SchedulerKind,
    seed: u64,
    block: &Range<u64>,
) -> Box<dyn Scheduler + Send> {
    Box::new(block_scheduler_with_stats(kind, seed, block).0)
}

/// The scheduler of a block, of whichever kind: called directly at every decision, without the
/// indirection of a boxed scheduler.
pub enum BlockScheduler {
    /// shuttle's random scheduler.
    Random(RandomScheduler),
    /// shuttle's PCT scheduler.
    Pct(PctScheduler),
    /// contend's exploring search (`dfs`, `dpor`, a preemption bound).
    Explorer(Box<Explorer>),
}

/// Runs `$call` on the scheduler a [`BlockScheduler`] holds.
macro_rules! each_scheduler {
    ($self:ident, $inner:ident => $call:expr) => {
        match $self {
            BlockScheduler::Random($inner) => $call,
            BlockScheduler::Pct($inner) => $call,
            BlockScheduler::Explorer($inner) => $call,
        }
    };
}

impl Scheduler for BlockScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        each_scheduler!(self, inner => inner.new_execution())
    }

    #[inline]
    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        each_scheduler!(self, inner => inner.next_task(runnable, current, is_yielding))
    }

    fn next_u64(&mut self) -> u64 {
        each_scheduler!(self, inner => inner.next_u64())
    }
}

/// [`block_scheduler`], with what an exploring search covers as it runs (for `dpor` and a
/// preemption bound).
pub fn block_scheduler_with_stats(
    kind: SchedulerKind,
    seed: u64,
    block: &Range<u64>,
) -> (BlockScheduler, Option<Arc<SearchStats>>) {
    let len = usize::try_from(block.end - block.start).unwrap_or(usize::MAX);
    let block_seed = derive_seed(seed, block.start / SHUTTLE_BLOCK);
    let explorer = |reduction| {
        let explorer = Explorer::new(reduction, Some(block.end - block.start));
        let stats = explorer.stats();
        (BlockScheduler::Explorer(Box::new(explorer)), Some(stats))
    };
    match kind {
        SchedulerKind::Random => (
            BlockScheduler::Random(RandomScheduler::new_from_seed(block_seed, len)),
            None,
        ),
        SchedulerKind::Pct { depth } => (
            BlockScheduler::Pct(PctScheduler::new_from_seed(block_seed, depth, len)),
            None,
        ),
        SchedulerKind::Dfs => explorer(Reduction::None(None)),
        SchedulerKind::Dpor => explorer(Reduction::Dpor),
        SchedulerKind::Bounded { max_preemptions } => {
            explorer(Reduction::None(Some(max_preemptions)))
        }
    }
}

/// The scheduler whose executions include execution `run` of a scenario of `runs`
/// executions, and the index of `run` among them.
pub fn scheduler_for_execution(
    kind: SchedulerKind,
    seed: u64,
    runs: u64,
    run: u64,
) -> (Box<dyn Scheduler + Send>, u64) {
    let block_len = block_len(kind, runs);
    let start = run / block_len * block_len;
    let block = start..(start + block_len).min(runs.max(run + 1));
    (block_scheduler(kind, seed, &block), run - start)
}

/// A shuttle configuration that prints and persists nothing: contend reports failures itself.
pub fn quiet_config(max_steps: u64) -> Config {
    let mut config = Config::new();
    config.failure_persistence = FailurePersistence::None;
    config.max_steps = MaxSteps::FailAfter(usize::try_from(max_steps).unwrap_or(usize::MAX));
    config.silence_warnings = true;
    config
}

/// Wraps a scheduler so that the engine can end the run between executions.
///
/// The inner scheduler is never dropped: shuttle's random scheduler prints "failing seed" and
/// replay advice to stderr when it is dropped before its last execution (a failure, or a stop),
/// and contend reports failures in its own words. The leak is one small struct per scenario.
pub(crate) struct Stoppable {
    inner: ManuallyDrop<BlockScheduler>,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    out_of_time: Arc<AtomicBool>,
    /// The scheduler of the block after this one, once this one has run all its executions.
    next_block: Option<NextBlock>,
}

/// Gives the scheduler of the next block of a chain of blocks, or none.
type NextBlock = Box<dyn FnMut() -> Option<BlockScheduler> + Send>;

impl Stoppable {
    /// `inner`, never dropped, that starts no execution once `stop` is set or past
    /// `deadline` (then setting `out_of_time`).
    pub(crate) fn new(
        inner: BlockScheduler,
        stop: Arc<AtomicBool>,
        deadline: Option<Instant>,
        out_of_time: Arc<AtomicBool>,
    ) -> Self {
        Stoppable {
            inner: ManuallyDrop::new(inner),
            stop,
            deadline,
            out_of_time,
            next_block: None,
        }
    }

    /// Goes on, once its scheduler has run all its executions, with the scheduler
    /// `next_block` gives, as long as it gives one: a chain of blocks in one shuttle run.
    #[cfg(feature = "runner")]
    pub(crate) fn then(
        mut self,
        next_block: impl FnMut() -> Option<BlockScheduler> + Send + 'static,
    ) -> Self {
        self.next_block = Some(Box::new(next_block));
        self
    }

    /// `inner`, never dropped, that starts no execution past `deadline`; the flag says whether
    /// the deadline ended the run.
    pub(crate) fn with_deadline(
        inner: BlockScheduler,
        deadline: Option<Instant>,
    ) -> (Self, Arc<AtomicBool>) {
        let out_of_time = Arc::new(AtomicBool::new(false));
        let stoppable = Stoppable::new(inner, Arc::default(), deadline, Arc::clone(&out_of_time));
        (stoppable, out_of_time)
    }
}

impl Scheduler for Stoppable {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        if crate::interrupt::requested()
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            self.out_of_time.store(true, Ordering::SeqCst);
            return None;
        }
        loop {
            if let Some(schedule) = self.inner.new_execution() {
                return Some(schedule);
            }
            let next = (self.next_block.as_mut()?)()?;
            // The block before ran all its executions: its scheduler goes quietly (shuttle's
            // random scheduler prints its seed only when dropped before its last execution).
            drop(std::mem::replace(&mut *self.inner, next));
        }
    }

    #[inline]
    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.inner.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}
