//! Failures found by `contend::check` are shrunk by the same search as the CLI's: the saved
//! schedule and the interleaving shown need only the preemptions the bug needs.

use std::sync::Arc;

use contend::check::{Check, CheckReport, Engine, Expect, Scheduler, Shared, thread};
use tempfile::TempDir;

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);

/// `threads` threads each claim a slot if it looks free: check, then act, without a lock. Two
/// claims mean one thread's claim was overwritten: a lost update.
fn check_then_act(threads: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let claimed = Arc::new(Shared::named("claimed", 0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let claimed = Arc::clone(&claimed);
                thread::spawn(move || {
                    if claimed.get() == 0 {
                        claimed.set(1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

/// Two threads each add 1 to a counter `increments` times with a read, then a write.
fn broken_counter(increments: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(Shared::named("counter", 0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    for _ in 0..increments {
                        counter.update(|value| value + 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

/// The preemptions marked in the interleaving of the report's first failure.
fn preemptions_shown(report: &CheckReport) -> usize {
    let failure = report.engines[0]
        .first_failure
        .as_ref()
        .unwrap_or_else(|| panic!("a failure: {report}"));
    let interleaving = failure.interleaving.as_ref().expect("an interleaving");
    interleaving.steps.iter().filter(|s| s.preemption).count()
}

#[test]
fn a_twenty_thread_check_then_act_shrinks_to_two_preemptions_or_fewer() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("check_then_act_20")
        .engines([SHUTTLE])
        .runs(50)
        .expect(Expect::LostUpdates)
        .schedule_dir(dir.path())
        .run(check_then_act(20));
    assert!(report.passed(), "{report}");
    let preemptions = preemptions_shown(&report);
    assert!((1..=2).contains(&preemptions), "{preemptions}: {report}");
    let engine = &report.engines[0];
    assert!(
        engine.notes.iter().any(|note| note.contains("shrank")),
        "{:?}",
        engine.notes
    );
    // The shrunk schedule is what was saved, and it replays the failure.
    let file = engine.first_failure.as_ref().unwrap().schedule_file.clone();
    let replay = Check::new("check_then_act_20")
        .expect(Expect::LostUpdates)
        .replay_from(file.expect("a saved schedule"))
        .run(check_then_act(20));
    assert!(replay.passed(), "{replay}");
    assert_eq!(preemptions_shown(&replay), preemptions);
}

#[test]
fn a_broken_counter_shrinks_to_one_preemption() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("broken_counter_shrinks")
        .engines([SHUTTLE])
        .runs(20)
        .expect(Expect::LostUpdates)
        .schedule_dir(dir.path())
        .run(broken_counter(50));
    assert!(report.passed(), "{report}");
    assert_eq!(preemptions_shown(&report), 1, "{report}");
}

#[test]
fn a_checks_schedule_given_to_contend_replay_names_the_test_command_that_replays_it() {
    let dir = TempDir::new().unwrap();
    let report = Check::new("broken_counter_for_the_cli")
        .engines([SHUTTLE])
        .runs(20)
        .expect(Expect::LostUpdates)
        .schedule_dir(dir.path())
        .run(broken_counter(5));
    let file = report.engines[0]
        .first_failure
        .as_ref()
        .and_then(|failure| failure.schedule_file.clone())
        .unwrap_or_else(|| panic!("a saved schedule: {report}"));
    let output = assert_cmd::Command::cargo_bin("contend")
        .unwrap()
        .arg("replay")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The command the file was saved with: the one the check's report printed, which runs this
    // test.
    let command = report.engines[0]
        .first_failure
        .as_ref()
        .and_then(|failure| failure.replay_command.clone())
        .expect("a replay command");
    assert!(
        command.contains(
            "cargo test --release check_shrinking::\
             a_checks_schedule_given_to_contend_replay_names_the_test_command_that_replays_it"
        ),
        "{command}"
    );
    assert!(
        stderr.contains("contend::check") && stderr.contains(&format!("`{command}`")),
        "{stderr}"
    );
}
