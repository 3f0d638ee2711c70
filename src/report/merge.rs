//! Merges the reports of a campaign's shards into the report of the whole campaign.
//!
//! Each shard ran its own blocks of every scenario's executions (see [`crate::shard`]), and
//! execution `k` depends on the scenario's seed and `k` alone, so summing the shards' counts
//! and histograms gives what one unsharded run with the same seed gives.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{EndedBy, FinalCount, RunReport, ScenarioReport, Verdict};
use crate::failure::Kind;
use crate::runner::verdict_of;
use crate::tally::{Rate, Tally};

/// Shard reports that cannot be merged.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no report to merge")]
    Empty,
    /// A report was not made with `--shard`.
    #[error("{}: not the report of a shard (run with --shard I/N)", .0.display())]
    NotAShard(PathBuf),
    /// The reports come from different versions of contend.
    #[error("{}: made by contend {found}, but {} by contend {expected}", file.display(), first.display())]
    Version {
        /// The report that differs.
        file: PathBuf,
        /// Its version.
        found: String,
        /// The first report.
        first: PathBuf,
        /// The first report's version.
        expected: String,
    },
    /// The reports split the campaign differently.
    #[error("{}: shard {found}, but {} is a shard of {expected}", file.display(), first.display())]
    Total {
        /// The report that differs.
        file: PathBuf,
        /// Its shard.
        found: String,
        /// The first report.
        first: PathBuf,
        /// The first report's number of shards.
        expected: u64,
    },
    /// Two reports of the same shard.
    #[error("{} and {} are both shard {shard}", first.display(), second.display())]
    Duplicate {
        /// The shard.
        shard: String,
        /// One report.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A shard's report is missing.
    #[error("shard {missing} of {total} is missing: a merged report needs every shard")]
    Missing {
        /// The first missing shard.
        missing: u64,
        /// The number of shards.
        total: u64,
    },
    /// The reports do not hold the same scenarios.
    #[error("{}: its scenarios ({found}) are not those of {} ({expected})", file.display(), first.display())]
    Scenarios {
        /// The report that differs.
        file: PathBuf,
        /// Its scenario names.
        found: String,
        /// The first report.
        first: PathBuf,
        /// The first report's scenario names.
        expected: String,
    },
    /// A scenario's seed differs.
    #[error(
        "{}: scenario `{scenario}` ran with seed {found}, but with seed {expected} in {}; shards \
         of one campaign need one seed: set `seed` in the config or give every shard --seed",
        file.display(),
        first.display()
    )]
    Seed {
        /// The report that differs.
        file: PathBuf,
        /// The scenario.
        scenario: String,
        /// Its seed there.
        found: u64,
        /// The first report.
        first: PathBuf,
        /// Its seed in the first report.
        expected: u64,
    },
    /// A report names a shard that does not exist.
    #[error("{}: shard {index} of {total} does not exist: shards count from 1 to {total}", file.display())]
    ShardOutOfRange {
        /// The report.
        file: PathBuf,
        /// Its shard's index.
        index: u64,
        /// Its number of shards.
        total: u64,
    },
    /// A shard's counts contradict each other: a damaged or edited report.
    #[error("{}: scenario `{scenario}`: {problem}; the report is damaged or was edited", file.display())]
    Inconsistent {
        /// The report.
        file: PathBuf,
        /// The scenario.
        scenario: String,
        /// What does not add up.
        problem: String,
    },
    /// The shards' counts add up to more than 64 bits hold.
    #[error("{}: scenario `{scenario}`: `{field}` summed over the shards overflows", file.display())]
    Overflow {
        /// The report whose count overflowed the sum.
        file: PathBuf,
        /// The scenario.
        scenario: String,
        /// The count.
        field: &'static str,
    },
    /// A scenario's definition differs.
    #[error("{}: scenario `{scenario}` is not defined as in {} (a different config?)", file.display(), first.display())]
    Definition {
        /// The report that differs.
        file: PathBuf,
        /// The scenario.
        scenario: String,
        /// The first report.
        first: PathBuf,
    },
}

