//! Verdicts: whether a scenario's executions met its expectation, and why, in words.

use crate::report::words::{count, grouped};
use crate::report::{ScenarioReport, Verdict};
use crate::scenario::{Expectation, Scenario};
use crate::tally::Tally;

/// The failing runs by kind, in words: `invariant 3, panic 1`.
fn kinds_in_words(tally: &Tally) -> String {
    crate::words::failure_kinds(&tally.failure_kinds)
}

/// Whether a scenario's executions met its expectation, and why, in words.
pub fn verdict_of(expect: Expectation, tally: &Tally) -> (Verdict, String) {
    let runs = count(tally.runs, "run");
    let first = tally
        .failures
        .first()
        .map_or(String::new(), |failure| format!("; first, {failure}"));
    match expect {
        Expectation::NoFailures if tally.failing_runs > 0 => (
            Verdict::Fail,
            format!(
                "expected no failure, but {} of {runs} failed ({}){first}",
                grouped(tally.failing_runs.into()),
                kinds_in_words(tally)
            ),
        ),
        Expectation::NoFailures => (Verdict::Pass, format!("no failure in {runs}, as expected")),
        Expectation::Failure if tally.failing_runs == 0 => (
            Verdict::Fail,
            format!("expected a failure, but none of {runs} failed: the bug did not show"),
        ),
        Expectation::Failure => (
            Verdict::Pass,
            format!(
                "failures shown in {} of {runs} ({}), as expected",
                grouped(tally.failing_runs.into()),
                kinds_in_words(tally)
            ),
        ),
        Expectation::Kind(kind) => {
            let shown = tally.failure_kinds.get(&kind).copied().unwrap_or(0);
            if shown > 0 {
                (
                    Verdict::Pass,
                    format!(
                        "{kind} shown in {} of {runs}, as expected",
                        grouped(shown.into())
                    ),
                )
            } else if tally.failing_runs > 0 {
                (
                    Verdict::Fail,
                    format!(
                        "expected a {kind}, but none of {runs} showed one; they failed otherwise \
                         ({}){first}",
                        kinds_in_words(tally)
                    ),
                )
            } else {
                (
                    Verdict::Fail,
                    format!("expected a {kind}, but none of {runs} failed: the bug did not show"),
                )
            }
        }
        Expectation::LostUpdates | Expectation::NoLostUpdates => lost_update_verdict(expect, tally),
    }
}

/// The verdict of the first expectations, about lost updates: any other failure fails them.
fn lost_update_verdict(expect: Expectation, tally: &Tally) -> (Verdict, String) {
    let runs = count(tally.runs, "run");
    let losing = tally.lost_update_runs;
    if tally.failed_runs > 0 {
        let first = tally
            .failures
            .first()
            .map_or(String::new(), |failure| format!("; first, {failure}"));
        (
            Verdict::Fail,
            format!(
                "{} of {runs} failed{first}",
                grouped(tally.failed_runs.into())
            ),
        )
    } else {
        match expect {
            Expectation::LostUpdates if losing == 0 => (
                Verdict::Fail,
                format!("expected lost updates, but none of {runs} lost one: the bug did not show"),
            ),
            Expectation::LostUpdates => (
                Verdict::Pass,
                format!(
                    "lost updates shown in {} of {runs}, as expected",
                    grouped(losing.into())
                ),
            ),
            Expectation::NoLostUpdates if losing > 0 => (
                Verdict::Fail,
                format!(
                    "expected no lost update, but {} {} lost in {} of {runs}",
                    count(tally.lost_updates, "update"),
                    if tally.lost_updates == 1 {
                        "was"
                    } else {
                        "were"
                    },
                    grouped(losing.into())
                ),
            ),
            _ => (
                Verdict::Pass,
                format!("no update lost in {runs}, as expected"),
            ),
        }
    }
}

/// Turns a scenario's tally into its report and verdict.
pub fn judge(scenario: &Scenario, tally: Tally, elapsed_seconds: f64) -> ScenarioReport {
    let (verdict, reason) = verdict_of(scenario.expect, &tally);
    ScenarioReport::new(scenario, tally, verdict, reason, elapsed_seconds)
}
