//! `contend merge`: the report of a whole campaign from the reports of its shards.

use std::path::{Path, PathBuf};

use anyhow::Context;

use contend::exit_code;
use contend::report::merge::merge as merge_reports;
use contend::report::{Event, Reporter, RunReport, Verdict};

use super::output::{Outputs, check_outputs};
use super::{Format, MergeArgs};

/// Runs `contend merge`; returns the exit code.
pub fn merge(args: &MergeArgs) -> anyhow::Result<i32> {
    let inputs: Vec<&Path> = args.reports.iter().map(PathBuf::as_path).collect();
    let outputs: Vec<(&str, &Path)> = [
        ("--json", &args.report.json),
        ("--junit", &args.report.junit),
        ("--html", &args.report.html),
    ]
    .into_iter()
    .filter_map(|(flag, path)| Some((flag, path.as_deref()?)))
    .collect();
    check_outputs(&outputs, &inputs)?;
    let mut reports: Vec<(PathBuf, RunReport)> = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the report", path.display()))?;
        let report: RunReport = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a contend JSON report", path.display()))?;
        reports.push((path.clone(), report));
    }
    let merged = merge_reports(&reports)?;
    let outputs = Outputs::from_args(&args.report, true);
    match args.report.format {
        Format::Text => {
            // The text report of a finished run: header, rows, verdict.
            let mut text = contend::report::text::TextReporter::styled(
                super::output::QuietOnBrokenPipe(anstream::stdout()),
            );
            text.write_whole(&merged)?;
            let mut rest = outputs.file_reporters();
            rest.report(&Event::RunFinished { report: &merged })?;
        }
        Format::Json => outputs
            .reporters()
            .report(&Event::RunFinished { report: &merged })?,
    }
    outputs.finish(&merged)?;
    Ok(match merged.verdict {
        Verdict::Pass => exit_code::PASS,
        Verdict::Fail => exit_code::FAIL,
    })
}
