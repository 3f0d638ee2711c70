//! Atomic words in a file mapped into every process of an execution: the only unsafe code in
//! contend, kept to one conversion.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::sync::atomic::AtomicU64;

use memmap2::{MmapOptions, MmapRaw};

const WORD: usize = std::mem::size_of::<AtomicU64>();

/// `len` atomic words of a shared file mapping, starting `offset` bytes into the file.
#[derive(Debug)]
pub struct MappedWords {
    map: MmapRaw,
    len: usize,
}

impl MappedWords {
    /// Maps `len` words of `file` from `offset`, which must be a multiple of 8. The file must
    /// already be long enough, and must never be truncated while mapped.
    pub fn new(file: &File, offset: u64, len: usize) -> io::Result<MappedWords> {
        assert_eq!(offset % WORD as u64, 0, "mapped words must be aligned");
        // A mapping is never empty; a zero-word store still maps one word.
        let map = MmapOptions::new()
            .offset(offset)
            .len(len.max(1) * WORD)
            .map_raw(file)?;
        Ok(MappedWords { map, len })
    }

    /// The words.
    #[inline]
    pub fn words(&self) -> &[AtomicU64] {
        let pointer = self.map.as_ptr().cast::<AtomicU64>();
        debug_assert!(pointer.is_aligned());
        // SAFETY: the mapping spans `len.max(1)` words and lives as long as `self`. The kernel
        // maps from a page boundary and memmap2 returns the page's address plus the offset's
        // remainder within the page, a multiple of 8 here, so the pointer is aligned for
        // `AtomicU64`, which has the size and alignment of `u64` and which any bit pattern is
        // valid for. The memory is shared with other processes, but it is only ever accessed
        // through these atomics (interior mutability), here and in those processes. The file is
        // never truncated while mapped, and its pages were written before it was mapped (see
        // `ProcessPlatform`), so no access can fault with SIGBUS.
        unsafe { std::slice::from_raw_parts(pointer, self.len) }
    }
}
