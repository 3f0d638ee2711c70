//! The exploring scheduler: a shuttle [`Scheduler`] that runs one execution per path of the
//! exploration tree, replaying the prefix the tree keeps and extending it.
//!
//! In [`Reduction::Dpor`] it is source-set dynamic partial-order reduction with sleep sets
//! (Abdulla, Aronis, Jonsson and Sagonas, POPL 2014): after each step it finds the races of the
//! step with earlier ones and adds, at the decision before the earlier step, a task that can
//! start the reversed order, unless one is already there or asleep; a task asleep at a
//! decision is not run there, so no two complete executions explored are equivalent. In
//! [`Reduction::None`] it is a plain depth-first search of every schedule, optionally bounded
//! in preemptions. In both, a task spinning ([`super::spin`]) is not run until another makes
//! progress it could see, and when every task that could run spins, the execution goes on
//! with one of them and no alternative, until it ends or reaches its steps' bound (a
//! livelock). Once the execution has declared a deadlock, its threads only unwind: the rest of
//! it follows the default rule and adds no decision, so no alternative, to the tree.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

use super::access::{self, Access, Object, steps_conflict};
use super::happens::HappensBefore;
use super::spin::Spins;
use super::tree::{Node, Tasks, Tree};
use crate::schedule::Rule;

/// How the search cuts down the schedules it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// One execution per equivalence class of interleavings.
    Dpor,
    /// Every schedule with at most this many preemptions (every schedule if `None`).
    None(Option<u32>),
}

/// What a search has covered so far, shared with whoever runs it.
#[derive(Debug, Default)]
pub struct SearchStats {
    classes: AtomicU64,
    current_counts: AtomicBool,
    exhausted: AtomicBool,
}

impl SearchStats {
    /// Complete executions explored that are not equivalent to each other: the equivalence
    /// classes of a DPOR search (every schedule of a plain one).
    pub fn classes(&self) -> u64 {
        self.classes.load(Ordering::SeqCst) + u64::from(self.current_counts.load(Ordering::SeqCst))
    }

    /// Whether the search ran out of schedules to explore.
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::SeqCst)
    }
}

/// The exploring scheduler.
#[derive(Debug)]
pub struct Explorer {
    reduction: Reduction,
    max_executions: Option<u64>,
    executions: u64,
    tree: Tree,
    stats: Arc<SearchStats>,
    run: Execution,
}

/// What the scheduler tracks of the execution under way.
#[derive(Debug, Default)]
struct Execution {
    step: usize,
    /// Decisions replayed from the tree before this execution departs from the last one.
    replayed: usize,
    hb: HappensBefore,
    /// The task that ran the last step and the access it had announced.
    last: Option<(usize, Access)>,
    /// The accesses of the last step, once it is over.
    last_event: Vec<Access>,
    /// Every enabled task was asleep: the execution is equivalent to one explored.
    blocked: bool,
    ran: Tasks,
    exited: Tasks,
    /// Tasks inside a wait on a condition variable, past its first step.
    waiting: Tasks,
    /// The task holding each lock taken exclusively.
    holders: HashMap<Object, usize>,
    /// How many tasks hold each read-write lock for reading.
    readers: HashMap<Object, u32>,
    spins: Spins,
}

impl Explorer {
    /// A search with `reduction`, of at most `max_executions` executions if given.
    pub fn new(reduction: Reduction, max_executions: Option<u64>) -> Explorer {
        Explorer {
            reduction,
            max_executions,
            executions: 0,
            tree: Tree::default(),
            stats: Arc::default(),
            run: Execution::default(),
        }
    }

    /// What the search covers, updated as it runs.
    pub fn stats(&self) -> Arc<SearchStats> {
        Arc::clone(&self.stats)
    }

    fn bound(&self) -> Option<u32> {
        match self.reduction {
            Reduction::Dpor => None,
            Reduction::None(bound) => bound,
        }
    }

    /// The next access of `task`: announced, or its start if it has not run, or unknown.
    fn next_access(&self, task: usize) -> Access {
        access::with_board(|b| b.pending(task)).unwrap_or(if self.run.ran.contains(task) {
            Access::Unknown
        } else {
            Access::Local
        })
    }

