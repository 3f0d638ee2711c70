//! The baseline of part 15 of contend's bench (`cargo bench --bench contend_bench -- dpor`):
//! loom exhausting the counter 2 x n, racy or locked, and a hand-off of n items over a
//! condition variable. A crate of its own so that loom and what it pulls in are built for that
//! bench part alone, never for contend's tests.
//!
//! `loom-baseline N racy|mutex|handoff` prints `EXECUTIONS SECONDS` on one line.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Executions of the loom model under way, counted by the model's body.
static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

/// Exhausts `model` under loom, counting its executions: executions and seconds.
fn explore(model: impl Fn() + Sync + Send + 'static) -> (u64, f64) {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 1_000_000;
    let started = Instant::now();
    builder.check(move || {
        EXECUTIONS.fetch_add(1, Ordering::SeqCst);
        model();
    });
    (
        EXECUTIONS.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64(),
    )
}

/// Exhausts the counter 2 x `n` under loom: executions and seconds.
fn loom_counter(n: u64, locked: bool) -> (u64, f64) {
    explore(move || {
        use loom::sync::atomic::AtomicI64;
        use loom::sync::{Arc, Mutex};
        use std::sync::atomic::Ordering::SeqCst;
        // Locked: the counter lives in the mutex, as loom's users write it; racy: an atomic
        // read, then an atomic write.
        let locked_count = Arc::new(Mutex::new(0i64));
        let racy_count = Arc::new(AtomicI64::new(0));
        let work = move |locked_count: Arc<Mutex<i64>>, racy_count: Arc<AtomicI64>| {
            for _ in 0..n {
                if locked {
                    *locked_count.lock().unwrap() += 1;
                } else {
                    let now = racy_count.load(SeqCst);
                    racy_count.store(now + 1, SeqCst);
                }
            }
        };
        // The model's own thread is the second worker: loom's smallest form of the counter.
        let other = {
            let (locked_count, racy_count) = (Arc::clone(&locked_count), Arc::clone(&racy_count));
            loom::thread::spawn(move || work(locked_count, racy_count))
        };
        work(locked_count, racy_count);
        other.join().unwrap();
    })
}

/// Exhausts the hand-off of `n` items under loom: a producer puts them one at a time into a
/// stock under a mutex and notifies a condition variable; the model's own thread consumes
/// them, waiting while the stock is empty. Executions and seconds.
fn loom_handoff(n: u64) -> (u64, f64) {
    explore(move || {
        use loom::sync::{Arc, Condvar, Mutex};
        let stock = Arc::new((Mutex::new(0u64), Condvar::new()));
        let producer = {
            let stock = Arc::clone(&stock);
            loom::thread::spawn(move || {
                let (lock, nonempty) = &*stock;
                for _ in 0..n {
                    *lock.lock().unwrap() += 1;
                    nonempty.notify_one();
                }
            })
        };
        let (lock, nonempty) = &*stock;
        for _ in 0..n {
            let mut held = lock.lock().unwrap();
            while *held == 0 {
                held = nonempty.wait(held).unwrap();
            }
            *held -= 1;
        }
        producer.join().unwrap();
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [n, kind] => n.parse::<u64>().ok().zip(match kind.as_str() {
            "mutex" | "racy" | "handoff" => Some(kind.as_str()),
            _ => None,
        }),
        _ => None,
    };
    let Some((n, kind)) = parsed else {
        eprintln!("usage: loom-baseline N racy|mutex|handoff");
        return ExitCode::from(2);
    };
    let (executions, seconds) = match kind {
        "handoff" => loom_handoff(n),
        kind => loom_counter(n, kind == "mutex"),
    };
    println!("{executions} {seconds}");
    ExitCode::SUCCESS
}
