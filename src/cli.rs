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
    /// Folder for the run's artifacts (report.json and, later, schedule files).
    #[arg(long, value_name = "DIR", default_value = "contend-out")]
    pub out: PathBuf,
    /// Write every event (each lost update) as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
    /// Stop a scenario at its first unexpected failure.
    #[arg(long)]
    pub fail_fast: bool,
}
