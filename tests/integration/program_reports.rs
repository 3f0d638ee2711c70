//! What the reports say of a program: lost updates, overwrites and expected final values per
//! shared variable (text, JSON, HTML, `contend merge`), the write each lost update overwrote
//! in the minimal schedule, the program's thread names in columns and cycles, and the kind of
//! failure its schedule file records.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// The output of one `contend` command.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `contend` with `args` in `dir`.
fn contend(args: &[&str], dir: &Path) -> Ran {
    let output = Command::cargo_bin("contend")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    Ran {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn scenario<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in {report}"))
}

/// Two shared variables: `racy` updated by a read then a write (it loses updates), `safe` by
/// an atomic add (it never does). 300 runs under shuttle, in three blocks.
const TWO_VARIABLES: &str = r#"[[scenario]]
name = "two-variables"
workload = "program"
engine = "shuttle"
runs = 300
seed = 1
expect = "lost-updates"
[scenario.program]
shared = { racy = 0, safe = 10 }
threads = [{ name = "w", code = "repeat 2 { racy += 1; atomic safe += 1 }", count = 2 }]
"#;

/// The figures of one variable in a scenario's JSON: lost updates, overwrites, expected final.
fn figures(scenario: &Value, variable: &str) -> (u64, u64, i64) {
    (
        scenario["lost_updates_by_variable"][variable]
            .as_u64()
            .unwrap_or_else(|| panic!("{variable}: {scenario}")),
        scenario["overwrites_by_variable"][variable]
            .as_u64()
            .unwrap_or_else(|| panic!("{variable}: {scenario}")),
        scenario["expected_final_by_variable"][variable]
            .as_i64()
            .unwrap_or_else(|| panic!("{variable}: {scenario}")),
    )
}

#[test]
fn lost_updates_are_counted_per_variable_in_the_text_json_and_html_reports() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("two.toml"), TWO_VARIABLES).unwrap();
    let run = contend(&["run", "two.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("out/report.json"));
    let s = scenario(&report, "two-variables");
    let (racy_lost, racy_overwrites, racy_expected) = figures(s, "racy");
    let (safe_lost, safe_overwrites, safe_expected) = figures(s, "safe");
    assert!(racy_lost > 0, "{s}");
    assert_eq!(
        (safe_lost, safe_overwrites),
        (0, 0),
        "an atomic add loses nothing"
    );
    assert!(racy_overwrites >= racy_lost, "{s}");
    // Per variable, they add up to the totals the report kept before.
    assert_eq!(s["lost_updates"].as_u64(), Some(racy_lost + safe_lost));
    assert_eq!(
        s["overwrites"].as_u64(),
        Some(racy_overwrites + safe_overwrites)
    );
    // Four updates of 1 each: 4 with none lost, from 0 and from 10.
    assert_eq!((racy_expected, safe_expected), (4, 14));
    assert_eq!(
        s["expected_final"].as_i64(),
        Some(racy_expected + safe_expected)
    );
    assert!(
        run.stdout.contains(&format!(
            "lost updates by variable: racy {racy_lost}, safe 0"
        )),
        "{}",
        run.stdout
    );
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("by variable"), "the HTML has the table");
    assert!(html.contains("<code>racy</code>"), "the HTML names racy");
}

