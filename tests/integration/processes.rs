//! The processes engine: worker processes sharing a mapped counter or a manager's value, the
//! ledger exact across them, and nothing left behind when a worker dies or a run hangs.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{contend, counter};
use contend::engine::processes::scratch_root;
use contend::report::{ScenarioReport, Verdict};
use contend::runner::{RunOptions, run_scenario};
use contend::scenario::{EngineSpec, Expectation, ProcessesSettings, Storage, SyncMode};

fn processes(storage: Storage) -> EngineSpec {
    EngineSpec::Processes(ProcessesSettings {
        storage,
        ..ProcessesSettings::default()
    })
}

/// Runs a scenario in-process, its workers being the contend binary built for these tests.
fn run(
    storage: Storage,
    sync: SyncMode,
    threads: &[(i64, u64)],
    runs: u64,
    expect: Expectation,
) -> ScenarioReport {
    let scenario = counter("processes", processes(storage), sync, 10, threads, expect)
        .with_runs(runs)
        .with_seed(7);
    let options = RunOptions {
        schedules: false,
        worker_program: Some(PathBuf::from(env!("CARGO_BIN_EXE_contend"))),
        ..RunOptions::default()
    };
    // An execution whose lost updates did not reconcile with its final value is an error here.
    run_scenario(&scenario, &options).expect("every execution reconciles")
}

/// The lost updates of all runs account for the distance of every final value from the
/// expected one.
fn assert_reconciled(report: &ScenarioReport) {
    let distance: i128 = report
        .outcomes
        .iter()
        .map(|o| i128::from(report.expected_final - o.value) * i128::from(o.count))
        .sum();
    assert_eq!(report.net_lost, distance, "{report:#?}");
    assert_eq!(
        report.outcomes.iter().map(|o| o.count).sum::<u64>(),
        report.runs
    );
}

/// Worker processes racing on 2 x 2,000 ops lose updates in 94.5% of runs (200 runs, 2
/// cores). Sized for a loaded machine where they lose in only one run in two: 24 runs all
/// losing nothing then has a chance of 2^-24, below one in ten million.
#[test]
fn shared_memory_without_a_lock_loses_updates_that_reconcile() {
    let report = run(
        Storage::SharedMemory,
        SyncMode::None,
        &[(1, 2_000), (-1, 2_001)],
        24,
        Expectation::LostUpdates,
    );
    assert_eq!(report.runs, 24);
    assert_eq!(report.failed_runs, 0, "{:?}", report.failures);
    assert!(report.lost_update_runs > 0, "{report:#?}");
    assert!(report.lost_updates > 0);
    assert_eq!(report.verdict, Verdict::Pass);
    assert_reconciled(&report);
    assert_eq!(report.processes.unwrap().workers, 2);
}

#[test]
fn shared_memory_with_the_file_lock_loses_nothing_at_the_lessons_numbers() {
    let report = run(
        Storage::SharedMemory,
        SyncMode::Mutex,
        &[(1, 10_000), (-1, 10_001)],
        5,
        Expectation::NoLostUpdates,
    );
    assert_eq!(report.lost_updates, 0);
    assert_eq!(report.overwrites, 0);
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!((report.outcomes[0].value, report.outcomes[0].count), (9, 5));
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn atomic_and_spinlock_updates_in_shared_memory_lose_nothing() {
    for sync in [SyncMode::Atomic, SyncMode::Spin] {
        let report = run(
            Storage::SharedMemory,
            sync,
            &[(1, 2_000), (-1, 2_001), (1, 500)],
            4,
            Expectation::NoLostUpdates,
        );
        assert_eq!(report.lost_updates, 0, "{sync}");
        assert_eq!(report.outcomes[0].value, 509, "{sync}");
        assert_eq!(report.verdict, Verdict::Pass, "{sync}");
    }
}

/// The flag lock across processes loses updates in 99.5% of runs of 2 x 3,000 ops (200 runs,
/// 2 cores); at even one run in two, 24 runs all losing nothing has a chance of 2^-24, below
/// one in ten million.
#[test]
fn the_broken_flag_lock_in_shared_memory_loses_updates() {
    let report = run(
        Storage::SharedMemory,
        SyncMode::Flag,
        &[(1, 3_000), (-1, 3_001)],
        24,
        Expectation::LostUpdates,
    );
    assert!(report.lost_updates > 0, "{report:#?}");
    assert_reconciled(&report);
}

/// A managed value raced on 2 x 1,000 ops loses updates in 100 of 100 runs (load 6, 2 cores).
/// Sized for a run that misses one time in three: 14 runs all losing nothing has a chance of
/// 3^-14, below one in a million.
#[test]
fn a_managed_value_without_a_lock_loses_updates_and_with_it_none() {
    let racy = run(
        Storage::Manager,
        SyncMode::None,
        &[(1, 1_000), (-1, 1_001)],
        14,
        Expectation::LostUpdates,
    );
    assert!(racy.lost_update_runs > 0, "{racy:#?}");
    assert_eq!(racy.failed_runs, 0, "{:?}", racy.failures);
    assert_reconciled(&racy);
    assert_eq!(racy.processes.unwrap().storage, Storage::Manager);

    let locked = run(
        Storage::Manager,
        SyncMode::Mutex,
        &[(1, 1_000), (-1, 1_001)],
        3,
        Expectation::NoLostUpdates,
    );
    assert_eq!(locked.lost_updates, 0);
    assert_eq!((locked.outcomes[0].value, locked.outcomes[0].count), (9, 3));
}

/// The processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the command may hold spaces, so split after its `)`.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == parent {
            children.push(pid);
        }
    }
    children
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'))
}