    /// Whether `task` could make its next access now, as far as the announcements tell.
    fn can_run(&self, task: usize) -> bool {
        let free = |lock: &Object| self.run.holders.get(lock).is_none_or(|&h| h == task);
        match self.next_access(task) {
            Access::Acquire(lock) => {
                free(&lock) && self.run.readers.get(&lock).is_none_or(|&n| n == 0)
            }
            Access::AcquireShared(lock) => free(&lock),
            Access::Join(joined) => self.run.exited.contains(joined),
            _ => true,
        }
    }

    /// Whether `task` is spinning at its next access.
    fn spinning(&self, task: usize) -> bool {
        self.run.spins.spinning(task, self.next_access(task))
    }

    /// The accesses of the step `task` just made, having announced `announced` before it and
    /// noted `notes` during it.
    fn step_accesses(&mut self, task: usize, announced: Access, notes: Vec<Access>) -> Vec<Access> {
        // Still announced: the task blocked there (or announced the same access again, which
        // for the operations that may wait changes nothing below), or is inside a wait.
        let pending = access::with_board(|b| b.pending(task)) == Some(announced);
        let mut accesses = Vec::with_capacity(2 + notes.len());
        match announced {
            Access::Wait(condvar, lock) => {
                // The wait's first step gives the lock up and joins the waiters; its last takes
                // the lock again, which the wait notes (the same step may announce the next
                // wait, as a loop that waits again does).
                let first = !self.run.waiting.contains(task);
                let ended = !pending || notes.contains(&Access::Acquire(lock));
                if first {
                    accesses.extend([Access::Release(lock), Access::Write(condvar)]);
                }
                if !first || ended {
                    accesses.push(announced);
                }
                if ended {
                    self.run.waiting.remove(task);
                } else {
                    self.run.waiting.insert(task);
                }
            }
            _ if pending => accesses.push(blocked_access(announced)),
            _ => accesses.push(announced),
        }
        accesses.extend(notes);
        accesses
    }

    /// Ends the last step: its accesses update the model, the happens-before relation and,
    /// under DPOR, the backtrack sets of the decisions it races with.
    fn finish_step(&mut self) {
        let notes = access::with_board(|b| b.take_notes());
        let Some((task, announced)) = self.run.last.take() else {
            return;
        };
        let accesses = self.step_accesses(task, announced, notes);
        for access in &accesses {
            match *access {
                Access::Acquire(lock) => {
                    self.run.holders.insert(lock, task);
                }
                Access::Release(lock) => {
                    self.run.holders.remove(&lock);
                }
                Access::AcquireShared(lock) => *self.run.readers.entry(lock).or_default() += 1,
                Access::ReleaseShared(lock) => {
                    let readers = self.run.readers.entry(lock).or_default();
                    *readers = readers.saturating_sub(1);
                }
                Access::Exit(t) => self.run.exited.insert(t),
                _ => {}
            }
        }
        self.run.spins.step(task, &accesses);
        if self.reduction == Reduction::Dpor && !self.run.blocked {
            let step = self.run.hb.steps().len();
            let races = self.run.hb.push(task, &accesses);
            if step + 1 >= self.run.replayed {
                for earlier in races {
                    self.reverse_race(earlier);
                }
            }
        }
        self.run.last_event = accesses;
    }

    /// Makes sure the decision before step `earlier` explores a task that starts the reversed
    /// order of the race between that step and the last one.
    fn reverse_race(&mut self, earlier: usize) {
        let Some(node) = self.tree.nodes.get(earlier) else {
            return;
        };
        // A task spinning there would only have read again what it had read: running it there
        // reaches nothing new.
        let covered = |t: usize| {
            node.backtrack.contains(t) || node.sleep.contains(t) || node.spinning.contains(t)
        };
        let initials = self.run.hb.initials(earlier, covered);
        if initials.iter().any(|&t| covered(t)) {
            return;
        }
        let task = initials
            .iter()
            .copied()
            .find(|t| node.enabled.contains(t))
            .unwrap_or(usize::MAX);
        self.tree.add_backtrack(earlier, task);
    }

