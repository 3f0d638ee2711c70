//! Panics inside executions are failures to report, not noise on stderr.
//!
//! shuttle's process-global panic hook prints "Task failed" and schedule strings even when no
//! failure persistence is asked for, and shuttle re-raises a task's panic without saying which
//! task. [`install_hook`] replaces shuttle's hook with one that keeps the message of any panic
//! raised while a [`Capture`] is alive (contend reports it in its own words) and hands other
//! panics to the hook that was there before. The shuttle engine uses it; the threads engine reads
//! panics from its join handles and marks its threads so that the hook stays quiet for them.
//! The `contend` binary installs the hook at start so that workload panics on any engine reach
//! the user only through the report.

use std::cell::{Cell, RefCell};
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

// Per thread: shuttle runs an execution's tasks on the thread that runs the execution, so a
// capture on that thread covers them, and panics of unrelated threads (another test, say) are
// left alone.
thread_local! {
    static WORKLOAD_THREAD: Cell<bool> = const { Cell::new(false) };
    static CAPTURING: Cell<usize> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Marks the current thread as a workload thread whose panic the engine reports from its join
/// handle: the hook prints nothing for it.
pub fn mark_workload_thread() {
    WORKLOAD_THREAD.with(|marked| marked.set(true));
}

/// Installs contend's panic hook in place of shuttle's; idempotent.
pub fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default_hook = panic::take_hook();
        // shuttle installs its own hook on its first execution: let it, then replace it. DFS,
        // unlike the random schedulers, reads no seed from the environment.
        shuttle::Runner::new(
            shuttle::scheduler::DfsScheduler::new(Some(1), false),
            super::controlled::quiet_config(1000),
        )
        .run(|| {});
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if WORKLOAD_THREAD.with(Cell::get) {
                // Reported by the engine from the join handle.
            } else if CAPTURING.with(Cell::get) > 0 {
                let message = describe(info);
                LAST_PANIC.with(|last| {
                    last.borrow_mut().get_or_insert(message);
                });
            } else {
                default_hook(info);
            }
        }));
    });
}

/// While alive, panics on this thread are captured instead of printed.
#[derive(Debug)]
pub struct Capture(());

impl Capture {
    /// Starts capturing panics (installing the hook if needed).
    pub fn start() -> Capture {
        install_hook();
        CAPTURING.with(|c| c.set(c.get() + 1));
        Capture(())
    }

    /// Takes the first panic message captured since the last call.
    pub fn take(&self) -> Option<String> {
        take_captured()
    }
}

/// Takes the first panic message captured on this thread since it was last taken: under
/// shuttle, where every task runs on the thread that runs the execution, what the task that
/// just caught its own panic said.
pub(crate) fn take_captured() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// The text of a panic's payload.
pub fn describe_payload(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_string())
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let text = describe_payload(info.payload());
    let thread = std::thread::current()
        .name()
        .map(|n| format!(" in thread `{n}`"))
        .unwrap_or_default();
    match info.location() {
        Some(at) if !at.file().starts_with(contend_sources()) => {
            format!("panicked{thread} at {}:{}: {text}", at.file(), at.line())
        }
        // A panic raised inside contend says what failed in the user's terms (a broken
        // invariant, a program's runtime error); where in contend it was raised is noise.
        _ => format!("panicked{thread}: {text}"),
    }
}

/// The folder of contend's own sources, as the compiler names them in panic locations:
/// `src/` when contend is the package being built, a longer path when it is a dependency.
fn contend_sources() -> &'static str {
    file!()
        .strip_suffix("engine/panics.rs")
        .unwrap_or("\0never a path\0")
}
