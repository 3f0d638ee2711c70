//! The ledger contend had before its logs grew with what is found: a record of three words
//! (value, parent, replaced) for every write, allocated up front. The bench measures the current
//! ledger against it in the same run. Its `tracing` events are left in, as they were.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use contend::ledger::{EventContext, LedgerError, Settlement};
use contend::platform::SharedWord;

/// Identifies one write: its thread and op index, or the initial value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriteId(u64);

const OP_BITS: u32 = 40;
const OP_MASK: u64 = (1 << OP_BITS) - 1;

impl WriteId {
    /// The id that stands for the cell's initial value.
    pub const INITIAL: WriteId = WriteId(0);

    /// The id of op `op` of thread `thread`.
    pub fn new(thread: usize, op: u64) -> WriteId {
        WriteId(((thread as u64 + 1) << OP_BITS) | op)
    }

    /// The id as one word, as the cell holds it.
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The id a cell word holds.
    pub fn from_bits(bits: u64) -> WriteId {
        WriteId(bits)
    }

    /// The thread and op index, or `None` for the initial value.
    pub fn origin(self) -> Option<(usize, u64)> {
        (self != WriteId::INITIAL).then(|| ((self.0 >> OP_BITS) as usize - 1, self.0 & OP_MASK))
    }
}

/// What a read saw: the write it read from and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The write whose value was read.
    pub id: WriteId,
    /// The value read.
    pub value: i64,
}

/// One write, owned by the writing thread until it is published: three words of the store.
/// Every word is written by each write, so records can be reused by the next execution without
/// clearing.
#[derive(Clone, Copy, Debug)]
struct Record<'a> {
    /// The value written (an `i64`'s bits).
    value: &'a AtomicU64,
    /// The write this one read.
    parent: &'a AtomicU64,
    /// The write this one replaced in the cell; not the parent means it was overwritten.
    replaced: &'a AtomicU64,
}

impl Record<'_> {
    fn value(&self) -> i64 {
        self.value.load(Ordering::Relaxed) as i64
    }
}

/// Words per write record in a store.
pub const WORDS_PER_WRITE: usize = 3;

#[derive(Debug)]
struct Track {
    delta: i64,
    /// The index of the track's first record in the store.
    first: usize,
    ops: usize,
}

/// An instrumented shared counter cell with its write records, kept in the store `R`.
#[derive(Debug)]
pub struct Ledger<W, R = Box<[AtomicU64]>> {
    cell: W,
    initial: i64,
    tracks: Vec<Track>,
    store: R,
}

/// The number of store words a ledger needs for threads doing `ops` writes each.
pub fn store_words(ops: impl IntoIterator<Item = u64>) -> usize {
    ops.into_iter().map(|ops| ops as usize).sum::<usize>() * WORDS_PER_WRITE
}

