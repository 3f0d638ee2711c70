//! `workload = "program"`: each statement's semantics under shuttle and on real threads, the
//! counter written as a program against the built-in counter, shrinking, deadlocks with their
//! cycle, the interleaving naming statements and lines, and the zoo.

use std::path::Path;

use assert_cmd::Command;
use contend::workload::program::fit::fit_to_schedule;
use contend::workload::program::plugin::smaller;
use contend::workload::program::{ProgramParams, ThreadParams};
use serde_json::Value;
use tempfile::TempDir;

/// Runs `contend run` on config `text` (written to a temporary folder), with `args`; returns
/// the exit code and the JSON report.
fn run(text: &str, args: &[&str]) -> (i32, Value, String) {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("program.toml");
    std::fs::write(&config, text).unwrap();
    run_file(&config, dir.path(), args)
}

fn run_file(config: &Path, dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let json = dir.join("report.json");
    let output = Command::cargo_bin("contend")
        .unwrap()
        .arg("run")
        .arg(config)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--json")
        .arg(&json)
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let report = std::fs::read_to_string(&json)
        .unwrap_or_else(|_| panic!("no report; stdout: {stdout}\nstderr: {stderr}"));
    (
        output.status.code().unwrap(),
        serde_json::from_str(&report).unwrap(),
        stdout,
    )
}

/// A scenario of `program` (the lines of a `[scenario.program]` table) on `engine`.
fn scenario(name: &str, engine: &str, expect: &str, runs: u64, program: &str) -> String {
    format!(
        "[[scenario]]\nname = \"{name}\"\nworkload = \"program\"\nengine = \"{engine}\"\n\
         runs = {runs}\nseed = 1\nexpect = \"{expect}\"\n[scenario.program]\n{program}\n"
    )
}

/// Each statement and expression, run by one thread with checks that hold only if each
/// means what docs/programs.md says; on both engines.
const SEMANTICS: &[(&str, &str)] = &[
    (
        "arithmetic",
        r#"shared = { x = 0, y = 0, z = 0 }
check = ["x == 19", "y == -1", "z == -3"]
threads = [{ name = "t", code = "x = 7 * 3 - 4 / 2 % 3; y = -7 % 3; z = (1 - 4) * (2 - 1)" }]"#,
    ),
    (
        "add-and-subtract",
        r#"shared = { x = 10 }
check = ["x == 13"]
threads = [{ name = "t", code = "x += 5\nx -= 2" }]"#,
    ),
    (
        "locals",
        r#"shared = { x = 3 }
check = ["x == 8"]
threads = [{ name = "t", code = "let t = x + 1; t += 3; t -= 3; x = t * 2" }]"#,
    ),
    (
        "thread-index",
        r#"shared = { sum = 0 }
check = ["sum == 1 + 2 + 3"]
threads = [{ name = "t", count = 3, code = "atomic sum += thread + 1" }]"#,
    ),
    (
        "if-else",
        r#"shared = { x = 5, a = 0, b = 0, c = 0 }
check = ["a == 1 && b == 2 && c == 3"]
threads = [{ name = "t", code = """
if x > 3 { a = 1 } else { a = 9 }
if x < 3 { b = 9 }
else { b = 2 }
if x == 1 { c = 9 } else if x == 5 { c = 3 } else { c = 8 }
""" }]"#,
    ),
    (
        "while-and-repeat",
        r#"shared = { n = 0, m = 0 }
check = ["n == 10", "m == 12"]
threads = [{ name = "t", code = "while n < 10 { n += 1 }; repeat 3 { repeat 4 { m += 1 } }; repeat 0 { m = 99 }" }]"#,
    ),
    (
        "logic",
        r#"shared = { x = 1, ok = 0 }
check = ["ok == 1"]
threads = [{ name = "t", code = "if !(x == 2) && (x >= 1 || x / (x - 1) == 0) && x != 0 && x <= 1 && true && !false { ok = 1 }" }]"#,
    ),
    (
        "assert-and-yield",
        r#"shared = { x = 2 }
threads = [{ name = "t", code = "yield; assert x == 2; x = 3; yield; assert x * 2 == 6" }]"#,
    ),
    (
        "atomic",
        r#"shared = { x = 0 }
check = ["x == 150"]
threads = [{ name = "t", count = 3, code = "repeat 60 { atomic x += 1 }; atomic x -= 10" }]"#,
    ),
    (
        "locks",
        r#"shared = { x = 0 }
locks = ["m"]
check = ["x == 40"]
threads = [{ name = "t", count = 2, code = "repeat 20 { lock m; x += 1; unlock m }" }]"#,
    ),
    (
        "wait-and-notify",
        r#"shared = { items = 0, taken = 0 }
locks = ["m"]
conds = ["c"]
check = ["items == 0", "taken == 3"]
threads = [
  { name = "producer", code = "repeat 3 { lock m; items += 1; notify c; unlock m }" },
  { name = "consumer", code = "repeat 3 { lock m; while items == 0 { wait c m }; items -= 1; taken += 1; unlock m }" },
]"#,
    ),
    (
        "notify-all",
        r#"shared = { go = 0, woken = 0 }
locks = ["m"]
conds = ["c"]
check = ["woken == 3"]
threads = [
  { name = "waiter", count = 3, code = "lock m; while go == 0 { wait c m }; woken += 1; unlock m" },
  { name = "starter", code = "lock m; go = 1; notify_all c; unlock m" },
]"#,
    ),
];

