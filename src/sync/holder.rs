//! A [`crate::sync::Mutex`] on real threads: std's lock, which a free mutex is taken and
//! released with alone (the two atomic operations of std's own lock), and the words that let a
//! thread that must block tell the execution's wait-for graph who holds it.
//!
//! The holder writes its index into `holder` once it has std's lock, and clears it before it
//! lets go: plain stores to a line it owns. A thread that finds the lock held spins a little,
//! then blocks in the graph: under the execution's lock it marks the lock `contended`, tries it
//! once more and records its holder there (`published`), so that a cycle of waits through the
//! mutex is seen by the wait that closes it. A holder that lets go of a contended lock, or one
//! whose hold the graph records, clears the mark, releases the hold in the graph and wakes the
//! waiters (each marks the lock again if it must sleep again): one wake-up per sleep, as std's
//! lock does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{LockResult, MutexGuard, PoisonError, TryLockError, TryLockResult};

use crate::sync::graph::{Mode, Resource};
use crate::sync::waits::WaitState;

/// No thread, in `holder` and `published`.
const FREE: usize = 0;
/// Turns of a spin before a thread that finds the mutex held blocks: about as long as a short
/// critical section lasts, as std's mutex spins before it sleeps.
const SPINS: u32 = 100;

/// Thread `thread` in a word: its index plus one.
fn word_of(thread: usize) -> usize {
    thread + 1
}

/// Orders a write before a read of another word, for the handshake between a holder letting go
/// (it clears std's lock, then reads `contended`) and a thread about to block (it sets
/// `contended`, then tries std's lock): at least one sees the other. On x86 the atomic
/// read-modify-write next to it is that fence already.
#[inline]
fn handshake_fence() {
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    std::sync::atomic::fence(Ordering::SeqCst);
}

