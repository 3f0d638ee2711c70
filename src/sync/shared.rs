//! The instrumented shared cell: an `i64` whose lost updates are counted exactly.
//!
//! The accounting is the ledger's ([`crate::ledger`]): every write has an id made of its thread
//! and its index among that thread's writes to the cell (no shared counter), the cell holds the
//! id of the last write, and each write records the write it was computed from (its parent) and
//! publishes itself with one atomic swap, whose old value names the write it replaced. After the
//! execution, the writes on the parent chain from the final write back to the initial value
//! survive; every other write is lost.
//!
//! Unlike the ledger's counter, a cell does not know in advance which threads will write it nor
//! how often, so each thread's write records live in a [`Growable`] array. The delta of a write
//! is the value it wrote minus the value of its parent; the value the cell must end with when no
//! update is lost is the initial value plus every delta, and after every execution contend
//! checks that it differs from the final value by exactly the sum of the lost deltas.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::check::CellOutcome;
use crate::ledger::{LedgerError, WriteId};
use crate::schedule::dpor::{self, Access, Object};
use crate::sync::context::{self, AccessKind, Backend, ObjectKind};
use crate::sync::growable::Growable;

/// A thread's last sight of the cell before it has read or written it.
const NOT_SEEN: u64 = u64::MAX;

/// An `i64` shared between the threads of a check, instrumented so that contend counts the
/// updates lost on it.
///
/// Each [`get`](Shared::get) and each [`set`](Shared::set) is one access to shared state: a
/// scheduling point under shuttle, a place where jitter is injected on real threads. A write
/// counts as computed from the thread's last read (or write) of the cell, so
/// [`update`](Shared::update), a read then a write, is where updates get lost when two threads
/// interleave: it is deliberately not atomic. Protect it with a
/// [`Mutex`](crate::sync::Mutex) and no update is lost.
///
/// Share it between threads in an [`Arc`]. Create it inside the check's body: each execution
/// accounts for the cells it made.
#[derive(Debug)]
pub struct Shared {
    cell: Arc<CellState>,
}

/// The word the cell's accesses go through: the id of the last write. Under shuttle a plain
/// copy follows it (every task runs on one OS thread), which a failed execution's accounting
/// reads once shuttle has ended the execution and its atomics can no longer be read.
#[derive(Debug)]
enum Word {
    Shuttle(shuttle::sync::atomic::AtomicU64, AtomicU64),
    Threads(AtomicU64),
}

impl Word {
    /// The word, read without a scheduling point: what a failed execution's accounting uses.
    fn load_after_failure(&self) -> u64 {
        match self {
            Word::Shuttle(_, copy) => copy.load(Ordering::Relaxed),
            Word::Threads(word) => word.load(Ordering::Acquire),
        }
    }

    fn load(&self) -> u64 {
        match self {
            Word::Shuttle(word, _) => word.load(Ordering::SeqCst),
            Word::Threads(word) => word.load(Ordering::Acquire),
        }
    }

    fn swap(&self, bits: u64) -> u64 {
        match self {
            Word::Shuttle(word, copy) => {
                copy.store(bits, Ordering::Relaxed);
                word.swap(bits, Ordering::SeqCst)
            }
            Word::Threads(word) => word.swap(bits, Ordering::AcqRel),
        }
    }

    /// Replaces the word with `f` of it in one indivisible step (one scheduling point under
    /// shuttle); `f` may run more than once on real threads. Returns the word replaced.
    fn update(&self, mut f: impl FnMut(u64) -> u64) -> u64 {
        let result = match self {
            Word::Shuttle(word, copy) => {
                let mut written = 0;
                let result = word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
                    written = f(bits);
                    Some(written)
                });
                copy.store(written, Ordering::Relaxed);
                result
            }
            Word::Threads(word) => {
                word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| Some(f(bits)))
            }
        };
        result.unwrap_or_else(|bits| bits)
    }
}

/// One write: its value, the write it was computed from, and the write it replaced in the cell.
/// Written by its thread before (value) and after (parent, replaced) the swap that publishes it;
/// other threads read only the value, which the swap publishes.
#[derive(Debug, Default)]
struct Record {
    value: AtomicU64,
    parent: AtomicU64,
    replaced: AtomicU64,
}

