//! The `contend` binary: parses the command line, runs, maps the result to an exit code.

mod cli;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
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
    let mut defined_in: HashMap<String, &Path> = HashMap::new();
    for (index, path) in args.configs.iter().enumerate() {
        if args.configs[..index].contains(path) {
            anyhow::bail!("{}: the config is given twice", path.display());
        }
        for scenario in config::load(path)? {
            if let Some(first) = defined_in.insert(scenario.name.clone(), path) {
                anyhow::bail!(
                    "{}: scenario `{}` is also defined in {}; names must be unique in a run",
                    path.display(),
                    scenario.name,
                    first.display()
                );
            }
            scenarios.push(scenario);
        }
    }
    check_output_paths(args)?;
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

/// Rejects output paths that could only fail after the whole run.
fn check_output_paths(args: &RunArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.out.is_dir() {
        anyhow::bail!(
            "{}: --out must name a folder, and this is a file",
            args.out.display()
        );
    }
    let outputs = [("--json", &args.json), ("--trace", &args.trace)];
    for (flag, path) in outputs
        .iter()
        .filter_map(|(flag, path)| Some((flag, path.as_ref()?)))
    {
        if path.file_name().is_none() || path.is_dir() {
            anyhow::bail!(
                "{}: {flag} must name a file, and this is a folder",
                path.display()
            );
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if parent.is_some_and(|p| !p.is_dir()) {
            anyhow::bail!("{}: the folder of {flag} does not exist", path.display());
        }
        if path.as_path() == args.out.join("report.json") {
            anyhow::bail!(
                "{}: {flag} names the report that --out already holds",
                path.display()
            );
        }
    }
    if let (Some(json), Some(trace)) = (&args.json, &args.trace)
        && json == trace
    {
        anyhow::bail!("{}: --json and --trace name the same file", json.display());
    }
    Ok(())
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
