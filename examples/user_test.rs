//! Checking your own concurrent code with contend: a racy counter, and its fix.
//!
//! Two threads each add 1 to a shared counter 100 times with a read and then a write
//! ([`Shared::update`]): updates get lost when the threads interleave. With a mutex around the
//! read-modify-write, none is. In a test suite each check is one `#[test]`:
//!
//! ```no_run
//! use std::sync::Arc;
//! use contend::check::{Check, Expect, Shared, sync::Mutex, thread};
//!
//! #[test]
//! fn counter_with_a_mutex_loses_no_update() {
//!     Check::new("counter_with_a_mutex_loses_no_update")
//!         .expect(Expect::NoLostUpdates)
//!         .assert(|| {
//!             let counter = Arc::new(Shared::named("counter", 0));
//!             let lock = Arc::new(Mutex::new(()));
//!             let handles: Vec<_> = (0..2)
//!                 .map(|_| {
//!                     let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
//!                     thread::spawn(move || {
//!                         for _ in 0..100 {
//!                             let _held = lock.lock().unwrap();
//!                             counter.update(|value| value + 1);
//!                         }
//!                     })
//!                 })
//!                 .collect();
//!             for handle in handles {
//!                 handle.join().unwrap();
//!             }
//!         });
//! }
//! ```
//!
//! `assert` panics with the report when the expectation fails: the summary, the interleaving
//! of the first failing shuttle execution, and the `CONTEND_REPLAY=... cargo test` command that
//! replays it. Run this example with `cargo run --release --example user_test`.

use std::process::ExitCode;
use std::sync::Arc;

use contend::check::sync::Mutex;
use contend::check::{Check, Expect, Shared, thread};

/// Increments per thread.
const INCREMENTS: u64 = 100;

/// Two threads each add 1 to a shared counter, `INCREMENTS` times, under `lock` if given.
fn two_incrementing_threads(with_lock: bool) {
    let counter = Arc::new(Shared::named("counter", 0));
    let lock = Arc::new(Mutex::new(()));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
            thread::spawn(move || {
                for _ in 0..INCREMENTS {
                    let _held = with_lock.then(|| lock.lock().unwrap());
                    counter.update(|value| value + 1);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

fn main() -> ExitCode {
    let racy = Check::new("racy_counter")
        .expect(Expect::NoLostUpdates)
        .run(|| two_incrementing_threads(false));
    println!("Without a lock (the check is expected to fail):\n{racy}");

    let locked = Check::new("locked_counter")
        .expect(Expect::NoLostUpdates)
        .run(|| two_incrementing_threads(true));
    println!("With a mutex:\n{locked}");

    if !racy.passed() && locked.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
