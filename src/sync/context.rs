//! The execution running on this thread, and what a thread of it does at each access.
//!
//! A check runs its body once per execution, and each execution has an [`Execution`]: the engine
//! it runs on, its seed, the cells whose writes it accounts for, and, when a failure is replayed,
//! the log of its accesses. The primitives find it through a thread-local. Under shuttle every
//! task runs on the thread that runs the execution, so one entry covers all of them and a task is
//! told apart by its shuttle task id. On real threads [`crate::thread::spawn`] enters the
//! execution in each new thread with the thread's index, its seeded jitter and a start gate.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::check::CellOutcome;
use crate::engine::derive_seed;
use crate::ledger::LedgerError;
use crate::platform::AccessPoint;
use crate::platform::os::Jitter;
use crate::platform::os::JitterPoint;
use crate::schedule::{ExecutionLog, Progress};
use crate::sync::deadlock::Deadlock;
use crate::sync::graph::{Mode, Resource};
use crate::sync::shared::CellState;
use crate::sync::waits::Waits;

/// Why a primitive panics when it is used where no check is running.
pub(crate) const OUTSIDE_A_CHECK: &str = "contend::check primitives must be created and used inside \
     the body given to Check::run or Check::assert, on the body's thread or on threads started \
     with contend::check::thread::spawn";

/// Which implementation the primitives of an execution use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// shuttle's primitives: every access is a scheduling point.
    Shuttle,
    /// std's primitives on real threads, with jitter before every access.
    Threads,
}

/// The kinds of objects an execution numbers, each from 1, for their names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ObjectKind {
    /// A [`crate::sync::Shared`] cell.
    Shared = 0,
    /// A [`crate::sync::Mutex`].
    Mutex = 1,
    /// An atomic of [`crate::sync::atomic`].
    Atomic = 2,
    /// A [`crate::sync::RwLock`].
    RwLock = 3,
    /// A [`crate::sync::Condvar`].
    Condvar = 4,
    /// A [`crate::sync::Barrier`].
    Barrier = 5,
    /// A [`crate::sync::Once`].
    Once = 6,
    /// A channel of [`crate::sync::mpsc`].
    Channel = 7,
}

impl ObjectKind {
    /// Object `number` of this kind, told apart from every object of another kind (stable from
    /// one execution to the next, unlike addresses): how `dpor` names the objects it orders.
    pub(crate) fn id(self, number: usize) -> usize {
        ((self as usize + 1) << 56) | number
    }
}

/// How many kinds of objects an execution numbers.
const OBJECT_KINDS: usize = 8;

/// What a logged access was, for choosing the rows of an interleaving worth showing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AccessKind {
    /// A read of the shared cell with this number.
    Read { cell: usize },
    /// A write of the shared cell with this number; with the overwrite in words if it replaced a
    /// write it had not read.
    Write {
        cell: usize,
        overwrite: Option<String>,
    },
    /// Anything else: a lock, an atomic operation, a spawn, a join, a yield.
    Other,
}

/// One access of a logged execution.
#[derive(Clone, Debug)]
pub(crate) struct LoggedAccess {
    /// The thread's index: 0 for the body's thread, `i` for `Thread-i`.
    pub(crate) thread: usize,
    /// The access in words.
    pub(crate) text: String,
    /// What it was.
    pub(crate) kind: AccessKind,
    /// Preemptions the scheduler had made before it.
    pub(crate) preemptions_before: u64,
}

/// The accesses of one controlled execution, in order. Only one shuttle task runs at a time and
/// the lock is never held across a scheduling point.
#[derive(Debug, Default)]
pub(crate) struct AccessLog {
    accesses: Mutex<Vec<LoggedAccess>>,
    /// What each thread is doing in words (its program statement), appended to its accesses.
    notes: Mutex<Vec<Option<Arc<str>>>>,
    /// Kept up to date by the scheduler that replays the execution.
    progress: Arc<Progress>,
}

impl ExecutionLog for Arc<AccessLog> {
    type Entry = LoggedAccess;

