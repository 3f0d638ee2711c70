//! The wait-for graph of one execution: which thread holds which resource, which thread waits
//! for which, and the cycles of waits that make a deadlock.
//!
//! A running thread holds its own [`Resource::Thread`] (a join waits for it) and a share of
//! [`Resource::AllThreads`] (the end of the body waits for every thread it started).

use std::collections::BTreeMap;
use std::fmt;

use crate::sync::deadlock::{Deadlock, Wait, WaitCycle};

/// Something a thread can hold or wait for, by the number of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Resource {
    Mutex(usize),
    RwLock(usize),
    Condvar(usize),
    Barrier(usize),
    Once(usize),
    Channel(usize),
    /// Thread `i` finishing.
    Thread(usize),
    /// Every thread the execution started finishing.
    AllThreads,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Mutex(n) => write!(f, "mutex#{n}"),
            Resource::RwLock(n) => write!(f, "rwlock#{n}"),
            Resource::Condvar(n) => write!(f, "condvar#{n}"),
            Resource::Barrier(n) => write!(f, "barrier#{n}"),
            Resource::Once(n) => write!(f, "once#{n}"),
            Resource::Channel(n) => write!(f, "channel#{n}"),
            Resource::Thread(i) => f.write_str(&default_thread_name(*i)),
            Resource::AllThreads => f.write_str("every thread it started"),
        }
    }
}

/// Thread `index`'s name when it was given none: `main` for the body's thread, then
/// `Thread-1`, `Thread-2`, ... in the order they were spawned.
pub(crate) fn default_thread_name(index: usize) -> String {
    if index == 0 {
        "main".to_string()
    } else {
        format!("Thread-{index}")
    }
}

/// How a resource is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// By one thread alone: a mutex, a write lock, a running thread.
    Exclusive,
    /// Alongside other shared holders: a read lock, a share of the running threads.
    Shared,
}

/// Who holds what and who waits for what. An execution holds and waits for a few resources at
/// a time, so both are short lists, searched in place: a thread's start and end cost no
/// allocation once the lists have grown.
#[derive(Debug, Default)]
pub(crate) struct WaitGraph {
    /// Each hold, in the order taken.
    holders: Vec<(Resource, usize, Mode)>,
    /// Each waiting thread's wait and the mode it asks for, by thread.
    waiting: Vec<(usize, Resource, Mode)>,
    /// The names resources were made with, in place of `mutex#N` and the like.
    names: BTreeMap<Resource, String>,
}

impl WaitGraph {
    /// Names `resource` `name` in the waits the graph describes.
    pub(crate) fn name(&mut self, resource: Resource, name: String) {
        self.names.insert(resource, name);
    }

    /// The name thread `index` was spawned with, if it was given one.
    pub(crate) fn thread_named(&self, index: usize) -> Option<String> {
        self.names.get(&Resource::Thread(index)).cloned()
    }

    /// Thread `index` in words: its name, or `Thread-N`.
    fn thread_label(&self, index: usize) -> String {
        self.label(Resource::Thread(index))
    }

    /// `resource` in words: its name, or `mutex#N` and the like.
    fn label(&self, resource: Resource) -> String {
        self.names
            .get(&resource)
            .cloned()
            .unwrap_or_else(|| resource.to_string())
    }

    /// Whether `thread` could take `resource` in `mode` now.
    pub(crate) fn can_take(&self, resource: Resource, mode: Mode) -> bool {
        let mut holds = self.holds_of(resource);
        match mode {
            Mode::Exclusive => holds.next().is_none(),
            Mode::Shared => holds.all(|(_, m)| m == Mode::Shared),
        }
    }

