//! Shrinking the counter workload to the smallest failing variant, then its schedule.
//!
//! First the workload shrinks (all ops to 1, fewer threads, half the ops), keeping the smallest
//! configuration for which a failing schedule still exists; each candidate's schedules are
//! searched by [`super::search`]'s preemption-bounded search. Where no candidate fails within
//! the budget, delta debugging over the recorded failing schedule of the whole workload gives a
//! 1-minimal schedule instead.

use std::sync::Arc;

use super::search::{Explorer, Found, Limits, Minimality};
use super::{Choice, WorkloadBody};
use crate::failure::Kind;
use crate::ledger::LedgerError;
use crate::scenario::{CounterSpec, ThreadSpec};
use crate::workload::counter::Counter;

/// A minimal failing schedule and the workload it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minimal {
    /// The shrunk workload.
    pub counter: CounterSpec,
    /// For each of its threads, the index of the thread in the original workload.
    pub origins: Vec<usize>,
    /// The schedule.
    pub choices: Vec<Choice>,
    /// Its preemptions.
    pub preemptions: u64,
    /// Its scheduling decisions.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
    /// Controlled executions the whole minimization ran.
    pub executions: u64,
}

/// A workload to search: a counter, and where each of its threads came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    counter: CounterSpec,
    origins: Vec<usize>,
}

impl Candidate {
    /// The candidate as a body to run.
    fn body(&self) -> Arc<WorkloadBody<Counter>> {
        Arc::new(WorkloadBody(Arc::new(Counter::new(self.counter.clone()))))
    }

    /// A schedule found for this candidate.
    fn minimal(&self, found: Found) -> Minimal {
        Minimal {
            counter: self.counter.clone(),
            origins: self.origins.clone(),
            choices: found.choices,
            preemptions: found.preemptions,
            steps: found.steps,
            minimality: found.minimality,
            executions: 0,
        }
    }

    /// The whole workload.
    fn whole(counter: &CounterSpec) -> Self {
        Candidate {
            counter: counter.clone(),
            origins: (0..counter.threads.len()).collect(),
        }
    }

    /// The threads at `indices` of `counter`, one op each.
    fn subset(counter: &CounterSpec, indices: &[usize]) -> Self {
        let mut subset = counter.clone();
        subset.threads = indices
            .iter()
            .map(|&i| ThreadSpec {
                ops: 1,
                ..counter.threads[i]
            })
            .collect();
        Candidate {
            counter: subset,
            origins: indices.to_vec(),
        }
    }

    /// Smaller versions, the most promising first: one thread fewer; each thread's ops halved.
    fn smaller(&self) -> Vec<Candidate> {
        let mut candidates = Vec::new();
        if self.counter.threads.len() > 1 {
            for removed in 0..self.counter.threads.len() {
                let mut fewer = self.clone();
                fewer.counter.threads.remove(removed);
                fewer.origins.remove(removed);
                candidates.push(fewer);
            }
        }
        for index in 0..self.counter.threads.len() {
            let ops = self.counter.threads[index].ops;
            if ops > 1 {
                let mut halved = self.clone();
                halved.counter.threads[index].ops = ops.div_ceil(2);
                candidates.push(halved);
            }
        }
        candidates
    }
}

/// The subsets of `n` thread indices with `k` members, in lexicographic order, at most `limit`.
fn subsets(n: usize, k: usize, limit: usize) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    let mut current: Vec<usize> = (0..k).collect();
    if k > n {
        return found;
    }
    loop {
        found.push(current.clone());
        if found.len() >= limit {
            return found;
        }
        // Advance to the next combination.
        let Some(position) = (0..k).rev().find(|&i| current[i] < n - k + i) else {
            return found;
        };
        current[position] += 1;
        for next in position + 1..k {
            current[next] = current[next - 1] + 1;
        }
    }
}

/// The result of a minimization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minimization {
    /// The minimal failing schedule, if one was found.
    pub minimal: Option<Minimal>,
    /// Controlled executions spent.
    pub executions: u64,
}

