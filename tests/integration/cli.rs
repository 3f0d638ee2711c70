//! The `contend` binary as a user runs it: exit codes, messages, reports, traces.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::common;

use assert_cmd::Command;
use common::contend;

fn write_config(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const RACY: &str = r#"
[[scenario]]
name = "racy"
engine = "shuttle"
sync = "none"
initial = 10
threads = [{ delta = 1, ops = 50 }, { delta = -1, ops = 51 }]
runs = 200
seed = 3
expect = "lost-updates"

[[scenario]]
name = "locked"
engine = "threads"
sync = "mutex"
initial = 10
threads = [{ delta = 1, ops = 1000 }, { delta = -1, ops = 1001 }]
runs = 20
seed = 3
expect = "no-lost-updates"
"#;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_passing_run_exits_0_and_writes_the_json_report() {
    let dir = TempDir::new().unwrap();
    let config = write_config(&dir, "racy.toml", RACY);
    let run = contend(
        &[
            "run",
            config.to_str().unwrap(),
            "--json",
            "report.json",
            "--out",
            "artifacts",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("racy"));
    assert!(
        run.stdout.contains("PASS: 2 scenarios, 2 passed, 0 failed"),
        "{}",
        run.stdout
    );

    let report = read_json(&dir.path().join("report.json"));
    assert_eq!(report["verdict"], "pass");
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    let racy = &scenarios[0];
    for field in [
        "name",
        "workload",
        "engine",
        "sync",
        "expect",
        "verdict",
        "runs",
        "failing_runs",
        "lost_updates",
        "expected_final",
        "outcomes",
        "failure_rate",
        "seed",
        "elapsed_seconds",
    ] {
        assert!(racy.get(field).is_some(), "the report lacks `{field}`");
    }
    assert_eq!(racy["name"], "racy");
    assert_eq!(racy["workload"], "counter");
    assert_eq!(racy["engine"], "shuttle");
    assert_eq!(racy["sync"], "none");
    assert_eq!(racy["expect"], "lost-updates");
    assert_eq!(racy["runs"], 200);
    assert_eq!(racy["expected_final"], 9);
    assert!(racy["lost_updates"].as_u64().unwrap() > 0);
    let counted: u64 = racy["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert!(o["final"].is_i64());
            o["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(counted, 200);
    let rate = &racy["failure_rate"];
    assert!(rate["ci95_low"].as_f64().unwrap() <= rate["rate"].as_f64().unwrap());
    assert!(rate["rate"].as_f64().unwrap() <= rate["ci95_high"].as_f64().unwrap());

    let locked = &scenarios[1];
    assert_eq!(locked["lost_updates"], 0);
    assert_eq!(locked["failing_runs"], 0);
    assert_eq!(
        locked["outcomes"],
        serde_json::json!([{ "final": 9, "count": 20 }])
    );

    // The artifacts folder holds the same report.
    assert_eq!(read_json(&dir.path().join("artifacts/report.json")), report);
}

#[test]
fn an_unmet_expectation_exits_1() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "wrong.toml",
        r#"
[[scenario]]
name = "racy-but-expected-clean"
engine = "shuttle"
sync = "none"
threads = [{ delta = 1, ops = 20 }, { delta = 1, ops = 20 }]
runs = 50
seed = 1
expect = "no-lost-updates"
"#,
    );
    let run = contend(
        &["run", config.to_str().unwrap(), "--json", "r.json"],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("FAIL"), "{}", run.stdout);
    assert_eq!(read_json(&dir.path().join("r.json"))["verdict"], "fail");
}

#[test]
fn the_trace_holds_one_event_per_overwrite() {
    let dir = TempDir::new().unwrap();
    let config = write_config(&dir, "racy.toml", RACY);
    let run = contend(
        &[
            "run",
            config.to_str().unwrap(),
            "--trace",
            "trace.jsonl",
            "--json",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    let overwrites = report["scenarios"][0]["overwrites"].as_u64().unwrap();
    assert!(overwrites > 0);
    let trace = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
    let events: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for event in &events {
        let target = event["target"].as_str().unwrap();
        assert!(
            target.starts_with("contend"),
            "a foreign event in the trace: {event}"
        );
    }
    let lost: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "contend::lost_update")
        .collect();
    assert_eq!(lost.len() as u64, overwrites);
    for event in &lost {
        assert_eq!(event["scenario"], "racy");
        for field in [
            "run",
            "thread",
            "op",
            "overwritten_thread",
            "overwritten_op",
            "read_value",
            "written_value",
            "overwritten_value",
            "restored",
        ] {
            assert!(
                event.get(field).is_some(),
                "an event lacks `{field}`: {event}"
            );
        }
        // The write's value is its read plus its thread's delta.
        let delta = if event["thread"] == 0 { 1 } else { -1 };
        assert_eq!(
            event["written_value"].as_i64().unwrap(),
            event["read_value"].as_i64().unwrap() + delta
        );
    }
    // Some overwritten update is later restored, and the events say so.
    assert!(lost.iter().any(|e| e["restored"] == true));
    assert!(lost.iter().any(|e| e["restored"] == false));
    // No temporary file is left beside the trace.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".contend"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn list_names_every_mode_engine_and_scheduler() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["list"], dir.path());
    assert_eq!(run.code, 0);
    for word in [
        "counter",
        "none",
        "mutex",
        "atomic",
        "spin",
        "flag",
        "threads",
        "shuttle",
        "random",
        "pct",
        "dfs",
        "processes",
        "shared-memory",
        "manager",
        // Every expect value, the failure kinds' too.
        "lost-updates",
        "no-lost-updates",
        "no-failures",
        "failure",
        "lost-update ",
        "invariant",
        "deadlock",
        "panic",
        "livelock",
    ] {
        assert!(
            run.stdout.lines().any(|l| l.trim_start().starts_with(word)),
            "`contend list` does not explain `{word}`:\n{}",
            run.stdout
        );
    }
}

/// The seed config as written: the lesson's numbers, scenario by scenario. (Running it whole is
/// the main job, `cargo run --release -- run configs/seed.toml`; the test below runs each of its
/// scenarios at a smaller size.)
fn seed_scenarios() -> Vec<toml::Table> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("configs/seed.toml")).unwrap();
    let mut config: toml::Table = text.parse().unwrap();
    match config.remove("scenario") {
        Some(toml::Value::Array(scenarios)) => scenarios
            .into_iter()
            .map(|s| s.as_table().unwrap().clone())
            .collect(),
        other => panic!("configs/seed.toml has no [[scenario]] array: {other:?}"),
    }
}