/// The execution folders contend process `pid` left behind.
fn folders_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("contend-{pid}-");
    std::fs::read_dir(scratch_root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const LONG_RUN: &str = r#"
[[scenario]]
name = "long"
engine = "processes"
sync = "mutex"
initial = 10
threads = [{ delta = 1, ops = 100_000 }, { delta = -1, ops = 100_000 }]
jitter = { yield_probability = 0.0, spin_probability = 0.0, sleep_probability = 1.0, max_sleep_us = 2_000 }
runs = 1
seed = 1
expect = "no-lost-updates"
"#;

/// Starts `contend run` on a config whose one execution runs for minutes (a sleep of up to 2 ms
/// at each of its 600,000 accesses), and waits until its two workers run.
fn start_long_run(dir: &std::path::Path) -> (std::process::Child, Vec<u32>) {
    std::fs::write(dir.join("long.toml"), LONG_RUN).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_contend"))
        .current_dir(dir)
        .args(["run", "long.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut workers = Vec::new();
    wait_until("two workers", || {
        workers = children_of(pid);
        workers.len() == 2
    });
    // Both have attached once the folder is gone.
    wait_until("the workers to attach", || folders_of(pid).is_empty());
    (child, workers)
}

#[test]
fn a_killed_worker_fails_the_run_and_leaves_no_process_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let (child, workers) = start_long_run(dir.path());
    let pid = child.id();
    let victim = workers[1];
    let killed = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Which worker, and how it ended.
    let worker = workers.iter().position(|&w| w == victim).unwrap() + 1;
    assert!(
        stdout.contains(&format!(
            "worker {worker} (pid {victim}) was killed by signal 9 (SIGKILL)"
        )),
        "{stdout}"
    );
    for worker in workers {
        assert!(!alive(worker), "worker {worker} outlived the run");
    }
    assert!(folders_of(pid).is_empty(), "{:?}", folders_of(pid));
}

#[test]
fn workers_end_when_contend_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, workers) = start_long_run(dir.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the orphaned workers to exit", || {
        workers.iter().all(|&w| !alive(w))
    });
    assert!(folders_of(pid).is_empty(), "{:?}", folders_of(pid));
}

#[test]
fn a_run_that_outlives_its_timeout_is_killed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = LONG_RUN.replace("runs = 1", "runs = 3\ntimeout = \"300ms\"");
    std::fs::write(dir.path().join("stuck.toml"), config).unwrap();
    let started = Instant::now();
    let run = contend(&["run", "stuck.toml", "--json", "report.json"], dir.path());
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "timed out after 300ms: worker 1 and worker 2 still running; contend killed them"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stopped after run 0 timed out"),
        "{}",
        run.stdout
    );
    // Not the minutes the workload would take.
    assert!(started.elapsed() < Duration::from_secs(60));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["runs"], 1);
    assert_eq!(scenario["failed_runs"], 1);
    assert_eq!(scenario["processes"]["workers"], 2);
    assert_eq!(scenario["processes"]["timeout_seconds"], 0.3);
}

#[test]
fn a_worker_program_that_is_not_contend_fails_the_run_in_words() {
    let scenario = counter(
        "not-contend",
        processes(Storage::SharedMemory),
        SyncMode::None,
        0,
        &[(1, 10), (1, 10)],
        Expectation::NoLostUpdates,
    )
    .with_runs(1);
    let options = RunOptions {
        schedules: false,
        worker_program: Some(PathBuf::from("/bin/true")),
        ..RunOptions::default()
    };
    let report = run_scenario(&scenario, &options).unwrap();
    assert_eq!(report.failed_runs, 1);
    assert!(
        report.failures[0].contains("exited without running its part of the workload"),
        "{:?}",
        report.failures
    );
}

#[test]
fn the_folders_of_a_contend_that_died_are_removed_by_the_next_run() {
    // No process has this id: pids stay below 2^22 on Linux.
    let abandoned = scratch_root().join("contend-999999999-abandoned");
    std::fs::create_dir_all(&abandoned).unwrap();
    std::fs::write(abandoned.join("region"), b"left behind").unwrap();
    run(
        Storage::SharedMemory,
        SyncMode::Mutex,
        &[(1, 10), (1, 10)],
        1,
        Expectation::NoLostUpdates,
    );
    assert!(!abandoned.exists());
}
