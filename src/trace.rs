//! `--trace`: every contend `tracing` event as one JSON object per line.
//!
//! A file is written under a temporary name and renamed into place by [`TraceFile::finish`],
//! so a reader never sees a half-written trace; `-`, a FIFO or a device is written directly.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::output::{Destination, OutputWriter};

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Whether the `contend::lost_update` events say which updates each overwrite discarded.
static DISCARDS_WANTED: AtomicBool = AtomicBool::new(false);

/// Asks the ledger to work out, for each overwrite, the updates it discarded for good (the
/// `discarded_updates` and `discarded` fields of `contend::lost_update` events). It costs about
/// 12 bytes a write at each settlement, so it is on only when a trace is written; a program with
/// its own subscriber turns it on here.
pub fn want_discards(on: bool) {
    DISCARDS_WANTED.store(on, Ordering::Relaxed);
}

/// Whether [`want_discards`] is on.
pub fn discards_wanted() -> bool {
    DISCARDS_WANTED.load(Ordering::Relaxed)
}

/// A JSON-lines trace being written.
#[derive(Debug)]
pub struct TraceFile {
    path: PathBuf,
    writer: SharedWriter,
}

/// A buffered output shared by every thread that emits events.
#[derive(Clone, Debug)]
struct SharedWriter(Arc<Mutex<BufWriter<OutputWriter>>>);

impl SharedWriter {
    /// Takes the output out of the writer, flushed, leaving a sink for late events.
    fn take(&self) -> io::Result<OutputWriter> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.flush()?;
        Ok(std::mem::replace(
            guard.get_mut(),
            OutputWriter::Direct(Box::new(io::sink())),
        ))
    }
}

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for SharedWriter {
    type Writer = SharedWriter;

    fn make_writer(&'a self) -> SharedWriter {
        self.clone()
    }
}

impl TraceFile {
    /// Opens a trace for `path` and the layer that writes contend's events to it.
    pub fn create<S>(path: &Path) -> io::Result<(TraceFile, impl Layer<S> + Send + Sync + 'static)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let output = Destination::resolve(path)?.open()?;
        want_discards(true);
        let writer = SharedWriter(Arc::new(Mutex::new(BufWriter::with_capacity(
            1 << 20,
            output,
        ))));
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer.clone())
            .with_filter(Targets::new().with_target("contend", tracing::Level::TRACE));
        Ok((
            TraceFile {
                path: path.to_path_buf(),
                writer,
            },
            layer,
        ))
    }

    /// Flushes the trace and moves it into place (a file; a stream is written directly).
    pub fn finish(self) -> io::Result<PathBuf> {
        self.writer.take()?.finish()?;
        Ok(self.path)
    }

    /// Removes the partial trace of a run that did not complete.
    pub fn abandon(self) {
        let mut guard = self.writer.0.lock().unwrap_or_else(|p| p.into_inner());
        drop(std::mem::replace(
            guard.get_mut(),
            OutputWriter::Direct(Box::new(io::sink())),
        ));
    }
}

/// Whether a `-v` log is installed: only then do engines label their executions.
static LABELS_WANTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    static EXECUTION: std::cell::RefCell<Option<(std::sync::Arc<str>, u64)>> =
        const { std::cell::RefCell::new(None) };
}

/// While alive, the log lines of this thread belong to one execution of a scenario.
#[derive(Debug)]
pub struct ExecutionLabel {
    previous: Option<Option<(std::sync::Arc<str>, u64)>>,
}

impl Drop for ExecutionLabel {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            EXECUTION.set(previous);
        }
    }
}

/// Labels this thread's log lines with `scenario` and `run` until the label is dropped: an
/// engine calls it on every thread of an execution (under shuttle, the one that runs its
/// tasks). Costs nothing unless a `-v` log is installed.
pub fn label_execution(scenario: &std::sync::Arc<str>, run: u64) -> ExecutionLabel {
    if !LABELS_WANTED.load(std::sync::atomic::Ordering::Relaxed) {
        return ExecutionLabel { previous: None };
    }
    let previous = EXECUTION.replace(Some((std::sync::Arc::clone(scenario), run)));
    ExecutionLabel {
        previous: Some(previous),
    }
}

/// The target of the lesson-style log lines of the `counter-object` workload.
pub const LESSON_LOG_TARGET: &str = "contend::counter_object";

/// `-v`: the `counter-object` workload's log lines, as the lesson's `logging` printed them,
/// after the scenario and run they come from: `[counter-class run 3] (Thread-1  ) Waiting for
/// lock`.
#[derive(Debug)]
pub struct LessonLog<W> {
    out: Mutex<W>,
}

impl<W: Write + Send + 'static> LessonLog<W> {
    /// A layer that writes the lines to `out`.
    pub fn layer<S>(out: W) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        LABELS_WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
        LessonLog {
            out: Mutex::new(out),
        }
        .with_filter(Targets::new().with_target(LESSON_LOG_TARGET, tracing::Level::DEBUG))
    }
}

impl<S: Subscriber, W: Write + Send + 'static> Layer<S> for LessonLog<W> {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        #[derive(Default)]
        struct Line {
            thread: String,
            message: String,
        }
        impl Visit for Line {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "thread" {
                    self.thread = value.to_string();
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "thread" => self.thread = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut line = Line::default();
        event.record(&mut line);
        let label = EXECUTION.with_borrow(|execution| {
            execution
                .as_ref()
                .map(|(scenario, run)| format!("[{scenario} run {run}] "))
                .unwrap_or_default()
        });
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stderr is no reason to stop the run.
        let _ = writeln!(out, "{label}({:<10}) {}", line.thread, line.message);
    }
}
