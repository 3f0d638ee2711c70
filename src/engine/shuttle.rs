//! Controlled executions under shuttle: random, PCT or DFS scheduling, deterministic per seed.

use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::merge::{BlockMerge, BlockResult, MergePlan};
use super::panics::Capture;
use super::{Engine, EngineError, Flow, Outcome, RunPlan};
use crate::ledger::{EventContext, LedgerError};
use crate::platform::shuttle::{ShuttlePlatform, ShuttlePoint, StepLog};
use crate::scenario::{SchedulerKind, ShuttleSettings};
use crate::schedule::dpor;
use crate::schedule::record::{Recorder, Recordings};
use crate::sync::context::Execution;
use crate::tally::Tally;
use crate::workload::Workload;

/// The shuttle engine.
#[derive(Clone, Debug)]
pub struct ShuttleEngine {
    settings: ShuttleSettings,
}

impl ShuttleEngine {
    /// An engine with the given scheduler and step bound.
    pub fn new(settings: ShuttleSettings) -> Self {
        ShuttleEngine { settings }
    }
}

use super::controlled::Stoppable;
pub use super::controlled::{
    block_len, block_scheduler, block_scheduler_with_stats, quiet_config, scheduler_for_execution,
};

/// The variable through which shuttle's schedulers would take their seed.
const SHUTTLE_SEED_VARIABLE: &str = "SHUTTLE_RANDOM_SEED";

/// What the executions share with the engine: the tally, and the first internal error.
struct Shared {
    tally: Mutex<Tally>,
    error: Mutex<Option<(u64, LedgerError)>>,
    next_run: AtomicU64,
    stop: Arc<AtomicBool>,
    recordings: Recordings,
}

impl Engine for ShuttleEngine {
    fn execute<W: Workload>(
        &self,
        workload: Arc<W>,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        self.execute_body(plan, tally, move |context| {
            run_workload_once(&workload, None, context)
        })
    }
}

