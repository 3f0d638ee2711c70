//! `contend run`: loads configs, runs their scenarios, writes the reports.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use contend::config::{self, Overrides};
use contend::exit_code;
use contend::report::words::count;
use contend::report::{Reporters, Verdict};
use contend::runner::{RunOptions, run_scenarios};
use contend::scenario::Scenario;
use contend::shard;

use super::RunArgs;
use super::output::{Outputs, check_output_file, install_trace, same_file};

/// Runs `contend run`; returns the exit code.
pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let scenarios = load_scenarios(args)?;
    let shard = match args.shard {
        Some(shard) => Some(shard),
        None => shard::from_environment(args.shards, |name| std::env::var(name).ok())?,
    };
    check_output_paths(args)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;

    let trace = install_trace(args.trace.as_deref(), args.verbose)?;
    let outputs = Outputs::from_args(&args.report, args.quiet);
    // The progress display goes first: it must clear its line before a row is printed.
    let mut reporters = Reporters::default();
    let progress = outputs
        .progress(&scenarios, shard)
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
    Ok(match report.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::FAIL,
    })
}

/// The scenarios of every config, with the command line's overrides and filter.
fn load_scenarios(args: &RunArgs) -> anyhow::Result<Vec<Scenario>> {
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
    Ok(scenarios)
}

/// Rejects output paths that could only fail after the whole run.
fn check_output_paths(args: &RunArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.out.is_dir() {
        anyhow::bail!(
            "{}: --out must name a folder, and this is a file",
            args.out.display()
        );
    }
    let outputs = [
        ("--json", &args.report.json),
        ("--trace", &args.trace),
        ("--junit", &args.report.junit),
        ("--html", &args.report.html),
    ];
    let given: Vec<(&str, &Path)> = outputs
        .iter()
        .filter_map(|(flag, path)| Some((*flag, path.as_deref()?)))
        .collect();
    for (at, (flag, path)) in given.iter().enumerate() {
        check_output_file(flag, path)?;
        for artifact in ["report.json", "report.html"] {
            if same_file(path, &args.out.join(artifact)) {
                anyhow::bail!(
                    "{}: {flag} names the {artifact} that --out already holds",
                    path.display()
                );
            }
        }
        if let Some((other, _)) = given[..at].iter().find(|(_, p)| same_file(p, path)) {
            anyhow::bail!("{}: {other} and {flag} name the same file", path.display());
        }
    }
    Ok(())
}
