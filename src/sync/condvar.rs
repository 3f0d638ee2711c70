//! A condition variable inside a check, as [`std::sync::Condvar`], named `condvar#N` (or the
//! name it was made with, [`Condvar::named`]).
//!
//! Under shuttle it is shuttle's; on real threads each waiter holds a ticket in the execution's
//! wait state until a notify takes it, and waits with the deadlock timeout. The interleaving
//! shows each wait (and the unlock it makes), each wake-up and each notify: the lost wake-up
//! behind an `if` that should be a `while` reads off it.

use std::fmt;
use std::sync::{Arc, LockResult, PoisonError};
use std::time::{Duration, Instant};

use crate::schedule::dpor::{self, Access};
use crate::sync::context::{self, AccessKind, Backend, Execution, ObjectKind};
use crate::sync::graph::{Mode, Resource};
use crate::sync::mutex::{GuardKind, MutexGuard, map_lock};

/// A condition variable, as [`std::sync::Condvar`]: waits block the thread until notified, and
/// may wake spuriously, so wait in a loop on the condition (or with [`Condvar::wait_while`]).
pub struct Condvar {
    number: usize,
    /// Its name in interleavings and deadlock cycles: `condvar#N`, or the name it was made with.
    label: String,
    execution: Arc<Execution>,
    /// shuttle's, shared with the execution's wait state while a thread waits in it, so that a
    /// deadlock declared elsewhere can wake the waiters to unwind.
    inner: Option<Arc<shuttle::sync::Condvar>>,
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Condvar(condvar#{})", self.number)
    }
}

