//! The human-readable summary: one row per scenario as it finishes, then the verdict.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::words::{self, count, final_values, grouped, printable};
use super::{Event, Reporter, RunReport, ScenarioReport, ScheduleSummary, Verdict};
use crate::scenario::{Storage, SyncMode};
use crate::schedule::search::Minimality;
use crate::schedule::witness::inline_table;

/// How many final values a row lists.
const SHOWN_FINALS: usize = 5;

/// FAIL and lost updates.
const RED: Style = AnsiColor::Red.on_default().effects(Effects::BOLD);
/// pass.
const GREEN: Style = AnsiColor::Green.on_default().effects(Effects::BOLD);

/// `text` in `style` when `styled`, padded to `width` outside the escape codes.
fn paint(styled: bool, style: Style, text: &str, width: usize, right: bool) -> String {
    let padded = if right {
        format!("{text:>width$}")
    } else {
        format!("{text:<width$}")
    };
    if styled {
        format!("{}{padded}{}", style.render(), style.render_reset())
    } else {
        padded
    }
}

/// Writes the text summary to any writer.
#[derive(Debug)]
pub struct TextReporter<W> {
    out: W,
    name_width: usize,
    styled: bool,
}

impl<W: Write> TextReporter<W> {
    /// A reporter writing plain text to `out`.
    pub fn new(out: W) -> Self {
        TextReporter {
            out,
            name_width: 8,
            styled: false,
        }
    }

    /// A reporter writing to `out` with FAIL and lost updates in red and pass in green (ANSI
    /// escape codes; the caller's stream decides whether to keep them).
    pub fn styled(out: W) -> Self {
        TextReporter {
            styled: true,
            ..TextReporter::new(out)
        }
    }

    /// `text` in `style` if this reporter writes colour.
    fn paint(&self, style: Style, text: &str, width: usize, right: bool) -> String {
        paint(self.styled, style, text, width, right)
    }

