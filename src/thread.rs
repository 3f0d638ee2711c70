//! Threads inside a check: [`spawn`], [`scope()`], [`JoinHandle::join`], [`sleep`] and explicit
//! [`yield_now`] points, as [`std::thread`]'s.
//!
//! Under shuttle a spawned thread is a shuttle task; on real threads it is an OS thread that
//! enters the check's execution, waits at a start gate until the spawning thread does its next
//! operation (so that threads spawned together start together). On both, a thread's panic is
//! caught in the thread and recorded with its message: the execution fails, and its `join`
//! returns the panic, as std's does (shuttle never sees it, so the run goes on to the next
//! execution). A join is a wait of the execution's wait-for graph: a thread joining a thread
//! that waits for it is a deadlock, reported with its cycle.

mod scope;

pub use scope::{Scope, ScopedJoinHandle, scope};

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::panics::{self, Capture, describe_payload};
use crate::schedule::dpor::{self, Access};
use crate::sync::context::{self, AccessKind, Backend, Execution};
use crate::sync::deadlock::DeadlockUnwind;
use crate::sync::graph::Resource;
use crate::sync::waits::Declared;

/// A panic message as contend's panic hook captures it ("panicked in thread `T` at FILE:LINE:
/// TEXT"), said of `thread` instead: under shuttle every task runs on one OS thread, whose name
/// is not the task's.
pub(crate) fn said_of(thread: &str, captured: &str) -> String {
    let rest = captured
        .strip_prefix("panicked in thread `")
        .and_then(|rest| rest.split_once("` "))
        .map(|(_, rest)| rest)
        .or_else(|| captured.strip_prefix("panicked "));
    match rest {
        Some(rest) => format!("{thread} panicked {rest}"),
        None => format!("{thread}: {captured}"),
    }
}

/// An owned permission to join a thread spawned with [`spawn`].
#[derive(Debug)]
pub struct JoinHandle<T> {
    index: usize,
    inner: Handle<T>,
}

#[derive(Debug)]
enum Handle<T> {
    /// The task returns its body's panic rather than raise it in shuttle.
    Shuttle(shuttle::thread::JoinHandle<std::thread::Result<T>>),
    Threads(std::thread::JoinHandle<T>),
}

/// Gives back a thread's place in the execution's running threads when it ends.
struct Exit(Arc<Execution>, usize);

impl Drop for Exit {
    fn drop(&mut self) {
        dpor::note(Access::Exit(self.1));
        self.0.thread_exited(self.1);
    }
}

/// A new thread's index in `execution`, counted as running until its body ends; a `name`
/// given is what reports call it (else `Thread-N`, made only when a report needs it).
fn start(execution: Arc<Execution>, name: Option<String>) -> (usize, Exit) {
    let index = execution.thread_started();
    if let Some(name) = name {
        execution
            .waits
            .with(|state| state.graph.name(Resource::Thread(index), name));
    }
    (index, Exit(execution, index))
}

/// Whether a caught panic's payload is one contend's executions end as a failed outcome: a
/// panic with a message (the body's own), or a thread unwound by a deadlock. Any other payload
/// (shuttle tearing an execution down, say) unwinds on.
pub(crate) fn ends_the_execution(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<&str>() || payload.is::<String>() || payload.is::<DeadlockUnwind>()
}

