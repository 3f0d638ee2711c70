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

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};

use thiserror::Error;

use crate::platform::SharedWord;

/// Identifies one write: its thread and op index, or the initial value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// The write a thread's op replaces when nothing comes between: its previous op, or the
    /// initial value for its first.
    fn own_previous(thread: usize, op: u64) -> WriteId {
        match op {
            0 => WriteId::INITIAL,
            _ => WriteId::new(thread, op - 1),
        }
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

/// Slots in each thread's ring of recent values.
const RING: usize = 64;
/// The word of a thread's fixed part that counts its overwrites.
const OVERWRITES: usize = 3;
/// The first word of a thread's ring in its fixed part.
const RING_START: usize = 4;
/// Words of a thread's fixed part of the store: its log's length in bytes, the op and the
/// replaced write of its last record, its overwrites, then its ring of (tag, value) slots.
const FIXED_WORDS: usize = RING_START + 2 * RING;
/// The kind byte of a switch record.
const SWITCH: u8 = 0;
/// The kind byte of an overwrite record.
const OVERWRITE: u8 = 1;
/// The most bytes one record can take: its kind (1), the distance from the previous record's
/// op (under 2^40: 6), the replaced write's distance from the previous record's (any 64 bits:
/// 10), the parent's thread (under 2^24: 4) and distance (under 2^41 with its sign: 6), the
/// value read (10) and the written value's difference from it (10).
const MAX_RECORD_BYTES: usize = 1 + 6 + 10 + 4 + 6 + 10 + 10;

/// Where a ledger keeps its logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logs {
    /// On the heap, growing with what is found, each record in as few bytes as its fields
    /// allow: for executions whose writes may be many (real threads).
    OnHeap,
    /// For controlled executions, whose writes are few: the store keeps every write's depth
    /// on the parent chain (eight bytes a write), so that the lost updates are counted without
    /// a walk back. The records, on the heap with each field in eight bytes (16 for a switch,
    /// 40 for an overwrite; written and read back without encoding), are kept only when a
    /// `tracing` subscriber may want the overwrites' events, or a trace their discards.
    Controlled,
    /// In the store, which holds room for the worst case (every write an overwrite): for a
    /// store that cannot grow, such as a mapping shared by processes.
    InStore,
}

/// The bit of a fixed record's last word that marks an overwrite (the rest is its op).
const FIXED_OVERWRITE: u64 = 1 << 63;

/// One write's record in its thread's log. In a compact log ([`Logs::OnHeap`],
/// [`Logs::InStore`]): a kind byte, then varints: the op's distance from the
/// thread's previous record, the replaced write, and for an overwrite the parent, the value read
/// and the written value's difference from it. Ids are a thread (plus one; zero for the initial
/// value) and the op's distance from the recording op, so that most fields take a byte or two.
/// A record's bytes are stored back to front, so that the walk back from the final write reads
/// each log from its end. In a fixed log ([`Logs::Controlled`]), little-endian words, the last
/// one first when read back: the op (with [`FIXED_OVERWRITE`] for an overwrite), the replaced
/// write, and for an overwrite the parent, the value read and the value written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    /// Replaced `replaced`, which it had read.
    Switch { op: u64, replaced: WriteId },
    /// Replaced `replaced` after reading `parent`.
    Overwrite {
        op: u64,
        replaced: WriteId,
        parent: WriteId,
        read_value: i64,
        written_value: i64,
    },
}

#[derive(Debug)]
struct Track {
    delta: i64,
    ops: usize,
    /// The index of the track's fixed part in the store.
    base: usize,
    /// Where its log starts in the store, for [`Logs::InStore`], or its writes' depths, for
    /// [`Logs::Controlled`].
    log_start: usize,
}

/// An instrumented shared counter cell with its records, kept in the store `R`.
#[derive(Debug)]
pub struct Ledger<W, R = Box<[AtomicU64]>> {
    cell: W,
    initial: i64,
    tracks: Vec<Track>,
    store: R,
    /// One log per thread when the logs are on the heap. Only its thread locks it while the
    /// execution runs, so the lock is never contended.
    heap_logs: Vec<Mutex<Vec<u8>>>,
    /// Whether the heap logs hold fixed records and the store every write's depth
    /// ([`Logs::Controlled`]).
    fixed: bool,
    /// Whether writes leave records: always, but for a controlled execution nobody may want
    /// the events of (see [`events_may_be_wanted`]).
    recording: bool,
}

/// Whether the overwrites' `tracing` events (or a trace's discards) may be wanted: a
/// subscriber that takes `INFO` events may be installed. Asked once per ledger; it reads only
/// the global maximum level, which leaves per-layer filters alone.
fn events_may_be_wanted() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    crate::trace::discards_wanted()
        || (LevelFilter::INFO <= STATIC_MAX_LEVEL && LevelFilter::INFO <= LevelFilter::current())
}

/// The most bytes of log room a thread keeps for the next ledger made on it: a run of small
/// executions reuses its logs, a large one gives its memory back.
const SPARE_LOG_BYTES: usize = 64 * 1024;

thread_local! {
    /// The heap logs the last ledger dropped on this thread, for the next one to reuse.
    static SPARE_HEAP_LOGS: std::cell::Cell<Vec<Mutex<Vec<u8>>>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// `threads` heap logs, those of the last ledger dropped on this thread when it had as many.
/// A reused log may hold what an earlier execution wrote: its length in the store says how much
/// of it counts.
fn spare_heap_logs(threads: usize) -> Vec<Mutex<Vec<u8>>> {
    let spare = SPARE_HEAP_LOGS.take();
    if spare.len() == threads {
        return spare;
    }
    (0..threads).map(|_| Mutex::default()).collect()
}

impl<W, R> Drop for Ledger<W, R> {
    fn drop(&mut self) {
        let logs = std::mem::take(&mut self.heap_logs);
        let small = logs.iter().all(|log| {
            log.lock()
                .is_ok_and(|bytes| bytes.capacity() <= SPARE_LOG_BYTES)
        });
        if !logs.is_empty() && small {
            // A thread being torn down keeps no spare; the logs are then freed.
            let _ = SPARE_HEAP_LOGS.try_with(|spare| spare.set(logs));
        }
    }
}

/// The number of store words a ledger keeping its logs in `logs` needs for threads doing `ops`
/// writes each.
pub fn store_words(ops: impl IntoIterator<Item = u64>, logs: Logs) -> usize {
    ops.into_iter()
        .map(|ops| match logs {
            Logs::OnHeap => FIXED_WORDS,
            Logs::Controlled => FIXED_WORDS + ops as usize,
            Logs::InStore => FIXED_WORDS + (ops as usize * MAX_RECORD_BYTES).div_ceil(8),
        })
        .sum()
}

/// Where the events of one execution come from, for the `tracing` events.
#[derive(Clone, Copy, Debug)]
pub struct EventContext<'a> {
    /// The scenario's name.
    pub scenario: &'a str,
    /// The execution's index within the scenario.
    pub run: u64,
}

