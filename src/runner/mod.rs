//! Runs scenarios: builds the workload and engine, tallies the executions, judges the
//! expectation, and feeds each result to the reporters as it comes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::engine::body::execute_plugin;
use crate::engine::processes::ProcessesEngine;
use crate::engine::shuttle::ShuttleEngine;
use crate::engine::tasks::AsyncEngine;
use crate::engine::threads::ThreadsEngine;
use crate::engine::{Engine, EngineError, RunPlan, Shard, block_len};
use crate::failure::Kind;
use crate::report::words::{count, grouped};
use crate::report::{EndedBy, Event, Reporter, RunReport, ScenarioReport, Verdict};
use crate::scenario::{EngineSpec, Expectation, Scenario, WorkloadSpec};
use crate::schedule::plugin_witness::plugin_witness;
use crate::schedule::witness::{Failure, witness};
use crate::tally::Tally;
use crate::workload::Workload;
use crate::workload::counter::Counter;

mod batch;
mod progress;
mod verdict;

pub use progress::ScenarioProgress;
pub use verdict::{judge, verdict_of};

/// Options that apply to every scenario of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Stop a scenario at its first unexpected failure, and the run after the first failed
    /// scenario (the others are reported as not run).
    pub fail_fast: bool,
    /// Find a replayable schedule for a scenario's first failure (on by default).
    pub schedules: bool,
    /// Shrink failing schedules to minimal ones (on by default).
    pub shrink: bool,
    /// The folder where schedule files are saved; none are saved without one.
    pub artifacts: Option<PathBuf>,
    /// The contend binary, started as the processes engine's workers; `None` means this
    /// program, which must then be contend.
    pub worker_program: Option<PathBuf>,
    /// Run only this shard of every scenario's executions.
    pub shard: Option<Shard>,
    /// Counts each scenario's finished executions (set to 0 as the scenario starts), for a
    /// progress display.
    pub progress: Option<Arc<ScenarioProgress>>,
    /// Worker threads for the blocks of controlled (shuttle) scenarios, and for consecutive
    /// controlled scenarios side by side; reports are the same for every number. Real threads
    /// and processes run one execution at a time, and alone, since anything beside them would
    /// change what they measure.
    pub jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            fail_fast: false,
            schedules: true,
            shrink: true,
            artifacts: None,
            worker_program: None,
            shard: None,
            progress: None,
            jobs: 1,
        }
    }
}

/// A run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An engine failed (an internal error).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A reporter could not write.
    #[error("could not write the report")]
    Report(#[from] std::io::Error),
}

/// Runs every scenario and reports each one, in order. With more than one job, consecutive
/// scenarios under shuttle run side by side; the reports are the same.
pub fn run_scenarios(
    scenarios: &[Scenario],
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    reporter.report(&Event::RunStarted { scenarios })?;
    let mut reporting = Reporting {
        reporter,
        reports: Vec::with_capacity(scenarios.len()),
    };
    let mut next = 0;
    while next < scenarios.len() && !crate::interrupt::requested() {
        let end = batch::batch_end(scenarios, next, options);
        let handed = batch::run_batch(&scenarios[next..end], options, &mut reporting)?;
        let failed = reporting.reports.last().map(|r| r.verdict) == Some(Verdict::Fail);
        if handed < end - next || (failed && options.fail_fast) {
            break;
        }
        next = end;
    }
    let Reporting { reporter, reports } = reporting;
    // A signal or `--fail-fast` stopped the run: the scenarios not reported are named as not run.
    let not_run = scenarios[reports.len()..]
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let verdict = if reports.iter().all(|r| r.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let run = RunReport {
        contend_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        shard: options.shard,
        scenarios: reports,
        not_run,
    };
    reporter.report(&Event::RunFinished { report: &run })?;
    Ok(run)
}

/// Hands each scenario's start and report to the reporters, and keeps the reports.
struct Reporting<'a> {
    reporter: &'a mut dyn Reporter,
    reports: Vec<ScenarioReport>,
}

