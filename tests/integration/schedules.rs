//! Minimal failing schedules: shrinking known bugs, and replaying what was found.

use std::sync::Arc;

use contend::engine::Outcome;
use contend::engine::shuttle::block_scheduler;
use contend::failure::Kind;
use contend::ledger::EventContext;
use contend::replay::{ReplayVerdict, replay};
use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{
    CounterSpec, EngineSpec, Expectation, Scenario, SchedulerKind, ShuttleSettings, SyncMode,
};
use contend::schedule::WorkloadBody;
use contend::schedule::body::run_under;
use contend::schedule::file::{RecordedKind, ScheduleFile, thread_records};
use contend::schedule::record::{Boxed, Recorder, Recordings};
use contend::schedule::search::{FailureKind, Limits, Minimality};
use contend::schedule::shrink::minimize;
use contend::schedule::{Keep, run_controlled};
use contend::workload::counter::Counter;
use tempfile::TempDir;

/// The choices of the first random execution (over seeds 0 to 99) that loses an update.
fn random_failing_schedule(
    workload: &Arc<WorkloadBody<Counter>>,
) -> Vec<contend::schedule::Choice> {
    (0..100)
        .find_map(|seed| {
            let recordings = Recordings::start();
            let scheduler = Recorder::new(
                Boxed(block_scheduler(SchedulerKind::Random, seed, &(0..1))),
                recordings,
            );
            let context = EventContext {
                scenario: "recorded",
                run: 0,
            };
            let outcome = run_under(workload, scheduler, None, 100_000, false, context).ok()?;
            recordings.keep_current(0);
            let (_, recording) = recordings.take_kept()?;
            (FailureKind::of(&outcome) == Some(FailureKind::LostUpdate))
                .then_some(recording.choices)
        })
        .expect("some random execution loses an update")
}

fn ops(counter: &CounterSpec) -> Vec<u64> {
    counter.threads.iter().map(|t| t.ops).collect()
}

#[test]
fn the_lessons_counter_shrinks_to_one_proven_preemption() {
    let counter = CounterSpec::new(10, &[(1, 1_000_000), (-1, 1_000_001)], SyncMode::None);
    let result = minimize(
        &counter,
        Kind::LostUpdate,
        None,
        Limits::default(),
        "lesson",
    )
    .unwrap();
    let minimal = result.minimal.expect("a failing schedule exists");
    assert_eq!(minimal.preemptions, 1);
    assert_eq!(minimal.minimality, Minimality::Proven);
    assert_eq!(ops(&minimal.counter), vec![1, 1]);
}

#[test]
fn a_three_thread_counter_with_different_deltas_shrinks_to_two_threads_and_one_preemption() {
    let counter = CounterSpec::new(0, &[(3, 40), (-7, 30), (11, 20)], SyncMode::None);
    let minimal = minimize(&counter, Kind::LostUpdate, None, Limits::default(), "three")
        .unwrap()
        .minimal
        .expect("a failing schedule exists");
    assert_eq!(minimal.preemptions, 1);
    assert_eq!(minimal.minimality, Minimality::Proven);
    assert_eq!(ops(&minimal.counter), vec![1, 1]);
    // The two threads kept are two of the original three.
    let original: Vec<i64> = counter.threads.iter().map(|t| t.delta).collect();
    assert!(
        minimal
            .counter
            .threads
            .iter()
            .all(|t| original.contains(&t.delta))
    );
}

#[test]
fn the_broken_flag_lock_needs_two_preemptions() {
    let counter = CounterSpec::new(0, &[(1, 10), (-1, 10)], SyncMode::Flag);
    let minimal = minimize(&counter, Kind::LostUpdate, None, Limits::default(), "flag")
        .unwrap()
        .minimal
        .expect("the flag lock fails");
    assert_eq!(minimal.preemptions, 2);
    assert_eq!(minimal.minimality, Minimality::Proven);
}

