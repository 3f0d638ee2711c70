//! The JUnit XML report, for CI systems that show test results: one `testsuite` per config
//! file, one `testcase` per scenario, and for a failed scenario a `failure` whose text holds
//! its losses, its minimal failing schedule and the command that replays it.
//!
//! It keeps to the elements GitLab and Jenkins read, and to the JUnit schema their strict
//! readers check: `testsuites` > `testsuite` (`name`, `tests`, `failures`, `errors`,
//! `skipped`, `time`, `file`, `properties`) > `testcase` (`name`, `classname`, `time`) >
//! `failure` (`message`, `type`, text), `skipped` or `system-out`. How a scenario ran (seed,
//! engine, ...) is a line of its text, since the schema has no properties on a testcase. GitLab
//! shows a testcase's `classname` as its suite and only the text of a `failure`, so the text
//! repeats the reason given in `message`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::json::write_atomically;
use super::words::{self, count, final_values, grouped};
use super::{Event, Reporter, RunReport, ScenarioReport, Verdict};
use crate::failure::Kind;
use crate::scenario::Expectation;
use crate::schedule::search::Minimality;
use crate::schedule::witness::ScheduleSummary;

/// The suite, and class, of the scenarios that did not come from a config file.
pub const UNFILED_SUITE: &str = "contend";

/// Why a scenario has no result.
const NOT_RUN: &str = "not run: --fail-fast stopped the run at the first failed scenario";

/// The most final values a testcase lists; the others are counted.
const LISTED_FINALS: usize = 20;

/// The run report as a JUnit report: one suite per config file, in the order the files first
/// appear, one case per scenario.
pub fn junit_report(report: &RunReport) -> Report {
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut suite_seconds: Vec<f64> = Vec::new();
    for scenario in &report.scenarios {
        let name = suite_name(scenario);
        let index = match suites.iter().position(|s| s.name.as_str() == name) {
            Some(index) => index,
            None => {
                let mut suite = TestSuite::new(&name);
                if let Some(origin) = &scenario.config {
                    suite
                        .extra
                        .insert("file".into(), origin.file.display().to_string().into());
                }
                suite.add_property(Property::new(
                    "contend_version",
                    report.contend_version.as_str(),
                ));
                suites.push(suite);
                suite_seconds.push(0.0);
                suites.len() - 1
            }
        };
        suites[index].add_test_case(test_case(scenario, &name));
        suite_seconds[index] += scenario.elapsed_seconds;
    }
    if !report.not_run.is_empty() {
        let index = match suites.iter().position(|s| s.name.as_str() == UNFILED_SUITE) {
            Some(index) => index,
            None => {
                suites.push(TestSuite::new(UNFILED_SUITE));
                suite_seconds.push(0.0);
                suites.len() - 1
            }
        };
        for name in &report.not_run {
            let mut status = TestCaseStatus::skipped();
            status.set_message(NOT_RUN);
            let mut case = TestCase::new(name.as_str(), status);
            case.set_classname(UNFILED_SUITE);
            suites[index].add_test_case(case);
        }
    }
    for (suite, seconds) in suites.iter_mut().zip(suite_seconds) {
        suite.set_time(duration(seconds));
    }
    let mut junit = Report::new("contend");
    junit.set_time(duration(report.elapsed_seconds));
    junit.add_test_suites(suites);
    junit
}

/// Writes the run report as JUnit XML to a writer.
pub fn write_junit(report: &RunReport, out: &mut impl Write) -> io::Result<()> {
    let xml = junit_report(report)
        .to_string()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    out.write_all(without_root_skipped(&xml).as_bytes())
}

/// `xml` without the `skipped` attribute of its `testsuites` element, which the JUnit schema
/// that Jenkins and Ant readers check against does not allow (the suites keep theirs).
fn without_root_skipped(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites ") else {
        return xml.to_string();
    };
    let end = start + xml[start..].find('>').unwrap_or(0);
    let tag = &xml[start..end];
    match tag.find(" skipped=\"") {
        Some(at) => {
            let value_end = tag[at + 10..]
                .find('"')
                .map_or(tag.len(), |e| at + 10 + e + 1);
            format!("{}{}{}", &xml[..start + at], &tag[value_end..], &xml[end..])
        }
        None => xml.to_string(),
    }
}

