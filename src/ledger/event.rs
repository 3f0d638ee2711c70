//! One overwrite's `tracing` event.

use super::id::WriteId;
use super::settle::EventContext;

/// One overwrite, as its `tracing` event tells it.
#[derive(Clone, Copy, Debug)]
pub(super) struct OverwriteEvent {
    pub(super) thread: usize,
    pub(super) op: u64,
    pub(super) read_value: i64,
    pub(super) written_value: i64,
    pub(super) overwritten: WriteId,
    pub(super) overwritten_value: i64,
    /// Whether the overwritten write survived (a later write was based on it).
    pub(super) restored: bool,
}

impl OverwriteEvent {
    pub(super) fn emit(
        &self,
        context: EventContext<'_>,
        discards: Option<&crate::discards::Discards>,
    ) {
        // Absent from the event when not worked out, never a wrong 0.
        let discarded = discards.map(|d| d.of(self.thread, self.op));
        let (overwritten_thread, overwritten_op) = match self.overwritten.origin() {
            Some((t, o)) => (t as i64, o as i64),
            None => (-1, -1),
        };
        let (thread, op) = (self.thread, self.op);
        tracing::info!(
            target: "contend::lost_update",
            scenario = context.scenario,
            run = context.run,
            thread,
            op,
            read_value = self.read_value,
            written_value = self.written_value,
            overwritten_thread,
            overwritten_op,
            overwritten_value = self.overwritten_value,
            restored = self.restored,
            discarded_updates = discarded.map(|d| d.len() as u64),
            discarded = discarded.map(crate::discards::describe),
            "thread {thread} op {op} overwrote the write of thread {overwritten_thread} op {overwritten_op}"
        );
    }
}
