//! Executions of a body written on the primitive API ([`crate::sync`], [`crate::thread`]): one
//! under shuttle, or one on real threads with jitter. A user's check and a plugin workload of
//! the CLI both run through here.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use super::Outcome;
use super::panics::{Capture, describe_payload};
use super::{Failed, shuttle_failure_kind};
use crate::check::CellOutcome;
use crate::failure::Kind;
use crate::ledger::{LedgerError, Settlement, VariableSettlement};
use crate::sync::context::{self, AccessLog, Backend, Execution};
use crate::thread::said_of;
#[cfg(feature = "runner")]
use {
    super::shuttle::ShuttleEngine,
    super::{EngineError, Flow, RunPlan, derive_seed},
    crate::scenario::EngineSpec,
    crate::tally::Tally,
    crate::workload::plugin::PluginSpec,
};

/// One execution of a workload: a body that creates its shared state with [`crate::sync`]
/// primitives, spawns its threads with [`crate::thread::spawn`] and may assert invariants.
pub type Body = Arc<dyn Fn() + Send + Sync + 'static>;

/// Runs `body` as execution `run` inside shuttle (the caller is inside a shuttle execution),
/// waits for every thread it started and settles its cells. `current` receives the execution
/// first, so that a caller can name the thread that panicked if shuttle ends it.
pub(crate) fn execute_in_shuttle(
    body: &Body,
    name: &Arc<str>,
    run: u64,
    seed: u64,
    log: Option<Arc<AccessLog>>,
    current: impl FnOnce(&Arc<Execution>),
) -> Result<Vec<CellOutcome>, LedgerError> {
    let execution = Execution::new(Backend::Shuttle, Arc::clone(name), run, seed, log);
    current(&execution);
    let _entered = context::enter(Arc::clone(&execution), None);
    body();
    execution.wait_for_threads();
    execution.settle()
}

/// A body on the primitive API run as executions under shuttle: what the controlled bodies of
/// checks and of plugin workloads share. It remembers the execution under way on each worker
/// thread (blocks of executions run side by side), to name the thread that panicked, or the
/// failure the execution stated, when shuttle ends that worker's run.
pub(crate) struct InShuttle {
    body: Body,
    name: Arc<str>,
    seed: u64,
    current: Mutex<HashMap<ThreadId, Arc<Execution>>>,
}

impl InShuttle {
    /// `body` as executions of `name`, whose real-thread jitter would derive from `seed`.
    pub(crate) fn new(body: Body, name: Arc<str>, seed: u64) -> Self {
        InShuttle {
            body,
            name,
            seed,
            current: Mutex::default(),
        }
    }

    /// Runs execution `run` (inside shuttle), logging to `log` if given.
    pub(crate) fn execute(
        &self,
        log: Option<&Arc<AccessLog>>,
        run: u64,
    ) -> Result<Vec<CellOutcome>, LedgerError> {
        execute_in_shuttle(
            &self.body,
            &self.name,
            run,
            self.seed,
            log.cloned(),
            |execution| {
                self.current
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(std::thread::current().id(), Arc::clone(execution));
            },
        )
    }

    /// A failed shuttle execution (the last one this worker thread ran), its kind and what
    /// happened in words. The execution's own
    /// context says first: a broken invariant it recorded, the cycle of its wait-for graph;
    /// shuttle's words only tell a deadlock or a step bound it found itself from a panic. A
    /// panic is said of the thread that panicked (`main` if no spawned thread did).
    pub(crate) fn failure(&self, captured: String, max_steps: u64) -> Failed {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&std::thread::current().id())
            .cloned();
        let failed = Self::failure_of(current.as_deref(), captured, max_steps);
        match current.as_deref() {
            Some(execution) => with_lost_updates(failed, execution),
            None => failed,
        }
    }

    /// The kind of a failed execution and what happened, in words.
    fn failure_of(current: Option<&Execution>, captured: String, max_steps: u64) -> Failed {
        if let Some(stated) = current.and_then(Execution::stated_failure) {
            return Failed::new(stated.kind, stated.in_words());
        }
        match shuttle_failure_kind(&captured) {
            Kind::Deadlock => {
                let blocked = captured
                    .split_once("deadlock! ")
                    .map_or(captured.as_str(), |(_, blocked)| blocked);
                // The execution's wait-for graph names the cycle; shuttle's words are the
                // fallback.
                match current.map(Execution::describe_deadlock) {
                    Some(deadlock) if !deadlock.waiting.is_empty() => Failed {
                        cycle: deadlock.cycle.clone(),
                        ..Failed::new(Kind::Deadlock, format!("deadlock: {deadlock}"))
                    },
                    _ => Failed::new(Kind::Deadlock, format!("deadlock: {blocked}")),
                }
            }
            Kind::Livelock => Failed::of_shuttle_failure(captured, max_steps),
            _ => {
                let thread = current
                    .and_then(Execution::first_thread_panic)
                    .map_or_else(|| "main".to_string(), |panic| panic.thread);
                Failed::new(Kind::Panic, said_of(&thread, &captured))
            }
        }
    }
}

