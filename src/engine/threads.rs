//! Real OS threads, started together behind a barrier, with jitter at every shared access: a
//! workload runs on contend's own primitives ([`crate::sync`]) on their real-thread backend, as
//! checks and plugin workloads do, so that its locks keep the execution's wait-for graph.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::body::failure_of;
use super::panics::{describe_payload, mark_workload_thread};
use super::{Engine, EngineError, Flow, Outcome, RunPlan, derive_seed};
use crate::failure::Kind;
use crate::ledger::EventContext;
use crate::platform::os::{JitterPoint, OsPlatform};
use crate::scenario::ThreadsSettings;
use crate::sync::context::{self, Backend, Execution};
use crate::tally::Tally;
use crate::workload::Workload;

/// The real-threads engine.
#[derive(Clone, Debug)]
pub struct ThreadsEngine {
    settings: ThreadsSettings,
}

impl ThreadsEngine {
    /// An engine with the given jitter and barrier settings.
    pub fn new(settings: ThreadsSettings) -> Self {
        ThreadsEngine { settings }
    }
}

impl Engine for ThreadsEngine {
    fn execute<W: Workload>(
        &self,
        workload: Arc<W>,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        if !(self.settings.parallel && plan.jobs > 1) {
            return self.execute_runs(&workload, plan, plan.executions(), tally);
        }
        // `parallel = true`: executions side by side, each worker with its own state.
        let runs = std::sync::Mutex::new(plan.executions());
        let stop = AtomicBool::new(false);
        let template = tally.fresh();
        let results: Vec<Result<Tally, EngineError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..plan.jobs)
                .map(|_| {
                    let (runs, stop, workload) = (&runs, &stop, &workload);
                    let mut worker_tally = template.fresh();
                    scope.spawn(move || {
                        let next = std::iter::from_fn(|| {
                            if stop.load(Ordering::SeqCst) {
                                return None;
                            }
                            runs.lock().unwrap_or_else(|p| p.into_inner()).next()
                        });
                        let result = self.execute_runs(workload, plan, next, &mut worker_tally);
                        // A stop (--fail-fast), the time budget or a signal ends every worker.
                        if result.is_err()
                            || worker_tally.ended_early()
                            || worker_tally.runs > 0 && worker_tally.stopped()
                        {
                            stop.store(true, Ordering::SeqCst);
                        }
                        result.map(|()| worker_tally)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap_or_else(|_| Ok(Tally::default())))
                .collect()
        });
        for result in results {
            tally.absorb(result?);
        }
        Ok(())
    }
}

