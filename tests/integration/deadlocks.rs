//! Deadlocks are failures with their cycle of waits, never hangs: under shuttle (whether the
//! deadlocked threads are joined or not) and on real threads, where the stuck threads are unwound
//! and the next execution runs.

use std::sync::Arc;
use std::time::Duration;

use contend::check::{
    Check, CheckReport, Engine, EngineReport, Expect, FailureKind, Kind, Scheduler,
};
use contend::sync::{Barrier, Condvar, Mutex, RwLock};
use contend::thread;

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);

/// Far below shuttle's default: were the end-of-body wait a spin, the execution would end as a
/// livelock at this many steps instead of as a deadlock.
const FEW_STEPS: u64 = 10_000;

/// Long enough that only the cycle of waits, never the timeout, can end a real-thread execution
/// of these tests within the test suite's time.
const LONG_TIMEOUT: Duration = Duration::from_secs(120);

/// Two threads take two locks in opposite orders, each taking its first lock before either takes
/// its second (a barrier between): every execution deadlocks. The body joins the threads only if
/// `join`.
fn lock_order_inversion(join: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let first = Arc::new(Mutex::new(0));
        let second = Arc::new(Mutex::new(0));
        let both_hold_one = Arc::new(Barrier::new(2));
        let take = |a: Arc<Mutex<i32>>, b: Arc<Mutex<i32>>, barrier: Arc<Barrier>| {
            thread::spawn(move || {
                let mut a = a.lock().unwrap();
                barrier.wait();
                let b = b.lock().unwrap();
                *a += *b;
            })
        };
        let t1 = take(
            Arc::clone(&first),
            Arc::clone(&second),
            Arc::clone(&both_hold_one),
        );
        let t2 = take(second, first, both_hold_one);
        if join {
            t1.join().unwrap();
            t2.join().unwrap();
        }
    }
}

/// The message of the engine's first failure, which must be a deadlock.
fn failure_message(engine: &EngineReport) -> &str {
    match &engine.first_failure.as_ref().expect("a failure").kind {
        FailureKind::Deadlocked { message } => message,
        other => panic!("a deadlock is reported as a deadlock, not {other:?}"),
    }
}

fn only_engine(report: &CheckReport) -> &EngineReport {
    assert_eq!(report.engines.len(), 1);
    &report.engines[0]
}

const INVERSION_CYCLE: &str = "deadlock: Thread-1 waits for mutex#2 held by Thread-2, which \
                               waits for mutex#1 held by Thread-1";

#[test]
fn an_unjoined_lock_order_deadlock_under_shuttle_is_a_deadlock_with_its_cycle_not_a_livelock() {
    let report = Check::new("unjoined_inversion_shuttle")
        .engines([SHUTTLE])
        .runs(20)
        .max_steps(FEW_STEPS)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(lock_order_inversion(false));
    assert!(!report.passed(), "{report}");
    let engine = only_engine(&report);
    assert_eq!(failure_message(engine), INVERSION_CYCLE, "{report}");
    // The interleaving ends with the two blocked attempts.
    let text = report.to_string();
    for blocked in [
        "lock mutex#2: blocked, held by Thread-2",
        "lock mutex#1: blocked, held by Thread-1",
    ] {
        assert!(text.contains(blocked), "`{blocked}` in:\n{text}");
    }
}

#[test]
fn a_check_that_deadlocks_under_shuttle_runs_every_execution_each_a_deadlock_with_its_cycle() {
    let report = Check::new("every_execution_deadlocks_shuttle")
        .engines([SHUTTLE])
        .runs(50)
        .max_steps(FEW_STEPS)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(lock_order_inversion(true));
    let engine = only_engine(&report);
    // The deadlock ends its execution, not the run (shuttle used to end the run at the first).
    assert_eq!(engine.executions, 50, "{report}");
    assert_eq!(engine.deadlocked_executions, 50, "{report}");
    assert_eq!(failure_message(engine), INVERSION_CYCLE, "{report}");
    assert!(
        engine
            .notes
            .iter()
            .all(|note| !note.contains("did not run")),
        "{report}"
    );
}

