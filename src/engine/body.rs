//! Executions of a body written on the primitive API ([`crate::sync`], [`crate::thread`]): one
//! under shuttle, or one on real threads with jitter. A user's check and a plugin workload of
//! the CLI both run through here.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use super::Outcome;
use super::panics::{self, Capture, describe_payload};
use super::{Failed, shuttle_failure_kind};
use crate::check::CellOutcome;
use crate::failure::Kind;
use crate::ledger::{EventContext, LedgerError, Settlement, VariableSettlement};
use crate::platform::os::Jitter;
use crate::schedule::ControlledBody;
use crate::sync::context::{self, AccessLog, Backend, Execution};
use crate::thread::{ends_the_execution, said_of};
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

thread_local! {
    /// The execution under way on this thread, kept until it ends: when shuttle ends it
    /// instead (and with it the run), [`InShuttle::failure`] asks it how it failed. Blocks of
    /// executions run side by side each on a worker thread of its own, and shuttle runs an
    /// execution on the thread that started its run.
    static UNDER_WAY: RefCell<Option<Arc<Execution>>> = const { RefCell::new(None) };
}

/// Runs `body` as execution `run` inside shuttle (the caller is inside a shuttle execution),
/// waits for every thread it started and says how it ended. The execution is the one this
/// thread ran last, reused ([`Execution::under_shuttle`]); until it ends it is the one under
/// way on this thread, so that [`InShuttle::failure`] can name the thread that panicked if
/// shuttle ends it.
///
/// The body's panic is caught here and a spawned thread's in the thread, each recorded in the
/// execution; a deadlock of contend's locks and joins is declared by the wait that closes its
/// cycle, and the threads on it unwind. Such an execution ends as [`Ended::Failed`] and the
/// run goes on; so does a wait, or a thread's end, that leaves every thread stuck with no
/// cycle (a condition variable nobody will notify). Only what shuttle finds itself (threads
/// stuck where contend cannot tell, at a barrier or on a channel, and the step bound) still
/// ends the run.
pub(crate) fn execute_in_shuttle(
    body: &Body,
    name: &Arc<str>,
    run: u64,
    seed: u64,
    log: Option<Arc<AccessLog>>,
) -> Result<Ended, LedgerError> {
    let execution = Execution::under_shuttle(name, run, seed, log);
    UNDER_WAY.set(Some(Arc::clone(&execution)));
    let entered = context::enter(Arc::clone(&execution), None);
    // A panic an earlier execution's body caught itself left its message behind.
    drop(panics::take_captured());
    let body_panic = match panic::catch_unwind(AssertUnwindSafe(|| body())) {
        Ok(()) => None,
        Err(payload) if ends_the_execution(payload.as_ref()) => Some(payload),
        Err(payload) => panic::resume_unwind(payload),
    };
    let body_panic = body_panic.map(|payload| match panics::take_captured() {
        Some(captured) => said_of("main", &captured),
        None => format!("main panicked: {}", describe_payload(payload.as_ref())),
    });
    execution.wait_for_threads();
    let ended = ended(&execution, body_panic);
    UNDER_WAY.set(None);
    drop(entered);
    Execution::recycle(execution);
    ended
}

/// How `execution`, whose threads have all ended, ended: the first failure it shows (a declared
/// deadlock, a failure a thread stated, a spawned thread's panic, then the body's own
/// `body_panic`), else the accounting of its cells.
fn ended(execution: &Execution, body_panic: Option<String>) -> Result<Ended, LedgerError> {
    match failure(execution, body_panic) {
        Some(failed) => Ok(Ended::Failed(with_lost_updates(failed, execution))),
        None => execution.settle().map(Ended::Settled),
    }
}

/// The first failure `execution`, whose threads have all ended, shows, as [`ended`] tells it,
/// before its lost updates are counted.
fn failure(execution: &Execution, body_panic: Option<String>) -> Option<Failed> {
    // A deadlock unwound the stuck threads: it is the failure, not their unwinding.
    if let Some(deadlock) = execution.declared_deadlock() {
        return Some(Failed {
            cycle: deadlock.cycle.clone(),
            ..Failed::new(Kind::Deadlock, format!("deadlock: {deadlock}"))
        });
    }
    // The common execution: no thread panicked or stated a failure.
    if !execution.failure_recorded() {
        return body_panic.map(|message| Failed::new(Kind::Panic, message));
    }
    if let Some(stated) = execution.stated_failure() {
        return Some(Failed::new(stated.kind, stated.in_words()));
    }
    // A spawned thread's panic comes first: the body's is often its `join().unwrap()`.
    execution
        .first_thread_panic()
        .and_then(|panic| panic.message)
        .or(body_panic)
        .map(|message| Failed::new(Kind::Panic, message))
}

