//! Checking your own concurrent code from `cargo test`.
//!
//! Write the code under test with contend's primitives: [`thread::spawn`] and
//! [`JoinHandle::join`](thread::JoinHandle::join), [`thread::scope`], [`sync::Mutex`],
//! [`sync::RwLock`], [`sync::Condvar`], [`sync::Barrier`], [`sync::Once`], [`sync::mpsc`], the
//! [`sync::atomic`] types, [`sync::random`], explicit [`thread::yield_now`] points, and the
//! instrumented cell [`Shared`], whose lost updates contend counts exactly. A deadlock is a
//! failing execution with its cycle of waits ([`sync::deadlock`]), on every engine. Then give the body to a [`Check`]: it runs it once per
//! execution, under shuttle's controlled scheduling and on real threads with jitter injected
//! before every access, and returns a [`CheckReport`]; [`Check::assert`] panics with the report
//! (the summary, the first failure's interleaving and the command that replays it) when the
//! expectation fails.
//!
//! ```no_run
//! use std::sync::Arc;
//! use contend::check::{Check, Expect, Shared, thread};
//!
//! // In a #[test]:
//! Check::new("racy_counter").expect(Expect::LostUpdates).assert(|| {
//!     let counter = Arc::new(Shared::named("counter", 0));
//!     let handles: Vec<_> = (0..2)
//!         .map(|_| {
//!             let counter = Arc::clone(&counter);
//!             thread::spawn(move || {
//!                 for _ in 0..100 {
//!                     counter.update(|value| value + 1); // a read, then a write
//!                 }
//!             })
//!         })
//!         .collect();
//!     for handle in handles {
//!         handle.join().unwrap();
//!     }
//! });
//! ```
//!
//! Each primitive picks its implementation from the engine running the current execution, so
//! the body must create them (they cannot outlive an execution). A failure found under shuttle is
//! saved as a schedule file; setting [`REPLAY_VARIABLE`] to that file makes the check replay it
//! instead of exploring, and report whether it still fails.

mod report;
mod run;

pub use crate::sync;
pub use crate::thread;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::sync::Shared;
pub use report::{
    CellOutcome, CheckError, CheckReport, EngineReport, Failure, FailureKind, FinalValues,
    Interleaving, Kind, SHOWN_STEPS, Step,
};

use crate::engine::controlled::DEFAULT_MAX_STEPS;

/// The environment variable that names a schedule file to replay: with it set, a check whose
/// name matches the file's replays that schedule under shuttle instead of exploring.
pub const REPLAY_VARIABLE: &str = "CONTEND_REPLAY";

/// The `format` that schedule files saved by a check name: the one format of every schedule
/// file, whose `[target]` is the check.
pub const SCHEDULE_FORMAT: &str = crate::schedule::file::FORMAT;

/// Executions per engine when [`Check::runs`] is not given.
pub const DEFAULT_RUNS: u64 = 100;

/// How shuttle picks the thread to run at each scheduling point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// A uniformly random choice at every point.
    Random,
    /// Probabilistic concurrency testing: random priorities changed at `depth - 1` random
    /// points, which finds bugs needing few preemptions with a known probability.
    Pct {
        /// The bug depth.
        depth: usize,
    },
    /// Depth-first search over the schedules, up to the check's runs; a search that ends
    /// before them has explored every schedule.
    Dfs,
    /// Exhaustive search with dynamic partial-order reduction: one execution per equivalence
    /// class of interleavings (schedules that differ only in the order of accesses that
    /// commute), up to the check's runs; a search that ends before them has covered every
    /// interleaving.
    Dpor,
}

impl Scheduler {
    /// The scheduler as the scenarios of configs name it.
    pub(crate) fn kind(self) -> crate::engine::controlled::SchedulerKind {
        match self {
            Scheduler::Random => crate::engine::controlled::SchedulerKind::Random,
            Scheduler::Pct { depth } => crate::engine::controlled::SchedulerKind::Pct { depth },
            Scheduler::Dfs => crate::engine::controlled::SchedulerKind::Dfs,
            Scheduler::Dpor => crate::engine::controlled::SchedulerKind::Dpor,
        }
    }

    /// The scheduler with a preemption bound, if one is given and it searches.
    pub(crate) fn bounded(
        self,
        max_preemptions: Option<u32>,
    ) -> crate::engine::controlled::SchedulerKind {
        match (self, max_preemptions) {
            (Scheduler::Dfs | Scheduler::Dpor, Some(max_preemptions)) => {
                crate::engine::controlled::SchedulerKind::Bounded { max_preemptions }
            }
            _ => self.kind(),
        }
    }
}