#[test]
fn readers_sharing_a_read_write_lock_under_shuttle_are_no_deadlock_regression() {
    // Thread-1 reads r, then locks m; main locks m, then reads r. Readers share r, so this
    // never deadlocks; under shuttle main's read is recorded as a wait before shuttle's
    // scheduling point, and a wait-for graph that counted it as blocking saw a cycle there.
    let report = Check::new("readers_share_shuttle")
        .engines([SHUTTLE])
        .runs(300)
        .max_steps(FEW_STEPS)
        .expect(Expect::NoLostUpdates)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(|| {
            let r = Arc::new(RwLock::new(0));
            let m = Arc::new(Mutex::new(0));
            let (r2, m2) = (Arc::clone(&r), Arc::clone(&m));
            let reader = thread::spawn(move || {
                let _read = r2.read().unwrap();
                let _locked = m2.lock().unwrap();
            });
            {
                let _locked = m.lock().unwrap();
                let _read = r.read().unwrap();
            }
            reader.join().unwrap();
        });
    assert!(report.passed(), "{report}");
    assert_eq!(only_engine(&report).executions, 300, "{report}");
}

#[test]
fn a_joined_lock_order_deadlock_under_shuttle_is_a_deadlock_with_its_cycle() {
    let report = Check::new("joined_inversion_shuttle")
        .engines([SHUTTLE])
        .runs(20)
        .max_steps(FEW_STEPS)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(lock_order_inversion(true));
    let engine = only_engine(&report);
    assert_eq!(failure_message(engine), INVERSION_CYCLE, "{report}");
}

#[test]
fn an_unjoined_lock_order_deadlock_on_real_threads_fails_every_execution_with_its_cycle() {
    let report = Check::new("unjoined_inversion_threads")
        .engines([Engine::Threads])
        .runs(5)
        .deadlock_timeout(LONG_TIMEOUT)
        .run(lock_order_inversion(false));
    assert!(!report.passed(), "{report}");
    let engine = only_engine(&report);
    // The stuck threads were unwound and every execution ran.
    assert_eq!(engine.executions, 5, "{report}");
    assert_eq!(engine.failing_executions, 5, "{report}");
    assert_eq!(engine.deadlocked_executions, 5, "{report}");
    // Either thread may be the one whose wait closes the cycle; the cycle is the same.
    assert_eq!(failure_message(engine), INVERSION_CYCLE, "{report}");
}

#[test]
fn a_joined_lock_order_deadlock_on_real_threads_fails_with_its_cycle() {
    let report = Check::new("joined_inversion_threads")
        .engines([Engine::Threads])
        .runs(3)
        .deadlock_timeout(LONG_TIMEOUT)
        .run(lock_order_inversion(true));
    let engine = only_engine(&report);
    assert_eq!(engine.failing_executions, 3, "{report}");
    assert_eq!(failure_message(engine), INVERSION_CYCLE, "{report}");
}

/// The body holds a lock while it joins a thread that waits for that lock.
fn join_while_holding() {
    let lock = Arc::new(Mutex::new(()));
    let held = lock.lock().unwrap();
    let waiter = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || drop(lock.lock().unwrap()))
    };
    waiter.join().unwrap();
    drop(held);
}

#[test]
fn joining_a_thread_that_waits_for_the_joiners_lock_is_a_deadlock_on_both_engines() {
    let report = Check::new("join_while_holding")
        .engines([SHUTTLE, Engine::Threads])
        .runs(3)
        .max_steps(FEW_STEPS)
        .deadlock_timeout(LONG_TIMEOUT)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(join_while_holding);
    for engine in &report.engines {
        assert_eq!(
            failure_message(engine),
            "deadlock: main waits for Thread-1 to finish, which waits for mutex#1 held by main",
            "{report}"
        );
    }
}

/// A thread waits on a condition variable that nothing notifies: no cycle, yet no thread can go
/// on.
fn never_notified() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let waiter = {
        let pair = Arc::clone(&pair);
        thread::spawn(move || {
            let (ready, condvar) = &*pair;
            let mut ready = ready.lock().unwrap();
            while !*ready {
                ready = condvar.wait(ready).unwrap();
            }
        })
    };
    waiter.join().unwrap();
}

#[test]
fn a_wait_nothing_will_end_is_a_deadlock_under_shuttle_naming_each_wait() {
    let report = Check::new("never_notified_shuttle")
        .engines([SHUTTLE])
        .runs(5)
        .max_steps(FEW_STEPS)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .run(never_notified);
    assert_eq!(
        failure_message(only_engine(&report)),
        "deadlock: no thread can go on: main waits for Thread-1 to finish; Thread-1 waits for \
         condvar#1",
        "{report}"
    );
}

