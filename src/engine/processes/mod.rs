//! Real OS processes: each thread of the counter workload runs in its own worker process (the
//! contend binary started again in worker mode), the counter in memory they share or in a
//! manager process, with jitter at every shared access as on threads.
//!
//! Each execution gets a fresh private folder (in `/dev/shm` where it exists) holding the
//! shared region, the lock file and the manager's socket. The folder is removed as soon as every
//! worker has attached (mappings, open files and connections outlive their names); a contend
//! killed before that leaves it behind, and the next processes run removes the folders of
//! contend processes that are gone. Workers watch their stdin and exit when their parent is
//! gone, so none outlives a killed contend.
//! A worker that panics, crashes or is killed fails the execution, and the others are killed
//! at once; an execution that outlives the timeout is killed and ends the scenario.

pub mod manager;
pub mod worker;

use std::io::{self, Write as _};
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use self::manager::ManagerServer;
use self::worker::{EXIT_ORPHANED, WORKER_COMMAND, WorkerOrder};
use super::{EngineError, Flow, Outcome, RunPlan, derive_seed};
use crate::failure::Kind;
use crate::ledger::{EventContext, Settlement};
use crate::platform::Platform;
use crate::platform::process::{ProcessPlatform, ProcessPlatformError};
use crate::scenario::{CounterSpec, ProcessesSettings, Storage};
use crate::tally::Tally;
use crate::workload::Workload;
use crate::workload::counter::{Counter, CounterState};

/// How often the parent looks at the start line while workers attach.
const START_POLL: Duration = Duration::from_micros(250);

/// The most of a worker's stderr kept for its report.
const STDERR_KEPT: usize = 4096;

/// The processes engine.
#[derive(Clone, Debug)]
pub struct ProcessesEngine {
    settings: ProcessesSettings,
    program: PathBuf,
}

