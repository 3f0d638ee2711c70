//! Running a check's body on each engine: explored under shuttle, stressed on real threads, or
//! replayed from a saved schedule.
//!
//! Under shuttle a scheduler wrapper writes down the decisions of each execution as it goes (a
//! push per decision that departs from the default rule), so that the first failing execution's
//! schedule is at hand when it fails, whether it lost an update or panicked (shuttle ends the run
//! at a panic). That schedule is then replayed once with every access logged, which gives the
//! interleaving and checks that the saved file reproduces the failure.

use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use shuttle::scheduler::{Schedule, Scheduler as ShuttleScheduler, Task, TaskId};

use super::report::{
    CellOutcome, CheckError, EngineReport, Failure, FailureKind, FinalValues, Interleaving,
    SHOWN_STEPS, Step,
};
use super::schedule_file::{self, CheckSchedule};
use super::{Engine, Expect, REPLAY_VARIABLE, Scheduler};
use crate::engine::derive_seed;
use crate::engine::panics::{Capture, describe_payload};
use crate::engine::shuttle::{block_scheduler, explain_shuttle_failure, quiet_config};
use crate::ledger::LedgerError;
use crate::scenario::SchedulerKind;
use crate::schedule::{Choice, Point};
use crate::sync::context::{self, AccessKind, AccessLog, Backend, Execution, LoggedAccess};
use crate::thread::said_of;

/// A check's body, run once per execution.
pub(crate) type Body = Arc<dyn Fn() + Send + Sync + 'static>;

/// What every engine of a check needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) name: Arc<str>,
    pub(crate) runs: u64,
    pub(crate) seed: u64,
    pub(crate) max_steps: u64,
    pub(crate) expect: Expect,
    pub(crate) schedule_dir: PathBuf,
    /// What `cargo test` is given to run the check's test alone.
    pub(crate) test_filter: String,
    /// Whether `test_filter` is the whole path of the running test (libtest's thread name).
    pub(crate) exact_test: bool,
}

/// The variable through which shuttle's schedulers would take their seed.
const SHUTTLE_SEED_VARIABLE: &str = "SHUTTLE_RANDOM_SEED";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How one execution ended.
#[derive(Debug)]
enum Outcome {
    /// Every thread finished; the accounting of each cell.
    Settled(Vec<CellOutcome>),
    /// A panic, or under shuttle a deadlock or a livelock.
    Panicked(String),
}

impl Outcome {
    fn fails(&self) -> bool {
        match self {
            Outcome::Settled(cells) => cells.iter().any(|cell| cell.lost_updates > 0),
            Outcome::Panicked(_) => true,
        }
    }