#[test]
fn correct_locks_have_no_failing_schedule_within_the_bound() {
    for sync in [SyncMode::Mutex, SyncMode::Spin, SyncMode::Atomic] {
        let counter = CounterSpec::new(0, &[(1, 2), (-1, 2)], sync);
        let result = minimize(&counter, Kind::LostUpdate, None, Limits::default(), "ok").unwrap();
        assert_eq!(result.minimal, None, "{sync}");
        assert!(result.executions > 1, "{sync}: the search ran");
    }
}

#[test]
fn delta_debugging_gives_a_one_minimal_schedule_when_the_search_cannot_prove_one() {
    // A recorded failing schedule with many choices: a random execution of 2 x 6 ops.
    let counter = CounterSpec::new(0, &[(1, 6), (1, 6)], SyncMode::None);
    let workload = Arc::new(WorkloadBody(Arc::new(Counter::new(counter.clone()))));
    let context = EventContext {
        scenario: "ddmin",
        run: 0,
    };
    let recorded = random_failing_schedule(&workload);
    assert!(recorded.len() > 2, "{recorded:?}");

    // No preemption allowed in the search and no shrinking: only ddmin can answer.
    let limits = Limits {
        max_preemptions: 0,
        searchable_ops: 0,
        ..Limits::default()
    };
    let minimal = minimize(&counter, Kind::LostUpdate, Some(&recorded), limits, "ddmin")
        .unwrap()
        .minimal
        .expect("ddmin keeps a failing schedule");
    assert_eq!(minimal.minimality, Minimality::OneMinimal);
    assert!(minimal.choices.len() < recorded.len());
    // 1-minimal: the schedule fails, and without any one of its choices it does not.
    let fails = |choices: &[contend::schedule::Choice]| {
        let run =
            run_controlled(&workload, choices, &[], Keep::default(), 100_000, context).unwrap();
        run.divergence.is_none() && FailureKind::of(&run.outcome) == Some(FailureKind::LostUpdate)
    };
    assert!(fails(&minimal.choices));
    for skip in 0..minimal.choices.len() {
        let mut fewer = minimal.choices.clone();
        fewer.remove(skip);
        assert!(!fails(&fewer), "removing choice {skip} still fails");
    }
}

