//! Settling a finished execution: what it reports, and the lost updates counted by walking
//! back or, for a controlled execution that kept no records, by depth.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::SharedWord;
use thiserror::Error;

use super::id::WriteId;
use super::store::{Ledger, OVERWRITES};
use super::walk::WalkStep;

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

impl<W: SharedWord, R: Deref<Target = [AtomicU64]>> Ledger<W, R> {
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
    pub(super) fn settle_by_depth(
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
    pub(super) fn discards(&self, final_id: WriteId) -> Option<crate::discards::Discards> {
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
}
