//! Finding minimal failing schedules.
//!
//! First the workload shrinks (all ops to 1, fewer threads, half the ops), keeping the smallest
//! configuration for which a failing schedule still exists. Then the schedules of that workload
//! are searched in order of preemptions, as CHESS's iterative preemption bounding does: all
//! schedules with 0 preemptions, then all with 1, and so on, so that the first failing schedule
//! found has the fewest preemptions there can be, and is proven minimal. Among the failing
//! schedules of that level the one with the fewest steps is kept. Where the search would exceed
//! its budget, delta debugging (ddmin) over a recorded failing schedule's choices gives a
//! 1-minimal schedule instead: removing any one choice no longer fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Choice, Controlled, Keep, run_controlled};
use crate::engine::Outcome;
use crate::ledger::{EventContext, LedgerError};
use crate::scenario::{CounterSpec, ThreadSpec};
use crate::workload::counter::Counter;

/// The kind of failure a schedule must reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// At least one update is lost.
    LostUpdate,
    /// The execution fails otherwise: a panic, a deadlock, a livelock.
    Failed,
}

impl FailureKind {
    /// The kind of failure of an outcome, if it failed.
    pub fn of(outcome: &Outcome) -> Option<FailureKind> {
        match outcome {
            Outcome::Settled(settlement) if settlement.lost_updates > 0 => {
                Some(FailureKind::LostUpdate)
            }
            Outcome::Settled(_) => None,
            Outcome::Failed { .. } => Some(FailureKind::Failed),
        }
    }

    /// The name used in schedule files.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::LostUpdate => "lost-update",
            FailureKind::Failed => "failed",
        }
    }
}

/// How sure contend is that a schedule is minimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Minimality {
    /// Every schedule with fewer preemptions of the shrunk workload was run, and none failed.
    Proven,
    /// Removing any one choice of the schedule makes it pass (delta debugging).
    OneMinimal,
    /// Delta debugging ran out of budget: the schedule fails and is smaller than the one
    /// recorded, but may not be 1-minimal.
    Partial,
    /// The schedule was not shrunk (`--no-shrink`, or no budget was left to shrink it).
    NotShrunk,
}

impl Minimality {
    /// How reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            Minimality::Proven => "minimal: proven",
            Minimality::OneMinimal => "1-minimal",
            Minimality::Partial => "partly shrunk",
            Minimality::NotShrunk => "not shrunk",
        }
    }
}

/// Bounds on the search for a minimal schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most preemptions a searched schedule may have.
    pub max_preemptions: u64,
    /// Controlled executions the whole minimization may spend.
    pub executions: u64,
    /// Steps after which one execution is abandoned.
    pub max_steps: u64,
    /// Workloads with at most this many ops in all are searched as they are, before shrinking.
    pub searchable_ops: u64,
    /// Wall-clock time the whole minimization may take.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_preemptions: 3,
            executions: 50_000,
            max_steps: 100_000,
            searchable_ops: 8,
            time: Duration::from_secs(10),
        }
    }
}

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

/// Runs controlled executions of counter workloads and counts them against a budget.
struct Explorer<'a> {
    kind: FailureKind,
    limits: Limits,
    executions: u64,
    started: Instant,
    scenario: &'a str,
}

/// The search ran out of its execution budget.
struct OutOfBudget;

