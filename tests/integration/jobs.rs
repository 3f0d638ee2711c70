//! `--jobs`: the blocks of a shuttle scenario run side by side on worker threads, and the report
//! is the same for every number of jobs.

use crate::common;

use std::sync::Arc;

use contend::report::{Event, Reporter, RunReport, ScenarioReport, Verdict};
use contend::runner::{RunOptions, ScenarioProgress, run_scenario, run_scenarios};
use contend::scenario::{
    EngineSpec, Expectation, Scenario, SchedulerKind, ShuttleSettings, SyncMode,
};
use tempfile::TempDir;

/// The report of `scenario` with `jobs` workers, as JSON without its timings and folder.
fn report(scenario: &Scenario, jobs: usize) -> serde_json::Value {
    let dir = TempDir::new().unwrap();
    let options = RunOptions {
        jobs,
        artifacts: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let report: ScenarioReport = run_scenario(scenario, &options).unwrap();
    let mut json = serde_json::to_value(&report).unwrap();
    let text = serde_json::to_string(&json).unwrap();
    let folder = dir.path().display().to_string();
    json = serde_json::from_str(&text.replace(&folder, "OUT")).unwrap();
    json.as_object_mut().unwrap().remove("elapsed_seconds");
    if let Some(schedule) = json["minimal_schedule"].as_object_mut() {
        schedule.remove("seconds");
    }
    json
}

fn shuttle(scheduler: SchedulerKind, max_steps: u64) -> EngineSpec {
    EngineSpec::Shuttle(ShuttleSettings {
        scheduler,
        max_steps,
    })
}

#[test]
fn the_report_is_the_same_for_every_number_of_jobs() {
    let scenarios = [
        common::counter(
            "racy-random",
            shuttle(SchedulerKind::Random, 100_000),
            SyncMode::None,
            0,
            &[(1, 4), (-1, 4)],
            Expectation::LostUpdates,
        )
        .with_runs(1_050)
        .with_seed(9),
        common::counter(
            "flag-pct",
            shuttle(SchedulerKind::Pct { depth: 3 }, 100_000),
            SyncMode::Flag,
            0,
            &[(1, 3), (1, 3)],
            Expectation::NoLostUpdates,
        )
        .with_runs(730)
        .with_seed(4),
    ];
    for scenario in &scenarios {
        let one = report(scenario, 1);
        assert!(one["failing_runs"].as_u64().unwrap() > 0, "{one}");
        assert!(one["minimal_schedule"].is_object(), "{one}");
        for jobs in [2, 3, 8] {
            assert_eq!(
                report(scenario, jobs),
                one,
                "{} with {jobs} jobs",
                scenario.name
            );
        }
    }
}

#[test]
fn a_failed_execution_stops_the_run_at_the_same_place_for_every_number_of_jobs() {
    // Every execution runs past its 40 steps: shuttle stops at the first, in the first block,
    // and blocks that ran beside it are dropped.
    let scenario = common::counter(
        "livelock",
        shuttle(SchedulerKind::Random, 40),
        SyncMode::None,
        0,
        &[(1, 50), (1, 50)],
        Expectation::NoLostUpdates,
    )
    .with_runs(1_000)
    .with_seed(1);
    let one = report(&scenario, 1);
    assert_eq!(one["runs"], 1, "{one}");
    assert_eq!(one["failed_runs"], 1, "{one}");
    for jobs in [2, 4] {
        assert_eq!(report(&scenario, jobs), one, "{jobs} jobs");
    }
}

const SCENARIO: &str = "[[scenario]]\nname = \"racy\"\nengine = \"shuttle\"\n\
    threads = [{ delta = 1, ops = 3 }, { delta = 1, ops = 3 }]\nruns = 300\nseed = 5\n\
    expect = \"lost-updates\"\n";

#[test]
fn jobs_is_a_defaults_key_and_a_flag_and_bad_values_exit_2() {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "defaults.toml",
        &format!("[defaults]\njobs = 2\n\n{SCENARIO}"),
    );
    let run = common::contend(&["run", "defaults.toml", "-q"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    write("scenario.toml", &format!("{SCENARIO}jobs = 2\n"));
    let refused = common::contend(&["run", "scenario.toml"], dir.path());
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("key `jobs`") && refused.stderr.contains("[defaults]"),
        "{}",
        refused.stderr
    );

    write("zero.toml", &format!("[defaults]\njobs = 0\n\n{SCENARIO}"));
    let zero = common::contend(&["run", "zero.toml"], dir.path());
    assert_eq!(zero.code, 2, "{}", zero.stderr);
    assert!(zero.stderr.contains("defaults.jobs"), "{}", zero.stderr);

    let flag = common::contend(&["run", "defaults.toml", "-j", "0"], dir.path());
    assert_eq!(flag.code, 2, "{}", flag.stderr);
}

/// 2 x 100 racy ops with jitter lose updates in 999 of 1,000 runs one at a time (load 6, 2
/// cores); even at one run in two with two side by side on a loaded machine, 200 runs all
/// losing nothing has a chance of 2^-200.
#[test]
fn real_threads_run_side_by_side_only_where_the_scenario_asks() {
    let dir = TempDir::new().unwrap();
    let racy = "[[scenario]]\nname = \"racy-threads\"\nengine = \"threads\"\n\
        threads = [{ delta = 1, ops = 100 }, { delta = -1, ops = 100 }]\nruns = 200\nseed = 5\n\
        expect = \"lost-updates\"\n";
    std::fs::write(
        dir.path().join("parallel.toml"),
        format!("{racy}parallel = true\n"),
    )
    .unwrap();
    let run = common::contend(
        &[
            "run",
            "parallel.toml",
            "-q",
            "-j",
            "2",
            "--json",
            "report.json",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["runs"], 200, "{scenario}");
    let histogram: u64 = scenario["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    assert_eq!(histogram, 200, "every execution is in the histogram once");
    assert!(scenario["lost_updates"].as_u64().unwrap() > 0, "{scenario}");

    std::fs::write(
        dir.path().join("shuttle.toml"),
        format!("{SCENARIO}parallel = true\n"),
    )
    .unwrap();
    let refused = common::contend(&["run", "shuttle.toml"], dir.path());
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("key `parallel`")
            && refused
                .stderr
                .contains("the threads and processes engines only"),
        "{}",
        refused.stderr
    );
}

/// The report of a processes scenario with `parallel = true` and `jobs` workers, as JSON
/// without its timing.
fn processes_report(
    sync: SyncMode,
    ops: u64,
    runs: u64,
    timeout: std::time::Duration,
    jobs: usize,
) -> serde_json::Value {
    let engine = EngineSpec::Processes(contend::scenario::ProcessesSettings {
        parallel: true,
        timeout,
        ..Default::default()
    });
    let counter = contend::scenario::CounterSpec::new(10, &[(1, ops), (-1, ops + 1)], sync);
    let scenario = Scenario::counter("side-by-side", engine, counter, Expectation::NoLostUpdates)
        .with_runs(runs)
        .with_seed(11);
    let options = RunOptions {
        jobs,
        schedules: false,
        worker_program: Some(std::path::PathBuf::from(env!("CARGO_BIN_EXE_contend"))),
        ..RunOptions::default()
    };
    let report = run_scenario(&scenario, &options).unwrap();
    let mut json = serde_json::to_value(&report).unwrap();
    json.as_object_mut().unwrap().remove("elapsed_seconds");
    json
}

#[test]
fn processes_run_side_by_side_with_parallel_and_report_the_same_for_every_number_of_jobs() {
    // Locked runs: every total and the histogram are the same whatever runs beside what.
    let minute = std::time::Duration::from_secs(60);
    let locked = processes_report(SyncMode::Mutex, 300, 8, minute, 1);
    assert_eq!(locked["runs"], 8, "{locked}");
    assert_eq!(locked["outcomes"][0]["count"], 8, "{locked}");
    assert_eq!(locked, processes_report(SyncMode::Mutex, 300, 8, minute, 2));

    // Runs that cannot finish within a millisecond: the first one's timeout ends the scenario
    // with one job, and with two the run started beside it is dropped, so the first failure
    // and the totals are the same.
    let millisecond = std::time::Duration::from_millis(1);
    let one = processes_report(SyncMode::None, 1_000_000, 6, millisecond, 1);
    let two = processes_report(SyncMode::None, 1_000_000, 6, millisecond, 2);
    assert_eq!(one["runs"], 1, "{one}");
    assert_eq!(one["failed_runs"], 1, "{one}");
    assert_eq!(one["first_failing_run"], 0, "{one}");
    assert_eq!(one, two);
}

/// Keeps the order of a run's events, by scenario name.
#[derive(Default)]
struct EventOrder(Vec<String>);

impl Reporter for EventOrder {
    fn report(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        self.0.push(match event {
            Event::RunStarted { .. } => "run started".to_string(),
            Event::ScenarioStarted { scenario } => format!("{} started", scenario.name),
            Event::ScenarioFinished { report } => format!("{} finished", report.name),
            Event::RunFinished { .. } => "run finished".to_string(),
        });
        Ok(())
    }
}

/// A run of `scenarios` with `jobs` workers: its report, the order of its events, and each
/// scenario's count of finished executions as the progress display read it.
fn run_all(scenarios: &[Scenario], jobs: usize) -> (RunReport, Vec<String>, Vec<u64>) {
    let progress = Arc::new(ScenarioProgress::new(scenarios));
    let options = RunOptions {
        jobs,
        progress: Some(Arc::clone(&progress)),
        ..RunOptions::default()
    };
    let mut events = EventOrder::default();
    let report = run_scenarios(scenarios, &options, &mut events).unwrap();
    let counted = scenarios
        .iter()
        .map(|s| progress.finished(&s.name))
        .collect();
    (report, events.0, counted)
}

/// A scenario's report as JSON, without its timings.
fn without_timings(report: &ScenarioReport) -> serde_json::Value {
    let mut json = serde_json::to_value(report).unwrap();
    json.as_object_mut().unwrap().remove("elapsed_seconds");
    if let Some(schedule) = json["minimal_schedule"].as_object_mut() {
        schedule.remove("seconds");
    }
    json
}

#[test]
fn consecutive_shuttle_scenarios_run_side_by_side_and_report_in_order() {
    let racy = |name: &str, scheduler| {
        common::counter(
            name,
            shuttle(scheduler, 100_000),
            SyncMode::None,
            0,
            &[(1, 40), (-1, 40)],
            Expectation::LostUpdates,
        )
        .with_runs(4_000)
        .with_seed(3)
    };
    let scenarios = [
        racy("random", SchedulerKind::Random),
        racy("pct", SchedulerKind::Pct { depth: 2 }),
        common::counter(
            "threads",
            common::threads(),
            SyncMode::Mutex,
            0,
            &[(1, 100), (-1, 100)],
            Expectation::NoLostUpdates,
        )
        .with_runs(20),
        racy("random-again", SchedulerKind::Random).with_seed(4),
    ];
    let (alone, alone_events, alone_counted) = run_all(&scenarios, 1);
    let (side_by_side, events, counted) = run_all(&scenarios, 2);

    let mut expected_events = vec!["run started".to_string()];
    for scenario in &scenarios {
        expected_events.push(format!("{} started", scenario.name));
        expected_events.push(format!("{} finished", scenario.name));
    }
    expected_events.push("run finished".to_string());
    assert_eq!(alone_events, expected_events);
    assert_eq!(events, expected_events);

    let runs: Vec<u64> = side_by_side.scenarios.iter().map(|r| r.runs).collect();
    assert_eq!(runs, [4_000, 4_000, 20, 4_000]);
    assert_eq!(counted, runs, "each scenario's progress counter");
    assert_eq!(alone_counted, runs);
    for (one, two) in alone.scenarios.iter().zip(&side_by_side.scenarios) {
        if one.name != "threads" {
            assert_eq!(without_timings(one), without_timings(two), "{}", one.name);
        }
    }
    assert_eq!(side_by_side.verdict, Verdict::Pass);

    // One at a time, the scenarios' times add up to less than the run's; side by side, the
    // first two overlap, so their times add up to more.
    let summed = |run: &RunReport| -> f64 { run.scenarios.iter().map(|r| r.elapsed_seconds).sum() };
    assert!(summed(&alone) <= alone.elapsed_seconds, "{alone:?}");
    assert!(
        summed(&side_by_side) > side_by_side.elapsed_seconds,
        "{} s summed, {} s in all",
        summed(&side_by_side),
        side_by_side.elapsed_seconds
    );
}
