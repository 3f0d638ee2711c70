//! `contend replay`: re-executes a saved schedule step by step.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

use contend::exit_code;
use contend::platform::shuttle::LoggedStep;
use contend::replay::{Kept, ReplayVerdict, Target, counter_for};
use contend::report::html::HtmlFileReporter;
use contend::report::interleaving::{
    describe_choices, describe_overwrites, write_shown_rows, write_table,
};
use contend::report::replayed::replay_report;
use contend::report::words;
use contend::report::{Event, Reporter};
use contend::scenario::{Scenario, WorkloadSpec};
use contend::schedule::Divergence;
use contend::schedule::file::{
    CounterTarget, FileLocation, ScheduleFile, ScheduleFileError, Target as FileTarget,
    WorkloadTarget,
};
use contend::schedule::window::{SHOWN_OVERWRITES, StepWindow};
use contend::schedule::witness::inline_table;
use contend::workload::program::{self, ProgramParams, fit::fit_to_schedule};

use super::ReplayArgs;
use super::output::{QuietOnBrokenPipe, check_output, check_outputs, install_trace};

/// Runs `contend replay`; returns the exit code.
pub fn replay(args: &ReplayArgs) -> anyhow::Result<i32> {
    let file = ScheduleFile::load(&args.file)?;
    match &file.target {
        FileTarget::Counter(counter) => replay_counter(args, &file, counter),
        FileTarget::Workload(workload) => replay_workload(args, &file, workload),
        FileTarget::Check(check) => Err(ScheduleFileError::Invalid {
            location: FileLocation {
                path: args.file.clone(),
                line_column: None,
            },
            message: format!(
                "a schedule saved by contend::check (check `{}`): replay it from its test with \
                 `{}`",
                check.name,
                check.replay_command(&args.file)
            ),
        }
        .into()),
    }
}

/// Replays a built-in counter scenario's schedule, against the recorded scenario or the one
/// of the same name as `--config` defines it now.
fn replay_counter(
    args: &ReplayArgs,
    file: &ScheduleFile,
    counter: &CounterTarget,
) -> anyhow::Result<i32> {
    let target = match &args.config {
        Some(config) => Target::Config(Box::new(current_scenario(config, counter)?)),
        None => Target::Recorded,
    };
    let mut inputs = vec![args.file.as_path()];
    inputs.extend(args.config.as_deref());
    let outputs: Vec<(&str, &Path)> = [("--trace", &args.trace), ("--html", &args.html)]
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path.as_deref()?)))
        .collect();
    check_outputs(&outputs, &inputs)?;
    let trace = install_trace(args.trace.as_deref(), args.verbose)?;
    let started = std::time::Instant::now();
    // The default output shows a window of the steps; only these need every one kept.
    let kept = if args.full || args.verbose || args.trace.is_some() || args.html.is_some() {
        Kept::All
    } else {
        Kept::Window
    };
    let replayed = match contend::replay::replay_keeping(file, &target, true, kept) {
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
    write_replay(
        &mut out,
        file,
        counter,
        &target,
        &replayed,
        args.verbose,
        args.full,
    )?;
    if let Some(html) = &args.html {
        let path = args.file.display().to_string();
        let seconds = started.elapsed().as_secs_f64();
        let report = replay_report(file, counter, &path, &replayed, seconds);
        HtmlFileReporter::new(html).report(&Event::RunFinished { report: &report })?;
    }
    Ok(match verdict {
        ReplayVerdict::Reproduced | ReplayVerdict::FailsDifferently => exit_code::FAIL,
        ReplayVerdict::Fixed => exit_code::PASS,
    })
}

