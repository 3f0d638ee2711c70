//! Each primitive of `contend::sync` and `contend::thread` under both engines, used as another
//! crate would; and the bugs they exist to find.

use std::sync::Arc;
use std::time::Duration;

use contend::check::{Check, CheckReport, Engine, Expect, FailureKind, Scheduler, Shared};
use contend::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use contend::sync::{Barrier, Condvar, Mutex, Once, RwLock, mpsc, random};
use contend::thread;

const SHUTTLE: Engine = Engine::Shuttle(Scheduler::Random);
const BOTH: [Engine; 2] = [SHUTTLE, Engine::Threads];

/// A check on both engines, 30 executions each, that must lose no update and not panic.
fn passes_on_both(name: &str, body: impl Fn() + Send + Sync + 'static) -> CheckReport {
    let report = Check::new(name)
        .engines(BOTH)
        .runs(30)
        .deadlock_timeout(Duration::from_secs(60))
        .schedule_dir(std::env::temp_dir().join("contend-primitives-tests"))
        .expect(Expect::NoLostUpdates)
        .run(body);
    assert!(report.passed(), "{report}");
    for engine in &report.engines {
        assert_eq!(engine.executions, 30, "{engine}");
    }
    report
}

/// `threads` threads each run `work`, and the body joins them.
fn spawn_all(threads: usize, work: impl Fn(usize) + Send + Sync + 'static) {
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let work = Arc::clone(&work);
            thread::spawn(move || work(i))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn a_shared_cell_held_in_a_mutex_loses_no_update_on_both_engines() {
    passes_on_both("mutex_of_shared", || {
        let counter = Arc::new(Mutex::new(Shared::named("balance", 0)));
        let shared = Arc::clone(&counter);
        spawn_all(2, move |_| {
            for _ in 0..3 {
                shared.lock().unwrap().update(|v| v + 1);
            }
        });
        assert_eq!(counter.lock().unwrap().get(), 6);
    });
}

#[test]
fn a_value_read_under_one_lock_and_written_under_another_shows_its_stale_read_by_name() {
    // The check-then-act bug: the read and the write each hold the lock, but not together.
    let report = Check::new("split_critical_section")
        .engines([SHUTTLE])
        .runs(200)
        .schedule_dir(std::env::temp_dir().join("contend-primitives-tests"))
        .expect(Expect::LostUpdates)
        .run(|| {
            let balance = Arc::new(Mutex::new(Shared::named("balance", 0)));
            spawn_all(2, move |_| {
                let seen = balance.lock().unwrap().get();
                balance.lock().unwrap().set(seen + 1);
            });
        });
    assert!(report.passed(), "{report}");
    let text = report.to_string();
    for expected in [
        "lock mutex#1",
        "read balance -> 0",
        "unlock mutex#1",
        "(overwrites",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
}

#[test]
fn a_blocked_lock_attempt_shows_in_the_interleaving_with_its_holder() {
    let report = Check::new("blocked_lock_shown")
        .engines([SHUTTLE])
        .runs(200)
        .schedule_dir(std::env::temp_dir().join("contend-primitives-tests"))
        .expect(Expect::LostUpdates)
        .run(|| {
            let lock = Arc::new(Mutex::new(()));
            let counter = Arc::new(Shared::named("counter", 0));
            spawn_all(2, move |_| {
                {
                    let _held = lock.lock().unwrap();
                    thread::yield_now();
                }
                counter.update(|v| v + 1);
            });
        });
    let text = report.to_string();
    assert!(
        text.contains("lock mutex#1: blocked, held by Thread-"),
        "a blocked attempt in:\n{text}"
    );
}

#[test]
fn an_rwlock_gives_readers_a_consistent_pair_and_writers_exclusion_on_both_engines() {
    passes_on_both("rwlock_pair", || {
        let pair = Arc::new(RwLock::new((0, 0)));
        let shared = Arc::clone(&pair);
        spawn_all(3, move |i| {
            if i == 0 {
                let pair = shared.read().unwrap();
                assert_eq!(pair.0, pair.1, "a reader sees both halves of one write");
            } else {
                let mut pair = shared.write().unwrap();
                pair.0 += 1;
                thread::yield_now();
                pair.1 += 1;
            }
        });
        assert_eq!(*pair.read().unwrap(), (2, 2));
    });
}

/// Consumers that wait on a condition variable for an item; with `guard_with_if`, the
/// `if`-instead-of-`while` bug: a consumer woken after another took the item finds none.
fn consumers(guard_with_if: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let queue = Arc::new((Mutex::new(Vec::<i32>::new()), Condvar::new()));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    let (items, available) = &*queue;
                    let mut items = items.lock().unwrap();
                    if guard_with_if {
                        if items.is_empty() {
                            items = available.wait(items).unwrap();
                        }
                    } else {
                        while items.is_empty() {
                            items = available.wait(items).unwrap();
                        }
                    }
                    items.pop().expect("an item to consume")
                })
            })
            .collect();
        let (items, available) = &*queue;
        for item in 0..2 {
            items.lock().unwrap().push(item);
            available.notify_all();
        }
        for consumer in consumers {
            consumer.join().unwrap();
        }
    }
}

