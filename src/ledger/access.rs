//! The cell's accesses while an execution runs: reads, writes and compare-and-writes, each
//! publishing its value in its thread's ring (and its depth, for a controlled execution).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use crate::platform::SharedWord;

use super::id::{Read, WriteId};
use super::store::{Ledger, OVERWRITES, RING, RING_START};

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    /// Reads the cell: one access to shared state.
    #[inline]
    pub fn read(&self) -> Read {
        loop {
            let id = WriteId(self.cell.load());
            if let Some(value) = self.recent_value(id) {
                return Read { id, value };
            }
            // The writer of `id` got a whole ring ahead since the load, so the cell holds a
            // later write now: read that.
        }
    }

    /// Writes `value`, computed from `read`, as op `op` of `thread`: one access to shared state.
    /// Returns the write it overwrote, if it was not the one read.
    #[inline]
    pub fn write(&self, thread: usize, op: u64, read: Read, value: i64) -> Option<WriteId> {
        let id = WriteId::new(thread, op);
        self.publish_value(thread, op, value);
        self.publish_depth(thread, op, read.id);
        let replaced = WriteId(self.cell.swap(id.0));
        self.note(thread, op, read, value, replaced);
        (replaced != read.id).then_some(replaced)
    }

    /// Writes `value` only if the cell still holds the write `read` saw, in one atomic step.
    /// Returns what the cell holds now when it did not.
    #[inline]
    pub fn compare_and_write(
        &self,
        thread: usize,
        op: u64,
        read: Read,
        value: i64,
    ) -> Result<(), Read> {
        let id = WriteId::new(thread, op);
        self.publish_value(thread, op, value);
        self.publish_depth(thread, op, read.id);
        match self.cell.compare_exchange(read.id.0, id.0) {
            Ok(_) => {
                self.note(thread, op, read, value, read.id);
                Ok(())
            }
            Err(current) => {
                let current = WriteId(current);
                match self.recent_value(current) {
                    Some(value) => Err(Read { id: current, value }),
                    None => Err(self.read()),
                }
            }
        }
    }

    /// Puts the value of op `op` of `thread` in its ring slot, before the op is published:
    /// the slot's tag is cleared first, so a reader never takes a half-written slot for
    /// either op.
    #[inline]
    pub(super) fn publish_value(&self, thread: usize, op: u64, value: i64) {
        let (tag, slot_value) = self.ring_slot(thread, op);
        tag.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        slot_value.store(value as u64, Ordering::Relaxed);
        tag.store(op + 1, Ordering::Release);
    }

    /// For a controlled execution, the depth of op `op` of `thread` on the parent chain (one more
    /// than its parent's), before the op is published: whoever reads the op then finds it.
    #[inline]
    pub(super) fn publish_depth(&self, thread: usize, op: u64, parent: WriteId) {
        if self.fixed {
            let depth = self.depth(parent) + 1;
            self.store[self.tracks[thread].log_start + op as usize].store(depth, Ordering::Release);
        }
    }

    /// The depth of a published write on the parent chain: the number of writes on the chain
    /// from it back to the initial value (zero for the initial value). Controlled executions
    /// only.
    #[inline]
    pub(super) fn depth(&self, id: WriteId) -> u64 {
        match id.origin() {
            None => 0,
            Some((thread, op)) => {
                self.store[self.tracks[thread].log_start + op as usize].load(Ordering::Acquire)
            }
        }
    }

    /// The value of `id` if its ring slot still holds it.
    #[inline]
    pub(super) fn recent_value(&self, id: WriteId) -> Option<i64> {
        let Some((thread, op)) = id.origin() else {
            return Some(self.initial);
        };
        if thread >= self.tracks.len() {
            return None;
        }
        let (tag, value) = self.ring_slot(thread, op);
        let before = tag.load(Ordering::Acquire);
        let value = value.load(Ordering::Relaxed) as i64;
        fence(Ordering::Acquire);
        let after = tag.load(Ordering::Relaxed);
        (before == op + 1 && after == before).then_some(value)
    }

    #[inline]
    pub(super) fn ring_slot(&self, thread: usize, op: u64) -> (&AtomicU64, &AtomicU64) {
        let at = self.tracks[thread].base + RING_START + 2 * (op as usize % RING);
        (&self.store[at], &self.store[at + 1])
    }

    /// Records a published write in its thread's log unless it extends its thread's run.
    #[inline]
    pub(super) fn note(&self, thread: usize, op: u64, read: Read, value: i64, replaced: WriteId) {
        if replaced == WriteId::own_previous(thread, op) && read.id == replaced {
            return;
        }
        if read.id != replaced {
            let overwrites = &self.store[self.tracks[thread].base + OVERWRITES];
            overwrites.store(overwrites.load(Ordering::Relaxed) + 1, Ordering::Release);
        }
        if self.recording {
            self.record(thread, op, read, value, replaced);
        }
    }
}
