//! What each step of a controlled execution touches, as the primitives announce it.
//!
//! A primitive announces its access (object and kind) before its scheduling point, and settles
//! it once the access is done; an access that has no scheduling point of its own (a thread's
//! exit) is noted in the step that makes it. The announcements live on a board local to the
//! thread that runs the shuttle execution (shuttle runs every task there), and cost one
//! thread-local check when no exploring scheduler reads them.

use std::cell::{Cell, RefCell};

use crate::sync::context::ObjectKind;

/// A shared object, named within one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Object {
    /// A shared word or cell (named by its address, or any number unique in the execution).
    Word(usize),
    /// A lock.
    Lock(usize),
    /// A thread, by task id: its exit, which a join waits for.
    Thread(usize),
    /// An object whose operations may wait for another thread's (a channel, a barrier, a
    /// `Once`, a condition variable): every operation on it writes it.
    Waitable(usize),
}

/// One access of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads a word.
    Read(Object),
    /// Writes a word (a read-modify-write too).
    Write(Object),
    /// Takes a lock.
    Acquire(Object),
    /// Releases a lock.
    Release(Object),
    /// Takes a read-write lock for reading.
    AcquireShared(Object),
    /// Releases a read-write lock held for reading.
    ReleaseShared(Object),
    /// Tries to take a lock without waiting; a success is noted as an [`Access::Acquire`] in
    /// the same step too, a failure only reads the lock.
    TryLock(Object),
    /// Ends the task with this id.
    Exit(usize),
    /// Waits for the task with this id to end.
    Join(usize),
    /// Waits on a condition variable (the first object, a [`Object::Waitable`]), giving the
    /// lock (the second) up and taking it again. shuttle's wait is three scheduling points
    /// under one announcement: the first gives the lock up and joins the waiters, the second
    /// takes the notification, the third the lock. It touches both objects as a write does.
    Wait(Object, Object),
    /// Gives way to the other threads and touches nothing shared: a yield, or a spin loop's
    /// wait. A thread that yields again before any thread made progress is spinning.
    Yield,
    /// Touches nothing shared (a spawn, a pause, a thread's start).
    Local,
    /// Unknown: conflicts with every access.
    Unknown,
}

impl Access {
    /// The object the access touches, if one.
    fn object(self) -> Option<Object> {
        match self {
            Access::Read(o)
            | Access::Write(o)
            | Access::Acquire(o)
            | Access::Release(o)
            | Access::AcquireShared(o)
            | Access::ReleaseShared(o)
            | Access::TryLock(o) => Some(o),
            Access::Exit(t) | Access::Join(t) => Some(Object::Thread(t)),
            Access::Wait(condvar, _) => Some(condvar),
            Access::Yield | Access::Local | Access::Unknown => None,
        }
    }

    /// Whether the access touches `object`.
    fn touches(self, object: Object) -> bool {
        match self {
            Access::Wait(condvar, lock) => condvar == object || lock == object,
            _ => self.object() == Some(object),
        }
    }

    /// Whether the two accesses do not commute: the same object and one of them writes (every
    /// lock operation counts as a write, a try and a shared acquire too, and a wait writes both
    /// its objects), or either is unknown.
    pub fn conflicts(self, other: Access) -> bool {
        if self == Access::Unknown || other == Access::Unknown {
            return true;
        }
        match (self, other) {
            (Access::Wait(condvar, lock), any) | (any, Access::Wait(condvar, lock)) => {
                return any.touches(condvar) || any.touches(lock);
            }
            _ => {}
        }
        match (self.object(), other.object()) {
            (Some(a), Some(b)) if a == b => {
                !matches!((self, other), (Access::Read(_), Access::Read(_)))
            }
            _ => false,
        }
    }
}

/// Whether any access of `a` conflicts with any of `b`.
pub fn steps_conflict(a: &[Access], b: &[Access]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.conflicts(*y)))
}

/// The board an exploring scheduler reads: each task's announced next access, and what the
/// running step noted.
#[derive(Debug, Default)]
pub(crate) struct Board {
    pending: Vec<Option<Access>>,
    notes: Vec<Access>,
    /// The execution has declared a deadlock: its threads are unwinding.
    deadlocked: bool,
}

impl Board {
    /// The announced next access of task `task`, if it announced one.
    pub(crate) fn pending(&self, task: usize) -> Option<Access> {
        self.pending.get(task).copied().flatten()
    }

    /// The accesses noted since the last call, taken out.
    pub(crate) fn take_notes(&mut self) -> Vec<Access> {
        std::mem::take(&mut self.notes)
    }

