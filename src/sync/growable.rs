//! An append-only array that its owner grows while any thread reads it, without a lock.
//!
//! A [`crate::check::Shared`] cell does not know in advance how many threads will write it or
//! how many writes each will make, yet a write's record must stay readable by every thread at a
//! fixed place. The array is made of chunks of doubling size, each allocated once, on first use,
//! behind a [`OnceLock`]: an element never moves, and reading one is an index computation and
//! one acquire load.

use std::sync::OnceLock;

/// Enough chunks for any index a 64-bit machine can address with a first chunk of one element.
const CHUNKS: usize = 48;

/// An append-only array of `T`, in chunks of `FIRST`, `2 * FIRST`, `4 * FIRST`, ... elements.
#[derive(Debug)]
pub(crate) struct Growable<T, const FIRST: usize> {
    chunks: [OnceLock<Box<[T]>>; CHUNKS],
}

impl<T, const FIRST: usize> Default for Growable<T, FIRST> {
    fn default() -> Self {
        Growable {
            chunks: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

impl<T: Default, const FIRST: usize> Growable<T, FIRST> {
    /// The chunk that holds `index`, and the index within it.
    fn locate(index: usize) -> (usize, usize) {
        let block = index / FIRST + 1;
        let chunk = (usize::BITS - 1 - block.leading_zeros()) as usize;
        (chunk, index - FIRST * ((1 << chunk) - 1))
    }

    /// The element at `index`, if its chunk has been allocated.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        let (chunk, offset) = Self::locate(index);
        self.chunks
            .get(chunk)?
            .get()
            .map(|elements| &elements[offset])
    }

    /// The element at `index`, allocating its chunk (of default elements) if needed.
    pub(crate) fn get_or_grow(&self, index: usize) -> &T {
        let (chunk, offset) = Self::locate(index);
        let elements =
            self.chunks[chunk].get_or_init(|| (0..FIRST << chunk).map(|_| T::default()).collect());
        &elements[offset]
    }

    /// Every element of every allocated chunk, with its index, in index order.
    pub(crate) fn allocated(&self) -> impl Iterator<Item = (usize, &T)> {
        self.chunks
            .iter()
            .enumerate()
            .filter_map(|(chunk, elements)| Some((FIRST * ((1 << chunk) - 1), elements.get()?)))
            .flat_map(|(start, elements)| {
                elements
                    .iter()
                    .enumerate()
                    .map(move |(offset, element)| (start + offset, element))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn every_index_has_its_own_place_and_keeps_it_as_the_array_grows() {
        let array: Growable<AtomicU64, 4> = Growable::default();
        assert!(array.get(0).is_none());
        for index in 0..1000 {
            array
                .get_or_grow(index)
                .store(index as u64, Ordering::Relaxed);
        }
        for index in 0..1000 {
            assert_eq!(
                array.get(index).unwrap().load(Ordering::Relaxed),
                index as u64
            );
        }
        let allocated: Vec<usize> = array.allocated().map(|(index, _)| index).collect();
        assert_eq!(allocated, (0..allocated.len()).collect::<Vec<_>>());
        assert!(allocated.len() >= 1000);
    }

    #[test]
    fn chunks_double_in_size() {
        type Array = Growable<u8, 4>;
        assert_eq!(Array::locate(0), (0, 0));
        assert_eq!(Array::locate(3), (0, 3));
        assert_eq!(Array::locate(4), (1, 0));
        assert_eq!(Array::locate(11), (1, 7));
        assert_eq!(Array::locate(12), (2, 0));
    }
}