/// Writes the JUnit report to a file when the run finishes.
#[derive(Debug)]
pub struct JunitFileReporter {
    path: PathBuf,
}

impl JunitFileReporter {
    /// A reporter that will write to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JunitFileReporter { path: path.into() }
    }
}

impl Reporter for JunitFileReporter {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            let mut buffer = Vec::new();
            write_junit(report, &mut buffer)?;
            write_atomically(&self.path, &buffer)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}

/// The scenario's executions in one line: runs completed of those asked for, failing runs,
/// lost updates and the expected final value. CI annotations show it too.
pub fn lost_update_summary(scenario: &ScenarioReport) -> String {
    let mut line = format!(
        "{} of {} runs, {} failing, {}, expected final {}",
        grouped(scenario.runs.into()),
        grouped(scenario.runs_requested.into()),
        grouped(scenario.failing_runs.into()),
        count(scenario.lost_updates, "lost update"),
        grouped(scenario.expected_final.into()),
    );
    if scenario.failed_runs > 0 {
        line.push_str(&format!(
            "; {} failed otherwise; failing runs by kind: {}",
            count(scenario.failed_runs, "run"),
            words::failure_kinds(&scenario.failure_kinds)
        ));
    }
    line
}

/// A minimal failing schedule in one line: its preemptions, its scheduling decisions, how
/// sure contend is that it is minimal, and the shrunk workload it runs. CI annotations show it
/// too.
pub fn schedule_summary(schedule: &ScheduleSummary) -> String {
    let heading = if schedule.minimality == Minimality::NotShrunk {
        "failing schedule"
    } else {
        "minimal failing schedule"
    };
    let mut line = format!(
        "{heading}: {}, {} ({}), on {}; failure: {}",
        count(schedule.preemptions, "preemption"),
        count(schedule.steps, "scheduling decision"),
        schedule.minimality.describe(),
        schedule.shrunk_workload(),
        schedule.failure.as_str()
    );
    if let Some(cycle) = &schedule.cycle {
        line.push_str(&format!(" ({})", words::cycle(cycle)));
    }
    line
}

