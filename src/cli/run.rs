//! `contend run`: loads configs, runs their scenarios, writes the reports.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use contend::config::{self, Overrides};
use contend::exit_code;
use contend::report::words::count;
use contend::report::{Reporters, Verdict};
use contend::runner::{RunOptions, run_scenarios};
use contend::scenario::Scenario;
use contend::shard;

use super::RunArgs;
use super::output::{Outputs, check_output_folder, check_outputs, install_trace};

/// Runs `contend run`; returns the exit code.
pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let (scenarios, config_jobs) = load_scenarios(args)?;
    let shard = match args.shard {
        Some(shard) => Some(shard),
        None => shard::from_environment(args.shards, |name| std::env::var(name).ok())?,
    };
    check_output_paths(args)?;

    super::signals::install()?;
    let trace = install_trace(args.trace.as_deref(), args.verbose)?;
    let outputs = Outputs::from_args(&args.report, args.quiet);
    // The progress display goes first: it must clear its line before a row is printed.
    let mut reporters = Reporters::default();
    let progress = outputs
        .progress(&scenarios, shard)?
        .map(|(display, counter)| {
            reporters.push(display);
            counter
        });
    reporters.push(Box::new(outputs.reporters()));
    reporters.push(Box::new(contend::report::json::JsonFileReporter::new(
        args.out.join("report.json"),
    )));
    reporters.push(Box::new(contend::report::html::HtmlFileReporter::new(
        args.out.join("report.html"),
    )));
    let options = RunOptions {
        fail_fast: args.fail_fast,
        schedules: true,
        shrink: !args.no_shrink,
        artifacts: Some(args.out.clone()),
        worker_program: None,
        shard,
        progress,
        jobs: args
            .jobs
            .map(|jobs| jobs as usize)
            .or(config_jobs)
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
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
    outputs.finish(&report)?;
    if let Some(signal) = contend::interrupt::signal() {
        return Ok(exit_code::of_signal(signal));
    }
    Ok(match report.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::FAIL,
    })
}

/// The scenarios of every config, with the command line's overrides and filter.
/// The scenarios of the configs, and the worker threads the first config that asks for some
/// in `[defaults]` gives.
fn load_scenarios(args: &RunArgs) -> anyhow::Result<(Vec<Scenario>, Option<usize>)> {
    let overrides = Overrides {
        seed: args.seed,
        runs: args.runs,
        engine: args.engine.clone(),
        time: args.time,
        only: (!args.scenarios.is_empty()).then(|| args.scenarios.clone()),
    };
    if let Some(engine) = &args.engine
        && !["threads", "shuttle", "async", "processes"].contains(&engine.as_str())
    {
        anyhow::bail!(
            "--engine {engine}: unknown engine (expected one of: threads, shuttle, async, processes)"
        );
    }
    let mut scenarios = Vec::new();
    let mut jobs = None;
    let mut defined_in: HashMap<String, &Path> = HashMap::new();
    for (index, path) in args.configs.iter().enumerate() {
        if args.configs[..index].contains(path) {
            anyhow::bail!("{}: the config is given twice", path.display());
        }
        let selected = config::load_selected(path, &overrides).map_err(|error| {
            let error = anyhow::Error::new(error);
            match &args.engine {
                Some(engine) => error.context(format!("with --engine {engine}")),
                None => error,
            }
        })?;
        for name in selected.names {
            if let Some(first) = defined_in.insert(name.clone(), path) {
                anyhow::bail!(
                    "{}: scenario `{name}` is also defined in {}; names must be unique in a run",
                    path.display(),
                    first.display()
                );
            }
        }
        scenarios.extend(selected.scenarios);
        jobs = jobs.or(selected.jobs);
    }
    if let Some(unknown) = args
        .scenarios
        .iter()
        .find(|name| !defined_in.contains_key(name.as_str()))
    {
        let mut known: Vec<&str> = defined_in.keys().map(String::as_str).collect();
        known.sort_unstable();
        anyhow::bail!(
            "--scenario {unknown}: no scenario has this name (the configs define: {})",
            known.join(", ")
        );
    }
    if let Some(engine) = &args.engine {
        eprintln!(
            "note: --engine {engine} runs {} on the {engine} engine; keys of their own engines \
             are dropped, and expectations written for another engine may not hold there",
            count(scenarios.len() as u64, "scenario")
        );
    }
    Ok((scenarios, jobs))
}

/// Rejects output paths that could only fail after the whole run, or that would replace one
/// of its configs.
fn check_output_paths(args: &RunArgs) -> anyhow::Result<()> {
    let inputs: Vec<&Path> = args.configs.iter().map(PathBuf::as_path).collect();
    // What --out always holds comes first, so that a flag naming it is told so.
    let artifacts = [args.out.join("report.json"), args.out.join("report.html")];
    let mut outputs: Vec<(&str, &Path)> =
        artifacts.iter().map(|a| ("--out", a.as_path())).collect();
    for (flag, path) in [
        ("--json", &args.report.json),
        ("--trace", &args.trace),
        ("--junit", &args.report.junit),
        ("--html", &args.report.html),
    ] {
        if let Some(path) = path {
            outputs.push((flag, path));
        }
    }
    check_output_folder("--out", &args.out)?;
    check_outputs(&outputs, &inputs)
}
