//! `scheduler = "dpor"` and `max_preemptions` from a config: what the JSON and text reports say
//! a passing run proves (`coverage`), and bad values refused with exit 2 and the key.

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common;

use common::contend;

fn scenario(name: &str, sync: &str, ops: u64, extra: &str, expect: &str) -> String {
    format!(
        r#"
[[scenario]]
name = "{name}"
engine = "shuttle"
sync = "{sync}"
threads = [{{ delta = 1, ops = {ops} }}, {{ delta = 1, ops = {ops} }}]
runs = 1000000
seed = 1
expect = "{expect}"
{extra}
"#
    )
}

fn run(dir: &TempDir, config: &str) -> (i32, String, String, Option<Value>) {
    let path = dir.path().join("dpor.toml");
    std::fs::write(&path, config).unwrap();
    let json = dir.path().join("report.json");
    let _ = std::fs::remove_file(&json);
    let run = contend(
        &[
            "run",
            path.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        Path::new(dir.path()),
    );
    let report = std::fs::read_to_string(&json)
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    (run.code, run.stdout, run.stderr, report)
}

#[test]
fn an_exhausted_dpor_search_reports_exhaustive_coverage_with_its_classes() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "locked",
        "mutex",
        4,
        r#"scheduler = "dpor""#,
        "no-lost-updates",
    );
    let (code, stdout, stderr, report) = run(&dir, &config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let scenario = &report.unwrap()["scenarios"][0];
    assert_eq!(scenario["scheduler"], "dpor");
    assert_eq!(scenario["exhaustive"], true);
    assert_eq!(scenario["runs"], 70);
    assert_eq!(scenario["coverage"]["kind"], "exhaustive");
    assert_eq!(scenario["coverage"]["classes"], 70);
    assert!(
        stdout.contains(
            "coverage: exhaustive: every interleaving of these 2 threads x 4 ops was checked \
             (70 equivalence classes)"
        ),
        "{stdout}"
    );
}

#[test]
fn dpor_cut_by_its_runs_says_it_was_not_exhaustive() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "locked",
        "mutex",
        4,
        r#"scheduler = "dpor""#,
        "no-lost-updates",
    )
    .replace("runs = 1000000", "runs = 10");
    let (code, stdout, stderr, report) = run(&dir, &config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let scenario = &report.unwrap()["scenarios"][0];
    assert_eq!(scenario["exhaustive"], false);
    assert_eq!(scenario["coverage"]["kind"], "sampled");
    assert!(stdout.contains("not exhaustive"), "{stdout}");
}

#[test]
fn a_preemption_bounded_search_reports_its_bound_and_finds_the_one_preemption_bug() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "racy",
        "none",
        2,
        "scheduler = \"dpor\"\nmax_preemptions = 1",
        "lost-updates",
    );
    let (code, stdout, stderr, report) = run(&dir, &config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let scenario = &report.unwrap()["scenarios"][0];
    assert_eq!(scenario["coverage"]["kind"], "preemption-bounded");
    assert_eq!(scenario["coverage"]["max_preemptions"], 1);
    assert!(scenario["lost_update_runs"].as_u64().unwrap() > 0);
}

#[test]
fn pct_states_its_bound_on_a_missed_bug_with_the_runs_numbers() {
    let dir = TempDir::new().unwrap();
    let config = scenario(
        "locked",
        "mutex",
        2,
        "scheduler = \"pct\"\ndepth = 2",
        "no-lost-updates",
    )
    .replace("runs = 1000000", "runs = 200");
    let (code, stdout, stderr, report) = run(&dir, &config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let coverage = &report.unwrap()["scenarios"][0]["coverage"];
    assert_eq!(coverage["kind"], "sampled");
    assert_eq!(coverage["depth"], 2);
    let miss = coverage["miss_probability"].as_f64().unwrap();
    assert!(miss > 0.0 && miss < 1.0, "{coverage}");
    assert!(stdout.contains("200 executions missed it"), "{stdout}");
}

#[test]
fn max_preemptions_is_refused_with_random_and_when_negative() {
    let dir = TempDir::new().unwrap();
    let random = scenario("racy", "none", 2, "max_preemptions = 1", "lost-updates");
    let (code, _, stderr, _) = run(&dir, &random);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("max_preemptions"), "{stderr}");
    let negative = scenario(
        "racy",
        "none",
        2,
        "scheduler = \"dfs\"\nmax_preemptions = -1",
        "lost-updates",
    );
    let (code, _, stderr, _) = run(&dir, &negative);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("max_preemptions"), "{stderr}");
}

