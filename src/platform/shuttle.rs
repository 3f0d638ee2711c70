//! Shuttle primitives: every shared access is a scheduling point.

use shuttle::sync::atomic::{AtomicU64, Ordering};

use super::{AccessPoint, Lock, Platform, SharedWord};

/// The platform of controlled executions under shuttle.
#[derive(Debug, Default)]
pub struct ShuttlePlatform;

impl Platform for ShuttlePlatform {
    type Word = AtomicU64;
    type Lock = shuttle::sync::Mutex<()>;
    type Point = ShuttlePoint;

    fn word(initial: u64) -> AtomicU64 {
        AtomicU64::new(initial)
    }

    fn lock() -> Self::Lock {
        shuttle::sync::Mutex::new(())
    }
}

impl SharedWord for AtomicU64 {
    fn load(&self) -> u64 {
        AtomicU64::load(self, Ordering::SeqCst)
    }

    fn store(&self, value: u64) {
        AtomicU64::store(self, value, Ordering::SeqCst)
    }

    fn swap(&self, value: u64) -> u64 {
        AtomicU64::swap(self, value, Ordering::SeqCst)
    }

    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        AtomicU64::compare_exchange(self, current, new, Ordering::SeqCst, Ordering::SeqCst)
    }
}

impl Lock for shuttle::sync::Mutex<()> {
    type Guard<'a> = shuttle::sync::MutexGuard<'a, ()>;

    fn acquire(&self) -> Self::Guard<'_> {
        // A poisoned lock only means another task panicked; that panic is the failure to report.
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The access point under shuttle: the shuttle atomic itself is the scheduling point, so
/// nothing is added before an access; a spin loop yields so that PCT deprioritizes it.
#[derive(Debug, Default)]
pub struct ShuttlePoint;

impl AccessPoint for ShuttlePoint {
    fn before_access(&mut self) {}

    fn spin_wait(&mut self) {
        shuttle::thread::yield_now();
    }
}
