//! Running a check's body on each engine: explored under shuttle, stressed on real threads, or
//! replayed from a saved schedule.
//!
//! A check's body is a [`ControlledBody`], so it runs on the same machinery as the CLI's
//! workloads: under shuttle the [`Recorder`] writes down the decisions of each execution as it
//! goes, so that the first failing execution's schedule is at hand when it fails, whether it lost
//! an update, panicked or deadlocked; the same preemption-bounded search and delta debugging
//! shrink it; the same [`run_controlled`] replays it with every access
//! logged, which gives the interleaving and checks that the saved file reproduces the failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::report::{
    CellOutcome, CheckError, EngineReport, Failure, FailureKind, FinalValues, Interleaving,
};
use super::{Engine, Expect, Kind, REPLAY_VARIABLE, Scheduler};
use crate::engine::body::{Ended, PrimitiveBody, execute_on_threads};
use crate::engine::controlled::SchedulerKind;
use crate::engine::controlled::{Stoppable, block_scheduler_with_stats};
use crate::engine::derive_seed;
use crate::engine::panics::Capture;
use crate::ledger::{EventContext, LedgerError};
use crate::platform::os::Jitter;
use crate::schedule::body::run_under;
use crate::schedule::file::{
    CheckTarget, FailureRecord, OriginalRecord, RecordedKind, ScheduleFile, ScheduleRecord, Target,
};
use crate::schedule::record::{Recorder, Recording, Recordings};
use crate::schedule::search::{Judged, Limits, Minimality, minimize_schedule};
use crate::schedule::{Choice, Controlled, ControlledBody, Keep, run_controlled};
use crate::sync::context::{self, AccessLog, LoggedAccess};
use crate::words::count;

/// A check's body, run once per execution.
pub(crate) use crate::engine::body::Body;

/// What every engine of a check needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) name: Arc<str>,
    pub(crate) runs: u64,
    pub(crate) seed: u64,
    pub(crate) max_steps: u64,
    /// A time budget per engine.
    pub(crate) time: Option<Duration>,
    pub(crate) expect: Expect,
    pub(crate) schedule_dir: PathBuf,
    /// What `cargo test` is given to run the check's test alone.
    pub(crate) test_filter: String,
    /// Whether `test_filter` is the whole path of the running test (libtest's thread name).
    pub(crate) exact_test: bool,
    /// How long a thread may block on real threads before the execution counts as deadlocked.
    pub(crate) deadlock_timeout: std::time::Duration,
    /// The preemption bound of an exhaustive search, if given.
    pub(crate) max_preemptions: Option<u32>,
}

/// The variable through which shuttle's schedulers would take their seed.
const SHUTTLE_SEED_VARIABLE: &str = "SHUTTLE_RANDOM_SEED";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How one execution ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// Every thread finished; the accounting of each cell.
    Settled(Vec<CellOutcome>),
    /// A broken invariant, a panic, a deadlock or (under shuttle) a livelock, with what
    /// happened in words.
    Failed(Kind, String),
}

impl Outcome {
    fn fails(&self) -> bool {
        match self {
            Outcome::Settled(cells) => cells.iter().any(|cell| cell.lost_updates > 0),
            Outcome::Failed(..) => true,
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
            Outcome::Failed(_, message) => message.clone(),
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
    deadlocked: u64,
    livelocked: u64,
    kinds: std::collections::BTreeMap<Kind, u64>,
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
                    *self.kinds.entry(Kind::LostUpdate).or_default() += 1;
                    FailureKind::LostUpdates {
                        cells: cells
                            .into_iter()
                            .filter(|cell| cell.lost_updates > 0)
                            .collect(),
                    }
                })
            }
            Outcome::Failed(kind, message) => {
                self.panicked += 1;
                *self.kinds.entry(kind).or_default() += 1;
                Some(match kind {
                    Kind::Deadlock => {
                        self.deadlocked += 1;
                        FailureKind::Deadlocked { message }
                    }
                    Kind::Livelock => {
                        self.livelocked += 1;
                        FailureKind::Livelocked { message }
                    }
                    Kind::Invariant => FailureKind::Invariant { message },
                    Kind::Panic | Kind::LostUpdate => FailureKind::Panicked { message },
                })
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
            deadlocked_executions: self.deadlocked,
            livelocked_executions: self.livelocked,
            failure_kinds: self.kinds,
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
            Expect::Fails(kind) => report.failure_kinds.get(&kind).is_some_and(|&n| n > 0),
            Expect::AnyFailure => report.failing_executions > 0,
        }
}

