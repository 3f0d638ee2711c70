//! The lesson's counter: threads that each add their own delta to a shared counter.

use std::ops::Deref;
use std::sync::atomic::AtomicU64;

use crate::ledger::{EventContext, Ledger, LedgerError, Settlement, store_words};
use crate::platform::{Access, AccessPoint, Lock, Platform, SharedWord};
use crate::scenario::{CounterSpec, ObjectSettings, SyncMode};
use crate::workload::Workload;

/// The counter workload, ready to run.
#[derive(Clone, Debug)]
pub struct Counter {
    spec: CounterSpec,
}

impl Counter {
    /// A counter workload with the given parameters.
    pub fn new(spec: CounterSpec) -> Self {
        Counter { spec }
    }
}

/// The shared state of one counter execution. The lock and the flag exist only for the sync
/// modes that use them: under shuttle each is an object of the execution, made at its start.
#[derive(Debug)]
pub struct CounterState<P: Platform> {
    ledger: Ledger<P::Word, P::Store>,
    lock: Option<P::Lock>,
    flag: Option<P::Word>,
}

impl<P: Platform> CounterState<P> {
    /// The lock, for the sync modes that take it.
    fn lock(&self) -> &P::Lock {
        self.lock
            .as_ref()
            .expect("the counter's state has a lock for every sync mode that takes it")
    }

    /// The flag, for the sync modes that spin on it.
    fn flag(&self) -> &P::Word {
        self.flag
            .as_ref()
            .expect("the counter's state has a flag for every sync mode that spins on it")
    }
}

const FREE: u64 = 0;
const TAKEN: u64 = 1;

impl Workload for Counter {
    type State<P: Platform> = CounterState<P>;

    fn thread_count(&self) -> usize {
        self.spec.threads.len()
    }

    fn new_state<P: Platform>(&self, platform: &P) -> Result<CounterState<P>, P::Error> {
        let threads = self.spec.threads.iter().map(|t| (t.delta, t.ops));
        let logs = P::LOGS;
        let words = store_words(self.spec.threads.iter().map(|t| t.ops), logs);
        Ok(CounterState {
            ledger: Ledger::with_store(
                platform.word(0)?,
                platform.store(words)?,
                self.spec.initial,
                threads,
                logs,
            ),
            lock: self.takes_lock().then(|| platform.lock()).transpose()?,
            flag: self
                .spins_on_flag()
                .then(|| platform.word(FREE))
                .transpose()?,
        })
    }

    fn reset<P: Platform>(&self, state: &CounterState<P>) {
        state.ledger.reset();
        if let Some(flag) = &state.flag {
            flag.store(FREE);
        }
    }

    fn run_thread<P: Platform>(
        &self,
        state: &CounterState<P>,
        thread: usize,
        point: &mut P::Point,
    ) {
        let spec = self.spec.threads[thread];
        let ledger = &state.ledger;
        if let Some(object) = self.spec.object {
            self.run_worker(state, thread, object, point);
            return;
        }
        match self.spec.sync {
            SyncMode::None => {
                for op in 0..spec.ops {
                    increment(ledger, thread, op, spec.delta, point);
                }
            }
            SyncMode::Mutex => {
                for op in 0..spec.ops {
                    point.before_access();
                    let _guard = state.lock().acquire(thread);
                    point.observe(Access::Acquire);
                    increment(ledger, thread, op, spec.delta, point);
                }
            }
            SyncMode::Atomic => {
                for op in 0..spec.ops {
                    point.before_access();
                    let mut read = ledger.read();
                    point.observe(Access::Read { value: read.value });
                    loop {
                        point.before_access();
                        let value = read.value.wrapping_add(spec.delta);
                        let result = ledger.compare_and_write(thread, op, read, value);
                        point.observe(Access::CompareAndWrite {
                            value,
                            written: result.is_ok(),
                        });
                        match result {
                            Ok(()) => break,
                            Err(now) => read = now,
                        }
                    }
                }
            }
            SyncMode::Spin => {
                for op in 0..spec.ops {
                    loop {
                        point.before_access();
                        let was_taken = state.flag().swap(TAKEN) == TAKEN;
                        point.observe(Access::SetFlag { was_taken });
                        if !was_taken {
                            break;
                        }
                        while state.flag().load() == TAKEN {
                            point.spin_wait();
                        }
                    }
                    increment(ledger, thread, op, spec.delta, point);
                    point.before_access();
                    state.flag().store(FREE);
                    point.observe(Access::ClearFlag);
                }
            }
            SyncMode::Flag => {
                for op in 0..spec.ops {
                    point.before_access();
                    while state.flag().load() == TAKEN {
                        point.observe(Access::CheckFlag { taken: true });
                        point.spin_wait();
                    }
                    point.observe(Access::CheckFlag { taken: false });
                    // The bug: between the check above and the set below, another thread may
                    // also have seen the flag free.
                    point.before_access();
                    state.flag().store(TAKEN);
                    point.observe(Access::SetFlag { was_taken: false });
                    increment(ledger, thread, op, spec.delta, point);
                    point.before_access();
                    state.flag().store(FREE);
                    point.observe(Access::ClearFlag);
                }
            }
        }
    }

