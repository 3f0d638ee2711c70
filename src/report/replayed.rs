//! The report of a replay: the one execution of a schedule file as a run of one scenario, so
//! that the reporters of runs (the HTML page) can show it.

use std::collections::BTreeMap;

use super::interleaving::{access_reports, describe_overwrites, write_table};
use super::{EndedBy, FinalCount, RateReport, RunReport, ScenarioReport, ThreadReport, Verdict};
use crate::engine::Outcome;
use crate::platform::shuttle::LoggedStep;
use crate::replay::{Replay, ReplayVerdict, describe_outcome};
use crate::scenario::Expectation;
use crate::schedule::file::{CounterTarget, ScheduleFile};
use crate::schedule::witness::{ScheduleSummary, failure_of};

/// The report of replaying `file`, whose target is `counter`: one scenario of one execution,
/// failing while the recorded failure (or another) still happens.
pub fn replay_report(
    file: &ScheduleFile,
    counter: &CounterTarget,
    path: &str,
    replay: &Replay,
    seconds: f64,
) -> RunReport {
    let scenario = replayed_scenario(file, counter, path, replay, seconds);
    RunReport {
        contend_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: scenario.verdict,
        elapsed_seconds: seconds,
        shard: None,
        scenarios: vec![scenario],
        not_run: Vec::new(),
    }
}

/// Whether the replayed execution fails, with the recorded failure or another.
fn still_fails(replay: &Replay) -> bool {
    matches!(
        replay.verdict(),
        Ok(ReplayVerdict::Reproduced | ReplayVerdict::FailsDifferently)
    )
}

/// Why the replay passes or fails, ending with the execution's outcome.
fn replay_reason(file: &ScheduleFile, replay: &Replay) -> String {
    let outcome = describe_outcome(&replay.execution.outcome);
    match replay.verdict() {
        Ok(ReplayVerdict::Reproduced) => format!("the recorded failure reproduces: {outcome}"),
        Ok(ReplayVerdict::FailsDifferently) => format!(
            "the execution fails, but not with the recorded {}: {outcome}",
            file.failure.kind.as_str()
        ),
        Ok(ReplayVerdict::Fixed) | Err(_) => {
            format!("the recorded failure no longer happens: {outcome}")
        }
    }
}

/// The threads of the shrunk program the schedule file drives.
fn shrunk_threads(counter: &CounterTarget) -> Vec<ThreadReport> {
    counter
        .shrunk
        .threads
        .iter()
        .map(|t| ThreadReport {
            delta: t.delta,
            ops: t.ops,
        })
        .collect()
}

/// What the one replayed execution counts: its updates, final value or failure.
struct ReplayFigures {
    /// Updates lost.
    lost_updates: u64,
    /// Writes that overwrote another thread's update.
    overwrites: u64,
    /// The expected final value minus the observed one.
    net_lost: i128,
    /// The final value the execution should reach.
    expected_final: i64,
    /// The final value reached, if the execution settled.
    outcomes: Vec<FinalCount>,
    /// The failure's message, if the execution failed otherwise.
    failures: Vec<String>,
}

/// The figures of the replayed execution's outcome.
fn replay_figures(file: &ScheduleFile, replay: &Replay) -> ReplayFigures {
    match &replay.execution.outcome {
        Outcome::Settled(s) => ReplayFigures {
            lost_updates: s.lost_updates,
            overwrites: s.overwrites,
            net_lost: i128::from(s.expected_final) - i128::from(s.observed_final),
            expected_final: s.expected_final,
            outcomes: vec![FinalCount {
                value: s.observed_final,
                count: 1,
            }],
            failures: Vec::new(),
        },
        Outcome::Failed { message, .. } => ReplayFigures {
            lost_updates: 0,
            overwrites: 0,
            net_lost: 0,
            expected_final: file.failure.expected_final.unwrap_or(0),
            outcomes: Vec::new(),
            failures: vec![message.clone()],
        },
    }
}