/// `failed` with the updates its execution had lost by the time it failed (none if its cells
/// cannot be accounted for).
fn with_lost_updates(failed: Failed, execution: &Execution) -> Failed {
    let Ok(cells) = execution.settle_after_failure() else {
        return failed;
    };
    Failed {
        lost_updates: cells.iter().map(|cell| cell.lost_updates).sum(),
        overwrites: cells.iter().map(|cell| cell.overwrites).sum(),
        variables: variables_of(&cells),
        ..failed
    }
}

/// Each cell's accounting, by name, for the reports' per-variable counts.
fn variables_of(cells: &[CellOutcome]) -> Vec<VariableSettlement> {
    cells
        .iter()
        .map(|cell| VariableSettlement {
            name: cell.name.clone(),
            expected_final: cell.expected_final,
            lost_updates: cell.lost_updates,
            overwrites: cell.overwrites,
        })
        .collect()
}

/// How an execution on real threads ended.
#[derive(Debug)]
pub enum OnThreads {
    /// Every thread finished: the accounting of each cell.
    Settled(Vec<CellOutcome>),
    /// The execution failed: a broken invariant, a panic, or a deadlock (its stuck threads
    /// were unwound).
    Failed(Failed),
}

/// Runs `body` as execution `run` on real threads, with jitter before every access drawn from
/// `seed`; panics are captured into the outcome (a `capture` must be alive on this thread).
pub fn execute_on_threads(
    body: &Body,
    name: &Arc<str>,
    run: u64,
    seed: u64,
    deadlock_timeout: Duration,
    capture: &Capture,
) -> Result<OnThreads, LedgerError> {
    let execution = Execution::new(Backend::Threads, Arc::clone(name), run, seed, None);
    execution.waits.set_timeout(deadlock_timeout);
    let entered = context::enter(Arc::clone(&execution), Some(execution.os_thread(0)));
    let result = panic::catch_unwind(AssertUnwindSafe(|| body()));
    // Leaving opens the start gate of threads the body spawned and never waited for.
    drop(entered);
    execution.wait_for_threads();
    let body_panic = result.err().map(|payload| match capture.take() {
        Some(captured) => said_of("main", &captured),
        None => format!("main panicked: {}", describe_payload(payload.as_ref())),
    });
    // A spawned thread's panic comes first: the body's is often its `join().unwrap()`.
    let thread_panic = execution
        .first_thread_panic()
        .and_then(|panic| panic.message);
    // A deadlock unwound the stuck threads: it is the failure, not their unwinding.
    if let Some(deadlock) = execution.declared_deadlock() {
        let failed = Failed {
            cycle: deadlock.cycle.clone(),
            ..Failed::new(Kind::Deadlock, format!("deadlock: {deadlock}"))
        };
        return Ok(OnThreads::Failed(with_lost_updates(failed, &execution)));
    }
    if let Some(stated) = execution.stated_failure() {
        let failed = Failed::new(stated.kind, stated.in_words());
        return Ok(OnThreads::Failed(with_lost_updates(failed, &execution)));
    }
    match thread_panic.or(body_panic) {
        Some(message) => Ok(OnThreads::Failed(with_lost_updates(
            Failed::new(Kind::Panic, message),
            &execution,
        ))),
        None => execution.settle().map(OnThreads::Settled),
    }
}

