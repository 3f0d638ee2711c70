//! The primitives a workload is written against.
//!
//! A workload uses a [`Platform`]'s shared words, locks and access points, and so runs unchanged
//! under every engine: under shuttle each shared access is a scheduling point, on real threads
//! each access point is where noise may be injected. Nothing here adds synchronization around a
//! racy region: the workload's own `sync` mode is the only protection there is.

#[cfg(feature = "runner")]
mod mapping;
pub mod os;
#[cfg(feature = "runner")]
pub mod process;
pub mod shuttle;

use crate::ledger::Logs;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;

/// The primitives of one engine. A platform value hands out the shared state of one execution;
/// on the processes platform it is where that state lives (a shared mapping).
pub trait Platform: Send + Sync + 'static {
    /// A shared 64-bit word, the unit of shared state.
    type Word: SharedWord;
    /// A blocking mutual-exclusion lock.
    type Lock: Lock;
    /// The per-thread hook called before every access to shared state.
    type Point: AccessPoint;
    /// Plain atomic words that every thread (or process) of the execution sees: where a ledger
    /// keeps its write records. They are not scheduling points.
    type Store: Deref<Target = [AtomicU64]> + Send + Sync;
    /// Why shared state could not be made (`Infallible` for in-process platforms).
    type Error: std::error::Error + Send + Sync + 'static;
    /// Where a ledger of this platform keeps its logs: on the heap of the process that settles
    /// it, growing as needed (in-process platforms), or in a [`Platform::Store`] sized for the
    /// worst case.
    const LOGS: Logs = Logs::OnHeap;

    /// A new shared word.
    fn word(&self, initial: u64) -> Result<Self::Word, Self::Error>;
    /// A new unlocked lock.
    fn lock(&self) -> Result<Self::Lock, Self::Error>;
    /// `words` store words for a ledger: zeroed, or left by an earlier execution's ledger.
    fn store(&self, words: usize) -> Result<Self::Store, Self::Error>;
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
    /// Blocks until the lock is held by the workload's thread `thread` (from 0).
    fn acquire(&self, thread: usize) -> Self::Guard<'_>;
}

/// A thread's hook into the engine at each access to shared state.
pub trait AccessPoint {
    /// Called before every access to shared state.
    fn before_access(&mut self);
    /// Called on each turn of a spin loop, so that the waiting thread lets others run.
    fn spin_wait(&mut self);
    /// Draws a pause of up to `max`, from the run's seed.
    fn draw_pause(&mut self, max: std::time::Duration) -> std::time::Duration;
    /// Pauses: a real sleep on threads, a point where others may run under shuttle (which has
    /// no clock).
    fn pause(&mut self, pause: std::time::Duration);
    /// Called after an access with what it did. Only a replay that prints the interleaving
    /// keeps it; everywhere else it costs nothing.
    #[inline]
    fn observe(&mut self, _access: Access) {}
}

/// What one access to shared state did, as an interleaving table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read the counter.
    Read {
        /// The value read.
        value: i64,
    },
    /// Wrote the counter.
    Write {
        /// The value written.
        value: i64,
        /// The write it overwrote without having read it: (thread, op), or the initial value.
        overwrote: Option<Option<(usize, u64)>>,
    },
    /// Tried an atomic compare-and-write of the counter.
    CompareAndWrite {
        /// The value it would write.
        value: i64,
        /// Whether the counter still held the value read, so the write happened.
        written: bool,
    },
    /// Acquired the lock.
    Acquire,
    /// Looked at the lock flag.
    CheckFlag {
        /// Whether the flag was taken.
        taken: bool,
    },
    /// Set the lock flag (taking the lock).
    SetFlag {
        /// Whether it was already taken (a test-and-set that failed).
        was_taken: bool,
    },
    /// Cleared the lock flag (releasing the lock).
    ClearFlag,
    /// Paused before an increment (the `counter-object` workload).
    Pause,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Read { value } => write!(f, "read counter -> {value}"),
            Access::Write {
                value,
                overwrote: None,
            } => write!(f, "write counter <- {value}"),
            Access::Write {
                value,
                overwrote: Some(_),
            } => {
                write!(f, "write counter <- {value} (overwrites)")
            }
            Access::CompareAndWrite {
                value,
                written: true,
            } => write!(f, "cas counter <- {value}"),
            Access::CompareAndWrite {
                value,
                written: false,
            } => {
                write!(f, "cas counter <- {value} fails")
            }
            Access::Acquire => f.write_str("lock"),
            Access::CheckFlag { taken: false } => f.write_str("check flag -> free"),
            Access::CheckFlag { taken: true } => f.write_str("check flag -> taken"),
            Access::SetFlag { was_taken: false } => f.write_str("set flag"),
            Access::SetFlag { was_taken: true } => f.write_str("set flag (was taken)"),
            Access::ClearFlag => f.write_str("clear flag"),
            Access::Pause => f.write_str("pause"),
        }
    }
}
