//! The command line: clap definitions, the entry point, and one module per command. The
//! `contend` binary is [`main`]; a harness program of a user's own registers its workloads
//! ([`crate::workload::registry::register`]) and then calls [`main`] too, and so gets the whole
//! command line (run, replay, list, merge, schema, every report and flag) over them.

pub mod list;
pub mod manual;
pub mod merge;
pub mod output;
pub mod progress;
pub mod replay;
pub mod run;
pub mod signals;
pub mod starter;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use contend::shard::Shard;

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
    /// Colour on stdout and stderr: `auto` (when a terminal, unless NO_COLOR is set or
    /// CLICOLOR_FORCE asks for it anyway), `always` or `never`.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorWhen,
}

/// When to write colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it.
    Auto,
    /// Always, even through a pipe.
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    /// The choice for every stream of the process.
    pub fn apply(self) {
        let choice = match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scenarios of one or more TOML configs.
    Run(Box<RunArgs>),
    /// List the scenarios of configs (after validating them), or with no config the
    /// workloads, sync modes, engines and schedulers a config can name.
    List(ConfigsArgs),
    /// Validate configs without running them: exit 0 if they are valid, 2 otherwise (for
    /// editors and pre-commit hooks).
    Check(CheckArgs),
    /// Re-execute a saved schedule step by step: exit 1 while its failure reproduces, 0 once it
    /// no longer does, 2 if the file is unusable or the execution diverges from it.
    Replay(ReplayArgs),
    /// Merge the JSON reports of a campaign's shards into the report of the whole campaign.
    Merge(MergeArgs),
    /// Write a commented starter config (never over an existing file).
    Init(InitArgs),
    /// Print the JSON Schema of config files, for editors to complete and check keys.
    Schema,
    /// Print a shell completion script: `contend completions bash > contend.bash`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `contend man > contend.1`.
    Man,
    /// A worker process of the processes engine (started by contend itself).
    #[command(name = "process-worker", hide = true)]
    ProcessWorker,
}

/// Arguments of `contend list`.
#[derive(Debug, Args)]
pub struct ConfigsArgs {
    /// Config files whose scenarios to list.
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
}

/// Arguments of `contend check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config files to validate.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
}

/// Arguments of `contend completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
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
    /// Print the whole interleaving table and every overwrite (by default, a long execution
    /// shows the steps around its first lost update).
    #[arg(long)]
    pub full: bool,
    /// Replay against the scenario of the same name as this config defines it now (is my fix
    /// good against this schedule?): exit 1 while it still fails, 0 once it does not.
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Also write the replayed execution as an HTML report to this file.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

/// How the report is printed on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table and a few lines per scenario.
    Text,
    /// The JSON report, for piping.
    Json,
}

/// Arguments of `contend run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config files, run in order.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// Where the report goes.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Folder for the run's artifacts: report.json, report.html and schedule files.
    #[arg(long, value_name = "DIR", default_value = "contend-out")]
    pub out: PathBuf,
    /// Write every event (each lost update) as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
    /// Stop a scenario at its first unexpected failure, and the run after the first failed
    /// scenario (the others are reported as not run).
    #[arg(long, overrides_with = "no_fail_fast")]
    pub fail_fast: bool,
    /// Run every scenario to its end whatever fails (the default; overrides --fail-fast).
    #[arg(long, overrides_with = "fail_fast")]
    pub no_fail_fast: bool,
    /// Save failing schedules as they were found, without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Worker threads for the executions of shuttle scenarios, and for consecutive shuttle
    /// scenarios side by side (default: the available cores); the report is the same for every
    /// number. Real threads and processes run one execution at a time, alone.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// Print the log lines of the `counter-object` workload on stderr, as the lesson's
    /// `logging` did: `(Thread-1  ) Waiting for lock`.
    #[arg(short, long)]
    pub verbose: bool,
    /// No progress on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// A time budget for each scenario, as `30s` or `5m`: it stops when its runs or its time
    /// are used up, whichever comes first (overrides the scenarios' `time`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time: Option<Duration>,
    /// Run only shard I of N of every scenario's executions (I from 1); merge the shards'
    /// reports with `contend merge`.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<Shard>,
    /// The number of shards, this one's index coming from the CI system: JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Jobs, from 0), CI_NODE_INDEX (GitLab, from 1), CIRCLE_NODE_INDEX,
    /// BUILDKITE_PARALLEL_JOB (from 0).
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
    /// Override every scenario's seed.
    #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Override every scenario's number of runs.
    #[arg(long, value_parser = parse_runs, allow_negative_numbers = true)]
    pub runs: Option<u64>,
    /// Run every scenario on this engine instead: threads, shuttle, async or processes.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Run only the scenarios with this name (repeatable).
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
}

