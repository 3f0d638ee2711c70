//! Signals during `contend run`: the first SIGINT, SIGTERM or SIGHUP asks the run to stop
//! after the execution under way, so that every report is written with what ran; a second one
//! ends contend at once, after removing its temporary files.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use contend::{exit_code, interrupt};

/// The signals that stop a run.
const STOPPING: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Starts the thread that handles the stopping signals.
pub fn install() -> anyhow::Result<()> {
    let mut signals = Signals::new(STOPPING).context("cannot handle signals")?;
    std::thread::Builder::new()
        .name("contend-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if interrupt::requested() {
                    interrupt::remove_temporaries();
                    std::process::exit(exit_code::of_signal(signal));
                }
                interrupt::request(signal);
                eprintln!(
                    "\ncontend: {} received: stopping after the execution under way and writing \
                     the reports (send it again to stop at once)",
                    name(signal)
                );
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// In a worker process: the stopping signals are noted and otherwise ignored, since the
/// parent decides when its execution ends (a worker exits when its stdin closes).
pub fn ignore_in_worker() {
    let noted = Arc::new(AtomicBool::new(false));
    for signal in STOPPING {
        // Failing to register leaves the default action: the worker dies with its group.
        let _ = signal_hook::flag::register(signal, Arc::clone(&noted));
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