impl ThreadsEngine {
    /// Runs executions `runs` of `workload` one after the other, recording each in `tally`.
    fn execute_runs<W: Workload>(
        &self,
        workload: &Arc<W>,
        plan: &RunPlan,
        runs: impl Iterator<Item = u64>,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let scenario: Arc<str> = Arc::from(plan.scenario.as_str());
        for run in runs {
            if plan.out_of_time() {
                tally.stop_for_time();
                break;
            }
            let _label = crate::trace::label_execution(&scenario, run);
            let outcome = self.execute_once(workload.as_ref(), plan, &scenario, run)?;
            if tally.record(run, outcome) == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    /// Runs execution `run` of `workload` as an execution of [`crate::sync`] on real threads:
    /// its state is made of contend's primitives inside the execution, so that its locks name
    /// their holders and a long wait for one joins the execution's wait-for graph; a deadlock
    /// fails the execution with its cycle, as in a check. Each thread injects the scenario's
    /// jitter, seeded from the run and the thread, before every access.
    fn execute_once<W: Workload>(
        &self,
        workload: &W,
        plan: &RunPlan,
        scenario: &Arc<str>,
        run: u64,
    ) -> Result<Outcome, EngineError> {
        let run_seed = derive_seed(plan.seed, run);
        // The execution injects no noise of its own: the engine's threads do.
        let execution = Execution::new(
            Backend::Threads,
            Arc::clone(scenario),
            run,
            run_seed,
            None,
            None,
        );
        execution.waits.set_timeout(self.settings.deadlock_timeout);
        // This thread makes the state and settles it, while none of the workload's runs.
        let _entered = context::enter(Arc::clone(&execution), Some(execution.os_thread(0)));
        let Ok(state) = workload.new_state(&OsPlatform);
        let panicked = self.run_threads(workload, &state, scenario, run, run_seed)?;
        if let Some(failed) = failure_of(&execution) {
            return Ok(failed.into());
        }
        if let Some(message) = panicked {
            return Ok(Outcome::failed(Kind::Panic, message));
        }
        let context = EventContext {
            scenario: &plan.scenario,
            run,
        };
        let settlement =
            workload
                .settle(&state, context)
                .map_err(|source| EngineError::Ledger {
                    scenario: plan.scenario.clone(),
                    run,
                    source,
                })?;
        Ok(Outcome::Settled(settlement))
    }

    /// Starts the workload's threads (behind the start line if asked), each with its seeded
    /// jitter, and joins them: the first panic, in words.
    fn run_threads<W: Workload>(
        &self,
        workload: &W,
        state: &W::State<OsPlatform>,
        scenario: &Arc<str>,
        run: u64,
        run_seed: u64,
    ) -> Result<Option<String>, EngineError> {
        let threads = workload.thread_count();
        let start_line = self.settings.barrier.then(|| StartLine::new(threads));
        std::thread::scope(|scope| -> Result<Option<String>, EngineError> {
            let mut handles = Vec::with_capacity(threads);
            for thread in 0..threads {
                let mut point = JitterPoint::new(
                    self.settings.jitter.as_ref(),
                    derive_seed(run_seed, thread as u64),
                );
                let start_line = start_line.as_ref();
                let spawned = std::thread::Builder::new()
                    .name(format!("Thread-{}", thread + 1))
                    .spawn_scoped(scope, move || {
                        mark_workload_thread();
                        let _label = crate::trace::label_execution(scenario, run);
                        if start_line.is_none_or(StartLine::wait) {
                            workload.run_thread(state, thread, &mut point);
                        }
                    });
                match spawned {
                    Ok(handle) => handles.push(handle),
                    Err(error) => {
                        if let Some(start_line) = start_line {
                            start_line.cancel();
                        }
                        return Err(EngineError::Spawn(error));
                    }
                }
            }
            workload.threads_started(run);
            let mut panicked = None;
            for (thread, handle) in handles.into_iter().enumerate() {
                if let Err(payload) = handle.join() {
                    panicked.get_or_insert(format!(
                        "Thread-{} panicked: {}",
                        thread + 1,
                        describe_payload(payload.as_ref())
                    ));
                }
            }
            Ok(panicked)
        })
    }
}

/// Starts threads together: each spins at the line until every thread has arrived, so that
/// they leave within nanoseconds of each other rather than the tens of microseconds a blocking
/// barrier's wake-up takes (long enough for a short workload to finish alone). If a thread
/// cannot be started, the line is cancelled and the waiting threads leave without running.
#[derive(Debug)]
struct StartLine {
    arrived: AtomicUsize,
    cancelled: AtomicBool,
    threads: usize,
}

impl StartLine {
    fn new(threads: usize) -> Self {
        StartLine {
            arrived: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
            threads,
        }
    }

    /// Waits for every thread; false if the start was cancelled.
    fn wait(&self) -> bool {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let mut turns = 0u32;
        while self.arrived.load(Ordering::Acquire) < self.threads {
            if self.cancelled.load(Ordering::Acquire) {
                return false;
            }
            turns = turns.wrapping_add(1);
            if turns.is_multiple_of(64) {
                // More threads than cores, or threads still being spawned: let them run.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        true
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }
}
