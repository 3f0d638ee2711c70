//! The blocking state of one execution: its wait-for graph, the state of its condition variables
//! and barriers on real threads, and the deadlock once one is declared.
//!
//! Under shuttle the primitives block in shuttle's own types and keep the graph here: a wait
//! that closes a cycle declares the execution deadlocked, and the threads on it unwind with
//! [`DeadlockUnwind`] (see [`Waits::unwind_if_deadlocked`]); a deadlock without a cycle (a
//! condition variable never notified) is still found by shuttle, and the graph describes it. On real threads every blocking operation
//! waits here, on one lock and one condition variable per execution, with a timeout: a wait that
//! closes a cycle of waits, or lasts longer than the deadlock timeout, declares the execution
//! deadlocked, and every thread blocked in it unwinds with [`DeadlockUnwind`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::sync::context::{self, AccessKind};
use crate::sync::deadlock::{Deadlock, DeadlockUnwind};
use crate::sync::graph::{Resource, WaitGraph};

/// How long a thread may wait in one blocking operation on real threads before the execution is
/// declared deadlocked, unless [`crate::check::Check::deadlock_timeout`] says otherwise.
pub const DEFAULT_DEADLOCK_TIMEOUT: Duration = Duration::from_secs(3);

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
}

/// The blocking state of an execution, and how long a wait may last on real threads.
#[derive(Debug)]
pub(crate) struct Waits {
    state: Mutex<WaitState>,
    changed: Condvar,
    timeout_nanos: AtomicU64,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            state: Mutex::default(),
            changed: Condvar::new(),
            timeout_nanos: AtomicU64::new(DEFAULT_DEADLOCK_TIMEOUT.as_nanos() as u64),
        }
    }
}

impl Waits {
    fn lock(&self) -> MutexGuard<'_, WaitState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// The deadlock declared, if one was.
    pub(crate) fn declared(&self) -> Option<Deadlock> {
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
        let mut state = self.lock();
        if state.deadlock.is_none() {
            if state.graph.blocking_cycle_from(thread).is_none() {
                return;
            }
            state.deadlock = Some(state.graph.certain_deadlock());
        }
        state.graph.stop_waiting(thread);
        drop(state);
        context::log_access(thread, || {
            (
                AccessKind::Other,
                "deadlocked: unwinds, releasing what it holds".to_string(),
            )
        });
        std::panic::resume_unwind(Box::new(DeadlockUnwind));
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
                state.graph.wait(thread, resource);
                if state.graph.cycle_from(thread).is_some() {
                    state.deadlock = Some(state.graph.deadlock());
                    self.changed.notify_all();
                    continue;
                }
            }
            let waited = started.elapsed();
            if deadline.is_none() && waited >= timeout {
                let mut deadlock = state.graph.deadlock();
                deadlock.timed_out = deadlock.cycle.is_none().then_some(timeout);
                state.deadlock = Some(deadlock);
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
