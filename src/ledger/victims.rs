//! The value of the write each overwrite replaced, found as the walk back meets the writes.

use super::event::OverwriteEvent;

/// Finds, walking back, the value of the write each overwrite replaced: the write met just
/// after it. That write's value is the value written by the next overwrite met (or the initial
/// value) plus the deltas of the writes met in between, each of which extended the one before.
#[derive(Debug, Default)]
pub(super) struct VictimValues {
    /// The overwrite met at the last step, whose replaced write is met at this one.
    pub(super) just_met: Option<OverwriteEvent>,
    /// The overwrite whose replaced write's value is `since` plus the value of the next
    /// overwrite met.
    pub(super) waiting: Option<OverwriteEvent>,
    pub(super) since: i64,
}

impl VictimValues {
    /// A write was met: it is the write the overwrite met just before replaced.
    pub(super) fn met_write(&mut self, survives: bool) {
        if let Some(mut event) = self.just_met.take() {
            event.restored = survives;
            self.waiting = Some(event);
            self.since = 0;
        }
    }

    /// The write met extended the write before it by `delta`.
    pub(super) fn extends(&mut self, delta: i64) {
        self.since = self.since.wrapping_add(delta);
    }

    /// The write met was an overwrite that wrote `written_value`.
    pub(super) fn overwrite(
        &mut self,
        written_value: i64,
        event: OverwriteEvent,
        sink: &mut impl FnMut(OverwriteEvent),
    ) {
        if let Some(mut waiting) = self.waiting.take() {
            waiting.overwritten_value = written_value.wrapping_add(self.since);
            sink(waiting);
        }
        self.just_met = Some(event);
    }

    /// The walk reached the initial value.
    pub(super) fn initial(&mut self, initial: i64, sink: &mut impl FnMut(OverwriteEvent)) {
        if let Some(mut event) = self.just_met.take() {
            event.overwritten_value = initial;
            sink(event);
        }
        if let Some(mut waiting) = self.waiting.take() {
            waiting.overwritten_value = initial.wrapping_add(self.since);
            sink(waiting);
        }
    }
}
