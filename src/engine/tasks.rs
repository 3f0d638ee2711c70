//! Async tasks on one thread, as the lesson's coroutines: on tokio's current-thread runtime, or
//! under shuttle's controlled executor.
//!
//! Tasks switch only at an `.await`. The counter is a plain atomic here, not a shuttle one, so
//! that under shuttle too an access to it is not a switch point: without an await inside the
//! read-modify-write no update can be lost, exactly as with the lesson's `asyncio` tasks. The
//! fault to inject, `await_in_critical_section`, puts a yield between the read and the write;
//! the executor's async lock (`sync = "mutex"`) fixes it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use shuttle::future::batch_semaphore::{BatchSemaphore, Fairness};

use super::shuttle::ShuttleEngine;
use super::{EngineError, Flow, Outcome, RunPlan};
use crate::failure::Kind;
use crate::ledger::{EventContext, Ledger, LedgerError, Settlement};
use crate::scenario::{AsyncSettings, CounterSpec, Executor, SyncMode};
use crate::tally::Tally;

/// What a counter task needs from its executor.
pub trait AsyncExecutor: Send + Sync + 'static {
    /// The executor's async lock.
    type Lock: Send + Sync + 'static;
    /// Held while the lock is held.
    type Guard<'a>: Send
    where
        Self: 'a;

    /// A new unlocked lock.
    fn new_lock() -> Self::Lock;
    /// Waits for the lock.
    fn lock(lock: &Self::Lock) -> impl Future<Output = Self::Guard<'_>> + Send;
    /// Lets the other tasks run.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// tokio's current-thread runtime.
#[derive(Debug)]
pub struct Tokio;

impl AsyncExecutor for Tokio {
    type Lock = tokio::sync::Mutex<()>;
    type Guard<'a> = tokio::sync::MutexGuard<'a, ()>;

    fn new_lock() -> Self::Lock {
        tokio::sync::Mutex::new(())
    }

    fn lock(lock: &Self::Lock) -> impl Future<Output = Self::Guard<'_>> + Send {
        lock.lock()
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// shuttle's executor: every await is a scheduling point under the scenario's scheduler.
#[derive(Debug)]
pub struct ShuttleFutures;

/// Holds shuttle's one-permit semaphore, the async lock under shuttle.
#[derive(Debug)]
pub struct Permit<'a>(&'a BatchSemaphore);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

impl AsyncExecutor for ShuttleFutures {
    type Lock = BatchSemaphore;
    type Guard<'a> = Permit<'a>;

    fn new_lock() -> Self::Lock {
        BatchSemaphore::new(1, Fairness::StrictlyFair)
    }

    async fn lock(lock: &Self::Lock) -> Self::Guard<'_> {
        lock.acquire(1)
            .await
            .expect("the lock's semaphore is never closed");
        Permit(lock)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        shuttle::future::yield_now()
    }
}

/// The counter as async tasks.
#[derive(Debug)]
struct TaskState<E: AsyncExecutor> {
    ledger: Ledger<AtomicU64>,
    lock: E::Lock,
}

/// The lesson's coroutine counter: one task per thread of the counter's spec.
#[derive(Clone, Debug)]
pub struct AsyncCounter {
    counter: CounterSpec,
    await_in_critical_section: bool,
}

impl AsyncCounter {
    /// The counter of `counter`, with or without an await inside its read-modify-write.
    pub fn new(counter: CounterSpec, await_in_critical_section: bool) -> Self {
        AsyncCounter {
            counter,
            await_in_critical_section,
        }
    }

    fn new_state<E: AsyncExecutor>(&self) -> TaskState<E> {
        TaskState {
            ledger: Ledger::new(
                AtomicU64::new(0),
                self.counter.initial,
                self.counter.threads.iter().map(|t| (t.delta, t.ops)),
            ),
            lock: E::new_lock(),
        }
    }