/// The cells of an execution as one outcome of the CLI: their values, lost updates and
/// overwrites summed (a workload with one cell is that cell). A sum past 64 bits fails the
/// execution, in words, rather than print a wrong number.
pub fn settle_cells(cells: &[CellOutcome]) -> Outcome {
    let sum = |value: fn(&CellOutcome) -> i64| {
        cells
            .iter()
            .try_fold(0i64, |total, cell| total.checked_add(value(cell)))
    };
    match (
        sum(|c| c.final_value),
        sum(|c| c.expected_final),
        sum(|c| c.lost_delta),
    ) {
        (Some(observed_final), Some(expected_final), Some(lost_delta)) => {
            Outcome::Settled(Settlement {
                observed_final,
                expected_final,
                overwrites: cells.iter().map(|c| c.overwrites).sum(),
                lost_updates: cells.iter().map(|c| c.lost_updates).sum(),
                lost_delta,
                variables: variables_of(cells),
            })
        }
        _ => Outcome::failed(
            Kind::Panic,
            format!(
                "the values of the execution's {} cells sum past 64 bits: contend reports a \
                 workload's cells by their sum",
                cells.len()
            ),
        ),
    }
}

#[cfg(feature = "runner")]
/// Runs the executions of a plugin workload's scenario as `plan` says, on `engine` (shuttle
/// or threads), recording each in `tally`.
pub fn execute_plugin(
    spec: &PluginSpec,
    engine: &EngineSpec,
    plan: &RunPlan,
    tally: &mut Tally,
) -> Result<(), EngineError> {
    let body = spec.body();
    let name: Arc<str> = Arc::from(plan.scenario.as_str());
    match engine {
        EngineSpec::Shuttle(settings) => {
            let in_shuttle = Arc::new(InShuttle::new(body, name, plan.seed));
            let failing = Arc::clone(&in_shuttle);
            ShuttleEngine::new(settings.clone()).execute_body_classified(
                plan,
                tally,
                move |context| Ok(settle_cells(&in_shuttle.execute(None, context.run)?)),
                move |captured, max_steps| failing.failure(captured, max_steps).into(),
            )
        }
        EngineSpec::Threads(settings) => {
            let capture = Capture::start();
            for run in plan.executions() {
                if plan.out_of_time() {
                    tally.stop_for_time();
                    break;
                }
                let seed = derive_seed(plan.seed, run);
                let outcome = match execute_on_threads(
                    &body,
                    &name,
                    run,
                    seed,
                    settings.deadlock_timeout,
                    &capture,
                ) {
                    Ok(OnThreads::Settled(cells)) => settle_cells(&cells),
                    Ok(OnThreads::Failed(failed)) => failed.into(),
                    Err(source) => {
                        return Err(EngineError::Ledger {
                            scenario: plan.scenario.clone(),
                            run,
                            source,
                        });
                    }
                };
                if tally.record(run, outcome) == Flow::Stop {
                    break;
                }
            }
            Ok(())
        }
        other => Err(EngineError::Environment(format!(
            "workload `{}` runs on the {} engines, not {}",
            spec.name(),
            spec.engines()
                .iter()
                .map(|engine| engine.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            other.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Runs execution `run` of `in_shuttle` as one shuttle execution; true if it failed.
    fn run_once(in_shuttle: &Arc<InShuttle>, run: u64) -> bool {
        let in_shuttle = Arc::clone(in_shuttle);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            shuttle::check_random(move || drop(in_shuttle.execute(None, run)), 1)
        }));
        result.is_err()
    }

    /// Blocks of executions run side by side on worker threads: a worker that asks how its own
    /// execution failed is told that execution's broken invariant, even when another worker
    /// started a passing execution since.
    #[test]
    fn a_worker_is_told_the_failure_of_its_own_execution() {
        let fail_next = Arc::new(AtomicBool::new(true));
        let body: Body = {
            let fail_next = Arc::clone(&fail_next);
            Arc::new(move || {
                if fail_next.swap(false, Ordering::SeqCst) {
                    crate::sync::invariant_failed("balance >= 0 is false");
                }
            })
        };
        let in_shuttle = Arc::new(InShuttle::new(body, Arc::from("overdraft"), 1));
        let (failed_tx, failed_rx) = std::sync::mpsc::channel();
        let (passed_tx, passed_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let in_shuttle = &in_shuttle;
            let failing = scope.spawn(move || {
                assert!(run_once(in_shuttle, 0), "the first execution fails");
                failed_tx.send(()).unwrap();
                passed_rx.recv().unwrap();
                in_shuttle.failure("the execution failed".to_string(), 1_000)
            });
            scope.spawn(move || {
                failed_rx.recv().unwrap();
                assert!(!run_once(in_shuttle, 1), "the second execution passes");
                passed_tx.send(()).unwrap();
            });
            let failed = failing.join().unwrap();
            assert_eq!(failed.kind, Kind::Invariant, "{}", failed.message);
            assert!(
                failed.message.contains("balance >= 0 is false"),
                "{}",
                failed.message
            );
        });
    }
}
