//! The report of a replay: the one execution of a schedule file as a run of one scenario, so
//! that the reporters of runs (the HTML page) can show it.

use std::collections::BTreeMap;

use super::interleaving::{access_reports, describe_overwrites, write_table};
use super::{EndedBy, FinalCount, RateReport, RunReport, ScenarioReport, ThreadReport, Verdict};
use crate::engine::Outcome;
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
    let failing = matches!(
        replay.verdict(),
        Ok(ReplayVerdict::Reproduced | ReplayVerdict::FailsDifferently)
    );
    let verdict = if failing {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let outcome = describe_outcome(&replay.execution.outcome);
    let reason = match replay.verdict() {
        Ok(ReplayVerdict::Reproduced) => format!("the recorded failure reproduces: {outcome}"),
        Ok(ReplayVerdict::FailsDifferently) => format!(
            "the execution fails, but not with the recorded {}: {outcome}",
            file.failure.kind.as_str()
        ),
        Ok(ReplayVerdict::Fixed) | Err(_) => {
            format!("the recorded failure no longer happens: {outcome}")
        }
    };
    let threads: Vec<ThreadReport> = counter
        .shrunk
        .threads
        .iter()
        .map(|t| ThreadReport {
            delta: t.delta,
            ops: t.ops,
        })
        .collect();
    let names = file.minimal_names();
    let log = &replay.execution.log;
    let (lost_updates, overwrites, net_lost, expected_final, outcomes, failures) =
        match &replay.execution.outcome {
            Outcome::Settled(s) => (
                s.lost_updates,
                s.overwrites,
                i128::from(s.expected_final) - i128::from(s.observed_final),
                s.expected_final,
                vec![FinalCount {
                    value: s.observed_final,
                    count: 1,
                }],
                Vec::new(),
            ),
            Outcome::Failed { message, .. } => (
                0,
                0,
                0,
                file.failure.expected_final.unwrap_or(0),
                Vec::new(),
                vec![message.clone()],
            ),
        };
    let mut table = Vec::new();
    write_table(&mut table, &names, log).expect("writing to memory does not fail");
    let (shown, cycle) = failure_of(&replay.execution.outcome);
    let schedule = ScheduleSummary {
        file: Some(path.to_string()),
        preemptions: replay.execution.preemptions,
        steps: replay.execution.steps,
        minimality: file.schedule.minimality,
        proven: file.schedule.minimality == crate::schedule::search::Minimality::Proven,
        failure: shown,
        cycle,
        initial: Some(counter.shrunk.initial),
        params: None,
        threads: threads.clone(),
        thread_names: names.clone(),
        interleaving: String::from_utf8_lossy(&table)
            .lines()
            .map(str::to_string)
            .collect(),
        accesses: access_reports(log),
        explanation: describe_overwrites(&names, log),
        replay_command: None,
        executions: 1,
        seconds,
    };
    let mut notes: Vec<String> = file.version_warnings();
    if let Some(divergence) = &replay.execution.divergence {
        notes.push(format!(
            "the execution diverges from the schedule: {divergence}"
        ));
    }
    let failing_runs = u64::from(failing);
    let scenario = ScenarioReport {
        name: counter.name.clone(),
        config: None,
        workload: counter.workload.clone(),
        engine: format!("shuttle (replay of {})", counter.engine),
        scheduler: None,
        executor: None,
        sync: Some(counter.sync),
        expect: Expectation::NoLostUpdates,
        verdict,
        reason,
        seed: counter.seed,
        initial: Some(counter.shrunk.initial),
        params: None,
        threads,
        object: None,
        processes: None,
        runs_requested: 1,
        runs: 1,
        failing_runs,
        lost_update_runs: u64::from(lost_updates > 0),
        masked_runs: 0,
        failed_runs: u64::from(!failures.is_empty()),
        failure_kinds: replay
            .execution
            .outcome
            .kind()
            .map(|kind| (kind, 1))
            .into_iter()
            .collect(),
        failure_rate: RateReport {
            rate: failing_runs as f64,
            ci95_low: failing_runs as f64,
            ci95_high: failing_runs as f64,
        },
        lost_updates,
        overwrites,
        net_lost,
        expected_final,
        lost_updates_by_variable: BTreeMap::new(),
        overwrites_by_variable: BTreeMap::new(),
        expected_final_by_variable: BTreeMap::new(),
        outcomes,
        failures,
        exhaustive: true,
        coverage: None,
        notes,
        schedule_file: Some(path.to_string()),
        minimal_schedule: Some(schedule),
        elapsed_seconds: seconds,
        ended_by: EndedBy::Runs,
        time_budget_seconds: None,
        first_failing_run: failing.then_some(0),
        fingerprint: String::new(),
    };
    RunReport {
        contend_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict,
        elapsed_seconds: seconds,
        shard: None,
        scenarios: vec![scenario],
        not_run: Vec::new(),
    }
}
