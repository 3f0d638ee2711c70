//! From a plugin workload's first failure to a saved, shrunk, replayable schedule: the same
//! recorder, preemption-bounded search and delta debugging as every other body, with the
//! plugin's own smaller variants tried first.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::body::run_controlled;
use super::file::{
    FailureRecord, OriginalRecord, RecordedKind, ScheduleFile, ScheduleRecord, Target,
    WorkloadTarget,
};
use super::record::Recording;
use super::search::{Explorer, Found, Judged, Limits, Minimality, minimize_schedule};
use super::witness::{
    Failure, MAX_EXPLANATIONS, MAX_TABLE_ROWS, ScheduleSummary, ShownSteps, Witness, capped,
    ledger_error, no_schedule, save_schedule, summary, with_more_rows,
};
use super::{Choice, Controlled, Keep};
use crate::check::Interleaving;
use crate::engine::body::PrimitiveBody;
use crate::engine::{EngineError, Outcome};
use crate::failure::Kind;
use crate::ledger::{EventContext, LedgerError};
use crate::replay::describe_workload_outcome;
use crate::report::interleaving::{AccessReport, Overwritten};
use crate::scenario::{DEFAULT_MAX_STEPS, Scenario};
use crate::sync::context::{AccessKind, LoggedAccess};
use crate::workload::plugin::PluginSpec;

/// A plugin workload with its parameters, as a controlled body.
pub(crate) type PluginBody = PrimitiveBody<Outcome>;

/// The body of `spec` in scenario `name`.
pub(crate) fn plugin_body(spec: &PluginSpec, name: &str, seed: u64) -> Arc<PluginBody> {
    Arc::new(PrimitiveBody::new(spec.body(), Arc::from(name), seed))
}

/// How many smaller variants of a plugin's parameters are tried in all.
const MAX_VARIANTS: usize = 40;
/// The share of the budget one variant may spend, in parts of the whole.
const VARIANT_SHARE: u64 = 20;

/// The smallest failing variant found, and its schedule.
fn smallest_variant(
    spec: &PluginSpec,
    scenario: &Scenario,
    explorer: &mut Explorer<'_>,
) -> Result<Option<(PluginSpec, Found)>, LedgerError> {
    let share = (explorer.limits.executions / VARIANT_SHARE).max(1);
    let bound = explorer.limits.max_preemptions;
    let mut best: Option<(PluginSpec, Found)> = None;
    let mut current = spec.clone();
    let mut tried = 0;
    'shrink: loop {
        for candidate in current.smaller() {
            tried += 1;
            if tried > MAX_VARIANTS {
                break 'shrink;
            }
            let body = plugin_body(&candidate, &scenario.name, scenario.seed);
            if let Some(found) = explorer.bounded(&body, bound, share)? {
                best = Some((candidate.clone(), found));
                current = candidate;
                continue 'shrink;
            }
        }
        break;
    }
    Ok(best)
}