#[test]
fn each_statement_means_what_the_docs_say_under_both_engines() {
    let mut config = String::new();
    for (name, program) in SEMANTICS {
        for engine in ["shuttle", "threads"] {
            config.push_str(&scenario(
                &format!("{name}-{engine}"),
                engine,
                "no-lost-updates",
                50,
                program,
            ));
        }
    }
    let (code, report, stdout) = run(&config, &[]);
    for scenario in report["scenarios"].as_array().unwrap() {
        assert_eq!(
            scenario["verdict"], "pass",
            "{}: {}",
            scenario["name"], scenario["reason"]
        );
        assert_eq!(scenario["runs"], 50, "{}", scenario["name"]);
    }
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        report["scenarios"].as_array().unwrap().len(),
        SEMANTICS.len() * 2
    );
}

#[test]
fn a_read_then_a_write_loses_updates_and_an_atomic_add_does_not() {
    let racy = r#"shared = { x = 0 }
threads = [{ name = "t", count = 2, code = "repeat 20 { x += 1 }" }]"#;
    let atomic = r#"shared = { x = 0 }
check = ["x == 40"]
threads = [{ name = "t", count = 2, code = "repeat 20 { atomic x += 1 }" }]"#;
    let mut config = String::new();
    for engine in ["shuttle", "threads"] {
        config.push_str(&scenario(
            &format!("racy-{engine}"),
            engine,
            "lost-updates",
            200,
            racy,
        ));
        config.push_str(&scenario(
            &format!("atomic-{engine}"),
            engine,
            "no-lost-updates",
            200,
            atomic,
        ));
    }
    let (code, report, stdout) = run(&config, &["--no-shrink"]);
    assert_eq!(code, 0, "{stdout}");
    let scenarios = report["scenarios"].as_array().unwrap();
    assert!(scenarios[0]["lost_updates"].as_u64().unwrap() > 0);
    assert_eq!(scenarios[1]["lost_updates"], 0);
    assert_eq!(scenarios[1]["failed_runs"], 0);
}

