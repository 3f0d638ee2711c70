//! Accumulates the outcomes of a scenario's executions: counts, histogram, failures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{Flow, Outcome};
use crate::failure::Kind;
use crate::ledger::VariableSettlement;
use crate::schedule::record::Recording;

/// How many failure messages a tally keeps word for word.
pub const KEPT_FAILURES: usize = 5;

/// The running totals of one scenario.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    stop_at_first_failure: bool,
    /// Executions completed.
    pub runs: u64,
    /// Executions with at least one lost update or another failure.
    pub failing_runs: u64,
    /// Executions that lost at least one update.
    pub lost_update_runs: u64,
    /// Executions that lost updates yet ended on the expected value: the losses cancelled out.
    pub masked_runs: u64,
    /// Executions that ended in a broken invariant, a deadlock, a panic or a livelock.
    pub failed_runs: u64,
    /// Failing executions by kind of failure: `LostUpdate` counts the executions that lost
    /// an update, each other kind those that failed with it.
    pub failure_kinds: BTreeMap<Kind, u64>,
    /// Lost updates over all executions.
    pub lost_updates: u64,
    /// Overwrites over all executions (an overwritten update may be restored later).
    pub overwrites: u64,
    /// Sum of the deltas of the lost updates over all executions: the total shortfall,
    /// `expected_final - final` summed over the executions.
    pub net_lost: i128,
    /// The value the counter must end with when no update is lost.
    pub expected_final: Option<i64>,
    /// The lost updates, overwrites and expected final value of each named cell (a program's
    /// shared variables), by name: one entry per variable, whatever the number of executions.
    /// Empty for a workload with one unnamed counter.
    pub variables: BTreeMap<String, VariableTally>,
    /// How often each final value was seen.
    pub finals: BTreeMap<i64, u64>,
    /// The index of the first execution that lost an update.
    pub first_lost_update_run: Option<u64>,
    /// The index of the first failing execution, and the kind it failed with.
    pub first_failing_run: Option<(u64, Kind)>,
    /// The recorded schedule of the first failing execution, where a controlled engine
    /// recorded it while exploring.
    pub first_failing_schedule: Option<(u64, Recording)>,
    /// The first few failure messages.
    pub failures: Vec<String>,
    /// Every execution the engine could make was made (DFS ran out of schedules).
    pub exhaustive: bool,
    /// The equivalence classes of interleavings a `dpor` search explored (the schedules of a
    /// preemption-bounded one).
    pub classes: Option<u64>,
    /// The most scheduling decisions one controlled execution made (PCT's `k`).
    pub decisions: Option<u64>,
    /// What the engine has to say about how the run went, in words.
    pub notes: Vec<String>,
    /// The engine stopped because the time budget was used up.
    pub out_of_time: bool,
    /// The engine stopped because a signal asked the run to stop.
    pub interrupted: bool,
    /// Counts finished executions where another thread can watch them (a progress display).
    pub progress: Option<Arc<AtomicU64>>,
}

impl Tally {
    /// An empty tally; with `stop_at_first_failure`, [`Tally::record`] asks to stop at the
    /// first failing execution.
    pub fn new(stop_at_first_failure: bool) -> Self {
        Tally {
            stop_at_first_failure,
            ..Tally::default()
        }
    }

    /// Records that the time budget, or a signal, ended the run before its last execution.
    pub fn stop_for_time(&mut self) {
        if crate::interrupt::requested() {
            self.interrupted = true;
        } else {
            self.out_of_time = true;
        }
    }

    /// Whether the run was cut short, by its time budget or by a signal: what ran is not all
    /// that was asked for, and a search that ended so has not exhausted anything.
    pub fn ended_early(&self) -> bool {
        self.out_of_time || self.interrupted
    }

    /// Whether [`Tally::record`] asks to stop at the first failure (`--fail-fast`).
    pub fn stops_at_first_failure(&self) -> bool {
        self.stop_at_first_failure
    }

