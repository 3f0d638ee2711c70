//! Real OS threads, started together behind a barrier, with jitter at every shared access.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use super::panics::Capture;
use super::{Engine, EngineError, Flow, Outcome, RunPlan, derive_seed};
use crate::ledger::EventContext;
use crate::platform::os::{JitterPoint, OsPlatform};
use crate::scenario::ThreadsSettings;
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
        let capture = Capture::start();
        let threads = workload.thread_count();
        for run in 0..plan.runs {
            let state = workload.new_state::<OsPlatform>();
            let barrier = self.settings.barrier.then(|| StartLine::new(threads));
            let run_seed = derive_seed(plan.seed, run);
            let panicked = std::thread::scope(|scope| -> Result<bool, EngineError> {
                let mut handles = Vec::with_capacity(threads);
                for thread in 0..threads {
                    let mut point = JitterPoint::new(
                        self.settings.jitter.as_ref(),
                        derive_seed(run_seed, thread as u64),
                    );
                    let (state, barrier, workload) = (&state, barrier.as_ref(), &workload);
                    let handle = std::thread::Builder::new()
                        .name(format!("Thread-{}", thread + 1))
                        .spawn_scoped(scope, move || {
                            if let Some(barrier) = barrier {
                                barrier.wait();
                            }
                            workload.run_thread(state, thread, &mut point);
                        })?;
                    handles.push(handle);
                }
                Ok(handles.into_iter().map(|h| h.join()).any(|r| r.is_err()))
            })?;
            let outcome = if panicked {
                Outcome::Failed {
                    message: capture
                        .take()
                        .unwrap_or_else(|| "a workload thread panicked".to_string()),
                }
            } else {
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
                Outcome::Settled(settlement)
            };
            if tally.record(outcome) == Flow::Stop {
                break;
            }
        }
        Ok(())
    }
}

/// Starts threads together: a blocking barrier until every thread exists, then a spinning
/// rendezvous, so that they leave within nanoseconds of each other rather than the tens of
/// microseconds a futex wake-up takes (long enough for a short workload to finish alone).
#[derive(Debug)]
struct StartLine {
    spawned: Barrier,
    arrived: AtomicUsize,
    threads: usize,
}

impl StartLine {
    fn new(threads: usize) -> Self {
        StartLine {
            spawned: Barrier::new(threads),
            arrived: AtomicUsize::new(0),
            threads,
        }
    }

    fn wait(&self) {
        self.spawned.wait();
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let mut turns = 0u32;
        while self.arrived.load(Ordering::Acquire) < self.threads {
            turns = turns.wrapping_add(1);
            if turns.is_multiple_of(64) {
                // More threads than cores: let the others reach the line.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
