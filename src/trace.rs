//! `--trace`: every contend `tracing` event as one JSON object per line.
//!
//! The file is written under a temporary name and renamed into place by [`TraceFile::finish`],
//! so a reader never sees a half-written trace.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use tempfile::TempPath;

use crate::report::json::temporary_beside;

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// A JSON-lines trace being written.
#[derive(Debug)]
pub struct TraceFile {
    path: PathBuf,
    temporary: TempPath,
    writer: SharedWriter,
}

/// A buffered file shared by every thread that emits events.
#[derive(Clone, Debug)]
struct SharedWriter(Arc<Mutex<BufWriter<File>>>);

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
    /// Opens a trace for `path` and the subscriber that writes contend's events to it.
    pub fn create(path: &Path) -> io::Result<(TraceFile, impl Subscriber + Send + Sync + 'static)> {
        let (file, temporary) = temporary_beside(path)?.into_parts();
        let writer = SharedWriter(Arc::new(Mutex::new(BufWriter::with_capacity(
            1 << 20,
            file,
        ))));
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer.clone());
        let subscriber = tracing_subscriber::registry()
            .with(layer)
            .with(Targets::new().with_target("contend", tracing::Level::TRACE));
        Ok((
            TraceFile {
                path: path.to_path_buf(),
                temporary,
                writer,
            },
            subscriber,
        ))
    }

    /// Flushes the trace and moves it into place.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        self.writer.flush()?;
        self.temporary.persist(&self.path).map_err(|e| e.error)?;
        Ok(self.path)
    }

    /// Removes the partial trace of a run that did not complete (dropping it does the same).
    pub fn abandon(self) {}
}
