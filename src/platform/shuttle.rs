//! The controlled platform: the built-in workloads' words and locks are contend's own
//! primitives ([`crate::sync`]) under shuttle, the ones users write their checks and plugin
//! workloads on, so every shared access is a scheduling point and a lock joins the execution's
//! wait-for graph.

use std::sync::atomic::{AtomicU64, Ordering};

use std::cell::Cell;
use std::convert::Infallible;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Access, AccessPoint, Lock, Platform, SharedWord};
use crate::ledger::Logs;
use crate::schedule::Progress;
use crate::schedule::dpor::{self, Access as Step};
use crate::schedule::window::StepWindow;
use crate::sync::atomic::AtomicU64 as SyncAtomicU64;
use crate::sync::{Mutex as SyncMutex, MutexGuard as SyncMutexGuard};

/// The platform of controlled executions under shuttle: its words and locks must be made
/// inside an execution of [`crate::sync`] entered on the calling thread.
#[derive(Debug, Default)]
pub struct ShuttlePlatform;

impl Platform for ShuttlePlatform {
    type Word = ShuttleWord;
    type Lock = SyncMutex<()>;
    type Point = ShuttlePoint;
    type Store = PooledStore;
    type Error = Infallible;
    // A controlled execution's writes are few: its records are kept whole, not encoded.
    const LOGS: Logs = Logs::Controlled;

    fn word(&self, initial: u64) -> Result<ShuttleWord, Infallible> {
        Ok(ShuttleWord {
            atomic: SyncAtomicU64::new(initial),
            copy: AtomicU64::new(initial),
        })
    }

    fn lock(&self) -> Result<Self::Lock, Infallible> {
        Ok(SyncMutex::new(()))
    }

    fn store(&self, words: usize) -> Result<PooledStore, Infallible> {
        Ok(PooledStore::reused(words))
    }
}

thread_local! {
    /// The store the last execution on this thread gave back, for the next one to reuse.
    static SPARE_STORE: Cell<Option<Box<[AtomicU64]>>> = const { Cell::new(None) };
}

/// A ledger's store under shuttle, taken from the one the previous execution on the same thread
/// gave back when it has the same length, so that a run of small executions does not allocate,
/// zero and free one per execution. Given back when dropped.
///
/// A reused store is not zeroed: the ledger clears the words it reads before writing them
/// (each thread's log length, as [`crate::ledger::Ledger::reset`] does for a ledger run again),
/// and a ring slot is always written before the write it holds is published.
#[derive(Debug)]
pub struct PooledStore(Box<[AtomicU64]>);

impl PooledStore {
    /// `words` words: fresh zeroed ones, or the spare ones of the previous execution.
    fn reused(words: usize) -> PooledStore {
        let store = match SPARE_STORE.take() {
            Some(spare) if spare.len() == words => spare,
            _ => super::os::heap_store(words),
        };
        PooledStore(store)
    }
}

impl Deref for PooledStore {
    type Target = [AtomicU64];

    #[inline]
    fn deref(&self) -> &[AtomicU64] {
        &self.0
    }
}

impl Drop for PooledStore {
    fn drop(&mut self) {
        // A thread being torn down has no spare to keep; the store is then freed.
        let store = std::mem::take(&mut self.0);
        let _ = SPARE_STORE.try_with(|spare| spare.set(Some(store)));
    }
}

/// contend's own mutex, the lock of the controlled platform.
impl Lock for SyncMutex<()> {
    type Guard<'a> = SyncMutexGuard<'a, ()>;

    fn acquire(&self, _thread: usize) -> Self::Guard<'_> {
        // The mutex looks the running task up. A poisoned lock only means another task
        // panicked; that panic is the failure to report.
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A built-in workload's word under shuttle: contend's atomic, and a plain copy of its value.
/// Under shuttle one task runs at a time and a task is switched only at an access, before it is
/// made, so a store followed by an exchange with the copy is one indivisible swap. It is the
/// same scheduling point as the atomic's own swap, without the clock work shuttle does for a
/// read-modify-write.
#[derive(Debug)]
pub struct ShuttleWord {
    atomic: SyncAtomicU64,
    copy: AtomicU64,
}

impl SharedWord for ShuttleWord {
    fn load(&self) -> u64 {
        self.atomic.load(Ordering::SeqCst)
    }

    fn store(&self, value: u64) {
        self.atomic.store(value, Ordering::SeqCst);
        self.copy.store(value, Ordering::Relaxed);
    }

