//! The interleaving table of a controlled execution: one column per thread, one row per access,
//! preemptions marked, and each overwrite named in words.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::platform::Access;
use crate::platform::shuttle::LoggedStep;
pub use crate::schedule::overwrites::{OverwriteNote, Overwrites};
use crate::schedule::window::Rows;
use crate::schedule::{Choice, task_name};

/// Width of one thread's column.
const COLUMN: usize = 34;

/// The default names of a workload's threads: `Thread-1`, `Thread-2`, ...
pub fn default_names(threads: usize) -> Vec<String> {
    (1..=threads).map(task_name).collect()
}

/// Writes the table of `log` for a workload whose threads are called `names`.
pub fn write_table(out: &mut impl Write, names: &[String], log: &[LoggedStep]) -> io::Result<()> {
    write_table_rows(out, names, log, 0..log.len())
}

/// The rows `rows` of the table of `log` (numbered as in the whole table), with a line saying
/// how many rows are left out before and after them.
pub fn write_table_rows(
    out: &mut impl Write,
    names: &[String],
    log: &[LoggedStep],
    rows: std::ops::Range<usize>,
) -> io::Result<()> {
    let rows = rows.start.min(log.len())..rows.end.min(log.len());
    let preemptions_before = rows
        .start
        .checked_sub(1)
        .map_or(0, |before| log[before].preemptions_before);
    write_shown_rows(
        out,
        names,
        Rows {
            steps: &log[rows.clone()],
            first: rows.start,
            total: log.len(),
            preemptions_before,
        },
    )
}

/// The table's `rows`, with a line saying how many rows are left out before and after them.
pub fn write_shown_rows(out: &mut impl Write, names: &[String], rows: Rows<'_>) -> io::Result<()> {
    let threads = names.len();
    let mut header = format!("{:>5}  ", "step");
    for name in names {
        header.push_str(&format!("{name:<COLUMN$}"));
    }
    writeln!(out, "{}", header.trim_end())?;
    if rows.first > 0 {
        writeln!(out, "  ... {} steps before", rows.first)?;
    }
    let mut preemptions = rows.preemptions_before;
    for (index, step) in rows.steps.iter().enumerate() {
        let mut row = format!("{:>5}  ", rows.first + index + 1);
        for thread in 0..threads {
            let cell = if thread == step.thread {
                step.access.to_string()
            } else {
                String::new()
            };
            row.push_str(&format!("{cell:<COLUMN$}"));
        }
        if step.preemptions_before > preemptions {
            preemptions = step.preemptions_before;
            row.push_str("<- preemption");
        }
        writeln!(out, "{}", row.trim_end())?;
    }
    let end = rows.first + rows.steps.len();
    if end < rows.total {
        writeln!(out, "  ... {} steps after", rows.total - end)?;
    }
    Ok(())
}

/// One access of a minimal failing schedule's execution, for the HTML report to draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    /// The thread that made it: an index into the schedule's `thread_names`.
    pub thread: usize,
    /// The access as the interleaving table shows it: `read counter -> 10`.
    pub text: String,
    /// Whether it wrote the counter (a plain write, or a compare-and-write that succeeded).
    pub write: bool,
    /// Whether a preemption came just before it: the scheduler switched threads although the
    /// running one could have gone on.
    pub preempted: bool,
    /// The write it overwrote without having read it, for a write that lost an update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrote: Option<Overwritten>,
}

/// What a lost-update write overwrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overwritten {
    /// The counter's initial value.
    Initial,
    /// The write at this index of the accesses.
    Access(usize),
}