/// Replays a plugin workload's schedule against the workload as this program registers it.
fn replay_workload(
    args: &ReplayArgs,
    file: &ScheduleFile,
    workload: &WorkloadTarget,
) -> anyhow::Result<i32> {
    let fitted;
    let file = match &args.config {
        Some(config) if workload.workload == program::NAME => {
            fitted = program_as_configured(config, file, workload)?;
            &fitted
        }
        Some(_) => anyhow::bail!(
            "{}: --config replays a counter's or a program's schedule against a config; a \
             workload's schedule always replays against the workload's code as this program \
             has it",
            args.file.display()
        ),
        None => file,
    };
    if let Some(trace) = &args.trace {
        check_output("--trace", trace, &[args.file.as_path()])?;
    }
    let trace = install_trace(args.trace.as_deref(), args.verbose)?;
    let replayed = match contend::replay::replay_workload(file, true) {
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
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    write_workload_replay(&mut out, file, workload, &replayed)?;
    Ok(match replayed.verdict() {
        ReplayVerdict::Reproduced | ReplayVerdict::FailsDifferently => exit_code::FAIL,
        ReplayVerdict::Fixed => exit_code::PASS,
    })
}

fn write_workload_replay(
    out: &mut impl Write,
    file: &ScheduleFile,
    recorded: &WorkloadTarget,
    replayed: &contend::replay::WorkloadReplay,
) -> io::Result<()> {
    // The parameters replayed: a program fitted to its config's shape has its own.
    let params = file
        .workload()
        .map_or(&recorded.shrunk, |target| &target.shrunk);
    writeln!(
        out,
        "replaying scenario `{}` (workload {}, recorded on engine {}) under shuttle: {}",
        recorded.name,
        recorded.workload,
        recorded.engine,
        inline_table(params)
    )?;
    write_schedule_line(out, file)?;
    writeln!(out)?;
    write!(out, "{}", replayed.interleaving)?;
    writeln!(
        out,
        "outcome: {}",
        contend::replay::describe_workload_outcome(&replayed.outcome)
    )?;
    writeln!(
        out,
        "followed: {} of the schedule's {} applied{}",
        replayed.applied,
        words::count(file.schedule.choices.len() as u64, "choice"),
        if replayed.deferred > 0 {
            format!(
                ", {} of them later than recorded, when their thread could run",
                replayed.deferred
            )
        } else {
            String::new()
        }
    )?;
    write_divergence(out, replayed.divergence.as_ref())?;
    match replayed.verdict() {
        ReplayVerdict::Reproduced => writeln!(out, "the recorded failure reproduces (exit 1)"),
        ReplayVerdict::FailsDifferently => write_fails_differently(out, file),
        ReplayVerdict::Fixed => writeln!(
            out,
            "the recorded failure no longer happens with the workload's code as it is now (exit 0)"
        ),
    }
}

/// A program's schedule with the program of the same scenario as `config` defines it now,
/// fitted to the schedule's (shrunk) shape.
fn program_as_configured(
    config: &Path,
    file: &ScheduleFile,
    recorded: &WorkloadTarget,
) -> anyhow::Result<ScheduleFile> {
    let name = &recorded.name;
    let scenario = contend::config::load(config)?
        .into_iter()
        .find(|scenario| &scenario.name == name)
        .with_context(|| {
            format!(
                "{}: no scenario named `{name}` to replay its schedule against",
                config.display()
            )
        })?;
    let WorkloadSpec::Plugin(spec) = &scenario.workload else {
        anyhow::bail!(
            "{}: scenario `{name}` is now a `{}` workload, not the program the schedule was \
             recorded on",
            config.display(),
            scenario.workload.name()
        );
    };
    if spec.name() != program::NAME {
        anyhow::bail!(
            "{}: scenario `{name}` is now a `{}` workload, not the program the schedule was \
             recorded on",
            config.display(),
            spec.name()
        );
    }
    let read = |table: &toml::Table, what: &str| -> anyhow::Result<ProgramParams> {
        table
            .clone()
            .try_into()
            .with_context(|| format!("{}: the {what} program cannot be read", config.display()))
    };
    let now = read(&spec.params_table(), "configured")?;
    let shrunk = read(&recorded.shrunk, "shrunk")?;
    let recorded = read(&recorded.params, "recorded")?;
    let fitted = fit_to_schedule(&now, &recorded, &shrunk);
    let mut file = file.clone();
    if let FileTarget::Workload(target) = &mut file.target {
        target.shrunk = toml::Table::try_from(&fitted).context("a program is a table")?;
    }
    Ok(file)
}

/// The scenario of the schedule's name as `config` defines it now.
fn current_scenario(config: &Path, recorded: &CounterTarget) -> anyhow::Result<Scenario> {
    let scenarios = contend::config::load(config)?;
    let name = &recorded.name;
    let scenario = scenarios
        .into_iter()
        .find(|scenario| &scenario.name == name)
        .with_context(|| {
            format!(
                "{}: no scenario named `{name}` to replay its schedule against",
                config.display()
            )
        })?;
    let recorded_threads = recorded.threads.len();
    let Some(counter) = scenario.workload.counter() else {
        anyhow::bail!(
            "{}: scenario `{name}` is now a `{}` workload, not the counter the schedule was \
             recorded on",
            config.display(),
            scenario.workload.name()
        );
    };
    if counter.threads.len() != recorded_threads {
        anyhow::bail!(
            "{}: scenario `{name}` now has {} where the schedule was recorded with {}; a schedule \
             replays against the same threads",
            config.display(),
            words::count(counter.threads.len() as u64, "thread"),
            recorded_threads
        );
    }
    Ok(scenario)
}

/// Prints a counter's replay: what is replayed, the steps, the choices (with `verbose`), how
/// it ended and the verdict.
fn write_replay(
    out: &mut impl Write,
    file: &ScheduleFile,
    recorded: &CounterTarget,
    target: &Target,
    replayed: &contend::replay::Replay,
    verbose: bool,
    full: bool,
) -> io::Result<()> {
    let names = file.minimal_names();
    write_counter_header(out, file, recorded, target, &names)?;
    if full {
        write_every_step(out, &names, &replayed.execution.log)?;
    } else {
        write_step_window(out, &names, &replayed.window)?;
    }
    if verbose {
        writeln!(
            out,
            "choices (decisions where the schedule departs from running the current thread while it can):"
        )?;
        for line in describe_choices(&names, &file.schedule.choices, &replayed.execution.log) {
            writeln!(out, "  {line}")?;
        }
    }
    let outcome = contend::replay::describe_outcome(&replayed.execution.outcome);
    writeln!(out, "outcome: {outcome}")?;
    let against_config = matches!(target, Target::Config(_));
    write_how_followed(out, replayed, file.schedule.choices.len(), against_config)?;
    write_divergence(out, replayed.execution.divergence.as_ref())?;
    write_counter_verdict(out, file, replayed, against_config)
}

/// The lines naming the counter scenario replayed, its schedule and the file's version
/// warnings, then a blank line.
fn write_counter_header(
    out: &mut impl Write,
    file: &ScheduleFile,
    recorded: &CounterTarget,
    target: &Target,
    names: &[String],
) -> io::Result<()> {
    let counter = counter_for(recorded, target);
    let threads: Vec<String> = recorded
        .shrunk
        .threads
        .iter()
        .zip(names)
        .map(|(t, name)| format!("{name} {:+} x {}", t.delta, t.ops))
        .collect();
    let against = match target {
        Target::Recorded => "",
        Target::Config(_) => " as the config defines it now",
    };
    writeln!(
        out,
        "replaying scenario `{}`{against} (sync {}, recorded on engine {}) under shuttle: counter from {}, {}",
        recorded.name,
        counter.sync,
        recorded.engine,
        counter.initial,
        threads.join(", ")
    )?;
    write_schedule_line(out, file)?;
    for warning in file.version_warnings() {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(out)
}

/// The line describing the schedule and the failure it recorded.
fn write_schedule_line(out: &mut impl Write, file: &ScheduleFile) -> io::Result<()> {
    writeln!(
        out,
        "schedule: {}, {} ({}); recorded failure: {}",
        words::count(file.schedule.preemptions, "preemption"),
        words::count(file.schedule.steps, "scheduling decision"),
        file.schedule.minimality.describe(),
        file.failure.description
    )
}

/// `--full`: every step of the replay, then every overwrite in words.
fn write_every_step(out: &mut impl Write, names: &[String], log: &[LoggedStep]) -> io::Result<()> {
    write_table(out, names, log)?;
    writeln!(out)?;
    for sentence in describe_overwrites(names, log) {
        writeln!(out, "{sentence}")?;
    }
    Ok(())
}

/// The window of steps around the failure, its first overwrites, and how many there are.
fn write_step_window(
    out: &mut impl Write,
    names: &[String],
    window: &StepWindow,
) -> io::Result<()> {
    write_shown_rows(out, names, window.rows())?;
    writeln!(out)?;
    for note in window.notes().iter().take(SHOWN_OVERWRITES) {
        writeln!(out, "{}", note.describe(names))?;
    }
    if window.overwrites() > SHOWN_OVERWRITES || !window.is_whole() {
        writeln!(
            out,
            "({}, {}: `--full` prints them all)",
            words::count(window.total() as u64, "step"),
            words::count(window.overwrites() as u64, "overwrite")
        )?;
    }
    Ok(())
}

/// How the replay followed the schedule of `choices` choices: against a config, always; else
/// the choices it deferred, if any.
fn write_how_followed(
    out: &mut impl Write,
    replayed: &contend::replay::Replay,
    choices: usize,
    against_config: bool,
) -> io::Result<()> {
    if against_config {
        writeln!(out, "followed: {}", replayed.followed(choices))?;
    } else if replayed.execution.deferred > 0 {
        writeln!(
            out,
            "note: {} of the schedule's choices ran later than recorded, when their thread could run",
            replayed.execution.deferred
        )?;
    }
    Ok(())
}

/// The note that the execution left its schedule, if it did.
fn write_divergence(out: &mut impl Write, divergence: Option<&Divergence>) -> io::Result<()> {
    if let Some(divergence) = divergence {
        writeln!(
            out,
            "note: the execution diverges from the schedule: {divergence}"
        )?;
    }
    Ok(())
}

/// The verdict line of an execution that failed otherwise than recorded.
fn write_fails_differently(out: &mut impl Write, file: &ScheduleFile) -> io::Result<()> {
    writeln!(
        out,
        "the execution fails, but not with the recorded {} (exit 1)",
        file.failure.kind.as_str()
    )
}

/// The verdict line of a counter's replay, with its exit code.
fn write_counter_verdict(
    out: &mut impl Write,
    file: &ScheduleFile,
    replayed: &contend::replay::Replay,
    against_config: bool,
) -> io::Result<()> {
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
        Ok(ReplayVerdict::FailsDifferently) => write_fails_differently(out, file),
        Ok(ReplayVerdict::Fixed) | Err(_) if against_config => writeln!(
            out,
            "fixed: the scenario as the config defines it now does not fail on this schedule (exit 0)"
        ),
        Ok(ReplayVerdict::Fixed) | Err(_) => {
            writeln!(out, "the recorded failure no longer happens (exit 0)")
        }
    }
}