/// A way to run a check's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Controlled executions under shuttle: deterministic for the seed, replayable.
    Shuttle(Scheduler),
    /// Real OS threads, with seeded jitter (yields, spins, short sleeps) before every access.
    /// A deadlock in contend's primitives fails the execution with its cycle of waits (or after
    /// [`Check::deadlock_timeout`]) and unwinds the stuck threads.
    Threads,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Shuttle(Scheduler::Random) => f.write_str("shuttle (random)"),
            Engine::Shuttle(Scheduler::Pct { depth }) => write!(f, "shuttle (pct, depth {depth})"),
            Engine::Shuttle(Scheduler::Dfs) => f.write_str("shuttle (dfs)"),
            Engine::Shuttle(Scheduler::Dpor) => f.write_str("shuttle (dpor)"),
            Engine::Threads => f.write_str("threads"),
        }
    }
}

/// What a check must show to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No execution loses an update or panics.
    NoLostUpdates,
    /// Every engine loses an update in some execution, and none panics: the check reproduces
    /// a known bug.
    LostUpdates,
    /// Every engine shows a failure of this kind in some execution (other failures may show
    /// too): the check reproduces a known bug that shows as a panic, a deadlock, a livelock or
    /// a lost update.
    Fails(Kind),
    /// Every engine shows some failure, of any kind.
    AnyFailure,
}

/// A check of a concurrent body: its name, runs, seed, engines and expectation.
#[derive(Clone, Debug)]
pub struct Check {
    name: String,
    runs: u64,
    seed: Option<u64>,
    engines: Vec<Engine>,
    expect: Expect,
    max_steps: u64,
    time: Option<std::time::Duration>,
    schedule_dir: Option<PathBuf>,
    replay: Option<PathBuf>,
    deadlock_timeout: Duration,
    max_preemptions: Option<u32>,
}

impl Check {
    /// A check named `name` (name it as its test: the replay command runs `cargo test NAME`
    /// when it cannot tell the test's name itself). By default: [`DEFAULT_RUNS`] runs, a seed
    /// derived from the name, shuttle's random scheduler then real threads, and
    /// [`Expect::NoLostUpdates`].
    pub fn new(name: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            runs: DEFAULT_RUNS,
            seed: None,
            engines: vec![Engine::Shuttle(Scheduler::Random), Engine::Threads],
            expect: Expect::NoLostUpdates,
            max_steps: DEFAULT_MAX_STEPS,
            time: None,
            schedule_dir: None,
            replay: None,
            deadlock_timeout: crate::sync::DEFAULT_DEADLOCK_TIMEOUT,
            max_preemptions: None,
        }
    }

    /// Makes [`Scheduler::Dfs`] and [`Scheduler::Dpor`] search every schedule with at most
    /// `max_preemptions` preemptions (switches away from a thread that could have run on),
    /// without reduction, instead of every schedule.
    pub fn max_preemptions(mut self, max_preemptions: u32) -> Check {
        self.max_preemptions = Some(max_preemptions);
        self
    }

    /// Executions per engine: schedules under shuttle, rounds on real threads.
    ///
    /// # Panics
    ///
    /// If `runs` is 0.
    pub fn runs(mut self, runs: u64) -> Check {
        assert!(runs > 0, "a check needs at least one run");
        self.runs = runs;
        self
    }

    /// The seed every schedule and every jitter draw derives from. Without it the seed is
    /// derived from the check's name, so that a test explores the same schedules every time.
    pub fn seed(mut self, seed: u64) -> Check {
        self.seed = Some(seed);
        self
    }

    /// The engines to run the body on, in order.
    ///
    /// # Panics
    ///
    /// If there is none.
    pub fn engines(mut self, engines: impl IntoIterator<Item = Engine>) -> Check {
        self.engines = engines.into_iter().collect();
        assert!(
            !self.engines.is_empty(),
            "a check needs at least one engine"
        );
        self
    }

    /// What the check must show.
    pub fn expect(mut self, expect: Expect) -> Check {
        self.expect = expect;
        self
    }

    /// Scheduling steps after which a shuttle execution is reported as a livelock.
    pub fn max_steps(mut self, max_steps: u64) -> Check {
        self.max_steps = max_steps;
        self
    }

    /// A time budget per engine: no execution starts once it is used up, even with runs left
    /// (the report says how many ran).
    pub fn time(mut self, budget: std::time::Duration) -> Check {
        self.time = Some(budget);
        self
    }

    /// On real threads, how long a thread may block in one of contend's primitives (a lock, a
    /// wait, a join, a receive) before the execution is declared deadlocked, its blocked threads
    /// unwound and the next execution started. A cycle of waits is declared at once, without
    /// waiting. Default [`crate::sync::DEFAULT_DEADLOCK_TIMEOUT`]. (Under shuttle a deadlock is
    /// found when no thread can run, and takes no time.)
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn deadlock_timeout(mut self, timeout: Duration) -> Check {
        assert!(!timeout.is_zero(), "a deadlock timeout must be above zero");
        self.deadlock_timeout = timeout;
        self
    }

    /// Where failing schedules are saved. By default `contend/` in cargo's target directory
    /// (found from the running test binary), else in the system's temporary directory.
    pub fn schedule_dir(mut self, dir: impl Into<PathBuf>) -> Check {
        self.schedule_dir = Some(dir.into());
        self
    }

    /// Replays the schedule saved in `file` instead of exploring, as setting
    /// [`REPLAY_VARIABLE`] does.
    pub fn replay_from(mut self, file: impl Into<PathBuf>) -> Check {
        self.replay = Some(file.into());
        self
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `body` once per execution on every engine and reports what happened. Never panics
    /// because of the body: its panics are failing executions in the report. Threads the body
    /// does not join are waited for before the execution's cells are accounted for.
    pub fn run<F>(&self, body: F) -> CheckReport
    where
        F: Fn() + Send + Sync + 'static,
    {
        let body: run::Body = Arc::new(body);
        let plan = self.plan();
        let replay = self
            .replay
            .clone()
            .or_else(|| std::env::var_os(REPLAY_VARIABLE).map(PathBuf::from));
        let mut notes = Vec::new();
        if let Some(path) = replay {
            match load_schedule(&path) {
                Ok((file, check)) if check.name == self.name => {
                    let report = run::replay_file(&plan, &body, &path, &file, &check);
                    return self.report(vec![report]);
                }
                Ok((_, check)) => notes.push(format!(
                    "{} is a schedule of check `{}`, not of this one: explored as usual",
                    path.display(),
                    check.name
                )),
                Err(error) => {
                    let engine = Engine::Shuttle(Scheduler::Random);
                    return self.report(vec![run::error_report(engine, &plan, error)]);
                }
            }
        }
        let engines = self
            .engines
            .iter()
            .map(|&engine| {
                let mut report = match engine {
                    Engine::Shuttle(scheduler) => run::explore(&plan, scheduler, &body),
                    Engine::Threads => run::stress(&plan, &body),
                };
                report.notes.extend(notes.iter().cloned());
                report
            })
            .collect();
        self.report(engines)
    }

    /// Runs `body` as [`Check::run`] does and returns the report if the expectation is met.
    ///
    /// # Panics
    ///
    /// If it is not, with the report as the message: the summary, each first failure's
    /// interleaving, and the command that replays it, located at the caller's test.
    #[track_caller]
    pub fn assert<F>(&self, body: F) -> CheckReport
    where
        F: Fn() + Send + Sync + 'static,
    {
        let report = self.run(body);
        if !report.passed() {
            panic!("{report}");
        }
        report
    }

    fn report(&self, engines: Vec<EngineReport>) -> CheckReport {
        CheckReport {
            name: self.name.clone(),
            expect: self.expect,
            engines,
        }
    }

    fn plan(&self) -> run::Plan {
        // libtest runs each test on a thread named after the test's path.
        let test_path = std::thread::current()
            .name()
            .filter(|name| *name != "main")
            .map(str::to_string);
        let exact_test = test_path.is_some();
        let test_filter = test_path.unwrap_or_else(|| self.name.clone());
        run::Plan {
            name: Arc::from(self.name.as_str()),
            runs: self.runs,
            seed: self.seed.unwrap_or_else(|| seed_from_name(&self.name)),
            max_steps: self.max_steps,
            time: self.time,
            expect: self.expect,
            schedule_dir: self
                .schedule_dir
                .clone()
                .unwrap_or_else(default_schedule_dir),
            test_filter,
            exact_test,
            deadlock_timeout: self.deadlock_timeout,
            max_preemptions: self.max_preemptions,
        }
    }
}

