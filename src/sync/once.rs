//! One-time initialisation inside a check, as [`std::sync::Once`], named `once#N`.
//!
//! The thread running the initialiser holds `once#N` in the execution's wait-for graph, so that
//! another thread waiting for it while the initialiser waits for that thread is a deadlock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::schedule::dpor::{self, Access};
use crate::sync::context::{self, AccessKind, Execution, ObjectKind};
use crate::sync::graph::{Mode, Resource};

/// Runs an initialiser once, as [`std::sync::Once`].
pub struct Once {
    number: usize,
    execution: Arc<Execution>,
    inner: Option<shuttle::sync::Once>,
    done: AtomicBool,
    poisoned: AtomicBool,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Once(once#{})", self.number)
    }
}

/// Gives up the graph's hold of a `Once` when its initialiser ends, returning or unwinding.
struct Running<'a> {
    once: &'a Once,
    thread: usize,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let resource = Resource::Once(self.once.number);
        if std::thread::panicking() {
            self.once.poisoned.store(true, Ordering::Release);
        } else {
            self.once.done.store(true, Ordering::Release);
        }
        self.once
            .execution
            .waits
            .update(|state| state.graph.release(self.thread, resource));
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl Once {
    /// A `Once` whose initialiser has not run.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new() -> Once {
        let execution = context::execution();
        let inner = (execution.backend == context::Backend::Shuttle).then(shuttle::sync::Once::new);
        Once {
            number: execution.number(ObjectKind::Once),
            execution,
            inner,
            done: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Runs `f` if no thread has run an initialiser here yet, and returns once one has run, as
    /// [`std::sync::Once::call_once`]. One access.
    ///
    /// # Panics
    ///
    /// If an earlier initialiser panicked; on real threads, with no message, when the execution
    /// deadlocks while this thread waits.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        let thread = context::before_access();
        let number = self.number;
        let resource = Resource::Once(number);
        let waits = &self.execution.waits;
        let run = |f: F| {
            let _running = Running { once: self, thread };
            context::log_access(thread, || (AccessKind::Other, format!("run once#{number}")));
            f();
        };
        match &self.inner {
            Some(once) => {
                waits.with(|state| state.graph.wait(thread, resource));
                // A wait for an initialiser that can never end unwinds here.
                waits.unwind_if_deadlocked(thread);
                let access = Access::Write(dpor::access::waitable(ObjectKind::Once, number));
                dpor::around(access, || {
                    once.call_once(|| {
                        waits.with(|state| state.graph.hold(thread, resource, Mode::Exclusive));
                        run(f);
                    })
                });
                waits.with(|state| state.graph.stop_waiting(thread));
            }
            None => {
                let mine = waits.block_on(thread, resource, |state| {
                    if self.done.load(Ordering::Acquire) || self.poisoned.load(Ordering::Acquire) {
                        Some(false)
                    } else if state.graph.can_take(resource, Mode::Exclusive) {
                        state.graph.hold(thread, resource, Mode::Exclusive);
                        Some(true)
                    } else {
                        None
                    }
                });
                assert!(
                    !self.poisoned.load(Ordering::Acquire),
                    "Once instance has previously been poisoned"
                );
                if mine {
                    run(f);
                }
            }
        }
        context::log_access(thread, || {
            (AccessKind::Other, format!("done once#{number}"))
        });
    }

    /// Whether an initialiser has run to its end. Not an access.
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}
