//! The blocking state of one execution: its wait-for graph, the state of its condition variables
//! and barriers on real threads, and the deadlock once one is declared.
//!
//! Under shuttle the primitives block in shuttle's own types and keep the graph here: a wait
//! that closes a cycle, or that leaves no thread able to go on (every other thread waits for
//! something nothing can give it any more: a condition variable nobody will notify, say),
//! declares the execution deadlocked, and the stuck threads unwind with [`DeadlockUnwind`] (see
//! [`Waits::unwind_if_deadlocked`]). On real threads every blocking operation
//! waits here, on one lock and one condition variable per execution, with a timeout: a wait that
//! closes a cycle of waits, or lasts longer than the deadlock timeout, declares the execution
//! deadlocked, and every thread blocked in it unwinds with [`DeadlockUnwind`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::schedule::dpor;
use crate::sync::context::{self, AccessKind};
use crate::sync::deadlock::{Deadlock, DeadlockUnwind};
use crate::sync::graph::{Mode, Resource, WaitGraph};

/// How long a thread may wait in one blocking operation on real threads before the execution is
/// declared deadlocked, unless [`crate::check::Check::deadlock_timeout`] says otherwise.
pub const DEFAULT_DEADLOCK_TIMEOUT: Duration = Duration::from_secs(3);

/// Under shuttle, how many times the end of the body wakes the stuck condition-variable waiters
/// of a declared deadlock (yielding in between) before it just waits for the threads to end.
pub(crate) const MAX_WAKES: u32 = 1_000;

/// Whether a wait declared the execution deadlocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    /// It is not deadlocked.
    No,
    /// It was declared deadlocked before.
    Before,
    /// This wait declared it deadlocked.
    Now,
}

/// What the blocking primitives share, under the execution's one lock.
#[derive(Debug, Default)]
pub(crate) struct WaitState {
    /// Who holds and waits for what.
    pub(crate) graph: WaitGraph,
    /// The deadlock, once declared.
    deadlock: Option<Deadlock>,
    /// Real threads: each condition variable's tickets not yet notified.
    pub(crate) condvar_waiters: BTreeMap<usize, BTreeSet<u64>>,
    /// Real threads: the next condition-variable ticket.
    pub(crate) next_ticket: u64,
    /// Real threads: each barrier's arrived count and generation.
    pub(crate) barriers: BTreeMap<usize, (usize, u64)>,
    /// Under shuttle: the threads waiting in a condition variable, and what shuttle told them.
    condvar_waits: Vec<CondvarWait>,
    /// Under shuttle: each condition variable's next `notify_one` epoch.
    epochs: BTreeMap<usize, u64>,
    /// Under shuttle: the task parked until every thread has finished.
    pub(crate) parked: Option<shuttle::thread::Thread>,
    /// How many threads the execution has started (the body's own not counted): the next one
    /// is `Thread-{started + 1}`.
    pub(crate) started: usize,
}

/// Under shuttle, a thread waiting in a condition variable, followed as shuttle follows it: a
/// `notify_one` signals every waiter with one epoch, the first waiter to wake takes it from
/// the others; a `notify_all` wakes each for good.
///
/// A waiter is recorded here just before shuttle's wait, which gives the mutex up at a
/// scheduling point of its own before it joins shuttle's waiters. A notify is certain to reach
/// a waiter when the mutex is held then (the waiter gave it up, so it has joined); one made
/// while the mutex is free may have come before, and is uncertain: contend then cannot tell
/// whether the waiter is stuck.
#[derive(Debug)]
struct CondvarWait {
    thread: usize,
    condvar: usize,
    /// The mutex it must lock again once woken.
    lock: Resource,
    /// The `notify_one` epochs pending for it, each with whether it certainly reached it.
    signals: VecDeque<(u64, bool)>,
    /// Whether a `notify_all` woke it: `Some(certain)`.
    broadcast: Option<bool>,
    /// shuttle's condition variable, to wake it once the execution is declared deadlocked.
    inner: std::sync::Arc<shuttle::sync::Condvar>,
}

impl CondvarWait {
    /// Whether shuttle has certainly told it to wake (it then only needs its mutex again).
    fn notified(&self) -> bool {
        self.broadcast == Some(true) || self.signals.iter().any(|&(_, certain)| certain)
    }