/// Arguments of `contend merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The JSON reports of every shard (`contend run --shard I/N --json ...`).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Where the merged report goes.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Where a report goes, for `run` and `merge`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report on stdout: `text` (default) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write an HTML report to this file: one page, readable offline and in print.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// GitHub Actions annotations and job summary (on by default when GITHUB_ACTIONS=true).
    #[arg(long, conflicts_with = "no_github")]
    pub github: bool,
    /// No GitHub Actions output, even when GITHUB_ACTIONS=true (the shards of a campaign whose
    /// merge reports).
    #[arg(long)]
    pub no_github: bool,
}

/// Arguments of `contend init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the config.
    #[arg(value_name = "PATH", default_value = "contend.toml")]
    pub path: PathBuf,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration > contend::config::MAX_DURATION => {
            Err("the time budget must be at most 30 days".to_string())
        }
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("the time budget must be longer than zero".to_string()),
        Err(error) => Err(format!("{error}; write for example 30s, 500ms or 5m")),
    }
}

fn parse_runs(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("runs must be at least 1".to_string()),
        Ok(runs) => Ok(runs),
        Err(_) if text.parse::<i128>().is_ok_and(|n| n < 0) => {
            Err(format!("runs must be at least 1, got {text}"))
        }
        Err(_) => Err(format!("`{text}` is not a whole number of runs")),
    }
}

/// Runs contend's command line on this process's arguments and returns the exit code: the
/// `contend` binary's `main`, and a harness program's, once it has registered its workloads.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;

    let cli = Cli::parse();
    if let Command::ProcessWorker = cli.command {
        return process_worker();
    }
    cli.color.apply();
    contend::engine::panics::install_hook();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::List(args) if args.configs.is_empty() => Ok(list::list()),
        Command::List(args) => list::scenarios(&args.configs),
        Command::Check(args) => list::check(&args.configs),
        Command::Completions(args) => Ok(manual::completions(args.shell)),
        Command::Man => manual::man(),
        Command::Replay(args) => replay::replay(args),
        Command::Merge(args) => merge::merge(args),
        Command::Init(args) => starter::init(args),
        Command::Schema => Ok(starter::schema()),
        Command::ProcessWorker => return process_worker(),
    };
    let code = result.unwrap_or_else(|error| {
        let red = anstyle::AnsiColor::Red
            .on_default()
            .effects(anstyle::Effects::BOLD);
        anstream::eprintln!("{red}error{red:#}: {error:#}");
        contend::exit_code::ERROR
    });
    std::process::ExitCode::from(code as u8)
}

/// A worker of the processes engine: its order on stdin, its failure on stderr (which its
/// parent reports), nothing on stdout.
fn process_worker() -> std::process::ExitCode {
    // A Ctrl-C reaches the whole process group: the workers carry on, their parent finishes
    // the execution under way and ends them by closing their stdin.
    signals::ignore_in_worker();
    let stdin = std::io::BufReader::new(std::io::stdin());
    let code = match contend::engine::processes::worker::serve(stdin) {
        Ok(()) => contend::exit_code::PASS,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            contend::exit_code::ERROR
        }
    };
    std::process::ExitCode::from(code as u8)
}

fn parse_seed(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(seed) => Ok(seed),
        Err(_) if text.parse::<i128>().is_ok_and(|n| n < 0) => Err(format!(
            "the seed must be a non-negative integer, got {text}"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a seed: give a whole number from 0 to {}",
            u64::MAX
        )),
    }
}
