//! What a check found: per engine, the executions, the failing ones, the lost updates, the final
//! values, and the first failure with its interleaving and the command that replays it.
//!
//! A [`CheckReport`]'s `Display` is the whole message that [`crate::check::Check::assert`]
//! panics with: the verdict, one summary per engine, and each first failure's interleaving and
//! replay command.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::{Engine, Expect};
use crate::ledger::LedgerError;
use crate::sync::context::{self, AccessKind, LoggedAccess};

/// The report of one check.
#[derive(Debug)]
pub struct CheckReport {
    /// The check's name.
    pub name: String,
    /// What the check expected.
    pub expect: Expect,
    /// One report per engine, in the order the engines ran.
    pub engines: Vec<EngineReport>,
}

/// What one engine found.
#[derive(Debug)]
pub struct EngineReport {
    /// The engine.
    pub engine: Engine,
    /// The seed its executions derive from.
    pub seed: u64,
    /// Executions asked for.
    pub runs: u64,
    /// Executions that ran (under shuttle, an execution shuttle ends itself, every thread
    /// blocked with no cycle of waits or too many steps, ends the run early; a replay is one).
    pub executions: u64,
    /// Executions that lost an update or panicked.
    pub failing_executions: u64,
    /// Executions that lost at least one update.
    pub lost_update_executions: u64,
    /// Executions that failed otherwise than by losing updates: panicked, or under shuttle
    /// deadlocked or livelocked (these two are also counted on their own).
    pub panicked_executions: u64,
    /// Executions that deadlocked.
    pub deadlocked_executions: u64,
    /// Executions that ran past their step bound.
    pub livelocked_executions: u64,
    /// Failing executions by kind: every kind that showed, with the number of executions
    /// that failed with it.
    pub failure_kinds: std::collections::BTreeMap<Kind, u64>,
    /// Updates lost over all executions, on every cell.
    pub lost_updates: u64,
    /// Writes that replaced a write they had not read, over all executions (an overwritten
    /// update can be restored by a later write based on it, so this is not the lost count).
    pub overwrites: u64,
    /// The names of the [`Shared`](crate::check::Shared) cells, in the order they were made.
    pub cells: Vec<String>,
    /// How often each combination of final values (one per cell, in [`cells`](Self::cells)
    /// order) came out, most frequent first.
    pub final_values: Vec<FinalValues>,
    /// The first failing execution, if one failed.
    pub first_failure: Option<Failure>,
    /// Whether the engine met the check's expectation.
    pub passed: bool,
    /// The schedule file replayed instead of exploring, if this was a replay.
    pub replayed_from: Option<PathBuf>,
    /// How the run went, in words.
    pub notes: Vec<String>,
    /// What kept the engine from running or judging the body, if anything did.
    pub error: Option<CheckError>,
    /// The engine's wall-clock time.
    pub elapsed: Duration,
}

/// A combination of final values and how many executions ended with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalValues {
    /// One final value per cell.
    pub values: Vec<i64>,
    /// Executions that ended so.
    pub count: u64,
}

/// The accounting of one cell at the end of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellOutcome {
    /// The cell's name.
    pub name: String,
    /// Its initial value.
    pub initial: i64,
    /// Its final value.
    pub final_value: i64,
    /// The value it would have with no lost update: the initial value plus the delta of every
    /// write (the value it wrote minus the value it had read).
    pub expected_final: i64,
    /// Writes to it.
    pub writes: u64,
    /// Writes whose effect is missing from the final value.
    pub lost_updates: u64,
    /// The sum of the lost writes' deltas: always `expected_final - final_value` (contend checks
    /// it after every execution).
    pub lost_delta: i64,
    /// Writes that replaced a write they had not read.
    pub overwrites: u64,
}

/// The first failing execution of an engine.
#[derive(Debug)]
pub struct Failure {
    /// Its index among the engine's executions, from 0.
    pub execution: u64,
    /// What went wrong.
    pub kind: FailureKind,
    /// The accesses of each thread in order, under shuttle.
    pub interleaving: Option<Interleaving>,
    /// The saved schedule that replays it, under shuttle.
    pub schedule_file: Option<PathBuf>,
    /// The command that replays it.
    pub replay_command: Option<String>,
}

