//! The words of an execution's overwrites, gathered one step at a time in memory that does not
//! grow with the execution: each thread's last read and latest writes.

use crate::platform::Access;
use crate::platform::shuttle::LoggedStep;
use crate::schedule::task_name;

/// Writes remembered per thread to name an overwritten write's value: the write an overwrite
/// replaced is the counter's latest, so its thread's latest write.
const REMEMBERED_WRITES: usize = 64;

/// What the words of an overwrite need of the steps before it, taken in one step at a time in
/// memory that does not grow with the execution: each thread's last read and latest writes.
#[derive(Clone, Debug, Default)]
pub struct Overwrites {
    /// Per thread: its writes so far, its last read, and its latest writes as (op, value).
    threads: Vec<ThreadWrites>,
}

#[derive(Clone, Debug, Default)]
struct ThreadWrites {
    writes: u64,
    last_read: Option<i64>,
    latest: std::collections::VecDeque<(u64, i64)>,
}

impl Overwrites {
    fn thread(&mut self, thread: usize) -> &mut ThreadWrites {
        if self.threads.len() <= thread {
            self.threads.resize_with(thread + 1, ThreadWrites::default);
        }
        &mut self.threads[thread]
    }

    fn written(&mut self, thread: usize, value: i64) {
        let writes = self.thread(thread);
        if writes.latest.len() == REMEMBERED_WRITES {
            writes.latest.pop_front();
        }
        writes.latest.push_back((writes.writes, value));
        writes.writes += 1;
    }

    /// Takes `step` into account; the overwrite it is, if it is one.
    pub fn note(&mut self, step: &LoggedStep) -> Option<OverwriteNote> {
        match step.access {
            Access::Read { value } => {
                self.thread(step.thread).last_read = Some(value);
                None
            }
            Access::Write { value, overwrote } => {
                self.written(step.thread, value);
                let overwritten = overwrote?.map(|(victim, victim_op)| {
                    let value = self.threads.get(victim).and_then(|writes| {
                        writes
                            .latest
                            .iter()
                            .find(|(op, _)| *op == victim_op)
                            .map(|&(_, value)| value)
                    });
                    (victim, value)
                });
                Some(OverwriteNote {
                    writer: step.thread,
                    value,
                    read: self.thread(step.thread).last_read,
                    overwritten,
                })
            }
            Access::CompareAndWrite {
                value,
                written: true,
            } => {
                self.written(step.thread, value);
                None
            }
            _ => None,
        }
    }
}

/// One overwrite, as its words name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverwriteNote {
    /// The thread that wrote.
    pub writer: usize,
    /// The value it wrote.
    pub value: i64,
    /// The value it last read, if it read one.
    pub read: Option<i64>,
    /// The write it overwrote: its thread and value (if known), or `None` for the initial value.
    pub overwritten: Option<(usize, Option<i64>)>,
}

impl OverwriteNote {
    /// The overwrite in words, for threads called `names`.
    pub fn describe(&self, names: &[String]) -> String {
        let name = |thread: usize| {
            names
                .get(thread)
                .cloned()
                .unwrap_or_else(|| task_name(thread + 1))
        };
        let writer = name(self.writer);
        let value = self.value;
        let read = self
            .read
            .map(|v| format!(" from its read of {v}"))
            .unwrap_or_default();
        match self.overwritten {
            Some((victim, victim_value)) => {
                let victim_value = victim_value.map(|v| format!(" of {v}")).unwrap_or_default();
                format!(
                    "{writer} wrote {value}{read}, overwriting {}'s write{victim_value}, \
                     which it had not read",
                    name(victim)
                )
            }
            None => format!(
                "{writer} wrote {value}{read}, overwriting the initial value it had not read"
            ),
        }
    }
}
