//! Engines: the ways contend executes a workload.
//!
//! Each engine runs a [`Workload`] as many times as the scenario asks and hands every
//! execution's [`Outcome`] to a [`Tally`], which may stop the run early (`--fail-fast`).

pub mod body;
pub mod controlled;
#[cfg(feature = "runner")]
mod merge;
pub mod panics;
#[cfg(feature = "runner")]
pub mod processes;
#[cfg(feature = "runner")]
pub mod shuttle;
#[cfg(feature = "runner")]
pub mod tasks;
#[cfg(feature = "runner")]
pub mod threads;

#[cfg(feature = "runner")]
use std::ops::Range;
#[cfg(feature = "runner")]
use std::sync::Arc;
#[cfg(feature = "runner")]
use std::time::Instant;

#[cfg(feature = "runner")]
pub use crate::shard::Shard;

#[cfg(feature = "runner")]
use thiserror::Error;

use crate::failure::Kind;
#[cfg(feature = "runner")]
use crate::ledger::LedgerError;
use crate::ledger::{Settlement, VariableSettlement};
use crate::sync::WaitCycle;
#[cfg(feature = "runner")]
use crate::tally::Tally;
#[cfg(feature = "runner")]
use crate::workload::Workload;

/// How one execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every thread finished; the ledger's accounting.
    Settled(Settlement),
    /// The execution failed before the ledger could settle it: a broken invariant, a deadlock,
    /// a panic, a livelock.
    Failed {
        /// What kind of failure it was.
        kind: Kind,
        /// What happened, in words.
        message: String,
        /// A deadlock's cycle of waits, when the execution's wait-for graph shows one.
        cycle: Option<WaitCycle>,
        /// The updates it had lost by the time it failed, where its cells could be accounted
        /// for (a workload on contend's primitives; 0 otherwise).
        lost_updates: u64,
        /// The overwrites behind them.
        overwrites: u64,
        /// The same, named cell by named cell (a program's shared variables; empty for a
        /// workload with one unnamed counter).
        variables: Vec<VariableSettlement>,
    },
}

/// How an execution failed: what [`Outcome::Failed`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// What kind of failure it was.
    pub kind: Kind,
    /// What happened, in words.
    pub message: String,
    /// A deadlock's cycle of waits, when the execution's wait-for graph shows one.
    pub cycle: Option<WaitCycle>,
    /// The updates it had lost by the time it failed, where its cells could be accounted for.
    pub lost_updates: u64,
    /// The overwrites behind them.
    pub overwrites: u64,
    /// The same, named cell by named cell.
    pub variables: Vec<VariableSettlement>,
}

impl From<Failed> for Outcome {
    fn from(failed: Failed) -> Outcome {
        Outcome::Failed {
            kind: failed.kind,
            message: failed.message,
            cycle: failed.cycle,
            lost_updates: failed.lost_updates,
            overwrites: failed.overwrites,
            variables: failed.variables,
        }
    }
}

impl Failed {
    /// A failure of `kind`, with no cycle of waits.
    pub fn new(kind: Kind, message: impl Into<String>) -> Failed {
        Failed {
            kind,
            message: message.into(),
            cycle: None,
            lost_updates: 0,
            overwrites: 0,
            variables: Vec::new(),
        }
    }
}

impl Outcome {
    /// A failure of `kind`, with no cycle of waits.
    pub fn failed(kind: Kind, message: impl Into<String>) -> Outcome {
        Failed::new(kind, message).into()
    }

    /// The kind of failure of the execution, if it failed: a settled execution fails when it
    /// lost an update.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Outcome::Settled(settlement) if settlement.lost_updates > 0 => Some(Kind::LostUpdate),
            Outcome::Settled(_) => None,
            Outcome::Failed { kind, .. } => Some(*kind),
        }
    }

    /// A failed shuttle execution of a body that has no execution context of its own to ask
    /// (the built-in counter): shuttle reports deadlocks and step bounds only in words, and
    /// this is the one place that reads them. Anything else is a panic.
    pub fn of_shuttle_failure(captured: String, max_steps: u64) -> Outcome {
        Failed::of_shuttle_failure(captured, max_steps).into()
    }
}

