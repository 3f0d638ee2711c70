//! Channels inside a check, as [`std::sync::mpsc`]'s, named `channel#N`: [`channel`] (never
//! blocks a sender) and [`sync_channel`] (a sender blocks while `bound` messages wait; with
//! 0, until its message is received).
//!
//! Under shuttle they are shuttle's; on real threads a queue whose waits are the execution's, so
//! that a receiver waiting for a message no thread will send is reported as a deadlock after the
//! deadlock timeout instead of hanging.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError};

use crate::schedule::dpor::{self, Access};
use crate::sync::context::{self, AccessKind, Backend, Execution, ObjectKind};
use crate::sync::graph::Resource;

/// What the ends of one channel share.
struct Chan<T> {
    number: usize,
    execution: Arc<Execution>,
    /// `None` for an unbounded channel.
    bound: Option<usize>,
    queue: Mutex<VecDeque<T>>,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
}

impl<T> Chan<T> {
    fn new(bound: Option<usize>) -> (Arc<Chan<T>>, bool) {
        let execution = context::execution();
        let shuttle = execution.backend == Backend::Shuttle;
        let chan = Chan {
            number: execution.number(ObjectKind::Channel),
            execution,
            bound,
            queue: Mutex::default(),
            senders: AtomicUsize::new(1),
            receiver_alive: AtomicBool::new(true),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        };
        (Arc::new(chan), shuttle)
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn resource(&self) -> Resource {
        Resource::Channel(self.number)
    }

    fn log(&self, thread: usize, what: &str) {
        let number = self.number;
        context::log_access(thread, || {
            (AccessKind::Other, format!("{what} channel#{number}"))
        });
    }

    /// Under shuttle: sends with `send`, recording a wait if the channel is full.
    /// What a send or a receive does, as an exhaustive search sees it: it writes the channel.
    fn dpor_access(&self) -> Access {
        Access::Write(dpor::access::waitable(ObjectKind::Channel, self.number))
    }

    fn send_shuttle(
        &self,
        thread: usize,
        value: T,
        send: impl FnOnce(T) -> Result<(), SendError<T>>,
    ) -> Result<(), SendError<T>> {
        let queued = self.sent.load(Ordering::SeqCst) - self.received.load(Ordering::SeqCst);
        let full = self.bound.is_some_and(|bound| queued >= bound as u64);
        if self.bound.is_some() {
            self.execution
                .waits
                .with(|state| state.graph.wait(thread, self.resource()));
        }
        if full {
            self.log(thread, "send: blocked (full)");
        }
        let result = dpor::around(self.dpor_access(), || send(value));
        self.execution
            .waits
            .with(|state| state.graph.stop_waiting(thread));
        if result.is_ok() {
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        self.log(thread, "send");
        result
    }

    /// On real threads: queues `value`, waiting for room in a bounded channel.
    fn send_threads(&self, thread: usize, value: T) -> Result<(), SendError<T>> {
        let waits = &self.execution.waits;
        let mut item = Some(value);
        let sent = match self.bound {
            Some(bound) if bound > 0 => waits.block_on(thread, self.resource(), |_| {
                if !self.receiver_alive.load(Ordering::Acquire) {
                    return Some(false);
                }
                let mut queue = self.queue();
                (queue.len() < bound).then(|| {
                    queue.push_back(item.take().expect("sent once"));
                    true
                })
            }),
            _ => {
                if self.receiver_alive.load(Ordering::Acquire) {
                    self.queue().push_back(item.take().expect("sent once"));
                    true
                } else {
                    false
                }
            }
        };
        if !sent {
            return Err(SendError(item.take().expect("not sent")));
        }
        let mine = self.sent.fetch_add(1, Ordering::AcqRel);
        waits.update(|_| ());
        if self.bound == Some(0) {
            // A rendezvous: the sender waits until its message is taken.
            waits.block_on(thread, self.resource(), |_| {
                let taken = self.received.load(Ordering::Acquire) > mine;
                (taken || !self.receiver_alive.load(Ordering::Acquire)).then_some(())
            });
        }
        self.log(thread, "send");
        Ok(())
    }

    /// On real threads: the next message, if one waits; an error once every sender is gone.
    fn take(&self) -> Option<Result<T, RecvError>> {
        let mut queue = self.queue();
        match queue.pop_front() {
            Some(value) => {
                self.received.fetch_add(1, Ordering::AcqRel);
                Some(Ok(value))
            }
            None if self.senders.load(Ordering::Acquire) == 0 => Some(Err(RecvError)),
            None => None,
        }
    }

    fn sender_gone(&self) {
        self.senders.fetch_sub(1, Ordering::AcqRel);
        self.execution.waits.update(|_| ());
    }
}

/// The sending end of a [`channel`], as [`std::sync::mpsc::Sender`].
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    inner: Option<shuttle::sync::mpsc::Sender<T>>,
}

/// The sending end of a [`sync_channel`], as [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
    inner: Option<shuttle::sync::mpsc::SyncSender<T>>,
}

/// The receiving end of a channel, as [`std::sync::mpsc::Receiver`].
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    inner: Option<shuttle::sync::mpsc::Receiver<T>>,
}

/// An unbounded channel, as [`std::sync::mpsc::channel`].
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (chan, shuttle) = Chan::new(None);
    let (sender, receiver) = if shuttle {
        let (s, r) = shuttle::sync::mpsc::channel();
        (Some(s), Some(r))
    } else {
        (None, None)
    };
    let sender = Sender {
        chan: Arc::clone(&chan),
        inner: sender,
    };
    (
        sender,
        Receiver {
            chan,
            inner: receiver,
        },
    )
}