#[test]
fn a_counter_workload_has_no_per_variable_figures() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("counter.toml"),
        "[[scenario]]\nname = \"racy\"\nengine = \"shuttle\"\nruns = 50\nseed = 1\n\
         threads = [[1, 2], [1, 2]]\nexpect = \"lost-updates\"\n",
    )
    .unwrap();
    let run = contend(&["run", "counter.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("out/report.json"));
    let s = scenario(&report, "racy");
    assert!(s["lost_updates"].as_u64().unwrap() > 0, "{s}");
    for field in [
        "lost_updates_by_variable",
        "overwrites_by_variable",
        "expected_final_by_variable",
    ] {
        assert!(s.get(field).is_none(), "{field}: {s}");
    }
    assert!(!run.stdout.contains("by variable"), "{}", run.stdout);
}

#[test]
fn merge_sums_the_per_variable_counts_of_the_shards_and_refuses_ones_that_do_not_add_up() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("two.toml"), TWO_VARIABLES).unwrap();
    let whole = contend(&["run", "two.toml", "--json", "whole.json"], dir.path());
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    for shard in ["1", "2"] {
        let ran = contend(
            &[
                "run",
                "two.toml",
                "--shard",
                &format!("{shard}/2"),
                "--json",
                &format!("s{shard}.json"),
            ],
            dir.path(),
        );
        assert_eq!(ran.code, 0, "shard {shard}: {}", ran.stderr);
    }
    let merged = contend(
        &["merge", "s1.json", "s2.json", "--json", "merged.json"],
        dir.path(),
    );
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    let whole = read_json(&dir.path().join("whole.json"));
    let merged = read_json(&dir.path().join("merged.json"));
    let (whole, merged) = (
        scenario(&whole, "two-variables"),
        scenario(&merged, "two-variables"),
    );
    for field in [
        "lost_updates_by_variable",
        "overwrites_by_variable",
        "expected_final_by_variable",
        "lost_updates",
    ] {
        assert_eq!(merged[field], whole[field], "{field}");
    }
    let shard = read_json(&dir.path().join("s1.json"));
    assert!(
        scenario(&shard, "two-variables")["lost_updates_by_variable"]["racy"]
            .as_u64()
            .unwrap()
            < whole["lost_updates_by_variable"]["racy"].as_u64().unwrap(),
        "each shard counts its own runs"
    );

    // A shard whose per-variable counts do not add up to its total is refused, by its file.
    let mut edited = read_json(&dir.path().join("s2.json"));
    let racy = &mut edited["scenarios"][0]["lost_updates_by_variable"]["racy"];
    *racy = (racy.as_u64().unwrap() + 1).into();
    std::fs::write(dir.path().join("bad.json"), edited.to_string()).unwrap();
    let refused = contend(&["merge", "s1.json", "bad.json"], dir.path());
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("bad.json") && refused.stderr.contains("lost_updates_by_variable"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("panicked"), "{}", refused.stderr);

    // So is one whose two maps name different variables.
    let mut edited = read_json(&dir.path().join("s2.json"));
    let overwrites = edited["scenarios"][0]["overwrites_by_variable"]
        .as_object_mut()
        .unwrap();
    let safe = overwrites.remove("safe").unwrap();
    overwrites.insert("other".into(), safe);
    std::fs::write(dir.path().join("renamed.json"), edited.to_string()).unwrap();
    let refused = contend(&["merge", "s1.json", "renamed.json"], dir.path());
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("renamed.json") && refused.stderr.contains("other"),
        "{}",
        refused.stderr
    );
}

/// The zoo's transfer bug alone: two accounts, each thread moving money by a read then a
/// write, so that a transfer can overwrite the other's write.
const TRANSFER: &str = r#"[[scenario]]
name = "transfer"
workload = "program"
engine = "shuttle"
runs = 2000
seed = 1
expect = "invariant"
[scenario.program]
shared = { a = 100, b = 100 }
check = ["a + b == 200"]
threads = [
  { name = "a-to-b", code = "a -= 30; b += 30" },
  { name = "b-to-a", code = "b -= 50; a += 50" },
]
"#;

#[test]
fn the_transfers_minimal_schedule_names_the_write_its_lost_update_overwrote() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("transfer.toml"), TRANSFER).unwrap();
    let run = contend(&["run", "transfer.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("out/report.json"));
    let s = scenario(&report, "transfer");
    // The run that failed the invariant lost an update first: counted on its variable.
    let by_variable = s["lost_updates_by_variable"].as_object().unwrap();
    assert_eq!(by_variable.keys().collect::<Vec<_>>(), ["a", "b"], "{s}");
    let lost: u64 = by_variable.values().map(|v| v.as_u64().unwrap()).sum();
    assert!(lost >= 1, "{s}");
    assert_eq!(s["lost_updates"].as_u64(), Some(lost));

    let schedule = &s["minimal_schedule"];
    let accesses = schedule["accesses"].as_array().unwrap();
    let (index, overwriting) = accesses
        .iter()
        .enumerate()
        .find(|(_, access)| access.get("overwrote").is_some())
        .unwrap_or_else(|| panic!("no access names what it overwrote: {schedule}"));
    let victim = overwriting["overwrote"]["access"]
        .as_u64()
        .unwrap_or_else(|| panic!("the overwritten write is an access: {overwriting}"))
        as usize;
    assert!(victim < index);
    let discarded = &accesses[victim];
    assert_eq!(discarded["write"], true, "{discarded}");
    assert_ne!(discarded["thread"], overwriting["thread"]);
    // The same variable, and the value the table says was overwritten.
    let text = overwriting["text"].as_str().unwrap();
    let variable = text.split_whitespace().nth(1).unwrap();
    let discarded_text = discarded["text"].as_str().unwrap();
    assert!(
        discarded_text.starts_with(&format!("write {variable} <- ")),
        "{discarded_text} / {text}"
    );
    let value = discarded_text.split_whitespace().nth(3).unwrap();
    assert!(text.contains(&format!("'s {value})")), "{text}");
    // The HTML draws the arrow from the write to the one it discarded.
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("class=\"discards\""), "no arrow in the HTML");
}

