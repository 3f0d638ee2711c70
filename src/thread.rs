//! Threads inside a check: [`spawn`], [`JoinHandle::join`] and explicit [`yield_now`] points.
//!
//! Under shuttle a spawned thread is a shuttle task; on real threads it is an OS thread that
//! enters the check's execution, waits at a start gate until the spawning thread does its next
//! operation (so that threads spawned together start together), and has its panic recorded with
//! its message.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::engine::panics::{Capture, describe_payload};
use crate::sync::context::{self, AccessKind, Backend, Execution};

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
    Shuttle(shuttle::thread::JoinHandle<T>),
    Threads(std::thread::JoinHandle<T>),
}

/// Gives back a thread's place in the execution's count of running threads when it ends.
struct Exit(Arc<Execution>);

impl Drop for Exit {
    fn drop(&mut self) {
        self.0.thread_exited();
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
    let execution = context::execution();
    let index = execution.thread_started();
    let name = context::thread_name(index);
    let exit = Exit(Arc::clone(&execution));
    let inner = match execution.backend {
        Backend::Shuttle => {
            let parent = usize::from(shuttle::current::me());
            context::log_access(parent, || (AccessKind::Other, format!("spawn {name}")));
            let thread_name = name.clone();
            let handle = shuttle::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let exit = exit;
                    match panic::catch_unwind(AssertUnwindSafe(f)) {
                        Ok(value) => value,
                        Err(payload) => {
                            // A text payload is the body's panic; shuttle unwinds the tasks of
                            // a failed execution with a payload of its own.
                            if payload.is::<&str>() || payload.is::<String>() {
                                exit.0.record_thread_panic(thread_name, None);
                            }
                            panic::resume_unwind(payload)
                        }
                    }
                })
                .expect("shuttle starts tasks without OS resources");
            Handle::Shuttle(handle)
        }
        Backend::Threads => {
            let gate = context::children_gate();
            let os = execution.os_thread(index);
            let thread_name = name.clone();
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                let _exit = exit;
                let _entered = context::enter(Arc::clone(&execution), Some(os));
                gate.wait();
                let capture = Capture::start();
                match panic::catch_unwind(AssertUnwindSafe(f)) {
                    Ok(value) => value,
                    Err(payload) => {
                        let message = match capture.take() {
                            Some(captured) => said_of(&thread_name, &captured),
                            None => format!(
                                "{thread_name} panicked: {}",
                                describe_payload(payload.as_ref())
                            ),
                        };
                        execution.record_thread_panic(thread_name, Some(message));
                        panic::resume_unwind(payload)
                    }
                }
            });
            match spawned {
                Ok(handle) => Handle::Threads(handle),
                Err(error) => panic!("could not start a thread: {error}"),
            }
        }
    };
    JoinHandle { index, inner }
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result, or the payload of its panic, as
    /// [`std::thread::JoinHandle::join`]. (Under shuttle a panic fails the execution at once.)
    pub fn join(self) -> std::thread::Result<T> {
        let thread = context::before_operation();
        let result = match self.inner {
            Handle::Shuttle(handle) => handle.join(),
            Handle::Threads(handle) => handle.join(),
        };
        let joined = context::thread_name(self.index);
        context::log_access(thread, || (AccessKind::Other, format!("join {joined}")));
        result
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
        Backend::Shuttle => shuttle::thread::yield_now(),
        Backend::Threads => std::thread::yield_now(),
    }
    context::log_access(thread, || (AccessKind::Other, "yield".to_string()));
}
