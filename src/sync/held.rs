//! A [`crate::sync::Mutex`] on real threads: a blocking lock (`parking_lot`'s, whose waiters
//! sleep in the kernel) with a word naming its holder beside it, and the poisoning of std's.
//!
//! A free lock is taken and let go as a plain lock is, plus one store of the holder word each
//! way, on the cache line the lock already owns: the execution's wait-for graph never hears of
//! it. A thread that finds the lock held spins a little, as std's lock does, then sleeps in the
//! lock for a first slice of time. Only a wait longer than that joins the graph: under the
//! execution's lock the thread records its wait and the lock's holder (read from the holder
//! word) and looks once for a cycle of waits through itself; it then sleeps in slices, and at
//! the end of each records the holder again (it may have changed), so that the wait that
//! closes a cycle sees it, declares the deadlock and unwinds, and so that a wait longer than
//! the deadlock timeout ends the execution too. A thread blocked here unwinds at the end of
//! its slice once another thread declared the execution deadlocked.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use crate::sync::graph::Resource;
use crate::sync::waits::Waits;

/// No thread, in the holder word.
const FREE: usize = 0;
/// How long a thread sleeps in the lock before its wait joins the wait-for graph: far longer
/// than a critical section, far shorter than a deadlock timeout.
const FIRST_SLICE: Duration = Duration::from_millis(2);
/// How long a thread whose wait is in the graph sleeps in the lock before it looks at the graph
/// again (records the holder, looks for a declared deadlock and for the timeout).
const SLICE: Duration = Duration::from_millis(5);

/// Thread `thread` in the holder word: its index plus one.
fn word_of(thread: usize) -> usize {
    thread + 1
}

/// A mutex's lock on real threads, with its holder and its poison.
#[derive(Debug)]
pub(crate) struct HeldLock<T> {
    /// The holder's word while it holds the lock, else `FREE`. Only the holder writes it.
    holder: AtomicUsize,
    /// Whether a holder panicked while it held the lock, as std's lock tells.
    poisoned: AtomicBool,
    lock: parking_lot::Mutex<T>,
}

/// Holds a [`HeldLock`] until dropped; poisons it if the thread panics meanwhile.
pub(crate) struct HeldGuard<'a, T> {
    held: &'a HeldLock<T>,
    /// Whether the thread was panicking already when it took the lock.
    panicking: bool,
    guard: parking_lot::MutexGuard<'a, T>,
}

impl<T> HeldLock<T> {
    /// A free lock holding `value`.
    pub(crate) fn new(value: T) -> Self {
        HeldLock {
            holder: AtomicUsize::new(FREE),
            poisoned: AtomicBool::new(false),
            lock: parking_lot::Mutex::new(value),
        }
    }

    /// `guard` of the lock, now held by `thread`, as std's lock gives it: poisoned or not.
    #[inline(always)]
    fn taken<'a>(
        &'a self,
        thread: usize,
        guard: parking_lot::MutexGuard<'a, T>,
    ) -> LockResult<HeldGuard<'a, T>> {
        self.holder.store(word_of(thread), Ordering::Relaxed);
        let guard = HeldGuard {
            held: self,
            panicking: std::thread::panicking(),
            guard,
        };
        if self.poisoned.load(Ordering::Relaxed) {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Takes the lock for `thread` if it is free now, as [`std::sync::Mutex::try_lock`].
    pub(crate) fn try_take(&self, thread: usize) -> TryLockResult<HeldGuard<'_, T>> {
        match self.lock.try_lock() {
            Some(guard) => self.taken(thread, guard).map_err(TryLockError::Poisoned),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Takes the lock for `thread`, blocking while it is held; a wait longer than a slice joins
    /// `waits`' graph as a wait for `resource` (see the module's documentation).
    ///
    /// # Panics
    ///
    /// With a [`crate::sync::deadlock::DeadlockUnwind`] payload when the execution is
    /// deadlocked: by this wait, if it closes a cycle or outlasts the deadlock timeout, or by
    /// another thread's.
    #[inline(always)]
    pub(crate) fn take(
        &self,
        thread: usize,
        waits: &Waits,
        resource: Resource,
    ) -> LockResult<HeldGuard<'_, T>> {
        let guard = match self.lock.try_lock() {
            Some(guard) => guard,
            None => self.take_contended(thread, waits, resource),
        };
        self.taken(thread, guard)
    }

    /// [`HeldLock::take`] once the lock was found held.
    #[cold]
    #[inline(never)]
    fn take_contended(
        &self,
        thread: usize,
        waits: &Waits,
        resource: Resource,
    ) -> parking_lot::MutexGuard<'_, T> {
        let started = Instant::now();
        if let Some(guard) = self.lock.try_lock_for(FIRST_SLICE) {
            return guard;
        }
        loop {
            let holder = match self.holder.load(Ordering::Relaxed) {
                FREE => None,
                word => Some(word - 1),
            };
            waits.wait_for_lock(thread, resource, holder, started.elapsed());
            if let Some(guard) = self.lock.try_lock_for(SLICE) {
                // Named as the holder before the wait leaves the graph, so that a thread that
                // looks at the lock next sees who holds it.
                self.holder.store(word_of(thread), Ordering::Relaxed);
                waits.stop_waiting_for_lock(thread);
                return guard;
            }
        }
    }

    /// The data, consuming the lock.
    pub(crate) fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned.load(Ordering::Relaxed);
        let value = self.lock.into_inner();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }

    /// The data, through a unique borrow.
    pub(crate) fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = *self.poisoned.get_mut();
        let value = self.lock.get_mut();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