    /// Adds the outcome of execution `run`; says whether the run goes on.
    pub fn record(&mut self, run: u64, outcome: Outcome) -> Flow {
        self.runs += 1;
        if let Some(progress) = &self.progress {
            progress.fetch_add(1, Ordering::Relaxed);
        }
        let kind = outcome.kind();
        match outcome {
            Outcome::Settled(settlement) => {
                self.expected_final = Some(settlement.expected_final);
                *self.finals.entry(settlement.observed_final).or_default() += 1;
                self.lost_updates += settlement.lost_updates;
                self.overwrites += settlement.overwrites;
                self.net_lost += i128::from(settlement.lost_delta);
                self.add_variables(&settlement.variables, true);
                if settlement.lost_updates > 0 {
                    self.lost_update_runs += 1;
                    if settlement.observed_final == settlement.expected_final {
                        self.masked_runs += 1;
                    }
                    if self.first_lost_update_run.is_none_or(|first| run < first) {
                        self.first_lost_update_run = Some(run);
                    }
                }
            }
            Outcome::Failed {
                message,
                lost_updates,
                overwrites,
                variables,
                ..
            } => {
                self.failed_runs += 1;
                // The updates it lost before it failed are lost too: counted, never dropped.
                self.lost_updates += lost_updates;
                self.overwrites += overwrites;
                self.add_variables(&variables, false);
                if lost_updates > 0 && self.first_lost_update_run.is_none_or(|first| run < first) {
                    self.first_lost_update_run = Some(run);
                }
                if self.failures.len() < KEPT_FAILURES {
                    self.failures.push(format!("run {run}: {message}"));
                }
            }
        }
        if let Some(kind) = kind {
            self.failing_runs += 1;
            *self.failure_kinds.entry(kind).or_default() += 1;
            if self.first_failing_run.is_none_or(|(first, _)| run < first) {
                self.first_failing_run = Some((run, kind));
            }
        }
        if kind.is_some() && self.stop_at_first_failure {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Adds the tally of the executions that come after this tally's (a later block of the
    /// same scenario): counts and histograms add up, and what is first stays first.
    pub fn absorb(&mut self, later: Tally) {
        self.runs += later.runs;
        self.failing_runs += later.failing_runs;
        self.lost_update_runs += later.lost_update_runs;
        self.masked_runs += later.masked_runs;
        self.failed_runs += later.failed_runs;
        for (kind, runs) in later.failure_kinds {
            *self.failure_kinds.entry(kind).or_default() += runs;
        }
        self.lost_updates += later.lost_updates;
        self.overwrites += later.overwrites;
        self.net_lost += later.net_lost;
        self.expected_final = self.expected_final.or(later.expected_final);
        for (name, variable) in later.variables {
            self.variables.entry(name).or_default().absorb(variable);
        }
        for (value, count) in later.finals {
            *self.finals.entry(value).or_default() += count;
        }
        self.first_lost_update_run = match (self.first_lost_update_run, later.first_lost_update_run)
        {
            (Some(first), Some(other)) => Some(first.min(other)),
            (first, other) => first.or(other),
        };
        if later.first_failing_run.is_some_and(|(other, _)| {
            self.first_failing_run
                .is_none_or(|(first, _)| other < first)
        }) {
            self.first_failing_run = later.first_failing_run;
            self.first_failing_schedule = later.first_failing_schedule;
        }
        let room = KEPT_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(later.failures.into_iter().take(room));
        self.exhaustive |= later.exhaustive;
        if let Some(classes) = later.classes {
            *self.classes.get_or_insert(0) += classes;
        }
        if let Some(decisions) = later.decisions {
            let most = self.decisions.get_or_insert(0);
            *most = (*most).max(decisions);
        }
        self.notes.extend(later.notes);
        self.out_of_time |= later.out_of_time;
        self.interrupted |= later.interrupted;
    }

    /// Adds one execution's named cells; the expected final values of an execution that
    /// `settled` only (a failed one has none, as for the whole workload).
    fn add_variables(&mut self, variables: &[VariableSettlement], settled: bool) {
        for variable in variables {
            // Looked up by reference first: a name is copied once per variable, not per run.
            let entry = match self.variables.get_mut(variable.name.as_str()) {
                Some(entry) => entry,
                None => self.variables.entry(variable.name.clone()).or_default(),
            };
            entry.lost_updates += variable.lost_updates;
            entry.overwrites += variable.overwrites;
            if settled {
                entry.expected_final = Some(variable.expected_final);
            }
        }
    }

    /// Whether this tally asked its engine to stop (its first failure, under `--fail-fast`).
    pub fn stopped(&self) -> bool {
        self.stop_at_first_failure && self.failing_runs > 0
    }

    /// An empty tally with this one's settings: its stop rule and progress counter.
    pub fn fresh(&self) -> Tally {
        Tally {
            stop_at_first_failure: self.stop_at_first_failure,
            progress: self.progress.clone(),
            ..Tally::default()
        }
    }

    /// Keeps `recorded`, the schedule of a failing execution, if it is the first failing one
    /// and none is kept yet.
    pub fn keep_first_failing_schedule(&mut self, recorded: Option<(u64, Recording)>) {
        if let Some((run, recording)) = recorded
            && self.first_failing_schedule.is_none()
            && self
                .first_failing_run
                .is_some_and(|(first, _)| first == run)
        {
            self.first_failing_schedule = Some((run, recording));
        }
    }

    /// Final values, most frequent first (ties: smaller value first).
    pub fn most_frequent_finals(&self) -> Vec<(i64, u64)> {
        let mut finals: Vec<(i64, u64)> = self.finals.iter().map(|(&v, &n)| (v, n)).collect();
        finals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        finals
    }
}

/// The totals of one named cell (a program's shared variable) over a scenario's executions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VariableTally {
    /// Its lost updates over all executions, those of executions that then failed otherwise
    /// included.
    pub lost_updates: u64,
    /// Its overwrites over all executions.
    pub overwrites: u64,
    /// The value it would end with had no update been lost, in the execution that gave the
    /// whole workload's [`Tally::expected_final`]; none when no execution settled.
    pub expected_final: Option<i64>,
}

impl VariableTally {
    /// Adds the totals of a later block of the same scenario.
    fn absorb(&mut self, later: VariableTally) {
        self.lost_updates += later.lost_updates;
        self.overwrites += later.overwrites;
        self.expected_final = self.expected_final.or(later.expected_final);
    }
}

/// A proportion with its 95% Wilson score interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Successes over trials (0 when there were no trials).
    pub value: f64,
    /// Lower bound of the 95% interval.
    pub low: f64,
    /// Upper bound of the 95% interval.
    pub high: f64,
}