/// The body of a shuttle task running `f` as the thread of `exit`: it catches the body's panic, records
/// it with its message in the execution (a thread that a deadlock unwound records none) and
/// returns it as the task's result, so that the execution goes on (a `join` returns it, as
/// std's does) and ends as a failed outcome, instead of shuttle ending the whole run.
fn shuttle_body<F, T>(exit: Exit, f: F) -> impl FnOnce() -> std::thread::Result<T>
where
    F: FnOnce() -> T,
{
    let index = exit.1;
    if exit.0.keeps_log() {
        let parent = usize::from(shuttle::current::me());
        exit.0.log_access(parent, || {
            (
                AccessKind::Other,
                format!("spawn {}", context::thread_name(index)),
            )
        });
    }
    move || {
        let exit = exit;
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => Ok(value),
            Err(payload) if ends_the_execution(payload.as_ref()) => {
                if !payload.is::<DeadlockUnwind>() {
                    let name = context::thread_name(index);
                    let message = match panics::take_captured() {
                        Some(captured) => said_of(&name, &captured),
                        None => format!("{name} panicked: {}", describe_payload(payload.as_ref())),
                    };
                    exit.0.record_thread_panic(name, Some(message));
                }
                Err(payload)
            }
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

/// The body of a real thread running `f` as thread `index` of `execution`: it enters the
/// execution, waits at its start gate, and records its panic with its message (a thread that a
/// deadlock unwound panics with no message and records none).
fn threads_body<F, T>(exit: Exit, name: String, f: F) -> impl FnOnce() -> T
where
    F: FnOnce() -> T,
{
    let gate = context::children_gate();
    let execution = Arc::clone(&exit.0);
    let os = execution.os_thread(exit.1);
    move || {
        let _exit = exit;
        let _entered = context::enter(Arc::clone(&execution), Some(os));
        gate.wait();
        let capture = Capture::start();
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => value,
            Err(payload) => {
                if !payload.is::<DeadlockUnwind>() {
                    let message = match capture.take() {
                        Some(captured) => said_of(&name, &captured),
                        None => format!("{name} panicked: {}", describe_payload(payload.as_ref())),
                    };
                    execution.record_thread_panic(name, Some(message));
                }
                panic::resume_unwind(payload)
            }
        }
    }
}

/// Spawns a thread of the check's execution, named `Thread-1`, `Thread-2`, ... in spawn order
/// (the body's own thread is `main`), and returns its handle. As [`std::thread::spawn`].
///
/// # Panics
///
/// Outside a check's body and its threads, or if the OS cannot start a thread.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_as(None, f)
}

/// Spawns a thread of the check's execution named `name`, as [`spawn`]: reports (an
/// interleaving's notes, a deadlock's cycle, a panic's message) call it by that name.
///
/// # Panics
///
/// As [`spawn`].
pub fn spawn_named<F, T>(name: impl Into<String>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_as(Some(name.into()), f)
}

/// Spawns a thread named `name`, or `Thread-N`.
fn spawn_as<F, T>(name: Option<String>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let execution = context::execution();
    let backend = execution.backend;
    let (index, exit) = start(execution, name);
    let inner = match backend {
        Backend::Shuttle => {
            // shuttle's task is left unnamed: contend names its threads in its own reports, and
            // a name would cost shuttle a table of labels per task.
            dpor::announce(Access::Local);
            let handle = shuttle::thread::spawn(shuttle_body(exit, f));
            dpor::settle();
            Handle::Shuttle(handle)
        }
        Backend::Threads => {
            let name = context::thread_name(index);
            // The OS refuses a thread name with a NUL in it; reports keep the name as given.
            let builder = std::thread::Builder::new().name(name.replace('\0', " "));
            match builder.spawn(threads_body(exit, name, f)) {
                Ok(handle) => Handle::Threads(handle),
                Err(error) => panic!("could not start a thread: {error}"),
            }
        }
    };
    JoinHandle { index, inner }
}

/// Waits, as thread `me`, for thread `index` to finish, then joins it with `join`: under
/// shuttle the wait is shuttle's (recorded in the wait-for graph and the log), on real threads
/// the execution's, which unwinds the joining thread if the execution deadlocks.
pub(crate) fn join_thread<T>(
    index: usize,
    shuttle: bool,
    join: impl FnOnce() -> std::thread::Result<T>,
) -> std::thread::Result<T> {
    // Named only if the execution keeps a log.
    let joined = || context::thread_name(index);
    if shuttle {
        return join_task(index, join, joined);
    }
    let (me, execution) = context::operation();
    let target = Resource::Thread(index);
    execution.waits.block_on(me, target, |state| {
        (!state.graph.is_held(target)).then_some(())
    });
    let result = join();
    if result
        .as_ref()
        .is_err_and(|payload| payload.is::<DeadlockUnwind>())
    {
        panic::resume_unwind(Box::new(DeadlockUnwind));
    }
    execution.log_access(me, || (AccessKind::Other, format!("join {}", joined())));
    result
}