    fn in_words(&self) -> String {
        match self {
            Outcome::Settled(cells) => cells
                .iter()
                .filter(|cell| cell.lost_updates > 0)
                .map(|cell| {
                    format!(
                        "{} lost update(s) on {}: final {}, expected {}",
                        cell.lost_updates, cell.name, cell.final_value, cell.expected_final
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Outcome::Panicked(message) => message.clone(),
        }
    }
}

/// The executions of one engine, counted as they come.
#[derive(Debug, Default)]
struct Tally {
    executions: u64,
    failing: u64,
    lost_update_executions: u64,
    panicked: u64,
    lost_updates: u64,
    overwrites: u64,
    cells: Vec<String>,
    finals: HashMap<Vec<i64>, u64>,
    first_failure: Option<(u64, FailureKind)>,
    internal: Option<(u64, LedgerError)>,
}

impl Tally {
    /// Records one execution; true if it is the first that failed.
    fn record(&mut self, execution: u64, outcome: Outcome) -> bool {
        self.executions += 1;
        let failure = match outcome {
            Outcome::Settled(cells) => {
                if self.executions == 1 {
                    self.cells = cells.iter().map(|cell| cell.name.clone()).collect();
                }
                let finals = cells.iter().map(|cell| cell.final_value).collect();
                *self.finals.entry(finals).or_default() += 1;
                let lost: u64 = cells.iter().map(|cell| cell.lost_updates).sum();
                self.lost_updates += lost;
                self.overwrites += cells.iter().map(|cell| cell.overwrites).sum::<u64>();
                (lost > 0).then(|| {
                    self.lost_update_executions += 1;
                    FailureKind::LostUpdates {
                        cells: cells
                            .into_iter()
                            .filter(|cell| cell.lost_updates > 0)
                            .collect(),
                    }
                })
            }
            Outcome::Panicked(message) => {
                self.panicked += 1;
                Some(FailureKind::Panicked { message })
            }
        };
        let Some(kind) = failure else {
            return false;
        };
        self.failing += 1;
        if self.first_failure.is_some() {
            return false;
        }
        self.first_failure = Some((execution, kind));
        true
    }

    fn into_report(self, engine: Engine, plan: &Plan, started: Instant) -> EngineReport {
        let mut final_values: Vec<FinalValues> = self
            .finals
            .into_iter()
            .map(|(values, count)| FinalValues { values, count })
            .collect();
        final_values.sort_by(|a, b| b.count.cmp(&a.count).then(a.values.cmp(&b.values)));
        let mut report = EngineReport {
            engine,
            seed: plan.seed,
            runs: plan.runs,
            executions: self.executions,
            failing_executions: self.failing,
            lost_update_executions: self.lost_update_executions,
            panicked_executions: self.panicked,
            lost_updates: self.lost_updates,
            overwrites: self.overwrites,
            cells: self.cells,
            final_values,
            first_failure: self.first_failure.map(|(execution, kind)| Failure {
                execution,
                kind,
                interleaving: None,
                schedule_file: None,
                replay_command: None,
            }),
            passed: false,
            replayed_from: None,
            notes: Vec::new(),
            error: self
                .internal
                .map(|(execution, source)| CheckError::Ledger { execution, source }),
            elapsed: started.elapsed(),
        };
        report.passed = judge(plan.expect, &report);
        report
    }
}

/// Whether an engine's executions meet `expect`.
pub(crate) fn judge(expect: Expect, report: &EngineReport) -> bool {
    report.error.is_none()
        && match expect {
            Expect::NoLostUpdates => report.failing_executions == 0,
            Expect::LostUpdates => {
                report.lost_update_executions > 0 && report.panicked_executions == 0
            }
        }
}

/// A report of an engine that could not run.
pub(crate) fn error_report(engine: Engine, plan: &Plan, error: CheckError) -> EngineReport {
    let mut report = Tally::default().into_report(engine, plan, Instant::now());
    report.error = Some(error);
    report.passed = false;
    report
}

/// A failed shuttle execution in words: a deadlock, a livelock, or the panic of the thread that
/// panicked (`main` if no spawned thread did), from the message the panic hook captured.
fn shuttle_failure(
    captured: Option<String>,
    execution: Option<&Execution>,
    max_steps: u64,
) -> String {
    let captured = captured.unwrap_or_else(|| "the execution failed".to_string());
    if let Some((_, blocked)) = captured.split_once("deadlock! ") {
        return format!("deadlock: {blocked}");
    }
    if captured.contains("exceeded max_steps") {
        return explain_shuttle_failure(captured, max_steps);
    }
    let thread = execution
        .and_then(Execution::first_thread_panic)
        .map_or_else(|| "main".to_string(), |panic| panic.thread);
    said_of(&thread, &captured)
}

/// Where the execution under way is kept, for the engine to look at when shuttle ends the run
/// at its failure.
type Current = Arc<Mutex<Option<Arc<Execution>>>>;

/// Runs the body as one execution inside shuttle, waits for every thread it started, and
/// settles its cells.
fn run_in_shuttle(body: &Body, execution: Arc<Execution>) -> Result<Vec<CellOutcome>, LedgerError> {
    let _entered = context::enter(Arc::clone(&execution), None);
    body();
    execution.wait_for_threads();
    execution.settle()
}

/// The decisions of one execution, as choices.
#[derive(Clone, Debug, Default)]
struct Recording {
    choices: Vec<Choice>,
    steps: u64,
    random_values: Vec<u64>,
}

#[derive(Debug, Default)]
struct RecorderState {
    current: Recording,
    /// Set by the first failing execution, with its index, for the recorder to keep.
    keep: Option<u64>,
    kept: Option<(u64, Recording)>,
}

impl RecorderState {
    fn keep_current_if_asked(&mut self) {
        if let Some(execution) = self.keep.take()
            && self.kept.is_none()
        {
            self.kept = Some((execution, std::mem::take(&mut self.current)));
        }
    }
}

/// Wraps a check's scheduler and writes down each execution's decisions.
///
/// The inner scheduler is never dropped: shuttle's random scheduler prints replay advice to
/// stderr when dropped before its last execution, and contend reports failures in its own words.
struct Recorder {
    inner: ManuallyDrop<Box<dyn ShuttleScheduler + Send>>,
    state: Arc<Mutex<RecorderState>>,
}

impl ShuttleScheduler for Recorder {
    fn new_execution(&mut self) -> Option<Schedule> {
        {
            let mut state = lock(&self.state);
            state.keep_current_if_asked();
            let current = &mut state.current;
            current.choices.clear();
            current.random_values.clear();
            current.steps = 0;
        }
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let chosen = self.inner.next_task(runnable, current, is_yielding)?;
        let rule = Point::new(runnable, current, is_yielding);
        let task = usize::from(chosen);
        let mut state = lock(&self.state);
        let recording = &mut state.current;
        if task != rule.default {
            recording.choices.push(Choice {
                step: recording.steps,
                task,
            });
        }
        recording.steps += 1;
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        let value = self.inner.next_u64();
        lock(&self.state).current.random_values.push(value);
        value
    }
}

/// How far a replay got through its choices.
#[derive(Debug, Default)]
struct Followed {
    applied: usize,
    steps: u64,
}

/// Runs one execution following a list of choices. A choice whose task cannot run at its
/// decision applies as soon as the task can (the program may have changed since).
struct FollowChoices {
    choices: Vec<Choice>,
    random_values: Vec<u64>,
    next_choice: usize,
    next_random: usize,
    step: u64,
    started: bool,
    followed: Arc<Mutex<Followed>>,
    preemptions: Arc<AtomicU64>,
}

impl ShuttleScheduler for FollowChoices {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(Schedule::new(0))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let rule = Point::new(runnable, current, is_yielding);
        let step = self.step;
        self.step += 1;
        let mut chosen = rule.default;
        if let Some(choice) = self.choices.get(self.next_choice)
            && choice.step <= step
            && rule.runnable.contains(&choice.task)
        {
            self.next_choice += 1;
            chosen = choice.task;
        }
        if rule.is_preemption(chosen) {
            self.preemptions.fetch_add(1, Ordering::SeqCst);
        }
        let mut followed = lock(&self.followed);
        followed.applied = self.next_choice;
        followed.steps = self.step;
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        let value = self.random_values.get(self.next_random).copied();
        self.next_random += 1;
        value.unwrap_or(0)
    }
}

/// What a replay did.
struct Replayed {
    outcome: Result<Outcome, LedgerError>,
    log: Vec<LoggedAccess>,
    /// Where it departed from its schedule, in words.
    divergence: Option<String>,
}

/// Runs the body once under shuttle, following `choices`, with every access logged; its
/// `tracing` events go out only if `events`.
fn replay(
    plan: &Plan,
    body: &Body,
    choices: &[Choice],
    random_values: Vec<u64>,
    execution: u64,
    events: bool,
) -> Replayed {
    let capture = Capture::start();
    let log = Arc::new(AccessLog::default());
    let followed = Arc::new(Mutex::new(Followed::default()));
    let scheduler = FollowChoices {
        choices: choices.to_vec(),
        random_values,
        next_choice: 0,
        next_random: 0,
        step: 0,
        started: false,
        followed: Arc::clone(&followed),
        preemptions: Arc::clone(&log.preemptions),
    };
    let settled = Arc::new(Mutex::new(None));
    let current: Current = Arc::default();
    let execution_body = {
        let (body, settled, log) = (Arc::clone(body), Arc::clone(&settled), Arc::clone(&log));
        let (name, seed, current) = (Arc::clone(&plan.name), plan.seed, Arc::clone(&current));
        move || {
            let execution = Execution::new(
                Backend::Shuttle,
                Arc::clone(&name),
                execution,
                seed,
                Some(Arc::clone(&log)),
            );
            *lock(&current) = Some(Arc::clone(&execution));
            let result = run_in_shuttle(&body, execution);
            *lock(&settled) = Some(result);
        }
    };
    let runner = shuttle::Runner::new(scheduler, quiet_config(plan.max_steps));
    let run = || panic::catch_unwind(AssertUnwindSafe(|| runner.run(execution_body)));
    let result = if events {
        run()
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), run)
    };
    context::clear();
    let settled = lock(&settled).take();
    let outcome = match (result, settled) {
        (Err(_), _) => Ok(Outcome::Panicked(shuttle_failure(
            capture.take(),
            lock(&current).as_deref(),
            plan.max_steps,
        ))),
        (Ok(_), Some(Ok(cells))) => Ok(Outcome::Settled(cells)),
        (Ok(_), Some(Err(error))) => Err(error),
        (Ok(_), None) => Ok(Outcome::Panicked("the execution did not run".to_string())),
    };
    let followed = lock(&followed);
    let divergence = choices.get(followed.applied).map(|pending| {
        if pending.step < followed.steps {
            format!(
                "it runs {} at scheduling decision {}, but that thread could not run there or \
                 at any later one of the {} decisions",
                context::thread_name(pending.task),
                pending.step,
                followed.steps
            )
        } else {
            format!(
                "the execution ended after {} scheduling decisions, before the choice at \
                 decision {}",
                followed.steps, pending.step
            )
        }
    });
    Replayed {
        outcome,
        log: log.accesses(),
        divergence,
    }
}

