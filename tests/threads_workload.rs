//! A workload on the threads engine runs on contend's own primitives: its locks keep the
//! execution's wait-for graph, so a lock-order bug in a workload is a deadlock with its cycle,
//! and the run goes on, instead of a hang.

use std::sync::Arc;
use std::time::Duration;

use contend::engine::threads::ThreadsEngine;
use contend::engine::{Engine, RunPlan};
use contend::failure::Kind;
use contend::ledger::{EventContext, LedgerError, Settlement};
use contend::platform::{AccessPoint, Lock, Platform, SharedWord};
use contend::scenario::ThreadsSettings;
use contend::tally::Tally;
use contend::workload::Workload;

/// Two threads take two locks in opposite orders, each waiting until the other holds its first
/// lock: every execution deadlocks.
struct LockOrderInversion;

/// The locks, and whether each thread holds its first lock.
struct Locks<P: Platform> {
    first: P::Lock,
    second: P::Lock,
    holds_first: [P::Word; 2],
}

impl Workload for LockOrderInversion {
    type State<P: Platform> = Locks<P>;

    fn thread_count(&self) -> usize {
        2
    }

    fn new_state<P: Platform>(&self, platform: &P) -> Result<Locks<P>, P::Error> {
        Ok(Locks {
            first: platform.lock()?,
            second: platform.lock()?,
            holds_first: [platform.word(0)?, platform.word(0)?],
        })
    }

    fn run_thread<P: Platform>(&self, state: &Locks<P>, thread: usize, point: &mut P::Point) {
        let (mine, theirs) = match thread {
            0 => (&state.first, &state.second),
            _ => (&state.second, &state.first),
        };
        let _mine = mine.acquire();
        state.holds_first[thread].store(1);
        while state.holds_first[1 - thread].load() == 0 {
            point.spin_wait();
        }
        let _theirs = theirs.acquire();
    }

    fn settle<P: Platform>(
        &self,
        _state: &Locks<P>,
        _context: EventContext<'_>,
    ) -> Result<Settlement, LedgerError> {
        Ok(Settlement::default())
    }
}

#[test]
fn a_lock_order_deadlock_in_a_workload_on_real_threads_is_a_deadlock_with_its_cycle_not_a_hang() {
    let mut tally = Tally::new(false);
    let settings = ThreadsSettings {
        // The cycle is seen by the wait that closes it: the timeout never decides here.
        deadlock_timeout: Duration::from_secs(60),
        ..ThreadsSettings::default()
    };
    ThreadsEngine::new(settings)
        .execute(
            Arc::new(LockOrderInversion),
            &RunPlan::new("lock-order", 3, 1),
            &mut tally,
        )
        .unwrap();
    assert_eq!(tally.runs, 3, "the run goes on after each deadlock");
    assert_eq!(
        tally.failure_kinds.get(&Kind::Deadlock),
        Some(&3),
        "{tally:?}"
    );
    let failure = &tally.failures[0];
    assert!(
        failure.ends_with(
            "deadlock: Thread-1 waits for mutex#2 held by Thread-2, which waits for mutex#1 held \
             by Thread-1"
        ),
        "{failure}"
    );
}
