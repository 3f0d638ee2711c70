//! Parts 2, `shuttle`, and 16, `shuttle-tiny`: contend's shuttle engine against the same body
//! written as a plain shuttle test, in the same rounds. Part 2 runs the racy counter 2 x 100
//! (where the cost per access tells), part 16 the counter 2 x 1, the size the shrinker and
//! `dfs` live on (where the cost per execution tells). Target for both: at most 1.2x.
//!
//! Both sides lose the same updates: the hand-written test, run once more under contend's own
//! block schedulers and with the one access contend adds (the ledger's store of the initial
//! value before the threads start), must count as many executions with a wrong final value as
//! contend does (asserted), so the two bodies make the same scheduling points in the same
//! order. The timed baseline is the plain test, without that store.

use std::hint::black_box;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contend::engine::SHUTTLE_BLOCK;
use contend::engine::controlled::block_scheduler;
use contend::engine::shuttle::quiet_config;
use contend::report::ScenarioReport;
use contend::scenario::{DEFAULT_MAX_STEPS, EngineSpec, SchedulerKind, ShuttleSettings, SyncMode};
use shuttle::scheduler::Scheduler;

use super::{Row, SEED, alternate, counter_scenario, run, timing_row};

/// The racy counter as a plain shuttle test: a main task spawns two tasks, one adding +1 and
/// one -1 `ops` times (a load, then a store), joins them and checks the final value. Runs as
/// many executions as `scheduler` gives and returns how many ended on a wrong final value.
/// With `as_contend`, the main task first stores the counter's initial value, as contend's
/// ledger does (one scheduling point more), so that both draw the same random choices.
fn racy_counter_by_hand(scheduler: impl Scheduler + 'static, ops: u64, as_contend: bool) -> u64 {
    use shuttle::sync::atomic::{AtomicI64, Ordering::SeqCst};

    let wrong = Arc::new(AtomicU64::new(0));
    let body = {
        let wrong = Arc::clone(&wrong);
        move || {
            let counter = Arc::new(AtomicI64::new(0));
            if as_contend {
                counter.store(0, SeqCst);
            }
            let handles: Vec<_> = [1i64, -1]
                .into_iter()
                .map(|delta| {
                    let counter = Arc::clone(&counter);
                    shuttle::thread::spawn(move || {
                        for _ in 0..ops {
                            let v = counter.load(SeqCst);
                            counter.store(v + delta, SeqCst);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().expect("the shuttle body does not panic");
            }
            if counter.load(SeqCst) != 0 {
                wrong.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    shuttle::Runner::new(scheduler, quiet_config(DEFAULT_MAX_STEPS)).run(body);
    wrong.load(Ordering::Relaxed)
}

/// The baseline: `executions` of the racy counter 2 x `ops` under one random scheduler, as a
/// hand-written shuttle test is written.
fn shuttle_by_hand(executions: u64, ops: u64) -> u64 {
    let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(SEED, executions as usize);
    racy_counter_by_hand(scheduler, ops, false)
}

/// The hand-written test under the schedulers contend's engine uses for a scenario of
/// `executions` random executions (one per block of [`SHUTTLE_BLOCK`]), with the initial store
/// contend's ledger makes: executions with a wrong final value.
fn by_hand_in_contends_blocks(executions: u64, ops: u64) -> u64 {
    (0..executions.div_ceil(SHUTTLE_BLOCK))
        .map(|block| {
            let start = block * SHUTTLE_BLOCK;
            let block: Range<u64> = start..(start + SHUTTLE_BLOCK).min(executions);
            racy_counter_by_hand(
                block_scheduler(SchedulerKind::Random, SEED, &block),
                ops,
                true,
            )
        })
        .sum()
}

/// Executions of a report that ended on a wrong final value.
fn wrong_finals(report: &ScenarioReport) -> u64 {
    let right = report
        .outcomes
        .iter()
        .filter(|outcome| outcome.value == report.expected_final)
        .map(|outcome| outcome.count)
        .sum::<u64>();
    report.runs - right
}

/// Times `executions` of the racy counter 2 x `ops` through contend's engine against the
/// hand-written test, alternating in the same rounds, after checking that both bodies lose
/// the same updates under the same schedules.
fn engine_against_by_hand(part: &str, executions: u64, ops: u64) -> Row {
    let scenario = counter_scenario(
        "shuttle-racy",
        SyncMode::None,
        (ops, ops),
        EngineSpec::Shuttle(ShuttleSettings::default()),
        executions,
    );
    // Warm up both (contend installs its panic hook on first use), and check that they agree.
    let report = run(&scenario);
    let by_hand = by_hand_in_contends_blocks(executions, ops);
    assert_eq!(
        wrong_finals(&report),
        by_hand,
        "contend and the hand-written test under the same schedulers end on different final values"
    );
    println!(
        "   2 x {ops} ops, {executions} executions, seed {SEED}: under the same schedulers both \
         end {by_hand} executions on a wrong final value; contend counts {} with a lost update \
         ({} lost updates)",
        report.lost_update_runs, report.lost_updates
    );
    black_box(shuttle_by_hand(executions / 10, ops));

    let mut by_hand = Vec::new();
    let mut engine = Vec::new();
    let times = alternate(
        || by_hand.push(black_box(shuttle_by_hand(executions, ops))),
        || {
            let report = run(&scenario);
            assert_eq!(report.runs, executions, "contend ran every execution");
            engine.push(black_box(report.lost_update_runs));
        },
    );
    println!(
        "   per round: hand-written (one random scheduler) {by_hand:?} wrong final values, \
         contend {engine:?} executions with a lost update"
    );
    let row = timing_row(
        &format!("{part} shuttle racy 2x{ops}, {executions} execs: time"),
        &times,
        1.2,
    );
    let per_second = |seconds: &str| {
        let seconds: f64 = seconds.trim_end_matches(" s").parse().unwrap_or(f64::NAN);
        executions as f64 / seconds
    };
    println!(
        "   executions per second: hand-written {:.0}, contend {:.0}",
        per_second(&row.baseline),
        per_second(&row.contend)
    );
    row
}

/// Part 2: 5,000 executions of the racy counter 2 x 100.
pub(super) fn shuttle_engine() -> Vec<Row> {
    vec![engine_against_by_hand("2", 5_000, 100)]
}

/// Part 16: 100,000 executions of the racy counter 2 x 1.
pub(super) fn shuttle_tiny() -> Vec<Row> {
    vec![engine_against_by_hand("16", 100_000, 1)]
}
