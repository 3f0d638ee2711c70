//! What the commands share about output: paths checked before the work, the trace
//! subscriber, and a writer for which a closed pipe is not an error.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use contend::output::{Destination, same_file};
use contend::report::github::{GithubReporter, append_step_summary};
use contend::report::html::HtmlFileReporter;
use contend::report::json::{JsonFileReporter, JsonReporter};
use contend::report::junit::JunitFileReporter;
use contend::report::text::TextReporter;
use contend::report::{Reporter, Reporters, RunReport};
use contend::runner::ScenarioProgress;
use contend::scenario::Scenario;
use contend::shard::Shard;
use contend::trace::{LessonLog, TraceFile};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use super::progress::ProgressReporter;
use super::{Format, ReportArgs};

/// Installs the process's `tracing` subscriber: the `--trace` file and, with `-v`, the
/// lesson-style log lines on stderr.
pub fn install_trace(path: Option<&Path>, verbose: bool) -> anyhow::Result<Option<TraceFile>> {
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

/// Checks the output paths of a command before any work is done, so that none can fail, or
/// replace something, once the work is done: every report writer's path goes through here.
///
/// Each `(flag, path)` must not name one of `inputs` (a config, a shard report, a schedule
/// file), nor the same file as another output; `-`, a FIFO or a device is written directly;
/// a symlink is followed; a file's folder must exist and be writable.
pub fn check_outputs(outputs: &[(&str, &Path)], inputs: &[&Path]) -> anyhow::Result<()> {
    let mut checked: Vec<(&str, &Path, Destination)> = Vec::with_capacity(outputs.len());
    for &(flag, path) in outputs {
        let destination = check_output(flag, path, inputs)?;
        let clash = checked
            .iter()
            .find(|(_, other_path, other)| match (other, &destination) {
                (Destination::Stdout, Destination::Stdout) => true,
                (Destination::Stdout, _) | (_, Destination::Stdout) => false,
                _ => same_file(other_path, path),
            });
        if let Some((other, _, _)) = clash {
            if *other == "--out" {
                let artifact = path.file_name().unwrap_or_default().to_string_lossy();
                anyhow::bail!(
                    "{}: {flag} names the {artifact} that --out already holds",
                    path.display()
                );
            }
            anyhow::bail!("{}: {other} and {flag} name the same file", path.display());
        }
        checked.push((flag, path, destination));
    }
    Ok(())
}

/// Checks one output path (see [`check_outputs`]); returns where it leads.
pub fn check_output(flag: &str, path: &Path, inputs: &[&Path]) -> anyhow::Result<Destination> {
    if path.as_os_str() != "-" && (path.file_name().is_none() || path.is_dir()) {
        anyhow::bail!(
            "{}: {flag} must name a file, and this is a folder",
            path.display()
        );
    }
    if let Some(input) = inputs.iter().find(|input| same_file(input, path)) {
        anyhow::bail!(
            "{}: {flag} names {}, an input of this command; writing there would replace it",
            path.display(),
            input.display()
        );
    }
    let destination = Destination::resolve(path)
        .with_context(|| format!("{}: {flag} cannot be written", path.display()))?;
    if let Destination::File(file) = &destination
        && !contend::report::json::folder_of(file).is_dir()
    {
        anyhow::bail!("{}: the folder of {flag} does not exist", path.display());
    }
    destination
        .check()
        .with_context(|| format!("{}: {flag} cannot be written", path.display()))?;
    Ok(destination)
}

/// Checks that the folder `out` (made if missing) takes new files, before any work is done.
pub fn check_output_folder(flag: &str, out: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "{}: {flag} must name a folder, and this is a file",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: {flag}: cannot create the output folder", out.display()))?;
    Destination::File(out.join("report.json"))
        .check()
        .with_context(|| format!("{}: {flag} cannot be written", out.display()))?;
    Ok(())
}

/// A writer that treats a closed pipe (`contend run ... | head`) as success, not an error.
pub struct QuietOnBrokenPipe<W>(pub W);

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

/// A progress display and the counters of executions it reads.
pub type Progress = (Box<dyn Reporter>, Arc<ScenarioProgress>);

/// Where a finished run's report goes besides the files every run writes.
pub struct Outputs<'a> {
    /// The report on stdout.
    pub format: Format,
    /// A JSON report file.
    pub json: Option<&'a Path>,
    /// A JUnit XML report file.
    pub junit: Option<&'a Path>,
    /// An HTML report file.
    pub html: Option<&'a Path>,
    /// GitHub Actions annotations and summary, asked for on the command line.
    pub github: bool,
    /// No GitHub Actions output, even on GitHub Actions.
    pub no_github: bool,
    /// No progress display.
    pub quiet: bool,
}