/// The interleaving of a logged execution; with `whole`, every step is in focus.
fn interleaving(log: Vec<LoggedAccess>, whole: bool) -> Interleaving {
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
            .rposition(|access| access.thread == writer && access.kind == AccessKind::Read { cell })
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

/// The command that replays a saved schedule through `cargo test`.
fn replay_command(plan: &Plan, path: &Path) -> String {
    // --nocapture: a replay prints every step, which a passing test's output would hide.
    format!(
        "{REPLAY_VARIABLE}={} cargo test --release {} -- {}--nocapture",
        shell_word(&path.display().to_string()),
        shell_word(&plan.test_filter),
        if plan.exact_test { "--exact " } else { "" }
    )
}

/// `word` as one shell word: as is when it is plain, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The file name of a check's schedule for `scheduler`.
fn schedule_file_name(plan: &Plan, scheduler: Scheduler) -> String {
    let name: String = plan
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let label = match scheduler {
        Scheduler::Random => "random".to_string(),
        Scheduler::Pct { depth } => format!("pct{depth}"),
    };
    format!("{name}.{label}.schedule.toml")
}

/// Explores the body under shuttle with `scheduler`, `plan.runs` executions from `plan.seed`;
/// saves the first failure's schedule and shows its interleaving.
pub(crate) fn explore(plan: &Plan, scheduler: Scheduler, body: &Body) -> EngineReport {
    let started = Instant::now();
    let engine = Engine::Shuttle(scheduler);
    if std::env::var_os(SHUTTLE_SEED_VARIABLE).is_some() {
        return error_report(engine, plan, CheckError::ShuttleSeedVariable);
    }
    let capture = Capture::start();
    let state = Arc::new(Mutex::new(RecorderState::default()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next_run = Arc::new(AtomicU64::new(0));
    let current: Current = Arc::default();
    let kind = match scheduler {
        Scheduler::Random => SchedulerKind::Random,
        Scheduler::Pct { depth } => SchedulerKind::Pct { depth },
    };
    let recorder = Recorder {
        inner: ManuallyDrop::new(block_scheduler(kind, plan.seed, &(0..plan.runs))),
        state: Arc::clone(&state),
    };
    let execution_body = {
        let (body, state, tally, next_run) = (
            Arc::clone(body),
            Arc::clone(&state),
            Arc::clone(&tally),
            Arc::clone(&next_run),
        );
        let (name, seed, current) = (Arc::clone(&plan.name), plan.seed, Arc::clone(&current));
        move || {
            let run = next_run.fetch_add(1, Ordering::SeqCst);
            let execution = Execution::new(Backend::Shuttle, Arc::clone(&name), run, seed, None);
            *lock(&current) = Some(Arc::clone(&execution));
            let settled = run_in_shuttle(&body, execution);
            let mut tally = lock(&tally);
            match settled {
                Ok(cells) => {
                    if tally.record(run, Outcome::Settled(cells)) {
                        lock(&state).keep = Some(run);
                    }
                }
                Err(error) => {
                    tally.internal.get_or_insert((run, error));
                }
            }
        }
    };
    let runner = shuttle::Runner::new(recorder, quiet_config(plan.max_steps));
    let result = panic::catch_unwind(AssertUnwindSafe(|| runner.run(execution_body)));
    context::clear();

    let mut tally = std::mem::take(&mut *lock(&tally));
    let mut state = std::mem::take(&mut *lock(&state));
    state.keep_current_if_asked();
    let mut notes = Vec::new();
    if result.is_err() {
        // shuttle ends the run at an execution that panics, deadlocks or runs too long.
        let run = next_run.load(Ordering::SeqCst).saturating_sub(1);
        let message = shuttle_failure(capture.take(), lock(&current).as_deref(), plan.max_steps);
        if tally.record(run, Outcome::Panicked(message)) && state.kept.is_none() {
            state.kept = Some((run, std::mem::take(&mut state.current)));
        }
        if tally.executions < plan.runs {
            notes.push(format!(
                "shuttle ends a run at the first execution that panics: {} of {} executions did \
                 not run",
                plan.runs - tally.executions,
                plan.runs
            ));
        }
    }
    let mut report = tally.into_report(engine, plan, started);
    report.notes = notes;
    if let (Some(failure), Some((execution, recording))) =
        (report.first_failure.as_mut(), state.kept)
        && failure.execution == execution
    {
        let replayed = replay(
            plan,
            body,
            &recording.choices,
            recording.random_values.clone(),
            execution,
            false,
        );
        failure.interleaving = Some(interleaving(replayed.log, false));
        match replayed.outcome {
            Ok(outcome) if outcome.fails() => {
                let file = CheckSchedule {
                    format: schedule_file::FORMAT.to_string(),
                    version: schedule_file::FORMAT_VERSION,
                    contend_version: env!("CARGO_PKG_VERSION").to_string(),
                    shuttle_version: crate::schedule::file::SHUTTLE_VERSION.to_string(),
                    check: plan.name.to_string(),
                    scheduler: kind.as_str().to_string(),
                    depth: match scheduler {
                        Scheduler::Pct { depth } => Some(depth),
                        Scheduler::Random => None,
                    },
                    seed: plan.seed,
                    execution,
                    failure: outcome.in_words(),
                    steps: recording.steps,
                    max_steps: plan.max_steps,
                    choices: recording.choices,
                    random_values: recording.random_values.iter().map(|&v| v as i64).collect(),
                };
                match schedule_file::save(
                    &plan.schedule_dir,
                    &schedule_file_name(plan, scheduler),
                    &file,
                ) {
                    Ok(path) => {
                        failure.replay_command = Some(replay_command(plan, &path));
                        failure.schedule_file = Some(path);
                    }
                    Err(error) => report
                        .notes
                        .push(format!("could not save the failing schedule: {error}")),
                }
            }
            Ok(_) => report.notes.push(
                "replaying the failing execution's schedule did not fail again: the body depends \
                 on something shuttle does not control (time, randomness, state kept between \
                 executions), so no schedule was saved"
                    .to_string(),
            ),
            Err(error) => {
                report.error = Some(CheckError::Ledger {
                    execution,
                    source: error,
                });
                report.passed = false;
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Runs the body `plan.runs` times on real threads, with jitter before every access drawn from
/// each execution's seed.
pub(crate) fn stress(plan: &Plan, body: &Body) -> EngineReport {
    let started = Instant::now();
    let capture = Capture::start();
    let mut tally = Tally::default();
    for run in 0..plan.runs {
        let execution = Execution::new(
            Backend::Threads,
            Arc::clone(&plan.name),
            run,
            derive_seed(plan.seed, run),
            None,
        );
        let entered = context::enter(Arc::clone(&execution), Some(execution.os_thread(0)));
        let result = panic::catch_unwind(AssertUnwindSafe(|| body()));
        // Leaving opens the start gate of threads the body spawned and never waited for.
        drop(entered);
        execution.wait_for_threads();
        let body_panic = result.err().map(|payload| match capture.take() {
            Some(captured) => said_of("main", &captured),
            None => format!("main panicked: {}", describe_payload(payload.as_ref())),
        });
        // A spawned thread's panic comes first: the body's is often its `join().unwrap()`.
        let thread_panic = execution
            .first_thread_panic()
            .and_then(|panic| panic.message);
        let outcome = match thread_panic.or(body_panic) {
            Some(message) => Outcome::Panicked(message),
            None => match execution.settle() {
                Ok(cells) => Outcome::Settled(cells),
                Err(error) => {
                    tally.internal = Some((run, error));
                    break;
                }
            },
        };
        tally.record(run, outcome);
    }
    let mut report = tally.into_report(Engine::Threads, plan, started);
    if report.first_failure.is_some() {
        report.notes.push(
            "real threads leave no schedule to replay: a shuttle engine (Engine::Shuttle, one of \
             the default engines) saves the failing schedule and prints its replay command"
                .to_string(),
        );
    }
    report
}

/// Replays the saved schedule `file` (read from `path`) under shuttle, with every access
/// logged and the `tracing` events emitted, and reports whether it still fails.
pub(crate) fn replay_file(
    plan: &Plan,
    body: &Body,
    path: &Path,
    file: CheckSchedule,
) -> EngineReport {
    let started = Instant::now();
    let scheduler = match (file.scheduler.as_str(), file.depth) {
        ("pct", Some(depth)) => Scheduler::Pct { depth },
        _ => Scheduler::Random,
    };
    let plan = Plan {
        seed: file.seed,
        runs: 1,
        max_steps: file.max_steps,
        ..plan.clone()
    };
    let random_values = file.random_values.iter().map(|&v| v as u64).collect();
    let replayed = replay(
        &plan,
        body,
        &file.choices,
        random_values,
        file.execution,
        true,
    );
    let mut tally = Tally::default();
    let fails = match replayed.outcome {
        Ok(outcome) => {
            let fails = outcome.fails();
            tally.record(file.execution, outcome);
            fails
        }
        Err(error) => {
            tally.internal = Some((file.execution, error));
            false
        }
    };
    let mut report = tally.into_report(Engine::Shuttle(scheduler), &plan, started);
    report.replayed_from = Some(path.to_path_buf());
    report.notes.push(format!(
        "the saved failure (execution {} of seed {}): {}",
        file.execution, file.seed, file.failure
    ));
    if fails {
        report
            .notes
            .push("replayed: the execution still fails".to_string());
        if let Some(failure) = report.first_failure.as_mut() {
            failure.interleaving = Some(interleaving(replayed.log, true));
            failure.schedule_file = Some(path.to_path_buf());
            failure.replay_command = Some(replay_command(&plan, path));
        }
    } else if let Some(divergence) = replayed.divergence {
        if report.error.is_none() {
            report.error = Some(CheckError::ReplayDiverged { divergence });
        }
    } else {
        report
            .notes
            .push("replayed: the execution followed its schedule and no longer fails".to_string());
    }
    report.passed = judge(plan.expect, &report);
    report.elapsed = started.elapsed();
    report
}