impl Rate {
    /// A proportion known exactly (every case was counted): its interval is the point.
    pub fn exact(hits: u64, trials: u64) -> Rate {
        let value = if trials == 0 {
            0.0
        } else {
            hits as f64 / trials as f64
        };
        Rate {
            value,
            low: value,
            high: value,
        }
    }

    /// The rate of `hits` in `trials`, with its Wilson score interval at 95%.
    pub fn wilson(hits: u64, trials: u64) -> Rate {
        if trials == 0 {
            return Rate {
                value: 0.0,
                low: 0.0,
                high: 1.0,
            };
        }
        const Z: f64 = 1.959_963_984_540_054;
        let n = trials as f64;
        let p = hits as f64 / n;
        let z2 = Z * Z;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
        // At 0 and at `trials` hits the bounds are exactly 0 and 1; rounding must not move them.
        Rate {
            value: p,
            low: if hits == 0 {
                0.0
            } else {
                (centre - half).max(0.0)
            },
            high: if hits == trials {
                1.0
            } else {
                (centre + half).min(1.0)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Failed;
    use crate::ledger::Settlement;

    fn settled(observed_final: i64, lost_updates: u64) -> Outcome {
        Outcome::Settled(Settlement {
            observed_final,
            expected_final: 9,
            overwrites: lost_updates,
            lost_updates,
            lost_delta: 9 - observed_final,
            variables: Vec::new(),
        })
    }

    #[test]
    fn counts_failing_runs_and_the_histogram() {
        let mut tally = Tally::new(false);
        assert_eq!(tally.record(0, settled(9, 0)), Flow::Continue);
        assert_eq!(tally.record(1, settled(7, 2)), Flow::Continue);
        assert_eq!(tally.record(2, settled(7, 2)), Flow::Continue);
        assert_eq!(tally.runs, 3);
        assert_eq!(tally.failing_runs, 2);
        assert_eq!(tally.lost_updates, 4);
        assert_eq!(tally.first_lost_update_run, Some(1));
        assert_eq!(tally.most_frequent_finals(), vec![(7, 2), (9, 1)]);
    }

    #[test]
    fn stops_at_the_first_failure_when_asked() {
        let mut tally = Tally::new(true);
        assert_eq!(tally.record(0, settled(9, 0)), Flow::Continue);
        assert_eq!(tally.record(1, settled(8, 1)), Flow::Stop);
    }

    #[test]
    fn the_first_failing_run_is_the_lowest_index_whatever_the_order() {
        let mut tally = Tally::new(false);
        tally.record(7, settled(8, 1));
        tally.record(3, settled(8, 1));
        tally.record(5, settled(9, 0));
        assert_eq!(tally.first_failing_run, Some((3, Kind::LostUpdate)));
        assert_eq!(tally.first_lost_update_run, Some(3));
    }

    #[test]
    fn a_failed_execution_is_a_failing_run() {
        let mut tally = Tally::new(false);
        tally.record(0, Outcome::failed(Kind::Deadlock, "deadlock"));
        assert_eq!(tally.failing_runs, 1);
        assert_eq!(tally.failed_runs, 1);
        assert_eq!(tally.failures, vec!["run 0: deadlock".to_string()]);
        assert_eq!(tally.first_failing_run, Some((0, Kind::Deadlock)));
    }

    #[test]
    fn failing_runs_are_counted_by_kind() {
        let mut tally = Tally::new(false);
        tally.record(0, settled(7, 2));
        tally.record(1, Outcome::failed(Kind::Invariant, "balance < 0"));
        tally.record(2, Outcome::failed(Kind::Invariant, "balance < 0"));
        tally.record(3, settled(9, 0));
        let mut later = Tally::new(false);
        later.record(4, Outcome::failed(Kind::Panic, "boom"));
        tally.absorb(later);
        let kinds: Vec<(Kind, u64)> = tally.failure_kinds.into_iter().collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::LostUpdate, 1),
                (Kind::Invariant, 2),
                (Kind::Panic, 1)
            ]
        );
    }

