//! Every engine counts lost updates exactly, and the sync modes behave as their names promise.

use crate::common;

use common::{all_engines, counter, shuttle, threads};
use contend::report::{ScenarioReport, Verdict};
use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{EngineSpec, Expectation, SchedulerKind, SyncMode};

fn run(scenario: &contend::scenario::Scenario) -> ScenarioReport {
    run_scenario(scenario, &RunOptions::default()).expect("the ledger reconciles every execution")
}

/// The histogram of final values, read from the counter itself, must account for exactly the
/// deltas the ledger says were lost.
fn assert_reconciles(report: &ScenarioReport) {
    let shortfall: i128 = report
        .outcomes
        .iter()
        .map(|o| i128::from(report.expected_final - o.value) * i128::from(o.count))
        .sum();
    assert_eq!(
        shortfall, report.net_lost,
        "{}: histogram and ledger disagree",
        report.name
    );
    let executions: u64 = report.outcomes.iter().map(|o| o.count).sum();
    assert_eq!(executions, report.runs, "{}", report.name);
    if report.lost_updates > 0 {
        // One stale write can discard several updates, so there may be fewer overwrites than
        // lost updates, but never none.
        assert!(report.overwrites > 0, "{}", report.name);
    }
}

#[test]
fn lost_updates_reconcile_on_every_engine_for_many_shapes() {
    let shapes: &[(i64, &[(i64, u64)])] = &[
        (10, &[(1, 100), (-1, 101)]),
        (0, &[(1, 50), (1, 50), (1, 50)]),
        (-5, &[(3, 40), (-7, 30), (11, 20), (2, 10)]),
        (1_000, &[(1, 200), (-1, 200), (5, 100), (-5, 100), (1, 1)]),
    ];
    for engine in all_engines() {
        for (index, (initial, shape)) in shapes.iter().enumerate() {
            for seed in [1, 2, 3] {
                let scenario = counter(
                    &format!("shape-{index}-{}-{seed}", engine.name()),
                    engine.clone(),
                    SyncMode::None,
                    *initial,
                    shape,
                    Expectation::LostUpdates,
                )
                .with_runs(200)
                .with_seed(seed);
                let report = run(&scenario);
                assert_eq!(report.runs, 200);
                assert_reconciles(&report);
            }
        }
    }
}

/// On real threads the race shows in 99.2% to 99.5% of runs of 2 x 100 to 2 x 300 ops (2,000
/// runs, 2 cores). Sized for a loaded CI machine where it shows in only half of them: the
/// chance that 300 runs lose nothing is then 2^-300, far below one in a million.
#[test]
fn when_every_delta_is_one_the_lost_updates_are_the_shortfall() {
    for engine in all_engines() {
        let scenario = counter(
            "ones",
            engine,
            SyncMode::None,
            0,
            &[(1, 300), (1, 300)],
            Expectation::LostUpdates,
        )
        .with_runs(300)
        .with_seed(9);
        let report = run(&scenario);
        let shortfall: u64 = report
            .outcomes
            .iter()
            .map(|o| (600 - o.value) as u64 * o.count)
            .sum();
        assert_eq!(report.lost_updates, shortfall);
        assert!(report.lost_updates > 0, "{}: no update lost", report.engine);
        assert_eq!(report.verdict, Verdict::Pass);
    }
}

/// Real threads run 100 executions, the controlled engines 300: three threads on two cores with
/// a spin lock, on a machine others load, spin while the holder waits for a core.
#[test]
fn correct_sync_modes_never_lose_an_update() {
    for sync in [SyncMode::Mutex, SyncMode::Atomic, SyncMode::Spin] {
        for engine in all_engines() {
            let runs = if engine == threads() { 100 } else { 300 };
            let scenario = counter(
                &format!("{sync}-{}", engine.name()),
                engine,
                sync,
                10,
                &[(1, 200), (-1, 201), (2, 50)],
                Expectation::NoLostUpdates,
            )
            .with_runs(runs)
            .with_seed(5);
            let report = run(&scenario);
            assert_eq!(report.lost_updates, 0, "{sync} on {}", report.engine);
            assert_eq!(report.failing_runs, 0);
            assert_eq!(report.outcomes.len(), 1);
            assert_eq!(report.outcomes[0].value, 109);
            assert_eq!(report.verdict, Verdict::Pass, "{}", report.reason);
        }
    }
}

#[test]
fn dfs_explores_every_schedule_of_a_small_mutex_counter_without_a_loss() {
    let scenario = counter(
        "dfs-mutex",
        shuttle(SchedulerKind::Dfs),
        SyncMode::Mutex,
        0,
        &[(1, 2), (-1, 2)],
        Expectation::NoLostUpdates,
    )
    .with_runs(1_000_000)
    .with_seed(0);
    let report = run(&scenario);
    // DFS ends when the schedules are exhausted, long before the bound.
    assert!(
        report.runs > 1 && report.runs < 1_000_000,
        "{} runs",
        report.runs
    );
    assert_eq!(report.lost_updates, 0);
}

