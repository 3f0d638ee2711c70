//! The worker side of the processes engine: one OS process running one thread of the workload.
//!
//! The contend binary becomes a worker when started with the hidden [`WORKER_COMMAND`]. Its
//! order arrives as one JSON line on stdin; the parent keeps stdin open for as long as it wants
//! the worker, so a worker whose parent died (stdin at end of file) exits at once: no orphan
//! outlives a killed contend.

use std::io::{self, BufRead};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Control;
use super::manager::ManagerClient;
use crate::engine::derive_seed;
use crate::platform::os::JitterPoint;
use crate::platform::process::{ProcessPlatform, ProcessPlatformError};
use crate::platform::{AccessPoint, Lock, Platform};
use crate::scenario::{CounterSpec, Jitter, Storage, SyncMode};
use crate::workload::Workload;
use crate::workload::counter::Counter;

/// The hidden command line argument that makes the contend binary a worker.
pub const WORKER_COMMAND: &str = "process-worker";

/// The exit status of a worker whose parent went away.
pub const EXIT_ORPHANED: i32 = 3;

/// What one worker is to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerOrder {
    /// The execution's folder, holding its shared region, lock file and manager socket.
    pub folder: PathBuf,
    /// This worker's index: the thread of the workload it runs.
    pub worker: usize,
    /// How many workers the execution has.
    pub workers: usize,
    /// The counter workload.
    pub counter: CounterSpec,
    /// Where the counter lives.
    pub storage: Storage,
    /// Noise at each access, if any.
    pub jitter: Option<Jitter>,
    /// The execution's seed; the worker's noise derives from it and its index.
    pub run_seed: u64,
}

/// A worker could not do its work.
#[derive(Debug, Error)]
pub enum WorkerError {
    /// The order could not be read.
    #[error("could not read the worker's order from stdin")]
    ReadOrder(#[source] io::Error),
    /// The order was not valid.
    #[error("the worker's order is not valid")]
    ParseOrder(#[source] serde_json::Error),
    /// The shared state could not be attached.
    #[error(transparent)]
    Platform(#[from] ProcessPlatformError),
    /// The manager could not be reached, or stopped answering.
    #[error("lost the connection to the manager")]
    Manager(#[source] io::Error),
}

/// Runs a worker: reads its order from `input`, watches `input` for the parent's end, attaches
/// to the shared state, waits at the start line, runs its thread of the workload and marks it
/// finished.
pub fn serve(mut input: impl BufRead + Send + 'static) -> Result<(), WorkerError> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(WorkerError::ReadOrder)?;
    let order: WorkerOrder = serde_json::from_str(&line).map_err(WorkerError::ParseOrder)?;
    std::thread::spawn(move || watch_parent(input));

    let platform = ProcessPlatform::attach(&order.folder)?;
    let control = Control::new(&platform, order.workers)?;
    let mut point = JitterPoint::new(
        order.jitter.as_ref(),
        derive_seed(order.run_seed, order.worker as u64),
    );
    match order.storage {
        Storage::SharedMemory => {
            let workload = Counter::new(order.counter.clone());
            let state = workload.new_state(&platform)?;
            control.arrive_and_wait(order.workers);
            workload.run_thread::<ProcessPlatform>(&state, order.worker, &mut point);
        }
        Storage::Manager => {
            let lock = platform.lock()?;
            let mut manager = ManagerClient::connect(&order.folder, order.worker)
                .map_err(WorkerError::Manager)?;
            control.arrive_and_wait(order.workers);
            run_managed(&order, &mut manager, &lock, &mut point).map_err(WorkerError::Manager)?;
        }
    }
    control.finish(order.worker);
    Ok(())
}

/// The lesson's task over a managed value: `counter.value += delta`, a `get` then a `set`, with
/// `lock.acquire(worker)` around it when the scenario has the lock.
fn run_managed(
    order: &WorkerOrder,
    manager: &mut ManagerClient,
    lock: &impl Lock,
    point: &mut impl AccessPoint,
) -> io::Result<()> {
    let spec = order.counter.threads[order.worker];
    for op in 0..spec.ops {
        let _guard = match order.counter.sync {
            SyncMode::Mutex => {
                point.before_access();
                Some(lock.acquire(order.worker))
            }
            _ => None,
        };
        point.before_access();
        let read = manager.get()?;
        point.before_access();
        manager.set(op, read, read.value.wrapping_add(spec.delta))?;
    }
    Ok(())
}

/// Blocks until the parent closes stdin (it died, or it is done with this worker), then ends
/// the process.
fn watch_parent(mut input: impl BufRead) {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        match input.read_until(b'\n', &mut sink) {
            Ok(0) | Err(_) => std::process::exit(EXIT_ORPHANED),
            Ok(_) => {}
        }
    }
}