/// The folder under which executions make their folders: `/dev/shm` (memory) where it exists,
/// else the system's temporary folder.
pub fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Removes the execution folders of contend processes that no longer exist (killed before
/// their workers had attached). Linux only: elsewhere there is no `/proc` to ask.
pub fn remove_abandoned_folders(root: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("contend-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Another contend may be removing it too, or it may not be ours to remove.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The prefix of the folder names this process gives its executions.
pub fn folder_prefix() -> String {
    format!("contend-{}-", std::process::id())
}

impl ProcessesEngine {
    /// An engine whose workers run `program`, which must be the contend binary (its hidden
    /// worker command is how a worker starts).
    pub fn new(settings: ProcessesSettings, program: PathBuf) -> Self {
        ProcessesEngine { settings, program }
    }

    /// Runs the counter workload `counter` as `plan` says, recording each execution in `tally`.
    pub fn execute(
        &self,
        counter: &CounterSpec,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let workload = Counter::new(counter.clone());
        remove_abandoned_folders(&scratch_root());
        if self.settings.parallel && plan.jobs > 1 {
            return self.execute_side_by_side(&workload, counter, plan, tally);
        }
        for run in plan.executions() {
            if plan.out_of_time() {
                tally.stop_for_time();
                break;
            }
            let execution = self.execute_once(&workload, counter, plan, run)?;
            let timed_out = execution.timed_out;
            let flow = tally.record(run, execution.outcome);
            if timed_out {
                tally.notes.push(format!(
                    "stopped after run {run} timed out (timeout = \"{}\")",
                    humantime::format_duration(self.settings.timeout)
                ));
                break;
            }
            if flow == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    /// `parallel = true`: runs the executions on `plan.jobs` worker threads, each execution
    /// with its own worker processes, and adds them up in run order, as [`Self::execute`] would
    /// have one after the other: the run that stops the scenario (a timeout, `--fail-fast`)
    /// drops the runs after it, so the report is the same for every number of jobs.
    fn execute_side_by_side(
        &self,
        workload: &Counter,
        counter: &CounterSpec,
        plan: &RunPlan,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let runs = Mutex::new(plan.executions());
        let stop_at = AtomicU64::new(u64::MAX);
        let done: Mutex<std::collections::BTreeMap<u64, Result<Ran, EngineError>>> =
            Mutex::default();
        let template = tally.fresh();
        std::thread::scope(|scope| {
            for _ in 0..plan.jobs {
                scope.spawn(|| {
                    loop {
                        if plan.out_of_time() {
                            break;
                        }
                        let Some(run) = lock(&runs).next() else { break };
                        if run > stop_at.load(Ordering::SeqCst) {
                            break;
                        }
                        let ran = self.execute_once(workload, counter, plan, run).map(|e| {
                            let mut one = template.fresh();
                            let flow = one.record(run, e.outcome);
                            Ran {
                                tally: one,
                                flow,
                                timed_out: e.timed_out,
                            }
                        });
                        if ran
                            .as_ref()
                            .map_or(true, |ran| ran.timed_out || ran.flow == Flow::Stop)
                        {
                            stop_at.fetch_min(run, Ordering::SeqCst);
                        }
                        lock(&done).insert(run, ran);
                    }
                });
            }
        });
        let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
        for run in plan.executions() {
            let Some(ran) = done.remove(&run) else {
                // A run before this one's end never ran: the time budget ended the scenario.
                tally.stop_for_time();
                break;
            };
            let ran = ran?;
            tally.absorb(ran.tally);
            if ran.timed_out {
                tally.notes.push(format!(
                    "stopped after run {run} timed out (timeout = \"{}\")",
                    humantime::format_duration(self.settings.timeout)
                ));
                break;
            }
            if ran.flow == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    /// Runs execution `run` once in fresh worker processes and judges how it went.
    fn execute_once(
        &self,
        workload: &Counter,
        counter: &CounterSpec,
        plan: &RunPlan,
        run: u64,
    ) -> Result<Execution, EngineError> {
        let workers = counter.threads.len();
        let folder = execution_folder()?;
        let platform = ProcessPlatform::create(folder.path())?;
        let control = Control::new(&platform, workers)?;
        let shared = self.shared_state(workload, counter, &platform, folder.path())?;
        let run_seed = derive_seed(plan.seed, run);
        let mut children = self.spawn_workers(folder.path(), counter, run_seed)?;
        let ends = self.await_workers(&mut children, &control, &shared, folder);
        let outcome = if ends.timed_out {
            self.timed_out_outcome(&ends.still_running)
        } else if let Some(message) = ends.first_failure {
            Outcome::failed(Kind::Panic, message)
        } else {
            Outcome::Settled(settle(workload, &shared, plan, run)?)
        };
        Ok(Execution {
            outcome,
            timed_out: ends.timed_out,
        })
    }

    /// The state the workers share, in the region of `platform` or in a manager listening in
    /// `folder`, as the settings' storage says.
    fn shared_state(
        &self,
        workload: &Counter,
        counter: &CounterSpec,
        platform: &ProcessPlatform,
        folder: &Path,
    ) -> Result<Shared, EngineError> {
        Ok(match self.settings.storage {
            Storage::SharedMemory => Shared::Memory(workload.new_state(platform)?),
            Storage::Manager => Shared::Manager(
                ManagerServer::bind(folder, counter).map_err(scratch_error(folder))?,
            ),
        })
    }

    /// Starts one worker process per thread of `counter`; if one cannot start, kills those
    /// already started.
    fn spawn_workers(
        &self,
        folder: &Path,
        counter: &CounterSpec,
        run_seed: u64,
    ) -> Result<Vec<WorkerProcess>, EngineError> {
        let workers = counter.threads.len();
        let mut children: Vec<WorkerProcess> = Vec::with_capacity(workers);
        for worker in 0..workers {
            let order = WorkerOrder {
                folder: folder.to_path_buf(),
                worker,
                workers,
                counter: counter.clone(),
                storage: self.settings.storage,
                jitter: self.settings.jitter.clone(),
                run_seed,
            };
            match WorkerProcess::spawn(&self.program, &order) {
                Ok(child) => children.push(child),
                Err(source) => {
                    for child in &mut children {
                        child.kill();
                    }
                    return Err(EngineError::Worker {
                        program: self.program.clone(),
                        source,
                    });
                }
            }
        }
        Ok(children)
    }

    /// Serves the manager (if any) and reads every worker's stderr while [`Self::watch`] waits
    /// for the workers to end; removes `folder` at the latest when all have ended.
    fn await_workers(
        &self,
        children: &mut [WorkerProcess],
        control: &Control<impl Deref<Target = [AtomicU64]>>,
        shared: &Shared,
        folder: tempfile::TempDir,
    ) -> Ends {
        let workers = children.len();
        let stop_serving = AtomicBool::new(false);
        let server_failure = Mutex::new(None);
        let mut folder = Some(folder);
        let ends = std::thread::scope(|scope| {
            if let Shared::Manager(server) = shared {
                let (stop, failure) = (&stop_serving, &server_failure);
                scope.spawn(move || {
                    if let Err(error) = server.serve(workers, stop) {
                        *lock(failure) = Some(format!(
                            "the manager could not accept a worker's connection: {error}"
                        ));
                    }
                });
            }
            let (sender, receiver) = mpsc::channel();
            for (worker, child) in children.iter_mut().enumerate() {
                let stderr = child.child.stderr.take();
                let sender = sender.clone();
                scope.spawn(move || {
                    let text = stderr.map(read_tail).unwrap_or_default();
                    // The receiver outlives every sender; nothing to do if it did not.
                    let _ = sender.send((worker, text));
                });
            }
            drop(sender);
            let ends = self.watch(children, control, &receiver, &mut folder, &server_failure);
            stop_serving.store(true, Ordering::Release);
            ends
        });
        drop(folder);
        ends
    }

    /// The outcome of an execution killed at the timeout with `still_running` workers.
    fn timed_out_outcome(&self, still_running: &[usize]) -> Outcome {
        let running: Vec<String> = still_running
            .iter()
            .map(|&w| format!("worker {}", w + 1))
            .collect();
        // Workers that never finish are stuck or spinning: without a wait-for graph across
        // processes, the timeout is the step bound of real processes.
        Outcome::failed(
            Kind::Livelock,
            format!(
                "timed out after {}: {} still running; contend killed {}",
                humantime::format_duration(self.settings.timeout),
                running.join(" and "),
                if running.len() == 1 { "it" } else { "them" }
            ),
        )
    }

    /// Waits for every worker to end, removing the folder once all have attached, killing the
    /// others when one fails or the manager cannot serve, and every one at the timeout.
    fn watch(
        &self,
        children: &mut [WorkerProcess],
        control: &Control<impl Deref<Target = [AtomicU64]>>,
        ended: &mpsc::Receiver<(usize, String)>,
        folder: &mut Option<tempfile::TempDir>,
        server_failure: &Mutex<Option<String>>,
    ) -> Ends {
        let workers = children.len();
        // A timeout too long to add to the clock is no timeout.
        let deadline = Instant::now().checked_add(self.settings.timeout);
        let mut watch = Watch {
            running: vec![true; workers],
            killed: vec![false; workers],
            first_failure: None,
        };
        let mut timed_out = false;
        let mut still_running = Vec::new();
        loop {
            if folder.is_some() && control.arrived() >= workers {
                // Every worker holds what it needs: the names can go.
                if let Some(folder) = folder.take() {
                    let _ = folder.close();
                }
            }
            if watch.first_failure.is_none()
                && let Some(failure) = lock(server_failure).take()
            {
                watch.fail(failure, children);
            }
            let received = if watch.killed.iter().any(|&k| k) {
                // Killed workers end at once: wait for them without a clock.
                ended
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
            } else {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let wait = match (folder.is_some(), left) {
                    (true, Some(left)) => START_POLL.min(left),
                    (true, None) => START_POLL,
                    (false, Some(left)) => left,
                    (false, None) => Duration::from_secs(3600),
                };
                ended.recv_timeout(wait)
            };
            match received {
                Ok((worker, stderr)) => {
                    watch.ended(worker, &stderr, children, control, &self.program)
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if deadline.is_none_or(|d| Instant::now() < d) {
                        continue;
                    }
                    // Workers that ended just before the deadline are not "still running".
                    while let Ok((worker, stderr)) = ended.try_recv() {
                        watch.ended(worker, &stderr, children, control, &self.program);
                    }
                    timed_out = watch.first_failure.is_none();
                    for (worker, child) in children.iter_mut().enumerate() {
                        if watch.running[worker] && !watch.killed[worker] {
                            still_running.push(worker);
                            watch.killed[worker] = true;
                            child.kill();
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ends {
            first_failure: watch.first_failure,
            timed_out: timed_out && !still_running.is_empty(),
            still_running,
        }
    }
}

/// What the parent knows of its workers while they run.
struct Watch {
    running: Vec<bool>,
    killed: Vec<bool>,
    first_failure: Option<String>,
}

impl Watch {
    /// Worker `worker` has ended (its stderr closed): reaps it and judges how it ended.
    fn ended(
        &mut self,
        worker: usize,
        stderr: &str,
        children: &mut [WorkerProcess],
        control: &Control<impl Deref<Target = [AtomicU64]>>,
        program: &Path,
    ) {
        self.running[worker] = false;
        let status = children[worker].wait();
        if self.killed[worker] {
            return;
        }
        let finished = control.finished(worker);
        let pid = children[worker].child.id();
        if let Some(failure) = describe_end(worker, pid, status, finished, stderr, program) {
            self.fail(failure, children);
        }
    }

    /// The execution failed: the first failure is the one reported, and the workers still
    /// running are killed.
    fn fail(&mut self, failure: String, children: &mut [WorkerProcess]) {
        if self.first_failure.is_some() {
            return;
        }
        self.first_failure = Some(failure);
        for (worker, child) in children.iter_mut().enumerate() {
            if self.running[worker] && !self.killed[worker] {
                self.killed[worker] = true;
                child.kill();
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh private folder for one execution, under [`scratch_root`].
fn execution_folder() -> Result<tempfile::TempDir, EngineError> {
    tempfile::Builder::new()
        .prefix(&folder_prefix())
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(scratch_root())
        .map_err(scratch_error(&scratch_root()))
}

/// Turns an I/O error on the scratch folder `folder` into an engine error.
fn scratch_error(folder: &Path) -> impl FnOnce(io::Error) -> EngineError + '_ {
    move |source| EngineError::Scratch {
        folder: folder.to_path_buf(),
        source,
    }
}

/// The final state of a clean execution, settled from where the workers shared it.
fn settle(
    workload: &Counter,
    shared: &Shared,
    plan: &RunPlan,
    run: u64,
) -> Result<Settlement, EngineError> {
    let context = EventContext {
        scenario: &plan.scenario,
        run,
    };
    let settled = match shared {
        Shared::Memory(state) => workload.settle(state, context),
        Shared::Manager(server) => server.ledger().settle(context),
    };
    settled.map_err(|source| EngineError::Ledger {
        scenario: plan.scenario.clone(),
        run,
        source,
    })
}

/// The shared state of one execution, as the parent sees it.
enum Shared {
    Memory(CounterState<ProcessPlatform>),
    Manager(ManagerServer),
}

/// One execution run side by side with others, recorded in a tally of its own.
struct Ran {
    tally: Tally,
    flow: Flow,
    timed_out: bool,
}

/// How one execution went.
struct Execution {
    outcome: Outcome,
    timed_out: bool,
}

/// How the workers of one execution ended.
struct Ends {
    first_failure: Option<String>,
    timed_out: bool,
    still_running: Vec<usize>,
}

/// The words in the region that coordinate an execution: how many workers have attached, and
/// which have finished their work. Both sides allocate them first.
pub(crate) struct Control<S> {
    words: S,
}

impl Control<crate::platform::process::MappedStore> {
    /// The control words of an execution with `workers` workers.
    pub(crate) fn new(
        platform: &ProcessPlatform,
        workers: usize,
    ) -> Result<Self, ProcessPlatformError> {
        Ok(Control {
            words: platform.store(1 + workers)?,
        })
    }
}

impl<S: Deref<Target = [AtomicU64]>> Control<S> {
    fn arrived(&self) -> usize {
        self.words[0].load(Ordering::Acquire) as usize
    }

    /// Marks this worker attached, then waits until every worker is, so that they start
    /// together (spinning: a blocking wake-up takes long enough for a short workload to run
    /// alone).
    pub(crate) fn arrive_and_wait(&self, workers: usize) {
        self.words[0].fetch_add(1, Ordering::AcqRel);
        let mut turns = 0u32;
        while self.arrived() < workers {
            turns = turns.wrapping_add(1);
            if turns.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Marks `worker`'s work done.
    pub(crate) fn finish(&self, worker: usize) {
        self.words[1 + worker].store(1, Ordering::Release);
    }

    fn finished(&self, worker: usize) -> bool {
        self.words[1 + worker].load(Ordering::Acquire) == 1
    }
}

/// A running worker and the pipe that keeps it alive.
struct WorkerProcess {
    child: Child,
    /// Held open until the worker is reaped: its end tells the worker its parent is gone.
    stdin: Option<ChildStdin>,
}

impl WorkerProcess {
    fn spawn(program: &Path, order: &WorkerOrder) -> io::Result<WorkerProcess> {
        let mut child = Command::new(program)
            .arg(WORKER_COMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take();
        let mut line = serde_json::to_vec(order).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Some(pipe) = stdin.as_mut() {
            // A worker that cannot take its order has already ended (a broken pipe): how it
            // ended is what its report will say.
            let _ = pipe.write_all(&line);
        }
        Ok(WorkerProcess { child, stdin })
    }

    fn kill(&mut self) {
        // Fails only if it has already exited, which is what was wanted.
        let _ = self.child.kill();
    }

    fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait();
        self.stdin = None;
        status
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Never leave a worker behind, whatever path led here.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads a pipe to its end, keeping the last [`STDERR_KEPT`] bytes.
fn read_tail(mut pipe: impl io::Read) -> String {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buffer[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
        }
    }
    if kept.len() > STDERR_KEPT {
        kept.drain(..kept.len() - STDERR_KEPT);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Says how a worker ended, or `None` if it finished its work and exited cleanly.
fn describe_end(
    worker: usize,
    pid: u32,
    status: io::Result<ExitStatus>,
    finished: bool,
    stderr: &str,
    program: &Path,
) -> Option<String> {
    let who = format!("worker {} (pid {pid})", worker + 1);
    let said = said_on_stderr(stderr);
    let status = match status {
        Ok(status) => status,
        Err(error) => return Some(format!("{who} could not be waited for: {error}")),
    };
    if let Some(signal) = status.signal() {
        return Some(format!(
            "{who} was killed by signal {signal}{}{}",
            signal_name(signal).map_or(String::new(), |name| format!(" ({name})")),
            said.map_or(String::new(), |said| format!(": {said}"))
        ));
    }
    match status.code() {
        Some(0) if finished => None,
        Some(0) => Some(format!(
            "{who} exited without running its part of the workload (is {} the contend binary?)",
            program.display()
        )),
        Some(101) => Some(format!(
            "{who} panicked{}",
            said.map_or(String::new(), |said| format!(": {said}"))
        )),
        Some(EXIT_ORPHANED) => Some(format!("{who} lost its connection to contend")),
        Some(code) => Some(format!(
            "{who} exited with status {code}{}",
            said.map_or(String::new(), |said| format!(": {said}"))
        )),
        None => Some(format!("{who} ended without a status")),
    }
}

/// The gist of a worker's stderr: a panic's message, or its last lines, on one line.
fn said_on_stderr(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    if let Some(at) = lines.iter().position(|line| line.contains("panicked at")) {
        let message = lines[at + 1..].join(" ");
        return Some(if message.is_empty() {
            lines[at].to_string()
        } else {
            message
        });
    }
    let tail = lines[lines.len().saturating_sub(3)..].join(" ");
    (!tail.is_empty()).then_some(tail)
}

/// The usual name of a signal.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_taken_from_stderr() {
        let stderr = "\nthread 'main' panicked at src/x.rs:3:5:\nthe workload gave up\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            said_on_stderr(stderr).as_deref(),
            Some("the workload gave up")
        );
        assert_eq!(said_on_stderr("  \n"), None);
    }

    #[test]
    fn a_killed_worker_is_described_by_its_signal() {
        let status = ExitStatus::from_raw(9);
        let message = describe_end(1, 42, Ok(status), false, "", Path::new("contend")).unwrap();
        assert_eq!(
            message,
            "worker 2 (pid 42) was killed by signal 9 (SIGKILL)"
        );
        let clean = ExitStatus::from_raw(0);
        assert_eq!(
            describe_end(0, 42, Ok(clean), true, "", Path::new("contend")),
            None
        );
        let early = describe_end(0, 42, Ok(clean), false, "", Path::new("/bin/true")).unwrap();
        assert!(early.contains("/bin/true the contend binary?"), "{early}");
    }
}
