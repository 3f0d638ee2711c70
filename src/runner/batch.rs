//! Scenarios side by side: with more than one job, consecutive controlled scenarios (those
//! under shuttle, whose reports do not depend on what else the machine runs) run at the same
//! time on up to `jobs` threads, and their results are handed on in the config's order.
//! Real-thread and process scenarios always run alone: others beside them would change what
//! they measure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::engine::EngineError;
use crate::report::ScenarioReport;
use crate::scenario::Scenario;

use super::{RunOptions, run_scenario};

/// Whether a scenario's report is the same whatever runs beside it: a scenario under shuttle.
fn controlled(scenario: &Scenario) -> bool {
    scenario.engine.shuttle_settings().is_some()
}

/// The end (exclusive) of the batch that starts at `start`: the controlled scenarios that
/// follow it, when jobs may run side by side; otherwise `start` alone. `--fail-fast` runs
/// one at a time, so that no scenario after a failed one is started.
pub(super) fn batch_end(scenarios: &[Scenario], start: usize, options: &RunOptions) -> usize {
    if options.jobs <= 1 || options.fail_fast || !controlled(&scenarios[start]) {
        return start + 1;
    }
    scenarios[start..]
        .iter()
        .position(|scenario| !controlled(scenario))
        .map_or(scenarios.len(), |length| start + length)
}

/// What happens to each scenario of a batch, in the batch's order.
pub(super) trait BatchSink {
    /// `scenario` is the first of the batch not yet handed on: it has started (or finished).
    fn started(&mut self, scenario: &Scenario) -> Result<(), super::RunError>;
    /// `scenario`'s result, after every result before it.
    fn finished(
        &mut self,
        scenario: &Scenario,
        result: Result<ScenarioReport, EngineError>,
    ) -> Result<(), super::RunError>;
}

/// Runs `batch` on up to `options.jobs` threads (the batch's first scenarios first), handing
/// each result to `sink` in the batch's order as soon as it and every one before it are
/// done. No scenario starts once a signal has asked the run to stop, and none after a sink
/// error; returns how many scenarios were handed on.
pub(super) fn run_batch(
    batch: &[Scenario],
    options: &RunOptions,
    sink: &mut dyn BatchSink,
) -> Result<usize, super::RunError> {
    if let [scenario] = batch {
        sink.started(scenario)?;
        sink.finished(scenario, run_scenario(scenario, options))?;
        return Ok(1);
    }
    let next = AtomicUsize::new(0);
    let (done, results) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.min(batch.len()) {
            let (next, done) = (&next, done.clone());
            scope.spawn(move || {
                while !crate::interrupt::requested() {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(scenario) = batch.get(index) else {
                        break;
                    };
                    if done.send((index, run_scenario(scenario, options))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let handed = hand_in_order(batch, &results, sink);
        // Whatever ended the handing, no further scenario starts.
        next.store(batch.len(), Ordering::Relaxed);
        handed
    })
}

type Finished = (usize, Result<ScenarioReport, EngineError>);

/// Hands the batch's results to `sink` in order as they arrive; stops early when the
/// threads end without one (a signal stopped them) or the sink fails.
fn hand_in_order(
    batch: &[Scenario],
    results: &mpsc::Receiver<Finished>,
    sink: &mut dyn BatchSink,
) -> Result<usize, super::RunError> {
    let mut waiting: Vec<Option<Result<ScenarioReport, EngineError>>> =
        (0..batch.len()).map(|_| None).collect();
    for (index, scenario) in batch.iter().enumerate() {
        sink.started(scenario)?;
        while waiting[index].is_none() {
            let Ok((finished, result)) = results.recv() else {
                return Ok(index);
            };
            waiting[finished] = Some(result);
        }
        let result = waiting[index].take().expect("waited for above");
        sink.finished(scenario, result)?;
    }
    Ok(batch.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{
        CounterSpec, EngineSpec, Expectation, ShuttleSettings, SyncMode, ThreadsSettings,
    };

    fn scenario(engine: EngineSpec) -> Scenario {
        let counter = CounterSpec::new(0, &[(1, 1), (1, 1)], SyncMode::None);
        Scenario::counter("s", engine, counter, Expectation::LostUpdates)
    }

    /// Shuttle, shuttle, threads, shuttle, shuttle, shuttle.
    fn mixed() -> Vec<Scenario> {
        let shuttle = || scenario(EngineSpec::Shuttle(ShuttleSettings::default()));
        let threads = scenario(EngineSpec::Threads(ThreadsSettings::default()));
        vec![
            shuttle(),
            shuttle(),
            threads,
            shuttle(),
            shuttle(),
            shuttle(),
        ]
    }

    fn batches(scenarios: &[Scenario], options: &RunOptions) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut start = 0;
        while start < scenarios.len() {
            start = batch_end(scenarios, start, options);
            ends.push(start);
        }
        ends
    }

    #[test]
    fn consecutive_shuttle_scenarios_share_a_batch_and_real_threads_run_alone() {
        let options = RunOptions {
            jobs: 2,
            ..RunOptions::default()
        };
        assert_eq!(batches(&mixed(), &options), [2, 3, 6]);
    }

    #[test]
    fn one_job_or_fail_fast_runs_one_scenario_at_a_time() {
        let one_job = RunOptions {
            jobs: 1,
            ..RunOptions::default()
        };
        let fail_fast = RunOptions {
            jobs: 4,
            fail_fast: true,
            ..RunOptions::default()
        };
        for options in [one_job, fail_fast] {
            assert_eq!(batches(&mixed(), &options), [1, 2, 3, 4, 5, 6]);
        }
    }
}
