//! `contend replay`: re-executes a schedule file deterministically and says whether its failure
//! still happens.

use std::sync::Arc;

use thiserror::Error;

use crate::engine::Outcome;
use crate::ledger::{EventContext, LedgerError};
use crate::scenario::DEFAULT_MAX_STEPS;
use crate::schedule::file::{ScheduleFile, ScheduleFileError};
use crate::schedule::search::FailureKind;
use crate::schedule::{Controlled, Divergence, Keep, run_controlled, task_name};
use crate::workload::counter::Counter;

/// What a replay found.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The execution, with every access logged.
    pub execution: Controlled,
    /// Whether the recorded failure happened again.
    pub reproduced: bool,
    /// Whether it happened with the recorded lost updates and final value.
    pub same_numbers: bool,
}

/// A replay that could not be judged.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file is unreadable, damaged or of another version.
    #[error(transparent)]
    File(#[from] ScheduleFileError),
    /// The execution departed from the schedule.
    #[error("the execution diverges from the schedule: {0}")]
    Diverged(Divergence),
    /// The ledger found an inconsistency: a bug in contend.
    #[error("internal error: {0}")]
    Ledger(#[from] LedgerError),
}

/// Re-executes the minimal schedule of `file`; with `events`, emits the ledger's events and one
/// `tracing` event per access (target `contend::replay`).
pub fn replay(file: &ScheduleFile, events: bool) -> Result<Replay, ReplayError> {
    let workload = Arc::new(Counter::new(file.minimal_counter()));
    let keep = Keep {
        decisions: false,
        log: true,
        events,
    };
    let context = EventContext {
        scenario: &file.scenario.name,
        run: 0,
    };
    let execution = run_controlled(
        &workload,
        &file.minimal.choices,
        keep,
        file.minimal.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
        context,
    )?;
    if let Some(divergence) = &execution.divergence {
        return Err(ReplayError::Diverged(divergence.clone()));
    }
    for (index, step) in execution.log.iter().enumerate().filter(|_| events) {
        tracing::info!(
            target: "contend::replay",
            scenario = %file.scenario.name,
            step = index + 1,
            thread = step.thread,
            thread_name = %task_name(step.thread + 1),
            access = %step.access,
            preemptions_before = step.preemptions_before,
            "{} {}",
            task_name(step.thread + 1),
            step.access
        );
    }
    let kind = FailureKind::of(&execution.outcome);
    let reproduced = kind == Some(file.failure.kind);
    let same_numbers = match &execution.outcome {
        Outcome::Settled(settlement) => {
            settlement.lost_updates == file.failure.lost_updates
                && Some(settlement.observed_final) == file.failure.final_value
        }
        Outcome::Failed { .. } => file.failure.final_value.is_none(),
    };
    Ok(Replay {
        execution,
        reproduced,
        same_numbers,
    })
}