#[test]
fn the_counter_as_a_program_loses_as_many_updates_as_the_counter_workload_for_the_same_seed() {
    for (scheduler, seed, ops) in [("random", 7, 10), ("random", 3, 25), ("pct", 11, 10)] {
        let config = format!(
            r#"
[defaults]
engine = "shuttle"
scheduler = "{scheduler}"
runs = 300
seed = {seed}
expect = "lost-updates"

[[scenario]]
name = "counter"
workload = "counter"
sync = "none"
threads = [{{ delta = 1, ops = {ops} }}, {{ delta = 1, ops = {ops} }}]

[[scenario]]
name = "program"
workload = "program"
[scenario.program]
shared = {{ counter = 0 }}
threads = [{{ name = "adder", count = 2, code = "repeat {ops} {{ counter += 1 }}" }}]
"#
        );
        let (code, report, stdout) = run(&config, &["--no-shrink"]);
        assert_eq!(code, 0, "{stdout}");
        let [counter, program] = [0, 1].map(|i| &report["scenarios"][i]);
        assert!(counter["lost_updates"].as_u64().unwrap() > 0);
        for key in ["lost_updates", "lost_update_runs", "overwrites", "outcomes"] {
            assert_eq!(
                counter[key], program[key],
                "{key} with {scheduler}, seed {seed}"
            );
        }
    }
}

#[test]
fn the_overdraft_is_shrunk_to_one_preemption_with_the_statements_named() {
    let config = scenario(
        "overdraft",
        "shuttle",
        "lost-updates",
        1000,
        r#"shared = { balance = 100 }
check = ["balance >= 0"]
threads = [
  { name = "alice", code = "if balance >= 80 { atomic balance -= 80 }" },
  { name = "bob", code = "if balance >= 80 { atomic balance -= 80 }", count = 3 },
]"#,
    );
    let (_, report, _) = run(&config, &[]);
    let scenario = &report["scenarios"][0];
    assert!(scenario["failed_runs"].as_u64().unwrap() >= 1);
    let failure = scenario["failures"][0].as_str().unwrap();
    assert!(
        failure.contains("check `balance >= 0` is false") && failure.contains("balance = -"),
        "{failure}"
    );
    let minimal = &scenario["minimal_schedule"];
    assert_eq!(minimal["preemptions"], 1, "{minimal}");
    assert_eq!(minimal["proven"], true);
    // Shrinking dropped bob's extra copies.
    assert_eq!(minimal["params"]["threads"][1]["count"], 1, "{minimal}");
    let interleaving = minimal["interleaving"].to_string();
    assert!(
        interleaving.contains("[alice, line 1: if balance >= 80]")
            && interleaving.contains("[bob, line 1: atomic balance -= 80]"),
        "{interleaving}"
    );
}

#[test]
fn a_lock_cycle_of_three_threads_is_a_deadlock_with_its_cycle_named() {
    let config = scenario(
        "cycle",
        "shuttle",
        "lost-updates",
        1000,
        r#"locks = ["a", "b", "c"]
threads = [
  { name = "t1", code = "lock a; lock b; unlock b; unlock a" },
  { name = "t2", code = "lock b; lock c; unlock c; unlock b" },
  { name = "t3", code = "lock c; lock a; unlock a; unlock c" },
]"#,
    );
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("cycle.toml");
    std::fs::write(&path, config).unwrap();
    let (_, report, _) = run_file(&path, dir.path(), &[]);
    let scenario = &report["scenarios"][0];
    assert!(
        scenario["failures"][0]
            .as_str()
            .unwrap()
            .contains("deadlock")
    );
    let minimal = &scenario["minimal_schedule"];
    // t1 takes a; a preemption lets t3 take c and block on a; t2 takes b and blocks on c; t1
    // blocks on b. Blocking switches are no preemptions: one is enough.
    assert_eq!(minimal["preemptions"], 1, "{minimal}");
    assert_eq!(minimal["proven"], true);
    let file = std::fs::read_to_string(minimal["file"].as_str().unwrap()).unwrap();
    let file: toml::Table = toml::from_str(&file).unwrap();
    let description = file["failure"]["description"].as_str().unwrap();
    assert_eq!(
        description,
        "deadlock: t1 waits for b held by t2, which waits for c held by t3, which waits for a \
         held by t1"
    );
}

