//! A [`crate::sync::Mutex`] on real threads: std's lock, taken only by trying it, with a word
//! naming its holder beside it and a place where its waiters sleep in the kernel.
//!
//! A free lock is taken and let go as std's is, plus one store of the holder word each way, on
//! memory the holder already owns: the execution's wait-for graph never hears of it. A thread
//! that finds the lock held counts itself as a sleeper at once and sleeps on the lock's
//! condition variable, for a slice of time, until a holder that lets go of the lock wakes one
//! sleeper. While the lock is busy the holder thus runs on alone, as with std's lock, instead
//! of handing the lock over at every turn (a waiter that spun took it back and forth).
//!
//! Only a wait longer than a first slice joins the graph: under the execution's lock the thread
//! records its wait and the lock's holder (read from the holder word) and looks once for a
//! cycle of waits through itself; at the end of each later slice it records the holder again
//! (it may have changed), so that the wait that closes a cycle sees it, declares the deadlock
//! and unwinds, and so that a wait longer than the deadlock timeout ends the execution too. A
//! thread that sleeps here unwinds at the end of its slice once another thread declared the
//! execution deadlocked.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, LockResult, MutexGuard, PoisonError, TryLockError, TryLockResult};
use std::time::{Duration, Instant};

use crate::sync::graph::Resource;
use crate::sync::waits::Waits;

/// No thread, in the holder word.
const FREE: usize = 0;
/// How long a thread sleeps on the lock before its wait joins the wait-for graph: far longer
/// than a critical section, far shorter than a deadlock timeout.
const FIRST_SLICE: Duration = Duration::from_millis(2);
/// How long a thread whose wait is in the graph sleeps before it looks at the graph again
/// (records the holder, looks for a declared deadlock and for the timeout).
const SLICE: Duration = Duration::from_millis(5);

/// Thread `thread` in the holder word: its index plus one.
fn word_of(thread: usize) -> usize {
    thread + 1
}

/// Orders a write before a read of another word, for the handshake between a holder letting go
/// (it lets go of std's lock, then reads the sleepers) and a thread about to sleep (it counts
/// itself a sleeper, then tries std's lock): at least one sees the other. On x86 the atomic
/// read-modify-write before it is that fence already.
#[inline(always)]
fn handshake_fence() {
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    std::sync::atomic::fence(Ordering::SeqCst);
}

/// A mutex's lock on real threads, with its holder and its sleepers.
#[derive(Debug)]
pub(crate) struct HeldLock<T> {
    /// The holder's word while it holds the lock, else `FREE`. Only the holder writes it.
    holder: AtomicUsize,
    /// Threads about to sleep or sleeping on `wake`, not yet woken by a holder.
    sleepers: AtomicUsize,
    lock: std::sync::Mutex<T>,
    /// Where sleepers sleep: the count of sleepers a holder still has to wake, and the
    /// condition variable it wakes them with.
    park: std::sync::Mutex<()>,
    wake: Condvar,
}

/// Holds a [`HeldLock`] until dropped.
pub(crate) struct HeldGuard<'a, T> {
    held: &'a HeldLock<T>,
    guard: Option<MutexGuard<'a, T>>,
}

