//! `contend init` and `contend schema`: a starter config, and the schema editors check
//! configs against.

use std::fs::OpenOptions;
use std::io::{self, Write};

use anyhow::Context;

use contend::config::{STARTER, json_schema};
use contend::exit_code;

use super::InitArgs;
use super::output::QuietOnBrokenPipe;

/// Writes the starter config to a new file, never over an existing one.
pub fn init(args: &InitArgs) -> anyhow::Result<i32> {
    let path = if args.path.is_dir() {
        args.path.join("contend.toml")
    } else {
        args.path.clone()
    };
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            anyhow::bail!(
                "{}: already exists; contend init never overwrites a file",
                path.display()
            )
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("{}: cannot create the config", path.display()));
        }
    };
    file.write_all(STARTER.as_bytes())
        .with_context(|| format!("{}: cannot write the config", path.display()))?;
    println!(
        "wrote {}: run it with `contend run {}`",
        path.display(),
        path.display()
    );
    Ok(exit_code::PASS)
}

/// Prints the config's JSON Schema.
pub fn schema() -> i32 {
    let mut out = QuietOnBrokenPipe(io::stdout().lock());
    let _ = writeln!(out, "{}", json_schema());
    exit_code::PASS
}
