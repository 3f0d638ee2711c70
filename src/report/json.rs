//! The JSON report, written whole at the end of the run.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Event, Reporter, RunReport};

/// Writes the run report as pretty JSON to a writer.
pub fn write_json(report: &RunReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Writes `contents` to `path` through a temporary file in the same folder and a rename, so
/// that a reader never sees a half-written file; the temporary file is removed on failure.
///
/// Goes through [`crate::output::Destination`]: `-` is stdout, a FIFO or device is written
/// directly, and a symlink is followed to the file it points to.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    crate::output::Destination::resolve(path)?.write_all(contents)
}

pub use crate::output::{folder_of, temporary_beside};

/// Writes the JSON report to a file when the run finishes.
#[derive(Debug)]
pub struct JsonFileReporter {
    path: PathBuf,
}

impl JsonFileReporter {
    /// A reporter that will write to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonFileReporter { path: path.into() }
    }
}

impl Reporter for JsonFileReporter {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            let mut buffer = Vec::new();
            write_json(report, &mut buffer)?;
            write_atomically(&self.path, &buffer)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}

/// Writes the JSON report to a writer (stdout, for `--format json`) when the run finishes.
#[derive(Debug)]
pub struct JsonReporter<W: Write> {
    out: W,
}

impl<W: Write> JsonReporter<W> {
    /// A reporter that will write to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Event::RunFinished { report } = event {
            write_json(report, &mut self.out)?;
            self.out.flush()?;
        }
        Ok(())
    }
}