impl Explorer<'_> {
    fn run(
        &mut self,
        workload: &Arc<Counter>,
        choices: &[Choice],
        keep: Keep,
    ) -> Result<Result<Controlled, OutOfBudget>, LedgerError> {
        if self.executions >= self.limits.executions || self.started.elapsed() > self.limits.time {
            return Ok(Err(OutOfBudget));
        }
        self.executions += 1;
        let context = EventContext {
            scenario: self.scenario,
            run: self.executions,
        };
        run_controlled(workload, choices, keep, self.limits.max_steps, context).map(Ok)
    }

    fn reproduces(&self, controlled: &Controlled) -> bool {
        controlled.divergence.is_none() && FailureKind::of(&controlled.outcome) == Some(self.kind)
    }

    /// Searches the schedules of `counter` level by level of preemptions, up to `bound`.
    /// Returns the failing schedule with the fewest preemptions, then steps.
    fn bounded(
        &mut self,
        candidate: &Candidate,
        bound: u64,
        budget: u64,
    ) -> Result<Option<Minimal>, LedgerError> {
        let workload = Arc::new(Counter::new(candidate.counter.clone()));
        let keep = Keep {
            decisions: true,
            ..Keep::default()
        };
        let stop_at = self.executions.saturating_add(budget);
        let mut level: Vec<Vec<Choice>> = vec![Vec::new()];
        for preemptions in 0..=bound {
            let mut next_level = Vec::new();
            // The failing schedule with the fewest steps, then the fewest choices.
            let mut best: Option<(Vec<Choice>, u64)> = None;
            let mut stack = std::mem::take(&mut level);
            while let Some(choices) = stack.pop() {
                if self.executions >= stop_at {
                    break;
                }
                let controlled = match self.run(&workload, &choices, keep)? {
                    Ok(controlled) => controlled,
                    // Every level below this one was explored in full, so a failing schedule
                    // found on this level is still one with the fewest preemptions.
                    Err(OutOfBudget) => break,
                };
                if self.reproduces(&controlled) {
                    let better = best.as_ref().is_none_or(|(kept, steps)| {
                        (controlled.steps, choices.len()) < (*steps, kept.len())
                    });
                    if better {
                        best = Some((choices.clone(), controlled.steps));
                    }
                    continue;
                }
                // No point keeping more schedules for the next level than can still be run.
                let room = stop_at.saturating_sub(self.executions) as usize;
                let after = choices.last().map_or(0, |c| c.step + 1);
                for decision in controlled.decisions.iter().filter(|d| d.step >= after) {
                    // A task that yields (a spin loop) is not run again at once: that only
                    // spins longer, and unfairly.
                    let yielding = decision.current.filter(|_| !decision.current_can_continue);
                    let alternatives = decision
                        .runnable
                        .iter()
                        .filter(|&&t| t != decision.default && Some(t) != yielding);
                    for &task in alternatives {
                        let preemption = decision.is_preemption(task);
                        if preemption && next_level.len() >= room {
                            continue;
                        }
                        let mut child = choices.clone();
                        child.push(Choice {
                            step: decision.step,
                            task,
                        });
                        if preemption {
                            next_level.push(child);
                        } else {
                            stack.push(child);
                        }
                    }
                }
            }
            if let Some((choices, steps)) = best {
                let minimal = Minimal {
                    counter: candidate.counter.clone(),
                    origins: candidate.origins.clone(),
                    choices,
                    preemptions,
                    steps,
                    minimality: Minimality::Proven,
                    executions: 0,
                };
                return Ok(Some(self.without_needless_choices(minimal)?));
            }
            level = next_level;
            if level.is_empty() || self.executions >= stop_at {
                break;
            }
        }
        Ok(None)
    }

    /// Drops the choices a found schedule does not need (a free choice that only reorders
    /// threads, say): it must still fail, with no more preemptions or steps.
    fn without_needless_choices(&mut self, mut minimal: Minimal) -> Result<Minimal, LedgerError> {
        let workload = Arc::new(Counter::new(minimal.counter.clone()));
        let mut index = 0;
        while index < minimal.choices.len() {
            let mut fewer = minimal.choices.clone();
            fewer.remove(index);
            match self.run(&workload, &fewer, Keep::default())? {
                Ok(controlled)
                    if self.reproduces(&controlled)
                        && controlled.preemptions <= minimal.preemptions
                        && controlled.steps <= minimal.steps =>
                {
                    minimal.choices = fewer;
                    minimal.steps = controlled.steps;
                }
                Ok(_) => index += 1,
                Err(OutOfBudget) => break,
            }
        }
        Ok(minimal)
    }

    /// Delta debugging over the choices of a failing schedule: the result still fails, and,
    /// when the budget lasted (the flag), removing any one of its choices does not.
    fn ddmin(
        &mut self,
        counter: &CounterSpec,
        choices: &[Choice],
    ) -> Result<(Vec<Choice>, bool), LedgerError> {
        let workload = Arc::new(Counter::new(counter.clone()));
        let keep = Keep::default();
        let mut current = choices.to_vec();
        let mut granularity = 2usize;
        while current.len() >= 2 {
            let chunk = current.len().div_ceil(granularity);
            let mut reduced = false;
            for start in (0..current.len()).step_by(chunk) {
                let complement: Vec<Choice> = current[..start]
                    .iter()
                    .chain(current[(start + chunk).min(current.len())..].iter())
                    .copied()
                    .collect();
                match self.run(&workload, &complement, keep)? {
                    Ok(controlled) if self.reproduces(&controlled) => {
                        current = complement;
                        granularity = (granularity - 1).max(2);
                        reduced = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(OutOfBudget) => return Ok((current, false)),
                }
            }
            if !reduced {
                if granularity >= current.len() {
                    break;
                }
                granularity = (granularity * 2).min(current.len());
            }
        }
        if current.len() == 1 {
            match self.run(&workload, &[], keep)? {
                Ok(controlled) if self.reproduces(&controlled) => current.clear(),
                Ok(_) => {}
                Err(OutOfBudget) => return Ok((current, false)),
            }
        }
        Ok((current, true))
    }
}