#[test]
fn dfs_finds_the_lost_update_of_the_racy_counter() {
    let scenario = counter(
        "dfs-racy",
        shuttle(SchedulerKind::Dfs),
        SyncMode::None,
        0,
        &[(1, 1), (1, 1)],
        Expectation::LostUpdates,
    )
    .with_runs(100)
    .with_seed(0);
    let report = run(&scenario);
    assert!(report.lost_updates > 0);
    assert!(
        report.outcomes.iter().any(|o| o.value == 1),
        "{:?}",
        report.outcomes
    );
    assert!(
        report.outcomes.iter().any(|o| o.value == 2),
        "{:?}",
        report.outcomes
    );
}

/// On real threads the flag lock loses updates in 98.9% of runs of 2 x 100 ops (2,000 runs, 2
/// cores). Even at one run in two on a loaded machine, 1,000 runs all losing nothing has a
/// chance of 2^-1000: far below one in a million.
#[test]
fn the_flag_lock_is_shown_broken_on_every_engine() {
    for engine in all_engines() {
        let scenario = counter(
            "flag",
            engine,
            SyncMode::Flag,
            0,
            &[(1, 100), (-1, 100)],
            Expectation::NoLostUpdates,
        )
        .with_runs(1000)
        .with_seed(11);
        let report = run(&scenario);
        assert!(
            report.lost_updates > 0,
            "the flag lock lost nothing on {}",
            report.engine
        );
        assert_eq!(report.verdict, Verdict::Fail);
        assert_reconciles(&report);
    }
}

#[test]
fn an_expected_bug_that_does_not_show_fails_the_scenario() {
    let scenario = counter(
        "mutex-expecting-bug",
        threads(),
        SyncMode::Mutex,
        0,
        &[(1, 100), (1, 100)],
        Expectation::LostUpdates,
    )
    .with_runs(20)
    .with_seed(1);
    let report = run(&scenario);
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.reason.contains("none of 20"), "{}", report.reason);
}

/// On real threads 2 x 100 racy ops lose an update in 99.2% of runs; the chance that none of
/// 500 does, even at one run in two, is 2^-500: far below one in a million.
#[test]
fn fail_fast_stops_at_the_first_unexpected_lost_update() {
    for engine in [threads(), shuttle(SchedulerKind::Random)] {
        let scenario = counter(
            "racy",
            engine,
            SyncMode::None,
            0,
            &[(1, 100), (1, 100)],
            Expectation::NoLostUpdates,
        )
        .with_runs(500)
        .with_seed(3);
        let report = run_scenario(
            &scenario,
            &RunOptions {
                fail_fast: true,
                ..RunOptions::default()
            },
        )
        .unwrap();
        assert_eq!(report.failing_runs, 1, "{}", report.engine);
        assert!(report.runs < 500);
        let stops = report
            .notes
            .iter()
            .filter(|n| n.contains("--fail-fast"))
            .count();
        assert_eq!(stops, 1, "{:?}", report.notes);
        assert_eq!(report.verdict, Verdict::Fail);
    }
}

#[test]
fn the_same_seed_gives_the_same_shuttle_results() {
    for scheduler in [SchedulerKind::Random, SchedulerKind::Pct { depth: 2 }] {
        let scenario = counter(
            "seeded",
            shuttle(scheduler),
            SyncMode::None,
            10,
            &[(1, 30), (-1, 31)],
            Expectation::LostUpdates,
        )
        .with_runs(300)
        .with_seed(77);
        let first = run(&scenario);
        let second = run(&scenario);
        assert_eq!(first.outcomes, second.outcomes);
        assert_eq!(first.lost_updates, second.lost_updates);
        assert_eq!(first.overwrites, second.overwrites);
    }
}

#[test]
fn without_barrier_and_jitter_the_threads_engine_is_a_plain_run() {
    let engine = EngineSpec::Threads(contend::scenario::ThreadsSettings {
        jitter: None,
        barrier: false,
        parallel: false,
        ..contend::scenario::ThreadsSettings::default()
    });
    let scenario = counter(
        "quiet",
        engine,
        SyncMode::Mutex,
        10,
        &[(1, 1000), (-1, 1001)],
        Expectation::NoLostUpdates,
    )
    .with_runs(20)
    .with_seed(1);
    let report = run(&scenario);
    assert_eq!(report.outcomes[0].value, 9);
    assert_eq!(report.verdict, Verdict::Pass);
}