/// The accesses of `log`, each overwrite linked to the access it discarded.
pub fn access_reports(log: &[LoggedStep]) -> Vec<AccessReport> {
    let mut write_index: HashMap<(usize, u64), usize> = HashMap::new();
    let mut write_counts: HashMap<usize, u64> = HashMap::new();
    let mut preemptions = 0;
    let mut accesses = Vec::with_capacity(log.len());
    for (index, step) in log.iter().enumerate() {
        let (write, overwrote) = match step.access {
            Access::Write { overwrote, .. } => (
                true,
                match overwrote {
                    None => None,
                    Some(None) => Some(Overwritten::Initial),
                    Some(Some(victim)) => write_index.get(&victim).map(|&i| Overwritten::Access(i)),
                },
            ),
            Access::CompareAndWrite { written, .. } => (written, None),
            _ => (false, None),
        };
        if write {
            let op = write_counts.entry(step.thread).or_default();
            write_index.insert((step.thread, *op), index);
            *op += 1;
        }
        let preempted = step.preemptions_before > preemptions;
        preemptions = preemptions.max(step.preemptions_before);
        accesses.push(AccessReport {
            thread: step.thread,
            text: step.access.to_string(),
            write,
            preempted,
            overwrote,
        });
    }
    accesses
}

/// Each choice of a schedule in words, with the table row it comes before.
pub fn describe_choices(names: &[String], choices: &[Choice], log: &[LoggedStep]) -> Vec<String> {
    let name = |task: usize| match task {
        0 => "main".to_string(),
        t => names.get(t - 1).cloned().unwrap_or_else(|| task_name(t)),
    };
    choices
        .iter()
        .map(|choice| {
            let row = log
                .iter()
                .position(|step| step.decisions_before > choice.step)
                .map(|row| format!(", before row {}", row + 1))
                .unwrap_or_default();
            format!("decision {}: run {}{row}", choice.step, name(choice.task))
        })
        .collect()
}

/// Each overwrite of the log in words: which thread's write, of which value, was overwritten by
/// which thread's write, from which stale read. `names` are the threads' names.
pub fn describe_overwrites(names: &[String], log: &[LoggedStep]) -> Vec<String> {
    let mut overwrites = Overwrites::default();
    log.iter()
        .filter_map(|step| overwrites.note(step))
        .map(|note| note.describe(names))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(thread: usize, access: Access, preemptions_before: u64) -> LoggedStep {
        LoggedStep {
            thread,
            access,
            preemptions_before,
            decisions_before: 0,
        }
    }

    #[test]
    fn the_table_marks_the_preemption_and_names_the_lost_update() {
        let log = [
            step(0, Access::Read { value: 10 }, 0),
            step(1, Access::Read { value: 10 }, 1),
            step(
                1,
                Access::Write {
                    value: 9,
                    overwrote: None,
                },
                1,
            ),
            step(
                0,
                Access::Write {
                    value: 11,
                    overwrote: Some(Some((1, 0))),
                },
                1,
            ),
        ];
        let mut out = Vec::new();
        write_table(&mut out, &default_names(2), &log).unwrap();
        let table = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains("Thread-1") && lines[0].contains("Thread-2"),
            "{table}"
        );
        assert!(lines[1].contains("read counter -> 10") && !lines[1].contains("preemption"));
        assert!(
            lines[2].contains("read counter -> 10") && lines[2].ends_with("<- preemption"),
            "{table}"
        );
        // Thread-2's cells sit in the second column.
        assert!(lines[2].find("read").unwrap() > lines[1].find("read").unwrap());
        assert!(
            lines[4].contains("write counter <- 11 (overwrites)"),
            "{table}"
        );
        assert_eq!(
            describe_overwrites(&default_names(2), &log),
            vec![
                "Thread-1 wrote 11 from its read of 10, overwriting Thread-2's write of 9, which it had not read"
                    .to_string()
            ]
        );
        let accesses = access_reports(&log);
        assert_eq!(accesses.len(), 4);
        assert!(!accesses[0].preempted && accesses[1].preempted && !accesses[2].preempted);
        assert!(accesses[2].write && accesses[3].write && !accesses[1].write);
        assert_eq!(accesses[2].overwrote, None);
        assert_eq!(accesses[3].overwrote, Some(Overwritten::Access(2)));
        assert_eq!(accesses[3].text, "write counter <- 11 (overwrites)");
    }
}
