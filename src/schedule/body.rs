//! The body of a controlled execution, whatever it runs (a workload of the CLI, a user's check),
//! and running it once under a scheduler that follows a list of choices.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use shuttle::scheduler::Scheduler;

use super::follow::{Follow, Trail};
use super::packed::PackedChoices;
use super::{Choice, Controlled, Divergence, Keep};
use crate::engine::controlled::quiet_config;
use crate::engine::panics::Capture;
use crate::ledger::{EventContext, LedgerError};
use crate::platform::shuttle::StepLog;
#[cfg(feature = "runner")]
use {
    crate::engine::Outcome, crate::engine::shuttle::run_workload_once, crate::workload::Workload,
};

/// How far the scheduler of a controlled execution has got, for a log to note at each access.
#[derive(Debug, Default)]
pub struct Progress {
    /// Preemptions made so far.
    pub preemptions: AtomicU64,
    /// Scheduling decisions made so far.
    pub decisions: AtomicU64,
}

/// The accesses of one controlled execution, written down as they happen.
pub trait ExecutionLog: Clone + Send + Sync + 'static {
    /// One logged access.
    type Entry: Clone + std::fmt::Debug + Send + 'static;
    /// An empty log that notes the scheduler's `progress` at each access.
    fn new(progress: Arc<Progress>) -> Self;
    /// The accesses logged, in order, once the execution is over (a log may hand them over
    /// rather than copy them).
    fn entries(&self) -> Vec<Self::Entry>;
}

impl ExecutionLog for StepLog {
    type Entry = crate::platform::shuttle::LoggedStep;

    fn new(progress: Arc<Progress>) -> Self {
        StepLog::with_progress(progress)
    }

    fn entries(&self) -> Vec<Self::Entry> {
        self.take_steps()
    }
}

/// What a controlled execution runs: one call of [`ControlledBody::execute`] is one execution,
/// inside shuttle. Every scheduler, recorder and search of [`crate::schedule`] works on it.
pub trait ControlledBody: Send + Sync + 'static {
    /// How one execution ended.
    type Outcome: Clone + std::fmt::Debug + Send + 'static;
    /// The log of its accesses, kept when a replay shows the interleaving.
    type Log: ExecutionLog;

    /// Runs one execution (inside shuttle), logging every access to `log` if given.
    fn execute(
        &self,
        log: Option<&Self::Log>,
        context: EventContext<'_>,
    ) -> Result<Self::Outcome, LedgerError>;

    /// The outcome of an execution that shuttle ended early (a panic, a deadlock, a livelock),
    /// from what its panic said and the step bound it ran under.
    fn failed(&self, captured: String, max_steps: u64) -> Self::Outcome;
}

#[cfg(feature = "runner")]
/// A workload of the CLI as a controlled body: its threads as shuttle tasks, settled by its
/// ledger.
#[derive(Debug)]
pub struct WorkloadBody<W>(pub Arc<W>);

#[cfg(feature = "runner")]
impl<W: Workload> ControlledBody for WorkloadBody<W> {
    type Outcome = Outcome;
    type Log = StepLog;

    fn execute(
        &self,
        log: Option<&StepLog>,
        context: EventContext<'_>,
    ) -> Result<Outcome, LedgerError> {
        run_workload_once(&self.0, log, context)
    }

    fn failed(&self, captured: String, max_steps: u64) -> Outcome {
        Outcome::of_shuttle_failure(captured, max_steps)
    }
}

/// Runs `f` with `tracing` events emitted only if `events`; shuttle runs an execution's tasks
/// on the calling thread, so a thread-local default covers them.
fn with_events<T>(events: bool, f: impl FnOnce() -> T) -> T {
    if events {
        f()
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
    }
}

/// What an execution of `B` returned, if it ran to its end.
type Settled<B> = Result<<B as ControlledBody>::Outcome, LedgerError>;