/// The lesson's racy counter (its 2 x 1,000,000 ops run whole in the main job) at a tenth of
/// its size on real threads with jitter loses updates unless its two threads never overlap at
/// all, which a loaded machine can make happen (one thread preempted at the start line while
/// the other runs all its ops). 100 of 100 runs lost updates, idle and at load 8 on 2 cores;
/// sized for a run that misses one time in six: 8 runs all losing nothing has a chance of
/// (1/6)^8, below one in a million. (Requiring every run to lose, as
/// this test did, failed on a loaded machine.)
#[test]
fn the_lessons_racy_counter_loses_updates_on_real_threads() {
    let scenario = counter(
        "lesson",
        threads(),
        SyncMode::None,
        10,
        &[(1, 100_000), (-1, 100_001)],
        Expectation::LostUpdates,
    )
    .with_runs(8)
    .with_seed(42);
    let report = run(&scenario);
    assert!(report.failing_runs > 0, "{report:#?}");
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.expected_final, 9);
    assert_reconciles(&report);
}

fn async_engine(
    executor: contend::scenario::Executor,
    await_in_critical_section: bool,
) -> EngineSpec {
    EngineSpec::Async(contend::scenario::AsyncSettings {
        executor,
        await_in_critical_section,
    })
}

fn async_executors() -> Vec<contend::scenario::Executor> {
    vec![
        contend::scenario::Executor::Tokio,
        contend::scenario::Executor::Shuttle(contend::scenario::ShuttleSettings::default()),
        contend::scenario::Executor::Shuttle(contend::scenario::ShuttleSettings {
            scheduler: SchedulerKind::Pct { depth: 2 },
            ..contend::scenario::ShuttleSettings::default()
        }),
    ]
}

#[test]
fn async_tasks_without_an_await_inside_never_lose_an_update() {
    for executor in async_executors() {
        let name = format!("coroutines-{}", executor.as_str());
        let scenario = counter(
            &name,
            async_engine(executor, false),
            SyncMode::None,
            10,
            &[(1, 300), (-1, 301)],
            Expectation::NoLostUpdates,
        )
        .with_runs(100)
        .with_seed(4);
        let report = run(&scenario);
        assert_eq!(report.lost_updates, 0, "{name}");
        assert_eq!(report.outcomes.len(), 1);
        assert_eq!(report.outcomes[0].value, 9);
        assert_eq!(report.verdict, Verdict::Pass);
    }
}

#[test]
fn an_await_inside_the_critical_section_loses_updates_and_the_async_lock_fixes_it() {
    for executor in async_executors() {
        let name = format!("await-{}", executor.as_str());
        let racy = counter(
            &name,
            async_engine(executor.clone(), true),
            SyncMode::None,
            0,
            &[(1, 50), (1, 50), (-2, 20)],
            Expectation::LostUpdates,
        )
        .with_runs(50)
        .with_seed(6);
        let report = run(&racy);
        assert!(report.lost_updates > 0, "{name}: no update lost");
        assert_reconciles(&report);

        let locked = counter(
            &name,
            async_engine(executor, true),
            SyncMode::Mutex,
            0,
            &[(1, 50), (1, 50), (-2, 20)],
            Expectation::NoLostUpdates,
        )
        .with_runs(50)
        .with_seed(6);
        let report = run(&locked);
        assert_eq!(
            report.lost_updates, 0,
            "{name}: the async lock lost an update"
        );
        assert_eq!(report.outcomes[0].value, 60);
    }
}

#[test]
fn async_atomic_updates_never_lose_one() {
    for executor in async_executors() {
        let scenario = counter(
            "atomic",
            async_engine(executor, true),
            SyncMode::Atomic,
            0,
            &[(1, 100), (1, 100)],
            Expectation::NoLostUpdates,
        )
        .with_runs(20)
        .with_seed(2);
        assert_eq!(run(&scenario).lost_updates, 0);
    }
}

fn counter_object(
    engine: EngineSpec,
    sync: SyncMode,
    workers: usize,
    increments: u64,
) -> contend::scenario::Scenario {
    let mut spec = contend::scenario::CounterSpec::new(0, &vec![(1, increments); workers], sync);
    spec.object = Some(contend::scenario::ObjectSettings {
        max_pause: std::time::Duration::from_micros(200),
    });
    contend::scenario::Scenario::counter("counter-object", engine, spec, Expectation::NoLostUpdates)
}

#[test]
fn the_counter_class_with_its_lock_loses_nothing_and_without_it_loses_updates() {
    for engine in all_engines() {
        let locked = counter_object(engine.clone(), SyncMode::Mutex, 3, 3)
            .with_runs(50)
            .with_seed(8);
        let report = run(&locked);
        assert_eq!(report.workload, "counter-object");
        assert_eq!(report.lost_updates, 0, "{}", report.engine);
        assert_eq!(report.outcomes[0].value, 9);
    }
    let racy = counter_object(shuttle(SchedulerKind::Random), SyncMode::None, 2, 2)
        .with_runs(200)
        .with_seed(8);
    let report = run(&racy);
    assert!(report.lost_updates > 0);
    assert_reconciles(&report);
}