/// How many thread subsets of one size are tried.
const SUBSETS_PER_SIZE: usize = 12;
/// The share of the execution budget one candidate workload may spend, in parts of the whole.
const CANDIDATE_SHARE: u64 = 20;

/// Finds a minimal schedule failing with `kind` for `counter`, or a smaller version of it.
///
/// The smallest workloads are tried first: each subset of 1, 2, 3, ... threads with one op per
/// thread. If none fails, the workload is shrunk down from its full size instead. Each candidate
/// gets a bounded share of the budget, so that one expensive candidate cannot starve the rest;
/// part of the budget is kept for delta debugging over `recorded` (a failing schedule of
/// `counter` itself, if one is known), and failing that, `recorded` is returned as it is.
pub fn minimize(
    counter: &CounterSpec,
    kind: Kind,
    recorded: Option<&[Choice]>,
    limits: Limits,
    scenario: &str,
) -> Result<Minimization, LedgerError> {
    // Delta debugging keeps a third of the budget when there is something to debug.
    let search_limits = Limits {
        executions: if recorded.is_some() {
            limits.executions / 3 * 2
        } else {
            limits.executions
        },
        time: if recorded.is_some() {
            limits.time / 3 * 2
        } else {
            limits.time
        },
        ..limits
    };
    let mut explorer = Explorer::new(kind, search_limits, scenario, &[]);
    let share = (search_limits.executions / CANDIDATE_SHARE).max(1);
    let threads = counter.threads.len();
    let mut best: Option<Minimal> = None;
    let mut current = Candidate::whole(counter);

    // Grow: the fewest threads, one op each.
    'grow: for size in 1..=threads {
        for indices in subsets(threads, size, SUBSETS_PER_SIZE) {
            let candidate = Candidate::subset(counter, &indices);
            if let Some(found) =
                explorer.bounded(&candidate.body(), limits.max_preemptions, share)?
            {
                best = Some(candidate.minimal(found));
                current = candidate;
                break 'grow;
            }
        }
    }
    // Shrink down from the whole workload, when growing found nothing.
    if best.is_none() && counter.total_ops() <= limits.searchable_ops {
        best = explorer
            .bounded(&current.body(), limits.max_preemptions, share)?
            .map(|found| current.minimal(found));
    }
    'shrink: loop {
        let bound = best
            .as_ref()
            .map_or(limits.max_preemptions, |b| b.preemptions);
        for candidate in current.smaller() {
            if best.as_ref().is_some_and(|b| {
                candidate.counter.total_ops() >= b.counter.total_ops() && b.preemptions == 0
            }) {
                continue;
            }
            if let Some(found) = explorer.bounded(&candidate.body(), bound, share)? {
                let found = candidate.minimal(found);
                let smaller = best.as_ref().is_none_or(|b| {
                    (found.preemptions, found.counter.total_ops(), found.steps)
                        < (b.preemptions, b.counter.total_ops(), b.steps)
                });
                if smaller {
                    best = Some(found);
                    current = candidate;
                    continue 'shrink;
                }
            }
        }
        break;
    }

    if best.is_none()
        && let Some(recorded) = recorded
    {
        explorer.limits = limits;
        let whole = Candidate::whole(counter);
        best = explorer
            .debugged(&whole.body(), recorded)?
            .map(|found| whole.minimal(found));
    }
    Ok(Minimization {
        minimal: best.map(|mut minimal| {
            minimal.executions = explorer.executions;
            minimal
        }),
        executions: explorer.executions,
    })
}

#[cfg(test)]
mod tests {
    use super::subsets;

    #[test]
    fn subsets_come_in_order_and_stop_at_the_limit() {
        assert_eq!(subsets(3, 2, 10), vec![vec![0, 1], vec![0, 2], vec![1, 2]]);
        assert_eq!(subsets(4, 1, 2), vec![vec![0], vec![1]]);
        assert_eq!(subsets(2, 3, 10), Vec::<Vec<usize>>::new());
        assert_eq!(subsets(3, 3, 10), vec![vec![0, 1, 2]]);
    }
}
