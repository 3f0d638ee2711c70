//! Where an output goes, and how it is written without replacing what its path names.
//!
//! Every report, the JSON, JUnit and trace files alike, goes through a [`Destination`]:
//!
//! - `-` is stdout;
//! - a FIFO, a character or block device or a socket is written directly (opened for writing,
//!   never replaced);
//! - a symlink is followed: the file it points to is replaced, through a temporary file in
//!   that file's folder, and the link stays a link;
//! - anything else is a regular file, written under a temporary name in its folder and renamed
//!   into place, so that a reader never sees half of it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::interrupt;

/// How many symlinks are followed before the path is said to loop (Linux's limit).
const MAX_LINKS: usize = 40;

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The process's standard output (`-`).
    Stdout,
    /// A FIFO, device or socket: opened and written directly.
    Stream(PathBuf),
    /// A regular file (existing or not) replaced whole by a rename; the path is the one left
    /// once symlinks are followed.
    File(PathBuf),
}

impl Destination {
    /// What `path` names, following symlinks.
    pub fn resolve(path: &Path) -> io::Result<Destination> {
        if path.as_os_str() == "-" {
            return Ok(Destination::Stdout);
        }
        let target = follow_links(path)?;
        match fs::metadata(&target) {
            Ok(metadata) if metadata.is_dir() => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "this is a folder, not a file",
            )),
            Ok(metadata) if !metadata.is_file() => Ok(Destination::Stream(target)),
            _ => Ok(Destination::File(target)),
        }
    }

    /// Checks, before any work is done, that the output can be written: a file's folder exists
    /// and takes a new file; a stream is left alone (opening a FIFO would wait for a reader).
    pub fn check(&self) -> io::Result<()> {
        match self {
            Destination::Stdout | Destination::Stream(_) => Ok(()),
            Destination::File(path) => {
                let folder = folder_of(path);
                if !folder.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("the folder {} does not exist", folder.display()),
                    ));
                }
                temporary_beside(path).map(drop).map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("cannot write in the folder {}: {error}", folder.display()),
                    )
                })
            }
        }
    }

    /// Writes `contents` whole: a file by a rename of a complete temporary, a stream directly.
    pub fn write_all(&self, contents: &[u8]) -> io::Result<()> {
        let mut writer = self.open()?;
        writer.write_all(contents)?;
        writer.finish()
    }

    /// Opens the output for writing; [`OutputWriter::finish`] puts it in place.
    pub fn open(&self) -> io::Result<OutputWriter> {
        match self {
            Destination::Stdout => Ok(OutputWriter::Direct(Box::new(io::stdout()))),
            Destination::Stream(path) => {
                let file = OpenOptions::new().write(true).open(path)?;
                Ok(OutputWriter::Direct(Box::new(file)))
            }
            Destination::File(path) => {
                let temporary = temporary_beside(path)?;
                interrupt::track_temporary(temporary.path());
                Ok(OutputWriter::Temporary {
                    temporary: Tracked(Some(temporary)),
                    target: path.clone(),
                })
            }
        }
    }
}

/// An output being written.
pub enum OutputWriter {
    /// Written in place (stdout, a FIFO, a device).
    Direct(Box<dyn Write + Send>),
    /// A temporary file, renamed to `target` when finished and removed if dropped before.
    Temporary {
        /// The temporary file.
        temporary: Tracked,
        /// Where it goes.
        target: PathBuf,
    },
}

impl std::fmt::Debug for OutputWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputWriter::Direct(_) => f.write_str("OutputWriter::Direct"),
            OutputWriter::Temporary { target, .. } => {
                write!(f, "OutputWriter::Temporary({})", target.display())
            }
        }
    }
}

impl OutputWriter {
    /// Flushes the output and, for a file, renames it into place.
    pub fn finish(self) -> io::Result<()> {
        match self {
            OutputWriter::Direct(mut out) => out.flush(),
            OutputWriter::Temporary {
                mut temporary,
                target,
            } => {
                let mut file = temporary.0.take().expect("a temporary is taken once");
                let path = file.path().to_path_buf();
                let result = file
                    .flush()
                    .and_then(|()| file.as_file().sync_all())
                    .and_then(|()| file.persist(&target).map(drop).map_err(|e| e.error));
                interrupt::untrack_temporary(&path);
                result
            }
        }
    }
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            OutputWriter::Direct(out) => out.write(buf),
            OutputWriter::Temporary { temporary, .. } => temporary.file().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            OutputWriter::Direct(out) => out.flush(),
            OutputWriter::Temporary { temporary, .. } => temporary.file().flush(),
        }
    }
}

/// A temporary file noted in [`crate::interrupt`]'s list while it exists.
pub struct Tracked(Option<tempfile::NamedTempFile>);

impl Tracked {
    fn file(&mut self) -> &mut tempfile::NamedTempFile {
        self.0
            .as_mut()
            .expect("a temporary is written before it is taken")
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(file) = &self.0 {
            interrupt::untrack_temporary(file.path());
        }
    }
}

/// The path `path` leads to once every symlink on it is followed; a dangling link leads to
/// the file it would create.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = if link.is_absolute() {
                    link
                } else {
                    folder_of(&current).join(link)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Whether two paths name the same file (following symlinks), as far as can be told before
/// either is written.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (
        follow_links(a).and_then(fs::canonicalize),
        follow_links(b).and_then(fs::canonicalize),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            absolute(a) == absolute(b)
        }
    }
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