/// The interleaving table of `log`, a line a step.
fn interleaving_lines(names: &[String], log: &[LoggedStep]) -> Vec<String> {
    let mut table = Vec::new();
    write_table(&mut table, names, log).expect("writing to memory does not fail");
    String::from_utf8_lossy(&table)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The replayed execution's schedule, as the report of a run shows a minimal schedule.
fn schedule_summary(
    file: &ScheduleFile,
    counter: &CounterTarget,
    path: &str,
    replay: &Replay,
    threads: Vec<ThreadReport>,
    seconds: f64,
) -> ScheduleSummary {
    let names = file.minimal_names();
    let log = &replay.execution.log;
    let (shown, cycle) = failure_of(&replay.execution.outcome);
    ScheduleSummary {
        file: Some(path.to_string()),
        preemptions: replay.execution.preemptions,
        steps: replay.execution.steps,
        minimality: file.schedule.minimality,
        proven: file.schedule.minimality == crate::schedule::search::Minimality::Proven,
        failure: shown,
        cycle,
        initial: Some(counter.shrunk.initial),
        params: None,
        threads,
        interleaving: interleaving_lines(&names, log),
        accesses: access_reports(log),
        explanation: describe_overwrites(&names, log),
        thread_names: names,
        replay_command: None,
        executions: 1,
        seconds,
    }
}

/// The schedule file's version warnings, and where the execution left the schedule.
fn replay_notes(file: &ScheduleFile, replay: &Replay) -> Vec<String> {
    let mut notes: Vec<String> = file.version_warnings();
    if let Some(divergence) = &replay.execution.divergence {
        notes.push(format!(
            "the execution diverges from the schedule: {divergence}"
        ));
    }
    notes
}

/// The failure rate of one execution: certain, 0 or 1.
fn certain_rate(failing_runs: u64) -> RateReport {
    RateReport {
        rate: failing_runs as f64,
        ci95_low: failing_runs as f64,
        ci95_high: failing_runs as f64,
    }
}

/// The replay as the report of one scenario that made one run.
fn replayed_scenario(
    file: &ScheduleFile,
    counter: &CounterTarget,
    path: &str,
    replay: &Replay,
    seconds: f64,
) -> ScenarioReport {
    let failing = still_fails(replay);
    let verdict = if failing {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let threads = shrunk_threads(counter);
    let schedule = schedule_summary(file, counter, path, replay, threads.clone(), seconds);
    let figures = replay_figures(file, replay);
    let failing_runs = u64::from(failing);
    ScenarioReport {
        name: counter.name.clone(),
        config: None,
        workload: counter.workload.clone(),
        engine: format!("shuttle (replay of {})", counter.engine),
        scheduler: None,
        executor: None,
        sync: Some(counter.sync),
        expect: Expectation::NoLostUpdates,
        verdict,
        reason: replay_reason(file, replay),
        seed: counter.seed,
        initial: Some(counter.shrunk.initial),
        params: None,
        threads,
        object: None,
        processes: None,
        runs_requested: 1,
        runs: 1,
        failing_runs,
        lost_update_runs: u64::from(figures.lost_updates > 0),
        masked_runs: 0,
        failed_runs: u64::from(!figures.failures.is_empty()),
        failure_kinds: replay
            .execution
            .outcome
            .kind()
            .map(|kind| (kind, 1))
            .into_iter()
            .collect(),
        failure_rate: certain_rate(failing_runs),
        lost_updates: figures.lost_updates,
        overwrites: figures.overwrites,
        net_lost: figures.net_lost,
        expected_final: figures.expected_final,
        lost_updates_by_variable: BTreeMap::new(),
        overwrites_by_variable: BTreeMap::new(),
        expected_final_by_variable: BTreeMap::new(),
        outcomes: figures.outcomes,
        failures: figures.failures,
        exhaustive: true,
        coverage: None,
        notes: replay_notes(file, replay),
        schedule_file: Some(path.to_string()),
        minimal_schedule: Some(schedule),
        elapsed_seconds: seconds,
        ended_by: EndedBy::Runs,
        time_budget_seconds: None,
        first_failing_run: failing.then_some(0),
        fingerprint: String::new(),
    }
}