#[test]
fn a_deadlock_on_real_threads_is_reported_with_its_cycle_without_a_hang() {
    let config = scenario(
        "threads-deadlock",
        "threads",
        "lost-updates",
        300,
        r#"shared = { x = 0 }
locks = ["a", "b"]
threads = [
  { name = "t1", code = "repeat 20 { lock a; lock b; x += 1; unlock b; unlock a }" },
  { name = "t2", code = "repeat 20 { lock b; lock a; x += 1; unlock a; unlock b }" },
]"#,
    );
    let (code, report, _) = run(&config, &["--no-shrink"]);
    assert_eq!(code, 1);
    let scenario = &report["scenarios"][0];
    let failures: Vec<&str> = scenario["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(
            |f| f.contains("deadlock: t1 waits for b held by t2, which waits for a held by t1")
        ),
        "{failures:?}"
    );
}

#[test]
fn a_division_by_zero_on_a_value_read_fails_the_run_with_the_statement_named() {
    let config = scenario(
        "divide",
        "shuttle",
        "no-lost-updates",
        10,
        r#"shared = { x = 0, y = 0 }
threads = [{ name = "divider", code = "y = 1\ny = 10 / x" }]"#,
    );
    let (code, report, _) = run(&config, &["--no-shrink"]);
    assert_eq!(code, 1);
    let failure = report["scenarios"][0]["failures"][0].as_str().unwrap();
    assert!(
        failure.contains("divider, line 2: y = 10 / x: division by zero"),
        "{failure}"
    );
}

#[test]
fn a_failed_assert_names_the_thread_the_line_and_the_values_read() {
    let config = scenario(
        "assert",
        "threads",
        "no-lost-updates",
        5,
        r#"shared = { x = 4 }
threads = [{ name = "checker", code = "let t = 2\nassert x + t == 5" }]"#,
    );
    let (code, report, _) = run(&config, &["--no-shrink"]);
    assert_eq!(code, 1);
    let failure = report["scenarios"][0]["failures"][0].as_str().unwrap();
    assert!(
        failure.contains(
            "invariant failed: checker, line 2: assert x + t == 5 is false (x = 4, t = 2)"
        ),
        "{failure}"
    );
}

#[test]
fn a_lost_wakeup_is_found_and_its_fix_passes() {
    let program = |guard: &str| {
        format!(
            r#"shared = {{ items = 0 }}
locks = ["m"]
conds = ["c"]
threads = [
  {{ name = "producer", code = "lock m; items += 1; notify c; unlock m; lock m; items += 1; notify c; unlock m" }},
  {{ name = "consumer", count = 2, code = "lock m; {guard} items == 0 {{ wait c m }}; items -= 1; assert items >= 0; unlock m" }},
]"#
        )
    };
    let config = scenario("if", "shuttle", "no-lost-updates", 2000, &program("if"))
        + &scenario(
            "while",
            "shuttle",
            "no-lost-updates",
            2000,
            &program("while"),
        );
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("wakeup.toml");
    std::fs::write(&path, config).unwrap();
    let (_, report, _) = run_file(&path, dir.path(), &[]);
    let [bug, fix] = [0, 1].map(|i| &report["scenarios"][i]);
    assert!(
        bug["failures"][0]
            .as_str()
            .unwrap()
            .contains("assert items >= 0 is false (items = -1)"),
        "{bug}"
    );
    assert_eq!(bug["minimal_schedule"]["proven"], true);
    let file = std::fs::read_to_string(bug["minimal_schedule"]["file"].as_str().unwrap()).unwrap();
    let file: toml::Table = toml::from_str(&file).unwrap();
    let description = file["failure"]["description"].as_str().unwrap();
    assert!(
        description.contains("line 1: assert items >= 0 is false (items = -1)"),
        "{description}"
    );
    assert_eq!(fix["verdict"], "pass", "{}", fix["reason"]);
}

fn thread(name: &str, code: &str, count: u32) -> ThreadParams {
    ThreadParams {
        name: name.into(),
        code: code.into(),
        count,
    }
}

