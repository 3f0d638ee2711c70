//! The ledger's store: where its logs live, the layout of each thread's words, making and
//! resetting a ledger, and the heap logs kept from one ledger to the next on a thread.

use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::SharedWord;

use super::id::WriteId;
use super::record::MAX_RECORD_BYTES;

/// Slots in each thread's ring of recent values.
pub(super) const RING: usize = 64;
/// The word of a thread's fixed part that counts its overwrites.
pub(super) const OVERWRITES: usize = 3;
/// The first word of a thread's ring in its fixed part.
pub(super) const RING_START: usize = 4;
/// Words of a thread's fixed part of the store: its log's length in bytes, the op and the
/// replaced write of its last record, its overwrites, then its ring of (tag, value) slots.
pub(super) const FIXED_WORDS: usize = RING_START + 2 * RING;

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

#[derive(Debug)]
pub(super) struct Track {
    pub(super) delta: i64,
    pub(super) ops: usize,
    /// The index of the track's fixed part in the store.
    pub(super) base: usize,
    /// Where its log starts in the store, for [`Logs::InStore`], or its writes' depths, for
    /// [`Logs::Controlled`].
    pub(super) log_start: usize,
}

/// An instrumented shared counter cell with its records, kept in the store `R`.
#[derive(Debug)]
pub struct Ledger<W, R = Box<[AtomicU64]>> {
    pub(super) cell: W,
    pub(super) initial: i64,
    pub(super) tracks: Vec<Track>,
    pub(super) store: R,
    /// One log per thread when the logs are on the heap. Only its thread locks it while the
    /// execution runs, so the lock is never contended.
    pub(super) heap_logs: Vec<Mutex<Vec<u8>>>,
    /// Whether the heap logs hold fixed records and the store every write's depth
    /// ([`Logs::Controlled`]).
    pub(super) fixed: bool,
    /// Whether writes leave records: always, but for a controlled execution nobody may want
    /// the events of (see [`events_may_be_wanted`]).
    pub(super) recording: bool,
}

/// Whether the overwrites' `tracing` events (or a trace's discards) may be wanted: a
/// subscriber that takes `INFO` events may be installed. Asked once per ledger; it reads only
/// the global maximum level, which leaves per-layer filters alone.
pub(super) fn events_may_be_wanted() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    crate::trace::discards_wanted()
        || (LevelFilter::INFO <= STATIC_MAX_LEVEL && LevelFilter::INFO <= LevelFilter::current())
}

/// The most bytes of log room a thread keeps for the next ledger made on it: a run of small
/// executions reuses its logs, a large one gives its memory back.
pub(super) const SPARE_LOG_BYTES: usize = 64 * 1024;

thread_local! {
    /// The heap logs the last ledger dropped on this thread, for the next one to reuse.
    static SPARE_HEAP_LOGS: std::cell::Cell<Vec<Mutex<Vec<u8>>>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// `threads` heap logs, those of the last ledger dropped on this thread when it had as many.
/// A reused log may hold what an earlier execution wrote: its length in the store says how much
/// of it counts.
pub(super) fn spare_heap_logs(threads: usize) -> Vec<Mutex<Vec<u8>>> {
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

    pub(super) fn clear_logs(&self) {
        for track in &self.tracks {
            self.store[track.base].store(0, Ordering::Release);
            self.store[track.base + OVERWRITES].store(0, Ordering::Release);
        }
    }

    /// The writes every thread makes in an execution.
    pub(super) fn total_writes(&self) -> usize {
        self.tracks.iter().map(|t| t.ops).sum()
    }

    /// The value the counter must end with when no update is lost.
    pub fn expected_final(&self) -> i64 {
        self.tracks.iter().fold(self.initial, |acc, t| {
            acc.wrapping_add(t.delta.wrapping_mul(t.ops as i64))
        })
    }
}
