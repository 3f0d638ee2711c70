//! Each scenario's count of finished executions, where a progress display can read it while
//! the scenarios run (several at once with `--jobs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scenario::Scenario;

/// One counter of finished executions per scenario of a run, found by the scenario's name
/// (names are unique within a run).
#[derive(Debug, Default)]
pub struct ScenarioProgress {
    counts: HashMap<String, Arc<AtomicU64>>,
}

impl ScenarioProgress {
    /// A counter at zero for each of `scenarios`.
    pub fn new(scenarios: &[Scenario]) -> Self {
        let counts = scenarios
            .iter()
            .map(|scenario| (scenario.name.clone(), Arc::new(AtomicU64::new(0))))
            .collect();
        ScenarioProgress { counts }
    }

    /// The counter the engines bump for the scenario `name`, if it is one of this run's.
    pub fn counter(&self, name: &str) -> Option<Arc<AtomicU64>> {
        self.counts.get(name).cloned()
    }

    /// How many executions of the scenario `name` have finished so far.
    pub fn finished(&self, name: &str) -> u64 {
        self.counts
            .get(name)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{CounterSpec, EngineSpec, Expectation, ShuttleSettings};

    #[test]
    fn each_scenario_counts_on_its_own() {
        let scenarios = ["first", "second"].map(|name| {
            Scenario::counter(
                name,
                EngineSpec::Shuttle(ShuttleSettings::default()),
                CounterSpec::new(0, &[(1, 1)], crate::scenario::SyncMode::None),
                Expectation::NoLostUpdates,
            )
        });
        let progress = ScenarioProgress::new(&scenarios);
        progress
            .counter("first")
            .unwrap()
            .fetch_add(3, Ordering::Relaxed);
        progress
            .counter("second")
            .unwrap()
            .fetch_add(1, Ordering::Relaxed);
        assert_eq!(progress.finished("first"), 3);
        assert_eq!(progress.finished("second"), 1);
        assert!(progress.counter("third").is_none());
        assert_eq!(progress.finished("third"), 0);
    }
}