#[test]
fn smaller_variants_drop_copies_then_threads_then_halve_repeats() {
    let params = ProgramParams {
        shared: [("x".to_string(), 0)].into(),
        locks: Vec::new(),
        conds: Vec::new(),
        check: Vec::new(),
        threads: vec![
            thread("a", "repeat 8 { x += 1 }", 3),
            thread("b", "x += 1", 1),
        ],
    };
    let variants = smaller(&params);
    assert_eq!(variants.len(), 2, "{variants:?}");
    assert_eq!(variants[0].threads[0].count, 2);
    assert_eq!(variants[1].threads[0].code, "repeat 4 { x += 1 }");
    let mut three = params.clone();
    three
        .threads
        .push(thread("c", "if x > 0 { repeat 3 { x -= 1 } }", 1));
    let variants = smaller(&three);
    // One copy fewer, each of three threads dropped, two repeats halved.
    assert_eq!(variants.len(), 6, "{variants:?}");
    assert!(
        variants
            .iter()
            .any(|v| v.threads.len() == 2 && v.threads.iter().all(|t| t.name != "b"))
    );
    assert!(
        variants.iter().any(
            |v| v.threads.len() == 3 && v.threads[2].code == "if x > 0 { repeat 1 { x -= 1 } }"
        )
    );
    let single = ProgramParams {
        threads: vec![thread("a", "repeat 1 { x += 1 }", 1)],
        ..params
    };
    assert!(smaller(&single).is_empty());
}

/// Each bug of the zoo and words of the failure its minimal schedule must show.
const ZOO_BUGS: [(&str, &str); 8] = [
    ("overdraft", "check `balance >= 0` is false"),
    ("transfer", "check `a + b == 200` is false"),
    (
        "deadlock-two",
        "deadlock: t1 waits for b held by t2, which waits for a held by t1",
    ),
    (
        "deadlock-cycle",
        "deadlock: t1 waits for b held by t2, which waits for c held by t3, which waits for a \
         held by t1",
    ),
    (
        "double-checked-init",
        "line 9: assert config == 42 is false (config = 0)",
    ),
    (
        "lost-wakeup",
        "line 4: assert items >= 0 is false (items = -1)",
    ),
    ("flag-lock", "ran past max_steps = 2000 steps"),
    ("counter", "1 update lost"),
];

/// The README's zoo table: each bug's scenario and its minimal preemption count.
fn readme_zoo_table() -> std::collections::HashMap<String, u64> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut counts = std::collections::HashMap::new();
    let table = readme
        .split("| bug (fix beside it) | minimal preemptions |")
        .nth(1)
        .expect("the README has the zoo table");
    for row in table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
    {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let names: Vec<&str> = cells[0]
            .split(':')
            .next()
            .unwrap()
            .split(", ")
            .map(|name| name.trim_matches('`'))
            .collect();
        let numbers: Vec<u64> = cells[1].split(", ").map(|n| n.parse().unwrap()).collect();
        assert_eq!(names.len(), numbers.len(), "{row}");
        counts.extend(names.into_iter().map(str::to_string).zip(numbers));
    }
    counts
}

