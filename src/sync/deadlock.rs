//! Deadlocks in words: who waits for what, held by whom, and the cycle of waits that no thread
//! can leave.
//!
//! contend's blocking primitives keep a wait-for graph in each execution
//! (`sync::graph`); when an execution deadlocks, the graph gives the [`WaitCycle`]
//! ("Thread-1 waits for mutex#2 held by Thread-2, which waits for mutex#1 held by Thread-1") or,
//! when the threads wait for something no thread holds (a condition variable never notified),
//! the waits themselves.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One blocked thread: the thread, what it waits for, and the threads that hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The waiting thread: `main`, `Thread-1`, ...
    pub thread: String,
    /// What it waits for: `mutex#2`, `condvar#1`, `Thread-2` (to finish), ...
    pub resource: String,
    /// Whether the resource is a thread that must finish (a join).
    pub for_thread_end: bool,
    /// The threads that hold the resource, if anyone does.
    pub holders: Vec<String>,
}

impl Wait {
    /// What the thread waits for, without the thread: "mutex#2 held by Thread-2".
    fn object(&self) -> String {
        if self.for_thread_end {
            format!("{} to finish", self.resource)
        } else if self.holders.is_empty() {
            self.resource.clone()
        } else {
            format!("{} held by {}", self.resource, self.holders.join(" and "))
        }
    }
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} waits for {}", self.thread, self.object())
    }
}

/// A cycle of waits: each thread waits for something held by (or, for a join, being) the next,
/// and the last waits for the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitCycle {
    /// The waits, in order around the cycle.
    pub waits: Vec<Wait>,
}

impl fmt::Display for WaitCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, wait) in self.waits.iter().enumerate() {
            if index == 0 {
                write!(f, "{wait}")?;
            } else {
                write!(f, ", which waits for {}", wait.object())?;
            }
        }
        Ok(())
    }
}

impl WaitCycle {
    /// The cycle as data, one edge a wait: what the JSON report's `cycle` holds.
    pub fn edges(&self) -> Vec<CycleEdge> {
        self.waits
            .iter()
            .map(|wait| CycleEdge {
                thread: wait.thread.clone(),
                waits_for: wait.resource.clone(),
                held_by: if wait.for_thread_end || wait.holders.is_empty() {
                    wait.resource.clone()
                } else {
                    wait.holders.join(" and ")
                },
            })
            .collect()
    }
}

/// One wait of a cycle as reports give it: `{thread, waits_for, held_by}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleEdge {
    /// The waiting thread: `Thread-1`.
    pub thread: String,
    /// What it waits for: `mutex#2`, or `Thread-2` to finish.
    pub waits_for: String,
    /// Who holds it: `Thread-2` (a thread waited for to finish holds its own end).
    pub held_by: String,
}

/// A deadlocked execution: the cycle of waits if there is one, and every thread's wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    /// The cycle of waits, if the threads wait for each other.
    pub cycle: Option<WaitCycle>,
    /// Every blocked thread's wait, in thread order.
    pub waiting: Vec<Wait>,
    /// On real threads, the deadlock timeout a thread waited past, when no cycle was found.
    pub timed_out: Option<Duration>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cycle) = &self.cycle {
            return write!(f, "{cycle}");
        }
        match self.timed_out {
            Some(timeout) => write!(f, "a thread waited longer than {timeout:?}")?,
            None => write!(f, "no thread can go on")?,
        }
        if self.waiting.is_empty() {
            return Ok(());
        }
        let waits: Vec<String> = self.waiting.iter().map(Wait::to_string).collect();
        write!(f, ": {}", waits.join("; "))
    }
}

/// The payload a thread blocked in a deadlocked execution on real threads unwinds with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlockUnwind;

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(thread: &str, resource: &str, holder: &str) -> Wait {
        Wait {
            thread: thread.into(),
            resource: resource.into(),
            for_thread_end: false,
            holders: vec![holder.into()],
        }
    }

    #[test]
    fn a_lock_order_cycle_reads_as_a_sentence() {
        let cycle = WaitCycle {
            waits: vec![
                wait("Thread-1", "mutex#2", "Thread-2"),
                wait("Thread-2", "mutex#1", "Thread-1"),
            ],
        };
        assert_eq!(
            cycle.to_string(),
            "Thread-1 waits for mutex#2 held by Thread-2, which waits for mutex#1 held by Thread-1"
        );
    }

    #[test]
    fn a_cycle_as_data_names_each_wait_and_its_holder() {
        let cycle = WaitCycle {
            waits: vec![
                wait("Thread-1", "mutex#2", "Thread-2"),
                wait("Thread-2", "mutex#1", "Thread-1"),
            ],
        };
        let edges = cycle.edges();
        assert_eq!(edges[0].thread, "Thread-1");
        assert_eq!(edges[0].waits_for, "mutex#2");
        assert_eq!(edges[0].held_by, "Thread-2");
        assert_eq!(edges[1].held_by, "Thread-1");
    }

    #[test]
    fn a_deadlock_without_a_cycle_lists_the_waits() {
        let deadlock = Deadlock {
            cycle: None,
            waiting: vec![
                Wait {
                    thread: "main".into(),
                    resource: "Thread-1".into(),
                    for_thread_end: true,
                    holders: vec![],
                },
                Wait {
                    thread: "Thread-1".into(),
                    resource: "condvar#1".into(),
                    for_thread_end: false,
                    holders: vec![],
                },
            ],
            timed_out: None,
        };
        assert_eq!(
            deadlock.to_string(),
            "no thread can go on: main waits for Thread-1 to finish; Thread-1 waits for condvar#1"
        );
    }
}
