//! The harness example, run as the README says: a user's own workload gets the whole command
//! line.

use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

/// `cargo run --release --example stress_harness -- ARGS...` from the package's folder.
fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--release",
            "--example",
            "stress_harness",
            "--",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("cargo runs")
}

#[test]
fn the_harness_example_runs_its_bug_and_its_fix_by_the_readmes_command() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out");
    let json = dir.path().join("report.json");
    let run = harness(&[
        "run",
        "examples/stress_harness.toml",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");
    let scenarios = report["scenarios"].as_array().unwrap();
    let by_name = |name: &str| {
        scenarios
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no scenario {name} in {report}"))
    };
    let race = by_name("transfer-race");
    assert_eq!(race["workload"], "transfer");
    assert!(race["lost_updates"].as_u64().unwrap() > 0, "{race}");
    assert_eq!(race["minimal_schedule"]["preemptions"], 1, "{race}");
    let locked = by_name("transfer-locked");
    assert_eq!(locked["lost_updates"], 0);
    assert_eq!(locked["verdict"], "pass");

    // The saved schedule replays through the same harness: the bug still shows (exit 1).
    let schedule = race["schedule_file"].as_str().expect("a saved schedule");
    let replayed = harness(&["replay", schedule]);
    let replay_out = String::from_utf8_lossy(&replayed.stdout);
    assert_eq!(replayed.status.code(), Some(1), "{replay_out}");
    assert!(
        replay_out.contains("the recorded failure reproduces"),
        "{replay_out}"
    );

    // An edited schedule is not the record of the failure: exit 2, and how to check a fix.
    let text = std::fs::read_to_string(schedule).unwrap();
    let seed = text
        .lines()
        .find(|l| l.starts_with("seed = "))
        .expect("the file names its seed");
    let edited = dir.path().join("edited.schedule.toml");
    std::fs::write(&edited, text.replacen(seed, "seed = 12345", 1)).unwrap();
    let refused = harness(&["replay", edited.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("edited or damaged") && stderr.contains("to check a fix"),
        "{stderr}"
    );
}
