//! Controlled executions under shuttle: random, PCT or DFS scheduling, deterministic per seed.

use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// The tallies of the blocks run side by side, by block index, with how each block ended.
type BlockResults = std::collections::BTreeMap<u64, Result<(Tally, Flow), EngineError>>;

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
        if plan.jobs > 1 && !self.settings.scheduler.exhaustive() {
            return self.execute_blocks_side_by_side(plan, tally, block_len, body, &failed);
        }
        for block in plan.blocks(block_len) {
            if plan.out_of_time() {
                tally.stop_for_time();
                break;
            }
            let before = tally.runs;
            if self.execute_block(plan, tally, &block, Arc::clone(&body), &*failed)? == Flow::Stop {
                if tally.failed_runs > 0
                    && !tally.stops_at_first_failure()
                    && tally.runs < plan.planned(block_len)
                {
                    tally.notes.push(format!(
                        "shuttle ends a scenario at an execution it ends itself (every thread \
                         blocked with no cycle of waits, or too many steps): {} of {} runs did \
                         not run",
                        plan.planned(block_len) - tally.runs,
                        plan.planned(block_len)
                    ));
                }
                break;
            }
            if tally.ended_early() {
                break;
            }
            if tally.runs - before < block.end - block.start {
                // Only DFS ends before its bound: it has explored every schedule.
                tally.exhaustive = true;
                if self.settings.scheduler == SchedulerKind::Dfs {
                    tally.notes.push(format!(
                        "dfs explored all {} schedules: the search is exhaustive",
                        tally.runs
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs the blocks on `plan.jobs` worker threads and adds their tallies up in block order,
    /// as [`ShuttleEngine::execute_body`] would have one after the other: a block that stops
    /// the run (a failed execution, `--fail-fast`) drops the blocks after it.
    fn execute_blocks_side_by_side<B: ExecutionBody>(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        block_len: u64,
        body: Arc<B>,
        failed: &Arc<dyn FailureBody>,
    ) -> Result<(), EngineError> {
        let blocks = Mutex::new(plan.blocks(block_len).enumerate());
        let stop_at = AtomicU64::new(u64::MAX);
        let done: Mutex<BlockResults> = Mutex::default();
        let template = tally.fresh();
        std::thread::scope(|scope| {
            for _ in 0..plan.jobs {
                scope.spawn(|| {
                    loop {
                        if plan.out_of_time() {
                            break;
                        }
                        let next = blocks.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some((index, block)) = next else { break };
                        let index = index as u64;
                        if index > stop_at.load(Ordering::SeqCst) {
                            break;
                        }
                        let mut block_tally = template.fresh();
                        let result = self.execute_block(
                            plan,
                            &mut block_tally,
                            &block,
                            Arc::clone(&body),
                            &**failed,
                        );
                        if !matches!(result, Ok(Flow::Continue)) || block_tally.ended_early() {
                            stop_at.fetch_min(index, Ordering::SeqCst);
                        }
                        let entry = result.map(|flow| (block_tally, flow));
                        done.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(index, entry);
                    }
                });
            }
        });
        let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        for (expected, (index, result)) in (0u64..).zip(done) {
            if index != expected {
                // A block before this one never ran: the time budget ended the run there.
                tally.stop_for_time();
                break;
            }
            let (block_tally, flow) = result?;
            tally.absorb(block_tally);
            if flow == Flow::Stop {
                if tally.failed_runs > 0
                    && !tally.stops_at_first_failure()
                    && tally.runs < plan.planned(block_len)
                {
                    tally.notes.push(format!(
                        "shuttle ends a scenario at an execution it ends itself (every thread \
                         blocked with no cycle of waits, or too many steps): {} of {} runs did \
                         not run",
                        plan.planned(block_len) - tally.runs,
                        plan.planned(block_len)
                    ));
                }
                return Ok(());
            }
            if tally.ended_early() {
                return Ok(());
            }
        }
        if plan.out_of_time() && tally.runs < plan.planned(block_len) {
            tally.stop_for_time();
        }
        Ok(())
    }

    /// Runs the executions of one block under a scheduler of their own.
    fn execute_block<B: ExecutionBody>(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        block: &Range<u64>,
        body: Arc<B>,
        failed: &dyn FailureBody,
    ) -> Result<Flow, EngineError> {
        let capture = Capture::start();
        let stop = Arc::new(AtomicBool::new(false));
        let out_of_time = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            tally: Mutex::new(std::mem::take(tally)),
            error: Mutex::new(None),
            next_run: AtomicU64::new(block.start),
            stop: Arc::clone(&stop),
            recordings: Recordings::start(),
        });
        let (inner, stats) = block_scheduler_with_stats(self.settings.scheduler, plan.seed, block);
        let scheduler = Recorder::new(
            Stoppable::new(inner, stop, plan.deadline, Arc::clone(&out_of_time)),
            shared.recordings,
        );
        let stop = Arc::clone(&shared.stop);
        let runner = shuttle::Runner::new(scheduler, quiet_config(self.settings.max_steps));
        let run_body = {
            let shared = Arc::clone(&shared);
            let scenario: Arc<str> = Arc::from(plan.scenario.as_str());
            move || execute_once(&*body, &shared, &scenario)
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| runner.run(run_body)));
        dpor::access::stop_board();

        // A failed execution may leak shuttle's clone of the body, so take the results out
        // rather than unwrapping the Arc.
        *tally = std::mem::take(&mut *shared.tally.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(stats) = stats {
            *tally.classes.get_or_insert(0) += stats.classes();
        }
        let most = tally.decisions.get_or_insert(0);
        *most = (*most).max(shared.recordings.most_decisions());
        let error = shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((run, source)) = error {
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
            return Ok(Flow::Stop);
        }
        tally.keep_first_failing_schedule(shared.recordings.take_kept());
        if out_of_time.load(Ordering::SeqCst) {
            tally.stop_for_time();
        }
        Ok(if stop.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        })
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
