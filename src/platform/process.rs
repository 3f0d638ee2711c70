//! Primitives shared by OS processes: words in a file mapped by every process of an execution,
//! and a lock on a file.
//!
//! Every process of an execution builds the same shared state by making the same calls in the
//! same order: each allocation takes the next free place in the region file, so the parent and
//! each worker map the same words. The parent creates the files and grows the region; workers
//! attach to it.
//!
//! The lock is `flock(2)` on a lock file (`std::fs::File::lock`), each process opening the file
//! itself so that the lock excludes other processes. A file lock rather than a process-shared
//! pthread mutex in the mapping: the kernel releases a file lock when its holder dies, so a
//! killed worker never leaves the others blocked on a lock nobody will release (a pthread mutex
//! would need the robust-mutex protocol and `unsafe` FFI), and it blocks in the kernel rather
//! than spinning, as `multiprocessing.Lock` does.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use super::Platform;
use super::SharedWord;
use super::mapping::MappedWords;
use super::os::JitterPoint;
use crate::ledger::Logs;
use crate::platform::Lock;

/// The region file's name inside an execution's folder.
pub const REGION_FILE: &str = "region";
/// The lock file's name inside an execution's folder.
pub const LOCK_FILE: &str = "lock";

/// The files of an execution are for its own processes only: another user who could open the
/// lock file could hold the lock.
const PRIVATE: u32 = 0o600;

/// Allocations start on their own cache line pair, so that two words never share one.
const ALIGNMENT: u64 = 128;

/// Shared state could not be set up in an execution's folder.
#[derive(Debug, Error)]
pub enum ProcessPlatformError {
    /// A file could not be created, opened, grown or mapped.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A worker's view of the region does not fit the file its parent made.
    #[error(
        "the shared region {} holds {len} bytes, but the workload needs {needed}",
        path.display()
    )]
    RegionTooSmall {
        /// The region file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length the workload needs.
        needed: u64,
    },
}

/// The platform of one execution's processes: it allocates shared words from the region file
/// of the execution's folder.
#[derive(Debug)]
pub struct ProcessPlatform {
    folder: PathBuf,
    region: File,
    creator: bool,
    next_offset: AtomicU64,
}

impl ProcessPlatform {
    /// Creates the region and lock files of a new execution in `folder` (the parent's side).
    pub fn create(folder: &Path) -> Result<ProcessPlatform, ProcessPlatformError> {
        let lock_path = folder.join(LOCK_FILE);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE)
            .open(&lock_path)
            .map_err(|source| ProcessPlatformError::Io {
                action: "create the lock file",
                path: lock_path,
                source,
            })?;
        ProcessPlatform::open(folder, true)
    }

    /// Attaches to the execution whose files are in `folder` (a worker's side).
    pub fn attach(folder: &Path) -> Result<ProcessPlatform, ProcessPlatformError> {
        ProcessPlatform::open(folder, false)
    }

    fn open(folder: &Path, creator: bool) -> Result<ProcessPlatform, ProcessPlatformError> {
        let path = folder.join(REGION_FILE);
        let region = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(creator)
            .mode(PRIVATE)
            .open(&path)
            .map_err(|source| ProcessPlatformError::Io {
                action: if creator {
                    "create the shared region"
                } else {
                    "open the shared region"
                },
                path,
                source,
            })?;
        Ok(ProcessPlatform {
            folder: folder.to_path_buf(),
            region,
            creator,
            next_offset: AtomicU64::new(0),
        })
    }

    /// Maps the next `len` words of the region, growing it first on the creator's side.
    fn allocate(&self, len: usize) -> Result<MappedWords, ProcessPlatformError> {
        let bytes = (len.max(1) * 8) as u64;
        let reserved = bytes.div_ceil(ALIGNMENT) * ALIGNMENT;
        let offset = self.next_offset.fetch_add(reserved, Ordering::Relaxed);
        let needed = offset + reserved;
        let path = || self.folder.join(REGION_FILE);
        let io_error = |action| {
            move |source| ProcessPlatformError::Io {
                action,
                path: self.folder.join(REGION_FILE),
                source,
            }
        };
        let file_len = self
            .region
            .metadata()
            .map_err(io_error("read the length of"))?
            .len();
        if file_len < needed {
            if !self.creator {
                return Err(ProcessPlatformError::RegionTooSmall {
                    path: path(),
                    len: file_len,
                    needed,
                });
            }
            // Written, not just extended: a sparse file on a full tmpfs would end in SIGBUS at
            // the first touch of a page; writing zeros turns that into an error here.
            reserve(&self.region, file_len, needed).map_err(io_error("grow the shared region"))?;
        }
        MappedWords::new(&self.region, offset, len).map_err(io_error("map the shared region"))
    }
}