/// A scenario's `(delta, ops)` per thread.
fn threads_of(scenario: &toml::Table) -> Vec<(i64, i64)> {
    scenario["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["delta"].as_integer().unwrap(),
                t["ops"].as_integer().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_seed_config_keeps_the_lessons_numbers() {
    let scenarios = seed_scenarios();
    let by_name = |name: &str| {
        scenarios
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("configs/seed.toml lost scenario `{name}`"))
    };
    // The lesson's threads and coroutines: start 10, +1 x 1,000,000, -1 x 1,000,001.
    for name in [
        "threads-no-lock",
        "threads-lock",
        "shuttle-no-lock",
        "shuttle-lock",
        "coroutines",
        "coroutines-await-inside",
    ] {
        let scenario = by_name(name);
        assert_eq!(scenario["initial"].as_integer(), Some(10), "{name}");
        assert_eq!(
            threads_of(scenario),
            [(1, 1_000_000), (-1, 1_000_001)],
            "{name}"
        );
    }
    assert_eq!(by_name("threads-no-lock")["jitter"].as_bool(), Some(false));
    // The lesson's processes: start 10, +1 x 10,000, -1 x 10,001, two workers.
    for name in [
        "processes-lock",
        "processes-no-lock",
        "manager-lock",
        "manager-no-lock",
    ] {
        let scenario = by_name(name);
        assert_eq!(scenario["engine"].as_str(), Some("processes"), "{name}");
        assert_eq!(scenario["initial"].as_integer(), Some(10), "{name}");
        assert_eq!(threads_of(scenario), [(1, 10_000), (-1, 10_001)], "{name}");
    }
    for name in ["manager-lock", "manager-no-lock"] {
        assert_eq!(by_name(name)["storage"].as_str(), Some("manager"), "{name}");
    }
}

/// Each scenario of the seed config, its thread counts cut tenfold where they are the lesson's
/// millions (+1 x 100,000, -1 x 100,001 still ends at 9) and its runs capped at 100: each still
/// makes its point, and the test runs in a fraction of the main job's time. A scenario without
/// jitter keeps the lesson's size: at a tenth of it, plain threads lose no update in some runs
/// of 10, which is the lesson's point about races that hide.
#[test]
fn every_seed_scenario_passes_at_a_smaller_size() {
    let mut scenarios = seed_scenarios();
    for scenario in &mut scenarios {
        let runs = scenario["runs"].as_integer().unwrap();
        scenario.insert("runs".to_string(), toml::Value::Integer(runs.min(100)));
        let without_jitter = scenario.get("jitter").and_then(toml::Value::as_bool) == Some(false);
        if !scenario.contains_key("threads") || without_jitter {
            // counter-object: the lesson's 2 workers x 2 increments are small already.
            continue;
        }
        let threads = threads_of(scenario)
            .into_iter()
            .map(|(delta, ops)| {
                let ops = if ops >= 1_000_000 {
                    ops / 10 + ops % 10
                } else {
                    ops
                };
                toml::Value::Table(toml::Table::from_iter([
                    ("delta".to_string(), toml::Value::Integer(delta)),
                    ("ops".to_string(), toml::Value::Integer(ops)),
                ]))
            })
            .collect();
        scenario.insert("threads".to_string(), toml::Value::Array(threads));
    }
    let expected_finals: Vec<(String, i64)> = scenarios
        .iter()
        .map(|scenario| {
            let expected = if scenario.contains_key("threads") {
                scenario["initial"].as_integer().unwrap()
                    + threads_of(scenario)
                        .iter()
                        .map(|(delta, ops)| delta * ops)
                        .sum::<i64>()
            } else {
                scenario["workers"].as_integer().unwrap()
                    * scenario["increments"].as_integer().unwrap()
            };
            (scenario["name"].as_str().unwrap().to_string(), expected)
        })
        .collect();
    let smaller = toml::Table::from_iter([(
        "scenario".to_string(),
        toml::Value::Array(scenarios.into_iter().map(toml::Value::Table).collect()),
    )]);
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "seed-smaller.toml",
        &toml::to_string(&smaller).unwrap(),
    );
    let run = contend(
        &["run", config.to_str().unwrap(), "-q", "--json", "seed.json"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("seed.json"));
    let reported = report["scenarios"].as_array().unwrap();
    assert_eq!(reported.len(), expected_finals.len(), "every scenario ran");
    for (scenario, (name, expected_final)) in reported.iter().zip(&expected_finals) {
        assert_eq!(scenario["name"], name.as_str());
        assert_eq!(scenario["verdict"], "pass", "{name}: {scenario}");
        assert_eq!(scenario["expected_final"], *expected_final, "{name}");
        let lost = scenario["lost_updates"].as_u64().unwrap();
        match scenario["expect"].as_str() {
            Some("lost-updates") => assert!(lost > 0, "{name} shows lost updates"),
            Some("no-lost-updates") => assert_eq!(lost, 0, "{name}"),
            other => panic!("{name}: unexpected expectation {other:?}"),
        }
    }
    let by_name = |name: &str| reported.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(by_name("threads-lock")["outcomes"][0]["final"], 9);
    for name in ["processes-lock", "manager-lock"] {
        assert_eq!(by_name(name)["processes"]["workers"], 2, "{name}");
        assert_eq!(by_name(name)["outcomes"][0]["final"], 9, "{name}");
    }
    assert_eq!(by_name("manager-lock")["processes"]["storage"], "manager");
}

#[test]
fn processes_keys_are_checked() {
    let head = "[[scenario]]\nname = \"a\"\nengine = \"processes\"\nexpect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 5 }]\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "storage = \"disk\"\n",
            &[
                "6:11",
                "key `storage`",
                "unknown storage `disk`",
                "shared-memory, manager",
            ],
        ),
        (
            "timeout = \"soon\"\n",
            &[
                "6:11",
                "key `timeout`",
                "`soon` is not a duration",
                "\"30s\"",
            ],
        ),
        ("timeout = \"0s\"\n", &["key `timeout`", "longer than zero"]),
        (
            "timeout = \"18446744073709551615s\"\n",
            &["key `timeout`", "at most 30 days"],
        ),
        (
            "storage = \"manager\"\nsync = \"spin\"\n",
            &["so sync = \"spin\" has nothing to work on; use none or mutex"],
        ),
        (
            "storage = \"manager\"\nsync = \"atomic\"\n",
            &[
                "7:8",
                "key `sync`",
                "get and written with set",
                "none or mutex",
            ],
        ),
        (
            "barrier = false\n",
            &["key `barrier`", "the threads engine only"],
        ),
    ];
    for (extra, expected) in cases {
        assert_rejected(&format!("{head}{extra}"), expected);
    }
    assert_rejected(
        "[[scenario]]\nname = \"a\"\nengine = \"processes\"\nexpect = \"lost-updates\"\nworkload = \"counter-object\"\n",
        &["key `engine`", "threads and shuttle engines"],
    );
    assert_rejected(
        &format!("{VALID_HEAD}threads = [{{ delta = 1, ops = 5 }}]\ntimeout = \"5s\"\n"),
        &["key `timeout`", "the processes engine only"],
    );
}

