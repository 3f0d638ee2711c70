//! What a passing run proves, per scenario: the `coverage` object of the JSON report and its
//! sentence in the text report.
//!
//! An exhausted `dfs` or `dpor` search covers every interleaving; a search with
//! `max_preemptions` covers every schedule with at most that many preemptions; random and PCT
//! schedules are samples, and for PCT the bound of Burckhardt et al. (ASPLOS 2010) says how
//! likely a bug of depth `d` was to be missed: each execution finds it with probability at
//! least `p = 1 / (n k^(d-1))` (`n` threads, `k` scheduling steps), so `R` executions miss it
//! with probability at most `(1 - p)^R`.

use serde::{Deserialize, Serialize};

use crate::scenario::{EngineSpec, Scenario, SchedulerKind};
use crate::tally::Tally;

/// What kind of guarantee a run gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageKind {
    /// Every interleaving was checked.
    Exhaustive,
    /// Every schedule with at most `max_preemptions` preemptions was checked.
    PreemptionBounded,
    /// A sample of the schedules (or of real runs) was checked.
    Sampled,
}

/// What a passing run of a scenario proves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The kind of guarantee.
    pub kind: CoverageKind,
    /// Equivalence classes of interleavings explored (`dpor`), or schedules (`dfs`, bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<u64>,
    /// The preemption bound of a bounded search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_preemptions: Option<u32>,
    /// The bug depth the PCT bound is stated for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// The most likely a bug of `depth` was to be missed by every execution of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss_probability: Option<f64>,
    /// What the run proves, in words.
    pub statement: String,
}

/// The PCT bound: the probability that `runs` executions of `threads` threads and `steps`
/// scheduling steps each all miss a bug of depth `depth`, at most.
pub fn pct_miss_probability(threads: u64, steps: u64, depth: usize, runs: u64) -> f64 {
    let per_execution = 1.0
        / (threads.max(1) as f64
            * (steps.max(1) as f64)
                .powi(i32::try_from(depth.saturating_sub(1)).unwrap_or(i32::MAX)));
    (runs as f64 * (-per_execution).ln_1p()).exp()
}

/// What the run of `scenario` that `tally` counted proves.
pub fn coverage(scenario: &Scenario, tally: &Tally) -> Coverage {
    let threads = scenario.workload.counter().map(|c| &c.threads);
    let what = match threads {
        Some(threads) if !threads.is_empty() => {
            let ops: Vec<u64> = threads.iter().map(|t| t.ops).collect();
            let ops = if ops.iter().all(|&o| o == ops[0]) {
                ops[0].to_string()
            } else {
                ops.iter().map(u64::to_string).collect::<Vec<_>>().join("/")
            };
            format!("these {} threads x {ops} ops", threads.len())
        }
        _ => "this scenario's threads".to_string(),
    };
    let sampled = |statement: String| Coverage {
        kind: CoverageKind::Sampled,
        classes: None,
        max_preemptions: None,
        depth: None,
        miss_probability: None,
        statement,
    };
    let Some(settings) = scenario.engine.shuttle_settings() else {
        let how = match scenario.engine {
            EngineSpec::Processes(_) => "runs of real processes",
            _ => "runs of real threads",
        };
        return sampled(format!(
            "sampled: {} {how}, with no bound on what they miss",
            tally.runs
        ));
    };
    let runs = tally.runs;
    match settings.scheduler {
        kind @ (SchedulerKind::Dfs | SchedulerKind::Dpor) if tally.exhaustive => {
            let classes = tally.classes.unwrap_or(runs);
            let unit = if kind == SchedulerKind::Dpor {
                "equivalence classes"
            } else {
                "schedules"
            };
            Coverage {
                kind: CoverageKind::Exhaustive,
                classes: Some(classes),
                max_preemptions: None,
                depth: None,
                miss_probability: None,
                statement: format!(
                    "exhaustive: every interleaving of {what} was checked ({classes} {unit})"
                ),
            }
        }
        SchedulerKind::Bounded { max_preemptions } if tally.exhaustive => Coverage {
            kind: CoverageKind::PreemptionBounded,
            classes: Some(runs),
            max_preemptions: Some(max_preemptions),
            depth: None,
            miss_probability: None,
            statement: format!(
                "preemption-bounded: every schedule of {what} with at most {max_preemptions} \
                 preemptions was checked ({runs} schedules); schedules with more were not"
            ),
        },
        kind @ (SchedulerKind::Dfs | SchedulerKind::Dpor | SchedulerKind::Bounded { .. }) => {
            sampled(format!(
                "not exhaustive: {} stopped after {runs} executions (its runs, its time or a \
                 failure) before covering every schedule",
                kind.as_str()
            ))
        }
        SchedulerKind::Pct { depth } => {
            let tasks = threads.map_or(0, |t| t.len() as u64) + 1;
            match tally.decisions.filter(|_| threads.is_some()) {
                Some(steps) => {
                    let miss = pct_miss_probability(tasks, steps, depth, runs);
                    Coverage {
                        depth: Some(depth),
                        miss_probability: Some(miss),
                        ..sampled(format!(
                            "sampled: a bug of depth {depth} is found by one execution with \
                             probability at least 1/(n k^(d-1)) = 1/({tasks} x {steps}^{}), so \
                             {runs} executions missed it with probability at most {miss:.4}",
                            depth - 1
                        ))
                    }
                }
                None => sampled(format!(
                    "sampled: {runs} PCT executions of depth {depth}; the length of an \
                     execution was not measured, so no bound is stated"
                )),
            }
        }
        SchedulerKind::Random => sampled(format!(
            "sampled: {runs} random schedules; a uniformly random scheduler has no depth \
             bound (scheduler = \"pct\" states one)"
        )),
    }
}

