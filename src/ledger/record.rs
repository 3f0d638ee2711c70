//! Writing records: a write that does not extend its thread's run leaves one in its thread's
//! log, compact (varints) or fixed (whole words).

use std::ops::Deref;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::SharedWord;

use super::codec::Encoder;
use super::id::{Read, WriteId};
use super::store::Ledger;

/// The kind byte of a switch record.
pub(super) const SWITCH: u8 = 0;
/// The kind byte of an overwrite record.
pub(super) const OVERWRITE: u8 = 1;
/// The most bytes one record can take: its kind (1), the distance from the previous record's
/// op (under 2^40: 6), the replaced write's distance from the previous record's (any 64 bits:
/// 10), the parent's thread (under 2^24: 4) and distance (under 2^41 with its sign: 6), the
/// value read (10) and the written value's difference from it (10).
pub(super) const MAX_RECORD_BYTES: usize = 1 + 6 + 10 + 4 + 6 + 10 + 10;

/// The bit of a fixed record's last word that marks an overwrite (the rest is its op).
pub(super) const FIXED_OVERWRITE: u64 = 1 << 63;

/// One write's record in its thread's log. In a compact log ([`Logs::OnHeap`],
/// [`Logs::InStore`]): a kind byte, then varints: the op's distance from the
/// thread's previous record, the replaced write, and for an overwrite the parent, the value read
/// and the written value's difference from it. Ids are a thread (plus one; zero for the initial
/// value) and the op's distance from the recording op, so that most fields take a byte or two.
/// A record's bytes are stored back to front, so that the walk back from the final write reads
/// each log from its end. In a fixed log ([`Logs::Controlled`]), little-endian words, the last
/// one first when read back: the op (with [`FIXED_OVERWRITE`] for an overwrite), the replaced
/// write, and for an overwrite the parent, the value read and the value written.
///
/// [`Logs::OnHeap`]: super::Logs::OnHeap
/// [`Logs::InStore`]: super::Logs::InStore
/// [`Logs::Controlled`]: super::Logs::Controlled
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Record {
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

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    #[cold]
    pub(super) fn record(&self, thread: usize, op: u64, read: Read, value: i64, replaced: WriteId) {
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
    pub(super) fn record_fixed(
        &self,
        thread: usize,
        op: u64,
        read: Read,
        value: i64,
        replaced: WriteId,
    ) {
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
    pub(super) fn put_byte(&self, thread: usize, at: usize, byte: u8) {
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
}
