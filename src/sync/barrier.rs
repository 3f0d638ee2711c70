//! A barrier inside a check, as [`std::sync::Barrier`], named `barrier#N`: `n` threads wait
//! until all of them have arrived.
//!
//! Under shuttle it is shuttle's; on real threads its count lives in the execution's wait state
//! and a waiting thread waits with the deadlock timeout.

use std::fmt;
use std::sync::Arc;

use crate::schedule::dpor::{self, Access};
use crate::sync::context::{self, AccessKind, Execution, ObjectKind};
use crate::sync::graph::Resource;

/// A barrier for `n` threads, as [`std::sync::Barrier`].
pub struct Barrier {
    number: usize,
    size: usize,
    execution: Arc<Execution>,
    inner: Option<shuttle::sync::Barrier>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Barrier(barrier#{}, {} threads)", self.number, self.size)
    }
}

/// What [`Barrier::wait`] returns: whether this thread is the leader (the last to arrive).
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this thread is the one leader of its generation.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier that opens when `n` threads wait at it.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(n: usize) -> Barrier {
        let execution = context::execution();
        let inner = (execution.backend == context::Backend::Shuttle)
            .then(|| shuttle::sync::Barrier::new(n));
        Barrier {
            number: execution.number(ObjectKind::Barrier),
            size: n,
            execution,
            inner,
        }
    }

    /// Blocks until `n` threads wait here, as [`std::sync::Barrier::wait`]. One access.
    ///
    /// # Panics
    ///
    /// On real threads, with no message, when the execution deadlocks while this thread waits.
    pub fn wait(&self) -> BarrierWaitResult {
        let thread = context::before_access();
        let number = self.number;
        let resource = Resource::Barrier(number);
        context::log_access(thread, || {
            (AccessKind::Other, format!("wait barrier#{number}"))
        });
        let waits = &self.execution.waits;
        let leader = match &self.inner {
            Some(barrier) => {
                waits.with(|state| state.graph.wait(thread, resource));
                // An arrival that leaves no thread able to go on unwinds here (contend knows
                // only that an early arrival blocks when nobody else waits at the barrier).
                waits.unwind_if_stuck(thread, Some(self.size > 1));
                let access = Access::Write(dpor::access::waitable(ObjectKind::Barrier, number));
                // shuttle blocks an early arrival without a scheduling point first: one of its
                // own, always (so that a schedule replays the same with or without a search),
                // makes the arrival the step announced to make it.
                let leader = dpor::around(access, || {
                    shuttle::thread::yield_now();
                    barrier.wait()
                })
                .is_leader();
                waits.with(|state| state.graph.stop_waiting(thread));
                leader
            }
            None => {
                let size = self.size;
                let (generation, leader) = waits.update(|state| {
                    let (arrived, generation) = state.barriers.entry(number).or_default();
                    *arrived += 1;
                    if *arrived >= size {
                        *arrived = 0;
                        *generation += 1;
                        (*generation, true)
                    } else {
                        (*generation, false)
                    }
                });
                if !leader {
                    waits.block_on(thread, resource, |state| {
                        let now = state.barriers.get(&number).map_or(0, |b| b.1);
                        (now != generation).then_some(())
                    });
                }
                leader
            }
        };
        context::log_access(thread, || {
            let role = if leader { " (leader)" } else { "" };
            (AccessKind::Other, format!("pass barrier#{number}{role}"))
        });
        BarrierWaitResult(leader)
    }
}