    fn threads_started(&self, run: u64) {
        if self.spec.object.is_some() {
            tracing::debug!(
                target: LOG_TARGET,
                thread = "MainThread",
                run,
                "Waiting for worker threads"
            );
        }
    }

    fn settle<P: Platform>(
        &self,
        state: &CounterState<P>,
        context: EventContext<'_>,
    ) -> Result<Settlement, LedgerError> {
        let settlement = state.ledger.settle(context)?;
        if self.spec.object.is_some() {
            tracing::debug!(
                target: LOG_TARGET,
                thread = "MainThread",
                run = context.run,
                "Counter: {}",
                settlement.observed_final
            );
        }
        Ok(settlement)
    }
}

/// The target of the lesson-style log lines of the `counter-object` workload.
pub const LOG_TARGET: &str = crate::trace::LESSON_LOG_TARGET;

impl Counter {
    /// Whether the workload takes a lock (`sync = "mutex"`).
    fn takes_lock(&self) -> bool {
        self.spec.sync == SyncMode::Mutex
    }

    /// Whether the workload spins on a flag (`sync = "spin"` or `"flag"`).
    fn spins_on_flag(&self) -> bool {
        matches!(self.spec.sync, SyncMode::Spin | SyncMode::Flag)
    }

    /// A worker of the lesson's `Counter` class: sleeps a random pause, then calls
    /// `increment()`, which logs around taking the lock. No line is logged between the read and
    /// the write.
    fn run_worker<P: Platform>(
        &self,
        state: &CounterState<P>,
        thread: usize,
        object: ObjectSettings,
        point: &mut P::Point,
    ) {
        let spec = self.spec.threads[thread];
        let name = format!("Thread-{}", thread + 1);
        for op in 0..spec.ops {
            let pause = point.draw_pause(object.max_pause);
            tracing::debug!(target: LOG_TARGET, thread = %name, "Sleeping {:0.02}", pause.as_secs_f64());
            point.pause(pause);
            point.observe(Access::Pause);
            match self.spec.sync {
                SyncMode::Mutex => {
                    tracing::debug!(target: LOG_TARGET, thread = %name, "Waiting for lock");
                    point.before_access();
                    let _guard = state.lock().acquire(thread);
                    point.observe(Access::Acquire);
                    tracing::debug!(target: LOG_TARGET, thread = %name, "Acquired lock");
                    increment(&state.ledger, thread, op, spec.delta, point);
                }
                // The config allows only mutex and none for this workload.
                _ => increment(&state.ledger, thread, op, spec.delta, point),
            }
        }
        tracing::debug!(target: LOG_TARGET, thread = %name, "Done");
    }
}

/// The critical section: read the counter, then write it back plus `delta`.
#[inline]
fn increment<W: SharedWord, R: Deref<Target = [AtomicU64]>>(
    ledger: &Ledger<W, R>,
    thread: usize,
    op: u64,
    delta: i64,
    point: &mut impl AccessPoint,
) {
    point.before_access();
    let read = ledger.read();
    point.observe(Access::Read { value: read.value });
    point.before_access();
    let value = read.value.wrapping_add(delta);
    let overwrote = ledger.write(thread, op, read, value);
    point.observe(Access::Write {
        value,
        overwrote: overwrote.map(|id| id.origin()),
    });
}
