//! A reader-writer lock inside a check, as [`std::sync::RwLock`], named `rwlock#N`: many
//! readers or one writer.
//!
//! Under shuttle it is shuttle's; on real threads std's, entered once the execution's wait-for
//! graph grants the read or write, as [`crate::sync::Mutex`] is.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LockResult};

use crate::schedule::dpor::{self, Access, Object};
use crate::sync::context::{self, AccessKind, Backend, Execution, ObjectKind};
use crate::sync::graph::{Mode, Resource};
use crate::sync::mutex::map_lock;

/// A reader-writer lock, as [`std::sync::RwLock`]. Each `read` and `write` is one access.
pub struct RwLock<T> {
    number: usize,
    execution: Arc<Execution>,
    inner: Kind<T>,
}

enum Kind<T> {
    Shuttle(shuttle::sync::RwLock<T>),
    Threads(std::sync::RwLock<T>),
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RwLock(rwlock#{})", self.number)
    }
}

/// Shared read access to an [`RwLock`]'s data until dropped.
pub struct RwLockReadGuard<'a, T> {
    release: Release<'a, T>,
    inner: Option<ReadKind<'a, T>>,
}

enum ReadKind<'a, T> {
    Shuttle(shuttle::sync::RwLockReadGuard<'a, T>),
    Threads(std::sync::RwLockReadGuard<'a, T>),
}

/// Exclusive write access to an [`RwLock`]'s data until dropped.
pub struct RwLockWriteGuard<'a, T> {
    release: Release<'a, T>,
    inner: Option<WriteKind<'a, T>>,
}

enum WriteKind<'a, T> {
    Shuttle(shuttle::sync::RwLockWriteGuard<'a, T>),
    Threads(std::sync::RwLockWriteGuard<'a, T>),
}

/// What a guard needs to give its hold up.
struct Release<'a, T> {
    lock: &'a RwLock<T>,
    thread: usize,
    mode: Mode,
}

impl<T> Release<'_, T> {
    /// Logs the unlock, drops the inner guard with `drop_inner` and updates the graph.
    fn release(&self, drop_inner: impl FnOnce()) {
        let number = self.lock.number;
        let what = if self.mode == Mode::Shared {
            "read"
        } else {
            "write"
        };
        context::log_access(self.thread, || {
            (AccessKind::Other, format!("unlock {what} rwlock#{number}"))
        });
        let resource = Resource::RwLock(number);
        let waits = &self.lock.execution.waits;
        match self.lock.inner {
            Kind::Shuttle(_) => {
                waits.with(|state| state.graph.release(self.thread, resource));
                let lock = self.lock.dpor_object();
                dpor::announce(if self.mode == Mode::Shared {
                    Access::ReleaseShared(lock)
                } else {
                    Access::Release(lock)
                });
                drop_inner();
                dpor::settle();
            }
            Kind::Threads(_) => {
                drop_inner();
                waits.update(|state| state.graph.release(self.thread, resource));
            }
        }
    }
}

