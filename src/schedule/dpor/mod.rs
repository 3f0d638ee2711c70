//! Exhaustive searches of a controlled execution's schedules: dynamic partial-order reduction
//! (one execution per equivalence class of interleavings) and preemption-bounded depth-first
//! search, over the accesses contend's primitives announce before each scheduling point.

pub mod access;
pub mod happens;
pub mod scheduler;
pub mod spin;
pub mod tree;

pub use access::{
    Access, Object, announce, around, declare_deadlock, during, note, settle, unknown,
};
pub use scheduler::{Explorer, Reduction, SearchStats};
