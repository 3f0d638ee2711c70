//! contend's benchmarks: eighteen measurements, each against a baseline measured in the same run.
//!
//! Machines are shared and noisy, so every result is a ratio to a baseline taken in this very
//! process, and every timed measurement alternates baseline and contend over several rounds and
//! compares their medians. A part's number is its place in [`MEASUREMENTS`]; its key selects it.
//!
//! 1. `racy`: how often real threads lose an update with contend's default jitter, against the
//!    same read-then-write code run without barrier or jitter (contend's engine, and a naive port
//!    with plain std threads).
//! 2. `shuttle`: the time of contend's shuttle engine against the same body as a hand-written
//!    shuttle test, racy counter 2 x 100 (`contend_bench/shuttle.rs`).
//! 3. `mutex`: the time of a mutex-protected counter on contend's threads engine against a plain
//!    `std::sync::Mutex<i64>` loop.
//! 4. `memory`: the peak memory of `contend run --trace` on a racy 2 x 1,000,000 op run, against
//!    the same run without `--trace`, and whether the trace holds one event per overwrite.
//! 5. `shrink`: the lesson's counter found, shrunk, proven minimal and saved under shuttle,
//!    against the run alone.
//! 6. `replay`: `contend replay` of a saved minimal schedule, beyond process start.
//! 7. `async`: the lesson's coroutines on tokio's current-thread runtime.
//! 8. `processes`: the lesson's processes with a lock, per execution, against the lesson's own
//!    Python `multiprocessing` example run in the same bench (when `python3` is present).
//! 9. `shards`: each of 3 shards of a campaign against the unsharded run (time), and the merged
//!    totals against the unsharded ones.
//! 10. `progress`: `contend run` with its progress bar on a terminal against `-q`.
//! 11. `ledger`: the peak memory and time per op of the ledger on a mutex 2 x 1,000,000 op run
//!     and a racy 2 x 10,000,000 op run, each in a child process of this bench, against the
//!     ledger that kept a record of every write (in `contend_bench/ledger_baseline.rs`); and the
//!     peak memory of `contend run` on the same two runs.
//! 12. `jobs`: a shuttle scenario's blocks on 2 worker threads (`-j 2`) against 1, totals equal.
//! 13. `replay-memory`: the peak memory of `contend replay` of the lesson's full-size
//!     `--no-shrink` schedule, against the same replay with `--full` (every step kept).
//! 14. `program`: the lesson's racy counter written as `workload = "program"` against the
//!     built-in counter under shuttle, the same lost updates.
//! 15. `dpor`: executions and time to exhaust the mutex and racy counters 2 x n and a hand-off
//!     over a condition variable under `scheduler = "dpor"`, against loom on the same programs
//!     (`contend_bench/dpor.rs`).
//! 16. `shuttle-tiny`: part 2 at 2 x 1 op per execution, the size the shrinker and exhaustive
//!     searches live on (`contend_bench/shuttle.rs`).
//! 17. `main-job`: the run time of `contend run configs/seed.toml` against the same with `-j 1`
//!     (`contend_bench/setup.rs`).
//! 18. `test-suite`: `cargo test --release` in a fresh clone, build and run, against the build of
//!     the binary alone, and the slowest test by nextest; minutes long, so only when named.
//!
//! Run them all with `cargo bench --bench contend_bench`, or one with
//! `cargo bench --bench contend_bench -- shuttle`.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "contend_bench/dpor.rs"]
mod dpor;
#[path = "contend_bench/ledger_baseline.rs"]
mod ledger_baseline;
#[path = "contend_bench/setup.rs"]
mod setup;
#[path = "contend_bench/shuttle.rs"]
mod shuttle_engine;

use contend::ledger::{EventContext, Ledger};
use contend::report::ScenarioReport;
use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{
    AsyncSettings, CounterSpec, EngineSpec, Executor, Expectation, Jitter, Scenario,
    ShuttleSettings, SyncMode, ThreadsSettings,
};

/// Rounds of each timed measurement: baseline and contend alternate, each runs once per round.
const ROUNDS: usize = 5;
/// The seed of every scenario the bench runs in process.
const SEED: u64 = 42;

/// One line of the result table.
struct Row {
    name: String,
    baseline: String,
    contend: String,
    ratio: String,
    target: String,
    /// `None` for an informational line without a target.
    met: Option<bool>,
}

/// A measurement the command line can select by its key. Its part number is its place in
/// [`MEASUREMENTS`], counted from 1.
struct Measurement {
    key: &'static str,
    title: &'static str,
    run: fn() -> Vec<Row>,
    /// Whether a run of every part includes it; a part that takes minutes runs only when named.
    in_full_run: bool,
}

