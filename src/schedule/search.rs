//! Finding minimal failing schedules of any controlled body.
//!
//! The schedules of a body are searched in order of preemptions, as CHESS's iterative
//! preemption bounding does: all schedules with 0 preemptions, then all with 1, and so on, so
//! that the first failing schedule found has the fewest preemptions there can be, and is proven
//! minimal. Among the failing schedules of that level the one with the fewest steps is kept.
//! Where the search would exceed its budget, delta debugging (ddmin) over a recorded failing
//! schedule's choices gives a 1-minimal schedule instead: removing any one choice no longer
//! fails. [`super::shrink`] adds shrinking the workload itself, where a workload can shrink.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Choice, Controlled, ControlledBody, ExecutionLog, Keep, run_controlled};
use crate::engine::Outcome;
use crate::failure::Kind;
use crate::ledger::{EventContext, LedgerError};

/// What a schedule must reproduce, as schedule files name it: a lost update, or a failure of
/// another [`Kind`] (a broken invariant, a deadlock, a panic, a livelock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// At least one update is lost.
    LostUpdate,
    /// The execution fails otherwise: a broken invariant, a deadlock, a panic, a livelock.
    Failed,
}

impl From<Kind> for FailureKind {
    fn from(kind: Kind) -> FailureKind {
        match kind {
            Kind::LostUpdate => FailureKind::LostUpdate,
            Kind::Invariant | Kind::Deadlock | Kind::Panic | Kind::Livelock => FailureKind::Failed,
        }
    }
}

/// An outcome that can say whether, and how, its execution failed.
pub trait Judged {
    /// The kind of failure, if the execution failed.
    fn failure(&self) -> Option<Kind>;
}

impl Judged for Outcome {
    fn failure(&self) -> Option<Kind> {
        self.kind()
    }
}

impl FailureKind {
    /// What an outcome's failure is, as schedule files name it, if it failed.
    pub fn of(outcome: &impl Judged) -> Option<FailureKind> {
        outcome.failure().map(FailureKind::from)
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

/// A failing schedule found by a search, and how sure contend is that it is minimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The schedule.
    pub choices: Vec<Choice>,
    /// Its preemptions.
    pub preemptions: u64,
    /// Its scheduling decisions.
    pub steps: u64,
    /// How sure contend is that it is minimal.
    pub minimality: Minimality,
}

/// The controlled execution of a body `B`.
type ControlledOf<B> =
    Controlled<<B as ControlledBody>::Outcome, <<B as ControlledBody>::Log as ExecutionLog>::Entry>;

/// Runs controlled executions of bodies and counts them against a budget.
pub struct Explorer<'a> {
    kind: Kind,
    /// The budget, which a caller may widen for a last check.
    pub limits: Limits,
    /// Controlled executions run so far.
    pub executions: u64,
    started: Instant,
    scenario: &'a str,
    random_values: &'a [u64],
}

/// The search ran out of its execution budget.
pub struct OutOfBudget;

impl<'a> Explorer<'a> {
    /// An explorer looking for failures of `kind` within `limits`; the bodies' controlled
    /// randomness gets `random_values` (those of the recorded failure, if any).
    pub fn new(kind: Kind, limits: Limits, scenario: &'a str, random_values: &'a [u64]) -> Self {
        Explorer {
            kind,
            limits,
            executions: 0,
            started: Instant::now(),
            scenario,
            random_values,
        }
    }

    /// Runs `body` once following `choices`, unless the budget is spent.
    pub fn run<B: ControlledBody>(
        &mut self,
        body: &Arc<B>,
        choices: &[Choice],
        keep: Keep,
    ) -> Result<Result<ControlledOf<B>, OutOfBudget>, LedgerError> {
        if self.executions >= self.limits.executions || self.started.elapsed() > self.limits.time {
            return Ok(Err(OutOfBudget));
        }
        self.executions += 1;
        let context = EventContext {
            scenario: self.scenario,
            run: self.executions,
        };
        run_controlled(
            body,
            choices,
            self.random_values,
            keep,
            self.limits.max_steps,
            context,
        )
        .map(Ok)
    }

