//! Helpers shared by the integration tests.

#![allow(dead_code)]

use contend::scenario::{
    CounterSpec, EngineSpec, Expectation, Scenario, SchedulerKind, ShuttleSettings, SyncMode,
    ThreadSpec, ThreadsSettings, WorkloadSpec,
};

/// A counter scenario with the given threads, as `(delta, ops)` pairs.
pub fn counter(
    name: &str,
    engine: EngineSpec,
    sync: SyncMode,
    initial: i64,
    threads: &[(i64, u64)],
    runs: u64,
    seed: u64,
    expect: Expectation,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        workload: WorkloadSpec::Counter(CounterSpec {
            initial,
            threads: threads
                .iter()
                .map(|&(delta, ops)| ThreadSpec { delta, ops })
                .collect(),
            sync,
        }),
        engine,
        runs,
        seed,
        expect,
    }
}

/// The threads engine with default jitter and barrier.
pub fn threads() -> EngineSpec {
    EngineSpec::Threads(ThreadsSettings::default())
}

/// The shuttle engine with the given scheduler.
pub fn shuttle(scheduler: SchedulerKind) -> EngineSpec {
    EngineSpec::Shuttle(ShuttleSettings {
        scheduler,
        ..ShuttleSettings::default()
    })
}

/// Both engines, with shuttle's random and PCT schedulers.
pub fn all_engines() -> Vec<EngineSpec> {
    vec![
        threads(),
        shuttle(SchedulerKind::Random),
        shuttle(SchedulerKind::Pct { depth: 3 }),
    ]
}
