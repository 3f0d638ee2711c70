//! Engines: the ways contend executes a workload.
//!
//! Each engine runs a [`Workload`] as many times as the scenario asks and hands every
//! execution's [`Outcome`] to a [`Tally`], which may stop the run early (`--fail-fast`).

pub mod body;
pub mod panics;
pub mod processes;
pub mod shuttle;
pub mod tasks;
pub mod threads;

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

pub use crate::shard::Shard;

use thiserror::Error;

use crate::ledger::{LedgerError, Settlement};
use crate::tally::Tally;
use crate::workload::Workload;

/// How one execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every thread finished; the ledger's accounting.
    Settled(Settlement),
    /// The execution failed before the ledger could settle it: a panic, a deadlock, a livelock.
    Failed {
        /// What happened, in words.
        message: String,
    },
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
}

/// Executions per shuttle scheduler: the unit of a shuttle scenario's split into shards.
pub const SHUTTLE_BLOCK: u64 = 100;

/// Executions per block of a scenario on `engine`: the unit its executions are split by.
pub fn block_len(engine: &crate::scenario::EngineSpec, runs: u64) -> u64 {
    match engine.shuttle_settings() {
        Some(settings) => shuttle::block_len(settings.scheduler, runs),
        None => 1,
    }
}

impl RunPlan {
    /// A plan for all `runs` executions of `scenario`, with no time budget.
    pub fn new(scenario: impl Into<String>, runs: u64, seed: u64) -> Self {
        RunPlan {
            scenario: scenario.into(),
            runs,
            seed,
            shard: None,
            deadline: None,
        }
    }

    /// The blocks of `block_len` executions this run makes, as ranges of execution indices.
    pub fn blocks(&self, block_len: u64) -> impl Iterator<Item = Range<u64>> + '_ {
        let block_len = block_len.max(1);
        let shard = self.shard;
        (0..self.runs.div_ceil(block_len))
            .filter(move |&block| shard.is_none_or(|s| s.takes(block)))
            .map(move |block| block * block_len..((block + 1) * block_len).min(self.runs))
    }

    /// The executions this run makes, one block each.
    pub fn executions(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks(1).map(|block| block.start)
    }

    /// How many executions this run makes with blocks of `block_len`.
    pub fn planned(&self, block_len: u64) -> u64 {
        self.blocks(block_len).map(|b| b.end - b.start).sum()
    }

    /// Whether the time budget is used up.
    pub fn out_of_time(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }
}

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