/// Shrinks, checks and (with `folder`) saves a schedule for the failure of the plugin
/// workload scenario `scenario`.
pub fn plugin_witness(
    scenario: &Scenario,
    spec: &PluginSpec,
    failure: Failure<'_>,
    shrink: bool,
    folder: Option<&Path>,
) -> Result<Witness, EngineError> {
    let started = Instant::now();
    let internal = ledger_error(scenario, failure.run);
    let kind = failure.kind;
    let max_steps = scenario
        .engine
        .shuttle_settings()
        .map_or(DEFAULT_MAX_STEPS, |settings| settings.max_steps);
    let recorded = failure.recorded.filter(|r| !r.truncated);
    let found = plugin_schedule(scenario, spec, kind, recorded, max_steps, shrink);
    let Some(schedule) = found.map_err(internal)? else {
        let workload = spec.name();
        let note = format!("no failing schedule found under shuttle (workload `{workload}`)");
        return Ok(no_schedule(vec![note]));
    };
    let body = plugin_body(&schedule.variant, &scenario.name, scenario.seed);
    let (choices, random_values) = (&schedule.choices, &schedule.random_values);
    let replayed = replay_logged(&body, choices, random_values, max_steps, &scenario.name)
        .map_err(internal)?;
    if replayed.divergence.is_some() || replayed.outcome.failure() != Some(kind) {
        let note = "the schedule found does not replay its failure (the workload depends on \
                    something shuttle does not control); it was not saved";
        return Ok(no_schedule(vec![note.to_string()]));
    }
    let (variant, executions) = (schedule.variant.clone(), schedule.executions);
    let file = plugin_schedule_file(scenario, spec, failure, schedule, &replayed, max_steps);

    let mut notes = Vec::new();
    let saved = save_schedule(&file, folder, &mut notes);
    if let Some(path) = &saved {
        notes.push(format!("schedule saved: {path}"));
    }
    let outcome = &replayed.outcome;
    let shown = plugin_steps(&variant, replayed.log);
    Ok(Witness {
        schedule: Some(ScheduleSummary {
            params: Some(variant.params_table()),
            ..summary(&file, saved, outcome, shown, executions, started)
        }),
        notes,
    })
}

/// A plugin workload's failing schedule: the variant of its parameters it runs, its choices
/// and random values, how sure contend is that it is minimal, and what finding it cost.
struct PluginSchedule {
    /// The parameters it runs the workload with: the scenario's, or smaller ones.
    variant: PluginSpec,
    /// Its scheduling choices.
    choices: Vec<Choice>,
    /// The random values the workload drew, where they are known to still apply.
    random_values: Vec<u64>,
    /// How sure contend is that it is minimal.
    minimality: Minimality,
    /// Controlled executions the search ran.
    executions: u64,
}