/// Whether a [`Condvar::wait_timeout`] ended because its time ran out, as
/// [`std::sync::WaitTimeoutResult`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out rather than being notified.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl Condvar {
    /// A condition variable with no waiter.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new() -> Condvar {
        let execution = context::execution();
        let inner = (execution.backend == Backend::Shuttle)
            .then(|| Arc::new(shuttle::sync::Condvar::new()));
        let number = execution.number(ObjectKind::Condvar);
        Condvar {
            number,
            label: format!("condvar#{number}"),
            execution,
            inner,
        }
    }

    /// A condition variable with no waiter, named `name` in interleavings and deadlock cycles
    /// instead of `condvar#N`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn named(name: impl Into<String>) -> Condvar {
        let mut condvar = Condvar::new();
        condvar.label = name.into();
        let (resource, label) = (Resource::Condvar(condvar.number), condvar.label.clone());
        condvar
            .execution
            .waits
            .with(|state| state.graph.name(resource, label));
        condvar
    }

    /// Unlocks `guard`'s mutex and blocks until notified, then locks it again, as
    /// [`std::sync::Condvar::wait`]. One access, logged as the wait and as the wake-up.
    ///
    /// # Panics
    ///
    /// With no message, when the execution deadlocks while this thread waits.
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let thread = context::before_access();
        let mutex = guard.mutex;
        let (number, locked) = (self.number, mutex.number);
        let waits = &self.execution.waits;
        if self.inner.is_some() {
            // Under shuttle, a thread of a deadlocked execution unwinds rather than wait.
            waits.unwind_if_deadlocked(thread);
        }
        let me = Resource::Condvar(number);
        let lock = Resource::Mutex(locked);
        context::log_access(thread, || {
            (
                AccessKind::Other,
                format!("wait {} (unlocks {})", self.label, mutex.label),
            )
        });
        let inner = guard
            .inner
            .take()
            .expect("a guard holds its lock until dropped");
        drop(guard);
        let woken = |result| {
            context::log_access(thread, || {
                (
                    AccessKind::Other,
                    format!("woken on {} (locks {})", self.label, mutex.label),
                )
            });
            result
        };
        match (inner, &self.inner) {
            (GuardKind::Shuttle(inner), Some(condvar)) => {
                waits.with(|state| state.condvar_wait(thread, number, lock, Arc::clone(condvar)));
                // A wait that leaves no thread able to go on (nobody left to notify, say)
                // unwinds here, before shuttle would block; `inner` gives the mutex up.
                waits.unwind_if_deadlocked(thread);
                // The wait releases the lock and takes it again at scheduling points of its own,
                // all announced as the wait: the search tells them apart.
                let wait = Access::Wait(self.dpor_object(), mutex.dpor_object());
                let result = dpor::during(wait, || condvar.wait(inner));
                dpor::note(Access::Acquire(mutex.dpor_object()));
                waits.with(|state| {
                    state.condvar_woken(thread);
                    state.graph.hold(thread, lock, Mode::Exclusive);
                });
                let result = map_lock(result, |inner| MutexGuard {
                    mutex,
                    thread,
                    inner: Some(GuardKind::Shuttle(inner)),
                });
                waits.unwind_if_deadlocked(thread);
                woken(result)
            }
            (GuardKind::Threads(inner), None) => {
                let ticket = waits.update(|state| {
                    // Let go under the execution's lock, so that no thread takes the mutex and
                    // notifies before this wait's ticket is taken.
                    drop(inner);
                    state.graph.release(thread, lock);
                    let ticket = state.next_ticket;
                    state.next_ticket += 1;
                    state
                        .condvar_waiters
                        .entry(number)
                        .or_default()
                        .insert(ticket);
                    ticket
                });
                waits.block_on(thread, me, |state| {
                    let waiting = state
                        .condvar_waiters
                        .get(&number)
                        .is_some_and(|tickets| tickets.contains(&ticket));
                    (!waiting).then_some(())
                });
                woken(mutex.acquire(thread))
            }
            _ => unreachable!("a mutex and a condition variable of one execution"),
        }
    }

    /// Waits as [`Condvar::wait`] does, but no longer than about `duration`, as
    /// [`std::sync::Condvar::wait_timeout`]. Under shuttle, where time does not pass, the wait
    /// times out at once after a scheduling point (a timed wait may always time out): the
    /// caller sees the timed-out path, and no execution deadlocks on a timed wait.
    pub fn wait_timeout<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        duration: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let thread = context::before_access();
        let mutex = guard.mutex;
        let (number, locked) = (self.number, mutex.number);
        let waits = &self.execution.waits;
        context::log_access(thread, || {
            (
                AccessKind::Other,
                format!("wait_timeout {} (unlocks {})", self.label, mutex.label),
            )
        });
        let inner = guard
            .inner
            .take()
            .expect("a guard holds its lock until dropped");
        drop(guard);
        let timed_out = match inner {
            GuardKind::Shuttle(inner) => {
                waits.with(|state| state.graph.release(thread, Resource::Mutex(locked)));
                dpor::announce(Access::Release(mutex.dpor_object()));
                drop(inner);
                dpor::settle();
                shuttle::thread::yield_now();
                true
            }
            GuardKind::Threads(inner) => {
                let ticket = waits.update(|state| {
                    // Let go under the execution's lock, as in `wait`.
                    drop(inner);
                    state.graph.release(thread, Resource::Mutex(locked));
                    let ticket = state.next_ticket;
                    state.next_ticket += 1;
                    let tickets = state.condvar_waiters.entry(number).or_default();
                    tickets.insert(ticket);
                    ticket
                });
                let deadline = Instant::now() + duration;
                let me = Resource::Condvar(number);
                waits.block_until(thread, me, Some(deadline), |state| {
                    let tickets = state.condvar_waiters.entry(number).or_default();
                    if !tickets.contains(&ticket) {
                        Some(false)
                    } else if Instant::now() >= deadline {
                        tickets.remove(&ticket);
                        Some(true)
                    } else {
                        None
                    }
                })
            }
        };
        context::log_access(thread, || {
            let how = if timed_out { "timed out" } else { "woken" };
            (
                AccessKind::Other,
                format!("{how} on {} (locks {})", self.label, mutex.label),
            )
        });
        let result = mutex.acquire(thread);
        let waited = WaitTimeoutResult(timed_out);
        match result {
            Ok(guard) => Ok((guard, waited)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), waited))),
        }
    }

    /// Waits while `condition` holds of the data, as [`std::sync::Condvar::wait_while`].
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes one waiting thread, if any, as [`std::sync::Condvar::notify_one`]. One access.
    pub fn notify_one(&self) {
        self.notify(false);
    }

    /// Wakes every waiting thread, as [`std::sync::Condvar::notify_all`]. One access.
    pub fn notify_all(&self) {
        self.notify(true);
    }

    /// The condition variable as an exhaustive search names it.
    fn dpor_object(&self) -> dpor::access::Object {
        dpor::access::waitable(ObjectKind::Condvar, self.number)
    }

    /// What a notify does, as an exhaustive search sees it: it writes the condition variable.
    fn dpor_access(&self) -> Access {
        Access::Write(self.dpor_object())
    }

    fn notify(&self, all: bool) {
        let thread = context::before_access();
        let number = self.number;
        context::log_access(thread, || {
            let which = if all { "notify_all" } else { "notify_one" };
            (AccessKind::Other, format!("{which} {}", self.label))
        });
        match &self.inner {
            Some(condvar) => {
                if all {
                    dpor::around(self.dpor_access(), || condvar.notify_all());
                } else {
                    dpor::around(self.dpor_access(), || condvar.notify_one());
                }
                // shuttle's notify is done: the waits follow it, with no scheduling point
                // between.
                let waits = &self.execution.waits;
                waits.with(|state| state.condvar_notified(number, all));
            }
            None => self.execution.waits.update(|state| {
                if let Some(tickets) = state.condvar_waiters.get_mut(&number) {
                    if all {
                        tickets.clear();
                    } else {
                        tickets.pop_first();
                    }
                }
            }),
        }
    }
}