    fn new(progress: Arc<Progress>) -> Self {
        Arc::new(AccessLog {
            accesses: Mutex::default(),
            notes: Mutex::default(),
            progress,
        })
    }

    fn entries(&self) -> Vec<LoggedAccess> {
        self.accesses()
    }
}

impl AccessLog {
    pub(crate) fn push(&self, thread: usize, kind: AccessKind, mut text: String) {
        if let Some(Some(note)) = lock(&self.notes).get(thread) {
            text.push_str("  [");
            text.push_str(note);
            text.push(']');
        }
        let preemptions_before = self.progress.preemptions.load(Ordering::SeqCst);
        lock(&self.accesses).push(LoggedAccess {
            thread,
            text,
            kind,
            preemptions_before,
        });
    }

    /// The accesses logged so far.
    pub(crate) fn accesses(&self) -> Vec<LoggedAccess> {
        lock(&self.accesses).clone()
    }
}

/// Locks a bookkeeping mutex; a panic elsewhere is reported on its own, so poison is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One execution of a check's body.
#[derive(Debug)]
pub(crate) struct Execution {
    pub(crate) backend: Backend,
    /// The check's name, carried by the `tracing` events.
    pub(crate) check: Arc<str>,
    /// The execution's index within its engine's run.
    pub(crate) run: u64,
    /// The seed of this execution's jitter on real threads.
    seed: u64,
    /// The noise injected before every access on real threads; `None` for none.
    jitter: Option<Jitter>,
    numbers: [AtomicUsize; OBJECT_KINDS],
    /// The wait-for graph and, on real threads, every blocking wait.
    pub(crate) waits: Waits,
    cells: Mutex<Vec<Arc<CellState>>>,
    first_panic: Mutex<Option<ThreadPanic>>,
    stated_failure: Mutex<Option<StatedFailure>>,
    /// Whether a thread panicked or stated a failure: an execution that ends without either
    /// is not asked for them.
    failure_recorded: AtomicBool,
    pub(crate) log: Option<Arc<AccessLog>>,
}

/// The first failure an execution's threads stated themselves, with its kind: a broken
/// invariant ([`crate::sync::invariant_failed`]), or a livelock a workload detected (a
/// program's loop that never ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatedFailure {
    /// Its kind.
    pub(crate) kind: crate::failure::Kind,
    /// The thread that stated it: `main`, `Thread-1`, ...
    pub(crate) thread: String,
    /// What happened, as the thread said it.
    pub(crate) message: String,
}

impl StatedFailure {
    /// The failure as reports say it: `Thread-1: invariant failed: balance >= 0 is false`.
    pub(crate) fn in_words(&self) -> String {
        match self.kind {
            crate::failure::Kind::Invariant => format!(
                "{}: {}{}",
                self.thread,
                crate::sync::INVARIANT_FAILED,
                self.message
            ),
            _ => format!("{}: {}", self.thread, self.message),
        }
    }
}

/// The first spawned thread of an execution that panicked.
#[derive(Clone, Debug)]
pub(crate) struct ThreadPanic {
    /// Its name, `Thread-i`.
    pub(crate) thread: String,
    /// What it said, on real threads; under shuttle the message reaches the engine through
    /// the panic hook of the thread that runs the execution.
    pub(crate) message: Option<String>,
}

impl Execution {
    /// A new execution of check `check`, with its index, seed and, if wanted, an access log;
    /// on real threads, `jitter` is injected before every access (none if `None`).
    pub(crate) fn new(
        backend: Backend,
        check: Arc<str>,
        run: u64,
        seed: u64,
        jitter: Option<Jitter>,
        log: Option<Arc<AccessLog>>,
    ) -> Arc<Execution> {
        Arc::new(Execution {
            backend,
            check,
            run,
            seed,
            jitter,
            numbers: Default::default(),
            waits: Waits::default(),
            cells: Mutex::new(Vec::new()),
            first_panic: Mutex::new(None),
            stated_failure: Mutex::new(None),
            failure_recorded: AtomicBool::new(false),
            log,
        })
    }