#[test]
fn a_saved_schedule_round_trips_through_its_file_and_replays_the_same_failure() {
    let dir = TempDir::new().unwrap();
    let scenario = Scenario::counter(
        "round-trip",
        EngineSpec::Shuttle(ShuttleSettings {
            scheduler: SchedulerKind::Random,
            ..ShuttleSettings::default()
        }),
        CounterSpec::new(10, &[(1, 50), (-1, 51), (2, 10)], SyncMode::None),
        Expectation::LostUpdates,
    )
    .with_runs(20)
    .with_seed(5);
    let options = RunOptions {
        artifacts: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let report = run_scenario(&scenario, &options).unwrap();
    let path = report.schedule_file.expect("a schedule is saved");
    let summary = report
        .minimal_schedule
        .expect("a minimal schedule is reported");
    assert_eq!(summary.preemptions, 1);
    assert!(summary.proven);

    let file = ScheduleFile::load(std::path::Path::new(&path)).unwrap();
    assert_eq!(
        ScheduleFile::parse(&file.to_toml(), std::path::Path::new("again")).unwrap(),
        file
    );
    let counter = file.counter().expect("a counter scenario's schedule");
    assert_eq!(counter.name, "round-trip");
    assert_eq!(counter.seed, 5);
    assert_eq!(counter.threads.len(), 3);
    assert_eq!(file.schedule.preemptions, 1);
    let original = file
        .original
        .choices
        .as_ref()
        .expect("the original schedule is kept");
    assert!(!original.is_empty());

    let replayed = replay(&file, false).unwrap();
    assert!(replayed.reproduced);
    assert!(replayed.same_numbers);
    let Outcome::Settled(settlement) = replayed.execution.outcome else {
        panic!("the replay settles");
    };
    assert_eq!(Some(settlement.lost_updates), file.failure.lost_updates);
    assert_eq!(Some(settlement.observed_final), file.failure.final_value);
    assert_eq!(replayed.execution.preemptions, file.schedule.preemptions);
    assert_eq!(replayed.execution.steps, file.schedule.steps);
}

#[test]
fn many_threads_shrink_to_two_quickly() {
    let threads: Vec<(i64, u64)> = (0..9).map(|_| (1, 100)).collect();
    let counter = CounterSpec::new(0, &threads, SyncMode::None);
    let minimal = minimize(&counter, Kind::LostUpdate, None, Limits::default(), "many")
        .unwrap()
        .minimal
        .expect("a failing schedule exists");
    assert_eq!(ops(&minimal.counter), vec![1, 1]);
    assert_eq!(minimal.origins.len(), 2);
    assert_eq!(minimal.preemptions, 1);
    assert_eq!(minimal.minimality, Minimality::Proven);
    assert!(
        minimal.executions < 1_000,
        "{} executions",
        minimal.executions
    );
}

#[test]
fn a_found_schedule_keeps_no_needless_choice() {
    let counter = CounterSpec::new(10, &[(1, 1), (-1, 1)], SyncMode::None);
    let minimal = minimize(
        &counter,
        Kind::LostUpdate,
        None,
        Limits::default(),
        "lesson",
    )
    .unwrap()
    .minimal
    .unwrap();
    // One preemption needs one choice: the switch away from the thread between its read and
    // its write.
    assert_eq!(minimal.choices.len(), 1, "{:?}", minimal.choices);
}

#[test]
fn an_exhausted_budget_still_returns_the_recorded_failure() {
    let counter = CounterSpec::new(0, &[(1, 6), (1, 6)], SyncMode::None);
    let workload = Arc::new(WorkloadBody(Arc::new(Counter::new(counter.clone()))));
    let recorded = random_failing_schedule(&workload);
    let limits = Limits {
        max_preemptions: 0,
        searchable_ops: 0,
        executions: 3,
        ..Limits::default()
    };
    let minimal = minimize(&counter, Kind::LostUpdate, Some(&recorded), limits, "cut")
        .unwrap()
        .minimal
        .expect("the recorded failure is kept");
    assert!(
        matches!(
            minimal.minimality,
            Minimality::Partial | Minimality::NotShrunk
        ),
        "{:?}",
        minimal.minimality
    );
    let replayed = run_controlled(
        &workload,
        &minimal.choices,
        &[],
        Keep::default(),
        100_000,
        EventContext {
            scenario: "cut",
            run: 0,
        },
    )
    .unwrap();
    assert_eq!(
        FailureKind::of(&replayed.outcome),
        Some(FailureKind::LostUpdate)
    );
}

#[test]
fn a_replay_that_fails_otherwise_than_recorded_still_fails() {
    let dir = TempDir::new().unwrap();
    let scenario = Scenario::counter(
        "differently",
        EngineSpec::Shuttle(ShuttleSettings::default()),
        CounterSpec::new(0, &[(1, 3), (1, 3)], SyncMode::None),
        Expectation::LostUpdates,
    )
    .with_runs(20)
    .with_seed(1);
    let options = RunOptions {
        artifacts: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let path = run_scenario(&scenario, &options)
        .unwrap()
        .schedule_file
        .unwrap();
    let mut file = ScheduleFile::load(std::path::Path::new(&path)).unwrap();
    file.failure.kind = RecordedKind::Deadlock;
    let replayed = replay(&file, false).unwrap();
    assert!(!replayed.reproduced);
    assert_eq!(replayed.verdict().unwrap(), ReplayVerdict::FailsDifferently);
}

#[test]
fn shrunk_threads_keep_the_names_the_scenario_gave_them() {
    let counter = CounterSpec::new(0, &[(2, 1), (-3, 1)], SyncMode::None);
    let records = thread_records(&counter, Some(&[1, 2]));
    let names: Vec<_> = records.iter().map(|r| r.name.clone().unwrap()).collect();
    assert_eq!(names, vec!["Thread-2", "Thread-3"]);
}