/// The shrunk failing schedule of `spec` when `shrink` asks and one is found, else the
/// `recorded` one, if any.
fn plugin_schedule(
    scenario: &Scenario,
    spec: &PluginSpec,
    kind: Kind,
    recorded: Option<&Recording>,
    max_steps: u64,
    shrink: bool,
) -> Result<Option<PluginSchedule>, LedgerError> {
    let limits = Limits {
        max_steps,
        ..Limits::default()
    };
    let found = if shrink {
        find(scenario, spec, kind, recorded, limits)?
    } else {
        None
    };
    Ok(match (found, recorded) {
        (Some((variant, found, executions)), recorded) => {
            let random_values = if &variant == spec {
                recorded
                    .map(|r| r.random_values.clone())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            Some(PluginSchedule {
                variant,
                choices: found.choices,
                random_values,
                minimality: found.minimality,
                executions,
            })
        }
        (None, Some(recorded)) => Some(PluginSchedule {
            variant: spec.clone(),
            choices: recorded.choices.clone(),
            random_values: recorded.random_values.clone(),
            minimality: Minimality::NotShrunk,
            executions: 0,
        }),
        (None, None) => None,
    })
}

/// The schedule file of the plugin scenario's failing `schedule`, as its replay `replayed`
/// showed it.
fn plugin_schedule_file(
    scenario: &Scenario,
    spec: &PluginSpec,
    failure: Failure<'_>,
    schedule: PluginSchedule,
    replayed: &Controlled<Outcome, LoggedAccess>,
    max_steps: u64,
) -> ScheduleFile {
    ScheduleFile::new(
        Target::Workload(WorkloadTarget {
            name: scenario.name.clone(),
            workload: spec.name().to_string(),
            engine: scenario.engine.name().to_string(),
            seed: scenario.seed,
            params: spec.params_table(),
            shrunk: schedule.variant.params_table(),
        }),
        FailureRecord {
            kind: RecordedKind::from(failure.kind),
            description: describe_workload_outcome(&replayed.outcome),
            lost_updates: None,
            final_value: None,
            expected_final: None,
        },
        ScheduleRecord {
            preemptions: replayed.preemptions,
            steps: replayed.steps,
            minimality: schedule.minimality,
            max_steps: Some(max_steps),
            random_values: schedule.random_values,
            choices: schedule.choices,
        },
        OriginalRecord {
            engine: scenario.engine.name().to_string(),
            execution: failure.run,
            steps: None,
            preemptions: None,
            choices: None,
        },
    )
}

/// What a report shows of a plugin schedule's logged steps `log`, its threads named after
/// `variant`'s columns.
fn plugin_steps(variant: &PluginSpec, log: Vec<LoggedAccess>) -> ShownSteps {
    let overwrote = overwritten(&log);
    let mut interleaving = Interleaving::of(log, true);
    interleaving.threads = variant.columns(interleaving.threads.len());
    let mut table: Vec<String> = interleaving
        .table(0, interleaving.steps.len().saturating_sub(1))
        .lines()
        .map(str::to_string)
        .collect();
    let rows = table.len();
    table.truncate(MAX_TABLE_ROWS);
    let accesses = interleaving
        .steps
        .iter()
        .zip(overwrote)
        .take(MAX_TABLE_ROWS)
        .map(|(step, overwrote)| AccessReport {
            thread: step.thread,
            text: step.access.clone(),
            write: step.access.starts_with("write"),
            preempted: step.preemption,
            overwrote,
        })
        .collect();
    ShownSteps {
        thread_names: interleaving.threads,
        interleaving: with_more_rows(table, rows),
        accesses,
        explanation: capped(interleaving.overwrites, MAX_EXPLANATIONS),
    }
}

/// For each access of `log`, the write it overwrote when it is a write that replaced a write
/// it had not read: the cell's write just before it (writes to one cell are logged in the
/// order they happened), or the cell's initial value when none was logged.
fn overwritten(log: &[LoggedAccess]) -> Vec<Option<Overwritten>> {
    let mut last_write: HashMap<usize, usize> = HashMap::new();
    log.iter()
        .enumerate()
        .map(|(index, access)| {
            let AccessKind::Write { cell, overwrite } = &access.kind else {
                return None;
            };
            let victim = last_write.insert(*cell, index);
            overwrite
                .as_ref()
                .map(|_| victim.map_or(Overwritten::Initial, Overwritten::Access))
        })
        .collect()
}

/// The shrunk failing schedule: a smaller variant's, else the whole workload's.
fn find(
    scenario: &Scenario,
    spec: &PluginSpec,
    kind: Kind,
    recorded: Option<&Recording>,
    limits: Limits,
) -> Result<Option<(PluginSpec, Found, u64)>, LedgerError> {
    let mut explorer = Explorer::new(kind, limits, &scenario.name, &[]);
    explorer.limits.executions = limits.executions / 2;
    explorer.limits.time = limits.time / 2;
    if let Some((variant, found)) = smallest_variant(spec, scenario, &mut explorer)? {
        return Ok(Some((variant, found, explorer.executions)));
    }
    let body = plugin_body(spec, &scenario.name, scenario.seed);
    let recorded = recorded.map(|r| (&r.choices[..], &r.random_values[..]));
    let (found, executions) = minimize_schedule(&body, kind, recorded, limits, &scenario.name)?;
    Ok(found.map(|found| (spec.clone(), found, explorer.executions + executions)))
}

/// Runs `body` once following `choices`, with every access logged.
pub(crate) fn replay_logged(
    body: &Arc<PluginBody>,
    choices: &[Choice],
    random_values: &[u64],
    max_steps: u64,
    scenario: &str,
) -> Result<Controlled<Outcome, LoggedAccess>, LedgerError> {
    let keep = Keep::replay(false);
    let context = EventContext { scenario, run: 0 };
    run_controlled(body, choices, random_values, keep, max_steps, context)
}
