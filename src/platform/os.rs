//! The platform of real OS threads: contend's own primitives ([`crate::sync`]) on their
//! real-thread backend, std's atomics and locks with seeded noise injected before every shared
//! access; and that noise, [`Jitter`].

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::{AccessPoint, Lock, Platform, SharedWord};
use crate::sync::Mutex as SyncMutex;
use crate::sync::atomic::AtomicU64 as SyncAtomicU64;
use crate::sync::held::HeldGuard;
use serde::{Deserialize, Serialize};

/// Noise injected on real threads before every access to shared state.
///
/// At each access point at most one kind of noise happens: a yield with `yield_probability`,
/// else a busy spin of up to `max_spin` iterations with `spin_probability`, else a sleep of up
/// to `max_sleep` with `sleep_probability`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jitter {
    /// Probability of `std::thread::yield_now` at an access point.
    pub yield_probability: f64,
    /// Probability of a busy spin at an access point.
    pub spin_probability: f64,
    /// Upper bound of a busy spin, in spin-loop iterations.
    pub max_spin: u32,
    /// Probability of a sleep at an access point.
    pub sleep_probability: f64,
    /// Upper bound of a sleep.
    pub max_sleep: Duration,
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter {
            yield_probability: 0.2,
            spin_probability: 0.1,
            max_spin: 100,
            sleep_probability: 0.0002,
            max_sleep: Duration::from_micros(100),
        }
    }
}

/// The platform of real OS threads: its words and locks are contend's own primitives on their
/// real-thread backend, the ones checks and plugin workloads use on real threads, so a lock
/// names its holder and a long wait for it joins the execution's wait-for graph. They must be
/// made inside an execution of [`crate::sync`] on real threads entered on the calling thread.
///
/// The engine starts the threads and hands each its [`JitterPoint`], seeded from the run and
/// the thread, which injects the noise before every access: the words and locks are used
/// through their real-thread implementation directly, without the look-up of the current
/// thread a primitive makes when it is used from a thread it does not know.
#[derive(Debug, Default)]
pub struct OsPlatform;

impl Platform for OsPlatform {
    type Word = OsWord;
    type Lock = OsLock;
    type Point = JitterPoint;
    type Store = Box<[AtomicU64]>;
    type Error = Infallible;

    fn word(&self, initial: u64) -> Result<OsWord, Infallible> {
        Ok(OsWord(SyncAtomicU64::new(initial)))
    }

    fn lock(&self) -> Result<OsLock, Infallible> {
        Ok(OsLock(SyncMutex::new(())))
    }

    fn store(&self, words: usize) -> Result<Box<[AtomicU64]>, Infallible> {
        Ok(heap_store(words))
    }
}

/// `words` zeroed atomic words on the heap.
pub fn heap_store(words: usize) -> Box<[AtomicU64]> {
    (0..words).map(|_| AtomicU64::new(0)).collect()
}

/// std's atomic as a shared word: the counter word of the tasks engine and of the processes
/// engine's manager.
impl SharedWord for AtomicU64 {
    #[inline]
    fn load(&self) -> u64 {
        AtomicU64::load(self, Ordering::Acquire)
    }

    #[inline]
    fn store(&self, value: u64) {
        AtomicU64::store(self, value, Ordering::Release)
    }

    #[inline]
    fn swap(&self, value: u64) -> u64 {
        AtomicU64::swap(self, value, Ordering::AcqRel)
    }

    #[inline]
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        AtomicU64::compare_exchange(self, current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

/// A built-in workload's word on real threads: contend's atomic, accessed through its
/// real-thread implementation (the thread's [`JitterPoint`] injects the noise before).
#[derive(Debug)]
pub struct OsWord(SyncAtomicU64);

impl SharedWord for OsWord {
    #[inline]
    fn load(&self) -> u64 {
        self.0.on_real_threads().load(Ordering::Acquire)
    }

    #[inline]
    fn store(&self, value: u64) {
        self.0.on_real_threads().store(value, Ordering::Release)
    }

    #[inline]
    fn swap(&self, value: u64) -> u64 {
        self.0.on_real_threads().swap(value, Ordering::AcqRel)
    }

    #[inline]
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        self.0
            .on_real_threads()
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

/// A built-in workload's lock on real threads: contend's `Mutex`, taken through its real-thread
/// lock as the workload's thread, so that it names its holder and a long wait for it joins the
/// execution's wait-for graph (and ends as a deadlock past the scenario's `deadlock_timeout`).
#[derive(Debug)]
pub struct OsLock(SyncMutex<()>);

/// Holds an [`OsLock`] until dropped.
pub struct OsLockGuard<'a>(#[allow(dead_code)] HeldGuard<'a, ()>);

impl Lock for OsLock {
    type Guard<'a> = OsLockGuard<'a>;

    #[inline]
    fn acquire(&self, thread: usize) -> OsLockGuard<'_> {
        // Thread 0 of the execution is the one that drives it; the workload's are 1, 2, ...
        // A poisoned lock only means another thread panicked; that panic is the failure to
        // report.
        let (guard, _poisoned) = self.0.hold_on_thread(thread + 1);
        OsLockGuard(guard)
    }
}

/// A real thread's access point: with jitter, a seeded random yield, spin or sleep.
#[derive(Debug)]
pub struct JitterPoint {
    noise: Option<(Jitter, SmallRng)>,
    pauses: SmallRng,
}

impl JitterPoint {
    /// An access point that injects `jitter` (none if `None`), its choices drawn from `seed`.
    pub fn new(jitter: Option<&Jitter>, seed: u64) -> Self {
        JitterPoint {
            noise: jitter.map(|j| (j.clone(), SmallRng::seed_from_u64(seed))),
            pauses: SmallRng::seed_from_u64(seed ^ 0x5041_5553_4553),
        }
    }

