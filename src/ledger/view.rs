//! Reading the logs back: one thread's log as the walk back reads it, record by record from
//! its end.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{MutexGuard, PoisonError};

use crate::platform::SharedWord;

use super::codec::Decoder;
use super::id::WriteId;
use super::record::{FIXED_OVERWRITE, OVERWRITE, Record, SWITCH};
use super::store::Ledger;

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    /// The heap logs, held for reading once the execution has ended.
    pub(super) fn lock_heap_logs(&self) -> Vec<MutexGuard<'_, Vec<u8>>> {
        self.heap_logs
            .iter()
            .map(|log| log.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// The log of `thread`, whose heap log (if any) `heap` holds.
    pub(super) fn log_view<'a>(
        &'a self,
        heap: &'a [MutexGuard<'_, Vec<u8>>],
        thread: usize,
    ) -> LogView<'a> {
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
}

/// One thread's log, as the walk back reads it.
#[derive(Clone, Copy, Debug)]
pub(super) enum LogView<'a> {
    /// A compact heap log.
    Bytes(&'a [u8]),
    /// A fixed heap log.
    Fixed(&'a [u8]),
    /// A log kept in the store, eight bytes a word.
    Words(&'a [AtomicU64]),
}

/// Bytes of a log, by index.
pub(super) trait LogBytes: Copy {
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
    pub(super) fn record_before(
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
pub(super) fn fixed_record_before(
    log: &[u8],
    end: usize,
    op: u64,
) -> Option<(Record, usize, u64, WriteId)> {
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
pub(super) fn decode_record_before(
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
pub(super) struct LogCursor<'a> {
    pub(super) view: LogView<'a>,
    /// The end of the records not yet met.
    pub(super) end: usize,
    /// The op and the replaced write of the last record not yet met.
    pub(super) op: u64,
    pub(super) replaced: WriteId,
}

impl LogCursor<'_> {
    /// The lowest op of the run without records that ends at op `op`, which has none: the op
    /// after the thread's next record walking back, or its first op.
    pub(super) fn lowest_of_run(&self, op: u64) -> u64 {
        if self.end == 0 {
            0
        } else {
            (self.op + 1).min(op)
        }
    }

    /// The record of op `op`, if it has one (the walk meets ops in decreasing order); `None`
    /// if the log is inconsistent with that.
    pub(super) fn take(&mut self, op: u64) -> Option<Option<Record>> {
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
