//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// contend: a fault-injection stress tester for critical sections.
#[derive(Debug, Parser)]
#[command(
    name = "contend",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 every expectation met; 1 an expectation failed; \
                  2 usage, config or input error.\nConfig keys and report fields: see README.md."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scenarios of one or more TOML configs.
    Run(RunArgs),
    /// List workloads, sync modes, engines and schedulers.
    List,
    /// Re-execute a saved schedule step by step: exit 1 while its failure reproduces, 0 once it
    /// no longer does, 2 if the file is unusable or the execution diverges from it.
    Replay(ReplayArgs),
    /// A worker process of the processes engine (started by contend itself).
    #[command(name = "process-worker", hide = true)]
    ProcessWorker,
}

/// Arguments of `contend replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The schedule file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also print the schedule's choices.
    #[arg(short, long)]
    pub verbose: bool,
    /// Write every step as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
}

/// Arguments of `contend run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config files, run in order.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Folder for the run's artifacts: report.json and schedule files.
    #[arg(long, value_name = "DIR", default_value = "contend-out")]
    pub out: PathBuf,
    /// Write every event (each lost update) as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
    /// Stop a scenario at its first unexpected failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Save failing schedules as they were found, without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Print the log lines of the `counter-object` workload on stderr, as the lesson's
    /// `logging` did: `(Thread-1  ) Waiting for lock`.
    #[arg(short, long)]
    pub verbose: bool,
}
