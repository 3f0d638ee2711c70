//! The manager variant: the counter lives in a server, as Python's
//! `multiprocessing.Manager().Value` does, and workers `get` and `set` it over a Unix socket.
//!
//! The server runs in the contend process that runs the scenario, one thread per connected
//! worker; each request is one access to shared state, served in arrival order. The server keeps
//! the ledger: a `get` returns the write it read, a `set` names the write it was computed from,
//! so the accounting stays exact across processes. A worker that reads, then writes, loses
//! updates exactly as the lesson's `counter.value += 1` on a managed value does.
//!
//! Frames are little-endian 64-bit words: a worker first sends its index; then `GET` is answered
//! with the id and value of the current write, and `SET op parent value` with the id of the
//! write it replaced.

use std::io::{self, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::ledger::{Ledger, Read, WriteId};
use crate::scenario::CounterSpec;

/// The socket's file name inside an execution's folder.
pub const SOCKET_FILE: &str = "manager.sock";

const GET: u64 = 0;
const SET: u64 = 1;

/// How often the server looks for a new connection while waiting for workers.
const ACCEPT_POLL: Duration = Duration::from_micros(200);

/// The server side: the counter and its ledger, and the socket workers connect to.
#[derive(Debug)]
pub struct ManagerServer {
    listener: UnixListener,
    ledger: Ledger<AtomicU64>,
    /// Each worker's delta.
    deltas: Vec<i64>,
}

impl ManagerServer {
    /// Listens in `folder` and holds a counter as `counter` describes.
    pub fn bind(folder: &Path, counter: &CounterSpec) -> io::Result<ManagerServer> {
        let listener = UnixListener::bind(folder.join(SOCKET_FILE))?;
        listener.set_nonblocking(true)?;
        Ok(ManagerServer {
            listener,
            ledger: Ledger::new(
                AtomicU64::new(0),
                counter.initial,
                counter.threads.iter().map(|t| (t.delta, t.ops)),
            ),
            deltas: counter.threads.iter().map(|t| t.delta).collect(),
        })
    }

    /// The ledger, to settle once every worker has ended.
    pub fn ledger(&self) -> &Ledger<AtomicU64> {
        &self.ledger
    }

    /// Serves up to `workers` connections, each on its own thread, until each has closed. Stops
    /// waiting for connections when `stop` is set (a worker died before connecting), or when a
    /// connection cannot be accepted (out of file descriptors, say), which it returns.
    pub fn serve(&self, workers: usize, stop: &AtomicBool) -> io::Result<()> {
        std::thread::scope(|scope| {
            let mut connected = 0;
            while connected < workers && !stop.load(Ordering::Acquire) {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        connected += 1;
                        scope.spawn(move || {
                            // A connection that breaks off ends its worker's requests; the
                            // worker reports its own error.
                            let _ = self.serve_connection(stream, workers);
                        });
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(ACCEPT_POLL);
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
    }

    fn serve_connection(&self, mut stream: UnixStream, workers: usize) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        let worker = read_word(&mut stream)? as usize;
        if worker >= workers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unknown worker index",
            ));
        }
        loop {
            let request = match read_word(&mut stream) {
                Ok(request) => request,
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(error) => return Err(error),
            };
            match request {
                GET => {
                    let read = self.ledger.read();
                    write_words(&mut stream, &[read.id.to_bits(), read.value as u64])?;
                }
                SET => {
                    let mut frame = [0u64; 3];
                    for word in &mut frame {
                        *word = read_word(&mut stream)?;
                    }
                    let [op, parent, value] = frame;
                    // The worker wrote the value it read plus its delta.
                    let read = Read {
                        id: WriteId::from_bits(parent),
                        value: (value as i64).wrapping_sub(self.deltas[worker]),
                    };
                    let parent = read.id;
                    let overwrote = self.ledger.write(worker, op, read, value as i64);
                    write_words(&mut stream, &[overwrote.unwrap_or(parent).to_bits()])?;
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unknown request",
                    ));
                }
            }
        }
    }
}

/// A worker's connection to the manager.
#[derive(Debug)]
pub struct ManagerClient {
    stream: UnixStream,
}

impl ManagerClient {
    /// Connects worker `worker` to the manager listening in `folder`.
    pub fn connect(folder: &Path, worker: usize) -> io::Result<ManagerClient> {
        let mut stream = UnixStream::connect(folder.join(SOCKET_FILE))?;
        write_words(&mut stream, &[worker as u64])?;
        Ok(ManagerClient { stream })
    }

    /// Reads the counter: one request.
    pub fn get(&mut self) -> io::Result<Read> {
        write_words(&mut self.stream, &[GET])?;
        let id = WriteId::from_bits(read_word(&mut self.stream)?);
        let value = read_word(&mut self.stream)? as i64;
        Ok(Read { id, value })
    }

    /// Writes `value`, computed from `read`, as op `op`: one request. Returns the write it
    /// overwrote, if it was not the one read.
    pub fn set(&mut self, op: u64, read: Read, value: i64) -> io::Result<Option<WriteId>> {
        write_words(
            &mut self.stream,
            &[SET, op, read.id.to_bits(), value as u64],
        )?;
        let replaced = WriteId::from_bits(read_word(&mut self.stream)?);
        Ok((replaced != read.id).then_some(replaced))
    }
}

fn read_word(stream: &mut UnixStream) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    stream.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Writes a whole frame in one call, so that a request is one message on the socket.
fn write_words(stream: &mut UnixStream, words: &[u64]) -> io::Result<()> {
    let mut frame = [0u8; 32];
    for (chunk, word) in frame.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    stream.write_all(&frame[..words.len() * 8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EventContext;
    use crate::scenario::SyncMode;

    #[test]
    fn a_stale_set_through_the_manager_loses_an_update() {
        let folder = tempfile::tempdir().unwrap();
        let counter = CounterSpec::new(10, &[(1, 1), (-1, 1)], SyncMode::None);
        let server = ManagerServer::bind(folder.path(), &counter).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| server.serve(2, &stop).unwrap());
            let mut first = ManagerClient::connect(folder.path(), 0).unwrap();
            let mut second = ManagerClient::connect(folder.path(), 1).unwrap();
            let read_first = first.get().unwrap();
            let read_second = second.get().unwrap();
            assert_eq!(read_first.value, 10);
            assert_eq!(first.set(0, read_first, 11).unwrap(), None);
            assert_eq!(
                second.set(0, read_second, 9).unwrap(),
                Some(WriteId::new(0, 0))
            );
        });
        let settlement = server
            .ledger()
            .settle(EventContext {
                scenario: "manager",
                run: 0,
            })
            .unwrap();
        assert_eq!(settlement.observed_final, 9);
        assert_eq!(settlement.expected_final, 10);
        assert_eq!(settlement.lost_updates, 1);
    }
}