/// The failure of `execution`, whose threads have all ended, if it failed: for the CLI's
/// built-in workloads, whose threads are spawned with [`crate::thread::spawn`] and whose
/// ledger is their own.
#[cfg(feature = "runner")]
pub(crate) fn failure_of(execution: &Execution) -> Option<Failed> {
    failure(execution, None).map(|failed| with_lost_updates(failed, execution))
}

/// A body on the primitive API run as executions under shuttle: what the controlled bodies of
/// checks and of plugin workloads share. The execution under way on each worker thread (blocks
/// of executions run side by side) names the thread that panicked, or the failure the
/// execution stated, when shuttle ends that worker's run.
pub(crate) struct InShuttle {
    body: Body,
    name: Arc<str>,
    seed: u64,
}

impl InShuttle {
    /// `body` as executions of `name`, whose real-thread jitter would derive from `seed`.
    pub(crate) fn new(body: Body, name: Arc<str>, seed: u64) -> Self {
        InShuttle { body, name, seed }
    }

    /// Runs execution `run` (inside shuttle), logging to `log` if given.
    pub(crate) fn execute(
        &self,
        log: Option<&Arc<AccessLog>>,
        run: u64,
    ) -> Result<Ended, LedgerError> {
        execute_in_shuttle(&self.body, &self.name, run, self.seed, log.cloned())
    }

    /// An execution shuttle ended itself (the last one this worker thread ran), its kind and what
    /// happened in words: a deadlock with no cycle, the step bound, a panic with a payload that
    /// is no message. The execution's own context says first: a broken invariant it recorded,
    /// the cycle of its wait-for graph; shuttle's words only tell a deadlock or a step bound it
    /// found itself from a panic. A panic is said of the thread that panicked (`main` if no
    /// spawned thread did).
    pub(crate) fn failure(&self, captured: String, max_steps: u64) -> Failed {
        let current = UNDER_WAY.with_borrow(Option::clone);
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

/// How an execution ended, under shuttle or on real threads.
#[derive(Debug)]
pub enum Ended {
    /// Every thread finished: the accounting of each cell.
    Settled(Vec<CellOutcome>),
    /// The execution failed: a broken invariant, a panic, or a deadlock (its stuck threads
    /// were unwound).
    Failed(Failed),
}

/// A body on the primitive API as a controlled body: the one that checks and plugin workloads
/// share, each execution's end told as their own outcome `O`. A watcher, where given, sees each
/// execution's outcome as it ends (a check counts them while a search explores).
pub(crate) struct PrimitiveBody<O> {
    body: InShuttle,
    watcher: Option<Watcher<O>>,
}

/// What sees each execution of a [`PrimitiveBody`] end: its index and its outcome.
pub(crate) type Watcher<O> = Box<dyn Fn(u64, &O) + Send + Sync>;

impl<O> PrimitiveBody<O> {
    /// `body` as executions of `name`, whose real-thread jitter would derive from `seed`.
    pub(crate) fn new(body: Body, name: Arc<str>, seed: u64) -> Self {
        PrimitiveBody {
            body: InShuttle::new(body, name, seed),
            watcher: None,
        }
    }

    /// The same body, with `watcher` seeing each execution end.
    pub(crate) fn watched(self, watcher: Watcher<O>) -> Self {
        PrimitiveBody {
            watcher: Some(watcher),
            ..self
        }
    }
}

impl<O> ControlledBody for PrimitiveBody<O>
where
    O: From<Ended> + Clone + std::fmt::Debug + Send + 'static,
{
    type Outcome = O;
    type Log = Arc<AccessLog>;

    fn execute(
        &self,
        log: Option<&Arc<AccessLog>>,
        context: EventContext<'_>,
    ) -> Result<O, LedgerError> {
        let outcome = O::from(self.body.execute(log, context.run)?);
        if let Some(watcher) = &self.watcher {
            watcher(context.run, &outcome);
        }
        Ok(outcome)
    }

    fn failed(&self, captured: String, max_steps: u64) -> O {
        O::from(Ended::Failed(self.body.failure(captured, max_steps)))
    }
}

/// An execution of the CLI's plugin workloads: its failure, or its cells settled together
/// ([`settle_cells`]).
#[cfg(feature = "runner")]
impl From<Ended> for Outcome {
    fn from(ended: Ended) -> Outcome {
        match ended {
            Ended::Settled(cells) => settle_cells(&cells),
            Ended::Failed(failed) => failed.into(),
        }
    }
}

/// Runs `body` as execution `run` on real threads, with `jitter` (none if `None`) before every
/// access, drawn from `seed`; panics are captured into the outcome (a `capture` must be alive on
/// this thread).
pub fn execute_on_threads(
    body: &Body,
    name: &Arc<str>,
    run: u64,
    seed: u64,
    jitter: Option<&Jitter>,
    deadlock_timeout: Duration,
    capture: &Capture,
) -> Result<Ended, LedgerError> {
    let execution = Execution::new(
        Backend::Threads,
        Arc::clone(name),
        run,
        seed,
        jitter.cloned(),
        None,
    );
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
    ended(&execution, body_panic)
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
            let controlled = Arc::new(PrimitiveBody::<Outcome>::new(body, name, plan.seed));
            let failing = Arc::clone(&controlled);
            ShuttleEngine::new(settings.clone()).execute_body_classified(
                plan,
                tally,
                move |context| controlled.execute(None, context),
                move |captured, max_steps| failing.failed(captured, max_steps),
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
                    settings.jitter.as_ref(),
                    settings.deadlock_timeout,
                    &capture,
                ) {
                    Ok(Ended::Settled(cells)) => settle_cells(&cells),
                    Ok(Ended::Failed(failed)) => failed.into(),
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
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Runs execution `run` of `in_shuttle` as one shuttle execution; true if shuttle ended it.
    fn run_once(in_shuttle: &Arc<InShuttle>, run: u64) -> bool {
        let in_shuttle = Arc::clone(in_shuttle);
        let _capture = Capture::start();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            shuttle::check_random(move || drop(in_shuttle.execute(None, run)), 1)
        }));
        result.is_err()
    }

