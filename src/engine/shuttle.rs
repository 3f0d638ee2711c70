//! Controlled executions under shuttle: random, PCT or DFS scheduling, deterministic per seed.

use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId,
};
use shuttle::{Config, FailurePersistence, MaxSteps};

use super::panics::Capture;
use super::{Engine, EngineError, Flow, Outcome, RunPlan};
use crate::ledger::{EventContext, LedgerError, Settlement};
use crate::platform::shuttle::{ShuttlePlatform, ShuttlePoint, StepLog};
use crate::scenario::{SchedulerKind, ShuttleSettings};
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

    fn scheduler(&self, plan: &RunPlan) -> Box<dyn Scheduler + Send> {
        scheduler_for(self.settings.scheduler, plan.seed, plan.runs)
    }
}

/// The shuttle scheduler of a scenario: deterministic for its seed.
pub fn scheduler_for(kind: SchedulerKind, seed: u64, runs: u64) -> Box<dyn Scheduler + Send> {
    let runs = usize::try_from(runs).unwrap_or(usize::MAX);
    match kind {
        SchedulerKind::Random => Box::new(RandomScheduler::new_from_seed(seed, runs)),
        SchedulerKind::Pct { depth } => Box::new(PctScheduler::new_from_seed(seed, depth, runs)),
        SchedulerKind::Dfs => Box::new(DfsScheduler::new(Some(runs), false)),
    }
}

/// The variable through which shuttle's schedulers would take their seed.
const SHUTTLE_SEED_VARIABLE: &str = "SHUTTLE_RANDOM_SEED";

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
struct Stoppable {
    inner: ManuallyDrop<Box<dyn Scheduler + Send>>,
    stop: Arc<AtomicBool>,
}

impl Scheduler for Stoppable {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        self.inner.new_execution()
    }

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

/// What the executions share with the engine: the tally, and the first internal error.
struct Shared {
    tally: Mutex<Tally>,
    error: Mutex<Option<(u64, LedgerError)>>,
    next_run: AtomicU64,
    stop: Arc<AtomicBool>,
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

/// One controlled execution: runs inside shuttle and settles the ledger.
pub trait ExecutionBody:
    Fn(EventContext<'_>) -> Result<Settlement, LedgerError> + Send + Sync + 'static
{
}

impl<F> ExecutionBody for F where
    F: Fn(EventContext<'_>) -> Result<Settlement, LedgerError> + Send + Sync + 'static
{
}

impl ShuttleEngine {
    /// Runs `body` once per execution of the scenario, under the scenario's scheduler, and
    /// records each execution in `tally`. Every engine that runs inside shuttle (threads,
    /// async tasks) goes through here.
    pub fn execute_body(
        &self,
        plan: &RunPlan,
        tally: &mut Tally,
        body: impl ExecutionBody,
    ) -> Result<(), EngineError> {
        // shuttle's random and PCT schedulers take their seed from this variable when it is set,
        // and panic when it is not a number: the scenario's seed would be silently replaced.
        if std::env::var_os(SHUTTLE_SEED_VARIABLE).is_some()
            && !matches!(self.settings.scheduler, SchedulerKind::Dfs)
        {
            return Err(EngineError::Environment(format!(
                "the environment variable {SHUTTLE_SEED_VARIABLE} is set and would replace the seed \
                 of scenario `{}`; unset it and give the seed in the config",
                plan.scenario
            )));
        }
        let capture = Capture::start();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            tally: Mutex::new(std::mem::take(tally)),
            error: Mutex::new(None),
            next_run: AtomicU64::new(0),
            stop: Arc::clone(&stop),
        });
        let scheduler = Stoppable {
            inner: ManuallyDrop::new(self.scheduler(plan)),
            stop,
        };
        let stop = Arc::clone(&shared.stop);
        let runner = shuttle::Runner::new(scheduler, quiet_config(self.settings.max_steps));
        let body = {
            let shared = Arc::clone(&shared);
            let scenario = plan.scenario.clone();
            move || execute_once(&body, &shared, &scenario)
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| runner.run(body)));

        // A failed execution may leak shuttle's clone of the body, so take the results out
        // rather than unwrapping the Arc.
        *tally = std::mem::take(&mut *shared.tally.lock().unwrap_or_else(|p| p.into_inner()));
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
            // shuttle ends the whole run at a failed execution (a panic, a deadlock, too many steps).
            let message = capture
                .take()
                .unwrap_or_else(|| "the execution failed".to_string());
            tally.record(Outcome::Failed {
                message: explain_shuttle_failure(message, self.settings.max_steps),
            });
            if tally.runs < plan.runs {
                tally.notes.push(format!(
                    "shuttle ends a scenario at its first failed execution: {} of {} runs did not run",
                    plan.runs - tally.runs,
                    plan.runs
                ));
            }
        } else if !stop.load(Ordering::SeqCst) && tally.runs < plan.runs {
            // Only DFS ends before its bound: it has explored every schedule.
            tally.exhaustive = true;
            tally.notes.push(format!(
                "dfs explored all {} schedules: the search is exhaustive",
                tally.runs
            ));
        }
        Ok(())
    }
}

fn execute_once(body: &impl ExecutionBody, shared: &Shared, scenario: &str) {
    let run = shared.next_run.fetch_add(1, Ordering::SeqCst);
    let settled = body(EventContext { scenario, run });
    match settled {
        Ok(settlement) => {
            let mut tally = shared.tally.lock().unwrap_or_else(|p| p.into_inner());
            if tally.record(Outcome::Settled(settlement)) == Flow::Stop {
                shared.stop.store(true, Ordering::SeqCst);
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

/// Runs `workload` once inside a shuttle execution: spawns its threads as shuttle tasks named
/// `Thread-1`, `Thread-2`, ..., joins them and settles the ledger. With a `log`, every access is
/// written down in execution order.
pub fn run_workload_once<W: Workload>(
    workload: &Arc<W>,
    log: Option<&StepLog>,
    context: EventContext<'_>,
) -> Result<Settlement, LedgerError> {
    let Ok(state) = workload.new_state(&ShuttlePlatform);
    let state = Arc::new(state);
    let handles: Vec<_> = (0..workload.thread_count())
        .map(|thread| {
            let state = Arc::clone(&state);
            let workload = Arc::clone(workload);
            let mut point = ShuttlePoint::new(thread, log.cloned());
            shuttle::thread::Builder::new()
                .name(format!("Thread-{}", thread + 1))
                .spawn(move || workload.run_thread(&*state, thread, &mut point))
                .expect("shuttle spawns tasks without OS resources")
        })
        .collect();
    workload.threads_started(context.run);
    for handle in handles {
        // A panic in a task fails the whole execution through shuttle itself.
        let _ = handle.join();
    }
    workload.settle(&*state, context)
}

/// Puts a failed shuttle execution in words.
pub fn explain_shuttle_failure(message: String, max_steps: u64) -> String {
    if message.contains("exceeded max_steps") {
        format!(
            "the execution ran past max_steps = {max_steps} steps without finishing: a livelock \
             (a spin loop that never sees its lock released?), or a workload longer than max_steps"
        )
    } else if message.contains("deadlock") {
        format!("deadlock: {message}")
    } else {
        message
    }
}