#[test]
fn the_zoo_shows_every_bug_with_a_proven_minimal_schedule_and_every_fix_passes() {
    let dir = TempDir::new().unwrap();
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/zoo.toml");
    let (code, report, stdout) = run_file(&zoo, dir.path(), &[]);
    assert_eq!(code, 0, "every bug shown, every fix clean: {stdout}");
    // The transfer bug's runs that settle give the expected final value, the total of 200 (a
    // regression printed 0 when none settled; see
    // `a_program_whose_runs_all_fail_before_settling_prints_no_expected_final_value`).
    let transfer = stdout
        .lines()
        .find(|line| line.contains("code = \"a -= 30; b += 30\""))
        .expect("the transfer bug's line");
    assert!(transfer.contains("expected final 200 "), "{transfer}");
    // Its run breaks the invariant after losing an update: the update is counted, not dropped
    // with the run (a regression counted 0).
    let transfer = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "transfer")
        .expect("the transfer bug");
    assert!(
        transfer["lost_updates"].as_u64().unwrap() >= 1,
        "{transfer}"
    );
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 16);
    let readme_counts = readme_zoo_table();
    for scenario in scenarios {
        let name = scenario["name"].as_str().unwrap();
        if name.ends_with("-fixed") {
            assert_eq!(
                scenario["verdict"], "pass",
                "{name}: {}",
                scenario["reason"]
            );
            assert_eq!(scenario["failing_runs"], 0, "{name}");
        } else {
            assert!(
                scenario["failing_runs"].as_u64().unwrap() > 0,
                "{name}: {}",
                scenario["reason"]
            );
            assert_eq!(
                scenario["verdict"], "pass",
                "{name}: {}",
                scenario["reason"]
            );
            assert_eq!(scenario["minimal_schedule"]["proven"], true, "{name}");
            // The bug shows as the kind of failure the zoo expects of it.
            let kind = scenario["minimal_schedule"]["failure"].as_str().unwrap();
            let expected = scenario["expect"].as_str().unwrap();
            assert_eq!(expected.trim_end_matches('s'), kind, "{name}");
            assert!(
                scenario["failure_kinds"][kind].as_u64().unwrap() > 0,
                "{name}"
            );
            // The shrunk schedule shows the bug itself, not another failure of a smaller variant.
            let file = scenario["minimal_schedule"]["file"].as_str().unwrap();
            let file: toml::Table =
                toml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            let description = file["failure"]["description"].as_str().unwrap();
            let bug = ZOO_BUGS
                .iter()
                .find(|(bug, _)| *bug == name)
                .unwrap_or_else(|| panic!("{name} is a bug of the zoo"));
            assert!(description.contains(bug.1), "{name}: {description}");
            let preemptions = scenario["minimal_schedule"]["preemptions"]
                .as_u64()
                .unwrap();
            assert_eq!(
                readme_counts.get(name),
                Some(&preemptions),
                "{name}: the README's zoo table"
            );
            assert!(
                stdout.contains(&format!(
                    "minimal failing schedule: {} preemption",
                    scenario["minimal_schedule"]["preemptions"]
                )),
                "{name}"
            );
        }
    }
}

#[test]
fn a_program_whose_runs_all_fail_before_settling_prints_no_expected_final_value() {
    let config = scenario(
        "never-settles",
        "shuttle",
        "invariant",
        50,
        r#"shared = { a = 100 }
check = ["a == 0"]
threads = [{ name = "t", code = "a -= 30" }]"#,
    );
    let (code, report, stdout) = run(&config, &[]);
    assert_eq!(code, 0, "{stdout}");
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["runs"], 50, "{scenario}");
    assert_eq!(scenario["failure_kinds"]["invariant"], 50, "{scenario}");
    let line = stdout
        .lines()
        .find(|line| line.contains("code = \"a -= 30\""))
        .expect("the scenario's line");
    // No run settled: there is no expected final value to give (a regression printed 0).
    assert!(!line.contains("expected final"), "{line}");
}

#[test]
fn a_spin_that_never_ends_on_real_threads_fails_as_a_livelock_without_a_hang() {
    let config = scenario(
        "flag-lock-threads",
        "threads",
        "no-lost-updates",
        2,
        r#"shared = { flag0 = 1, flag1 = 1 }
threads = [
  { name = "p0", code = "while flag1 == 1 { }" },
  { name = "p1", code = "while flag0 == 1 { }" },
]"#,
    )
    // The body's join waits for the spinners: on a loaded machine their million iterations may
    // take longer than the default 3s deadlock timeout, which would end the run first.
    .replace(
        "[scenario.program]",
        "deadlock_timeout = \"60s\"\n[scenario.program]",
    );
    let (code, report, _) = run(&config, &["--no-shrink"]);
    assert_eq!(code, 1);
    let failure = report["scenarios"][0]["failures"][0].as_str().unwrap();
    assert!(
        failure.contains("line 1: while flag")
            && failure.contains("livelock: its loops ran more than 1,000,000 iterations"),
        "{failure}"
    );
}