/// The accounting of one finished execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    /// The counter's final value.
    pub observed_final: i64,
    /// The value it would have with no lost update.
    pub expected_final: i64,
    /// Writes that were overwritten at the moment they happened (some may have been restored).
    pub overwrites: u64,
    /// Writes whose effect is missing from the final value.
    pub lost_updates: u64,
    /// Sum of the deltas of the lost writes; equals `expected_final - observed_final`.
    pub lost_delta: i64,
    /// Each named cell of a workload on contend's primitives (a program's shared variables),
    /// in the order they were made; empty for a workload with one unnamed counter.
    pub variables: Vec<VariableSettlement>,
}

/// The accounting of one named cell (a program's shared variable) at the end of one
/// execution: what [`Settlement`] sums, cell by cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableSettlement {
    /// The cell's name.
    pub name: String,
    /// The value it would have with no lost update.
    pub expected_final: i64,
    /// Writes whose effect is missing from its final value.
    pub lost_updates: u64,
    /// Writes that replaced a write they had not read.
    pub overwrites: u64,
}

/// The ledger found an inconsistency: a bug in contend, never in the workload.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LedgerError {
    /// The lost deltas do not account for the difference between expected and observed.
    #[error(
        "lost updates do not reconcile: expected {expected_final}, observed {observed_final}, \
         but the {lost_updates} lost writes sum to {lost_delta}"
    )]
    Unreconciled {
        /// The value with no lost update.
        expected_final: i64,
        /// The final value.
        observed_final: i64,
        /// The number of lost writes.
        lost_updates: u64,
        /// The sum of their deltas.
        lost_delta: i64,
    },
    /// The parent chain does not lead back to the initial value.
    #[error("the write chain is broken at write {0:?}")]
    BrokenChain(WriteId),
}

