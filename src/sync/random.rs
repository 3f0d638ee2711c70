//! Controlled randomness inside a check: under shuttle the values are shuttle's, recorded with
//! the schedule so that a replay draws the same ones; on real threads each thread draws from a
//! generator seeded from the execution's seed and the thread's index.
//!
//! Use it instead of an outside source of randomness, which would make a failing schedule fail
//! differently when replayed.

use crate::sync::context::{self, AccessKind};

/// A random `u64`. Not an access (no scheduling point), but logged in the interleaving.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn next_u64() -> u64 {
    let thread = context::before_operation();
    let value = context::random_u64();
    context::log_access(thread, || (AccessKind::Other, format!("random {value}")));
    value
}

/// A random number below `bound` (0 if `bound` is 0).
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn below(bound: u64) -> u64 {
    match bound {
        0 => 0,
        _ => next_u64() % bound,
    }
}

/// A random `bool`, `true` half the time.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn coin() -> bool {
    next_u64() & 1 == 1
}
