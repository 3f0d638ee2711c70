//! Which overwrite discarded each lost update, so that a trace adds up to the report.
//!
//! Every write to the cell replaced the one before it, so the `replaced` links, followed back
//! from the final write, give the order in which the writes reached the cell. A write's value
//! holds the deltas of the writes on its parent chain; an update is in the cell while the cell
//! holds one of its descendants. A lost update is therefore discarded, for the last time, by the
//! first write after its last descendant: that write is an overwrite (its parent is not a
//! descendant), and it is the overwrite the update is attributed to. An update discarded and
//! later restored for good is attributed to none; each lost update is attributed to exactly one
//! overwrite, so the attributions sum to the lost updates.

use std::collections::HashMap;

use crate::ledger::WriteId;

/// The updates each overwrite discarded for good: per overwriting write, the `(thread, op)` of
/// the updates it discarded.
#[derive(Debug, Default)]
pub struct Discards {
    by_overwrite: HashMap<(usize, u64), Vec<(usize, u64)>>,
}

impl Discards {
    /// Attributes the lost updates of an execution whose threads made `ops[t]` writes each,
    /// whose cell ends on `final_id`, where `links(thread, op)` gives a write's parent and the
    /// write it replaced, and `survived(thread, op)` whether it is on the final chain.
    ///
    /// `None` if the `replaced` links do not order every write (a broken record).
    pub fn attribute(
        ops: &[usize],
        final_id: WriteId,
        links: impl Fn(usize, u64) -> (WriteId, WriteId),
        survived: impl Fn(usize, u64) -> bool,
    ) -> Option<Discards> {
        let offsets: Vec<usize> = ops
            .iter()
            .scan(0usize, |next, &n| {
                let first = *next;
                *next += n;
                Some(first)
            })
            .collect();
        let total: usize = ops.iter().sum();
        let index = |id: WriteId| -> Option<usize> {
            let (thread, op) = id.origin()?;
            (op < *ops.get(thread)? as u64).then(|| offsets[thread] + op as usize)
        };
        // The writes in the order they reached the cell, last first.
        let mut order: Vec<WriteId> = Vec::with_capacity(total);
        let mut cursor = final_id;
        while let Some((thread, op)) = cursor.origin() {
            if order.len() == total {
                return None;
            }
            order.push(cursor);
            cursor = links(thread, op).1;
        }
        if order.len() != total {
            return None;
        }
        order.reverse();
        let mut time = vec![0u32; total];
        for (at, id) in order.iter().enumerate() {
            time[index(*id)?] = at as u32;
        }
        // The time of each write's last descendant: children come after their parent.
        let mut last = time.clone();
        for id in order.iter().rev() {
            let (thread, op) = id.origin()?;
            if let Some(parent) = index(links(thread, op).0) {
                let own = last[index(*id)?];
                if own > last[parent] {
                    last[parent] = own;
                }
            }
        }
        let mut discards = Discards::default();
        for (thread, &n) in ops.iter().enumerate() {
            for op in 0..n as u64 {
                if survived(thread, op) {
                    continue;
                }
                let culprit = *order.get(last[offsets[thread] + op as usize] as usize + 1)?;
                discards
                    .by_overwrite
                    .entry(culprit.origin()?)
                    .or_default()
                    .push((thread, op));
            }
        }
        Some(discards)
    }

    /// The updates the write `(thread, op)` discarded for good, in thread and op order.
    pub fn of(&self, thread: usize, op: u64) -> &[(usize, u64)] {
        self.by_overwrite
            .get(&(thread, op))
            .map_or(&[], Vec::as_slice)
    }
}

/// Updates as thread and op ranges, in words: `thread 0 ops 3-5, thread 1 op 7`.
pub fn describe(updates: &[(usize, u64)]) -> String {
    let mut sorted = updates.to_vec();
    sorted.sort_unstable();
    let mut ranges: Vec<(usize, u64, u64)> = Vec::new();
    for (thread, op) in sorted {
        match ranges.last_mut() {
            Some((t, _, end)) if *t == thread && *end + 1 == op => *end = op,
            _ => ranges.push((thread, op, op)),
        }
    }
    ranges
        .iter()
        .map(|&(thread, start, end)| {
            if start == end {
                format!("thread {thread} op {start}")
            } else {
                format!("thread {thread} ops {start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write: `(thread, op, parent)`, the parent `None` for the initial value.
    type Write = (usize, u64, Option<(usize, u64)>);

    /// An execution given as its writes in cell order.
    fn attribute(ops: &[usize], writes: &[Write]) -> Discards {
        let id = |w: Option<(usize, u64)>| w.map_or(WriteId::INITIAL, |(t, o)| WriteId::new(t, o));
        let mut links = HashMap::new();
        let mut previous = WriteId::INITIAL;
        for &(thread, op, parent) in writes {
            links.insert((thread, op), (id(parent), previous));
            previous = WriteId::new(thread, op);
        }
        // Survivors: the parent chain of the last write.
        let mut survivors = std::collections::HashSet::new();
        let mut cursor = previous;
        while let Some(origin) = cursor.origin() {
            survivors.insert(origin);
            cursor = links[&origin].0;
        }
        Discards::attribute(
            ops,
            previous,
            |t, o| links[&(t, o)],
            |t, o| survivors.contains(&(t, o)),
        )
        .unwrap()
    }

    #[test]
    fn a_stale_write_discards_every_update_since_its_read() {
        // Thread 0 reads the initial value; thread 1 writes twice; thread 0 writes on its read.
        let discards = attribute(&[1, 2], &[(1, 0, None), (1, 1, Some((1, 0))), (0, 0, None)]);
        assert_eq!(discards.of(0, 0), &[(1, 0), (1, 1)]);
        assert_eq!(describe(discards.of(0, 0)), "thread 1 ops 0-1");
    }

    #[test]
    fn a_restored_update_is_attributed_to_no_overwrite() {
        // 1:0 is overwritten by 0:0, then 1:1 (based on 1:0) restores it and survives.
        let discards = attribute(&[1, 2], &[(1, 0, None), (0, 0, None), (1, 1, Some((1, 0)))]);
        assert!(discards.of(0, 0).is_empty());
        // 0:0 is lost, discarded by 1:1.
        assert_eq!(discards.of(1, 1), &[(0, 0)]);
    }

    #[test]
    fn an_update_discarded_twice_counts_once_at_its_last_discard() {
        // 1:0 discarded by 0:0, restored by 1:1, discarded with 1:1 by 0:1 (based on 0:0).
        let discards = attribute(
            &[2, 2],
            &[
                (1, 0, None),
                (0, 0, None),
                (1, 1, Some((1, 0))),
                (0, 1, Some((0, 0))),
            ],
        );
        assert!(discards.of(0, 0).is_empty());
        assert_eq!(discards.of(0, 1), &[(1, 0), (1, 1)]);
    }
}