/// A thread's writes to one cell. Only the owning thread changes `writes` and `last_seen`.
#[derive(Debug)]
struct Track {
    records: Growable<Record, 64>,
    writes: AtomicU64,
    last_seen: AtomicU64,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            records: Growable::default(),
            writes: AtomicU64::new(0),
            last_seen: AtomicU64::new(NOT_SEEN),
        }
    }
}

/// The state of a cell, shared by its handle and its execution, which settles it.
#[derive(Debug)]
pub(crate) struct CellState {
    number: usize,
    name: String,
    initial: i64,
    word: Word,
    tracks: Growable<Track, 2>,
}

impl Shared {
    /// A cell holding `initial`, named `shared#N` in reports (the `N`th cell of the execution).
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(initial: i64) -> Shared {
        Shared::make(None, initial)
    }

    /// A cell holding `initial`, named `name` in reports and interleavings.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn named(name: impl Into<String>, initial: i64) -> Shared {
        Shared::make(Some(name.into()), initial)
    }

    fn make(name: Option<String>, initial: i64) -> Shared {
        let execution = context::execution();
        let number = execution.number(ObjectKind::Shared);
        let initial_bits = WriteId::INITIAL.to_bits();
        let word = match execution.backend {
            Backend::Shuttle => Word::Shuttle(
                shuttle::sync::atomic::AtomicU64::new(initial_bits),
                AtomicU64::new(initial_bits),
            ),
            Backend::Threads => Word::Threads(AtomicU64::new(initial_bits)),
        };
        let cell = Arc::new(CellState {
            number,
            name: name.unwrap_or_else(|| format!("shared#{number}")),
            initial,
            word,
            tracks: Growable::default(),
        });
        execution.register_cell(Arc::clone(&cell));
        Shared { cell }
    }

    /// The cell's name in reports.
    pub fn name(&self) -> &str {
        &self.cell.name
    }

    /// Reads the cell: one access.
    pub fn get(&self) -> i64 {
        let thread = context::before_access();
        let cell = &self.cell;
        let object = Object::Word(ObjectKind::Shared.id(cell.number));
        dpor::announce(Access::Read(object));
        let id = WriteId::from_bits(cell.word.load());
        dpor::settle();
        let value = cell.value_of(id);
        cell.tracks
            .get_or_grow(thread)
            .last_seen
            .store(id.to_bits(), Ordering::Relaxed);
        context::log_access(thread, || {
            (
                AccessKind::Read { cell: cell.number },
                format!("read {} -> {value}", cell.name),
            )
        });
        value
    }

    /// Writes `value`, as computed from this thread's last read of the cell: one access. A
    /// thread that writes without having read the cell overwrites nothing it did not see.
    pub fn set(&self, value: i64) {
        let thread = context::before_access();
        let cell = &self.cell;
        let track = cell.tracks.get_or_grow(thread);
        let op = track.writes.load(Ordering::Relaxed);
        let record = track.records.get_or_grow(op as usize);
        record.value.store(value as u64, Ordering::Relaxed);
        let seen = track.last_seen.load(Ordering::Relaxed);
        let id = WriteId::new(thread, op);
        // The swap is the write: no lock, nothing else shared.
        dpor::announce(Access::Write(Object::Word(
            ObjectKind::Shared.id(cell.number),
        )));
        let replaced = cell.word.swap(id.to_bits());
        dpor::settle();
        let parent = if seen == NOT_SEEN { replaced } else { seen };
        record.parent.store(parent, Ordering::Relaxed);
        record.replaced.store(replaced, Ordering::Relaxed);
        track.writes.store(op + 1, Ordering::Relaxed);
        track.last_seen.store(id.to_bits(), Ordering::Relaxed);
        context::log_access(thread, || {
            cell.describe_write(thread, value, parent, replaced)
        });
    }

    /// Adds `delta` (wrapping) in one indivisible read-modify-write, as an atomic's
    /// `fetch_add`: one access, so no other thread's write can come in between and no update
    /// is lost. Returns the value it replaced.
    pub fn fetch_add(&self, delta: i64) -> i64 {
        let thread = context::before_access();
        let cell = &self.cell;
        let track = cell.tracks.get_or_grow(thread);
        let op = track.writes.load(Ordering::Relaxed);
        let record = track.records.get_or_grow(op as usize);
        let id = WriteId::new(thread, op);
        let mut old = 0;
        let replaced = cell.word.update(|bits| {
            old = cell.value_of(WriteId::from_bits(bits));
            record
                .value
                .store(old.wrapping_add(delta) as u64, Ordering::Relaxed);
            id.to_bits()
        });
        // Computed from the write it replaced: it overwrites nothing.
        record.parent.store(replaced, Ordering::Relaxed);
        record.replaced.store(replaced, Ordering::Relaxed);
        track.writes.store(op + 1, Ordering::Relaxed);
        track.last_seen.store(id.to_bits(), Ordering::Relaxed);
        context::log_access(thread, || {
            let name = &cell.name;
            (
                AccessKind::Write {
                    cell: cell.number,
                    overwrite: None,
                },
                format!(
                    "write {name} <- {} (atomic add {delta} to {old})",
                    old.wrapping_add(delta)
                ),
            )
        });
        old
    }

    /// Reads the cell, then writes `f` of what it read: two accesses, not one atomic step, so
    /// another thread may write in between and have its update lost. Returns the value written.
    pub fn update(&self, f: impl FnOnce(i64) -> i64) -> i64 {
        let value = f(self.get());
        self.set(value);
        value
    }
}