    fn swap(&self, value: u64) -> u64 {
        self.atomic.store(value, Ordering::SeqCst);
        // One task runs at a time, on one OS thread: a read then a write of the copy is the
        // exchange, without a read-modify-write instruction.
        let old = self.copy.load(Ordering::Relaxed);
        self.copy.store(value, Ordering::Relaxed);
        old
    }

    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        let result = self
            .atomic
            .compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst);
        if result.is_ok() {
            self.copy.store(new, Ordering::Relaxed);
        }
        result
    }
}

/// The access point under shuttle: the shuttle atomic itself is the scheduling point, so
/// nothing is added before an access; a spin loop yields so that PCT deprioritizes it. With a
/// [`StepLog`], every access is written down in execution order.
#[derive(Debug, Default)]
pub struct ShuttlePoint {
    thread: usize,
    log: Option<StepLog>,
    pauses: u64,
}

impl ShuttlePoint {
    /// The access point of workload thread `thread`, writing to `log` if given.
    pub fn new(thread: usize, log: Option<StepLog>) -> Self {
        ShuttlePoint {
            thread,
            log,
            pauses: 0,
        }
    }
}

impl AccessPoint for ShuttlePoint {
    #[inline]
    fn before_access(&mut self) {}

    fn spin_wait(&mut self) {
        dpor::announce(Step::Yield);
        shuttle::thread::yield_now();
        dpor::settle();
    }

    fn draw_pause(&mut self, max: Duration) -> Duration {
        // shuttle has no clock: a pause's length only appears in log lines. It is drawn from the
        // thread and the pause's index, so that a schedule replays the same lines.
        self.pauses += 1;
        let draw = crate::engine::derive_seed(self.thread as u64, self.pauses);
        Duration::from_nanos(draw % (max.as_nanos() as u64).saturating_add(1))
    }

    fn pause(&mut self, _pause: Duration) {
        dpor::announce(Step::Local);
        shuttle::thread::yield_now();
        dpor::settle();
    }

    #[inline]
    fn observe(&mut self, access: Access) {
        if let Some(log) = &self.log {
            log.push(self.thread, access);
        }
    }
}

/// One logged access of a controlled execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedStep {
    /// The workload thread.
    pub thread: usize,
    /// What it did.
    pub access: Access,
    /// How many preemptions the scheduler had made before this access.
    pub preemptions_before: u64,
    /// How many scheduling decisions had been made before this access.
    pub decisions_before: u64,
}

/// The accesses of one controlled execution, in the order they happened: every one, or only
/// the window a replay's default output shows. Under shuttle only one task runs at a time, so a
/// plain lock (never held across a scheduling point) suffices.
#[derive(Clone, Debug, Default)]
pub struct StepLog {
    steps: Arc<Mutex<Steps>>,
    progress: Arc<Progress>,
}

/// What a [`StepLog`] keeps.
#[derive(Debug)]
enum Steps {
    /// Every step.
    All(Vec<LoggedStep>),
    /// The window around the first overwrite, and counts.
    Window(Box<StepWindow>),
}

impl Default for Steps {
    fn default() -> Self {
        Steps::All(Vec::new())
    }
}

impl StepLog {
    /// An empty log of every step that notes the scheduler's `progress` at each access.
    pub fn with_progress(progress: Arc<Progress>) -> Self {
        StepLog {
            steps: Arc::default(),
            progress,
        }
    }

    /// An empty log that keeps only the window a replay's default output shows (memory that
    /// does not grow with the execution), noting the scheduler's `progress` at each access.
    pub fn windowed(progress: Arc<Progress>) -> Self {
        StepLog {
            steps: Arc::new(Mutex::new(Steps::Window(Box::default()))),
            progress,
        }
    }

    fn push(&self, thread: usize, access: Access) {
        let step = LoggedStep {
            thread,
            access,
            preemptions_before: self.progress.preemptions.load(Ordering::SeqCst),
            decisions_before: self.progress.decisions.load(Ordering::SeqCst),
        };
        match &mut *self.steps.lock().unwrap_or_else(|p| p.into_inner()) {
            Steps::All(steps) => steps.push(step),
            Steps::Window(window) => window.push(step),
        }
    }

    /// The logged steps, taken out of the log (no copy of a long log); none for a windowed log.
    pub fn take_steps(&self) -> Vec<LoggedStep> {
        match &mut *self.steps.lock().unwrap_or_else(|p| p.into_inner()) {
            Steps::All(steps) => std::mem::take(steps),
            Steps::Window(_) => Vec::new(),
        }
    }

    /// The window of a windowed log, or of every step of a full one, taken out of the log.
    pub fn take_window(&self) -> StepWindow {
        match &mut *self.steps.lock().unwrap_or_else(|p| p.into_inner()) {
            Steps::All(steps) => StepWindow::of(steps),
            Steps::Window(window) => std::mem::take(&mut **window).finish(),
        }
    }
}
