//! From a scenario's first failing execution to a saved, minimal, replayable schedule.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::file::{
    CounterTarget, FailureRecord, OriginalRecord, RecordedKind, ScheduleFile, ScheduleRecord,
    ShrunkCounter, Target as FileTarget, thread_records,
};
use super::record::Recording;
use super::search::{Limits, Minimality};
use super::shrink::{Minimal, minimize};
use crate::engine::{EngineError, Outcome};
use crate::failure::Kind;
use crate::replay::{Kept, ReplayError, Target, replay_keeping};
use crate::report::ThreadReport;
use crate::report::interleaving::{AccessReport, access_reports, write_table};
use crate::scenario::{CounterSpec, EngineSpec, Scenario};
use crate::sync::deadlock::{CycleEdge, WaitCycle};

/// The minimal failing schedule of a scenario, as reports show it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ScheduleSummary {
    /// Where the schedule file was saved, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Preemptions in the schedule.
    pub preemptions: u64,
    /// Scheduling decisions in its execution.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
    /// Whether minimality is proven.
    pub proven: bool,
    /// The kind of the shrunk failure: `lost-update`, `invariant`, `deadlock`, `panic`,
    /// `livelock`.
    pub failure: Kind,
    /// A deadlock's cycle of waits, one edge a waiting thread, when the wait-for graph shows
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Vec<CycleEdge>>,
    /// The counter's initial value in the shrunk workload (counter workloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<i64>,
    /// The shrunk parameters of a plugin workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<toml::Table>,
    /// The shrunk workload's threads.
    pub threads: Vec<ThreadReport>,
    /// Their names in the scenario (shrinking may keep, say, only `Thread-2` and `Thread-3`).
    pub thread_names: Vec<String>,
    /// The interleaving table, one line a row.
    pub interleaving: Vec<String>,
    /// The rows of the interleaving table as data, for diagrams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accesses: Vec<AccessReport>,
    /// Each overwrite of the schedule in words.
    pub explanation: Vec<String>,
    /// The command that replays it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_command: Option<String>,
    /// Controlled executions the search ran.
    pub executions: u64,
    /// Time spent recording, shrinking, checking and saving.
    pub seconds: f64,
}

impl ScheduleSummary {
    /// The shrunk workload the schedule runs, in words: `counter from 10, Thread-1 +1 x 1,
    /// Thread-2 -1 x 1`, or `bank with amount = 80, ...`.
    pub fn shrunk_workload(&self) -> String {
        if let Some(params) = &self.params {
            return format!(
                "{} with {}",
                self.thread_names.join(", "),
                inline_table(params)
            );
        }
        let threads: Vec<String> = self
            .threads
            .iter()
            .zip(&self.thread_names)
            .map(|(t, name)| {
                format!(
                    "{name} {:+} x {}",
                    t.delta,
                    crate::report::words::grouped(t.ops.into())
                )
            })
            .collect();
        format!(
            "counter from {}, {}",
            crate::report::words::grouped(self.initial.unwrap_or_default().into()),
            threads.join(", ")
        )
    }
}

/// The kind of a failing outcome and, for a deadlock with one, its cycle of waits as data:
/// what a [`ScheduleSummary`] says of its failure. A settled outcome is a lost update.
pub fn failure_of(outcome: &Outcome) -> (Kind, Option<Vec<CycleEdge>>) {
    match outcome {
        Outcome::Settled(_) => (Kind::LostUpdate, None),
        Outcome::Failed { kind, cycle, .. } => (*kind, cycle.as_ref().map(WaitCycle::edges)),
    }
}

/// A table on one line: `key = value, ...`.
pub fn inline_table(table: &toml::Table) -> String {
    table
        .iter()
        .map(|(key, value)| format!("{key} = {value}"))
        .collect::<Vec<_>>()
        .join(", ")
        // One line: a multi-line string (a program's code) shows its line breaks as `\n`.
        .replace('\n', "\\n")
}

/// What became of a failing scenario's schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Witness {
    /// The minimal schedule, if one was found.
    pub schedule: Option<ScheduleSummary>,
    /// What happened, in words, for the report.
    pub notes: Vec<String>,
}

/// The first failure of a scenario, as its engine saw it.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    /// The failing execution.
    pub run: u64,
    /// The kind it failed with.
    pub kind: Kind,
    /// Its schedule, where a controlled engine recorded it while exploring.
    pub recorded: Option<&'a Recording>,
}

