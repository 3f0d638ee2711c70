//! Minimal failing schedules: shrinking known bugs, and replaying what was found.

use contend::scenario::{CounterSpec, SyncMode};
use contend::schedule::search::{FailureKind, Limits, Minimality, minimize};

#[test]
fn the_lessons_counter_shrinks_to_one_proven_preemption() {
    let counter = CounterSpec::new(10, &[(1, 1_000_000), (-1, 1_000_001)], SyncMode::None);
    let result = minimize(
        &counter,
        FailureKind::LostUpdate,
        None,
        Limits::default(),
        "lesson",
    )
    .unwrap();
    let minimal = result.minimal.expect("a failing schedule exists");
    assert_eq!(minimal.preemptions, 1);
    assert_eq!(minimal.minimality, Minimality::Proven);
    assert_eq!(
        minimal
            .counter
            .threads
            .iter()
            .map(|t| t.ops)
            .collect::<Vec<_>>(),
        vec![1, 1]
    );
    println!("{minimal:?}");
}
