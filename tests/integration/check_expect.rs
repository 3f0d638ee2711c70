//! What a check can expect (a failure of a given kind, or any), and how it explores: DFS and
//! time budgets.

use std::sync::Arc;
use std::time::Duration;

use contend::check::sync::Mutex;
use contend::check::{Check, Engine, Expect, FailureKind, Kind, Scheduler, Shared, thread};
use tempfile::TempDir;

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);

/// Two threads withdraw 60 from 100 after checking the balance, then assert it never went
/// below zero: the check-then-act race breaks the invariant with a panic.
fn overdraft() -> impl Fn() + Send + Sync + 'static {
    || {
        let balance = Arc::new(Shared::named("balance", 100));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let balance = Arc::clone(&balance);
                thread::spawn(move || {
                    if balance.get() >= 60 {
                        thread::yield_now();
                        let now = balance.get();
                        balance.set(now - 60);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert!(balance.get() >= 0, "overdrawn: {}", balance.get());
    }
}

/// Two threads take two locks in opposite orders, and are joined.
fn lock_order_deadlock() -> impl Fn() + Send + Sync + 'static {
    || {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let first = {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            })
        };
        let second = thread::spawn(move || {
            let _b = b.lock().unwrap();
            let _a = a.lock().unwrap();
        });
        first.join().unwrap();
        second.join().unwrap();
    }
}

/// Two threads add 1 to a counter `increments` times, with a read then a write, locked or not.
fn counter(increments: u64, locked: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(Shared::named("counter", 0));
        let lock = Arc::new(Mutex::new(()));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
                thread::spawn(move || {
                    for _ in 0..increments {
                        let _held = locked.then(|| lock.lock().unwrap());
                        counter.update(|value| value + 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

fn check(name: &str, dir: &TempDir) -> Check {
    Check::new(name).schedule_dir(dir.path()).runs(200)
}

#[test]
fn a_broken_invariant_is_expected_as_a_panic() {
    let dir = TempDir::new().unwrap();
    let report = check("overdraft_panics", &dir)
        .engines([SHUTTLE])
        .expect(Expect::Fails(Kind::Panic))
        .run(overdraft());
    assert!(report.passed(), "{report}");
    let engine = &report.engines[0];
    assert!(engine.panicked_executions > 0, "{report}");
    // The first failure is the panic, or a lost update that showed before it.
    let failure = engine.first_failure.as_ref().unwrap();
    if let FailureKind::Panicked { message } = &failure.kind {
        assert!(message.contains("overdrawn"), "{message}");
    } else {
        assert_eq!(failure.kind.kind(), Kind::LostUpdate, "{report}");
    }
    // Expecting a deadlock of the same body fails: the bug that shows is another.
    let wrong = check("overdraft_is_no_deadlock", &dir)
        .engines([SHUTTLE])
        .expect(Expect::Fails(Kind::Deadlock))
        .run(overdraft());
    assert!(!wrong.passed(), "{wrong}");
}

#[test]
fn a_lock_order_deadlock_is_expected_as_a_deadlock_not_a_livelock() {
    let dir = TempDir::new().unwrap();
    let report = check("lock_order", &dir)
        .engines([SHUTTLE])
        .expect(Expect::Fails(Kind::Deadlock))
        .run(lock_order_deadlock());
    assert!(report.passed(), "{report}");
    let engine = &report.engines[0];
    assert!(engine.deadlocked_executions > 0);
    assert_eq!(engine.livelocked_executions, 0);
    assert_eq!(
        engine.first_failure.as_ref().unwrap().kind.kind(),
        Kind::Deadlock
    );
}

#[test]
fn any_failure_passes_on_a_race_and_fails_on_its_fix() {
    let dir = TempDir::new().unwrap();
    let racy = check("any_failure_racy", &dir)
        .engines([SHUTTLE])
        .expect(Expect::AnyFailure)
        .run(counter(3, false));
    assert!(racy.passed(), "{racy}");
    let fixed = check("any_failure_fixed", &dir)
        .engines([SHUTTLE])
        .expect(Expect::AnyFailure)
        .run(counter(3, true));
    assert!(!fixed.passed(), "{fixed}");
    assert_eq!(fixed.engines[0].failing_executions, 0);
}

#[test]
fn dfs_explores_every_schedule_of_a_small_body_and_says_so() {
    let dir = TempDir::new().unwrap();
    let racy = Check::new("dfs_racy")
        .schedule_dir(dir.path())
        .runs(100_000)
        .engines([Engine::Shuttle(Scheduler::Dfs)])
        .expect(Expect::LostUpdates)
        .run(counter(1, false));
    assert!(racy.passed(), "{racy}");
    let fixed = Check::new("dfs_fixed")
        .schedule_dir(dir.path())
        .runs(100_000)
        .engines([Engine::Shuttle(Scheduler::Dfs)])
        .run(counter(1, true));
    assert!(fixed.passed(), "{fixed}");
    let engine = &fixed.engines[0];
    assert!(engine.executions < 100_000, "{fixed}");
    assert!(
        engine.notes.iter().any(|note| note.contains("exhaustive")),
        "{:?}",
        engine.notes
    );
}

#[test]
fn a_time_budget_ends_a_check_before_its_runs_and_says_so() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("time_budget")
        .schedule_dir(dir.path())
        .runs(100_000_000)
        .time(Duration::from_millis(200))
        .engines([SHUTTLE, Engine::Threads])
        .run(counter(2, true));
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert!(engine.executions < 100_000_000, "{report}");
        assert!(engine.executions > 0, "{report}");
        assert!(
            engine.notes.iter().any(|note| note.contains("time budget")),
            "{:?}",
            engine.notes
        );
    }
}