impl Failed {
    /// The failure of a shuttle execution in shuttle's words; see
    /// [`Outcome::of_shuttle_failure`].
    pub fn of_shuttle_failure(captured: String, max_steps: u64) -> Failed {
        let kind = shuttle_failure_kind(&captured);
        let message = match kind {
            Kind::Livelock => format!(
                "the execution ran past max_steps = {max_steps} steps without finishing: a \
                 livelock (a spin loop that never sees its lock released?), or a workload longer \
                 than max_steps"
            ),
            Kind::Deadlock => format!("deadlock: {captured}"),
            _ => captured,
        };
        Failed::new(kind, message)
    }
}

/// The kind of failure shuttle ended an execution with, from its panic's words: a deadlock
/// (no task can run), a livelock (past the step bound), or else a panic.
pub(crate) fn shuttle_failure_kind(captured: &str) -> Kind {
    if captured.contains("deadlock! ") {
        Kind::Deadlock
    } else if captured.contains("exceeded max_steps") {
        Kind::Livelock
    } else {
        Kind::Panic
    }
}

/// Whether the run goes on after an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Run the next execution.
    Continue,
    /// Stop the scenario here.
    Stop,
}

/// What an engine needs to know about the scenario it runs.
///
/// Execution `k` of a scenario depends on the scenario's seed and `k` alone, so that any subset
/// of the executions (a shard) can run anywhere and give what it would give in the whole run.
/// Engines run executions in blocks: one execution per block on real threads, processes and
/// tokio; a fresh shuttle scheduler per block of [`SHUTTLE_BLOCK`] executions (a PCT scheduler
/// learns the length of an execution from the first of its block); DFS in one block.
#[cfg(feature = "runner")]
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// The scenario's name, carried by the `tracing` events.
    pub scenario: String,
    /// Number of executions of the whole scenario.
    pub runs: u64,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// The part of the executions this run makes; `None` makes them all.
    pub shard: Option<Shard>,
    /// When to stop starting executions (a time budget).
    pub deadline: Option<Instant>,
    /// Worker threads that run a controlled engine's blocks side by side; the report is the
    /// same for every number (the block order decides, not the finishing order).
    pub jobs: usize,
}

/// Executions per shuttle scheduler: the unit of a shuttle scenario's split into shards.
pub const SHUTTLE_BLOCK: u64 = 100;

#[cfg(feature = "runner")]
/// Executions per block of a scenario on `engine`: the unit its executions are split by.
pub fn block_len(engine: &crate::scenario::EngineSpec, runs: u64) -> u64 {
    match engine.shuttle_settings() {
        Some(settings) => controlled::block_len(settings.scheduler, runs),
        None => 1,
    }
}

#[cfg(feature = "runner")]
impl RunPlan {
    /// A plan for all `runs` executions of `scenario`, with no time budget.
    pub fn new(scenario: impl Into<String>, runs: u64, seed: u64) -> Self {
        RunPlan {
            scenario: scenario.into(),
            runs,
            seed,
            shard: None,
            deadline: None,
            jobs: 1,
        }
    }

    /// The blocks of `block_len` executions this run makes, as ranges of execution indices.
    ///
    /// Lazy and with no cost per skipped block: a shard steps from one of its blocks to the
    /// next, so that planning costs nothing per run whatever `runs` is.
    pub fn blocks(&self, block_len: u64) -> impl Iterator<Item = Range<u64>> + Send + use<> {
        let block_len = block_len.max(1);
        let total_blocks = self.runs.div_ceil(block_len);
        let (first, step) = match self.shard {
            Some(shard) => (shard.index - 1, shard.total),
            None => (0, 1),
        };
        let runs = self.runs;
        std::iter::successors(Some(first), move |&block| block.checked_add(step))
            .take_while(move |&block| block < total_blocks)
            .map(move |block| {
                let start = block * block_len;
                start..start.saturating_add(block_len).min(runs)
            })
    }

    /// The executions this run makes, one block each.
    pub fn executions(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks(1).map(|block| block.start)
    }