impl<W: SharedWord> Ledger<W> {
    /// A cell holding `initial`, for threads doing `ops` writes of `delta` each, with its logs
    /// on the heap.
    pub fn new(cell: W, initial: i64, threads: impl IntoIterator<Item = (i64, u64)>) -> Self {
        let threads: Vec<(i64, u64)> = threads.into_iter().collect();
        let words = store_words(threads.iter().map(|t| t.1), Logs::OnHeap);
        let store = crate::platform::os::heap_store(words);
        Ledger::with_store(cell, store, initial, threads, Logs::OnHeap)
    }
}

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    /// A cell holding `initial`, whose rings (and logs, for [`Logs::InStore`]) live in `store`,
    /// which must hold at least [`store_words`] words for these threads: zeroed, or left by
    /// an earlier ledger (the ledger clears each word it reads before it reads it).
    ///
    /// # Panics
    ///
    /// If `store` is too small.
    pub fn with_store(
        cell: W,
        store: R,
        initial: i64,
        threads: impl IntoIterator<Item = (i64, u64)>,
        logs: Logs,
    ) -> Self {
        cell.store(WriteId::INITIAL.0);
        let mut next = 0;
        let tracks: Vec<Track> = threads
            .into_iter()
            .map(|(delta, ops)| {
                let base = next;
                next += store_words([ops], logs);
                Track {
                    delta,
                    ops: ops as usize,
                    base,
                    log_start: base + FIXED_WORDS,
                }
            })
            .collect();
        assert!(
            store.len() >= next,
            "a ledger store of {} words cannot hold what {} threads need ({next} words)",
            store.len(),
            tracks.len()
        );
        let heap_logs = match logs {
            Logs::OnHeap | Logs::Controlled => spare_heap_logs(tracks.len()),
            Logs::InStore => Vec::new(),
        };
        let ledger = Ledger {
            cell,
            initial,
            tracks,
            store,
            heap_logs,
            fixed: logs == Logs::Controlled,
            recording: logs != Logs::Controlled || events_may_be_wanted(),
        };
        ledger.clear_logs();
        ledger
    }

    /// Makes the ledger ready for another execution: the cell holds the initial value again
    /// and the logs are empty. The rings need no clearing: a write fills its slot before it is
    /// published.
    pub fn reset(&self) {
        self.cell.store(WriteId::INITIAL.0);
        self.clear_logs();
    }

    fn clear_logs(&self) {
        for track in &self.tracks {
            self.store[track.base].store(0, Ordering::Release);
            self.store[track.base + OVERWRITES].store(0, Ordering::Release);
        }
    }

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
    fn publish_value(&self, thread: usize, op: u64, value: i64) {
        let (tag, slot_value) = self.ring_slot(thread, op);
        tag.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        slot_value.store(value as u64, Ordering::Relaxed);
        tag.store(op + 1, Ordering::Release);
    }

    /// For a controlled execution, the depth of op `op` of `thread` on the parent chain (one more
    /// than its parent's), before the op is published: whoever reads the op then finds it.
    #[inline]
    fn publish_depth(&self, thread: usize, op: u64, parent: WriteId) {
        if self.fixed {
            let depth = self.depth(parent) + 1;
            self.store[self.tracks[thread].log_start + op as usize].store(depth, Ordering::Release);
        }
    }

    /// The depth of a published write on the parent chain: the number of writes on the chain
    /// from it back to the initial value (zero for the initial value). Controlled executions
    /// only.
    #[inline]
    fn depth(&self, id: WriteId) -> u64 {
        match id.origin() {
            None => 0,
            Some((thread, op)) => {
                self.store[self.tracks[thread].log_start + op as usize].load(Ordering::Acquire)
            }
        }
    }

    /// The value of `id` if its ring slot still holds it.
    #[inline]
    fn recent_value(&self, id: WriteId) -> Option<i64> {
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
    fn ring_slot(&self, thread: usize, op: u64) -> (&AtomicU64, &AtomicU64) {
        let at = self.tracks[thread].base + RING_START + 2 * (op as usize % RING);
        (&self.store[at], &self.store[at + 1])
    }

    /// Records a published write in its thread's log unless it extends its thread's run.
    #[inline]
    fn note(&self, thread: usize, op: u64, read: Read, value: i64, replaced: WriteId) {
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

    #[cold]
    fn record(&self, thread: usize, op: u64, read: Read, value: i64, replaced: WriteId) {
        if self.fixed {
            self.record_fixed(thread, op, read, value, replaced);
            return;
        }
        let base = self.tracks[thread].base;
        let (length, last_op, last_replaced) = (
            &self.store[base],
            &self.store[base + 1],
            &self.store[base + 2],
        );
        let mut bytes = Encoder::default();
        let overwrite = read.id != replaced;
        bytes.byte(if overwrite { OVERWRITE } else { SWITCH });
        let start = length.load(Ordering::Relaxed) as usize;
        let (previous_op, previous_replaced) = if start == 0 {
            (0, 0)
        } else {
            (
                last_op.load(Ordering::Relaxed),
                last_replaced.load(Ordering::Relaxed),
            )
        };
        bytes.varint(op - previous_op);
        bytes.signed(replaced.0.wrapping_sub(previous_replaced) as i64);
        if overwrite {
            bytes.id(read.id, op);
            bytes.signed(read.value);
            bytes.signed(value.wrapping_sub(read.value));
        }
        let encoded = bytes.back_to_front();
        match self.heap_logs.get(thread) {
            Some(log) => {
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                // A log longer than its length is what a previous execution left.
                log.truncate(start);
                log.extend_from_slice(encoded);
            }
            None => {
                for (offset, &byte) in encoded.iter().enumerate() {
                    self.put_byte(thread, start + offset, byte);
                }
            }
        }
        last_op.store(op, Ordering::Relaxed);
        last_replaced.store(replaced.0, Ordering::Relaxed);
        length.store((start + encoded.len()) as u64, Ordering::Release);
    }

    /// [`Ledger::record`] in a fixed log: whole words, no encoding.
    #[inline]
    fn record_fixed(&self, thread: usize, op: u64, read: Read, value: i64, replaced: WriteId) {
        let base = self.tracks[thread].base;
        let (length, last_op) = (&self.store[base], &self.store[base + 1]);
        let start = length.load(Ordering::Relaxed) as usize;
        let mut bytes = [0u8; 40];
        let fields: &[u64] = if read.id == replaced {
            &[replaced.0, op]
        } else {
            &[
                value as u64,
                read.value as u64,
                read.id.0,
                replaced.0,
                op | FIXED_OVERWRITE,
            ]
        };
        for (field, place) in fields.iter().zip(bytes.chunks_exact_mut(8)) {
            place.copy_from_slice(&field.to_le_bytes());
        }
        let mut log = self.heap_logs[thread]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A log longer than its length is what a previous execution left.
        log.truncate(start);
        log.extend_from_slice(&bytes[..8 * fields.len()]);
        last_op.store(op, Ordering::Relaxed);
        length.store(log.len() as u64, Ordering::Release);
    }

    /// Writes byte `at` of the in-store log of `thread`, which only that thread writes.
    fn put_byte(&self, thread: usize, at: usize, byte: u8) {
        let word = &self.store[self.tracks[thread].log_start + at / 8];
        let shift = (at % 8) * 8;
        // A word's first byte clears what a previous execution left in it.
        let kept = if shift == 0 {
            0
        } else {
            word.load(Ordering::Relaxed) & !(0xff << shift)
        };
        word.store(kept | u64::from(byte) << shift, Ordering::Relaxed);
    }

    /// The heap logs, held for reading once the execution has ended.
    fn lock_heap_logs(&self) -> Vec<MutexGuard<'_, Vec<u8>>> {
        self.heap_logs
            .iter()
            .map(|log| log.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// The log of `thread`, whose heap log (if any) `heap` holds.
    fn log_view<'a>(&'a self, heap: &'a [MutexGuard<'_, Vec<u8>>], thread: usize) -> LogView<'a> {
        match heap.get(thread) {
            Some(bytes) if self.fixed => LogView::Fixed(bytes),
            Some(bytes) => LogView::Bytes(bytes),
            None => LogView::Words(
                self.store
                    .get(self.tracks[thread].log_start..)
                    .unwrap_or(&[]),
            ),
        }
    }

    /// The writes every thread makes in an execution.
    fn total_writes(&self) -> usize {
        self.tracks.iter().map(|t| t.ops).sum()
    }

    /// The value the counter must end with when no update is lost.
    pub fn expected_final(&self) -> i64 {
        self.tracks.iter().fold(self.initial, |acc, t| {
            acc.wrapping_add(t.delta.wrapping_mul(t.ops as i64))
        })
    }

    /// Accounts for a finished execution (every thread joined): walks the writes back from the
    /// final one, counts the lost writes, checks that they reconcile with the final value, and
    /// emits one `tracing` event per overwrite.
    pub fn settle(&self, context: EventContext<'_>) -> Result<Settlement, LedgerError> {
        let final_id = WriteId(self.cell.load());
        let observed_final = self
            .recent_value(final_id)
            .ok_or(LedgerError::BrokenChain(final_id))?;
        let expected_final = self.expected_final();
        if !self.recording {
            return self.settle_by_depth(final_id, observed_final, expected_final);
        }
        // Which overwrite discarded each lost update: only when a trace asks for it (see
        // `crate::trace::want_discards`; `tracing::enabled!` would upset per-layer filters).
        let discards = crate::trace::discards_wanted()
            .then(|| self.discards(final_id))
            .flatten();
        let walk = self.walk_back(
            final_id,
            &mut |event| event.emit(context, discards.as_ref()),
            None,
        )?;

        let depth_disagrees =
            self.fixed && self.depth(final_id) + walk.lost_updates != self.total_writes() as u64;
        if depth_disagrees {
            return Err(LedgerError::BrokenChain(final_id));
        }
        if expected_final.wrapping_sub(observed_final) != walk.lost_delta {
            return Err(LedgerError::Unreconciled {
                expected_final,
                observed_final,
                lost_updates: walk.lost_updates,
                lost_delta: walk.lost_delta,
            });
        }
        Ok(Settlement {
            observed_final,
            expected_final,
            overwrites: walk.overwrites,
            lost_updates: walk.lost_updates,
            lost_delta: walk.lost_delta,
            variables: Vec::new(),
        })
    }

    /// [`Ledger::settle`] of a controlled execution that kept no records: the writes on the
    /// final write's parent chain survive, so the others, as many as the writes made less the
    /// final write's depth, are lost.
    fn settle_by_depth(
        &self,
        final_id: WriteId,
        observed_final: i64,
        expected_final: i64,
    ) -> Result<Settlement, LedgerError> {
        let total_writes = self.total_writes() as u64;
        let survivors = self.depth(final_id);
        let lost_updates = total_writes
            .checked_sub(survivors)
            .ok_or(LedgerError::BrokenChain(final_id))?;
        let overwrites = self
            .tracks
            .iter()
            .map(|t| self.store[t.base + OVERWRITES].load(Ordering::Acquire))
            .sum();
        Ok(Settlement {
            observed_final,
            expected_final,
            overwrites,
            lost_updates,
            lost_delta: expected_final.wrapping_sub(observed_final),
            variables: Vec::new(),
        })
    }

    /// Attributes each lost update to the overwrite that discarded it for good, from one walk
    /// back that writes down every write's links (16 bytes a write, while it works).
    fn discards(&self, final_id: WriteId) -> Option<crate::discards::Discards> {
        let ops: Vec<usize> = self.tracks.iter().map(|t| t.ops).collect();
        let offsets: Vec<usize> = ops
            .iter()
            .scan(0, |next, &n| {
                let first = *next;
                *next += n;
                Some(first)
            })
            .collect();
        let total = ops.iter().sum();
        let mut links = vec![(WriteId::INITIAL, WriteId::INITIAL); total];
        let mut survived = vec![false; total];
        self.walk_back(
            final_id,
            &mut |_| {},
            Some(&mut |step: WalkStep| {
                let at = offsets[step.thread] + step.op as usize;
                links[at] = (step.parent, step.replaced);
                survived[at] = step.survives;
            }),
        )
        .ok()?;
        crate::discards::Discards::attribute(
            &ops,
            final_id,
            |thread, op| links[offsets[thread] + op as usize],
            |thread, op| survived[offsets[thread] + op as usize],
        )
    }

    /// Walks the order of the swaps back from `final_id` to the initial value, following the
    /// parent chain alongside. A run of writes that left no record (each extended its thread's
    /// previous write) is crossed in one step, unless `visit` asks to see every write.
    /// Each overwrite's event is emitted as soon as the walk has found the value it replaced,
    /// so the events come latest first.
    /// `visit`, if given, sees every write met: its thread, op, parent, replaced write and
    /// whether it survives.
    fn walk_back(
        &self,
        final_id: WriteId,
        sink: &mut impl FnMut(OverwriteEvent),
        mut visit: Option<&mut dyn FnMut(WalkStep)>,
    ) -> Result<Walk, LedgerError> {
        let total_writes = self.total_writes();
        let heap = self.lock_heap_logs();
        let mut logs: Vec<LogCursor<'_>> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(thread, t)| LogCursor {
                view: self.log_view(&heap, thread),
                end: self.store[t.base].load(Ordering::Acquire) as usize,
                op: self.store[t.base + 1].load(Ordering::Relaxed),
                replaced: WriteId(self.store[t.base + 2].load(Ordering::Relaxed)),
            })
            .collect();
        let mut walk = Walk::default();
        // The next write of the parent chain, walking back.
        let mut chain = final_id;
        let mut values = VictimValues::default();
        let mut current = final_id;
        let mut steps = 0usize;
        while let Some((thread, op)) = current.origin() {
            let broken = || LedgerError::BrokenChain(current);
            let track = self.tracks.get(thread).ok_or_else(broken)?;
            if op as usize >= track.ops || steps >= total_writes {
                return Err(broken());
            }
            let cursor = &mut logs[thread];
            let record = cursor.take(op).ok_or_else(broken)?;
            let survives = current == chain;
            values.met_write(survives);
            let Some(record) = record else {
                // A run of writes without a record, down to the op after the thread's next
                // record (or its first op): each extended the one before.
                let lowest = if visit.is_some() {
                    op
                } else {
                    cursor.lowest_of_run(op)
                };
                let run = Run {
                    thread,
                    lowest,
                    highest: op,
                    delta: track.delta,
                };
                steps += run.len() as usize;
                if steps > total_writes {
                    return Err(broken());
                }
                values.extends(track.delta.wrapping_mul(run.len() as i64));
                chain = run.cross(chain, &mut walk, &mut visit);
                current = WriteId::own_previous(thread, lowest);
                continue;
            };
            steps += 1;
            let (replaced, parent) = match record {
                Record::Switch { replaced, .. } => {
                    values.extends(track.delta);
                    (replaced, replaced)
                }
                Record::Overwrite {
                    replaced,
                    parent,
                    read_value,
                    written_value,
                    ..
                } => {
                    walk.overwrites += 1;
                    let event = OverwriteEvent {
                        thread,
                        op,
                        read_value,
                        written_value,
                        overwritten: replaced,
                        overwritten_value: 0,
                        restored: false,
                    };
                    values.overwrite(written_value, event, sink);
                    (replaced, parent)
                }
            };
            if let Some(visit) = visit.as_mut() {
                visit(WalkStep {
                    thread,
                    op,
                    parent,
                    replaced,
                    survives,
                });
            }
            if survives {
                chain = parent;
            } else {
                walk.lost(track.delta, 1);
            }
            current = replaced;
        }
        values.initial(self.initial, sink);
        if chain != WriteId::INITIAL {
            return Err(LedgerError::BrokenChain(chain));
        }
        if steps != total_writes || logs.iter().any(|log| log.end > 0) {
            return Err(LedgerError::BrokenChain(final_id));
        }
        Ok(walk)
    }
}