#[test]
fn a_wait_nothing_will_end_on_real_threads_fails_after_the_deadlock_timeout_and_the_next_runs() {
    let report = Check::new("never_notified_threads")
        .engines([Engine::Threads])
        .runs(2)
        .deadlock_timeout(Duration::from_millis(100))
        .run(never_notified);
    let engine = only_engine(&report);
    assert_eq!(engine.executions, 2, "{report}");
    assert_eq!(engine.failing_executions, 2, "{report}");
    let message = failure_message(engine);
    assert!(
        message.starts_with("deadlock: a thread waited longer than 100ms: "),
        "{message}"
    );
    assert!(
        message.contains("Thread-1 waits for condvar#1"),
        "{message}"
    );
    assert!(
        message.contains("main waits for Thread-1 to finish"),
        "{message}"
    );
}

#[test]
fn a_lock_taken_again_by_its_holder_is_a_deadlock_on_real_threads() {
    let report = Check::new("relock")
        .engines([Engine::Threads])
        .runs(1)
        .deadlock_timeout(LONG_TIMEOUT)
        .run(|| {
            let lock = Mutex::new(());
            let _held = lock.lock().unwrap();
            let _again = lock.lock();
        });
    assert_eq!(
        failure_message(only_engine(&report)),
        "deadlock: main waits for mutex#1 held by main",
        "{report}"
    );
}

#[test]
fn a_deadlock_free_body_passes_on_both_engines() {
    Check::new("ordered_locks")
        .engines([SHUTTLE, Engine::Threads])
        .runs(20)
        .expect(Expect::NoLostUpdates)
        .deadlock_timeout(LONG_TIMEOUT)
        .assert(|| {
            let first = Arc::new(Mutex::new(0));
            let second = Arc::new(Mutex::new(0));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (first, second) = (Arc::clone(&first), Arc::clone(&second));
                    thread::spawn(move || {
                        let mut a = first.lock().unwrap();
                        let mut b = second.lock().unwrap();
                        *a += 1;
                        *b += 1;
                    })
                })
                .collect();
            drop(workers);
        });
}

#[test]
fn a_known_deadlock_can_be_expected_on_both_engines() {
    let report = Check::new("expected_deadlock")
        .engines([SHUTTLE, Engine::Threads])
        .runs(3)
        .max_steps(FEW_STEPS)
        .deadlock_timeout(LONG_TIMEOUT)
        .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
        .expect(Expect::Fails(Kind::Deadlock))
        .run(lock_order_inversion(false));
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert!(engine.deadlocked_executions > 0, "{engine}");
    }
}

/// Regression: a thread that found a mutex free in the wait-for graph, then lost it at the
/// scheduling point inside shuttle's `lock`, was blocked without a recorded wait, and the
/// deadlock read "no thread can go on" without its cycle.
#[test]
fn a_lock_lost_at_shuttles_scheduling_point_still_shows_in_the_cycle() {
    let cycles = [
        "deadlock: Thread-1 waits for mutex#1 held by Thread-2, which waits for mutex#2 held by \
         Thread-1",
        "deadlock: Thread-1 waits for mutex#2 held by Thread-2, which waits for mutex#1 held by \
         Thread-1",
    ];
    let mut found = 0;
    for seed in 0..20 {
        let report = Check::new("inversion_without_barrier")
            .engines([SHUTTLE])
            .runs(200)
            .seed(seed)
            .max_steps(FEW_STEPS)
            .schedule_dir(std::env::temp_dir().join("contend-deadlock-tests"))
            .run(|| {
                let first = Arc::new(Mutex::new(()));
                let second = Arc::new(Mutex::new(()));
                for flip in [false, true] {
                    let (a, b) = if flip {
                        (Arc::clone(&second), Arc::clone(&first))
                    } else {
                        (Arc::clone(&first), Arc::clone(&second))
                    };
                    thread::spawn(move || {
                        let _a = a.lock().unwrap();
                        let _b = b.lock().unwrap();
                    });
                }
            });
        let engine = only_engine(&report);
        if engine.first_failure.is_some() {
            found += 1;
            let message = failure_message(engine);
            assert!(cycles.contains(&message), "seed {seed}: {message}");
        }
    }
    assert!(
        found >= 10,
        "the deadlock shows under most seeds: {found} of 20"
    );
}
