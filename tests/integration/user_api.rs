//! contend's library API for users' own tests, used exactly as an outside crate would: only
//! `contend::check` items.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use contend::check::sync::Mutex;
use contend::check::sync::atomic::{AtomicU64, Ordering};
use contend::check::{
    Check, CheckReport, Engine, EngineReport, Expect, FailureKind, Kind, REPLAY_VARIABLE,
    Scheduler, Shared, thread,
};

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);
const PCT: Engine = Engine::Shuttle(Scheduler::Pct { depth: 3 });

/// Two threads each add 1 to a counter `increments` times, with a read and then a write: the
/// lost-update bug.
fn racy_counter(increments: u64) -> impl Fn() + Send + Sync + 'static {
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

/// The same counter with the read-modify-write under a mutex.
fn locked_counter(increments: u64) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(Shared::named("counter", 0));
        let lock = Arc::new(Mutex::new(()));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
                thread::spawn(move || {
                    for _ in 0..increments {
                        let _held = lock.lock().unwrap();
                        counter.update(|value| value + 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.get(), 2 * increments as i64);
    }
}

/// A fresh folder for one test's schedule files, removed when the test ends.
struct ScheduleDir(PathBuf);

impl ScheduleDir {
    fn new(test: &str) -> ScheduleDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("contend-{test}-"))
            .tempdir()
            .unwrap();
        // Removed by this type's own Drop.
        ScheduleDir(dir.keep())
    }
}

impl Drop for ScheduleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every failing execution's lost updates reconcile with its final value; with +1 updates only,
/// each lost update is one missing from the final value.
fn assert_reconciled(engine: &EngineReport) {
    if let Some(failure) = &engine.first_failure
        && let FailureKind::LostUpdates { cells } = &failure.kind
    {
        for cell in cells {
            assert_eq!(cell.expected_final - cell.final_value, cell.lost_delta);
            assert_eq!(cell.lost_delta, cell.lost_updates as i64);
        }
    }
    let histogram: u64 = engine.final_values.iter().map(|f| f.count).sum();
    assert_eq!(histogram, engine.executions, "{engine}");
}

fn message_of(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a text panic")
}

#[test]
fn a_racy_counter_loses_updates_under_shuttle_with_its_interleaving_and_replay_command() {
    let dir = ScheduleDir::new("racy-shuttle");
    let report = Check::new("racy_counter_under_shuttle")
        .engines([SHUTTLE, PCT])
        .runs(50)
        .expect(Expect::LostUpdates)
        .schedule_dir(&dir.0)
        .run(racy_counter(3));
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert_eq!(engine.executions, 50);
        assert!(engine.lost_update_executions > 0, "{engine}");
        assert!(engine.lost_updates >= engine.lost_update_executions);
        assert_eq!(engine.panicked_executions, 0);
        assert_eq!(engine.cells, ["counter"]);
        assert!(engine.final_values.iter().all(|f| f.values[0] <= 6));
        assert_reconciled(engine);

        let failure = engine.first_failure.as_ref().unwrap();
        let interleaving = failure.interleaving.as_ref().unwrap();
        assert_eq!(interleaving.threads, ["main", "Thread-1", "Thread-2"]);
        assert!(interleaving.steps.iter().any(|s| s.first_overwrite));
        assert!(!interleaving.overwrites.is_empty());
        let file = failure.schedule_file.as_ref().unwrap();
        assert!(file.starts_with(&dir.0) && file.is_file(), "{file:?}");
        let command = failure.replay_command.as_ref().unwrap();
        assert!(
            command.starts_with(&format!("{REPLAY_VARIABLE}={}", file.display())),
            "{command}"
        );
        assert!(command.contains("cargo test --release"), "{command}");
    }
    let message = report.to_string();
    for expected in ["read counter -> ", "write counter <- ", "CONTEND_REPLAY="] {
        assert!(message.contains(expected), "`{expected}` in:\n{message}");
    }
    // The row of the first lost update is marked.
    assert!(
        message
            .lines()
            .any(|line| line.contains("(overwrites Thread-") && line.ends_with("lost update")),
        "{message}"
    );
}