#[test]
fn dpor_and_dfs_exhaust_the_spinlock_counter_and_find_the_broken_flag_locks_lost_update() {
    let dir = TempDir::new().unwrap();
    // Plain DFS runs every schedule of the pauses and lock steps too: one op each is its size.
    for (scheduler, ops) in [("dpor", 2), ("dfs", 1)] {
        let extra = format!("scheduler = \"{scheduler}\"\nmax_steps = 10000");
        let spin = scenario("spin", "spin", ops, &extra, "no-lost-updates");
        let (code, stdout, stderr, report) = run(&dir, &spin);
        assert_eq!(code, 0, "{scheduler}: {stdout}{stderr}");
        let coverage = &report.unwrap()["scenarios"][0]["coverage"];
        assert_eq!(coverage["kind"], "exhaustive", "{scheduler}: {stdout}");
        let flag = scenario("flag", "flag", 1, &extra, "lost-updates");
        let (code, stdout, stderr, report) = run(&dir, &flag);
        assert_eq!(code, 0, "{scheduler}: {stdout}{stderr}");
        let scenario = &report.unwrap()["scenarios"][0];
        assert!(scenario["lost_updates"].as_u64().unwrap() > 0, "{stdout}");
    }
}

#[test]
fn the_counter_class_pauses_commute_so_dpor_exhausts_it_in_one_execution_per_lock_order() {
    let dir = TempDir::new().unwrap();
    let config = r#"
[[scenario]]
name = "counter-class"
workload = "counter-object"
engine = "shuttle"
scheduler = "dpor"
sync = "mutex"
workers = 2
increments = 3
runs = 1000000
expect = "no-lost-updates"
"#;
    let (code, stdout, stderr, report) = run(&dir, config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let scenario = &report.unwrap()["scenarios"][0];
    assert_eq!(scenario["coverage"]["kind"], "exhaustive");
    // C(6, 3) orders of the two workers' three critical sections.
    assert_eq!(scenario["coverage"]["classes"], 20);
}

#[test]
fn dpor_finds_every_small_zoo_bug_and_reports_each_fix_exhaustive() {
    let dir = TempDir::new().unwrap();
    let zoo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/zoo.toml")).unwrap();
    // Every scenario of the zoo but the lesson-size counter, under dpor: the Peterson-style
    // flag locks spin, and the lost wake-up and its fix wait on a condition variable.
    let skipped = ["counter"];
    let mut blocks = zoo.split("[[scenario]]");
    let defaults = blocks
        .next()
        .unwrap()
        .replace("runs = 2000", "runs = 1000000\nscheduler = \"dpor\"");
    let mut config = defaults;
    let mut names = Vec::new();
    for block in blocks {
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_string())
            .unwrap();
        if skipped.iter().any(|s| name.starts_with(s)) {
            continue;
        }
        config.push_str("[[scenario]]");
        config.push_str(block);
        names.push(name);
    }
    assert!(names.len() >= 13, "{names:?}");
    assert!(names.iter().any(|n| n == "flag-lock"), "{names:?}");
    // shuttle itself prints "test panicked in task" for each failing program execution, which
    // the shared helper takes for a panic of contend's: run the binary directly.
    let path = dir.path().join("zoo.toml");
    std::fs::write(&path, &config).unwrap();
    let json = dir.path().join("zoo.json");
    let output = assert_cmd::Command::cargo_bin("contend")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "run",
            path.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|_| panic!("{stdout}")),
    )
    .unwrap();
    for scenario in report["scenarios"].as_array().unwrap() {
        let name = scenario["name"].as_str().unwrap();
        if name.ends_with("-fixed") {
            assert_eq!(scenario["failing_runs"], 0, "{name}: {stdout}");
            assert_eq!(
                scenario["coverage"]["kind"], "exhaustive",
                "{name}: {stdout}"
            );
            assert!(scenario["coverage"]["classes"].as_u64().unwrap() > 0);
        } else {
            assert!(
                scenario["failing_runs"].as_u64().unwrap() > 0,
                "{name}: {stdout}"
            );
        }
    }
}