    /// Whether the execution has declared a deadlock.
    pub(crate) fn deadlocked(&self) -> bool {
        self.deadlocked
    }
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static BOARD: RefCell<Board> = RefCell::new(Board::default());
}

/// Starts a fresh board on this thread for an exploring scheduler's execution.
pub(crate) fn start_board() {
    BOARD.with_borrow_mut(|board| {
        board.pending.clear();
        board.notes.clear();
        board.deadlocked = false;
    });
    ACTIVE.set(true);
}

/// Stops reading announcements on this thread.
pub fn stop_board() {
    ACTIVE.set(false);
}

/// Runs `f` on the board.
pub(crate) fn with_board<T>(f: impl FnOnce(&mut Board) -> T) -> T {
    BOARD.with_borrow_mut(f)
}

fn me() -> Option<usize> {
    if !ACTIVE.get() {
        return None;
    }
    Some(usize::from(shuttle::current::me()))
}

/// Announces the access the current task makes at its next scheduling point.
#[inline]
pub fn announce(access: Access) {
    if let Some(task) = me() {
        BOARD.with_borrow_mut(|board| {
            if board.pending.len() <= task {
                board.pending.resize(task + 1, None);
            }
            board.pending[task] = Some(access);
        });
    }
}

/// The current task's announced access is done: its next scheduling point is unannounced
/// unless it announces again.
#[inline]
pub fn settle() {
    if let Some(task) = me() {
        BOARD.with_borrow_mut(|board| {
            if let Some(slot) = board.pending.get_mut(task) {
                *slot = None;
            }
        });
    }
}

/// Runs `f`, whose scheduling point is announced as unknown (it conflicts with everything).
#[inline]
pub fn unknown<T>(f: impl FnOnce() -> T) -> T {
    during(Access::Unknown, f)
}

/// Runs `f`, every scheduling point of which is announced as `access`: an operation of
/// several points, such as a wait on a condition variable.
#[inline]
pub fn during<T>(access: Access, f: impl FnOnce() -> T) -> T {
    announce(access);
    let result = f();
    settle();
    result
}

/// Runs `f`, which makes `access` at a scheduling point of its own first: announced before
/// it, and noted in the step running when it is done (a wait that blocked ends in a later
/// step).
#[inline]
pub fn around<T>(access: Access, f: impl FnOnce() -> T) -> T {
    announce(access);
    let result = f();
    settle();
    note(access);
    result
}

/// An object of `kind` whose operations may wait for another thread's.
pub(crate) fn waitable(kind: ObjectKind, number: usize) -> Object {
    Object::Waitable(kind.id(number))
}

/// Tells an exploring scheduler that the execution has declared a deadlock: what its threads do
/// from here on is their unwinding, so the search takes no alternatives after this point.
pub fn declare_deadlock() {
    if ACTIVE.get() {
        BOARD.with_borrow_mut(|board| board.deadlocked = true);
    }
}

/// Notes an access the running step makes without a scheduling point of its own.
#[inline]
pub fn note(access: Access) {
    if ACTIVE.get() {
        BOARD.with_borrow_mut(|board| board.notes.push(access));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_one_word_commute_and_a_write_does_not() {
        let a = Object::Word(1);
        assert!(!Access::Read(a).conflicts(Access::Read(a)));
        assert!(Access::Read(a).conflicts(Access::Write(a)));
        assert!(!Access::Write(a).conflicts(Access::Write(Object::Word(2))));
        assert!(Access::Acquire(Object::Lock(3)).conflicts(Access::Release(Object::Lock(3))));
        assert!(Access::Unknown.conflicts(Access::Local));
        assert!(!Access::Local.conflicts(Access::Write(a)));
        assert!(Access::Exit(2).conflicts(Access::Join(2)));
    }

    #[test]
    fn a_wait_conflicts_with_its_condition_variable_and_its_lock_alone() {
        let (condvar, lock) = (Object::Waitable(1), Object::Lock(2));
        let wait = Access::Wait(condvar, lock);
        assert!(wait.conflicts(Access::Write(condvar)));
        assert!(Access::Write(condvar).conflicts(wait));
        assert!(wait.conflicts(Access::Acquire(lock)));
        assert!(Access::TryLock(lock).conflicts(wait));
        assert!(wait.conflicts(Access::Wait(Object::Waitable(3), lock)));
        assert!(!wait.conflicts(Access::Write(Object::Word(1))));
        assert!(!wait.conflicts(Access::Acquire(Object::Lock(4))));
        assert!(!wait.conflicts(Access::Local));
    }
}
