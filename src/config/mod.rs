//! TOML configs: raw serde types, then validation into [`Scenario`](crate::scenario::Scenario)s.
//!
//! Every error names the file, the line and column where known, the scenario and the key.

mod engine;
mod error;
mod limits;
mod load;
mod plugin;
mod raw;
mod scenario;
mod schema;
mod source;

pub(crate) use crate::words::line_column;

pub use error::{ConfigError, Location};
pub use limits::{
    DEFAULT_PCT_DEPTH, MAX_DURATION, MAX_JOBS, MAX_PAUSE_MS, MAX_SLEEP_US, MAX_THREADS,
    MAX_TOTAL_OPS, MAX_WORKER_PROCESSES,
};
pub use load::{
    Overrides, Selected, load, load_selected, load_with, parse, parse_selected, parse_with,
};
pub use schema::json_schema;

/// The commented starter config that `contend init` writes.
pub const STARTER: &str = include_str!("../../configs/starter.toml");