/// How an execution failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Updates were lost; the cells that lost some.
    LostUpdates {
        /// The cells with lost updates.
        cells: Vec<CellOutcome>,
    },
    /// A thread stated a broken invariant ([`crate::sync::invariant_failed`]).
    Invariant {
        /// What does not hold, and the thread that said so.
        message: String,
    },
    /// The body or one of its threads panicked.
    Panicked {
        /// What happened, with the panic's message.
        message: String,
    },
    /// Every thread still running was blocked (found under shuttle).
    Deadlocked {
        /// Which threads were blocked.
        message: String,
    },
    /// The execution ran past its step bound (under shuttle): a spin loop that never ends, say.
    Livelocked {
        /// What happened.
        message: String,
    },
}

impl FailureKind {
    /// The kind of failure, without its details.
    pub fn kind(&self) -> Kind {
        match self {
            FailureKind::LostUpdates { .. } => Kind::LostUpdate,
            FailureKind::Invariant { .. } => Kind::Invariant,
            FailureKind::Panicked { .. } => Kind::Panic,
            FailureKind::Deadlocked { .. } => Kind::Deadlock,
            FailureKind::Livelocked { .. } => Kind::Livelock,
        }
    }
}

/// The kinds of failure an execution can show: the one kind type of contend, which configs'
/// `expect`, the CLI's reports and shard merges use too.
pub use crate::failure::Kind;

/// The accesses of a controlled execution, in the order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interleaving {
    /// The threads' names, by index: `main`, `Thread-1`, ...
    pub threads: Vec<String>,
    /// Every access, in order.
    pub steps: Vec<Step>,
    /// Each overwrite in words: who wrote what from which stale read, replacing whose write.
    pub overwrites: Vec<String>,
    /// The first and last index of `steps` worth showing: around the first overwrite, or the
    /// last steps before a panic.
    pub focus: (usize, usize),
}

/// One access of an interleaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The thread's index in [`Interleaving::threads`].
    pub thread: usize,
    /// The access in words, as `read counter -> 4` or `lock mutex#1`.
    pub access: String,
    /// Whether the scheduler preempted another thread to run this one here.
    pub preemption: bool,
    /// Whether this is the write that overwrote a write it had not read, first in the execution.
    pub first_overwrite: bool,
}

/// Why an engine could not run or judge a check.
#[derive(Debug, Error)]
pub enum CheckError {
    /// shuttle would take its seed from the environment instead of the check's.
    #[error(
        "the environment variable SHUTTLE_RANDOM_SEED is set and would replace the check's seed; \
         unset it and give the seed with Check::seed"
    )]
    ShuttleSeedVariable,
    /// The schedule file to replay could not be read.
    #[error("could not read the schedule file {}: {source}", path.display())]
    ReadSchedule {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The schedule file to replay is not one this contend wrote.
    #[error("{} is not a schedule file of this contend: {reason}", path.display())]
    BadSchedule {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The replay did not fail but departed from its schedule, so whether the bug is fixed
    /// cannot be told.
    #[error(
        "the replay did not fail, but it could not follow its schedule ({divergence}): \
         whether the bug is fixed cannot be told"
    )]
    ReplayDiverged {
        /// Where it departed.
        divergence: String,
    },
    /// contend's own accounting failed to reconcile: a bug in contend, not in the body.
    #[error("internal error in execution {execution}: {source}")]
    Ledger {
        /// The execution.
        execution: u64,
        /// What the accounting found.
        source: LedgerError,
    },
}

impl CheckReport {
    /// Whether every engine met the expectation.
    pub fn passed(&self) -> bool {
        self.engines.iter().all(|engine| engine.passed)
    }

    /// The report of `engine`, if it ran.
    pub fn engine(&self, engine: Engine) -> Option<&EngineReport> {
        self.engines.iter().find(|report| report.engine == engine)
    }

    /// The verdict and one line per engine, without interleavings.
    pub fn summary(&self) -> String {
        let mut summary = self.verdict_line();
        for engine in &self.engines {
            summary.push_str("\n  ");
            summary.push_str(&engine.summary_line());
        }
        summary
    }

    fn verdict_line(&self) -> String {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        format!(
            "check `{}` {verdict}: expected {}",
            self.name,
            self.expect.in_words()
        )
    }
}