/// Writes `lowest..=highest` of one thread that left no record: each replaced and was computed
/// from its thread's previous write.
#[derive(Clone, Copy, Debug)]
struct Run {
    thread: usize,
    lowest: u64,
    highest: u64,
    delta: i64,
}

impl Run {
    /// The number of writes in the run.
    fn len(self) -> u64 {
        self.highest - self.lowest + 1
    }

    /// Walks the run back from its highest write, where the parent chain's next write is
    /// `chain`: the writes above the chain's entry into the run are lost, those from it down
    /// survive. Returns the chain's next write below the run.
    fn cross(
        self,
        chain: WriteId,
        walk: &mut Walk,
        visit: &mut Option<&mut dyn FnMut(WalkStep)>,
    ) -> WriteId {
        let Run {
            thread,
            lowest,
            highest,
            delta,
        } = self;
        // The highest write of the run on the chain, if the chain enters the run.
        let entry = match chain.origin() {
            Some((t, op)) if t == thread && (lowest..=highest).contains(&op) => Some(op),
            _ => None,
        };
        let lost = match entry {
            Some(op) => highest - op,
            None => self.len(),
        };
        walk.lost(delta, lost);
        if let Some(visit) = visit.as_mut() {
            for op in (lowest..=highest).rev() {
                let previous = WriteId::own_previous(thread, op);
                visit(WalkStep {
                    thread,
                    op,
                    parent: previous,
                    replaced: previous,
                    survives: entry.is_some_and(|entry| op <= entry),
                });
            }
        }
        match entry {
            Some(_) => WriteId::own_previous(thread, lowest),
            None => chain,
        }
    }
}

