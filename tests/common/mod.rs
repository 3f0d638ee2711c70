//! Helpers shared by the integration tests.

#![allow(dead_code)]

use contend::scenario::{
    CounterSpec, EngineSpec, Expectation, Scenario, SchedulerKind, ShuttleSettings, SyncMode,
    ThreadsSettings,
};

/// A counter scenario with the given threads, as `(delta, ops)` pairs.
pub fn counter(
    name: &str,
    engine: EngineSpec,
    sync: SyncMode,
    initial: i64,
    threads: &[(i64, u64)],
    expect: Expectation,
) -> Scenario {
    Scenario::counter(
        name,
        engine,
        CounterSpec::new(initial, threads, sync),
        expect,
    )
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