/// Reads the schedule file at `path` for a check to replay: a file whose target is a check.
fn load_schedule(
    path: &std::path::Path,
) -> Result<
    (
        crate::schedule::file::ScheduleFile,
        crate::schedule::file::CheckTarget,
    ),
    CheckError,
> {
    use crate::schedule::file::{ScheduleFile, ScheduleFileError, Target};
    let bad = |reason: String| CheckError::BadSchedule {
        path: path.to_path_buf(),
        reason,
    };
    let file = ScheduleFile::load(path).map_err(|error| match error {
        ScheduleFileError::Read { path, source } => CheckError::ReadSchedule { path, source },
        ScheduleFileError::Invalid { location, message } => match location.line_column {
            Some((line, column)) => bad(format!("line {line}, column {column}: {message}")),
            None => bad(message),
        },
        version @ ScheduleFileError::Version { .. } => bad(version.to_string()),
    })?;
    match &file.target {
        Target::Check(check) => {
            let check = check.clone();
            Ok((file, check))
        }
        Target::Counter(_) | Target::Workload(_) => Err(bad(format!(
            "it is the schedule of scenario `{}`, not of a check: replay it with `contend replay {}`",
            file.target.name(),
            path.display()
        ))),
    }
}

/// A seed from a name (FNV-1a), below 2^63 so that schedule files can hold it.
fn seed_from_name(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash >> 1
}

/// `contend/` in the cargo target directory that holds the running binary (the directory with
/// a `CACHEDIR.TAG`), else in the system's temporary directory.
fn default_schedule_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(|target| target.join("contend"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("contend"))
}