/// Bad input: exit 2 and one clear message naming the file, the line and the key.
fn assert_rejected(config_text: &str, expected: &[&str]) {
    let dir = TempDir::new().unwrap();
    let config = write_config(&dir, "bad.toml", config_text);
    let run = contend(&["run", config.to_str().unwrap()], dir.path());
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "nothing is run on bad input:\n{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("bad.toml"),
        "the message names no file: {}",
        run.stderr
    );
    for part in expected {
        assert!(
            run.stderr.contains(part),
            "`{part}` missing from: {}",
            run.stderr
        );
    }
    assert!(!dir.path().join("contend-out/report.json").exists());
}

const VALID_HEAD: &str =
    "[[scenario]]\nname = \"a\"\nengine = \"threads\"\nexpect = \"lost-updates\"\n";

#[test]
fn a_missing_config_is_an_input_error() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["run", "no-such.toml"], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no-such.toml") && run.stderr.contains("cannot read"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    assert_rejected(
        &format!("{VALID_HEAD}threads = [{{ delta = 1, ops = 5 }}\n"),
        &["bad.toml:5:"],
    );
}

#[test]
fn an_unknown_key_is_named() {
    assert_rejected(
        &format!("{VALID_HEAD}threads = [{{ delta = 1, ops = 5 }}]\nrunz = 5\n"),
        &["bad.toml:6:1", "key `runz`", "unknown field"],
    );
}