    /// How many executions this run makes with blocks of `block_len`: arithmetic, whatever
    /// `runs` is.
    pub fn planned(&self, block_len: u64) -> u64 {
        let block_len = block_len.max(1);
        let total_blocks = self.runs.div_ceil(block_len);
        let (first, step) = match self.shard {
            Some(shard) => (shard.index - 1, shard.total),
            None => (0, 1),
        };
        if first >= total_blocks {
            return 0;
        }
        let taken = (total_blocks - 1 - first) / step + 1;
        let last = total_blocks - 1;
        let last_len = self.runs - last * block_len;
        let full = u128::from(taken) * u128::from(block_len);
        let planned = if (last - first).is_multiple_of(step) {
            full - u128::from(block_len - last_len)
        } else {
            full
        };
        u64::try_from(planned).expect("a shard plans at most `runs` executions")
    }

    /// Whether no execution may start any more: the time budget is used up, or a signal asked
    /// the run to stop (see [`crate::interrupt`]).
    pub fn out_of_time(&self) -> bool {
        crate::interrupt::requested()
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
    }
}

#[cfg(feature = "runner")]
/// An engine could not run the scenario at all.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The ledger found an inconsistency: a bug in contend.
    #[error("internal error in scenario `{scenario}`, run {run}")]
    Ledger {
        /// The scenario.
        scenario: String,
        /// The execution.
        run: u64,
        /// What the ledger found.
        source: LedgerError,
    },
    /// The environment would override the scenario's settings.
    #[error("{0}")]
    Environment(String),
    /// An OS thread could not be started.
    #[error("could not start a thread")]
    Spawn(#[from] std::io::Error),
    /// A worker process could not be started.
    #[error("could not start a worker process ({})", program.display())]
    Worker {
        /// The program started as the worker.
        program: std::path::PathBuf,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// An execution's folder could not be made.
    #[error("could not make an execution's files in {}", folder.display())]
    Scratch {
        /// Where.
        folder: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An execution's shared state could not be set up.
    #[error(transparent)]
    Platform(#[from] crate::platform::process::ProcessPlatformError),
}

#[cfg(feature = "runner")]
/// A way to execute workloads.
pub trait Engine {
    /// Runs `workload` as `plan` says, recording each execution in `tally`.
    fn execute<W: Workload>(
        &self,
        workload: Arc<W>,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError>;
}

/// Derives an independent seed for one part of a run (a run index, a thread index) from the
/// scenario's seed: splitmix64, so nearby inputs give unrelated seeds.
pub fn derive_seed(seed: u64, part: u64) -> u64 {
    let mut z = seed ^ part.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(feature = "runner")]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_counts_the_executions_of_the_blocks_for_every_shard() {
        for runs in [1u64, 2, 99, 100, 101, 250, 1_000, 1_001] {
            for block_len in [1u64, 3, 100, 1_000] {
                let mut whole = RunPlan::new("s", runs, 1);
                assert_eq!(whole.planned(block_len), runs);
                let mut sum = 0;
                for total in 1..=5 {
                    let mut seen = 0;
                    for index in 1..=total {
                        whole.shard = Some(Shard::new(index, total).unwrap());
                        let walked: u64 = whole.blocks(block_len).map(|b| b.end - b.start).sum();
                        assert_eq!(
                            whole.planned(block_len),
                            walked,
                            "{runs} {block_len} {index}/{total}"
                        );
                        seen += walked;
                    }
                    assert_eq!(seen, runs);
                    sum += seen;
                }
                assert_eq!(sum, 5 * runs);
                whole.shard = None;
            }
        }
    }

    #[test]
    fn planning_a_time_budget_with_huge_runs_costs_nothing_per_run() {
        // Before, planning walked every block: these did not end.
        let mut plan = RunPlan::new("s", u64::MAX, 1);
        assert_eq!(plan.planned(1), u64::MAX);
        assert_eq!(plan.planned(SHUTTLE_BLOCK), u64::MAX);
        plan.shard = Some(Shard::new(3, 3).unwrap());
        let planned = plan.planned(SHUTTLE_BLOCK);
        assert!(planned > u64::MAX / 3 - SHUTTLE_BLOCK && planned < u64::MAX / 3 + SHUTTLE_BLOCK);
        let mut blocks = plan.blocks(SHUTTLE_BLOCK);
        assert_eq!(blocks.next(), Some(200..300));
        assert_eq!(blocks.next(), Some(500..600));
        let last = RunPlan::new("s", u64::MAX, 1).blocks(1).nth(5);
        assert_eq!(last, Some(5..6));
    }
}