    /// Writes a whole finished run (a merged campaign) as a live run would have been written.
    pub fn write_whole(&mut self, report: &RunReport) -> io::Result<()> {
        self.name_width = report
            .scenarios
            .iter()
            .map(|s| printable(&s.name).chars().count())
            .max()
            .unwrap_or(0)
            .max(8);
        self.header()?;
        for scenario in &report.scenarios {
            self.report(&Event::ScenarioFinished { report: scenario })?;
        }
        self.report(&Event::RunFinished { report })
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn header(&mut self) -> io::Result<()> {
        writeln!(
            self.out,
            "{:<width$}  {:<9}  {:<6}  {:>9}  {:>9}  {:>13}  {:>24}  {:<7}  {:>8}",
            "scenario",
            "engine",
            "sync",
            "runs",
            "failing",
            "lost updates",
            "failing rate (95% CI)",
            "verdict",
            "elapsed",
            width = self.name_width
        )
    }

    /// A scenario's report: its line of the table, then what it ran and found, indented.
    fn row(&mut self, r: &ScenarioReport) -> io::Result<()> {
        self.table_line(r)?;
        let shape = workload_shape(r);
        let scheduler = r
            .executor
            .iter()
            .map(|e| format!(", executor {e}"))
            .chain(r.scheduler.iter().map(|s| format!(", scheduler {s}")))
            .collect::<String>();
        // A plugin workload's expected final value is known only from a run that settled: with
        // none, there is no number to give.
        if r.params.is_some() && r.outcomes.is_empty() {
            writeln!(self.out, "    {shape} (seed {}{scheduler})", r.seed)?;
        } else {
            writeln!(
                self.out,
                "    {shape}: expected final {} (seed {}{scheduler})",
                grouped(r.expected_final.into()),
                r.seed
            )?;
        }
        self.summary(r)?;
        if let Some(schedule) = &r.minimal_schedule {
            self.schedule(schedule)?;
        }
        Ok(())
    }

    /// The scenario's line of the table.
    fn table_line(&mut self, r: &ScenarioReport) -> io::Result<()> {
        let rate = if r.exhaustive {
            format!("{} (all schedules)", percent(r.failure_rate.rate))
        } else {
            format!(
                "{} [{}, {}]",
                percent(r.failure_rate.rate),
                percent(r.failure_rate.ci95_low),
                percent(r.failure_rate.ci95_high)
            )
        };
        let verdict = match r.verdict {
            Verdict::Pass => self.paint(GREEN, "pass", 7, false),
            Verdict::Fail => self.paint(RED, "FAIL", 7, false),
        };
        let lost = grouped(r.lost_updates.into());
        let lost = if r.lost_updates > 0 {
            self.paint(RED, &lost, 13, true)
        } else {
            format!("{lost:>13}")
        };
        writeln!(
            self.out,
            "{:<width$}  {:<9}  {:<6}  {:>9}  {:>9}  {}  {:>24}  {}  {:>7.2}s",
            printable(&r.name),
            r.engine,
            r.sync_label(),
            grouped(r.runs.into()),
            grouped(r.failing_runs.into()),
            lost,
            rate,
            verdict,
            r.elapsed_seconds,
            width = self.name_width
        )
    }

    /// The final values, the losses, the verdict and its reason, coverage and notes.
    fn summary(&mut self, r: &ScenarioReport) -> io::Result<()> {
        if !r.outcomes.is_empty() {
            writeln!(
                self.out,
                "    final values: {}",
                final_values(&r.outcomes, SHOWN_FINALS)
            )?;
        }
        if r.lost_updates_by_variable.len() > 1 {
            writeln!(
                self.out,
                "    lost updates by variable: {}",
                words::by_variable(&r.lost_updates_by_variable)
            )?;
        }
        if r.failed_runs > 0 {
            writeln!(
                self.out,
                "    failing runs by kind: {}",
                words::failure_kinds(&r.failure_kinds)
            )?;
        }
        // The net shortfall sums the runs that settled: when only failed runs lost updates, it
        // says nothing of them.
        if r.lost_update_runs > 0 {
            let mut line = match r.net_lost {
                0 => "    summed over the runs, the lost updates cancelled out: the final values \
                      average the expected one"
                    .to_string(),
                net => format!(
                    "    summed over the runs, the lost updates left the final value {} {} expected",
                    grouped(net.abs()),
                    if net > 0 { "below" } else { "above" }
                ),
            };
            if r.masked_runs > 0 {
                line.push_str(&format!(
                    "; in {} the losses cancelled out and the final value was right anyway",
                    count(r.masked_runs, "run")
                ));
            }
            writeln!(self.out, "{line}")?;
        }
        let word = match r.verdict {
            Verdict::Pass => self.paint(GREEN, "pass", 0, false),
            Verdict::Fail => self.paint(RED, "FAIL", 0, false),
        };
        writeln!(self.out, "    {word}: {}", r.reason)?;
        if let Some(coverage) = &r.coverage {
            writeln!(self.out, "    coverage: {}", coverage.statement)?;
        }
        for line in r.failures.iter().chain(&r.notes) {
            writeln!(self.out, "    {line}")?;
        }
        Ok(())
    }

    /// The failing schedule, its interleaving and how to replay it.
    fn schedule(&mut self, schedule: &ScheduleSummary) -> io::Result<()> {
        let shrunk = schedule.shrunk_workload();
        let heading = if schedule.minimality == Minimality::NotShrunk {
            "failing schedule"
        } else {
            "minimal failing schedule"
        };
        writeln!(
            self.out,
            "    {heading}: {}, {} ({}; found in {:.2}s), on {shrunk}:",
            count(schedule.preemptions, "preemption"),
            count(schedule.steps, "scheduling decision"),
            schedule.minimality.describe(),
            schedule.seconds
        )?;
        for line in schedule.interleaving.iter().chain(&schedule.explanation) {
            writeln!(self.out, "      {line}")?;
        }
        writeln!(self.out, "      failure: {}", schedule.failure.as_str())?;
        if let Some(cycle) = &schedule.cycle {
            writeln!(self.out, "      cycle of waits: {}", words::cycle(cycle))?;
        }
        if let Some(command) = &schedule.replay_command {
            writeln!(self.out, "    replay: {command}")?;
        }
        Ok(())
    }
}

/// What the scenario ran, in words: `counter from 10, threads +1 x 100, -1 x 101`.
fn workload_shape(r: &ScenarioReport) -> String {
    // Consecutive identical threads are written once, with their number.
    let mut threads: Vec<(String, u64)> = Vec::new();
    for thread in &r.threads {
        let shape = format!("{:+} x {}", thread.delta, grouped(thread.ops.into()));
        match threads.last_mut() {
            Some((last, times)) if *last == shape => *times += 1,
            _ => threads.push((shape, 1)),
        }
    }
    let threads: Vec<String> = threads
        .into_iter()
        .map(|(shape, times)| match times {
            1 => shape,
            _ => format!("{shape} ({} times)", grouped(times.into())),
        })
        .collect();
    match &r.object {
        Some(object) => format!(
            "Counter class from {}, {} x {} (pauses up to {} ms)",
            grouped(r.initial.unwrap_or_default().into()),
            count(object.workers as u64, "worker"),
            count(object.increments, "increment"),
            object.max_pause_ms
        ),
        None if r.params.is_some() => format!(
            "workload {} with {}",
            r.workload,
            r.params.as_ref().map(inline_table).unwrap_or_default()
        ),
        None => match &r.processes {
            Some(processes) => format!(
                "counter from {}, {} {} ({}{})",
                grouped(r.initial.unwrap_or_default().into()),
                match processes.workers {
                    1 => "1 worker process".to_string(),
                    n => format!("{n} worker processes"),
                },
                threads.join(", "),
                match processes.storage {
                    Storage::SharedMemory => "in shared memory",
                    Storage::Manager => "in a manager process, get then set over a socket",
                },
                if r.sync == Some(SyncMode::Mutex) {
                    ", file lock"
                } else {
                    ""
                }
            ),
            None => format!(
                "counter from {}, threads {}",
                grouped(r.initial.unwrap_or_default().into()),
                threads.join(", ")
            ),
        },
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted { scenarios } => {
                self.name_width = scenarios
                    .iter()
                    .map(|s| printable(&s.name).chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(8);
                self.header()
            }
            Event::ScenarioStarted { .. } => Ok(()),
            Event::ScenarioFinished { report } => {
                self.row(report)?;
                self.out.flush()
            }
            Event::RunFinished { report } => {
                let failed = report
                    .scenarios
                    .iter()
                    .filter(|s| s.verdict == Verdict::Fail)
                    .count() as u64;
                let total = report.scenarios.len() as u64;
                let verdict = match report.verdict {
                    Verdict::Pass => self.paint(GREEN, "PASS", 0, false),
                    Verdict::Fail => self.paint(RED, "FAIL", 0, false),
                };
                let not_run = match report.not_run.len() as u64 {
                    0 => String::new(),
                    n => format!(", {n} not run"),
                };
                writeln!(
                    self.out,
                    "\n{verdict}: {}, {} passed, {} failed{not_run}, in {:.2}s",
                    count(total + report.not_run.len() as u64, "scenario"),
                    total - failed,
                    failed,
                    report.elapsed_seconds
                )?;
                if !report.not_run.is_empty() {
                    let names: Vec<_> = report.not_run.iter().map(|n| printable(n)).collect();
                    writeln!(
                        self.out,
                        "not run (--fail-fast stopped at the first failed scenario): {}",
                        names.join(", ")
                    )?;
                }
                if let Some(shard) = report.shard {
                    writeln!(
                        self.out,
                        "(shard {shard} of a campaign: these are this shard's executions only; \
                         `contend merge` joins every shard's JSON report)"
                    )?;
                }
                self.out.flush()
            }
        }
    }
}

/// A proportion as a percentage with one decimal, or two significant digits below 0.1%, so
/// that a small nonzero bound never shows as 0.0%.
fn percent(proportion: f64) -> String {
    let value = proportion * 100.0;
    if value > 0.0 && value < 0.1 {
        let digits = (1 - value.log10().floor() as i32).max(1) as usize;
        format!("{value:.digits$}%")
    } else {
        format!("{value:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;
    use crate::ledger::Settlement;
    use crate::report::{RunReport, ScenarioReport};
    use crate::runner::judge;
    use crate::scenario::{
        CounterSpec, EngineSpec, Expectation, Scenario, SyncMode, ThreadsSettings,
    };
    use crate::tally::Tally;

    fn report() -> ScenarioReport {
        let scenario = Scenario::counter(
            "lesson-racy",
            EngineSpec::Threads(ThreadsSettings::default()),
            CounterSpec::new(10, &[(1, 1_000_000), (-1, 1_000_001)], SyncMode::None),
            Expectation::LostUpdates,
        )
        .with_runs(2)
        .with_seed(42);
        let mut tally = Tally::new(false);
        for (run, (observed_final, lost_updates)) in
            [(-99_559, 500_000), (9, 2)].into_iter().enumerate()
        {
            tally.record(
                run as u64,
                Outcome::Settled(Settlement {
                    observed_final,
                    expected_final: 9,
                    overwrites: lost_updates,
                    lost_updates,
                    lost_delta: 9 - observed_final,
                    variables: Vec::new(),
                }),
            );
        }
        judge(&scenario, tally, 1.5)
    }

    #[test]
    fn a_row_shows_the_lesson_numbers_and_explains_the_losses() {
        let report = report();
        let mut reporter = TextReporter::new(Vec::new());
        let scenarios = [];
        reporter
            .report(&Event::RunStarted {
                scenarios: &scenarios,
            })
            .unwrap();
        reporter
            .report(&Event::ScenarioFinished { report: &report })
            .unwrap();
        let run = RunReport {
            contend_version: "test".into(),
            verdict: Verdict::Pass,
            elapsed_seconds: 1.5,
            shard: None,
            scenarios: vec![report],
            not_run: Vec::new(),
        };
        reporter
            .report(&Event::RunFinished { report: &run })
            .unwrap();
        let text = String::from_utf8(reporter.into_inner()).unwrap();
        assert!(text.contains("lesson-racy  threads"), "{text}");
        assert!(text.contains("500,002"), "{text}");
        assert!(
            text.contains("counter from 10, threads +1 x 1,000,000, -1 x 1,000,001: expected final 9 (seed 42)"),
            "{text}"
        );
        assert!(
            text.contains("final values: -99,559 (x1), 9 (x1)"),
            "{text}"
        );
        assert!(
            text.contains("the lost updates left the final value 99,568 below expected"),
            "{text}"
        );
        assert!(text.contains("in 1 run the losses cancelled out"), "{text}");
        assert!(
            text.contains("pass: lost updates shown in 2 of 2 runs, as expected"),
            "{text}"
        );
        assert!(
            text.contains("PASS: 1 scenario, 1 passed, 0 failed"),
            "{text}"
        );
    }
}
