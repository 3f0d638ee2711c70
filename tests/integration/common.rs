//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
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

/// The variables through which a CI system changes what contend does.
pub const CI_VARIABLES: [&str; 9] = [
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "JOB_COMPLETION_INDEX",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
];

/// What a run of the `contend` binary did.
pub struct Run {
    /// Its exit code.
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs the `contend` binary in `dir`; it must exit with a code (not a signal) and never panic.
pub fn contend(args: &[&str], dir: &Path) -> Run {
    contend_with_env(args, dir, &[])
}

/// Runs `contend ARGS` in `dir` as [`contend`] does, with the environment variables `env` set.
pub fn contend_with_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut command = Command::cargo_bin("contend").unwrap();
    // The tests must not depend on the CI system they run in.
    for variable in CI_VARIABLES {
        command.env_remove(variable);
    }
    command.env_remove("CONTEND_PROGRESS_EVERY");
    command.envs(env.iter().copied());
    let output = command
        .current_dir(dir)
        .args(args)
        // A guard against a hang, not a measure of speed: CI machines are shared and slow.
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap();
    let run = Run {
        code: output
            .status
            .code()
            .expect("contend exits with a code, not a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "contend panicked:\n{}",
        run.stderr
    );
    run
}

/// Writes `config` to `dir/name` and runs `contend run` on it quietly, in `dir`, with its
/// schedules under `dir/out`; returns the run and the JSON report it wrote (`Null` if none).
pub fn run_quietly(dir: &Path, name: &str, config: &str) -> (Run, serde_json::Value) {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    let json = dir.join("report.json");
    let run = contend(
        &[
            "run",
            path.to_str().unwrap(),
            "-q",
            "--out",
            dir.join("out").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        dir,
    );
    let report = std::fs::read_to_string(&json)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (run, report)
}