#[test]
fn a_spin_wait_that_never_ends_regression_is_a_livelock_not_a_panic_on_both_engines() {
    for engine in ["shuttle", "threads"] {
        let config = scenario(
            "spin",
            engine,
            "livelock",
            1,
            r#"shared = { go = 0 }
threads = [{ name = "waiter", code = "while go == 0 { }" }]"#,
        );
        // On real threads the body's join waits for the spinner: a loaded machine must not
        // let the default 3s deadlock timeout end the run before the livelock bound does.
        let config = if engine == "threads" {
            config.replace(
                "[scenario.program]",
                "deadlock_timeout = \"60s\"\n[scenario.program]",
            )
        } else {
            config
        };
        let (code, report, stdout) = run(&config, &["--no-shrink"]);
        let scenario = &report["scenarios"][0];
        assert_eq!(code, 0, "{engine}: {stdout}");
        assert_eq!(
            scenario["failure_kinds"]["livelock"], 1,
            "{engine}: {scenario}"
        );
        assert!(scenario["failure_kinds"].get("panic").is_none(), "{engine}");
    }
}

#[test]
fn replaying_a_programs_schedule_against_its_fixed_config_exits_0_and_against_the_bug_1() {
    let dir = TempDir::new().unwrap();
    let program = |code: &str| {
        scenario(
            "overdraft",
            "shuttle",
            "lost-updates",
            1000,
            &format!(
                "shared = {{ balance = 100 }}\nlocks = [\"m\"]\ncheck = [\"balance >= 0\"]\n\
                 threads = [{{ name = \"client\", count = 3, code = \"{code}\" }}]"
            ),
        )
    };
    let bug = dir.path().join("bug.toml");
    let fixed = dir.path().join("fixed.toml");
    std::fs::write(&bug, program("if balance >= 80 { atomic balance -= 80 }")).unwrap();
    std::fs::write(
        &fixed,
        program("lock m; if balance >= 80 { atomic balance -= 80 }; unlock m"),
    )
    .unwrap();
    let (_, report, _) = run_file(&bug, dir.path(), &[]);
    let minimal = &report["scenarios"][0]["minimal_schedule"];
    // Shrunk to two clients: the replay against the config keeps that shape.
    assert_eq!(minimal["params"]["threads"][0]["count"], 2, "{minimal}");
    let file = minimal["file"].as_str().unwrap();
    let replay = |config: &Path| {
        let output = Command::cargo_bin("contend")
            .unwrap()
            .args(["replay", file, "--config"])
            .arg(config)
            .output()
            .unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (code, stdout) = replay(&bug);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("the recorded failure reproduces"),
        "{stdout}"
    );
    let (code, stdout) = replay(&fixed);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("count = 2") && stdout.contains("lock m; if balance"),
        "{stdout}"
    );
}

#[test]
fn a_program_fitted_to_a_schedule_keeps_its_shape_and_takes_the_new_code() {
    let recorded = ProgramParams {
        shared: [("x".to_string(), 0)].into(),
        locks: vec!["m".into()],
        conds: Vec::new(),
        check: Vec::new(),
        threads: vec![
            thread("a", "repeat 8 { x += 1 }", 3),
            thread("b", "repeat 8 { x -= 1 }", 1),
            thread("c", "yield", 1),
        ],
    };
    let shrunk = ProgramParams {
        threads: vec![
            thread("a", "repeat 1 { x += 1 }", 2),
            thread("b", "repeat 1 { x -= 1 }", 1),
        ],
        ..recorded.clone()
    };
    let now = ProgramParams {
        threads: vec![
            thread("b", "repeat 8 { x -= 1 }", 1),
            thread("a", "repeat 8 { lock m; x += 1; unlock m }", 3),
            thread("d", "yield", 1),
        ],
        ..recorded.clone()
    };
    let fitted = fit_to_schedule(&now, &recorded, &shrunk);
    assert_eq!(
        fitted.threads,
        vec![
            thread("a", "repeat 8 { lock m; x += 1; unlock m }", 2),
            thread("b", "repeat 1 { x -= 1 }", 1),
            thread("d", "yield", 1),
        ]
    );
}
