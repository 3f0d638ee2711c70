//! Block tallies added up in block order as the blocks end, whatever order the workers finish
//! them in: the report is the same for every number of workers, and only the blocks that ended
//! ahead of an unfinished one wait, so memory does not grow with the number of blocks.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{EngineError, Flow};
use crate::tally::Tally;

/// How a block ended: its tally and whether the run goes on, or an internal error.
pub(crate) type BlockResult = Result<(Tally, Flow), EngineError>;

/// What the merge needs to know of the scenario to tell how a run ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MergePlan {
    /// The executions the scenario (or its shard) plans.
    pub planned: u64,
    /// Whether the search is DFS, which says so when it has explored every schedule.
    pub dfs: bool,
}

/// The scenario's tally, with the blocks that ended ahead of the next one in order.
#[derive(Debug)]
pub(crate) struct BlockMerge {
    tally: Tally,
    plan: MergePlan,
    /// The index of the next block to add.
    next: u64,
    /// Blocks that ended before every block ahead of them did.
    waiting: BTreeMap<u64, (Range<u64>, BlockResult)>,
    /// Whether a block ended the run: the blocks after it are dropped.
    ended: bool,
    error: Option<EngineError>,
}

impl BlockMerge {
    /// Adds blocks to `tally`, starting with block 0.
    pub(crate) fn new(tally: Tally, plan: MergePlan) -> Self {
        BlockMerge {
            tally,
            plan,
            next: 0,
            waiting: BTreeMap::new(),
            ended: false,
            error: None,
        }
    }

    /// Block `index`, of executions `block`, ended with `result`: adds it, and every block
    /// that waited for it, unless a block before it ended the run.
    pub(crate) fn add(&mut self, index: u64, block: Range<u64>, result: BlockResult) {
        if self.ended {
            return;
        }
        self.waiting.insert(index, (block, result));
        while let Some((block, result)) = self.waiting.remove(&self.next) {
            self.next += 1;
            if self.absorb(block, result) {
                self.ended = true;
                self.waiting.clear();
                return;
            }
        }
    }

    /// Adds one block in order; true if it ends the run.
    fn absorb(&mut self, block: Range<u64>, result: BlockResult) -> bool {
        let (block_tally, flow) = match result {
            Ok(ended) => ended,
            Err(error) => {
                self.error = Some(error);
                return true;
            }
        };
        let tally = &mut self.tally;
        let block_runs = block_tally.runs;
        tally.absorb(block_tally);
        let planned = self.plan.planned;
        if flow == Flow::Stop {
            if tally.failed_runs > 0 && !tally.stops_at_first_failure() && tally.runs < planned {
                tally.notes.push(format!(
                    "shuttle ends a scenario at an execution it ends itself (every thread \
                     blocked with no cycle of waits, or too many steps): {} of {planned} runs \
                     did not run",
                    planned - tally.runs,
                ));
            }
            return true;
        }
        if tally.ended_early() {
            return true;
        }
        if block_runs < block.end - block.start {
            // Only an exhaustive search ends a block before its bound: it has explored every
            // schedule.
            tally.exhaustive = true;
            if self.plan.dfs {
                tally.notes.push(format!(
                    "dfs explored all {} schedules: the search is exhaustive",
                    tally.runs
                ));
            }
            return true;
        }
        false
    }

    /// The tally once every worker has stopped; `out_of_time` says whether the time budget
    /// or an interrupt ended the run. A block that never ran ahead of blocks that did (the
    /// budget ended the run there) or planned executions left undone mark the run as stopped
    /// for time.
    pub(crate) fn finish(mut self, out_of_time: bool) -> Result<Tally, EngineError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if !self.ended
            && (!self.waiting.is_empty() || (out_of_time && self.tally.runs < self.plan.planned))
        {
            self.tally.stop_for_time();
        }
        Ok(self.tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_of(runs: u64, flow: Flow) -> BlockResult {
        let mut tally = Tally::new(false);
        for run in 0..runs {
            tally.record(run, crate::engine::Outcome::Settled(Default::default()));
        }
        Ok((tally, flow))
    }

    fn merge() -> BlockMerge {
        BlockMerge::new(
            Tally::new(false),
            MergePlan {
                planned: 30,
                dfs: false,
            },
        )
    }

    #[test]
    fn blocks_that_end_out_of_order_are_added_in_order_and_none_waits_once_added() {
        let mut merge = merge();
        merge.add(2, 20..30, block_of(10, Flow::Continue));
        merge.add(1, 10..20, block_of(10, Flow::Continue));
        assert_eq!(merge.tally.runs, 0, "blocks 1 and 2 wait for block 0");
        assert_eq!(merge.waiting.len(), 2);
        merge.add(0, 0..10, block_of(10, Flow::Continue));
        assert!(merge.waiting.is_empty(), "every block was added");
        let tally = merge.finish(false).expect("no error");
        assert_eq!(tally.runs, 30);
        assert!(!tally.out_of_time);
    }

    #[test]
    fn a_block_that_stops_the_run_drops_the_blocks_after_it() {
        let mut merge = merge();
        merge.add(1, 10..20, block_of(10, Flow::Continue));
        merge.add(0, 0..10, block_of(4, Flow::Stop));
        merge.add(2, 20..30, block_of(10, Flow::Continue));
        let tally = merge.finish(false).expect("no error");
        assert_eq!(tally.runs, 4, "only the stopping block counts");
        assert!(!tally.out_of_time);
    }

    #[test]
    fn a_block_missing_ahead_of_one_that_ran_means_the_budget_ended_the_run() {
        let mut merge = merge();
        merge.add(0, 0..10, block_of(10, Flow::Continue));
        merge.add(2, 20..30, block_of(10, Flow::Continue));
        let tally = merge.finish(false).expect("no error");
        assert_eq!(tally.runs, 10, "block 2 is not counted past the gap");
        assert!(tally.out_of_time);
    }
}