/// Fills the file from `from` to `to` bytes with zeros, so that its pages exist.
fn reserve(file: &File, from: u64, to: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut at = from;
    while at < to {
        let chunk = (to - at).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..chunk], at)?;
        at += chunk as u64;
    }
    Ok(())
}

impl Platform for ProcessPlatform {
    type Word = MappedWord;
    type Lock = FileLock;
    type Point = JitterPoint;
    type Store = MappedStore;
    type Error = ProcessPlatformError;
    // Workers write their records where the parent reads them: in the shared region.
    const LOGS: Logs = Logs::InStore;

    fn word(&self, initial: u64) -> Result<MappedWord, ProcessPlatformError> {
        let word = MappedWord(self.allocate(1)?);
        word.store(initial);
        Ok(word)
    }

    fn lock(&self) -> Result<FileLock, ProcessPlatformError> {
        let path = self.folder.join(LOCK_FILE);
        // Opened here, by each process, so that each has its own open file description: flock
        // locks belong to those, and a shared one would not exclude anything.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| ProcessPlatformError::Io {
                action: "open the lock file",
                path,
                source,
            })?;
        Ok(FileLock { file })
    }

    fn store(&self, words: usize) -> Result<MappedStore, ProcessPlatformError> {
        Ok(MappedStore(self.allocate(words)?))
    }
}

/// One shared word in the region.
#[derive(Debug)]
pub struct MappedWord(MappedWords);

impl MappedWord {
    #[inline]
    fn atomic(&self) -> &AtomicU64 {
        &self.0.words()[0]
    }
}

impl SharedWord for MappedWord {
    #[inline]
    fn load(&self) -> u64 {
        self.atomic().load(Ordering::Acquire)
    }

    #[inline]
    fn store(&self, value: u64) {
        self.atomic().store(value, Ordering::Release)
    }

    #[inline]
    fn swap(&self, value: u64) -> u64 {
        self.atomic().swap(value, Ordering::AcqRel)
    }

    #[inline]
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        self.atomic()
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

/// Shared words in the region, where a ledger keeps its write records.
#[derive(Debug)]
pub struct MappedStore(MappedWords);

impl Deref for MappedStore {
    type Target = [AtomicU64];

    #[inline]
    fn deref(&self) -> &[AtomicU64] {
        self.0.words()
    }
}

/// A lock that excludes other processes: `flock(2)` on the execution's lock file.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

/// Holds a [`FileLock`]; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLockGuard<'a> {
    file: &'a File,
}

impl Lock for FileLock {
    type Guard<'a> = FileLockGuard<'a>;

    fn acquire(&self, _thread: usize) -> FileLockGuard<'_> {
        // flock only fails on a bad descriptor or out of kernel memory; a worker that cannot
        // lock must not go on unprotected, and its panic is reported as the worker's failure.
        self.file
            .lock()
            .unwrap_or_else(|error| panic!("could not take the file lock: {error}"));
        FileLockGuard { file: &self.file }
    }
}

impl Drop for FileLockGuard<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; an unlock error leaves it to the exit.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_sees_the_words_its_parent_wrote() {
        let folder = tempfile::tempdir().unwrap();
        let parent = ProcessPlatform::create(folder.path()).unwrap();
        let cell = parent.word(7).unwrap();
        let store = parent.store(5).unwrap();
        store[4].store(99, Ordering::Relaxed);

        let worker = ProcessPlatform::attach(folder.path()).unwrap();
        let worker_cell = worker.word(7).unwrap();
        let worker_store = worker.store(5).unwrap();
        assert_eq!(worker_store[4].load(Ordering::Relaxed), 99);
        worker_cell.store(8);
        assert_eq!(cell.load(), 8);
        assert_eq!(worker_store.len(), 5);
    }

    #[test]
    fn a_worker_asking_for_more_than_the_region_holds_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let parent = ProcessPlatform::create(folder.path()).unwrap();
        parent.store(4).unwrap();
        let worker = ProcessPlatform::attach(folder.path()).unwrap();
        assert!(matches!(
            worker.store(1000),
            Err(ProcessPlatformError::RegionTooSmall { .. })
        ));
    }

    #[test]
    fn the_file_lock_excludes_another_open_of_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let platform = ProcessPlatform::create(folder.path()).unwrap();
        let (first, second) = (platform.lock().unwrap(), platform.lock().unwrap());
        let guard = first.acquire(0);
        assert!(matches!(
            second.file.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(guard);
        assert!(second.file.try_lock().is_ok());
    }
}