impl batch::BatchSink for Reporting<'_> {
    fn started(&mut self, scenario: &Scenario) -> Result<(), RunError> {
        Ok(self.reporter.report(&Event::ScenarioStarted { scenario })?)
    }

    fn finished(
        &mut self,
        _scenario: &Scenario,
        result: Result<ScenarioReport, EngineError>,
    ) -> Result<(), RunError> {
        let report = result?;
        self.reporter
            .report(&Event::ScenarioFinished { report: &report })?;
        self.reports.push(report);
        Ok(())
    }
}

/// Runs one scenario to its report.
pub fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
) -> Result<ScenarioReport, EngineError> {
    let started = Instant::now();
    let stop_at_first_failure = options.fail_fast && scenario.expect.forbids_failures();
    let mut tally = Tally::new(stop_at_first_failure);
    tally.progress = options
        .progress
        .as_ref()
        .and_then(|progress| progress.counter(&scenario.name));
    if let Some(counter) = &tally.progress {
        counter.store(0, Ordering::Relaxed);
    }
    let plan = RunPlan {
        shard: options.shard,
        deadline: scenario.time.and_then(|time| started.checked_add(time)),
        jobs: options.jobs.max(1),
        ..RunPlan::new(&scenario.name, scenario.runs, scenario.seed)
    };
    let counter = match &scenario.workload {
        WorkloadSpec::Counter(counter) => counter,
        WorkloadSpec::Plugin(plugin) => {
            execute_plugin(plugin, &scenario.engine, &plan, &mut tally)?;
            return finish(scenario, options, &plan, tally, started);
        }
    };
    match &scenario.engine {
        EngineSpec::Async(settings) => {
            AsyncEngine::new(settings.clone()).execute(counter, &plan, &mut tally)?
        }
        EngineSpec::Processes(settings) => {
            let program = match &options.worker_program {
                Some(program) => program.clone(),
                None => std::env::current_exe().map_err(|error| {
                    EngineError::Environment(format!(
                        "cannot find the contend binary to start workers: {error}"
                    ))
                })?,
            };
            ProcessesEngine::new(settings.clone(), program).execute(counter, &plan, &mut tally)?
        }
        engine => execute(
            engine,
            Arc::new(Counter::new(counter.clone())),
            &plan,
            &mut tally,
        )?,
    }
    finish(scenario, options, &plan, tally, started)
}

/// Judges a scenario's executions, finds and saves the schedule of its first failure, and
/// makes its report.
fn finish(
    scenario: &Scenario,
    options: &RunOptions,
    plan: &RunPlan,
    mut tally: Tally,
    started: Instant,
) -> Result<ScenarioReport, EngineError> {
    let planned = plan.planned(block_len(&scenario.engine, scenario.runs));
    let ended_by = ended_by(scenario, options, planned, &mut tally);
    let elapsed_seconds = started.elapsed().as_secs_f64();
    let witness = first_failure_witness(scenario, options, &mut tally)?;
    let mut report = judge(scenario, tally, elapsed_seconds);
    if let Some(shard) = options.shard {
        leave_unshown_bugs_to_the_merge(scenario, shard, planned, &mut report);
    }
    report.runs_requested = planned;
    report.ended_by = ended_by;
    if let Some(witness) = witness {
        report.schedule_file = witness.schedule.as_ref().and_then(|s| s.file.clone());
        report.minimal_schedule = witness.schedule;
        report.notes.extend(witness.notes);
    }
    Ok(report)
}

/// What ended a scenario's executions, of the `planned` ones, with a note in `tally` where the
/// reader needs one (a signal, the time budget, `--fail-fast`, an exhaustive search's cap).
fn ended_by(scenario: &Scenario, options: &RunOptions, planned: u64, tally: &mut Tally) -> EndedBy {
    let stop_at_first_failure = options.fail_fast && scenario.expect.forbids_failures();
    let stopped_early = tally.runs < planned;
    if tally.interrupted {
        tally.notes.push(format!(
            "interrupted by a signal after {} of {}",
            grouped(tally.runs.into()),
            count(planned, "run")
        ));
        EndedBy::Interrupted
    } else if tally.out_of_time {
        tally.notes.push(format!(
            "the time budget ({}) ended the run after {} of {}",
            humantime::format_duration(scenario.time.unwrap_or_default()),
            grouped(tally.runs.into()),
            count(planned, "run")
        ));
        EndedBy::Time
    } else if tally.exhaustive {
        EndedBy::Exhaustive
    } else if stop_at_first_failure && tally.failing_runs > 0 && stopped_early {
        tally
            .notes
            .push("stopped at the first unexpected failure (--fail-fast)".to_string());
        EndedBy::FailFast
    } else if stopped_early {
        EndedBy::Failure
    } else {
        if let Some(name) = scenario
            .engine
            .shuttle_settings()
            .filter(|s| s.scheduler.exhaustive())
            .map(|s| s.scheduler.as_str())
        {
            tally.notes.push(format!(
                "{name} reached its cap of {} before exploring every schedule: the search is not \
                 exhaustive (raise `runs` to search further)",
                count(tally.runs, "schedule")
            ));
        }
        EndedBy::Runs
    }
}

