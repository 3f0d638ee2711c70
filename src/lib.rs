//! contend: a fault-injection stress tester for critical sections.
//!
//! contend runs critical-section workloads under controlled, randomized scheduling with shuttle
//! and on real OS threads with jitter injected at every shared access, counts every lost update
//! exactly, and reports whether each scenario met its expectation.
//!
//! Data flows one way: a TOML [`config`] becomes validated [`scenario`]s; the [`runner`] hands
//! each to an [`engine`], which executes a [`workload`] written against the [`platform`]
//! primitives; the [`ledger`] accounts for every write; the [`tally`] collects the executions;
//! the [`report`]ers write the results.

// The command line reaches the library as `contend::`, as the binary did before it moved here.
extern crate self as contend;

pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "runner")]
pub mod config;
pub mod discards;
pub mod engine;
pub mod failure;
pub mod interrupt;
pub mod ledger;
pub mod output;
pub mod platform;
#[cfg(feature = "runner")]
pub mod replay;
#[cfg(feature = "runner")]
pub mod report;
#[cfg(feature = "runner")]
pub mod runner;
#[cfg(feature = "runner")]
pub mod scenario;
pub mod schedule;
pub mod shard;
pub mod sync;
pub mod sync_mode;
#[cfg(feature = "runner")]
pub mod tally;
pub mod thread;
pub mod trace;
pub mod words;
#[cfg(feature = "runner")]
pub mod workload;

/// The process exit codes of the `contend` binary: a published contract.
pub mod exit_code {
    /// Every expectation met.
    pub const PASS: i32 = 0;
    /// An expectation failed: a bug found where none was expected, or an expected bug not shown.
    pub const FAIL: i32 = 1;
    /// Usage, config or input error, or an internal error.
    pub const ERROR: i32 = 2;
    /// The run was interrupted by SIGINT (128 + 2); the reports hold what ran.
    pub const INTERRUPTED: i32 = 130;
    /// The run was ended by SIGTERM (128 + 15); the reports hold what ran.
    pub const TERMINATED: i32 = 143;

    /// The exit code of a run stopped by `signal`: 128 plus the signal's number.
    pub fn of_signal(signal: i32) -> i32 {
        128 + signal
    }
}