/// Everything a testcase tells of its scenario, one line each: the reason for its verdict, its
/// executions, how it ran, what a passing run of it proves (`coverage: ...`), its final values
/// and failure messages, the engine's notes, then its minimal
/// failing schedule (summary, interleaving table, overwrites in words) and the replay command.
pub fn scenario_details(scenario: &ScenarioReport) -> String {
    let mut lines = vec![
        scenario.reason.clone(),
        lost_update_summary(scenario),
        how_it_ran(scenario),
    ];
    if let Some(coverage) = &scenario.coverage {
        lines.push(format!("coverage: {}", coverage.statement));
    }
    if !scenario.outcomes.is_empty() {
        lines.push(format!(
            "final values: {}",
            final_values(&scenario.outcomes, LISTED_FINALS)
        ));
    }
    lines.extend(scenario.failures.iter().map(|f| format!("failure: {f}")));
    lines.extend(scenario.notes.iter().cloned());
    if let Some(schedule) = &scenario.minimal_schedule {
        lines.push(format!("{}:", schedule_summary(schedule)));
        lines.extend(
            schedule
                .interleaving
                .iter()
                .chain(&schedule.explanation)
                .map(|line| format!("  {line}")),
        );
        if let Some(command) = &schedule.replay_command {
            lines.push(format!("replay: {command}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The suite of a scenario: its config file, or [`UNFILED_SUITE`].
fn suite_name(scenario: &ScenarioReport) -> String {
    scenario.config.as_ref().map_or_else(
        || UNFILED_SUITE.to_string(),
        |o| o.file.display().to_string(),
    )
}

fn test_case(scenario: &ScenarioReport, suite: &str) -> TestCase {
    let details = scenario_details(scenario);
    let status = match scenario.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(scenario.reason.as_str())
                .set_type(failure_type(scenario))
                .set_description(details.as_str());
            status
        }
    };
    let mut case = TestCase::new(scenario.name.as_str(), status);
    case.set_classname(suite)
        .set_time(duration(scenario.elapsed_seconds));
    if scenario.verdict == Verdict::Pass {
        case.set_system_out(details);
    }
    case
}

/// What kind of failure a failed scenario shows, as the `type` of its `failure`: the kinds of
/// its failing runs (`deadlock`, `lost-update,panic`), or, when an expected failure did not
/// show, what did not (`lost-update-not-shown`, `deadlock-not-shown`, `failure-not-shown`).
fn failure_type(scenario: &ScenarioReport) -> String {
    let shown = |kind: Kind| scenario.failure_kinds.get(&kind).is_some_and(|&n| n > 0);
    let not_shown = match scenario.expect {
        Expectation::LostUpdates if scenario.failed_runs == 0 => Some("lost-update"),
        Expectation::Failure if scenario.failing_runs == 0 => Some("failure"),
        Expectation::Kind(kind) if !shown(kind) => Some(kind.as_str()),
        _ => None,
    };
    match not_shown {
        Some(what) => format!("{what}-not-shown"),
        None => scenario
            .failure_kinds
            .keys()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// How the scenario ran, in one line: what a reader needs to run it again.
pub fn how_it_ran(scenario: &ScenarioReport) -> String {
    let mut parts = Vec::new();
    if let Some(origin) = &scenario.config {
        parts.push(format!("config {}:{}", origin.file.display(), origin.line));
    }
    parts.push(format!("seed {}", scenario.seed));
    parts.push(format!("workload {}", scenario.workload));
    parts.push(format!("engine {}", scenario.engine));
    if let Some(scheduler) = &scenario.scheduler {
        parts.push(format!("scheduler {scheduler}"));
    }
    if let Some(executor) = &scenario.executor {
        parts.push(format!("executor {executor}"));
    }
    parts.push(format!("sync {}", scenario.sync_label()));
    parts.push(format!("expect {}", scenario.expect.as_str()));
    if let Some(processes) = &scenario.processes {
        parts.push(format!("workers {}", processes.workers));
        parts.push(format!("storage {}", processes.storage.as_str()));
    }
    format!("how it ran: {}", parts.join(", "))
}

/// `seconds` as a duration; zero when it is negative or not a number.
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or_default()
}

/// Scenario reports for the tests of the CI reporters.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::PathBuf;

    use crate::engine::Outcome;
    use crate::ledger::Settlement;
    use crate::report::interleaving::{AccessReport, Overwritten};
    use crate::report::{RunReport, ScenarioReport, ThreadReport, Verdict};
    use crate::runner::judge;
    use crate::scenario::{
        CounterSpec, EngineSpec, Expectation, Origin, Scenario, ShuttleSettings, SyncMode,
        ThreadsSettings,
    };
    use crate::schedule::search::Minimality;
    use crate::schedule::witness::ScheduleSummary;
    use crate::tally::Tally;

    /// The lesson's racy counter on real threads, expected to lose updates, and losing them.
    pub(crate) fn passing() -> ScenarioReport {
        let scenario = Scenario::counter(
            "lesson-racy",
            EngineSpec::Threads(ThreadsSettings::default()),
            CounterSpec::new(10, &[(1, 1_000_000), (-1, 1_000_001)], SyncMode::None),
            Expectation::LostUpdates,
        )
        .with_runs(2)
        .with_seed(42);
        let mut report = judge(&scenario, tally(&[(-99_559, 9, 500_000), (9, 9, 2)]), 1.5);
        report.config = Some(origin("examples/lesson.toml", 3));
        report
    }

    /// A broken flag lock under shuttle, expected to lose nothing, losing one update in one
    /// of two runs, with its minimal failing schedule.
    pub(crate) fn failing() -> ScenarioReport {
        let scenario = Scenario::counter(
            "flag-lock",
            EngineSpec::Shuttle(ShuttleSettings::default()),
            CounterSpec::new(10, &[(1, 1), (-1, 1)], SyncMode::Flag),
            Expectation::NoLostUpdates,
        )
        .with_runs(2)
        .with_seed(7);
        let mut report = judge(&scenario, tally(&[(11, 10, 1), (10, 10, 0)]), 0.25);
        report.config = Some(origin("examples/lesson.toml", 12));
        let file = "contend-out/flag-lock.schedule.toml";
        report.schedule_file = Some(file.to_string());
        report.notes = vec![format!("schedule saved: {file}")];
        report.minimal_schedule = Some(ScheduleSummary {
            file: Some(file.to_string()),
            preemptions: 1,
            steps: 14,
            minimality: Minimality::Proven,
            proven: true,
            failure: crate::failure::Kind::LostUpdate,
            cycle: None,
            initial: Some(10),
            params: None,
            threads: vec![ThreadReport { delta: 1, ops: 1 }, ThreadReport { delta: -1, ops: 1 }],
            thread_names: vec!["Thread-1".into(), "Thread-2".into()],
            interleaving: [
                " step  Thread-1                          Thread-2",
                "    1  read counter -> 10",
                "    2                                    read counter -> 10                <- preemption",
                "    3                                    write counter <- 9",
                "    4  write counter <- 11 (overwrites)",
            ]
            .map(str::to_string)
            .to_vec(),
            accesses: vec![
                access(0, "read counter -> 10", false, false, None),
                access(1, "read counter -> 10", false, true, None),
                access(1, "write counter <- 9", true, false, None),
                access(0, "write counter <- 11 (overwrites)", true, false, Some(Overwritten::Access(2))),
            ],
            explanation: vec![
                "Thread-1 wrote 11 from its read of 10, overwriting Thread-2's write of 9, which it had not read".into(),
            ],
            replay_command: Some(format!("contend replay {file}")),
            executions: 12,
            seconds: 0.01,
        });
        report
    }

    fn access(
        thread: usize,
        text: &str,
        write: bool,
        preempted: bool,
        overwrote: Option<Overwritten>,
    ) -> AccessReport {
        AccessReport {
            thread,
            text: text.to_string(),
            write,
            preempted,
            overwrote,
        }
    }

    /// A run of these scenarios; it fails when one of them does.
    pub(crate) fn run(scenarios: Vec<ScenarioReport>) -> RunReport {
        let verdict = if scenarios.iter().any(|s| s.verdict == Verdict::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        RunReport {
            contend_version: "0.1.0-test".into(),
            verdict,
            elapsed_seconds: 2.0,
            shard: None,
            scenarios,
            not_run: Vec::new(),
        }
    }

    fn origin(file: &str, line: usize) -> Origin {
        Origin {
            file: PathBuf::from(file),
            line,
        }
    }

    /// A tally of executions given as (final value, expected final, lost updates).
    fn tally(executions: &[(i64, i64, u64)]) -> Tally {
        let mut tally = Tally::new(false);
        for (run, &(observed_final, expected_final, lost_updates)) in executions.iter().enumerate()
        {
            tally.record(
                run as u64,
                Outcome::Settled(Settlement {
                    observed_final,
                    expected_final,
                    overwrites: lost_updates,
                    lost_updates,
                    lost_delta: expected_final - observed_final,
                    variables: Vec::new(),
                }),
            );
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{failing, passing, run};
    use super::*;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn junit_xml(report: &RunReport) -> String {
        let mut out = Vec::new();
        write_junit(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn element<'a, 'input>(
        parent: roxmltree::Node<'a, 'input>,
        tag: &str,
    ) -> Vec<roxmltree::Node<'a, 'input>> {
        parent.children().filter(|n| n.has_tag_name(tag)).collect()
    }

    fn case<'a, 'input>(
        document: &'a roxmltree::Document<'input>,
        name: &str,
    ) -> roxmltree::Node<'a, 'input> {
        document
            .descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    }

    #[test]
    fn suites_group_scenarios_by_config_file_and_count_their_failures() {
        let mut unfiled = passing();
        unfiled.name = "built-in".into();
        unfiled.config = None;
        unfiled.elapsed_seconds = 0.5;
        let xml = junit_xml(&run(vec![passing(), failing(), unfiled]));
        let document = parse(&xml);
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("3"), "{xml}");
        assert_eq!(root.attribute("failures"), Some("1"), "{xml}");
        assert_eq!(root.attribute("errors"), Some("0"), "{xml}");
        assert_eq!(root.attribute("time"), Some("2.000"), "{xml}");

        let suites = element(root, "testsuite");
        assert_eq!(suites.len(), 2, "{xml}");
        let lesson = suites[0];
        assert_eq!(lesson.attribute("name"), Some("examples/lesson.toml"));
        assert_eq!(lesson.attribute("tests"), Some("2"));
        assert_eq!(lesson.attribute("failures"), Some("1"));
        assert_eq!(lesson.attribute("errors"), Some("0"));
        assert_eq!(lesson.attribute("time"), Some("1.750"));
        let builtin = suites[1];
        assert_eq!(builtin.attribute("name"), Some(UNFILED_SUITE));
        assert_eq!(builtin.attribute("tests"), Some("1"));
        assert_eq!(builtin.attribute("failures"), Some("0"));
        assert_eq!(builtin.attribute("time"), Some("0.500"));

        let cases = element(lesson, "testcase");
        let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
        assert_eq!(names, ["lesson-racy", "flag-lock"]);
        assert_eq!(
            cases[0].attribute("classname"),
            Some("examples/lesson.toml")
        );
        assert_eq!(
            cases[0].attribute("file"),
            None,
            "the schema has no file on a testcase"
        );
        assert_eq!(lesson.attribute("file"), Some("examples/lesson.toml"));
        assert_eq!(root.attribute("skipped"), None, "{xml}");
        assert_eq!(cases[0].attribute("time"), Some("1.500"));
        assert!(element(cases[0], "failure").is_empty(), "{xml}");
        let builtin_case = element(builtin, "testcase")[0];
        assert_eq!(builtin_case.attribute("classname"), Some(UNFILED_SUITE));
        assert_eq!(builtin.attribute("file"), None);
    }

    #[test]
    fn a_failure_holds_the_reason_the_losses_the_schedule_and_the_replay_command() {
        let xml = junit_xml(&run(vec![passing(), failing()]));
        let document = parse(&xml);
        let failures = element(case(&document, "flag-lock"), "failure");
        assert_eq!(failures.len(), 1, "{xml}");
        let failure = failures[0];
        assert_eq!(
            failure.attribute("message"),
            Some("expected no lost update, but 1 update was lost in 1 of 2 runs"),
            "{xml}"
        );
        assert_eq!(failure.attribute("type"), Some("lost-update"));
        let text = failure.text().unwrap();
        for expected in [
            "expected no lost update, but 1 update was lost in 1 of 2 runs\n",
            "2 of 2 runs, 1 failing, 1 lost update, expected final 10\n",
            "final values: 10 (x1), 11 (x1)\n",
            "schedule saved: contend-out/flag-lock.schedule.toml\n",
            "minimal failing schedule: 1 preemption, 14 scheduling decisions (minimal: proven), \
             on counter from 10, Thread-1 +1 x 1, Thread-2 -1 x 1; failure: lost-update:\n",
            "    2                                    read counter -> 10                <- preemption\n",
            "    4  write counter <- 11 (overwrites)\n",
            "  Thread-1 wrote 11 from its read of 10, overwriting Thread-2's write of 9",
            "replay: contend replay contend-out/flag-lock.schedule.toml\n",
        ] {
            assert!(text.contains(expected), "{expected:?} not in\n{text}");
        }
        // A passing scenario tells the same story in its output, with no failure.
        let out = element(case(&document, "lesson-racy"), "system-out")[0]
            .text()
            .unwrap();
        assert!(
            out.contains("lost updates shown in 2 of 2 runs, as expected"),
            "{out}"
        );
        assert!(out.contains("500,002 lost updates"), "{out}");
    }

    #[test]
    fn each_case_says_how_its_scenario_ran_and_the_suite_which_contend_ran_it() {
        let mut processes = passing();
        processes.name = "processes".into();
        processes.engine = "processes".into();
        processes.processes = Some(crate::report::ProcessesReport {
            workers: 2,
            storage: crate::scenario::Storage::Manager,
            timeout_seconds: 60.0,
        });
        let xml = junit_xml(&run(vec![passing(), failing(), processes]));
        let document = parse(&xml);
        let suite = document
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        let suite_properties = element(element(suite, "properties")[0], "property");
        assert_eq!(
            suite_properties[0].attribute("name"),
            Some("contend_version")
        );
        assert_eq!(suite_properties[0].attribute("value"), Some("0.1.0-test"));
        for case in document
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
        {
            assert!(element(case, "properties").is_empty(), "{xml}");
        }
        let out = |name: &str| {
            let case = case(&document, name);
            element(case, "system-out")
                .into_iter()
                .chain(element(case, "failure"))
                .filter_map(|n| n.text())
                .collect::<String>()
        };
        assert!(
            out("lesson-racy").contains(
                "how it ran: config examples/lesson.toml:3, seed 42, workload counter, \
                 engine threads, sync none, expect lost-updates\n"
            ),
            "{xml}"
        );
        assert!(
            out("flag-lock")
                .contains("seed 7, workload counter, engine shuttle, scheduler random, sync flag"),
            "{xml}"
        );
        assert!(
            out("processes").contains("workers 2, storage manager"),
            "{xml}"
        );
    }

    #[test]
    fn each_case_says_what_its_run_proves_passing_or_failing() {
        let xml = junit_xml(&run(vec![passing(), failing()]));
        let document = parse(&xml);
        let passed = element(case(&document, "lesson-racy"), "system-out")[0]
            .text()
            .unwrap();
        assert!(
            passed.contains(
                "coverage: sampled: 2 runs of real threads, with no bound on what they miss\n"
            ),
            "{xml}"
        );
        let failed = element(case(&document, "flag-lock"), "failure")[0]
            .text()
            .unwrap();
        assert!(failed.contains("coverage: sampled: "), "{xml}");
    }

    #[test]
    fn scenarios_fail_fast_left_are_skipped_cases() {
        let mut report = run(vec![failing()]);
        report.not_run = vec!["later".into()];
        let xml = junit_xml(&report);
        let document = parse(&xml);
        let later = case(&document, "later");
        assert_eq!(element(later, "skipped").len(), 1, "{xml}");
        assert_eq!(document.root_element().attribute("skipped"), None, "{xml}");
        let unfiled = document
            .descendants()
            .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(UNFILED_SUITE))
            .unwrap();
        assert_eq!(unfiled.attribute("skipped"), Some("1"), "{xml}");
    }

    #[test]
    fn special_characters_in_names_and_messages_are_escaped() {
        let mut odd = failing();
        odd.name = r#"a<b & "c" > 'd'"#.into();
        odd.reason = "lost <1> & more".into();
        odd.config.as_mut().unwrap().file = PathBuf::from("configs/a&b<c>.toml");
        let xml = junit_xml(&run(vec![odd]));
        let document = parse(&xml);
        let odd = case(&document, r#"a<b & "c" > 'd'"#);
        assert_eq!(odd.attribute("classname"), Some("configs/a&b<c>.toml"));
        let failure = element(odd, "failure")[0];
        assert_eq!(failure.attribute("message"), Some("lost <1> & more"));
        assert!(failure.text().unwrap().starts_with("lost <1> & more\n"));
        assert_eq!(
            document
                .descendants()
                .find(|n| n.has_tag_name("testsuite"))
                .unwrap()
                .attribute("name"),
            Some("configs/a&b<c>.toml")
        );
    }

    #[test]
    fn the_file_reporter_writes_the_report_when_the_run_finishes() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("junit.xml");
        let mut reporter = JunitFileReporter::new(&path);
        let failed = failing();
        reporter
            .report(&Event::ScenarioFinished { report: &failed })
            .unwrap();
        assert!(!path.exists(), "written before the run finished");
        let report = run(vec![passing(), failing()]);
        reporter
            .report(&Event::RunFinished { report: &report })
            .unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert_eq!(xml, junit_xml(&report));
        assert_eq!(parse(&xml).root_element().attribute("failures"), Some("1"));
    }
}