/// Sized for a loaded machine on which a run of 2 x 300 racy increments loses nothing one time
/// in two (unloaded, nearly every run loses): 100 runs all losing nothing then has a chance of
/// 2^-100.
#[test]
fn a_racy_counter_loses_updates_on_real_threads() {
    let report = Check::new("racy_counter_on_threads")
        .engines([Engine::Threads])
        .runs(100)
        .expect(Expect::LostUpdates)
        .run(racy_counter(300));
    assert!(report.passed(), "{report}");
    let engine = report.engine(Engine::Threads).unwrap();
    assert_eq!(engine.executions, 100);
    assert!(engine.lost_update_executions > 0, "{engine}");
    assert!(engine.final_values.iter().all(|f| f.values[0] <= 600));
    assert_reconciled(engine);
    // Real threads leave no schedule: the report says where one is found.
    let failure = engine.first_failure.as_ref().unwrap();
    assert!(failure.interleaving.is_none() && failure.replay_command.is_none());
    assert!(report.to_string().contains("Engine::Shuttle"), "{report}");
}

#[test]
fn the_mutex_fix_loses_no_update_on_either_engine() {
    let report = Check::new("locked_counter")
        .runs(50)
        .expect(Expect::NoLostUpdates)
        .assert(locked_counter(100));
    assert_eq!(report.engines.len(), 2);
    for engine in &report.engines {
        assert_eq!(engine.executions, 50);
        assert_eq!(engine.failing_executions, 0);
        assert_eq!(engine.lost_updates, 0);
        assert_eq!(engine.final_values.len(), 1);
        assert_eq!(engine.final_values[0].values, [200]);
        assert!(engine.first_failure.is_none());
    }
    // Expecting the bug of a correct body fails the check.
    let expecting_the_bug = Check::new("locked_counter_expected_to_lose")
        .runs(10)
        .expect(Expect::LostUpdates)
        .run(locked_counter(10));
    assert!(!expecting_the_bug.passed());
}

#[test]
fn an_atomic_fetch_add_counter_loses_no_update() {
    let report = Check::new("atomic_counter").runs(50).assert(|| {
        let counter = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    for _ in 0..100 {
                        counter.fetch_add(1, Ordering::SeqCst);
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 200);
    });
    assert!(report.passed());
    assert!(report.engines.iter().all(|e| e.failing_executions == 0));
}

#[test]
fn assert_panics_with_the_summary_the_interleaving_and_the_replay_command() {
    let dir = ScheduleDir::new("assert");
    let check = Check::new("racy_counter_asserted")
        .engines([SHUTTLE])
        .runs(20)
        .schedule_dir(&dir.0);
    let payload = panic::catch_unwind(AssertUnwindSafe(|| check.assert(racy_counter(3))))
        .expect_err("a racy counter fails a check that expects no lost updates");
    let message = message_of(payload);
    for expected in [
        "check `racy_counter_asserted` FAILED: expected no lost updates",
        "shuttle (random) [FAILED]",
        "first failure, execution 0: counter ended at",
        "interleaving (",
        "step  main",
        "replay: CONTEND_REPLAY=",
        "cargo test --release",
    ] {
        assert!(message.contains(expected), "`{expected}` in:\n{message}");
    }
}

/// The file and report of a racy check under shuttle, saved in `dir`.
fn racy_schedule(name: &str, dir: &Path) -> (CheckReport, PathBuf) {
    let report = Check::new(name)
        .engines([SHUTTLE])
        .runs(20)
        .expect(Expect::LostUpdates)
        .schedule_dir(dir)
        .run(racy_counter(3));
    let file = report.engines[0]
        .first_failure
        .as_ref()
        .and_then(|f| f.schedule_file.clone())
        .expect("a saved schedule");
    (report, file)
}

