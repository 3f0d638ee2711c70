//! The progress display on stderr: a bar on a terminal, a plain line every few seconds
//! otherwise (CI logs), nothing with `-q`. It watches a counter the engines bump after each
//! execution, from a thread of its own, so the executions never wait for it.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use contend::engine::{RunPlan, block_len};
use contend::report::words::{grouped, printable};
use contend::report::{Event, Reporter, Verdict};
use contend::runner::ScenarioProgress;
use contend::scenario::Scenario;
use contend::shard::Shard;

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often a plain progress line is printed when stderr is not a terminal, unless
/// [`LINE_EVERY_VARIABLE`] says otherwise.
const LINE_EVERY: Duration = Duration::from_secs(10);
/// The environment variable that sets how often a plain progress line is printed (`30s`,
/// `500ms`): a CI log may want fewer lines, or more.
pub const LINE_EVERY_VARIABLE: &str = "CONTEND_PROGRESS_EVERY";

/// How often a plain progress line is printed: `value` is [`LINE_EVERY_VARIABLE`]'s, if set.
pub fn line_every(value: Option<String>) -> anyhow::Result<Duration> {
    let Some(value) = value else {
        return Ok(LINE_EVERY);
    };
    match humantime::parse_duration(value.trim()) {
        Ok(every) if !every.is_zero() => Ok(every),
        Ok(_) => anyhow::bail!("{LINE_EVERY_VARIABLE}={value}: the interval must be above zero"),
        Err(error) => anyhow::bail!(
            "{LINE_EVERY_VARIABLE}={value}: not a duration ({error}); write it as `30s` or `500ms`"
        ),
    }
}

/// Shows each scenario's progress while it runs.
pub struct ProgressReporter {
    planned: HashMap<String, u64>,
    budgets: HashMap<String, Duration>,
    progress: Arc<ScenarioProgress>,
    terminal: bool,
    /// How often a plain line is printed when stderr is not a terminal.
    line_every: Duration,
    running: Option<Ticker>,
    /// Scenarios finished so far, and how many of them failed.
    finished: usize,
    failed: u64,
    total: usize,
}

/// What the display of one scenario shows besides its runs.
struct Shown {
    /// `[2/5] name`.
    label: String,
    planned: u64,
    budget: Option<Duration>,
    /// Scenarios failed before this one.
    failed: u64,
}

impl Shown {
    /// `, 1 failed so far` (in red when stderr takes colour), `, budget 30s`.
    fn suffix(&self, colour: bool) -> String {
        let mut suffix = String::new();
        if let Some(budget) = self.budget {
            suffix.push_str(&format!(", budget {}", humantime::format_duration(budget)));
        }
        if self.failed > 0 {
            let text = format!("{} failed so far", self.failed);
            if colour {
                let red = anstyle::AnsiColor::Red
                    .on_default()
                    .effects(anstyle::Effects::BOLD);
                suffix.push_str(&format!(", {red}{text}{red:#}"));
            } else {
                suffix.push_str(&format!(", {text}"));
            }
        }
        suffix
    }
}

/// The display thread of the running scenario; dropping `stop` ends it.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl ProgressReporter {
    /// A display for `scenarios` (this run's `shard` of them), reading their counters in
    /// `progress`; off a terminal, a line every `line_every`.
    pub fn new(
        scenarios: &[Scenario],
        shard: Option<Shard>,
        progress: Arc<ScenarioProgress>,
        line_every: Duration,
    ) -> Self {
        let planned = scenarios
            .iter()
            .map(|scenario| {
                let plan = RunPlan {
                    shard,
                    ..RunPlan::new(&scenario.name, scenario.runs, scenario.seed)
                };
                let block = block_len(&scenario.engine, scenario.runs);
                (scenario.name.clone(), plan.planned(block))
            })
            .collect();
        let budgets = scenarios
            .iter()
            .filter_map(|scenario| Some((scenario.name.clone(), scenario.time?)))
            .collect();
        ProgressReporter {
            planned,
            budgets,
            progress,
            terminal: io::stderr().is_terminal(),
            line_every,
            running: None,
            finished: 0,
            failed: 0,
            total: scenarios.len(),
        }
    }

    fn start(&mut self, name: &str) {
        self.stop();
        let shown = Shown {
            label: format!("[{}/{}] {}", self.finished + 1, self.total, printable(name)),
            planned: self.planned.get(name).copied().unwrap_or(0),
            budget: self.budgets.get(name).copied(),
            failed: self.failed,
        };
        let (stop, stopped) = mpsc::channel();
        let counter = self.progress.counter(name).unwrap_or_default();
        let terminal = self.terminal;
        let line_every = self.line_every;
        let thread = std::thread::spawn(move || {
            if terminal {
                show_bar(&shown, &counter, &stopped);
            } else {
                print_lines(&shown, &counter, &stopped, line_every);
            }
        });
        self.running = Some(Ticker { stop, thread });
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.running.take() {
            drop(ticker.stop);
            // A display that panicked only loses the display.
            let _ = ticker.thread.join();
        }
    }
}

impl Reporter for ProgressReporter {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        match event {
            Event::ScenarioStarted { scenario } => self.start(&scenario.name),
            Event::ScenarioFinished { report } => {
                self.stop();
                self.finished += 1;
                self.failed += u64::from(report.verdict == Verdict::Fail);
            }
            Event::RunFinished { .. } => self.stop(),
            Event::RunStarted { .. } => {}
        }
        Ok(())
    }
}

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits `period`; false once the display is to stop.
fn still_running(stopped: &mpsc::Receiver<()>, period: Duration) -> bool {
    matches!(stopped.recv_timeout(period), Err(RecvTimeoutError::Timeout))
}

fn show_bar(shown: &Shown, counter: &AtomicU64, stopped: &mpsc::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(shown.planned), ProgressDrawTarget::stderr());
    let colour = anstream::AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never;
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {human_pos}/{human_len} runs, {elapsed}, ETA {eta}{msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(shown.label.clone());
    bar.set_message(shown.suffix(colour));
    loop {
        bar.set_position(counter.load(Ordering::Relaxed));
        if !still_running(stopped, BAR_TICK) {
            break;
        }
    }
    bar.finish_and_clear();
}

fn print_lines(
    shown: &Shown,
    counter: &AtomicU64,
    stopped: &mpsc::Receiver<()>,
    line_every: Duration,
) {
    let started = Instant::now();
    let colour = anstream::AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never;
    while still_running(stopped, line_every) {
        let done = counter.load(Ordering::Relaxed);
        let planned = shown.planned;
        let percent = if planned == 0 {
            100.0
        } else {
            100.0 * done as f64 / planned as f64
        };
        let elapsed = started.elapsed().as_secs_f64();
        // The time the remaining runs take at the pace so far, within the budget if any.
        let mut eta = match done {
            0 => None,
            _ => Some(elapsed * (planned.saturating_sub(done)) as f64 / done as f64),
        };
        if let (Some(left), Some(budget)) = (eta, shown.budget) {
            eta = Some(left.min((budget.as_secs_f64() - elapsed).max(0.0)));
        }
        let eta = eta.map_or(String::new(), |eta| format!(", ETA {eta:.0} s"));
        // A closed stderr only loses the progress line.
        let _ = writeln!(
            io::stderr(),
            "contend: {}: {} of {} runs ({percent:.0}%), {elapsed:.0} s{eta}{}",
            shown.label,
            grouped(done.into()),
            grouped(planned.into()),
            shown.suffix(colour)
        );
    }
}