    /// A new execution under shuttle of check `check`, as [`Execution::new`]: the one this thread
    /// ran last, given back with [`Execution::recycle`], so that an execution costs no
    /// allocation.
    pub(crate) fn under_shuttle(
        check: &str,
        run: u64,
        seed: u64,
        log: Option<Arc<AccessLog>>,
    ) -> Arc<Execution> {
        if let Some(mut spare) = SPARE.take()
            && let Some(execution) = Arc::get_mut(&mut spare)
        {
            if *execution.check != *check {
                execution.check = Arc::from(check);
            }
            execution.run = run;
            execution.seed = seed;
            execution.log = log;
            return spare;
        }
        Execution::new(Backend::Shuttle, Arc::from(check), run, seed, None, log)
    }

    /// Gives an ended execution under shuttle back to this thread, for the next
    /// [`Execution::under_shuttle`] to reuse: emptied now (its cells and log let go), unless
    /// something still holds it (a task of a failed execution may), which leaves it alone.
    pub(crate) fn recycle(mut execution: Arc<Execution>) {
        if let Some(ended) = Arc::get_mut(&mut execution) {
            ended.empty();
            SPARE.set(Some(execution));
        }
    }

    /// Empties this ended execution, as [`Execution::new`] makes one under shuttle, keeping
    /// its name and the room of its lists.
    fn empty(&mut self) {
        // Every field is named, so that a field added later must be emptied here too.
        let Execution {
            backend,
            check: _,
            run,
            seed,
            jitter,
            numbers,
            waits,
            cells,
            first_panic,
            stated_failure,
            failure_recorded,
            log,
        } = self;
        *backend = Backend::Shuttle;
        *run = 0;
        *seed = 0;
        *jitter = None;
        for number in numbers {
            *number.get_mut() = 0;
        }
        waits.renew();
        cells
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        *first_panic
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        *stated_failure
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        *failure_recorded.get_mut() = false;
        *log = None;
    }

    /// Whether the execution keeps a log of its accesses.
    #[inline]
    pub(crate) fn keeps_log(&self) -> bool {
        self.log.is_some()
    }

    /// Logs an access of thread `thread`, if the execution keeps a log; `describe` runs only
    /// then. As [`log_access`], with the execution in hand.
    #[inline]
    pub(crate) fn log_access(
        &self,
        thread: usize,
        describe: impl FnOnce() -> (AccessKind, String),
    ) {
        if let Some(log) = &self.log {
            let (kind, text) = describe();
            log.push(thread, kind, text);
        }
    }

