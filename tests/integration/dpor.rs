//! `Scheduler::Dpor`: dynamic partial-order reduction finds what plain DFS finds (lost updates,
//! check-then-act overdrafts, deadlocks), reports a passing search as exhaustive with its class
//! count, and reaches the same final values as DFS on random small programs.

use std::collections::BTreeSet;
use std::sync::Arc;

use contend::check::sync::atomic::{AtomicI64, Ordering};
use contend::check::sync::{Condvar, Mutex};
use contend::check::{Check, CheckReport, Engine, Expect, Kind, Scheduler, Shared, thread};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;

const DPOR: Engine = Engine::Shuttle(Scheduler::Dpor);
const DFS: Engine = Engine::Shuttle(Scheduler::Dfs);

fn check(name: &str, engine: Engine, dir: &TempDir) -> Check {
    Check::new(name)
        .schedule_dir(dir.path())
        .runs(1_000_000)
        .engines([engine])
}

/// Two threads add 1 to a counter `increments` times, with a read then a write, locked or not.
fn counter(increments: u64, locked: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let lock = Arc::new(Mutex::new(()));
        let count = Arc::new(Shared::named("count", 0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (lock, count) = (Arc::clone(&lock), Arc::clone(&count));
                thread::spawn(move || {
                    for _ in 0..increments {
                        let _guard = locked.then(|| lock.lock().unwrap());
                        let now = count.get();
                        count.set(now + 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

/// Two threads withdraw 60 from 100 after checking the balance, under a lock around the whole
/// check-then-act or only around each access; the balance must not go below zero.
fn withdrawals(whole_section_locked: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let lock = Arc::new(Mutex::new(()));
        let balance = Arc::new(Shared::named("balance", 100));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (lock, balance) = (Arc::clone(&lock), Arc::clone(&balance));
                thread::spawn(move || {
                    let whole = whole_section_locked.then(|| lock.lock().unwrap());
                    let enough = {
                        let _each = (!whole_section_locked).then(|| lock.lock().unwrap());
                        balance.get() >= 60
                    };
                    if enough {
                        let _each = (!whole_section_locked).then(|| lock.lock().unwrap());
                        let now = balance.get();
                        balance.set(now - 60);
                    }
                    drop(whole);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert!(balance.get() >= 0, "overdrawn: {}", balance.get());
    }
}

/// Two threads take two locks, in opposite orders or in the same order.
fn two_locks(opposite: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let first = {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            })
        };
        let second = thread::spawn(move || {
            if opposite {
                let _b = b.lock().unwrap();
                let _a = a.lock().unwrap();
            } else {
                let _a = a.lock().unwrap();
                let _b = b.lock().unwrap();
            }
        });
        first.join().unwrap();
        second.join().unwrap();
    }
}

/// The equivalence classes an exhausted DPOR search reports in its notes.
fn classes(report: &CheckReport) -> Option<u64> {
    report.engines[0].notes.iter().find_map(|note| {
        let rest = note.strip_prefix("exhaustive: every interleaving was checked (")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn dpor_finds_the_lost_update_of_the_racy_counter() {
    let dir = TempDir::new().unwrap();
    let report = check("dpor_racy", DPOR, &dir)
        .expect(Expect::LostUpdates)
        .run(counter(2, false));
    assert!(report.passed(), "{report}");
    assert!(report.engines[0].lost_update_executions > 0, "{report}");
}

#[test]
fn dpor_reports_the_locked_counter_exhaustive_with_one_class_per_order_of_the_sections() {
    let dir = TempDir::new().unwrap();
    for (increments, orders) in [(1, 2), (2, 6), (3, 20), (4, 70)] {
        let report = check("dpor_locked", DPOR, &dir).run(counter(increments, true));
        assert!(report.passed(), "{report}");
        assert_eq!(classes(&report), Some(orders), "{report}");
        assert_eq!(report.engines[0].executions, orders, "{report}");
    }
}

#[test]
fn dpor_finds_the_check_then_act_overdraft_and_passes_its_fix_exhaustively() {
    let dir = TempDir::new().unwrap();
    let broken = check("dpor_overdraft", DPOR, &dir)
        .expect(Expect::Fails(Kind::Panic))
        .run(withdrawals(false));
    assert!(broken.passed(), "{broken}");
    let fixed = check("dpor_overdraft_fixed", DPOR, &dir).run(withdrawals(true));
    assert!(fixed.passed(), "{fixed}");
    assert_eq!(classes(&fixed), Some(2), "{fixed}");
}

#[test]
fn dpor_finds_the_lock_order_deadlock_and_passes_the_same_order_exhaustively() {
    let dir = TempDir::new().unwrap();
    let broken = check("dpor_deadlock", DPOR, &dir)
        .expect(Expect::Fails(Kind::Deadlock))
        .run(two_locks(true));
    assert!(broken.passed(), "{broken}");
    let fixed = check("dpor_same_order", DPOR, &dir).run(two_locks(false));
    assert!(fixed.passed(), "{fixed}");
    assert!(classes(&fixed).is_some_and(|c| c >= 2), "{fixed}");
}

#[test]
fn a_preemption_bound_of_zero_misses_the_lost_update_and_one_finds_it() {
    let dir = TempDir::new().unwrap();
    let none = check("bound_0", DFS, &dir)
        .max_preemptions(0)
        .run(counter(1, false));
    assert!(none.passed(), "{none}");
    assert!(
        none.engines[0]
            .notes
            .iter()
            .any(|n| n.contains("every schedule with at most 0 preemptions")),
        "{none}"
    );
    let one = check("bound_1", DPOR, &dir)
        .max_preemptions(1)
        .expect(Expect::LostUpdates)
        .run(counter(1, false));
    assert!(one.passed(), "{one}");
}

/// One operation of a random program's thread.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Reads cell `from` and writes cell `to` with the value plus `add`.
    Copy { from: usize, to: usize, add: i64 },
    /// Writes `value` to cell `to` without reading.
    Write { to: usize, value: i64 },
    /// Adds `add` to the atomic.
    AtomicAdd { add: i64 },
    /// Under the lock, reads cell `cell` and writes it back plus one.
    Locked { cell: usize },
    /// Reads the atomic and writes it into cell `to`.
    Observe { to: usize },
    /// Takes lock `first`, then the other lock, and adds one to cell `cell` under both: two
    /// threads taking them in opposite orders can deadlock.
    Nested { first: usize, cell: usize },
}

fn random_program(seed: u64) -> Vec<Vec<Op>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let threads = rng.random_range(2..=3);
    (0..threads)
        .map(|_| {
            let ops = if threads == 2 {
                rng.random_range(1..=2)
            } else {
                1
            };
            (0..ops)
                .map(|_| match rng.random_range(0..6) {
                    0 => Op::Copy {
                        from: rng.random_range(0..2),
                        to: rng.random_range(0..2),
                        add: rng.random_range(1..=3),
                    },
                    1 => Op::Write {
                        to: rng.random_range(0..2),
                        value: rng.random_range(10..=20),
                    },
                    2 => Op::AtomicAdd {
                        add: rng.random_range(1..=3),
                    },
                    3 => Op::Locked {
                        cell: rng.random_range(0..2),
                    },
                    4 => Op::Observe {
                        to: rng.random_range(0..2),
                    },
                    _ => Op::Nested {
                        first: rng.random_range(0..2),
                        cell: rng.random_range(0..2),
                    },
                })
                .collect()
        })
        .collect()
}

fn run_program(program: Arc<Vec<Vec<Op>>>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let cells = Arc::new([Shared::named("x", 0), Shared::named("y", 0)]);
        let atomic = Arc::new(AtomicI64::new(0));
        let lock = Arc::new(Mutex::new(()));
        let locks = Arc::new([Mutex::new(()), Mutex::new(())]);
        let handles: Vec<_> = program
            .iter()
            .cloned()
            .map(|ops| {
                let (cells, atomic, lock) =
                    (Arc::clone(&cells), Arc::clone(&atomic), Arc::clone(&lock));
                let locks = Arc::clone(&locks);
                thread::spawn(move || {
                    for op in ops {
                        match op {
                            Op::Copy { from, to, add } => {
                                let value = cells[from].get();
                                cells[to].set(value + add);
                            }
                            Op::Write { to, value } => cells[to].set(value),
                            Op::AtomicAdd { add } => {
                                atomic.fetch_add(add, Ordering::SeqCst);
                            }
                            Op::Locked { cell } => {
                                let _guard = lock.lock().unwrap();
                                let value = cells[cell].get();
                                cells[cell].set(value + 1);
                            }
                            Op::Observe { to } => cells[to].set(atomic.load(Ordering::SeqCst)),
                            Op::Nested { first, cell } => {
                                let _first = locks[first].lock().unwrap();
                                let _second = locks[1 - first].lock().unwrap();
                                let value = cells[cell].get();
                                cells[cell].set(value + 1);
                            }
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let last = Shared::named("atomic", 0);
        last.set(atomic.load(Ordering::SeqCst));
    }
}

/// The final values reached and whether an update was lost, or, when the search found a
/// deadlock, only that.
fn reached(report: &CheckReport) -> (BTreeSet<Vec<i64>>, bool, bool) {
    let engine = &report.engines[0];
    if engine.deadlocked_executions > 0 {
        return (BTreeSet::new(), false, true);
    }
    let finals = engine
        .final_values
        .iter()
        .map(|f| f.values.clone())
        .collect();
    (finals, engine.lost_update_executions > 0, false)
}

/// A body searched by `dfs` and `dpor` with the same settings.
struct AgainstDfs<'a> {
    dir: &'a TempDir,
    /// The most schedules `dfs` may take.
    dfs_runs: u64,
    max_steps: Option<u64>,
}

impl AgainstDfs<'_> {
    fn check(&self, name: &str, engine: Engine) -> Check {
        let check = check(name, engine, self.dir).expect(Expect::AnyFailure);
        match self.max_steps {
            Some(steps) => check.max_steps(steps),
            None => check,
        }
    }

    /// The `dfs` and `dpor` reports of `body`, when `dfs` exhausted it or `failed` holds of
    /// its report; `None` otherwise: too many schedules for plain DFS, no reference to compare.
    fn compare<F>(
        &self,
        body: impl Fn() -> F,
        failed: impl Fn(&CheckReport) -> bool,
    ) -> Option<(CheckReport, CheckReport)>
    where
        F: Fn() + Send + Sync + 'static,
    {
        let dfs = self.check("by_dfs", DFS).runs(self.dfs_runs).run(body());
        let exhausted = dfs.engines[0]
            .notes
            .iter()
            .any(|n| n.contains("the search is exhaustive") && !n.contains("not exhaustive"));
        if !exhausted && !failed(&dfs) {
            return None;
        }
        let dpor = self.check("by_dpor", DPOR).run(body());
        Some((dfs, dpor))
    }
}

fn deadlocked(report: &CheckReport) -> bool {
    report.engines[0].deadlocked_executions > 0
}

#[test]
fn dpor_reaches_the_final_values_and_failures_dfs_reaches_on_random_programs() {
    let dir = TempDir::new().unwrap();
    let search = AgainstDfs {
        dir: &dir,
        dfs_runs: 5_000,
        max_steps: None,
    };
    let (mut compared, mut reduced, mut deadlocks) = (0, 0, 0);
    for seed in 0..80 {
        let program = Arc::new(random_program(seed));
        let Some((dfs, dpor)) = search.compare(|| run_program(Arc::clone(&program)), deadlocked)
        else {
            continue;
        };
        assert_eq!(
            reached(&dfs),
            reached(&dpor),
            "seed {seed}, program {program:?}"
        );
        if deadlocked(&dfs) {
            deadlocks += 1;
        } else {
            assert!(classes(&dpor).is_some(), "seed {seed}: {dpor}");
            assert!(dpor.engines[0].executions <= dfs.engines[0].executions);
            if dpor.engines[0].executions < dfs.engines[0].executions {
                reduced += 1;
            }
        }
        compared += 1;
        if compared == 30 {
            break;
        }
    }
    assert!(compared >= 20, "only {compared} programs compared");
    assert!(
        deadlocks > 0,
        "no program deadlocked: the comparison covered no deadlock"
    );
    assert!(
        reduced > (compared - deadlocks) / 2,
        "dpor ran fewer executions than dfs on {reduced} of {compared}"
    );
}

/// One operation of a random program whose threads may wait for each other on a flag.
#[derive(Clone, Copy, Debug)]
enum SpinOp {
    /// An operation of the programs without waits.
    Plain(Op),
    /// Writes `value` to the flag.
    Raise { value: i64 },
    /// Spins until the flag holds `value`, re-reading it (and yielding between reads if
    /// `yields`).
    Await { value: i64, yields: bool },
}

fn random_spin_program(seed: u64) -> Vec<Vec<SpinOp>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let threads = rng.random_range(2..=3);
    (0..threads)
        .map(|_| {
            (0..rng.random_range(1..=2))
                .map(|_| match rng.random_range(0..5) {
                    0 | 1 => SpinOp::Await {
                        value: rng.random_range(1..=2),
                        yields: rng.random_bool(0.5),
                    },
                    2 => SpinOp::Raise {
                        value: rng.random_range(1..=2),
                    },
                    3 => SpinOp::Plain(Op::Copy {
                        from: rng.random_range(0..2),
                        to: rng.random_range(0..2),
                        add: rng.random_range(1..=3),
                    }),
                    _ => SpinOp::Plain(Op::Locked {
                        cell: rng.random_range(0..2),
                    }),
                })
                .collect()
        })
        .collect()
}

fn run_spin_program(program: Arc<Vec<Vec<SpinOp>>>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let cells = Arc::new([Shared::named("x", 0), Shared::named("y", 0)]);
        let flag = Arc::new(Shared::named("flag", 0));
        let lock = Arc::new(Mutex::new(()));
        let handles: Vec<_> = program
            .iter()
            .cloned()
            .map(|ops| {
                let (cells, flag, lock) =
                    (Arc::clone(&cells), Arc::clone(&flag), Arc::clone(&lock));
                thread::spawn(move || {
                    for op in ops {
                        match op {
                            SpinOp::Raise { value } => flag.set(value),
                            SpinOp::Await { value, yields } => {
                                while flag.get() != value {
                                    if yields {
                                        thread::yield_now();
                                    }
                                }
                            }
                            SpinOp::Plain(Op::Copy { from, to, add }) => {
                                let value = cells[from].get();
                                cells[to].set(value + add);
                            }
                            SpinOp::Plain(Op::Locked { cell }) => {
                                let _guard = lock.lock().unwrap();
                                let value = cells[cell].get();
                                cells[cell].set(value + 1);
                            }
                            SpinOp::Plain(other) => unreachable!("not generated: {other:?}"),
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

/// The final values reached and whether an update was lost, or, when the search stopped at a
/// livelock (every thread spinning on values no thread will change), only that.
fn reached_or_livelocked(report: &CheckReport) -> (BTreeSet<Vec<i64>>, bool, bool) {
    let engine = &report.engines[0];
    if engine.livelocked_executions > 0 {
        return (BTreeSet::new(), false, true);
    }
    assert_eq!(engine.failing_executions, 0, "{report}");
    reached(report)
}

#[test]
fn dpor_reaches_the_final_values_and_livelocks_dfs_reaches_on_random_programs_that_spin() {
    let dir = TempDir::new().unwrap();
    let search = AgainstDfs {
        dir: &dir,
        dfs_runs: 20_000,
        max_steps: Some(400),
    };
    let (mut compared, mut livelocks, mut spun) = (0, 0, 0);
    for seed in 0..200 {
        let program = Arc::new(random_spin_program(seed));
        let waits = program
            .iter()
            .flatten()
            .any(|op| matches!(op, SpinOp::Await { .. }));
        if !waits {
            continue;
        }
        let livelocked = |report: &CheckReport| report.engines[0].livelocked_executions > 0;
        let Some((dfs, dpor)) =
            search.compare(|| run_spin_program(Arc::clone(&program)), livelocked)
        else {
            continue;
        };
        assert_eq!(
            reached_or_livelocked(&dfs),
            reached_or_livelocked(&dpor),
            "seed {seed}, program {program:?}"
        );
        if livelocked(&dfs) {
            livelocks += 1;
        } else {
            assert!(classes(&dpor).is_some(), "seed {seed}: {dpor}");
            assert!(dpor.engines[0].executions <= dfs.engines[0].executions);
            spun += 1;
        }
        compared += 1;
        if compared == 30 {
            break;
        }
    }
    assert!(compared >= 20, "only {compared} programs compared");
    assert!(livelocks > 0, "no program livelocked");
    assert!(spun > 0, "no program that waits on the flag ended");
}

/// Two threads hand a flag back and forth: the second waits for the first to raise it, then
/// clears it; the first waits for that. A reader of the flag spins until it changes.
#[test]
fn dpor_and_dfs_exhaust_a_flag_handshake_that_spins_instead_of_running_forever() {
    let dir = TempDir::new().unwrap();
    for engine in [DFS, DPOR] {
        let report = check("handshake", engine, &dir).max_steps(1_000).run(|| {
            let flag = Arc::new(Shared::named("flag", 0));
            let other = Arc::clone(&flag);
            let waiter = thread::spawn(move || {
                while other.get() != 1 {}
                other.set(2);
            });
            flag.set(1);
            while flag.get() != 2 {
                thread::yield_now();
            }
            waiter.join().unwrap();
        });
        assert!(report.passed(), "{report}");
        assert!(
            report.engines[0]
                .notes
                .iter()
                .any(|n| n.contains("exhaustive") && !n.contains("not exhaustive")),
            "{report}"
        );
    }
}

/// One operation of a random program whose threads wait for each other on a condition
/// variable.
#[derive(Clone, Copy, Debug)]
enum WaitOp {
    /// Under the lock, adds `add` to the stock and notifies one waiter or all.
    Produce { add: i64, all: bool },
    /// Under the lock, waits until the stock holds `need` (re-checking it after each wake-up
    /// if `recheck`, as a correct wait does, or once, as the lost wake-up bug does), takes it,
    /// and writes what is left to the cell `record`: the final values tell the orders apart.
    Consume {
        need: i64,
        recheck: bool,
        record: usize,
    },
    /// Writes `value` to the cell `to` without the lock: it races with the waits.
    Write { to: usize, value: i64 },
}

fn random_wait_program(seed: u64) -> Vec<Vec<WaitOp>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let threads = rng.random_range(2..=3);
    (0..threads)
        .map(|_| {
            (0..rng.random_range(1..=2))
                .map(|_| match rng.random_range(0..5) {
                    0 | 1 => WaitOp::Produce {
                        add: rng.random_range(1..=2),
                        all: rng.random_bool(0.5),
                    },
                    2 | 3 => WaitOp::Consume {
                        need: rng.random_range(1..=2),
                        recheck: rng.random_bool(0.8),
                        record: rng.random_range(0..2),
                    },
                    _ => WaitOp::Write {
                        to: rng.random_range(0..2),
                        value: rng.random_range(10..=20),
                    },
                })
                .collect()
        })
        .collect()
}

fn run_wait_program(program: Arc<Vec<Vec<WaitOp>>>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let cells = Arc::new([Shared::named("x", 0), Shared::named("y", 0)]);
        let stock = Arc::new((Mutex::new(0i64), Condvar::new()));
        let handles: Vec<_> = program
            .iter()
            .cloned()
            .map(|ops| {
                let (cells, stock) = (Arc::clone(&cells), Arc::clone(&stock));
                thread::spawn(move || {
                    let (lock, condvar) = &*stock;
                    for op in ops {
                        match op {
                            WaitOp::Produce { add, all } => {
                                let mut held = lock.lock().unwrap();
                                *held += add;
                                if all {
                                    condvar.notify_all();
                                } else {
                                    condvar.notify_one();
                                }
                            }
                            WaitOp::Consume {
                                need,
                                recheck,
                                record,
                            } => {
                                let mut held = lock.lock().unwrap();
                                if recheck {
                                    while *held < need {
                                        held = condvar.wait(held).unwrap();
                                    }
                                } else if *held < need {
                                    held = condvar.wait(held).unwrap();
                                }
                                *held -= need;
                                cells[record].set(*held);
                            }
                            WaitOp::Write { to, value } => cells[to].set(value),
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

/// The final values reached, whether an update was lost and whether an execution deadlocked.
fn reached_with_deadlocks(report: &CheckReport) -> (BTreeSet<Vec<i64>>, bool, bool) {
    let engine = &report.engines[0];
    let finals = engine
        .final_values
        .iter()
        .map(|f| f.values.clone())
        .collect();
    (
        finals,
        engine.lost_update_executions > 0,
        engine.deadlocked_executions > 0,
    )
}

#[test]
fn dpor_reaches_the_final_values_and_deadlocks_dfs_reaches_on_random_programs_that_wait() {
    let dir = TempDir::new().unwrap();
    let search = AgainstDfs {
        dir: &dir,
        dfs_runs: 5_000,
        max_steps: None,
    };
    let (mut compared, mut reduced, mut deadlocks, mut waited) = (0, 0, 0, 0);
    for seed in 0..300 {
        let program = Arc::new(random_wait_program(seed));
        let waits = program
            .iter()
            .flatten()
            .any(|op| matches!(op, WaitOp::Consume { .. }));
        let Some((dfs, dpor)) =
            search.compare(|| run_wait_program(Arc::clone(&program)), deadlocked)
        else {
            continue;
        };
        assert_eq!(
            reached_with_deadlocks(&dfs),
            reached_with_deadlocks(&dpor),
            "seed {seed}, program {program:?}"
        );
        if deadlocked(&dfs) {
            deadlocks += 1;
        } else {
            assert!(classes(&dpor).is_some(), "seed {seed}: {dpor}");
            assert!(dpor.engines[0].executions <= dfs.engines[0].executions);
            reduced += usize::from(dpor.engines[0].executions < dfs.engines[0].executions);
            waited += usize::from(waits);
        }
        compared += 1;
        if compared == 60 {
            break;
        }
    }
    assert!(compared >= 40, "only {compared} programs compared");
    assert!(deadlocks > 0, "no program deadlocked");
    assert!(
        waited >= 10,
        "only {waited} programs that wait ran to the end"
    );
    assert!(
        reduced > (compared - deadlocks) / 2,
        "dpor ran fewer executions than dfs on {reduced} of {compared}"
    );
}