    /// Blocks of executions run side by side on worker threads: a worker that asks how its own
    /// execution failed, when shuttle ended it (every thread blocked, no cycle of waits), is
    /// told that execution's waits, even when another worker started a passing execution
    /// since.
    #[test]
    fn a_worker_is_told_the_failure_of_its_own_execution() {
        let fail_next = Arc::new(AtomicBool::new(true));
        let body: Body = {
            let fail_next = Arc::clone(&fail_next);
            Arc::new(move || {
                if fail_next.swap(false, Ordering::SeqCst) {
                    // Each thread waits for the other's message: contend cannot wake a thread
                    // blocked in a channel's receive, so it leaves this deadlock to shuttle,
                    // which finds every thread blocked.
                    let (to_main, from_thread) = crate::sync::mpsc::channel::<()>();
                    let (to_thread, from_main) = crate::sync::mpsc::channel::<()>();
                    let other = crate::thread::spawn(move || {
                        let _ = from_main.recv();
                        drop(to_main);
                    });
                    let _ = from_thread.recv();
                    drop(to_thread);
                    let _ = other.join();
                }
            })
        };
        let in_shuttle = Arc::new(InShuttle::new(body, Arc::from("lost-wakeup"), 1));
        let (failed_tx, failed_rx) = std::sync::mpsc::channel();
        let (passed_tx, passed_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let in_shuttle = &in_shuttle;
            let failing = scope.spawn(move || {
                assert!(run_once(in_shuttle, 0), "shuttle ends the first execution");
                failed_tx.send(()).unwrap();
                passed_rx.recv().unwrap();
                in_shuttle.failure("deadlock! blocked tasks: [main-thread]".to_string(), 1_000)
            });
            scope.spawn(move || {
                failed_rx.recv().unwrap();
                assert!(!run_once(in_shuttle, 1), "the second execution passes");
                passed_tx.send(()).unwrap();
            });
            let failed = failing.join().unwrap();
            assert_eq!(failed.kind, Kind::Deadlock, "{}", failed.message);
            assert!(
                failed.message.contains("main waits for channel#1"),
                "{}",
                failed.message
            );
        });
    }

    /// Runs execution `run` of `body` under shuttle and says how it ended; shuttle must not end
    /// it itself.
    fn ended_in_shuttle(body: Body) -> Ended {
        let in_shuttle = Arc::new(InShuttle::new(body, Arc::from("ends"), 1));
        let ended = Arc::new(Mutex::new(None));
        let _capture = Capture::start();
        {
            let ended = Arc::clone(&ended);
            shuttle::check_random(
                move || {
                    let outcome = in_shuttle.execute(None, 0).unwrap();
                    *ended.lock().unwrap() = Some(outcome);
                },
                1,
            );
        }
        let ended = ended.lock().unwrap().take();
        ended.expect("the execution ran")
    }

    /// A spawned thread's panic under shuttle is the execution's failure, said of that thread
    /// with its message, and its `join` returns it, as std's does.
    #[test]
    fn a_thread_panic_under_shuttle_ends_the_execution_not_the_run() {
        let joined_err = Arc::new(AtomicBool::new(false));
        let body: Body = {
            let joined_err = Arc::clone(&joined_err);
            Arc::new(move || {
                let handle = crate::thread::spawn(|| panic!("the worker gave up"));
                joined_err.store(handle.join().is_err(), Ordering::SeqCst);
            })
        };
        match ended_in_shuttle(body) {
            Ended::Failed(failed) => {
                assert_eq!(failed.kind, Kind::Panic, "{}", failed.message);
                assert!(
                    failed.message.starts_with("Thread-1 panicked")
                        && failed.message.contains("the worker gave up"),
                    "{}",
                    failed.message
                );
            }
            Ended::Settled(_) => panic!("the execution passed"),
        }
        assert!(joined_err.load(Ordering::SeqCst), "join returns the panic");
    }

    /// A lock-order deadlock under shuttle is declared by the wait that closes its cycle; the
    /// threads unwind and the execution ends as a deadlock with its cycle.
    #[test]
    fn a_deadlock_under_shuttle_is_declared_with_its_cycle() {
        let body: Body = Arc::new(|| {
            let a = Arc::new(crate::sync::Mutex::named("a", ()));
            let b = Arc::new(crate::sync::Mutex::named("b", ()));
            let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
            let first = a.lock().unwrap();
            let other = crate::thread::spawn(move || {
                let _b = b2.lock().unwrap();
                let _a = a2.lock().unwrap();
            });
            // Thread-1 holds b (or will): main waits for it, and it waits for a.
            while b.try_lock().is_ok() {
                crate::thread::yield_now();
            }
            let _b = b.lock().unwrap();
            drop(first);
            drop(other.join());
        });
        match ended_in_shuttle(body) {
            Ended::Failed(failed) => {
                assert_eq!(failed.kind, Kind::Deadlock, "{}", failed.message);
                let cycle = failed.cycle.expect("a cycle of waits").to_string();
                assert!(
                    cycle.contains("waits for b held by Thread-1")
                        && cycle.contains("waits for a held by main"),
                    "{cycle}"
                );
            }
            Ended::Settled(_) => panic!("the execution passed"),
        }
    }

    /// A check's executions under shuttle reuse one execution context, as the built-in
    /// workloads' do: each starts as a new one would, so that a thread's panic in one fails
    /// that execution alone, and the next (on the same context) passes with its threads
    /// numbered from 1 again.
    #[test]
    fn a_checks_executions_reuse_one_context_and_each_starts_afresh() {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let in_shuttle = {
            let runs = Arc::clone(&runs);
            let first = Arc::new(AtomicBool::new(true));
            let body: Body = Arc::new(move || {
                let address = Arc::as_ptr(&context::execution()) as usize;
                let fail = first.swap(false, Ordering::SeqCst);
                let handle = crate::thread::spawn(move || {
                    if fail {
                        panic!("the first execution fails");
                    }
                });
                drop(handle.join());
                let name = context::thread_name(1);
                runs.lock().unwrap().push((address, name));
            });
            Arc::new(InShuttle::new(body, Arc::from("reused"), 1))
        };
        let ended = Arc::new(Mutex::new(Vec::new()));
        let _capture = Capture::start();
        {
            let ended = Arc::clone(&ended);
            shuttle::check_random(
                move || {
                    let run = ended.lock().unwrap().len() as u64;
                    let outcome = in_shuttle.execute(None, run).unwrap();
                    ended.lock().unwrap().push(outcome);
                },
                3,
            );
        }
        let ended = ended.lock().unwrap();
        assert!(matches!(ended[0], Ended::Failed(_)), "{:?}", ended[0]);
        assert!(
            ended[1..].iter().all(|e| matches!(e, Ended::Settled(_))),
            "a failure does not carry over: {ended:?}"
        );
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 3);
        assert!(
            runs.iter().all(|(address, _)| *address == runs[0].0),
            "one execution context for all: {runs:?}"
        );
        assert!(runs.iter().all(|(_, name)| name == "Thread-1"), "{runs:?}");
    }
}
