//! Real OS primitives with jitter: noise is injected before every shared access.

use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::{AccessPoint, Lock, Platform, SharedWord};
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

/// The platform of real OS threads.
#[derive(Debug, Default)]
pub struct OsPlatform;

impl Platform for OsPlatform {
    type Word = AtomicU64;
    type Lock = Mutex<()>;
    type Point = JitterPoint;
    type Store = Box<[AtomicU64]>;
    type Error = Infallible;

    fn word(&self, initial: u64) -> Result<AtomicU64, Infallible> {
        Ok(AtomicU64::new(initial))
    }

    fn lock(&self) -> Result<Mutex<()>, Infallible> {
        Ok(Mutex::new(()))
    }

    fn store(&self, words: usize) -> Result<Box<[AtomicU64]>, Infallible> {
        Ok(heap_store(words))
    }
}

/// `words` zeroed atomic words on the heap.
pub fn heap_store(words: usize) -> Box<[AtomicU64]> {
    (0..words).map(|_| AtomicU64::new(0)).collect()
}

impl SharedWord for AtomicU64 {
    fn load(&self) -> u64 {
        AtomicU64::load(self, Ordering::Acquire)
    }

    fn store(&self, value: u64) {
        AtomicU64::store(self, value, Ordering::Release)
    }

    fn swap(&self, value: u64) -> u64 {
        AtomicU64::swap(self, value, Ordering::AcqRel)
    }

    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        AtomicU64::compare_exchange(self, current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

impl Lock for Mutex<()> {
    type Guard<'a> = std::sync::MutexGuard<'a, ()>;

    fn acquire(&self) -> Self::Guard<'_> {
        // A poisoned lock only means another thread panicked; that panic is the failure to report.
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