    /// The body of task `task`.
    async fn run_task<E: AsyncExecutor>(self: Arc<Self>, state: Arc<TaskState<E>>, task: usize) {
        let spec = self.counter.threads[task];
        let ledger = &state.ledger;
        for op in 0..spec.ops {
            match self.counter.sync {
                SyncMode::Mutex => {
                    let _guard = E::lock(&state.lock).await;
                    self.increment::<E>(ledger, task, op, spec.delta).await;
                }
                SyncMode::Atomic => {
                    let mut read = ledger.read();
                    while let Err(now) = ledger.compare_and_write(
                        task,
                        op,
                        read,
                        read.value.wrapping_add(spec.delta),
                    ) {
                        read = now;
                    }
                }
                // Spin locks are refused for async scenarios by the config: on one thread, a
                // task that spins without awaiting never lets the holder run.
                SyncMode::None | SyncMode::Spin | SyncMode::Flag => {
                    self.increment::<E>(ledger, task, op, spec.delta).await;
                }
            }
        }
    }

    async fn increment<E: AsyncExecutor>(
        &self,
        ledger: &Ledger<AtomicU64>,
        task: usize,
        op: u64,
        delta: i64,
    ) {
        let read = ledger.read();
        if self.await_in_critical_section {
            E::yield_now().await;
        }
        ledger.write(task, op, read, read.value.wrapping_add(delta));
    }
}

/// The async engine.
#[derive(Clone, Debug)]
pub struct AsyncEngine {
    settings: AsyncSettings,
}

impl AsyncEngine {
    /// An engine with the given executor.
    pub fn new(settings: AsyncSettings) -> Self {
        AsyncEngine { settings }
    }

    /// Runs the counter as `plan` says, recording each execution in `tally`.
    pub fn execute(
        &self,
        counter: &CounterSpec,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let workload = Arc::new(AsyncCounter::new(
            counter.clone(),
            self.settings.await_in_critical_section,
        ));
        match &self.settings.executor {
            Executor::Tokio => execute_on_tokio(workload, plan, tally),
            Executor::Shuttle(settings) => {
                ShuttleEngine::new(settings.clone()).execute_body(plan, tally, move |context| {
                    let state = Arc::new(workload.new_state::<ShuttleFutures>());
                    let tasks = workload.counter.threads.len();
                    shuttle::future::block_on({
                        let state = Arc::clone(&state);
                        let workload = Arc::clone(&workload);
                        async move {
                            let handles: Vec<_> = (0..tasks)
                                .map(|task| {
                                    shuttle::future::spawn(
                                        Arc::clone(&workload).run_task(Arc::clone(&state), task),
                                    )
                                })
                                .collect();
                            for handle in handles {
                                handle.await.expect("a counter task does not panic");
                            }
                        }
                    });
                    state.ledger.settle(context).map(Outcome::Settled)
                })
            }
        }
    }
}

fn execute_on_tokio(
    workload: Arc<AsyncCounter>,
    plan: &RunPlan,
    tally: &mut Tally,
) -> Result<(), EngineError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(EngineError::Spawn)?;
    // One state for every run, as on real threads: the write records are allocated once.
    let state = Arc::new(workload.new_state::<Tokio>());
    for (index, run) in plan.executions().enumerate() {
        if plan.out_of_time() {
            tally.stop_for_time();
            break;
        }
        if index > 0 {
            state.ledger.reset();
        }
        let tasks = workload.counter.threads.len();
        let joined: Result<(), String> = runtime.block_on({
            let state = Arc::clone(&state);
            let workload = Arc::clone(&workload);
            async move {
                let handles: Vec<_> = (0..tasks)
                    .map(|task| {
                        tokio::spawn(Arc::clone(&workload).run_task(Arc::clone(&state), task))
                    })
                    .collect();
                for (task, handle) in handles.into_iter().enumerate() {
                    handle
                        .await
                        .map_err(|error| format!("task {} failed: {error}", task + 1))?;
                }
                Ok(())
            }
        });
        let outcome = match joined {
            Ok(()) => Outcome::Settled(settle(&state.ledger, plan, run)?),
            Err(message) => Outcome::failed(Kind::Panic, message),
        };
        if tally.record(run, outcome) == Flow::Stop {
            break;
        }
    }
    Ok(())
}

fn settle(ledger: &Ledger<AtomicU64>, plan: &RunPlan, run: u64) -> Result<Settlement, EngineError> {
    ledger
        .settle(EventContext {
            scenario: &plan.scenario,
            run,
        })
        .map_err(|source: LedgerError| EngineError::Ledger {
            scenario: plan.scenario.clone(),
            run,
            source,
        })
}