/// One thread's log, as the walk back reads it.
#[derive(Clone, Copy, Debug)]
enum LogView<'a> {
    /// A compact heap log.
    Bytes(&'a [u8]),
    /// A fixed heap log.
    Fixed(&'a [u8]),
    /// A log kept in the store, eight bytes a word.
    Words(&'a [AtomicU64]),
}

/// Bytes of a log, by index.
trait LogBytes: Copy {
    /// Byte `at`, if the log has it.
    fn byte(self, at: usize) -> Option<u8>;
}

impl LogBytes for &[u8] {
    #[inline]
    fn byte(self, at: usize) -> Option<u8> {
        self.get(at).copied()
    }
}

impl LogBytes for &[AtomicU64] {
    #[inline]
    fn byte(self, at: usize) -> Option<u8> {
        self.get(at / 8)
            .map(|word| (word.load(Ordering::Relaxed) >> ((at % 8) * 8)) as u8)
    }
}

impl LogView<'_> {
    /// The record that ends at byte `end`, of op `op` and replacing `replaced` (as the record
    /// after it, or the log's header, says); where it starts, and the op and replaced write of
    /// the record before it.
    fn record_before(
        &self,
        end: usize,
        op: u64,
        replaced: WriteId,
    ) -> Option<(Record, usize, u64, WriteId)> {
        match *self {
            LogView::Bytes(bytes) => decode_record_before(bytes, end, op, replaced),
            LogView::Fixed(bytes) => fixed_record_before(bytes, end, op),
            LogView::Words(words) => decode_record_before(words, end, op, replaced),
        }
    }
}

/// [`LogView::record_before`] in a fixed log; the replaced write of the record before is not
/// needed to read it, so it is given as the initial value.
#[inline]
fn fixed_record_before(log: &[u8], end: usize, op: u64) -> Option<(Record, usize, u64, WriteId)> {
    let mut at = end;
    let mut word = || -> Option<u64> {
        at = at.checked_sub(8)?;
        let bytes = log.get(at..at + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    };
    let header = word()?;
    if header & !FIXED_OVERWRITE != op {
        return None;
    }
    let replaced = WriteId(word()?);
    let record = if header & FIXED_OVERWRITE == 0 {
        Record::Switch { op, replaced }
    } else {
        let parent = WriteId(word()?);
        let read_value = word()? as i64;
        let written_value = word()? as i64;
        Record::Overwrite {
            op,
            replaced,
            parent,
            read_value,
            written_value,
        }
    };
    let previous_op = match at {
        0 => 0,
        _ => {
            let bytes = log.get(at - 8..at)?;
            u64::from_le_bytes(bytes.try_into().ok()?) & !FIXED_OVERWRITE
        }
    };
    Some((record, at, previous_op, WriteId::INITIAL))
}

/// [`LogView::record_before`] in the log `log`.
#[inline]
fn decode_record_before(
    log: impl LogBytes,
    end: usize,
    op: u64,
    replaced: WriteId,
) -> Option<(Record, usize, u64, WriteId)> {
    let mut bytes = Decoder { log, at: end };
    let kind = bytes.byte()?;
    let previous_op = op.checked_sub(bytes.varint()?)?;
    let previous_replaced = WriteId(replaced.0.wrapping_sub(bytes.signed()? as u64));
    let record = match kind {
        SWITCH => Record::Switch { op, replaced },
        OVERWRITE => {
            let parent = bytes.id(op)?;
            let read_value = bytes.signed()?;
            let written_value = read_value.wrapping_add(bytes.signed()?);
            Record::Overwrite {
                op,
                replaced,
                parent,
                read_value,
                written_value,
            }
        }
        _ => return None,
    };
    Some((record, bytes.at, previous_op, previous_replaced))
}

/// Where the walk back is in one thread's log.
#[derive(Debug)]
struct LogCursor<'a> {
    view: LogView<'a>,
    /// The end of the records not yet met.
    end: usize,
    /// The op and the replaced write of the last record not yet met.
    op: u64,
    replaced: WriteId,
}

impl LogCursor<'_> {
    /// The lowest op of the run without records that ends at op `op`, which has none: the op
    /// after the thread's next record walking back, or its first op.
    fn lowest_of_run(&self, op: u64) -> u64 {
        if self.end == 0 {
            0
        } else {
            (self.op + 1).min(op)
        }
    }

    /// The record of op `op`, if it has one (the walk meets ops in decreasing order); `None`
    /// if the log is inconsistent with that.
    fn take(&mut self, op: u64) -> Option<Option<Record>> {
        if self.end == 0 || self.op < op {
            return Some(None);
        }
        if self.op > op {
            return None;
        }
        let (record, start, previous_op, previous_replaced) =
            self.view.record_before(self.end, op, self.replaced)?;
        (self.end, self.op, self.replaced) = (start, previous_op, previous_replaced);
        Some(Some(record))
    }
}

/// A record's bytes, in the order they are read back.
#[derive(Debug)]
struct Encoder {
    bytes: [u8; MAX_RECORD_BYTES],
    len: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            bytes: [0; MAX_RECORD_BYTES],
            len: 0,
        }
    }
}

impl Encoder {
    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Seven bits a byte, low bits first; the high bit says that more follow.
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }

    /// Small magnitudes of either sign in few bytes (zigzag).
    fn signed(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    /// `id` as its thread plus one (zero for the initial value) and its op's distance from
    /// `op`.
    fn id(&mut self, id: WriteId, op: u64) {
        match id.origin() {
            None => self.varint(0),
            Some((thread, other)) => {
                self.varint(thread as u64 + 1);
                self.signed(op.wrapping_sub(other) as i64);
            }
        }
    }

    /// The record's bytes, stored back to front: the order of the log.
    fn back_to_front(&mut self) -> &[u8] {
        let encoded = &mut self.bytes[..self.len];
        encoded.reverse();
        encoded
    }
}

/// Reads a record back from its end, in the order [`Encoder`] wrote it.
struct Decoder<L> {
    log: L,
    at: usize,
}

