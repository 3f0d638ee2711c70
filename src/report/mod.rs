//! Reports: one event type feeds every reporter; each reporter writes to an injected writer.

#[cfg(feature = "runner")]
pub mod coverage;
#[cfg(feature = "runner")]
pub mod github;
#[cfg(feature = "runner")]
pub mod html;
pub mod interleaving;
#[cfg(feature = "runner")]
pub mod json;
#[cfg(feature = "runner")]
pub mod junit;
#[cfg(feature = "runner")]
pub mod merge;
#[cfg(feature = "runner")]
pub mod replayed;
#[cfg(feature = "runner")]
pub mod svg;
#[cfg(feature = "runner")]
pub mod text;
pub use crate::words;

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use crate::failure::Kind;
use crate::scenario::{CounterSpec, EngineSpec, Expectation, Origin, Scenario, Storage, SyncMode};
use crate::schedule::witness::ScheduleSummary;
use crate::shard::Shard;
use crate::tally::{Rate, Tally, VariableTally};

/// Everything a reporter is told, in order.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// The run begins with these scenarios.
    RunStarted {
        /// The scenarios, in the order they will run.
        scenarios: &'a [Scenario],
    },
    /// A scenario begins.
    ScenarioStarted {
        /// The scenario.
        scenario: &'a Scenario,
    },
    /// A scenario has finished.
    ScenarioFinished {
        /// Its report.
        report: &'a ScenarioReport,
    },
    /// Every scenario has finished.
    RunFinished {
        /// The whole run's report.
        report: &'a RunReport,
    },
}

/// Receives the events of a run.
pub trait Reporter {
    /// Handles one event.
    fn report(&mut self, event: &Event<'_>) -> io::Result<()>;
}

/// Several reporters fed the same events, in order.
#[derive(Default)]
pub struct Reporters(Vec<Box<dyn Reporter>>);

impl Reporters {
    /// Adds a reporter.
    pub fn push(&mut self, reporter: Box<dyn Reporter>) {
        self.0.push(reporter);
    }
}

impl std::fmt::Debug for Reporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reporters({})", self.0.len())
    }
}

impl Reporter for Reporters {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|r| r.report(event))
    }
}

/// Whether expectations were met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every expectation met.
    Pass,
    /// At least one expectation failed.
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// How often one final value was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalCount {
    /// The counter's final value.
    #[serde(rename = "final")]
    pub value: i64,
    /// Number of executions that ended with it.
    pub count: u64,
}

/// A rate with its 95% confidence interval, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateReport {
    /// The observed rate.
    pub rate: f64,
    /// Lower bound of the 95% Wilson interval.
    pub ci95_low: f64,
    /// Upper bound of the 95% Wilson interval.
    pub ci95_high: f64,
}

impl From<Rate> for RateReport {
    fn from(rate: Rate) -> Self {
        RateReport {
            rate: rate.value,
            ci95_low: rate.low,
            ci95_high: rate.high,
        }
    }
}

/// What one thread of a counter scenario does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadReport {
    /// Added to the counter by each update.
    pub delta: i64,
    /// Number of updates.
    pub ops: u64,
}

/// The shape of a `counter-object` workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReport {
    /// Worker threads.
    pub workers: usize,
    /// Increments per worker.
    pub increments: u64,
    /// The longest pause before an increment, in milliseconds.
    pub max_pause_ms: u64,
}

/// How a scenario of the processes engine ran.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessesReport {
    /// Worker processes per execution.
    pub workers: usize,
    /// Where the counter lived.
    pub storage: Storage,
    /// The bound on one execution, in seconds.
    pub timeout_seconds: f64,
}

