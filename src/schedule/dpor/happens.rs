//! Happens-before over the steps of one execution, with vector clocks, and the races it shows.
//!
//! Step `a` happens before step `b` through program order, a spawn (a task's first step comes
//! after the step that created it), a join (after the joined task's exit), a lock (an acquire
//! after the release before it) and conflicting accesses to one word. Two steps of different
//! tasks *race* when they conflict and neither happens before the other through other steps:
//! for a word, the last write and the reads after it; for a lock, the acquires since the last
//! exclusive one (a read-write lock's readers count as conflicting), with the releases between
//! them left out (taking the lock first is the other order); a try of a lock races with the
//! acquires and the release before it, and a failed try with the release after it; anything
//! unknown races with the last step of every other task.

use rustc_hash::FxHashMap as HashMap;

use super::access::{Access, Object};

/// A vector clock: for each task, how many of its steps happen before (or are) this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clock(Vec<u32>);

impl Clock {
    fn get(&self, task: usize) -> u32 {
        self.0.get(task).copied().unwrap_or(0)
    }

    fn set(&mut self, task: usize, value: u32) {
        if self.0.len() <= task {
            self.0.resize(task + 1, 0);
        }
        self.0[task] = value;
    }

    fn join(&mut self, other: &Clock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = (*mine).max(*theirs);
        }
    }
}

/// One step as the happens-before relation sees it.
#[derive(Clone, Debug)]
pub struct Step {
    /// The task that ran it.
    pub task: usize,
    /// Its index among the task's steps, from 1.
    pub position: u32,
    /// The steps that happen before it, itself included.
    pub clock: Clock,
}

impl Step {
    /// Whether this step happens before (or is) a step with clock `clock`.
    pub fn happens_before(&self, clock: &Clock) -> bool {
        clock.get(self.task) >= self.position
    }
}

#[derive(Debug, Default)]
struct WordState {
    last_write: Option<usize>,
    reads: Vec<usize>,
}

#[derive(Debug, Default)]
struct LockState {
    /// The acquires since the last exclusive one, that one first: the last exclusive acquire
    /// of a mutex, or a read-write lock's writer followed by its readers.
    acquires: Vec<usize>,
    /// The steps every release so far happens after.
    released: Clock,
    /// The last release.
    last_release: Option<usize>,
    /// The failed tries since the last release: the next release races with each.
    tries: Vec<usize>,
}

/// The steps of one execution so far, with what each object last saw.
#[derive(Debug, Default)]
pub struct HappensBefore {
    steps: Vec<Step>,
    /// Each task's latest clock (of its last step, or of its creation).
    tasks: Vec<Option<Clock>>,
    last_step: Vec<Option<usize>>,
    words: HashMap<Object, WordState>,
    locks: HashMap<Object, LockState>,
    exits: HashMap<usize, usize>,
    /// The last step whose accesses were unknown.
    unknown: Option<usize>,
}

impl HappensBefore {
    /// The steps so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Task `task` exists from now on, created by the last step (if any).
    pub fn created(&mut self, task: usize) {
        if self.tasks.len() <= task {
            self.tasks.resize(task + 1, None);
            self.last_step.resize(task + 1, None);
        }
        if self.tasks[task].is_none() {
            let clock = self
                .steps
                .last()
                .map(|s| s.clock.clone())
                .unwrap_or_default();
            self.tasks[task] = Some(clock);
        }
    }

    /// Whether task `task` has been seen.
    pub fn knows(&self, task: usize) -> bool {
        self.tasks.get(task).is_some_and(Option::is_some)
    }

    /// Adds the step task `task` made with `accesses`; returns the earlier steps it races with.
    pub fn push(&mut self, task: usize, accesses: &[Access]) -> Vec<usize> {
        self.created(task);
        let index = self.steps.len();
        let base = self.tasks[task].clone().unwrap_or_default();
        let position = base.get(task) + 1;
        let mut clock = base.clone();
        clock.set(task, position);
        let mut races = Vec::new();
        if let Some(unknown) = self.unknown {
            self.against(unknown, task, &base, &mut clock, &mut races);
        }
        for access in accesses {
            self.order(*access, task, &base, &mut clock, &mut races);
        }
        for access in accesses {
            self.record(*access, index, &clock);
        }
        races.sort_unstable();
        races.dedup();
        self.tasks[task] = Some(clock.clone());
        self.last_step[task] = Some(index);
        self.steps.push(Step {
            task,
            position,
            clock,
        });
        races
    }

    /// Orders a step of `task` after `earlier`, which it conflicts with: `clock` takes in
    /// `earlier`'s, and `earlier` races with the step unless it happens before `base`, the
    /// task's clock before the step.
    fn against(
        &self,
        earlier: usize,
        task: usize,
        base: &Clock,
        clock: &mut Clock,
        races: &mut Vec<usize>,
    ) {
        let step = &self.steps[earlier];
        if step.task != task && !step.happens_before(base) {
            races.push(earlier);
        }
        clock.join(&step.clock);
    }