    /// Whether a notify may have woken it.
    fn maybe_notified(&self) -> bool {
        self.broadcast.is_some() || !self.signals.is_empty()
    }
}

impl WaitState {
    /// Forgets everything, keeping the room of its lists.
    fn renew(&mut self) {
        // Every field is named, so that a field added later must be renewed here too.
        let WaitState {
            graph,
            deadlock,
            condvar_waiters,
            next_ticket,
            barriers,
            condvar_waits,
            epochs,
            parked,
            started,
        } = self;
        graph.clear();
        *deadlock = None;
        condvar_waiters.clear();
        *next_ticket = 0;
        barriers.clear();
        condvar_waits.clear();
        epochs.clear();
        *parked = None;
        *started = 0;
    }

    /// Under shuttle: `thread` waits in condition variable `condvar` (shuttle's `inner`),
    /// having given up `lock`.
    pub(crate) fn condvar_wait(
        &mut self,
        thread: usize,
        condvar: usize,
        lock: Resource,
        inner: std::sync::Arc<shuttle::sync::Condvar>,
    ) {
        self.graph.release(thread, lock);
        self.graph.wait(thread, Resource::Condvar(condvar));
        self.condvar_waits.push(CondvarWait {
            thread,
            condvar,
            lock,
            signals: VecDeque::new(),
            broadcast: None,
            inner,
        });
    }

    /// Under shuttle: `condvar` was notified, as shuttle does it.
    pub(crate) fn condvar_notified(&mut self, condvar: usize, all: bool) {
        let epoch = self.epochs.entry(condvar).or_default();
        for wait in self.condvar_waits.iter_mut() {
            if wait.condvar != condvar || wait.broadcast == Some(true) {
                continue;
            }
            let certain = self.graph.is_held(wait.lock);
            if all {
                wait.broadcast = Some(certain);
                if certain {
                    wait.signals.clear();
                }
            } else {
                wait.signals.push_back((*epoch, certain));
            }
        }
        if !all {
            *epoch += 1;
        }
    }

    /// Under shuttle: `thread` came back from its condition variable's wait (holding its
    /// mutex again): the signal it took is no longer pending for the others.
    pub(crate) fn condvar_woken(&mut self, thread: usize) {
        let Some(place) = self.condvar_waits.iter().position(|w| w.thread == thread) else {
            return;
        };
        let wait = self.condvar_waits.remove(place);
        if wait.broadcast == Some(true) {
            return;
        }
        // The signal shuttle woke it with: its first certain one, else its first.
        let taken = wait
            .signals
            .iter()
            .find(|&&(_, certain)| certain)
            .or(wait.signals.front());
        if let Some(&(taken, _)) = taken {
            for other in self.condvar_waits.iter_mut() {
                if other.condvar == wait.condvar {
                    other.signals.retain(|&(e, _)| e != taken);
                }
            }
        }
    }

    /// Under shuttle: whether the wait of `thread` for `resource` in `mode` can never end as
    /// things stand, `None` if contend cannot tell (a barrier, a channel, a notify that may
    /// have come before the waiter joined) or could not wake it once the execution is declared
    /// deadlocked.
    fn stuck(&self, thread: usize, resource: Resource, mode: Mode) -> Option<bool> {
        match resource {
            Resource::Mutex(_) | Resource::Thread(_) | Resource::AllThreads => {
                Some(self.graph.is_held(resource))
            }
            Resource::RwLock(_) => Some(!self.graph.can_take(resource, mode)),
            Resource::Once(_) => Some(self.graph.holders(resource).iter().any(|&h| h != thread)),
            Resource::Condvar(_) => {
                let wait = self.condvar_waits.iter().find(|w| w.thread == thread)?;
                if wait.notified() {
                    Some(self.graph.is_held(wait.lock))
                } else if wait.maybe_notified() {
                    None
                } else {
                    Some(true)
                }
            }
            Resource::Barrier(_) | Resource::Channel(_) => None,
        }
    }