    /// Makes sure decision `decision` also explores the tasks that could run there and that
    /// its step disabled: a task that no longer runs after it (a waiter whose notification
    /// another waiter took) has no later step for a race to be seen with, so the order in
    /// which it runs first is added here. `runnable` are the tasks that can run now.
    fn reverse_disabling(&mut self, decision: usize, runnable: &[usize]) {
        let Some(node) = self.tree.nodes.get(decision) else {
            return;
        };
        let disabled: Vec<usize> = node
            .enabled
            .iter()
            .copied()
            .filter(|&t| t != node.chosen && !runnable.contains(&t))
            .collect();
        for task in disabled {
            self.tree.add_backtrack(decision, task);
        }
    }

    /// The tasks asleep at a new decision: those asleep or explored before at the previous
    /// one whose next access commutes with the step just taken.
    fn sleep_after(&self, parent: &Node) -> Tasks {
        let mut sleep = Tasks::default();
        for task in parent.sleep.iter().chain(parent.done.iter()) {
            if task != parent.chosen
                && !steps_conflict(&[self.next_access(task)], &self.run.last_event)
            {
                sleep.insert(task);
            }
        }
        sleep
    }

    /// Leaves the `spinning` tasks out of `enabled`, or, when every task there spins, keeps
    /// one of them alone: the one that was running if it can, else the default rule's, else
    /// the first.
    fn set_spinning_aside(&self, enabled: &mut Vec<usize>, spinning: &Tasks, rule: Rule) {
        if enabled.iter().all(|&t| spinning.contains(t)) {
            let only = rule
                .current
                .filter(|c| enabled.contains(c))
                .or_else(|| enabled.iter().copied().find(|&t| t == rule.default))
                .unwrap_or(enabled[0]);
            enabled.clear();
            enabled.push(only);
        } else {
            enabled.retain(|&t| !spinning.contains(t));
        }
    }

    /// A new decision at the end of the tree: its node, and the task it runs.
    fn decide_new(&mut self, runnable: &[usize], rule: Rule) -> usize {
        let step = self.run.step - 1;
        let (preemptions_before, sleep) = match self.tree.nodes.last() {
            Some(parent) if step > 0 => (
                parent.preemptions_after(),
                if self.reduction == Reduction::Dpor {
                    self.sleep_after(parent)
                } else {
                    Tasks::default()
                },
            ),
            _ => (0, Tasks::default()),
        };
        let mut enabled: Vec<usize> = match self.reduction {
            Reduction::Dpor => runnable
                .iter()
                .copied()
                .filter(|&t| self.can_run(t))
                .collect(),
            Reduction::None(_) => runnable.to_vec(),
        };
        if enabled.is_empty() {
            enabled = runnable.to_vec();
        }
        // Spinning tasks wait for another task's progress; when every task spins, the
        // execution goes on with one of them and no alternative (a livelock ends at its steps'
        // bound).
        let mut spinning = Tasks::default();
        for &t in &enabled {
            if self.spinning(t) {
                spinning.insert(t);
            }
        }
        let continuing = rule
            .current
            .filter(|&c| rule.current_can_continue && !spinning.contains(c));
        if !spinning.is_empty() {
            self.set_spinning_aside(&mut enabled, &spinning, rule);
        }
        let awake: Vec<usize> = enabled
            .iter()
            .copied()
            .filter(|&t| !sleep.contains(t))
            .collect();
        let pick = pick(&awake, continuing, rule);
        let Some(chosen) = pick else {
            self.run.blocked = true;
            self.stats.current_counts.store(false, Ordering::SeqCst);
            return rule.default;
        };
        let mut node = Node {
            enabled,
            chosen,
            backtrack: Tasks::default(),
            done: Tasks::default(),
            sleep,
            spinning,
            continuing,
            preemptions_before,
        };
        node.done.insert(chosen);
        match self.reduction {
            Reduction::Dpor => node.backtrack.insert(chosen),
            Reduction::None(bound) => {
                for &t in &node.enabled {
                    if bound.is_none_or(|b| preemptions_before + u32::from(node.preempts(t)) <= b) {
                        node.backtrack.insert(t);
                    }
                }
                node.backtrack.insert(chosen);
            }
        }
        self.tree.nodes.push(node);
        chosen
    }
}

