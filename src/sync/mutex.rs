//! A mutual-exclusion lock inside a check, as [`std::sync::Mutex`], named `mutex#N` (or the
//! name it was made with, [`Mutex::named`]).
//!
//! Under shuttle it is shuttle's mutex: taking it is a scheduling point, and an attempt that
//! closes a cycle of waits unwinds the thread as a deadlock instead of blocking. On real threads
//! it is a blocking lock whose waiters sleep in the kernel, with a word naming its holder
//! ([`crate::sync::held`]): a free mutex is taken and let go without the execution's wait-for
//! graph, and a thread that waits for it longer than a slice records the wait and the holder
//! there, so that the wait that closes a cycle, or outlasts the deadlock timeout, unwinds the
//! stuck threads. Either way the graph says who holds it whenever a thread waits for it, and
//! the interleaving shows each attempt that blocks, each lock and each unlock.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult};

use crate::schedule::dpor::{self, Access, Object};
use crate::sync::context::{self, AccessKind, Backend, Execution, ObjectKind};
use crate::sync::graph::{Mode, Resource};
use crate::sync::held::{HeldGuard, HeldLock};

/// A mutual-exclusion lock, as [`std::sync::Mutex`]. Taking it is one access: a scheduling
/// point under shuttle, a place where jitter is injected on real threads. Named `mutex#N` in
/// interleavings and deadlock cycles. A value that must show in the interleaving can be a
/// [`crate::sync::Shared`] cell held in the mutex: `Mutex<Shared>`.
pub struct Mutex<T> {
    pub(crate) number: usize,
    /// Its name in interleavings and deadlock cycles: `mutex#N`, or the name it was made with.
    pub(crate) label: String,
    pub(crate) execution: Arc<Execution>,
    inner: Kind<T>,
}

enum Kind<T> {
    Shuttle(shuttle::sync::Mutex<T>),
    Threads(HeldLock<T>),
}

/// Holds a [`Mutex`] until dropped, and gives access to its data.
pub struct MutexGuard<'a, T> {
    pub(crate) mutex: &'a Mutex<T>,
    pub(crate) thread: usize,
    /// `None` once given up (dropped, or handed to a condition variable).
    pub(crate) inner: Option<GuardKind<'a, T>>,
}