    /// The next number of an object of `kind`, from 1.
    pub(crate) fn number(&self, kind: ObjectKind) -> usize {
        let counter = &self.numbers[kind as usize];
        match self.backend {
            // Every task of a shuttle execution runs on one OS thread, one at a time: a read
            // then a write, without a read-modify-write instruction.
            Backend::Shuttle => {
                let number = counter.load(Ordering::Relaxed) + 1;
                counter.store(number, Ordering::Relaxed);
                number
            }
            Backend::Threads => counter.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// Accounts for `cell` when the execution ends.
    pub(crate) fn register_cell(&self, cell: Arc<CellState>) {
        lock(&self.cells).push(cell);
    }

    /// A thread is being started: its index. It holds its own end (which a join waits for) and
    /// a share of the end of every thread (which the end of the body waits for).
    pub(crate) fn thread_started(&self) -> usize {
        // Numbered under the lock that records its holds: one look at the state.
        self.waits.with(|state| {
            state.started += 1;
            let index = state.started;
            state
                .graph
                .hold(index, Resource::Thread(index), Mode::Exclusive);
            state.graph.hold(index, Resource::AllThreads, Mode::Shared);
            index
        })
    }

    /// Thread `index`, started with [`Execution::thread_started`], has finished (or could not
    /// start).
    pub(crate) fn thread_exited(&self, index: usize) {
        match self.backend {
            Backend::Shuttle => {
                // A task unwinding (a panic, or shuttle tearing a failed execution down) must
                // not reach a scheduling point; the execution fails anyway.
                let check = !std::thread::panicking();
                // Under shuttle no thread waits on the condition variable (a waiting task is
                // parked in shuttle), so there is no one to wake: waking costs a system call.
                // An end that leaves every other thread stuck (the signal it took was the one
                // the others waited for, say) declares the deadlock and wakes them to unwind.
                // The task parked in `wait_for_threads` is taken out in the same look, and
                // woken once the lock is free: unparking is a scheduling point.
                let (declared, parked) = self.waits.thread_ended(index, check);
                if check {
                    self.waits.declared_now(declared);
                    if let Some(parked) = parked {
                        parked.unpark();
                    }
                }
            }
            Backend::Threads => self.waits.update(|state| {
                state.graph.release(index, Resource::Thread(index));
                state.graph.release(index, Resource::AllThreads);
            }),
        }
    }

    /// Waits until every thread the execution started has finished, joined or not. Under
    /// shuttle the waiting task blocks, so that threads that deadlock are a deadlock. On real
    /// threads, after a deadlock was declared, it waits for the stuck threads to unwind no
    /// longer than the deadlock timeout.
    pub(crate) fn wait_for_threads(&self) {
        let running =
            |state: &crate::sync::waits::WaitState| state.graph.is_held(Resource::AllThreads);
        match self.backend {
            Backend::Shuttle => {
                let me = usize::from(shuttle::current::me());
                // After a declared deadlock, the stuck waiters are woken again while threads
                // unwind, a bounded number of times, before this thread just waits.
                let mut wakes = 0;
                loop {
                    let waiting = self.waits.with(|state| {
                        let waiting = running(state);
                        if waiting {
                            state.parked = Some(shuttle::thread::current());
                            state.graph.wait(me, Resource::AllThreads);
                        } else {
                            state.parked = None;
                            state.graph.stop_waiting(me);
                        }
                        waiting
                    });
                    if !waiting {
                        return;
                    }
                    // If every thread left is stuck, this declares the deadlock and wakes them
                    // to unwind; this thread then waits for them to end.
                    if self.waits.declare_if_stuck(me, None)
                        && wakes < crate::sync::waits::MAX_WAKES
                    {
                        wakes += 1;
                        self.waits.wake_condvar_waiters();
                        shuttle::thread::yield_now();
                        continue;
                    }
                    shuttle::thread::park();
                }
            }
            Backend::Threads => {
                self.waits.wait_for_end(|state| !running(state));
            }
        }
    }

    /// On real threads, the deadlock declared in this execution, if one was.
    pub(crate) fn declared_deadlock(&self) -> Option<Deadlock> {
        self.waits.declared()
    }

    /// The deadlock the execution's wait-for graph shows now: under shuttle, once shuttle
    /// found that no thread can run.
    pub(crate) fn describe_deadlock(&self) -> Deadlock {
        self.waits.describe()
    }

    /// Records that spawned thread `thread` panicked, unless one did before.
    pub(crate) fn record_thread_panic(&self, thread: String, message: Option<String>) {
        lock(&self.first_panic).get_or_insert(ThreadPanic { thread, message });
        self.failure_recorded.store(true, Ordering::SeqCst);
    }

    /// Whether a thread of this execution panicked or stated a failure (see
    /// [`Execution::first_thread_panic`], [`Execution::stated_failure`]).
    pub(crate) fn failure_recorded(&self) -> bool {
        self.failure_recorded.load(Ordering::SeqCst)
    }

    /// The first spawned thread that panicked, if one did.
    pub(crate) fn first_thread_panic(&self) -> Option<ThreadPanic> {
        lock(&self.first_panic).clone()
    }

    /// The first failure a thread of this execution stated, if one did: the execution
    /// failed on it, whatever the panic that carried it out said.
    pub(crate) fn stated_failure(&self) -> Option<StatedFailure> {
        lock(&self.stated_failure).clone()
    }

    /// The state of real thread `index` of this execution: its seeded jitter.
    pub(crate) fn os_thread(&self, index: usize) -> OsThread {
        OsThread {
            index,
            point: JitterPoint::new(self.jitter.as_ref(), derive_seed(self.seed, index as u64)),
            rng: SmallRng::seed_from_u64(derive_seed(self.seed ^ RANDOM_STREAM, index as u64)),
            children_waiting: false,
        }
    }

    /// Accounts for every cell of the finished execution, in the order they were made.
    pub(crate) fn settle(&self) -> Result<Vec<CellOutcome>, LedgerError> {
        let cells = lock(&self.cells).clone();
        cells
            .iter()
            .map(|cell| cell.settle(&self.check, self.run))
            .collect()
    }

    /// The accounting of this execution's cells as they stood when it failed otherwise (a
    /// broken invariant, a deadlock, a panic): the updates lost by then.
    pub(crate) fn settle_after_failure(&self) -> Result<Vec<CellOutcome>, LedgerError> {
        let cells = lock(&self.cells).clone();
        cells
            .iter()
            .map(|cell| cell.settle_after_failure(&self.check, self.run))
            .collect()
    }
}

/// Sets the random stream of a real thread apart from its jitter's.
const RANDOM_STREAM: u64 = 0x5241_4e44_4f4d;

/// The next value of the current thread's controlled randomness: shuttle's (recorded with the
/// schedule, so a replay draws the same values) under shuttle, the thread's seeded generator on
/// real threads.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub(crate) fn random_u64() -> u64 {
    if let Some(value) = OS_THREAD.with_borrow_mut(|os| os.as_mut().map(|os| os.rng.random())) {
        return value;
    }
    in_an_execution();
    shuttle::rand::RngCore::next_u64(&mut shuttle::rand::thread_rng())
}

/// The name of thread `index` of the execution running on this thread: the name it was
/// spawned with ([`crate::thread::spawn_named`]), else `main` for the body's thread, then
/// `Thread-1`, `Thread-2`, ... in the order they were spawned (outside an execution too).
/// Never call it while holding the execution's waits.
pub(crate) fn thread_name(index: usize) -> String {
    let named = ACTIVE
        .try_with(|active| {
            let active = active.try_borrow().ok()?;
            let execution = &active.as_ref()?.execution;
            execution
                .waits
                .with(|state| state.graph.thread_named(index))
        })
        .ok()
        .flatten();
    named.unwrap_or_else(|| crate::sync::graph::default_thread_name(index))
}

/// Where the threads a thread spawns wait until all of them have arrived and the spawning
/// thread has done its next operation, so that they start together rather than one after the
/// other (a thread takes tens of microseconds to start, long enough for a short body to finish
/// alone). The wait is bounded: a thread that spawns and then blocks outside contend's
/// primitives only delays its children a little.
#[derive(Debug, Default)]
pub(crate) struct StartGate {
    open: AtomicBool,
    expected: AtomicUsize,
    arrived: AtomicUsize,
}

/// The longest a spawned thread waits at its start gate.
const LONGEST_START_WAIT: Duration = Duration::from_millis(10);

impl StartGate {
    fn open(&self) {
        self.open.store(true, Ordering::Release);
    }

