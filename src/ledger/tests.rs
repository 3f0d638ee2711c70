//! The ledger's unit tests.

use std::sync::atomic::{AtomicU64, Ordering};

use super::codec::Encoder;
use super::id::{OP_BITS, OP_MASK};
use super::record::{MAX_RECORD_BYTES, OVERWRITE, Record};
use super::store::RING;
use super::walk::WalkStep;
use super::*;

fn ledger(initial: i64, threads: &[(i64, u64)]) -> Ledger<AtomicU64> {
    Ledger::new(AtomicU64::new(0), initial, threads.iter().copied())
}

const CONTEXT: EventContext<'static> = EventContext {
    scenario: "unit",
    run: 0,
};

#[test]
fn sequential_writes_lose_nothing() {
    let ledger = ledger(10, &[(1, 3), (-1, 2)]);
    for op in 0..3 {
        let read = ledger.read();
        assert_eq!(ledger.write(0, op, read, read.value + 1), None);
    }
    for op in 0..2 {
        let read = ledger.read();
        assert_eq!(ledger.write(1, op, read, read.value - 1), None);
    }
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.observed_final, 11);
    assert_eq!(settlement.expected_final, 11);
    assert_eq!(settlement.lost_updates, 0);
    assert_eq!(settlement.overwrites, 0);
}

#[test]
fn a_stale_write_loses_the_write_it_overwrites() {
    let ledger = ledger(10, &[(1, 1), (-1, 1)]);
    let read_a = ledger.read();
    let read_b = ledger.read();
    assert_eq!(ledger.write(0, 0, read_a, read_a.value + 1), None);
    assert_eq!(
        ledger.write(1, 0, read_b, read_b.value - 1),
        Some(WriteId::new(0, 0))
    );
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.observed_final, 9);
    assert_eq!(settlement.expected_final, 10);
    assert_eq!(settlement.lost_updates, 1);
    assert_eq!(settlement.lost_delta, 1);
}

/// T1 reads 0; T2 writes 1 and reads 1; T1 writes 1 from its stale read, overwriting T2's
/// update; T2 writes 2 from its own read, which restores T2's first update and drops T1's:
/// three increments, two overwrites, one net loss.
#[test]
fn a_restored_update_is_not_counted_as_lost() {
    let ledger = ledger(0, &[(1, 1), (1, 2)]);
    let t1_read = ledger.read();
    let t2_read = ledger.read();
    assert_eq!(ledger.write(1, 0, t2_read, t2_read.value + 1), None);
    let t2_second_read = ledger.read();
    assert_eq!(t2_second_read.value, 1);
    assert_eq!(
        ledger.write(0, 0, t1_read, t1_read.value + 1),
        Some(WriteId::new(1, 0))
    );
    assert_eq!(
        ledger.write(1, 1, t2_second_read, t2_second_read.value + 1),
        Some(WriteId::new(0, 0))
    );
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.overwrites, 2);
    assert_eq!(settlement.lost_updates, 1);
    assert_eq!(settlement.observed_final, 2);
    assert_eq!(settlement.expected_final, 3);
    assert_eq!(settlement.lost_delta, 1);
}

#[test]
fn compare_and_write_refuses_a_stale_read() {
    let ledger = ledger(5, &[(1, 1), (1, 1)]);
    let stale = ledger.read();
    let fresh = ledger.read();
    assert!(
        ledger
            .compare_and_write(1, 0, fresh, fresh.value + 1)
            .is_ok()
    );
    let now = ledger
        .compare_and_write(0, 0, stale, stale.value + 1)
        .unwrap_err();
    assert_eq!(now.value, 6);
    assert!(ledger.compare_and_write(0, 0, now, now.value + 1).is_ok());
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.observed_final, 7);
    assert_eq!(settlement.lost_updates, 0);
}

#[test]
fn a_wrong_value_is_reported_as_unreconciled() {
    let ledger = ledger(0, &[(1, 1)]);
    let read = ledger.read();
    ledger.write(0, 0, read, 5);
    assert!(matches!(
        ledger.settle(CONTEXT),
        Err(LedgerError::Unreconciled { .. })
    ));
}