    /// A program's execution that settled: `a` lost `lost_a` updates, `b` none.
    fn two_variables(lost_a: u64) -> Outcome {
        let variable = |name: &str, lost_updates: u64| VariableSettlement {
            name: name.to_string(),
            expected_final: 4,
            lost_updates,
            overwrites: lost_updates,
        };
        Outcome::Settled(Settlement {
            observed_final: 8 - lost_a as i64,
            expected_final: 8,
            overwrites: lost_a,
            lost_updates: lost_a,
            lost_delta: lost_a as i64,
            variables: vec![variable("a", lost_a), variable("b", 0)],
        })
    }

    #[test]
    fn lost_updates_are_kept_per_variable_one_entry_each_whatever_the_runs() {
        let mut tally = Tally::new(false);
        for run in 0..1_000 {
            tally.record(run, two_variables(run % 3));
        }
        // A failed execution's lost updates count on their variable, with no expected value.
        tally.record(
            1_000,
            Failed {
                lost_updates: 2,
                overwrites: 3,
                variables: vec![VariableSettlement {
                    name: "c".into(),
                    expected_final: 99,
                    lost_updates: 2,
                    overwrites: 3,
                }],
                ..Failed::new(Kind::Invariant, "a + b + c == 12 is false")
            }
            .into(),
        );
        assert_eq!(tally.variables.len(), 3);
        let a = &tally.variables["a"];
        assert_eq!(
            (a.lost_updates, a.overwrites, a.expected_final),
            (999, 999, Some(4))
        );
        assert_eq!(tally.variables["b"].lost_updates, 0);
        let c = &tally.variables["c"];
        assert_eq!(
            (c.lost_updates, c.overwrites, c.expected_final),
            (2, 3, None)
        );
        assert_eq!(tally.lost_updates, 999 + 2);

        // A later block adds up; what is known first stays.
        let mut later = Tally::new(false);
        later.record(1_001, two_variables(5));
        tally.absorb(later);
        assert_eq!(tally.variables["a"].lost_updates, 1_004);
        assert_eq!(tally.variables.len(), 3);
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // 20 of 20: the interval is [0.839, 1.0].
        let all = Rate::wilson(20, 20);
        assert_eq!(all.value, 1.0);
        assert!((all.low - 0.8389).abs() < 1e-3, "{}", all.low);
        assert_eq!(all.high, 1.0);
        // 0 of 100: [0, 0.037].
        let none = Rate::wilson(0, 100);
        assert_eq!(none.low, 0.0);
        assert!((none.high - 0.0370).abs() < 1e-3, "{}", none.high);
        // 50 of 100: [0.404, 0.596].
        let half = Rate::wilson(50, 100);
        assert!((half.low - 0.4038).abs() < 1e-3 && (half.high - 0.5962).abs() < 1e-3);
    }
}