#[test]
fn replaying_the_saved_schedule_reproduces_the_failure() {
    let dir = ScheduleDir::new("replay");
    let (_, file) = racy_schedule("racy_counter_replayed", &dir.0);
    let replay = Check::new("racy_counter_replayed")
        .expect(Expect::LostUpdates)
        .replay_from(&file)
        .run(racy_counter(3));
    assert!(replay.passed(), "{replay}");
    assert_eq!(replay.engines.len(), 1, "a replay runs under shuttle only");
    let engine = &replay.engines[0];
    assert_eq!(engine.replayed_from.as_deref(), Some(file.as_path()));
    assert_eq!(engine.executions, 1);
    let failure = engine.first_failure.as_ref().unwrap();
    let FailureKind::LostUpdates { cells } = &failure.kind else {
        panic!("the saved schedule loses updates: {replay}");
    };
    assert!(
        cells[0].lost_updates >= 1 && cells[0].final_value < cells[0].expected_final,
        "{cells:?}"
    );
    // The same schedule replays the same failure every time.
    let again = Check::new("racy_counter_replayed")
        .expect(Expect::LostUpdates)
        .replay_from(&file)
        .run(racy_counter(3));
    assert_eq!(
        again.engines[0].first_failure.as_ref().map(|f| &f.kind),
        Some(&failure.kind)
    );
    // A replay shows every step.
    let interleaving = failure.interleaving.as_ref().unwrap();
    assert_eq!(interleaving.focus, (0, interleaving.steps.len() - 1));

    // The fixed body, replayed on the same schedule, no longer loses an update.
    let fixed = Check::new("racy_counter_replayed")
        .replay_from(&file)
        .run(locked_counter(3));
    let engine = &fixed.engines[0];
    assert_eq!(engine.lost_updates, 0, "{fixed}");
}

