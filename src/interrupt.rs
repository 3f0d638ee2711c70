//! Interrupting a run: a signal asks it to stop after the execution under way, and the
//! temporary files that a second signal must not leave behind.
//!
//! The binary installs the signal handling; the library only reads the request (engines
//! check it where they check the time budget) and keeps the list of temporaries.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked the run to stop, 0 while none has.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Temporary files being written, removed by [`remove_temporaries`].
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Asks the run to stop after the execution under way, because of signal `signal`.
pub fn request(signal: i32) {
    let _ = SIGNAL.compare_exchange(0, signal.max(1), Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The signal that asked for the stop, if one did.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Notes a temporary file, to be removed if the process is ended before it is renamed.
pub fn track_temporary(path: &Path) {
    lock().push(path.to_path_buf());
}

/// Forgets a temporary file that was renamed or removed.
pub fn untrack_temporary(path: &Path) {
    lock().retain(|p| p != path);
}

/// Removes every temporary file still noted: what the process does before it ends at once.
pub fn remove_temporaries() {
    for path in lock().drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner())
}