#[test]
fn a_reset_ledger_accounts_for_the_next_execution_alone() {
    let ledger = ledger(0, &[(1, 1), (1, 1)]);
    let (a, b) = (ledger.read(), ledger.read());
    ledger.write(0, 0, a, a.value + 1);
    ledger.write(1, 0, b, b.value + 1);
    assert_eq!(ledger.settle(CONTEXT).unwrap().lost_updates, 1);

    ledger.reset();
    let a = ledger.read();
    ledger.write(0, 0, a, a.value + 1);
    let b = ledger.read();
    assert_eq!(b.value, 1);
    ledger.write(1, 0, b, b.value + 1);
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.lost_updates, 0);
    assert_eq!(settlement.overwrites, 0);
    assert_eq!(settlement.observed_final, 2);
}

/// The accounting that records every write (the parent chain over a record per write),
/// to check the walk against on random interleavings.
fn settle_by_full_records(
    initial: i64,
    deltas: &[i64],
    writes: &[(usize, u64, WriteId, WriteId)],
    final_id: WriteId,
) -> (u64, u64, i64) {
    let mut survivors = std::collections::HashSet::new();
    let parent_of: std::collections::HashMap<WriteId, WriteId> = writes
        .iter()
        .map(|&(t, op, parent, _)| (WriteId::new(t, op), parent))
        .collect();
    let mut cursor = final_id;
    while cursor != WriteId::INITIAL {
        survivors.insert(cursor);
        cursor = parent_of[&cursor];
    }
    let overwrites = writes.iter().filter(|w| w.2 != w.3).count() as u64;
    let lost: Vec<_> = writes
        .iter()
        .filter(|&&(t, op, _, _)| !survivors.contains(&WriteId::new(t, op)))
        .collect();
    let lost_delta = lost.iter().map(|&&(t, ..)| deltas[t]).sum();
    let _ = initial;
    (overwrites, lost.len() as u64, lost_delta)
}

/// Settles `ledger` under a subscriber that keeps the fields of its overwrite events.
fn settle_capturing_events(ledger: &Ledger<AtomicU64>) -> (Settlement, Vec<serde_json::Value>) {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let settlement =
        tracing::subscriber::with_default(subscriber, || ledger.settle(CONTEXT).unwrap());
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let events = text
        .lines()
        .map(|line| {
            let mut fields: serde_json::Value = serde_json::from_str(line).unwrap();
            let fields = fields["fields"].as_object_mut().unwrap();
            fields.remove("message");
            fields.remove("scenario");
            fields.remove("run");
            serde_json::Value::Object(fields.clone())
        })
        .collect();
    (settlement, events)
}

/// Runs threads that read and write at random moments (a read, then a write, each thread
/// keeping at most one read in flight) and settles.
fn random_interleaving(seed: u64, logs: Logs) {
    interleaving(seed, logs, 0.0, true);
}