/// A report of an engine that could not run.
pub(crate) fn error_report(engine: Engine, plan: &Plan, error: CheckError) -> EngineReport {
    let mut report = Tally::default().into_report(engine, plan, Instant::now());
    report.error = Some(error);
    report.passed = false;
    report
}

/// A check's body as a controlled body: what every scheduler, recorder and search of
/// [`crate::schedule`] runs for a check, as they run the CLI's plugin workloads.
type CheckBody = PrimitiveBody<Outcome>;

/// The body of the check of `plan` as a controlled body.
fn check_body(plan: &Plan, body: &Body) -> CheckBody {
    PrimitiveBody::new(Arc::clone(body), Arc::clone(&plan.name), plan.seed)
}

impl From<Ended> for Outcome {
    fn from(ended: Ended) -> Outcome {
        match ended {
            Ended::Settled(cells) => Outcome::Settled(cells),
            Ended::Failed(failed) => Outcome::Failed(failed.kind, failed.message),
        }
    }
}

impl Judged for Outcome {
    fn failure(&self) -> Option<Kind> {
        match self {
            Outcome::Settled(cells) if cells.iter().any(|cell| cell.lost_updates > 0) => {
                Some(Kind::LostUpdate)
            }
            Outcome::Settled(_) => None,
            Outcome::Failed(kind, _) => Some(*kind),
        }
    }
}

/// The bounds on shrinking a check's failing schedule: quick enough for `cargo test`.
fn shrink_limits(plan: &Plan) -> Limits {
    Limits {
        max_steps: plan.max_steps,
        executions: 10_000,
        time: Duration::from_secs(3),
        ..Limits::default()
    }
}

/// Runs the body once under shuttle following `choices`, with every access logged; its
/// `tracing` events go out only if `events`.
fn replay(
    plan: &Plan,
    body: &Body,
    choices: &[Choice],
    random_values: &[u64],
    execution: u64,
    events: bool,
) -> Result<Controlled<Outcome, LoggedAccess>, LedgerError> {
    let keep = Keep::replay(events);
    let context = EventContext {
        scenario: &plan.name,
        run: execution,
    };
    let body = Arc::new(check_body(plan, body));
    let replayed = run_controlled(&body, choices, random_values, keep, plan.max_steps, context);
    context::clear();
    replayed
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
        Scheduler::Dfs => "dfs".to_string(),
        Scheduler::Dpor => "dpor".to_string(),
    };
    format!("{name}.{label}.schedule.toml")
}

/// What an exhausted search of `executions` executions and `classes` classes proves.
fn coverage_note(kind: SchedulerKind, executions: u64, classes: u64) -> String {
    match kind {
        SchedulerKind::Bounded { max_preemptions } => format!(
            "preemption-bounded: every schedule with at most {max_preemptions} preemptions was \
             checked ({executions} schedules)"
        ),
        _ => format!(
            "exhaustive: every interleaving was checked ({classes} equivalence classes, \
             {executions} executions)"
        ),
    }
}