impl<W: SharedWord> Ledger<W> {
    /// A cell holding `initial`, with room on the heap for `ops` writes of `delta` per thread.
    pub fn new(cell: W, initial: i64, threads: impl IntoIterator<Item = (i64, u64)>) -> Self {
        let threads: Vec<(i64, u64)> = threads.into_iter().collect();
        let store = contend::platform::os::heap_store(store_words(threads.iter().map(|t| t.1)));
        Ledger::with_store(cell, store, initial, threads)
    }
}

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    /// A cell holding `initial`, whose records live in `store`, which must hold at least
    /// [`store_words`] words for these threads.
    ///
    /// # Panics
    ///
    /// If `store` is too small.
    pub fn with_store(
        cell: W,
        store: R,
        initial: i64,
        threads: impl IntoIterator<Item = (i64, u64)>,
    ) -> Self {
        cell.store(WriteId::INITIAL.0);
        let mut first = 0;
        let tracks: Vec<Track> = threads
            .into_iter()
            .map(|(delta, ops)| {
                let track = Track {
                    delta,
                    first,
                    ops: ops as usize,
                };
                first += ops as usize;
                track
            })
            .collect();
        assert!(
            store.len() >= first * WORDS_PER_WRITE,
            "a ledger store of {} words cannot hold {first} writes",
            store.len()
        );
        Ledger {
            cell,
            initial,
            tracks,
            store,
        }
    }

    /// Makes the ledger ready for another execution: the cell holds the initial value again.
    /// The write records need no clearing: each write sets all of its record before publishing.
    pub fn reset(&self) {
        self.cell.store(WriteId::INITIAL.0);
    }

    /// Reads the cell: one access to shared state.
    #[inline]
    pub fn read(&self) -> Read {
        let id = WriteId(self.cell.load());
        Read {
            id,
            value: self.value_of(id),
        }
    }

    /// Writes `value`, computed from `read`, as op `op` of `thread`: one access to shared state.
    /// Returns the write it overwrote, if it was not the one read.
    #[inline]
    pub fn write(&self, thread: usize, op: u64, read: Read, value: i64) -> Option<WriteId> {
        let (id, record) = self.prepare(thread, op, read, value);
        let previous = WriteId(self.cell.swap(id.0));
        // The write overwrote another iff the cell held something other than what it read.
        record.replaced.store(previous.0, Ordering::Relaxed);
        (previous != read.id).then_some(previous)
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
        let (id, record) = self.prepare(thread, op, read, value);
        match self.cell.compare_exchange(read.id.0, id.0) {
            Ok(_) => {
                record.replaced.store(read.id.0, Ordering::Relaxed);
                Ok(())
            }
            Err(current) => {
                let current = WriteId(current);
                Err(Read {
                    id: current,
                    value: self.value_of(current),
                })
            }
        }
    }

    /// Fills the record of a write that is about to be published.
    fn prepare(&self, thread: usize, op: u64, read: Read, value: i64) -> (WriteId, Record<'_>) {
        let record = self.slot(thread, op as usize);
        record.value.store(value as u64, Ordering::Relaxed);
        record.parent.store(read.id.0, Ordering::Relaxed);
        (WriteId::new(thread, op), record)
    }

    /// The record of op `op` of `thread`, which must exist.
    #[inline]
    fn slot(&self, thread: usize, op: usize) -> Record<'_> {
        let track = &self.tracks[thread];
        debug_assert!(op < track.ops);
        let at = (track.first + op) * WORDS_PER_WRITE;
        Record {
            value: &self.store[at],
            parent: &self.store[at + 1],
            replaced: &self.store[at + 2],
        }
    }

    fn record(&self, id: WriteId) -> Option<Record<'_>> {
        let (thread, op) = id.origin()?;
        let track = self.tracks.get(thread)?;
        (op < track.ops as u64).then(|| self.slot(thread, op as usize))
    }

    /// The value written by `id` (the initial value for [`WriteId::INITIAL`]).
    pub fn value_of(&self, id: WriteId) -> i64 {
        match self.record(id) {
            Some(record) => record.value(),
            None => self.initial,
        }
    }

    /// The value the counter must end with when no update is lost.
    pub fn expected_final(&self) -> i64 {
        self.tracks.iter().fold(self.initial, |acc, t| {
            acc.wrapping_add(t.delta.wrapping_mul(t.ops as i64))
        })
    }

    /// Accounts for a finished execution (every thread joined): finds the survivors, counts the
    /// lost writes, checks that they reconcile with the final value, and emits one `tracing`
    /// event per overwrite.
    pub fn settle(&self, context: EventContext<'_>) -> Result<Settlement, LedgerError> {
        let final_id = WriteId(self.cell.load());
        let observed_final = self.value_of(final_id);
        let expected_final = self.expected_final();

        // Mark the survivors: the parent chain from the final write back to the initial value.
        let mut survived: Vec<Vec<bool>> = self.tracks.iter().map(|t| vec![false; t.ops]).collect();
        let total_writes: usize = self.tracks.iter().map(|t| t.ops).sum();
        let mut cursor = final_id;
        let mut chain_length = 0usize;
        while let Some((thread, op)) = cursor.origin() {
            let slot = survived
                .get_mut(thread)
                .and_then(|t| t.get_mut(op as usize))
                .ok_or(LedgerError::BrokenChain(
                    contend::ledger::WriteId::from_bits(cursor.0),
                ))?;
            chain_length += 1;
            if *slot || chain_length > total_writes {
                return Err(LedgerError::BrokenChain(
                    contend::ledger::WriteId::from_bits(cursor.0),
                ));
            }
            *slot = true;
            cursor = WriteId(
                self.slot(thread, op as usize)
                    .parent
                    .load(Ordering::Relaxed),
            );
        }

        let mut lost_updates = 0u64;
        let mut lost_delta = 0i64;
        let mut overwrites = 0u64;
        for (thread, track) in self.tracks.iter().enumerate() {
            for op in 0..track.ops {
                let record = self.slot(thread, op);
                if !survived[thread][op] {
                    lost_updates += 1;
                    lost_delta = lost_delta.wrapping_add(track.delta);
                }
                let parent = WriteId(record.parent.load(Ordering::Relaxed));
                let victim = WriteId(record.replaced.load(Ordering::Relaxed));
                if victim == parent {
                    continue;
                }
                overwrites += 1;
                let (victim_thread, victim_op) = match victim.origin() {
                    Some((t, o)) => (t as i64, o as i64),
                    None => (-1, -1),
                };
                let restored = victim
                    .origin()
                    .is_some_and(|(t, o)| survived[t][o as usize]);
                let parent = WriteId(record.parent.load(Ordering::Relaxed));
                tracing::info!(
                    target: "contend::lost_update",
                    scenario = context.scenario,
                    run = context.run,
                    thread,
                    op,
                    read_value = self.value_of(parent),
                    written_value = record.value(),
                    overwritten_thread = victim_thread,
                    overwritten_op = victim_op,
                    overwritten_value = self.value_of(victim),
                    restored,
                    "thread {thread} op {op} overwrote the write of thread {victim_thread} op {victim_op}"
                );
            }
        }

        if expected_final.wrapping_sub(observed_final) != lost_delta {
            return Err(LedgerError::Unreconciled {
                expected_final,
                observed_final,
                lost_updates,
                lost_delta,
            });
        }
        Ok(Settlement {
            observed_final,
            expected_final,
            overwrites,
            lost_updates,
            lost_delta,
            variables: Vec::new(),
        })
    }
}