/// A channel holding at most `bound` waiting messages, as [`std::sync::mpsc::sync_channel`].
///
/// # Panics
///
/// Outside a check's body and its threads.
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (chan, shuttle) = Chan::new(Some(bound));
    let (sender, receiver) = if shuttle {
        let (s, r) = shuttle::sync::mpsc::sync_channel(bound);
        (Some(s), Some(r))
    } else {
        (None, None)
    };
    let sender = SyncSender {
        chan: Arc::clone(&chan),
        inner: sender,
    };
    (
        sender,
        Receiver {
            chan,
            inner: receiver,
        },
    )
}

impl<T> Sender<T> {
    /// Sends `value`, as [`std::sync::mpsc::Sender::send`]: an error with it if the receiver
    /// is gone. One access.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let thread = context::before_access();
        match &self.inner {
            Some(sender) => self.chan.send_shuttle(thread, value, |v| sender.send(v)),
            None => self.chan.send_threads(thread, value),
        }
    }
}

impl<T> SyncSender<T> {
    /// Sends `value`, blocking while the channel is full, as
    /// [`std::sync::mpsc::SyncSender::send`]. One access.
    ///
    /// # Panics
    ///
    /// On real threads, with no message, when the execution deadlocks while this thread waits.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let thread = context::before_access();
        match &self.inner {
            Some(sender) => self.chan.send_shuttle(thread, value, |v| sender.send(v)),
            None => self.chan.send_threads(thread, value),
        }
    }
}

impl<T> Receiver<T> {
    /// Blocks until a message arrives, as [`std::sync::mpsc::Receiver::recv`]: an error once
    /// every sender is gone and no message waits. One access.
    ///
    /// # Panics
    ///
    /// On real threads, with no message, when the execution deadlocks while this thread waits.
    pub fn recv(&self) -> Result<T, RecvError> {
        let thread = context::before_access();
        let chan = &self.chan;
        let waits = &chan.execution.waits;
        let result = match &self.inner {
            Some(receiver) => {
                let empty =
                    chan.sent.load(Ordering::SeqCst) == chan.received.load(Ordering::SeqCst);
                waits.with(|state| state.graph.wait(thread, chan.resource()));
                if empty {
                    chan.log(thread, "recv: blocked (empty)");
                }
                // A receive that leaves no thread able to go on (its senders all stuck) unwinds
                // here.
                let senders = chan.senders.load(Ordering::SeqCst) > 0;
                waits.unwind_if_stuck(thread, Some(empty && senders));
                let result = dpor::around(chan.dpor_access(), || receiver.recv());
                waits.with(|state| state.graph.stop_waiting(thread));
                if result.is_ok() {
                    chan.received.fetch_add(1, Ordering::SeqCst);
                }
                result
            }
            None => {
                let result = waits.block_on(thread, chan.resource(), |_| chan.take());
                waits.update(|_| ());
                result
            }
        };
        chan.log(thread, "recv");
        result
    }

    /// Waits for a message no longer than about `timeout`, as
    /// [`std::sync::mpsc::Receiver::recv_timeout`]. One access. Under shuttle, where time does
    /// not pass, it takes a message that waits after a scheduling point, else times out at once
    /// (a timed wait may always time out).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let thread = context::before_access();
        let chan = &self.chan;
        let result = match &self.inner {
            Some(receiver) => {
                let result = match dpor::around(chan.dpor_access(), || {
                    shuttle::thread::yield_now();
                    receiver.try_recv()
                }) {
                    Ok(value) => Ok(value),
                    Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                    Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                };
                if result.is_ok() {
                    chan.received.fetch_add(1, Ordering::SeqCst);
                }
                result
            }
            None => {
                let waits = &chan.execution.waits;
                let deadline = Instant::now() + timeout;
                let result = waits.block_until(thread, chan.resource(), Some(deadline), |_| {
                    match chan.take() {
                        Some(Ok(value)) => Some(Ok(value)),
                        Some(Err(RecvError)) => Some(Err(RecvTimeoutError::Disconnected)),
                        None if Instant::now() >= deadline => Some(Err(RecvTimeoutError::Timeout)),
                        None => None,
                    }
                });
                waits.update(|_| ());
                result
            }
        };
        chan.log(thread, "recv_timeout");
        result
    }

    /// A message if one waits, as [`std::sync::mpsc::Receiver::try_recv`]. One access.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let thread = context::before_access();
        let chan = &self.chan;
        let result = match &self.inner {
            Some(receiver) => {
                let result = dpor::around(chan.dpor_access(), || receiver.try_recv());
                if result.is_ok() {
                    chan.received.fetch_add(1, Ordering::SeqCst);
                }
                result
            }
            None => {
                let taken = chan.take();
                chan.execution.waits.update(|_| ());
                match taken {
                    Some(Ok(value)) => Ok(value),
                    Some(Err(RecvError)) => Err(TryRecvError::Disconnected),
                    None => Err(TryRecvError::Empty),
                }
            }
        };
        chan.log(thread, "try_recv");
        result
    }

    /// The messages as they arrive, until every sender is gone.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::AcqRel);
        Sender {
            chan: Arc::clone(&self.chan),
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::AcqRel);
        SyncSender {
            chan: Arc::clone(&self.chan),
            inner: self.inner.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.sender_gone();
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.sender_gone();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.receiver_alive.store(false, Ordering::Release);
        self.chan.execution.waits.update(|_| ());
    }
}

macro_rules! debug_end {
    ($name:ident) => {
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(channel#{})", stringify!($name), self.chan.number)
            }
        }
    };
}

debug_end!(Sender);
debug_end!(SyncSender);
debug_end!(Receiver);