impl<T> Drop for HeldGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        if !self.panicking && std::thread::panicking() {
            self.held.poisoned.store(true, Ordering::Relaxed);
        }
        // Cleared before the lock is let go (when `guard` drops next), so that the word never
        // names a thread that does not hold the lock.
        self.held.holder.store(FREE, Ordering::Relaxed);
    }
}

impl<T> Deref for HeldGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for HeldGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::deadlock::DeadlockUnwind;
    use crate::sync::graph::Mode;

    const MUTEX: Resource = Resource::Mutex(1);

    /// What the graph records of the mutex: its holders, and what thread 2 waits for.
    fn recorded(waits: &Waits) -> (Vec<usize>, Option<(Resource, Mode)>) {
        waits.with(|state| (state.graph.holders(MUTEX), state.graph.wait_with_mode(2)))
    }

    #[test]
    fn a_free_lock_is_taken_and_let_go_without_the_wait_for_graph() {
        let waits = Waits::default();
        let lock = HeldLock::new(5);
        let guard = lock.take(1, &waits, MUTEX).expect("not poisoned");
        assert_eq!(*guard, 5);
        assert!(matches!(lock.try_take(2), Err(TryLockError::WouldBlock)));
        assert_eq!(recorded(&waits), (vec![], None));
        drop(guard);
        assert!(lock.try_take(2).is_ok(), "let go, it is free again");
        assert_eq!(recorded(&waits), (vec![], None));
    }

    #[test]
    fn a_wait_longer_than_a_slice_records_the_holder_and_leaves_the_graph_once_it_takes_the_lock() {
        let waits = Waits::default();
        let lock = HeldLock::new(0);
        let guard = lock.take(1, &waits, MUTEX).expect("not poisoned");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| *lock.take(2, &waits, MUTEX).expect("not poisoned") += 1);
            let deadline = Instant::now() + Duration::from_secs(60);
            while recorded(&waits) != (vec![1], Some((MUTEX, Mode::Exclusive))) {
                assert!(Instant::now() < deadline, "{:?}", recorded(&waits));
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(guard);
            waiter
                .join()
                .expect("the waiter takes the lock once it is let go");
        });
        assert_eq!(recorded(&waits).1, None, "the waiter waits no more");
        assert_eq!(lock.into_inner().expect("not poisoned"), 1);
    }

    #[test]
    fn a_wait_longer_than_the_deadlock_timeout_declares_the_deadlock_and_unwinds() {
        let waits = Waits::default();
        waits.set_timeout(Duration::from_millis(30));
        let lock = HeldLock::new(());
        let _held = lock.take(1, &waits, MUTEX).expect("not poisoned");
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| drop(lock.take(2, &waits, MUTEX)));
            let payload = waiter.join().expect_err("the waiter unwinds");
            assert!(payload.is::<DeadlockUnwind>());
        });
        let deadlock = waits.declared().expect("declared");
        assert_eq!(deadlock.timed_out, Some(Duration::from_millis(30)));
        assert_eq!(recorded(&waits).1, None, "the unwound thread waits no more");
    }

    #[test]
    fn a_holder_that_panics_poisons_the_lock_as_std_does() {
        let waits = Waits::default();
        let lock = HeldLock::new(0);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = lock.take(1, &waits, MUTEX);
            std::panic::resume_unwind(Box::new("the holder panics"));
        }));
        assert!(panicked.is_err());
        assert!(lock.take(2, &waits, MUTEX).is_err(), "poisoned");
        assert!(matches!(lock.try_take(2), Err(TryLockError::Poisoned(_))));
        assert!(lock.into_inner().is_err());
    }
}
