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
use super::window::StepWindow;
use crate::engine::{EngineError, Outcome};
use crate::failure::Kind;
use crate::ledger::LedgerError;
use crate::replay::{Kept, Replay, ReplayError, Target, replay_keeping};
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
    let internal = ledger_error(scenario, run);
    let original = recorded.filter(|_| scenario.engine.shuttle_settings().is_some());
    let max_steps = scenario
        .engine
        .shuttle_settings()
        .map(|settings| settings.max_steps);
    let (minimal, executions) =
        minimal_counter_schedule(scenario, counter, kind, original, max_steps, shrink)
            .map_err(internal)?;
    // A failure on real threads or processes has no schedule of its own: the same accesses
    // are searched for under shuttle, one thread per thread (or worker process).
    let on_threads = matches!(
        scenario.engine,
        EngineSpec::Threads(_) | EngineSpec::Processes(_)
    );
    let Some(minimal) = minimal else {
        let note = not_found_note(on_threads, shrink, executions);
        return Ok(no_schedule(vec![note]));
    };

    let mut file = schedule_file(scenario, counter, kind, &minimal, original, run);
    file.schedule.max_steps = max_steps;
    let Some(replayed) = replay_reproducing(&file).map_err(internal)? else {
        let note = "the schedule found does not replay its failure; it was not saved";
        return Ok(no_schedule(vec![note.into()]));
    };
    let file = with_failure(file, &replayed.execution.outcome);

    let mut notes = Vec::new();
    let saved = save_schedule(&file, folder, &mut notes);
    if on_threads {
        notes.push(match &saved {
            Some(path) => format!("reproduced under shuttle: {path}"),
            None => "reproduced under shuttle".to_string(),
        });
    } else if let Some(path) = &saved {
        notes.push(format!("schedule saved: {path}"));
    }
    let shown = counter_steps(file.minimal_names(), &replayed.window);
    let outcome = &replayed.execution.outcome;
    Ok(Witness {
        schedule: Some(ScheduleSummary {
            initial: Some(minimal.counter.initial),
            threads: thread_reports(&minimal.counter),
            ..summary(&file, saved, outcome, shown, executions, started)
        }),
        notes,
    })
}

/// The counter's minimal failing schedule, shrunk when `shrink` asks (else the recorded one,
/// if complete), and the controlled executions spent on it.
fn minimal_counter_schedule(
    scenario: &Scenario,
    counter: &CounterSpec,
    kind: Kind,
    original: Option<&Recording>,
    max_steps: Option<u64>,
    shrink: bool,
) -> Result<(Option<Minimal>, u64), LedgerError> {
    if !shrink {
        return Ok((unshrunk(counter, original), 0));
    }
    let limits = Limits {
        max_steps: max_steps.unwrap_or(Limits::default().max_steps),
        ..Limits::default()
    };
    let recorded = original.and_then(Recording::complete_choices);
    let result = minimize(counter, kind, recorded, limits, &scenario.name)?;
    // A failure already recorded is never thrown away for want of a smaller one.
    let minimal = result.minimal.or_else(|| unshrunk(counter, original));
    Ok((minimal, result.executions))
}

/// The recorded failing execution `original` as it is, when its choices are complete.
fn unshrunk(counter: &CounterSpec, original: Option<&Recording>) -> Option<Minimal> {
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
}

/// Why a counter scenario's failure has no schedule, after `executions` controlled executions.
fn not_found_note(on_threads: bool, shrink: bool, executions: u64) -> String {
    if on_threads && !shrink {
        "no schedule: a failure on real threads or processes has none to keep unshrunk; without --no-shrink \
         contend looks for one under shuttle"
            .to_string()
    } else if on_threads {
        format!("not reproduced under shuttle in {executions} controlled executions")
    } else {
        format!("no failing schedule found in {executions} controlled executions")
    }
}

/// Replays the counter schedule of `file`, keeping the window of steps a report shows; `None`
/// when it does not reproduce its failure.
fn replay_reproducing(file: &ScheduleFile) -> Result<Option<Replay>, LedgerError> {
    // The report shows the first rows and overwrites: a window of the steps is enough.
    match replay_keeping(file, &Target::Recorded, false, Kept::Window) {
        Ok(replayed) if replayed.reproduced && replayed.execution.divergence.is_none() => {
            Ok(Some(replayed))
        }
        Ok(_) | Err(ReplayError::Diverged(_)) => Ok(None),
        Err(ReplayError::Ledger(source)) => Err(source),
        Err(ReplayError::File(_) | ReplayError::NotACounter(_)) => {
            unreachable!("the file was made here, for a counter")
        }
    }
}

