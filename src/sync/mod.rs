//! The primitive API every workload is written on, std look-alike: [`Mutex`], [`RwLock`],
//! [`Condvar`], [`Barrier`], [`Once`], the channels of [`mpsc`], the [`atomic`] types, controlled
//! randomness ([`random`]) and the accounted cell [`Shared`], with threads in [`crate::thread`].
//!
//! Each is shuttle's under shuttle (every operation a scheduling point) and std's plus seeded
//! jitter on real threads, chosen when it is created from the engine running the execution.
//! The blocking ones keep the execution's wait-for graph, so that a deadlock is reported with its
//! cycle of waits ([`deadlock`]) instead of hanging.

pub mod atomic;
mod barrier;
mod condvar;
pub(crate) mod context;
pub mod deadlock;
pub(crate) mod graph;
mod growable;
pub(crate) mod held;
mod invariant;
pub mod mpsc;
mod mutex;
mod once;
pub mod random;
mod rwlock;
mod shared;
pub(crate) mod waits;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use deadlock::{CycleEdge, Deadlock, Wait, WaitCycle};
#[cfg(feature = "runner")]
pub(crate) use invariant::livelocked;
pub use invariant::{INVARIANT_FAILED, invariant, invariant_failed};
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use shared::Shared;
pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult};
pub use waits::DEFAULT_DEADLOCK_TIMEOUT;
