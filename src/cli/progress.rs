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
use contend::report::words::grouped;
use contend::report::{Event, Reporter};
use contend::scenario::Scenario;
use contend::shard::Shard;

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often a plain progress line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Shows each scenario's progress while it runs.
pub struct ProgressReporter {
    planned: HashMap<String, u64>,
    budgets: HashMap<String, Duration>,
    counter: Arc<AtomicU64>,
    terminal: bool,
    running: Option<Ticker>,
}

/// The display thread of the running scenario; dropping `stop` ends it.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl ProgressReporter {
    /// A display for `scenarios` (this run's `shard` of them), reading `counter`.
    pub fn new(scenarios: &[Scenario], shard: Option<Shard>, counter: Arc<AtomicU64>) -> Self {
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
            counter,
            terminal: io::stderr().is_terminal(),
            running: None,
        }
    }

    fn start(&mut self, name: &str) {
        self.stop();
        let planned = self.planned.get(name).copied().unwrap_or(0);
        let budget = self.budgets.get(name).copied();
        let (stop, stopped) = mpsc::channel();
        let counter = Arc::clone(&self.counter);
        let name = name.to_string();
        let terminal = self.terminal;
        let thread = std::thread::spawn(move || {
            if terminal {
                show_bar(&name, planned, &counter, &stopped);
            } else {
                print_lines(&name, planned, budget, &counter, &stopped);
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
            Event::ScenarioFinished { .. } | Event::RunFinished { .. } => self.stop(),
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

fn show_bar(name: &str, planned: u64, counter: &AtomicU64, stopped: &mpsc::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr());
    // No colors: NO_COLOR or not, the bar is plain text.
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} runs, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    loop {
        bar.set_position(counter.load(Ordering::Relaxed));
        if !still_running(stopped, BAR_TICK) {
            break;
        }
    }
    bar.finish_and_clear();
}

fn print_lines(
    name: &str,
    planned: u64,
    budget: Option<Duration>,
    counter: &AtomicU64,
    stopped: &mpsc::Receiver<()>,
) {
    let started = Instant::now();
    while still_running(stopped, LINE_EVERY) {
        let done = counter.load(Ordering::Relaxed);
        let percent = if planned == 0 {
            100.0
        } else {
            100.0 * done as f64 / planned as f64
        };
        // A closed stderr only loses the progress line.
        let budget = budget.map_or(String::new(), |budget| {
            format!(" of a {} budget", humantime::format_duration(budget))
        });
        let _ = writeln!(
            io::stderr(),
            "contend: {name}: {} of {} runs ({percent:.0}%), {:.0} s{budget}",
            grouped(done.into()),
            grouped(planned.into()),
            started.elapsed().as_secs_f64()
        );
    }
}