/// What a report shows of a counter schedule's replay: the first rows and overwrites of its
/// `window`, with the threads named `names`.
fn counter_steps(names: Vec<String>, window: &StepWindow) -> ShownSteps {
    let head = &window.head()[..window.total().min(MAX_TABLE_ROWS)];
    let mut table = Vec::new();
    write_table(&mut table, &names, head).expect("writing to memory does not fail");
    let lines = String::from_utf8_lossy(&table)
        .lines()
        .map(str::to_string)
        .collect();
    let explanation = window
        .notes()
        .iter()
        .map(|note| note.describe(&names))
        .collect();
    ShownSteps {
        interleaving: with_more_rows(lines, window.total()),
        accesses: access_reports(head),
        explanation: capped_of(explanation, window.overwrites(), MAX_EXPLANATIONS),
        thread_names: names,
    }
}

/// What a report shows of a replayed schedule's steps.
pub(super) struct ShownSteps {
    /// The threads' names, as the table's columns.
    pub(super) thread_names: Vec<String>,
    /// The interleaving table, one line a row, with a last line for rows left out.
    pub(super) interleaving: Vec<String>,
    /// The rows of the table as data.
    pub(super) accesses: Vec<AccessReport>,
    /// The overwrites in words, capped.
    pub(super) explanation: Vec<String>,
}

/// The summary of the schedule of `file`, saved at `saved`, whose replay ended in `outcome`;
/// the shrunk workload's `initial`, `params` and `threads` are left for the caller to fill.
pub(super) fn summary(
    file: &ScheduleFile,
    saved: Option<String>,
    outcome: &Outcome,
    shown: ShownSteps,
    executions: u64,
    started: Instant,
) -> ScheduleSummary {
    let (failure, cycle) = failure_of(outcome);
    let minimality = file.schedule.minimality;
    ScheduleSummary {
        replay_command: saved
            .as_ref()
            .map(|path| format!("contend replay {}", shell_quoted(path))),
        file: saved,
        preemptions: file.schedule.preemptions,
        steps: file.schedule.steps,
        minimality,
        proven: minimality == Minimality::Proven,
        failure,
        cycle,
        initial: None,
        params: None,
        threads: Vec::new(),
        thread_names: shown.thread_names,
        interleaving: shown.interleaving,
        accesses: shown.accesses,
        explanation: shown.explanation,
        executions,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The witness of a failure whose schedule was not found or not kept; `notes` say why.
pub(super) fn no_schedule(notes: Vec<String>) -> Witness {
    Witness {
        schedule: None,
        notes,
    }
}

/// How a ledger error met while making the witness of `scenario`'s execution `run` fails it.
pub(super) fn ledger_error(
    scenario: &Scenario,
    run: u64,
) -> impl Fn(LedgerError) -> EngineError + Copy + '_ {
    move |source| EngineError::Ledger {
        scenario: scenario.name.clone(),
        run,
        source,
    }
}

/// Saves `file` in `folder`, when there is one, and returns its path; a failed save is noted
/// in `notes`.
pub(super) fn save_schedule(
    file: &ScheduleFile,
    folder: Option<&Path>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let folder = folder?;
    match file.save_in(folder) {
        Ok(path) => Some(path.display().to_string()),
        Err(error) => {
            notes.push(format!(
                "could not save the schedule in {}: {error}",
                folder.display()
            ));
            None
        }
    }
}

/// The `lines` of an interleaving table of `rows` rows, with a last line saying how many more
/// than [`MAX_TABLE_ROWS`] were left out.
pub(super) fn with_more_rows(mut lines: Vec<String>, rows: usize) -> Vec<String> {
    if rows > MAX_TABLE_ROWS {
        lines.push(format!(
            "  ... and {} more rows: `contend replay` shows them all",
            rows - MAX_TABLE_ROWS
        ));
    }
    lines
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
pub(crate) fn capped(lines: Vec<String>, max: usize) -> Vec<String> {
    let total = lines.len();
    capped_of(lines, total, max)
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