#[test]
fn a_condvar_if_instead_of_while_is_found_under_shuttle() {
    let report = Check::new("condvar_if_not_while")
        .engines([SHUTTLE])
        .runs(500)
        .schedule_dir(std::env::temp_dir().join("contend-primitives-tests"))
        .run(consumers(true));
    assert!(!report.passed(), "{report}");
    let engine = &report.engines[0];
    let failure = engine.first_failure.as_ref().unwrap();
    match &failure.kind {
        FailureKind::Panicked { message } => {
            assert!(message.contains("an item to consume"), "{message}")
        }
        other => panic!("a panic, not {other:?}"),
    }
    let text = report.to_string();
    for expected in ["wait condvar#1 (unlocks mutex#1)", "notify_all condvar#1"] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
}

#[test]
fn a_condvar_guarded_by_while_passes_on_both_engines() {
    passes_on_both("condvar_while", consumers(false));
}

#[test]
fn a_barrier_lets_every_thread_see_every_write_before_it_on_both_engines() {
    passes_on_both("barrier", || {
        let barrier = Arc::new(Barrier::new(3));
        let arrived = Arc::new(AtomicUsize::new(0));
        let leaders = Arc::new(AtomicUsize::new(0));
        let counts = Arc::clone(&leaders);
        spawn_all(3, move |_| {
            arrived.fetch_add(1, Ordering::SeqCst);
            if barrier.wait().is_leader() {
                counts.fetch_add(1, Ordering::SeqCst);
            }
            assert_eq!(arrived.load(Ordering::SeqCst), 3);
        });
        assert_eq!(leaders.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn once_runs_its_initialiser_exactly_once_on_both_engines() {
    passes_on_both("once", || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        spawn_all(3, move |_| {
            once.call_once(|| {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            assert!(once.is_completed());
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn channels_deliver_every_message_on_both_engines() {
    passes_on_both("channels", || {
        for bound in [None, Some(0), Some(1)] {
            let total = match bound {
                None => {
                    let (sender, receiver) = mpsc::channel();
                    let senders: Vec<_> = (0..2)
                        .map(|i| {
                            let sender = sender.clone();
                            thread::spawn(move || sender.send(i + 1).unwrap())
                        })
                        .collect();
                    drop(sender);
                    let total: i32 = receiver.iter().sum();
                    senders.into_iter().for_each(|s| s.join().unwrap());
                    total
                }
                Some(bound) => {
                    let (sender, receiver) = mpsc::sync_channel(bound);
                    let producer = thread::spawn(move || {
                        for i in 1..=2 {
                            sender.send(i).unwrap();
                        }
                    });
                    let total: i32 = receiver.iter().sum();
                    producer.join().unwrap();
                    total
                }
            };
            assert_eq!(total, 3, "bound {bound:?}");
        }
    });
}

#[test]
fn the_new_atomic_widths_count_every_increment_on_both_engines() {
    passes_on_both("atomics", || {
        let wide = Arc::new(AtomicUsize::new(0));
        let narrow = Arc::new(AtomicU32::new(0));
        let signed = Arc::new(AtomicI32::new(0));
        let (w, n, s) = (Arc::clone(&wide), Arc::clone(&narrow), Arc::clone(&signed));
        spawn_all(2, move |_| {
            for _ in 0..3 {
                w.fetch_add(1, Ordering::SeqCst);
                n.fetch_add(1, Ordering::SeqCst);
                s.fetch_sub(1, Ordering::SeqCst);
            }
        });
        assert_eq!(wide.load(Ordering::SeqCst), 6);
        assert_eq!(narrow.load(Ordering::SeqCst), 6);
        assert_eq!(signed.load(Ordering::SeqCst), -6);
    });
}

#[test]
fn scoped_threads_borrow_from_the_body_and_are_joined_on_both_engines() {
    passes_on_both("scope", || {
        let counter = Shared::named("counter", 0);
        let lock = Mutex::new(());
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let _held = lock.lock().unwrap();
                    counter.update(|v| v + 1);
                });
            }
        });
        assert_eq!(counter.get(), 2);
    });
}

#[test]
fn sleep_and_yield_are_points_where_other_threads_run_on_both_engines() {
    passes_on_both("sleep_yield", || {
        let flag = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&flag);
        spawn_all(2, move |i| {
            if i == 0 {
                thread::sleep(Duration::from_millis(1));
                seen.store(1, Ordering::SeqCst);
            } else {
                thread::yield_now();
                let _ = seen.load(Ordering::SeqCst);
            }
        });
        assert_eq!(flag.load(Ordering::SeqCst), 1);
    });
}

/// The final values of a check whose body writes one random number below 1000 to a cell.
fn random_finals(engine: Engine, seed: u64) -> Vec<Vec<i64>> {
    let report = Check::new("random")
        .engines([engine])
        .runs(20)
        .seed(seed)
        .run(|| {
            let cell = Shared::named("drawn", 0);
            cell.set(random::below(1000) as i64);
        });
    assert!(report.passed(), "{report}");
    let mut finals: Vec<Vec<i64>> = report.engines[0]
        .final_values
        .iter()
        .flat_map(|f| std::iter::repeat_n(f.values.clone(), f.count as usize))
        .collect();
    finals.sort();
    finals
}

#[test]
fn controlled_randomness_varies_between_executions_and_repeats_with_the_seed_on_both_engines() {
    for engine in BOTH {
        let first = random_finals(engine, 7);
        assert_eq!(
            first,
            random_finals(engine, 7),
            "{engine}: same seed, same draws"
        );
        let mut distinct = first.clone();
        distinct.dedup();
        assert!(distinct.len() > 5, "{engine}: {first:?}");
        assert_ne!(first, random_finals(engine, 8), "{engine}: another seed");
    }
}

#[test]
fn a_timed_wait_that_nothing_notifies_times_out_on_both_engines() {
    passes_on_both("wait_timeout_alone", || {
        let lock = Mutex::new(7);
        let condvar = Condvar::new();
        let guard = lock.lock().unwrap();
        let (guard, result) = condvar
            .wait_timeout(guard, Duration::from_millis(2))
            .unwrap();
        assert!(result.timed_out());
        assert_eq!(*guard, 7);
    });
}

#[test]
fn a_timed_wait_in_a_loop_sees_the_notified_condition_on_both_engines() {
    passes_on_both("wait_timeout_loop", || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let setter = {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                *pair.0.lock().unwrap() = true;
                pair.1.notify_one();
            })
        };
        let (flag, condvar) = &*pair;
        let mut ready = flag.lock().unwrap();
        while !*ready {
            ready = condvar
                .wait_timeout(ready, Duration::from_secs(30))
                .unwrap()
                .0;
        }
        drop(ready);
        setter.join().unwrap();
    });
}

#[test]
fn a_receive_with_a_timeout_times_out_on_an_empty_channel_and_takes_a_sent_message_on_both_engines()
{
    passes_on_both("recv_timeout", || {
        let (sender, receiver) = mpsc::channel::<i32>();
        assert_eq!(
            receiver.recv_timeout(Duration::from_millis(2)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        sender.send(5).unwrap();
        assert_eq!(receiver.recv_timeout(Duration::from_secs(30)), Ok(5));
        drop(sender);
        assert_eq!(
            receiver.recv_timeout(Duration::from_secs(30)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    });
}
