//! Invariant failures: a workload states that a property it checks does not hold.
//!
//! A body calls [`invariant_failed`] (or [`invariant`]) instead of `panic!` when the failure is a
//! broken invariant of the critical section under test (a balance below zero, a total not
//! conserved) rather than a bug in the body itself, so that reports can tell the two apart: the
//! execution the calling thread runs in records the broken invariant, and the execution fails
//! with kind [`crate::failure::Kind::Invariant`], under shuttle and on real threads alike.

/// The words every invariant failure's message starts with.
pub const INVARIANT_FAILED: &str = "invariant failed: ";

/// Ends the calling thread of the execution with a failed invariant described by `message`:
/// the execution records it, then the thread panics with a message that starts with
/// [`INVARIANT_FAILED`].
#[track_caller]
pub fn invariant_failed(message: impl Into<String>) -> ! {
    let message = message.into();
    crate::sync::context::record_stated_failure(crate::failure::Kind::Invariant, &message);
    panic!("{INVARIANT_FAILED}{message}")
}

/// Fails the execution with `message` when `holds` is false.
#[track_caller]
pub fn invariant(holds: bool, message: impl Into<String>) {
    if !holds {
        invariant_failed(message);
    }
}

#[cfg(feature = "runner")]
/// Ends the calling thread of the execution as a livelock the workload detected itself (a loop
/// past its bound), described by `message`.
pub(crate) fn livelocked(message: String) -> ! {
    crate::sync::context::record_stated_failure(crate::failure::Kind::Livelock, &message);
    panic!("{message}")
}
