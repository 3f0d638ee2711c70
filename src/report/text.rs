//! The human-readable summary: one row per scenario as it finishes, then the verdict.

use std::io::{self, Write};

use super::{Event, Reporter, ScenarioReport, Verdict};

/// How many final values a row lists.
const SHOWN_FINALS: usize = 5;

/// Writes the text summary to any writer.
#[derive(Debug)]
pub struct TextReporter<W> {
    out: W,
}

impl<W: Write> TextReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        TextReporter { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn header(&mut self) -> io::Result<()> {
        writeln!(
            self.out,
            "{:<28} {:<8} {:<7} {:>8} {:>8} {:>13} {:>26}  {:<7} {:>9}",
            "scenario",
            "engine",
            "sync",
            "runs",
            "failing",
            "lost updates",
            "failure rate (95% CI)",
            "verdict",
            "elapsed"
        )
    }

    fn row(&mut self, r: &ScenarioReport) -> io::Result<()> {
        let rate = format!(
            "{:.1}% [{:.1}%, {:.1}%]",
            r.failure_rate.rate * 100.0,
            r.failure_rate.ci95_low * 100.0,
            r.failure_rate.ci95_high * 100.0
        );
        let verdict = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
        };
        writeln!(
            self.out,
            "{:<28} {:<8} {:<7} {:>8} {:>8} {:>13} {:>26}  {:<7} {:>8.2}s",
            r.name,
            r.engine,
            r.sync.as_str(),
            r.runs,
            r.failing_runs,
            r.lost_updates,
            rate,
            verdict,
            r.elapsed_seconds
        )?;
        let finals: Vec<String> = r
            .outcomes
            .iter()
            .take(SHOWN_FINALS)
            .map(|f| format!("{} (x{})", f.value, f.count))
            .collect();
        let more = r.outcomes.len().saturating_sub(SHOWN_FINALS);
        let more = if more > 0 {
            format!(", {more} other values")
        } else {
            String::new()
        };
        writeln!(
            self.out,
            "    seed {}; expected final {}; final values: {}{more}",
            r.seed,
            r.expected_final,
            if finals.is_empty() {
                "none".to_string()
            } else {
                finals.join(", ")
            }
        )?;
        writeln!(self.out, "    {}", r.reason)?;
        for failure in &r.failures {
            writeln!(self.out, "    {failure}")?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::RunStarted { .. } => self.header(),
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
                    .count();
                writeln!(
                    self.out,
                    "\n{}: {} scenarios, {} passed, {} failed, in {:.2}s",
                    report.verdict.as_str().to_uppercase(),
                    report.scenarios.len(),
                    report.scenarios.len() - failed,
                    failed,
                    report.elapsed_seconds
                )?;
                self.out.flush()
            }
        }
    }
}