/// Merges the reports of every shard of one campaign, each with the file it came from.
pub fn merge(reports: &[(PathBuf, RunReport)]) -> Result<RunReport, MergeError> {
    let (first_file, first) = reports.first().ok_or(MergeError::Empty)?;
    let total = first
        .shard
        .ok_or_else(|| MergeError::NotAShard(first_file.clone()))?
        .total;
    let mut seen: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for (file, report) in reports {
        let shard = report
            .shard
            .ok_or_else(|| MergeError::NotAShard(file.clone()))?;
        if report.contend_version != first.contend_version {
            return Err(MergeError::Version {
                file: file.to_path_buf(),
                found: report.contend_version.clone(),
                first: first_file.to_path_buf(),
                expected: first.contend_version.clone(),
            });
        }
        if shard.total == 0 || shard.index == 0 || shard.index > shard.total {
            return Err(MergeError::ShardOutOfRange {
                file: file.to_path_buf(),
                index: shard.index,
                total: shard.total,
            });
        }
        if shard.total != total {
            return Err(MergeError::Total {
                file: file.to_path_buf(),
                found: shard.to_string(),
                first: first_file.to_path_buf(),
                expected: total,
            });
        }
        if let Some(other) = seen.insert(shard.index, file) {
            return Err(MergeError::Duplicate {
                shard: shard.to_string(),
                first: other.clone(),
                second: file.clone(),
            });
        }
        check_scenarios(file, report, first_file, first)?;
        for scenario in &report.scenarios {
            check_consistent(file, scenario)?;
        }
    }
    if let Some(missing) = (1..=total).find(|index| !seen.contains_key(index)) {
        return Err(MergeError::Missing { missing, total });
    }

    let scenarios: Vec<ScenarioReport> = (0..first.scenarios.len())
        .map(|at| merge_scenario(reports.iter().map(|(f, r)| (f, &r.scenarios[at]))))
        .collect::<Result<_, _>>()?;
    let verdict = if scenarios.iter().all(|s| s.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    Ok(RunReport {
        contend_version: first.contend_version.clone(),
        verdict,
        // The shards ran side by side: the campaign took as long as its slowest shard.
        elapsed_seconds: reports
            .iter()
            .map(|(_, r)| r.elapsed_seconds)
            .fold(0.0, f64::max),
        shard: None,
        scenarios,
        not_run: first.not_run.clone(),
    })
}

fn names(report: &RunReport) -> String {
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

fn check_scenarios(
    file: &Path,
    report: &RunReport,
    first_file: &Path,
    first: &RunReport,
) -> Result<(), MergeError> {
    if names(report) != names(first) {
        return Err(MergeError::Scenarios {
            file: file.to_path_buf(),
            found: names(report),
            first: first_file.to_path_buf(),
            expected: names(first),
        });
    }
    for (scenario, expected) in report.scenarios.iter().zip(&first.scenarios) {
        if scenario.seed != expected.seed {
            return Err(MergeError::Seed {
                file: file.to_path_buf(),
                scenario: scenario.name.clone(),
                found: scenario.seed,
                first: first_file.to_path_buf(),
                expected: expected.seed,
            });
        }
        if scenario.fingerprint != expected.fingerprint {
            return Err(MergeError::Definition {
                file: file.to_path_buf(),
                scenario: scenario.name.clone(),
                first: first_file.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Checks what a shard's counts say of each other: the histogram holds every settled run,
/// failing runs are runs that lost an update or failed otherwise, and none exceeds the runs.
fn check_consistent(file: &Path, scenario: &ScenarioReport) -> Result<(), MergeError> {
    let problem = |problem: String| MergeError::Inconsistent {
        file: file.to_path_buf(),
        scenario: scenario.name.clone(),
        problem,
    };
    let histogram = scenario
        .outcomes
        .iter()
        .try_fold(0u64, |sum, outcome| sum.checked_add(outcome.count));
    let settled = scenario.runs.checked_sub(scenario.failed_runs);
    if histogram.is_none() || settled.is_none() || histogram != settled {
        return Err(problem(format!(
            "its final values count {} runs, but it made {} runs of which {} failed otherwise",
            histogram.map_or("more than 2^64".to_string(), |h| h.to_string()),
            scenario.runs,
            scenario.failed_runs
        )));
    }
    if scenario.runs > scenario.runs_requested {
        return Err(problem(format!(
            "it made {} runs of {} requested",
            scenario.runs, scenario.runs_requested
        )));
    }
    if scenario.lost_update_runs.checked_add(scenario.failed_runs) != Some(scenario.failing_runs) {
        return Err(problem(format!(
            "its {} failing runs are not its {} runs that lost updates and {} that failed otherwise",
            scenario.failing_runs, scenario.lost_update_runs, scenario.failed_runs
        )));
    }
    if scenario.masked_runs > scenario.lost_update_runs {
        return Err(problem(format!(
            "{} masked runs of {} runs that lost updates",
            scenario.masked_runs, scenario.lost_update_runs
        )));
    }
    // A run that failed otherwise may have lost updates before it failed: they count too.
    if scenario.lost_updates < scenario.lost_update_runs
        || (scenario.lost_updates > 0
            && scenario.lost_update_runs == 0
            && scenario.failed_runs == 0)
    {
        return Err(problem(format!(
            "{} lost updates in {} runs that lost updates and {} that failed otherwise",
            scenario.lost_updates, scenario.lost_update_runs, scenario.failed_runs
        )));
    }
    let kind_runs = |lost: bool| {
        scenario
            .failure_kinds
            .iter()
            .filter(|(kind, _)| (**kind == Kind::LostUpdate) == lost)
            .try_fold(0u64, |sum, (_, runs)| sum.checked_add(*runs))
    };
    if kind_runs(true) != Some(scenario.lost_update_runs)
        || kind_runs(false) != Some(scenario.failed_runs)
    {
        return Err(problem(format!(
            "its failure_kinds ({}) are not its {} runs that lost updates and {} that failed \
             otherwise",
            scenario
                .failure_kinds
                .iter()
                .map(|(kind, runs)| format!("{} {runs}", kind.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            scenario.lost_update_runs,
            scenario.failed_runs
        )));
    }
    check_variables(scenario).map_err(problem)?;
    if scenario.first_failing_run.is_some() != (scenario.failing_runs > 0) {
        return Err(problem(format!(
            "{} failing runs, yet the first failing run is {}",
            scenario.failing_runs,
            scenario
                .first_failing_run
                .map_or("none".to_string(), |r| r.to_string())
        )));
    }
    Ok(())
}

/// Checks a program's per-variable counts against its totals: both maps name the same
/// variables, and each adds up to its total.
fn check_variables(scenario: &ScenarioReport) -> Result<(), String> {
    let lost = &scenario.lost_updates_by_variable;
    let overwrites = &scenario.overwrites_by_variable;
    if lost.is_empty() && overwrites.is_empty() {
        return Ok(());
    }
    if !lost.keys().eq(overwrites.keys()) {
        return Err(format!(
            "lost_updates_by_variable names {} but overwrites_by_variable names {}",
            names_of(lost),
            names_of(overwrites)
        ));
    }
    let sum = |map: &BTreeMap<String, u64>| {
        map.values()
            .try_fold(0u64, |sum, value| sum.checked_add(*value))
    };
    for (field, map, total) in [
        ("lost_updates", lost, scenario.lost_updates),
        ("overwrites", overwrites, scenario.overwrites),
    ] {
        if sum(map) != Some(total) {
            return Err(format!(
                "its {field}_by_variable ({}) do not add up to its {total} {field}",
                map.iter()
                    .map(|(name, value)| format!("{name} {value}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// The keys of `map`, for a message.
fn names_of<T>(map: &BTreeMap<String, T>) -> String {
    if map.is_empty() {
        "none".to_string()
    } else {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Says which count of which shard overflowed its sum over the shards.
fn overflow(field: &'static str, file: &Path, scenario: &ScenarioReport) -> MergeError {
    MergeError::Overflow {
        file: file.to_path_buf(),
        scenario: scenario.name.clone(),
        field,
    }
}

/// Adds `value` to `sum`, or says which count of which shard overflowed.
fn add(
    sum: &mut u64,
    value: u64,
    field: &'static str,
    file: &Path,
    scenario: &ScenarioReport,
) -> Result<(), MergeError> {
    *sum = sum
        .checked_add(value)
        .ok_or_else(|| overflow(field, file, scenario))?;
    Ok(())
}

/// What the shards of one scenario add up to, gathered shard by shard.
struct ShardSums<'a> {
    /// The summed counts, histogram, failures and per-variable figures.
    tally: Tally,
    /// The runs the shards were asked for, summed.
    runs_requested: u64,
    /// Each note with the names of the shards that made it, in the order first made.
    notes: Vec<(String, Vec<String>)>,
    /// The notes already in `notes`.
    noted: HashSet<String>,
    /// The shards added so far.
    shard_count: usize,
    /// The longest shard's time.
    elapsed: f64,
    /// What ended the campaign's run of the scenario.
    ended_by: EndedBy,
    /// The shard with the earliest failing run.
    witness: Option<&'a ScenarioReport>,
    /// The first shard whose runs settled: it knows the expected final value.
    settled: Option<&'a ScenarioReport>,
}

impl<'a> ShardSums<'a> {
    /// Sums of no shard yet.
    fn new() -> Self {
        ShardSums {
            tally: Tally::default(),
            runs_requested: 0,
            notes: Vec::new(),
            noted: HashSet::new(),
            shard_count: 0,
            elapsed: 0.0,
            ended_by: EndedBy::Runs,
            witness: None,
            settled: None,
        }
    }

    /// Adds one shard's report of the scenario to the sums.
    fn add_shard(&mut self, file: &Path, shard: &'a ScenarioReport) -> Result<(), MergeError> {
        if self.settled.is_none() && !shard.outcomes.is_empty() {
            self.settled = Some(shard);
        }
        self.add_counts(file, shard)?;
        self.add_variables(file, shard)?;
        self.tally.exhaustive |= shard.exhaustive;
        self.elapsed = self.elapsed.max(shard.elapsed_seconds);
        for outcome in &shard.outcomes {
            add(
                self.tally.finals.entry(outcome.value).or_default(),
                outcome.count,
                "outcomes",
                file,
                shard,
            )?;
        }
        self.tally.failures.extend(shard.failures.iter().cloned());
        self.shard_count += 1;
        self.add_notes(shard);
        self.ended_by = self.ended_by.max_of(shard.ended_by);
        self.keep_earliest_witness(shard);
        Ok(())
    }

    /// Adds a shard's run, update and failure counts.
    fn add_counts(&mut self, file: &Path, shard: &ScenarioReport) -> Result<(), MergeError> {
        let tally = &mut self.tally;
        for (sum, value, field) in [
            (&mut tally.runs, shard.runs, "runs"),
            (&mut tally.failing_runs, shard.failing_runs, "failing_runs"),
            (
                &mut tally.lost_update_runs,
                shard.lost_update_runs,
                "lost_update_runs",
            ),
            (&mut tally.masked_runs, shard.masked_runs, "masked_runs"),
            (&mut tally.failed_runs, shard.failed_runs, "failed_runs"),
            (&mut tally.lost_updates, shard.lost_updates, "lost_updates"),
            (&mut tally.overwrites, shard.overwrites, "overwrites"),
            (
                &mut self.runs_requested,
                shard.runs_requested,
                "runs_requested",
            ),
        ] {
            add(sum, value, field, file, shard)?;
        }
        tally.net_lost = tally
            .net_lost
            .checked_add(shard.net_lost)
            .ok_or_else(|| overflow("net_lost", file, shard))?;
        for (kind, runs) in &shard.failure_kinds {
            add(
                tally.failure_kinds.entry(*kind).or_default(),
                *runs,
                "failure_kinds",
                file,
                shard,
            )?;
        }
        Ok(())
    }

    /// Adds a program's per-variable counts, and the expected final values of settled runs.
    fn add_variables(&mut self, file: &Path, shard: &ScenarioReport) -> Result<(), MergeError> {
        let variables = &mut self.tally.variables;
        for (name, lost) in &shard.lost_updates_by_variable {
            let variable = variables.entry(name.clone()).or_default();
            add(
                &mut variable.lost_updates,
                *lost,
                "lost_updates_by_variable",
                file,
                shard,
            )?;
        }
        for (name, overwrites) in &shard.overwrites_by_variable {
            let variable = variables.entry(name.clone()).or_default();
            add(
                &mut variable.overwrites,
                *overwrites,
                "overwrites_by_variable",
                file,
                shard,
            )?;
        }
        if !shard.outcomes.is_empty() {
            for (name, expected) in &shard.expected_final_by_variable {
                let variable = variables.entry(name.clone()).or_default();
                variable.expected_final = variable.expected_final.or(Some(*expected));
            }
        }
        Ok(())
    }

    /// Records which shard made each of the shard's notes (the latest shard added).
    fn add_notes(&mut self, shard: &ScenarioReport) {
        let shard_name = format!("shard {}", self.shard_count);
        for note in &shard.notes {
            if self.noted.insert(note.clone()) {
                self.notes.push((note.clone(), vec![shard_name.clone()]));
            } else if let Some((_, shards)) = self.notes.iter_mut().find(|(n, _)| n == note) {
                shards.push(shard_name.clone());
            }
        }
    }

    /// Keeps the shard as the witness if its first failing run comes before the witness's.
    fn keep_earliest_witness(&mut self, shard: &'a ScenarioReport) {
        if let Some(run) = shard.first_failing_run
            && self
                .witness
                .and_then(|w| w.first_failing_run)
                .is_none_or(|first| run < first)
        {
            self.witness = Some(shard);
        }
    }

    /// Writes the sums over the shards into `merged`, the first shard's report.
    fn write_into(mut self, merged: &mut ScenarioReport) {
        self.tally.failures.truncate(crate::tally::KEPT_FAILURES);
        let (verdict, reason) = verdict_of(merged.expect, &self.tally);
        merged.verdict = verdict;
        merged.reason = reason;
        if let Some(settled) = self.settled {
            merged.expected_final = settled.expected_final;
        }
        merged.runs_requested = self.runs_requested;
        merged.notes = self.merged_notes();
        write_tally(merged, self.tally);
        merged.elapsed_seconds = self.elapsed;
        merged.ended_by = self.ended_by;
        merged.first_failing_run = self.witness.and_then(|w| w.first_failing_run);
        merged.schedule_file = self.witness.and_then(|w| w.schedule_file.clone());
        merged.minimal_schedule = self.witness.and_then(|w| w.minimal_schedule.clone());
    }

    /// The notes: one every shard made stands alone; the others say which shards made them.
    fn merged_notes(&self) -> Vec<String> {
        self.notes
            .iter()
            .map(|(note, shards)| {
                if shards.len() == self.shard_count {
                    note.clone()
                } else {
                    format!("{}: {note}", shards.join(", "))
                }
            })
            .collect()
    }
}

/// Writes the summed counts, rate, histogram and failures of `tally` into `merged`.
fn write_tally(merged: &mut ScenarioReport, tally: Tally) {
    merged.runs = tally.runs;
    merged.failing_runs = tally.failing_runs;
    merged.lost_update_runs = tally.lost_update_runs;
    merged.masked_runs = tally.masked_runs;
    merged.failed_runs = tally.failed_runs;
    merged.failure_kinds = tally.failure_kinds.clone();
    merged.lost_updates = tally.lost_updates;
    merged.overwrites = tally.overwrites;
    merged.net_lost = tally.net_lost;
    merged.lost_updates_by_variable = super::by_variable(&tally, |v| Some(v.lost_updates));
    merged.overwrites_by_variable = super::by_variable(&tally, |v| Some(v.overwrites));
    merged.expected_final_by_variable = super::by_variable(&tally, |v| v.expected_final);
    merged.exhaustive = tally.exhaustive;
    merged.failure_rate = if tally.exhaustive {
        Rate::exact(tally.failing_runs, tally.runs).into()
    } else {
        Rate::wilson(tally.failing_runs, tally.runs).into()
    };
    merged.outcomes = tally
        .most_frequent_finals()
        .into_iter()
        .map(|(value, count)| FinalCount { value, count })
        .collect();
    merged.failures = tally.failures;
}

/// One scenario's report from its shards' reports (which all describe the same scenario).
fn merge_scenario<'a>(
    shards: impl Iterator<Item = (&'a PathBuf, &'a ScenarioReport)> + Clone,
) -> Result<ScenarioReport, MergeError> {
    let mut merged = shards.clone().next().expect("at least one shard").1.clone();
    let mut sums = ShardSums::new();
    for (file, shard) in shards.clone() {
        sums.add_shard(file, shard)?;
    }
    sums.write_into(&mut merged);
    merged.coverage = super::coverage::merged(shards.map(|(_, s)| s.coverage.as_ref()));
    Ok(merged)
}

impl EndedBy {
    /// Of two shards' endings, the one the whole campaign reports: anything but "all runs made"
    /// wins, the first found first.
    fn max_of(self, other: EndedBy) -> EndedBy {
        if self == EndedBy::Runs { other } else { self }
    }
}