#[test]
fn an_edited_check_schedule_regression_is_refused_not_replayed() {
    let dir = ScheduleDir::new("edited");
    let (_, file) = racy_schedule("racy_counter_edited", &dir.0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\ndigest = \"fnv1a128:"), "{text}");
    // Edits that would let a replay pass or replay another execution.
    let set = |key: &str, value: &str| -> String {
        text.lines()
            .map(|line| {
                if line.starts_with(&format!("{key} = ")) {
                    format!("{key} = {value}")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let edits = [
        set("execution", "12"),
        set("seed", "9"),
        set("max_steps", "1000"),
        set("choices", "[]"),
    ];
    for (index, edited) in edits.iter().enumerate() {
        assert_ne!(edited, &text, "edit {index} changed nothing");
        std::fs::write(&file, edited).unwrap();
        let replay = Check::new("racy_counter_edited")
            .expect(Expect::LostUpdates)
            .replay_from(&file)
            .run(racy_counter(3));
        let error = replay.engines[0].error.as_ref().map(ToString::to_string);
        // Refused by the digest, or first by a field no schedule could hold (choices emptied
        // under a preemption).
        assert!(
            error.as_deref().is_some_and(
                |e| e.contains("edited or damaged") || e.contains("a preemption is a choice")
            ),
            "edit {index}: {replay}"
        );
        assert!(
            !replay.passed(),
            "edit {index}: an edited file must not pass"
        );
    }
    // Unedited, it replays.
    std::fs::write(&file, &text).unwrap();
    let replay = Check::new("racy_counter_edited")
        .expect(Expect::LostUpdates)
        .replay_from(&file)
        .run(racy_counter(3));
    assert!(replay.passed(), "{replay}");
}

#[test]
fn the_replay_variable_makes_cargo_test_replay_the_schedule() {
    const TEST: &str = "user_api::the_replay_variable_makes_cargo_test_replay_the_schedule";
    let dir = ScheduleDir::new(TEST);
    let (report, file) = racy_schedule("racy_counter_replayed_by_variable", &dir.0);
    if std::env::var_os(REPLAY_VARIABLE).is_some() {
        // Run by the replay command below: the check replayed the schedule and it still fails.
        let engine = &report.engines[0];
        assert!(engine.replayed_from.is_some(), "{report}");
        assert_eq!(engine.executions, 1);
        assert!(engine.lost_updates > 0);
        return;
    }
    let command = report.engines[0]
        .first_failure
        .as_ref()
        .and_then(|f| f.replay_command.clone())
        .unwrap();
    assert!(
        command.ends_with(&format!(
            "cargo test --release {TEST} -- --exact --nocapture"
        )),
        "{command}"
    );
    // What the command does, run on this test binary.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture"])
        .env(REPLAY_VARIABLE, &file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_panicking_body_is_a_failed_execution_not_a_crash() {
    let panic_dir = ScheduleDir::new("panic");
    let report = Check::new("panicking_thread")
        .runs(5)
        .schedule_dir(&panic_dir.0)
        .run(|| {
            let counter = Arc::new(Shared::new(0));
            let worker = {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    counter.set(1);
                    panic!("the worker gave up");
                })
            };
            worker.join().unwrap();
        });
    assert!(!report.passed());
    let message = report.to_string();
    for engine in &report.engines {
        assert!(engine.panicked_executions > 0, "{engine}");
        assert_eq!(engine.lost_updates, 0);
        let failure = engine.first_failure.as_ref().unwrap();
        let FailureKind::Panicked { message } = &failure.kind else {
            panic!("a panic is reported as a panic: {engine}");
        };
        assert!(message.contains("the worker gave up"), "{message}");
    }
    // Under shuttle the panicking execution is replayable too.
    let shuttle = report.engine(SHUTTLE).unwrap();
    let failure = shuttle.first_failure.as_ref().unwrap();
    assert!(failure.replay_command.is_some(), "{message}");
    assert!(
        failure
            .interleaving
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .any(|s| s.access == "write shared#1 <- 1"),
        "{message}"
    );
}

#[test]
fn a_deadlock_under_shuttle_is_a_failure_with_its_interleaving() {
    let deadlock_dir = ScheduleDir::new("deadlock");
    let report = Check::new("lock_order_inversion")
        .engines([SHUTTLE])
        .runs(100)
        .schedule_dir(&deadlock_dir.0)
        .run(|| {
            let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
            let other = {
                let (a, b) = (Arc::clone(&a), Arc::clone(&b));
                thread::spawn(move || {
                    let _b = b.lock().unwrap();
                    let _a = a.lock().unwrap();
                })
            };
            {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            }
            other.join().unwrap();
        });
    let engine = &report.engines[0];
    // A deadlock ends its own execution: every execution runs, and those that deadlock are
    // counted (shuttle used to end the run at the first).
    assert_eq!(engine.executions, 100, "{report}");
    assert!(engine.deadlocked_executions > 1, "{report}");
    assert_eq!(
        engine.failure_kinds.get(&Kind::Deadlock),
        Some(&engine.deadlocked_executions),
        "{report}"
    );
    let failure = engine.first_failure.as_ref().unwrap();
    // Whichever thread took its first lock first, the cycle is named.
    let cycles = [
        "deadlock: main waits for mutex#2 held by Thread-1, which waits for mutex#1 held by main",
        "deadlock: Thread-1 waits for mutex#1 held by main, which waits for mutex#2 held by \
         Thread-1",
    ];
    assert!(
        matches!(&failure.kind, FailureKind::Deadlocked { message } if cycles.contains(&message.as_str())),
        "{report}"
    );
    assert!(report.to_string().contains("lock mutex#"), "{report}");
}

#[test]
fn primitives_outside_a_check_say_where_they_belong() {
    let payload = panic::catch_unwind(|| Shared::new(0)).expect_err("no check is running");
    assert!(
        message_of(payload).contains("inside the body given to Check::run"),
        "a clear message"
    );
}
