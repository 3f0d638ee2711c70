//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! with the run's summary first, then one section per scenario, failures before passes: its
//! verdict, failing rate with its interval, final-value histogram, lost updates, and the
//! interleaving of its minimal failing schedule.
//!
//! The page is built with `maud`, which escapes every value it is given; the pictures come
//! from [`super::svg`].

use std::io::{self, Write};
use std::path::PathBuf;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::json::write_atomically;
use super::junit::{lost_update_summary, schedule_summary};
use super::svg;
use super::words::{count, grouped, printable};
use super::{Event, Reporter, RunReport, ScenarioReport, Verdict};

/// The page's stylesheet, inlined into it.
const STYLE: &str = include_str!("html.css");

/// What the page allows itself: inline styles and nothing from anywhere else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Writes the run report as an HTML page to a writer.
pub fn write_html(report: &RunReport, out: &mut impl Write) -> io::Result<()> {
    out.write_all(page(report).into_string().as_bytes())
}

/// The whole page.
pub fn page(report: &RunReport) -> Markup {
    let failed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .count();
    let title = format!(
        "contend: {} ({} of {} failed)",
        verdict_word(report.verdict),
        failed,
        count(report.scenarios.len() as u64, "scenario")
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (svg::shared_definitions())
                main {
                    (summary(report, failed))
                    @for scenario in in_report_order(report) {
                        (scenario_section(scenario))
                    }
                    footer {
                        "contend " (report.contend_version)
                        @if let Some(shard) = report.shard { " · shard " (shard.to_string()) }
                    }
                }
            }
        }
    }
}

/// The scenarios failures first, each group in run order.
fn in_report_order(report: &RunReport) -> impl Iterator<Item = &ScenarioReport> {
    let failed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail);
    let passed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Pass);
    failed.chain(passed)
}

