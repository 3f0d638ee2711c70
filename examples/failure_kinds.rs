//! A harness whose one workload fails in the way its parameters say: each kind of failure
//! contend tells apart (a lost update, a broken invariant, a deadlock, a panic, a livelock), or
//! none. It shows how each kind is reported and what each `expect` value asks for:
//!
//! ```text
//! cargo run --release --example failure_kinds -- run examples/failure_kinds.toml
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use contend::sync::atomic::AtomicBool;
use contend::sync::{Barrier, Condvar, Mutex, Shared, invariant};
use contend::thread;
use contend::workload::plugin::{Body, Plugin};
use contend::workload::registry;
use serde::{Deserialize, Serialize};

/// A workload that fails as asked.
struct Kinds;

/// How the workload fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum Fail {
    /// It does not: every thread adds to the counter under a lock.
    None,
    /// Threads add to a counter with a read, then a write.
    LostUpdate,
    /// Two withdrawals check the balance, then take from it: the balance goes below zero,
    /// which the last thread states as a broken invariant.
    Invariant,
    /// Each thread takes its lock, then its neighbour's: a cycle of `threads` locks.
    Deadlock,
    /// A thread waits on a condition variable that no thread notifies: a deadlock without a
    /// cycle, which real threads find by the deadlock timeout.
    WaitForever,
    /// A thread panics.
    Panic,
    /// A thread spins on a flag no thread sets.
    Livelock,
}

/// The workload's `[scenario.params]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct KindsParams {
    /// How the workload fails.
    fail: Fail,
    /// How many threads it starts (at least 2).
    #[serde(default = "two")]
    threads: usize,
    /// Deadlock: every thread waits at a barrier between its two locks, so that every
    /// execution deadlocks.
    #[serde(default)]
    barrier: bool,
}

fn two() -> usize {
    2
}

impl Plugin for Kinds {
    type Params = KindsParams;

    fn name(&self) -> &'static str {
        "kinds"
    }

    fn description(&self) -> &'static str {
        "fails as `fail` says: lost-update, invariant, deadlock, wait-forever, panic, livelock"
    }

    fn body(&self, params: &KindsParams) -> Body {
        let params = params.clone();
        Arc::new(move || match params.fail {
            Fail::None | Fail::LostUpdate => counter(params.threads, params.fail == Fail::None),
            Fail::Invariant => overdraft(),
            Fail::Deadlock => lock_cycle(params.threads.max(2), params.barrier),
            Fail::WaitForever => wait_forever(),
            Fail::Panic => {
                let handle = thread::spawn(|| panic!("the workload panics on purpose"));
                let _ = handle.join();
            }
            Fail::Livelock => {
                let flag = Arc::new(AtomicBool::new(false));
                let spinner = thread::spawn(move || {
                    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                        thread::yield_now();
                    }
                });
                let _ = spinner.join();
            }
        })
    }
}

/// `threads` threads add 1 to a counter twice, under a lock if `locked`.
fn counter(threads: usize, locked: bool) {
    let counter = Arc::new(Shared::named("counter", 0));
    let lock = Arc::new(Mutex::new(()));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
            thread::spawn(move || {
                for _ in 0..2 {
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

/// Two withdrawals of 80 from a balance of 100, each checking the balance first; the
/// workload states that the balance never goes below zero.
fn overdraft() {
    let balance = Arc::new(Shared::named("balance", 100));
    let lock = Arc::new(Mutex::new(()));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (balance, lock) = (Arc::clone(&balance), Arc::clone(&lock));
            thread::spawn(move || {
                if balance.get() >= 80 {
                    // The withdrawal itself is locked: no update is lost, yet the check may be
                    // stale by then.
                    let _held = lock.lock().unwrap();
                    balance.update(|value| value - 80);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let left = balance.get();
    invariant(
        left >= 0,
        format!("balance >= 0, but the balance is {left}"),
    );
}

/// Thread `i` takes lock `i`, then lock `i + 1` (the last takes lock 0).
fn lock_cycle(threads: usize, barrier: bool) {
    let locks: Arc<Vec<Mutex<()>>> = Arc::new((0..threads).map(|_| Mutex::new(())).collect());
    let meet = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (locks, meet) = (Arc::clone(&locks), Arc::clone(&meet));
            thread::spawn(move || {
                let _first = locks[i].lock().unwrap();
                if barrier {
                    meet.wait();
                }
                let _second = locks[(i + 1) % threads].lock().unwrap();
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

/// A thread waits for a notification that never comes.
fn wait_forever() {
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let waiter = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let (ready, condvar) = &*state;
            let mut ready = ready.lock().unwrap();
            while !*ready {
                ready = condvar.wait(ready).unwrap();
            }
        })
    };
    waiter.join().unwrap();
}

fn main() -> ExitCode {
    if let Err(error) = registry::register(Kinds) {
        eprintln!("error: {error}");
        return ExitCode::from(contend::exit_code::ERROR as u8);
    }
    contend::cli::main()
}