    /// One more thread will wait here.
    pub(crate) fn expect_thread(&self) {
        self.expected.fetch_add(1, Ordering::AcqRel);
    }

    /// Arrives, and waits until the gate is open and every expected thread has arrived, or
    /// [`LONGEST_START_WAIT`] has passed.
    pub(crate) fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let start = Instant::now();
        let mut turns = 0u32;
        while !self.open.load(Ordering::Acquire)
            || self.arrived.load(Ordering::Acquire) < self.expected.load(Ordering::Acquire)
        {
            turns = turns.wrapping_add(1);
            if turns.is_multiple_of(64) {
                if start.elapsed() > LONGEST_START_WAIT {
                    return;
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// What a real thread of an execution draws on at its accesses: its index, its jitter, its
/// controlled randomness, and whether threads it spawned wait at its start gate. It is kept in a
/// thread-local of its own that needs no destructor, so that an access finds it with a plain
/// load rather than through the look-up of the execution.
#[derive(Debug)]
pub(crate) struct OsThread {
    index: usize,
    point: JitterPoint,
    /// The thread's controlled randomness, seeded from the execution's seed and its index.
    rng: SmallRng,
    /// Whether threads it spawned wait at its start gate (kept with its execution) for its next
    /// operation.
    children_waiting: bool,
}

// A thread-local whose value needs no destructor is reached without a check that it is alive.
const _: () = assert!(!std::mem::needs_drop::<OsThread>());

impl OsThread {
    /// Opens the start gate of the threads this thread spawned, if they still wait there.
    #[inline(always)]
    fn open_children_gate(&mut self) {
        if self.children_waiting {
            self.children_waiting = false;
            open_children_gate();
        }
    }
}

/// Opens the start gate the current thread's children wait at.
#[cold]
#[inline(never)]
fn open_children_gate() {
    let gate = ACTIVE.with_borrow_mut(|active| active.as_mut()?.children_gate.take());
    if let Some(gate) = gate {
        gate.open();
    }
}

#[derive(Debug)]
struct ActiveThread {
    execution: Arc<Execution>,
    /// On real threads, where the threads this thread spawned wait until its next operation.
    children_gate: Option<Arc<StartGate>>,
}

thread_local! {
    static ACTIVE: RefCell<Option<ActiveThread>> = const { RefCell::new(None) };
    /// On a real thread of an execution, what it draws on at its accesses; `None` under
    /// shuttle, where the task id tells the threads apart.
    static OS_THREAD: RefCell<Option<OsThread>> = const { RefCell::new(None) };
    /// Under shuttle, the execution this thread ran last, kept for the next one to reuse.
    static SPARE: RefCell<Option<Arc<Execution>>> = const { RefCell::new(None) };
}

/// While alive, the current thread runs in an execution; dropping it restores what was there
/// before (and opens the thread's start gate, if its children still wait).
#[derive(Debug)]
pub(crate) struct Entered {
    previous: Option<ActiveThread>,
    previous_os: Option<OsThread>,
}

/// Makes the current thread part of `execution`: real thread `os`, or, with `None`, the thread
/// that runs a shuttle execution's tasks.
pub(crate) fn enter(execution: Arc<Execution>, os: Option<OsThread>) -> Entered {
    let previous = ACTIVE.replace(Some(ActiveThread {
        execution,
        children_gate: None,
    }));
    let previous_os = OS_THREAD.replace(os);
    Entered {
        previous,
        previous_os,
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        OS_THREAD.set(self.previous_os.take());
        let left = ACTIVE.replace(self.previous.take());
        if let Some(gate) = left.and_then(|active| active.children_gate) {
            gate.open();
        }
    }
}

/// Panics unless the current thread runs in an execution.
#[inline]
fn in_an_execution() {
    if ACTIVE.with_borrow(Option::is_none) {
        panic!("{OUTSIDE_A_CHECK}");
    }
}

/// On a real thread of an execution: its index, after it opened its start gate and, if asked,
/// injected its jitter. `None` elsewhere.
#[inline(always)]
fn on_os_thread(jitter: bool) -> Option<usize> {
    // The closure is small enough for `with` to be inlined, which then reaches the thread-local
    // with a plain load rather than through a function pointer.
    OS_THREAD.with(|os| os_thread_access(os, jitter))
}

/// [`on_os_thread`] once the thread-local is found.
#[inline(never)]
fn os_thread_access(os: &RefCell<Option<OsThread>>, jitter: bool) -> Option<usize> {
    let mut os = os.borrow_mut();
    let os = os.as_mut()?;
    os.open_children_gate();
    if jitter {
        os.point.before_access();
    }
    Some(os.index)
}

/// The index of the running shuttle task, as a thread of the execution.
///
/// # Panics
///
/// Outside a check's body and its threads.
#[inline]
fn shuttle_thread() -> usize {
    in_an_execution();
    usize::from(shuttle::current::me())
}

/// The index of the current thread of the execution, with no side effect: on a real thread
/// from its state, under shuttle from the running task.
fn thread_index() -> Option<usize> {
    OS_THREAD
        .try_with(|os| os.try_borrow().ok()?.as_ref().map(|os| os.index))
        .ok()
        .flatten()
}

/// Forgets any execution on this thread: after a shuttle run that a failure ended, its tasks may
/// not have unwound.
pub(crate) fn clear() {
    ACTIVE.set(None);
    OS_THREAD.set(None);
}

/// As [`before_operation`], with the execution running on this thread, in one look-up.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub(crate) fn operation() -> (usize, Arc<Execution>) {
    let index = on_os_thread(false);
    ACTIVE.with_borrow(|active| {
        let active = active
            .as_ref()
            .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"));
        let index = index.unwrap_or_else(|| usize::from(shuttle::current::me()));
        (index, Arc::clone(&active.execution))
    })
}

/// The execution running on this thread.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub(crate) fn execution() -> Arc<Execution> {
    ACTIVE
        .with_borrow(|active| active.as_ref().map(|a| Arc::clone(&a.execution)))
        .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"))
}

/// Runs `f` on the execution running on this thread, without a reference count of its own:
/// `f` must not reach a scheduling point (another task would look the execution up meanwhile).
///
/// # Panics
///
/// Outside a check's body and its threads.
pub(crate) fn with_execution<T>(f: impl FnOnce(&Execution) -> T) -> T {
    ACTIVE.with_borrow(|active| {
        let active = active
            .as_ref()
            .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"));
        f(&active.execution)
    })
}

/// Called before every access to shared state: the thread's index. On real threads it opens
/// the thread's start gate and injects jitter.
///
/// # Panics
///
/// Outside a check's body and its threads.
#[inline]
pub(crate) fn before_access() -> usize {
    on_os_thread(true).unwrap_or_else(shuttle_thread)
}

/// Called before an operation that is not an access to shared state (a join): the thread's
/// index. On real threads it opens the thread's start gate.
pub(crate) fn before_operation() -> usize {
    on_os_thread(false).unwrap_or_else(shuttle_thread)
}

/// The backend of the execution running on this thread.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub(crate) fn backend() -> Backend {
    ACTIVE
        .with_borrow(|active| active.as_ref().map(|a| a.execution.backend))
        .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"))
}

/// The gate a thread this thread is about to spawn waits at, counted as expected there.
pub(crate) fn children_gate() -> Arc<StartGate> {
    OS_THREAD.with_borrow_mut(|os| {
        os.as_mut()
            .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"))
            .children_waiting = true;
    });
    ACTIVE.with_borrow_mut(|active| {
        let active = active
            .as_mut()
            .unwrap_or_else(|| panic!("{OUTSIDE_A_CHECK}"));
        let gate = active.children_gate.get_or_insert_with(Arc::default);
        gate.expect_thread();
        Arc::clone(gate)
    })
}

/// Notes what the current thread is doing in words (`describe` runs only if the execution keeps
/// a log): the note is appended to each of its logged accesses until the next note. Under
/// shuttle every task runs on one OS thread, so notes are kept per thread of the execution.
#[cfg(feature = "runner")]
pub(crate) fn note(describe: impl FnOnce() -> Arc<str>) {
    let found = ACTIVE.with_borrow(|active| {
        let active = active.as_ref()?;
        let log = active.execution.log.clone()?;
        let thread = thread_index().unwrap_or_else(|| usize::from(shuttle::current::me()));
        Some((log, thread))
    });
    if let Some((log, thread)) = found {
        let mut notes = lock(&log.notes);
        if notes.len() <= thread {
            notes.resize(thread + 1, None);
        }
        notes[thread] = Some(describe());
    }
}

/// Records in the execution running on this thread, if there is one, that the current thread
/// states a failure of `kind` described by `message` (unless one was recorded before). Never
/// panics.
pub(crate) fn record_stated_failure(kind: crate::failure::Kind, message: &str) {
    let found = ACTIVE
        .try_with(|active| {
            let active = active.try_borrow().ok()?;
            let active = active.as_ref()?;
            let thread = thread_index().unwrap_or_else(|| usize::from(shuttle::current::me()));
            Some((Arc::clone(&active.execution), thread))
        })
        .ok()
        .flatten();
    if let Some((execution, thread)) = found {
        lock(&execution.stated_failure).get_or_insert(StatedFailure {
            kind,
            thread: thread_name(thread),
            message: message.to_string(),
        });
        execution.failure_recorded.store(true, Ordering::SeqCst);
    }
}

/// Logs an access of thread `thread`, if the execution keeps a log; `describe` runs only then.
/// Never panics, so that a guard may log from `drop`.
pub(crate) fn log_access(thread: usize, describe: impl FnOnce() -> (AccessKind, String)) {
    let log = ACTIVE
        .try_with(|active| {
            let active = active.try_borrow().ok()?;
            active.as_ref()?.execution.log.clone()
        })
        .ok()
        .flatten();
    if let Some(log) = log {
        let (kind, text) = describe();
        log.push(thread, kind, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An execution under shuttle reuses the one before on its thread, and starts as a new one
    /// would: numbering its threads and objects from 1 again, with no failure, wait or hold of
    /// the one before.
    #[test]
    fn a_reused_execution_starts_as_a_new_one() {
        let first = Execution::under_shuttle("first", 0, 7, None);
        let address = Arc::as_ptr(&first);
        assert_eq!(first.thread_started(), 1);
        assert_eq!(first.number(ObjectKind::Mutex), 1);
        first.record_thread_panic("Thread-1".to_string(), Some("it broke".to_string()));
        first
            .waits
            .with(|state| state.graph.wait(0, Resource::Thread(1)));
        Execution::recycle(first);

        let second = Execution::under_shuttle("second", 1, 8, None);
        assert_eq!(Arc::as_ptr(&second), address, "the execution is reused");
        assert_eq!((&*second.check, second.run, second.seed), ("second", 1, 8));
        assert_eq!(second.thread_started(), 1);
        assert_eq!(second.number(ObjectKind::Mutex), 1);
        assert!(!second.failure_recorded());
        assert!(second.first_thread_panic().is_none());
        assert!(second.declared_deadlock().is_none());
        second.waits.with(|state| {
            assert!(state.graph.nobody_waits());
            assert!(
                state.graph.is_held(Resource::Thread(1)),
                "only its own thread runs"
            );
            state.graph.release(1, Resource::Thread(1));
            assert!(!state.graph.is_held(Resource::Thread(1)));
        });
    }

    /// An execution something still holds (a task of a failed execution, say) is not reused.
    #[test]
    fn an_execution_still_held_is_not_reused() {
        let first = Execution::under_shuttle("held", 0, 0, None);
        let held = Arc::clone(&first);
        Execution::recycle(first);
        let second = Execution::under_shuttle("held", 1, 0, None);
        assert!(!Arc::ptr_eq(&held, &second));
        assert_eq!(held.run, 0);
    }

    /// A scenario's `jitter` on the threads engine (none, or its own noise) reached a plugin
    /// workload's threads only as the default noise, whatever the scenario said.
    #[test]
    fn an_executions_real_threads_regression_inject_the_jitter_it_was_made_with() {
        let quiet = Execution::new(Backend::Threads, Arc::from("quiet"), 0, 1, None, None);
        assert_eq!(quiet.os_thread(0).point.jitter(), None);
        let noise = Jitter {
            yield_probability: 1.0,
            ..Jitter::default()
        };
        let noisy = Execution::new(
            Backend::Threads,
            Arc::from("noisy"),
            0,
            1,
            Some(noise.clone()),
            None,
        );
        assert_eq!(noisy.os_thread(1).point.jitter(), Some(&noise));
    }
}