impl<T> RwLock<T> {
    /// An unlocked reader-writer lock holding `value`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(value: T) -> RwLock<T> {
        let execution = context::execution();
        let inner = match execution.backend {
            Backend::Shuttle => Kind::Shuttle(shuttle::sync::RwLock::new(value)),
            Backend::Threads => Kind::Threads(std::sync::RwLock::new(value)),
        };
        RwLock {
            number: execution.number(ObjectKind::RwLock),
            execution,
            inner,
        }
    }

    /// The lock as an exhaustive search names it.
    fn dpor_object(&self) -> Object {
        Object::Lock(ObjectKind::RwLock.id(self.number))
    }

    /// Waits in the graph (real threads) or records the wait (shuttle) for `mode`, then holds.
    fn enter(&self, thread: usize, mode: Mode, take: impl FnOnce()) {
        let resource = Resource::RwLock(self.number);
        let waits = &self.execution.waits;
        match self.inner {
            Kind::Shuttle(_) => {
                // Waiting until it holds: shuttle's lock is a scheduling point first.
                let blocked = waits.with(|state| {
                    state.graph.wait_in(thread, resource, mode);
                    !state.graph.can_take(resource, mode)
                });
                if blocked {
                    let number = self.number;
                    let what = if mode == Mode::Shared {
                        "read"
                    } else {
                        "write"
                    };
                    context::log_access(thread, || {
                        (
                            AccessKind::Other,
                            format!("{what} rwlock#{number}: blocked"),
                        )
                    });
                }
                let access = if mode == Mode::Shared {
                    Access::AcquireShared(self.dpor_object())
                } else {
                    Access::Acquire(self.dpor_object())
                };
                // A wait that closes a cycle of waits, or leaves no thread that can go on,
                // unwinds here, before shuttle would block.
                waits.unwind_if_deadlocked(thread);
                dpor::announce(access);
                take();
                dpor::settle();
                waits.with(|state| state.graph.hold(thread, resource, mode));
            }
            Kind::Threads(_) => {
                waits.block_on(thread, resource, |state| {
                    let free = state.graph.can_take(resource, mode);
                    free.then(|| state.graph.hold(thread, resource, mode))
                });
                take();
            }
        }
        let number = self.number;
        let what = if mode == Mode::Shared {
            "read"
        } else {
            "write"
        };
        context::log_access(thread, || {
            (AccessKind::Other, format!("lock {what} rwlock#{number}"))
        });
    }

    /// Under shuttle, a thread that another's deadlock held up unwinds once it has the lock,
    /// which its guard then gives up.
    fn unwind_if_deadlocked(&self, thread: usize) {
        if matches!(self.inner, Kind::Shuttle(_)) {
            self.execution.waits.unwind_if_deadlocked(thread);
        }
    }

    /// Blocks until shared read access is held, as [`std::sync::RwLock::read`].
    ///
    /// # Panics
    ///
    /// With no message, when the execution deadlocks while this thread waits, or this wait
    /// closes a cycle of waits: the check reports the deadlock.
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let thread = context::before_access();
        let mut taken = None;
        self.enter(thread, Mode::Shared, || {
            taken = Some(match &self.inner {
                Kind::Shuttle(lock) => map_lock(lock.read(), ReadKind::Shuttle),
                Kind::Threads(lock) => map_lock(lock.read(), ReadKind::Threads),
            });
        });
        let release = Release {
            lock: self,
            thread,
            mode: Mode::Shared,
        };
        let result = map_lock(taken.expect("entered"), |inner| RwLockReadGuard {
            release,
            inner: Some(inner),
        });
        self.unwind_if_deadlocked(thread);
        result
    }

    /// Blocks until exclusive write access is held, as [`std::sync::RwLock::write`].
    ///
    /// # Panics
    ///
    /// With no message, when the execution deadlocks while this thread waits, or this wait
    /// closes a cycle of waits: the check reports the deadlock.
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let thread = context::before_access();
        let mut taken = None;
        self.enter(thread, Mode::Exclusive, || {
            taken = Some(match &self.inner {
                Kind::Shuttle(lock) => map_lock(lock.write(), WriteKind::Shuttle),
                Kind::Threads(lock) => map_lock(lock.write(), WriteKind::Threads),
            });
        });
        let release = Release {
            lock: self,
            thread,
            mode: Mode::Exclusive,
        };
        let result = map_lock(taken.expect("entered"), |inner| RwLockWriteGuard {
            release,
            inner: Some(inner),
        });
        self.unwind_if_deadlocked(thread);
        result
    }

    /// The data, consuming the lock.
    pub fn into_inner(self) -> LockResult<T> {
        match self.inner {
            Kind::Shuttle(lock) => lock.into_inner(),
            Kind::Threads(lock) => lock.into_inner(),
        }
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match &mut self.inner {
            Kind::Shuttle(lock) => lock.get_mut(),
            Kind::Threads(lock) => lock.get_mut(),
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    /// An unlocked reader-writer lock holding `T`'s default.
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self.inner.as_ref().expect("held until dropped") {
            ReadKind::Shuttle(guard) => guard,
            ReadKind::Threads(guard) => guard,
        }
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        let inner = self.inner.take();
        self.release.release(|| drop(inner));
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self.inner.as_ref().expect("held until dropped") {
            WriteKind::Shuttle(guard) => guard,
            WriteKind::Threads(guard) => guard,
        }
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self.inner.as_mut().expect("held until dropped") {
            WriteKind::Shuttle(guard) => &mut *guard,
            WriteKind::Threads(guard) => &mut *guard,
        }
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        let inner = self.inner.take();
        self.release.release(|| drop(inner));
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
