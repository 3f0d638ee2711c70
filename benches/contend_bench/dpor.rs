//! Part 15, `dpor`: executions and time to exhaust the counter 2 x n under contend's
//! `scheduler = "dpor"`, against loom (whose search is DPOR too) on the same counter in the
//! same run. Targets: for the mutex counter, contend's executions within 1.5x of C(2n, n), the
//! number of orders of the critical sections; in every row, fewer executions than loom; and
//! the mutex counter 2 x 10 exhausted in under 60 s. A hand-off of n items over a condition
//! variable (a producer notifies, a consumer waits while the stock is empty) is compared the
//! same way: fewer executions than loom. Loom runs in a crate of its own,
//! `benches/loom-baseline`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{
    CounterSpec, DEFAULT_MAX_STEPS, EngineSpec, Expectation, Scenario, SchedulerKind,
    ShuttleSettings, SyncMode,
};

use super::Row;

/// C(2n, n).
fn orders(n: u64) -> u64 {
    (1..=n).fold(1u64, |acc, i| acc * (n + i) / i)
}

/// Exhausts the counter 2 x `n` (`kind` `racy` or `mutex`) or the hand-off of `n` items
/// (`handoff`) under loom, in the `loom-baseline` crate's binary (built here by cargo, so that
/// contend's own build never compiles loom): executions and seconds.
fn loom_model(n: u64, kind: &str) -> (u64, f64) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
        .current_dir(manifest)
        .args(["run", "--release", "--quiet", "-p", "loom-baseline", "--"])
        .args([n.to_string(), kind.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs the loom baseline");
    assert!(output.status.success(), "the loom baseline failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut fields = stdout.split_whitespace();
    let executions = fields.next().and_then(|f| f.parse().ok());
    let seconds = fields.next().and_then(|f| f.parse().ok());
    executions
        .zip(seconds)
        .unwrap_or_else(|| panic!("the loom baseline printed {stdout:?}"))
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
        let (loom_runs, loom_seconds) = loom_model(n, if locked { "mutex" } else { "racy" });
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
    for n in [1, 2, 3] {
        rows.push(handoff_row(n));
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

/// The hand-off of `n` items under contend's dpor, written as loom's: executions and seconds.
fn contend_handoff(n: u64) -> (u64, f64) {
    use contend::check::sync::{Arc, Condvar, Mutex};
    use contend::check::{Check, Engine, Expect, Scheduler, thread};
    let started = Instant::now();
    let report = Check::new("handoff")
        .engines([Engine::Shuttle(Scheduler::Dpor)])
        .runs(100_000_000)
        .expect(Expect::NoLostUpdates)
        .run(move || {
            let stock = Arc::new((Mutex::new(0u64), Condvar::new()));
            let producer = {
                let stock = Arc::clone(&stock);
                thread::spawn(move || {
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
        });
    let seconds = started.elapsed().as_secs_f64();
    let engine = &report.engines[0];
    assert!(report.passed(), "the hand-off failed under dpor: {report}");
    (engine.executions, seconds)
}

/// A row of the hand-off of `n` items: contend's executions against loom's.
fn handoff_row(n: u64) -> Row {
    let (loom_runs, loom_seconds) = loom_model(n, "handoff");
    let (runs, seconds) = contend_handoff(n);
    println!(
        "   hand-off of {n}: loom {loom_runs} executions in {loom_seconds:.2} s; contend {runs} \
         executions in {seconds:.2} s"
    );
    Row {
        name: format!("dpor: condvar hand-off of {n}, executions to exhaust"),
        baseline: format!("loom {loom_runs} ({loom_seconds:.2} s)"),
        contend: format!("{runs} ({seconds:.2} s)"),
        ratio: format!("{:.4}", runs as f64 / loom_runs as f64),
        target: "< loom's executions".to_string(),
        met: Some(runs < loom_runs),
    }
}
