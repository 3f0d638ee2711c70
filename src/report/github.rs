//! GitHub Actions: an error annotation at the `[[scenario]]` header of each failed scenario,
//! and a Markdown job summary of the run.
//!
//! Annotations are workflow commands written to the job's output (`::error file=F,line=L,
//! title=T::MESSAGE`), escaped as the runner expects. The job summary is Markdown appended to
//! the file that `$GITHUB_STEP_SUMMARY` names.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::junit::{lost_update_summary, schedule_summary};
use super::words::{count, grouped};
use super::{Event, Reporter, RunReport, ScenarioReport, Verdict};

/// `s` as the message of a workflow command: `%`, CR and LF percent-encoded, so that a
/// multi-line message stays one command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `s` as a property value of a workflow command: as [`escape_data`], and `:` and `,`, which
/// end a value, percent-encoded too.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The error annotation of a failed scenario, one line without its newline: at its config file
/// and the line of its `[[scenario]]` header (when it came from a file), titled with its name,
/// saying why it failed, its losses, its minimal failing schedule and how to replay it.
/// `None` for a passing scenario.
///
/// The file is the config path as it was given: GitHub places the annotation when that path is
/// relative to the repository's root.
pub fn annotation(scenario: &ScenarioReport) -> Option<String> {
    if scenario.verdict == Verdict::Pass {
        return None;
    }
    let mut properties = Vec::new();
    if let Some(origin) = &scenario.config {
        properties.push(format!(
            "file={}",
            escape_property(&workspace_relative(&origin.file).display().to_string())
        ));
        properties.push(format!("line={}", origin.line));
    }
    properties.push(format!(
        "title={}",
        escape_property(&format!("contend: scenario {} failed", scenario.name))
    ));

    let mut message = vec![scenario.reason.clone(), lost_update_summary(scenario)];
    message.extend(scenario.failures.iter().map(|f| format!("failure: {f}")));
    if let Some(schedule) = &scenario.minimal_schedule {
        message.push(schedule_summary(schedule));
        if let Some(command) = &schedule.replay_command {
            message.push(format!("replay: {command}"));
        }
    }
    Some(format!(
        "::error {}::{}",
        properties.join(","),
        escape_data(&message.join("\n"))
    ))
}

/// The path as GitHub places annotations: relative to the workspace (`GITHUB_WORKSPACE`, else
/// the current folder) when it is inside it.
fn workspace_relative(path: &Path) -> PathBuf {
    if path.is_relative() {
        return path.to_path_buf();
    }
    let workspace = std::env::var_os("GITHUB_WORKSPACE")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    workspace
        .and_then(|workspace| path.strip_prefix(workspace).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Writes an error annotation per failed scenario when the run finishes, to a writer: the
/// job's standard output on GitHub Actions.
#[derive(Debug)]
pub struct GithubReporter<W: Write> {
    out: W,
}

impl<W: Write> GithubReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        GithubReporter { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Reporter for GithubReporter<W> {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            for line in report.scenarios.iter().filter_map(annotation) {
                writeln!(self.out, "{line}")?;
            }
            self.out.flush()?;
        }
        Ok(())
    }
}

/// Writes the job summary in Markdown: the verdict, a table of the scenarios, and for each
/// failed scenario a section with its reason, its interleaving in a code block and its replay
/// command.
pub fn write_step_summary(report: &RunReport, out: &mut impl Write) -> io::Result<()> {
    let total = report.scenarios.len() as u64;
    let failed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .count() as u64;
    writeln!(
        out,
        "## contend: {}\n\n{}, {} passed, {} failed, in {:.2}s\n",
        report.verdict.as_str().to_uppercase(),
        count(total, "scenario"),
        total - failed,
        failed,
        report.elapsed_seconds
    )?;
    writeln!(
        out,
        "| scenario | engine | sync | runs | failing runs | lost updates | verdict | elapsed |"
    )?;
    writeln!(out, "|---|---|---|--:|--:|--:|---|--:|")?;
    for scenario in &report.scenarios {
        let runs = if scenario.runs == scenario.runs_requested {
            grouped(scenario.runs.into())
        } else {
            format!(
                "{} of {}",
                grouped(scenario.runs.into()),
                grouped(scenario.runs_requested.into())
            )
        };
        let verdict = match scenario.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "**FAIL**",
        };
        writeln!(
            out,
            "| {} | {} | {} | {runs} | {} | {} | {verdict} | {:.2}s |",
            escape_markdown(&scenario.name),
            escape_markdown(&scenario.engine),
            scenario.sync_label(),
            grouped(scenario.failing_runs.into()),
            grouped(scenario.lost_updates.into()),
            scenario.elapsed_seconds
        )?;
    }
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
    {
        write_failure_section(scenario, out)?;
    }
    Ok(())
}