impl<L: LogBytes> Decoder<L> {
    fn byte(&mut self) -> Option<u8> {
        self.at = self.at.checked_sub(1)?;
        self.log.byte(self.at)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn signed(&mut self) -> Option<i64> {
        let zigzag = self.varint()?;
        Some((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    fn id(&mut self, op: u64) -> Option<WriteId> {
        match self.varint()? {
            0 => Some(WriteId::INITIAL),
            thread => {
                let other = op.wrapping_sub(self.signed()? as u64);
                (other <= OP_MASK).then(|| WriteId::new(thread as usize - 1, other))
            }
        }
    }
}

/// One write met by the walk back.
#[derive(Clone, Copy, Debug)]
struct WalkStep {
    thread: usize,
    op: u64,
    parent: WriteId,
    replaced: WriteId,
    survives: bool,
}

/// What a walk back found.
#[derive(Debug, Default)]
struct Walk {
    overwrites: u64,
    lost_updates: u64,
    lost_delta: i64,
}

impl Walk {
    /// `count` writes of `delta` each are lost.
    fn lost(&mut self, delta: i64, count: u64) {
        self.lost_updates += count;
        self.lost_delta = self
            .lost_delta
            .wrapping_add(delta.wrapping_mul(count as i64));
    }
}

/// Finds, walking back, the value of the write each overwrite replaced: the write met just
/// after it. That write's value is the value written by the next overwrite met (or the initial
/// value) plus the deltas of the writes met in between, each of which extended the one before.
#[derive(Debug, Default)]
struct VictimValues {
    /// The overwrite met at the last step, whose replaced write is met at this one.
    just_met: Option<OverwriteEvent>,
    /// The overwrite whose replaced write's value is `since` plus the value of the next
    /// overwrite met.
    waiting: Option<OverwriteEvent>,
    since: i64,
}

impl VictimValues {
    /// A write was met: it is the write the overwrite met just before replaced.
    fn met_write(&mut self, survives: bool) {
        if let Some(mut event) = self.just_met.take() {
            event.restored = survives;
            self.waiting = Some(event);
            self.since = 0;
        }
    }

    /// The write met extended the write before it by `delta`.
    fn extends(&mut self, delta: i64) {
        self.since = self.since.wrapping_add(delta);
    }

    /// The write met was an overwrite that wrote `written_value`.
    fn overwrite(
        &mut self,
        written_value: i64,
        event: OverwriteEvent,
        sink: &mut impl FnMut(OverwriteEvent),
    ) {
        if let Some(mut waiting) = self.waiting.take() {
            waiting.overwritten_value = written_value.wrapping_add(self.since);
            sink(waiting);
        }
        self.just_met = Some(event);
    }

    /// The walk reached the initial value.
    fn initial(&mut self, initial: i64, sink: &mut impl FnMut(OverwriteEvent)) {
        if let Some(mut event) = self.just_met.take() {
            event.overwritten_value = initial;
            sink(event);
        }
        if let Some(mut waiting) = self.waiting.take() {
            waiting.overwritten_value = initial.wrapping_add(self.since);
            sink(waiting);
        }
    }
}

/// One overwrite, as its `tracing` event tells it.
#[derive(Clone, Copy, Debug)]
struct OverwriteEvent {
    thread: usize,
    op: u64,
    read_value: i64,
    written_value: i64,
    overwritten: WriteId,
    overwritten_value: i64,
    /// Whether the overwritten write survived (a later write was based on it).
    restored: bool,
}

impl OverwriteEvent {
    fn emit(&self, context: EventContext<'_>, discards: Option<&crate::discards::Discards>) {
        // Absent from the event when not worked out, never a wrong 0.
        let discarded = discards.map(|d| d.of(self.thread, self.op));
        let (overwritten_thread, overwritten_op) = match self.overwritten.origin() {
            Some((t, o)) => (t as i64, o as i64),
            None => (-1, -1),
        };
        let (thread, op) = (self.thread, self.op);
        tracing::info!(
            target: "contend::lost_update",
            scenario = context.scenario,
            run = context.run,
            thread,
            op,
            read_value = self.read_value,
            written_value = self.written_value,
            overwritten_thread,
            overwritten_op,
            overwritten_value = self.overwritten_value,
            restored = self.restored,
            discarded_updates = discarded.map(|d| d.len() as u64),
            discarded = discarded.map(crate::discards::describe),
            "thread {thread} op {op} overwrote the write of thread {overwritten_thread} op {overwritten_op}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    fn ledger(initial: i64, threads: &[(i64, u64)]) -> Ledger<AtomicU64> {
        Ledger::new(AtomicU64::new(0), initial, threads.iter().copied())
    }

    const CONTEXT: EventContext<'static> = EventContext {
        scenario: "unit",
        run: 0,
    };

    #[test]
    fn sequential_writes_lose_nothing() {
        let ledger = ledger(10, &[(1, 3), (-1, 2)]);
        for op in 0..3 {
            let read = ledger.read();
            assert_eq!(ledger.write(0, op, read, read.value + 1), None);
        }
        for op in 0..2 {
            let read = ledger.read();
            assert_eq!(ledger.write(1, op, read, read.value - 1), None);
        }
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.observed_final, 11);
        assert_eq!(settlement.expected_final, 11);
        assert_eq!(settlement.lost_updates, 0);
        assert_eq!(settlement.overwrites, 0);
    }

    #[test]
    fn a_stale_write_loses_the_write_it_overwrites() {
        let ledger = ledger(10, &[(1, 1), (-1, 1)]);
        let read_a = ledger.read();
        let read_b = ledger.read();
        assert_eq!(ledger.write(0, 0, read_a, read_a.value + 1), None);
        assert_eq!(
            ledger.write(1, 0, read_b, read_b.value - 1),
            Some(WriteId::new(0, 0))
        );
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.observed_final, 9);
        assert_eq!(settlement.expected_final, 10);
        assert_eq!(settlement.lost_updates, 1);
        assert_eq!(settlement.lost_delta, 1);
    }

    /// T1 reads 0; T2 writes 1 and reads 1; T1 writes 1 from its stale read, overwriting T2's
    /// update; T2 writes 2 from its own read, which restores T2's first update and drops T1's:
    /// three increments, two overwrites, one net loss.
    #[test]
    fn a_restored_update_is_not_counted_as_lost() {
        let ledger = ledger(0, &[(1, 1), (1, 2)]);
        let t1_read = ledger.read();
        let t2_read = ledger.read();
        assert_eq!(ledger.write(1, 0, t2_read, t2_read.value + 1), None);
        let t2_second_read = ledger.read();
        assert_eq!(t2_second_read.value, 1);
        assert_eq!(
            ledger.write(0, 0, t1_read, t1_read.value + 1),
            Some(WriteId::new(1, 0))
        );
        assert_eq!(
            ledger.write(1, 1, t2_second_read, t2_second_read.value + 1),
            Some(WriteId::new(0, 0))
        );
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.overwrites, 2);
        assert_eq!(settlement.lost_updates, 1);
        assert_eq!(settlement.observed_final, 2);
        assert_eq!(settlement.expected_final, 3);
        assert_eq!(settlement.lost_delta, 1);
    }

    #[test]
    fn compare_and_write_refuses_a_stale_read() {
        let ledger = ledger(5, &[(1, 1), (1, 1)]);
        let stale = ledger.read();
        let fresh = ledger.read();
        assert!(
            ledger
                .compare_and_write(1, 0, fresh, fresh.value + 1)
                .is_ok()
        );
        let now = ledger
            .compare_and_write(0, 0, stale, stale.value + 1)
            .unwrap_err();
        assert_eq!(now.value, 6);
        assert!(ledger.compare_and_write(0, 0, now, now.value + 1).is_ok());
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.observed_final, 7);
        assert_eq!(settlement.lost_updates, 0);
    }

