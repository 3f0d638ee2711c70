//! Write ids: which thread's op a write is, and what a read saw.

/// Identifies one write: its thread and op index, or the initial value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WriteId(pub(super) u64);

pub(super) const OP_BITS: u32 = 40;
pub(super) const OP_MASK: u64 = (1 << OP_BITS) - 1;

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
    pub(super) fn own_previous(thread: usize, op: u64) -> WriteId {
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
