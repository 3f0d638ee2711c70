//! Engines: the ways contend executes a workload.
//!
//! Each engine runs a [`Workload`] as many times as the scenario asks and hands every
//! execution's [`Outcome`] to a [`Tally`], which may stop the run early (`--fail-fast`).

pub mod panics;
pub mod processes;
pub mod shuttle;
pub mod tasks;
pub mod threads;

use std::sync::Arc;

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
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// The scenario's name, carried by the `tracing` events.
    pub scenario: String,
    /// Number of executions.
    pub runs: u64,
    /// The seed every random choice derives from.
    pub seed: u64,
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
