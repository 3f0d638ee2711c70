//! Exhaustive `dfs` on deadlocking programs: once an execution has declared its deadlock, its
//! threads only unwind, and the search takes no alternatives among their steps. Without this
//! the zoo's two-lock deadlock had not been exhausted after 62,000 executions under plain
//! `dfs` (more than 37,000 with at most one preemption), each deadlocked execution branching on
//! the order in which its threads unwound.

use serde_json::Value;
use tempfile::TempDir;

use crate::common;

use common::run_quietly;

/// The zoo's scenario `name` (configs/zoo.toml) under shuttle from seed 1, with `settings`
/// added to it.
fn zoo_scenario(name: &str, settings: &str) -> String {
    let zoo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/zoo.toml")).unwrap();
    let block = zoo
        .split("[[scenario]]")
        .skip(1)
        .find(|block| block.contains(&format!("name = \"{name}\"\n")))
        .unwrap_or_else(|| panic!("the zoo has {name}"));
    let block = block.replacen(
        "[scenario.program]",
        &format!("engine = \"shuttle\"\nseed = 1\n{settings}\n[scenario.program]"),
        1,
    );
    format!("[[scenario]]{block}")
}

/// Runs `config` quietly; returns its one scenario's JSON report, and asserts nothing went to
/// stderr and the expected deadlock showed (exit 0).
fn run(config: &str) -> Value {
    let dir = TempDir::new().unwrap();
    let (run, report) = run_quietly(dir.path(), "dfs.toml", config);
    assert_eq!(run.stderr, "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    report["scenarios"][0].clone()
}

/// Asserts every failing run is a deadlock and the minimal schedule's cycle is `edges`, each
/// `(thread, waits for, held by)`.
fn assert_deadlock_with_cycle(scenario: &Value, edges: &[(&str, &str, &str)]) {
    let failing = scenario["failing_runs"].as_u64().unwrap();
    assert!(failing > 0, "{scenario}");
    assert_eq!(
        scenario["failure_kinds"]["deadlock"].as_u64(),
        Some(failing)
    );
    let cycle: Vec<(&str, &str, &str)> = scenario["minimal_schedule"]["cycle"]
        .as_array()
        .unwrap_or_else(|| panic!("a cycle: {scenario}"))
        .iter()
        .map(|edge| {
            (
                edge["thread"].as_str().unwrap(),
                edge["waits_for"].as_str().unwrap(),
                edge["held_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(cycle, edges);
}

#[test]
fn the_zoos_two_lock_deadlock_regression_under_dfs_is_exhausted_in_few_executions() {
    let scenario = run(&zoo_scenario(
        "deadlock-two",
        "scheduler = \"dfs\"\nruns = 1000000",
    ));
    assert_eq!(scenario["coverage"]["kind"], "exhaustive", "{scenario}");
    // Measured: 926 executions (its fix, with the same steps and no deadlock, has 389). Before,
    // the search had not ended after 62,000.
    let runs = scenario["runs"].as_u64().unwrap();
    assert!(runs <= 2_000, "{runs} executions");
    assert_deadlock_with_cycle(&scenario, &[("t1", "b", "t2"), ("t2", "a", "t1")]);
}

#[test]
fn the_zoos_three_lock_cycle_regression_under_preemption_bounded_dfs_is_exhausted_in_few_executions()
 {
    // Its proven minimum is one preemption, so two find it. Plain dfs exhausts it too, in about
    // 1.5 million executions (its fix: about 2.1 million): three threads have that many
    // schedules whether or not they deadlock.
    let scenario = run(&zoo_scenario(
        "deadlock-cycle",
        "scheduler = \"dfs\"\nmax_preemptions = 2\nruns = 1000000",
    ));
    assert_eq!(
        scenario["coverage"]["kind"], "preemption-bounded",
        "{scenario}"
    );
    assert_eq!(scenario["exhaustive"], true, "{scenario}");
    // Measured: 2,248 executions. Before, the two-lock deadlock alone had not ended after
    // 37,000 with one preemption.
    let runs = scenario["runs"].as_u64().unwrap();
    assert!(runs <= 5_000, "{runs} executions");
    assert_deadlock_with_cycle(
        &scenario,
        &[("t1", "b", "t2"), ("t2", "c", "t3"), ("t3", "a", "t1")],
    );
}
