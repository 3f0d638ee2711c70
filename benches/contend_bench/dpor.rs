//! Part 15, `dpor`: executions and time to exhaust the counter 2 x n under contend's
//! `scheduler = "dpor"`, against loom (whose search is DPOR too) on the same counter in the
//! same run. Targets: for the mutex counter, contend's executions within 1.5x of C(2n, n), the
//! number of orders of the critical sections; in every row, fewer executions than loom; and
//! the mutex counter 2 x 10 exhausted in under 60 s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{
    CounterSpec, DEFAULT_MAX_STEPS, EngineSpec, Expectation, Scenario, SchedulerKind,
    ShuttleSettings, SyncMode,
};

use super::Row;

/// Executions of the loom model under way, counted by the model's body.
static LOOM_EXECUTIONS: AtomicU64 = AtomicU64::new(0);

/// C(2n, n).
fn orders(n: u64) -> u64 {
    (1..=n).fold(1u64, |acc, i| acc * (n + i) / i)
}

/// Exhausts the counter 2 x `n` under loom: executions and seconds.
fn loom_counter(n: u64, locked: bool) -> (u64, f64) {
    LOOM_EXECUTIONS.store(0, Ordering::SeqCst);
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 1_000_000;
    let started = Instant::now();
    builder.check(move || {
        use loom::sync::atomic::AtomicI64;
        use loom::sync::{Arc, Mutex};
        use std::sync::atomic::Ordering::SeqCst;
        LOOM_EXECUTIONS.fetch_add(1, Ordering::SeqCst);
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
    });
    (
        LOOM_EXECUTIONS.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64(),
    )
}

/// Exhausts the counter 2 x `n` under contend's dpor: executions, classes and seconds.
fn contend_counter(n: u64, locked: bool) -> (u64, u64, f64) {
    let sync = if locked {
        SyncMode::Mutex
    } else {
        SyncMode::None
    };
    let scenario = Scenario::counter(
        "dpor",
        EngineSpec::Shuttle(ShuttleSettings {
            scheduler: SchedulerKind::Dpor,
            max_steps: DEFAULT_MAX_STEPS,
        }),
        CounterSpec::new(0, &[(1, n), (1, n)], sync),
        if locked {
            Expectation::NoLostUpdates
        } else {
            Expectation::LostUpdates
        },
    )
    .with_runs(100_000_000)
    .with_seed(super::SEED);
    let options = RunOptions {
        schedules: false,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let report = run_scenario(&scenario, &options).expect("the counter runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        report.exhaustive,
        "dpor did not exhaust the counter 2 x {n}"
    );
    let classes = report
        .coverage
        .and_then(|c| c.classes)
        .expect("an exhaustive search counts its classes");
    (report.runs, classes, seconds)
}

/// The rows of part 15.
pub(crate) fn dpor_against_loom() -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, locked) in [(3, true), (6, true), (8, true), (2, false), (3, false)] {
        let (loom_runs, loom_seconds) = loom_counter(n, locked);
        let (runs, classes, seconds) = contend_counter(n, locked);
        let what = if locked { "mutex" } else { "racy" };
        let mut met = runs < loom_runs;
        let mut target = "< loom's executions".to_string();
        if locked {
            met &= runs as f64 <= 1.5 * orders(n) as f64;
            target = format!("{target}, <= 1.5 x C(2n,n) = {}", orders(n) * 3 / 2);
        }
        println!(
            "   {what} 2 x {n}: loom {loom_runs} executions in {loom_seconds:.2} s; contend \
             {runs} executions ({classes} classes) in {seconds:.2} s"
        );
        rows.push(Row {
            name: format!("dpor: {what} counter 2 x {n}, executions to exhaust"),
            baseline: format!("loom {loom_runs} ({loom_seconds:.2} s)"),
            contend: format!("{runs} ({seconds:.2} s)"),
            ratio: format!("{:.4}", runs as f64 / loom_runs as f64),
            target,
            met: Some(met),
        });
    }
    let (runs, _, seconds) = contend_counter(10, true);
    println!("   mutex 2 x 10: contend {runs} executions in {seconds:.1} s");
    rows.push(Row {
        name: "dpor: mutex counter 2 x 10, time to exhaust".to_string(),
        baseline: "-".to_string(),
        contend: format!("{runs} executions, {seconds:.1} s"),
        ratio: "-".to_string(),
        target: "< 60 s".to_string(),
        met: Some(seconds < 60.0),
    });
    rows
}