/// An interleaving of 1 to 4 threads doing 1 to 199 writes each, where the thread that just
/// made a step makes the next one with probability `sticky` (long runs without a record
/// when high), checked against a record of every write: the settlement, every overwrite's
/// event, and every write the walk back meets one by one. Without `recording`, a
/// controlled execution's ledger keeps no records: only the settlement is checked.
fn interleaving(seed: u64, logs: Logs, sticky: f64, recording: bool) {
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};
    let mut rng = SmallRng::seed_from_u64(seed);
    let threads = rng.random_range(1..=4usize);
    let deltas: Vec<i64> = (0..threads).map(|t| [1, -1, 3, -2][t]).collect();
    let ops: Vec<u64> = (0..threads).map(|_| rng.random_range(1..200u64)).collect();
    let initial = rng.random_range(-5..5i64);
    let spec: Vec<(i64, u64)> = deltas.iter().copied().zip(ops.iter().copied()).collect();
    let words = store_words(ops.iter().copied(), logs);
    let mut ledger = Ledger::with_store(
        AtomicU64::new(0),
        crate::platform::os::heap_store(words),
        initial,
        spec,
        logs,
    );
    ledger.recording = recording || logs != Logs::Controlled;
    let mut next_op = vec![0u64; threads];
    let mut in_flight: Vec<Option<Read>> = vec![None; threads];
    let mut writes = Vec::new();
    let mut values = std::collections::HashMap::from([(WriteId::INITIAL, initial)]);
    let mut value = initial;
    let mut last = None;
    while let Some(thread) = {
        let live: Vec<usize> = (0..threads).filter(|&t| next_op[t] < ops[t]).collect();
        match last {
            Some(last) if live.contains(&last) && rng.random_bool(sticky) => Some(last),
            _ => (!live.is_empty()).then(|| live[rng.random_range(0..live.len())]),
        }
    } {
        last = Some(thread);
        match in_flight[thread].take() {
            None => in_flight[thread] = Some(ledger.read()),
            Some(read) => {
                let op = next_op[thread];
                let replaced = ledger
                    .write(thread, op, read, read.value + deltas[thread])
                    .unwrap_or(read.id);
                writes.push((thread, op, read.id, replaced));
                value = read.value + deltas[thread];
                values.insert(WriteId::new(thread, op), value);
                next_op[thread] += 1;
            }
        }
    }
    let final_id = writes
        .last()
        .map_or(WriteId::INITIAL, |w| WriteId::new(w.0, w.1));
    let (overwrites, lost, lost_delta) =
        settle_by_full_records(initial, &deltas, &writes, final_id);
    if !ledger.recording {
        let settlement = ledger.settle(CONTEXT).unwrap();
        assert_eq!(settlement.observed_final, value, "seed {seed}");
        assert_eq!(settlement.overwrites, overwrites, "seed {seed}");
        assert_eq!(settlement.lost_updates, lost, "seed {seed}");
        assert_eq!(settlement.lost_delta, lost_delta, "seed {seed}");
        assert_eq!(
            ledger
                .heap_logs
                .iter()
                .map(|log| log.lock().unwrap().len())
                .sum::<usize>(),
            0
        );
        return;
    }
    let (settlement, mut events) = settle_capturing_events(&ledger);
    events.sort_by_key(|e| (e["thread"].as_u64(), e["op"].as_u64()));
    let mut survivors = std::collections::HashSet::new();
    let mut cursor = final_id;
    while cursor != WriteId::INITIAL {
        survivors.insert(cursor);
        let (t, op) = cursor.origin().unwrap();
        cursor = writes.iter().find(|w| (w.0, w.1) == (t, op)).unwrap().2;
    }
    let mut expected: Vec<serde_json::Value> = writes
        .iter()
        .filter(|w| w.2 != w.3)
        .map(|&(thread, op, parent, replaced)| {
            let (overwritten_thread, overwritten_op) = replaced
                .origin()
                .map_or((-1, -1), |(t, o)| (t as i64, o as i64));
            serde_json::json!({
                "thread": thread,
                "op": op,
                "read_value": values[&parent],
                "written_value": values[&WriteId::new(thread, op)],
                "overwritten_thread": overwritten_thread,
                "overwritten_op": overwritten_op,
                "overwritten_value": values[&replaced],
                "restored": survivors.contains(&replaced),
            })
        })
        .collect();
    expected.sort_by_key(|e| (e["thread"].as_u64(), e["op"].as_u64()));
    assert_eq!(events, expected, "seed {seed}");
    assert_eq!(settlement.observed_final, value, "seed {seed}");
    assert_eq!(settlement.overwrites, overwrites, "seed {seed}");
    assert_eq!(settlement.lost_updates, lost, "seed {seed}");
    assert_eq!(settlement.lost_delta, lost_delta, "seed {seed}");
    let mut met = Vec::new();
    let walk = ledger
        .walk_back(
            final_id,
            &mut |_| {},
            Some(&mut |step: WalkStep| met.push(step)),
        )
        .unwrap();
    assert_eq!(walk.lost_updates, lost, "seed {seed}");
    assert_eq!(met.len(), writes.len(), "seed {seed}");
    for step in met {
        let write = writes
            .iter()
            .find(|w| (w.0, w.1) == (step.thread, step.op))
            .unwrap();
        assert_eq!(
            (step.parent, step.replaced),
            (write.2, write.3),
            "seed {seed}"
        );
        let id = WriteId::new(step.thread, step.op);
        assert_eq!(step.survives, survivors.contains(&id), "seed {seed}");
    }
}