/// [`join_thread`] under shuttle: the wait is shuttle's, recorded in the wait-for graph (unless
/// the thread has ended) and the log. The execution is looked up before and after the join,
/// which is a scheduling point, rather than held.
fn join_task<T>(
    index: usize,
    join: impl FnOnce() -> std::thread::Result<T>,
    joined: impl Fn() -> String,
) -> std::thread::Result<T> {
    let me = context::before_operation();
    let (blocked, declared) = context::with_execution(|execution| {
        let (blocked, declared) = execution.waits.wait_for_thread(me, index);
        if blocked {
            execution.log_access(me, || {
                (
                    AccessKind::Other,
                    format!("join {}: waits for it to finish", joined()),
                )
            });
        }
        (blocked, declared)
    });
    if declared != Declared::No {
        // Declaring wakes condition variable waiters, at scheduling points: with an execution
        // of its own. A join that closes a cycle of waits unwinds here, before shuttle would
        // block.
        let execution = context::execution();
        if execution.waits.declared_now(declared) {
            execution.waits.unwind_declared(me);
        }
    }
    dpor::announce(Access::Join(index));
    let result = join();
    dpor::settle();
    let declared = context::with_execution(|execution| execution.waits.joined(me, blocked));
    if result
        .as_ref()
        .is_err_and(|payload| payload.is::<DeadlockUnwind>())
    {
        panic::resume_unwind(Box::new(DeadlockUnwind));
    }
    context::with_execution(|execution| {
        if declared {
            execution.waits.unwind_declared(me);
        }
        execution.log_access(me, || (AccessKind::Other, format!("join {}", joined())));
    });
    result
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result, or the payload of its panic, as
    /// [`std::thread::JoinHandle::join`]. A thread that panicked has failed the execution
    /// already; the joining thread goes on.
    ///
    /// # Panics
    ///
    /// With no message, when the execution deadlocks while this thread waits, or this join
    /// closes a cycle of waits: the check reports the deadlock.
    pub fn join(self) -> std::thread::Result<T> {
        match self.inner {
            Handle::Shuttle(handle) => {
                join_thread(self.index, true, || handle.join().and_then(|ended| ended))
            }
            Handle::Threads(handle) => join_thread(self.index, false, || handle.join()),
        }
    }

    /// Whether the thread has finished, as [`std::thread::JoinHandle::is_finished`]. Not an
    /// access, and no scheduling point.
    pub fn is_finished(&self) -> bool {
        let target = Resource::Thread(self.index);
        !context::execution()
            .waits
            .with(|state| state.graph.is_held(target))
    }
}

/// An explicit point where another thread may run: a scheduling point under shuttle, a yield
/// (after the usual jitter) on real threads.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn yield_now() {
    let thread = context::before_access();
    match context::backend() {
        Backend::Shuttle => {
            dpor::announce(Access::Yield);
            shuttle::thread::yield_now();
            dpor::settle();
        }
        Backend::Threads => std::thread::yield_now(),
    }
    context::log_access(thread, || (AccessKind::Other, "yield".to_string()));
}

/// Sleeps for `duration`, as [`std::thread::sleep`]: on real threads a real sleep (after the
/// usual jitter); under shuttle, where time does not pass, a scheduling point at which another
/// thread may run.
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn sleep(duration: Duration) {
    let thread = context::before_access();
    match context::backend() {
        Backend::Shuttle => {
            dpor::announce(Access::Yield);
            shuttle::thread::sleep(duration);
            dpor::settle();
        }
        Backend::Threads => std::thread::sleep(duration),
    }
    context::log_access(thread, || {
        (AccessKind::Other, format!("sleep {duration:?}"))
    });
}
