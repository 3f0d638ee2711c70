//! Splitting a campaign over machines: which shard this run is, from the command line or from
//! the CI system's environment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One part of a campaign split over several machines: block `b` of every scenario's
/// executions runs on shard `b % total + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 1.
    pub index: u64,
    /// The number of shards.
    pub total: u64,
}

impl Shard {
    /// Shard `index` (from 1) of `total`.
    pub fn new(index: u64, total: u64) -> Result<Shard, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        if index == 0 || index > total {
            return Err(ShardError::OutOfRange { index, total });
        }
        Ok(Shard { index, total })
    }

    /// Whether block `block` runs on this shard.
    pub fn takes(self, block: u64) -> bool {
        block % self.total + 1 == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

/// A shard could not be made out.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not `I/N`.
    #[error("`{0}` is not a shard: write I/N, for example 2/3 (shards count from 1)")]
    Syntax(String),
    /// Zero shards.
    #[error("the number of shards must be at least 1")]
    NoShards,
    /// The index is not between 1 and the total.
    #[error("shard {index} of {total} does not exist: shards count from 1 to {total}")]
    OutOfRange {
        /// The index given.
        index: u64,
        /// The total given.
        total: u64,
    },
    /// A CI variable holds something else than a number.
    #[error("the environment variable {name} holds `{value}`, not a number")]
    Variable {
        /// The variable.
        name: &'static str,
        /// What it holds.
        value: String,
    },
    /// A CI variable names a shard that does not exist.
    #[error(
        "{name}={value} names shard {index} of {total}, which does not exist (shards count from 1 to {total})"
    )]
    VariableOutOfRange {
        /// The variable.
        name: &'static str,
        /// What it holds.
        value: u64,
        /// The shard it names, from 1.
        index: u64,
        /// The number of shards.
        total: u64,
    },
    /// `--shards` and the CI system disagree on the number of shards.
    #[error("--shards {given}, but {name}={value}: give the CI system's number of shards")]
    TotalMismatch {
        /// What `--shards` said.
        given: u64,
        /// The CI system's variable.
        name: &'static str,
        /// What it holds.
        value: u64,
    },
    /// The total is known but no index variable is set.
    #[error(
        "{total} shards, but which one is this? give --shard I/{total}, or set one of \
         JOB_COMPLETION_INDEX, CI_NODE_INDEX, CIRCLE_NODE_INDEX, BUILDKITE_PARALLEL_JOB"
    )]
    NoIndex {
        /// The total given.
        total: u64,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (index, total) = text.split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let total = total.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, total)
    }
}

/// The CI variables that name a job's index, whether they count from 0, and the variable that
/// holds the total where the system has one.
const INDEX_VARIABLES: [(&str, bool, Option<&str>); 4] = [
    // Kubernetes Indexed Jobs.
    ("JOB_COMPLETION_INDEX", true, None),
    // GitLab CI `parallel:` jobs.
    ("CI_NODE_INDEX", false, Some("CI_NODE_TOTAL")),
    // CircleCI parallelism.
    ("CIRCLE_NODE_INDEX", true, Some("CIRCLE_NODE_TOTAL")),
    // Buildkite parallel jobs.
    (
        "BUILDKITE_PARALLEL_JOB",
        true,
        Some("BUILDKITE_PARALLEL_JOB_COUNT"),
    ),
];

/// The shard of this run from the environment (`variable` reads one), given the number of
/// shards `total` (from `--shards`; else the CI system's own total variable is used). `None`
/// when no total is known: the run is not sharded.
pub fn from_environment(
    total: Option<u64>,
    variable: impl Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, ShardError> {
    let number = |name: &'static str| -> Result<Option<u64>, ShardError> {
        match variable(name) {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ShardError::Variable { name, value }),
        }
    };
    for (name, from_zero, total_name) in INDEX_VARIABLES {
        let Some(index) = number(name)? else {
            continue;
        };
        let system_total = match total_name {
            Some(total_name) => number(total_name)?.map(|value| (total_name, value)),
            None => None,
        };
        let total = match (total, system_total) {
            (Some(given), Some((name, value))) if given != value => {
                return Err(ShardError::TotalMismatch { given, name, value });
            }
            (Some(total), _) => total,
            (None, Some((_, value))) => value,
            (None, None) => continue,
        };
        let shard = if from_zero { index + 1 } else { index };
        return Shard::new(shard, total)
            .map(Some)
            .map_err(|error| match error {
                ShardError::OutOfRange { .. } => ShardError::VariableOutOfRange {
                    name,
                    value: index,
                    index: shard,
                    total,
                },
                other => other,
            });
    }
    match total {
        Some(total) => Err(ShardError::NoIndex { total }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_are_written_index_slash_total() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, total: 3 }));
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 0, total: 3 })
        );
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, total: 3 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::NoShards));
        assert!(matches!("2-3".parse::<Shard>(), Err(ShardError::Syntax(_))));
    }

    #[test]
    fn every_block_runs_on_exactly_one_shard() {
        for total in 1..5 {
            for block in 0..20 {
                let owners = (1..=total)
                    .filter(|&index| Shard { index, total }.takes(block))
                    .count();
                assert_eq!(owners, 1);
            }
        }
    }

    #[test]
    fn a_kubernetes_index_counts_from_zero() {
        let shard = from_environment(Some(3), env(&[("JOB_COMPLETION_INDEX", "2")]));
        assert_eq!(shard, Ok(Some(Shard { index: 3, total: 3 })));
        let beyond = from_environment(Some(3), env(&[("JOB_COMPLETION_INDEX", "3")]));
        assert_eq!(
            beyond,
            Err(ShardError::VariableOutOfRange {
                name: "JOB_COMPLETION_INDEX",
                value: 3,
                index: 4,
                total: 3
            })
        );
    }

    #[test]
    fn ci_systems_give_their_own_totals() {
        let gitlab = env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "4")]);
        assert_eq!(
            from_environment(None, gitlab),
            Ok(Some(Shard { index: 1, total: 4 }))
        );
        let circle = env(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "2")]);
        assert_eq!(
            from_environment(None, circle),
            Ok(Some(Shard { index: 1, total: 2 }))
        );
        let disagreeing = env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")]);
        assert_eq!(
            from_environment(Some(4), disagreeing),
            Err(ShardError::TotalMismatch {
                given: 4,
                name: "CI_NODE_TOTAL",
                value: 3
            })
        );
        // A Kubernetes index alone, without a total, does not shard.
        assert_eq!(
            from_environment(None, env(&[("JOB_COMPLETION_INDEX", "0")])),
            Ok(None)
        );
    }

    #[test]
    fn a_total_without_an_index_or_a_bad_variable_is_an_error() {
        assert_eq!(
            from_environment(Some(3), env(&[])),
            Err(ShardError::NoIndex { total: 3 })
        );
        assert!(matches!(
            from_environment(Some(3), env(&[("JOB_COMPLETION_INDEX", "two")])),
            Err(ShardError::Variable { .. })
        ));
        assert_eq!(from_environment(None, env(&[])), Ok(None));
    }
}