/// The replayable (and, unless `--no-shrink`, minimal) schedule of the scenario's first
/// failing execution, saved in the artifacts folder, when schedules are wanted and the
/// engine has them.
fn first_failure_witness(
    scenario: &Scenario,
    options: &RunOptions,
    tally: &mut Tally,
) -> Result<Option<crate::schedule::witness::Witness>, EngineError> {
    let searchable = !matches!(scenario.engine, EngineSpec::Async(_));
    if !searchable && tally.first_failing_run.is_some() && options.schedules {
        tally.notes.push(
            "schedules are searched for and saved for the threads and shuttle engines; async \
             scenarios do not have them yet"
                .to_string(),
        );
    }
    let Some((run, kind)) = tally
        .first_failing_run
        .filter(|_| options.schedules && searchable)
        // A worker process that crashed, was killed or timed out failed outside the workload's
        // accesses: there is no schedule to look for.
        .filter(|(_, kind)| {
            !(*kind != Kind::LostUpdate && matches!(scenario.engine, EngineSpec::Processes(_)))
        })
    else {
        return Ok(None);
    };
    let recorded = tally
        .first_failing_schedule
        .as_ref()
        .filter(|(recorded, _)| *recorded == run)
        .map(|(_, recording)| recording);
    let failure = Failure {
        run,
        kind,
        recorded,
    };
    let folder = options.artifacts.as_deref();
    Ok(Some(match &scenario.workload {
        WorkloadSpec::Counter(counter) => {
            witness(scenario, counter, failure, options.shrink, folder)?
        }
        WorkloadSpec::Plugin(plugin) => {
            plugin_witness(scenario, plugin, failure, options.shrink, folder)?
        }
    }))
}

/// In a shard, a scenario that must show a bug and did not passes: another shard may show it,
/// and `contend merge` judges the whole campaign. A shard's own failures still fail it.
fn leave_unshown_bugs_to_the_merge(
    scenario: &Scenario,
    shard: Shard,
    planned: u64,
    report: &mut ScenarioReport,
) {
    if report.verdict != Verdict::Fail
        || !scenario.expect.must_show()
        || (scenario.expect == Expectation::LostUpdates && report.failed_runs > 0)
    {
        return;
    }
    report.verdict = Verdict::Pass;
    report.reason = if planned == 0 {
        format!("no execution of this scenario falls on shard {shard}; the merge judges it")
    } else {
        format!(
            "{} not shown in this shard's {}; whether the bug showed is judged when the shards \
             are merged",
            shown_words(scenario.expect),
            count(report.runs, "run")
        )
    };
}

fn execute<W: Workload>(
    engine: &EngineSpec,
    workload: Arc<W>,
    plan: &RunPlan,
    tally: &mut Tally,
) -> Result<(), EngineError> {
    match engine {
        EngineSpec::Threads(settings) => {
            ThreadsEngine::new(settings.clone()).execute(workload, plan, tally)
        }
        EngineSpec::Shuttle(settings) => {
            ShuttleEngine::new(settings.clone()).execute(workload, plan, tally)
        }
        EngineSpec::Async(_) | EngineSpec::Processes(_) => {
            unreachable!("async and processes scenarios run the counter on their own engines")
        }
    }
}

/// What an expectation that must show a failure waits for, in words.
fn shown_words(expect: Expectation) -> String {
    match expect {
        Expectation::Kind(kind) => format!("no {kind}"),
        Expectation::Failure => "no failure".to_string(),
        _ => "no lost update".to_string(),
    }
}
