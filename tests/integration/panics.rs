//! A workload that panics is a failed execution in the report, on every engine, never a crash.

use std::sync::Arc;

use contend::engine::shuttle::ShuttleEngine;
use contend::engine::threads::ThreadsEngine;
use contend::engine::{Engine, RunPlan};
use contend::failure::Kind;
use contend::ledger::{EventContext, LedgerError, Settlement};
use contend::platform::{AccessPoint, Platform};
use contend::scenario::{ShuttleSettings, ThreadsSettings};
use contend::tally::Tally;
use contend::workload::Workload;

/// Thread 1 panics at once; thread 0 does nothing.
struct Panicking;

impl Workload for Panicking {
    type State<P: Platform> = ();

    fn thread_count(&self) -> usize {
        2
    }

    fn new_state<P: Platform>(&self, _platform: &P) -> Result<(), P::Error> {
        Ok(())
    }

    fn reset<P: Platform>(&self, _state: &()) {}

    fn run_thread<P: Platform>(&self, _state: &(), thread: usize, point: &mut P::Point) {
        point.before_access();
        if thread == 1 {
            panic!("the workload gave up");
        }
    }

    fn settle<P: Platform>(
        &self,
        _state: &(),
        _context: EventContext<'_>,
    ) -> Result<Settlement, LedgerError> {
        Ok(Settlement {
            observed_final: 0,
            expected_final: 0,
            overwrites: 0,
            lost_updates: 0,
            lost_delta: 0,
            variables: Vec::new(),
        })
    }
}

fn plan() -> RunPlan {
    RunPlan::new("panicking", 3, 1)
}

#[test]
fn a_panic_on_real_threads_is_a_failed_execution() {
    let mut tally = Tally::new(false);
    ThreadsEngine::new(ThreadsSettings::default())
        .execute(Arc::new(Panicking), &plan(), &mut tally)
        .unwrap();
    assert_eq!(tally.runs, 3);
    assert_eq!(tally.failed_runs, 3);
    assert!(
        tally.failures[0].contains("Thread-2 panicked: the workload gave up"),
        "{:?}",
        tally.failures
    );
}

#[test]
fn a_panic_under_shuttle_is_a_failed_execution() {
    let mut tally = Tally::new(false);
    ShuttleEngine::new(ShuttleSettings::default())
        .execute(Arc::new(Panicking), &plan(), &mut tally)
        .unwrap();
    // A thread's panic ends its execution, not the run: every execution runs and fails.
    assert_eq!(tally.runs, 3);
    assert_eq!(tally.failed_runs, 3);
    assert_eq!(tally.failure_kinds.get(&Kind::Panic), Some(&3));
    assert!(
        tally.failures[0].contains("Thread-2 panicked")
            && tally.failures[0].contains("the workload gave up"),
        "{:?}",
        tally.failures
    );
}
