//! Under shuttle, an execution that panics, breaks an invariant or deadlocks ends as a failed
//! outcome and the run goes on to the next execution; nothing of shuttle's own is printed
//! behind the report, and each saved schedule replays to a failure of the same kind.

use crate::common;

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use common::{contend, run_quietly};

/// A program scenario under shuttle's random scheduler, `runs` runs from seed 1.
fn scenario(name: &str, expect: &str, runs: u64, program: &str) -> String {
    format!(
        "[[scenario]]\nname = \"{name}\"\nworkload = \"program\"\nengine = \"shuttle\"\n\
         runs = {runs}\nseed = 1\nexpect = \"{expect}\"\n[scenario.program]\n{program}\n"
    )
}

/// A check-then-act that breaks `balance >= 0` in some runs (each withdrawal atomic, so that
/// no update is lost: the invariant is the only failure).
const OVERDRAFT: &str = r#"shared = { balance = 100 }
check = ["balance >= 0"]
threads = [
  { name = "alice", code = "if balance >= 80 { atomic balance -= 80 }" },
  { name = "bob", code = "if balance >= 80 { atomic balance -= 80 }" },
]"#;

/// Two locks taken in opposite orders: a deadlock in some runs.
const LOCK_ORDER: &str = r#"locks = ["a", "b"]
threads = [
  { name = "t1", code = "lock a; lock b; unlock b; unlock a" },
  { name = "t2", code = "lock b; lock a; unlock a; unlock b" },
]"#;

/// A division by a value another thread may have zeroed: a panic in some runs.
const DIVISION: &str = r#"shared = { d = 1, q = 0 }
threads = [
  { name = "zeroer", code = "d = 0" },
  { name = "divider", code = "q = 10 / d" },
]"#;

/// Replays `file`; asserts it exits 1 (the failure reproduces) with an outcome of `kind`.
fn assert_replays_to(file: &str, kind: &str, dir: &Path) {
    let replay = contend(&["replay", file], dir);
    assert_eq!(replay.code, 1, "{file}: {}{}", replay.stdout, replay.stderr);
    let outcome = replay
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("outcome: "))
        .unwrap_or_else(|| panic!("{file}: no outcome in {}", replay.stdout));
    let shown = match kind {
        "deadlock" => outcome.starts_with("deadlock: "),
        "invariant" => outcome.contains("invariant failed: "),
        "panic" => outcome.contains(" panicked"),
        "lost-update" => outcome.contains(" lost"),
        "livelock" => outcome.contains("a livelock"),
        _ => panic!("{file}: no words known for a {kind}"),
    };
    assert!(shown, "{file}: a {kind} expected, replayed `{outcome}`");
}

#[test]
fn the_zoo_run_quietly_prints_nothing_on_stderr_and_each_schedule_replays_its_kind() {
    let dir = TempDir::new().unwrap();
    let zoo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/zoo.toml"))
            .unwrap();
    let (run, report) = run_quietly(dir.path(), "zoo.toml", &zoo);
    assert_eq!(run.code, 0, "every bug shown, every fix clean");
    // shuttle's own lines ("test panicked in task", "Test deadlocked, and ...") used to show
    // between the report's lines, even with -q.
    assert_eq!(run.stderr, "", "nothing behind the report on stderr");
    for scenario in report["scenarios"].as_array().unwrap() {
        let Some(file) = scenario["schedule_file"].as_str() else {
            continue;
        };
        let kind = scenario["minimal_schedule"]["failure"].as_str().unwrap();
        assert_replays_to(file, kind, dir.path());
    }
}

#[test]
fn failing_scenarios_of_2000_runs_under_shuttle_run_them_all_and_count_their_kinds() {
    let dir = TempDir::new().unwrap();
    let config = [
        scenario("overdraft", "invariant", 2000, OVERDRAFT),
        scenario("lock-order", "deadlock", 2000, LOCK_ORDER),
        scenario("division", "panic", 2000, DIVISION),
    ]
    .join("\n");
    let (run, report) = run_quietly(dir.path(), "failing.toml", &config);
    assert_eq!(run.code, 0, "each failure shows as expected: {report}");
    assert_eq!(run.stderr, "");
    for (scenario, kind) in
        report["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .zip(["invariant", "deadlock", "panic"])
    {
        let name = scenario["name"].as_str().unwrap();
        assert_eq!(scenario["runs"], 2000, "{name}: every run ran");
        let failing = scenario["failing_runs"].as_u64().unwrap();
        // Failing in some runs and passing in others: a rate, not one run that ended it all.
        assert!(failing > 0 && failing < 2000, "{name}: {failing} failing");
        assert_eq!(
            scenario["failure_kinds"][kind].as_u64(),
            Some(failing),
            "{name}: {}",
            scenario["failure_kinds"]
        );
        let notes = scenario["notes"].to_string();
        assert!(!notes.contains("did not run"), "{name}: {notes}");
        assert_eq!(scenario["minimal_schedule"]["failure"], kind, "{name}");
        let file = scenario["schedule_file"].as_str().unwrap();
        assert_replays_to(file, kind, dir.path());
    }
    let deadlock = &report["scenarios"][1]["minimal_schedule"]["cycle"];
    assert!(
        deadlock.to_string().contains("\"thread\":\"t1\"")
            && deadlock.to_string().contains("\"thread\":\"t2\""),
        "the deadlock's cycle names the program's threads: {deadlock}"
    );
}

#[test]
fn fail_fast_still_stops_a_shuttle_scenario_at_its_first_unexpected_failure() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fail-fast.toml");
    std::fs::write(
        &path,
        scenario("lock-order", "no-failures", 2000, LOCK_ORDER),
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let run = contend(
        &[
            "run",
            path.to_str().unwrap(),
            "-q",
            "--fail-fast",
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.stderr, "");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["failing_runs"], 1, "{scenario}");
    assert!(scenario["runs"].as_u64().unwrap() < 2000, "{scenario}");
    // --fail-fast stopped it, not shuttle: no note blames shuttle for the runs left.
    let notes = scenario["notes"].to_string();
    assert!(!notes.contains("shuttle ends"), "{notes}");
}