/// The run at a glance: its verdict, its counts, and a table of every scenario.
fn summary(report: &RunReport, failed: usize) -> Markup {
    let passed = report.scenarios.len() - failed;
    html! {
        header id="summary" {
            h1 { "contend report" }
            p class="headline" {
                (badge(report.verdict))
                span class="counts" {
                    span class="fail-count" { (failed) " failed" } ", "
                    span class="pass-count" { (passed) " passed" }
                    @if !report.not_run.is_empty() { ", " span class="not-run-count" { (report.not_run.len()) " not run" } }
                    " · " (seconds(report.elapsed_seconds))
                }
            }
            div class="table-wrap" {
                table class="scenarios" {
                    thead { tr {
                        th { "verdict" } th { "scenario" } th { "engine" } th class="num" { "runs" }
                        th class="num" { "failing" } th { "failing rate (95% CI)" } th class="num" { "lost updates" }
                    } }
                    tbody {
                        @for scenario in in_report_order(report) {
                            tr class=(verdict_class(scenario.verdict)) {
                                td { (badge(scenario.verdict)) }
                                td { a href=(format!("#{}", anchor(scenario))) { (printable(&scenario.name)) } }
                                td { (scenario.engine) }
                                td class="num" { (grouped(scenario.runs.into())) }
                                td class="num" { (grouped(scenario.failing_runs.into())) }
                                td { (rate_words(scenario)) }
                                td class=(if scenario.lost_updates > 0 { "num lost" } else { "num" }) { (grouped(scenario.lost_updates.into())) }
                            }
                        }
                        @for name in &report.not_run {
                            tr class="not-run" {
                                td { span class="badge not-run" { "NOT RUN" } }
                                td { (printable(name)) }
                                td colspan="5" { "not run: --fail-fast stopped the run at the first failed scenario" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One scenario's section.
fn scenario_section(scenario: &ScenarioReport) -> Markup {
    html! {
        section class=(format!("scenario {}", verdict_class(scenario.verdict))) id=(anchor(scenario)) {
            h2 { (badge(scenario.verdict)) " " span class="name" { (printable(&scenario.name)) } }
            p class="reason" { (scenario.reason) }
            @if let Some(coverage) = &scenario.coverage {
                p class="coverage" { "what this run proves: " (coverage.statement) }
            }
            (facts(scenario))
            @if !scenario.lost_updates_by_variable.is_empty() {
                (variables_table(scenario))
            }
            div class="figures" {
                figure class="rate-figure" {
                    figcaption { "failing rate: " strong { (rate_words(scenario)) } }
                    (svg::rate_bar(scenario.failure_rate.rate, scenario.failure_rate.ci95_low, scenario.failure_rate.ci95_high))
                    p class="small" { (lost_update_summary(scenario)) }
                }
                @if !scenario.outcomes.is_empty() {
                    figure class=(if scenario.outcomes.len() > 8 { "histogram-figure wide" } else { "histogram-figure" }) {
                        figcaption {
                            "final values (expected " strong { (grouped(scenario.expected_final.into())) } ")"
                            @if scenario.outcomes.len() > svg::MAX_BARS {
                                ", the " (svg::MAX_BARS) " most frequent of " (scenario.outcomes.len())
                            }
                        }
                        div class="chart-wrap" { (svg::histogram(&scenario.outcomes, scenario.expected_final)) }
                    }
                }
            }
            @if !scenario.failures.is_empty() {
                h3 { "failures" }
                ul class="failures" { @for failure in &scenario.failures { li { code { (failure) } } } }
                @for failure in &scenario.failures {
                    @if let Some(tasks) = svg::blocked_tasks(failure) {
                        figure class="cycle-figure" {
                            figcaption { "deadlock: the blocked tasks wait on one another (" (tasks.len()) " in the cycle)" }
                            (svg::wait_for_cycle(&tasks))
                        }
                    }
                }
            }
            @if let Some(schedule) = &scenario.minimal_schedule {
                (schedule_part(schedule))
            }
            @if !scenario.notes.is_empty() {
                ul class="notes" { @for note in &scenario.notes { li { (note) } } }
            }
        }
    }
}

/// How the scenario ran, as a definition list.
fn facts(scenario: &ScenarioReport) -> Markup {
    html! {
        dl class="facts" {
            div { dt { "lost updates" } dd class=(if scenario.lost_updates > 0 { "lost" } else { "" }) { (grouped(scenario.lost_updates.into())) } }
            div { dt { "net lost" } dd { (grouped(scenario.net_lost)) } }
            div { dt { "workload" } dd { (scenario.workload) } }
            div { dt { "engine" } dd { (scenario.engine) @if let Some(s) = &scenario.scheduler { " (" (s) ")" } } }
            div { dt { "sync" } dd { (scenario.sync_label()) } }
            div { dt { "expect" } dd { (scenario.expect.as_str()) } }
            @if !scenario.failure_kinds.is_empty() {
                div { dt { "failing runs by kind" } dd class="kinds" { (crate::words::failure_kinds(&scenario.failure_kinds)) } }
            }
            div { dt { "runs" } dd { (grouped(scenario.runs.into())) " of " (grouped(scenario.runs_requested.into())) } }
            div { dt { "seed" } dd { (scenario.seed) } }
            div { dt { "time" } dd { (seconds(scenario.elapsed_seconds)) } }
            @if let Some(origin) = &scenario.config {
                div { dt { "config" } dd { (printable(&origin.file.display().to_string())) ":" (origin.line) } }
            }
        }
    }
}

/// A program's shared variables: the lost updates and overwrites of each over the runs, and
/// the value each would end with had no update been lost.
fn variables_table(scenario: &ScenarioReport) -> Markup {
    html! {
        h3 { "by variable" }
        div class="table-wrap" {
            table class="variables" {
                thead { tr {
                    th { "variable" } th class="num" { "lost updates" } th class="num" { "overwrites" }
                    th class="num" { "expected final" }
                } }
                tbody {
                    @for (name, lost) in &scenario.lost_updates_by_variable {
                        tr {
                            td { code { (printable(name)) } }
                            td class=(if *lost > 0 { "num lost" } else { "num" }) { (grouped((*lost).into())) }
                            td class="num" { (scenario.overwrites_by_variable.get(name).map_or("-".to_string(), |n| grouped((*n).into()))) }
                            td class="num" { (scenario.expected_final_by_variable.get(name).map_or("-".to_string(), |n| grouped((*n).into()))) }
                        }
                    }
                }
            }
        }
    }
}

/// The minimal failing schedule: its summary, its interleaving, its overwrites in words and
/// the command that replays it.
fn schedule_part(schedule: &crate::schedule::witness::ScheduleSummary) -> Markup {
    html! {
        h3 { "interleaving" }
        p class="small" { (schedule_summary(schedule)) }
        @if !schedule.accesses.is_empty() {
            div class="lanes-wrap" { (svg::lanes(&schedule.thread_names, &schedule.accesses)) }
            p class="legend small" {
                span class="key write" {} "write " span class="key lost-update" {} "write that lost an update (the arrow points at the write it discarded) "
                span class="key preemption" {} "preemption"
            }
        } @else if !schedule.interleaving.is_empty() {
            pre class="table" { @for line in &schedule.interleaving { (line) "\n" } }
        }
        @if !schedule.explanation.is_empty() {
            ul class="explanation" { @for line in &schedule.explanation { li { (line) } } }
        }
        @if let Some(command) = &schedule.replay_command {
            p { "replay: " code class="command" { (command) } }
        }
    }
}

fn badge(verdict: Verdict) -> Markup {
    html! { span class=(format!("badge {}", verdict_class(verdict))) { (verdict_word(verdict)) } }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    verdict.as_str()
}

/// The failing rate and its interval in words.
fn rate_words(scenario: &ScenarioReport) -> String {
    let rate = &scenario.failure_rate;
    if scenario.exhaustive {
        format!("{} (every schedule)", percent(rate.rate))
    } else {
        format!(
            "{} [{}, {}]",
            percent(rate.rate),
            percent(rate.ci95_low),
            percent(rate.ci95_high)
        )
    }
}

/// A rate as a percentage with enough digits to tell a small one from zero.
fn percent(rate: f64) -> String {
    let value = rate * 100.0;
    if value != 0.0 && value.abs() < 0.1 {
        format!("{value:.3}%")
    } else {
        format!("{value:.1}%")
    }
}

fn seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

/// The scenario's section id: its name with anything but letters, digits and `-_` made `-`.
fn anchor(scenario: &ScenarioReport) -> String {
    let name: String = scenario
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("scenario-{name}")
}

/// Writes the HTML report to a writer when the run finishes.
#[derive(Debug)]
pub struct HtmlReporter<W: Write> {
    out: W,
}

impl<W: Write> HtmlReporter<W> {
    /// A reporter that will write to `out`.
    pub fn new(out: W) -> Self {
        HtmlReporter { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Reporter for HtmlReporter<W> {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            write_html(report, &mut self.out)?;
            self.out.flush()?;
        }
        Ok(())
    }
}

/// Writes the HTML report to a file when the run finishes, as the JSON and JUnit files are
/// written: whole, through a temporary file and a rename.
#[derive(Debug)]
pub struct HtmlFileReporter {
    path: PathBuf,
}

impl HtmlFileReporter {
    /// A reporter that will write to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        HtmlFileReporter { path: path.into() }
    }
}

impl Reporter for HtmlFileReporter {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            let mut buffer = Vec::new();
            write_html(report, &mut buffer)?;
            write_atomically(&self.path, &buffer)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::junit::fixtures::{failing, passing, run};
    use super::*;

    fn html_of(report: &RunReport) -> String {
        let mut reporter = HtmlReporter::new(Vec::new());
        reporter
            .report(&Event::RunFinished { report })
            .expect("writing to memory");
        String::from_utf8(reporter.into_inner()).unwrap()
    }

    #[test]
    fn failures_come_before_passes_and_the_summary_before_both() {
        let html = html_of(&run(vec![passing(), failing()]));
        let summary = html.find("id=\"summary\"").unwrap();
        let flag = html.find("id=\"scenario-flag-lock\"").unwrap();
        let racy = html.find("id=\"scenario-lesson-racy\"").unwrap();
        assert!(summary < flag && flag < racy, "{html}");
        assert!(html.contains("<title>contend: FAIL (1 of 2 scenarios failed)</title>"));
    }

    #[test]
    fn the_page_loads_nothing_and_runs_no_script() {
        let html = html_of(&run(vec![passing(), failing()]));
        for forbidden in [
            "<script", "<link", "src=", "http://", "https://", "@import", "url(http",
        ] {
            assert!(!html.contains(forbidden), "{forbidden} in the page");
        }
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn the_minimal_schedule_is_drawn_with_lanes_preemption_and_the_discarded_write() {
        let html = html_of(&run(vec![failing()]));
        assert_eq!(html.matches("class=\"lane\"").count(), 2, "{html}");
        assert_eq!(html.matches("class=\"access").count(), 4);
        assert_eq!(html.matches("class=\"preemption\"").count(), 1);
        assert_eq!(html.matches("class=\"discards\"").count(), 1);
        assert!(html.contains("contend replay contend-out/flag-lock.schedule.toml"));
    }

    #[test]
    fn names_are_escaped_as_html_and_their_control_characters_shown() {
        let mut odd = failing();
        odd.name = "<b>bold</b>\u{1b}[31m".into();
        let html = html_of(&run(vec![odd]));
        assert!(!html.contains("<b>bold"), "{html}");
        assert!(!html.contains('\u{1b}'));
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;\\u{1b}[31m"));
    }

    #[test]
    fn each_scenario_says_what_its_run_proves() {
        let mut exhaustive = passing();
        exhaustive.coverage = Some(crate::report::coverage::Coverage {
            kind: crate::report::coverage::CoverageKind::Exhaustive,
            classes: Some(924),
            max_preemptions: None,
            depth: None,
            miss_probability: None,
            statement: "exhaustive: every interleaving of these 2 threads x 6 ops was checked \
                        (924 equivalence classes)"
                .into(),
        });
        let html = html_of(&run(vec![exhaustive, failing()]));
        assert!(
            html.contains(
                "<p class=\"coverage\">what this run proves: exhaustive: every interleaving of \
                 these 2 threads x 6 ops was checked (924 equivalence classes)</p>"
            ),
            "{html}"
        );
        assert_eq!(html.matches("class=\"coverage\"").count(), 2, "{html}");
    }

    #[test]
    fn scenarios_left_by_fail_fast_are_listed_as_not_run() {
        let mut report = run(vec![failing()]);
        report.not_run = vec!["later".into()];
        let html = html_of(&report);
        assert!(html.contains("1 not run"), "{html}");
        assert!(html.contains("NOT RUN"));
    }
}