#[test]
fn the_walk_back_agrees_with_a_record_of_every_write() {
    for seed in 0..300 {
        random_interleaving(seed, Logs::OnHeap);
    }
}

#[test]
fn fixed_logs_account_as_compact_logs() {
    for seed in 0..300 {
        random_interleaving(seed, Logs::Controlled);
    }
}

#[test]
fn a_controlled_execution_without_records_counts_its_lost_updates_by_depth() {
    for seed in 0..300 {
        for sticky in [0.0, 0.9] {
            interleaving(seed, Logs::Controlled, sticky, false);
        }
    }
}

#[test]
fn a_run_of_writes_without_records_is_crossed_exactly_where_the_chain_enters_it() {
    for seed in 0..300 {
        for logs in [Logs::OnHeap, Logs::Controlled, Logs::InStore] {
            interleaving(seed, logs, 0.9, true);
        }
    }
}

#[test]
fn logs_kept_in_the_store_account_as_logs_on_the_heap() {
    for seed in 0..100 {
        random_interleaving(seed, Logs::InStore);
    }
}

#[test]
fn a_run_of_one_thread_and_a_mutex_run_record_nothing_but_switches() {
    let ledger = ledger(10, &[(1, 1000), (-1, 1001)]);
    for (thread, delta, ops) in [(0, 1, 1000), (1, -1, 1001)] {
        for op in 0..ops {
            let read = ledger.read();
            ledger.write(thread, op, read, read.value + delta);
        }
    }
    let length = |thread: usize| ledger.store[ledger.tracks[thread].base].load(Ordering::Relaxed);
    assert_eq!(length(0), 0);
    // One switch: thread 1's first write replaced thread 0's last.
    let heap = ledger.lock_heap_logs();
    let (record, start, ..) = ledger
        .log_view(&heap, 1)
        .record_before(length(1) as usize, 0, WriteId::new(0, 999))
        .unwrap();
    assert_eq!(start, 0);
    assert_eq!(
        record,
        Record::Switch {
            op: 0,
            replaced: WriteId::new(0, 999)
        }
    );
    drop(heap);
    let settlement = ledger.settle(CONTEXT).unwrap();
    assert_eq!(settlement.observed_final, 9);
    assert_eq!(settlement.lost_updates, 0);
}

#[test]
fn a_read_whose_ring_slot_was_reused_reads_the_cell_again() {
    let ledger = ledger(0, &[(1, 200)]);
    let read = ledger.read();
    ledger.write(0, 0, read, 1);
    let seen = WriteId::new(0, 0);
    assert_eq!(ledger.recent_value(seen), Some(1));
    for op in 1..=RING as u64 {
        let read = ledger.read();
        ledger.write(0, op, read, read.value + 1);
    }
    assert_eq!(ledger.recent_value(seen), None);
    assert_eq!(ledger.read().value, RING as i64 + 1);
}

#[test]
fn the_largest_record_fits_in_its_bound() {
    let mut bytes = Encoder::default();
    bytes.byte(OVERWRITE);
    bytes.varint(OP_MASK);
    bytes.signed(i64::MIN);
    bytes.id(WriteId::new((1 << (64 - OP_BITS)) - 2, OP_MASK), 0);
    bytes.signed(i64::MIN);
    bytes.signed(i64::MIN);
    assert_eq!(bytes.back_to_front().len(), MAX_RECORD_BYTES);
}

#[test]
fn write_ids_round_trip() {
    assert_eq!(WriteId::new(3, 41).origin(), Some((3, 41)));
    assert_eq!(WriteId::INITIAL.origin(), None);
}