#[test]
fn a_wrong_type_is_named() {
    assert_rejected(
        &format!("{VALID_HEAD}threads = [{{ delta = 1, ops = 5 }}]\nruns = \"many\"\n"),
        &["bad.toml:6:8", "key `runs`"],
    );
}

#[test]
fn negative_ops_are_rejected() {
    assert_rejected(
        &format!("{VALID_HEAD}threads = [{{ delta = 1, ops = -5 }}]\n"),
        &[
            "bad.toml:5:31",
            "scenario `a`, key `ops`",
            "at least 1, got -5",
        ],
    );
}

#[test]
fn zero_threads_are_rejected() {
    assert_rejected(
        &format!("{VALID_HEAD}threads = []\n"),
        &["bad.toml:5:11", "key `threads`", "at least one thread"],
    );
}

#[test]
fn an_unknown_engine_is_rejected() {
    assert_rejected(
        "[[scenario]]\nname = \"a\"\nengine = \"fibers\"\nexpect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 5 }]\n",
        &[
            "bad.toml:3:10",
            "key `engine`",
            "unknown engine `fibers`",
            "threads, shuttle",
        ],
    );
}

#[test]
fn duplicate_scenario_names_are_rejected() {
    let one = format!("{VALID_HEAD}threads = [{{ delta = 1, ops = 5 }}]\n");
    assert_rejected(
        &format!("{one}\n{one}"),
        &["bad.toml:8:8", "duplicate scenario name `a`", "line 2"],
    );
}

