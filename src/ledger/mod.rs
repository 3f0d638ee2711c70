//! Exact lost-update accounting, in memory that grows with what is found.
//!
//! Every write to an instrumented cell gets a unique id made of its thread and op index (no
//! shared counter). The cell holds the id of the last write. A read returns the id and value it
//! saw; a write remembers that id as its parent and publishes itself with one atomic swap, whose
//! old value names the write it replaced. No lock or other synchronization is added: the swap is
//! the write.
//!
//! The swaps put every write of an execution in one order. A write that replaced its own
//! thread's previous write (the first write of a thread: the initial value) and was computed
//! from it extends a run of its thread: it needs no record, because walking back from it leads
//! to that previous write. Only the other writes leave a record in their thread's log:
//!
//! - a *switch*: the write replaced another thread's write and was computed from it (a few
//!   bytes: its distance from the previous record, and what it replaced);
//! - an *overwrite*: the write replaced a write it had not read (about a dozen bytes: also what
//!   it read, the value read and the value written).
//!
//! Records are varints relative to the thread's previous record, in a byte log that only the
//! writing thread appends to (an uncontended lock, taken at records only).
//!
//! A mutex run records one switch each time the lock changes hands; a racy run also records its
//! overwrites. The value of a write lives in its thread's small ring of recent values, where
//! readers find it; a reader that finds its slot already reused (the writer got a whole ring
//! ahead between the reader's two loads) reads the cell again, which is a later read.
//!
//! [`Ledger::settle`] walks the order back from the final write, one write at a time, following
//! the parent chain alongside: the writes on the chain from the final write back to the initial
//! value are the survivors; every other write is lost. This is exact even when an overwritten
//! update is later restored by a write that was based on it, which counting overwrites gets
//! wrong. The walk checks that the lost deltas reconcile with the final value and emits one
//! `tracing` event (target `contend::lost_update`) per overwrite; the values those events name
//! for writes that left no record are their parent's value plus their thread's delta, which is
//! what the counter writes.
//!
//! The logs live on the heap and grow with what is found, or, for a store that cannot grow (a
//! mapping shared by processes), in the store itself with room for the worst case.

mod access;
mod codec;
mod event;
mod id;
mod record;
mod settle;
mod store;
#[cfg(test)]
mod tests;
mod victims;
mod view;
mod walk;

pub use id::{Read, WriteId};
pub use settle::{EventContext, LedgerError, Settlement, VariableSettlement};
pub use store::{Ledger, Logs, store_words};
