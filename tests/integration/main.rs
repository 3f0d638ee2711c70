//! contend's integration tests, one module a subject, built as one test binary: one link
//! instead of one a file, and the library's generic code instantiated once.

mod common;

mod check_expect;
mod check_shrinking;
mod ci;
mod cli;
mod conventions;
mod deadlock_dfs;
mod deadlocks;
mod dpor;
mod dpor_cli;
mod dpor_primitives;
mod engines;
mod failure_kinds;
mod generated_inputs;
mod harness;
mod html_report;
mod jobs;
mod legacy_schedules;
mod panics;
mod plugins;
mod primitives;
mod processes;
mod program_errors;
mod program_reports;
mod programs;
mod quiet_failures;
mod reliability;
mod replay;
mod schedules;
mod stuck_deadlocks;
mod user_api;