impl EngineReport {
    /// One line: the engine, its executions, failures and lost updates.
    pub fn summary_line(&self) -> String {
        let verdict = if self.passed { "ok" } else { "FAILED" };
        let mut line = format!("{} [{verdict}]", self.engine);
        if let Some(path) = &self.replayed_from {
            line.push_str(&format!(", replaying {}", path.display()));
        } else {
            line.push_str(&format!(", seed {}", self.seed));
        }
        let kinds = if self.failure_kinds.is_empty() {
            String::new()
        } else {
            format!(
                " (by kind: {})",
                crate::words::failure_kinds(&self.failure_kinds)
            )
        };
        line.push_str(&format!(
            ": {} of {} executions failed{kinds}; {} updates lost in all; {:.2} s",
            self.failing_executions,
            self.executions,
            self.lost_updates,
            self.elapsed.as_secs_f64()
        ));
        if let Some(error) = &self.error {
            line.push_str(&format!("; error: {error}"));
        }
        line
    }
}

impl Expect {
    fn in_words(self) -> String {
        match self {
            Expect::NoLostUpdates => "no lost updates and no panics".to_string(),
            Expect::LostUpdates => "lost updates on every engine (and no panics)".to_string(),
            Expect::Fails(kind) => format!("a {kind} on every engine"),
            Expect::AnyFailure => "a failure on every engine".to_string(),
        }
    }
}

/// At most this many rows of an interleaving are shown in a report; the replay shows them all.
pub const SHOWN_STEPS: usize = 40;

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.verdict_line())?;
        for engine in &self.engines {
            write!(f, "{engine}")?;
        }
        Ok(())
    }
}

impl fmt::Display for EngineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {}", self.summary_line())?;
        if !self.cells.is_empty() {
            let values: Vec<String> = self
                .final_values
                .iter()
                .take(5)
                .map(|outcome| format!("{} ({}x)", tuple(&outcome.values), outcome.count))
                .collect();
            let more = if self.final_values.len() > 5 {
                format!(", and {} more", self.final_values.len() - 5)
            } else {
                String::new()
            };
            writeln!(
                f,
                "    final values of {}: {}{more}",
                tuple(&self.cells),
                values.join(", ")
            )?;
        }
        if let Some(failure) = &self.first_failure {
            write!(f, "{failure}")?;
        }
        for note in &self.notes {
            writeln!(f, "    note: {note}")?;
        }
        Ok(())
    }
}

/// `1 step before`, `3 steps after`.
fn steps(count: usize, position: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} step{plural} {position}")
}

/// One value as is; several as `(a, b)`.
fn tuple<T: fmt::Display>(values: &[T]) -> String {
    match values {
        [one] => one.to_string(),
        many => format!(
            "({})",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "    first failure, execution {}: ", self.execution)?;
        match &self.kind {
            FailureKind::LostUpdates { cells } => {
                let cells: Vec<String> = cells
                    .iter()
                    .map(|cell| {
                        format!(
                            "{} ended at {} instead of {}: {} lost update{}",
                            cell.name,
                            cell.final_value,
                            cell.expected_final,
                            cell.lost_updates,
                            if cell.lost_updates == 1 { "" } else { "s" }
                        )
                    })
                    .collect();
                writeln!(f, "{}", cells.join("; "))?;
            }
            FailureKind::Panicked { message }
            | FailureKind::Invariant { message }
            | FailureKind::Deadlocked { message }
            | FailureKind::Livelocked { message } => writeln!(f, "{message}")?,
        }
        if let Some(interleaving) = &self.interleaving {
            write!(f, "{interleaving}")?;
        }
        if let Some(command) = &self.replay_command {
            writeln!(f, "    replay: {command}")?;
        }
        Ok(())
    }
}

impl Interleaving {
    /// The whole table, every step.
    pub fn full_table(&self) -> String {
        self.table(0, self.steps.len().saturating_sub(1))
    }