/// The coverage of a campaign from its shards': sampled runs add up (their miss probabilities
/// multiply); anything else is kept only when every shard says the same.
pub fn merged<'a>(shards: impl Iterator<Item = Option<&'a Coverage>>) -> Option<Coverage> {
    let shards: Vec<&Coverage> = shards.collect::<Option<Vec<_>>>()?;
    let count = shards.len();
    let first = (*shards.first()?).clone();
    if shards.len() == 1 || shards.iter().all(|s| **s == first) {
        return Some(first);
    }
    if shards.iter().all(|s| s.kind == CoverageKind::Sampled) {
        let miss = shards
            .iter()
            .map(|s| s.miss_probability)
            .collect::<Option<Vec<f64>>>()
            .filter(|_| shards.iter().all(|s| s.depth == first.depth))
            .map(|misses| misses.iter().product::<f64>());
        let statement = match (first.depth, miss) {
            (Some(depth), Some(miss)) => format!(
                "sampled, in {count} shards: together they missed a bug of depth {depth} with \
                 probability at most {miss:.4}"
            ),
            _ => format!("sampled, in {count} shards"),
        };
        return Some(Coverage {
            miss_probability: miss,
            statement,
            ..first
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pct_bound_shrinks_with_runs_and_grows_with_depth() {
        let one = pct_miss_probability(3, 10, 1, 1);
        assert!((one - (1.0 - 1.0 / 3.0)).abs() < 1e-12);
        assert!(pct_miss_probability(3, 10, 2, 100) < pct_miss_probability(3, 10, 2, 10));
        assert!(pct_miss_probability(3, 10, 3, 100) > pct_miss_probability(3, 10, 2, 100));
    }

    #[test]
    fn shards_of_a_pct_run_miss_a_bug_with_the_product_of_their_probabilities() {
        let shard = |runs| {
            let miss = pct_miss_probability(3, 10, 2, runs);
            Coverage {
                kind: CoverageKind::Sampled,
                classes: None,
                max_preemptions: None,
                depth: Some(2),
                miss_probability: Some(miss),
                statement: format!("{runs}"),
            }
        };
        let (a, b) = (shard(100), shard(50));
        let both = merged([Some(&a), Some(&b)].into_iter()).unwrap();
        let whole = pct_miss_probability(3, 10, 2, 150);
        assert!((both.miss_probability.unwrap() - whole).abs() < 1e-12);
        assert!(merged([Some(&a), None].into_iter()).is_none());
    }
}