    /// Under shuttle, as `thread` is about to block (its wait recorded in the graph; `blocks`
    /// says whether it blocks when the graph cannot tell): declares the execution deadlocked if
    /// the wait closes a cycle of waits or leaves every thread stuck. What follows a declaration
    /// (waking condition-variable waiters) is left to [`Waits::declared_now`], once the lock is
    /// released.
    fn declare_if_stuck(&mut self, thread: usize, blocks: Option<bool>) -> Declared {
        if self.deadlock.is_some() {
            return Declared::Before;
        }
        // No thread waits: `thread` is on no cycle and, unless it blocks, not stuck; if it
        // blocks, the body's thread (which does not wait) can still go on, unless `thread` is
        // the body's thread. The common case, decided without looking further.
        if self.graph.nobody_waits() && (blocks != Some(true) || thread != 0) {
            return Declared::No;
        }
        self.declare_slowly(thread, blocks)
    }

    /// [`WaitState::declare_if_stuck`] once some thread waits.
    #[inline(never)]
    fn declare_slowly(&mut self, thread: usize, blocks: Option<bool>) -> Declared {
        if self.clearly_not_stuck(thread, blocks) {
            return Declared::No;
        }
        let deadlock = if self.graph.blocking_cycle_from(thread).is_some() {
            self.graph.certain_deadlock()
        } else if self.all_stuck(thread, blocks) {
            let mut deadlock = self.graph.certain_deadlock();
            deadlock.cycle = deadlock.cycle.or_else(|| self.graph.any_cycle());
            deadlock
        } else {
            return Declared::No;
        };
        self.deadlock = Some(deadlock);
        Declared::Now
    }

    /// Whether `thread`, about to block as [`WaitState::declare_if_stuck`] says, is on no cycle
    /// of waits and leaves a thread able to go on, in the two common cases told at a glance: a
    /// thread that waits for nothing (one ending, say) while the body's thread is not stuck, and
    /// a join of a running thread that waits for nothing. False when it takes a closer look.
    fn clearly_not_stuck(&self, thread: usize, blocks: Option<bool>) -> bool {
        match self.graph.waiting_for(thread) {
            // On no cycle: it waits for nothing. Unless it blocks, it is not stuck; if it does,
            // the body's thread, when it is another one and not stuck, can go on.
            None => blocks != Some(true) || (thread != 0 && !self.is_stuck(0)),
            // The joined thread holds its own end while it runs; waiting for nothing, it is on
            // no cycle and can go on.
            Some(Resource::Thread(joined)) => {
                blocks.is_none()
                    && joined != thread
                    && self.graph.is_held(Resource::Thread(joined))
                    && self.graph.waiting_for(joined).is_none()
            }
            Some(_) => false,
        }
    }

    /// Whether `thread`'s recorded wait can never end as things stand (false if it waits for
    /// nothing, or contend cannot tell).
    fn is_stuck(&self, thread: usize) -> bool {
        self.graph
            .wait_with_mode(thread)
            .is_some_and(|(resource, mode)| self.stuck(thread, resource, mode) == Some(true))
    }

    /// Under shuttle, as `thread` is about to block (`blocks`, if contend cannot tell from its
    /// recorded wait): whether every thread of the execution is then stuck, so that nothing
    /// can wake any of them.
    fn all_stuck(&self, thread: usize, blocks: Option<bool>) -> bool {
        let of = |t: usize| match self.graph.wait_with_mode(t) {
            Some((resource, mode)) => self.stuck(t, resource, mode),
            None => Some(false),
        };
        let mine = blocks.or_else(|| of(thread));
        if mine != Some(true) {
            return false;
        }
        // The body's thread is 0; the others hold their own end while they run.
        std::iter::once(0)
            .chain(self.graph.running_threads())
            .filter(|&t| t != thread)
            .all(|t| of(t) == Some(true))
    }
}

/// Thread `index`'s bit in [`Waits`]' word of ended threads, if it has one.
fn ended_bit(index: usize) -> Option<u64> {
    (index < 64).then(|| 1 << index)
}

