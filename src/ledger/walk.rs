//! The walk back from the final write to the initial value, which tells the surviving writes
//! from the lost ones.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::SharedWord;

use super::event::OverwriteEvent;
use super::id::WriteId;
use super::record::Record;
use super::settle::LedgerError;
use super::store::Ledger;
use super::victims::VictimValues;
use super::view::LogCursor;

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
    /// Walks the order of the swaps back from `final_id` to the initial value, following the
    /// parent chain alongside. A run of writes that left no record (each extended its thread's
    /// previous write) is crossed in one step, unless `visit` asks to see every write.
    /// Each overwrite's event is emitted as soon as the walk has found the value it replaced,
    /// so the events come latest first.
    /// `visit`, if given, sees every write met: its thread, op, parent, replaced write and
    /// whether it survives.
    pub(super) fn walk_back(
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
pub(super) struct Run {
    pub(super) thread: usize,
    pub(super) lowest: u64,
    pub(super) highest: u64,
    pub(super) delta: i64,
}

impl Run {
    /// The number of writes in the run.
    pub(super) fn len(self) -> u64 {
        self.highest - self.lowest + 1
    }

    /// Walks the run back from its highest write, where the parent chain's next write is
    /// `chain`: the writes above the chain's entry into the run are lost, those from it down
    /// survive. Returns the chain's next write below the run.
    pub(super) fn cross(
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

/// One write met by the walk back.
#[derive(Clone, Copy, Debug)]
pub(super) struct WalkStep {
    pub(super) thread: usize,
    pub(super) op: u64,
    pub(super) parent: WriteId,
    pub(super) replaced: WriteId,
    pub(super) survives: bool,
}

/// What a walk back found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    pub(super) overwrites: u64,
    pub(super) lost_updates: u64,
    pub(super) lost_delta: i64,
}

impl Walk {
    /// `count` writes of `delta` each are lost.
    pub(super) fn lost(&mut self, delta: i64, count: u64) {
        self.lost_updates += count;
        self.lost_delta = self
            .lost_delta
            .wrapping_add(delta.wrapping_mul(count as i64));
    }
}
