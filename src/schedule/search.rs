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
use crate::scenario::CounterSpec;
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
    /// The schedule was not shrunk (`--no-shrink`).
    NotShrunk,
}

impl Minimality {
    /// How reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            Minimality::Proven => "minimal: proven",
            Minimality::OneMinimal => "1-minimal",
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
        counter: &CounterSpec,
        bound: u64,
    ) -> Result<Option<Minimal>, LedgerError> {
        let workload = Arc::new(Counter::new(counter.clone()));
        let keep = Keep {
            decisions: true,
            ..Keep::default()
        };
        let mut level: Vec<Vec<Choice>> = vec![Vec::new()];
        for preemptions in 0..=bound {
            let mut next_level = Vec::new();
            let mut best: Option<(Vec<Choice>, u64)> = None;
            let mut stack = std::mem::take(&mut level);
            while let Some(choices) = stack.pop() {
                let controlled = match self.run(&workload, &choices, keep)? {
                    Ok(controlled) => controlled,
                    // Every level below this one was explored in full, so a failing schedule
                    // found on this level is still one with the fewest preemptions.
                    Err(OutOfBudget) => break,
                };
                if self.reproduces(&controlled) {
                    if best
                        .as_ref()
                        .is_none_or(|(_, steps)| controlled.steps < *steps)
                    {
                        best = Some((choices.clone(), controlled.steps));
                    }
                    continue;
                }
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
                        let mut child = choices.clone();
                        child.push(Choice {
                            step: decision.step,
                            task,
                        });
                        if decision.is_preemption(task) {
                            next_level.push(child);
                        } else {
                            stack.push(child);
                        }
                    }
                }
            }
            if let Some((choices, steps)) = best {
                return Ok(Some(Minimal {
                    counter: counter.clone(),
                    choices,
                    preemptions,
                    steps,
                    minimality: Minimality::Proven,
                    executions: 0,
                }));
            }
            level = next_level;
            if level.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Delta debugging over the choices of a failing schedule: the result still fails, and
    /// removing any one of its choices does not.
    fn ddmin(
        &mut self,
        counter: &CounterSpec,
        choices: &[Choice],
    ) -> Result<Vec<Choice>, LedgerError> {
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
                    Err(OutOfBudget) => return Ok(current),
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
                _ => {}
            }
        }
        Ok(current)
    }
}

/// Smaller versions of a counter workload, the most promising first: every thread down to one
/// op; one thread fewer; each thread's ops halved.
fn smaller(counter: &CounterSpec) -> Vec<CounterSpec> {
    let mut candidates = Vec::new();
    if counter.threads.iter().any(|t| t.ops > 1) {
        let mut ones = counter.clone();
        ones.threads.iter_mut().for_each(|t| t.ops = 1);
        candidates.push(ones);
    }
    if counter.threads.len() > 1 {
        for removed in 0..counter.threads.len() {
            let mut fewer = counter.clone();
            fewer.threads.remove(removed);
            candidates.push(fewer);
        }
    }
    for index in 0..counter.threads.len() {
        if counter.threads[index].ops > 1 {
            let mut halved = counter.clone();
            halved.threads[index].ops = counter.threads[index].ops.div_ceil(2);
            candidates.push(halved);
        }
    }
    candidates
}

/// The result of a minimization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minimization {
    /// The minimal failing schedule, if one was found.
    pub minimal: Option<Minimal>,
    /// Controlled executions spent.
    pub executions: u64,
}

/// Finds a minimal schedule failing with `kind` for `counter`, or a smaller version of it.
/// `recorded` is a failing schedule of `counter` itself, if one is known: delta debugging
/// falls back on it when no shrunk workload fails within the limits.
pub fn minimize(
    counter: &CounterSpec,
    kind: FailureKind,
    recorded: Option<&[Choice]>,
    limits: Limits,
    scenario: &str,
) -> Result<Minimization, LedgerError> {
    let mut explorer = Explorer {
        kind,
        limits,
        executions: 0,
        started: Instant::now(),
        scenario,
    };
    let mut best: Option<Minimal> = None;
    let mut current = counter.clone();
    if counter.total_ops() <= limits.searchable_ops {
        best = explorer.bounded(counter, limits.max_preemptions)?;
    }
    'shrink: loop {
        let bound = best
            .as_ref()
            .map_or(limits.max_preemptions, |b| b.preemptions);
        for candidate in smaller(&current) {
            if let Some(found) = explorer.bounded(&candidate, bound)? {
                best = Some(found);
                current = candidate;
                continue 'shrink;
            }
        }
        break;
    }
    if best.is_none()
        && let Some(recorded) = recorded
    {
        let choices = explorer.ddmin(counter, recorded)?;
        let workload = Arc::new(Counter::new(counter.clone()));
        if let Ok(controlled) = explorer.run(&workload, &choices, Keep::default())?
            && explorer.reproduces(&controlled)
        {
            best = Some(Minimal {
                counter: counter.clone(),
                choices,
                preemptions: controlled.preemptions,
                steps: controlled.steps,
                minimality: Minimality::OneMinimal,
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