/// The blocking state of an execution, and how long a wait may last on real threads.
#[derive(Debug)]
pub(crate) struct Waits {
    state: Mutex<WaitState>,
    changed: Condvar,
    timeout_nanos: AtomicU64,
    /// Whether the state holds a declared deadlock, set as one is declared: the common
    /// execution, which declares none, is told so without taking the lock.
    declared: AtomicBool,
    /// Under shuttle, bit `i` set once thread `i` (below 64) has ended, written under the lock
    /// as it ends: a join of a thread that ended is told so without taking the lock.
    ended: AtomicU64,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            state: Mutex::default(),
            changed: Condvar::new(),
            timeout_nanos: AtomicU64::new(DEFAULT_DEADLOCK_TIMEOUT.as_nanos() as u64),
            declared: AtomicBool::new(false),
            ended: AtomicU64::new(0),
        }
    }
}

impl Waits {
    fn lock(&self) -> MutexGuard<'_, WaitState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything, as a new execution's: see [`Execution::under_shuttle`].
    ///
    /// [`Execution::under_shuttle`]: crate::sync::context::Execution::under_shuttle
    pub(crate) fn renew(&mut self) {
        let Waits {
            state,
            changed: _,
            timeout_nanos,
            declared,
            ended,
        } = self;
        *declared.get_mut() = false;
        *ended.get_mut() = 0;
        state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .renew();
        *timeout_nanos.get_mut() = DEFAULT_DEADLOCK_TIMEOUT.as_nanos() as u64;
    }