/// Explores the body under shuttle with `scheduler`, `plan.runs` executions from `plan.seed`,
/// recording each execution's schedule as it goes; shrinks the first failure's schedule, saves
/// it and shows its interleaving.
pub(crate) fn explore(plan: &Plan, scheduler: Scheduler, body: &Body) -> EngineReport {
    let started = Instant::now();
    let engine = Engine::Shuttle(scheduler);
    if std::env::var_os(SHUTTLE_SEED_VARIABLE).is_some() {
        return error_report(engine, plan, CheckError::ShuttleSeedVariable);
    }
    let kind = scheduler.bounded(plan.max_preemptions);
    let recordings = Recordings::start();
    // While exploring, each execution is counted as it ends: shuttle ends the run at an
    // execution it ends itself (a deadlock with no cycle, a livelock), and the rest must be
    // counted by then.
    let counted = Arc::new(Mutex::new(Tally::default()));
    let counter = Arc::clone(&counted);
    let explorer = Arc::new(
        check_body(plan, body).watched(Box::new(move |run, outcome| {
            if lock(&counter).record(run, outcome.clone()) {
                recordings.keep_current(run);
            }
        })),
    );
    let deadline = plan.time.and_then(|time| started.checked_add(time));
    let (inner, stats) = block_scheduler_with_stats(kind, plan.seed, &(0..plan.runs));
    let (stoppable, out_of_time) = Stoppable::with_deadline(inner, deadline);
    let scheduler_of_block = Recorder::new(stoppable, recordings);
    let context = EventContext {
        scenario: &plan.name,
        run: 0,
    };
    let ended = run_exploration(&explorer, scheduler_of_block, plan.max_steps, context);
    context::clear();

    drop(explorer);
    let mut tally = std::mem::take(&mut *lock(&counted));
    let mut notes = Vec::new();
    let ended_early = !matches!(ended, Ok(None));
    match ended {
        Ok(None) => {}
        Ok(Some((run, outcome))) => {
            // shuttle ends the run at an execution it ends itself: a deadlock with no cycle of
            // waits (a condition variable never notified), a livelock.
            if tally.record(run, outcome) {
                recordings.keep_current(run);
            }
            if tally.executions < plan.runs {
                notes.push(format!(
                    "shuttle ends a run at an execution it ends itself (every thread blocked \
                     with no cycle of waits, or too many steps): {} of {} executions did not run",
                    plan.runs - tally.executions,
                    plan.runs
                ));
            }
        }
        Err((run, error)) => {
            tally.internal.get_or_insert((run, error));
        }
    }
    if out_of_time.load(Ordering::SeqCst) {
        notes.push(time_note(plan, tally.executions));
    } else if kind == SchedulerKind::Dfs && tally.executions < plan.runs && !ended_early {
        notes.push(format!(
            "dfs explored all {} schedules: the search is exhaustive",
            tally.executions
        ));
    } else if let Some(note) = stats
        .filter(|stats| stats.exhausted() && !ended_early)
        .map(|stats| coverage_note(kind, tally.executions, stats.classes()))
    {
        notes.push(note);
    } else if kind.exhaustive() && !ended_early {
        notes.push(format!(
            "{} stopped at its cap of {} executions: the search is not exhaustive",
            kind.as_str(),
            tally.executions
        ));
    }
    let mut report = tally.into_report(engine, plan, started);
    report.notes = notes;
    if let (Some(failure), Some((execution, recording))) =
        (report.first_failure.as_mut(), recordings.take_kept())
        && failure.execution == execution
    {
        match witness(plan, scheduler, body, execution, &recording) {
            Ok(found) => {
                failure.interleaving = Some(Interleaving::of(found.log, false));
                failure.schedule_file = found.file;
                failure.replay_command = found.replay_command;
                report.notes.extend(found.notes);
            }
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

/// Runs the exploring scheduler's executions of `explorer`, which counts each one as it ends.
/// Returns the execution that shuttle ended early and its outcome, if one did.
fn run_exploration<S: shuttle::scheduler::Scheduler + 'static>(
    explorer: &Arc<CheckBody>,
    scheduler: S,
    max_steps: u64,
    context: EventContext<'_>,
) -> Result<Option<(u64, Outcome)>, (u64, LedgerError)> {
    let next_run = Arc::new(AtomicU64::new(context.run));
    let counted = Arc::new(Counted {
        explorer: Arc::clone(explorer),
        next_run: Arc::clone(&next_run),
    });
    let outcome = run_under(&counted, scheduler, None, max_steps, false, context);
    let last = next_run.load(Ordering::SeqCst).saturating_sub(1);
    match outcome {
        Ok(Some(failed)) => Ok(Some((last, failed))),
        Ok(None) => Ok(None),
        Err(error) => Err((last, error)),
    }
}

/// The executions of an exploration, numbered as they start; the outcome kept is that of an
/// execution shuttle ended early, if one was.
struct Counted {
    explorer: Arc<CheckBody>,
    next_run: Arc<AtomicU64>,
}

impl ControlledBody for Counted {
    type Outcome = Option<Outcome>;
    type Log = Arc<AccessLog>;

    fn execute(
        &self,
        _log: Option<&Arc<AccessLog>>,
        context: EventContext<'_>,
    ) -> Result<Option<Outcome>, LedgerError> {
        let run = self.next_run.fetch_add(1, Ordering::SeqCst);
        let context = EventContext { run, ..context };
        self.explorer.execute(None, context).map(|_| None)
    }

    fn failed(&self, captured: String, max_steps: u64) -> Option<Outcome> {
        Some(self.explorer.failed(captured, max_steps))
    }
}

/// What became of a check's first failure: its shrunk schedule's interleaving, and the file.
struct CheckWitness {
    log: Vec<LoggedAccess>,
    file: Option<PathBuf>,
    replay_command: Option<String>,
    notes: Vec<String>,
}

/// Shrinks the recorded schedule of the failing `execution`, replays the result with every
/// access logged, and saves it.
fn witness(
    plan: &Plan,
    scheduler: Scheduler,
    body: &Body,
    execution: u64,
    recording: &Recording,
) -> Result<CheckWitness, LedgerError> {
    let mut notes = Vec::new();
    let original = replay(
        plan,
        body,
        &recording.choices,
        &recording.random_values,
        execution,
        false,
    )?;
    let kind = original.outcome.failure();
    let shrunk = shrink_recording(plan, body, kind, recording, &mut notes)?;
    let replayed = if shrunk.choices == recording.choices {
        original
    } else {
        replay(
            plan,
            body,
            &shrunk.choices,
            &recording.random_values,
            execution,
            false,
        )?
    };
    let mut witness = CheckWitness {
        log: replayed.log,
        file: None,
        replay_command: None,
        notes,
    };
    let (Some(failure), Some(_)) = (replayed.outcome.failure(), kind) else {
        witness.notes.push(
            "replaying the failing execution's schedule did not fail again: the body depends on \
             something shuttle does not control (time, randomness, state kept between \
             executions), so no schedule was saved"
                .to_string(),
        );
        return Ok(witness);
    };
    let path = plan.schedule_dir.join(schedule_file_name(plan, scheduler));
    let command = replay_command(plan, &path);
    let file = ScheduleFile::new(
        check_target(plan, scheduler, &command),
        FailureRecord {
            kind: RecordedKind::from(failure),
            description: replayed.outcome.in_words(),
            lost_updates: None,
            final_value: None,
            expected_final: None,
        },
        ScheduleRecord {
            preemptions: shrunk.preemptions,
            steps: replayed.steps,
            minimality: shrunk.minimality,
            max_steps: Some(plan.max_steps),
            random_values: recording.random_values.clone(),
            choices: shrunk.choices,
        },
        original_record(execution, recording),
    );
    save_schedule(plan, &file, path, command, &mut witness);
    Ok(witness)
}

/// A failing schedule, and how far it was shrunk.
struct Shrunk {
    choices: Vec<Choice>,
    preemptions: u64,
    minimality: Minimality,
}

/// The recorded schedule shrunk to fewer preemptions when it failed with `kind` and is whole,
/// with a note in `notes` when it shrank; else the recorded schedule as it is.
fn shrink_recording(
    plan: &Plan,
    body: &Body,
    kind: Option<Kind>,
    recording: &Recording,
    notes: &mut Vec<String>,
) -> Result<Shrunk, LedgerError> {
    let mut shrunk = Shrunk {
        choices: recording.choices.clone(),
        preemptions: recording.preemptions,
        minimality: Minimality::NotShrunk,
    };
    let Some(kind) = kind.filter(|_| !recording.truncated) else {
        return Ok(shrunk);
    };
    let target = Arc::new(check_body(plan, body));
    let recorded = Some((&recording.choices[..], &recording.random_values[..]));
    let (found, executions) =
        minimize_schedule(&target, kind, recorded, shrink_limits(plan), &plan.name)?;
    context::clear();
    if let Some(found) = found.filter(|found| found.preemptions < recording.preemptions) {
        notes.push(format!(
            "the failing schedule shrank from {} to {} ({}) in {executions} controlled \
             executions",
            count(recording.preemptions, "preemption"),
            count(found.preemptions, "preemption"),
            found.minimality.describe()
        ));
        shrunk = Shrunk {
            choices: found.choices,
            preemptions: found.preemptions,
            minimality: found.minimality,
        };
    }
    Ok(shrunk)
}

/// What a check's schedule file says it was saved by: the check, its replay command and
/// scheduler.
fn check_target(plan: &Plan, scheduler: Scheduler, command: &str) -> Target {
    Target::Check(CheckTarget {
        name: plan.name.to_string(),
        command: command.to_string(),
        scheduler: scheduler.kind().as_str().to_string(),
        depth: match scheduler {
            Scheduler::Pct { depth } => Some(depth),
            Scheduler::Random | Scheduler::Dfs | Scheduler::Dpor => None,
        },
        seed: plan.seed,
    })
}

/// The failing execution as shuttle first ran it.
fn original_record(execution: u64, recording: &Recording) -> OriginalRecord {
    OriginalRecord {
        engine: "shuttle".to_string(),
        execution,
        steps: Some(recording.steps),
        preemptions: Some(recording.preemptions),
        choices: None,
    }
}

/// Writes `file` to `path` in the schedule folder: the witness then names it and its replay
/// `command`, or notes why it could not be saved.
fn save_schedule(
    plan: &Plan,
    file: &ScheduleFile,
    path: PathBuf,
    command: String,
    witness: &mut CheckWitness,
) {
    match std::fs::create_dir_all(&plan.schedule_dir).and_then(|()| file.write_as(&path)) {
        Ok(()) => {
            witness.replay_command = Some(command);
            witness.file = Some(path);
        }
        Err(error) => witness.notes.push(format!(
            "could not save the failing schedule: {}: {error}",
            path.display()
        )),
    }
}

/// Runs the body `plan.runs` times on real threads, with jitter before every access drawn from
/// each execution's seed.
pub(crate) fn stress(plan: &Plan, body: &Body) -> EngineReport {
    let started = Instant::now();
    let capture = Capture::start();
    let mut tally = Tally::default();
    let deadline = plan.time.and_then(|time| started.checked_add(time));
    let mut out_of_time = false;
    for run in 0..plan.runs {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            out_of_time = true;
            break;
        }
        let seed = derive_seed(plan.seed, run);
        let outcome = match execute_on_threads(
            body,
            &plan.name,
            run,
            seed,
            Some(&Jitter::default()),
            plan.deadlock_timeout,
            &capture,
        ) {
            Ok(Ended::Failed(failed)) => Outcome::Failed(failed.kind, failed.message),
            Ok(Ended::Settled(cells)) => Outcome::Settled(cells),
            Err(error) => {
                tally.internal = Some((run, error));
                break;
            }
        };
        tally.record(run, outcome);
    }
    let executions = tally.executions;
    let mut report = tally.into_report(Engine::Threads, plan, started);
    if out_of_time {
        report.notes.push(time_note(plan, executions));
    }
    if report.first_failure.is_some() {
        report.notes.push(
            "real threads leave no schedule to replay: a shuttle engine (Engine::Shuttle, one of \
             the default engines) saves the failing schedule and prints its replay command"
                .to_string(),
        );
    }
    report
}

/// The note of an engine whose time budget ended its run.
fn time_note(plan: &Plan, executions: u64) -> String {
    format!(
        "the time budget ({}) ended the run after {executions} of {} executions",
        humantime::format_duration(plan.time.unwrap_or_default()),
        plan.runs
    )
}

/// Replays the saved schedule `file` (read from `path`) under shuttle, with every access
/// logged and the `tracing` events emitted, and reports whether it still fails.
pub(crate) fn replay_file(
    plan: &Plan,
    body: &Body,
    path: &Path,
    file: &ScheduleFile,
    check: &CheckTarget,
) -> EngineReport {
    let started = Instant::now();
    let scheduler = match (check.scheduler.as_str(), check.depth) {
        ("pct", Some(depth)) => Scheduler::Pct { depth },
        ("dfs", _) => Scheduler::Dfs,
        ("dpor", _) => Scheduler::Dpor,
        _ => Scheduler::Random,
    };
    let plan = Plan {
        seed: check.seed,
        runs: 1,
        max_steps: file.schedule.max_steps.unwrap_or(plan.max_steps),
        ..plan.clone()
    };
    let execution = file.original.execution;
    let replayed = replay(
        &plan,
        body,
        &file.schedule.choices,
        &file.schedule.random_values,
        execution,
        true,
    );
    let mut tally = Tally::default();
    let (fails, log, divergence) = match replayed {
        Ok(replayed) => {
            let fails = replayed.outcome.fails();
            tally.record(execution, replayed.outcome);
            (fails, replayed.log, replayed.divergence)
        }
        Err(error) => {
            tally.internal = Some((execution, error));
            (false, Vec::new(), None)
        }
    };
    let mut report = tally.into_report(Engine::Shuttle(scheduler), &plan, started);
    report.replayed_from = Some(path.to_path_buf());
    report.notes.push(format!(
        "the saved failure (execution {} of seed {}): {}",
        execution, check.seed, file.failure.description
    ));
    if fails {
        report
            .notes
            .push("replayed: the execution still fails".to_string());
        if let Some(failure) = report.first_failure.as_mut() {
            failure.interleaving = Some(Interleaving::of(log, true));
            failure.schedule_file = Some(path.to_path_buf());
            failure.replay_command = Some(replay_command(&plan, path));
        }
    } else if let Some(divergence) = divergence {
        if report.error.is_none() {
            report.error = Some(CheckError::ReplayDiverged {
                divergence: divergence.to_string(),
            });
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
