//! Spin loops under an exhaustive search: which tasks are spinning, so that the search does
//! not run them again until another task has made progress they could see.
//!
//! A task spins when, having made no progress of its own (no write, no lock operation, no
//! exit) since it last read a value, it reads that value again while no task has written it
//! since, or yields again while no task has made progress since its last yield. Such a step
//! leaves every task where it was (the spin assumption, which loom makes of `yield_now`: a loop
//! that only re-reads unchanged values repeats until one of them changes), so running it
//! again explores nothing new; an exhaustive search that ran it would explore an endless
//! branch per spin.

use rustc_hash::FxHashMap as HashMap;

use super::access::{Access, Object};

/// What one task did since it last made progress.
#[derive(Clone, Debug, Default)]
struct Window {
    /// Each object it read, with the object's version when it read it.
    reads: Vec<(Object, u64)>,
    /// The progress count when it last yielded.
    yielded_at: Option<u64>,
}

/// The spin state of one execution.
#[derive(Debug, Default)]
pub struct Spins {
    /// How many times each object was written (or taken or released, for a lock).
    versions: HashMap<Object, u64>,
    /// Steps that made progress: wrote, took or released a lock, ended a task.
    progress: u64,
    windows: Vec<Window>,
}

/// Whether a step made of `accesses` changes nothing another task could see (a failed try
/// of a lock only reads it; a successful one is noted as an acquire too).
fn reads_only(accesses: &[Access]) -> bool {
    accesses.iter().all(|a| {
        matches!(
            a,
            Access::Read(_) | Access::TryLock(_) | Access::Yield | Access::Local
        )
    })
}

impl Spins {
    fn version(&self, object: Object) -> u64 {
        self.versions.get(&object).copied().unwrap_or(0)
    }

    fn window(&mut self, task: usize) -> &mut Window {
        if self.windows.len() <= task {
            self.windows.resize(task + 1, Window::default());
        }
        &mut self.windows[task]
    }

    /// Task `task` made a step of `accesses`.
    pub fn step(&mut self, task: usize, accesses: &[Access]) {
        if reads_only(accesses) {
            self.window(task);
            let (window, versions) = (&mut self.windows[task], &self.versions);
            for access in accesses {
                match *access {
                    Access::Read(object) | Access::TryLock(object) => {
                        let version = versions.get(&object).copied().unwrap_or(0);
                        match window.reads.iter_mut().find(|(o, _)| *o == object) {
                            Some(seen) => seen.1 = version,
                            None => window.reads.push((object, version)),
                        }
                    }
                    Access::Yield => window.yielded_at = Some(self.progress),
                    _ => {}
                }
            }
            return;
        }
        self.progress += 1;
        if accesses.contains(&Access::Unknown) {
            // It may have changed anything.
            self.windows.clear();
        } else if let Some(window) = self.windows.get_mut(task) {
            window.reads.clear();
            window.yielded_at = None;
        }
        for access in accesses {
            match *access {
                Access::Write(o)
                | Access::Acquire(o)
                | Access::Release(o)
                | Access::AcquireShared(o)
                | Access::ReleaseShared(o)
                | Access::Wait(o, _) => *self.versions.entry(o).or_default() += 1,
                _ => {}
            }
        }
    }

    /// Whether task `task`, whose next access is `next`, is spinning.
    pub fn spinning(&self, task: usize, next: Access) -> bool {
        let Some(window) = self.windows.get(task) else {
            return false;
        };
        if window
            .reads
            .iter()
            .any(|&(object, version)| self.version(object) != version)
        {
            return false;
        }
        match next {
            Access::Read(object) | Access::TryLock(object) => {
                window.reads.iter().any(|&(o, _)| o == object)
            }
            Access::Yield => window.yielded_at == Some(self.progress),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reread_of_an_unchanged_value_spins_until_another_task_writes_it() {
        let (flag, other) = (Object::Word(1), Object::Word(2));
        let mut spins = Spins::default();
        assert!(!spins.spinning(1, Access::Read(flag)));
        spins.step(1, &[Access::Read(flag)]);
        assert!(spins.spinning(1, Access::Read(flag)));
        assert!(!spins.spinning(1, Access::Read(other)));
        spins.step(2, &[Access::Write(other)]);
        assert!(spins.spinning(1, Access::Read(flag)));
        spins.step(2, &[Access::Write(flag)]);
        assert!(!spins.spinning(1, Access::Read(flag)));
    }

    #[test]
    fn a_write_of_its_own_ends_a_tasks_spin_and_a_second_yield_spins_until_progress() {
        let flag = Object::Word(1);
        let mut spins = Spins::default();
        spins.step(1, &[Access::Read(flag)]);
        spins.step(1, &[Access::Write(Object::Word(2))]);
        assert!(!spins.spinning(1, Access::Read(flag)));
        spins.step(1, &[Access::Yield]);
        assert!(spins.spinning(1, Access::Yield));
        spins.step(2, &[Access::Release(Object::Lock(3))]);
        assert!(!spins.spinning(1, Access::Yield));
    }
}