/// One controlled execution: runs inside shuttle and says how it ended (the ledger's
/// settlement, or a failure the body found itself).
pub trait ExecutionBody:
    Fn(EventContext<'_>) -> Result<Outcome, LedgerError> + Send + Sync + 'static
{
}

impl<F> ExecutionBody for F where
    F: Fn(EventContext<'_>) -> Result<Outcome, LedgerError> + Send + Sync + 'static
{
}

/// The outcome of an execution that shuttle ended early (a panic, a deadlock, a livelock),
/// from what its panic said and the step bound: the body's own account of how it failed.
pub trait FailureBody: Fn(String, u64) -> Outcome + Send + Sync + 'static {}

impl<F> FailureBody for F where F: Fn(String, u64) -> Outcome + Send + Sync + 'static {}

impl ShuttleEngine {
    /// Runs `body` once per execution of the scenario, under the scenario's scheduler, and
    /// records each execution in `tally`; an execution shuttle ends early is classified from
    /// shuttle's words ([`Outcome::of_shuttle_failure`]).
    pub fn execute_body(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        body: impl ExecutionBody,
    ) -> Result<(), EngineError> {
        self.execute_body_classified(plan, tally, body, Outcome::of_shuttle_failure)
    }

    /// Runs `body` once per execution of the scenario, under the scenario's scheduler, and
    /// records each execution in `tally`; `failed` says how an execution that shuttle ended
    /// early failed. Every engine that runs inside shuttle (threads, async tasks, bodies on
    /// the primitive API) goes through here.
    pub fn execute_body_classified(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        body: impl ExecutionBody,
        failed: impl FailureBody,
    ) -> Result<(), EngineError> {
        // shuttle's random and PCT schedulers take their seed from this variable when it is set,
        // and panic when it is not a number: the scenario's seed would be silently replaced.
        if std::env::var_os(SHUTTLE_SEED_VARIABLE).is_some()
            && !self.settings.scheduler.exhaustive()
        {
            return Err(EngineError::Environment(format!(
                "the environment variable {SHUTTLE_SEED_VARIABLE} is set and would replace the seed \
                 of scenario `{}`; unset it and give the seed in the config",
                plan.scenario
            )));
        }
        let body = Arc::new(body);
        let failed: Arc<dyn FailureBody> = Arc::new(failed);
        let block_len = block_len(self.settings.scheduler, plan.runs);
        // An exhaustive search is one block, searched in order by one worker.
        let workers = if self.settings.scheduler.exhaustive() {
            1
        } else {
            plan.jobs.max(1)
        };
        self.execute_blocks(plan, tally, block_len, workers, body, &failed)
    }

    /// Runs the blocks on `workers` worker threads and adds their tallies up in block order,
    /// so that the report is the same for every number of workers: a block that stops the run
    /// (a failed execution, `--fail-fast`) drops the blocks after it.
    fn execute_blocks<B: ExecutionBody>(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        block_len: u64,
        workers: usize,
        body: Arc<B>,
        failed: &Arc<dyn FailureBody>,
    ) -> Result<(), EngineError> {
        let template = tally.fresh();
        let merge = BlockMerge::new(
            std::mem::replace(tally, tally.fresh()),
            MergePlan {
                planned: plan.planned(block_len),
                dfs: self.settings.scheduler == SchedulerKind::Dfs,
            },
        );
        let queue = Arc::new(BlockQueue {
            blocks: Mutex::new(Box::new(plan.blocks(block_len).enumerate())),
            deadline: plan.deadline,
            stop_at: AtomicU64::new(u64::MAX),
            merge: Mutex::new(Some(merge)),
        });
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    self.execute_chain(plan, &template, &queue, Arc::clone(&body), &**failed);
                });
            }
        });
        let merge = lock(&queue.merge)
            .take()
            .expect("the merge is taken once, after every worker has stopped");
        *tally = merge.finish(plan.out_of_time())?;
        Ok(())
    }

    /// Runs blocks from `queue` one after the other in one shuttle run, each under a scheduler
    /// of its own, until the queue gives no more or a block stops the run: shuttle makes what
    /// a run needs (its pool of task stacks among it) once for all of them rather than once a
    /// block. Each block's tally goes to the queue as the block ends.
    fn execute_chain<B: ExecutionBody>(
        &self,
        plan: &RunPlan,
        template: &Tally,
        queue: &Arc<BlockQueue>,
        body: Arc<B>,
        failed: &dyn FailureBody,
    ) {
        let Some((index, block)) = queue.next() else {
            return;
        };
        let capture = Capture::start();
        let stop = Arc::new(AtomicBool::new(false));
        let out_of_time = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            tally: Mutex::new(template.fresh()),
            error: Mutex::new(None),
            next_run: AtomicU64::new(block.start),
            stop: Arc::clone(&stop),
            recordings: Recordings::start(),
        });
        let (kind, seed) = (self.settings.scheduler, plan.seed);
        let (inner, stats) = block_scheduler_with_stats(kind, seed, &block);
        let current = Arc::new(Mutex::new(Some(BlockUnderWay {
            index,
            block,
            stats,
        })));
        let next_block = {
            let (shared, current, queue) =
                (Arc::clone(&shared), Arc::clone(&current), Arc::clone(queue));
            let blank = template.fresh();
            move || {
                // The block under way has run all its executions: its tally goes, and the next
                // block starts with a tally and recordings of its own.
                let ended = lock(&current).take()?;
                let block_tally = ended.finish(&shared, blank.fresh());
                queue.finished(ended.index, ended.block, Ok((block_tally, Flow::Continue)));
                let (index, block) = queue.next()?;
                Recordings::start();
                shared.next_run.store(block.start, Ordering::SeqCst);
                let (inner, stats) = block_scheduler_with_stats(kind, seed, &block);
                *lock(&current) = Some(BlockUnderWay {
                    index,
                    block,
                    stats,
                });
                Some(inner)
            }
        };
        let scheduler = Recorder::new(
            Stoppable::new(
                inner,
                Arc::clone(&stop),
                plan.deadline,
                Arc::clone(&out_of_time),
            )
            .then(next_block),
            shared.recordings,
        );
        let runner = shuttle::Runner::new(scheduler, quiet_config(self.settings.max_steps));
        let run_body = {
            let shared = Arc::clone(&shared);
            let scenario: Arc<str> = Arc::from(plan.scenario.as_str());
            move || execute_once(&*body, &shared, &scenario)
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| runner.run(run_body)));
        dpor::access::stop_board();
        let Some(ended) = lock(&current).take() else {
            // The last block ended with the queue: nothing is under way.
            return;
        };
        let (index, block) = (ended.index, ended.block.clone());
        let mut tally = ended.finish(&shared, template.fresh());
        let outcome = (|| {
            if let Some((run, source)) = lock(&shared.error).take() {
                return Err(EngineError::Ledger {
                    scenario: plan.scenario.clone(),
                    run,
                    source,
                });
            }
            if result.is_err() {
                // shuttle ends the whole run at an execution it ends itself (a deadlock with no
                // cycle, too many steps); contend's own failures end one execution only.
                let message = capture
                    .take()
                    .unwrap_or_else(|| "the execution failed".to_string());
                let run = shared.next_run.load(Ordering::SeqCst).saturating_sub(1);
                if tally.first_failing_run.is_none() {
                    shared.recordings.keep_current(run);
                }
                tally.record(run, failed(message, self.settings.max_steps));
                tally.keep_first_failing_schedule(shared.recordings.take_kept());
                return Ok((tally, Flow::Stop));
            }
            if out_of_time.load(Ordering::SeqCst) {
                tally.stop_for_time();
            }
            let flow = if stop.load(Ordering::SeqCst) {
                Flow::Stop
            } else {
                Flow::Continue
            };
            Ok((tally, flow))
        })();
        queue.finished(index, block, outcome);
    }
}