impl<'a> Outputs<'a> {
    /// The outputs the command line asks for.
    pub fn from_args(args: &'a ReportArgs, quiet: bool) -> Self {
        Outputs {
            format: args.format,
            json: args.json.as_deref(),
            junit: args.junit.as_deref(),
            html: args.html.as_deref(),
            github: args.github,
            no_github: args.no_github,
            quiet,
        }
    }

    /// Whether GitHub Actions output is wanted: asked for, or running in GitHub Actions.
    fn github_actions(&self) -> bool {
        !self.no_github
            && (self.github || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"))
    }

    /// The reporters that write the report on stdout and to the files asked for.
    pub fn reporters(&self) -> Reporters {
        let mut reporters = Reporters::default();
        match self.format {
            Format::Text => reporters.push(Box::new(TextReporter::styled(QuietOnBrokenPipe(
                anstream::stdout(),
            )))),
            Format::Json => {
                reporters.push(Box::new(JsonReporter::new(QuietOnBrokenPipe(io::stdout()))))
            }
        }
        reporters.push(Box::new(self.file_reporters()));
        reporters
    }

    /// The reporters of the files asked for, and of GitHub Actions.
    pub fn file_reporters(&self) -> Reporters {
        let mut reporters = Reporters::default();
        if let Some(path) = self.json {
            reporters.push(Box::new(JsonFileReporter::new(path)));
        }
        if let Some(path) = self.junit {
            reporters.push(Box::new(JunitFileReporter::new(path)));
        }
        if let Some(path) = self.html {
            reporters.push(Box::new(HtmlFileReporter::new(path)));
        }
        if self.github_actions() {
            // Workflow commands are read from both streams; stdout may be holding JSON.
            match self.format {
                Format::Text => reporters.push(Box::new(GithubReporter::new(QuietOnBrokenPipe(
                    io::stdout(),
                )))),
                Format::Json => reporters.push(Box::new(GithubReporter::new(QuietOnBrokenPipe(
                    io::stderr(),
                )))),
            }
        }
        reporters
    }

    /// The progress display for a run of `scenarios` and the counter it reads, unless quiet;
    /// an error for a bad interval in the environment.
    pub fn progress(
        &self,
        scenarios: &[Scenario],
        shard: Option<Shard>,
    ) -> anyhow::Result<Option<Progress>> {
        if self.quiet {
            return Ok(None);
        }
        let line_every =
            super::progress::line_every(std::env::var(super::progress::LINE_EVERY_VARIABLE).ok())?;
        let counters = Arc::new(ScenarioProgress::new(scenarios));
        let display = ProgressReporter::new(scenarios, shard, Arc::clone(&counters), line_every);
        Ok(Some((Box::new(display), counters)))
    }

    /// What is written once the report is complete: the GitHub job summary.
    pub fn finish(&self, report: &RunReport) -> anyhow::Result<()> {
        if self.github_actions()
            && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
        {
            let path = Path::new(&path);
            append_step_summary(report, path)
                .with_context(|| format!("{}: cannot append the job summary", path.display()))?;
        }
        Ok(())
    }
}