/// Appends the job summary to the file at `path` (the one `$GITHUB_STEP_SUMMARY` names),
/// creating it if need be.
pub fn append_step_summary(report: &RunReport, path: &Path) -> io::Result<()> {
    let mut summary = Vec::new();
    write_step_summary(report, &mut summary)?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(&summary))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn write_failure_section(scenario: &ScenarioReport, out: &mut impl Write) -> io::Result<()> {
    let place = scenario
        .config
        .as_ref()
        .map(|o| {
            format!(
                " ({}:{})",
                escape_markdown(&o.file.display().to_string()),
                o.line
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "\n### Failed: {}{place}\n\n{}\n\n{}",
        escape_markdown(&scenario.name),
        escape_markdown(&scenario.reason),
        escape_markdown(&lost_update_summary(scenario))
    )?;
    let remarks: Vec<&String> = scenario.failures.iter().chain(&scenario.notes).collect();
    if !remarks.is_empty() {
        writeln!(out)?;
        for line in remarks {
            writeln!(out, "- {}", escape_markdown(line))?;
        }
    }
    let Some(schedule) = &scenario.minimal_schedule else {
        return Ok(());
    };
    writeln!(out, "\n{}:\n", escape_markdown(&schedule_summary(schedule)))?;
    write_code_block(out, "text", &schedule.interleaving)?;
    if !schedule.explanation.is_empty() {
        writeln!(out)?;
        for line in &schedule.explanation {
            writeln!(out, "- {}", escape_markdown(line))?;
        }
    }
    if let Some(command) = &schedule.replay_command {
        writeln!(out, "\nReplay it:\n")?;
        write_code_block(out, "sh", std::slice::from_ref(command))?;
    }
    Ok(())
}

/// A fenced code block of `lines`, its fence longer than any run of backticks in them.
fn write_code_block(out: &mut impl Write, language: &str, lines: &[String]) -> io::Result<()> {
    let longest_run = lines
        .iter()
        .flat_map(|line| line.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest_run + 1).max(3));
    writeln!(out, "{fence}{language}")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{fence}")
}

/// `s` as Markdown text that renders as itself on one line, also in a table cell: the
/// characters Markdown gives a meaning to are backslash-escaped (`|` above all, which would
/// end a cell), and line breaks become spaces.
fn escape_markdown(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '#' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\r' | '\n' => escaped.push(' '),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::super::junit::fixtures::{failing, passing, run};
    use super::*;

    /// What the Actions runner does to a command's message (`data`) or property value.
    fn unescape(s: &str, property: bool) -> String {
        let mut s = s.replace("%0D", "\r").replace("%0A", "\n");
        if property {
            s = s.replace("%3A", ":").replace("%2C", ",");
        }
        s.replace("%25", "%")
    }

    fn annotations(report: &RunReport) -> String {
        let mut reporter = GithubReporter::new(Vec::new());
        reporter.report(&Event::RunFinished { report }).unwrap();
        String::from_utf8(reporter.into_inner()).unwrap()
    }

    fn summary(report: &RunReport) -> String {
        let mut out = Vec::new();
        write_step_summary(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn data_escaping_encodes_percent_and_line_breaks_only() {
        assert_eq!(escape_data("100%"), "100%25");
        assert_eq!(escape_data("a\r\nb\nc"), "a%0D%0Ab%0Ac");
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_data("file: a, b"), "file: a, b");
    }

    #[test]
    fn property_escaping_also_encodes_colons_and_commas() {
        assert_eq!(
            escape_property("contend: a, b\n50%"),
            "contend%3A a%2C b%0A50%25"
        );
        assert_eq!(escape_property("C:\\x,y"), "C%3A\\x%2Cy");
    }

    #[test]
    fn escaping_round_trips_through_the_runners_unescaping() {
        for s in [
            "",
            "plain",
            "%",
            "%25",
            "%0A literally",
            "a\r\nb",
            "key: value, other: %3A",
            "100%\n%2C,\r:",
        ] {
            let data = escape_data(s);
            assert!(!data.contains(['\r', '\n']), "{data:?}");
            assert_eq!(unescape(&data, false), s);
            let property = escape_property(s);
            assert!(!property.contains(['\r', '\n', ':', ',']), "{property:?}");
            assert_eq!(unescape(&property, true), s);
        }
    }

    #[test]
    fn a_failed_scenario_is_annotated_at_its_config_file_and_line() {
        let output = annotations(&run(vec![passing(), failing()]));
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 1, "{output}");
        let line = lines[0];
        let prefix = "::error file=examples/lesson.toml,line=12,title=contend%3A scenario flag-lock failed::";
        assert!(line.starts_with(prefix), "{line}");
        let message = unescape(&line[prefix.len()..], false);
        assert_eq!(
            message.lines().collect::<Vec<_>>(),
            [
                "expected no lost update, but 1 update was lost in 1 of 2 runs",
                "2 of 2 runs, 1 failing, 1 lost update, expected final 10",
                "minimal failing schedule: 1 preemption, 14 scheduling decisions (minimal: proven), \
                 on counter from 10, Thread-1 +1 x 1, Thread-2 -1 x 1; failure: lost-update",
                "replay: contend replay contend-out/flag-lock.schedule.toml",
            ]
        );
    }

    #[test]
    fn an_annotation_escapes_the_file_and_title_and_goes_without_a_place_when_there_is_no_file() {
        let mut odd = failing();
        odd.name = "a, b: c".into();
        odd.config.as_mut().unwrap().file = "dir,1/x:y.toml".into();
        odd.reason = "100% lost".into();
        let line = annotation(&odd).unwrap();
        assert!(
            line.starts_with(
                "::error file=dir%2C1/x%3Ay.toml,line=12,title=contend%3A scenario a%2C b%3A c failed::100%25 lost%0A"
            ),
            "{line}"
        );
        odd.config = None;
        assert!(
            annotation(&odd)
                .unwrap()
                .starts_with("::error title=contend%3A scenario a%2C b%3A c failed::")
        );
    }

    #[test]
    fn passing_scenarios_get_no_annotation() {
        assert_eq!(annotation(&passing()), None);
        assert_eq!(annotations(&run(vec![passing()])), "");
    }

    #[test]
    fn the_summary_has_a_row_per_scenario() {
        let mut piped = passing();
        piped.name = "a|b".into();
        piped.config = None;
        let text = summary(&run(vec![passing(), failing(), piped]));
        assert!(
            text.starts_with("## contend: FAIL\n\n3 scenarios, 2 passed, 1 failed, in 2.00s\n"),
            "{text}"
        );
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(
            rows,
            [
                "| scenario | engine | sync | runs | failing runs | lost updates | verdict | elapsed |",
                "|---|---|---|--:|--:|--:|---|--:|",
                "| lesson-racy | threads | none | 2 | 2 | 500,002 | pass | 1.50s |",
                "| flag-lock | shuttle | flag | 2 | 1 | 1 | **FAIL** | 0.25s |",
                r"| a\|b | threads | none | 2 | 2 | 500,002 | pass | 1.50s |",
            ],
            "{text}"
        );
    }

    #[test]
    fn a_failed_scenario_gets_a_section_with_its_interleaving_and_replay_command() {
        let text = summary(&run(vec![passing(), failing()]));
        assert_eq!(text.matches("\n### ").count(), 1, "{text}");
        let section = &text[text.find("### Failed: flag-lock").expect(&text)..];
        assert!(
            section.starts_with(
                "### Failed: flag-lock (examples/lesson.toml:12)\n\n\
                 expected no lost update, but 1 update was lost in 1 of 2 runs\n\n\
                 2 of 2 runs, 1 failing, 1 lost update, expected final 10\n"
            ),
            "{section}"
        );
        let table = "```text\n step  Thread-1                          Thread-2\n    1  read counter -> 10\n";
        assert!(section.contains(table), "{section}");
        assert!(
            section.contains("    4  write counter <- 11 (overwrites)\n```\n"),
            "{section}"
        );
        assert!(
            section.contains(
                "\n- Thread-1 wrote 11 from its read of 10, overwriting Thread-2's write of 9"
            ),
            "{section}"
        );
        assert!(
            section.ends_with("```sh\ncontend replay contend-out/flag-lock.schedule.toml\n```\n"),
            "{section}"
        );
    }

    #[test]
    fn a_code_block_fence_outgrows_the_backticks_it_holds() {
        let mut out = Vec::new();
        write_code_block(&mut out, "text", &["a ```` b".to_string()]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "`````text\na ```` b\n`````\n"
        );
    }

    #[test]
    fn the_summary_is_appended_to_the_step_summary_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("step_summary.md");
        std::fs::write(&path, "earlier step\n").unwrap();
        let report = run(vec![passing()]);
        append_step_summary(&report, &path).unwrap();
        let contents = std::fs::read_to_string(&path).unwrap();
        assert_eq!(contents, format!("earlier step\n{}", summary(&report)));
    }
}