/// Locks a mutex of the engine's bookkeeping; a panic elsewhere is reported on its own.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The blocks of a scenario's executions the workers take in turn, and the scenario's tally,
/// to which each block's is added in block order as it ends.
struct BlockQueue {
    /// The blocks not taken yet, lazily: a scenario may plan more blocks than fit in memory.
    blocks: Mutex<Box<dyn Iterator<Item = (usize, Range<u64>)> + Send>>,
    deadline: Option<std::time::Instant>,
    /// The first block that stopped the run: no block after it starts.
    stop_at: AtomicU64,
    /// Taken once the workers have stopped.
    merge: Mutex<Option<BlockMerge>>,
}

impl BlockQueue {
    /// The next block to run and its index; none once they are all taken, past the time
    /// budget, or after a block that stopped the run.
    fn next(&self) -> Option<(u64, Range<u64>)> {
        let out_of_time = crate::interrupt::requested()
            || self
                .deadline
                .is_some_and(|deadline| std::time::Instant::now() >= deadline);
        if out_of_time {
            return None;
        }
        let (index, block) = lock(&self.blocks).next()?;
        let index = index as u64;
        (index <= self.stop_at.load(Ordering::SeqCst)).then_some((index, block))
    }

    /// Block `index` ended with `result`.
    fn finished(&self, index: u64, block: Range<u64>, result: BlockResult) {
        if !matches!(&result, Ok((tally, Flow::Continue)) if !tally.ended_early()) {
            self.stop_at.fetch_min(index, Ordering::SeqCst);
        }
        if let Some(merge) = lock(&self.merge).as_mut() {
            merge.add(index, block, result);
        }
    }
}

/// The block a chain of blocks runs now.
struct BlockUnderWay {
    index: u64,
    block: Range<u64>,
    stats: Option<Arc<crate::schedule::dpor::SearchStats>>,
}

impl BlockUnderWay {
    /// The tally of the block, taken from the executions' and replaced by `next` for the block
    /// after it, with the search's classes, the most decisions an execution made and the
    /// schedule of its first failing execution.
    fn finish(&self, shared: &Shared, next: Tally) -> Tally {
        let mut tally = std::mem::replace(&mut *lock(&shared.tally), next);
        if let Some(stats) = &self.stats {
            *tally.classes.get_or_insert(0) += stats.classes();
        }
        let most = tally.decisions.get_or_insert(0);
        *most = (*most).max(shared.recordings.most_decisions());
        tally.keep_first_failing_schedule(shared.recordings.take_kept());
        tally
    }
}

fn execute_once(body: &impl ExecutionBody, shared: &Shared, scenario: &Arc<str>) {
    let run = shared.next_run.fetch_add(1, Ordering::SeqCst);
    let _label = crate::trace::label_execution(scenario, run);
    let settled = body(EventContext { scenario, run });
    match settled {
        Ok(outcome) => {
            let mut tally = shared.tally.lock().unwrap_or_else(|p| p.into_inner());
            let first = tally.first_failing_run.is_none();
            if tally.record(run, outcome) == Flow::Stop {
                shared.stop.store(true, Ordering::SeqCst);
            }
            if first && tally.first_failing_run.is_some() {
                shared.recordings.keep_current(run);
            }
        }
        Err(error) => {
            shared
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert((run, error));
            shared.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs `workload` once inside a shuttle execution, on contend's primitive API as a user's
/// check runs: an execution of [`crate::sync`] is entered, the workload's threads are spawned
/// with [`crate::thread::spawn`] (named `Thread-1`, `Thread-2`, ...), joined, and the ledger
/// settles; a thread's panic fails the execution. With a `log`, every access is written down
/// in execution order.
pub fn run_workload_once<W: Workload>(
    workload: &Arc<W>,
    log: Option<&StepLog>,
    context: EventContext<'_>,
) -> Result<Outcome, LedgerError> {
    let execution = Execution::under_shuttle(context.scenario, context.run, 0, None);
    let entered = crate::sync::context::enter(Arc::clone(&execution), None);
    let Ok(state) = workload.new_state(&ShuttlePlatform);
    // The workload and its state in one shared allocation: one reference count a thread.
    let shared = Arc::new((Arc::clone(workload), state));
    let handles: Vec<_> = (0..workload.thread_count())
        .map(|thread| {
            let shared = Arc::clone(&shared);
            let mut point = ShuttlePoint::new(thread, log.cloned());
            crate::thread::spawn(move || {
                let (workload, state) = &*shared;
                workload.run_thread(state, thread, &mut point);
            })
        })
        .collect();
    workload.threads_started(context.run);
    for handle in handles {
        // A task's panic is recorded in the execution, which fails; the join is announced to
        // an exploring scheduler by contend::thread, as a check's is.
        let _ = handle.join();
    }
    let outcome = match super::body::failure_of(&execution) {
        Some(failed) => Ok(failed.into()),
        None => workload.settle(&shared.1, context).map(Outcome::Settled),
    };
    drop(entered);
    Execution::recycle(execution);
    outcome
}