pub(crate) enum GuardKind<'a, T> {
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
    Threads(HeldGuard<'a, T>),
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mutex(mutex#{})", self.number)
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Maps a lock result's guard, poisoned or not.
pub(crate) fn map_lock<A, B>(result: LockResult<A>, f: impl FnOnce(A) -> B) -> LockResult<B> {
    match result {
        Ok(inner) => Ok(f(inner)),
        Err(poisoned) => Err(PoisonError::new(f(poisoned.into_inner()))),
    }
}

impl<T> Mutex<T> {
    /// Tries shuttle's `mutex` (this mutex's own), announced as a try: a failure reads the
    /// lock, a success takes it.
    fn try_shuttle<'a>(
        &self,
        mutex: &'a shuttle::sync::Mutex<T>,
    ) -> std::sync::TryLockResult<shuttle::sync::MutexGuard<'a, T>> {
        dpor::announce(Access::TryLock(self.dpor_object()));
        let tried = mutex.try_lock();
        dpor::settle();
        if !matches!(tried, Err(TryLockError::WouldBlock)) {
            dpor::note(Access::Acquire(self.dpor_object()));
        }
        tried
    }

    /// An unlocked mutex holding `value`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(value: T) -> Mutex<T> {
        let execution = context::execution();
        let inner = match execution.backend {
            Backend::Shuttle => Kind::Shuttle(shuttle::sync::Mutex::new(value)),
            Backend::Threads => Kind::Threads(HeldLock::new(value)),
        };
        let number = execution.number(ObjectKind::Mutex);
        Mutex {
            number,
            label: format!("mutex#{number}"),
            execution,
            inner,
        }
    }

    /// An unlocked mutex holding `value`, named `name` in interleavings and deadlock cycles
    /// instead of `mutex#N`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn named(name: impl Into<String>, value: T) -> Mutex<T> {
        let mut mutex = Mutex::new(value);
        mutex.label = name.into();
        let (resource, label) = (mutex.resource(), mutex.label.clone());
        mutex
            .execution
            .waits
            .with(|state| state.graph.name(resource, label));
        mutex
    }

    fn resource(&self) -> Resource {
        Resource::Mutex(self.number)
    }

    /// Blocks until the lock is held, as [`std::sync::Mutex::lock`]: an error if a thread
    /// panicked while holding it, with the guard inside.
    ///
    /// # Panics
    ///
    /// With no message, when the execution deadlocks while this thread waits, or this wait
    /// closes a cycle of waits: the check reports the deadlock.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        if let Kind::Threads(held) = &self.inner {
            return self.lock_on_threads(held);
        }
        let thread = context::before_access();
        let result = self.acquire(thread);
        context::log_access(thread, || {
            (AccessKind::Other, format!("lock {}", self.label))
        });
        result
    }

    /// [`Mutex::lock`] on real threads, inlined into the caller: one look-up of the thread
    /// (which injects its jitter), the lock, and the log only if the execution keeps one.
    #[inline(always)]
    fn lock_on_threads<'a>(&'a self, held: &'a HeldLock<T>) -> LockResult<MutexGuard<'a, T>> {
        let thread = context::before_access();
        let (inner, poisoned) = held.take(thread, &self.execution.waits, self.resource());
        if let Some(log) = &self.execution.log {
            log.push(thread, AccessKind::Other, format!("lock {}", self.label));
        }
        let guard = MutexGuard {
            mutex: self,
            thread,
            inner: Some(GuardKind::Threads(inner)),
        };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Takes the lock on real threads as thread `thread` of its execution, blocking while it is
    /// held; with whether it is poisoned. It is the lock [`Mutex::lock`] takes on real threads (a
    /// free lock is tried and named by a holder word, a long wait joins the wait-for graph and
    /// may declare a deadlock), for an engine that starts the execution's threads itself and
    /// injects their jitter itself: without the look-up of the current thread, and without a
    /// log, which such an execution does not keep.
    ///
    /// # Panics
    ///
    /// Under shuttle; and as [`Mutex::lock`] when the execution deadlocks.
    #[inline(always)]
    pub(crate) fn hold_on_thread(&self, thread: usize) -> (HeldGuard<'_, T>, bool) {
        let Kind::Threads(held) = &self.inner else {
            panic!("a mutex under shuttle is taken with Mutex::lock");
        };
        held.take(thread, &self.execution.waits, self.resource())
    }

    /// The mutex as an exploring scheduler names it.
    pub(crate) fn dpor_object(&self) -> Object {
        Object::Lock(ObjectKind::Mutex.id(self.number))
    }

    /// Takes the lock as `thread`, blocking, without logging the lock itself.
    pub(crate) fn acquire(&self, thread: usize) -> LockResult<MutexGuard<'_, T>> {
        let resource = self.resource();
        let waits = &self.execution.waits;
        let guard = |inner| MutexGuard {
            mutex: self,
            thread,
            inner: Some(inner),
        };
        match &self.inner {
            Kind::Shuttle(mutex) => {
                // Recorded as waiting whether or not the mutex is held now: shuttle's lock is a
                // scheduling point before it takes the mutex, at which another thread may take
                // it first. A thread that takes it stops waiting.
                let holders = waits.with(|state| {
                    state.graph.wait(thread, resource);
                    state.graph.holders(resource)
                });
                if !holders.is_empty() {
                    let label = &self.label;
                    context::log_access(thread, || {
                        let held: Vec<String> =
                            holders.into_iter().map(context::thread_name).collect();
                        (
                            AccessKind::Other,
                            format!("lock {label}: blocked, held by {}", held.join(", ")),
                        )
                    });
                }
                // A wait that closes a cycle of waits unwinds here, before shuttle would block.
                waits.unwind_if_deadlocked(thread);
                dpor::announce(Access::Acquire(self.dpor_object()));
                let result = mutex.lock();
                dpor::settle();
                waits.with(|state| state.graph.hold(thread, resource, Mode::Exclusive));
                let result = map_lock(result, |inner| guard(GuardKind::Shuttle(inner)));
                // A thread another's deadlock held up unwinds once it has the lock, which its
                // guard then gives up.
                waits.unwind_if_deadlocked(thread);
                result
            }
            Kind::Threads(held) => match held.take(thread, waits, resource) {
                (inner, false) => Ok(guard(GuardKind::Threads(inner))),
                (inner, true) => Err(PoisonError::new(guard(GuardKind::Threads(inner)))),
            },
        }
    }

    /// Takes the lock if no thread holds it, as [`std::sync::Mutex::try_lock`]. One access.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let thread = context::before_access();
        let resource = self.resource();
        let waits = &self.execution.waits;
        let guard = |inner| MutexGuard {
            mutex: self,
            thread,
            inner: Some(inner),
        };
        let result = match &self.inner {
            Kind::Shuttle(mutex) => match self.try_shuttle(mutex) {
                Ok(inner) => Ok(guard(GuardKind::Shuttle(inner))),
                Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(
                    guard(GuardKind::Shuttle(p.into_inner())),
                ))),
                Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            },
            Kind::Threads(held) => match held.try_take(thread) {
                Ok(inner) => Ok(guard(GuardKind::Threads(inner))),
                Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(
                    guard(GuardKind::Threads(p.into_inner())),
                ))),
                Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            },
        };
        let taken = !matches!(result, Err(TryLockError::WouldBlock));
        if taken && matches!(self.inner, Kind::Shuttle(_)) {
            waits.with(|state| state.graph.hold(thread, resource, Mode::Exclusive));
        }
        let label = &self.label;
        context::log_access(thread, || {
            let text = if taken {
                format!("try_lock {label}")
            } else {
                format!("try_lock {label}: held")
            };
            (AccessKind::Other, text)
        });
        result
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> LockResult<T> {
        match self.inner {
            Kind::Shuttle(mutex) => mutex.into_inner(),
            Kind::Threads(held) => held.into_inner(),
        }
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match &mut self.inner {
            Kind::Shuttle(mutex) => mutex.get_mut(),
            Kind::Threads(held) => held.get_mut(),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    /// An unlocked mutex holding `T`'s default.
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> MutexGuard<'_, T> {
    /// Gives the lock up: logs the unlock, releases it and updates the wait-for graph. Does
    /// nothing if it was given up already.
    #[inline]
    pub(crate) fn give_up(&mut self) {
        if let Some(GuardKind::Threads(_)) = &self.inner {
            // On real threads the graph never heard of the hold: the lock alone lets go,
            // after the unlock is logged, if the execution keeps a log.
            if let Some(log) = &self.mutex.execution.log {
                let text = format!("unlock {}", self.mutex.label);
                log.push(self.thread, AccessKind::Other, text);
            }
            self.inner = None;
            return;
        }
        let Some(inner) = self.inner.take() else {
            return;
        };
        let label = &self.mutex.label;
        // Logged before the lock is released, so that the log keeps the order of events.
        context::log_access(self.thread, || {
            (AccessKind::Other, format!("unlock {label}"))
        });
        let resource = self.mutex.resource();
        let waits = &self.mutex.execution.waits;
        match inner {
            GuardKind::Shuttle(guard) => {
                waits.with(|state| state.graph.release(self.thread, resource));
                dpor::announce(Access::Release(self.mutex.dpor_object()));
                drop(guard);
                dpor::settle();
            }
            GuardKind::Threads(_) => {
                unreachable!("give_up lets go of a lock on real threads first")
            }
        }
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self
            .inner
            .as_ref()
            .expect("a guard holds its lock until dropped")
        {
            GuardKind::Shuttle(guard) => guard,
            GuardKind::Threads(guard) => guard,
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self
            .inner
            .as_mut()
            .expect("a guard holds its lock until dropped")
        {
            GuardKind::Shuttle(guard) => &mut *guard,
            GuardKind::Threads(guard) => &mut *guard,
        }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.give_up();
    }
}
