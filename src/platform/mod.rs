//! The primitives a workload is written against.
//!
//! A workload uses a [`Platform`]'s shared words, locks and access points, and so runs unchanged
//! under every engine: under shuttle each shared access is a scheduling point, on real threads
//! each access point is where noise may be injected. Nothing here adds synchronization around a
//! racy region: the workload's own `sync` mode is the only protection there is.

pub mod os;
pub mod shuttle;

/// The primitives of one engine.
pub trait Platform: Send + Sync + 'static {
    /// A shared 64-bit word, the unit of shared state.
    type Word: SharedWord;
    /// A blocking mutual-exclusion lock.
    type Lock: Lock;
    /// The per-thread hook called before every access to shared state.
    type Point: AccessPoint;

    /// A new shared word.
    fn word(initial: u64) -> Self::Word;
    /// A new unlocked lock.
    fn lock() -> Self::Lock;
}

/// A shared 64-bit word. Every method is one access to shared state.
pub trait SharedWord: Send + Sync {
    /// Reads the word.
    fn load(&self) -> u64;
    /// Writes the word.
    fn store(&self, value: u64);
    /// Writes the word and returns what it held, in one atomic step.
    fn swap(&self, value: u64) -> u64;
    /// Writes `new` if the word holds `current`, in one atomic step; returns what it held.
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64>;
}

/// A blocking lock that guards no data of its own.
pub trait Lock: Send + Sync {
    /// Held while the lock is held; dropping it releases the lock.
    type Guard<'a>
    where
        Self: 'a;
    /// Blocks until the lock is held.
    fn acquire(&self) -> Self::Guard<'_>;
}

/// A thread's hook into the engine at each access to shared state.
pub trait AccessPoint {
    /// Called before every access to shared state.
    fn before_access(&mut self);
    /// Called on each turn of a spin loop, so that the waiting thread lets others run.
    fn spin_wait(&mut self);
}
