//! `Scheduler::Dpor` on every primitive of `contend::sync`: each test is a bug that shows only
//! in one order of two threads' operations on one primitive, with nothing else shared between
//! them, so a reduction that took the primitive's operations to commute would run one order
//! and miss it. dpor must find each, as plain dfs does, and the fixed body must pass
//! exhaustively in more than one class.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use contend::check::sync::{Barrier, Condvar, Mutex, Once, RwLock, mpsc};
use contend::check::{Check, CheckReport, Engine, Expect, Kind, Scheduler, thread};
use tempfile::TempDir;

const DPOR: Engine = Engine::Shuttle(Scheduler::Dpor);
const DFS: Engine = Engine::Shuttle(Scheduler::Dfs);

/// Runs `body` under dfs and dpor, expecting `expect`; returns the two reports.
fn both(
    name: &str,
    expect: Expect,
    body: impl Fn() + Send + Sync + Clone + 'static,
) -> [CheckReport; 2] {
    let dir = TempDir::new().unwrap();
    [DFS, DPOR].map(|engine| {
        let report = Check::new(name)
            .schedule_dir(dir.path())
            .runs(100_000)
            .max_steps(10_000)
            .engines([engine])
            .expect(expect)
            .run(body.clone());
        assert!(report.passed(), "{engine}: {report}");
        report
    })
}

/// The equivalence classes an exhausted dpor search reports in its notes.
fn classes(report: &CheckReport) -> Option<u64> {
    report.engines[0].notes.iter().find_map(|note| {
        let rest = note.strip_prefix("exhaustive: every interleaving was checked (")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Passes under dfs and dpor, dpor exhaustively in at least two classes: both orders of the
/// primitive's operations were run.
fn passes_in_both_orders(name: &str, body: impl Fn() + Send + Sync + Clone + 'static) {
    let [_, dpor] = both(name, Expect::NoLostUpdates, body);
    assert!(classes(&dpor).is_some_and(|c| c >= 2), "{dpor}");
}

#[test]
fn dpor_finds_a_reader_that_sees_the_writer_of_a_rwlock_first() {
    let body = |check: bool| {
        move || {
            let lock = Arc::new(RwLock::new(0));
            let writer = {
                let lock = Arc::clone(&lock);
                thread::spawn(move || *lock.write().unwrap() = 1)
            };
            let seen = *lock.read().unwrap();
            writer.join().unwrap();
            assert!(!check || seen == 0, "the reader saw the writer's 1");
        }
    };
    both("rwlock", Expect::Fails(Kind::Panic), body(true));
    passes_in_both_orders("rwlock_fixed", body(false));
}

#[test]
fn dpor_finds_a_try_lock_that_fails_while_another_thread_holds_the_lock() {
    let body = |check: bool| {
        move || {
            let lock = Arc::new(Mutex::new(()));
            let holder = {
                let lock = Arc::clone(&lock);
                thread::spawn(move || drop(lock.lock().unwrap()))
            };
            let taken = lock.try_lock().is_ok();
            holder.join().unwrap();
            assert!(
                !check || taken,
                "try_lock failed: the other thread held the lock"
            );
        }
    };
    both("try_lock", Expect::Fails(Kind::Panic), body(true));
    passes_in_both_orders("try_lock_fixed", body(false));
}

#[test]
fn dpor_finds_a_message_received_before_it_was_sent() {
    let body = |check: bool| {
        move || {
            let (sender, receiver) = mpsc::channel();
            let sending = thread::spawn(move || sender.send(1).unwrap());
            let received = receiver.try_recv().is_ok();
            sending.join().unwrap();
            assert!(!check || received, "try_recv found the channel empty");
        }
    };
    both("channel", Expect::Fails(Kind::Panic), body(true));
    passes_in_both_orders("channel_fixed", body(false));
}

#[test]
fn dpor_finds_the_main_thread_leading_a_barrier() {
    let body = |check: bool| {
        move || {
            let barrier = Arc::new(Barrier::new(2));
            let other = {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || barrier.wait().is_leader())
            };
            // Lets the other thread reach the barrier first (shuttle's last arrival leads).
            thread::yield_now();
            let leader = barrier.wait().is_leader();
            let other_led = other.join().unwrap();
            assert!(leader != other_led, "one leader");
            assert!(
                !check || leader,
                "the main thread arrived first and did not lead"
            );
        }
    };
    both("barrier", Expect::Fails(Kind::Panic), body(true));
    passes_in_both_orders("barrier_fixed", body(false));
}

#[test]
fn dpor_finds_the_main_thread_running_a_once_initialiser() {
    let body = |check: bool| {
        move || {
            let once = Arc::new(Once::new());
            // Which thread ran the initialiser, outside contend's view.
            let ran = Arc::new(AtomicUsize::new(0));
            let other = {
                let (once, ran) = (Arc::clone(&once), Arc::clone(&ran));
                thread::spawn(move || once.call_once(|| ran.store(1, Ordering::SeqCst)))
            };
            once.call_once(|| ran.store(2, Ordering::SeqCst));
            other.join().unwrap();
            assert!(
                !check || ran.load(Ordering::SeqCst) == 1,
                "the main thread ran the initialiser"
            );
        }
    };
    both("once", Expect::Fails(Kind::Panic), body(true));
    passes_in_both_orders("once_fixed", body(false));
}

#[test]
fn dpor_finds_the_lost_wake_up_of_a_notify_before_the_wait() {
    let body = |check: bool| {
        move || {
            let pair = Arc::new((Mutex::new(()), Condvar::new()));
            let notifier = {
                let pair = Arc::clone(&pair);
                thread::spawn(move || pair.1.notify_one())
            };
            if check {
                // Waits without a condition: a notify that came first is lost.
                let guard = pair.0.lock().unwrap();
                drop(pair.1.wait(guard).unwrap());
            }
            notifier.join().unwrap();
        }
    };
    both("condvar", Expect::Fails(Kind::Deadlock), body(true));
    let [dfs, dpor] = both("condvar_fixed", Expect::NoLostUpdates, body(false));
    assert!(classes(&dpor).is_some(), "{dpor}");
    assert!(dpor.engines[0].executions <= dfs.engines[0].executions);
}
