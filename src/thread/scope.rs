//! Scoped threads inside a check, as [`std::thread::scope`]'s: threads that may borrow from the
//! body, all joined when the scope ends.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::context::{self, Backend};
use crate::sync::deadlock::DeadlockUnwind;
use crate::sync::graph::Resource;

use super::{join_thread, shuttle_body, start, threads_body};

/// A scope to spawn scoped threads in; see [`scope`].
#[derive(Debug)]
pub struct Scope<'scope, 'env: 'scope> {
    inner: Kind<'scope, 'env>,
    spawned: Mutex<Vec<usize>>,
    /// Under shuttle, the scoped threads that panicked and were not joined (yet): the scope
    /// panics at its end if any is left, as std's does.
    unjoined_panics: Arc<AtomicUsize>,
}

#[derive(Debug)]
enum Kind<'scope, 'env: 'scope> {
    Shuttle(&'scope shuttle::thread::Scope<'scope, 'env>),
    Threads(&'scope std::thread::Scope<'scope, 'env>),
}

/// An owned permission to join a scoped thread.
#[derive(Debug)]
pub struct ScopedJoinHandle<'scope, T> {
    index: usize,
    inner: Handle<'scope, T>,
}

#[derive(Debug)]
enum Handle<'scope, T> {
    /// The task returns its body's panic rather than raise it in shuttle; the count is its
    /// scope's unjoined panics.
    Shuttle(
        shuttle::thread::ScopedJoinHandle<'scope, std::thread::Result<T>>,
        Arc<AtomicUsize>,
    ),
    Threads(std::thread::ScopedJoinHandle<'scope, T>),
}

/// Runs `f` with a scope in which it can spawn threads that borrow from the caller; every
/// thread spawned in it is joined before `scope` returns, as [`std::thread::scope`]. The end
/// of the scope is a wait of the execution's wait-for graph, so a scoped thread that waits for
/// a lock the scope's thread holds is a deadlock.
///
/// # Panics
///
/// Outside a check's body and its threads; if a scoped thread panicked and was not joined.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> T,
{
    match context::backend() {
        Backend::Shuttle => {
            let me = usize::from(shuttle::current::me());
            let unjoined_panics = Arc::new(AtomicUsize::new(0));
            let value = shuttle::thread::scope(|s| {
                let ours = Scope {
                    inner: Kind::Shuttle(s),
                    spawned: Mutex::default(),
                    unjoined_panics: Arc::clone(&unjoined_panics),
                };
                // shuttle's scope does not wait for its threads when `f` unwinds, and they may
                // borrow from the frames the unwinding leaves: the panic waits for them, as
                // std's does, and goes on once they have ended.
                let value = panic::catch_unwind(AssertUnwindSafe(|| f(&ours)));
                // shuttle blocks here until the scoped threads end; the graph says for which.
                let execution = context::execution();
                execution.waits.with(|state| {
                    if let Some(&running) = ours
                        .spawned()
                        .iter()
                        .find(|&&i| state.graph.is_held(Resource::Thread(i)))
                    {
                        state.graph.wait(me, Resource::Thread(running));
                    }
                });
                // No unwinding out of here while scoped threads run: a cycle this wait closes
                // is left to shuttle to find (any other thread's wait that closes it unwinds).
                value
            });
            let execution = context::execution();
            execution.waits.with(|state| state.graph.stop_waiting(me));
            let value = value.unwrap_or_else(|payload| panic::resume_unwind(payload));
            execution.waits.unwind_if_deadlocked(me);
            if unjoined_panics.load(Ordering::SeqCst) > 0 {
                panic!("a scoped thread panicked");
            }
            value
        }
        Backend::Threads => std::thread::scope(|s| {
            let ours = Scope {
                inner: Kind::Threads(s),
                spawned: Mutex::default(),
                unjoined_panics: Arc::default(),
            };
            let value = f(&ours);
            let me = context::before_operation();
            let execution = context::execution();
            for index in ours.spawned() {
                let target = Resource::Thread(index);
                execution.waits.block_on(me, target, |state| {
                    (!state.graph.is_held(target)).then_some(())
                });
            }
            value
        }),
    }
}

impl<'scope> Scope<'scope, '_> {
    fn spawned(&self) -> Vec<usize> {
        self.spawned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Spawns a scoped thread, named as [`crate::thread::spawn`] names threads, and returns its
    /// handle. As [`std::thread::Scope::spawn`].
    ///
    /// # Panics
    ///
    /// If the OS cannot start a thread.
    pub fn spawn<F, T>(&self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (index, exit) = start(context::execution(), None);
        self.spawned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(index);
        let inner = match self.inner {
            Kind::Shuttle(scope) => {
                let body = shuttle_body(exit, f);
                let unjoined_panics = Arc::clone(&self.unjoined_panics);
                let task = scope.spawn(move || {
                    let ended = body();
                    if ended
                        .as_ref()
                        .is_err_and(|payload| !payload.is::<DeadlockUnwind>())
                    {
                        unjoined_panics.fetch_add(1, Ordering::SeqCst);
                    }
                    ended
                });
                Handle::Shuttle(task, Arc::clone(&self.unjoined_panics))
            }
            Kind::Threads(scope) => {
                let name = context::thread_name(index);
                let body = threads_body(exit, name.clone(), f);
                match std::thread::Builder::new()
                    .name(name)
                    .spawn_scoped(scope, body)
                {
                    Ok(handle) => Handle::Threads(handle),
                    Err(error) => panic!("could not start a thread: {error}"),
                }
            }
        };
        ScopedJoinHandle { index, inner }
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish and returns its result, or the payload of its panic, as
    /// [`std::thread::ScopedJoinHandle::join`].
    pub fn join(self) -> std::thread::Result<T> {
        match self.inner {
            Handle::Shuttle(handle, unjoined_panics) => join_thread(self.index, true, || {
                let ended = handle.join().and_then(|ended| ended);
                if ended
                    .as_ref()
                    .is_err_and(|payload| !payload.is::<DeadlockUnwind>())
                {
                    unjoined_panics.fetch_sub(1, Ordering::SeqCst);
                }
                ended
            }),
            Handle::Threads(handle) => join_thread(self.index, false, || handle.join()),
        }
    }
}
