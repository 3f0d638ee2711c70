//! Workloads: critical sections written once against [`crate::platform`], run by every engine.

pub mod counter;
pub mod plugin;
pub mod program;
pub mod registry;

use crate::ledger::{EventContext, LedgerError, Settlement};
use crate::platform::Platform;

/// A concurrent workload: shared state, one body per thread, and the accounting at the end.
pub trait Workload: Send + Sync + 'static {
    /// The shared state of one execution on platform `P`.
    type State<P: Platform>: Send + Sync;

    /// How many threads an execution runs.
    fn thread_count(&self) -> usize;

    /// Fresh shared state for one execution, made by `platform`. Every process of an execution
    /// on the processes platform calls this in the same order and so finds the same state.
    fn new_state<P: Platform>(&self, platform: &P) -> Result<Self::State<P>, P::Error>;

    /// Makes `state` ready for another execution, as if new (reusing its memory).
    fn reset<P: Platform>(&self, state: &Self::State<P>);

    /// The body of thread `thread`; `point` is called before every shared access.
    fn run_thread<P: Platform>(&self, state: &Self::State<P>, thread: usize, point: &mut P::Point);

    /// Called on the thread that started the execution's threads, once all are started and
    /// before it waits for them (the lesson's `Counter` class logs here).
    fn threads_started(&self, _run: u64) {}

    /// Accounts for the execution once every thread has finished.
    fn settle<P: Platform>(
        &self,
        state: &Self::State<P>,
        context: EventContext<'_>,
    ) -> Result<Settlement, LedgerError>;
}