    /// Orders a step of `task` making `access` after the earlier steps it depends on.
    fn order(
        &self,
        access: Access,
        task: usize,
        base: &Clock,
        clock: &mut Clock,
        races: &mut Vec<usize>,
    ) {
        match access {
            Access::Read(object) => {
                if let Some(w) = self.words.get(&object).and_then(|w| w.last_write) {
                    self.against(w, task, base, clock, races);
                }
            }
            Access::Write(object) => {
                let Some(word) = self.words.get(&object) else {
                    return;
                };
                // The reads since the last write race with it; the write before them is
                // ordered through them.
                for &r in &word.reads {
                    self.against(r, task, base, clock, races);
                }
                if let Some(w) = word.last_write {
                    if word.reads.is_empty() {
                        self.against(w, task, base, clock, races);
                    } else {
                        clock.join(&self.steps[w].clock);
                    }
                }
            }
            Access::Acquire(lock) | Access::AcquireShared(lock) => {
                let Some(state) = self.locks.get(&lock) else {
                    return;
                };
                // The acquires race, the releases between them set aside: taking the lock
                // first is the other order. Readers are counted as conflicting too.
                for &a in &state.acquires {
                    let step = &self.steps[a];
                    if step.task != task && !step.happens_before(base) {
                        races.push(a);
                    }
                }
                clock.join(&state.released);
            }
            Access::TryLock(lock) => {
                // A try comes after the acquires and the last release, and its outcome
                // changes with either order: before an acquire it would have taken the lock,
                // before the release after it, it would have failed (a success is noted as
                // an acquire as well).
                let Some(state) = self.locks.get(&lock) else {
                    return;
                };
                for &a in &state.acquires {
                    self.against(a, task, base, clock, races);
                }
                if let Some(r) = state.last_release {
                    self.against(r, task, base, clock, races);
                }
            }
            Access::Release(lock) | Access::ReleaseShared(lock) => {
                // Released before a failed try, the lock would have been taken by it.
                if let Some(state) = self.locks.get(&lock) {
                    for &t in &state.tries {
                        self.against(t, task, base, clock, races);
                    }
                }
            }
            Access::Join(joined) => {
                if let Some(&e) = self.exits.get(&joined) {
                    clock.join(&self.steps[e].clock);
                }
            }
            Access::Unknown => {
                for (other, last) in self.last_step.iter().enumerate() {
                    if let Some(s) = *last
                        && other != task
                    {
                        self.against(s, task, base, clock, races);
                    }
                }
            }
            Access::Wait(condvar, lock) => {
                // Its waiters written, its lock read as a try is (a race with the release
                // that frees it).
                self.order(Access::Write(condvar), task, base, clock, races);
                self.order(Access::TryLock(lock), task, base, clock, races);
            }
            Access::Exit(_) | Access::Yield | Access::Local => {}
        }
    }

    /// Notes that step `index`, with clock `clock`, made `access`, for the steps after it.
    fn record(&mut self, access: Access, index: usize, clock: &Clock) {
        match access {
            Access::Read(object) => self.words.entry(object).or_default().reads.push(index),
            Access::Write(object) => {
                let word = self.words.entry(object).or_default();
                word.last_write = Some(index);
                word.reads.clear();
            }
            Access::Acquire(lock) => {
                let acquires = &mut self.locks.entry(lock).or_default().acquires;
                acquires.clear();
                acquires.push(index);
            }
            Access::AcquireShared(lock) => self.locks.entry(lock).or_default().acquires.push(index),
            Access::Release(lock) | Access::ReleaseShared(lock) => {
                let state = self.locks.entry(lock).or_default();
                state.released.join(clock);
                state.last_release = Some(index);
                state.tries.clear();
            }
            Access::TryLock(lock) => self.locks.entry(lock).or_default().tries.push(index),
            Access::Exit(t) => {
                self.exits.insert(t, index);
            }
            Access::Unknown => self.unknown = Some(index),
            Access::Wait(condvar, lock) => {
                self.record(Access::Write(condvar), index, clock);
                self.record(Access::TryLock(lock), index, clock);
            }
            Access::Join(_) | Access::Yield | Access::Local => {}
        }
    }

    /// The tasks that can start the reversal of the race between step `earlier` and the last
    /// step: of the steps after `earlier` that it does not happen before, followed by the last
    /// step, the tasks whose first such step no other such step happens before. Stops early
    /// when `enough` accepts a task.
    pub fn initials(&self, earlier: usize, mut enough: impl FnMut(usize) -> bool) -> Vec<usize> {
        let first = &self.steps[earlier];
        let last = self.steps.len() - 1;
        // The first step in the reversal of each task seen so far.
        let mut firsts: Vec<&Step> = Vec::new();
        let mut initials = Vec::new();
        for index in earlier + 1..=last {
            let step = &self.steps[index];
            if index != last && first.happens_before(&step.clock) {
                continue;
            }
            if firsts.iter().any(|f| f.task == step.task) {
                continue;
            }
            let initial = !firsts.iter().any(|f| f.happens_before(&step.clock));
            firsts.push(step);
            if initial {
                initials.push(step.task);
                if enough(step.task) {
                    break;
                }
            }
        }
        initials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_races_with_an_unordered_read_of_another_task() {
        let word = Object::Word(7);
        let mut hb = HappensBefore::default();
        hb.created(1);
        hb.created(2);
        assert!(hb.push(1, &[Access::Read(word)]).is_empty());
        assert_eq!(hb.push(2, &[Access::Write(word)]), vec![0]);
        assert_eq!(hb.initials(0, |_| false), vec![2]);
    }

    #[test]
    fn lock_protected_accesses_do_not_race_but_the_acquires_do() {
        let (lock, word) = (Object::Lock(1), Object::Word(2));
        let mut hb = HappensBefore::default();
        hb.created(1);
        hb.created(2);
        hb.push(1, &[Access::Acquire(lock)]);
        hb.push(1, &[Access::Write(word)]);
        hb.push(1, &[Access::Release(lock)]);
        assert_eq!(hb.push(2, &[Access::Acquire(lock)]), vec![0]);
        assert!(hb.push(2, &[Access::Write(word)]).is_empty());
    }
}
