//! The `contend` binary: contend's command line, with the built-in workloads.

use std::process::ExitCode;

fn main() -> ExitCode {
    contend::cli::main()
}