#[test]
fn other_invalid_values_are_rejected() {
    let threads = "threads = [{ delta = 1, ops = 5 }]\n";
    let cases: &[(&str, &[&str])] = &[
        ("runs = 0\n", &["key `runs`", "at least 1"]),
        ("seed = -1\n", &["key `seed`"]),
        (
            "sync = \"lockless\"\n",
            &["key `sync`", "unknown sync mode"],
        ),
        (
            "scheduler = \"pct\"\n",
            &["key `scheduler`", "engines that run under shuttle only"],
        ),
        (
            "jitter = { yield_probability = 1.5 }\n",
            &["6:12", "key `jitter.yield_probability`", "between 0 and 1"],
        ),
        (
            "jitter = { yield_probability = 0.6, spin_probability = 0.6 }\n",
            &["key `jitter`", "at most 1"],
        ),
        (
            "jitter = { yeld_probability = 0.1 }\n",
            &["6:12", "key `jitter.yeld_probability`", "unknown field"],
        ),
        (
            "jitter = { yield_probability = 1.0 }\n",
            &["at most 1", "spin_probability = 0.1 by default"],
        ),
        (
            "[scenario.jitter]\nmax_spin = -1\n",
            &["7:1", "key `jitter.max_spin`", "got -1"],
        ),
        (
            "runs = \"ten\"\n",
            &["6:8", "scenario `a`, key `runs`", "expected an integer"],
        ),
        (
            "initial = 9223372036854775807\n",
            &["key `threads`", "does not fit in 64 bits"],
        ),
        ("jitter = 3\n", &["key `jitter`", "true, false or a table"]),
    ];
    for (line, expected) in cases {
        assert_rejected(&format!("{VALID_HEAD}{threads}{line}"), expected);
    }
    assert_rejected(
        "[[scenario]]\nname = \"a\"\nengine = \"threads\"\nexpect = \"maybe\"\nthreads = [{ delta = 1, ops = 5 }]\n",
        &[
            "bad.toml:4:10",
            "key `expect`",
            "lost-updates, no-lost-updates",
        ],
    );
    assert_rejected("title = \"no scenarios\"\n", &["unknown field `title`"]);
    assert_rejected(
        "[scenario]\nname = \"a\"\n",
        &["key `scenario`", "write each scenario as [[scenario]]"],
    );
    assert_rejected(
        "[[scenario]]\nname = \"a\"\nengine = \"threads\"\nthreads = [{ delta = 1, ops = 5 }]\n",
        &["bad.toml:1:1", "key `expect`", "missing field"],
    );
    assert_rejected("", &["no [[scenario]] table"]);
}