    /// The noise it injects, if any.
    #[cfg(test)]
    pub(crate) fn jitter(&self) -> Option<&Jitter> {
        self.noise.as_ref().map(|(jitter, _)| jitter)
    }
}

impl AccessPoint for JitterPoint {
    #[inline]
    fn before_access(&mut self) {
        let Some((jitter, rng)) = &mut self.noise else {
            return;
        };
        let draw: f64 = rng.random();
        if draw < jitter.yield_probability {
            std::thread::yield_now();
        } else if draw < jitter.yield_probability + jitter.spin_probability {
            let spins = rng.random_range(0..=jitter.max_spin);
            for _ in 0..spins {
                std::hint::spin_loop();
            }
        } else if draw
            < jitter.yield_probability + jitter.spin_probability + jitter.sleep_probability
        {
            let bound = jitter.max_sleep.as_nanos() as u64;
            std::thread::sleep(Duration::from_nanos(rng.random_range(0..=bound)));
        }
    }

    fn spin_wait(&mut self) {
        std::hint::spin_loop();
        std::thread::yield_now();
    }

    fn draw_pause(&mut self, max: Duration) -> Duration {
        Duration::from_nanos(self.pauses.random_range(0..=max.as_nanos() as u64))
    }

    fn pause(&mut self, pause: Duration) {
        std::thread::sleep(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::context::{self, Backend, Execution};
    use crate::sync::deadlock::DeadlockUnwind;
    use std::sync::Arc;

    /// The built-in counter's lock on real threads is contend's `Mutex`: a thread that waits for
    /// it past the scenario's deadlock timeout fails the execution as a deadlock that names
    /// the lock and the thread holding it, instead of hanging.
    #[test]
    fn a_wait_for_the_counters_lock_past_the_deadlock_timeout_names_the_lock_and_its_holder() {
        let execution = Execution::new(Backend::Threads, Arc::from("lock"), 0, 1, None, None);
        execution.waits.set_timeout(Duration::from_millis(50));
        let _entered = context::enter(Arc::clone(&execution), Some(execution.os_thread(0)));
        let lock = OsPlatform.lock().expect("in-process");
        let held = lock.acquire(0);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| drop(lock.acquire(1)));
            let payload = waiter.join().expect_err("the waiter unwinds");
            assert!(payload.is::<DeadlockUnwind>());
        });
        drop(held);
        let deadlock = execution.declared_deadlock().expect("declared");
        assert_eq!(deadlock.timed_out, Some(Duration::from_millis(50)));
        let wait = &deadlock.waiting[0];
        assert_eq!(
            (wait.thread.as_str(), wait.resource.as_str()),
            ("Thread-2", "mutex#1")
        );
        assert_eq!(wait.holders, ["Thread-1"]);
    }

    /// The built-in counter's word on real threads is contend's atomic, read and written with
    /// the orderings of a lock-free counter.
    #[test]
    fn the_counters_word_on_real_threads_reads_what_was_written() {
        let execution = Execution::new(Backend::Threads, Arc::from("word"), 0, 1, None, None);
        let _entered = context::enter(Arc::clone(&execution), Some(execution.os_thread(0)));
        let word = OsPlatform.word(7).expect("in-process");
        assert_eq!(word.swap(9), 7);
        assert_eq!(word.compare_exchange(8, 1), Err(9));
        assert_eq!(word.compare_exchange(9, 3), Ok(9));
        word.store(4);
        assert_eq!(word.load(), 4);
    }
}
