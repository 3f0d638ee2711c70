//! The bounds and defaults a config is checked against.

use std::time::Duration;

/// PCT's bug depth when `depth` is not given.
pub const DEFAULT_PCT_DEPTH: usize = 3;
/// Upper bound on the total ops of a scenario (each op keeps a 24-byte write record).
pub const MAX_TOTAL_OPS: u64 = 200_000_000;
/// Upper bound on the threads of a scenario.
pub const MAX_THREADS: usize = 1024;

/// Upper bound on the worker processes of one execution.
pub const MAX_WORKER_PROCESSES: usize = 256;

/// Upper bound on a duration (`time`, `timeout`): 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Upper bound on `max_pause_ms` of the counter-object workload.
pub const MAX_PAUSE_MS: i64 = 60_000;
/// Upper bound on `jitter.max_sleep_us`.
pub const MAX_SLEEP_US: i64 = 1_000_000;

/// The most worker threads `jobs` may ask for.
pub const MAX_JOBS: i64 = 1024;
