//! The `contend` binary: parses the command line, runs, maps the result to an exit code.

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use contend::config;
use contend::exit_code;
use contend::report::json::JsonFileReporter;
use contend::report::text::TextReporter;
use contend::report::{Reporters, Verdict};
use contend::runner::{RunOptions, run_scenarios};
use contend::scenario::SyncMode;
use contend::trace::TraceFile;

use cli::{Cli, Command, RunArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    contend::engine::panics::install_hook();
    let code = match cli.command {
        Command::Run(args) => run(&args).unwrap_or_else(|error| {
            eprintln!("error: {error:#}");
            exit_code::ERROR
        }),
        Command::List => list(),
    };
    ExitCode::from(code as u8)
}

fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let mut scenarios = Vec::new();
    for path in &args.configs {
        scenarios.extend(config::load(path)?);
    }
    if let Some(duplicate) = first_duplicate(scenarios.iter().map(|s| s.name.as_str())) {
        anyhow::bail!(
            "scenario `{duplicate}` is defined in more than one config; names must be unique in a run"
        );
    }
    for path in [&args.json, &args.trace].into_iter().flatten() {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            anyhow::bail!("{}: the folder does not exist", path.display());
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;

    let trace = match &args.trace {
        Some(path) => {
            let (trace, subscriber) = TraceFile::create(path)
                .with_context(|| format!("{}: cannot create the trace", path.display()))?;
            tracing::subscriber::set_global_default(subscriber)
                .context("cannot install the trace subscriber")?;
            Some(trace)
        }
        None => None,
    };

    let mut reporters = Reporters::default();
    reporters.push(Box::new(TextReporter::new(QuietOnBrokenPipe(io::stdout()))));
    reporters.push(Box::new(JsonFileReporter::new(
        args.out.join("report.json"),
    )));
    if let Some(path) = &args.json {
        reporters.push(Box::new(JsonFileReporter::new(path)));
    }
    let options = RunOptions {
        fail_fast: args.fail_fast,
    };
    let report = match run_scenarios(&scenarios, &options, &mut reporters) {
        Ok(report) => report,
        Err(error) => {
            if let Some(trace) = trace {
                trace.abandon();
            }
            return Err(error.into());
        }
    };
    if let Some(trace) = trace {
        trace.finish().context("cannot write the trace")?;
    }
    Ok(match report.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::FAIL,
    })
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

fn list() -> i32 {
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    let mut lines = vec![
        "workloads:".to_string(),
        format!(
            "  {:<10} {}",
            "counter", "threads each add their own delta to a shared counter, ops times"
        ),
        "sync modes (sync = ...):".to_string(),
    ];
    lines.extend(
        SyncMode::ALL
            .iter()
            .map(|m| format!("  {:<10} {}", m.as_str(), m.description())),
    );
    lines.extend([
        "engines (engine = ...):".to_string(),
        format!(
            "  {:<10} {}",
            "threads", "real OS threads behind a barrier, with jitter at every shared access"
        ),
        format!(
            "  {:<10} {}",
            "shuttle", "controlled executions: every shared access is a scheduling point"
        ),
        "shuttle schedulers (scheduler = ...):".to_string(),
        format!(
            "  {:<10} {}",
            "random", "a uniformly random choice of thread at every step"
        ),
        format!(
            "  {:<10} {}",
            "pct", "probabilistic concurrency testing, bug depth set by `depth` (default 3)"
        ),
        format!(
            "  {:<10} {}",
            "dfs", "exhaustive depth-first search of the schedules, up to `runs` of them"
        ),
        "expectations (expect = ...):".to_string(),
        format!(
            "  {:<16} {}",
            "lost-updates", "some execution must lose an update (the bug must show)"
        ),
        format!(
            "  {:<16} {}",
            "no-lost-updates", "no execution may lose an update"
        ),
    ]);
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    exit_code::PASS
}

/// A writer that treats a closed pipe (`contend run ... | head`) as success, not an error.
struct QuietOnBrokenPipe<W>(W);

impl<W: Write> Write for QuietOnBrokenPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}
