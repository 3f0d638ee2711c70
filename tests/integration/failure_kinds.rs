//! Failure kinds for every workload: each kind produced and counted under shuttle and on real
//! threads, each `expect` value passing and failing as it should, a deadlock's cycle in the
//! JSON report, shards that carry their kinds into `merge`, and bad `expect` values refused.
//!
//! The workloads are those of the `failure_kinds` example harness, run as a user runs it.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::contend;
use contend::check::{Check, Engine, Expect, FailureKind, Kind, Scheduler, Shared, thread};
use serde_json::Value;
use tempfile::TempDir;

/// What a run of the harness did: its exit code and what it printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `cargo run --release --example failure_kinds -- ARGS...` in `dir`.
fn harness(args: &[&str], dir: &Path) -> Run {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--release", "--example", "failure_kinds"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--")
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("cargo runs");
    Run {
        code: output.status.code().expect("the harness exits with a code"),
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

/// The example's config, run whole: every kind shows, counted under its name, on each engine
/// where it applies.
#[test]
fn each_kind_is_produced_and_counted_under_shuttle_and_on_threads() {
    let dir = TempDir::new().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/failure_kinds.toml");
    let run = harness(
        &[
            "run",
            config.to_str().unwrap(),
            "--out",
            "out",
            "--json",
            "report.json",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("report.json"));
    let expected = [
        ("lost-update", "shuttle", "lost-update"),
        ("overdraft", "shuttle", "invariant"),
        ("overdraft-on-threads", "threads", "invariant"),
        ("lock-cycle-of-three", "shuttle", "deadlock"),
        ("lock-cycle-on-threads", "threads", "deadlock"),
        ("lost-wakeup-on-threads", "threads", "deadlock"),
        ("panic", "shuttle", "panic"),
        ("spin-forever", "shuttle", "livelock"),
    ];
    for (name, engine, kind) in expected {
        let s = scenario(&report, name);
        assert_eq!(s["engine"], engine, "{s}");
        assert_eq!(s["verdict"], "pass", "{s}");
        let kinds = s["failure_kinds"].as_object().unwrap();
        assert_eq!(
            kinds.keys().collect::<Vec<_>>(),
            vec![kind],
            "{name}: only {kind} shows: {s}"
        );
        let counted = kinds[kind].as_u64().unwrap();
        assert!(counted >= 1, "{s}");
        let failing = s["failing_runs"].as_u64().unwrap();
        assert_eq!(counted, failing, "every failing run is a {kind}: {s}");
        if kind != "lost-update" {
            assert_eq!(s["failed_runs"].as_u64().unwrap(), counted, "{s}");
        }
        assert_eq!(s["minimal_schedule"]["failure"], kind, "{s}");
    }
    // On real threads the run goes on after each deadlock: every execution ran and failed.
    for name in ["lock-cycle-on-threads", "lost-wakeup-on-threads"] {
        let s = scenario(&report, name);
        assert_eq!(s["runs"], s["runs_requested"], "{s}");
        assert_eq!(s["failure_kinds"]["deadlock"], s["runs"], "{s}");
    }
    // The lost wakeup has no cycle: deadlock_timeout = "100ms" declared it.
    let wakeup = scenario(&report, "lost-wakeup-on-threads");
    assert!(
        wakeup["failures"][0]
            .as_str()
            .unwrap()
            .contains("a thread waited longer than 100ms"),
        "{wakeup}"
    );
    let clean = scenario(&report, "locked-counter");
    assert_eq!(clean["failure_kinds"], serde_json::json!({}));
    assert_eq!(clean["expect"], "no-failures");
    // The text report names the kinds.
    assert!(
        run.stdout.contains("failing runs by kind: invariant"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("failure: deadlock"), "{}", run.stdout);
}

/// The three-thread lock cycle under shuttle: the proven minimal schedule is a deadlock, and
/// the JSON report names its cycle of waits, each wait held by the next thread around it.
///
/// One preemption is the proven minimum of this body: Thread-1 takes mutex#1 and is
/// preempted by Thread-3, which takes mutex#3 and blocks on mutex#1; the switches after a
/// block are not preemptions, so Thread-2 and Thread-1 close the cycle for free.
#[test]
fn a_three_thread_lock_cycle_is_shrunk_to_its_proven_minimum_with_its_cycle_in_json() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("cycle.toml"),
        "[[scenario]]\nname = \"cycle\"\nworkload = \"kinds\"\nengine = \"shuttle\"\n\
         runs = 500\nseed = 7\nexpect = \"deadlock\"\n[scenario.params]\nfail = \"deadlock\"\n\
         threads = 3\n",
    )
    .unwrap();
    let run = harness(
        &["run", "cycle.toml", "--out", "out", "--json", "r.json"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = read_json(&dir.path().join("r.json"));
    let schedule = &scenario(&report, "cycle")["minimal_schedule"];
    assert_eq!(schedule["failure"], "deadlock", "{schedule}");
    assert_eq!(schedule["proven"], true, "{schedule}");
    assert_eq!(schedule["preemptions"], 1, "{schedule}");
    let cycle = schedule["cycle"].as_array().expect("a cycle");
    assert_eq!(cycle.len(), 3, "{schedule}");
    let mut threads: Vec<&str> = cycle
        .iter()
        .map(|e| e["thread"].as_str().unwrap())
        .collect();
    for (at, edge) in cycle.iter().enumerate() {
        let next = &cycle[(at + 1) % cycle.len()];
        assert_eq!(edge["held_by"], next["thread"], "{schedule}");
        assert!(
            edge["waits_for"].as_str().unwrap().starts_with("mutex#"),
            "{schedule}"
        );
    }
    threads.sort_unstable();
    assert_eq!(threads, ["Thread-1", "Thread-2", "Thread-3"]);
    // The saved schedule replays the deadlock.
    let file = schedule["file"].as_str().unwrap();
    let replayed = harness(&["replay", file], dir.path());
    assert_eq!(replayed.code, 1, "{}{}", replayed.stdout, replayed.stderr);
}

/// A one-scenario config of the `kinds` workload.
fn config(expect: &str, fail: &str) -> String {
    let max_steps = if fail == "livelock" {
        "max_steps = 2000\n"
    } else {
        ""
    };
    let barrier = if fail == "deadlock" {
        "barrier = true\n"
    } else {
        ""
    };
    format!(
        "[[scenario]]\nname = \"s\"\nworkload = \"kinds\"\nengine = \"shuttle\"\nruns = 100\n\
         seed = 5\nexpect = \"{expect}\"\n{max_steps}[scenario.params]\nfail = \"{fail}\"\n\
         {barrier}"
    )
}

#[test]
fn every_expect_value_passes_and_fails_as_it_should() {
    // (expect, a workload that meets it, one that does not)
    let cases = [
        ("no-failures", "none", "panic"),
        ("failure", "invariant", "none"),
        ("lost-update", "lost-update", "none"),
        ("invariant", "invariant", "lost-update"),
        ("deadlock", "deadlock", "none"),
        // A broken invariant is not a panic.
        ("panic", "panic", "invariant"),
        ("livelock", "livelock", "none"),
        // The old values keep their meaning: another failure fails `lost-updates`.
        ("lost-updates", "lost-update", "panic"),
        ("no-lost-updates", "none", "lost-update"),
    ];
    let dir = TempDir::new().unwrap();
    for (expect, meets, breaks) in cases {
        for (fail, code) in [(meets, 0), (breaks, 1)] {
            std::fs::write(dir.path().join("c.toml"), config(expect, fail)).unwrap();
            let run = harness(&["run", "c.toml", "-q", "--no-shrink"], dir.path());
            assert_eq!(
                run.code, code,
                "expect = {expect}, fail = {fail}:\n{}{}",
                run.stdout, run.stderr
            );
        }
    }
}

#[test]
fn shards_carry_their_failure_kinds_into_the_merge() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[[scenario]]\nname = \"overdraft\"\nworkload = \"kinds\"\nengine = \"threads\"\n\
         runs = 60\nseed = 2\nexpect = \"invariant\"\n[scenario.params]\nfail = \"invariant\"\n",
    )
    .unwrap();
    let mut counted = 0;
    for index in 1..=2 {
        let shard = format!("{index}/2");
        let json = format!("s{index}.json");
        let run = harness(
            &["run", "c.toml", "-q", "--shard", &shard, "--json", &json],
            dir.path(),
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let s = &read_json(&dir.path().join(&json))["scenarios"][0];
        counted += s["failure_kinds"]["invariant"].as_u64().unwrap_or(0);
    }
    assert!(counted > 0, "the overdraft shows in 60 runs on threads");
    let merged = harness(
        &["merge", "s1.json", "s2.json", "--json", "m.json"],
        dir.path(),
    );
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    let s = &read_json(&dir.path().join("m.json"))["scenarios"][0];
    assert_eq!(
        s["failure_kinds"]["invariant"].as_u64(),
        Some(counted),
        "{s}"
    );
    assert_eq!(s["failed_runs"].as_u64(), Some(counted), "{s}");

    // A shard whose kinds do not add up to its failing runs is refused, by its file.
    let mut edited = read_json(&dir.path().join("s2.json"));
    let kinds = &mut edited["scenarios"][0]["failure_kinds"];
    kinds["panic"] = 1.into();
    std::fs::write(dir.path().join("bad.json"), edited.to_string()).unwrap();
    let refused = harness(&["merge", "s1.json", "bad.json"], dir.path());
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("bad.json") && refused.stderr.contains("failure_kinds"),
        "{}",
        refused.stderr
    );

    // Kinds that overflow 64 bits when added up are refused too.
    let mut first = read_json(&dir.path().join("s1.json"));
    let mut second = read_json(&dir.path().join("s2.json"));
    for shard in [&mut first, &mut second] {
        let s = &mut shard["scenarios"][0];
        let settled = s["runs"].as_u64().unwrap() - s["failed_runs"].as_u64().unwrap();
        s["runs"] = u64::MAX.into();
        s["runs_requested"] = u64::MAX.into();
        s["failed_runs"] = (u64::MAX - settled).into();
        s["failing_runs"] = (u64::MAX - settled).into();
        s["failure_kinds"] = serde_json::json!({ "invariant": u64::MAX - settled });
        s["first_failing_run"] = 0.into();
    }
    std::fs::write(dir.path().join("big1.json"), first.to_string()).unwrap();
    std::fs::write(dir.path().join("big2.json"), second.to_string()).unwrap();
    let overflowed = harness(&["merge", "big1.json", "big2.json"], dir.path());
    assert_eq!(overflowed.code, 2, "{}", overflowed.stderr);
    assert!(
        overflowed.stderr.contains("big2.json") && overflowed.stderr.contains("overflows"),
        "{}",
        overflowed.stderr
    );
}

#[test]
fn bad_expect_values_exit_2_naming_the_file_line_key_and_the_accepted_values() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[scenario]]\nname = \"racy\"\nengine = \"shuttle\"\nthreads = [[1, 2], [1, 2]]\n\
         expect = \"deadlocks\"\n",
    )
    .unwrap();
    let run = contend(&["run", "bad.toml"], dir.path());
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for word in [
        "bad.toml:5",
        "expect",
        "deadlocks",
        "lost-updates, no-lost-updates, no-failures, failure, lost-update, invariant, \
         deadlock, panic, livelock",
    ] {
        assert!(run.stderr.contains(word), "{word}: {}", run.stderr);
    }
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);

    // deadlock_timeout is for workloads on the primitives, on real threads, as a duration.
    let refused = [
        (
            "engine = \"shuttle\"",
            "\"1s\"",
            "counter workloads do not block",
        ),
        (
            "engine = \"threads\"",
            "\"1s\"",
            "counter workloads do not block",
        ),
    ];
    for (engine, timeout, why) in refused {
        std::fs::write(
            dir.path().join("t.toml"),
            format!(
                "[[scenario]]\nname = \"c\"\n{engine}\nthreads = [[1, 2]]\n\
                 expect = \"no-failures\"\ndeadlock_timeout = {timeout}\n"
            ),
        )
        .unwrap();
        let run = contend(&["run", "t.toml"], dir.path());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("t.toml:6")
                && run.stderr.contains("deadlock_timeout")
                && run.stderr.contains(why),
            "{}",
            run.stderr
        );
    }
    // On a plugin workload: a duration, on the threads engine.
    for (engine, timeout, why) in [
        ("threads", "soon", "not a duration"),
        ("shuttle", "1s", "threads engine only"),
    ] {
        std::fs::write(
            dir.path().join("k.toml"),
            format!(
                "[[scenario]]\nname = \"k\"\nworkload = \"kinds\"\nengine = \"{engine}\"\n\
                 expect = \"deadlock\"\ndeadlock_timeout = \"{timeout}\"\n\
                 [scenario.params]\nfail = \"none\"\n"
            ),
        )
        .unwrap();
        let run = harness(&["run", "k.toml"], dir.path());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("k.toml:6") && run.stderr.contains(why),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_schema_lists_every_expectation_and_deadlock_timeout() {
    let dir = TempDir::new().unwrap();
    let run = contend(&["schema"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    let text = schema.to_string();
    for name in [
        "\"lost-updates\"",
        "\"no-lost-updates\"",
        "\"no-failures\"",
        "\"failure\"",
        "\"lost-update\"",
        "\"invariant\"",
        "\"deadlock\"",
        "\"panic\"",
        "\"livelock\"",
    ] {
        assert!(text.contains(name), "{name} missing from the schema");
    }
    let timeout = schema
        .pointer("/$defs/RawScenario/properties/deadlock_timeout")
        .expect("deadlock_timeout in the schema");
    assert!(timeout["pattern"].is_string(), "{timeout}");
}

/// A body that states a broken invariant: the balance of a check-then-act overdraft.
fn overdraft() {
    let balance = Arc::new(Shared::named("balance", 100));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let balance = Arc::clone(&balance);
            thread::spawn(move || {
                if balance.get() >= 60 {
                    thread::yield_now();
                    let now = balance.get();
                    balance.set(now - 60);
                    let now = balance.get();
                    contend::sync::invariant(now >= 0, format!("balance {now} >= 0"));
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
}

/// The kind comes from the execution, not from the words of a panic: a panic that merely
/// says "invariant failed" is a panic.
#[test]
fn a_panic_that_reads_like_an_invariant_is_still_a_panic() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("fake_invariant")
        .engines([Engine::Shuttle(Scheduler::Random), Engine::Threads])
        .runs(5)
        .schedule_dir(dir.path())
        .expect(Expect::Fails(Kind::Panic))
        .run(|| {
            let handle = thread::spawn(|| panic!("{}not really", contend::sync::INVARIANT_FAILED));
            let _ = handle.join();
        });
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert_eq!(engine.failure_kinds.get(&Kind::Invariant), None, "{report}");
    }
}

#[test]
fn a_check_expects_a_broken_invariant_under_shuttle_and_on_threads() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("overdraft_invariant")
        .engines([Engine::Shuttle(Scheduler::Random), Engine::Threads])
        .runs(300)
        .seed(3)
        .schedule_dir(dir.path())
        .expect(Expect::Fails(Kind::Invariant))
        .run(overdraft);
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert!(engine.failure_kinds[&Kind::Invariant] > 0, "{report}");
        // The overdraft also loses updates: its first failure is one kind or the other.
        let failure = engine.first_failure.as_ref().unwrap();
        assert!(
            matches!(&failure.kind, FailureKind::Invariant { message } if message.contains("invariant failed: balance"))
                || failure.kind.kind() == Kind::LostUpdate,
            "{report}"
        );
    }
    // The same failures are not panics.
    let as_panic = Check::new("overdraft_invariant")
        .engines([Engine::Shuttle(Scheduler::Random)])
        .runs(300)
        .seed(3)
        .schedule_dir(dir.path())
        .expect(Expect::Fails(Kind::Panic))
        .run(overdraft);
    assert!(!as_panic.passed(), "{as_panic}");
}
