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
use contend::replay::ReplayVerdict;
use contend::report::interleaving::{describe_choices, describe_overwrites, write_table};
use contend::report::json::JsonFileReporter;
use contend::report::text::TextReporter;
use contend::report::words;
use contend::report::{Reporters, Verdict};
use contend::runner::{RunOptions, run_scenarios};
use contend::scenario::SyncMode;
use contend::schedule::file::ScheduleFile;
use contend::trace::{LessonLog, TraceFile};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use cli::{Cli, Command, ReplayArgs, RunArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::ProcessWorker = cli.command {
        return process_worker();
    }
    contend::engine::panics::install_hook();
    let code = match cli.command {
        Command::Run(args) => run(&args).unwrap_or_else(|error| {
            eprintln!("error: {error:#}");
            exit_code::ERROR
        }),
        Command::List => list(),
        Command::Replay(args) => replay(&args).unwrap_or_else(|error| {
            eprintln!("error: {error:#}");
            exit_code::ERROR
        }),
        Command::ProcessWorker => return process_worker(),
    };
    ExitCode::from(code as u8)
}

/// A worker of the processes engine: its order on stdin, its failure on stderr (which its
/// parent reports), nothing on stdout.
fn process_worker() -> ExitCode {
    let stdin = io::BufReader::new(io::stdin());
    let code = match contend::engine::processes::worker::serve(stdin) {
        Ok(()) => exit_code::PASS,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            exit_code::ERROR
        }
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

    let trace = install_trace(args.trace.as_deref(), args.verbose)?;

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
        schedules: true,
        shrink: !args.no_shrink,
        artifacts: Some(args.out.clone()),
        worker_program: None,
        shard: None,
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

fn replay(args: &ReplayArgs) -> anyhow::Result<i32> {
    let file = ScheduleFile::load(&args.file)?;
    if let Some(trace) = &args.trace {
        check_output_file("--trace", trace)?;
        if same_file(trace, &args.file) {
            anyhow::bail!(
                "{}: --trace names the schedule file itself",
                trace.display()
            );
        }
    }
    let trace = install_trace(args.trace.as_deref(), args.verbose)?;
    let replayed = match contend::replay::replay(&file, true) {
        Ok(replayed) => replayed,
        Err(error) => {
            if let Some(trace) = trace {
                trace.abandon();
            }
            return Err(anyhow::Error::new(error).context(format!("{}", args.file.display())));
        }
    };
    if let Some(trace) = trace {
        trace.finish().context("cannot write the trace")?;
    }
    let verdict = replayed
        .verdict()
        .map_err(|error| anyhow::Error::new(error).context(format!("{}", args.file.display())))?;
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    write_replay(&mut out, &file, &replayed, args.verbose)?;
    Ok(match verdict {
        ReplayVerdict::Reproduced | ReplayVerdict::FailsDifferently => exit_code::FAIL,
        ReplayVerdict::Fixed => exit_code::PASS,
    })
}

fn write_replay(
    out: &mut impl Write,
    file: &ScheduleFile,
    replayed: &contend::replay::Replay,
    verbose: bool,
) -> io::Result<()> {
    let names = file.minimal_names();
    let threads: Vec<String> = file
        .minimal
        .threads
        .iter()
        .zip(&names)
        .map(|(t, name)| format!("{name} {:+} x {}", t.delta, t.ops))
        .collect();
    writeln!(
        out,
        "replaying scenario `{}` (sync {}, recorded on engine {}) under shuttle: counter from {}, {}",
        file.scenario.name,
        file.scenario.sync,
        file.scenario.engine,
        file.minimal.initial,
        threads.join(", ")
    )?;
    writeln!(
        out,
        "schedule: {}, {} ({}); recorded failure: {}",
        words::count(file.minimal.preemptions, "preemption"),
        words::count(file.minimal.steps, "scheduling decision"),
        file.minimal.minimality.describe(),
        file.failure.description
    )?;
    for warning in file.version_warnings() {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(out)?;
    write_table(out, &names, &replayed.execution.log)?;
    writeln!(out)?;
    for sentence in describe_overwrites(&names, &replayed.execution.log) {
        writeln!(out, "{sentence}")?;
    }
    if verbose {
        writeln!(
            out,
            "choices (decisions where the schedule departs from running the current thread while it can):"
        )?;
        for line in describe_choices(&names, &file.minimal.choices, &replayed.execution.log) {
            writeln!(out, "  {line}")?;
        }
    }
    let outcome = contend::replay::describe_outcome(&replayed.execution.outcome);
    writeln!(out, "outcome: {outcome}")?;
    if replayed.execution.deferred > 0 {
        writeln!(
            out,
            "note: {} of the schedule's choices ran later than recorded, when their thread could run",
            replayed.execution.deferred
        )?;
    }
    if let Some(divergence) = &replayed.execution.divergence {
        writeln!(
            out,
            "note: the execution diverges from the schedule: {divergence}"
        )?;
    }
    match replayed.verdict() {
        Ok(ReplayVerdict::Reproduced) => {
            if !replayed.same_numbers {
                writeln!(
                    out,
                    "note: the failure reproduces, with other numbers than recorded"
                )?;
            }
            writeln!(out, "the recorded failure reproduces (exit 1)")
        }
        Ok(ReplayVerdict::FailsDifferently) => writeln!(
            out,
            "the execution fails, but not with the recorded {} (exit 1)",
            file.failure.kind.as_str()
        ),
        Ok(ReplayVerdict::Fixed) | Err(_) => {
            writeln!(out, "the recorded failure no longer happens (exit 0)")
        }
    }
}

/// Installs the process's `tracing` subscriber: the `--trace` file and, with `-v`, the
/// lesson-style log lines on stderr.
fn install_trace(path: Option<&Path>, verbose: bool) -> anyhow::Result<Option<TraceFile>> {
    if path.is_none() && !verbose {
        return Ok(None);
    }
    let (trace, trace_layer) = match path {
        Some(path) => {
            let (trace, layer) = TraceFile::create(path)
                .with_context(|| format!("{}: cannot create the trace", path.display()))?;
            (Some(trace), Some(layer))
        }
        None => (None, None),
    };
    let lesson_log = verbose.then(|| LessonLog::layer(io::stderr()));
    // Only contend's own events: shuttle's internal ones (at trace level) stay out.
    let subscriber = tracing_subscriber::registry()
        .with(trace_layer)
        .with(lesson_log)
        .with(Targets::new().with_target("contend", tracing::Level::TRACE));
    tracing::subscriber::set_global_default(subscriber)
        .context("cannot install the trace subscriber")?;
    Ok(trace)
}

/// Rejects an output file path that could only fail once the work is done.
fn check_output_file(flag: &str, path: &Path) -> anyhow::Result<()> {
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
    Ok(())
}

/// Whether two paths name the same file, as far as can be told before either is written.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            absolute(a) == absolute(b)
        }
    }
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
        check_output_file(flag, path)?;
        if same_file(path, &args.out.join("report.json")) {
            anyhow::bail!(
                "{}: {flag} names the report that --out already holds",
                path.display()
            );
        }
    }
    if let (Some(json), Some(trace)) = (&args.json, &args.trace)
        && same_file(json, trace)
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
        format!(
            "  {:<15} {}",
            "counter-object",
            "the lesson's Counter class: workers pause, then increment() under its lock (or none)"
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
        format!(
            "  {:<10} {}",
            "async", "tasks on one thread that switch only at an await (the lesson's coroutines)"
        ),
        format!(
            "  {:<10} {}",
            "processes",
            "one OS process per thread, with jitter at every shared access (sync: file lock)"
        ),
        "processes storage (storage = ...):".to_string(),
        format!(
            "  {:<14} {}",
            "shared-memory", "the counter in memory the workers share (default)"
        ),
        format!(
            "  {:<14} {}",
            "manager",
            "the counter in a server, get then set over a Unix socket (Python's Manager().Value)"
        ),
        "async executors (executor = ...):".to_string(),
        format!("  {:<10} {}", "tokio", "tokio's current-thread runtime"),
        format!(
            "  {:<10} {}",
            "shuttle", "shuttle's executor: every await is a scheduling point of `scheduler`"
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