impl CellState {
    /// The value written by `id` (the initial value for [`WriteId::INITIAL`]).
    fn value_of(&self, id: WriteId) -> i64 {
        self.record(id)
            .map(|record| record.value.load(Ordering::Relaxed) as i64)
            .unwrap_or(self.initial)
    }

    fn record(&self, id: WriteId) -> Option<&Record> {
        let (thread, op) = id.origin()?;
        self.tracks.get(thread)?.records.get(op as usize)
    }

    /// A write as an interleaving shows it, with the overwrite in words.
    fn describe_write(
        &self,
        thread: usize,
        value: i64,
        parent: u64,
        replaced: u64,
    ) -> (AccessKind, String) {
        let name = &self.name;
        if parent == replaced {
            return (
                AccessKind::Write {
                    cell: self.number,
                    overwrite: None,
                },
                format!("write {name} <- {value}"),
            );
        }
        let read = self.value_of(WriteId::from_bits(parent));
        let replaced = WriteId::from_bits(replaced);
        let victim_value = self.value_of(replaced);
        let (victim, short) = match replaced.origin() {
            Some((victim, _)) => {
                let victim = context::thread_name(victim);
                (
                    format!("{victim}'s write of {victim_value}"),
                    format!("{victim}'s {victim_value}"),
                )
            }
            None => (
                format!("the initial value {victim_value}"),
                format!("the initial {victim_value}"),
            ),
        };
        let sentence = format!(
            "{} wrote {value} to {name} from its read of {read}, overwriting {victim}, which it \
             had not read",
            context::thread_name(thread)
        );
        (
            AccessKind::Write {
                cell: self.number,
                overwrite: Some(sentence),
            },
            format!("write {name} <- {value} (overwrites {short})"),
        )
    }

    /// Accounts for the finished execution: the survivors are the parent chain from the final
    /// write; every other write is lost. Emits one `tracing` event (target
    /// `contend::lost_update`) per overwrite, as the ledger does, and checks that the lost
    /// deltas reconcile with the final value.
    pub(crate) fn settle(&self, check: &str, run: u64) -> Result<CellOutcome, LedgerError> {
        self.settle_from(WriteId::from_bits(self.word.load()), check, run)
    }

    /// Accounts for the cell of an execution that failed otherwise, as it stood when it
    /// failed (shuttle has ended the execution: its atomics are not read).
    pub(crate) fn settle_after_failure(
        &self,
        check: &str,
        run: u64,
    ) -> Result<CellOutcome, LedgerError> {
        self.settle_from(
            WriteId::from_bits(self.word.load_after_failure()),
            check,
            run,
        )
    }