/// A workload to search: a counter, and where each of its threads came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    counter: CounterSpec,
    origins: Vec<usize>,
}

impl Candidate {
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
    kind: FailureKind,
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
    let mut explorer = Explorer {
        kind,
        limits: search_limits,
        executions: 0,
        started: Instant::now(),
        scenario,
    };
    let share = (search_limits.executions / CANDIDATE_SHARE).max(1);
    let threads = counter.threads.len();
    let mut best: Option<Minimal> = None;
    let mut current = Candidate::whole(counter);

    // Grow: the fewest threads, one op each.
    'grow: for size in 1..=threads {
        for indices in subsets(threads, size, SUBSETS_PER_SIZE) {
            let candidate = Candidate::subset(counter, &indices);
            if let Some(found) = explorer.bounded(&candidate, limits.max_preemptions, share)? {
                best = Some(found);
                current = candidate;
                break 'grow;
            }
        }
    }
    // Shrink down from the whole workload, when growing found nothing.
    if best.is_none() && counter.total_ops() <= limits.searchable_ops {
        best = explorer.bounded(&current, limits.max_preemptions, share)?;
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
            if let Some(found) = explorer.bounded(&candidate, bound, share)? {
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
        let (choices, complete) = explorer.ddmin(counter, recorded)?;
        let workload = Arc::new(Counter::new(counter.clone()));
        // The last check may need one execution past the budget: it is what makes the result
        // trustworthy.
        explorer.limits.executions = explorer.limits.executions.saturating_add(1);
        explorer.limits.time += Duration::from_secs(1);
        if let Ok(controlled) = explorer.run(&workload, &choices, Keep::default())?
            && explorer.reproduces(&controlled)
        {
            let minimality = match (complete, choices.len() < recorded.len()) {
                (true, _) => Minimality::OneMinimal,
                (false, true) => Minimality::Partial,
                (false, false) => Minimality::NotShrunk,
            };
            best = Some(Minimal {
                counter: counter.clone(),
                origins: (0..threads).collect(),
                choices,
                preemptions: controlled.preemptions,
                steps: controlled.steps,
                minimality,
                executions: 0,
            });
        }
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
