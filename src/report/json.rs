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

/// A new temporary file in the folder of `path`, to be renamed to `path` once complete.
/// Unlike most temporary files it is readable by others (mode 0644 on Unix), as the file it
/// becomes should be.
pub fn temporary_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".contend-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(folder_of(path))
}

/// The folder a file path is in; `.` for a bare file name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

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