/// Runs `body` under `scheduler` (for as many executions as it asks, keeping the last
/// outcome) with panics captured: a panic, deadlock or livelock is a failed outcome.
pub fn run_under<B: ControlledBody, S: Scheduler + 'static>(
    body: &Arc<B>,
    scheduler: S,
    log: Option<B::Log>,
    max_steps: u64,
    events: bool,
    context: EventContext<'_>,
) -> Result<B::Outcome, LedgerError> {
    let capture = Capture::start();
    let settled: Arc<Mutex<Option<Settled<B>>>> = Arc::default();
    let execution = {
        let body = Arc::clone(body);
        let settled = Arc::clone(&settled);
        let scenario = context.scenario.to_string();
        let run = context.run;
        move || {
            let context = EventContext {
                scenario: &scenario,
                run,
            };
            let result = body.execute(log.as_ref(), context);
            *settled.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        }
    };
    let runner = shuttle::Runner::new(scheduler, quiet_config(max_steps));
    let result = with_events(events, || {
        panic::catch_unwind(AssertUnwindSafe(|| runner.run(execution)))
    });
    super::dpor::access::stop_board();
    let settled = settled.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (result, settled) {
        (Ok(_), Some(settled)) => settled,
        (Ok(_), None) => Ok(body.failed("the execution did not run".to_string(), max_steps)),
        (Err(_), _) => {
            let captured = capture
                .take()
                .unwrap_or_else(|| "the execution failed".to_string());
            Ok(body.failed(captured, max_steps))
        }
    }
}

/// Runs `body` once under shuttle, following `choices` (sorted by step) and handing out
/// `random_values` to the body's controlled randomness.
pub fn run_controlled<B: ControlledBody>(
    body: &Arc<B>,
    choices: &[Choice],
    random_values: &[u64],
    keep: Keep,
    max_steps: u64,
    context: EventContext<'_>,
) -> Result<Controlled<B::Outcome, <B::Log as ExecutionLog>::Entry>, LedgerError> {
    run_controlled_logging(
        body,
        choices,
        random_values,
        keep,
        max_steps,
        context,
        B::Log::new,
    )
}

/// [`run_controlled`] with the log (when `keep` asks for one) made by `new_log` from the
/// scheduler's progress: a caller that keeps a handle on it reads what it kept.
pub fn run_controlled_logging<B: ControlledBody>(
    body: &Arc<B>,
    choices: &[Choice],
    random_values: &[u64],
    keep: Keep,
    max_steps: u64,
    context: EventContext<'_>,
    new_log: impl FnOnce(Arc<Progress>) -> B::Log,
) -> Result<Controlled<B::Outcome, <B::Log as ExecutionLog>::Entry>, LedgerError> {
    let trail = Arc::new(Mutex::new(Trail::default()));
    let progress = Arc::new(Progress::default());
    let log = keep.log.then(|| new_log(Arc::clone(&progress)));
    let scheduler = Follow::new(
        PackedChoices::of(choices),
        random_values.to_vec(),
        keep.decisions,
        Arc::clone(&trail),
        progress,
    );
    let outcome = run_under(
        body,
        scheduler,
        log.clone(),
        max_steps,
        keep.events,
        context,
    );
    let trail = std::mem::take(&mut *trail.lock().unwrap_or_else(|p| p.into_inner()));
    let outcome = outcome?;
    let divergence = choices.get(trail.applied).map(|pending| {
        if pending.step < trail.steps {
            Divergence::NeverRunnable {
                step: pending.step,
                task: pending.task,
                steps: trail.steps,
            }
        } else {
            Divergence::RanOff {
                step: pending.step,
                steps: trail.steps,
            }
        }
    });
    Ok(Controlled {
        outcome,
        decisions: trail.decisions,
        log: log.map(|l| l.entries()).unwrap_or_default(),
        steps: trail.steps,
        preemptions: trail.preemptions,
        divergence,
        deferred: trail.deferred,
        applied: trail.applied,
    })
}