/// The result of one scenario: the `scenarios` entries of the JSON report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// Where it was defined: its config file and the line of its `[[scenario]]` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Origin>,
    /// The workload.
    pub workload: String,
    /// The engine.
    pub engine: String,
    /// The shuttle scheduler, when the scenario runs under shuttle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// The executor, for the async engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// The counter's synchronization mode (a plugin workload's is in its own code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncMode>,
    /// What the scenario had to show.
    pub expect: Expectation,
    /// Whether it did.
    pub verdict: Verdict,
    /// The verdict in words.
    pub reason: String,
    /// The seed every random choice derived from.
    pub seed: u64,
    /// The counter's initial value (counter workloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<i64>,
    /// A plugin workload's parameters, as its `[scenario.params]` table gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<toml::Table>,
    /// What each thread does.
    pub threads: Vec<ThreadReport>,
    /// The `counter-object` workload's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectReport>,
    /// The processes engine's workers and storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<ProcessesReport>,
    /// Executions asked for.
    pub runs_requested: u64,
    /// Executions completed.
    pub runs: u64,
    /// Executions with at least one lost update or another failure.
    pub failing_runs: u64,
    /// Executions that lost at least one update.
    pub lost_update_runs: u64,
    /// Executions that lost updates yet ended on the expected value: the losses cancelled out.
    pub masked_runs: u64,
    /// Executions that failed otherwise: a broken invariant, a deadlock, a panic, a livelock.
    pub failed_runs: u64,
    /// Failing executions by kind: `lost-update`, `invariant`, `deadlock`, `panic`,
    /// `livelock`, each with the number of runs that failed with it (kinds that did not show
    /// are left out). `lost-update` is `lost_update_runs`; the others add up to `failed_runs`.
    #[serde(default)]
    pub failure_kinds: BTreeMap<Kind, u64>,
    /// Failing executions over executions, with its 95% interval.
    pub failure_rate: RateReport,
    /// Lost updates over all executions.
    pub lost_updates: u64,
    /// Overwrites over all executions; an overwritten update may be restored by a later write.
    pub overwrites: u64,
    /// Sum of the deltas of the lost updates over all executions; equals the sum over the
    /// executions of `expected_final - final`.
    pub net_lost: i128,
    /// The final value with no lost update (for a program, the sum over its shared variables;
    /// 0 when no execution settled).
    pub expected_final: i64,
    /// A workload with named cells (a program's shared variables): the lost updates of each,
    /// by name, every variable listed (0 for one that lost none). They add up to
    /// `lost_updates`. Absent for a workload with one unnamed counter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lost_updates_by_variable: BTreeMap<String, u64>,
    /// The overwrites of each named cell, by name; they add up to `overwrites`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overwrites_by_variable: BTreeMap<String, u64>,
    /// What each named cell would end with had no update been lost, in the execution that
    /// gave `expected_final` (they add up to it); absent when no execution settled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expected_final_by_variable: BTreeMap<String, i64>,
    /// Histogram of final values, most frequent first.
    pub outcomes: Vec<FinalCount>,
    /// The first failure messages (panics, deadlocks, livelocks).
    pub failures: Vec<String>,
    /// Every possible execution was made (DFS ran out of schedules); the rate is then exact.
    pub exhaustive: bool,
    /// What a passing run proves: exhaustive, preemption-bounded or sampled, with its numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<coverage::Coverage>,
    /// What the engine has to say about how the run went.
    pub notes: Vec<String>,
    /// The saved schedule file of the first failure, if one was saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_file: Option<String>,
    /// The minimal failing schedule of the first failure, if one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimal_schedule: Option<ScheduleSummary>,
    /// Wall-clock time of the scenario.
    pub elapsed_seconds: f64,
    /// What ended the run: its runs, its time budget, `--fail-fast`, a failed execution that
    /// ends the engine's run, or an exhaustive search.
    pub ended_by: EndedBy,
    /// The scenario's time budget, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget_seconds: Option<f64>,
    /// The index of the first failing execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failing_run: Option<u64>,
    /// Identifies the scenario's definition: shard reports merge only when theirs match.
    pub fingerprint: String,
}

/// What ended a scenario's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndedBy {
    /// Every execution asked for was made.
    Runs,
    /// The time budget was used up first.
    Time,
    /// `--fail-fast` stopped it at the first unexpected failure.
    FailFast,
    /// A failed execution ended it (shuttle stops at one; a processes run that timed out).
    Failure,
    /// DFS explored every schedule before reaching `runs`.
    Exhaustive,
    /// A signal (SIGINT, SIGTERM) stopped it after the execution under way.
    Interrupted,
}