/// Shrinks, checks and (with `folder`) saves a schedule for the failure of the counter
/// scenario `scenario`.
pub fn witness(
    scenario: &Scenario,
    counter: &CounterSpec,
    failure: Failure<'_>,
    shrink: bool,
    folder: Option<&Path>,
) -> Result<Witness, EngineError> {
    let started = Instant::now();
    let Failure {
        run,
        kind,
        recorded,
    } = failure;
    let internal = |source| EngineError::Ledger {
        scenario: scenario.name.clone(),
        run,
        source,
    };
    let mut notes = Vec::new();

    let original = recorded.filter(|_| scenario.engine.shuttle_settings().is_some());
    let recorded = original.and_then(Recording::complete_choices);

    let max_steps = scenario
        .engine
        .shuttle_settings()
        .map(|settings| settings.max_steps);
    let limits = Limits {
        max_steps: max_steps.unwrap_or(Limits::default().max_steps),
        ..Limits::default()
    };
    let unshrunk = || {
        original.and_then(|o| {
            Some(Minimal {
                counter: counter.clone(),
                origins: (0..counter.threads.len()).collect(),
                choices: o.complete_choices()?.to_vec(),
                preemptions: o.preemptions,
                steps: o.steps,
                minimality: Minimality::NotShrunk,
                executions: 0,
            })
        })
    };
    let (minimal, executions) = if shrink {
        let result = minimize(counter, kind, recorded, limits, &scenario.name).map_err(internal)?;
        // A failure already recorded is never thrown away for want of a smaller one.
        (result.minimal.or_else(unshrunk), result.executions)
    } else {
        (unshrunk(), 0)
    };
    // A failure on real threads or processes has no schedule of its own: the same accesses
    // are searched for under shuttle, one thread per thread (or worker process).
    let on_threads = matches!(
        scenario.engine,
        EngineSpec::Threads(_) | EngineSpec::Processes(_)
    );
    let Some(minimal) = minimal else {
        notes.push(if on_threads && !shrink {
            "no schedule: a failure on real threads or processes has none to keep unshrunk; without --no-shrink \
             contend looks for one under shuttle"
                .to_string()
        } else if on_threads {
            format!("not reproduced under shuttle in {executions} controlled executions")
        } else {
            format!("no failing schedule found in {executions} controlled executions")
        });
        return Ok(Witness {
            schedule: None,
            notes,
        });
    };

    let mut file = schedule_file(scenario, counter, kind, &minimal, original, run);
    file.schedule.max_steps = max_steps;
    // The report shows the first rows and overwrites: a window of the steps is enough.
    let replayed = match replay_keeping(&file, &Target::Recorded, false, Kept::Window) {
        Ok(replayed) if replayed.reproduced && replayed.execution.divergence.is_none() => replayed,
        Ok(_) | Err(ReplayError::Diverged(_)) => {
            notes.push("the schedule found does not replay its failure; it was not saved".into());
            return Ok(Witness {
                schedule: None,
                notes,
            });
        }
        Err(ReplayError::Ledger(source)) => return Err(internal(source)),
        Err(ReplayError::File(_) | ReplayError::NotACounter(_)) => {
            unreachable!("the file was made here, for a counter")
        }
    };
    let file = with_failure(file, &replayed.execution.outcome);

    let saved = match folder {
        Some(folder) => match file.save_in(folder) {
            Ok(path) => Some(path.display().to_string()),
            Err(error) => {
                notes.push(format!(
                    "could not save the schedule in {}: {error}",
                    folder.display()
                ));
                None
            }
        },
        None => None,
    };
    if on_threads {
        notes.push(match &saved {
            Some(path) => format!("reproduced under shuttle: {path}"),
            None => "reproduced under shuttle".to_string(),
        });
    } else if let Some(path) = &saved {
        notes.push(format!("schedule saved: {path}"));
    }
    let names = file.minimal_names();
    let window = &replayed.window;
    let head = &window.head()[..window.total().min(MAX_TABLE_ROWS)];
    let (shown, cycle) = failure_of(&replayed.execution.outcome);
    let mut table = Vec::new();
    write_table(&mut table, &names, head).expect("writing to memory does not fail");
    let mut interleaving: Vec<String> = String::from_utf8_lossy(&table)
        .lines()
        .map(str::to_string)
        .collect();
    if window.total() > MAX_TABLE_ROWS {
        interleaving.push(format!(
            "  ... and {} more rows: `contend replay` shows them all",
            window.total() - MAX_TABLE_ROWS
        ));
    }
    Ok(Witness {
        schedule: Some(ScheduleSummary {
            replay_command: saved
                .as_ref()
                .map(|path| format!("contend replay {}", shell_quoted(path))),
            file: saved,
            preemptions: minimal.preemptions,
            steps: minimal.steps,
            minimality: minimal.minimality,
            proven: minimal.minimality == Minimality::Proven,
            failure: shown,
            cycle,
            initial: Some(minimal.counter.initial),
            params: None,
            threads: thread_reports(&minimal.counter),
            thread_names: names.clone(),
            interleaving,
            accesses: access_reports(head),
            explanation: capped_of(
                window
                    .notes()
                    .iter()
                    .map(|note| note.describe(&names))
                    .collect(),
                window.overwrites(),
                MAX_EXPLANATIONS,
            ),
            executions,
            seconds: started.elapsed().as_secs_f64(),
        }),
        notes,
    })
}

