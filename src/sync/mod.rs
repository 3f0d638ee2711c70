//! The primitive API every workload is written on, std look-alike: a [`Mutex`], the [`atomic`]
//! types and the accounted cell [`Shared`], with threads in [`crate::thread`].
//!
//! Each is shuttle's under shuttle and std's plus jitter on real threads, chosen when it is
//! created from the engine running the execution.

pub mod atomic;
pub(crate) mod context;
mod growable;
mod shared;

pub use shared::Shared;

use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError};

use context::{AccessKind, Backend, ObjectKind};

/// A mutual-exclusion lock, as [`std::sync::Mutex`]. Taking it is one access: a scheduling
/// point under shuttle, a place where jitter is injected on real threads. Named `mutex#N` in
/// interleavings.
#[derive(Debug)]
pub struct Mutex<T> {
    number: usize,
    inner: MutexKind<T>,
}

#[derive(Debug)]
enum MutexKind<T> {
    Shuttle(shuttle::sync::Mutex<T>),
    Threads(std::sync::Mutex<T>),
}

/// Holds a [`Mutex`] until dropped, and gives access to its data.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    number: usize,
    thread: usize,
    /// Always `Some` until dropped.
    inner: Option<GuardKind<'a, T>>,
}

#[derive(Debug)]
enum GuardKind<'a, T> {
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
    Threads(std::sync::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(value: T) -> Mutex<T> {
        let execution = context::execution();
        let inner = match execution.backend {
            Backend::Shuttle => MutexKind::Shuttle(shuttle::sync::Mutex::new(value)),
            Backend::Threads => MutexKind::Threads(std::sync::Mutex::new(value)),
        };
        Mutex {
            number: execution.number(ObjectKind::Mutex),
            inner,
        }
    }

    /// Blocks until the lock is held, as [`std::sync::Mutex::lock`]: an error if a thread
    /// panicked while holding it, with the guard inside.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let thread = context::before_access();
        let guard = |inner| MutexGuard {
            number: self.number,
            thread,
            inner: Some(inner),
        };
        let result = match &self.inner {
            MutexKind::Shuttle(mutex) => match mutex.lock() {
                Ok(inner) => Ok(guard(GuardKind::Shuttle(inner))),
                Err(poisoned) => Err(PoisonError::new(guard(GuardKind::Shuttle(
                    poisoned.into_inner(),
                )))),
            },
            MutexKind::Threads(mutex) => match mutex.lock() {
                Ok(inner) => Ok(guard(GuardKind::Threads(inner))),
                Err(poisoned) => Err(PoisonError::new(guard(GuardKind::Threads(
                    poisoned.into_inner(),
                )))),
            },
        };
        let number = self.number;
        context::log_access(thread, || {
            (AccessKind::Other, format!("lock mutex#{number}"))
        });
        result
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> LockResult<T> {
        match self.inner {
            MutexKind::Shuttle(mutex) => mutex.into_inner(),
            MutexKind::Threads(mutex) => mutex.into_inner(),
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
    fn drop(&mut self) {
        // Logged before the lock is released, so that the log keeps the order of events.
        let number = self.number;
        context::log_access(self.thread, || {
            (AccessKind::Other, format!("unlock mutex#{number}"))
        });
        drop(self.inner.take());
    }
}
