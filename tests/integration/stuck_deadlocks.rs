//! Under shuttle, deadlocks that close no cycle at a mutex are declared by contend too: a wait
//! that leaves every thread stuck (a condition variable nobody will notify, a join of a stuck
//! thread) or closes a cycle at a read-write lock ends its own execution as a deadlock, the
//! run goes on, and shuttle prints nothing behind the report.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use contend::check::{Check, Engine, EngineReport, FailureKind, Scheduler};
use contend::sync::{Condvar, Mutex, RwLock};
use contend::thread;
use tempfile::TempDir;

use common::{contend, run_quietly};

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);

/// A lost wake-up: the waiter tests the flag before it takes the lock, so the setter may set it
/// and notify in between, and the waiter then waits for a notify that never comes.
const LOST_WAKEUP: &str = r#"[[scenario]]
name = "notify-before-wait"
workload = "program"
engine = "shuttle"
runs = 2000
seed = 1
expect = "deadlock"
[scenario.program]
shared = { ready = 0 }
locks = ["m"]
conds = ["c"]
threads = [
  { name = "waiter", code = "if ready == 0 { lock m; wait c m; unlock m }" },
  { name = "setter", code = "lock m; ready = 1; notify c; unlock m" },
]
"#;

#[test]
fn a_lost_wakeup_regression_runs_every_run_quietly_each_failure_a_deadlock() {
    let dir = TempDir::new().unwrap();
    let (run, report) = run_quietly(dir.path(), "lost.toml", LOST_WAKEUP);
    // shuttle used to print `Test deadlocked ...` and end the scenario at the first.
    assert_eq!(run.stderr, "", "nothing behind the report");
    assert_eq!(run.code, 0, "the expected deadlock shows: {}", run.stdout);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["runs"], 2000, "every run runs: {scenario}");
    let failing = scenario["failing_runs"].as_u64().unwrap();
    assert!(failing > 0, "the lost wake-up shows: {scenario}");
    assert_eq!(
        scenario["failure_kinds"]["deadlock"].as_u64(),
        Some(failing),
        "every failing run is a deadlock: {scenario}"
    );
    let file = scenario["schedule_file"]
        .as_str()
        .expect("a schedule saved");
    assert_replays_to_a_deadlock(file, dir.path());
}

/// Replays `file`; asserts the failure reproduces as a deadlock naming the waits.
fn assert_replays_to_a_deadlock(file: &str, dir: &Path) {
    let replay = contend(&["replay", file], dir);
    assert_eq!(replay.code, 1, "{}{}", replay.stdout, replay.stderr);
    assert_eq!(replay.stderr, "");
    let outcome = replay
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("outcome: "))
        .unwrap_or_else(|| panic!("no outcome in {}", replay.stdout));
    assert_eq!(
        outcome,
        "deadlock: no thread can go on: main waits for waiter to finish; waiter waits for c"
    );
}

/// The message of the engine's first failure, which must be a deadlock.
fn deadlock_message(engine: &EngineReport) -> &str {
    match &engine.first_failure.as_ref().expect("a failure").kind {
        FailureKind::Deadlocked { message } => message,
        other => panic!("a deadlock is reported as a deadlock, not {other:?}"),
    }
}

/// Runs `body` under shuttle's random scheduler for 2,000 executions; asserts that every
/// execution ran and that every failing one is a deadlock, and returns the engine's report.
fn every_execution_runs(name: &str, body: impl Fn() + Send + Sync + 'static) -> EngineReport {
    let report = Check::new(name)
        .engines([SHUTTLE])
        .runs(2000)
        .max_steps(10_000)
        .schedule_dir(std::env::temp_dir().join("contend-stuck-deadlock-tests"))
        .run(body);
    assert_eq!(report.engines.len(), 1);
    let engine = report.engines.into_iter().next().expect("one engine");
    let summary = format!(
        "{} executions, {} failing, {} deadlocked",
        engine.executions, engine.failing_executions, engine.deadlocked_executions
    );
    assert_eq!(engine.executions, 2000, "{summary} {:?}", engine.notes);
    assert!(engine.deadlocked_executions > 0, "{summary}");
    assert_eq!(
        engine.deadlocked_executions, engine.failing_executions,
        "{summary}"
    );
    engine
}

#[test]
fn a_notify_one_taken_by_the_other_waiter_regression_is_a_deadlock_in_its_own_execution() {
    // Two waiters, one notify_one, and the waiters wait with `if`, not `while`: whichever does
    // not take the signal waits for good, while main joins it.
    let engine = every_execution_runs("one_notify_two_waiters", || {
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pair = Arc::clone(&pair);
                thread::spawn(move || {
                    let (items, condvar) = &*pair;
                    let mut items = items.lock().unwrap();
                    if *items == 0 {
                        items = condvar.wait(items).unwrap();
                    }
                    *items -= 1;
                })
            })
            .collect();
        {
            let (items, condvar) = &*pair;
            let mut items = items.lock().unwrap();
            *items += 1;
            condvar.notify_one();
        }
        for waiter in waiters {
            let _ = waiter.join();
        }
    });
    assert!(
        deadlock_message(&engine).starts_with("deadlock: no thread can go on: main waits for "),
        "{}",
        deadlock_message(&engine)
    );
}

#[test]
fn a_cycle_closed_at_a_read_write_lock_regression_is_a_deadlock_with_its_cycle() {
    // Thread-1 writes r, then locks m; main locks m, then writes r. Where main's write closes
    // the cycle, shuttle used to end the run.
    let engine = every_execution_runs("rwlock_cycle", || {
        let r = Arc::new(RwLock::new(0));
        let m = Arc::new(Mutex::new(0));
        let (r2, m2) = (Arc::clone(&r), Arc::clone(&m));
        let writer = thread::spawn(move || {
            let _write = r2.write().unwrap();
            let _locked = m2.lock().unwrap();
        });
        {
            let _locked = m.lock().unwrap();
            let _write = r.write().unwrap();
        }
        let _ = writer.join();
    });
    let message = deadlock_message(&engine);
    assert!(
        message.contains("waits for rwlock#1 held by") && message.contains("waits for mutex#1"),
        "{message}"
    );
}
