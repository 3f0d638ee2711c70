//! The windowed step log of a replay: what its default output prints, kept while the execution
//! runs, in memory that does not grow with the execution's length: the steps around the first
//! overwrite (where the first update is lost), the first overwrites in words, and counts.

use std::collections::VecDeque;

use super::overwrites::{OverwriteNote, Overwrites};
use crate::platform::Access;
use crate::platform::shuttle::LoggedStep;

/// A table this long or shorter is shown whole.
pub const WHOLE_TABLE_ROWS: usize = 200;
/// Rows of context shown before the first overwrite of a long execution (and half as many after).
pub const CONTEXT_ROWS: usize = 20;
/// Overwrites described in words by default.
pub const SHOWN_OVERWRITES: usize = 10;
/// Overwrites kept in words' terms: those a replay shows, and those a run's report names.
pub const KEPT_OVERWRITES: usize = 20;

/// Rows kept after the first overwrite.
const ROWS_AFTER: usize = CONTEXT_ROWS / 2;
/// Steps kept in the ring of the latest ones: the rows before a row, and the step before them
/// (whose preemption count tells whether the first shown row is a preemption).
const RECENT: usize = CONTEXT_ROWS + 2;

/// What the default output of a replay shows of its steps, gathered one step at a time.
#[derive(Clone, Debug, Default)]
pub struct StepWindow {
    /// Steps seen.
    total: usize,
    /// Overwrites seen.
    overwrites: usize,
    /// The first steps, up to [`WHOLE_TABLE_ROWS`]: a short execution is shown whole.
    head: Vec<LoggedStep>,
    /// The latest steps, up to [`RECENT`] of them.
    recent: VecDeque<LoggedStep>,
    /// The steps around the first overwrite, once it happened, from the index `around.0`.
    around: Option<(usize, Vec<LoggedStep>)>,
    /// The index of the first overwrite.
    first_overwrite: Option<usize>,
    /// The first [`KEPT_OVERWRITES`] overwrites, in words' terms.
    notes: Vec<OverwriteNote>,
    /// What the overwrites' words need of the steps before them.
    describer: Overwrites,
}

/// The rows of a table to print: `steps` are rows `first..first + steps.len()` of a table of
/// `total` rows, after `preemptions_before` preemptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows<'a> {
    /// The steps shown.
    pub steps: &'a [LoggedStep],
    /// The index of the first of them in the whole execution.
    pub first: usize,
    /// The execution's steps in all.
    pub total: usize,
    /// Preemptions made before the first shown step.
    pub preemptions_before: u64,
}

impl StepWindow {
    /// The window of a whole log, as a replay that kept every step shows it by default.
    pub fn of(log: &[LoggedStep]) -> StepWindow {
        let mut window = StepWindow::default();
        for step in log {
            window.push(*step);
        }
        window.finish()
    }

    /// Takes the next step of the execution into account.
    pub fn push(&mut self, step: LoggedStep) {
        let index = self.total;
        self.total += 1;
        if self.head.len() < WHOLE_TABLE_ROWS {
            self.head.push(step);
        }
        let overwrite = matches!(
            step.access,
            Access::Write {
                overwrote: Some(_),
                ..
            }
        );
        let note = self.describer.note(&step);
        if overwrite {
            self.overwrites += 1;
            if self.notes.len() < KEPT_OVERWRITES
                && let Some(note) = note
            {
                self.notes.push(note);
            }
        }
        match &mut self.around {
            Some((start, steps))
                if *start + steps.len() <= self.first_overwrite.unwrap_or(0) + ROWS_AFTER =>
            {
                steps.push(step);
            }
            Some(_) => {}
            None if overwrite => {
                self.first_overwrite = Some(index);
                let mut steps: Vec<LoggedStep> = self.recent.iter().copied().collect();
                steps.push(step);
                self.around = Some((index + 1 - steps.len(), steps));
            }
            None => {}
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(step);
    }

    /// Steps in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Overwrites in all.
    pub fn overwrites(&self) -> usize {
        self.overwrites
    }

    /// The first [`KEPT_OVERWRITES`] overwrites.
    pub fn notes(&self) -> &[OverwriteNote] {
        &self.notes
    }

    /// The first steps, up to [`WHOLE_TABLE_ROWS`] of them.
    pub fn head(&self) -> &[LoggedStep] {
        &self.head
    }

    /// Whether the rows shown are the whole table.
    pub fn is_whole(&self) -> bool {
        self.total <= WHOLE_TABLE_ROWS
    }

    /// The rows worth showing: every row of a short execution; of a long one, those around its
    /// first overwrite, or its last ones when nothing was overwritten.
    pub fn rows(&self) -> Rows<'_> {
        if self.is_whole() {
            return Rows {
                steps: &self.head,
                first: 0,
                total: self.total,
                preemptions_before: 0,
            };
        }
        let (start, kept): (usize, &[LoggedStep]) = match (&self.around, self.first_overwrite) {
            (Some((start, steps)), Some(_)) => (*start, steps),
            _ => (self.total - self.recent.len(), self.recent.as_slices().0),
        };
        let first = self.first_overwrite.unwrap_or(self.total - 1);
        let shown = first.saturating_sub(CONTEXT_ROWS)..(first + ROWS_AFTER + 1).min(self.total);
        let at = |index: usize| index - start;
        let preemptions_before = shown
            .start
            .checked_sub(1)
            .map_or(0, |before| kept[at(before)].preemptions_before);
        Rows {
            steps: &kept[at(shown.start)..at(shown.end)],
            first: shown.start,
            total: self.total,
            preemptions_before,
        }
    }