/// The most choices of the original failing execution a schedule file keeps beside a shrunk
/// schedule.
const MAX_ORIGINAL_CHOICES_KEPT: usize = 10_000;

/// The most rows of an interleaving table a report shows.
pub(crate) const MAX_TABLE_ROWS: usize = 100;

/// The most overwrites a report names in words.
pub(crate) const MAX_EXPLANATIONS: usize = 20;

// A run's report is made from the window of a replay's steps.
const _: () = assert!(MAX_TABLE_ROWS <= super::window::WHOLE_TABLE_ROWS);
const _: () = assert!(MAX_EXPLANATIONS <= super::window::KEPT_OVERWRITES);

/// The first `max` of `total` lines, of which `lines` are the first, and a line saying how many
/// were left out.
fn capped_of(mut lines: Vec<String>, total: usize, max: usize) -> Vec<String> {
    lines.truncate(max);
    if total > max {
        lines.push(format!(
            "... and {} more overwrites: `contend replay` names them all",
            total - max
        ));
    }
    lines
}

/// The first `max` lines, and a line saying how many were left out.
pub(crate) fn capped(mut lines: Vec<String>, max: usize) -> Vec<String> {
    if lines.len() > max {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!(
            "... and {more} more overwrites: `contend replay` names them all"
        ));
    }
    lines
}

/// `path` as a shell word: as it is when it is safe, else in single quotes.
pub(crate) fn shell_quoted(path: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c);
    if !path.is_empty() && path.chars().all(safe) {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

fn thread_reports(counter: &CounterSpec) -> Vec<ThreadReport> {
    counter
        .threads
        .iter()
        .map(|t| ThreadReport {
            delta: t.delta,
            ops: t.ops,
        })
        .collect()
}

fn schedule_file(
    scenario: &Scenario,
    counter: &CounterSpec,
    kind: Kind,
    minimal: &Minimal,
    original: Option<&Recording>,
    run: u64,
) -> ScheduleFile {
    let scheduler = scenario
        .engine
        .shuttle_settings()
        .map(|settings| settings.scheduler.as_str().to_string());
    ScheduleFile::new(
        FileTarget::Counter(CounterTarget {
            name: scenario.name.clone(),
            workload: scenario.workload.name().to_string(),
            engine: scenario.engine.name().to_string(),
            scheduler,
            seed: scenario.seed,
            sync: counter.sync,
            initial: counter.initial,
            threads: thread_records(counter, None),
            max_pause_ms: counter.object.map(|o| o.max_pause.as_millis() as u64),
            shrunk: ShrunkCounter {
                initial: minimal.counter.initial,
                threads: thread_records(&minimal.counter, Some(&minimal.origins)),
            },
        }),
        FailureRecord {
            kind: RecordedKind::from(kind),
            description: String::new(),
            lost_updates: Some(0),
            final_value: None,
            expected_final: Some(minimal.counter.expected_final()),
        },
        ScheduleRecord {
            preemptions: minimal.preemptions,
            steps: minimal.steps,
            minimality: minimal.minimality,
            max_steps: None,
            random_values: Vec::new(),
            choices: minimal.choices.clone(),
        },
        OriginalRecord {
            engine: scenario.engine.name().to_string(),
            execution: run,
            steps: original.map(|o| o.steps),
            preemptions: original.map(|o| o.preemptions),
            // A long original is kept as where it came from (the scenario's seed and scheduler,
            // and the execution's index, determine it) rather than as megabytes of choices.
            choices: original
                .and_then(Recording::complete_choices)
                .filter(|choices| choices.len() <= MAX_ORIGINAL_CHOICES_KEPT)
                .map(<[_]>::to_vec),
        },
    )
}

/// Fills in the failure the minimal schedule's execution showed.
fn with_failure(mut file: ScheduleFile, outcome: &Outcome) -> ScheduleFile {
    match outcome {
        Outcome::Settled(settlement) => {
            file.failure.lost_updates = Some(settlement.lost_updates);
            file.failure.final_value = Some(settlement.observed_final);
            file.failure.description = format!(
                "{} lost: the counter ends at {}, not {}",
                crate::report::words::count(settlement.lost_updates, "update"),
                settlement.observed_final,
                settlement.expected_final
            );
        }
        Outcome::Failed { message, .. } => {
            file.failure.description = message.clone();
        }
    }
    file
}