/// What a try of std's lock gave, as a lock's result; `None` if it is held.
#[inline(always)]
fn taken<G>(tried: TryLockResult<G>) -> Option<LockResult<G>> {
    match tried {
        Ok(guard) => Some(Ok(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Some(Err(PoisonError::new(poisoned.into_inner()))),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl<T> HeldLock<T> {
    /// A free lock holding `value`.
    pub(crate) fn new(value: T) -> Self {
        HeldLock {
            holder: AtomicUsize::new(FREE),
            sleepers: AtomicUsize::new(0),
            lock: std::sync::Mutex::new(value),
            park: std::sync::Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// std's `guard` of the lock, now held by `thread`, as a guard of this lock.
    #[inline(always)]
    fn held_by<'a>(&'a self, thread: usize, guard: MutexGuard<'a, T>) -> HeldGuard<'a, T> {
        self.holder.store(word_of(thread), Ordering::Relaxed);
        HeldGuard {
            held: self,
            guard: Some(guard),
        }
    }

    /// Maps a lock result of std's guard to one of this lock's, held by `thread`.
    #[inline(always)]
    fn result<'a>(
        &'a self,
        thread: usize,
        result: LockResult<MutexGuard<'a, T>>,
    ) -> LockResult<HeldGuard<'a, T>> {
        match result {
            Ok(guard) => Ok(self.held_by(thread, guard)),
            Err(poisoned) => Err(PoisonError::new(
                self.held_by(thread, poisoned.into_inner()),
            )),
        }
    }

    /// Takes the lock for `thread` if it is free now, as [`std::sync::Mutex::try_lock`].
    pub(crate) fn try_take(&self, thread: usize) -> TryLockResult<HeldGuard<'_, T>> {
        match taken(self.lock.try_lock()) {
            Some(result) => self.result(thread, result).map_err(TryLockError::Poisoned),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// Takes the lock for `thread`, blocking while it is held; a wait longer than a slice joins
    /// `waits`' graph as a wait for `resource` (see the module's documentation). With whether
    /// the lock is poisoned, as std's lock tells.
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
    ) -> (HeldGuard<'_, T>, bool) {
        let result = match taken(self.lock.try_lock()) {
            Some(result) => result,
            None => self.take_contended(thread, waits, resource),
        };
        match result {
            Ok(guard) => (self.held_by(thread, guard), false),
            Err(poisoned) => (self.held_by(thread, poisoned.into_inner()), true),
        }
    }

    /// [`HeldLock::take`] once the lock was found held.
    #[cold]
    #[inline(never)]
    fn take_contended(
        &self,
        thread: usize,
        waits: &Waits,
        resource: Resource,
    ) -> LockResult<MutexGuard<'_, T>> {
        let started = Instant::now();
        let mut in_graph = false;
        loop {
            let slice = if in_graph { SLICE } else { FIRST_SLICE };
            if let Some(result) = self.sleep(slice) {
                if in_graph {
                    // Named as the holder before the wait leaves the graph, so that a thread
                    // that looks at the lock next sees who holds it.
                    self.holder.store(word_of(thread), Ordering::Relaxed);
                    waits.stop_waiting_for_lock(thread);
                }
                return result;
            }
            let waited = started.elapsed();
            if waited >= FIRST_SLICE {
                let holder = match self.holder.load(Ordering::Relaxed) {
                    FREE => None,
                    word => Some(word - 1),
                };
                waits.wait_for_lock(thread, resource, holder, waited);
                in_graph = true;
            }
        }
    }

    /// Counts this thread as a sleeper and sleeps until a holder lets go of the lock and wakes
    /// it, or `slice` passes; then tries the lock. `None` if it is still held.
    fn sleep(&self, slice: Duration) -> Option<LockResult<MutexGuard<'_, T>>> {
        let park = self.park.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        handshake_fence();
        // Let go of since this thread last looked: a holder that lets go from now on sees the
        // sleeper, and wakes it.
        if let Some(result) = taken(self.lock.try_lock()) {
            self.leave(&park);
            return Some(result);
        }
        let (park, _) = self
            .wake
            .wait_timeout(park, slice)
            .unwrap_or_else(PoisonError::into_inner);
        self.leave(&park);
        drop(park);
        taken(self.lock.try_lock())
    }

    /// A sleeper leaves, under `park` (a holder that woke it counted it out already).
    fn leave(&self, _park: &MutexGuard<'_, ()>) {
        // At most one too few after a wake-up that crossed a timeout: a sleeper then waits
        // out its slice, never longer.
        let _ = self
            .sleepers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// A holder let go while a thread sleeps: wakes one sleeper, counted out here so that
    /// the next holder does not wake it again.
    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        let _park = self.park.lock().unwrap_or_else(PoisonError::into_inner);
        if self
            .sleepers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.wake.notify_one();
        }
    }

    /// The data, consuming the lock.
    pub(crate) fn into_inner(self) -> LockResult<T> {
        self.lock.into_inner()
    }

    /// The data, through a unique borrow.
    pub(crate) fn get_mut(&mut self) -> LockResult<&mut T> {
        self.lock.get_mut()
    }
}

impl<T> Drop for HeldGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // Cleared before the lock is let go, so that the word never names a thread that does
        // not hold the lock.
        self.held.holder.store(FREE, Ordering::Relaxed);
        drop(self.guard.take());
        handshake_fence();
        if self.held.sleepers.load(Ordering::SeqCst) > 0 {
            self.held.wake_one();
        }
    }
}

impl<T> Deref for HeldGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        self.guard
            .as_ref()
            .expect("a guard holds its lock until dropped")
    }
}

impl<T> DerefMut for HeldGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        self.guard
            .as_mut()
            .expect("a guard holds its lock until dropped")
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
        let (guard, poisoned) = lock.take(1, &waits, MUTEX);
        assert!(!poisoned);
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
        let (guard, poisoned) = lock.take(1, &waits, MUTEX);
        assert!(!poisoned);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| *lock.take(2, &waits, MUTEX).0 += 1);
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
        let _held = lock.take(1, &waits, MUTEX);
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
        assert!(lock.take(2, &waits, MUTEX).1, "poisoned");
        assert!(matches!(lock.try_take(2), Err(TryLockError::Poisoned(_))));
        assert!(lock.into_inner().is_err());
    }
}