    /// The window once the execution is over: the ring of the latest steps made one slice, so
    /// that [`StepWindow::rows`] can show it.
    pub fn finish(mut self) -> StepWindow {
        self.recent.make_contiguous();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::interleaving::{default_names, describe_overwrites, write_table_rows};

    /// The rows a replay printed when it kept every step: those around the first overwrite.
    fn rows_of_the_whole_log(log: &[LoggedStep]) -> std::ops::Range<usize> {
        if log.len() <= WHOLE_TABLE_ROWS {
            return 0..log.len();
        }
        let first = log
            .iter()
            .position(|step| {
                matches!(
                    step.access,
                    Access::Write {
                        overwrote: Some(_),
                        ..
                    }
                )
            })
            .unwrap_or(log.len() - 1);
        first.saturating_sub(CONTEXT_ROWS)..(first + ROWS_AFTER + 1).min(log.len())
    }

    /// Two threads alternating read and write, with preemptions now and then and an overwrite
    /// at each index of `overwrites`.
    fn log(len: usize, overwrites: &[usize]) -> Vec<LoggedStep> {
        (0..len)
            .map(|i| LoggedStep {
                thread: (i / 2) % 2,
                access: if i % 2 == 0 {
                    Access::Read { value: i as i64 }
                } else {
                    Access::Write {
                        value: i as i64 + 1,
                        overwrote: overwrites
                            .contains(&i)
                            .then_some(Some((1 - (i / 2) % 2, (i / 4) as u64))),
                    }
                },
                preemptions_before: (i / 7) as u64,
                decisions_before: i as u64,
            })
            .collect()
    }

    #[test]
    fn replay_holding_every_step_the_window_prints_the_rows_and_words_of_the_whole_log() {
        let names = default_names(2);
        let cases: Vec<(usize, Vec<usize>)> = vec![
            (5, vec![]),
            (5, vec![3]),
            (200, vec![]),
            (200, (1..200).step_by(2).collect()),
            (201, vec![]),
            (201, vec![1]),
            (1_000, vec![]),
            (1_000, vec![1, 3]),
            (1_000, vec![21]),
            (1_000, vec![23, 25]),
            (1_000, vec![501, 503, 999]),
            (1_000, (501..1_000).step_by(2).collect()),
            (1_000, vec![991]),
            (1_000, vec![999]),
        ];
        for (len, overwrites) in cases {
            let log = log(len, &overwrites);
            let mut whole = Vec::new();
            write_table_rows(&mut whole, &names, &log, rows_of_the_whole_log(&log)).unwrap();
            let mut window = StepWindow::default();
            for step in &log {
                window.push(*step);
            }
            let window = window.finish();
            let mut shown = Vec::new();
            crate::report::interleaving::write_shown_rows(&mut shown, &names, window.rows())
                .unwrap();
            let case = format!("{len} steps, overwrites at {overwrites:?}");
            assert_eq!(
                String::from_utf8(shown).unwrap(),
                String::from_utf8(whole).unwrap(),
                "{case}"
            );
            assert_eq!(window.total(), len, "{case}");
            assert_eq!(window.overwrites(), overwrites.len(), "{case}");
            let words: Vec<String> = window.notes().iter().map(|n| n.describe(&names)).collect();
            let mut expected = describe_overwrites(&names, &log);
            expected.truncate(KEPT_OVERWRITES);
            assert_eq!(window.head(), &log[..len.min(WHOLE_TABLE_ROWS)], "{case}");
            assert_eq!(words, expected, "{case}");
        }
    }
}