    #[test]
    fn a_wrong_value_is_reported_as_unreconciled() {
        let ledger = ledger(0, &[(1, 1)]);
        let read = ledger.read();
        ledger.write(0, 0, read, 5);
        assert!(matches!(
            ledger.settle(CONTEXT),
            Err(LedgerError::Unreconciled { .. })
        ));
    }

    #[test]
    fn a_reset_ledger_accounts_for_the_next_execution_alone() {
        let ledger = ledger(0, &[(1, 1), (1, 1)]);
        let (a, b) = (ledger.read(), ledger.read());
        ledger.write(0, 0, a, a.value + 1);
        ledger.write(1, 0, b, b.value + 1);
        assert_eq!(ledger.settle(CONTEXT).unwrap().lost_updates, 1);

        ledger.reset();
        let a = ledger.read();
        ledger.write(0, 0, a, a.value + 1);
        let b = ledger.read();
        assert_eq!(b.value, 1);
        ledger.write(1, 0, b, b.value + 1);
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.lost_updates, 0);
        assert_eq!(settlement.overwrites, 0);
        assert_eq!(settlement.observed_final, 2);
    }

    /// The accounting that records every write (the parent chain over a record per write),
    /// to check the walk against on random interleavings.
    fn settle_by_full_records(
        initial: i64,
        deltas: &[i64],
        writes: &[(usize, u64, WriteId, WriteId)],
        final_id: WriteId,
    ) -> (u64, u64, i64) {
        let mut survivors = std::collections::HashSet::new();
        let parent_of: std::collections::HashMap<WriteId, WriteId> = writes
            .iter()
            .map(|&(t, op, parent, _)| (WriteId::new(t, op), parent))
            .collect();
        let mut cursor = final_id;
        while cursor != WriteId::INITIAL {
            survivors.insert(cursor);
            cursor = parent_of[&cursor];
        }
        let overwrites = writes.iter().filter(|w| w.2 != w.3).count() as u64;
        let lost: Vec<_> = writes
            .iter()
            .filter(|&&(t, op, _, _)| !survivors.contains(&WriteId::new(t, op)))
            .collect();
        let lost_delta = lost.iter().map(|&&(t, ..)| deltas[t]).sum();
        let _ = initial;
        (overwrites, lost.len() as u64, lost_delta)
    }

    /// Settles `ledger` under a subscriber that keeps the fields of its overwrite events.
    fn settle_capturing_events(ledger: &Ledger<AtomicU64>) -> (Settlement, Vec<serde_json::Value>) {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let settlement =
            tracing::subscriber::with_default(subscriber, || ledger.settle(CONTEXT).unwrap());
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let events = text
            .lines()
            .map(|line| {
                let mut fields: serde_json::Value = serde_json::from_str(line).unwrap();
                let fields = fields["fields"].as_object_mut().unwrap();
                fields.remove("message");
                fields.remove("scenario");
                fields.remove("run");
                serde_json::Value::Object(fields.clone())
            })
            .collect();
        (settlement, events)
    }

    /// Runs threads that read and write at random moments (a read, then a write, each thread
    /// keeping at most one read in flight) and settles.
    fn random_interleaving(seed: u64, logs: Logs) {
        interleaving(seed, logs, 0.0, true);
    }

    /// An interleaving of 1 to 4 threads doing 1 to 199 writes each, where the thread that just
    /// made a step makes the next one with probability `sticky` (long runs without a record
    /// when high), checked against a record of every write: the settlement, every overwrite's
    /// event, and every write the walk back meets one by one. Without `recording`, a
    /// controlled execution's ledger keeps no records: only the settlement is checked.
    fn interleaving(seed: u64, logs: Logs, sticky: f64, recording: bool) {
        use rand::rngs::SmallRng;
        use rand::{RngExt, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(seed);
        let threads = rng.random_range(1..=4usize);
        let deltas: Vec<i64> = (0..threads).map(|t| [1, -1, 3, -2][t]).collect();
        let ops: Vec<u64> = (0..threads).map(|_| rng.random_range(1..200u64)).collect();
        let initial = rng.random_range(-5..5i64);
        let spec: Vec<(i64, u64)> = deltas.iter().copied().zip(ops.iter().copied()).collect();
        let words = store_words(ops.iter().copied(), logs);
        let mut ledger = Ledger::with_store(
            AtomicU64::new(0),
            crate::platform::os::heap_store(words),
            initial,
            spec,
            logs,
        );
        ledger.recording = recording || logs != Logs::Controlled;
        let mut next_op = vec![0u64; threads];
        let mut in_flight: Vec<Option<Read>> = vec![None; threads];
        let mut writes = Vec::new();
        let mut values = std::collections::HashMap::from([(WriteId::INITIAL, initial)]);
        let mut value = initial;
        let mut last = None;
        while let Some(thread) = {
            let live: Vec<usize> = (0..threads).filter(|&t| next_op[t] < ops[t]).collect();
            match last {
                Some(last) if live.contains(&last) && rng.random_bool(sticky) => Some(last),
                _ => (!live.is_empty()).then(|| live[rng.random_range(0..live.len())]),
            }
        } {
            last = Some(thread);
            match in_flight[thread].take() {
                None => in_flight[thread] = Some(ledger.read()),
                Some(read) => {
                    let op = next_op[thread];
                    let replaced = ledger
                        .write(thread, op, read, read.value + deltas[thread])
                        .unwrap_or(read.id);
                    writes.push((thread, op, read.id, replaced));
                    value = read.value + deltas[thread];
                    values.insert(WriteId::new(thread, op), value);
                    next_op[thread] += 1;
                }
            }
        }
        let final_id = writes
            .last()
            .map_or(WriteId::INITIAL, |w| WriteId::new(w.0, w.1));
        let (overwrites, lost, lost_delta) =
            settle_by_full_records(initial, &deltas, &writes, final_id);
        if !ledger.recording {
            let settlement = ledger.settle(CONTEXT).unwrap();
            assert_eq!(settlement.observed_final, value, "seed {seed}");
            assert_eq!(settlement.overwrites, overwrites, "seed {seed}");
            assert_eq!(settlement.lost_updates, lost, "seed {seed}");
            assert_eq!(settlement.lost_delta, lost_delta, "seed {seed}");
            assert_eq!(
                ledger
                    .heap_logs
                    .iter()
                    .map(|log| log.lock().unwrap().len())
                    .sum::<usize>(),
                0
            );
            return;
        }
        let (settlement, mut events) = settle_capturing_events(&ledger);
        events.sort_by_key(|e| (e["thread"].as_u64(), e["op"].as_u64()));
        let mut survivors = std::collections::HashSet::new();
        let mut cursor = final_id;
        while cursor != WriteId::INITIAL {
            survivors.insert(cursor);
            let (t, op) = cursor.origin().unwrap();
            cursor = writes.iter().find(|w| (w.0, w.1) == (t, op)).unwrap().2;
        }
        let mut expected: Vec<serde_json::Value> = writes
            .iter()
            .filter(|w| w.2 != w.3)
            .map(|&(thread, op, parent, replaced)| {
                let (overwritten_thread, overwritten_op) = replaced
                    .origin()
                    .map_or((-1, -1), |(t, o)| (t as i64, o as i64));
                serde_json::json!({
                    "thread": thread,
                    "op": op,
                    "read_value": values[&parent],
                    "written_value": values[&WriteId::new(thread, op)],
                    "overwritten_thread": overwritten_thread,
                    "overwritten_op": overwritten_op,
                    "overwritten_value": values[&replaced],
                    "restored": survivors.contains(&replaced),
                })
            })
            .collect();
        expected.sort_by_key(|e| (e["thread"].as_u64(), e["op"].as_u64()));
        assert_eq!(events, expected, "seed {seed}");
        assert_eq!(settlement.observed_final, value, "seed {seed}");
        assert_eq!(settlement.overwrites, overwrites, "seed {seed}");
        assert_eq!(settlement.lost_updates, lost, "seed {seed}");
        assert_eq!(settlement.lost_delta, lost_delta, "seed {seed}");
        let mut met = Vec::new();
        let walk = ledger
            .walk_back(
                final_id,
                &mut |_| {},
                Some(&mut |step: WalkStep| met.push(step)),
            )
            .unwrap();
        assert_eq!(walk.lost_updates, lost, "seed {seed}");
        assert_eq!(met.len(), writes.len(), "seed {seed}");
        for step in met {
            let write = writes
                .iter()
                .find(|w| (w.0, w.1) == (step.thread, step.op))
                .unwrap();
            assert_eq!(
                (step.parent, step.replaced),
                (write.2, write.3),
                "seed {seed}"
            );
            let id = WriteId::new(step.thread, step.op);
            assert_eq!(step.survives, survivors.contains(&id), "seed {seed}");
        }
    }

    #[test]
    fn the_walk_back_agrees_with_a_record_of_every_write() {
        for seed in 0..300 {
            random_interleaving(seed, Logs::OnHeap);
        }
    }

    #[test]
    fn fixed_logs_account_as_compact_logs() {
        for seed in 0..300 {
            random_interleaving(seed, Logs::Controlled);
        }
    }

    #[test]
    fn a_controlled_execution_without_records_counts_its_lost_updates_by_depth() {
        for seed in 0..300 {
            for sticky in [0.0, 0.9] {
                interleaving(seed, Logs::Controlled, sticky, false);
            }
        }
    }

    #[test]
    fn a_run_of_writes_without_records_is_crossed_exactly_where_the_chain_enters_it() {
        for seed in 0..300 {
            for logs in [Logs::OnHeap, Logs::Controlled, Logs::InStore] {
                interleaving(seed, logs, 0.9, true);
            }
        }
    }

    #[test]
    fn logs_kept_in_the_store_account_as_logs_on_the_heap() {
        for seed in 0..100 {
            random_interleaving(seed, Logs::InStore);
        }
    }

    #[test]
    fn a_run_of_one_thread_and_a_mutex_run_record_nothing_but_switches() {
        let ledger = ledger(10, &[(1, 1000), (-1, 1001)]);
        for (thread, delta, ops) in [(0, 1, 1000), (1, -1, 1001)] {
            for op in 0..ops {
                let read = ledger.read();
                ledger.write(thread, op, read, read.value + delta);
            }
        }
        let length =
            |thread: usize| ledger.store[ledger.tracks[thread].base].load(Ordering::Relaxed);
        assert_eq!(length(0), 0);
        // One switch: thread 1's first write replaced thread 0's last.
        let heap = ledger.lock_heap_logs();
        let (record, start, ..) = ledger
            .log_view(&heap, 1)
            .record_before(length(1) as usize, 0, WriteId::new(0, 999))
            .unwrap();
        assert_eq!(start, 0);
        assert_eq!(
            record,
            Record::Switch {
                op: 0,
                replaced: WriteId::new(0, 999)
            }
        );
        drop(heap);
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.observed_final, 9);
        assert_eq!(settlement.lost_updates, 0);
    }

    #[test]
    fn a_read_whose_ring_slot_was_reused_reads_the_cell_again() {
        let ledger = ledger(0, &[(1, 200)]);
        let read = ledger.read();
        ledger.write(0, 0, read, 1);
        let seen = WriteId::new(0, 0);
        assert_eq!(ledger.recent_value(seen), Some(1));
        for op in 1..=RING as u64 {
            let read = ledger.read();
            ledger.write(0, op, read, read.value + 1);
        }
        assert_eq!(ledger.recent_value(seen), None);
        assert_eq!(ledger.read().value, RING as i64 + 1);
    }

    #[test]
    fn the_largest_record_fits_in_its_bound() {
        let mut bytes = Encoder::default();
        bytes.byte(OVERWRITE);
        bytes.varint(OP_MASK);
        bytes.signed(i64::MIN);
        bytes.id(WriteId::new((1 << (64 - OP_BITS)) - 2, OP_MASK), 0);
        bytes.signed(i64::MIN);
        bytes.signed(i64::MIN);
        assert_eq!(bytes.back_to_front().len(), MAX_RECORD_BYTES);
    }

    #[test]
    fn write_ids_round_trip() {
        assert_eq!(WriteId::new(3, 41).origin(), Some((3, 41)));
        assert_eq!(WriteId::INITIAL.origin(), None);
    }
}
