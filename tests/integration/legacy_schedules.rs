//! Schedule files of version 2, saved by contend before the one format: a built-in counter's
//! (`contend-schedule`), a program's and a harness workload's (`contend-workload-schedule`) and
//! a check's (`contend-check-schedule`), in `tests/data/schedules-v2/`. Users keep them in
//! their repositories: each still loads and replays exactly as it did (the `.replay.txt` beside
//! each is what `contend replay` printed for it then), and an edit is still refused.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contend::check::{Check, Expect, Shared, thread};
use contend::schedule::file::{RecordedKind, ScheduleFile, Target};
use tempfile::TempDir;

use common::contend;

/// The folder of the files of version 2.
fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schedules-v2")
}

/// `text` without the lines that name the versions of contend and shuttle that replayed it.
fn without_version_warnings(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with("warning: recorded"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn every_version_2_scenario_schedule_replays_exactly_as_before() {
    let dir = TempDir::new().unwrap();
    for name in [
        "counter-racy",
        "counter-livelock",
        "overdraft",
        "deadlock-two",
        "flag-lock",
        "program-counter",
    ] {
        let file = data().join(format!("{name}.schedule.toml"));
        let run = contend(&["replay", file.to_str().unwrap()], dir.path());
        assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
        let before = std::fs::read_to_string(data().join(format!("{name}.replay.txt"))).unwrap();
        assert_eq!(
            without_version_warnings(&run.stdout),
            without_version_warnings(&before),
            "{name}"
        );
    }
}

#[test]
fn a_version_2_counter_schedule_replays_against_a_config_as_before() {
    let dir = TempDir::new().unwrap();
    let file = data().join("counter-racy.schedule.toml");
    let config = data().join("counters.toml");
    let args = [
        "replay",
        file.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let run = contend(&args, dir.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let before = std::fs::read_to_string(data().join("counter-racy.config.replay.txt")).unwrap();
    assert_eq!(
        without_version_warnings(&run.stdout),
        without_version_warnings(&before)
    );
    // The fix, against the same schedule: it passes.
    let fixed = std::fs::read_to_string(&config).unwrap().replacen(
        "sync = \"none\"",
        "sync = \"mutex\"",
        1,
    );
    std::fs::write(dir.path().join("fixed.toml"), fixed).unwrap();
    let args = ["replay", file.to_str().unwrap(), "--config", "fixed.toml"];
    let run = contend(&args, dir.path());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("fixed:"), "{}", run.stdout);
}

#[test]
fn every_version_2_file_is_read_into_the_one_format() {
    let load = |name: &str| ScheduleFile::load(&data().join(name)).unwrap();

    let racy = load("counter-racy.schedule.toml");
    assert_eq!(racy.version, 2);
    let counter = racy.counter().expect("a counter's target");
    assert_eq!(counter.name, "counter-racy");
    assert_eq!(counter.threads.len(), 2);
    assert_eq!(counter.shrunk.threads.len(), 2);
    assert_eq!(racy.failure.kind, RecordedKind::LostUpdate);
    assert_eq!(racy.failure.expected_final, Some(10));
    assert_eq!(racy.schedule.preemptions, 1);
    assert!(racy.original.choices.is_some());

    // Counter files of version 2 said `failed` for any kind but a lost update.
    let livelock = load("counter-livelock.schedule.toml");
    assert_eq!(livelock.failure.kind, RecordedKind::Failed);
    assert_eq!(livelock.schedule.max_steps, Some(40));

    let overdraft = load("overdraft.schedule.toml");
    let workload = overdraft.workload().expect("a program's target");
    assert_eq!(workload.workload, "program");
    assert_eq!(workload.params, workload.shrunk);
    assert_eq!(overdraft.failure.kind, RecordedKind::Invariant);
    assert_eq!(
        load("deadlock-two.schedule.toml").failure.kind,
        RecordedKind::Deadlock
    );
    let harness = load("transfer-race.schedule.toml");
    assert_eq!(harness.workload().unwrap().workload, "transfer");

    let path = data().join("racy_counter.random.schedule.toml");
    let check_file = ScheduleFile::load(&path).unwrap();
    let Target::Check(check) = &check_file.target else {
        panic!("a check's target: {:?}", check_file.target);
    };
    assert_eq!(check.name, "racy_counter");
    assert_eq!(check.scheduler, "random");
    assert_eq!(check_file.failure.kind, RecordedKind::LostUpdate);
    assert_eq!(check_file.schedule.choices.len(), 1);
    assert_eq!(
        check.replay_command(&path),
        format!(
            "CONTEND_REPLAY={} cargo test --release racy_counter -- --nocapture",
            path.display()
        )
    );
}

#[test]
fn an_edited_version_2_file_is_refused_with_its_name() {
    let dir = TempDir::new().unwrap();
    for (name, from, to) in [
        ("counter-racy", "seed = 42", "seed = 43"),
        ("overdraft", "seed = 1", "seed = 2"),
        ("racy_counter.random", "execution = 0", "execution = 1"),
    ] {
        let text = std::fs::read_to_string(data().join(format!("{name}.schedule.toml"))).unwrap();
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{name}: the edit did not happen");
        std::fs::write(dir.path().join("edited.toml"), edited).unwrap();
        let run = contend(&["replay", "edited.toml"], dir.path());
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.starts_with("error: edited.toml")
                && (run.stderr.contains("edited or damaged")
                    || run.stderr.contains("contend::check")),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_checks_version_2_file_given_to_contend_replay_names_its_test_command() {
    let dir = TempDir::new().unwrap();
    let file = data().join("racy_counter.random.schedule.toml");
    let run = contend(&["replay", file.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("a schedule saved by contend::check (check `racy_counter`)")
            && run.stderr.contains(&format!(
                "`CONTEND_REPLAY={} cargo test --release racy_counter -- --nocapture`",
                file.display()
            )),
        "{}",
        run.stderr
    );
}

/// Two threads each add 1 to a shared counter 100 times, with a read and then a write: the
/// body of `examples/user_test.rs` whose check saved the file of version 2.
fn two_racy_threads() {
    let counter = Arc::new(Shared::named("counter", 0));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..100 {
                    counter.update(|value| value + 1);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn a_checks_version_2_file_replays_from_its_check() {
    let file = data().join("racy_counter.random.schedule.toml");
    let report = Check::new("racy_counter")
        .expect(Expect::LostUpdates)
        .replay_from(&file)
        .run(two_racy_threads);
    assert!(report.passed(), "{report}");
    let engine = &report.engines[0];
    assert_eq!(engine.replayed_from.as_deref(), Some(file.as_path()));
    assert_eq!(engine.executions, 1);
    // The file's own record of its failure: 100 of the 200 increments lost.
    assert_eq!(engine.lost_updates, 100, "{report}");
    assert!(
        engine
            .notes
            .iter()
            .any(|note| note == "replayed: the execution still fails"),
        "{report}"
    );
}

#[test]
fn a_scenarios_schedule_given_to_a_check_names_contend_replay() {
    let file = data().join("counter-racy.schedule.toml");
    let report = Check::new("counter-racy")
        .replay_from(&file)
        .run(two_racy_threads);
    let error = report.engines[0]
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        error.contains("the schedule of scenario `counter-racy`")
            && error.contains("contend replay"),
        "{report}"
    );
}