    /// The table of steps `first..=last`, one column per thread, with a line saying how many
    /// steps are left out before and after.
    pub(crate) fn table(&self, first: usize, last: usize) -> String {
        let columns = self.threads.len();
        let mut widths: Vec<usize> = self.threads.iter().map(|name| name.len()).collect();
        for step in self.steps.iter().take(last + 1).skip(first) {
            widths[step.thread] = widths[step.thread].max(step.access.len());
        }
        let mut table = String::new();
        let mut header = format!("      {:>5}", "step");
        for (thread, name) in self.threads.iter().enumerate() {
            header.push_str(&format!("  {name:<width$}", width = widths[thread]));
        }
        table.push_str(header.trim_end());
        table.push('\n');
        if first > 0 {
            table.push_str(&format!(
                "      {:>5}  ... {}\n",
                "",
                steps(first, "before")
            ));
        }
        for (index, step) in self.steps.iter().enumerate().take(last + 1).skip(first) {
            let mut row = format!("      {:>5}", index + 1);
            for (thread, width) in widths.iter().enumerate().take(columns) {
                let cell = if thread == step.thread {
                    step.access.as_str()
                } else {
                    ""
                };
                row.push_str(&format!("  {cell:<width$}"));
            }
            let mut marks = Vec::new();
            if step.preemption {
                marks.push("preemption");
            }
            if step.first_overwrite {
                marks.push("lost update");
            }
            let mut row = row.trim_end().to_string();
            if !marks.is_empty() {
                row.push_str(&format!("  <- {}", marks.join(", ")));
            }
            table.push_str(&row);
            table.push('\n');
        }
        let after = self.steps.len().saturating_sub(last + 1);
        if after > 0 {
            table.push_str(&format!("      {:>5}  ... {}\n", "", steps(after, "after")));
        }
        table
    }
}

impl Interleaving {
    /// The interleaving of a logged execution; with `whole`, every step is in focus.
    pub(crate) fn of(log: Vec<LoggedAccess>, whole: bool) -> Interleaving {
        let thread_count = log
            .iter()
            .map(|access| access.thread + 1)
            .max()
            .unwrap_or(1);
        let first_overwrite = log.iter().position(|access| {
            matches!(
                access.kind,
                AccessKind::Write {
                    overwrite: Some(_),
                    ..
                }
            )
        });
        let mut preemptions = 0;
        let mut overwrites = Vec::new();
        let steps: Vec<Step> = log
            .iter()
            .enumerate()
            .map(|(index, access)| {
                // A preemption may happen at a point that logs no access (a spawn, a join): it is
                // marked on the first access after it, and only where the thread changes.
                let switched = index > 0 && log[index - 1].thread != access.thread;
                let preemption = switched && access.preemptions_before > preemptions;
                preemptions = preemptions.max(access.preemptions_before);
                if let AccessKind::Write {
                    overwrite: Some(sentence),
                    ..
                } = &access.kind
                {
                    overwrites.push(sentence.clone());
                }
                Step {
                    thread: access.thread,
                    access: access.text.clone(),
                    preemption,
                    first_overwrite: Some(index) == first_overwrite,
                }
            })
            .collect();
        let last = steps.len().saturating_sub(1);
        let focus = if whole || steps.len() <= SHOWN_STEPS {
            (0, last)
        } else if let Some(write) = first_overwrite {
            // From a little before the stale read the overwriting write was computed from, to a
            // little after the write.
            let writer = log[write].thread;
            let cell = match log[write].kind {
                AccessKind::Write { cell, .. } => cell,
                _ => unreachable!("the first overwrite is a write"),
            };
            let stale_read = log[..write]
                .iter()
                .rposition(|access| {
                    access.thread == writer && access.kind == AccessKind::Read { cell }
                })
                .unwrap_or(write);
            let end = (write + 2).min(last);
            if end < SHOWN_STEPS {
                (0, end)
            } else {
                let start = stale_read
                    .saturating_sub(3)
                    .max((end + 1).saturating_sub(SHOWN_STEPS));
                (start, end)
            }
        } else {
            (steps.len() - SHOWN_STEPS, last)
        };
        Interleaving {
            threads: (0..thread_count).map(context::thread_name).collect(),
            steps,
            overwrites,
            focus,
        }
    }
}

impl fmt::Display for Interleaving {
    /// The focused part of the table, then the overwrites in words (the first few).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "    interleaving: no access to contend's primitives");
        }
        let (first, last) = self.focus;
        writeln!(
            f,
            "    interleaving ({} steps{}):",
            self.steps.len(),
            if last + 1 - first < self.steps.len() {
                format!(", steps {} to {} shown", first + 1, last + 1)
            } else {
                String::new()
            }
        )?;
        f.write_str(&self.table(first, last))?;
        for sentence in self.overwrites.iter().take(3) {
            writeln!(f, "    {sentence}")?;
        }
        if self.overwrites.len() > 3 {
            writeln!(
                f,
                "    ... and {} more overwrites",
                self.overwrites.len() - 3
            )?;
        }
        Ok(())
    }
}