impl ScenarioReport {
    /// The synchronization as reports show it: the counter's mode, or `own` for a plugin
    /// workload, whose synchronization is in its own code.
    pub fn sync_label(&self) -> &'static str {
        self.sync.map_or("own", SyncMode::as_str)
    }

    /// The report of `scenario` from its tally and verdict.
    pub fn new(
        scenario: &Scenario,
        tally: Tally,
        verdict: Verdict,
        reason: String,
        elapsed_seconds: f64,
    ) -> Self {
        let no_threads = CounterSpec::new(0, &[], SyncMode::None);
        let counter = scenario.workload.counter().unwrap_or(&no_threads);
        let params = match &scenario.workload {
            crate::scenario::WorkloadSpec::Plugin(plugin) => Some(plugin.params_table()),
            crate::scenario::WorkloadSpec::Counter(_) => None,
        };
        let scheduler = scenario
            .engine
            .shuttle_settings()
            .map(|settings| settings.scheduler.as_str().to_string());
        let executor = match &scenario.engine {
            EngineSpec::Async(settings) => Some(settings.executor.as_str().to_string()),
            EngineSpec::Threads(_) | EngineSpec::Shuttle(_) | EngineSpec::Processes(_) => None,
        };
        let processes = match &scenario.engine {
            EngineSpec::Processes(settings) => Some(ProcessesReport {
                workers: counter.threads.len(),
                storage: settings.storage,
                timeout_seconds: settings.timeout.as_secs_f64(),
            }),
            _ => None,
        };
        ScenarioReport {
            name: scenario.name.clone(),
            config: scenario.origin.clone(),
            workload: scenario.workload.name().to_string(),
            engine: scenario.engine.name().to_string(),
            scheduler,
            executor,
            sync: scenario.workload.sync(),
            expect: scenario.expect,
            verdict,
            reason,
            seed: scenario.seed,
            initial: scenario.workload.counter().map(|counter| counter.initial),
            params,
            processes,
            object: counter.object.map(|object| ObjectReport {
                workers: counter.threads.len(),
                increments: counter.threads.first().map_or(0, |t| t.ops),
                max_pause_ms: object.max_pause.as_millis() as u64,
            }),
            threads: counter
                .threads
                .iter()
                .map(|t| ThreadReport {
                    delta: t.delta,
                    ops: t.ops,
                })
                .collect(),
            runs_requested: scenario.runs,
            runs: tally.runs,
            failing_runs: tally.failing_runs,
            lost_update_runs: tally.lost_update_runs,
            masked_runs: tally.masked_runs,
            failed_runs: tally.failed_runs,
            failure_kinds: tally.failure_kinds.clone(),
            failure_rate: if tally.exhaustive {
                Rate::exact(tally.failing_runs, tally.runs).into()
            } else {
                Rate::wilson(tally.failing_runs, tally.runs).into()
            },
            lost_updates: tally.lost_updates,
            overwrites: tally.overwrites,
            net_lost: tally.net_lost,
            expected_final: tally
                .expected_final
                .unwrap_or_else(|| counter.expected_final()),
            lost_updates_by_variable: by_variable(&tally, |v| Some(v.lost_updates)),
            overwrites_by_variable: by_variable(&tally, |v| Some(v.overwrites)),
            expected_final_by_variable: by_variable(&tally, |v| v.expected_final),
            outcomes: tally
                .most_frequent_finals()
                .into_iter()
                .map(|(value, count)| FinalCount { value, count })
                .collect(),
            coverage: Some(coverage::coverage(scenario, &tally)),
            failures: tally.failures,
            exhaustive: tally.exhaustive,
            notes: tally.notes,
            schedule_file: None,
            minimal_schedule: None,
            elapsed_seconds,
            ended_by: EndedBy::Runs,
            time_budget_seconds: scenario.time.map(|time| time.as_secs_f64()),
            first_failing_run: tally.first_failing_run.map(|(run, _)| run),
            fingerprint: scenario.fingerprint(),
        }
    }
}

/// One figure of each named cell of `tally`, by name; cells without it left out.
pub(crate) fn by_variable<T>(
    tally: &Tally,
    figure: impl Fn(&VariableTally) -> Option<T>,
) -> BTreeMap<String, T> {
    tally
        .variables
        .iter()
        .filter_map(|(name, variable)| Some((name.clone(), figure(variable)?)))
        .collect()
}

/// The result of a whole run: the JSON report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The version of contend that ran.
    pub contend_version: String,
    /// `pass` when every scenario passed.
    pub verdict: Verdict,
    /// Wall-clock time of the run.
    pub elapsed_seconds: f64,
    /// The shard this run made, when the campaign is split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// One entry per scenario, in order.
    pub scenarios: Vec<ScenarioReport>,
    /// The scenarios `--fail-fast` left unrun after the first failed one, by name, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
}
