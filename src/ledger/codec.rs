//! The varint encoding of a compact record: written front to back, read back from its end.

use super::id::{OP_MASK, WriteId};
use super::record::MAX_RECORD_BYTES;
use super::view::LogBytes;

/// A record's bytes, in the order they are read back.
#[derive(Debug)]
pub(super) struct Encoder {
    pub(super) bytes: [u8; MAX_RECORD_BYTES],
    pub(super) len: usize,
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
    pub(super) fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// Seven bits a byte, low bits first; the high bit says that more follow.
    pub(super) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }

    /// Small magnitudes of either sign in few bytes (zigzag).
    pub(super) fn signed(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    /// `id` as its thread plus one (zero for the initial value) and its op's distance from
    /// `op`.
    pub(super) fn id(&mut self, id: WriteId, op: u64) {
        match id.origin() {
            None => self.varint(0),
            Some((thread, other)) => {
                self.varint(thread as u64 + 1);
                self.signed(op.wrapping_sub(other) as i64);
            }
        }
    }

    /// The record's bytes, stored back to front: the order of the log.
    pub(super) fn back_to_front(&mut self) -> &[u8] {
        let encoded = &mut self.bytes[..self.len];
        encoded.reverse();
        encoded
    }
}

/// Reads a record back from its end, in the order [`Encoder`] wrote it.
pub(super) struct Decoder<L> {
    pub(super) log: L,
    pub(super) at: usize,
}

impl<L: LogBytes> Decoder<L> {
    pub(super) fn byte(&mut self) -> Option<u8> {
        self.at = self.at.checked_sub(1)?;
        self.log.byte(self.at)
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
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

    pub(super) fn signed(&mut self) -> Option<i64> {
        let zigzag = self.varint()?;
        Some((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    pub(super) fn id(&mut self, op: u64) -> Option<WriteId> {
        match self.varint()? {
            0 => Some(WriteId::INITIAL),
            thread => {
                let other = op.wrapping_sub(self.signed()? as u64);
                (other <= OP_MASK).then(|| WriteId::new(thread as usize - 1, other))
            }
        }
    }
}