    /// Whether an execution followed its schedule and failed as sought: with the same kind,
    /// so that shrinking a deadlock keeps a deadlock.
    pub fn reproduces<O: Judged, E>(&self, controlled: &Controlled<O, E>) -> bool {
        controlled.divergence.is_none() && controlled.outcome.failure() == Some(self.kind)
    }

    /// Searches the schedules of `body` level by level of preemptions, up to `bound`, spending
    /// at most `budget` executions. Returns the failing schedule with the fewest preemptions,
    /// then steps.
    pub fn bounded<B: ControlledBody>(
        &mut self,
        body: &Arc<B>,
        bound: u64,
        budget: u64,
    ) -> Result<Option<Found>, LedgerError>
    where
        B::Outcome: Judged,
    {
        let workload = body;
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
                let controlled = match self.run(workload, &choices, keep)? {
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
                let found = Found {
                    choices,
                    preemptions,
                    steps,
                    minimality: Minimality::Proven,
                };
                return Ok(Some(self.without_needless_choices(workload, found)?));
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
    fn without_needless_choices<B: ControlledBody>(
        &mut self,
        workload: &Arc<B>,
        mut minimal: Found,
    ) -> Result<Found, LedgerError>
    where
        B::Outcome: Judged,
    {
        let mut index = 0;
        while index < minimal.choices.len() {
            let mut fewer = minimal.choices.clone();
            fewer.remove(index);
            match self.run(workload, &fewer, Keep::default())? {
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
    pub fn ddmin<B: ControlledBody>(
        &mut self,
        workload: &Arc<B>,
        choices: &[Choice],
    ) -> Result<(Vec<Choice>, bool), LedgerError>
    where
        B::Outcome: Judged,
    {
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
                match self.run(workload, &complement, keep)? {
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
            match self.run(workload, &[], keep)? {
                Ok(controlled) if self.reproduces(&controlled) => current.clear(),
                Ok(_) => {}
                Err(OutOfBudget) => return Ok((current, false)),
            }
        }
        Ok((current, true))
    }
}

/// Finds a minimal schedule of `body` failing with `kind`: the preemption-bounded search within
/// two thirds of the budget, then delta debugging over `recorded` (a failing schedule of the
/// body, if one is known). Returns the schedule found, if any, and the executions spent.
pub fn minimize_schedule<B: ControlledBody>(
    body: &Arc<B>,
    kind: Kind,
    recorded: Option<(&[Choice], &[u64])>,
    limits: Limits,
    name: &str,
) -> Result<(Option<Found>, u64), LedgerError>
where
    B::Outcome: Judged,
{
    let random_values = recorded.map_or(&[][..], |(_, values)| values);
    let mut explorer = Explorer::new(kind, limits, name, random_values);
    explorer.limits.executions = limits.executions / 3 * 2;
    explorer.limits.time = limits.time / 3 * 2;
    let budget = explorer.limits.executions;
    if let Some(found) = explorer.bounded(body, limits.max_preemptions, budget)? {
        return Ok((Some(found), explorer.executions));
    }
    let Some((recorded, _)) = recorded else {
        return Ok((None, explorer.executions));
    };
    explorer.limits = limits;
    let found = explorer.debugged(body, recorded)?;
    Ok((found, explorer.executions))
}

impl Explorer<'_> {
    /// Delta debugging over `recorded`, then one last run that proves the result fails.
    pub fn debugged<B: ControlledBody>(
        &mut self,
        body: &Arc<B>,
        recorded: &[Choice],
    ) -> Result<Option<Found>, LedgerError>
    where
        B::Outcome: Judged,
    {
        let (choices, complete) = self.ddmin(body, recorded)?;
        // The last check may need one execution past the budget: it is what makes the result
        // trustworthy.
        self.limits.executions = self.limits.executions.saturating_add(1);
        self.limits.time += Duration::from_secs(1);
        if let Ok(controlled) = self.run(body, &choices, Keep::default())?
            && self.reproduces(&controlled)
        {
            let minimality = match (complete, choices.len() < recorded.len()) {
                (true, _) => Minimality::OneMinimal,
                (false, true) => Minimality::Partial,
                (false, false) => Minimality::NotShrunk,
            };
            return Ok(Some(Found {
                choices,
                preemptions: controlled.preemptions,
                steps: controlled.steps,
                minimality,
            }));
        }
        Ok(None)
    }
}