    /// The holds of `resource`, in the order taken: holder and mode.
    fn holds_of(&self, resource: Resource) -> impl Iterator<Item = (usize, Mode)> + '_ {
        self.holders
            .iter()
            .filter(move |&&(r, _, _)| r == resource)
            .map(|&(_, thread, mode)| (thread, mode))
    }

    /// Whether anyone holds `resource`.
    pub(crate) fn is_held(&self, resource: Resource) -> bool {
        self.holds_of(resource).next().is_some()
    }

    /// The threads that hold `resource`.
    pub(crate) fn holders(&self, resource: Resource) -> Vec<usize> {
        self.holds_of(resource).map(|(thread, _)| thread).collect()
    }

    /// `thread` holds `resource` in `mode`, and no longer waits.
    pub(crate) fn hold(&mut self, thread: usize, resource: Resource, mode: Mode) {
        self.stop_waiting(thread);
        self.holders.push((resource, thread, mode));
    }

    /// `thread` gives up one hold of `resource`.
    pub(crate) fn release(&mut self, thread: usize, resource: Resource) {
        if let Some(place) = self
            .holders
            .iter()
            .position(|&(r, t, _)| r == resource && t == thread)
        {
            self.holders.remove(place);
        }
    }

    /// On real threads, where a mutex's holds are recorded only by the threads that wait for
    /// it (see [`crate::sync::held`]): `holder` holds mutex `resource`, as its holder word
    /// said just now, in place of the holder recorded before.
    pub(crate) fn set_lock_holder(&mut self, resource: Resource, holder: Option<usize>) {
        self.holders.retain(|&(r, _, _)| r != resource);
        if let Some(holder) = holder {
            self.holders.push((resource, holder, Mode::Exclusive));
        }
    }

    /// On real threads: forgets the mutex holds recorded of `thread` (it is about to wait, and
    /// may have let them go since they were recorded).
    pub(crate) fn forget_lock_holds_of(&mut self, thread: usize) {
        self.holders
            .retain(|&(r, t, _)| t != thread || !matches!(r, Resource::Mutex(_)));
    }

    /// What `thread` waits for, if it waits.
    pub(crate) fn waiting_for(&self, thread: usize) -> Option<Resource> {
        self.wait_with_mode(thread).map(|(resource, _)| resource)
    }

    /// What `thread` waits for and in which mode, if it waits.
    pub(crate) fn wait_with_mode(&self, thread: usize) -> Option<(Resource, Mode)> {
        let place = self.waiting.binary_search_by_key(&thread, |&(t, _, _)| t);
        place.ok().map(|place| {
            let (_, resource, mode) = self.waiting[place];
            (resource, mode)
        })
    }

    /// `thread` waits for `resource` (exclusively, as a lock, a join or any other wait).
    pub(crate) fn wait(&mut self, thread: usize, resource: Resource) {
        self.wait_in(thread, resource, Mode::Exclusive);
    }

    /// `thread` waits for `resource` in `mode`: a read lock waits to share it.
    pub(crate) fn wait_in(&mut self, thread: usize, resource: Resource, mode: Mode) {
        match self.waiting.binary_search_by_key(&thread, |&(t, _, _)| t) {
            Ok(place) => self.waiting[place] = (thread, resource, mode),
            Err(place) => self.waiting.insert(place, (thread, resource, mode)),
        }
    }

    /// Whether no thread waits for anything.
    #[inline]
    pub(crate) fn nobody_waits(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Forgets every hold, wait and name, keeping the room of its lists: the graph of a new
    /// execution.
    pub(crate) fn clear(&mut self) {
        self.holders.clear();
        self.waiting.clear();
        self.names.clear();
    }

    /// `thread` waits no more.
    pub(crate) fn stop_waiting(&mut self, thread: usize) {
        if let Ok(place) = self.waiting.binary_search_by_key(&thread, |&(t, _, _)| t) {
            self.waiting.remove(place);
        }
    }

    /// The threads started and not finished: those holding their own end.
    pub(crate) fn running_threads(&self) -> impl Iterator<Item = usize> + '_ {
        self.holders
            .iter()
            .filter_map(|&(resource, _, _)| match resource {
                Resource::Thread(index) => Some(index),
                _ => None,
            })
    }

    /// The cycle of waits through `start`, if its wait leads back to it.
    pub(crate) fn cycle_from(&self, start: usize) -> Option<WaitCycle> {
        let mut path = vec![start];
        self.extend(&mut path, start, false)
            .then(|| self.cycle_of(&path))
    }

    /// Under shuttle, where a wait is recorded before the scheduling point at which the thread
    /// may or may not block: the cycle through `start` of waits that certainly block. A wait for
    /// a read-write lock that could be taken in the mode asked (a reader where only readers
    /// hold it) is left out, so that such a cycle is never declared a deadlock by mistake.
    pub(crate) fn blocking_cycle_from(&self, start: usize) -> Option<WaitCycle> {
        // A thread that waits for nothing, or for what only running threads hold, is on no
        // cycle: the common case (a join of a running thread), decided without a path.
        let resource = self.waiting_for(start)?;
        if !self
            .holds_of(resource)
            .any(|(holder, _)| holder == start || self.waiting_for(holder).is_some())
        {
            return None;
        }
        let mut path = vec![start];
        self.extend(&mut path, start, true)
            .then(|| self.cycle_of(&path))
    }

    /// Depth-first: extends `path` (ending at a waiting thread) until it comes back to `start`;
    /// with `certain`, only through waits that certainly block.
    fn extend(&self, path: &mut Vec<usize>, start: usize, certain: bool) -> bool {
        let last = *path.last().expect("a path starts at a thread");
        let Some((resource, mode)) = self.wait_with_mode(last) else {
            return false;
        };
        if certain && matches!(resource, Resource::RwLock(_)) && self.can_take(resource, mode) {
            return false;
        }
        for (holder, _) in self.holds_of(resource) {
            if holder == start {
                return true;
            }
            if path.contains(&holder) {
                continue;
            }
            path.push(holder);
            if self.extend(path, start, certain) {
                return true;
            }
            path.pop();
        }
        false
    }

    /// Any cycle of waits, from the lowest-numbered thread on one.
    pub(crate) fn any_cycle(&self) -> Option<WaitCycle> {
        self.waiting
            .iter()
            .find_map(|&(thread, _, _)| self.cycle_from(thread))
    }

    /// The waits of the threads in `path`, each holder shown as the next thread of the cycle.
    fn cycle_of(&self, path: &[usize]) -> WaitCycle {
        let waits = path
            .iter()
            .enumerate()
            .map(|(index, &thread)| {
                let next = path[(index + 1) % path.len()];
                let resource = self
                    .waiting_for(thread)
                    .expect("every thread of a cycle waits");
                let mut wait = self.wait_of(thread, resource);
                if !wait.for_thread_end {
                    wait.holders = vec![self.thread_label(next)];
                }
                wait
            })
            .collect();
        WaitCycle { waits }
    }

    fn wait_of(&self, thread: usize, resource: Resource) -> Wait {
        let for_thread_end = matches!(resource, Resource::Thread(_) | Resource::AllThreads);
        let holders = if matches!(resource, Resource::Thread(_)) {
            Vec::new()
        } else {
            self.holders(resource)
                .into_iter()
                .map(|thread| self.thread_label(thread))
                .collect()
        };
        let resource = match resource {
            Resource::AllThreads => {
                let running: Vec<String> = self
                    .holders(resource)
                    .into_iter()
                    .map(|thread| self.thread_label(thread))
                    .collect();
                if running.is_empty() {
                    resource.to_string()
                } else {
                    running.join(", ")
                }
            }
            _ => self.label(resource),
        };
        Wait {
            thread: self.thread_label(thread),
            resource,
            for_thread_end,
            holders,
        }
    }

    /// Every thread's wait, in thread order.
    pub(crate) fn waits(&self) -> Vec<Wait> {
        self.waiting
            .iter()
            .map(|&(thread, resource, _)| self.wait_of(thread, resource))
            .collect()
    }

    /// Under shuttle, the deadlock of a cycle of waits that certainly block (see
    /// [`WaitGraph::blocking_cycle_from`]), from the lowest-numbered thread on one, and every
    /// wait.
    pub(crate) fn certain_deadlock(&self) -> Deadlock {
        // `waiting` is sorted by thread.
        Deadlock {
            cycle: self
                .waiting
                .iter()
                .find_map(|&(thread, _, _)| self.blocking_cycle_from(thread)),
            waiting: self.waits(),
            timed_out: None,
        }
    }

    /// The deadlock the graph shows now: its cycle, if any, and every wait.
    pub(crate) fn deadlock(&self) -> Deadlock {
        Deadlock {
            cycle: self.any_cycle(),
            waiting: self.waits(),
            timed_out: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_order_inversion_is_a_cycle_from_either_thread() {
        let mut graph = WaitGraph::default();
        graph.hold(1, Resource::Mutex(1), Mode::Exclusive);
        graph.hold(2, Resource::Mutex(2), Mode::Exclusive);
        graph.wait(1, Resource::Mutex(2));
        assert!(graph.cycle_from(1).is_none());
        graph.wait(2, Resource::Mutex(1));
        assert_eq!(
            graph.cycle_from(2).unwrap().to_string(),
            "Thread-2 waits for mutex#1 held by Thread-1, which waits for mutex#2 held by Thread-2"
        );
        assert_eq!(
            graph.any_cycle().unwrap().to_string(),
            "Thread-1 waits for mutex#2 held by Thread-2, which waits for mutex#1 held by Thread-1"
        );
    }

    #[test]
    fn a_join_of_a_thread_that_waits_for_the_joiner_is_a_cycle() {
        let mut graph = WaitGraph::default();
        graph.hold(0, Resource::Mutex(1), Mode::Exclusive);
        graph.hold(1, Resource::Thread(1), Mode::Exclusive);
        graph.wait(1, Resource::Mutex(1));
        graph.wait(0, Resource::Thread(1));
        assert_eq!(
            graph.cycle_from(0).unwrap().to_string(),
            "main waits for Thread-1 to finish, which waits for mutex#1 held by main"
        );
    }

    #[test]
    fn readers_share_and_a_writer_excludes() {
        let mut graph = WaitGraph::default();
        graph.hold(1, Resource::RwLock(1), Mode::Shared);
        assert!(graph.can_take(Resource::RwLock(1), Mode::Shared));
        assert!(!graph.can_take(Resource::RwLock(1), Mode::Exclusive));
        graph.release(1, Resource::RwLock(1));
        assert!(graph.can_take(Resource::RwLock(1), Mode::Exclusive));
        assert!(!graph.is_held(Resource::RwLock(1)));
    }

    #[test]
    fn a_wait_for_a_lock_only_readers_hold_closes_no_certain_cycle() {
        let mut graph = WaitGraph::default();
        // Thread-1 reads r and waits for m; Thread-2 holds m and asks to read r: a reader
        // shares r, so Thread-2 may not block at all.
        graph.hold(1, Resource::RwLock(1), Mode::Shared);
        graph.hold(2, Resource::Mutex(1), Mode::Exclusive);
        graph.wait_in(2, Resource::RwLock(1), Mode::Shared);
        graph.wait(1, Resource::Mutex(1));
        assert!(graph.blocking_cycle_from(1).is_none());
        // A writer held up by a writer certainly blocks.
        graph.release(1, Resource::RwLock(1));
        graph.hold(1, Resource::RwLock(1), Mode::Exclusive);
        graph.wait(1, Resource::Mutex(1));
        assert_eq!(
            graph.blocking_cycle_from(1).unwrap().to_string(),
            "Thread-1 waits for mutex#1 held by Thread-2, which waits for rwlock#1 held by \
             Thread-1"
        );
    }

    /// On real threads a mutex's holder is read by its waiters: a hold read while the holder
    /// ran may be out of date by the time the holder waits, and must not close a cycle.
    #[test]
    fn a_mutex_hold_read_while_its_holder_ran_is_forgotten_when_the_holder_waits() {
        let mut graph = WaitGraph::default();
        graph.wait(1, Resource::Mutex(1));
        graph.set_lock_holder(Resource::Mutex(1), Some(2));
        // Thread-2 has let mutex#1 go since, and now waits for mutex#2, which Thread-1 holds.
        graph.forget_lock_holds_of(2);
        graph.wait(2, Resource::Mutex(2));
        graph.set_lock_holder(Resource::Mutex(2), Some(1));
        assert!(graph.cycle_from(2).is_none());
        // Thread-1 reads mutex#1's holder again: Thread-2 holds it while it waits.
        graph.set_lock_holder(Resource::Mutex(1), Some(2));
        assert_eq!(
            graph.cycle_from(1).unwrap().to_string(),
            "Thread-1 waits for mutex#1 held by Thread-2, which waits for mutex#2 held by Thread-1"
        );
    }

    #[test]
    fn relocking_a_held_mutex_is_a_cycle_of_one() {
        let mut graph = WaitGraph::default();
        graph.hold(0, Resource::Mutex(1), Mode::Exclusive);
        graph.wait(0, Resource::Mutex(1));
        assert_eq!(
            graph.cycle_from(0).unwrap().to_string(),
            "main waits for mutex#1 held by main"
        );
    }
}