#[test]
fn bad_command_lines_exit_2() {
    let dir = TempDir::new().unwrap();
    for args in [
        &["run"][..],
        &["frobnicate"][..],
        &["run", "x.toml", "--no-such-flag"][..],
    ] {
        let run = contend(args, dir.path());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn a_livelock_under_shuttle_is_reported_without_shuttle_noise() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "livelock.toml",
        r#"
[[scenario]]
name = "spin-past-its-budget"
engine = "shuttle"
sync = "spin"
threads = [{ delta = 1, ops = 100 }, { delta = -1, ops = 100 }]
runs = 10
seed = 1
max_steps = 50
expect = "no-lost-updates"
"#,
    );
    let run = contend(&["run", config.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("the execution ran past max_steps = 50 steps without finishing: a livelock"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.is_empty(),
        "shuttle's own output reached the user:\n{}",
        run.stderr
    );
}

#[test]
fn fail_fast_stops_early_and_quietly() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "racy.toml",
        r#"
[[scenario]]
name = "racy"
engine = "shuttle"
threads = [{ delta = 1, ops = 100 }, { delta = -1, ops = 100 }]
runs = 1000
seed = 1
expect = "no-lost-updates"
"#,
    );
    let run = contend(
        &[
            "run",
            config.to_str().unwrap(),
            "--fail-fast",
            "--json",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    assert_eq!(report["scenarios"][0]["runs"], 1);
    assert_eq!(report["scenarios"][0]["runs_requested"], 1000);
}

#[test]
fn output_paths_that_cannot_be_written_are_rejected_before_the_run() {
    let dir = TempDir::new().unwrap();
    let config = write_config(&dir, "racy.toml", RACY);
    let config = config.to_str().unwrap();
    std::fs::create_dir(dir.path().join("a-folder")).unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--json", "a-folder"], "--json must name a file"),
        (&["--trace", "a-folder"], "--trace must name a file"),
        (
            &["--json", "no-such-folder/r.json"],
            "the folder of --json does not exist",
        ),
        (
            &["--json", "same.json", "--trace", "same.json"],
            "--json and --trace name the same file",
        ),
        (&["--out", "a-file"], "--out must name a folder"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", config];
        args.extend_from_slice(flags);
        let run = contend(&args, dir.path());
        assert_eq!(run.code, 2, "{flags:?}");
        assert!(
            run.stdout.is_empty(),
            "{flags:?} ran anyway:\n{}",
            run.stdout
        );
        assert!(run.stderr.contains(message), "{flags:?}: {}", run.stderr);
    }
}

#[test]
fn scenario_names_must_be_unique_across_configs() {
    let dir = TempDir::new().unwrap();
    let first = write_config(&dir, "first.toml", RACY);
    let second = write_config(&dir, "second.toml", RACY);
    let run = contend(
        &["run", first.to_str().unwrap(), second.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("second.toml: scenario `racy` is also defined in"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("first.toml"), "{}", run.stderr);

    let run = contend(
        &["run", first.to_str().unwrap(), first.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("the config is given twice"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_exhausted_dfs_search_says_so() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "dfs.toml",
        r#"
[[scenario]]
name = "dfs"
engine = "shuttle"
scheduler = "dfs"
threads = [{ delta = 1, ops = 1 }, { delta = 1, ops = 1 }]
runs = 1000
seed = 0
expect = "lost-updates"
"#,
    );
    let run = contend(
        &["run", config.to_str().unwrap(), "--json", "r.json"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("dfs explored all"), "{}", run.stdout);
    assert!(run.stdout.contains("(all schedules)"), "{}", run.stdout);
    let scenario = &read_json(&dir.path().join("r.json"))["scenarios"][0];
    assert_eq!(scenario["exhaustive"], true);
    assert!(scenario["runs"].as_u64().unwrap() < 1000);
    assert_eq!(
        scenario["failure_rate"]["ci95_low"],
        scenario["failure_rate"]["rate"]
    );
}

#[test]
fn shuttles_seed_variable_is_refused_rather_than_obeyed() {
    let dir = TempDir::new().unwrap();
    let config = write_config(&dir, "racy.toml", RACY);
    let output = Command::cargo_bin("contend")
        .unwrap()
        .current_dir(dir.path())
        .env("SHUTTLE_RANDOM_SEED", "not-a-number")
        .args(["run", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("SHUTTLE_RANDOM_SEED is set"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn async_keys_are_checked() {
    let head = "[[scenario]]\nname = \"a\"\nexpect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 5 }]\n";
    assert_rejected(
        &format!("{head}engine = \"threads\"\nexecutor = \"tokio\"\n"),
        &["key `executor`", "applies to the async engine only"],
    );
    assert_rejected(
        &format!("{head}engine = \"shuttle\"\nawait_in_critical_section = true\n"),
        &["key `await_in_critical_section`", "async engine only"],
    );
    assert_rejected(
        &format!("{head}engine = \"async\"\nexecutor = \"glommio\"\n"),
        &[
            "key `executor`",
            "unknown executor `glommio`",
            "tokio, shuttle",
        ],
    );
    assert_rejected(
        &format!("{head}engine = \"async\"\nsync = \"spin\"\n"),
        &["key `sync`", "never lets the holder run"],
    );
    assert_rejected(
        &format!("{head}engine = \"async\"\nscheduler = \"pct\"\n"),
        &["key `scheduler`", "executor = \"shuttle\""],
    );
}

#[test]
fn counter_object_keys_are_checked() {
    let head = "[[scenario]]\nname = \"a\"\nexpect = \"lost-updates\"\n";
    assert_rejected(
        &format!("{head}engine = \"threads\"\nworkers = 2\nthreads = [{{ delta = 1, ops = 5 }}]\n"),
        &["key `workers`", "counter-object only"],
    );
    assert_rejected(
        &format!(
            "{head}engine = \"threads\"\nworkload = \"counter-object\"\nthreads = [{{ delta = 1, ops = 5 }}]\n"
        ),
        &["key `threads`", "`workers` and `increments`"],
    );
    assert_rejected(
        &format!("{head}engine = \"threads\"\nworkload = \"counter-object\"\nsync = \"spin\"\n"),
        &["key `sync`", "\"mutex\" (the lesson's lock) or \"none\""],
    );
    assert_rejected(
        &format!("{head}engine = \"async\"\nworkload = \"counter-object\"\n"),
        &["key `engine`", "threads and shuttle engines"],
    );
    assert_rejected(
        &format!("{head}engine = \"threads\"\nworkload = \"counter-object\"\nmax_pause_ms = -1\n"),
        &["key `max_pause_ms`", "between 0 and"],
    );
    assert_rejected(
        &format!("{head}engine = \"threads\"\n"),
        &["key `threads`", "missing field"],
    );
}

#[test]
fn verbose_prints_the_counter_class_log_lines_as_the_lesson_did() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "counter.toml",
        r#"
[[scenario]]
name = "counter-class"
workload = "counter-object"
engine = "threads"
workers = 2
increments = 2
max_pause_ms = 5
runs = 1
seed = 1
expect = "no-lost-updates"
"#,
    );
    let run = contend(&["run", config.to_str().unwrap(), "-v"], dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Each line says the scenario and run it comes from, then the thread, as the lesson did.
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(") "))
        .map(|l| {
            l.strip_prefix("[counter-class run 0] ")
                .unwrap_or_else(|| panic!("no scenario and run before {l}"))
        })
        .collect();
    for worker in ["Thread-1", "Thread-2"] {
        let prefix = format!("({worker:<10}) ");
        let said: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        assert_eq!(said.len(), 7, "{worker}: {said:?}");
        for increment in 0..2 {
            let sleeping = said[increment * 3];
            assert!(sleeping.starts_with("Sleeping 0.0"), "{sleeping}");
            assert_eq!(said[increment * 3 + 1], "Waiting for lock");
            assert_eq!(said[increment * 3 + 2], "Acquired lock");
        }
        assert_eq!(said[6], "Done");
    }
    // The main thread's lines, in the lesson's order: it waits while the workers run, then
    // prints the count.
    let main_thread: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("(MainThread) "))
        .collect();
    assert_eq!(
        main_thread,
        ["Waiting for worker threads", "Counter: 4"],
        "{}",
        run.stderr
    );
    assert_eq!(lines.last(), Some(&"(MainThread) Counter: 4"));
    assert_eq!(lines.len(), 16, "{}", run.stderr);

    // Without -v the run is quiet.
    let quiet = contend(&["run", config.to_str().unwrap()], dir.path());
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn an_await_cannot_go_inside_an_atomic_update() {
    assert_rejected(
        "[[scenario]]\nname = \"a\"\nengine = \"async\"\nsync = \"atomic\"\nawait_in_critical_section = true\nexpect = \"lost-updates\"\nthreads = [{ delta = 1, ops = 5 }]\n",
        &[
            "bad.toml:5:29",
            "key `await_in_critical_section`",
            "one atomic step",
        ],
    );
}

#[test]
fn the_trace_of_a_locked_async_run_under_shuttle_holds_no_shuttle_internals() {
    let dir = TempDir::new().unwrap();
    let config = write_config(
        &dir,
        "locked.toml",
        r#"
[[scenario]]
name = "locked-await"
engine = "async"
executor = "shuttle"
sync = "mutex"
await_in_critical_section = true
threads = [{ delta = 1, ops = 10 }, { delta = -1, ops = 10 }]
runs = 5
seed = 1
expect = "lost-updates"
"#,
    );
    let run = contend(
        &[
            "run",
            config.to_str().unwrap(),
            "--trace",
            "t.jsonl",
            "--fail-fast",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let trace = std::fs::read_to_string(dir.path().join("t.jsonl")).unwrap();
    assert!(!trace.contains("shuttle_engine"), "{trace}");
}