    fn settle_from(
        &self,
        final_id: WriteId,
        check: &str,
        run: u64,
    ) -> Result<CellOutcome, LedgerError> {
        let final_value = self.value_of(final_id);
        let writes_of: Vec<u64> = {
            let mut writes = Vec::new();
            for (thread, track) in self.tracks.allocated() {
                writes.resize(thread + 1, 0);
                writes[thread] = track.writes.load(Ordering::Relaxed);
            }
            writes
        };
        let total_writes: u64 = writes_of.iter().sum();

        let mut survived: Vec<Vec<bool>> =
            writes_of.iter().map(|&w| vec![false; w as usize]).collect();
        let mut cursor = final_id;
        let mut chain_length = 0u64;
        while let Some((thread, op)) = cursor.origin() {
            let slot = survived
                .get_mut(thread)
                .and_then(|ops| ops.get_mut(op as usize))
                .ok_or(LedgerError::BrokenChain(cursor))?;
            chain_length += 1;
            if *slot || chain_length > total_writes {
                return Err(LedgerError::BrokenChain(cursor));
            }
            *slot = true;
            let record = self
                .record(cursor)
                .ok_or(LedgerError::BrokenChain(cursor))?;
            cursor = WriteId::from_bits(record.parent.load(Ordering::Relaxed));
        }

        let mut expected_final = self.initial;
        let (mut lost_updates, mut lost_delta, mut overwrites) = (0u64, 0i64, 0u64);
        for (thread, &writes) in writes_of.iter().enumerate() {
            for op in 0..writes {
                let id = WriteId::new(thread, op);
                let record = self.record(id).ok_or(LedgerError::BrokenChain(id))?;
                let value = record.value.load(Ordering::Relaxed) as i64;
                let parent = WriteId::from_bits(record.parent.load(Ordering::Relaxed));
                let delta = value.wrapping_sub(self.value_of(parent));
                expected_final = expected_final.wrapping_add(delta);
                if !survived[thread][op as usize] {
                    lost_updates += 1;
                    lost_delta = lost_delta.wrapping_add(delta);
                }
                let victim = WriteId::from_bits(record.replaced.load(Ordering::Relaxed));
                if victim == parent {
                    continue;
                }
                overwrites += 1;
                let (victim_thread, victim_op) = victim
                    .origin()
                    .map_or((-1, -1), |(t, o)| (t as i64, o as i64));
                let restored = victim
                    .origin()
                    .is_some_and(|(t, o)| survived[t][o as usize]);
                tracing::info!(
                    target: "contend::lost_update",
                    scenario = check,
                    run,
                    cell = self.name.as_str(),
                    thread,
                    op,
                    read_value = self.value_of(parent),
                    written_value = value,
                    overwritten_thread = victim_thread,
                    overwritten_op = victim_op,
                    overwritten_value = self.value_of(victim),
                    restored,
                    "thread {thread} op {op} overwrote the write of thread {victim_thread} op {victim_op}"
                );
            }
        }

        if expected_final.wrapping_sub(final_value) != lost_delta {
            return Err(LedgerError::Unreconciled {
                expected_final,
                observed_final: final_value,
                lost_updates,
                lost_delta,
            });
        }
        Ok(CellOutcome {
            name: self.name.clone(),
            initial: self.initial,
            final_value,
            expected_final,
            writes: total_writes,
            lost_updates,
            lost_delta,
            overwrites,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::os::Jitter;
    use crate::sync::context::Execution;

    /// Runs `f` as real thread `index` of `execution`, on the current OS thread: the test
    /// interleaves the threads' accesses by hand.
    fn as_thread<T>(execution: &Arc<Execution>, index: usize, f: impl FnOnce() -> T) -> T {
        let _entered = context::enter(Arc::clone(execution), Some(execution.os_thread(index)));
        f()
    }

    fn execution() -> Arc<Execution> {
        Execution::new(
            Backend::Threads,
            Arc::from("unit"),
            0,
            7,
            Some(Jitter::default()),
            None,
        )
    }

    /// T1 reads 0; T2 writes 1 and reads 1; T1 writes 1 from its stale read, overwriting T2's
    /// update; T2 writes 2 from its own read, which restores T2's first update and drops T1's:
    /// three increments, two overwrites, one lost update.
    #[test]
    fn a_restored_update_is_not_counted_as_lost() {
        let execution = execution();
        let cell = as_thread(&execution, 0, || Shared::named("counter", 0));
        assert_eq!(as_thread(&execution, 1, || cell.get()), 0);
        as_thread(&execution, 2, || cell.update(|v| v + 1));
        assert_eq!(as_thread(&execution, 2, || cell.get()), 1);
        as_thread(&execution, 1, || cell.set(1));
        as_thread(&execution, 2, || cell.set(2));
        let outcome = execution.settle().unwrap().remove(0);
        assert_eq!(outcome.final_value, 2);
        assert_eq!(outcome.expected_final, 3);
        assert_eq!(outcome.writes, 3);
        assert_eq!(outcome.overwrites, 2);
        assert_eq!(outcome.lost_updates, 1);
        assert_eq!(outcome.lost_delta, 1);
    }

    #[test]
    fn a_write_without_a_read_overwrites_nothing_it_did_not_see() {
        let execution = execution();
        let cell = as_thread(&execution, 0, || Shared::new(10));
        as_thread(&execution, 1, || cell.update(|v| v + 5));
        as_thread(&execution, 2, || cell.set(0));
        as_thread(&execution, 1, || cell.update(|v| v + 5));
        let outcome = execution.settle().unwrap().remove(0);
        assert_eq!(outcome.name, "shared#1");
        assert_eq!(
            (
                outcome.final_value,
                outcome.expected_final,
                outcome.lost_updates
            ),
            (5, 5, 0)
        );
    }

    #[test]
    fn many_writes_of_many_threads_reconcile() {
        let execution = execution();
        let cell = as_thread(&execution, 0, || Shared::new(0));
        // Each thread reads, then all write: every round loses all but the last write.
        for _ in 0..100 {
            for thread in 1..=5 {
                as_thread(&execution, thread, || cell.get());
            }
            for thread in 1..=5 {
                as_thread(&execution, thread, || {
                    cell.set(cell_value_plus(&cell, thread))
                });
            }
        }
        let outcome = execution.settle().unwrap().remove(0);
        assert_eq!(outcome.writes, 500);
        assert_eq!(outcome.lost_updates, 400);
        assert_eq!(
            outcome.expected_final - outcome.final_value,
            outcome.lost_delta
        );
    }

    /// An atomic add is one indivisible read-modify-write: between another thread's read and
    /// its own add, no write is lost, and a later write from a stale read still is.
    #[test]
    fn an_atomic_add_overwrites_nothing_but_a_stale_write_still_loses_it() {
        let execution = execution();
        let cell = as_thread(&execution, 0, || Shared::named("balance", 100));
        assert_eq!(as_thread(&execution, 1, || cell.get()), 100);
        assert_eq!(as_thread(&execution, 2, || cell.fetch_add(-80)), 100);
        assert_eq!(as_thread(&execution, 1, || cell.fetch_add(-80)), 20);
        as_thread(&execution, 2, || cell.set(7));
        let outcome = execution.settle().unwrap().remove(0);
        assert_eq!(
            (outcome.final_value, outcome.writes, outcome.overwrites),
            (7, 3, 1)
        );
        // Thread 2's set was computed from its own add: the add by thread 1 is lost.
        assert_eq!(outcome.lost_updates, 1);
        assert_eq!(
            outcome.expected_final - outcome.final_value,
            outcome.lost_delta
        );
    }

    /// The value `thread` last saw plus its index, read from its record without an access.
    fn cell_value_plus(cell: &Shared, thread: usize) -> i64 {
        let track = cell.cell.tracks.get(thread).unwrap();
        let seen = WriteId::from_bits(track.last_seen.load(Ordering::Relaxed));
        cell.cell.value_of(seen) + thread as i64
    }
}
