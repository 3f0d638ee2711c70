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
    Failure, MAX_EXPLANATIONS, MAX_TABLE_ROWS, ScheduleSummary, Witness, capped, failure_of,
    shell_quoted,
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
    let internal = |source| EngineError::Ledger {
        scenario: scenario.name.clone(),
        run: failure.run,
        source,
    };
    let kind = failure.kind;
    let max_steps = scenario
        .engine
        .shuttle_settings()
        .map_or(DEFAULT_MAX_STEPS, |settings| settings.max_steps);
    let limits = Limits {
        max_steps,
        ..Limits::default()
    };
    let recorded = failure.recorded.filter(|r| !r.truncated);
    let found = if shrink {
        find(scenario, spec, kind, recorded, limits).map_err(internal)?
    } else {
        None
    };
    let (variant, choices, minimality, random_values, executions) = match (found, recorded) {
        (Some((variant, found, executions)), recorded) => {
            let values = if &variant == spec {
                recorded
                    .map(|r| r.random_values.clone())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            (variant, found.choices, found.minimality, values, executions)
        }
        (None, Some(recorded)) => (
            spec.clone(),
            recorded.choices.clone(),
            Minimality::NotShrunk,
            recorded.random_values.clone(),
            0,
        ),
        (None, None) => {
            return Ok(Witness {
                schedule: None,
                notes: vec![format!(
                    "no failing schedule found under shuttle (workload `{}`)",
                    spec.name()
                )],
            });
        }
    };
    let body = plugin_body(&variant, &scenario.name, scenario.seed);
    let replayed = replay_logged(&body, &choices, &random_values, max_steps, &scenario.name)
        .map_err(internal)?;
    if replayed.divergence.is_some() || replayed.outcome.failure() != Some(kind) {
        return Ok(Witness {
            schedule: None,
            notes: vec![
                "the schedule found does not replay its failure (the workload depends on something \
                 shuttle does not control); it was not saved"
                    .to_string(),
            ],
        });
    }
    let file = ScheduleFile::new(
        Target::Workload(WorkloadTarget {
            name: scenario.name.clone(),
            workload: spec.name().to_string(),
            engine: scenario.engine.name().to_string(),
            seed: scenario.seed,
            params: spec.params_table(),
            shrunk: variant.params_table(),
        }),
        FailureRecord {
            kind: RecordedKind::from(kind),
            description: describe_workload_outcome(&replayed.outcome),
            lost_updates: None,
            final_value: None,
            expected_final: None,
        },
        ScheduleRecord {
            preemptions: replayed.preemptions,
            steps: replayed.steps,
            minimality,
            max_steps: Some(max_steps),
            random_values,
            choices,
        },
        OriginalRecord {
            engine: scenario.engine.name().to_string(),
            execution: failure.run,
            steps: None,
            preemptions: None,
            choices: None,
        },
    );
    let mut notes = Vec::new();
    let saved = folder.and_then(|folder| match file.save_in(folder) {
        Ok(path) => Some(path.display().to_string()),
        Err(error) => {
            notes.push(format!(
                "could not save the schedule in {}: {error}",
                folder.display()
            ));
            None
        }
    });
    if let Some(path) = &saved {
        notes.push(format!("schedule saved: {path}"));
    }
    let (shown, cycle) = failure_of(&replayed.outcome);
    let overwrote = overwritten(&replayed.log);
    let mut interleaving = Interleaving::of(replayed.log, true);
    interleaving.threads = variant.columns(interleaving.threads.len());
    let mut table: Vec<String> = interleaving
        .table(0, interleaving.steps.len().saturating_sub(1))
        .lines()
        .map(str::to_string)
        .collect();
    if table.len() > MAX_TABLE_ROWS {
        let more = table.len() - MAX_TABLE_ROWS;
        table.truncate(MAX_TABLE_ROWS);
        table.push(format!(
            "  ... and {more} more rows: `contend replay` shows them all"
        ));
    }
    Ok(Witness {
        schedule: Some(ScheduleSummary {
            replay_command: saved
                .as_ref()
                .map(|path| format!("contend replay {}", shell_quoted(path))),
            file: saved,
            preemptions: file.schedule.preemptions,
            steps: file.schedule.steps,
            minimality,
            proven: minimality == Minimality::Proven,
            failure: shown,
            cycle,
            initial: None,
            params: Some(variant.params_table()),
            threads: Vec::new(),
            accesses: interleaving
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
                .collect(),
            thread_names: interleaving.threads.clone(),
            interleaving: table,
            explanation: capped(interleaving.overwrites.clone(), MAX_EXPLANATIONS),
            executions,
            seconds: started.elapsed().as_secs_f64(),
        }),
        notes,
    })
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