/// The task a new decision runs among the `awake` ones: the one that was running if it can go
/// on, else the default rule's, else the next after the one that ran, in id order.
fn pick(awake: &[usize], continuing: Option<usize>, rule: Rule) -> Option<usize> {
    continuing
        .filter(|c| awake.contains(c))
        .or_else(|| awake.iter().copied().find(|&t| t == rule.default))
        .or_else(|| {
            let after = rule.current.unwrap_or(0);
            awake
                .iter()
                .copied()
                .find(|&t| t > after)
                .or(awake.first().copied())
        })
}

impl Scheduler for Explorer {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.executions > 0 {
            if self.stats.current_counts.swap(false, Ordering::SeqCst) {
                self.stats.classes.fetch_add(1, Ordering::SeqCst);
            }
            if !self.tree.advance(self.bound()) {
                self.stats.exhausted.store(true, Ordering::SeqCst);
                access::stop_board();
                return None;
            }
        }
        if self
            .max_executions
            .is_some_and(|max| self.executions >= max)
        {
            access::stop_board();
            return None;
        }
        self.executions += 1;
        self.run = Execution {
            replayed: self.tree.nodes.len(),
            ..Execution::default()
        };
        self.stats.current_counts.store(true, Ordering::SeqCst);
        access::start_board();
        Some(Schedule::new(0))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.finish_step();
        let rule = Rule::at(runnable, current, is_yielding);
        let mut ids: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
        ids.sort_unstable();
        for &task in &ids {
            if !self.run.hb.knows(task) {
                self.run.hb.created(task);
            }
        }
        let step = self.run.step;
        self.run.step += 1;
        // A replayed decision disabled what it disabled in the execution before: done then.
        if self.reduction == Reduction::Dpor
            && !self.run.blocked
            && step > 0
            && step >= self.run.replayed
        {
            self.reverse_disabling(step - 1, &ids);
        }
        let chosen = if self.run.blocked {
            rule.default
        } else if let Some(node) = self.tree.nodes.get(step) {
            let chosen = node.chosen;
            assert!(
                ids.contains(&chosen),
                "the body is not deterministic: replaying decision {step}, {} cannot run; an \
                 exhaustive search needs a body that does the same for the same schedule",
                crate::schedule::task_name(chosen)
            );
            chosen
        } else if access::with_board(|b| b.deadlocked()) {
            // The execution has declared a deadlock and its threads unwind: their order is no
            // alternative worth exploring, so the rest of it follows the default rule, with no
            // decision in the tree.
            rule.default
        } else {
            self.decide_new(&ids, rule)
        };
        self.run.last = Some((chosen, self.next_access(chosen)));
        self.run.ran.insert(chosen);
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// What an operation that may wait touches when the task blocked there (its announcement is
/// still pending): it found the object unavailable and joined its waiters, and did nothing
/// else. A blocked lock acquire reads the lock as a failed try does (it races with the
/// release that frees the lock and the acquires around it, and takes no lock); a blocked join
/// waits on the joined thread's exit; a blocked wait on a waitable object (a condition
/// variable, a channel) wrote itself into its waiters, which a notify or a send reads. Any
/// other access is what it was announced as.
fn blocked_access(announced: Access) -> Access {
    match announced {
        Access::Acquire(lock) | Access::AcquireShared(lock) => Access::TryLock(lock),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_acquire_reads_its_lock_and_commutes_with_every_other_object() {
        let lock = Object::Lock(1);
        let blocked = blocked_access(Access::Acquire(lock));
        assert_eq!(blocked, Access::TryLock(lock));
        assert_eq!(
            blocked_access(Access::AcquireShared(lock)),
            Access::TryLock(lock)
        );
        assert!(blocked.conflicts(Access::Release(lock)));
        assert!(blocked.conflicts(Access::Acquire(lock)));
        assert!(!blocked.conflicts(Access::Write(Object::Word(2))));
        assert!(!blocked.conflicts(Access::Release(Object::Lock(3))));
        assert_eq!(blocked_access(Access::Join(4)), Access::Join(4));
    }
}