const MEASUREMENTS: [Measurement; 18] = [
    Measurement {
        key: "racy",
        title: "real threads, racy counter: executions that lose an update",
        run: racy_threads,
        in_full_run: true,
    },
    Measurement {
        key: "shuttle",
        title: "shuttle engine against a hand-written shuttle test",
        run: shuttle_engine::shuttle_engine,
        in_full_run: true,
    },
    Measurement {
        key: "mutex",
        title: "real threads, mutex counter, no jitter: time",
        run: mutex_threads,
        in_full_run: true,
    },
    Measurement {
        key: "memory",
        title: "peak memory of `contend run --trace` on a racy 2 x 1,000,000 op run",
        run: trace_memory,
        in_full_run: true,
    },
    Measurement {
        key: "shrink",
        title: "the lesson's racy counter under shuttle: found, shrunk, proven and saved",
        run: shrink_lesson,
        in_full_run: true,
    },
    Measurement {
        key: "replay",
        title: "`contend replay` of a saved minimal schedule, beyond process start",
        run: replay_time,
        in_full_run: true,
    },
    Measurement {
        key: "async",
        title: "the lesson's coroutines (1,000,000 / 1,000,001 ops) on tokio's current-thread runtime",
        run: async_coroutines,
        in_full_run: true,
    },
    Measurement {
        key: "processes",
        title: "the lesson's processes (+1 x 10,000, -1 x 10,001 with a lock) against its Python",
        run: processes_lesson,
        in_full_run: true,
    },
    Measurement {
        key: "shards",
        title: "a campaign in 3 shards against the unsharded run",
        run: sharded_campaign,
        in_full_run: true,
    },
    Measurement {
        key: "progress",
        title: "the progress bar on a terminal against -q, 10,000 shuttle executions",
        run: progress_cost,
        in_full_run: true,
    },
    Measurement {
        key: "ledger",
        title: "the ledger's peak memory and time per op, against a record of every write",
        run: ledger_memory,
        in_full_run: true,
    },
    Measurement {
        key: "jobs",
        title: "--jobs: a shuttle scenario's blocks on 2 worker threads against 1",
        run: parallel_jobs,
        in_full_run: true,
    },
    Measurement {
        key: "replay-memory",
        title: "`contend replay` of the lesson's --no-shrink schedule: peak memory, window against every step",
        run: replay_memory,
        in_full_run: true,
    },
    Measurement {
        key: "program",
        title: "the lesson's racy counter written as a program against the built-in counter, under shuttle",
        run: program_counter,
        in_full_run: true,
    },
    Measurement {
        key: "dpor",
        title: "dpor: executions and time to exhaust the counter 2 x n, against loom",
        run: dpor::dpor_against_loom,
        in_full_run: true,
    },
    Measurement {
        key: "shuttle-tiny",
        title: "shuttle engine against a hand-written shuttle test, tiny executions (2 x 1 op)",
        run: shuttle_engine::shuttle_tiny,
        in_full_run: true,
    },
    Measurement {
        key: "main-job",
        title: "the main job, `contend run configs/seed.toml`, against the same with -j 1",
        run: setup::main_job_time,
        in_full_run: true,
    },
    Measurement {
        key: "test-suite",
        title: "the test suite, `cargo test --release` in a fresh clone (minutes: only when named)",
        run: setup::test_suite_time,
        in_full_run: false,
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(LEDGER_CHILD) {
        return ledger_child(&args[2..]);
    }
    // cargo passes `--bench`; any other flag is ignored too. The first plain word is the filter.
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map(|arg| arg.to_lowercase());
    // A key named whole selects that part alone (`memory` is also in `replay-memory`).
    let exact = MEASUREMENTS
        .iter()
        .any(|m| Some(m.key) == filter.as_deref());
    let selected: Vec<(usize, &Measurement)> = (1..)
        .zip(MEASUREMENTS.iter())
        .filter(|(_, m)| {
            filter.as_deref().map_or(m.in_full_run, |f| {
                if exact { m.key == f } else { m.key.contains(f) }
            })
        })
        .collect();
    if selected.is_empty() {
        let keys: Vec<&str> = MEASUREMENTS.iter().map(|m| m.key).collect();
        eprintln!(
            "no measurement matches `{}`; the measurements are: {}",
            filter.unwrap_or_default(),
            keys.join(", ")
        );
        return ExitCode::from(2);
    }

    let started = Instant::now();
    let mut rows = Vec::new();
    for (part, measurement) in selected {
        println!("== {part}. {} [{}]", measurement.title, measurement.key);
        let measured = Instant::now();
        rows.extend((measurement.run)());
        println!("   ({:.1} s)", measured.elapsed().as_secs_f64());
        println!();
    }
    print_table(&rows);
    let judged: Vec<bool> = rows.iter().filter_map(|r| r.met).collect();
    println!(
        "targets met: {} of {}; total time {:.1} s",
        judged.iter().filter(|&&m| m).count(),
        judged.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn print_table(rows: &[Row]) {
    let header = ["name", "baseline", "contend", "ratio", "target", "met?"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            [
                r.name.clone(),
                r.baseline.clone(),
                r.contend.clone(),
                r.ratio.clone(),
                r.target.clone(),
                met.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join(" | ").trim_end());
    };
    line(&header.map(str::to_string));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    println!("{}", rule.join("-|-"));
    for row in &cells {
        line(row);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A counter scenario: one thread adds `+1` `ops.0` times, the other `-1` `ops.1` times.
fn counter_scenario(
    name: &str,
    sync: SyncMode,
    ops: (u64, u64),
    engine: EngineSpec,
    runs: u64,
) -> Scenario {
    let expect = match sync {
        SyncMode::None | SyncMode::Flag => Expectation::LostUpdates,
        _ => Expectation::NoLostUpdates,
    };
    let counter = CounterSpec::new(0, &[(1, ops.0), (-1, ops.1)], sync);
    Scenario::counter(name, engine, counter, expect)
        .with_runs(runs)
        .with_seed(SEED)
}

/// Runs a scenario in process; an engine error is a bug in contend, so the bench stops.
/// Schedules are not searched for: the engines' own cost is what is compared here (the search
/// for a minimal schedule is measured on its own, in part 5).
fn run(scenario: &Scenario) -> ScenarioReport {
    let options = RunOptions {
        schedules: false,
        ..RunOptions::default()
    };
    let report = run_scenario(scenario, &options)
        .unwrap_or_else(|error| panic!("scenario `{}` failed: {error}", scenario.name));
    assert!(
        report.failures.is_empty(),
        "scenario `{}` had failed executions: {:?}",
        scenario.name,
        report.failures
    );
    report
}

/// The threads engine with contend's default jitter and barrier.
fn default_threads() -> EngineSpec {
    EngineSpec::Threads(ThreadsSettings::default())
}

/// The threads engine as a plain port: no jitter, no barrier.
fn plain_threads() -> EngineSpec {
    EngineSpec::Threads(ThreadsSettings {
        jitter: None,
        barrier: false,
        parallel: false,
        ..ThreadsSettings::default()
    })
}

/// Times `baseline` and `contend` over [`ROUNDS`] rounds, alternating which goes first, and
/// returns the seconds of each run, baseline first. The closures keep or check their results,
/// so that their work cannot be optimized away.
fn alternate<B, C>(mut baseline: B, mut contend: C) -> (Vec<f64>, Vec<f64>)
where
    B: FnMut(),
    C: FnMut(),
{
    let mut times = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            times.0.push(seconds(&mut baseline));
            times.1.push(seconds(&mut contend));
        } else {
            times.1.push(seconds(&mut contend));
            times.0.push(seconds(&mut baseline));
        }
    }
    times
}

fn seconds(f: &mut impl FnMut()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

fn format_times(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
    format!("[{}] s", parts.join(", "))
}

/// A timed comparison as a table row: medians and their ratio against `max_ratio`.
fn timing_row(name: &str, times: &(Vec<f64>, Vec<f64>), max_ratio: f64) -> Row {
    let (baseline, contend) = (median(&times.0), median(&times.1));
    let ratio = contend / baseline;
    println!("   baseline rounds: {}", format_times(&times.0));
    println!("   contend rounds:  {}", format_times(&times.1));
    println!(
        "   medians: baseline {baseline:.3} s, contend {contend:.3} s, ratio {ratio:.2}x \
         (target <= {max_ratio}x)"
    );
    Row {
        name: name.to_string(),
        baseline: format!("{baseline:.3} s"),
        contend: format!("{contend:.3} s"),
        ratio: format!("{ratio:.2}x"),
        target: format!("<= {max_ratio}x"),
        met: Some(ratio <= max_ratio),
    }
}

fn fraction(hits: u64, runs: u64) -> String {
    format!("{hits}/{runs} ({:.1}%)", 100.0 * hits as f64 / runs as f64)
}

fn rate_ratio(contend: u64, baseline: u64) -> String {
    if baseline == 0 {
        "inf (baseline 0)".to_string()
    } else {
        format!("{:.1}x", contend as f64 / baseline as f64)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Real threads, racy counter.

/// Executions of the naive Rust port that end with a wrong counter: two std threads, spawned
/// one after the other, each doing a relaxed load then store `ops` times.
///
/// The check is the final value only, so lost updates that cancel out (a lost `+1` and a lost
/// `-1`) go unseen.
fn naive_port(ops: u64, runs: u64) -> u64 {
    let mut wrong = 0;
    for _ in 0..runs {
        let counter = Arc::new(AtomicI64::new(0));
        let spawn = |delta: i64| {
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                for _ in 0..ops {
                    let v = counter.load(Ordering::Relaxed);
                    counter.store(v + delta, Ordering::Relaxed);
                }
            })
        };
        let adder = spawn(1);
        let subtracter = spawn(-1);
        adder.join().expect("the naive port does not panic");
        subtracter.join().expect("the naive port does not panic");
        if counter.load(Ordering::Relaxed) != 0 {
            wrong += 1;
        }
    }
    wrong
}

fn racy_threads() -> Vec<Row> {
    const RUNS: u64 = 1000;
    const OPS: u64 = 100;
    let mut rows = Vec::new();

    let contend = run(&counter_scenario(
        "racy-jitter",
        SyncMode::None,
        (OPS, OPS),
        default_threads(),
        RUNS,
    ));
    let plain = run(&counter_scenario(
        "racy-plain",
        SyncMode::None,
        (OPS, OPS),
        plain_threads(),
        RUNS,
    ));
    let naive = naive_port(OPS, RUNS);
    println!(
        "   2 x {OPS} ops, {RUNS} runs: contend default jitter {} lost updates in {} runs \
         ({:.2} s); contend engine without jitter or barrier {} in {} runs ({:.2} s); \
         naive std port {} wrong finals",
        contend.lost_updates,
        contend.failing_runs,
        contend.elapsed_seconds,
        plain.lost_updates,
        plain.failing_runs,
        plain.elapsed_seconds,
        naive
    );
    println!("   default jitter: {:?}", Jitter::default());
    println!(
        "   (the naive port checks the final value only: lost updates that cancel out go unseen)"
    );
    let target = "contend >= 99% of runs";
    let met = contend.failing_runs * 100 >= 99 * RUNS;
    rows.push(Row {
        name: format!("1 racy 2x{OPS}, vs contend engine w/o jitter+barrier"),
        baseline: fraction(plain.failing_runs, RUNS),
        contend: fraction(contend.failing_runs, RUNS),
        ratio: rate_ratio(contend.failing_runs, plain.failing_runs),
        target: target.to_string(),
        met: Some(met),
    });
    rows.push(Row {
        name: format!("1 racy 2x{OPS}, vs naive std-threads port"),
        baseline: fraction(naive, RUNS),
        contend: fraction(contend.failing_runs, RUNS),
        ratio: rate_ratio(contend.failing_runs, naive),
        target: target.to_string(),
        met: Some(met),
    });

    // Other sizes, for information: the naive port against contend's default jitter.
    for (ops, runs) in [(10, 1000), (1_000, 500), (10_000, 200)] {
        let naive = naive_port(ops, runs);
        let contend = run(&counter_scenario(
            "racy-jitter-size",
            SyncMode::None,
            (ops, ops),
            default_threads(),
            runs,
        ));
        println!(
            "   2 x {ops} ops, {runs} runs: naive std port {naive} wrong finals; contend default \
             jitter {} lost updates in {} runs ({:.2} s)",
            contend.lost_updates, contend.failing_runs, contend.elapsed_seconds
        );
        rows.push(Row {
            name: format!("1 racy 2x{ops}, vs naive std-threads port (info)"),
            baseline: fraction(naive, runs),
            contend: fraction(contend.failing_runs, runs),
            ratio: rate_ratio(contend.failing_runs, naive),
            target: "-".to_string(),
            met: None,
        });
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// 14. The counter written as a program.

/// 5,000 shuttle executions of the racy counter 2 x 100 (+1 and -1) as `workload = "program"`
/// against the built-in counter, in the same rounds: the program's interpreter and primitives
/// against the counter's own code. Both lose the same updates (asserted).
fn program_counter() -> Vec<Row> {
    const EXECUTIONS: u64 = 5000;
    const OPS: u64 = 100;
    let counter = counter_scenario(
        "counter-racy",
        SyncMode::None,
        (OPS, OPS),
        EngineSpec::Shuttle(ShuttleSettings::default()),
        EXECUTIONS,
    );
    let config = format!(
        r#"[[scenario]]
name = "program-racy"
workload = "program"
engine = "shuttle"
runs = {EXECUTIONS}
seed = {SEED}
expect = "lost-updates"
[scenario.program]
shared = {{ counter = 0 }}
threads = [
  {{ name = "up", code = "repeat {OPS} {{ counter += 1 }}" }},
  {{ name = "down", code = "repeat {OPS} {{ counter -= 1 }}" }},
]
"#
    );
    let program = contend::config::parse(&config, Path::new("bench.toml"))
        .unwrap_or_else(|error| panic!("{error}"))
        .remove(0);
    let mut warm_up = (counter.clone(), program.clone());
    warm_up.0.runs = 50;
    warm_up.1.runs = 50;
    black_box((run(&warm_up.0), run(&warm_up.1)));
    let (mut built_in, mut written) = (None, None);
    let times = alternate(
        || built_in = Some(black_box(run(&counter))),
        || written = Some(black_box(run(&program))),
    );
    let (built_in, written) = (
        built_in.expect("a round ran"),
        written.expect("a round ran"),
    );
    assert_eq!(
        (built_in.runs, built_in.lost_updates, built_in.overwrites),
        (written.runs, written.lost_updates, written.overwrites),
        "the program and the counter lose different updates"
    );
    println!(
        "   2 x {OPS} ops, {EXECUTIONS} executions, seed {SEED}: {} updates lost by each",
        written.lost_updates
    );
    vec![timing_row(
        &format!("14 program racy 2x{OPS}, {EXECUTIONS} execs: time"),
        &times,
        1.5,
    )]
}

// ---------------------------------------------------------------------------------------------
// 12. --jobs.

/// 20,000 shuttle executions of the racy counter 2 x 100 with 2 jobs against 1 job, in the same
/// rounds; the totals must be equal.
fn parallel_jobs() -> Vec<Row> {
    const EXECUTIONS: u64 = 20_000;
    let scenario = counter_scenario(
        "shuttle-racy-jobs",
        SyncMode::None,
        (100, 100),
        EngineSpec::Shuttle(ShuttleSettings::default()),
        EXECUTIONS,
    );
    let with_jobs = |jobs: usize| {
        let options = RunOptions {
            schedules: false,
            jobs,
            ..RunOptions::default()
        };
        run_scenario(&scenario, &options).unwrap_or_else(|error| panic!("scenario failed: {error}"))
    };
    let (mut one, mut two) = (None, None);
    let times = alternate(
        || one = Some(black_box(with_jobs(1))),
        || two = Some(black_box(with_jobs(2))),
    );
    let (one, two) = (one.expect("one round ran"), two.expect("one round ran"));
    assert_eq!(
        (one.runs, one.failing_runs, one.lost_updates, one.net_lost),
        (two.runs, two.failing_runs, two.lost_updates, two.net_lost),
        "the totals of -j 1 and -j 2 differ"
    );
    println!(
        "   {EXECUTIONS} executions: -j 1 and -j 2 both count {} failing, {} lost updates",
        one.failing_runs, one.lost_updates
    );
    let (baseline, contend) = (median(&times.0), median(&times.1));
    let speedup = baseline / contend;
    println!(
        "   medians: -j 1 {baseline:.3} s, -j 2 {contend:.3} s: {speedup:.2}x faster (target >= 1.7x)"
    );
    vec![Row {
        name: format!("12 shuttle racy 2x100, {EXECUTIONS} execs, -j 2 vs -j 1"),
        baseline: format!("{baseline:.3} s"),
        contend: format!("{contend:.3} s"),
        ratio: format!("{speedup:.2}x faster"),
        target: ">= 1.7x faster".to_string(),
        met: Some(speedup >= 1.7),
    }]
}

// ---------------------------------------------------------------------------------------------
// 3. Real threads, mutex counter.

/// Two std threads adding `+1` and `-1` `ops` times each under a `std::sync::Mutex<i64>`,
/// spawned one after the other.
fn std_mutex_counter(ops: u64) -> i64 {
    let counter = Mutex::new(0i64);
    std::thread::scope(|scope| {
        for delta in [1i64, -1] {
            let counter = &counter;
            scope.spawn(move || {
                for _ in 0..ops {
                    *counter.lock().expect("no thread panics") += delta;
                }
            });
        }
    });
    counter.into_inner().expect("no thread panics")
}

/// The same loop with both threads leaving a spinning start line together, as contend's
/// threads engine starts them: the lock changes hands from the first op, as it does in
/// contend's run, rather than one thread running alone while the other is being spawned.
fn std_mutex_counter_started_together(ops: u64) -> i64 {
    let counter = Mutex::new(0i64);
    let arrived = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for delta in [1i64, -1] {
            let (counter, arrived) = (&counter, &arrived);
            scope.spawn(move || {
                arrived.fetch_add(1, Ordering::AcqRel);
                while arrived.load(Ordering::Acquire) < 2 {
                    std::hint::spin_loop();
                }
                for _ in 0..ops {
                    *counter.lock().expect("no thread panics") += delta;
                }
            });
        }
    });
    counter.into_inner().expect("no thread panics")
}

/// Rounds of the mutex part: a plain two-thread mutex loop is bimodal (about 10 ns per op when
/// one thread keeps re-taking the lock, 70 ns and more when it changes hands), so more rounds
/// than elsewhere, and the median of each round's ratio.
const MUTEX_ROUNDS: usize = 11;

/// Times `baseline` and `contend` `rounds` times, alternating which goes first, and returns
/// each round's seconds, baseline first.
fn alternate_rounds(
    rounds: usize,
    mut baseline: impl FnMut(),
    mut contend: impl FnMut(),
) -> (Vec<f64>, Vec<f64>) {
    let mut times = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        if round % 2 == 0 {
            times.0.push(seconds(&mut baseline));
            times.1.push(seconds(&mut contend));
        } else {
            times.1.push(seconds(&mut contend));
            times.0.push(seconds(&mut baseline));
        }
    }
    times
}

/// A timed comparison judged on the median of each round's ratio (a round's baseline and
/// contend run back to back, under the same load), with the spread of the ratios printed.
fn paired_timing_row(name: &str, times: &(Vec<f64>, Vec<f64>), ops: f64, max_ratio: f64) -> Row {
    let ratios: Vec<f64> = times.1.iter().zip(&times.0).map(|(c, b)| c / b).collect();
    let ratio = median(&ratios);
    let (low, high) = ratios
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let (baseline, contend) = (median(&times.0), median(&times.1));
    println!("   baseline rounds: {}", format_times(&times.0));
    println!("   contend rounds:  {}", format_times(&times.1));
    println!(
        "   per op (medians): baseline {:.1} ns, contend {:.1} ns; ratio per round: median \
         {ratio:.2}x, from {low:.2}x to {high:.2}x (target <= {max_ratio}x)",
        baseline * 1e9 / ops,
        contend * 1e9 / ops
    );
    Row {
        name: name.to_string(),
        baseline: format!("{:.1} ns/op", baseline * 1e9 / ops),
        contend: format!("{:.1} ns/op", contend * 1e9 / ops),
        ratio: format!("{ratio:.2}x ({low:.2}-{high:.2})"),
        target: format!("<= {max_ratio}x"),
        met: Some(ratio <= max_ratio),
    }
}

/// Contend's threads engine on a mutex counter against a plain `std::sync::Mutex` loop whose
/// threads start together as contend's do (the judged baseline), and, for information, the
/// loop whose threads are spawned one after the other (the bimodal baseline used before).
fn mutex_threads() -> Vec<Row> {
    const OPS: u64 = 1_000_000;
    const RUNS: u64 = 5;
    let scenario = counter_scenario(
        "mutex",
        SyncMode::Mutex,
        (OPS, OPS),
        EngineSpec::Threads(ThreadsSettings {
            jitter: None,
            barrier: true,
            parallel: false,
            ..ThreadsSettings::default()
        }),
        1,
    );
    black_box(std_mutex_counter(10_000));
    black_box(std_mutex_counter_started_together(10_000));
    let warm_up = counter_scenario(
        "mutex-warm-up",
        SyncMode::Mutex,
        (10_000, 10_000),
        scenario.engine.clone(),
        1,
    );
    black_box(run(&warm_up));
    let total_ops = (2 * OPS) as f64;
    let mut rows = Vec::new();
    for runs in [1, RUNS] {
        let scenario = scenario.clone().with_runs(runs);
        let subject = || {
            let report = run(&scenario);
            assert_eq!(report.lost_updates, 0, "a mutex loses no update");
            assert_eq!(report.runs, runs);
        };
        let together = || {
            for _ in 0..runs {
                let final_value = black_box(std_mutex_counter_started_together(OPS));
                assert_eq!(final_value, 0, "a mutex loses no update");
            }
        };
        let one_after_the_other = || {
            for _ in 0..runs {
                let final_value = black_box(std_mutex_counter(OPS));
                assert_eq!(final_value, 0, "a mutex loses no update");
            }
        };
        let runs_words = if runs == 1 {
            String::new()
        } else {
            format!(", {runs} runs")
        };
        println!("   {runs} run(s); baseline: std mutex loop, threads started together");
        let times = alternate_rounds(MUTEX_ROUNDS, together, subject);
        rows.push(paired_timing_row(
            &format!(
                "3 threads mutex 2x{OPS}, no jitter{runs_words}: time against a std loop started together"
            ),
            &times,
            total_ops * runs as f64,
            2.0,
        ));
        println!("   {runs} run(s); baseline: std mutex loop, threads spawned one after the other");
        let times = alternate_rounds(MUTEX_ROUNDS, one_after_the_other, subject);
        let mut row = paired_timing_row(
            &format!(
                "3 (information) same{runs_words}: against a std loop spawned one after the other"
            ),
            &times,
            total_ops * runs as f64,
            2.0,
        );
        row.target = "(bimodal baseline)".to_string();
        row.met = None;
        rows.push(row);
    }
    // The ledger's share: the same two locked loops (threads started together) recording into
    // the current ledger, against the ledger that kept a record of every write (contend before
    // its memory work), in the same rounds.
    let threads = [(1i64, OPS), (-1i64, OPS)];
    println!("   the ledger alone: current against a record of every write");
    let times = alternate_rounds(
        MUTEX_ROUNDS,
        || {
            let ledger = ledger_baseline::Ledger::new(AtomicU64::new(0), 10, threads);
            assert_eq!(black_box(two_threads(&ledger, true, threads)), 0);
        },
        || {
            let ledger = Ledger::new(AtomicU64::new(0), 10, threads);
            assert_eq!(black_box(two_threads(&ledger, true, threads)), 0);
        },
    );
    let mut row = paired_timing_row(
        &format!("3 ledger alone, mutex 2x{OPS} on two threads: time against a record per write"),
        &times,
        total_ops,
        1.0,
    );
    row.target = "no worse (<= 1.0x)".to_string();
    rows.push(row);
    ledger_bookkeeping(OPS);
    rows
}

/// Prints what contend's exact accounting costs outside the threads' loops, for a 2 x `ops`
/// counter: allocating the ledger, and settling it (after a sequential fill, without a trace
/// subscriber). For information: it explains part of the gap to a plain mutex loop.
fn ledger_bookkeeping(ops: u64) {
    let (mut setup, mut settle) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let ledger: Ledger<AtomicU64> = Ledger::new(AtomicU64::new(0), 0, [(1, ops), (-1, ops)]);
        setup.push(started.elapsed().as_secs_f64());
        for (thread, delta) in [(0, 1i64), (1, -1)] {
            for op in 0..ops {
                let read = ledger.read();
                ledger.write(thread, op, read, read.value + delta);
            }
        }
        let started = Instant::now();
        let settlement = ledger
            .settle(EventContext {
                scenario: "bookkeeping",
                run: 0,
            })
            .expect("a sequential fill reconciles");
        settle.push(started.elapsed().as_secs_f64());
        assert_eq!(settlement.lost_updates, 0);
    }
    println!(
        "   of which ledger bookkeeping (medians, outside the threads): Ledger::new {:.3} s, \
         Ledger::settle {:.3} s",
        median(&setup),
        median(&settle)
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Memory of `contend run --trace`.

/// The `contend` binary: the one cargo built for this bench, else `target/release/contend`,
/// built with `cargo build --release` if absent.
fn contend_binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_contend").map(PathBuf::from)
        && path.exists()
    {
        return path;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = manifest.join("target/release/contend");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "contend"])
            .current_dir(manifest)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --release failed");
    }
    path
}

/// A finished child run: its peak resident memory, wall time and exit code.
struct ChildRun {
    peak_bytes: u64,
    seconds: f64,
    code: Option<i32>,
}

/// Runs `binary args`, measuring its peak RSS with `/usr/bin/time -v` when present, else by
/// polling the child's `VmHWM` in `/proc` every 5 ms.
fn run_measured(binary: &Path, args: &[&std::ffi::OsStr]) -> ChildRun {
    run_measured_with(binary, args, Stdio::piped)
}

/// [`run_measured`] with the child's standard output sent where `stdout` says (`Stdio::null`
/// for an output too long to keep).
fn run_measured_with(binary: &Path, args: &[&std::ffi::OsStr], stdout: fn() -> Stdio) -> ChildRun {
    let time = Path::new("/usr/bin/time");
    let started = Instant::now();
    if time.exists() {
        let output = Command::new(time)
            .arg("-v")
            .arg(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|child| child.wait_with_output())
            .expect("/usr/bin/time runs");
        let seconds = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let peak_kib = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no peak memory in /usr/bin/time's output:\n{stderr}"));
        if !matches!(output.status.code(), Some(0 | 1)) {
            println!(
                "   child stdout:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
            println!("   child stderr:\n{stderr}");
        }
        return ChildRun {
            peak_bytes: peak_kib * 1024,
            seconds,
            code: output.status.code(),
        };
    }
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the contend binary starts");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(kib) = fs::read_to_string(&status_path).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    ChildRun {
        peak_bytes: peak_kib * 1024,
        seconds: started.elapsed().as_secs_f64(),
        code: status.code(),
    }
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Lines of the trace, and those whose target is `contend::lost_update`.
fn count_trace(path: &Path) -> (u64, u64, u64) {
    let reader = BufReader::with_capacity(1 << 20, File::open(path).expect("the trace exists"));
    let (mut lines, mut lost_update, mut malformed) = (0u64, 0u64, 0u64);
    for line in reader.lines() {
        let line = line.expect("the trace is readable text");
        lines += 1;
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(event) if event["target"] == "contend::lost_update" => lost_update += 1,
            Ok(_) => {}
            Err(_) => malformed += 1,
        }
    }
    (lines, lost_update, malformed)
}

fn overwrites_in(json_report: &Path) -> u64 {
    let text = fs::read_to_string(json_report).expect("contend wrote its JSON report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    report["scenarios"][0]["overwrites"]
        .as_u64()
        .expect("scenarios[0].overwrites is a number")
}

fn trace_memory() -> Vec<Row> {
    const LIMIT_MB: f64 = 200.0;
    let binary = contend_binary();
    let dir = tempfile::Builder::new()
        .prefix("contend-bench-")
        .tempdir()
        .expect("a temporary folder");
    let config = dir.path().join("trace-memory.toml");
    fs::write(
        &config,
        r#"[[scenario]]
name = "trace-memory"
workload = "counter"
engine = "threads"
sync = "none"
threads = [{ delta = 1, ops = 1_000_000 }, { delta = -1, ops = 1_000_001 }]
runs = 1
seed = 1
expect = "lost-updates"
"#,
    )
    .expect("the config is written");
    let trace = dir.path().join("trace.jsonl");
    let (plain_json, traced_json) = (
        dir.path().join("plain.json"),
        dir.path().join("traced.json"),
    );
    let (plain_out, traced_out) = (dir.path().join("plain-out"), dir.path().join("traced-out"));
    println!("   binary: {}", binary.display());

    let plain = run_measured(
        &binary,
        &[
            "run".as_ref(),
            config.as_os_str(),
            "--out".as_ref(),
            plain_out.as_os_str(),
            "--json".as_ref(),
            plain_json.as_os_str(),
        ],
    );
    let traced = run_measured(
        &binary,
        &[
            "run".as_ref(),
            config.as_os_str(),
            "--trace".as_ref(),
            trace.as_os_str(),
            "--out".as_ref(),
            traced_out.as_os_str(),
            "--json".as_ref(),
            traced_json.as_os_str(),
        ],
    );
    println!(
        "   without --trace: peak {:.1} MB, {:.2} s, exit code {:?}, {} overwrites",
        megabytes(plain.peak_bytes),
        plain.seconds,
        plain.code,
        overwrites_in(&plain_json)
    );
    let overwrites = overwrites_in(&traced_json);
    let (lines, events, malformed) = count_trace(&trace);
    let trace_bytes = fs::metadata(&trace).map(|m| m.len()).unwrap_or(0);
    let matches = events == overwrites;
    println!(
        "   with --trace:    peak {:.1} MB, {:.2} s, exit code {:?}, {overwrites} overwrites",
        megabytes(traced.peak_bytes),
        traced.seconds,
        traced.code
    );
    println!(
        "   trace: {lines} lines ({:.1} MB), {events} with target contend::lost_update, \
         {malformed} not JSON",
        megabytes(trace_bytes)
    );
    println!(
        "   trace events == overwrites: {}",
        if matches { "yes" } else { "no" }
    );
    let under = megabytes(traced.peak_bytes) < LIMIT_MB;
    vec![Row {
        name: "4 racy 2x1M --trace: peak RSS".to_string(),
        baseline: format!("{:.1} MB", megabytes(plain.peak_bytes)),
        contend: format!("{:.1} MB", megabytes(traced.peak_bytes)),
        ratio: format!(
            "{:.2}x",
            traced.peak_bytes as f64 / plain.peak_bytes.max(1) as f64
        ),
        target: format!(
            "< {LIMIT_MB} MB, events == overwrites ({events} vs {overwrites}: {})",
            if matches { "yes" } else { "no" }
        ),
        met: Some(under && matches && traced.code == Some(0)),
    }]
}

// ---------------------------------------------------------------------------------------------
// 5. Shrinking the lesson's counter at full size.

/// One execution of the lesson's racy counter (+1 x `ops`, -1 x `ops + 1` from 10) under
/// shuttle, with its minimal schedule searched for and saved in `folder`.
fn racy_lesson_with_schedule(ops: u64, folder: &Path) -> ScenarioReport {
    let counter = CounterSpec::new(10, &[(1, ops), (-1, ops + 1)], SyncMode::None);
    let scenario = Scenario::counter(
        "lesson",
        EngineSpec::Shuttle(ShuttleSettings::default()),
        counter,
        Expectation::LostUpdates,
    )
    .with_runs(1)
    .with_seed(SEED);
    let options = RunOptions {
        artifacts: Some(folder.to_path_buf()),
        ..RunOptions::default()
    };
    run_scenario(&scenario, &options).expect("the ledger reconciles")
}

/// The lesson's racy counter (+1 x 1,000,000, -1 x 1,000,001 from 10) under shuttle, one
/// execution: the time to find, shrink, prove and save its minimal schedule, against the time of
/// the run itself.
fn shrink_lesson() -> Vec<Row> {
    let folder = tempfile::TempDir::new().expect("a temporary folder");
    let report = racy_lesson_with_schedule(1_000_000, folder.path());
    let schedule = report
        .minimal_schedule
        .as_ref()
        .expect("the racy counter has a failing schedule");
    let saved = report
        .schedule_file
        .as_ref()
        .is_some_and(|path| Path::new(path).exists());
    println!(
        "   run: {:.3} s; schedule found, shrunk and saved in {:.3} s more ({} controlled executions)",
        report.elapsed_seconds, schedule.seconds, schedule.executions
    );
    println!(
        "   minimal schedule: {} preemption(s), {} steps, {}; saved: {saved}",
        schedule.preemptions,
        schedule.steps,
        if schedule.proven {
            "proven"
        } else {
            "not proven"
        }
    );
    let met = schedule.seconds <= 2.0 && schedule.preemptions == 1 && schedule.proven && saved;
    vec![Row {
        name: "5 lesson 2x1M under shuttle: shrink + prove + save".to_string(),
        baseline: format!("run {:.3} s", report.elapsed_seconds),
        contend: format!("+{:.3} s", schedule.seconds),
        ratio: format!(
            "{:.2}x",
            (report.elapsed_seconds + schedule.seconds) / report.elapsed_seconds
        ),
        target: "<= 2 s beyond the run; 1 preemption, proven".to_string(),
        met: Some(met),
    }]
}

// ---------------------------------------------------------------------------------------------
// 6. Replay time.

/// `contend replay FILE` on a saved minimal schedule, against `contend --version` (process
/// start, argument parsing and exit), median of 21 runs each, alternating.
fn replay_time() -> Vec<Row> {
    let folder = tempfile::TempDir::new().expect("a temporary folder");
    let report = racy_lesson_with_schedule(1_000, folder.path());
    let file = report.schedule_file.expect("a schedule is saved");
    let binary = contend_binary();
    let time = |args: &[&str], expected: i32| {
        let started = Instant::now();
        let status = Command::new(&binary)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("contend runs");
        assert_eq!(status.code(), Some(expected), "{args:?}");
        started.elapsed().as_secs_f64()
    };
    let (mut baseline, mut replay) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        baseline.push(time(&["--version"], 0));
        replay.push(time(&["replay", &file], 1));
    }
    let (baseline, replay) = (median(&baseline), median(&replay));
    let beyond = replay - baseline;
    println!(
        "   medians: `contend --version` {:.1} ms, `contend replay` {:.1} ms: {:.1} ms of work beyond process start",
        baseline * 1e3,
        replay * 1e3,
        beyond * 1e3
    );
    vec![Row {
        name: "6 replay of a saved minimal schedule".to_string(),
        baseline: format!("{:.1} ms (--version)", baseline * 1e3),
        contend: format!("{:.1} ms", replay * 1e3),
        ratio: format!("+{:.1} ms", beyond * 1e3),
        target: "< 50 ms beyond process start".to_string(),
        met: Some(beyond < 0.050),
    }]
}

// ---------------------------------------------------------------------------------------------
// 7. The lesson's coroutines.

/// The lesson's coroutine counter (+1 x 1,000,000 and -1 x 1,000,001 from 10, no lock, no await
/// inside) on contend's async engine with tokio, 5 executions in one scenario, against the same
/// two tasks written by hand on a tokio current-thread runtime (an atomic read, then write).
/// The lesson's Python took 0.26 s for one run.
fn async_coroutines() -> Vec<Row> {
    const OPS: u64 = 1_000_000;
    const RUNS: u64 = 5;
    let counter = CounterSpec::new(10, &[(1, OPS), (-1, OPS + 1)], SyncMode::None);
    let scenario = Scenario::counter(
        "coroutines",
        EngineSpec::Async(AsyncSettings {
            executor: Executor::Tokio,
            await_in_critical_section: false,
        }),
        counter,
        Expectation::NoLostUpdates,
    )
    .with_runs(RUNS)
    .with_seed(SEED);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let by_hand = || {
        let counter = Arc::new(AtomicI64::new(10));
        runtime.block_on(async {
            let tasks: Vec<_> = [(1i64, OPS), (-1, OPS + 1)]
                .into_iter()
                .map(|(delta, ops)| {
                    let counter = Arc::clone(&counter);
                    tokio::spawn(async move {
                        for _ in 0..ops {
                            // SeqCst, as contend's own swap: relaxed accesses in a loop
                            // may be merged by the compiler, which no real counter would be.
                            let value = counter.load(Ordering::SeqCst);
                            counter.store(black_box(value + delta), Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("the task does not panic");
            }
        });
        assert_eq!(counter.load(Ordering::Relaxed), 9);
    };
    let times = alternate(
        || {
            for _ in 0..RUNS {
                by_hand();
            }
        },
        || {
            let report = run(&scenario);
            assert_eq!(report.lost_updates, 0);
            assert_eq!(report.outcomes[0].value, 9);
        },
    );
    let (baseline, contend) = (
        median(&times.0) / RUNS as f64,
        median(&times.1) / RUNS as f64,
    );
    println!(
        "   per execution: by hand {:.4} s, contend {:.4} s (the lesson's Python: 0.26 s)",
        baseline, contend
    );
    vec![Row {
        name: "7 coroutines 1M/1M+1 on tokio: time per execution".to_string(),
        baseline: format!("{baseline:.4} s by hand"),
        contend: format!("{contend:.4} s"),
        ratio: format!("{:.2}x", contend / baseline),
        target: "< 0.1 s (the lesson: 0.26 s)".to_string(),
        met: Some(contend < 0.1),
    }]
}

/// The lesson's `multiprocessing` example (a managed value and a lock, +1 x 10,000 and
/// -1 x 10,001 from 10), timed from the manager's start to the join, as one line of seconds.
const LESSON_PROCESSES_PY: &str = r#"
import ctypes, multiprocessing, time

def task_1(lock, counter):
    for i in range(10000):
        lock.acquire()
        try:
            counter.value += 1
        finally:
            lock.release()

def task_2(lock, counter):
    for i in range(10001):
        lock.acquire()
        try:
            counter.value -= 1
        finally:
            lock.release()

if __name__ == "__main__":
    started = time.perf_counter()
    lock = multiprocessing.Lock()
    manager = multiprocessing.Manager()
    counter = manager.Value(ctypes.c_int, 10)
    process_1 = multiprocessing.Process(target=task_1, args=(lock, counter))
    process_2 = multiprocessing.Process(target=task_2, args=(lock, counter))
    process_1.start()
    process_2.start()
    process_1.join()
    process_2.join()
    assert counter.value == 9, counter.value
    print(time.perf_counter() - started)
"#;

/// Seconds the lesson's Python example takes, or `None` without a working `python3`.
fn lesson_python_processes() -> Option<f64> {
    let output = Command::new("python3")
        .args(["-c", LESSON_PROCESSES_PY])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

fn processes_lesson() -> Vec<Row> {
    use contend::scenario::{ProcessesSettings, Storage};
    const RUNS: u64 = 5;
    let options = RunOptions {
        schedules: false,
        worker_program: Some(contend_binary()),
        ..RunOptions::default()
    };
    let scenario = |storage| {
        let counter = CounterSpec::new(10, &[(1, 10_000), (-1, 10_001)], SyncMode::Mutex);
        let engine = EngineSpec::Processes(ProcessesSettings {
            storage,
            ..ProcessesSettings::default()
        });
        Scenario::counter("processes", engine, counter, Expectation::NoLostUpdates)
            .with_runs(RUNS)
            .with_seed(SEED)
    };
    let options = &options;
    let per_execution = |storage| {
        let scenario = scenario(storage);
        move || {
            let report = run_scenario(&scenario, options).expect("the processes run");
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            assert_eq!(report.outcomes[0].value, 9);
            assert_eq!(report.lost_updates, 0);
        }
    };
    let mut shared = per_execution(Storage::SharedMemory);
    let mut managed = per_execution(Storage::Manager);
    let mut python = Vec::new();
    let mut memory = Vec::new();
    let mut manager = Vec::new();
    for _ in 0..ROUNDS {
        if let Some(seconds) = lesson_python_processes() {
            python.push(seconds);
        }
        memory.push(seconds(&mut shared) / RUNS as f64);
        manager.push(seconds(&mut managed) / RUNS as f64);
    }
    println!(
        "   contend, shared memory + file lock, per execution: {}",
        format_times(&memory)
    );
    println!(
        "   contend, manager + file lock, per execution:       {}",
        format_times(&manager)
    );
    let (baseline, name) = if python.is_empty() {
        println!("   python3 not found: the lesson's measured 0.94 s stands in");
        (
            0.94,
            "0.94 s (the lesson's Python, measured before)".to_string(),
        )
    } else {
        println!(
            "   the lesson's Python (manager + lock):              {}",
            format_times(&python)
        );
        let median = median(&python);
        (
            median,
            format!("{median:.3} s (the lesson's Python, this run)"),
        )
    };
    let (memory, manager) = (median(&memory), median(&manager));
    vec![
        Row {
            name: "8 processes with lock 2 x 10,000, shared memory: per execution".to_string(),
            baseline: name.clone(),
            contend: format!("{memory:.4} s"),
            ratio: format!("{:.3}x", memory / baseline),
            target: "< 0.2 s".to_string(),
            met: Some(memory < 0.2),
        },
        Row {
            name: "8 processes with lock 2 x 10,000, manager (get/set over a socket)".to_string(),
            baseline: name,
            contend: format!("{manager:.4} s"),
            ratio: format!("{:.3}x", manager / baseline),
            target: "informational".to_string(),
            met: None,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// 9. Shards.

/// A campaign worth splitting: shuttle (random and PCT) and real threads.
const CAMPAIGN: &str = r#"
[defaults]
initial = 10
seed = 42
expect = "lost-updates"
threads = [{ delta = 1, ops = 30 }, { delta = -1, ops = 31 }]

[[scenario]]
name = "random"
engine = "shuttle"
runs = 30000

[[scenario]]
name = "pct"
engine = "shuttle"
scheduler = "pct"
runs = 30000

[[scenario]]
name = "threads"
engine = "threads"
threads = [{ delta = 1, ops = 200 }, { delta = -1, ops = 201 }]
runs = 3000
"#;

/// Runs `contend ARGS` in `dir` and returns its wall time; exit 0 or 1 expected.
fn timed_contend(dir: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let status = Command::new(contend_binary())
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("contend runs");
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "contend {args:?}: {status}"
    );
    started.elapsed().as_secs_f64()
}

fn sharded_campaign() -> Vec<Row> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    fs::write(dir.path().join("campaign.toml"), CAMPAIGN).expect("the config is written");
    let mut whole = Vec::new();
    let mut shards: [Vec<f64>; 3] = Default::default();
    for _ in 0..3 {
        whole.push(timed_contend(
            dir.path(),
            &[
                "run",
                "campaign.toml",
                "-q",
                "--json",
                "whole.json",
                "--out",
                "out-whole",
            ],
        ));
        for (index, times) in shards.iter_mut().enumerate() {
            let shard = format!("{}/3", index + 1);
            let json = format!("shard-{}.json", index + 1);
            let out = format!("out-{}", index + 1);
            times.push(timed_contend(
                dir.path(),
                &[
                    "run",
                    "campaign.toml",
                    "-q",
                    "--shard",
                    &shard,
                    "--json",
                    &json,
                    "--out",
                    &out,
                ],
            ));
        }
    }
    timed_contend(
        dir.path(),
        &[
            "merge",
            "shard-1.json",
            "shard-2.json",
            "shard-3.json",
            "--json",
            "merged.json",
        ],
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(dir.path().join(name)).expect("a report"))
            .expect("JSON")
    };
    let (whole_report, merged) = (read("whole.json"), read("merged.json"));
    let fields = [
        "runs",
        "failing_runs",
        "lost_updates",
        "overwrites",
        "net_lost",
        "outcomes",
    ];
    // Real threads differ from run to run; their totals are compared by runs alone.
    let equal = whole_report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .zip(merged["scenarios"].as_array().expect("scenarios"))
        .all(|(w, m)| match w["engine"].as_str() {
            Some("shuttle") => fields.iter().all(|f| w[f] == m[f]),
            _ => w["runs"] == m["runs"],
        });
    let whole = median(&whole);
    println!("   unsharded: {whole:.3} s (median of 3)");
    let slowest = shards.iter().map(|times| median(times)).fold(0.0, f64::max);
    for (index, times) in shards.iter().enumerate() {
        println!(
            "   shard {}/3: {} median {:.3} s = {:.0}% of unsharded",
            index + 1,
            format_times(times),
            median(times),
            100.0 * median(times) / whole
        );
    }
    println!(
        "   merged totals equal the unsharded ones (shuttle: every field; threads: runs): {equal}"
    );
    vec![
        Row {
            name: "9 campaign in 3 shards: slowest shard".to_string(),
            baseline: format!("{whole:.3} s unsharded"),
            contend: format!("{slowest:.3} s"),
            ratio: format!("{:.2}x", slowest / whole),
            target: "<= 0.4x".to_string(),
            met: Some(slowest / whole <= 0.4),
        },
        Row {
            name: "9 merged totals equal the unsharded run's".to_string(),
            baseline: "unsharded report".to_string(),
            contend: if equal { "equal" } else { "DIFFERENT" }.to_string(),
            ratio: "-".to_string(),
            target: "equal".to_string(),
            met: Some(equal),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// 10. Progress.

/// Runs `contend ARGS` in `dir` on a pseudo-terminal (`script`), so that stderr is a terminal
/// and the progress bar is drawn; returns its wall time, or `None` without `script`.
fn timed_on_terminal(dir: &Path, args: &str) -> Option<f64> {
    let command = format!("{} {args}", contend_binary().display());
    let started = Instant::now();
    let status = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    matches!(status.code(), Some(0 | 1)).then(|| started.elapsed().as_secs_f64())
}

fn progress_cost() -> Vec<Row> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    fs::write(
        dir.path().join("progress.toml"),
        "[[scenario]]\nname = \"racy\"\nengine = \"shuttle\"\nseed = 42\n\
         threads = [{ delta = 1, ops = 100 }, { delta = -1, ops = 101 }]\nruns = 10000\n\
         expect = \"lost-updates\"\n",
    )
    .expect("the config is written");
    let quiet = "run progress.toml -q --out out";
    let shown = "run progress.toml --out out";
    if timed_on_terminal(dir.path(), quiet).is_none() {
        println!("   `script` is not available: no terminal to draw the bar on");
        return Vec::new();
    }
    let mut times = (Vec::new(), Vec::new());
    for round in 0..2 * ROUNDS {
        let (first, second) = if round % 2 == 0 {
            (quiet, shown)
        } else {
            (shown, quiet)
        };
        let a = timed_on_terminal(dir.path(), first).expect("contend runs");
        let b = timed_on_terminal(dir.path(), second).expect("contend runs");
        let (q, s) = if round % 2 == 0 { (a, b) } else { (b, a) };
        times.0.push(q);
        times.1.push(s);
    }
    vec![timing_row(
        "10 progress bar vs -q, 10,000 shuttle executions",
        &times,
        1.02,
    )]
}

// ---------------------------------------------------------------------------------------------
// 11. The ledger's memory and time per op.

/// The first argument that makes this bench a child running one ledger workload.
const LEDGER_CHILD: &str = "ledger-child";

/// The two ledgers the children run: the same read-then-write loop on each.
trait BenchLedger: Sync {
    fn increment(&self, thread: usize, op: u64, delta: i64);
    fn lost_updates(&self) -> u64;
}

impl BenchLedger for Ledger<AtomicU64> {
    #[inline]
    fn increment(&self, thread: usize, op: u64, delta: i64) {
        let read = self.read();
        self.write(thread, op, read, read.value.wrapping_add(delta));
    }

    fn lost_updates(&self) -> u64 {
        let context = EventContext {
            scenario: "bench",
            run: 0,
        };
        self.settle(context)
            .expect("the ledger reconciles")
            .lost_updates
    }
}

impl BenchLedger for ledger_baseline::Ledger<AtomicU64> {
    #[inline]
    fn increment(&self, thread: usize, op: u64, delta: i64) {
        let read = self.read();
        self.write(thread, op, read, read.value.wrapping_add(delta));
    }

    fn lost_updates(&self) -> u64 {
        let context = EventContext {
            scenario: "bench",
            run: 0,
        };
        self.settle(context)
            .expect("the ledger reconciles")
            .lost_updates
    }
}

/// The child: `ledger-child current|baseline mutex|none OPS RESULT_FILE`. Makes the ledger, runs
/// +1 x OPS and -1 x OPS on two threads started together (with a std mutex around each update
/// for `mutex`), settles, and writes `seconds lost_updates` to RESULT_FILE.
fn ledger_child(args: &[String]) -> ExitCode {
    let [which, sync, ops, result] = args else {
        eprintln!("usage: {LEDGER_CHILD} current|baseline mutex|none OPS RESULT_FILE");
        return ExitCode::from(2);
    };
    let ops: u64 = ops.parse().expect("OPS is a number");
    let locked = sync == "mutex";
    let threads = [(1i64, ops), (-1i64, ops)];
    let started = Instant::now();
    let lost = match which.as_str() {
        "current" => two_threads(
            &Ledger::new(AtomicU64::new(0), 10, threads),
            locked,
            threads,
        ),
        _ => two_threads(
            &ledger_baseline::Ledger::new(AtomicU64::new(0), 10, threads),
            locked,
            threads,
        ),
    };
    let seconds = started.elapsed().as_secs_f64();
    fs::write(result, format!("{seconds} {lost}\n")).expect("the result file is written");
    ExitCode::SUCCESS
}

fn two_threads(ledger: &impl BenchLedger, locked: bool, threads: [(i64, u64); 2]) -> u64 {
    let lock = Mutex::new(());
    let arrived = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (thread, (delta, ops)) in threads.into_iter().enumerate() {
            let (lock, arrived) = (&lock, &arrived);
            scope.spawn(move || {
                arrived.fetch_add(1, Ordering::AcqRel);
                while arrived.load(Ordering::Acquire) < 2 {
                    std::hint::spin_loop();
                }
                for op in 0..ops {
                    let _guard = locked.then(|| lock.lock().unwrap());
                    ledger.increment(thread, op, delta);
                }
            });
        }
    });
    ledger.lost_updates()
}

/// One child run: its peak memory, the time it measured itself and its lost updates.
fn ledger_child_run(which: &str, sync: &str, ops: u64, dir: &Path) -> (u64, f64, u64) {
    let result = dir.join(format!("{which}-{sync}-{ops}.txt"));
    let binary = std::env::current_exe().expect("the bench knows its own path");
    let child = run_measured(
        &binary,
        &[
            LEDGER_CHILD.as_ref(),
            which.as_ref(),
            sync.as_ref(),
            ops.to_string().as_ref(),
            result.as_os_str(),
        ],
    );
    assert_eq!(child.code, Some(0), "the ledger child failed");
    let text = fs::read_to_string(&result).expect("the child wrote its result");
    let mut words = text.split_whitespace();
    let seconds: f64 = words.next().and_then(|w| w.parse().ok()).expect("seconds");
    let lost: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("lost updates");
    (child.peak_bytes, seconds, lost)
}

/// Pairs of ledger children (baseline and current, back to back) per row of part 11.
const LEDGER_PAIRS: usize = 5;

fn ledger_memory() -> Vec<Row> {
    let dir = tempfile::Builder::new()
        .prefix("contend-bench-")
        .tempdir()
        .expect("a temporary folder");
    let mut rows = Vec::new();
    for (sync, ops, limit_mb) in [("mutex", 1_000_000u64, 10.0), ("none", 10_000_000, 150.0)] {
        let (mut baseline, mut current) = (Vec::new(), Vec::new());
        for pair in 0..LEDGER_PAIRS {
            // Alternating which goes first, so that neither always meets the same load.
            if pair % 2 == 0 {
                baseline.push(ledger_child_run("baseline", sync, ops, dir.path()));
                current.push(ledger_child_run("current", sync, ops, dir.path()));
            } else {
                current.push(ledger_child_run("current", sync, ops, dir.path()));
                baseline.push(ledger_child_run("baseline", sync, ops, dir.path()));
            }
        }
        let peak = |runs: &[(u64, f64, u64)]| runs.iter().map(|r| r.0).max().unwrap_or(0);
        let per_op = |runs: &[(u64, f64, u64)]| {
            let times: Vec<f64> = runs.iter().map(|r| r.1).collect();
            median(&times) / (2 * ops) as f64 * 1e9
        };
        for (name, runs) in [("baseline", &baseline), ("current", &current)] {
            let described: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.1} MB {:.3} s {} lost", megabytes(r.0), r.1, r.2))
                .collect();
            println!("   {sync} 2 x {ops} {name}: {}", described.join("; "));
        }
        let (baseline_peak, current_peak) = (peak(&baseline), peak(&current));
        rows.push(Row {
            name: format!("11 ledger {sync} 2x{}M: peak RSS (child)", ops / 1_000_000),
            baseline: format!("record per write: {:.1} MB", megabytes(baseline_peak)),
            contend: format!("{:.1} MB", megabytes(current_peak)),
            ratio: format!("{:.2}x", current_peak as f64 / baseline_peak.max(1) as f64),
            target: format!("< {limit_mb} MB"),
            met: Some(megabytes(current_peak) < limit_mb),
        });
        let (baseline_ns, current_ns) = (per_op(&baseline), per_op(&current));
        // Judged on the median of each pair's ratio: a pair runs back to back, under one load.
        let ratios: Vec<f64> = current
            .iter()
            .zip(&baseline)
            .map(|(c, b)| c.1 / b.1)
            .collect();
        let ratio = median(&ratios);
        rows.push(Row {
            name: format!(
                "11 ledger {sync} 2x{}M: time per op, {LEDGER_PAIRS} pairs",
                ops / 1_000_000
            ),
            baseline: format!("record per write: {baseline_ns:.1} ns"),
            contend: format!("{current_ns:.1} ns"),
            ratio: format!("{ratio:.2}x (median of the pairs' ratios)"),
            target: "no worse than the baseline (<= 1.0x)".to_string(),
            met: Some(ratio <= 1.0),
        });
    }
    rows.extend(contend_run_memory(dir.path()));
    rows
}

/// The peak memory of `contend run` on the lesson-size mutex run and a racy 2 x 10M run (real
/// threads, default jitter), against `contend --version`.
fn contend_run_memory(dir: &Path) -> Vec<Row> {
    let binary = contend_binary();
    let floor = run_measured(&binary, &["--version".as_ref()]);
    let mut rows = Vec::new();
    for (name, sync, ops, expect, limit_mb) in [
        ("mutex", "mutex", "1_000_000", "no-lost-updates", 10.0),
        ("racy", "none", "10_000_000", "lost-updates", 150.0),
    ] {
        let config = dir.join(format!("{name}.toml"));
        fs::write(
            &config,
            format!(
                "[[scenario]]\nname = \"{name}\"\nworkload = \"counter\"\nengine = \"threads\"\n\
                 sync = \"{sync}\"\ninitial = 10\n\
                 threads = [{{ delta = 1, ops = {ops} }}, {{ delta = -1, ops = {ops} }}]\n\
                 runs = 1\nseed = 42\nexpect = \"{expect}\"\n"
            ),
        )
        .expect("the config is written");
        let out = dir.join(format!("{name}-out"));
        let run = run_measured(
            &binary,
            &[
                "run".as_ref(),
                config.as_os_str(),
                "-q".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        );
        println!(
            "   contend run {name} 2 x {ops}: peak {:.1} MB, {:.2} s, exit code {:?}",
            megabytes(run.peak_bytes),
            run.seconds,
            run.code
        );
        rows.push(Row {
            name: format!("11 contend run, threads, {name} 2 x {ops}: peak RSS"),
            baseline: format!("contend --version: {:.1} MB", megabytes(floor.peak_bytes)),
            contend: format!("{:.1} MB", megabytes(run.peak_bytes)),
            ratio: format!(
                "{:.2}x",
                run.peak_bytes as f64 / floor.peak_bytes.max(1) as f64
            ),
            target: format!("< {limit_mb} MB"),
            met: Some(megabytes(run.peak_bytes) < limit_mb && run.code == Some(0)),
        });
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// 13. The memory of a long replay.

/// `contend replay` of the lesson's full-size `--no-shrink` schedule (+1 x 1,000,000 and
/// -1 x 1,000,001 under shuttle: a 27 MB file, 4,000,002 steps): its peak memory with the default
/// output, which keeps a window of the steps, against `--full`, which keeps every one (its
/// 350 MB of output sent to /dev/null), measured in the same run.
fn replay_memory() -> Vec<Row> {
    let binary = contend_binary();
    let dir = tempfile::TempDir::new().expect("a temporary folder");
    let config = dir.path().join("lesson.toml");
    fs::write(
        &config,
        "[[scenario]]\nname = \"lesson\"\nworkload = \"counter\"\nengine = \"shuttle\"\n\
         scheduler = \"random\"\nsync = \"none\"\ninitial = 10\n\
         threads = [{ delta = 1, ops = 1_000_000 }, { delta = -1, ops = 1_000_001 }]\n\
         runs = 1\nseed = 42\nexpect = \"lost-updates\"\n",
    )
    .expect("the config is written");
    let out = dir.path().join("out");
    let status = Command::new(&binary)
        .args(["run".as_ref(), config.as_os_str(), "-q".as_ref()])
        .args(["--no-shrink".as_ref(), "--out".as_ref(), out.as_os_str()])
        .stdout(Stdio::null())
        .status()
        .expect("contend runs");
    assert_eq!(status.code(), Some(0), "contend run --no-shrink");
    let file = out.join("lesson.schedule.toml");
    let size = fs::metadata(&file).expect("the schedule is saved").len();
    let replay = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["replay".as_ref(), file.as_os_str()];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        let run = run_measured_with(&binary, &args, Stdio::null);
        assert_eq!(
            run.code,
            Some(1),
            "contend replay {extra:?}: the failure reproduces"
        );
        run
    };
    let full = replay(&["--full"]);
    let window = replay(&[]);
    println!(
        "   schedule file {:.1} MB; contend replay: peak {:.1} MB in {:.2} s; with --full: peak \
         {:.1} MB in {:.2} s",
        megabytes(size),
        megabytes(window.peak_bytes),
        window.seconds,
        megabytes(full.peak_bytes),
        full.seconds
    );
    vec![
        Row {
            name: format!(
                "13 contend replay, lesson's --no-shrink schedule ({:.0} MB): peak RSS",
                megabytes(size)
            ),
            baseline: format!("--full: {:.1} MB", megabytes(full.peak_bytes)),
            contend: format!("{:.1} MB", megabytes(window.peak_bytes)),
            ratio: format!(
                "{:.2}x",
                window.peak_bytes as f64 / full.peak_bytes.max(1) as f64
            ),
            target: "< 200 MB".to_string(),
            met: Some(megabytes(window.peak_bytes) < 200.0),
        },
        Row {
            name: "13 same: time".to_string(),
            baseline: format!("--full: {:.2} s", full.seconds),
            contend: format!("{:.2} s", window.seconds),
            ratio: format!("{:.2}x", window.seconds / full.seconds.max(1e-9)),
            target: "< 5 s".to_string(),
            met: Some(window.seconds < 5.0),
        },
    ]
}