/// What a try of std's lock gave, as a lock's result; `None` if it is held.
fn taken<G>(tried: TryLockResult<G>) -> Option<LockResult<G>> {
    match tried {
        Ok(guard) => Some(Ok(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Some(Err(PoisonError::new(poisoned.into_inner()))),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// A mutex's lock on real threads, with its holder, in one cache line.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct HeldLock<T> {
    /// The holder's word while it holds std's lock, else `FREE`. Only the holder writes it.
    holder: AtomicUsize,
    /// Set by a thread about to block in the graph on this mutex; cleared by the holder that
    /// wakes it.
    contended: AtomicBool,
    /// The holder the graph records, or `FREE`; written under the execution's lock.
    published: AtomicUsize,
    /// The data.
    pub(crate) lock: std::sync::Mutex<T>,
}

impl<T> HeldLock<T> {
    /// A free lock holding `value`.
    pub(crate) fn new(value: T) -> Self {
        HeldLock {
            holder: AtomicUsize::new(FREE),
            contended: AtomicBool::new(false),
            published: AtomicUsize::new(FREE),
            lock: std::sync::Mutex::new(value),
        }
    }

    /// Takes std's lock for `thread` if it is free now, as [`std::sync::Mutex::try_lock`].
    pub(crate) fn try_take(&self, thread: usize) -> TryLockResult<MutexGuard<'_, T>> {
        let taken = self.lock.try_lock();
        if !matches!(taken, Err(TryLockError::WouldBlock)) {
            self.holder.store(word_of(thread), Ordering::Relaxed);
        }
        taken
    }

    /// Takes the lock for `thread`, spinning a little while it is held; `None` if it stayed
    /// held (the thread must block, with [`HeldLock::take_or_publish`]).
    pub(crate) fn take_spinning(&self, thread: usize) -> Option<LockResult<MutexGuard<'_, T>>> {
        for _ in 0..SPINS {
            if self.holder.load(Ordering::Relaxed) == FREE
                && let Some(taken) = taken(self.try_take(thread))
            {
                return Some(taken);
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Under the execution's lock, for `thread` that waits for the mutex (`resource`): takes
    /// it if it is free, its hold recorded in the graph; else marks it contended (so that its
    /// holder wakes the waiters when it lets go), records its holder there, and says to wait.
    pub(crate) fn take_or_publish(
        &self,
        state: &mut WaitState,
        thread: usize,
        resource: Resource,
    ) -> Option<LockResult<MutexGuard<'_, T>>> {
        loop {
            self.contended.store(true, Ordering::SeqCst);
            handshake_fence();
            if let Some(taken) = taken(self.try_take(thread)) {
                self.unpublish_other(state, resource);
                state.graph.hold(thread, resource, Mode::Exclusive);
                self.published.store(word_of(thread), Ordering::Relaxed);
                return Some(taken);
            }
            // The failed try read the lock's state without ordering: what its holders wrote
            // before, their words, is seen from here.
            std::sync::atomic::fence(Ordering::Acquire);
            let holder = self.holder.load(Ordering::Acquire);
            if holder != FREE {
                if self.published.load(Ordering::Relaxed) != holder {
                    self.unpublish_other(state, resource);
                    // The holder may itself be waiting, which its hold must not change.
                    state.graph.add_hold(holder - 1, resource, Mode::Exclusive);
                    self.published.store(holder, Ordering::Relaxed);
                }
                return None;
            }
            // Held, but its holder is between std's lock and its word: a few instructions.
            std::thread::yield_now();
        }
    }

    /// Removes the hold the graph records, if any: its holder has let go since.
    fn unpublish_other(&self, state: &mut WaitState, resource: Resource) {
        let published = self.published.swap(FREE, Ordering::Relaxed);
        if published != FREE {
            state.graph.release(published - 1, resource);
        }
    }

    /// `thread` lets go of the lock (`guard`); true if the graph must hear of it (a thread
    /// waits, or the graph records this hold), with [`HeldLock::unpublish`] under the
    /// execution's lock, after which the caller wakes the waiters.
    pub(crate) fn release(&self, thread: usize, guard: MutexGuard<'_, T>) -> bool {
        self.holder.store(FREE, Ordering::Relaxed);
        drop(guard);
        handshake_fence();
        self.contended.load(Ordering::SeqCst)
            || self.published.load(Ordering::Relaxed) == word_of(thread)
    }

    /// Under the execution's lock, after `thread` let go: the lock is no longer marked
    /// contended (the waiters, about to be woken, mark it again if they must sleep again), and
    /// its hold of `resource` leaves the graph, if the graph records it.
    pub(crate) fn unpublish(&self, state: &mut WaitState, thread: usize, resource: Resource) {
        self.contended.store(false, Ordering::Relaxed);
        if self.published.load(Ordering::Relaxed) == word_of(thread) {
            self.published.store(FREE, Ordering::Relaxed);
            state.graph.release(thread, resource);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUTEX: Resource = Resource::Mutex(1);

    /// A free lock taken and released by one thread never asks for the graph.
    #[test]
    fn an_uncontended_lock_and_unlock_leave_the_graph_alone() {
        let lock = HeldLock::new(0);
        let guard = lock
            .take_spinning(1)
            .expect("a free lock is taken")
            .unwrap();
        assert!(
            !lock.release(1, guard),
            "nobody waits: the graph need not hear of it"
        );
        assert!(
            lock.take_spinning(2).is_some(),
            "released, it is free again"
        );
    }

    /// A thread that must block records the holder in the graph, so that a cycle through the
    /// lock can be seen; the holder's release then asks for the graph, and leaves it.
    #[test]
    fn a_thread_that_must_block_records_the_holder_which_leaves_the_graph_when_it_lets_go() {
        let lock = HeldLock::new(0);
        let mut state = WaitState::default();
        let guard = lock
            .take_spinning(1)
            .expect("a free lock is taken")
            .unwrap();
        assert!(lock.take_spinning(2).is_none(), "held, it cannot be taken");
        assert!(lock.take_or_publish(&mut state, 2, MUTEX).is_none());
        assert_eq!(state.graph.holders(MUTEX), vec![1]);
        assert!(
            lock.release(1, guard),
            "a thread waits: the graph must hear of it"
        );
        lock.unpublish(&mut state, 1, MUTEX);
        assert!(state.graph.holders(MUTEX).is_empty());
        let taken = lock.take_or_publish(&mut state, 2, MUTEX);
        assert!(taken.is_some(), "freed, the waiter takes it");
        assert_eq!(state.graph.holders(MUTEX), vec![2]);
    }
}