    /// Sets the deadlock timeout on real threads.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.timeout_nanos.store(nanos.max(1), Ordering::Relaxed);
    }

    fn timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout_nanos.load(Ordering::Relaxed))
    }

    /// Applies `change` to the state, without waking anyone (a wait that was not blocked).
    pub(crate) fn with<R>(&self, change: impl FnOnce(&mut WaitState) -> R) -> R {
        change(&mut self.lock())
    }

    /// Applies `change` to the state and wakes every waiting thread to look again.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut WaitState) -> R) -> R {
        let result = change(&mut self.lock());
        self.changed.notify_all();
        result
    }

    /// Notes that the state holds a declared deadlock now (see [`Waits::declared`]).
    fn mark_declared(&self) {
        self.declared.store(true, Ordering::Release);
    }

    /// Passes `declared` on, noting a deadlock declared just now.
    fn noted(&self, declared: Declared) -> Declared {
        if declared == Declared::Now {
            self.mark_declared();
        }
        declared
    }

    /// Under shuttle, whether thread `index` has ended, told without taking the lock for the
    /// first 63 threads; `false` for the others (the caller then looks at the graph).
    fn has_ended(&self, index: usize) -> bool {
        ended_bit(index).is_some_and(|bit| self.ended.load(Ordering::Acquire) & bit != 0)
    }

    /// Whether a deadlock was declared, without taking the lock.
    fn any_declared(&self) -> bool {
        self.declared.load(Ordering::Acquire)
    }

    /// The deadlock declared, if one was.
    pub(crate) fn declared(&self) -> Option<Deadlock> {
        if !self.any_declared() {
            return None;
        }
        self.lock().deadlock.clone()
    }

    /// The deadlock the graph shows now (under shuttle, once shuttle found no thread runnable).
    pub(crate) fn describe(&self) -> Deadlock {
        self.lock().graph.deadlock()
    }

    /// Under shuttle, where a blocked thread blocks in shuttle's own primitive: called as
    /// `thread` is about to block (its wait recorded in the graph) and again once its wait
    /// ended. If the execution was declared deadlocked, or the thread's wait closes a cycle of
    /// waits (which declares it, with that cycle), the thread stops waiting and unwinds with
    /// [`DeadlockUnwind`], releasing what it holds, so that the threads it held up unwind in
    /// turn and the execution ends as a deadlock instead of shuttle ending the run.
    ///
    /// A cycle is a deadlock under shuttle too: each thread on it waits for something the next
    /// holds, and a waiting thread releases nothing.
    ///
    /// # Panics
    ///
    /// With a [`DeadlockUnwind`] payload (no panic message), as said.
    pub(crate) fn unwind_if_deadlocked(&self, thread: usize) {
        self.unwind_if_stuck(thread, None);
    }

    /// As [`Waits::unwind_if_deadlocked`], for a wait whose blocking contend cannot tell from
    /// the graph: `blocks` says whether `thread` is about to block.
    pub(crate) fn unwind_if_stuck(&self, thread: usize, blocks: Option<bool>) {
        if self.declare_if_stuck(thread, blocks) {
            self.unwind_declared(thread);
        }
    }

    /// Under shuttle, as `thread` is about to block (its wait recorded in the graph; `blocks`
    /// says whether it blocks when the graph cannot tell): declares the execution deadlocked if
    /// the wait closes a cycle of waits or leaves every thread stuck, and wakes the threads
    /// waiting in condition variables, so that they unwind. True if the execution is declared
    /// deadlocked, by this wait or before.
    pub(crate) fn declare_if_stuck(&self, thread: usize, blocks: Option<bool>) -> bool {
        let declared = self.lock().declare_if_stuck(thread, blocks);
        self.declared_now(self.noted(declared))
    }

    /// Whether the execution is declared deadlocked after [`WaitState::declare_if_stuck`] said
    /// `declared`, the execution's lock released: a deadlock declared just now is told to an
    /// exploring scheduler, and the threads waiting in condition variables are woken to unwind.
    pub(crate) fn declared_now(&self, declared: Declared) -> bool {
        match declared {
            Declared::No => false,
            Declared::Before => true,
            Declared::Now => self.after_declaring(),
        }
    }

    /// What follows a deadlock declared just now, out of line: the common execution declares
    /// none.
    #[cold]
    #[inline(never)]
    fn after_declaring(&self) -> bool {
        dpor::declare_deadlock();
        self.wake_condvar_waiters();
        true
    }

    /// Under shuttle, as `thread` joins thread `target` (a join of a finished thread waits for
    /// nothing): records the wait if `target` still runs and, in the same look at the state,
    /// declares the execution deadlocked if that leaves `thread` stuck, as
    /// [`Waits::declare_if_stuck`]. Says whether `thread` waits, and whether the execution is
    /// declared deadlocked (the caller then unwinds, with [`Waits::unwind_declared`]).
    pub(crate) fn wait_for_thread(&self, thread: usize, target: usize) -> (bool, Declared) {
        if self.has_ended(target) {
            // The join returns at once: nothing waits, and nothing is stuck by it.
            return (false, Declared::No);
        }
        let target = Resource::Thread(target);
        let mut state = self.lock();
        let running = state.graph.is_held(target);
        if running {
            state.graph.wait(thread, target);
        }
        let declared = state.declare_if_stuck(thread, None);
        drop(state);
        (running, self.noted(declared))
    }

    /// Under shuttle, once `thread`'s join has returned: it waits no more (`waited`: it had
    /// waited, as [`Waits::wait_for_thread`] said). True if the execution was declared
    /// deadlocked meanwhile (the caller then unwinds, with [`Waits::unwind_declared`]).
    pub(crate) fn joined(&self, thread: usize, waited: bool) -> bool {
        if !waited {
            // No wait to forget: the flag tells the rest.
            return self.any_declared();
        }
        let mut state = self.lock();
        state.graph.stop_waiting(thread);
        state.deadlock.is_some()
    }

    /// Under shuttle, as [`Waits::unwind_if_stuck`] once the deadlock is declared: `thread`
    /// stops waiting and unwinds.
    ///
    /// # Panics
    ///
    /// With a [`DeadlockUnwind`] payload (no panic message), always.
    #[cold]
    #[inline(never)]
    pub(crate) fn unwind_declared(&self, thread: usize) -> ! {
        self.lock().graph.stop_waiting(thread);
        context::log_access(thread, || {
            (
                AccessKind::Other,
                "deadlocked: unwinds, releasing what it holds".to_string(),
            )
        });
        std::panic::resume_unwind(Box::new(DeadlockUnwind));
    }

    /// Under shuttle, as thread `index` ends: it gives up its own end and its share of every
    /// thread's, and, in the same look at the state, an end that leaves every other thread
    /// stuck (the signal it took was the one the others waited for, say) declares the
    /// deadlock, as [`Waits::declare_if_stuck`], and the task parked until every thread has
    /// finished is taken out, to be woken; `check` false (a thread unwinding) skips both.
    pub(crate) fn thread_ended(
        &self,
        index: usize,
        check: bool,
    ) -> (Declared, Option<shuttle::thread::Thread>) {
        let mut state = self.lock();
        state.graph.release(index, Resource::Thread(index));
        state.graph.release(index, Resource::AllThreads);
        if let Some(bit) = ended_bit(index) {
            // Under the lock, which every writer of the word takes: a read then a write.
            let ended = self.ended.load(Ordering::Relaxed);
            self.ended.store(ended | bit, Ordering::Release);
        }
        if check {
            let declared = state.declare_if_stuck(index, Some(true));
            let parked = state.parked.take();
            drop(state);
            (self.noted(declared), parked)
        } else {
            (Declared::No, None)
        }
    }

    /// Under shuttle, once the execution is declared deadlocked: wakes every thread waiting in
    /// a condition variable, which nothing else will notify now, so that it unwinds. A waiter
    /// that has not joined shuttle's waiters yet (it gives its mutex up at a scheduling point
    /// first) is not woken: the end of the body wakes the waiters again until every thread has
    /// ended (see [`crate::sync::context::Execution::wait_for_threads`]).
    pub(crate) fn wake_condvar_waiters(&self) {
        let mut wake: Vec<std::sync::Arc<shuttle::sync::Condvar>> = Vec::new();
        for wait in self.lock().condvar_waits.iter() {
            if !wake.iter().any(|c| std::sync::Arc::ptr_eq(c, &wait.inner)) {
                wake.push(std::sync::Arc::clone(&wait.inner));
            }
        }
        // A notify is a scheduling point: the execution's lock is free by now.
        for condvar in wake {
            condvar.notify_all();
        }
    }

    /// Real threads: blocks `thread` until `ready` gives a value, recorded as waiting for
    /// `resource` in the meantime. `ready` runs under the execution's lock each time the state
    /// changes.
    ///
    /// # Panics
    ///
    /// With a [`DeadlockUnwind`] payload (no panic message) when the execution is declared
    /// deadlocked: by this wait, if it closes a cycle or outlasts the deadlock timeout, or by
    /// another thread's.
    pub(crate) fn block_on<R>(
        &self,
        thread: usize,
        resource: Resource,
        ready: impl FnMut(&mut WaitState) -> Option<R>,
    ) -> R {
        self.block_until(thread, resource, None, ready)
    }

    /// As [`Waits::block_on`], but a wait with a `deadline` wakes at it to let `ready` see that
    /// it passed, and never counts as deadlocked for its length alone: it ends by itself.
    pub(crate) fn block_until<R>(
        &self,
        thread: usize,
        resource: Resource,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&mut WaitState) -> Option<R>,
    ) -> R {
        let timeout = self.timeout();
        let started = Instant::now();
        let mut state = self.lock();
        let mut registered = false;
        loop {
            if state.deadlock.is_some() {
                state.graph.stop_waiting(thread);
                drop(state);
                std::panic::resume_unwind(Box::new(DeadlockUnwind));
            }
            if let Some(value) = ready(&mut state) {
                state.graph.stop_waiting(thread);
                return value;
            }
            if !registered {
                registered = true;
                // A mutex holder's word read while this thread ran may be out of date now.
                state.graph.forget_lock_holds_of(thread);
                state.graph.wait(thread, resource);
                if state.graph.cycle_from(thread).is_some() {
                    state.deadlock = Some(state.graph.deadlock());
                    self.mark_declared();
                    self.changed.notify_all();
                    continue;
                }
            }
            let waited = started.elapsed();
            if deadline.is_none() && waited >= timeout {
                let mut deadlock = state.graph.deadlock();
                deadlock.timed_out = deadlock.cycle.is_none().then_some(timeout);
                state.deadlock = Some(deadlock);
                self.mark_declared();
                self.changed.notify_all();
                continue;
            }
            let pause = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => timeout - waited,
            };
            state = self
                .changed
                .wait_timeout(state, pause)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Real threads: `thread` has slept a slice in mutex `resource`'s lock, which `holder`
    /// holds as its holder word says, and has waited `waited` in all. Records the wait and the
    /// holder in the graph (the holder again, at each slice: it may have changed) and declares
    /// the execution deadlocked if the wait closes a cycle of waits or has outlasted the
    /// deadlock timeout. See [`crate::sync::held`].
    ///
    /// A holder is recorded only by the threads that wait for the lock, and a thread's
    /// recorded holds are forgotten whenever it starts to wait: so every hold the graph records
    /// of a waiting thread was read while it waited, and holds still. A cycle through such
    /// holds is a deadlock; one whose holds were forgotten is found at the next slice.
    ///
    /// # Panics
    ///
    /// With a [`DeadlockUnwind`] payload (no panic message) when the execution is declared
    /// deadlocked, by this wait or another thread's.
    pub(crate) fn wait_for_lock(
        &self,
        thread: usize,
        resource: Resource,
        holder: Option<usize>,
        waited: Duration,
    ) {
        let mut state = self.lock();
        if state.deadlock.is_none() {
            if state.graph.wait_with_mode(thread).is_none() {
                state.graph.forget_lock_holds_of(thread);
                state.graph.wait(thread, resource);
            }
            state.graph.set_lock_holder(resource, holder);
            let timeout = self.timeout();
            if state.graph.cycle_from(thread).is_some() {
                state.deadlock = Some(state.graph.deadlock());
            } else if waited >= timeout {
                let mut deadlock = state.graph.deadlock();
                deadlock.timed_out = deadlock.cycle.is_none().then_some(timeout);
                state.deadlock = Some(deadlock);
            } else {
                return;
            }
            self.mark_declared();
            self.changed.notify_all();
        }
        state.graph.stop_waiting(thread);
        drop(state);
        std::panic::resume_unwind(Box::new(DeadlockUnwind));
    }

    /// Real threads: `thread`, whose wait for a mutex joined the graph with
    /// [`Waits::wait_for_lock`], holds the mutex now.
    pub(crate) fn stop_waiting_for_lock(&self, thread: usize) {
        self.lock().graph.stop_waiting(thread);
    }

    /// Real threads, after the body returned: waits until `all_done` holds, but after a deadlock
    /// was declared no longer than the deadlock timeout (a thread stuck outside contend's
    /// primitives cannot be unwound, and is left behind). True if everything finished.
    pub(crate) fn wait_for_end(&self, mut all_done: impl FnMut(&WaitState) -> bool) -> bool {
        let timeout = self.timeout();
        let mut state = self.lock();
        let mut declared_at: Option<Instant> = None;
        loop {
            if all_done(&state) {
                return true;
            }
            if state.deadlock.is_some() {
                let since = *declared_at.get_or_insert_with(Instant::now);
                if since.elapsed() >= timeout {
                    return false;
                }
            }
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(50).min(timeout))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::graph::Mode;

    /// Thread `index` running: it holds its own end and a share of every thread's.
    fn run_thread(waits: &Waits, index: usize) {
        waits.with(|state| {
            state
                .graph
                .hold(index, Resource::Thread(index), Mode::Exclusive);
            state.graph.hold(index, Resource::AllThreads, Mode::Shared);
        });
    }

    /// A join of a thread that has ended waits for nothing; a join of one still running waits
    /// for it in the graph, for threads past the 63 the word of ended threads covers too.
    #[test]
    fn a_join_waits_in_the_graph_only_for_a_thread_still_running() {
        for target in [1, 63, 64, 70] {
            let waits = Waits::default();
            run_thread(&waits, target);
            let (blocked, declared) = waits.wait_for_thread(0, target);
            assert!(blocked, "thread {target} runs: the join waits");
            assert_eq!(declared, Declared::No);
            assert!(!waits.joined(0, blocked), "no deadlock was declared");
            waits.thread_ended(target, false);
            let (blocked, declared) = waits.wait_for_thread(0, target);
            assert!(
                !blocked,
                "thread {target} has ended: the join does not wait"
            );
            assert_eq!(declared, Declared::No);
            assert!(waits.with(|state| state.graph.nobody_waits()));
        }
    }

    /// A renewed state forgets which threads ended: the next execution's thread of the same
    /// index is running.
    #[test]
    fn a_renewed_state_forgets_the_threads_that_ended() {
        let mut waits = Waits::default();
        run_thread(&waits, 1);
        waits.thread_ended(1, false);
        waits.renew();
        run_thread(&waits, 1);
        assert!(
            waits.wait_for_thread(0, 1).0,
            "thread 1 of the next execution runs"
        );
    }
}