#[test]
fn a_programs_threads_are_called_by_their_names_in_columns_cycles_and_messages() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("names.toml"),
        r#"[[scenario]]
name = "lock-order"
workload = "program"
engine = "shuttle"
runs = 500
seed = 1
expect = "deadlock"
[scenario.program]
locks = ["left", "right"]
threads = [
  { name = "alice", code = "lock left; lock right; unlock right; unlock left" },
  { name = "bob", code = "lock right; lock left; unlock left; unlock right", count = 2 },
]
"#,
    )
    .unwrap();
    let run = contend(&["run", "names.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("out/report.json"));
    let s = scenario(&report, "lock-order");
    let schedule = &s["minimal_schedule"];
    let names: Vec<&str> = schedule["thread_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(names[0], "main");
    assert!(names.contains(&"alice"), "{names:?}");
    // The shrunk variant may run one copy of bob, then called `bob`.
    let program_threads = ["alice", "bob", "bob-1", "bob-2"];
    assert!(
        names[1..].iter().all(|name| program_threads.contains(name)),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|name| name.starts_with("Thread-")),
        "{names:?}"
    );
    // The cycle, in JSON and in words, is between the program's threads.
    let cycle = schedule["cycle"].as_array().unwrap();
    assert_eq!(cycle.len(), 2, "{cycle:?}");
    for edge in cycle {
        for who in [&edge["thread"], &edge["held_by"]] {
            let who = who.as_str().unwrap();
            assert!(program_threads.contains(&who), "{edge}");
        }
    }
    let failure = s["failures"][0].as_str().unwrap();
    assert!(
        failure.contains("alice waits for") || failure.contains("held by alice"),
        "{failure}"
    );
    assert!(!failure.contains("Thread-"), "{failure}");
    // The table's header names the columns.
    let header = run
        .stdout
        .lines()
        .find(|line| line.trim_start().starts_with("step"))
        .expect("a table");
    assert!(header.contains("alice"), "{header}");
    assert!(!header.contains("Thread-"), "{header}");
    assert!(run.stdout.contains("cycle of waits: "), "{}", run.stdout);
}

#[test]
fn a_counters_threads_keep_their_numbered_names() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("counter.toml"),
        "[[scenario]]\nname = \"racy\"\nengine = \"shuttle\"\nruns = 50\nseed = 1\n\
         threads = [[1, 2], [1, 2]]\nexpect = \"lost-updates\"\n",
    )
    .unwrap();
    let run = contend(&["run", "counter.toml", "--json", "r.json"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    let names = &scenario(&report, "racy")["minimal_schedule"]["thread_names"];
    assert_eq!(names[0], "Thread-1", "{names}");
}

#[test]
fn a_programs_schedule_file_records_the_kind_of_its_failure_regression() {
    // It said `kind = "failed"` for every failure but a lost update.
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("transfer.toml"), TRANSFER).unwrap();
    let run = contend(&["run", "transfer.toml", "--out", "out"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(dir.path().join("out/transfer.schedule.toml")).unwrap();
    let file: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        file["failure"]["kind"].as_str(),
        Some("invariant"),
        "{text}"
    );
    let replayed = contend(&["replay", "out/transfer.schedule.toml"], dir.path());
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
    assert!(
        replayed.stdout.contains("the recorded failure reproduces"),
        "{}",
        replayed.stdout
    );
}
